//! Configuration of the `announce` speaker: command-line flags and the same keys in a
//! TOML file, plus `[[neighbor]]`, `[[pool]]` and `[[service]]` tables, validated into a
//! [`Config`] with errors that name the key and the value.
//!
//! ```toml
//! local-as = 64512
//! peer = ["192.168.1.1"]
//! peer-as = 64512
//! hold-time = 9
//! keepalive = 3
//! community = ["64512:100"]
//!
//! [[pool]]
//! name = "default"
//! cidr = "172.16.10.0/24"
//!
//! [[service]]
//! name = "web"
//! pool = "default"
//! health = { http = "http://127.0.0.1:8080/healthz", interval-ms = 1000, rise = 1, fall = 2 }
//! ```
//!
//! Length: about 990 lines of code for one configuration (every flag, its TOML key and the
//! validation that names both); the rest is tests.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bgp_wire::AfiSafi;
use bgp_wire::attr::{Community, LargeCommunity};
use ipnet::IpNet;
use serde::Deserialize;

use crate::advert::{DesiredSet, NextHop, RouteAttrs};
use crate::bfd::BfdConfig;
use crate::health::{HealthCheck, Probe};
use crate::pool::{self, PoolError, Request};
use crate::session::PeerSettings;

/// The default listening address: `[::]:179`, which also accepts IPv4 peers (dual-stack).
/// Where IPv6 is disabled, `announce` falls back to [`DEFAULT_LISTEN_V4`].
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 179);
/// The fallback listening address when IPv6 is not available.
pub const DEFAULT_LISTEN_V4: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 179);

/// A configuration error, naming the offending key and value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown key or a value of the wrong type.
    #[error("config file {path}: {message}")]
    Parse {
        /// File.
        path: PathBuf,
        /// The TOML parser's message (it names the key).
        message: String,
    },
    /// A value is not acceptable.
    #[error("invalid value for `{key}`: `{value}`: {reason}")]
    Invalid {
        /// Key (flag name without dashes, or `service.NAME.key`).
        key: String,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// A required key is missing.
    #[error("missing required setting `{0}`")]
    Missing(&'static str),
    /// Address allocation failed.
    #[error(transparent)]
    Pool(#[from] PoolError),
}

pub(crate) fn invalid(
    key: impl Into<String>,
    value: impl ToString,
    reason: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// The command line of `announce`. Every flag has the same key in the TOML file.
#[derive(Debug, Clone, Default, clap::Parser)]
#[command(
    name = "announce",
    about = "Announce Kubernetes LoadBalancer service IPs to BGP routers",
    long_about = "Announce Kubernetes LoadBalancer service IPs to BGP routers.\n\n\
Every flag can also be given in the TOML file named by --config, under the same key \
(e.g. `local-as = 64512`, `peer = [\"192.168.1.1\"]`). Scalar flags override the file; \
repeatable flags add to the file's lists. The file can also hold [[neighbor]] tables \
(per-peer settings), [[pool]] tables (name, cidr) and [[service]] tables (name, ip or pool, next-hop, \
community, large-community, local-pref, med, health = { http | tcp | command, interval-ms, \
timeout-ms, rise, fall }).\n\nSignals: SIGHUP reloads the file and applies only the \
difference; SIGTERM and SIGINT withdraw everything, close the sessions with an \
administrative shutdown message and exit 0; SIGUSR2 exits at once without withdrawing, for a \
restart (with --graceful-restart the routers keep the routes meanwhile)."
)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Our AS number (1..=4294967295; 4-octet ASNs are supported).
    #[arg(long, value_name = "ASN")]
    pub local_as: Option<u32>,
    /// BGP identifier (default: the first IPv4 address of a session).
    #[arg(long, value_name = "IPV4")]
    pub router_id: Option<String>,
    /// A peer to connect to, ADDR or ADDR:PORT (an IPv6 address with a port in brackets); repeatable.
    #[arg(long, value_name = "ADDR[:PORT]")]
    pub peer: Vec<String>,
    /// The peers' AS number (equal to --local-as for iBGP).
    #[arg(long, value_name = "ASN")]
    pub peer_as: Option<u32>,
    /// A prefix to announce, e.g. 172.16.10.0/32; repeatable.
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Vec<String>,
    /// Next hop: `self` (the session's local address) or an address.
    #[arg(long, value_name = "self|ADDR")]
    pub next_hop: Option<String>,
    /// Standard community ASN:VALUE (or a well-known name); repeatable.
    #[arg(long, value_name = "ASN:VALUE")]
    pub community: Vec<String>,
    /// Large community GLOBAL:LOCAL1:LOCAL2; repeatable.
    #[arg(long, value_name = "G:L1:L2")]
    pub large_community: Vec<String>,
    /// LOCAL_PREF for iBGP peers.
    #[arg(long, value_name = "N")]
    pub local_pref: Option<u32>,
    /// MULTI_EXIT_DISC.
    #[arg(long, value_name = "N")]
    pub med: Option<u32>,
    /// Extra copies of our AS prepended for eBGP peers.
    #[arg(long, value_name = "N")]
    pub as_path_prepend: Option<u8>,
    /// Hold time in seconds (0 or >= 3; default 90).
    #[arg(long, value_name = "SECONDS")]
    pub hold_time: Option<u16>,
    /// Keepalive interval in seconds (default hold-time / 3).
    #[arg(long, value_name = "SECONDS")]
    pub keepalive: Option<u16>,
    /// Initial connect-retry interval in seconds (default 5; backs off).
    #[arg(long, value_name = "SECONDS")]
    pub connect_retry: Option<u16>,
    /// TCP MD5 password for every peer (RFC 2385).
    #[arg(long, value_name = "SECRET")]
    pub password: Option<String>,
    /// Never connect out; wait for the peers to connect.
    #[arg(long)]
    pub passive: bool,
    /// Source address of our connections.
    #[arg(long, value_name = "ADDR")]
    pub source_address: Option<String>,
    /// IP TTL (IPv6 hop limit) of our BGP packets. Default: 1 on eBGP sessions (single hop),
    /// the system default on iBGP. Set it for eBGP multihop.
    #[arg(long, value_name = "N")]
    pub ttl: Option<u8>,
    /// Advertise Graceful Restart (RFC 4724) with this restart time (1-4095 s): if announce
    /// dies without a clean shutdown, the router keeps its routes that long, and the restarted
    /// announce refreshes them. A clean exit (SIGTERM) still withdraws.
    #[arg(long, value_name = "SECONDS")]
    pub graceful_restart: Option<u16>,
    /// Listening address (default `[::]:179`, dual-stack; `0.0.0.0:179` without IPv6).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// Do not listen; only connect out.
    #[arg(long)]
    pub no_listen: bool,
    /// Print events as JSON lines on stdout.
    #[arg(long)]
    pub json: bool,
    /// Import received routes into a RIB (best path, ECMP) instead of ignoring them;
    /// imports are reported as events.
    #[arg(long)]
    pub import: bool,
    /// Serve Prometheus metrics on this address.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<String>,
    /// On shutdown, first re-advertise with GRACEFUL_SHUTDOWN (RFC 8326) and wait this long.
    #[arg(long, value_name = "SECONDS")]
    pub graceful_shutdown_drain: Option<u64>,
    /// The administrative shutdown message sent to peers on exit (RFC 9003).
    #[arg(long, value_name = "TEXT")]
    pub shutdown_message: Option<String>,
    /// BFD (RFC 5880/5881) on every peer: alone for 300 ms x 3, or
    /// `min-rx-ms=100,min-tx-ms=100,multiplier=3` (also `passive`, `echo`,
    /// `echo-interval-ms`, `auth`, `key-id`, `key-file`, `multihop`, `min-ttl`); `off` to
    /// disable. A BFD Down takes the BGP session down at once.
    #[arg(long, value_name = "SPEC", num_args = 0..=1, default_missing_value = "",
          value_parser = parse_bfd_flag)]
    pub bfd: Option<BfdConfig>,
}

fn parse_bfd_flag(s: &str) -> Result<BfdConfig, String> {
    let c = BfdConfig::parse_flag(s).map_err(|e| e.to_string())?;
    BfdConfig::resolve("bfd", Some(&c), None).map_err(|e| e.to_string())?;
    Ok(c)
}

/// The TOML file: the flags' keys plus tables.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    /// See [`Cli::local_as`].
    pub local_as: Option<u32>,
    /// See [`Cli::router_id`].
    pub router_id: Option<String>,
    /// See [`Cli::peer`].
    #[serde(default)]
    pub peer: Vec<String>,
    /// See [`Cli::peer_as`].
    pub peer_as: Option<u32>,
    /// See [`Cli::prefix`].
    #[serde(default)]
    pub prefix: Vec<String>,
    /// See [`Cli::next_hop`].
    pub next_hop: Option<String>,
    /// See [`Cli::community`].
    #[serde(default)]
    pub community: Vec<String>,
    /// See [`Cli::large_community`].
    #[serde(default)]
    pub large_community: Vec<String>,
    /// See [`Cli::local_pref`].
    pub local_pref: Option<u32>,
    /// See [`Cli::med`].
    pub med: Option<u32>,
    /// See [`Cli::as_path_prepend`].
    pub as_path_prepend: Option<u8>,
    /// See [`Cli::hold_time`].
    pub hold_time: Option<u16>,
    /// See [`Cli::keepalive`].
    pub keepalive: Option<u16>,
    /// See [`Cli::connect_retry`].
    pub connect_retry: Option<u16>,
    /// See [`Cli::password`].
    pub password: Option<String>,
    /// See [`Cli::passive`].
    pub passive: Option<bool>,
    /// See [`Cli::source_address`].
    pub source_address: Option<String>,
    /// See [`Cli::ttl`].
    pub ttl: Option<u8>,
    /// See [`Cli::graceful_restart`].
    pub graceful_restart: Option<u16>,
    /// See [`Cli::listen`].
    pub listen: Option<String>,
    /// See [`Cli::no_listen`].
    pub no_listen: Option<bool>,
    /// See [`Cli::json`].
    pub json: Option<bool>,
    /// See [`Cli::import`].
    pub import: Option<bool>,
    /// See [`Cli::metrics`].
    pub metrics: Option<String>,
    /// See [`Cli::graceful_shutdown_drain`].
    pub graceful_shutdown_drain: Option<u64>,
    /// See [`Cli::shutdown_message`].
    pub shutdown_message: Option<String>,
    /// See [`Cli::bfd`]: `true`, `false` or `{ min-rx-ms, min-tx-ms, multiplier, passive,
    /// echo, echo-interval-ms, auth, key-id, key | key-file, accept-keys, multihop,
    /// min-ttl }`.
    pub bfd: Option<BfdConfig>,
    /// Peers with their own settings.
    #[serde(default)]
    pub neighbor: Vec<NeighborConfig>,
    /// Address pools.
    #[serde(default)]
    pub pool: Vec<PoolConfig>,
    /// Services.
    #[serde(default)]
    pub service: Vec<ServiceConfig>,
}

/// A `[[neighbor]]` table: one peer, overriding the global session settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NeighborConfig {
    /// ADDR or ADDR:PORT.
    pub address: String,
    /// Peer AS (else the global `peer-as`).
    pub peer_as: Option<u32>,
    /// Password.
    pub password: Option<String>,
    /// Hold time.
    pub hold_time: Option<u16>,
    /// Keepalive.
    pub keepalive: Option<u16>,
    /// Connect-retry.
    pub connect_retry: Option<u16>,
    /// Passive.
    pub passive: Option<bool>,
    /// Source address.
    pub source_address: Option<String>,
    /// TTL (default 1 on eBGP; set for eBGP multihop).
    pub ttl: Option<u8>,
    /// Graceful Restart restart time (else the global `graceful-restart`).
    pub graceful_restart: Option<u16>,
    /// BFD for this peer (else the global `bfd`); `false` turns it off.
    pub bfd: Option<BfdConfig>,
}

/// A `[[pool]]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PoolConfig {
    /// Pool name.
    pub name: String,
    /// The network, e.g. `172.16.10.0/24`.
    pub cidr: String,
}

/// A `[[service]]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServiceConfig {
    /// Service name (unique).
    pub name: String,
    /// A fixed service address.
    pub ip: Option<String>,
    /// Or a pool to allocate from.
    pub pool: Option<String>,
    /// Next hop override (`self` or an address), e.g. an IPv6 next hop for an IPv6 service
    /// announced over an IPv4 session.
    pub next_hop: Option<String>,
    /// Communities (replace the global ones when given).
    pub community: Option<Vec<String>>,
    /// Large communities (replace the global ones when given).
    pub large_community: Option<Vec<String>>,
    /// LOCAL_PREF override.
    pub local_pref: Option<u32>,
    /// MED override.
    pub med: Option<u32>,
    /// Health check gating the announcement.
    pub health: Option<HealthConfig>,
}

/// A service's `health` table: exactly one of `http`, `tcp`, `command`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HealthConfig {
    /// `http://host:port/path`.
    pub http: Option<String>,
    /// `ADDR:PORT`.
    pub tcp: Option<String>,
    /// Program and arguments.
    pub command: Option<Vec<String>>,
    /// Milliseconds between probes (default 1000).
    pub interval_ms: Option<u64>,
    /// Probe timeout in milliseconds (default 1000).
    pub timeout_ms: Option<u64>,
    /// Successes to become healthy (default 1).
    pub rise: Option<u32>,
    /// Failures to become unhealthy (default 1).
    pub fall: Option<u32>,
}

/// One service after validation and allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Name.
    pub name: String,
    /// Its address, announced as a host prefix.
    pub addr: IpAddr,
    /// Attributes.
    pub attrs: RouteAttrs,
    /// Health check.
    pub health: Option<HealthCheck>,
}

impl Service {
    /// The host prefix (/32 or /128) of the service address.
    pub fn prefix(&self) -> IpNet {
        IpNet::from(self.addr)
    }
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Our AS.
    pub local_as: u32,
    /// Router id from the configuration (else derived by [`Config::router_id`]).
    pub router_id: Option<Ipv4Addr>,
    /// Peers (router id not yet resolved: see [`Config::peer_settings`]).
    pub peers: Vec<PeerSettings>,
    /// Prefixes from `prefix`, always announced.
    pub prefixes: DesiredSet,
    /// Services.
    pub services: Vec<Service>,
    /// Listening address; None with `no-listen`. Default [`DEFAULT_LISTEN`] (`[::]:179`,
    /// dual-stack).
    pub listen: Option<SocketAddr>,
    /// JSON events.
    pub json: bool,
    /// Import received routes into a RIB.
    pub import: bool,
    /// Metrics address.
    pub metrics: Option<SocketAddr>,
    /// Drain time with GRACEFUL_SHUTDOWN before withdrawing, on shutdown.
    pub graceful_shutdown_drain: Option<Duration>,
    /// Shutdown message.
    pub shutdown_message: String,
}

/// Read and parse a TOML file.
pub fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    read_file_as(path)
}

/// Parse TOML text (the path is only used in errors).
pub fn parse_toml(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    parse_toml_as(path, text)
}

/// Parse TOML text into any configuration type, errors naming the file (shared with the
/// router's `--config`, [`crate::router::config`]).
pub(crate) fn parse_toml_as<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })
}

/// Read a TOML file into any configuration type.
pub(crate) fn read_file_as<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_toml_as(path, &text)
}

/// Parse `ADDR`, `ADDR:PORT` or `[V6]:PORT`.
pub fn parse_peer(key: &str, s: &str) -> Result<(IpAddr, u16), ConfigError> {
    if let Ok(a) = s.parse::<IpAddr>() {
        return Ok((a, 179));
    }
    s.parse::<SocketAddr>()
        .map(|sa| (sa.ip(), sa.port()))
        .map_err(|_| invalid(key, s, "expected ADDR, ADDR:PORT or [IPV6]:PORT"))
}

/// Parse a community: `ASN:VALUE` (each 0..=65535) or a well-known name.
pub fn parse_community(key: &str, s: &str) -> Result<Community, ConfigError> {
    let upper = s.to_ascii_uppercase().replace('-', "_");
    for c in [
        Community::GRACEFUL_SHUTDOWN,
        Community::ACCEPT_OWN,
        Community::BLACKHOLE,
        Community::NO_EXPORT,
        Community::NO_ADVERTISE,
        Community::NO_EXPORT_SUBCONFED,
        Community::NOPEER,
    ] {
        if c.well_known_name() == Some(upper.as_str()) {
            return Ok(c);
        }
    }
    let (a, v) = s
        .split_once(':')
        .ok_or_else(|| invalid(key, s, "expected ASN:VALUE with both parts in 0..=65535"))?;
    match (a.parse::<u16>(), v.parse::<u16>()) {
        (Ok(a), Ok(v)) => Ok(Community::new(a, v)),
        _ => Err(invalid(
            key,
            s,
            "expected ASN:VALUE with both parts in 0..=65535",
        )),
    }
}

/// Parse a large community `GLOBAL:LOCAL1:LOCAL2` (each a 32-bit number).
pub fn parse_large_community(key: &str, s: &str) -> Result<LargeCommunity, ConfigError> {
    let parts: Vec<&str> = s.split(':').collect();
    let nums: Option<Vec<u32>> = parts.iter().map(|p| p.parse().ok()).collect();
    match nums.as_deref() {
        Some([g, l1, l2]) => Ok(LargeCommunity {
            global: *g,
            local1: *l1,
            local2: *l2,
        }),
        _ => Err(invalid(
            key,
            s,
            "expected GLOBAL:LOCAL1:LOCAL2 with 32-bit numbers",
        )),
    }
}

pub(crate) fn parse_prefix(key: &str, s: &str) -> Result<IpNet, ConfigError> {
    if let Ok(p) = s.parse::<IpNet>() {
        if p.trunc() != p {
            return Err(invalid(
                key,
                s,
                format!("host bits set; did you mean {}?", p.trunc()),
            ));
        }
        return Ok(p);
    }
    if let Ok(a) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(a));
    }
    Err(invalid(key, s, "expected a prefix like 172.16.10.0/32"))
}

pub(crate) fn parse_addr(key: &str, s: &str) -> Result<IpAddr, ConfigError> {
    s.parse()
        .map_err(|_| invalid(key, s, "expected an IPv4 or IPv6 address"))
}

fn parse_sockaddr(key: &str, s: &str) -> Result<SocketAddr, ConfigError> {
    s.parse()
        .map_err(|_| invalid(key, s, "expected ADDR:PORT (use [V6]:PORT for IPv6)"))
}

fn check_timers(prefix: &str, hold: u16, keepalive: u16) -> Result<(), ConfigError> {
    if hold == 1 || hold == 2 {
        return Err(invalid(
            format!("{prefix}hold-time"),
            hold,
            "must be 0 or at least 3 seconds (RFC 4271)",
        ));
    }
    if hold != 0 && keepalive >= hold {
        return Err(invalid(
            format!("{prefix}keepalive"),
            keepalive,
            format!("must be less than hold-time ({hold})"),
        ));
    }
    Ok(())
}

impl FileConfig {
    /// Overlay the command line: scalar flags win, repeatable flags are appended.
    pub fn overlay(mut self, cli: &Cli) -> FileConfig {
        macro_rules! scalar {
            ($($f:ident),*) => { $( if cli.$f.is_some() { self.$f = cli.$f.clone(); } )* };
        }
        scalar!(
            local_as,
            router_id,
            peer_as,
            next_hop,
            local_pref,
            med,
            as_path_prepend,
            hold_time,
            keepalive,
            connect_retry,
            password,
            source_address,
            ttl,
            graceful_restart,
            listen,
            metrics,
            graceful_shutdown_drain,
            shutdown_message,
            bfd
        );
        self.peer.extend(cli.peer.iter().cloned());
        self.prefix.extend(cli.prefix.iter().cloned());
        self.community.extend(cli.community.iter().cloned());
        self.large_community
            .extend(cli.large_community.iter().cloned());
        if cli.passive {
            self.passive = Some(true);
        }
        if cli.no_listen {
            self.no_listen = Some(true);
        }
        if cli.json {
            self.json = Some(true);
        }
        if cli.import {
            self.import = Some(true);
        }
        self
    }

    /// Validate into a [`Config`], allocating service addresses from pools.
    pub fn validate(&self) -> Result<Config, ConfigError> {
        let local_as = self.local_as.ok_or(ConfigError::Missing("local-as"))?;
        if local_as == 0 {
            return Err(invalid("local-as", 0, "AS 0 is reserved (RFC 7607)"));
        }
        let router_id = match &self.router_id {
            None => None,
            Some(s) => {
                let id: Ipv4Addr = s
                    .parse()
                    .map_err(|_| invalid("router-id", s, "expected an IPv4 address"))?;
                if id.is_unspecified() {
                    return Err(invalid("router-id", s, "must not be 0.0.0.0"));
                }
                Some(id)
            }
        };
        let hold = self.hold_time.unwrap_or(90);
        let keepalive = self.keepalive.unwrap_or(hold / 3);
        check_timers("", hold, keepalive)?;
        let connect_retry = self.connect_retry.unwrap_or(5).max(1);
        let source = self
            .source_address
            .as_deref()
            .map(|s| parse_addr("source-address", s))
            .transpose()?;

        let global_bfd = BfdConfig::resolve("bfd", self.bfd.as_ref(), None)?;

        // Peers.
        let mut peers: BTreeMap<IpAddr, PeerSettings> = BTreeMap::new();
        let base = |addr: IpAddr, port: u16, peer_as: u32| {
            let mut s = PeerSettings::new(
                addr,
                local_as,
                peer_as,
                router_id.unwrap_or(Ipv4Addr::UNSPECIFIED),
            );
            s.port = port;
            s.hold_time = hold;
            s.keepalive = keepalive;
            s.connect_retry = Duration::from_secs(u64::from(connect_retry));
            s.password = self.password.clone().filter(|p| !p.is_empty());
            s.passive = self.passive.unwrap_or(false);
            s.source_address = source;
            s.ttl = self.ttl;
            s.graceful_restart = self.graceful_restart;
            s.bfd = global_bfd.clone();
            s
        };
        for p in &self.peer {
            let (addr, port) = parse_peer("peer", p)?;
            let peer_as = self.peer_as.ok_or(ConfigError::Missing("peer-as"))?;
            if peers.insert(addr, base(addr, port, peer_as)).is_some() {
                return Err(invalid("peer", p, "peer listed twice"));
            }
        }
        for n in &self.neighbor {
            let (addr, port) = parse_peer("neighbor.address", &n.address)?;
            let peer_as = n
                .peer_as
                .or(self.peer_as)
                .ok_or(ConfigError::Missing("peer-as"))?;
            let mut s = base(addr, port, peer_as);
            if let Some(h) = n.hold_time {
                s.hold_time = h;
                if n.keepalive.is_none() {
                    s.keepalive = h / 3;
                }
            }
            if let Some(k) = n.keepalive {
                s.keepalive = k;
            }
            check_timers(&format!("neighbor.{addr}."), s.hold_time, s.keepalive)?;
            if let Some(c) = n.connect_retry {
                s.connect_retry = Duration::from_secs(u64::from(c.max(1)));
            }
            if let Some(p) = &n.password {
                s.password = Some(p.clone()).filter(|p| !p.is_empty());
            }
            if let Some(p) = n.passive {
                s.passive = p;
            }
            if let Some(a) = &n.source_address {
                s.source_address = Some(parse_addr(&format!("neighbor.{addr}.source-address"), a)?);
            }
            if n.ttl.is_some() {
                s.ttl = n.ttl;
            }
            if n.graceful_restart.is_some() {
                s.graceful_restart = n.graceful_restart;
            }
            s.bfd = BfdConfig::resolve(
                &format!("neighbor.{addr}.bfd"),
                self.bfd.as_ref(),
                n.bfd.as_ref(),
            )?;
            if peers.insert(addr, s).is_some() {
                return Err(invalid("neighbor.address", &n.address, "peer listed twice"));
            }
        }
        // Multihop BFD runs between fixed addresses (RFC 5883 §3).
        if let Some(p) = peers
            .values()
            .find(|p| p.bfd.as_ref().is_some_and(|b| b.multihop) && p.source_address.is_none())
        {
            return Err(invalid(
                format!("neighbor.{}.bfd.multihop", p.address),
                "true",
                "multihop BFD needs the neighbour's source-address",
            ));
        }
        // The Echo function runs on IPv4 single-hop sessions (RFC 5883 §3 leaves it out
        // of multihop; our driver sends IPv4 Echo packets only). Asked for in a
        // neighbour's own table, anything else is an error; inherited from the global
        // setting, it is dropped for that neighbour.
        for p in peers.values_mut() {
            let Some(b) = p.bfd.as_mut() else { continue };
            if b.echo.is_none() || !(b.multihop || p.address.is_ipv6()) {
                continue;
            }
            let own = self.neighbor.iter().any(|n| {
                n.address.parse::<IpAddr>().ok() == Some(p.address)
                    && matches!(&n.bfd, Some(BfdConfig::Params(bp)) if bp.echo == Some(true))
            });
            if own {
                return Err(invalid(
                    format!("neighbor.{}.bfd.echo", p.address),
                    "true",
                    "BFD Echo runs on IPv4 single-hop sessions only",
                ));
            }
            b.echo = None;
        }
        for s in peers.values() {
            if let Some(t) = s.graceful_restart
                && !(1..=4095).contains(&t)
            {
                return Err(invalid(
                    "graceful-restart",
                    t,
                    "restart time must be 1 to 4095 seconds (a 12-bit field, RFC 4724)",
                ));
            }
            if s.password.as_ref().is_some_and(|p| p.len() > 80) {
                return Err(invalid(
                    "password",
                    "(hidden)",
                    "TCP MD5 keys are at most 80 bytes",
                ));
            }
            if let Some(src) = s.source_address
                && src.is_ipv4() != s.address.is_ipv4()
            {
                return Err(invalid(
                    "source-address",
                    src,
                    format!("address family differs from peer {}", s.address),
                ));
            }
        }

        // Route attributes.
        let next_hop = match &self.next_hop {
            None => NextHop::SelfAddr,
            Some(s) => s
                .parse()
                .map_err(|_| invalid("next-hop", s, "expected `self` or an address"))?,
        };
        let communities = self
            .community
            .iter()
            .map(|c| parse_community("community", c))
            .collect::<Result<Vec<_>, _>>()?;
        let large = self
            .large_community
            .iter()
            .map(|c| parse_large_community("large-community", c))
            .collect::<Result<Vec<_>, _>>()?;
        if communities.len() > 255 {
            return Err(invalid(
                "community",
                communities.len(),
                "at most 255 communities (they must fit one UPDATE)",
            ));
        }
        if large.len() > 255 {
            return Err(invalid(
                "large-community",
                large.len(),
                "at most 255 large communities (they must fit one UPDATE)",
            ));
        }
        let attrs = RouteAttrs {
            next_hop,
            communities,
            large_communities: large,
            local_pref: self.local_pref,
            med: self.med,
            as_path_prepend: self.as_path_prepend.unwrap_or(0),
        };
        let mut prefixes = DesiredSet::new();
        for p in &self.prefix {
            prefixes.insert(parse_prefix("prefix", p)?, attrs.clone());
        }

        // Pools and services.
        let mut pools = BTreeMap::new();
        for p in &self.pool {
            let net: IpNet = p.cidr.parse().map_err(|_| {
                invalid(
                    format!("pool.{}.cidr", p.name),
                    &p.cidr,
                    "expected a network like 172.16.10.0/24",
                )
            })?;
            if pools.insert(p.name.clone(), net.trunc()).is_some() {
                return Err(invalid("pool.name", &p.name, "pool defined twice"));
            }
        }
        let mut requests = BTreeMap::new();
        let mut by_name = BTreeMap::new();
        for s in &self.service {
            let key = |k: &str| format!("service.{}.{k}", s.name);
            if s.name.is_empty() {
                return Err(invalid("service.name", "", "must not be empty"));
            }
            let req = match (&s.ip, &s.pool) {
                (Some(ip), None) => Request::Address(parse_addr(&key("ip"), ip)?),
                (None, Some(pool)) => Request::Pool(pool.clone()),
                (Some(ip), Some(_)) => {
                    return Err(invalid(
                        key("ip"),
                        ip,
                        "give either `ip` or `pool`, not both",
                    ));
                }
                (None, None) => {
                    return Err(invalid(key("ip"), "", "a service needs `ip` or `pool`"));
                }
            };
            if requests.insert(s.name.clone(), req).is_some() {
                return Err(invalid("service.name", &s.name, "service defined twice"));
            }
            let mut a = attrs.clone();
            if let Some(c) = &s.community {
                a.communities = c
                    .iter()
                    .map(|c| parse_community(&key("community"), c))
                    .collect::<Result<_, _>>()?;
            }
            if let Some(c) = &s.large_community {
                a.large_communities = c
                    .iter()
                    .map(|c| parse_large_community(&key("large-community"), c))
                    .collect::<Result<_, _>>()?;
            }
            if s.local_pref.is_some() {
                a.local_pref = s.local_pref;
            }
            if let Some(nh) = &s.next_hop {
                a.next_hop = nh
                    .parse()
                    .map_err(|_| invalid(key("next-hop"), nh, "expected `self` or an address"))?;
            }
            if s.med.is_some() {
                a.med = s.med;
            }
            let health = s
                .health
                .as_ref()
                .map(|h| validate_health(&key("health"), h))
                .transpose()?;
            by_name.insert(s.name.clone(), (a, health));
        }
        let alloc = pool::allocate(&pools, &requests)?;
        let services = alloc
            .into_iter()
            .filter_map(|(name, addr)| {
                let (attrs, health) = by_name.remove(&name)?;
                Some(Service {
                    name,
                    addr,
                    attrs,
                    health,
                })
            })
            .collect();

        let no_listen = self.no_listen.unwrap_or(false);
        let listen = if no_listen {
            None
        } else {
            Some(match &self.listen {
                Some(l) => parse_sockaddr("listen", l)?,
                // Dual-stack: IPv4 peers arrive as v4-mapped addresses.
                None => DEFAULT_LISTEN,
            })
        };
        if listen.is_none()
            && let Some(p) = peers.values().find(|p| p.passive)
        {
            return Err(invalid(
                "passive",
                p.address,
                "a passive peer needs listening; remove `no-listen`",
            ));
        }
        let metrics = self
            .metrics
            .as_deref()
            .map(|m| parse_sockaddr("metrics", m))
            .transpose()?;
        let shutdown_message = self
            .shutdown_message
            .clone()
            .unwrap_or_else(|| "kube-bgp speaker shutting down".to_string());
        if shutdown_message.len() > 255 {
            return Err(invalid(
                "shutdown-message",
                &shutdown_message,
                "at most 255 bytes (RFC 9003)",
            ));
        }
        Ok(Config {
            local_as,
            router_id,
            peers: peers.into_values().collect(),
            prefixes,
            services,
            listen,
            json: self.json.unwrap_or(false),
            import: self.import.unwrap_or(false),
            metrics,
            graceful_shutdown_drain: self
                .graceful_shutdown_drain
                .filter(|d| *d > 0)
                .map(Duration::from_secs),
            shutdown_message,
        })
    }
}

fn validate_health(key: &str, h: &HealthConfig) -> Result<HealthCheck, ConfigError> {
    let probe = match (&h.http, &h.tcp, &h.command) {
        (Some(url), None, None) => {
            let (addr, host, path) = crate::health::parse_http_url(url)
                .map_err(|reason| invalid(format!("{key}.http"), url, reason))?;
            Probe::Http { addr, host, path }
        }
        (None, Some(t), None) => Probe::Tcp(parse_sockaddr(&format!("{key}.tcp"), t)?),
        (None, None, Some(c)) if !c.is_empty() => Probe::Command(c.clone()),
        (None, None, Some(_)) => {
            return Err(invalid(format!("{key}.command"), "[]", "must not be empty"));
        }
        _ => {
            return Err(invalid(
                key,
                "",
                "give exactly one of `http`, `tcp`, `command`",
            ));
        }
    };
    Ok(HealthCheck {
        probe,
        interval: Duration::from_millis(h.interval_ms.unwrap_or(1000).max(10)),
        timeout: Duration::from_millis(h.timeout_ms.unwrap_or(1000).max(10)),
        rise: h.rise.unwrap_or(1).max(1),
        fall: h.fall.unwrap_or(1).max(1),
    })
}

/// The local address the kernel would use to reach `peer` (no packet is sent).
pub fn route_source(peer: IpAddr) -> Option<IpAddr> {
    let bind: SocketAddr = if peer.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let s = std::net::UdpSocket::bind(bind).ok()?;
    s.connect(SocketAddr::new(peer, 179)).ok()?;
    s.local_addr().ok().map(|a| a.ip())
}

impl Config {
    /// The router id: configured, or else the first IPv4 address of a session (its source
    /// address, or the address the kernel routes from towards an IPv4 peer).
    pub fn router_id(&self) -> Result<Ipv4Addr, ConfigError> {
        if let Some(id) = self.router_id {
            return Ok(id);
        }
        for p in &self.peers {
            let src = p.source_address.or_else(|| {
                if p.address.is_ipv4() {
                    route_source(p.address)
                } else {
                    None
                }
            });
            if let Some(IpAddr::V4(a)) = src
                && !a.is_unspecified()
            {
                return Ok(a);
            }
        }
        Err(ConfigError::Missing(
            "router-id (no session has an IPv4 address to take it from)",
        ))
    }

    /// Peer settings with the router id filled in.
    pub fn peer_settings(&self) -> Result<Vec<PeerSettings>, ConfigError> {
        if self.peers.is_empty() {
            return Ok(Vec::new());
        }
        let id = self.router_id()?;
        Ok(self
            .peers
            .iter()
            .cloned()
            .map(|mut p| {
                p.router_id = id;
                p.families = vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST];
                p.extended_next_hop = p.address.is_ipv6();
                p
            })
            .collect())
    }

    /// The desired set: the static prefixes plus every service for which `healthy`
    /// returns true (services without a health check are always in).
    pub fn desired(&self, healthy: impl Fn(&str) -> bool) -> DesiredSet {
        let mut d = self.prefixes.clone();
        for s in &self.services {
            if s.health.is_none() || healthy(&s.name) {
                d.insert(s.prefix(), s.attrs.clone());
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn file(text: &str) -> Result<FileConfig, ConfigError> {
        parse_toml(Path::new("test.toml"), text)
    }

    #[test]
    fn flags_parse_and_validate() {
        let cli = Cli::try_parse_from([
            "announce",
            "--local-as",
            "64512",
            "--router-id",
            "192.168.1.10",
            "--peer",
            "192.168.1.1",
            "--peer",
            "[fd00::1]:1790",
            "--peer-as",
            "64512",
            "--prefix",
            "172.16.10.0/32",
            "--community",
            "64512:100",
            "--large-community",
            "64512:1:2",
            "--local-pref",
            "200",
            "--hold-time",
            "9",
            "--keepalive",
            "3",
            "--no-listen",
        ])
        .unwrap();
        let c = FileConfig::default().overlay(&cli).validate().unwrap();
        assert_eq!(c.local_as, 64512);
        assert_eq!(c.peers.len(), 2);
        assert_eq!(c.peers[1].port, 1790);
        assert_eq!(c.peers[0].hold_time, 9);
        assert_eq!(c.listen, None);
        let a = &c.prefixes[&"172.16.10.0/32".parse::<IpNet>().unwrap()];
        assert_eq!(a.communities, vec![Community::new(64512, 100)]);
        assert_eq!(a.local_pref, Some(200));
        assert_eq!(c.router_id().unwrap(), Ipv4Addr::new(192, 168, 1, 10));
        assert!(
            c.peer_settings()
                .unwrap()
                .iter()
                .all(|p| p.router_id == Ipv4Addr::new(192, 168, 1, 10))
        );
    }

    #[test]
    fn file_with_pools_services_and_neighbors() {
        let f = file(
            r#"
local-as = 4200000001
peer-as = 64512
listen = "127.0.0.1:1179"
[[neighbor]]
address = "192.168.1.1"
password = "s3cret"
hold-time = 30
[[pool]]
name = "default"
cidr = "172.16.10.0/24"
[[service]]
name = "web"
pool = "default"
community = ["no-export"]
health = { tcp = "127.0.0.1:8080", interval-ms = 200, rise = 2, fall = 3 }
[[service]]
name = "api"
pool = "default"
[[service]]
name = "six"
ip = "fd00:10::5"
next-hop = "fd00:1::10"
"#,
        )
        .unwrap();
        let c = f.validate().unwrap();
        assert_eq!(c.peers[0].password.as_deref(), Some("s3cret"));
        assert_eq!(c.peers[0].keepalive, 10);
        assert_eq!(c.listen, Some("127.0.0.1:1179".parse().unwrap()));
        // Name order: api gets .0, web gets .1.
        let api = c.services.iter().find(|s| s.name == "api").unwrap();
        let web = c.services.iter().find(|s| s.name == "web").unwrap();
        assert_eq!(api.addr, "172.16.10.0".parse::<IpAddr>().unwrap());
        assert_eq!(web.addr, "172.16.10.1".parse::<IpAddr>().unwrap());
        assert_eq!(web.attrs.communities, vec![Community::NO_EXPORT]);
        assert_eq!(web.health.as_ref().unwrap().rise, 2);
        let six = c.services.iter().find(|s| s.name == "six").unwrap();
        assert_eq!(
            six.attrs.next_hop,
            NextHop::Addr("fd00:1::10".parse().unwrap())
        );
        assert_eq!(api.attrs.next_hop, NextHop::SelfAddr);
        let d = c.desired(|_| false);
        assert_eq!(d.len(), 2, "unhealthy web is left out");
        assert_eq!(c.desired(|_| true).len(), 3);
    }

    #[test]
    fn errors_name_key_and_value() {
        let e = file("local-as = 64512\nhold-tme = 9\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("hold-tme"), "{e}");
        let e = file("local-as = \"x\"\n").unwrap_err().to_string();
        assert!(e.contains("local-as"), "{e}");
        let cases = [
            (
                "local-as = 1\ncommunity = [\"70000:1\"]",
                "`community`: `70000:1`",
            ),
            (
                "local-as = 1\nprefix = [\"10.0.0.1/24\"]",
                "`prefix`: `10.0.0.1/24`",
            ),
            ("local-as = 1\npeer = [\"1.2.3.4\"]", "peer-as"),
            ("local-as = 1\nhold-time = 2", "`hold-time`: `2`"),
            ("local-as = 1\nnext-hop = \"me\"", "`next-hop`: `me`"),
            (
                "local-as = 1\nrouter-id = \"fd00::1\"",
                "`router-id`: `fd00::1`",
            ),
            (
                "local-as = 1\n[[service]]\nname = \"w\"\npool = \"none\"",
                "unknown pool `none`",
            ),
            (
                "local-as = 1\n[[service]]\nname = \"w\"\nip = \"1.1.1.1\"\nhealth = { }",
                "`service.w.health`",
            ),
            ("peer-as = 1", "local-as"),
            (
                "local-as = 1\npeer-as = 1\npeer = [\"10.0.0.1\"]\npassive = true\nno-listen = true",
                "`passive`",
            ),
        ];
        for (text, want) in cases {
            let e = file(text).unwrap().validate().unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn overlay_scalar_wins_lists_append() {
        let f = file("local-as = 1\nprefix = [\"10.0.0.1/32\"]\nmed = 5\n").unwrap();
        let cli =
            Cli::try_parse_from(["announce", "--prefix", "10.0.0.2/32", "--med", "7"]).unwrap();
        let c = f.overlay(&cli).validate().unwrap();
        assert_eq!(c.prefixes.len(), 2);
        assert!(c.prefixes.values().all(|a| a.med == Some(7)));
    }

    #[test]
    fn router_id_falls_back_to_session_address() {
        let f = file("local-as = 1\npeer-as = 1\npeer = [\"127.0.0.1\"]\n").unwrap();
        let c = f.validate().unwrap();
        assert_eq!(c.router_id().unwrap(), Ipv4Addr::new(127, 0, 0, 1));
        let f = file("local-as = 1\npeer-as = 1\npeer = [\"::1\"]\n").unwrap();
        assert!(f.validate().unwrap().router_id().is_err());
    }
}
