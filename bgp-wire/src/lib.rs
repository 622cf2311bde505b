//! # bgp-wire
//!
//! BGP-4 messages (RFC 4271 and successors): decode and encode, with no I/O.
//!
//! Decoding is zero-copy from [`bytes::Bytes`] and takes a [`SessionContext`] that
//! says what the session negotiated. UPDATEs never simply fail: they come back with an
//! RFC 7606 [`UpdateVerdict`].
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![forbid(unsafe_code)]

pub mod afi;
pub mod attr;
mod builder;
#[cfg(feature = "codec")]
mod codec;
pub mod context;
mod decode;
mod encode;
pub mod error;
pub mod message;
pub mod nlri;
mod prefix;
mod update;

pub use afi::{Afi, AfiSafi, Safi};
pub use attr::PathAttribute;
pub use context::SessionContext;
pub use error::{EncodeError, MessageError, UpdateAction, UpdateVerdict};
pub use message::{Capability, Message, Notification, Open, RouteRefresh, Update};
pub use nlri::Nlri;

pub use builder::{UpdateBuilder, end_of_rib};
#[cfg(feature = "codec")]
pub use codec::{BgpCodec, CodecError};
pub use decode::{Decoded, decode_message, frame_len};
pub use encode::{encode_message, put_attribute};

/// BGP header length: 16-octet marker, 2-octet length, 1-octet type.
pub const HEADER_LEN: usize = 19;
/// Maximum message length without Extended Messages.
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Maximum message length with Extended Messages (RFC 8654).
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;
