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

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bgp_bmp::{BmpFrames, Event, PeerHeader, PeerType, StatValue, Station};
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
}

type Out = Arc<Mutex<std::io::BufWriter<std::io::Stdout>>>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(args.listen).await?;
    let out: Out = Arc::new(Mutex::new(std::io::BufWriter::new(std::io::stdout())));
    emit(
        &out,
        &json!({"type": "listening", "address": args.listen.to_string()}),
    );
    flush(&out);
    loop {
        let (sock, router) = listener.accept().await?;
        let out = out.clone();
        tokio::spawn(async move { session(sock, router, out).await });
    }
}

async fn session(sock: tokio::net::TcpStream, router: SocketAddr, out: Out) {
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
                Ok(ev) => emit(&out, &event_json(&router, ev)),
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
