//! Building UPDATEs: End-of-RIB markers, accessors on [`Update`], and [`UpdateBuilder`]
//! which packs NLRI into as few messages as fit the session's maximum length.

use std::collections::BTreeMap;

use bytes::BytesMut;

use crate::afi::{AfiSafi, Safi};
use crate::attr::{MpNextHop, MpReach, MpUnreach, PathAttribute, type_code};
use crate::context::SessionContext;
use crate::encode::put_attribute;
use crate::error::EncodeError;
use crate::message::Update;
use crate::nlri::{MpNlri, Nlri};
use crate::prefix::prefix_wire_len;

fn typed(af: AfiSafi) -> bool {
    matches!(af.safi, Safi::Unicast | Safi::Multicast)
        && matches!(af.afi, crate::afi::Afi::Ipv4 | crate::afi::Afi::Ipv6)
}

/// The End-of-RIB marker for a family (RFC 4724 §2): an empty UPDATE for IPv4 unicast,
/// an UPDATE with only an empty MP_UNREACH_NLRI for the others.
pub fn end_of_rib(af: AfiSafi) -> Update {
    if af == AfiSafi::IPV4_UNICAST {
        return Update::default();
    }
    let withdrawn = if typed(af) {
        MpNlri::Prefixes(Vec::new())
    } else {
        MpNlri::Raw(bytes::Bytes::new())
    };
    Update {
        withdrawn: Vec::new(),
        attributes: vec![PathAttribute::MpUnreachNlri(MpUnreach { af, withdrawn })],
        nlri: Vec::new(),
    }
}

impl Update {
    /// The family this UPDATE is the End-of-RIB marker of, if it is one.
    pub fn end_of_rib(&self) -> Option<AfiSafi> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        match self.attributes.as_slice() {
            [] => Some(AfiSafi::IPV4_UNICAST),
            [PathAttribute::MpUnreachNlri(u)] if u.withdrawn.is_empty() => Some(u.af),
            _ => None,
        }
    }

    /// Every announced route with its family: IPv4 unicast NLRI, then MP_REACH_NLRI's
    /// typed prefixes (raw NLRI of other families are not listed).
    pub fn announced(&self) -> impl Iterator<Item = (AfiSafi, &Nlri)> {
        let v4 = self.nlri.iter().map(|n| (AfiSafi::IPV4_UNICAST, n));
        let mp = self.attributes.iter().flat_map(|a| {
            let (af, list): (AfiSafi, &[Nlri]) = match a {
                PathAttribute::MpReachNlri(r) => (r.af, r.nlri.prefixes()),
                _ => (AfiSafi::IPV4_UNICAST, &[]),
            };
            list.iter().map(move |n| (af, n))
        });
        v4.chain(mp)
    }

    /// Every withdrawn route with its family: the withdrawn routes field, then
    /// MP_UNREACH_NLRI's typed prefixes.
    pub fn withdrawn_routes(&self) -> impl Iterator<Item = (AfiSafi, &Nlri)> {
        let v4 = self.withdrawn.iter().map(|n| (AfiSafi::IPV4_UNICAST, n));
        let mp = self.attributes.iter().flat_map(|a| {
            let (af, list): (AfiSafi, &[Nlri]) = match a {
                PathAttribute::MpUnreachNlri(u) => (u.af, u.withdrawn.prefixes()),
                _ => (AfiSafi::IPV4_UNICAST, &[]),
            };
            list.iter().map(move |n| (af, n))
        });
        v4.chain(mp)
    }

    /// The first attribute with this type code.
    pub fn attribute(&self, type_code: u8) -> Option<&PathAttribute> {
        self.attributes.iter().find(|a| a.type_code() == type_code)
    }

    /// The MP_REACH_NLRI attribute, if any.
    pub fn mp_reach(&self) -> Option<&MpReach> {
        self.attributes.iter().find_map(|a| match a {
            PathAttribute::MpReachNlri(r) => Some(r),
            _ => None,
        })
    }

    /// The MP_UNREACH_NLRI attribute, if any.
    pub fn mp_unreach(&self) -> Option<&MpUnreach> {
        self.attributes.iter().find_map(|a| match a {
            PathAttribute::MpUnreachNlri(u) => Some(u),
            _ => None,
        })
    }
}

/// Builds UPDATEs from a set of attributes and routes, splitting them so each message
/// fits `ctx.max_message_len()`.
///
/// IPv4 unicast routes use the classic withdrawn/NLRI fields and the NEXT_HOP in the
/// attributes, unless an IPv6 next hop was given for IPv4 unicast with
/// [`UpdateBuilder::next_hop`] (RFC 8950), in which case they go in MP_REACH_NLRI like
/// every other family. Withdrawals come first, in messages of their own (without path
/// attributes), then announcements, each message carrying all the attributes.
///
/// ```
/// use bgp_wire::{AfiSafi, Nlri, SessionContext, UpdateBuilder};
/// use bgp_wire::attr::{AsPath, Origin, PathAttribute};
/// let ctx = SessionContext::modern();
/// let updates = UpdateBuilder::new(&ctx)
///     .attributes(vec![
///         PathAttribute::Origin(Origin::Igp),
///         PathAttribute::AsPath(AsPath::default()),
///         PathAttribute::NextHop("192.168.1.10".parse().unwrap()),
///     ])
///     .announce(AfiSafi::IPV4_UNICAST, [Nlri::new("172.16.10.0/32".parse().unwrap())])
///     .build()
///     .unwrap();
/// assert_eq!(updates.len(), 1);
/// assert_eq!(updates[0].nlri.len(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct UpdateBuilder {
    ctx: SessionContext,
    attributes: Vec<PathAttribute>,
    announce: BTreeMap<AfiSafi, Vec<Nlri>>,
    withdraw: BTreeMap<AfiSafi, Vec<Nlri>>,
    next_hops: BTreeMap<AfiSafi, MpNextHop>,
}

impl UpdateBuilder {
    /// A builder for the session described by `ctx` (its send direction).
    pub fn new(ctx: &SessionContext) -> Self {
        UpdateBuilder {
            ctx: ctx.clone(),
            attributes: Vec::new(),
            announce: BTreeMap::new(),
            withdraw: BTreeMap::new(),
            next_hops: BTreeMap::new(),
        }
    }
    /// The path attributes of the announced routes. MP_REACH_NLRI / MP_UNREACH_NLRI in
    /// here are ignored: the builder makes them.
    pub fn attributes(mut self, attrs: Vec<PathAttribute>) -> Self {
        self.attributes = attrs
            .into_iter()
            .filter(|a| {
                a.type_code() != type_code::MP_REACH_NLRI
                    && a.type_code() != type_code::MP_UNREACH_NLRI
            })
            .collect();
        self
    }
    /// The next hop for a family sent in MP_REACH_NLRI.
    pub fn next_hop(mut self, af: AfiSafi, nh: MpNextHop) -> Self {
        self.next_hops.insert(af, nh);
        self
    }
    /// Routes to announce.
    pub fn announce(mut self, af: AfiSafi, nlri: impl IntoIterator<Item = Nlri>) -> Self {
        self.announce.entry(af).or_default().extend(nlri);
        self
    }
    /// Routes to withdraw.
    pub fn withdraw(mut self, af: AfiSafi, nlri: impl IntoIterator<Item = Nlri>) -> Self {
        self.withdraw.entry(af).or_default().extend(nlri);
        self
    }

    fn classic_v4(&self) -> bool {
        !matches!(
            self.next_hops.get(&AfiSafi::IPV4_UNICAST),
            Some(MpNextHop::V6 { .. })
        )
    }

    /// Build the UPDATEs. Fails when the attributes alone (or one NLRI with them) do not
    /// fit a message, or when a family other than IPv4 unicast has announcements but no
    /// next hop.
    pub fn build(self) -> Result<Vec<Update>, EncodeError> {
        let max = self.ctx.max_message_len();
        if !self.classic_v4() && !self.ctx.extended_next_hop.contains(&AfiSafi::IPV4_UNICAST) {
            return Err(EncodeError::Invalid(
                "an IPv6 next hop for IPv4 NLRI needs the extended next hop capability (RFC 8950)",
            ));
        }
        // 19 header + 2 withdrawn length + 2 attribute length.
        const FIXED: usize = 23;
        let mut out = Vec::new();

        // Withdrawals.
        for (af, list) in &self.withdraw {
            let ap = self.ctx.sends_path_id(*af);
            if *af == AfiSafi::IPV4_UNICAST && self.classic_v4() {
                let mut cur = Vec::new();
                let mut size = FIXED;
                for n in list {
                    let l = prefix_wire_len(n, ap);
                    if size + l > max && !cur.is_empty() {
                        out.push(Update {
                            withdrawn: std::mem::take(&mut cur),
                            ..Default::default()
                        });
                        size = FIXED;
                    }
                    size += l;
                    cur.push(*n);
                }
                if !cur.is_empty() {
                    out.push(Update {
                        withdrawn: cur,
                        ..Default::default()
                    });
                }
            } else {
                // MP_UNREACH: 4-octet attribute header (worst case) + AFI/SAFI.
                let base = FIXED + 4 + 3;
                for chunk in pack(list, ap, max.saturating_sub(base)) {
                    out.push(Update {
                        attributes: vec![PathAttribute::MpUnreachNlri(MpUnreach {
                            af: *af,
                            withdrawn: MpNlri::Prefixes(chunk),
                        })],
                        ..Default::default()
                    });
                }
            }
        }

        if self.announce.values().all(|v| v.is_empty()) {
            return Ok(out);
        }
        let attrs_len = attributes_len(&self.attributes, &self.ctx)?;
        if FIXED + attrs_len > max {
            return Err(EncodeError::TooLong {
                len: FIXED + attrs_len,
                max,
            });
        }
        // The common case of a router's export: IPv4 unicast only, in one message. The
        // attributes and the NLRI list move into it (the general path below copies both).
        if out.is_empty()
            && self.classic_v4()
            && self.announce.len() == 1
            && let Some(list) = self.announce.get(&AfiSafi::IPV4_UNICAST)
        {
            let ap = self.ctx.sends_path_id(AfiSafi::IPV4_UNICAST);
            let len: usize = list.iter().map(|n| prefix_wire_len(n, ap)).sum();
            if FIXED + attrs_len + len <= max {
                let mut announce = self.announce;
                let nlri = announce.remove(&AfiSafi::IPV4_UNICAST).unwrap_or_default();
                return Ok(vec![Update {
                    withdrawn: Vec::new(),
                    attributes: self.attributes,
                    nlri,
                }]);
            }
        }
        for (af, list) in &self.announce {
            if list.is_empty() {
                continue;
            }
            let ap = self.ctx.sends_path_id(*af);
            if *af == AfiSafi::IPV4_UNICAST && self.classic_v4() {
                let room = max - FIXED - attrs_len;
                for chunk in pack(list, ap, room) {
                    out.push(Update {
                        withdrawn: Vec::new(),
                        attributes: self.attributes.clone(),
                        nlri: chunk,
                    });
                }
            } else {
                let nh = self.next_hops.get(af).cloned().ok_or(EncodeError::Invalid(
                    "no next hop for an MP_REACH_NLRI family",
                ))?;
                let nh_len = match &nh {
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
                // attribute header (4 worst case) + AFI/SAFI (3) + nh len (1) + nh + reserved (1)
                let over = FIXED + attrs_len + 4 + 3 + 1 + nh_len + 1;
                for chunk in pack(list, ap, max.saturating_sub(over)) {
                    let mut attributes = Vec::with_capacity(self.attributes.len() + 1);
                    attributes.push(PathAttribute::MpReachNlri(MpReach {
                        af: *af,
                        next_hop: nh.clone(),
                        nlri: MpNlri::Prefixes(chunk),
                    }));
                    attributes.extend(
                        self.attributes
                            .iter()
                            .filter(|a| a.type_code() != type_code::NEXT_HOP)
                            .cloned(),
                    );
                    out.push(Update {
                        withdrawn: Vec::new(),
                        attributes,
                        nlri: Vec::new(),
                    });
                }
            }
        }
        Ok(out)
    }
}

thread_local! {
    /// Scratch space to measure encoded attributes: the builder runs once per attribute set
    /// of every batch a router sends, and a fresh buffer per call was a tenth of its time.
    static SCRATCH: std::cell::RefCell<BytesMut> = std::cell::RefCell::new(BytesMut::new());
}

/// The encoded length of `attrs` for the session `ctx`.
fn attributes_len(attrs: &[PathAttribute], ctx: &SessionContext) -> Result<usize, EncodeError> {
    let put_all = |buf: &mut BytesMut| -> Result<usize, EncodeError> {
        for a in attrs {
            put_attribute(a, ctx, buf)?;
        }
        Ok(buf.len())
    };
    SCRATCH.with(|b| {
        let Ok(mut buf) = b.try_borrow_mut() else {
            // Not reentrant in practice; a fresh buffer if it ever were.
            return put_all(&mut BytesMut::new());
        };
        buf.clear();
        let n = put_all(&mut buf)?;
        if buf.capacity() > 1 << 16 {
            // An unusually large set: do not keep its buffer for good.
            *buf = BytesMut::new();
        }
        Ok(n)
    })
}

/// Split `list` into chunks whose encoded size stays within `room` octets
/// (at least one NLRI per chunk).
fn pack(list: &[Nlri], add_path: bool, room: usize) -> Vec<Vec<Nlri>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut size = 0;
    for n in list {
        let l = prefix_wire_len(n, add_path);
        if size + l > room && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
            size = 0;
        }
        size += l;
        cur.push(*n);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::afi::Afi;
    use crate::attr::{AsPath, Origin};
    use crate::{Message, decode_message, encode_message};
    use std::net::Ipv4Addr;

    fn attrs() -> Vec<PathAttribute> {
        vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(AsPath::from_sequence([64512])),
            PathAttribute::NextHop(Ipv4Addr::new(192, 168, 1, 10)),
        ]
    }

    fn hosts(n: u32) -> Vec<Nlri> {
        (0..n)
            .map(|i| {
                Nlri::new(ipnet::IpNet::V4(
                    ipnet::Ipv4Net::new(Ipv4Addr::from(0x0A00_0000 + i), 32).unwrap(),
                ))
            })
            .collect()
    }

    fn wire(u: &Update, ctx: &SessionContext) -> Vec<u8> {
        let mut b = BytesMut::new();
        encode_message(&Message::Update(u.clone()), ctx, &mut b).unwrap();
        b.to_vec()
    }

    #[test]
    fn splits_at_the_session_maximum() {
        let ctx = SessionContext::modern();
        let ups = UpdateBuilder::new(&ctx)
            .attributes(attrs())
            .announce(AfiSafi::IPV4_UNICAST, hosts(2000))
            .build()
            .unwrap();
        // 2000 x 5 octets of NLRI do not fit 4096: three messages, each full but the last.
        assert_eq!(ups.len(), 3);
        let lens: Vec<usize> = ups.iter().map(|u| wire(u, &ctx).len()).collect();
        assert!(lens.iter().all(|&l| l <= 4096), "{lens:?}");
        assert!(lens[0] > 4096 - 5, "{lens:?}");
        assert_eq!(ups.iter().map(|u| u.nlri.len()).sum::<usize>(), 2000);
        // With Extended Messages everything fits in one.
        let ext = SessionContext {
            extended_message: true,
            ..SessionContext::modern()
        };
        let ups = UpdateBuilder::new(&ext)
            .attributes(attrs())
            .announce(AfiSafi::IPV4_UNICAST, hosts(2000))
            .build()
            .unwrap();
        assert_eq!(ups.len(), 1);
    }

    #[test]
    fn ipv6_and_withdrawals_use_mp_attributes() {
        let ctx = SessionContext::modern();
        let p6 = Nlri::new("2001:db8::/64".parse().unwrap());
        let ups = UpdateBuilder::new(&ctx)
            .attributes(attrs())
            .next_hop(
                AfiSafi::IPV6_UNICAST,
                MpNextHop::V6 {
                    global: "2001:db8::1".parse().unwrap(),
                    link_local: None,
                },
            )
            .announce(AfiSafi::IPV6_UNICAST, [p6])
            .withdraw(AfiSafi::IPV6_UNICAST, [p6])
            .withdraw(AfiSafi::IPV4_UNICAST, hosts(1))
            .build()
            .unwrap();
        assert_eq!(ups.len(), 3);
        // Withdrawals first: IPv4 in the withdrawn field, IPv6 in MP_UNREACH.
        assert_eq!(ups[0].withdrawn, hosts(1));
        assert!(ups[0].attributes.is_empty());
        assert_eq!(ups[1].mp_unreach().unwrap().withdrawn.prefixes(), &[p6]);
        // The announcement: MP_REACH first, no NEXT_HOP attribute.
        assert!(matches!(
            ups[2].attributes[0],
            PathAttribute::MpReachNlri(_)
        ));
        assert!(ups[2].attribute(type_code::NEXT_HOP).is_none());
        for u in &ups {
            let d = decode_message(bytes::Bytes::from(wire(u, &ctx)), &ctx).unwrap();
            assert!(d.verdict.is_clean(), "{:?}", d.verdict);
        }
    }

    #[test]
    fn ipv4_with_ipv6_next_hop_goes_in_mp_reach() {
        let ctx = SessionContext {
            extended_next_hop: vec![AfiSafi::IPV4_UNICAST],
            ..SessionContext::modern()
        };
        let ups = UpdateBuilder::new(&ctx)
            .attributes(attrs())
            .next_hop(
                AfiSafi::IPV4_UNICAST,
                MpNextHop::V6 {
                    global: "2001:db8::1".parse().unwrap(),
                    link_local: None,
                },
            )
            .announce(AfiSafi::IPV4_UNICAST, hosts(3))
            .build()
            .unwrap();
        assert_eq!(ups.len(), 1);
        assert!(ups[0].nlri.is_empty());
        let r = ups[0].mp_reach().unwrap();
        assert_eq!(r.af, AfiSafi::IPV4_UNICAST);
        assert_eq!(r.nlri.prefixes(), &hosts(3)[..]);
        let d = decode_message(bytes::Bytes::from(wire(&ups[0], &ctx)), &ctx).unwrap();
        assert!(d.verdict.is_clean(), "{:?}", d.verdict);
        // Not negotiated: refused.
        let e = UpdateBuilder::new(&SessionContext::modern())
            .next_hop(
                AfiSafi::IPV4_UNICAST,
                MpNextHop::V6 {
                    global: "2001:db8::1".parse().unwrap(),
                    link_local: None,
                },
            )
            .announce(AfiSafi::IPV4_UNICAST, hosts(1))
            .build();
        assert!(matches!(e, Err(EncodeError::Invalid(_))));
    }

    #[test]
    fn missing_next_hop_and_oversized_attributes_are_errors() {
        let ctx = SessionContext::modern();
        let e = UpdateBuilder::new(&ctx)
            .attributes(attrs())
            .announce(
                AfiSafi::IPV6_UNICAST,
                [Nlri::new("2001:db8::/64".parse().unwrap())],
            )
            .build();
        assert!(e.is_err());
        let mut big = attrs();
        big.push(PathAttribute::Communities(vec![
            crate::attr::Community(1);
            1100
        ]));
        let e = UpdateBuilder::new(&ctx)
            .attributes(big)
            .announce(AfiSafi::IPV4_UNICAST, hosts(1))
            .build();
        assert!(matches!(e, Err(EncodeError::TooLong { .. })));
        // Nothing to do: no messages.
        assert!(UpdateBuilder::new(&ctx).build().unwrap().is_empty());
    }

    #[test]
    fn end_of_rib_for_every_family() {
        let ctx = SessionContext::modern();
        let fams = [
            AfiSafi::IPV4_UNICAST,
            AfiSafi::IPV6_UNICAST,
            AfiSafi::new(Afi::Ipv4, Safi::Multicast),
            AfiSafi::new(Afi::Ipv6, Safi::Multicast),
            AfiSafi::new(Afi::Other(25), Safi::Other(70)),
            AfiSafi::new(Afi::Ipv4, Safi::Other(128)),
        ];
        for af in fams {
            let eor = end_of_rib(af);
            assert_eq!(eor.end_of_rib(), Some(af));
            let b = wire(&eor, &ctx);
            if af == AfiSafi::IPV4_UNICAST {
                assert_eq!(b.len(), 23);
            } else {
                assert_eq!(b.len(), 23 + 3 + 3);
            }
            let d = decode_message(bytes::Bytes::from(b), &ctx).unwrap();
            let Message::Update(u) = d.message else {
                panic!()
            };
            assert_eq!(u, eor);
            assert_eq!(u.end_of_rib(), Some(af));
        }
        // Not End-of-RIB: a withdrawal, or MP_UNREACH with routes.
        let u = Update {
            withdrawn: hosts(1),
            ..Default::default()
        };
        assert_eq!(u.end_of_rib(), None);
    }
}
