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
