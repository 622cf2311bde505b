//! The RFC 4271 §8 state machine for one BGP connection.
//!
//! Length: the RFC 4271 §8.2.2 transitions of all six states are one `match` on (state, event)
//! so that it reads like the RFC's tables; split by state it would scatter the shared rows.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::Duration;

use bgp_wire::error::{UpdateAction, codes};
use bgp_wire::message::RouteRefreshSubtype;
use bgp_wire::{
    AfiSafi, Message, MessageError, Notification, Open, RouteRefresh, Update, UpdateVerdict,
};

use crate::config::SessionConfig;
use crate::negotiate::{Negotiated, build_open, validate_open};
use crate::timer::{Jitter, Timer};

/// The "large value" the HoldTimer gets while waiting for the peer's OPEN (RFC 4271 §8.2.2:
/// 4 minutes is suggested).
pub const LARGE_HOLD_TIME: Duration = Duration::from_secs(240);

/// Floor of ConnectRetryTime and IdleHoldTime: a zero configuration must not make the
/// machine retry in a busy loop.
pub const MIN_RETRY_TIME: Duration = Duration::from_millis(100);

/// The six session states of RFC 4271 §8.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Refuses connections; waits for a start event.
    Idle,
    /// Waiting for our outgoing TCP connection to complete.
    Connect,
    /// Listening for the peer to connect.
    Active,
    /// Our OPEN is sent; waiting for the peer's.
    OpenSent,
    /// OPENs exchanged; waiting for a KEEPALIVE.
    OpenConfirm,
    /// The session is up: UPDATEs flow.
    Established,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// The events of RFC 4271 §8.1, optional ones included. [`Event::number`] gives the RFC number.
///
/// Timer events are normally produced by [`Fsm::handle_timeout`]; they can also be injected.
/// `BgpOpen` covers both Event 19 and Event 20 (BGPOpen with DelayOpenTimer running): the
/// machine knows whether its DelayOpenTimer runs, validates the OPEN itself and turns an invalid
/// one into Event 22 (BGPOpenMsgErr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// 1: ManualStart.
    ManualStart,
    /// 2: ManualStop.
    ManualStop,
    /// 3: AutomaticStart.
    AutomaticStart,
    /// 4: ManualStart_with_PassiveTcpEstablishment.
    ManualStartPassive,
    /// 5: AutomaticStart_with_PassiveTcpEstablishment.
    AutomaticStartPassive,
    /// 6: AutomaticStart_with_DampPeerOscillations.
    AutomaticStartDamp,
    /// 7: AutomaticStart_with_DampPeerOscillations_and_PassiveTcpEstablishment.
    AutomaticStartDampPassive,
    /// 8: AutomaticStop.
    AutomaticStop,
    /// 9: ConnectRetryTimer_Expires.
    ConnectRetryTimerExpires,
    /// 10: HoldTimer_Expires.
    HoldTimerExpires,
    /// 11: KeepaliveTimer_Expires.
    KeepaliveTimerExpires,
    /// 12: DelayOpenTimer_Expires.
    DelayOpenTimerExpires,
    /// 13: IdleHoldTimer_Expires.
    IdleHoldTimerExpires,
    /// 14: TcpConnection_Valid.
    TcpConnectionValid,
    /// 15: Tcp_CR_Invalid.
    TcpCrInvalid,
    /// 16: Tcp_CR_Acked (our outgoing connection completed).
    TcpCrAcked,
    /// 17: TcpConnectionConfirmed (an incoming connection was accepted).
    TcpConnectionConfirmed,
    /// 18: TcpConnectionFails.
    TcpConnectionFails,
    /// 19 / 20: BGPOpen (with or without the DelayOpenTimer running).
    BgpOpen(Open),
    /// 21: BGPHeaderErr, with the NOTIFICATION that reports it.
    BgpHeaderErr(Notification),
    /// 22: BGPOpenMsgErr, with the NOTIFICATION that reports it.
    BgpOpenMsgErr(Notification),
    /// 23: OpenCollisionDump.
    OpenCollisionDump,
    /// 24: NotifMsgVerErr (a NOTIFICATION with a version error was received).
    NotifMsgVerErr(Notification),
    /// 25: NotifMsg (any other NOTIFICATION was received).
    NotifMsg(Notification),
    /// 26: KeepAliveMsg.
    KeepAliveMsg,
    /// 27: UpdateMsg, with its RFC 7606 verdict. A verdict whose action is a session reset is
    /// handled as Event 28.
    UpdateMsg {
        /// The UPDATE.
        update: Update,
        /// Its RFC 7606 verdict.
        verdict: UpdateVerdict,
    },
    /// 28: UpdateMsgErr, with the NOTIFICATION that reports it.
    UpdateMsgErr(Notification),
    /// A ROUTE-REFRESH message (RFC 2918; not an RFC 4271 event: treated like a KEEPALIVE for
    /// the HoldTimer when Established and as an unexpected message elsewhere).
    RouteRefreshMsg(RouteRefresh),
}

impl Event {
    /// The RFC 4271 §8.1 event number (29 for ROUTE-REFRESH, which has none).
    pub fn number(&self) -> u8 {
        match self {
            Event::ManualStart => 1,
            Event::ManualStop => 2,
            Event::AutomaticStart => 3,
            Event::ManualStartPassive => 4,
            Event::AutomaticStartPassive => 5,
            Event::AutomaticStartDamp => 6,
            Event::AutomaticStartDampPassive => 7,
            Event::AutomaticStop => 8,
            Event::ConnectRetryTimerExpires => 9,
            Event::HoldTimerExpires => 10,
            Event::KeepaliveTimerExpires => 11,
            Event::DelayOpenTimerExpires => 12,
            Event::IdleHoldTimerExpires => 13,
            Event::TcpConnectionValid => 14,
            Event::TcpCrInvalid => 15,
            Event::TcpCrAcked => 16,
            Event::TcpConnectionConfirmed => 17,
            Event::TcpConnectionFails => 18,
            Event::BgpOpen(_) => 19,
            Event::BgpHeaderErr(_) => 21,
            Event::BgpOpenMsgErr(_) => 22,
            Event::OpenCollisionDump => 23,
            Event::NotifMsgVerErr(_) => 24,
            Event::NotifMsg(_) => 25,
            Event::KeepAliveMsg => 26,
            Event::UpdateMsg { .. } => 27,
            Event::UpdateMsgErr(_) => 28,
            Event::RouteRefreshMsg(_) => 29,
        }
    }

    /// The event for a received message.
    pub fn from_message(msg: Message, verdict: UpdateVerdict) -> Event {
        match msg {
            Message::Open(o) => Event::BgpOpen(o),
            Message::Update(update) => Event::UpdateMsg { update, verdict },
            Message::Notification(n) => {
                if n.code == codes::OPEN_MESSAGE_ERROR
                    && n.subcode == codes::UNSUPPORTED_VERSION_NUMBER
                {
                    Event::NotifMsgVerErr(n)
                } else {
                    Event::NotifMsg(n)
                }
            }
            Message::Keepalive => Event::KeepAliveMsg,
            Message::RouteRefresh(r) => Event::RouteRefreshMsg(r),
        }
    }

    /// The event for a message that failed to decode. A malformed NOTIFICATION closes the
    /// connection without a reply (RFC 4271 §6.4), which is Event 18 here.
    pub fn from_decode_error(err: &MessageError) -> Event {
        let n = err.notification();
        match n.code {
            codes::OPEN_MESSAGE_ERROR => Event::BgpOpenMsgErr(n),
            codes::UPDATE_MESSAGE_ERROR => Event::UpdateMsgErr(n),
            _ if matches!(err.kind, bgp_wire::error::MessageErrorKind::Notification(_)) => {
                Event::TcpConnectionFails
            }
            _ => Event::BgpHeaderErr(n),
        }
    }
}

/// Why a session left Established (or, for [`Fsm::last_down`], why the machine went Idle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownReason {
    /// ManualStop: we sent Cease / Administrative Shutdown (with the RFC 9003 text, if any).
    ManualStop(Notification),
    /// AutomaticStop: we sent this Cease.
    AutomaticStop(Notification),
    /// Our HoldTimer expired; we sent 4/0.
    HoldTimerExpired,
    /// The TCP connection failed or was closed by the peer.
    ConnectionFailed,
    /// The peer sent this NOTIFICATION.
    NotificationReceived(Notification),
    /// We found an error and sent this NOTIFICATION.
    NotificationSent(Notification),
    /// The connection lost a collision (§6.8); we sent Cease 6/7.
    CollisionResolution,
    /// Event with this RFC number was not expected in the state; nothing could be sent.
    UnexpectedEvent(u8),
}

impl DownReason {
    /// The RFC 9003 shutdown communication carried by a Cease 6/2 or 6/4 in this reason.
    pub fn shutdown_message(&self) -> Option<String> {
        match self {
            DownReason::ManualStop(n)
            | DownReason::AutomaticStop(n)
            | DownReason::NotificationReceived(n)
            | DownReason::NotificationSent(n) => shutdown_message(n),
            _ => None,
        }
    }
}

/// A Cease / Administrative Shutdown (6/2) with an RFC 9003 shutdown communication: one length
/// octet and up to 255 octets of UTF-8, cut at a character boundary.
pub fn shutdown_notification(message: Option<&str>) -> Notification {
    let Some(text) = message else {
        return Notification::new(codes::CEASE, codes::ADMINISTRATIVE_SHUTDOWN);
    };
    let mut end = text.len().min(255);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut data = Vec::with_capacity(end + 1);
    data.push(end as u8);
    data.extend_from_slice(&text.as_bytes()[..end]);
    Notification::with_data(codes::CEASE, codes::ADMINISTRATIVE_SHUTDOWN, data)
}

/// The RFC 9003 shutdown communication of a Cease 6/2 or 6/4, if it has a valid one.
pub fn shutdown_message(n: &Notification) -> Option<String> {
    if n.code != codes::CEASE
        || !(n.subcode == codes::ADMINISTRATIVE_SHUTDOWN
            || n.subcode == codes::ADMINISTRATIVE_RESET)
    {
        return None;
    }
    let (&len, rest) = n.data.split_first()?;
    let text = rest.get(..usize::from(len))?;
    if text.is_empty() {
        return None;
    }
    std::str::from_utf8(text).ok().map(str::to_owned)
}

/// What the machine asks its caller to do or tells it, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Initiate an outgoing TCP connection (report Event 16 or 18).
    Connect,
    /// Drop the TCP connection (after writing the messages queued before this action) and
    /// abandon any connection attempt in progress.
    CloseConnection,
    /// Send a message on the connection.
    Send(Message),
    /// The state changed.
    StateChanged {
        /// Old state.
        from: State,
        /// New state.
        to: State,
    },
    /// The session reached Established with these parameters.
    SessionUp(Box<Negotiated>),
    /// The session left Established for this reason (always emitted on leaving Established).
    SessionDown(DownReason),
    /// An UPDATE received in Established, with its RFC 7606 verdict.
    Update {
        /// The UPDATE.
        update: Update,
        /// Its verdict (never a session reset: that ends the session instead).
        verdict: UpdateVerdict,
    },
    /// A ROUTE-REFRESH received in Established.
    RouteRefresh(RouteRefresh),
    /// A NOTIFICATION received from the peer.
    NotificationReceived(Notification),
}

/// Errors of the local API (sending when the session cannot).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FsmError {
    /// The session is not Established.
    #[error("session is not established (state {0})")]
    NotEstablished(State),
    /// The peer did not negotiate Route Refresh.
    #[error("route refresh was not negotiated")]
    RouteRefreshNotNegotiated,
    /// The family was not negotiated.
    #[error("address family {0} was not negotiated")]
    FamilyNotNegotiated(AfiSafi),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Counter {
    Keep,
    Increment,
    Zero,
}

/// The ways out of OpenSent, OpenConfirm and Established that RFC 4271 §8.2.2 gives the same
/// row in all three states: a NOTIFICATION, the connection released, Idle.
#[derive(Clone, Copy)]
enum Stop {
    /// ManualStop (Event 2): Cease, ConnectRetryCounter to zero.
    Manual,
    /// AutomaticStop (Event 8): Cease, ConnectRetryCounter incremented.
    Automatic,
    /// HoldTimer_Expires (Event 10): 4/0, ConnectRetryCounter incremented.
    HoldTimer,
}

/// The state machine of one BGP connection (sans-I/O: time is an input, actions are output).
///
/// Feed it [`Event`]s with [`Fsm::handle_event`], call [`Fsm::handle_timeout`] when
/// [`Fsm::poll_timeout`] is reached, and carry out the [`Action`]s from [`Fsm::poll_action`].
///
/// Collisions (§6.8) involve two connections: run one `Fsm` per connection and let
/// [`crate::collision`] decide which one gets [`Event::OpenCollisionDump`].
#[derive(Debug, Clone)]
pub struct Fsm {
    cfg: SessionConfig,
    state: State,
    connect_retry_counter: u32,
    connect_retry_timer: Timer,
    hold_timer: Timer,
    keepalive_timer: Timer,
    delay_open_timer: Timer,
    idle_hold_timer: Timer,
    hold_time: Duration,
    keepalive_time: Duration,
    jitter: Jitter,
    negotiated: Option<Negotiated>,
    actions: VecDeque<Action>,
    automatic_start_enabled: bool,
    damp_level: u32,
    established_at: Option<Duration>,
    last_down: Option<DownReason>,
    stop_notification: Option<Notification>,
}

impl Fsm {
    /// A machine in Idle.
    pub fn new(cfg: SessionConfig) -> Self {
        let jitter = Jitter::new(cfg.jitter_seed);
        Fsm {
            cfg,
            state: State::Idle,
            connect_retry_counter: 0,
            connect_retry_timer: Timer::default(),
            hold_timer: Timer::default(),
            keepalive_timer: Timer::default(),
            delay_open_timer: Timer::default(),
            idle_hold_timer: Timer::default(),
            hold_time: Duration::ZERO,
            keepalive_time: Duration::ZERO,
            jitter,
            negotiated: None,
            actions: VecDeque::new(),
            automatic_start_enabled: false,
            damp_level: 0,
            established_at: None,
            last_down: None,
            stop_notification: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }
    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }
    /// ConnectRetryCounter.
    pub fn connect_retry_counter(&self) -> u32 {
        self.connect_retry_counter
    }
    /// What the OPENs negotiated (from OpenConfirm on).
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }
    /// The peer's BGP Identifier once its OPEN was accepted (for collision detection).
    pub fn remote_id(&self) -> Option<Ipv4Addr> {
        self.negotiated.as_ref().map(|n| n.peer_router_id)
    }
    /// Why the machine last went to Idle.
    pub fn last_down(&self) -> Option<&DownReason> {
        self.last_down.as_ref()
    }
    /// Whether the DelayOpenTimer runs.
    pub fn delay_open_running(&self) -> bool {
        self.delay_open_timer.running()
    }
    /// Whether the IdleHoldTimer runs (an automatic restart is pending).
    pub fn idle_hold_running(&self) -> bool {
        self.idle_hold_timer.running()
    }
    /// Whether automatic restarts are enabled (after a start, until a ManualStop).
    pub fn automatic_start_enabled(&self) -> bool {
        self.automatic_start_enabled && self.cfg.allow_automatic_start
    }

    /// The next time [`Fsm::handle_timeout`] must be called, if any timer runs.
    pub fn poll_timeout(&self) -> Option<Duration> {
        [
            self.connect_retry_timer,
            self.hold_timer,
            self.keepalive_timer,
            self.delay_open_timer,
            self.idle_hold_timer,
        ]
        .iter()
        .filter_map(Timer::deadline)
        .min()
    }

    /// Fire every timer that expired at `now`, earliest first.
    pub fn handle_timeout(&mut self, now: Duration) {
        // Each firing stops its timer; re-armed timers lie in the future, so this is bounded.
        for _ in 0..8 {
            let timers = [
                (self.hold_timer, Event::HoldTimerExpires),
                (self.keepalive_timer, Event::KeepaliveTimerExpires),
                (self.delay_open_timer, Event::DelayOpenTimerExpires),
                (self.connect_retry_timer, Event::ConnectRetryTimerExpires),
                (self.idle_hold_timer, Event::IdleHoldTimerExpires),
            ];
            let next = timers
                .into_iter()
                .filter(|(t, _)| t.expired(now))
                .min_by_key(|(t, _)| t.deadline());
            let Some((_, ev)) = next else { return };
            match ev {
                Event::HoldTimerExpires => self.hold_timer.stop(),
                Event::KeepaliveTimerExpires => self.keepalive_timer.stop(),
                Event::DelayOpenTimerExpires => self.delay_open_timer.stop(),
                Event::ConnectRetryTimerExpires => self.connect_retry_timer.stop(),
                _ => self.idle_hold_timer.stop(),
            }
            self.handle_event(now, ev);
        }
    }

    /// The next action, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        let a = self.actions.pop_front();
        if a.is_none() && self.actions.capacity() > 0 {
            // An idle session keeps no action buffer.
            self.actions = VecDeque::new();
        }
        a
    }

    /// Every pending action, in order.
    pub fn drain_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions).into()
    }

    /// ManualStop with a Cease 6/2 carrying an RFC 9003 shutdown communication.
    pub fn shutdown(&mut self, now: Duration, message: Option<&str>) {
        self.stop_notification = Some(shutdown_notification(message));
        self.handle_event(now, Event::ManualStop);
        self.stop_notification = None;
    }

    /// AutomaticStop with a chosen Cease (e.g. 6/1 maximum prefixes reached).
    pub fn automatic_stop_with(&mut self, now: Duration, cease: Notification) {
        self.stop_notification = Some(cease);
        self.handle_event(now, Event::AutomaticStop);
        self.stop_notification = None;
    }

    /// A message arrived in Established whose processing is held back (flow control): it
    /// proves the peer alive, so the HoldTimer restarts as the message itself would (§8.2.2).
    pub(crate) fn message_arrived(&mut self, now: Duration) {
        if self.state == State::Established {
            self.restart_hold(now);
        }
    }

    /// Send an UPDATE (Established only); restarts the KeepaliveTimer.
    pub fn send_update(&mut self, now: Duration, update: Update) -> Result<(), FsmError> {
        if self.state != State::Established {
            return Err(FsmError::NotEstablished(self.state));
        }
        self.actions
            .push_back(Action::Send(Message::Update(update)));
        self.restart_keepalive(now);
        Ok(())
    }

    /// Record an UPDATE the caller encoded and sends itself (Established only): the
    /// KeepaliveTimer restarts as for [`Fsm::send_update`]; no action is queued.
    pub fn update_sent(&mut self, now: Duration) -> Result<(), FsmError> {
        if self.state != State::Established {
            return Err(FsmError::NotEstablished(self.state));
        }
        self.restart_keepalive(now);
        Ok(())
    }

    /// Send a ROUTE-REFRESH request for a negotiated family (Established only).
    pub fn send_route_refresh(&mut self, now: Duration, af: AfiSafi) -> Result<(), FsmError> {
        self.send_route_refresh_subtype(now, af, RouteRefreshSubtype::Request)
    }

    /// Send a ROUTE-REFRESH of a subtype (RFC 7313 BoRR/EoRR need Enhanced Route Refresh).
    pub fn send_route_refresh_subtype(
        &mut self,
        now: Duration,
        af: AfiSafi,
        subtype: RouteRefreshSubtype,
    ) -> Result<(), FsmError> {
        let Some(n) = self
            .negotiated
            .as_ref()
            .filter(|_| self.state == State::Established)
        else {
            return Err(FsmError::NotEstablished(self.state));
        };
        let allowed = match subtype {
            RouteRefreshSubtype::Request => n.route_refresh || n.enhanced_route_refresh,
            _ => n.enhanced_route_refresh,
        };
        if !allowed {
            return Err(FsmError::RouteRefreshNotNegotiated);
        }
        if !n.families.contains(&af) {
            return Err(FsmError::FamilyNotNegotiated(af));
        }
        self.actions
            .push_back(Action::Send(Message::RouteRefresh(RouteRefresh {
                af,
                subtype,
            })));
        self.restart_keepalive(now);
        Ok(())
    }

    // ---- helpers -------------------------------------------------------------------------

    fn set_state(&mut self, now: Duration, to: State) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        self.actions.push_back(Action::StateChanged { from, to });
        if to == State::Established {
            self.established_at = Some(now);
            if let Some(n) = &self.negotiated {
                self.actions
                    .push_back(Action::SessionUp(Box::new(n.clone())));
            }
        }
    }

    fn send(&mut self, msg: Message) {
        self.actions.push_back(Action::Send(msg));
    }

    fn start_connect_retry(&mut self, now: Duration) {
        let d = self
            .jitter
            .apply(self.cfg.connect_retry.max(MIN_RETRY_TIME));
        self.connect_retry_timer.start(now, d);
    }

    fn restart_keepalive(&mut self, now: Duration) {
        if self.keepalive_time.is_zero() {
            self.keepalive_timer.stop();
        } else {
            let d = self.jitter.apply(self.keepalive_time);
            self.keepalive_timer.start(now, d);
        }
    }

    fn restart_hold(&mut self, now: Duration) {
        if self.hold_time.is_zero() {
            self.hold_timer.stop();
        } else {
            self.hold_timer.start(now, self.hold_time);
        }
    }

    /// Send our OPEN and wait for the peer's with the large hold value.
    fn send_open(&mut self, now: Duration) {
        self.send(Message::Open(build_open(&self.cfg)));
        self.hold_timer.start(now, LARGE_HOLD_TIME);
    }

    /// Accept a validated OPEN: KEEPALIVE, negotiated timers, OpenConfirm.
    fn accept_open(&mut self, now: Duration, n: Negotiated) {
        self.hold_time = Duration::from_secs(u64::from(n.hold_time));
        self.keepalive_time = Duration::from_secs(u64::from(n.keepalive));
        self.negotiated = Some(n);
        self.send(Message::Keepalive);
        self.restart_keepalive(now);
        self.restart_hold(now);
        self.set_state(now, State::OpenConfirm);
    }

    fn start(&mut self, now: Duration, passive: bool, manual: bool) {
        if manual {
            self.damp_level = 0;
        }
        self.automatic_start_enabled = true;
        self.idle_hold_timer.stop();
        self.connect_retry_counter = 0;
        self.start_connect_retry(now);
        if passive {
            self.set_state(now, State::Active);
        } else {
            self.actions.push_back(Action::Connect);
            self.set_state(now, State::Connect);
        }
    }

    /// Go to Idle: optional NOTIFICATION, drop the connection, release everything.
    fn go_idle(
        &mut self,
        now: Duration,
        notify: Option<Notification>,
        counter: Counter,
        reason: DownReason,
    ) {
        if let Some(n) = notify {
            // RFC 8538 §5: with the N bit negotiated, a Cease that must not leave our routes
            // stale at the peer goes out as a Hard Reset.
            let hard = self
                .negotiated
                .as_ref()
                .is_some_and(|g| g.graceful_notification)
                && crate::graceful::cease_needs_hard_reset(&n);
            let n = if hard {
                Notification::hard_reset(&n)
            } else {
                n
            };
            self.send(Message::Notification(n));
        }
        self.actions.push_back(Action::CloseConnection);
        self.connect_retry_timer.stop();
        self.hold_timer.stop();
        self.keepalive_timer.stop();
        self.delay_open_timer.stop();
        match counter {
            Counter::Keep => {}
            Counter::Increment => {
                self.connect_retry_counter = self.connect_retry_counter.saturating_add(1)
            }
            Counter::Zero => self.connect_retry_counter = 0,
        }
        let was_established = self.state == State::Established;
        let manual_stop = matches!(reason, DownReason::ManualStop(_));
        if was_established {
            // A session that stayed up long enough resets the damping.
            if let Some(at) = self.established_at.take()
                && now.saturating_sub(at) >= self.cfg.idle_hold_max
            {
                self.damp_level = 0;
            }
            self.actions.push_back(Action::SessionDown(reason.clone()));
        }
        self.last_down = Some(reason);
        self.negotiated = None;
        self.hold_time = Duration::ZERO;
        self.keepalive_time = Duration::ZERO;
        self.set_state(now, State::Idle);
        if manual_stop {
            self.automatic_start_enabled = false;
            self.idle_hold_timer.stop();
        } else if self.automatic_start_enabled() {
            // Peer oscillation damping (the method is ours, §8.1.1 leaves it open): the
            // IdleHoldTime doubles with every consecutive fall to Idle, up to idle_hold_max.
            let base = self.cfg.idle_hold_time.max(MIN_RETRY_TIME);
            let d = if self.cfg.damp_peer_oscillations {
                let factor = 1u32
                    .checked_shl(self.damp_level.min(16))
                    .unwrap_or(u32::MAX);
                base.saturating_mul(factor)
                    .min(self.cfg.idle_hold_max.max(base))
            } else {
                base
            };
            self.damp_level = self.damp_level.saturating_add(1).min(32);
            let d = self.jitter.apply(d);
            self.idle_hold_timer.start(now, d);
        }
    }

    /// A [`Stop`] row of OpenSent, OpenConfirm or Established.
    fn stop(&mut self, now: Duration, stop: Stop) {
        let (n, counter, reason) = match stop {
            Stop::Manual => {
                let n = self.manual_cease();
                (n.clone(), Counter::Zero, DownReason::ManualStop(n))
            }
            Stop::Automatic => {
                let n = self.cease();
                (n.clone(), Counter::Increment, DownReason::AutomaticStop(n))
            }
            Stop::HoldTimer => (
                Notification::new(codes::HOLD_TIMER_EXPIRED, 0),
                Counter::Increment,
                DownReason::HoldTimerExpired,
            ),
        };
        self.go_idle(now, Some(n), counter, reason);
    }

    fn cease(&self) -> Notification {
        self.stop_notification
            .clone()
            .unwrap_or_else(|| Notification::new(codes::CEASE, 0))
    }

    fn manual_cease(&self) -> Notification {
        self.stop_notification
            .clone()
            .unwrap_or_else(|| shutdown_notification(None))
    }

    fn fsm_error(&self) -> Notification {
        let sub = match self.state {
            State::OpenSent => codes::FSM_UNEXPECTED_IN_OPENSENT,
            State::OpenConfirm => codes::FSM_UNEXPECTED_IN_OPENCONFIRM,
            State::Established => codes::FSM_UNEXPECTED_IN_ESTABLISHED,
            _ => codes::FSM_UNSPECIFIED,
        };
        Notification::new(codes::FSM_ERROR, sub)
    }

    /// A NOTIFICATION before our OPEN went out is sent only with SendNOTIFICATIONwithoutOPEN.
    fn notify_without_open(&self, n: Notification) -> Option<Notification> {
        self.cfg.send_notification_without_open.then_some(n)
    }

    /// Handle one event at time `now`.
    pub fn handle_event(&mut self, now: Duration, event: Event) {
        // A received UPDATE whose verdict is a session reset is an UpdateMsgErr (Event 28).
        let event = match event {
            Event::UpdateMsg { update, verdict } => match verdict.action() {
                Some(UpdateAction::SessionReset(n)) => Event::UpdateMsgErr(n.clone()),
                _ => Event::UpdateMsg { update, verdict },
            },
            // A version-error NOTIFICATION is Event 24 whatever the caller called it.
            Event::NotifMsg(n)
                if n.code == codes::OPEN_MESSAGE_ERROR
                    && n.subcode == codes::UNSUPPORTED_VERSION_NUMBER =>
            {
                Event::NotifMsgVerErr(n)
            }
            e => e,
        };
        if let Event::NotifMsg(n) | Event::NotifMsgVerErr(n) = &event
            && self.state != State::Idle
        {
            {
                self.actions
                    .push_back(Action::NotificationReceived(n.clone()));
            }
        }
        match self.state {
            State::Idle => self.idle(now, event),
            State::Connect | State::Active => self.connect_or_active(now, event),
            State::OpenSent => self.open_sent(now, event),
            State::OpenConfirm => self.open_confirm(now, event),
            State::Established => self.established(now, event),
        }
    }

    fn idle(&mut self, now: Duration, event: Event) {
        match event {
            Event::ManualStart => self.start(now, false, true),
            Event::ManualStartPassive => self.start(now, true, true),
            Event::AutomaticStart => self.start(now, false, false),
            Event::AutomaticStartPassive => self.start(now, true, false),
            // With damping, an automatic start waits for the IdleHoldTimer.
            Event::AutomaticStartDamp | Event::AutomaticStartDampPassive
                if !self.idle_hold_timer.running() =>
            {
                self.start(now, event == Event::AutomaticStartDampPassive, false);
            }
            Event::IdleHoldTimerExpires => {
                self.idle_hold_timer.stop();
                if self.automatic_start_enabled() {
                    self.start(now, self.cfg.passive, false);
                }
            }
            Event::ManualStop => {
                // Administratively down: no automatic restart until the next ManualStart.
                self.automatic_start_enabled = false;
                self.idle_hold_timer.stop();
            }
            // Every other event leaves Idle unchanged (§8.2.2).
            _ => {}
        }
    }

    fn connect_or_active(&mut self, now: Duration, event: Event) {
        let connect = self.state == State::Connect;
        match event {
            Event::ManualStart
            | Event::AutomaticStart
            | Event::ManualStartPassive
            | Event::AutomaticStartPassive
            | Event::AutomaticStartDamp
            | Event::AutomaticStartDampPassive
            | Event::TcpConnectionValid
            | Event::TcpCrInvalid => {}
            Event::ManualStop => {
                let n = if self.delay_open_timer.running() {
                    self.notify_without_open(self.manual_cease())
                } else {
                    None
                };
                let reason = DownReason::ManualStop(self.manual_cease());
                self.go_idle(now, n, Counter::Zero, reason);
            }
            // A passive session (PassiveTcpEstablishment configured) never initiates: it keeps
            // listening, like a `passive` neighbour in other implementations.
            Event::ConnectRetryTimerExpires if !connect && self.cfg.passive => {
                self.start_connect_retry(now);
            }
            Event::ConnectRetryTimerExpires => {
                if connect {
                    self.actions.push_back(Action::CloseConnection);
                    self.delay_open_timer.stop();
                }
                self.start_connect_retry(now);
                self.actions.push_back(Action::Connect);
                self.set_state(now, State::Connect);
            }
            Event::DelayOpenTimerExpires => {
                self.connect_retry_timer.stop();
                self.delay_open_timer.stop();
                self.send_open(now);
                self.set_state(now, State::OpenSent);
            }
            Event::TcpCrAcked | Event::TcpConnectionConfirmed => {
                self.connect_retry_timer.stop();
                if let Some(d) = self.cfg.delay_open {
                    self.delay_open_timer.start(now, d);
                } else {
                    self.send_open(now);
                    self.set_state(now, State::OpenSent);
                }
            }
            Event::TcpConnectionFails => {
                if connect && self.delay_open_timer.running() {
                    self.start_connect_retry(now);
                    self.delay_open_timer.stop();
                    self.actions.push_back(Action::CloseConnection);
                    self.set_state(now, State::Active);
                } else {
                    let c = if connect {
                        Counter::Keep
                    } else {
                        Counter::Increment
                    };
                    self.go_idle(now, None, c, DownReason::ConnectionFailed);
                }
            }
            Event::BgpOpen(open) if self.delay_open_timer.running() => {
                // Event 20: the peer's OPEN arrived while we delayed ours.
                match validate_open(&self.cfg, &open) {
                    Ok(n) => {
                        self.connect_retry_timer.stop();
                        self.delay_open_timer.stop();
                        self.send(Message::Open(build_open(&self.cfg)));
                        self.accept_open(now, n);
                    }
                    Err(n) => self.connect_or_active(now, Event::BgpOpenMsgErr(n)),
                }
            }
            Event::BgpHeaderErr(n) | Event::BgpOpenMsgErr(n) => {
                let notify = self.notify_without_open(n.clone());
                self.go_idle(
                    now,
                    notify,
                    Counter::Increment,
                    DownReason::NotificationSent(n),
                );
            }
            Event::NotifMsgVerErr(n) => {
                let c = if self.delay_open_timer.running() {
                    Counter::Keep
                } else {
                    Counter::Increment
                };
                self.go_idle(now, None, c, DownReason::NotificationReceived(n));
            }
            // 8, 10, 11, 13, 19 (no DelayOpen), 23, 25-28: drop to Idle.
            other => {
                let reason = match other {
                    Event::NotifMsg(n) => DownReason::NotificationReceived(n),
                    Event::AutomaticStop => DownReason::AutomaticStop(self.cease()),
                    e => DownReason::UnexpectedEvent(e.number()),
                };
                self.go_idle(now, None, Counter::Increment, reason);
            }
        }
    }

    fn open_sent(&mut self, now: Duration, event: Event) {
        match event {
            Event::ManualStart
            | Event::AutomaticStart
            | Event::ManualStartPassive
            | Event::AutomaticStartPassive
            | Event::AutomaticStartDamp
            | Event::AutomaticStartDampPassive
            // A second connection is tracked by the caller (collision detection).
            | Event::TcpConnectionValid
            | Event::TcpCrAcked
            | Event::TcpConnectionConfirmed
            | Event::TcpCrInvalid => {}
            Event::ManualStop => self.stop(now, Stop::Manual),
            Event::AutomaticStop => self.stop(now, Stop::Automatic),
            Event::HoldTimerExpires => self.stop(now, Stop::HoldTimer),
            Event::TcpConnectionFails => {
                self.actions.push_back(Action::CloseConnection);
                self.hold_timer.stop();
                self.start_connect_retry(now);
                self.set_state(now, State::Active);
            }
            Event::BgpOpen(open) => match validate_open(&self.cfg, &open) {
                Ok(n) => {
                    self.delay_open_timer.stop();
                    self.connect_retry_timer.stop();
                    self.accept_open(now, n);
                }
                Err(n) => self.open_sent(now, Event::BgpOpenMsgErr(n)),
            },
            Event::BgpHeaderErr(n) | Event::BgpOpenMsgErr(n) => {
                self.go_idle(now, Some(n.clone()), Counter::Increment, DownReason::NotificationSent(n));
            }
            Event::OpenCollisionDump => {
                let n = Notification::new(codes::CEASE, codes::CONNECTION_COLLISION_RESOLUTION);
                self.go_idle(now, Some(n), Counter::Increment, DownReason::CollisionResolution);
            }
            Event::NotifMsgVerErr(n) => {
                self.go_idle(now, None, Counter::Keep, DownReason::NotificationReceived(n));
            }
            // 9, 11, 12, 13, 20, 25-28: FSM error 5/1 (RFC 6608).
            other => {
                let n = self.fsm_error();
                let reason = match other {
                    Event::NotifMsg(r) => DownReason::NotificationReceived(r),
                    _ => DownReason::NotificationSent(n.clone()),
                };
                self.go_idle(now, Some(n), Counter::Increment, reason);
            }
        }
    }

    fn open_confirm(&mut self, now: Duration, event: Event) {
        match event {
            Event::ManualStart
            | Event::AutomaticStart
            | Event::ManualStartPassive
            | Event::AutomaticStartPassive
            | Event::AutomaticStartDamp
            | Event::AutomaticStartDampPassive
            | Event::TcpConnectionValid
            | Event::TcpCrAcked
            | Event::TcpConnectionConfirmed
            | Event::TcpCrInvalid => {}
            Event::ManualStop => self.stop(now, Stop::Manual),
            Event::AutomaticStop => self.stop(now, Stop::Automatic),
            Event::HoldTimerExpires => self.stop(now, Stop::HoldTimer),
            Event::KeepaliveTimerExpires => {
                self.send(Message::Keepalive);
                self.restart_keepalive(now);
            }
            Event::TcpConnectionFails => {
                self.go_idle(now, None, Counter::Increment, DownReason::ConnectionFailed);
            }
            Event::NotifMsg(n) => {
                self.go_idle(
                    now,
                    None,
                    Counter::Increment,
                    DownReason::NotificationReceived(n),
                );
            }
            Event::NotifMsgVerErr(n) => {
                self.go_idle(
                    now,
                    None,
                    Counter::Keep,
                    DownReason::NotificationReceived(n),
                );
            }
            Event::BgpHeaderErr(n) | Event::BgpOpenMsgErr(n) => {
                self.go_idle(
                    now,
                    Some(n.clone()),
                    Counter::Increment,
                    DownReason::NotificationSent(n),
                );
            }
            Event::OpenCollisionDump => {
                let n = Notification::new(codes::CEASE, codes::CONNECTION_COLLISION_RESOLUTION);
                self.go_idle(
                    now,
                    Some(n),
                    Counter::Increment,
                    DownReason::CollisionResolution,
                );
            }
            Event::KeepAliveMsg => {
                self.restart_hold(now);
                self.set_state(now, State::Established);
            }
            // 9, 12, 13, 19/20 on this same connection, 27, 28: FSM error 5/2 (RFC 6608).
            _ => {
                let n = self.fsm_error();
                self.go_idle(
                    now,
                    Some(n.clone()),
                    Counter::Increment,
                    DownReason::NotificationSent(n),
                );
            }
        }
    }

    fn established(&mut self, now: Duration, event: Event) {
        match event {
            Event::ManualStart
            | Event::AutomaticStart
            | Event::ManualStartPassive
            | Event::AutomaticStartPassive
            | Event::AutomaticStartDamp
            | Event::AutomaticStartDampPassive
            | Event::TcpConnectionValid
            | Event::TcpCrAcked
            | Event::TcpConnectionConfirmed
            | Event::TcpCrInvalid => {}
            Event::ManualStop => self.stop(now, Stop::Manual),
            Event::AutomaticStop => self.stop(now, Stop::Automatic),
            Event::HoldTimerExpires => self.stop(now, Stop::HoldTimer),
            Event::KeepaliveTimerExpires => {
                self.send(Message::Keepalive);
                self.restart_keepalive(now);
            }
            Event::OpenCollisionDump => {
                let n = Notification::new(codes::CEASE, codes::CONNECTION_COLLISION_RESOLUTION);
                self.go_idle(
                    now,
                    Some(n),
                    Counter::Increment,
                    DownReason::CollisionResolution,
                );
            }
            Event::TcpConnectionFails => {
                self.go_idle(now, None, Counter::Increment, DownReason::ConnectionFailed);
            }
            Event::NotifMsg(n) | Event::NotifMsgVerErr(n) => {
                self.go_idle(
                    now,
                    None,
                    Counter::Increment,
                    DownReason::NotificationReceived(n),
                );
            }
            Event::KeepAliveMsg => self.restart_hold(now),
            Event::UpdateMsg { update, verdict } => {
                self.restart_hold(now);
                self.actions.push_back(Action::Update { update, verdict });
            }
            Event::RouteRefreshMsg(r) => {
                self.restart_hold(now);
                self.actions.push_back(Action::RouteRefresh(r));
            }
            Event::UpdateMsgErr(n) => {
                self.go_idle(
                    now,
                    Some(n.clone()),
                    Counter::Increment,
                    DownReason::NotificationSent(n),
                );
            }
            // A message header error is reported with its own NOTIFICATION (§6.1).
            Event::BgpHeaderErr(n) => {
                self.go_idle(
                    now,
                    Some(n.clone()),
                    Counter::Increment,
                    DownReason::NotificationSent(n),
                );
            }
            // 9, 12, 13, 19/20, 22: FSM error 5/3 (RFC 6608).
            _ => {
                let n = self.fsm_error();
                self.go_idle(
                    now,
                    Some(n.clone()),
                    Counter::Increment,
                    DownReason::NotificationSent(n),
                );
            }
        }
    }
}
