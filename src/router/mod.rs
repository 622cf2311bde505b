//! A BGP router on the three crates: neighbours over the bgp-fsm driver, import policy and
//! the decision process with ECMP in one bgp-rib [`Rib`], export to every other neighbour
//! through bgp-rib update groups (RFC 4271 / RFC 4456 rules; neighbours with the same export
//! parameters share one [`UpdateGroup`]: one Adj-RIB-Out, one export computation and one
//! packed UPDATE stream, split horizon kept per member), optional FIB install, JSON
//! lines and stats on stdout. `examples/router.rs` and `examples/collector.rs` (the
//! receive-only mode, [`RouterConfig::export`] off) are thin front ends of [`run`].
//!
//! ```no_run
//! use kube_bgp::router::{run, NeighborConfig, RouterConfig};
//! # async fn demo() -> Result<(), kube_bgp::router::RouterError> {
//! let mut cfg = RouterConfig::new(64512, "10.0.0.1".parse().unwrap());
//! cfg.listen = Some("0.0.0.0:179".parse().unwrap());
//! cfg.neighbors.push(NeighborConfig::new("10.0.0.2".parse().unwrap(), 65001));
//! cfg.neighbors.push(NeighborConfig::new("10.0.0.3".parse().unwrap(), 65002));
//! run(cfg, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! Flow control: every queue is bounded. The router task reads each driver's own bounded
//! event channel directly (in turn, so one busy neighbour cannot starve the others); a router
//! that cannot keep up leaves them full, the drivers stop reading their sockets and TCP slows
//! the senders. Outgoing UPDATEs are packed from
//! a group's Adj-RIB-Out only when every member's send queue ([`SEND_BATCHES`] batches) has
//! room; until then changes coalesce in the Adj-RIB-Out (at most one entry per prefix). Control
//! (AutomaticStop) runs in its own task and never waits behind data.

pub mod cli;
pub mod config;
pub mod control;
pub mod fib;
pub mod metrics;
pub mod monitor;
pub mod output;
pub mod policy;
pub mod reload;
mod wire;

use std::future::Future;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp_fsm::driver::{Listener, PeerConfig, PeerEvent, PeerHandle, spawn_peer};
use bgp_fsm::{DownReason, GracefulRestartConfig};
use bgp_rib::export::{OutPeerConfig, UpdateGroup, UpdateGroupKey};
use bgp_rib::policy::Policy;
use bgp_rib::{DecisionConfig, Delta, DeltaKind, PeerId, PeerInfo, Rib};
use bgp_wire::message::BgpRole;
use bgp_wire::{AfiSafi, Capability, Nlri, Notification, SessionContext, UpdateBuilder};
use ipnet::IpNet;
use tokio::sync::{Notify, mpsc};

use fib::{Fib, FibChange};
use output::{OutputMode, RouteEvent, Stats, StatsPrinter};
use wire::WireBatch;

/// Batches of packed UPDATEs that may wait for one neighbour's driver.
pub const SEND_BATCHES: usize = 2;

/// Errors that stop the router.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The configuration is unusable.
    #[error("config: {0}")]
    Config(String),
    /// A socket could not be opened.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// One neighbour.
#[derive(Debug, Clone)]
pub struct NeighborConfig {
    /// Its address.
    pub addr: IpAddr,
    /// Its AS (equal to ours: iBGP).
    pub peer_as: u32,
    /// Interface index (IPv6 zone) of a link-local `addr` (`fe80::1%eth0`), else 0.
    pub scope_id: u32,
    /// Its TCP port.
    pub port: u16,
    /// Do not connect out; wait for it (needs [`RouterConfig::listen`]).
    pub passive: bool,
    /// Source address for outgoing connections.
    pub local_addr: Option<IpAddr>,
    /// Hold time to propose.
    pub hold_time: u16,
    /// Minimum hold time accepted from it (0: RFC 4271 only; above 0 also refuses 0).
    pub min_hold_time: u16,
    /// ConnectRetry time.
    pub connect_retry: Duration,
    /// Families to negotiate.
    pub families: Vec<AfiSafi>,
    /// A route-reflector client of ours (RFC 4456; iBGP only).
    pub rr_client: bool,
    /// Set ourselves as next hop on routes sent to this iBGP neighbour.
    pub next_hop_self: bool,
    /// A route-server client of ours (RFC 7947; eBGP only): we pass routes to it without
    /// prepending our AS and with NEXT_HOP and MED unchanged.
    pub rs_client: bool,
    /// Import policy (after the protocol checks).
    pub import: Option<Arc<dyn Policy>>,
    /// Export policy (after the RFC 4271 / RFC 4456 rules).
    pub export: Option<Arc<dyn Policy>>,
    /// maximum-prefix for this neighbour (else [`RouterConfig::max_prefix`]).
    pub max_prefix: Option<u32>,
    /// Free text shown by the query interface.
    pub description: Option<String>,
    /// Keep its routes as received, before import policy (soft reconfiguration inbound), so
    /// that a changed import policy is re-applied without asking it; off: a changed policy
    /// asks it to send everything again (ROUTE-REFRESH, RFC 2918). On for every neighbour
    /// when a `--config` file may be reloaded, unless the file turns it off.
    pub soft_reconfiguration: bool,
    /// Our BGP Role towards this eBGP neighbour (RFC 9234): the Role capability, Role
    /// Mismatch on a wrong pair, and the OTC leak-prevention rules on import and export.
    pub role: Option<BgpRole>,
    /// RFC 9234 strict mode: refuse the neighbour if it announces no role.
    pub strict_role: bool,
}

impl NeighborConfig {
    /// An active IPv4-unicast neighbour on port 179 with hold time 90 s.
    pub fn new(addr: IpAddr, peer_as: u32) -> Self {
        NeighborConfig {
            addr,
            peer_as,
            scope_id: 0,
            port: 179,
            passive: false,
            local_addr: None,
            hold_time: 90,
            min_hold_time: 0,
            connect_retry: Duration::from_secs(5),
            families: vec![AfiSafi::IPV4_UNICAST],
            rr_client: false,
            next_hop_self: false,
            rs_client: false,
            import: None,
            export: None,
            max_prefix: None,
            description: None,
            soft_reconfiguration: false,
            role: None,
            strict_role: false,
        }
    }
}

/// The whole router.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// Our AS, router id and decision-process options (multipath etc.).
    pub decision: DecisionConfig,
    /// Accept incoming connections here.
    pub listen: Option<SocketAddr>,
    /// The neighbours.
    pub neighbors: Vec<NeighborConfig>,
    /// Send routes to neighbours (off: a receive-only collector).
    pub export: bool,
    /// Reflect routes between iBGP neighbours (RFC 4456).
    pub route_reflector: bool,
    /// Install Loc-RIB routes in the kernel.
    pub fib: bool,
    /// Per-route output.
    pub output: OutputMode,
    /// Print `--stats` lines.
    pub stats: bool,
    /// Graceful restart helper (RFC 4724).
    pub graceful_restart: bool,
    /// With [`RouterConfig::graceful_restart`], also advertise RFC 8538's N bit: when the
    /// peer sets it too, a NOTIFICATION or hold-timer expiry keeps its routes stale (a Hard
    /// Reset flushes them).
    pub graceful_notification: bool,
    /// maximum-prefix per neighbour and family (RFC 4486 Cease 6/1 when exceeded).
    pub max_prefix: Option<u32>,
    /// BMP export and MRT dumps.
    pub monitor: monitor::MonitorConfig,
    /// RFC 8212 (FRR's `bgp ebgp-requires-policy`): an eBGP neighbour without its own import
    /// (export) policy imports (exports) nothing. Default on; the receive-only collector
    /// turns it off for import (it sends nothing, and collecting everything is its job).
    pub ebgp_requires_policy: bool,
}

impl RouterConfig {
    /// A router with default decision options, no neighbours, exporting, JSON output.
    pub fn new(local_as: u32, router_id: Ipv4Addr) -> Self {
        RouterConfig {
            decision: DecisionConfig::new(local_as, router_id),
            listen: None,
            neighbors: Vec::new(),
            export: true,
            route_reflector: false,
            fib: false,
            output: OutputMode::Json,
            stats: false,
            graceful_restart: false,
            graceful_notification: false,
            max_prefix: None,
            monitor: monitor::MonitorConfig::default(),
            ebgp_requires_policy: true,
        }
    }
}

/// A neighbour at run time.
struct Neighbor {
    id: PeerId,
    cfg: NeighborConfig,
    handle: PeerHandle,
    /// Update group and send queue of the Established session.
    session: Option<OutSession>,
    /// Restart time it advertised (graceful restart), when we help.
    gr_time: Option<u16>,
    /// Its session was ended for exceeding maximum-prefix; updates are dropped until it is up.
    over_limit: bool,
    /// Counters and times for the query interface and the metrics.
    stats: metrics::NeighborStats,
    /// RFC 8538's N bit was negotiated on its last session.
    gr_notification: bool,
}

/// An update group packing its batch on a blocking thread, beside the router task: the
/// Loc-RIB changes it misses meanwhile wait here and are applied when it returns.
struct Away {
    group: usize,
    deltas: Vec<Delta>,
    /// The group back, or the panic that ended its packing (resumed in the router task, as
    /// if it had packed there).
    back: std::sync::mpsc::Receiver<std::thread::Result<UpdateGroup>>,
}

struct OutSession {
    /// Index in [`Router::groups`].
    group: usize,
    tx: mpsc::Sender<Arc<WireBatch>>,
    /// Moved here from another update group (a reloaded export policy): the prefixes it
    /// holds from the old group. With this group's first batch, those the group does not
    /// advertise are withdrawn; the rest are replaced by the batch.
    moving: Option<Vec<IpNet>>,
}

/// Sends this member's part of each queued group batch to the driver (which bounds its write
/// queue). Ends when the session's queue is dropped or the session fails.
fn spawn_sender(
    handle: PeerHandle,
    room: Arc<Notify>,
    member: PeerId,
    sent: Arc<std::sync::atomic::AtomicU64>,
) -> mpsc::Sender<Arc<WireBatch>> {
    let (tx, mut rx) = mpsc::channel::<Arc<WireBatch>>(SEND_BATCHES);
    tokio::spawn(async move {
        while let Some(batch) = rx.recv().await {
            // The router may be waiting for room in this queue.
            room.notify_one();
            // One command for the batch, encoded once for the whole group: the driver
            // copies the bytes and writes them in as few syscalls as its send buffer allows.
            let (ups, n) = batch.for_member(member);
            drop(batch);
            let n = n as u64;
            if handle.send_encoded_updates(ups).await.is_err() {
                return;
            }
            sent.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
    });
    tx
}

struct Router {
    cfg: RouterConfig,
    rib: Rib,
    nbrs: Vec<Neighbor>,
    /// Update groups (a slot is freed when its last member leaves; a group whose batch is
    /// being packed is in [`Router::away`] meanwhile, its slot empty but not free).
    groups: Vec<Option<UpdateGroup>>,
    /// Groups packing a batch on a blocking thread (see [`Router::flush_out`]).
    away: Vec<Away>,
    fib: Option<Fib>,
    out: BufWriter<std::io::Stdout>,
    start: Instant,
    stats: StatsPrinter,
    /// Signalled when a send queue has room again.
    room: Arc<Notify>,
    /// BMP and MRT.
    mon: monitor::Monitors,
    /// Where neighbours added later (a reload) register for incoming connections.
    listener: Option<Listener>,
}

/// What else drives a running router besides its neighbours (see [`run_with`]).
#[derive(Debug, Default)]
pub struct Hooks {
    /// New configurations to apply (SIGHUP): only what changed is touched.
    pub reload: Option<mpsc::Receiver<RouterConfig>>,
    /// Questions from the query interface and the metrics endpoint, answered between batches.
    pub queries: Option<mpsc::Receiver<control::Query>>,
}

/// Run the router until `shutdown` completes; then remove our FIB routes and stop every
/// session with a Cease.
pub async fn run(cfg: RouterConfig, shutdown: impl Future<Output = ()>) -> Result<(), RouterError> {
    if cfg.neighbors.is_empty() {
        return Err(RouterError::Config("no neighbours".into()));
    }
    run_with(cfg, shutdown, Hooks::default()).await
}

/// [`run`] with reloads and queries: a router may start without neighbours when a reload
/// can bring them.
pub async fn run_with(
    cfg: RouterConfig,
    shutdown: impl Future<Output = ()>,
    hooks: Hooks,
) -> Result<(), RouterError> {
    let Hooks {
        reload: mut reloads,
        mut queries,
    } = hooks;
    let local_as = cfg.decision.local_as;
    let router_id = cfg.decision.router_id;
    let mut rib = Rib::new(cfg.decision.clone());
    let track = cfg.export || cfg.fib || cfg.output == OutputMode::Json;
    rib.set_track_deltas(track);
    let fib = if cfg.fib {
        match Fib::open() {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("fib: cannot open netlink: {e}");
                None
            }
        }
    } else {
        None
    };
    let listener = match cfg.listen {
        Some(a) => Some(Listener::bind(a).await?),
        None => None,
    };
    let mon = monitor::Monitors::start(&cfg.monitor, local_as, router_id)?;
    // Each driver's own bounded event channel, polled in turn by the router task.
    let mut rx = Events {
        rx: Vec::new(),
        next: 0,
    };
    let start = Instant::now();
    let neighbors = cfg.neighbors.clone();
    let mut r = Router {
        cfg,
        rib,
        nbrs: Vec::new(),
        groups: Vec::new(),
        away: Vec::new(),
        fib,
        out: BufWriter::with_capacity(1 << 16, std::io::stdout()),
        start,
        stats: StatsPrinter::new(start, Duration::from_millis(100)),
        room: Arc::new(Notify::new()),
        mon,
        listener,
    };
    for n in neighbors {
        r.start_neighbor(n, &mut rx);
    }
    let mut bmp_resyncs = r.mon.bmp_resyncs.take();
    let mut bmp_stats =
        tokio::time::interval(Duration::from_secs(r.cfg.monitor.bmp_stats_interval.max(1)));
    let room = r.room.clone();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut secs = 0u64;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            m = std::future::poll_fn(|cx| rx.poll_next(cx)), if rx.rx.iter().any(Option::is_some) => match m {
                Some((i, ev)) => {
                    r.on_event(i, ev);
                    // Take what else is queued before publishing, so one batch of deltas
                    // covers many UPDATEs.
                    let mut n = 0;
                    while n < 256 {
                        match rx.try_next() {
                            Some((i, ev)) => r.on_event(i, ev),
                            None => break,
                        }
                        n += 1;
                    }
                }
                // Every driver has ended; with reloads, new neighbours may still come.
                None if reloads.is_none() => break,
                None => {}
            },
            _ = tick.tick() => {
                let now = start.elapsed().as_secs();
                if now != secs {
                    secs = now;
                    r.rib.tick(now);
                    if let Some(line) = r.mon.tick(&r.rib) {
                        let _ = writeln!(r.out, "{line}");
                    }
                }
            }
            Some(Ok(())) = async {
                match bmp_resyncs.as_mut() {
                    Some(w) => Some(w.changed().await),
                    None => None,
                }
            } => {
                if let Some(b) = r.mon.bmp.as_mut() {
                    b.resync(&r.rib).await;
                }
            }
            _ = bmp_stats.tick(), if r.mon.bmp.is_some() => {
                if let Some(b) = r.mon.bmp.as_mut() {
                    b.stats(&r.rib);
                }
            }
            _ = room.notified(), if !r.away.is_empty() || r.groups.iter().flatten().any(|g| g.has_pending()) => {}
            Some(new) = async {
                match reloads.as_mut() {
                    Some(c) => c.recv().await,
                    None => std::future::pending().await,
                }
            } => r.reload(new, &mut rx).await,
            Some(q) = async {
                match queries.as_mut() {
                    Some(c) => c.recv().await,
                    None => std::future::pending().await,
                }
            } => r.answer(q),
            _ = &mut shutdown => break,
        }
        r.publish().await;
        r.mon.flush().await;
        r.flush_out();
        r.print_stats(false);
        // Session lines and route lines of this batch leave now (no syscall when empty).
        let _ = r.out.flush();
    }
    r.home_all();
    r.print_stats(true);
    r.mon.close();
    if let Some(f) = &r.fib {
        let changes: Vec<FibChange> = r
            .rib
            .best_prefixes()
            .into_iter()
            .map(|p| FibChange::for_route(p, None))
            .collect();
        f.install(changes).await;
    }
    let _ = r.out.flush();
    for n in r.nbrs {
        drop(n.session);
        let _ = tokio::time::timeout(Duration::from_secs(2), n.handle.shutdown(None)).await;
    }
    Ok(())
}

impl Router {
    fn addr(&self, i: usize) -> IpAddr {
        self.nbrs[i].cfg.addr
    }

    /// Register a neighbour with the RIB and start its driver.
    fn start_neighbor(&mut self, n: NeighborConfig, events: &mut Events) {
        let cfg = &self.cfg;
        let local_as = cfg.decision.local_as;
        let router_id = cfg.decision.router_id;
        let rib = &mut self.rib;
        let mut info = PeerInfo::new(n.addr, n.peer_as, Ipv4Addr::UNSPECIFIED, local_as);
        info.rr_client = n.rr_client && info.ibgp;
        info.rs_client = n.rs_client && !info.ibgp;
        let id = rib.add_peer(info);
        if let Some(p) = policy::import_policy(&n, local_as, cfg.ebgp_requires_policy) {
            let _ = rib.set_import_policy(id, Some(p));
        }
        if n.soft_reconfiguration {
            let _ = rib.set_soft_reconfiguration(id, true);
        }
        let mut pc = PeerConfig::new(local_as, n.peer_as, router_id, n.addr);
        pc.peer_port = n.port;
        pc.scope_id = n.scope_id;
        pc.passive = n.passive;
        pc.hold_time = n.hold_time;
        pc.min_hold_time = n.min_hold_time;
        pc.local_addr = n.local_addr;
        pc.connect_retry = n.connect_retry.max(Duration::from_secs(1));
        pc.families = n.families.clone();
        pc.role = n.role;
        pc.strict_role = n.strict_role;
        if cfg.graceful_restart {
            // Helper only: we keep no forwarding state of our own across restarts.
            pc.graceful_restart = Some(GracefulRestartConfig {
                restart_time: 120,
                restart_state: false,
                notification: cfg.graceful_notification,
                families: Vec::new(),
            });
        }
        self.mon.add_session(id, pc.session_config());
        let handle = spawn_peer(pc, self.listener.as_ref());
        events.rx.push(handle.take_events());
        self.nbrs.push(Neighbor {
            id,
            cfg: n,
            handle,
            session: None,
            gr_time: None,
            over_limit: false,
            stats: metrics::NeighborStats::new(),
            gr_notification: false,
        });
    }

    fn on_event(&mut self, i: usize, ev: PeerEvent) {
        if let Some(n) = self.nbrs.get_mut(i) {
            n.stats.event(&ev);
        }
        let Some(n) = self.nbrs.get(i) else { return };
        let id = n.id;
        let addr = n.cfg.addr;
        if !n.over_limit {
            self.mon.event(&self.rib, id, &ev, || n.handle.connection());
        }
        match ev {
            PeerEvent::Established(neg) => {
                let gr_time = match &neg.peer_graceful_restart {
                    Some(Capability::GracefulRestart { restart_time, .. })
                        if self.cfg.graceful_restart =>
                    {
                        Some(*restart_time)
                    }
                    _ => None,
                };
                let mut info = self.rib.peer_info(id).cloned();
                if let Some(info) = info.as_mut() {
                    info.router_id = neg.peer_router_id;
                    // RFC 6793: from a 2-octet speaker the RIB merges AS4_PATH on receipt.
                    info.four_octet_as = neg.four_octet_as;
                    let _ = self.rib.set_peer_info(id, info.clone());
                }
                // RFC 4724 §4.2: back from a restart, the families it kept no forwarding
                // state for (no F bit, or no capability) lose their stale routes now.
                self.rib.peer_returned(
                    id,
                    &bgp_fsm::graceful::forwarding_preserved(neg.peer_graceful_restart.as_ref()),
                );
                self.end_session(i);
                let n = &mut self.nbrs[i];
                n.over_limit = false;
                n.gr_time = gr_time;
                n.gr_notification = neg.graceful_notification;
                if self.cfg.export
                    && let Some(info) = info
                {
                    let local_addr = n
                        .handle
                        .connection()
                        .map(|(l, _)| l.ip())
                        .or(n.cfg.local_addr)
                        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                    let ocfg = OutPeerConfig {
                        info,
                        local_addr,
                        next_hop_self: n.cfg.next_hop_self,
                        route_reflector: self.cfg.route_reflector,
                        policy: policy::export_policy(
                            &n.cfg,
                            self.cfg.decision.local_as,
                            self.cfg.ebgp_requires_policy,
                        ),
                        families: neg.families.clone(),
                        add_path: false,
                    };
                    let tx = spawn_sender(
                        n.handle.clone(),
                        self.room.clone(),
                        id,
                        n.stats.updates_out.clone(),
                    );
                    let gi = self.join_group(ocfg, &neg.context, id);
                    self.nbrs[i].session = Some(OutSession {
                        group: gi,
                        tx,
                        moving: None,
                    });
                    let members = self.groups[gi].as_ref().map_or(0, |g| g.members().len());
                    let _ = writeln!(
                        self.out,
                        "{{\"type\":\"update_group\",\"peer\":\"{addr}\",\"group\":{gi},\"members\":{members}}}"
                    );
                }
                let _ = writeln!(
                    self.out,
                    "{{\"type\":\"session\",\"peer\":\"{addr}\",\"state\":\"established\",\"peer_as\":{},\"router_id\":\"{}\"}}",
                    neg.peer_as, neg.peer_router_id
                );
            }
            PeerEvent::Down { reason } => {
                // RFC 4724 §4.2: a session lost without a NOTIFICATION (TCP failure) keeps
                // the peer's routes as stale while it restarts; with RFC 8538's N bit a
                // NOTIFICATION or hold-timer expiry does too, a Hard Reset never.
                let helper = reason.keeps_stale_routes(self.nbrs[i].gr_notification);
                self.end_session(i);
                let n = &mut self.nbrs[i];
                if n.over_limit {
                    // Printed and withdrawn when we ended it (check_max_prefix).
                    self.rib.peer_down(id);
                    return;
                }
                let restart = n.gr_time.filter(|_| helper);
                match restart {
                    Some(t) => self
                        .rib
                        .peer_restarting(id, self.start.elapsed().as_secs(), t),
                    None => self.rib.peer_down(id),
                }
                let _ = writeln!(
                    self.out,
                    "{{\"type\":\"session\",\"peer\":\"{addr}\",\"state\":\"down\",\"reason\":\"{}\",\"graceful_restart\":{}}}",
                    json_escape(&format!("{reason:?}")),
                    restart.is_some()
                );
            }
            // Already read before our Cease went out: dropped with the session.
            PeerEvent::Update { .. } if n.over_limit => {}
            PeerEvent::Update { update, verdict } => {
                match self.rib.apply_decoded(id, &update, &verdict) {
                    Ok(sum) => {
                        for af in sum.end_of_rib {
                            self.rib.end_of_rib(id, af);
                        }
                    }
                    Err(e) => eprintln!("update from {addr}: {e}"),
                }
                self.check_max_prefix(i);
            }
            PeerEvent::RouteRefresh(_) => {
                self.home_all();
                if let Some(s) = &self.nbrs[i].session
                    && let Some(Some(g)) = self.groups.get_mut(s.group)
                {
                    g.refresh_member(id);
                }
            }
            _ => {}
        }
    }

    fn check_max_prefix(&mut self, i: usize) {
        let Some(limit) = self.nbrs[i].cfg.max_prefix.or(self.cfg.max_prefix) else {
            return;
        };
        let id = self.nbrs[i].id;
        if self.nbrs[i].over_limit {
            return;
        }
        for af in [AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST] {
            let count = self.rib.peer_path_count(id, af);
            if count > limit as usize {
                let addr = self.addr(i);
                self.end_session(i);
                let n = &mut self.nbrs[i];
                n.over_limit = true;
                let _ = writeln!(
                    self.out,
                    "{{\"type\":\"session\",\"peer\":\"{addr}\",\"event\":\"max_prefix\",\"family\":\"{af}\",\"count\":{count},\"limit\":{limit}}}"
                );
                let cease = Notification::max_prefixes_reached(af, limit);
                // The session is over for us now: its line and its withdrawals leave in this
                // batch; the driver's own Down event for it is not printed again.
                let reason = DownReason::AutomaticStop(cease.clone());
                let _ = writeln!(
                    self.out,
                    "{{\"type\":\"session\",\"peer\":\"{addr}\",\"state\":\"down\",\"reason\":\"{}\",\"graceful_restart\":false}}",
                    json_escape(&format!("{reason:?}"))
                );
                // Control runs beside the data path: never wait here for the driver.
                let h = n.handle.clone();
                tokio::spawn(async move {
                    let _ = h.automatic_stop(cease).await;
                });
                self.rib.peer_down(id);
                return;
            }
        }
    }

    /// Print and install the Loc-RIB changes and queue them for every neighbour's
    /// Adj-RIB-Out.
    async fn publish(&mut self) {
        let deltas: Vec<Delta> = self.rib.drain_deltas();
        if deltas.is_empty() {
            return;
        }
        let json = self.cfg.output == OutputMode::Json;
        let mut changes = Vec::new();
        if json || self.fib.is_some() {
            for d in &deltas {
                let r = self.rib.route(d.prefix);
                if json {
                    let kind = match (d.kind, &r) {
                        (_, None) | (DeltaKind::Withdrawn, _) => RouteEvent::Withdrawn,
                        (DeltaKind::BestChanged, _) => RouteEvent::BestChanged,
                        (DeltaKind::MultipathChanged, _) => RouteEvent::MultipathChanged,
                    };
                    let _ = match &r {
                        Some(r) if kind != RouteEvent::Withdrawn => {
                            output::write_route(&mut self.out, r, kind)
                        }
                        _ => output::write_withdrawn(&mut self.out, d.prefix),
                    };
                }
                if self.fib.is_some() {
                    changes.push(FibChange::for_route(d.prefix, r.as_ref()));
                }
            }
        }
        self.mon.deltas(&self.rib, &deltas);
        // One export computation per update group, whatever its number of members.
        for g in self.groups.iter_mut().flatten() {
            g.process(&self.rib, &deltas);
        }
        for a in &mut self.away {
            a.deltas.extend_from_slice(&deltas);
        }
        let _ = self.out.flush();
        if let Some(f) = &self.fib {
            f.install(changes).await;
        }
    }

    /// Join the update group for `cfg` (created when no group has its key); its index.
    fn join_group(&mut self, cfg: OutPeerConfig, ctx: &SessionContext, id: PeerId) -> usize {
        self.home_all();
        let key = UpdateGroupKey::new(&cfg, ctx);
        let gi = match self
            .groups
            .iter()
            .position(|g| g.as_ref().is_some_and(|g| g.key() == &key))
        {
            Some(gi) => gi,
            None => {
                let g = Some(UpdateGroup::new(cfg, ctx.clone()));
                match self.groups.iter().position(|g| g.is_none()) {
                    Some(free) => {
                        self.groups[free] = g;
                        free
                    }
                    None => {
                        self.groups.push(g);
                        self.groups.len() - 1
                    }
                }
            }
        };
        if let Some(Some(g)) = self.groups.get_mut(gi) {
            g.join(&self.rib, id);
        }
        gi
    }

    /// Forget neighbour `i`'s outgoing session: it leaves its update group (freed when
    /// empty) and its send queue is dropped.
    fn end_session(&mut self, i: usize) {
        self.home_all();
        let id = self.nbrs[i].id;
        if let Some(s) = self.nbrs[i].session.take()
            && let Some(slot) = self.groups.get_mut(s.group)
            && slot.as_mut().is_some_and(|g| g.leave(id))
        {
            *slot = None;
        }
    }

    /// Wait for every group packing a batch, and apply the changes it missed.
    fn home_all(&mut self) {
        for a in std::mem::take(&mut self.away) {
            // The packing closure always answers; only a runtime shutting down drops it
            // unrun, and the router brings every group home before it ends.
            if let Ok(r) = a.back.recv() {
                self.arrive(a, r);
            }
        }
    }

    /// Take back the groups whose packing has ended (without waiting).
    fn reap(&mut self) {
        let mut i = 0;
        while i < self.away.len() {
            match self.away[i].back.try_recv() {
                Ok(r) => {
                    let a = self.away.swap_remove(i);
                    self.arrive(a, r);
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => i += 1,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    self.away.swap_remove(i);
                }
            }
        }
    }

    /// A group back from packing: the changes it missed are applied and its slot holds it
    /// again. A panic while packing is resumed here, so it ends the router task as it did
    /// when the packing ran in it (a group lost silently would leave its members' slot
    /// empty and their streams stalled).
    fn arrive(&mut self, a: Away, r: std::thread::Result<UpdateGroup>) {
        match r {
            Ok(mut g) => {
                g.process(&self.rib, &a.deltas);
                self.groups[a.group] = Some(g);
            }
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Pack each update group's changes once and queue the batch to every member, when all
    /// members' send queues have room (the group waits for its slowest member).
    ///
    /// The packing (what was sent is updated, UPDATEs are built: a third of the router's
    /// work on a full table) runs on a blocking thread while this task goes on reading and
    /// deciding; the group is away meanwhile and its changes wait in [`Away`]. A group comes
    /// back before anything else touches it ([`Router::home_all`]), and packs one batch at a
    /// time, queued to the members before it returns, so its stream stays in order.
    fn flush_out(&mut self) {
        self.reap();
        for gi in 0..self.groups.len() {
            let Some(g) = self.groups[gi].as_ref() else {
                continue;
            };
            if !g.has_pending() {
                continue;
            }
            let mut permits = Vec::new();
            for s in self.nbrs.iter().filter_map(|n| n.session.as_ref()) {
                if s.group != gi {
                    continue;
                }
                match s.tx.clone().try_reserve_owned() {
                    Ok(p) => permits.push(p),
                    Err(_) => break,
                }
            }
            if permits.len() != g.members().len() {
                continue;
            }
            let moving = self
                .nbrs
                .iter()
                .filter_map(|n| n.session.as_ref())
                .any(|s| s.group == gi && s.moving.is_some());
            if moving {
                self.flush_moving(gi, permits);
                continue;
            }
            let Some(mut g) = self.groups[gi].take() else {
                continue;
            };
            let (back, rx) = std::sync::mpsc::sync_channel(1);
            let room = self.room.clone();
            tokio::task::spawn_blocking(move || {
                let packed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                    let batch = Arc::new(WireBatch::encode(g.take(), g.context()));
                    if !batch.is_empty() {
                        for p in permits {
                            p.send(batch.clone());
                        }
                    }
                    g
                }));
                let _ = back.send(packed);
                room.notify_one();
            });
            self.away.push(Away {
                group: gi,
                deltas: Vec::new(),
                back: rx,
            });
        }
    }

    /// [`Router::flush_out`] for a group with members moved in from another group (a
    /// reloaded export policy): packed here, since the withdrawals for what they held need
    /// the group's advertised routes after the batch.
    fn flush_moving(&mut self, gi: usize, permits: Vec<mpsc::OwnedPermit<Arc<WireBatch>>>) {
        let Some(g) = self.groups[gi].as_mut() else {
            return;
        };
        let mut batch = g.take();
        for n in self.nbrs.iter_mut() {
            if let Some(s) = n.session.as_mut()
                && s.group == gi
                && let Some(held) = s.moving.take()
            {
                let gone = held
                    .into_iter()
                    .filter(|p| g.adj_rib_out().advertised_attrs(*p).is_none());
                let (w4, w6): (Vec<IpNet>, Vec<IpNet>) = gone.partition(|p| p.addr().is_ipv4());
                if w4.is_empty() && w6.is_empty() {
                    continue;
                }
                let ups = UpdateBuilder::new(g.context())
                    .withdraw(AfiSafi::IPV4_UNICAST, w4.into_iter().map(Nlri::new))
                    .withdraw(AfiSafi::IPV6_UNICAST, w6.into_iter().map(Nlri::new))
                    .build()
                    .unwrap_or_default();
                batch.dumps.push((n.id, ups));
            }
        }
        let batch = Arc::new(WireBatch::encode(batch, g.context()));
        if batch.is_empty() {
            return;
        }
        for p in permits {
            p.send(batch.clone());
        }
    }

    fn print_stats(&mut self, last: bool) {
        let now = Instant::now();
        if !self.cfg.stats || !(last || self.stats.ready(now)) {
            return;
        }
        let s = Stats {
            routes: self.rib.prefix_count(),
            paths: self.rib.path_count(),
            peers: self.nbrs.len(),
            established: self
                .nbrs
                .iter()
                .filter(|n| n.handle.state() == bgp_fsm::State::Established)
                .count(),
        };
        if last || self.stats.due(s, now) {
            let _ = self.stats.write(&mut self.out, s, now);
            self.print_groups();
            let _ = self.out.flush();
        }
    }
}

impl Router {
    /// One `update_group` line per group: members and counters (exports computed once per
    /// group, batches and UPDATEs packed once per group).
    fn print_groups(&mut self) {
        self.home_all();
        for (gi, g) in self.groups.iter().enumerate() {
            let Some(g) = g else { continue };
            let members: Vec<String> = g
                .members()
                .iter()
                .filter_map(|m| self.nbrs.iter().find(|n| n.id == *m))
                .map(|n| format!("\"{}\"", n.cfg.addr))
                .collect();
            let c = g.counters();
            let _ = writeln!(
                self.out,
                "{{\"type\":\"update_group\",\"group\":{gi},\"members\":[{}],\"exports\":{},\"export_cache_hits\":{},\"batches\":{},\"updates\":{},\"member_dumps\":{},\"advertised\":{}}}",
                members.join(","),
                c.exports,
                c.export_cache_hits,
                c.batches,
                c.updates,
                c.member_dumps,
                g.adj_rib_out().advertised()
            );
        }
    }
}

/// `s` as the inside of a JSON string.
fn json_escape(s: &str) -> String {
    let q = serde_json::to_string(s).unwrap_or_default();
    q.get(1..q.len().saturating_sub(1))
        .unwrap_or_default()
        .to_string()
}

/// The neighbours' event receivers, polled round robin.
struct Events {
    rx: Vec<Option<mpsc::Receiver<PeerEvent>>>,
    next: usize,
}

impl Events {
    /// The next event of any neighbour; `Ready(None)` once every channel has closed.
    fn poll_next(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<(usize, PeerEvent)>> {
        use std::task::Poll;
        let n = self.rx.len();
        let mut open = false;
        for k in 0..n {
            let i = (self.next + k) % n;
            let Some(Some(rx)) = self.rx.get_mut(i) else {
                continue;
            };
            match rx.poll_recv(cx) {
                Poll::Ready(Some(ev)) => {
                    self.next = (i + 1) % n;
                    return Poll::Ready(Some((i, ev)));
                }
                Poll::Ready(None) => {
                    if let Some(slot) = self.rx.get_mut(i) {
                        *slot = None;
                    }
                }
                Poll::Pending => open = true,
            }
        }
        if open {
            Poll::Pending
        } else {
            Poll::Ready(None)
        }
    }
    /// An event already queued, without waiting.
    fn try_next(&mut self) -> Option<(usize, PeerEvent)> {
        let n = self.rx.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            if let Some(Some(rx)) = self.rx.get_mut(i)
                && let Ok(ev) = rx.try_recv()
            {
                self.next = (i + 1) % n;
                return Some((i, ev));
            }
        }
        None
    }
}
