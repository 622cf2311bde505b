//! The router's RFC behaviours on the propagation path, over real TCP on loopback (no root):
//! graceful-restart helper with RFC 8538's N bit and the F bit (RFC 4724 §4.2), RFC 8212
//! (eBGP without policy), RFC 9234 roles and OTC, the minimum hold time. Each neighbour is a
//! bgp-fsm driver peer; what the router keeps is observed from another neighbour.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use bgp_fsm::GracefulRestartConfig;
use bgp_fsm::driver::{PeerConfig, PeerEvent, PeerHandle, spawn_peer};
use bgp_rib::Attrs;
use bgp_rib::policy::AcceptAll;
use bgp_wire::attr::AsPath;
use bgp_wire::message::GracefulRestartFamily;
use bgp_wire::{AfiSafi, Nlri, Notification, SessionContext, UpdateBuilder};
use kube_bgp::router::output::OutputMode;
use kube_bgp::router::{NeighborConfig, RouterConfig, RouterError, run};
use tokio::sync::mpsc;

const LOCAL_AS: u32 = 64512;

/// A test neighbour: its driver handle and every route it holds (prefix -> attributes).
struct TestPeer {
    handle: PeerHandle,
    rx: mpsc::Receiver<PeerEvent>,
    routes: BTreeMap<String, Attrs>,
    events: Vec<PeerEvent>,
}

fn peer_config(addr: &str, asn: u32, port: u16) -> PeerConfig {
    let a: IpAddr = addr.parse().unwrap();
    let mut pc = PeerConfig::new(
        asn,
        LOCAL_AS,
        Ipv4Addr::new(
            9,
            9,
            9,
            a.to_string().rsplit('.').next().unwrap().parse().unwrap(),
        ),
        "127.0.0.1".parse().unwrap(),
    );
    pc.peer_port = port;
    pc.local_addr = Some(a);
    pc.connect_retry = Duration::from_secs(1);
    pc.hold_time = 30;
    pc
}

impl TestPeer {
    fn start(pc: PeerConfig) -> Self {
        let handle = spawn_peer(pc, None);
        let rx = handle.take_events().unwrap();
        TestPeer {
            handle,
            rx,
            routes: BTreeMap::new(),
            events: Vec::new(),
        }
    }
    fn drain(&mut self) {
        while let Ok(e) = self.rx.try_recv() {
            if let PeerEvent::Update { update, .. } = &e {
                for (_, n) in update.withdrawn_routes() {
                    self.routes.remove(&n.prefix.to_string());
                }
                if let Some(a) = Attrs::from_wire(&update.attributes) {
                    for (_, n) in update.announced() {
                        self.routes.insert(n.prefix.to_string(), a.clone());
                    }
                }
            }
            self.events.push(e);
        }
    }
    async fn announce(&self, prefixes: &[&str], attrs: &Attrs) {
        let ups = UpdateBuilder::new(&SessionContext::modern())
            .attributes(attrs.to_wire())
            .announce(
                AfiSafi::IPV4_UNICAST,
                prefixes.iter().map(|p| Nlri::new(p.parse().unwrap())),
            )
            .build()
            .unwrap();
        for u in ups {
            self.handle.send_update(u).await.unwrap();
        }
    }
}

/// Poll `peers` until `f` holds (10 s at most).
async fn wait(peers: &mut [&mut TestPeer], mut f: impl FnMut(&[&mut TestPeer]) -> bool) -> bool {
    for _ in 0..200 {
        for p in peers.iter_mut() {
            p.drain();
        }
        if f(peers) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn port(offset: u16) -> u16 {
    19_000 + (std::process::id() % 500) as u16 * 8 + offset
}

fn router(port: u16) -> RouterConfig {
    let mut cfg = RouterConfig::new(LOCAL_AS, "10.0.0.1".parse().unwrap());
    cfg.listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
    cfg.output = OutputMode::None;
    cfg
}

fn neighbor(addr: &str, asn: u32) -> NeighborConfig {
    let mut n = NeighborConfig::new(addr.parse().unwrap(), asn);
    n.passive = true;
    n.hold_time = 30;
    n
}

/// An eBGP neighbour with explicit accept-all policies both ways.
fn accept_all(mut n: NeighborConfig) -> NeighborConfig {
    n.import = Some(Arc::new(AcceptAll));
    n.export = Some(Arc::new(AcceptAll));
    n
}

type Stop = tokio::sync::oneshot::Sender<()>;

fn spawn_router(cfg: RouterConfig) -> (Stop, tokio::task::JoinHandle<Result<(), RouterError>>) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let h = tokio::spawn(run(cfg, async {
        let _ = rx.await;
    }));
    (tx, h)
}

fn attrs(nh: &str, path: &[u32]) -> Attrs {
    let mut a = Attrs::new(nh.parse().unwrap());
    a.as_path = AsPath::from_sequence(path.iter().copied());
    a
}

fn gr(notification: bool, forwarding: bool) -> GracefulRestartConfig {
    GracefulRestartConfig {
        restart_time: 60,
        restart_state: false,
        notification,
        families: vec![GracefulRestartFamily {
            af: AfiSafi::IPV4_UNICAST,
            forwarding_preserved: forwarding,
        }],
    }
}

/// iBGP neighbour A (graceful restart, N bit as given, F bit as given) sends a route that
/// eBGP neighbour B receives; A then ends its session with Cease / Administrative Reset (6/4,
/// not a Hard Reset) and comes back ~2.5 s later without re-announcing or End-of-RIB.
/// Returns whether B still had the route while A was away, and whether B still has it
/// 2 s after A is back.
async fn gr_scenario(offset: u16, router_n: bool, peer_n: bool, forwarding: bool) -> (bool, bool) {
    let port = port(offset);
    let mut cfg = router(port);
    cfg.graceful_restart = true;
    cfg.graceful_notification = router_n;
    cfg.neighbors.push(neighbor("127.0.0.2", LOCAL_AS));
    cfg.neighbors.push(accept_all(neighbor("127.0.0.3", 65002)));
    let (stop, r) = spawn_router(cfg);
    let mut pa = peer_config("127.0.0.2", LOCAL_AS, port);
    pa.graceful_restart = Some(gr(peer_n, forwarding));
    pa.idle_hold = Some(Duration::from_secs(3));
    let a = TestPeer::start(pa);
    let mut b = TestPeer::start(peer_config("127.0.0.3", 65002, port));
    for p in [&a, &b] {
        assert!(p.handle.wait_established(Duration::from_secs(10)).await);
    }
    a.announce(&["10.9.0.0/24"], &attrs("127.0.0.2", &[])).await;
    assert!(
        wait(&mut [&mut b], |p| p[0].routes.contains_key("10.9.0.0/24")).await,
        "B never got A's route"
    );
    a.handle
        .automatic_stop(Notification::new(6, 4))
        .await
        .unwrap();
    // A is away (its IdleHoldTime is 2.25-3 s): does B keep the route?
    tokio::time::sleep(Duration::from_millis(1200)).await;
    b.drain();
    assert_ne!(
        a.handle.state(),
        bgp_fsm::State::Established,
        "A back too early"
    );
    let kept_while_away = b.routes.contains_key("10.9.0.0/24");
    assert!(
        a.handle.wait_established(Duration::from_secs(10)).await,
        "A never came back"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    b.drain();
    let kept_after_return = b.routes.contains_key("10.9.0.0/24");
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), r).await;
    (kept_while_away, kept_after_return)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gr_notification_keeps_stale_routes_only_with_the_n_bit() {
    // Both set N: a NOTIFICATION does not end graceful restart; A comes back with F set, so
    // its stale route stays until End-of-RIB.
    assert_eq!(gr_scenario(0, true, true, true).await, (true, true));
    // The peer did not set N: the NOTIFICATION ends graceful restart, routes flushed at once.
    assert_eq!(gr_scenario(1, true, false, true).await, (false, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gr_returning_peer_without_f_bit_has_its_stale_routes_flushed() {
    // Kept over the NOTIFICATION (N bit), then flushed when A returns without the F bit.
    assert_eq!(gr_scenario(2, true, true, false).await, (true, false));
}

fn otc(a: &Attrs) -> Option<u32> {
    bgp_rib::role::otc(a)
}

/// RFC 9234 §5 through the router (AS 64512): A (AS 65001) is our provider, B (65002) our
/// customer, C (65003) another provider, D (65004) a customer that announces no role while
/// the router is strict towards it (Role Mismatch). Routes with and without OTC go in and come out as §5 says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_otc_prevent_route_leaks() {
    use bgp_wire::message::BgpRole::*;
    let port = port(3);
    let mut cfg = router(port);
    for (addr, asn, role) in [
        ("127.0.0.2", 65001, Customer),
        ("127.0.0.3", 65002, Provider),
        ("127.0.0.4", 65003, Customer),
        ("127.0.0.5", 65004, Provider),
    ] {
        let mut n = accept_all(neighbor(addr, asn));
        n.role = Some(role);
        n.strict_role = asn == 65004;
        cfg.neighbors.push(n);
    }
    let (stop, r) = spawn_router(cfg);
    let mut peers = Vec::new();
    for (addr, asn, role) in [
        ("127.0.0.2", 65001, Provider),
        ("127.0.0.3", 65002, Customer),
        ("127.0.0.4", 65003, Provider),
        ("127.0.0.5", 65004, Provider),
    ] {
        let mut pc = peer_config(addr, asn, port);
        pc.role = Some(role).filter(|_| asn != 65004);
        peers.push(TestPeer::start(pc));
    }
    let [mut a, mut b, mut c, mut d] = <[TestPeer; 4]>::try_from(peers).ok().unwrap();
    for p in [&a, &b, &c] {
        assert!(p.handle.wait_established(Duration::from_secs(10)).await);
    }
    // D announces no role and the router is strict towards it: refused by the router.
    assert!(
        wait(&mut [&mut d], |p| p[0].events.iter().any(|e| matches!(
            e,
            PeerEvent::NotificationReceived(n) if (n.code, n.subcode) == (2, 11)
        )))
        .await,
        "no Role Mismatch for D: {:?}",
        d.events
    );
    assert_ne!(d.handle.state(), bgp_fsm::State::Established);

    // From provider A: no OTC (gets OTC 65001 on import), OTC = A (fine), OTC = another AS (leak).
    a.announce(&["10.1.0.0/24"], &attrs("127.0.0.2", &[65001]))
        .await;
    let mut x = attrs("127.0.0.2", &[65001, 65100]);
    bgp_rib::role::set_otc(&mut x, 65001);
    a.announce(&["10.1.1.0/24"], &x).await;
    let mut x = attrs("127.0.0.2", &[65001, 65100]);
    bgp_rib::role::set_otc(&mut x, 65100);
    a.announce(&["10.1.2.0/24"], &x).await;
    // From customer B: no OTC (fine), with OTC (leak).
    b.announce(&["10.2.0.0/24"], &attrs("127.0.0.3", &[65002]))
        .await;
    let mut x = attrs("127.0.0.3", &[65002, 65200]);
    bgp_rib::role::set_otc(&mut x, 65200);
    b.announce(&["10.2.1.0/24"], &x).await;

    let ok = wait(&mut [&mut a, &mut b, &mut c], |p| {
        p[1].routes.len() == 2 && p[0].routes.len() == 1 && p[2].routes.len() == 1
    })
    .await;
    assert!(
        ok,
        "a {:?}\nb {:?}\nc {:?}",
        a.routes.keys(),
        b.routes.keys(),
        c.routes.keys()
    );
    // Customer B gets the provider's routes, with OTC = the provider's AS.
    assert_eq!(otc(&b.routes["10.1.0.0/24"]), Some(65001));
    assert_eq!(otc(&b.routes["10.1.1.0/24"]), Some(65001));
    assert!(!b.routes.contains_key("10.1.2.0/24"), "leak from A dropped");
    // Providers A and C get only the customer's clean route, without OTC.
    for p in [&a, &c] {
        assert_eq!(p.routes.keys().collect::<Vec<_>>(), vec!["10.2.0.0/24"]);
        assert_eq!(otc(&p.routes["10.2.0.0/24"]), None);
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), r).await;
}

/// RFC 8212: eBGP neighbours A and B without policies exchange nothing through the router
/// (and iBGP neighbour C still gets A's route: the rule is for eBGP only); with
/// `ebgp_requires_policy` off they do; with an explicit policy on one side only that side
/// works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc8212_ebgp_without_policy_neither_imports_nor_exports() {
    for (offset, requires, b_import) in [(4, true, false), (5, false, false), (6, true, true)] {
        let port = port(offset);
        let mut cfg = router(port);
        cfg.ebgp_requires_policy = requires;
        cfg.neighbors.push(neighbor("127.0.0.2", 65001));
        let mut nb = neighbor("127.0.0.3", 65002);
        if b_import {
            nb.import = Some(Arc::new(AcceptAll));
        }
        cfg.neighbors.push(nb);
        cfg.neighbors.push(neighbor("127.0.0.4", LOCAL_AS));
        let (stop, r) = spawn_router(cfg);
        let mut a = TestPeer::start(peer_config("127.0.0.2", 65001, port));
        let mut b = TestPeer::start(peer_config("127.0.0.3", 65002, port));
        let mut c = TestPeer::start(peer_config("127.0.0.4", LOCAL_AS, port));
        for p in [&a, &b, &c] {
            assert!(p.handle.wait_established(Duration::from_secs(10)).await);
        }
        a.announce(&["10.1.0.0/24"], &attrs("127.0.0.2", &[65001]))
            .await;
        b.announce(&["10.2.0.0/24"], &attrs("127.0.0.3", &[65002]))
            .await;
        c.announce(&["10.3.0.0/24"], &attrs("127.0.0.4", &[])).await;
        // What each one should end up with.
        let (want_a, want_b, want_c): (&[&str], &[&str], &[&str]) = match (requires, b_import) {
            (true, false) => (&[], &[], &[]),
            (false, _) => (
                &["10.2.0.0/24", "10.3.0.0/24"],
                &["10.1.0.0/24", "10.3.0.0/24"],
                &["10.1.0.0/24", "10.2.0.0/24"],
            ),
            // B imports (its route reaches iBGP C) but exports nothing; A does neither.
            (true, true) => (&[], &[], &["10.2.0.0/24"]),
        };
        let keys = |p: &TestPeer| p.routes.keys().cloned().collect::<Vec<_>>();
        let ok = wait(&mut [&mut a, &mut b, &mut c], |p| {
            keys(p[0]) == want_a && keys(p[1]) == want_b && keys(p[2]) == want_c
        })
        .await;
        // Let anything that should not arrive have its chance.
        tokio::time::sleep(Duration::from_millis(500)).await;
        for p in [&mut a, &mut b, &mut c] {
            p.drain();
        }
        assert!(
            ok && keys(&a) == want_a && keys(&b) == want_b && keys(&c) == want_c,
            "requires {requires} b_import {b_import}: a {:?} b {:?} c {:?}",
            keys(&a),
            keys(&b),
            keys(&c)
        );
        let _ = stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), r).await;
    }
}

/// The router's minimum hold time: a neighbour proposing 0 (no keepalives) or less than the
/// minimum is refused with 2/6; one at the minimum comes up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimum_hold_time_refuses_zero_and_short_hold_times() {
    let port = port(7);
    let mut cfg = router(port);
    for addr in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        let mut n = neighbor(addr, LOCAL_AS);
        n.min_hold_time = 10;
        cfg.neighbors.push(n);
    }
    let (stop, r) = spawn_router(cfg);
    let mut peers = Vec::new();
    for (addr, hold) in [("127.0.0.2", 0), ("127.0.0.3", 9), ("127.0.0.4", 10)] {
        let mut pc = peer_config(addr, LOCAL_AS, port);
        pc.hold_time = hold;
        peers.push(TestPeer::start(pc));
    }
    assert!(
        peers[2]
            .handle
            .wait_established(Duration::from_secs(10))
            .await
    );
    let refused = |p: &TestPeer| {
        p.events.iter().any(
            |e| matches!(e, PeerEvent::NotificationReceived(n) if (n.code, n.subcode) == (2, 6)),
        )
    };
    let (lo, _) = peers.split_at_mut(2);
    let [a, b] = lo else { unreachable!() };
    assert!(
        wait(&mut [a, b], |p| refused(p[0]) && refused(p[1])).await,
        "not refused: {:?} / {:?}",
        peers[0].events,
        peers[1].events
    );
    for p in &peers[..2] {
        assert_ne!(p.handle.state(), bgp_fsm::State::Established);
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), r).await;
}

/// A hand-driven iBGP neighbour on a raw socket from 127.0.0.2: OPEN (graceful restart with
/// the N bit as given, hold time 3 s), KEEPALIVE, one UPDATE for 10.9.0.0/24, then silence
/// with the connection left open, so the router's hold timer expires. It keeps reading so
/// the router's writes never block; the task ends when the router closes.
async fn silent_peer(port: u16, n_bit: bool) -> tokio::task::JoinHandle<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = bgp_fsm::SessionConfig::new(LOCAL_AS, LOCAL_AS, Ipv4Addr::new(9, 9, 9, 2));
    c.hold_time = 3;
    c.graceful_restart = Some(gr(n_bit, true));
    let ctx = SessionContext::modern();
    let mut out = bytes::BytesMut::new();
    bgp_wire::encode_message(
        &bgp_wire::Message::Open(bgp_fsm::build_open(&c)),
        &ctx,
        &mut out,
    )
    .unwrap();
    bgp_wire::encode_message(&bgp_wire::Message::Keepalive, &ctx, &mut out).unwrap();
    for u in UpdateBuilder::new(&ctx)
        .attributes(attrs("127.0.0.2", &[]).to_wire())
        .announce(
            AfiSafi::IPV4_UNICAST,
            [Nlri::new("10.9.0.0/24".parse().unwrap())],
        )
        .build()
        .unwrap()
    {
        bgp_wire::encode_message(&bgp_wire::Message::Update(u), &ctx, &mut out).unwrap();
    }
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut s = sock
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap();
    s.write_all(&out).await.unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
}

/// The router's hold timer expires on a silent neighbour that advertised graceful restart:
/// without the N bit the route is withdrawn at once (RFC 4724: a NOTIFICATION, 4/0, was
/// sent), with it the route stays (RFC 8538). Observed from eBGP neighbour B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gr_hold_timer_expiry_keeps_stale_routes_only_with_the_n_bit() {
    for (offset, n_bit) in [(8u16, false), (9, true)] {
        let port = port(offset);
        let mut cfg = router(port);
        cfg.graceful_restart = true;
        cfg.graceful_notification = true;
        let mut na = neighbor("127.0.0.2", LOCAL_AS);
        na.hold_time = 3;
        cfg.neighbors.push(na);
        cfg.neighbors.push(accept_all(neighbor("127.0.0.3", 65002)));
        let (stop, r) = spawn_router(cfg);
        let mut b = TestPeer::start(peer_config("127.0.0.3", 65002, port));
        assert!(b.handle.wait_established(Duration::from_secs(10)).await);
        let silent = silent_peer(port, n_bit).await;
        assert!(
            wait(&mut [&mut b], |p| p[0].routes.contains_key("10.9.0.0/24")).await,
            "B never got the route"
        );
        // Hold time 3 s: the router ends the session by 3 s after the last KEEPALIVE.
        let _ = tokio::time::timeout(Duration::from_secs(10), silent).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        b.drain();
        assert_eq!(
            b.routes.contains_key("10.9.0.0/24"),
            n_bit,
            "N bit {n_bit}: route kept after the hold timer expired?"
        );
        let _ = stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), r).await;
    }
}
