//! Per-peer counters and their Prometheus text exposition.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Counters for one peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Current FSM state name.
    pub state: String,
    /// Whether the session is Established.
    pub up: bool,
    /// Prefixes currently advertised to the peer.
    pub prefixes_advertised: usize,
    /// UPDATE messages sent.
    pub updates_sent: u64,
    /// UPDATE messages received.
    pub updates_received: u64,
    /// NOTIFICATION messages sent.
    pub notifications_sent: u64,
    /// NOTIFICATION messages received.
    pub notifications_received: u64,
    /// Times the session reached Established.
    pub established_transitions: u64,
    /// The last error (down reason or notification), if any.
    pub last_error: Option<String>,
}

/// Shared, cloneable metrics registry.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<BTreeMap<IpAddr, PeerStats>>>,
}

impl Metrics {
    /// Update one peer's stats.
    pub fn with_peer<R>(&self, peer: IpAddr, f: impl FnOnce(&mut PeerStats) -> R) -> R {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(g.entry(peer).or_default())
    }
    /// Forget a peer.
    pub fn remove(&self, peer: IpAddr) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.remove(&peer);
    }
    /// A snapshot of every peer's stats.
    pub fn snapshot(&self) -> BTreeMap<IpAddr, PeerStats> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let snap = self.snapshot();
        let mut s = String::new();
        let mut gauge = |name: &str, kind: &str, help: &str, f: &dyn Fn(&PeerStats) -> String| {
            let _ = writeln!(s, "# HELP {name} {help}");
            let _ = writeln!(s, "# TYPE {name} {kind}");
            for (p, st) in &snap {
                let _ = writeln!(s, "{name}{{peer=\"{p}\"}} {}", f(st));
            }
        };
        gauge(
            "kube_bgp_session_up",
            "gauge",
            "1 when the BGP session is Established.",
            &|st| u8::from(st.up).to_string(),
        );
        gauge(
            "kube_bgp_prefixes_advertised",
            "gauge",
            "Prefixes currently advertised to the peer.",
            &|st| st.prefixes_advertised.to_string(),
        );
        gauge(
            "kube_bgp_established_transitions_total",
            "counter",
            "Times the session reached Established.",
            &|st| st.established_transitions.to_string(),
        );
        let _ = writeln!(
            s,
            "# HELP kube_bgp_messages_total BGP messages by direction and type."
        );
        let _ = writeln!(s, "# TYPE kube_bgp_messages_total counter");
        for (p, st) in &snap {
            for (dir, ty, v) in [
                ("sent", "update", st.updates_sent),
                ("received", "update", st.updates_received),
                ("sent", "notification", st.notifications_sent),
                ("received", "notification", st.notifications_received),
            ] {
                let _ = writeln!(
                    s,
                    "kube_bgp_messages_total{{peer=\"{p}\",direction=\"{dir}\",type=\"{ty}\"}} {v}"
                );
            }
        }
        let _ = writeln!(
            s,
            "# HELP kube_bgp_last_error_info The last error seen on the session (value always 1)."
        );
        let _ = writeln!(s, "# TYPE kube_bgp_last_error_info gauge");
        for (p, st) in &snap {
            if let Some(e) = &st.last_error {
                let _ = writeln!(
                    s,
                    "kube_bgp_last_error_info{{peer=\"{p}\",error=\"{}\"}} 1",
                    escape_label(e)
                );
            }
        }
        s
    }
}

fn escape_label(v: &str) -> String {
    let mut o = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o
}

/// Serve `metrics.render()` over HTTP on `addr` until the task is dropped.
///
/// Any request path returns the metrics; this is enough for a Prometheus scrape.
pub async fn serve(addr: std::net::SocketAddr, metrics: Metrics) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(addr).await?;
    loop {
        let (mut sock, _) = listener.accept().await?;
        let m = metrics.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            // Read the request head (bounded); the content does not matter.
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(2), sock.read(&mut buf)).await;
            let body = m.render();
            let resp = format!(
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                body.len(),
                body
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_has_peer_series() {
        let m = Metrics::default();
        let p: IpAddr = "192.0.2.1".parse().unwrap();
        m.with_peer(p, |s| {
            s.up = true;
            s.prefixes_advertised = 3;
            s.updates_sent = 4;
            s.last_error = Some("Hold \"Timer\"".into());
        });
        let t = m.render();
        assert!(t.contains("kube_bgp_session_up{peer=\"192.0.2.1\"} 1\n"));
        assert!(t.contains("kube_bgp_prefixes_advertised{peer=\"192.0.2.1\"} 3\n"));
        assert!(t.contains(
            "kube_bgp_messages_total{peer=\"192.0.2.1\",direction=\"sent\",type=\"update\"} 4\n"
        ));
        assert!(t.contains("error=\"Hold \\\"Timer\\\"\"} 1"));
        m.remove(p);
        assert!(!m.render().contains("192.0.2.1"));
    }

    #[tokio::test]
    async fn serve_answers_http() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let m = Metrics::default();
        m.with_peer("192.0.2.9".parse().unwrap(), |s| s.up = true);
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let t = tokio::spawn(serve(addr, m));
        let mut out = String::new();
        for _ in 0..50 {
            if let Ok(mut s) = tokio::net::TcpStream::connect(addr).await {
                s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").await.unwrap();
                s.read_to_string(&mut out).await.unwrap();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        t.abort();
        assert!(out.starts_with("HTTP/1.0 200 OK"));
        assert!(out.contains("kube_bgp_session_up{peer=\"192.0.2.9\"} 1"));
    }
}
