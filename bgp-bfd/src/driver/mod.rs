//! A tokio driver for single-hop (RFC 5881) and multihop (RFC 5883) BFD over UDP, IPv4
//! and IPv6.
//!
//! One task owns every session and one socket pair per address family: a receive
//! socket on UDP 3784 shared by all sessions, and a transmit socket bound to one source
//! port in 49152-65535 (the same port for every packet of every session, as §4 asks of
//! each session). Packets go out with TTL / Hop Limit 255, and received packets with any
//! other value are discarded (§5, the GTSM check). A received packet finds its session by
//! Your Discriminator, or by source address while that is zero (§3 of RFC 5881, §6.8.6).
//! Timers sit in one heap, so the cost per packet does not grow with the session count.
//!
//! Multihop sessions ([`Bfd::add_multihop_session`]) receive on UDP 4784 with a socket of
//! their own per family, opened with the first of them (without SO_REUSEADDR, so as not
//! to share the port with another BFD daemon), are identified by the pair of addresses
//! (RFC 5883 §3), and accept any TTL of at least their configured floor instead of
//! exactly 255. A packet on one port never reaches a session of the other kind.
//!
//! ```no_run
//! # async fn f() -> std::io::Result<()> {
//! use std::time::Duration;
//! use bgp_bfd::SessionConfig;
//! use bgp_bfd::driver::{Bfd, DriverConfig};
//!
//! let bfd = Bfd::spawn(DriverConfig::default()).await?;
//! let cfg = SessionConfig::new(Duration::from_millis(100), Duration::from_millis(100), 3);
//! let session = bfd.add_session("10.0.0.2".parse().unwrap(), cfg).await.unwrap();
//! let mut state = session.watch();
//! state.changed().await.ok();
//! println!("now {:?}", state.borrow().state);
//! # Ok(()) }
//! ```

mod echo;
mod link;
mod sockets;
mod sys;

pub use echo::ECHO_PORT;

use sockets::{Sockets, readable};

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use thiserror::Error;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::auth::AuthKey;
use crate::packet::{ControlPacket, Diag, EchoPacket, State};
use crate::session::{Event, Session, SessionConfig};

/// The single-hop BFD Control port (RFC 5881 §4).
pub const CONTROL_PORT: u16 = 3784;
/// The multihop BFD Control port (RFC 5883 §5).
pub const MULTIHOP_PORT: u16 = 4784;
/// The source port range for Control packets (RFC 5881 §4).
pub const SOURCE_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;

/// Driver settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverConfig {
    /// Port to receive on (3784; another value only for tests).
    pub listen_port: u16,
    /// Port to send to (3784; another value only for tests).
    pub peer_port: u16,
    /// Open the IPv4 sockets.
    pub ipv4: bool,
    /// Open the IPv6 sockets.
    pub ipv6: bool,
    /// Discard packets whose TTL / Hop Limit is not 255 (RFC 5881 §5). On by default.
    pub check_ttl: bool,
    /// Port to receive multihop packets on (RFC 5883): 4784 (another value only for
    /// tests), bound when the first multihop session of a family is added. `None`, or a
    /// port that cannot be bound (e.g. held by another BFD daemon): adding a multihop
    /// session fails with [`DriverError::NoSocket`].
    pub multihop_listen_port: Option<u16>,
    /// Port to send multihop packets to (4784; another value only for tests).
    pub multihop_peer_port: u16,
    /// Above this many received packets per second (measured over a second), stop waking
    /// up for each arriving packet: the receive sockets leave the reactor and the driver
    /// works in rounds every [`poll_interval`](Self::poll_interval), each draining the
    /// sockets with `recvmmsg`, running due timers and sending with `sendmmsg`. It goes
    /// back below half this rate. `None`: never. Default 2,000 (200 sessions at 100 ms).
    pub poll_above_pps: Option<u32>,
    /// The round period while polling (default 5 ms): packets are sent and received
    /// up to this much late, small against BFD intervals of 10s of ms and more. The
    /// sessions' transmit jitter then ends this much below 100 % of the interval
    /// ([`Session::set_tx_slack`]), so late packets stay within §6.8.7's 75-100 %.
    /// Received packets are always read before the timers of a round run, so a late
    /// read never expires a Detection Time.
    pub poll_interval: Duration,
    /// Port of the Echo function (RFC 5881 §4: 3785; another value only for tests):
    /// Echo packets go to it and come back to a socket on it, opened with the first
    /// session that runs Echo ([`SessionConfig::echo_tx`], IPv4 single hop only). `None`,
    /// or sockets that cannot be opened (sending needs CAP_NET_RAW): such sessions run
    /// without Echo.
    pub echo_port: Option<u16>,
    /// Send the Control packets of Up IPv4 single-hop sessions as whole IPv4/UDP packets
    /// through a packet socket, straight to the peer's link-layer address from the
    /// kernel's neighbour table, instead of through the UDP socket. Off by default.
    ///
    /// This skips the kernel's UDP and IP output path (route lookup, netfilter OUTPUT and
    /// POSTROUTING, cgroup socket hooks), the larger part of the driver's CPU time with
    /// many sessions: at 1,000 sessions at 100 ms it took the driver from 5.4-6.7 % to
    /// 3.5-4.8 % of a core in the README's measurements. The packets are
    /// the same on the wire (same source port, TTL 255, DSCP CS6, Don't Fragment) and
    /// still pass the interface's queueing discipline. Sessions that are not Up, multihop
    /// and IPv6 sessions, peers missing from the neighbour table or listed on more than one
    /// interface keep the UDP socket, and so does for a second a session whose packet the
    /// packet socket refused (after which the table is read again). The table is read
    /// again at least every 5 s while in use, so a changed MAC address reaches the driver
    /// within 5 s of reaching the kernel's table (by gratuitous ARP, or through the kernel's
    /// own traffic to the peer, such as BGP's TCP session or the UDP packets of a session
    /// that is not Up; the link packets themselves do not confirm the kernel's entry).
    /// Needs CAP_NET_RAW; without it the driver warns and uses the UDP socket only.
    pub link_tx: bool,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            listen_port: CONTROL_PORT,
            peer_port: CONTROL_PORT,
            ipv4: true,
            ipv6: true,
            check_ttl: true,
            multihop_listen_port: Some(MULTIHOP_PORT),
            multihop_peer_port: MULTIHOP_PORT,
            poll_above_pps: Some(2000),
            poll_interval: Duration::from_millis(5),
            echo_port: Some(ECHO_PORT),
            link_tx: false,
        }
    }
}

/// A snapshot of one session, published on every change of state or parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// bfd.SessionState.
    pub state: State,
    /// The remote state as last received.
    pub remote_state: State,
    /// bfd.LocalDiag.
    pub local_diag: Diag,
    /// bfd.LocalDiscr.
    pub local_disc: u32,
    /// bfd.RemoteDiscr.
    pub remote_disc: u32,
    /// Negotiated transmit interval (before jitter).
    pub tx_interval: Duration,
    /// Detection Time, once the remote side has been heard.
    pub detection_time: Option<Duration>,
    /// Whether our Echo function runs.
    pub echo: bool,
}

/// Driver errors.
#[derive(Debug, Error)]
pub enum DriverError {
    /// The driver task has stopped.
    #[error("BFD driver stopped")]
    Stopped,
    /// A session for this peer address already exists.
    #[error("a BFD session for {0} already exists")]
    Duplicate(IpAddr),
    /// No socket for the peer's address family (or no multihop socket).
    #[error("no {0} socket open")]
    NoSocket(&'static str),
}

/// Counters of the driver, for tests and measurements.
#[derive(Debug, Default)]
pub struct Stats {
    /// Control packets sent.
    pub sent: AtomicU64,
    /// Control packets received and accepted by a session.
    pub received: AtomicU64,
    /// Received datagrams discarded (decode error, TTL, no session, session discard).
    pub discarded: AtomicU64,
    /// Send errors (e.g. no route while a link is down).
    pub send_errors: AtomicU64,
    /// Whether the driver polls now rather than waking up per packet
    /// ([`DriverConfig::poll_above_pps`]).
    pub polling: AtomicBool,
    /// Control packets of those [`sent`](Self::sent) that left through the packet
    /// socket ([`DriverConfig::link_tx`]).
    pub link_sent: AtomicU64,
    /// Echo packets sent.
    pub echo_sent: AtomicU64,
    /// Echo packets that came back and were taken by their session.
    pub echo_received: AtomicU64,
    /// Echo packets not sent: no source address or peer link-layer address known yet,
    /// or the send failed.
    pub echo_unsent: AtomicU64,
}

enum Cmd {
    Add {
        peer: SocketAddr,
        local: Option<IpAddr>,
        /// The TTL floor of a multihop session; `None` for single hop.
        multihop: Option<u8>,
        cfg: SessionConfig,
        reply: oneshot::Sender<Result<SessionHandle, DriverError>>,
    },
    Remove(u32),
    AdminDown(u32, bool),
    Params(u32, Duration, Duration, u8),
    Auth(u32, Option<AuthKey>, Vec<AuthKey>),
    Echo(u32, Duration, Option<Duration>),
}

/// A receive socket of the driver.
#[derive(Clone, Copy)]
enum Rx {
    /// Control packets of one family, single hop or multihop.
    Control { v6: bool, multihop: bool },
    /// Our returning Echo packets.
    Echo,
}

/// Handle to the driver task; cloning is cheap. The task stops when every handle (and
/// every [`SessionHandle`]) is dropped.
#[derive(Clone)]
pub struct Bfd {
    cmd: mpsc::UnboundedSender<Cmd>,
    stats: Arc<Stats>,
    tx_ports: (Option<u16>, Option<u16>),
}

/// Handle to one session. Dropping it removes the session (after an AdminDown packet).
pub struct SessionHandle {
    disc: u32,
    peer: IpAddr,
    cmd: mpsc::UnboundedSender<Cmd>,
    info: watch::Receiver<SessionInfo>,
    events: Option<mpsc::Receiver<Event>>,
}

impl std::fmt::Debug for Bfd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bfd")
            .field("source_ports", &self.tx_ports)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("peer", &self.peer)
            .field("local_disc", &self.disc)
            .finish_non_exhaustive()
    }
}

impl SessionHandle {
    /// bfd.LocalDiscr of this session.
    pub fn local_disc(&self) -> u32 {
        self.disc
    }
    /// The peer address.
    pub fn peer(&self) -> IpAddr {
        self.peer
    }
    /// The current snapshot.
    pub fn info(&self) -> SessionInfo {
        self.info.borrow().clone()
    }
    /// A receiver of snapshots (it sees the latest; use [`take_events`](Self::take_events)
    /// to see every transition).
    pub fn watch(&self) -> watch::Receiver<SessionInfo> {
        self.info.clone()
    }
    /// Every state change and Poll Sequence end, in order (once; later calls get `None`).
    /// The channel holds 64 events; more are dropped while nobody reads.
    pub fn take_events(&mut self) -> Option<mpsc::Receiver<Event>> {
        self.events.take()
    }
    /// Hold the session AdminDown or release it.
    pub fn set_admin_down(&self, down: bool) {
        let _ = self.cmd.send(Cmd::AdminDown(self.disc, down));
    }
    /// Change the timers (through a Poll Sequence while Up).
    pub fn set_parameters(&self, min_tx: Duration, min_rx: Duration, mult: u8) {
        let _ = self.cmd.send(Cmd::Params(self.disc, min_tx, min_rx, mult));
    }
    /// Change the keys without a restart: `sign` signs from the next packet on, and
    /// received packets may use `sign` or any of `accept` (a key rollover, see
    /// [`Session::set_auth`](crate::Session::set_auth)).
    pub fn set_auth(&self, sign: Option<AuthKey>, accept: Vec<AuthKey>) {
        let _ = self.cmd.send(Cmd::Auth(self.disc, sign, accept));
    }
    /// Change the Echo settings ([`SessionConfig::required_min_echo_rx`],
    /// [`SessionConfig::echo_tx`]) without a restart. Our Echo function is left off
    /// where the driver cannot run it (see [`DriverConfig::echo_port`]).
    pub fn set_echo(&self, required_min_echo_rx: Duration, echo_tx: Option<Duration>) {
        let _ = self
            .cmd
            .send(Cmd::Echo(self.disc, required_min_echo_rx, echo_tx));
    }
    /// Wait until the session reaches `state` or `timeout` passes.
    pub async fn wait_state(&self, state: State, timeout: Duration) -> bool {
        let mut w = self.info.clone();
        tokio::time::timeout(timeout, w.wait_for(|i| i.state == state))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

impl Drop for SessionHandle {
    fn drop(&mut self) {
        let _ = self.cmd.send(Cmd::Remove(self.disc));
    }
}

impl Bfd {
    /// Open the sockets and start the driver task.
    pub async fn spawn(cfg: DriverConfig) -> io::Result<Bfd> {
        Self::start(cfg)
    }

    /// [`spawn`](Self::spawn) from synchronous code running inside a tokio runtime
    /// (nothing in it waits); panics outside one, as `tokio::spawn` does.
    pub fn start(cfg: DriverConfig) -> io::Result<Bfd> {
        let v4 = if cfg.ipv4 {
            Some(Sockets::open(false, cfg.listen_port)?)
        } else {
            None
        };
        let v6 = if cfg.ipv6 {
            Some(Sockets::open(true, cfg.listen_port)?)
        } else {
            None
        };
        let tx_ports = (
            v4.as_ref().map(|s| s.tx_port),
            v6.as_ref().map(|s| s.tx_port),
        );
        let (cmd, cmd_rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Stats::default());
        let epoch = Instant::now();
        let seed = random_u64();
        let packet = if cfg.link_tx {
            link::PacketSock::open()
                .inspect_err(|e| {
                    tracing::warn!("BFD: no packet socket ({e}); Control packets use UDP only")
                })
                .ok()
        } else {
            None
        };
        let core = Core {
            epoch,
            cfg,
            v4,
            v6,
            sessions: HashMap::new(),
            by_peer: HashMap::new(),
            heap: BinaryHeap::new(),
            next_disc: (seed as u32).wrapping_mul(2_654_435_761) | 1,
            stats: stats.clone(),
            cmd_tx: cmd.downgrade(),
            rx: sys::RxBatch::new(),
            tx4: sys::TxBatch::new(),
            tx6: sys::TxBatch::new(),
            polling: false,
            rate_count: 0,
            rate_since: Duration::ZERO,
            echo: None,
            packet,
            neighbours: link::Neighbours::default(),
            txl: link::LinkBatch::new(),
            refused: Vec::new(),
        };
        tokio::spawn(core.run(cmd_rx));
        Ok(Bfd {
            cmd,
            stats,
            tx_ports,
        })
    }

    /// Start a session to `peer` (single hop). For an IPv6 link-local peer use
    /// [`add_session_scoped`](Self::add_session_scoped).
    pub async fn add_session(
        &self,
        peer: IpAddr,
        cfg: SessionConfig,
    ) -> Result<SessionHandle, DriverError> {
        self.add_session_full(peer, 0, None, None, cfg).await
    }

    /// Start a multihop session (RFC 5883) to `peer` from local address `local`, e.g.
    /// between the loopbacks of two iBGP speakers. Packets go to UDP 4784 with TTL 255;
    /// received ones must carry at least `min_ttl` ([`MULTIHOP_MIN_TTL`], 254, allows one
    /// router in between, as FRR's default). Use authentication ([`SessionConfig::auth`])
    /// where the path is not trusted.
    pub async fn add_multihop_session(
        &self,
        peer: IpAddr,
        local: IpAddr,
        min_ttl: u8,
        cfg: SessionConfig,
    ) -> Result<SessionHandle, DriverError> {
        self.add_session_full(peer, 0, Some(local), Some(min_ttl), cfg)
            .await
    }

    /// Start a session to `peer` from local address `local`: packets leave from that
    /// address, and while the peer's Your Discriminator is still zero its packets are
    /// matched by both addresses. Several sessions may then share a peer address.
    pub async fn add_session_from(
        &self,
        peer: IpAddr,
        local: IpAddr,
        cfg: SessionConfig,
    ) -> Result<SessionHandle, DriverError> {
        self.add_session_full(peer, 0, Some(local), None, cfg).await
    }

    /// Start a session to `peer` reached through interface index `scope_id` (IPv6
    /// link-local; ignored for IPv4).
    pub async fn add_session_scoped(
        &self,
        peer: IpAddr,
        scope_id: u32,
        cfg: SessionConfig,
    ) -> Result<SessionHandle, DriverError> {
        self.add_session_full(peer, scope_id, None, None, cfg).await
    }

    async fn add_session_full(
        &self,
        peer: IpAddr,
        scope_id: u32,
        local: Option<IpAddr>,
        multihop: Option<u8>,
        cfg: SessionConfig,
    ) -> Result<SessionHandle, DriverError> {
        let peer = match peer {
            IpAddr::V4(a) => SocketAddr::new(IpAddr::V4(a), 0),
            IpAddr::V6(a) => SocketAddr::V6(std::net::SocketAddrV6::new(a, 0, 0, scope_id)),
        };
        let (reply, rx) = oneshot::channel();
        self.cmd
            .send(Cmd::Add {
                peer,
                local,
                multihop,
                cfg,
                reply,
            })
            .map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)?
    }

    /// The driver's counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The transmit source ports (IPv4, IPv6), in 49152-65535.
    pub fn source_ports(&self) -> (Option<u16>, Option<u16>) {
        self.tx_ports
    }
}

struct Entry {
    session: Session,
    peer: SocketAddr,
    local: Option<IpAddr>,
    multihop: bool,
    /// Lowest TTL accepted (255 on a single hop).
    min_ttl: u8,
    info: watch::Sender<SessionInfo>,
    /// The snapshot last sent on `info`, kept here to compare with: reading the
    /// channel's own copy takes its lock, a cache miss per packet with many sessions
    /// (~5 % of the driver's samples at 1,000 sessions).
    published: SessionInfo,
    events: mpsc::Sender<Event>,
    scheduled: Option<Duration>,
    removing: bool,
    /// Our IPv4 address on the link: the bound local address, or the destination of
    /// the peer's last Control packet. The source of packets sent on the link (Echo,
    /// and Control with [`DriverConfig::link_tx`]).
    src4: Option<std::net::Ipv4Addr>,
    /// The peer's link, from the neighbour table.
    link: Option<link::Link>,
    /// After a refused send on the link: Control packets use the UDP socket until then.
    link_off_until: Option<Duration>,
}

struct Core {
    epoch: Instant,
    cfg: DriverConfig,
    v4: Option<Sockets>,
    v6: Option<Sockets>,
    sessions: HashMap<u32, Entry>,
    /// Sessions by (peer, local address if bound, multihop).
    by_peer: HashMap<(IpAddr, Option<IpAddr>, bool), u32>,
    heap: BinaryHeap<Reverse<(Duration, u32)>>,
    next_disc: u32,
    stats: Arc<Stats>,
    cmd_tx: mpsc::WeakUnboundedSender<Cmd>,
    /// Receive buffers for `recvmmsg`.
    rx: sys::RxBatch,
    /// Packets queued for the next `sendmmsg`, per family.
    tx4: sys::TxBatch,
    tx6: sys::TxBatch,
    /// Polling rather than waking up per packet (see [`DriverConfig::poll_above_pps`]).
    polling: bool,
    /// Packets received since `rate_since`, to choose the mode.
    rate_count: u64,
    rate_since: Duration,
    /// The Echo receive socket, once a session runs Echo.
    echo: Option<echo::Echo>,
    /// The send-only packet socket: for Echo packets (opened with the first session
    /// running Echo) and for Control packets ([`DriverConfig::link_tx`], opened at start).
    packet: Option<link::PacketSock>,
    /// The kernel's neighbour table, cached.
    neighbours: link::Neighbours,
    /// Control packets queued for the packet socket.
    txl: link::LinkBatch,
    /// Sessions whose packet the packet socket refused in the last batch.
    refused: Vec<u32>,
}

impl Core {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    async fn run(mut self, mut cmd_rx: mpsc::UnboundedReceiver<Cmd>) {
        let mut last_round = Instant::now();
        loop {
            let deadline = if self.polling {
                // Rounds at a fixed period: no wake-up per packet or per timer.
                last_round + self.cfg.poll_interval
            } else {
                self.heap
                    .peek()
                    .map(|Reverse((t, _))| self.epoch + *t)
                    .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))
            };
            let mut stop = false;
            tokio::select! {
                biased;
                cmd = cmd_rx.recv() => match cmd {
                    Some(c) => self.command(c),
                    None => stop = true,
                },
                r = readable(self.rx_sock(Rx::Control { v6: false, multihop: false })) => if r.is_ok() { self.receive(false, false) },
                r = readable(self.rx_sock(Rx::Control { v6: true, multihop: false })) => if r.is_ok() { self.receive(true, false) },
                r = readable(self.rx_sock(Rx::Control { v6: false, multihop: true })) => if r.is_ok() { self.receive(false, true) },
                r = readable(self.rx_sock(Rx::Control { v6: true, multihop: true })) => if r.is_ok() { self.receive(true, true) },
                r = readable(self.rx_sock(Rx::Echo)) => if r.is_ok() { self.receive_echo() },
                _ = tokio::time::sleep_until(deadline) => {},
            }
            // One round: whatever else is ready, then every due timer, then one
            // `sendmmsg` per family for all that this round queued.
            if !stop {
                for (v6, mh) in [(false, false), (true, false), (false, true), (true, true)] {
                    self.receive(v6, mh);
                }
                self.receive_echo();
                self.timers();
            }
            self.flush();
            if stop {
                break;
            }
            last_round = Instant::now();
            self.choose_mode();
        }
        // Every handle is gone: tell the peers we are going away administratively.
        let discs: Vec<u32> = self.sessions.keys().copied().collect();
        for d in discs {
            self.remove(d);
        }
        self.flush();
    }

    /// Switch between waking up per packet and polling, from the received packet rate
    /// over the last second or more.
    fn choose_mode(&mut self) {
        let now = self.now();
        let span = now.saturating_sub(self.rate_since);
        if span < Duration::from_secs(1) {
            return;
        }
        let pps = self.rate_count as f64 / span.as_secs_f64();
        self.rate_count = 0;
        self.rate_since = now;
        let Some(limit) = self.cfg.poll_above_pps else {
            return;
        };
        let limit = f64::from(limit);
        let want = if self.polling {
            pps >= limit / 2.0
        } else {
            pps >= limit
        };
        if want != self.polling {
            tracing::debug!(pps, polling = want, "bfd driver mode");
            self.polling = want;
            self.stats.polling.store(want, Ordering::Relaxed);
            let slack = self.tx_slack();
            for e in self.sessions.values_mut() {
                e.session.set_tx_slack(slack);
            }
            for s in [self.v4.as_mut(), self.v6.as_mut()].into_iter().flatten() {
                for rx in std::iter::once(&mut s.rx).chain(s.mh.as_mut()) {
                    if want {
                        rx.make_polled();
                    } else {
                        rx.make_async();
                    }
                }
            }
        }
    }

    /// How late a packet may leave in the current mode (a round's period while polling).
    fn tx_slack(&self) -> Duration {
        if self.polling {
            self.cfg.poll_interval
        } else {
            Duration::ZERO
        }
    }

    /// Send every queued packet: the UDP socket's first, so that a session's packet
    /// sent before it came Up leaves before those sent on the link after.
    fn flush(&mut self) {
        send_udp(self.v4.as_ref(), &mut self.tx4, &self.stats);
        send_udp(self.v6.as_ref(), &mut self.tx6, &self.stats);
        self.flush_link();
    }

    /// Send the Control packets queued for the packet socket. A session whose packet
    /// was refused sends through the UDP socket for a while ([`LINK_RETRY`]), and the
    /// neighbour table is read again before anyone uses the link next.
    fn flush_link(&mut self) {
        send_link(
            self.packet.as_ref(),
            &mut self.txl,
            &mut self.refused,
            &self.stats,
        );
        if self.refused.is_empty() {
            return;
        }
        let now = self.now();
        self.neighbours.invalidate();
        for d in self.refused.drain(..) {
            if let Some(e) = self.sessions.get_mut(&d) {
                e.link = None;
                e.link_off_until = Some(now + LINK_RETRY);
            }
            self.stats.send_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn command(&mut self, c: Cmd) {
        let now = self.now();
        match c {
            Cmd::Add {
                peer,
                local,
                multihop,
                cfg,
                reply,
            } => {
                let _ = reply.send(self.add(peer, local, multihop, cfg, now));
            }
            Cmd::Remove(d) => self.remove(d),
            Cmd::AdminDown(d, down) => {
                if let Some(e) = self.sessions.get_mut(&d) {
                    e.session.set_admin_down(down);
                    self.service(d, now);
                }
            }
            Cmd::Params(d, tx, rx, mult) => {
                if let Some(e) = self.sessions.get_mut(&d) {
                    e.session.set_parameters(now, tx, rx, mult);
                    self.service(d, now);
                }
            }
            Cmd::Auth(d, sign, accept) => {
                if let Some(e) = self.sessions.get_mut(&d) {
                    e.session.set_auth(sign, accept);
                }
            }
            Cmd::Echo(d, rx, tx) => {
                let Some(e) = self.sessions.get(&d) else {
                    return;
                };
                let (multihop, v6) = (e.multihop, e.peer.is_ipv6());
                let tx = self.echo_gate(tx, multihop, v6);
                if let Some(e) = self.sessions.get_mut(&d) {
                    e.session.set_echo(now, rx, tx);
                    self.service(d, now);
                }
            }
        }
    }

    fn add(
        &mut self,
        peer: SocketAddr,
        local: Option<IpAddr>,
        min_ttl: Option<u8>,
        mut cfg: SessionConfig,
        now: Duration,
    ) -> Result<SessionHandle, DriverError> {
        let cmd = self.cmd_tx.upgrade().ok_or(DriverError::Stopped)?;
        let multihop = min_ttl.is_some();
        if self.by_peer.contains_key(&(peer.ip(), local, multihop)) {
            return Err(DriverError::Duplicate(peer.ip()));
        }
        let v6 = peer.is_ipv6();
        let polling = self.polling;
        let socks = match peer {
            SocketAddr::V4(_) => self.v4.as_mut().ok_or(DriverError::NoSocket("IPv4"))?,
            SocketAddr::V6(_) => self.v6.as_mut().ok_or(DriverError::NoSocket("IPv6"))?,
        };
        let port = if multihop {
            if socks.mh.is_none() {
                let listen = self
                    .cfg
                    .multihop_listen_port
                    .ok_or(DriverError::NoSocket("multihop"))?;
                match sockets::open_rx(v6, listen, false) {
                    Ok(mut rx) => {
                        if polling {
                            rx.make_polled();
                        }
                        socks.mh = Some(rx);
                    }
                    Err(e) => {
                        tracing::warn!("BFD: no multihop socket on UDP {listen}: {e}");
                        return Err(DriverError::NoSocket("multihop"));
                    }
                }
            }
            self.cfg.multihop_peer_port
        } else {
            self.cfg.peer_port
        };
        let disc = loop {
            self.next_disc = self.next_disc.wrapping_add(1);
            if self.next_disc != 0 && !self.sessions.contains_key(&self.next_disc) {
                break self.next_disc;
            }
        };
        cfg.echo_tx = self.echo_gate(cfg.echo_tx, multihop, v6);
        // Per-session randomness: the jitter, and the first authentication sequence
        // number, which §6.8.1 wants random.
        cfg.jitter_seed ^= random_u64();
        let mut session = Session::new(cfg, NonZeroU32::new(disc).unwrap_or(NonZeroU32::MIN), now);
        session.set_tx_slack(self.tx_slack());
        let published = snapshot(&session);
        let (info, info_rx) = watch::channel(published.clone());
        let (events, events_rx) = mpsc::channel(64);
        let mut peer = peer;
        peer.set_port(port);
        self.sessions.insert(
            disc,
            Entry {
                session,
                peer,
                local,
                multihop,
                min_ttl: min_ttl.unwrap_or(255),
                info,
                published,
                events,
                scheduled: None,
                removing: false,
                src4: match local {
                    Some(IpAddr::V4(a)) => Some(a),
                    _ => None,
                },
                link: None,
                link_off_until: None,
            },
        );
        self.by_peer.insert((peer.ip(), local, multihop), disc);
        self.service(disc, now);
        Ok(SessionHandle {
            disc,
            peer: peer.ip(),
            cmd,
            info: info_rx,
            events: Some(events_rx),
        })
    }

    fn remove(&mut self, disc: u32) {
        let now = self.now();
        if let Some(e) = self.sessions.get_mut(&disc) {
            e.removing = true;
            e.session.set_admin_down(true);
            self.service(disc, now);
        }
        if let Some(e) = self.sessions.remove(&disc) {
            self.by_peer.remove(&(e.peer.ip(), e.local, e.multihop));
        }
    }

    /// The receive socket `which` names, if open.
    fn rx_sock(&self, which: Rx) -> Option<&sockets::RxSock> {
        match which {
            Rx::Control { v6, multihop } => {
                let s = if v6 { &self.v6 } else { &self.v4 };
                let s = s.as_ref()?;
                if multihop { s.mh.as_ref() } else { Some(&s.rx) }
            }
            Rx::Echo => self.echo.as_ref().map(|e| &e.rx),
        }
    }

    /// Drain one receive socket with `recvmmsg`, bounded per round (16 x 64 datagrams)
    /// so commands and timers are not starved, handing each datagram to `take`.
    /// Returns (taken, refused); a failed receive counts as refused.
    fn drain(
        &mut self,
        which: Rx,
        mut take: impl FnMut(&mut Core, Duration, &sys::Received, &[u8]) -> bool,
    ) -> (u64, u64) {
        let (mut ok, mut bad) = (0u64, 0u64);
        // The buffers leave `self` while `take` runs, which needs all of it.
        let mut batch = std::mem::replace(&mut self.rx, sys::RxBatch::empty());
        for _ in 0..16 {
            let Some(rx) = self.rx_sock(which) else { break };
            match rx.recv(&mut batch) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    bad += 1;
                    continue;
                }
            }
            let now = self.now();
            for (got, data) in batch.iter() {
                if take(self, now, got, data) {
                    ok += 1;
                } else {
                    bad += 1;
                }
            }
        }
        self.rx = batch;
        (ok, bad)
    }

    fn receive(&mut self, v6: bool, multihop: bool) {
        let (ok, bad) = self.drain(Rx::Control { v6, multihop }, |c, now, got, data| {
            c.accept(now, data, got, multihop)
        });
        self.rate_count += ok + bad;
        self.stats.received.fetch_add(ok, Ordering::Relaxed);
        self.stats.discarded.fetch_add(bad, Ordering::Relaxed);
    }

    fn accept(&mut self, now: Duration, data: &[u8], got: &sys::Received, multihop: bool) -> bool {
        // RFC 5881 §5: exactly 255 on a single hop (checked here, before any lookup);
        // RFC 5883 §5: the session's floor on multihop (checked once it is found).
        if self.cfg.check_ttl && !multihop && got.ttl != Some(255) {
            return false;
        }
        let Ok(p) = ControlPacket::decode_slice(data) else {
            return false;
        };
        let src_ip = match got.src.ip() {
            IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
            a => a,
        };
        let disc = if p.your_disc != 0 {
            // (RFC 5880 §6.8.6: by Your Discriminator whenever it is set.)
            p.your_disc
        } else {
            let by_both = got
                .dst
                .and_then(|d| self.by_peer.get(&(src_ip, Some(d), multihop)));
            match by_both.or_else(|| self.by_peer.get(&(src_ip, None, multihop))) {
                Some(d) => *d,
                None => return false,
            }
        };
        let Some(e) = self.sessions.get_mut(&disc) else {
            return false;
        };
        // A packet naming our discriminator must also come from the session's peer, to
        // its local address, on its kind of port.
        if e.peer.ip() != src_ip
            || (e.local.is_some() && got.dst.is_some() && e.local != got.dst)
            || e.multihop != multihop
            || (self.cfg.check_ttl && got.ttl.is_none_or(|t| t < e.min_ttl))
        {
            return false;
        }
        if e.local.is_none()
            && let Some(IpAddr::V4(d)) = got.dst
        {
            e.src4 = Some(d);
        }
        let ok = match e.session.handle_packet(now, &p) {
            Ok(()) => true,
            Err(err) => {
                // Authentication failures and AdminDown discards; at debug level, as a
                // misconfigured key repeats this for every packet.
                tracing::debug!(peer = %src_ip, %err, "BFD packet discarded");
                false
            }
        };
        self.service(disc, now);
        ok
    }

    /// `echo_tx` if Echo can run for a session of this kind, else `None`.
    fn echo_gate(
        &mut self,
        echo_tx: Option<Duration>,
        multihop: bool,
        v6: bool,
    ) -> Option<Duration> {
        echo_tx.filter(|_| self.echo_available(multihop || v6))
    }

    /// Whether Echo can run for a session (opening the sockets with the first); never
    /// for multihop or IPv6 sessions.
    fn echo_available(&mut self, unsupported: bool) -> bool {
        if unsupported {
            tracing::warn!("BFD Echo runs on IPv4 single-hop sessions only; off for this one");
            return false;
        }
        if self.echo.is_some() {
            return true;
        }
        let Some(port) = self.cfg.echo_port else {
            return false;
        };
        let src_port = self
            .v4
            .as_ref()
            .map_or(*SOURCE_PORTS.start(), |s| s.tx_port);
        // The receive socket first: the packet socket may already serve link TX, and
        // must stay where it is if Echo cannot run.
        let opened = echo::Echo::open(port, src_port).and_then(|e| {
            if self.packet.is_none() {
                self.packet = Some(link::PacketSock::open()?);
            }
            Ok(e)
        });
        match opened {
            Ok(e) => {
                self.echo = Some(e);
                true
            }
            Err(e) => {
                tracing::warn!("BFD Echo unavailable (UDP {port}, packet socket): {e}");
                false
            }
        }
    }

    /// Take the Echo packets that came back.
    fn receive_echo(&mut self) {
        let (ok, bad) = self.drain(Rx::Echo, |c, now, got, data| c.accept_echo(now, got, data));
        self.stats.echo_received.fetch_add(ok, Ordering::Relaxed);
        self.stats.discarded.fetch_add(bad, Ordering::Relaxed);
    }

    /// One of ours, from our own address, one hop there and back (TTL 255 less the
    /// peer's forwarding), taken by its session.
    fn accept_echo(&mut self, now: Duration, got: &sys::Received, data: &[u8]) -> bool {
        let check_ttl = self.cfg.check_ttl;
        EchoPacket::decode(data).is_some_and(|ep| {
            self.sessions.get_mut(&ep.disc).is_some_and(|e| {
                let from_us = matches!(got.src.ip(), IpAddr::V4(a) if Some(a) == e.src4);
                let ttl_ok = !check_ttl || got.ttl.is_some_and(|t| t >= 254);
                from_us && ttl_ok && e.session.handle_echo(now, &ep).is_ok()
            })
        })
    }

    fn timers(&mut self) {
        let now = self.now();
        while let Some(Reverse((t, d))) = self.heap.peek().copied() {
            if t > now {
                break;
            }
            self.heap.pop();
            let current = self.sessions.get(&d).and_then(|e| e.scheduled);
            if current == Some(t) {
                if let Some(e) = self.sessions.get_mut(&d) {
                    e.scheduled = None;
                }
                self.service(d, now);
            }
        }
    }

    /// Run one session's timers, send what it has to send, publish its changes, and
    /// put its next deadline in the heap.
    fn service(&mut self, disc: u32, now: Duration) {
        let Some(e) = self.sessions.get_mut(&disc) else {
            return;
        };
        e.session.handle_timeout(now);
        while let Some(p) = e.session.poll_transmit(now) {
            // An Up IPv4 single-hop session's packet, with the peer's link known, leaves
            // through the packet socket (DriverConfig::link_tx).
            let on_link = match (e.peer, e.src4) {
                (SocketAddr::V4(peer), Some(src))
                    if self.packet.is_some()
                        && self.cfg.link_tx
                        && !e.multihop
                        && e.session.state() == State::Up
                        && e.link_off_until.is_none_or(|t| now >= t) =>
                {
                    fresh_link(e, &mut self.neighbours, now).map(|l| (l, src, *peer.ip()))
                }
                _ => None,
            };
            if let (Some((link, src, dst)), Some(socks)) = (on_link, &self.v4) {
                if self.txl.is_full() {
                    // (The refused sessions are dealt with at the round's flush.)
                    send_link(
                        self.packet.as_ref(),
                        &mut self.txl,
                        &mut self.refused,
                        &self.stats,
                    );
                }
                let ports = (socks.tx_port, e.peer.port());
                self.txl
                    .push(link, disc, src, dst, ports, |out| encode_into(&p, out));
                continue;
            }
            let (socks, batch) = match e.peer {
                SocketAddr::V4(_) => (self.v4.as_ref(), &mut self.tx4),
                SocketAddr::V6(_) => (self.v6.as_ref(), &mut self.tx6),
            };
            if batch.is_full() {
                send_udp(socks, batch, &self.stats);
            }
            batch.push(e.peer, e.local, |out| encode_into(&p, out));
        }
        while let Some(ep) = e.session.poll_echo(now) {
            if let (Some(echo), Some(pk)) = (&self.echo, &self.packet) {
                send_echo(pk, echo, e, ep, now, &self.stats, &mut self.neighbours);
            }
        }
        while let Some(ev) = e.session.poll_event() {
            tracing::debug!(peer = %e.peer.ip(), ?ev, "bfd");
            let _ = e.events.try_send(ev);
        }
        if !e.removing {
            let snap = snapshot(&e.session);
            if e.published != snap {
                e.published = snap.clone();
                let _ = e.info.send(snap);
            }
        }
        let next = e.session.poll_timeout().map(|t| t.max(now));
        if next != e.scheduled {
            e.scheduled = next;
            if let Some(t) = next {
                self.heap.push(Reverse((t, disc)));
            }
        }
    }
}

/// How long a session whose packet the packet socket refused sends through the UDP
/// socket instead.
const LINK_RETRY: Duration = Duration::from_secs(1);

/// Encode `p` into `out`; its length, or `None` if it does not fit.
fn encode_into(p: &ControlPacket, out: &mut [u8]) -> Option<usize> {
    if p.encoded_len() > out.len() {
        return None;
    }
    let room = out.len();
    let mut w: &mut [u8] = out;
    p.encode(&mut w).ok()?;
    Some(room - w.len())
}

/// Send one family's UDP queue through its transmit socket (counted in `stats`).
fn send_udp(socks: Option<&Sockets>, batch: &mut sys::TxBatch, stats: &Stats) {
    if batch.len() == 0 {
        return;
    }
    let (sent, refused) = match socks {
        Some(s) => sys::send_batch(&s.tx, batch),
        None => (0, batch.len()),
    };
    stats.sent.fetch_add(sent as u64, Ordering::Relaxed);
    stats
        .send_errors
        .fetch_add(refused as u64, Ordering::Relaxed);
}

/// Send the packet socket's queue (counted in `stats`); the sessions whose packet was
/// refused are left in `refused`.
fn send_link(
    packet: Option<&link::PacketSock>,
    txl: &mut link::LinkBatch,
    refused: &mut Vec<u32>,
    stats: &Stats,
) {
    if txl.len() == 0 {
        return;
    }
    let sent = match packet {
        Some(p) => p.send_batch(txl, refused),
        None => txl.refuse_all(refused),
    };
    stats.sent.fetch_add(sent as u64, Ordering::Relaxed);
    stats.link_sent.fetch_add(sent as u64, Ordering::Relaxed);
}

/// The peer's link for `e`: its cached one while fresh, else from the neighbour table
/// (IPv4 peers only).
fn fresh_link(e: &mut Entry, nb: &mut link::Neighbours, now: Duration) -> Option<link::Link> {
    let IpAddr::V4(peer) = e.peer.ip() else {
        return None;
    };
    if e.link.is_none_or(|l| !l.fresh(now)) {
        e.link = nb.lookup(peer, now);
    }
    e.link
}

/// Send one Echo packet of `e`'s session: from and to our address on the link, handed
/// to the peer's link-layer address (from the neighbour table, looked up again every few
/// seconds and after a failed send). A packet that cannot leave, or whose return the
/// kernel would drop (`accept_local` off), is not sent, so it arms no failure.
fn send_echo(
    packet: &link::PacketSock,
    echo: &echo::Echo,
    e: &mut Entry,
    ep: EchoPacket,
    now: Duration,
    stats: &Stats,
    nb: &mut link::Neighbours,
) {
    let link = fresh_link(e, nb, now);
    if let Some(l) = link
        && !l.accepts_own
        && nb.first_warning(l.ifindex)
    {
        tracing::warn!(
            peer = %e.peer.ip(),
            ifindex = l.ifindex,
            "BFD Echo: accept_local is off on the interface to the peer, so the kernel \
             would drop our Echo packets as they come back; not sending them (sysctl \
             net.ipv4.conf.IFACE.accept_local=1)"
        );
    }
    let (Some(src), Some(link)) = (e.src4, link.filter(|l| l.accepts_own)) else {
        stats.echo_unsent.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let d = echo::datagram(src, echo.src_port, echo.port, &ep.encode());
    match packet.send(&link, &d) {
        Ok(()) => {
            e.session.echo_sent(now);
            stats.echo_sent.fetch_add(1, Ordering::Relaxed);
        }
        Err(_) => {
            e.link = None;
            nb.invalidate();
            stats.echo_unsent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The TTL floor of FRR's multihop sessions: one router in between.
pub const MULTIHOP_MIN_TTL: u8 = 254;

/// 64 random bits from the standard library's per-process random hash keys (seeded
/// from the OS), without another dependency.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x6266_6400);
    h.finish()
}

fn snapshot(s: &Session) -> SessionInfo {
    SessionInfo {
        state: s.state(),
        remote_state: s.remote_state(),
        local_diag: s.local_diag(),
        local_disc: s.local_disc(),
        remote_disc: s.remote_disc(),
        tx_interval: s.tx_interval(),
        detection_time: s.detection_time(),
        echo: s.echo_active(),
    }
}
