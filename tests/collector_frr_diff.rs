//! Differential test of the decision process against FRR: six ExaBGP speakers (four eBGP in
//! two ASes, two iBGP) send the same randomly generated paths for 220 prefixes to FRR and to
//! `examples/collector`; the best path and the multipath set must agree for every prefix.
//! FRR is configured to the collector's options: deterministic-med, compare-routerid (no
//! "prefer oldest"), maximum-paths 8 (eBGP and iBGP), with and without as-path multipath-relax.
//! Needs root, FRR (bgpd, zebra, vtysh) and exabgp; skips otherwise.
//!
//! The seed is printed; set `RIB_DIFF_SEED` to replay one.

#[path = "collector_common.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;
use testlab::{Bridge, Exabgp, Frr, Netns, require_root_and, wait_until};

const PREFIXES: usize = 220;
/// (address, AS, router id) of the speakers.
const SPEAKERS: [(&str, u32, &str); 6] = [
    ("192.168.3.11", 65001, "10.9.0.5"),
    ("192.168.3.12", 65001, "10.9.0.2"),
    ("192.168.3.13", 65002, "10.9.0.4"),
    ("192.168.3.14", 65002, "10.9.0.1"),
    ("192.168.3.15", 64512, "10.9.0.6"),
    ("192.168.3.16", 64512, "10.9.0.3"),
];
const FRR_ADDR: &str = "192.168.3.1";
const COLL_ADDR: &str = "192.168.3.2";

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn prefix(i: usize) -> String {
    format!("10.{}.{}.0/24", 100 + i / 256, i % 256)
}

/// Static route lines per speaker, and the set of prefixes announced by anyone.
fn generate(seed: u64) -> (Vec<String>, usize) {
    let mut r = Rng(seed | 1);
    let mut per: Vec<String> = vec![String::new(); SPEAKERS.len()];
    let mut announced = 0;
    for i in 0..PREFIXES {
        let mut any = false;
        for (s, (addr, asn, _)) in SPEAKERS.iter().enumerate() {
            // Skip a quarter of the paths, but give every prefix at least one.
            let skip = r.below(4) == 0;
            if skip && (any || s != SPEAKERS.len() - 1) {
                continue;
            }
            any = true;
            let ibgp = *asn == 64512;
            let mut path: Vec<u32> = Vec::new();
            if !ibgp {
                path.push(*asn);
            }
            // iBGP paths start with a neighbouring AS (never empty: see the module docs of
            // the report on FRR grouping empty paths).
            let extra = if ibgp { 1 + r.below(2) } else { r.below(2) };
            for k in 0..extra {
                let pool: &[u32] = if ibgp && k == 0 {
                    &[65001, 65002, 65010]
                } else {
                    &[65010, 65011, 65012]
                };
                path.push(pool[r.below(pool.len() as u64) as usize]);
            }
            // Biased towards ties so that multipath sets are common.
            let origin = ["igp", "igp", "igp", "egp", "incomplete"][r.below(5) as usize];
            let mut line = format!(
                "  route {} next-hop {addr} origin {origin} as-path [ {} ]",
                prefix(i),
                path.iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            match r.below(6) {
                0..=2 => {}
                3 => line.push_str(" med 0"),
                4 => line.push_str(" med 5"),
                _ => line.push_str(" med 10"),
            }
            if r.below(4) == 0 {
                line.push_str(" local-preference 200");
            } else if r.below(2) == 0 {
                line.push_str(" local-preference 100");
            }
            line.push_str(";\n");
            per[s].push_str(&line);
        }
        if any {
            announced += 1;
        }
    }
    (per, announced)
}

fn exabgp_conf(addr: &str, asn: u32, rid: &str, routes: &str) -> String {
    let mut s = String::new();
    for peer in [FRR_ADDR, COLL_ADDR] {
        s.push_str(&format!(
            "neighbor {peer} {{\n router-id {rid};\n local-address {addr};\n local-as {asn};\n \
             peer-as 64512;\n hold-time 9;\n static {{\n{routes} }}\n}}\n"
        ));
    }
    s
}

/// prefix -> (best peer, sorted multipath peers) from FRR's table.
fn frr_table(frr: &Frr) -> BTreeMap<String, (String, BTreeSet<String>)> {
    let mut out = BTreeMap::new();
    let Ok(v) = frr.vtysh_json("show bgp ipv4 unicast json") else {
        return out;
    };
    let Some(routes) = v["routes"].as_object() else {
        return out;
    };
    for (p, paths) in routes {
        let mut best = None;
        let mut set = BTreeSet::new();
        for path in paths.as_array().into_iter().flatten() {
            let peer = path["peerId"].as_str().unwrap_or_default().to_string();
            let is_best =
                path["bestpath"] == Value::Bool(true) || path["bestpath"]["overall"] == true;
            if is_best {
                best = Some(peer.clone());
                set.insert(peer.clone());
            }
            if path["multipath"] == Value::Bool(true) {
                set.insert(peer);
            }
        }
        if let Some(b) = best {
            out.insert(p.clone(), (b, set));
        }
    }
    out
}

fn collector_table(c: &common::Collector) -> BTreeMap<String, (String, BTreeSet<String>)> {
    c.routes()
        .into_iter()
        .map(|(p, v)| {
            let best = v["best"]["peer"].as_str().unwrap_or_default().to_string();
            let set = v["multipath"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect();
            (p, (best, set))
        })
        .collect()
}

fn run(relax: bool) {
    if !require_root_and(&["/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh", "exabgp"]) {
        return;
    }
    assert!(
        common::collector_bin().is_some(),
        "examples/collector not built"
    );
    let seed: u64 = std::env::var("RIB_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(42)
        });
    println!("RIB_DIFF_SEED={seed} relax={relax}");
    let (routes, expected) = generate(seed);

    let mut br = Bridge::new("dfb").unwrap();
    let rns = Netns::new("dfr").unwrap();
    br.attach(&rns, "eth0", &format!("{FRR_ADDR}/24")).unwrap();
    let cns = Netns::new("dfc").unwrap();
    br.attach(&cns, "eth0", &format!("{COLL_ADDR}/24")).unwrap();

    let neighbors: Vec<(&str, u32)> = SPEAKERS.iter().map(|(a, asn, _)| (*a, *asn)).collect();
    let mut conf = Frr::config(64512, FRR_ADDR, &neighbors);
    conf.push_str(" bgp deterministic-med\n bgp bestpath compare-routerid\n");
    if relax {
        conf.push_str(" bgp bestpath as-path multipath-relax\n");
    }
    conf.push_str(" address-family ipv4 unicast\n  maximum-paths 8\n  maximum-paths ibgp 8\n exit-address-family\n");
    let frr = Frr::start(&rns, &conf).unwrap();

    let mut args: Vec<String> = [
        "--local-as",
        "64512",
        "--router-id",
        COLL_ADDR,
        "--listen",
        "0.0.0.0:179",
        "--passive",
        "--maximum-paths",
        "8",
        "--deterministic-med",
        "--hold-time",
        "9",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if relax {
        args.push("--multipath-relax".into());
    }
    for (a, asn, _) in SPEAKERS {
        args.extend([
            "--peer".into(),
            a.to_string(),
            "--peer-as".into(),
            asn.to_string(),
        ]);
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let coll = common::Collector::start(&cns, &argv).unwrap();

    let mut speakers = Vec::new();
    for (i, (addr, asn, rid)) in SPEAKERS.iter().enumerate() {
        let ns = Netns::new("dfs").unwrap();
        br.attach(&ns, "eth0", &format!("{addr}/24")).unwrap();
        let exa = Exabgp::start(&ns, &exabgp_conf(addr, *asn, rid, &routes[i])).unwrap();
        speakers.push((ns, exa));
    }

    let converged = wait_until(Duration::from_secs(90), || {
        frr_table(&frr).len() == expected && collector_table(&coll).len() == expected
    });
    assert!(
        converged,
        "no convergence: FRR {} / collector {} of {expected} prefixes; collector sessions {}; \
         FRR summary {:?}",
        frr_table(&frr).len(),
        collector_table(&coll).len(),
        coll.established(),
        frr.bgp_summary().ok()
    );
    // Both have everything; allow late updates to settle, then compare.
    let mut diffs = Vec::new();
    let agreed = wait_until(Duration::from_secs(20), || {
        let (f, c) = (frr_table(&frr), collector_table(&coll));
        diffs = f
            .iter()
            .filter(|(p, v)| c.get(*p) != Some(v))
            .map(|(p, v)| format!("{p}: FRR {v:?} collector {:?}", c.get(p)))
            .collect();
        diffs.is_empty()
    });
    if !agreed {
        let first = diffs
            .first()
            .and_then(|d| d.split(':').next())
            .unwrap_or_default();
        let detail = frr
            .vtysh(&format!("show bgp ipv4 unicast {first}"))
            .unwrap_or_default();
        panic!(
            "seed {seed} relax {relax}: {} of {expected} prefixes differ:\n{}\nFRR detail:\n{detail}",
            diffs.len(),
            diffs
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let multi = frr_table(&frr)
        .values()
        .filter(|(_, s)| s.len() > 1)
        .count();
    println!("{expected} prefixes agree with FRR ({multi} with more than one ECMP path)");
    assert!(expected >= 200);
    drop(speakers);
    drop(coll);
}

#[test]
fn collector_agrees_with_frr_multipath_relax() {
    run(true);
}

#[test]
fn collector_agrees_with_frr_strict_multipath() {
    run(false);
}
