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
            if bits > 32 {
                return None;
            }
            let mut a = [0u8; 4];
            a.get_mut(..nb)?.copy_from_slice(raw);
            let v = u32::from_be_bytes(a) & mask32(bits);
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(v), bits).ok()?)
        }
        PrefixFamily::V6 => {
            if bits > 128 {
                return None;
            }
            let mut a = [0u8; 16];
            a.get_mut(..nb)?.copy_from_slice(raw);
            let v = u128::from_be_bytes(a) & mask128(bits);
            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(v), bits).ok()?)
        }
    };
    Some((Nlri { path_id, prefix }, i + nb))
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
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while i < data.len() {
        let rest = data.get(i..).unwrap_or_default();
        let Some((nlri, used)) = read_prefix(rest, fam, add_path) else {
            return Err(i);
        };
        out.push(nlri);
        i += used;
    }
    Ok(out)
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
