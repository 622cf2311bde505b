//! A BMP station: accepts routers' BMP sessions and prints what they report as JSON lines,
//! one event a line (initiation, peer_up, route, peer_down, stats, mirror, termination).
//!
//! ```text
//! cargo run -p bgp-bmp --features codec --example bmp-station -- --listen [::]:11019
//! ```
//!
//! Each route line carries the peer, whether the routes are pre- or post-policy, Adj-RIB-In,
//! Adj-RIB-Out (RFC 8671) or Loc-RIB (RFC 9069), the announced and withdrawn prefixes with
//! their families and the path attributes, decoded with the peer's own session context.
//! Output goes through one buffered writer, flushed after each batch read from a socket.
//!
//! With `--mrt FILE`, the station also writes what the routers received from their peers as an
//! MRT update log (RFC 6396 BGP4MP_ET: each pre-policy Adj-RIB-In UPDATE as MESSAGE_AS4, peer
//! up and down as STATE_CHANGE_AS4), which `bgpdump` and other MRT readers take as they take
//! a route collector's archive.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bgp_bmp::{BmpFrames, Event, PeerHeader, PeerType, StatValue, Station};
use bgp_mrt::writer::{SessionId, UpdateLog, state};
use bgp_wire::PathAttribute;
use clap::Parser;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::codec::FramedRead;

#[derive(Parser)]
#[command(about = "BMP station: prints routers' BMP sessions as JSON lines")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "[::]:11019")]
    listen: SocketAddr,
    /// Also write the routers' received UPDATEs and peer state changes to this MRT file.
    #[arg(long, value_name = "FILE")]
    mrt: Option<std::path::PathBuf>,
}

type Mrt = Arc<Mutex<UpdateLog<std::io::BufWriter<std::fs::File>>>>;

/// What an MRT record needs to know of a monitored session.
fn session_id(peer: &PeerHeader, local_as: u32, local: std::net::IpAddr) -> SessionId {
    SessionId {
        peer_as: peer.asn,
        local_as,
        peer_addr: peer.address,
        local_addr: local,
    }
}

type Out = Arc<Mutex<std::io::BufWriter<std::io::Stdout>>>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(args.listen).await?;
    let out: Out = Arc::new(Mutex::new(std::io::BufWriter::new(std::io::stdout())));
    let mrt: Option<Mrt> = match &args.mrt {
        Some(p) => {
            let mut log = UpdateLog::new(std::io::BufWriter::new(std::fs::File::create(p)?));
            log.extended_time = true;
            Some(Arc::new(Mutex::new(log)))
        }
        None => None,
    };
    emit(
        &out,
        &json!({"type": "listening", "address": args.listen.to_string()}),
    );
    flush(&out);
    loop {
        let (sock, router) = listener.accept().await?;
        let out = out.clone();
        let mrt = mrt.clone();
        tokio::spawn(async move { session(sock, router, out, mrt).await });
    }
}

/// Writes an event to the MRT log: pre-policy Adj-RIB-In UPDATEs and session state changes.
fn log_mrt(
    mrt: &Mrt,
    sessions: &mut std::collections::HashMap<bgp_bmp::PeerKey, (SessionId, bool)>,
    ev: &Event,
) {
    let mut log = mrt.lock().unwrap_or_else(|e| e.into_inner());
    let r = match ev {
        Event::PeerUp {
            peer,
            local_address,
            sent_open,
            received_open,
            ..
        } if peer.peer_type != PeerType::LocRib => {
            let id = session_id(peer, sent_open.asn(), *local_address);
            let ctx = bgp_wire::SessionContext::negotiate(sent_open, received_open);
            let add_path = !ctx.add_path_receive.is_empty();
            sessions.insert(peer.key(), (id, add_path));
            log.state_change(
                peer.timestamp_secs,
                peer.timestamp_micros,
                &id,
                state::OPEN_CONFIRM,
                state::ESTABLISHED,
            )
        }
        Event::PeerDown { peer, .. } => match sessions.remove(&peer.key()) {
            Some((id, _)) => log.state_change(
                peer.timestamp_secs,
                peer.timestamp_micros,
                &id,
                state::ESTABLISHED,
                state::IDLE,
            ),
            None => Ok(()),
        },
        Event::Route { peer, update, .. }
            if peer.peer_type != PeerType::LocRib
                && !peer.is_post_policy()
                && !peer.is_adj_rib_out() =>
        {
            match sessions.get(&peer.key()) {
                Some((id, add_path)) => log.message(
                    peer.timestamp_secs,
                    peer.timestamp_micros,
                    id,
                    &update.message,
                    *add_path,
                    false,
                ),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    };
    if r.is_ok() {
        let _ = log.flush();
    }
}

async fn session(sock: tokio::net::TcpStream, router: SocketAddr, out: Out, mrt: Option<Mrt>) {
    let mut sessions = std::collections::HashMap::new();
    let router = router.to_string();
    // Frames first, then decoding: a message we cannot read is reported and skipped, the
    // session goes on.
    let mut frames = FramedRead::new(sock, BmpFrames::default());
    let mut station = Station::default();
    emit(&out, &json!({"type": "connected", "router": router}));
    flush(&out);
    while let Some(item) = frames.next().await {
        match item.map(bgp_bmp::decode) {
            Ok(Err(e)) => emit(
                &out,
                &json!({"type": "error", "router": router, "error": e.to_string()}),
            ),
            Ok(Ok(msg)) => match station.handle(msg) {
                Ok(ev) => {
                    if let Some(m) = &mrt {
                        log_mrt(m, &mut sessions, &ev);
                    }
                    emit(&out, &event_json(&router, ev))
                }
                Err(e) => emit(
                    &out,
                    &json!({"type": "error", "router": router, "error": e.to_string()}),
                ),
            },
            Err(e) => {
                // A framing error leaves the stream unsynchronised: end the session.
                emit(
                    &out,
                    &json!({"type": "error", "router": router, "error": e.to_string()}),
                );
                break;
            }
        }
        // Flush once the frames already buffered have been handled.
        if frames.read_buffer().is_empty() {
            flush(&out);
        }
    }
    emit(&out, &json!({"type": "disconnected", "router": router}));
    flush(&out);
}

fn emit(out: &Out, v: &Value) {
    let mut w = out.lock().unwrap_or_else(|e| e.into_inner());
    let _ = serde_json::to_writer(&mut *w, v);
    let _ = w.write_all(b"\n");
}

fn flush(out: &Out) {
    let _ = out.lock().unwrap_or_else(|e| e.into_inner()).flush();
}

fn peer_json(p: &PeerHeader) -> Value {
    let rib = match p.peer_type {
        PeerType::LocRib => "loc-rib",
        _ if p.is_adj_rib_out() => "adj-rib-out",
        _ => "adj-rib-in",
    };
    json!({
        "peer": p.address.to_string(),
        "peer_as": p.asn,
        "peer_bgp_id": p.bgp_id.to_string(),
        "peer_type": p.peer_type.code(),
        "distinguisher": p.distinguisher,
        "rib": rib,
        "post_policy": p.is_post_policy(),
        "timestamp": p.timestamp_secs as f64 + p.timestamp_micros as f64 / 1e6,
    })
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        b.extend(e);
    }
    base
}

fn event_json(router: &str, ev: Event) -> Value {
    match ev {
        Event::Initiated {
            sys_name,
            sys_descr,
            strings,
        } => json!({"type": "initiation", "router": router, "sys_name": sys_name,
                    "sys_descr": sys_descr, "strings": strings}),
        Event::Terminated { reason, strings } => {
            json!({"type": "termination", "router": router, "reason": reason, "strings": strings})
        }
        Event::PeerUp {
            peer,
            local_address,
            local_port,
            remote_port,
            sent_open,
            received_open,
        } => with(
            peer_json(&peer),
            json!({"type": "peer_up", "router": router,
                   "local_address": local_address.to_string(), "local_port": local_port,
                   "remote_port": remote_port, "sent_open": *sent_open,
                   "received_open": *received_open}),
        ),
        Event::PeerDown { peer, reason } => with(
            peer_json(&peer),
            json!({"type": "peer_down", "router": router, "reason": reason.code()}),
        ),
        Event::Route {
            peer,
            update,
            known_peer,
        } => {
            let bgp_wire::Message::Update(u) = &update.message else {
                return with(
                    peer_json(&peer),
                    json!({"type": "error", "router": router, "error": "not an UPDATE"}),
                );
            };
            let announce: Vec<Value> = u
                .announced()
                .map(|(af, n)| json!({"prefix": n.prefix.to_string(), "path_id": n.path_id, "afi": af.afi.code(), "safi": af.safi.code()}))
                .collect();
            let withdraw: Vec<Value> = u
                .withdrawn_routes()
                .map(|(af, n)| json!({"prefix": n.prefix.to_string(), "path_id": n.path_id, "afi": af.afi.code(), "safi": af.safi.code()}))
                .collect();
            let mut next_hops = Vec::new();
            let attrs: Vec<&PathAttribute> = u
                .attributes
                .iter()
                .filter(|a| match a {
                    PathAttribute::MpReachNlri(r) => {
                        next_hops.push(serde_json::to_value(&r.next_hop).unwrap_or(Value::Null));
                        false
                    }
                    PathAttribute::MpUnreachNlri(_) => false,
                    _ => true,
                })
                .collect();
            with(
                peer_json(&peer),
                json!({"type": "route", "router": router, "known_peer": known_peer,
                       "end_of_rib": u.end_of_rib().map(|af| json!({"afi": af.afi.code(), "safi": af.safi.code()})),
                       "announce": announce, "withdraw": withdraw, "mp_next_hops": next_hops,
                       "attributes": attrs, "verdict_clean": update.verdict.is_clean()}),
            )
        }
        Event::Stats { peer, stats } => {
            let s: Vec<Value> = stats
                .iter()
                .map(|s| match &s.value {
                    StatValue::Counter(v) => json!({"kind": s.kind, "value": v}),
                    StatValue::Gauge(v) => json!({"kind": s.kind, "value": v}),
                    StatValue::PerFamily(af, v) => json!({"kind": s.kind, "afi": af.afi.code(),
                                                          "safi": af.safi.code(), "value": v}),
                    StatValue::Raw(r) => json!({"kind": s.kind, "raw_len": r.len()}),
                })
                .collect();
            with(
                peer_json(&peer),
                json!({"type": "stats", "router": router, "stats": s}),
            )
        }
        Event::Mirror { peer, tlvs } => with(
            peer_json(&peer),
            json!({"type": "mirror", "router": router, "tlv_kinds": tlvs.iter().map(|t| t.kind).collect::<Vec<_>>()}),
        ),
    }
}
