//! BIRD 2 in a namespace, queried with `birdc` over its own control socket.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::proc::{GRACE, ProcSet};
use crate::util::{TempDir, run, tail, wait_until};
use crate::{Error, Netns, Result};

/// A `bird -f` process with a config text and a private control socket. Dropping the handle
/// stops it by PID.
///
/// Remember (BIRD 2): eBGP needs explicit `import`/`export` filters, iBGP next hops need
/// `direct;` or an IGP, and `connect delay time 1;` avoids a 5 s first-connect wait.
#[derive(Debug)]
pub struct Bird {
    ns: Netns,
    procs: ProcSet,
    pid: u32,
    dir: TempDir,
}

impl Bird {
    /// Starts BIRD in `ns` with this config; waits until `birdc` answers (10 s).
    pub fn start(ns: &Netns, conf: &str) -> Result<Self> {
        let dir = TempDir::new("bird")?;
        let conf_path = dir.path().join("bird.conf");
        std::fs::write(&conf_path, conf)?;
        let log = dir.path().join("bird.log");
        let f = std::fs::File::create(&log)?;
        let mut cmd = ns.command("bird");
        cmd.arg("-f")
            .arg("-c")
            .arg(&conf_path)
            .arg("-s")
            .arg(dir.path().join("bird.ctl"))
            .stdin(std::process::Stdio::null())
            .stdout(f.try_clone()?)
            .stderr(f);
        let procs = ProcSet::default();
        let pid = procs.spawn(cmd)?;
        let b = Bird {
            ns: ns.clone(),
            procs,
            pid,
            dir,
        };
        if !wait_until(Duration::from_secs(10), || {
            b.procs.is_running(pid) && b.birdc("show status").is_ok_and(|s| s.contains("BIRD"))
        }) {
            return Err(Error::msg(format!(
                "bird did not come up in {}: {}",
                ns.name(),
                tail(&log, 20)
            )));
        }
        Ok(b)
    }

    /// PID of bird.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The temporary directory (config, socket, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Path of its stdout/stderr log.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("bird.log")
    }

    /// The namespace it runs in.
    pub fn netns(&self) -> &Netns {
        &self.ns
    }

    /// Runs a `birdc` command (words separated by spaces), returns its output.
    pub fn birdc(&self, cmd: &str) -> Result<String> {
        run(Command::new("birdc")
            .arg("-s")
            .arg(self.dir.path().join("bird.ctl"))
            .args(cmd.split_whitespace()))
    }

    /// True when `show protocols PROTO` reports an Established BGP session.
    pub fn is_established(&self, proto: &str) -> bool {
        self.birdc(&format!("show protocols {proto}"))
            .is_ok_and(|s| s.contains("Established"))
    }

    /// Waits until protocol `proto` is Established.
    pub fn wait_established(&self, proto: &str, timeout: Duration) -> Result<()> {
        if wait_until(timeout, || self.is_established(proto)) {
            Ok(())
        } else {
            Err(Error::msg(format!(
                "bird in {}: {proto} not Established after {timeout:?}: {}",
                self.ns.name(),
                self.birdc(&format!("show protocols all {proto}"))
                    .unwrap_or_default()
            )))
        }
    }

    /// Sends a signal by name (`STOP`, `CONT`, `KILL`, `TERM`...) to bird (its process
    /// group). A killed process is reaped on drop.
    pub fn signal(&self, sig: &str) -> Result<()> {
        self.procs.signal(self.pid, sig)
    }

    /// Stops bird now; the drop does the same.
    pub fn stop(&mut self) {
        self.procs.stop_all(GRACE);
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        self.stop();
    }
}
