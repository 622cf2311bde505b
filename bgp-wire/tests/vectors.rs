//! Real-peer vectors: every BGP message captured from FRR, BIRD, GoBGP and ExaBGP under
//! `testdata/` (see `testdata/README.md` and `scripts/capture-vectors.sh`) must decode under
//! its session's context with a clean RFC 7606 verdict, survive decode -> encode -> decode
//! unchanged, and re-encode to the same bytes wherever our canonical form matches the
//! sender's.
//!
//! Where the bytes differ, the difference must be one of these, and nothing else:
//! - **OPEN optional-parameter grouping**: RFC 5492 lets a speaker put several capabilities
//!   in one Capabilities parameter or each in its own; we compare the flattened capability
//!   list (code, value) in order, plus the non-capability parameters.
//! - **Extended-length flag**: a sender may use the 2-octet length form for an attribute
//!   shorter than 256 octets; we compare attributes with the flag masked out (flags, type,
//!   value).
//!
//! Also checks decoded facts that the capture script configured (prefixes, AS paths, next
//! hops, communities, capabilities, notifications, route refresh subtypes).
//!
//! Length: the vector loader and one test per check (decode, round trip, re-encode, tshark),
//! plus the per-daemon expectations they share.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bgp_wire::{AfiSafi, Message, SessionContext};
use bytes::{Bytes, BytesMut};

/// One stored vector.
#[derive(Debug, Clone)]
struct Vector {
    /// `sender/file-name` for messages.
    name: String,
    /// The directory: which implementation sent it.
    sender: String,
    ctx: SessionContext,
    bytes: Bytes,
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn parse_context(line: &str) -> SessionContext {
    let spec = line
        .strip_prefix("# context:")
        .unwrap_or_else(|| panic!("first line must be '# context: ...', got {line:?}"));
    let mut ctx = SessionContext::default();
    for word in spec.split_whitespace() {
        match word {
            "none" => {}
            "asn4" => ctx.four_octet_as = true,
            "extended-message" => ctx.extended_message = true,
            w if w.starts_with("add-path=") => {
                let af = match &w["add-path=".len()..] {
                    "ipv4/unicast" => AfiSafi::IPV4_UNICAST,
                    "ipv6/unicast" => AfiSafi::IPV6_UNICAST,
                    other => panic!("unknown family {other}"),
                };
                ctx.add_path_receive.push(af);
                ctx.add_path_send.push(af);
            }
            "extended-nexthop=ipv4/unicast" => ctx.extended_next_hop.push(AfiSafi::IPV4_UNICAST),
            w => panic!("unknown context word {w:?}"),
        }
    }
    ctx
}

fn load_vectors() -> Vec<Vector> {
    let mut out = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(testdata())
        .expect("testdata directory")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .collect();
    dirs.sort_by_key(|e| e.path());
    for d in dirs {
        let sender = d.file_name().to_string_lossy().into_owned();
        let mut files: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "hex"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let mut lines = text.lines();
            let ctx = parse_context(lines.next().expect("context line"));
            let hex_line = lines.next().expect("hex line");
            let bytes = Bytes::from(hex::decode(hex_line.trim()).expect("valid hex"));
            out.push(Vector {
                name: format!("{sender}/{}", f.file_name().unwrap().to_string_lossy()),
                sender: sender.clone(),
                ctx,
                bytes,
            });
        }
    }
    out
}

fn decode(v: &Vector) -> bgp_wire::Message {
    let d = bgp_wire::decode_message(v.bytes.clone(), &v.ctx)
        .unwrap_or_else(|e| panic!("{}: decode failed: {e}", v.name));
    assert!(
        d.verdict.is_clean(),
        "{}: RFC 7606 problems in a real peer's message: {:?}",
        v.name,
        d.verdict
    );
    d.message
}

fn encode(m: &Message, ctx: &SessionContext) -> Bytes {
    let mut buf = BytesMut::new();
    bgp_wire::encode_message(m, ctx, &mut buf).unwrap_or_else(|e| panic!("encode {m:?}: {e}"));
    buf.freeze()
}

#[test]
fn there_are_vectors_from_every_implementation() {
    let v = load_vectors();
    let mut per: BTreeMap<(String, u8), usize> = BTreeMap::new();
    for x in &v {
        *per.entry((x.sender.clone(), x.bytes[18])).or_default() += 1;
    }
    for sender in ["frr", "bird", "gobgp", "exabgp"] {
        assert!(
            per.contains_key(&(sender.to_string(), 1)),
            "no OPEN from {sender}"
        );
        assert!(
            per.contains_key(&(sender.to_string(), 2)),
            "no UPDATE from {sender}"
        );
    }
    for (kind, t) in [("KEEPALIVE", 4), ("NOTIFICATION", 3), ("ROUTE-REFRESH", 5)] {
        assert!(per.keys().any(|k| k.1 == t), "no {kind} vector");
    }
    assert!(v.len() >= 60, "only {} vectors", v.len());
}

#[test]
fn every_vector_decodes_cleanly_and_round_trips() {
    let vectors = load_vectors();
    for v in &vectors {
        let m = decode(v);
        let again = encode(&m, &v.ctx);
        let back = bgp_wire::decode_message(again.clone(), &v.ctx)
            .unwrap_or_else(|e| panic!("{}: our re-encoding does not decode: {e}", v.name));
        assert_eq!(
            back.message, m,
            "{}: decode -> encode -> decode changed it",
            v.name
        );
        // And the second encoding is a fixed point.
        assert_eq!(
            encode(&back.message, &v.ctx),
            again,
            "{}: encoding not stable",
            v.name
        );
    }
}

// ---------------------------------------------------------------- canonical comparison

/// A message reduced to what its sender could not have written differently.
#[derive(Debug, PartialEq, Eq)]
enum Canonical {
    Open {
        fixed: Vec<u8>,
        /// (capability code, value), flattened in order.
        capabilities: Vec<(u8, Vec<u8>)>,
        /// (parameter type, value) of non-capability parameters.
        other: Vec<(u8, Vec<u8>)>,
    },
    Update {
        withdrawn: Vec<u8>,
        /// (flags without extended-length, type, value)
        attributes: Vec<(u8, u8, Vec<u8>)>,
        nlri: Vec<u8>,
    },
    Other(Vec<u8>),
}

fn canonical(b: &[u8]) -> Canonical {
    let body = &b[19..];
    match b[18] {
        1 => {
            let plen = usize::from(body[9]);
            let mut capabilities = vec![];
            let mut other = vec![];
            let mut i = 10;
            while i < 10 + plen {
                let (t, l) = (body[i], usize::from(body[i + 1]));
                let v = &body[i + 2..i + 2 + l];
                if t == 2 {
                    let mut j = 0;
                    while j < v.len() {
                        let cl = usize::from(v[j + 1]);
                        capabilities.push((v[j], v[j + 2..j + 2 + cl].to_vec()));
                        j += 2 + cl;
                    }
                } else {
                    other.push((t, v.to_vec()));
                }
                i += 2 + l;
            }
            Canonical::Open {
                fixed: body[..9].to_vec(),
                capabilities,
                other,
            }
        }
        2 => {
            let wl = usize::from(u16::from_be_bytes([body[0], body[1]]));
            let withdrawn = body[2..2 + wl].to_vec();
            let al = usize::from(u16::from_be_bytes([body[2 + wl], body[3 + wl]]));
            let attrs = &body[4 + wl..4 + wl + al];
            let mut attributes = vec![];
            let mut i = 0;
            while i < attrs.len() {
                let (flags, t) = (attrs[i], attrs[i + 1]);
                let (l, h) = if flags & 0x10 != 0 {
                    (
                        usize::from(u16::from_be_bytes([attrs[i + 2], attrs[i + 3]])),
                        4,
                    )
                } else {
                    (usize::from(attrs[i + 2]), 3)
                };
                attributes.push((flags & !0x10, t, attrs[i + h..i + h + l].to_vec()));
                i += h + l;
            }
            Canonical::Update {
                withdrawn,
                attributes,
                nlri: body[4 + wl + al..].to_vec(),
            }
        }
        _ => Canonical::Other(b.to_vec()),
    }
}

/// Why two encodings of the same message differ: which documented exceptions apply.
fn exceptions(peer: &[u8], ours: &[u8]) -> Vec<&'static str> {
    let mut why = vec![];
    match peer[18] {
        1 => {
            // Parameter layout: (type, length) of every optional parameter.
            let layout = |b: &[u8]| {
                let body = &b[19..];
                let end = 10 + usize::from(body[9]);
                let mut v = vec![];
                let mut i = 10;
                while i < end {
                    v.push((body[i], body[i + 1]));
                    i += 2 + usize::from(body[i + 1]);
                }
                v
            };
            if layout(peer) != layout(ours) {
                why.push("OPEN parameter grouping");
            }
        }
        2 => {
            // Attribute header forms: (type, extended-length bit) in order.
            let forms = |b: &[u8]| {
                let body = &b[19..];
                let wl = usize::from(u16::from_be_bytes([body[0], body[1]]));
                let al = usize::from(u16::from_be_bytes([body[2 + wl], body[3 + wl]]));
                let a = &body[4 + wl..4 + wl + al];
                let mut v = vec![];
                let mut i = 0;
                while i < a.len() {
                    let ext = a[i] & 0x10 != 0;
                    v.push((a[i + 1], ext));
                    let l = if ext {
                        usize::from(u16::from_be_bytes([a[i + 2], a[i + 3]])) + 4
                    } else {
                        usize::from(a[i + 2]) + 3
                    };
                    i += l;
                }
                v
            };
            if forms(peer) != forms(ours) {
                why.push("extended-length flag");
            }
        }
        _ => {}
    }
    why
}

#[test]
fn reencoding_matches_the_senders_bytes_up_to_documented_exceptions() {
    let vectors = load_vectors();
    let mut identical = 0;
    let mut by_reason: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for v in &vectors {
        let again = encode(&decode(v), &v.ctx);
        if again == v.bytes {
            identical += 1;
            continue;
        }
        assert_eq!(
            canonical(&again),
            canonical(&v.bytes),
            "{}: re-encoding differs beyond parameter grouping / extended-length flag\n ours:  {}\n peer:  {}",
            v.name,
            hex::encode(&again),
            hex::encode(&v.bytes)
        );
        let why = exceptions(&v.bytes, &again);
        assert!(
            !why.is_empty(),
            "{}: differs, but not by a documented exception\n ours:  {}\n peer:  {}",
            v.name,
            hex::encode(&again),
            hex::encode(&v.bytes)
        );
        for w in why {
            by_reason.entry(w).or_default().push(v.name.clone());
        }
    }
    eprintln!(
        "{identical} of {} vectors re-encode byte for byte",
        vectors.len()
    );
    for (why, names) in &by_reason {
        eprintln!("{} differ by {why}: {names:?}", names.len());
    }
    // Every implementation sends some messages exactly as we would.
    for sender in ["frr", "bird", "gobgp", "exabgp"] {
        assert!(
            vectors
                .iter()
                .any(|v| v.sender == sender && encode(&decode(v), &v.ctx) == v.bytes),
            "no vector from {sender} re-encodes byte for byte"
        );
    }
}

#[test]
fn canonical_form_ignores_only_the_documented_differences() {
    // ORIGIN IGP with a 1-octet and with a 2-octet length: equal.
    let short = hex::decode("ffffffffffffffffffffffffffffffff001b02000000044001010018").unwrap();
    let long = hex::decode("ffffffffffffffffffffffffffffffff001c0200000005500100010018").unwrap();
    assert_eq!(canonical(&short), canonical(&long));
    assert!(
        matches!(canonical(&short), Canonical::Update { ref attributes, .. } if attributes.len() == 1)
    );
    // A different value is not.
    let mut other = short.clone();
    other[26] = 1;
    assert_ne!(canonical(&short), canonical(&other));
}

// ---------------------------------------------------------------- decoded facts

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bgp_wire::attr::{
    Aggregator, AsSegment, AsSegmentType, Community, ExtGlobalAdmin, ExtendedCommunity,
    LargeCommunity, MpNextHop, Origin, PathAttribute,
};
use bgp_wire::message::{AS_TRANS, AddPathMode, BgpRole, Capability, RouteRefreshSubtype};
use bgp_wire::smallvec::smallvec;
use bgp_wire::{Afi, Nlri, Open, Update};

fn decoded() -> Vec<(String, Message)> {
    load_vectors()
        .iter()
        .map(|v| (v.name.clone(), decode(v)))
        .collect()
}

/// The UPDATEs whose vector name starts with `prefix` (e.g. `frr/frr1-to-gobgp`).
fn updates<'a>(all: &'a [(String, Message)], prefix: &str) -> Vec<&'a Update> {
    all.iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .filter_map(|(_, m)| match m {
            Message::Update(u) => Some(u),
            _ => None,
        })
        .collect()
}

fn open<'a>(all: &'a [(String, Message)], prefix: &str) -> &'a Open {
    all.iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .find_map(|(_, m)| match m {
            Message::Open(o) => Some(o),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no OPEN {prefix}"))
}

/// Every prefix an UPDATE announces: IPv4 NLRI and MP_REACH_NLRI.
fn announced(u: &Update) -> Vec<Nlri> {
    let mut v = u.nlri.clone();
    for a in &u.attributes {
        if let PathAttribute::MpReachNlri(r) = a {
            v.extend_from_slice(r.nlri.prefixes());
        }
    }
    v
}

/// The UPDATE among `us` that announces `prefix`.
fn announcing<'a>(us: &[&'a Update], prefix: &str) -> &'a Update {
    let p: ipnet::IpNet = prefix.parse().unwrap();
    us.iter()
        .copied()
        .find(|u| announced(u).iter().any(|n| n.prefix == p))
        .unwrap_or_else(|| panic!("no UPDATE announcing {prefix}"))
}

fn has(u: &Update, want: &PathAttribute) -> bool {
    u.attributes.contains(want)
}

fn communities(u: &Update) -> Vec<Community> {
    u.attributes
        .iter()
        .find_map(|a| match a {
            PathAttribute::Communities(c) => Some(c.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn opens_carry_the_configured_capabilities() {
    let all = decoded();
    let v4 = AfiSafi::IPV4_UNICAST;
    let v6 = AfiSafi::IPV6_UNICAST;

    let frr = open(&all, "frr/frr1-to-gobgp");
    assert_eq!(frr.bgp_id, Ipv4Addr::new(10, 77, 0, 1));
    assert_eq!(frr.hold_time, 9);
    assert_eq!(frr.asn(), 65001);
    let c = &frr.capabilities;
    for want in [
        Capability::Multiprotocol(v4),
        Capability::Multiprotocol(v6),
        Capability::RouteRefresh,
        Capability::EnhancedRouteRefresh,
        Capability::ExtendedMessage,
        Capability::FourOctetAs(65001),
        Capability::Role(BgpRole::Provider),
        Capability::Fqdn {
            hostname: "wirex-frr1".into(),
            domain: "lab.example".into(),
        },
    ] {
        assert!(c.contains(&want), "FRR OPEN lacks {want:?}: {c:?}");
    }
    assert!(c.iter().any(
        |x| matches!(x, Capability::GracefulRestart { restart_time, families, .. }
        if *restart_time > 0 && families.iter().any(|f| f.af == v4))
    ));
    assert!(
        c.iter()
            .any(|x| matches!(x, Capability::LongLivedGracefulRestart(f)
        if f.iter().any(|f| f.af == v4 && f.stale_time == 120)))
    );
    assert!(c.iter().any(|x| matches!(x, Capability::AddPath(f)
        if f.iter().any(|(af, m)| *af == v4 && m.sends()))));

    let frr2 = open(&all, "frr/frr2-to-frr1");
    assert!(
        frr2.capabilities
            .iter()
            .any(|x| matches!(x, Capability::ExtendedNextHop(t)
        if t.contains(&(v4, Afi::Ipv6))))
    );

    let gobgp = open(&all, "gobgp/");
    assert_eq!(gobgp.my_as, AS_TRANS);
    assert_eq!(gobgp.asn(), 4_200_000_002);
    assert!(
        gobgp
            .capabilities
            .contains(&Capability::AddPath(vec![(v4, AddPathMode::Both)]))
    );

    let bird = open(&all, "bird/");
    assert_eq!(bird.asn(), 65001);
    assert!(
        bird.capabilities
            .iter()
            .any(|x| matches!(x, Capability::AddPath(f)
        if f.iter().any(|(af, _)| *af == v4) && f.iter().any(|(af, _)| *af == v6)))
    );
    assert!(
        bird.capabilities
            .iter()
            .any(|x| matches!(x, Capability::LongLivedGracefulRestart(_)))
    );

    let exa = open(&all, "exabgp/");
    assert_eq!(exa.my_as, 65004);
    assert!(
        !exa.capabilities
            .iter()
            .any(|x| matches!(x, Capability::FourOctetAs(_)))
    );
}

#[test]
fn updates_carry_the_configured_attributes() {
    let all = decoded();

    // ExaBGP: AS_SET, AGGREGATOR, ATOMIC_AGGREGATE, every community kind, 2-octet AS.
    let exa = updates(&all, "exabgp/");
    let u = announcing(&exa, "172.50.0.0/24");
    assert!(has(u, &PathAttribute::Origin(Origin::Incomplete)));
    assert!(has(
        u,
        &PathAttribute::AsPath(bgp_wire::attr::AsPath {
            segments: smallvec![
                AsSegment {
                    kind: AsSegmentType::Sequence,
                    asns: smallvec![65004, 64999],
                },
                AsSegment {
                    kind: AsSegmentType::Set,
                    asns: smallvec![64700, 64701],
                },
            ],
        })
    ));
    assert!(has(u, &PathAttribute::NextHop(Ipv4Addr::new(10, 77, 0, 5))));
    assert!(has(u, &PathAttribute::MultiExitDisc(50)));
    assert!(has(u, &PathAttribute::AtomicAggregate));
    assert!(has(
        u,
        &PathAttribute::Aggregator(Aggregator {
            asn: 65004,
            addr: Ipv4Addr::new(10, 77, 0, 5)
        })
    ));
    assert_eq!(
        communities(u),
        vec![
            Community::new(65004, 1),
            Community::new(65004, 2),
            Community::NO_EXPORT
        ]
    );
    assert!(u.attributes.iter().any(|a| matches!(a, PathAttribute::ExtendedCommunities(e)
        if e.contains(&ExtendedCommunity::RouteTarget(ExtGlobalAdmin::As2 { asn: 65004, local: 5 })))));
    assert!(has(
        u,
        &PathAttribute::LargeCommunities(vec![LargeCommunity {
            global: 65004,
            local1: 5,
            local2: 5
        }])
    ));
    let u6 = announcing(&exa, "2001:db8:50::/48");
    let nh = u6.attributes.iter().find_map(|a| match a {
        PathAttribute::MpReachNlri(r) => Some(r.next_hop.addr()),
        _ => None,
    });
    assert_eq!(nh, Some(Some(IpAddr::V6("fd77::5".parse().unwrap()))));

    // FRR to the 2-octet ExaBGP session: AS_TRANS in AS_PATH, the real path in AS4_PATH.
    let to_exa = updates(&all, "frr/frr1-to-exabgp");
    assert!(
        to_exa.iter().any(|u| {
            u.attributes
                .iter()
                .any(|a| matches!(a, PathAttribute::AsPath(p) if p.count(u32::from(AS_TRANS)) > 0))
                && u.attributes
                    .iter()
                    .any(|a| matches!(a, PathAttribute::As4Path(p) if p.count(4_200_000_002) > 0))
        }),
        "no AS_TRANS + AS4_PATH update from FRR to the 2-octet session"
    );
    // FRR with role provider adds OTC towards its customers.
    assert!(to_exa.iter().any(|u| has(u, &PathAttribute::Otc(65001))));
    let to_gobgp = updates(&all, "frr/frr1-to-gobgp");
    assert!(to_gobgp.iter().any(|u| has(u, &PathAttribute::Otc(65001))));
    assert!(
        to_gobgp
            .iter()
            .any(|u| u.nlri.iter().any(|n| n.path_id.is_some())),
        "FRR sends path identifiers to GoBGP (add-path)"
    );

    // FRR route reflection: ORIGINATOR_ID and CLUSTER_LIST on BIRD's routes sent to frr2,
    // IPv4 NLRI with an IPv6 next hop (RFC 8950).
    let to_frr2 = updates(&all, "frr/frr1-to-frr2");
    let r = announcing(&to_frr2, "172.40.0.0/24");
    assert!(has(
        r,
        &PathAttribute::OriginatorId(Ipv4Addr::new(10, 77, 0, 3))
    ));
    assert!(has(
        r,
        &PathAttribute::ClusterList(vec![Ipv4Addr::new(10, 77, 0, 100)])
    ));
    assert!(
        r.attributes
            .iter()
            .any(|a| matches!(a, PathAttribute::MpReachNlri(m)
        if m.af == AfiSafi::IPV4_UNICAST && matches!(m.next_hop, MpNextHop::V6 { .. })))
    );

    // frr2: IPv6 next hop with a link-local address, an aggregate, IPv6 withdrawals.
    let frr2 = updates(&all, "frr/frr2-to-frr1");
    let agg = announcing(&frr2, "172.20.0.0/16");
    assert!(has(agg, &PathAttribute::AtomicAggregate));
    assert!(has(
        agg,
        &PathAttribute::Aggregator(Aggregator {
            asn: 65001,
            addr: Ipv4Addr::new(10, 77, 0, 2)
        })
    ));
    assert!(
        agg.attributes
            .iter()
            .any(|a| matches!(a, PathAttribute::MpReachNlri(m)
        if matches!(m.next_hop, MpNextHop::V6 { global, link_local: Some(ll) }
            if global == "fd77::2".parse::<Ipv6Addr>().unwrap() && ll.segments()[0] == 0xfe80)))
    );
    // frr2's route-mapped networks: GRACEFUL_SHUTDOWN, two large communities, route target
    // and site-of-origin (IPv4-address-specific route origin), ORIGIN EGP, LOCAL_PREF.
    let rm = announcing(&frr2, "172.20.1.0/24");
    assert_eq!(
        communities(rm),
        vec![
            Community::new(65001, 20),
            Community::GRACEFUL_SHUTDOWN,
            Community::NO_EXPORT
        ]
    );
    assert!(has(rm, &PathAttribute::Origin(Origin::Egp)));
    assert!(has(rm, &PathAttribute::LocalPref(220)));
    assert!(has(rm, &PathAttribute::MultiExitDisc(20)));
    assert!(has(
        rm,
        &PathAttribute::LargeCommunities(vec![
            LargeCommunity {
                global: 65001,
                local1: 20,
                local2: 1
            },
            LargeCommunity {
                global: 65001,
                local1: 20,
                local2: 2
            }
        ])
    ));
    assert!(has(
        rm,
        &PathAttribute::ExtendedCommunities(vec![
            ExtendedCommunity::RouteTarget(ExtGlobalAdmin::As2 {
                asn: 65001,
                local: 20
            }),
            ExtendedCommunity::RouteOrigin(ExtGlobalAdmin::Ipv4 {
                addr: Ipv4Addr::new(10, 77, 0, 2),
                local: 7
            }),
        ])
    ));
    let gone: ipnet::IpNet = "2001:db8:21:1::/64".parse().unwrap();
    assert!(frr2.iter().any(|u| {
        u.attributes.iter().any(|a| {
            matches!(a, PathAttribute::MpUnreachNlri(w)
        if w.af == AfiSafi::IPV6_UNICAST && w.withdrawn.prefixes().iter().any(|n| n.prefix == gone))
        })
    }));

    // FRR's own route-mapped network to BIRD, with a path identifier.
    let to_bird = updates(&all, "frr/frr1-to-bird");
    let o = announcing(&to_bird, "172.21.0.0/24");
    assert!(announced(o).iter().all(|n| n.path_id.is_some()));
    assert_eq!(
        communities(o),
        vec![
            Community::new(65001, 1),
            Community::new(65001, 2),
            Community::NO_EXPORT
        ]
    );
    assert!(has(o, &PathAttribute::MultiExitDisc(11)));
    assert!(has(o, &PathAttribute::LocalPref(100)));

    // BIRD: add-path, IPv4-address-specific route origin, LOCAL_PREF, IPv6 next hop.
    let bird = updates(&all, "bird/");
    let b = announcing(&bird, "172.40.0.0/24");
    assert!(announced(b).iter().all(|n| n.path_id.is_some()));
    assert!(has(b, &PathAttribute::LocalPref(140)));
    assert!(communities(b).contains(&Community::new(65001, 400)));
    assert!(
        b.attributes
            .iter()
            .any(|a| matches!(a, PathAttribute::ExtendedCommunities(e)
            if e.contains(&ExtendedCommunity::RouteOrigin(ExtGlobalAdmin::Ipv4 {
                addr: Ipv4Addr::new(10, 77, 0, 3),
                local: 41,
            }))))
    );
    let b6 = announcing(&bird, "2001:db8:40::/48");
    assert!(announced(b6).iter().all(|n| n.path_id.is_some()));

    // GoBGP: 4-octet AS path, large community with a 4-octet global admin, add-path
    // withdrawal.
    let gobgp = updates(&all, "gobgp/");
    let g = announcing(&gobgp, "172.30.0.0/24");
    assert!(has(
        g,
        &PathAttribute::AsPath(bgp_wire::attr::AsPath::from_sequence([4_200_000_002]))
    ));
    assert!(has(g, &PathAttribute::MultiExitDisc(30)));
    assert_eq!(
        communities(g),
        vec![Community::new(4200, 1), Community::NO_EXPORT]
    );
    assert!(has(
        g,
        &PathAttribute::LargeCommunities(vec![LargeCommunity {
            global: 4_200_000_002,
            local1: 1,
            local2: 1
        }])
    ));
    let w: ipnet::IpNet = "172.30.1.0/24".parse().unwrap();
    assert!(gobgp.iter().any(|u| {
        u.withdrawn
            .iter()
            .any(|n| n.prefix == w && n.path_id.is_some())
    }));
}

#[test]
fn notifications_route_refresh_and_keepalive() {
    let all = decoded();
    let notif = |prefix: &str| {
        all.iter()
            .filter(|(n, _)| n.starts_with(prefix))
            .find_map(|(_, m)| match m {
                Message::Notification(n) => Some(n.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no NOTIFICATION {prefix}"))
    };
    // `neighbor X shutdown message ...`: Cease / Administrative Shutdown + RFC 9003 text.
    let n = notif("frr/frr1-to-exabgp");
    assert_eq!((n.code, n.subcode), (6, 2));
    assert_eq!(
        bgp_wire::shutdown::parse(&n.data).unwrap().as_deref(),
        Some("wirex maintenance: back in 5 minutes")
    );
    // GoBGP on SIGTERM: Cease / Peer De-configured.
    let n = notif("gobgp/");
    assert_eq!((n.code, n.subcode), (6, 3));
    // ExaBGP gave up on one of FRR's UPDATEs: Message Header Error, text data.
    let n = notif("exabgp/");
    assert_eq!(n.code, 1);
    assert!(String::from_utf8_lossy(&n.data).contains("can not decode"));

    let subtypes: Vec<RouteRefreshSubtype> = all
        .iter()
        .filter_map(|(_, m)| match m {
            Message::RouteRefresh(r) => Some(r.subtype),
            _ => None,
        })
        .collect();
    for s in [
        RouteRefreshSubtype::Request,
        RouteRefreshSubtype::BoRR,
        RouteRefreshSubtype::EoRR,
    ] {
        assert!(subtypes.contains(&s), "no ROUTE-REFRESH {s:?}");
    }
    assert!(all.iter().any(|(_, m)| *m == Message::Keepalive));
}

// ---------------------------------------------------------------- the decode example

#[cfg(feature = "serde")]
#[path = "../examples/decode.rs"]
#[allow(dead_code)]
mod decode_example;

#[cfg(feature = "serde")]
#[test]
fn decode_example_prints_every_field_and_reencodes() {
    use clap::Parser;
    let file = testdata().join("exabgp/exabgp-to-frr1-open-01.hex");
    let update = load_vectors()
        .into_iter()
        .find(|v| v.sender == "bird" && v.bytes[18] == 2)
        .expect("a BIRD UPDATE");
    // Hex lines on stdin, with comments and blank lines, under BIRD's session context.
    let input = format!(
        "{}\n\n# comment\n{}\n",
        std::fs::read_to_string(&file).unwrap(),
        hex::encode(&update.bytes)
    );
    let args = decode_example::Args::parse_from([
        "decode",
        "--asn4",
        "--add-path",
        "ipv4/unicast",
        "--add-path",
        "ipv6/unicast",
        "--extended-message",
        "--reencode",
    ]);
    let mut out = Vec::new();
    let n = decode_example::run(&args, input.as_bytes(), &mut out).unwrap();
    assert_eq!(n, 2);
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["message"]["Open"]["my_as"], 65004);
    assert_eq!(lines[0]["message"]["Open"]["bgp_id"], "10.77.0.5");
    assert_eq!(lines[1]["verdict"]["problems"], serde_json::json!([]));
    let nlri = &lines[1]["message"]["Update"]["nlri"];
    let mp = &lines[1]["message"]["Update"]["attributes"];
    assert!(
        nlri.as_array()
            .unwrap()
            .iter()
            .any(|n| n["path_id"].is_u64())
            || mp.to_string().contains("\"path_id\":"),
        "path identifiers printed: {}",
        lines[1]
    );
    // The re-encoding decodes to the same message (bytes may differ by the documented
    // extended-length exception).
    let again = hex::decode(lines[1]["reencoded"].as_str().unwrap()).unwrap();
    let back = bgp_wire::decode_message(Bytes::from(again), &update.ctx).unwrap();
    assert_eq!(back.message, decode(&update));
    assert!(lines[0]["identical"].is_boolean());

    // Families parse by name and by number.
    assert_eq!(
        decode_example::parse_family("ipv6/unicast"),
        Ok(AfiSafi::IPV6_UNICAST)
    );
    assert_eq!(
        decode_example::parse_family("1/1"),
        Ok(AfiSafi::IPV4_UNICAST)
    );
    assert!(decode_example::parse_family("ipv4").is_err());
}

/// Runs the built example binary (cargo builds examples before running tests) on a raw
/// byte stream of captured messages.
#[cfg(feature = "serde")]
#[test]
fn decode_example_binary_on_a_raw_stream() {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("examples").join("decode"))
        .unwrap();
    if !bin.exists() {
        assert!(
            std::env::var("CI").is_err(),
            "{} not built; CI=true, so this fails instead of skipping",
            bin.display()
        );
        eprintln!(
            "SKIP: {} not built (run `cargo test -p bgp-wire --features serde`)",
            bin.display()
        );
        return;
    }
    let vs: Vec<Vector> = load_vectors()
        .into_iter()
        .filter(|v| v.name.starts_with("gobgp/"))
        .collect();
    let mut stream = Vec::new();
    for v in &vs {
        stream.extend_from_slice(&v.bytes);
    }
    let dir = std::env::temp_dir().join(format!("bgp-wire-decode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("stream.bin");
    std::fs::write(&file, &stream).unwrap();
    let out = std::process::Command::new(&bin)
        .args(["--asn4", "--add-path", "ipv4/unicast", "--reencode"])
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), vs.len());
    for l in &lines {
        assert!(l.get("error").is_none(), "{l}");
        assert!(l["reencoded"].is_string(), "{l}");
    }
    assert!(text.contains("\"172.30.0.0/24\""), "{text}");
    assert!(text.contains("4200000002"), "{text}");
}

// ---------------------------------------------------------------- Wireshark on the capture

/// Wireshark decodes the raw capture the vectors were cut from; the values it finds must be
/// exactly the values we decode from the vectors (as sets: the vectors are de-duplicated).
/// Skips when tshark is not installed.
#[test]
fn tshark_finds_the_same_values_in_the_real_capture() {
    use std::collections::BTreeSet;
    let have_tshark = std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_tshark {
        assert!(
            std::env::var("CI").is_err(),
            "tshark is not installed; CI=true, so this fails instead of skipping"
        );
        eprintln!("SKIP tshark_finds_the_same_values_in_the_real_capture: no tshark");
        return;
    }
    // (tshark field, our name for the value kind)
    let fields = [
        ("bgp.nlri_prefix", "announced"),
        ("bgp.mp_reach_nlri_ipv4_prefix", "announced"),
        ("bgp.mp_reach_nlri_ipv6_prefix", "announced"),
        ("bgp.withdrawn_prefix", "withdrawn"),
        ("bgp.mp_unreach_nlri_ipv4_prefix", "withdrawn"),
        ("bgp.mp_unreach_nlri_ipv6_prefix", "withdrawn"),
        ("bgp.update.path_attribute.as_path_segment.as2", "asn"),
        ("bgp.update.path_attribute.as_path_segment.as4", "asn"),
        ("bgp.update.path_attribute.next_hop", "next_hop"),
        (
            "bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6",
            "next_hop",
        ),
        (
            "bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6.link_local",
            "next_hop",
        ),
        ("bgp.update.path_attribute.originator_id", "originator"),
        ("bgp.path_attribute.cluster_id", "cluster"),
        ("bgp.large_communities.ga", "large_ga"),
        ("bgp.update.path_attribute.local_pref", "local_pref"),
        ("bgp.update.path_attribute.multi_exit_disc", "med"),
        ("bgp.cap.type", "capability"),
        ("bgp.notify.major_error", "notification"),
    ];
    let mut cmd = std::process::Command::new("tshark");
    cmd.arg("-r")
        .arg(testdata().join("capture.pcap"))
        .args(["-n", "-Y", "bgp", "-T", "fields", "-E", "occurrence=a"])
        .args(["-E", "aggregator=,", "-E", "separator=/t"]);
    for (f, _) in &fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut theirs: BTreeSet<(String, String)> = BTreeSet::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        for ((_, kind), col) in fields.iter().zip(line.split('\t')) {
            for v in col.split(',').filter(|v| !v.is_empty()) {
                theirs.insert((kind.to_string(), v.to_string()));
            }
        }
    }

    let mut ours: BTreeSet<(String, String)> = BTreeSet::new();
    let mut put = |k: &str, v: String| {
        ours.insert((k.to_string(), v));
    };
    for (_, m) in decoded() {
        match m {
            Message::Open(o) => {
                for c in &o.capabilities {
                    put("capability", c.code().to_string());
                }
            }
            Message::Notification(n) => put("notification", n.code.to_string()),
            Message::Update(u) => {
                for n in &u.nlri {
                    put("announced", n.prefix.addr().to_string());
                }
                for n in &u.withdrawn {
                    put("withdrawn", n.prefix.addr().to_string());
                }
                for a in &u.attributes {
                    match a {
                        PathAttribute::MpReachNlri(r) => {
                            for n in r.nlri.prefixes() {
                                put("announced", n.prefix.addr().to_string());
                            }
                            match &r.next_hop {
                                MpNextHop::V4(a) => put("next_hop", a.to_string()),
                                MpNextHop::V6 { global, link_local } => {
                                    put("next_hop", global.to_string());
                                    if let Some(ll) = link_local {
                                        put("next_hop", ll.to_string());
                                    }
                                }
                                MpNextHop::Raw(_) => {}
                            }
                        }
                        PathAttribute::MpUnreachNlri(w) => {
                            for n in w.withdrawn.prefixes() {
                                put("withdrawn", n.prefix.addr().to_string());
                            }
                        }
                        PathAttribute::AsPath(p) | PathAttribute::As4Path(p) => {
                            for s in &p.segments {
                                for a in &s.asns {
                                    put("asn", a.to_string());
                                }
                            }
                        }
                        PathAttribute::NextHop(a) => put("next_hop", a.to_string()),
                        PathAttribute::OriginatorId(a) => put("originator", a.to_string()),
                        PathAttribute::ClusterList(l) => {
                            for a in l {
                                put("cluster", a.to_string());
                            }
                        }
                        PathAttribute::LargeCommunities(l) => {
                            for c in l {
                                put("large_ga", c.global.to_string());
                            }
                        }
                        PathAttribute::LocalPref(v) => put("local_pref", v.to_string()),
                        PathAttribute::MultiExitDisc(v) => put("med", v.to_string()),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let only_theirs: Vec<_> = theirs.difference(&ours).collect();
    let only_ours: Vec<_> = ours.difference(&theirs).collect();
    assert!(
        only_theirs.is_empty() && only_ours.is_empty(),
        "tshark and bgp-wire disagree on the capture\n only tshark: {only_theirs:?}\n only bgp-wire: {only_ours:?}"
    );
    assert!(ours.len() > 50, "only {} values compared", ours.len());
    eprintln!(
        "tshark and bgp-wire agree on {} distinct values",
        ours.len()
    );
}
