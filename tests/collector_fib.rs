//! `collector --fib` as the router of the reference scenario: six GoBGP nodes (iBGP AS 64512)
//! announce 172.16.10.0/32 and the kernel route in the collector's namespace gets six next
//! hops (proto bgp); the same over IPv6 sessions with three nodes. Needs root, gobgpd and
//! gobgp; skips otherwise.

#[path = "collector_common.rs"]
mod common;

use std::time::Duration;

use testlab::{Bridge, Gobgp, Netns, require_root_and, wait_until};

const NODES: [&str; 6] = [
    "192.168.1.10",
    "192.168.1.21",
    "192.168.1.22",
    "192.168.1.23",
    "192.168.1.24",
    "192.168.1.25",
];

/// IPv6 nodes: address and (IPv4) router id.
const V6_NODES: [(&str, &str); 3] = [
    ("fd00:1::10", "192.168.1.10"),
    ("fd00:1::21", "192.168.1.21"),
    ("fd00:1::22", "192.168.1.22"),
];

/// A running lab; dropping it stops the collector and the speakers and removes the
/// namespaces.
struct Lab {
    _br: Bridge,
    rt: Netns,
    _nss: Vec<Netns>,
    speakers: Vec<Gobgp>,
    coll: common::Collector,
}

/// GoBGP nodes on one bridge with the collector's namespace at `router_addr`, each
/// announcing `prefix` with its own address as next hop, and a `--fib` collector peering with
/// all of them (plus `extra` arguments).
fn lab(
    router_addr: &str,
    nodes: &[(&str, &str)],
    listen: &str,
    extra: &[&str],
    prefix: &str,
) -> Lab {
    let mut br = Bridge::new("cfb").unwrap();
    let rt = Netns::new("cfr").unwrap();
    br.attach(&rt, "eth0", router_addr).unwrap();
    let peer_addr = router_addr.split('/').next().unwrap_or_default();
    let plen = if peer_addr.contains(':') { 64 } else { 24 };
    let mut speakers = Vec::new();
    let mut nss = Vec::new();
    for (addr, rid) in nodes {
        let ns = Netns::new("cfn").unwrap();
        br.attach(&ns, "eth0", &format!("{addr}/{plen}")).unwrap();
        let conf = Gobgp::config(64512, rid, &[(peer_addr, 64512)]);
        speakers.push(Gobgp::start(&ns, &conf).unwrap());
        nss.push(ns);
    }
    let mut args = vec![
        "--local-as",
        "64512",
        "--router-id",
        "192.168.1.1",
        "--listen",
        listen,
        "--peer-as",
        "64512",
        "--maximum-paths",
        "8",
        "--hold-time",
        "9",
        "--connect-retry",
        "1",
        "--fib",
    ];
    args.extend_from_slice(extra);
    for (a, _) in nodes {
        args.push("--peer");
        args.push(a);
    }
    let coll = common::Collector::start(&rt, &args).unwrap();
    for (gb, (addr, _)) in speakers.iter().zip(nodes) {
        gb.add_route(prefix, addr).unwrap();
    }
    Lab {
        _br: br,
        rt,
        _nss: nss,
        speakers,
        coll,
    }
}

/// Waits until the kernel route for `prefix` has `n` next hops; true if it does.
fn wait_hops(rt: &Netns, prefix: &str, n: usize, secs: u64) -> bool {
    wait_until(Duration::from_secs(secs), || {
        rt.route_nexthops(prefix).map(|h| h.len()).unwrap_or(0) == n
    })
}

/// The kernel route for `prefix` has every node as next hop, then one fewer after `withdrawer`
/// withdraws.
fn check(l: &Lab, prefix: &str, nodes: &[(&str, &str)], withdrawer: usize) {
    let ok = wait_hops(&l.rt, prefix, nodes.len(), 40);
    let routes = l.rt.routes(prefix).unwrap_or_default();
    assert!(
        ok,
        "kernel route: {routes:?}; sessions up {}; collector said: {:?}",
        l.coll.established(),
        l.coll.lines()
    );
    assert_eq!(routes[0].protocol.as_deref(), Some("bgp"));
    let mut gws: Vec<String> = routes[0]
        .nexthops
        .iter()
        .filter_map(|n| n.gateway.map(|g| g.to_string()))
        .collect();
    gws.sort();
    let mut want: Vec<String> = nodes.iter().map(|(a, _)| a.to_string()).collect();
    want.sort();
    assert_eq!(gws, want);
    let r = &l.coll.routes()[prefix];
    assert_eq!(r["nexthops"].as_array().map(|a| a.len()), Some(nodes.len()));
    l.speakers[withdrawer].del_route(prefix).unwrap();
    assert!(
        wait_hops(&l.rt, prefix, nodes.len() - 1, 20),
        "after a withdrawal: {:?}",
        l.rt.routes(prefix)
    );
}

fn require() -> bool {
    if !require_root_and(&["ip", "gobgpd", "gobgp"]) {
        return false;
    }
    assert!(
        common::collector_bin().is_some(),
        "examples/collector not built (cargo test builds examples)"
    );
    true
}

#[test]
fn collector_fib_installs_six_next_hops() {
    if !require() {
        return;
    }
    let nodes: Vec<(&str, &str)> = NODES.iter().map(|a| (*a, *a)).collect();
    let l = lab(
        "192.168.1.1/24",
        &nodes,
        "0.0.0.0:179",
        &[],
        "172.16.10.0/32",
    );
    check(&l, "172.16.10.0/32", &nodes, 2);
}

/// IPv6 sessions, MP_REACH_NLRI with IPv6 next hops (`--ipv6`): one IPv6 kernel route with
/// three next hops.
#[test]
fn collector_fib_installs_ipv6_next_hops() {
    if !require() {
        return;
    }
    let l = lab(
        "fd00:1::1/64",
        &V6_NODES,
        "[::]:179",
        &["--ipv6"],
        "2001:db8:10::/64",
    );
    check(&l, "2001:db8:10::/64", &V6_NODES, 1);
}
