//! Update groups in `examples/router` over loopback TCP (no root): three eBGP neighbours whose
//! sessions share the router's address 127.0.0.1 have equal export parameters and form one
//! update group. The feeder announces 2,000 prefixes in 10 attribute sets and withdraws 100;
//! the two other members must receive identical UPDATE sequences, the feeder none of its own
//! routes back (split horizon inside the group), and the router's `update_group` line must show
//! one group of three members whose exports were computed once per attribute set and whose
//! UPDATEs were packed once for both receivers.

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bgp_fsm::driver::{PeerConfig, PeerEvent, PeerHandle, spawn_peer};
use bgp_rib::Attrs;
use bgp_wire::attr::AsPath;
use bgp_wire::{AfiSafi, Nlri, SessionContext, Update, UpdateBuilder};
use tokio::sync::mpsc;

#[path = "router_common.rs"]
mod router_common;
use router_common::router_bin;

fn peer(addr: &str, asn: u32, port: u16) -> (PeerHandle, mpsc::Receiver<PeerEvent>) {
    let mut pc = PeerConfig::new(
        asn,
        64512,
        Ipv4Addr::new(9, 9, 9, asn as u8),
        "127.0.0.1".parse().unwrap(),
    );
    pc.peer_port = port;
    pc.local_addr = Some(addr.parse().unwrap());
    pc.connect_retry = Duration::from_secs(1);
    let h = spawn_peer(pc, None);
    let rx = h.take_events().unwrap();
    (h, rx)
}

fn prefix(i: u32) -> Nlri {
    Nlri::new(format!("10.{}.{}.0/24", i / 256, i % 256).parse().unwrap())
}

/// Every UPDATE received so far.
fn drain(rx: &mut mpsc::Receiver<PeerEvent>, into: &mut Vec<Update>) {
    while let Ok(e) = rx.try_recv() {
        if let PeerEvent::Update { update, .. } = e {
            into.push(*update);
        }
    }
}

fn nlri_count(ups: &[Update]) -> (usize, usize) {
    (
        ups.iter().map(|u| u.nlri.len()).sum(),
        ups.iter().map(|u| u.withdrawn.len()).sum(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equivalent_neighbours_share_one_computation_and_get_identical_updates() {
    let bin = router_bin();
    assert!(
        bin.is_file(),
        "examples/router not built (cargo build --examples)"
    );
    let port = 19_900 + (std::process::id() % 1000) as u16;
    let mut child = Command::new(&bin)
        .args([
            "--local-as",
            "64512",
            "--router-id",
            "10.0.0.1",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--passive",
            "--peer",
            "127.0.0.2",
            "--peer",
            "127.0.0.3",
            "--peer",
            "127.0.0.4",
            "--peer-as",
            "65001",
            "--peer-as",
            "65002",
            "--peer-as",
            "65003",
            // RFC 8212 is on by default: explicit accept-all policies (which run no policy,
            // so the three still form one group).
            "--import-policy",
            "accept",
            "--export-policy",
            "accept",
            "--output",
            "none",
            "--stats",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .map(|l| serde_json::from_str::<serde_json::Value>(&l).unwrap())
            .collect::<Vec<_>>()
    });
    let (feed, mut feed_rx) = peer("127.0.0.2", 65001, port);
    let (a, mut a_rx) = peer("127.0.0.3", 65002, port);
    let (b, mut b_rx) = peer("127.0.0.4", 65003, port);
    for h in [&feed, &a, &b] {
        assert!(h.wait_established(Duration::from_secs(10)).await);
    }
    // Let the router see all three sessions (and join them to their group) before routes flow.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ctx = SessionContext::modern();
    for set in 0..10u32 {
        let mut at = Attrs::new("127.0.0.2".parse().unwrap());
        at.as_path = AsPath::from_sequence([65001, 100 + set]);
        let ups = UpdateBuilder::new(&ctx)
            .attributes(at.to_wire())
            .announce(
                AfiSafi::IPV4_UNICAST,
                (0..200).map(|i| prefix(set * 200 + i)),
            )
            .build()
            .unwrap();
        for u in ups {
            feed.send_update(u).await.unwrap();
        }
    }
    let w = UpdateBuilder::new(&ctx)
        .withdraw(AfiSafi::IPV4_UNICAST, (0..100).map(prefix))
        .build()
        .unwrap();
    for u in w {
        feed.send_update(u).await.unwrap();
    }
    let (mut got_a, mut got_b, mut got_feed) = (Vec::new(), Vec::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        drain(&mut a_rx, &mut got_a);
        drain(&mut b_rx, &mut got_b);
        drain(&mut feed_rx, &mut got_feed);
        let settled = |g: &[Update]| {
            let (ann, wd) = nlri_count(g);
            // 2000 announced; the 100 withdrawn either never left or left and were withdrawn.
            ann >= 1900 && ann - wd == 1900
        };
        if settled(&got_a) && settled(&got_b) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a {:?} b {:?}",
            nlri_count(&got_a),
            nlri_count(&got_b)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Nothing more is coming for anyone.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drain(&mut a_rx, &mut got_a);
    drain(&mut b_rx, &mut got_b);
    drain(&mut feed_rx, &mut got_feed);
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = tokio::task::spawn_blocking(move || lines.join().unwrap());
    let out = tokio::time::timeout(Duration::from_secs(10), out)
        .await
        .expect("router exits on SIGINT")
        .unwrap();
    let _ = child.wait();
    for h in [feed, a, b] {
        let _ = h.shutdown(None).await;
    }

    assert_eq!(got_a, got_b, "both members receive the same UPDATEs");
    assert!(
        got_feed.iter().all(|u| u.nlri.is_empty()),
        "split horizon: the feeder gets none of its routes back"
    );
    let eor = Update::default();
    let shared: Vec<&Update> = got_a.iter().filter(|u| **u != eor).collect();
    let groups: Vec<&serde_json::Value> = out
        .iter()
        .filter(|v| v["type"] == "update_group" && v["members"].is_array())
        .collect();
    let last = groups.last().expect("update_group lines with --stats");
    assert_eq!(
        last["members"].as_array().unwrap().len(),
        3,
        "one group for the three equivalent neighbours: {groups:?}"
    );
    assert!(
        groups.iter().all(|g| g["group"] == last["group"]),
        "a single group: {groups:?}"
    );
    // One export computation per attribute set (not per prefix, not per member).
    assert_eq!(last["exports"], 10, "{last}");
    assert_eq!(last["export_cache_hits"], 1990, "{last}");
    // Packed once: the group's stream has exactly the UPDATEs each member received.
    assert_eq!(
        last["updates"].as_u64().unwrap() as usize,
        shared.len(),
        "{last}"
    );
    assert_eq!(last["advertised"], 1900);
}
