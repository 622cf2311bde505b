//! Shared helpers of the collector interop tests (included with `#[path]`, not a test itself).
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;
use testlab::{Netns, TempDir};

/// The collector example binary (built by `cargo test` next to the test executables).
pub(crate) fn collector_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?;
    let p = dir.join("examples").join("collector");
    p.is_file().then_some(p)
}

/// A running collector in a namespace, its stdout in a file.
pub(crate) struct Collector {
    pub(crate) ns: Netns,
    pub(crate) pid: u32,
    pub(crate) out: PathBuf,
    _dir: TempDir,
}

impl Collector {
    pub(crate) fn start(ns: &Netns, args: &[&str]) -> testlab::Result<Self> {
        let bin =
            collector_bin().ok_or_else(|| testlab::Error::msg("collector example not built"))?;
        let dir = TempDir::new("coll")?;
        let out = dir.path().join("out.jsonl");
        let err = dir.path().join("err.log");
        let mut cmd = ns.command(&bin);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out)?)
            .stderr(std::fs::File::create(&err)?);
        let pid = ns.spawn(cmd)?;
        Ok(Collector {
            ns: ns.clone(),
            pid,
            out,
            _dir: dir,
        })
    }
    /// Every JSON line printed so far.
    pub(crate) fn lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
    /// The latest route line per prefix (withdrawn prefixes removed).
    pub(crate) fn routes(&self) -> HashMap<String, Value> {
        let mut m = HashMap::new();
        for v in self.lines() {
            if v["type"] != "route" {
                continue;
            }
            let p = v["prefix"].as_str().unwrap_or_default().to_string();
            if v["event"] == "withdrawn" {
                m.remove(&p);
            } else {
                m.insert(p, v);
            }
        }
        m
    }
    pub(crate) fn established(&self) -> usize {
        let mut up = std::collections::HashSet::new();
        for v in self.lines() {
            if v["type"] == "session" {
                let p = v["peer"].as_str().unwrap_or_default().to_string();
                if v["state"] == "established" {
                    up.insert(p);
                } else {
                    up.remove(&p);
                }
            }
        }
        up.len()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.ns.stop(self.pid);
    }
}

/// Run `cmd` (for `ip` in a namespace) and return stdout.
pub(crate) fn sh(ns: &Netns, args: &[&str]) -> String {
    let mut c: Command = ns.command(args[0]);
    c.args(&args[1..]);
    c.output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default()
}
