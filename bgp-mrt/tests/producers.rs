//! Independent producers: real daemons in network namespaces (testlab) write MRT from real
//! sessions; we read every record and check prefixes, paths and attributes against what the
//! daemons report in their JSON.
//!
//! GoBGP 3.10 writes its update log (`[[mrt-dump]]` type `updates`) as messages arrive. Its
//! table dumps (type `table`) have a minimum `dump-interval` of 60 s ("use minimum mrt dump
//! interval") and `gobgp mrt` has no one-shot dump: gobgpd creates the file, empty, at
//! start and writes the first TABLE_DUMP_V2 dump one interval later, so that test waits
//! about 65 s. File names of the update log go through Go's time.Format: a path with digits
//! is rewritten, silently.
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bgp_mrt::record::*;
use bgp_mrt::{MrtBody, MrtReader};
use bgp_wire::attr::{Community, Origin};
use bgp_wire::{Message, PathAttribute};
use serde_json::Value;
use testlab::{Gobgp, Netns, Veth};

/// (prefix, as path, med, communities) of the routes the announcer originates.
const ROUTES: &[(&str, &str, u32, &str)] = &[
    ("10.1.0.0/24", "65100 65101", 20, "65001:100"),
    ("10.2.0.0/16", "65200", 0, "65001:200 65001:201"),
    ("10.3.3.0/24", "65300 65301 65302", 7, ""),
    ("192.0.2.128/25", "", 99, "65001:65535"),
];

fn wait<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Our `bgpdump -m` text of a daemon's file equals bgpdump's own, line for line.
fn same_as_bgpdump(live: &std::path::Path) {
    // The daemons keep appending: compare on a copy.
    let copy = live.with_extension("copy");
    std::fs::copy(live, &copy).unwrap();
    let p = copy.as_path();
    let Ok(o) = std::process::Command::new("bgpdump")
        .arg("-m")
        .arg(p)
        .output()
    else {
        assert!(
            std::env::var("CI").is_err(),
            "bgpdump not installed (CI=true)"
        );
        return;
    };
    let theirs: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let mut f = bgp_mrt::text::BgpdumpFormat::new();
    let ours: Vec<String> = MrtReader::open(p)
        .unwrap()
        .flat_map(|r| f.lines(&r.unwrap()))
        .collect();
    assert!(
        !theirs.is_empty(),
        "bgpdump printed nothing for {}",
        p.display()
    );
    assert_eq!(
        ours,
        theirs,
        "our -m text differs from bgpdump's on {}",
        p.display()
    );
}

/// What one path looks like, from our decode.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Path4 {
    as_path: String,
    origin: Origin,
    next_hop: String,
    med: u32,
    communities: Vec<String>,
}

fn summarize(attrs: &[PathAttribute]) -> Path4 {
    let mut p = Path4 {
        as_path: String::new(),
        origin: Origin::Incomplete,
        next_hop: String::new(),
        med: 0,
        communities: vec![],
    };
    for a in attrs {
        match a {
            PathAttribute::AsPath(x) => p.as_path = bgp_mrt::text::as_path_string(x),
            PathAttribute::Origin(o) => p.origin = *o,
            PathAttribute::NextHop(n) => p.next_hop = n.to_string(),
            PathAttribute::MpReachNlri(r) => {
                p.next_hop = r.next_hop.addr().map(|a| a.to_string()).unwrap_or_default()
            }
            PathAttribute::MultiExitDisc(m) => p.med = *m,
            PathAttribute::Communities(c) => {
                p.communities = c.iter().map(Community::to_string).collect()
            }
            _ => {}
        }
    }
    p
}

fn expected(peer_as: u32, nh: &str) -> BTreeMap<String, Path4> {
    ROUTES
        .iter()
        .map(|(p, path, med, comm)| {
            let as_path = if path.is_empty() {
                peer_as.to_string()
            } else {
                format!("{peer_as} {path}")
            };
            (
                p.to_string(),
                Path4 {
                    as_path,
                    origin: Origin::Igp,
                    next_hop: nh.to_string(),
                    med: *med,
                    communities: comm.split_whitespace().map(str::to_string).collect(),
                },
            )
        })
        .collect()
}

/// Start an announcing GoBGP (AS 65001, 10.9.0.2 in `b`) with the ROUTES.
fn announcer(b: &Netns, peer: &str, peer_as: u32) -> Gobgp {
    let gb = Gobgp::start(b, &Gobgp::config(65001, "10.9.0.2", &[(peer, peer_as)])).unwrap();
    for (p, path, med, comm) in ROUTES {
        let med = med.to_string();
        let mut args = vec![
            "global", "rib", "add", p, "origin", "igp", "nexthop", "10.9.0.2", "med", &med,
        ];
        if !path.is_empty() {
            args.extend(["aspath", path]);
        }
        let comm = comm.replace(' ', ",");
        if !comm.is_empty() {
            args.extend(["community", &comm]);
        }
        gb.gobgp(&args).unwrap();
    }
    gb
}

/// FRR: `dump bgp all` (BGP4MP update log, from the start of the session) and a one-off
/// `dump bgp routes-mrt` (TABLE_DUMP_V2) of the routes learnt from a GoBGP announcer;
/// checked against `show bgp ipv4 unicast json`.
#[test]
fn frr_writes_mrt_we_read() {
    if !testlab::require_root_and(&[
        "/usr/lib/frr/bgpd",
        "/usr/lib/frr/zebra",
        "vtysh",
        "gobgpd",
        "gobgp",
    ]) {
        return;
    }
    let a = Netns::new("mrtfa").unwrap();
    let b = Netns::new("mrtfb").unwrap();
    let _veth = Veth::new(&a, "eth0", &b, "eth0").unwrap();
    a.add_addr("eth0", "10.9.0.1/24").unwrap();
    b.add_addr("eth0", "10.9.0.2/24").unwrap();
    // The update log must be configured before the session comes up; FRR writes as user frr
    // into its own (frr-owned) directory, so start it once to learn the directory.
    let conf = testlab::Frr::config(65000, "10.9.0.1", &[("10.9.0.2", 65001)]);
    let frr = testlab::Frr::start(&a, &conf).unwrap();
    let all = frr.dir().join("all.mrt");
    let rib = frr.dir().join("rib.mrt");
    frr.vtysh_multi(&[
        "configure terminal",
        &format!("dump bgp all {}", all.display()),
    ])
    .unwrap();
    let gb = announcer(&b, "10.9.0.1", 65000);
    frr.wait_established("10.9.0.2", Duration::from_secs(30))
        .unwrap();
    let routes = wait("routes in FRR", Duration::from_secs(20), || {
        let j = frr.vtysh_json("show bgp ipv4 unicast json").ok()?;
        let r = j["routes"].as_object()?.clone();
        (r.len() == ROUTES.len()).then_some(r)
    });
    // FRR's own view, as JSON, agrees with what was announced...
    let want = expected(65001, "10.9.0.2");
    for (p, w) in &want {
        let path = &routes[p.as_str()][0];
        assert_eq!(
            path["path"].as_str().unwrap(),
            w.as_path,
            "FRR JSON path of {p}"
        );
        assert_eq!(
            path["metric"].as_u64().unwrap_or(0),
            w.med as u64,
            "FRR JSON med of {p}"
        );
    }
    // ...and the one-off table dump holds the same.
    frr.vtysh_multi(&[
        "configure terminal",
        &format!("dump bgp routes-mrt {}", rib.display()),
    ])
    .unwrap();
    let recs = wait("FRR's table dump", Duration::from_secs(10), || {
        let recs: Vec<MrtRecord> = MrtReader::open(&rib).ok()?.collect::<Result<_, _>>().ok()?;
        (recs
            .iter()
            .filter(|r| matches!(r.body, MrtBody::Rib(_)))
            .count()
            == ROUTES.len())
        .then_some(recs)
    });
    let MrtBody::PeerIndexTable(peers) = &recs[0].body else {
        panic!("no peer table first: {:?}", recs[0])
    };
    assert_eq!(peers.collector_id.to_string(), "10.9.0.1");
    let mut got = BTreeMap::new();
    for r in &recs[1..] {
        let MrtBody::Rib(x) = &r.body else {
            panic!("unexpected {r:?}")
        };
        assert_eq!(x.entries.len(), 1, "{}", x.prefix);
        let peer = &peers.peers[x.entries[0].peer_index as usize];
        assert_eq!(
            (peer.addr.to_string(), peer.asn),
            ("10.9.0.2".to_string(), 65001)
        );
        got.insert(x.prefix.to_string(), summarize(&x.entries[0].attributes));
    }
    assert_eq!(got, want, "FRR routes-mrt dump");
    same_as_bgpdump(&rib);

    // The BGP4MP log: Established, OPEN/KEEPALIVE and the UPDATEs with every route.
    drop(gb);
    let recs = wait(
        "the UPDATEs in FRR's update log",
        Duration::from_secs(10),
        || {
            let recs: Vec<MrtRecord> =
                MrtReader::open(&all).ok()?.collect::<Result<_, _>>().ok()?;
            let n: usize = recs
                .iter()
                .filter_map(|r| match &r.body {
                    MrtBody::Bgp4mp(Bgp4mp {
                        body: Bgp4mpBody::Message(m),
                        ..
                    }) => match m.as_ref() {
                        Message::Update(u) => Some(u.nlri.len()),
                        _ => None,
                    },
                    _ => None,
                })
                .sum();
            (n >= ROUTES.len()).then_some(recs)
        },
    );
    let mut announced = BTreeMap::new();
    let (mut established, mut opens) = (false, 0);
    for r in &recs {
        let MrtBody::Bgp4mp(m) = &r.body else {
            panic!("unexpected record in the update log: {r:?}")
        };
        assert_eq!(
            (m.peer_addr.to_string(), m.peer_as),
            ("10.9.0.2".to_string(), 65001)
        );
        match &m.body {
            Bgp4mpBody::StateChange(s) => established |= s.new == 6,
            Bgp4mpBody::Message(msg) => match msg.as_ref() {
                Message::Update(u) => {
                    for n in &u.nlri {
                        announced.insert(n.prefix.to_string(), summarize(&u.attributes));
                    }
                }
                Message::Open(o) => {
                    opens += 1;
                    assert!([65000, 65001].contains(&o.asn()));
                }
                _ => {}
            },
            Bgp4mpBody::Undecodable { error, .. } => panic!("undecodable message: {error}"),
        }
    }
    assert!(established, "no state change to Established in the log");
    assert!(opens >= 1, "no OPEN in the log");
    assert_eq!(announced, want, "routes in FRR's BGP4MP log");
    same_as_bgpdump(&all);
}

/// BIRD 2: `protocol mrt` (periodic TABLE_DUMP_V2 of master4) and `mrtdump` (BGP4MP
/// states and messages) with routes learnt from a GoBGP announcer; checked against
/// `birdc show route all` (BIRD has no JSON output).
#[test]
fn bird_writes_mrt_we_read() {
    if !testlab::require_root_and(&["bird", "birdc", "gobgpd", "gobgp"]) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("bgp-mrt-bird-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let a = Netns::new("mrtba").unwrap();
    let b = Netns::new("mrtbb").unwrap();
    let _veth = Veth::new(&a, "eth0", &b, "eth0").unwrap();
    a.add_addr("eth0", "10.9.0.1/24").unwrap();
    b.add_addr("eth0", "10.9.0.2/24").unwrap();
    let rib = dir.join("rib.mrt");
    let all = dir.join("all.mrt");
    let conf = format!(
        "router id 10.9.0.1;\nmrtdump \"{}\";\nmrtdump protocols {{ states, messages }};\n\
         protocol device {{ }}\n\
         protocol bgp up1 {{\n  local 10.9.0.1 as 65000;\n  neighbor 10.9.0.2 as 65001;\n  \
         connect delay time 1;\n  ipv4 {{ import all; export none; }};\n}}\n\
         protocol mrt dump1 {{\n  table master4;\n  filename \"{}\";\n  period 1;\n}}\n",
        all.display(),
        rib.display()
    );
    let bird = testlab::Bird::start(&a, &conf).unwrap();
    let _gb = announcer(&b, "10.9.0.1", 65000);
    bird.wait_established("up1", Duration::from_secs(30))
        .unwrap();
    let want = expected(65001, "10.9.0.2");
    // BIRD's own view.
    let shown = wait("routes in BIRD", Duration::from_secs(20), || {
        let t = bird.birdc("show route all").ok()?;
        want.keys().all(|p| t.contains(p.as_str())).then_some(t)
    });
    for w in want.values() {
        assert!(
            shown.contains(&format!("BGP.as_path: {}", w.as_path)),
            "{} not in {shown}",
            w.as_path
        );
    }
    assert!(
        shown.contains("BGP.community: (65001,200) (65001,201)"),
        "{shown}"
    );
    assert!(shown.contains("BGP.med: 99"), "{shown}");

    let got = wait(
        "BIRD's table dump with every route",
        Duration::from_secs(10),
        || {
            let recs: Vec<MrtRecord> =
                MrtReader::open(&rib).ok()?.collect::<Result<_, _>>().ok()?;
            // BIRD appends one dump (peer table, then RIB records) per period to the file.
            let mut peers = None;
            let mut got = BTreeMap::new();
            for r in &recs {
                let x = match &r.body {
                    MrtBody::PeerIndexTable(t) => {
                        peers = Some(t.clone());
                        got.clear();
                        continue;
                    }
                    MrtBody::Rib(x) => x,
                    _ => panic!("unexpected {r:?}"),
                };
                for e in &x.entries {
                    let peer = peers.as_ref()?.peers.get(e.peer_index as usize)?;
                    assert_eq!(
                        (peer.addr.to_string(), peer.asn),
                        ("10.9.0.2".to_string(), 65001)
                    );
                    got.insert(x.prefix.to_string(), summarize(&e.attributes));
                }
            }
            (got.len() == want.len()).then_some(got)
        },
    );
    if got != want {
        let mut rd = MrtReader::open(&rib).unwrap();
        while let Some(Ok(r)) = rd.next_raw() {
            if let Ok(v) = bgp_mrt::view::RibView::parse(r.header.subtype, &r.body) {
                for e in v.entries() {
                    eprintln!(
                        "{} raw attrs: {:?}",
                        v.prefix(),
                        e.attributes()
                            .map(|a| (a.type_code, a.flags, a.value.to_vec()))
                            .collect::<Vec<_>>()
                    );
                }
            }
        }
    }
    assert_eq!(got, want, "BIRD table dump");
    same_as_bgpdump(&rib);

    let recs = wait(
        "the UPDATEs in BIRD's mrtdump",
        Duration::from_secs(10),
        || {
            let recs: Vec<MrtRecord> =
                MrtReader::open(&all).ok()?.collect::<Result<_, _>>().ok()?;
            let n: usize = recs
                .iter()
                .filter_map(|r| match &r.body {
                    MrtBody::Bgp4mp(Bgp4mp {
                        body: Bgp4mpBody::Message(m),
                        ..
                    }) => match m.as_ref() {
                        Message::Update(u) => Some(u.nlri.len()),
                        _ => None,
                    },
                    _ => None,
                })
                .sum();
            (n >= want.len()).then_some(recs)
        },
    );
    let mut announced = BTreeMap::new();
    let mut established = false;
    for r in &recs {
        let MrtBody::Bgp4mp(m) = &r.body else {
            panic!("unexpected record in the update log: {r:?}")
        };
        match &m.body {
            // BIRD logs early state changes with an unspecified peer address.
            Bgp4mpBody::StateChange(s) => established |= s.new == 6,
            Bgp4mpBody::Message(msg) => {
                assert_eq!(m.peer_addr.to_string(), "10.9.0.2");
                if let Message::Update(u) = msg.as_ref() {
                    for n in &u.nlri {
                        announced.insert(n.prefix.to_string(), summarize(&u.attributes));
                    }
                }
            }
            Bgp4mpBody::Undecodable { error, .. } => panic!("undecodable message: {error}"),
        }
    }
    assert!(established, "no state change to Established in BIRD's log");
    assert_eq!(announced, want, "routes in BIRD's BGP4MP log");
    same_as_bgpdump(&all);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A GoBGP collector (AS 65000, 10.9.0.1) with one `[[mrt-dump]]` section, learning the
/// ROUTES from an announcing GoBGP (AS 65001, 10.9.0.2). Fields drop in order: daemons,
/// then the link, then the namespaces, then the directory.
struct GobgpLab {
    collector: Gobgp,
    _announcer: Gobgp,
    _veth: Veth,
    _a: Netns,
    _b: Netns,
    dir: std::path::PathBuf,
    /// The collector's `gobgp -j global rib -a ipv4` once it holds every route.
    rib: Value,
}

impl Drop for GobgpLab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl GobgpLab {
    /// `mrt_dump(dir)` gives the `[mrt-dump.config]` lines for files in `dir`.
    fn start(ns: &str, mrt_dump: impl Fn(&std::path::Path) -> String) -> GobgpLab {
        // GoBGP passes file names through Go's time.Format when it rotates: digits in the
        // path (a PID) are layout tokens and would be replaced by the date, so the
        // directory name has none.
        let tag: String = std::process::id()
            .to_string()
            .bytes()
            .map(|d| (b'a' + d - b'0') as char)
            .collect();
        let dir = std::env::temp_dir().join(format!("bgp-mrt-gobgp-{ns}-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let a = Netns::new(&format!("{ns}a")).unwrap();
        let b = Netns::new(&format!("{ns}b")).unwrap();
        let veth = Veth::new(&a, "eth0", &b, "eth0").unwrap();
        a.add_addr("eth0", "10.9.0.1/24").unwrap();
        b.add_addr("eth0", "10.9.0.2/24").unwrap();
        let conf_a = format!(
            "[global.config]\n  as = 65000\n  router-id = \"10.9.0.1\"\n\n[[neighbors]]\n  \
             [neighbors.config]\n    neighbor-address = \"10.9.0.2\"\n    peer-as = 65001\n\n\
             [[mrt-dump]]\n  [mrt-dump.config]\n{}",
            mrt_dump(&dir)
        );
        let collector = Gobgp::start(&a, &conf_a).unwrap();
        let announcer = announcer(&b, "10.9.0.1", 65000);
        collector
            .wait_established("10.9.0.2", Duration::from_secs(30))
            .unwrap();
        let n = ROUTES.len();
        let rib = wait("routes at the collector", Duration::from_secs(20), || {
            let rib = collector.rib_json("ipv4").ok()?;
            (rib.as_object()?.len() == n).then_some(rib)
        });
        GobgpLab {
            collector,
            _announcer: announcer,
            _veth: veth,
            _a: a,
            _b: b,
            dir,
            rib,
        }
    }

    /// The collector's paths as GoBGP reports them in its JSON, summarized like ours.
    fn json_paths(&self) -> BTreeMap<String, Path4> {
        let rib = self.rib.as_object().unwrap();
        rib.iter()
            .map(|(prefix, paths)| {
                let paths = paths.as_array().unwrap();
                assert_eq!(paths.len(), 1, "one path for {prefix}: {paths:?}");
                (prefix.clone(), gobgp_json_path(&paths[0]))
            })
            .collect()
    }
}

/// One path of `gobgp -j global rib`, by its attributes (type codes as on the wire).
fn gobgp_json_path(path: &Value) -> Path4 {
    let mut p = Path4 {
        as_path: String::new(),
        origin: Origin::Incomplete,
        next_hop: String::new(),
        med: 0,
        communities: vec![],
    };
    for a in path["attrs"].as_array().unwrap() {
        match a["type"].as_u64().unwrap() {
            1 => {
                p.origin = match a["value"].as_u64().unwrap() {
                    0 => Origin::Igp,
                    1 => Origin::Egp,
                    _ => Origin::Incomplete,
                }
            }
            2 => {
                let asns: Vec<String> = a["as_paths"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|seg| seg["asns"].as_array().unwrap().iter())
                    .map(|v| v.to_string())
                    .collect();
                p.as_path = asns.join(" ");
            }
            3 => p.next_hop = a["nexthop"].as_str().unwrap().to_string(),
            4 => p.med = a["metric"].as_u64().unwrap() as u32,
            8 => {
                p.communities = a["communities"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| Community(c.as_u64().unwrap() as u32).to_string())
                    .collect()
            }
            _ => {}
        }
    }
    p
}

/// GoBGP: a collector gobgpd (AS 65000) with an `updates` `[[mrt-dump]]` learns the ROUTES
/// from an announcing gobgpd; every record of its BGP4MP log is read and the routes match
/// both what was announced and the collector's `gobgp -j global rib`.
#[test]
fn gobgp_writes_update_log_we_read() {
    if !testlab::require_root_and(&["gobgpd", "gobgp"]) {
        return;
    }
    let lab = GobgpLab::start("mrtg", |dir| {
        format!(
            "    dump-type = \"updates\"\n    file-name = \"{}\"\n",
            dir.join("updates.mrt").display()
        )
    });
    let upd = lab.dir.join("updates.mrt");
    let want = expected(65001, "10.9.0.2");
    assert_eq!(lab.json_paths(), want, "gobgp JSON of the collector");
    let announced = wait(
        "the routes in GoBGP's update log",
        Duration::from_secs(10),
        || {
            let recs: Vec<MrtRecord> =
                MrtReader::open(&upd).ok()?.collect::<Result<_, _>>().ok()?;
            let mut announced = BTreeMap::new();
            for r in &recs {
                let MrtBody::Bgp4mp(m) = &r.body else {
                    panic!("unexpected record: {r:?}")
                };
                assert_eq!(
                    (m.peer_addr.to_string(), m.peer_as),
                    ("10.9.0.2".to_string(), 65001)
                );
                if let Bgp4mpBody::Message(msg) = &m.body
                    && let Message::Update(u) = msg.as_ref()
                {
                    for n in &u.nlri {
                        announced.insert(n.prefix.to_string(), summarize(&u.attributes));
                    }
                }
            }
            (announced.len() == want.len()).then_some(announced)
        },
    );
    assert_eq!(announced, want, "routes in GoBGP's BGP4MP log");
    same_as_bgpdump(&upd);
}

/// GoBGP: the same collector with a `table` `[[mrt-dump]]` (TABLE_DUMP_V2 of the global
/// RIB every `dump-interval`, 60 s at least). The file exists, empty, from the start; the
/// first dump comes one interval later (measured: 60 s after start). Its PEER_INDEX_TABLE,
/// prefixes, peers, AS paths, next hops and attributes are checked against `gobgp -j
/// global rib` and `gobgp -j neighbor`, and bgpdump reads the same.
#[test]
fn gobgp_writes_table_dump_we_read() {
    if !testlab::require_root_and(&["gobgpd", "gobgp"]) {
        return;
    }
    let started = Instant::now();
    let lab = GobgpLab::start("mrtt", |dir| {
        format!(
            "    dump-type = \"table\"\n    file-name = \"{}\"\n    dump-interval = 60\n",
            dir.join("rib.mrt").display()
        )
    });
    let rib = lab.dir.join("rib.mrt");
    // Created at start, nothing written before the first interval.
    if started.elapsed() < Duration::from_secs(50) {
        assert_eq!(
            std::fs::metadata(&rib).map(|m| m.len()).ok(),
            Some(0),
            "GoBGP's table dump file before the first interval"
        );
    }
    let want = expected(65001, "10.9.0.2");
    let json = lab.json_paths();
    assert_eq!(json, want, "gobgp JSON of the collector");
    let neighbor = lab.collector.neighbor_json("10.9.0.2").unwrap();
    let recs = wait("GoBGP's first table dump", Duration::from_secs(80), || {
        let recs: Vec<MrtRecord> = MrtReader::open(&rib).ok()?.collect::<Result<_, _>>().ok()?;
        let ribs = recs
            .iter()
            .filter(|r| matches!(r.body, MrtBody::Rib(_)))
            .count();
        (ribs >= ROUTES.len()).then_some(recs)
    });
    let MrtBody::PeerIndexTable(peers) = &recs[0].body else {
        panic!("no peer table first: {:?}", recs[0])
    };
    // GoBGP 3.10 writes collector BGP ID 0.0.0.0 for the global table (the octets say so,
    // bgpdump agrees below) and puts a dummy peer 0 (0.0.0.0, AS 0) first, for local routes.
    let raw = std::fs::read(&rib).unwrap();
    assert_eq!(
        peers.collector_id.octets(),
        raw[12..16],
        "collector BGP ID as written"
    );
    assert_eq!(peers.collector_id.to_string(), "0.0.0.0");
    assert_eq!(
        (peers.peers[0].addr.to_string(), peers.peers[0].asn),
        ("0.0.0.0".to_string(), 0),
        "{peers:?}"
    );
    assert_eq!(peers.peers.len(), 2, "{peers:?}");
    let mut got = BTreeMap::new();
    for r in &recs[1..] {
        let x = match &r.body {
            MrtBody::Rib(x) => x,
            MrtBody::PeerIndexTable(_) => break, // a second dump began
            _ => panic!("unexpected {r:?}"),
        };
        assert_eq!(x.subtype, td2::RIB_IPV4_UNICAST, "{}", x.prefix);
        assert_eq!(x.entries.len(), 1, "{}: {x:?}", x.prefix);
        let e = &x.entries[0];
        let peer = peers
            .peers
            .get(e.peer_index as usize)
            .unwrap_or_else(|| panic!("peer index {} not in {peers:?}", e.peer_index));
        // The peer as GoBGP's neighbor JSON has it.
        assert_eq!(peer.addr.to_string(), "10.9.0.2", "{peers:?}");
        assert_eq!(peer.asn, 65001, "{peers:?}");
        let st = &neighbor["state"];
        assert_eq!(
            (
                Some(peer.addr.to_string().as_str()),
                Some(peer.asn as u64),
                Some(peer.bgp_id.to_string().as_str())
            ),
            (
                st["neighbor_address"].as_str(),
                st["peer_asn"].as_u64(),
                st["router_id"].as_str()
            ),
            "PEER_INDEX_TABLE entry against gobgp -j neighbor: {neighbor}"
        );
        got.insert(x.prefix.to_string(), summarize(&e.attributes));
    }
    assert_eq!(got, json, "GoBGP table dump against its JSON");
    assert_eq!(got, want, "GoBGP table dump against what was announced");
    same_as_bgpdump(&rib);
}
