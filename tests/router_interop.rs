//! The router (`examples/router`) with FRR, BIRD 2, GoBGP and two ExaBGP instances as its
//! eBGP neighbours in one topology (one LAN in network namespaces). Each daemon originates a
//! route; the test reads every receiver's RIB from the daemon itself (vtysh json, birdc,
//! gobgp -j, ExaBGP's JSON API) and the router's outgoing UPDATEs with tshark:
//! - routes learnt from each neighbour reach all the others with our AS prepended, our address
//!   as next hop, communities kept, MED of another AS not passed on (RFC 4271 §5.1);
//! - an unknown optional transitive attribute is passed on with the Partial bit set, an
//!   unknown optional non-transitive one is not passed on (RFC 4271 §5, §9.1.3);
//! - a 2-octet-AS neighbour (ExaBGP with `asn4 disable`): the AS4_PATH it sends is merged on
//!   receipt (the others see the 4-octet ASN), and on export to it the router writes AS_TRANS
//!   in AS_PATH with the real path in AS4_PATH (RFC 6793).
//!
//! Needs root, the daemons and tshark; build the example first (`cargo build --example router`).

#[path = "router_common.rs"]
mod router_common;

use std::collections::BTreeMap;
use std::time::Duration;

use router_common::{RouterProc, SeenRoute, bird_routes, gobgp_routes};
use serde_json::Value;
use testlab::{Bird, Bridge, Capture, Exabgp, Frr, Gobgp, Netns, wait_until};

const R: &str = "10.8.0.1";
const FRR_A: &str = "10.8.0.2";
const BIRD_A: &str = "10.8.0.3";
const GOBGP_A: &str = "10.8.0.4";
const EXA_A: &str = "10.8.0.5";
const EXA2_A: &str = "10.8.0.6";
const AS4: u32 = 4_200_000_001;
const AS4_2: u32 = 4_200_000_002;

/// What every receiver must hold: prefix -> (originator, AS path, community).
fn expected() -> Vec<(&'static str, &'static str, Vec<u32>, Option<&'static str>)> {
    vec![
        ("10.10.0.0/24", FRR_A, vec![64512, 65001], Some("65001:10")),
        ("10.20.0.0/24", BIRD_A, vec![64512, 65002], Some("65002:20")),
        (
            "10.30.0.0/24",
            GOBGP_A,
            vec![64512, 65003],
            Some("65003:30"),
        ),
        (
            "10.40.0.0/24",
            EXA_A,
            vec![64512, 65004, AS4],
            Some("65004:40"),
        ),
        ("10.41.0.0/24", EXA_A, vec![64512, 65004], None),
        ("10.50.0.0/24", EXA2_A, vec![64512, 65005, AS4_2], None),
    ]
}

fn check(who: &str, me: &str, seen: &BTreeMap<String, SeenRoute>) -> Result<(), String> {
    for (p, from, path, comm) in expected() {
        if from == me {
            continue;
        }
        let Some(r) = seen.get(p) else {
            return Err(format!("{who}: {p} missing; has {:?}", seen.keys()));
        };
        if r.as_path != path || r.next_hop != R || r.med.is_some() {
            return Err(format!(
                "{who}: {p}: {r:?}, want path {path:?} via {R}, no MED"
            ));
        }
        if let Some(c) = comm
            && !r.communities.iter().any(|x| x == c)
        {
            return Err(format!("{who}: {p}: community {c} missing: {r:?}"));
        }
    }
    Ok(())
}

/// FRR's view of the expected prefixes (`show bgp ipv4 unicast P json`, best path).
fn frr_routes(frr: &Frr) -> BTreeMap<String, SeenRoute> {
    let mut m = BTreeMap::new();
    for (p, ..) in expected() {
        let Ok(v) = frr.route_json(p) else { continue };
        let Some(paths) = v["paths"].as_array() else {
            continue;
        };
        let Some(b) = paths
            .iter()
            .find(|x| x["bestpath"]["overall"] == true)
            .or(paths.first())
        else {
            continue;
        };
        let r = SeenRoute {
            as_path: b["aspath"]["string"]
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
            communities: b["community"]["string"]
                .as_str()
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            unknown: Vec::new(),
        };
        m.insert(p.to_string(), r);
    }
    m
}

/// ExaBGP's view: the last announce of each prefix its JSON API reported.
fn exa_routes(e: &Exabgp) -> BTreeMap<String, SeenRoute> {
    let mut m = BTreeMap::new();
    for v in e.api_messages() {
        let u = &v["neighbor"]["message"]["update"];
        let attr = &u["attribute"];
        let path: Vec<u32> = attr["as-path"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .map(|x| x as u32)
            .collect();
        let comms: Vec<String> = attr["community"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| Some(format!("{}:{}", c[0].as_u64()?, c[1].as_u64()?)))
            .collect();
        let med = attr["med"].as_u64().map(|x| x as u32);
        if let Some(ann) = u["announce"]["ipv4 unicast"].as_object() {
            for (nh, list) in ann {
                for n in list.as_array().into_iter().flatten() {
                    let p = n["nlri"].as_str().or(n.as_str()).unwrap_or_default();
                    m.insert(
                        p.to_string(),
                        SeenRoute {
                            as_path: path.clone(),
                            next_hop: nh.clone(),
                            med,
                            communities: comms.clone(),
                            unknown: Vec::new(),
                        },
                    );
                }
            }
        }
        if let Some(w) = u["withdraw"]["ipv4 unicast"].as_array() {
            for n in w {
                let p = n["nlri"].as_str().or(n.as_str()).unwrap_or_default();
                m.remove(p);
            }
        }
    }
    m
}

fn exa_conf(addr: &str, asn: u32, routes: &str, asn4: bool) -> String {
    let cap = if asn4 {
        ""
    } else {
        " capability {\n  asn4 disable;\n }\n"
    };
    format!(
        "{}neighbor {R} {{\n router-id {addr};\n local-address {addr};\n local-as {asn};\n \
         peer-as 64512;\n hold-time 9;\n{cap} api {{\n  processes [ tlrecv ];\n  \
         receive {{ parsed; update; }}\n }}\n static {{\n{routes} }}\n}}\n",
        Exabgp::RECEIVER_PROCESS
    )
}

#[test]
fn router_interop_frr_bird_gobgp_exabgp_attributes_and_as4() {
    if !testlab::require_root_and(&[
        "/usr/lib/frr/bgpd",
        "vtysh",
        "bird",
        "birdc",
        "gobgpd",
        "gobgp",
        "exabgp",
        "tcpdump",
    ]) || !testlab::require_tool("tshark")
    {
        return;
    }
    let mut lan = Bridge::new("ril").unwrap();
    let ns = |name: &str, addr: &str, lan: &mut Bridge| {
        let n = Netns::new(name).unwrap();
        lan.attach(&n, "eth0", &format!("{addr}/24")).unwrap();
        n
    };
    let rns = ns("rir", R, &mut lan);
    let fns = ns("rif", FRR_A, &mut lan);
    let bns = ns("rib", BIRD_A, &mut lan);
    let gns = ns("rig", GOBGP_A, &mut lan);
    let ens = ns("rie", EXA_A, &mut lan);
    let e2ns = ns("rie2", EXA2_A, &mut lan);
    let mut cap = Capture::start(&rns, "eth0", None).unwrap();

    let mut args: Vec<String> = [
        "--local-as",
        "64512",
        "--router-id",
        R,
        "--listen",
        "0.0.0.0:179",
        "--hold-time",
        "9",
        "--connect-retry",
        "1",
        "--output",
        "none",
        // RFC 8212 is on by default: every eBGP neighbour here gets an explicit policy.
        "--import-policy",
        "accept",
        "--export-policy",
        "accept",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (a, asn) in [
        (FRR_A, 65001),
        (BIRD_A, 65002),
        (GOBGP_A, 65003),
        (EXA_A, 65004),
        (EXA2_A, 65005),
    ] {
        args.extend([
            "--peer".into(),
            a.into(),
            "--peer-as".into(),
            asn.to_string(),
        ]);
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let router = RouterProc::start(&rns, &argv).unwrap();

    let mut fconf = Frr::config(65001, FRR_A, &[(R, 64512)]);
    fconf.push_str(
        " address-family ipv4 unicast\n  network 10.10.0.0/24 route-map ORIG\n \
         exit-address-family\n!\nroute-map ORIG permit 10\n set community 65001:10\n \
         set metric 10\n!\n",
    );
    let frr = Frr::start(&fns, &fconf).unwrap();
    let bird = Bird::start(
        &bns,
        &format!(
            "router id {BIRD_A};\nprotocol device {{ }}\nprotocol static st {{ ipv4; route 10.20.0.0/24 blackhole; }}\n\
             protocol bgp up {{\n  local {BIRD_A} as 65002; neighbor {R} as 64512; passive on; hold time 9;\n  \
             ipv4 {{ import all; export filter {{ if source = RTS_STATIC then {{ bgp_community.add((65002,20)); bgp_med = 20; accept; }} reject; }}; }};\n}}\n"
        ),
    )
    .unwrap();
    let gobgp = Gobgp::start(&gns, &Gobgp::config(65003, GOBGP_A, &[(R, 64512)])).unwrap();
    let exa = Exabgp::start(
        &ens,
        &exa_conf(
            EXA_A,
            65004,
            &format!(
                "  route 10.40.0.0/24 next-hop {EXA_A} as-path [ 65004 {AS4} ] community [ 65004:40 ] med 40 attribute [ 0xf0 0xc0 0x01020304 ];\n  \
                 route 10.41.0.0/24 next-hop {EXA_A} as-path [ 65004 ] attribute [ 0xf1 0x80 0x0a0b0c0d ];\n"
            ),
            true,
        ),
    )
    .unwrap();
    let exa2 = Exabgp::start(
        &e2ns,
        &exa_conf(
            EXA2_A,
            65005,
            &format!("  route 10.50.0.0/24 next-hop {EXA2_A} as-path [ 65005 {AS4_2} ];\n"),
            false,
        ),
    )
    .unwrap();
    assert!(
        wait_until(Duration::from_secs(40), || router.established() == 5),
        "sessions: {}",
        router.log()
    );
    gobgp
        .gobgp(&[
            "global",
            "rib",
            "add",
            "10.30.0.0/24",
            "nexthop",
            GOBGP_A,
            "origin",
            "igp",
            "community",
            "65003:30",
            "med",
            "30",
        ])
        .unwrap();

    let all = || -> Result<(), String> {
        check("frr", FRR_A, &frr_routes(&frr))?;
        check(
            "bird",
            BIRD_A,
            &bird_routes(&bird.birdc("show route all protocol up").unwrap_or_default()),
        )?;
        check(
            "gobgp",
            GOBGP_A,
            &gobgp_routes(&gobgp.rib_json("ipv4").unwrap_or_default()),
        )?;
        check("exabgp", EXA_A, &exa_routes(&exa))?;
        check("exabgp-2octet", EXA2_A, &exa_routes(&exa2))?;
        Ok(())
    };
    let ok = wait_until(Duration::from_secs(40), || all().is_ok());
    assert!(ok, "{:?}\n{}", all(), router.log());
    if std::env::var_os("RI_DEBUG").is_some() {
        eprintln!("frr {:#?}", frr_routes(&frr));
        eprintln!(
            "bird {:#?}",
            bird_routes(&bird.birdc("show route all protocol up").unwrap_or_default())
        );
        eprintln!(
            "gobgp {:#?}",
            gobgp_routes(&gobgp.rib_json("ipv4").unwrap_or_default())
        );
        eprintln!("exa2 {:#?}", exa_routes(&exa2));
    }

    // Unknown attributes as GoBGP decoded them: 240 with Partial, 241 gone.
    let g = gobgp_routes(&gobgp.rib_json("ipv4").unwrap());
    assert_eq!(
        g["10.40.0.0/24"].unknown,
        vec![(0xf0, 0xe0)],
        "optional transitive passed on with Partial"
    );
    assert!(
        g["10.41.0.0/24"].unknown.is_empty(),
        "non-transitive dropped"
    );

    // On the wire (tshark): what ExaBGP sent us, and what we sent everyone.
    cap.stop().unwrap();
    let rows = |filter: &str| {
        cap.fields(
            filter,
            &[
                "ip.dst",
                "bgp.update.path_attribute.type_code",
                "bgp.update.path_attribute.flags",
                "bgp.update.path_attribute.as_path_segment.as2",
                "bgp.update.path_attribute.as_path_segment.as4",
            ],
        )
        .unwrap()
    };
    let from_exa = rows(&format!("ip.src == {EXA_A} && bgp.type == 2"));
    assert!(
        from_exa.iter().any(|r| r[1].split(',').any(|t| t == "241")),
        "premise: ExaBGP sent attribute 241: {from_exa:?}"
    );
    let from_exa2 = rows(&format!("ip.src == {EXA2_A} && bgp.type == 2"));
    assert!(
        from_exa2.iter().any(|r| r[1].split(',').any(|t| t == "17")),
        "premise: the 2-octet ExaBGP sent AS4_PATH: {from_exa2:?}"
    );
    let ours = rows(&format!("ip.src == {R} && bgp.type == 2"));
    if std::env::var_os("RI_DEBUG").is_some() {
        eprintln!("exa {from_exa:?}\nexa2 {from_exa2:?}\nours {ours:#?}");
    }
    assert!(!ours.is_empty());
    let mut partial_seen = 0;
    for r in &ours {
        let types: Vec<&str> = r[1].split(',').collect();
        let flags: Vec<&str> = r[2].split(',').collect();
        assert!(!types.contains(&"241"), "non-transitive passed on: {r:?}");
        for (t, f) in types.iter().zip(&flags) {
            if *t == "240" {
                assert_eq!(
                    u8::from_str_radix(f.trim_start_matches("0x"), 16).unwrap(),
                    0xe0,
                    "{r:?}"
                );
                partial_seen += 1;
            }
        }
    }
    // To the 3 other 4-octet daemons and the 2-octet one (both ExaBGP do not get it back).
    assert!(partial_seen >= 4, "attribute 240 sent {partial_seen} times");
    // To the 2-octet neighbour: AS_TRANS in AS_PATH, the real path in AS4_PATH.
    let to2: Vec<&Vec<String>> = ours
        .iter()
        .filter(|r| r[0] == EXA2_A && r[1].split(',').any(|t| t == "17"))
        .collect();
    assert!(
        !to2.is_empty(),
        "no AS4_PATH towards the 2-octet neighbour: {ours:?}"
    );
    let joined: String = to2.iter().map(|r| format!("{} {}|", r[3], r[4])).collect();
    assert!(joined.contains("23456"), "AS_TRANS: {joined}");
    assert!(joined.contains(&AS4.to_string()), "AS4_PATH: {joined}");
    // No AS4_PATH to the 4-octet neighbours.
    assert!(
        ours.iter()
            .filter(|r| r[0] != EXA2_A)
            .all(|r| !r[1].split(',').any(|t| t == "17")),
        "AS4_PATH to a 4-octet neighbour"
    );
    assert_eq!(
        cap.malformed_count().unwrap(),
        0,
        "tshark: malformed packets"
    );
    drop((exa, exa2, gobgp, bird, frr, router));
}
