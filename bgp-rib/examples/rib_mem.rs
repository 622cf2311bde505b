//! Measures ingest speed and heap bytes per route of the RIB with a counting allocator.
//!
//! `cargo run --release -p bgp-rib --example rib_mem -- [PREFIXES]` (default 1,000,000).
//!
//! The synthetic table: IPv4 prefixes with a realistic length mix (about 60% /24, the rest
//! /16 to /23), grouped 5 prefixes per UPDATE (so about PREFIXES/5 distinct attribute sets),
//! AS_PATHs of 2 to 7 ASes, 0 to 3 communities, a MED on a third of them. Phase 1: one eBGP peer;
//! then the same with one eBGP neighbour's update group fed in the router's batches (the RIB's
//! and the group's share of the heap).
//! Phase 2: four eBGP peers with different attributes for the same prefixes. Phase 3: one of the
//! four goes down (best-path recompute).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bgp_rib::{DecisionConfig, PeerInfo, Rib};
use bgp_wire::attr::{AsPath, Community, Origin};
use bgp_wire::{Nlri, PathAttribute, Update};
use ipnet::{IpNet, Ipv4Net};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: `p` was allocated by `alloc` above with `l`.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Ordering::Relaxed);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// CPU time of this thread (Linux `/proc/thread-self/schedstat`), in seconds; the machine is
/// shared, so wall time alone overstates the cost.
fn cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|x| x.parse::<f64>().ok())
        })
        .map(|ns| ns / 1e9)
        .unwrap_or(0.0)
}

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Deterministic xorshift.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Distinct prefixes with a realistic length mix.
fn prefixes(n: usize) -> Vec<IpNet> {
    let mut out = Vec::with_capacity(n);
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    while out.len() < n {
        let len = match r.below(100) {
            0..=59 => 24,
            60..=69 => 23,
            70..=77 => 22,
            78..=84 => 21,
            85..=89 => 20,
            90..=94 => 19,
            95..=97 => 18,
            _ => 16,
        };
        let a = (r.next() as u32 % 0xDF00_0000).max(0x0100_0000);
        if let Ok(p) = Ipv4Net::new(Ipv4Addr::from(a), len) {
            let p = p.trunc();
            if seen.insert(p) {
                out.push(IpNet::V4(p));
            }
        }
    }
    out
}

/// UPDATEs from peer `k` (AS 65001+k, next hop 10.0.0.k+2), 5 prefixes each.
fn updates(pfx: &[IpNet], k: u32) -> Vec<Update> {
    let mut r = Rng(0x1234_5678 + u64::from(k) * 7919);
    pfx.chunks(5)
        .map(|c| {
            let hops = 1 + r.below(6) as usize;
            let mut path = vec![65001 + k];
            path.extend((0..hops).map(|_| 1 + r.below(60000) as u32));
            let mut attrs = vec![
                PathAttribute::Origin(if r.below(10) == 0 {
                    Origin::Incomplete
                } else {
                    Origin::Igp
                }),
                PathAttribute::AsPath(AsPath::from_sequence(path)),
                PathAttribute::NextHop(Ipv4Addr::new(10, 0, 0, 2 + k as u8)),
            ];
            if r.below(3) == 0 {
                attrs.push(PathAttribute::MultiExitDisc(r.below(100) as u32));
            }
            let nc = r.below(4);
            if nc > 0 {
                attrs.push(PathAttribute::Communities(
                    (0..nc)
                        .map(|_| Community::new(65001 + k as u16, r.below(1000) as u16))
                        .collect(),
                ));
            }
            Update {
                withdrawn: vec![],
                attributes: attrs,
                nlri: c.iter().map(|p| Nlri::new(*p)).collect(),
            }
        })
        .collect()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let pfx = prefixes(n);
    let mut cfg = DecisionConfig::new(65000, Ipv4Addr::new(10, 0, 0, 1));
    cfg.max_paths_ebgp = 4;
    cfg.multipath_relax = true;
    let peer = |k: u8| {
        PeerInfo::new(
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2 + k)),
            65001 + u32::from(k),
            Ipv4Addr::new(1, 0, 0, 2 + k),
            65000,
        )
    };

    // Phase 1: one peer, deltas not tracked (a plain table load).
    {
        let ups = updates(&pfx, 0);
        let before = live();
        let mut rib = Rib::new(cfg.clone());
        rib.set_track_deltas(false);
        let p = rib.add_peer(peer(0));
        let (t, c0) = (Instant::now(), cpu());
        for u in &ups {
            let _ = rib.apply_update(p, u);
        }
        let (dt, dc) = (t.elapsed().as_secs_f64(), cpu() - c0);
        let bytes = live() - before;
        let routes = rib.path_count();
        println!(
            "1 peer: {routes} routes in {dt:.3} s wall / {dc:.3} s CPU = {:.0} routes/s (CPU); \
             {} attribute sets; heap {:.1} MB = {:.1} B/route",
            routes as f64 / dc,
            rib.attr_set_count(),
            bytes as f64 / 1e6,
            bytes as f64 / routes as f64
        );
    }
    // Phase 1b: one peer and one eBGP neighbour's update group, fed in the router's batches
    // (what `examples/router` holds for a table re-advertised to one neighbour).
    {
        use bgp_rib::export::{OutPeerConfig, UpdateGroup};
        let ups = updates(&pfx, 0);
        let before = live();
        let mut rib = Rib::new(cfg.clone());
        let p = rib.add_peer(peer(0));
        let sink = rib.add_peer(peer(1));
        let ocfg = OutPeerConfig {
            info: peer(1),
            local_addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            next_hop_self: false,
            route_reflector: false,
            policy: None,
            families: vec![bgp_wire::AfiSafi::IPV4_UNICAST],
            add_path: false,
        };
        let mut g = UpdateGroup::new(ocfg, bgp_wire::SessionContext::modern());
        g.join(&rib, sink);
        let (t, c0) = (Instant::now(), cpu());
        let mut msgs = 0usize;
        for batch in ups.chunks(257) {
            for u in batch {
                let _ = rib.apply_update(p, u);
            }
            let d = rib.drain_deltas();
            g.process(&rib, &d);
            msgs += g.take().stream.len();
        }
        let (dt, dc) = (t.elapsed().as_secs_f64(), cpu() - c0);
        let bytes = live() - before;
        let routes = rib.path_count();
        drop(g);
        let rib_only = live() - before;
        println!(
            "1 peer + 1 eBGP group: {routes} routes, {msgs} UPDATEs in {dt:.3} s wall / {dc:.3} s \
             CPU; heap {:.1} MB = {:.1} B/route (RIB {:.1}, group {:.1})",
            bytes as f64 / 1e6,
            bytes as f64 / routes as f64,
            rib_only as f64 / routes as f64,
            (bytes - rib_only) as f64 / routes as f64
        );
    }
    // Phase 2: four peers, deltas tracked and drained after each peer.
    let ups: Vec<Vec<Update>> = (0..4).map(|k| updates(&pfx, k)).collect();
    let before = live();
    let mut rib = Rib::new(cfg);
    let peers: Vec<_> = (0..4u8).map(|k| rib.add_peer(peer(k))).collect();
    let (t, c0) = (Instant::now(), cpu());
    let mut deltas = 0;
    for (k, us) in ups.iter().enumerate() {
        for u in us {
            let _ = rib.apply_update(peers[k], u);
        }
        deltas += rib.drain_deltas().len();
    }
    let (dt, dc) = (t.elapsed().as_secs_f64(), cpu() - c0);
    let bytes = live() - before;
    let routes = rib.path_count();
    println!(
        "4 peers: {routes} routes in {dt:.3} s wall / {dc:.3} s CPU = {:.0} routes/s (CPU), \
         {deltas} deltas; {} attribute sets; heap {:.1} MB = {:.1} B/route",
        routes as f64 / dc,
        rib.attr_set_count(),
        bytes as f64 / 1e6,
        bytes as f64 / routes as f64
    );
    // Phase 3: peer 0 goes down.
    let (t, c0) = (Instant::now(), cpu());
    rib.peer_down(peers[0]);
    let d = rib.drain_deltas();
    println!(
        "peer down: {n} prefixes recomputed, {} deltas in {:.3} s wall / {:.3} s CPU",
        d.len(),
        t.elapsed().as_secs_f64(),
        cpu() - c0
    );
}
