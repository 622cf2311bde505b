//! # bgp-mrt
//!
//! MRT routing archives (RFC 6396, ADD-PATH extensions of RFC 8050): the format route
//! collectors (RouteViews, RIPE RIS), BIRD, FRR and GoBGP write their table dumps and
//! update logs in.
//!
//! - [`record`]: typed records: TABLE_DUMP_V2 (PEER_INDEX_TABLE, RIB_IPV4/IPV6
//!   unicast/multicast and their ADD-PATH variants, RIB_GENERIC kept raw), BGP4MP and
//!   BGP4MP_ET (STATE_CHANGE(_AS4), MESSAGE(_AS4)(_LOCAL)(_ADDPATH)), TABLE_DUMP (v1).
//!   BGP messages and path attributes are decoded by `bgp-wire`.
//! - [`MrtDecoder`] / [`encode_record`]: decode and encode; decode-then-encode reproduces
//!   canonical input.
//! - [`MrtReader`]: a streaming reader over any `std::io::Read`, gzip and bzip2 detected
//!   transparently, malformed records reported with their byte offset and skipped, a
//!   record length limit bounding allocation.
//! - [`view`]: lazy, allocation-free views for hot paths.
//! - [`writer`]: a TABLE_DUMP_V2 snapshot writer fed from a `bgp_rib::Rib` and a BGP4MP
//!   update-log writer.
//! - [`text`]: the one-line-per-route format of `bgpdump -m`.
//!
//! ```
//! use bgp_mrt::record::*;
//! use bgp_mrt::{MrtReader, encode_record};
//! use bytes::BytesMut;
//!
//! let rec = MrtRecord {
//!     timestamp: 1_700_000_000,
//!     microseconds: None,
//!     body: MrtBody::PeerIndexTable(PeerIndexTable {
//!         collector_id: "192.0.2.1".parse().unwrap(),
//!         view_name: Default::default(),
//!         peers: vec![PeerEntry {
//!             bgp_id: "192.0.2.2".parse().unwrap(),
//!             addr: "2001:db8::2".parse().unwrap(),
//!             asn: 4_200_000_000,
//!             as4: true,
//!         }],
//!     }),
//! };
//! let mut buf = BytesMut::new();
//! encode_record(&rec, &mut buf).unwrap();
//! let back: Vec<_> = MrtReader::new(&buf[..]).collect::<Result<_, _>>().unwrap();
//! assert_eq!(back, vec![rec]);
//! ```
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![forbid(unsafe_code)]

mod decode;
pub mod dump;
mod encode;
pub mod error;
mod reader;
pub mod record;
pub mod text;
pub mod view;
pub mod writer;

pub use decode::{HEADER_LEN, MrtDecoder, RecordHeader, decode_record};
pub use encode::{encode_record, put_rib_attributes, record_type};
pub use error::{DecodeError, MrtEncodeError, ReadError};
pub use reader::{DEFAULT_MAX_RECORD_LEN, MrtReader, RawRecord, decompress};
pub use record::{MrtBody, MrtRecord};
