#![no_main]
//! Drive a sans-I/O `bgp_fsm::Peer` (framing, negotiated context, collisions, send hold timer,
//! flow control, and the state machines under it) with arbitrary connection events, arbitrary
//! received byte streams cut anywhere, well-formed OPENs and KEEPALIVEs to get far, write
//! progress, application calls and time steps. Checks that nothing panics, that timers always
//! lie in the future after they fired, that every transmitted chunk is whole messages, and that
//! the reported state changes end where the peer is.

use std::net::Ipv4Addr;
use std::time::Duration;

use arbitrary::Arbitrary;
use bgp_fsm::peer::{ConnId, IoAction, Limits, Peer, PeerEvent};
use bgp_fsm::{SessionConfig, State, build_open};
use bgp_wire::{AfiSafi, Message, Notification, SessionContext};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Op {
    /// Our connection attempt succeeded.
    Connected,
    /// Our connection attempt failed.
    ConnectFailed,
    /// The peer connected to us.
    Accept,
    /// Raw bytes received on a connection.
    Bytes {
        conn: u8,
        data: Vec<u8>,
    },
    /// A well-formed OPEN of the peer with some fields chosen, split at `cut`.
    Open {
        conn: u8,
        hold: u16,
        id: [u8; 4],
        my_as: u16,
        good_as: bool,
        cut: u8,
        /// The peer's BGP Role capability (RFC 9234), raw value.
        role: Option<u8>,
    },
    Keepalive {
        conn: u8,
    },
    Notif {
        conn: u8,
        code: u8,
        subcode: u8,
    },
    Closed {
        conn: u8,
    },
    /// The socket took `n` octets of what was handed out.
    Transmitted {
        conn: u8,
        n: u16,
    },
    Wait(u32),
    SendUpdate,
    RouteRefresh,
    /// Whether the application takes its events.
    TakeEvents(bool),
    Shutdown(String),
    AutomaticStop,
}

#[derive(Debug, Arbitrary)]
struct Input {
    passive: bool,
    delay_open: bool,
    hold: u16,
    seed: u64,
    event_limit: u8,
    held_input: u16,
    send_buffer: u16,
    /// Our role (raw RFC 9234 value), strict mode, minimum hold time, GR with the N bit.
    role: Option<u8>,
    strict_role: bool,
    min_hold: u16,
    gr_notification: Option<bool>,
    ops: Vec<Op>,
}

fn role(v: u8) -> bgp_wire::message::BgpRole {
    use bgp_wire::message::BgpRole::*;
    match v {
        0 => Provider,
        1 => RouteServer,
        2 => RouteServerClient,
        3 => Customer,
        4 => Peer,
        x => Other(x),
    }
}

fn encode(m: &Message) -> Vec<u8> {
    let mut b = BytesMut::new();
    let ctx = SessionContext::default();
    let _ = bgp_wire::encode_message(m, &ctx, &mut b);
    b.to_vec()
}

fuzz_target!(|input: Input| {
    let mut cfg = SessionConfig::new(65001, 65002, Ipv4Addr::new(10, 0, 0, 1));
    cfg.passive = input.passive;
    cfg.delay_open = input.delay_open.then_some(Duration::from_secs(1));
    cfg.hold_time = input.hold;
    cfg.jitter_seed = input.seed;
    cfg.role = input.role.map(role);
    cfg.strict_role = input.strict_role;
    cfg.min_hold_time = input.min_hold;
    cfg.graceful_restart = input
        .gr_notification
        .map(|n| bgp_fsm::GracefulRestartConfig {
            restart_time: 120,
            restart_state: false,
            notification: n,
            families: Vec::new(),
        });
    let limits = Limits {
        events: usize::from(input.event_limit),
        held_input: usize::from(input.held_input),
        send_buffer: usize::from(input.send_buffer),
        send_hold_time: Duration::from_secs(480),
    };
    let mut p = Peer::new(cfg, limits);
    let mut now = Duration::ZERO;
    // Connections the peer knows, with the octets handed out and not yet written.
    let mut conns: Vec<(ConnId, usize)> = Vec::new();
    let mut take_events = true;
    let mut last_state = State::Idle;
    // Any extended-length message is whole too; this context frames everything we may send.
    let frame_ctx = SessionContext {
        extended_message: true,
        ..Default::default()
    };
    p.start(now);
    for op in input.ops.into_iter().take(256) {
        let pick = |c: u8, conns: &Vec<(ConnId, usize)>| {
            (!conns.is_empty()).then(|| conns[usize::from(c) % conns.len()].0)
        };
        match op {
            Op::Connected => {
                if let Some(id) = p.handle_connected(now) {
                    conns.push((id, 0));
                }
            }
            Op::ConnectFailed => p.handle_connect_failed(now),
            Op::Accept => {
                let id = p.handle_accepted(now);
                conns.push((id, 0));
            }
            Op::Bytes { conn, data } => {
                if let Some(id) = pick(conn, &conns) {
                    p.handle_input(now, id, &data);
                }
            }
            Op::Open {
                conn,
                hold,
                id,
                my_as,
                good_as,
                cut,
                role: peer_role,
            } => {
                if let Some(c) = pick(conn, &conns) {
                    let mut pc = SessionConfig::new(65002, 65001, Ipv4Addr::from(id));
                    pc.role = peer_role.map(role);
                    pc.graceful_restart =
                        input
                            .gr_notification
                            .map(|_| bgp_fsm::GracefulRestartConfig {
                                restart_time: 90,
                                restart_state: true,
                                notification: true,
                                families: Vec::new(),
                            });
                    let mut o = build_open(&pc);
                    o.hold_time = hold;
                    if !good_as {
                        o.my_as = my_as;
                    }
                    let b = encode(&Message::Open(o));
                    let (x, y) = b.split_at(usize::from(cut).min(b.len()));
                    p.handle_input(now, c, x);
                    p.handle_input(now, c, y);
                }
            }
            Op::Keepalive { conn } => {
                if let Some(c) = pick(conn, &conns) {
                    p.handle_input(now, c, &encode(&Message::Keepalive));
                }
            }
            Op::Notif {
                conn,
                code,
                subcode,
            } => {
                if let Some(c) = pick(conn, &conns) {
                    let m = Message::Notification(Notification::new(code, subcode));
                    p.handle_input(now, c, &encode(&m));
                }
            }
            Op::Closed { conn } => {
                if let Some(c) = pick(conn, &conns) {
                    conns.retain(|(i, _)| *i != c);
                    p.handle_closed(now, c);
                }
            }
            Op::Transmitted { conn, n } => {
                if !conns.is_empty() {
                    let k = usize::from(conn) % conns.len();
                    let n = usize::from(n).min(conns[k].1);
                    conns[k].1 -= n;
                    p.handle_transmitted(now, conns[k].0, n);
                }
            }
            Op::Wait(ms) => {
                now += Duration::from_millis(u64::from(ms % 600_000));
                p.handle_timeout(now);
                assert!(p.poll_timeout().is_none_or(|t| t > now));
            }
            Op::SendUpdate => {
                let before = p.state();
                let r = p.send_update(now, bgp_wire::Update::default());
                if before != State::Established {
                    assert!(r.is_err());
                }
            }
            Op::RouteRefresh => {
                let _ = p.send_route_refresh(now, AfiSafi::IPV4_UNICAST);
            }
            Op::TakeEvents(t) => {
                take_events = t;
                p.resume(now);
            }
            Op::Shutdown(s) => p.shutdown(now, Some(&s)),
            Op::AutomaticStop => p.automatic_stop(now, Notification::new(6, 1)),
        }
        while let Some((id, bytes)) = p.poll_transmit() {
            // Whole messages only.
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let len = bgp_wire::frame_len(rest, &frame_ctx)
                    .expect("valid header")
                    .expect("whole header");
                assert!(len <= rest.len(), "partial message handed out");
                rest = &rest[len..];
            }
            if let Some(c) = conns.iter_mut().find(|(i, _)| *i == id) {
                c.1 += bytes.len();
            }
        }
        while let Some(a) = p.poll_io() {
            if let IoAction::Close(id) = a {
                conns.retain(|(i, _)| *i != id);
            }
        }
        if take_events {
            while let Some(e) = p.poll_event() {
                if let PeerEvent::StateChanged { to, .. } = e {
                    last_state = to;
                }
            }
            p.resume(now);
            // Once every event is taken, the reported state is the peer's.
            if p.pending_events() == 0 {
                assert_eq!(last_state, p.state());
            }
        }
        assert!(conns.len() <= 2, "{} connections", conns.len());
    }
});
