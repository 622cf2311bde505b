//! `announce`: a BGP speaker that announces service IPs to routers.
//!
//! ```text
//! cargo run --release --example announce -- --help
//! announce --local-as 64512 --peer 192.168.1.1 --peer-as 64512 --prefix 172.16.10.0/32 --json
//! announce --config /etc/kube-bgp.toml
//! ```
//!
//! A configuration file (every flag has the same key; tables add peers, pools, services):
//!
//! ```toml
//! local-as = 64512
//! peer = ["192.168.1.1"]          # ADDR or ADDR:PORT, repeatable
//! peer-as = 64512
//! hold-time = 9
//! keepalive = 3
//! community = ["64512:100"]
//! large-community = ["64512:1:1"]
//! local-pref = 200
//! metrics = "127.0.0.1:9179"
//! graceful-shutdown-drain = 5     # seconds with GRACEFUL_SHUTDOWN before withdrawing
//! graceful-restart = 120          # RFC 4724: routers keep our routes 120 s if we die
//! shutdown-message = "node drained for maintenance"
//!
//! [[neighbor]]                    # a peer with its own settings
//! address = "192.168.2.1"
//! peer-as = 65001
//! password = "secret"
//! ttl = 2
//!
//! [[pool]]
//! name = "default"
//! cidr = "172.16.10.0/24"
//!
//! [[service]]                     # gets the lowest free address of the pool
//! name = "web"
//! pool = "default"
//! health = { http = "http://127.0.0.1:8080/healthz", interval-ms = 1000, rise = 2, fall = 3 }
//!
//! [[service]]
//! name = "dns"
//! ip = "172.16.10.53"
//! health = { tcp = "127.0.0.1:53" }
//! ```
//!
//! SIGHUP reloads the configuration file and applies only the difference (new or removed
//! prefixes on the live sessions, only changed peers restarted). A bad file is refused
//! with an error naming the key and value, and the old configuration stays in force.
//! SIGTERM / SIGINT run the graceful shutdown and exit 0. SIGUSR2 exits at once without
//! withdrawing or sending a NOTIFICATION, for a restart: with `graceful-restart = SECONDS`
//! the routers keep the routes that long and the restarted announce refreshes them.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use kube_bgp::config::{Cli, Config, ConfigError, FileConfig};
use kube_bgp::driver::FsmBackend;
use kube_bgp::health::{self, HealthCheck};
use kube_bgp::{ShutdownOptions, Speaker, SpeakerEvent};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};

fn load(cli: &Cli) -> Result<Config, ConfigError> {
    let file = match &cli.config {
        Some(p) => kube_bgp::config::read_file(p)?,
        None => FileConfig::default(),
    };
    let cfg = file.overlay(cli).validate()?;
    // Resolve the router id now so a missing one is a config error at load time.
    cfg.peer_settings()?;
    Ok(cfg)
}

/// One running health check: its definition, its state, and the task that turns state
/// changes into recomputations (aborted when the entry goes, which also ends the check).
struct HealthEntry {
    check: HealthCheck,
    rx: watch::Receiver<bool>,
    forwarder: tokio::task::AbortHandle,
}

impl Drop for HealthEntry {
    fn drop(&mut self) {
        self.forwarder.abort();
    }
}

/// The health checks currently running, by service name.
struct Health {
    checks: BTreeMap<String, HealthEntry>,
    changed: mpsc::UnboundedSender<()>,
}

impl Health {
    /// Keep checks that did not change (so their state survives a reload), start new ones,
    /// drop removed ones.
    fn apply(&mut self, cfg: &Config) {
        let mut next = BTreeMap::new();
        for s in &cfg.services {
            let Some(check) = &s.health else { continue };
            let entry = match self.checks.remove(&s.name) {
                Some(e) if &e.check == check => e,
                _ => {
                    let rx = health::spawn(check.clone());
                    let mut watch_rx = rx.clone();
                    let tx = self.changed.clone();
                    let forwarder = tokio::spawn(async move {
                        while watch_rx.changed().await.is_ok() {
                            if tx.send(()).is_err() {
                                return;
                            }
                        }
                    })
                    .abort_handle();
                    HealthEntry {
                        check: check.clone(),
                        rx,
                        forwarder,
                    }
                }
            };
            next.insert(s.name.clone(), entry);
        }
        self.checks = next;
    }

    fn healthy(&self, name: &str) -> bool {
        self.checks.get(name).is_some_and(|e| *e.rx.borrow())
    }
}

/// Seconds since the Unix epoch, for the `ts` field of JSON lines.
fn now_ts() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Print a JSON object as one line with a `ts` field (seconds since the epoch) appended.
fn print_json_text(text: &str) {
    match text.strip_suffix('}') {
        Some(head) if head.len() > 1 => println!("{head},\"ts\":{:.3}}}", now_ts()),
        _ => println!("{text}"),
    }
}

fn print_json(v: serde_json::Value) {
    print_json_text(&v.to_string());
}

fn print_event(json: bool, e: &SpeakerEvent) {
    if json {
        print_json_text(&e.to_json());
    } else {
        tracing::info!("{e:?}");
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let mut cfg = match load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("announce: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut bound = FsmBackend::new(cfg.listen).await;
    if bound.is_err() && cfg.listen == Some(kube_bgp::config::DEFAULT_LISTEN) {
        // No IPv6 on this host: listen on IPv4 only.
        bound = FsmBackend::new(Some(kube_bgp::config::DEFAULT_LISTEN_V4)).await;
    }
    // BFD: one driver (UDP 3784) for every peer that asks for it.
    let bound = match bound {
        Ok(b) if cfg.peers.iter().any(|p| p.bfd.is_some()) => {
            use bgp_bfd::driver::{Bfd, DriverConfig};
            let mut bfd = Bfd::spawn(DriverConfig::default()).await;
            if bfd.is_err() {
                // No IPv6 on this host.
                let v4 = DriverConfig {
                    ipv6: false,
                    ..DriverConfig::default()
                };
                bfd = Bfd::spawn(v4).await;
            }
            match bfd {
                Ok(bfd) => Ok(b.with_bfd(bfd)),
                Err(e) => {
                    eprintln!("announce: cannot open the BFD sockets (UDP 3784): {e}");
                    return ExitCode::from(1);
                }
            }
        }
        other => other,
    };
    let backend = match bound {
        Ok(b) => Arc::new(b),
        Err(e) => {
            eprintln!("announce: cannot listen on {:?}: {e}", cfg.listen);
            return ExitCode::from(1);
        }
    };
    let speaker = Speaker::new(backend);
    if cfg.import {
        match cfg.router_id() {
            Ok(id) => {
                let mut d = bgp_rib::DecisionConfig::new(cfg.local_as, id);
                d.max_paths_ibgp = 64;
                d.max_paths_ebgp = 64;
                speaker.enable_import(d);
            }
            Err(e) => {
                eprintln!("announce: configuration error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let json = cfg.json;
    let mut events = speaker.subscribe();
    let printer = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(e) => {
                    let done = matches!(&e, SpeakerEvent::Shutdown { phase } if phase == "done");
                    print_event(json, &e);
                    if done {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("event printer lagged, {n} events lost");
                }
                Err(_) => return,
            }
        }
    });
    if let Some(addr) = cfg.metrics {
        let m = speaker.metrics();
        tokio::spawn(async move {
            if let Err(e) = kube_bgp::metrics::serve(addr, m).await {
                tracing::error!("metrics server on {addr}: {e}");
            }
        });
    }

    let (changed_tx, mut changed_rx) = mpsc::unbounded_channel();
    let mut health = Health {
        checks: BTreeMap::new(),
        changed: changed_tx,
    };
    health.apply(&cfg);
    speaker.set(cfg.desired(|n| health.healthy(n)));
    let peers = cfg.peer_settings().unwrap_or_default();
    if let Err(e) = speaker.apply_peers(peers).await {
        eprintln!("announce: {e}");
        return ExitCode::from(1);
    }

    let (Ok(mut hup), Ok(mut term), Ok(mut int), Ok(mut usr2)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::user_defined2()),
    ) else {
        eprintln!("announce: cannot install signal handlers");
        return ExitCode::from(1);
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {
                match load(&cli) {
                    Err(e) => {
                        eprintln!("announce: reload refused, keeping the running configuration: {e}");
                        if json {
                            print_json(serde_json::json!({"event": "reload_failed", "error": e.to_string()}));
                        }
                    }
                    Ok(new) => {
                        if new.listen != cfg.listen || new.json != cfg.json || new.metrics != cfg.metrics {
                            tracing::warn!("listen, json and metrics changes need a restart; ignored");
                        }
                        health.apply(&new);
                        speaker.set(new.desired(|n| health.healthy(n)));
                        match speaker.apply_peers(new.peer_settings().unwrap_or_default()).await {
                            Ok(ch) => {
                                if json {
                                    print_json(serde_json::json!({
                                        "event": "reloaded",
                                        "added": ch.added, "restarted": ch.restarted, "reconfigured": ch.reconfigured,
                                        "removed": ch.removed, "unchanged": ch.unchanged,
                                    }));
                                }
                            }
                            Err(e) => eprintln!("announce: reload: {e}"),
                        }
                        cfg = new;
                    }
                }
            }
            Some(()) = changed_rx.recv() => {
                if json {
                    for s in &cfg.services {
                        if s.health.is_some() {
                            print_json(serde_json::json!({"event": "health", "service": s.name, "address": s.addr.to_string(), "healthy": health.healthy(&s.name)}));
                        }
                    }
                }
                speaker.set(cfg.desired(|n| health.healthy(n)));
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = usr2.recv() => {
                // Exit for a restart: no withdrawal, no NOTIFICATION. The kernel closes the TCP
                // sessions, which a Graceful Restart helper treats as a restart and keeps our
                // routes for the advertised restart time. Without graceful-restart the routers
                // drop the routes at once, as after a crash.
                if json {
                    use std::io::Write;
                    let line = serde_json::json!({"event": "restart_exit"}).to_string();
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{line}");
                    let _ = out.flush();
                }
                std::process::exit(0);
            }
        }
    }
    speaker
        .shutdown(ShutdownOptions {
            graceful_shutdown_drain: cfg.graceful_shutdown_drain,
            message: cfg.shutdown_message.clone(),
            ..Default::default()
        })
        .await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), printer).await;
    ExitCode::SUCCESS
}
