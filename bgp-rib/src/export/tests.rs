//! Unit tests of export: the protocol rules, the Adj-RIB-Out and UPDATE packing.

use super::*;
use bgp_wire::PathAttribute;
use bgp_wire::attr::{AsPath, Community};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

const AS: u32 = 65000;

fn cfg() -> DecisionConfig {
    DecisionConfig::new(AS, Ipv4Addr::new(10, 0, 0, 1))
}
fn peer(last: u8, asn: u32, client: bool) -> PeerInfo {
    let mut p = PeerInfo::new(
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
        asn,
        Ipv4Addr::new(1, 1, 1, last),
        AS,
    );
    p.rr_client = client;
    p
}
fn out(p: &PeerInfo, rr: bool) -> OutPeerConfig {
    OutPeerConfig {
        info: p.clone(),
        local_addr: "10.0.0.1".parse().unwrap(),
        next_hop_self: false,
        route_reflector: rr,
        policy: None,
        families: vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST],
        add_path: false,
    }
}
fn attrs() -> Attrs {
    let mut a = Attrs::new("10.0.0.9".parse().unwrap());
    a.as_path = AsPath::from_sequence([65009]);
    a.med = Some(7);
    a.local_pref = Some(300);
    a.weight = 5;
    a
}
fn n() -> IpNet {
    "203.0.113.0/24".parse().unwrap()
}
/// A RIB with eBGP peer 2 (AS 65002, the source) and the Adj-RIB-Out of eBGP peer 3.
fn ebgp_to_ebgp() -> (Rib, PeerId, AdjRibOut) {
    let mut rib = Rib::new(cfg());
    let from = rib.add_peer(peer(2, 65002, false));
    let dst = peer(3, 65003, false);
    let to = rib.add_peer(dst.clone());
    let o = AdjRibOut::new(to, out(&dst, false));
    (rib, from, o)
}

#[test]
fn unknown_optional_attributes_partial_or_dropped_rfc4271_9_1_3() {
    use bgp_wire::attr::{FLAG_OPTIONAL, FLAG_PARTIAL, FLAG_TRANSITIVE, RawAttribute};
    let raw = |flags, type_code| {
        PathAttribute::Unknown(RawAttribute {
            flags,
            type_code,
            value: bytes::Bytes::from_static(&[1, 2, 3, 4]),
        })
    };
    let mut a = attrs();
    a.extra_mut().other = vec![
        raw(FLAG_OPTIONAL | FLAG_TRANSITIVE, 200),
        raw(FLAG_OPTIONAL, 201),
    ];
    let (src, dst) = (peer(2, 65002, false), peer(3, 65003, false));
    for to in [out(&dst, false), out(&peer(4, AS, false), false)] {
        let e = export_attrs(&cfg(), PeerId(1), &src, PeerId(3), &to, n(), &a).unwrap();
        assert_eq!(
            e.extra().other,
            vec![raw(FLAG_OPTIONAL | FLAG_TRANSITIVE | FLAG_PARTIAL, 200)],
            "to ibgp={}",
            to.info.ibgp
        );
    }
    // Locally originated: not passed on, sent as configured.
    let local = PeerInfo::local(&cfg());
    let e = export_attrs(
        &cfg(),
        PeerId::LOCAL,
        &local,
        PeerId(3),
        &out(&dst, false),
        n(),
        &a,
    )
    .unwrap();
    assert_eq!(e.extra().other, a.extra().other);
}

#[test]
fn as4_path_generated_to_two_octet_peer_rfc6793() {
    use bgp_wire::attr::Aggregator;
    let real = AsPath::from_sequence([4_200_000_000, 65020]);
    let mut rib = Rib::new(cfg());
    let src = peer(2, 65002, false);
    let from = rib.add_peer(src.clone());
    let dst = peer(3, 65003, false);
    let to = rib.add_peer(dst.clone());
    let mut a = attrs();
    a.as_path = real.clone();
    a.extra_mut().aggregator = Some(Aggregator {
        asn: 4_200_000_001,
        addr: Ipv4Addr::new(1, 2, 3, 4),
    });
    rib.announce(from, n(), 0, a).unwrap();
    let mut o = AdjRibOut::new(to, out(&dst, false));
    o.initial_dump(&rib);
    let old = SessionContext::default();
    assert!(!old.four_octet_as);
    let ups = o.take_updates(&old);
    let u = ups.iter().find(|u| !u.nlri.is_empty()).unwrap();
    let sent = AsPath::from_sequence([AS, 4_200_000_000, 65020]);
    assert!(u.attributes.contains(&PathAttribute::As4Path(sent.clone())));
    assert!(u.attributes.iter().any(|x| matches!(x,
        PathAttribute::As4Aggregator(g) if g.asn == 4_200_000_001)));
    // On the wire: AS_PATH and AGGREGATOR carry AS_TRANS; a 2-octet receiver that merges
    // gets the real path back.
    let mut buf = bytes::BytesMut::new();
    bgp_wire::encode_message(&bgp_wire::Message::Update(u.clone()), &old, &mut buf).unwrap();
    let d = bgp_wire::decode_message(buf.freeze(), &old).unwrap();
    assert!(d.verdict.is_clean(), "{:?}", d.verdict);
    let bgp_wire::Message::Update(got) = d.message else {
        panic!("not an UPDATE")
    };
    assert!(
        got.attributes
            .contains(&PathAttribute::AsPath(AsPath::from_sequence([
                AS, 23456, 65020
            ])))
    );
    let mut far = Rib::new(DecisionConfig::new(65003, Ipv4Addr::new(10, 0, 0, 3)));
    let mut me = peer(1, AS, false);
    me.four_octet_as = false;
    let me = far.add_peer(me);
    far.apply_update(me, &got).unwrap();
    let b = far.route(n()).unwrap().best.attrs;
    assert_eq!(b.as_path, sent);
    assert_eq!(b.extra().aggregator.unwrap().asn, 4_200_000_001);
}

#[test]
fn too_large_after_prepend_withdraws_at_the_neighbour() {
    let (mut rib, from, mut o) = ebgp_to_ebgp();
    let kept: IpNet = "198.51.100.0/24".parse().unwrap();
    rib.announce(from, n(), 0, attrs()).unwrap();
    rib.announce(from, kept, 0, attrs()).unwrap();
    o.initial_dump(&rib);
    rib.drain_deltas();
    // A 2-octet session: the first UPDATE fits.
    let ctx = SessionContext::default();
    let first = o.take_updates(&ctx);
    assert_eq!(first[0].nlri.len(), 2);
    assert_eq!(o.advertised(), 2);
    // Then the path becomes 1000 four-octet ASNs (1001 after our prepend): AS_PATH with
    // AS_TRANS (~2 kB) plus AS4_PATH (~4 kB) cannot fit in 4096 octets.
    let mut long = attrs();
    long.as_path = AsPath::from_sequence((0..1000u32).map(|i| 4_200_000_000 + i));
    rib.announce(from, n(), 0, long).unwrap();
    let d = rib.drain_deltas();
    o.process(&rib, &d);
    let ups = o.take_updates(&ctx);
    assert_eq!(o.encode_errors(), 1);
    assert_eq!(ups.len(), 1, "{ups:?}");
    assert_eq!(ups[0].withdrawn, vec![Nlri::new(n())]);
    assert!(ups[0].nlri.is_empty());
    assert_eq!(o.advertised(), 1, "forgotten as advertised");
    assert!(o.advertised_attrs(n()).is_none());
    assert!(o.advertised_attrs(kept).is_some());
    // Once the path is short again, the prefix is announced anew.
    rib.announce(from, n(), 0, attrs()).unwrap();
    let d = rib.drain_deltas();
    o.process(&rib, &d);
    let ups = o.take_updates(&ctx);
    assert_eq!(ups.len(), 1);
    assert_eq!(ups[0].nlri, vec![Nlri::new(n())]);
    assert_eq!(o.advertised(), 2);
}

#[test]
fn ebgp_rewrites_rfc4271_5_1() {
    let src = peer(9, 65009, false);
    let to = peer(2, 65002, false);
    let a = export_attrs(
        &cfg(),
        PeerId(1),
        &src,
        PeerId(2),
        &out(&to, false),
        n(),
        &attrs(),
    )
    .unwrap();
    assert_eq!(
        a.as_path,
        AsPath::from_sequence([AS, 65009]),
        "AS prepended"
    );
    assert_eq!(
        a.next_hop,
        "10.0.0.1".parse::<IpAddr>().unwrap(),
        "next hop self"
    );
    assert_eq!(a.local_pref, None, "LOCAL_PREF only to iBGP");
    assert_eq!(a.med, None, "MED not passed across ASes");
    assert_eq!(a.weight, 0);
    // Locally originated routes keep their MED.
    let l = export_attrs(
        &cfg(),
        PeerId::LOCAL,
        &PeerInfo::local(&cfg()),
        PeerId(2),
        &out(&to, false),
        n(),
        &attrs(),
    )
    .unwrap();
    assert_eq!(l.med, Some(7));
}

#[test]
fn ibgp_keeps_next_hop_sets_local_pref() {
    let src = peer(9, 65009, false);
    let to = peer(2, AS, false);
    let mut a0 = attrs();
    a0.local_pref = None;
    let a = export_attrs(
        &cfg(),
        PeerId(1),
        &src,
        PeerId(2),
        &out(&to, false),
        n(),
        &a0,
    )
    .unwrap();
    assert_eq!(a.next_hop, a0.next_hop);
    assert_eq!(a.local_pref, Some(100));
    assert_eq!(a.as_path, a0.as_path);
    assert_eq!(a.med, Some(7));
    let mut o = out(&to, false);
    o.next_hop_self = true;
    let b = export_attrs(&cfg(), PeerId(1), &src, PeerId(2), &o, n(), &a0).unwrap();
    assert_eq!(b.next_hop, o.local_addr);
}

#[test]
fn ibgp_to_ibgp_only_when_reflecting_rfc4456_6() {
    let nonclient = peer(3, AS, false);
    let client = peer(4, AS, true);
    let to_nc = peer(5, AS, false);
    let to_c = peer(6, AS, true);
    let c = cfg();
    let a = attrs();
    // Not a reflector: never iBGP to iBGP.
    assert!(
        export_attrs(
            &c,
            PeerId(3),
            &nonclient,
            PeerId(5),
            &out(&to_nc, false),
            n(),
            &a
        )
        .is_none()
    );
    assert!(
        export_attrs(
            &c,
            PeerId(4),
            &client,
            PeerId(6),
            &out(&to_c, false),
            n(),
            &a
        )
        .is_none()
    );
    // Reflector: non-client -> clients only.
    assert!(
        export_attrs(
            &c,
            PeerId(3),
            &nonclient,
            PeerId(5),
            &out(&to_nc, true),
            n(),
            &a
        )
        .is_none()
    );
    let r = export_attrs(
        &c,
        PeerId(3),
        &nonclient,
        PeerId(6),
        &out(&to_c, true),
        n(),
        &a,
    )
    .unwrap();
    assert_eq!(r.originator_id(), Some(nonclient.router_id));
    assert_eq!(r.cluster_list(), &[c.router_id]);
    assert_eq!(r.next_hop, a.next_hop, "reflection keeps the next hop");
    // Client -> everyone, existing ORIGINATOR_ID kept, cluster id prepended.
    let mut a2 = a.clone();
    a2.extra_mut().originator_id = Some(Ipv4Addr::new(7, 7, 7, 7));
    a2.extra_mut().cluster_list = vec![Ipv4Addr::new(8, 8, 8, 8)];
    let r = export_attrs(
        &c,
        PeerId(4),
        &client,
        PeerId(5),
        &out(&to_nc, true),
        n(),
        &a2,
    )
    .unwrap();
    assert_eq!(r.originator_id(), Some(Ipv4Addr::new(7, 7, 7, 7)));
    assert_eq!(r.cluster_list(), &[c.router_id, Ipv4Addr::new(8, 8, 8, 8)]);
}

#[test]
fn split_horizon_and_communities() {
    let src = peer(9, 65009, false);
    let e = peer(2, 65002, false);
    let i = peer(3, AS, false);
    let c = cfg();
    assert!(
        export_attrs(
            &c,
            PeerId(1),
            &src,
            PeerId(1),
            &out(&src, false),
            n(),
            &attrs()
        )
        .is_none()
    );
    let mut a = attrs();
    a.communities.push(Community::NO_EXPORT);
    assert!(export_attrs(&c, PeerId(1), &src, PeerId(2), &out(&e, false), n(), &a).is_none());
    assert!(export_attrs(&c, PeerId(1), &src, PeerId(3), &out(&i, false), n(), &a).is_some());
    let mut a = attrs();
    a.communities.push(Community::NO_EXPORT_SUBCONFED);
    assert!(export_attrs(&c, PeerId(1), &src, PeerId(2), &out(&e, false), n(), &a).is_none());
    let mut a = attrs();
    a.communities.push(Community::NO_ADVERTISE);
    assert!(export_attrs(&c, PeerId(1), &src, PeerId(3), &out(&i, false), n(), &a).is_none());
}

#[test]
fn packing_grouping_withdrawals_and_eor() {
    let mut rib = Rib::new(cfg());
    let src_info = peer(9, 65009, false);
    let src = rib.add_peer(src_info.clone());
    let to_info = peer(2, 65002, false);
    let to = rib.add_peer(to_info.clone());
    let mut o = AdjRibOut::new(to, out(&to_info, false));
    // 3000 /24s with two attribute sets: two groups, each split into several UPDATEs.
    for i in 0..3000u32 {
        let p = IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::from(0x0b00_0000 + (i << 8)), 24).unwrap());
        let mut a = attrs();
        a.as_path = AsPath::from_sequence([65009, 1 + (i % 2)]);
        rib.announce(src, p, 0, a).unwrap();
    }
    let v6: IpNet = "2001:db8::/32".parse().unwrap();
    let mut a6 = attrs();
    a6.next_hop = "2001:db8::9".parse().unwrap();
    rib.announce(src, v6, 0, a6).unwrap();
    rib.drain_deltas();
    o.initial_dump(&rib);
    let ctx = SessionContext::modern();
    let ups = o.take_updates(&ctx);
    let nlri: usize = ups.iter().map(|u| u.nlri.len()).sum();
    assert_eq!(nlri, 3000);
    for u in &ups {
        let mut buf = bytes::BytesMut::new();
        bgp_wire::encode_message(&bgp_wire::Message::Update(u.clone()), &ctx, &mut buf).unwrap();
        assert!(buf.len() <= 4096, "UPDATE of {} octets", buf.len());
    }
    let with_nlri: Vec<&Update> = ups.iter().filter(|u| !u.nlri.is_empty()).collect();
    // 1500 prefixes * 4 octets = 6000 octets per group: 2 messages per group.
    assert_eq!(with_nlri.len(), 4);
    let mp = ups
        .iter()
        .filter(|u| {
            u.attributes
                .iter()
                .any(|a| matches!(a, PathAttribute::MpReachNlri(_)))
        })
        .count();
    assert_eq!(mp, 1, "IPv6 route in MP_REACH_NLRI");
    // End-of-RIB for both families last.
    assert_eq!(ups[ups.len() - 2], Update::default());
    assert_eq!(ups[ups.len() - 1], end_of_rib(AfiSafi::IPV6_UNICAST));
    assert_eq!(o.advertised(), 3001);
    // Withdraw 10: one UPDATE with 10 withdrawn routes.
    for i in 0..10u32 {
        let p = IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::from(0x0b00_0000 + (i << 8)), 24).unwrap());
        rib.withdraw(src, p, 0);
    }
    let d = rib.drain_deltas();
    o.process(&rib, &d);
    let ups = o.take_updates(&ctx);
    assert_eq!(ups.len(), 1);
    assert_eq!(ups[0].withdrawn.len(), 10);
    assert!(o.take_updates(&ctx).is_empty(), "nothing pending");
    // Unchanged re-announcement produces nothing.
    o.refresh(&rib, "11.0.20.0/24".parse().unwrap());
    assert!(o.take_updates(&ctx).is_empty());
}

#[test]
fn add_path_send_advertises_the_multipath_set() {
    let mut c = cfg();
    c.max_paths_ebgp = 4;
    let mut rib = Rib::new(c);
    let srcs: Vec<PeerId> = (0..3u8)
        .map(|i| rib.add_peer(peer(10 + i, 65001, false)))
        .collect();
    let to_info = peer(2, AS, false);
    let to = rib.add_peer(to_info.clone());
    let mut oc = out(&to_info, false);
    oc.add_path = true;
    let mut o = AdjRibOut::new(to, oc);
    for (i, s) in srcs.iter().enumerate() {
        let mut a = Attrs::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 10 + i as u8)));
        a.as_path = AsPath::from_sequence([65001]);
        rib.announce(*s, n(), 0, a).unwrap();
    }
    rib.drain_deltas();
    o.initial_dump(&rib);
    let mut ctx = SessionContext::modern();
    ctx.add_path_send = vec![AfiSafi::IPV4_UNICAST];
    let ups = o.take_updates(&ctx);
    let ids: BTreeSet<Option<u32>> = ups
        .iter()
        .flat_map(|u| u.nlri.iter().map(|n| n.path_id))
        .collect();
    let want: BTreeSet<Option<u32>> = srcs.iter().map(|s| o.out_path_id(n(), *s, 0)).collect();
    assert_eq!(ids, want, "three paths, three path ids");
    assert_eq!(want, [Some(1), Some(2), Some(3)].into_iter().collect());
    for u in &ups {
        let mut buf = bytes::BytesMut::new();
        bgp_wire::encode_message(&bgp_wire::Message::Update(u.clone()), &ctx, &mut buf).unwrap();
    }
    assert_eq!(o.advertised(), 3);
    // One source withdraws: exactly its path id is withdrawn.
    let gone = o.out_path_id(n(), srcs[1], 0).unwrap();
    rib.withdraw(srcs[1], n(), 0);
    let d = rib.drain_deltas();
    o.process(&rib, &d);
    let ups = o.take_updates(&ctx);
    assert_eq!(ups.len(), 1);
    assert_eq!(ups[0].withdrawn, vec![Nlri::with_path_id(n(), gone)]);
    assert!(ups[0].nlri.is_empty());
    o.reset();
    assert_eq!(o.advertised(), 0);
}

#[test]
fn add_path_ids_are_unique_per_prefix_whatever_the_source_ids() {
    // Two ADD-PATH paths from one peer whose ids differ only above bit 16 (they collided
    // when outgoing ids were derived from peer and source id): every path of the prefix
    // gets its own small id.
    let mut c = cfg();
    c.max_paths_ebgp = 4;
    let mut rib = Rib::new(c);
    let a = rib.add_peer(peer(10, 65001, false));
    let b = rib.add_peer(peer(11, 65001, false));
    let to_info = peer(2, AS, false);
    let to = rib.add_peer(to_info.clone());
    let mut oc = out(&to_info, false);
    oc.add_path = true;
    let mut o = AdjRibOut::new(to, oc);
    let path = |nh: u8| {
        let mut x = Attrs::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, nh)));
        x.as_path = AsPath::from_sequence([65001]);
        x
    };
    rib.announce(a, n(), 1, path(10)).unwrap();
    rib.announce(a, n(), 0x1_0001, path(11)).unwrap();
    rib.announce(b, n(), 1, path(12)).unwrap();
    rib.drain_deltas();
    o.initial_dump(&rib);
    let mut ctx = SessionContext::modern();
    ctx.add_path_send = vec![AfiSafi::IPV4_UNICAST];
    let ups = o.take_updates(&ctx);
    let ids: BTreeSet<u32> = ups
        .iter()
        .flat_map(|u| u.nlri.iter().filter_map(|n| n.path_id))
        .collect();
    assert_eq!(ids, [1, 2, 3].into_iter().collect(), "{ups:?}");
    assert_ne!(o.out_path_id(n(), a, 1), o.out_path_id(n(), a, 0x1_0001));
    // A withdrawn path's id is not reused in the batch that withdraws it; a path that
    // stays keeps its id.
    let kept = o.out_path_id(n(), b, 1);
    let freed = o.out_path_id(n(), a, 1).unwrap();
    rib.withdraw(a, n(), 1);
    rib.announce(b, n(), 7, path(13)).unwrap();
    let d = rib.drain_deltas();
    o.process(&rib, &d);
    assert_eq!(o.out_path_id(n(), b, 1), kept);
    let new_id = o.out_path_id(n(), b, 7).unwrap();
    assert_ne!(new_id, freed);
    let ups = o.take_updates(&ctx);
    let withdrawn: Vec<Option<u32>> = ups
        .iter()
        .flat_map(|u| u.withdrawn.iter().map(|n| n.path_id))
        .collect();
    assert_eq!(withdrawn, vec![Some(freed)]);
    // Once the withdrawal went out, the id is free again.
    rib.announce(a, n(), 9, path(14)).unwrap();
    let d = rib.drain_deltas();
    o.process(&rib, &d);
    assert_eq!(o.out_path_id(n(), a, 9), Some(freed));
}

#[test]
fn resend_queues_the_family_again_rfc2918() {
    let (mut rib, from, mut o) = ebgp_to_ebgp();
    let v6: IpNet = "2001:db8::/32".parse().unwrap();
    rib.announce(from, n(), 0, attrs()).unwrap();
    rib.announce(from, v6, 0, attrs()).unwrap();
    o.initial_dump(&rib);
    let ctx = SessionContext::modern();
    let first = o.take_updates(&ctx);
    assert_eq!(first.len(), 4, "IPv4, IPv6 and two End-of-RIBs: {first:?}");
    assert!(o.take_updates(&ctx).is_empty(), "nothing pending");
    // ROUTE-REFRESH for IPv4: only the IPv4 route again, with the same attributes.
    assert_eq!(o.resend(AfiSafi::IPV4_UNICAST), 1);
    let again = o.take_updates(&ctx);
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].nlri, vec![Nlri::new(n())]);
    assert_eq!(again[0].attributes, first[0].attributes);
    assert_eq!(o.advertised(), 2);
    // The shared attribute set is still counted right: withdrawing both frees it.
    rib.withdraw(from, n(), 0);
    rib.withdraw(from, v6, 0);
    let d = rib.drain_deltas();
    o.process(&rib, &d);
    let w = o.take_updates(&ctx);
    let gone: BTreeSet<IpNet> = w
        .iter()
        .flat_map(|u| u.withdrawn_routes().map(|(_, n)| n.prefix))
        .collect();
    assert_eq!(gone, BTreeSet::from([n(), v6]));
    assert_eq!(o.advertised(), 0);
    assert_eq!(o.resend(AfiSafi::IPV4_UNICAST), 0);
    let multicast = AfiSafi {
        afi: bgp_wire::Afi::Ipv4,
        safi: bgp_wire::Safi::Multicast,
    };
    assert_eq!(o.resend(multicast), 0);
}

/// Sets MED 99 on 198.51.100.0/24, leaves every other route as it is.
#[derive(Debug)]
struct MedOnOne;
impl Policy for MedOnOne {
    fn apply(&self, prefix: IpNet, _peer: &PeerInfo, attrs: &mut Attrs) -> bool {
        if prefix == "198.51.100.0/24".parse::<IpNet>().unwrap() {
            attrs.med = Some(99);
        }
        true
    }
}

#[test]
fn a_new_policy_resends_only_what_it_changes() {
    let (mut rib, from, mut o) = ebgp_to_ebgp();
    let b: IpNet = "198.51.100.0/24".parse().unwrap();
    rib.announce(from, n(), 0, attrs()).unwrap();
    rib.announce(from, b, 0, attrs()).unwrap();
    o.initial_dump(&rib);
    let ctx = SessionContext::modern();
    assert_eq!(
        o.take_updates(&ctx).len(),
        3,
        "one UPDATE for both, two End-of-RIBs"
    );
    assert_eq!(
        o.advertised_attrs(b).unwrap().med,
        None,
        "MED not passed to eBGP"
    );
    // The export is recomputed from the Loc-RIB's set: the peer's view is what it was sent.
    let exported = o.advertised_attrs(n()).unwrap();
    assert_eq!(exported.as_path, AsPath::from_sequence([AS, 65009]));
    assert_eq!(exported.next_hop, "10.0.0.1".parse::<IpAddr>().unwrap());

    o.set_policy(Some(Arc::new(MedOnOne)));
    for p in rib.best_prefixes() {
        o.refresh(&rib, p);
    }
    let u = o.take_updates(&ctx);
    assert_eq!(u.len(), 1, "only the route the policy changed: {u:?}");
    assert_eq!(u[0].nlri, vec![Nlri::new(b)]);
    assert!(u[0].attributes.contains(&PathAttribute::MultiExitDisc(99)));
    assert_eq!(o.advertised_attrs(b).unwrap().med, Some(99));
    // Settled: refreshing again sends nothing.
    for p in rib.best_prefixes() {
        o.refresh(&rib, p);
    }
    assert!(o.take_updates(&ctx).is_empty());
    // Back to no policy twice in a row (the first change never went out): both routes are
    // exported again and the one with MED 99 changes back; the other is compared against
    // an export generation that is no longer known, so it is sent again, unchanged.
    o.set_policy(None);
    o.set_policy(None);
    for p in rib.best_prefixes() {
        o.refresh(&rib, p);
    }
    let u = o.take_updates(&ctx);
    let sent: BTreeSet<IpNet> = u
        .iter()
        .flat_map(|u| u.nlri.iter().map(|n| n.prefix))
        .collect();
    assert_eq!(sent, BTreeSet::from([n(), b]));
    assert!(
        !u.iter()
            .any(|u| u.attributes.contains(&PathAttribute::MultiExitDisc(99)))
    );
}
