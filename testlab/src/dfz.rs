//! Test support for benchmarks: DFZ-like distributions (prefix lengths, AS path lengths, AS
//! numbers) and an on-CPU clock, shared by the workspace's synthetic full tables
//! (`benches/wire.rs`, `bgp-mrt/benches/mrt.rs`) so that both generate the same kind of table
//! from the same seeded draws.

use rand::Rng;
use rand::rngs::StdRng;

/// Pick an index from cumulative weights.
pub fn pick(rng: &mut StdRng, weights: &[(u32, f64)]) -> u32 {
    let total: f64 = weights.iter().map(|w| w.1).sum();
    let mut x = rng.gen_range(0.0..total);
    for &(v, w) in weights {
        if x < w {
            return v;
        }
        x -= w;
    }
    weights[weights.len() - 1].0
}

/// Prefix lengths of the IPv4 DFZ, roughly (share in percent).
pub const V4_LENS: &[(u32, f64)] = &[
    (24, 60.0),
    (23, 9.0),
    (22, 11.0),
    (21, 4.5),
    (20, 4.5),
    (19, 3.0),
    (18, 1.5),
    (17, 1.2),
    (16, 2.5),
    (15, 0.3),
    (14, 0.4),
    (13, 0.3),
    (12, 0.2),
    (11, 0.1),
    (10, 0.05),
    (9, 0.03),
    (8, 0.02),
    (25, 0.2),
    (28, 0.1),
    (32, 0.1),
];

/// Prefix lengths of the IPv6 DFZ, roughly.
pub const V6_LENS: &[(u32, f64)] = &[
    (48, 52.0),
    (44, 8.0),
    (40, 6.0),
    (32, 11.0),
    (36, 4.0),
    (46, 3.0),
    (47, 2.0),
    (29, 4.0),
    (30, 1.0),
    (42, 2.0),
    (45, 2.0),
    (56, 2.0),
    (64, 2.0),
    (28, 1.0),
];

/// AS path length (hops) of DFZ routes: a peak at 3-4 and a long tail.
pub const PATH_LENS: &[(u32, f64)] = &[
    (1, 3.0),
    (2, 18.0),
    (3, 32.0),
    (4, 24.0),
    (5, 12.0),
    (6, 5.5),
    (7, 2.5),
    (8, 1.5),
    (9, 0.9),
    (10, 0.6),
];

/// A random ASN: mostly 2-octet, some 4-octet (all sessions here are 4-octet AS).
pub fn asn(rng: &mut StdRng) -> u32 {
    if rng.gen_bool(0.25) {
        rng.gen_range(131_072..400_000)
    } else {
        rng.gen_range(1..64_000)
    }
}

/// Time this thread has spent on a CPU (Linux `/proc/thread-self/schedstat`, nanoseconds),
/// so time spent waiting for a CPU on a loaded machine does not count; wall time elsewhere.
pub fn on_cpu() -> Option<std::time::Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(std::time::Duration::from_nanos(ns))
}
