//! Decoding whole messages: header framing, OPEN (with capabilities), NOTIFICATION,
//! KEEPALIVE, ROUTE-REFRESH; UPDATE is in [`crate::update`].

use std::net::Ipv4Addr;

use bytes::Bytes;

use crate::afi::{Afi, AfiSafi, Safi};
use crate::context::SessionContext;
use crate::error::{MessageError, MessageErrorKind, UpdateVerdict, codes, merr};
use crate::message::{
    AddPathMode, BgpRole, Capability, GracefulRestartFamily, LlgrFamily, Message, Notification,
    Open, RouteRefresh, RouteRefreshSubtype,
};
use crate::{HEADER_LEN, MAX_MESSAGE_LEN};

/// A decoded message with its RFC 7606 verdict (empty unless the message is an UPDATE).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Decoded {
    /// The message. For an UPDATE with problems, attributes that were discarded or
    /// malformed are already removed.
    pub message: Message,
    /// What RFC 7606 says to do with the UPDATE; empty for other messages.
    pub verdict: UpdateVerdict,
}

fn bad_length(len: u16, offset: usize) -> MessageError {
    merr(
        MessageErrorKind::BadLength(len),
        offset,
        Notification::with_data(
            codes::MESSAGE_HEADER_ERROR,
            codes::BAD_MESSAGE_LENGTH,
            Bytes::copy_from_slice(&len.to_be_bytes()),
        ),
    )
}

/// Check a 19-octet header: marker, length (against the type and the session), type.
/// Returns the message length and type.
fn check_header(h: &[u8], ctx: &SessionContext) -> Result<(usize, u8), MessageError> {
    let (Some(marker), Some(&l0), Some(&l1), Some(&ty)) =
        (h.get(..16), h.get(16), h.get(17), h.get(18))
    else {
        return Err(bad_length(h.len().min(u16::MAX as usize) as u16, 0));
    };
    if marker.iter().any(|&b| b != 0xFF) {
        return Err(merr(
            MessageErrorKind::BadMarker,
            0,
            Notification::new(
                codes::MESSAGE_HEADER_ERROR,
                codes::CONNECTION_NOT_SYNCHRONIZED,
            ),
        ));
    }
    let len16 = u16::from_be_bytes([l0, l1]);
    let len = len16 as usize;
    if len < HEADER_LEN || len > ctx.max_message_len() {
        return Err(bad_length(len16, 16));
    }
    // Per-type bounds (RFC 4271 §4, RFC 8654 §4: OPEN and KEEPALIVE never exceed 4096).
    // ROUTE-REFRESH length is checked in `decode_message`, since its error is 7/1 with
    // the whole message as data (RFC 7313 §5).
    let ok = match ty {
        1 => (29..=MAX_MESSAGE_LEN).contains(&len),
        2 => len >= 23,
        3 => len >= 21,
        4 => len == HEADER_LEN,
        5 => true,
        _ => {
            return Err(merr(
                MessageErrorKind::BadType(ty),
                18,
                Notification::with_data(
                    codes::MESSAGE_HEADER_ERROR,
                    codes::BAD_MESSAGE_TYPE,
                    Bytes::copy_from_slice(&[ty]),
                ),
            ));
        }
    };
    if !ok {
        return Err(bad_length(len16, 16));
    }
    Ok((len, ty))
}

/// Check the header at the start of `buf` and return the whole message's length.
///
/// `Ok(None)` when fewer than 19 octets are available; `Ok(Some(len))` as soon as a
/// valid header is present (the body may not have arrived yet). Errors are the header
/// errors of RFC 4271 §6.1 (1/1, 1/2 with the length, 1/3 with the type).
pub fn frame_len(buf: &[u8], ctx: &SessionContext) -> Result<Option<usize>, MessageError> {
    match buf.get(..HEADER_LEN) {
        None => Ok(None),
        Some(h) => check_header(h, ctx).map(|(len, _)| Some(len)),
    }
}

/// Decode one whole message (header included).
///
/// `msg` must be exactly one message: its length must equal the header's length field.
/// UPDATE problems covered by RFC 7606 come back in [`Decoded::verdict`]; only errors
/// that make the message unusable are `Err` (send [`MessageError::notification`]).
pub fn decode_message(msg: Bytes, ctx: &SessionContext) -> Result<Decoded, MessageError> {
    let head = msg
        .get(..HEADER_LEN)
        .ok_or_else(|| bad_length(msg.len() as u16, 0))?;
    let (len, ty) = check_header(head, ctx)?;
    if len != msg.len() {
        return Err(bad_length(len as u16, 16));
    }
    let message = match ty {
        1 => Message::Open(decode_open(&msg)?),
        2 => {
            let (update, verdict) = crate::update::decode_update(&msg, ctx)?;
            return Ok(Decoded {
                message: Message::Update(update),
                verdict,
            });
        }
        3 => Message::Notification(decode_notification(&msg)),
        4 => Message::Keepalive,
        _ => Message::RouteRefresh(decode_route_refresh(&msg)?),
    };
    Ok(Decoded {
        message,
        verdict: UpdateVerdict::default(),
    })
}

fn decode_notification(msg: &Bytes) -> Notification {
    // Header check guarantees at least 21 octets.
    let code = msg.get(19).copied().unwrap_or(0);
    let subcode = msg.get(20).copied().unwrap_or(0);
    Notification {
        code,
        subcode,
        data: msg.slice(21.min(msg.len())..),
    }
}

fn decode_route_refresh(msg: &Bytes) -> Result<RouteRefresh, MessageError> {
    if msg.len() != 23 {
        return Err(merr(
            MessageErrorKind::RouteRefresh("length is not 23"),
            16,
            Notification::with_data(
                codes::ROUTE_REFRESH_MESSAGE_ERROR,
                codes::INVALID_MESSAGE_LENGTH,
                msg.clone(),
            ),
        ));
    }
    let b = &msg[19..23];
    let afi = Afi::from_code(u16::from_be_bytes([b[0], b[1]]));
    let subtype = match b[2] {
        0 => RouteRefreshSubtype::Request,
        1 => RouteRefreshSubtype::BoRR,
        2 => RouteRefreshSubtype::EoRR,
        v => RouteRefreshSubtype::Other(v),
    };
    Ok(RouteRefresh {
        af: AfiSafi::new(afi, Safi::from_code(b[3])),
        subtype,
    })
}

fn open_err(subcode: u8, offset: usize, what: &'static str, data: Bytes) -> MessageError {
    merr(
        MessageErrorKind::Open(what),
        offset,
        Notification::with_data(codes::OPEN_MESSAGE_ERROR, subcode, data),
    )
}

/// Decode an OPEN (RFC 4271 §4.2, RFC 5492, RFC 9072).
///
/// Errors: 2/1 (with the supported version, 4, as data), 2/6 for a hold time of 1 or 2,
/// 2/3 for a BGP Identifier of 0, and 2/0 (unspecific) for optional parameters or
/// capabilities whose lengths do not add up or whose values are malformed (RFC 5492 names
/// no subcode for that). Bad peer AS (2/2), unsupported optional parameters (2/4, they
/// are kept in [`Open::other_params`]) and required-but-missing capabilities (2/7) are
/// the session's checks.
fn decode_open(msg: &Bytes) -> Result<Open, MessageError> {
    let b = &msg[..];
    // Header check guarantees 29 octets.
    let version = b[19];
    if version != 4 {
        return Err(open_err(
            codes::UNSUPPORTED_VERSION_NUMBER,
            19,
            "unsupported version",
            Bytes::from_static(&[0, 4]),
        ));
    }
    let my_as = u16::from_be_bytes([b[20], b[21]]);
    let hold_time = u16::from_be_bytes([b[22], b[23]]);
    if hold_time == 1 || hold_time == 2 {
        return Err(open_err(
            codes::UNACCEPTABLE_HOLD_TIME,
            22,
            "hold time 1 or 2",
            Bytes::new(),
        ));
    }
    let bgp_id = Ipv4Addr::new(b[24], b[25], b[26], b[27]);
    if bgp_id.is_unspecified() {
        return Err(open_err(
            codes::BAD_BGP_IDENTIFIER,
            24,
            "BGP identifier 0",
            Bytes::new(),
        ));
    }
    let mut pos = 28;
    let mut opt_len = b[28] as usize;
    pos += 1;
    // RFC 9072: Non-Ext OP Len 255 and Non-Ext OP Type 255 announce the extended form.
    let extended = opt_len == 255 && b.get(29) == Some(&255);
    if extended {
        let (Some(&h), Some(&l)) = (b.get(30), b.get(31)) else {
            return Err(open_err(
                0,
                29,
                "truncated extended optional parameters length",
                Bytes::new(),
            ));
        };
        opt_len = u16::from_be_bytes([h, l]) as usize;
        pos = 32;
    }
    if b.len() - pos.min(b.len()) != opt_len || pos > b.len() {
        return Err(open_err(
            0,
            28,
            "optional parameters length does not match the message length",
            Bytes::new(),
        ));
    }
    let mut capabilities = Vec::new();
    let mut other_params = Vec::new();
    let end = b.len();
    while pos < end {
        let hdr = if extended { 3 } else { 2 };
        if end - pos < hdr {
            return Err(open_err(
                0,
                pos,
                "truncated optional parameter",
                Bytes::new(),
            ));
        }
        let ptype = b[pos];
        let plen = if extended {
            u16::from_be_bytes([b[pos + 1], b[pos + 2]]) as usize
        } else {
            b[pos + 1] as usize
        };
        let vstart = pos + hdr;
        if end - vstart < plen {
            return Err(open_err(
                0,
                pos,
                "optional parameter overruns the message",
                Bytes::new(),
            ));
        }
        let vend = vstart + plen;
        if ptype == 2 {
            decode_capabilities(msg, vstart, vend, &mut capabilities)?;
        } else {
            other_params.push((ptype, msg.slice(vstart..vend)));
        }
        pos = vend;
    }
    Ok(Open {
        version,
        my_as,
        hold_time,
        bgp_id,
        capabilities,
        other_params,
    })
}

fn decode_capabilities(
    msg: &Bytes,
    start: usize,
    end: usize,
    out: &mut Vec<Capability>,
) -> Result<(), MessageError> {
    let b = &msg[..];
    let mut pos = start;
    while pos < end {
        if end - pos < 2 {
            return Err(open_err(0, pos, "truncated capability", Bytes::new()));
        }
        let code = b[pos];
        let len = b[pos + 1] as usize;
        let vstart = pos + 2;
        if end - vstart < len {
            return Err(open_err(
                0,
                pos,
                "capability overruns its parameter",
                Bytes::new(),
            ));
        }
        let value = msg.slice(vstart..vstart + len);
        match parse_capability(code, &value) {
            Some(c) => out.push(c),
            None => {
                return Err(open_err(
                    0,
                    pos,
                    "malformed capability",
                    msg.slice(pos..vstart + len),
                ));
            }
        }
        pos = vstart + len;
    }
    Ok(())
}

fn af3(v: &[u8]) -> AfiSafi {
    AfiSafi::new(
        Afi::from_code(u16::from_be_bytes([v[0], v[1]])),
        Safi::from_code(v[2]),
    )
}

/// Parse one capability value; `None` when a known capability is malformed.
pub(crate) fn parse_capability(code: u8, v: &Bytes) -> Option<Capability> {
    Some(match code {
        1 => {
            if v.len() != 4 {
                return None;
            }
            Capability::Multiprotocol(AfiSafi::new(
                Afi::from_code(u16::from_be_bytes([v[0], v[1]])),
                Safi::from_code(v[3]),
            ))
        }
        2 if v.is_empty() => Capability::RouteRefresh,
        5 => {
            if !v.len().is_multiple_of(6) {
                return None;
            }
            let mut t = Vec::with_capacity(v.len() / 6);
            for c in v.chunks_exact(6) {
                let safi = u16::from_be_bytes([c[2], c[3]]);
                let safi = u8::try_from(safi).ok()?;
                t.push((
                    AfiSafi::new(
                        Afi::from_code(u16::from_be_bytes([c[0], c[1]])),
                        Safi::from_code(safi),
                    ),
                    Afi::from_code(u16::from_be_bytes([c[4], c[5]])),
                ));
            }
            Capability::ExtendedNextHop(t)
        }
        6 if v.is_empty() => Capability::ExtendedMessage,
        9 if v.len() == 1 => Capability::Role(match v[0] {
            0 => BgpRole::Provider,
            1 => BgpRole::RouteServer,
            2 => BgpRole::RouteServerClient,
            3 => BgpRole::Customer,
            4 => BgpRole::Peer,
            x => BgpRole::Other(x),
        }),
        64 => {
            if v.len() < 2 || !(v.len() - 2).is_multiple_of(4) {
                return None;
            }
            let families = v[2..]
                .chunks_exact(4)
                .map(|c| GracefulRestartFamily {
                    af: af3(c),
                    forwarding_preserved: c[3] & 0x80 != 0,
                })
                .collect();
            Capability::GracefulRestart {
                restart_state: v[0] & 0x80 != 0,
                notification: v[0] & 0x40 != 0,
                restart_time: u16::from_be_bytes([v[0] & 0x0F, v[1]]),
                families,
            }
        }
        65 if v.len() == 4 => Capability::FourOctetAs(u32::from_be_bytes([v[0], v[1], v[2], v[3]])),
        69 => {
            if !v.len().is_multiple_of(4) {
                return None;
            }
            let mut t = Vec::with_capacity(v.len() / 4);
            for c in v.chunks_exact(4) {
                let mode = match c[3] {
                    1 => AddPathMode::Receive,
                    2 => AddPathMode::Send,
                    3 => AddPathMode::Both,
                    // RFC 7911 §4: any other value makes the capability not understood
                    // (ignored); keep it raw.
                    _ => {
                        return Some(Capability::Unknown {
                            code,
                            value: v.clone(),
                        });
                    }
                };
                t.push((af3(c), mode));
            }
            Capability::AddPath(t)
        }
        70 if v.is_empty() => Capability::EnhancedRouteRefresh,
        71 => {
            if !v.len().is_multiple_of(7) {
                return None;
            }
            Capability::LongLivedGracefulRestart(
                v.chunks_exact(7)
                    .map(|c| LlgrFamily {
                        af: af3(c),
                        flags: c[3],
                        stale_time: u32::from_be_bytes([0, c[4], c[5], c[6]]),
                    })
                    .collect(),
            )
        }
        73 => {
            let hl = *v.first()? as usize;
            let host = v.get(1..1 + hl)?;
            let dl = *v.get(1 + hl)? as usize;
            let dom = v.get(2 + hl..2 + hl + dl)?;
            if 2 + hl + dl != v.len() {
                return None;
            }
            match (std::str::from_utf8(host), std::str::from_utf8(dom)) {
                (Ok(h), Ok(d)) => Capability::Fqdn {
                    hostname: h.to_owned(),
                    domain: d.to_owned(),
                },
                // Not UTF-8: keep it raw so it still re-encodes unchanged.
                _ => Capability::Unknown {
                    code,
                    value: v.clone(),
                },
            }
        }
        2 | 6 | 9 | 65 | 70 => return None,
        _ => Capability::Unknown {
            code,
            value: v.clone(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::encode_message;
    use bytes::BytesMut;

    fn msg(ty: u8, body: &[u8]) -> Bytes {
        let mut v = vec![0xFF; 16];
        v.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
        v.push(ty);
        v.extend_from_slice(body);
        Bytes::from(v)
    }

    fn roundtrip(m: &Message, ctx: &SessionContext) -> Bytes {
        let mut b = BytesMut::new();
        encode_message(m, ctx, &mut b).unwrap();
        let b = b.freeze();
        let d = decode_message(b.clone(), ctx).unwrap();
        assert_eq!(&d.message, m);
        b
    }

    #[test]
    fn keepalive() {
        let ctx = SessionContext::default();
        let d = decode_message(msg(4, &[]), &ctx).unwrap();
        assert_eq!(d.message, Message::Keepalive);
        assert_eq!(roundtrip(&Message::Keepalive, &ctx), msg(4, &[]));
        // KEEPALIVE with a body: 1/2 with the length.
        let e = decode_message(msg(4, &[0]), &ctx).unwrap_err();
        assert_eq!(e.notification, Notification::with_data(1, 2, vec![0, 20]));
    }

    #[test]
    fn header_errors() {
        let ctx = SessionContext::default();
        let mut m = msg(4, &[]).to_vec();
        m[3] = 0;
        let e = decode_message(Bytes::from(m), &ctx).unwrap_err();
        assert_eq!(e.notification, Notification::new(1, 1));
        assert_eq!(e.kind, MessageErrorKind::BadMarker);
        let e = decode_message(msg(9, &[]), &ctx).unwrap_err();
        assert_eq!(e.notification, Notification::with_data(1, 3, vec![9]));
        assert_eq!(e.offset, 18);
        // Length 18 in the header.
        let mut m = msg(4, &[]).to_vec();
        m[17] = 18;
        assert_eq!(
            frame_len(&m, &ctx).unwrap_err().notification,
            Notification::with_data(1, 2, vec![0, 18])
        );
        // 4097 octets only with Extended Messages.
        let big = msg(2, &vec![0; 4097 - 19]);
        let e = frame_len(&big, &ctx).unwrap_err();
        assert_eq!(
            e.notification,
            Notification::with_data(1, 2, vec![0x10, 0x01])
        );
        let ext = SessionContext {
            extended_message: true,
            ..Default::default()
        };
        assert_eq!(frame_len(&big, &ext).unwrap(), Some(4097));
        // OPEN never above 4096, even with Extended Messages.
        let big_open = msg(1, &vec![0; 4097 - 19]);
        assert!(frame_len(&big_open, &ext).is_err());
        // Short buffers: no header yet.
        assert_eq!(frame_len(&big[..18], &ctx).unwrap(), None);
        // Per-type minimums.
        assert!(decode_message(msg(1, &[0; 9]), &ctx).is_err());
        assert!(decode_message(msg(3, &[6]), &ctx).is_err());
        assert!(decode_message(msg(2, &[0, 0, 0]), &ctx).is_err());
    }

    #[test]
    fn notification_and_route_refresh() {
        let ctx = SessionContext::default();
        let d = decode_message(msg(3, &[6, 2, 3, b'b', b'y', b'e']), &ctx).unwrap();
        assert_eq!(
            d.message,
            Message::Notification(Notification::with_data(6, 2, &b"\x03bye"[..]))
        );
        roundtrip(&d.message, &ctx);
        let d = decode_message(msg(5, &[0, 2, 1, 1]), &ctx).unwrap();
        assert_eq!(
            d.message,
            Message::RouteRefresh(RouteRefresh {
                af: AfiSafi::IPV6_UNICAST,
                subtype: RouteRefreshSubtype::BoRR
            })
        );
        roundtrip(&d.message, &ctx);
        let bad = msg(5, &[0, 1, 0, 1, 0]);
        let e = decode_message(bad.clone(), &ctx).unwrap_err();
        assert_eq!(e.notification, Notification::with_data(7, 1, bad));
    }

    /// An OPEN like FRR sends: each capability in its own parameter.
    const FRR_OPEN: &[u8] = &[
        4, 0xFC, 0x00, 0, 9, 192, 168, 1, 1,  // version, AS 64512, hold 9, id
        34, // opt params length
        2, 6, 1, 4, 0, 1, 0, 1, // MP IPv4 unicast
        2, 2, 2, 0, // route refresh
        2, 6, 65, 4, 0, 0, 0xFC, 0x00, // 4-octet AS 64512
        2, 8, 64, 6, 0x40, 120, 0, 1, 1, 0x80, // GR N bit, 120 s, IPv4 unicast F
        2, 2, 70, 0, // enhanced route refresh
    ];

    #[test]
    fn open_frr_style() {
        let ctx = SessionContext::default();
        let m = msg(1, FRR_OPEN);
        let d = decode_message(m.clone(), &ctx).unwrap();
        let Message::Open(o) = &d.message else {
            panic!()
        };
        assert_eq!(o.my_as, 64512);
        assert_eq!(o.asn(), 64512);
        assert_eq!(o.hold_time, 9);
        assert_eq!(
            o.capabilities,
            vec![
                Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
                Capability::RouteRefresh,
                Capability::FourOctetAs(64512),
                Capability::GracefulRestart {
                    restart_state: false,
                    notification: true,
                    restart_time: 120,
                    families: vec![GracefulRestartFamily {
                        af: AfiSafi::IPV4_UNICAST,
                        forwarding_preserved: true
                    }]
                },
                Capability::EnhancedRouteRefresh,
            ]
        );
        // Canonical form: re-encodes to the same bytes.
        assert_eq!(roundtrip(&d.message, &ctx), m);
    }

    #[test]
    fn open_all_caps_in_one_parameter() {
        let ctx = SessionContext::default();
        let body = [
            4, 0, 1, 0, 90, 10, 0, 0, 1, 14, 2, 12, 1, 4, 0, 2, 0, 1, 65, 4, 0, 1, 0, 0,
        ];
        let d = decode_message(msg(1, &body), &ctx).unwrap();
        let Message::Open(o) = &d.message else {
            panic!()
        };
        assert_eq!(
            o.capabilities,
            vec![
                Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
                Capability::FourOctetAs(65536)
            ]
        );
        assert_eq!(o.asn(), 65536);
    }

    #[test]
    fn open_errors() {
        let ctx = SessionContext::default();
        let mut b = FRR_OPEN.to_vec();
        b[0] = 3;
        let e = decode_message(msg(1, &b), &ctx).unwrap_err();
        assert_eq!(e.notification, Notification::with_data(2, 1, vec![0, 4]));
        let mut b = FRR_OPEN.to_vec();
        b[4] = 2;
        let e = decode_message(msg(1, &b), &ctx).unwrap_err();
        assert_eq!((e.notification.code, e.notification.subcode), (2, 6));
        let mut b = FRR_OPEN.to_vec();
        b[4] = 0; // hold time 0 is fine
        assert!(decode_message(msg(1, &b), &ctx).is_ok());
        let mut b = FRR_OPEN.to_vec();
        b[5..9].copy_from_slice(&[0, 0, 0, 0]);
        let e = decode_message(msg(1, &b), &ctx).unwrap_err();
        assert_eq!((e.notification.code, e.notification.subcode), (2, 3));
        // A 4-octet AS capability of length 3: malformed capability, 2/0 with the TLV.
        let body = [4, 0, 1, 0, 90, 10, 0, 0, 1, 5, 2, 3, 65, 1, 0];
        let e = decode_message(msg(1, &body), &ctx).unwrap_err();
        assert_eq!(
            e.notification,
            Notification::with_data(2, 0, vec![65, 1, 0])
        );
        // Optional parameter length mismatch.
        let body = [4, 0, 1, 0, 90, 10, 0, 0, 1, 7, 2, 2, 2, 0];
        assert!(decode_message(msg(1, &body), &ctx).is_err());
    }

    #[test]
    fn open_rfc9072_extended_parameters() {
        let ctx = SessionContext::default();
        // Many unknown capabilities push the parameters past 255 octets.
        let caps: Vec<Capability> = (0..40)
            .map(|i| Capability::Unknown {
                code: 200 + (i % 50) as u8,
                value: Bytes::from(vec![i as u8; 5]),
            })
            .collect();
        let open = Message::Open(Open {
            version: 4,
            my_as: AS_TRANS_TEST,
            hold_time: 90,
            bgp_id: Ipv4Addr::new(1, 2, 3, 4),
            capabilities: caps,
            other_params: vec![(1, Bytes::from_static(b"auth"))],
        });
        let b = roundtrip(&open, &ctx);
        assert_eq!(&b[28..30], &[255, 255]);
        // And the non-extended form of the same structure decodes too.
        let body = [4, 0, 1, 0, 90, 10, 0, 0, 1, 255, 255, 0, 5, 2, 0, 2, 2, 0];
        let d = decode_message(msg(1, &body), &ctx).unwrap();
        let Message::Open(o) = &d.message else {
            panic!()
        };
        assert_eq!(o.capabilities, vec![Capability::RouteRefresh]);
    }
    const AS_TRANS_TEST: u16 = crate::message::AS_TRANS;

    #[test]
    fn every_capability_roundtrips() {
        let ctx = SessionContext::default();
        let caps = vec![
            Capability::Multiprotocol(AfiSafi::new(Afi::Ipv6, Safi::Multicast)),
            Capability::RouteRefresh,
            Capability::ExtendedNextHop(vec![(AfiSafi::IPV4_UNICAST, Afi::Ipv6)]),
            Capability::ExtendedMessage,
            Capability::Role(BgpRole::Customer),
            Capability::GracefulRestart {
                restart_state: true,
                notification: false,
                restart_time: 4095,
                families: vec![],
            },
            Capability::FourOctetAs(4_200_000_000),
            Capability::AddPath(vec![(AfiSafi::IPV4_UNICAST, AddPathMode::Both)]),
            Capability::EnhancedRouteRefresh,
            Capability::LongLivedGracefulRestart(vec![LlgrFamily {
                af: AfiSafi::IPV6_UNICAST,
                flags: 0x80,
                stale_time: 0xABCDEF,
            }]),
            Capability::Fqdn {
                hostname: "node1".into(),
                domain: "cluster.local".into(),
            },
            Capability::Unknown {
                code: 128,
                value: Bytes::new(),
            },
        ];
        let open = Message::Open(Open {
            version: 4,
            my_as: 23456,
            hold_time: 3,
            bgp_id: Ipv4Addr::new(10, 0, 0, 1),
            capabilities: caps,
            other_params: vec![],
        });
        roundtrip(&open, &ctx);
    }

    #[test]
    fn add_path_with_bad_mode_is_not_understood() {
        let v = Bytes::from_static(&[0, 1, 1, 4]);
        assert_eq!(
            parse_capability(69, &v),
            Some(Capability::Unknown {
                code: 69,
                value: v.clone()
            })
        );
        assert_eq!(parse_capability(69, &Bytes::from_static(&[0, 1, 1])), None);
    }

    #[test]
    fn fqdn_not_utf8_is_kept_raw() {
        let v = Bytes::from_static(&[1, 0xFF, 0]);
        assert_eq!(
            parse_capability(73, &v),
            Some(Capability::Unknown {
                code: 73,
                value: v.clone()
            })
        );
        assert_eq!(parse_capability(73, &Bytes::from_static(&[5, 1])), None);
    }
}
