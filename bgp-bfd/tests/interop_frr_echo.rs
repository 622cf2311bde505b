//! The Echo function against FRR's bfdd in network namespaces (root, FRR, tcpdump and
//! tshark needed; under CI=true their absence fails the test). One IPv4 link, both
//! sides with `echo-mode` (FRR) / `echo_tx` (ours) over 300 ms Control packets, IP
//! forwarding on in both namespaces so each side loops the other's Echo packets:
//! - both sessions come Up and both Echo functions run: our looped packets keep
//!   arriving, FRR reports our Required Min Echo RX Interval, FRR's Echo packets cross
//!   our namespace and go back;
//! - with forwarding off at FRR's side (Control packets still flow), our Echo packets stop
//!   coming back and our session goes Down with diagnostic 2 (Echo Function Failed)
//!   within Detect Mult Echo intervals; with forwarding back on the session returns;
//! - tshark decodes our Echo packets: UDP 3785, our address both ways, TTL 255 out and
//!   254 back.
#![cfg(feature = "tokio")]

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bgp_bfd::driver::{Bfd, DriverConfig};
use bgp_bfd::{Diag, Event, SessionConfig, State};
use testlab::{
    Capture, Frr, Netns, link, recv_until, require_root_and, require_tool, spawn_in_netns,
    wait_until,
};
use tokio::sync::mpsc;

const MS: Duration = Duration::from_millis(1);
const FRR_ADDR: &str = "10.9.7.1";
const OUR_ADDR: &str = "10.9.7.2";

#[test]
fn frr_bfdd_echo() {
    if !require_root_and(&[
        "/usr/lib/frr/bfdd",
        "/usr/lib/frr/zebra",
        "vtysh",
        "tcpdump",
    ]) {
        return;
    }
    let r = Netns::new("ber").unwrap();
    let n = Netns::new("ben").unwrap();
    let veth = link(&r, "10.9.7.1/24", &n, "10.9.7.2/24").unwrap();
    for (ns, ifname) in [(&r, veth.a_if()), (&n, veth.b_if())] {
        ns.set_sysctl("net.ipv4.ip_forward", "1").unwrap();
        // Each side receives its own Echo packets back from the wire, with its own
        // address as the source.
        ns.set_sysctl(&format!("net.ipv4.conf.{ifname}.accept_local"), "1")
            .unwrap();
        ns.set_sysctl(&format!("net.ipv4.conf.{ifname}.send_redirects"), "0")
            .unwrap();
        ns.set_sysctl("net.ipv4.conf.all.send_redirects", "0")
            .unwrap();
    }
    let mut frr = Frr::start(&r, "hostname bgpd\n").unwrap();
    let conf = format!(
        "hostname bfdd\n!\nbfd\n peer {OUR_ADDR}\n  receive-interval 300\n  \
         transmit-interval 300\n  detect-multiplier 3\n  echo-mode\n  \
         echo transmit-interval 50\n  echo receive-interval 50\n  no shutdown\n !\n!\n"
    );
    let _bfdd = frr.start_bfdd(&conf).unwrap();
    let mut cap = Capture::start_filtered(&n, veth.b_if(), None, "udp port 3785").unwrap();

    let (ev_tx, ev_rx) = std::sync::mpsc::channel::<(Instant, Event)>();
    let (quit_tx, mut quit_rx) = mpsc::unbounded_channel::<()>();
    let (stats_tx, stats_rx) = std::sync::mpsc::channel::<(u64, u64, u64, bool)>();
    let ours = spawn_in_netns(&n, move || async move {
        let bfd = Bfd::spawn(DriverConfig::default())
            .await
            .expect("bind 3784");
        let mut cfg = SessionConfig::new(300 * MS, 300 * MS, 3);
        cfg.echo_tx = Some(50 * MS);
        cfg.required_min_echo_rx = 40 * MS;
        let mut s = bfd
            .add_session(FRR_ADDR.parse().unwrap(), cfg)
            .await
            .unwrap();
        testlab::forward(s.take_events().unwrap(), move |e| {
            ev_tx.send((Instant::now(), e)).is_ok()
        });
        loop {
            tokio::select! {
                _ = quit_rx.recv() => break,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {
                    let st = bfd.stats();
                    let _ = stats_tx.send((
                        st.echo_sent.load(Ordering::Relaxed),
                        st.echo_received.load(Ordering::Relaxed),
                        st.echo_unsent.load(Ordering::Relaxed),
                        s.info().echo,
                    ));
                }
            }
        }
        drop(s);
    });
    let latest = || {
        stats_rx
            .try_iter()
            .last()
            .or_else(|| stats_rx.recv_timeout(Duration::from_secs(1)).ok())
            .expect("driver stats")
    };

    // 1. Up on both sides, both Echo functions running.
    // (Down -> Init -> Up, or Down -> Up: the first event need not be Up.)
    let is_up = |(_, e): &(Instant, Event)| matches!(e, Event::StateChange { to: State::Up, .. });
    if recv_until(&ev_rx, Duration::from_secs(10), is_up).is_err() {
        panic!("not Up; FRR {:?}", frr.bfd_peer(OUR_ADDR));
    }
    std::thread::sleep(Duration::from_secs(2));
    let (sent, received, unsent, active) = latest();
    eprintln!("ours after 2 s Up: {sent} Echo packets sent, {received} back, {unsent} unsent");
    assert!(active, "our Echo function does not run");
    assert!(
        received >= 30 && received + 2 >= sent,
        "{sent} sent, {received} back"
    );
    assert_eq!(unsent, 0);
    // FRR: our Required Min Echo RX Interval, and the round trip of its own Echo packets
    // through our namespace.
    let v = frr.bfd_peer(OUR_ADDR).unwrap();
    eprintln!("FRR: {v}");
    assert_eq!(v["status"], "up", "{v}");
    assert_eq!(v["remote-echo-receive-interval"], 40, "{v}");
    assert!(
        v["rtt-avg"].as_u64().is_some_and(|r| r > 0),
        "FRR's Echo did not loop: {v}"
    );
    let up_before = v["uptime"].as_u64().unwrap();
    assert!(up_before >= 2, "{v}");
    let flaps: Vec<_> = ev_rx.try_iter().map(|(_, e)| e).collect();
    assert!(
        flaps.iter().all(|e| *e == Event::PollSequenceDone),
        "flap while Echo ran: {flaps:?}"
    );

    // 2. FRR's side stops forwarding: Control packets still flow, our Echo packets no
    //    longer come back. Down with diagnostic 2 within 3 x 50 ms (plus a round).
    let cut = Instant::now();
    r.set_sysctl("net.ipv4.ip_forward", "0").unwrap();
    let is_down = |(_, e): &(Instant, Event)| {
        matches!(
            e,
            Event::StateChange {
                to: State::Down,
                ..
            }
        )
    };
    let took = match recv_until(&ev_rx, Duration::from_secs(3), is_down) {
        Ok((at, Event::StateChange { diag, .. })) => {
            assert_eq!(diag, Diag::EchoFunctionFailed);
            at - cut
        }
        _ => panic!("still Up 3 s after the Echo loop broke: {:?}", latest()),
    };
    eprintln!("Echo loop cut -> our session Down (diag 2) after {took:?}");
    assert!(took <= Duration::from_millis(400), "{took:?}");
    // FRR followed us down (its session restarted: a new, shorter uptime).
    assert!(
        wait_until(Duration::from_secs(2), || frr
            .bfd_peer(OUR_ADDR)
            .is_some_and(
                |v| v["status"] != "up" || v["uptime"].as_u64().is_some_and(|u| u < up_before)
            )),
        "FRR did not see our Down: {:?}",
        frr.bfd_peer(OUR_ADDR)
    );

    // 3. Forwarding back: Up again, and stays Up with Echo running. (While the loop was
    //    broken the session kept coming Up and failing again, as it should.)
    std::thread::sleep(Duration::from_secs(1));
    r.set_sysctl("net.ipv4.ip_forward", "1").unwrap();
    let back = Instant::now();
    let mut last = latest();
    assert!(
        wait_until(Duration::from_secs(10), || {
            // Up with Echo running, and its packets coming back, for half a second.
            std::thread::sleep(Duration::from_millis(500));
            let now = latest();
            let ok = last.3 && now.3 && now.1 >= last.1 + 5;
            last = now;
            ok
        }),
        "not back Up with Echo: {last:?}"
    );
    let flaps = ev_rx
        .try_iter()
        .filter(|(_, e)| {
            matches!(
                e,
                Event::StateChange {
                    to: State::Down,
                    ..
                }
            )
        })
        .count();
    eprintln!(
        "back Up with Echo {:?} after forwarding returned ({flaps} Down while it was off)",
        back.elapsed()
    );
    let before = latest().1;
    std::thread::sleep(Duration::from_secs(2));
    let later: Vec<_> = ev_rx.try_iter().map(|(_, e)| e).collect();
    assert!(
        later.iter().all(|e| *e == Event::PollSequenceDone),
        "flap after the loop returned: {later:?}"
    );
    let (_, after, _, active) = latest();
    assert!(active && after >= before + 30, "{before} -> {after}");

    quit_tx.send(()).unwrap();
    ours.join().unwrap();

    // 4. tshark: ours leave with TTL 255 and come back with 254 (FRR's forwarding),
    //    from and to our address; FRR's cross our namespace the same way.
    cap.stop().unwrap();
    if require_tool("tshark") {
        let rows = cap
            .fields(
                "udp.dstport == 3785",
                &["ip.src", "ip.dst", "ip.ttl", "udp.length"],
            )
            .unwrap();
        let count = |src: &str, ttl: &str| {
            rows.iter()
                .filter(|r| r[0] == src && r[1] == src && r[2] == ttl)
                .count()
        };
        let (out, back) = (count(OUR_ADDR, "255"), count(OUR_ADDR, "254"));
        let (frr_in, frr_out) = (count(FRR_ADDR, "255"), count(FRR_ADDR, "254"));
        eprintln!(
            "tshark: ours {out} out / {back} back; FRR's {frr_in} in / {frr_out} looped back"
        );
        assert!(out >= 60 && back >= 60, "ours: {out} out, {back} back");
        assert!(
            frr_in >= 30 && frr_out >= 30,
            "FRR's: {frr_in} in, {frr_out} back"
        );
        assert!(
            rows.iter()
                .filter(|r| r[0] == OUR_ADDR)
                .all(|r| r[3] == "20"),
            "our Echo datagrams: UDP length 20"
        );
        assert_eq!(cap.malformed_count().unwrap(), 0);
    }
}
