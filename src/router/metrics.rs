//! Prometheus metrics of the router (`--metrics ADDR:PORT`): the text exposition format
//! (version 0.0.4) on `GET /metrics`, served by a small HTTP/1.0 server on tokio. Each scrape
//! asks the router task for a fresh rendering (a [`super::control::Query`]), answered between
//! two batches of UPDATEs, so the numbers are consistent with each other.
//!
//! Series (label `peer` = neighbour address):
//! - `bgp_router_neighbor_up` (1 when Established), `bgp_router_neighbor_state` (FSM state as
//!   a label, value 1), `bgp_router_neighbor_uptime_seconds`,
//!   `bgp_router_neighbor_established_total`
//! - `bgp_router_neighbor_prefixes_received` (before import policy; only when soft
//!   reconfiguration keeps them), `..._accepted` (after import policy), `..._advertised`
//! - `bgp_router_neighbor_messages_total{direction="in"|"out",type="update"|"notification"}`
//! - `bgp_router_rib_prefixes`, `bgp_router_rib_paths` (Adj-RIBs-In after policy),
//!   `bgp_router_process_resident_memory_bytes`

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bgp_fsm::driver::PeerEvent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::control::Query;

/// Per-neighbour counters kept by the router task.
#[derive(Debug)]
pub(super) struct NeighborStats {
    /// When the current session became Established.
    pub(super) established_at: Option<Instant>,
    /// Times it became Established.
    pub(super) established_count: u64,
    pub(super) updates_in: u64,
    /// UPDATEs handed to the driver (counted by the sender task).
    pub(super) updates_out: Arc<AtomicU64>,
    pub(super) notifications_in: u64,
    pub(super) notifications_out: u64,
    /// Why the last session ended.
    pub(super) last_error: Option<String>,
}

impl NeighborStats {
    pub(super) fn new() -> Self {
        NeighborStats {
            established_at: None,
            established_count: 0,
            updates_in: 0,
            updates_out: Arc::new(AtomicU64::new(0)),
            notifications_in: 0,
            notifications_out: 0,
            last_error: None,
        }
    }
    /// Count an event of the neighbour's driver.
    pub(super) fn event(&mut self, ev: &PeerEvent) {
        match ev {
            PeerEvent::Established(_) => {
                self.established_at = Some(Instant::now());
                self.established_count += 1;
            }
            PeerEvent::Down { reason } => {
                self.established_at = None;
                self.last_error = Some(format!("{reason:?}"));
            }
            PeerEvent::Update { .. } => self.updates_in += 1,
            PeerEvent::NotificationSent(_) => self.notifications_out += 1,
            PeerEvent::NotificationReceived(_) => self.notifications_in += 1,
            _ => {}
        }
    }
    /// Seconds since the session came up (`None` when down).
    pub(super) fn uptime(&self) -> Option<u64> {
        self.established_at.map(|t| t.elapsed().as_secs())
    }
    pub(super) fn updates_out(&self) -> u64 {
        self.updates_out.load(Ordering::Relaxed)
    }
}

/// One neighbour's numbers, as rendered.
#[derive(Debug, Clone)]
pub(super) struct NeighborSample {
    pub(super) addr: String,
    pub(super) state: String,
    /// Seconds Established (`None` when down).
    pub(super) uptime: Option<u64>,
    pub(super) established_count: u64,
    pub(super) received: Option<usize>,
    pub(super) accepted: usize,
    pub(super) advertised: usize,
    pub(super) updates_in: u64,
    pub(super) updates_out: u64,
    pub(super) notifications_in: u64,
    pub(super) notifications_out: u64,
}

/// Render the exposition text.
pub(super) fn render(nbrs: &[NeighborSample], rib_prefixes: usize, rib_paths: usize) -> String {
    let mut s = String::with_capacity(256 + nbrs.len() * 1024);
    let mut family =
        |name: &str, kind: &str, help: &str, f: &dyn Fn(&NeighborSample) -> Option<String>| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for n in nbrs {
                if let Some(v) = f(n) {
                    let _ = writeln!(s, "{name}{{peer=\"{}\"}} {v}", n.addr);
                }
            }
        };
    family(
        "bgp_router_neighbor_up",
        "gauge",
        "1 when the session is Established.",
        &|n| Some(u8::from(n.state == "Established").to_string()),
    );
    family(
        "bgp_router_neighbor_uptime_seconds",
        "gauge",
        "Seconds since the session became Established (0 when down).",
        &|n| Some(n.uptime.unwrap_or(0).to_string()),
    );
    family(
        "bgp_router_neighbor_established_total",
        "counter",
        "Times the session became Established.",
        &|n| Some(n.established_count.to_string()),
    );
    family(
        "bgp_router_neighbor_prefixes_received",
        "gauge",
        "Routes held from the neighbour before import policy (soft reconfiguration only).",
        &|n| n.received.map(|v| v.to_string()),
    );
    family(
        "bgp_router_neighbor_prefixes_accepted",
        "gauge",
        "Routes held from the neighbour after import policy.",
        &|n| Some(n.accepted.to_string()),
    );
    family(
        "bgp_router_neighbor_prefixes_advertised",
        "gauge",
        "Routes advertised to the neighbour.",
        &|n| Some(n.advertised.to_string()),
    );
    let _ = writeln!(
        s,
        "# HELP bgp_router_neighbor_state FSM state of the session (value 1).\n# TYPE bgp_router_neighbor_state gauge"
    );
    for n in nbrs {
        let _ = writeln!(
            s,
            "bgp_router_neighbor_state{{peer=\"{}\",state=\"{}\"}} 1",
            n.addr, n.state
        );
    }
    let _ = writeln!(
        s,
        "# HELP bgp_router_neighbor_messages_total BGP messages by direction and type.\n# TYPE bgp_router_neighbor_messages_total counter"
    );
    for n in nbrs {
        for (dir, ty, v) in [
            ("in", "update", n.updates_in),
            ("out", "update", n.updates_out),
            ("in", "notification", n.notifications_in),
            ("out", "notification", n.notifications_out),
        ] {
            let _ = writeln!(
                s,
                "bgp_router_neighbor_messages_total{{peer=\"{}\",direction=\"{dir}\",type=\"{ty}\"}} {v}",
                n.addr
            );
        }
    }
    let _ = writeln!(
        s,
        "# HELP bgp_router_rib_prefixes Prefixes in the RIB.\n# TYPE bgp_router_rib_prefixes gauge\nbgp_router_rib_prefixes {rib_prefixes}"
    );
    let _ = writeln!(
        s,
        "# HELP bgp_router_rib_paths Paths in the Adj-RIBs-In after import policy.\n# TYPE bgp_router_rib_paths gauge\nbgp_router_rib_paths {rib_paths}"
    );
    if let Some(rss) = resident_bytes() {
        let _ = writeln!(
            s,
            "# HELP bgp_router_process_resident_memory_bytes Resident set size of the process.\n# TYPE bgp_router_process_resident_memory_bytes gauge\nbgp_router_process_resident_memory_bytes {rss}"
        );
    }
    s
}

/// VmRSS from `/proc/self/status`, in bytes (Linux).
pub fn resident_bytes() -> Option<u64> {
    let t = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = t.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Longest request head read (larger requests are answered 400).
const MAX_REQUEST: usize = 8192;

/// Serve `GET /metrics` on `addr`, asking the router through `queries` for each scrape.
/// Returns when the socket cannot be bound; runs until the task is dropped.
pub async fn serve(addr: SocketAddr, queries: mpsc::Sender<Query>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve_on(listener, queries).await
}

/// [`serve`] on a bound listener.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    queries: mpsc::Sender<Query>,
) -> std::io::Result<()> {
    loop {
        let (sock, _) = listener.accept().await?;
        let q = queries.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), answer(sock, q)).await;
        });
    }
}

async fn answer(
    mut sock: tokio::net::TcpStream,
    queries: mpsc::Sender<Query>,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && !buf.windows(2).any(|w| w == b"\n\n") {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_REQUEST {
            return reply(
                &mut sock,
                "400 Bad Request",
                "text/plain",
                "request too large\n",
            )
            .await;
        }
    }
    let line = buf.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method != "GET" {
        return reply(
            &mut sock,
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n",
        )
        .await;
    }
    if path != "/metrics" && !path.starts_with("/metrics?") {
        return reply(&mut sock, "404 Not Found", "text/plain", "try /metrics\n").await;
    }
    let (tx, rx) = oneshot::channel();
    if queries.send(Query::Metrics(tx)).await.is_err() {
        return reply(
            &mut sock,
            "503 Service Unavailable",
            "text/plain",
            "router stopped\n",
        )
        .await;
    }
    match rx.await {
        Ok(body) => reply(&mut sock, "200 OK", "text/plain; version=0.0.4", &body).await,
        Err(_) => {
            reply(
                &mut sock,
                "503 Service Unavailable",
                "text/plain",
                "router stopped\n",
            )
            .await
        }
    }
}

async fn reply(
    sock: &mut tokio::net::TcpStream,
    status: &str,
    ctype: &str,
    body: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    sock.write_all(head.as_bytes()).await?;
    sock.write_all(body.as_bytes()).await?;
    sock.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NeighborSample {
        NeighborSample {
            addr: "192.0.2.1".into(),
            state: "Established".into(),
            uptime: Some(5),
            established_count: 1,
            received: Some(10),
            accepted: 8,
            advertised: 3,
            updates_in: 4,
            updates_out: 2,
            notifications_in: 0,
            notifications_out: 1,
        }
    }

    #[test]
    fn exposition_has_every_family() {
        let t = render(&[sample()], 11, 12);
        for line in [
            "bgp_router_neighbor_up{peer=\"192.0.2.1\"} 1",
            "bgp_router_neighbor_uptime_seconds{peer=\"192.0.2.1\"} 5",
            "bgp_router_neighbor_prefixes_received{peer=\"192.0.2.1\"} 10",
            "bgp_router_neighbor_prefixes_accepted{peer=\"192.0.2.1\"} 8",
            "bgp_router_neighbor_prefixes_advertised{peer=\"192.0.2.1\"} 3",
            "bgp_router_neighbor_state{peer=\"192.0.2.1\",state=\"Established\"} 1",
            "bgp_router_neighbor_messages_total{peer=\"192.0.2.1\",direction=\"out\",type=\"notification\"} 1",
            "bgp_router_rib_prefixes 11",
            "bgp_router_rib_paths 12",
        ] {
            assert!(t.lines().any(|l| l == line), "{line} missing in\n{t}");
        }
        assert!(resident_bytes().is_some_and(|r| r > 0));
        assert!(t.contains("bgp_router_process_resident_memory_bytes "));
        // Every sample line belongs to a family declared before it.
        let mut declared = std::collections::HashSet::new();
        for l in t.lines() {
            if let Some(r) = l.strip_prefix("# TYPE ") {
                declared.insert(r.split(' ').next().unwrap().to_string());
            } else if !l.starts_with('#') {
                let name = l.split(['{', ' ']).next().unwrap();
                assert!(declared.contains(name), "{l}");
            }
        }
    }

    #[tokio::test]
    async fn http_server_answers_get_metrics_only() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, mut rx) = mpsc::channel(4);
        let server = tokio::spawn(serve_on(l, tx));
        // Stands in for the router task.
        let router = tokio::spawn(async move {
            while let Some(q) = rx.recv().await {
                if let Query::Metrics(reply) = q {
                    let _ = reply.send(render(&[sample()], 1, 2));
                }
            }
        });
        let get = |req: &'static [u8]| async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(req).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        };
        let ok = get(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(ok.starts_with("HTTP/1.0 200 OK\r\n"), "{ok}");
        let body = ok.split("\r\n\r\n").nth(1).unwrap();
        assert!(ok.contains(&format!("Content-Length: {}\r\n", body.len())));
        assert!(body.contains("bgp_router_rib_paths 2\n"));
        assert!(
            get(b"GET / HTTP/1.0\r\n\r\n")
                .await
                .starts_with("HTTP/1.0 404")
        );
        assert!(
            get(b"POST /metrics HTTP/1.0\r\n\r\n")
                .await
                .starts_with("HTTP/1.0 405")
        );
        let big = vec![b'a'; MAX_REQUEST + 10];
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(&big).await.unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out).await;
        assert!(out.starts_with("HTTP/1.0 400"), "{out}");
        server.abort();
        router.abort();
    }
}
