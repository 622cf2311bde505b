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
//! - [`decode_path_attributes`] decodes a bare attribute block (MRT, BMP) with the same
//!   RFC 7606 checks, e.g. the abbreviated MP_REACH_NLRI of MRT RIB entries;
//! - [`merge_as4_path`] (RFC 6793), [`shutdown`] (RFC 9003), [`NotificationKind`] for logs.
//!
//! ## Error handling (RFC 4271 §6, RFC 7606)
//!
//! - Header: bad marker 1/1; length outside 19..=4096 (65535 with Extended Messages,
//!   OPEN and KEEPALIVE never above 4096) or outside the type's bounds (OPEN >= 29,
//!   UPDATE >= 23, NOTIFICATION >= 21, KEEPALIVE == 19) 1/2 with the length as data;
//!   unknown type 1/3 with the type. ROUTE-REFRESH of length != 23: 7/1 with the whole
//!   message (RFC 7313).
//! - OPEN: version != 4 2/1 (data: 4), hold time 1 or 2 2/6, BGP Identifier 0 2/3;
//!   optional parameters or capabilities whose lengths do not add up, or a known
//!   capability with a malformed value: 2/0 with the capability as data (RFC 5492 names
//!   no subcode). Bad peer AS (2/2), unsupported optional parameters (2/4, kept in
//!   `Open::other_params`), missing required capabilities (2/7, see
//!   [`Notification::unsupported_capability`]) and role mismatch are the session's checks.
//! - UPDATE: withdrawn-routes or total-attribute lengths overrunning the message 3/1,
//!   invalid prefixes in the withdrawn routes or NLRI fields 3/10 (`Err`). Everything
//!   else is an [`UpdateVerdict`] on the decoded message: duplicate MP_REACH/MP_UNREACH
//!   and unrecognized well-known attributes reset the session (3/1, 3/2); flag errors,
//!   missing ORIGIN/AS_PATH/NEXT_HOP, malformed ORIGIN, AS_PATH, NEXT_HOP, MED,
//!   LOCAL_PREF, COMMUNITIES, ORIGINATOR_ID, CLUSTER_LIST, (IPv6) extended communities,
//!   LARGE_COMMUNITY (RFC 8092 §6) and OTC (RFC 9234) are treat-as-withdraw; malformed
//!   ATOMIC_AGGREGATE, AGGREGATOR, AS4_PATH, AS4_AGGREGATOR and duplicates of other
//!   attributes are discarded; a malformed MP_REACH/MP_UNREACH disables its AFI/SAFI
//!   (or resets the session when even the AFI/SAFI is unreadable). An attribute that
//!   overruns the attribute list is treat-as-withdraw (RFC 7606 §4). Discarded and
//!   malformed attributes are removed from `Update::attributes`; each problem also
//!   carries its RFC 4271 NOTIFICATION (3/4, 3/5 ... with the attribute as data).
//!   Checks that need to know the peer (LOCAL_PREF on iBGP only, AS_CONFED segments from
//!   eBGP, first AS, NEXT_HOP being our own address) are the caller's.
//!   AS4_PATH/AS4_AGGREGATOR received on a 4-octet session are discarded (RFC 6793).
//!
//! ## Canonical encoding
//!
//! Decode-then-encode reproduces the input when it is in canonical form: each OPEN
//! capability in its own optional parameter (as FRR sends them), the RFC 9072 extended
//! parameter form only when the parameters exceed 255 octets; attribute flags are the
//! standard O/T bits for known attributes (no Partial bit) and as received for unknown
//! ones; the extended-length bit exactly when the value exceeds 255 octets; AS_PATH and
//! AGGREGATOR in 4-octet form when `four_octet_as`, else 2-octet with AS_TRANS (adding
//! AS4_PATH is the caller's choice, see [`attr::AsPath::needs_as4`]); NLRI host bits
//! cleared; path identifiers exactly when `ctx.sends_path_id(af)`.
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
mod attr_list;
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
pub use attr_list::{
    AttrListOptions, DecodedAttributes, decode_path_attributes, decode_path_attributes_in,
};
pub use context::SessionContext;
pub use error::{EncodeError, MessageError, UpdateAction, UpdateVerdict};
pub use message::{Capability, Message, Notification, Open, RouteRefresh, Update};
pub use nlri::Nlri;
pub use notify::NotificationKind;
/// The small-vector crate behind [`attr::Asns`] and [`attr::AsSegments`], re-exported so
/// callers can build them without adding the dependency themselves.
pub use smallvec;

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
