//! Streaming a router's view to a BMP station over TCP (feature `tokio`).
//!
//! The router hands messages to an [`Exporter`]; a task connects to the station, sends the
//! Initiation, then the messages in order. The exporter remembers which peers are up (their
//! Peer Up messages): after a reconnect it sends Initiation and those Peer Ups again and bumps
//! the [`Exporter::resyncs`] counter, on which the router re-sends its routes (RFC 7854 §5:
//! a station learns the tables through an initial dump after each connect).
//!
//! Flow control: [`Exporter::send`] waits while the connected station reads slower than the
//! router produces (the queue is bounded), so a slow station slows the router instead of
//! growing memory. While no station is connected, route messages are discarded and counted
//! (the resync after the connect replaces them), so a dead station never stalls the router.
//! [`Exporter::try_send`] never waits: when the queue is full it drops the message, counts it,
//! and forces a reconnect so the station gets a consistent table again.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures::SinkExt;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_util::codec::FramedWrite;

use crate::codec::BmpCodec;
use crate::message::{Message, PeerKey, Tlv, tlv};

/// Settings of an [`Exporter`].
#[derive(Debug, Clone)]
pub struct ExporterConfig {
    /// The station's address.
    pub station: SocketAddr,
    /// sysName sent in the Initiation.
    pub sys_name: String,
    /// sysDescr sent in the Initiation.
    pub sys_descr: String,
    /// Messages queued between the router and the socket.
    pub queue: usize,
    /// First reconnect delay; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest reconnect delay.
    pub max_backoff: Duration,
}

impl ExporterConfig {
    /// Defaults: queue of 4,096 messages, reconnect after 1 s doubling up to 30 s.
    pub fn new(station: SocketAddr, sys_name: &str, sys_descr: &str) -> Self {
        ExporterConfig {
            station,
            sys_name: sys_name.to_string(),
            sys_descr: sys_descr.to_string(),
            queue: 4096,
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    connected: AtomicBool,
    dropped: AtomicU64,
    discarded: AtomicU64,
    sent: AtomicU64,
    force_reconnect: AtomicBool,
}

/// Counters of an exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExporterStats {
    /// A station is connected now.
    pub connected: bool,
    /// Messages written to a station.
    pub sent: u64,
    /// Messages [`Exporter::try_send`] dropped because the queue was full.
    pub dropped: u64,
    /// Route messages discarded while no station was connected.
    pub discarded: u64,
}

/// The router's side of a BMP export: cheap to clone, one task per exporter.
#[derive(Debug, Clone)]
pub struct Exporter {
    tx: mpsc::Sender<Message>,
    shared: Arc<Shared>,
    resyncs: watch::Receiver<u64>,
}

impl Exporter {
    /// Starts the exporter task on the current tokio runtime. It ends, after sending a
    /// Termination, when every clone of the returned handle is dropped.
    pub fn spawn(cfg: ExporterConfig) -> Exporter {
        let (tx, rx) = mpsc::channel(cfg.queue.max(1));
        let (rtx, resyncs) = watch::channel(0);
        let shared = Arc::new(Shared::default());
        tokio::spawn(run(cfg, rx, shared.clone(), rtx));
        Exporter {
            tx,
            shared,
            resyncs,
        }
    }

    /// Queues a message, waiting while the queue is full.
    pub async fn send(&self, msg: Message) {
        let _ = self.tx.send(msg).await;
    }

    /// Queues a message without waiting. When the queue is full the message is dropped and
    /// the session to the station is restarted (so that it gets a consistent table); false
    /// then.
    pub fn try_send(&self, msg: Message) -> bool {
        match self.tx.try_send(msg) {
            Ok(()) => true,
            Err(_) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                self.shared.force_reconnect.store(true, Ordering::Relaxed);
                false
            }
        }
    }

    /// A receiver of the number of (re)connects to the station so far: when it changes, the
    /// router should send its routes again (Route Monitoring for every route it reports).
    pub fn resyncs(&self) -> watch::Receiver<u64> {
        self.resyncs.clone()
    }

    /// The counters.
    pub fn stats(&self) -> ExporterStats {
        ExporterStats {
            connected: self.shared.connected.load(Ordering::Relaxed),
            sent: self.shared.sent.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            discarded: self.shared.discarded.load(Ordering::Relaxed),
        }
    }
}

/// The up peers' Peer Up messages, in the order they came up.
#[derive(Default)]
struct UpPeers {
    order: Vec<PeerKey>,
    msgs: HashMap<PeerKey, Message>,
}

impl UpPeers {
    fn track(&mut self, m: &Message) {
        match m {
            Message::PeerUp { peer, .. } => {
                let k = peer.key();
                if self.msgs.insert(k, m.clone()).is_none() {
                    self.order.push(k);
                }
            }
            Message::PeerDown { peer, .. } => {
                let k = peer.key();
                if self.msgs.remove(&k).is_some() {
                    self.order.retain(|x| *x != k);
                }
            }
            _ => {}
        }
    }
}

async fn run(
    cfg: ExporterConfig,
    mut rx: mpsc::Receiver<Message>,
    shared: Arc<Shared>,
    resyncs: watch::Sender<u64>,
) {
    let mut up = UpPeers::default();
    let mut backoff = cfg.min_backoff;
    let initiation = Message::initiation(&cfg.sys_name, &cfg.sys_descr);
    loop {
        // Not connected: try to connect, discarding (but tracking) what arrives meanwhile.
        let connect = TcpStream::connect(cfg.station);
        tokio::pin!(connect);
        let sock = loop {
            tokio::select! {
                c = &mut connect => break c,
                m = rx.recv() => match m {
                    Some(m) => discard(&mut up, &m, &shared),
                    None => return,
                },
            }
        };
        let sock = match sock {
            Ok(s) => s,
            Err(_) => {
                let sleep = tokio::time::sleep(backoff);
                tokio::pin!(sleep);
                loop {
                    tokio::select! {
                        _ = &mut sleep => break,
                        m = rx.recv() => match m {
                            Some(m) => discard(&mut up, &m, &shared),
                            None => return,
                        },
                    }
                }
                backoff = (backoff * 2).min(cfg.max_backoff);
                continue;
            }
        };
        let _ = sock.set_nodelay(true);
        backoff = cfg.min_backoff;
        // A station sends nothing (RFC 7854 §3.3); reading tells at once when it goes away,
        // instead of at a later write.
        let (mut rd, wr) = sock.into_split();
        let mut out = FramedWrite::new(wr, BmpCodec::default());
        shared.force_reconnect.store(false, Ordering::Relaxed);
        let mut ok = out.feed(&initiation).await.is_ok();
        for k in &up.order {
            if let Some(m) = up.msgs.get(k) {
                ok = ok && out.feed(m).await.is_ok();
            }
        }
        ok = ok && SinkExt::<&Message>::flush(&mut out).await.is_ok();
        if !ok {
            continue;
        }
        shared.connected.store(true, Ordering::Relaxed);
        resyncs.send_modify(|n| *n += 1);
        let mut scratch = [0u8; 512];
        loop {
            let m = tokio::select! {
                m = rx.recv() => m,
                r = rd.read(&mut scratch) => match r {
                    Ok(n) if n > 0 => continue,
                    _ => break,
                },
            };
            let Some(m) = m else {
                let _ = out
                    .send(&Message::Termination(vec![
                        Tlv::string(tlv::STRING, "exporter stopped"),
                        Tlv {
                            kind: tlv::TERMINATION_REASON,
                            value: bytes::Bytes::from_static(&[0, 0]),
                        },
                    ]))
                    .await;
                shared.connected.store(false, Ordering::Relaxed);
                return;
            };
            up.track(&m);
            if out.feed(&m).await.is_err() {
                break;
            }
            shared.sent.fetch_add(1, Ordering::Relaxed);
            // Flush when nothing else is waiting: batches under load, low latency when idle.
            if rx.is_empty() && SinkExt::<&Message>::flush(&mut out).await.is_err() {
                break;
            }
            if shared.force_reconnect.load(Ordering::Relaxed) {
                break;
            }
        }
        shared.connected.store(false, Ordering::Relaxed);
    }
}

fn discard(up: &mut UpPeers, m: &Message, shared: &Shared) {
    up.track(m);
    if matches!(m, Message::RouteMonitoring { .. }) {
        shared.discarded.fetch_add(1, Ordering::Relaxed);
    }
}
