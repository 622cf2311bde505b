//! One connection of a [`Peer`]: its state machine and buffers, framing (bgp-wire's header
//! checks, decoding with the negotiated context borrowed from the state machine), the
//! processing of input under flow control, and the carrying out of the machine's actions.

use std::collections::VecDeque;
use std::time::Duration;

use bgp_wire::{Message, SessionContext};
use bytes::{Bytes, BytesMut};

use super::collide::Collision;
use super::{ConnId, IoAction, Peer, PeerEvent};
use crate::collision::Direction;
use crate::fsm::{Action, Event, Fsm, State};
use crate::timer::Timer;

/// The context before OPENs are exchanged (equal to `SessionContext::default()`), shared by
/// every peer instead of one copy each.
pub(super) static DEFAULT_CTX: SessionContext = SessionContext {
    four_octet_as: false,
    add_path_receive: Vec::new(),
    add_path_send: Vec::new(),
    extended_message: false,
    extended_next_hop: Vec::new(),
};

/// A received item held back by flow control.
#[derive(Debug)]
pub(super) enum Held {
    Frame(Bytes),
    Event(Box<Event>),
}

/// One connection with its state machine and buffers.
#[derive(Debug)]
pub(super) struct Conn {
    pub(super) fsm: Fsm,
    pub(super) id: Option<ConnId>,
    pub(super) dir: Direction,
    pub(super) rbuf: BytesMut,
    /// KEEPALIVE, NOTIFICATION and OPEN: handed out before queued data.
    pub(super) ctrl: BytesMut,
    /// UPDATE and ROUTE-REFRESH (whose BoRR/EoRR markers must stay in order with UPDATEs).
    pub(super) data: BytesMut,
    pub(super) in_flight: usize,
    pub(super) held: VecDeque<Held>,
    pub(super) held_bytes: usize,
    pub(super) eof: bool,
    pub(super) send_hold: Timer,
}

impl Conn {
    pub(super) fn new(fsm: Fsm, dir: Direction) -> Self {
        Conn {
            fsm,
            id: None,
            dir,
            rbuf: BytesMut::new(),
            ctrl: BytesMut::new(),
            data: BytesMut::new(),
            in_flight: 0,
            held: VecDeque::new(),
            held_bytes: 0,
            eof: false,
            send_hold: Timer::default(),
        }
    }

    /// Forget the transport: buffers go, and the unsent output is returned.
    pub(super) fn detach(&mut self) -> (Option<ConnId>, BytesMut) {
        self.rbuf = BytesMut::new();
        self.held = VecDeque::new();
        self.held_bytes = 0;
        self.eof = false;
        self.in_flight = 0;
        self.send_hold.stop();
        // Queued data goes before the control messages, so a last NOTIFICATION follows the
        // UPDATEs sent before it, as the state machine sent them.
        let mut out = std::mem::take(&mut self.data);
        out.extend_from_slice(&self.ctrl);
        self.ctrl = BytesMut::new();
        (self.id.take(), out)
    }

    /// Held messages, a pending end of stream, or a whole message (or a header error) in the
    /// read buffer.
    pub(super) fn has_input(&self) -> bool {
        if self.id.is_none() {
            return false;
        }
        let ctx = self.fsm.negotiated().map_or(&DEFAULT_CTX, |n| &n.context);
        !self.held.is_empty()
            || self.eof
            || match bgp_wire::frame_len(&self.rbuf, ctx) {
                Ok(Some(len)) => len <= self.rbuf.len(),
                Ok(None) => false,
                Err(_) => true,
            }
    }

    pub(super) fn buffered(&self) -> usize {
        self.ctrl.len() + self.data.len() + self.in_flight
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Which {
    Primary,
    Secondary,
}

enum Cut {
    Incomplete,
    Frame(Bytes),
    Error(Event),
}

/// Cut the next message off the read buffer (bgp-wire's header checks).
fn cut(rbuf: &mut BytesMut, ctx: &SessionContext) -> Cut {
    let len = match bgp_wire::frame_len(rbuf, ctx) {
        Ok(None) => return Cut::Incomplete,
        Ok(Some(len)) => len,
        Err(e) => {
            // Header errors (1/1, 1/2, 1/3): nothing after this can be framed.
            rbuf.clear();
            return Cut::Error(Event::from_decode_error(&e));
        }
    };
    if rbuf.len() < len {
        rbuf.reserve(len - rbuf.len());
        return Cut::Incomplete;
    }
    Cut::Frame(rbuf.split_to(len).freeze())
}

fn decode(frame: Bytes, ctx: &SessionContext) -> Event {
    match bgp_wire::decode_message(frame, ctx) {
        Ok(d) => Event::from_message(d.message, d.verdict),
        Err(e) => Event::from_decode_error(&e),
    }
}

/// A whole KEEPALIVE: header only, type 4.
fn is_keepalive(frame: &[u8]) -> bool {
    frame.len() == bgp_wire::HEADER_LEN && frame.get(18) == Some(&4)
}

impl Peer {
    /// Feed one connection's input to its state machine, in order, as far as flow control
    /// allows. Each round consumes a held item or bytes of the read buffer, or returns.
    pub(super) fn process(&mut self, now: Duration, which: Which) {
        let mut which = which;
        loop {
            let room = self.events.len() < self.limits.events;
            let held_limit = self.limits.held_input;
            let default_ctx = &DEFAULT_CTX;
            let c = match which {
                Which::Primary => &mut self.primary,
                Which::Secondary => match self.secondary.as_deref_mut() {
                    Some(s) => s,
                    None => return,
                },
            };
            if c.id.is_none() {
                return;
            }
            let ctx = c.fsm.negotiated().map_or(default_ctx, |n| &n.context);
            let held = if room { c.held.pop_front() } else { None };
            let event = match held {
                Some(Held::Frame(f)) => {
                    c.held_bytes = c.held_bytes.saturating_sub(f.len());
                    decode(f, ctx)
                }
                Some(Held::Event(e)) => *e,
                None => {
                    let backed = !room || !c.held.is_empty();
                    let established = c.fsm.state() == State::Established;
                    if backed && (!established || c.held_bytes >= held_limit) {
                        return;
                    }
                    match cut(&mut c.rbuf, ctx) {
                        Cut::Incomplete => {
                            if c.rbuf.is_empty() {
                                // Idle sessions keep no read buffer.
                                c.rbuf = BytesMut::new();
                            }
                            if c.eof && !backed {
                                c.eof = false;
                                let _ = c.detach();
                                Event::TcpConnectionFails
                            } else {
                                return;
                            }
                        }
                        Cut::Error(e) if backed => {
                            c.held.push_back(Held::Event(Box::new(e)));
                            continue;
                        }
                        Cut::Error(e) => e,
                        Cut::Frame(f) if backed => {
                            if is_keepalive(&f) {
                                Event::KeepAliveMsg
                            } else {
                                c.fsm.message_arrived(now);
                                c.held_bytes += f.len();
                                c.held.push_back(Held::Frame(f));
                                continue;
                            }
                        }
                        Cut::Frame(f) => decode(f, ctx),
                    }
                }
            };
            c.fsm.handle_event(now, event);
            self.apply(now, which);
            // Resolve a collision as soon as an OPEN is in, before a KEEPALIVE that may follow
            // in the same read takes the connection to Established.
            if self.secondary.is_some() {
                match self.check_collision(now) {
                    Collision::Promoted => which = Which::Primary,
                    Collision::SecondaryDropped if which == Which::Secondary => return,
                    _ => {}
                }
            }
        }
    }

    /// Carry out a state machine's actions.
    pub(super) fn apply(&mut self, now: Duration, which: Which) {
        let min_send_hold = self.limits.send_hold_time;
        loop {
            let default_ctx = &DEFAULT_CTX;
            let c = match which {
                Which::Primary => &mut self.primary,
                Which::Secondary => match self.secondary.as_deref_mut() {
                    Some(s) => s,
                    None => return,
                },
            };
            let Some(action) = c.fsm.poll_action() else {
                update_send_hold(c, now, min_send_hold);
                break;
            };
            match action {
                Action::Connect if which == Which::Primary => self.io.push_back(IoAction::Connect),
                Action::Connect => {}
                Action::CloseConnection => {
                    let (id, out) = c.detach();
                    if which == Which::Primary {
                        self.io.push_back(IoAction::CancelConnect);
                    }
                    if let Some(id) = id {
                        self.retire(id, out);
                    }
                }
                Action::Send(msg) => {
                    if c.id.is_some() {
                        let ctx = c.fsm.negotiated().map_or(default_ctx, |n| &n.context);
                        let buf = match msg {
                            Message::Update(_) | Message::RouteRefresh(_) => &mut c.data,
                            _ => &mut c.ctrl,
                        };
                        if let Err(e) = bgp_wire::encode_message(&msg, ctx, buf) {
                            self.encode_error = Some(e);
                        }
                    }
                    if let (Which::Primary, Message::Notification(n)) = (which, msg) {
                        self.events.push_back(PeerEvent::NotificationSent(n));
                    }
                }
                other if which == Which::Primary => self.publish(other),
                _ => {}
            }
        }
        // A secondary connection that fell back is simply dropped.
        let drop_secondary = which == Which::Secondary
            && self
                .secondary
                .as_ref()
                .is_some_and(|s| s.id.is_none() || s.fsm.state() == State::Idle);
        if drop_secondary
            && let Some(mut s) = self.secondary.take()
            && let (Some(id), out) = s.detach()
        {
            self.retire(id, out);
        }
    }

    fn publish(&mut self, action: Action) {
        let ev = match action {
            Action::StateChanged { from, to } => PeerEvent::StateChanged { from, to },
            Action::SessionUp(n) => PeerEvent::Established(n),
            Action::SessionDown(reason) => PeerEvent::Down { reason },
            Action::Update { update, verdict } => PeerEvent::Update {
                update: Box::new(update),
                verdict,
            },
            Action::RouteRefresh(r) => PeerEvent::RouteRefresh(r),
            Action::NotificationReceived(n) => PeerEvent::NotificationReceived(n),
            Action::Connect | Action::CloseConnection | Action::Send(_) => return,
        };
        self.events.push_back(ev);
    }
}

/// Run the send hold timer while output waits in Established; stop it otherwise.
pub(super) fn update_send_hold(c: &mut Conn, now: Duration, min: Duration) {
    if c.fsm.state() != State::Established || c.buffered() == 0 || c.id.is_none() {
        c.send_hold.stop();
    } else if !c.send_hold.running() {
        let hold = c.fsm.negotiated().map_or(Duration::ZERO, |n| {
            Duration::from_secs(u64::from(n.hold_time))
        });
        c.send_hold.start(now, min.max(hold.saturating_mul(2)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keepalive() -> Vec<u8> {
        let mut b = BytesMut::new();
        bgp_wire::encode_message(&Message::Keepalive, &DEFAULT_CTX, &mut b).unwrap();
        b.to_vec()
    }

    #[test]
    fn cut_waits_for_whole_messages_and_keeps_the_rest() {
        let ka = keepalive();
        let mut rbuf = BytesMut::new();
        for (i, b) in ka.iter().enumerate() {
            assert!(
                matches!(cut(&mut rbuf, &DEFAULT_CTX), Cut::Incomplete),
                "{i}"
            );
            rbuf.extend_from_slice(&[*b]);
        }
        rbuf.extend_from_slice(&ka[..5]);
        match cut(&mut rbuf, &DEFAULT_CTX) {
            Cut::Frame(f) => {
                assert_eq!(&f[..], &ka[..]);
                assert!(is_keepalive(&f));
            }
            _ => panic!("a whole KEEPALIVE"),
        }
        assert_eq!(&rbuf[..], &ka[..5]);
    }

    #[test]
    fn header_errors_clear_the_buffer() {
        let mut rbuf = BytesMut::from(&[0u8; 40][..]);
        match cut(&mut rbuf, &DEFAULT_CTX) {
            Cut::Error(Event::BgpHeaderErr(n)) => assert_eq!((n.code, n.subcode), (1, 1)),
            _ => panic!("1/1 expected"),
        }
        assert!(rbuf.is_empty());
    }

    #[test]
    fn only_a_bare_keepalive_is_one() {
        let mut ka = keepalive();
        assert!(is_keepalive(&ka));
        ka[18] = 2;
        assert!(!is_keepalive(&ka));
        assert!(!is_keepalive(&ka[..18]));
    }
}
