//! Health checks that gate a service's announcement: HTTP GET, TCP connect or a command,
//! run every interval, with rise and fall counts.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// The probe to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// `GET` of an `http://host:port/path` URL; healthy on a 2xx or 3xx status.
    Http {
        /// Address to connect to.
        addr: SocketAddr,
        /// Host header value.
        host: String,
        /// Request path.
        path: String,
    },
    /// A TCP connect to this address.
    Tcp(SocketAddr),
    /// A program and its arguments; healthy when it exits 0.
    Command(Vec<String>),
}

/// A health check: a probe and its timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// The probe.
    pub probe: Probe,
    /// Time between probes.
    pub interval: Duration,
    /// Time a probe may take before it counts as failed.
    pub timeout: Duration,
    /// Consecutive successes to become healthy.
    pub rise: u32,
    /// Consecutive failures to become unhealthy.
    pub fall: u32,
}

/// Parse an `http://host[:port]/path` URL (no TLS, literal IP or resolvable host name).
pub fn parse_http_url(url: &str) -> Result<(SocketAddr, String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{url}`: only http:// URLs are supported"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    if hostport.is_empty() {
        return Err(format!("`{url}`: no host"));
    }
    let with_port = if hostport.starts_with('[') {
        if hostport.contains("]:") {
            hostport.to_string()
        } else {
            format!("{hostport}:80")
        }
    } else if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    use std::net::ToSocketAddrs;
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("`{url}`: {e}"))?
        .next()
        .ok_or_else(|| format!("`{url}`: host has no address"))?;
    Ok((addr, hostport.to_string(), path))
}

/// Run the probe once.
pub async fn probe_once(probe: &Probe, timeout: Duration) -> bool {
    let fut = async {
        match probe {
            Probe::Tcp(a) => tokio::net::TcpStream::connect(a).await.is_ok(),
            Probe::Http { addr, host, path } => {
                let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
                    return false;
                };
                let req = format!(
                    "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: kube-bgp\r\nConnection: close\r\n\r\n"
                );
                if s.write_all(req.as_bytes()).await.is_err() {
                    return false;
                }
                // The status line is in the first bytes; read at most 1 KiB.
                let mut buf = vec![0u8; 1024];
                let mut n = 0;
                while n < 12 {
                    match s.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(k) => n += k,
                    }
                }
                let head = String::from_utf8_lossy(&buf[..n]);
                let mut parts = head.split_whitespace();
                let proto_ok = parts.next().is_some_and(|p| p.starts_with("HTTP/"));
                let code: u16 = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
                proto_ok && (200..400).contains(&code)
            }
            Probe::Command(argv) => {
                let Some((prog, args)) = argv.split_first() else {
                    return false;
                };
                let mut cmd = tokio::process::Command::new(prog);
                cmd.args(args)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .kill_on_drop(true);
                match cmd.status().await {
                    Ok(st) => st.success(),
                    Err(_) => false,
                }
            }
        }
    };
    tokio::time::timeout(timeout, fut).await.unwrap_or(false)
}

/// Rise/fall hysteresis over probe results. Starts unhealthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hysteresis {
    rise: u32,
    fall: u32,
    healthy: bool,
    streak: u32,
}

impl Hysteresis {
    /// Starts unhealthy; `rise` successes make it healthy, `fall` failures unhealthy.
    pub fn new(rise: u32, fall: u32) -> Self {
        Hysteresis {
            rise: rise.max(1),
            fall: fall.max(1),
            healthy: false,
            streak: 0,
        }
    }
    /// Feed one result; returns the (possibly new) health.
    pub fn feed(&mut self, ok: bool) -> bool {
        if ok == self.healthy {
            self.streak = 0;
        } else {
            self.streak += 1;
            let need = if ok { self.rise } else { self.fall };
            if self.streak >= need {
                self.healthy = ok;
                self.streak = 0;
            }
        }
        self.healthy
    }
    /// Current health.
    pub fn healthy(&self) -> bool {
        self.healthy
    }
}

/// Run a check forever, publishing its health on the returned channel. The task ends
/// when every receiver is dropped.
pub fn spawn(check: HealthCheck) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let mut h = Hysteresis::new(check.rise, check.fall);
        let mut tick = tokio::time::interval(check.interval.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let ok = probe_once(&check.probe, check.timeout).await;
            let now = h.feed(ok);
            if *tx.borrow() != now && tx.send(now).is_err() {
                return;
            }
            if tx.is_closed() {
                return;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hysteresis_rise_and_fall() {
        let mut h = Hysteresis::new(2, 3);
        assert!(!h.feed(true));
        assert!(h.feed(true));
        assert!(h.feed(false));
        assert!(h.feed(false));
        assert!(h.feed(true), "a success resets the failure streak");
        assert!(h.feed(false));
        assert!(h.feed(false));
        assert!(!h.feed(false));
    }

    #[test]
    fn url_parsing() {
        let (a, host, path) = parse_http_url("http://127.0.0.1:8080/healthz").unwrap();
        assert_eq!(a, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(host, "127.0.0.1:8080");
        assert_eq!(path, "/healthz");
        let (a, _, path) = parse_http_url("http://[::1]").unwrap();
        assert_eq!(a, "[::1]:80".parse().unwrap());
        assert_eq!(path, "/");
        assert!(parse_http_url("https://x/").is_err());
    }

    #[tokio::test]
    async fn probes_against_loopback() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = tokio::spawn(async move {
            for status in ["200 OK", "503 Service Unavailable"] {
                let (mut s, _) = l.accept().await.unwrap();
                let mut b = [0u8; 512];
                let _ = s.read(&mut b).await;
                let _ = s
                    .write_all(format!("HTTP/1.0 {status}\r\n\r\n").as_bytes())
                    .await;
            }
        });
        let t = Duration::from_secs(2);
        let http = Probe::Http {
            addr,
            host: addr.to_string(),
            path: "/".into(),
        };
        assert!(probe_once(&http, t).await);
        assert!(!probe_once(&http, t).await);
        server.await.unwrap();
        // Nothing listens any more.
        assert!(!probe_once(&Probe::Tcp(addr), t).await);
        assert!(probe_once(&Probe::Command(vec!["true".into()]), t).await);
        assert!(!probe_once(&Probe::Command(vec!["false".into()]), t).await);
        assert!(!probe_once(&Probe::Command(vec!["/nonexistent/x".into()]), t).await);
    }
}
