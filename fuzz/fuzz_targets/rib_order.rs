//! Feeds random path sets for one prefix into two RIBs in different orders (the second after
//! random withdraw/re-announce churn) and checks, with deterministic-med, that the best path and
//! the multipath set are the same, that the best path is always in the multipath set, and that
//! withdrawing everything leaves an empty RIB with no attribute sets.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use arbitrary::Arbitrary;
use bgp_rib::{Attrs, DecisionConfig, PeerInfo, Rib};
use bgp_wire::attr::{AsPath, Origin};
use ipnet::IpNet;

#[derive(Debug, Arbitrary)]
struct Path {
    peer: u8,
    path_id: u8,
    local_pref: Option<u8>,
    as_path: Vec<u8>,
    origin: u8,
    med: Option<u8>,
    weight: u8,
    originator: Option<u8>,
    cluster_len: u8,
}

#[derive(Debug, Arbitrary)]
struct Input {
    paths: Vec<Path>,
    order: Vec<u8>,
    churn: Vec<(u8, bool)>,
    max_paths: u8,
    relax: bool,
    always_compare_med: bool,
    missing_as_worst: bool,
}

const LOCAL_AS: u32 = 64512;

fn attrs(p: &Path) -> Attrs {
    let mut a = Attrs::new(IpAddr::V4(Ipv4Addr::new(10, 0, p.peer % 8, 1 + p.path_id % 4)));
    a.local_pref = p.local_pref.map(|v| u32::from(v % 4) * 50);
    // Neighbouring ASes 65001..65003 (and our own, excluded by the loop check).
    a.as_path = AsPath::from_sequence(
        p.as_path.iter().take(6).map(|x| if x % 16 == 15 { LOCAL_AS } else { 65001 + u32::from(x % 3) }),
    );
    a.origin = match p.origin % 3 {
        0 => Origin::Igp,
        1 => Origin::Egp,
        _ => Origin::Incomplete,
    };
    a.med = p.med.map(|m| u32::from(m % 4));
    a.weight = u32::from(p.weight % 2);
    a.extra_mut().originator_id = p.originator.map(|o| Ipv4Addr::new(1, 1, 1, o % 4));
    a.extra_mut().cluster_list = (0..p.cluster_len % 3).map(|i| Ipv4Addr::new(2, 2, 2, i)).collect();
    a.normalize();
    a
}

fn build(inp: &Input, order: &[usize], churn: bool) -> (Rib, Vec<bgp_rib::PeerId>) {
    let mut c = DecisionConfig::new(LOCAL_AS, Ipv4Addr::new(192, 168, 1, 1));
    c.max_paths_ebgp = u16::from(inp.max_paths % 9).max(1);
    c.max_paths_ibgp = c.max_paths_ebgp;
    c.multipath_relax = inp.relax;
    c.always_compare_med = inp.always_compare_med;
    c.missing_as_worst = inp.missing_as_worst;
    c.deterministic_med = true;
    let mut rib = Rib::new(c);
    // Peers 0..4 iBGP, 4..8 eBGP in 65001..65002.
    let ids: Vec<_> = (0..8u8)
        .map(|i| {
            let asn = if i < 4 { LOCAL_AS } else { 65001 + u32::from(i % 2) };
            let a = Ipv4Addr::new(10, 0, i, 254);
            rib.add_peer(PeerInfo::new(IpAddr::V4(a), asn, Ipv4Addr::new(9, 9, 9, i), LOCAL_AS))
        })
        .collect();
    let p: IpNet = IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::new(172, 16, 10, 0), 32).unwrap_or_default());
    if churn {
        for (i, ann) in inp.churn.iter().take(32) {
            if inp.paths.is_empty() {
                break;
            }
            let x = &inp.paths[usize::from(*i) % inp.paths.len()];
            let id = ids[usize::from(x.peer % 8)];
            if *ann {
                let _ = rib.announce(id, p, u32::from(x.path_id % 4), attrs(x));
            } else {
                rib.withdraw(id, p, u32::from(x.path_id % 4));
            }
        }
    }
    for &i in order {
        let x = &inp.paths[i];
        let _ = rib.announce(ids[usize::from(x.peer % 8)], p, u32::from(x.path_id % 4), attrs(x));
    }
    (rib, ids)
}

libfuzzer_sys::fuzz_target!(|inp: Input| {
    let mut paths = inp.paths;
    paths.truncate(16);
    // One path per (peer, path id): later duplicates would be implicit withdraws, which makes
    // the final state depend on order by definition.
    let mut seen = std::collections::HashSet::new();
    paths.retain(|p| seen.insert((p.peer % 8, p.path_id % 4)));
    let inp = Input { paths, ..inp };
    if inp.paths.is_empty() {
        return;
    }
    let n = inp.paths.len();
    let base: Vec<usize> = (0..n).collect();
    let mut other = base.clone();
    for (k, o) in inp.order.iter().enumerate().take(64) {
        other.swap(k % n, usize::from(*o) % n);
    }
    let p: IpNet = IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::new(172, 16, 10, 0), 32).unwrap_or_default());
    let (a, _) = build(&inp, &base, false);
    let (mut b, ids) = build(&inp, &other, true);
    let ra = a.route(p);
    let rb = b.route(p);
    assert_eq!(ra.is_some(), rb.is_some());
    if let (Some(ra), Some(rb)) = (ra, rb) {
        assert_eq!((ra.best.peer, ra.best.path_id), (rb.best.peer, rb.best.path_id));
        let set = |r: &bgp_rib::RouteView| {
            let mut v: Vec<_> = r.multipath.iter().map(|m| (m.peer, m.path_id)).collect();
            v.sort();
            v
        };
        assert_eq!(set(&ra), set(&rb));
        assert_eq!(ra.next_hops, rb.next_hops);
        assert!(ra.multipath.iter().any(|m| m.peer == ra.best.peer && m.path_id == ra.best.path_id));
        assert_eq!(ra.multipath[0].peer, ra.best.peer);
    }
    for id in ids {
        b.peer_down(id);
    }
    assert_eq!(b.prefix_count(), 0);
    assert_eq!(b.attr_set_count(), 0);
});
