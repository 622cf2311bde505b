//! The tokio driver against itself over loopback (no root needed).
#![cfg(feature = "tokio")]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use bgp_fsm::State;
use bgp_fsm::driver::{Listener, PeerConfig, PeerEvent, PeerHandle, spawn_peer};
use bgp_wire::attr::{AsPath, Origin};
use bgp_wire::{Nlri, PathAttribute, Update};
use tokio::sync::mpsc;

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

async fn next_matching(
    rx: &mut mpsc::Receiver<PeerEvent>,
    what: &str,
    f: impl Fn(&PeerEvent) -> bool,
) -> PeerEvent {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ev)) if f(&ev) => return ev,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("event channel closed while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

/// A passive side listening on 127.0.0.1 and an active side connecting from 127.0.0.2.
async fn pair(local_as: u32, peer_as: u32) -> (PeerHandle, PeerHandle, Listener) {
    let listener = Listener::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut pa = PeerConfig::new(local_as, peer_as, Ipv4Addr::new(10, 0, 0, 1), B);
    pa.passive = true;
    pa.hold_time = 9;
    let a = spawn_peer(pa, Some(&listener));
    let mut pb = PeerConfig::new(peer_as, local_as, Ipv4Addr::new(10, 0, 0, 2), A);
    pb.peer_port = listener.local_addr().port();
    pb.local_addr = Some(B);
    pb.hold_time = 9;
    pb.connect_retry = Duration::from_secs(2);
    let b = spawn_peer(pb, None);
    (a, b, listener)
}

fn route() -> Update {
    Update {
        withdrawn: vec![],
        attributes: vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(AsPath::default()),
            PathAttribute::NextHop(Ipv4Addr::new(192, 168, 1, 10)),
            PathAttribute::LocalPref(100),
        ],
        nlri: vec![Nlri::new("172.16.10.0/32".parse().unwrap())],
    }
}

#[tokio::test]
async fn establish_exchange_update_and_shutdown_with_message() {
    let t0 = Instant::now();
    let (a, b, _l) = pair(64512, 64512).await;
    let mut ea = a.take_events().unwrap();
    let mut eb = b.take_events().unwrap();
    assert!(
        a.wait_established(Duration::from_secs(10)).await,
        "a not established"
    );
    assert!(
        b.wait_established(Duration::from_secs(10)).await,
        "b not established"
    );
    println!("loopback establishment: {:?}", t0.elapsed());
    let PeerEvent::Established(n) = next_matching(&mut ea, "Established", |e| {
        matches!(e, PeerEvent::Established(_))
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(n.peer_as, 64512);
    assert_eq!(n.hold_time, 9);
    assert_eq!(n.keepalive, 3);
    assert!(n.four_octet_as && n.route_refresh);
    next_matching(&mut eb, "Established", |e| {
        matches!(e, PeerEvent::Established(_))
    })
    .await;

    b.send_update(route()).await.unwrap();
    let PeerEvent::Update { update, verdict } =
        next_matching(&mut ea, "Update", |e| matches!(e, PeerEvent::Update { .. })).await
    else {
        unreachable!()
    };
    assert!(verdict.is_clean());
    assert_eq!(*update, route());

    a.route_refresh(bgp_wire::AfiSafi::IPV4_UNICAST)
        .await
        .unwrap();
    next_matching(&mut eb, "RouteRefresh", |e| {
        matches!(e, PeerEvent::RouteRefresh(_))
    })
    .await;

    b.clone()
        .shutdown(Some("maintenance window".into()))
        .await
        .unwrap();
    let PeerEvent::Down { reason } =
        next_matching(&mut ea, "Down", |e| matches!(e, PeerEvent::Down { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(
        reason.shutdown_message().as_deref(),
        Some("maintenance window")
    );
    // b's task stopped: the handle reports it.
    assert!(b.send_update(route()).await.is_err());
    a.shutdown(None).await.unwrap();
}

#[tokio::test]
async fn send_update_fails_when_not_established() {
    let mut cfg = PeerConfig::new(65001, 65002, Ipv4Addr::new(10, 0, 0, 1), B);
    cfg.passive = true;
    let h = spawn_peer(cfg, None);
    let err = h.send_update(route()).await.unwrap_err();
    assert!(
        matches!(
            err,
            bgp_fsm::driver::DriverError::NotEstablished(State::Active)
        ),
        "{err:?}"
    );
    h.shutdown(None).await.unwrap();
}

#[tokio::test]
async fn keepalives_hold_the_session_and_ebgp_negotiates() {
    let (a, b, _l) = pair(65001, 65002).await;
    assert!(a.wait_established(Duration::from_secs(10)).await);
    // Stay up across more than one hold time (9 s) thanks to keepalives (every 3 s).
    let mut w = a.watch_state();
    let stayed = tokio::time::timeout(
        Duration::from_secs(10),
        w.wait_for(|s| *s != State::Established),
    )
    .await;
    assert!(stayed.is_err(), "session dropped: {:?}", a.state());
    assert_eq!(b.state(), State::Established);
    a.shutdown(None).await.unwrap();
    b.shutdown(None).await.unwrap();
}

/// Both sides connect actively and listen: whatever the race, one session comes up on both
/// and stays up (the collision, when it happens, is resolved the same way on both sides).
#[tokio::test]
async fn both_active_with_listeners_converge() {
    for round in 0..3 {
        let la = Listener::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let lb = Listener::bind("127.0.0.2:0".parse().unwrap())
            .await
            .unwrap();
        let mut ca = PeerConfig::new(65001, 65002, Ipv4Addr::new(10, 0, 0, 1), B);
        ca.peer_port = lb.local_addr().port();
        ca.local_addr = Some(A);
        ca.hold_time = 9;
        let mut cb = PeerConfig::new(65002, 65001, Ipv4Addr::new(10, 0, 0, 2), A);
        cb.peer_port = la.local_addr().port();
        cb.local_addr = Some(B);
        cb.hold_time = 9;
        let a = spawn_peer(ca, Some(&la));
        let b = spawn_peer(cb, Some(&lb));
        assert!(
            a.wait_established(Duration::from_secs(10)).await,
            "round {round}: a {:?}",
            a.state()
        );
        assert!(
            b.wait_established(Duration::from_secs(10)).await,
            "round {round}: b {:?}",
            b.state()
        );
        // Still up a little later (no late collision teardown).
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(a.state(), State::Established);
        assert_eq!(b.state(), State::Established);
        a.shutdown(None).await.unwrap();
        b.shutdown(None).await.unwrap();
    }
}

mod scripted {
    //! A scripted peer over raw TCP, to force a connection collision deterministically.
    use super::*;
    use bgp_fsm::{SessionConfig, build_open};
    use bgp_wire::{Message, Notification, SessionContext};
    use bytes::BytesMut;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpSocket, TcpStream};

    async fn send(s: &mut TcpStream, m: Message) {
        let mut b = BytesMut::new();
        bgp_wire::encode_message(&m, &SessionContext::modern(), &mut b).unwrap();
        s.write_all(&b).await.unwrap();
    }

    async fn recv(s: &mut TcpStream) -> Message {
        let mut head = [0u8; 19];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut head))
            .await
            .expect("read timeout")
            .unwrap();
        let len = usize::from(u16::from_be_bytes([head[16], head[17]]));
        let mut body = vec![0u8; len - 19];
        s.read_exact(&mut body).await.unwrap();
        let mut all = head.to_vec();
        all.extend_from_slice(&body);
        bgp_wire::decode_message(all.into(), &SessionContext::modern())
            .unwrap()
            .message
    }

    /// Our side (router id `ours`) connects to the script; the script also connects to our
    /// listener; both connections get OPENs. Returns (events, whether the session ended on
    /// the connection we opened).
    async fn collide(ours: Ipv4Addr, theirs: Ipv4Addr) -> (bool, Notification) {
        let script = TcpListener::bind("127.0.0.2:0").await.unwrap();
        let listener = Listener::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let mut c = PeerConfig::new(65001, 65002, ours, B);
        c.peer_port = script.local_addr().unwrap().port();
        c.local_addr = Some(A);
        let peer = spawn_peer(c, Some(&listener));
        // 1. Our outgoing connection arrives; read our OPEN, answer nothing yet.
        let (mut out_conn, _) = script.accept().await.unwrap();
        assert!(matches!(recv(&mut out_conn).await, Message::Open(_)));
        // 2. The script connects to our listener from the peer's address.
        let sock = TcpSocket::new_v4().unwrap();
        sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let mut in_conn = sock.connect(listener.local_addr()).await.unwrap();
        assert!(
            matches!(recv(&mut in_conn).await, Message::Open(_)),
            "OPEN on the 2nd connection"
        );
        // 3. The script's OPEN on its own connection.
        let open = build_open(&SessionConfig::new(65002, 65001, theirs));
        send(&mut in_conn, Message::Open(open.clone())).await;
        // The driver resolves now: the loser gets Cease 6/7.
        let we_win = u32::from(ours) > u32::from(theirs);
        let (loser, winner) = if we_win {
            (&mut in_conn, &mut out_conn)
        } else {
            (&mut out_conn, &mut in_conn)
        };
        let mut cease = None;
        for _ in 0..3 {
            if let Message::Notification(n) = recv(loser).await {
                cease = Some(n);
                break;
            }
        }
        let cease = cease.expect("a NOTIFICATION on the losing connection");
        // 4. Finish the handshake on the winner.
        if we_win {
            send(winner, Message::Open(open)).await;
        }
        send(winner, Message::Keepalive).await;
        assert!(
            peer.wait_established(Duration::from_secs(5)).await,
            "{:?}",
            peer.state()
        );
        let (local, _) = peer.connection().unwrap();
        let on_outgoing = local.port() != listener.local_addr().port();
        peer.shutdown(None).await.unwrap();
        (on_outgoing, cease)
    }

    /// A connection arriving while the session is Established loses (Established wins):
    /// Cease 6/7 on the new connection, the session stays up.
    #[tokio::test]
    async fn established_session_wins_over_a_new_connection() {
        let (a, b, listener) = pair(65001, 65002).await;
        assert!(a.wait_established(Duration::from_secs(10)).await);
        let sock = TcpSocket::new_v4().unwrap();
        sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let mut extra = sock.connect(listener.local_addr()).await.unwrap();
        match recv(&mut extra).await {
            Message::Notification(n) => assert_eq!((n.code, n.subcode), (6, 7)),
            m => panic!("expected Cease 6/7, got {m:?}"),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(a.state(), State::Established);
        assert_eq!(b.state(), State::Established);
        a.shutdown(None).await.unwrap();
        b.shutdown(None).await.unwrap();
    }

    #[tokio::test]
    async fn collision_keeps_the_connection_of_the_larger_identifier() {
        // Theirs is larger: the connection they opened survives.
        let (on_outgoing, cease) =
            collide(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 9)).await;
        assert!(!on_outgoing);
        assert_eq!((cease.code, cease.subcode), (6, 7));
        // Ours is larger: our connection survives.
        let (on_outgoing, cease) =
            collide(Ipv4Addr::new(10, 0, 0, 9), Ipv4Addr::new(10, 0, 0, 1)).await;
        assert!(on_outgoing);
        assert_eq!((cease.code, cease.subcode), (6, 7));
    }
}

/// A peer whose events nobody takes keeps working (surplus events are dropped), and a late
/// taker still finds the first events in order.
#[tokio::test]
async fn untaken_events_never_stall_the_session() {
    let (a, b, _l) = pair(65001, 65002).await;
    assert!(a.wait_established(Duration::from_secs(10)).await);
    assert!(b.wait_established(Duration::from_secs(10)).await);
    for i in 0..300u32 {
        let mut u = route();
        u.nlri = vec![Nlri::new(
            format!("10.{}.{}.0/24", i / 256, i % 256).parse().unwrap(),
        )];
        u.attributes[1] = PathAttribute::AsPath(AsPath::from_sequence([65002]));
        b.send_update(u).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(a.state(), State::Established);
    let mut ev = a.take_events().unwrap();
    let first = ev.try_recv().unwrap();
    assert_eq!(
        first,
        PeerEvent::StateChanged {
            from: State::Idle,
            to: State::Active
        }
    );
    let mut n = 1;
    while ev.try_recv().is_ok() {
        n += 1;
    }
    assert_eq!(n, bgp_fsm::driver::EVENT_CAPACITY);
    a.shutdown(None).await.unwrap();
    b.shutdown(None).await.unwrap();
}

/// Backpressure end to end: the receiving application stops draining its events, its driver
/// stops reading, TCP fills up, the sender's bounded write queue fills, and `send_update`
/// waits instead of buffering without bound.
#[tokio::test]
async fn bounded_write_queue_pushes_back() {
    let (a, b, _l) = pair(65001, 65002).await;
    let _held = a.take_events().unwrap(); // taken, never drained
    assert!(a.wait_established(Duration::from_secs(10)).await);
    assert!(b.wait_established(Duration::from_secs(10)).await);
    let mut big = route();
    big.attributes[1] = PathAttribute::AsPath(AsPath::from_sequence([65002]));
    big.nlri = (0..780u32)
        .map(|i| Nlri::new(format!("10.{}.{}.1/32", i / 256, i % 256).parse().unwrap()))
        .collect();
    let mut sent = 0usize;
    let blocked = loop {
        match tokio::time::timeout(Duration::from_secs(1), b.send_update(big.clone())).await {
            Ok(r) => {
                r.unwrap();
                sent += 1;
                assert!(sent < 20_000, "never pushed back");
            }
            Err(_) => break true,
        }
    };
    println!("send_update blocked after {sent} UPDATEs of ~4 KB");
    assert!(blocked);
    assert_eq!(b.state(), State::Established);
    a.shutdown(None).await.unwrap();
    b.shutdown(None).await.unwrap();
}
