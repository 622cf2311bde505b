//! Prefix (NLRI) encoding shared by the withdrawn/NLRI fields and MP_REACH/MP_UNREACH.
//!
//! Parsing is two-pass: the first pass validates and counts without allocating, the
//! second fills a vector of exactly that size.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::BufMut;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::afi::Afi;
use crate::nlri::Nlri;

/// Which typed prefix family is being parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrefixFamily {
    V4,
    V6,
}

impl PrefixFamily {
    pub(crate) fn from_afi(afi: Afi) -> Option<Self> {
        match afi {
            Afi::Ipv4 => Some(PrefixFamily::V4),
            Afi::Ipv6 => Some(PrefixFamily::V6),
            Afi::Other(_) => None,
        }
    }
    const fn max_bits(self) -> u8 {
        match self {
            PrefixFamily::V4 => 32,
            PrefixFamily::V6 => 128,
        }
    }
}

/// Validate a prefix list and count its entries. `Err(offset)` points at the bad entry.
pub(crate) fn count_prefixes(
    data: &[u8],
    fam: PrefixFamily,
    add_path: bool,
) -> Result<usize, usize> {
    let max = fam.max_bits();
    let mut i = 0usize;
    let mut n = 0usize;
    while i < data.len() {
        let entry = i;
        if add_path {
            if data.len() - i < 4 {
                return Err(entry);
            }
            i += 4;
        }
        let Some(&bits) = data.get(i) else {
            return Err(entry);
        };
        if bits > max {
            return Err(entry);
        }
        i += 1;
        let nb = (bits as usize).div_ceil(8);
        if data.len() - i < nb {
            return Err(entry);
        }
        i += nb;
        n += 1;
    }
    Ok(n)
}

/// One prefix at the start of `data` (already validated by [`count_prefixes`]), and
/// the number of octets it took. `None` only if the data is not valid after all.
#[inline]
pub(crate) fn read_prefix(data: &[u8], fam: PrefixFamily, add_path: bool) -> Option<(Nlri, usize)> {
    let mut i = 0;
    let path_id = if add_path {
        let id = data.get(0..4)?;
        i = 4;
        Some(u32::from_be_bytes([id[0], id[1], id[2], id[3]]))
    } else {
        None
    };
    let bits = *data.get(i)?;
    i += 1;
    let nb = (bits as usize).div_ceil(8);
    let raw = data.get(i..i + nb)?;
    let prefix = match fam {
        PrefixFamily::V4 => {
            if bits > 32 || raw.len() > 4 {
                return None;
            }
            let v = load32(raw, data.get(i..).unwrap_or_default());
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(v & mask32(bits)), bits).ok()?)
        }
        PrefixFamily::V6 => {
            if bits > 128 || raw.len() > 16 {
                return None;
            }
            let v = load128(raw, data.get(i..).unwrap_or_default());
            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(v & mask128(bits)), bits).ok()?)
        }
    };
    Some((Nlri { path_id, prefix }, i + nb))
}

/// The prefix octets `raw` (at most 4) as a big-endian u32, unmasked beyond them.
/// When `following` (which starts with `raw`) holds 4 octets, one load does it; the
/// octets past the prefix are cleared by the caller's mask.
#[inline(always)]
fn load32(raw: &[u8], following: &[u8]) -> u32 {
    if let Some(w) = following.first_chunk::<4>() {
        return u32::from_be_bytes(*w);
    }
    // Assembled with shifts: a byte-copy loop here compiles to a memcpy call followed by
    // a store-forwarding stall on the load.
    let mut v = 0u32;
    for (j, &x) in raw.iter().enumerate().take(4) {
        v |= u32::from(x) << (24 - 8 * j);
    }
    v
}

/// As [`load32`] for IPv6.
#[inline(always)]
fn load128(raw: &[u8], following: &[u8]) -> u128 {
    if let Some(w) = following.first_chunk::<16>() {
        return u128::from_be_bytes(*w);
    }
    let (mut hi, mut lo) = (0u64, 0u64);
    for (j, &x) in raw.iter().enumerate().take(16) {
        if j < 8 {
            hi |= u64::from(x) << (56 - 8 * j);
        } else {
            lo |= u64::from(x) << (56 - 8 * (j - 8));
        }
    }
    (u128::from(hi) << 64) | u128::from(lo)
}

#[inline]
fn mask32(bits: u8) -> u32 {
    if bits == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(bits))
    }
}

#[inline]
fn mask128(bits: u8) -> u128 {
    if bits == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(bits))
    }
}

/// Parse a whole prefix list. `Err(offset)` is relative to `data`.
pub(crate) fn parse_prefixes(
    data: &[u8],
    fam: PrefixFamily,
    add_path: bool,
) -> Result<Vec<Nlri>, usize> {
    let n = count_prefixes(data, fam, add_path)?;
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(n);
    // Monomorphised fill loops over the validated data.
    let ok = match (fam, add_path) {
        (PrefixFamily::V4, false) => fill::<false, false>(data, &mut out),
        (PrefixFamily::V4, true) => fill::<false, true>(data, &mut out),
        (PrefixFamily::V6, false) => fill::<true, false>(data, &mut out),
        (PrefixFamily::V6, true) => fill::<true, true>(data, &mut out),
    };
    if ok { Ok(out) } else { Err(0) }
}

/// Fill `out` from data already validated by [`count_prefixes`]; false if it was not.
#[inline(always)]
fn fill<const V6: bool, const AP: bool>(data: &[u8], out: &mut Vec<Nlri>) -> bool {
    let mut d = data;
    while !d.is_empty() {
        let path_id = if AP {
            let Some((id, rest)) = d.split_first_chunk::<4>() else {
                return false;
            };
            d = rest;
            Some(u32::from_be_bytes(*id))
        } else {
            None
        };
        let Some((&bits, rest)) = d.split_first() else {
            return false;
        };
        let rest_full = rest;
        let nb = (bits as usize).div_ceil(8);
        let Some((raw, rest)) = rest.split_at_checked(nb) else {
            return false;
        };
        d = rest;
        let prefix = if V6 {
            let v = load128(raw, rest_full);
            match Ipv6Net::new(Ipv6Addr::from(v & mask128(bits)), bits) {
                Ok(p) => IpNet::V6(p),
                Err(_) => return false,
            }
        } else {
            let v = load32(raw, rest_full);
            match Ipv4Net::new(Ipv4Addr::from(v & mask32(bits)), bits) {
                Ok(p) => IpNet::V4(p),
                Err(_) => return false,
            }
        };
        out.push(Nlri { path_id, prefix });
    }
    true
}

/// Encoded size of one NLRI.
#[inline]
pub(crate) fn prefix_wire_len(n: &Nlri, add_path: bool) -> usize {
    (if add_path { 4 } else { 0 }) + 1 + (n.prefix.prefix_len() as usize).div_ceil(8)
}

/// Append one NLRI. When `add_path` is set and the NLRI has no path id, 0 is sent.
#[inline]
pub(crate) fn put_prefix<B: BufMut>(dst: &mut B, n: &Nlri, add_path: bool) {
    if add_path {
        dst.put_u32(n.path_id.unwrap_or(0));
    }
    let bits = n.prefix.prefix_len();
    let nb = (bits as usize).div_ceil(8);
    dst.put_u8(bits);
    match n.prefix {
        IpNet::V4(p) => {
            let o = p.network().octets();
            dst.put_slice(o.get(..nb).unwrap_or(&o));
        }
        IpNet::V6(p) => {
            let o = p.network().octets();
            dst.put_slice(o.get(..nb).unwrap_or(&o));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_masks_host_bits() {
        // 10.1.2.0/23 with a host bit set in the last octet.
        let v = parse_prefixes(&[23, 10, 1, 3], PrefixFamily::V4, false).unwrap();
        assert_eq!(v[0].prefix.to_string(), "10.1.2.0/23");
    }

    #[test]
    fn rejects_overrun_and_long_lengths() {
        assert_eq!(
            count_prefixes(&[24, 10, 1], PrefixFamily::V4, false),
            Err(0)
        );
        assert_eq!(
            count_prefixes(&[8, 10, 33], PrefixFamily::V4, false),
            Err(2)
        );
        assert_eq!(count_prefixes(&[129], PrefixFamily::V6, false), Err(0));
        assert_eq!(count_prefixes(&[0, 0, 1], PrefixFamily::V4, true), Err(0));
    }

    #[test]
    fn add_path_changes_meaning() {
        let bytes = [0, 0, 0, 7, 8, 10];
        let v = parse_prefixes(&bytes, PrefixFamily::V4, true).unwrap();
        assert_eq!(
            v,
            vec![Nlri::with_path_id("10.0.0.0/8".parse().unwrap(), 7)]
        );
        // Without ADD-PATH the same bytes are four default-ish prefixes and then an error.
        assert!(parse_prefixes(&bytes, PrefixFamily::V4, false).is_err());
    }

    #[test]
    fn encode_roundtrip_v6() {
        let n = Nlri::new("2001:db8::/33".parse().unwrap());
        let mut b = Vec::new();
        put_prefix(&mut b, &n, false);
        assert_eq!(b.len(), prefix_wire_len(&n, false));
        assert_eq!(
            parse_prefixes(&b, PrefixFamily::V6, false).unwrap(),
            vec![n]
        );
    }
}
