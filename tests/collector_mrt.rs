//! `collector --mrt-dump DIR --mrt-interval 1` with FRR announcing routes (community and MED
//! set by an outbound route-map): the snapshot (TABLE_DUMP_V2) and the update log
//! (BGP4MP_ET) it writes are read by bgpdump, whose lines carry FRR's prefixes, AS path,
//! next hop, MED and communities, and by bgp-mrt. Needs root, FRR and bgpdump.

#[path = "collector_common.rs"]
mod common;

use std::process::Command;
use std::time::Duration;

use testlab::{Frr, Netns, TempDir, link, require_root_and, wait_until};

const PREFIXES: usize = 6;

fn frr_conf() -> String {
    let mut c = Frr::config(65001, "10.0.0.2", &[("10.0.0.1", 64512)]);
    c.push_str(" address-family ipv4 unicast\n");
    for i in 0..PREFIXES {
        c.push_str(&format!("  network 10.9.{i}.0/24\n"));
    }
    c.push_str("  neighbor 10.0.0.1 route-map SET out\n exit-address-family\n!\n");
    c.push_str("route-map SET permit 10\n set community 65001:7 65001:8\n set metric 42\n!\n");
    c
}

fn bgpdump(path: &std::path::Path) -> Vec<String> {
    let o = Command::new("bgpdump")
        .arg("-m")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn files(dir: &std::path::Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p: &std::path::PathBuf| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
    });
    v.sort();
    v
}

#[test]
fn collector_mrt_dump_is_read_by_bgpdump() {
    if !require_root_and(&[
        "ip",
        "vtysh",
        "/usr/lib/frr/bgpd",
        "/usr/lib/frr/zebra",
        "bgpdump",
    ]) {
        return;
    }
    assert!(
        common::collector_bin().is_some(),
        "examples/collector not built"
    );
    let coll_ns = Netns::new("mrc").unwrap();
    let frr_ns = Netns::new("mrf").unwrap();
    let _veth = link(&coll_ns, "10.0.0.1/24", &frr_ns, "10.0.0.2/24").unwrap();
    let frr = Frr::start(&frr_ns, &frr_conf()).unwrap();
    let dir = TempDir::new("mrtdump").unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    let c = common::Collector::start(
        &coll_ns,
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
            "--mrt-dump",
            &d,
            "--mrt-interval",
            "1",
        ],
    )
    .unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || c.routes().len() == PREFIXES),
        "routes never arrived: {:?}",
        c.lines()
    );
    // FRR's own view of what it sends.
    let adv = frr
        .vtysh_json("show bgp ipv4 unicast neighbors 10.0.0.1 advertised-routes json")
        .unwrap();
    assert_eq!(
        adv["advertisedRoutes"].as_object().map(|o| o.len()),
        Some(PREFIXES),
        "{adv}"
    );

    // A snapshot taken after the routes arrived holds all of them.
    let mut snap = Vec::new();
    assert!(
        wait_until(Duration::from_secs(10), || {
            snap = files(dir.path(), "rib.")
                .last()
                .map(|f| bgpdump(f))
                .unwrap_or_default();
            snap.len() == PREFIXES
        }),
        "no complete snapshot: {snap:?}"
    );
    for i in 0..PREFIXES {
        let want = format!(
            "|B|10.0.0.2|65001|10.9.{i}.0/24|65001|IGP|10.0.0.2|0|42|65001:7 65001:8|NAG||"
        );
        assert!(
            snap.iter()
                .any(|l| l.starts_with("TABLE_DUMP2|") && l.ends_with(&want)),
            "{want} not in {snap:#?}"
        );
    }

    // The update logs: Established, then the announcements.
    let mut log = Vec::new();
    assert!(
        wait_until(Duration::from_secs(10), || {
            log = files(dir.path(), "updates.")
                .iter()
                .flat_map(|f| bgpdump(f))
                .collect();
            log.iter().filter(|l| l.contains("|A|")).count() >= PREFIXES
        }),
        "announcements not logged: {log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("BGP4MP_ET|") && l.ends_with("|STATE|10.0.0.2|65001|5|6")),
        "{log:#?}"
    );
    for i in 0..PREFIXES {
        let want = format!(
            "|A|10.0.0.2|65001|10.9.{i}.0/24|65001|IGP|10.0.0.2|0|42|65001:7 65001:8|NAG||"
        );
        assert!(
            log.iter().any(|l| l.ends_with(&want)),
            "{want} not in {log:#?}"
        );
    }
    // And bgp-mrt reads every record of every file.
    for f in files(dir.path(), "") {
        if f.extension().is_some_and(|e| e == "mrt") {
            for r in bgp_mrt::MrtReader::open(&f).unwrap() {
                r.unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            }
        }
    }
    drop(c);
}
