//! Compact prefix keys and a longest-prefix-match map.
//!
//! A prefix is stored as its address bits (`u32` for IPv4, `u128` for IPv6) in one hash map per
//! prefix length, so a key costs 4 (or 16) bytes and the length is the map index. Longest-prefix
//! match probes the non-empty lengths from the longest down: at most 33 (or 129) hash lookups,
//! never a scan of the table.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// A small, fast multiplicative hasher for integer keys (FxHash-style).
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        // Final avalanche so low bits (used by the table) depend on all input bits.
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(SEED);
    }
    fn write_u128(&mut self, i: u128) {
        self.write_u64(i as u64);
        self.write_u64((i >> 64) as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

/// `BuildHasher` for [`FastHasher`].
pub type FastBuild = BuildHasherDefault<FastHasher>;
/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, FastBuild>;

/// The hasher of one prefix length's map in a [`PrefixMap`]: it hashes the prefix's number
/// (the address shifted right by the host bits), keeping each run of 64 consecutive prefixes
/// in 64 consecutive buckets at a mixed place. Tables arrive mostly in prefix order (a
/// speaker walks its table), so consecutive inserts touch one group of cache lines instead of
/// two random ones each: with a full table the map is far larger than the cache and these
/// misses were a quarter of the router's receive time. Where a run goes is mixed, and the
/// control byte hashbrown compares mixes the position within the run too. Like
/// [`FastHasher`] it is unseeded: not built against a peer that searches for prefixes
/// sharing buckets (a maximum-prefix limit bounds what such a peer inserts).
#[derive(Debug, Clone, Copy, Default)]
pub struct PrefixBuild {
    shift: u32,
}

impl BuildHasher for PrefixBuild {
    type Hasher = PrefixHasher;
    fn build_hasher(&self) -> PrefixHasher {
        PrefixHasher {
            shift: self.shift,
            h: 0,
        }
    }
}

/// See [`PrefixBuild`].
#[derive(Debug, Clone, Copy)]
pub struct PrefixHasher {
    shift: u32,
    h: u64,
}

fn avalanche(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Prefix number `n` (low 64 bits) and a mix of any higher bits: runs of 64 in order.
fn run_hash(n: u64, high: u64) -> u64 {
    let run = avalanche((n >> 6) ^ high.rotate_left(17));
    let pos = n & 63;
    // Low bits: the run's place XOR the position (64 adjacent buckets); top 7 bits (the
    // control byte): mixed with the position, so neighbours in a run do not all match.
    (run ^ pos) ^ (pos.wrapping_mul(0x9e37_79b9_7f4a_7c15) & (0x7f << 57))
}

impl Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.h
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not used by the address types; any input still hashes well.
        let mut f = FastHasher(self.h);
        f.write(bytes);
        self.h = f.finish();
    }
    fn write_u32(&mut self, i: u32) {
        let n = u64::from(i).checked_shr(self.shift).unwrap_or(0);
        self.h = run_hash(n, 0);
    }
    fn write_u128(&mut self, i: u128) {
        let n = i.checked_shr(self.shift).unwrap_or(0);
        self.h = run_hash(n as u64, avalanche((n >> 64) as u64));
    }
}

/// The address bits of one family: `u32` for IPv4, `u128` for IPv6.
pub trait AddrBits: Copy + Eq + Hash + Ord + std::fmt::Debug + Default {
    /// Number of bits (32 or 128).
    const BITS: u8;
    /// Keep the first `len` bits, zero the rest.
    fn mask(self, len: u8) -> Self;
    /// As an `IpNet` of length `len`.
    fn to_net(self, len: u8) -> IpNet;
    /// As an address.
    fn to_ip(self) -> IpAddr;
}

impl AddrBits for u32 {
    const BITS: u8 = 32;
    fn mask(self, len: u8) -> Self {
        if len == 0 {
            0
        } else if len >= 32 {
            self
        } else {
            self & (u32::MAX << (32 - len))
        }
    }
    fn to_net(self, len: u8) -> IpNet {
        IpNet::V4(Ipv4Net::new(Ipv4Addr::from(self), len.min(32)).unwrap_or_default())
    }
    fn to_ip(self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(self))
    }
}

impl AddrBits for u128 {
    const BITS: u8 = 128;
    fn mask(self, len: u8) -> Self {
        if len == 0 {
            0
        } else if len >= 128 {
            self
        } else {
            self & (u128::MAX << (128 - len))
        }
    }
    fn to_net(self, len: u8) -> IpNet {
        IpNet::V6(Ipv6Net::new(Ipv6Addr::from(self), len.min(128)).unwrap_or_default())
    }
    fn to_ip(self) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(self))
    }
}

/// A compact prefix: address bits (host bits zero) and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix<A> {
    /// Address bits, host bits zero.
    pub addr: A,
    /// Prefix length.
    pub len: u8,
}

impl<A: AddrBits> Prefix<A> {
    /// A prefix; host bits are cleared and the length clamped to the family's width.
    pub fn new(addr: A, len: u8) -> Self {
        let len = len.min(A::BITS);
        Prefix {
            addr: addr.mask(len),
            len,
        }
    }
    /// As an `IpNet`.
    pub fn to_net(self) -> IpNet {
        self.addr.to_net(self.len)
    }
}

/// An IPv4 prefix key.
pub type Prefix4 = Prefix<u32>;
/// An IPv6 prefix key.
pub type Prefix6 = Prefix<u128>;

/// Either family's compact key, converted from an `IpNet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnyPrefix {
    /// IPv4.
    V4(Prefix4),
    /// IPv6.
    V6(Prefix6),
}

impl From<IpNet> for AnyPrefix {
    fn from(n: IpNet) -> Self {
        match n {
            IpNet::V4(n) => AnyPrefix::V4(Prefix::new(u32::from(n.addr()), n.prefix_len())),
            IpNet::V6(n) => AnyPrefix::V6(Prefix::new(u128::from(n.addr()), n.prefix_len())),
        }
    }
}

impl AnyPrefix {
    /// As an `IpNet`.
    pub fn to_net(self) -> IpNet {
        match self {
            AnyPrefix::V4(p) => p.to_net(),
            AnyPrefix::V6(p) => p.to_net(),
        }
    }
}

/// A map from prefixes of one family to values, with exact and longest-prefix-match lookup.
///
/// ```
/// use bgp_rib::prefix::PrefixMap;
/// let mut m: PrefixMap<u32, &str> = PrefixMap::new();
/// m.insert(0x0a00_0000, 8, "10/8");
/// m.insert(0x0a01_0000, 16, "10.1/16");
/// assert_eq!(m.longest_match(0x0a01_0203).map(|(_, v)| *v), Some("10.1/16"));
/// assert_eq!(m.longest_match(0x0a02_0203).map(|(_, v)| *v), Some("10/8"));
/// assert_eq!(m.longest_match(0x0b00_0000), None);
/// ```
#[derive(Debug, Clone)]
pub struct PrefixMap<A, V> {
    by_len: Vec<HashMap<A, V, PrefixBuild>>,
    /// Bit i set when `by_len[i]` is non-empty (IPv6 uses three words).
    nonempty: [u64; 3],
    len: usize,
}

impl<A: AddrBits, V> Default for PrefixMap<A, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: AddrBits, V> PrefixMap<A, V> {
    /// An empty map.
    pub fn new() -> Self {
        PrefixMap {
            by_len: (0..=A::BITS)
                .map(|l| {
                    HashMap::with_hasher(PrefixBuild {
                        shift: u32::from(A::BITS - l),
                    })
                })
                .collect(),
            nonempty: [0; 3],
            len: 0,
        }
    }
    fn set_nonempty(&mut self, l: u8, on: bool) {
        let (w, b) = (usize::from(l / 64), l % 64);
        if on {
            self.nonempty[w] |= 1 << b;
        } else {
            self.nonempty[w] &= !(1 << b);
        }
    }
    /// Number of prefixes.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Insert, returning the previous value.
    pub fn insert(&mut self, addr: A, len: u8, v: V) -> Option<V> {
        let len = len.min(A::BITS);
        let m = &mut self.by_len[usize::from(len)];
        let old = m.insert(addr.mask(len), v);
        if old.is_none() {
            self.added(len);
        }
        old
    }
    /// Count a new prefix of length `len`.
    fn added(&mut self, len: u8) {
        self.len += 1;
        self.set_nonempty(len, true);
    }
    /// The value of a prefix, inserting `f()` when there is none (one hash probe for both).
    pub fn get_or_insert_with(&mut self, addr: A, len: u8, f: impl FnOnce() -> V) -> V
    where
        V: Copy,
    {
        let len = len.min(A::BITS);
        let mut inserted = false;
        let v = *self.by_len[usize::from(len)]
            .entry(addr.mask(len))
            .or_insert_with(|| {
                inserted = true;
                f()
            });
        if inserted {
            self.added(len);
        }
        v
    }
    /// Exact-match lookup.
    pub fn get(&self, addr: A, len: u8) -> Option<&V> {
        self.by_len.get(usize::from(len))?.get(&addr.mask(len))
    }
    /// Exact-match mutable lookup.
    pub fn get_mut(&mut self, addr: A, len: u8) -> Option<&mut V> {
        self.by_len
            .get_mut(usize::from(len))?
            .get_mut(&addr.mask(len))
    }
    /// Remove.
    pub fn remove(&mut self, addr: A, len: u8) -> Option<V> {
        let m = self.by_len.get_mut(usize::from(len))?;
        let old = m.remove(&addr.mask(len));
        if old.is_some() {
            self.len -= 1;
            if m.is_empty() {
                self.set_nonempty(len, false);
            }
        }
        old
    }
    /// Longest-prefix match of an address: the most specific prefix containing it.
    pub fn longest_match(&self, addr: A) -> Option<(Prefix<A>, &V)> {
        self.matches(addr).next()
    }
    /// Every prefix containing the address, most specific first.
    pub fn matches(&self, addr: A) -> impl Iterator<Item = (Prefix<A>, &V)> + '_ {
        (0..3usize).rev().flat_map(move |w| {
            let bits = self.nonempty[w];
            (0..64u8).rev().filter_map(move |b| {
                if bits & (1u64 << b) == 0 {
                    return None;
                }
                let l = w as u8 * 64 + b;
                let key = addr.mask(l);
                self.by_len
                    .get(usize::from(l))
                    .and_then(|m| m.get(&key))
                    .map(|v| (Prefix { addr: key, len: l }, v))
            })
        })
    }
    /// All entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (Prefix<A>, &V)> + '_ {
        self.by_len.iter().enumerate().flat_map(|(l, m)| {
            m.iter().map(move |(a, v)| {
                (
                    Prefix {
                        addr: *a,
                        len: l as u8,
                    },
                    v,
                )
            })
        })
    }
    /// Shrink the per-length maps to fit.
    pub fn shrink_to_fit(&mut self) {
        for m in &mut self.by_len {
            m.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prefix_hash_keeps_runs_together_and_mixes_runs() {
        let b = PrefixBuild { shift: 8 };
        let h = |a: u32| b.hash_one(a);
        // 64 consecutive /24s: one 64-bucket window, 64 distinct buckets, varied control bytes.
        let run: Vec<u64> = (0..64u32).map(|i| h(0x0a00_0000 + (i << 8))).collect();
        let base = run[0] & !63;
        assert!(
            run.iter()
                .all(|x| x & !63 & ((1 << 57) - 1) == base & ((1 << 57) - 1))
        );
        let low: std::collections::HashSet<u64> = run.iter().map(|x| x & 63).collect();
        assert_eq!(low.len(), 64);
        let ctrl: std::collections::HashSet<u64> = run.iter().map(|x| x >> 57).collect();
        assert!(
            ctrl.len() > 32,
            "control bytes vary within a run: {}",
            ctrl.len()
        );
        // Runs land far apart, and host bits do not matter.
        assert_ne!(h(0) & !63, h(64 << 8) & !63);
        assert_eq!(h(0x0a00_0100), h(0x0a00_01ff));
        let b6 = PrefixBuild { shift: 128 - 48 };
        assert_ne!(
            b6.hash_one(1u128 << 80) & !63,
            b6.hash_one(1u128 << 127) & !63
        );
        assert_eq!(
            PrefixBuild { shift: 32 }.hash_one(0xffff_ffffu32),
            run_hash(0, 0)
        );
    }

    #[test]
    fn mask_and_net() {
        let p = Prefix::new(0x0a01_02ffu32, 24);
        assert_eq!(p.addr, 0x0a01_0200);
        assert_eq!(p.to_net().to_string(), "10.1.2.0/24");
        let q: AnyPrefix = "2001:db8::1/32".parse::<IpNet>().unwrap().into();
        assert_eq!(q.to_net().to_string(), "2001:db8::/32");
        assert_eq!(Prefix::new(5u32, 0).addr, 0);
    }

    #[test]
    fn lpm_v6_default_route() {
        let mut m: PrefixMap<u128, u8> = PrefixMap::new();
        m.insert(0, 0, 1);
        m.insert(u128::from("2001:db8::".parse::<Ipv6Addr>().unwrap()), 32, 2);
        m.insert(
            u128::from("2001:db8::1".parse::<Ipv6Addr>().unwrap()),
            128,
            3,
        );
        let a = |s: &str| u128::from(s.parse::<Ipv6Addr>().unwrap());
        assert_eq!(m.longest_match(a("2001:db8::1")).map(|x| *x.1), Some(3));
        assert_eq!(m.longest_match(a("2001:db8::2")).map(|x| *x.1), Some(2));
        assert_eq!(m.longest_match(a("2002::")).map(|x| *x.1), Some(1));
        m.remove(0, 0);
        assert_eq!(m.longest_match(a("2002::")), None);
        assert_eq!(m.len(), 2);
    }

    proptest! {
        /// LPM agrees with a linear scan over random prefix sets.
        #[test]
        fn lpm_matches_linear_scan(prefixes in proptest::collection::vec((any::<u32>(), 0u8..=32), 0..60),
                                   probes in proptest::collection::vec(any::<u32>(), 1..40)) {
            let mut m: PrefixMap<u32, (u32, u8)> = PrefixMap::new();
            for (a, l) in &prefixes {
                m.insert(*a, *l, (a.mask(*l), *l));
            }
            for probe in probes {
                let want = prefixes.iter().filter(|(a, l)| probe.mask(*l) == a.mask(*l)).map(|(_, l)| *l).max();
                let got = m.longest_match(probe).map(|(p, _)| p.len);
                prop_assert_eq!(got, want);
                let all: Vec<u8> = m.matches(probe).map(|(p, _)| p.len).collect();
                let mut want_all: Vec<u8> = prefixes.iter().filter(|(a, l)| probe.mask(*l) == a.mask(*l)).map(|(_, l)| *l).collect();
                want_all.sort_unstable_by(|a, b| b.cmp(a));
                want_all.dedup();
                prop_assert_eq!(all, want_all);
            }
        }
    }
}
