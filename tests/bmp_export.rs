//! `kube_bgp::bmp::BmpExport` against an in-process station on loopback: the Loc-RIB instance
//! is announced with its own Peer Up (RFC 9069 §5.1) right after the Initiation, and Loc-RIB
//! route monitoring follows the RIB.

use std::time::Duration;

use bgp_bmp::{BmpCodec, Event, Message, PeerType, Station};
use bgp_rib::{Attrs, DecisionConfig, PeerInfo, Rib};
use futures::StreamExt;
use kube_bgp::bmp::BmpExport;
use tokio::net::TcpListener;
use tokio_util::codec::FramedRead;

async fn next(f: &mut FramedRead<tokio::net::TcpStream, BmpCodec>) -> Message {
    tokio::time::timeout(Duration::from_secs(5), f.next())
        .await
        .expect("5 s without a message")
        .expect("stream ended")
        .expect("decode")
}

#[tokio::test]
async fn loc_rib_peer_up_then_loc_rib_routes() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut bmp = BmpExport::new(
        l.local_addr().unwrap(),
        65001,
        "10.0.0.1".parse().unwrap(),
        "r1",
    );
    let (s, _) = l.accept().await.unwrap();
    let mut f = FramedRead::new(s, BmpCodec::default());
    let mut st = Station::default();
    assert!(matches!(
        st.handle(next(&mut f).await).unwrap(),
        Event::Initiated { .. }
    ));
    match st.handle(next(&mut f).await).unwrap() {
        Event::PeerUp {
            peer, sent_open, ..
        } => {
            assert_eq!(peer.peer_type, PeerType::LocRib);
            assert_eq!(peer.asn, 65001);
            assert_eq!(sent_open.asn(), 65001);
        }
        e => panic!("{e:?}"),
    }
    let mut rib = Rib::new(DecisionConfig::new(65001, "10.0.0.1".parse().unwrap()));
    let p = rib.add_peer(PeerInfo::new(
        "10.0.0.2".parse().unwrap(),
        65002,
        "2.2.2.2".parse().unwrap(),
        65001,
    ));
    let prefix = "203.0.113.0/24".parse().unwrap();
    rib.announce(p, prefix, 0, Attrs::new("10.0.0.2".parse().unwrap()))
        .unwrap();
    let deltas = rib.drain_deltas();
    bmp.loc_rib(&rib, &deltas);
    bmp.flush().await;
    match st.handle(next(&mut f).await).unwrap() {
        Event::Route { peer, update, .. } => {
            assert_eq!(peer.peer_type, PeerType::LocRib);
            let bgp_wire::Message::Update(u) = &update.message else {
                panic!()
            };
            assert_eq!(u.announced().next().unwrap().1.prefix, prefix);
        }
        e => panic!("{e:?}"),
    }
}
