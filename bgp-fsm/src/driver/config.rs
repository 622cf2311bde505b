//! [`PeerConfig`]: one peer as the driver sees it, and its state machine configuration.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bgp_wire::message::{AddPathMode, BgpRole};
use bgp_wire::{Afi, AfiSafi, Capability};

use crate::config::{GracefulRestartConfig, SessionConfig};

/// Configuration of one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// Our AS.
    pub local_as: u32,
    /// The peer's AS (equal to `local_as` for iBGP).
    pub peer_as: u32,
    /// Our BGP Identifier.
    pub router_id: Ipv4Addr,
    /// The peer's address.
    pub peer_addr: IpAddr,
    /// The scope id (interface index, RFC 4007 zone) of a link-local IPv6 `peer_addr`
    /// (`fe80::1%eth0`; see [`super::parse_scoped_addr`]): connections go out on that
    /// interface and only connections arriving on it are taken. 0 (default): none.
    pub scope_id: u32,
    /// The peer's TCP port. Default 179.
    pub peer_port: u16,
    /// Source address of outgoing connections.
    pub local_addr: Option<IpAddr>,
    /// Hold time we propose. Default 90 s.
    pub hold_time: u16,
    /// Minimum hold time accepted from the peer (0: RFC 4271 only; above 0 also refuses 0).
    pub min_hold_time: u16,
    /// Keepalive interval; default a third of the negotiated hold time.
    pub keepalive: Option<u16>,
    /// ConnectRetryTime. Default 120 s (RFC 4271); jittered 0.75-1.0.
    pub connect_retry: Duration,
    /// Never connect out; wait for the peer.
    pub passive: bool,
    /// TCP MD5 signature password (RFC 2385), at most 80 octets.
    pub md5_password: Option<String>,
    /// TTL (IPv6 hop limit) of our packets. `None`: 1 for eBGP, so a single-hop eBGP session
    /// never reaches past the directly connected peer (as FRR, BIRD and GoBGP default to), and
    /// the system default for iBGP. Set it for eBGP multihop. Ignored with GTSM.
    pub ttl: Option<u8>,
    /// GTSM (RFC 5082): send with TTL 255 and drop packets that arrive with TTL below 254.
    pub gtsm: bool,
    /// Families to negotiate. Default IPv4 unicast.
    pub families: Vec<AfiSafi>,
    /// Extended next-hop tuples (RFC 8950).
    pub extended_next_hop: Vec<(AfiSafi, Afi)>,
    /// ADD-PATH modes (RFC 7911).
    pub add_path: Vec<(AfiSafi, AddPathMode)>,
    /// DelayOpenTime, if DelayOpen is wanted.
    pub delay_open: Option<Duration>,
    /// Base IdleHoldTime before an automatic reconnect, doubled after each consecutive failure
    /// up to 120 s (peer oscillation damping). `None`: 1 s.
    pub idle_hold: Option<Duration>,
    /// Advertise Route Refresh. Default true.
    pub route_refresh: bool,
    /// Advertise Enhanced Route Refresh. Default false.
    pub enhanced_route_refresh: bool,
    /// Advertise Extended Message. Default false.
    pub extended_message: bool,
    /// Graceful Restart to advertise.
    pub graceful_restart: Option<GracefulRestartConfig>,
    /// Capabilities the peer must advertise (else 2/7).
    pub required_capabilities: Vec<Capability>,
    /// Our BGP Role towards this eBGP peer (RFC 9234).
    pub role: Option<BgpRole>,
    /// RFC 9234 strict mode: the peer must announce a role.
    pub strict_role: bool,
}

impl PeerConfig {
    /// A peer with defaults: port 179, hold 90 s, ConnectRetry 120 s, active, IPv4 unicast,
    /// Route Refresh.
    pub fn new(local_as: u32, peer_as: u32, router_id: Ipv4Addr, peer_addr: IpAddr) -> Self {
        PeerConfig {
            local_as,
            peer_as,
            router_id,
            peer_addr,
            scope_id: 0,
            peer_port: 179,
            local_addr: None,
            hold_time: 90,
            min_hold_time: 0,
            keepalive: None,
            connect_retry: Duration::from_secs(120),
            passive: false,
            md5_password: None,
            ttl: None,
            gtsm: false,
            families: vec![AfiSafi::IPV4_UNICAST],
            extended_next_hop: Vec::new(),
            add_path: Vec::new(),
            delay_open: None,
            idle_hold: None,
            route_refresh: true,
            enhanced_route_refresh: false,
            extended_message: false,
            graceful_restart: None,
            required_capabilities: Vec::new(),
            role: None,
            strict_role: false,
        }
    }

    /// The state machine's view of this configuration.
    pub fn session_config(&self) -> SessionConfig {
        let mut s = SessionConfig::new(self.local_as, self.peer_as, self.router_id);
        s.hold_time = self.hold_time;
        s.min_hold_time = self.min_hold_time;
        s.keepalive = self.keepalive;
        s.connect_retry = self.connect_retry;
        s.passive = self.passive;
        s.delay_open = self.delay_open;
        if let Some(d) = self.idle_hold {
            s.idle_hold_time = d;
        }
        s.families = self.families.clone();
        s.extended_next_hop = self.extended_next_hop.clone();
        s.add_path = self.add_path.clone();
        s.route_refresh = self.route_refresh;
        s.enhanced_route_refresh = self.enhanced_route_refresh;
        s.extended_message = self.extended_message;
        s.graceful_restart = self.graceful_restart.clone();
        s.required_capabilities = self.required_capabilities.clone();
        s.role = self.role;
        s.strict_role = self.strict_role;
        // Distinct peers get distinct jitter sequences.
        let mut seed = u64::from(u32::from(self.router_id)) << 32;
        match self.peer_addr {
            IpAddr::V4(a) => seed ^= u64::from(u32::from(a)),
            IpAddr::V6(a) => seed ^= (u128::from(a) as u64) ^ ((u128::from(a) >> 64) as u64),
        }
        s.jitter_seed = seed ^ u64::from(self.peer_port);
        s
    }
}
