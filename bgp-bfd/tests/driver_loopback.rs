//! The tokio driver against itself on loopback (no root needed): two drivers on distinct
//! test ports come Up, change parameters through Poll/Final without a flap, check the TTL,
//! and see an AdminDown when the peer removes its session.
#![cfg(feature = "tokio")]

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::Duration;

use bgp_bfd::driver::{Bfd, DriverConfig, MULTIHOP_MIN_TTL, SessionHandle};
use bgp_bfd::{ControlPacket, Diag, Event, SessionConfig, State};
use bytes::Bytes;

const MS: Duration = Duration::from_millis(1);

fn ports(listen: u16, peer: u16) -> DriverConfig {
    DriverConfig {
        listen_port: listen,
        peer_port: peer,
        ipv6: false,
        ..DriverConfig::default()
    }
}

/// The octets of an AdminDown packet from session `from` to session `to` (Detect Mult 3).
fn admin_down(from: &SessionHandle, to: &SessionHandle) -> Bytes {
    ControlPacket::new(
        State::AdminDown,
        Diag::None,
        from.local_disc(),
        to.local_disc(),
    )
    .to_bytes()
    .unwrap()
}

#[tokio::test]
async fn two_drivers_on_loopback() {
    let (pa, pb) = (47_841, 47_842);
    let a = Bfd::spawn(ports(pa, pb)).await.unwrap();
    let b = Bfd::spawn(ports(pb, pa)).await.unwrap();
    let src = a.source_ports().0.unwrap();
    assert!((49152..=65535).contains(&src));
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let cfg = SessionConfig::new(50 * MS, 50 * MS, 3);
    let mut sa = a.add_session(lo, cfg.clone()).await.unwrap();
    let mut sb = b.add_session(lo, cfg).await.unwrap();
    assert!(a.add_session(lo, SessionConfig::default()).await.is_err());
    assert!(sa.wait_state(State::Up, Duration::from_secs(5)).await);
    assert!(sb.wait_state(State::Up, Duration::from_secs(5)).await);
    // Wait for the coming-Up Poll Sequence to end, then drain.
    let mut ev_a = sa.take_events().unwrap();
    let mut ev_b = sb.take_events().unwrap();
    tokio::time::sleep(300 * MS).await;
    while ev_a.try_recv().is_ok() {}
    while ev_b.try_recv().is_ok() {}
    assert_eq!(sb.info().tx_interval, 50 * MS);

    // Parameter change on a: b's detection time follows, nobody flaps.
    sa.set_parameters(80 * MS, 70 * MS, 4);
    tokio::time::sleep(500 * MS).await;
    assert_eq!(ev_a.try_recv().ok(), Some(Event::PollSequenceDone));
    assert!(ev_a.try_recv().is_err(), "a flapped");
    assert!(ev_b.try_recv().is_err(), "b flapped");
    assert_eq!(sb.info().detection_time, Some(4 * 80 * MS));
    assert_eq!(sb.info().tx_interval, 70 * MS);
    assert_eq!(sa.info().tx_interval, 80 * MS);

    // A packet with TTL 64 is discarded, whatever it says.
    let before = a.stats().discarded.load(Ordering::Relaxed);
    let raw = UdpSocket::bind("127.0.0.1:0").unwrap();
    raw.set_ttl(64).unwrap();
    raw.send_to(&admin_down(&sb, &sa), ("127.0.0.1", pa))
        .unwrap();
    tokio::time::sleep(100 * MS).await;
    assert_eq!(a.stats().discarded.load(Ordering::Relaxed), before + 1);
    assert_eq!(sa.info().state, State::Up);

    // b removes its session: a AdminDown goes out, a goes Down with diag 3 at once.
    drop(sb);
    assert!(sa.wait_state(State::Down, Duration::from_millis(200)).await);
    assert_eq!(sa.info().local_diag, Diag::NeighborSignaledSessionDown);
    assert_eq!(sa.info().remote_state, State::AdminDown);
    assert!(a.stats().sent.load(Ordering::Relaxed) > 10);
}

/// Multihop (RFC 5883) on loopback: two drivers with multihop sessions come Up over the
/// multihop ports; a packet with a TTL below the floor is discarded, one at the floor is
/// taken; a single-hop packet naming the multihop session is discarded; and a single-hop
/// session to the same address stays apart from the multihop one.
#[tokio::test]
async fn multihop_sessions_on_loopback() {
    let (pa, pb, ma, mb) = (47_851, 47_852, 47_853, 47_854);
    let mh = |listen, peer, m_listen, m_peer| DriverConfig {
        multihop_listen_port: Some(m_listen),
        multihop_peer_port: m_peer,
        ..ports(listen, peer)
    };
    let a = Bfd::spawn(mh(pa, pb, ma, mb)).await.unwrap();
    let b = Bfd::spawn(mh(pb, pa, mb, ma)).await.unwrap();
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let cfg = SessionConfig::new(50 * MS, 50 * MS, 3);
    let sa = a
        .add_multihop_session(lo, lo, MULTIHOP_MIN_TTL, cfg.clone())
        .await
        .unwrap();
    let sb = b
        .add_multihop_session(lo, lo, MULTIHOP_MIN_TTL, cfg.clone())
        .await
        .unwrap();
    assert!(
        a.add_multihop_session(lo, lo, MULTIHOP_MIN_TTL, cfg.clone())
            .await
            .is_err()
    );
    assert!(sa.wait_state(State::Up, Duration::from_secs(5)).await);
    assert!(sb.wait_state(State::Up, Duration::from_secs(5)).await);
    // A single-hop session to the same peer is a session of its own.
    let single = a.add_session(lo, cfg.clone()).await.unwrap();
    assert_ne!(single.local_disc(), sa.local_disc());
    tokio::time::sleep(200 * MS).await;
    assert_eq!(single.info().state, State::Down, "no single-hop peer on b");

    // Packets naming a's multihop session, each with an effect if accepted: AdminDown
    // takes the session Down at once (diag 3).
    let raw = UdpSocket::bind("127.0.0.1:0").unwrap();
    let bytes = admin_down(&sb, &sa);
    let discarded = || a.stats().discarded.load(Ordering::Relaxed);
    // Below the floor of 254 on the multihop port, and TTL 255 on the single-hop port:
    // each discarded, the session untouched.
    for (ttl, port) in [(253, ma), (255, pa)] {
        raw.set_ttl(ttl).unwrap();
        let d0 = discarded();
        raw.send_to(&bytes, ("127.0.0.1", port)).unwrap();
        tokio::time::sleep(50 * MS).await;
        assert_eq!(discarded(), d0 + 1, "ttl {ttl} to {port}");
        assert_eq!(sa.info().state, State::Up, "ttl {ttl} to {port}");
    }
    // At the floor: taken.
    raw.set_ttl(254).unwrap();
    raw.send_to(&bytes, ("127.0.0.1", ma)).unwrap();
    assert!(sa.wait_state(State::Down, 200 * MS).await);
    assert_eq!(sa.info().local_diag, Diag::NeighborSignaledSessionDown);
}

/// A multihop port held by someone else (another BFD daemon) leaves single hop working;
/// only adding a multihop session fails.
#[tokio::test]
async fn a_taken_multihop_port_leaves_single_hop() {
    let holder = UdpSocket::bind("0.0.0.0:47861").unwrap();
    let a = Bfd::spawn(DriverConfig {
        multihop_listen_port: Some(47_861),
        ..ports(47_862, 47_863)
    })
    .await
    .expect("single hop opens regardless");
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let cfg = SessionConfig::default();
    assert!(a.add_session(lo, cfg.clone()).await.is_ok());
    assert!(matches!(
        a.add_multihop_session(lo, lo, MULTIHOP_MIN_TTL, cfg).await,
        Err(bgp_bfd::driver::DriverError::NoSocket("multihop"))
    ));
    drop(holder);
}

/// A session configured for Echo where the driver cannot run it (no Echo port here; the
/// same holds for IPv6 and multihop sessions) runs without: it comes Up against a peer
/// that invites Echo packets and stays Up, rather than failing an Echo it never sent.
#[tokio::test]
async fn echo_that_cannot_run_is_left_off() {
    let (pa, pb) = (47_871, 47_872);
    let a = Bfd::spawn(DriverConfig {
        echo_port: None,
        ..ports(pa, pb)
    })
    .await
    .unwrap();
    let b = Bfd::spawn(ports(pb, pa)).await.unwrap();
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut ca = SessionConfig::new(50 * MS, 50 * MS, 3);
    ca.echo_tx = Some(20 * MS);
    let mut cb = SessionConfig::new(50 * MS, 50 * MS, 3);
    cb.required_min_echo_rx = 20 * MS;
    let mut sa = a.add_session(lo, ca).await.unwrap();
    let sb = b.add_session(lo, cb).await.unwrap();
    assert!(sa.wait_state(State::Up, Duration::from_secs(5)).await);
    assert!(sb.wait_state(State::Up, Duration::from_secs(5)).await);
    let mut ev = sa.take_events().unwrap();
    tokio::time::sleep(300 * MS).await;
    while ev.try_recv().is_ok() {}
    tokio::time::sleep(500 * MS).await;
    while let Ok(e) = ev.try_recv() {
        assert_eq!(e, Event::PollSequenceDone, "flap");
    }
    assert_eq!(sa.info().state, State::Up);
    assert!(!sa.info().echo);
    assert_eq!(a.stats().echo_sent.load(Ordering::Relaxed), 0);
}
