//! Tests of the session state machine against RFC 5880 §6.8, on a virtual clock.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::time::Duration;

use proptest::prelude::*;

use crate::auth::{AuthError, AuthKey, AuthType};
use crate::packet::{AuthSection, ControlPacket, Diag, EchoPacket, State};
use crate::session::{Event, RxError, SLOW_TX_US, Session, SessionConfig};

const MS: Duration = Duration::from_millis(1);
const OURS: u32 = 7;
const THEIRS: u32 = 0xAA;

fn cfg() -> SessionConfig {
    SessionConfig::new(100 * MS, 100 * MS, 3)
}

fn new_session() -> Session {
    Session::new(cfg(), NonZeroU32::new(OURS).unwrap(), Duration::ZERO)
}

fn pkt(state: State) -> ControlPacket {
    let your = if matches!(state, State::Down | State::AdminDown) {
        0
    } else {
        OURS
    };
    let mut p = ControlPacket::new(state, Diag::None, THEIRS, your);
    p.desired_min_tx = 100_000;
    p.required_min_rx = 100_000;
    p
}

fn session_in(state: State) -> Session {
    let mut s = new_session();
    match state {
        State::Down => {}
        State::Init => s.handle_packet(Duration::ZERO, &pkt(State::Down)).unwrap(),
        State::Up => {
            s.handle_packet(Duration::ZERO, &pkt(State::Down)).unwrap();
            s.handle_packet(Duration::ZERO, &pkt(State::Up)).unwrap();
        }
        State::AdminDown => s.set_admin_down(true),
    }
    assert_eq!(s.state(), state);
    while s.poll_event().is_some() {}
    s
}

/// RFC 5880 §6.8.6, the state table: (local state, received state) -> (new local state,
/// bfd.LocalDiag, whether a StateChange event is reported).
#[test]
fn section_6_8_6_state_table() {
    use State::*;
    let d3 = Diag::NeighborSignaledSessionDown;
    let rows = [
        (Down, AdminDown, Down, Diag::None, false),
        (Down, Down, Init, Diag::None, true),
        (Down, Init, Up, Diag::None, true),
        (Down, Up, Down, Diag::None, false),
        (Init, AdminDown, Down, d3, true),
        (Init, Down, Init, Diag::None, false),
        (Init, Init, Up, Diag::None, true),
        (Init, Up, Up, Diag::None, true),
        (Up, AdminDown, Down, d3, true),
        (Up, Down, Down, d3, true),
        (Up, Init, Up, Diag::None, false),
        (Up, Up, Up, Diag::None, false),
        (
            AdminDown,
            AdminDown,
            AdminDown,
            Diag::AdministrativelyDown,
            false,
        ),
        (
            AdminDown,
            Down,
            AdminDown,
            Diag::AdministrativelyDown,
            false,
        ),
        (
            AdminDown,
            Init,
            AdminDown,
            Diag::AdministrativelyDown,
            false,
        ),
        (AdminDown, Up, AdminDown, Diag::AdministrativelyDown, false),
    ];
    for (local, rx, want, diag, event) in rows {
        let mut s = session_in(local);
        let r = s.handle_packet(10 * MS, &pkt(rx));
        assert_eq!(r.is_err(), local == AdminDown, "{local:?} + {rx:?}: {r:?}");
        assert_eq!(s.state(), want, "{local:?} + {rx:?}");
        assert_eq!(s.local_diag(), diag, "{local:?} + {rx:?}");
        let ev = s.poll_event();
        assert_eq!(
            matches!(ev, Some(Event::StateChange { .. })),
            event,
            "{local:?} + {rx:?}: {ev:?}"
        );
        // The remote variables are updated even when the packet is then discarded.
        assert_eq!(s.remote_disc(), THEIRS);
        assert_eq!(s.remote_state(), rx);
        if event {
            // A state change goes out at once.
            let p = s.poll_transmit(10 * MS).expect("state change sent at once");
            assert_eq!(p.state, want);
            assert_eq!(p.diag, diag);
            assert_eq!(p.your_disc, THEIRS);
            assert_eq!(p.my_disc, OURS);
        }
    }
}

/// §6.8.6: the session-level discards (A bit without authentication, a discriminator that
/// is not ours) leave every variable alone.
#[test]
fn session_level_discards() {
    let mut s = session_in(State::Init);
    let mut p = pkt(State::Up);
    p.auth = Some(AuthSection {
        auth_type: 1,
        data: bytes::Bytes::from_static(b"\x01key"),
    });
    assert_eq!(
        s.handle_packet(MS, &p),
        Err(RxError::Auth(AuthError::NotInUse))
    );
    let mut p = pkt(State::Up);
    p.your_disc = 99;
    assert_eq!(
        s.handle_packet(MS, &p),
        Err(RxError::WrongDiscriminator {
            got: 99,
            ours: OURS
        })
    );
    assert_eq!(s.state(), State::Init);
}

fn periodic_gaps(s: &mut Session, from: Duration, n: usize) -> Vec<Duration> {
    let mut now = from;
    let mut last = None;
    let mut gaps = Vec::new();
    while gaps.len() < n {
        if s.poll_transmit(now).is_some() {
            if let Some(l) = last {
                gaps.push(now - l);
            }
            last = Some(now);
        }
        now += MS;
    }
    gaps
}

/// §6.8.3: at least one second between packets while not Up, the configured 100 ms once Up;
/// §6.8.7: 75-100 % jitter.
#[test]
fn slow_rate_until_up_then_configured_rate_with_jitter() {
    let mut s = new_session();
    // The remote side asks for 10 ms; still one second while Down.
    let mut p = pkt(State::AdminDown);
    p.required_min_rx = 10_000;
    s.handle_packet(Duration::ZERO, &p).unwrap();
    for g in periodic_gaps(&mut s, Duration::ZERO, 10) {
        assert!(g >= 750 * MS && g <= 1000 * MS, "{g:?}");
    }
    let mut s = session_in(State::Up);
    assert_eq!(s.tx_interval(), 100 * MS);
    let gaps = periodic_gaps(&mut s, 20 * MS, 400);
    assert!(gaps.iter().all(|g| *g >= 75 * MS && *g <= 100 * MS));
    assert!(gaps.iter().any(|g| *g <= 78 * MS) && gaps.iter().any(|g| *g >= 97 * MS));
    // With a Detect Mult of 1, at most 90 %.
    let mut c = cfg();
    c.detect_mult = 1;
    let mut s = Session::new(c, NonZeroU32::new(OURS).unwrap(), Duration::ZERO);
    s.handle_packet(Duration::ZERO, &pkt(State::Init)).unwrap();
    let gaps = periodic_gaps(&mut s, 20 * MS, 200);
    assert!(
        gaps.iter().all(|g| *g >= 75 * MS && *g <= 90 * MS),
        "{gaps:?}"
    );
}

/// A caller that sends up to 5 ms late gets jitter of 75-95 % at 100 ms, so its packets
/// still leave within 75-100 %; a slack beyond 25 % leaves the interval at 75 %.
#[test]
fn tx_slack_lowers_the_top_of_the_jitter_range() {
    let mut s = session_in(State::Up);
    s.set_tx_slack(5 * MS);
    let gaps = periodic_gaps(&mut s, 20 * MS, 400);
    assert!(
        gaps.iter().all(|g| *g >= 75 * MS && *g <= 95 * MS),
        "{gaps:?}"
    );
    assert!(gaps.iter().any(|g| *g >= 93 * MS));
    s.set_tx_slack(60 * MS);
    let gaps = periodic_gaps(&mut s, 100_000 * MS, 50);
    assert!(gaps.iter().all(|g| *g == 75 * MS), "{gaps:?}");
}

/// The transmit interval is the larger of ours and the remote Required Min RX (§6.8.7).
#[test]
fn remote_min_rx_governs_the_interval() {
    let mut s = session_in(State::Up);
    let mut p = pkt(State::Up);
    p.required_min_rx = 500_000;
    s.handle_packet(MS, &p).unwrap();
    assert_eq!(s.tx_interval(), 500 * MS);
    // Zero: no periodic packets at all, but a Poll is still answered.
    p.required_min_rx = 0;
    s.handle_packet(MS, &p).unwrap();
    assert!(periodic_gaps_none(&mut s));
    p.poll = true;
    s.handle_packet(5000 * MS, &p).unwrap();
    assert!(s.poll_transmit(5000 * MS).unwrap().final_);
}

fn periodic_gaps_none(s: &mut Session) -> bool {
    (0..5000).all(|i| s.poll_transmit(i * MS).is_none())
}

/// §6.8.7: the remote side in Demand mode with both Up stops our periodic packets.
#[test]
fn remote_demand_mode_stops_periodic_packets() {
    let mut s = session_in(State::Up);
    let mut p = pkt(State::Up);
    p.demand = true;
    s.handle_packet(MS, &p).unwrap();
    assert!(periodic_gaps_none(&mut s));
}

/// Detection Time (§6.8.4) = remote Detect Mult x max(our Required Min RX, remote Desired
/// Min TX); expiry in Up -> Down with diag 1 and bfd.RemoteDiscr reset (§6.8.1).
#[test]
fn detection_time_expiry() {
    let mut s = session_in(State::Up);
    let mut p = pkt(State::Up);
    p.detect_mult = 5;
    p.desired_min_tx = 150_000;
    s.handle_packet(100 * MS, &p).unwrap();
    assert_eq!(s.detection_time(), Some(750 * MS));
    s.handle_timeout(849 * MS);
    assert_eq!(s.state(), State::Up);
    assert!(s.poll_timeout().unwrap() <= 850 * MS);
    s.handle_timeout(850 * MS);
    assert_eq!(s.state(), State::Down);
    assert_eq!(s.local_diag(), Diag::ControlDetectionTimeExpired);
    assert_eq!(s.remote_disc(), 0);
    let p = s.poll_transmit(850 * MS).unwrap();
    assert_eq!(
        (p.state, p.diag, p.your_disc),
        (State::Down, Diag::ControlDetectionTimeExpired, 0)
    );
    // Back to the slow rate.
    assert_eq!(p.desired_min_tx, SLOW_TX_US);
    // Init also times out.
    let mut s = session_in(State::Init);
    s.handle_timeout(Duration::from_secs(10));
    assert_eq!(s.state(), State::Down);
}

/// §6.5, §6.8.3: coming Up lowers the desired TX interval from one second and starts a Poll
/// Sequence; every packet carries P until a Final arrives.
#[test]
fn poll_sequence_on_coming_up() {
    let mut s = session_in(State::Init);
    s.handle_packet(MS, &pkt(State::Up)).unwrap();
    assert!(s.poll_active());
    let first = s.poll_transmit(MS).unwrap();
    assert!(first.poll && !first.final_);
    assert_eq!(first.desired_min_tx, 100_000);
    let again = s.poll_transmit(200 * MS).unwrap();
    assert!(again.poll);
    let mut f = pkt(State::Up);
    f.final_ = true;
    s.handle_packet(210 * MS, &f).unwrap();
    assert!(!s.poll_active());
    let events: Vec<Event> = std::iter::from_fn(|| s.poll_event()).collect();
    assert_eq!(
        events,
        vec![
            Event::StateChange {
                from: State::Init,
                to: State::Up,
                diag: Diag::None,
                remote: State::Up
            },
            Event::PollSequenceDone
        ]
    );
    assert!(!s.poll_transmit(400 * MS).unwrap().poll);
}

/// §6.8.6: a Poll is answered at once with F set and P clear, whatever the periodic timer.
#[test]
fn poll_is_answered_with_final_at_once() {
    let mut s = session_in(State::Up);
    let _ = s.poll_transmit(MS);
    // Our own Poll Sequence is active (we just came Up), yet the answer carries F only.
    assert!(s.poll_active());
    let mut p = pkt(State::Up);
    p.poll = true;
    s.handle_packet(2 * MS, &p).unwrap();
    assert_eq!(s.poll_timeout(), Some(Duration::ZERO));
    let f = s.poll_transmit(2 * MS).unwrap();
    assert!(f.final_ && !f.poll);
}

/// §6.8.3: while Up, a larger TX interval and a smaller RX interval wait for the Final; a
/// change made during a sequence starts another one after it.
#[test]
fn parameter_change_defers_until_final() {
    let mut s = session_in(State::Up);
    let mut f = pkt(State::Up);
    f.final_ = true;
    s.handle_packet(MS, &f).unwrap(); // end the coming-Up sequence
    assert!(!s.poll_active());
    assert_eq!(s.detection_time(), Some(300 * MS));

    s.set_parameters(2 * MS, 300 * MS, 50 * MS, 3);
    assert!(s.poll_active());
    // Not yet: still 100 ms and still 3 x 100 ms.
    assert_eq!(s.tx_interval(), 100 * MS);
    s.handle_packet(3 * MS, &pkt(State::Up)).unwrap();
    assert_eq!(s.detection_time(), Some(300 * MS));
    let p = s.poll_transmit(200 * MS).unwrap();
    assert!(p.poll);
    assert_eq!((p.desired_min_tx, p.required_min_rx), (300_000, 50_000));
    // A second change while the first runs.
    s.set_parameters(201 * MS, 300 * MS, 60 * MS, 3);
    s.handle_packet(210 * MS, &f).unwrap();
    assert_eq!(s.tx_interval(), 300 * MS);
    assert_eq!(s.detection_time(), Some(300 * MS)); // max(60, remote 100) x 3
    assert!(s.poll_active(), "the second change is polled too");
    s.handle_packet(220 * MS, &f).unwrap();
    assert!(!s.poll_active());
    assert_eq!(s.state(), State::Up);

    // A smaller TX interval applies at once.
    s.set_parameters(230 * MS, 50 * MS, 60 * MS, 3);
    assert_eq!(s.tx_interval(), 100 * MS); // the remote asks for 100
}

/// Passive role (§6.1): silent until the remote side is heard.
#[test]
fn passive_session_waits() {
    let mut c = cfg();
    c.passive = true;
    let mut s = Session::new(c, NonZeroU32::new(OURS).unwrap(), Duration::ZERO);
    assert!(periodic_gaps_none(&mut s));
    s.handle_packet(5000 * MS, &pkt(State::Down)).unwrap();
    assert_eq!(s.poll_transmit(5000 * MS).unwrap().state, State::Init);
}

/// §6.8.16: AdminDown sends diag 7 and does not react to packets; leaving it goes to Down.
#[test]
fn admin_down_and_back() {
    let mut s = session_in(State::Up);
    s.set_admin_down(true);
    let p = s.poll_transmit(MS).unwrap();
    assert_eq!(
        (p.state, p.diag),
        (State::AdminDown, Diag::AdministrativelyDown)
    );
    assert!(s.handle_packet(2 * MS, &pkt(State::Up)).is_err());
    s.handle_timeout(Duration::from_secs(100));
    assert_eq!(s.state(), State::AdminDown);
    s.set_admin_down(false);
    assert_eq!(s.state(), State::Down);
    s.handle_packet(3 * MS, &pkt(State::Init)).unwrap();
    assert_eq!(s.state(), State::Up);
}

fn pump(from: &mut Session, to: &mut Session, now: Duration, drop: bool) {
    while let Some(p) = from.poll_transmit(now) {
        let wire = p.to_bytes().unwrap();
        if !drop {
            let _ = to.handle_packet(now, &ControlPacket::decode(&wire).unwrap());
        }
    }
    from.handle_timeout(now);
}

/// Two sessions on a virtual clock: Up, a parameter change without a flap, then one side
/// falls silent and the other goes Down within the Detection Time.
#[test]
fn two_sessions_end_to_end() {
    let mut a = new_session();
    let mut b = Session::new(cfg(), NonZeroU32::new(THEIRS).unwrap(), Duration::ZERO);
    let mut now = Duration::ZERO;
    while now < Duration::from_secs(3) {
        pump(&mut a, &mut b, now, false);
        pump(&mut b, &mut a, now, false);
        now += MS;
    }
    assert_eq!((a.state(), b.state()), (State::Up, State::Up));
    assert!(!a.poll_active() && !b.poll_active());
    while a.poll_event().is_some() {}
    a.set_parameters(now, 200 * MS, 200 * MS, 4);
    let end = now + Duration::from_secs(2);
    while now < end {
        pump(&mut a, &mut b, now, false);
        pump(&mut b, &mut a, now, false);
        now += MS;
    }
    assert!(!a.poll_active());
    assert_eq!(a.poll_event(), Some(Event::PollSequenceDone));
    assert_eq!(a.poll_event(), None, "no flap");
    assert_eq!(b.detection_time(), Some(800 * MS));
    assert_eq!(a.tx_interval(), 200 * MS);
    // b falls silent.
    let silent_at = now;
    while a.state() == State::Up {
        pump(&mut a, &mut b, now, false);
        pump(&mut b, &mut a, now, true);
        now += MS;
    }
    let took = now - silent_at;
    // Detection Time is 3 x 200 ms from b's last packet, which was at most 200 ms earlier.
    assert!(took <= 601 * MS && took >= 400 * MS, "{took:?}");
    assert_eq!(a.local_diag(), Diag::ControlDetectionTimeExpired);
}

fn keyed(kind: AuthType, secret: &[u8]) -> SessionConfig {
    let mut c = cfg();
    c.auth = Some(AuthKey::new(kind, 5, secret).unwrap());
    c
}

/// Run both sessions for `secs` seconds of virtual time, every packet through the wire.
fn run(a: &mut Session, b: &mut Session, now: &mut Duration, secs: u64) {
    let end = *now + Duration::from_secs(secs);
    while *now < end {
        pump(a, b, *now, false);
        pump(b, a, *now, false);
        *now += MS;
    }
}

/// §6.7: every type brings two sessions with the same key Up and keeps them Up through a
/// parameter change; a meticulous key numbers each packet, a keyed one moves once a
/// second; the A bit is set in everything sent.
#[test]
fn authenticated_sessions_come_up_with_each_type() {
    for kind in AuthType::ALL {
        let mut a = Session::new(
            keyed(kind, b"s3cret"),
            NonZeroU32::new(OURS).unwrap(),
            Duration::ZERO,
        );
        let mut b = Session::new(
            keyed(kind, b"s3cret"),
            NonZeroU32::new(THEIRS).unwrap(),
            Duration::ZERO,
        );
        let mut now = Duration::ZERO;
        run(&mut a, &mut b, &mut now, 3);
        assert_eq!((a.state(), b.state()), (State::Up, State::Up), "{kind:?}");
        while a.poll_event().is_some() {}
        a.set_parameters(now, 200 * MS, 200 * MS, 3);
        run(&mut a, &mut b, &mut now, 2);
        assert_eq!(a.poll_event(), Some(Event::PollSequenceDone), "{kind:?}");
        assert_eq!(a.poll_event(), None, "{kind:?}: no flap");
        // Sequence numbers of consecutive packets.
        let mut seqs = Vec::new();
        let end = now + Duration::from_secs(2);
        while now < end {
            while let Some(p) = a.poll_transmit(now) {
                let sec = p.auth.clone().expect("A bit");
                assert_eq!(sec.auth_type, kind.code());
                if kind != AuthType::SimplePassword {
                    seqs.push(u32::from_be_bytes(sec.data[2..6].try_into().unwrap()));
                }
            }
            now += MS;
        }
        if kind.meticulous() {
            assert!(
                seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
                "{kind:?} {seqs:?}"
            );
        } else if kind != AuthType::SimplePassword {
            let moves = seqs.windows(2).filter(|w| w[0] != w[1]).count();
            assert!((1..=2).contains(&moves), "{kind:?}: {moves} moves in 2 s");
        }
    }
}

/// §6.8.6: a session with a key discards packets without the A bit or with another key,
/// and one without a key discards signed packets: neither pair ever comes Up.
#[test]
fn mismatched_authentication_never_comes_up() {
    let pairs = [
        (keyed(AuthType::KeyedSha1, b"one"), cfg()),
        (
            keyed(AuthType::KeyedSha1, b"one"),
            keyed(AuthType::KeyedSha1, b"two"),
        ),
        (
            keyed(AuthType::KeyedSha1, b"one"),
            keyed(AuthType::MeticulousKeyedSha1, b"one"),
        ),
        (
            keyed(AuthType::SimplePassword, b"one"),
            keyed(AuthType::SimplePassword, b"onE"),
        ),
    ];
    for (ca, cb) in pairs {
        let mut a = Session::new(ca.clone(), NonZeroU32::new(OURS).unwrap(), Duration::ZERO);
        let mut b = Session::new(cb.clone(), NonZeroU32::new(THEIRS).unwrap(), Duration::ZERO);
        let mut now = Duration::ZERO;
        run(&mut a, &mut b, &mut now, 5);
        assert_eq!(
            (a.state(), b.state()),
            (State::Down, State::Down),
            "{ca:?} / {cb:?}"
        );
        assert_eq!(
            (a.remote_disc(), b.remote_disc()),
            (0, 0),
            "nothing was accepted"
        );
    }
}

/// A key rollover without a flap: each side first accepts the new key, then signs with
/// it, then drops the old one; a packet signed with a key that is neither signing nor
/// accepted is discarded, by Key ID.
#[test]
fn key_rollover_keeps_the_session_up() {
    let kind = AuthType::MeticulousKeyedSha1;
    let old = AuthKey::new(kind, 1, b"old-key").unwrap();
    let new = AuthKey::new(kind, 2, b"new-key").unwrap();
    let mut ca = cfg();
    ca.auth = Some(old.clone());
    let mut a = Session::new(ca.clone(), NonZeroU32::new(OURS).unwrap(), Duration::ZERO);
    let mut b = Session::new(ca, NonZeroU32::new(THEIRS).unwrap(), Duration::ZERO);
    let mut now = Duration::ZERO;
    run(&mut a, &mut b, &mut now, 3);
    assert_eq!((a.state(), b.state()), (State::Up, State::Up));
    while a.poll_event().is_some() {}
    while b.poll_event().is_some() {}
    // Step 1: a signs with the new key before b knows it: b discards a's packets by
    // Key ID, and a's session is the one b would lose.
    let mut probe = a.clone();
    probe.set_auth(Some(new.clone()), vec![old.clone()]);
    let p = loop {
        if let Some(p) = probe.poll_transmit(now) {
            break ControlPacket::decode(&p.to_bytes().unwrap()).unwrap();
        }
        now += MS;
    };
    assert_eq!(
        b.clone().handle_packet(now, &p),
        Err(RxError::Auth(AuthError::WrongKeyId(2)))
    );
    // The proper order: both accept the new key, then both sign with it (one after the
    // other, a second apart), then both drop the old one.
    a.set_auth(Some(old.clone()), vec![new.clone()]);
    b.set_auth(Some(old.clone()), vec![new.clone()]);
    run(&mut a, &mut b, &mut now, 1);
    a.set_auth(Some(new.clone()), vec![old.clone()]);
    run(&mut a, &mut b, &mut now, 1);
    b.set_auth(Some(new.clone()), vec![old.clone()]);
    run(&mut a, &mut b, &mut now, 1);
    a.set_auth(Some(new.clone()), vec![]);
    b.set_auth(Some(new.clone()), vec![]);
    run(&mut a, &mut b, &mut now, 2);
    assert_eq!((a.state(), b.state()), (State::Up, State::Up));
    assert_eq!((a.poll_event(), b.poll_event()), (None, None), "no flap");
    let sent = loop {
        if let Some(p) = a.poll_transmit(now) {
            break p;
        }
        now += MS;
    };
    assert_eq!(sent.auth.unwrap().data[0], 2, "signed with the new Key ID");
    // The old key is no longer accepted.
    let mut stale = a.clone();
    stale.set_auth(Some(old), vec![]);
    let q = loop {
        if let Some(p) = stale.poll_transmit(now) {
            break ControlPacket::decode(&p.to_bytes().unwrap()).unwrap();
        }
        now += MS;
    };
    assert_eq!(
        b.handle_packet(now, &q),
        Err(RxError::Auth(AuthError::WrongKeyId(1)))
    );
}

/// §6.7.3: a replayed meticulous packet is discarded and changes nothing; after twice the
/// Detection Time without an authenticated packet, any sequence number is taken again.
#[test]
fn replay_is_discarded_and_the_sequence_is_relearnt() {
    let c = keyed(AuthType::MeticulousKeyedMd5, b"k");
    let mut a = Session::new(c.clone(), NonZeroU32::new(OURS).unwrap(), Duration::ZERO);
    let mut b = Session::new(c, NonZeroU32::new(THEIRS).unwrap(), Duration::ZERO);
    let mut now = Duration::ZERO;
    run(&mut a, &mut b, &mut now, 3);
    assert_eq!(a.state(), State::Up);
    // Capture one of b's packets, deliver it, then replay it.
    let p = loop {
        if let Some(p) = b.poll_transmit(now) {
            break p;
        }
        now += MS;
    };
    let wire = ControlPacket::decode(&p.to_bytes().unwrap()).unwrap();
    assert_eq!(a.handle_packet(now, &wire), Ok(()));
    let accepted_at = now;
    assert!(matches!(
        a.handle_packet(now, &wire),
        Err(RxError::Auth(AuthError::Sequence { .. }))
    ));
    // A packet far ahead in sequence is refused while the sequence is known...
    let mut far = b.clone();
    far.xmit_auth_seq_for_tests(1 << 20);
    let mut q = None;
    while q.is_none() {
        now += MS;
        q = far.poll_transmit(now);
    }
    let q = ControlPacket::decode(&q.unwrap().to_bytes().unwrap()).unwrap();
    assert!(matches!(
        a.handle_packet(now, &q),
        Err(RxError::Auth(AuthError::Sequence { .. }))
    ));
    // ...still just before twice the Detection Time (2 x 3 x 100 ms) of silence...
    now = accepted_at + 590 * MS;
    a.handle_timeout(now);
    assert!(matches!(
        a.handle_packet(now, &q),
        Err(RxError::Auth(AuthError::Sequence { .. }))
    ));
    // ...and taken once it has passed.
    now = accepted_at + 600 * MS;
    a.handle_timeout(now);
    assert_eq!(a.handle_packet(now, &q), Ok(()));
}

proptest! {
    /// Arbitrary packets at arbitrary times never panic and keep the invariants: P and F
    /// never together, a nonzero My Discriminator, the one-second floor while not Up.
    #[test]
    fn arbitrary_input_keeps_invariants(
        ops in proptest::collection::vec((any::<[u8; 24]>(), 0u64..3000, any::<u8>()), 0..200)
    ) {
        let mut s = new_session();
        let mut now = Duration::ZERO;
        for (raw, step, op) in ops {
            now += Duration::from_millis(step);
            match op % 8 {
                0 => s.set_admin_down(op & 0x80 != 0),
                1 => s.set_parameters(now, Duration::from_micros(u64::from(op) * 997),
                    Duration::from_micros(u64::from(op) * 1013), op >> 5),
                _ => {
                    let mut raw = raw;
                    raw[0] = (raw[0] & 0x1f) | 0x20;
                    raw[3] = 24;
                    if op & 1 == 0 { raw[8..12].copy_from_slice(&OURS.to_be_bytes()); }
                    if let Ok(p) = ControlPacket::decode(&bytes::Bytes::copy_from_slice(&raw)) {
                        let _ = s.handle_packet(now, &p);
                    }
                }
            }
            s.handle_timeout(now);
            while let Some(p) = s.poll_transmit(now) {
                prop_assert!(!(p.poll && p.final_));
                prop_assert_eq!(p.my_disc, OURS);
                if p.state != State::Up {
                    prop_assert!(p.desired_min_tx >= SLOW_TX_US);
                }
                prop_assert!(p.to_bytes().is_ok());
            }
            if let Some(t) = s.poll_timeout() {
                prop_assert!(t == Duration::ZERO || t + Duration::from_secs(10_000) > now);
            }
        }
    }
}

/// Sessions a (ours, running Echo at `a_echo`) and b (inviting Echo packets at `b_rx`).
fn echo_pair(a_echo: Option<Duration>, b_rx: Duration) -> (Session, Session) {
    let mut ca = cfg();
    ca.echo_tx = a_echo;
    let mut cb = cfg();
    cb.required_min_echo_rx = b_rx;
    (
        Session::new(ca, NonZeroU32::new(OURS).unwrap(), Duration::ZERO),
        Session::new(cb, NonZeroU32::new(THEIRS).unwrap(), Duration::ZERO),
    )
}

/// §6.4, §6.8.9: the Echo function runs only while Up and while the peer advertises a
/// nonzero Required Min Echo RX Interval, never faster than that; looped packets keep
/// the session Up; when they stop coming back (the peer forwards no more, its control
/// packets still flowing) the session goes Down with diagnostic 2 within Detect Mult
/// intervals.
#[test]
fn echo_function_runs_and_detects_a_broken_loop() {
    let (mut a, mut b) = echo_pair(Some(20 * MS), 50 * MS);
    let mut now = Duration::ZERO;
    let mut sent = Vec::new();
    let mut in_flight: VecDeque<(Duration, EchoPacket)> = VecDeque::new();
    // The loop through b: each Echo packet comes back 1 ms later while `looping`.
    let step = |a: &mut Session,
                b: &mut Session,
                now: Duration,
                looping: bool,
                sent: &mut Vec<Duration>,
                in_flight: &mut VecDeque<(Duration, EchoPacket)>| {
        pump(a, b, now, false);
        pump(b, a, now, false);
        while let Some(e) = a.poll_echo(now) {
            assert_eq!(a.state(), State::Up, "Echo only while Up");
            a.echo_sent(now);
            sent.push(now);
            if looping {
                in_flight.push_back((now + MS, e));
            }
        }
        while in_flight.front().is_some_and(|(t, _)| *t <= now) {
            let (_, e) = in_flight.pop_front().unwrap();
            let wire = e.encode();
            assert_eq!(
                a.handle_echo(now, &EchoPacket::decode(&wire).unwrap()),
                Ok(())
            );
        }
        a.handle_timeout(now);
    };
    while now < Duration::from_secs(3) {
        step(&mut a, &mut b, now, true, &mut sent, &mut in_flight);
        now += MS;
    }
    assert_eq!((a.state(), b.state()), (State::Up, State::Up));
    assert!(a.echo_active());
    // b asks for 50 ms at least: our 20 ms is raised to that.
    assert_eq!(a.echo_interval(), 50 * MS);
    let gaps: Vec<Duration> = sent.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|g| *g >= 50 * MS), "{gaps:?}");
    assert!(sent.len() >= 30, "{} Echo packets", sent.len());
    // b advertises a Required Min Echo RX Interval only; it never runs Echo itself.
    assert_eq!(b.poll_echo(now), None);
    // A packet we did not send (another discriminator, or an old sequence number).
    let bogus = EchoPacket { disc: OURS, seq: 1 };
    assert!(matches!(
        a.handle_echo(now, &bogus),
        Err(RxError::UnexpectedEcho(1))
    ));
    while a.poll_event().is_some() {}
    // The loop breaks; control packets go on. Down within 3 x 50 ms, diagnostic 2.
    let broke = now;
    while a.state() == State::Up {
        step(&mut a, &mut b, now, false, &mut sent, &mut in_flight);
        now += MS;
        assert!(now - broke <= 200 * MS, "still Up");
    }
    assert!(now - broke >= 100 * MS, "{:?}", now - broke);
    assert_eq!(a.local_diag(), Diag::EchoFunctionFailed);
    assert!(!a.echo_active());
    assert!(matches!(
        a.poll_event(),
        Some(Event::StateChange {
            from: State::Up,
            to: State::Down,
            diag: Diag::EchoFunctionFailed,
            ..
        })
    ));
}

/// Echo packets that never leave (the caller could not send them) arm no deadline: the
/// session stays Up on its Control packets.
#[test]
fn echo_that_never_left_does_not_fail() {
    let (mut a, mut b) = echo_pair(Some(20 * MS), 20 * MS);
    let mut now = Duration::ZERO;
    let mut polled = 0;
    while now < Duration::from_secs(4) {
        pump(&mut a, &mut b, now, false);
        pump(&mut b, &mut a, now, false);
        while a.poll_echo(now).is_some() {
            polled += 1;
        }
        now += MS;
    }
    assert!(polled > 50, "{polled}");
    assert_eq!(a.state(), State::Up);
    assert!(a.echo_active());
}

/// Without the peer's consent (Required Min Echo RX Interval zero), or without our own
/// `echo_tx`, no Echo packet is ever sent; ours advertises what is configured.
#[test]
fn echo_needs_both_sides() {
    for (a_echo, b_rx) in [(Some(20 * MS), Duration::ZERO), (None, 50 * MS)] {
        let (mut a, mut b) = echo_pair(a_echo, b_rx);
        let mut now = Duration::ZERO;
        let mut advertised = 0;
        while now < Duration::from_secs(3) {
            pump(&mut a, &mut b, now, false);
            while let Some(p) = b.poll_transmit(now) {
                advertised = p.required_min_echo_rx;
                let _ = a.handle_packet(now, &p);
            }
            assert_eq!(a.poll_echo(now), None);
            now += MS;
        }
        assert_eq!(a.state(), State::Up);
        assert_eq!(advertised, b_rx.as_micros() as u32);
    }
}

proptest! {
    /// Echo payloads round-trip, and arbitrary bytes never panic the decoder.
    #[test]
    fn echo_payload_round_trip(disc in 1u32.., seq: u32, junk: Vec<u8>) {
        let e = EchoPacket { disc, seq };
        prop_assert_eq!(EchoPacket::decode(&e.encode()), Some(e));
        let _ = EchoPacket::decode(&junk);
    }
}
