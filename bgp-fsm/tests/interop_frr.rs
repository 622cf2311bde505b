//! Interop with FRR (bgpd + zebra started by hand) in network namespaces joined by a veth.
//! Root only; skipped with a message otherwise.
//!
//! Length: one test per FRR behaviour (capabilities, MD5, hold timer, GTSM, DelayOpen, ...),
//! all sharing the topology helpers of this file; split, each part would repeat them.
#![cfg(feature = "tokio")]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp_fsm::driver::{PeerConfig, PeerEvent, spawn_peer};
use bgp_fsm::{DownReason, State};
use bgp_wire::attr::{AsPath, Origin};
use bgp_wire::{AfiSafi, Nlri, PathAttribute, Update};
use common::{eventually, in_netns, wait_event};
use testlab::{Frr, Netns, link, require_root_and};

const FRR_BINS: &[&str] = &["ip", "vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra"];

fn our_route(nh: Ipv4Addr) -> Update {
    Update {
        withdrawn: vec![],
        attributes: vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(AsPath::default()),
            PathAttribute::NextHop(nh),
            PathAttribute::LocalPref(100),
        ],
        nlri: vec![Nlri::new("172.16.10.0/32".parse().unwrap())],
    }
}

/// Signal one process by PID (the bgpd this test started).
fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -s {sig} {pid}");
}

struct Lab {
    frr: Arc<Frr>,
    node: Netns,
    _router: Netns,
    _veth: testlab::Veth,
}

fn lab(frr_conf_extra: &str, password: Option<&str>) -> Lab {
    let router = Netns::new("fr").unwrap();
    let node = Netns::new("fn").unwrap();
    let veth = link(&router, "10.0.0.1/24", &node, "10.0.0.2/24").unwrap();
    let mut conf = Frr::config(64512, "10.0.0.1", &[("10.0.0.2", 64512)]);
    if let Some(p) = password {
        conf.push_str(&format!(" neighbor 10.0.0.2 password {p}\n"));
    }
    conf.push_str(frr_conf_extra);
    let frr = Frr::start(&router, &conf).unwrap();
    Lab {
        frr: Arc::new(frr),
        node,
        _router: router,
        _veth: veth,
    }
}

fn cfg() -> PeerConfig {
    let mut c = PeerConfig::new(
        64512,
        64512,
        Ipv4Addr::new(10, 0, 0, 2),
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
    );
    c.hold_time = 9;
    c.connect_retry = Duration::from_secs(2);
    c.local_addr = Some("10.0.0.2".parse().unwrap());
    c
}

/// iBGP over IPv4: establishment time, FRR's view of our capabilities, routes both ways,
/// `clear bgp` (we reconnect) and a shutdown message from FRR.
#[test]
fn frr_ibgp_routes_capabilities_clear_and_shutdown_message() {
    if !require_root_and(FRR_BINS) {
        return;
    }
    let lab = lab(
        " address-family ipv4 unicast\n  network 10.99.0.0/24\n exit-address-family\n",
        None,
    );
    let frr = lab.frr.clone();
    in_netns(&lab.node, move || async move {
        let t0 = Instant::now();
        let peer = spawn_peer(cfg(), None);
        let mut ev = peer.take_events().unwrap();
        // TCP is up when the machine leaves Connect for OpenSent.
        let mut tcp_up = None;
        let up = loop {
            let e = tokio::time::timeout(Duration::from_secs(15), ev.recv())
                .await
                .expect("Established in time")
                .expect("events");
            match e {
                PeerEvent::StateChanged {
                    to: State::OpenSent,
                    ..
                } => tcp_up = Some(Instant::now()),
                PeerEvent::Established(_) => break e,
                _ => {}
            }
        };
        let tcp_up = tcp_up.expect("went through OpenSent");
        println!(
            "FRR iBGP: spawn to TCP up {:?}, TCP connect to Established {:?}",
            tcp_up - t0,
            tcp_up.elapsed()
        );
        let PeerEvent::Established(n) = up else {
            unreachable!()
        };
        assert_eq!(n.peer_as, 64512);
        assert_eq!(n.hold_time, 9);
        assert_eq!(n.peer_router_id, Ipv4Addr::new(10, 0, 0, 1));
        assert!(n.four_octet_as && n.route_refresh);
        // FRR agrees.
        let frr2 = frr.clone();
        assert!(
            eventually(Duration::from_secs(5), move || frr2
                .neighbor_state("10.0.0.2")
                .as_deref()
                == Some("Established"))
            .await
        );
        let nb = frr.neighbor("10.0.0.2").unwrap();
        println!("FRR neighbor capabilities: {}", nb["neighborCapabilities"]);
        assert_eq!(nb["bgpTimerHoldTimeMsecs"], 9000);
        let caps = &nb["neighborCapabilities"];
        assert_eq!(caps["4byteAs"], "advertisedAndReceived");
        assert_eq!(caps["routeRefresh"], "advertisedAndReceivedNew");
        assert_eq!(
            caps["multiprotocolExtensions"]["ipv4Unicast"]["advertisedAndReceived"],
            true
        );

        // FRR's route reaches us.
        let got = wait_event(
            &mut ev,
            Duration::from_secs(10),
            "UPDATE 10.99.0.0/24",
            |e| {
                matches!(e, PeerEvent::Update { update, .. }
                if update.nlri.iter().any(|n| n.prefix == "10.99.0.0/24".parse().unwrap()))
            },
        )
        .await;
        if let PeerEvent::Update { verdict, .. } = got {
            assert!(verdict.is_clean());
        }
        // Ours reaches FRR.
        peer.send_update(our_route(Ipv4Addr::new(10, 0, 0, 2)))
            .await
            .unwrap();
        let frr2 = frr.clone();
        assert!(
            eventually(Duration::from_secs(5), move || frr2
                .path_count("172.16.10.0/32")
                == 1)
            .await,
            "FRR did not get 172.16.10.0/32"
        );

        // `clear bgp` on FRR: we see the session go down (Cease 6/4) and come back.
        frr.vtysh("clear bgp 10.0.0.2").unwrap();
        let down = wait_event(&mut ev, Duration::from_secs(10), "Down after clear", |e| {
            matches!(e, PeerEvent::Down { .. })
        })
        .await;
        println!("after clear: {down:?}");
        if let PeerEvent::Down {
            reason: DownReason::NotificationReceived(n),
        } = &down
        {
            assert_eq!(n.code, 6);
        } else {
            panic!("unexpected down reason {down:?}");
        }
        let t1 = Instant::now();
        wait_event(&mut ev, Duration::from_secs(15), "re-Established", |e| {
            matches!(e, PeerEvent::Established(_))
        })
        .await;
        println!("FRR clear: re-Established in {:?}", t1.elapsed());
        // Replay after reconnect, as a speaker does.
        peer.send_update(our_route(Ipv4Addr::new(10, 0, 0, 2)))
            .await
            .unwrap();
        let frr2 = frr.clone();
        assert!(
            eventually(Duration::from_secs(5), move || frr2
                .path_count("172.16.10.0/32")
                == 1)
            .await
        );

        // FRR shuts the neighbour down with a message (RFC 9003).
        frr.vtysh_multi(&[
            "configure terminal",
            "router bgp 64512",
            "neighbor 10.0.0.2 shutdown message planned maintenance",
        ])
        .unwrap();
        let down = wait_event(
            &mut ev,
            Duration::from_secs(10),
            "Down after shutdown",
            |e| matches!(e, PeerEvent::Down { .. }),
        )
        .await;
        let PeerEvent::Down { reason } = down else {
            unreachable!()
        };
        println!("FRR shutdown: {reason:?}");
        assert_eq!(
            reason.shutdown_message().as_deref(),
            Some("planned maintenance")
        );
        peer.shutdown(None).await.unwrap();
    });
}

/// Freeze FRR: our hold timer (9 s) fires and we send 4/0.
#[test]
fn frr_frozen_hold_timer_expires() {
    if !require_root_and(FRR_BINS) {
        return;
    }
    let lab = lab("", None);
    let frr = lab.frr.clone();
    in_netns(&lab.node, move || async move {
        let peer = spawn_peer(cfg(), None);
        let mut ev = peer.take_events().unwrap();
        wait_event(&mut ev, Duration::from_secs(15), "Established", |e| {
            matches!(e, PeerEvent::Established(_))
        })
        .await;
        let pid = frr.bgpd_pid();
        signal(pid, "STOP");
        let t0 = Instant::now();
        let down = wait_event(&mut ev, Duration::from_secs(15), "Down", |e| {
            matches!(e, PeerEvent::Down { .. })
        })
        .await;
        let waited = t0.elapsed();
        signal(pid, "CONT");
        println!("hold timer fired {waited:?} after SIGSTOP");
        assert_eq!(
            down,
            PeerEvent::Down {
                reason: DownReason::HoldTimerExpired
            }
        );
        assert!(waited <= Duration::from_secs(10), "{waited:?}");
        assert_eq!(peer.state(), State::Idle);
        peer.shutdown(None).await.unwrap();
    });
}

/// TCP MD5 with FRR's `neighbor X password`: the right password establishes, a wrong one never.
#[test]
fn frr_md5_password() {
    if !require_root_and(FRR_BINS) {
        return;
    }
    let lab = lab("", Some("s3cr3t-md5"));
    let frr = lab.frr.clone();
    in_netns(&lab.node, move || async move {
        // Wrong password first: never established.
        let mut bad = cfg();
        bad.md5_password = Some("wrong".into());
        let peer = spawn_peer(bad, None);
        assert!(
            !peer.wait_established(Duration::from_secs(6)).await,
            "wrong MD5 key established"
        );
        assert_ne!(
            frr.neighbor_state("10.0.0.2").as_deref(),
            Some("Established")
        );
        peer.shutdown(None).await.unwrap();
        // The right one.
        let mut good = cfg();
        good.md5_password = Some("s3cr3t-md5".into());
        let peer = spawn_peer(good, None);
        assert!(
            peer.wait_established(Duration::from_secs(15)).await,
            "state {:?}",
            peer.state()
        );
        peer.shutdown(None).await.unwrap();
        // Passive on a dual-stack listener: the key is installed for the v4-mapped address and
        // FRR's signed connection is accepted.
        let listener = bgp_fsm::driver::Listener::bind("[::]:179".parse().unwrap())
            .await
            .unwrap();
        let mut passive = cfg();
        passive.passive = true;
        passive.md5_password = Some("s3cr3t-md5".into());
        let peer = spawn_peer(passive, Some(&listener));
        assert!(
            peer.wait_established(Duration::from_secs(20)).await,
            "passive MD5: {:?}",
            peer.state()
        );
        assert_eq!(peer.connection().unwrap().0.port(), 179);
        peer.shutdown(None).await.unwrap();
    });
}

/// eBGP over IPv6 transport with IPv6 unicast, GTSM off, routes both ways.
#[test]
fn frr_ebgp_ipv6_transport() {
    if !require_root_and(FRR_BINS) {
        return;
    }
    let router = Netns::new("fr").unwrap();
    let node = Netns::new("fn").unwrap();
    let _veth = link(&router, "fd00::1/64", &node, "fd00::2/64").unwrap();
    let mut conf = Frr::config(65001, "10.0.0.1", &[("fd00::2", 65002)]);
    conf.push_str(
        " address-family ipv6 unicast\n  neighbor fd00::2 activate\n  network fd99::/64\n exit-address-family\n",
    );
    let frr = Arc::new(Frr::start(&router, &conf).unwrap());
    in_netns(&node, move || async move {
        let mut c = PeerConfig::new(
            65002,
            65001,
            Ipv4Addr::new(10, 0, 0, 2),
            "fd00::1".parse().unwrap(),
        );
        c.hold_time = 9;
        c.connect_retry = Duration::from_secs(2);
        c.families = vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST];
        let t0 = Instant::now();
        let peer = spawn_peer(c, None);
        let mut ev = peer.take_events().unwrap();
        let up = wait_event(&mut ev, Duration::from_secs(15), "Established", |e| {
            matches!(e, PeerEvent::Established(_))
        })
        .await;
        println!("FRR eBGP/IPv6: Established in {:?}", t0.elapsed());
        let PeerEvent::Established(n) = up else {
            unreachable!()
        };
        assert_eq!(n.peer_as, 65001);
        assert!(n.families.contains(&AfiSafi::IPV6_UNICAST));
        // FRR's IPv6 route arrives in MP_REACH_NLRI.
        wait_event(&mut ev, Duration::from_secs(10), "UPDATE fd99::/64", |e| {
            matches!(e, PeerEvent::Update { update, .. }
                if update.attributes.iter().any(|a| matches!(a, PathAttribute::MpReachNlri(r)
                    if r.nlri.prefixes().iter().any(|p| p.prefix == "fd99::/64".parse().unwrap()))))
        })
        .await;
        let nb = frr.neighbor("fd00::2").unwrap();
        assert_eq!(
            nb["neighborCapabilities"]["multiprotocolExtensions"]["ipv6Unicast"]["advertisedAndReceived"],
            true
        );
        peer.shutdown(Some("test over".into())).await.unwrap();
        // FRR saw our shutdown communication.
        let frr2 = frr.clone();
        assert!(
            eventually(Duration::from_secs(5), move || {
                frr2.neighbor("fd00::2")
                    .map(|n| n.to_string().contains("test over"))
                    .unwrap_or(false)
            })
            .await,
            "FRR did not record the shutdown message: {}",
            frr.neighbor("fd00::2").unwrap()
        );
    });
}

/// GTSM (RFC 5082) both ways. Sending: FRR with `ttl-security hops 1` accepts us only with
/// TTL 255. Receiving: against an eBGP FRR that sends with TTL 1, our IP_MINTTL 254 drops its
/// packets, so the session that comes up without GTSM never does with it.
#[test]
fn frr_gtsm() {
    if !require_root_and(FRR_BINS) {
        return;
    }
    let lab1 = lab(" neighbor 10.0.0.2 ttl-security hops 1\n", None);
    in_netns(&lab1.node, move || async move {
        let mut c = cfg();
        c.gtsm = true;
        let peer = spawn_peer(c, None);
        assert!(
            peer.wait_established(Duration::from_secs(15)).await,
            "{:?}",
            peer.state()
        );
        peer.shutdown(None).await.unwrap();
    });
    drop(lab1);

    let router = Netns::new("fr").unwrap();
    let node = Netns::new("fn").unwrap();
    let _veth = link(&router, "10.0.0.1/24", &node, "10.0.0.2/24").unwrap();
    let _frr = Frr::start(
        &router,
        &Frr::config(65001, "10.0.0.1", &[("10.0.0.2", 65002)]),
    )
    .unwrap();
    in_netns(&node, move || async move {
        let mut c = cfg();
        c.local_as = 65002;
        c.peer_as = 65001;
        let peer = spawn_peer(c.clone(), None);
        assert!(
            peer.wait_established(Duration::from_secs(15)).await,
            "eBGP without GTSM: {:?}",
            peer.state()
        );
        peer.shutdown(None).await.unwrap();
        c.gtsm = true;
        let peer = spawn_peer(c, None);
        assert!(
            !peer.wait_established(Duration::from_secs(5)).await,
            "TTL-1 packets got through our GTSM"
        );
        peer.shutdown(None).await.unwrap();
    });
}

/// Passive: FRR connects to our shared Listener, which hands the connection to the peer whose
/// address matches. Then both sides active and listening (collision): one session, stable.
#[test]
fn frr_connects_to_our_listener_and_collision() {
    if !require_root_and(FRR_BINS) {
        return;
    }
    let lab = lab("", None);
    let frr = lab.frr.clone();
    in_netns(&lab.node, move || async move {
        let listener = bgp_fsm::driver::Listener::bind("0.0.0.0:179".parse().unwrap())
            .await
            .unwrap();
        let mut c = cfg();
        c.passive = true;
        let peer = spawn_peer(c, Some(&listener));
        let t0 = Instant::now();
        assert!(
            peer.wait_established(Duration::from_secs(20)).await,
            "{:?}",
            peer.state()
        );
        println!(
            "FRR connected to our listener; Established after {:?}",
            t0.elapsed()
        );
        let (local, remote) = peer.connection().unwrap();
        assert_eq!(
            local.port(),
            179,
            "the session runs on the connection FRR opened"
        );
        assert_eq!(remote.ip(), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        peer.shutdown(None).await.unwrap();

        // Both active with listeners: whatever collides is resolved, one session stays up.
        for round in 0..3 {
            let peer = spawn_peer(cfg(), Some(&listener));
            let mut ev = peer.take_events().unwrap();
            assert!(
                peer.wait_established(Duration::from_secs(20)).await,
                "round {round}: {:?}",
                peer.state()
            );
            tokio::time::sleep(Duration::from_secs(3)).await;
            assert_eq!(peer.state(), State::Established, "round {round}");
            let frr2 = frr.clone();
            assert!(
                eventually(Duration::from_secs(5), move || frr2
                    .neighbor_state("10.0.0.2")
                    .as_deref()
                    == Some("Established"))
                .await
            );
            let mut collisions = 0;
            while let Ok(e) = ev.try_recv() {
                if matches!(e, PeerEvent::NotificationSent(ref n) | PeerEvent::NotificationReceived(ref n) if n.code == 6 && n.subcode == 7)
                {
                    collisions += 1;
                }
                assert!(!matches!(e, PeerEvent::Down { .. }), "round {round}: {e:?}");
            }
            println!("round {round}: {collisions} Cease 6/7 seen");
            peer.shutdown(None).await.unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
}

/// FRR delays its OPEN (`timers delayopen 3`, its DelayOpen) while we listen and connect: the
/// session still comes up once, and stays up. (The deterministic collision test with a
/// scripted peer is in driver_loopback.rs.)
#[test]
fn frr_delay_open_peer() {
    if !require_root_and(FRR_BINS) {
        return;
    }
    let lab = lab(" neighbor 10.0.0.2 timers delayopen 3\n", None);
    let frr = lab.frr.clone();
    in_netns(&lab.node, move || async move {
        let listener = bgp_fsm::driver::Listener::bind("0.0.0.0:179".parse().unwrap())
            .await
            .unwrap();
        let peer = spawn_peer(cfg(), Some(&listener));
        let mut ev = peer.take_events().unwrap();
        assert!(
            peer.wait_established(Duration::from_secs(20)).await,
            "{:?}",
            peer.state()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(peer.state(), State::Established);
        let frr2 = frr.clone();
        assert!(
            eventually(Duration::from_secs(5), move || frr2
                .neighbor_state("10.0.0.2")
                .as_deref()
                == Some("Established"))
            .await
        );
        let (local, _) = peer.connection().unwrap();
        let mut seen = Vec::new();
        while let Ok(e) = ev.try_recv() {
            seen.push(e);
        }
        let collisions = seen
            .iter()
            .filter(|e| matches!(e, PeerEvent::NotificationSent(n) | PeerEvent::NotificationReceived(n) if n.code == 6 && n.subcode == 7))
            .count();
        println!(
            "FRR delayopen: {collisions} Cease 6/7; session on local port {}",
            local.port()
        );
        assert!(
            !seen.iter().any(|e| matches!(e, PeerEvent::Down { .. })),
            "{seen:?}"
        );
        peer.shutdown(None).await.unwrap();
    });
}

/// The configured TTL (eBGP multihop) is what our BGP packets carry (segments the kernel sends
/// for closed sockets, such as RSTs, keep the default TTL), and tshark finds nothing
/// malformed in the whole exchange (OPEN, KEEPALIVE, UPDATE, NOTIFICATION).
#[test]
fn frr_ttl_on_the_wire_and_clean_capture() {
    if !require_root_and(&["ip", "vtysh", "/usr/lib/frr/bgpd", "tcpdump", "tshark"]) {
        return;
    }
    let lab = lab("", None);
    let mut cap = testlab::Capture::start(&lab.node, lab._veth.b_if(), None).unwrap();
    let frr = lab.frr.clone();
    in_netns(&lab.node, move || async move {
        let mut c = cfg();
        c.ttl = Some(5);
        let peer = spawn_peer(c, None);
        assert!(peer.wait_established(Duration::from_secs(15)).await);
        peer.send_update(our_route(Ipv4Addr::new(10, 0, 0, 2)))
            .await
            .unwrap();
        let frr2 = frr.clone();
        assert!(
            eventually(Duration::from_secs(5), move || frr2
                .path_count("172.16.10.0/32")
                == 1)
            .await
        );
        peer.shutdown(Some("capture done".into())).await.unwrap();
    });
    std::thread::sleep(Duration::from_millis(300));
    cap.stop().unwrap();
    let ttls = cap.fields("ip.src==10.0.0.2 && bgp", &["ip.ttl"]).unwrap();
    assert!(!ttls.is_empty());
    assert!(ttls.iter().all(|t| t[0] == "5"), "{ttls:?}");
    assert_eq!(cap.malformed_count().unwrap(), 0);
    for t in [1u8, 2, 3, 4] {
        assert!(
            cap.bgp_message_count(t).unwrap() >= 1,
            "no BGP message of type {t}"
        );
    }
}

/// Every optional capability we offer, as FRR sees it, and ADD-PATH both ways: FRR sends
/// path identifiers (`addpath-tx-all-paths`), we decode them; ours reach FRR.
#[test]
fn frr_capabilities_and_add_path() {
    if !require_root_and(FRR_BINS) {
        return;
    }
    let lab = lab(
        " address-family ipv4 unicast\n  network 10.99.0.0/24\n  neighbor 10.0.0.2 addpath-tx-all-paths\n exit-address-family\n",
        None,
    );
    let frr = lab.frr.clone();
    in_netns(&lab.node, move || async move {
        let mut c = cfg();
        c.extended_message = true;
        c.enhanced_route_refresh = true;
        c.add_path = vec![(AfiSafi::IPV4_UNICAST, bgp_wire::message::AddPathMode::Both)];
        c.graceful_restart = Some(bgp_fsm::GracefulRestartConfig {
            restart_time: 120,
            restart_state: false,
            notification: true,
            families: vec![bgp_wire::message::GracefulRestartFamily {
                af: AfiSafi::IPV4_UNICAST,
                forwarding_preserved: false,
            }],
        });
        let peer = spawn_peer(c, None);
        let mut ev = peer.take_events().unwrap();
        let up = wait_event(&mut ev, Duration::from_secs(15), "Established", |e| {
            matches!(e, PeerEvent::Established(_))
        })
        .await;
        let PeerEvent::Established(n) = up else {
            unreachable!()
        };
        assert!(n.extended_message && n.enhanced_route_refresh);
        assert!(n.context.extended_message);
        assert_eq!(n.context.add_path_receive, vec![AfiSafi::IPV4_UNICAST]);
        assert_eq!(n.context.add_path_send, vec![AfiSafi::IPV4_UNICAST]);
        assert!(n.peer_graceful_restart.is_some());
        let nb = frr.neighbor("10.0.0.2").unwrap();
        let caps = &nb["neighborCapabilities"];
        println!("FRR sees: {caps}");
        assert_eq!(caps["extendedMessage"], "advertisedAndReceived");
        assert_eq!(caps["enhancedRouteRefresh"], "advertisedAndReceived");
        assert_eq!(caps["gracefulRestart"], "advertisedAndReceived");
        assert_eq!(caps["gracefulRestartRemoteTimerMsecs"], 120000);
        let ap = &caps["addPath"]["ipv4Unicast"];
        assert_eq!(ap["txAdvertisedAndReceived"], true, "{ap}");
        assert_eq!(ap["rxAdvertisedAndReceived"], true, "{ap}");
        // FRR's route arrives with a path identifier.
        let got = wait_event(
            &mut ev,
            Duration::from_secs(10),
            "10.99.0.0/24 with path id",
            |e| {
                matches!(e, PeerEvent::Update { update, .. }
                if update.nlri.iter().any(|n| n.prefix == "10.99.0.0/24".parse().unwrap()))
            },
        )
        .await;
        let PeerEvent::Update { update, verdict } = got else {
            unreachable!()
        };
        assert!(verdict.is_clean(), "{verdict:?}");
        assert!(
            update.nlri.iter().all(|n| n.path_id.is_some()),
            "{update:?}"
        );
        // Two paths of ours with distinct identifiers: FRR keeps both.
        for id in [1u32, 2] {
            let mut r = our_route(Ipv4Addr::new(10, 0, 0, 2));
            r.nlri = vec![Nlri::with_path_id("172.16.10.0/32".parse().unwrap(), id)];
            if id == 2 {
                r.attributes.push(PathAttribute::MultiExitDisc(10));
            }
            peer.send_update(r).await.unwrap();
        }
        let frr2 = frr.clone();
        assert!(
            eventually(Duration::from_secs(5), move || frr2
                .path_count("172.16.10.0/32")
                == 2)
            .await,
            "{}",
            frr.route_json("172.16.10.0/32").unwrap()
        );
        peer.shutdown(None).await.unwrap();
    });
}

/// Our DelayOpen (5 s) against FRR, which sends its OPEN at once: ours follows FRR's
/// immediately (Event 20) instead of waiting for the DelayOpenTimer.
#[test]
fn frr_our_delay_open() {
    if !require_root_and(FRR_BINS) {
        return;
    }
    let lab = lab("", None);
    in_netns(&lab.node, move || async move {
        let mut c = cfg();
        c.delay_open = Some(Duration::from_secs(5));
        let t0 = Instant::now();
        let peer = spawn_peer(c, None);
        assert!(
            peer.wait_established(Duration::from_secs(10)).await,
            "{:?}",
            peer.state()
        );
        let took = t0.elapsed();
        println!("with DelayOpen 5 s: Established after {took:?}");
        assert!(
            took < Duration::from_secs(4),
            "waited for the DelayOpenTimer: {took:?}"
        );
        peer.shutdown(None).await.unwrap();
    });
}

/// Single-hop eBGP by default: with no TTL configured our packets to an eBGP peer carry TTL 1,
/// so a peer one router away is out of reach; configuring TTL 2 (eBGP multihop) reaches it.
/// The node and FRR are joined through a third namespace that forwards.
#[test]
fn frr_ebgp_default_ttl_one_and_multihop() {
    if !require_root_and(&[
        "ip",
        "vtysh",
        "/usr/lib/frr/bgpd",
        "/usr/lib/frr/zebra",
        "tcpdump",
        "tshark",
    ]) {
        return;
    }
    let router = Netns::new("fr").unwrap();
    let mid = Netns::new("fm").unwrap();
    let node = Netns::new("fn").unwrap();
    let _v1 = link(&router, "10.1.0.1/24", &mid, "10.1.0.2/24").unwrap();
    let v2 = link(&mid, "10.2.0.1/24", &node, "10.2.0.2/24").unwrap();
    mid.enable_forwarding().unwrap();
    router.add_route("10.2.0.0/24", "10.1.0.2").unwrap();
    node.add_route("10.1.0.0/24", "10.2.0.1").unwrap();
    let mut conf = Frr::config(65001, "10.1.0.1", &[("10.2.0.2", 65002)]);
    conf.push_str(" neighbor 10.2.0.2 ebgp-multihop 2\n");
    let frr = Arc::new(Frr::start(&router, &conf).unwrap());
    let ebgp = |ttl: Option<u8>| {
        let mut c = PeerConfig::new(
            65002,
            65001,
            Ipv4Addr::new(10, 2, 0, 2),
            IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1)),
        );
        c.hold_time = 9;
        c.connect_retry = Duration::from_secs(1);
        c.idle_hold = Some(Duration::from_millis(200));
        c.local_addr = Some("10.2.0.2".parse().unwrap());
        c.ttl = ttl;
        c
    };

    // Default: TTL 1 dies in the middle namespace; no session in 5 s of retries. (The second
    // half shows the path through the middle works.)
    let mut cap = testlab::Capture::start(&node, v2.b_if(), None).unwrap();
    let c1 = ebgp(None);
    in_netns(&node, move || async move {
        let peer = spawn_peer(c1, None);
        assert!(
            !peer.wait_established(Duration::from_secs(5)).await,
            "an eBGP session with the default TTL crossed a router"
        );
        peer.shutdown(None).await.unwrap();
    });
    cap.stop().unwrap();
    let syn_ttls = cap
        .fields(
            "ip.src==10.2.0.2 && tcp.dstport==179 && tcp.flags.syn==1",
            &["ip.ttl"],
        )
        .unwrap();
    assert!(
        syn_ttls.len() >= 2,
        "expected connect retries: {syn_ttls:?}"
    );
    assert!(syn_ttls.iter().all(|t| t[0] == "1"), "{syn_ttls:?}");

    // Multihop: TTL 2 reaches FRR, the session comes up and carries a route.
    let mut cap = testlab::Capture::start(&node, v2.b_if(), None).unwrap();
    let c2 = ebgp(Some(2));
    let frr2 = frr.clone();
    in_netns(&node, move || async move {
        let peer = spawn_peer(c2, None);
        assert!(peer.wait_established(Duration::from_secs(15)).await);
        // As eBGP sends it: our AS in the path, no LOCAL_PREF.
        let mut u = our_route(Ipv4Addr::new(10, 2, 0, 2));
        u.attributes
            .retain(|a| !matches!(a, PathAttribute::LocalPref(_)));
        for a in &mut u.attributes {
            if let PathAttribute::AsPath(p) = a {
                *p = AsPath::from_sequence([65002]);
            }
        }
        peer.send_update(u).await.unwrap();
        let f = frr2.clone();
        assert!(
            eventually(Duration::from_secs(5), move || f
                .path_count("172.16.10.0/32")
                == 1)
            .await,
            "FRR did not take the route over the multihop session"
        );
        peer.shutdown(None).await.unwrap();
    });
    std::thread::sleep(Duration::from_millis(300));
    cap.stop().unwrap();
    let ttls = cap.fields("ip.src==10.2.0.2 && bgp", &["ip.ttl"]).unwrap();
    assert!(!ttls.is_empty());
    assert!(ttls.iter().all(|t| t[0] == "2"), "{ttls:?}");
}
