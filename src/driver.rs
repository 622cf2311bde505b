//! The production [`SessionBackend`]: sessions run by the bgp-fsm tokio driver over TCP,
//! sharing one listening socket.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bgp_fsm::GracefulRestartConfig;
use bgp_fsm::driver::{Listener, PeerConfig, PeerEvent, PeerHandle, spawn_peer};
use bgp_fsm::fsm::DownReason;
use bgp_wire::message::{GracefulRestartFamily, RouteRefreshSubtype};
use bgp_wire::{Afi, AfiSafi, Update};
use tokio::sync::mpsc;

use crate::config::route_source;
use crate::session::{
    PeerSettings, SessionBackend, SessionControl, SessionError, SessionEvent, SessionInfo,
    SessionIo, notification_text,
};

/// Sessions over TCP run by bgp-fsm, sharing one listener.
#[derive(Debug)]
pub struct FsmBackend {
    listener: Option<Listener>,
    /// The BFD driver, started with the first peer that asks for BFD (at start or on a
    /// reload) unless given with [`with_bfd`](Self::with_bfd).
    bfd: Arc<std::sync::Mutex<Option<bgp_bfd::driver::Bfd>>>,
}

impl FsmBackend {
    /// A backend that also accepts connections on `listen` (None: only connect out).
    pub async fn new(listen: Option<SocketAddr>) -> std::io::Result<Self> {
        let listener = match listen {
            Some(a) => Some(Listener::bind(a).await?),
            None => None,
        };
        Ok(FsmBackend {
            listener,
            bfd: Arc::new(std::sync::Mutex::new(None)),
        })
    }

    /// Run BFD through this driver for the peers whose settings ask for it.
    pub fn with_bfd(self, bfd: bgp_bfd::driver::Bfd) -> Self {
        *self.bfd.lock().unwrap_or_else(|e| e.into_inner()) = Some(bfd);
        self
    }

    /// Where peers get the BFD driver: the one given or started so far, or one started
    /// now (None if its sockets cannot be opened; tried again by the next peer).
    fn bfd_source(&self) -> crate::bfd::DriverSource {
        let slot = self.bfd.clone();
        Arc::new(move || {
            let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_none() {
                match crate::bfd::start_driver() {
                    Ok(b) => *slot = Some(b),
                    Err(e) => tracing::warn!("cannot start BFD (UDP 3784): {e}"),
                }
            }
            slot.clone()
        })
    }

    /// The bound listening address, if listening.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().map(Listener::local_addr)
    }
}

/// The driver's configuration for these settings.
pub fn peer_config(s: &PeerSettings) -> PeerConfig {
    let mut c = PeerConfig::new(s.local_as, s.peer_as, s.router_id, s.address);
    c.peer_port = s.port;
    c.local_addr = s.source_address;
    c.hold_time = s.hold_time;
    c.keepalive = Some(s.keepalive);
    c.connect_retry = s.connect_retry;
    c.idle_hold = Some(s.connect_retry.min(std::time::Duration::from_secs(1)));
    c.passive = s.passive;
    c.md5_password = s.password.clone();
    c.ttl = s.ttl;
    c.families = s.families.clone();
    if s.extended_next_hop {
        c.extended_next_hop = vec![(AfiSafi::IPV4_UNICAST, Afi::Ipv6)];
    }
    if let Some(t) = s.graceful_restart {
        // The routes we announce stay valid while we restart: the service keeps running on
        // the node whatever happens to this process, so the forwarding state is preserved.
        c.graceful_restart = Some(GracefulRestartConfig {
            restart_time: t,
            restart_state: false,
            notification: false,
            families: s
                .families
                .iter()
                .map(|af| GracefulRestartFamily {
                    af: *af,
                    forwarding_preserved: true,
                })
                .collect(),
        });
    }
    c
}

fn down_text(r: &DownReason) -> String {
    match r {
        DownReason::ManualStop(n) => format!("stopped by us: {}", notification_text(n)),
        DownReason::AutomaticStop(n) => format!("automatic stop: {}", notification_text(n)),
        DownReason::HoldTimerExpired => "hold timer expired".into(),
        DownReason::ConnectionFailed => "connection failed or closed by the peer".into(),
        DownReason::NotificationReceived(n) => format!("peer sent {}", notification_text(n)),
        DownReason::NotificationSent(n) => format!("we sent {}", notification_text(n)),
        DownReason::CollisionResolution => "connection collision resolution (6/7)".into(),
        DownReason::UnexpectedEvent(e) => format!("unexpected FSM event {e}"),
    }
}

enum Cmd {
    Update(u64, Box<Update>),
    Shutdown(Option<String>),
    Bfd(Option<crate::bfd::BfdSettings>),
}

/// The BFD task of one peer: started when BFD is first wanted, then told each change;
/// it ends with the peer (when this is dropped).
struct PeerBfd {
    source: crate::bfd::DriverSource,
    peer: IpAddr,
    local: Option<IpAddr>,
    bgp: PeerHandle,
    /// Dropping it ends the task (and removes its session).
    task: Option<mpsc::UnboundedSender<Option<crate::bfd::BfdSettings>>>,
}

impl PeerBfd {
    fn set(&mut self, want: Option<crate::bfd::BfdSettings>) {
        if self.task.is_none() {
            if want.is_none() {
                return;
            }
            let (tx, rx) = mpsc::unbounded_channel();
            crate::bfd::spawn_for_peer(
                self.source.clone(),
                self.peer,
                self.local,
                self.bgp.clone(),
                rx,
            );
            self.task = Some(tx);
        }
        if let Some(tx) = &self.task {
            let _ = tx.send(want);
        }
    }
}

/// Session generation: odd while Established. An UPDATE is sent only in the generation it
/// was queued in, so nothing queued for a dead session leaks into the next one.
struct Ctl {
    cmds: mpsc::UnboundedSender<Cmd>,
    generation: Arc<AtomicU64>,
}

impl SessionControl for Ctl {
    fn send_update(&self, update: Update) -> Result<(), SessionError> {
        let g = self.generation.load(Ordering::SeqCst);
        self.cmds
            .send(Cmd::Update(g, Box::new(update)))
            .map_err(|_| SessionError::Closed)
    }
    fn shutdown(&self, message: Option<String>) {
        let _ = self.cmds.send(Cmd::Shutdown(message));
    }
    fn set_bfd(&self, bfd: Option<crate::bfd::BfdSettings>) -> bool {
        self.cmds.send(Cmd::Bfd(bfd)).is_ok()
    }
}

impl SessionBackend for FsmBackend {
    fn start(&self, settings: &PeerSettings) -> Result<SessionIo, SessionError> {
        let handle: PeerHandle = spawn_peer(peer_config(settings), self.listener.as_ref());
        // BFD beside the session, for as long as the peer exists (see crate::bfd); started
        // with the first settings that ask for it, here or on a reload.
        let mut bfd = PeerBfd {
            source: self.bfd_source(),
            peer: settings.address,
            local: settings.source_address,
            bgp: handle.clone(),
            task: None,
        };
        bfd.set(settings.bfd.clone());
        let mut events = handle
            .take_events()
            .ok_or_else(|| SessionError::Start("driver events already taken".into()))?;
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel::<Cmd>();
        let generation = Arc::new(AtomicU64::new(0));
        let s = settings.clone();

        // Events: drain the driver's bounded channel at once (it stops reading from the
        // peer while full), translated.
        let gen_ev = generation.clone();
        let conn = handle.clone();
        tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                let out = match ev {
                    PeerEvent::StateChanged { from, to } => SessionEvent::StateChanged {
                        from: from.to_string(),
                        to: to.to_string(),
                    },
                    PeerEvent::Established(n) => {
                        gen_ev.fetch_add(1, Ordering::SeqCst);
                        let local_addr: Option<IpAddr> = s
                            .source_address
                            .or_else(|| {
                                conn.connection()
                                    .map(|(local, _)| local.ip().to_canonical())
                            })
                            .or_else(|| route_source(s.address));
                        SessionEvent::Established(SessionInfo {
                            local_as: s.local_as,
                            peer_as: n.peer_as,
                            local_addr,
                            families: n.families.clone(),
                            extended_next_hop: n
                                .extended_next_hop
                                .iter()
                                .filter(|(_, nh)| *nh == Afi::Ipv6)
                                .map(|(af, _)| *af)
                                .collect(),
                            max_message_len: n.context.max_message_len(),
                            peer_router_id: n.peer_router_id,
                            four_octet_as: n.context.four_octet_as,
                        })
                    }
                    PeerEvent::Down { reason } => {
                        gen_ev.fetch_add(1, Ordering::SeqCst);
                        SessionEvent::Down {
                            reason: down_text(&reason),
                        }
                    }
                    PeerEvent::Update { update, verdict } => SessionEvent::Update(update, verdict),
                    PeerEvent::NotificationSent(n) => SessionEvent::NotificationSent(n),
                    PeerEvent::NotificationReceived(n) => SessionEvent::NotificationReceived(n),
                    PeerEvent::RouteRefresh(rr) => match rr.subtype {
                        RouteRefreshSubtype::Request => SessionEvent::RouteRefresh(rr.af),
                        _ => continue,
                    },
                };
                if ev_tx.send(out).is_err() {
                    // Nobody listens any more; keep draining so the driver never stalls.
                    continue;
                }
            }
        });

        // Commands, in order.
        let gen_cmd = generation.clone();
        let peer = settings.address;
        tokio::spawn(async move {
            // Dropped when this task ends: the BFD session goes with the peer.
            let mut bfd = bfd;
            while let Some(cmd) = cmd_rx.recv().await {
                match cmd {
                    Cmd::Bfd(want) => bfd.set(want),
                    Cmd::Update(g, u) => {
                        if g % 2 == 1
                            && g == gen_cmd.load(Ordering::SeqCst)
                            && let Err(e) = handle.send_update(*u).await
                        {
                            tracing::debug!("peer {peer}: update not sent: {e}");
                        }
                    }
                    Cmd::Shutdown(msg) => {
                        if let Err(e) = handle.clone().shutdown(msg).await {
                            tracing::debug!("peer {peer}: shutdown: {e}");
                        }
                        return;
                    }
                }
            }
            // Every control handle dropped: stop the peer.
            let _ = handle.shutdown(None).await;
        });

        Ok(SessionIo {
            events: ev_rx,
            control: Box::new(Ctl {
                cmds: cmd_tx,
                generation,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn settings_map_to_driver_config() {
        let mut s = PeerSettings::new(
            "fd00::1".parse().unwrap(),
            64512,
            65000,
            "10.0.0.1".parse().unwrap(),
        );
        s.password = Some("pw".into());
        s.hold_time = 9;
        s.keepalive = 3;
        s.port = 1790;
        let c = peer_config(&s);
        assert_eq!(c.md5_password.as_deref(), Some("pw"));
        assert_eq!(c.hold_time, 9);
        assert_eq!(c.keepalive, Some(3));
        assert_eq!(c.peer_port, 1790);
        assert_eq!(
            c.extended_next_hop,
            vec![(AfiSafi::IPV4_UNICAST, Afi::Ipv6)]
        );
        assert_eq!(c.families, s.families);
        assert_eq!(c.connect_retry, Duration::from_secs(5));
    }
}
