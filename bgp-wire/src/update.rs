//! UPDATE decoding with RFC 7606 error handling.
//!
//! Structure errors that make the message unusable are `Err(MessageError)`:
//! - Withdrawn Routes Length or Total Path Attribute Length overrunning the message
//!   (RFC 4271 §6.3, RFC 7606 §3(b)): 3/1 Malformed Attribute List;
//! - a syntactically invalid prefix in the withdrawn routes or NLRI field
//!   (RFC 7606 §3(i), §5.3): 3/10 Invalid Network Field.
//!
//! Everything else comes back as the decoded [`Update`] plus an [`UpdateVerdict`]
//! listing each problem with its action; the strongest action wins (§3(h)). Problems
//! whose action is a session reset still carry the NOTIFICATION to send:
//! - MP_REACH_NLRI / MP_UNREACH_NLRI appearing twice (§3(g)): 3/1;
//! - an unrecognized well-known attribute (RFC 4271 §6.3): 3/2 with the attribute;
//! - an MP_REACH/MP_UNREACH too short to hold its AFI/SAFI, or overrunning the
//!   attribute list (§3(j)): 3/1.
//!
//! Attribute problems handled with treat-as-withdraw or attribute discard remove the
//! attribute from [`Update::attributes`]. A malformed MP_REACH/MP_UNREACH whose AFI/SAFI
//! is readable yields [`UpdateAction::AfiSafiDisable`] (RFC 4760 §7, RFC 7606 §7.11);
//! a session that prefers to reset instead sends 3/9 Optional Attribute Error.
//!
//! Not checked here, because they need session knowledge: LOCAL_PREF missing on iBGP or
//! present on eBGP, ORIGINATOR_ID / CLUSTER_LIST from eBGP, AS_CONFED segments from an
//! eBGP peer, the first AS of AS_PATH, and NEXT_HOP being the receiver's own address.
//!
//! Length: about 930 lines of code because every RFC 7606 rule for every attribute is decided
//! here, next to the field it checks, in one attribute loop shared by UPDATEs and bare
//! attribute blocks (MRT, BMP); the rest is tests.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;

use crate::afi::{Afi, AfiSafi, Safi};
use crate::attr::{
    Aggregator, AsPath, AsSegment, AsSegmentType, AsSegments, Asns, Community, ExtGlobalAdmin,
    ExtendedCommunity, FLAG_EXTENDED_LENGTH, FLAG_OPTIONAL, FLAG_TRANSITIVE, INLINE_ASNS,
    Ipv6ExtendedCommunity, LargeCommunity, MpNextHop, MpReach, MpUnreach, Origin, PathAttribute,
    RawAttribute, type_code as tc,
};
use crate::attr_list::AttrListOptions;
use crate::context::SessionContext;
use crate::error::merr;
use crate::error::{
    MessageError, MessageErrorKind, UpdateAction, UpdateProblem, UpdateVerdict, codes,
};
use crate::message::{Notification, Update};
use crate::nlri::{MpNlri, Nlri};
use crate::prefix::{PrefixFamily, parse_prefixes};

fn update_err(sub: u8, offset: usize, what: &'static str) -> MessageError {
    merr(
        MessageErrorKind::Update(what),
        offset,
        Notification::new(codes::UPDATE_MESSAGE_ERROR, sub),
    )
}

/// The O and T flag bits an attribute type must carry, for the types we know.
pub(crate) fn expected_flags(type_code: u8) -> Option<u8> {
    Some(match type_code {
        tc::ORIGIN | tc::AS_PATH | tc::NEXT_HOP | tc::LOCAL_PREF | tc::ATOMIC_AGGREGATE => {
            FLAG_TRANSITIVE
        }
        tc::MULTI_EXIT_DISC
        | tc::ORIGINATOR_ID
        | tc::CLUSTER_LIST
        | tc::MP_REACH_NLRI
        | tc::MP_UNREACH_NLRI => FLAG_OPTIONAL,
        tc::AGGREGATOR
        | tc::COMMUNITIES
        | tc::EXTENDED_COMMUNITIES
        | tc::AS4_PATH
        | tc::AS4_AGGREGATOR
        | tc::IPV6_EXTENDED_COMMUNITIES
        | tc::LARGE_COMMUNITIES
        | tc::OTC => FLAG_OPTIONAL | FLAG_TRANSITIVE,
        _ => return None,
    })
}

fn n3(sub: u8, data: Bytes) -> Notification {
    Notification::with_data(codes::UPDATE_MESSAGE_ERROR, sub, data)
}

/// An attribute-list problem: the MP attributes carry the routes, so losing one resets the
/// session with 3/1 (RFC 7606 §3(g), §3(j)); any other attribute gets `other`.
fn list_error(
    code: u8,
    other: UpdateAction,
    mp_reason: &'static str,
    other_reason: &'static str,
) -> (UpdateAction, &'static str) {
    if code == tc::MP_REACH_NLRI || code == tc::MP_UNREACH_NLRI {
        let n = Notification::new(codes::UPDATE_MESSAGE_ERROR, codes::MALFORMED_ATTRIBUTE_LIST);
        (UpdateAction::SessionReset(n), mp_reason)
    } else {
        (other, other_reason)
    }
}

/// The RFC 4271 §6.3 subcode for a malformed attribute value.
fn rfc4271_subcode(code: u8, reason: &str) -> u8 {
    match code {
        tc::MP_REACH_NLRI | tc::MP_UNREACH_NLRI => codes::OPTIONAL_ATTRIBUTE_ERROR,
        tc::AS_PATH => codes::MALFORMED_AS_PATH,
        _ if reason.contains("length") => codes::ATTRIBUTE_LENGTH_ERROR,
        tc::ORIGIN => codes::INVALID_ORIGIN_ATTRIBUTE,
        tc::NEXT_HOP => codes::INVALID_NEXT_HOP_ATTRIBUTE,
        _ => codes::OPTIONAL_ATTRIBUTE_ERROR,
    }
}

/// Why an attribute value could not be used.
struct Bad {
    action: Action,
    reason: &'static str,
}

enum Action {
    Discard,
    Withdraw,
    Disable(AfiSafi),
    Reset(u8),
}

fn bad(action: Action, reason: &'static str) -> Bad {
    Bad { action, reason }
}

struct Collector {
    verdict: UpdateVerdict,
}

impl Collector {
    fn push(
        &mut self,
        action: UpdateAction,
        attr_type: Option<u8>,
        offset: usize,
        reason: &'static str,
        notification: Notification,
    ) {
        self.verdict.problems.push(UpdateProblem {
            action,
            attr_type,
            offset,
            reason,
            notification,
        });
    }
}

/// Decode the UPDATE `msg` (whole message, header included, length already checked).
pub(crate) fn decode_update(
    msg: &Bytes,
    ctx: &SessionContext,
) -> Result<(Update, UpdateVerdict), MessageError> {
    let b = &msg[..];
    let len = b.len();
    if len < 23 {
        return Err(update_err(
            codes::MALFORMED_ATTRIBUTE_LIST,
            19,
            "UPDATE shorter than 23 octets",
        ));
    }
    let wlen = u16::from_be_bytes([b[19], b[20]]) as usize;
    let wstart = 21;
    let wend = wstart + wlen;
    if wend + 2 > len {
        return Err(update_err(
            codes::MALFORMED_ATTRIBUTE_LIST,
            19,
            "withdrawn routes length overruns the message",
        ));
    }
    let alen = u16::from_be_bytes([b[wend], b[wend + 1]]) as usize;
    let astart = wend + 2;
    let aend = astart + alen;
    if aend > len {
        return Err(update_err(
            codes::MALFORMED_ATTRIBUTE_LIST,
            wend,
            "total path attribute length overruns the message",
        ));
    }
    let v4_add_path = ctx.receives_path_id(AfiSafi::IPV4_UNICAST);
    let withdrawn =
        parse_prefixes(&b[wstart..wend], PrefixFamily::V4, v4_add_path).map_err(|o| {
            update_err(
                codes::INVALID_NETWORK_FIELD,
                wstart + o,
                "invalid withdrawn route",
            )
        })?;
    let nlri = parse_prefixes(&b[aend..], PrefixFamily::V4, v4_add_path)
        .map_err(|o| update_err(codes::INVALID_NETWORK_FIELD, aend + o, "invalid NLRI"))?;
    let (attributes, mut verdict, disabled) = decode_block(
        msg,
        astart,
        aend,
        ctx,
        AttrListOptions::default(),
        !nlri.is_empty(),
    );
    fill_treat_as_withdraw(&mut verdict, &attributes, &disabled, &nlri);
    Ok((
        Update {
            withdrawn,
            attributes,
            nlri,
        },
        verdict,
    ))
}

/// Decode the attribute block `msg[astart..aend]`: every per-attribute RFC 7606 check,
/// and the missing well-known attribute check when routes are announced (`classic_nlri`:
/// the UPDATE's own NLRI field is not empty). Returns the attributes kept, the problems
/// (offsets into `msg`; `treat_as_withdraw` still empty) and the disabled families.
pub(crate) fn decode_block(
    msg: &Bytes,
    astart: usize,
    aend: usize,
    ctx: &SessionContext,
    opts: AttrListOptions,
    classic_nlri: bool,
) -> (Vec<PathAttribute>, UpdateVerdict, Vec<AfiSafi>) {
    let b = &msg[..];
    let mut col = Collector {
        verdict: UpdateVerdict::default(),
    };
    let mut attributes = Vec::with_capacity(count_attributes(&b[astart..aend]));
    let mut seen = [0u64; 4];
    let mut disabled: Vec<AfiSafi> = Vec::new();
    let mut has_mp_reach = false;
    let mut pos = astart;
    while pos < aend {
        let start = pos;
        let rem = aend - pos;
        let flags = b[pos];
        let hdr = if flags & FLAG_EXTENDED_LENGTH != 0 {
            4
        } else {
            3
        };
        if rem < hdr {
            // RFC 7606 §4: not even an attribute header left.
            col.push(
                UpdateAction::TreatAsWithdraw,
                None,
                start,
                "attribute list ends inside an attribute header",
                n3(codes::MALFORMED_ATTRIBUTE_LIST, Bytes::new()),
            );
            break;
        }
        let code = b[pos + 1];
        let vlen = if hdr == 4 {
            u16::from_be_bytes([b[pos + 2], b[pos + 3]]) as usize
        } else {
            b[pos + 2] as usize
        };
        let vstart = pos + hdr;
        if aend - vstart < vlen {
            // RFC 7606 §4: the attribute overruns the attribute list; §3(j) when it is
            // the MP attribute we cannot find the routes, so reset.
            let (action, reason) = list_error(
                code,
                UpdateAction::TreatAsWithdraw,
                "MP_REACH/MP_UNREACH overruns the attribute list",
                "attribute overruns the attribute list",
            );
            col.push(
                action,
                Some(code),
                start,
                reason,
                n3(codes::MALFORMED_ATTRIBUTE_LIST, Bytes::new()),
            );
            break;
        }
        let vend = vstart + vlen;
        pos = vend;
        let word = (code >> 6) as usize;
        let bit = 1u64 << (code & 63);
        if seen[word] & bit != 0 {
            // RFC 7606 §3(g).
            let (action, reason) = list_error(
                code,
                UpdateAction::AttributeDiscard,
                "MP_REACH/MP_UNREACH appears more than once",
                "duplicate attribute discarded",
            );
            col.push(
                action,
                Some(code),
                start,
                reason,
                n3(codes::MALFORMED_ATTRIBUTE_LIST, Bytes::new()),
            );
            continue;
        }
        seen[word] |= bit;
        let Some(expected) = expected_flags(code) else {
            if flags & FLAG_OPTIONAL == 0 {
                col.push(
                    UpdateAction::SessionReset(Notification::with_data(
                        codes::UPDATE_MESSAGE_ERROR,
                        codes::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                        msg.slice(start..vend),
                    )),
                    Some(code),
                    start,
                    "unrecognized well-known attribute",
                    n3(
                        codes::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                        msg.slice(start..vend),
                    ),
                );
                continue;
            }
            if let Some(reason) = check_raw(code, &b[vstart..vend]) {
                col.push(
                    UpdateAction::TreatAsWithdraw,
                    Some(code),
                    start,
                    reason,
                    n3(codes::OPTIONAL_ATTRIBUTE_ERROR, msg.slice(start..vend)),
                );
                continue;
            }
            attributes.push(PathAttribute::Unknown(RawAttribute {
                flags: flags & !FLAG_EXTENDED_LENGTH,
                type_code: code,
                value: msg.slice(vstart..vend),
            }));
            continue;
        };
        let flags_ok =
            opts.ignore_flag_errors || flags & (FLAG_OPTIONAL | FLAG_TRANSITIVE) == expected;
        let is_mp = code == tc::MP_REACH_NLRI || code == tc::MP_UNREACH_NLRI;
        if !flags_ok && !is_mp {
            // RFC 7606 §3(c); RFC 6793 §6 makes AS4_* errors attribute discard.
            let action = if code == tc::AS4_PATH || code == tc::AS4_AGGREGATOR {
                UpdateAction::AttributeDiscard
            } else {
                UpdateAction::TreatAsWithdraw
            };
            col.push(
                action,
                Some(code),
                start,
                "attribute flags conflict with the type",
                n3(codes::ATTRIBUTE_FLAGS_ERROR, msg.slice(start..vend)),
            );
            continue;
        }
        match parse_attr(code, msg, vstart, vend, ctx, opts, &mut attributes) {
            Ok(()) => {
                if !flags_ok {
                    // MP attribute with wrong flags: its routes are still needed to withdraw.
                    col.push(
                        UpdateAction::TreatAsWithdraw,
                        Some(code),
                        start,
                        "attribute flags conflict with the type",
                        n3(codes::ATTRIBUTE_FLAGS_ERROR, msg.slice(start..vend)),
                    );
                }
                if (code == tc::AS4_PATH || code == tc::AS4_AGGREGATOR) && ctx.four_octet_as {
                    // RFC 6793 §3: a NEW speaker discards AS4_PATH/AS4_AGGREGATOR from a NEW speaker.
                    col.push(
                        UpdateAction::AttributeDiscard,
                        Some(code),
                        start,
                        "AS4 attribute received on a 4-octet AS session",
                        n3(codes::OPTIONAL_ATTRIBUTE_ERROR, msg.slice(start..vend)),
                    );
                    attributes.pop();
                    continue;
                }
                if code == tc::MP_REACH_NLRI
                    && let Some(PathAttribute::MpReachNlri(r)) = attributes.last()
                {
                    has_mp_reach = !r.nlri.is_empty();
                }
            }
            Err(e) => {
                let action = match e.action {
                    Action::Discard => UpdateAction::AttributeDiscard,
                    Action::Withdraw => UpdateAction::TreatAsWithdraw,
                    Action::Disable(af) => {
                        disabled.push(af);
                        UpdateAction::AfiSafiDisable(af)
                    }
                    Action::Reset(sub) => UpdateAction::SessionReset(Notification::with_data(
                        codes::UPDATE_MESSAGE_ERROR,
                        sub,
                        msg.slice(start..vend),
                    )),
                };
                let sub = rfc4271_subcode(code, e.reason);
                col.push(
                    action,
                    Some(code),
                    start,
                    e.reason,
                    n3(sub, msg.slice(start..vend)),
                );
            }
        }
    }

    // RFC 7606 §3(d): missing well-known mandatory attributes -> treat-as-withdraw.
    // (LOCAL_PREF on iBGP is the session's business.)
    if classic_nlri || has_mp_reach {
        // Only attributes never seen count as missing: a malformed one was reported already.
        // ORIGIN (1), AS_PATH (2), NEXT_HOP (3) are all in the first word of `seen`.
        let need = if classic_nlri { 0b1110 } else { 0b0110 };
        let absent = need & !seen[0];
        if absent != 0 {
            for (c, why) in [
                (tc::ORIGIN, "missing well-known attribute ORIGIN"),
                (tc::AS_PATH, "missing well-known attribute AS_PATH"),
                (tc::NEXT_HOP, "missing well-known attribute NEXT_HOP"),
            ] {
                if absent & (1u64 << c) != 0 {
                    col.push(
                        UpdateAction::TreatAsWithdraw,
                        Some(c),
                        astart,
                        why,
                        n3(
                            codes::MISSING_WELL_KNOWN_ATTRIBUTE,
                            Bytes::copy_from_slice(&[c]),
                        ),
                    );
                }
            }
        }
    }

    (attributes, col.verdict, disabled)
}

/// Fill `verdict.treat_as_withdraw` when the verdict is treat-as-withdraw: the IPv4 `nlri`
/// and the MP_REACH_NLRI routes, leaving out disabled families.
pub(crate) fn fill_treat_as_withdraw(
    verdict: &mut UpdateVerdict,
    attributes: &[PathAttribute],
    disabled: &[AfiSafi],
    nlri: &[Nlri],
) {
    if verdict.problems.is_empty() {
        return;
    }
    let has_taw = verdict
        .problems
        .iter()
        .any(|p| p.action == UpdateAction::TreatAsWithdraw);
    let reset = matches!(verdict.action(), Some(UpdateAction::SessionReset(_)));
    if has_taw && !reset {
        let mp = attributes.iter().find_map(|a| match a {
            PathAttribute::MpReachNlri(r) if !disabled.contains(&r.af) => Some(r),
            _ => None,
        });
        let mp_len = mp.map_or(0, |r| r.nlri.prefixes().len());
        let mut list = Vec::with_capacity(nlri.len() + mp_len);
        if !disabled.contains(&AfiSafi::IPV4_UNICAST) {
            list.extend(nlri.iter().map(|n| (AfiSafi::IPV4_UNICAST, *n)));
        }
        if let Some(r) = mp {
            list.extend(r.nlri.prefixes().iter().map(|n| (r.af, *n)));
        }
        verdict.treat_as_withdraw = list;
    }
}

/// Syntax checks for attributes kept raw that RFC 7606 §7 still covers:
/// Tunnel Encapsulation (23, §7.13 / RFC 9012: a sequence of TLVs with 2-octet type and
/// length) and Traffic Engineering (24, §7.12 / RFC 5543: at least the 36-octet fixed
/// part). Malformed -> treat-as-withdraw.
fn check_raw(code: u8, v: &[u8]) -> Option<&'static str> {
    match code {
        23 => {
            let mut d = v;
            while !d.is_empty() {
                let Some(h) = d.get(..4) else {
                    return Some("Tunnel Encapsulation TLV header truncated");
                };
                let len = u16::from_be_bytes([h[2], h[3]]) as usize;
                match d.get(4 + len..) {
                    Some(rest) => d = rest,
                    None => return Some("Tunnel Encapsulation TLV overruns the attribute"),
                }
            }
            None
        }
        24 if v.len() < 36 => Some("Traffic Engineering attribute shorter than 36 octets"),
        _ => None,
    }
}

/// How many attribute headers the list holds (for sizing; stops where framing breaks).
fn count_attributes(mut d: &[u8]) -> usize {
    let mut n = 0;
    while let (Some(&flags), Some(_)) = (d.first(), d.get(1)) {
        let (len, hdr) = if flags & FLAG_EXTENDED_LENGTH != 0 {
            match (d.get(2), d.get(3)) {
                (Some(&h), Some(&l)) => (u16::from_be_bytes([h, l]) as usize, 4),
                _ => break,
            }
        } else {
            match d.get(2) {
                Some(&l) => (l as usize, 3),
                None => break,
            }
        };
        n += 1;
        d = d.get(hdr + len..).unwrap_or_default();
    }
    n
}

fn u32_at(v: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([v[i], v[i + 1], v[i + 2], v[i + 3]])
}

fn ipv4_at(v: &[u8], i: usize) -> Ipv4Addr {
    Ipv4Addr::new(v[i], v[i + 1], v[i + 2], v[i + 3])
}

fn ipv6_at(v: &[u8], i: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&v[i..i + 16]);
    Ipv6Addr::from(a)
}

/// Parse an AS_PATH / AS4_PATH value with 2- or 4-octet AS numbers (RFC 7606 §7.2 rules).
pub(crate) fn parse_as_path(v: &[u8], four: bool) -> Result<AsPath, &'static str> {
    let w = if four { 4 } else { 2 };
    // One pass: validate each segment, then collect its AS numbers (allocation bounded
    // by the attribute length). Most paths have a single segment.
    let mut segments = AsSegments::new();
    let mut i = 0;
    while i < v.len() {
        let (Some(&t), Some(&cnt)) = (v.get(i), v.get(i + 1)) else {
            return Err("AS_PATH ends inside a segment header");
        };
        let cnt = cnt as usize;
        if cnt == 0 {
            return Err("AS_PATH segment of length zero");
        }
        let kind = match t {
            1 => AsSegmentType::Set,
            2 => AsSegmentType::Sequence,
            3 => AsSegmentType::ConfedSequence,
            4 => AsSegmentType::ConfedSet,
            _ => return Err("unknown AS_PATH segment type"),
        };
        i += 2;
        let Some(body) = v.get(i..i + cnt * w) else {
            return Err("AS_PATH segment overruns the attribute");
        };
        let asns = if four && cnt <= INLINE_ASNS {
            // The common case: filled in place, no per-element capacity check.
            let mut buf = [0u32; INLINE_ASNS];
            for (d, c) in buf.iter_mut().zip(body.chunks_exact(4)) {
                *d = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
            }
            Asns::from_buf_and_len(buf, cnt)
        } else if four {
            body.chunks_exact(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        } else {
            body.chunks_exact(2)
                .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
                .collect()
        };
        i += cnt * w;
        segments.push(AsSegment { kind, asns });
    }
    Ok(AsPath { segments })
}

fn parse_ext_community(c: &[u8]) -> ExtendedCommunity {
    let raw = [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]];
    let admin = |t: u8| -> Option<ExtGlobalAdmin> {
        Some(match t {
            0x00 => ExtGlobalAdmin::As2 {
                asn: u16::from_be_bytes([c[2], c[3]]),
                local: u32::from_be_bytes([c[4], c[5], c[6], c[7]]),
            },
            0x01 => ExtGlobalAdmin::Ipv4 {
                addr: Ipv4Addr::new(c[2], c[3], c[4], c[5]),
                local: u16::from_be_bytes([c[6], c[7]]),
            },
            0x02 => ExtGlobalAdmin::As4 {
                asn: u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
                local: u16::from_be_bytes([c[6], c[7]]),
            },
            _ => return None,
        })
    };
    match (c[0], c[1]) {
        (t @ (0x00..=0x02), 0x02) => admin(t).map_or(
            ExtendedCommunity::Other(raw),
            ExtendedCommunity::RouteTarget,
        ),
        (t @ (0x00..=0x02), 0x03) => admin(t).map_or(
            ExtendedCommunity::Other(raw),
            ExtendedCommunity::RouteOrigin,
        ),
        (t @ (0x00 | 0x40), 0x04) => ExtendedCommunity::LinkBandwidth {
            transitive: t == 0x00,
            asn: u16::from_be_bytes([c[2], c[3]]),
            bandwidth_bits: u32::from_be_bytes([c[4], c[5], c[6], c[7]]),
        },
        _ => ExtendedCommunity::Other(raw),
    }
}

fn typed_family(af: AfiSafi) -> Option<PrefixFamily> {
    match af.safi {
        Safi::Unicast | Safi::Multicast => PrefixFamily::from_afi(af.afi),
        Safi::Other(_) => None,
    }
}

/// MP NLRI at `msg[start..end]`: typed for IPv4/IPv6 unicast/multicast, else raw.
fn parse_mp_nlri(
    msg: &Bytes,
    start: usize,
    end: usize,
    af: AfiSafi,
    ctx: &SessionContext,
) -> Result<MpNlri, Bad> {
    let v = &msg[start..end];
    match typed_family(af) {
        Some(fam) => parse_prefixes(v, fam, ctx.receives_path_id(af))
            .map(MpNlri::Prefixes)
            .map_err(|_| bad(Action::Disable(af), "invalid NLRI in MP attribute")),
        None => Ok(MpNlri::Raw(msg.slice(start..end))),
    }
}

/// The MP_REACH_NLRI next hop at `msg[start..end]` for `af` (RFC 4760 §3; an IPv6 next hop
/// for IPv4 NLRI only with RFC 8950 negotiated for the family); raw for other families.
fn mp_next_hop(
    msg: &Bytes,
    start: usize,
    end: usize,
    af: AfiSafi,
    ctx: &SessionContext,
) -> Result<MpNextHop, Bad> {
    let nh = &msg[start..end];
    let nhl = nh.len();
    Ok(match (typed_family(af), nhl) {
        (Some(PrefixFamily::V4), 4) => MpNextHop::V4(ipv4_at(nh, 0)),
        (Some(PrefixFamily::V4), 16 | 32) if ctx.extended_next_hop.contains(&af) => MpNextHop::V6 {
            global: ipv6_at(nh, 0),
            link_local: (nhl == 32).then(|| ipv6_at(nh, 16)),
        },
        (Some(PrefixFamily::V6), 16 | 32) => MpNextHop::V6 {
            global: ipv6_at(nh, 0),
            link_local: (nhl == 32).then(|| ipv6_at(nh, 16)),
        },
        (Some(_), _) => {
            return Err(bad(
                Action::Disable(af),
                "MP_REACH_NLRI next hop length inconsistent with the AFI/SAFI",
            ));
        }
        (None, _) => MpNextHop::Raw(msg.slice(start..end)),
    })
}

/// The full-form MP_REACH_NLRI value at `msg[vstart..vend]` (RFC 4760 §3).
fn parse_mp_reach(
    msg: &Bytes,
    vstart: usize,
    vend: usize,
    ctx: &SessionContext,
) -> Result<PathAttribute, Bad> {
    let v = &msg[vstart..vend];
    let n = v.len();
    if n < 3 {
        return Err(bad(
            Action::Reset(codes::OPTIONAL_ATTRIBUTE_ERROR),
            "MP_REACH_NLRI too short for AFI/SAFI",
        ));
    }
    let af = AfiSafi::new(
        Afi::from_code(u16::from_be_bytes([v[0], v[1]])),
        Safi::from_code(v[2]),
    );
    let Some(&nhl) = v.get(3) else {
        return Err(bad(
            Action::Disable(af),
            "MP_REACH_NLRI has no next hop length",
        ));
    };
    let nhl = nhl as usize;
    // next hop, then the reserved octet.
    if n < 4 + nhl + 1 {
        return Err(bad(
            Action::Disable(af),
            "MP_REACH_NLRI next hop overruns the attribute",
        ));
    }
    let next_hop = mp_next_hop(msg, vstart + 4, vstart + 4 + nhl, af, ctx)?;
    let nlri = parse_mp_nlri(msg, vstart + 5 + nhl, vend, af, ctx)?;
    Ok(PathAttribute::MpReachNlri(MpReach { af, next_hop, nlri }))
}

/// Parse the attribute value `msg[vstart..vend]` and push it onto `out`. Only raw parts are sliced out of `msg`
/// (zero-copy); typed values are read from the borrowed octets.
fn parse_attr(
    code: u8,
    msg: &Bytes,
    vstart: usize,
    vend: usize,
    ctx: &SessionContext,
    opts: AttrListOptions,
    out: &mut Vec<PathAttribute>,
) -> Result<(), Bad> {
    let v = &msg[vstart..vend];
    use Action::*;
    let n = v.len();
    // Pushed where it is built: no move of the 80-octet value through a Result.
    out.push(match code {
        tc::ORIGIN => {
            if n != 1 {
                return Err(bad(Withdraw, "ORIGIN length is not 1"));
            }
            PathAttribute::Origin(match v[0] {
                0 => Origin::Igp,
                1 => Origin::Egp,
                2 => Origin::Incomplete,
                _ => return Err(bad(Withdraw, "undefined ORIGIN value")),
            })
        }
        tc::AS_PATH => PathAttribute::AsPath(
            parse_as_path(v, ctx.four_octet_as).map_err(|r| bad(Withdraw, r))?,
        ),
        tc::NEXT_HOP => {
            if n != 4 {
                return Err(bad(Withdraw, "NEXT_HOP length is not 4"));
            }
            let a = ipv4_at(v, 0);
            if a.is_unspecified() || a.is_broadcast() || a.is_multicast() {
                return Err(bad(Withdraw, "NEXT_HOP is not a valid host address"));
            }
            PathAttribute::NextHop(a)
        }
        tc::MULTI_EXIT_DISC => {
            if n != 4 {
                return Err(bad(Withdraw, "MULTI_EXIT_DISC length is not 4"));
            }
            PathAttribute::MultiExitDisc(u32_at(v, 0))
        }
        tc::LOCAL_PREF => {
            if n != 4 {
                return Err(bad(Withdraw, "LOCAL_PREF length is not 4"));
            }
            PathAttribute::LocalPref(u32_at(v, 0))
        }
        tc::ATOMIC_AGGREGATE => {
            if n != 0 {
                return Err(bad(Discard, "ATOMIC_AGGREGATE length is not 0"));
            }
            PathAttribute::AtomicAggregate
        }
        tc::AGGREGATOR => {
            if ctx.four_octet_as {
                if n != 8 {
                    return Err(bad(Discard, "AGGREGATOR length is not 8"));
                }
                PathAttribute::Aggregator(Aggregator {
                    asn: u32_at(v, 0),
                    addr: ipv4_at(v, 4),
                })
            } else {
                if n != 6 {
                    return Err(bad(Discard, "AGGREGATOR length is not 6"));
                }
                PathAttribute::Aggregator(Aggregator {
                    asn: u32::from(u16::from_be_bytes([v[0], v[1]])),
                    addr: ipv4_at(v, 2),
                })
            }
        }
        tc::COMMUNITIES => {
            if n == 0 || !n.is_multiple_of(4) {
                return Err(bad(
                    Withdraw,
                    "COMMUNITIES length is not a non-zero multiple of 4",
                ));
            }
            PathAttribute::Communities(
                v.chunks_exact(4)
                    .map(|c| Community(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                    .collect(),
            )
        }
        tc::ORIGINATOR_ID => {
            if n != 4 {
                return Err(bad(Withdraw, "ORIGINATOR_ID length is not 4"));
            }
            PathAttribute::OriginatorId(ipv4_at(v, 0))
        }
        tc::CLUSTER_LIST => {
            if n == 0 || !n.is_multiple_of(4) {
                return Err(bad(
                    Withdraw,
                    "CLUSTER_LIST length is not a non-zero multiple of 4",
                ));
            }
            PathAttribute::ClusterList(
                v.chunks_exact(4)
                    .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                    .collect(),
            )
        }
        tc::MP_REACH_NLRI => {
            if let Some(af) = opts.abbreviated_mp_reach
                && n > 1
                && v[0] as usize + 1 == n
            {
                // RFC 6396 §4.3.4: next hop length and next hop only, family from the record.
                // (The full form starts with an AFI high octet of 0 and is longer than 1.)
                let next_hop = mp_next_hop(msg, vstart + 1, vend, af, ctx)?;
                let nlri = parse_mp_nlri(msg, vend, vend, af, ctx)?;
                PathAttribute::MpReachNlri(MpReach { af, next_hop, nlri })
            } else {
                parse_mp_reach(msg, vstart, vend, ctx)?
            }
        }
        tc::MP_UNREACH_NLRI => {
            if n < 3 {
                return Err(bad(
                    Reset(codes::OPTIONAL_ATTRIBUTE_ERROR),
                    "MP_UNREACH_NLRI too short for AFI/SAFI",
                ));
            }
            let af = AfiSafi::new(
                Afi::from_code(u16::from_be_bytes([v[0], v[1]])),
                Safi::from_code(v[2]),
            );
            let withdrawn = parse_mp_nlri(msg, vstart + 3, vend, af, ctx)?;
            PathAttribute::MpUnreachNlri(MpUnreach { af, withdrawn })
        }
        tc::EXTENDED_COMMUNITIES => {
            if n == 0 || !n.is_multiple_of(8) {
                return Err(bad(
                    Withdraw,
                    "EXTENDED_COMMUNITIES length is not a non-zero multiple of 8",
                ));
            }
            PathAttribute::ExtendedCommunities(v.chunks_exact(8).map(parse_ext_community).collect())
        }
        tc::AS4_PATH => {
            let p = parse_as_path(v, true).map_err(|r| bad(Discard, r))?;
            if p.segments.iter().any(|s| {
                matches!(
                    s.kind,
                    AsSegmentType::ConfedSequence | AsSegmentType::ConfedSet
                )
            }) {
                return Err(bad(Discard, "AS4_PATH carries confederation segments"));
            }
            PathAttribute::As4Path(p)
        }
        tc::AS4_AGGREGATOR => {
            if n != 8 {
                return Err(bad(Discard, "AS4_AGGREGATOR length is not 8"));
            }
            PathAttribute::As4Aggregator(Aggregator {
                asn: u32_at(v, 0),
                addr: ipv4_at(v, 4),
            })
        }
        tc::IPV6_EXTENDED_COMMUNITIES => {
            if n == 0 || !n.is_multiple_of(20) {
                return Err(bad(
                    Withdraw,
                    "IPv6 extended communities length is not a non-zero multiple of 20",
                ));
            }
            PathAttribute::Ipv6ExtendedCommunities(
                v.chunks_exact(20)
                    .map(|c| Ipv6ExtendedCommunity {
                        kind: c[0],
                        subtype: c[1],
                        addr: ipv6_at(c, 2),
                        local: u16::from_be_bytes([c[18], c[19]]),
                    })
                    .collect(),
            )
        }
        tc::LARGE_COMMUNITIES => {
            if n == 0 || !n.is_multiple_of(12) {
                // RFC 8092 §6: malformed -> treat-as-withdraw.
                return Err(bad(
                    Withdraw,
                    "LARGE_COMMUNITY length is not a non-zero multiple of 12",
                ));
            }
            PathAttribute::LargeCommunities(
                v.chunks_exact(12)
                    .map(|c| LargeCommunity {
                        global: u32_at(c, 0),
                        local1: u32_at(c, 4),
                        local2: u32_at(c, 8),
                    })
                    .collect(),
            )
        }
        tc::OTC => {
            if n != 4 {
                return Err(bad(Withdraw, "OTC length is not 4"));
            }
            PathAttribute::Otc(u32_at(v, 0))
        }
        _ => return Err(bad(Discard, "unknown attribute type")),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::FLAG_PARTIAL;
    use crate::decode::decode_message;
    use crate::encode::encode_message;
    use crate::message::Message;
    use crate::nlri::Nlri;
    use bytes::BytesMut;
    use smallvec::smallvec;

    pub(crate) fn update_msg(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Bytes {
        let mut v = vec![0xFF; 16];
        let len = 19 + 4 + withdrawn.len() + attrs.len() + nlri.len();
        v.extend_from_slice(&(len as u16).to_be_bytes());
        v.push(2);
        v.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
        v.extend_from_slice(withdrawn);
        v.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        v.extend_from_slice(attrs);
        v.extend_from_slice(nlri);
        Bytes::from(v)
    }

    const BASE_2: &[u8] = &[
        0x40, 1, 1, 0, // ORIGIN IGP
        0x40, 2, 6, 2, 2, 0xFD, 0xE8, 0x5B, 0xA0, // AS_PATH SEQ 65000 23456 (2-octet)
        0x40, 3, 4, 192, 168, 1, 10, // NEXT_HOP
    ];

    fn dec(b: Bytes, ctx: &SessionContext) -> (Update, UpdateVerdict) {
        let d = decode_message(b, ctx).unwrap();
        match d.message {
            Message::Update(u) => (u, d.verdict),
            _ => panic!("not an update"),
        }
    }

    fn enc(u: &Update, ctx: &SessionContext) -> Bytes {
        let mut b = BytesMut::new();
        encode_message(&Message::Update(u.clone()), ctx, &mut b).unwrap();
        b.freeze()
    }

    #[test]
    fn as_paths_up_to_ten_asns_stay_inline_longer_ones_spill() {
        let ctx = SessionContext::modern();
        for n in [1u8, 10, 11, 255] {
            let mut attrs = vec![0x40, 1, 1, 0];
            let seg_len = 2 + 4 * usize::from(n);
            // Canonical form: the extended-length flag only when the value needs it.
            if seg_len > 255 {
                attrs.extend_from_slice(&[0x50, 2]);
                attrs.extend_from_slice(&(seg_len as u16).to_be_bytes());
            } else {
                attrs.extend_from_slice(&[0x40, 2, seg_len as u8]);
            }
            attrs.extend_from_slice(&[2, n]);
            for a in 0..u32::from(n) {
                attrs.extend_from_slice(&(65_000 + a).to_be_bytes());
            }
            attrs.extend_from_slice(&[0x40, 3, 4, 192, 168, 1, 10]);
            let m = update_msg(&[], &attrs, &[24, 10, 0, 0]);
            let (u, v) = dec(m.clone(), &ctx);
            assert!(v.is_clean(), "{v:?}");
            let Some(PathAttribute::AsPath(p)) = u.attribute(tc::AS_PATH) else {
                panic!("no AS_PATH")
            };
            assert!(!p.segments.spilled());
            assert_eq!(p.path_len(), usize::from(n));
            assert_eq!(p.segments[0].asns.spilled(), n > 10, "{n} ASNs");
            assert_eq!(enc(&u, &ctx), m, "{n} ASNs re-encode");
        }
    }

    #[test]
    fn classic_ipv4_update() {
        let ctx = SessionContext::default();
        let m = update_msg(&[24, 10, 0, 0], BASE_2, &[32, 172, 16, 10, 0]);
        let (u, v) = dec(m.clone(), &ctx);
        assert!(v.is_clean(), "{v:?}");
        assert_eq!(u.withdrawn, vec![Nlri::new("10.0.0.0/24".parse().unwrap())]);
        assert_eq!(u.nlri, vec![Nlri::new("172.16.10.0/32".parse().unwrap())]);
        assert_eq!(
            u.attribute(tc::AS_PATH),
            Some(&PathAttribute::AsPath(AsPath::from_sequence([
                65000, 23456
            ])))
        );
        assert_eq!(enc(&u, &ctx), m);
    }

    #[test]
    fn same_bytes_differ_by_four_octet_context() {
        // AS_PATH value 02 01 00 00 FD E8: one 4-octet AS (65000), or with 2-octet ASNs
        // a segment claiming 1 AS followed by garbage (malformed -> treat-as-withdraw).
        let attrs = [
            0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xFD, 0xE8, 0x40, 3, 4, 1, 1, 1, 1,
        ];
        let m = update_msg(&[], &attrs, &[8, 10]);
        let (u4, v4) = dec(m.clone(), &SessionContext::modern());
        assert!(v4.is_clean());
        assert_eq!(
            u4.attribute(tc::AS_PATH),
            Some(&PathAttribute::AsPath(AsPath::from_sequence([65000])))
        );
        let (u2, v2) = dec(m, &SessionContext::default());
        assert_eq!(v2.action(), Some(&UpdateAction::TreatAsWithdraw));
        assert!(u2.attribute(tc::AS_PATH).is_none());
        assert_eq!(
            v2.treat_as_withdraw,
            vec![(
                AfiSafi::IPV4_UNICAST,
                Nlri::new("10.0.0.0/8".parse().unwrap())
            )]
        );
    }

    #[test]
    fn same_bytes_differ_by_add_path_context() {
        let nlri = [0, 0, 0, 1, 32, 172, 16, 10, 0];
        let m = update_msg(&[], BASE_2, &nlri);
        let ctx = SessionContext {
            add_path_receive: vec![AfiSafi::IPV4_UNICAST],
            ..Default::default()
        };
        let (u, v) = dec(m.clone(), &ctx);
        assert!(v.is_clean());
        assert_eq!(
            u.nlri,
            vec![Nlri::with_path_id("172.16.10.0/32".parse().unwrap(), 1)]
        );
        // Without ADD-PATH: 0.0.0.0/0 three times then /0, then 32 needs 4 octets -> error 3/10.
        let e = decode_message(m, &SessionContext::default()).unwrap_err();
        assert_eq!((e.notification.code, e.notification.subcode), (3, 10));
        // Encoding uses the send direction.
        let send = SessionContext {
            add_path_send: vec![AfiSafi::IPV4_UNICAST],
            ..Default::default()
        };
        let b = enc(&u, &send);
        assert_eq!(&b[b.len() - 9..], &nlri);
        let b = enc(&u, &SessionContext::default());
        assert_eq!(&b[b.len() - 5..], &nlri[4..]);
    }

    #[test]
    fn ipv6_mp_reach_with_link_local() {
        let ctx = SessionContext::modern();
        let mut attrs = vec![0x40, 1, 1, 2, 0x40, 2, 0];
        let mut mp = vec![0, 2, 1, 32];
        mp.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        mp.extend_from_slice(&"fe80::1".parse::<Ipv6Addr>().unwrap().octets());
        mp.push(0);
        mp.extend_from_slice(&[64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0]);
        attrs.extend_from_slice(&[0x80, 14, mp.len() as u8]);
        attrs.extend_from_slice(&mp);
        let m = update_msg(&[], &attrs, &[]);
        let (u, v) = dec(m.clone(), &ctx);
        assert!(v.is_clean(), "{v:?}");
        let r = u.mp_reach().unwrap();
        assert_eq!(
            r.next_hop,
            MpNextHop::V6 {
                global: "2001:db8::1".parse().unwrap(),
                link_local: Some("fe80::1".parse().unwrap())
            }
        );
        let ann: Vec<_> = u.announced().collect();
        assert_eq!(ann.len(), 1);
        assert_eq!(ann[0].0, AfiSafi::IPV6_UNICAST);
        assert_eq!(ann[0].1.prefix.to_string(), "2001:db8:1::/64");
        assert_eq!(enc(&u, &ctx), m);
    }

    #[test]
    fn ipv4_nlri_with_ipv6_next_hop_rfc8950() {
        let mut mp = vec![0, 1, 1, 16];
        mp.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        mp.push(0);
        mp.extend_from_slice(&[32, 172, 16, 10, 0]);
        let mut attrs = vec![0x80, 14, mp.len() as u8];
        attrs.extend_from_slice(&mp);
        attrs.extend_from_slice(&[0x40, 1, 1, 0, 0x40, 2, 0]);
        let m = update_msg(&[], &attrs, &[]);
        let ctx = SessionContext {
            four_octet_as: true,
            extended_next_hop: vec![AfiSafi::IPV4_UNICAST],
            ..Default::default()
        };
        let (u, v) = dec(m.clone(), &ctx);
        assert!(v.is_clean(), "{v:?}");
        assert_eq!(
            u.mp_reach().unwrap().next_hop.addr(),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(enc(&u, &ctx), m);
        // Without the capability the next hop length is inconsistent: AFI/SAFI disable.
        let (u, v) = dec(m, &SessionContext::modern());
        assert_eq!(
            v.action(),
            Some(&UpdateAction::AfiSafiDisable(AfiSafi::IPV4_UNICAST))
        );
        assert!(u.mp_reach().is_none());
    }

    #[test]
    fn other_families_stay_raw() {
        // L2VPN EVPN (25/70): next hop and NLRI kept raw, re-encoded unchanged.
        let mp = [0, 25, 70, 4, 10, 0, 0, 1, 0, 2, 5, 1, 2, 3, 4, 5];
        let mut attrs = vec![0x40, 1, 1, 0, 0x40, 2, 0, 0x80, 14, mp.len() as u8];
        attrs.extend_from_slice(&mp);
        let m = update_msg(&[], &attrs, &[]);
        let (u, v) = dec(m.clone(), &SessionContext::modern());
        assert!(v.is_clean());
        let r = u.mp_reach().unwrap();
        assert_eq!(
            r.next_hop,
            MpNextHop::Raw(Bytes::from_static(&[10, 0, 0, 1]))
        );
        assert_eq!(
            r.nlri,
            MpNlri::Raw(Bytes::from_static(&[2, 5, 1, 2, 3, 4, 5]))
        );
        assert_eq!(enc(&u, &SessionContext::modern()), m);
    }

    #[test]
    fn unknown_attributes_kept_with_flags_and_extended_length() {
        // Unknown optional transitive with Partial, value of 300 octets, extended length.
        let mut attrs = BASE_2.to_vec();
        attrs.extend_from_slice(&[0xF0, 99, 0x01, 0x2C]);
        attrs.extend_from_slice(&[7u8; 300]);
        let m = update_msg(&[], &attrs, &[8, 10]);
        let (u, v) = dec(m.clone(), &SessionContext::default());
        assert!(v.is_clean());
        let Some(PathAttribute::Unknown(r)) = u.attribute(99) else {
            panic!()
        };
        assert_eq!(r.flags, FLAG_OPTIONAL | FLAG_TRANSITIVE | FLAG_PARTIAL);
        assert_eq!(r.value.len(), 300);
        assert_eq!(enc(&u, &SessionContext::default()), m);
        // Extended length on a short value decodes; re-encoding picks the short form.
        let mut attrs = BASE_2.to_vec();
        attrs.extend_from_slice(&[0x90, 4, 0, 4, 0, 0, 0, 5]);
        let (u, v) = dec(
            update_msg(&[], &attrs, &[8, 10]),
            &SessionContext::default(),
        );
        assert!(v.is_clean());
        assert_eq!(
            u.attribute(tc::MULTI_EXIT_DISC),
            Some(&PathAttribute::MultiExitDisc(5))
        );
        let b = enc(&u, &SessionContext::default());
        assert_eq!(&b[b.len() - 9..b.len() - 2], &[0x80, 4, 4, 0, 0, 0, 5]);
    }

    #[test]
    fn all_attributes_roundtrip() {
        use crate::attr::*;
        for ctx in [SessionContext::default(), SessionContext::modern()] {
            let u = Update {
                withdrawn: vec![Nlri::new("10.1.0.0/16".parse().unwrap())],
                attributes: vec![
                    PathAttribute::Origin(Origin::Egp),
                    PathAttribute::AsPath(AsPath {
                        segments: smallvec![
                            AsSegment {
                                kind: AsSegmentType::ConfedSequence,
                                asns: smallvec![1],
                            },
                            AsSegment {
                                kind: AsSegmentType::Sequence,
                                asns: smallvec![2, 3],
                            },
                            AsSegment {
                                kind: AsSegmentType::Set,
                                asns: smallvec![4, 5],
                            },
                        ],
                    }),
                    PathAttribute::NextHop(Ipv4Addr::new(192, 0, 2, 1)),
                    PathAttribute::MultiExitDisc(7),
                    PathAttribute::LocalPref(100),
                    PathAttribute::AtomicAggregate,
                    PathAttribute::Aggregator(Aggregator {
                        asn: 65001,
                        addr: Ipv4Addr::new(1, 1, 1, 1),
                    }),
                    PathAttribute::Communities(vec![
                        Community::NO_EXPORT,
                        Community::new(65000, 1),
                    ]),
                    PathAttribute::OriginatorId(Ipv4Addr::new(2, 2, 2, 2)),
                    PathAttribute::ClusterList(vec![Ipv4Addr::new(3, 3, 3, 3)]),
                    PathAttribute::MpUnreachNlri(MpUnreach {
                        af: AfiSafi::IPV6_UNICAST,
                        withdrawn: MpNlri::Prefixes(vec![Nlri::new(
                            "2001:db8::/32".parse().unwrap(),
                        )]),
                    }),
                    PathAttribute::ExtendedCommunities(vec![
                        ExtendedCommunity::RouteTarget(ExtGlobalAdmin::As2 { asn: 1, local: 2 }),
                        ExtendedCommunity::RouteOrigin(ExtGlobalAdmin::Ipv4 {
                            addr: Ipv4Addr::new(1, 2, 3, 4),
                            local: 5,
                        }),
                        ExtendedCommunity::RouteTarget(ExtGlobalAdmin::As4 {
                            asn: 70000,
                            local: 5,
                        }),
                        ExtendedCommunity::LinkBandwidth {
                            transitive: false,
                            asn: 64512,
                            bandwidth_bits: 1.25e9f32.to_bits(),
                        },
                        ExtendedCommunity::Other([0x43, 0, 0, 0, 0, 0, 0, 1]),
                    ]),
                    PathAttribute::Ipv6ExtendedCommunities(vec![Ipv6ExtendedCommunity {
                        kind: 0,
                        subtype: 2,
                        addr: "2001:db8::1".parse().unwrap(),
                        local: 9,
                    }]),
                    PathAttribute::LargeCommunities(vec![LargeCommunity {
                        global: 64512,
                        local1: 1,
                        local2: 2,
                    }]),
                    PathAttribute::Otc(65000),
                ],
                nlri: vec![Nlri::new("172.16.10.0/32".parse().unwrap())],
            };
            let b = enc(&u, &ctx);
            let (d, v) = dec(b.clone(), &ctx);
            assert!(v.is_clean(), "{v:?}");
            assert_eq!(d, u);
            assert_eq!(enc(&d, &ctx), b);
        }
    }

    #[test]
    fn as4_attributes_on_two_octet_session() {
        use crate::attr::Aggregator;
        let ctx = SessionContext::default();
        let u = Update {
            withdrawn: vec![],
            attributes: vec![
                PathAttribute::Origin(Origin::Igp),
                PathAttribute::AsPath(AsPath::from_sequence([23456, 65001])),
                PathAttribute::NextHop(Ipv4Addr::new(192, 0, 2, 1)),
                PathAttribute::Aggregator(Aggregator {
                    asn: 23456,
                    addr: Ipv4Addr::new(1, 1, 1, 1),
                }),
                PathAttribute::As4Path(AsPath::from_sequence([4_200_000_000, 65001])),
                PathAttribute::As4Aggregator(Aggregator {
                    asn: 4_200_000_000,
                    addr: Ipv4Addr::new(1, 1, 1, 1),
                }),
            ],
            nlri: vec![Nlri::new("10.0.0.0/8".parse().unwrap())],
        };
        let (d, v) = dec(enc(&u, &ctx), &ctx);
        assert!(v.is_clean());
        assert_eq!(d, u);
        // On a 4-octet session AS4_* are discarded (RFC 6793).
        let ctx4 = SessionContext::modern();
        let (d, v) = dec(enc(&u, &ctx4), &ctx4);
        assert_eq!(v.action(), Some(&UpdateAction::AttributeDiscard));
        assert!(d.attribute(tc::AS4_PATH).is_none());
        assert!(d.attribute(tc::AS4_AGGREGATOR).is_none());
    }
}
