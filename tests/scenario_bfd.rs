//! `announce` with BFD against FRR (bgpd + bfdd, `neighbor X bfd profile lab`, 100 ms x 3).
//!
//! Asserts: the BFD session comes Up with our timers in FRR's `show bfd peers json`; FRR
//! holding its BFD side AdminDown does not touch the BGP session (RFC 5882 §3.2); freezing
//! FRR's bfdd alone (bgpd keeps running) makes our BFD go Down and our speaker end the BGP
//! session at once with Cease 6/10 "BFD Down" (RFC 9384), in well under the 9 s hold time;
//! after bfdd resumes, BFD and BGP come back and the route returns. The same over multihop
//! BFD (RFC 5883) to the router's loopback. A SIGHUP that changes only BFD timers reaches
//! bfdd without a BFD or BGP flap. The Echo function against FRR's echo-mode: a router that
//! stops forwarding takes our route away through an Echo failure.
//!
//! Needs root, FRR (with bfdd), tcpdump and tshark; skips otherwise (fails under CI=true).

mod scenario_common;

use std::time::{Duration, Instant};

use scenario_common::*;
use testlab::{Frr, wait_until};

const NODE: &str = "192.168.1.21";
const PREFIX: &str = "172.16.10.7/32";

const BFDD_CONF: &str = "hostname bfdd\n!\nbfd\n profile lab\n  receive-interval 100\n  \
                         transmit-interval 100\n  detect-multiplier 3\n !\n!\n";

fn bfd_profile(frr: &Frr, shutdown: bool) {
    let no = if shutdown { "" } else { "no " };
    frr.vtysh_multi(&[
        "configure terminal",
        "bfd",
        "profile lab",
        &format!("{no}shutdown"),
    ])
    .unwrap();
}

/// Freeze bfdd, bgpd alive: only BFD is lost. Our speaker must end the BGP session at once
/// with Cease 6/10, so the route leaves the router's kernel; bfdd is resumed before the
/// checks. Returns how long the route took to go. (No vtysh while bfdd is frozen: it would
/// hang.)
fn freeze_bfdd_ends_our_bgp_session(lab: &Lab, bfdd: u32) -> Duration {
    let frr = &lab.frr;
    let t0 = Instant::now();
    frr.signal_daemon(bfdd, "STOP").unwrap();
    let gone = wait_until(Duration::from_secs(5), || gateways(frr, PREFIX).is_empty());
    let took = t0.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    let log = lab.nodes[0].log();
    frr.signal_daemon(bfdd, "CONT").unwrap();
    assert!(gone, "route still at the router 5 s after BFD was lost");
    assert!(
        log.contains("automatic stop: Cease/BFD Down (6/10)"),
        "no Cease 6/10 sent by us in our log:\n{log}"
    );
    took
}

#[test]
fn bfd_down_takes_the_bgp_session_down_admin_down_does_not() {
    if !lab_available() || !testlab::require_root_and(&["/usr/lib/frr/bfdd"]) {
        return;
    }
    let mut conf = Frr::config(64512, "192.168.1.1", &[(NODE, 64512)]);
    conf.push_str(&format!(" neighbor {NODE} bfd profile lab\n"));
    let mut lab = Lab::new("192.168.1.1/24", &[("192.168.1.21/24", NODE)], &conf);
    let bfdd = lab.frr.start_bfdd(BFDD_CONF).unwrap();
    lab.nodes[0].write_config(&format!(
        "local-as = 64512\npeer = [\"192.168.1.1\"]\npeer-as = 64512\nhold-time = 9\n\
         keepalive = 3\nconnect-retry = 1\nprefix = [\"{PREFIX}\"]\n\
         bfd = {{ min-rx-ms = 100, min-tx-ms = 120, multiplier = 3 }}\n"
    ));
    lab.nodes[0].start(&["--json"]);
    lab.frr.wait_established(NODE, T).unwrap();
    assert!(wait_gateways(&lab.frr, PREFIX, 1, T).is_some());
    let frr = &lab.frr;
    assert!(
        wait_until(Duration::from_secs(10), || frr.bfd_peer(NODE).is_some_and(
            |v| v["status"] == "up" && v["remote-transmit-interval"] == 120
        )),
        "BFD at FRR: {:?}",
        frr.bfd_peers()
    );
    let transitions = |f: &Frr| neighbor_u64(f, NODE, "connectionsEstablished").unwrap_or(0);
    let est0 = transitions(frr);

    // 1. FRR holds BFD AdminDown: our BFD goes Down (remote AdminDown), BGP stays up.
    bfd_profile(frr, true);
    assert!(wait_until(Duration::from_secs(5), || {
        frr.bfd_status(NODE).as_deref() == Some("shutdown")
    }));
    std::thread::sleep(Duration::from_millis(1500)); // 5 x the detection time
    assert_eq!(frr.neighbor_state(NODE).as_deref(), Some("Established"));
    assert_eq!(transitions(frr), est0, "the BGP session was reset");
    assert_eq!(gateways(frr, PREFIX).len(), 1);
    let log = lab.nodes[0].log();
    assert!(
        log.contains("AdminDown"),
        "no BFD AdminDown seen in our log:\n{log}"
    );
    bfd_profile(frr, false);
    assert!(
        wait_until(Duration::from_secs(10), || frr.bfd_status(NODE).as_deref()
            == Some("up")),
        "BFD not back up: {:?}",
        frr.bfd_peer(NODE)
    );

    // 2. bfdd frozen, bgpd alive: our Cease 6/10, the route gone, well inside the hold time.
    let took = freeze_bfdd_ends_our_bgp_session(&lab, bfdd);
    eprintln!("bfdd frozen -> our Cease 6/10 -> route gone from FRR's kernel after {took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");

    // 3. bfdd resumes: BFD and BGP come back, and the route with them.
    assert!(
        wait_until(Duration::from_secs(10), || frr.bfd_status(NODE).as_deref()
            == Some("up")),
        "BFD not back: {:?}",
        frr.bfd_peer(NODE)
    );
    frr.wait_established(NODE, T).unwrap();
    assert!(wait_gateways(frr, PREFIX, 1, T).is_some());
    assert!(transitions(frr) > est0);
}

/// `announce` started without BFD gets its first BFD neighbour on SIGHUP: the driver starts
/// then (no restart of the process), FRR sees the session Up with our timers. A second
/// SIGHUP changes the timers in place (FRR sees them, no BFD or BGP flap), and a frozen
/// bfdd then takes the BGP session down through it.
#[test]
fn sighup_adds_the_first_bfd_neighbor() {
    if !lab_available() || !testlab::require_root_and(&["/usr/lib/frr/bfdd"]) {
        return;
    }
    let mut conf = Frr::config(64512, "192.168.1.1", &[(NODE, 64512)]);
    conf.push_str(&format!(" neighbor {NODE} bfd profile lab\n"));
    let mut lab = Lab::new("192.168.1.1/24", &[("192.168.1.21/24", NODE)], &conf);
    let bfdd = lab.frr.start_bfdd(BFDD_CONF).unwrap();
    let base = format!(
        "local-as = 64512\npeer = [\"192.168.1.1\"]\npeer-as = 64512\nhold-time = 9\n\
         keepalive = 3\nconnect-retry = 1\nprefix = [\"{PREFIX}\"]\n"
    );
    lab.nodes[0].write_config(&base);
    lab.nodes[0].start(&["--json"]);
    lab.frr.wait_established(NODE, T).unwrap();
    assert!(wait_gateways(&lab.frr, PREFIX, 1, T).is_some());
    let pid = lab.nodes[0].pid;
    // No BFD yet: nothing listens on UDP 3784 in the node.
    let udp = lab.nodes[0]
        .ns
        .exec(&["ss", "-Hlun", "sport = :3784"])
        .unwrap();
    assert!(
        udp.trim().is_empty(),
        "BFD socket open before any neighbour asks: {udp}"
    );

    lab.nodes[0].write_config(&format!(
        "{base}bfd = {{ min-rx-ms = 100, min-tx-ms = 130, multiplier = 3 }}\n"
    ));
    lab.nodes[0].signal("HUP");
    let frr = &lab.frr;
    assert!(
        wait_until(Duration::from_secs(15), || frr.bfd_peer(NODE).is_some_and(
            |v| v["status"] == "up" && v["remote-transmit-interval"] == 130
        )),
        "BFD at FRR after SIGHUP: {:?}\n{}",
        frr.bfd_peers(),
        lab.nodes[0].log()
    );
    assert_eq!(lab.nodes[0].pid, pid);
    assert!(lab.nodes[0].running(), "announce exited");
    frr.wait_established(NODE, T).unwrap();
    assert!(wait_gateways(frr, PREFIX, 1, T).is_some());

    // A second SIGHUP changes the timers: applied to the running BFD session through a
    // Poll Sequence, with neither BFD nor BGP going down.
    let est0 = neighbor_u64(frr, NODE, "connectionsEstablished").unwrap_or(0);
    let seen = lab.nodes[0].log().len();
    lab.nodes[0].write_config(&format!(
        "{base}bfd = {{ min-rx-ms = 100, min-tx-ms = 150, multiplier = 4 }}\n"
    ));
    lab.nodes[0].signal("HUP");
    assert!(
        wait_until(Duration::from_secs(10), || frr.bfd_peer(NODE).is_some_and(
            |v| v["status"] == "up"
                && v["remote-transmit-interval"] == 150
                && v["remote-detect-multiplier"] == 4
        )),
        "FRR after the timer change: {:?}",
        frr.bfd_peer(NODE)
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(frr.neighbor_state(NODE).as_deref(), Some("Established"));
    assert_eq!(
        neighbor_u64(frr, NODE, "connectionsEstablished").unwrap_or(0),
        est0,
        "the BGP session was reset by a BFD timer change"
    );
    let log = lab.nodes[0].log();
    let after = &log[seen..];
    assert!(
        after.contains("\"reconfigured\":[\"192.168.1.1\"]"),
        "not applied in place:\n{after}"
    );
    assert!(
        after.contains("PollSequenceDone"),
        "no Poll Sequence:\n{after}"
    );
    assert!(!after.contains("to: Down"), "BFD flapped:\n{after}");

    // The lazily started BFD acts: bfdd frozen -> our Cease 6/10 -> route gone.
    freeze_bfdd_ends_our_bgp_session(&lab, bfdd);
}

/// iBGP from the node to the router's loopback (not directly connected, as between route
/// reflectors or loopback-peered speakers): `announce` runs a multihop session (RFC 5883)
/// with `bfd = { multihop = true }` from its source address, FRR's bfdd holds the other end
/// (`peer X multihop local-address Y`: FRR 8.4's bgpd, asked with `neighbor X bfd`, makes a
/// single-hop session bound to `lo` for this neighbour, which never comes up), both come Up
/// with our timers, and a frozen bfdd takes our BGP session down through it.
#[test]
fn multihop_bfd_to_a_loopback_neighbor() {
    if !lab_available() || !testlab::require_root_and(&["/usr/lib/frr/bfdd"]) {
        return;
    }
    let mut conf = Frr::config(64512, "10.255.0.1", &[(NODE, 64512)]);
    conf.push_str(&format!(" neighbor {NODE} update-source 10.255.0.1\n"));
    let mut lab = Lab::new("192.168.1.1/24", &[("192.168.1.21/24", NODE)], &conf);
    lab.router
        .ip(&["addr", "add", "10.255.0.1/32", "dev", "lo"])
        .unwrap();
    lab.nodes[0]
        .ns
        .ip(&["route", "add", "10.255.0.1/32", "via", "192.168.1.1"])
        .unwrap();
    let bfdd = lab
        .frr
        .start_bfdd(&format!(
            "{BFDD_CONF}bfd\n peer {NODE} multihop local-address 10.255.0.1\n  \
             profile lab\n !\n!\n"
        ))
        .unwrap();
    lab.nodes[0].write_config(&format!(
        "local-as = 64512\npeer = [\"10.255.0.1\"]\npeer-as = 64512\nhold-time = 9\n\
         keepalive = 3\nconnect-retry = 1\nprefix = [\"{PREFIX}\"]\n\
         source-address = \"{NODE}\"\n\
         bfd = {{ multihop = true, min-rx-ms = 100, min-tx-ms = 140, multiplier = 3 }}\n"
    ));
    lab.nodes[0].start(&["--json"]);
    let frr = &lab.frr;
    frr.wait_established(NODE, T).unwrap();
    assert!(wait_gateways(frr, PREFIX, 1, T).is_some());
    assert!(
        wait_until(Duration::from_secs(15), || frr.bfd_peer(NODE).is_some_and(
            |v| {
                v["status"] == "up" && v["multihop"] == true && v["remote-transmit-interval"] == 140
            }
        )),
        "multihop BFD at FRR: {:?}\n{}",
        frr.bfd_peers(),
        lab.nodes[0].log()
    );
    eprintln!("FRR: {}", frr.bfd_peer(NODE).unwrap());

    let took = freeze_bfdd_ends_our_bgp_session(&lab, bfdd);
    eprintln!("bfdd frozen -> multihop BFD Down -> Cease 6/10 -> route gone after {took:?}");
}

/// The Echo function end to end (`bfd = { echo = true }` on the node, `echo-mode` in FRR's
/// profile), 300 ms Control packets and 50 ms Echo packets, forwarding on in both
/// namespaces so each loops the other's Echo: FRR sees our Required Min Echo RX Interval
/// and measures its Echo round trip through the node. With the router's forwarding off
/// (Control packets and BGP still flow) our Echo packets stop coming back: our BFD goes
/// Down with diagnostic 2 (Echo Function Failed), we end the BGP session with Cease 6/10
/// and the route leaves FRR's kernel, faster than the 900 ms Control Detection Time
/// would; with forwarding back the route returns.
#[test]
fn echo_failure_takes_the_route_away() {
    if !lab_available() || !testlab::require_root_and(&["/usr/lib/frr/bfdd"]) {
        return;
    }
    let mut conf = Frr::config(64512, "192.168.1.1", &[(NODE, 64512)]);
    conf.push_str(&format!(" neighbor {NODE} bfd profile echo\n"));
    let mut lab = Lab::new("192.168.1.1/24", &[("192.168.1.21/24", NODE)], &conf);
    for ns in [&lab.router, &lab.nodes[0].ns] {
        ns.set_sysctl("net.ipv4.ip_forward", "1").unwrap();
        ns.set_sysctl("net.ipv4.conf.eth0.accept_local", "1")
            .unwrap();
        ns.set_sysctl("net.ipv4.conf.all.send_redirects", "0")
            .unwrap();
        ns.set_sysctl("net.ipv4.conf.eth0.send_redirects", "0")
            .unwrap();
    }
    let _bfdd = lab
        .frr
        .start_bfdd(
            "hostname bfdd\n!\nbfd\n profile echo\n  receive-interval 300\n  \
             transmit-interval 300\n  detect-multiplier 3\n  echo-mode\n  \
             echo transmit-interval 50\n  echo receive-interval 50\n !\n!\n",
        )
        .unwrap();
    lab.nodes[0].write_config(&format!(
        "local-as = 64512\npeer = [\"192.168.1.1\"]\npeer-as = 64512\nhold-time = 9\n\
         keepalive = 3\nconnect-retry = 1\nprefix = [\"{PREFIX}\"]\n\
         bfd = {{ min-rx-ms = 300, min-tx-ms = 300, multiplier = 3, echo = true, \
         echo-interval-ms = 50 }}\n"
    ));
    lab.nodes[0].start(&["--json"]);
    let frr = &lab.frr;
    frr.wait_established(NODE, T).unwrap();
    assert!(wait_gateways(frr, PREFIX, 1, T).is_some());
    assert!(
        wait_until(Duration::from_secs(10), || frr.bfd_peer(NODE).is_some_and(
            |v| v["status"] == "up"
                && v["remote-echo-receive-interval"] == 50
                && v["rtt-avg"].as_u64().is_some_and(|r| r > 0)
        )),
        "FRR's Echo toward the node: {:?}",
        frr.bfd_peer(NODE)
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !lab.nodes[0].log().contains("to: Down"),
        "BFD flapped while Echo ran:\n{}",
        lab.nodes[0].log()
    );

    // The router stops forwarding: our Echo fails, BGP goes with it.
    let t0 = Instant::now();
    lab.router.set_sysctl("net.ipv4.ip_forward", "0").unwrap();
    let gone = wait_until(Duration::from_secs(5), || gateways(frr, PREFIX).is_empty());
    let took = t0.elapsed();
    lab.router.set_sysctl("net.ipv4.ip_forward", "1").unwrap();
    assert!(
        gone,
        "route still at the router 5 s after the Echo loop broke"
    );
    eprintln!("router forwarding off -> our Echo fails -> route gone after {took:?}");
    let log = lab.nodes[0].log();
    assert!(
        log.contains("EchoFunctionFailed"),
        "no diag 2 in our log:\n{log}"
    );
    assert!(
        log.contains("automatic stop: Cease/BFD Down (6/10)"),
        "no Cease 6/10 sent by us in our log:\n{log}"
    );
    assert!(took < Duration::from_millis(900), "{took:?}");

    // Forwarding back: BFD, BGP and the route return.
    frr.wait_established(NODE, T).unwrap();
    assert!(wait_gateways(frr, PREFIX, 1, T).is_some());
}
