//! Round trips of every BMP message type (encode then decode equals the input) and no panic
//! on arbitrary bytes, whole or as a stream through the codec.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bgp_bmp::message::{PeerUp, peer_flags};
use bgp_bmp::{
    Message, PeerDownReason, PeerHeader, PeerType, Stat, StatValue, Tlv, decode, encode, peek_len,
};
use bgp_wire::{Afi, AfiSafi, Safi};
use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;

/// A syntactically valid BGP PDU (marker, length, type, body) of `ty` with `body`.
fn pdu(ty: u8, body: &[u8]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_slice(&[0xff; 16]);
    b.put_u16((19 + body.len()) as u16);
    b.put_u8(ty);
    b.put_slice(body);
    b.freeze()
}

fn arb_bytes(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn arb_pdu(ty: u8) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..64).prop_map(move |b| pdu(ty, &b))
}

fn arb_tlvs() -> impl Strategy<Value = Vec<Tlv>> {
    proptest::collection::vec(
        (any::<u16>(), arb_bytes(40)).prop_map(|(kind, value)| Tlv { kind, value }),
        0..4,
    )
}

fn arb_peer() -> impl Strategy<Value = PeerHeader> {
    (
        prop_oneof![
            Just(PeerType::Global),
            Just(PeerType::Rd),
            Just(PeerType::Local),
            Just(PeerType::LocRib),
            (4u8..=255).prop_map(PeerType::Other),
        ],
        any::<u8>(),
        any::<u64>(),
        prop_oneof![
            any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
            // IPv6 addresses that are not zero-padded IPv4 ones (those read back as IPv4).
            (1u32..).prop_flat_map(|hi| any::<u128>()
                .prop_map(move |lo| IpAddr::V6(Ipv6Addr::from(((hi as u128) << 96) | (lo >> 32))))),
        ],
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(peer_type, flags, distinguisher, address, asn, id, s, us)| {
                // The V flag must agree with the address, except for Loc-RIB peers where 0x80
                // is the F flag.
                let mut flags = flags;
                if peer_type != PeerType::LocRib {
                    flags = (flags & !peer_flags::IPV6)
                        | if address.is_ipv6() {
                            peer_flags::IPV6
                        } else {
                            0
                        };
                }
                PeerHeader {
                    peer_type,
                    flags,
                    distinguisher,
                    address,
                    asn,
                    bgp_id: Ipv4Addr::from(id),
                    timestamp_secs: s,
                    timestamp_micros: us,
                }
            },
        )
}

fn arb_stat() -> impl Strategy<Value = Stat> {
    (
        any::<u16>(),
        prop_oneof![
            any::<u32>().prop_map(StatValue::Counter),
            any::<u64>().prop_map(StatValue::Gauge),
            (any::<u16>(), any::<u8>(), any::<u64>()).prop_map(|(a, s, v)| StatValue::PerFamily(
                AfiSafi::new(Afi::from_code(a), Safi::from_code(s)),
                v
            )),
            arb_bytes(20)
                .prop_filter("lengths 4, 8, 11 are typed", |b| ![4, 8, 11]
                    .contains(&b.len()))
                .prop_map(StatValue::Raw),
        ],
    )
        .prop_map(|(kind, value)| Stat { kind, value })
}

fn arb_reason() -> impl Strategy<Value = PeerDownReason> {
    prop_oneof![
        arb_pdu(3).prop_map(PeerDownReason::LocalNotification),
        any::<u16>().prop_map(PeerDownReason::LocalNoNotification),
        arb_pdu(3).prop_map(PeerDownReason::RemoteNotification),
        Just(PeerDownReason::RemoteNoData),
        Just(PeerDownReason::PeerDeconfigured),
        arb_tlvs().prop_map(PeerDownReason::LocalTlvs),
        ((7u8..=255), arb_bytes(30)).prop_map(|(c, d)| PeerDownReason::Other(c, d)),
    ]
}

fn arb_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (arb_peer(), arb_pdu(2))
            .prop_map(|(peer, update)| Message::RouteMonitoring { peer, update }),
        (arb_peer(), proptest::collection::vec(arb_stat(), 0..6))
            .prop_map(|(peer, stats)| Message::StatisticsReport { peer, stats }),
        (arb_peer(), arb_reason()).prop_map(|(peer, reason)| Message::PeerDown { peer, reason }),
        (
            arb_peer(),
            any::<u16>(),
            any::<u16>(),
            arb_pdu(1),
            arb_pdu(1),
            arb_tlvs()
        )
            .prop_map(|(peer, lp, rp, s, r, information)| {
                let local_address = match peer.address {
                    IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                    IpAddr::V6(_) => "2001:db8::1".parse().unwrap(),
                };
                Message::PeerUp {
                    peer,
                    up: Box::new(PeerUp {
                        local_address,
                        local_port: lp,
                        remote_port: rp,
                        sent_open: s,
                        received_open: r,
                        information,
                    }),
                }
            }),
        arb_tlvs().prop_map(Message::Initiation),
        arb_tlvs().prop_map(Message::Termination),
        (arb_peer(), arb_tlvs()).prop_map(|(peer, tlvs)| Message::RouteMirroring { peer, tlvs }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_message_round_trips(m in arb_message()) {
        let bytes = encode(&m).unwrap().freeze();
        prop_assert_eq!(peek_len(&bytes, usize::MAX).unwrap(), Some(bytes.len()));
        prop_assert_eq!(decode(bytes).unwrap(), m);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode(Bytes::from(b));
    }

    #[test]
    fn a_valid_header_with_arbitrary_body_never_panics(
        ty in 0u8..8,
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut b = BytesMut::new();
        b.put_u8(3);
        b.put_u32((6 + body.len()) as u32);
        b.put_u8(ty);
        b.put_slice(&body);
        let _ = decode(b.freeze());
    }

    #[test]
    fn a_stream_split_anywhere_decodes_the_same(
        ms in proptest::collection::vec(arb_message(), 1..5),
        cut in any::<prop::sample::Index>(),
    ) {
        use tokio_util::codec::Decoder;
        let mut all = BytesMut::new();
        for m in &ms {
            bgp_bmp::encode_into(m, &mut all).unwrap();
        }
        let at = cut.index(all.len() + 1);
        let mut codec = bgp_bmp::BmpCodec::default();
        let mut buf = BytesMut::from(&all[..at]);
        let mut out = Vec::new();
        while let Some(m) = codec.decode(&mut buf).unwrap() { out.push(m); }
        buf.extend_from_slice(&all[at..]);
        while let Some(m) = codec.decode(&mut buf).unwrap() { out.push(m); }
        prop_assert_eq!(out, ms);
        prop_assert!(buf.is_empty());
    }
}

#[test]
fn a_length_beyond_the_limit_is_refused_before_buffering() {
    use tokio_util::codec::Decoder;
    let mut codec = bgp_bmp::BmpCodec::with_max_len(4096);
    let mut buf = BytesMut::from(&[3u8, 0xff, 0xff, 0xff, 0xff, 0][..]);
    assert!(codec.decode(&mut buf).is_err());
    assert!(buf.capacity() < 4096);
}

#[test]
fn a_stats_count_larger_than_the_message_is_an_error_not_an_allocation() {
    let peer = PeerHeader::new("10.0.0.2".parse().unwrap(), 1, Ipv4Addr::new(1, 1, 1, 1));
    let mut b = encode(&Message::StatisticsReport {
        peer,
        stats: vec![],
    })
    .unwrap();
    let n = b.len();
    b[n - 4..].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        decode(b.freeze()),
        Err(bgp_bmp::DecodeError::Truncated { .. })
    ));
}

#[test]
fn a_wrong_version_and_a_bad_bgp_marker_are_typed_errors() {
    let mut b = encode(&Message::initiation("r", "d")).unwrap();
    b[0] = 1;
    assert_eq!(decode(b.freeze()), Err(bgp_bmp::DecodeError::Version(1)));
    let peer = PeerHeader::new("10.0.0.2".parse().unwrap(), 1, Ipv4Addr::new(1, 1, 1, 1));
    let mut bad = pdu(2, &[0, 0, 0, 0]).to_vec();
    bad[3] = 0;
    let b = encode(&Message::RouteMonitoring {
        peer,
        update: Bytes::from(bad),
    })
    .unwrap();
    assert!(matches!(
        decode(b.freeze()),
        Err(bgp_bmp::DecodeError::BgpPdu { .. })
    ));
}

#[test]
fn loc_rib_f_flag_is_not_read_as_ipv6() {
    let peer = PeerHeader::loc_rib(65001, Ipv4Addr::new(1, 1, 1, 1))
        .with_flags(peer_flags::LOC_RIB_FILTERED);
    let m = Message::RouteMonitoring {
        peer: peer.clone(),
        update: pdu(2, &[0, 0, 0, 0]),
    };
    let back = decode(encode(&m).unwrap().freeze()).unwrap();
    assert_eq!(
        back.peer().unwrap().address,
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    );
    assert!(!back.peer().unwrap().is_post_policy());
}

#[test]
fn frames_keep_the_stream_in_step_past_an_unreadable_message() {
    use tokio_util::codec::Decoder;
    let good = encode(&Message::initiation("r", "d")).unwrap();
    // A well-framed message of an unassigned type (9).
    let unknown = [3u8, 0, 0, 0, 8, 9, 0xaa, 0xbb];
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&good);
    buf.extend_from_slice(&unknown);
    buf.extend_from_slice(&good);
    let mut frames = bgp_bmp::BmpFrames::default();
    let mut out = Vec::new();
    while let Some(f) = frames.decode(&mut buf).unwrap() {
        out.push(decode(f));
    }
    assert_eq!(out.len(), 3);
    assert!(out[0].is_ok() && out[2].is_ok());
    assert_eq!(out[1], Err(bgp_bmp::DecodeError::UnknownType(9)));
}
