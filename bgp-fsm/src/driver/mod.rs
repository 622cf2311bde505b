//! The tokio driver: a socket pump that runs one sans-I/O [`Peer`] over TCP (feature `tokio`).
//!
//! [`spawn_peer`] starts a task that connects out (unless passive) and/or takes the peer's
//! incoming connections from a shared [`Listener`], moves the bytes it reads and the time into
//! the [`Peer`] (which frames, decodes, runs the state machines and resolves collisions), and
//! writes, connects and closes as the peer says. The returned [`PeerHandle`] sends UPDATEs and
//! ROUTE-REFRESHes, reports the state through a [`tokio::sync::watch`] channel and every event
//! through a lossless bounded channel ([`PeerHandle::take_events`]).
//!
//! Flow control: the event channel holds [`EVENT_CAPACITY`] events. Once the receiver has
//! been taken, a full channel leaves further events in the [`Peer`]; when [`EVENT_CAPACITY`]
//! wait there too, the peer holds received messages back undecoded (64 KiB; KEEPALIVEs are
//! still processed and every message still feeds the hold timer), then stops asking for reads
//! and TCP pushes back. So the consumer must keep draining the channel; before it is taken,
//! surplus events are dropped. Outgoing UPDATEs are accepted while at most
//! [`WRITE_QUEUE_LIMIT`] octets wait for the socket; beyond that [`PeerHandle::send_update`]
//! waits (backpressure). A peer that reads nothing for the RFC 9687 SendHoldTime (8 minutes or
//! twice the hold time) loses the session with NOTIFICATION 8.
//!
//! Collisions (RFC 4271 §6.8) are the [`Peer`]'s: an incoming connection that arrives while the
//! session is in OpenSent or OpenConfirm gets its own state machine; as soon as the peer's BGP
//! Identifier is known, [`crate::collision::resolve`] picks the survivor and the other one
//! sends Cease 6/7. A connection arriving while Established is refused with Cease 6/7.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use bgp_fsm::driver::{Listener, PeerConfig, PeerEvent, spawn_peer};
//! let listener = Listener::bind("0.0.0.0:179".parse().unwrap()).await?;
//! let cfg = PeerConfig::new(64512, 64512, "192.168.1.10".parse().unwrap(), "192.168.1.1".parse().unwrap());
//! let peer = spawn_peer(cfg, Some(&listener));
//! let mut events = peer.take_events().unwrap();
//! while let Some(ev) = events.recv().await {
//!     if let PeerEvent::Established(n) = ev {
//!         println!("up with AS{}", n.peer_as);
//!         // (re)announce routes with peer.send_update(..).await
//!     }
//! }
//! # Ok(()) }
//! ```

mod config;
mod handle;
mod listener;
mod scope;
mod sockopt;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::fsm::State;
use crate::peer::{ConnId, IoAction, Limits, Peer, PeerError};

/// Capacity of the event channel of [`PeerHandle::take_events`].
pub const EVENT_CAPACITY: usize = 64;
/// Octets of queued output above which UPDATEs from the handle wait.
pub const WRITE_QUEUE_LIMIT: usize = 64 * 1024;
/// How long a stopping peer tries to hand its last events to a full channel.
const FINAL_EVENTS_TIMEOUT: Duration = Duration::from_secs(1);
/// Octets read from a socket per wake-up (a stack buffer; the peer keeps what it needs).
const READ_CHUNK: usize = 16 * 1024;
/// How long a closing connection may take to flush its last messages (e.g. a NOTIFICATION).
const CLOSE_FLUSH_TIMEOUT: Duration = Duration::from_secs(1);

pub use config::PeerConfig;
use handle::Command;
pub use handle::{DriverError, PeerHandle};
pub use listener::Listener;
pub use scope::{interface_index, is_link_local, parse_scoped_addr, scoped_socket_addr};

/// Something that happened to a peer (the sans-I/O [`crate::peer::PeerEvent`]).
pub use crate::peer::PeerEvent;

/// Start a peer; it runs until [`PeerHandle::shutdown`] or until every handle is dropped.
///
/// Must be called within a tokio runtime. Registers the peer with `listener` (when given) to
/// receive its incoming connections; TCP MD5 keys are installed on the listener too.
pub fn spawn_peer(config: PeerConfig, listener: Option<&Listener>) -> PeerHandle {
    let (cmd_tx, cmd_rx) = mpsc::channel(8);
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_CAPACITY);
    let (state_tx, state_rx) = watch::channel(State::Idle);
    let conn_info = Arc::new(Mutex::new(None));
    let taken = Arc::new(AtomicBool::new(false));
    let incoming = listener.and_then(|l| {
        match l.register(
            config.peer_addr,
            config.scope_id,
            config.md5_password.as_deref(),
        ) {
            Ok(reg) => Some(reg),
            Err(e) => {
                tracing::warn!(
                    "cannot register peer {} with listener: {e}",
                    config.peer_addr
                );
                None
            }
        }
    });
    let limits = Limits {
        events: EVENT_CAPACITY,
        send_buffer: WRITE_QUEUE_LIMIT,
        ..Limits::default()
    };
    let (incoming, registration) = match incoming {
        Some((rx, id)) => (Some(rx), id),
        None => (None, 0),
    };
    let driver = Driver {
        epoch: Instant::now(),
        peer: Peer::new(config.session_config(), limits),
        conns: [None, None],
        spare: None,
        connecting: None,
        cmd_rx,
        incoming,
        registration,
        listener: listener.cloned(),
        events: ev_tx,
        held: None,
        state: state_tx,
        conn_info: conn_info.clone(),
        taken: taken.clone(),
        finished: false,
        closing: Vec::new(),
        outq: None,
        cfg: config.clone(),
    };
    tokio::spawn(driver.run());
    PeerHandle {
        cmd: cmd_tx,
        state: state_rx,
        conn: conn_info,
        taken,
        events: Arc::new(Mutex::new(Some(ev_rx))),
        peer: config.peer_addr,
    }
}

/// A socket of the pump with the bytes [`Peer::poll_transmit`] gave for it.
struct Conn {
    id: ConnId,
    stream: TcpStream,
    wbuf: BytesMut,
}

type Connecting = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// The socket pump: moves bytes, time, commands and events between tokio and a [`Peer`].
struct Driver {
    cfg: PeerConfig,
    epoch: Instant,
    peer: Peer,
    /// The session's connection and, during a collision, a second one.
    conns: [Option<Conn>; 2],
    /// For a moment, a third connection that the peer is replacing or refusing.
    spare: Option<Conn>,
    connecting: Option<Connecting>,
    cmd_rx: mpsc::Receiver<Command>,
    incoming: Option<mpsc::Receiver<TcpStream>>,
    /// Our registration with the listener (see `Listener::unregister`).
    registration: u64,
    listener: Option<Listener>,
    events: mpsc::Sender<PeerEvent>,
    /// One event the full channel did not take yet (the rest wait in the peer).
    held: Option<PeerEvent>,
    state: watch::Sender<State>,
    conn_info: Arc<Mutex<Option<(SocketAddr, SocketAddr)>>>,
    taken: Arc<AtomicBool>,
    finished: bool,
    closing: Vec<tokio::task::JoinHandle<()>>,
    /// UPDATEs of a [`PeerHandle::send_updates`] command not yet taken by the send buffer,
    /// and where to report when they all are.
    outq: Option<OutQueue>,
}

type OutQueue = (OutItems, oneshot::Sender<Result<(), DriverError>>);

/// The UPDATEs of one batch command: to encode, or encoded already.
enum OutItems {
    Updates(std::vec::IntoIter<bgp_wire::Update>),
    Encoded(std::vec::IntoIter<bytes::Bytes>),
}

impl OutItems {
    fn len(&self) -> usize {
        match self {
            OutItems::Updates(it) => it.len(),
            OutItems::Encoded(it) => it.len(),
        }
    }
}

enum Io {
    Read(io::Result<()>),
    Write(io::Result<()>),
}

enum Wake {
    Conn(usize, Io),
    Connected(io::Result<TcpStream>),
    Cmd(Option<Command>),
    Incoming(Option<TcpStream>),
    Permit,
    Timer,
}

/// Readiness of one connection; pending forever without one.
async fn conn_io(conn: Option<&mut Conn>, peer: &Peer) -> Io {
    let Some(Conn { stream, wbuf, id }) = conn else {
        return std::future::pending().await;
    };
    let read = peer.wants_read(*id);
    tokio::select! {
        r = stream.readable(), if read => Io::Read(r),
        r = stream.writable(), if !wbuf.is_empty() => Io::Write(r),
        // Not reading (flow control) and nothing to write: wait for other wake-ups.
        else => std::future::pending().await,
    }
}

/// Read what is available (without waiting). `Ok(Some(0))` is end of stream.
fn try_read(conn: &mut Conn, buf: &mut [u8]) -> io::Result<Option<usize>> {
    match conn.stream.try_read(buf) {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

/// Write what the socket takes (without waiting); the number of octets written.
fn try_write(conn: &mut Conn) -> io::Result<usize> {
    match conn.stream.try_write(&conn.wbuf) {
        Ok(n) => {
            conn.wbuf.advance(n);
            if conn.wbuf.is_empty() {
                // Give the capacity back: idle sessions keep no write buffer.
                conn.wbuf = BytesMut::new();
            }
            Ok(n)
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
        Err(e) => Err(e),
    }
}

async fn maybe_connect(c: &mut Option<Connecting>) -> io::Result<TcpStream> {
    match c {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

async fn maybe_incoming(rx: &mut Option<mpsc::Receiver<TcpStream>>) -> Option<TcpStream> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The TTL our packets to this peer carry: 255 with GTSM, else the configured one, else 1 on
/// eBGP; `None` leaves the system default (iBGP).
fn outgoing_ttl(cfg: &PeerConfig) -> Option<u8> {
    if cfg.gtsm {
        Some(255)
    } else if cfg.ttl.is_some() {
        cfg.ttl
    } else if cfg.local_as != cfg.peer_as {
        Some(1)
    } else {
        None
    }
}

fn set_ttl(sock: socket2::SockRef<'_>, v6: bool, cfg: &PeerConfig) -> io::Result<()> {
    if let Some(t) = outgoing_ttl(cfg) {
        if v6 {
            sock.set_unicast_hops_v6(u32::from(t))?;
        } else {
            sock.set_ttl(u32::from(t))?;
        }
    }
    if cfg.gtsm {
        sockopt::set_min_ttl(&*sock, v6, 254)?;
    }
    Ok(())
}

async fn connect(cfg: PeerConfig) -> io::Result<TcpStream> {
    let peer = scoped_socket_addr(cfg.peer_addr, cfg.peer_port, cfg.scope_id);
    let sock = if peer.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(l) = cfg.local_addr {
        // A link-local source lives on the peer's interface.
        let scope = if is_link_local(l) { cfg.scope_id } else { 0 };
        sock.bind(scoped_socket_addr(l, 0, scope))?;
    }
    if let Some(k) = &cfg.md5_password {
        sockopt::set_md5(&sock, peer.is_ipv6(), cfg.peer_addr, k.as_bytes())?;
    }
    set_ttl(socket2::SockRef::from(&sock), peer.is_ipv6(), &cfg)?;
    sock.set_nodelay(true)?;
    sock.connect(peer).await
}

/// Flush and close in the background, so the peer task itself stays small and never waits.
fn spawn_close(conn: Conn) {
    tokio::spawn(close(conn));
}

async fn close(mut conn: Conn) {
    if !conn.wbuf.is_empty() {
        let _ = tokio::time::timeout(CLOSE_FLUSH_TIMEOUT, conn.stream.write_all(&conn.wbuf)).await;
    }
    let _ = tokio::time::timeout(CLOSE_FLUSH_TIMEOUT, conn.stream.shutdown()).await;
}

impl Driver {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    fn conn_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        let [a, b] = &mut self.conns;
        [a, b, &mut self.spare]
            .into_iter()
            .find_map(|c| c.as_mut().filter(|c| c.id == id))
    }

    fn take_conn(&mut self, id: ConnId) -> Option<Conn> {
        let [a, b] = &mut self.conns;
        [a, b, &mut self.spare]
            .into_iter()
            .find(|c| c.as_ref().is_some_and(|c| c.id == id))
            .and_then(Option::take)
    }

    /// Give a connection that arrived while both slots were taken a slot, now that the peer
    /// replaced or refused one.
    fn settle_spare(&mut self, now: Duration) {
        let Some(c) = self.spare.take() else { return };
        match self.conns.iter_mut().find(|s| s.is_none()) {
            Some(slot) => *slot = Some(c),
            None => {
                // Not expected: the peer keeps at most two connections.
                let id = c.id;
                spawn_close(c);
                self.peer.handle_closed(now, id);
            }
        }
    }

    /// Carry out what the peer produced: bytes to sockets, socket actions, events to the
    /// channel, and the state to the watch.
    fn drain(&mut self) {
        // Each round hands events to the channel; input held back for want of room is then
        // resumed, until the channel is full or nothing waits (bounded for fairness).
        for _ in 0..64 {
            self.drain_once();
            if self.held.is_some() || self.finished || !self.peer.has_held_input() {
                return;
            }
            let now = self.now();
            self.peer.resume(now);
        }
    }

    fn drain_once(&mut self) {
        while let Some((id, bytes)) = self.peer.poll_transmit() {
            if let Some(c) = self.conn_mut(id) {
                c.wbuf.extend_from_slice(&bytes);
            }
        }
        while let Some(a) = self.peer.poll_io() {
            match a {
                IoAction::Connect => {
                    self.connecting = Some(Box::pin(connect(self.cfg.clone())));
                }
                IoAction::CancelConnect => self.connecting = None,
                IoAction::Close(id) => {
                    if let Some(c) = self.take_conn(id) {
                        let task = tokio::spawn(close(c));
                        if self.finished {
                            self.closing.push(task);
                        }
                    }
                }
            }
        }
        if self.spare.is_some() {
            let now = self.now();
            self.settle_spare(now);
        }
        // The state and the connection addresses first: whoever gets the Established event
        // finds them already set.
        let st = self.peer.state();
        let changed = self.state.send_if_modified(|s| {
            let changed = *s != st;
            *s = st;
            changed
        });
        if changed {
            tracing::debug!("peer {}: {st}", self.cfg.peer_addr);
            let addrs = if st == State::Established {
                self.peer
                    .session_conn()
                    .and_then(|id| self.conns.iter().flatten().find(|c| c.id == id))
                    .and_then(|c| Some((c.stream.local_addr().ok()?, c.stream.peer_addr().ok()?)))
            } else {
                None
            };
            if let Ok(mut g) = self.conn_info.lock() {
                *g = addrs;
            }
        }
        self.flush_events();
    }

    fn flush_events(&mut self) {
        loop {
            let Some(ev) = self.held.take().or_else(|| self.peer.poll_event()) else {
                return;
            };
            match self.events.try_send(ev) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(ev)) => {
                    if !self.taken.load(Ordering::Relaxed) {
                        // Nobody took the receiver yet: keep the first EVENT_CAPACITY events
                        // for a late taker, drop the rest, never stall the session.
                        continue;
                    }
                    self.held = Some(ev);
                    return;
                }
                // Nobody listens: drop the events.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }

    async fn run(mut self) {
        let now = self.now();
        self.peer.start(now);
        self.drain();
        while !self.finished {
            self.pump_outq();
            let deadline = self.peer.poll_timeout();
            // A batch being sent is finished before the next command.
            let write_ok = self.peer.send_capacity() > 0 && self.outq.is_none();
            let epoch = self.epoch;
            let Driver {
                peer,
                conns,
                connecting,
                cmd_rx,
                incoming,
                events,
                held,
                ..
            } = &mut self;
            let [c0, c1] = conns;
            let wake = tokio::select! {
                io = conn_io(c0.as_mut(), peer) => Wake::Conn(0, io),
                io = conn_io(c1.as_mut(), peer) => Wake::Conn(1, io),
                r = maybe_connect(connecting) => Wake::Connected(r),
                c = cmd_rx.recv(), if write_ok => Wake::Cmd(c),
                s = maybe_incoming(incoming) => Wake::Incoming(s),
                p = events.reserve(), if held.is_some() => {
                    match p {
                        Ok(permit) => {
                            if let Some(ev) = held.take() {
                                permit.send(ev);
                            }
                        }
                        Err(_) => *held = None,
                    }
                    Wake::Permit
                }
                () = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(epoch + d).await,
                        None => std::future::pending().await,
                    }
                } => Wake::Timer,
            };
            let now = self.now();
            match wake {
                Wake::Conn(i, io) => self.on_io(i, io, now),
                Wake::Connected(r) => self.on_connected(r, now),
                Wake::Cmd(Some(c)) => self.on_command(c).await,
                Wake::Cmd(None) => {
                    // Every handle is gone: stop quietly-but-politely.
                    self.stop(None).await;
                }
                Wake::Incoming(Some(s)) => self.on_incoming(s, now),
                Wake::Incoming(None) => self.incoming = None,
                Wake::Permit => {
                    self.flush_events();
                    self.peer.resume(now);
                }
                Wake::Timer => self.peer.handle_timeout(now),
            }
            self.drain();
        }
        if let Some(l) = &self.listener {
            l.unregister(
                self.cfg.peer_addr,
                self.cfg.scope_id,
                self.registration,
                self.cfg.md5_password.is_some(),
            );
        }
        // Deliver what is left (the final Down), but never hang on a receiver nobody drains.
        let mut pending: Vec<PeerEvent> = self.held.take().into_iter().collect();
        while let Some(ev) = self.peer.poll_event() {
            pending.push(ev);
        }
        let events = self.events.clone();
        let _ = tokio::time::timeout(FINAL_EVENTS_TIMEOUT, async move {
            for ev in pending {
                if events.send(ev).await.is_err() {
                    break;
                }
            }
        })
        .await;
    }

    async fn stop(&mut self, message: Option<String>) {
        let now = self.now();
        self.finished = true;
        self.peer.shutdown(now, message.as_deref());
        // Keep the events: they are delivered after the loop.
        let held = self.held.take();
        while let Some((id, bytes)) = self.peer.poll_transmit() {
            if let Some(c) = self.conn_mut(id) {
                c.wbuf.extend_from_slice(&bytes);
            }
        }
        while let Some(a) = self.peer.poll_io() {
            if let IoAction::Close(id) = a
                && let Some(c) = self.take_conn(id)
            {
                self.closing.push(tokio::spawn(close(c)));
            }
        }
        self.held = held;
        self.state.send_replace(self.peer.state());
        if let Ok(mut g) = self.conn_info.lock() {
            *g = None;
        }
        self.conns = [None, None];
        self.spare = None;
        self.connecting = None;
        // The Ceases are flushed before the caller hears that we stopped.
        for task in self.closing.drain(..) {
            let _ = task.await;
        }
    }

    async fn on_command(&mut self, c: Command) {
        let now = self.now();
        match c {
            Command::Update(u, reply) => {
                let r = self.peer.send_update(now, *u).map_err(|e| {
                    if let PeerError::Encode(e) = &e {
                        tracing::warn!("cannot encode message for {}: {e}", self.cfg.peer_addr);
                    }
                    driver_error(e)
                });
                let _ = reply.send(r);
            }
            Command::Updates(u, reply) => {
                self.outq = Some((OutItems::Updates(u.into_iter()), reply));
                self.pump_outq();
            }
            Command::Encoded(u, reply) => {
                self.outq = Some((OutItems::Encoded(u.into_iter()), reply));
                self.pump_outq();
            }
            Command::RouteRefresh(af, reply) => {
                let r = self.peer.send_route_refresh(now, af).map_err(driver_error);
                let _ = reply.send(r);
            }
            Command::Shutdown(msg, reply) => {
                self.stop(msg).await;
                let _ = reply.send(());
            }
            Command::AutomaticStop(cease, reply) => {
                self.peer.automatic_stop(now, cease);
                let _ = reply.send(());
            }
        }
    }

    /// Hand queued UPDATEs of a batch to the session while its send buffer takes them.
    fn pump_outq(&mut self) {
        let Some((mut it, reply)) = self.outq.take() else {
            return;
        };
        let now = self.now();
        while self.peer.send_capacity() > 0 {
            let r = match &mut it {
                OutItems::Updates(it) => it.next().map(|u| self.peer.send_update(now, u)),
                OutItems::Encoded(it) => it.next().map(|b| self.peer.send_encoded_update(now, &b)),
            };
            let Some(r) = r else {
                let _ = reply.send(Ok(()));
                self.drain();
                return;
            };
            if let Err(e) = r {
                if let PeerError::Encode(e) = &e {
                    tracing::warn!("cannot encode message for {}: {e}", self.cfg.peer_addr);
                }
                let _ = reply.send(Err(driver_error(e)));
                self.drain();
                return;
            }
        }
        if it.len() == 0 {
            let _ = reply.send(Ok(()));
        } else {
            self.outq = Some((it, reply));
        }
        self.drain();
    }

    fn on_connected(&mut self, r: io::Result<TcpStream>, now: Duration) {
        self.connecting = None;
        match r {
            Ok(stream) => {
                tracing::debug!("connected to {}", self.cfg.peer_addr);
                if let Some(id) = self.peer.handle_connected(now) {
                    self.insert(id, stream);
                }
                // Else an incoming connection was taken meanwhile: drop this one.
            }
            Err(e) => {
                tracing::debug!("connect to {} failed: {e}", self.cfg.peer_addr);
                self.peer.handle_connect_failed(now);
            }
        }
    }

    fn insert(&mut self, id: ConnId, stream: TcpStream) {
        let conn = Conn {
            id,
            stream,
            wbuf: BytesMut::new(),
        };
        match self.conns.iter_mut().find(|c| c.is_none()) {
            Some(slot) => *slot = Some(conn),
            // A third connection waits outside the select until the drain that follows, where
            // the peer replaces or refuses one.
            None => self.spare = Some(conn),
        }
    }

    fn on_incoming(&mut self, stream: TcpStream, now: Duration) {
        let v6 = stream.local_addr().is_ok_and(|a| a.is_ipv6());
        if let Err(e) = set_ttl(socket2::SockRef::from(&stream), v6, &self.cfg) {
            tracing::debug!("cannot set TTL options: {e}");
        }
        let _ = stream.set_nodelay(true);
        let id = self.peer.handle_accepted(now);
        self.insert(id, stream);
    }

    fn on_io(&mut self, i: usize, io: Io, now: Duration) {
        let Some(c) = self.conns.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        let id = c.id;
        let failed = match io {
            Io::Write(Ok(())) => match try_write(c) {
                Ok(n) => {
                    self.peer.handle_transmitted(now, id, n);
                    false
                }
                Err(_) => true,
            },
            Io::Read(Ok(())) => {
                let mut buf = [0u8; READ_CHUNK];
                match try_read(c, &mut buf) {
                    Ok(None) => false,
                    Ok(Some(0)) | Err(_) => true,
                    Ok(Some(n)) => {
                        self.peer
                            .handle_input(now, id, buf.get(..n).unwrap_or_default());
                        false
                    }
                }
            }
            Io::Read(Err(_)) | Io::Write(Err(_)) => true,
        };
        if failed {
            self.conns[i] = None;
            self.peer.handle_closed(now, id);
        }
    }
}

fn driver_error(e: PeerError) -> DriverError {
    match e {
        PeerError::NotEstablished(s) => DriverError::NotEstablished(s),
        PeerError::Fsm(e) => DriverError::Fsm(e),
        PeerError::Encode(e) => DriverError::Encode(e),
        PeerError::Backpressure(_) => DriverError::Io(io::ErrorKind::WouldBlock.into()),
    }
}
