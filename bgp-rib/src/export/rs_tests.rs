//! Unit tests of route-server export (RFC 7947): transparent to clients, every client's
//! routes to every other client, never back to the originator.

use super::*;
use bgp_wire::attr::{AsPath, Community};
use std::net::Ipv4Addr;

const AS: u32 = 64512;

fn cfg() -> DecisionConfig {
    DecisionConfig::new(AS, Ipv4Addr::new(10, 0, 0, 1))
}
fn client(last: u8) -> PeerInfo {
    let mut p = PeerInfo::new(
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
        65000 + u32::from(last),
        Ipv4Addr::new(1, 1, 1, last),
        AS,
    );
    p.rs_client = true;
    p
}
fn out(p: &PeerInfo) -> OutPeerConfig {
    OutPeerConfig {
        info: p.clone(),
        local_addr: "10.0.0.1".parse().unwrap(),
        next_hop_self: false,
        route_reflector: false,
        policy: None,
        families: vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST],
        add_path: false,
    }
}
/// A route as client `last` announces it: its AS first, itself as next hop, a MED.
fn from(last: u8) -> Attrs {
    let mut a = Attrs::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)));
    a.as_path = AsPath::from_sequence([65000 + u32::from(last), 174]);
    a.med = Some(40 + u32::from(last));
    a
}
fn net(i: u8) -> IpNet {
    format!("198.51.{i}.0/24").parse().unwrap()
}

#[test]
fn to_a_client_path_next_hop_and_med_unchanged_rfc7947_2_2() {
    let (a, b) = (client(2), client(3));
    let mut attrs = from(2);
    attrs.local_pref = Some(300);
    attrs.extra_mut().originator_id = Some(Ipv4Addr::new(9, 9, 9, 9));
    let e = export_attrs(&cfg(), PeerId(1), &a, PeerId(2), &out(&b), net(1), &attrs).unwrap();
    assert_eq!(e.as_path, AsPath::from_sequence([65002, 174]), "no prepend");
    assert_eq!(e.next_hop, "10.0.0.2".parse::<IpAddr>().unwrap());
    assert_eq!(e.med, Some(42));
    assert_eq!(e.local_pref, None, "LOCAL_PREF never to eBGP");
    assert_eq!(e.originator_id(), None);
    // The same route to a plain eBGP neighbour: the RFC 4271 rewrite.
    let mut plain = client(4);
    plain.rs_client = false;
    let p = export_attrs(
        &cfg(),
        PeerId(1),
        &a,
        PeerId(3),
        &out(&plain),
        net(1),
        &attrs,
    )
    .unwrap();
    assert_eq!(p.as_path, AsPath::from_sequence([AS, 65002, 174]));
    assert_eq!(p.next_hop, "10.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(p.med, None);
    // A route from a plain eBGP neighbour to a client is passed transparently as well.
    let q = export_attrs(
        &cfg(),
        PeerId(3),
        &plain,
        PeerId(2),
        &out(&b),
        net(1),
        &from(4),
    )
    .unwrap();
    assert_eq!(q.as_path, from(4).as_path);
    assert_eq!(q.next_hop, from(4).next_hop);
    assert_eq!(q.med, from(4).med);
}

#[test]
fn own_routes_to_a_client_have_us_as_next_hop_and_no_prepend() {
    let b = client(3);
    let local = PeerInfo::local(&cfg());
    let a = Attrs::new("0.0.0.0".parse().unwrap());
    let e = export_attrs(
        &cfg(),
        PeerId::LOCAL,
        &local,
        PeerId(2),
        &out(&b),
        net(1),
        &a,
    )
    .unwrap();
    assert_eq!(e.next_hop, "10.0.0.1".parse::<IpAddr>().unwrap());
    assert!(e.as_path.segments.is_empty(), "transparent: no AS of ours");
}

#[test]
fn split_horizon_and_well_known_communities_still_apply() {
    let a = client(2);
    assert!(export_attrs(&cfg(), PeerId(1), &a, PeerId(1), &out(&a), net(1), &from(2)).is_none());
    let mut x = from(2);
    x.communities.push(Community::NO_ADVERTISE);
    assert!(
        export_attrs(
            &cfg(),
            PeerId(1),
            &a,
            PeerId(2),
            &out(&client(3)),
            net(1),
            &x
        )
        .is_none()
    );
}

#[test]
fn rs_client_flag_is_ignored_on_ibgp() {
    let mut i = PeerInfo::new(
        "10.0.0.7".parse().unwrap(),
        AS,
        Ipv4Addr::new(7, 7, 7, 7),
        AS,
    );
    i.rs_client = true;
    let e = export_attrs(
        &cfg(),
        PeerId(1),
        &client(2),
        PeerId(2),
        &out(&i),
        net(1),
        &from(2),
    )
    .unwrap();
    assert_eq!(
        e.local_pref,
        Some(decision::DEFAULT_LOCAL_PREF),
        "iBGP rules"
    );
}

#[test]
fn every_client_gets_every_other_clients_routes_and_not_its_own() {
    const N: u8 = 5;
    let mut rib = Rib::new(cfg());
    let infos: Vec<PeerInfo> = (2..2 + N).map(client).collect();
    let ids: Vec<PeerId> = infos.iter().map(|p| rib.add_peer(p.clone())).collect();
    for (k, id) in ids.iter().enumerate() {
        let last = 2 + k as u8;
        for j in 0..10u8 {
            let p: IpNet = format!("10.{last}.{j}.0/24").parse().unwrap();
            rib.announce(*id, p, 0, from(last)).unwrap();
        }
    }
    rib.drain_deltas();
    let ctx = SessionContext::modern();
    for (k, (id, info)) in ids.iter().zip(&infos).enumerate() {
        let mut o = AdjRibOut::new(*id, out(info));
        o.initial_dump(&rib);
        let ups = o.take_updates(&ctx);
        let mut got = 0;
        for u in &ups {
            for n in &u.nlri {
                let IpNet::V4(v) = n.prefix else { panic!("v4") };
                let owner = v.addr().octets()[1];
                assert_ne!(owner, 2 + k as u8, "own route sent back");
                let a = Attrs::from_wire(&u.attributes).unwrap();
                assert_eq!(a.next_hop, IpAddr::V4(Ipv4Addr::new(10, 0, 0, owner)));
                assert_eq!(a.med, Some(40 + u32::from(owner)));
                assert_eq!(
                    a.as_path,
                    AsPath::from_sequence([65000 + u32::from(owner), 174])
                );
                got += 1;
            }
        }
        assert_eq!(got, 10 * (usize::from(N) - 1));
        assert_eq!(o.advertised(), got);
    }
}
