//! Multihop BFD (RFC 5883) with FRR's bfdd, one router apart (root, FRR, tcpdump needed;
//! tshark for the last step; under CI=true their absence fails the test):
//! ours (10.9.20.2) -- router namespace (forwarding) -- FRR (10.9.21.2).
//! The session comes Up on both sides, FRR shows it as multihop with our intervals, each
//! side detects the other's loss when the router's link to us goes down, the session comes
//! back, and tshark sees our packets go to UDP 4784 with TTL 255.
#![cfg(feature = "tokio")]

use std::time::{Duration, Instant};

use bgp_bfd::driver::{Bfd, DriverConfig, MULTIHOP_MIN_TTL};
use bgp_bfd::{Diag, Event, SessionConfig, State};
use testlab::{
    Capture, Frr, Netns, link, recv_until, require_root_and, require_tool, spawn_in_netns,
    wait_until,
};

const MS: Duration = Duration::from_millis(1);
const OURS: &str = "10.9.20.2";
const FRR_ADDR: &str = "10.9.21.2";

#[test]
fn frr_bfdd_multihop() {
    if !require_root_and(&[
        "/usr/lib/frr/bfdd",
        "/usr/lib/frr/zebra",
        "vtysh",
        "tcpdump",
    ]) {
        return;
    }
    let n = Netns::new("bmn").unwrap();
    let m = Netns::new("bmm").unwrap();
    let r = Netns::new("bmr").unwrap();
    let to_us = link(&m, "10.9.20.1/24", &n, &format!("{OURS}/24")).unwrap();
    let _to_frr = link(&m, "10.9.21.1/24", &r, &format!("{FRR_ADDR}/24")).unwrap();
    m.set_sysctl("net.ipv4.ip_forward", "1").unwrap();
    n.ip(&["route", "add", "10.9.21.0/24", "via", "10.9.20.1"])
        .unwrap();
    r.ip(&["route", "add", "10.9.20.0/24", "via", "10.9.21.1"])
        .unwrap();
    let mut frr = Frr::start(&r, "hostname bgpd\n").unwrap();
    frr.start_bfdd(&format!(
        "hostname bfdd\n!\nbfd\n peer {OURS} multihop local-address {FRR_ADDR}\n  \
         receive-interval 100\n  transmit-interval 100\n  detect-multiplier 3\n  \
         no shutdown\n !\n"
    ))
    .unwrap();
    let mut cap = Capture::start_filtered(&n, to_us.b_if(), None, "udp").unwrap();

    let (ev_tx, ev_rx) = std::sync::mpsc::channel::<(Instant, Event)>();
    let (quit_tx, quit_rx) = tokio::sync::oneshot::channel::<()>();
    let ours = spawn_in_netns(&n, move || async move {
        let bfd = Bfd::spawn(DriverConfig::default())
            .await
            .expect("bind 3784 and 4784");
        let cfg = SessionConfig::new(120 * MS, 110 * MS, 3);
        let mut s = bfd
            .add_multihop_session(
                FRR_ADDR.parse().unwrap(),
                OURS.parse().unwrap(),
                MULTIHOP_MIN_TTL,
                cfg,
            )
            .await
            .unwrap();
        testlab::forward(s.take_events().unwrap(), move |e| {
            ev_tx.send((Instant::now(), e)).is_ok()
        });
        let _ = quit_rx.await;
        drop(s);
        bfd.stats().sent.load(std::sync::atomic::Ordering::Relaxed)
    });
    let wait_event = |want: State, within: Duration| -> (Instant, Diag) {
        let is_want =
            |(_, e): &(Instant, Event)| matches!(e, Event::StateChange { to, .. } if *to == want);
        match recv_until(&ev_rx, within, is_want) {
            Ok((at, Event::StateChange { diag, .. })) => (at, diag),
            _ => panic!("no {want:?} within {within:?}; FRR {:?}", frr.bfd_peers()),
        }
    };

    // 1. Up on both sides; FRR shows a multihop session with our intervals.
    wait_event(State::Up, Duration::from_secs(10));
    let ok = wait_until(Duration::from_secs(5), || {
        frr.bfd_peer(OURS).is_some_and(|v| {
            v["status"] == "up"
                && v["multihop"] == true
                && v["remote-transmit-interval"] == 120
                && v["remote-receive-interval"] == 110
        })
    });
    let v = frr.bfd_peer(OURS);
    assert!(ok, "FRR's view: {v:?}");
    eprintln!("FRR sees us: {}", v.unwrap());

    // 2. The router's link to us goes down: both sides detect it by Detection Time.
    std::thread::sleep(300 * MS);
    let cut = Instant::now();
    m.ip(&["link", "set", to_us.a_if(), "down"]).unwrap();
    let (at, diag) = wait_event(State::Down, Duration::from_secs(3));
    assert_eq!(diag, Diag::ControlDetectionTimeExpired);
    let ours_took = at - cut;
    let ok = wait_until(Duration::from_secs(3), || {
        frr.bfd_status(OURS).as_deref() == Some("down")
    });
    let frr_took = cut.elapsed();
    assert!(ok, "FRR did not see us go: {:?}", frr.bfd_peer(OURS));
    eprintln!("path cut: we detected it in {ours_took:?}, FRR within {frr_took:?}");
    // 3 x 100 ms (FRR's interval towards us) from its last packet.
    assert!(ours_took <= 450 * MS, "slow detection {ours_took:?}");

    // 3. The path comes back, and so does the session, on both sides.
    m.ip(&["link", "set", to_us.a_if(), "up"]).unwrap();
    wait_event(State::Up, Duration::from_secs(10));
    assert!(
        wait_until(Duration::from_secs(5), || frr.bfd_status(OURS).as_deref()
            == Some("up")),
        "{:?}",
        frr.bfd_peer(OURS)
    );
    // A second of steady state: nothing more happens on our side.
    std::thread::sleep(Duration::from_secs(1));
    let later: Vec<_> = ev_rx.try_iter().map(|(_, e)| e).collect();
    assert!(
        later.iter().all(|e| *e == Event::PollSequenceDone),
        "flap: {later:?}"
    );
    assert_eq!(frr.bfd_status(OURS).as_deref(), Some("up"));

    quit_tx.send(()).unwrap();
    let sent = ours.join().unwrap();
    assert!(sent > 20, "{sent}");

    // 4. On the wire (our side of the router): BFD to 4784, TTL 255, nothing to 3784.
    cap.stop().unwrap();
    if require_tool("tshark") {
        let rows = cap
            .fields(
                &format!("ip.src == {OURS} && udp"),
                &["udp.dstport", "ip.ttl", "bfd.version", "bfd.sta"],
            )
            .unwrap();
        assert!(rows.len() > 20, "{} packets of ours", rows.len());
        for row in &rows {
            assert_eq!(row[0], "4784", "{row:?}");
            assert_eq!(row[1], "255", "{row:?}");
        }
        let decoded = cap
            .fields(&format!("bfd && ip.src == {OURS}"), &["bfd.version"])
            .unwrap();
        // tshark decodes 4784 as BFD multihop control.
        assert_eq!(decoded.len(), rows.len(), "not all decoded as BFD");
        assert_eq!(cap.malformed_count().unwrap(), 0);
        eprintln!(
            "tshark: {} packets of ours to 4784 with TTL 255",
            rows.len()
        );
    }
}
