//! RFC 4724 helper decisions with RFC 8538's N bit, on the sans-I/O state machine and a
//! virtual clock: which session ends keep a restarting peer's routes, and the Hard Reset we
//! send when the N bit was negotiated.

use std::net::Ipv4Addr;
use std::time::Duration;

use bgp_fsm::{
    Action, DownReason, Event, Fsm, GracefulRestartConfig, SessionConfig, State, build_open,
};
use bgp_wire::message::GracefulRestartFamily;
use bgp_wire::{AfiSafi, Message, Notification};

fn gr(notification: bool) -> GracefulRestartConfig {
    GracefulRestartConfig {
        restart_time: 120,
        restart_state: false,
        notification,
        families: vec![GracefulRestartFamily {
            af: AfiSafi::IPV4_UNICAST,
            forwarding_preserved: true,
        }],
    }
}

/// Our machine and the peer's OPEN, each advertising GR with or without the N bit; driven to
/// Established at t = 0 with hold time 9 s. Returns the machine and the negotiated N bit.
fn established(ours: bool, theirs: bool) -> (Fsm, bool) {
    let mut c = SessionConfig::new(65001, 65002, Ipv4Addr::new(10, 0, 0, 1));
    c.hold_time = 9;
    c.graceful_restart = Some(gr(ours));
    let mut p = SessionConfig::new(65002, 65001, Ipv4Addr::new(10, 0, 0, 2));
    p.hold_time = 9;
    p.graceful_restart = Some(gr(theirs));
    let mut f = Fsm::new(c);
    let t = Duration::ZERO;
    f.handle_event(t, Event::ManualStart);
    f.handle_event(t, Event::TcpCrAcked);
    f.handle_event(t, Event::BgpOpen(build_open(&p)));
    f.handle_event(t, Event::KeepAliveMsg);
    assert_eq!(f.state(), State::Established);
    let mut n = None;
    for a in f.drain_actions() {
        if let Action::SessionUp(neg) = a {
            n = Some(neg.graceful_notification);
        }
    }
    (f, n.expect("SessionUp"))
}

fn down_and_sent(f: &mut Fsm) -> (DownReason, Vec<Notification>) {
    let mut reason = None;
    let mut sent = Vec::new();
    for a in f.drain_actions() {
        match a {
            Action::SessionDown(r) => reason = Some(r),
            Action::Send(Message::Notification(n)) => sent.push(n),
            _ => {}
        }
    }
    (reason.expect("SessionDown"), sent)
}

#[test]
fn n_bit_needs_both_sides() {
    assert!(established(true, true).1);
    assert!(!established(true, false).1);
    assert!(!established(false, true).1);
}

#[test]
fn hold_timer_expiry_keeps_stale_routes_only_with_the_n_bit() {
    for (ours, theirs, keep) in [
        (true, true, true),
        (true, false, false),
        (false, false, false),
    ] {
        let (mut f, n) = established(ours, theirs);
        // Nine virtual seconds without a message from the peer.
        f.handle_timeout(Duration::from_secs(8));
        assert_eq!(f.state(), State::Established);
        f.handle_timeout(Duration::from_secs(9));
        assert_eq!(f.state(), State::Idle);
        let (reason, sent) = down_and_sent(&mut f);
        assert_eq!(reason, DownReason::HoldTimerExpired);
        assert_eq!(sent, vec![Notification::new(4, 0)], "4/0 is never wrapped");
        assert_eq!(reason.keeps_stale_routes(n), keep, "N bit {ours}/{theirs}");
    }
}

#[test]
fn received_notification_keeps_stale_routes_unless_hard_reset() {
    for (n_bits, notif, keep) in [
        (true, Notification::new(6, 4), true),
        (false, Notification::new(6, 4), false),
        (
            true,
            Notification::hard_reset(&Notification::new(6, 4)),
            false,
        ),
    ] {
        let (mut f, n) = established(n_bits, n_bits);
        f.handle_event(Duration::from_secs(1), Event::NotifMsg(notif.clone()));
        let (reason, _) = down_and_sent(&mut f);
        assert_eq!(reason, DownReason::NotificationReceived(notif));
        assert_eq!(reason.keeps_stale_routes(n), keep);
    }
}

#[test]
fn shutdown_is_sent_as_hard_reset_when_the_n_bit_was_negotiated() {
    let (mut f, _) = established(true, true);
    f.shutdown(Duration::from_secs(1), None);
    let (reason, sent) = down_and_sent(&mut f);
    assert!(matches!(reason, DownReason::ManualStop(_)));
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].code, sent[0].subcode), (6, 9));
    assert_eq!(sent[0].hard_reset_inner(), Some(Notification::new(6, 2)));
    // max-prefix likewise.
    let (mut f, _) = established(true, true);
    let cease = Notification::new(6, 1);
    f.automatic_stop_with(Duration::from_secs(1), cease.clone());
    let (_, sent) = down_and_sent(&mut f);
    assert_eq!(sent[0].hard_reset_inner(), Some(cease));
    // Administrative Reset stays graceful; without the N bit nothing is wrapped.
    let (mut f, _) = established(true, true);
    f.automatic_stop_with(Duration::from_secs(1), Notification::new(6, 4));
    assert_eq!(down_and_sent(&mut f).1, vec![Notification::new(6, 4)]);
    let (mut f, _) = established(true, false);
    f.shutdown(Duration::from_secs(1), None);
    assert_eq!(down_and_sent(&mut f).1, vec![Notification::new(6, 2)]);
}
