//! Encoding messages.
//!
//! Canonical forms (what decode-then-encode reproduces):
//! - OPEN: each capability in its own Capabilities optional parameter (as FRR does),
//!   followed by the other optional parameters; the RFC 9072 extended optional
//!   parameters form is used only when the parameters exceed 255 octets.
//! - Path attributes: the value length is computed first, so the extended-length flag
//!   is set exactly when the value is longer than 255 octets; known attributes are sent with their standard O/T flags and no
//!   Partial bit; unknown attributes with their flags as kept.
//! - AS_PATH / AGGREGATOR use 4-octet AS numbers when `ctx.four_octet_as`, else 2-octet
//!   ones with AS_TRANS for AS numbers above 65535 (adding AS4_PATH is the caller's
//!   choice). AS_PATH segments longer than 255 AS numbers are split; empty segments are
//!   skipped.
//! - NLRI carry a path identifier exactly when `ctx.sends_path_id(af)` (0 when the NLRI
//!   has none).

use bytes::{BufMut, BytesMut};

use crate::afi::AfiSafi;
use crate::attr::{
    AsPath, ExtGlobalAdmin, ExtendedCommunity, FLAG_EXTENDED_LENGTH, MpNextHop, PathAttribute,
};
use crate::context::SessionContext;
use crate::error::EncodeError;
use crate::message::{
    AS_TRANS, BgpRole, Capability, Message, Notification, Open, RouteRefresh, RouteRefreshSubtype,
    Update,
};
use crate::nlri::MpNlri;
use crate::prefix::{prefix_wire_len, put_prefix};
use crate::{HEADER_LEN, MAX_MESSAGE_LEN};

/// Encode one message (header included) at the end of `dst`.
///
/// On error nothing is left appended to `dst`.
pub fn encode_message(
    msg: &Message,
    ctx: &SessionContext,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    let start = dst.len();
    let r = encode_inner(msg, ctx, dst, start);
    if r.is_err() {
        dst.truncate(start);
    }
    r
}

fn encode_inner(
    msg: &Message,
    ctx: &SessionContext,
    dst: &mut BytesMut,
    start: usize,
) -> Result<(), EncodeError> {
    dst.reserve(HEADER_LEN + 64);
    dst.put_slice(&[0xFF; 16]);
    dst.put_u16(0);
    dst.put_u8(msg.message_type() as u8);
    let max = match msg {
        Message::Open(o) => {
            encode_open(o, dst)?;
            MAX_MESSAGE_LEN
        }
        Message::Update(u) => {
            encode_update_body(u, ctx, dst)?;
            ctx.max_message_len()
        }
        Message::Notification(n) => {
            encode_notification(n, dst);
            ctx.max_message_len()
        }
        Message::Keepalive => MAX_MESSAGE_LEN,
        Message::RouteRefresh(r) => {
            encode_route_refresh(r, dst);
            MAX_MESSAGE_LEN
        }
    };
    let len = dst.len() - start;
    if len > max {
        return Err(EncodeError::TooLong { len, max });
    }
    let l = (len as u16).to_be_bytes();
    dst[start + 16] = l[0];
    dst[start + 17] = l[1];
    Ok(())
}

fn encode_notification(n: &Notification, dst: &mut BytesMut) {
    dst.put_u8(n.code);
    dst.put_u8(n.subcode);
    dst.put_slice(&n.data);
}

fn encode_route_refresh(r: &RouteRefresh, dst: &mut BytesMut) {
    dst.put_u16(r.af.afi.code());
    dst.put_u8(match r.subtype {
        RouteRefreshSubtype::Request => 0,
        RouteRefreshSubtype::BoRR => 1,
        RouteRefreshSubtype::EoRR => 2,
        RouteRefreshSubtype::Other(v) => v,
    });
    dst.put_u8(r.af.safi.code());
}

/// Append one capability TLV (code, length, value).
pub(crate) fn put_capability(c: &Capability, dst: &mut BytesMut) -> Result<(), EncodeError> {
    let code = c.code();
    dst.put_u8(code);
    let len_at = dst.len();
    dst.put_u8(0);
    match c {
        Capability::Multiprotocol(af) => {
            dst.put_u16(af.afi.code());
            dst.put_u8(0);
            dst.put_u8(af.safi.code());
        }
        Capability::RouteRefresh
        | Capability::ExtendedMessage
        | Capability::EnhancedRouteRefresh => {}
        Capability::ExtendedNextHop(t) => {
            for (af, nh) in t {
                dst.put_u16(af.afi.code());
                dst.put_u16(u16::from(af.safi.code()));
                dst.put_u16(nh.code());
            }
        }
        Capability::Role(r) => dst.put_u8(match r {
            BgpRole::Provider => 0,
            BgpRole::RouteServer => 1,
            BgpRole::RouteServerClient => 2,
            BgpRole::Customer => 3,
            BgpRole::Peer => 4,
            BgpRole::Other(v) => *v,
        }),
        Capability::GracefulRestart {
            restart_state,
            notification,
            restart_time,
            families,
        } => {
            if *restart_time > 0x0FFF {
                return Err(EncodeError::Invalid(
                    "graceful restart time exceeds 12 bits",
                ));
            }
            let mut hi = ((restart_time >> 8) as u8) & 0x0F;
            if *restart_state {
                hi |= 0x80;
            }
            if *notification {
                hi |= 0x40;
            }
            dst.put_u8(hi);
            dst.put_u8(*restart_time as u8);
            for f in families {
                dst.put_u16(f.af.afi.code());
                dst.put_u8(f.af.safi.code());
                dst.put_u8(if f.forwarding_preserved { 0x80 } else { 0 });
            }
        }
        Capability::FourOctetAs(asn) => dst.put_u32(*asn),
        Capability::AddPath(t) => {
            for (af, mode) in t {
                dst.put_u16(af.afi.code());
                dst.put_u8(af.safi.code());
                dst.put_u8(mode.code());
            }
        }
        Capability::LongLivedGracefulRestart(t) => {
            for f in t {
                if f.stale_time > 0x00FF_FFFF {
                    return Err(EncodeError::Invalid("LLGR stale time exceeds 24 bits"));
                }
                dst.put_u16(f.af.afi.code());
                dst.put_u8(f.af.safi.code());
                dst.put_u8(f.flags);
                let s = f.stale_time.to_be_bytes();
                dst.put_slice(&s[1..]);
            }
        }
        Capability::Fqdn { hostname, domain } => {
            let (h, d) = (hostname.as_bytes(), domain.as_bytes());
            if h.len() > 255 || d.len() > 255 {
                return Err(EncodeError::Invalid("FQDN name longer than 255 octets"));
            }
            dst.put_u8(h.len() as u8);
            dst.put_slice(h);
            dst.put_u8(d.len() as u8);
            dst.put_slice(d);
        }
        Capability::Unknown { value, .. } => dst.put_slice(value),
    }
    let len = dst.len() - len_at - 1;
    dst[len_at] =
        u8::try_from(len).map_err(|_| EncodeError::Invalid("capability longer than 255 octets"))?;
    Ok(())
}

fn encode_open(o: &Open, dst: &mut BytesMut) -> Result<(), EncodeError> {
    dst.put_u8(o.version);
    dst.put_u16(o.my_as);
    dst.put_u16(o.hold_time);
    dst.put_slice(&o.bgp_id.octets());
    // Encode the parameters into a scratch buffer first (1-octet lengths), then decide
    // whether the RFC 9072 extended form is needed.
    let mut caps = BytesMut::with_capacity(64);
    for c in &o.capabilities {
        caps.put_u8(0);
        caps.put_u8(0);
        let at = caps.len();
        put_capability(c, &mut caps)?;
        let l = caps.len() - at;
        // A capability is at most 257 octets: always fits a parameter.
        caps[at - 2] = 2;
        caps[at - 1] = l as u8;
        if l > 255 {
            return Err(EncodeError::Invalid(
                "capability parameter longer than 255 octets",
            ));
        }
    }
    let other_len: usize = o.other_params.iter().map(|(_, v)| 2 + v.len()).sum();
    let total = caps.len() + other_len;
    let needs_ext = total > 255 || o.other_params.iter().any(|(_, v)| v.len() > 255);
    if !needs_ext {
        dst.put_u8(total as u8);
        dst.put_slice(&caps);
        for (t, v) in &o.other_params {
            dst.put_u8(*t);
            dst.put_u8(v.len() as u8);
            dst.put_slice(v);
        }
        return Ok(());
    }
    // RFC 9072: 255, 255, 2-octet length, parameters with 2-octet lengths.
    let ncaps = o.capabilities.len();
    let ext_total = total + ncaps + o.other_params.len();
    let ext_total = u16::try_from(ext_total)
        .map_err(|_| EncodeError::Invalid("optional parameters too long"))?;
    dst.put_u8(255);
    dst.put_u8(255);
    dst.put_u16(ext_total);
    let mut i = 0;
    while i < caps.len() {
        let l = caps[i + 1] as usize;
        dst.put_u8(2);
        dst.put_u16(l as u16);
        dst.put_slice(&caps[i + 2..i + 2 + l]);
        i += 2 + l;
    }
    for (t, v) in &o.other_params {
        dst.put_u8(*t);
        dst.put_u16(
            u16::try_from(v.len())
                .map_err(|_| EncodeError::Invalid("optional parameter too long"))?,
        );
        dst.put_slice(v);
    }
    Ok(())
}

fn encode_update_body(
    u: &Update,
    ctx: &SessionContext,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    let ap = ctx.sends_path_id(AfiSafi::IPV4_UNICAST);
    let wl_at = dst.len();
    dst.put_u16(0);
    for n in &u.withdrawn {
        put_prefix(dst, n, ap);
    }
    let wl = dst.len() - wl_at - 2;
    let wl = u16::try_from(wl).map_err(|_| EncodeError::TooLong {
        len: wl,
        max: u16::MAX as usize,
    })?;
    dst[wl_at..wl_at + 2].copy_from_slice(&wl.to_be_bytes());
    let al_at = dst.len();
    dst.put_u16(0);
    for a in &u.attributes {
        put_attribute(a, ctx, dst)?;
    }
    let al = dst.len() - al_at - 2;
    let al = u16::try_from(al).map_err(|_| EncodeError::TooLong {
        len: al,
        max: u16::MAX as usize,
    })?;
    dst[al_at..al_at + 2].copy_from_slice(&al.to_be_bytes());
    for n in &u.nlri {
        put_prefix(dst, n, ap);
    }
    Ok(())
}

fn put_as_path(p: &AsPath, four: bool, dst: &mut BytesMut) {
    for s in &p.segments {
        for chunk in s.asns.chunks(255) {
            dst.put_u8(s.kind as u8);
            dst.put_u8(chunk.len() as u8);
            for &a in chunk {
                if four {
                    dst.put_u32(a);
                } else {
                    dst.put_u16(u16::try_from(a).unwrap_or(AS_TRANS));
                }
            }
        }
    }
}

fn put_mp_nlri(n: &MpNlri, add_path: bool, dst: &mut BytesMut) {
    match n {
        MpNlri::Prefixes(p) => {
            for x in p {
                put_prefix(dst, x, add_path);
            }
        }
        MpNlri::Raw(b) => dst.put_slice(b),
    }
}

/// Append one path attribute (flags, type, length, value) in canonical form.
pub fn put_attribute(
    a: &PathAttribute,
    ctx: &SessionContext,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    let vlen = attr_value_len(a, ctx);
    let start = dst.len();
    if vlen > 255 {
        let l = u16::try_from(vlen)
            .map_err(|_| EncodeError::Invalid("attribute longer than 65535 octets"))?;
        dst.reserve(4 + vlen);
        dst.put_u8(a.flags() | FLAG_EXTENDED_LENGTH);
        dst.put_u8(a.type_code());
        dst.put_u16(l);
    } else {
        dst.reserve(3 + vlen);
        dst.put_u8(a.flags() & !FLAG_EXTENDED_LENGTH);
        dst.put_u8(a.type_code());
        dst.put_u8(vlen as u8);
    }
    let vstart = dst.len();
    if let Err(e) = put_attr_value(a, ctx, dst) {
        dst.truncate(start);
        return Err(e);
    }
    if dst.len() - vstart != vlen {
        // Cannot happen: attr_value_len mirrors put_attr_value.
        dst.truncate(start);
        return Err(EncodeError::Invalid("attribute length mismatch"));
    }
    Ok(())
}

fn as_path_len(p: &AsPath, four: bool) -> usize {
    let w = if four { 4 } else { 2 };
    p.segments
        .iter()
        .map(|s| s.asns.len().div_ceil(255) * 2 + s.asns.len() * w)
        .sum()
}

fn mp_nlri_len(n: &MpNlri, add_path: bool) -> usize {
    match n {
        MpNlri::Prefixes(p) => p.iter().map(|x| prefix_wire_len(x, add_path)).sum(),
        MpNlri::Raw(b) => b.len(),
    }
}

/// The encoded length of an attribute's value (mirrors `put_attr_value`).
fn attr_value_len(a: &PathAttribute, ctx: &SessionContext) -> usize {
    match a {
        PathAttribute::Origin(_) => 1,
        PathAttribute::AsPath(p) => as_path_len(p, ctx.four_octet_as),
        PathAttribute::NextHop(_)
        | PathAttribute::MultiExitDisc(_)
        | PathAttribute::LocalPref(_)
        | PathAttribute::Otc(_)
        | PathAttribute::OriginatorId(_) => 4,
        PathAttribute::AtomicAggregate => 0,
        PathAttribute::Aggregator(_) => {
            if ctx.four_octet_as {
                8
            } else {
                6
            }
        }
        PathAttribute::Communities(c) => 4 * c.len(),
        PathAttribute::ClusterList(l) => 4 * l.len(),
        PathAttribute::MpReachNlri(r) => {
            let nh = match &r.next_hop {
                MpNextHop::V4(_) => 4,
                MpNextHop::V6 { link_local, .. } => {
                    if link_local.is_some() {
                        32
                    } else {
                        16
                    }
                }
                MpNextHop::Raw(b) => b.len(),
            };
            3 + 1 + nh + 1 + mp_nlri_len(&r.nlri, ctx.sends_path_id(r.af))
        }
        PathAttribute::MpUnreachNlri(u) => 3 + mp_nlri_len(&u.withdrawn, ctx.sends_path_id(u.af)),
        PathAttribute::ExtendedCommunities(l) => 8 * l.len(),
        PathAttribute::As4Path(p) => as_path_len(p, true),
        PathAttribute::As4Aggregator(_) => 8,
        PathAttribute::Ipv6ExtendedCommunities(l) => 20 * l.len(),
        PathAttribute::LargeCommunities(l) => 12 * l.len(),
        PathAttribute::Unknown(r) => r.value.len(),
    }
}

fn put_attr_value(
    a: &PathAttribute,
    ctx: &SessionContext,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    match a {
        PathAttribute::Origin(o) => dst.put_u8(*o as u8),
        PathAttribute::AsPath(p) => put_as_path(p, ctx.four_octet_as, dst),
        PathAttribute::NextHop(a) => dst.put_slice(&a.octets()),
        PathAttribute::MultiExitDisc(v) | PathAttribute::LocalPref(v) | PathAttribute::Otc(v) => {
            dst.put_u32(*v)
        }
        PathAttribute::AtomicAggregate => {}
        PathAttribute::Aggregator(g) => {
            if ctx.four_octet_as {
                dst.put_u32(g.asn);
            } else {
                dst.put_u16(u16::try_from(g.asn).unwrap_or(AS_TRANS));
            }
            dst.put_slice(&g.addr.octets());
        }
        PathAttribute::Communities(c) => {
            for x in c {
                dst.put_u32(x.0);
            }
        }
        PathAttribute::OriginatorId(a) => dst.put_slice(&a.octets()),
        PathAttribute::ClusterList(l) => {
            for a in l {
                dst.put_slice(&a.octets());
            }
        }
        PathAttribute::MpReachNlri(r) => {
            dst.put_u16(r.af.afi.code());
            dst.put_u8(r.af.safi.code());
            match &r.next_hop {
                MpNextHop::V4(a) => {
                    dst.put_u8(4);
                    dst.put_slice(&a.octets());
                }
                MpNextHop::V6 { global, link_local } => {
                    dst.put_u8(if link_local.is_some() { 32 } else { 16 });
                    dst.put_slice(&global.octets());
                    if let Some(l) = link_local {
                        dst.put_slice(&l.octets());
                    }
                }
                MpNextHop::Raw(b) => {
                    dst.put_u8(
                        u8::try_from(b.len())
                            .map_err(|_| EncodeError::Invalid("next hop longer than 255 octets"))?,
                    );
                    dst.put_slice(b);
                }
            }
            dst.put_u8(0);
            put_mp_nlri(&r.nlri, ctx.sends_path_id(r.af), dst);
        }
        PathAttribute::MpUnreachNlri(u) => {
            dst.put_u16(u.af.afi.code());
            dst.put_u8(u.af.safi.code());
            put_mp_nlri(&u.withdrawn, ctx.sends_path_id(u.af), dst);
        }
        PathAttribute::ExtendedCommunities(l) => {
            for c in l {
                put_ext_community(c, dst);
            }
        }
        PathAttribute::As4Path(p) => put_as_path(p, true, dst),
        PathAttribute::As4Aggregator(g) => {
            dst.put_u32(g.asn);
            dst.put_slice(&g.addr.octets());
        }
        PathAttribute::Ipv6ExtendedCommunities(l) => {
            for c in l {
                dst.put_u8(c.kind);
                dst.put_u8(c.subtype);
                dst.put_slice(&c.addr.octets());
                dst.put_u16(c.local);
            }
        }
        PathAttribute::LargeCommunities(l) => {
            for c in l {
                dst.put_u32(c.global);
                dst.put_u32(c.local1);
                dst.put_u32(c.local2);
            }
        }
        PathAttribute::Unknown(r) => dst.put_slice(&r.value),
    }
    Ok(())
}

fn put_ext_community(c: &ExtendedCommunity, dst: &mut BytesMut) {
    let admin = |sub: u8, g: &ExtGlobalAdmin, dst: &mut BytesMut| match *g {
        ExtGlobalAdmin::As2 { asn, local } => {
            dst.put_u8(0x00);
            dst.put_u8(sub);
            dst.put_u16(asn);
            dst.put_u32(local);
        }
        ExtGlobalAdmin::Ipv4 { addr, local } => {
            dst.put_u8(0x01);
            dst.put_u8(sub);
            dst.put_slice(&addr.octets());
            dst.put_u16(local);
        }
        ExtGlobalAdmin::As4 { asn, local } => {
            dst.put_u8(0x02);
            dst.put_u8(sub);
            dst.put_u32(asn);
            dst.put_u16(local);
        }
    };
    match c {
        ExtendedCommunity::RouteTarget(g) => admin(0x02, g, dst),
        ExtendedCommunity::RouteOrigin(g) => admin(0x03, g, dst),
        ExtendedCommunity::LinkBandwidth {
            transitive,
            asn,
            bandwidth_bits,
        } => {
            dst.put_u8(if *transitive { 0x00 } else { 0x40 });
            dst.put_u8(0x04);
            dst.put_u16(*asn);
            dst.put_u32(*bandwidth_bits);
        }
        ExtendedCommunity::Other(b) => dst.put_slice(b),
    }
}
