//! `examples/router --config` between two FRR instances in network namespaces, reloaded with
//! SIGHUP: FRR A (AS 65001) announces 10.9.0-3.0/24; the router's import policy first takes
//! only 10.9.0.0/24 and 10.9.1.0/24. The first reload widens it to all four and adds FRR B
//! (AS 65002) as a neighbour with an export policy setting MED 77: B comes up and receives all
//! four prefixes with MED 77. A is configured without soft reconfiguration, so the router asks
//! it for its routes again (ROUTE-REFRESH, counted by FRR) instead of re-running the policy
//! over a kept copy (that path is tests/router_config.rs). The second reload changes B's export MED to 88: B sees
//! 88 on every prefix. FRR's own view shows neither session flapped (one established
//! connection, none dropped). Every neighbour has explicit import and export policies (RFC
//! 8212). Needs root and FRR; fails under CI=true without them.

use std::process::Stdio;
use std::time::Duration;

use testlab::{Frr, Netns, TempDir, link, require_root_and, wait_until};

#[path = "router_common.rs"]
mod router_common;
use router_common::router_bin;

const PREFIXES: [&str; 4] = ["10.9.0.0/24", "10.9.1.0/24", "10.9.2.0/24", "10.9.3.0/24"];

fn file(second: bool, med: u32) -> String {
    let mut s = String::from(
        r#"
[[neighbor]]
address = "10.0.0.2"
remote-as = 65001
connect-retry = 1
hold-time = 9
import = "from-a"
export = "all"
soft-reconfiguration = false

[[policy.all]]
action = "accept"
"#,
    );
    if second {
        s.push_str(&format!(
            r#"
[[neighbor]]
address = "10.0.1.2"
remote-as = 65002
connect-retry = 1
hold-time = 9
import = "all"
export = "to-b"

[[policy.to-b]]
set = {{ med = {med} }}

[[policy.from-a]]
match = {{ prefix = ["10.9.0.0/16 le 24"], origin-as = 65001 }}
"#
        ));
    } else {
        s.push_str(
            r#"
[[policy.from-a]]
match = { prefix = ["10.9.0.0/24", "10.9.1.0/24"] }
"#,
        );
    }
    s
}

fn med_at(frr: &Frr, prefix: &str) -> Option<u64> {
    let v = frr.route_json(prefix).ok()?;
    v["paths"].as_array()?.first()?["metric"].as_u64()
}

fn connections(frr: &Frr, peer: &str) -> (u64, u64) {
    let n = frr.neighbor(peer).unwrap_or_default();
    (
        n["connectionsEstablished"].as_u64().unwrap_or(0),
        n["connectionsDropped"].as_u64().unwrap_or(0),
    )
}

#[test]
fn sighup_policy_change_and_new_neighbour_with_frr_without_a_flap() {
    if !require_root_and(&["ip", "vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra"]) {
        return;
    }
    let bin = router_bin();
    assert!(
        bin.is_file(),
        "build the examples first: cargo build --examples"
    );
    let r_ns = Netns::new("rlr").unwrap();
    let a_ns = Netns::new("rla").unwrap();
    let b_ns = Netns::new("rlb").unwrap();
    let _va = link(&r_ns, "10.0.0.1/24", &a_ns, "10.0.0.2/24").unwrap();
    let _vb = link(&r_ns, "10.0.1.1/24", &b_ns, "10.0.1.2/24").unwrap();
    let mut a_conf = Frr::config(65001, "10.0.0.2", &[("10.0.0.1", 64512)]);
    a_conf.push_str(" address-family ipv4 unicast\n");
    for p in PREFIXES {
        a_conf.push_str(&format!("  network {p}\n"));
    }
    a_conf.push_str(" exit-address-family\n");
    let frr_a = Frr::start(&a_ns, &a_conf).unwrap();
    let frr_b = Frr::start(
        &b_ns,
        &Frr::config(65002, "10.0.1.2", &[("10.0.1.1", 64512)]),
    )
    .unwrap();

    let dir = TempDir::new("rlr").unwrap();
    let conf = dir.path().join("router.toml");
    let sock = dir.path().join("router.sock");
    let out = dir.path().join("out.jsonl");
    std::fs::write(&conf, file(false, 0)).unwrap();
    let mut cmd = r_ns.command(&bin);
    cmd.args([
        "--local-as",
        "64512",
        "--router-id",
        "10.0.0.1",
        "--listen",
        "0.0.0.0:179",
    ])
    .arg("--config")
    .arg(&conf)
    .arg("--control")
    .arg(&sock)
    .stdin(Stdio::null())
    .stdout(std::fs::File::create(&out).unwrap())
    .stderr(std::fs::File::create(dir.path().join("err.log")).unwrap());
    let pid = r_ns.spawn(cmd).unwrap();

    frr_a
        .wait_established("10.0.0.1", Duration::from_secs(30))
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ctl = |req: serde_json::Value| {
        rt.block_on(kube_bgp::router::control::request(&sock, &req))
            .unwrap()
    };
    let accepted = |ctl: &dyn Fn(serde_json::Value) -> serde_json::Value| {
        ctl(serde_json::json!({"cmd": "neighbors"}))["neighbors"][0]["accepted"]
            .as_u64()
            .unwrap_or(0)
    };
    assert!(
        wait_until(Duration::from_secs(20), || accepted(&ctl) == 2),
        "{}",
        ctl(serde_json::json!({"cmd": "neighbors"}))
    );
    std::thread::sleep(Duration::from_secs(1));
    let n = ctl(serde_json::json!({"cmd": "neighbors"}));
    assert_eq!(
        n["neighbors"][0]["received"],
        serde_json::Value::Null,
        "not kept: {n}"
    );
    assert_eq!(n["neighbors"][0]["accepted"], 2, "{n}");
    assert_ne!(
        frr_b.neighbor_state("10.0.1.1").as_deref(),
        Some("Established")
    );

    // Reload 1: wider import policy, FRR B added with MED 77 on export.
    std::fs::write(&conf, file(true, 77)).unwrap();
    r_ns.signal(pid, "HUP").unwrap();
    frr_b
        .wait_established("10.0.1.1", Duration::from_secs(30))
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || PREFIXES
            .iter()
            .all(|p| med_at(&frr_b, p) == Some(77))),
        "B: {:?}",
        PREFIXES.map(|p| frr_b.route_json(p).ok())
    );
    // The route query names the best path and why.
    let r = ctl(serde_json::json!({"cmd": "route", "prefix": "10.9.3.0/24"}));
    assert_eq!(r["paths"][0]["peer"], "10.0.0.2", "{r}");
    assert_eq!(r["paths"][0]["why"], "best (only path)", "{r}");

    // Reload 2: B's export policy only.
    std::fs::write(&conf, file(true, 88)).unwrap();
    r_ns.signal(pid, "HUP").unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || PREFIXES
            .iter()
            .all(|p| med_at(&frr_b, p) == Some(88))),
        "B: {:?}",
        PREFIXES.map(|p| frr_b.route_json(p).ok())
    );
    std::thread::sleep(Duration::from_secs(1));

    // FRR A answered our ROUTE-REFRESH.
    let rr = frr_a.neighbor("10.0.0.1").unwrap()["messageStats"]["routeRefreshRecv"].as_u64();
    assert!(
        rr.is_some_and(|n| n >= 1),
        "{}",
        frr_a.neighbor("10.0.0.1").unwrap()
    );
    // No flap, in FRR's view and in ours.
    assert_eq!(
        connections(&frr_a, "10.0.0.1"),
        (1, 0),
        "{}",
        frr_a.neighbor("10.0.0.1").unwrap()
    );
    assert_eq!(
        connections(&frr_b, "10.0.1.1"),
        (1, 0),
        "{}",
        frr_b.neighbor("10.0.1.1").unwrap()
    );
    let n = ctl(serde_json::json!({"cmd": "neighbors"}));
    for i in 0..2 {
        assert_eq!(n["neighbors"][i]["established_count"], 1, "{n}");
        assert_eq!(n["neighbors"][i]["state"], "Established", "{n}");
    }
    assert_eq!(n["neighbors"][0]["accepted"], 4, "{n}");
    assert_eq!(n["neighbors"][1]["advertised"], 4, "{n}");
    let lines = std::fs::read_to_string(&out).unwrap();
    let reloads: Vec<serde_json::Value> = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "reload")
        .collect();
    assert_eq!(reloads.len(), 2, "{lines}");
    assert_eq!(reloads[0]["added"], 1);
    assert_eq!(reloads[0]["import_changed"], 1);
    assert_eq!(reloads[1]["export_changed"], 1);
    assert_eq!(reloads[1]["reset"], 0);
    let _ = r_ns.stop(pid);
}
