//! The five BGP message types and the OPEN capabilities.

use std::net::Ipv4Addr;

use bytes::Bytes;

use crate::afi::{Afi, AfiSafi};
use crate::attr::PathAttribute;
use crate::nlri::Nlri;

/// Message type codes (RFC 4271 §4.1, RFC 2918).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum MessageType {
    /// OPEN (1).
    Open = 1,
    /// UPDATE (2).
    Update = 2,
    /// NOTIFICATION (3).
    Notification = 3,
    /// KEEPALIVE (4).
    Keepalive = 4,
    /// ROUTE-REFRESH (5).
    RouteRefresh = 5,
}

/// A decoded BGP message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Message {
    /// OPEN.
    Open(Open),
    /// UPDATE.
    Update(Update),
    /// NOTIFICATION.
    Notification(Notification),
    /// KEEPALIVE.
    Keepalive,
    /// ROUTE-REFRESH (RFC 2918, RFC 7313).
    RouteRefresh(RouteRefresh),
}

impl Message {
    /// The message's type code.
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::Open(_) => MessageType::Open,
            Message::Update(_) => MessageType::Update,
            Message::Notification(_) => MessageType::Notification,
            Message::Keepalive => MessageType::Keepalive,
            Message::RouteRefresh(_) => MessageType::RouteRefresh,
        }
    }
}

/// AS_TRANS (RFC 6793): the 2-octet stand-in for a 4-octet AS number.
pub const AS_TRANS: u16 = 23456;

/// An OPEN message (RFC 4271 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Open {
    /// BGP version; 4.
    pub version: u8,
    /// The 2-octet My Autonomous System field (AS_TRANS when the real AS needs 4 octets).
    pub my_as: u16,
    /// Proposed hold time in seconds (0 or >= 3).
    pub hold_time: u16,
    /// BGP Identifier.
    pub bgp_id: Ipv4Addr,
    /// Capabilities, flattened from all Capability optional parameters in order.
    pub capabilities: Vec<Capability>,
    /// Optional parameters other than Capabilities (type 2), kept raw (type, value).
    pub other_params: Vec<(u8, Bytes)>,
}

impl Open {
    /// The sender's AS: the 4-octet capability's value if present, else `my_as`.
    pub fn asn(&self) -> u32 {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::FourOctetAs(asn) => Some(*asn),
                _ => None,
            })
            .unwrap_or(u32::from(self.my_as))
    }
    /// Build the `my_as` field for an AS number (AS_TRANS when it does not fit 2 octets).
    pub fn my_as_field(asn: u32) -> u16 {
        u16::try_from(asn).unwrap_or(AS_TRANS)
    }
}

/// ADD-PATH send/receive mode (RFC 7911).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum AddPathMode {
    /// Able to receive (1).
    Receive,
    /// Able to send (2).
    Send,
    /// Both (3).
    Both,
}

impl AddPathMode {
    /// Wire value.
    pub const fn code(self) -> u8 {
        match self {
            AddPathMode::Receive => 1,
            AddPathMode::Send => 2,
            AddPathMode::Both => 3,
        }
    }
    /// Whether this mode includes receiving.
    pub const fn receives(self) -> bool {
        matches!(self, AddPathMode::Receive | AddPathMode::Both)
    }
    /// Whether this mode includes sending.
    pub const fn sends(self) -> bool {
        matches!(self, AddPathMode::Send | AddPathMode::Both)
    }
}

/// One AFI/SAFI entry of the Graceful Restart capability (RFC 4724).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct GracefulRestartFamily {
    /// The family.
    pub af: AfiSafi,
    /// Forwarding state preserved (F bit).
    pub forwarding_preserved: bool,
}

/// One AFI/SAFI entry of the Long-Lived Graceful Restart capability (RFC 9494).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LlgrFamily {
    /// The family.
    pub af: AfiSafi,
    /// Flags octet (F bit is 0x80).
    pub flags: u8,
    /// Long-lived stale time in seconds (24 bits).
    pub stale_time: u32,
}

/// BGP Role values (RFC 9234).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum BgpRole {
    /// Provider (0).
    Provider,
    /// Route server (1).
    RouteServer,
    /// Route server client (2).
    RouteServerClient,
    /// Customer (3).
    Customer,
    /// Peer (4).
    Peer,
    /// Unassigned value.
    Other(u8),
}

/// A capability advertised in OPEN (RFC 5492).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Capability {
    /// Multiprotocol Extensions (1, RFC 4760).
    Multiprotocol(AfiSafi),
    /// Route Refresh (2, RFC 2918).
    RouteRefresh,
    /// Extended Next Hop Encoding (5, RFC 8950): (NLRI family, next-hop AFI) tuples.
    ExtendedNextHop(Vec<(AfiSafi, Afi)>),
    /// Extended Message (6, RFC 8654).
    ExtendedMessage,
    /// BGP Role (9, RFC 9234).
    Role(BgpRole),
    /// Graceful Restart (64, RFC 4724).
    GracefulRestart {
        /// Restart State (R) bit.
        restart_state: bool,
        /// Graceful Notification (N) bit (RFC 8538).
        notification: bool,
        /// Restart time in seconds (12 bits).
        restart_time: u16,
        /// Per-family flags.
        families: Vec<GracefulRestartFamily>,
    },
    /// Support for 4-octet AS numbers (65, RFC 6793) with our AS.
    FourOctetAs(u32),
    /// ADD-PATH (69, RFC 7911).
    AddPath(Vec<(AfiSafi, AddPathMode)>),
    /// Enhanced Route Refresh (70, RFC 7313).
    EnhancedRouteRefresh,
    /// Long-Lived Graceful Restart (71).
    LongLivedGracefulRestart(Vec<LlgrFamily>),
    /// FQDN (73): host name and domain name.
    Fqdn {
        /// Host name.
        hostname: String,
        /// Domain name.
        domain: String,
    },
    /// Any other capability, kept raw so it re-encodes unchanged.
    Unknown {
        /// Capability code.
        code: u8,
        /// Capability value.
        value: Bytes,
    },
}

impl Capability {
    /// The capability code.
    pub fn code(&self) -> u8 {
        match self {
            Capability::Multiprotocol(_) => 1,
            Capability::RouteRefresh => 2,
            Capability::ExtendedNextHop(_) => 5,
            Capability::ExtendedMessage => 6,
            Capability::Role(_) => 9,
            Capability::GracefulRestart { .. } => 64,
            Capability::FourOctetAs(_) => 65,
            Capability::AddPath(_) => 69,
            Capability::EnhancedRouteRefresh => 70,
            Capability::LongLivedGracefulRestart(_) => 71,
            Capability::Fqdn { .. } => 73,
            Capability::Unknown { code, .. } => *code,
        }
    }
}

/// ROUTE-REFRESH message (RFC 2918) with the RFC 7313 subtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RouteRefresh {
    /// The family to refresh (AFI, SAFI; the reserved octet carries the subtype).
    pub af: AfiSafi,
    /// Subtype.
    pub subtype: RouteRefreshSubtype,
}

/// ROUTE-REFRESH subtypes (RFC 7313).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum RouteRefreshSubtype {
    /// Normal route refresh request (0).
    Request,
    /// Beginning of Route Refresh (1).
    BoRR,
    /// End of Route Refresh (2).
    EoRR,
    /// Reserved value (kept).
    Other(u8),
}

/// An UPDATE message (RFC 4271 §4.3).
///
/// IPv4 unicast routes are in `withdrawn` and `nlri`; other families travel in the
/// MP_REACH_NLRI / MP_UNREACH_NLRI attributes inside `attributes`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Update {
    /// Withdrawn IPv4 unicast routes.
    pub withdrawn: Vec<Nlri>,
    /// Path attributes in wire order.
    pub attributes: Vec<PathAttribute>,
    /// Announced IPv4 unicast routes.
    pub nlri: Vec<Nlri>,
}

/// A NOTIFICATION message (RFC 4271 §4.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Notification {
    /// Error code.
    pub code: u8,
    /// Error subcode.
    pub subcode: u8,
    /// Data.
    pub data: Bytes,
}

impl Notification {
    /// A notification with no data.
    pub fn new(code: u8, subcode: u8) -> Self {
        Notification {
            code,
            subcode,
            data: Bytes::new(),
        }
    }
    /// A notification with data.
    pub fn with_data(code: u8, subcode: u8, data: impl Into<Bytes>) -> Self {
        Notification {
            code,
            subcode,
            data: data.into(),
        }
    }
}
