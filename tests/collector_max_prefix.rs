//! `collector --max-prefix N` against FRR announcing 12 prefixes over eBGP: with N = 12 every
//! route is taken; with N = 10 the collector ends the session with Cease 6/1 carrying the
//! family and the limit (RFC 4486 §4, checked in a capture with tshark and in FRR's view of
//! the neighbour), drops FRR's routes, and retries the peer after its IdleHoldTime (which
//! trips the limit again). Needs root, FRR, tcpdump and tshark; skips otherwise.

#[path = "collector_common.rs"]
mod common;

use std::time::Duration;

use testlab::{Frr, Netns, link, require_root_and, wait_until};

const PREFIXES: usize = 12;

fn frr_conf() -> String {
    let mut c = Frr::config(65001, "10.0.0.2", &[("10.0.0.1", 64512)]);
    c.push_str(" address-family ipv4 unicast\n");
    for i in 0..PREFIXES {
        c.push_str(&format!("  network 10.9.{i}.0/24\n"));
    }
    c.push_str(" exit-address-family\n");
    c
}

fn collector(ns: &Netns, limit: &str) -> common::Collector {
    common::Collector::start(
        ns,
        &[
            "--local-as",
            "64512",
            "--router-id",
            "10.0.0.1",
            "--listen",
            "0.0.0.0:179",
            "--peer",
            "10.0.0.2",
            "--peer-as",
            "65001",
            "--hold-time",
            "9",
            "--connect-retry",
            "1",
            "--max-prefix",
            limit,
        ],
    )
    .unwrap()
}

fn max_prefix_events(c: &common::Collector) -> Vec<serde_json::Value> {
    c.lines()
        .into_iter()
        .filter(|v| v["event"] == "max_prefix")
        .collect()
}

#[test]
fn collector_max_prefix_ends_the_session_with_cease_6_1() {
    if !require_root_and(&[
        "ip",
        "vtysh",
        "/usr/lib/frr/bgpd",
        "/usr/lib/frr/zebra",
        "tcpdump",
        "tshark",
    ]) {
        return;
    }
    assert!(
        common::collector_bin().is_some(),
        "examples/collector not built"
    );
    let coll_ns = Netns::new("mpc").unwrap();
    let frr_ns = Netns::new("mpf").unwrap();
    let veth = link(&coll_ns, "10.0.0.1/24", &frr_ns, "10.0.0.2/24").unwrap();
    let frr = Frr::start(&frr_ns, &frr_conf()).unwrap();

    // At the limit: every route is taken, the session stays up.
    {
        let c = collector(&coll_ns, "12");
        assert!(
            wait_until(Duration::from_secs(30), || c.routes().len() == PREFIXES),
            "routes never arrived: {:?}",
            c.lines()
        );
        std::thread::sleep(Duration::from_secs(2));
        assert!(max_prefix_events(&c).is_empty(), "{:?}", c.lines());
        assert_eq!(c.established(), 1);
        assert_eq!(c.routes().len(), PREFIXES);
    }
    // The collector is gone (stopped by PID on drop); FRR sees the session drop.
    assert!(wait_until(Duration::from_secs(15), || frr
        .neighbor_state("10.0.0.1")
        .is_some_and(|s| s != "Established")));

    // Over the limit: Cease 6/1 with AFI 1, SAFI 1, limit 10.
    let mut cap = testlab::Capture::start(&coll_ns, veth.a_if(), None).unwrap();
    let c = collector(&coll_ns, "10");
    assert!(
        wait_until(Duration::from_secs(30), || !max_prefix_events(&c)
            .is_empty()),
        "no max_prefix event: {:?}",
        c.lines()
    );
    let ev = &max_prefix_events(&c)[0];
    assert_eq!(ev["family"], "1/1");
    assert_eq!(ev["limit"], 10);
    assert!(ev["count"].as_u64().unwrap() > 10, "{ev}");
    assert!(
        wait_until(Duration::from_secs(10), || frr
            .neighbor("10.0.0.1")
            .map(|n| n.to_string().contains("Maximum Number of Prefixes Reached"))
            .unwrap_or(false)),
        "FRR did not record our Cease: {}",
        frr.neighbor("10.0.0.1").unwrap()
    );
    // The routes we had taken before the limit went are withdrawn again.
    assert!(
        wait_until(Duration::from_secs(5), || c.routes().is_empty()),
        "routes left after the Cease: {:?}",
        c.routes().keys().collect::<Vec<_>>()
    );
    let down = c
        .lines()
        .into_iter()
        .find(|v| v["type"] == "session" && v["state"] == "down")
        .expect("a session-down line");
    assert!(
        down["reason"].as_str().unwrap().contains("AutomaticStop"),
        "{down}"
    );
    // The peer is retried after the IdleHoldTime, comes back and trips the limit again.
    assert!(
        wait_until(Duration::from_secs(20), || max_prefix_events(&c).len() >= 2),
        "the peer was not retried: {:?}",
        c.lines()
    );
    drop(c);
    std::thread::sleep(Duration::from_millis(300));
    cap.stop().unwrap();
    let notes = cap
        .fields(
            "ip.src==10.0.0.1 && bgp.type==3",
            &[
                "bgp.notify.major_error",
                "bgp.notify.minor_error_cease",
                "bgp.notify.minor_data",
            ],
        )
        .unwrap();
    let f = notes.first().cloned().unwrap_or_default();
    assert_eq!(
        f.first().map(String::as_str),
        Some("6"),
        "first NOTIFICATION we sent: {notes:?}"
    );
    assert_eq!(f.get(1).map(String::as_str), Some("1"), "{notes:?}");
    assert_eq!(
        f.get(2).map(|d| d.replace(':', "")),
        Some("0001010000000a".to_string()),
        "{notes:?}"
    );
    assert_eq!(cap.malformed_count().unwrap(), 0);
}
