//! The typed MRT records (RFC 6396, RFC 8050).

use std::net::{IpAddr, Ipv4Addr};

use bgp_wire::{Afi, Message, MessageError, PathAttribute};
use bytes::Bytes;
use ipnet::IpNet;

/// MRT type codes (RFC 6396 §4).
pub mod mrt_type {
    /// TABLE_DUMP (v1, deprecated).
    pub const TABLE_DUMP: u16 = 12;
    /// TABLE_DUMP_V2.
    pub const TABLE_DUMP_V2: u16 = 13;
    /// BGP4MP.
    pub const BGP4MP: u16 = 16;
    /// BGP4MP_ET (microsecond timestamps).
    pub const BGP4MP_ET: u16 = 17;
}

/// TABLE_DUMP_V2 subtypes (RFC 6396 §4.3, RFC 8050 §4).
pub mod td2 {
    /// PEER_INDEX_TABLE.
    pub const PEER_INDEX_TABLE: u16 = 1;
    /// RIB_IPV4_UNICAST.
    pub const RIB_IPV4_UNICAST: u16 = 2;
    /// RIB_IPV4_MULTICAST.
    pub const RIB_IPV4_MULTICAST: u16 = 3;
    /// RIB_IPV6_UNICAST.
    pub const RIB_IPV6_UNICAST: u16 = 4;
    /// RIB_IPV6_MULTICAST.
    pub const RIB_IPV6_MULTICAST: u16 = 5;
    /// RIB_GENERIC.
    pub const RIB_GENERIC: u16 = 6;
    /// RIB_IPV4_UNICAST_ADDPATH.
    pub const RIB_IPV4_UNICAST_ADDPATH: u16 = 8;
    /// RIB_IPV4_MULTICAST_ADDPATH.
    pub const RIB_IPV4_MULTICAST_ADDPATH: u16 = 9;
    /// RIB_IPV6_UNICAST_ADDPATH.
    pub const RIB_IPV6_UNICAST_ADDPATH: u16 = 10;
    /// RIB_IPV6_MULTICAST_ADDPATH.
    pub const RIB_IPV6_MULTICAST_ADDPATH: u16 = 11;
    /// RIB_GENERIC_ADDPATH.
    pub const RIB_GENERIC_ADDPATH: u16 = 12;
}

/// BGP4MP / BGP4MP_ET subtypes (RFC 6396 §4.4, RFC 8050 §3).
pub mod bgp4mp {
    /// BGP4MP_STATE_CHANGE.
    pub const STATE_CHANGE: u16 = 0;
    /// BGP4MP_MESSAGE.
    pub const MESSAGE: u16 = 1;
    /// BGP4MP_MESSAGE_AS4.
    pub const MESSAGE_AS4: u16 = 4;
    /// BGP4MP_STATE_CHANGE_AS4.
    pub const STATE_CHANGE_AS4: u16 = 5;
    /// BGP4MP_MESSAGE_LOCAL.
    pub const MESSAGE_LOCAL: u16 = 6;
    /// BGP4MP_MESSAGE_AS4_LOCAL.
    pub const MESSAGE_AS4_LOCAL: u16 = 7;
    /// BGP4MP_MESSAGE_ADDPATH.
    pub const MESSAGE_ADDPATH: u16 = 8;
    /// BGP4MP_MESSAGE_AS4_ADDPATH.
    pub const MESSAGE_AS4_ADDPATH: u16 = 9;
    /// BGP4MP_MESSAGE_LOCAL_ADDPATH.
    pub const MESSAGE_LOCAL_ADDPATH: u16 = 10;
    /// BGP4MP_MESSAGE_AS4_LOCAL_ADDPATH.
    pub const MESSAGE_AS4_LOCAL_ADDPATH: u16 = 11;
}

/// One MRT record: common header fields plus the typed body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MrtRecord {
    /// Seconds since the Unix epoch.
    pub timestamp: u32,
    /// Microseconds, present exactly for the `_ET` types (BGP4MP_ET).
    pub microseconds: Option<u32>,
    /// The body.
    pub body: MrtBody,
}

/// The body of an MRT record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum MrtBody {
    /// TABLE_DUMP_V2 PEER_INDEX_TABLE.
    PeerIndexTable(PeerIndexTable),
    /// TABLE_DUMP_V2 RIB_IPV4/IPV6_UNICAST/MULTICAST and their ADD-PATH variants.
    Rib(RibRecord),
    /// TABLE_DUMP_V2 RIB_GENERIC (6) or RIB_GENERIC_ADDPATH (12), kept raw.
    RibGeneric {
        /// The subtype (6 or 12).
        subtype: u16,
        /// The body, undecoded.
        raw: Bytes,
    },
    /// BGP4MP or BGP4MP_ET (the type follows `MrtRecord::microseconds`).
    Bgp4mp(Bgp4mp),
    /// TABLE_DUMP (v1).
    TableDump(TableDump),
    /// Any other type or subtype, kept raw.
    Unknown {
        /// MRT type.
        mrt_type: u16,
        /// MRT subtype.
        subtype: u16,
        /// The body, undecoded.
        raw: Bytes,
    },
}

/// PEER_INDEX_TABLE (RFC 6396 §4.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PeerIndexTable {
    /// Collector BGP ID.
    pub collector_id: Ipv4Addr,
    /// View name (often empty).
    pub view_name: Bytes,
    /// The peers; RIB entries refer to them by index.
    pub peers: Vec<PeerEntry>,
}

/// One peer of the PEER_INDEX_TABLE.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PeerEntry {
    /// Peer BGP ID.
    pub bgp_id: Ipv4Addr,
    /// Peer address (the peer type's IPv6 bit follows it).
    pub addr: IpAddr,
    /// Peer AS.
    pub asn: u32,
    /// Whether the AS is written in 4 octets (peer type bit 1); must be true when
    /// `asn > 65535`.
    pub as4: bool,
}

/// A RIB record of an AFI/SAFI-specific subtype (RFC 6396 §4.3.2, RFC 8050 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RibRecord {
    /// The subtype (2-5, 8-11).
    pub subtype: u16,
    /// Sequence number.
    pub sequence: u32,
    /// The prefix (family from the subtype).
    pub prefix: IpNet,
    /// One entry per path.
    pub entries: Vec<RibEntry>,
}

impl RibRecord {
    /// Whether the subtype carries RFC 8050 path identifiers.
    pub fn add_path(&self) -> bool {
        rib_kind(self.subtype).is_some_and(|k| k.2)
    }
}

/// (AFI, multicast, add-path) of a RIB subtype.
pub(crate) fn rib_kind(subtype: u16) -> Option<(Afi, bool, bool)> {
    use td2::*;
    Some(match subtype {
        RIB_IPV4_UNICAST => (Afi::Ipv4, false, false),
        RIB_IPV4_MULTICAST => (Afi::Ipv4, true, false),
        RIB_IPV6_UNICAST => (Afi::Ipv6, false, false),
        RIB_IPV6_MULTICAST => (Afi::Ipv6, true, false),
        RIB_IPV4_UNICAST_ADDPATH => (Afi::Ipv4, false, true),
        RIB_IPV4_MULTICAST_ADDPATH => (Afi::Ipv4, true, true),
        RIB_IPV6_UNICAST_ADDPATH => (Afi::Ipv6, false, true),
        RIB_IPV6_MULTICAST_ADDPATH => (Afi::Ipv6, true, true),
        _ => return None,
    })
}

/// The RIB subtype for a family.
pub fn rib_subtype(afi: Afi, multicast: bool, add_path: bool) -> Option<u16> {
    (2..=11).find(|s| rib_kind(*s) == Some((afi, multicast, add_path)))
}

/// One RIB entry: a path of one peer (RFC 6396 §4.3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RibEntry {
    /// Index into the PEER_INDEX_TABLE.
    pub peer_index: u16,
    /// Originated time (seconds since the epoch).
    pub originated: u32,
    /// RFC 8050 path identifier (written only by the ADD-PATH subtypes; 0 otherwise).
    pub path_id: u32,
    /// Path attributes, decoded by bgp-wire with 4-octet ASNs. MP_REACH_NLRI in the
    /// RFC 6396 §4.3.4 abbreviated form is returned as an `MpReach` with the record's
    /// family and no NLRI. Attributes bgp-wire finds malformed are left out.
    pub attributes: Vec<PathAttribute>,
}

/// A BGP4MP or BGP4MP_ET record (RFC 6396 §4.4, RFC 8050 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Bgp4mp {
    /// The subtype (0, 1, 4-11).
    pub subtype: u16,
    /// Peer AS.
    pub peer_as: u32,
    /// Local AS.
    pub local_as: u32,
    /// Interface index.
    pub interface: u16,
    /// Peer address.
    pub peer_addr: IpAddr,
    /// Local address (same family as the peer's).
    pub local_addr: IpAddr,
    /// A state change or a BGP message.
    pub body: Bgp4mpBody,
}

impl Bgp4mp {
    /// Whether the AS fields are 4 octets (and the messages' AS_PATH too).
    pub fn as4(&self) -> bool {
        use bgp4mp::*;
        matches!(
            self.subtype,
            MESSAGE_AS4
                | STATE_CHANGE_AS4
                | MESSAGE_AS4_LOCAL
                | MESSAGE_AS4_ADDPATH
                | MESSAGE_AS4_LOCAL_ADDPATH
        )
    }
    /// Whether the message carries RFC 8050 path identifiers.
    pub fn add_path(&self) -> bool {
        (8..=11).contains(&self.subtype)
    }
    /// Whether the message was sent by the local side (`_LOCAL` subtypes).
    pub fn local(&self) -> bool {
        use bgp4mp::*;
        matches!(
            self.subtype,
            MESSAGE_LOCAL | MESSAGE_AS4_LOCAL | MESSAGE_LOCAL_ADDPATH | MESSAGE_AS4_LOCAL_ADDPATH
        )
    }
}

/// BGP FSM states as numbered in BGP4MP_STATE_CHANGE (1 Idle .. 6 Established).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct StateChange {
    /// Old state.
    pub old: u16,
    /// New state.
    pub new: u16,
}

/// What a BGP4MP record carries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Bgp4mpBody {
    /// STATE_CHANGE / STATE_CHANGE_AS4.
    StateChange(StateChange),
    /// A BGP message (header included), decoded by bgp-wire under the context the subtype
    /// implies (4-octet AS for `_AS4`, path ids on every family for `_ADDPATH`).
    Message(Box<Message>),
    /// A BGP message bgp-wire could not decode, kept raw.
    Undecodable {
        /// The message as recorded.
        raw: Bytes,
        /// Why it failed.
        #[cfg_attr(feature = "serde", serde(skip))]
        error: MessageError,
    },
}

/// A TABLE_DUMP (v1) record (RFC 6396 §4.2): 2-octet AS numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TableDump {
    /// View number.
    pub view: u16,
    /// Sequence number.
    pub sequence: u16,
    /// The prefix (subtype = its AFI).
    pub prefix: IpNet,
    /// Status (1 in practice).
    pub status: u8,
    /// Originated time.
    pub originated: u32,
    /// Peer address (same family as the prefix).
    pub peer_addr: IpAddr,
    /// Peer AS.
    pub peer_as: u16,
    /// Path attributes (2-octet AS_PATH), decoded by bgp-wire.
    pub attributes: Vec<PathAttribute>,
}
