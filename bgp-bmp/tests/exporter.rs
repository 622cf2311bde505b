//! The exporter against an in-process station on loopback: Initiation first, messages in
//! order, and after the station goes away and comes back, Initiation and the up peers' Peer
//! Up messages again with a resync signal; route messages sent while no station listens are
//! discarded and counted.

use std::net::Ipv4Addr;
use std::time::Duration;

use bgp_bmp::message::PeerUp;
use bgp_bmp::{BmpCodec, Exporter, ExporterConfig, Message, PeerDownReason, PeerHeader};
use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use tokio::net::TcpListener;
use tokio_util::codec::FramedRead;

fn pdu(ty: u8, body: &[u8]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_slice(&[0xff; 16]);
    b.put_u16((19 + body.len()) as u16);
    b.put_u8(ty);
    b.put_slice(body);
    b.freeze()
}

fn peer(n: u8) -> PeerHeader {
    PeerHeader::new(
        format!("10.0.0.{n}").parse().unwrap(),
        65000 + n as u32,
        Ipv4Addr::new(n, n, n, n),
    )
}

fn peer_up(n: u8) -> Message {
    Message::PeerUp {
        peer: peer(n),
        up: Box::new(PeerUp {
            local_address: "10.0.0.1".parse().unwrap(),
            local_port: 179,
            remote_port: 40000,
            sent_open: pdu(1, &[4, 0, 1, 0, 90, 1, 1, 1, 1, 0]),
            received_open: pdu(1, &[4, 0, 2, 0, 90, 2, 2, 2, 2, 0]),
            information: vec![],
        }),
    }
}

fn route(n: u8) -> Message {
    Message::RouteMonitoring {
        peer: peer(n),
        update: pdu(2, &[0, 0, 0, 0]),
    }
}

async fn next(f: &mut FramedRead<tokio::net::TcpStream, BmpCodec>) -> Message {
    tokio::time::timeout(Duration::from_secs(5), f.next())
        .await
        .expect("station waited 5 s")
        .expect("stream ended")
        .expect("decode")
}

#[tokio::test]
async fn initiation_order_and_resync_after_reconnect() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let mut cfg = ExporterConfig::new(addr, "r1", "kube-bgp test");
    cfg.min_backoff = Duration::from_millis(50);
    cfg.max_backoff = Duration::from_millis(200);
    let ex = Exporter::spawn(cfg);
    // Queued before the connect completes: tracked, not a reason to abandon the connect.
    assert!(ex.try_send(peer_up(9)));
    assert!(ex.try_send(Message::PeerDown {
        peer: peer(9),
        reason: PeerDownReason::PeerDeconfigured,
    }));
    let mut resyncs = ex.resyncs();
    let (s, _) = l.accept().await.unwrap();
    let mut f = FramedRead::new(s, BmpCodec::default());
    assert!(matches!(next(&mut f).await, Message::Initiation(_)));
    resyncs.changed().await.unwrap();
    assert_eq!(*resyncs.borrow_and_update(), 1);
    for m in [peer_up(2), route(2), peer_up(3), route(3)] {
        ex.send(m).await;
    }
    ex.send(Message::PeerDown {
        peer: peer(3),
        reason: PeerDownReason::RemoteNoData,
    })
    .await;
    assert_eq!(next(&mut f).await, peer_up(2));
    assert_eq!(next(&mut f).await, route(2));
    assert_eq!(next(&mut f).await, peer_up(3));
    assert_eq!(next(&mut f).await, route(3));
    assert!(matches!(next(&mut f).await, Message::PeerDown { .. }));

    // The station goes away (socket and listener); routes sent meanwhile are discarded, the
    // peer state is kept.
    drop(f);
    drop(l);
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..3 {
        ex.send(route(2)).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // It comes back: Initiation, then peer 2's Peer Up (3 went down), then a resync signal.
    let l = TcpListener::bind(addr).await.unwrap();
    let (s, _) = tokio::time::timeout(Duration::from_secs(5), l.accept())
        .await
        .unwrap()
        .unwrap();
    let mut f = FramedRead::new(s, BmpCodec::default());
    assert!(matches!(next(&mut f).await, Message::Initiation(_)));
    assert_eq!(next(&mut f).await, peer_up(2));
    tokio::time::timeout(Duration::from_secs(5), resyncs.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*resyncs.borrow(), 2);
    let st = ex.stats();
    assert!(st.connected);
    assert!(st.discarded >= 1, "{st:?}");
    ex.send(route(2)).await;
    assert_eq!(next(&mut f).await, route(2));

    // Dropping the exporter sends a Termination.
    drop(ex);
    assert!(matches!(next(&mut f).await, Message::Termination(_)));
}

#[tokio::test]
async fn try_send_drops_when_full_and_never_waits() {
    // A station that accepts and never reads: the socket buffers fill, then the queue.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = ExporterConfig::new(l.local_addr().unwrap(), "r1", "d");
    cfg.queue = 16;
    let ex = Exporter::spawn(cfg);
    let (_s, _) = l.accept().await.unwrap();
    let big = Message::RouteMonitoring {
        peer: peer(2),
        update: pdu(2, &vec![0u8; 4000]),
    };
    let t = std::time::Instant::now();
    let mut dropped = 0;
    for _ in 0..20_000 {
        if !ex.try_send(big.clone()) {
            dropped += 1;
        }
    }
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(dropped > 0);
    assert_eq!(ex.stats().dropped, dropped);
}
