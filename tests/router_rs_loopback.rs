//! Route-server mode of `kube_bgp::router::run` over real TCP on loopback, no root needed:
//! three bgp-fsm driver peers in three ASes are route-server clients (RFC 7947), a fourth eBGP
//! peer is not. Each client must receive the others' routes with AS_PATH, NEXT_HOP and MED as
//! sent (our AS absent), never its own; the plain eBGP peer gets the RFC 4271 rewrite (our AS
//! prepended, our next hop, no MED).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bgp_fsm::driver::{PeerConfig, PeerEvent, PeerHandle, spawn_peer};
use bgp_rib::Attrs;
use bgp_wire::attr::AsPath;
use bgp_wire::{AfiSafi, Nlri, SessionContext, UpdateBuilder};
use kube_bgp::router::output::OutputMode;
use kube_bgp::router::{NeighborConfig, RouterConfig, run};
use tokio::sync::mpsc;

const LOCAL_AS: u32 = 64512;

struct Client {
    handle: PeerHandle,
    rx: mpsc::Receiver<PeerEvent>,
    routes: BTreeMap<String, Attrs>,
}

impl Client {
    fn start(last: u8, asn: u32, port: u16) -> Self {
        let mut pc = PeerConfig::new(
            asn,
            LOCAL_AS,
            Ipv4Addr::new(9, 9, 9, last),
            "127.0.0.1".parse().unwrap(),
        );
        pc.peer_port = port;
        pc.local_addr = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 1, last)));
        pc.connect_retry = Duration::from_secs(1);
        pc.hold_time = 30;
        let handle = spawn_peer(pc, None);
        let rx = handle.take_events().unwrap();
        Client {
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
    async fn announce(&self, prefix: &str, attrs: &Attrs) {
        let ups = UpdateBuilder::new(&SessionContext::modern())
            .attributes(attrs.to_wire())
            .announce(AfiSafi::IPV4_UNICAST, [Nlri::new(prefix.parse().unwrap())])
            .build()
            .unwrap();
        for u in ups {
            self.handle.send_update(u).await.unwrap();
        }
    }
}

fn route_of(last: u8) -> Attrs {
    let mut a = Attrs::new(IpAddr::V4(Ipv4Addr::new(127, 0, 1, last)));
    a.as_path = AsPath::from_sequence([65000 + u32::from(last), 174]);
    a.med = Some(u32::from(last));
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_server_clients_get_routes_transparently_plain_ebgp_does_not() {
    let port = 18_900 + (std::process::id() % 1000) as u16;
    let mut cfg = RouterConfig::new(LOCAL_AS, "10.0.0.1".parse().unwrap());
    cfg.listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
    cfg.output = OutputMode::None;
    for last in [2u8, 3, 4, 5] {
        let mut n = NeighborConfig::new(
            IpAddr::V4(Ipv4Addr::new(127, 0, 1, last)),
            65000 + u32::from(last),
        );
        n.passive = true;
        n.hold_time = 30;
        n.rs_client = last != 5;
        // RFC 8212: explicit policies on every eBGP neighbour.
        n.import = Some(std::sync::Arc::new(bgp_rib::policy::AcceptAll));
        n.export = Some(std::sync::Arc::new(bgp_rib::policy::AcceptAll));
        cfg.neighbors.push(n);
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let router = tokio::spawn(run(cfg, async {
        let _ = stop_rx.await;
    }));
    let mut c: Vec<Client> = [2u8, 3, 4, 5]
        .iter()
        .map(|l| Client::start(*l, 65000 + u32::from(*l), port))
        .collect();
    for p in &c {
        assert!(p.handle.wait_established(Duration::from_secs(10)).await);
    }
    for (i, last) in [2u8, 3, 4, 5].iter().enumerate() {
        c[i].announce(&format!("10.{last}.0.0/24"), &route_of(*last))
            .await;
    }
    let mut ok = false;
    for _ in 0..200 {
        c.iter_mut().for_each(Client::drain);
        if c.iter().all(|p| p.routes.len() == 3) {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        ok,
        "{:?}",
        c.iter()
            .map(|p| p.routes.keys().collect::<Vec<_>>())
            .collect::<Vec<_>>()
    );
    for (i, me) in [2u8, 3, 4, 5].iter().enumerate() {
        assert!(
            !c[i].routes.contains_key(&format!("10.{me}.0.0/24")),
            "own route back"
        );
        for from in [2u8, 3, 4, 5].iter().filter(|x| *x != me) {
            let r = &c[i].routes[&format!("10.{from}.0.0/24")];
            let sent = route_of(*from);
            if *me == 5 {
                // Plain eBGP: RFC 4271 rewrite.
                let mut want = sent.as_path.clone();
                bgp_rib::export::prepend(&mut want, LOCAL_AS, 1);
                assert_eq!(r.as_path, want);
                assert_eq!(r.next_hop, "127.0.0.1".parse::<IpAddr>().unwrap());
                assert_eq!(r.med, None);
            } else {
                // Route-server client: transparent (RFC 7947 §2.2), also for the non-client's route.
                assert_eq!(r.as_path, sent.as_path, "to {me} from {from}");
                assert_eq!(r.next_hop, sent.next_hop, "to {me} from {from}");
                assert_eq!(r.med, sent.med, "to {me} from {from}");
            }
        }
    }
    let _ = stop_tx.send(());
    tokio::time::timeout(Duration::from_secs(10), router)
        .await
        .expect("router stops")
        .unwrap()
        .unwrap();
}
