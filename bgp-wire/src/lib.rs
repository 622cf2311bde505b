//! # bgp-wire
//!
//! BGP-4 messages (RFC 4271 and successors): decode and encode, with no I/O and no clock.
//!
//! Decoding is zero-copy from [`bytes::Bytes`] and takes a [`SessionContext`] that
//! says what the session negotiated (4-octet AS, ADD-PATH per family and direction,
//! Extended Messages, extended next hop): the same bytes decode differently under
//! different contexts. UPDATEs never simply fail on attribute problems: they come back
//! with an RFC 7606 [`UpdateVerdict`] saying what to do (attribute discard,
//! treat-as-withdraw with the affected routes, AFI/SAFI disable, or session reset with
//! the NOTIFICATION to send). Errors that make a message unusable are a
//! [`MessageError`] carrying the byte offset and the exact NOTIFICATION.
//!
//! - [`decode_message`], [`encode_message`], [`frame_len`]; `BgpCodec` for tokio
//!   streams (feature `codec`);
//! - [`UpdateBuilder`] packs routes into as few UPDATEs as fit, [`end_of_rib`] builds
//!   End-of-RIB markers;
//! - [`UpdateView`] reads an UPDATE without allocating;
//! - [`merge_as4_path`] (RFC 6793), [`shutdown`] (RFC 9003), [`NotificationKind`] for logs.
//!
//! ```
//! use bgp_wire::attr::{AsPath, Origin, PathAttribute};
//! use bgp_wire::{decode_message, encode_message, AfiSafi, Message, Nlri, SessionContext, UpdateBuilder};
//! use bytes::BytesMut;
//!
//! let ctx = SessionContext::modern();
//! let updates = UpdateBuilder::new(&ctx)
//!     .attributes(vec![
//!         PathAttribute::Origin(Origin::Igp),
//!         PathAttribute::AsPath(AsPath::default()),
//!         PathAttribute::NextHop("192.168.1.10".parse().unwrap()),
//!         PathAttribute::LocalPref(100),
//!     ])
//!     .announce(AfiSafi::IPV4_UNICAST, [Nlri::new("172.16.10.0/32".parse().unwrap())])
//!     .build()
//!     .unwrap();
//! let mut buf = BytesMut::new();
//! encode_message(&Message::Update(updates[0].clone()), &ctx, &mut buf).unwrap();
//!
//! let decoded = decode_message(buf.freeze(), &ctx).unwrap();
//! assert!(decoded.verdict.is_clean());
//! let Message::Update(update) = decoded.message else { unreachable!() };
//! let (af, nlri) = update.announced().next().unwrap();
//! assert_eq!((af, nlri.prefix.to_string()), (AfiSafi::IPV4_UNICAST, "172.16.10.0/32".to_string()));
//! ```
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
pub mod notify;
mod prefix;
pub mod shutdown;
mod update;
mod view;

pub use afi::{Afi, AfiSafi, Safi};
pub use attr::{PathAttribute, merge_as4_path};
pub use context::SessionContext;
pub use error::{EncodeError, MessageError, UpdateAction, UpdateVerdict};
pub use message::{Capability, Message, Notification, Open, RouteRefresh, Update};
pub use nlri::Nlri;
pub use notify::NotificationKind;

pub use builder::{UpdateBuilder, end_of_rib};
#[cfg(feature = "codec")]
pub use codec::{BgpCodec, CodecError};
pub use decode::{Decoded, decode_message, frame_len};
pub use encode::{encode_message, put_attribute};
pub use view::{MpView, PrefixIter, RawAttr, RawAttrIter, UpdateView};

/// BGP header length: 16-octet marker, 2-octet length, 1-octet type.
pub const HEADER_LEN: usize = 19;
/// Maximum message length without Extended Messages.
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Maximum message length with Extended Messages (RFC 8654).
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;
