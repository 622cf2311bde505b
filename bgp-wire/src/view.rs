//! A lazy, allocation-free view of an UPDATE for hot paths (collectors, counters).
//!
//! [`UpdateView::parse`] checks the framing (field lengths, prefix syntax of the withdrawn
//! routes and NLRI fields, that every attribute header and value fits); iterating then
//! decodes on the fly without allocating. It applies no RFC 7606 semantics: use
//! [`crate::decode_message`] for that.

use crate::HEADER_LEN;
use crate::afi::{Afi, AfiSafi, Safi};
use crate::attr::{FLAG_EXTENDED_LENGTH, type_code};
use crate::context::SessionContext;
use crate::error::merr;
use crate::error::{MessageError, MessageErrorKind, codes};
use crate::message::Notification;
use crate::nlri::Nlri;
use crate::prefix::{PrefixFamily, count_prefixes, read_prefix};

fn err(sub: u8, offset: usize, what: &'static str) -> MessageError {
    merr(
        MessageErrorKind::Update(what),
        offset,
        Notification::new(codes::UPDATE_MESSAGE_ERROR, sub),
    )
}

/// A parsed-on-demand UPDATE body.
///
/// ```
/// use bgp_wire::{SessionContext, UpdateView};
/// // withdrawn len 0, attributes: ORIGIN IGP, NLRI 10.0.0.0/8
/// let body = [0, 0, 0, 4, 0x40, 1, 1, 0, 8, 10];
/// let ctx = SessionContext::default();
/// let v = UpdateView::parse(&body, &ctx).unwrap();
/// assert_eq!(v.nlri().count(), 1);
/// assert_eq!(v.attributes().next().unwrap().type_code, 1);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct UpdateView<'a> {
    withdrawn: &'a [u8],
    attributes: &'a [u8],
    nlri: &'a [u8],
    ctx: &'a SessionContext,
}

/// One path attribute, undecoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAttr<'a> {
    /// Flags as received.
    pub flags: u8,
    /// Type code.
    pub type_code: u8,
    /// Value.
    pub value: &'a [u8],
}

/// Iterator over the NLRI of one field; stops at the first malformed entry.
#[derive(Debug, Clone)]
pub struct PrefixIter<'a> {
    data: &'a [u8],
    fam: PrefixFamily,
    add_path: bool,
}

impl Iterator for PrefixIter<'_> {
    type Item = Nlri;
    #[inline]
    fn next(&mut self) -> Option<Nlri> {
        if self.data.is_empty() {
            return None;
        }
        match read_prefix(self.data, self.fam, self.add_path) {
            Some((n, used)) => {
                self.data = self.data.get(used..).unwrap_or_default();
                Some(n)
            }
            None => {
                self.data = &[];
                None
            }
        }
    }
}

/// Iterator over the path attributes.
#[derive(Debug, Clone)]
pub struct RawAttrIter<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for RawAttrIter<'a> {
    type Item = RawAttr<'a>;
    #[inline]
    fn next(&mut self) -> Option<RawAttr<'a>> {
        let (a, used) = read_attr(self.data)?;
        self.data = self.data.get(used..).unwrap_or_default();
        Some(a)
    }
}

#[inline]
fn read_attr(d: &[u8]) -> Option<(RawAttr<'_>, usize)> {
    let flags = *d.first()?;
    let type_code = *d.get(1)?;
    let (len, hdr) = if flags & FLAG_EXTENDED_LENGTH != 0 {
        (u16::from_be_bytes([*d.get(2)?, *d.get(3)?]) as usize, 4)
    } else {
        (*d.get(2)? as usize, 3)
    };
    let value = d.get(hdr..hdr + len)?;
    Some((
        RawAttr {
            flags,
            type_code,
            value,
        },
        hdr + len,
    ))
}

/// The routes of an MP_REACH_NLRI / MP_UNREACH_NLRI, undecoded next hop.
#[derive(Debug, Clone)]
pub struct MpView<'a> {
    /// Family.
    pub af: AfiSafi,
    /// Next hop octets (empty for MP_UNREACH_NLRI).
    pub next_hop: &'a [u8],
    /// NLRI octets.
    pub nlri_raw: &'a [u8],
    add_path: bool,
}

impl<'a> MpView<'a> {
    /// Typed prefixes for IPv4/IPv6 unicast/multicast; `None` for other families.
    pub fn prefixes(&self) -> Option<PrefixIter<'a>> {
        let fam = match self.af.safi {
            Safi::Unicast | Safi::Multicast => PrefixFamily::from_afi(self.af.afi)?,
            Safi::Other(_) => return None,
        };
        Some(PrefixIter {
            data: self.nlri_raw,
            fam,
            add_path: self.add_path,
        })
    }
}

impl<'a> UpdateView<'a> {
    /// Check the framing of an UPDATE body (the message without its 19-octet header).
    /// Error offsets are from the start of the message, as in [`crate::decode_message`].
    pub fn parse(body: &'a [u8], ctx: &'a SessionContext) -> Result<Self, MessageError> {
        let h = HEADER_LEN;
        let (Some(&w0), Some(&w1)) = (body.first(), body.get(1)) else {
            return Err(err(
                codes::MALFORMED_ATTRIBUTE_LIST,
                h,
                "UPDATE body too short",
            ));
        };
        let wlen = u16::from_be_bytes([w0, w1]) as usize;
        let wend = 2 + wlen;
        let (Some(&a0), Some(&a1)) = (body.get(wend), body.get(wend + 1)) else {
            return Err(err(
                codes::MALFORMED_ATTRIBUTE_LIST,
                h,
                "withdrawn routes length overruns the message",
            ));
        };
        let alen = u16::from_be_bytes([a0, a1]) as usize;
        let astart = wend + 2;
        let Some(attributes) = body.get(astart..astart + alen) else {
            return Err(err(
                codes::MALFORMED_ATTRIBUTE_LIST,
                h + wend,
                "total path attribute length overruns the message",
            ));
        };
        let withdrawn = body.get(2..wend).unwrap_or_default();
        let nlri = body.get(astart + alen..).unwrap_or_default();
        let ap = ctx.receives_path_id(AfiSafi::IPV4_UNICAST);
        count_prefixes(withdrawn, PrefixFamily::V4, ap).map_err(|o| {
            err(
                codes::INVALID_NETWORK_FIELD,
                h + 2 + o,
                "invalid withdrawn route",
            )
        })?;
        count_prefixes(nlri, PrefixFamily::V4, ap).map_err(|o| {
            err(
                codes::INVALID_NETWORK_FIELD,
                h + astart + alen + o,
                "invalid NLRI",
            )
        })?;
        let mut i = 0;
        while i < attributes.len() {
            let rest = attributes.get(i..).unwrap_or_default();
            match read_attr(rest) {
                Some((_, used)) => i += used,
                None => {
                    return Err(err(
                        codes::MALFORMED_ATTRIBUTE_LIST,
                        h + astart + i,
                        "attribute overruns the attribute list",
                    ));
                }
            }
        }
        Ok(UpdateView {
            withdrawn,
            attributes,
            nlri,
            ctx,
        })
    }

    /// Like [`UpdateView::parse`] for a whole message, header included (not checked
    /// beyond its length; use [`crate::frame_len`] for that).
    pub fn parse_message(msg: &'a [u8], ctx: &'a SessionContext) -> Result<Self, MessageError> {
        Self::parse(msg.get(HEADER_LEN..).unwrap_or_default(), ctx)
    }

    /// Withdrawn IPv4 unicast routes.
    pub fn withdrawn(&self) -> PrefixIter<'a> {
        PrefixIter {
            data: self.withdrawn,
            fam: PrefixFamily::V4,
            add_path: self.ctx.receives_path_id(AfiSafi::IPV4_UNICAST),
        }
    }

    /// Announced IPv4 unicast routes.
    pub fn nlri(&self) -> PrefixIter<'a> {
        PrefixIter {
            data: self.nlri,
            fam: PrefixFamily::V4,
            add_path: self.ctx.receives_path_id(AfiSafi::IPV4_UNICAST),
        }
    }

    /// The path attributes in wire order.
    pub fn attributes(&self) -> RawAttrIter<'a> {
        RawAttrIter {
            data: self.attributes,
        }
    }

    /// The first attribute of this type.
    pub fn attribute(&self, type_code: u8) -> Option<RawAttr<'a>> {
        self.attributes().find(|a| a.type_code == type_code)
    }

    /// The MP_REACH_NLRI attribute's family, next hop and NLRI, if present and well-framed.
    pub fn mp_reach(&self) -> Option<MpView<'a>> {
        let v = self.attribute(type_code::MP_REACH_NLRI)?.value;
        let af = af_of(v)?;
        let nhl = *v.get(3)? as usize;
        let next_hop = v.get(4..4 + nhl)?;
        let nlri_raw = v.get(5 + nhl..)?;
        Some(MpView {
            af,
            next_hop,
            nlri_raw,
            add_path: self.ctx.receives_path_id(af),
        })
    }

    /// The MP_UNREACH_NLRI attribute's family and withdrawn routes, if present.
    pub fn mp_unreach(&self) -> Option<MpView<'a>> {
        let v = self.attribute(type_code::MP_UNREACH_NLRI)?.value;
        let af = af_of(v)?;
        Some(MpView {
            af,
            next_hop: &[],
            nlri_raw: v.get(3..)?,
            add_path: self.ctx.receives_path_id(af),
        })
    }

    /// The family this UPDATE is the End-of-RIB marker of, if it is one.
    pub fn end_of_rib(&self) -> Option<AfiSafi> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        if self.attributes.is_empty() {
            return Some(AfiSafi::IPV4_UNICAST);
        }
        let mut it = self.attributes();
        let a = it.next()?;
        if it.next().is_some() || a.type_code != type_code::MP_UNREACH_NLRI || a.value.len() != 3 {
            return None;
        }
        af_of(a.value)
    }
}

fn af_of(v: &[u8]) -> Option<AfiSafi> {
    Some(AfiSafi::new(
        Afi::from_code(u16::from_be_bytes([*v.first()?, *v.get(1)?])),
        Safi::from_code(*v.get(2)?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::{AsPath, MpNextHop, Origin, PathAttribute};
    use crate::{Message, UpdateBuilder, encode_message, end_of_rib};
    use bytes::BytesMut;

    #[test]
    fn view_matches_full_decode() {
        let ctx = SessionContext {
            four_octet_as: true,
            add_path_receive: vec![AfiSafi::IPV6_UNICAST],
            add_path_send: vec![AfiSafi::IPV6_UNICAST],
            ..Default::default()
        };
        let ups = UpdateBuilder::new(&ctx)
            .attributes(vec![
                PathAttribute::Origin(Origin::Igp),
                PathAttribute::AsPath(AsPath::from_sequence([65000])),
            ])
            .next_hop(
                AfiSafi::IPV6_UNICAST,
                MpNextHop::V6 {
                    global: "2001:db8::1".parse().unwrap(),
                    link_local: None,
                },
            )
            .announce(
                AfiSafi::IPV6_UNICAST,
                (0..10u32).map(|i| {
                    Nlri::with_path_id(format!("2001:db8:{i:x}::/48").parse().unwrap(), i)
                }),
            )
            .build()
            .unwrap();
        assert_eq!(ups.len(), 1);
        let mut b = BytesMut::new();
        encode_message(&Message::Update(ups[0].clone()), &ctx, &mut b).unwrap();
        let v = UpdateView::parse_message(&b, &ctx).unwrap();
        let mp = v.mp_reach().unwrap();
        assert_eq!(mp.af, AfiSafi::IPV6_UNICAST);
        assert_eq!(mp.next_hop.len(), 16);
        let got: Vec<Nlri> = mp.prefixes().unwrap().collect();
        let want: Vec<Nlri> = ups[0].announced().map(|(_, n)| *n).collect();
        assert_eq!(got, want);
        assert_eq!(v.attributes().count(), 3);
        assert_eq!(v.end_of_rib(), None);
    }

    #[test]
    fn view_end_of_rib_and_errors() {
        let ctx = SessionContext::default();
        for af in [AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST] {
            let mut b = BytesMut::new();
            encode_message(&Message::Update(end_of_rib(af)), &ctx, &mut b).unwrap();
            assert_eq!(
                UpdateView::parse_message(&b, &ctx).unwrap().end_of_rib(),
                Some(af)
            );
        }
        assert!(UpdateView::parse(&[0, 5, 0], &ctx).is_err());
        assert!(UpdateView::parse(&[0, 0, 0, 4, 0x40, 1, 5, 0], &ctx).is_err());
        assert!(UpdateView::parse(&[0, 0, 0, 0, 33, 1, 2, 3, 4, 5], &ctx).is_err());
    }
}
