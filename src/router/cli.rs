//! The command line shared by `examples/router.rs` and `examples/collector.rs`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bgp_rib::policy::{AcceptAll, Policy};
use bgp_rib::role::DenyAll;
use bgp_wire::AfiSafi;
use bgp_wire::message::BgpRole;
use clap::Parser;

use super::output::OutputMode;
use super::{NeighborConfig, RouterConfig, RouterError};

/// Command line of the router (and of the collector, its receive-only mode).
#[derive(Debug, Clone, Parser)]
#[command(about = "BGP router: decision process with ECMP, export, JSON output, optional FIB")]
pub struct RouterArgs {
    /// Our AS.
    #[arg(long)]
    pub local_as: u32,
    /// Our BGP identifier.
    #[arg(long)]
    pub router_id: Ipv4Addr,
    /// A peer address (repeat for several); an IPv6 link-local one with its interface,
    /// `fe80::1%eth0`.
    #[arg(long = "peer", value_parser = parse_peer)]
    pub peers: Vec<ScopedAddr>,
    /// Peer AS: one value for all peers, or one per --peer in order.
    #[arg(long = "peer-as")]
    pub peer_as: Vec<u32>,
    /// Accept incoming connections on this address.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Do not connect out (wait for the peers).
    #[arg(long)]
    pub passive: bool,
    /// TCP port of the peers.
    #[arg(long, default_value_t = 179)]
    pub peer_port: u16,
    /// Source address for outgoing connections.
    #[arg(long)]
    pub local_addr: Option<IpAddr>,
    /// maximum-paths for eBGP and iBGP (1 disables multipath).
    #[arg(long, default_value_t = 1)]
    pub maximum_paths: u16,
    /// maximum-paths for iBGP only (defaults to --maximum-paths).
    #[arg(long)]
    pub maximum_paths_ibgp: Option<u16>,
    /// bgp bestpath as-path multipath-relax.
    #[arg(long)]
    pub multipath_relax: bool,
    /// bgp deterministic-med.
    #[arg(long)]
    pub deterministic_med: bool,
    /// bgp always-compare-med.
    #[arg(long)]
    pub always_compare_med: bool,
    /// bgp bestpath med missing-as-worst.
    #[arg(long)]
    pub missing_as_worst: bool,
    /// Our BGP Role (RFC 9234) towards the eBGP peers: provider, customer, peer, rs
    /// (route server) or rs-client. One value for all, or one per --peer in order. Sends the
    /// Role capability, refuses a wrong pair (Role Mismatch 2/11), and applies the OTC
    /// route-leak rules on import and export.
    #[arg(long = "peer-role", value_parser = parse_role)]
    pub peer_role: Vec<BgpRole>,
    /// RFC 9234 strict mode: refuse a peer that announces no role.
    #[arg(long)]
    pub strict_role: bool,
    /// Turn RFC 8212 off (FRR's `no bgp ebgp-requires-policy`): eBGP neighbours without a
    /// policy then import and export everything. By default the router imports from and
    /// exports to an eBGP neighbour only with an explicit policy (`--import-policy`,
    /// `--export-policy`); the collector (receive-only) imports everything.
    #[arg(long)]
    pub no_ebgp_requires_policy: bool,
    /// Import policy for every neighbour: `accept` (all) or `reject` (none).
    #[arg(long, value_name = "accept|reject", value_parser = parse_policy)]
    pub import_policy: Option<PolicyArg>,
    /// Export policy for every neighbour: `accept` (all) or `reject` (none).
    #[arg(long, value_name = "accept|reject", value_parser = parse_policy)]
    pub export_policy: Option<PolicyArg>,
    /// Hold time to propose.
    #[arg(long, default_value_t = 90)]
    pub hold_time: u16,
    /// Minimum hold time accepted from the peers (FRR's `bgp minimum-holdtime`): a peer
    /// proposing less, or 0, is refused with OPEN error Unacceptable Hold Time (2/6).
    /// 0 (default): RFC 4271 only.
    #[arg(long, default_value_t = 0)]
    pub min_hold_time: u16,
    /// ConnectRetry seconds.
    #[arg(long, default_value_t = 5)]
    pub connect_retry: u64,
    /// Install routes in the kernel routing table (proto bgp).
    #[arg(long)]
    pub fib: bool,
    /// Also negotiate IPv6 unicast.
    #[arg(long)]
    pub ipv6: bool,
    /// Graceful restart helper (RFC 4724): advertise the capability; when a peer that
    /// advertised it loses its session without a NOTIFICATION, keep its routes (stale) until
    /// its End-of-RIB or its restart time.
    #[arg(long)]
    pub graceful_restart: bool,
    /// With --graceful-restart, advertise RFC 8538's Notification (N) bit: when the peer
    /// sets it too, a NOTIFICATION or hold-timer expiry also keeps its routes (stale); a
    /// Cease / Hard Reset flushes them.
    #[arg(long)]
    pub graceful_notification: bool,
    /// maximum-prefix: when a peer's routes in one family (after import, each ADD-PATH path
    /// counted) exceed N, end its session with Cease 6/1 (RFC 4486, family and N as data)
    /// and drop its routes; it is retried after the IdleHoldTime, which doubles each time.
    #[arg(long, value_name = "N")]
    pub max_prefix: Option<u32>,
    /// Per-route output: `json` (one line per Loc-RIB change) or `none`.
    #[arg(long, default_value = "json")]
    pub output: OutputMode,
    /// Print `{"type":"stats","routes":N,"peers":P,...}` whenever the route count changes
    /// (at most every 100 ms, once more when it settles).
    #[arg(long)]
    pub stats: bool,
    /// Reflect routes between iBGP peers (RFC 4456).
    #[arg(long)]
    pub route_reflector: bool,
    /// A peer that is a route-reflector client (repeat; must also be given with --peer).
    #[arg(long = "rr-client")]
    pub rr_clients: Vec<IpAddr>,
    /// A peer that is a route-server client (RFC 7947; repeat; must also be given with
    /// --peer): routes to it keep their AS_PATH (our AS is not prepended), NEXT_HOP and MED.
    /// The clients must not enforce their neighbour's AS first in the path (FRR
    /// `no neighbor X enforce-first-as`, BIRD `enforce first as off`, the default in BIRD 2).
    #[arg(long = "rs-client")]
    pub rs_clients: Vec<IpAddr>,
    /// Route server: every eBGP --peer is a route-server client (as --rs-client for each).
    #[arg(long)]
    pub route_server: bool,
    /// Next hop self towards iBGP peers.
    #[arg(long)]
    pub next_hop_self: bool,
    /// Stream BMP (RFC 7854, Loc-RIB per RFC 9069) to a station at HOST:PORT: peer up/down,
    /// every received UPDATE (pre-policy Adj-RIB-In), Loc-RIB changes, statistics.
    #[arg(long, value_name = "HOST:PORT")]
    pub bmp: Option<SocketAddr>,
    /// Seconds between BMP Statistics Reports.
    #[arg(long, default_value_t = 30)]
    pub bmp_stats_interval: u64,
    /// Write MRT into DIR: a TABLE_DUMP_V2 snapshot `rib.<secs>.mrt` every --mrt-interval
    /// seconds and a BGP4MP_ET update log `updates.<secs>.mrt` (messages received and
    /// session state changes) rotated with each snapshot.
    #[arg(long, value_name = "DIR")]
    pub mrt_dump: Option<std::path::PathBuf>,
    /// Seconds between MRT snapshots.
    #[arg(long, value_name = "S", default_value_t = 300)]
    pub mrt_interval: u64,
    /// TOML file of neighbours and policies ([`super::config`]), merged with the flags;
    /// SIGHUP re-reads it and applies only the difference.
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Serve Prometheus metrics on http://ADDR:PORT/metrics.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<SocketAddr>,
    /// Answer line-delimited JSON queries on this Unix socket (`routerctl`).
    #[arg(long, value_name = "PATH")]
    pub control: Option<std::path::PathBuf>,
}

impl RouterArgs {
    /// The router configuration; `export` off makes a receive-only collector.
    pub fn to_config(&self, export: bool) -> Result<RouterConfig, RouterError> {
        if self.peers.is_empty() && self.config.is_none() {
            return Err(RouterError::Config("at least one --peer".into()));
        }
        if (self.peer_as.is_empty() && !self.peers.is_empty())
            || (self.peer_as.len() > 1 && self.peer_as.len() != self.peers.len())
        {
            return Err(RouterError::Config(
                "--peer-as: one value, or one per --peer".into(),
            ));
        }
        if self.peer_role.len() > 1 && self.peer_role.len() != self.peers.len() {
            return Err(RouterError::Config(
                "--peer-role: one value, or one per --peer".into(),
            ));
        }
        let mut cfg = RouterConfig::new(self.local_as, self.router_id);
        let d = &mut cfg.decision;
        d.max_paths_ebgp = self.maximum_paths;
        d.max_paths_ibgp = self.maximum_paths_ibgp.unwrap_or(self.maximum_paths);
        d.multipath_relax = self.multipath_relax;
        d.deterministic_med = self.deterministic_med;
        d.always_compare_med = self.always_compare_med;
        d.missing_as_worst = self.missing_as_worst;
        cfg.listen = self.listen;
        cfg.export = export;
        cfg.route_reflector = self.route_reflector;
        cfg.fib = self.fib;
        cfg.output = self.output;
        cfg.stats = self.stats;
        cfg.graceful_restart = self.graceful_restart;
        // The collector exports nothing: RFC 8212 would only stop it collecting.
        cfg.ebgp_requires_policy = export && !self.no_ebgp_requires_policy;
        cfg.graceful_notification = self.graceful_notification;
        cfg.max_prefix = self.max_prefix;
        cfg.monitor = super::monitor::MonitorConfig {
            bmp: self.bmp,
            bmp_stats_interval: self.bmp_stats_interval,
            mrt_dump: self.mrt_dump.clone(),
            mrt_interval: self.mrt_interval,
        };
        for (i, addr) in self.peers.iter().enumerate() {
            let peer_as = if self.peer_as.len() == 1 {
                self.peer_as[0]
            } else {
                self.peer_as[i]
            };
            let mut n = NeighborConfig::new(addr.ip, peer_as);
            n.scope_id = addr.scope_id;
            n.port = self.peer_port;
            n.passive = self.passive;
            n.hold_time = self.hold_time;
            n.min_hold_time = self.min_hold_time;
            n.local_addr = self.local_addr;
            n.connect_retry = Duration::from_secs(self.connect_retry.max(1));
            if self.ipv6 {
                n.families = vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST];
            }
            n.rr_client = self.rr_clients.contains(&addr.ip);
            n.next_hop_self = self.next_hop_self;
            n.rs_client = self.route_server || self.rs_clients.contains(&addr.ip);
            n.role = match self.peer_role.len() {
                0 => None,
                1 => Some(self.peer_role[0]),
                _ => self.peer_role.get(i).copied(),
            };
            n.strict_role = self.strict_role;
            n.import = self.import_policy.map(PolicyArg::policy);
            n.export = self.export_policy.map(PolicyArg::policy);
            cfg.neighbors.push(n);
        }
        if let Some(path) = &self.config {
            super::config::merge_file(self, path, &mut cfg, export)?;
        }
        Ok(cfg)
    }
}

/// A `--peer` address with its IPv6 zone (scope id, 0 for none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopedAddr {
    /// The address.
    pub ip: IpAddr,
    /// The interface index of a link-local IPv6 address given as `ADDR%IFACE`, else 0.
    pub scope_id: u32,
}

/// Parse `ADDR` or `ADDR%IFACE` (the interface must exist).
pub fn parse_peer(s: &str) -> Result<ScopedAddr, String> {
    let (ip, scope_id) = bgp_fsm::driver::parse_scoped_addr(s).map_err(|e| e.to_string())?;
    if scope_id == 0 && bgp_fsm::driver::is_link_local(ip) {
        return Err(format!(
            "{s}: a link-local address needs its interface (ADDR%IFACE)"
        ));
    }
    Ok(ScopedAddr { ip, scope_id })
}

/// `--import-policy` / `--export-policy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyArg {
    /// Accept every route unchanged.
    Accept,
    /// Reject every route.
    Reject,
}

impl PolicyArg {
    /// The policy.
    pub fn policy(self) -> Arc<dyn Policy> {
        match self {
            PolicyArg::Accept => Arc::new(AcceptAll),
            PolicyArg::Reject => Arc::new(DenyAll),
        }
    }
}

/// Parse `accept` or `reject`.
pub fn parse_policy(s: &str) -> Result<PolicyArg, String> {
    match s {
        "accept" => Ok(PolicyArg::Accept),
        "reject" => Ok(PolicyArg::Reject),
        _ => Err(format!("unknown policy {s:?} (accept, reject)")),
    }
}

/// A BGP Role as written on the command line (FRR's `local-role` names).
pub fn parse_role(s: &str) -> Result<BgpRole, String> {
    match s {
        "provider" => Ok(BgpRole::Provider),
        "customer" => Ok(BgpRole::Customer),
        "peer" => Ok(BgpRole::Peer),
        "rs" | "rs-server" | "route-server" => Ok(BgpRole::RouteServer),
        "rs-client" | "route-server-client" => Ok(BgpRole::RouteServerClient),
        _ => Err(format!(
            "unknown role {s:?} (provider, customer, peer, rs, rs-client)"
        )),
    }
}

/// Parse the command line and run until Ctrl-C: the whole `main` of the
/// examples. With `--config`, SIGHUP reloads the file; `--metrics` and `--control` start
/// their servers.
pub async fn main(export: bool) -> Result<(), RouterError> {
    let args = RouterArgs::parse();
    let cfg = args.to_config(export)?;
    let hooks = super::config::start_services(&args, export).await?;
    let r = super::run_with(
        cfg,
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
        hooks,
    )
    .await;
    if let Some(p) = &args.control {
        let _ = std::fs::remove_file(p);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collector_flags_parse() {
        let a = RouterArgs::try_parse_from([
            "collector",
            "--local-as",
            "64512",
            "--router-id",
            "10.0.0.1",
            "--peer",
            "10.0.0.2",
            "--peer",
            "10.0.0.3",
            "--peer-as",
            "64512",
            "--maximum-paths",
            "8",
            "--fib",
            "--max-prefix",
            "10",
            "--output",
            "none",
            "--stats",
        ])
        .unwrap();
        let c = a.to_config(false).unwrap();
        assert_eq!(c.neighbors.len(), 2);
        assert_eq!(c.neighbors[0].role, None);
        assert!(!c.export && c.fib && c.stats);
        assert!(!c.ebgp_requires_policy, "a collector imports everything");
        assert_eq!(c.output, OutputMode::None);
        assert_eq!(c.decision.max_paths_ibgp, 8);
        assert!(
            RouterArgs::try_parse_from([
                "x",
                "--local-as",
                "1",
                "--router-id",
                "1.1.1.1",
                "--peer",
                "10.0.0.2",
                "--peer-as",
                "1",
                "--peer-as",
                "2"
            ])
            .unwrap()
            .to_config(true)
            .is_err()
        );
    }

    #[test]
    fn rs_client_flags() {
        let base = [
            "router",
            "--local-as",
            "64512",
            "--router-id",
            "10.0.0.1",
            "--peer",
            "10.0.0.2",
            "--peer",
            "10.0.0.3",
            "--peer-as",
            "65002",
        ];
        let mut one = base.to_vec();
        one.extend(["--rs-client", "10.0.0.3"]);
        let c = RouterArgs::try_parse_from(one)
            .unwrap()
            .to_config(true)
            .unwrap();
        assert!(!c.neighbors[0].rs_client && c.neighbors[1].rs_client);
        let mut all = base.to_vec();
        all.push("--route-server");
        let c = RouterArgs::try_parse_from(all)
            .unwrap()
            .to_config(true)
            .unwrap();
        assert!(c.neighbors.iter().all(|n| n.rs_client));
    }

    #[test]
    fn peer_role_flags() {
        let a = RouterArgs::try_parse_from([
            "router",
            "--local-as",
            "64512",
            "--router-id",
            "10.0.0.1",
            "--peer",
            "10.0.0.2",
            "--peer",
            "10.0.0.3",
            "--peer-as",
            "65001",
            "--peer-role",
            "customer",
            "--peer-role",
            "rs-client",
            "--strict-role",
        ])
        .unwrap();
        let c = a.to_config(true).unwrap();
        assert_eq!(c.neighbors[0].role, Some(BgpRole::Customer));
        assert_eq!(c.neighbors[1].role, Some(BgpRole::RouteServerClient));
        assert!(c.neighbors[1].strict_role);
        assert!(parse_role("boss").is_err());
        assert!(
            c.ebgp_requires_policy,
            "RFC 8212 on by default in the router"
        );
        assert!(c.neighbors[0].import.is_none());
        let c = RouterArgs::try_parse_from([
            "router",
            "--local-as",
            "64512",
            "--router-id",
            "10.0.0.1",
            "--peer",
            "10.0.0.2",
            "--peer-as",
            "65001",
            "--import-policy",
            "accept",
            "--export-policy",
            "reject",
            "--no-ebgp-requires-policy",
            "--min-hold-time",
            "9",
        ])
        .unwrap()
        .to_config(true)
        .unwrap();
        assert!(!c.ebgp_requires_policy);
        assert_eq!(c.neighbors[0].min_hold_time, 9);
        assert!(c.neighbors[0].import.is_some() && c.neighbors[0].export.is_some());
        assert!(parse_policy("maybe").is_err());
        let p = parse_peer("fe80::1%lo").unwrap();
        assert_eq!((p.ip, p.scope_id), ("fe80::1".parse().unwrap(), 1));
        assert!(
            parse_peer("fe80::1").is_err(),
            "link-local needs its interface"
        );
        assert!(parse_peer("fe80::1%no-such-if0").is_err());
        assert_eq!(parse_peer("10.0.0.2").unwrap().scope_id, 0);
    }
}
