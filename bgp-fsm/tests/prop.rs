//! Property tests: arbitrary event sequences never panic, keep the machine consistent, and a
//! session never leaves Established without saying why.

use std::net::Ipv4Addr;
use std::time::Duration;

use bgp_fsm::{Action, Event, Fsm, SessionConfig, State, build_open};
use bgp_wire::message::RouteRefreshSubtype;
use bgp_wire::{AfiSafi, Capability, Notification, Open, RouteRefresh, Update, UpdateVerdict};
use proptest::prelude::*;

fn arb_open() -> impl Strategy<Value = Open> {
    (
        prop_oneof![Just(4u8), any::<u8>()],
        prop_oneof![Just(65002u16), any::<u16>()],
        prop_oneof![Just(90u16), 0u16..5, any::<u16>()],
        prop_oneof![Just([10u8, 0, 0, 2]), Just([0u8; 4]), any::<[u8; 4]>()],
        any::<bool>(),
    )
        .prop_map(|(version, my_as, hold_time, id, with_caps)| {
            let mut o = build_open(&SessionConfig::new(65002, 65001, Ipv4Addr::from(id)));
            o.version = version;
            o.my_as = my_as;
            o.hold_time = hold_time;
            if !with_caps {
                o.capabilities.clear();
            } else {
                o.capabilities.push(Capability::ExtendedMessage);
            }
            o
        })
}

fn arb_notification() -> impl Strategy<Value = Notification> {
    (0u8..8, 0u8..12).prop_map(|(c, s)| Notification::new(c, s))
}

fn arb_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        1 => Just(Event::ManualStart),
        1 => Just(Event::ManualStop),
        1 => Just(Event::AutomaticStart),
        1 => Just(Event::ManualStartPassive),
        1 => Just(Event::AutomaticStartPassive),
        1 => Just(Event::AutomaticStartDamp),
        1 => Just(Event::AutomaticStartDampPassive),
        1 => Just(Event::AutomaticStop),
        1 => Just(Event::ConnectRetryTimerExpires),
        1 => Just(Event::HoldTimerExpires),
        1 => Just(Event::KeepaliveTimerExpires),
        1 => Just(Event::DelayOpenTimerExpires),
        1 => Just(Event::IdleHoldTimerExpires),
        1 => Just(Event::TcpConnectionValid),
        1 => Just(Event::TcpCrInvalid),
        3 => Just(Event::TcpCrAcked),
        3 => Just(Event::TcpConnectionConfirmed),
        1 => Just(Event::TcpConnectionFails),
        4 => arb_open().prop_map(Event::BgpOpen),
        1 => arb_notification().prop_map(Event::BgpHeaderErr),
        1 => arb_notification().prop_map(Event::BgpOpenMsgErr),
        1 => Just(Event::OpenCollisionDump),
        1 => arb_notification().prop_map(Event::NotifMsgVerErr),
        1 => arb_notification().prop_map(Event::NotifMsg),
        4 => Just(Event::KeepAliveMsg),
        2 => Just(Event::UpdateMsg { update: Update::default(), verdict: UpdateVerdict::default() }),
        1 => arb_notification().prop_map(Event::UpdateMsgErr),
        1 => Just(Event::RouteRefreshMsg(RouteRefresh {
            af: AfiSafi::IPV4_UNICAST,
            subtype: RouteRefreshSubtype::Request
        })),
    ]
}

#[derive(Debug, Clone)]
enum Step {
    Event(Event),
    /// Let this many milliseconds pass and fire the timers.
    Wait(u64),
    SendUpdate,
    Shutdown,
}

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => arb_event().prop_map(Step::Event),
        3 => prop_oneof![0u64..2000, 0u64..300_000].prop_map(Step::Wait),
        1 => Just(Step::SendUpdate),
        1 => Just(Step::Shutdown),
    ]
}

fn arb_config() -> impl Strategy<Value = SessionConfig> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
        prop_oneof![Just(0u16), 3u16..200],
    )
        .prop_map(|(passive, delay, notif, seed, hold)| {
            let mut c = SessionConfig::new(65001, 65002, Ipv4Addr::new(10, 0, 0, 1));
            c.passive = passive;
            c.delay_open = delay.then_some(Duration::from_secs(2));
            c.send_notification_without_open = notif;
            c.jitter_seed = seed;
            c.hold_time = hold;
            c
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_sequences_keep_the_machine_consistent(
        cfg in arb_config(),
        steps in proptest::collection::vec(arb_step(), 1..80),
    ) {
        let mut f = Fsm::new(cfg);
        let mut now = Duration::ZERO;
        for step in steps {
            let before = f.state();
            match step {
                Step::Event(e) => f.handle_event(now, e),
                Step::Wait(ms) => {
                    now += Duration::from_millis(ms);
                    f.handle_timeout(now);
                    // No timer is left expired after handling the timeout.
                    prop_assert!(f.poll_timeout().is_none_or(|t| t > now));
                }
                Step::SendUpdate => {
                    let r = f.send_update(now, Update::default());
                    prop_assert_eq!(r.is_ok(), before == State::Established);
                }
                Step::Shutdown => f.shutdown(now, Some("bye")),
            }
            let actions = f.drain_actions();
            // State changes chain from the old state to the new one.
            let mut cur = before;
            let mut downs = 0;
            let mut ups = 0;
            let mut left_established = false;
            for a in &actions {
                match a {
                    Action::StateChanged { from, to } => {
                        prop_assert_eq!(*from, cur);
                        prop_assert_ne!(from, to);
                        if *from == State::Established {
                            left_established = true;
                        }
                        if *to == State::Established {
                            ups += 1;
                        }
                        cur = *to;
                    }
                    Action::SessionDown(_) => {
                        prop_assert_eq!(cur, State::Established, "down reported outside Established");
                        downs += 1;
                    }
                    Action::SessionUp(_) => {
                        prop_assert_eq!(cur, State::Established);
                    }
                    Action::Update { .. } | Action::RouteRefresh(_) => {
                        prop_assert_eq!(cur, State::Established);
                    }
                    _ => {}
                }
            }
            prop_assert_eq!(cur, f.state());
            // Leaving Established always comes with exactly one reason.
            prop_assert_eq!(downs, usize::from(left_established));
            prop_assert_eq!(
                actions.iter().filter(|a| matches!(a, Action::SessionUp(_))).count(),
                ups
            );
            if f.state() >= State::OpenConfirm {
                prop_assert!(f.negotiated().is_some());
            }
            if f.state() == State::Idle && before != State::Idle {
                prop_assert!(f.last_down().is_some());
            }
        }
    }
}
