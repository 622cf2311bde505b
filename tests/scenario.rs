//! The reference scenario, automated: an FRR router (iBGP AS 64512, 192.168.1.1) and six
//! nodes (192.168.1.10, .21-.25) on one bridge, each running the `announce` example with
//! the same config file shape; a client (192.168.10.100) behind the router.
//!
//! Asserts: six kernel next hops for 172.16.10.0/32 (allocated from a pool), communities,
//! large communities and LOCAL_PREF in FRR's JSON, the client reaches the service, SIGHUPs
//! that add then remove a prefix reach FRR without resetting any session, a ROUTE-REFRESH
//! from FRR is answered, a bad reload is refused
//! and the old config kept, a failing health check withdraws only that node's path,
//! SIGTERM leaves our shutdown message as FRR's last reset reason and exits 0, a SIGTERM
//! with a graceful-shutdown drain first moves traffic away (GRACEFUL_SHUTDOWN community,
//! LOCAL_PREF 0) and then withdraws, and tshark
//! finds no malformed packet. Prints the measured times (start to six kernel next hops,
//! SIGTERM to next hop gone, SIGTERM of all to route gone).
//!
//! Needs root, FRR, tcpdump and tshark; skips otherwise.

mod scenario_common;

use std::time::{Duration, Instant};

use scenario_common::*;
use testlab::{Capture, Frr, Netns, link, wait_until};

const SERVICE: &str = "172.16.10.0/32";
const NODES: [&str; 6] = [
    "192.168.1.10",
    "192.168.1.21",
    "192.168.1.22",
    "192.168.1.23",
    "192.168.1.24",
    "192.168.1.25",
];

fn node_config(i: usize, health_file: &str, extra_prefix: Option<&str>) -> String {
    let prefix = extra_prefix
        .map(|p| format!("prefix = [\"{p}\"]\n"))
        .unwrap_or_default();
    let health = if i == 1 {
        format!(
            "health = {{ command = [\"test\", \"-e\", \"{health_file}\"], interval-ms = 200, rise = 1, fall = 2 }}\n"
        )
    } else {
        String::new()
    };
    let drain = if i == 4 {
        "graceful-shutdown-drain = 3\n"
    } else {
        ""
    };
    format!(
        r#"{drain}local-as = 64512
peer = ["192.168.1.1"]
peer-as = 64512
hold-time = 9
keepalive = 3
connect-retry = 1
community = ["64512:100"]
large-community = ["64512:1:{i}"]
local-pref = 200
metrics = "127.0.0.1:9179"
shutdown-message = "node {i} going down for maintenance"
{prefix}
[[pool]]
name = "default"
cidr = "172.16.10.0/24"

[[service]]
name = "web"
pool = "default"
{health}"#
    )
}

#[test]
fn six_nodes_ecmp_reload_health_and_shutdown() {
    if !lab_available() {
        return;
    }
    let bin = announce_bin();
    let neighbors: Vec<(&str, u32)> = NODES.iter().map(|a| (*a, 64512)).collect();
    let conf = Frr::config(64512, "192.168.1.1", &neighbors);
    let node_addrs: Vec<(String, &str)> = NODES.iter().map(|a| (format!("{a}/24"), *a)).collect();
    let node_refs: Vec<(&str, &str)> = node_addrs.iter().map(|(x, a)| (x.as_str(), *a)).collect();
    let mut lab = Lab::new("192.168.1.1/24", &node_refs, &conf);
    // The client behind the router.
    let client = Netns::new("scl").unwrap();
    let _cl = link(&lab.router, "192.168.10.1/24", &client, "192.168.10.100/24").unwrap();
    client.add_route("default", "192.168.10.1").unwrap();
    let mut cap = Capture::start(&lab.router, "eth0", None).unwrap();
    let health_file = lab.tmp.path().join("node1-healthy");
    std::fs::write(&health_file, "ok").unwrap();
    let hf = health_file.to_str().unwrap().to_string();

    // The service address lives on each node's loopback; a web server answers with the node.
    for (i, n) in lab.nodes.iter().enumerate() {
        n.ns.add_addr("lo", "172.16.10.0/32").unwrap();
        n.ns.add_route("192.168.10.0/24", "192.168.1.1").unwrap();
        n.write_config(&node_config(i, &hf, None));
        let www = n.dir.join("www");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::write(www.join("index.html"), format!("node{i}\n")).unwrap();
        if testlab::require_tool("python3") {
            n.ns.spawn_args(
                &[
                    "python3",
                    "-m",
                    "http.server",
                    "8080",
                    "--bind",
                    "172.16.10.0",
                    "--directory",
                    www.to_str().unwrap(),
                ],
                None,
            )
            .unwrap();
        }
    }

    // Start all six speakers; measure until FRR's kernel route has six next hops.
    let t0 = Instant::now();
    for n in lab.nodes.iter_mut() {
        n.start(&["--json"]);
    }
    let first = wait_until(T, || !gateways(&lab.frr, SERVICE).is_empty()).then(|| t0.elapsed());
    let six = wait_gateways(&lab.frr, SERVICE, 6, T).map(|_| t0.elapsed());
    assert!(
        six.is_some(),
        "no 6 next hops: {:?} / {}",
        gateways(&lab.frr, SERVICE),
        lab.frr.route_json(SERVICE).unwrap_or_default()
    );
    eprintln!(
        "MEASURED: announce start -> first kernel next hop {:?}, -> six kernel next hops {:?} ({})",
        first.unwrap(),
        six.unwrap(),
        bin.display()
    );
    let mut want: Vec<String> = NODES.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(gateways(&lab.frr, SERVICE), want);

    // Attributes as FRR sees them.
    let ps = paths(&lab.frr, SERVICE);
    assert_eq!(ps.len(), 6);
    for p in &ps {
        let s = p.to_string();
        assert_eq!(p["locPrf"].as_u64(), Some(200), "{s}");
        assert!(s.contains("64512:100"), "community missing: {s}");
        assert!(s.contains("64512:1:"), "large community missing: {s}");
    }

    // The client reaches the service through the router.
    if testlab::require_tool("python3") && testlab::require_tool("curl") {
        let ok = wait_until(Duration::from_secs(10), || {
            client
                .output(&["curl", "-s", "--max-time", "2", "http://172.16.10.0:8080/"])
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).starts_with("node"))
        });
        assert!(ok, "client could not curl the service");
    }

    // Metrics on a node.
    let m = lab.nodes[0]
        .ns
        .output(&[
            "curl",
            "-s",
            "--max-time",
            "2",
            "http://127.0.0.1:9179/metrics",
        ])
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    if testlab::require_tool("curl") {
        assert!(
            m.contains("kube_bgp_session_up{peer=\"192.168.1.1\"} 1"),
            "metrics: {m}"
        );
    }

    // Session identity before reloads: established/dropped counts and uptime.
    let session = |a: &str| {
        (
            neighbor_u64(&lab.frr, a, "connectionsEstablished"),
            neighbor_u64(&lab.frr, a, "connectionsDropped"),
        )
    };
    let before: Vec<(Option<u64>, Option<u64>)> = NODES.iter().map(|a| session(a)).collect();
    let up_before: Vec<u64> = NODES
        .iter()
        .map(|a| neighbor_u64(&lab.frr, a, "bgpTimerUpMsec").unwrap_or(0))
        .collect();

    // SIGHUP adding a prefix on node 0: FRR gets it, no session resets.
    lab.nodes[0].write_config(&node_config(0, &hf, Some("172.16.20.0/32")));
    lab.nodes[0].signal("HUP");
    assert!(
        wait_until(T, || lab.frr.path_count("172.16.20.0/32") == 1),
        "reload did not announce the new prefix"
    );
    // FRR asks node 0 for its routes again (ROUTE-REFRESH): they are re-sent, no reset.
    lab.frr
        .vtysh(&format!("clear bgp ipv4 unicast {} soft in", NODES[0]))
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || lab.nodes[0].log().contains(
            r#""event":"route_refreshed","peer":"192.168.1.1","family":"ipv4-unicast","prefixes":2"#
        )),
        "no route refresh answered: {}",
        lab.nodes[0].log()
    );
    assert_eq!(lab.frr.path_count("172.16.20.0/32"), 1);
    // SIGHUP removing it again: withdrawn on the live session.
    lab.nodes[0].write_config(&node_config(0, &hf, None));
    lab.nodes[0].signal("HUP");
    assert!(
        wait_until(T, || lab.frr.path_count("172.16.20.0/32") == 0),
        "reload did not withdraw the removed prefix"
    );
    assert_eq!(lab.frr.path_count(SERVICE), 6);
    // A bad reload on node 2 is refused; the old config stays.
    lab.nodes[2].write_config("local-as = 64512\npeer = [\"192.168.1.1\"]\npeer-as = 64512\ncommunity = [\"64512:999999\"]\n");
    lab.nodes[2].signal("HUP");
    assert!(wait_until(Duration::from_secs(10), || lab.nodes[2]
        .log()
        .contains("reload refused")));
    assert!(lab.nodes[2].log().contains("`community`: `64512:999999`"));
    assert!(lab.nodes[2].running());

    // Health check failure on node 1: only its path goes.
    std::fs::remove_file(&health_file).unwrap();
    assert!(
        wait_gateways(&lab.frr, SERVICE, 5, T).is_some(),
        "unhealthy node still announced: {:?}",
        gateways(&lab.frr, SERVICE)
    );
    assert!(!gateways(&lab.frr, SERVICE).contains(&NODES[1].to_string()));
    std::thread::sleep(Duration::from_secs(1));
    for (i, a) in NODES.iter().enumerate() {
        assert_eq!(session(a), before[i], "session with {a} was reset");
        let up = neighbor_u64(&lab.frr, a, "bgpTimerUpMsec").unwrap_or(0);
        assert!(
            up > up_before[i],
            "uptime of {a} went from {} to {up} ms",
            up_before[i]
        );
        assert_eq!(lab.frr.neighbor_state(a).as_deref(), Some("Established"));
    }
    // Healthy again: back to six.
    std::fs::write(&health_file, "ok").unwrap();
    assert!(wait_gateways(&lab.frr, SERVICE, 6, T).is_some());

    // SIGTERM node 3: exit 0, its next hop gone, our message is FRR's last reset reason.
    let t1 = Instant::now();
    lab.nodes[3].signal("TERM");
    let gone = wait_until(T, || {
        !gateways(&lab.frr, SERVICE).contains(&NODES[3].to_string())
    })
    .then(|| t1.elapsed());
    let st = lab.nodes[3]
        .ns
        .wait_exit(lab.nodes[3].pid.unwrap(), Duration::from_secs(15));
    assert!(st.is_some_and(|s| s.success()), "announce exit: {st:?}");
    assert!(gone.is_some());
    eprintln!(
        "MEASURED: SIGTERM -> that node's kernel next hop gone {:?}",
        gone.unwrap()
    );
    // FRR keeps the RFC 9003 message as the last reset reason.
    let shows_message = wait_until(Duration::from_secs(5), || {
        lab.frr.neighbor(NODES[3]).is_ok_and(|nb| {
            nb["lastShutdownDescription"].as_str() == Some("node 3 going down for maintenance")
                && nb["lastNotificationReason"].as_str() == Some("Cease/Administrative Shutdown")
        })
    });
    assert!(
        shows_message,
        "FRR does not show our shutdown message: {}\n{}",
        lab.frr.neighbor(NODES[3]).unwrap_or_default(),
        cap.tshark(&["-Y", "bgp.type == 3", "-V"])
            .unwrap_or_default()
    );

    // SIGTERM node 4, configured with a 3 s graceful-shutdown drain: first its path carries
    // GRACEFUL_SHUTDOWN (RFC 8326) and LOCAL_PREF 0, then it is withdrawn.
    lab.nodes[4].signal("TERM");
    let gshut = wait_until(Duration::from_secs(5), || {
        paths(&lab.frr, SERVICE).iter().any(|p| {
            let s = p.to_string();
            s.contains(NODES[4])
                && s.contains("graceful-shutdown")
                && p["locPrf"].as_u64() == Some(0)
        })
    });
    assert!(
        gshut,
        "no GRACEFUL_SHUTDOWN path: {:?}",
        paths(&lab.frr, SERVICE)
    );
    // Traffic moves away while the path is still there: LOCAL_PREF 0 takes it out of the
    // multipath set before the withdrawal.
    let drained = wait_until(Duration::from_secs(2), || {
        gateways(&lab.frr, SERVICE).len() == 4 && lab.frr.path_count(SERVICE) == 5
    });
    assert!(
        drained,
        "drain: gateways {:?}, paths {}",
        gateways(&lab.frr, SERVICE),
        lab.frr.path_count(SERVICE)
    );
    assert!(wait_until(T, || !gateways(&lab.frr, SERVICE)
        .contains(&NODES[4].to_string())));
    assert!(wait_until(T, || lab.frr.path_count(SERVICE) == 4));
    let st = lab.nodes[4]
        .ns
        .wait_exit(lab.nodes[4].pid.unwrap(), Duration::from_secs(15));
    assert!(st.is_some_and(|s| s.success()), "announce exit: {st:?}");

    // SIGTERM everyone: the route disappears from the kernel.
    let t2 = Instant::now();
    for (i, n) in lab.nodes.iter().enumerate() {
        if i != 3 && i != 4 {
            n.signal("TERM");
        }
    }
    let all_gone = wait_until(T, || gateways(&lab.frr, SERVICE).is_empty()).then(|| t2.elapsed());
    assert!(
        all_gone.is_some(),
        "route still there: {:?}",
        gateways(&lab.frr, SERVICE)
    );
    eprintln!(
        "MEASURED: SIGTERM of all nodes -> kernel route gone {:?}",
        all_gone.unwrap()
    );
    for (i, n) in lab.nodes.iter().enumerate() {
        if i != 3 && i != 4 {
            let st = n.ns.wait_exit(n.pid.unwrap(), Duration::from_secs(15));
            assert!(st.is_some_and(|s| s.success()), "node {i} exit: {st:?}");
        }
    }

    cap.stop().unwrap();
    assert!(cap.bgp_message_count(2).unwrap() > 0, "no UPDATE captured");
    // On the wire, node 3's withdrawal came before its Cease.
    let seq = cap
        .tshark(&[
            "-Y",
            &format!("ip.src == {} && bgp", NODES[3]),
            "-T",
            "fields",
            "-e",
            "bgp.type",
            "-e",
            "bgp.update.withdrawn_routes.length",
        ])
        .unwrap();
    let mut msgs: Vec<(String, u64)> = Vec::new();
    for line in seq.lines() {
        let mut cols = line.split('\t');
        let types: Vec<&str> = cols.next().unwrap_or("").split(',').collect();
        let mut wlens = cols
            .next()
            .unwrap_or("")
            .split(',')
            .map(|w| w.trim().parse::<u64>().unwrap_or(0));
        for t in types {
            let w = if t == "2" {
                wlens.next().unwrap_or(0)
            } else {
                0
            };
            msgs.push((t.to_string(), w));
        }
    }
    // The last NOTIFICATION is the shutdown Cease (an earlier one may be a 6/7 that closed
    // the losing connection of a collision).
    let cease = msgs.iter().rposition(|(t, _)| t == "3");
    assert!(cease.is_some(), "no NOTIFICATION from node 3: {seq}");
    assert!(
        msgs[..cease.unwrap()]
            .iter()
            .any(|(t, w)| t == "2" && *w > 0),
        "no withdrawal before the Cease: {seq}\n{}",
        cap.tshark(&[
            "-Y",
            &format!("ip.addr == {}", NODES[3]),
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "ip.src",
            "-e",
            "tcp.srcport",
            "-e",
            "tcp.dstport",
            "-e",
            "tcp.len",
            "-e",
            "_ws.col.Info",
        ])
        .unwrap_or_default()
    );
    assert_eq!(
        cap.malformed_count().unwrap(),
        0,
        "{}",
        cap.tshark(&["-Y", "_ws.malformed || _ws.expert.severity >= error"])
            .unwrap_or_default()
    );
}
