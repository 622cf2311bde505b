//! BMP export for programs built on the bgp-fsm driver and bgp-rib (`collector --bmp`): turns
//! session events, received UPDATEs and Loc-RIB changes into BMP messages for a
//! [`bgp_bmp::Exporter`].
//!
//! What a station gets: Peer Up (our OPEN rebuilt from the session config, the peer's from the
//! negotiated capabilities), every received UPDATE as pre-policy Adj-RIB-In Route Monitoring
//! (re-encoded with the session's own context, so ADD-PATH and 4-octet AS read back as
//! received), Loc-RIB Route Monitoring (RFC 9069) for each best-path change, Peer Down with
//! the NOTIFICATION or the FSM reason, and Statistics Reports (routes per peer and family).
//! After each (re)connect of the station, [`BmpExport::resync`] sends the whole table again.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use bgp_bmp::message::{PeerUp, StatValue, stat};
use bgp_bmp::{Exporter, ExporterConfig, Message, PeerDownReason, PeerHeader, Stat};
use bgp_fsm::{DownReason, Negotiated, SessionConfig};
use bgp_rib::{Delta, PeerId, Rib};
use bgp_wire::message::Open;
use bgp_wire::{AfiSafi, Nlri, SessionContext, Update, UpdateBuilder};

use crate::advert::family_of;
use bytes::{Bytes, BytesMut};

struct PeerBmp {
    header: PeerHeader,
    /// The session's context with its send side set to what it receives: UPDATEs re-encoded
    /// under it read back at the station as they were received (path ids where ADD-PATH
    /// receive was negotiated).
    ctx: SessionContext,
}

/// A BMP export of one router: per-peer headers and contexts, and the exporter task.
pub struct BmpExport {
    ex: Exporter,
    /// Messages made by the synchronous methods, sent by [`BmpExport::flush`].
    pending: Vec<Message>,
    local_as: u32,
    router_id: Ipv4Addr,
    peers: HashMap<PeerId, PeerBmp>,
}

/// Seconds and microseconds since the Unix epoch (BMP and MRT timestamps).
pub(crate) fn unix_now() -> (u64, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs(), d.subsec_micros())
}

/// [`unix_now`] in BMP's per-peer header form (32-bit seconds).
fn now() -> (u32, u32) {
    let (s, us) = unix_now();
    (s as u32, us)
}

fn pdu(msg: &bgp_wire::Message, ctx: &SessionContext) -> Option<Bytes> {
    let mut b = BytesMut::new();
    bgp_wire::encode_message(msg, ctx, &mut b).ok()?;
    Some(b.freeze())
}

impl BmpExport {
    /// Starts an exporter towards `station` (on the current tokio runtime).
    pub fn new(station: SocketAddr, local_as: u32, router_id: Ipv4Addr, sys_name: &str) -> Self {
        let ex = Exporter::spawn(ExporterConfig::new(
            station,
            sys_name,
            concat!("kube-bgp ", env!("CARGO_PKG_VERSION")),
        ));
        // RFC 9069 §5.1: the Loc-RIB instance is announced with a Peer Up of its own (OPENs
        // fabricated from our AS and identifier, the table's name as a TLV) before its routes.
        // The exporter keeps it and repeats it after every reconnect.
        let open = Open {
            version: 4,
            my_as: Open::my_as_field(local_as),
            hold_time: 0,
            bgp_id: router_id,
            capabilities: vec![bgp_wire::Capability::FourOctetAs(local_as)],
            other_params: Vec::new(),
        };
        if let Some(o) = pdu(&bgp_wire::Message::Open(open), &SessionContext::default()) {
            let unspecified = std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED);
            ex.try_send(Message::PeerUp {
                peer: PeerHeader::loc_rib(local_as, router_id),
                up: Box::new(PeerUp {
                    local_address: unspecified,
                    local_port: 0,
                    remote_port: 0,
                    sent_open: o.clone(),
                    received_open: o,
                    information: vec![bgp_bmp::Tlv::string(
                        bgp_bmp::message::tlv::VRF_TABLE_NAME,
                        "global",
                    )],
                }),
            });
        }
        BmpExport {
            ex,
            pending: Vec::new(),
            local_as,
            router_id,
            peers: HashMap::new(),
        }
    }

    /// The exporter (counters, resync signal).
    pub fn exporter(&self) -> &Exporter {
        &self.ex
    }

    /// A session came up (queued; see [`BmpExport::flush`]): `sent` is our session config (our OPEN is rebuilt from it), `n` what
    /// was negotiated, `local`/`remote` the TCP endpoints.
    pub fn peer_up(
        &mut self,
        id: PeerId,
        sent: &SessionConfig,
        n: &Negotiated,
        local: SocketAddr,
        remote: SocketAddr,
    ) {
        let (s, us) = now();
        let header = PeerHeader::new(remote.ip(), n.peer_as, n.peer_router_id).at(s, us);
        let ours = bgp_fsm::build_open(sent);
        // The peer's OPEN as received is not kept by the driver; its capabilities, AS and
        // identifier are, and the hold time reported is the negotiated one.
        let theirs = Open {
            version: 4,
            my_as: Open::my_as_field(n.peer_as),
            hold_time: n.hold_time,
            bgp_id: n.peer_router_id,
            capabilities: n.peer_capabilities.clone(),
            other_params: Vec::new(),
        };
        let plain = SessionContext::default();
        let (Some(sent_open), Some(received_open)) = (
            pdu(&bgp_wire::Message::Open(ours), &plain),
            pdu(&bgp_wire::Message::Open(theirs), &plain),
        ) else {
            return;
        };
        self.peers.insert(
            id,
            PeerBmp {
                header: header.clone(),
                ctx: SessionContext {
                    add_path_send: n.context.add_path_receive.clone(),
                    ..n.context.clone()
                },
            },
        );
        self.pending.push(Message::PeerUp {
            peer: header,
            up: Box::new(PeerUp {
                local_address: local.ip(),
                local_port: local.port(),
                remote_port: remote.port(),
                sent_open,
                received_open,
                information: Vec::new(),
            }),
        });
    }

    /// A session went down.
    pub fn peer_down(&mut self, id: PeerId, reason: &DownReason) {
        let Some(p) = self.peers.remove(&id) else {
            return;
        };
        let plain = SessionContext::default();
        let notif =
            |n: &bgp_wire::Notification| pdu(&bgp_wire::Message::Notification(n.clone()), &plain);
        let reason = match reason {
            DownReason::ManualStop(n)
            | DownReason::AutomaticStop(n)
            | DownReason::NotificationSent(n) => notif(n)
                .map(PeerDownReason::LocalNotification)
                .unwrap_or(PeerDownReason::LocalNoNotification(0)),
            DownReason::NotificationReceived(n) => notif(n)
                .map(PeerDownReason::RemoteNotification)
                .unwrap_or(PeerDownReason::RemoteNoData),
            // FSM event numbers of RFC 4271 §8.1: 10 HoldTimer_Expires (we sent 4/0, but the
            // driver reports no NOTIFICATION value for it), 18 TcpConnectionFails.
            DownReason::HoldTimerExpired => PeerDownReason::LocalNoNotification(10),
            DownReason::ConnectionFailed => PeerDownReason::RemoteNoData,
            DownReason::CollisionResolution => PeerDownReason::LocalNoNotification(23),
            DownReason::UnexpectedEvent(e) => PeerDownReason::LocalNoNotification(*e as u16),
        };
        let (s, us) = now();
        self.pending.push(Message::PeerDown {
            peer: p.header.at(s, us),
            reason,
        });
    }

    /// An UPDATE received from a peer: pre-policy Adj-RIB-In Route Monitoring.
    pub fn pre_policy(&mut self, id: PeerId, update: &Update) {
        let Some(p) = self.peers.get(&id) else {
            return;
        };
        let Some(b) = pdu(&bgp_wire::Message::Update(update.clone()), &p.ctx) else {
            return;
        };
        let (s, us) = now();
        self.pending.push(Message::RouteMonitoring {
            peer: p.header.clone().at(s, us),
            update: b,
        });
    }

    /// Loc-RIB Route Monitoring (RFC 9069) for these best-path changes.
    pub fn loc_rib(&mut self, rib: &Rib, deltas: &[Delta]) {
        let prefixes: Vec<_> = deltas.iter().map(|d| d.prefix).collect();
        self.send_loc_rib(rib, &prefixes);
    }

    fn send_loc_rib(&mut self, rib: &Rib, prefixes: &[ipnet::IpNet]) {
        let ctx = SessionContext {
            extended_message: true,
            ..SessionContext::modern()
        };
        let (s, us) = now();
        let header = PeerHeader::loc_rib(self.local_as, self.router_id).at(s, us);
        for p in prefixes {
            let af = family_of(p);
            let builder = match rib.route(*p) {
                Some(r) => UpdateBuilder::new(&ctx)
                    .attributes(r.best.attrs.to_wire())
                    .announce(af, [Nlri::new(*p)]),
                None => UpdateBuilder::new(&ctx).withdraw(af, [Nlri::new(*p)]),
            };
            for u in builder.build().unwrap_or_default() {
                if let Some(b) = pdu(&bgp_wire::Message::Update(u), &ctx) {
                    self.pending.push(Message::RouteMonitoring {
                        peer: header.clone(),
                        update: b,
                    });
                }
            }
        }
    }

    /// A Statistics Report per up peer: routes held in its Adj-RIB-In, in total and per family.
    pub fn stats(&mut self, rib: &Rib) {
        let (s, us) = now();
        for (id, p) in &self.peers {
            let v4 = rib.peer_path_count(*id, AfiSafi::IPV4_UNICAST) as u64;
            let v6 = rib.peer_path_count(*id, AfiSafi::IPV6_UNICAST) as u64;
            self.pending.push(Message::StatisticsReport {
                peer: p.header.clone().at(s, us),
                stats: vec![
                    Stat {
                        kind: stat::ADJ_RIB_IN_ROUTES,
                        value: StatValue::Gauge(v4 + v6),
                    },
                    Stat {
                        kind: stat::ADJ_RIB_IN_PER_FAMILY,
                        value: StatValue::PerFamily(AfiSafi::IPV4_UNICAST, v4),
                    },
                    Stat {
                        kind: stat::ADJ_RIB_IN_PER_FAMILY,
                        value: StatValue::PerFamily(AfiSafi::IPV6_UNICAST, v6),
                    },
                ],
            });
        }
    }

    /// Sends what the event methods queued, waiting while a connected station is slow.
    pub async fn flush(&mut self) {
        for m in std::mem::take(&mut self.pending) {
            self.ex.send(m).await;
        }
    }

    /// The whole table again, after the station (re)connected: each up peer's paths as
    /// Adj-RIB-In Route Monitoring (the RIB keeps them after import policy; with no import
    /// policy, as the collector runs, that is what was received) and the Loc-RIB.
    pub async fn resync(&mut self, rib: &Rib) {
        self.flush().await;
        let best = rib.best_prefixes();
        let (s, us) = now();
        for p in &best {
            for path in rib.paths(*p) {
                let Some(peer) = self.peers.get(&path.peer) else {
                    continue;
                };
                let af = family_of(p);
                let mut n = Nlri::new(*p);
                if peer.ctx.sends_path_id(af) {
                    n.path_id = Some(path.path_id);
                }
                let us_ = UpdateBuilder::new(&peer.ctx)
                    .attributes(path.attrs.to_wire())
                    .announce(af, [n])
                    .build()
                    .unwrap_or_default();
                for u in us_ {
                    if let Some(b) = pdu(&bgp_wire::Message::Update(u), &peer.ctx) {
                        self.pending.push(Message::RouteMonitoring {
                            peer: peer.header.clone().at(s, us),
                            update: b,
                        });
                    }
                }
            }
            // Bounded memory for a large table: send in batches as they fill.
            if self.pending.len() >= 1024 {
                self.flush().await;
            }
        }
        for chunk in best.chunks(1024) {
            self.send_loc_rib(rib, chunk);
            self.flush().await;
        }
    }
}
