//! Sample records of every kind we write, with varied attributes.
#![allow(dead_code, unreachable_pub)]

use bgp_mrt::record::*;
use bgp_wire::attr::*;
use bgp_wire::nlri::MpNlri;
use bgp_wire::{AfiSafi, Message, Nlri, Update};
use bytes::{Bytes, BytesMut};

pub const T: u32 = 1_700_000_000;

pub fn v4_attrs(i: u32) -> Vec<PathAttribute> {
    vec![
        PathAttribute::Origin(if i.is_multiple_of(2) {
            Origin::Igp
        } else {
            Origin::Incomplete
        }),
        PathAttribute::AsPath(AsPath::from_segments([
            AsSegment::new(AsSegmentType::Sequence, [65001, 4_200_000_001, 64500 + i]),
            AsSegment::new(AsSegmentType::Set, [64999, 64998]),
        ])),
        PathAttribute::NextHop(format!("192.0.2.{}", 1 + i % 200).parse().unwrap()),
        PathAttribute::MultiExitDisc(10 * i),
        PathAttribute::LocalPref(100 + i),
        PathAttribute::AtomicAggregate,
        PathAttribute::Aggregator(Aggregator {
            asn: 65001,
            addr: "198.51.100.7".parse().unwrap(),
        }),
        PathAttribute::Communities(vec![Community(65001 << 16 | i), Community(65002 << 16 | 7)]),
    ]
}

pub fn v6_attrs(i: u32) -> Vec<PathAttribute> {
    vec![
        PathAttribute::Origin(Origin::Egp),
        PathAttribute::AsPath(AsPath::from_sequence([65010, 65020 + i])),
        PathAttribute::MpReachNlri(MpReach {
            af: AfiSafi::IPV6_UNICAST,
            next_hop: MpNextHop::V6 {
                global: format!("2001:db8:ff::{}", i + 1).parse().unwrap(),
                link_local: None,
            },
            nlri: MpNlri::Prefixes(vec![]),
        }),
        PathAttribute::MultiExitDisc(5),
        PathAttribute::Communities(vec![Community(65010 << 16 | 99)]),
    ]
}

pub fn peer_table() -> MrtRecord {
    MrtRecord {
        timestamp: T,
        microseconds: None,
        body: MrtBody::PeerIndexTable(PeerIndexTable {
            collector_id: "10.255.0.1".parse().unwrap(),
            view_name: Bytes::new(),
            peers: vec![
                PeerEntry {
                    bgp_id: "10.0.0.1".parse().unwrap(),
                    addr: "10.0.0.1".parse().unwrap(),
                    asn: 65001,
                    as4: false,
                },
                PeerEntry {
                    bgp_id: "10.0.0.2".parse().unwrap(),
                    addr: "10.0.0.2".parse().unwrap(),
                    asn: 4_200_000_001,
                    as4: true,
                },
                PeerEntry {
                    bgp_id: "10.0.0.3".parse().unwrap(),
                    addr: "2001:db8::3".parse().unwrap(),
                    asn: 65010,
                    as4: true,
                },
            ],
        }),
    }
}

/// A TABLE_DUMP_V2 file: peer table, `n` IPv4 prefixes with two paths, 3 IPv6 prefixes,
/// optionally as ADD-PATH subtypes.
pub fn table_dump_v2(n: u32, add_path: bool) -> Vec<MrtRecord> {
    let mut v = vec![peer_table()];
    for i in 0..n {
        let prefix = format!("10.{}.{}.0/24", i / 256, i % 256).parse().unwrap();
        v.push(MrtRecord {
            timestamp: T,
            microseconds: None,
            body: MrtBody::Rib(RibRecord {
                subtype: if add_path {
                    td2::RIB_IPV4_UNICAST_ADDPATH
                } else {
                    td2::RIB_IPV4_UNICAST
                },
                sequence: i,
                prefix,
                entries: vec![
                    RibEntry {
                        peer_index: 0,
                        originated: T - 100,
                        path_id: if add_path { 1 } else { 0 },
                        attributes: v4_attrs(i),
                    },
                    RibEntry {
                        peer_index: 1,
                        originated: T - 50,
                        path_id: if add_path { 2 } else { 0 },
                        attributes: v4_attrs(i + 1),
                    },
                ],
            }),
        });
    }
    for i in 0..3u32 {
        v.push(MrtRecord {
            timestamp: T,
            microseconds: None,
            body: MrtBody::Rib(RibRecord {
                subtype: if add_path {
                    td2::RIB_IPV6_UNICAST_ADDPATH
                } else {
                    td2::RIB_IPV6_UNICAST
                },
                sequence: n + i,
                prefix: format!("2001:db8:{i}::/48").parse().unwrap(),
                entries: vec![RibEntry {
                    peer_index: 2,
                    originated: T - 10,
                    path_id: if add_path { 7 } else { 0 },
                    attributes: v6_attrs(i),
                }],
            }),
        });
    }
    v
}

pub fn update_v4(i: u32) -> Message {
    Message::Update(Update {
        withdrawn: vec![Nlri::new(format!("172.16.{i}.0/24").parse().unwrap())],
        attributes: v4_attrs(i),
        nlri: vec![
            Nlri::new(format!("10.{i}.0.0/16").parse().unwrap()),
            Nlri::new(format!("10.{i}.1.0/24").parse().unwrap()),
        ],
    })
}

pub fn update_v6(i: u32) -> Message {
    let mut attrs = v6_attrs(i);
    if let PathAttribute::MpReachNlri(r) = &mut attrs[2] {
        r.nlri = MpNlri::Prefixes(vec![Nlri::new(
            format!("2001:db8:{i}::/48").parse().unwrap(),
        )]);
    }
    attrs.push(PathAttribute::MpUnreachNlri(MpUnreach {
        af: AfiSafi::IPV6_UNICAST,
        withdrawn: MpNlri::Prefixes(vec![Nlri::new(
            format!("2001:db8:ffff:{i}::/64").parse().unwrap(),
        )]),
    }));
    Message::Update(Update {
        withdrawn: vec![],
        attributes: attrs,
        nlri: vec![],
    })
}

fn mp(
    subtype: u16,
    et: bool,
    peer: &str,
    local: &str,
    peer_as: u32,
    body: Bgp4mpBody,
    i: u32,
) -> MrtRecord {
    MrtRecord {
        timestamp: T + i,
        microseconds: et.then_some(1000 * i + 1),
        body: MrtBody::Bgp4mp(Bgp4mp {
            subtype,
            peer_as,
            local_as: 65000,
            interface: 0,
            peer_addr: peer.parse().unwrap(),
            local_addr: local.parse().unwrap(),
            body,
        }),
    }
}

/// A BGP4MP update log with every subtype we write: state changes (2- and 4-octet),
/// MESSAGE (2-octet AS paths), MESSAGE_AS4, IPv6 peers, KEEPALIVE; `et` for BGP4MP_ET.
pub fn bgp4mp_log(n: u32, et: bool) -> Vec<MrtRecord> {
    use bgp4mp::*;
    let mut v = vec![
        mp(
            STATE_CHANGE,
            et,
            "10.0.0.1",
            "10.0.0.254",
            65001,
            Bgp4mpBody::StateChange(StateChange { old: 1, new: 2 }),
            0,
        ),
        mp(
            STATE_CHANGE_AS4,
            et,
            "10.0.0.2",
            "10.0.0.254",
            4_200_000_001,
            Bgp4mpBody::StateChange(StateChange { old: 5, new: 6 }),
            0,
        ),
        mp(
            MESSAGE_AS4,
            et,
            "10.0.0.2",
            "10.0.0.254",
            4_200_000_001,
            Bgp4mpBody::Message(Box::new(Message::Keepalive)),
            0,
        ),
    ];
    for i in 0..n {
        v.push(mp(
            MESSAGE_AS4,
            et,
            "10.0.0.2",
            "10.0.0.254",
            4_200_000_001,
            Bgp4mpBody::Message(Box::new(update_v4(i))),
            i,
        ));
        v.push(mp(
            MESSAGE_AS4,
            et,
            "2001:db8::3",
            "2001:db8::fe",
            65010,
            Bgp4mpBody::Message(Box::new(update_v6(i))),
            i,
        ));
    }
    // 2-octet AS session: AS path with 2-octet ASNs only.
    let mut u = update_v4(1);
    if let Message::Update(u) = &mut u {
        u.attributes[1] = PathAttribute::AsPath(AsPath::from_sequence([65001, 65002]));
    }
    v.push(mp(
        MESSAGE,
        et,
        "10.0.0.1",
        "10.0.0.254",
        65001,
        Bgp4mpBody::Message(Box::new(u)),
        3,
    ));
    // ADD-PATH and LOCAL (sent) variants.
    let mut u = update_v4(2);
    if let Message::Update(u) = &mut u {
        for n in u.nlri.iter_mut().chain(u.withdrawn.iter_mut()) {
            n.path_id = Some(42);
        }
    }
    v.push(mp(
        MESSAGE_AS4_ADDPATH,
        et,
        "10.0.0.2",
        "10.0.0.254",
        4_200_000_001,
        Bgp4mpBody::Message(Box::new(u)),
        4,
    ));
    v.push(mp(
        MESSAGE_AS4_LOCAL,
        et,
        "10.0.0.2",
        "10.0.0.254",
        4_200_000_001,
        Bgp4mpBody::Message(Box::new(update_v4(3))),
        5,
    ));
    v.push(mp(
        STATE_CHANGE_AS4,
        et,
        "10.0.0.2",
        "10.0.0.254",
        4_200_000_001,
        Bgp4mpBody::StateChange(StateChange { old: 6, new: 1 }),
        9,
    ));
    v
}

/// TABLE_DUMP (v1) records, 2-octet ASNs.
pub fn table_dump_v1(n: u32) -> Vec<MrtRecord> {
    (0..n)
        .map(|i| {
            let mut attrs = v4_attrs(i);
            attrs[1] = PathAttribute::AsPath(AsPath::from_sequence([65001, 65100 + i]));
            MrtRecord {
                timestamp: T,
                microseconds: None,
                body: MrtBody::TableDump(TableDump {
                    view: 0,
                    sequence: i as u16,
                    prefix: format!("10.{i}.0.0/16").parse().unwrap(),
                    status: 1,
                    originated: T - 1,
                    peer_addr: "10.0.0.1".parse().unwrap(),
                    peer_as: 65001,
                    attributes: attrs,
                }),
            }
        })
        .collect()
}

pub fn encode_all(recs: &[MrtRecord]) -> BytesMut {
    let mut b = BytesMut::new();
    for r in recs {
        bgp_mrt::encode_record(r, &mut b).unwrap();
    }
    b
}
