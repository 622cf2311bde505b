//! The router against FRR 8.4 in network namespaces: RFC 9234 roles and OTC, RFC 8538
//! graceful restart with the N bit, an IPv6 link-local neighbour with its interface.
//! Needs root and FRR (fails under CI=true without them, skips elsewhere).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use testlab::{Bridge, Frr, Netns, TempDir, require_root_and, wait_until};

const T: Duration = Duration::from_secs(30);

#[path = "router_common.rs"]
mod router_common;
use router_common::router_bin;

/// `examples/router` running in a namespace, its JSON lines in a file; stopped by PID.
struct Router {
    ns: Netns,
    pid: u32,
    out: PathBuf,
    err: PathBuf,
    _dir: TempDir,
}

impl Router {
    fn start(ns: &Netns, args: &[&str]) -> Self {
        let dir = TempDir::new("rtr").unwrap();
        let out = dir.path().join("out.jsonl");
        let err = dir.path().join("err.log");
        let mut cmd = ns.command(router_bin());
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        let pid = ns.spawn(cmd).unwrap();
        Router {
            ns: ns.clone(),
            pid,
            out,
            err,
            _dir: dir,
        }
    }
    fn lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }
    /// Prefixes currently in the router's Loc-RIB, from its route lines.
    fn has_route(&self, prefix: &str) -> bool {
        let mut have = false;
        for v in self.lines() {
            if v["type"] == "route" && v["prefix"] == prefix {
                have = v["event"] != "withdrawn";
            }
        }
        have
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        let _ = self.ns.stop(self.pid);
    }
}

/// FRR's path for `prefix` (the first one), if it has one.
fn frr_path(frr: &Frr, prefix: &str) -> Option<Value> {
    let j = frr.route_json(prefix).ok()?;
    j["paths"].as_array()?.first().cloned()
}

fn frr_conf(asn: u32, id: &str, neighbor: &str, extra_nbr: &str, networks: &[&str]) -> String {
    let mut s = Frr::config(asn, id, &[(neighbor, 64512)]);
    s.push_str(extra_nbr);
    s.push_str(" address-family ipv4 unicast\n");
    for n in networks {
        s.push_str(&format!("  network {n}\n"));
    }
    s.push_str(" exit-address-family\n");
    s
}

/// Router AS 64512 between five FRRs on one switch. Towards the router, f1 (AS 65001) is
/// a provider and f3 (65003) another provider, f2 (65002) a customer, all three without an
/// FRR role (so FRR filters nothing and what arrives is what we sent); f4 (65004) is a peer
/// with `local-role peer` (negotiated); f5 (65005) says provider while the router says
/// provider too (Role Mismatch).
#[test]
fn roles_and_otc_against_frr() {
    if !require_root_and(&["ip", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh"]) {
        return;
    }
    let bin = router_bin();
    assert!(bin.is_file());
    let mut br = Bridge::new("rob").unwrap();
    let rt = Netns::new("ror").unwrap();
    br.attach(&rt, "eth0", "192.168.7.1/24").unwrap();
    let mut frrs = Vec::new();
    let specs: [(u32, &str, &str, &[&str]); 5] = [
        (65001, "192.168.7.2", "", &["172.16.1.0/24"]),
        (65002, "192.168.7.3", "", &["172.16.2.0/24"]),
        (65003, "192.168.7.4", "", &["172.16.3.0/24"]),
        (
            65004,
            "192.168.7.5",
            " neighbor 192.168.7.1 local-role peer\n",
            &["172.16.4.0/24"],
        ),
        (
            65005,
            "192.168.7.6",
            " neighbor 192.168.7.1 local-role provider\n",
            &[],
        ),
    ];
    let mut nss = Vec::new();
    for (asn, ip, extra, nets) in specs {
        let ns = Netns::new("rof").unwrap();
        br.attach(&ns, "eth0", &format!("{ip}/24")).unwrap();
        let f = Frr::start(&ns, &frr_conf(asn, ip, "192.168.7.1", extra, nets)).unwrap();
        nss.push(ns);
        frrs.push(f);
    }
    let r = Router::start(
        &rt,
        &[
            "--local-as",
            "64512",
            "--router-id",
            "192.168.7.1",
            "--listen",
            "0.0.0.0:179",
            "--peer",
            "192.168.7.2",
            "--peer",
            "192.168.7.3",
            "--peer",
            "192.168.7.4",
            "--peer",
            "192.168.7.5",
            "--peer",
            "192.168.7.6",
            "--peer-as",
            "65001",
            "--peer-as",
            "65002",
            "--peer-as",
            "65003",
            "--peer-as",
            "65004",
            "--peer-as",
            "65005",
            "--peer-role",
            "customer",
            "--peer-role",
            "provider",
            "--peer-role",
            "customer",
            "--peer-role",
            "peer",
            "--peer-role",
            "provider",
            "--import-policy",
            "accept",
            "--export-policy",
            "accept",
            "--hold-time",
            "9",
            "--connect-retry",
            "1",
        ],
    );
    for f in frrs.iter().take(4) {
        f.wait_established("192.168.7.1", T).unwrap_or_else(|e| {
            panic!(
                "{e}: {}\nrouter: {}",
                f.neighbor("192.168.7.1").unwrap_or_default(),
                r.stderr()
            )
        });
    }
    // f4 negotiated the role: FRR shows ours as its remote role.
    let n4 = frrs[3].neighbor("192.168.7.1").unwrap();
    let n4s = n4.to_string();
    assert!(
        n4s.contains("\"localRole\":\"peer\"") && n4s.contains("\"remoteRole\":\"peer\""),
        "f4 roles: {n4s}"
    );
    // Customer f2 gets provider f1's route with OTC = 65001 (added by our ingress rule: f1
    // has no role and sent none), and f3's likewise; f4's route (from a peer) with OTC 65004.
    assert!(
        wait_until(T, || ["172.16.1.0/24", "172.16.3.0/24", "172.16.4.0/24"]
            .iter()
            .all(|p| frr_path(&frrs[1], p).is_some())),
        "f2 missing routes: {:?}",
        frrs[1].vtysh("show bgp ipv4 unicast")
    );
    let otc = |f: &Frr, p: &str| frr_path(f, p).map(|x| x["otc"].clone());
    assert_eq!(otc(&frrs[1], "172.16.1.0/24"), Some(Value::from(65001)));
    assert_eq!(otc(&frrs[1], "172.16.3.0/24"), Some(Value::from(65003)));
    assert_eq!(otc(&frrs[1], "172.16.4.0/24"), Some(Value::from(65004)));
    // Providers f1 and f3 and peer f4 get the customer's route; the peer's copy carries
    // OTC = our AS (egress rule to a peer), the providers' none.
    for (i, want) in [(0, Value::Null), (2, Value::Null), (3, Value::from(64512))] {
        assert!(
            wait_until(T, || frr_path(&frrs[i], "172.16.2.0/24").is_some()),
            "f{} lacks the customer route",
            i + 1
        );
        assert_eq!(otc(&frrs[i], "172.16.2.0/24"), Some(want), "f{}", i + 1);
    }
    // No leak: a provider's or peer's route never reaches another provider or peer.
    std::thread::sleep(Duration::from_secs(2));
    for (i, leaks) in [
        (0, ["172.16.3.0/24", "172.16.4.0/24"]),
        (2, ["172.16.1.0/24", "172.16.4.0/24"]),
        (3, ["172.16.1.0/24", "172.16.3.0/24"]),
    ] {
        for p in leaks {
            assert!(
                frr_path(&frrs[i], p).is_none(),
                "leak of {p} to f{}: {:?}",
                i + 1,
                frr_path(&frrs[i], p)
            );
        }
    }
    // f5: provider against provider, never Established; FRR saw a Role Mismatch.
    assert_ne!(
        frrs[4].neighbor_state("192.168.7.1").as_deref(),
        Some("Established")
    );
    let n5 = frrs[4].neighbor("192.168.7.1").unwrap().to_string();
    assert!(
        n5.to_lowercase().contains("role mismatch"),
        "f5 shows no role mismatch: {n5}"
    );
    assert!(
        r.lines().iter().all(|v| !(v["type"] == "session"
            && v["peer"] == "192.168.7.6"
            && v["state"] == "established")),
        "router established with f5"
    );
    drop(r);
    drop(frrs);
    drop(nss);
    drop(br);
}

/// Session lines of the router for `peer` with this state.
fn sessions(r: &Router, peer: &str, state: &str) -> Vec<Value> {
    r.lines()
        .into_iter()
        .filter(|v| v["type"] == "session" && v["peer"] == peer && v["state"] == state)
        .collect()
}

/// Index of the last route line for `prefix` with this event, in all lines.
fn route_events(r: &Router, prefix: &str) -> Vec<String> {
    r.lines()
        .into_iter()
        .filter(|v| v["type"] == "route" && v["prefix"] == prefix)
        .map(|v| v["event"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// RFC 8538 against FRR: both advertise graceful restart with the N bit. `clear bgp` with
/// `no bgp hard-administrative-reset` sends Cease / Administrative Reset: the router keeps
/// FRR's route (stale) through the reset. With `bgp hard-administrative-reset` FRR sends a
/// Hard Reset: the router flushes the route at once. In between, FRR without
/// `preserve-fw-state` comes back without the F bit: its stale route is flushed on return.
#[test]
fn gr_notification_bit_against_frr() {
    if !require_root_and(&["ip", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh"]) {
        return;
    }
    let mut br = Bridge::new("rgb").unwrap();
    let rt = Netns::new("rgr").unwrap();
    br.attach(&rt, "eth0", "192.168.8.1/24").unwrap();
    let ns = Netns::new("rgf").unwrap();
    br.attach(&ns, "eth0", "192.168.8.2/24").unwrap();
    let mut conf = Frr::config(64512, "192.168.8.2", &[("192.168.8.1", 64512)]);
    conf.push_str(
        " bgp graceful-restart\n bgp graceful-restart notification\n \
         bgp graceful-restart preserve-fw-state\n no bgp hard-administrative-reset\n address-family ipv4 unicast\n  \
         network 172.16.9.0/24\n exit-address-family\n",
    );
    let frr = Frr::start(&ns, &conf).unwrap();
    let r = Router::start(
        &rt,
        &[
            "--local-as",
            "64512",
            "--router-id",
            "192.168.8.1",
            "--listen",
            "0.0.0.0:179",
            "--peer",
            "192.168.8.2",
            "--peer-as",
            "64512",
            "--hold-time",
            "9",
            "--connect-retry",
            "1",
            "--graceful-restart",
            "--graceful-notification",
        ],
    );
    frr.wait_established("192.168.8.1", T).unwrap();
    let p = "172.16.9.0/24";
    assert!(
        wait_until(T, || r.has_route(p)),
        "no route: {:?}",
        r.lines()
    );
    let n = frr.neighbor("192.168.8.1").unwrap().to_string();
    // Graceful: Administrative Reset keeps the route.
    frr.vtysh("clear bgp 192.168.8.1").unwrap();
    assert!(
        wait_until(T, || !sessions(&r, "192.168.8.2", "down").is_empty()),
        "no session down: {:?}",
        r.lines()
    );
    let down = sessions(&r, "192.168.8.2", "down").remove(0);
    assert_eq!(
        down["graceful_restart"], true,
        "Admin Reset with the N bit must keep routes: {down}\nFRR: {n}"
    );
    assert!(
        down["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("subcode: 4"),
        "{down}"
    );
    assert!(r.has_route(p), "route flushed on a graceful NOTIFICATION");
    assert!(wait_until(T, || sessions(&r, "192.168.8.2", "established")
        .len()
        == 2));
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !route_events(&r, p).iter().any(|e| e == "withdrawn"),
        "withdrawn over the graceful reset: {:?}",
        route_events(&r, p)
    );
    // FRR no longer preserves forwarding state (F bit clear): the route is kept over the
    // NOTIFICATION but flushed when FRR comes back (RFC 4724 §4.2), then re-learnt.
    frr.vtysh_multi(&[
        "configure terminal",
        "router bgp 64512",
        "no bgp graceful-restart preserve-fw-state",
    ])
    .unwrap();
    frr.vtysh("clear bgp 192.168.8.1").unwrap();
    assert!(
        wait_until(T, || sessions(&r, "192.168.8.2", "down").len() == 2),
        "no second session down: {:?}",
        r.lines()
    );
    let down = sessions(&r, "192.168.8.2", "down").remove(1);
    assert_eq!(down["graceful_restart"], true, "{down}");
    assert!(
        wait_until(T, || route_events(&r, p).iter().any(|e| e == "withdrawn")),
        "stale route not flushed on a return without the F bit: {:?}",
        route_events(&r, p)
    );
    assert!(
        wait_until(T, || r.has_route(p)),
        "route not re-learnt: {:?}",
        route_events(&r, p)
    );
    let withdrawals = |r: &Router| {
        route_events(r, p)
            .iter()
            .filter(|e| *e == "withdrawn")
            .count()
    };
    assert_eq!(withdrawals(&r), 1);
    // Hard Reset: flushed at once.
    frr.vtysh_multi(&[
        "configure terminal",
        "router bgp 64512",
        "bgp hard-administrative-reset",
    ])
    .unwrap();
    frr.vtysh("clear bgp 192.168.8.1").unwrap();
    assert!(
        wait_until(T, || sessions(&r, "192.168.8.2", "down").len() == 3),
        "no third session down: {:?}",
        r.lines()
    );
    let down = sessions(&r, "192.168.8.2", "down").remove(2);
    assert_eq!(down["graceful_restart"], false, "{down}");
    assert!(
        down["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("subcode: 9"),
        "not a Hard Reset: {down}"
    );
    assert!(
        wait_until(T, || withdrawals(&r) == 2),
        "route not flushed on a Hard Reset: {:?}",
        route_events(&r, p)
    );
    drop(r);
    drop(frr);
    drop(ns);
    drop(rt);
    drop(br);
}

/// An IPv6 link-local neighbour given with its interface (`fe80::2%eth0`): BIRD (AS 65020,
/// `interface "eth0"; neighbor fe80::1`) reaches Established with the router and its IPv6
/// route arrives, once with the router passive (BIRD connects in: listener matching with the
/// scope) and once with BIRD passive (the router connects out with the scope). FRR 8.4 is not
/// used here: it never connects to an explicit link-local neighbour ("Waiting for NHT", an FRR
/// bug fixed after 8.4).
#[test]
fn link_local_neighbour_with_interface_against_bird() {
    if !require_root_and(&["ip", "bird", "birdc"]) {
        return;
    }
    for router_passive in [true, false] {
        let mut br = Bridge::new("rlb").unwrap();
        let rt = Netns::new("rlr").unwrap();
        br.attach(&rt, "eth0", "").unwrap();
        let ns = Netns::new("rlf").unwrap();
        br.attach(&ns, "eth0", "").unwrap();
        rt.ip(&["-6", "addr", "add", "fe80::1/64", "dev", "eth0", "nodad"])
            .unwrap();
        ns.ip(&["-6", "addr", "add", "fe80::2/64", "dev", "eth0", "nodad"])
            .unwrap();
        let conf = format!(
            "router id 192.168.9.2;\nprotocol device {{ scan time 1; }}\n\
             protocol static {{ ipv6; route 2001:db8:9::/48 unreachable; }}\n\
             protocol bgp r {{\n local as 65020;\n interface \"eth0\";\n \
             neighbor fe80::1 as 64512;\n hold time 9;\n connect retry time 1;\n \
             connect delay time 1;\n {}\n ipv6 {{ import all; export all; }};\n}}\n",
            if router_passive { "" } else { "passive on;" }
        );
        let bird = testlab::Bird::start(&ns, &conf).unwrap();
        let mut args = vec![
            "--local-as",
            "64512",
            "--router-id",
            "192.168.9.1",
            "--listen",
            "[::]:179",
            "--peer",
            "fe80::2%eth0",
            "--peer-as",
            "65020",
            "--ipv6",
            "--import-policy",
            "accept",
            "--hold-time",
            "9",
            "--connect-retry",
            "1",
        ];
        if router_passive {
            args.push("--passive");
        }
        let r = Router::start(&rt, &args);
        bird.wait_established("r", T).unwrap_or_else(|e| {
            panic!(
                "passive {router_passive}: {e}: {:?}\nrouter: {:?} {}",
                bird.birdc("show protocols all r"),
                r.lines(),
                r.stderr()
            )
        });
        assert!(
            wait_until(T, || r.has_route("2001:db8:9::/48")),
            "passive {router_passive}: no route: {:?}",
            r.lines()
        );
        let up = sessions(&r, "fe80::2", "established");
        assert_eq!(up.len(), 1, "{:?}", r.lines());
        drop(r);
        drop(bird);
        drop(ns);
        drop(rt);
        drop(br);
    }
}
