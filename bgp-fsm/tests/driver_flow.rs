//! Flow control of the driver over loopback: an application that takes its events in bursts
//! gets every UPDATE, in order and without stalls, while the peer holds input back between
//! bursts.
#![cfg(feature = "tokio")]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use bgp_fsm::driver::{Listener, PeerConfig, PeerEvent, spawn_peer};
use bgp_wire::attr::{AsPath, Origin};
use bgp_wire::{Nlri, PathAttribute, Update};

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

fn route(i: u32) -> Update {
    Update {
        withdrawn: vec![],
        attributes: vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(AsPath::from_sequence([65002])),
            PathAttribute::NextHop(Ipv4Addr::new(192, 168, 1, 10)),
        ],
        nlri: vec![Nlri::new(
            format!("10.{}.{}.0/24", i / 256, i % 256).parse().unwrap(),
        )],
    }
}

#[tokio::test]
async fn bursty_consumer_gets_every_update_without_stalls() {
    let listener = Listener::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    // Default hold time (90 s): a stall until the next KEEPALIVE would take up to 30 s.
    let mut pa = PeerConfig::new(65001, 65002, Ipv4Addr::new(10, 0, 0, 1), B);
    pa.passive = true;
    let a = spawn_peer(pa, Some(&listener));
    let mut pb = PeerConfig::new(65002, 65001, Ipv4Addr::new(10, 0, 0, 3), A);
    pb.peer_port = listener.local_addr().port();
    pb.local_addr = Some(B);
    pb.connect_retry = Duration::from_secs(1);
    let b = spawn_peer(pb, None);
    let mut ev = a.take_events().unwrap();
    assert!(a.wait_established(Duration::from_secs(10)).await);
    assert!(b.wait_established(Duration::from_secs(10)).await);
    const N: u32 = 3000;
    let sender = {
        let b = b.clone();
        tokio::spawn(async move {
            for i in 0..N {
                b.send_update(route(i)).await.unwrap();
            }
        })
    };
    let t0 = Instant::now();
    let mut next = 0u32;
    let mut seen = 0u32;
    while next < N {
        let e = tokio::time::timeout(Duration::from_secs(5), ev.recv())
            .await
            .expect("no event for 5 s: the peer stalled")
            .unwrap();
        if let PeerEvent::Update { update, .. } = e {
            assert_eq!(update.nlri, route(next).nlri, "in order");
            next += 1;
        }
        seen += 1;
        if seen.is_multiple_of(200) {
            // The application is busy: the channel and the peer's queue fill up.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    println!(
        "{N} UPDATEs through a bursty consumer in {:?}",
        t0.elapsed()
    );
    sender.await.unwrap();
    a.shutdown(None).await.unwrap();
    b.shutdown(None).await.unwrap();
}

/// `send_updates`: batches far larger than the 64 KiB send buffer arrive whole and in order
/// through a bursty consumer, and a batch returns only once every UPDATE is buffered (so the
/// sender is held back by TCP, never by an unbounded queue).
#[tokio::test]
async fn batches_of_updates_arrive_in_order_and_whole() {
    let listener = Listener::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut pa = PeerConfig::new(65001, 65002, Ipv4Addr::new(10, 0, 0, 1), B);
    pa.passive = true;
    let a = spawn_peer(pa, Some(&listener));
    let mut pb = PeerConfig::new(65002, 65001, Ipv4Addr::new(10, 0, 0, 3), A);
    pb.peer_port = listener.local_addr().port();
    pb.local_addr = Some(B);
    pb.connect_retry = Duration::from_secs(1);
    let b = spawn_peer(pb, None);
    let mut ev = a.take_events().unwrap();
    assert!(a.wait_established(Duration::from_secs(10)).await);
    assert!(b.wait_established(Duration::from_secs(10)).await);
    // 6 batches of 1000 (about 45 octets each: 45 KB per batch, 270 KB in all).
    const BATCH: u32 = 1000;
    const N: u32 = 6 * BATCH;
    let sender = {
        let b = b.clone();
        tokio::spawn(async move {
            for k in 0..N / BATCH {
                b.send_updates((k * BATCH..(k + 1) * BATCH).map(route).collect())
                    .await
                    .unwrap();
            }
            b.send_updates(Vec::new()).await.unwrap();
        })
    };
    let mut next = 0u32;
    while next < N {
        let e = tokio::time::timeout(Duration::from_secs(5), ev.recv())
            .await
            .expect("no event for 5 s: the batch stalled")
            .unwrap();
        if let PeerEvent::Update { update, .. } = e {
            assert_eq!(update.nlri, route(next).nlri, "in order");
            next += 1;
            if next.is_multiple_of(500) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    sender.await.unwrap();
    a.shutdown(None).await.unwrap();
    // Once the session is gone a batch fails instead of hanging.
    let t0 = Instant::now();
    while b.state() == bgp_fsm::State::Established {
        assert!(t0.elapsed() < Duration::from_secs(5), "b saw no Cease");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let r = tokio::time::timeout(Duration::from_secs(5), b.send_updates(vec![route(0)]))
        .await
        .expect("a batch without a session returns");
    assert!(r.is_err());
    b.shutdown(None).await.unwrap();
}
