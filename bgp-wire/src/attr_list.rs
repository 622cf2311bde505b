//! Decoding a bare path-attribute block: the Path Attributes field of an UPDATE without
//! the message around it, as MRT (RFC 6396) and BMP records store it.
//!
//! The same decoder as [`crate::decode_message`] uses for UPDATEs (one code path, the same
//! RFC 7606 checks), entered at the attribute list: no synthetic UPDATE header, no copy.

use bytes::Bytes;

use crate::afi::AfiSafi;
use crate::attr::PathAttribute;
use crate::context::SessionContext;
use crate::error::UpdateVerdict;

/// How to read an attribute block that may come from an archive rather than a session.
///
/// The default reads it exactly as the Path Attributes field of a received UPDATE.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttrListOptions {
    /// The family of an MP_REACH_NLRI in the abbreviated form of MRT TABLE_DUMP_V2 RIB
    /// entries (RFC 6396 §4.3.4): next-hop length and next hop only, no AFI/SAFI, no
    /// reserved octet, no NLRI. With `Some(af)`, an MP_REACH_NLRI whose first octet is
    /// the length of the rest decodes as an `MpReach` of `af` with that next hop and no
    /// prefixes; the full form (which starts with an AFI high octet and is longer) still
    /// decodes as usual. `None`: only the full form.
    pub abbreviated_mp_reach: Option<AfiSafi>,
    /// Accept Optional/Transitive flags that conflict with a known attribute type instead
    /// of treating the attribute as malformed (RFC 7606 §3(c)). Archives store attributes
    /// as their producer wrote them (BIRD 2.0 writes NEXT_HOP and LOCAL_PREF without the
    /// Transitive bit in TABLE_DUMP_V2), and the flag check serves session error handling,
    /// not reading them. Unknown attributes keep their flags either way.
    pub ignore_flag_errors: bool,
}

impl AttrListOptions {
    /// Options for a TABLE_DUMP_V2 RIB entry of family `af`: abbreviated MP_REACH_NLRI of
    /// `af`, flag conflicts ignored.
    pub fn mrt_rib(af: AfiSafi) -> Self {
        AttrListOptions {
            abbreviated_mp_reach: Some(af),
            ignore_flag_errors: true,
        }
    }
}

/// A decoded attribute block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DecodedAttributes {
    /// The attributes in wire order; attributes that RFC 7606 discards or finds malformed
    /// are left out (as in [`crate::Update::attributes`]).
    pub attributes: Vec<PathAttribute>,
    /// The RFC 7606 problems, with offsets into the block. `treat_as_withdraw` lists the
    /// MP_REACH_NLRI routes when the verdict is treat-as-withdraw (the block has no IPv4
    /// NLRI field of its own).
    pub verdict: UpdateVerdict,
}

/// Decode the path-attribute block `block` (a sequence of attributes: flags, type, length,
/// value) under `ctx` (4-octet AS, ADD-PATH for MP NLRI, extended next hop).
///
/// Every attribute gets the checks of an UPDATE's attributes: flags (unless
/// [`AttrListOptions::ignore_flag_errors`]), lengths and values (RFC 7606 §7), duplicates
/// (§3(g)), overruns (§4), AS4_* on a 4-octet context (RFC 6793). The missing well-known
/// attribute check (§3(d)) applies when the block's own MP_REACH_NLRI announces routes,
/// since a bare block has no IPv4 NLRI field. Never fails: problems are in the verdict.
/// Raw values (unknown attributes, next hops and NLRI of other families) are zero-copy
/// slices of `block`.
///
/// ```
/// use bgp_wire::attr::{AsPath, Origin, PathAttribute};
/// use bgp_wire::{AttrListOptions, SessionContext, decode_path_attributes};
/// use bytes::Bytes;
///
/// // ORIGIN IGP, AS_PATH SEQUENCE 65000 (4-octet), NEXT_HOP 192.0.2.1
/// let block = Bytes::from_static(&[
///     0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xFD, 0xE8, 0x40, 3, 4, 192, 0, 2, 1,
/// ]);
/// let d = decode_path_attributes(&block, &SessionContext::modern(), AttrListOptions::default());
/// assert!(d.verdict.is_clean());
/// assert_eq!(d.attributes, vec![
///     PathAttribute::Origin(Origin::Igp),
///     PathAttribute::AsPath(AsPath::from_sequence([65000])),
///     PathAttribute::NextHop("192.0.2.1".parse().unwrap()),
/// ]);
/// ```
pub fn decode_path_attributes(
    block: &Bytes,
    ctx: &SessionContext,
    opts: AttrListOptions,
) -> DecodedAttributes {
    decode_path_attributes_in(block, 0, block.len(), ctx, opts)
}

/// [`decode_path_attributes`] on the block `buf[start..end]` (clamped to `buf`), without
/// slicing it out first; problem offsets are into `buf`.
pub fn decode_path_attributes_in(
    buf: &Bytes,
    start: usize,
    end: usize,
    ctx: &SessionContext,
    opts: AttrListOptions,
) -> DecodedAttributes {
    let end = end.min(buf.len());
    let start = start.min(end);
    let (attributes, mut verdict, disabled) =
        crate::update::decode_block(buf, start, end, ctx, opts, false);
    crate::update::fill_treat_as_withdraw(&mut verdict, &attributes, &disabled, &[]);
    DecodedAttributes {
        attributes,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use bytes::BytesMut;

    use super::*;
    use crate::afi::{Afi, Safi};
    use crate::attr::{AsPath, Community, MpNextHop, MpReach, Origin, type_code as tc};
    use crate::error::UpdateAction;
    use crate::message::{Message, Update};
    use crate::nlri::{MpNlri, Nlri};
    use crate::{decode_message, encode::put_attribute};

    fn block(attrs: &[PathAttribute], ctx: &SessionContext) -> Bytes {
        let mut b = BytesMut::new();
        for a in attrs {
            put_attribute(a, ctx, &mut b).unwrap();
        }
        b.freeze()
    }

    /// The attributes and verdict of an UPDATE carrying `attrs` and no NLRI, offsets made
    /// relative to the attribute block.
    fn via_update(attrs: &[u8], ctx: &SessionContext) -> DecodedAttributes {
        let mut m = vec![0xFF; 16];
        m.extend_from_slice(&((23 + attrs.len()) as u16).to_be_bytes());
        m.extend_from_slice(&[2, 0, 0]);
        m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        m.extend_from_slice(attrs);
        let d = decode_message(Bytes::from(m), ctx).unwrap();
        let Message::Update(u) = d.message else {
            panic!("not an UPDATE")
        };
        let mut verdict = d.verdict;
        for p in &mut verdict.problems {
            p.offset -= 23;
        }
        DecodedAttributes {
            attributes: u.attributes,
            verdict,
        }
    }

    fn basic() -> Vec<PathAttribute> {
        vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(AsPath::from_sequence([65000, 4_200_000_000])),
            PathAttribute::NextHop(Ipv4Addr::new(192, 0, 2, 1)),
            PathAttribute::MultiExitDisc(5),
            PathAttribute::Communities(vec![Community::new(65000, 1), Community::NO_EXPORT]),
        ]
    }

    #[test]
    fn a_clean_block_decodes_as_encoded() {
        let ctx = SessionContext::modern();
        let b = block(&basic(), &ctx);
        let d = decode_path_attributes(&b, &ctx, AttrListOptions::default());
        assert!(d.verdict.is_clean(), "{:?}", d.verdict);
        assert_eq!(d.attributes, basic());
        assert_eq!(d, via_update(&b, &ctx));
        // The same block as part of a larger buffer.
        let mut big = BytesMut::from(&b"head"[..]);
        big.extend_from_slice(&b);
        big.extend_from_slice(b"tail");
        let big = big.freeze();
        let d = decode_path_attributes_in(&big, 4, 4 + b.len(), &ctx, AttrListOptions::default());
        assert_eq!(d.attributes, basic());
        // Out-of-range bounds are clamped, never a panic.
        let d = decode_path_attributes_in(&big, 100, 7, &ctx, AttrListOptions::default());
        assert!(d.attributes.is_empty());
    }

    #[test]
    fn empty_block() {
        let d = decode_path_attributes(
            &Bytes::new(),
            &SessionContext::default(),
            AttrListOptions::default(),
        );
        assert_eq!(d, DecodedAttributes::default());
    }

    #[test]
    fn two_octet_context_reads_two_octet_paths() {
        // AS_PATH SEQUENCE 65000 23456 in 2-octet form.
        let b = Bytes::from_static(&[0x40, 2, 6, 2, 2, 0xFD, 0xE8, 0x5B, 0xA0]);
        let d = decode_path_attributes(&b, &SessionContext::default(), Default::default());
        assert_eq!(
            d.attributes,
            vec![PathAttribute::AsPath(AsPath::from_sequence([65000, 23456]))]
        );
        // Under a 4-octet context the same octets are a malformed AS_PATH: treat-as-withdraw.
        let d = decode_path_attributes(&b, &SessionContext::modern(), Default::default());
        assert!(d.attributes.is_empty());
        assert_eq!(d.verdict.action(), Some(&UpdateAction::TreatAsWithdraw));
        assert_eq!(d.verdict.problems[0].offset, 0);
    }

    #[test]
    fn rfc7606_problems_match_the_update_decoder() {
        let ctx = SessionContext::modern();
        let cases: Vec<Vec<u8>> = vec![
            // ORIGIN of length 2: treat-as-withdraw.
            vec![0x40, 1, 2, 0, 0],
            // ATOMIC_AGGREGATE of length 1: discard.
            vec![0x40, 1, 1, 0, 0x40, 6, 1, 0],
            // Duplicate MED: discard the second.
            vec![0x80, 4, 4, 0, 0, 0, 1, 0x80, 4, 4, 0, 0, 0, 2],
            // Unrecognized well-known attribute: session reset 3/2.
            vec![0x40, 99, 1, 7],
            // Attribute overrunning the block.
            vec![0x40, 1, 1, 0, 0x80, 4, 9, 0],
            // Header cut short.
            vec![0x40, 1],
            // NEXT_HOP with wrong flags (optional): treat-as-withdraw.
            vec![0xC0, 3, 4, 10, 0, 0, 1],
            // MP_REACH too short for AFI/SAFI: reset.
            vec![0x80, 14, 2, 0, 2],
        ];
        for c in cases {
            let b = Bytes::from(c.clone());
            let d = decode_path_attributes(&b, &ctx, AttrListOptions::default());
            assert!(!d.verdict.is_clean(), "{c:?}");
            assert_eq!(d, via_update(&c, &ctx), "{c:?}");
        }
    }

    #[test]
    fn mp_reach_routes_need_origin_and_as_path() {
        // Full-form MP_REACH with one IPv6 prefix and no ORIGIN/AS_PATH: the routes are
        // treat-as-withdraw and listed.
        let mut mp = vec![0, 2, 1, 16];
        mp.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        mp.push(0);
        mp.extend_from_slice(&[32, 0x20, 0x01, 0x0d, 0xb8]);
        let mut raw = vec![0x80, 14, mp.len() as u8];
        raw.extend_from_slice(&mp);
        let ctx = SessionContext::modern();
        let d = decode_path_attributes(&Bytes::from(raw.clone()), &ctx, Default::default());
        assert_eq!(d.verdict.action(), Some(&UpdateAction::TreatAsWithdraw));
        assert_eq!(
            d.verdict.treat_as_withdraw,
            vec![(
                AfiSafi::IPV6_UNICAST,
                Nlri::new("2001:db8::/32".parse().unwrap())
            )]
        );
        assert_eq!(d, via_update(&raw, &ctx));
    }

    #[test]
    fn abbreviated_mp_reach_takes_the_given_family() {
        let ctx = SessionContext::modern();
        let g: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let ll: Ipv6Addr = "fe80::1".parse().unwrap();
        let mut short = vec![0x80, 14, 33, 32];
        short.extend_from_slice(&g.octets());
        short.extend_from_slice(&ll.octets());
        let b = Bytes::from(short);
        let d = decode_path_attributes(&b, &ctx, AttrListOptions::mrt_rib(AfiSafi::IPV6_UNICAST));
        assert!(d.verdict.is_clean(), "{:?}", d.verdict);
        assert_eq!(
            d.attributes,
            vec![PathAttribute::MpReachNlri(MpReach {
                af: AfiSafi::IPV6_UNICAST,
                next_hop: MpNextHop::V6 {
                    global: g,
                    link_local: Some(ll)
                },
                nlri: MpNlri::Prefixes(vec![]),
            })]
        );
        // Without the option the octets are read as the full form: AFI 0x2020, another
        // family, nothing of the IPv6 next hop.
        let d = decode_path_attributes(&b, &ctx, AttrListOptions::default());
        let [PathAttribute::MpReachNlri(r)] = &d.attributes[..] else {
            panic!("{d:?}")
        };
        assert_eq!(r.af.afi, Afi::Other(0x2020));
        // An IPv4 next hop for IPv4 multicast.
        let v4m = AfiSafi::new(Afi::Ipv4, Safi::Multicast);
        let b = Bytes::from_static(&[0x80, 14, 5, 4, 10, 0, 0, 1]);
        let d = decode_path_attributes(&b, &ctx, AttrListOptions::mrt_rib(v4m));
        let [PathAttribute::MpReachNlri(r)] = &d.attributes[..] else {
            panic!("{d:?}")
        };
        assert_eq!(
            (r.af, r.next_hop.clone()),
            (v4m, MpNextHop::V4(Ipv4Addr::new(10, 0, 0, 1)))
        );
        // A next hop length that does not fit the family: that family is disabled.
        let b = Bytes::from_static(&[0x80, 14, 4, 3, 10, 0, 0]);
        let d = decode_path_attributes(&b, &ctx, AttrListOptions::mrt_rib(AfiSafi::IPV4_UNICAST));
        assert!(d.attributes.is_empty());
        assert_eq!(
            d.verdict.action(),
            Some(&UpdateAction::AfiSafiDisable(AfiSafi::IPV4_UNICAST))
        );
        // Other families keep the next hop raw, sliced from the block.
        let evpn = AfiSafi::new(Afi::Other(25), Safi::Other(70));
        let b = Bytes::from_static(&[0x80, 14, 5, 4, 10, 0, 0, 9]);
        let d = decode_path_attributes(&b, &ctx, AttrListOptions::mrt_rib(evpn));
        let [PathAttribute::MpReachNlri(r)] = &d.attributes[..] else {
            panic!("{d:?}")
        };
        assert_eq!(
            r.next_hop,
            MpNextHop::Raw(Bytes::from_static(&[10, 0, 0, 9]))
        );
        assert_eq!(r.nlri, MpNlri::Raw(Bytes::new()));
    }

    #[test]
    fn full_form_mp_reach_still_decodes_with_the_option() {
        let ctx = SessionContext::modern();
        let attrs = vec![PathAttribute::MpReachNlri(MpReach {
            af: AfiSafi::IPV6_UNICAST,
            next_hop: MpNextHop::V6 {
                global: "2001:db8::1".parse().unwrap(),
                link_local: None,
            },
            nlri: MpNlri::Prefixes(vec![]),
        })];
        let b = block(&attrs, &ctx);
        let d = decode_path_attributes(&b, &ctx, AttrListOptions::mrt_rib(AfiSafi::IPV6_UNICAST));
        assert!(d.verdict.is_clean());
        assert_eq!(d.attributes, attrs);
    }

    #[test]
    fn flag_conflicts_can_be_ignored() {
        // BIRD 2.0 style: NEXT_HOP and LOCAL_PREF with flags 0; an unknown optional
        // attribute keeps its flags.
        let raw = Bytes::from_static(&[
            0x40, 1, 1, 0, 0, 3, 4, 10, 9, 0, 2, 0, 5, 4, 0, 0, 0, 100, 0xE0, 200, 1, 7,
        ]);
        let ctx = SessionContext::modern();
        let d = decode_path_attributes(&raw, &ctx, AttrListOptions::default());
        assert_eq!(d.verdict.action(), Some(&UpdateAction::TreatAsWithdraw));
        assert_eq!(d.attributes.len(), 2);
        let opts = AttrListOptions {
            ignore_flag_errors: true,
            ..Default::default()
        };
        let d = decode_path_attributes(&raw, &ctx, opts);
        assert!(d.verdict.is_clean(), "{:?}", d.verdict);
        assert_eq!(d.attributes.len(), 4);
        assert_eq!(
            d.attributes[1],
            PathAttribute::NextHop(Ipv4Addr::new(10, 9, 0, 2))
        );
        assert_eq!(d.attributes[2], PathAttribute::LocalPref(100));
        let PathAttribute::Unknown(u) = &d.attributes[3] else {
            panic!()
        };
        assert_eq!((u.flags, u.type_code), (0xE0, 200));
        // Value checks still apply.
        let bad = Bytes::from_static(&[0, 1, 1, 9]);
        let d = decode_path_attributes(&bad, &ctx, opts);
        assert!(d.attributes.is_empty());
        assert_eq!(
            d.verdict.problems[0].attr_type,
            Some(tc::ORIGIN),
            "{:?}",
            d.verdict
        );
    }

    #[test]
    fn as4_path_is_discarded_on_a_four_octet_context() {
        let ctx = SessionContext::modern();
        let u = Update {
            attributes: vec![PathAttribute::As4Path(AsPath::from_sequence([70000]))],
            ..Default::default()
        };
        let b = block(&u.attributes, &ctx);
        let d = decode_path_attributes(&b, &ctx, AttrListOptions::default());
        assert!(d.attributes.is_empty());
        assert_eq!(d.verdict.action(), Some(&UpdateAction::AttributeDiscard));
        let d = decode_path_attributes(&b, &SessionContext::default(), Default::default());
        assert_eq!(d.attributes, u.attributes);
    }
}
