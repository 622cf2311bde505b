//! A typed view of NOTIFICATIONs for logs and decisions, and helpers to build the ones
//! with structured data (RFC 8538 Hard Reset, RFC 5492 Unsupported Capability).

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::afi::{Afi, AfiSafi, Safi};
use crate::error::{EncodeError, codes::*};
use crate::message::{Capability, Notification};
use crate::shutdown;

/// Every NOTIFICATION code/subcode named by RFC 4271, RFC 4486, RFC 5492, RFC 6608,
/// RFC 7313, RFC 8538, RFC 9003, RFC 9234 and RFC 9384, with the data they define decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum NotificationKind {
    /// 1/1 Connection Not Synchronized.
    ConnectionNotSynchronized,
    /// 1/2 Bad Message Length, with the bad length when the data holds it.
    BadMessageLength(Option<u16>),
    /// 1/3 Bad Message Type, with the bad type.
    BadMessageType(Option<u8>),
    /// 2/0 OPEN Message Error, unspecific.
    OpenUnspecific,
    /// 2/1 Unsupported Version Number, with the largest version the sender supports.
    UnsupportedVersionNumber(Option<u16>),
    /// 2/2 Bad Peer AS.
    BadPeerAs,
    /// 2/3 Bad BGP Identifier.
    BadBgpIdentifier,
    /// 2/4 Unsupported Optional Parameter.
    UnsupportedOptionalParameter,
    /// 2/6 Unacceptable Hold Time.
    UnacceptableHoldTime,
    /// 2/7 Unsupported Capability (RFC 5492), with the capability codes from the data.
    UnsupportedCapability(Vec<u8>),
    /// 2/11 Role Mismatch (RFC 9234).
    RoleMismatch,
    /// 3/0 UPDATE Message Error, unspecific.
    UpdateUnspecific,
    /// 3/1 Malformed Attribute List.
    MalformedAttributeList,
    /// 3/2 Unrecognized Well-known Attribute, with its type code.
    UnrecognizedWellKnownAttribute(Option<u8>),
    /// 3/3 Missing Well-known Attribute, with its type code.
    MissingWellKnownAttribute(Option<u8>),
    /// 3/4 Attribute Flags Error.
    AttributeFlagsError,
    /// 3/5 Attribute Length Error.
    AttributeLengthError,
    /// 3/6 Invalid ORIGIN Attribute.
    InvalidOriginAttribute,
    /// 3/8 Invalid NEXT_HOP Attribute.
    InvalidNextHopAttribute,
    /// 3/9 Optional Attribute Error.
    OptionalAttributeError,
    /// 3/10 Invalid Network Field.
    InvalidNetworkField,
    /// 3/11 Malformed AS_PATH.
    MalformedAsPath,
    /// 4/0 Hold Timer Expired.
    HoldTimerExpired,
    /// 5/0 Finite State Machine Error, unspecified (RFC 6608).
    FsmUnspecified,
    /// 5/1 Receive Unexpected Message in OpenSent State, with the message type.
    FsmUnexpectedInOpenSent(Option<u8>),
    /// 5/2 Receive Unexpected Message in OpenConfirm State, with the message type.
    FsmUnexpectedInOpenConfirm(Option<u8>),
    /// 5/3 Receive Unexpected Message in Established State, with the message type.
    FsmUnexpectedInEstablished(Option<u8>),
    /// 6/1 Maximum Number of Prefixes Reached (RFC 4486), with family and limit if sent.
    MaxPrefixesReached(Option<(AfiSafi, u32)>),
    /// 6/2 Administrative Shutdown, with the RFC 9003 shutdown communication if valid.
    AdministrativeShutdown(Option<String>),
    /// 6/3 Peer De-configured.
    PeerDeconfigured,
    /// 6/4 Administrative Reset, with the RFC 9003 shutdown communication if valid.
    AdministrativeReset(Option<String>),
    /// 6/5 Connection Rejected.
    ConnectionRejected,
    /// 6/6 Other Configuration Change.
    OtherConfigurationChange,
    /// 6/7 Connection Collision Resolution.
    ConnectionCollisionResolution,
    /// 6/8 Out of Resources.
    OutOfResources,
    /// 6/9 Hard Reset (RFC 8538) wrapping the inner NOTIFICATION.
    HardReset(Box<NotificationKind>),
    /// 6/10 BFD Down (RFC 9384).
    BfdDown,
    /// 7/1 ROUTE-REFRESH Invalid Message Length (RFC 7313).
    RouteRefreshInvalidLength,
    /// Any other code/subcode.
    Other {
        /// Error code.
        code: u8,
        /// Error subcode.
        subcode: u8,
    },
}

/// The name of an error code.
pub fn code_name(code: u8) -> &'static str {
    match code {
        1 => "Message Header Error",
        2 => "OPEN Message Error",
        3 => "UPDATE Message Error",
        4 => "Hold Timer Expired",
        5 => "Finite State Machine Error",
        6 => "Cease",
        7 => "ROUTE-REFRESH Message Error",
        _ => "Unknown error code",
    }
}

impl fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use NotificationKind::*;
        match self {
            ConnectionNotSynchronized => {
                f.write_str("Message Header Error/Connection Not Synchronized")
            }
            BadMessageLength(l) => {
                f.write_str("Message Header Error/Bad Message Length")?;
                if let Some(l) = l {
                    write!(f, " ({l})")?;
                }
                Ok(())
            }
            BadMessageType(t) => {
                f.write_str("Message Header Error/Bad Message Type")?;
                if let Some(t) = t {
                    write!(f, " ({t})")?;
                }
                Ok(())
            }
            OpenUnspecific => f.write_str("OPEN Message Error/Unspecific"),
            UnsupportedVersionNumber(v) => {
                f.write_str("OPEN Message Error/Unsupported Version Number")?;
                if let Some(v) = v {
                    write!(f, " (supported: {v})")?;
                }
                Ok(())
            }
            BadPeerAs => f.write_str("OPEN Message Error/Bad Peer AS"),
            BadBgpIdentifier => f.write_str("OPEN Message Error/Bad BGP Identifier"),
            UnsupportedOptionalParameter => {
                f.write_str("OPEN Message Error/Unsupported Optional Parameter")
            }
            UnacceptableHoldTime => f.write_str("OPEN Message Error/Unacceptable Hold Time"),
            UnsupportedCapability(c) => {
                write!(f, "OPEN Message Error/Unsupported Capability {c:?}")
            }
            RoleMismatch => f.write_str("OPEN Message Error/Role Mismatch"),
            UpdateUnspecific => f.write_str("UPDATE Message Error/Unspecific"),
            MalformedAttributeList => f.write_str("UPDATE Message Error/Malformed Attribute List"),
            UnrecognizedWellKnownAttribute(t) => {
                f.write_str("UPDATE Message Error/Unrecognized Well-known Attribute")?;
                if let Some(t) = t {
                    write!(f, " (type {t})")?;
                }
                Ok(())
            }
            MissingWellKnownAttribute(t) => {
                f.write_str("UPDATE Message Error/Missing Well-known Attribute")?;
                if let Some(t) = t {
                    write!(f, " (type {t})")?;
                }
                Ok(())
            }
            AttributeFlagsError => f.write_str("UPDATE Message Error/Attribute Flags Error"),
            AttributeLengthError => f.write_str("UPDATE Message Error/Attribute Length Error"),
            InvalidOriginAttribute => f.write_str("UPDATE Message Error/Invalid ORIGIN Attribute"),
            InvalidNextHopAttribute => {
                f.write_str("UPDATE Message Error/Invalid NEXT_HOP Attribute")
            }
            OptionalAttributeError => f.write_str("UPDATE Message Error/Optional Attribute Error"),
            InvalidNetworkField => f.write_str("UPDATE Message Error/Invalid Network Field"),
            MalformedAsPath => f.write_str("UPDATE Message Error/Malformed AS_PATH"),
            HoldTimerExpired => f.write_str("Hold Timer Expired"),
            FsmUnspecified => f.write_str("Finite State Machine Error/Unspecified Error"),
            FsmUnexpectedInOpenSent(t) => fsm(f, "OpenSent", *t),
            FsmUnexpectedInOpenConfirm(t) => fsm(f, "OpenConfirm", *t),
            FsmUnexpectedInEstablished(t) => fsm(f, "Established", *t),
            MaxPrefixesReached(x) => {
                f.write_str("Cease/Maximum Number of Prefixes Reached")?;
                if let Some((af, n)) = x {
                    write!(f, " ({af}, limit {n})")?;
                }
                Ok(())
            }
            AdministrativeShutdown(m) => shut(f, "Administrative Shutdown", m),
            PeerDeconfigured => f.write_str("Cease/Peer De-configured"),
            AdministrativeReset(m) => shut(f, "Administrative Reset", m),
            ConnectionRejected => f.write_str("Cease/Connection Rejected"),
            OtherConfigurationChange => f.write_str("Cease/Other Configuration Change"),
            ConnectionCollisionResolution => f.write_str("Cease/Connection Collision Resolution"),
            OutOfResources => f.write_str("Cease/Out of Resources"),
            HardReset(inner) => write!(f, "Cease/Hard Reset ({inner})"),
            BfdDown => f.write_str("Cease/BFD Down"),
            RouteRefreshInvalidLength => {
                f.write_str("ROUTE-REFRESH Message Error/Invalid Message Length")
            }
            Other { code, subcode } => write!(f, "{}/subcode {subcode}", code_name(*code)),
        }
    }
}

fn fsm(f: &mut fmt::Formatter<'_>, state: &str, t: Option<u8>) -> fmt::Result {
    write!(
        f,
        "Finite State Machine Error/Receive Unexpected Message in {state} State"
    )?;
    if let Some(t) = t {
        write!(f, " (type {t})")?;
    }
    Ok(())
}

fn shut(f: &mut fmt::Formatter<'_>, what: &str, m: &Option<String>) -> fmt::Result {
    write!(f, "Cease/{what}")?;
    if let Some(m) = m {
        write!(f, ": {m:?}")?;
    }
    Ok(())
}

fn kind_of(code: u8, subcode: u8, data: &[u8]) -> NotificationKind {
    use NotificationKind::*;
    let u8d = data.first().copied().filter(|_| data.len() == 1);
    let u16d = match data {
        [a, b] => Some(u16::from_be_bytes([*a, *b])),
        _ => None,
    };
    match (code, subcode) {
        (MESSAGE_HEADER_ERROR, CONNECTION_NOT_SYNCHRONIZED) => ConnectionNotSynchronized,
        (MESSAGE_HEADER_ERROR, BAD_MESSAGE_LENGTH) => BadMessageLength(u16d),
        (MESSAGE_HEADER_ERROR, BAD_MESSAGE_TYPE) => BadMessageType(u8d),
        (OPEN_MESSAGE_ERROR, 0) => OpenUnspecific,
        (OPEN_MESSAGE_ERROR, UNSUPPORTED_VERSION_NUMBER) => UnsupportedVersionNumber(u16d),
        (OPEN_MESSAGE_ERROR, BAD_PEER_AS) => BadPeerAs,
        (OPEN_MESSAGE_ERROR, BAD_BGP_IDENTIFIER) => BadBgpIdentifier,
        (OPEN_MESSAGE_ERROR, UNSUPPORTED_OPTIONAL_PARAMETER) => UnsupportedOptionalParameter,
        (OPEN_MESSAGE_ERROR, UNACCEPTABLE_HOLD_TIME) => UnacceptableHoldTime,
        (OPEN_MESSAGE_ERROR, UNSUPPORTED_CAPABILITY) => {
            let mut codes = Vec::new();
            let mut i = 0;
            while let (Some(&c), Some(&l)) = (data.get(i), data.get(i + 1)) {
                codes.push(c);
                i += 2 + l as usize;
            }
            UnsupportedCapability(codes)
        }
        (OPEN_MESSAGE_ERROR, ROLE_MISMATCH) => RoleMismatch,
        (UPDATE_MESSAGE_ERROR, 0) => UpdateUnspecific,
        (UPDATE_MESSAGE_ERROR, MALFORMED_ATTRIBUTE_LIST) => MalformedAttributeList,
        (UPDATE_MESSAGE_ERROR, UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE) => {
            UnrecognizedWellKnownAttribute(data.get(1).copied())
        }
        (UPDATE_MESSAGE_ERROR, MISSING_WELL_KNOWN_ATTRIBUTE) => {
            MissingWellKnownAttribute(data.first().copied())
        }
        (UPDATE_MESSAGE_ERROR, ATTRIBUTE_FLAGS_ERROR) => AttributeFlagsError,
        (UPDATE_MESSAGE_ERROR, ATTRIBUTE_LENGTH_ERROR) => AttributeLengthError,
        (UPDATE_MESSAGE_ERROR, INVALID_ORIGIN_ATTRIBUTE) => InvalidOriginAttribute,
        (UPDATE_MESSAGE_ERROR, INVALID_NEXT_HOP_ATTRIBUTE) => InvalidNextHopAttribute,
        (UPDATE_MESSAGE_ERROR, OPTIONAL_ATTRIBUTE_ERROR) => OptionalAttributeError,
        (UPDATE_MESSAGE_ERROR, INVALID_NETWORK_FIELD) => InvalidNetworkField,
        (UPDATE_MESSAGE_ERROR, MALFORMED_AS_PATH) => MalformedAsPath,
        (HOLD_TIMER_EXPIRED, _) => HoldTimerExpired,
        (FSM_ERROR, FSM_UNSPECIFIED) => FsmUnspecified,
        (FSM_ERROR, FSM_UNEXPECTED_IN_OPENSENT) => FsmUnexpectedInOpenSent(u8d),
        (FSM_ERROR, FSM_UNEXPECTED_IN_OPENCONFIRM) => FsmUnexpectedInOpenConfirm(u8d),
        (FSM_ERROR, FSM_UNEXPECTED_IN_ESTABLISHED) => FsmUnexpectedInEstablished(u8d),
        (CEASE, MAX_PREFIXES_REACHED) => MaxPrefixesReached(match data {
            [a0, a1, s, n0, n1, n2, n3] => Some((
                AfiSafi::new(
                    Afi::from_code(u16::from_be_bytes([*a0, *a1])),
                    Safi::from_code(*s),
                ),
                u32::from_be_bytes([*n0, *n1, *n2, *n3]),
            )),
            _ => None,
        }),
        (CEASE, ADMINISTRATIVE_SHUTDOWN) => {
            AdministrativeShutdown(shutdown::parse(data).ok().flatten())
        }
        (CEASE, PEER_DECONFIGURED) => PeerDeconfigured,
        (CEASE, ADMINISTRATIVE_RESET) => AdministrativeReset(shutdown::parse(data).ok().flatten()),
        (CEASE, CONNECTION_REJECTED) => ConnectionRejected,
        (CEASE, OTHER_CONFIGURATION_CHANGE) => OtherConfigurationChange,
        (CEASE, CONNECTION_COLLISION_RESOLUTION) => ConnectionCollisionResolution,
        (CEASE, OUT_OF_RESOURCES) => OutOfResources,
        (CEASE, HARD_RESET) => match data {
            // The inner notification cannot itself be a Hard Reset (no recursion on wire data).
            [c, s, rest @ ..] if !(*c == CEASE && *s == HARD_RESET) => {
                HardReset(Box::new(kind_of(*c, *s, rest)))
            }
            _ => HardReset(Box::new(Other {
                code: 0,
                subcode: 0,
            })),
        },
        (CEASE, BFD_DOWN) => BfdDown,
        (ROUTE_REFRESH_MESSAGE_ERROR, INVALID_MESSAGE_LENGTH) => RouteRefreshInvalidLength,
        (code, subcode) => Other { code, subcode },
    }
}

impl Notification {
    /// The typed view of this NOTIFICATION.
    ///
    /// ```
    /// use bgp_wire::Notification;
    /// let n = Notification::with_data(6, 2, &b"\x0bmaintenance"[..]);
    /// assert_eq!(n.kind().to_string(), "Cease/Administrative Shutdown: \"maintenance\"");
    /// ```
    pub fn kind(&self) -> crate::notify::NotificationKind {
        kind_of(self.code, self.subcode, &self.data)
    }

    /// Cease/Administrative Shutdown (6/2) with an RFC 9003 shutdown communication
    /// (an empty message sends no data).
    pub fn administrative_shutdown(message: &str) -> Result<Self, shutdown::ShutdownError> {
        Ok(Notification::with_data(
            CEASE,
            ADMINISTRATIVE_SHUTDOWN,
            shutdown::build(message)?,
        ))
    }

    /// Cease/Administrative Reset (6/4) with an RFC 9003 shutdown communication.
    pub fn administrative_reset(message: &str) -> Result<Self, shutdown::ShutdownError> {
        Ok(Notification::with_data(
            CEASE,
            ADMINISTRATIVE_RESET,
            shutdown::build(message)?,
        ))
    }

    /// Cease/Maximum Number of Prefixes Reached (6/1, RFC 4486 §4) with the family and the
    /// configured upper bound as data (AFI, SAFI, 4-octet limit).
    ///
    /// ```
    /// use bgp_wire::{AfiSafi, Notification, NotificationKind};
    /// let n = Notification::max_prefixes_reached(AfiSafi::IPV4_UNICAST, 1000);
    /// assert_eq!(&n.data[..], &[0, 1, 1, 0, 0, 0x03, 0xE8]);
    /// assert_eq!(n.kind(), NotificationKind::MaxPrefixesReached(Some((AfiSafi::IPV4_UNICAST, 1000))));
    /// ```
    pub fn max_prefixes_reached(af: AfiSafi, limit: u32) -> Self {
        let mut d = BytesMut::with_capacity(7);
        d.put_u16(af.afi.code());
        d.put_u8(af.safi.code());
        d.put_u32(limit);
        Notification::with_data(CEASE, MAX_PREFIXES_REACHED, d.freeze())
    }

    /// Cease/Hard Reset (6/9, RFC 8538) wrapping `inner`: data is the inner code, subcode
    /// and data.
    pub fn hard_reset(inner: &Notification) -> Self {
        let mut d = BytesMut::with_capacity(2 + inner.data.len());
        d.put_u8(inner.code);
        d.put_u8(inner.subcode);
        d.put_slice(&inner.data);
        Notification::with_data(CEASE, HARD_RESET, d.freeze())
    }

    /// The inner NOTIFICATION of a Hard Reset (RFC 8538), if this is one.
    pub fn hard_reset_inner(&self) -> Option<Notification> {
        if self.code != CEASE || self.subcode != HARD_RESET || self.data.len() < 2 {
            return None;
        }
        Some(Notification::with_data(
            self.data[0],
            self.data[1],
            self.data.slice(2..),
        ))
    }

    /// OPEN Message Error/Unsupported Capability (2/7, RFC 5492) listing the capabilities
    /// (code, length, value each) in the data.
    pub fn unsupported_capability(caps: &[Capability]) -> Result<Self, EncodeError> {
        let mut d = BytesMut::new();
        for c in caps {
            crate::encode::put_capability(c, &mut d)?;
        }
        Ok(Notification::with_data(
            OPEN_MESSAGE_ERROR,
            UNSUPPORTED_CAPABILITY,
            d.freeze(),
        ))
    }

    /// The capabilities listed in the data of an Unsupported Capability NOTIFICATION
    /// (2/7); malformed entries end the list.
    pub fn unsupported_capabilities(&self) -> Vec<Capability> {
        let mut out = Vec::new();
        if self.code != OPEN_MESSAGE_ERROR || self.subcode != UNSUPPORTED_CAPABILITY {
            return out;
        }
        let d: &Bytes = &self.data;
        let mut i = 0;
        while let (Some(&c), Some(&l)) = (d.get(i), d.get(i + 1)) {
            let end = i + 2 + l as usize;
            if end > d.len() {
                break;
            }
            let v = d.slice(i + 2..end);
            out.push(
                crate::decode::parse_capability(c, &v)
                    .unwrap_or(Capability::Unknown { code: c, value: v }),
            );
            i = end;
        }
        out
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}/{})", self.kind(), self.code, self.subcode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_code() {
        let cases: &[(u8, u8, &[u8], &str)] = &[
            (
                1,
                1,
                &[],
                "Message Header Error/Connection Not Synchronized",
            ),
            (
                1,
                2,
                &[0, 18],
                "Message Header Error/Bad Message Length (18)",
            ),
            (1, 3, &[9], "Message Header Error/Bad Message Type (9)"),
            (2, 0, &[], "OPEN Message Error/Unspecific"),
            (
                2,
                1,
                &[0, 4],
                "OPEN Message Error/Unsupported Version Number (supported: 4)",
            ),
            (2, 2, &[], "OPEN Message Error/Bad Peer AS"),
            (2, 3, &[], "OPEN Message Error/Bad BGP Identifier"),
            (
                2,
                4,
                &[],
                "OPEN Message Error/Unsupported Optional Parameter",
            ),
            (2, 6, &[], "OPEN Message Error/Unacceptable Hold Time"),
            (
                2,
                7,
                &[65, 4, 0, 0, 0, 1, 2, 0],
                "OPEN Message Error/Unsupported Capability [65, 2]",
            ),
            (2, 11, &[], "OPEN Message Error/Role Mismatch"),
            (3, 0, &[], "UPDATE Message Error/Unspecific"),
            (3, 1, &[], "UPDATE Message Error/Malformed Attribute List"),
            (
                3,
                2,
                &[0x40, 99, 0],
                "UPDATE Message Error/Unrecognized Well-known Attribute (type 99)",
            ),
            (
                3,
                3,
                &[1],
                "UPDATE Message Error/Missing Well-known Attribute (type 1)",
            ),
            (3, 4, &[], "UPDATE Message Error/Attribute Flags Error"),
            (3, 5, &[], "UPDATE Message Error/Attribute Length Error"),
            (3, 6, &[], "UPDATE Message Error/Invalid ORIGIN Attribute"),
            (3, 8, &[], "UPDATE Message Error/Invalid NEXT_HOP Attribute"),
            (3, 9, &[], "UPDATE Message Error/Optional Attribute Error"),
            (3, 10, &[], "UPDATE Message Error/Invalid Network Field"),
            (3, 11, &[], "UPDATE Message Error/Malformed AS_PATH"),
            (4, 0, &[], "Hold Timer Expired"),
            (5, 0, &[], "Finite State Machine Error/Unspecified Error"),
            (
                5,
                1,
                &[2],
                "Finite State Machine Error/Receive Unexpected Message in OpenSent State (type 2)",
            ),
            (
                5,
                2,
                &[],
                "Finite State Machine Error/Receive Unexpected Message in OpenConfirm State",
            ),
            (
                5,
                3,
                &[],
                "Finite State Machine Error/Receive Unexpected Message in Established State",
            ),
            (
                6,
                1,
                &[0, 1, 1, 0, 0, 0, 100],
                "Cease/Maximum Number of Prefixes Reached (1/1, limit 100)",
            ),
            (6, 2, &[], "Cease/Administrative Shutdown"),
            (6, 3, &[], "Cease/Peer De-configured"),
            (6, 4, &[2, b'h', b'i'], "Cease/Administrative Reset: \"hi\""),
            (6, 5, &[], "Cease/Connection Rejected"),
            (6, 6, &[], "Cease/Other Configuration Change"),
            (6, 7, &[], "Cease/Connection Collision Resolution"),
            (6, 8, &[], "Cease/Out of Resources"),
            (6, 9, &[4, 0], "Cease/Hard Reset (Hold Timer Expired)"),
            (6, 10, &[], "Cease/BFD Down"),
            (
                7,
                1,
                &[],
                "ROUTE-REFRESH Message Error/Invalid Message Length",
            ),
            (9, 9, &[], "Unknown error code/subcode 9"),
        ];
        for (c, s, d, text) in cases {
            let n = Notification::with_data(*c, *s, Bytes::copy_from_slice(d));
            assert_eq!(n.kind().to_string(), *text, "{c}/{s}");
        }
    }

    #[test]
    fn hard_reset_wraps_and_unwraps() {
        let inner = Notification::administrative_shutdown("bye").unwrap();
        let hr = Notification::hard_reset(&inner);
        assert_eq!(hr.code, 6);
        assert_eq!(hr.subcode, 9);
        assert_eq!(&hr.data[..], &[6, 2, 3, b'b', b'y', b'e']);
        assert_eq!(hr.hard_reset_inner(), Some(inner));
        assert_eq!(
            hr.kind(),
            NotificationKind::HardReset(Box::new(NotificationKind::AdministrativeShutdown(Some(
                "bye".into()
            ))))
        );
        // A Hard Reset inside a Hard Reset is not unwrapped further.
        let nested = Notification::hard_reset(&hr);
        assert!(matches!(nested.kind(), NotificationKind::HardReset(_)));
    }

    #[test]
    fn unsupported_capability_data() {
        let caps = vec![
            Capability::FourOctetAs(65536),
            Capability::Unknown {
                code: 200,
                value: Bytes::from_static(&[1]),
            },
        ];
        let n = Notification::unsupported_capability(&caps).unwrap();
        assert_eq!((n.code, n.subcode), (2, 7));
        assert_eq!(&n.data[..], &[65, 4, 0, 1, 0, 0, 200, 1, 1]);
        assert_eq!(n.unsupported_capabilities(), caps);
        assert_eq!(
            n.kind(),
            NotificationKind::UnsupportedCapability(vec![65, 200])
        );
    }
}
