//! The BGP Monitoring Protocol (BMP, RFC 7854) with the Adj-RIB-Out (RFC 8671) and Loc-RIB
//! (RFC 9069) extensions: every message type decoded and encoded ([`decode`], [`encode`]), a
//! sans-I/O [`Station`] that follows one BMP session and decodes each peer's UPDATEs with the
//! session context its Peer Up OPENs imply, a tokio-util codec (feature `codec`) and an
//! [`exporter`] that streams a router's view to a station (feature `tokio`).
//!
//! BGP PDUs inside BMP messages (OPENs, UPDATEs, NOTIFICATIONs) stay `Bytes` slices of the
//! received frame until the station decodes them with `bgp-wire`; nothing is copied.
//! Decoding never panics and allocates only within the message's own length, which the codec
//! bounds (1 MiB by default) before buffering.
//!
//! # Example: a router's side and a station's side
//!
//! ```
//! use bgp_bmp::{decode, encode, Event, Message, PeerHeader, PeerUp, Station};
//! use bgp_wire::message::{Capability, Open};
//! use bgp_wire::{encode_message, AfiSafi, Nlri, SessionContext, UpdateBuilder};
//! use bgp_wire::attr::{AsPath, Origin, PathAttribute};
//! use bytes::BytesMut;
//!
//! let ctx = SessionContext::modern();
//! let pdu = |m: bgp_wire::Message| {
//!     let mut b = BytesMut::new();
//!     encode_message(&m, &ctx, &mut b).unwrap();
//!     b.freeze()
//! };
//! let open = |asn: u32, id: &str| bgp_wire::Message::Open(Open {
//!     version: 4, my_as: asn as u16, hold_time: 90, bgp_id: id.parse().unwrap(),
//!     capabilities: vec![Capability::FourOctetAs(asn)], other_params: vec![],
//! });
//! let peer = PeerHeader::new("10.0.0.2".parse().unwrap(), 65002, "2.2.2.2".parse().unwrap());
//! let up = Message::PeerUp {
//!     peer: peer.clone(),
//!     up: Box::new(PeerUp {
//!         local_address: "10.0.0.1".parse().unwrap(), local_port: 179, remote_port: 40000,
//!         sent_open: pdu(open(65001, "1.1.1.1")), received_open: pdu(open(65002, "2.2.2.2")),
//!         information: vec![],
//!     }),
//! };
//! let update = UpdateBuilder::new(&ctx)
//!     .attributes(vec![
//!         PathAttribute::Origin(Origin::Igp),
//!         PathAttribute::AsPath(AsPath::from_sequence([65002])),
//!         PathAttribute::NextHop("10.0.0.2".parse().unwrap()),
//!     ])
//!     .announce(AfiSafi::IPV4_UNICAST, [Nlri::new("203.0.113.0/24".parse().unwrap())])
//!     .build()
//!     .unwrap();
//! let rm = Message::RouteMonitoring {
//!     peer,
//!     update: pdu(bgp_wire::Message::Update(updates_first(update))),
//! };
//! # fn updates_first(v: Vec<bgp_wire::Update>) -> bgp_wire::Update { v.into_iter().next().unwrap() }
//!
//! // The station side: bytes in, events out.
//! let mut station = Station::default();
//! for m in [up, rm] {
//!     let bytes = encode(&m).unwrap().freeze();
//!     match station.handle(decode(bytes).unwrap()).unwrap() {
//!         Event::PeerUp { received_open, .. } => assert_eq!(received_open.asn(), 65002),
//!         Event::Route { update, known_peer, .. } => {
//!             assert!(known_peer && update.verdict.is_clean());
//!         }
//!         other => panic!("{other:?}"),
//!     }
//! }
//! ```

mod codec;
#[cfg(feature = "tokio")]
pub mod exporter;
pub mod message;
mod station;

#[cfg(feature = "codec")]
pub use codec::{BmpCodec, BmpFrames, CodecError};
pub use codec::{DecodeError, EncodeError, decode, encode, encode_into, peek_len};
#[cfg(feature = "tokio")]
pub use exporter::{Exporter, ExporterConfig, ExporterStats};
pub use message::{
    Message, PeerDownReason, PeerHeader, PeerKey, PeerType, PeerUp, Stat, StatValue, Tlv,
};
pub use station::{Event, Station, StationError};
