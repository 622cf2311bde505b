//! GoBGP's BMP client reports a real eBGP session to our station (`examples/bmp-station`) in
//! network namespaces: peer up, pre-policy, post-policy and Loc-RIB routes with the attributes
//! GoBGP itself shows, a withdrawal, peer down.
//!
//! ```text
//!  GoBGP AS 65002 ── 10.0.0.0/24 ── GoBGP AS 65001 ── 10.0.1.0/24 ── station
//!   (pe, feeder)                     (rt, bmp)                         (mon)
//! ```

use std::time::Duration;

mod common;

use common::{attr, lines, routes_for, station_bin, withdrawn};
use testlab::{Gobgp, Netns, link, require_root_and, wait_until};

#[test]
fn gobgp_bmp_reports_a_live_session_to_our_station() {
    if !require_root_and(&["gobgpd", "gobgp", "bgpdump"]) {
        return;
    }
    let rt = Netns::new("gbrt").unwrap();
    let pe = Netns::new("gbpe").unwrap();
    let mon = Netns::new("gbmon").unwrap();
    let _l1 = link(&rt, "10.0.0.1/24", &pe, "10.0.0.2/24").unwrap();
    let _l2 = link(&rt, "10.0.1.1/24", &mon, "10.0.1.2/24").unwrap();

    let dir = testlab::TempDir::new("bmpgb").unwrap();
    let log = dir.path().join("station.jsonl");
    let mrt = dir.path().join("updates.mrt");
    let bin = station_bin();
    let _station = mon
        .spawn_args(
            &[
                bin.to_str().unwrap(),
                "--listen",
                "10.0.1.2:11019",
                "--mrt",
                mrt.to_str().unwrap(),
            ],
            Some(&log),
        )
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || lines(&log)
        .iter()
        .any(|l| l["type"] == "listening")));

    let mut conf = Gobgp::config(65001, "10.0.0.1", &[("10.0.0.2", 65002)]);
    conf.push_str(
        "\n[[bmp-servers]]\n  [bmp-servers.config]\n    address = \"10.0.1.2\"\n    \
         port = 11019\n    route-monitoring-policy = \"all\"\n",
    );
    let router = Gobgp::start(&rt, &conf).unwrap();
    let feeder = Gobgp::start(
        &pe,
        &Gobgp::config(65002, "10.0.0.2", &[("10.0.0.1", 65001)]),
    )
    .unwrap();
    router
        .wait_established("10.0.0.2", Duration::from_secs(30))
        .unwrap();
    feeder
        .gobgp(&[
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
    feeder.add_route("198.51.100.0/24", "10.0.0.2").unwrap();

    let ok = wait_until(Duration::from_secs(20), || {
        let ls = lines(&log);
        ls.iter().any(|l| l["type"] == "initiation")
            && ls
                .iter()
                .any(|l| l["type"] == "peer_up" && l["peer"] == "10.0.0.2")
            && !routes_for(&ls, "203.0.113.0/24", "adj-rib-in", false).is_empty()
            && !routes_for(&ls, "203.0.113.0/24", "adj-rib-in", true).is_empty()
            && !routes_for(&ls, "203.0.113.0/24", "loc-rib", false).is_empty()
            && !routes_for(&ls, "198.51.100.0/24", "adj-rib-in", false).is_empty()
    });
    assert!(
        ok,
        "station output:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let ls = lines(&log);
    let up = ls
        .iter()
        .find(|l| l["type"] == "peer_up" && l["peer"] == "10.0.0.2")
        .unwrap();
    assert_eq!(up["peer_as"], 65002, "{up}");
    assert_eq!(up["received_open"]["bgp_id"], "10.0.0.2", "{up}");
    assert_eq!(up["sent_open"]["bgp_id"], "10.0.0.1", "{up}");

    // What the station decoded equals what GoBGP's RIB holds for the route.
    let rib = router.rib_json("ipv4").unwrap();
    let shown = rib["203.0.113.0/24"][0]["attrs"].to_string();
    let route = routes_for(&ls, "203.0.113.0/24", "adj-rib-in", false)[0];
    assert_eq!(
        attr(route, "AsPath")["segments"][0]["asns"],
        serde_json::json!([65002]),
        "{route}"
    );
    assert!(shown.contains("65002"), "{shown}");
    assert_eq!(attr(route, "MultiExitDisc"), 42, "{route}");
    assert!(shown.contains("\"metric\":42"), "{shown}");
    assert_eq!(
        *attr(route, "Communities"),
        serde_json::json!([(65002u64 << 16) | 7]),
        "{route}"
    );
    assert!(
        shown.contains(&((65002u64 << 16) | 7).to_string()),
        "{shown}"
    );
    assert_eq!(attr(route, "NextHop"), "10.0.0.2", "{route}");
    assert_eq!(route["verdict_clean"], true);

    feeder.del_route("198.51.100.0/24").unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || withdrawn(
            &lines(&log),
            "198.51.100.0/24"
        )),
        "no withdrawal:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    drop(feeder);
    assert!(
        wait_until(Duration::from_secs(15), || lines(&log)
            .iter()
            .any(|l| l["type"] == "peer_down" && l["peer"] == "10.0.0.2")),
        "no peer down:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    // The station's MRT update log, read by bgpdump (an independent MRT reader): the session
    // coming up and going down, the announcements with their attributes, the withdrawal.
    let out = std::process::Command::new("bgpdump")
        .arg("-m")
        .arg(&mrt)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let fields: Vec<Vec<&str>> = text.lines().map(|l| l.split('|').collect()).collect();
    let announced = fields
        .iter()
        .find(|f| f.len() > 11 && f[2] == "A" && f[5] == "203.0.113.0/24")
        .unwrap_or_else(|| panic!("no announcement in bgpdump output:\n{text}"));
    assert_eq!(announced[0], "BGP4MP_ET", "{text}");
    assert_eq!(&announced[3..5], ["10.0.0.2", "65002"], "{text}");
    assert_eq!(announced[6], "65002", "{text}");
    assert_eq!(announced[7], "IGP", "{text}");
    assert_eq!(announced[8], "10.0.0.2", "{text}");
    assert_eq!(announced[10], "42", "{text}");
    assert_eq!(announced[11], "65002:7", "{text}");
    assert!(
        fields
            .iter()
            .any(|f| f.len() > 5 && f[2] == "W" && f[5] == "198.51.100.0/24"),
        "no withdrawal in bgpdump output:\n{text}"
    );
    let states: Vec<&Vec<&str>> = fields
        .iter()
        .filter(|f| f.len() > 2 && f[2] == "STATE")
        .collect();
    assert!(states.len() >= 2, "no state changes:\n{text}");
}
