//! BFD for the speaker's BGP sessions (RFC 5880 / 5881 via `bgp-bfd`, RFC 5882 for the
//! client side): the `bfd` configuration of `announce`, and the glue that runs one BFD
//! session per configured neighbour next to its BGP session.
//!
//! When a BFD session that was Up goes Down, the BGP session is stopped at once with
//! Cease 6/10 "BFD Down" (RFC 9384) as FRR does, and reconnects as after any automatic
//! stop. A Down caused by the peer signalling AdminDown does not touch BGP (RFC 5882
//! §3.2): the peer's BFD was switched off, not its forwarding.
//!
//! ```toml
//! bfd = { min-rx-ms = 100, min-tx-ms = 100, multiplier = 3 }   # every peer
//!
//! [[neighbor]]
//! address = "192.168.1.2"
//! bfd = false                                                  # not this one
//!
//! [[neighbor]]
//! address = "192.168.1.3"                                      # signed (RFC 5880 §6.7)
//! bfd = { auth = "meticulous-keyed-sha1", key-id = 1, key-file = "/etc/bfd.key" }
//!
//! [[neighbor]]
//! address = "192.168.1.4"
//! [neighbor.bfd]                                               # a key rollover
//! auth = "keyed-sha1"
//! key-id = 2
//! key-file = "/etc/bfd-2.key"
//! accept-keys = [{ key-id = 1, key-file = "/etc/bfd-1.key" }]
//!
//! [[neighbor]]
//! address = "192.168.1.5"                                      # the Echo function
//! bfd = { min-rx-ms = 300, min-tx-ms = 300, echo = true, echo-interval-ms = 50 }
//!
//! [[neighbor]]
//! address = "10.255.0.1"                                       # iBGP between loopbacks
//! source-address = "10.255.0.9"
//! bfd = { multihop = true }                                    # RFC 5883, UDP 4784
//! ```

use std::net::IpAddr;
use std::time::Duration;

use bgp_bfd::driver::MULTIHOP_MIN_TTL;
use bgp_bfd::driver::{Bfd, SessionHandle};
use bgp_bfd::{AuthKey, AuthType, Event, SessionConfig, State};
use bgp_fsm::driver::PeerHandle;
use bgp_wire::Notification;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::config::ConfigError;

/// BFD timers and key of one neighbour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BfdSettings {
    /// Required Min RX Interval.
    pub min_rx: Duration,
    /// Desired Min TX Interval (while Up).
    pub min_tx: Duration,
    /// Detect Mult.
    pub multiplier: u8,
    /// Authentication key, if the packets are signed.
    pub auth: Option<AuthKey>,
    /// Further keys accepted from the peer (a key rollover), of the same type.
    pub accept_keys: Vec<AuthKey>,
    /// Passive role (RFC 5880 §6.1): send nothing until the peer has been heard.
    pub passive: bool,
    /// The Echo function (RFC 5880 §6.4) at this interval: ours runs at it, and the
    /// peer's Echo packets are invited at it (the host loops them back by forwarding).
    /// `None`: off.
    pub echo: Option<Duration>,
    /// A multihop session (RFC 5883) from the neighbour's source address, rather than
    /// single hop.
    pub multihop: bool,
    /// Lowest TTL accepted on a multihop session (default 254: one router in between).
    pub min_ttl: u8,
}

impl Default for BfdSettings {
    /// FRR's default profile: 300 ms x 3.
    fn default() -> Self {
        BfdSettings {
            min_rx: Duration::from_millis(300),
            min_tx: Duration::from_millis(300),
            multiplier: 3,
            auth: None,
            accept_keys: Vec::new(),
            passive: false,
            echo: None,
            multihop: false,
            min_ttl: MULTIHOP_MIN_TTL,
        }
    }
}

impl BfdSettings {
    /// The `bgp-bfd` session configuration for these timers.
    pub fn session_config(&self) -> SessionConfig {
        let mut c = SessionConfig::new(self.min_tx, self.min_rx, self.multiplier);
        c.auth = self.auth.clone();
        c.accept_keys = self.accept_keys.clone();
        c.passive = self.passive;
        if let Some(iv) = self.echo {
            c.echo_tx = Some(iv);
            c.required_min_echo_rx = iv;
        }
        c
    }

    /// Whether `other` can be applied to a running session of these settings (new
    /// timers through a Poll Sequence, new keys at once) rather than by replacing it:
    /// the same kind of session (single hop or multihop, TTL floor) and role.
    pub fn same_session(&self, other: &BfdSettings) -> bool {
        self.multihop == other.multihop
            && self.min_ttl == other.min_ttl
            && self.passive == other.passive
    }
}

/// `bfd = true | false | { min-rx-ms, min-tx-ms, multiplier, passive, echo,
/// echo-interval-ms, auth, key-id, key | key-file, accept-keys, multihop, min-ttl }` in
/// the file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum BfdConfig {
    /// On with the defaults (300 ms x 3), or off (per neighbour: overrides the global key).
    Enabled(bool),
    /// On with these timers; missing keys take the defaults.
    Params(BfdParams),
}

/// The table form of [`BfdConfig`]. A neighbour's table is merged key by key over the
/// global one (a neighbour's own `key` or `key-file` comes with its own `key-id`, default
/// 1). `Debug` hides the key.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BfdParams {
    /// Required Min RX Interval in ms (10-60000; default 300).
    pub min_rx_ms: Option<u32>,
    /// Desired Min TX Interval in ms (10-60000; default 300).
    pub min_tx_ms: Option<u32>,
    /// Detect Mult (2-255; default 3).
    pub multiplier: Option<u8>,
    /// Authentication type: `simple-password`, `keyed-md5`, `meticulous-keyed-md5`,
    /// `keyed-sha1` or `meticulous-keyed-sha1` (default: none).
    pub auth: Option<String>,
    /// Auth Key ID (default 1).
    pub key_id: Option<u8>,
    /// The key (or password) itself: 1-16 octets, 1-20 for SHA1.
    pub key: Option<String>,
    /// A file holding the key (one trailing newline ignored): keeps it out of the
    /// configuration and off the command line.
    pub key_file: Option<std::path::PathBuf>,
    /// Further keys accepted from the peer during a key rollover, each
    /// `{ key-id = N, key = "..." | key-file = "..." }`, of the type of `auth`.
    pub accept_keys: Option<Vec<AcceptKey>>,
    /// Passive role (default false): send nothing until the peer has been heard.
    pub passive: Option<bool>,
    /// The Echo function (default false; IPv4 single hop): needs IP forwarding and
    /// `accept_local` on the node, and the peer's forwarding.
    pub echo: Option<bool>,
    /// Echo interval in ms (10-60000; default 50).
    pub echo_interval_ms: Option<u32>,
    /// Multihop (RFC 5883; default false): for a neighbour that is not directly
    /// connected. Needs the neighbour's `source-address`.
    pub multihop: Option<bool>,
    /// Lowest TTL accepted on a multihop session (1-255; default 254, one router in
    /// between; 255 - N allows N routers).
    pub min_ttl: Option<u8>,
}

impl std::fmt::Debug for BfdParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BfdParams")
            .field("min_rx_ms", &self.min_rx_ms)
            .field("min_tx_ms", &self.min_tx_ms)
            .field("multiplier", &self.multiplier)
            .field("auth", &self.auth)
            .field("key_id", &self.key_id)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("key_file", &self.key_file)
            .field("accept_keys", &self.accept_keys)
            .field("passive", &self.passive)
            .field("echo", &self.echo)
            .field("echo_interval_ms", &self.echo_interval_ms)
            .field("multihop", &self.multihop)
            .field("min_ttl", &self.min_ttl)
            .finish()
    }
}

impl BfdParams {
    /// `self` (a neighbour's table) over `global`, key by key.
    fn over(&self, global: &BfdParams) -> BfdParams {
        let own_key = self.key.is_some() || self.key_file.is_some();
        BfdParams {
            min_rx_ms: self.min_rx_ms.or(global.min_rx_ms),
            min_tx_ms: self.min_tx_ms.or(global.min_tx_ms),
            multiplier: self.multiplier.or(global.multiplier),
            auth: self.auth.clone().or_else(|| global.auth.clone()),
            key_id: if own_key {
                self.key_id
            } else {
                self.key_id.or(global.key_id)
            },
            key: if own_key {
                self.key.clone()
            } else {
                global.key.clone()
            },
            key_file: if own_key {
                self.key_file.clone()
            } else {
                global.key_file.clone()
            },
            accept_keys: if own_key {
                self.accept_keys.clone()
            } else {
                self.accept_keys
                    .clone()
                    .or_else(|| global.accept_keys.clone())
            },
            passive: self.passive.or(global.passive),
            echo: self.echo.or(global.echo),
            echo_interval_ms: self.echo_interval_ms.or(global.echo_interval_ms),
            multihop: self.multihop.or(global.multihop),
            min_ttl: self.min_ttl.or(global.min_ttl),
        }
    }
}

/// One entry of `accept-keys`. `Debug` hides the key.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AcceptKey {
    /// Its Auth Key ID.
    pub key_id: u8,
    /// The key itself.
    pub key: Option<String>,
    /// A file holding the key.
    pub key_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for AcceptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcceptKey")
            .field("key_id", &self.key_id)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("key_file", &self.key_file)
            .finish()
    }
}

fn bad(key: &str, value: impl ToString, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

impl BfdConfig {
    /// Parse the `--bfd` flag: empty (defaults), `off`, or comma-separated
    /// `min-rx-ms=N`, `min-tx-ms=N`, `multiplier=N`, `auth=TYPE`, `key-id=N`,
    /// `key-file=PATH` (no `key=`: a secret on the command line shows in `ps`),
    /// `passive=true|false`, `echo=true|false`, `echo-interval-ms=N`,
    /// `multihop=true|false`, `min-ttl=N`.
    pub fn parse_flag(s: &str) -> Result<BfdConfig, ConfigError> {
        let s = s.trim();
        match s {
            "" | "on" | "true" => return Ok(BfdConfig::Enabled(true)),
            "off" | "false" => return Ok(BfdConfig::Enabled(false)),
            _ => {}
        }
        let mut p = BfdParams::default();
        for kv in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| bad("bfd", kv, "expected KEY=VALUE"))?;
            match k.trim() {
                "auth" => {
                    p.auth = Some(v.trim().to_string());
                    continue;
                }
                "key-file" => {
                    p.key_file = Some(v.trim().into());
                    continue;
                }
                "key" => {
                    return Err(bad(
                        "bfd.key",
                        "<secret>",
                        "not on the command line (it would show in ps): use key-file=PATH",
                    ));
                }
                "multihop" | "passive" | "echo" => {
                    let on = match v.trim() {
                        "true" | "on" => true,
                        "false" | "off" => false,
                        other => return Err(bad(&format!("bfd.{k}"), other, "true or false")),
                    };
                    match k {
                        "multihop" => p.multihop = Some(on),
                        "passive" => p.passive = Some(on),
                        _ => p.echo = Some(on),
                    }
                    continue;
                }
                _ => {}
            }
            let n: u32 = v
                .trim()
                .parse()
                .map_err(|_| bad(&format!("bfd.{}", k.trim()), v, "expected a number"))?;
            match k.trim() {
                "min-rx-ms" => p.min_rx_ms = Some(n),
                "min-tx-ms" => p.min_tx_ms = Some(n),
                "echo-interval-ms" => p.echo_interval_ms = Some(n),
                "multiplier" => {
                    p.multiplier =
                        Some(u8::try_from(n).map_err(|_| bad("bfd.multiplier", n, "2 to 255"))?)
                }
                "min-ttl" => {
                    p.min_ttl =
                        Some(u8::try_from(n).map_err(|_| bad("bfd.min-ttl", n, "1 to 255"))?)
                }
                "key-id" => {
                    p.key_id = Some(u8::try_from(n).map_err(|_| bad("bfd.key-id", n, "0 to 255"))?)
                }
                other => {
                    return Err(bad(
                        "bfd",
                        other,
                        "unknown key (min-rx-ms, min-tx-ms, multiplier, auth, key-id, key-file, passive, echo, echo-interval-ms, multihop, min-ttl)",
                    ));
                }
            }
        }
        Ok(BfdConfig::Params(p))
    }

    /// The effective settings of a neighbour: its own `bfd` table merged over the global
    /// one, or the global one alone; its own `true` / `false` switch BFD on (with the
    /// global table, if any) or off. `key` names the key in errors.
    pub fn resolve(
        key: &str,
        global: Option<&BfdConfig>,
        neighbor: Option<&BfdConfig>,
    ) -> Result<Option<BfdSettings>, ConfigError> {
        let global_params = match global {
            Some(BfdConfig::Params(g)) => Some(g),
            _ => None,
        };
        let merged;
        let p = match (neighbor.or(global), global_params) {
            (None | Some(BfdConfig::Enabled(false)), _) => return Ok(None),
            (Some(BfdConfig::Enabled(true)), None) => return Ok(Some(BfdSettings::default())),
            (Some(BfdConfig::Enabled(true)), Some(g)) => g,
            (Some(BfdConfig::Params(n)), Some(g)) => {
                merged = n.over(g);
                &merged
            }
            (Some(BfdConfig::Params(n)), None) => n,
        };
        let d = BfdSettings::default();
        let ms = |name: &str, v: Option<u32>, def: Duration| match v {
            None => Ok(def),
            Some(v) if (10..=60_000).contains(&v) => Ok(Duration::from_millis(u64::from(v))),
            Some(v) => Err(bad(&format!("{key}.{name}"), v, "10 to 60000 ms")),
        };
        let multiplier = p.multiplier.unwrap_or(d.multiplier);
        if multiplier < 2 {
            return Err(bad(&format!("{key}.multiplier"), multiplier, "2 to 255"));
        }
        let auth = Self::auth_key(key, p)?;
        Ok(Some(BfdSettings {
            min_rx: ms("min-rx-ms", p.min_rx_ms, d.min_rx)?,
            min_tx: ms("min-tx-ms", p.min_tx_ms, d.min_tx)?,
            multiplier,
            accept_keys: Self::accept_keys(key, p, auth.as_ref())?,
            auth,
            passive: p.passive.unwrap_or(false),
            // (An interval without `echo = true`, e.g. a neighbour switching off the
            // global Echo, is kept for nothing.)
            echo: match p.echo {
                Some(true) => Some(ms(
                    "echo-interval-ms",
                    p.echo_interval_ms,
                    Duration::from_millis(50),
                )?),
                _ => None,
            },
            multihop: p.multihop.unwrap_or(false),
            min_ttl: match p.min_ttl {
                None => d.min_ttl,
                Some(0) => return Err(bad(&format!("{key}.min-ttl"), 0, "1 to 255")),
                Some(t) => t,
            },
        }))
    }

    /// The key of `auth`, `key-id` and `key` or `key-file`, all or nothing.
    fn auth_key(key: &str, p: &BfdParams) -> Result<Option<AuthKey>, ConfigError> {
        let Some(name) = &p.auth else {
            if p.key.is_some() || p.key_file.is_some() || p.key_id.is_some() {
                return Err(bad(&format!("{key}.auth"), "", "a key needs an auth type"));
            }
            return Ok(None);
        };
        let kind: AuthType = name.parse().map_err(|e: bgp_bfd::UnknownAuthType| {
            bad(&format!("{key}.auth"), name, &e.to_string())
        })?;
        let secret = Self::secret(key, p.key.as_deref(), p.key_file.as_deref())?;
        AuthKey::new(kind, p.key_id.unwrap_or(1), &secret)
            .map(Some)
            .map_err(|e| bad(&format!("{key}.key"), "<secret>", &e.to_string()))
    }

    /// The keys of `accept-keys`, of the type of the signing key `sign`; the signing
    /// key's ID may not repeat among them, nor may theirs.
    fn accept_keys(
        key: &str,
        p: &BfdParams,
        sign: Option<&AuthKey>,
    ) -> Result<Vec<AuthKey>, ConfigError> {
        let list = p.accept_keys.as_deref().unwrap_or_default();
        let Some(sign) = sign else {
            if !list.is_empty() {
                return Err(bad(
                    &format!("{key}.auth"),
                    "",
                    "accept-keys need an auth type",
                ));
            }
            return Ok(Vec::new());
        };
        let at = format!("{key}.accept-keys");
        let mut ids = vec![sign.key_id()];
        let mut out = Vec::new();
        for a in list {
            if ids.contains(&a.key_id) {
                return Err(bad(
                    &at,
                    a.key_id,
                    "each key ID once, the signing key's included",
                ));
            }
            ids.push(a.key_id);
            let secret = Self::secret(&at, a.key.as_deref(), a.key_file.as_deref())?;
            out.push(
                AuthKey::new(sign.kind(), a.key_id, &secret)
                    .map_err(|e| bad(&format!("{at}.key"), "<secret>", &e.to_string()))?,
            );
        }
        Ok(out)
    }

    /// A key given inline or in a file (one trailing line ending ignored), exactly one
    /// of the two.
    fn secret(
        key: &str,
        inline: Option<&str>,
        file: Option<&std::path::Path>,
    ) -> Result<Vec<u8>, ConfigError> {
        match (inline, file) {
            (Some(k), None) => Ok(k.as_bytes().to_vec()),
            (None, Some(f)) => {
                let mut b = std::fs::read(f)
                    .map_err(|e| bad(&format!("{key}.key-file"), f.display(), &e.to_string()))?;
                // One line ending (LF or CRLF) is the file's, not the key's.
                if b.last() == Some(&b'\n') {
                    b.pop();
                    if b.last() == Some(&b'\r') {
                        b.pop();
                    }
                }
                Ok(b)
            }
            _ => Err(bad(
                &format!("{key}.key"),
                "",
                "give the key in exactly one of key and key-file",
            )),
        }
    }
}

/// Start a BFD driver on UDP 3784 for IPv4 and IPv6, or IPv4 alone on a host without
/// IPv6. Must run inside a tokio runtime.
pub fn start_driver() -> std::io::Result<Bfd> {
    use bgp_bfd::driver::DriverConfig;
    Bfd::start(DriverConfig::default()).or_else(|_| {
        Bfd::start(DriverConfig {
            ipv6: false,
            ..DriverConfig::default()
        })
    })
}

/// Cease subcode 10, "BFD Down" (RFC 9384).
pub const CEASE_BFD_DOWN: u8 = 10;

/// Whether a BFD event must take the BGP session down: Up -> Down for any reason but the
/// peer's AdminDown (RFC 5882 §3.2).
pub fn takes_bgp_down(e: &Event) -> bool {
    matches!(
        e,
        Event::StateChange { from: State::Up, to: State::Down, remote, .. }
            if *remote != State::AdminDown
    )
}

/// Where a peer's BFD task gets the driver, when it first needs one (started lazily: a
/// speaker without BFD opens no UDP socket).
pub type DriverSource = std::sync::Arc<dyn Fn() -> Option<Bfd> + Send + Sync>;

/// Run the BFD side of the BGP peer `bgp` (address `peer`) until the sender of
/// `settings` is dropped. `settings` brings what the session should be, the first value
/// at once and later ones on a reload:
/// - `Some` with [`BfdSettings::same_session`] as the running one changes the running
///   session in place: new timers through a Poll Sequence (RFC 5880 §6.8.3), new keys
///   from the next packet on. Neither BFD nor BGP flaps.
/// - `Some` of another kind replaces the session (the old one sends AdminDown first, which
///   by RFC 5882 §3.2 does not take the peer's BGP down).
/// - `None` removes the session (AdminDown as well).
///
/// A multihop session runs from `local` (the neighbour's source address, which
/// configuration validation requires).
pub fn spawn_for_peer(
    driver: DriverSource,
    peer: IpAddr,
    local: Option<IpAddr>,
    bgp: PeerHandle,
    mut settings: mpsc::UnboundedReceiver<Option<BfdSettings>>,
) {
    tokio::spawn(async move {
        let mut running: Option<Running> = None;
        loop {
            tokio::select! {
                want = settings.recv() => {
                    let Some(want) = want else { break };
                    match (running.as_mut(), want) {
                        (Some(r), Some(w)) if r.settings.same_session(&w) => r.change(peer, w),
                        (_, None) => running = None,
                        (_, Some(w)) => {
                            // Drop the old session first: its removal reaches the driver
                            // before the new one is added.
                            drop(running.take());
                            running = Running::start(&driver, peer, local, w).await;
                        }
                    }
                }
                ev = next_event(&mut running) => {
                    let Some(ev) = ev else {
                        running = None;
                        continue;
                    };
                    tracing::info!(%peer, ?ev, "BFD");
                    if takes_bgp_down(&ev) {
                        let cease = Notification::new(6, CEASE_BFD_DOWN);
                        if bgp.automatic_stop(cease).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
    });
}

/// A running BFD session of one peer and the settings it was last given.
struct Running {
    settings: BfdSettings,
    session: SessionHandle,
    events: mpsc::Receiver<Event>,
}

impl Running {
    async fn start(
        driver: &DriverSource,
        peer: IpAddr,
        local: Option<IpAddr>,
        settings: BfdSettings,
    ) -> Option<Running> {
        let Some(bfd) = driver() else {
            tracing::warn!("peer {peer}: BFD configured but no BFD driver could be started");
            return None;
        };
        let cfg = echo_checked(peer, settings.session_config());
        // A session of the same peer being replaced (a BGP restart starts a new BFD task
        // while the old one is still removing its session) is gone within a moment.
        let mut tries = 0;
        let mut session = loop {
            let added = match (settings.multihop, local) {
                (true, Some(local)) => {
                    bfd.add_multihop_session(peer, local, settings.min_ttl, cfg.clone())
                        .await
                }
                (true, None) => {
                    tracing::warn!("peer {peer}: multihop BFD needs a source address; none given");
                    return None;
                }
                (false, _) => bfd.add_session(peer, cfg.clone()).await,
            };
            match added {
                Ok(s) => break s,
                Err(bgp_bfd::driver::DriverError::Duplicate(_)) if tries < 40 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => {
                    tracing::warn!("peer {peer}: no BFD session: {e}");
                    return None;
                }
            }
        };
        let events = session.take_events()?;
        Some(Running {
            settings,
            session,
            events,
        })
    }

    /// Apply `want` to the running session.
    fn change(&mut self, peer: IpAddr, want: BfdSettings) {
        let old = &self.settings;
        if (old.min_tx, old.min_rx, old.multiplier) != (want.min_tx, want.min_rx, want.multiplier) {
            tracing::info!(%peer, ?want.min_tx, ?want.min_rx, want.multiplier, "BFD timers changed");
            self.session
                .set_parameters(want.min_tx, want.min_rx, want.multiplier);
        }
        if old.echo != want.echo {
            tracing::info!(%peer, ?want.echo, "BFD Echo changed");
            let c = echo_checked(peer, want.session_config());
            self.session.set_echo(c.required_min_echo_rx, c.echo_tx);
        }
        if (&old.auth, &old.accept_keys) != (&want.auth, &want.accept_keys) {
            tracing::info!(%peer, "BFD keys changed");
            self.session
                .set_auth(want.auth.clone(), want.accept_keys.clone());
        }
        self.settings = want;
    }
}

/// `cfg` with the invitation to the peer's Echo packets withdrawn when this host does
/// not forward IPv4 (they could not come back, and the peer would fail its Echo).
fn echo_checked(peer: IpAddr, mut cfg: SessionConfig) -> SessionConfig {
    if !cfg.required_min_echo_rx.is_zero() && !host_forwards() {
        tracing::warn!(
            %peer,
            "BFD Echo: IPv4 forwarding is off here (net.ipv4.ip_forward=0), so the peer's \
             Echo packets could not be looped back; not inviting them"
        );
        cfg.required_min_echo_rx = Duration::ZERO;
    }
    cfg
}

/// Whether this network namespace forwards IPv4 (`/proc/sys/net/ipv4/ip_forward`).
fn host_forwards() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").is_ok_and(|v| v.trim() == "1")
}

/// The next event of the running session; pending forever while none runs.
async fn next_event(running: &mut Option<Running>) -> Option<Event> {
    match running {
        Some(r) => r.events.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp_bfd::Diag;

    /// The settings `--bfd=FLAG` alone gives a neighbour.
    fn flag_settings(flag: &str) -> Result<Option<BfdSettings>, ConfigError> {
        BfdConfig::parse_flag(flag).and_then(|c| BfdConfig::resolve("bfd", Some(&c), None))
    }

    #[test]
    fn flag_and_table_forms() {
        assert_eq!(BfdConfig::parse_flag("").unwrap(), BfdConfig::Enabled(true));
        let c = BfdConfig::parse_flag("min-rx-ms=100, min-tx-ms=150,multiplier=4").unwrap();
        let s = BfdConfig::resolve("bfd", Some(&c), None).unwrap().unwrap();
        assert_eq!(
            s,
            BfdSettings {
                min_rx: Duration::from_millis(100),
                min_tx: Duration::from_millis(150),
                multiplier: 4,
                ..BfdSettings::default()
            }
        );
        // A neighbour's own key wins, also to switch BFD off.
        let off = BfdConfig::Enabled(false);
        assert_eq!(
            BfdConfig::resolve("bfd", Some(&c), Some(&off)).unwrap(),
            None
        );
        assert_eq!(BfdConfig::resolve("bfd", None, None).unwrap(), None);
        for bad in [
            "min-rx-ms=5",
            "multiplier=1",
            "multiplier=300",
            "foo=1",
            "min-tx-ms",
        ] {
            assert!(flag_settings(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_keys_per_neighbor_and_global() {
        use clap::Parser;
        let text = r#"
local-as = 64512
peer-as = 64512
router-id = "10.0.0.9"
peer = ["10.0.0.1"]
bfd = { min-rx-ms = 100, min-tx-ms = 100, multiplier = 3 }

[[neighbor]]
address = "10.0.0.2"
bfd = false

[[neighbor]]
address = "10.0.0.3"
bfd = { multiplier = 5 }
"#;
        let f = crate::config::parse_toml(std::path::Path::new("t.toml"), text).unwrap();
        let c = f.validate().unwrap();
        let by = |a: &str| {
            c.peers
                .iter()
                .find(|p| p.address == a.parse::<IpAddr>().unwrap())
                .unwrap()
                .bfd
                .clone()
        };
        let ms = Duration::from_millis;
        assert_eq!(
            by("10.0.0.1"),
            Some(BfdSettings {
                min_rx: ms(100),
                min_tx: ms(100),
                multiplier: 3,
                ..BfdSettings::default()
            })
        );
        assert_eq!(by("10.0.0.2"), None);
        assert_eq!(
            by("10.0.0.3"),
            // Its own multiplier over the global timers.
            Some(BfdSettings {
                min_rx: ms(100),
                min_tx: ms(100),
                multiplier: 5,
                ..BfdSettings::default()
            })
        );
        let e = crate::config::parse_toml(
            std::path::Path::new("t.toml"),
            "local-as = 1\npeer-as = 1\npeer = [\"10.0.0.1\"]\nbfd = { min-rx-ms = 1 }\n",
        )
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("bfd.min-rx-ms"), "{e}");
        // The flag: alone, with timers, overriding the file.
        let cli = crate::config::Cli::try_parse_from([
            "announce",
            "--bfd",
            "min-rx-ms=50,min-tx-ms=60,multiplier=4",
        ])
        .unwrap();
        let c = f.clone().overlay(&cli).validate().unwrap();
        assert!(c.peers.iter().all(|p| {
            p.bfd
                .as_ref()
                .is_some_and(|b| b.multiplier == 4 && b.min_tx == ms(60))
                || p.address == "10.0.0.2".parse::<IpAddr>().unwrap()
                || p.address == "10.0.0.3".parse::<IpAddr>().unwrap()
        }));
        let cli = crate::config::Cli::try_parse_from(["announce", "--bfd", "--json"]).unwrap();
        assert_eq!(cli.bfd, Some(BfdConfig::Enabled(true)));
        assert!(crate::config::Cli::try_parse_from(["announce", "--bfd=multiplier=1"]).is_err());
    }

    #[test]
    fn auth_keys_in_file_and_flag() {
        let dir = std::env::temp_dir().join(format!("bfd-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kf = dir.join("key");
        std::fs::write(&kf, "from-file\n").unwrap();
        let text = format!(
            r#"
local-as = 64512
peer-as = 64512
peer = ["10.0.0.1"]
bfd = {{ auth = "keyed-md5", key = "inline", key-id = 7 }}

[[neighbor]]
address = "10.0.0.2"
bfd = {{ auth = "meticulous-keyed-sha1", key-file = "{}" }}
"#,
            kf.display()
        );
        let c = crate::config::parse_toml(std::path::Path::new("t.toml"), &text)
            .unwrap()
            .validate()
            .unwrap();
        let key = |a: &str| {
            c.peers
                .iter()
                .find(|p| p.address == a.parse::<IpAddr>().unwrap())
                .and_then(|p| p.bfd.clone()?.auth)
                .unwrap()
        };
        assert_eq!(
            key("10.0.0.1"),
            AuthKey::new(AuthType::KeyedMd5, 7, b"inline").unwrap()
        );
        assert_eq!(
            key("10.0.0.2"),
            AuthKey::new(AuthType::MeticulousKeyedSha1, 1, b"from-file").unwrap()
        );
        let flag = format!(
            "min-rx-ms=100,auth=simple-password,key-id=3,key-file={}",
            kf.display()
        );
        let s = flag_settings(&flag).unwrap().unwrap();
        assert_eq!(
            s.session_config().auth,
            Some(AuthKey::new(AuthType::SimplePassword, 3, b"from-file").unwrap())
        );
        for bad in [
            "auth=keyed-md5",
            "auth=sha256,key-file=/dev/null",
            "key-id=1",
            "auth=keyed-md5,key-file=/nonexistent/key",
            "auth=keyed-md5,key-file=/dev/null",
            "key=secret",
        ] {
            assert!(flag_settings(bad).is_err(), "{bad}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn accept_keys_and_passive() {
        let dir = std::env::temp_dir().join(format!("bfd-accept-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kf = dir.join("old");
        std::fs::write(&kf, "old-key\r\n").unwrap();
        let parse = |bfd: &str| {
            let text = format!("local-as = 1\npeer-as = 1\npeer = [\"10.0.0.1\"]\nbfd = {bfd}\n");
            crate::config::parse_toml(std::path::Path::new("t.toml"), &text)
                .and_then(|f| f.validate())
                .map(|c| c.peers[0].bfd.clone().unwrap())
        };
        let s = parse(&format!(
            r#"{{ auth = "keyed-sha1", key-id = 2, key = "new-key", passive = true, accept-keys = [{{ key-id = 1, key-file = "{}" }}, {{ key-id = 3, key = "next" }}] }}"#,
            kf.display()
        ))
        .unwrap();
        let k = |id, secret: &[u8]| AuthKey::new(AuthType::KeyedSha1, id, secret).unwrap();
        assert_eq!(s.auth, Some(k(2, b"new-key")));
        assert_eq!(s.accept_keys, vec![k(1, b"old-key"), k(3, b"next")]);
        assert!(s.passive);
        let c = s.session_config();
        assert!(c.passive);
        assert_eq!(c.accept_keys.len(), 2);
        for bad in [
            // The signing key's ID again.
            r#"{ auth = "keyed-sha1", key-id = 2, key = "a", accept-keys = [{ key-id = 2, key = "b" }] }"#,
            // Without a key.
            r#"{ auth = "keyed-sha1", key = "a", accept-keys = [{ key-id = 2 }] }"#,
            // Without authentication.
            r#"{ accept-keys = [{ key-id = 2, key = "b" }] }"#,
            // Too long for SHA1.
            r#"{ auth = "keyed-sha1", key = "a", accept-keys = [{ key-id = 2, key = "123456789012345678901" }] }"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        // Timers and keys may change on a running session; the role and kind may not.
        let mut other = s.clone();
        other.min_tx = Duration::from_millis(50);
        other.accept_keys.clear();
        assert!(s.same_session(&other));
        other.passive = false;
        assert!(!s.same_session(&other));
        // The table form of a neighbour's bfd.
        let text = format!(
            "local-as = 1\npeer-as = 1\n[[neighbor]]\naddress = \"10.0.0.4\"\n[neighbor.bfd]\n\
             auth = \"keyed-sha1\"\nkey-id = 2\nkey = \"new-key\"\n\
             accept-keys = [{{ key-id = 1, key-file = \"{}\" }}]\n",
            kf.display()
        );
        let c = crate::config::parse_toml(std::path::Path::new("t.toml"), &text)
            .unwrap()
            .validate()
            .unwrap();
        let b = c.peers[0].bfd.clone().unwrap();
        assert_eq!(b.auth, Some(k(2, b"new-key")));
        assert_eq!(b.accept_keys, vec![k(1, b"old-key")]);
        assert!(flag_settings("passive=true").unwrap().unwrap().passive);
        // Echo: off by default, 50 ms when on, both directions.
        assert_eq!(flag_settings("").unwrap().unwrap().echo, None);
        let e = flag_settings("echo=true").unwrap().unwrap();
        assert_eq!(e.echo, Some(Duration::from_millis(50)));
        let e = flag_settings("echo=on,echo-interval-ms=30")
            .unwrap()
            .unwrap();
        let c = e.session_config();
        assert_eq!(
            (c.echo_tx, c.required_min_echo_rx),
            (Some(Duration::from_millis(30)), Duration::from_millis(30))
        );
        assert!(flag_settings("echo=on,echo-interval-ms=5").is_err());
        assert_eq!(
            flag_settings("echo-interval-ms=30").unwrap().unwrap().echo,
            None
        );
        // A global echo = true is dropped for an IPv6 neighbour, not an error.
        let text = "local-as = 1\npeer-as = 1\nrouter-id = \"10.0.0.9\"\n\
                    peer = [\"10.0.0.1\", \"fd00::1\"]\nbfd = { echo = true }\n";
        let c = crate::config::parse_toml(std::path::Path::new("t.toml"), text)
            .unwrap()
            .validate()
            .unwrap();
        let echo_of = |a: &str| {
            c.peers
                .iter()
                .find(|p| p.address == a.parse::<IpAddr>().unwrap())
                .and_then(|p| p.bfd.clone())
                .map(|b| b.echo)
        };
        assert_eq!(echo_of("10.0.0.1"), Some(Some(Duration::from_millis(50))));
        assert_eq!(echo_of("fd00::1"), Some(None));
        // Asked for by the neighbour itself: not on multihop, nor to an IPv6 neighbour.
        for (peer, extra, ok) in [
            ("10.0.0.1", "", true),
            ("10.0.0.1", ", multihop = true", false),
            ("fd00::1", "", false),
        ] {
            let src = if extra.is_empty() {
                ""
            } else {
                "source-address = \"10.0.0.9\"\n"
            };
            let text = format!(
                "local-as = 1\npeer-as = 1\nrouter-id = \"10.0.0.9\"\n{src}\
                 [[neighbor]]\naddress = \"{peer}\"\nbfd = {{ echo = true{extra} }}\n"
            );
            let r = crate::config::parse_toml(std::path::Path::new("t.toml"), &text)
                .unwrap()
                .validate();
            match r {
                Ok(_) => assert!(ok, "{peer}{extra} accepted"),
                Err(e) => {
                    assert!(!ok, "{peer}{extra}: {e}");
                    assert!(e.to_string().contains("Echo"), "{e}");
                }
            }
        }
        assert!(flag_settings("passive=maybe").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn multihop_needs_a_source_address() {
        let parse = |t: &str| {
            crate::config::parse_toml(std::path::Path::new("t.toml"), t)
                .unwrap()
                .validate()
        };
        let c = parse(
            "local-as = 1\npeer-as = 1\n[[neighbor]]\naddress = \"10.255.0.1\"\n\
             source-address = \"10.255.0.9\"\nbfd = { multihop = true }\n",
        )
        .unwrap();
        assert!(c.peers[0].bfd.as_ref().unwrap().multihop);
        let e =
            parse("local-as = 1\npeer-as = 1\npeer = [\"10.0.0.1\"]\nbfd = { multihop = true }\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains("source-address"), "{e}");
        let s = flag_settings("multihop=true,multiplier=3")
            .unwrap()
            .unwrap();
        assert!(s.multihop);
        assert!(BfdConfig::parse_flag("multihop=maybe").is_err());
    }

    #[test]
    fn neighbor_tables_merge_over_the_global_one() {
        let global = BfdConfig::parse_flag("auth=keyed-sha1,key-id=4,key-file=/dev/null").unwrap();
        let BfdConfig::Params(mut g) = global else {
            panic!()
        };
        g.key = Some("global-key".into());
        g.key_file = None;
        g.multihop = Some(true);
        let global = BfdConfig::Params(g);
        // A neighbour changing only its multiplier keeps the global key and multihop.
        let n = BfdConfig::parse_flag("multiplier=5,min-ttl=250").unwrap();
        let s = BfdConfig::resolve("bfd", Some(&global), Some(&n))
            .unwrap()
            .unwrap();
        assert_eq!((s.multiplier, s.multihop, s.min_ttl), (5, true, 250));
        assert_eq!(
            s.auth,
            Some(AuthKey::new(AuthType::KeyedSha1, 4, b"global-key").unwrap())
        );
        // `true` takes the global table; `false` switches BFD off.
        let on = BfdConfig::resolve("bfd", Some(&global), Some(&BfdConfig::Enabled(true)))
            .unwrap()
            .unwrap();
        assert!(on.auth.is_some() && on.multihop);
        assert_eq!(on.min_ttl, MULTIHOP_MIN_TTL);
        assert_eq!(
            BfdConfig::resolve("bfd", Some(&global), Some(&BfdConfig::Enabled(false))).unwrap(),
            None
        );
        // The key stays out of Debug and out of the flag.
        assert!(!format!("{global:?}").contains("global-key"));
        let e = BfdConfig::parse_flag("key=hunter2")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2") && e.contains("key-file"), "{e}");
        assert!(flag_settings("min-ttl=0").is_err());
    }

    #[test]
    fn only_a_real_down_takes_bgp_down() {
        let ev = |from, to, remote| Event::StateChange {
            from,
            to,
            diag: Diag::ControlDetectionTimeExpired,
            remote,
        };
        assert!(takes_bgp_down(&ev(State::Up, State::Down, State::Down)));
        assert!(takes_bgp_down(&ev(State::Up, State::Down, State::Up)));
        assert!(!takes_bgp_down(&ev(
            State::Up,
            State::Down,
            State::AdminDown
        )));
        assert!(!takes_bgp_down(&ev(State::Init, State::Down, State::Down)));
        assert!(!takes_bgp_down(&ev(State::Down, State::Init, State::Down)));
        assert!(!takes_bgp_down(&Event::PollSequenceDone));
    }
}
