#![no_main]
//! Drive the bgp-fsm core with arbitrary events, arbitrary received bytes (decoded with
//! bgp-wire under the session's negotiated context) and arbitrary time steps. Checks that
//! nothing panics and that the machine's reports stay consistent.

use std::net::Ipv4Addr;
use std::time::Duration;

use arbitrary::Arbitrary;
use bgp_fsm::{Action, Event, Fsm, SessionConfig, State, build_open};
use bgp_wire::Notification;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Op {
    Simple(u8),
    /// Raw bytes received on the connection.
    Bytes(Vec<u8>),
    /// A well-formed peer OPEN with some fields chosen.
    Open {
        hold: u16,
        id: [u8; 4],
        my_as: u16,
        good_as: bool,
    },
    Notif {
        code: u8,
        subcode: u8,
    },
    Wait(u32),
    SendUpdate,
    Shutdown(String),
}

#[derive(Debug, Arbitrary)]
struct Input {
    passive: bool,
    delay_open: bool,
    hold: u16,
    seed: u64,
    ops: Vec<Op>,
}

fn simple(n: u8) -> Event {
    match n % 18 {
        0 => Event::ManualStart,
        1 => Event::ManualStop,
        2 => Event::AutomaticStart,
        3 => Event::ManualStartPassive,
        4 => Event::AutomaticStartPassive,
        5 => Event::AutomaticStartDamp,
        6 => Event::AutomaticStartDampPassive,
        7 => Event::AutomaticStop,
        8 => Event::ConnectRetryTimerExpires,
        9 => Event::HoldTimerExpires,
        10 => Event::KeepaliveTimerExpires,
        11 => Event::DelayOpenTimerExpires,
        12 => Event::IdleHoldTimerExpires,
        13 => Event::TcpCrAcked,
        14 => Event::TcpConnectionConfirmed,
        15 => Event::TcpConnectionFails,
        16 => Event::OpenCollisionDump,
        _ => Event::KeepAliveMsg,
    }
}

fuzz_target!(|input: Input| {
    let mut cfg = SessionConfig::new(65001, 65002, Ipv4Addr::new(10, 0, 0, 1));
    cfg.passive = input.passive;
    cfg.delay_open = input.delay_open.then_some(Duration::from_secs(1));
    cfg.hold_time = input.hold;
    cfg.jitter_seed = input.seed;
    let mut f = Fsm::new(cfg);
    let mut now = Duration::ZERO;
    for op in input.ops.into_iter().take(256) {
        let before = f.state();
        match op {
            Op::Simple(n) => f.handle_event(now, simple(n)),
            Op::Bytes(b) => {
                let ctx = f
                    .negotiated()
                    .map(|n| n.context.clone())
                    .unwrap_or_default();
                let ev = match bgp_wire::decode_message(Bytes::from(b), &ctx) {
                    Ok(d) => Event::from_message(d.message, d.verdict),
                    Err(e) => Event::from_decode_error(&e),
                };
                f.handle_event(now, ev);
            }
            Op::Open {
                hold,
                id,
                my_as,
                good_as,
            } => {
                let mut o = build_open(&SessionConfig::new(65002, 65001, Ipv4Addr::from(id)));
                o.hold_time = hold;
                if !good_as {
                    o.my_as = my_as;
                }
                f.handle_event(now, Event::BgpOpen(o));
            }
            Op::Notif { code, subcode } => {
                f.handle_event(now, Event::NotifMsg(Notification::new(code, subcode)))
            }
            Op::Wait(ms) => {
                now += Duration::from_millis(u64::from(ms % 600_000));
                f.handle_timeout(now);
                assert!(f.poll_timeout().is_none_or(|t| t > now));
            }
            Op::SendUpdate => {
                let r = f.send_update(now, bgp_wire::Update::default());
                assert_eq!(r.is_ok(), before == State::Established);
            }
            Op::Shutdown(s) => f.shutdown(now, Some(&s)),
        }
        let mut cur = before;
        let mut left = false;
        let mut downs = 0usize;
        for a in f.drain_actions() {
            match a {
                Action::StateChanged { from, to } => {
                    assert_eq!(from, cur);
                    left |= from == State::Established;
                    cur = to;
                }
                Action::SessionDown(_) => downs += 1,
                _ => {}
            }
        }
        assert_eq!(cur, f.state());
        assert_eq!(downs, usize::from(left));
    }
});
