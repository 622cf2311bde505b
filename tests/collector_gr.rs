//! `collector --graceful-restart --fib`: a GoBGP peer that advertised graceful restart
//! (restart time 6 s) is killed with SIGKILL (no NOTIFICATION). The collector keeps its route,
//! marked stale, in the Loc-RIB and the kernel while the peer may restart, then sweeps it when
//! the restart time expires. Needs root, gobgpd and gobgp; skips otherwise.

#[path = "collector_common.rs"]
mod common;

use std::time::{Duration, Instant};

use testlab::{Bridge, Gobgp, Netns, require_root_and, wait_until};

const NODE: &str = "192.168.1.10";

fn gobgp_conf() -> String {
    format!(
        "[global.config]\n  as = 64512\n  router-id = \"{NODE}\"\n  port = 179\n\n\
         [[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"192.168.1.1\"\n    \
         peer-as = 64512\n  [neighbors.timers.config]\n    hold-time = 9\n    \
         keepalive-interval = 3\n    connect-retry = 1\n  \
         [neighbors.graceful-restart.config]\n    enabled = true\n    restart-time = 6\n  \
         [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      \
         afi-safi-name = \"ipv4-unicast\"\n    \
         [neighbors.afi-safis.mp-graceful-restart.config]\n      enabled = true\n"
    )
}

#[test]
fn collector_keeps_stale_routes_until_restart_time() {
    if !require_root_and(&["ip", "gobgpd", "gobgp", "kill"]) {
        return;
    }
    assert!(
        common::collector_bin().is_some(),
        "examples/collector not built"
    );
    let mut br = Bridge::new("grb").unwrap();
    let rt = Netns::new("grr").unwrap();
    br.attach(&rt, "eth0", "192.168.1.1/24").unwrap();
    let ns = Netns::new("grn").unwrap();
    br.attach(&ns, "eth0", &format!("{NODE}/24")).unwrap();
    let gb = Gobgp::start(&ns, &gobgp_conf()).unwrap();
    let coll = common::Collector::start(
        &rt,
        &[
            "--local-as",
            "64512",
            "--router-id",
            "192.168.1.1",
            "--listen",
            "0.0.0.0:179",
            "--peer",
            NODE,
            "--peer-as",
            "64512",
            "--hold-time",
            "9",
            "--connect-retry",
            "1",
            "--graceful-restart",
            "--fib",
        ],
    )
    .unwrap();
    gb.add_route("172.16.10.0/32", NODE).unwrap();
    let has_route = || {
        rt.route_nexthops("172.16.10.0/32")
            .map(|n| n.len())
            .unwrap_or(0)
            == 1
    };
    assert!(
        wait_until(Duration::from_secs(30), has_route),
        "route never installed: {:?}",
        coll.lines()
    );
    // SIGKILL by PID: the kernel closes the TCP session, no NOTIFICATION is sent.
    let killed = Instant::now();
    let st = std::process::Command::new("kill")
        .args(["-KILL", &gb.pid().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let down_gr = || {
        coll.lines().iter().any(|v| {
            v["type"] == "session" && v["state"] == "down" && v["graceful_restart"] == true
        })
    };
    assert!(
        wait_until(Duration::from_secs(15), down_gr),
        "no graceful-restart session down: {:?}",
        coll.lines()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        has_route(),
        "route removed at once despite graceful restart"
    );
    let r = &coll.routes()["172.16.10.0/32"];
    assert_eq!(
        r["best"]["stale"], false,
        "no stale change is printed (route unchanged)"
    );
    // Swept once the 6 s restart time has passed.
    assert!(
        wait_until(Duration::from_secs(15), || !has_route()),
        "stale route never swept: {:?}",
        coll.lines()
    );
    let gone = killed.elapsed();
    assert!(
        gone >= Duration::from_secs(5),
        "swept after {gone:?}, before the restart time"
    );
    assert!(!coll.routes().contains_key("172.16.10.0/32"));
    drop(coll);
    drop(gb);
}
