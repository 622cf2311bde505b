//! `examples/router --config FILE --metrics ADDR --control PATH` over loopback TCP (no root),
//! with bgp-fsm driver peers as neighbours: SIGHUP applies a changed import policy (re-run
//! from the kept Adj-RIB-In: a route the neighbour sent once, rejected before, now reaches
//! the others, and the policy's community is set), a changed export policy (MED set towards
//! one neighbour), starts an added neighbour and stops a removed one with Cease/Peer
//! De-configured, resets only the neighbour whose hold time changed (Cease/Other
//! Configuration Change), while the unchanged sessions stay up (no Down event at the peers, one
//! Established each, the same count in the control socket's answer and in the metrics).
//! `routerctl` answers `neighbors`, `summary` and `route PREFIX` with the reason for the best
//! path; `/metrics` is scraped over HTTP. Every eBGP neighbour has explicit import and
//! export policies (an accept-all one where nothing else is wanted), as RFC 8212 asks.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bgp_fsm::driver::{PeerConfig, PeerEvent, PeerHandle, spawn_peer};
use bgp_rib::Attrs;
use bgp_wire::attr::{AsPath, Community};
use bgp_wire::{AfiSafi, Nlri, SessionContext, UpdateBuilder};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

/// Kills the router (by its PID) when the test ends, also on failure.
struct Router(Child);

impl Drop for Router {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A test neighbour: its driver and everything it saw.
struct Peer {
    handle: PeerHandle,
    events: Arc<Mutex<Vec<String>>>,
    routes: Arc<Mutex<BTreeMap<String, Attrs>>>,
}

impl Peer {
    fn start(local: &str, asn: u32, port: u16) -> Self {
        let mut pc = PeerConfig::new(
            asn,
            64512,
            Ipv4Addr::new(9, 9, 9, asn as u8),
            "127.0.0.1".parse().unwrap(),
        );
        pc.peer_port = port;
        pc.local_addr = Some(local.parse().unwrap());
        pc.connect_retry = Duration::from_secs(1);
        pc.hold_time = 30;
        let handle = spawn_peer(pc, None);
        let mut rx = handle.take_events().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let routes = Arc::new(Mutex::new(BTreeMap::new()));
        let (e, r) = (events.clone(), routes.clone());
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                match ev {
                    PeerEvent::Established(_) => e.lock().unwrap().push("established".into()),
                    PeerEvent::Down { reason } => {
                        e.lock().unwrap().push(format!("down {reason:?}"));
                        r.lock().unwrap().clear();
                    }
                    PeerEvent::NotificationReceived(n) => {
                        e.lock().unwrap().push(format!("notification {}", n.kind()))
                    }
                    PeerEvent::Update { update, .. } => {
                        let mut r = r.lock().unwrap();
                        for (_, n) in update.withdrawn_routes() {
                            r.remove(&n.prefix.to_string());
                        }
                        if let Some(a) = Attrs::from_wire(&update.attributes) {
                            for (_, n) in update.announced() {
                                r.insert(n.prefix.to_string(), a.clone());
                            }
                        }
                    }
                    _ => {}
                }
            }
        });
        Peer {
            handle,
            events,
            routes,
        }
    }
    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
    fn route(&self, p: &str) -> Option<Attrs> {
        self.routes.lock().unwrap().get(p).cloned()
    }
    async fn announce(&self, prefixes: &[&str], asn: u32, nh: &str) {
        let mut a = Attrs::new(nh.parse().unwrap());
        a.as_path = AsPath::from_sequence([asn]);
        let ups = UpdateBuilder::new(&SessionContext::modern())
            .attributes(a.to_wire())
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

async fn until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    for _ in 0..secs * 20 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn ctl(sock: &Path, req: Value) -> Value {
    kube_bgp::router::control::request(sock, &req)
        .await
        .unwrap()
}

async fn scrape(port: u16) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.0 200 OK\r\n"), "{out}");
    assert!(out.contains("Content-Type: text/plain; version=0.0.4"));
    out
}

fn metric(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
}

const BEFORE: &str = r#"
[[neighbor]]
address = "127.0.0.2"
remote-as = 65002
passive = true
description = "downstream"
import = "all"
export = "all"

[[neighbor]]
address = "127.0.0.3"
remote-as = 65003
passive = true
import = "in3"
export = "all"

[[neighbor]]
address = "127.0.0.5"
remote-as = 65005
passive = true
import = "all"
export = "all"

[[policy.all]]
action = "accept"

[[policy.in3]]
match = { prefix = ["10.3.1.0/24"] }
"#;

const AFTER: &str = r#"
[[neighbor]]
address = "127.0.0.2"
remote-as = 65002
passive = true
description = "downstream"
import = "all"
export = "out2"

[[neighbor]]
address = "127.0.0.3"
remote-as = 65003
passive = true
import = "in3"
export = "all"

[[neighbor]]
address = "127.0.0.4"
remote-as = 65004
passive = true
import = "all"
export = "all"

[[policy.all]]
action = "accept"

[prefix-list]
p3 = ["10.3.0.0/16 le 24"]

[[policy.in3]]
match = { prefix-list = "p3", as-path = "^65003$" }
set = { community-add = ["64512:99"], local-pref = 150 }

[[policy.out2]]
set = { med = 77 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_policy_and_neighbour_changes_without_resetting_sessions() {
    let bin = example("router");
    assert!(
        bin.is_file(),
        "build the examples first: cargo build --examples"
    );
    let dir = std::env::temp_dir().join(format!("router-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("router.toml");
    let sock = dir.join("router.sock");
    std::fs::write(&conf, BEFORE).unwrap();
    let (port, mport) = (free_port(), free_port());
    let mut child = Command::new(&bin)
        .args([
            "--local-as",
            "64512",
            "--router-id",
            "10.0.0.1",
            "--output",
            "none",
        ])
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--config")
        .arg(&conf)
        .arg("--metrics")
        .arg(format!("127.0.0.1:{mport}"))
        .arg("--control")
        .arg(&sock)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let router = Router(child);
    let lines: Arc<Mutex<Vec<Value>>> = Arc::default();
    let l2 = lines.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines() {
            let Ok(l) = l else { break };
            if let Ok(v) = serde_json::from_str(&l) {
                l2.lock().unwrap().push(v);
            }
        }
    });
    let p2 = Peer::start("127.0.0.2", 65002, port);
    let p3 = Peer::start("127.0.0.3", 65003, port);
    let p4 = Peer::start("127.0.0.4", 65004, port);
    let p5 = Peer::start("127.0.0.5", 65005, port);
    for p in [&p2, &p3, &p5] {
        assert!(p.handle.wait_established(Duration::from_secs(15)).await);
    }
    p3.announce(&["10.3.1.0/24", "10.3.2.0/24"], 65003, "127.0.0.3")
        .await;
    p5.announce(&["10.5.0.0/24"], 65005, "127.0.0.5").await;
    until("10.3.1.0/24 and 10.5.0.0/24 at peer 2", 10, || {
        p2.route("10.3.1.0/24").is_some() && p2.route("10.5.0.0/24").is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(p2.route("10.3.2.0/24").is_none(), "rejected by in3");
    assert!(p2.route("10.3.1.0/24").unwrap().med.is_none());
    assert!(
        !p4.handle.wait_established(Duration::from_millis(100)).await,
        "not configured yet"
    );

    // The query interface before the reload.
    let n = ctl(&sock, serde_json::json!({"cmd": "neighbors"})).await;
    let nb = |n: &Value, a: &str| {
        n["neighbors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["address"] == a)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let before3 = nb(&n, "127.0.0.3");
    assert_eq!(before3["state"], "Established");
    assert_eq!(before3["established_count"], 1);
    assert_eq!(before3["received"], 2, "both kept before policy");
    assert_eq!(before3["accepted"], 1);
    assert_eq!(nb(&n, "127.0.0.2")["description"], "downstream");
    assert_eq!(nb(&n, "127.0.0.2")["advertised"], 2);
    let m = scrape(mport).await;
    assert_eq!(
        metric(
            &m,
            "bgp_router_neighbor_established_total{peer=\"127.0.0.3\"} "
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &m,
            "bgp_router_neighbor_prefixes_received{peer=\"127.0.0.3\"} "
        ),
        Some(2.0)
    );

    // Reload.
    std::fs::write(&conf, AFTER).unwrap();
    let st = Command::new("kill")
        .args(["-HUP", &router.0.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    until("the reload line", 10, || {
        lines.lock().unwrap().iter().any(|v| v["type"] == "reload")
    })
    .await;
    let reload = lines
        .lock()
        .unwrap()
        .iter()
        .find(|v| v["type"] == "reload")
        .cloned()
        .unwrap();
    assert_eq!(reload["added"], 1, "{reload}");
    assert_eq!(reload["removed"], 1, "{reload}");
    assert_eq!(reload["reset"], 0, "{reload}");
    assert_eq!(reload["import_changed"], 1, "{reload}");
    assert_eq!(reload["export_changed"], 1, "{reload}");

    // Import re-run from the kept routes: 10.3.2.0/24 (sent once, before the reload) now
    // passes, with the community; export policy sets MED 77 towards peer 2.
    until("10.3.2.0/24 with MED 77 at peer 2", 10, || {
        p2.route("10.3.2.0/24").is_some_and(|a| a.med == Some(77))
    })
    .await;
    let a = p2.route("10.3.2.0/24").unwrap();
    assert!(a.communities.contains(&Community::new(64512, 99)));
    until("10.3.1.0/24 re-sent with MED 77", 10, || {
        p2.route("10.3.1.0/24").is_some_and(|a| a.med == Some(77))
    })
    .await;
    // The removed neighbour: Cease/Peer De-configured, its route withdrawn at peer 2.
    until("peer 5 down", 10, || {
        p5.events().iter().any(|e| e.starts_with("down"))
    })
    .await;
    assert!(
        p5.events().iter().any(|e| e.contains("Peer De-configured")),
        "{:?}",
        p5.events()
    );
    until("10.5.0.0/24 withdrawn at peer 2", 10, || {
        p2.route("10.5.0.0/24").is_none()
    })
    .await;
    // The added neighbour comes up and gets the table.
    assert!(p4.handle.wait_established(Duration::from_secs(15)).await);
    until("routes at the added peer 4", 10, || {
        p4.route("10.3.2.0/24").is_some() && p4.route("10.3.1.0/24").is_some()
    })
    .await;
    assert!(
        p4.route("10.3.1.0/24").unwrap().med.is_none(),
        "out2 is peer 2's only"
    );

    // No flap: the unchanged sessions never went down and came up once.
    for (p, name) in [(&p2, "2"), (&p3, "3")] {
        assert_eq!(p.events(), vec!["established".to_string()], "peer {name}");
    }
    let est: Vec<String> = lines
        .lock()
        .unwrap()
        .iter()
        .filter(|v| v["type"] == "session" && v["state"] == "established")
        .map(|v| v["peer"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(est.iter().filter(|p| *p == "127.0.0.2").count(), 1);
    assert_eq!(est.iter().filter(|p| *p == "127.0.0.3").count(), 1);
    let n = ctl(&sock, serde_json::json!({"cmd": "neighbors"})).await;
    let after3 = nb(&n, "127.0.0.3");
    assert_eq!(after3["established_count"], 1);
    assert!(after3["uptime"].as_u64().unwrap() >= before3["uptime"].as_u64().unwrap());
    assert_eq!(
        before3["uptime"].as_u64().map(|_| ()),
        Some(()),
        "a number while up"
    );
    assert_eq!(after3["accepted"], 2);
    assert_eq!(nb(&n, "127.0.0.5"), Value::Null, "removed");
    assert_eq!(nb(&n, "127.0.0.4")["state"], "Established");
    let m = scrape(mport).await;
    assert_eq!(
        metric(
            &m,
            "bgp_router_neighbor_established_total{peer=\"127.0.0.3\"} "
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&m, "bgp_router_neighbor_up{peer=\"127.0.0.4\"} "),
        Some(1.0)
    );
    assert!(
        metric(&m, "bgp_router_neighbor_messages_total{peer=\"127.0.0.3\",direction=\"in\",type=\"update\"} ")
            .is_some_and(|v| v >= 1.0)
    );
    assert!(metric(&m, "bgp_router_process_resident_memory_bytes ").is_some_and(|v| v > 1e6));
    assert_eq!(metric(&m, "bgp_router_rib_prefixes "), Some(2.0));

    // Route query: the best path and why.
    let r = ctl(
        &sock,
        serde_json::json!({"cmd": "route", "prefix": "10.3.2.7"}),
    )
    .await;
    assert_eq!(r["prefix"], "10.3.2.0/24");
    let paths = r["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 1);
    assert_eq!(paths[0]["best"], true);
    assert_eq!(paths[0]["why"], "best (only path)");
    assert_eq!(paths[0]["local_pref"], 150);
    assert_eq!(paths[0]["as_path"], "65003");
    // A second path for 10.3.1.0/24 from peer 4 with a longer AS_PATH loses on it.
    p4.announce(&["10.3.1.0/24"], 65004, "127.0.0.4").await;
    let mut r = Value::Null;
    for _ in 0..100 {
        r = ctl(
            &sock,
            serde_json::json!({"cmd": "route", "prefix": "10.3.1.0/24"}),
        )
        .await;
        if r["paths"].as_array().is_some_and(|p| p.len() == 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let paths = r["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 2, "{r}");
    assert_eq!(paths[0]["peer"], "127.0.0.3");
    assert_eq!(paths[0]["why"], "best (local-pref)");
    assert_eq!(paths[1]["peer"], "127.0.0.4");
    assert_eq!(paths[1]["why"], "lost to best on local-pref");

    // The CLI.
    let ctl_bin = example("routerctl");
    assert!(ctl_bin.is_file(), "build the examples first");
    let sock2 = sock.clone();
    let run = move |args: &[&str]| {
        let o = Command::new(&ctl_bin)
            .arg("--control")
            .arg(&sock2)
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let t = tokio::task::spawn_blocking(move || {
        (
            run(&["neighbors"]),
            run(&["route", "10.3.1.0/24"]),
            run(&["--json", "summary"]),
        )
    })
    .await
    .unwrap();
    assert!(
        t.0.lines().any(|l| l.starts_with("127.0.0.2")
            && l.contains("Established")
            && l.ends_with("downstream")),
        "{}",
        t.0
    );
    assert!(
        t.1.contains("*> from 127.0.0.3") && t.1.contains("lost to best on local-pref"),
        "{}",
        t.1
    );
    let s: Value = serde_json::from_str(&t.2).unwrap();
    assert_eq!(s["local_as"], 64512);
    assert_eq!(s["neighbors"], 3);
    assert_eq!(s["established"], 3);
    assert_eq!(
        ctl(&sock, serde_json::json!({"cmd": "nope"})).await["error"]
            .as_str()
            .map(|e| e.starts_with("bad request")),
        Some(true)
    );

    // A changed session parameter (hold time of peer 4) resets that session alone, with
    // Cease/Other Configuration Change; it comes back up.
    std::fs::write(
        &conf,
        AFTER.replace("remote-as = 65004\n", "remote-as = 65004\nhold-time = 60\n"),
    )
    .unwrap();
    let st = Command::new("kill")
        .args(["-HUP", &router.0.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    until("the second reload line", 10, || {
        lines
            .lock()
            .unwrap()
            .iter()
            .filter(|v| v["type"] == "reload")
            .count()
            == 2
    })
    .await;
    let reload = lines
        .lock()
        .unwrap()
        .iter()
        .rfind(|v| v["type"] == "reload")
        .cloned()
        .unwrap();
    assert_eq!(
        (
            &reload["reset"],
            &reload["added"],
            &reload["removed"],
            &reload["import_changed"]
        ),
        (&1.into(), &0.into(), &0.into(), &0.into()),
        "{reload}"
    );
    for _ in 0..300 {
        if p4.events().iter().filter(|e| *e == "established").count() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        p4.events().iter().filter(|e| *e == "established").count(),
        2,
        "peer 4 reset and back: {:?}",
        p4.events()
    );
    assert!(
        p4.events()
            .iter()
            .any(|e| e.contains("Other Configuration Change")),
        "{:?}",
        p4.events()
    );
    until("routes at peer 4 again", 10, || {
        p4.route("10.3.2.0/24").is_some()
    })
    .await;
    for (p, name) in [(&p2, "2"), (&p3, "3")] {
        assert_eq!(p.events(), vec!["established".to_string()], "peer {name}");
    }

    // A file that does not parse changes nothing.
    std::fs::write(&conf, "[[neighbor]]\naddress = \"nonsense\"\n").unwrap();
    let st = Command::new("kill")
        .args(["-HUP", &router.0.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        lines
            .lock()
            .unwrap()
            .iter()
            .filter(|v| v["type"] == "reload")
            .count(),
        2
    );
    let s = ctl(&sock, serde_json::json!({"cmd": "summary"})).await;
    assert_eq!(
        (&s["neighbors"], &s["established"]),
        (&3.into(), &3.into()),
        "{s}"
    );

    for p in [p2, p3, p4, p5] {
        let _ = p.handle.shutdown(None).await;
    }
    drop(router);
    let _ = std::fs::remove_dir_all(&dir);
}
