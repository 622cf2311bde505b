//! MRT parsing throughput: bgp-mrt (typed records, and the lazy view) against
//! bgpkit-parser 0.23 reading the same bytes in the same run.
//!
//! Inputs, built in memory with bgp-mrt's encoder from a seeded RNG:
//! - `td2-1M`: a TABLE_DUMP_V2 dump of a 1M-prefix DFZ-like IPv4 table (the prefix-length and
//!   AS-path-length mix of benches/wire.rs), 1-3 paths per prefix from 16 peers, attribute
//!   sets shared power-law style, communities on half of them;
//! - `bgp4mp-200k`: 200k BGP4MP_MESSAGE_AS4 records with UPDATEs of 1-20 prefixes.
//!
//! `cargo bench -p bgp-mrt --bench mrt` runs criterion; `MRT_BENCH=compare:ROUNDS` runs
//! every parser in turn ROUNDS times, interleaved, and prints the fastest on-CPU time of each
//! with MB/s, prefixes/s and the ratio to bgpkit-parser.
#![allow(missing_docs)]

use std::hint::black_box;
use std::io::Cursor;
use std::net::Ipv4Addr;

use bgp_mrt::record::*;
use bgp_mrt::view::RibView;
use bgp_mrt::{MrtBody, MrtReader, encode_record};
use bgp_wire::attr::*;
use bgp_wire::{Message, Nlri, PathAttribute, Update};
use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ipnet::{IpNet, Ipv4Net};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use testlab::dfz::{PATH_LENS, V4_LENS, asn, on_cpu, pick};

struct Input {
    name: &'static str,
    bytes: Bytes,
    records: u64,
    /// RIB entries (TABLE_DUMP_V2) or announced + withdrawn prefixes (BGP4MP).
    prefixes: u64,
}

fn attr_set(rng: &mut StdRng, peer_as: u32) -> Vec<PathAttribute> {
    let hops = pick(rng, PATH_LENS);
    let mut path = vec![peer_as];
    path.extend((1..hops).map(|_| asn(rng)));
    let mut v = vec![
        PathAttribute::Origin(if rng.gen_bool(0.9) {
            Origin::Igp
        } else {
            Origin::Incomplete
        }),
        PathAttribute::AsPath(AsPath::from_sequence(path)),
        PathAttribute::NextHop(Ipv4Addr::new(192, 0, 2, (peer_as % 200) as u8 + 1)),
    ];
    if rng.gen_bool(0.3) {
        v.push(PathAttribute::MultiExitDisc(rng.gen_range(0..1000)));
    }
    if rng.gen_bool(0.5) {
        let n = rng.gen_range(1..6);
        v.push(PathAttribute::Communities(
            (0..n)
                .map(|_| Community(peer_as << 16 | rng.gen_range(0..65535)))
                .collect(),
        ));
    }
    if rng.gen_bool(0.05) {
        v.push(PathAttribute::LargeCommunities(vec![LargeCommunity {
            global: peer_as,
            local1: 1,
            local2: rng.r#gen(),
        }]));
    }
    v
}

fn v4_prefix(rng: &mut StdRng) -> IpNet {
    let len = pick(rng, V4_LENS) as u8;
    let a: u32 = rng.gen_range(0x0100_0000..0xdf00_0000);
    IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), len).unwrap().trunc())
}

fn td2(seed: u64, n: usize) -> Input {
    let mut rng = StdRng::seed_from_u64(seed);
    let peers: Vec<PeerEntry> = (0..16u32)
        .map(|i| PeerEntry {
            bgp_id: Ipv4Addr::new(10, 0, 0, i as u8 + 1),
            addr: std::net::IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8 + 1)),
            asn: 64_500 + i,
            as4: true,
        })
        .collect();
    let sets: Vec<(u16, Vec<PathAttribute>)> = (0..60_000)
        .map(|_| {
            let p = rng.gen_range(0..16u16);
            (p, attr_set(&mut rng, 64_500 + p as u32))
        })
        .collect();
    let mut buf = BytesMut::with_capacity(n * 150);
    let ts = 1_700_000_000;
    encode_record(
        &MrtRecord {
            timestamp: ts,
            microseconds: None,
            body: MrtBody::PeerIndexTable(PeerIndexTable {
                collector_id: Ipv4Addr::new(10, 255, 0, 1),
                view_name: Bytes::new(),
                peers,
            }),
        },
        &mut buf,
    )
    .unwrap();
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut entries_total = 0u64;
    let mut seq = 0u32;
    while seen.len() < n {
        let prefix = v4_prefix(&mut rng);
        if !seen.insert(prefix) {
            continue;
        }
        let k = rng.gen_range(1..=3);
        let entries: Vec<RibEntry> = (0..k)
            .map(|_| {
                let (p, a) = &sets[rng.gen_range(0..sets.len())];
                RibEntry {
                    peer_index: *p,
                    originated: ts - rng.gen_range(0..86_400),
                    path_id: 0,
                    attributes: a.clone(),
                }
            })
            .collect();
        entries_total += k as u64;
        encode_record(
            &MrtRecord {
                timestamp: ts,
                microseconds: None,
                body: MrtBody::Rib(RibRecord {
                    subtype: td2::RIB_IPV4_UNICAST,
                    sequence: seq,
                    prefix,
                    entries,
                }),
            },
            &mut buf,
        )
        .unwrap();
        seq += 1;
    }
    Input {
        name: "td2-1M",
        bytes: buf.freeze(),
        records: n as u64 + 1,
        prefixes: entries_total,
    }
}

fn bgp4mp_stream(seed: u64, n: usize) -> Input {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut buf = BytesMut::with_capacity(n * 120);
    let mut prefixes = 0u64;
    for i in 0..n {
        let peer = rng.gen_range(0..16u32);
        let k = rng.gen_range(1..=20);
        let withdraw = rng.gen_bool(0.2);
        let list: Vec<Nlri> = (0..k).map(|_| Nlri::new(v4_prefix(&mut rng))).collect();
        prefixes += k as u64;
        let u = if withdraw {
            Update {
                withdrawn: list,
                attributes: vec![],
                nlri: vec![],
            }
        } else {
            Update {
                withdrawn: vec![],
                attributes: attr_set(&mut rng, 64_500 + peer),
                nlri: list,
            }
        };
        let rec = MrtRecord {
            timestamp: 1_700_000_000 + i as u32 / 100,
            microseconds: None,
            body: MrtBody::Bgp4mp(Bgp4mp {
                subtype: bgp4mp::MESSAGE_AS4,
                peer_as: 64_500 + peer,
                local_as: 65_000,
                interface: 0,
                peer_addr: std::net::IpAddr::V4(Ipv4Addr::new(10, 0, 0, peer as u8 + 1)),
                local_addr: std::net::IpAddr::V4(Ipv4Addr::new(10, 0, 0, 254)),
                body: Bgp4mpBody::Message(Box::new(Message::Update(u))),
            }),
        };
        encode_record(&rec, &mut buf).unwrap();
    }
    Input {
        name: "bgp4mp-200k",
        bytes: buf.freeze(),
        records: n as u64,
        prefixes,
    }
}

/// bgp-mrt, typed: every record decoded (attributes by bgp-wire). Returns (records, prefixes).
fn ours_typed(inp: &Input) -> (u64, u64) {
    let (mut r, mut p) = (0u64, 0u64);
    for rec in MrtReader::new(Cursor::new(&inp.bytes[..])) {
        let Ok(rec) = rec else { continue };
        r += 1;
        match &rec.body {
            MrtBody::Rib(x) => p += x.entries.len() as u64,
            MrtBody::Bgp4mp(m) => {
                if let Bgp4mpBody::Message(msg) = &m.body
                    && let Message::Update(u) = msg.as_ref()
                {
                    p += (u.nlri.len() + u.withdrawn.len()) as u64;
                }
            }
            _ => {}
        }
    }
    (r, p)
}

/// bgp-mrt, lazy: framing plus the entry/prefix walk, no attribute decoding.
fn ours_lazy(inp: &Input) -> (u64, u64) {
    let ctx = bgp_wire::SessionContext::modern();
    let (mut r, mut p) = (0u64, 0u64);
    let mut rd = MrtReader::new(Cursor::new(&inp.bytes[..]));
    while let Some(raw) = rd.next_raw() {
        let Ok(raw) = raw else { continue };
        r += 1;
        match raw.header.mrt_type {
            mrt_type::TABLE_DUMP_V2 => {
                if let Ok(v) = RibView::parse(raw.header.subtype, &raw.body) {
                    p += v.entries().count() as u64;
                }
            }
            mrt_type::BGP4MP => {
                if let Ok(v) = bgp_mrt::view::Bgp4mpView::parse(raw.header.subtype, &raw.body)
                    && let Ok(u) = bgp_wire::UpdateView::parse_message(&v.payload, &ctx)
                {
                    p += (u.nlri().count() + u.withdrawn().count()) as u64;
                }
            }
            _ => {}
        }
    }
    (r, p)
}

fn bgpkit(inp: &Input) -> (u64, u64) {
    use bgpkit_parser::models::{Bgp4MpEnum, BgpMessage, MrtMessage, TableDumpV2Message};
    let mut cur = Cursor::new(&inp.bytes[..]);
    let (mut r, mut p) = (0u64, 0u64);
    while (cur.position() as usize) < inp.bytes.len() {
        let Ok(rec) = bgpkit_parser::parse_mrt_record(&mut cur) else {
            break;
        };
        r += 1;
        match &rec.message {
            MrtMessage::TableDumpV2Message(TableDumpV2Message::RibAfi(x)) => {
                p += x.rib_entries.len() as u64
            }
            MrtMessage::Bgp4Mp(Bgp4MpEnum::Message(m)) => {
                if let BgpMessage::Update(u) = &m.bgp_message {
                    p += (u.announced_prefixes.len() + u.withdrawn_prefixes.len()) as u64;
                }
            }
            _ => {}
        }
    }
    (r, p)
}

const NAMES: [&str; 3] = ["bgp-mrt-typed", "bgp-mrt-lazy", "bgpkit-parser"];

fn run(i: usize, inp: &Input) -> (u64, u64) {
    match i {
        0 => ours_typed(inp),
        1 => ours_lazy(inp),
        _ => bgpkit(inp),
    }
}

fn compare(inp: &Input, rounds: usize) {
    let mut best = [std::time::Duration::MAX; 3];
    for _ in 0..rounds {
        for (i, name) in NAMES.iter().enumerate() {
            let start = std::time::Instant::now();
            let c0 = on_cpu();
            let got = black_box(run(i, inp));
            let el = match (c0, on_cpu()) {
                (Some(a), Some(b)) => b.saturating_sub(a),
                _ => start.elapsed(),
            };
            assert_eq!(got, (inp.records, inp.prefixes), "{name} on {}", inp.name);
            best[i] = best[i].min(el);
        }
    }
    for (i, name) in NAMES.iter().enumerate() {
        let s = best[i].as_secs_f64();
        eprintln!(
            "compare {:12} {name:14} min {:8.1} ms {:7.2} M records/s {:7.2} M prefixes/s {:7.1} MB/s {:5.2}x bgpkit-parser",
            inp.name,
            s * 1e3,
            inp.records as f64 / s / 1e6,
            inp.prefixes as f64 / s / 1e6,
            inp.bytes.len() as f64 / s / 1e6,
            best[2].as_secs_f64() / s
        );
    }
}

fn mrt(c: &mut Criterion) {
    let inputs = [
        td2(0x6d72_7431, 1_000_000),
        bgp4mp_stream(0x6d72_7432, 200_000),
    ];
    for inp in &inputs {
        eprintln!(
            "{}: {} records, {} prefixes, {:.1} MB",
            inp.name,
            inp.records,
            inp.prefixes,
            inp.bytes.len() as f64 / 1e6
        );
    }
    if let Ok(v) = std::env::var("MRT_BENCH")
        && let Some(i) = v
            .strip_prefix("profile:")
            .and_then(|i| i.parse::<usize>().ok())
    {
        // One parser alone, for perf.
        for _ in 0..20 {
            black_box(run(i, &inputs[0]));
        }
        return;
    }
    if let Ok(v) = std::env::var("MRT_BENCH") {
        let rounds = v
            .strip_prefix("compare:")
            .and_then(|r| r.parse().ok())
            .unwrap_or(5);
        for inp in &inputs {
            compare(inp, rounds);
        }
        return;
    }
    for inp in &inputs {
        let mut g = c.benchmark_group(inp.name);
        g.sample_size(10);
        g.throughput(Throughput::Bytes(inp.bytes.len() as u64));
        for (i, name) in NAMES.iter().enumerate() {
            g.bench_function(*name, |b| b.iter(|| black_box(run(i, inp))));
        }
        g.finish();
    }
}

criterion_group!(benches, mrt);
criterion_main!(benches);
