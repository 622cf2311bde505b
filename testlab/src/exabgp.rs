//! ExaBGP 4 in a namespace (foreground, as root). It only connects out.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::proc::{GRACE, ProcSet};
use crate::util::TempDir;
use crate::{Error, Netns, Result};

/// An `exabgp` process with a config text (static routes and/or API processes). It never
/// listens: the peer under test must accept its connection. Dropping the handle stops it (and
/// its API processes, which share its process group) by PID.
///
/// API processes get a non-blocking stdin from ExaBGP: a reader must set it back to blocking.
#[derive(Debug)]
pub struct Exabgp {
    ns: Netns,
    procs: ProcSet,
    pid: u32,
    dir: TempDir,
}

/// The receiver API process: sets its stdin back to blocking (ExaBGP hands it a non-blocking
/// one) and appends every API line to `api.jsonl` next to itself.
const RECV_PY: &str = r#"import os, sys
os.set_blocking(0, True)
out = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'api.jsonl'), 'a', buffering=1)
while True:
    line = sys.stdin.readline()
    if not line:
        break
    out.write(line)
"#;

impl Exabgp {
    /// Config snippet declaring API process `tlrecv`, which logs every JSON message ExaBGP
    /// gives it; read them with [`Exabgp::api_messages`]. Put it in the config and add to the
    /// neighbour `api { processes [ tlrecv ]; receive { parsed; update; notification; } }`.
    /// (`%DIR%` in a config is replaced by the instance's temporary directory.)
    pub const RECEIVER_PROCESS: &'static str =
        "process tlrecv {\n  run /usr/bin/python3 %DIR%/recv.py;\n  encoder json;\n}\n";

    /// Starts exabgp in `ns` with this config and the environment of a foreground root run
    /// (`exabgp.daemon.daemonize=false`, `user=root`, `drop=false`, `api.cli=false`,
    /// `tcp.bind=''`). Output (including its log) goes to [`Exabgp::log_path`].
    pub fn start(ns: &Netns, conf: &str) -> Result<Self> {
        Self::start_with_env(ns, conf, &[])
    }

    /// Like [`Exabgp::start`] with extra environment variables (e.g.
    /// `("exabgp.log.packets", "true")`).
    pub fn start_with_env(ns: &Netns, conf: &str, env: &[(&str, &str)]) -> Result<Self> {
        let dir = TempDir::new("exabgp")?;
        let conf_path = dir.path().join("exabgp.conf");
        let dir_str = dir.path().to_string_lossy().into_owned();
        std::fs::write(&conf_path, conf.replace("%DIR%", &dir_str))?;
        std::fs::write(dir.path().join("recv.py"), RECV_PY)?;
        let log = dir.path().join("exabgp.log");
        let f = std::fs::File::create(&log)?;
        let mut cmd = ns.command("exabgp");
        cmd.arg(&conf_path)
            .env("exabgp.daemon.daemonize", "false")
            .env("exabgp.daemon.user", "root")
            .env("exabgp.daemon.drop", "false")
            .env("exabgp.api.cli", "false")
            .env("exabgp.tcp.bind", "")
            .env("exabgp.log.destination", "stdout")
            .envs(env.iter().copied())
            .current_dir(dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(f.try_clone()?)
            .stderr(f);
        let procs = ProcSet::default();
        let pid = procs.spawn(cmd)?;
        std::thread::sleep(Duration::from_millis(300));
        if !procs.is_running(pid) {
            return Err(Error::msg(format!(
                "exabgp exited at once in {}: {}",
                ns.name(),
                crate::util::tail(&log, 20)
            )));
        }
        Ok(Exabgp {
            ns: ns.clone(),
            procs,
            pid,
            dir,
        })
    }

    /// PID of exabgp.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// True while exabgp runs.
    pub fn is_running(&self) -> bool {
        self.procs.is_running(self.pid)
    }

    /// The namespace it runs in.
    pub fn netns(&self) -> &Netns {
        &self.ns
    }

    /// The temporary directory (config, log; also the working directory of API processes).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Path of its output/log.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("exabgp.log")
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The JSON messages the [`Exabgp::RECEIVER_PROCESS`] got so far (lines that are not
    /// JSON are skipped). ExaBGP is an independent decoder: `type == "update"` messages carry
    /// `neighbor.message.update.announce` / `withdraw` as it parsed them.
    pub fn api_messages(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("api.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Sends a signal by name (`STOP`, `CONT`, `KILL`, `TERM`...) to exabgp (its process
    /// group). A killed process is reaped on drop.
    pub fn signal(&self, sig: &str) -> Result<()> {
        self.procs.signal(self.pid, sig)
    }

    /// Stops exabgp now; the drop does the same.
    pub fn stop(&mut self) {
        self.procs.stop_all(GRACE);
    }
}

impl Drop for Exabgp {
    fn drop(&mut self) {
        self.stop();
    }
}
