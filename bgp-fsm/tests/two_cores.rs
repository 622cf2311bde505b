//! Two state machines talking to each other in memory on a virtual clock. Messages go
//! through bgp-wire's encoder and decoder.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::Duration;

use bgp_fsm::collision::{self, Direction, Keep};
use bgp_fsm::{Action, DownReason, Event, Fsm, SessionConfig, State};
use bgp_wire::{AfiSafi, Capability, Message, Notification, SessionContext};
use bytes::BytesMut;

fn wire(msg: &Message, ctx: &SessionContext) -> Event {
    let mut b = BytesMut::new();
    bgp_wire::encode_message(msg, ctx, &mut b).unwrap();
    match bgp_wire::decode_message(b.freeze(), ctx) {
        Ok(d) => Event::from_message(d.message, d.verdict),
        Err(e) => Event::from_decode_error(&e),
    }
}

fn ctx_of(f: &Fsm) -> SessionContext {
    f.negotiated()
        .map(|n| n.context.clone())
        .unwrap_or_default()
}

/// Everything one side did, with times.
#[derive(Default)]
struct Log {
    actions: Vec<(Duration, Action)>,
}

impl Log {
    fn sent_notifications(&self) -> Vec<Notification> {
        self.actions
            .iter()
            .filter_map(|(_, a)| match a {
                Action::Send(Message::Notification(n)) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }
    fn count(&self, f: impl Fn(&Action) -> bool) -> usize {
        self.actions.iter().filter(|(_, a)| f(a)).count()
    }
}

/// Two machines and one possible TCP connection between them.
struct Net {
    now: Duration,
    m: [Fsm; 2],
    log: [Log; 2],
    connected: bool,
    /// Side that is frozen (delivers and processes nothing).
    frozen: Option<usize>,
    /// Side whose TCP port refuses connections.
    refuse: [bool; 2],
    queue: VecDeque<(usize, Event)>,
}

impl Net {
    fn new(a: SessionConfig, b: SessionConfig) -> Self {
        Net {
            now: Duration::ZERO,
            m: [Fsm::new(a), Fsm::new(b)],
            log: [Log::default(), Log::default()],
            connected: false,
            frozen: None,
            refuse: [false, false],
            queue: VecDeque::new(),
        }
    }

    fn event(&mut self, side: usize, ev: Event) {
        self.queue.push_back((side, ev));
        self.settle();
    }

    fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut progressed = false;
            if let Some((side, ev)) = self.queue.pop_front() {
                if self.frozen != Some(side) {
                    self.m[side].handle_event(self.now, ev);
                }
                progressed = true;
            }
            for side in 0..2 {
                if self.frozen == Some(side) {
                    continue;
                }
                while let Some(a) = self.m[side].poll_action() {
                    progressed = true;
                    self.carry_out(side, &a);
                    self.log[side].actions.push((self.now, a));
                }
            }
            if !progressed {
                return;
            }
        }
        panic!("no quiescence");
    }

    fn carry_out(&mut self, side: usize, a: &Action) {
        let other = 1 - side;
        match a {
            Action::Connect => {
                let st = self.m[other].state();
                let listening = !self.refuse[other] && matches!(st, State::Active | State::Connect);
                if listening && !self.connected {
                    self.connected = true;
                    self.queue.push_back((side, Event::TcpCrAcked));
                    self.queue.push_back((other, Event::TcpConnectionConfirmed));
                } else if !self.connected {
                    self.queue.push_back((side, Event::TcpConnectionFails));
                }
            }
            Action::CloseConnection if self.connected => {
                self.connected = false;
                self.queue.push_back((other, Event::TcpConnectionFails));
            }
            Action::Send(msg) if self.connected && self.frozen != Some(other) => {
                let ev = wire(msg, &ctx_of(&self.m[side]));
                self.queue.push_back((other, ev));
            }
            _ => {}
        }
    }

    /// Advance virtual time to `until`, firing timers as they come.
    fn run_until(&mut self, until: Duration) {
        loop {
            let next = (0..2)
                .filter(|s| self.frozen != Some(*s))
                .filter_map(|s| self.m[s].poll_timeout())
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    for s in 0..2 {
                        if self.frozen != Some(s) {
                            self.m[s].handle_timeout(self.now);
                        }
                    }
                    self.settle();
                }
                _ => {
                    self.now = until;
                    return;
                }
            }
        }
    }
}

fn cfg_a() -> SessionConfig {
    let mut c = SessionConfig::new(64512, 64512, Ipv4Addr::new(192, 168, 1, 10));
    c.hold_time = 9;
    c
}
fn cfg_b() -> SessionConfig {
    let mut c = SessionConfig::new(64512, 64512, Ipv4Addr::new(192, 168, 1, 1));
    c.hold_time = 9;
    c
}

fn established_pair() -> Net {
    let mut n = Net::new(cfg_a(), cfg_b());
    n.event(1, Event::ManualStartPassive);
    n.event(0, Event::ManualStart);
    assert_eq!(n.m[0].state(), State::Established);
    assert_eq!(n.m[1].state(), State::Established);
    n
}

#[test]
fn establishment() {
    let n = established_pair();
    for s in 0..2 {
        assert_eq!(n.log[s].count(|a| matches!(a, Action::SessionUp(_))), 1);
        let neg = n.m[s].negotiated().unwrap();
        assert_eq!(neg.hold_time, 9);
        assert_eq!(neg.keepalive, 3);
    }
    assert_eq!(
        n.m[0].negotiated().unwrap().peer_router_id,
        Ipv4Addr::new(192, 168, 1, 1)
    );
    // The passive side went Idle -> Active -> OpenSent -> OpenConfirm -> Established.
    let states: Vec<State> = n.log[1]
        .actions
        .iter()
        .filter_map(|(_, a)| match a {
            Action::StateChanged { to, .. } => Some(*to),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        vec![
            State::Active,
            State::OpenSent,
            State::OpenConfirm,
            State::Established
        ]
    );
}

#[test]
fn keepalives_keep_the_session_up_for_hours() {
    let mut n = established_pair();
    let hours = Duration::from_secs(5 * 3600);
    n.run_until(hours);
    for s in 0..2 {
        assert_eq!(n.m[s].state(), State::Established);
        assert_eq!(n.log[s].count(|a| matches!(a, Action::SessionDown(_))), 0);
        let ka = n.log[s].count(|a| matches!(a, Action::Send(Message::Keepalive)));
        // Keepalive every 3 s with jitter 0.75-1.0: between 6000 and 8000 in 5 hours.
        assert!((6000..=8001).contains(&ka), "side {s}: {ka} keepalives");
    }
}

#[test]
fn hold_timer_expiry_sends_4_0() {
    let mut n = established_pair();
    let frozen_at = n.now;
    n.frozen = Some(1);
    n.run_until(frozen_at + Duration::from_secs(20));
    assert_eq!(n.m[0].state(), State::Idle);
    let (t, _) = n.log[0]
        .actions
        .iter()
        .find(|(_, a)| matches!(a, Action::SessionDown(DownReason::HoldTimerExpired)))
        .expect("SessionDown(HoldTimerExpired)");
    // The last KEEPALIVE from the peer came at most one keepalive interval before the freeze.
    let after = *t - frozen_at;
    assert!(
        after <= Duration::from_secs(9) && after >= Duration::from_secs(6),
        "{after:?}"
    );
    assert_eq!(n.log[0].sent_notifications(), vec![Notification::new(4, 0)]);
}

#[test]
fn capability_mismatch_is_2_7() {
    let mut a = cfg_a();
    a.required_capabilities = vec![Capability::Multiprotocol(AfiSafi::IPV6_UNICAST)];
    let mut n = Net::new(a, cfg_b());
    n.event(1, Event::ManualStartPassive);
    n.event(0, Event::ManualStart);
    let sent = n.log[0].sent_notifications();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].code, sent[0].subcode), (2, 7));
    assert_eq!(&sent[0].data[..], &[1, 4, 0, 2, 0, 1]);
    // The peer heard it and went Idle with that reason.
    assert_eq!(
        n.m[1].last_down(),
        Some(&DownReason::NotificationReceived(sent[0].clone()))
    );
    assert!(
        n.log
            .iter()
            .all(|l| l.count(|a| matches!(a, Action::SessionUp(_))) == 0)
    );
}

#[test]
fn delay_open_waits_for_the_peer_or_the_timer() {
    // Only B delays: A's OPEN arrives during B's delay and B answers at once (Event 20).
    let mut b = cfg_b();
    b.delay_open = Some(Duration::from_secs(5));
    let mut n = Net::new(cfg_a(), b.clone());
    n.event(1, Event::ManualStartPassive);
    n.event(0, Event::ManualStart);
    assert_eq!(n.m[1].state(), State::Established);
    assert_eq!(n.now, Duration::ZERO);
    // Both delay: nothing is sent until a DelayOpenTimer expires.
    let mut a = cfg_a();
    a.delay_open = Some(Duration::from_secs(3));
    let mut n = Net::new(a, b);
    n.event(1, Event::ManualStartPassive);
    n.event(0, Event::ManualStart);
    assert_eq!(n.m[0].state(), State::Connect);
    assert!(n.m[0].delay_open_running() && n.m[1].delay_open_running());
    assert_eq!(n.log[0].count(|a| matches!(a, Action::Send(_))), 0);
    n.run_until(Duration::from_millis(2999));
    assert_ne!(n.m[0].state(), State::Established);
    n.run_until(Duration::from_secs(3));
    assert_eq!(n.m[0].state(), State::Established);
    assert_eq!(n.m[1].state(), State::Established);
}

#[test]
fn idle_hold_backs_off_exponentially() {
    let mut a = cfg_a();
    a.connect_retry = Duration::from_secs(30);
    a.idle_hold_time = Duration::from_secs(1);
    a.idle_hold_max = Duration::from_secs(16);
    let mut n = Net::new(a, cfg_b());
    n.refuse[1] = true;
    n.event(0, Event::ManualStart);
    n.run_until(Duration::from_secs(120));
    let connects: Vec<Duration> = n.log[0]
        .actions
        .iter()
        .filter(|(_, a)| matches!(a, Action::Connect))
        .map(|(t, _)| *t)
        .collect();
    let gaps: Vec<f64> = connects
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    // 1, 2, 4, 8, 16, 16, ... each times a jitter in [0.75, 1].
    let want = [1.0, 2.0, 4.0, 8.0, 16.0, 16.0];
    assert!(gaps.len() >= want.len(), "{gaps:?}");
    for (g, w) in gaps.iter().zip(want) {
        assert!(*g >= 0.75 * w - 1e-9 && *g <= w + 1e-9, "gaps {gaps:?}");
    }
    // A manual start resets the damping.
    n.refuse[1] = false;
    n.event(1, Event::ManualStartPassive);
    n.event(0, Event::ManualStop);
    n.event(0, Event::ManualStart);
    assert_eq!(n.m[0].state(), State::Established);
}

#[test]
fn peer_notification_and_reconnect() {
    let mut n = established_pair();
    n.m[1] = Fsm::new(cfg_b());
    n.event(1, Event::ManualStartPassive);
    // B was restarted: A's old connection is gone; A sees it fail and reconnects on its own.
    n.connected = false;
    n.event(0, Event::TcpConnectionFails);
    assert_eq!(n.m[0].state(), State::Idle);
    assert_eq!(
        n.log[0].actions.last().map(|(_, a)| a.clone()),
        Some(Action::StateChanged {
            from: State::Established,
            to: State::Idle
        })
    );
    n.run_until(n.now + Duration::from_secs(2));
    assert_eq!(n.m[0].state(), State::Established);
    assert_eq!(n.log[0].count(|a| matches!(a, Action::SessionUp(_))), 2);
}

/// Both sides connect at the same time: two TCP connections, four state machines. The driver's
/// rule (collision::resolve once a remote BGP Identifier is known) must keep the same TCP
/// connection on both sides and dump the other with Cease 6/7.
#[test]
fn collision_with_both_sides_active() {
    for (ida, idb) in [
        ([10, 0, 0, 1], [10, 0, 0, 2]),
        ([10, 0, 0, 9], [10, 0, 0, 2]),
    ] {
        let mut ca = cfg_a();
        ca.router_id = Ipv4Addr::from(ida);
        let mut cb = cfg_b();
        cb.router_id = Ipv4Addr::from(idb);
        // Connection X: A -> B (A's outgoing, B's incoming); connection Y: B -> A.
        // Index: [A_out(X), B_in(X), B_out(Y), A_in(Y)].
        let mut m = [
            Fsm::new(ca.clone()),
            Fsm::new(cb.clone()),
            Fsm::new(cb.clone()),
            Fsm::new(ca.clone()),
        ];
        let peer_of = [1usize, 0, 3, 2];
        let t = Duration::ZERO;
        m[0].handle_event(t, Event::ManualStart);
        m[2].handle_event(t, Event::ManualStart);
        m[1].handle_event(t, Event::ManualStartPassive);
        m[3].handle_event(t, Event::ManualStartPassive);
        m[0].handle_event(t, Event::TcpCrAcked);
        m[2].handle_event(t, Event::TcpCrAcked);
        m[1].handle_event(t, Event::TcpConnectionConfirmed);
        m[3].handle_event(t, Event::TcpConnectionConfirmed);
        let mut dumped = [false; 4];
        // One message at a time; after each, each side resolves its pair like the driver does
        // (existing = its outgoing connection).
        for _step in 0..200 {
            let mut moved = false;
            'deliver: for i in 0..4 {
                while let Some(a) = m[i].poll_action() {
                    if let Action::Send(msg) = a {
                        let ev = wire(&msg, &SessionContext::default());
                        let p = peer_of[i];
                        if !dumped[p] {
                            m[p].handle_event(t, ev);
                        }
                        moved = true;
                        break 'deliver;
                    }
                }
            }
            for (out, inc, local) in [(0usize, 3usize, &ca), (2, 1, &cb)] {
                if dumped[out] || dumped[inc] {
                    continue;
                }
                let Some(rid) = m[inc].remote_id().or(m[out].remote_id()) else {
                    continue;
                };
                let keep = collision::resolve(
                    m[out].state(),
                    Direction::Outgoing,
                    local.router_id,
                    local.local_as,
                    rid,
                    local.peer_as,
                );
                match keep {
                    Some(Keep::Existing) => {
                        m[inc].handle_event(t, Event::OpenCollisionDump);
                        dumped[inc] = true;
                    }
                    Some(Keep::New) => {
                        m[out].handle_event(t, Event::OpenCollisionDump);
                        dumped[out] = true;
                    }
                    None => {}
                }
                moved = true;
            }
            if !moved {
                break;
            }
        }
        let a_wins = u32::from(Ipv4Addr::from(ida)) > u32::from(Ipv4Addr::from(idb));
        // The surviving TCP connection is the one opened by the larger identifier.
        let (keep, lose) = if a_wins {
            ([0, 1], [2, 3])
        } else {
            ([2, 3], [0, 1])
        };
        for i in keep {
            assert_eq!(
                m[i].state(),
                State::Established,
                "{ida:?} {idb:?} machine {i}"
            );
        }
        for i in lose {
            assert_eq!(m[i].state(), State::Idle, "machine {i}");
        }
        // At least one side sent Cease 6/7 on the losing connection.
        assert!(
            lose.iter()
                .any(|i| m[*i].last_down() == Some(&DownReason::CollisionResolution))
        );
    }
}
