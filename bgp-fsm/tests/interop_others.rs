//! Interop with GoBGP and BIRD in network namespaces joined by a veth (root only; skipped
//! with a message otherwise): iBGP and eBGP, IPv4 and IPv6 transport, routes both ways.
#![cfg(feature = "tokio")]

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp_fsm::driver::{PeerConfig, PeerEvent, spawn_peer};
use bgp_wire::attr::{AsPath, MpNextHop, MpReach, Origin};
use bgp_wire::nlri::MpNlri;
use bgp_wire::{AfiSafi, Nlri, PathAttribute, Update};
use common::{eventually, in_netns, wait_event};
use testlab::{Bird, Gobgp, Netns, link, require_root_and};

fn v4_route(prefix: &str, nh: Ipv4Addr, path: Vec<u32>) -> Update {
    Update {
        withdrawn: vec![],
        attributes: vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(AsPath::from_sequence(path)),
            PathAttribute::NextHop(nh),
        ],
        nlri: vec![Nlri::new(prefix.parse().unwrap())],
    }
}

fn v6_route(prefix: &str, nh: Ipv6Addr, path: Vec<u32>, ibgp: bool) -> Update {
    let mut attributes = vec![
        PathAttribute::Origin(Origin::Igp),
        PathAttribute::AsPath(AsPath::from_sequence(path)),
    ];
    if ibgp {
        attributes.push(PathAttribute::LocalPref(100));
    }
    attributes.push(PathAttribute::MpReachNlri(MpReach {
        af: AfiSafi::IPV6_UNICAST,
        next_hop: MpNextHop::V6 {
            global: nh,
            link_local: None,
        },
        nlri: MpNlri::Prefixes(vec![Nlri::new(prefix.parse().unwrap())]),
    }));
    Update {
        withdrawn: vec![],
        attributes,
        nlri: vec![],
    }
}

fn announces(ev: &PeerEvent, prefix: &str) -> bool {
    let p: ipnet::IpNet = prefix.parse().unwrap();
    matches!(ev, PeerEvent::Update { update, .. } if update.announced().any(|(_, n)| n.prefix == p))
}

struct Pair {
    remote: Netns,
    node: Netns,
    _veth: testlab::Veth,
}

fn pair() -> Pair {
    let remote = Netns::new("or").unwrap();
    let node = Netns::new("on").unwrap();
    let veth = link(
        &remote,
        "10.0.0.1/24 fd00::1/64",
        &node,
        "10.0.0.2/24 fd00::2/64",
    )
    .unwrap();
    Pair {
        remote,
        node,
        _veth: veth,
    }
}

fn peer_cfg(local_as: u32, peer_as: u32, peer: IpAddr, fam: AfiSafi) -> PeerConfig {
    let mut c = PeerConfig::new(local_as, peer_as, Ipv4Addr::new(10, 0, 0, 2), peer);
    c.hold_time = 9;
    c.connect_retry = Duration::from_secs(2);
    c.families = vec![fam];
    c
}

#[test]
fn gobgp_ibgp_ipv4_and_ebgp_ipv6() {
    if !require_root_and(&["ip", "gobgpd", "gobgp"]) {
        return;
    }
    let p = pair();
    let conf = Gobgp::config(
        64512,
        "10.0.0.1",
        &[("10.0.0.2", 64512), ("fd00::2", 65002)],
    );
    let gb = Arc::new(Gobgp::start(&p.remote, &conf).unwrap());
    gb.add_route("10.97.0.0/24", "10.0.0.1").unwrap();
    gb.add_route("fd97::/64", "fd00::1").unwrap();
    in_netns(&p.node, move || async move {
        // iBGP over IPv4.
        let t0 = Instant::now();
        let v4 = spawn_peer(
            peer_cfg(
                64512,
                64512,
                "10.0.0.1".parse().unwrap(),
                AfiSafi::IPV4_UNICAST,
            ),
            None,
        );
        let mut e4 = v4.take_events().unwrap();
        wait_event(&mut e4, Duration::from_secs(15), "Established v4", |e| {
            matches!(e, PeerEvent::Established(_))
        })
        .await;
        println!("GoBGP iBGP/IPv4: Established in {:?}", t0.elapsed());
        wait_event(&mut e4, Duration::from_secs(10), "10.97.0.0/24", |e| {
            announces(e, "10.97.0.0/24")
        })
        .await;
        let mut r = v4_route("172.16.10.0/32", Ipv4Addr::new(10, 0, 0, 2), vec![]);
        r.attributes.push(PathAttribute::LocalPref(100));
        v4.send_update(r).await.unwrap();
        let g = gb.clone();
        assert!(
            eventually(Duration::from_secs(5), move || g
                .has_route("172.16.10.0/32"))
            .await
        );

        // eBGP over IPv6 (AS 65002 to GoBGP's 64512).
        let t0 = Instant::now();
        let v6 = spawn_peer(
            peer_cfg(
                65002,
                64512,
                "fd00::1".parse().unwrap(),
                AfiSafi::IPV6_UNICAST,
            ),
            None,
        );
        let mut e6 = v6.take_events().unwrap();
        let up = wait_event(&mut e6, Duration::from_secs(15), "Established v6", |e| {
            matches!(e, PeerEvent::Established(_))
        })
        .await;
        println!("GoBGP eBGP/IPv6: Established in {:?}", t0.elapsed());
        let PeerEvent::Established(n) = up else {
            unreachable!()
        };
        assert_eq!(n.families, vec![AfiSafi::IPV6_UNICAST]);
        wait_event(&mut e6, Duration::from_secs(10), "fd97::/64", |e| {
            announces(e, "fd97::/64")
        })
        .await;
        v6.send_update(v6_route(
            "fd10::/64",
            "fd00::2".parse().unwrap(),
            vec![65002],
            false,
        ))
        .await
        .unwrap();
        let g = gb.clone();
        assert!(eventually(Duration::from_secs(5), move || g.has_route("fd10::/64")).await);
        v4.shutdown(None).await.unwrap();
        v6.shutdown(None).await.unwrap();
    });
}

#[test]
fn bird_ebgp_ipv4_and_ibgp_ipv6() {
    if !require_root_and(&["ip", "bird", "birdc"]) {
        return;
    }
    let p = pair();
    let conf = r#"
router id 10.0.0.1;
protocol device {}
protocol static st4 { ipv4; route 10.96.0.0/24 blackhole; }
protocol static st6 { ipv6; route fd96::/64 blackhole; }
protocol bgp n4 {
  local 10.0.0.1 as 65001;
  neighbor 10.0.0.2 as 65002;
  hold time 9; keepalive time 3; connect delay time 1; connect retry time 1;
  ipv4 { import all; export all; };
}
protocol bgp n6 {
  local fd00::1 as 65001;
  neighbor fd00::2 as 65001;
  hold time 9; keepalive time 3; connect delay time 1; connect retry time 1;
  direct;
  ipv6 { import all; export all; };
}
"#;
    let bird = Arc::new(Bird::start(&p.remote, conf).unwrap());
    in_netns(&p.node, move || async move {
        let t0 = Instant::now();
        let v4 = spawn_peer(
            peer_cfg(
                65002,
                65001,
                "10.0.0.1".parse().unwrap(),
                AfiSafi::IPV4_UNICAST,
            ),
            None,
        );
        let mut e4 = v4.take_events().unwrap();
        wait_event(&mut e4, Duration::from_secs(15), "Established v4", |e| {
            matches!(e, PeerEvent::Established(_))
        })
        .await;
        println!("BIRD eBGP/IPv4: Established in {:?}", t0.elapsed());
        wait_event(&mut e4, Duration::from_secs(10), "10.96.0.0/24", |e| {
            announces(e, "10.96.0.0/24")
        })
        .await;
        v4.send_update(v4_route(
            "172.16.10.0/32",
            Ipv4Addr::new(10, 0, 0, 2),
            vec![65002],
        ))
        .await
        .unwrap();
        let b = bird.clone();
        assert!(
            eventually(Duration::from_secs(5), move || b
                .birdc("show route 172.16.10.0/32")
                .is_ok_and(|s| s.contains("172.16.10.0/32")))
            .await,
            "{:?}",
            bird.birdc("show route")
        );

        let t0 = Instant::now();
        let v6 = spawn_peer(
            peer_cfg(
                65001,
                65001,
                "fd00::1".parse().unwrap(),
                AfiSafi::IPV6_UNICAST,
            ),
            None,
        );
        let mut e6 = v6.take_events().unwrap();
        wait_event(&mut e6, Duration::from_secs(15), "Established v6", |e| {
            matches!(e, PeerEvent::Established(_))
        })
        .await;
        println!("BIRD iBGP/IPv6: Established in {:?}", t0.elapsed());
        wait_event(&mut e6, Duration::from_secs(10), "fd96::/64", |e| {
            announces(e, "fd96::/64")
        })
        .await;
        v6.send_update(v6_route(
            "fd10::/64",
            "fd00::2".parse().unwrap(),
            vec![],
            true,
        ))
        .await
        .unwrap();
        let b = bird.clone();
        assert!(
            eventually(Duration::from_secs(5), move || b
                .birdc("show route fd10::/64")
                .is_ok_and(|s| s.contains("fd10::/64")))
            .await,
            "{:?}",
            bird.birdc("show route all")
        );
        v4.shutdown(Some("bye".into())).await.unwrap();
        v6.shutdown(None).await.unwrap();
    });
}
