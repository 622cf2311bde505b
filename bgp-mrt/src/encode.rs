//! Encoding the typed records (the inverse of [`crate::decode`]).

use std::net::IpAddr;

use bgp_wire::attr::{FLAG_OPTIONAL, MpNextHop, type_code};
use bgp_wire::{PathAttribute, SessionContext, encode_message, put_attribute};
use bytes::{BufMut, BytesMut};
use ipnet::IpNet;

use crate::decode::HEADER_LEN;
use crate::error::MrtEncodeError as E;
use crate::record::*;

fn ctx(four: bool, add_path: bool) -> SessionContext {
    let fams = [
        bgp_wire::AfiSafi::IPV4_UNICAST,
        bgp_wire::AfiSafi::new(bgp_wire::Afi::Ipv4, bgp_wire::Safi::Multicast),
        bgp_wire::AfiSafi::IPV6_UNICAST,
        bgp_wire::AfiSafi::new(bgp_wire::Afi::Ipv6, bgp_wire::Safi::Multicast),
    ];
    SessionContext {
        four_octet_as: four,
        add_path_receive: if add_path { fams.to_vec() } else { Vec::new() },
        add_path_send: if add_path { fams.to_vec() } else { Vec::new() },
        extended_message: true,
        extended_next_hop: fams[..2].to_vec(),
    }
}

/// The MRT type a record is written with.
pub fn record_type(r: &MrtRecord) -> (u16, u16) {
    match &r.body {
        MrtBody::PeerIndexTable(_) => (mrt_type::TABLE_DUMP_V2, td2::PEER_INDEX_TABLE),
        MrtBody::Rib(x) => (mrt_type::TABLE_DUMP_V2, x.subtype),
        MrtBody::RibGeneric { subtype, .. } => (mrt_type::TABLE_DUMP_V2, *subtype),
        MrtBody::Bgp4mp(m) => (
            if r.microseconds.is_some() {
                mrt_type::BGP4MP_ET
            } else {
                mrt_type::BGP4MP
            },
            m.subtype,
        ),
        MrtBody::TableDump(t) => (
            mrt_type::TABLE_DUMP,
            if t.prefix.addr().is_ipv4() { 1 } else { 2 },
        ),
        MrtBody::Unknown {
            mrt_type, subtype, ..
        } => (*mrt_type, *subtype),
    }
}

/// Append one record (header included) to `dst`. On error `dst` is left as it was.
pub fn encode_record(r: &MrtRecord, dst: &mut BytesMut) -> Result<(), E> {
    let start = dst.len();
    let res = encode_inner(r, dst);
    if res.is_err() {
        dst.truncate(start);
    }
    res
}

fn encode_inner(r: &MrtRecord, dst: &mut BytesMut) -> Result<(), E> {
    let (t, s) = record_type(r);
    let start = dst.len();
    dst.put_u32(r.timestamp);
    dst.put_u16(t);
    dst.put_u16(s);
    dst.put_u32(0);
    if let Some(us) = r.microseconds {
        if t != mrt_type::BGP4MP_ET {
            return Err(E::Inconsistent("microseconds on a type without them"));
        }
        dst.put_u32(us);
    }
    match &r.body {
        MrtBody::PeerIndexTable(p) => put_peer_index(p, dst)?,
        MrtBody::Rib(x) => put_rib(x, dst)?,
        MrtBody::RibGeneric { raw, .. } | MrtBody::Unknown { raw, .. } => dst.put_slice(raw),
        MrtBody::Bgp4mp(m) => put_bgp4mp(m, dst)?,
        MrtBody::TableDump(x) => put_table_dump(x, dst)?,
    }
    let len = u32::try_from(dst.len() - start - HEADER_LEN).map_err(|_| E::TooLong("record"))?;
    dst[start + 8..start + 12].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

fn put_addr(a: IpAddr, dst: &mut BytesMut) {
    match a {
        IpAddr::V4(a) => dst.put_slice(&a.octets()),
        IpAddr::V6(a) => dst.put_slice(&a.octets()),
    }
}

pub(crate) fn put_prefix(p: &IpNet, dst: &mut BytesMut) {
    let len = p.prefix_len();
    dst.put_u8(len);
    let n = len.div_ceil(8) as usize;
    match p.network() {
        IpAddr::V4(a) => dst.put_slice(&a.octets()[..n]),
        IpAddr::V6(a) => dst.put_slice(&a.octets()[..n]),
    }
}

fn put_peer_index(p: &PeerIndexTable, dst: &mut BytesMut) -> Result<(), E> {
    dst.put_slice(&p.collector_id.octets());
    let n = u16::try_from(p.view_name.len()).map_err(|_| E::TooLong("view name"))?;
    dst.put_u16(n);
    dst.put_slice(&p.view_name);
    let n = u16::try_from(p.peers.len()).map_err(|_| E::TooLong("peer count"))?;
    dst.put_u16(n);
    for e in &p.peers {
        if !e.as4 && e.asn > 0xffff {
            return Err(E::Inconsistent("4-octet AS in a 2-octet peer entry"));
        }
        dst.put_u8(u8::from(e.addr.is_ipv6()) | (u8::from(e.as4) << 1));
        dst.put_slice(&e.bgp_id.octets());
        put_addr(e.addr, dst);
        if e.as4 {
            dst.put_u32(e.asn);
        } else {
            dst.put_u16(e.asn as u16);
        }
    }
    Ok(())
}

/// Put an attribute list in the RIB-entry form: an MP_REACH_NLRI of the record's family `af`
/// with no NLRI is abbreviated to next-hop length and next hop (RFC 6396 §4.3.4), anything
/// else is written as bgp-wire encodes it. A full-form MP_REACH_NLRI whose octets would read
/// as the abbreviated form is refused (it could not be decoded back).
pub fn put_rib_attributes(
    attrs: &[PathAttribute],
    ctx: &SessionContext,
    af: Option<bgp_wire::AfiSafi>,
    dst: &mut BytesMut,
) -> Result<(), E> {
    for a in attrs {
        if let PathAttribute::MpReachNlri(r) = a {
            let short = Some(r.af) == af
                && r.nlri.is_empty()
                && !matches!(&r.next_hop, MpNextHop::Raw(b) if b.is_empty());
            if !short {
                let at = dst.len();
                put_attribute(a, ctx, dst)?;
                let hdr = if dst[at] & bgp_wire::attr::FLAG_EXTENDED_LENGTH != 0 {
                    4
                } else {
                    3
                };
                let v = &dst[at + hdr..];
                if v.len() > 1 && v[0] as usize + 1 == v.len() {
                    dst.truncate(at);
                    return Err(E::Inconsistent(
                        "MP_REACH_NLRI would read as the abbreviated form",
                    ));
                }
                continue;
            }
            let nh: Vec<u8> = match &r.next_hop {
                MpNextHop::V4(a) => a.octets().to_vec(),
                MpNextHop::V6 { global, link_local } => {
                    let mut v = global.octets().to_vec();
                    if let Some(l) = link_local {
                        v.extend_from_slice(&l.octets());
                    }
                    v
                }
                MpNextHop::Raw(b) => b.to_vec(),
            };
            let n = u8::try_from(nh.len()).map_err(|_| E::TooLong("next hop"))?;
            dst.put_u8(FLAG_OPTIONAL);
            dst.put_u8(type_code::MP_REACH_NLRI);
            dst.put_u8(n + 1);
            dst.put_u8(n);
            dst.put_slice(&nh);
        } else {
            put_attribute(a, ctx, dst)?;
        }
    }
    Ok(())
}

fn put_attr_block(
    attrs: &[PathAttribute],
    ctx: &SessionContext,
    af: bgp_wire::AfiSafi,
    dst: &mut BytesMut,
) -> Result<(), E> {
    let at = dst.len();
    dst.put_u16(0);
    put_rib_attributes(attrs, ctx, Some(af), dst)?;
    let n = u16::try_from(dst.len() - at - 2).map_err(|_| E::TooLong("attribute list"))?;
    dst[at..at + 2].copy_from_slice(&n.to_be_bytes());
    Ok(())
}

fn put_rib(x: &RibRecord, dst: &mut BytesMut) -> Result<(), E> {
    let (afi, multicast, add_path) = rib_kind(x.subtype).ok_or(E::Inconsistent("RIB subtype"))?;
    let af = bgp_wire::AfiSafi::new(
        afi,
        if multicast {
            bgp_wire::Safi::Multicast
        } else {
            bgp_wire::Safi::Unicast
        },
    );
    if (afi == bgp_wire::Afi::Ipv4) != x.prefix.addr().is_ipv4() {
        return Err(E::Inconsistent("prefix family differs from the subtype"));
    }
    let c = ctx(true, false);
    dst.put_u32(x.sequence);
    put_prefix(&x.prefix.trunc(), dst);
    let n = u16::try_from(x.entries.len()).map_err(|_| E::TooLong("entry count"))?;
    dst.put_u16(n);
    for e in &x.entries {
        dst.put_u16(e.peer_index);
        dst.put_u32(e.originated);
        if add_path {
            dst.put_u32(e.path_id);
        }
        put_attr_block(&e.attributes, &c, af, dst)?;
    }
    Ok(())
}

fn put_bgp4mp(m: &Bgp4mp, dst: &mut BytesMut) -> Result<(), E> {
    if m.peer_addr.is_ipv4() != m.local_addr.is_ipv4() {
        return Err(E::Inconsistent("peer and local address families differ"));
    }
    if m.as4() {
        dst.put_u32(m.peer_as);
        dst.put_u32(m.local_as);
    } else {
        let p = u16::try_from(m.peer_as).map_err(|_| E::TooLong("peer AS"))?;
        let l = u16::try_from(m.local_as).map_err(|_| E::TooLong("local AS"))?;
        dst.put_u16(p);
        dst.put_u16(l);
    }
    dst.put_u16(m.interface);
    dst.put_u16(if m.peer_addr.is_ipv4() { 1 } else { 2 });
    put_addr(m.peer_addr, dst);
    put_addr(m.local_addr, dst);
    let state = matches!(m.subtype, bgp4mp::STATE_CHANGE | bgp4mp::STATE_CHANGE_AS4);
    match &m.body {
        Bgp4mpBody::StateChange(s) if state => {
            dst.put_u16(s.old);
            dst.put_u16(s.new);
        }
        Bgp4mpBody::Message(msg) if !state => {
            encode_message(msg, &ctx(m.as4(), m.add_path()), dst)?;
        }
        Bgp4mpBody::Undecodable { raw, .. } if !state => dst.put_slice(raw),
        _ => return Err(E::Inconsistent("BGP4MP body does not match the subtype")),
    }
    Ok(())
}

fn put_table_dump(x: &TableDump, dst: &mut BytesMut) -> Result<(), E> {
    if x.prefix.addr().is_ipv4() != x.peer_addr.is_ipv4() {
        return Err(E::Inconsistent("peer and prefix families differ"));
    }
    dst.put_u16(x.view);
    dst.put_u16(x.sequence);
    put_addr(x.prefix.network(), dst);
    dst.put_u8(x.prefix.prefix_len());
    dst.put_u8(x.status);
    dst.put_u32(x.originated);
    put_addr(x.peer_addr, dst);
    dst.put_u16(x.peer_as);
    let afi = if x.prefix.addr().is_ipv4() {
        bgp_wire::Afi::Ipv4
    } else {
        bgp_wire::Afi::Ipv6
    };
    let af = bgp_wire::AfiSafi::new(afi, bgp_wire::Safi::Unicast);
    put_attr_block(&x.attributes, &ctx(false, false), af, dst)
}
