//! Monitoring outputs of the router: BMP to a station (`--bmp`, [`crate::bmp::BmpExport`])
//! and MRT files (`--mrt-dump`, [`bgp_mrt::dump::MrtDump`]: periodic TABLE_DUMP_V2 snapshots
//! and a BGP4MP update log). The router calls these hooks from its event loop; both are off
//! unless configured.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use bgp_fsm::SessionConfig;
use bgp_fsm::driver::PeerEvent;
use bgp_mrt::dump::MrtDump;
use bgp_rib::{Delta, PeerId, Rib};
use tokio::sync::watch;

use crate::bmp::BmpExport;

/// Where to send BMP and write MRT.
#[derive(Debug, Clone, Default)]
pub struct MonitorConfig {
    /// A BMP station to stream to.
    pub bmp: Option<SocketAddr>,
    /// Seconds between BMP Statistics Reports.
    pub bmp_stats_interval: u64,
    /// A directory for MRT snapshots and the update log.
    pub mrt_dump: Option<PathBuf>,
    /// Seconds between MRT snapshots.
    pub mrt_interval: u64,
}

/// The running BMP export and MRT dump of one router.
pub(super) struct Monitors {
    pub(super) bmp: Option<BmpExport>,
    pub(super) bmp_resyncs: Option<watch::Receiver<u64>>,
    mrt: Option<MrtDump>,
    local_as: u32,
    /// Each neighbour's session config: BMP's Peer Up carries the OPEN it produces.
    sessions: HashMap<PeerId, SessionConfig>,
    /// Our address on each Established session, taken when it came up (MRT records).
    local_addrs: HashMap<PeerId, IpAddr>,
}

impl Monitors {
    /// Starts what `cfg` asks for (the BMP exporter needs a tokio runtime).
    pub(super) fn start(
        cfg: &MonitorConfig,
        local_as: u32,
        router_id: Ipv4Addr,
    ) -> std::io::Result<Self> {
        let bmp = cfg
            .bmp
            .map(|s| BmpExport::new(s, local_as, router_id, &router_id.to_string()));
        let bmp_resyncs = bmp.as_ref().map(|b| b.exporter().resyncs());
        let mrt = match &cfg.mrt_dump {
            Some(d) => Some(MrtDump::new(d, cfg.mrt_interval)?),
            None => None,
        };
        Ok(Monitors {
            bmp,
            bmp_resyncs,
            mrt,
            local_as,
            sessions: HashMap::new(),
            local_addrs: HashMap::new(),
        })
    }

    /// Remembers a neighbour's session config.
    pub(super) fn add_session(&mut self, id: PeerId, sc: SessionConfig) {
        self.sessions.insert(id, sc);
    }

    /// A neighbour's event: BMP Peer Up / Peer Down / pre-policy Route Monitoring (queued) and
    /// the MRT update log. `conn` gives the session's (local, remote) addresses; it is asked
    /// only when a session comes up, and only if a monitor is configured.
    pub(super) fn event(
        &mut self,
        rib: &Rib,
        id: PeerId,
        ev: &PeerEvent,
        conn: impl FnOnce() -> Option<(SocketAddr, SocketAddr)>,
    ) {
        if self.bmp.is_none() && self.mrt.is_none() {
            return;
        }
        let conn = match ev {
            PeerEvent::Established(_) => {
                let c = conn();
                match c {
                    Some((local, _)) => self.local_addrs.insert(id, local.ip()),
                    None => self.local_addrs.remove(&id),
                };
                c
            }
            _ => None,
        };
        if let Some(b) = self.bmp.as_mut() {
            match ev {
                PeerEvent::Established(n) => {
                    if let (Some(sc), Some((local, remote))) = (self.sessions.get(&id), conn) {
                        b.peer_up(id, sc, n, local, remote);
                    }
                }
                PeerEvent::Down { reason } => b.peer_down(id, reason),
                PeerEvent::Update { update, .. } => b.pre_policy(id, update),
                _ => {}
            }
        }
        if let Some(m) = self.mrt.as_mut() {
            use bgp_mrt::writer::{SessionId, state};
            let Some(info) = rib.peer_info(id) else {
                return;
            };
            let local_addr = self
                .local_addrs
                .get(&id)
                .copied()
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            let s = SessionId {
                peer_as: info.asn,
                local_as: self.local_as,
                peer_addr: info.addr,
                local_addr,
            };
            let (secs, us) = crate::bmp::unix_now();
            let r = match ev {
                PeerEvent::Established(_) => {
                    m.state_change(secs, us, &s, state::OPEN_CONFIRM, state::ESTABLISHED)
                }
                PeerEvent::Down { .. } => {
                    m.state_change(secs, us, &s, state::ESTABLISHED, state::IDLE)
                }
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
    }

    /// Loc-RIB changes (BMP, queued).
    pub(super) fn deltas(&mut self, rib: &Rib, deltas: &[Delta]) {
        if let Some(b) = self.bmp.as_mut() {
            b.loc_rib(rib, deltas);
        }
    }

    /// Sends what BMP queued, waiting while a connected station is slow.
    pub(super) async fn flush(&mut self) {
        if let Some(b) = self.bmp.as_mut() {
            b.flush().await;
        }
    }

    /// Once a second: an MRT snapshot when due. The JSON line to print, if one was written.
    pub(super) fn tick(&mut self, rib: &Rib) -> Option<String> {
        let m = self.mrt.as_mut()?;
        match m.tick(crate::bmp::unix_now().0, rib) {
            Ok(Some((path, st))) => Some(format!(
                "{{\"type\":\"mrt\",\"file\":{:?},\"peers\":{},\"prefixes\":{},\"entries\":{}}}",
                path.display().to_string(),
                st.peers,
                st.prefixes,
                st.entries
            )),
            Ok(None) => None,
            Err(e) => {
                eprintln!("mrt: {e}");
                None
            }
        }
    }

    /// Flushes the MRT files (at exit).
    pub(super) fn close(&mut self) {
        if let Some(m) = self.mrt.as_mut() {
            let _ = m.flush();
        }
    }
}
