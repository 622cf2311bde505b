//! A whole BGP peer, sans-I/O: framing, the negotiated context, the collision between two
//! connections, the send hold timer and flow control, in the manner of quinn-proto's
//! `Connection`.
//!
//! A [`Peer`] owns one [`Fsm`] per TCP connection (at most two: the session's connection and,
//! during a collision, a second incoming one). Whoever runs it (the tokio [`crate::driver`], a
//! simulator, a fuzzer, a test) moves bytes and time:
//!
//! - in: [`Peer::handle_connected`] / [`Peer::handle_accepted`] (a TCP connection is up and
//!   gets a [`ConnId`]), [`Peer::handle_input`] (bytes read), [`Peer::handle_transmitted`]
//!   (bytes written), [`Peer::handle_closed`], [`Peer::handle_timeout`], and the calls of the
//!   application ([`Peer::send_update`], [`Peer::shutdown`], ...);
//! - out: [`Peer::poll_transmit`] (bytes to write on a connection), [`Peer::poll_io`]
//!   ([`IoAction`]: connect, close), [`Peer::poll_event`] ([`PeerEvent`] for the application)
//!   and [`Peer::poll_timeout`].
//!
//! Drain `poll_transmit` before `poll_io`: the bytes for a connection (e.g. a NOTIFICATION)
//! come out before the action that closes it.
//!
//! Framing uses bgp-wire's header checks ([`bgp_wire::frame_len`]) and decodes with the
//! negotiated [`bgp_wire::SessionContext`], borrowed from the state machine (never cloned per message).
//!
//! Flow control ([`Limits`]): while [`Limits::events`] events wait in [`Peer::poll_event`],
//! received messages are held back undecoded (at most [`Limits::held_input`] octets) except
//! KEEPALIVEs, which are still processed, and every held message still restarts the HoldTimer;
//! beyond that [`Peer::wants_read`] turns false and TCP pushes back. UPDATEs are refused
//! ([`PeerError::Backpressure`]) while [`Limits::send_buffer`] octets wait to be written
//! ([`Peer::send_capacity`]); KEEPALIVEs, NOTIFICATIONs and ROUTE-REFRESHes are never refused.
//! Only [`TRANSMIT_WINDOW`] octets of UPDATEs are handed out unwritten at a time; KEEPALIVEs and
//! NOTIFICATIONs go ahead of the UPDATEs still queued in the peer.
//!
//! Send hold timer (RFC 9687): in Established, when output waits and the connection makes no
//! write progress for the SendHoldTime (the larger of [`Limits::send_hold_time`] and twice the
//! negotiated hold time), the session ends with NOTIFICATION 8 (Send Hold Timer Expired)
//! through AutomaticStop, and the connection closes.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use bgp_wire::{AfiSafi, EncodeError, Message, Notification, RouteRefresh, Update, UpdateVerdict};
use bytes::{Bytes, BytesMut};

use crate::collision::Direction;
use crate::config::SessionConfig;
use crate::fsm::{DownReason, Event, Fsm, FsmError, State};
use crate::negotiate::Negotiated;

/// NOTIFICATION error code 8, Send Hold Timer Expired (RFC 9687).
pub const SEND_HOLD_TIMER_EXPIRED: u8 = 8;
/// The smallest SendHoldTime RFC 9687 suggests: 8 minutes.
pub const DEFAULT_SEND_HOLD_TIME: Duration = Duration::from_secs(480);
/// Octets handed out by [`Peer::poll_transmit`] and not yet written, above which queued
/// UPDATEs stay in the peer (so a KEEPALIVE or NOTIFICATION can still go ahead of them).
pub const TRANSMIT_WINDOW: usize = 16 * 1024;
/// Default of [`Limits::events`].
pub const DEFAULT_EVENT_LIMIT: usize = 64;
/// Default of [`Limits::send_buffer`].
pub const DEFAULT_SEND_BUFFER: usize = 64 * 1024;
/// Default of [`Limits::held_input`].
pub const DEFAULT_HELD_INPUT: usize = 64 * 1024;

mod collide;
mod conn;

use conn::{Conn, DEFAULT_CTX, Which, update_send_hold};

/// One TCP connection of a [`Peer`], numbered by the peer in the order they come up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u64);

impl ConnId {
    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}

/// Something that happened to a peer, for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// The session state changed.
    StateChanged {
        /// Old state.
        from: State,
        /// New state.
        to: State,
    },
    /// The session is Established with these parameters (replay routes now).
    Established(Box<Negotiated>),
    /// The session left Established.
    Down {
        /// Why.
        reason: DownReason,
    },
    /// An UPDATE from the peer with its RFC 7606 verdict: a treat-as-withdraw verdict lists the
    /// routes to withdraw in `verdict.treat_as_withdraw`; attribute-discard problems name the
    /// attributes to ignore. A session-reset verdict never arrives here (the session resets).
    Update {
        /// The UPDATE.
        update: Box<Update>,
        /// Its verdict.
        verdict: UpdateVerdict,
    },
    /// We sent this NOTIFICATION.
    NotificationSent(Notification),
    /// The peer sent this NOTIFICATION.
    NotificationReceived(Notification),
    /// The peer asked for a route refresh.
    RouteRefresh(RouteRefresh),
}

/// What the runner must do with sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoAction {
    /// Open a TCP connection to the peer; report [`Peer::handle_connected`] or
    /// [`Peer::handle_connect_failed`].
    Connect,
    /// Abandon a connection attempt in progress (another connection took its place).
    CancelConnect,
    /// Write what [`Peer::poll_transmit`] gave for this connection (within a short time), then
    /// close it. The peer forgets the connection.
    Close(ConnId),
}

/// Flow-control and timer limits of a [`Peer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Undelivered events above which received messages (other than KEEPALIVE) are held back.
    pub events: usize,
    /// Octets waiting to be written above which UPDATEs are refused.
    pub send_buffer: usize,
    /// Octets of received messages held back before [`Peer::wants_read`] turns false.
    pub held_input: usize,
    /// Lower bound of the SendHoldTime (RFC 9687); the effective one is the larger of this and
    /// twice the negotiated hold time.
    pub send_hold_time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            events: DEFAULT_EVENT_LIMIT,
            send_buffer: DEFAULT_SEND_BUFFER,
            held_input: DEFAULT_HELD_INPUT,
            send_hold_time: DEFAULT_SEND_HOLD_TIME,
        }
    }
}

/// Errors of the application calls of a [`Peer`].
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The session is not Established.
    #[error("session is not established (state {0})")]
    NotEstablished(State),
    /// The peer did not negotiate what the call needs.
    #[error(transparent)]
    Fsm(FsmError),
    /// The message cannot be encoded for this session.
    #[error("cannot encode: {0}")]
    Encode(#[from] EncodeError),
    /// The send buffer is full; retry once [`Peer::send_capacity`] is positive.
    #[error("send buffer full ({0} octets wait)")]
    Backpressure(usize),
}

impl From<FsmError> for PeerError {
    fn from(e: FsmError) -> Self {
        match e {
            FsmError::NotEstablished(s) => PeerError::NotEstablished(s),
            e => PeerError::Fsm(e),
        }
    }
}

/// One BGP peer, sans-I/O. See the [module docs](self).
#[derive(Debug)]
pub struct Peer {
    primary: Conn,
    secondary: Option<Box<Conn>>,
    next_id: u64,
    limits: Limits,
    events: VecDeque<PeerEvent>,
    io: VecDeque<IoAction>,
    retired: VecDeque<(ConnId, Bytes)>,
    encode_error: Option<EncodeError>,
}

impl Peer {
    /// A peer that has not started yet (call [`Peer::start`]).
    pub fn new(config: SessionConfig, limits: Limits) -> Self {
        Peer {
            primary: Conn::new(Fsm::new(config), Direction::Outgoing),
            secondary: None,
            next_id: 0,
            limits,
            events: VecDeque::new(),
            io: VecDeque::new(),
            retired: VecDeque::new(),
            encode_error: None,
        }
    }

    /// ManualStart, or ManualStartPassive with [`SessionConfig::passive`].
    pub fn start(&mut self, now: Duration) {
        let ev = if self.primary.fsm.config().passive {
            Event::ManualStartPassive
        } else {
            Event::ManualStart
        };
        self.primary.fsm.handle_event(now, ev);
        self.apply(now, Which::Primary);
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        self.primary.fsm.config()
    }

    /// The session's state machine (the one a collision left standing).
    pub fn fsm(&self) -> &Fsm {
        &self.primary.fsm
    }

    /// The session state.
    pub fn state(&self) -> State {
        self.primary.fsm.state()
    }

    /// The negotiated parameters once the OPENs are exchanged.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.primary.fsm.negotiated()
    }

    /// The connection that carries the session, if any.
    pub fn session_conn(&self) -> Option<ConnId> {
        self.primary.id
    }

    /// The direction of the session's connection.
    pub fn session_direction(&self) -> Direction {
        self.primary.dir
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn new_id(&mut self) -> ConnId {
        self.next_id = self.next_id.wrapping_add(1);
        ConnId(self.next_id)
    }

    fn which(&self, id: ConnId) -> Option<Which> {
        if self.primary.id == Some(id) {
            Some(Which::Primary)
        } else if self.secondary.as_ref().is_some_and(|s| s.id == Some(id)) {
            Some(Which::Secondary)
        } else {
            None
        }
    }

    fn conn(&mut self, which: Which) -> Option<&mut Conn> {
        match which {
            Which::Primary => Some(&mut self.primary),
            Which::Secondary => self.secondary.as_deref_mut(),
        }
    }

    /// Our outgoing connection is up.
    ///
    /// `None` when the peer no longer wants it (another connection took its place): close it.
    pub fn handle_connected(&mut self, now: Duration) -> Option<ConnId> {
        if self.primary.id.is_some() {
            return None;
        }
        let id = self.new_id();
        self.primary.id = Some(id);
        self.primary.dir = Direction::Outgoing;
        self.primary.fsm.handle_event(now, Event::TcpCrAcked);
        self.apply(now, Which::Primary);
        self.after(now);
        Some(id)
    }

    /// Our connection attempt failed.
    pub fn handle_connect_failed(&mut self, now: Duration) {
        self.primary
            .fsm
            .handle_event(now, Event::TcpConnectionFails);
        self.apply(now, Which::Primary);
        self.after(now);
    }

    /// The peer connected to us. The connection may be closed at once ([`IoAction::Close`],
    /// after a Cease 6/7 when a session is Established).
    pub fn handle_accepted(&mut self, now: Duration) -> ConnId {
        let id = self.new_id();
        match self.primary.fsm.state() {
            State::Idle => {
                if self.primary.fsm.automatic_start_enabled() {
                    // The peer is faster than our IdleHoldTimer: start passively on its connection.
                    self.primary
                        .fsm
                        .handle_event(now, Event::AutomaticStartPassive);
                    self.apply(now, Which::Primary);
                    self.take_as_primary(now, id);
                } else {
                    self.io.push_back(IoAction::Close(id));
                }
            }
            State::Connect | State::Active => self.take_as_primary(now, id),
            State::OpenSent | State::OpenConfirm if self.secondary.is_none() => {
                let mut fsm = Fsm::new(self.primary.fsm.config().clone());
                fsm.handle_event(now, Event::ManualStartPassive);
                fsm.handle_event(now, Event::TcpConnectionConfirmed);
                let mut conn = Conn::new(fsm, Direction::Incoming);
                conn.id = Some(id);
                self.secondary = Some(Box::new(conn));
                self.apply(now, Which::Secondary);
            }
            _ => {
                // Established (or a collision already being resolved): refuse with Cease 6/7.
                let n = Notification::new(
                    bgp_wire::error::codes::CEASE,
                    bgp_wire::error::codes::CONNECTION_COLLISION_RESOLUTION,
                );
                let mut out = BytesMut::new();
                let _ = bgp_wire::encode_message(&Message::Notification(n), &DEFAULT_CTX, &mut out);
                self.retired.push_back((id, out.freeze()));
                self.io.push_back(IoAction::Close(id));
            }
        }
        self.after(now);
        id
    }

    fn take_as_primary(&mut self, now: Duration, id: ConnId) {
        self.io.push_back(IoAction::CancelConnect);
        let (old, out) = self.primary.detach();
        if let Some(old) = old {
            self.retire(old, out);
        }
        self.primary.id = Some(id);
        self.primary.dir = Direction::Incoming;
        self.primary
            .fsm
            .handle_event(now, Event::TcpConnectionConfirmed);
        self.apply(now, Which::Primary);
    }

    fn retire(&mut self, id: ConnId, out: BytesMut) {
        if !out.is_empty() {
            self.retired.push_back((id, out.freeze()));
        }
        self.io.push_back(IoAction::Close(id));
    }

    /// Bytes read from a connection. Unknown connections are ignored.
    pub fn handle_input(&mut self, now: Duration, conn: ConnId, bytes: &[u8]) {
        let Some(which) = self.which(conn) else {
            return;
        };
        if let Some(c) = self.conn(which)
            && !c.eof
        {
            c.rbuf.extend_from_slice(bytes);
        }
        self.process(now, which);
        self.after(now);
    }

    /// The connection ended (end of stream or an error). Messages read before it are still
    /// processed first.
    pub fn handle_closed(&mut self, now: Duration, conn: ConnId) {
        let Some(which) = self.which(conn) else {
            return;
        };
        if let Some(c) = self.conn(which) {
            c.eof = true;
        }
        self.process(now, which);
        self.after(now);
    }

    /// `n` octets of what [`Peer::poll_transmit`] gave for `conn` have been written.
    pub fn handle_transmitted(&mut self, now: Duration, conn: ConnId, n: usize) {
        let Some(which) = self.which(conn) else {
            return;
        };
        let min = self.limits.send_hold_time;
        if let Some(c) = self.conn(which) {
            c.in_flight = c.in_flight.saturating_sub(n);
            if n > 0 {
                c.send_hold.stop();
            }
            update_send_hold(c, now, min);
        }
    }

    /// Process input that flow control held back, now that events were taken.
    pub fn resume(&mut self, now: Duration) {
        self.process(now, Which::Primary);
        if self.secondary.is_some() {
            self.process(now, Which::Secondary);
        }
        self.after(now);
    }

    /// Fire what expired at `now`: the state machines' timers and the send hold timer.
    pub fn handle_timeout(&mut self, now: Duration) {
        for which in [Which::Primary, Which::Secondary] {
            let Some(c) = self.conn(which) else { continue };
            c.fsm.handle_timeout(now);
            if c.send_hold.expired(now) {
                c.send_hold.stop();
                c.fsm
                    .automatic_stop_with(now, Notification::new(SEND_HOLD_TIMER_EXPIRED, 0));
            }
            self.apply(now, which);
        }
        self.resume(now);
    }

    /// When [`Peer::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let conns = std::iter::once(&self.primary).chain(self.secondary.as_deref());
        conns
            .flat_map(|c| [c.fsm.poll_timeout(), c.send_hold.deadline()])
            .flatten()
            .min()
    }

    /// The next bytes to write on a connection: always whole messages. They count as waiting
    /// (for flow control and the send hold timer) until reported with
    /// [`Peer::handle_transmitted`]. KEEPALIVEs and NOTIFICATIONs come out at once; UPDATEs
    /// while less than [`TRANSMIT_WINDOW`] octets are unwritten, so control messages are never
    /// queued behind more data than that.
    pub fn poll_transmit(&mut self) -> Option<(ConnId, Bytes)> {
        if let Some(r) = self.retired.pop_front() {
            return Some(r);
        }
        if self.retired.capacity() > 0 {
            self.retired = VecDeque::new();
        }
        for which in [Which::Primary, Which::Secondary] {
            let Some(c) = self.conn(which) else { continue };
            let Some(id) = c.id else { continue };
            let buf = if !c.ctrl.is_empty() {
                &mut c.ctrl
            } else if !c.data.is_empty() && c.in_flight < TRANSMIT_WINDOW {
                &mut c.data
            } else {
                continue;
            };
            let b = std::mem::take(buf).freeze();
            c.in_flight += b.len();
            return Some((id, b));
        }
        None
    }

    /// The next socket action.
    pub fn poll_io(&mut self) -> Option<IoAction> {
        let a = self.io.pop_front();
        if a.is_none() && self.io.capacity() > 0 {
            self.io = VecDeque::new();
        }
        a
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<PeerEvent> {
        let e = self.events.pop_front();
        if e.is_none() && self.events.capacity() > 0 {
            // An idle peer keeps no event buffer.
            self.events = VecDeque::new();
        }
        e
    }

    /// Events waiting in [`Peer::poll_event`].
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    /// Whether received input waits for room among the events: call [`Peer::resume`] once
    /// events were taken.
    pub fn has_held_input(&self) -> bool {
        std::iter::once(&self.primary)
            .chain(self.secondary.as_deref())
            .any(Conn::has_input)
    }

    /// Whether the runner should read from `conn` (false while flow control holds input back
    /// or after the connection ended).
    pub fn wants_read(&self, conn: ConnId) -> bool {
        let c = if self.primary.id == Some(conn) {
            &self.primary
        } else {
            match self.secondary.as_deref() {
                Some(s) if s.id == Some(conn) => s,
                _ => return false,
            }
        };
        !c.eof && c.rbuf.len() < self.limits.held_input
    }

    /// Octets of UPDATEs the session accepts now (0: [`Peer::send_update`] refuses).
    pub fn send_capacity(&self) -> usize {
        self.limits
            .send_buffer
            .saturating_sub(self.primary.buffered())
    }

    /// Octets waiting to be written on the session's connection.
    pub fn send_buffered(&self) -> usize {
        self.primary.buffered()
    }

    /// Whether an UPDATE may be queued now: Established, and room in the send buffer.
    fn can_send_update(&self) -> Result<(), PeerError> {
        let state = self.primary.fsm.state();
        if state != State::Established {
            return Err(PeerError::NotEstablished(state));
        }
        if self.send_capacity() == 0 {
            return Err(PeerError::Backpressure(self.primary.buffered()));
        }
        Ok(())
    }

    /// Send an UPDATE (Established only; refused while the send buffer is full).
    pub fn send_update(&mut self, now: Duration, update: Update) -> Result<(), PeerError> {
        self.can_send_update()?;
        let r = self.primary.fsm.send_update(now, update);
        self.apply(now, Which::Primary);
        self.after(now);
        r?;
        match self.encode_error.take() {
            Some(e) => Err(PeerError::Encode(e)),
            None => Ok(()),
        }
    }

    /// Send UPDATEs already encoded for this session: one whole message, header included,
    /// as [`bgp_wire::encode_message`] writes it with the session's context, or several such
    /// messages back to back. This is what a sender that encodes once for several sessions
    /// with equal parameters uses (an update group), handing each session runs of one shared
    /// buffer. The framing of every message is checked (marker, length, type UPDATE, the
    /// session's maximum message size); the content is the caller's. Established only;
    /// refused while the send buffer is full (a run is taken whole, so keep runs small
    /// against [`Peer::send_capacity`]).
    pub fn send_encoded_update(&mut self, now: Duration, msg: &[u8]) -> Result<(), PeerError> {
        self.can_send_update()?;
        let max = self
            .primary
            .fsm
            .negotiated()
            .map_or(bgp_wire::MAX_MESSAGE_LEN, |n| n.context.max_message_len());
        if msg.is_empty() || !updates_framed(msg, max) {
            return Err(PeerError::Encode(bgp_wire::EncodeError::Invalid(
                "not whole UPDATE messages within the session's maximum size",
            )));
        }
        self.primary.fsm.update_sent(now)?;
        if self.primary.id.is_some() {
            self.primary.data.extend_from_slice(msg);
        }
        self.apply(now, Which::Primary);
        self.after(now);
        Ok(())
    }

    /// Ask the peer to resend a family (needs Route Refresh negotiated).
    pub fn send_route_refresh(&mut self, now: Duration, af: AfiSafi) -> Result<(), PeerError> {
        let r = self.primary.fsm.send_route_refresh(now, af);
        self.apply(now, Which::Primary);
        self.after(now);
        Ok(r?)
    }

    /// ManualStop with Cease 6/2 and an RFC 9003 shutdown communication, on every connection.
    pub fn shutdown(&mut self, now: Duration, message: Option<&str>) {
        self.primary.fsm.shutdown(now, message);
        self.apply(now, Which::Primary);
        if let Some(s) = self.secondary.as_mut() {
            s.fsm.shutdown(now, message);
            self.apply(now, Which::Secondary);
        }
        if let Some(mut s) = self.secondary.take()
            && let (Some(id), out) = s.detach()
        {
            self.retire(id, out);
        }
    }

    /// AutomaticStop with this Cease on every connection (see
    /// [`crate::driver::PeerHandle::automatic_stop`]).
    pub fn automatic_stop(&mut self, now: Duration, cease: Notification) {
        self.primary.fsm.automatic_stop_with(now, cease.clone());
        self.apply(now, Which::Primary);
        if let Some(s) = self.secondary.as_mut() {
            s.fsm.automatic_stop_with(now, cease);
            self.apply(now, Which::Secondary);
        }
        self.after(now);
    }

    /// After every input: a collision may be decidable now.
    fn after(&mut self, now: Duration) {
        let _ = self.check_collision(now);
    }
}

/// Whether `run` is whole UPDATE messages back to back, each at most `max` octets.
fn updates_framed(mut run: &[u8], max: usize) -> bool {
    while !run.is_empty() {
        let Some(h) = run.get(..19) else {
            return false;
        };
        let len = usize::from(u16::from_be_bytes([h[16], h[17]]));
        if !h[..16].iter().all(|b| *b == 0xff) || h[18] != 2 || len < 23 || len > max {
            return false;
        }
        match run.get(len..) {
            Some(rest) => run = rest,
            None => return false,
        }
    }
    true
}
