//! The reference scenario over IPv6: six nodes with IPv6 iBGP sessions to FRR each announce
//! the /128 service address fd00:10::1; FRR installs one kernel route with six IPv6 next
//! hops. The same sessions also carry 172.16.10.0/32 with an IPv6 next hop (RFC 8950
//! extended next hop), which FRR accepts as six paths.
//!
//! Needs root, FRR, tcpdump and tshark; skips otherwise.

mod scenario_common;

use std::time::{Duration, Instant};

use scenario_common::*;
use testlab::{Capture, Frr, wait_until};

const SERVICE6: &str = "fd00:10::1/128";
const SERVICE4: &str = "172.16.10.0/32";
const NODES: [&str; 6] = [
    "fd00:1::10",
    "fd00:1::21",
    "fd00:1::22",
    "fd00:1::23",
    "fd00:1::24",
    "fd00:1::25",
];

#[test]
fn six_ipv6_sessions_six_ipv6_next_hops() {
    if !lab_available() {
        return;
    }
    let neighbors: Vec<(&str, u32)> = NODES.iter().map(|a| (*a, 64512)).collect();
    let mut conf = Frr::config(64512, "192.168.1.1", &neighbors);
    for a in NODES {
        conf.push_str(&format!(" neighbor {a} capability extended-nexthop\n"));
    }
    conf.push_str(" address-family ipv6 unicast\n");
    for a in NODES {
        conf.push_str(&format!("  neighbor {a} activate\n"));
    }
    conf.push_str(" exit-address-family\n");
    let node_addrs: Vec<(String, &str)> = NODES.iter().map(|a| (format!("{a}/64"), *a)).collect();
    let node_refs: Vec<(&str, &str)> = node_addrs.iter().map(|(x, a)| (x.as_str(), *a)).collect();
    let mut lab = Lab::new("fd00:1::1/64", &node_refs, &conf);
    let mut cap = Capture::start(&lab.router, "eth0", None).unwrap();
    for (i, n) in lab.nodes.iter().enumerate() {
        n.ns.add_addr("lo", "fd00:10::1/128").unwrap();
        n.write_config(&format!(
            r#"local-as = 64512
router-id = "10.255.0.{}"
peer = ["fd00:1::1"]
peer-as = 64512
hold-time = 9
keepalive = 3
connect-retry = 1
prefix = ["{SERVICE4}"]
[[service]]
name = "web6"
ip = "fd00:10::1"
"#,
            i + 1
        ));
    }
    let t0 = Instant::now();
    for n in lab.nodes.iter_mut() {
        n.start(&["--json"]);
    }
    let bgp6 = wait_until(T, || lab.frr.path_count(SERVICE6) == 6).then(|| t0.elapsed());
    let six = wait_gateways(&lab.frr, SERVICE6, 6, T).map(|_| t0.elapsed());
    for n in &lab.nodes {
        eprintln!("DEBUG {}: {}", n.addr, n.log());
    }
    assert!(
        six.is_some(),
        "no 6 IPv6 next hops: {:?} / {}",
        gateways(&lab.frr, SERVICE6),
        lab.frr.route_json(SERVICE6).unwrap_or_default()
    );
    eprintln!(
        "MEASURED: IPv6 announce start -> six paths in FRR's BGP table {:?}, -> six kernel next hops {:?}",
        bgp6,
        six.unwrap()
    );
    let mut want: Vec<String> = NODES.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(gateways(&lab.frr, SERVICE6), want);
    assert!(
        wait_until(T, || lab.frr.path_count(SERVICE4) == 6),
        "IPv4 over IPv6 (RFC 8950): {}",
        lab.frr.route_json(SERVICE4).unwrap_or_default()
    );

    for n in &lab.nodes {
        n.signal("TERM");
    }
    assert!(wait_until(T, || gateways(&lab.frr, SERVICE6).is_empty()));
    for n in &lab.nodes {
        let st = n.ns.wait_exit(n.pid.unwrap(), Duration::from_secs(15));
        assert!(st.is_some_and(|s| s.success()), "exit: {st:?}");
    }
    cap.stop().unwrap();
    assert_eq!(cap.malformed_count().unwrap(), 0);
}
