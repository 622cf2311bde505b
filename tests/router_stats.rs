//! `examples/router --output none --stats` over loopback TCP (no root): a driver peer announces
//! 3,000 prefixes in 30 UPDATEs spaced 10 ms apart; stdout must carry no route lines, stats lines
//! at least 100 ms apart and only when a counter changed, and a last line with every route once the count settles.

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::Duration;

use bgp_fsm::driver::{PeerConfig, spawn_peer};
use bgp_rib::Attrs;
use bgp_wire::{AfiSafi, Nlri, SessionContext, UpdateBuilder};

#[path = "router_common.rs"]
mod router_common;
use router_common::router_bin;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_lines_are_rate_limited_and_settle_on_the_final_count() {
    let bin = router_bin();
    assert!(
        bin.is_file(),
        "examples/router not built (cargo test builds examples)"
    );
    let port = 18_900 + (std::process::id() % 1000) as u16;
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
            "127.0.0.7",
            "--peer-as",
            "65001",
            // RFC 8212: an eBGP neighbour needs an explicit import policy.
            "--import-policy",
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
        let mut out = Vec::new();
        for l in BufReader::new(stdout).lines() {
            let Ok(l) = l else { break };
            let v: serde_json::Value = serde_json::from_str(&l).unwrap();
            let done = v["type"] == "stats" && v["routes"] == 3000;
            out.push(v);
            if done {
                break;
            }
        }
        out
    });
    let mut pc = PeerConfig::new(
        65001,
        64512,
        Ipv4Addr::new(9, 9, 9, 7),
        "127.0.0.1".parse().unwrap(),
    );
    pc.peer_port = port;
    pc.local_addr = Some("127.0.0.7".parse().unwrap());
    pc.connect_retry = Duration::from_secs(1);
    let peer = spawn_peer(pc, None);
    let _ev = peer.take_events();
    assert!(peer.wait_established(Duration::from_secs(10)).await);
    let attrs = Attrs::new("127.0.0.7".parse().unwrap()).to_wire();
    for batch in 0..30u32 {
        let ups = UpdateBuilder::new(&SessionContext::modern())
            .attributes(attrs.clone())
            .announce(
                AfiSafi::IPV4_UNICAST,
                (0..100u32).map(|i| {
                    let n = batch * 100 + i;
                    Nlri::new(format!("10.{}.{}.0/24", n / 256, n % 256).parse().unwrap())
                }),
            )
            .build()
            .unwrap();
        for u in ups {
            peer.send_update(u).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = tokio::task::spawn_blocking(move || lines.join().unwrap());
    let got = tokio::time::timeout(Duration::from_secs(20), got)
        .await
        .expect("a stats line with 3000 routes")
        .unwrap();
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    let _ = peer.shutdown(None).await;
    assert!(
        got.iter().all(|v| v["type"] != "route"),
        "--output none printed routes"
    );
    let stats: Vec<&serde_json::Value> = got.iter().filter(|v| v["type"] == "stats").collect();
    assert!(stats.len() >= 2, "{stats:?}");
    for w in stats.windows(2) {
        let dt = w[1]["elapsed_ms"].as_u64().unwrap() - w[0]["elapsed_ms"].as_u64().unwrap();
        assert!(dt >= 100, "stats lines {dt} ms apart: {stats:?}");
        let key = |v: &serde_json::Value| {
            (
                v["routes"].clone(),
                v["paths"].clone(),
                v["established"].clone(),
            )
        };
        assert_ne!(
            key(w[0]),
            key(w[1]),
            "unchanged counters printed: {stats:?}"
        );
    }
    let last = stats.last().unwrap();
    assert_eq!(last["routes"], 3000);
    assert_eq!(last["peers"], 1);
    assert_eq!(last["established"], 1);
}
