//! The router (`kube_bgp::router::run`) carries routes between neighbours over real TCP on
//! loopback, no root needed: four bgp-fsm driver peers (two eBGP, two iBGP) connect to one
//! router and each checks what it receives against RFC 4271 §5 / §9.2: AS prepended and our
//! address as next hop towards eBGP, MED of another AS dropped, LOCAL_PREF only inside the
//! AS, next hop kept towards iBGP, no iBGP-learned route to another iBGP peer (no route
//! reflection), split horizon; and withdrawals when a neighbour goes away.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bgp_fsm::driver::{PeerConfig, PeerEvent, PeerHandle, spawn_peer};
use bgp_rib::Attrs;
use bgp_wire::attr::{AsPath, AsSegment, AsSegmentType};
use bgp_wire::{AfiSafi, Nlri, SessionContext, UpdateBuilder};
use kube_bgp::router::output::OutputMode;
use kube_bgp::router::{NeighborConfig, RouterConfig, run};
use tokio::sync::mpsc;

const LOCAL_AS: u32 = 64512;

/// A test neighbour: its driver handle and every route it holds (prefix -> attributes).
struct TestPeer {
    handle: PeerHandle,
    rx: mpsc::Receiver<PeerEvent>,
    routes: BTreeMap<String, Attrs>,
}

impl TestPeer {
    fn start(addr: &str, asn: u32, port: u16) -> Self {
        let a: IpAddr = addr.parse().unwrap();
        let mut pc = PeerConfig::new(
            asn,
            LOCAL_AS,
            Ipv4Addr::new(9, 9, 9, asn as u8),
            "127.0.0.1".parse().unwrap(),
        );
        pc.peer_port = port;
        pc.local_addr = Some(a);
        pc.connect_retry = Duration::from_secs(1);
        pc.hold_time = 30;
        let handle = spawn_peer(pc, None);
        let rx = handle.take_events().unwrap();
        TestPeer {
            handle,
            rx,
            routes: BTreeMap::new(),
        }
    }
    fn drain(&mut self) {
        while let Ok(e) = self.rx.try_recv() {
            if let PeerEvent::Update { update, .. } = e {
                for (_, n) in update.withdrawn_routes() {
                    self.routes.remove(&n.prefix.to_string());
                }
                if let Some(a) = Attrs::from_wire(&update.attributes) {
                    for (_, n) in update.announced() {
                        self.routes.insert(n.prefix.to_string(), a.clone());
                    }
                }
            }
        }
    }
    async fn announce(&self, prefixes: &[String], attrs: &Attrs) {
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

fn path(asns: &[u32]) -> AsPath {
    AsPath {
        segments: [AsSegment::new(
            AsSegmentType::Sequence,
            asns.iter().copied(),
        )]
        .into_iter()
        .collect(),
    }
}

fn asns(a: &Attrs) -> Vec<u32> {
    a.as_path
        .segments
        .iter()
        .flat_map(|s| s.asns.iter().copied())
        .collect()
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_carries_routes_between_ebgp_and_ibgp_neighbours() {
    let port = 17_900 + (std::process::id() % 1000) as u16;
    let mut cfg = RouterConfig::new(LOCAL_AS, "10.0.0.1".parse().unwrap());
    cfg.listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
    cfg.output = OutputMode::None;
    for (addr, asn) in [
        ("127.0.0.2", 65001),
        ("127.0.0.3", 65002),
        ("127.0.0.4", LOCAL_AS),
        ("127.0.0.5", LOCAL_AS),
    ] {
        let mut n = NeighborConfig::new(addr.parse().unwrap(), asn);
        n.passive = true;
        n.hold_time = 30;
        // RFC 8212: eBGP neighbours exchange routes only with an explicit policy.
        n.import = Some(std::sync::Arc::new(bgp_rib::policy::AcceptAll));
        n.export = Some(std::sync::Arc::new(bgp_rib::policy::AcceptAll));
        cfg.neighbors.push(n);
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let router = tokio::spawn(run(cfg, async {
        let _ = stop_rx.await;
    }));
    let mut a = TestPeer::start("127.0.0.2", 65001, port);
    let mut b = TestPeer::start("127.0.0.3", 65002, port);
    let mut c = TestPeer::start("127.0.0.4", LOCAL_AS, port);
    let mut d = TestPeer::start("127.0.0.5", LOCAL_AS, port);
    for p in [&a, &b, &c, &d] {
        assert!(
            p.handle.wait_established(Duration::from_secs(10)).await,
            "session up"
        );
    }

    let from_a: Vec<String> = (0..10).map(|i| format!("10.1.{i}.0/24")).collect();
    let mut xa = Attrs::new("127.0.0.2".parse().unwrap());
    xa.as_path = path(&[65001]);
    xa.med = Some(50);
    a.announce(&from_a, &xa).await;
    let mut xc = Attrs::new("127.0.0.4".parse().unwrap());
    xc.as_path = AsPath::default();
    xc.local_pref = Some(200);
    c.announce(&["10.3.0.0/24".to_string()], &xc).await;

    let ok = wait(&mut [&mut a, &mut b, &mut c, &mut d], |p| {
        p[1].routes.len() == 11
            && p[0].routes.len() == 1
            && p[2].routes.len() == 10
            && p[3].routes.len() == 10
    })
    .await;
    assert!(
        ok,
        "a {:?}\nb {:?}\nc {:?}\nd {:?}",
        a.routes.keys(),
        b.routes.keys(),
        c.routes.keys(),
        d.routes.keys()
    );
    // eBGP B: our AS prepended, our address as next hop, MED and LOCAL_PREF gone.
    let r = &b.routes["10.1.3.0/24"];
    assert_eq!(asns(r), vec![LOCAL_AS, 65001]);
    assert_eq!(r.next_hop, "127.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(r.med, None);
    assert_eq!(r.local_pref, None);
    let r = &b.routes["10.3.0.0/24"];
    assert_eq!(asns(r), vec![LOCAL_AS]);
    assert_eq!(r.local_pref, None);
    // iBGP C: path and next hop unchanged, LOCAL_PREF 100 added; its own route not echoed.
    let r = &c.routes["10.1.3.0/24"];
    assert_eq!(asns(r), vec![65001]);
    assert_eq!(r.next_hop, "127.0.0.2".parse::<IpAddr>().unwrap());
    assert_eq!(r.local_pref, Some(100));
    assert!(!c.routes.contains_key("10.3.0.0/24"), "split horizon");
    // iBGP D: no route learnt over iBGP (no reflection).
    assert!(!d.routes.contains_key("10.3.0.0/24"), "iBGP to iBGP");
    // eBGP A: C's route with our AS, not its own routes back.
    assert_eq!(asns(&a.routes["10.3.0.0/24"]), vec![LOCAL_AS]);
    assert_eq!(a.routes["10.3.0.0/24"].local_pref, None);

    // A leaves: its routes are withdrawn everywhere.
    a.handle.clone().shutdown(None).await.unwrap();
    let ok = wait(&mut [&mut b, &mut c, &mut d], |p| {
        p[0].routes.len() == 1 && p[1].routes.is_empty() && p[2].routes.is_empty()
    })
    .await;
    assert!(
        ok,
        "b {:?} c {:?} d {:?}",
        b.routes.keys(),
        c.routes.keys(),
        d.routes.keys()
    );

    let _ = stop_tx.send(());
    tokio::time::timeout(Duration::from_secs(10), router)
        .await
        .expect("router stops")
        .unwrap()
        .unwrap();
}
