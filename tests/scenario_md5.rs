//! TCP MD5 (RFC 2385) with FRR: the node with the right password reaches Established and
//! its route arrives; the node with a wrong password never gets a session.
//!
//! Needs root, FRR, tcpdump and tshark; skips otherwise.

mod scenario_common;

use std::time::Duration;

use scenario_common::*;
use testlab::{Frr, wait_until};

#[test]
fn md5_password_with_frr() {
    if !lab_available() {
        return;
    }
    let mut conf = Frr::config(
        64512,
        "192.168.1.1",
        &[("192.168.1.10", 64512), ("192.168.1.21", 64512)],
    );
    conf.push_str(" neighbor 192.168.1.10 password s3cret-md5\n");
    conf.push_str(" neighbor 192.168.1.21 password s3cret-md5\n");
    let mut lab = Lab::new(
        "192.168.1.1/24",
        &[
            ("192.168.1.10/24", "192.168.1.10"),
            ("192.168.1.21/24", "192.168.1.21"),
        ],
        &conf,
    );
    for (i, n) in lab.nodes.iter().enumerate() {
        let pw = if i == 0 { "s3cret-md5" } else { "wrong" };
        n.write_config(&format!(
            "local-as = 64512\npeer = [\"192.168.1.1\"]\npeer-as = 64512\nhold-time = 9\nkeepalive = 3\nconnect-retry = 1\npassword = \"{pw}\"\nprefix = [\"172.16.10.{i}/32\"]\n"
        ));
    }
    for n in lab.nodes.iter_mut() {
        n.start(&["--json"]);
    }
    lab.frr.wait_established("192.168.1.10", T).unwrap();
    assert!(wait_until(T, || lab.frr.path_count("172.16.10.0/32") == 1));
    let nb = lab.frr.neighbor("192.168.1.10").unwrap();
    assert_eq!(nb["bgpTimerHoldTimeMsecs"].as_u64(), Some(9000), "{nb}");
    std::thread::sleep(Duration::from_secs(3));
    assert_ne!(
        lab.frr.neighbor_state("192.168.1.21").as_deref(),
        Some("Established"),
        "a wrong MD5 password must not give a session"
    );
    assert_eq!(lab.frr.path_count("172.16.10.1/32"), 0);
    for n in &lab.nodes {
        n.signal("TERM");
        let st = n.ns.wait_exit(n.pid.unwrap(), Duration::from_secs(15));
        assert!(st.is_some_and(|s| s.success()), "exit: {st:?}");
    }
}
