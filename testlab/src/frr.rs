//! FRR (zebra + bgpd) started by hand in a namespace, as user `frr`, with its own pathspace.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::netns::NextHop;
use crate::proc::{GRACE, ProcSet};
use crate::util::{TempDir, run, tail, unique_name, wait_until};
use crate::{Error, Netns, Result};

mod bfd;

const ZEBRA: &str = "/usr/lib/frr/zebra";
const BGPD: &str = "/usr/lib/frr/bgpd";

/// An FRR instance (zebra + bgpd) running in a namespace.
///
/// Started with `-N <pathspace>` (sockets in `/var/run/frr/<pathspace>/`), `-f` config files in
/// a temporary directory owned by `frr`, `-P 0` (no TCP vty) and file logs. The daemons drop
/// privileges to user `frr`. Dropping the handle stops bgpd then zebra by PID and removes the
/// pathspace and the temporary directory.
///
/// ```no_run
/// # fn main() -> testlab::Result<()> {
/// use std::time::Duration;
/// let ns = testlab::Netns::new("r")?;
/// let frr = testlab::Frr::start(&ns, "router bgp 64512\n bgp router-id 10.0.0.1\n")?;
/// println!("{}", frr.vtysh("show bgp summary")?);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Frr {
    ns: Netns,
    name: String,
    procs: ProcSet,
    zebra: u32,
    bgpd: u32,
    dir: TempDir,
}

impl Frr {
    /// Default `zebra.conf`: empty apart from a hostname.
    pub const DEFAULT_ZEBRA_CONF: &'static str = "hostname zebra\n";

    /// A `bgpd.conf` text: `frr defaults traditional`, `router bgp ASN` with this router id,
    /// `no bgp ebgp-requires-policy`, `no bgp network import-check`, and per `(address,
    /// remote_as)` neighbour `timers 3 9` and `timers connect 1` (quick tests; FRR's own default
    /// connect retry is 120 s). Append more lines (e.g. ` address-family ipv4 unicast` blocks)
    /// to the returned text as needed.
    pub fn config(asn: u32, router_id: &str, neighbors: &[(&str, u32)]) -> String {
        let mut s = format!(
            "frr defaults traditional\nhostname bgpd\n!\nrouter bgp {asn}\n \
             bgp router-id {router_id}\n no bgp ebgp-requires-policy\n \
             no bgp network import-check\n"
        );
        for (addr, remote_as) in neighbors {
            s.push_str(&format!(
                " neighbor {addr} remote-as {remote_as}\n neighbor {addr} timers 3 9\n \
                 neighbor {addr} timers connect 1\n"
            ));
        }
        s
    }

    /// Starts zebra and bgpd in `ns` with this `bgpd.conf` text and the default zebra config.
    /// Waits until bgpd answers vtysh (up to 10 s).
    pub fn start(ns: &Netns, bgpd_conf: &str) -> Result<Self> {
        Self::start_with(ns, bgpd_conf, Self::DEFAULT_ZEBRA_CONF)
    }

    /// Starts zebra (with `zebra_conf`) and bgpd (with `bgpd_conf`) in `ns`.
    pub fn start_with(ns: &Netns, bgpd_conf: &str, zebra_conf: &str) -> Result<Self> {
        Self::start_with_args(ns, bgpd_conf, zebra_conf, &[])
    }

    /// Like [`Frr::start_with`], passing `bgpd_args` to bgpd as well (e.g. `["-M", "bmp"]` to
    /// load the BMP module).
    pub fn start_with_args(
        ns: &Netns,
        bgpd_conf: &str,
        zebra_conf: &str,
        bgpd_args: &[&str],
    ) -> Result<Self> {
        let name = unique_name("frr");
        let dir = TempDir::new("frr")?;
        let d = dir.path();
        std::fs::write(d.join("zebra.conf"), zebra_conf)?;
        std::fs::write(d.join("bgpd.conf"), bgpd_conf)?;
        std::fs::create_dir_all(d.join(&name))?;
        std::fs::write(d.join(&name).join("vtysh.conf"), "")?;
        dir.chown("frr:frr")?;
        let rundir = Self::rundir_of(&name);
        std::fs::create_dir_all(&rundir)?;
        run(Command::new("chown").arg("frr:frr").arg(&rundir))?;
        let mut frr = Frr {
            ns: ns.clone(),
            name,
            procs: ProcSet::default(),
            zebra: 0,
            bgpd: 0,
            dir,
        };
        frr.zebra = frr.spawn_daemon(ZEBRA, "zebra", &[])?;
        let zsock = rundir.join("zserv.api");
        if !wait_until(Duration::from_secs(10), || zsock.exists()) {
            return Err(Error::msg(format!(
                "zebra did not come up in {}: {}",
                ns.name(),
                tail(&frr.log_path("zebra"), 20)
            )));
        }
        frr.bgpd = frr.spawn_daemon(BGPD, "bgpd", bgpd_args)?;
        let ok = wait_until(Duration::from_secs(10), || {
            frr.procs.is_running(frr.bgpd)
                && frr
                    .vtysh("show bgp summary json")
                    .is_ok_and(|s| serde_json::from_str::<Value>(&s).is_ok())
        });
        if !ok {
            return Err(Error::msg(format!(
                "bgpd did not come up in {}: {}",
                ns.name(),
                tail(&frr.log_path("bgpd"), 20)
            )));
        }
        let errs = frr.config_errors();
        if !errs.is_empty() {
            return Err(Error::msg(format!(
                "FRR rejected config lines in {}:\n{}",
                ns.name(),
                errs.join("\n")
            )));
        }
        Ok(frr)
    }

    fn rundir_of(name: &str) -> PathBuf {
        Path::new("/var/run/frr").join(name)
    }

    fn spawn_daemon(&self, bin: &str, daemon: &str, extra: &[&str]) -> Result<u32> {
        let d = self.dir.path();
        let mut cmd = self.ns.command(bin);
        cmd.arg("-N")
            .arg(&self.name)
            .arg("-f")
            .arg(d.join(format!("{daemon}.conf")))
            .args(["-P", "0", "-u", "frr", "-g", "frr"])
            .arg("--log")
            .arg(format!("file:{}", self.log_path(daemon).display()))
            .args(extra)
            .stdin(std::process::Stdio::null());
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join(format!("{daemon}.out")))?;
        cmd.stdout(out.try_clone()?).stderr(out);
        self.procs.spawn(cmd)
    }

    /// The pathspace name (`vtysh -N NAME`).
    pub fn pathspace(&self) -> &str {
        &self.name
    }

    /// The namespace FRR runs in.
    pub fn netns(&self) -> &Netns {
        &self.ns
    }

    /// The temporary directory with configs and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Path of a daemon's log file (`"bgpd"` or `"zebra"`).
    pub fn log_path(&self, daemon: &str) -> PathBuf {
        self.dir.path().join(format!("{daemon}.log"))
    }

    /// Config lines zebra or bgpd rejected at start (`Command returned ... on config line N`
    /// in their logs). [`Frr::start`] fails when there is any, so a typo cannot go unnoticed.
    pub fn config_errors(&self) -> Vec<String> {
        ["zebra", "bgpd"]
            .iter()
            .flat_map(|d| {
                std::fs::read_to_string(self.log_path(d))
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.contains("on config line"))
                    .map(|l| format!("{d}: {l}"))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// PID of bgpd.
    pub fn bgpd_pid(&self) -> u32 {
        self.bgpd
    }

    /// PID of zebra.
    pub fn zebra_pid(&self) -> u32 {
        self.zebra
    }

    /// True while both daemons run.
    pub fn is_running(&self) -> bool {
        self.procs.is_running(self.bgpd) && self.procs.is_running(self.zebra)
    }

    /// Runs one vtysh command, returns its output.
    pub fn vtysh(&self, cmd: &str) -> Result<String> {
        self.vtysh_multi(&[cmd])
    }

    /// Runs several vtysh commands in one session (e.g. `["configure terminal", "router bgp
    /// 64512", "neighbor 10.0.0.2 shutdown"]`), returns the output.
    pub fn vtysh_multi(&self, cmds: &[&str]) -> Result<String> {
        let mut c = Command::new("vtysh");
        c.arg("-N")
            .arg(&self.name)
            .arg("--config_dir")
            .arg(self.dir.path());
        for cmd in cmds {
            c.arg("-c").arg(cmd);
        }
        run(&mut c)
    }

    /// Runs a vtysh command that prints JSON and parses it.
    pub fn vtysh_json(&self, cmd: &str) -> Result<Value> {
        let out = self.vtysh(cmd)?;
        serde_json::from_str(&out)
            .map_err(|e| Error::msg(format!("vtysh `{cmd}`: bad JSON ({e}): {out}")))
    }

    /// `show bgp summary json`.
    pub fn bgp_summary(&self) -> Result<Value> {
        self.vtysh_json("show bgp summary json")
    }

    /// The summary entry of one peer (`ipv4Unicast`/`ipv6Unicast` `.peers[addr]`), with
    /// `state`, `pfxRcd`, `pfxSnt`... or `Value::Null` when unknown.
    pub fn summary_peer(&self, addr: &str) -> Result<Value> {
        let s = self.bgp_summary()?;
        for af in ["ipv4Unicast", "ipv6Unicast"] {
            if let Some(p) = s
                .get(af)
                .and_then(|a| a.get("peers"))
                .and_then(|p| p.get(addr))
            {
                return Ok(p.clone());
            }
        }
        Ok(Value::Null)
    }

    /// `show bgp neighbors ADDR json`, the object for that neighbour (`bgpState`,
    /// `bgpTimerHoldTimeMsecs`, `neighborCapabilities`, ...), or `Value::Null`.
    pub fn neighbor(&self, addr: &str) -> Result<Value> {
        let v = self.vtysh_json(&format!("show bgp neighbors {addr} json"))?;
        Ok(v.get(addr).cloned().unwrap_or(Value::Null))
    }

    /// The `bgpState` of a neighbour (`"Established"`, `"Active"`, ...), if known.
    pub fn neighbor_state(&self, addr: &str) -> Option<String> {
        self.neighbor(addr)
            .ok()?
            .get("bgpState")
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// Waits until the session with `peer` is Established.
    pub fn wait_established(&self, peer: &str, timeout: Duration) -> Result<()> {
        if wait_until(timeout, || {
            self.neighbor_state(peer).as_deref() == Some("Established")
        }) {
            Ok(())
        } else {
            Err(Error::msg(format!(
                "FRR in {}: {peer} not Established after {timeout:?} (state {:?})",
                self.ns.name(),
                self.neighbor_state(peer)
            )))
        }
    }

    /// `show bgp ipv4|ipv6 unicast PREFIX json` (family chosen from the prefix): `paths`, ...
    pub fn route_json(&self, prefix: &str) -> Result<Value> {
        let af = if prefix.contains(':') { "ipv6" } else { "ipv4" };
        self.vtysh_json(&format!("show bgp {af} unicast {prefix} json"))
    }

    /// Number of BGP paths FRR holds for `prefix` (0 when none).
    pub fn path_count(&self, prefix: &str) -> usize {
        self.route_json(prefix)
            .ok()
            .and_then(|v| v.get("paths").and_then(Value::as_array).map(Vec::len))
            .unwrap_or(0)
    }

    /// zebra's view: `show ip route PREFIX json` (or `show ipv6 route`).
    pub fn rib_json(&self, prefix: &str) -> Result<Value> {
        let af = if prefix.contains(':') { "ipv6" } else { "ip" };
        self.vtysh_json(&format!("show {af} route {prefix} json"))
    }

    /// Next hops of the kernel route for `prefix` in FRR's namespace (`ip -j route show`).
    pub fn kernel_nexthops(&self, prefix: &str) -> Result<Vec<NextHop>> {
        self.ns.route_nexthops(prefix)
    }

    /// Waits until the kernel route for `prefix` in FRR's namespace has exactly `count` next
    /// hops (0: until it is gone) and returns them.
    pub fn wait_kernel_nexthops(
        &self,
        prefix: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<NextHop>> {
        let mut last = Vec::new();
        if wait_until(timeout, || {
            last = self.kernel_nexthops(prefix).unwrap_or_default();
            last.len() == count
        }) {
            Ok(last)
        } else {
            Err(Error::msg(format!(
                "kernel route {prefix} in {}: want {count} next hops after {timeout:?}, have {last:?}",
                self.ns.name()
            )))
        }
    }

    /// Sends a signal by name (`STOP`, `CONT`, `KILL`, `TERM`...) to bgpd, e.g. to freeze it
    /// and watch a peer's hold timer expire. A killed bgpd is reaped on drop.
    pub fn signal_bgpd(&self, sig: &str) -> Result<()> {
        self.procs.signal(self.bgpd, sig)
    }

    /// Stops bgpd and zebra now (the drop does the same).
    pub fn stop(&mut self) {
        if self.procs.is_running(self.bgpd) {
            let _ = self.procs.stop(self.bgpd, GRACE);
        }
        self.procs.stop_all(GRACE);
        let _ = std::fs::remove_dir_all(Self::rundir_of(&self.name));
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        self.stop();
    }
}
