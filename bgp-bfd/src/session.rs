//! One BFD session: the RFC 5880 §6.8 state machine in Asynchronous mode, its timers,
//! Poll/Final sequences and transmit jitter. Sans-I/O: time is an input
//! ([`Duration`] since an epoch the caller chooses); packets go in and out as values.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::time::Duration;

use thiserror::Error;

use crate::auth::{AuthError, AuthKey};
use crate::packet::{ControlPacket, Diag, EchoPacket, State};

/// The transmit interval floor while the session is not Up (§6.8.3): one second.
pub const SLOW_TX_US: u32 = 1_000_000;

/// Most events kept when the caller does not drain them (oldest dropped first).
const MAX_EVENTS: usize = 64;

/// Configuration of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// bfd.DesiredMinTxInterval while Up. Raised to one second while not Up (§6.8.3).
    pub desired_min_tx: Duration,
    /// bfd.RequiredMinRxInterval. Zero asks the remote side not to send (§6.8.1).
    pub required_min_rx: Duration,
    /// bfd.DetectMult (at least 1).
    pub detect_mult: u8,
    /// Passive role (§6.1): send nothing until the remote side has been heard.
    pub passive: bool,
    /// Seed of the transmit jitter generator (§6.8.7), for reproducible runs; it also
    /// draws the first authentication sequence number.
    pub jitter_seed: u64,
    /// Authentication (§6.7): every packet sent is signed with this key and every packet
    /// received must be; `None` (default) runs none and discards packets with the A bit.
    pub auth: Option<AuthKey>,
    /// Further keys accepted on receive but never used to sign, for a key rollover: a
    /// received packet is checked with the key whose type and Key ID it names, among
    /// [`auth`](Self::auth) and these. Ignored while `auth` is `None`.
    pub accept_keys: Vec<AuthKey>,
    /// Required Min Echo RX Interval to advertise (§4.1). Nonzero tells
    /// the peer that its Echo packets are looped back here; on a host that is the IP
    /// forwarding of the kernel, not this crate. Default zero: no Echo packets, please.
    pub required_min_echo_rx: Duration,
    /// Run the Echo function (§6.4, §6.8.9) every this often while Up and while the peer
    /// advertises a nonzero Required Min Echo RX Interval (never faster than that). When
    /// Detect Mult intervals pass without any Echo packet coming back (after the first
    /// one left), the session goes Down with diagnostic 2. `None` (default): off.
    pub echo_tx: Option<Duration>,
}

impl SessionConfig {
    /// An active session with the given intervals and multiplier (a multiplier of 0 is
    /// taken as 1).
    pub fn new(min_tx: Duration, min_rx: Duration, detect_mult: u8) -> SessionConfig {
        SessionConfig {
            desired_min_tx: min_tx,
            required_min_rx: min_rx,
            detect_mult: detect_mult.max(1),
            passive: false,
            jitter_seed: 0x5eed_bfd0,
            auth: None,
            accept_keys: Vec::new(),
            required_min_echo_rx: Duration::ZERO,
            echo_tx: None,
        }
    }
}

impl Default for SessionConfig {
    /// 300 ms x 3, FRR's default profile.
    fn default() -> Self {
        SessionConfig::new(Duration::from_millis(300), Duration::from_millis(300), 3)
    }
}

/// What the session reports to its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// bfd.SessionState changed.
    StateChange {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
        /// bfd.LocalDiag after the change (why the session went down).
        diag: Diag,
        /// The remote side's state as last received.
        remote: State,
    },
    /// A Poll Sequence terminated with a Final: both sides now use the new parameters.
    PollSequenceDone,
}

/// Why [`Session::handle_packet`] discarded a packet (after decoding succeeded).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RxError {
    /// An Echo packet that is not one this session sent recently, or arrived while its
    /// Echo function is not running.
    #[error("unexpected echo packet (seq {0})")]
    UnexpectedEcho(u32),
    /// Authentication failed, or the A bit does not match the session's use of it
    /// (§6.8.6, §6.7).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Your Discriminator is neither zero nor ours.
    #[error("your discriminator {got} is not ours ({ours})")]
    WrongDiscriminator {
        /// Received.
        got: u32,
        /// bfd.LocalDiscr.
        ours: u32,
    },
    /// The local session is AdminDown: the remote variables were updated, then the
    /// packet discarded (§6.8.6).
    #[error("session administratively down")]
    AdminDown,
}

fn us(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn from_us(v: u32) -> Duration {
    Duration::from_micros(u64::from(v))
}

/// A BFD session (RFC 5880 §6.8), Asynchronous mode, with the optional Echo function
/// ([`SessionConfig::echo_tx`], [`poll_echo`](Self::poll_echo)) and optional
/// authentication ([`SessionConfig::auth`]).
///
/// Drive it with [`handle_packet`](Self::handle_packet) for received packets,
/// [`handle_timeout`](Self::handle_timeout) at [`poll_timeout`](Self::poll_timeout), and
/// call [`poll_transmit`](Self::poll_transmit) after each of them and at the timeout to
/// get the packet to send, if any. [`poll_event`](Self::poll_event) yields state changes.
#[derive(Debug, Clone)]
pub struct Session {
    cfg: SessionConfig,
    state: State,
    remote_state: State,
    local_disc: u32,
    remote_disc: u32,
    local_diag: Diag,
    /// bfd.DesiredMinTxInterval as advertised, µs.
    desired_min_tx: u32,
    /// bfd.RequiredMinRxInterval as advertised, µs.
    required_min_rx: u32,
    detect_mult: u8,
    /// The desired interval used for transmission: lags an increase until the Poll
    /// Sequence ends (§6.8.3).
    tx_in_use: u32,
    /// The receive interval used for the Detection Time: lags a decrease until the Poll
    /// Sequence ends (§6.8.3).
    rx_for_detect: u32,
    remote_min_rx: u32,
    remote_desired_min_tx: u32,
    remote_detect_mult: u8,
    remote_demand: bool,
    poll_active: bool,
    repoll: bool,
    send_final: bool,
    send_now: bool,
    next_tx: Duration,
    detect_deadline: Option<Duration>,
    rng: u64,
    tx_slack: Duration,
    events: VecDeque<Event>,
    /// bfd.XmitAuthSeq.
    xmit_auth_seq: u32,
    /// When a non-meticulous key last moved bfd.XmitAuthSeq.
    xmit_seq_moved: Option<Duration>,
    /// bfd.RcvAuthSeq when bfd.AuthSeqKnown is set.
    rcv_auth_seq: Option<u32>,
    /// Until when bfd.AuthSeqKnown holds without another authenticated packet: twice the
    /// Detection Time after the last one (§6.8.1).
    auth_seq_until: Duration,
    /// The peer's Required Min Echo RX Interval, µs (zero: it loops nothing back).
    remote_min_echo_rx: u32,
    /// The Echo function: when the next packet is due (None while it does not run).
    echo_next: Option<Duration>,
    /// When the Echo function fails without another looped packet.
    echo_deadline: Option<Duration>,
    /// Sequence number of the last Echo packet sent.
    echo_seq: u32,
}

impl Session {
    /// A new session in Down with a nonzero local discriminator; its first packet is
    /// due at `now` (an active session) or after the remote side is heard (passive).
    pub fn new(cfg: SessionConfig, local_disc: NonZeroU32, now: Duration) -> Session {
        let required_min_rx = us(cfg.required_min_rx);
        let desired_min_tx = us(cfg.desired_min_tx).max(SLOW_TX_US);
        Session {
            state: State::Down,
            remote_state: State::Down,
            local_disc: local_disc.get(),
            remote_disc: 0,
            local_diag: Diag::None,
            desired_min_tx,
            required_min_rx,
            detect_mult: cfg.detect_mult.max(1),
            tx_in_use: desired_min_tx,
            rx_for_detect: required_min_rx,
            remote_min_rx: 1,
            remote_desired_min_tx: 0,
            remote_detect_mult: 0,
            remote_demand: false,
            poll_active: false,
            repoll: false,
            send_final: false,
            send_now: false,
            next_tx: now,
            detect_deadline: None,
            rng: cfg.jitter_seed | 1,
            tx_slack: Duration::ZERO,
            events: VecDeque::new(),
            xmit_auth_seq: 0,
            xmit_seq_moved: None,
            rcv_auth_seq: None,
            auth_seq_until: Duration::ZERO,
            remote_min_echo_rx: 0,
            echo_next: None,
            echo_deadline: None,
            echo_seq: 0,
            cfg,
        }
        .with_first_seq()
    }

    /// §6.8.1: bfd.XmitAuthSeq starts at a random value.
    fn with_first_seq(mut self) -> Session {
        self.xmit_auth_seq = self.next_random() as u32;
        self
    }

    /// bfd.SessionState.
    pub fn state(&self) -> State {
        self.state
    }
    /// bfd.RemoteSessionState.
    pub fn remote_state(&self) -> State {
        self.remote_state
    }
    /// bfd.LocalDiag.
    pub fn local_diag(&self) -> Diag {
        self.local_diag
    }
    /// bfd.LocalDiscr.
    pub fn local_disc(&self) -> u32 {
        self.local_disc
    }
    /// bfd.RemoteDiscr (zero until the remote side is heard, and after a detection
    /// timeout).
    pub fn remote_disc(&self) -> u32 {
        self.remote_disc
    }
    /// Whether a Poll Sequence is in progress.
    pub fn poll_active(&self) -> bool {
        self.poll_active
    }
    /// The configuration in force.
    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    /// The transmit interval before jitter: the larger of the desired interval in use
    /// (at least one second while not Up) and bfd.RemoteMinRxInterval (§6.8.7).
    pub fn tx_interval(&self) -> Duration {
        let local = if self.state == State::Up {
            self.tx_in_use
        } else {
            self.tx_in_use.max(SLOW_TX_US)
        };
        from_us(local.max(self.remote_min_rx))
    }

    /// The Detection Time (§6.8.4, Asynchronous mode): the remote Detect Mult times the
    /// larger of our RequiredMinRxInterval and the remote Desired Min TX. `None` until
    /// the remote side is heard.
    pub fn detection_time(&self) -> Option<Duration> {
        if self.remote_detect_mult == 0 {
            return None;
        }
        let per = self.rx_for_detect.max(self.remote_desired_min_tx);
        Some(from_us(per) * u32::from(self.remote_detect_mult))
    }

    /// The next instant [`handle_timeout`](Self::handle_timeout) or
    /// [`poll_transmit`](Self::poll_transmit) has work to do.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let tx = if self.send_final || self.send_now {
            // Immediate: the caller should poll_transmit now; report "as soon as asked".
            Some(Duration::ZERO)
        } else if self.may_send_periodic() {
            Some(self.next_tx)
        } else {
            None
        };
        [tx, self.detect_deadline, self.echo_next, self.echo_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn push_event(&mut self, e: Event) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    fn may_send_periodic(&self) -> bool {
        // §6.8.7: nothing while the remote side asks for no packets, nothing from a
        // passive side that has not heard its peer, nothing while the remote side runs
        // Demand mode and both are Up.
        if self.remote_min_rx == 0 {
            return false;
        }
        if self.cfg.passive && self.remote_disc == 0 {
            return false;
        }
        !(self.remote_demand && self.state == State::Up && self.remote_state == State::Up)
    }

    /// Declare that the caller may send up to `slack` after [`poll_timeout`](Self::poll_timeout)
    /// (e.g. a driver that works in rounds). The top of the jitter range is lowered by
    /// that much, not below 75 %, so that a packet sent late still leaves within 100 % (90 %
    /// with a Detect Mult of 1) of the interval, as §6.8.7 requires. Default zero.
    pub fn set_tx_slack(&mut self, slack: Duration) {
        self.tx_slack = slack;
    }

    /// splitmix64
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn jitter(&mut self, interval: Duration) -> Duration {
        let z = self.next_random();
        // §6.8.7: 75-100 % of the interval, 75-90 % with a Detect Mult of 1.
        let top: u64 = if self.detect_mult == 1 { 900 } else { 1000 };
        let slack_pm = if interval.is_zero() {
            0
        } else {
            (self.tx_slack.as_nanos() * 1000).div_ceil(interval.as_nanos())
        };
        let top = top
            .saturating_sub(u64::try_from(slack_pm).unwrap_or(u64::MAX))
            .max(750);
        let per_mille = 750 + (z % (top - 750 + 1)) as u32;
        interval * per_mille / 1000
    }

    fn set_state(&mut self, to: State, diag: Diag) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        self.local_diag = diag;
        self.send_now = true;
        if to == State::Up {
            // The slow rate no longer applies: a decrease takes effect at once, and the
            // remote side learns it through a Poll Sequence (§6.8.3).
            let configured = us(self.cfg.desired_min_tx);
            if configured != self.desired_min_tx {
                self.desired_min_tx = configured;
                self.tx_in_use = self.tx_in_use.min(configured);
                self.start_poll();
            }
        } else {
            // Not Up: at least one second, at once; no Poll Sequence survives.
            self.desired_min_tx = us(self.cfg.desired_min_tx).max(SLOW_TX_US);
            self.tx_in_use = self.desired_min_tx;
            self.rx_for_detect = self.required_min_rx;
            self.poll_active = false;
            self.repoll = false;
            self.echo_next = None;
            self.echo_deadline = None;
        }
        self.push_event(Event::StateChange {
            from,
            to,
            diag,
            remote: self.remote_state,
        });
    }

    fn start_poll(&mut self) {
        if self.poll_active {
            self.repoll = true;
        } else {
            self.poll_active = true;
        }
    }

    /// Process a received, decoded Control packet (RFC 5880 §6.8.6, from the A bit
    /// check on; the packet-level checks ran in [`ControlPacket::decode`]).
    pub fn handle_packet(&mut self, now: Duration, p: &ControlPacket) -> Result<(), RxError> {
        if p.your_disc != 0 && p.your_disc != self.local_disc {
            return Err(RxError::WrongDiscriminator {
                got: p.your_disc,
                ours: self.local_disc,
            });
        }
        self.authenticate(now, p)?;
        self.remote_disc = p.my_disc;
        self.remote_state = p.state;
        self.remote_demand = p.demand;
        let old_interval = self.tx_interval();
        self.remote_min_rx = p.required_min_rx;
        self.remote_min_echo_rx = p.required_min_echo_rx;
        self.remote_desired_min_tx = p.desired_min_tx;
        self.remote_detect_mult = p.detect_mult;
        if p.final_ && self.poll_active {
            self.poll_active = false;
            self.tx_in_use = self.desired_min_tx;
            self.rx_for_detect = self.required_min_rx;
            self.push_event(Event::PollSequenceDone);
            if self.repoll {
                self.repoll = false;
                self.poll_active = true;
            }
        }
        if self.state == State::AdminDown {
            return Err(RxError::AdminDown);
        }
        if p.state == State::AdminDown {
            if self.state != State::Down {
                self.set_state(State::Down, Diag::NeighborSignaledSessionDown);
            }
        } else {
            match (self.state, p.state) {
                (State::Down, State::Down) => self.set_state(State::Init, Diag::None),
                (State::Down, State::Init) => self.set_state(State::Up, Diag::None),
                (State::Init, State::Init | State::Up) => self.set_state(State::Up, Diag::None),
                (State::Up, State::Down) => {
                    self.set_state(State::Down, Diag::NeighborSignaledSessionDown)
                }
                _ => {}
            }
        }
        if p.poll {
            self.send_final = true;
        }
        // A shorter interval (remote asks for more, or we went Up) applies from now.
        let interval = self.tx_interval();
        if interval < old_interval {
            self.next_tx = self.next_tx.min(now + interval);
        }
        self.detect_deadline = self.detection_time().map(|d| now + d);
        self.update_echo(now);
        Ok(())
    }

    /// Start or stop the Echo function: it runs while Up, configured, and allowed by
    /// the peer's nonzero Required Min Echo RX Interval (§6.8.9).
    fn update_echo(&mut self, now: Duration) {
        let run =
            self.state == State::Up && self.cfg.echo_tx.is_some() && self.remote_min_echo_rx != 0;
        match (run, self.echo_next) {
            (true, None) => self.echo_next = Some(now),
            (false, Some(_)) => {
                self.echo_next = None;
                self.echo_deadline = None;
            }
            _ => {}
        }
    }

    /// Whether the Echo function runs now.
    pub fn echo_active(&self) -> bool {
        self.echo_next.is_some()
    }

    /// The interval between our Echo packets: the configured one, never below the
    /// peer's Required Min Echo RX Interval (§6.8.9).
    pub fn echo_interval(&self) -> Duration {
        self.cfg
            .echo_tx
            .unwrap_or_default()
            .max(from_us(self.remote_min_echo_rx))
    }

    /// The Echo packet to send now, if the Echo function runs and one is due. The
    /// caller sends it so that the peer forwards it back to us (RFC 5881 §4: to our
    /// own address, through the peer's link-layer address, UDP port 3785), and reports
    /// each packet that really left with [`echo_sent`](Self::echo_sent).
    pub fn poll_echo(&mut self, now: Duration) -> Option<EchoPacket> {
        let next = self.echo_next?;
        if now < next {
            return None;
        }
        self.echo_seq = self.echo_seq.wrapping_add(1);
        self.echo_next = Some(now + self.echo_interval());
        Some(EchoPacket {
            disc: self.local_disc,
            seq: self.echo_seq,
        })
    }

    /// An Echo packet from [`poll_echo`](Self::poll_echo) left. The first one arms the
    /// failure deadline (Detect Mult intervals): an Echo function whose packets cannot
    /// leave at all (no route to the peer's link, say) never fails the session; one
    /// whose packets left and stopped coming back does.
    pub fn echo_sent(&mut self, now: Duration) {
        if self.echo_next.is_some() && self.echo_deadline.is_none() {
            self.echo_deadline = Some(now + self.echo_detection_time());
        }
    }

    /// How long the Echo function may go without a looped packet: Detect Mult Echo
    /// intervals.
    fn echo_detection_time(&self) -> Duration {
        self.echo_interval() * u32::from(self.detect_mult)
    }

    /// One of our Echo packets came back (demultiplexed by the caller, by the
    /// discriminator it carries): the path through the peer works until Detect Mult
    /// more intervals have passed. Packets sent more than Detect Mult packets ago, or
    /// that this session did not send, are refused.
    pub fn handle_echo(&mut self, now: Duration, e: &EchoPacket) -> Result<(), RxError> {
        let age = self.echo_seq.wrapping_sub(e.seq);
        if e.disc != self.local_disc
            || self.echo_next.is_none()
            || age > u32::from(self.detect_mult)
        {
            return Err(RxError::UnexpectedEcho(e.seq));
        }
        self.echo_deadline = Some(now + self.echo_detection_time());
        Ok(())
    }

    /// Change the Echo settings ([`SessionConfig::required_min_echo_rx`],
    /// [`SessionConfig::echo_tx`]); the advertised interval goes out with the next
    /// packet.
    pub fn set_echo(
        &mut self,
        now: Duration,
        required_min_echo_rx: Duration,
        echo_tx: Option<Duration>,
    ) {
        self.cfg.required_min_echo_rx = required_min_echo_rx;
        self.cfg.echo_tx = echo_tx;
        self.update_echo(now);
    }

    /// The A-bit and authentication checks of §6.8.6 and §6.7, and the sequence number
    /// bookkeeping of an accepted packet.
    fn authenticate(&mut self, now: Duration, p: &ControlPacket) -> Result<(), AuthError> {
        let Some(key) = &self.cfg.auth else {
            return match p.auth {
                Some(_) => Err(AuthError::NotInUse),
                None => Ok(()),
            };
        };
        // §6.8.1: bfd.AuthSeqKnown lapses after twice the Detection Time without an
        // authenticated packet.
        if now >= self.auth_seq_until {
            self.rcv_auth_seq = None;
        }
        // The key the section names by type and Key ID; failing that, the signing key,
        // whose check then says what is wrong (type, length, Key ID).
        let named = p.auth.as_ref().and_then(|a| {
            let id = *a.data.first()?;
            std::iter::once(key)
                .chain(&self.cfg.accept_keys)
                .find(|k| k.kind().code() == a.auth_type && k.key_id() == id)
        });
        let key = named.unwrap_or(key);
        let seq = key.verify(p, self.rcv_auth_seq)?;
        if key.kind() != crate::auth::AuthType::SimplePassword {
            self.rcv_auth_seq = Some(seq);
        }
        // The Detection Time this packet sets (its own Detect Mult and Desired Min TX).
        let per = self.rx_for_detect.max(p.desired_min_tx);
        self.auth_seq_until = now + from_us(per) * u32::from(p.detect_mult) * 2;
        Ok(())
    }

    /// Handle the passage of time: the Detection Time expiring (§6.8.4), and the Echo
    /// function failing (§6.4: Down with diagnostic 2).
    pub fn handle_timeout(&mut self, now: Duration) {
        if let Some(dl) = self.echo_deadline
            && now >= dl
        {
            self.echo_deadline = None;
            self.echo_next = None;
            if self.state == State::Up {
                self.set_state(State::Down, Diag::EchoFunctionFailed);
            }
        }
        if let Some(dl) = self.detect_deadline
            && now >= dl
        {
            self.detect_deadline = None;
            // §6.8.1: bfd.RemoteDiscr is reset when the Detection Time expires.
            self.remote_disc = 0;
            self.remote_state = State::Down;
            self.remote_detect_mult = 0;
            self.remote_desired_min_tx = 0;
            self.remote_demand = false;
            if matches!(self.state, State::Init | State::Up) {
                self.set_state(State::Down, Diag::ControlDetectionTimeExpired);
            }
        }
    }

    /// The packet to send now, if any: a Final answer to a Poll at once, a state change
    /// at once, otherwise the periodic packet when its jittered interval has passed.
    pub fn poll_transmit(&mut self, now: Duration) -> Option<ControlPacket> {
        let final_ = std::mem::take(&mut self.send_final);
        let urgent = std::mem::take(&mut self.send_now);
        let periodic = self.may_send_periodic();
        if !(final_ || (periodic && (urgent || now >= self.next_tx))) {
            return None;
        }
        let mut p = ControlPacket::new(
            self.state,
            self.local_diag,
            self.local_disc,
            self.remote_disc,
        );
        p.detect_mult = self.detect_mult;
        p.desired_min_tx = self.desired_min_tx;
        p.required_min_rx = self.required_min_rx;
        p.required_min_echo_rx = us(self.cfg.required_min_echo_rx);
        // P and F never together (§6.5): a Final goes out alone, the Poll follows.
        p.final_ = final_;
        p.poll = self.poll_active && !final_;
        if let Some(key) = &self.cfg.auth {
            // §6.7.3: a meticulous key moves the sequence number with every packet; the
            // others may, and here do so once a second, well inside the receiver's window
            // of 3 x Detect Mult.
            let due = self
                .xmit_seq_moved
                .is_none_or(|t| now >= t + Duration::from_secs(1));
            if key.kind().meticulous() || due {
                self.xmit_auth_seq = self.xmit_auth_seq.wrapping_add(1);
                self.xmit_seq_moved = Some(now);
            }
            key.sign(&mut p, self.xmit_auth_seq);
        }
        if periodic {
            let iv = self.tx_interval();
            self.next_tx = now + self.jitter(iv);
        }
        Some(p)
    }

    /// Set bfd.XmitAuthSeq (tests of the receiver's sequence window).
    #[cfg(test)]
    pub(crate) fn xmit_auth_seq_for_tests(&mut self, seq: u32) {
        self.xmit_auth_seq = seq;
    }

    /// Hold the session AdminDown (diag 7) or release it to Down (§6.8.16).
    pub fn set_admin_down(&mut self, admin_down: bool) {
        if admin_down && self.state != State::AdminDown {
            self.set_state(State::AdminDown, Diag::AdministrativelyDown);
            self.detect_deadline = None;
        } else if !admin_down && self.state == State::AdminDown {
            self.set_state(State::Down, Diag::AdministrativelyDown);
        }
    }

    /// Change the keys (a rollover, §6.7): `sign` signs every packet from now on, and
    /// received packets are checked with whichever of `sign` and `accept` they name.
    /// The sequence numbers carry on, so a peer that knows both keys sees no gap; the
    /// usual order is to add the new key to `accept` on both sides, then sign with it,
    /// then drop the old one. Switching authentication on or off altogether also takes
    /// effect at once (the peer must do the same within a Detection Time, or the session
    /// goes Down).
    pub fn set_auth(&mut self, sign: Option<AuthKey>, accept: Vec<AuthKey>) {
        if self.cfg.auth.is_none() != sign.is_none() {
            self.rcv_auth_seq = None;
        }
        self.cfg.auth = sign;
        self.cfg.accept_keys = accept;
    }

    /// Change the timer parameters. While Up this starts a Poll Sequence; an increase of
    /// the transmit interval and a decrease of the receive interval take effect only
    /// when it ends (§6.8.3). While not Up the change applies at once.
    pub fn set_parameters(&mut self, now: Duration, min_tx: Duration, min_rx: Duration, mult: u8) {
        self.cfg.desired_min_tx = min_tx;
        self.cfg.required_min_rx = min_rx;
        self.cfg.detect_mult = mult.max(1);
        self.detect_mult = mult.max(1);
        let old_interval = self.tx_interval();
        if self.state == State::Up {
            let tx = us(min_tx);
            let rx = us(min_rx);
            self.desired_min_tx = tx;
            self.required_min_rx = rx;
            self.tx_in_use = self.tx_in_use.min(tx);
            self.rx_for_detect = self.rx_for_detect.max(rx);
            self.start_poll();
        } else {
            self.desired_min_tx = us(min_tx).max(SLOW_TX_US);
            self.required_min_rx = us(min_rx);
            self.tx_in_use = self.desired_min_tx;
            self.rx_for_detect = self.required_min_rx;
        }
        let interval = self.tx_interval();
        if interval < old_interval {
            self.next_tx = self.next_tx.min(now + interval);
        }
    }
}
