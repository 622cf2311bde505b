//! Network namespaces, veth pairs and bridges.

use std::ffi::OsStr;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::proc::{GRACE, ProcSet};
use crate::util::{output, run, unique_name};
use crate::{Error, Result};

#[derive(Debug)]
struct Inner {
    name: String,
    procs: ProcSet,
    ifs: AtomicU32,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.procs.stop_all(GRACE);
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_file(Path::new(REGISTRY).join(&self.name));
    }
}

/// Where each namespace records the process that created it (`PID STARTTIME`), so that
/// namespaces of a test process killed before its drops ran can be found and removed.
const REGISTRY: &str = "/run/testlab";

/// `(pid, start time in clock ticks)` of a live process, from `/proc/PID/stat`.
fn proc_identity(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)`, which may itself hold spaces or parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    // rest starts at field 3 (state); starttime is field 22.
    let start = rest.split_whitespace().nth(19)?.parse().ok()?;
    Some((pid, start))
}

fn register(name: &str) {
    let me = std::process::id();
    if let Some((pid, start)) = proc_identity(me) {
        let _ = std::fs::create_dir_all(REGISTRY);
        let _ = std::fs::write(Path::new(REGISTRY).join(name), format!("{pid} {start}\n"));
    }
}

/// Removes the namespaces that testlab users created and never deleted because their process
/// died without unwinding (SIGKILL, abort): for each one whose creator is gone, the processes
/// still inside it are killed (by PID, from `ip netns pids`) and the namespace is deleted.
/// Namespaces of live processes are never touched. Returns how many were removed.
/// [`Netns::new`] calls it once per process.
pub fn remove_stale_namespaces() -> usize {
    let Ok(dir) = std::fs::read_dir(REGISTRY) else {
        return 0;
    };
    let mut removed = 0;
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let owner = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let mut it = owner.split_whitespace();
        let (Some(pid), Some(start)) = (
            it.next().and_then(|p| p.parse::<u32>().ok()),
            it.next().and_then(|s| s.parse::<u64>().ok()),
        ) else {
            continue;
        };
        if proc_identity(pid) == Some((pid, start)) {
            continue; // creator alive
        }
        if Path::new("/run/netns").join(&name).exists() {
            let pids = output(Command::new("ip").args(["netns", "pids", &name]))
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            for p in pids.split_whitespace() {
                let _ = Command::new("kill")
                    .args(["-KILL", p])
                    .stderr(Stdio::null())
                    .status();
            }
            let _ = output(Command::new("ip").args(["netns", "del", &name]));
            removed += 1;
        }
        let _ = std::fs::remove_file(entry.path());
    }
    removed
}

static STALE_SWEEP: std::sync::Once = std::sync::Once::new();

/// A network namespace with a unique short name (`prefix` + pid + counter, <= 15 chars).
///
/// Cloning gives another handle to the same namespace. When the last handle is dropped, every
/// process spawned through it is stopped (SIGTERM to its process group, SIGKILL after 3 s,
/// reaped) and the namespace is deleted (which deletes the veth ends inside it). Daemon handles
/// ([`crate::Frr`], [`crate::Gobgp`], ...) keep a clone, so the namespace outlives them.
#[derive(Debug, Clone)]
pub struct Netns {
    inner: Arc<Inner>,
}

impl Netns {
    /// Creates a namespace named `prefix` + pid + counter, brings `lo` up, turns IPv6
    /// duplicate address detection off (addresses are usable at once) and IPv6 router
    /// advertisement processing / SLAAC off (only the addresses a test adds exist).
    pub fn new(prefix: &str) -> Result<Self> {
        STALE_SWEEP.call_once(|| {
            let n = remove_stale_namespaces();
            if n > 0 {
                eprintln!("testlab: removed {n} stale namespace(s) of dead test processes");
            }
        });
        let mut last_err = None;
        for _ in 0..5 {
            let name = unique_name(prefix);
            match Self::with_name(&name) {
                Ok(ns) => return Ok(ns),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| Error::msg("netns: no name")))
    }

    /// Creates a namespace with exactly this name (fails if it exists). Prefer [`Netns::new`].
    pub fn with_name(name: &str) -> Result<Self> {
        if name.is_empty() || name.len() > 15 {
            return Err(Error::msg(format!(
                "netns name {name:?} must be 1..=15 chars"
            )));
        }
        if Path::new("/run/netns").join(name).exists() {
            return Err(Error::msg(format!("netns {name} already exists")));
        }
        run(Command::new("ip").args(["netns", "add", name]))?;
        register(name);
        let ns = Netns {
            inner: Arc::new(Inner {
                name: name.to_string(),
                procs: ProcSet::default(),
                ifs: AtomicU32::new(0),
            }),
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        // Deterministic addressing: no DAD delay, and no SLAAC addresses from router
        // advertisements (FRR sends RAs on interfaces with RFC 8950 / unnumbered peers; a node
        // would then pick an autoconfigured source address for its sessions).
        for (key, val) in [
            ("net.ipv6.conf.all.accept_dad", "0"),
            ("net.ipv6.conf.default.accept_dad", "0"),
            ("net.ipv6.conf.all.accept_ra", "0"),
            ("net.ipv6.conf.default.accept_ra", "0"),
            ("net.ipv6.conf.all.autoconf", "0"),
            ("net.ipv6.conf.default.autoconf", "0"),
        ] {
            let _ = ns.set_sysctl(key, val);
        }
        Ok(ns)
    }

    /// The namespace's name (as in `ip netns list`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// A `Command` running `program` inside the namespace (`ip netns exec NAME program`), to
    /// which you add arguments, environment and stdio, then pass to [`Netns::spawn`] or run.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.inner.name]).arg(program);
        c
    }

    /// Runs `args[0]` with `args[1..]` in the namespace, returns stdout; error (with stderr)
    /// when it exits non-zero.
    pub fn exec(&self, args: &[&str]) -> Result<String> {
        let (prog, rest) = args
            .split_first()
            .ok_or_else(|| Error::msg("exec: empty command"))?;
        run(self.command(prog).args(rest))
    }

    /// Like [`Netns::exec`] but returns the raw output whatever the exit status.
    pub fn output(&self, args: &[&str]) -> Result<Output> {
        let (prog, rest) = args
            .split_first()
            .ok_or_else(|| Error::msg("output: empty command"))?;
        output(self.command(prog).args(rest))
    }

    /// Spawns a command (normally built with [`Netns::command`]) in its own process group and
    /// keeps it: it is stopped when the namespace handle is dropped. Returns its PID.
    pub fn spawn(&self, cmd: Command) -> Result<u32> {
        self.inner.procs.spawn(cmd)
    }

    /// Spawns `args` in the namespace with stdout and stderr appended to `log` (or discarded
    /// when `None`) and stdin closed. Returns its PID.
    pub fn spawn_args(&self, args: &[&str], log: Option<&Path>) -> Result<u32> {
        let (prog, rest) = args
            .split_first()
            .ok_or_else(|| Error::msg("spawn: empty command"))?;
        let mut cmd = self.command(prog);
        cmd.args(rest).stdin(Stdio::null());
        match log {
            Some(p) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?;
                cmd.stdout(f.try_clone()?).stderr(f);
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        self.spawn(cmd)
    }

    /// PIDs of the processes spawned through this namespace that are not reaped yet.
    pub fn pids(&self) -> Vec<u32> {
        self.inner.procs.pids()
    }

    /// True when `pid` was spawned here and is still running.
    pub fn is_running(&self, pid: u32) -> bool {
        self.inner.procs.is_running(pid)
    }

    /// Sends a signal by name (`TERM`, `KILL`, `STOP`, `CONT`, `HUP`...) to a process spawned
    /// here (to its process group). Does not reap it: see [`Netns::wait_exit`].
    pub fn signal(&self, pid: u32, sig: &str) -> Result<()> {
        self.inner.procs.signal(pid, sig)
    }

    /// Stops a process spawned here: SIGTERM, up to 3 s grace, SIGKILL; reaps it.
    pub fn stop(&self, pid: u32) -> Result<Option<ExitStatus>> {
        self.inner.procs.stop(pid, GRACE)
    }

    /// Waits up to `timeout` for a process spawned here to exit (e.g. after [`Netns::signal`]);
    /// reaps it and returns its status, or `None` on timeout.
    pub fn wait_exit(&self, pid: u32, timeout: Duration) -> Option<ExitStatus> {
        self.inner.procs.wait_exit(pid, timeout)
    }

    /// Runs `ip -n NAME args...`, returns stdout.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        run(Command::new("ip").args(["-n", &self.inner.name]).args(args))
    }

    /// Adds an address (`10.0.0.1/24`, `fd00::1/64`) to `dev`; IPv6 addresses get `nodad`.
    pub fn add_addr(&self, dev: &str, cidr: &str) -> Result<()> {
        if cidr.contains(':') {
            self.ip(&["addr", "add", cidr, "dev", dev, "nodad"])?;
        } else {
            self.ip(&["addr", "add", cidr, "dev", dev])?;
        }
        Ok(())
    }

    /// Sets a link up.
    pub fn link_up(&self, dev: &str) -> Result<()> {
        self.ip(&["link", "set", dev, "up"]).map(|_| ())
    }

    /// Sets a sysctl inside the namespace (`sysctl -qw KEY=VALUE`).
    pub fn set_sysctl(&self, key: &str, value: &str) -> Result<()> {
        self.exec(&["sysctl", "-qw", &format!("{key}={value}")])
            .map(|_| ())
    }

    /// Turns IPv4 and IPv6 forwarding on.
    pub fn enable_forwarding(&self) -> Result<()> {
        self.set_sysctl("net.ipv4.ip_forward", "1")?;
        self.set_sysctl("net.ipv6.conf.all.forwarding", "1")
    }

    /// Adds a route: `add_route("default", "192.168.1.1")` or `add_route("10.0.0.0/8", gw)`.
    pub fn add_route(&self, dst: &str, via: &str) -> Result<()> {
        let fam = if via.contains(':') { "-6" } else { "-4" };
        self.ip(&[fam, "route", "replace", dst, "via", via])
            .map(|_| ())
    }

    /// Kernel routes matching exactly `prefix` (`ip -j route show PREFIX`, any table main).
    pub fn routes(&self, prefix: &str) -> Result<Vec<KernelRoute>> {
        let fam = if prefix.contains(':') { "-6" } else { "-4" };
        let out = self.ip(&["-j", fam, "route", "show", prefix])?;
        parse_routes(&out)
    }

    /// The next hops of the kernel route for `prefix` (empty when there is no route): one per
    /// `nexthop` of a multipath route or nexthop-group route, else the single gateway.
    pub fn route_nexthops(&self, prefix: &str) -> Result<Vec<NextHop>> {
        Ok(self
            .routes(prefix)?
            .into_iter()
            .flat_map(|r| r.nexthops)
            .collect())
    }

    /// Pings `addr` from the namespace until one reply arrives or `timeout` passes.
    pub fn ping(&self, addr: &str, timeout: Duration) -> bool {
        let secs = timeout.as_secs().max(1).to_string();
        self.output(&["ping", "-c", "1", "-w", &secs, "-q", addr])
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    fn next_ifname(&self, stem: &str) -> String {
        format!("{stem}{}", self.inner.ifs.fetch_add(1, Ordering::Relaxed))
    }
}

/// One next hop of a kernel route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextHop {
    /// Gateway address, if any.
    pub gateway: Option<IpAddr>,
    /// Output device, if given.
    pub dev: Option<String>,
    /// Multipath weight, if given.
    pub weight: Option<u32>,
}

/// A kernel route as read from `ip -j route show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRoute {
    /// Destination (`default` or a prefix as printed by `ip`).
    pub dst: String,
    /// Protocol (`bgp`, `kernel`, `static`...), if printed.
    pub protocol: Option<String>,
    /// Nexthop group id when the route uses a kernel nexthop object.
    pub nhid: Option<u64>,
    /// Next hops (one for a plain route).
    pub nexthops: Vec<NextHop>,
}

fn parse_nexthop(v: &Value) -> NextHop {
    NextHop {
        gateway: v
            .get("gateway")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok()),
        dev: v.get("dev").and_then(Value::as_str).map(str::to_string),
        weight: v
            .get("weight")
            .and_then(Value::as_u64)
            .and_then(|w| u32::try_from(w).ok()),
    }
}

/// Parses the JSON of `ip -j route show`.
pub(crate) fn parse_routes(json: &str) -> Result<Vec<KernelRoute>> {
    let json = json.trim();
    if json.is_empty() {
        return Ok(Vec::new());
    }
    let v: Value = serde_json::from_str(json)?;
    let arr = v
        .as_array()
        .ok_or_else(|| Error::msg("ip -j route: not an array"))?;
    Ok(arr
        .iter()
        .map(|r| {
            let nexthops = match r.get("nexthops").and_then(Value::as_array) {
                Some(nhs) => nhs.iter().map(parse_nexthop).collect(),
                None if r.get("gateway").is_some() || r.get("dev").is_some() => {
                    vec![parse_nexthop(r)]
                }
                None => Vec::new(),
            };
            KernelRoute {
                dst: r
                    .get("dst")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                protocol: r
                    .get("protocol")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                nhid: r.get("nhid").and_then(Value::as_u64),
                nexthops,
            }
        })
        .collect())
}

/// A veth pair between two namespaces. Dropping it deletes the pair (deleting a namespace
/// deletes it too).
#[derive(Debug)]
pub struct Veth {
    a: Netns,
    a_if: String,
    b: Netns,
    b_if: String,
}

impl Veth {
    /// Creates a veth pair `a_if` (in `a`) <-> `b_if` (in `b`), both up, no addresses.
    pub fn new(a: &Netns, a_if: &str, b: &Netns, b_if: &str) -> Result<Self> {
        run(Command::new("ip").args([
            "-n",
            a.name(),
            "link",
            "add",
            a_if,
            "type",
            "veth",
            "peer",
            "name",
            b_if,
            "netns",
            b.name(),
        ]))?;
        let v = Veth {
            a: a.clone(),
            a_if: a_if.to_string(),
            b: b.clone(),
            b_if: b_if.to_string(),
        };
        a.link_up(a_if)?;
        b.link_up(b_if)?;
        Ok(v)
    }

    /// The namespace of the `a` end.
    pub fn a(&self) -> &Netns {
        &self.a
    }

    /// The namespace of the `b` end (kept alive as long as the veth handle).
    pub fn b(&self) -> &Netns {
        &self.b
    }

    /// Interface name on the `a` side.
    pub fn a_if(&self) -> &str {
        &self.a_if
    }

    /// Interface name on the `b` side.
    pub fn b_if(&self) -> &str {
        &self.b_if
    }

    /// Sets the `a` end down or up (simulates a link failure seen from `a`).
    pub fn set_a_up(&self, up: bool) -> Result<()> {
        self.a
            .ip(&["link", "set", &self.a_if, if up { "up" } else { "down" }])
            .map(|_| ())
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["-n", self.a.name(), "link", "del", &self.a_if])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn add_addrs(ns: &Netns, dev: &str, addrs: &str) -> Result<()> {
    for a in addrs.split([' ', ',']).filter(|s| !s.is_empty()) {
        ns.add_addr(dev, a)?;
    }
    Ok(())
}

/// Links two namespaces with a new veth pair (interfaces named `veth0`, `veth1`... per
/// namespace) and assigns addresses. `a_addr`/`b_addr` may hold several addresses separated by
/// spaces or commas (`"10.0.0.1/24 fd00::1/64"`), or be empty.
pub fn link(a: &Netns, a_addr: &str, b: &Netns, b_addr: &str) -> Result<Veth> {
    let a_if = a.next_ifname("veth");
    let b_if = b.next_ifname("veth");
    let v = Veth::new(a, &a_if, b, &b_if)?;
    add_addrs(a, &a_if, a_addr)?;
    add_addrs(b, &b_if, b_addr)?;
    Ok(v)
}

/// An L2 switch: a Linux bridge `br0` in its own namespace. [`Bridge::attach`] plugs a
/// namespace into it with a veth. Dropping the bridge (and its attachments) deletes it all.
#[derive(Debug)]
pub struct Bridge {
    ns: Netns,
    ports: Vec<Veth>,
}

impl Bridge {
    /// Creates the switch namespace (`prefix` + pid + counter) with bridge `br0` up.
    pub fn new(prefix: &str) -> Result<Self> {
        let ns = Netns::new(prefix)?;
        ns.ip(&["link", "add", "br0", "type", "bridge"])?;
        // No STP delay: forward at once.
        ns.ip(&[
            "link",
            "set",
            "br0",
            "type",
            "bridge",
            "forward_delay",
            "0",
            "stp_state",
            "0",
        ])?;
        ns.link_up("br0")?;
        Ok(Bridge {
            ns,
            ports: Vec::new(),
        })
    }

    /// The switch namespace (for captures on `br0`).
    pub fn netns(&self) -> &Netns {
        &self.ns
    }

    /// Plugs `ns` into the bridge: a veth whose end in `ns` is named `ifname` with `addrs`
    /// (space/comma separated, may be empty). Returns the switch-side port name.
    pub fn attach(&mut self, ns: &Netns, ifname: &str, addrs: &str) -> Result<String> {
        let port = self.ns.next_ifname("p");
        let v = Veth::new(&self.ns, &port, ns, ifname)?;
        self.ns.ip(&["link", "set", &port, "master", "br0"])?;
        add_addrs(ns, ifname, addrs)?;
        self.ports.push(v);
        Ok(port)
    }
}

/// Move the calling thread into the network namespace `name` (`/run/netns/NAME`); the
/// process's other threads stay where they are. Sockets the thread opens afterwards live
/// in that namespace.
#[allow(unsafe_code)]
pub fn enter_netns(name: &str) -> Result<()> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(format!("/run/netns/{name}"))?;
    // SAFETY: setns takes a valid open descriptor (kept alive by `file` for the call) and a
    // namespace type flag; it changes only this thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(Error::msg(format!(
            "setns {name}: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// Run `f` on a new thread that has joined namespace `ns`, with a current-thread tokio
/// runtime; join the handle for its result (a panic in `f` comes back as `Err`).
pub fn spawn_in_netns<F, Fut, R>(ns: &Netns, f: F) -> std::thread::JoinHandle<R>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = R>,
    R: Send + 'static,
{
    let name = ns.name().to_string();
    std::thread::spawn(move || {
        enter_netns(&name).expect("enter the namespace");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(f())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_identity_is_readable_and_stable() {
        let me = std::process::id();
        let a = proc_identity(me).unwrap();
        assert_eq!(a, proc_identity(me).unwrap());
        assert_eq!(a.0, me);
        assert!(proc_identity(u32::MAX).is_none());
    }

    #[test]
    fn parses_multipath_nhid_and_single_routes() {
        let j = r#"[{"dst":"172.16.10.0","nhid":30,"protocol":"bgp","metric":20,"flags":[],
            "nexthops":[{"gateway":"192.168.1.10","dev":"eth0","weight":1,"flags":[]},
                        {"gateway":"192.168.1.21","dev":"eth0","weight":1,"flags":[]}]}]"#;
        let r = parse_routes(j).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].nhid, Some(30));
        assert_eq!(r[0].nexthops.len(), 2);
        assert_eq!(
            r[0].nexthops[1].gateway,
            Some("192.168.1.21".parse().unwrap())
        );
        let j = r#"[{"dst":"default","gateway":"10.0.0.1","dev":"veth0","flags":[]}]"#;
        let r = parse_routes(j).unwrap();
        assert_eq!(r[0].nexthops.len(), 1);
        assert_eq!(r[0].nexthops[0].dev.as_deref(), Some("veth0"));
        assert!(parse_routes("").unwrap().is_empty());
        assert!(parse_routes("[]").unwrap().is_empty());
        assert!(parse_routes("{").is_err());
    }
}
