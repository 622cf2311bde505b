//! Two sans-I/O `Peer`s wired together in memory on a virtual clock, in the manner of
//! quinn-proto's tests: TCP is a pair of byte queues, time moves only when the test says so.
//! Framing, collisions, the send hold timer and flow control are tested here without sockets.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::Duration;

use bgp_fsm::peer::{ConnId, IoAction, Limits, Peer, PeerError, PeerEvent};
use bgp_fsm::{DownReason, SessionConfig, State, build_open};
use bgp_wire::attr::{AsPath, Origin};
use bgp_wire::{AfiSafi, Message, Nlri, PathAttribute, SessionContext, Update};
use bytes::{Bytes, BytesMut};

const LOW: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const HIGH: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// One TCP connection between side 0 and side 1.
struct Link {
    /// The connection's id on each side (`None` until that side has it).
    id: [Option<ConnId>; 2],
    /// Which side opened it.
    opener: usize,
    /// Bytes in flight towards each side.
    towards: [VecDeque<u8>; 2],
    /// Everything each side sent on it.
    sent: [Vec<u8>; 2],
    /// Side `i` no longer takes bytes (its application stopped reading).
    stalled: [bool; 2],
    /// Closed by this side.
    closed_by: Option<usize>,
}

struct Net {
    now: Duration,
    p: [Peer; 2],
    events: [Vec<(Duration, PeerEvent)>; 2],
    /// Whether each side's application takes its events.
    drain_events: [bool; 2],
    /// A frozen side does nothing at all (no timers, no reads).
    frozen: [bool; 2],
    /// Connect requests wait for [`Net::complete_connects`] instead of succeeding at once.
    hold_connects: bool,
    held_connects: Vec<usize>,
    links: Vec<Link>,
}

fn cfg(local_as: u32, peer_as: u32, id: Ipv4Addr) -> SessionConfig {
    let mut c = SessionConfig::new(local_as, peer_as, id);
    c.connect_retry = Duration::from_secs(5);
    c
}

/// The prefixes of the UPDATEs side `side` received, in order.
fn received(net: &Net, side: usize) -> Vec<ipnet::IpNet> {
    net.events[side]
        .iter()
        .filter_map(|(_, e)| match e {
            PeerEvent::Update { update, .. } => Some(update.nlri[0].prefix),
            _ => None,
        })
        .collect()
}

/// The prefixes of `route(i)` for each i.
fn routes(r: std::ops::Range<u32>) -> Vec<ipnet::IpNet> {
    r.map(|i| route(i).nlri[0].prefix).collect()
}

fn route(i: u32) -> Update {
    Update {
        withdrawn: vec![],
        attributes: vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(AsPath::from_sequence([65002])),
            PathAttribute::NextHop(Ipv4Addr::new(192, 168, 1, 10)),
        ],
        nlri: vec![Nlri::new(
            format!("10.{}.{}.0/24", (i / 256) % 256, i % 256)
                .parse()
                .unwrap(),
        )],
    }
}

/// Every whole message in a byte stream (context: 4-octet AS, as negotiated here).
fn messages(bytes: &[u8]) -> Vec<Message> {
    let ctx = SessionContext {
        four_octet_as: true,
        ..Default::default()
    };
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Ok(Some(n)) = bgp_wire::frame_len(rest, &ctx) {
        if rest.len() < n {
            break;
        }
        if let Ok(d) = bgp_wire::decode_message(Bytes::copy_from_slice(&rest[..n]), &ctx) {
            out.push(d.message);
        }
        rest = &rest[n..];
    }
    out
}

fn notifications(bytes: &[u8]) -> Vec<(u8, u8)> {
    messages(bytes)
        .into_iter()
        .filter_map(|m| match m {
            Message::Notification(n) => Some((n.code, n.subcode)),
            _ => None,
        })
        .collect()
}

impl Net {
    fn new(a: SessionConfig, b: SessionConfig) -> Self {
        Self::with_limits(a, b, Limits::default())
    }

    fn with_limits(a: SessionConfig, b: SessionConfig, limits: Limits) -> Self {
        Net {
            now: Duration::ZERO,
            p: [Peer::new(a, limits.clone()), Peer::new(b, limits)],
            events: [Vec::new(), Vec::new()],
            drain_events: [true, true],
            frozen: [false, false],
            hold_connects: false,
            held_connects: Vec::new(),
            links: Vec::new(),
        }
    }

    fn start(&mut self) {
        for i in 0..2 {
            self.p[i].start(self.now);
        }
        self.settle();
    }

    fn link_of(&self, side: usize, id: ConnId) -> Option<usize> {
        self.links.iter().position(|l| l.id[side] == Some(id))
    }

    /// Carry out everything both sides want until nothing moves.
    fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            for side in 0..2 {
                if self.frozen[side] {
                    continue;
                }
                moved |= self.step(side);
            }
            if !moved {
                return;
            }
        }
        panic!("the peers never settle");
    }

    fn step(&mut self, side: usize) -> bool {
        let now = self.now;
        let other = 1 - side;
        let mut moved = false;
        while let Some((id, bytes)) = self.p[side].poll_transmit() {
            moved = true;
            if let Some(l) = self.link_of(side, id) {
                let link = &mut self.links[l];
                link.sent[side].extend_from_slice(&bytes);
                link.towards[other].extend(bytes.iter());
                if !link.stalled[other] {
                    // The bytes left our socket buffer at once.
                    self.p[side].handle_transmitted(now, id, bytes.len());
                }
            }
        }
        while let Some(a) = self.p[side].poll_io() {
            moved = true;
            match a {
                IoAction::Connect if self.hold_connects => self.held_connects.push(side),
                IoAction::Connect => {
                    // The other side always listens: the connection comes up at once.
                    if let Some(l) = self.connected(side) {
                        self.accepted(l);
                    }
                }
                IoAction::CancelConnect => {}
                IoAction::Close(id) => {
                    if let Some(l) = self.link_of(side, id) {
                        let link = &mut self.links[l];
                        link.id[side] = None;
                        if link.closed_by.is_none() {
                            link.closed_by = Some(side);
                        }
                    }
                }
            }
        }
        if self.drain_events[side] {
            while let Some(e) = self.p[side].poll_event() {
                moved = true;
                self.events[side].push((now, e));
            }
            self.p[side].resume(now);
        }
        // Deliver bytes towards this side, as far as it reads.
        for l in 0..self.links.len() {
            let Some(id) = self.links[l].id[side] else {
                continue;
            };
            if !self.links[l].towards[side].is_empty()
                && !self.links[l].stalled[side]
                && self.p[side].wants_read(id)
            {
                let bytes: Vec<u8> = self.links[l].towards[side].drain(..).collect();
                self.p[side].handle_input(now, id, &bytes);
                moved = true;
            } else if self.links[l].towards[side].is_empty()
                && self.links[l].closed_by == Some(other)
            {
                self.links[l].id[side] = None;
                self.p[side].handle_closed(now, id);
                moved = true;
            }
        }
        moved
    }

    /// `side`'s connection attempt succeeds (its SYN-ACK arrived); the new link.
    fn connected(&mut self, side: usize) -> Option<usize> {
        let mine = self.p[side].handle_connected(self.now)?;
        let mut link = Link {
            id: [None, None],
            opener: side,
            towards: [VecDeque::new(), VecDeque::new()],
            sent: [Vec::new(), Vec::new()],
            stalled: [false, false],
            closed_by: None,
        };
        link.id[side] = Some(mine);
        self.links.push(link);
        Some(self.links.len() - 1)
    }

    /// The listening side takes the link.
    fn accepted(&mut self, l: usize) {
        let other = 1 - self.links[l].opener;
        let theirs = self.p[other].handle_accepted(self.now);
        self.links[l].id[other] = Some(theirs);
    }

    /// The held connection attempts cross: every opener sees its connection up first, then
    /// the listeners accept (both SYNs in flight at once).
    fn complete_connects(&mut self) {
        let sides = std::mem::take(&mut self.held_connects);
        let links: Vec<usize> = sides.iter().filter_map(|&s| self.connected(s)).collect();
        for l in links {
            self.accepted(l);
        }
        self.settle();
    }

    /// Advance the virtual clock to `until`, firing timers on the way.
    fn run_until(&mut self, until: Duration) {
        for _ in 0..1_000_000 {
            self.settle();
            let next = (0..2)
                .filter(|&i| !self.frozen[i])
                .filter_map(|i| self.p[i].poll_timeout())
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    for i in 0..2 {
                        if !self.frozen[i] {
                            self.p[i].handle_timeout(self.now);
                        }
                    }
                }
                _ => {
                    self.now = until;
                    self.settle();
                    return;
                }
            }
        }
        panic!("timers never stop firing");
    }

    fn run_for(&mut self, d: Duration) {
        let t = self.now + d;
        self.run_until(t);
    }

    fn count(&self, side: usize, f: impl Fn(&PeerEvent) -> bool) -> usize {
        self.events[side].iter().filter(|(_, e)| f(e)).count()
    }

    fn open_links(&self) -> Vec<usize> {
        (0..self.links.len())
            .filter(|&l| self.links[l].closed_by.is_none())
            .collect()
    }
}

/// Side 0 (AS 65001, LOW id) connects, side 1 (AS 65002, HIGH id) waits.
fn established_pair() -> Net {
    let a = cfg(65001, 65002, LOW);
    let mut b = cfg(65002, 65001, HIGH);
    b.passive = true;
    let mut net = Net::new(a, b);
    net.start();
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.p[0].state(), State::Established);
    assert_eq!(net.p[1].state(), State::Established);
    net
}

#[test]
fn full_open_exchange_to_established() {
    let net = established_pair();
    for side in 0..2 {
        assert_eq!(
            net.count(side, |e| matches!(e, PeerEvent::Established(_))),
            1
        );
        let n = net.p[side].negotiated().unwrap();
        assert!(n.context.four_octet_as);
        assert_eq!(n.hold_time, 90);
    }
    assert_eq!(net.links.len(), 1);
    let sent = messages(&net.links[0].sent[0]);
    assert!(matches!(sent[0], Message::Open(_)));
    assert!(matches!(sent[1], Message::Keepalive));
}

#[test]
fn keepalives_hold_the_session_for_virtual_hours() {
    let mut net = established_pair();
    net.run_for(Duration::from_secs(6 * 3600));
    for side in 0..2 {
        assert_eq!(net.p[side].state(), State::Established);
        assert_eq!(net.count(side, |e| matches!(e, PeerEvent::Down { .. })), 0);
    }
    // About one KEEPALIVE every 30 s (jittered 0.75-1.0) each way.
    let ka = messages(&net.links[0].sent[0])
        .iter()
        .filter(|m| matches!(m, Message::Keepalive))
        .count();
    assert!((720..=1000).contains(&ka), "{ka} keepalives in 6 h");
}

#[test]
fn updates_cross_in_order_with_the_negotiated_context() {
    let mut net = established_pair();
    for i in 0..50 {
        net.p[0].send_update(net.now, route(i)).unwrap();
    }
    net.settle();
    assert_eq!(received(&net, 1), routes(0..50));
}

/// UPDATEs encoded by the caller (an update group encodes once for all members) go out as
/// they are, one or a run of several back to back, in order with the others; bytes that are
/// not whole UPDATEs within the session's limits are refused and nothing of them is sent.
#[test]
fn encoded_updates_go_out_as_given_and_bad_framing_is_refused() {
    let mut net = established_pair();
    let ctx = net.p[0].negotiated().unwrap().context.clone();
    let mut wire = BytesMut::new();
    bgp_wire::encode_message(&Message::Update(route(1)), &ctx, &mut wire).unwrap();
    net.p[0].send_update(net.now, route(0)).unwrap();
    net.p[0].send_encoded_update(net.now, &wire).unwrap();
    net.p[0].send_update(net.now, route(2)).unwrap();
    let mut run = BytesMut::new();
    for i in [3, 4] {
        bgp_wire::encode_message(&Message::Update(route(i)), &ctx, &mut run).unwrap();
    }
    net.p[0].send_encoded_update(net.now, &run).unwrap();
    // Refused: a KEEPALIVE, a truncated UPDATE, a wrong length field, a bad marker, a run
    // with a KEEPALIVE at its end, nothing.
    let mut ka = BytesMut::new();
    bgp_wire::encode_message(&Message::Keepalive, &ctx, &mut ka).unwrap();
    let mut bad_len = wire.to_vec();
    bad_len[17] ^= 1;
    let mut bad_marker = wire.to_vec();
    bad_marker[0] = 0;
    let mut then_ka = wire.to_vec();
    then_ka.extend_from_slice(&ka);
    let bad_runs: [&[u8]; 6] = [
        &ka[..],
        &wire[..wire.len() - 1],
        &bad_len,
        &bad_marker,
        &then_ka,
        &[],
    ];
    for bad in bad_runs {
        assert!(matches!(
            net.p[0].send_encoded_update(net.now, bad),
            Err(PeerError::Encode(_))
        ));
    }
    net.settle();
    assert_eq!(received(&net, 1), routes(0..5));
    assert_eq!(net.p[1].state(), State::Established);
}

/// Both sides connect at the same moment; `ids` are the BGP Identifiers of side 0 and 1.
fn collide(ids: [Ipv4Addr; 2]) -> Net {
    let a = cfg(65001, 65002, ids[0]);
    let b = cfg(65002, 65001, ids[1]);
    let mut net = Net::new(a, b);
    net.hold_connects = true;
    net.start();
    assert_eq!(net.held_connects.len(), 2);
    net.complete_connects();
    net.hold_connects = false;
    net.run_for(Duration::from_secs(1));
    net
}

#[test]
fn collision_keeps_the_connection_opened_by_the_larger_identifier_both_ways() {
    for (ids, winner) in [([LOW, HIGH], 1usize), ([HIGH, LOW], 0usize)] {
        let net = collide(ids);
        assert_eq!(net.links.len(), 2, "both sides connected");
        assert_eq!(net.p[0].state(), State::Established);
        assert_eq!(net.p[1].state(), State::Established);
        let open = net.open_links();
        assert_eq!(open.len(), 1, "one connection survives");
        assert_eq!(
            net.links[open[0]].opener, winner,
            "the larger identifier keeps its own connection"
        );
        // The other connection ended with Cease 6/7 from at least one side.
        let lost = 1 - open[0];
        let ceases: Vec<_> = (0..2)
            .flat_map(|s| notifications(&net.links[lost].sent[s]))
            .collect();
        assert!(ceases.contains(&(6, 7)), "{ceases:?}");
        for side in 0..2 {
            // The application saw one session come up and nothing go down.
            assert_eq!(
                net.count(side, |e| matches!(e, PeerEvent::Established(_))),
                1
            );
            assert_eq!(net.count(side, |e| matches!(e, PeerEvent::Down { .. })), 0);
        }
    }
}

#[test]
fn established_session_refuses_a_new_connection_with_6_7() {
    let mut net = established_pair();
    let now = net.now;
    let id = net.p[0].handle_accepted(now);
    let (tx_id, bytes) = net.p[0].poll_transmit().unwrap();
    assert_eq!(tx_id, id);
    assert_eq!(notifications(&bytes), vec![(6, 7)]);
    assert_eq!(net.p[0].poll_io(), Some(IoAction::Close(id)));
    assert_eq!(net.p[0].state(), State::Established);
    net.run_for(Duration::from_secs(300));
    assert_eq!(net.p[0].state(), State::Established);
}

#[test]
fn established_wins_over_a_colliding_open_from_a_larger_identifier() {
    // Side 0 has the smaller identifier, so in OpenConfirm it would give way; Established
    // does not.
    let mut net = established_pair();
    let now = net.now;
    let id = net.p[0].handle_accepted(now);
    let mut peer_open = BytesMut::new();
    let open = build_open(net.p[1].config());
    bgp_wire::encode_message(
        &Message::Open(open),
        &SessionContext::default(),
        &mut peer_open,
    )
    .unwrap();
    net.p[0].handle_input(now, id, &peer_open);
    assert_eq!(net.p[0].state(), State::Established);
    assert_eq!(net.p[0].session_conn(), Some(net.links[0].id[0].unwrap()));
}

#[test]
fn second_connection_in_opensent_is_resolved_by_identifier() {
    // Side 0 (LOW) is in OpenSent on its outgoing connection when side 1 (HIGH) connects
    // in: the HIGH side's connection (incoming for side 0) must win.
    let mut p = Peer::new(cfg(65001, 65002, LOW), Limits::default());
    let t = Duration::ZERO;
    p.start(t);
    assert_eq!(p.poll_io(), Some(IoAction::Connect));
    let out = p.handle_connected(t).unwrap();
    assert_eq!(p.state(), State::OpenSent);
    let inc = p.handle_accepted(t);
    assert_ne!(out, inc);
    let mut open = BytesMut::new();
    bgp_wire::encode_message(
        &Message::Open(build_open(&cfg(65002, 65001, HIGH))),
        &SessionContext::default(),
        &mut open,
    )
    .unwrap();
    p.handle_input(t, inc, &open);
    // The outgoing connection got Cease 6/7 and is closed; the session runs on the incoming.
    let mut by_conn: Vec<(ConnId, Bytes)> = Vec::new();
    while let Some(x) = p.poll_transmit() {
        by_conn.push(x);
    }
    let to_out: Vec<_> = by_conn
        .iter()
        .filter(|(c, _)| *c == out)
        .flat_map(|(_, b)| notifications(b))
        .collect();
    assert_eq!(to_out, vec![(6, 7)]);
    let ios: Vec<_> = std::iter::from_fn(|| p.poll_io()).collect();
    assert!(ios.contains(&IoAction::Close(out)), "{ios:?}");
    assert_eq!(p.session_conn(), Some(inc));
    assert_eq!(p.state(), State::OpenConfirm);
}

#[test]
fn lower_identifier_keeps_its_connection_when_the_peer_is_lower() {
    // Side 0 (HIGH) in OpenSent on its outgoing connection; side 1 (LOW) connects in:
    // the new connection is dumped with 6/7.
    let mut p = Peer::new(cfg(65001, 65002, HIGH), Limits::default());
    let t = Duration::ZERO;
    p.start(t);
    let _ = p.poll_io();
    let out = p.handle_connected(t).unwrap();
    let inc = p.handle_accepted(t);
    let mut open = BytesMut::new();
    bgp_wire::encode_message(
        &Message::Open(build_open(&cfg(65002, 65001, LOW))),
        &SessionContext::default(),
        &mut open,
    )
    .unwrap();
    p.handle_input(t, inc, &open);
    let to_inc: Vec<_> = std::iter::from_fn(|| p.poll_transmit())
        .filter(|(c, _)| *c == inc)
        .flat_map(|(_, b)| notifications(&b))
        .collect();
    assert_eq!(to_inc, vec![(6, 7)]);
    assert_eq!(p.session_conn(), Some(out));
    assert_eq!(p.state(), State::OpenSent);
}

/// The peer stops reading: after the SendHoldTime without write progress the session ends
/// with NOTIFICATION 8 (RFC 9687), and not before.
#[test]
fn send_hold_timer_expires_when_the_peer_never_reads() {
    let mut net = established_pair();
    // Side 1 hangs: it neither reads nor runs timers, but its (kernel's) KEEPALIVEs would not
    // reach side 0 either, so we feed side 0's hold timer by hand below.
    net.frozen[1] = true;
    net.links[0].stalled[1] = true;
    let t0 = net.now;
    let id0 = net.links[0].id[0].unwrap();
    let mut sent = 0;
    loop {
        match net.p[0].send_update(net.now, route(sent)) {
            Ok(()) => sent += 1,
            Err(PeerError::Backpressure(n)) => {
                assert!(n >= Limits::default().send_buffer);
                break;
            }
            Err(e) => panic!("{e}"),
        }
        net.settle();
    }
    assert_eq!(net.p[0].send_capacity(), 0);
    let mut ka = BytesMut::new();
    bgp_wire::encode_message(&Message::Keepalive, &SessionContext::default(), &mut ka).unwrap();
    // SendHoldTime: the larger of 8 minutes and twice the 90 s hold time.
    while net.now + Duration::from_secs(20) < t0 + Duration::from_secs(479) {
        net.run_for(Duration::from_secs(20));
        net.p[0].handle_input(net.now, id0, &ka);
    }
    net.run_until(t0 + Duration::from_secs(479));
    assert_eq!(net.p[0].state(), State::Established, "{:?}", net.events[0]);
    net.run_until(t0 + Duration::from_millis(480_500));
    assert_eq!(net.p[0].state(), State::Idle);
    assert!(net.events[0].iter().any(|(t, e)| matches!(
        e,
        PeerEvent::NotificationSent(n) if n.code == 8
    ) && *t == t0 + Duration::from_secs(480)));
    assert!(net.events[0].iter().any(|(_, e)| matches!(
        e,
        PeerEvent::Down { reason: DownReason::AutomaticStop(n) } if n.code == 8
    )));
    assert_eq!(net.links[0].closed_by, Some(0));
    // The NOTIFICATION went behind the data that never left (RFC 9687 expects it may be
    // lost), and the peer stopped counting what it handed out.
    assert_eq!(net.p[0].send_buffered(), 0);
}

#[test]
fn slow_but_steady_writes_do_not_trip_the_send_hold_timer() {
    let mut net = established_pair();
    net.links[0].stalled[1] = true;
    while net.p[0].send_update(net.now, route(1)).is_ok() {
        net.settle();
    }
    let id0 = net.links[0].id[0].unwrap();
    // 100 octets leave every 100 s: progress, so the timer keeps restarting.
    for _ in 0..20 {
        net.run_for(Duration::from_secs(100));
        net.p[0].handle_transmitted(net.now, id0, 100);
    }
    assert_eq!(net.p[0].state(), State::Established);
}

#[test]
fn keepalives_go_out_ahead_of_queued_updates() {
    let mut net = established_pair();
    net.links[0].stalled[1] = true;
    while net.p[0].send_update(net.now, route(1)).is_ok() {
        net.settle();
    }
    let before = net.links[0].sent[0].len();
    net.run_for(Duration::from_secs(31));
    let after = messages(&net.links[0].sent[0][before..]);
    assert!(
        !after.is_empty() && after.iter().all(|m| matches!(m, Message::Keepalive)),
        "KEEPALIVEs go out ahead of the queued UPDATEs: {after:?}"
    );
    // UPDATEs still wait inside the peer: only a window of them was handed out.
    let handed_out = net.links[0].sent[0].len();
    assert!(handed_out < Limits::default().send_buffer);
    assert!(net.p[0].send_buffered() >= Limits::default().send_buffer);
}

/// The application of side 1 stops taking events: UPDATEs are held back (bounded), the
/// KEEPALIVEs behind them are still read and the hold timer fed; nothing is lost or
/// reordered once it drains again.
#[test]
fn throttled_application_still_reads_keepalives() {
    let limits = Limits {
        events: 4,
        ..Limits::default()
    };
    let a = cfg(65001, 65002, LOW);
    let mut b = cfg(65002, 65001, HIGH);
    b.passive = true;
    let mut net = Net::with_limits(a, b, limits);
    net.start();
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.p[1].state(), State::Established);
    net.drain_events[1] = false;
    for i in 0..40 {
        net.p[0].send_update(net.now, route(i)).unwrap();
    }
    net.settle();
    assert_eq!(net.p[1].pending_events(), 4);
    net.run_for(Duration::from_secs(4 * 3600));
    assert_eq!(net.p[1].state(), State::Established);
    assert_eq!(net.p[1].pending_events(), 4);
    assert!(net.p[1].has_held_input());
    net.drain_events[1] = true;
    net.settle();
    assert!(!net.p[1].has_held_input());
    assert_eq!(received(&net, 1), routes(0..40));
}

#[test]
fn held_input_is_bounded_and_pushes_back() {
    let limits = Limits {
        events: 1,
        held_input: 1024,
        ..Limits::default()
    };
    let a = cfg(65001, 65002, LOW);
    let mut b = cfg(65002, 65001, HIGH);
    b.passive = true;
    let mut net = Net::with_limits(a, b, limits);
    net.start();
    net.run_for(Duration::from_secs(1));
    net.drain_events[1] = false;
    for i in 0..500 {
        let _ = net.p[0].send_update(net.now, route(i));
        net.settle();
    }
    let id1 = net.links[0].id[1].unwrap();
    assert!(!net.p[1].wants_read(id1), "side 1 stops reading");
    assert!(!net.links[0].towards[1].is_empty(), "bytes wait in 'TCP'");
    net.drain_events[1] = true;
    net.settle();
    assert_eq!(net.count(1, |e| matches!(e, PeerEvent::Update { .. })), 500);
}

/// A remote speaker's byte stream: OPEN, KEEPALIVE, two UPDATEs, a ROUTE-REFRESH, a KEEPALIVE.
fn remote_stream(local: &SessionConfig) -> Vec<u8> {
    let mut remote = cfg(local.peer_as, local.local_as, HIGH);
    remote.passive = true;
    let ctx = SessionContext {
        four_octet_as: true,
        ..Default::default()
    };
    let mut b = BytesMut::new();
    let msgs = [
        Message::Open(build_open(&remote)),
        Message::Keepalive,
        Message::Update(route(1)),
        Message::Update(route(2)),
        Message::RouteRefresh(bgp_wire::RouteRefresh {
            af: AfiSafi::IPV4_UNICAST,
            subtype: bgp_wire::message::RouteRefreshSubtype::Request,
        }),
        Message::Keepalive,
    ];
    for m in &msgs {
        bgp_wire::encode_message(m, &ctx, &mut b).unwrap();
    }
    b.to_vec()
}

/// A passive peer that accepted one connection, fed `chunks`; its events.
fn feed(chunks: &[&[u8]]) -> (Vec<PeerEvent>, Peer) {
    let mut c = cfg(65001, 65002, LOW);
    c.passive = true;
    let mut p = Peer::new(c, Limits::default());
    let t = Duration::ZERO;
    p.start(t);
    let id = p.handle_accepted(t);
    for ch in chunks {
        p.handle_input(t, id, ch);
    }
    (std::iter::from_fn(|| p.poll_event()).collect(), p)
}

#[test]
fn framing_is_independent_of_how_the_stream_is_split() {
    let local = {
        let mut c = cfg(65001, 65002, LOW);
        c.passive = true;
        c
    };
    let stream = remote_stream(&local);
    let (whole, p) = feed(&[&stream]);
    assert_eq!(p.state(), State::Established);
    assert_eq!(
        whole
            .iter()
            .filter(|e| matches!(e, PeerEvent::Update { .. }))
            .count(),
        2
    );
    assert!(
        whole
            .iter()
            .any(|e| matches!(e, PeerEvent::RouteRefresh(_)))
    );
    for i in 0..=stream.len() {
        let (a, b) = stream.split_at(i);
        assert_eq!(feed(&[a, b]).0, whole, "split at {i}");
        for j in i..=stream.len() {
            let (b1, b2) = b.split_at(j - i);
            assert_eq!(feed(&[a, b1, b2]).0, whole, "split at {i} and {j}");
        }
    }
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(feed(&bytes).0, whole, "one octet at a time");
}

/// Header errors get their RFC 4271 §6.1 NOTIFICATION, and the connection closes.
#[test]
fn malformed_headers_get_the_right_notification() {
    let local = {
        let mut c = cfg(65001, 65002, LOW);
        c.passive = true;
        c
    };
    let good = remote_stream(&local);
    let open_len = usize::from(u16::from_be_bytes([good[16], good[17]]));
    let ka_end = open_len + 19;
    let mut bad_marker = [0xffu8; 19];
    bad_marker[3] = 0;
    bad_marker[16..19].copy_from_slice(&[0, 19, 4]);
    let mut bad_length = [0xffu8; 19];
    bad_length[16..19].copy_from_slice(&[0, 18, 4]);
    let mut too_long = [0xffu8; 19];
    too_long[16..19].copy_from_slice(&[0x10, 0x01, 2]); // 4097 without Extended Message
    let mut bad_type = [0xffu8; 19];
    bad_type[16..19].copy_from_slice(&[0, 19, 9]);
    let mut ka_with_body = [0xffu8; 20];
    ka_with_body[16..19].copy_from_slice(&[0, 20, 4]);
    let cases: [(&[u8], (u8, u8)); 5] = [
        (&bad_marker, (1, 1)),
        (&bad_length, (1, 2)),
        (&too_long, (1, 2)),
        (&bad_type, (1, 3)),
        (&ka_with_body, (1, 2)),
    ];
    for (bad, want) in cases {
        let (_, mut p) = feed(&[&good[..ka_end], bad]);
        assert_eq!(p.state(), State::Idle, "{want:?}");
        let sent: Vec<_> = std::iter::from_fn(|| p.poll_transmit())
            .flat_map(|(_, b)| notifications(&b))
            .collect();
        assert_eq!(sent, vec![want]);
        assert!(std::iter::from_fn(|| p.poll_io()).any(|a| matches!(a, IoAction::Close(_))));
    }
}

#[test]
fn end_of_stream_after_a_notification_reports_the_notification() {
    let mut net = established_pair();
    let now = net.now;
    net.p[0].shutdown(now, Some("maintenance"));
    net.settle();
    let down = net.events[1]
        .iter()
        .find_map(|(_, e)| match e {
            PeerEvent::Down { reason } => Some(reason.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        matches!(&down, DownReason::NotificationReceived(n) if (n.code, n.subcode) == (6, 2)),
        "{down:?}"
    );
    assert_eq!(down.shutdown_message().as_deref(), Some("maintenance"));
}
