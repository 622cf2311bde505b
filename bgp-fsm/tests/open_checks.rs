//! OPEN checks beyond RFC 4271 on the sans-I/O state machine with a virtual clock: BGP Role
//! (RFC 9234) and the minimum hold time.

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
