//! Shared helpers of the router interop tests (included with `#[path]`, not a test itself):
//! the `router` example in a namespace, and readers of the daemons' RIBs (birdc text,
//! `gobgp -j`) into one shape.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;
use testlab::{Netns, TempDir};

/// The router example binary (build it first: `cargo build --example router`).
pub(crate) fn router_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let p = dir.join("examples").join("router");
    assert!(
        p.is_file(),
        "{} missing: run `cargo build --example router` first",
        p.display()
    );
    p
}

/// A running router in a namespace, its stdout and stderr in files. Stopped by PID on drop.
pub(crate) struct RouterProc {
    pub(crate) ns: Netns,
    pub(crate) pid: u32,
    pub(crate) out: PathBuf,
    pub(crate) err: PathBuf,
    _dir: TempDir,
}

impl RouterProc {
    pub(crate) fn start(ns: &Netns, args: &[&str]) -> testlab::Result<Self> {
        let dir = TempDir::new("router")?;
        let out = dir.path().join("out.jsonl");
        let err = dir.path().join("err.log");
        let mut cmd = ns.command(router_bin());
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out)?)
            .stderr(std::fs::File::create(&err)?);
        let pid = ns.spawn(cmd)?;
        Ok(RouterProc {
            ns: ns.clone(),
            pid,
            out,
            err,
            _dir: dir,
        })
    }
    /// Everything it printed (stdout, then stderr), for failure messages.
    pub(crate) fn log(&self) -> String {
        let o = std::fs::read_to_string(&self.out).unwrap_or_default();
        let e = std::fs::read_to_string(&self.err).unwrap_or_default();
        let tail: Vec<&str> = o.lines().rev().take(30).collect();
        format!(
            "stdout (last lines reversed): {}\nstderr: {e}",
            tail.join("\n")
        )
    }
    /// Peers with a session line `established` (and no later `down`).
    pub(crate) fn established(&self) -> usize {
        let mut up = std::collections::HashSet::new();
        for l in std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
        {
            let Ok(v) = serde_json::from_str::<Value>(l) else {
                continue;
            };
            if v["type"] == "session" && v.get("state").is_some() {
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

impl Drop for RouterProc {
    fn drop(&mut self) {
        let _ = self.ns.stop(self.pid);
    }
}

/// One route as a daemon holds it: the attributes the tests compare.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SeenRoute {
    pub(crate) as_path: Vec<u32>,
    pub(crate) next_hop: String,
    pub(crate) med: Option<u32>,
    pub(crate) communities: Vec<String>,
    /// Unknown attributes as (type code, flags) when the daemon shows them.
    pub(crate) unknown: Vec<(u8, u8)>,
}

/// BIRD's `show route all` text (the BGP routes of every protocol) by prefix.
pub(crate) fn bird_routes(text: &str) -> BTreeMap<String, SeenRoute> {
    let mut m = BTreeMap::new();
    let mut cur: Option<(String, SeenRoute)> = None;
    for line in text.lines() {
        let starts_prefix = line
            .split_whitespace()
            .next()
            .is_some_and(|w| w.contains('/') && !line.starts_with(char::is_whitespace));
        if starts_prefix || (!line.starts_with(char::is_whitespace) && line.contains(" unicast ")) {
            if let Some((p, r)) = cur.take() {
                m.insert(p, r);
            }
            let p = line.split_whitespace().next().unwrap_or_default();
            // A second path of the same prefix starts with whitespace and "unicast": ignored.
            cur = Some((p.to_string(), SeenRoute::default()));
            continue;
        }
        let Some((_, r)) = cur.as_mut() else { continue };
        let l = line.trim();
        if let Some(v) = l.strip_prefix("BGP.as_path:") {
            r.as_path = v
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
        } else if let Some(v) = l.strip_prefix("BGP.next_hop:") {
            r.next_hop = v.split_whitespace().next().unwrap_or_default().to_string();
        } else if let Some(v) = l.strip_prefix("BGP.med:") {
            r.med = v.trim().parse().ok();
        } else if let Some(v) = l.strip_prefix("BGP.community:") {
            r.communities = v
                .split_whitespace()
                .map(|c| {
                    c.trim_matches(|ch| ch == '(' || ch == ')')
                        .replace(',', ":")
                })
                .collect();
        } else if let Some(rest) = l.strip_prefix("BGP.") {
            // Unknown attributes: `BGP.[t0xNN] [flags]` style lines are kept by code only.
            if let Some(code) = rest
                .strip_prefix("[t")
                .and_then(|x| x.split(']').next())
                .and_then(|x| x.parse::<u8>().ok())
            {
                r.unknown.push((code, 0));
            }
        }
    }
    if let Some((p, r)) = cur.take() {
        m.insert(p, r);
    }
    m
}

/// `gobgp -j global rib` by prefix (best path, or the first one).
pub(crate) fn gobgp_routes(v: &Value) -> BTreeMap<String, SeenRoute> {
    let mut m = BTreeMap::new();
    let Some(obj) = v.as_object() else { return m };
    for (prefix, paths) in obj {
        let Some(paths) = paths.as_array() else {
            continue;
        };
        let Some(p) = paths
            .iter()
            .find(|p| p["best"] == true)
            .or_else(|| paths.first())
        else {
            continue;
        };
        let mut r = SeenRoute::default();
        for a in p["attrs"].as_array().into_iter().flatten() {
            match a["type"].as_u64() {
                Some(2) => {
                    for s in a["as_paths"].as_array().into_iter().flatten() {
                        for x in s["asns"].as_array().into_iter().flatten() {
                            if let Some(x) = x.as_u64() {
                                r.as_path.push(x as u32);
                            }
                        }
                    }
                }
                Some(3) => r.next_hop = a["nexthop"].as_str().unwrap_or_default().to_string(),
                Some(4) => r.med = a["metric"].as_u64().map(|x| x as u32),
                Some(8) => {
                    for c in a["communities"].as_array().into_iter().flatten() {
                        if let Some(c) = c.as_u64() {
                            r.communities.push(format!("{}:{}", c >> 16, c & 0xffff));
                        }
                    }
                }
                Some(14) => {
                    if let Some(nh) = a["nexthop"].as_str() {
                        r.next_hop = nh.to_string();
                    }
                }
                _ => {}
            }
            if let (Some(t), Some(f)) = (a["type"].as_u64(), a["flags"].as_u64())
                && !matches!(t, 1..=9 | 14 | 15 | 16 | 17 | 18 | 32)
            {
                r.unknown.push((t as u8, f as u8));
            }
        }
        m.insert(prefix.clone(), r);
    }
    m
}
