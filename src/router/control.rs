//! The query interface of a running router (`--control PATH`): a Unix stream socket speaking
//! line-delimited JSON, one request object a line, one response object a line, in the
//! spirit of `birdc` / `gobgp` / `vtysh -c '... json'`. `examples/routerctl.rs` is its
//! command-line client.
//!
//! Requests:
//! - `{"cmd":"summary"}`: AS, router id, neighbour counts, RIB sizes, RSS.
//! - `{"cmd":"neighbors"}`: every neighbour with state, uptime (seconds, `null` when down),
//!   established count,
//!   received / accepted / advertised prefixes, message counters, last error, policies.
//! - `{"cmd":"route","prefix":"203.0.113.0/24"}`: every path of the prefix (an address gives
//!   the longest match) with its attributes and the decision's verdict: which is best and why,
//!   and why each other path lost or is excluded.
//!
//! Errors are `{"error":"..."}`. The router answers between two batches of UPDATEs, from its
//! own task, so an answer is one consistent snapshot.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use bgp_rib::{PathView, Verdict};
use ipnet::IpNet;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

use super::Router;
use super::metrics::{NeighborSample, render};

/// A question for the router task.
#[derive(Debug)]
pub enum Query {
    /// A control request; the answer is one JSON object.
    Request(Request, oneshot::Sender<Value>),
    /// The Prometheus exposition text.
    Metrics(oneshot::Sender<String>),
}

/// A request on the control socket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    /// Router-wide numbers.
    Summary,
    /// Every neighbour.
    Neighbors,
    /// Paths of one prefix (or the longest match of an address).
    Route {
        /// `PREFIX/LEN` or an address.
        prefix: String,
    },
}

/// Longest request line accepted.
const MAX_LINE: usize = 4096;

/// Serve the control socket at `path` (an existing socket file is replaced) until the task
/// is dropped.
pub async fn serve(path: &Path, queries: mpsc::Sender<Query>) -> std::io::Result<()> {
    serve_on(bind(path)?, queries).await
}

/// Bind the control socket at `path`, replacing a stale socket left by an earlier run (but
/// never another kind of file).
pub fn bind(path: &Path) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if !m.file_type().is_socket() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    tokio::net::UnixListener::bind(path)
}

/// [`serve`] on a bound socket.
pub async fn serve_on(
    listener: tokio::net::UnixListener,
    queries: mpsc::Sender<Query>,
) -> std::io::Result<()> {
    loop {
        let (sock, _) = listener.accept().await?;
        let q = queries.clone();
        tokio::spawn(async move {
            let _ = client(sock, q).await;
        });
    }
}

async fn client(sock: tokio::net::UnixStream, queries: mpsc::Sender<Query>) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = tokio::time::timeout(
            Duration::from_secs(300),
            (&mut r)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut line),
        )
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        if n == 0 {
            return Ok(());
        }
        let answer = if line.len() > MAX_LINE {
            json!({"error": "request line too long"})
        } else if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        } else {
            match serde_json::from_slice::<Request>(&line) {
                Err(e) => json!({"error": format!("bad request: {e}")}),
                Ok(req) => {
                    let (tx, rx) = oneshot::channel();
                    if queries.send(Query::Request(req, tx)).await.is_err() {
                        json!({"error": "router stopped"})
                    } else {
                        rx.await
                            .unwrap_or_else(|_| json!({"error": "router stopped"}))
                    }
                }
            }
        };
        let mut out = serde_json::to_vec(&answer).unwrap_or_default();
        out.push(b'\n');
        w.write_all(&out).await?;
        if line.len() > MAX_LINE {
            return Ok(());
        }
    }
}

impl Router {
    /// Answer a query from the control socket or the metrics endpoint.
    pub(super) fn answer(&mut self, q: Query) {
        self.home_all();
        match q {
            Query::Metrics(tx) => {
                let body = render(
                    &self.samples(),
                    self.rib.prefix_count(),
                    self.rib.path_count(),
                );
                let _ = tx.send(body);
            }
            Query::Request(req, tx) => {
                let v = match req {
                    Request::Summary => self.summary(),
                    Request::Neighbors => self.neighbors(),
                    Request::Route { prefix } => self.route_json(&prefix),
                };
                let _ = tx.send(v);
            }
        }
    }

    fn samples(&self) -> Vec<NeighborSample> {
        self.nbrs
            .iter()
            .map(|n| NeighborSample {
                addr: n.cfg.addr.to_string(),
                state: format!("{:?}", n.handle.state()),
                uptime: n.stats.uptime(),
                established_count: n.stats.established_count,
                received: self.rib.peer_received_count(n.id),
                accepted: n
                    .cfg
                    .families
                    .iter()
                    .map(|af| self.rib.peer_path_count(n.id, *af))
                    .sum(),
                // Routes its update group advertises (its own routes excluded on the wire).
                advertised: n.session.as_ref().map_or(0, |s| {
                    self.groups
                        .get(s.group)
                        .and_then(|g| g.as_ref())
                        .map_or(0, |g| g.adj_rib_out().advertised())
                }),
                updates_in: n.stats.updates_in,
                updates_out: n.stats.updates_out(),
                notifications_in: n.stats.notifications_in,
                notifications_out: n.stats.notifications_out,
            })
            .collect()
    }

    fn summary(&self) -> Value {
        let established = self
            .nbrs
            .iter()
            .filter(|n| n.handle.state() == bgp_fsm::State::Established)
            .count();
        json!({
            "local_as": self.cfg.decision.local_as,
            "router_id": self.cfg.decision.router_id.to_string(),
            "uptime": self.start.elapsed().as_secs(),
            "neighbors": self.nbrs.len(),
            "established": established,
            "rib_prefixes": self.rib.prefix_count(),
            "rib_paths": self.rib.path_count(),
            "resident_memory_bytes": super::metrics::resident_bytes(),
        })
    }

    fn neighbors(&self) -> Value {
        let samples = self.samples();
        let list: Vec<Value> = self
            .nbrs
            .iter()
            .zip(samples)
            .map(|(n, s)| {
                json!({
                    "address": s.addr,
                    "remote_as": n.cfg.peer_as,
                    "description": n.cfg.description,
                    "state": s.state,
                    "uptime": s.uptime,
                    "established_count": s.established_count,
                    "received": s.received,
                    "accepted": s.accepted,
                    "advertised": s.advertised,
                    "updates_in": s.updates_in,
                    "updates_out": s.updates_out,
                    "notifications_in": s.notifications_in,
                    "notifications_out": s.notifications_out,
                    "last_error": n.stats.last_error,
                    "passive": n.cfg.passive,
                    "hold_time": n.cfg.hold_time,
                    "families": n.cfg.families.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
                    "import_policy": n.cfg.import.is_some(),
                    "export_policy": n.cfg.export.is_some(),
                    "soft_reconfiguration": n.cfg.soft_reconfiguration,
                })
            })
            .collect();
        json!({ "neighbors": list })
    }

    fn route_json(&self, q: &str) -> Value {
        let prefix = match q.parse::<IpNet>() {
            Ok(p) => p.trunc(),
            Err(_) => match q.parse::<IpAddr>() {
                Ok(a) => match self.rib.lookup(a) {
                    Some(r) => r.prefix,
                    None => return json!({"prefix": null, "query": q, "paths": []}),
                },
                Err(_) => return json!({"error": format!("not a prefix or address: {q:?}")}),
            },
        };
        let paths: Vec<Value> = self
            .rib
            .explain(prefix)
            .iter()
            .map(|(p, v)| path_json(p, v))
            .collect();
        json!({ "prefix": prefix.to_string(), "paths": paths })
    }
}

fn path_json(p: &PathView, v: &Verdict) -> Value {
    let a = &p.attrs;
    let as_path = bgp_rib::policy::path_text(&a.as_path);
    json!({
        "peer": p.peer_addr.to_string(),
        "path_id": p.path_id,
        "best": matches!(v, Verdict::Best(_)),
        "multipath": p.multipath,
        "stale": p.stale,
        "why": v.describe(),
        "next_hop": a.next_hop.to_string(),
        "as_path": as_path,
        "origin": format!("{:?}", a.origin).to_lowercase(),
        "local_pref": a.local_pref,
        "med": a.med,
        "weight": a.weight,
        "communities": a.communities.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
    })
}

/// Send one request to a control socket and read the answer (the client side, used by
/// `routerctl` and tests).
pub async fn request(path: &Path, req: &Value) -> std::io::Result<Value> {
    let sock = tokio::net::UnixStream::connect(path).await?;
    let (r, mut w) = sock.into_split();
    let mut line = serde_json::to_vec(req).map_err(std::io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line).await?;
    let mut r = BufReader::new(r);
    let mut answer = String::new();
    r.read_line(&mut answer).await?;
    serde_json::from_str(&answer).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse() {
        let r: Request = serde_json::from_str(r#"{"cmd":"route","prefix":"10.0.0.0/8"}"#).unwrap();
        assert_eq!(
            r,
            Request::Route {
                prefix: "10.0.0.0/8".into()
            }
        );
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"cmd":"neighbors"}"#).unwrap(),
            Request::Neighbors
        );
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"reboot"}"#).is_err());
    }

    #[tokio::test]
    async fn bind_replaces_a_stale_socket_only() {
        let dir = std::env::temp_dir().join(format!("ctl-bind-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("s");
        drop(bind(&sock).unwrap());
        assert!(sock.exists(), "a stale socket file stays behind");
        let l = bind(&sock).unwrap();
        drop(l);
        let file = dir.join("f");
        std::fs::write(&file, "keep").unwrap();
        assert!(bind(&file).is_err());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
