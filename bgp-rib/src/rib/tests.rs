//! Unit tests of the RIB.

use super::*;

#[test]
fn records_are_small() {
    assert_eq!(std::mem::size_of::<PathRec>(), 24);
    assert_eq!(std::mem::size_of::<PathSet>(), 24);
    assert_eq!(std::mem::size_of::<Dest<u32>>(), 32);
}

use bgp_wire::Nlri;
use bgp_wire::attr::{AsPath, MpNextHop, MpReach, MpUnreach};
use proptest::prelude::*;
use std::net::Ipv4Addr;

const LOCAL_AS: u32 = 64512;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}
fn ip(a: u8, b: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 168, a, b))
}
fn cfg() -> DecisionConfig {
    let mut c = DecisionConfig::new(LOCAL_AS, Ipv4Addr::new(192, 168, 1, 1));
    c.max_paths_ibgp = 16;
    c.max_paths_ebgp = 16;
    c
}
fn add(rib: &mut Rib, last: u8, asn: u32) -> PeerId {
    let a = Ipv4Addr::new(192, 168, 1, last);
    rib.add_peer(PeerInfo::new(a.into(), asn, a, LOCAL_AS))
}
fn attrs(nh: u8, path: &[u32]) -> Attrs {
    let mut a = Attrs::new(ip(1, nh));
    a.as_path = AsPath::from_sequence(path.iter().copied());
    a
}

#[test]
fn reference_scenario_six_ibgp_next_hops() {
    let mut rib = Rib::new(cfg());
    let p = net("172.16.10.0/32");
    for last in [10u8, 21, 22, 23, 24, 25] {
        let id = add(&mut rib, last, LOCAL_AS);
        rib.announce(id, p, 0, attrs(last, &[])).unwrap();
    }
    let r = rib.route(p).unwrap();
    assert_eq!(r.next_hops.len(), 6);
    assert!(r.next_hops.iter().all(|n| n.weight == 1));
    assert_eq!(r.best.peer_addr, ip(1, 10), "lowest router id");
    assert_eq!(r.reason, Reason::RouterId);
    let d = rib.drain_deltas();
    assert_eq!(d[0].kind, DeltaKind::BestChanged);
    assert!(d[1..].iter().all(|x| x.kind == DeltaKind::MultipathChanged));
    assert_eq!(d.len(), 6);
    assert_eq!(rib.attr_set_count(), 6);
}

#[test]
fn multipath_member_leaving_and_lpm_fallback() {
    let mut rib = Rib::new(cfg());
    let a = add(&mut rib, 10, LOCAL_AS);
    let b = add(&mut rib, 21, LOCAL_AS);
    let p = net("172.16.10.0/32");
    rib.announce(a, p, 0, attrs(10, &[])).unwrap();
    rib.announce(b, p, 0, attrs(21, &[])).unwrap();
    rib.drain_deltas();
    // The non-best member leaves: same best, smaller set.
    rib.withdraw(b, p, 0);
    assert_eq!(
        rib.drain_deltas(),
        vec![Delta::new(p, DeltaKind::MultipathChanged)]
    );
    // Covering route: LPM falls back to it when the /32 goes.
    rib.announce(b, net("172.16.0.0/16"), 0, attrs(21, &[]))
        .unwrap();
    let host = "172.16.10.0".parse().unwrap();
    assert_eq!(rib.lookup(host).unwrap().prefix, p);
    rib.withdraw(a, p, 0);
    assert_eq!(rib.lookup(host).unwrap().prefix, net("172.16.0.0/16"));
    assert!(rib.lookup("10.0.0.1".parse().unwrap()).is_none());
    // An excluded (AS loop) more specific does not shadow the covering route.
    rib.announce(a, net("172.16.10.0/24"), 0, attrs(10, &[65001, LOCAL_AS]))
        .unwrap();
    assert_eq!(rib.lookup(host).unwrap().prefix, net("172.16.0.0/16"));
}

#[test]
fn implicit_withdraw_withdraw_and_interner_cleanup() {
    let mut rib = Rib::new(cfg());
    let a = add(&mut rib, 2, 65001);
    let p = net("10.0.0.0/8");
    rib.announce(a, p, 0, attrs(2, &[65001])).unwrap();
    rib.announce(a, p, 0, attrs(2, &[65001])).unwrap();
    assert_eq!(
        rib.drain_deltas().len(),
        1,
        "same attributes again: no change"
    );
    assert_eq!(rib.path_count(), 1);
    let mut x = attrs(2, &[65001]);
    x.med = Some(3);
    rib.announce(a, p, 0, x).unwrap();
    assert_eq!(rib.path_count(), 1, "replaced, not added");
    assert_eq!(rib.drain_deltas()[0].kind, DeltaKind::BestChanged);
    assert_eq!(rib.attr_set_count(), 1, "old attribute set released");
    rib.withdraw(a, p, 0);
    assert_eq!(rib.drain_deltas()[0].kind, DeltaKind::Withdrawn);
    assert_eq!(rib.prefix_count(), 0);
    assert_eq!(rib.attr_set_count(), 0);
    assert!(rib.route(p).is_none());
    rib.withdraw(a, p, 0);
    assert!(
        rib.drain_deltas().is_empty(),
        "withdrawing nothing changes nothing"
    );
}

#[test]
fn peer_path_counts_follow_every_add_and_removal() {
    #[derive(Debug)]
    struct DenyTen;
    impl Policy for DenyTen {
        fn apply(&self, prefix: IpNet, _: &PeerInfo, _: &mut Attrs) -> bool {
            !net("10.0.0.0/8").contains(&prefix)
        }
    }
    let v4 = AfiSafi::IPV4_UNICAST;
    let v6 = AfiSafi::IPV6_UNICAST;
    let mut rib = Rib::new(cfg());
    let a = add(&mut rib, 2, 65001);
    let b = add(&mut rib, 3, 65002);
    for p in ["10.0.0.0/8", "11.0.0.0/8", "12.0.0.0/8"] {
        rib.announce(a, net(p), 0, attrs(2, &[65001])).unwrap();
    }
    rib.announce(a, net("2001:db8::/32"), 0, attrs(2, &[65001]))
        .unwrap();
    rib.announce(b, net("10.0.0.0/8"), 0, attrs(3, &[65002]))
        .unwrap();
    assert_eq!(rib.peer_path_count(a, v4), 3);
    assert_eq!(rib.peer_path_count(a, v6), 1);
    assert_eq!(rib.peer_path_count(b, v4), 1);
    // Implicit withdraw replaces; a second ADD-PATH id adds.
    let mut x = attrs(2, &[65001]);
    x.med = Some(7);
    rib.announce(a, net("10.0.0.0/8"), 0, x).unwrap();
    assert_eq!(rib.peer_path_count(a, v4), 3);
    rib.announce(a, net("10.0.0.0/8"), 9, attrs(2, &[65001]))
        .unwrap();
    assert_eq!(rib.peer_path_count(a, v4), 4);
    rib.withdraw(a, net("10.0.0.0/8"), 9);
    rib.withdraw(a, net("99.0.0.0/8"), 0);
    assert_eq!(
        rib.peer_path_count(a, v4),
        3,
        "unknown withdrawals change nothing"
    );
    // Import policy: a rejected re-announcement removes the accepted path; rejected
    // routes are not counted.
    rib.set_import_policy(a, Some(Arc::new(DenyTen))).unwrap();
    rib.announce(a, net("10.0.0.0/8"), 0, attrs(2, &[65001]))
        .unwrap();
    rib.announce(a, net("10.1.0.0/16"), 0, attrs(2, &[65001]))
        .unwrap();
    assert_eq!(rib.peer_path_count(a, v4), 2);
    // Graceful restart: stale paths count until swept.
    rib.peer_restarting(a, 0, 5);
    assert_eq!(rib.peer_path_count(a, v4), 2);
    rib.tick(5);
    assert_eq!(rib.peer_path_count(a, v4), 0);
    assert_eq!(rib.peer_path_count(a, v6), 0);
    assert_eq!(rib.peer_path_count(b, v4), 1);
    rib.peer_down(b);
    assert_eq!(rib.peer_path_count(b, v4), 0);
    assert_eq!(
        rib.peer_path_count(
            b,
            AfiSafi::new(bgp_wire::Afi::Ipv4, bgp_wire::Safi::Multicast)
        ),
        0
    );
    assert_eq!(rib.path_count(), 0);
}

/// An UPDATE message from raw parts (withdrawn routes, attributes, NLRI), decoded by
/// bgp-wire with a 4-octet-AS context, so the verdict is bgp-wire's own.
fn decoded(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> (Update, UpdateVerdict) {
    let mut m = vec![0xFF; 16];
    let len = 19 + 4 + withdrawn.len() + attrs.len() + nlri.len();
    m.extend_from_slice(&(len as u16).to_be_bytes());
    m.push(2);
    m.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
    m.extend_from_slice(withdrawn);
    m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    m.extend_from_slice(attrs);
    m.extend_from_slice(nlri);
    let d = bgp_wire::decode_message(m.into(), &bgp_wire::SessionContext::modern()).unwrap();
    match d.message {
        bgp_wire::Message::Update(u) => (u, d.verdict),
        other => panic!("not an UPDATE: {other:?}"),
    }
}

#[test]
fn decoded_updates_follow_their_rfc7606_verdict() {
    const ORIGIN_IGP: &[u8] = &[0x40, 1, 1, 0];
    const ORIGIN_BAD: &[u8] = &[0x40, 1, 1, 7]; // §7.1: treat-as-withdraw
    const PATH: &[u8] = &[0x40, 2, 6, 2, 1, 0, 0, 0xFD, 0xE9]; // AS_SEQUENCE 65001
    const NH: &[u8] = &[0x40, 3, 4, 192, 168, 1, 2];
    const AGGR_BAD: &[u8] = &[0xC0, 7, 3, 1, 2, 3]; // §7.7: attribute discard
    let v4 = AfiSafi::IPV4_UNICAST;
    let mut rib = Rib::new(cfg());
    let a = add(&mut rib, 2, 65001);
    let ok = [ORIGIN_IGP, PATH, NH].concat();
    let (u, v) = decoded(&[], &ok, &[24, 10, 1, 1, 24, 10, 1, 2, 24, 10, 1, 3]);
    assert!(v.is_clean());
    rib.apply_decoded(a, &u, &v).unwrap();
    assert_eq!(rib.peer_path_count(a, v4), 3);
    // Attribute discard: the route is imported without the attribute.
    let (u, v) = decoded(&[], &[ok.as_slice(), AGGR_BAD].concat(), &[24, 10, 1, 4]);
    assert_eq!(v.action(), Some(&UpdateAction::AttributeDiscard));
    let s = rib.apply_decoded(a, &u, &v).unwrap();
    assert_eq!(s.announced, 1);
    assert_eq!(rib.peer_path_count(a, v4), 4);
    // Treat-as-withdraw: 10.1.1.0/24 was announced before and is re-announced with a bad
    // ORIGIN, so it goes; 10.1.2.0/24 is withdrawn explicitly; 10.1.9.0/24 (new) is not
    // imported.
    let bad = [ORIGIN_BAD, PATH, NH].concat();
    let (u, v) = decoded(&[24, 10, 1, 2], &bad, &[24, 10, 1, 1, 24, 10, 1, 9]);
    assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw));
    let s = rib.apply_decoded(a, &u, &v).unwrap();
    assert_eq!(s.announced, 0);
    assert!(rib.route(net("10.1.1.0/24")).is_none());
    assert!(rib.route(net("10.1.2.0/24")).is_none());
    assert!(rib.route(net("10.1.9.0/24")).is_none());
    assert!(rib.route(net("10.1.3.0/24")).is_some());
    assert_eq!(rib.peer_path_count(a, v4), 2);
    // AFI/SAFI disable (§3(j)): an MP_UNREACH for IPv6 unicast with an unreadable prefix
    // removes the peer's IPv6 routes and leaves IPv4 alone.
    rib.announce(a, net("2001:db8::/32"), 0, attrs(2, &[65001]))
        .unwrap();
    assert_eq!(rib.peer_path_count(a, AfiSafi::IPV6_UNICAST), 1);
    let (u, v) = decoded(&[], &[0x80, 15, 5, 0, 2, 1, 64, 0x20], &[]);
    assert_eq!(
        v.action(),
        Some(&UpdateAction::AfiSafiDisable(AfiSafi::IPV6_UNICAST))
    );
    let s = rib.apply_decoded(a, &u, &v).unwrap();
    assert_eq!(s.disabled, vec![AfiSafi::IPV6_UNICAST]);
    assert_eq!(rib.peer_path_count(a, AfiSafi::IPV6_UNICAST), 0);
    assert_eq!(rib.peer_path_count(a, v4), 2);
}

#[test]
fn excluded_paths_stay_but_are_not_selected() {
    let mut rib = Rib::new(cfg());
    let a = add(&mut rib, 2, 65001);
    let p = net("10.0.0.0/8");
    rib.announce(a, p, 0, attrs(2, &[65001, LOCAL_AS])).unwrap();
    assert!(rib.route(p).is_none());
    assert_eq!(rib.paths(p).len(), 1);
    assert!(rib.drain_deltas().is_empty());
    let mut c = cfg();
    c.allowas_in = 1;
    rib.set_config(c);
    assert!(rib.route(p).is_some());
    assert_eq!(rib.drain_deltas()[0].kind, DeltaKind::BestChanged);
}

#[test]
fn resolver_excludes_and_costs() {
    let mut r = crate::decision::PrefixResolver::new();
    r.add(net("192.168.1.0/28"), 10);
    r.add(net("192.168.1.16/28"), 5);
    let mut rib = Rib::with_resolver(cfg(), Box::new(r));
    let a = add(&mut rib, 2, LOCAL_AS);
    let b = add(&mut rib, 20, LOCAL_AS);
    let c = add(&mut rib, 40, LOCAL_AS);
    let p = net("10.0.0.0/8");
    rib.announce(a, p, 0, attrs(2, &[])).unwrap();
    rib.announce(b, p, 0, attrs(20, &[])).unwrap();
    rib.announce(c, p, 0, attrs(40, &[])).unwrap();
    let route = rib.route(p).unwrap();
    assert_eq!(route.best.peer, b);
    assert_eq!(route.reason, Reason::IgpCost);
    assert_eq!(route.multipath.len(), 1);
    assert_eq!(rib.paths(p).len(), 3);
}

#[test]
fn peer_down_falls_back() {
    let mut rib = Rib::new(cfg());
    let a = add(&mut rib, 2, 65001);
    let b = add(&mut rib, 3, 65002);
    for i in 0..100u32 {
        let p = IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24).unwrap());
        let mut x = attrs(2, &[65001]);
        x.local_pref = Some(200);
        rib.announce(a, p, 0, x).unwrap();
        rib.announce(b, p, 0, attrs(3, &[65002])).unwrap();
    }
    rib.drain_deltas();
    rib.peer_down(a);
    let d = rib.drain_deltas();
    assert_eq!(d.len(), 100);
    assert!(d.iter().all(|x| x.kind == DeltaKind::BestChanged));
    assert_eq!(rib.route(net("10.0.5.0/24")).unwrap().best.peer, b);
    rib.peer_down(b);
    assert_eq!(rib.drain_deltas().len(), 100);
    assert_eq!(rib.prefix_count(), 0);
    assert_eq!(rib.attr_set_count(), 0);
}

#[test]
fn graceful_restart_stale_then_eor_or_timer() {
    let mut rib = Rib::new(cfg());
    let a = add(&mut rib, 2, 65001);
    let (p1, p2) = (net("10.1.0.0/16"), net("10.2.0.0/16"));
    rib.announce(a, p1, 0, attrs(2, &[65001])).unwrap();
    rib.announce(a, p2, 0, attrs(2, &[65001])).unwrap();
    rib.drain_deltas();
    rib.peer_restarting(a, 1000, 120);
    assert!(rib.route(p1).unwrap().best.stale, "kept, marked stale");
    assert!(rib.drain_deltas().is_empty(), "forwarding unchanged");
    // The peer comes back and re-announces p1 only, then End-of-RIB.
    rib.announce(a, p1, 0, attrs(2, &[65001])).unwrap();
    assert!(!rib.route(p1).unwrap().best.stale);
    rib.tick(1050);
    assert!(rib.route(p2).is_some(), "timer not expired yet");
    rib.end_of_rib(a, AfiSafi::IPV4_UNICAST);
    assert!(rib.route(p2).is_none(), "stale p2 swept at End-of-RIB");
    assert!(rib.route(p1).is_some());
    // Restart again, never comes back: the timer sweeps.
    rib.peer_restarting(a, 2000, 120);
    rib.tick(2119);
    assert!(rib.route(p1).is_some());
    rib.tick(2120);
    assert!(rib.route(p1).is_none());
}

#[test]
fn soft_reconfiguration_reapplies_import_policy() {
    use crate::policy::{Action, Clause, RouteMap, Set};
    let mut rib = Rib::new(cfg());
    let a = add(&mut rib, 2, 65001);
    rib.set_soft_reconfiguration(a, true).unwrap();
    let p = net("10.0.0.0/8");
    rib.announce(a, p, 0, attrs(2, &[65001])).unwrap();
    assert_eq!(rib.route(p).unwrap().best.attrs.local_pref, None);
    let rm = RouteMap {
        clauses: vec![Clause {
            action: Action::Permit,
            matches: vec![],
            sets: vec![Set::LocalPref(300)],
        }],
    };
    rib.set_import_policy(a, Some(Arc::new(rm))).unwrap();
    rib.soft_reconfigure(a).unwrap();
    assert_eq!(rib.route(p).unwrap().best.attrs.local_pref, Some(300));
    // Deny-all policy: the route goes away.
    rib.set_import_policy(a, Some(Arc::new(RouteMap::default())))
        .unwrap();
    rib.soft_reconfigure(a).unwrap();
    assert!(rib.route(p).is_none());
    // Accept again: the kept pre-policy copy comes back without the peer resending it.
    rib.set_import_policy(a, None).unwrap();
    rib.soft_reconfigure(a).unwrap();
    assert_eq!(rib.route(p).unwrap().best.attrs.local_pref, None);
}

#[test]
fn apply_update_v4_v6_and_end_of_rib() {
    let mut rib = Rib::new(cfg());
    let a = add(&mut rib, 2, 65001);
    let mut u = Update {
        attributes: attrs(2, &[65001]).to_wire(),
        nlri: vec![Nlri::new(net("10.0.0.0/8")), Nlri::new(net("11.0.0.0/8"))],
        ..Default::default()
    };
    u.attributes.push(PathAttribute::MpReachNlri(MpReach {
        af: AfiSafi::IPV6_UNICAST,
        next_hop: MpNextHop::V6 {
            global: "2001:db8::2".parse().unwrap(),
            link_local: None,
        },
        nlri: MpNlri::Prefixes(vec![Nlri::new(net("2001:db8:1::/48"))]),
    }));
    let s = rib.apply_update(a, &u).unwrap();
    assert_eq!(s.announced, 3);
    assert_eq!(
        rib.attr_set_count(),
        2,
        "one shared attribute set per next hop (NEXT_HOP, MP_REACH)"
    );
    let r6 = rib.route(net("2001:db8:1::/48")).unwrap();
    assert_eq!(
        r6.next_hops[0].addr,
        "2001:db8::2".parse::<IpAddr>().unwrap()
    );
    assert_eq!(
        rib.lookup("2001:db8:1::5".parse().unwrap()).unwrap().prefix,
        net("2001:db8:1::/48")
    );
    assert_eq!(
        rib.lookup("10.9.9.9".parse().unwrap()).unwrap().prefix,
        net("10.0.0.0/8")
    );
    let w = Update {
        withdrawn: vec![Nlri::new(net("10.0.0.0/8"))],
        attributes: vec![PathAttribute::MpUnreachNlri(MpUnreach {
            af: AfiSafi::IPV6_UNICAST,
            withdrawn: MpNlri::Prefixes(vec![Nlri::new(net("2001:db8:1::/48"))]),
        })],
        nlri: vec![],
    };
    assert_eq!(rib.apply_update(a, &w).unwrap().withdrawn, 2);
    assert_eq!(rib.prefix_count(), 1);
    // LOCAL_PREF from an eBGP peer is ignored (RFC 4271 §5.1.5).
    let mut lp = attrs(2, &[65001]);
    lp.local_pref = Some(500);
    let u2 = Update {
        attributes: lp.to_wire(),
        nlri: vec![Nlri::new(net("12.0.0.0/8"))],
        ..Default::default()
    };
    rib.apply_update(a, &u2).unwrap();
    assert_eq!(
        rib.route(net("12.0.0.0/8")).unwrap().best.attrs.local_pref,
        None
    );
    rib.withdraw(a, net("12.0.0.0/8"), 0);
    let eor = rib.apply_update(a, &Update::default()).unwrap();
    assert_eq!(eor.end_of_rib, vec![AfiSafi::IPV4_UNICAST]);
    assert_eq!(
        rib.apply_update(PeerId(99), &u),
        Err(RibError::UnknownPeer(PeerId(99)))
    );
}

#[test]
fn add_path_ids_are_separate_paths() {
    let mut rib = Rib::new(cfg());
    let a = add(&mut rib, 2, LOCAL_AS);
    let p = net("10.0.0.0/8");
    rib.announce(a, p, 1, attrs(5, &[])).unwrap();
    rib.announce(a, p, 2, attrs(6, &[])).unwrap();
    let r = rib.route(p).unwrap();
    assert_eq!(r.best.path_id, 1, "same peer: lower path id");
    assert_eq!(r.next_hops.len(), 2);
    rib.withdraw(a, p, 1);
    assert_eq!(rib.route(p).unwrap().best.path_id, 2);
}

#[derive(Debug, Clone)]
struct GenPath {
    peer: usize,
    lp: u32,
    path: Vec<u32>,
    med: Option<u32>,
    origin: u8,
}

fn gen_path() -> impl Strategy<Value = GenPath> {
    (
        0usize..8,
        prop_oneof![Just(100u32), Just(200)],
        proptest::collection::vec(prop_oneof![Just(65001u32), Just(65002), Just(65003)], 0..3),
        proptest::option::of(0u32..3),
        0u8..3,
    )
        .prop_map(|(peer, lp, path, med, origin)| GenPath {
            peer,
            lp,
            path,
            med,
            origin,
        })
}

/// Peers 0..4 iBGP, 4..8 eBGP in AS 65001/65002.
fn build(
    order: &[usize],
    paths: &[GenPath],
    ops: &[(usize, bool)],
    c: &DecisionConfig,
) -> (IpAddr, Vec<WeightedNextHop>) {
    let mut rib = Rib::new(c.clone());
    let mut ids = Vec::new();
    for i in 0..8u8 {
        let asn = if i < 4 {
            LOCAL_AS
        } else {
            65001 + u32::from(i % 2)
        };
        ids.push(add(&mut rib, 10 + i, asn));
    }
    let p = net("172.16.10.0/32");
    let mk = |g: &GenPath| {
        let mut a = Attrs::new(ip(1, 10 + g.peer as u8));
        let mut path = g.path.clone();
        if g.peer >= 4 {
            path.insert(0, 65001 + (g.peer as u32 % 2));
        }
        a.as_path = AsPath::from_sequence(path);
        a.local_pref = Some(g.lp);
        a.med = g.med;
        a.origin = match g.origin {
            0 => bgp_wire::attr::Origin::Igp,
            1 => bgp_wire::attr::Origin::Egp,
            _ => bgp_wire::attr::Origin::Incomplete,
        };
        a
    };
    // Noise first: withdraw / re-announce sequences over the same set.
    for &(i, announce) in ops {
        let g = &paths[i % paths.len()];
        if announce {
            rib.announce(ids[g.peer], p, 0, mk(g)).unwrap();
        } else {
            rib.withdraw(ids[g.peer], p, 0);
        }
    }
    for &i in order {
        let g = &paths[i];
        rib.announce(ids[g.peer], p, 0, mk(g)).unwrap();
    }
    let r = rib.route(p).unwrap();
    assert!(
        r.multipath.iter().any(|m| m.peer == r.best.peer),
        "best is in the ECMP set"
    );
    (r.best.peer_addr, r.next_hops)
}

proptest! {
    /// With deterministic-med the best path and multipath set do not depend on arrival order,
    /// nor on earlier withdraw/re-announce churn.
    #[test]
    fn order_independent(paths in proptest::collection::vec(gen_path(), 1..8)
                             .prop_map(|mut v| { v.sort_by_key(|g| g.peer); v.dedup_by_key(|g| g.peer); v }),
                         seed in any::<u64>(),
                         ops in proptest::collection::vec((0usize..8, any::<bool>()), 0..12),
                         relax in any::<bool>(), maxp in 1u16..5) {
        let mut c = cfg();
        c.multipath_relax = relax;
        c.max_paths_ebgp = maxp;
        c.max_paths_ibgp = maxp;
        let n = paths.len();
        let base: Vec<usize> = (0..n).collect();
        let mut shuffled = base.clone();
        let mut s = seed;
        for i in (1..n).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        let x = build(&base, &paths, &[], &c);
        let y = build(&shuffled, &paths, &ops, &c);
        prop_assert_eq!(x, y);
    }
}

#[test]
fn originator_id_and_cluster_list_from_ebgp_are_discarded_rfc7606_7_9() {
    let mut rib = Rib::new(cfg());
    let e = add(&mut rib, 2, 65001);
    let i = add(&mut rib, 3, LOCAL_AS);
    let mut a = attrs(2, &[65001]);
    a.extra_mut().originator_id = Some(Ipv4Addr::new(9, 9, 9, 9));
    a.extra_mut().cluster_list = vec![Ipv4Addr::new(8, 8, 8, 8)];
    let u = Update {
        attributes: a.to_wire(),
        nlri: vec![Nlri::new(net("10.0.0.0/8"))],
        ..Default::default()
    };
    rib.apply_update(e, &u).unwrap();
    rib.announce(e, net("11.0.0.0/8"), 0, a.clone()).unwrap();
    for p in ["10.0.0.0/8", "11.0.0.0/8"] {
        let b = rib.route(net(p)).unwrap().best.attrs;
        assert_eq!(b.originator_id(), None, "{p}");
        assert!(b.cluster_list().is_empty(), "{p}");
        assert!(b.extra.is_none(), "{p}: normalized");
    }
    // From an iBGP peer they stay (RFC 4456 loop detection needs them).
    rib.announce(i, net("12.0.0.0/8"), 0, a.clone()).unwrap();
    let b = rib.route(net("12.0.0.0/8")).unwrap().best.attrs;
    assert_eq!(b.originator_id(), Some(Ipv4Addr::new(9, 9, 9, 9)));
    assert_eq!(b.cluster_list(), &[Ipv4Addr::new(8, 8, 8, 8)]);
}

#[test]
fn afi_safi_disable_lasts_until_peer_down_rfc7606_5_4() {
    let v6 = AfiSafi::IPV6_UNICAST;
    let mut rib = Rib::new(cfg());
    let a = add(&mut rib, 2, 65001);
    let reach6 = |p: &str| {
        let mut u = Update {
            attributes: attrs(2, &[65001]).to_wire(),
            nlri: vec![Nlri::new(net("10.0.0.0/8"))],
            ..Default::default()
        };
        u.attributes.push(PathAttribute::MpReachNlri(MpReach {
            af: v6,
            next_hop: MpNextHop::V6 {
                global: "2001:db8::2".parse().unwrap(),
                link_local: None,
            },
            nlri: MpNlri::Prefixes(vec![Nlri::new(net(p))]),
        }));
        u
    };
    rib.apply_update(a, &reach6("2001:db8:1::/48")).unwrap();
    assert_eq!(rib.peer_path_count(a, v6), 1);
    // An MP_UNREACH for IPv6 unicast with an unreadable prefix: AFI/SAFI disable.
    let (u, v) = decoded(&[], &[0x80, 15, 5, 0, 2, 1, 64, 0x20], &[]);
    assert_eq!(v.action(), Some(&UpdateAction::AfiSafiDisable(v6)));
    assert_eq!(rib.apply_decoded(a, &u, &v).unwrap().disabled, vec![v6]);
    assert_eq!(rib.peer_path_count(a, v6), 0);
    // Later clean UPDATEs: IPv6 stays ignored, IPv4 is still taken.
    let clean = bgp_wire::UpdateVerdict::default();
    let s = rib
        .apply_decoded(a, &reach6("2001:db8:2::/48"), &clean)
        .unwrap();
    assert_eq!(s.announced, 1, "only the IPv4 NLRI");
    rib.apply_update(a, &reach6("2001:db8:3::/48")).unwrap();
    assert_eq!(rib.peer_path_count(a, v6), 0);
    assert_eq!(rib.peer_path_count(a, AfiSafi::IPV4_UNICAST), 1);
    // A new session starts with every family enabled.
    rib.peer_down(a);
    rib.apply_update(a, &reach6("2001:db8:4::/48")).unwrap();
    assert_eq!(rib.peer_path_count(a, v6), 1);
}

#[test]
fn ipv4_nlri_and_mp_reach_keep_their_own_next_hops() {
    let mut rib = Rib::new(cfg());
    let a = add(&mut rib, 2, 65001);
    fn rib_nh(rib: &Rib, p: &str) -> IpAddr {
        rib.route(net(p)).unwrap().best.attrs.next_hop
    }
    for (mp_af, mp_nh, mp_prefix, mp_addr) in [
        (
            AfiSafi::IPV6_UNICAST,
            MpNextHop::V6 {
                global: "2001:db8::2".parse().unwrap(),
                link_local: Some("fe80::2".parse().unwrap()),
            },
            "2001:db8:1::/48",
            "2001:db8::2".parse::<IpAddr>().unwrap(),
        ),
        (
            AfiSafi::IPV4_UNICAST,
            MpNextHop::V4(Ipv4Addr::new(192, 168, 1, 99)),
            "11.0.0.0/8",
            ip(1, 99),
        ),
    ] {
        // NEXT_HOP 192.168.1.2 for the IPv4 NLRI, MP_REACH with another next hop.
        let mut u = Update {
            attributes: attrs(2, &[65001]).to_wire(),
            nlri: vec![Nlri::new(net("10.0.0.0/8"))],
            ..Default::default()
        };
        u.attributes.push(PathAttribute::MpReachNlri(MpReach {
            af: mp_af,
            next_hop: mp_nh,
            nlri: MpNlri::Prefixes(vec![Nlri::new(net(mp_prefix))]),
        }));
        assert_eq!(rib.apply_update(a, &u).unwrap().announced, 2);
        let r4 = rib.route(net("10.0.0.0/8")).unwrap();
        assert_eq!(r4.best.attrs.next_hop, ip(1, 2), "{mp_af}: NEXT_HOP");
        assert_eq!(r4.best.attrs.link_local(), None);
        assert_eq!(
            rib_nh(&rib, mp_prefix),
            mp_addr,
            "{mp_af}: MP_REACH next hop"
        );
    }
    assert_eq!(
        rib.route(net("2001:db8:1::/48"))
            .unwrap()
            .best
            .attrs
            .link_local(),
        Some("fe80::2".parse().unwrap())
    );
}

#[test]
fn as4_path_and_aggregator_merged_from_two_octet_peer_rfc6793() {
    use bgp_wire::attr::Aggregator;
    const TRANS: u32 = 23456;
    let mut rib = Rib::new(cfg());
    let mut two_octet = PeerInfo::new(ip(1, 2), 65010, Ipv4Addr::new(192, 168, 1, 2), LOCAL_AS);
    two_octet.four_octet_as = false;
    let old = rib.add_peer(two_octet);
    let new = add(&mut rib, 3, 65011);
    let update = |aggr_as: u32| {
        let mut a = attrs(2, &[65010, TRANS, 65020]);
        a.extra_mut().aggregator = Some(Aggregator {
            asn: aggr_as,
            addr: Ipv4Addr::new(1, 2, 3, 4),
        });
        let mut w = a.to_wire();
        w.push(PathAttribute::As4Path(AsPath::from_sequence([
            4_200_000_000,
            65020,
        ])));
        w.push(PathAttribute::As4Aggregator(Aggregator {
            asn: 4_200_000_001,
            addr: Ipv4Addr::new(1, 2, 3, 4),
        }));
        Update {
            attributes: w,
            nlri: vec![Nlri::new(net("10.0.0.0/8"))],
            ..Default::default()
        }
    };
    rib.apply_update(old, &update(TRANS)).unwrap();
    let b = rib.route(net("10.0.0.0/8")).unwrap().best.attrs;
    assert_eq!(
        b.as_path,
        AsPath::from_sequence([65010, 4_200_000_000, 65020])
    );
    assert_eq!(b.extra().aggregator.unwrap().asn, 4_200_000_001);
    // AGGREGATOR not AS_TRANS: an OLD speaker aggregated later, AS4_* are ignored.
    rib.apply_update(old, &update(65030)).unwrap();
    let b = rib.route(net("10.0.0.0/8")).unwrap().best.attrs;
    assert_eq!(b.as_path, AsPath::from_sequence([65010, TRANS, 65020]));
    assert_eq!(b.extra().aggregator.unwrap().asn, 65030);
    // A 4-octet peer's AS_PATH is the real one (bgp-wire discards AS4_* from it anyway).
    rib.withdraw(old, net("10.0.0.0/8"), 0);
    rib.apply_update(new, &update(TRANS)).unwrap();
    let b = rib.route(net("10.0.0.0/8")).unwrap().best.attrs;
    assert_eq!(b.as_path, AsPath::from_sequence([65010, TRANS, 65020]));
}

proptest! {
    /// A delta's slot hint may be stale once its slot is freed and reused within one batch;
    /// looked up through the hint, every delta still finds what the prefix lookup finds.
    #[test]
    fn delta_slot_hints_never_mislead(ops in proptest::collection::vec((0u8..6, any::<bool>(), 0u8..2), 1..80)) {
        let mut rib = Rib::new(cfg());
        let peers = [add(&mut rib, 10, 65010), add(&mut rib, 11, 65011)];
        let mut deltas = Vec::new();
        for (i, (p, announce, who)) in ops.into_iter().enumerate() {
            let prefix = net(&format!("10.0.{p}.0/24"));
            let peer = peers[usize::from(who)];
            if announce {
                let _ = rib.announce(peer, prefix, 0, attrs(10 + who, &[65010 + u32::from(who), i as u32]));
            } else {
                rib.withdraw(peer, prefix, 0);
            }
            if i % 7 == 0 {
                deltas.extend(rib.drain_deltas());
            }
        }
        deltas.extend(rib.drain_deltas());
        for d in &deltas {
            let hinted = rib.best_path_of(d).map(|(p, id, a)| (p, id, Arc::as_ptr(a)));
            let looked = rib.best_path(d.prefix).map(|(p, id, a)| (p, id, Arc::as_ptr(a)));
            prop_assert_eq!(hinted, looked);
        }
    }
}
