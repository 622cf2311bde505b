//! eBGP with FRR from a 4-octet AS, and a passive node.
//!
//! eBGP from a 4-octet AS: FRR (AS 64512) sees our path with AS_PATH
//! `4200000001 4200000001 4200000001` (one AS plus two prepends), the MED, our next hop,
//! and installs the route in its kernel table. `--no-listen`: only our side connects.
//!
//! Needs root, FRR, tcpdump and tshark; skips otherwise.

mod scenario_common;

use std::time::Duration;

use scenario_common::*;
use testlab::{Capture, Frr, wait_until};

#[test]
fn ebgp_four_octet_as_with_prepend_and_med() {
    if !lab_available() {
        return;
    }
    let conf = Frr::config(64512, "192.168.1.1", &[("192.168.1.10", 4_200_000_001)]);
    let mut lab = Lab::new(
        "192.168.1.1/24",
        &[("192.168.1.10/24", "192.168.1.10")],
        &conf,
    );
    let mut cap = Capture::start(&lab.router, "eth0", None).unwrap();
    lab.nodes[0].write_config(
        "local-as = 4200000001\npeer = [\"192.168.1.1\"]\npeer-as = 64512\nhold-time = 9\n\
         keepalive = 3\nconnect-retry = 1\nas-path-prepend = 2\nmed = 50\nlocal-pref = 300\n\
         no-listen = true\nprefix = [\"172.16.30.0/24\"]\n",
    );
    lab.nodes[0].start(&["--json"]);
    lab.frr.wait_established("192.168.1.10", T).unwrap();
    assert!(
        wait_until(T, || lab.frr.path_count("172.16.30.0/24") == 1),
        "no path: {}",
        lab.frr.route_json("172.16.30.0/24").unwrap_or_default()
    );
    let p = paths(&lab.frr, "172.16.30.0/24").remove(0);
    assert_eq!(
        p["aspath"]["string"].as_str(),
        Some("4200000001 4200000001 4200000001"),
        "{p}"
    );
    assert_eq!(p["metric"].as_u64(), Some(50), "{p}");
    // LOCAL_PREF is not sent to eBGP peers: FRR shows its default for the path.
    assert_ne!(p["locPrf"].as_u64(), Some(300), "{p}");
    assert!(p.to_string().contains("192.168.1.10"), "{p}");
    assert!(wait_gateways(&lab.frr, "172.16.30.0/24", 1, T).is_some());
    assert_eq!(gateways(&lab.frr, "172.16.30.0/24"), vec!["192.168.1.10"]);
    lab.nodes[0].signal("TERM");
    let st = lab.nodes[0]
        .ns
        .wait_exit(lab.nodes[0].pid.unwrap(), Duration::from_secs(15));
    assert!(st.is_some_and(|s| s.success()), "exit: {st:?}");
    assert!(wait_until(T, || lab.frr.path_count("172.16.30.0/24") == 0));
    cap.stop().unwrap();
    assert_eq!(cap.malformed_count().unwrap(), 0);
}

/// `--passive`: the node never connects out; FRR (connect retry 1 s) opens the session to
/// our listener and gets the route.
#[test]
fn passive_node_is_reached_by_frr() {
    if !lab_available() {
        return;
    }
    let conf = Frr::config(64512, "192.168.1.1", &[("192.168.1.21", 64512)]);
    let mut lab = Lab::new(
        "192.168.1.1/24",
        &[("192.168.1.21/24", "192.168.1.21")],
        &conf,
    );
    let mut cap = Capture::start(&lab.router, "eth0", None).unwrap();
    lab.nodes[0].write_config(
        "local-as = 64512\npeer = [\"192.168.1.1\"]\npeer-as = 64512\nhold-time = 9\n\
         keepalive = 3\npassive = true\nprefix = [\"172.16.40.0/32\"]\n",
    );
    lab.nodes[0].start(&["--json"]);
    lab.frr.wait_established("192.168.1.21", T).unwrap();
    assert!(wait_until(T, || lab.frr.path_count("172.16.40.0/32") == 1));
    lab.nodes[0].signal("TERM");
    let st = lab.nodes[0]
        .ns
        .wait_exit(lab.nodes[0].pid.unwrap(), Duration::from_secs(15));
    assert!(st.is_some_and(|s| s.success()), "exit: {st:?}");
    cap.stop().unwrap();
    // Every SYN of the session came from the router: we never connected out.
    let syns = cap
        .fields(
            "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == 179",
            &["ip.src"],
        )
        .unwrap();
    assert!(!syns.is_empty(), "no SYN captured");
    assert!(
        syns.iter().all(|r| r[0].trim() == "192.168.1.1"),
        "the passive node opened a connection: {syns:?}"
    );
}
