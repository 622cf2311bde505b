//! Interop with FRR's bfdd in network namespaces (root, FRR, tcpdump and tshark needed;
//! under CI=true their absence fails the test). One lab, IPv4 and IPv6 single-hop sessions:
//! both come Up; `show bfd peers json` shows the intervals we advertise; a parameter change
//! goes through Poll/Final without a flap on either side; we detect bfdd's loss (SIGSTOP);
//! bfdd detects ours (our link down); tshark decodes every packet we sent without error.
//! The whole lab runs twice: with the driver's UDP socket, and with
//! [`DriverConfig::link_tx`] (Up sessions' IPv4 packets through a packet socket); in
//! both, tshark also verifies the checksums of every IPv4 packet of ours.
#![cfg(feature = "tokio")]

use std::time::{Duration, Instant};

use bgp_bfd::driver::{Bfd, DriverConfig};
use bgp_bfd::{Diag, Event, SessionConfig, State};
use serde_json::Value;
use testlab::{
    Capture, Frr, Netns, link, recv_until, require_root_and, require_tool, spawn_in_netns,
    wait_until,
};
use tokio::sync::mpsc;

const MS: Duration = Duration::from_millis(1);
const PEERS: [&str; 2] = ["10.9.0.2", "fd00:9::2"];
const FRR_ADDRS: [&str; 2] = ["10.9.0.1", "fd00:9::1"];

fn num(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("no {k} in {v}"))
}

/// Steps the test thread asks of the thread running our driver.
enum Step {
    SetParams,
    Quit,
}

/// The two runs share the machine's CPU with nothing else of theirs: one at a time, so
/// their detection times are not measured under each other's load.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn frr_bfdd_interop() {
    run(false);
}

#[test]
fn frr_bfdd_interop_link_tx() {
    run(true);
}

fn run(link_tx: bool) {
    if !require_root_and(&[
        "/usr/lib/frr/bfdd",
        "/usr/lib/frr/zebra",
        "vtysh",
        "tcpdump",
        "ethtool",
    ]) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let r = Netns::new("bfr").unwrap();
    let n = Netns::new("bfn").unwrap();
    let veth = link(
        &r,
        "10.9.0.1/24 fd00:9::1/64",
        &n,
        "10.9.0.2/24 fd00:9::2/64",
    )
    .unwrap();
    // Linux drops IPv6 addresses on link down unless told to keep them (step 5).
    n.set_sysctl(
        &format!("net.ipv6.conf.{}.keep_addr_on_down", veth.b_if()),
        "1",
    )
    .unwrap();
    // Real checksums in the packets the kernel sends too (no offload), so that tshark can
    // verify every packet of ours.
    n.exec(&["ethtool", "-K", veth.b_if(), "tx", "off"])
        .unwrap();
    let mut frr = Frr::start(&r, "hostname bgpd\n").unwrap();
    let bfdd = frr
        .start_bfdd(&Frr::bfdd_config(&PEERS, 100, 100, 3))
        .unwrap();
    let mut cap = Capture::start_filtered(&n, veth.b_if(), None, "udp port 3784").unwrap();

    let (step_tx, mut step_rx) = mpsc::unbounded_channel::<Step>();
    let (ev_tx, ev_rx) = std::sync::mpsc::channel::<(usize, Instant, Event)>();
    // Our side: 150 ms TX, 120 ms RX, x4, so FRR's view of them is unmistakable.
    let ours = spawn_in_netns(&n, move || async move {
        let bfd = Bfd::spawn(DriverConfig {
            link_tx,
            ..DriverConfig::default()
        })
        .await
        .expect("bind 3784");
        let cfg = SessionConfig::new(150 * MS, 120 * MS, 4);
        let mut sessions = Vec::new();
        for (i, a) in FRR_ADDRS.iter().enumerate() {
            let mut s = bfd
                .add_session(a.parse().unwrap(), cfg.clone())
                .await
                .unwrap();
            let tx = ev_tx.clone();
            testlab::forward(s.take_events().unwrap(), move |e| {
                tx.send((i, Instant::now(), e)).is_ok()
            });
            sessions.push(s);
        }
        while let Some(step) = step_rx.recv().await {
            match step {
                Step::SetParams => {
                    for s in &sessions {
                        s.set_parameters(100 * MS, 100 * MS, 3);
                    }
                }
                Step::Quit => break,
            }
        }
        let st = bfd.stats();
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        (load(&st.sent), load(&st.link_sent), bfd.source_ports())
    });

    // Wait until both sessions report Up.
    let up = |what: &str| {
        let mut pending = [true, true];
        let all_up = recv_until(&ev_rx, Duration::from_secs(10), |(j, _, e)| {
            if matches!(e, Event::StateChange { to: State::Up, .. }) {
                pending[*j] = false;
            }
            pending.iter().all(|p| !p)
        });
        if let Err(evs) = all_up {
            panic!(
                "{what}: sessions {pending:?} not Up; events {evs:?}; FRR {:?}",
                frr.bfd_peers()
            );
        }
    };
    // 1. Both sessions Up, on both sides.
    let t0 = Instant::now();
    up("start");
    for p in PEERS {
        assert!(
            wait_until(Duration::from_secs(5), || frr.bfd_status(p).as_deref()
                == Some("up")),
            "FRR: {:?}",
            frr.bfd_peer(p)
        );
    }
    eprintln!("both sessions Up after {:?}", t0.elapsed());
    // 2. FRR shows the intervals we advertise (after the coming-Up Poll Sequence).
    for p in PEERS {
        let ok = wait_until(Duration::from_secs(3), || {
            frr.bfd_peer(p).is_some_and(|v| {
                v["remote-transmit-interval"] == 150 && v["remote-receive-interval"] == 120
            })
        });
        let v = frr.bfd_peer(p).unwrap();
        assert!(ok, "FRR's view of {p}: {v}");
        assert_eq!(num(&v, "remote-detect-multiplier"), 4, "{v}");
        assert!(num(&v, "remote-id") != 0, "{v}");
        eprintln!("FRR sees {p}: {v}");
    }
    // Drain the Poll Sequence ends of coming Up.
    std::thread::sleep(300 * MS);
    while ev_rx.try_recv().is_ok() {}

    // 3. Parameter change through Poll/Final: no flap on either side.
    let uptime_before: Vec<u64> = PEERS
        .iter()
        .map(|p| num(&frr.bfd_peer(p).unwrap(), "uptime"))
        .collect();
    step_tx.send(Step::SetParams).unwrap();
    for p in PEERS {
        let ok = wait_until(Duration::from_secs(3), || {
            frr.bfd_peer(p).is_some_and(|v| {
                v["status"] == "up"
                    && v["remote-transmit-interval"] == 100
                    && v["remote-receive-interval"] == 100
                    && v["remote-detect-multiplier"] == 3
            })
        });
        assert!(ok, "FRR after the change: {:?}", frr.bfd_peer(p));
    }
    std::thread::sleep(300 * MS);
    let evs: Vec<_> = ev_rx.try_iter().map(|(i, _, e)| (i, e)).collect();
    assert_eq!(
        evs.iter()
            .filter(|(_, e)| *e == Event::PollSequenceDone)
            .count(),
        2,
        "{evs:?}"
    );
    assert!(
        evs.iter().all(|(_, e)| *e == Event::PollSequenceDone),
        "flap: {evs:?}"
    );
    for (p, before) in PEERS.iter().zip(uptime_before) {
        let v = frr.bfd_peer(p).unwrap();
        assert!(num(&v, "uptime") >= before, "FRR flapped {p}: {v}");
    }

    // 4. We detect bfdd's loss: SIGSTOP it; our sessions go Down with diag 1.
    let stopped = Instant::now();
    frr.signal_daemon(bfdd, "STOP").unwrap();
    let mut down = Vec::new();
    while down.len() < 2 {
        let is_down = |(_, _, e): &(usize, Instant, Event)| {
            matches!(
                e,
                Event::StateChange {
                    to: State::Down,
                    ..
                }
            )
        };
        match recv_until(&ev_rx, Duration::from_secs(3), is_down) {
            Ok((i, at, Event::StateChange { diag, .. })) => {
                assert_eq!(diag, Diag::ControlDetectionTimeExpired);
                down.push((i, at - stopped));
            }
            other => panic!("we did not detect bfdd's loss: {down:?}, then {other:?}"),
        }
    }
    eprintln!("we detected bfdd's SIGSTOP after {down:?} (detection time 3 x 100 ms)");
    for (_, d) in &down {
        assert!(*d <= 450 * MS, "slow detection {d:?}");
    }
    frr.signal_daemon(bfdd, "CONT").unwrap();
    up("after SIGCONT");
    for p in PEERS {
        assert!(wait_until(Duration::from_secs(5), || frr
            .bfd_status(p)
            .as_deref()
            == Some("up")));
    }

    // 5. bfdd detects our loss: our side of the link goes down.
    let cut = Instant::now();
    n.ip(&["link", "set", veth.b_if(), "down"]).unwrap();
    let ok = wait_until(Duration::from_secs(3), || {
        PEERS
            .iter()
            .all(|p| frr.bfd_status(p).as_deref() == Some("down"))
    });
    let took = cut.elapsed();
    assert!(ok, "FRR did not see us go: {:?}", frr.bfd_peers());
    for p in PEERS {
        let v = frr.bfd_peer(p).unwrap();
        assert_eq!(v["diagnostic"], "control detection time expired", "{v}");
    }
    eprintln!("bfdd detected our link loss within {took:?} (vtysh polling included)");
    assert!(took <= Duration::from_millis(1500));
    n.ip(&["link", "set", veth.b_if(), "up"]).unwrap();
    for p in PEERS {
        assert!(
            wait_until(Duration::from_secs(8), || frr.bfd_status(p).as_deref()
                == Some("up")),
            "not back up: {:?}",
            frr.bfd_peer(p)
        );
    }

    step_tx.send(Step::Quit).unwrap();
    let (sent, link_sent, (p4, p6)) = ours.join().unwrap();
    assert!(sent > 20);
    eprintln!("link_tx {link_tx}: {sent} packets sent, {link_sent} of them on the link");
    if link_tx {
        // Up IPv4 packets leave on the link: more than a quarter of all (IPv6 included).
        assert!(link_sent * 4 > sent, "{link_sent} of {sent}");
    } else {
        assert_eq!(link_sent, 0);
    }
    for p in [p4.unwrap(), p6.unwrap()] {
        assert!((49152..=65535).contains(&p));
    }

    // 6. tshark decodes every packet we sent as BFD, without error.
    cap.stop().unwrap();
    if require_tool("tshark") {
        let rows = cap
            .fields(
                "bfd && (ip.src == 10.9.0.2 || ipv6.src == fd00:9::2)",
                &[
                    "udp.srcport",
                    "ip.ttl",
                    "ipv6.hlim",
                    "bfd.version",
                    "bfd.sta",
                    "ip.flags.df",
                    "ip.id",
                    "ip.dsfield.dscp",
                    "ipv6.tclass.dscp",
                ],
            )
            .unwrap();
        assert!(rows.len() > 20, "{} packets of ours decoded", rows.len());
        for r in &rows {
            assert!(r[1] == "255" || r[2] == "255", "{r:?}");
            assert_eq!(r[3], "1");
            // Every packet leaves from the driver's source port of its family.
            let want = if r[1].is_empty() { p6 } else { p4 };
            assert_eq!(r[0].parse::<u16>().ok(), want, "{r:?}");
            // IPv4: Don't Fragment set and, as the driver asks for IP_PMTUDISC_DO, IP ID 0
            // (with the default PMTUDISC_WANT the kernel draws an ID for every packet).
            if !r[1].is_empty() {
                assert!(r[5] == "1" || r[5] == "True", "DF not set: {r:?}");
                assert_eq!(r[6], "0x0000", "IP ID: {r:?}");
            }
            // DSCP CS6 (network control) on both families and both ways out.
            assert!(r[7] == "48" || r[8] == "48", "DSCP: {r:?}");
        }
        let states: std::collections::BTreeSet<_> = rows.iter().map(|r| r[4].clone()).collect();
        eprintln!("tshark: {} packets of ours, states {states:?}", rows.len());
        assert_eq!(cap.malformed_count().unwrap(), 0);
        let polls = cap
            .fields("bfd.flags.p == 1 && ip.src == 10.9.0.2", &["bfd.flags.p"])
            .unwrap();
        assert!(!polls.is_empty(), "no Poll packet of ours seen");
        // tshark verifies the IPv4 and UDP checksums of our IPv4 packets (the kernel's
        // and, with link_tx, our own): every one good.
        let checked = cap
            .tshark(&[
                "-o",
                "ip.check_checksum:TRUE",
                "-o",
                "udp.check_checksum:TRUE",
                "-Y",
                "bfd && ip.src == 10.9.0.2",
                "-T",
                "fields",
                "-e",
                "ip.checksum.status",
                "-e",
                "udp.checksum.status",
            ])
            .unwrap();
        let lines: Vec<&str> = checked.lines().filter(|l| !l.trim().is_empty()).collect();
        let good = lines.iter().filter(|l| l.trim() == "1\t1").count();
        eprintln!(
            "tshark: {good} of {} IPv4 packets of ours with good checksums",
            lines.len()
        );
        assert!(good > 10 && good == lines.len(), "checksums: {lines:?}");
    }
}
