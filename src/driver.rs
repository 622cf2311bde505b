//! The production [`SessionBackend`]: sessions run by the bgp-fsm tokio driver over TCP,
//! sharing one listening socket.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bgp_fsm::driver::{Listener, PeerConfig, PeerEvent, PeerHandle, spawn_peer};
use bgp_fsm::fsm::DownReason;
use bgp_wire::message::RouteRefreshSubtype;
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
}

impl FsmBackend {
    /// A backend that also accepts connections on `listen` (None: only connect out).
    pub async fn new(listen: Option<SocketAddr>) -> std::io::Result<Self> {
        let listener = match listen {
            Some(a) => Some(Listener::bind(a).await?),
            None => None,
        };
        Ok(FsmBackend { listener })
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

/// Parse one address field of /proc/net/tcp{,6}: hex address in host-order 32-bit words,
/// a colon, the port in hex.
fn parse_proc_addr(field: &str) -> Option<(IpAddr, u16)> {
    let (a, p) = field.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    let words: Option<Vec<u32>> = (0..a.len() / 8)
        .map(|i| {
            a.get(i * 8..i * 8 + 8)
                .and_then(|w| u32::from_str_radix(w, 16).ok())
        })
        .collect();
    let words = words?;
    let ip = match words.as_slice() {
        [w] => IpAddr::V4(std::net::Ipv4Addr::from(w.to_le_bytes())),
        [a, b, c, d] => {
            let mut o = [0u8; 16];
            for (i, w) in [a, b, c, d].iter().enumerate() {
                o[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
            }
            let v6 = std::net::Ipv6Addr::from(o);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some((ip, port))
}

/// The local address of the established TCP connection with `peer`, from the kernel's
/// socket table of this network namespace (the driver does not report it). Prefers our
/// outgoing connection (remote port `peer_port`), else one the peer opened to us.
pub fn tcp_local_addr(peer: IpAddr, peer_port: u16) -> Option<IpAddr> {
    let mut incoming = None;
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1).take(100_000) {
            let mut f = line.split_whitespace();
            let (Some(_), Some(local), Some(remote), Some(state)) =
                (f.next(), f.next(), f.next(), f.next())
            else {
                continue;
            };
            if state != "01" {
                continue;
            }
            let (Some((lip, _)), Some((rip, rport))) =
                (parse_proc_addr(local), parse_proc_addr(remote))
            else {
                continue;
            };
            if rip != peer {
                continue;
            }
            if rport == peer_port {
                return Some(lip);
            }
            incoming.get_or_insert(lip);
        }
    }
    incoming
}

enum Cmd {
    Update(u64, Box<Update>),
    Shutdown(Option<String>),
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
}

impl SessionBackend for FsmBackend {
    fn start(&self, settings: &PeerSettings) -> Result<SessionIo, SessionError> {
        let handle: PeerHandle = spawn_peer(peer_config(settings), self.listener.as_ref());
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
                            .or_else(|| tcp_local_addr(s.address, s.port))
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
                        })
                    }
                    PeerEvent::Down { reason } => {
                        gen_ev.fetch_add(1, Ordering::SeqCst);
                        SessionEvent::Down {
                            reason: down_text(&reason),
                        }
                    }
                    PeerEvent::Update { update, .. } => SessionEvent::Update(update),
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
            while let Some(cmd) = cmd_rx.recv().await {
                match cmd {
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
    fn proc_net_tcp_addresses() {
        assert_eq!(
            parse_proc_addr("020200C0:8AF0"),
            Some(("192.0.2.2".parse().unwrap(), 0x8AF0))
        );
        assert_eq!(
            parse_proc_addr("000080FE00000000FF005450A9B3FEFE:00B3"),
            Some(("fe80::5054:ff:fefe:b3a9".parse().unwrap(), 179))
        );
        assert_eq!(
            parse_proc_addr("0000000000000000FFFF00000100007F:0050"),
            Some(("127.0.0.1".parse().unwrap(), 80))
        );
        assert_eq!(parse_proc_addr("zz:1"), None);
    }

    #[tokio::test]
    async fn finds_local_address_of_a_loopback_connection() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let c = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let _s = l.accept().await.unwrap();
        assert_eq!(
            tcp_local_addr("127.0.0.1".parse().unwrap(), port),
            Some(c.local_addr().unwrap().ip())
        );
    }

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
