//! The speaker runtime: peers added, changed and removed at runtime, a declarative desired
//! set of advertisements, events, metrics and a graceful shutdown.
//!
//! Length: about 780 lines of code (the runtime's one task and its handle); the rest is tests
//! with an in-memory session backend.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bgp_rib::{DecisionConfig, PeerId, PeerInfo, Rib};
use bgp_wire::{AfiSafi, PathAttribute, Update};
use ipnet::IpNet;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::advert::{self, DesiredSet, RouteAttrs};
use crate::events::SpeakerEvent;
use crate::metrics::Metrics;
use crate::session::{
    PeerSettings, SessionBackend, SessionControl, SessionEvent, SessionInfo, SessionIo,
    notification_text,
};

/// Errors of the runtime API.
#[derive(Debug, thiserror::Error)]
pub enum SpeakerError {
    /// `add_peer` for an address that is already configured.
    #[error("peer {0} already exists")]
    PeerExists(IpAddr),
    /// `update_peer` / `remove_peer` for an unknown address.
    #[error("no peer {0}")]
    NoSuchPeer(IpAddr),
    /// The session backend failed to start a session.
    #[error("peer {peer}: {source}")]
    Session {
        /// The peer.
        peer: IpAddr,
        /// The backend error.
        #[source]
        source: crate::session::SessionError,
    },
}

/// How [`Speaker::shutdown`] proceeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownOptions {
    /// When set, first re-advertise everything with the GRACEFUL_SHUTDOWN community
    /// (RFC 8326) and wait this long so the peers move traffic away.
    pub graceful_shutdown_drain: Option<Duration>,
    /// The Administrative Shutdown message sent in the Cease (RFC 9003).
    pub message: String,
    /// How long to wait for each peer to close after the Cease.
    pub close_timeout: Duration,
}

impl Default for ShutdownOptions {
    fn default() -> Self {
        ShutdownOptions {
            graceful_shutdown_drain: None,
            message: "kube-bgp speaker shutting down".to_string(),
            close_timeout: Duration::from_secs(3),
        }
    }
}

/// What [`Speaker::apply_peers`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerChanges {
    /// Peers started.
    pub added: Vec<IpAddr>,
    /// Peers restarted because their settings changed.
    pub restarted: Vec<IpAddr>,
    /// Peers whose BFD settings alone changed, applied without a restart.
    pub reconfigured: Vec<IpAddr>,
    /// Peers stopped and forgotten.
    pub removed: Vec<IpAddr>,
    /// Peers left untouched.
    pub unchanged: Vec<IpAddr>,
}

/// What [`Speaker::change_peer`] did.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    Unchanged,
    Reconfigured,
    Restarted,
}

enum PeerCmd {
    Sync(oneshot::Sender<()>),
    SetBfd(Option<crate::bfd::BfdSettings>, oneshot::Sender<bool>),
    Stop {
        message: Option<String>,
        timeout: Duration,
        done: oneshot::Sender<()>,
    },
}

struct PeerEntry {
    settings: PeerSettings,
    cmd: mpsc::UnboundedSender<PeerCmd>,
    task: JoinHandle<()>,
}

struct Inner {
    backend: Arc<dyn SessionBackend>,
    peers: Mutex<BTreeMap<IpAddr, PeerEntry>>,
    /// What the user asked for.
    base: Mutex<DesiredSet>,
    /// What peers should have now (the base, transformed during shutdown).
    published: watch::Sender<Arc<DesiredSet>>,
    /// 0 running, 1 graceful shutdown community, 2 withdrawn.
    phase: Mutex<u8>,
    events: broadcast::Sender<SpeakerEvent>,
    metrics: Metrics,
    import: Mutex<Option<SharedRib>>,
}

/// The RIB received routes are imported into, shared with the caller.
pub type SharedRib = Arc<Mutex<Rib>>;

/// A BGP speaker: a set of peers and one desired set of advertisements sent to all of them.
///
/// Cloning gives another handle to the same speaker. Every method that starts tasks must
/// be called inside a tokio runtime.
#[derive(Clone)]
pub struct Speaker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Speaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speaker")
            .field("peers", &self.peer_addresses())
            .finish_non_exhaustive()
    }
}

impl Speaker {
    /// A speaker with no peers and nothing to advertise.
    pub fn new(backend: Arc<dyn SessionBackend>) -> Self {
        let (published, _) = watch::channel(Arc::new(DesiredSet::new()));
        let (events, _) = broadcast::channel(4096);
        Speaker {
            inner: Arc::new(Inner {
                backend,
                peers: Mutex::new(BTreeMap::new()),
                base: Mutex::new(DesiredSet::new()),
                published,
                phase: Mutex::new(0),
                events,
                metrics: Metrics::default(),
                import: Mutex::new(None),
            }),
        }
    }

    /// Import received routes into a bgp-rib [`Rib`] (Adj-RIB-In + Loc-RIB with the decision
    /// process) instead of ignoring them, for peers started from now on. Returns the shared
    /// RIB; read it (e.g. `route`, `best_prefixes`) under its lock.
    ///
    /// The RIB records no deltas, so nothing accumulates when nobody reads it (a full table
    /// received by `announce --import` would otherwise keep one delta per change forever). To
    /// follow changes, turn them on with `Rib::set_track_deltas(true)` and call `drain_deltas`
    /// regularly.
    pub fn enable_import(&self, cfg: DecisionConfig) -> SharedRib {
        let mut r = Rib::new(cfg);
        r.set_track_deltas(false);
        let rib = Arc::new(Mutex::new(r));
        *lock(&self.inner.import) = Some(rib.clone());
        rib
    }

    /// A stream of events from now on. A receiver that lags loses the oldest events.
    pub fn subscribe(&self) -> broadcast::Receiver<SpeakerEvent> {
        self.inner.events.subscribe()
    }

    /// The events as a [`futures::Stream`]; events lost to lagging are skipped.
    pub fn event_stream(&self) -> impl futures::Stream<Item = SpeakerEvent> + Send + 'static {
        futures::stream::unfold(self.subscribe(), |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(e) => return Some((e, rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
    }

    /// The metrics registry (cloneable; see [`Metrics::render`]).
    pub fn metrics(&self) -> Metrics {
        self.inner.metrics.clone()
    }

    fn emit(&self, e: SpeakerEvent) {
        let _ = self.inner.events.send(e);
    }

    /// Addresses of the configured peers.
    pub fn peer_addresses(&self) -> Vec<IpAddr> {
        lock(&self.inner.peers).keys().copied().collect()
    }

    /// The settings of a configured peer.
    pub fn peer_settings(&self, addr: IpAddr) -> Option<PeerSettings> {
        lock(&self.inner.peers)
            .get(&addr)
            .map(|e| e.settings.clone())
    }

    fn start_peer(&self, settings: PeerSettings) -> Result<PeerEntry, SpeakerError> {
        let io = self
            .inner
            .backend
            .start(&settings)
            .map_err(|source| SpeakerError::Session {
                peer: settings.address,
                source,
            })?;
        let (tx, rx) = mpsc::unbounded_channel();
        let rib = lock(&self.inner.import).clone();
        let task = tokio::spawn(peer_task(
            settings.address,
            rib,
            io,
            self.inner.published.subscribe(),
            rx,
            self.inner.events.clone(),
            self.inner.metrics.clone(),
        ));
        self.inner.metrics.with_peer(settings.address, |s| {
            if s.state.is_empty() {
                s.state = "Idle".into();
            }
        });
        Ok(PeerEntry {
            settings,
            cmd: tx,
            task,
        })
    }

    /// Start a session with a new peer. The others are not touched.
    pub fn add_peer(&self, settings: PeerSettings) -> Result<(), SpeakerError> {
        let addr = settings.address;
        let mut peers = lock(&self.inner.peers);
        if peers.contains_key(&addr) {
            return Err(SpeakerError::PeerExists(addr));
        }
        let entry = self.start_peer(settings)?;
        peers.insert(addr, entry);
        drop(peers);
        self.emit(SpeakerEvent::PeerAdded {
            peer: addr.to_string(),
        });
        Ok(())
    }

    /// Change a peer's settings. Returns `false` (and touches nothing) when they are equal
    /// to the current ones, or when only its BFD settings changed and the backend applied
    /// them to the running sessions ([`SessionControl::set_bfd`]); otherwise that peer's
    /// session alone is closed with a Cease and restarted with the new settings.
    pub async fn update_peer(&self, settings: PeerSettings) -> Result<bool, SpeakerError> {
        Ok(self.change_peer(settings).await? == Change::Restarted)
    }

    async fn change_peer(&self, settings: PeerSettings) -> Result<Change, SpeakerError> {
        let addr = settings.address;
        let (changed, cmd) = {
            let peers = lock(&self.inner.peers);
            match peers.get(&addr) {
                None => return Err(SpeakerError::NoSuchPeer(addr)),
                Some(e) if e.settings == settings => return Ok(Change::Unchanged),
                Some(e) => (e.settings.changed_fields(&settings), e.cmd.clone()),
            }
        };
        let changed: Vec<String> = changed.into_iter().map(String::from).collect();
        if changed == ["bfd"] {
            let (tx, rx) = oneshot::channel();
            let applied = cmd.send(PeerCmd::SetBfd(settings.bfd.clone(), tx)).is_ok()
                && rx.await.unwrap_or(false);
            if applied {
                // Only onto the entry that was reconfigured (a concurrent remove or
                // restart may have replaced it meanwhile).
                if let Some(e) = lock(&self.inner.peers).get_mut(&addr)
                    && e.cmd.same_channel(&cmd)
                {
                    e.settings = settings;
                }
                self.emit(SpeakerEvent::PeerReconfigured {
                    peer: addr.to_string(),
                    changed,
                });
                return Ok(Change::Reconfigured);
            }
        }
        // Remove the entry compared above, and no other: a peer removed or restarted
        // meanwhile is not started again from here.
        let old = {
            let mut peers = lock(&self.inner.peers);
            match peers.entry(addr) {
                std::collections::btree_map::Entry::Occupied(e)
                    if e.get().cmd.same_channel(&cmd) =>
                {
                    e.remove()
                }
                _ => return Err(SpeakerError::NoSuchPeer(addr)),
            }
        };
        stop_entry(
            old,
            Some("configuration changed".into()),
            Duration::from_secs(3),
        )
        .await;
        let entry = self.start_peer(settings)?;
        lock(&self.inner.peers).insert(addr, entry);
        self.emit(SpeakerEvent::PeerRestarted {
            peer: addr.to_string(),
            changed,
        });
        Ok(Change::Restarted)
    }

    /// Stop and forget a peer (Cease with an Administrative Shutdown message).
    pub async fn remove_peer(&self, addr: IpAddr) -> Result<(), SpeakerError> {
        let e = lock(&self.inner.peers)
            .remove(&addr)
            .ok_or(SpeakerError::NoSuchPeer(addr))?;
        stop_entry(
            e,
            Some("peer removed from configuration".into()),
            Duration::from_secs(3),
        )
        .await;
        self.inner.metrics.remove(addr);
        self.emit(SpeakerEvent::PeerRemoved {
            peer: addr.to_string(),
        });
        Ok(())
    }

    /// Make the configured peers exactly `want`: add the new, restart the changed, remove
    /// the missing, and leave every unchanged peer alone.
    pub async fn apply_peers(&self, want: Vec<PeerSettings>) -> Result<PeerChanges, SpeakerError> {
        let mut ch = PeerChanges::default();
        let want: BTreeMap<IpAddr, PeerSettings> =
            want.into_iter().map(|s| (s.address, s)).collect();
        for addr in self.peer_addresses() {
            if !want.contains_key(&addr) {
                self.remove_peer(addr).await?;
                ch.removed.push(addr);
            }
        }
        for (addr, s) in want {
            match self.peer_settings(addr) {
                None => {
                    self.add_peer(s)?;
                    ch.added.push(addr);
                }
                Some(_) => match self.change_peer(s).await? {
                    Change::Restarted => ch.restarted.push(addr),
                    Change::Reconfigured => ch.reconfigured.push(addr),
                    Change::Unchanged => ch.unchanged.push(addr),
                },
            }
        }
        Ok(ch)
    }

    fn publish(&self) {
        // Read and send under the lock, so concurrent changes publish in order.
        let base = lock(&self.inner.base);
        let phase = *lock(&self.inner.phase);
        let out = match phase {
            0 => base.clone(),
            1 => advert::with_graceful_shutdown(&base),
            _ => DesiredSet::new(),
        };
        self.inner.published.send_replace(Arc::new(out));
    }

    /// Replace the whole desired set. Each peer is sent only the difference.
    pub fn set(&self, desired: DesiredSet) {
        *lock(&self.inner.base) = desired.into_iter().map(|(p, a)| (p.trunc(), a)).collect();
        self.publish();
    }

    /// Announce (or change) one prefix.
    pub fn announce(&self, prefix: IpNet, attrs: RouteAttrs) {
        lock(&self.inner.base).insert(prefix.trunc(), attrs);
        self.publish();
    }

    /// Withdraw one prefix.
    pub fn withdraw(&self, prefix: IpNet) {
        lock(&self.inner.base).remove(&prefix.trunc());
        self.publish();
    }

    /// The current desired set.
    pub fn desired(&self) -> DesiredSet {
        lock(&self.inner.base).clone()
    }

    /// Wait until every peer has handed the current desired set to its session.
    pub async fn sync(&self) {
        let waits: Vec<_> = lock(&self.inner.peers)
            .values()
            .filter_map(|e| {
                let (tx, rx) = oneshot::channel();
                e.cmd.send(PeerCmd::Sync(tx)).ok().map(|_| rx)
            })
            .collect();
        for w in waits {
            let _ = w.await;
        }
    }

    /// Graceful shutdown: optionally re-advertise with GRACEFUL_SHUTDOWN and drain, then
    /// withdraw everything, then close every session with a Cease carrying the message.
    pub async fn shutdown(&self, opts: ShutdownOptions) {
        if let Some(drain) = opts.graceful_shutdown_drain {
            *lock(&self.inner.phase) = 1;
            self.publish();
            self.sync().await;
            self.emit(SpeakerEvent::Shutdown {
                phase: "graceful_shutdown_community".into(),
            });
            tokio::time::sleep(drain).await;
        }
        *lock(&self.inner.phase) = 2;
        self.publish();
        self.sync().await;
        self.emit(SpeakerEvent::Shutdown {
            phase: "withdraw".into(),
        });
        let entries: Vec<PeerEntry> = std::mem::take(&mut *lock(&self.inner.peers))
            .into_values()
            .collect();
        self.emit(SpeakerEvent::Shutdown {
            phase: "cease".into(),
        });
        let stops: Vec<_> = entries
            .into_iter()
            .map(|e| stop_entry(e, Some(opts.message.clone()), opts.close_timeout))
            .collect();
        futures::future::join_all(stops).await;
        self.emit(SpeakerEvent::Shutdown {
            phase: "done".into(),
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn stop_entry(e: PeerEntry, message: Option<String>, timeout: Duration) {
    let (tx, rx) = oneshot::channel();
    if e.cmd
        .send(PeerCmd::Stop {
            message,
            timeout,
            done: tx,
        })
        .is_ok()
    {
        let _ = tokio::time::timeout(timeout + Duration::from_secs(1), rx).await;
    }
    // The task ends right after answering; abort covers a task that did not answer.
    e.task.abort();
}

async fn recv_opt<T>(r: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match r {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

fn fam_name(af: AfiSafi) -> String {
    match af {
        AfiSafi::IPV4_UNICAST => "ipv4-unicast".into(),
        AfiSafi::IPV6_UNICAST => "ipv6-unicast".into(),
        other => other.to_string(),
    }
}

fn received_count(u: &Update) -> usize {
    u.nlri.len()
        + u.attributes
            .iter()
            .map(|a| match a {
                PathAttribute::MpReachNlri(r) => r.nlri.prefixes().len(),
                _ => 0,
            })
            .sum::<usize>()
}

struct PeerRun {
    addr: IpAddr,
    rib: Option<SharedRib>,
    rib_peer: Option<PeerId>,
    control: Box<dyn SessionControl>,
    events: broadcast::Sender<SpeakerEvent>,
    metrics: Metrics,
    established: Option<SessionInfo>,
    /// The session's export pipeline (bgp-rib's Adj-RIB-Out) while Established.
    adv: Option<advert::Advertiser>,
    /// Routes reported as not sendable on this session (reported once per session).
    skipped: std::collections::BTreeSet<IpNet>,
}

impl PeerRun {
    fn peer(&self) -> String {
        self.addr.to_string()
    }

    fn emit(&self, e: SpeakerEvent) {
        let _ = self.events.send(e);
    }

    /// Send what it takes to make the peer's view equal to `target`.
    fn sync_to(&mut self, target: &Arc<DesiredSet>) {
        let Some(adv) = self.adv.as_mut() else {
            return;
        };
        let built = adv.sync(target);
        if built.updates.is_empty() && built.skipped.is_empty() {
            return;
        }
        let n = adv.advertised();
        let mut sent = 0u64;
        for u in built.updates {
            if self.control.send_update(u).is_err() {
                break;
            }
            sent += 1;
        }
        self.metrics.with_peer(self.addr, |s| {
            s.updates_sent += sent;
            s.prefixes_advertised = n;
        });
        if !built.withdrawn.is_empty() {
            self.emit(SpeakerEvent::Withdrawn {
                peer: self.peer(),
                prefixes: built.withdrawn.iter().map(|p| p.to_string()).collect(),
            });
        }
        if !built.announced.is_empty() {
            self.emit(SpeakerEvent::Advertised {
                peer: self.peer(),
                prefixes: built.announced.iter().map(|p| p.to_string()).collect(),
            });
        }
        for s in built.skipped {
            if !self.skipped.insert(s.prefix) {
                continue;
            }
            self.emit(SpeakerEvent::Skipped {
                peer: self.peer(),
                prefix: s.prefix.to_string(),
                reason: s.reason,
            });
        }
    }

    fn on_session_event(&mut self, ev: SessionEvent, target: &Arc<DesiredSet>) {
        match ev {
            SessionEvent::StateChanged { from, to } => {
                self.metrics.with_peer(self.addr, |s| s.state = to.clone());
                self.emit(SpeakerEvent::StateChanged {
                    peer: self.peer(),
                    from,
                    to,
                });
            }
            SessionEvent::Established(info) => {
                self.metrics.with_peer(self.addr, |s| {
                    s.up = true;
                    s.state = "Established".into();
                    s.established_transitions += 1;
                });
                self.emit(SpeakerEvent::Established {
                    peer: self.peer(),
                    local_addr: info.local_addr.map(|a| a.to_string()),
                    families: info.families.iter().map(|f| fam_name(*f)).collect(),
                });
                self.adv = Some(advert::Advertiser::new(&info));
                self.skipped.clear();
                if let Some(rib) = &self.rib {
                    let mut r = lock(rib);
                    if let Some(old) = self.rib_peer.take() {
                        r.peer_down(old);
                        r.remove_peer(old);
                    }
                    let mut pi =
                        PeerInfo::new(self.addr, info.peer_as, info.peer_router_id, info.local_as);
                    pi.four_octet_as = info.four_octet_as;
                    self.rib_peer = Some(r.add_peer(pi));
                }
                let fams: Vec<AfiSafi> = info
                    .families
                    .iter()
                    .copied()
                    .filter(|f| *f == AfiSafi::IPV4_UNICAST || *f == AfiSafi::IPV6_UNICAST)
                    .collect();
                self.established = Some(info);
                self.sync_to(target);
                for f in fams {
                    if self.control.send_update(advert::end_of_rib(f)).is_ok() {
                        self.metrics.with_peer(self.addr, |s| s.updates_sent += 1);
                        self.emit(SpeakerEvent::EndOfRib {
                            peer: self.peer(),
                            family: fam_name(f),
                        });
                    }
                }
            }
            SessionEvent::Down { reason } => {
                self.established = None;
                self.adv = None;
                if let (Some(rib), Some(id)) = (&self.rib, self.rib_peer.take()) {
                    let mut r = lock(rib);
                    r.peer_down(id);
                    r.remove_peer(id);
                }
                self.metrics.with_peer(self.addr, |s| {
                    s.up = false;
                    s.prefixes_advertised = 0;
                    s.last_error = Some(reason.clone());
                });
                self.emit(SpeakerEvent::Down {
                    peer: self.peer(),
                    reason,
                });
            }
            SessionEvent::Update(u, verdict) => {
                self.metrics
                    .with_peer(self.addr, |s| s.updates_received += 1);
                if let (Some(rib), Some(id)) = (&self.rib, self.rib_peer) {
                    let res = lock(rib).apply_decoded(id, &u, &verdict);
                    match res {
                        Ok(sum) if sum.announced + sum.withdrawn > 0 => {
                            self.emit(SpeakerEvent::RoutesImported {
                                peer: self.peer(),
                                announced: sum.announced,
                                withdrawn: sum.withdrawn,
                            })
                        }
                        Ok(_) => {}
                        Err(e) => self.emit(SpeakerEvent::ImportFailed {
                            peer: self.peer(),
                            reason: e.to_string(),
                        }),
                    }
                    return;
                }
                let count = received_count(&u);
                if count > 0 {
                    self.emit(SpeakerEvent::RoutesIgnored {
                        peer: self.peer(),
                        count,
                    });
                }
            }
            SessionEvent::RouteRefresh(af) => {
                let Some(adv) = self.adv.as_mut() else {
                    return;
                };
                let built = adv.resend(af);
                let mut sent = 0;
                for u in built.updates {
                    if self.control.send_update(u).is_err() {
                        break;
                    }
                    sent += 1;
                }
                self.metrics
                    .with_peer(self.addr, |s| s.updates_sent += sent);
                self.emit(SpeakerEvent::RouteRefreshed {
                    peer: self.peer(),
                    family: fam_name(af),
                    prefixes: built.announced.len(),
                });
            }
            SessionEvent::NotificationSent(n) => {
                let text = notification_text(&n);
                self.metrics.with_peer(self.addr, |s| {
                    s.notifications_sent += 1;
                    s.last_error = Some(format!("sent {text}"));
                });
                self.emit(SpeakerEvent::NotificationSent {
                    peer: self.peer(),
                    notification: text,
                });
            }
            SessionEvent::NotificationReceived(n) => {
                let text = notification_text(&n);
                self.metrics.with_peer(self.addr, |s| {
                    s.notifications_received += 1;
                    s.last_error = Some(format!("received {text}"));
                });
                self.emit(SpeakerEvent::NotificationReceived {
                    peer: self.peer(),
                    notification: text,
                });
            }
        }
    }
}

async fn peer_task(
    addr: IpAddr,
    rib: Option<SharedRib>,
    io: SessionIo,
    mut desired: watch::Receiver<Arc<DesiredSet>>,
    mut cmds: mpsc::UnboundedReceiver<PeerCmd>,
    events: broadcast::Sender<SpeakerEvent>,
    metrics: Metrics,
) {
    let SessionIo {
        events: sev,
        control,
    } = io;
    let mut sev = Some(sev);
    let mut run = PeerRun {
        addr,
        rib,
        rib_peer: None,
        control,
        events,
        metrics,
        established: None,
        adv: None,
        skipped: Default::default(),
    };
    loop {
        tokio::select! {
            ev = recv_opt(&mut sev) => match ev {
                Some(ev) => {
                    // Only look: a change published meanwhile must still wake the
                    // `changed()` branch, or it would never be sent (an UPDATE from the
                    // peer arriving with it would swallow it).
                    let target = desired.borrow().clone();
                    run.on_session_event(ev, &target);
                }
                None => {
                    sev = None;
                    if run.established.is_some() {
                        run.on_session_event(SessionEvent::Down { reason: "session task ended".into() }, &Arc::new(DesiredSet::new()));
                    }
                }
            },
            r = desired.changed() => {
                if r.is_err() {
                    run.control.shutdown(Some("speaker stopped".into()));
                    return;
                }
                let target = desired.borrow_and_update().clone();
                run.sync_to(&target);
            },
            cmd = cmds.recv() => match cmd {
                None => {
                    run.control.shutdown(Some("speaker stopped".into()));
                    return;
                }
                Some(PeerCmd::Sync(tx)) => {
                    let target = desired.borrow_and_update().clone();
                    run.sync_to(&target);
                    let _ = tx.send(());
                }
                Some(PeerCmd::SetBfd(bfd, tx)) => {
                    let _ = tx.send(run.control.set_bfd(bfd));
                }
                Some(PeerCmd::Stop { message, timeout, done }) => {
                    run.control.shutdown(message);
                    // Wait for the session to end completely (its event stream closes), so
                    // a restarted session for the same peer never overlaps the old one (the
                    // old one releases the listener registration and MD5 key on exit).
                    if let Some(rx) = sev.as_mut() {
                        let _ = tokio::time::timeout(timeout, async {
                            while let Some(ev) = rx.recv().await {
                                run.on_session_event(ev, &Arc::new(DesiredSet::new()));
                            }
                        })
                        .await;
                    }
                    run.metrics.with_peer(addr, |s| {
                        s.up = false;
                        s.prefixes_advertised = 0;
                    });
                    let _ = done.send(());
                    return;
                }
            },
        }
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! An in-memory session backend for tests.
    use super::*;

    /// What a fake session recorded.
    #[derive(Debug, Default)]
    pub(crate) struct Record {
        pub(crate) sent: Vec<Update>,
        pub(crate) shutdowns: Vec<Option<String>>,
        /// BFD settings applied in place.
        pub(crate) bfd: Vec<Option<crate::bfd::BfdSettings>>,
    }

    type Tx = Arc<Mutex<Option<mpsc::UnboundedSender<SessionEvent>>>>;

    pub(crate) struct FakeSession {
        pub(crate) settings: PeerSettings,
        pub(crate) events: Tx,
        pub(crate) record: Arc<Mutex<Record>>,
    }

    struct Ctl {
        record: Arc<Mutex<Record>>,
        events: Tx,
    }

    impl SessionControl for Ctl {
        fn send_update(&self, update: Update) -> Result<(), crate::session::SessionError> {
            lock(&self.record).sent.push(update);
            Ok(())
        }
        fn shutdown(&self, message: Option<String>) {
            lock(&self.record).shutdowns.push(message);
            // Like the driver: report Down, then end the session (close the stream) a
            // little later, after its cleanup.
            if let Some(tx) = lock(&self.events).as_ref() {
                let _ = tx.send(SessionEvent::Down {
                    reason: "shutdown".into(),
                });
            }
            let events = self.events.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                lock(&events).take();
            });
        }
        fn set_bfd(&self, bfd: Option<crate::bfd::BfdSettings>) -> bool {
            lock(&self.record).bfd.push(bfd);
            true
        }
    }

    #[derive(Default)]
    pub(crate) struct FakeBackend {
        pub(crate) sessions: Mutex<Vec<FakeSession>>,
        /// Sessions started while another one for the same peer was still running.
        pub(crate) overlaps: Mutex<usize>,
    }

    impl SessionBackend for FakeBackend {
        fn start(
            &self,
            settings: &PeerSettings,
        ) -> Result<SessionIo, crate::session::SessionError> {
            let (tx, rx) = mpsc::unbounded_channel();
            let tx: Tx = Arc::new(Mutex::new(Some(tx)));
            let record = Arc::new(Mutex::new(Record::default()));
            if lock(&self.sessions)
                .iter()
                .any(|s| s.settings.address == settings.address && lock(&s.events).is_some())
            {
                *lock(&self.overlaps) += 1;
            }
            lock(&self.sessions).push(FakeSession {
                settings: settings.clone(),
                events: tx.clone(),
                record: record.clone(),
            });
            Ok(SessionIo {
                events: rx,
                control: Box::new(Ctl { record, events: tx }),
            })
        }
    }

    /// Injects events into a fake session without keeping its stream open.
    pub(crate) struct FakeTx(Tx);

    impl FakeTx {
        pub(crate) fn send(&self, e: SessionEvent) -> Result<(), &'static str> {
            match lock(&self.0).as_ref() {
                Some(tx) => tx.send(e).map_err(|_| "receiver gone"),
                None => Err("session ended"),
            }
        }
    }

    impl FakeBackend {
        pub(crate) fn session(&self, i: usize) -> (FakeTx, Arc<Mutex<Record>>, PeerSettings) {
            let s = lock(&self.sessions);
            (
                FakeTx(s[i].events.clone()),
                s[i].record.clone(),
                s[i].settings.clone(),
            )
        }
        pub(crate) fn count(&self) -> usize {
            lock(&self.sessions).len()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::*;
    use super::*;
    use bgp_wire::Nlri;
    use bgp_wire::attr::Community;

    fn settings(addr: &str) -> PeerSettings {
        PeerSettings::new(
            addr.parse().unwrap(),
            64512,
            64512,
            "192.168.1.10".parse().unwrap(),
        )
    }

    fn info() -> SessionInfo {
        SessionInfo {
            local_as: 64512,
            peer_as: 64512,
            local_addr: Some("192.168.1.10".parse().unwrap()),
            families: vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST],
            extended_next_hop: vec![],
            max_message_len: 4096,
            peer_router_id: "192.168.1.1".parse().unwrap(),
            four_octet_as: true,
        }
    }

    fn p(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    async fn settle(sp: &Speaker) {
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        sp.sync().await;
    }

    fn nlri_of(u: &Update) -> Vec<IpNet> {
        u.nlri.iter().map(|n| n.prefix).collect()
    }

    #[tokio::test]
    async fn replays_full_set_with_end_of_rib_after_each_establish() {
        let be = Arc::new(FakeBackend::default());
        let sp = Speaker::new(be.clone());
        sp.announce(p("172.16.10.0/32"), RouteAttrs::default());
        sp.add_peer(settings("192.168.1.1")).unwrap();
        let (ev, rec, _) = be.session(0);
        settle(&sp).await;
        assert!(lock(&rec).sent.is_empty(), "nothing before Established");
        ev.send(SessionEvent::Established(info())).unwrap();
        settle(&sp).await;
        {
            let r = lock(&rec);
            assert_eq!(r.sent.len(), 3, "{:?}", r.sent);
            assert_eq!(nlri_of(&r.sent[0]), vec![p("172.16.10.0/32")]);
            assert_eq!(r.sent[1], advert::end_of_rib(AfiSafi::IPV4_UNICAST));
            assert_eq!(r.sent[2], advert::end_of_rib(AfiSafi::IPV6_UNICAST));
        }
        // Reconnect: the whole set again.
        ev.send(SessionEvent::Down {
            reason: "hold timer".into(),
        })
        .unwrap();
        ev.send(SessionEvent::Established(info())).unwrap();
        settle(&sp).await;
        let r = lock(&rec);
        assert_eq!(r.sent.len(), 6);
        assert_eq!(nlri_of(&r.sent[3]), vec![p("172.16.10.0/32")]);
        assert_eq!(
            sp.metrics().snapshot()[&"192.168.1.1".parse::<IpAddr>().unwrap()]
                .established_transitions,
            2
        );
    }

    #[tokio::test]
    async fn set_sends_only_the_difference() {
        let be = Arc::new(FakeBackend::default());
        let sp = Speaker::new(be.clone());
        sp.add_peer(settings("192.168.1.1")).unwrap();
        let (ev, rec, _) = be.session(0);
        let a = RouteAttrs::default();
        let mut d = DesiredSet::new();
        d.insert(p("172.16.10.0/32"), a.clone());
        d.insert(p("172.16.10.1/32"), a.clone());
        sp.set(d.clone());
        ev.send(SessionEvent::Established(info())).unwrap();
        settle(&sp).await;
        let before = lock(&rec).sent.len();
        d.remove(&p("172.16.10.0/32"));
        d.insert(p("172.16.10.2/32"), a.clone());
        sp.set(d.clone());
        settle(&sp).await;
        {
            let r = lock(&rec);
            let new = &r.sent[before..];
            assert_eq!(new.len(), 2, "{new:?}");
            assert_eq!(new[0].withdrawn, vec![Nlri::new(p("172.16.10.0/32"))]);
            assert_eq!(nlri_of(&new[1]), vec![p("172.16.10.2/32")]);
        }
        // The same set again sends nothing.
        sp.set(d);
        settle(&sp).await;
        assert_eq!(lock(&rec).sent.len(), before + 2);
        sp.withdraw(p("172.16.10.1/32"));
        settle(&sp).await;
        assert_eq!(
            lock(&rec).sent.last().unwrap().withdrawn,
            vec![Nlri::new(p("172.16.10.1/32"))]
        );
    }

    /// A change of BFD settings alone goes to the running session (no BGP restart); any
    /// other change with it restarts the session as before.
    #[tokio::test]
    async fn bfd_changes_apply_without_a_restart() {
        let be = Arc::new(FakeBackend::default());
        let sp = Speaker::new(be.clone());
        let a = settings("192.168.1.1");
        sp.apply_peers(vec![a.clone()]).await.unwrap();
        let mut events = sp.subscribe();
        let mut a2 = a.clone();
        a2.bfd = Some(crate::bfd::BfdSettings::default());
        let ch = sp.apply_peers(vec![a2.clone()]).await.unwrap();
        assert_eq!(ch.reconfigured, vec![a.address]);
        assert!(ch.restarted.is_empty());
        assert_eq!(be.count(), 1, "not restarted");
        let (_, rec, _) = be.session(0);
        assert_eq!(lock(&rec).bfd, vec![a2.bfd.clone()]);
        assert!(lock(&rec).shutdowns.is_empty());
        assert_eq!(sp.peer_settings(a.address), Some(a2.clone()));
        assert!(matches!(
            events.recv().await.unwrap(),
            SpeakerEvent::PeerReconfigured { changed, .. } if changed == ["bfd"]
        ));
        // The same again: nothing to do.
        let ch = sp.apply_peers(vec![a2.clone()]).await.unwrap();
        assert_eq!(ch.unchanged, vec![a.address]);
        // BFD and the hold time: a restart.
        let mut a3 = a2.clone();
        a3.bfd = None;
        a3.hold_time = 30;
        let ch = sp.apply_peers(vec![a3]).await.unwrap();
        assert_eq!(ch.restarted, vec![a.address]);
        assert_eq!(be.count(), 2);
        assert_eq!(lock(&rec).bfd.len(), 1);
    }

    #[tokio::test]
    async fn updating_one_peer_leaves_others_alone() {
        let be = Arc::new(FakeBackend::default());
        let sp = Speaker::new(be.clone());
        let a = settings("192.168.1.1");
        let b = settings("192.168.1.2");
        sp.apply_peers(vec![a.clone(), b.clone()]).await.unwrap();
        assert_eq!(be.count(), 2);
        let mut b2 = b.clone();
        b2.password = Some("secret".into());
        let ch = sp.apply_peers(vec![a.clone(), b2.clone()]).await.unwrap();
        assert_eq!(ch.unchanged, vec![a.address]);
        assert_eq!(ch.restarted, vec![b.address]);
        assert_eq!(be.count(), 3, "only b restarted");
        assert_eq!(
            *lock(&be.overlaps),
            0,
            "new session started before the old one ended"
        );
        let (_, rec_a, _) = be.session(0);
        let (_, rec_b, _) = be.session(1);
        assert!(lock(&rec_a).shutdowns.is_empty());
        assert_eq!(
            lock(&rec_b).shutdowns,
            vec![Some("configuration changed".to_string())]
        );
        assert_eq!(be.session(2).2, b2);
        let ch = sp.apply_peers(vec![b2.clone()]).await.unwrap();
        assert_eq!(ch.removed, vec![a.address]);
        assert_eq!(ch.unchanged, vec![b.address]);
        assert_eq!(sp.peer_addresses(), vec![b.address]);
        assert!(matches!(sp.add_peer(b2), Err(SpeakerError::PeerExists(_))));
    }

    #[tokio::test]
    async fn route_refresh_resends_the_family() {
        let be = Arc::new(FakeBackend::default());
        let sp = Speaker::new(be.clone());
        sp.announce(p("172.16.10.0/32"), RouteAttrs::default());
        sp.announce(p("fd00::1/128"), RouteAttrs::default());
        sp.add_peer(settings("192.168.1.1")).unwrap();
        let (ev, rec, _) = be.session(0);
        ev.send(SessionEvent::Established(info())).unwrap();
        settle(&sp).await;
        let n0 = lock(&rec).sent.len();
        ev.send(SessionEvent::RouteRefresh(AfiSafi::IPV4_UNICAST))
            .unwrap();
        settle(&sp).await;
        let r = lock(&rec);
        assert_eq!(r.sent.len(), n0 + 1);
        assert_eq!(nlri_of(&r.sent[n0]), vec![p("172.16.10.0/32")]);
    }

    #[tokio::test]
    async fn a_change_racing_a_received_update_is_not_lost() {
        let be = Arc::new(FakeBackend::default());
        let sp = Speaker::new(be.clone());
        sp.add_peer(settings("192.168.1.1")).unwrap();
        let (ev, rec, _) = be.session(0);
        ev.send(SessionEvent::Established(info())).unwrap();
        settle(&sp).await;
        for i in 0..50u32 {
            let prefix = IpNet::from(std::net::IpAddr::from([10, 0, 0, i as u8]));
            // A change and a received UPDATE in the same tick, then no forced sync.
            sp.set([(prefix, RouteAttrs::default())].into_iter().collect());
            ev.send(SessionEvent::Update(Box::default(), Default::default()))
                .unwrap();
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
            let r = lock(&rec);
            let last = r.sent.last().unwrap();
            assert_eq!(nlri_of(last), vec![prefix], "change {i} lost");
        }
    }

    #[tokio::test]
    async fn event_stream_yields_events() {
        use futures::StreamExt;
        let be = Arc::new(FakeBackend::default());
        let sp = Speaker::new(be.clone());
        let mut st = Box::pin(sp.event_stream());
        sp.add_peer(settings("192.168.1.1")).unwrap();
        assert_eq!(
            st.next().await,
            Some(SpeakerEvent::PeerAdded {
                peer: "192.168.1.1".into()
            })
        );
    }

    #[tokio::test]
    async fn graceful_shutdown_order() {
        let be = Arc::new(FakeBackend::default());
        let sp = Speaker::new(be.clone());
        let mut events = sp.subscribe();
        sp.announce(p("172.16.10.0/32"), RouteAttrs::default());
        sp.add_peer(settings("192.168.1.1")).unwrap();
        let (ev, rec, _) = be.session(0);
        ev.send(SessionEvent::Established(info())).unwrap();
        settle(&sp).await;
        let n0 = lock(&rec).sent.len();
        sp.shutdown(ShutdownOptions {
            graceful_shutdown_drain: Some(Duration::from_millis(10)),
            message: "node drained".into(),
            close_timeout: Duration::from_secs(1),
        })
        .await;
        let r = lock(&rec);
        let tail = &r.sent[n0..];
        assert_eq!(tail.len(), 2, "{tail:?}");
        assert!(tail[0].attributes.iter().any(|a| matches!(
            a,
            PathAttribute::Communities(c) if c.contains(&Community::GRACEFUL_SHUTDOWN)
        )));
        assert!(tail[0].attributes.contains(&PathAttribute::LocalPref(0)));
        assert_eq!(tail[1].withdrawn, vec![Nlri::new(p("172.16.10.0/32"))]);
        assert_eq!(r.shutdowns, vec![Some("node drained".to_string())]);
        assert!(sp.peer_addresses().is_empty());
        let mut phases = Vec::new();
        while let Ok(e) = events.try_recv() {
            if let SpeakerEvent::Shutdown { phase } = e {
                phases.push(phase);
            }
        }
        assert_eq!(
            phases,
            vec!["graceful_shutdown_community", "withdraw", "cease", "done"]
        );
    }

    #[tokio::test]
    async fn received_routes_go_to_the_rib_when_import_is_on() {
        let be = Arc::new(FakeBackend::default());
        let sp = Speaker::new(be.clone());
        let mut cfg = DecisionConfig::new(64512, "192.168.1.10".parse().unwrap());
        cfg.max_paths_ibgp = 8;
        let rib = sp.enable_import(cfg);
        sp.add_peer(settings("192.168.1.1")).unwrap();
        let (ev, _, _) = be.session(0);
        ev.send(SessionEvent::Established(info())).unwrap();
        let u = Update {
            attributes: vec![
                PathAttribute::Origin(bgp_wire::attr::Origin::Igp),
                PathAttribute::AsPath(bgp_wire::attr::AsPath::default()),
                PathAttribute::NextHop("192.168.1.1".parse().unwrap()),
                PathAttribute::LocalPref(100),
            ],
            nlri: vec![Nlri::new(p("10.0.0.0/8"))],
            ..Default::default()
        };
        ev.send(SessionEvent::Update(
            Box::new(u.clone()),
            Default::default(),
        ))
        .unwrap();
        settle(&sp).await;
        assert!(lock(&rib).route(p("10.0.0.0/8")).is_some());
        // Nobody drains this RIB's deltas here, so none are kept (issue 9: bounded memory).
        assert!(lock(&rib).drain_deltas().is_empty());
        // The same route again under a treat-as-withdraw verdict (RFC 7606): withdrawn, and
        // the new prefix of that UPDATE is not imported.
        let mut bad = u.clone();
        bad.nlri.push(Nlri::new(p("11.0.0.0/8")));
        let verdict = bgp_wire::UpdateVerdict {
            problems: vec![bgp_wire::error::UpdateProblem {
                action: bgp_wire::UpdateAction::TreatAsWithdraw,
                attr_type: Some(1),
                offset: 23,
                reason: "ORIGIN value out of range",
                notification: bgp_wire::Notification::new(3, 6),
            }],
            treat_as_withdraw: bad
                .nlri
                .iter()
                .map(|n| (bgp_wire::AfiSafi::IPV4_UNICAST, *n))
                .collect(),
        };
        ev.send(SessionEvent::Update(Box::new(bad), verdict))
            .unwrap();
        settle(&sp).await;
        assert!(lock(&rib).route(p("10.0.0.0/8")).is_none());
        assert!(lock(&rib).route(p("11.0.0.0/8")).is_none());
        ev.send(SessionEvent::Down {
            reason: "gone".into(),
        })
        .unwrap();
        settle(&sp).await;
        assert!(lock(&rib).route(p("10.0.0.0/8")).is_none());
    }

    #[tokio::test]
    async fn events_and_metrics_follow_the_session() {
        let be = Arc::new(FakeBackend::default());
        let sp = Speaker::new(be.clone());
        let mut events = sp.subscribe();
        sp.add_peer(settings("192.168.1.1")).unwrap();
        let (ev, _, _) = be.session(0);
        ev.send(SessionEvent::StateChanged {
            from: "Idle".into(),
            to: "Connect".into(),
        })
        .unwrap();
        ev.send(SessionEvent::NotificationReceived(
            bgp_wire::Notification::new(6, 4),
        ))
        .unwrap();
        let mut u = Update::default();
        u.nlri.push(Nlri::new(p("10.0.0.0/8")));
        ev.send(SessionEvent::Update(Box::new(u), Default::default()))
            .unwrap();
        settle(&sp).await;
        let mut got = Vec::new();
        while let Ok(e) = events.try_recv() {
            got.push(e);
        }
        assert!(got.contains(&SpeakerEvent::StateChanged {
            peer: "192.168.1.1".into(),
            from: "Idle".into(),
            to: "Connect".into()
        }));
        assert!(got.contains(&SpeakerEvent::NotificationReceived {
            peer: "192.168.1.1".into(),
            notification: "Cease/Administrative Reset (6/4)".into()
        }));
        assert!(got.contains(&SpeakerEvent::RoutesIgnored {
            peer: "192.168.1.1".into(),
            count: 1
        }));
        let m = sp.metrics().render();
        assert!(m.contains("kube_bgp_session_up{peer=\"192.168.1.1\"} 0"));
        assert!(m.contains("received Cease/Administrative Reset (6/4)"));
    }
}
