//! bgp-rib benchmarks: table ingest (one peer, four peers), best-path recompute when a peer
//! goes down, the per-prefix decision with eight paths, and the router's data path without
//! I/O (ingest in batches, each batch's deltas through one update group's Adj-RIB-Out and
//! packed into UPDATEs).
//!
//! The full-size measured run (1M prefixes, heap bytes per route with a counting allocator) is
//! `cargo run --release -p bgp-rib --example rib_mem`; results in `benches/RESULTS-rib.md`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use bgp_rib::{Attrs, DecisionConfig, PeerId, PeerInfo, Rib};
use bgp_wire::attr::{AsPath, Community, Origin};
use bgp_wire::{Nlri, PathAttribute, Update};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ipnet::{IpNet, Ipv4Net};

const N: usize = 100_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn prefixes(n: usize) -> Vec<IpNet> {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let len = [24u8, 24, 24, 23, 22, 21, 20, 16][(r.next() % 8) as usize];
        let a = (r.next() as u32 % 0xDF00_0000).max(0x0100_0000);
        if let Ok(p) = Ipv4Net::new(Ipv4Addr::from(a), len)
            && seen.insert(p.trunc())
        {
            out.push(IpNet::V4(p.trunc()));
        }
    }
    out
}

fn updates(pfx: &[IpNet], k: u32) -> Vec<Update> {
    let mut r = Rng(0x1234_5678 + u64::from(k) * 7919);
    pfx.chunks(5)
        .map(|c| {
            let mut path = vec![65001 + k];
            path.extend((0..1 + r.next() % 6).map(|_| 1 + (r.next() % 60000) as u32));
            let mut attrs = vec![
                PathAttribute::Origin(Origin::Igp),
                PathAttribute::AsPath(AsPath::from_sequence(path)),
                PathAttribute::NextHop(Ipv4Addr::new(10, 0, 0, 2 + k as u8)),
                PathAttribute::Communities(vec![Community::new(65001, (r.next() % 100) as u16)]),
            ];
            if r.next().is_multiple_of(3) {
                attrs.push(PathAttribute::MultiExitDisc((r.next() % 100) as u32));
            }
            Update {
                withdrawn: vec![],
                attributes: attrs,
                nlri: c.iter().map(|p| Nlri::new(*p)).collect(),
            }
        })
        .collect()
}

fn cfg() -> DecisionConfig {
    let mut c = DecisionConfig::new(65000, Ipv4Addr::new(10, 0, 0, 1));
    c.max_paths_ebgp = 4;
    c.multipath_relax = true;
    c
}

fn peers(rib: &mut Rib, n: u8) -> Vec<PeerId> {
    (0..n)
        .map(|k| {
            rib.add_peer(PeerInfo::new(
                IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2 + k)),
                65001 + u32::from(k),
                Ipv4Addr::new(1, 0, 0, 2 + k),
                65000,
            ))
        })
        .collect()
}

fn load(ups: &[Vec<Update>]) -> (Rib, Vec<PeerId>) {
    let mut rib = Rib::new(cfg());
    let ids = peers(&mut rib, ups.len() as u8);
    for (k, us) in ups.iter().enumerate() {
        for u in us {
            let _ = rib.apply_update(ids[k], u);
        }
        rib.drain_deltas();
    }
    (rib, ids)
}

fn ingest(c: &mut Criterion) {
    let pfx = prefixes(N);
    let one = vec![updates(&pfx, 0)];
    let four: Vec<Vec<Update>> = (0..4).map(|k| updates(&pfx, k)).collect();
    let mut g = c.benchmark_group("rib_ingest");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("1_peer_100k", |b| {
        b.iter(|| black_box(load(&one).0.path_count()))
    });
    g.throughput(Throughput::Elements(4 * N as u64));
    g.bench_function("4_peers_100k", |b| {
        b.iter(|| black_box(load(&four).0.path_count()))
    });
    g.finish();

    let mut g = c.benchmark_group("rib_recompute");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("peer_down_of_4_100k", |b| {
        b.iter_batched(
            || load(&four),
            |(mut rib, ids)| {
                rib.peer_down(ids[0]);
                black_box(rib.drain_deltas().len())
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn decision(c: &mut Criterion) {
    let mut rib = Rib::new(cfg());
    let ids = peers(&mut rib, 8);
    let p: IpNet = "203.0.113.0/24"
        .parse()
        .unwrap_or(IpNet::V4(Ipv4Net::default()));
    c.bench_function("announce_into_8_path_prefix", |b| {
        let mut i = 0u32;
        b.iter(|| {
            i = i.wrapping_add(1);
            let k = (i % 8) as usize;
            let mut a = Attrs::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2 + k as u8)));
            a.as_path = AsPath::from_sequence([65001 + k as u32, i % 3]);
            a.med = Some(i % 5);
            let _ = rib.announce(ids[k], p, 0, a);
            black_box(rib.drain_deltas().len())
        })
    });
}

/// What `examples/router` does per batch of received UPDATEs, without sockets: apply them,
/// feed the deltas to the update group of one eBGP neighbour, pack the group's UPDATEs.
fn export(c: &mut Criterion) {
    use bgp_rib::export::{OutPeerConfig, UpdateGroup};
    let pfx = prefixes(N);
    let ups = updates(&pfx, 0);
    let run = |ups: &[Update]| {
        let mut rib = Rib::new(cfg());
        let ids = peers(&mut rib, 2);
        let sink = PeerInfo::new(
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)),
            65002,
            Ipv4Addr::new(1, 0, 0, 3),
            65000,
        );
        let ocfg = OutPeerConfig {
            info: sink,
            local_addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            next_hop_self: false,
            route_reflector: false,
            policy: None,
            families: vec![bgp_wire::AfiSafi::IPV4_UNICAST],
            add_path: false,
        };
        let mut g = UpdateGroup::new(ocfg, bgp_wire::SessionContext::modern());
        g.join(&rib, ids[1]);
        let mut sent = 0usize;
        // The router takes up to 257 UPDATEs per wake-up.
        for batch in ups.chunks(257) {
            for u in batch {
                let _ = rib.apply_update(ids[0], u);
            }
            let d = rib.drain_deltas();
            g.process(&rib, &d);
            sent += g.take().stream.len();
        }
        sent
    };
    let mut g = c.benchmark_group("rib_export");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("ingest_and_export_100k", |b| {
        b.iter(|| black_box(run(&ups)))
    });
    g.finish();
}

criterion_group!(benches, ingest, decision, export);
criterion_main!(benches);
