//! FRR's BMP module (`bgpd -M bmp`) reports a real eBGP session to our station
//! (`examples/bmp-station`) in network namespaces: peer up, pre- and post-policy routes with
//! the attributes FRR itself shows, a withdrawal, peer down. tshark reads the same BMP
//! session independently.
//!
//! ```text
//!  GoBGP AS 65002 ── 10.0.0.0/24 ── FRR AS 65001 ── 10.0.1.0/24 ── station
//!   (pe)                             (rt, bmp)                       (mon)
//! ```

use std::time::Duration;

mod common;

use common::{attr, lines, routes_for, station_bin, withdrawn};
use testlab::{Capture, Frr, Gobgp, Netns, link, require_root_and, wait_until};

#[test]
fn frr_bmp_reports_a_live_session_to_our_station() {
    if !require_root_and(&[
        "/usr/lib/frr/bgpd",
        "/usr/lib/frr/zebra",
        "vtysh",
        "gobgpd",
        "gobgp",
        "tshark",
        "tcpdump",
    ]) {
        return;
    }
    let rt = Netns::new("bmprt").unwrap();
    let pe = Netns::new("bmppe").unwrap();
    let mon = Netns::new("bmpmon").unwrap();
    let _l1 = link(&rt, "10.0.0.1/24", &pe, "10.0.0.2/24").unwrap();
    let l2 = link(&rt, "10.0.1.1/24", &mon, "10.0.1.2/24").unwrap();

    let dir = testlab::TempDir::new("bmp").unwrap();
    let log = dir.path().join("station.jsonl");
    let bin = station_bin();
    let _station = mon
        .spawn_args(
            &[bin.to_str().unwrap(), "--listen", "10.0.1.2:11019"],
            Some(&log),
        )
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || lines(&log)
            .iter()
            .any(|l| l["type"] == "listening")),
        "station did not start: {:?}",
        std::fs::read_to_string(&log)
    );
    let mut cap = Capture::start(&mon, l2.b_if(), None).unwrap();

    let mut conf = Frr::config(65001, "10.0.0.1", &[("10.0.0.2", 65002)]);
    // Pre-policy monitoring needs the received routes kept (FRR sends withdrawals otherwise).
    conf.push_str(" neighbor 10.0.0.2 soft-reconfiguration inbound\n");
    conf.push_str(
        " bmp targets station\n  bmp monitor ipv4 unicast pre-policy\n  \
         bmp monitor ipv4 unicast post-policy\n  bmp connect 10.0.1.2 port 11019 \
         min-retry 100 max-retry 1000\n exit\n",
    );
    let frr = Frr::start_with_args(&rt, &conf, Frr::DEFAULT_ZEBRA_CONF, &["-M", "bmp"]).unwrap();
    let gb = Gobgp::start(
        &pe,
        &Gobgp::config(65002, "10.0.0.2", &[("10.0.0.1", 65001)]),
    )
    .unwrap();
    frr.wait_established("10.0.0.2", Duration::from_secs(30))
        .unwrap();
    gb.gobgp(&[
        "global",
        "rib",
        "add",
        "203.0.113.0/24",
        "nexthop",
        "10.0.0.2",
        "origin",
        "igp",
        "community",
        "65002:7",
        "med",
        "42",
    ])
    .unwrap();
    gb.add_route("198.51.100.0/24", "10.0.0.2").unwrap();

    // The station sees the session come up, with FRR's and GoBGP's OPENs.
    assert!(
        wait_until(Duration::from_secs(20), || {
            let ls = lines(&log);
            ls.iter().any(|l| l["type"] == "initiation")
                && ls
                    .iter()
                    .any(|l| l["type"] == "peer_up" && l["peer"] == "10.0.0.2")
                && !routes_for(&ls, "203.0.113.0/24", "adj-rib-in", false).is_empty()
                && !routes_for(&ls, "203.0.113.0/24", "adj-rib-in", true).is_empty()
                && !routes_for(&ls, "198.51.100.0/24", "adj-rib-in", false).is_empty()
        }),
        "station output:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let ls = lines(&log);
    let up = ls
        .iter()
        .find(|l| l["type"] == "peer_up" && l["peer"] == "10.0.0.2")
        .unwrap();
    assert_eq!(up["peer_as"], 65002);
    assert_eq!(up["peer_bgp_id"], "10.0.0.2");
    assert_eq!(up["local_address"], "10.0.0.1");
    // One side of the BGP session is port 179, whichever connected first.
    assert!(up["local_port"] == 179 || up["remote_port"] == 179, "{up}");
    assert_eq!(up["received_open"]["bgp_id"], "10.0.0.2");
    assert_eq!(up["sent_open"]["bgp_id"], "10.0.0.1");
    let init = ls.iter().find(|l| l["type"] == "initiation").unwrap();
    assert!(
        init["sys_descr"]
            .as_str()
            .is_some_and(|s| s.contains("FRR")),
        "{init}"
    );

    // The attributes the station decoded are the ones FRR shows for the route.
    let shown = frr.route_json("203.0.113.0/24").unwrap();
    let path = &shown["paths"][0];
    let route = routes_for(&ls, "203.0.113.0/24", "adj-rib-in", false)[0];
    let attrs = serde_json::to_string(&route["attributes"]).unwrap();
    assert_eq!(path["aspath"]["string"], "65002", "{shown}");
    // FRR up to 10.x encodes BMP route monitoring with its outbound attribute writer, which
    // prepends its own AS for an eBGP peer (FRR pull request 21815 fixed it upstream in 2026;
    // Debian's 8.4 has the bug). So the path FRR puts on the wire is 65001 + what it shows.
    assert_eq!(
        attr(route, "AsPath")["segments"][0]["asns"],
        serde_json::json!([65001, 65002]),
        "{attrs}"
    );
    assert_eq!(path["metric"], 42, "{shown}");
    assert_eq!(attr(route, "MultiExitDisc"), 42, "{attrs}");
    assert_eq!(path["community"]["string"], "65002:7", "{shown}");
    // 65002:7 as one 32-bit community value.
    assert_eq!(
        *attr(route, "Communities"),
        serde_json::json!([(65002u64 << 16) | 7]),
        "{attrs}"
    );
    assert_eq!(path["origin"], "IGP", "{shown}");
    assert_eq!(attr(route, "Origin"), "Igp", "{attrs}");
    assert_eq!(path["nexthops"][0]["ip"], "10.0.0.2", "{shown}");
    assert_eq!(attr(route, "NextHop"), "10.0.0.2", "{attrs}");
    assert_eq!(route["peer_as"], 65002);
    // Post-policy routes carry the same (prepended) path.
    let post = routes_for(&ls, "203.0.113.0/24", "adj-rib-in", true)[0];
    let post_path = &attr(post, "AsPath")["segments"][0]["asns"];
    assert_eq!(
        post_path.as_array().unwrap().last().unwrap(),
        65002,
        "{post}"
    );
    assert_eq!(route["known_peer"], true);
    assert_eq!(route["verdict_clean"], true);

    // A withdrawal reaches the station.
    gb.del_route("198.51.100.0/24").unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || withdrawn(
            &lines(&log),
            "198.51.100.0/24"
        )),
        "no withdrawal:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    // The session ends: peer down.
    drop(gb);
    assert!(
        wait_until(Duration::from_secs(15), || lines(&log)
            .iter()
            .any(|l| l["type"] == "peer_down" && l["peer"] == "10.0.0.2")),
        "no peer down:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    // tshark decodes the same BMP stream: the same message types, nothing malformed.
    std::thread::sleep(Duration::from_millis(300));
    cap.stop().unwrap();
    let types = cap.bmp_types(11019).unwrap();
    for t in [0, 2, 3, 4] {
        assert!(types.contains(&t), "tshark saw BMP types {types:?}");
    }
    let bad = cap.bmp_malformed(11019, None).unwrap();
    assert!(bad.is_empty(), "tshark found malformed packets:\n{bad:#?}");
}
