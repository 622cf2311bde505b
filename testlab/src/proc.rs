//! Child process bookkeeping: every process is its own process group; stopping one sends
//! SIGTERM to the group, waits a grace period, then SIGKILL, and always reaps the child.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::util::describe;
use crate::{Error, Result};

/// Default grace period between SIGTERM and SIGKILL.
pub(crate) const GRACE: Duration = Duration::from_secs(3);

/// Sends `sig` (a name such as `TERM`) to the process group `pgid`. Errors are ignored: the group
/// may be gone already.
pub(crate) fn signal_group(pgid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Stops a child: SIGTERM to its group, wait up to `grace`, then SIGKILL; reaps it.
pub(crate) fn stop_child(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    let pid = child.id();
    if let Ok(Some(st)) = child.try_wait() {
        signal_group(pid, "KILL");
        return Some(st);
    }
    signal_group(pid, "TERM");
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(st)) = child.try_wait() {
            // Sweep anything the leader left behind in its group.
            signal_group(pid, "KILL");
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_group(pid, "KILL");
    let _ = child.kill();
    child.wait().ok()
}

/// A set of child processes owned by one handle (a namespace or a daemon).
#[derive(Debug, Default)]
pub(crate) struct ProcSet {
    children: Mutex<Vec<Child>>,
}

impl ProcSet {
    /// Spawns `cmd` in its own process group and keeps it; returns its PID.
    pub(crate) fn spawn(&self, mut cmd: Command) -> Result<u32> {
        cmd.process_group(0);
        let child = cmd
            .spawn()
            .map_err(|e| Error::msg(format!("spawn `{}`: {e}", describe(&cmd))))?;
        let pid = child.id();
        self.lock().push(child);
        Ok(pid)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Child>> {
        match self.children.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// PIDs of the children not reaped yet.
    pub(crate) fn pids(&self) -> Vec<u32> {
        self.lock().iter().map(|c| c.id()).collect()
    }

    /// True when `pid` is one of ours and has not exited.
    pub(crate) fn is_running(&self, pid: u32) -> bool {
        self.lock()
            .iter_mut()
            .find(|c| c.id() == pid)
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Sends a signal (name like `TERM`, `KILL`, `STOP`, `CONT`) to one of our children's group.
    pub(crate) fn signal(&self, pid: u32, sig: &str) -> Result<()> {
        if !self.lock().iter().any(|c| c.id() == pid) {
            return Err(Error::msg(format!(
                "pid {pid} is not a child of this handle"
            )));
        }
        signal_group(pid, sig);
        Ok(())
    }

    /// Removes a child from the set and stops it (SIGTERM, grace, SIGKILL); returns its status.
    pub(crate) fn stop(&self, pid: u32, grace: Duration) -> Result<Option<ExitStatus>> {
        let child = {
            let mut g = self.lock();
            let i = g
                .iter()
                .position(|c| c.id() == pid)
                .ok_or_else(|| Error::msg(format!("pid {pid} is not a child of this handle")))?;
            g.remove(i)
        };
        let mut child = child;
        Ok(stop_child(&mut child, grace))
    }

    /// Waits up to `timeout` for a child to exit by itself; returns its status and forgets it.
    pub(crate) fn wait_exit(&self, pid: u32, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let mut g = self.lock();
                let i = g.iter().position(|c| c.id() == pid)?;
                if let Ok(Some(st)) = g[i].try_wait() {
                    // Already exited: wait() returns at once and reaps it.
                    let _ = g.remove(i).wait();
                    signal_group(pid, "KILL");
                    return Some(st);
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops every child, newest first.
    pub(crate) fn stop_all(&self, grace: Duration) {
        let mut all: Vec<Child> = std::mem::take(&mut *self.lock());
        // Signal everyone first so they shut down in parallel, then reap.
        for c in all.iter_mut() {
            if matches!(c.try_wait(), Ok(None)) {
                signal_group(c.id(), "TERM");
            }
        }
        while let Some(mut c) = all.pop() {
            stop_child(&mut c, grace);
        }
    }
}

impl Drop for ProcSet {
    fn drop(&mut self) {
        self.stop_all(GRACE);
    }
}
