//! Property tests: arbitrary valid messages round-trip under arbitrary session contexts,
//! decode-then-encode reproduces canonical bytes, and arbitrary bytes never panic.

use std::net::{Ipv4Addr, Ipv6Addr};

use bgp_wire::attr::*;
use bgp_wire::message::{
    AddPathMode, BgpRole, GracefulRestartFamily, LlgrFamily, RouteRefreshSubtype,
};
use bgp_wire::nlri::MpNlri;
use bgp_wire::{
    Afi, AfiSafi, BgpCodec, Capability, Message, Nlri, Notification, Open, RouteRefresh, Safi,
    SessionContext, Update, UpdateBuilder, UpdateView, decode_message, encode_message, frame_len,
};
use bgp_wire::{AttrListOptions, DecodedAttributes, decode_path_attributes, put_attribute};
use bytes::{Bytes, BytesMut};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use tokio_util::codec::Decoder;

const V4U: AfiSafi = AfiSafi::IPV4_UNICAST;
const V6U: AfiSafi = AfiSafi::IPV6_UNICAST;
const V4M: AfiSafi = AfiSafi {
    afi: Afi::Ipv4,
    safi: Safi::Multicast,
};

/// A symmetric context (what we send is what we receive), so encode-then-decode must
/// give back the value.
fn ctx_strategy() -> impl Strategy<Value = SessionContext> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(asn4, ap4, ap6, ext, enh)| {
            let mut ap = Vec::new();
            if ap4 {
                ap.push(V4U);
            }
            if ap6 {
                ap.push(V6U);
            }
            SessionContext {
                four_octet_as: asn4,
                add_path_receive: ap.clone(),
                add_path_send: ap,
                extended_message: ext,
                extended_next_hop: if enh { vec![V4U] } else { vec![] },
            }
        })
}

fn afi_safi() -> impl Strategy<Value = AfiSafi> {
    (any::<u16>(), any::<u8>())
        .prop_map(|(a, s)| AfiSafi::new(Afi::from_code(a), Safi::from_code(s)))
}

fn v4_prefix() -> impl Strategy<Value = IpNet> {
    (any::<u32>(), 0u8..=32)
        .prop_map(|(a, l)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc()))
}

fn v6_prefix() -> impl Strategy<Value = IpNet> {
    (any::<u128>(), 0u8..=128)
        .prop_map(|(a, l)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc()))
}

fn nlri_list(v6: bool, add_path: bool, max: usize) -> BoxedStrategy<Vec<Nlri>> {
    let p = if v6 {
        v6_prefix().boxed()
    } else {
        v4_prefix().boxed()
    };
    vec((p, any::<u32>()), 0..max)
        .prop_map(move |v| {
            v.into_iter()
                .map(|(p, id)| Nlri {
                    path_id: add_path.then_some(id),
                    prefix: p,
                })
                .collect()
        })
        .boxed()
}

fn host_v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>()
        .prop_map(Ipv4Addr::from)
        .prop_filter("host address", |a| {
            !a.is_unspecified() && !a.is_broadcast() && !a.is_multicast()
        })
}

fn as_path(asn4: bool, confed: bool) -> impl Strategy<Value = AsPath> {
    let asn = if asn4 {
        any::<u32>().boxed()
    } else {
        (0u32..=65535).boxed()
    };
    let kind = if confed {
        prop_oneof![
            Just(AsSegmentType::Set),
            Just(AsSegmentType::Sequence),
            Just(AsSegmentType::ConfedSequence),
            Just(AsSegmentType::ConfedSet)
        ]
        .boxed()
    } else {
        prop_oneof![Just(AsSegmentType::Set), Just(AsSegmentType::Sequence)].boxed()
    };
    vec((kind, vec(asn, 1..24)), 0..4).prop_map(|segs| AsPath {
        segments: segs
            .into_iter()
            .map(|(kind, asns)| AsSegment::new(kind, asns))
            .collect(),
    })
}

fn ext_community() -> impl Strategy<Value = ExtendedCommunity> {
    let admin = prop_oneof![
        (any::<u16>(), any::<u32>()).prop_map(|(asn, local)| ExtGlobalAdmin::As2 { asn, local }),
        (any::<u32>(), any::<u16>()).prop_map(|(a, local)| ExtGlobalAdmin::Ipv4 {
            addr: Ipv4Addr::from(a),
            local
        }),
        (any::<u32>(), any::<u16>()).prop_map(|(asn, local)| ExtGlobalAdmin::As4 { asn, local }),
    ];
    prop_oneof![
        admin.clone().prop_map(ExtendedCommunity::RouteTarget),
        admin.prop_map(ExtendedCommunity::RouteOrigin),
        (any::<bool>(), any::<u16>(), any::<u32>()).prop_map(
            |(transitive, asn, bandwidth_bits)| {
                ExtendedCommunity::LinkBandwidth {
                    transitive,
                    asn,
                    bandwidth_bits,
                }
            }
        ),
        // Types/subtypes the codec does not interpret.
        (0x43u8..=0x4F, any::<[u8; 7]>()).prop_map(|(t, r)| {
            ExtendedCommunity::Other([t, r[0], r[1], r[2], r[3], r[4], r[5], r[6]])
        }),
    ]
}

// Types the decoder interprets or syntax-checks (23, 24): not "unknown" here.
const KNOWN: &[u8] = &[
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 23, 24, 25, 32, 35,
];

/// Optional attributes other than MP (each type at most once, enforced by the caller).
fn optional_attr(asn4: bool) -> impl Strategy<Value = PathAttribute> {
    let asn = if asn4 {
        any::<u32>().boxed()
    } else {
        (0u32..=65535).boxed()
    };
    prop_oneof![
        any::<u32>().prop_map(PathAttribute::MultiExitDisc),
        any::<u32>().prop_map(PathAttribute::LocalPref),
        Just(PathAttribute::AtomicAggregate),
        (asn, any::<u32>()).prop_map(|(asn, a)| PathAttribute::Aggregator(Aggregator {
            asn,
            addr: Ipv4Addr::from(a)
        })),
        vec(any::<u32>().prop_map(Community), 1..10).prop_map(PathAttribute::Communities),
        any::<u32>().prop_map(|a| PathAttribute::OriginatorId(Ipv4Addr::from(a))),
        vec(any::<u32>().prop_map(Ipv4Addr::from), 1..5).prop_map(PathAttribute::ClusterList),
        vec(ext_community(), 1..6).prop_map(PathAttribute::ExtendedCommunities),
        vec(
            (any::<u8>(), any::<u8>(), any::<u128>(), any::<u16>()).prop_map(
                |(kind, subtype, a, local)| {
                    Ipv6ExtendedCommunity {
                        kind,
                        subtype,
                        addr: Ipv6Addr::from(a),
                        local,
                    }
                }
            ),
            1..4
        )
        .prop_map(PathAttribute::Ipv6ExtendedCommunities),
        vec(
            (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(global, local1, local2)| {
                LargeCommunity {
                    global,
                    local1,
                    local2,
                }
            }),
            1..5
        )
        .prop_map(PathAttribute::LargeCommunities),
        any::<u32>().prop_map(PathAttribute::Otc),
        (
            any::<u8>().prop_filter("unknown type", |t| !KNOWN.contains(t)),
            prop_oneof![Just(0x80u8), Just(0xC0), Just(0xE0), Just(0xA0)],
            vec(any::<u8>(), 0..300)
        )
            .prop_map(
                |(type_code, flags, v)| PathAttribute::Unknown(RawAttribute {
                    flags,
                    type_code,
                    value: Bytes::from(v)
                })
            ),
    ]
}

fn mp_next_hop(af: AfiSafi, ctx: &SessionContext) -> BoxedStrategy<MpNextHop> {
    let v6 = (any::<u128>(), option::of(any::<u128>())).prop_map(|(g, l)| MpNextHop::V6 {
        global: Ipv6Addr::from(g),
        link_local: l.map(Ipv6Addr::from),
    });
    match (af.afi, af.safi) {
        (Afi::Ipv4, Safi::Unicast | Safi::Multicast) => {
            if ctx.extended_next_hop.contains(&af) {
                prop_oneof![
                    any::<u32>().prop_map(|a| MpNextHop::V4(Ipv4Addr::from(a))),
                    v6
                ]
                .boxed()
            } else {
                any::<u32>()
                    .prop_map(|a| MpNextHop::V4(Ipv4Addr::from(a)))
                    .boxed()
            }
        }
        (Afi::Ipv6, Safi::Unicast | Safi::Multicast) => v6.boxed(),
        _ => vec(any::<u8>(), 0..40)
            .prop_map(|v| MpNextHop::Raw(Bytes::from(v)))
            .boxed(),
    }
}

fn mp_nlri(af: AfiSafi, ctx: &SessionContext) -> BoxedStrategy<MpNlri> {
    let ap = ctx.sends_path_id(af);
    match (af.afi, af.safi) {
        (Afi::Ipv4, Safi::Unicast | Safi::Multicast) => {
            nlri_list(false, ap, 20).prop_map(MpNlri::Prefixes).boxed()
        }
        (Afi::Ipv6, Safi::Unicast | Safi::Multicast) => {
            nlri_list(true, ap, 20).prop_map(MpNlri::Prefixes).boxed()
        }
        _ => vec(any::<u8>(), 0..60)
            .prop_map(|v| MpNlri::Raw(Bytes::from(v)))
            .boxed(),
    }
}

fn mp_family() -> impl Strategy<Value = AfiSafi> {
    prop_oneof![Just(V4U), Just(V6U), Just(V4M), afi_safi()]
}

fn mp_reach(ctx: SessionContext) -> impl Strategy<Value = PathAttribute> {
    mp_family().prop_flat_map(move |af| {
        (mp_next_hop(af, &ctx), mp_nlri(af, &ctx)).prop_map(move |(next_hop, nlri)| {
            PathAttribute::MpReachNlri(MpReach { af, next_hop, nlri })
        })
    })
}

fn mp_unreach(ctx: SessionContext) -> impl Strategy<Value = PathAttribute> {
    mp_family().prop_flat_map(move |af| {
        mp_nlri(af, &ctx)
            .prop_map(move |withdrawn| PathAttribute::MpUnreachNlri(MpUnreach { af, withdrawn }))
    })
}

fn update(ctx: SessionContext) -> impl Strategy<Value = Update> {
    let asn4 = ctx.four_octet_as;
    let ap = ctx.sends_path_id(V4U);
    (
        nlri_list(false, ap, 30),
        nlri_list(false, ap, 30),
        prop_oneof![
            Just(Origin::Igp),
            Just(Origin::Egp),
            Just(Origin::Incomplete)
        ],
        as_path(asn4, true),
        host_v4(),
        vec(optional_attr(asn4), 0..6),
        option::of(mp_reach(ctx.clone())),
        option::of(mp_unreach(ctx.clone())),
        // AS4_* only make sense (and survive decoding) on a 2-octet session.
        option::of((as_path(true, false), any::<u32>(), any::<u32>())),
    )
        .prop_map(
            move |(withdrawn, nlri, origin, path, nh, opts, reach, unreach, as4)| {
                let mut attributes = vec![];
                if let Some(r) = reach {
                    attributes.push(r);
                }
                if let Some(u) = unreach {
                    attributes.push(u);
                }
                attributes.push(PathAttribute::Origin(origin));
                attributes.push(PathAttribute::AsPath(path));
                attributes.push(PathAttribute::NextHop(nh));
                let mut seen: Vec<u8> = attributes.iter().map(|a| a.type_code()).collect();
                for a in opts {
                    if !seen.contains(&a.type_code()) {
                        seen.push(a.type_code());
                        attributes.push(a);
                    }
                }
                if let (false, Some((p, asn, addr))) = (asn4, as4) {
                    attributes.push(PathAttribute::As4Path(p));
                    attributes.push(PathAttribute::As4Aggregator(Aggregator {
                        asn,
                        addr: Ipv4Addr::from(addr),
                    }));
                }
                Update {
                    withdrawn,
                    attributes,
                    nlri,
                }
            },
        )
}

const KNOWN_CAPS: &[u8] = &[1, 2, 5, 6, 9, 64, 65, 69, 70, 71, 73];

fn capability() -> impl Strategy<Value = Capability> {
    let mode = prop_oneof![
        Just(AddPathMode::Receive),
        Just(AddPathMode::Send),
        Just(AddPathMode::Both)
    ];
    prop_oneof![
        afi_safi().prop_map(Capability::Multiprotocol),
        Just(Capability::RouteRefresh),
        vec((afi_safi(), any::<u16>().prop_map(Afi::from_code)), 0..10)
            .prop_map(Capability::ExtendedNextHop),
        Just(Capability::ExtendedMessage),
        any::<u8>()
            .prop_map(|v| match v {
                0 => BgpRole::Provider,
                1 => BgpRole::RouteServer,
                2 => BgpRole::RouteServerClient,
                3 => BgpRole::Customer,
                4 => BgpRole::Peer,
                v => BgpRole::Other(v),
            })
            .prop_map(Capability::Role),
        (
            any::<bool>(),
            any::<bool>(),
            0u16..=0x0FFF,
            vec(
                (afi_safi(), any::<bool>()).prop_map(|(af, f)| GracefulRestartFamily {
                    af,
                    forwarding_preserved: f
                }),
                0..10
            )
        )
            .prop_map(|(r, n, t, families)| Capability::GracefulRestart {
                restart_state: r,
                notification: n,
                restart_time: t,
                families
            }),
        any::<u32>().prop_map(Capability::FourOctetAs),
        vec((afi_safi(), mode), 0..10).prop_map(Capability::AddPath),
        Just(Capability::EnhancedRouteRefresh),
        vec(
            (afi_safi(), any::<u8>(), 0u32..=0xFF_FFFF).prop_map(|(af, flags, stale_time)| {
                LlgrFamily {
                    af,
                    flags,
                    stale_time,
                }
            }),
            0..10
        )
        .prop_map(Capability::LongLivedGracefulRestart),
        ("[a-z0-9.-]{0,60}", "[a-zé.]{0,30}")
            .prop_map(|(hostname, domain)| Capability::Fqdn { hostname, domain }),
        (
            any::<u8>().prop_filter("unknown code", |c| !KNOWN_CAPS.contains(c)),
            vec(any::<u8>(), 0..40)
        )
            .prop_map(|(code, v)| Capability::Unknown {
                code,
                value: Bytes::from(v)
            }),
    ]
}

fn open() -> impl Strategy<Value = Open> {
    (
        any::<u16>(),
        prop_oneof![Just(0u16), 3u16..],
        any::<u32>().prop_filter("non-zero id", |&i| i != 0),
        vec(capability(), 0..12),
        vec(
            (
                any::<u8>().prop_filter("not capabilities", |&t| t != 2),
                vec(any::<u8>(), 0..20).prop_map(Bytes::from),
            ),
            0..3,
        ),
    )
        .prop_map(|(my_as, hold_time, id, capabilities, other_params)| Open {
            version: 4,
            my_as,
            hold_time,
            bgp_id: Ipv4Addr::from(id),
            capabilities,
            other_params,
        })
}

fn message(ctx: SessionContext) -> impl Strategy<Value = Message> {
    prop_oneof![
        open().prop_map(Message::Open),
        update(ctx).prop_map(Message::Update),
        (any::<u8>(), any::<u8>(), vec(any::<u8>(), 0..100))
            .prop_map(|(c, s, d)| { Message::Notification(Notification::with_data(c, s, d)) }),
        Just(Message::Keepalive),
        (afi_safi(), any::<u8>()).prop_map(|(af, st)| {
            Message::RouteRefresh(RouteRefresh {
                af,
                subtype: match st {
                    0 => RouteRefreshSubtype::Request,
                    1 => RouteRefreshSubtype::BoRR,
                    2 => RouteRefreshSubtype::EoRR,
                    v => RouteRefreshSubtype::Other(v),
                },
            })
        }),
    ]
}

fn ctx_and_message() -> impl Strategy<Value = (SessionContext, Message)> {
    ctx_strategy().prop_flat_map(|ctx| (Just(ctx.clone()), message(ctx)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// encode -> decode gives the same value with a clean verdict, and decode -> encode
    /// reproduces the (canonical) bytes.
    #[test]
    fn every_message_roundtrips((ctx, m) in ctx_and_message()) {
        let mut buf = BytesMut::new();
        encode_message(&m, &ctx, &mut buf).unwrap();
        let bytes = buf.freeze();
        prop_assert_eq!(frame_len(&bytes, &ctx).unwrap(), Some(bytes.len()));
        let d = decode_message(bytes.clone(), &ctx).unwrap();
        prop_assert!(d.verdict.is_clean(), "{:?}", d.verdict);
        prop_assert_eq!(&d.message, &m);
        let mut again = BytesMut::new();
        encode_message(&d.message, &ctx, &mut again).unwrap();
        prop_assert_eq!(again.freeze(), bytes.clone());
        if let Message::Update(u) = &m {
            // The lazy view sees the same routes.
            let v = UpdateView::parse_message(&bytes, &ctx).unwrap();
            prop_assert_eq!(v.nlri().collect::<Vec<_>>(), u.nlri.clone());
            prop_assert_eq!(v.withdrawn().collect::<Vec<_>>(), u.withdrawn.clone());
            prop_assert_eq!(v.attributes().count(), u.attributes.len());
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The builder's messages fit, decode cleanly and carry exactly the routes given.
    #[test]
    fn builder_packs_everything_within_the_limit(
        ctx in ctx_strategy(),
        v4 in nlri_list(false, false, 1500),
        v6 in nlri_list(true, false, 800),
        wd in nlri_list(false, false, 1500),
    ) {
        let fix = |l: Vec<Nlri>, af: AfiSafi| -> Vec<Nlri> {
            l.into_iter().enumerate().map(|(i, mut n)| {
                n.path_id = ctx.sends_path_id(af).then_some(i as u32);
                n
            }).collect()
        };
        let (v4, v6, wd) = (fix(v4, V4U), fix(v6, V6U), fix(wd, V4U));
        let ups = UpdateBuilder::new(&ctx)
            .attributes(vec![
                PathAttribute::Origin(Origin::Igp),
                PathAttribute::AsPath(AsPath::from_sequence([65000])),
                PathAttribute::NextHop(Ipv4Addr::new(192, 168, 1, 10)),
                PathAttribute::Communities(vec![Community(1); 50]),
            ])
            .next_hop(V6U, MpNextHop::V6 { global: "2001:db8::1".parse().unwrap(), link_local: None })
            .announce(V4U, v4.clone())
            .announce(V6U, v6.clone())
            .withdraw(V4U, wd.clone())
            .build()
            .unwrap();
        let (mut got4, mut got6, mut gotw) = (vec![], vec![], vec![]);
        for u in &ups {
            let mut buf = BytesMut::new();
            encode_message(&Message::Update(u.clone()), &ctx, &mut buf).unwrap();
            prop_assert!(buf.len() <= ctx.max_message_len());
            let d = decode_message(buf.freeze(), &ctx).unwrap();
            prop_assert!(d.verdict.is_clean(), "{:?}", d.verdict);
            let Message::Update(u) = d.message else { unreachable!() };
            for (af, n) in u.announced() {
                if af == V4U { got4.push(*n) } else { got6.push(*n) }
            }
            gotw.extend(u.withdrawn_routes().map(|(_, n)| *n));
        }
        prop_assert_eq!(got4, v4);
        prop_assert_eq!(got6, v6);
        prop_assert_eq!(gotw, wd);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Arbitrary bytes never panic.
    #[test]
    fn arbitrary_bytes_never_panic(ctx in ctx_strategy(), data in vec(any::<u8>(), 0..200)) {
        let _ = frame_len(&data, &ctx);
        let _ = decode_message(Bytes::from(data.clone()), &ctx);
        let _ = UpdateView::parse(&data, &ctx).map(|v| {
            v.nlri().count() + v.withdrawn().count() + v.attributes().count()
                + v.mp_reach().and_then(|m| m.prefixes()).map_or(0, |p| p.count())
        });
    }

    /// A valid header with an arbitrary body never panics, for every message type.
    #[test]
    fn arbitrary_bodies_never_panic(ctx in ctx_strategy(), ty in 1u8..=5, body in vec(any::<u8>(), 0..300)) {
        let mut m = vec![0xFF; 16];
        m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
        m.push(ty);
        m.extend_from_slice(&body);
        if let Ok(d) = decode_message(Bytes::from(m), &ctx) {
            // Whatever decodes re-encodes without panicking.
            let mut out = BytesMut::new();
            let _ = encode_message(&d.message, &ctx, &mut out);
        }
    }

    /// Mutating one octet of a valid UPDATE never panics, and whatever decodes
    /// re-encodes and decodes again to the same message.
    #[test]
    fn mutated_updates_are_handled(
        (ctx, m) in ctx_strategy().prop_flat_map(|c| (Just(c.clone()), update(c))),
        idx in any::<prop::sample::Index>(),
        val in any::<u8>(),
    ) {
        let mut buf = BytesMut::new();
        encode_message(&Message::Update(m), &ctx, &mut buf).unwrap();
        let i = 19 + idx.index(buf.len() - 19);
        buf[i] = val;
        if let Ok(d) = decode_message(buf.freeze(), &ctx) {
            let mut out = BytesMut::new();
            if encode_message(&d.message, &ctx, &mut out).is_ok() {
                let d2 = decode_message(out.freeze(), &ctx).unwrap();
                prop_assert_eq!(d2.message, d.message);
            }
        }
    }

    /// The codec yields the same messages however the stream is split.
    #[test]
    fn codec_framing_is_split_independent(
        (ctx, msgs) in ctx_strategy().prop_flat_map(|c| (Just(c.clone()), vec(message(c), 1..5))),
        cuts in vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let mut stream = BytesMut::new();
        for m in &msgs {
            encode_message(m, &ctx, &mut stream).unwrap();
        }
        let stream = stream.freeze();
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        points.push(stream.len());
        points.sort_unstable();
        let mut codec = BgpCodec::new(ctx.clone());
        let mut buf = BytesMut::new();
        let mut got = vec![];
        let mut prev = 0;
        for p in points {
            buf.extend_from_slice(&stream[prev..p]);
            prev = p;
            while let Some(d) = codec.decode(&mut buf).unwrap() {
                got.push(d.message);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, msgs);
    }
}

/// The attributes and verdict of an UPDATE whose attribute field is `block` and which has
/// no withdrawn routes and no NLRI, offsets made relative to the block.
fn block_via_update(block: &[u8], ctx: &SessionContext) -> Option<DecodedAttributes> {
    let mut m = vec![0xFF; 16];
    m.extend_from_slice(&u16::try_from(23 + block.len()).ok()?.to_be_bytes());
    m.extend_from_slice(&[2, 0, 0]);
    m.extend_from_slice(&(block.len() as u16).to_be_bytes());
    m.extend_from_slice(block);
    let ext = SessionContext {
        extended_message: true,
        ..ctx.clone()
    };
    let d = decode_message(Bytes::from(m), &ext).ok()?;
    let Message::Update(u) = d.message else {
        return None;
    };
    let mut verdict = d.verdict;
    for p in &mut verdict.problems {
        p.offset -= 23;
    }
    Some(DecodedAttributes {
        attributes: u.attributes,
        verdict,
    })
}

fn put_block(attrs: &[PathAttribute], ctx: &SessionContext) -> BytesMut {
    let mut b = BytesMut::new();
    for a in attrs {
        put_attribute(a, ctx, &mut b).unwrap();
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// decode_path_attributes: encode -> decode of an UPDATE's attributes gives them back
    /// with a clean verdict, under the same context, with and without the archive options.
    #[test]
    fn attribute_blocks_roundtrip(
        (ctx, u) in ctx_strategy().prop_flat_map(|c| (Just(c.clone()), update(c))),
    ) {
        let block = put_block(&u.attributes, &ctx).freeze();
        let d = decode_path_attributes(&block, &ctx, AttrListOptions::default());
        prop_assert!(d.verdict.is_clean(), "{:?}", d.verdict);
        prop_assert_eq!(&d.attributes, &u.attributes);
        // Archive options change nothing on a canonical block: a full-form MP_REACH starts
        // with the AFI's high octet, 0 for IPv4/IPv6 (the families of RIB entries), so it
        // never looks abbreviated. (An AFI above 255 whose high octet happens to equal the
        // rest's length would: such a block is not a RIB entry's, so it is left out here.)
        let high_afi = u.attributes.iter().any(|a| {
            matches!(a, PathAttribute::MpReachNlri(r) if r.af.afi.code() > 255)
        });
        if !high_afi {
            let opts = AttrListOptions { abbreviated_mp_reach: Some(V6U), ignore_flag_errors: true };
            let d2 = decode_path_attributes(&block, &ctx, opts);
            prop_assert_eq!(d2, d);
        }
    }

    /// An abbreviated MP_REACH_NLRI (RFC 6396 §4.3.4) decodes to the family given, with its
    /// next hop and no prefixes, wherever it sits in the block.
    #[test]
    fn abbreviated_mp_reach_roundtrips(
        ctx in ctx_strategy(),
        (af, nh) in mp_family().prop_flat_map(|af| {
            let c = SessionContext { extended_next_hop: vec![V4U, V4M], ..Default::default() };
            (Just(af), mp_next_hop(af, &c))
        }),
        others in vec(optional_attr(true), 0..4),
        at in any::<prop::sample::Index>(),
    ) {
        let ctx = SessionContext { four_octet_as: true, extended_next_hop: vec![V4U, V4M], ..ctx };
        let mut others: Vec<PathAttribute> = others;
        let mut seen = vec![];
        others.retain(|a| { let new = !seen.contains(&a.type_code()); seen.push(a.type_code()); new });
        let nh_bytes: Vec<u8> = match &nh {
            MpNextHop::V4(a) => a.octets().to_vec(),
            MpNextHop::V6 { global, link_local } => {
                let mut v = global.octets().to_vec();
                if let Some(l) = link_local { v.extend_from_slice(&l.octets()); }
                v
            }
            MpNextHop::Raw(b) => b.to_vec(),
        };
        // A raw next hop of length 0 is not the abbreviated form (the value must be
        // longer than its length octet).
        prop_assume!(!nh_bytes.is_empty());
        let i = at.index(others.len() + 1);
        let mut block = put_block(&others[..i], &ctx);
        block.extend_from_slice(&[0x80, 14, nh_bytes.len() as u8 + 1, nh_bytes.len() as u8]);
        block.extend_from_slice(&nh_bytes);
        block.extend_from_slice(&put_block(&others[i..], &ctx));
        let d = decode_path_attributes(&block.freeze(), &ctx, AttrListOptions::mrt_rib(af));
        prop_assert!(d.verdict.is_clean(), "{:?}", d.verdict);
        let nlri = match (af.afi, af.safi) {
            (Afi::Ipv4 | Afi::Ipv6, Safi::Unicast | Safi::Multicast) => MpNlri::Prefixes(vec![]),
            _ => MpNlri::Raw(Bytes::new()),
        };
        let mut want = others.clone();
        want.insert(i, PathAttribute::MpReachNlri(MpReach { af, next_hop: nh, nlri }));
        prop_assert_eq!(d.attributes, want);
    }

    /// Without options, a block decodes exactly as the attribute field of an UPDATE with no
    /// NLRI (same attributes, same RFC 7606 problems), for arbitrary and mutated blocks.
    #[test]
    fn attribute_blocks_match_the_update_decoder(
        (ctx, u) in ctx_strategy().prop_flat_map(|c| (Just(c.clone()), update(c))),
        junk in vec(any::<u8>(), 0..120),
        muts in vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        use_junk in any::<bool>(),
    ) {
        let mut block = if use_junk { BytesMut::from(&junk[..]) } else { put_block(&u.attributes, &ctx) };
        if !block.is_empty() {
            for (i, v) in muts {
                let i = i.index(block.len());
                block[i] = v;
            }
        }
        let block = block.freeze();
        let d = decode_path_attributes(&block, &ctx, AttrListOptions::default());
        if let Some(via) = block_via_update(&block, &ctx) {
            prop_assert_eq!(d, via);
        }
        // The archive options never panic either.
        let _ = decode_path_attributes(&block, &ctx, AttrListOptions::mrt_rib(V4U));
    }
}
