//! Static configuration of one BGP session as the state machine sees it.

use std::net::Ipv4Addr;
use std::time::Duration;

use bgp_wire::message::{AddPathMode, BgpRole, GracefulRestartFamily};
use bgp_wire::{Afi, AfiSafi, Capability};

/// Graceful Restart parameters we advertise (RFC 4724).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GracefulRestartConfig {
    /// Restart time in seconds (12 bits; larger values are clamped to 4095).
    pub restart_time: u16,
    /// Set the Restart State (R) bit.
    pub restart_state: bool,
    /// Set the Notification (N) bit (RFC 8538).
    pub notification: bool,
    /// Families whose forwarding state we preserve across a restart.
    pub families: Vec<GracefulRestartFamily>,
}

/// Everything the state machine needs to know about one session.
///
/// Times follow RFC 4271 §10. Defaults come from [`SessionConfig::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our AS number (4-octet; AS_TRANS goes in the OPEN when it does not fit 2 octets).
    pub local_as: u32,
    /// The AS the peer must announce.
    pub peer_as: u32,
    /// Our BGP Identifier.
    pub router_id: Ipv4Addr,
    /// Hold time we propose in seconds (0, or 3 and more). Default 90.
    pub hold_time: u16,
    /// Minimum hold time we accept from the peer, in seconds (like FRR's `bgp
    /// minimum-holdtime`). 0 (default): RFC 4271 alone (0, or 3 and more). Above 0, a peer
    /// proposing less, including 0 (no keepalives at all), is refused with OPEN Message Error /
    /// Unacceptable Hold Time (2/6).
    pub min_hold_time: u16,
    /// Keepalive interval in seconds; `None` means a third of the negotiated hold time.
    pub keepalive: Option<u16>,
    /// ConnectRetryTime. Default 120 s.
    pub connect_retry: Duration,
    /// PassiveTcpEstablishment: starts wait for the peer to connect, and the session never
    /// connects out (ConnectRetryTimer expiry in Active keeps listening).
    pub passive: bool,
    /// DelayOpen with its DelayOpenTime: wait this long for the peer's OPEN before sending ours.
    pub delay_open: Option<Duration>,
    /// AllowAutomaticStart: after the session goes down (other than by a manual stop), restart
    /// it automatically once the IdleHoldTimer expires. Default true.
    pub allow_automatic_start: bool,
    /// IdleHoldTime: time spent in Idle before an automatic restart. Default 1 s.
    pub idle_hold_time: Duration,
    /// DampPeerOscillations: double the IdleHoldTime after each consecutive failure, up to
    /// [`SessionConfig::idle_hold_max`]. Default true.
    pub damp_peer_oscillations: bool,
    /// Upper bound of the damped IdleHoldTime. Default 120 s.
    pub idle_hold_max: Duration,
    /// SendNOTIFICATIONwithoutOPEN: send a NOTIFICATION for errors found before our OPEN went out.
    pub send_notification_without_open: bool,
    /// Address families we offer (Multiprotocol capabilities). Default IPv4 unicast.
    pub families: Vec<AfiSafi>,
    /// Advertise the 4-octet AS capability. Default true.
    pub four_octet_as: bool,
    /// Advertise Route Refresh. Default true.
    pub route_refresh: bool,
    /// Advertise Enhanced Route Refresh. Default false.
    pub enhanced_route_refresh: bool,
    /// Advertise Extended Message. Default false.
    pub extended_message: bool,
    /// Extended Next Hop tuples (NLRI family, next-hop AFI) we offer. Default none.
    pub extended_next_hop: Vec<(AfiSafi, Afi)>,
    /// ADD-PATH modes we offer per family. Default none.
    pub add_path: Vec<(AfiSafi, AddPathMode)>,
    /// Graceful Restart, if advertised.
    pub graceful_restart: Option<GracefulRestartConfig>,
    /// Capabilities the peer must advertise; a missing one is refused with NOTIFICATION 2/7
    /// carrying the capability. Matched by code, and for Multiprotocol also by family.
    pub required_capabilities: Vec<Capability>,
    /// Our BGP Role towards this (eBGP) peer (RFC 9234): sent as the Role capability and
    /// checked against the peer's (Role Mismatch 2/11 on a wrong pair). Default none.
    pub role: Option<BgpRole>,
    /// RFC 9234 strict mode: refuse a peer that sends no Role capability (2/11).
    pub strict_role: bool,
    /// Seed of the deterministic jitter generator (RFC 4271 §10 jitter of 0.75-1.0).
    pub jitter_seed: u64,
}

impl SessionConfig {
    /// A configuration with RFC 4271 defaults: hold 90 s, ConnectRetry 120 s, IPv4 unicast,
    /// 4-octet AS and Route Refresh advertised, automatic restart with damping from 1 s.
    pub fn new(local_as: u32, peer_as: u32, router_id: Ipv4Addr) -> Self {
        SessionConfig {
            local_as,
            peer_as,
            router_id,
            hold_time: 90,
            min_hold_time: 0,
            keepalive: None,
            connect_retry: Duration::from_secs(120),
            passive: false,
            delay_open: None,
            allow_automatic_start: true,
            idle_hold_time: Duration::from_secs(1),
            damp_peer_oscillations: true,
            idle_hold_max: Duration::from_secs(120),
            send_notification_without_open: false,
            families: vec![AfiSafi::IPV4_UNICAST],
            four_octet_as: true,
            route_refresh: true,
            enhanced_route_refresh: false,
            extended_message: false,
            extended_next_hop: Vec::new(),
            add_path: Vec::new(),
            graceful_restart: None,
            required_capabilities: Vec::new(),
            role: None,
            strict_role: false,
            jitter_seed: 0x5EED_0F6B,
        }
    }

    /// True for an internal (iBGP) session.
    pub fn is_ibgp(&self) -> bool {
        self.local_as == self.peer_as
    }
}
