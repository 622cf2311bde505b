//! Table-driven: every (state, event) pair of RFC 4271 §8.2.2 with the next state and the
//! NOTIFICATION (if any) the machine sends.

use std::net::Ipv4Addr;
use std::time::Duration;

use bgp_fsm::{Action, Event, Fsm, SessionConfig, State, build_open};
use bgp_wire::message::{RouteRefreshSubtype, Update};
use bgp_wire::{AfiSafi, Message, Notification, RouteRefresh, UpdateVerdict};

const T: Duration = Duration::from_secs(1000);

fn cfg() -> SessionConfig {
    SessionConfig::new(65001, 65002, Ipv4Addr::new(10, 0, 0, 1))
}

fn peer_open() -> bgp_wire::Open {
    build_open(&SessionConfig::new(
        65002,
        65001,
        Ipv4Addr::new(10, 0, 0, 2),
    ))
}

fn hdr_err() -> Notification {
    Notification::new(1, 2)
}
fn open_err() -> Notification {
    Notification::new(2, 2)
}
fn upd_err() -> Notification {
    Notification::new(3, 1)
}

/// One instance of every event, numbered as in §8.1 (29 = ROUTE-REFRESH message).
fn events() -> Vec<Event> {
    vec![
        Event::ManualStart,
        Event::ManualStop,
        Event::AutomaticStart,
        Event::ManualStartPassive,
        Event::AutomaticStartPassive,
        Event::AutomaticStartDamp,
        Event::AutomaticStartDampPassive,
        Event::AutomaticStop,
        Event::ConnectRetryTimerExpires,
        Event::HoldTimerExpires,
        Event::KeepaliveTimerExpires,
        Event::DelayOpenTimerExpires,
        Event::IdleHoldTimerExpires,
        Event::TcpConnectionValid,
        Event::TcpCrInvalid,
        Event::TcpCrAcked,
        Event::TcpConnectionConfirmed,
        Event::TcpConnectionFails,
        Event::BgpOpen(peer_open()),
        Event::BgpHeaderErr(hdr_err()),
        Event::BgpOpenMsgErr(open_err()),
        Event::OpenCollisionDump,
        Event::NotifMsgVerErr(Notification::with_data(2, 1, vec![0, 4])),
        Event::NotifMsg(Notification::new(6, 2)),
        Event::KeepAliveMsg,
        Event::UpdateMsg {
            update: Update::default(),
            verdict: UpdateVerdict::default(),
        },
        Event::UpdateMsgErr(upd_err()),
        Event::RouteRefreshMsg(RouteRefresh {
            af: AfiSafi::IPV4_UNICAST,
            subtype: RouteRefreshSubtype::Request,
        }),
    ]
}

fn machine_in(state: State) -> Fsm {
    let mut f = Fsm::new(cfg());
    let t = Duration::ZERO;
    match state {
        State::Idle => {}
        State::Connect => f.handle_event(t, Event::ManualStart),
        State::Active => f.handle_event(t, Event::ManualStartPassive),
        State::OpenSent | State::OpenConfirm | State::Established => {
            f.handle_event(t, Event::ManualStart);
            f.handle_event(t, Event::TcpCrAcked);
            if state >= State::OpenConfirm {
                f.handle_event(t, Event::BgpOpen(peer_open()));
            }
            if state == State::Established {
                f.handle_event(t, Event::KeepAliveMsg);
            }
        }
    }
    assert_eq!(f.state(), state);
    f.drain_actions();
    f
}

/// (next state, NOTIFICATION code/subcode sent) for event number `n` (29 = ROUTE-REFRESH).
fn expected(state: State, n: u8) -> (State, Option<(u8, u8)>) {
    use State::*;
    match state {
        Idle => match n {
            1 | 3 | 6 => (Connect, None),
            4 | 5 | 7 => (Active, None),
            _ => (Idle, None),
        },
        Connect | Active => match n {
            1 | 3..=7 | 14 | 15 => (state, None),
            9 => (Connect, None),
            12 | 16 | 17 => (OpenSent, None),
            // 21/22: no NOTIFICATION before our OPEN (SendNOTIFICATIONwithoutOPEN is off).
            _ => (Idle, None),
        },
        OpenSent => match n {
            1 | 3..=7 | 14..=17 => (OpenSent, None),
            2 => (Idle, Some((6, 2))),
            8 => (Idle, Some((6, 0))),
            10 => (Idle, Some((4, 0))),
            18 => (Active, None),
            19 => (OpenConfirm, None),
            21 => (Idle, Some((1, 2))),
            22 => (Idle, Some((2, 2))),
            23 => (Idle, Some((6, 7))),
            24 => (Idle, None),
            // 9, 11, 12, 13, 25-28 and ROUTE-REFRESH: FSM error in OpenSent (RFC 6608).
            _ => (Idle, Some((5, 1))),
        },
        OpenConfirm => match n {
            1 | 3..=7 | 11 | 14..=17 => (OpenConfirm, None),
            2 => (Idle, Some((6, 2))),
            8 => (Idle, Some((6, 0))),
            10 => (Idle, Some((4, 0))),
            18 | 24 | 25 => (Idle, None),
            21 => (Idle, Some((1, 2))),
            22 => (Idle, Some((2, 2))),
            23 => (Idle, Some((6, 7))),
            26 => (Established, None),
            // 9, 12, 13, 19 (an OPEN on this same connection), 27, 28, ROUTE-REFRESH.
            _ => (Idle, Some((5, 2))),
        },
        Established => match n {
            1 | 3..=7 | 11 | 14..=17 | 26 | 27 | 29 => (Established, None),
            2 => (Idle, Some((6, 2))),
            8 => (Idle, Some((6, 0))),
            10 => (Idle, Some((4, 0))),
            18 | 24 | 25 => (Idle, None),
            21 => (Idle, Some((1, 2))),
            23 => (Idle, Some((6, 7))),
            28 => (Idle, Some((3, 1))),
            // 9, 12, 13, 19, 22: FSM error in Established.
            _ => (Idle, Some((5, 3))),
        },
    }
}

#[test]
fn every_state_event_pair() {
    let states = [
        State::Idle,
        State::Connect,
        State::Active,
        State::OpenSent,
        State::OpenConfirm,
        State::Established,
    ];
    let mut checked = 0;
    for state in states {
        for ev in events() {
            let n = ev.number();
            let mut f = machine_in(state);
            f.handle_event(T, ev.clone());
            let actions = f.drain_actions();
            let sent: Vec<(u8, u8)> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::Send(Message::Notification(n)) => Some((n.code, n.subcode)),
                    _ => None,
                })
                .collect();
            let (want_state, want_notif) = expected(state, n);
            assert_eq!(f.state(), want_state, "{state:?} + event {n} ({ev:?})");
            assert_eq!(
                sent,
                want_notif.into_iter().collect::<Vec<_>>(),
                "{state:?} + event {n}"
            );
            // Leaving a connected state always drops the connection; leaving Established
            // always says why.
            if want_state == State::Idle && state != State::Idle {
                assert!(
                    actions.contains(&Action::CloseConnection),
                    "{state:?} + {n}"
                );
                assert!(f.last_down().is_some());
            }
            let downs = actions
                .iter()
                .filter(|a| matches!(a, Action::SessionDown(_)))
                .count();
            let left_established = state == State::Established && want_state != State::Established;
            assert_eq!(downs, usize::from(left_established), "{state:?} + {n}");
            checked += 1;
        }
    }
    assert_eq!(checked, 6 * 28);
}

#[test]
fn specific_outputs() {
    // Connect + TCP up: OPEN sent, HoldTimer at the large value (4 min).
    let mut f = machine_in(State::Connect);
    f.handle_event(T, Event::TcpCrAcked);
    let a = f.drain_actions();
    assert!(
        a.iter()
            .any(|a| matches!(a, Action::Send(Message::Open(_))))
    );
    assert_eq!(f.poll_timeout(), Some(T + Duration::from_secs(240)));
    // ConnectRetry in Connect: drop and reconnect.
    let mut f = machine_in(State::Connect);
    f.handle_event(T, Event::ConnectRetryTimerExpires);
    assert_eq!(
        f.drain_actions(),
        vec![Action::CloseConnection, Action::Connect]
    );
    // Active + ConnectRetry: connect out, go to Connect.
    let mut f = machine_in(State::Active);
    f.handle_event(T, Event::ConnectRetryTimerExpires);
    assert!(f.drain_actions().contains(&Action::Connect));
    // OpenSent + OPEN: KEEPALIVE sent.
    let mut f = machine_in(State::OpenSent);
    f.handle_event(T, Event::BgpOpen(peer_open()));
    assert!(
        f.drain_actions()
            .contains(&Action::Send(Message::Keepalive))
    );
    // OpenSent + bad OPEN: its NOTIFICATION.
    let mut f = machine_in(State::OpenSent);
    let mut bad = peer_open();
    bad.hold_time = 2;
    f.handle_event(T, Event::BgpOpen(bad));
    assert!(
        f.drain_actions()
            .contains(&Action::Send(Message::Notification(Notification::new(
                2, 6
            ))))
    );
    // OpenConfirm/Established + KeepaliveTimer: a KEEPALIVE.
    for s in [State::OpenConfirm, State::Established] {
        let mut f = machine_in(s);
        f.handle_event(T, Event::KeepaliveTimerExpires);
        assert_eq!(f.drain_actions(), vec![Action::Send(Message::Keepalive)]);
    }
    // Established + UPDATE: delivered upward with its verdict.
    let mut f = machine_in(State::Established);
    f.handle_event(
        T,
        Event::UpdateMsg {
            update: Update::default(),
            verdict: UpdateVerdict::default(),
        },
    );
    assert!(matches!(f.drain_actions()[..], [Action::Update { .. }]));
    // A verdict that resets the session is Event 28 with its NOTIFICATION.
    let mut f = machine_in(State::Established);
    let verdict = UpdateVerdict {
        problems: vec![bgp_wire::error::UpdateProblem {
            action: bgp_wire::UpdateAction::SessionReset(Notification::new(3, 1)),
            attr_type: None,
            offset: 0,
            reason: "test",
            notification: Notification::new(3, 1),
        }],
        treat_as_withdraw: vec![],
    };
    f.handle_event(
        T,
        Event::UpdateMsg {
            update: Update::default(),
            verdict,
        },
    );
    assert_eq!(f.state(), State::Idle);
    assert!(
        f.drain_actions()
            .contains(&Action::Send(Message::Notification(Notification::new(
                3, 1
            ))))
    );
    // The counter: zeroed by ManualStop, incremented by errors.
    let mut f = machine_in(State::Established);
    f.handle_event(T, Event::HoldTimerExpires);
    assert_eq!(f.connect_retry_counter(), 1);
    let mut f = machine_in(State::Established);
    f.handle_event(T, Event::ManualStop);
    assert_eq!(f.connect_retry_counter(), 0);
    assert!(
        !f.idle_hold_running(),
        "no automatic restart after a manual stop"
    );
}

#[test]
fn delay_open_paths() {
    let mut c = cfg();
    c.delay_open = Some(Duration::from_secs(5));
    // Connect + TCP up: no OPEN yet, DelayOpenTimer runs.
    let mut f = Fsm::new(c.clone());
    f.handle_event(T, Event::ManualStart);
    f.handle_event(T, Event::TcpCrAcked);
    assert_eq!(f.state(), State::Connect);
    assert!(f.delay_open_running());
    assert!(
        !f.drain_actions()
            .iter()
            .any(|a| matches!(a, Action::Send(_)))
    );
    // Event 20: the peer's OPEN while delaying: OPEN + KEEPALIVE, OpenConfirm.
    let mut g = f.clone();
    g.handle_event(T, Event::BgpOpen(peer_open()));
    assert_eq!(g.state(), State::OpenConfirm);
    let sends: Vec<_> = g
        .drain_actions()
        .into_iter()
        .filter_map(|a| match a {
            Action::Send(m) => Some(m.message_type()),
            _ => None,
        })
        .collect();
    assert_eq!(
        sends,
        vec![
            bgp_wire::message::MessageType::Open,
            bgp_wire::message::MessageType::Keepalive
        ]
    );
    // DelayOpenTimer expiry: OPEN, OpenSent.
    let mut g = f.clone();
    g.handle_timeout(T + Duration::from_secs(5));
    assert_eq!(g.state(), State::OpenSent);
    // TCP fails while delaying in Connect: back to Active.
    let mut g = f.clone();
    g.handle_event(T, Event::TcpConnectionFails);
    assert_eq!(g.state(), State::Active);
    // Same in Active: DelayOpen after the peer connects.
    let mut f = Fsm::new(c.clone());
    f.handle_event(T, Event::ManualStartPassive);
    f.handle_event(T, Event::TcpConnectionConfirmed);
    assert_eq!(f.state(), State::Active);
    assert!(f.delay_open_running());
    // A bad OPEN while delaying: Idle, and with SendNOTIFICATIONwithoutOPEN its NOTIFICATION.
    let mut c2 = c;
    c2.send_notification_without_open = true;
    let mut f = Fsm::new(c2);
    f.handle_event(T, Event::ManualStartPassive);
    f.handle_event(T, Event::TcpConnectionConfirmed);
    let mut bad = peer_open();
    bad.my_as = 1;
    f.handle_event(T, Event::BgpOpen(bad));
    assert_eq!(f.state(), State::Idle);
    assert!(
        f.drain_actions()
            .contains(&Action::Send(Message::Notification(Notification::new(
                2, 2
            ))))
    );
}

#[test]
fn shutdown_communication() {
    let mut f = machine_in(State::Established);
    f.shutdown(T, Some("upgrade to 9.1, back in 10 min"));
    let a = f.drain_actions();
    let n = a
        .iter()
        .find_map(|a| match a {
            Action::Send(Message::Notification(n)) => Some(n.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!((n.code, n.subcode), (6, 2));
    assert_eq!(n.data[0] as usize, n.data.len() - 1);
    assert_eq!(
        bgp_fsm::shutdown_message(&n).as_deref(),
        Some("upgrade to 9.1, back in 10 min")
    );
    // Over-long text is cut to 255 octets at a character boundary.
    let long = "é".repeat(200);
    let n = bgp_fsm::shutdown_notification(Some(&long));
    assert_eq!(n.data[0], 254);
    assert_eq!(bgp_fsm::shutdown_message(&n).unwrap().chars().count(), 127);
    // Garbage lengths are not a message.
    let bad = Notification::with_data(6, 2, vec![10, b'a']);
    assert_eq!(bgp_fsm::shutdown_message(&bad), None);
}

#[test]
fn zero_retry_times_do_not_spin() {
    let mut c = cfg();
    c.connect_retry = Duration::ZERO;
    c.idle_hold_time = Duration::ZERO;
    let mut f = Fsm::new(c);
    f.handle_event(T, Event::ManualStart);
    // Connect retry is floored, so expiring timers move time forward.
    let d = f.poll_timeout().unwrap();
    assert!(d >= T + bgp_fsm::fsm::MIN_RETRY_TIME * 3 / 4, "{d:?}");
    f.handle_event(T, Event::TcpConnectionFails);
    assert_eq!(f.state(), State::Idle);
    let d = f.poll_timeout().unwrap();
    assert!(d >= T + bgp_fsm::fsm::MIN_RETRY_TIME * 3 / 4, "{d:?}");
}

#[test]
fn passive_sessions_never_connect_out() {
    let mut c = cfg();
    c.passive = true;
    let mut f = Fsm::new(c);
    f.handle_event(T, Event::ManualStartPassive);
    f.drain_actions();
    for i in 1..5u32 {
        let t = f.poll_timeout().unwrap();
        f.handle_timeout(t);
        assert_eq!(f.state(), State::Active, "expiry {i}");
        assert!(!f.drain_actions().contains(&Action::Connect));
    }
    // The peer connects: normal path.
    f.handle_event(T, Event::TcpConnectionConfirmed);
    assert_eq!(f.state(), State::OpenSent);
}
