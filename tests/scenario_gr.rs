//! Graceful Restart (RFC 4724) with FRR as helper: node .10 runs `announce` with
//! `graceful-restart = 30`, node .21 without. Both exit for a restart (SIGUSR2: no withdrawal,
//! no NOTIFICATION). FRR keeps .10's route (stale) in the kernel the whole time .10 is gone
//! and comes back, and drops .21's at once. The restarted .10 refreshes its route and sends
//! End-of-RIB, which clears the stale mark; a clean exit (SIGTERM) still withdraws.
//!
//! Needs root, FRR, tcpdump and tshark; skips otherwise.

mod scenario_common;

use std::time::{Duration, Instant};

use scenario_common::*;
use testlab::{Frr, wait_until};

const GR_PREFIX: &str = "172.16.10.0/32";
const PLAIN_PREFIX: &str = "172.16.10.1/32";

fn stale(frr: &Frr, prefix: &str) -> Option<bool> {
    let p = paths(frr, prefix);
    let first = p.first()?;
    Some(
        first
            .get("stale")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
    )
}

#[test]
fn graceful_restart_keeps_the_route_while_announce_restarts() {
    if !lab_available() {
        return;
    }
    let conf = Frr::config(
        64512,
        "192.168.1.1",
        &[("192.168.1.10", 64512), ("192.168.1.21", 64512)],
    );
    let mut lab = Lab::new(
        "192.168.1.1/24",
        &[
            ("192.168.1.10/24", "192.168.1.10"),
            ("192.168.1.21/24", "192.168.1.21"),
        ],
        &conf,
    );
    let base = "local-as = 64512\npeer = [\"192.168.1.1\"]\npeer-as = 64512\nhold-time = 9\n\
                keepalive = 3\nconnect-retry = 1\n";
    lab.nodes[0].write_config(&format!(
        "{base}graceful-restart = 30\nprefix = [\"{GR_PREFIX}\"]\n"
    ));
    lab.nodes[1].write_config(&format!("{base}prefix = [\"{PLAIN_PREFIX}\"]\n"));
    for n in lab.nodes.iter_mut() {
        n.start(&["--json"]);
    }
    lab.frr.wait_established("192.168.1.10", T).unwrap();
    lab.frr.wait_established("192.168.1.21", T).unwrap();
    assert!(wait_gateways(&lab.frr, GR_PREFIX, 1, T).is_some());
    assert!(wait_gateways(&lab.frr, PLAIN_PREFIX, 1, T).is_some());
    let nb = lab.frr.neighbor("192.168.1.10").unwrap();
    assert_eq!(
        nb["neighborCapabilities"]["gracefulRestart"], "advertisedAndReceived",
        "{nb}"
    );

    // Both exit for a restart.
    for n in &lab.nodes {
        n.signal("USR2");
        let st = n.ns.wait_exit(n.pid.unwrap(), Duration::from_secs(5));
        assert!(st.is_some_and(|s| s.success()), "exit: {st:?}");
    }
    let t0 = Instant::now();
    assert!(
        wait_until(Duration::from_secs(5), || gateways(&lab.frr, PLAIN_PREFIX)
            .is_empty()),
        "the route of the node without graceful restart stayed"
    );
    println!("without GR: route gone {:?} after the exit", t0.elapsed());
    assert!(
        wait_until(Duration::from_secs(5), || stale(&lab.frr, GR_PREFIX)
            == Some(true)),
        "FRR did not mark the route stale: {:?}",
        paths(&lab.frr, GR_PREFIX)
    );
    // Gone for 3 s: the kernel route stays, sampled every 50 ms.
    let down_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < down_until {
        assert_eq!(
            gateways(&lab.frr, GR_PREFIX).len(),
            1,
            "route lost while the node restarts"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Back: the session comes up, the route is refreshed and End-of-RIB clears the stale mark,
    // with the kernel route present throughout.
    lab.nodes[0].start(&["--json"]);
    let restarted = Instant::now();
    let mut cleared = false;
    while restarted.elapsed() < Duration::from_secs(20) {
        assert_eq!(
            gateways(&lab.frr, GR_PREFIX).len(),
            1,
            "route lost while the node restarts"
        );
        if lab.frr.neighbor_state("192.168.1.10").as_deref() == Some("Established")
            && stale(&lab.frr, GR_PREFIX) == Some(false)
        {
            cleared = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        cleared,
        "stale mark not cleared after the restart: {:?}; {}",
        paths(&lab.frr, GR_PREFIX),
        lab.nodes[0].log()
    );
    println!(
        "with GR: re-established and refreshed {:?} after the restart",
        restarted.elapsed()
    );

    // A clean exit still withdraws.
    lab.nodes[0].signal("TERM");
    let st = lab.nodes[0]
        .ns
        .wait_exit(lab.nodes[0].pid.unwrap(), Duration::from_secs(15));
    assert!(st.is_some_and(|s| s.success()), "exit: {st:?}");
    assert!(
        wait_until(Duration::from_secs(5), || gateways(&lab.frr, GR_PREFIX)
            .is_empty()),
        "SIGTERM with graceful-restart did not withdraw"
    );
}
