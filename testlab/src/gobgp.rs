//! GoBGP (`gobgpd`) in a namespace, driven with the `gobgp` CLI over its gRPC API on the
//! namespace's loopback.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::proc::{GRACE, ProcSet};
use crate::util::{TempDir, run, tail, wait_until};
use crate::{Error, Netns, Result};

/// A `gobgpd` process with a TOML config, its API on `127.0.0.1:PORT` inside the namespace.
/// Dropping the handle stops it by PID (SIGTERM: GoBGP sends Cease to its peers).
///
/// ```no_run
/// # fn main() -> testlab::Result<()> {
/// let ns = testlab::Netns::new("gb")?;
/// let conf = testlab::Gobgp::config(64512, "10.0.0.2", &[("10.0.0.1", 64512)]);
/// let gb = testlab::Gobgp::start(&ns, &conf)?;
/// gb.add_route("172.16.10.0/32", "10.0.0.2")?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Gobgp {
    ns: Netns,
    procs: ProcSet,
    pid: u32,
    port: u16,
    dir: TempDir,
}

impl Gobgp {
    /// A minimal config: global AS and router id, listen port 179, and one neighbour per
    /// `(address, peer_as)` with hold time 9 s / keepalive 3 s and a 1 s connect retry.
    /// (Measured: GoBGP still waits ~5 s between its own connection attempts, so the first
    /// session is quickest when the peer connects to GoBGP; keep it listening.)
    pub fn config(asn: u32, router_id: &str, neighbors: &[(&str, u32)]) -> String {
        let mut s =
            format!("[global.config]\n  as = {asn}\n  router-id = \"{router_id}\"\n  port = 179\n");
        for (addr, peer_as) in neighbors {
            let fam = if addr.contains(':') {
                "ipv6-unicast"
            } else {
                "ipv4-unicast"
            };
            s.push_str(&format!(
                "\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{addr}\"\n    \
                 peer-as = {peer_as}\n  [neighbors.timers.config]\n    hold-time = 9\n    \
                 keepalive-interval = 3\n    connect-retry = 1\n  [[neighbors.afi-safis]]\n    \
                 [neighbors.afi-safis.config]\n      afi-safi-name = \"{fam}\"\n"
            ));
        }
        s
    }

    /// Starts gobgpd in `ns` with this TOML config, API on 127.0.0.1:50051 of the namespace.
    pub fn start(ns: &Netns, toml: &str) -> Result<Self> {
        Self::start_on_port(ns, toml, 50051)
    }

    /// Same as [`Gobgp::start`] with another API port.
    pub fn start_on_port(ns: &Netns, toml: &str, port: u16) -> Result<Self> {
        let dir = TempDir::new("gobgp")?;
        let conf = dir.path().join("gobgpd.toml");
        std::fs::write(&conf, toml)?;
        let log = dir.path().join("gobgpd.log");
        let f = std::fs::File::create(&log)?;
        let mut cmd = ns.command("gobgpd");
        cmd.arg("-f")
            .arg(&conf)
            .args(["-t", "toml", "-p", "--pprof-disable"])
            .arg(format!("--api-hosts=127.0.0.1:{port}"))
            .stdin(std::process::Stdio::null())
            .stdout(f.try_clone()?)
            .stderr(f);
        let procs = ProcSet::default();
        let pid = procs.spawn(cmd)?;
        let gb = Gobgp {
            ns: ns.clone(),
            procs,
            pid,
            port,
            dir,
        };
        let ok = wait_until(Duration::from_secs(10), || {
            gb.procs.is_running(pid) && gb.gobgp(&["global"]).is_ok()
        });
        if !ok {
            return Err(Error::msg(format!(
                "gobgpd did not come up in {}: {}",
                ns.name(),
                tail(&log, 20)
            )));
        }
        Ok(gb)
    }

    /// PID of gobgpd.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The namespace it runs in.
    pub fn netns(&self) -> &Netns {
        &self.ns
    }

    /// Path of its log (stdout + stderr).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("gobgpd.log")
    }

    /// The temporary directory (config, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the `gobgp` CLI against this instance (`gobgp -p PORT args...` in the namespace).
    pub fn gobgp(&self, args: &[&str]) -> Result<String> {
        let port = self.port.to_string();
        run(self
            .ns
            .command("gobgp")
            .args(["-u", "127.0.0.1", "-p", &port])
            .args(args))
    }

    /// Runs the CLI with `-j` and parses the JSON.
    pub fn gobgp_json(&self, args: &[&str]) -> Result<Value> {
        let mut a = vec!["-j"];
        a.extend_from_slice(args);
        let out = self.gobgp(&a)?;
        serde_json::from_str(&out).map_err(|e| Error::msg(format!("gobgp {args:?}: {e}: {out}")))
    }

    fn family(prefix: &str) -> &'static str {
        if prefix.contains(':') { "ipv6" } else { "ipv4" }
    }

    /// Originates `prefix` with next hop `nexthop` and origin IGP.
    pub fn add_route(&self, prefix: &str, nexthop: &str) -> Result<()> {
        self.gobgp(&[
            "global",
            "rib",
            "-a",
            Self::family(prefix),
            "add",
            prefix,
            "nexthop",
            nexthop,
            "origin",
            "igp",
        ])
        .map(|_| ())
    }

    /// Withdraws a route originated with [`Gobgp::add_route`].
    pub fn del_route(&self, prefix: &str) -> Result<()> {
        self.gobgp(&["global", "rib", "-a", Self::family(prefix), "del", prefix])
            .map(|_| ())
    }

    /// The global RIB of a family (`"ipv4"` or `"ipv6"`) as JSON: an object keyed by prefix,
    /// each a list of paths.
    pub fn rib_json(&self, family: &str) -> Result<Value> {
        self.gobgp_json(&["global", "rib", "-a", family])
    }

    /// True when the global RIB holds `prefix`.
    pub fn has_route(&self, prefix: &str) -> bool {
        self.rib_json(Self::family(prefix))
            .ok()
            .is_some_and(|v| v.get(prefix).is_some())
    }

    /// `gobgp -j neighbor ADDR`.
    pub fn neighbor_json(&self, addr: &str) -> Result<Value> {
        self.gobgp_json(&["neighbor", addr])
    }

    /// True when the session with `addr` is established.
    pub fn is_established(&self, addr: &str) -> bool {
        self.neighbor_json(addr).ok().is_some_and(|v| {
            let st = &v["state"]["session_state"];
            st.as_i64() == Some(6)
                || st
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case("established"))
        })
    }

    /// Waits until the session with `addr` is established.
    pub fn wait_established(&self, addr: &str, timeout: Duration) -> Result<()> {
        if wait_until(timeout, || self.is_established(addr)) {
            Ok(())
        } else {
            Err(Error::msg(format!(
                "gobgp in {}: {addr} not established after {timeout:?}",
                self.ns.name()
            )))
        }
    }

    /// Sends a signal by name (`STOP`, `CONT`, `KILL`, `TERM`...) to gobgpd (its process
    /// group). A killed process is reaped on drop.
    pub fn signal(&self, sig: &str) -> Result<()> {
        self.procs.signal(self.pid, sig)
    }

    /// Stops gobgpd (SIGTERM, grace, SIGKILL) now; the drop does the same.
    pub fn stop(&mut self) {
        self.procs.stop_all(GRACE);
    }
}

impl Drop for Gobgp {
    fn drop(&mut self) {
        self.stop();
    }
}
