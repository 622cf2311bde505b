//! Lazy, allocation-free views of record bodies for hot paths (counting prefixes,
//! filtering by peer or AS before decoding).
//!
//! [`RibView::parse`] checks the framing of a TABLE_DUMP_V2 RIB body (every entry and its
//! attribute block fit); [`RibEntryView::attributes`] then walks the attributes raw, and
//! [`Bgp4mpView`] exposes the BGP message octets for [`bgp_wire::UpdateView`].

use std::net::IpAddr;

use bgp_wire::attr::FLAG_EXTENDED_LENGTH;
use bgp_wire::{Afi, RawAttr};
use bytes::Bytes;
use ipnet::IpNet;

use crate::decode::{Cur, make_prefix};
use crate::error::DecodeError;
use crate::record::{bgp4mp, rib_kind};

/// A TABLE_DUMP_V2 RIB record body, framed but not decoded.
///
/// ```
/// use bgp_mrt::view::RibView;
/// // sequence 7, 10.0.0.0/8, one entry: peer 0, time 0, attributes ORIGIN IGP
/// let body = [0, 0, 0, 7, 8, 10, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4, 0x40, 1, 1, 0];
/// let v = RibView::parse(2, &body).unwrap();
/// assert_eq!(v.prefix().to_string(), "10.0.0.0/8");
/// let e = v.entries().next().unwrap();
/// assert_eq!(e.attributes().next().unwrap().type_code, 1);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RibView<'a> {
    sequence: u32,
    prefix: IpNet,
    count: u16,
    entries: &'a [u8],
    add_path: bool,
}

/// One entry of a [`RibView`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RibEntryView<'a> {
    /// Index into the PEER_INDEX_TABLE.
    pub peer_index: u16,
    /// Originated time.
    pub originated: u32,
    /// Path identifier (0 without ADD-PATH).
    pub path_id: u32,
    /// The attribute block.
    pub attributes_raw: &'a [u8],
}

fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}
fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

impl<'a> RibView<'a> {
    /// Frame a RIB body of the given TABLE_DUMP_V2 subtype.
    pub fn parse(subtype: u16, body: &'a [u8]) -> Result<Self, DecodeError> {
        let (afi, _, add_path) = rib_kind(subtype).ok_or(DecodeError::Invalid("subtype"))?;
        if body.len() < 5 {
            return Err(DecodeError::Truncated("RIB header"));
        }
        let sequence = be32(body, 0);
        let plen = body[4];
        if plen > if afi == Afi::Ipv4 { 32 } else { 128 } {
            return Err(DecodeError::Invalid("prefix length"));
        }
        let n = plen.div_ceil(8) as usize;
        let p = body.get(5..5 + n).ok_or(DecodeError::Truncated("prefix"))?;
        let prefix = make_prefix(afi, plen, p);
        let c = body
            .get(5 + n..7 + n)
            .ok_or(DecodeError::Truncated("entry count"))?;
        let count = be16(c, 0);
        let entries = &body[7 + n..];
        // Check the framing once so iteration cannot fail.
        let fixed = if add_path { 12 } else { 8 };
        let mut pos = 0usize;
        for _ in 0..count {
            if entries.len() - pos < fixed {
                return Err(DecodeError::Truncated("RIB entry"));
            }
            let alen = be16(entries, pos + fixed - 2) as usize;
            pos += fixed;
            if entries.len() - pos < alen {
                return Err(DecodeError::Truncated("attributes"));
            }
            pos += alen;
        }
        if pos != entries.len() {
            return Err(DecodeError::Trailing(entries.len() - pos));
        }
        Ok(RibView {
            sequence,
            prefix,
            count,
            entries,
            add_path,
        })
    }
    /// Sequence number.
    pub fn sequence(&self) -> u32 {
        self.sequence
    }
    /// The prefix.
    pub fn prefix(&self) -> IpNet {
        self.prefix
    }
    /// Number of entries.
    pub fn entry_count(&self) -> u16 {
        self.count
    }
    /// The entries.
    pub fn entries(&self) -> RibEntryIter<'a> {
        RibEntryIter {
            data: self.entries,
            add_path: self.add_path,
        }
    }
}

/// Iterator over the entries of a [`RibView`].
#[derive(Debug, Clone)]
pub struct RibEntryIter<'a> {
    data: &'a [u8],
    add_path: bool,
}

impl<'a> Iterator for RibEntryIter<'a> {
    type Item = RibEntryView<'a>;
    fn next(&mut self) -> Option<Self::Item> {
        let d = self.data;
        let fixed = if self.add_path { 12 } else { 8 };
        if d.len() < fixed {
            return None;
        }
        let alen = be16(d, fixed - 2) as usize;
        let attributes_raw = d.get(fixed..fixed + alen)?;
        let e = RibEntryView {
            peer_index: be16(d, 0),
            originated: be32(d, 2),
            path_id: if self.add_path { be32(d, 6) } else { 0 },
            attributes_raw,
        };
        self.data = &d[fixed + alen..];
        Some(e)
    }
}

impl<'a> RibEntryView<'a> {
    /// The attributes, raw; stops at the first one that does not fit.
    pub fn attributes(&self) -> AttrIter<'a> {
        AttrIter {
            data: self.attributes_raw,
        }
    }
    /// The first attribute of a type.
    pub fn attribute(&self, type_code: u8) -> Option<RawAttr<'a>> {
        self.attributes().find(|a| a.type_code == type_code)
    }
}

/// Iterator over raw path attributes.
#[derive(Debug, Clone)]
pub struct AttrIter<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = RawAttr<'a>;
    fn next(&mut self) -> Option<Self::Item> {
        let d = self.data;
        let flags = *d.first()?;
        let hdr = if flags & FLAG_EXTENDED_LENGTH != 0 {
            4
        } else {
            3
        };
        if d.len() < hdr {
            self.data = &[];
            return None;
        }
        let vlen = if hdr == 4 {
            be16(d, 2) as usize
        } else {
            d[2] as usize
        };
        let Some(value) = d.get(hdr..hdr + vlen) else {
            self.data = &[];
            return None;
        };
        self.data = &d[hdr + vlen..];
        Some(RawAttr {
            flags,
            type_code: d[1],
            value,
        })
    }
}

/// A BGP4MP / BGP4MP_ET body (after the microsecond field), framed but not decoded.
#[derive(Debug, Clone)]
pub struct Bgp4mpView {
    /// Peer AS.
    pub peer_as: u32,
    /// Local AS.
    pub local_as: u32,
    /// Peer address.
    pub peer_addr: IpAddr,
    /// Local address.
    pub local_addr: IpAddr,
    /// The BGP message (header included), or the 4 state octets for STATE_CHANGE.
    pub payload: Bytes,
    /// Whether the payload is a message.
    pub is_message: bool,
}

impl Bgp4mpView {
    /// Frame a BGP4MP body of a subtype.
    pub fn parse(subtype: u16, body: &Bytes) -> Result<Self, DecodeError> {
        let as4 = matches!(
            subtype,
            bgp4mp::MESSAGE_AS4
                | bgp4mp::STATE_CHANGE_AS4
                | bgp4mp::MESSAGE_AS4_LOCAL
                | bgp4mp::MESSAGE_AS4_ADDPATH
                | bgp4mp::MESSAGE_AS4_LOCAL_ADDPATH
        );
        let mut c = Cur::new(body);
        let (peer_as, local_as) = if as4 {
            (c.u32("peer AS")?, c.u32("local AS")?)
        } else {
            (c.u16("peer AS")? as u32, c.u16("local AS")? as u32)
        };
        c.u16("interface")?;
        let afi = Afi::from_code(c.u16("address family")?);
        let peer_addr = c.addr(afi, "peer address")?;
        let local_addr = c.addr(afi, "local address")?;
        Ok(Bgp4mpView {
            peer_as,
            local_as,
            peer_addr,
            local_addr,
            payload: body.slice(c.pos..),
            is_message: !matches!(subtype, bgp4mp::STATE_CHANGE | bgp4mp::STATE_CHANGE_AS4),
        })
    }
}
