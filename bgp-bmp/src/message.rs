//! The BMP message model (RFC 7854 §4, RFC 8671, RFC 9069): one enum variant per message type,
//! the per-peer header, TLVs, statistics and peer-down reasons. BGP PDUs carried inside stay
//! `Bytes` slices of the received frame (zero copy); [`crate::Station`] decodes them with the
//! session context of their peer.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bgp_wire::AfiSafi;
use bytes::Bytes;

/// BMP version written and accepted (RFC 7854).
pub const VERSION: u8 = 3;
/// Length of the common header: version, message length, message type.
pub const COMMON_HEADER_LEN: usize = 6;
/// Length of the per-peer header.
pub const PEER_HEADER_LEN: usize = 42;
/// Largest message accepted by default: a Route Monitoring message carries one BGP PDU of at
/// most 65,535 octets (RFC 8654); Statistics Reports and TLV lists are far smaller. Anything
/// longer is refused before a buffer is reserved for it.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 1 << 20;

/// Message types (RFC 7854 §4.1).
pub mod msg_type {
    /// Route Monitoring.
    pub const ROUTE_MONITORING: u8 = 0;
    /// Statistics Report.
    pub const STATISTICS_REPORT: u8 = 1;
    /// Peer Down Notification.
    pub const PEER_DOWN: u8 = 2;
    /// Peer Up Notification.
    pub const PEER_UP: u8 = 3;
    /// Initiation.
    pub const INITIATION: u8 = 4;
    /// Termination.
    pub const TERMINATION: u8 = 5;
    /// Route Mirroring.
    pub const ROUTE_MIRRORING: u8 = 6;
}

/// Which RIB of the monitored router a message speaks of (RFC 7854 §4.2, RFC 9069 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerType {
    /// Global Instance Peer (0).
    Global,
    /// RD Instance Peer (1): the distinguisher is a Route Distinguisher.
    Rd,
    /// Local Instance Peer (2).
    Local,
    /// Loc-RIB Instance Peer (3, RFC 9069).
    LocRib,
    /// Any other value, kept so it re-encodes unchanged.
    Other(u8),
}

impl PeerType {
    /// The wire value.
    pub fn code(self) -> u8 {
        match self {
            PeerType::Global => 0,
            PeerType::Rd => 1,
            PeerType::Local => 2,
            PeerType::LocRib => 3,
            PeerType::Other(c) => c,
        }
    }
    /// From the wire value.
    pub fn from_code(c: u8) -> Self {
        match c {
            0 => PeerType::Global,
            1 => PeerType::Rd,
            2 => PeerType::Local,
            3 => PeerType::LocRib,
            c => PeerType::Other(c),
        }
    }
}

/// Per-peer header flags (RFC 7854 §4.2, RFC 8671 §4, RFC 9069 §4.2).
pub mod peer_flags {
    /// V: the peer address is IPv6.
    pub const IPV6: u8 = 0x80;
    /// L: post-policy (else pre-policy).
    pub const POST_POLICY: u8 = 0x40;
    /// A: the AS_PATH uses the legacy 2-octet format.
    pub const LEGACY_AS_PATH: u8 = 0x20;
    /// O: Adj-RIB-Out (else Adj-RIB-In), RFC 8671.
    pub const ADJ_RIB_OUT: u8 = 0x10;
    /// F: for the Loc-RIB peer type only, the Loc-RIB is filtered (RFC 9069).
    pub const LOC_RIB_FILTERED: u8 = 0x80;
}

/// The per-peer header that precedes every message but Initiation and Termination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerHeader {
    /// Peer type.
    pub peer_type: PeerType,
    /// Flags, raw ([`peer_flags`]); their meaning depends on the peer type.
    pub flags: u8,
    /// Peer Distinguisher (a Route Distinguisher for RD peers, 0 for global ones).
    pub distinguisher: u64,
    /// The peer's address. An IPv4 peer is sent in the last four of the 16 octets, with the V
    /// flag clear.
    pub address: IpAddr,
    /// The peer's AS.
    pub asn: u32,
    /// The peer's BGP Identifier.
    pub bgp_id: Ipv4Addr,
    /// Seconds since the epoch when the routes were received (0 if unknown).
    pub timestamp_secs: u32,
    /// Microseconds within that second.
    pub timestamp_micros: u32,
}

impl PeerHeader {
    /// A global-instance, pre-policy Adj-RIB-In header for a peer (the V flag follows the
    /// address family), timestamp zero.
    pub fn new(address: IpAddr, asn: u32, bgp_id: Ipv4Addr) -> Self {
        PeerHeader {
            peer_type: PeerType::Global,
            flags: if address.is_ipv6() {
                peer_flags::IPV6
            } else {
                0
            },
            distinguisher: 0,
            address,
            asn,
            bgp_id,
            timestamp_secs: 0,
            timestamp_micros: 0,
        }
    }
    /// A Loc-RIB instance header (RFC 9069): address zero, the router's own AS and id.
    pub fn loc_rib(asn: u32, bgp_id: Ipv4Addr) -> Self {
        PeerHeader {
            peer_type: PeerType::LocRib,
            flags: 0,
            distinguisher: 0,
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            asn,
            bgp_id,
            timestamp_secs: 0,
            timestamp_micros: 0,
        }
    }
    /// With the given timestamp.
    pub fn at(mut self, secs: u32, micros: u32) -> Self {
        self.timestamp_secs = secs;
        self.timestamp_micros = micros;
        self
    }
    /// With these flags set in addition.
    pub fn with_flags(mut self, flags: u8) -> Self {
        self.flags |= flags;
        self
    }
    /// L flag: post-policy routes (not meaningful for Loc-RIB peers).
    pub fn is_post_policy(&self) -> bool {
        self.peer_type != PeerType::LocRib && self.flags & peer_flags::POST_POLICY != 0
    }
    /// A flag: the AS_PATH in the carried UPDATEs is in the 2-octet format.
    pub fn is_legacy_as_path(&self) -> bool {
        self.peer_type != PeerType::LocRib && self.flags & peer_flags::LEGACY_AS_PATH != 0
    }
    /// O flag: the routes are the router's Adj-RIB-Out towards this peer (RFC 8671).
    pub fn is_adj_rib_out(&self) -> bool {
        self.peer_type != PeerType::LocRib && self.flags & peer_flags::ADJ_RIB_OUT != 0
    }
    /// The key that identifies a peer within one BMP session.
    pub fn key(&self) -> PeerKey {
        PeerKey {
            peer_type: self.peer_type,
            distinguisher: self.distinguisher,
            address: self.address,
        }
    }
}

/// What identifies a monitored peer within one BMP session (RFC 7854 §4.2: type,
/// distinguisher and address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerKey {
    /// Peer type.
    pub peer_type: PeerType,
    /// Peer Distinguisher.
    pub distinguisher: u64,
    /// Peer address.
    pub address: IpAddr,
}

/// An information TLV (type, value). The meaning of the type depends on the message:
/// [`tlv`] names the registered ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    /// Type.
    pub kind: u16,
    /// Value.
    pub value: Bytes,
}

impl Tlv {
    /// A TLV whose value is a UTF-8 string.
    pub fn string(kind: u16, s: &str) -> Self {
        Tlv {
            kind,
            value: Bytes::copy_from_slice(s.as_bytes()),
        }
    }
    /// The value as text (lossy UTF-8), for string TLVs.
    pub fn as_str(&self) -> String {
        String::from_utf8_lossy(&self.value).into_owned()
    }
}

/// Registered TLV types.
pub mod tlv {
    /// Initiation, Peer Up: free-form string (0).
    pub const STRING: u16 = 0;
    /// Initiation: sysDescr (1).
    pub const SYS_DESCR: u16 = 1;
    /// Initiation: sysName (2).
    pub const SYS_NAME: u16 = 2;
    /// Peer Up (RFC 9069): VRF/Table name (3).
    pub const VRF_TABLE_NAME: u16 = 3;
    /// Termination: reason, a 2-octet code (1).
    pub const TERMINATION_REASON: u16 = 1;
    /// Route Mirroring: a BGP message (0).
    pub const MIRROR_BGP_MESSAGE: u16 = 0;
    /// Route Mirroring: information, a 2-octet code (1).
    pub const MIRROR_INFORMATION: u16 = 1;
}

/// One statistic of a Statistics Report (RFC 7854 §4.8, RFC 8671 §5, IANA registry). The
/// value's form follows its length, so unregistered types round-trip too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatValue {
    /// A 32-bit counter (types 0-6, 11-13).
    Counter(u32),
    /// A 64-bit gauge (types 7, 8, 14, 15).
    Gauge(u64),
    /// A per-AFI/SAFI 64-bit gauge (types 9, 10, 16, 17).
    PerFamily(AfiSafi, u64),
    /// Any other length, kept raw.
    Raw(Bytes),
}

/// Registered statistics types.
pub mod stat {
    /// Prefixes rejected by inbound policy.
    pub const REJECTED_PREFIXES: u16 = 0;
    /// Duplicate prefix advertisements.
    pub const DUPLICATE_PREFIXES: u16 = 1;
    /// Duplicate withdraws.
    pub const DUPLICATE_WITHDRAWS: u16 = 2;
    /// Updates invalidated due to CLUSTER_LIST loop.
    pub const CLUSTER_LIST_LOOP: u16 = 3;
    /// Updates invalidated due to AS_PATH loop.
    pub const AS_PATH_LOOP: u16 = 4;
    /// Updates invalidated due to ORIGINATOR_ID.
    pub const ORIGINATOR_ID_LOOP: u16 = 5;
    /// Updates invalidated due to AS_CONFED loop.
    pub const AS_CONFED_LOOP: u16 = 6;
    /// Routes in Adj-RIBs-In.
    pub const ADJ_RIB_IN_ROUTES: u16 = 7;
    /// Routes in Loc-RIB.
    pub const LOC_RIB_ROUTES: u16 = 8;
    /// Routes in per-AFI/SAFI Adj-RIB-In.
    pub const ADJ_RIB_IN_PER_FAMILY: u16 = 9;
    /// Routes in per-AFI/SAFI Loc-RIB.
    pub const LOC_RIB_PER_FAMILY: u16 = 10;
    /// Updates subjected to treat-as-withdraw (RFC 7606).
    pub const TREAT_AS_WITHDRAW_UPDATES: u16 = 11;
    /// Prefixes subjected to treat-as-withdraw.
    pub const TREAT_AS_WITHDRAW_PREFIXES: u16 = 12;
    /// Duplicate update messages received.
    pub const DUPLICATE_UPDATES: u16 = 13;
    /// Routes in pre-policy Adj-RIB-Out (RFC 8671).
    pub const ADJ_RIB_OUT_PRE_ROUTES: u16 = 14;
    /// Routes in post-policy Adj-RIB-Out (RFC 8671).
    pub const ADJ_RIB_OUT_POST_ROUTES: u16 = 15;
}

/// A statistic: its type and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// Stat type ([`stat`]).
    pub kind: u16,
    /// Value.
    pub value: StatValue,
}

/// Why a peer went down (RFC 7854 §4.9, RFC 9069 §4.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerDownReason {
    /// 1: the local system closed the session with this NOTIFICATION (whole BGP PDU).
    LocalNotification(Bytes),
    /// 2: the local system closed the session without a NOTIFICATION; the FSM event code.
    LocalNoNotification(u16),
    /// 3: the remote system closed the session with this NOTIFICATION (whole BGP PDU).
    RemoteNotification(Bytes),
    /// 4: the remote system closed the session without data.
    RemoteNoData,
    /// 5: the peer was de-configured; monitoring ends.
    PeerDeconfigured,
    /// 6: the local system closed the session, information in TLVs (RFC 9069).
    LocalTlvs(Vec<Tlv>),
    /// Any other reason with its data, kept raw.
    Other(u8, Bytes),
}

impl PeerDownReason {
    /// The wire code.
    pub fn code(&self) -> u8 {
        match self {
            PeerDownReason::LocalNotification(_) => 1,
            PeerDownReason::LocalNoNotification(_) => 2,
            PeerDownReason::RemoteNotification(_) => 3,
            PeerDownReason::RemoteNoData => 4,
            PeerDownReason::PeerDeconfigured => 5,
            PeerDownReason::LocalTlvs(_) => 6,
            PeerDownReason::Other(c, _) => *c,
        }
    }
}

/// A Peer Up Notification's body (RFC 7854 §4.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerUp {
    /// The local address of the monitored session.
    pub local_address: IpAddr,
    /// The local TCP port.
    pub local_port: u16,
    /// The remote TCP port.
    pub remote_port: u16,
    /// The OPEN the router sent (whole BGP PDU).
    pub sent_open: Bytes,
    /// The OPEN the router received (whole BGP PDU).
    pub received_open: Bytes,
    /// Information TLVs.
    pub information: Vec<Tlv>,
}

/// One BMP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Route Monitoring (0): one BGP UPDATE PDU (whole message, header included).
    RouteMonitoring {
        /// Per-peer header.
        peer: PeerHeader,
        /// The UPDATE.
        update: Bytes,
    },
    /// Statistics Report (1).
    StatisticsReport {
        /// Per-peer header.
        peer: PeerHeader,
        /// The statistics.
        stats: Vec<Stat>,
    },
    /// Peer Down Notification (2).
    PeerDown {
        /// Per-peer header.
        peer: PeerHeader,
        /// Reason and its data.
        reason: PeerDownReason,
    },
    /// Peer Up Notification (3).
    PeerUp {
        /// Per-peer header.
        peer: PeerHeader,
        /// Addresses, ports, both OPENs, TLVs.
        up: Box<PeerUp>,
    },
    /// Initiation (4): information TLVs (sysName, sysDescr, strings).
    Initiation(Vec<Tlv>),
    /// Termination (5): information TLVs (reason, strings).
    Termination(Vec<Tlv>),
    /// Route Mirroring (6): TLVs carrying BGP messages or information codes.
    RouteMirroring {
        /// Per-peer header.
        peer: PeerHeader,
        /// The mirroring TLVs.
        tlvs: Vec<Tlv>,
    },
}

impl Message {
    /// The message type code.
    pub fn msg_type(&self) -> u8 {
        match self {
            Message::RouteMonitoring { .. } => msg_type::ROUTE_MONITORING,
            Message::StatisticsReport { .. } => msg_type::STATISTICS_REPORT,
            Message::PeerDown { .. } => msg_type::PEER_DOWN,
            Message::PeerUp { .. } => msg_type::PEER_UP,
            Message::Initiation(_) => msg_type::INITIATION,
            Message::Termination(_) => msg_type::TERMINATION,
            Message::RouteMirroring { .. } => msg_type::ROUTE_MIRRORING,
        }
    }
    /// The per-peer header, for the messages that have one.
    pub fn peer(&self) -> Option<&PeerHeader> {
        match self {
            Message::RouteMonitoring { peer, .. }
            | Message::StatisticsReport { peer, .. }
            | Message::PeerDown { peer, .. }
            | Message::PeerUp { peer, .. }
            | Message::RouteMirroring { peer, .. } => Some(peer),
            Message::Initiation(_) | Message::Termination(_) => None,
        }
    }
    /// An Initiation message with sysName and sysDescr.
    pub fn initiation(sys_name: &str, sys_descr: &str) -> Self {
        Message::Initiation(vec![
            Tlv::string(tlv::SYS_NAME, sys_name),
            Tlv::string(tlv::SYS_DESCR, sys_descr),
        ])
    }
}

/// An IPv4 address in the 16-octet form BMP uses (zeros then the four octets).
pub(crate) fn ip16(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => {
            let mut b = [0u8; 16];
            b[12..].copy_from_slice(&v4.octets());
            b
        }
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The address from 16 octets: IPv6 when `v6`, else the last four octets.
pub(crate) fn ip_from16(b: [u8; 16], v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(b))
    } else {
        IpAddr::V4(Ipv4Addr::new(b[12], b[13], b[14], b[15]))
    }
}
