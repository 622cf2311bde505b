//! bgp-rib's export side against a live peer: routes learned over eBGP from ExaBGP (AS 65001)
//! go through the RIB and an `AdjRibOut` and are sent, packed by `take_updates`, over the
//! bgp-fsm driver to FRR (AS 65002), as a transit router would. FRR must see our AS prepended,
//! our address as next hop, the communities kept, the MED of another AS dropped, no route
//! marked NO_EXPORT, an End-of-RIB, and the withdrawals when ExaBGP goes away; tshark finds
//! nothing malformed in what we sent. Needs root, FRR, ExaBGP, tcpdump and tshark.

#[path = "../bgp-fsm/tests/common/mod.rs"]
mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bgp_fsm::driver::{Listener, PeerConfig, PeerEvent, spawn_peer};
use bgp_rib::export::{AdjRibOut, OutPeerConfig};
use bgp_rib::{DecisionConfig, PeerInfo, Rib};
use bgp_wire::{AfiSafi, SessionContext, UpdateAction};
use testlab::{Exabgp, Frr, Netns, link, require_root_and, wait_until};

const RID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const OUR_A: &str = "10.1.0.1";
const EXA: &str = "10.1.0.2";
const OUR_B: &str = "10.2.0.1";
const FRR_B: &str = "10.2.0.2";
/// Sent on to FRR; 10.9.2.0/24 carries NO_EXPORT and must not be.
const EXPORTED: [&str; 4] = ["10.9.1.0/24", "10.9.3.0/24", "10.9.4.0/24", "10.9.5.0/24"];

fn exabgp_conf() -> String {
    let same =
        format!("next-hop {EXA} origin igp as-path [ 65001 ] med 50 community [ 65001:100 ]");
    format!(
        "neighbor {OUR_A} {{\n router-id {EXA};\n local-address {EXA};\n local-as 65001;\n \
         peer-as 64512;\n hold-time 9;\n static {{\n  \
         route 10.9.1.0/24 {same};\n  route 10.9.4.0/24 {same};\n  route 10.9.5.0/24 {same};\n  \
         route 10.9.2.0/24 next-hop {EXA} origin igp as-path [ 65001 65010 ] community [ no-export ];\n  \
         route 10.9.3.0/24 next-hop {EXA} origin egp as-path [ 65001 65010 ];\n }}\n}}\n"
    )
}

/// Our router: ExaBGP's routes into the RIB, the RIB's best paths out to FRR.
async fn transit(stop: Arc<AtomicBool>) {
    let listener = Listener::bind(format!("{OUR_A}:179").parse().unwrap())
        .await
        .unwrap();
    let mut ca = PeerConfig::new(64512, 65001, RID, EXA.parse().unwrap());
    ca.passive = true;
    ca.hold_time = 9;
    let a = spawn_peer(ca, Some(&listener));
    let mut cb = PeerConfig::new(64512, 65002, RID, FRR_B.parse().unwrap());
    cb.local_addr = Some(OUR_B.parse().unwrap());
    cb.hold_time = 9;
    cb.connect_retry = Duration::from_secs(1);
    let b = spawn_peer(cb, None);
    let mut ea = a.take_events().unwrap();
    let mut eb = b.take_events().unwrap();

    let mut rib = Rib::new(DecisionConfig::new(64512, RID));
    let ida = rib.add_peer(PeerInfo::new(
        EXA.parse().unwrap(),
        65001,
        EXA.parse().unwrap(),
        64512,
    ));
    let idb = rib.add_peer(PeerInfo::new(
        FRR_B.parse().unwrap(),
        65002,
        FRR_B.parse().unwrap(),
        64512,
    ));
    let mut out = AdjRibOut::new(
        idb,
        OutPeerConfig {
            info: rib.peer_info(idb).cloned().unwrap(),
            local_addr: OUR_B.parse::<IpAddr>().unwrap(),
            next_hop_self: false,
            route_reflector: false,
            policy: None,
            families: vec![AfiSafi::IPV4_UNICAST],
            add_path: false,
        },
    );
    let mut ctx_b: Option<SessionContext> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while !stop.load(Ordering::Relaxed) {
        tokio::select! {
            Some(e) = ea.recv() => match e {
                PeerEvent::Update { update, verdict } => match verdict.action() {
                    None => {
                        rib.apply_update(ida, &update).unwrap();
                    }
                    Some(UpdateAction::TreatAsWithdraw) => {
                        for (_, n) in &verdict.treat_as_withdraw {
                            rib.withdraw(ida, n.prefix, n.path_id.unwrap_or(0));
                        }
                    }
                    Some(other) => panic!("unexpected verdict from ExaBGP: {other:?}"),
                },
                PeerEvent::Down { .. } => rib.peer_down(ida),
                _ => {}
            },
            Some(e) = eb.recv() => match e {
                PeerEvent::Established(n) => {
                    ctx_b = Some(n.context.clone());
                    out.reset();
                    out.initial_dump(&rib);
                }
                PeerEvent::Down { .. } => {
                    ctx_b = None;
                    out.reset();
                }
                _ => {}
            },
            _ = tick.tick() => {}
        }
        let deltas = rib.drain_deltas();
        out.process(&rib, &deltas);
        if let Some(ctx) = &ctx_b {
            for u in out.take_updates(ctx) {
                let _ = b.send_update(u).await;
            }
        }
    }
    assert_eq!(out.encode_errors(), 0);
    let _ = b.shutdown(None).await;
    let _ = a.shutdown(None).await;
}

#[test]
fn transit_routes_reach_frr_through_adj_rib_out() {
    if !require_root_and(&[
        "ip",
        "vtysh",
        "/usr/lib/frr/bgpd",
        "/usr/lib/frr/zebra",
        "exabgp",
        "tcpdump",
        "tshark",
    ]) {
        return;
    }
    let ours = Netns::new("xo").unwrap();
    let exa_ns = Netns::new("xa").unwrap();
    let frr_ns = Netns::new("xb").unwrap();
    let _va = link(&ours, &format!("{OUR_A}/24"), &exa_ns, &format!("{EXA}/24")).unwrap();
    let vb = link(
        &ours,
        &format!("{OUR_B}/24"),
        &frr_ns,
        &format!("{FRR_B}/24"),
    )
    .unwrap();
    let frr = Frr::start(&frr_ns, &Frr::config(65002, FRR_B, &[(OUR_B, 64512)])).unwrap();
    let mut cap = testlab::Capture::start(&ours, vb.a_if(), None).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let prog = {
        let (ns, stop) = (ours.clone(), stop.clone());
        std::thread::spawn(move || common::in_netns(&ns, move || transit(stop)))
    };
    let mut exa = Exabgp::start(&exa_ns, &exabgp_conf()).unwrap();

    let all_there = || EXPORTED.iter().all(|p| frr.path_count(p) == 1);
    let ok = wait_until(Duration::from_secs(30), all_there);
    if !ok || prog.is_finished() {
        stop.store(true, Ordering::Relaxed);
        let _ = prog.join();
        panic!(
            "FRR did not get the routes: {}",
            frr.vtysh("show bgp ipv4 unicast").unwrap_or_default()
        );
    }
    // Give a NO_EXPORT leak time to show up before checking it is absent.
    std::thread::sleep(Duration::from_secs(2));
    let check = || -> Result<(), String> {
        if frr.path_count("10.9.2.0/24") != 0 {
            return Err("NO_EXPORT route was sent".into());
        }
        let r = frr.route_json("10.9.1.0/24").map_err(|e| e.to_string())?;
        let p = &r["paths"][0];
        if p["aspath"]["string"] != "64512 65001" {
            return Err(format!("AS path: {}", p["aspath"]));
        }
        if p["nexthops"][0]["ip"] != OUR_B {
            return Err(format!("next hop: {}", p["nexthops"]));
        }
        if p["community"]["string"] != "65001:100" {
            return Err(format!("communities: {}", p["community"]));
        }
        if !p["metric"].is_null() {
            return Err(format!(
                "MED of AS 65001 passed on to AS 65002: {}",
                p["metric"]
            ));
        }
        let r3 = frr.route_json("10.9.3.0/24").map_err(|e| e.to_string())?;
        let p3 = &r3["paths"][0];
        if p3["aspath"]["string"] != "64512 65001 65010" || p3["origin"] != "EGP" {
            return Err(format!("10.9.3.0/24: {p3}"));
        }
        Ok(())
    };
    let checked = check();

    // ExaBGP goes away: its routes are withdrawn from FRR.
    exa.stop();
    let gone = wait_until(Duration::from_secs(15), || {
        EXPORTED.iter().all(|p| frr.path_count(p) == 0)
    });
    stop.store(true, Ordering::Relaxed);
    prog.join().unwrap();
    checked.unwrap();
    assert!(
        gone,
        "routes left at FRR: {}",
        frr.vtysh("show bgp ipv4 unicast").unwrap_or_default()
    );
    std::thread::sleep(Duration::from_millis(300));
    cap.stop().unwrap();
    let eor = cap
        .tshark(&[
            "-Y",
            &format!("ip.src=={OUR_B} && bgp.type==2 && bgp.length==23"),
        ])
        .unwrap();
    assert!(
        eor.lines().any(|l| !l.trim().is_empty()),
        "no End-of-RIB sent"
    );
    assert_eq!(cap.malformed_count().unwrap(), 0);
}
