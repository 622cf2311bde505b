//! Typed decode errors, their NOTIFICATIONs, and the RFC 7606 verdicts on UPDATEs.

use crate::afi::AfiSafi;
use crate::message::Notification;
use crate::nlri::Nlri;

/// NOTIFICATION error codes and subcodes (RFC 4271 §4.5, RFC 4486, RFC 6608, RFC 7313, RFC 8538).
pub mod codes {
    #![allow(missing_docs)]
    pub const MESSAGE_HEADER_ERROR: u8 = 1;
    pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
    pub const BAD_MESSAGE_LENGTH: u8 = 2;
    pub const BAD_MESSAGE_TYPE: u8 = 3;

    pub const OPEN_MESSAGE_ERROR: u8 = 2;
    pub const UNSUPPORTED_VERSION_NUMBER: u8 = 1;
    pub const BAD_PEER_AS: u8 = 2;
    pub const BAD_BGP_IDENTIFIER: u8 = 3;
    pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
    pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
    pub const UNSUPPORTED_CAPABILITY: u8 = 7;
    pub const ROLE_MISMATCH: u8 = 11;

    pub const UPDATE_MESSAGE_ERROR: u8 = 3;
    pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
    pub const UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: u8 = 2;
    pub const MISSING_WELL_KNOWN_ATTRIBUTE: u8 = 3;
    pub const ATTRIBUTE_FLAGS_ERROR: u8 = 4;
    pub const ATTRIBUTE_LENGTH_ERROR: u8 = 5;
    pub const INVALID_ORIGIN_ATTRIBUTE: u8 = 6;
    pub const INVALID_NEXT_HOP_ATTRIBUTE: u8 = 8;
    pub const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
    pub const INVALID_NETWORK_FIELD: u8 = 10;
    pub const MALFORMED_AS_PATH: u8 = 11;

    pub const HOLD_TIMER_EXPIRED: u8 = 4;

    pub const FSM_ERROR: u8 = 5;
    pub const FSM_UNSPECIFIED: u8 = 0;
    pub const FSM_UNEXPECTED_IN_OPENSENT: u8 = 1;
    pub const FSM_UNEXPECTED_IN_OPENCONFIRM: u8 = 2;
    pub const FSM_UNEXPECTED_IN_ESTABLISHED: u8 = 3;

    pub const CEASE: u8 = 6;
    pub const MAX_PREFIXES_REACHED: u8 = 1;
    pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
    pub const PEER_DECONFIGURED: u8 = 3;
    pub const ADMINISTRATIVE_RESET: u8 = 4;
    pub const CONNECTION_REJECTED: u8 = 5;
    pub const OTHER_CONFIGURATION_CHANGE: u8 = 6;
    pub const CONNECTION_COLLISION_RESOLUTION: u8 = 7;
    pub const OUT_OF_RESOURCES: u8 = 8;
    pub const HARD_RESET: u8 = 9;
    pub const BFD_DOWN: u8 = 10;

    pub const ROUTE_REFRESH_MESSAGE_ERROR: u8 = 7;
    pub const INVALID_MESSAGE_LENGTH: u8 = 1;
}

/// An error that makes a whole message unusable; the session must send
/// [`MessageError::notification`] and close (RFC 4271 §6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct MessageError {
    /// What went wrong.
    pub kind: MessageErrorKind,
    /// Offset from the start of the message (header included) where it went wrong.
    pub offset: usize,
    /// The NOTIFICATION that reports it.
    pub notification: Notification,
}

/// A [`MessageError`] from its parts (shared by the message decoder, the UPDATE decoder and
/// the lazy view, which is why it lives here and not with any of them).
pub(crate) fn merr(
    kind: MessageErrorKind,
    offset: usize,
    notification: crate::message::Notification,
) -> MessageError {
    MessageError {
        kind,
        offset,
        notification,
    }
}

impl MessageError {
    /// The NOTIFICATION to send for this error.
    pub fn notification(&self) -> Notification {
        self.notification.clone()
    }
}

/// The kinds of message-level errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageErrorKind {
    /// Marker not all ones (1/1).
    #[error("connection not synchronized (bad marker)")]
    BadMarker,
    /// Length out of range for the type or the session (1/2).
    #[error("bad message length {0}")]
    BadLength(u16),
    /// Unknown type (1/3).
    #[error("bad message type {0}")]
    BadType(u8),
    /// OPEN error (2/x).
    #[error("OPEN message error: {0}")]
    Open(&'static str),
    /// UPDATE error that resets the session (3/x).
    #[error("UPDATE message error: {0}")]
    Update(&'static str),
    /// NOTIFICATION malformed (the session closes without replying).
    #[error("malformed NOTIFICATION: {0}")]
    Notification(&'static str),
    /// ROUTE-REFRESH malformed (7/1).
    #[error("ROUTE-REFRESH message error: {0}")]
    RouteRefresh(&'static str),
}

/// What RFC 7606 says to do about a problem in an UPDATE, weakest first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum UpdateAction {
    /// Drop the attribute, keep the route (RFC 7606 §2 attribute discard).
    AttributeDiscard,
    /// Treat every route in the UPDATE as withdrawn (RFC 7606 §2).
    TreatAsWithdraw,
    /// Disable the address family (RFC 7606 §2, RFC 4760 §7).
    AfiSafiDisable(AfiSafi),
    /// Reset the session with this NOTIFICATION.
    SessionReset(Notification),
}

/// One problem found in an UPDATE.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct UpdateProblem {
    /// What to do.
    pub action: UpdateAction,
    /// The attribute type concerned, if any.
    pub attr_type: Option<u8>,
    /// Offset in the message where it was found.
    pub offset: usize,
    /// Human-readable reason.
    pub reason: &'static str,
    /// The RFC 4271 §6.3 NOTIFICATION for this problem (e.g. 3/4 or 3/5 with the whole
    /// attribute as data): what a session that resets instead of applying RFC 7606
    /// would send. For [`UpdateAction::SessionReset`] it is the same as the action's.
    pub notification: Notification,
}

/// The RFC 7606 outcome of decoding an UPDATE: the strongest action of all problems wins.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct UpdateVerdict {
    /// Every problem found, in order.
    pub problems: Vec<UpdateProblem>,
    /// When the verdict is treat-as-withdraw: every route that becomes a withdrawal
    /// (IPv4 NLRI and MP_REACH NLRI, with their family).
    pub treat_as_withdraw: Vec<(AfiSafi, Nlri)>,
}

impl UpdateVerdict {
    /// The strongest action, or `None` when the UPDATE is clean.
    pub fn action(&self) -> Option<&UpdateAction> {
        self.problems.iter().map(|p| &p.action).max()
    }
    /// True when nothing was wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// An error while encoding (a value that cannot be represented on the wire).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message does not fit the session's maximum length.
    #[error("message of {len} octets exceeds the maximum {max}")]
    TooLong {
        /// Length it would have.
        len: usize,
        /// Maximum allowed.
        max: usize,
    },
    /// A field value cannot be encoded.
    #[error("cannot encode: {0}")]
    Invalid(&'static str),
}
