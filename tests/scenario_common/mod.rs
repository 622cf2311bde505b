//! Shared helpers of the scenario tests: the `announce` binary, node namespaces on a
//! bridge, an FRR router, and JSON inspection.
//!
//! The speaker under test is the real `announce` example binary, run inside each node's
//! namespace with `ip netns exec`. Cargo gives no `CARGO_BIN_EXE_` for examples, so
//! [`announce_bin`] uses `target/<profile>/examples/announce` next to the test binary
//! (built by `cargo test` along with the tests) and runs `cargo build --example announce`
//! first when it is missing or older than the test binary.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use testlab::{Bridge, Frr, Netns, TempDir, wait_until};

pub const T: Duration = Duration::from_secs(40);

/// Path of the `announce` example binary, built if needed.
pub fn announce_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("current_exe");
        // target/<profile>/deps/scenario-HASH
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("profile dir")
            .to_path_buf();
        let target_dir = profile_dir.parent().expect("target dir").to_path_buf();
        let bin = profile_dir.join("examples").join("announce");
        // `cargo test` builds the example along with the tests; rebuild only when a source
        // it depends on is newer than the binary (e.g. `cargo test --test scenario` alone).
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let newest_source = [
            "src",
            "examples",
            "bgp-wire/src",
            "bgp-fsm/src",
            "bgp-rib/src",
            "bgp-bfd/src",
        ]
        .iter()
        .filter_map(|d| newest_mtime(&root.join(d)))
        .max();
        let fresh = std::fs::metadata(&bin)
            .and_then(|m| m.modified())
            .ok()
            .is_some_and(|b| newest_source.is_none_or(|src| b >= src));
        if !fresh {
            let mut c = Command::new(env!("CARGO"));
            c.args(["build", "--example", "announce", "--manifest-path"])
                .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
                .arg("--target-dir")
                .arg(&target_dir);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                c.arg("--release");
            }
            let st = c.status().expect("cargo build --example announce");
            assert!(st.success(), "building the announce example failed");
        }
        assert!(bin.exists(), "{} missing", bin.display());
        bin
    })
    .clone()
}

/// The newest modification time of the files under `dir` (bounded depth).
fn newest_mtime(dir: &Path) -> Option<std::time::SystemTime> {
    let mut newest = None;
    let mut stack = vec![(dir.to_path_buf(), 0)];
    while let Some((d, depth)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            if md.is_dir() {
                if depth < 8 {
                    stack.push((e.path(), depth + 1));
                }
            } else if let Ok(t) = md.modified() {
                newest = newest.max(Some(t));
            }
        }
    }
    newest
}

/// One node: a namespace on the bridge running `announce`.
pub struct Node {
    pub ns: Netns,
    pub addr: String,
    pub dir: PathBuf,
    pub pid: Option<u32>,
}

impl Node {
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("announce.toml")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("announce.log")
    }
    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config_path(), text).unwrap();
    }
    /// Start `announce --config FILE` with extra flags, output to the log file.
    pub fn start(&mut self, extra: &[&str]) {
        let bin = announce_bin();
        let cfg = self.config_path();
        let mut args: Vec<&str> = vec![bin.to_str().unwrap(), "--config", cfg.to_str().unwrap()];
        args.extend_from_slice(extra);
        let log = self.log_path();
        self.pid = Some(self.ns.spawn_args(&args, Some(&log)).unwrap());
    }
    pub fn signal(&self, sig: &str) {
        self.ns.signal(self.pid.unwrap(), sig).unwrap();
    }
    pub fn running(&self) -> bool {
        self.pid.is_some_and(|p| self.ns.is_running(p))
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

/// The lab: a bridge with the router and the nodes, FRR on the router.
pub struct Lab {
    pub nodes: Vec<Node>,
    pub frr: Frr,
    pub router: Netns,
    pub bridge: Bridge,
    pub tmp: TempDir,
}

impl Lab {
    /// Build the bridge, the router namespace with `router_addrs` on eth0, and one node per
    /// `(addresses on eth0, node address used as peer key)`; start FRR with `bgpd_conf`.
    pub fn new(router_addrs: &str, nodes: &[(&str, &str)], bgpd_conf: &str) -> Lab {
        Self::with_zebra(router_addrs, nodes, bgpd_conf, Frr::DEFAULT_ZEBRA_CONF)
    }

    pub fn with_zebra(
        router_addrs: &str,
        nodes: &[(&str, &str)],
        bgpd_conf: &str,
        zebra_conf: &str,
    ) -> Lab {
        let tmp = TempDir::new("spk").unwrap();
        let mut bridge = Bridge::new("sbr").unwrap();
        let router = Netns::new("srt").unwrap();
        bridge.attach(&router, "eth0", router_addrs).unwrap();
        router.enable_forwarding().unwrap();
        let mut out = Vec::new();
        for (i, (addrs, key)) in nodes.iter().enumerate() {
            let ns = Netns::new("snd").unwrap();
            bridge.attach(&ns, "eth0", addrs).unwrap();
            let dir = tmp.path().join(format!("node{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            out.push(Node {
                ns,
                addr: key.to_string(),
                dir,
                pid: None,
            });
        }
        let frr = Frr::start_with(&router, bgpd_conf, zebra_conf).unwrap();
        Lab {
            nodes: out,
            frr,
            router,
            bridge,
            tmp,
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for n in &self.nodes {
                eprintln!(
                    "--- log of node {} ({}) ---\n{}",
                    n.addr,
                    n.log_path().display(),
                    n.log()
                );
            }
            eprintln!(
                "--- FRR bgpd log ---\n{}",
                std::fs::read_to_string(self.frr.log_path("bgpd")).unwrap_or_default()
            );
        }
    }
}

/// Kernel next-hop gateways of `prefix` in FRR's namespace.
pub fn gateways(frr: &Frr, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = frr
        .kernel_nexthops(prefix)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|n| n.gateway.map(|g| g.to_string()))
        .collect();
    v.sort();
    v
}

/// Wait until the kernel route for `prefix` has exactly `n` next hops; returns the time it took.
pub fn wait_gateways(frr: &Frr, prefix: &str, n: usize, timeout: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    wait_until(timeout, || gateways(frr, prefix).len() == n).then(|| t0.elapsed())
}

pub fn neighbor_u64(frr: &Frr, addr: &str, key: &str) -> Option<u64> {
    frr.neighbor(addr).ok()?.get(key)?.as_u64()
}

pub fn paths(frr: &Frr, prefix: &str) -> Vec<Value> {
    frr.route_json(prefix)
        .ok()
        .and_then(|v| v.get("paths").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

/// Skip unless root with FRR, tcpdump and tshark installed.
pub fn lab_available() -> bool {
    testlab::require_root_and(&[
        "/usr/lib/frr/bgpd",
        "/usr/lib/frr/zebra",
        "vtysh",
        "tcpdump",
        "tshark",
        "ip",
    ])
}
