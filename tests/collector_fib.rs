//! `collector --fib` as the router of the reference scenario: six GoBGP nodes (iBGP AS 64512)
//! announce 172.16.10.0/32 and the kernel route in the collector's namespace gets six next
//! hops (proto bgp). Needs root, gobgpd and gobgp; skips otherwise.

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

#[test]
fn collector_fib_installs_six_next_hops() {
    if !require_root_and(&["ip", "gobgpd", "gobgp"]) {
        return;
    }
    if common::collector_bin().is_none() {
        panic!("examples/collector not built (cargo test builds examples)");
    }
    let mut br = Bridge::new("cfb").unwrap();
    let rt = Netns::new("cfr").unwrap();
    br.attach(&rt, "eth0", "192.168.1.1/24").unwrap();
    let mut speakers = Vec::new();
    let mut nss = Vec::new();
    for addr in NODES {
        let ns = Netns::new("cfn").unwrap();
        br.attach(&ns, "eth0", &format!("{addr}/24")).unwrap();
        let conf = Gobgp::config(64512, addr, &[("192.168.1.1", 64512)]);
        let gb = Gobgp::start(&ns, &conf).unwrap();
        nss.push(ns);
        speakers.push(gb);
    }
    let mut args = vec![
        "--local-as",
        "64512",
        "--router-id",
        "192.168.1.1",
        "--listen",
        "0.0.0.0:179",
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
    for a in NODES {
        args.push("--peer");
        args.push(a);
    }
    let coll = common::Collector::start(&rt, &args).unwrap();
    for (gb, addr) in speakers.iter().zip(NODES) {
        gb.add_route("172.16.10.0/32", addr).unwrap();
    }
    let ok = wait_until(Duration::from_secs(40), || {
        rt.route_nexthops("172.16.10.0/32")
            .map(|n| n.len())
            .unwrap_or(0)
            == 6
    });
    let routes = rt.routes("172.16.10.0/32").unwrap_or_default();
    assert!(
        ok,
        "kernel route: {routes:?}; sessions up {}; collector said: {:?}",
        coll.established(),
        coll.lines()
    );
    assert_eq!(routes[0].protocol.as_deref(), Some("bgp"));
    let mut gws: Vec<String> = routes[0]
        .nexthops
        .iter()
        .filter_map(|n| n.gateway.map(|g| g.to_string()))
        .collect();
    gws.sort();
    let mut want: Vec<String> = NODES.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(gws, want);
    let r = &coll.routes()["172.16.10.0/32"];
    assert_eq!(r["nexthops"].as_array().map(|a| a.len()), Some(6));
    // One node withdraws: five next hops remain.
    speakers[2].del_route("172.16.10.0/32").unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || {
            rt.route_nexthops("172.16.10.0/32")
                .map(|n| n.len())
                .unwrap_or(0)
                == 5
        }),
        "after a withdrawal: {:?}",
        rt.routes("172.16.10.0/32")
    );
    drop(coll);
}
