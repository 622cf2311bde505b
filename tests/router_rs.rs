//! Route-server mode (RFC 7947) against real clients: the `router` example with
//! `--route-server` between two BIRD 2, two GoBGP and one FRR client on one LAN, each client
//! announcing 100 prefixes with its own MED. (FRR needs `no neighbor X enforce-first-as`: our AS is
//! not in the path.) Every client must hold every other client's
//! routes with NEXT_HOP and MED as the originating client sent them and the AS path exactly
//! the originator's AS (ours never in it); and a client's withdrawal reaches the others.
//! Needs root, bird, birdc, gobgpd, gobgp, FRR; build the example first
//! (`cargo build --example router`).

#[path = "router_common.rs"]
mod router_common;

use std::collections::BTreeMap;
use std::time::Duration;

use router_common::{RouterProc, SeenRoute, bird_routes, gobgp_routes};
use testlab::{Bird, Bridge, Frr, Gobgp, Netns, wait_until};

const RS_AS: u32 = 64512;
const PER_CLIENT: usize = 100;
const CLIENTS: u32 = 5;

/// Client k (1..=5): address 10.7.0.1k, AS 6501k, MED 1k, prefixes 10.1k.j.0/24.
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
    for k in 1..=CLIENTS {
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
    let others = (CLIENTS as usize - 1) * PER_CLIENT;
    let n = seen.keys().filter(|p| !prefixes(me).contains(p)).count();
    if n != others {
        return Err(format!("client {me}: {n} routes of others, want {others}"));
    }
    Ok(())
}

/// FRR's table (`show bgp ipv4 unicast json`), best path per prefix.
fn frr_seen(frr: &Frr) -> BTreeMap<String, SeenRoute> {
    let mut m = BTreeMap::new();
    let Ok(v) = frr.vtysh_json("show bgp ipv4 unicast json") else {
        return m;
    };
    for (p, paths) in v["routes"].as_object().into_iter().flatten() {
        let Some(b) = paths.as_array().and_then(|a| {
            a.iter()
                .find(|x| x["bestpath"] == true)
                .or(a.first())
                .cloned()
        }) else {
            continue;
        };
        let r = SeenRoute {
            as_path: b["path"]
                .as_str()
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect(),
            next_hop: b["nexthops"][0]["ip"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            med: b["metric"].as_u64().map(|x| x as u32),
            ..SeenRoute::default()
        };
        m.insert(p.clone(), r);
    }
    m
}

#[test]
fn route_server_passes_routes_transparently_between_bird_gobgp_and_frr_clients() {
    if !testlab::require_root_and(&[
        "bird",
        "birdc",
        "gobgpd",
        "gobgp",
        "/usr/lib/frr/bgpd",
        "vtysh",
    ]) {
        return;
    }
    let mut lan = Bridge::new("rsl").unwrap();
    let rs_ns = Netns::new("rss").unwrap();
    lan.attach(&rs_ns, "eth0", "10.7.0.1/24").unwrap();
    let cl: Vec<Netns> = (1..=CLIENTS)
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
        "--import-policy",
        "accept",
        "--export-policy",
        "accept",
        "--hold-time",
        "9",
        "--output",
        "none",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for k in 1..=CLIENTS {
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
    let mut fconf = Frr::config(65015, &addr(5), &[("10.7.0.1", RS_AS)]);
    fconf.push_str(" no neighbor 10.7.0.1 enforce-first-as\n address-family ipv4 unicast\n");
    for p in prefixes(5) {
        fconf.push_str(&format!("  network {p} route-map MED\n"));
    }
    fconf.push_str(" exit-address-family\n!\nroute-map MED permit 10\n set metric 15\n!\n");
    let frr = Frr::start(&cl[4], &fconf).unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || router.established()
            == CLIENTS as usize),
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
            .and(check(5, &frr_seen(&frr)))
    };
    let ok = wait_until(Duration::from_secs(60), || all_ok().is_ok());
    assert!(ok, "{:?}\n{}", all_ok(), router.log());
    // Our AS is nowhere (checked above: the path is exactly the originator's AS).

    // A client withdraws: gone at every other client.
    let gone = prefixes(4)[0].clone();
    g4.gobgp(&["global", "rib", "del", &gone]).unwrap();
    let ok = wait_until(Duration::from_secs(20), || {
        !frr_seen(&frr).contains_key(&gone)
            && !bird_seen(&b1).contains_key(&gone)
            && !bird_seen(&b2).contains_key(&gone)
            && !gobgp_seen(&g3).contains_key(&gone)
    });
    assert!(ok, "withdrawal of {gone} not passed on");
    drop((b1, b2, g3, g4, frr, router));
}
