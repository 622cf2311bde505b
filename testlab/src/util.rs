//! Small helpers: unique names, polling, skip checks, temporary directories, running commands.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::{Error, Result};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Returns a name unique to this process and call: `prefix` (shortened if needed), the process
/// id, `-` and a counter, at most 15 characters (the Linux limit for interface names).
pub fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tail = format!("{}-{}", std::process::id(), n);
    let room = 15usize.saturating_sub(tail.len());
    let p: String = prefix
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(room)
        .collect();
    let mut name = format!("{p}{tail}");
    name.truncate(15);
    name
}

/// Hand every value from an async channel to `to` until the channel closes or `to`
/// returns false, in a task of the current tokio runtime: how tests running code in a
/// runtime (e.g. [`spawn_in_netns`](crate::spawn_in_netns)) pass its events to the test
/// thread, typically `move |e| tx.send((Instant::now(), e)).is_ok()`.
pub fn forward<T: Send + 'static>(
    mut from: tokio::sync::mpsc::Receiver<T>,
    mut to: impl FnMut(T) -> bool + Send + 'static,
) {
    tokio::spawn(async move {
        while let Some(v) = from.recv().await {
            if !to(v) {
                break;
            }
        }
    });
}

/// Receive from `rx` until a value satisfies `want` and return it, within `within` in
/// all: how a test waits for one event among others. On timeout (or when the senders are
/// gone) returns every value received, none of which satisfied `want`.
pub fn recv_until<T>(
    rx: &std::sync::mpsc::Receiver<T>,
    within: Duration,
    mut want: impl FnMut(&T) -> bool,
) -> std::result::Result<T, Vec<T>> {
    let deadline = std::time::Instant::now() + within;
    let mut other = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(v) if want(&v) => return Ok(v),
            Ok(v) => other.push(v),
            Err(_) => return Err(other),
        }
    }
}

/// Polls `cond` every 50 ms until it returns true (then returns true) or `timeout` passes
/// (then returns false). `cond` is always called at least once.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// True when the effective user id is 0.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Finds an executable by name in `PATH` (or checks an absolute path).
pub fn which(bin: &str) -> Option<PathBuf> {
    let p = Path::new(bin);
    if p.is_absolute() {
        return p.is_file().then(|| p.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(bin))
        .find(|c| c.is_file())
}

/// True when the tests run under CI (`CI` is set to anything but `0`/`false`): then a missing
/// prerequisite is a failure, not a skip, so a broken install step cannot hide behind a green run.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Reports a missing prerequisite: under CI ([`under_ci`]) it panics, failing the test;
/// elsewhere it prints a `SKIP` line (stdout and stderr) naming the test.
fn missing_prerequisite(test: &str, what: &str) {
    report_missing(under_ci(), test, what);
}

fn report_missing(ci: bool, test: &str, what: &str) {
    if ci {
        panic!("{test}: {what}; CI=true, so a missing prerequisite fails the test");
    }
    eprintln!("SKIP {test}: {what}");
    println!("SKIP {test}: {what}");
}

/// True when running as root and every binary in `bins` is found (`PATH` or absolute path).
/// Otherwise, under CI ([`under_ci`]) it panics, and elsewhere it prints a `SKIP` line naming
/// the caller's test and returns false, so an interop test can `return` early on a developer
/// machine without the daemons.
///
/// When it returns true and `TESTLAB_RAN_LOG` names a file, it appends the test's name to that
/// file, so a test script can say how many interop tests really ran.
pub fn require_root_and(bins: &[&str]) -> bool {
    let test = std::thread::current()
        .name()
        .unwrap_or("testlab")
        .to_string();
    if !is_root() {
        missing_prerequisite(&test, "needs root (network namespaces)");
        return false;
    }
    let missing: Vec<&str> = bins
        .iter()
        .copied()
        .filter(|b| which(b).is_none())
        .collect();
    if !missing.is_empty() {
        missing_prerequisite(&test, &format!("missing binaries: {}", missing.join(", ")));
        return false;
    }
    record_ran(&test);
    true
}

/// True when `bin` is found; otherwise fails under CI and returns false elsewhere (with a
/// `SKIP` line). For the optional checks inside a test that runs anyway (e.g. a tshark pass
/// after an interop test).
pub fn require_tool(bin: &str) -> bool {
    if which(bin).is_some() {
        return true;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("testlab")
        .to_string();
    missing_prerequisite(&test, &format!("missing binary: {bin}"));
    false
}

fn record_ran(test: &str) {
    let Some(path) = std::env::var_os("TESTLAB_RAN_LOG") else {
        return;
    };
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        // One short line per write with O_APPEND: concurrent tests do not interleave.
        let _ = f.write_all(format!("{test}\n").as_bytes());
    }
}

/// A temporary directory removed (recursively) on drop, unless the environment variable
/// `TESTLAB_KEEP` is set (then its path is printed, for post-mortem reading of daemon logs).
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `$TMPDIR/testlab-<unique name>`, mode 0755.
    pub fn new(prefix: &str) -> Result<Self> {
        let path = std::env::temp_dir().join(format!("testlab-{}", unique_name(prefix)));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Changes the owner of the directory (`chown -R OWNER`), e.g. `frr:frr`.
    pub fn chown(&self, owner: &str) -> Result<()> {
        run(Command::new("chown").arg("-R").arg(owner).arg(&self.path)).map(|_| ())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("TESTLAB_KEEP").is_some() {
            eprintln!("testlab: keeping {}", self.path.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Describes a command for error messages.
pub(crate) fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs a command to completion, capturing output; no status check.
pub(crate) fn output(cmd: &mut Command) -> Result<Output> {
    cmd.stdin(Stdio::null())
        .output()
        .map_err(|e| Error::msg(format!("{}: {e}", describe(cmd))))
}

/// Runs a command; returns stdout, or an error with stderr when it exits non-zero.
pub(crate) fn run(cmd: &mut Command) -> Result<String> {
    let out = output(cmd)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Error::msg(format!(
            "`{}` failed ({}): {}{}",
            describe(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        )))
    }
}

/// The last `n` lines of a (log) file, for error messages.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recv_until_skips_to_the_wanted_value_or_returns_the_rest() {
        let (tx, rx) = std::sync::mpsc::channel();
        for v in [1, 2, 3, 4] {
            tx.send(v).unwrap();
        }
        assert_eq!(recv_until(&rx, Duration::from_secs(1), |v| *v == 3), Ok(3));
        // Only 4 is left: no 9 within the time; what came instead is handed back.
        let t0 = std::time::Instant::now();
        assert_eq!(
            recv_until(&rx, Duration::from_millis(100), |v| *v == 9),
            Err(vec![4])
        );
        assert!(t0.elapsed() >= Duration::from_millis(100));
        drop(tx);
        assert_eq!(
            recv_until(&rx, Duration::from_secs(5), |_| true),
            Err(vec![])
        );
    }

    #[test]
    fn unique_names_are_short_and_distinct() {
        let a = unique_name("averyveryverylongprefix");
        let b = unique_name("averyveryverylongprefix");
        assert!(a.len() <= 15, "{a}");
        assert_ne!(a, b);
        assert!(a.contains(&std::process::id().to_string()));
    }

    #[test]
    fn wait_until_times_out_and_succeeds() {
        assert!(!wait_until(Duration::from_millis(120), || false));
        let mut n = 0;
        assert!(wait_until(Duration::from_secs(2), || {
            n += 1;
            n == 3
        }));
    }

    #[test]
    fn which_finds_sh() {
        assert!(which("sh").is_some());
        assert!(which("definitely-not-a-binary-xyz").is_none());
    }

    #[test]
    fn run_reports_failure() {
        assert!(run(Command::new("false").arg("x")).is_err());
        assert_eq!(run(Command::new("echo").arg("hi")).unwrap(), "hi\n");
    }

    #[test]
    #[should_panic(expected = "CI=true")]
    fn a_missing_prerequisite_fails_under_ci() {
        report_missing(true, "t", "missing binaries: bfdd");
    }

    #[test]
    fn a_missing_prerequisite_skips_elsewhere() {
        report_missing(false, "t", "missing binaries: bfdd");
    }
}
