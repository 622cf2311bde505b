//! A BGP collector: peers with routers, runs the decision process with ECMP, prints Loc-RIB
//! changes as JSON lines, and with `--fib` installs the multipath routes in the kernel.
//!
//! ```text
//! collector --local-as 64512 --router-id 192.168.1.1 --listen 0.0.0.0:179 \
//!     --peer 192.168.1.10 --peer 192.168.1.21 --peer-as 64512 --maximum-paths 8 --fib
//! ```
//!
//! One JSON object per line on stdout:
//! - `{"type":"session","peer":ADDR,"state":"established"|"down",...}`
//! - `{"type":"route","prefix":P,"event":"best_changed"|"multipath_changed"|"withdrawn",
//!   "best":{...},"nexthops":[{"addr":A,"weight":W}],"multipath":[peer addrs],"reason":R}`
//!
//! `--fib` shells out to `ip -batch -` (`ip route replace P proto bgp nexthop via A weight W
//! ...`; `ip route del P proto bgp` on withdrawal): iproute2 is the FIB writer, not rtnetlink.
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::time::Duration;

use bgp_fsm::driver::{Listener, PeerConfig, PeerEvent, PeerHandle, spawn_peer};
use bgp_fsm::{DownReason, GracefulRestartConfig};
use bgp_rib::{DecisionConfig, Delta, DeltaKind, PeerId, PeerInfo, Rib, RouteView};
use bgp_wire::{AfiSafi, Capability, UpdateAction};
use clap::Parser;
use serde_json::json;
use tokio::sync::mpsc;

/// Command line.
#[derive(Debug, Parser)]
#[command(about = "BGP collector: decision process with ECMP, JSON output, optional FIB")]
struct Args {
    /// Our AS.
    #[arg(long)]
    local_as: u32,
    /// Our BGP identifier.
    #[arg(long)]
    router_id: Ipv4Addr,
    /// A peer address (repeat for several).
    #[arg(long = "peer")]
    peers: Vec<IpAddr>,
    /// Peer AS: one value for all peers, or one per --peer in order.
    #[arg(long = "peer-as")]
    peer_as: Vec<u32>,
    /// Accept incoming connections on this address.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Do not connect out (wait for the peers).
    #[arg(long)]
    passive: bool,
    /// TCP port of the peers.
    #[arg(long, default_value_t = 179)]
    peer_port: u16,
    /// Source address for outgoing connections.
    #[arg(long)]
    local_addr: Option<IpAddr>,
    /// maximum-paths for eBGP and iBGP (1 disables multipath).
    #[arg(long, default_value_t = 1)]
    maximum_paths: u16,
    /// maximum-paths for iBGP only (defaults to --maximum-paths).
    #[arg(long)]
    maximum_paths_ibgp: Option<u16>,
    /// bgp bestpath as-path multipath-relax.
    #[arg(long)]
    multipath_relax: bool,
    /// bgp deterministic-med.
    #[arg(long)]
    deterministic_med: bool,
    /// bgp always-compare-med.
    #[arg(long)]
    always_compare_med: bool,
    /// bgp bestpath med missing-as-worst.
    #[arg(long)]
    missing_as_worst: bool,
    /// Hold time to propose.
    #[arg(long, default_value_t = 90)]
    hold_time: u16,
    /// ConnectRetry seconds.
    #[arg(long, default_value_t = 5)]
    connect_retry: u64,
    /// Install routes in the kernel routing table (proto bgp).
    #[arg(long)]
    fib: bool,
    /// Also negotiate IPv6 unicast.
    #[arg(long)]
    ipv6: bool,
    /// Graceful restart helper (RFC 4724): advertise the capability; when a peer that
    /// advertised it loses its session without a NOTIFICATION, keep its routes (stale) until
    /// its End-of-RIB or its restart time.
    #[arg(long)]
    graceful_restart: bool,
}

fn route_json(r: &RouteView, kind: &str) -> serde_json::Value {
    let a = &r.best.attrs;
    json!({
        "type": "route",
        "prefix": r.prefix.to_string(),
        "event": kind,
        "best": {
            "peer": r.best.peer_addr.to_string(),
            "next_hop": a.next_hop.to_string(),
            "as_path": a.as_path.segments.iter().flat_map(|s| s.asns.iter()).collect::<Vec<_>>(),
            "local_pref": a.local_pref,
            "med": a.med,
            "origin": format!("{:?}", a.origin).to_lowercase(),
            "stale": r.best.stale,
        },
        "multipath": r.multipath.iter().map(|m| m.peer_addr.to_string()).collect::<Vec<_>>(),
        "nexthops": r.next_hops.iter().map(|n| json!({"addr": n.addr.to_string(), "weight": n.weight})).collect::<Vec<_>>(),
        "reason": r.reason.as_str(),
    })
}

/// The `ip -batch` line for a route, or its deletion.
fn fib_line(prefix: &ipnet::IpNet, r: Option<&RouteView>) -> String {
    match r {
        None => format!("route del {prefix} proto bgp"),
        Some(r) if r.next_hops.len() == 1 => {
            format!(
                "route replace {prefix} proto bgp via {}",
                r.next_hops[0].addr
            )
        }
        Some(r) => {
            let mut s = format!("route replace {prefix} proto bgp");
            for n in &r.next_hops {
                s.push_str(&format!(
                    " nexthop via {} weight {}",
                    n.addr,
                    n.weight.clamp(1, 256)
                ));
            }
            s
        }
    }
}

fn install(lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    let child = std::process::Command::new("ip")
        .args(["-batch", "-", "-force"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    match child {
        Ok(mut c) => {
            if let Some(mut stdin) = c.stdin.take() {
                for l in lines {
                    let _ = writeln!(stdin, "{l}");
                }
            }
            match c.wait_with_output() {
                Ok(o) if !o.status.success() => {
                    eprintln!("ip -batch: {}", String::from_utf8_lossy(&o.stderr).trim());
                }
                Err(e) => eprintln!("ip -batch: {e}"),
                _ => {}
            }
        }
        Err(e) => eprintln!("cannot run ip: {e}"),
    }
}

fn emit(rib: &Rib, deltas: Vec<Delta>, fib: bool) {
    let mut out = std::io::stdout().lock();
    let mut lines = Vec::new();
    for d in deltas {
        let r = rib.route(d.prefix);
        let kind = match (d.kind, &r) {
            (_, None) | (DeltaKind::Withdrawn, _) => "withdrawn",
            (DeltaKind::BestChanged, _) => "best_changed",
            (DeltaKind::MultipathChanged, _) => "multipath_changed",
        };
        let v = match &r {
            Some(r) => route_json(r, kind),
            None => json!({"type": "route", "prefix": d.prefix.to_string(), "event": "withdrawn"}),
        };
        let _ = writeln!(out, "{v}");
        if fib {
            lines.push(fib_line(&d.prefix, r.as_ref()));
        }
    }
    let _ = out.flush();
    install(&lines);
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if args.peers.is_empty() {
        return Err("at least one --peer".into());
    }
    if args.peer_as.is_empty()
        || (args.peer_as.len() != 1 && args.peer_as.len() != args.peers.len())
    {
        return Err("--peer-as: one value, or one per --peer".into());
    }
    let mut cfg = DecisionConfig::new(args.local_as, args.router_id);
    cfg.max_paths_ebgp = args.maximum_paths;
    cfg.max_paths_ibgp = args.maximum_paths_ibgp.unwrap_or(args.maximum_paths);
    cfg.multipath_relax = args.multipath_relax;
    cfg.deterministic_med = args.deterministic_med;
    cfg.always_compare_med = args.always_compare_med;
    cfg.missing_as_worst = args.missing_as_worst;
    let mut rib = Rib::new(cfg);

    let listener = match args.listen {
        Some(a) => Some(Listener::bind(a).await?),
        None => None,
    };
    let (tx, mut rx) = mpsc::channel::<(PeerId, PeerEvent)>(1024);
    let mut handles: HashMap<PeerId, PeerHandle> = HashMap::new();
    for (i, addr) in args.peers.iter().enumerate() {
        let peer_as = if args.peer_as.len() == 1 {
            args.peer_as[0]
        } else {
            args.peer_as[i]
        };
        let id = rib.add_peer(PeerInfo::new(
            *addr,
            peer_as,
            Ipv4Addr::UNSPECIFIED,
            args.local_as,
        ));
        let mut pc = PeerConfig::new(args.local_as, peer_as, args.router_id, *addr);
        pc.peer_port = args.peer_port;
        pc.passive = args.passive;
        pc.hold_time = args.hold_time;
        pc.local_addr = args.local_addr;
        pc.connect_retry = Duration::from_secs(args.connect_retry.max(1));
        if args.ipv6 {
            pc.families = vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST];
        }
        if args.graceful_restart {
            // Helper only: we keep no forwarding state of our own across restarts.
            pc.graceful_restart = Some(GracefulRestartConfig {
                restart_time: 120,
                restart_state: false,
                notification: false,
                families: Vec::new(),
            });
        }
        let h = spawn_peer(pc, listener.as_ref());
        let Some(mut ev) = h.take_events() else {
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(e) = ev.recv().await {
                if tx.send((id, e)).await.is_err() {
                    break;
                }
            }
        });
        handles.insert(id, h);
    }
    drop(tx);
    let start = std::time::Instant::now();
    // Restart time each peer advertised (graceful restart), by peer.
    let mut gr: HashMap<PeerId, u16> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let (id, ev) = tokio::select! {
            m = rx.recv() => match m { Some(m) => m, None => break },
            _ = tick.tick() => {
                rib.tick(start.elapsed().as_secs());
                let deltas = rib.drain_deltas();
                emit(&rib, deltas, args.fib);
                continue;
            }
            _ = tokio::signal::ctrl_c() => break,
        };
        let addr = rib
            .peer_info(id)
            .map(|p| p.addr.to_string())
            .unwrap_or_default();
        match ev {
            PeerEvent::Established(n) => {
                match &n.peer_graceful_restart {
                    Some(Capability::GracefulRestart { restart_time, .. })
                        if args.graceful_restart =>
                    {
                        gr.insert(id, *restart_time);
                    }
                    _ => {
                        gr.remove(&id);
                    }
                }
                if let Some(mut info) = rib.peer_info(id).cloned() {
                    info.router_id = n.peer_router_id;
                    let _ = rib.set_peer_info(id, info);
                }
                println!(
                    "{}",
                    json!({"type": "session", "peer": addr, "state": "established",
                    "peer_as": n.peer_as, "router_id": n.peer_router_id.to_string()})
                );
            }
            PeerEvent::Down { reason } => {
                // RFC 4724 §4.2: a session lost without a NOTIFICATION (TCP failure, hold
                // timer) keeps the peer's routes as stale while it restarts.
                let helper = matches!(
                    reason,
                    DownReason::ConnectionFailed | DownReason::HoldTimerExpired
                );
                let restart = gr.get(&id).copied().filter(|_| helper);
                match restart {
                    Some(t) => rib.peer_restarting(id, start.elapsed().as_secs(), t),
                    None => rib.peer_down(id),
                }
                println!(
                    "{}",
                    json!({"type": "session", "peer": addr, "state": "down",
                    "reason": format!("{reason:?}"), "graceful_restart": restart.is_some()})
                );
            }
            PeerEvent::Update { update, verdict } => match verdict.action() {
                Some(UpdateAction::TreatAsWithdraw) => {
                    for (_, n) in &verdict.treat_as_withdraw {
                        rib.withdraw(id, n.prefix, n.path_id.unwrap_or(0));
                    }
                }
                Some(UpdateAction::AfiSafiDisable(_)) => rib.peer_down(id),
                _ => match rib.apply_update(id, &update) {
                    Ok(sum) => {
                        for af in sum.end_of_rib {
                            rib.end_of_rib(id, af);
                        }
                    }
                    Err(e) => eprintln!("update from {addr}: {e}"),
                },
            },
            _ => {}
        }
        let deltas = rib.drain_deltas();
        emit(&rib, deltas, args.fib);
    }
    if args.fib {
        let lines: Vec<String> = rib
            .best_prefixes()
            .iter()
            .map(|p| fib_line(p, None))
            .collect();
        install(&lines);
    }
    for (_, h) in handles {
        let _ = tokio::time::timeout(Duration::from_secs(2), h.shutdown(None)).await;
    }
    Ok(())
}
