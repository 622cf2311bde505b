//! Route-server mode (RFC 7947) against real clients: the `router` example with
//! `--route-server` between two BIRD 2 and two GoBGP clients on one LAN, each client
//! announcing 100 prefixes with its own MED. Every client must hold every other client's
//! routes with NEXT_HOP and MED as the originating client sent them and the AS path exactly
//! the originator's AS (ours never in it); and a client's withdrawal reaches the others.
//! Needs root, bird, birdc, gobgpd, gobgp; build the example first
//! (`cargo build --example router`).

#[path = "router_common.rs"]
mod router_common;

use std::collections::BTreeMap;
use std::time::Duration;

use router_common::{RouterProc, SeenRoute, bird_routes, gobgp_routes};
use testlab::{Bird, Bridge, Gobgp, Netns, wait_until};

const RS_AS: u32 = 64512;
const PER_CLIENT: usize = 100;

/// Client k (1..=4): address 10.7.0.1k, AS 6501k, MED 1k, prefixes 10.1k.j.0/24.
fn addr(k: u32) -> String {
    format!("10.7.0.{}", 10 + k)
}
fn prefixes(k: u32) -> Vec<String> {
    (0..PER_CLIENT)
        .map(|j| format!("10.{}.{j}.0/24", 10 + k))
        .collect()
}

fn bird_conf(k: u32) -> String {
    let routes: String = prefixes(k)
        .iter()
        .map(|p| format!("  route {p} blackhole;\n"))
        .collect();
    format!(
        "router id {a};\nprotocol device {{ }}\nprotocol static st {{\n  ipv4;\n{routes}}}\n\
         protocol bgp srv {{\n  local {a} as {asn}; neighbor 10.7.0.1 as {RS_AS};\n  \
         connect delay time 1; connect retry time 1; hold time 9;\n  \
         ipv4 {{ import all; export filter {{ if source = RTS_STATIC then {{ bgp_med = {med}; accept; }} reject; }}; }};\n}}\n",
        a = addr(k),
        asn = 65010 + k,
        med = 10 + k
    )
}

/// Whether `seen` holds exactly the other clients' routes, transparently passed.
fn check(me: u32, seen: &BTreeMap<String, SeenRoute>) -> Result<(), String> {
    for k in 1..=4u32 {
        for p in prefixes(k) {
            let r = seen.get(&p);
            if k == me {
                continue;
            }
            let Some(r) = r else {
                return Err(format!("client {me}: {p} of client {k} missing"));
            };
            let want = (vec![65010 + k], addr(k), Some(10 + k));
            let got = (r.as_path.clone(), r.next_hop.clone(), r.med);
            if got != want {
                return Err(format!("client {me}: {p}: got {got:?}, want {want:?}"));
            }
        }
    }
    let others = 3 * PER_CLIENT;
    let n = seen.keys().filter(|p| !prefixes(me).contains(p)).count();
    if n != others {
        return Err(format!("client {me}: {n} routes of others, want {others}"));
    }
    Ok(())
}

#[test]
fn route_server_passes_routes_transparently_between_bird_and_gobgp_clients() {
    if !testlab::require_root_and(&["bird", "birdc", "gobgpd", "gobgp"]) {
        return;
    }
    let mut lan = Bridge::new("rsl").unwrap();
    let rs_ns = Netns::new("rss").unwrap();
    lan.attach(&rs_ns, "eth0", "10.7.0.1/24").unwrap();
    let cl: Vec<Netns> = (1..=4u32)
        .map(|k| {
            let ns = Netns::new("rsc").unwrap();
            lan.attach(&ns, "eth0", &format!("{}/24", addr(k))).unwrap();
            ns
        })
        .collect();

    let mut args: Vec<String> = [
        "--local-as",
        "64512",
        "--router-id",
        "10.7.0.1",
        "--listen",
        "0.0.0.0:179",
        "--passive",
        "--route-server",
        "--hold-time",
        "9",
        "--output",
        "none",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for k in 1..=4u32 {
        args.extend([
            "--peer".into(),
            addr(k),
            "--peer-as".into(),
            (65010 + k).to_string(),
        ]);
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let router = RouterProc::start(&rs_ns, &argv).unwrap();

    let b1 = Bird::start(&cl[0], &bird_conf(1)).unwrap();
    let b2 = Bird::start(&cl[1], &bird_conf(2)).unwrap();
    let gobgp = |k: u32| {
        let conf = Gobgp::config(65010 + k, &addr(k), &[("10.7.0.1", RS_AS)]);
        Gobgp::start(&cl[k as usize - 1], &conf).unwrap()
    };
    let g3 = gobgp(3);
    let g4 = gobgp(4);
    assert!(
        wait_until(Duration::from_secs(30), || router.established() == 4),
        "sessions: {}",
        router.log()
    );
    for (g, k) in [(&g3, 3u32), (&g4, 4u32)] {
        for p in prefixes(k) {
            g.gobgp(&[
                "global",
                "rib",
                "add",
                &p,
                "nexthop",
                &addr(k),
                "origin",
                "igp",
                "med",
                &(10 + k).to_string(),
            ])
            .unwrap();
        }
    }

    let bird_seen =
        |b: &Bird| bird_routes(&b.birdc("show route all protocol srv").unwrap_or_default());
    let gobgp_seen = |g: &Gobgp| gobgp_routes(&g.rib_json("ipv4").unwrap_or_default());
    let all_ok = || {
        check(1, &bird_seen(&b1))
            .and(check(2, &bird_seen(&b2)))
            .and(check(3, &gobgp_seen(&g3)))
            .and(check(4, &gobgp_seen(&g4)))
    };
    let ok = wait_until(Duration::from_secs(60), || all_ok().is_ok());
    assert!(ok, "{:?}\n{}", all_ok(), router.log());
    // Our AS is nowhere (checked above: the path is exactly the originator's AS).

    // A client withdraws: gone at every other client.
    let gone = prefixes(4)[0].clone();
    g4.gobgp(&["global", "rib", "del", &gone]).unwrap();
    let ok = wait_until(Duration::from_secs(20), || {
        !bird_seen(&b1).contains_key(&gone)
            && !bird_seen(&b2).contains_key(&gone)
            && !gobgp_seen(&g3).contains_key(&gone)
    });
    assert!(ok, "withdrawal of {gone} not passed on");
    drop((b1, b2, g3, g4, router));
}
