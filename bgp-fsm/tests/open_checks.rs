//! OPEN checks beyond RFC 4271 on the sans-I/O state machine with a virtual clock: BGP Role
//! (RFC 9234) and the minimum hold time (`SessionConfig::min_hold_time`).

use std::net::Ipv4Addr;
use std::time::Duration;

use bgp_fsm::{Action, DownReason, Event, Fsm, SessionConfig, State, build_open};
use bgp_wire::message::BgpRole;
use bgp_wire::{Message, Notification};

const T: Duration = Duration::from_secs(5);

fn ours() -> SessionConfig {
    SessionConfig::new(65001, 65002, Ipv4Addr::new(10, 0, 0, 1))
}
fn theirs() -> SessionConfig {
    SessionConfig::new(65002, 65001, Ipv4Addr::new(10, 0, 0, 2))
}

/// Drive our machine to OpenSent and give it the peer's OPEN; the state it lands in, the
/// NOTIFICATIONs it sent and the negotiated peer role, if it got that far.
fn exchange(ours: SessionConfig, theirs: &SessionConfig) -> (State, Vec<Notification>, Fsm) {
    let mut f = Fsm::new(ours);
    f.handle_event(Duration::ZERO, Event::ManualStart);
    f.handle_event(Duration::ZERO, Event::TcpCrAcked);
    assert_eq!(f.state(), State::OpenSent);
    f.drain_actions();
    f.handle_event(T, Event::BgpOpen(build_open(theirs)));
    let sent = f
        .drain_actions()
        .into_iter()
        .filter_map(|a| match a {
            Action::Send(Message::Notification(n)) => Some(n),
            _ => None,
        })
        .collect();
    (f.state(), sent, f)
}

#[test]
fn role_mismatch_is_refused_with_2_11() {
    let mut a = ours();
    a.role = Some(BgpRole::Customer);
    let mut b = theirs();
    b.role = Some(BgpRole::Customer);
    let (state, sent, f) = exchange(a.clone(), &b);
    assert_eq!(state, State::Idle);
    assert_eq!(sent, vec![Notification::new(2, 11)]);
    assert_eq!(
        f.last_down(),
        Some(&DownReason::NotificationSent(Notification::new(2, 11)))
    );
    // The right pair comes up, and the peer's role is reported.
    b.role = Some(BgpRole::Provider);
    let (state, sent, f) = exchange(a.clone(), &b);
    assert_eq!(state, State::OpenConfirm);
    assert!(sent.is_empty());
    assert_eq!(f.negotiated().unwrap().peer_role, Some(BgpRole::Provider));
    // We send our role.
    assert!(
        build_open(&a)
            .capabilities
            .contains(&bgp_wire::Capability::Role(BgpRole::Customer))
    );
}

#[test]
fn strict_role_refuses_a_peer_without_role() {
    let mut a = ours();
    a.role = Some(BgpRole::Peer);
    let (state, _, _) = exchange(a.clone(), &theirs());
    assert_eq!(state, State::OpenConfirm, "not strict: accepted");
    a.strict_role = true;
    let (state, sent, _) = exchange(a, &theirs());
    assert_eq!(state, State::Idle);
    assert_eq!(sent, vec![Notification::new(2, 11)]);
}

#[test]
fn minimum_hold_time_refuses_zero_and_lower_values_with_2_6() {
    for (min, peer_hold, ok) in [
        (0, 0, true),
        (0, 3, true),
        (10, 0, false),
        (10, 9, false),
        (10, 10, true),
        (10, 90, true),
    ] {
        let mut a = ours();
        a.min_hold_time = min;
        let mut b = theirs();
        b.hold_time = peer_hold;
        let (state, sent, f) = exchange(a, &b);
        if ok {
            assert_eq!(state, State::OpenConfirm, "min {min} hold {peer_hold}");
            assert_eq!(f.negotiated().unwrap().hold_time, peer_hold.min(90));
        } else {
            assert_eq!(state, State::Idle, "min {min} hold {peer_hold}");
            assert_eq!(sent, vec![Notification::new(2, 6)]);
        }
    }
}

/// With a minimum of 9 s, a session at 9 s runs for virtual hours on keepalives.
#[test]
fn session_at_the_minimum_hold_time_stays_up() {
    let mut a = ours();
    a.min_hold_time = 9;
    a.hold_time = 9;
    let mut b = theirs();
    b.hold_time = 9;
    let (state, _, mut f) = exchange(a, &b);
    assert_eq!(state, State::OpenConfirm);
    f.handle_event(T, Event::KeepAliveMsg);
    assert_eq!(f.state(), State::Established);
    let mut now = T;
    for _ in 0..2000 {
        now += Duration::from_secs(3);
        f.handle_timeout(now);
        f.handle_event(now, Event::KeepAliveMsg);
    }
    assert_eq!(f.state(), State::Established);
    // And the hold timer still fires when the peer goes quiet.
    f.handle_timeout(now + Duration::from_secs(9));
    assert_eq!(f.state(), State::Idle);
}
