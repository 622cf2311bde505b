//! The seam between the speaker runtime and a BGP session implementation.
//!
//! The runtime never talks TCP itself: it asks a [`SessionBackend`] to start a session
//! for a [`PeerSettings`], then reads [`SessionEvent`]s and sends UPDATEs through a
//! [`SessionControl`]. The production backend wraps the bgp-fsm tokio driver; tests use
//! an in-memory fake.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bgp_wire::{AfiSafi, Notification, Update, UpdateVerdict};
use tokio::sync::mpsc;

/// Everything that configures one BGP session. Two settings that compare equal give the
/// same session: the runtime restarts a peer only when its settings changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSettings {
    /// The peer's address (the key of the peer in the runtime).
    pub address: IpAddr,
    /// The peer's TCP port (179 by default).
    pub port: u16,
    /// Our AS number (4-octet capable).
    pub local_as: u32,
    /// The peer's AS number; equal to `local_as` for iBGP.
    pub peer_as: u32,
    /// Our BGP identifier.
    pub router_id: std::net::Ipv4Addr,
    /// Source address to bind the TCP connection to.
    pub source_address: Option<IpAddr>,
    /// Proposed hold time in seconds (0 or >= 3).
    pub hold_time: u16,
    /// Keepalive interval in seconds.
    pub keepalive: u16,
    /// Initial connect-retry interval (the driver backs off from it).
    pub connect_retry: Duration,
    /// Never connect out; only accept the peer's connection.
    pub passive: bool,
    /// TCP MD5 signature password (RFC 2385).
    pub password: Option<String>,
    /// IP TTL for eBGP multihop (None: 1 for eBGP, 64 for iBGP as the driver decides).
    pub ttl: Option<u8>,
    /// Address families to negotiate.
    pub families: Vec<AfiSafi>,
    /// Offer RFC 8950 extended next hop (IPv4 NLRI with an IPv6 next hop).
    pub extended_next_hop: bool,
    /// Graceful Restart (RFC 4724) restart time in seconds to advertise, with the
    /// forwarding-state bit set for every family: a helper keeps our routes this long when
    /// the session is lost without a NOTIFICATION (a crash or kill), and the restarted
    /// speaker refreshes them and sends End-of-RIB. `None`: not advertised.
    pub graceful_restart: Option<u16>,
    /// BFD for this peer (None: off). Its Down stops the BGP session at once.
    pub bfd: Option<crate::bfd::BfdSettings>,
}

impl PeerSettings {
    /// Settings with the defaults: port 179, hold 90 s, keepalive 30 s, connect-retry 5 s,
    /// families IPv4 and IPv6 unicast, extended next hop on IPv6 sessions.
    pub fn new(
        address: IpAddr,
        local_as: u32,
        peer_as: u32,
        router_id: std::net::Ipv4Addr,
    ) -> Self {
        PeerSettings {
            address,
            port: 179,
            local_as,
            peer_as,
            router_id,
            source_address: None,
            hold_time: 90,
            keepalive: 30,
            connect_retry: Duration::from_secs(5),
            passive: false,
            password: None,
            ttl: None,
            families: vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST],
            extended_next_hop: address.is_ipv6(),
            graceful_restart: None,
            bfd: None,
        }
    }
    /// True when both sides are in the same AS.
    pub fn is_ibgp(&self) -> bool {
        self.local_as == self.peer_as
    }
    /// The peer's socket address.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.port)
    }
    /// Names of the fields that differ from `other` (for events and logs).
    pub fn changed_fields(&self, other: &PeerSettings) -> Vec<&'static str> {
        let mut v = Vec::new();
        macro_rules! cmp {
            ($($f:ident),*) => { $( if self.$f != other.$f { v.push(stringify!($f)); } )* };
        }
        cmp!(
            address,
            port,
            local_as,
            peer_as,
            router_id,
            source_address,
            hold_time,
            keepalive,
            connect_retry,
            passive,
            password,
            ttl,
            families,
            extended_next_hop,
            graceful_restart,
            bfd
        );
        v
    }
}

/// What a session negotiated, as far as the runtime needs it to build UPDATEs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Our AS.
    pub local_as: u32,
    /// The peer's AS.
    pub peer_as: u32,
    /// The local address of the TCP connection (next hop "self").
    pub local_addr: Option<IpAddr>,
    /// Families both sides negotiated.
    pub families: Vec<AfiSafi>,
    /// Families for which RFC 8950 extended next hop was negotiated.
    pub extended_next_hop: Vec<AfiSafi>,
    /// Largest message the session allows.
    pub max_message_len: usize,
    /// The peer's BGP identifier.
    pub peer_router_id: std::net::Ipv4Addr,
    /// Both sides negotiated 4-octet AS numbers (RFC 6793). When `false`, AS numbers above
    /// 65535 travel as AS_TRANS with AS4_PATH, and received AS4_PATHs are merged.
    pub four_octet_as: bool,
}

impl SessionInfo {
    /// True when both sides are in the same AS.
    pub fn is_ibgp(&self) -> bool {
        self.local_as == self.peer_as
    }
}

/// Something a session reports to the runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// The FSM moved between states (names as the FSM spells them).
    StateChanged {
        /// Old state.
        from: String,
        /// New state.
        to: String,
    },
    /// The session reached Established.
    Established(SessionInfo),
    /// The session left Established or failed to come up.
    Down {
        /// Why.
        reason: String,
    },
    /// An UPDATE arrived, with its RFC 7606 verdict (a session-reset verdict never arrives:
    /// the session resets instead).
    Update(Box<Update>, UpdateVerdict),
    /// The peer asked us to send a family again (ROUTE-REFRESH, RFC 2918).
    RouteRefresh(AfiSafi),
    /// We sent a NOTIFICATION.
    NotificationSent(Notification),
    /// The peer sent a NOTIFICATION.
    NotificationReceived(Notification),
}

/// Errors from a session backend.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The session is not Established or its task has ended.
    #[error("session not established or closed")]
    Closed,
    /// The backend could not start the session.
    #[error("cannot start session: {0}")]
    Start(String),
}

/// Controls one running session.
pub trait SessionControl: Send + Sync {
    /// Queue an UPDATE for sending.
    fn send_update(&self, update: Update) -> Result<(), SessionError>;
    /// Close the session with a Cease / Administrative Shutdown carrying `message`
    /// (RFC 9003), or silently when the session is not Established.
    fn shutdown(&self, message: Option<String>);
    /// Apply new BFD settings (`None`: BFD off) without restarting the BGP session.
    /// Returns false if this backend cannot, and the session must be restarted instead
    /// (the default).
    fn set_bfd(&self, bfd: Option<crate::bfd::BfdSettings>) -> bool {
        let _ = bfd;
        false
    }
}

/// A started session: its events and its control handle.
pub struct SessionIo {
    /// Events from the session, in order; closed when the session task ends.
    pub events: mpsc::UnboundedReceiver<SessionEvent>,
    /// The control handle.
    pub control: Box<dyn SessionControl>,
}

impl std::fmt::Debug for SessionIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionIo").finish_non_exhaustive()
    }
}

/// Starts sessions. Implemented by the bgp-fsm driver adapter and by test fakes.
pub trait SessionBackend: Send + Sync {
    /// Start a session for these settings. Must be called inside a tokio runtime.
    fn start(&self, settings: &PeerSettings) -> Result<SessionIo, SessionError>;
}

/// Human-readable text of a NOTIFICATION (code/subcode names and any RFC 9003 message).
pub fn notification_text(n: &Notification) -> String {
    let name = match (n.code, n.subcode) {
        (1, _) => "Message Header Error".to_string(),
        (2, _) => "OPEN Message Error".to_string(),
        (3, _) => "UPDATE Message Error".to_string(),
        (4, _) => "Hold Timer Expired".to_string(),
        (5, _) => "Finite State Machine Error".to_string(),
        (6, 1) => "Cease/Maximum Number of Prefixes Reached".to_string(),
        (6, 2) => "Cease/Administrative Shutdown".to_string(),
        (6, 3) => "Cease/Peer De-configured".to_string(),
        (6, 4) => "Cease/Administrative Reset".to_string(),
        (6, 5) => "Cease/Connection Rejected".to_string(),
        (6, 6) => "Cease/Other Configuration Change".to_string(),
        (6, 7) => "Cease/Connection Collision Resolution".to_string(),
        (6, 8) => "Cease/Out of Resources".to_string(),
        (6, 9) => "Cease/Hard Reset".to_string(),
        (6, 10) => "Cease/BFD Down".to_string(),
        (6, _) => "Cease".to_string(),
        (7, _) => "ROUTE-REFRESH Message Error".to_string(),
        _ => "Unknown".to_string(),
    };
    let mut s = format!("{} ({}/{})", name, n.code, n.subcode);
    // RFC 9003: Cease 2 and 4 may carry a length-prefixed UTF-8 message.
    if n.code == 6
        && (n.subcode == 2 || n.subcode == 4)
        && let Some((&len, rest)) = n.data.split_first()
        && len > 0
        && usize::from(len) <= rest.len()
        && let Ok(msg) = std::str::from_utf8(&rest[..usize::from(len)])
    {
        s.push_str(": ");
        s.push_str(msg);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn shutdown_message_is_decoded() {
        let mut data = vec![5u8];
        data.extend_from_slice(b"bye!!");
        let n = Notification::with_data(6, 2, Bytes::from(data));
        assert_eq!(
            notification_text(&n),
            "Cease/Administrative Shutdown (6/2): bye!!"
        );
        // A length beyond the data is not read.
        let n = Notification::with_data(6, 2, Bytes::from_static(&[9, b'a']));
        assert_eq!(notification_text(&n), "Cease/Administrative Shutdown (6/2)");
    }

    #[test]
    fn changed_fields_names_only_changes() {
        let a = PeerSettings::new(
            "192.0.2.1".parse().unwrap(),
            64512,
            64512,
            "192.0.2.2".parse().unwrap(),
        );
        let mut b = a.clone();
        assert!(a.changed_fields(&b).is_empty());
        b.hold_time = 9;
        b.password = Some("x".into());
        assert_eq!(a.changed_fields(&b), vec!["hold_time", "password"]);
    }
}
