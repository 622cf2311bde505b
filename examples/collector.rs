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
//! - `{"type":"session","peer":ADDR,"event":"max_prefix","family":"1/1","count":C,"limit":N}`
//!   when `--max-prefix N` ends a session
//! - `{"type":"route","prefix":P,"event":"best_changed"|"multipath_changed"|"withdrawn",
//!   "best":{...},"nexthops":[{"addr":A,"weight":W}],"multipath":[peer addrs],"reason":R}`
//!
//! `--fib` writes the kernel's main table over one rtnetlink connection opened at start: each
//! change is an RTM_NEWROUTE with NLM_F_REPLACE | NLM_F_CREATE and protocol `bgp` (186), one
//! gateway or RTA_MULTIPATH next hops weighted from link bandwidth (else 1; `rtnh_hops` is
//! weight - 1, as with `ip route ... weight W`), and an RTM_DELROUTE (`proto bgp`) on withdrawal.
//! Errors go to stderr and do not stop the collector.
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use bgp_fsm::driver::{Listener, PeerConfig, PeerEvent, PeerHandle, spawn_peer};
use bgp_fsm::{DownReason, GracefulRestartConfig};
use bgp_rib::{DecisionConfig, Delta, DeltaKind, PeerId, PeerInfo, Rib, RouteView};
use bgp_wire::{AfiSafi, Capability, Notification};
use clap::Parser;
use kube_bgp::bmp::BmpExport;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::route::{RouteMessage, RouteProtocol};
use rtnetlink::{Handle, RouteMessageBuilder, RouteNextHopBuilder};
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
    /// maximum-prefix: when a peer's routes in one family (after import, each ADD-PATH path
    /// counted) exceed N, end its session with Cease 6/1 (RFC 4486, family and N as data)
    /// and drop its routes; it is retried after the IdleHoldTime, which doubles each time.
    #[arg(long, value_name = "N")]
    max_prefix: Option<u32>,
    /// Stream BMP (RFC 7854, Loc-RIB per RFC 9069) to a station at HOST:PORT: peer up/down,
    /// every received UPDATE (pre-policy Adj-RIB-In), Loc-RIB changes, statistics.
    #[arg(long, value_name = "HOST:PORT")]
    bmp: Option<SocketAddr>,
    /// Seconds between BMP Statistics Reports.
    #[arg(long, default_value_t = 30)]
    bmp_stats_interval: u64,
    /// Write MRT into DIR: a TABLE_DUMP_V2 snapshot `rib.<secs>.mrt` every --mrt-interval
    /// seconds and a BGP4MP_ET update log `updates.<secs>.mrt` (messages received and
    /// session state changes) rotated with each snapshot.
    #[arg(long, value_name = "DIR")]
    mrt_dump: Option<std::path::PathBuf>,
    /// Seconds between MRT snapshots.
    #[arg(long, value_name = "S", default_value_t = 300)]
    mrt_interval: u64,
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

/// One FIB change: a route to replace with its next hops, or a prefix to delete.
struct FibChange {
    prefix: ipnet::IpNet,
    /// Next hops with their weights; empty for a deletion.
    next_hops: Vec<(IpAddr, u32)>,
}

/// The kernel's multipath hop count (`rtnh_hops`) for a weight: weight 1..=256 is hops 0..=255,
/// the same number `ip route ... weight W` sends.
fn rtnh_hops(weight: u32) -> u8 {
    u8::try_from(weight.clamp(1, 256) - 1).unwrap_or(u8::MAX)
}

/// The netlink route message for `change`: main table, `proto bgp`, unicast; one gateway for a
/// single next hop, RTA_MULTIPATH with weights for several.
fn route_message(change: &FibChange) -> Result<RouteMessage, String> {
    let p = &change.prefix;
    let mut b = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(p.addr(), p.prefix_len())
        .map_err(|e| e.to_string())?
        .protocol(RouteProtocol::Bgp);
    match change.next_hops.as_slice() {
        [] => {}
        [(addr, _)] => b = b.gateway(*addr).map_err(|e| e.to_string())?,
        hops => {
            let family = match p {
                ipnet::IpNet::V4(_) => AddressFamily::Inet,
                ipnet::IpNet::V6(_) => AddressFamily::Inet6,
            };
            let mut nh = Vec::with_capacity(hops.len());
            for (addr, weight) in hops {
                nh.push(
                    RouteNextHopBuilder::new(family)
                        .via(*addr)
                        .map_err(|e| e.to_string())?
                        .weight(rtnh_hops(*weight))
                        .build(),
                );
            }
            b = b.multipath(nh);
        }
    }
    Ok(b.build())
}

/// The FIB change for a Loc-RIB delta: replace with the route's next hops, or delete.
fn fib_change(prefix: &ipnet::IpNet, r: Option<&RouteView>) -> FibChange {
    FibChange {
        prefix: *prefix,
        next_hops: r
            .map(|r| r.next_hops.iter().map(|n| (n.addr, n.weight)).collect())
            .unwrap_or_default(),
    }
}

/// Writes `changes` to the kernel over the collector's netlink connection: route replace
/// (NLM_F_REPLACE | NLM_F_CREATE) or route delete, one request each. Errors go to stderr; the
/// collector carries on.
async fn install(handle: &Handle, changes: Vec<FibChange>) {
    for c in changes {
        let msg = match route_message(&c) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("fib {}: {e}", c.prefix);
                continue;
            }
        };
        let (op, res) = if c.next_hops.is_empty() {
            ("del", handle.route().del(msg).execute().await)
        } else {
            ("replace", handle.route().add(msg).replace().execute().await)
        };
        if let Err(e) = res {
            eprintln!("fib route {op} {}: {e}", c.prefix);
        }
    }
}

/// Prints the deltas as JSON lines and returns the FIB changes they make (none without `--fib`).
fn emit(rib: &Rib, deltas: Vec<Delta>, fib: bool) -> Vec<FibChange> {
    let mut out = std::io::stdout().lock();
    let mut changes = Vec::new();
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
            changes.push(fib_change(&d.prefix, r.as_ref()));
        }
    }
    let _ = out.flush();
    changes
}

/// Emits the deltas and applies their FIB changes when there is a netlink connection.
async fn publish(rib: &Rib, deltas: Vec<Delta>, fib: Option<&Handle>, bmp: Option<&mut BmpExport>) {
    if let Some(b) = bmp {
        b.loc_rib(rib, &deltas);
        b.flush().await;
    }
    let changes = emit(rib, deltas, fib.is_some());
    if let Some(h) = fib {
        install(h, changes).await;
    }
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
    let mut mrt = match &args.mrt_dump {
        Some(d) => Some(bgp_mrt::dump::MrtDump::new(d, args.mrt_interval)?),
        None => None,
    };

    // One netlink connection for the whole run; every FIB change goes through its handle.
    let fib: Option<Handle> = if args.fib {
        match rtnetlink::new_connection() {
            Ok((conn, handle, _)) => {
                tokio::spawn(conn);
                Some(handle)
            }
            Err(e) => {
                eprintln!("fib: cannot open netlink: {e}");
                None
            }
        }
    } else {
        None
    };

    let listener = match args.listen {
        Some(a) => Some(Listener::bind(a).await?),
        None => None,
    };
    let (tx, mut rx) = mpsc::channel::<(PeerId, PeerEvent)>(1024);
    let mut handles: HashMap<PeerId, PeerHandle> = HashMap::new();
    // Each peer's session config: BMP's Peer Up carries the OPEN it produces.
    let mut session_configs: HashMap<PeerId, bgp_fsm::SessionConfig> = HashMap::new();
    let mut bmp = args.bmp.map(|station| {
        BmpExport::new(
            station,
            args.local_as,
            args.router_id,
            &args.router_id.to_string(),
        )
    });
    let mut bmp_resyncs = bmp.as_ref().map(|b| b.exporter().resyncs());
    let mut bmp_stats = tokio::time::interval(Duration::from_secs(args.bmp_stats_interval.max(1)));
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
        session_configs.insert(id, pc.session_config());
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
    // Peers whose session we ended for exceeding --max-prefix, until they are up again.
    let mut over_limit: std::collections::HashSet<PeerId> = std::collections::HashSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let (id, ev) = tokio::select! {
            m = rx.recv() => match m { Some(m) => m, None => break },
            _ = tick.tick() => {
                rib.tick(start.elapsed().as_secs());
                let deltas = rib.drain_deltas();
                publish(&rib, deltas, fib.as_ref(), bmp.as_mut()).await;
                if let Some(m) = &mut mrt {
                    mrt_tick(m, &rib);
                }
                continue;
            }
            Some(Ok(())) = async {
                match bmp_resyncs.as_mut() {
                    Some(r) => Some(r.changed().await),
                    None => None,
                }
            } => {
                if let Some(b) = bmp.as_mut() {
                    b.resync(&rib).await;
                }
                continue;
            }
            _ = bmp_stats.tick(), if bmp.is_some() => {
                if let Some(b) = bmp.as_mut() {
                    b.stats(&rib);
                    b.flush().await;
                }
                continue;
            }
            _ = tokio::signal::ctrl_c() => break,
        };
        let addr = rib
            .peer_info(id)
            .map(|p| p.addr.to_string())
            .unwrap_or_default();
        if let Some(m) = &mut mrt {
            mrt_event(m, &rib, id, &ev, args.local_as, args.local_addr);
        }
        match ev {
            PeerEvent::Established(n) => {
                over_limit.remove(&id);
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
                if let (Some(b), Some(sc), Some((local, remote))) = (
                    bmp.as_mut(),
                    session_configs.get(&id),
                    handles.get(&id).and_then(|h| h.connection()),
                ) {
                    b.peer_up(id, sc, &n, local, remote);
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
                if let Some(b) = bmp.as_mut() {
                    b.peer_down(id, &reason);
                }
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
            // Already read before our Cease went out: dropped with the session.
            PeerEvent::Update { .. } if over_limit.contains(&id) => {}
            PeerEvent::Update { update, verdict } => {
                if let Some(b) = bmp.as_mut() {
                    b.pre_policy(id, &update);
                }
                match rib.apply_decoded(id, &update, &verdict) {
                    Ok(sum) => {
                        for af in sum.end_of_rib {
                            rib.end_of_rib(id, af);
                        }
                    }
                    Err(e) => eprintln!("update from {addr}: {e}"),
                }
            }
            _ => {}
        }
        if let Some(limit) = args.max_prefix
            && !over_limit.contains(&id)
            && let Some(h) = handles.get(&id)
        {
            for af in [AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST] {
                let count = rib.peer_path_count(id, af);
                if count > limit as usize {
                    over_limit.insert(id);
                    println!(
                        "{}",
                        json!({"type": "session", "peer": addr, "event": "max_prefix",
                        "family": af.to_string(), "count": count, "limit": limit})
                    );
                    let _ = h
                        .automatic_stop(Notification::max_prefixes_reached(af, limit))
                        .await;
                    // Its routes go now, not when the Down event arrives.
                    rib.peer_down(id);
                    break;
                }
            }
        }
        let deltas = rib.drain_deltas();
        publish(&rib, deltas, fib.as_ref(), bmp.as_mut()).await;
    }
    if let Some(h) = &fib {
        let changes: Vec<FibChange> = rib
            .best_prefixes()
            .iter()
            .map(|p| fib_change(p, None))
            .collect();
        install(h, changes).await;
    }
    for (_, h) in handles {
        let _ = tokio::time::timeout(Duration::from_secs(2), h.shutdown(None)).await;
    }
    if let Some(m) = &mut mrt {
        let _ = m.flush();
    }
    Ok(())
}

// --mrt-dump: kept in these two functions so the router can take them as they are.
fn mrt_now() -> (u64, u32) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs(), d.subsec_micros())
}

/// Write a snapshot when the interval has passed.
fn mrt_tick(m: &mut bgp_mrt::dump::MrtDump, rib: &Rib) {
    match m.tick(mrt_now().0, rib) {
        Ok(Some((path, st))) => println!(
            "{}",
            json!({"type": "mrt", "file": path.display().to_string(), "peers": st.peers,
            "prefixes": st.prefixes, "entries": st.entries})
        ),
        Ok(None) => {}
        Err(e) => eprintln!("mrt: {e}"),
    }
}

/// Log a session event in the BGP4MP update log.
fn mrt_event(
    m: &mut bgp_mrt::dump::MrtDump,
    rib: &Rib,
    id: PeerId,
    ev: &PeerEvent,
    local_as: u32,
    local_addr: Option<IpAddr>,
) {
    use bgp_mrt::writer::{SessionId, state};
    let Some(info) = rib.peer_info(id) else {
        return;
    };
    let s = SessionId {
        peer_as: info.asn,
        local_as,
        peer_addr: info.addr,
        local_addr: local_addr.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
    };
    let (secs, us) = mrt_now();
    let r = match ev {
        PeerEvent::Established(_) => {
            m.state_change(secs, us, &s, state::OPEN_CONFIRM, state::ESTABLISHED)
        }
        PeerEvent::Down { .. } => m.state_change(secs, us, &s, state::ESTABLISHED, state::IDLE),
        PeerEvent::Update { update, .. } => m.message(
            secs,
            us,
            &s,
            &bgp_wire::Message::Update(update.as_ref().clone()),
        ),
        _ => Ok(()),
    };
    if let Err(e) = r {
        eprintln!("mrt: {e}");
    }
}
