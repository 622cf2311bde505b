//! Property tests: encode-then-decode equals the input for every record kind; arbitrary
//! and mutated bytes never panic the reader or the lazy view.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bgp_mrt::record::*;
use bgp_mrt::view::{Bgp4mpView, RibView};
use bgp_mrt::{MrtReader, encode_record};
use bgp_wire::attr::*;
use bgp_wire::nlri::MpNlri;
use bgp_wire::{Afi, AfiSafi, Message, Nlri, Notification, Safi, Update};
use bytes::{Bytes, BytesMut};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;

fn v4() -> impl Strategy<Value = Ipv4Addr> {
    (1u8..=223, any::<[u8; 3]>()).prop_map(|(a, r)| Ipv4Addr::new(a, r[0], r[1], r[2].max(1)))
}
fn v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}
fn v4net() -> impl Strategy<Value = IpNet> {
    (any::<u32>(), 0u8..=32)
        .prop_map(|(a, l)| IpNet::V4(Ipv4Net::new(a.into(), l).unwrap().trunc()))
}
fn v6net() -> impl Strategy<Value = IpNet> {
    (any::<u128>(), 0u8..=128)
        .prop_map(|(a, l)| IpNet::V6(Ipv6Net::new(a.into(), l).unwrap().trunc()))
}

fn as_path(four: bool) -> impl Strategy<Value = AsPath> {
    let asn = if four { 1u32..=u32::MAX } else { 1u32..=65535 };
    proptest::collection::vec(
        (
            prop_oneof![Just(AsSegmentType::Sequence), Just(AsSegmentType::Set)],
            proptest::collection::vec(asn, 1..6),
        ),
        0..3,
    )
    .prop_map(|segs| AsPath::from_segments(segs.into_iter().map(|(k, a)| AsSegment::new(k, a))))
}

/// Attributes in canonical order; `mp` adds an abbreviated-form MP_REACH for `af`.
fn attrs(four: bool, mp: Option<AfiSafi>) -> impl Strategy<Value = Vec<PathAttribute>> {
    (
        0u8..3,
        as_path(four),
        v4(),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
        any::<bool>(),
        proptest::collection::vec(any::<u32>(), 0..4),
        proptest::collection::vec(any::<(u32, u32, u32)>(), 0..3),
        v6(),
        proptest::option::of(v6()),
    )
        .prop_map(move |(o, p, nh, med, lp, atomic, comms, large, g, ll)| {
            let mut v = vec![
                PathAttribute::Origin([Origin::Igp, Origin::Egp, Origin::Incomplete][o as usize]),
                PathAttribute::AsPath(p),
            ];
            match mp {
                None => v.push(PathAttribute::NextHop(nh)),
                Some(af) => v.push(PathAttribute::MpReachNlri(MpReach {
                    af,
                    next_hop: if af.afi == Afi::Ipv4 {
                        MpNextHop::V4(nh)
                    } else {
                        MpNextHop::V6 {
                            global: g,
                            link_local: ll,
                        }
                    },
                    nlri: MpNlri::Prefixes(vec![]),
                })),
            }
            if let Some(m) = med {
                v.push(PathAttribute::MultiExitDisc(m));
            }
            if let Some(l) = lp {
                v.push(PathAttribute::LocalPref(l));
            }
            if atomic {
                v.push(PathAttribute::AtomicAggregate);
            }
            if !comms.is_empty() {
                v.push(PathAttribute::Communities(
                    comms.into_iter().map(Community).collect(),
                ));
            }
            if !large.is_empty() {
                v.push(PathAttribute::LargeCommunities(
                    large
                        .into_iter()
                        .map(|(a, b, c)| LargeCommunity {
                            global: a,
                            local1: b,
                            local2: c,
                        })
                        .collect(),
                ));
            }
            v
        })
}

fn peer_index() -> impl Strategy<Value = MrtBody> {
    (
        v4(),
        proptest::collection::vec(any::<u8>(), 0..8),
        proptest::collection::vec(
            (
                v4(),
                prop_oneof![v4().prop_map(IpAddr::V4), v6().prop_map(IpAddr::V6)],
                any::<u32>(),
                any::<bool>(),
            ),
            0..6,
        ),
    )
        .prop_map(|(c, name, peers)| {
            MrtBody::PeerIndexTable(PeerIndexTable {
                collector_id: c,
                view_name: Bytes::from(name),
                peers: peers
                    .into_iter()
                    .map(|(id, addr, asn, as4)| PeerEntry {
                        bgp_id: id,
                        addr,
                        asn: if as4 { asn } else { asn & 0xffff },
                        as4,
                    })
                    .collect(),
            })
        })
}

fn rib() -> impl Strategy<Value = MrtBody> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<u32>()).prop_flat_map(
        |(six, mc, ap, seq)| {
            let afi = if six { Afi::Ipv6 } else { Afi::Ipv4 };
            let af = AfiSafi::new(afi, if mc { Safi::Multicast } else { Safi::Unicast });
            let prefix = if six {
                v6net().boxed()
            } else {
                v4net().boxed()
            };
            let mp = (six || mc).then_some(af);
            (
                prefix,
                proptest::collection::vec(
                    (any::<u16>(), any::<u32>(), any::<u32>(), attrs(true, mp)),
                    0..4,
                ),
            )
                .prop_map(move |(prefix, es)| {
                    MrtBody::Rib(RibRecord {
                        subtype: rib_subtype(afi, mc, ap).unwrap(),
                        sequence: seq,
                        prefix,
                        entries: es
                            .into_iter()
                            .map(|(p, o, id, a)| RibEntry {
                                peer_index: p,
                                originated: o,
                                path_id: if ap { id } else { 0 },
                                attributes: a,
                            })
                            .collect(),
                    })
                })
        },
    )
}

fn bgp4mp() -> impl Strategy<Value = MrtBody> {
    let sub = prop_oneof![
        Just(0u16),
        Just(1),
        Just(4),
        Just(5),
        Just(6),
        Just(7),
        Just(8),
        Just(9),
        Just(10),
        Just(11)
    ];
    (
        sub,
        any::<u32>(),
        any::<u32>(),
        any::<u16>(),
        any::<bool>(),
        v4(),
        v4(),
        v6(),
        v6(),
        0u8..4,
    )
        .prop_flat_map(|(subtype, pa, la, ifi, six, p4, l4, p6, l6, kind)| {
            let mut m = Bgp4mp {
                subtype,
                peer_as: pa,
                local_as: la,
                interface: ifi,
                peer_addr: if six { IpAddr::V6(p6) } else { IpAddr::V4(p4) },
                local_addr: if six { IpAddr::V6(l6) } else { IpAddr::V4(l4) },
                body: Bgp4mpBody::StateChange(StateChange { old: 1, new: 2 }),
            };
            if !m.as4() {
                m.peer_as &= 0xffff;
                m.local_as &= 0xffff;
            }
            let four = m.as4();
            let ap = m.add_path();
            let state = matches!(subtype, 0 | 5);
            (
                Just(m),
                any::<(u16, u16)>(),
                attrs(four, None),
                proptest::collection::vec(v4net(), 0..4),
                proptest::collection::vec(v4net(), 0..4),
                any::<u32>(),
            )
                .prop_map(move |(mut m, (o, n), a, nlri, wd, id)| {
                    let mk = |p: IpNet| {
                        if ap {
                            Nlri::with_path_id(p, id)
                        } else {
                            Nlri::new(p)
                        }
                    };
                    m.body = if state {
                        Bgp4mpBody::StateChange(StateChange { old: o, new: n })
                    } else {
                        Bgp4mpBody::Message(Box::new(match kind {
                            0 => Message::Keepalive,
                            1 => {
                                Message::Notification(Notification::with_data(6, 2, vec![1, 2, 3]))
                            }
                            _ => Message::Update(Update {
                                withdrawn: wd.into_iter().map(mk).collect(),
                                attributes: if nlri.is_empty() { vec![] } else { a },
                                nlri: nlri.into_iter().map(mk).collect(),
                            }),
                        }))
                    };
                    MrtBody::Bgp4mp(m)
                })
        })
}

fn table_dump() -> impl Strategy<Value = MrtBody> {
    (
        any::<u16>(),
        any::<u16>(),
        v4net(),
        any::<u8>(),
        any::<u32>(),
        v4(),
        any::<u16>(),
        attrs(false, None),
    )
        .prop_map(
            |(view, sequence, prefix, status, originated, peer, peer_as, attributes)| {
                MrtBody::TableDump(TableDump {
                    view,
                    sequence,
                    prefix,
                    status,
                    originated,
                    peer_addr: IpAddr::V4(peer),
                    peer_as,
                    attributes,
                })
            },
        )
}

fn record() -> impl Strategy<Value = MrtRecord> {
    (
        any::<u32>(),
        any::<u32>(),
        prop_oneof![
            peer_index(),
            rib(),
            bgp4mp(),
            table_dump(),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(|r| MrtBody::RibGeneric {
                subtype: 6,
                raw: r.into()
            }),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(|r| MrtBody::Unknown {
                mrt_type: 99,
                subtype: 3,
                raw: r.into()
            }),
        ],
        any::<bool>(),
    )
        .prop_map(|(ts, us, body, et)| {
            let et = et && matches!(body, MrtBody::Bgp4mp(_));
            MrtRecord {
                timestamp: ts,
                microseconds: et.then_some(us),
                body,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_decode_is_identity(recs in proptest::collection::vec(record(), 1..6)) {
        let mut b = BytesMut::new();
        for r in &recs {
            encode_record(r, &mut b).unwrap();
        }
        let back: Vec<_> = MrtReader::new(&b[..]).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(back, recs);
    }

    #[test]
    fn mutated_records_never_panic(recs in proptest::collection::vec(record(), 1..4), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut b = BytesMut::new();
        for r in &recs {
            encode_record(r, &mut b).unwrap();
        }
        let mut v = b.to_vec();
        for (i, x) in flips {
            let n = v.len();
            v[i % n] ^= x;
        }
        for r in MrtReader::new(&v[..]).with_max_record_len(1 << 16) {
            let _ = r;
        }
        let mut rd = MrtReader::new(&v[..]);
        while let Some(r) = rd.next_raw() {
            let Ok(r) = r else { continue };
            if let Ok(view) = RibView::parse(r.header.subtype, &r.body) {
                for e in view.entries() {
                    let _ = e.attributes().count();
                }
            }
            let _ = Bgp4mpView::parse(r.header.subtype, &r.body);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        for r in MrtReader::new(&data[..]) {
            let _ = r;
        }
        for st in 0..13u16 {
            let _ = RibView::parse(st, &data);
            let _ = Bgp4mpView::parse(st, &Bytes::from(data.clone()));
        }
    }
}
