//! Decoding MRT records into the typed form of [`crate::record`].
//!
//! Path attributes are decoded by bgp-wire's attribute-block decoder
//! ([`bgp_wire::decode_path_attributes_in`]), the one its UPDATE decoder uses, so MRT and
//! live sessions share one attribute decoder with its RFC 7606 checks; it reads each RIB
//! entry's block in place (no copy, no synthetic UPDATE). The MRT-specific rules are
//! options of that decoder: the abbreviated MP_REACH_NLRI of RIB entries (RFC 6396 §4.3.4:
//! next-hop length and next hop only) takes the record's AFI/SAFI, and O/T flags that
//! conflict with a known type are accepted as the producer wrote them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bgp_wire::{
    Afi, AfiSafi, AttrListOptions, PathAttribute, Safi, SessionContext, decode_message,
    decode_path_attributes_in,
};
use bytes::Bytes;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::error::DecodeError;
use crate::record::*;

/// MRT common header length (RFC 6396 §2).
pub const HEADER_LEN: usize = 12;

/// The common header of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Seconds since the epoch.
    pub timestamp: u32,
    /// MRT type.
    pub mrt_type: u16,
    /// Subtype.
    pub subtype: u16,
    /// Body length (for `_ET` types it includes the microsecond field).
    pub length: u32,
}

impl RecordHeader {
    /// Read a header from the first 12 octets, if there are that many.
    pub fn parse(b: &[u8]) -> Option<RecordHeader> {
        let h = b.get(..HEADER_LEN)?;
        Some(RecordHeader {
            timestamp: u32::from_be_bytes([h[0], h[1], h[2], h[3]]),
            mrt_type: u16::from_be_bytes([h[4], h[5]]),
            subtype: u16::from_be_bytes([h[6], h[7]]),
            length: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
        })
    }
}

/// A bounds-checked cursor over a record body (zero-copy slices of `Bytes`).
pub(crate) struct Cur<'a> {
    pub(crate) b: &'a Bytes,
    pub(crate) pos: usize,
}

impl<'a> Cur<'a> {
    pub(crate) fn new(b: &'a Bytes) -> Self {
        Cur { b, pos: 0 }
    }
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or(DecodeError::Truncated(what))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    pub(crate) fn slice(&mut self, n: usize, what: &'static str) -> Result<Bytes, DecodeError> {
        let start = self.pos;
        self.take(n, what)?;
        Ok(self.b.slice(start..self.pos))
    }
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        let s = self.take(2, what)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let s = self.take(4, what)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    pub(crate) fn v4(&mut self, what: &'static str) -> Result<Ipv4Addr, DecodeError> {
        let s = self.take(4, what)?;
        Ok(Ipv4Addr::new(s[0], s[1], s[2], s[3]))
    }
    pub(crate) fn v6(&mut self, what: &'static str) -> Result<Ipv6Addr, DecodeError> {
        let s = self.take(16, what)?;
        let mut a = [0u8; 16];
        a.copy_from_slice(s);
        Ok(Ipv6Addr::from(a))
    }
    pub(crate) fn addr(&mut self, afi: Afi, what: &'static str) -> Result<IpAddr, DecodeError> {
        match afi {
            Afi::Ipv4 => Ok(IpAddr::V4(self.v4(what)?)),
            Afi::Ipv6 => Ok(IpAddr::V6(self.v6(what)?)),
            Afi::Other(_) => Err(DecodeError::Invalid("address family")),
        }
    }
    pub(crate) fn rest(&self) -> usize {
        self.b.len() - self.pos
    }
    /// An NLRI-encoded prefix (length octet, then the significant octets); host bits
    /// are cleared.
    pub(crate) fn prefix(&mut self, afi: Afi) -> Result<IpNet, DecodeError> {
        let len = self.u8("prefix length")?;
        let max = if afi == Afi::Ipv4 { 32 } else { 128 };
        if len > max {
            return Err(DecodeError::Invalid("prefix length"));
        }
        let s = self.take(len.div_ceil(8) as usize, "prefix")?;
        Ok(make_prefix(afi, len, s))
    }
}

/// A prefix from its significant octets (`s.len() <= 16`), host bits cleared.
pub(crate) fn make_prefix(afi: Afi, len: u8, s: &[u8]) -> IpNet {
    let mut a = [0u8; 16];
    a[..s.len()].copy_from_slice(s);
    if afi == Afi::Ipv4 {
        let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
        IpNet::V4(Ipv4Net::new(ip, len).map(|n| n.trunc()).unwrap_or_default())
    } else {
        IpNet::V6(
            Ipv6Net::new(Ipv6Addr::from(a), len)
                .map(|n| n.trunc())
                .unwrap_or_default(),
        )
    }
}

/// Decodes records; holds the session contexts, so one decoder per stream avoids
/// per-record setup.
#[derive(Debug)]
pub struct MrtDecoder {
    as4: SessionContext,
    as2: SessionContext,
    as4_ap: SessionContext,
    as2_ap: SessionContext,
}

impl Default for MrtDecoder {
    fn default() -> Self {
        Self::new()
    }
}

const FAMILIES: [AfiSafi; 4] = [
    AfiSafi::IPV4_UNICAST,
    AfiSafi::new(Afi::Ipv4, Safi::Multicast),
    AfiSafi::IPV6_UNICAST,
    AfiSafi::new(Afi::Ipv6, Safi::Multicast),
];

impl MrtDecoder {
    /// A decoder.
    pub fn new() -> Self {
        let base = |four: bool, ap: bool| SessionContext {
            four_octet_as: four,
            add_path_receive: if ap { FAMILIES.to_vec() } else { Vec::new() },
            add_path_send: if ap { FAMILIES.to_vec() } else { Vec::new() },
            extended_message: true,
            extended_next_hop: FAMILIES[..2].to_vec(),
        };
        MrtDecoder {
            as4: base(true, false),
            as2: base(false, false),
            as4_ap: base(true, true),
            as2_ap: base(false, true),
        }
    }

    /// The bgp-wire context a BGP4MP subtype implies.
    pub fn context(&self, as4: bool, add_path: bool) -> &SessionContext {
        match (as4, add_path) {
            (true, false) => &self.as4,
            (false, false) => &self.as2,
            (true, true) => &self.as4_ap,
            (false, true) => &self.as2_ap,
        }
    }

    /// Decode one record from the start of `data` (header included); returns it with the
    /// number of octets it used.
    pub fn decode(&mut self, data: &Bytes) -> Result<(MrtRecord, usize), DecodeError> {
        let h = RecordHeader::parse(data).ok_or(DecodeError::Truncated("header"))?;
        let end = HEADER_LEN
            .checked_add(h.length as usize)
            .filter(|e| *e <= data.len())
            .ok_or(DecodeError::Truncated("record body"))?;
        let rec = self.decode_body(&h, data.slice(HEADER_LEN..end))?;
        Ok((rec, end))
    }

    /// Decode a record body given its header.
    pub fn decode_body(&mut self, h: &RecordHeader, body: Bytes) -> Result<MrtRecord, DecodeError> {
        let (microseconds, body) = if h.mrt_type == mrt_type::BGP4MP_ET {
            if body.len() < 4 {
                return Err(DecodeError::Truncated("microseconds"));
            }
            (
                Some(u32::from_be_bytes([body[0], body[1], body[2], body[3]])),
                body.slice(4..),
            )
        } else {
            (None, body)
        };
        let body = match (h.mrt_type, h.subtype) {
            (mrt_type::TABLE_DUMP_V2, td2::PEER_INDEX_TABLE) => {
                MrtBody::PeerIndexTable(peer_index_table(&body)?)
            }
            (mrt_type::TABLE_DUMP_V2, td2::RIB_GENERIC | td2::RIB_GENERIC_ADDPATH) => {
                MrtBody::RibGeneric {
                    subtype: h.subtype,
                    raw: body,
                }
            }
            (mrt_type::TABLE_DUMP_V2, s) if rib_kind(s).is_some() => {
                MrtBody::Rib(self.rib(s, &body)?)
            }
            (mrt_type::BGP4MP | mrt_type::BGP4MP_ET, s) if matches!(s, 0 | 1 | 4..=11) => {
                MrtBody::Bgp4mp(self.bgp4mp(s, &body)?)
            }
            (mrt_type::TABLE_DUMP, 1 | 2) => MrtBody::TableDump(self.table_dump(h.subtype, &body)?),
            (t, s) => MrtBody::Unknown {
                mrt_type: t,
                subtype: s,
                raw: body,
            },
        };
        Ok(MrtRecord {
            timestamp: h.timestamp,
            microseconds,
            body,
        })
    }

    fn rib(&mut self, subtype: u16, body: &Bytes) -> Result<RibRecord, DecodeError> {
        let (afi, multicast, add_path) =
            rib_kind(subtype).ok_or(DecodeError::Invalid("subtype"))?;
        let af = AfiSafi::new(
            afi,
            if multicast {
                Safi::Multicast
            } else {
                Safi::Unicast
            },
        );
        let mut c = Cur::new(body);
        let sequence = c.u32("sequence number")?;
        let prefix = c.prefix(afi)?;
        let count = c.u16("entry count")? as usize;
        // Each entry is at least 8 octets: never reserve more than the body can hold.
        let mut entries = Vec::with_capacity(count.min(c.rest() / 8));
        for _ in 0..count {
            let peer_index = c.u16("peer index")?;
            let originated = c.u32("originated time")?;
            let path_id = if add_path {
                c.u32("path identifier")?
            } else {
                0
            };
            let alen = c.u16("attribute length")? as usize;
            let start = c.pos;
            c.take(alen, "attributes")?;
            let attributes = self.block(body, start, c.pos, true, Some(af));
            entries.push(RibEntry {
                peer_index,
                originated,
                path_id,
                attributes,
            });
        }
        if c.rest() != 0 {
            return Err(DecodeError::Trailing(c.rest()));
        }
        Ok(RibRecord {
            subtype,
            sequence,
            prefix,
            entries,
        })
    }

    fn bgp4mp(&mut self, subtype: u16, body: &Bytes) -> Result<Bgp4mp, DecodeError> {
        let mut r = Bgp4mp {
            subtype,
            peer_as: 0,
            local_as: 0,
            interface: 0,
            peer_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            local_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            body: Bgp4mpBody::StateChange(StateChange { old: 0, new: 0 }),
        };
        let mut c = Cur::new(body);
        if r.as4() {
            r.peer_as = c.u32("peer AS")?;
            r.local_as = c.u32("local AS")?;
        } else {
            r.peer_as = c.u16("peer AS")? as u32;
            r.local_as = c.u16("local AS")? as u32;
        }
        r.interface = c.u16("interface index")?;
        let afi = Afi::from_code(c.u16("address family")?);
        r.peer_addr = c.addr(afi, "peer address")?;
        r.local_addr = c.addr(afi, "local address")?;
        if matches!(subtype, bgp4mp::STATE_CHANGE | bgp4mp::STATE_CHANGE_AS4) {
            let old = c.u16("old state")?;
            let new = c.u16("new state")?;
            if c.rest() != 0 {
                return Err(DecodeError::Trailing(c.rest()));
            }
            r.body = Bgp4mpBody::StateChange(StateChange { old, new });
            return Ok(r);
        }
        let msg = body.slice(c.pos..);
        let ctx = self.context(r.as4(), r.add_path());
        r.body = match decode_message(msg.clone(), ctx) {
            Ok(d) => Bgp4mpBody::Message(Box::new(d.message)),
            Err(error) => Bgp4mpBody::Undecodable { raw: msg, error },
        };
        Ok(r)
    }

    fn table_dump(&mut self, subtype: u16, body: &Bytes) -> Result<TableDump, DecodeError> {
        let afi = Afi::from_code(subtype);
        let mut c = Cur::new(body);
        let view = c.u16("view number")?;
        let sequence = c.u16("sequence number")?;
        let addr = c.addr(afi, "prefix")?;
        let len = c.u8("prefix length")?;
        let prefix = match addr {
            IpAddr::V4(a) => Ipv4Net::new(a, len).map(|n| IpNet::V4(n.trunc())),
            IpAddr::V6(a) => Ipv6Net::new(a, len).map(|n| IpNet::V6(n.trunc())),
        }
        .map_err(|_| DecodeError::Invalid("prefix length"))?;
        let status = c.u8("status")?;
        let originated = c.u32("originated time")?;
        let peer_addr = c.addr(afi, "peer address")?;
        let peer_as = c.u16("peer AS")?;
        let alen = c.u16("attribute length")? as usize;
        let start = c.pos;
        c.take(alen, "attributes")?;
        let af = AfiSafi::new(afi, Safi::Unicast);
        let attributes = self.block(body, start, c.pos, false, Some(af));
        if c.rest() != 0 {
            return Err(DecodeError::Trailing(c.rest()));
        }
        Ok(TableDump {
            view,
            sequence,
            prefix,
            status,
            originated,
            peer_addr,
            peer_as,
            attributes,
        })
    }

    /// Decode a bare attribute list with bgp-wire (copied once into a `Bytes`; records
    /// are decoded in place). `af` is the family an abbreviated MP_REACH_NLRI belongs to.
    /// Attributes bgp-wire finds malformed (RFC 7606) are left out; flag conflicts are
    /// accepted as archives store them. Never an error today; the `Result` is kept for
    /// callers.
    pub fn attributes(
        &mut self,
        raw: &[u8],
        as4: bool,
        af: Option<AfiSafi>,
    ) -> Result<Vec<PathAttribute>, DecodeError> {
        if raw.is_empty() {
            return Ok(Vec::new());
        }
        let b = Bytes::copy_from_slice(raw);
        Ok(self.block(&b, 0, b.len(), as4, af))
    }

    /// The attributes of the block `buf[start..end]` (zero-copy: raw values slice `buf`).
    fn block(
        &self,
        buf: &Bytes,
        start: usize,
        end: usize,
        as4: bool,
        af: Option<AfiSafi>,
    ) -> Vec<PathAttribute> {
        if start == end {
            return Vec::new();
        }
        let ctx = if as4 { &self.as4 } else { &self.as2 };
        let opts = AttrListOptions {
            abbreviated_mp_reach: af,
            ignore_flag_errors: true,
        };
        decode_path_attributes_in(buf, start, end, ctx, opts).attributes
    }
}

fn peer_index_table(body: &Bytes) -> Result<PeerIndexTable, DecodeError> {
    let mut c = Cur::new(body);
    let collector_id = c.v4("collector BGP ID")?;
    let nlen = c.u16("view name length")? as usize;
    let view_name = c.slice(nlen, "view name")?;
    let count = c.u16("peer count")? as usize;
    let mut peers = Vec::with_capacity(count.min(c.rest() / 7));
    for _ in 0..count {
        let t = c.u8("peer type")?;
        let bgp_id = c.v4("peer BGP ID")?;
        let addr = if t & 1 != 0 {
            IpAddr::V6(c.v6("peer address")?)
        } else {
            IpAddr::V4(c.v4("peer address")?)
        };
        let as4 = t & 2 != 0;
        let asn = if as4 {
            c.u32("peer AS")?
        } else {
            c.u16("peer AS")? as u32
        };
        peers.push(PeerEntry {
            bgp_id,
            addr,
            asn,
            as4,
        });
    }
    if c.rest() != 0 {
        return Err(DecodeError::Trailing(c.rest()));
    }
    Ok(PeerIndexTable {
        collector_id,
        view_name,
        peers,
    })
}

/// Decode one record from the start of `data` with a fresh [`MrtDecoder`].
pub fn decode_record(data: &Bytes) -> Result<(MrtRecord, usize), DecodeError> {
    MrtDecoder::new().decode(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp_wire::attr::MpNextHop;

    #[test]
    fn archive_flags_are_normalised() {
        // BIRD 2.0 style: NEXT_HOP and LOCAL_PREF with flags 0.
        let raw = [0x40, 1, 1, 0, 0, 3, 4, 10, 9, 0, 2, 0, 5, 4, 0, 0, 0, 100];
        let a = MrtDecoder::new().attributes(&raw, true, None).unwrap();
        assert_eq!(
            a,
            vec![
                PathAttribute::Origin(bgp_wire::attr::Origin::Igp),
                PathAttribute::NextHop("10.9.0.2".parse().unwrap()),
                PathAttribute::LocalPref(100),
            ]
        );
    }

    #[test]
    fn mp_reach_in_short_and_full_form() {
        let g: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let mut short = vec![0x80, 14, 17, 16];
        short.extend_from_slice(&g.octets());
        // The full form, as some producers write it: AFI, SAFI, length, next hop, reserved.
        let mut full = vec![0x80, 14, 21, 0, 2, 1, 16];
        full.extend_from_slice(&g.octets());
        full.push(0);
        for raw in [short, full] {
            let a = MrtDecoder::new()
                .attributes(&raw, true, Some(AfiSafi::IPV6_UNICAST))
                .unwrap();
            let [PathAttribute::MpReachNlri(r)] = &a[..] else {
                panic!("{a:?}")
            };
            assert_eq!(r.af, AfiSafi::IPV6_UNICAST);
            assert_eq!(
                r.next_hop,
                MpNextHop::V6 {
                    global: g,
                    link_local: None
                }
            );
        }
    }
}
