//! The driver's sockets: per address family a receive socket on the Control port (in the
//! reactor, or polled in rounds under load) and a transmit socket on one source port.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::{SOURCE_PORTS, sys};

/// A receive socket: registered with the reactor (a wake-up per arriving packet), or,
/// while polling, a plain non-blocking socket read at each round.
pub(super) enum RxSock {
    Async(UdpSocket),
    Polled(std::net::UdpSocket),
}

impl RxSock {
    pub(super) fn recv(&self, batch: &mut sys::RxBatch) -> io::Result<usize> {
        match self {
            // (tokio answers WouldBlock without a system call while the socket is not
            // known to be readable.)
            RxSock::Async(s) => s.try_io(Interest::READABLE, || sys::recv_batch(s, batch)),
            RxSock::Polled(s) => sys::recv_batch(s, batch),
        }
    }

    /// Leave the reactor. A duplicate descriptor keeps the socket open while the
    /// registered one is dropped (which deregisters it); on failure nothing changes.
    pub(super) fn make_polled(&mut self) {
        use std::os::fd::AsFd;
        if let RxSock::Async(s) = self
            && let Ok(fd) = s.as_fd().try_clone_to_owned()
        {
            *self = RxSock::Polled(std::net::UdpSocket::from(fd));
        }
    }

    /// Join the reactor again; on failure the socket stays polled.
    pub(super) fn make_async(&mut self) {
        if let RxSock::Polled(s) = self
            && let Ok(a) = s.try_clone().and_then(UdpSocket::from_std)
        {
            *self = RxSock::Async(a);
        }
    }
}

pub(super) struct Sockets {
    pub(super) rx: RxSock,
    pub(super) tx: UdpSocket,
    pub(super) tx_port: u16,
}

impl Sockets {
    pub(super) fn open(v6: bool, listen_port: u16) -> io::Result<Sockets> {
        use socket2::{Domain, Protocol, Socket, Type};
        let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
        let any: IpAddr = if v6 {
            Ipv6Addr::UNSPECIFIED.into()
        } else {
            Ipv4Addr::UNSPECIFIED.into()
        };
        let rx = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
        if v6 {
            rx.set_only_v6(true)?;
        }
        rx.set_reuse_address(true)?;
        rx.set_nonblocking(true)?;
        // Room for a polling round's worth of packets from many sessions (the kernel caps
        // this at net.core.rmem_max; best effort).
        let _ = rx.set_recv_buffer_size(1 << 20);
        sys::enable_recv_ttl(&rx, v6)?;
        rx.bind(&SocketAddr::new(any, listen_port).into())?;
        let tx = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
        if v6 {
            tx.set_only_v6(true)?;
            tx.set_unicast_hops_v6(255)?;
        } else {
            tx.set_ttl(255)?;
            sys::set_dont_fragment(&tx)?;
        }
        tx.set_nonblocking(true)?;
        // One source port from the RFC 5881 range, starting at a per-process offset.
        let span = u32::from(SOURCE_PORTS.end() - SOURCE_PORTS.start()) + 1;
        let start = std::process::id() % span;
        let mut bound = None;
        for i in 0..span {
            let port = SOURCE_PORTS.start() + ((start + i) % span) as u16;
            if tx.bind(&SocketAddr::new(any, port).into()).is_ok() {
                bound = Some(port);
                break;
            }
        }
        let tx_port = bound
            .ok_or_else(|| io::Error::new(io::ErrorKind::AddrInUse, "no free BFD source port"))?;
        Ok(Sockets {
            rx: RxSock::Async(UdpSocket::from_std(rx.into())?),
            tx: UdpSocket::from_std(tx.into())?,
            tx_port,
        })
    }
}

pub(super) async fn readable(s: &Option<Sockets>) -> io::Result<()> {
    match s {
        Some(Sockets {
            rx: RxSock::Async(s),
            ..
        }) => s.readable().await,
        _ => std::future::pending().await,
    }
}

/// Ports tried per session before it falls back to the shared transmit socket.
const PORT_TRIES: u32 = 64;

/// The transmit socket of one session: its own source port in 49152-65535 (unique on the
/// host, as RFC 5881 §4 recommends), bound to the session's local address if it has one,
/// connected to the peer (so the kernel keeps the route and the source address in the
/// socket instead of looking them up for each packet), TTL / Hop Limit 255, and a
/// minimal receive buffer (nothing is read from it). Non-blocking, outside the reactor.
/// `cursor` is where the port search starts (it moves on as ports are taken).
pub(super) fn session_tx(
    peer: SocketAddr,
    local: Option<IpAddr>,
    cursor: &mut u32,
) -> io::Result<(std::net::UdpSocket, u16)> {
    use socket2::{Domain, Protocol, Socket, Type};
    let v6 = peer.is_ipv6();
    let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if v6 {
        s.set_only_v6(true)?;
        s.set_unicast_hops_v6(255)?;
    } else {
        s.set_ttl(255)?;
        sys::set_dont_fragment(&s)?;
    }
    s.set_nonblocking(true)?;
    // The kernel rounds this up to its minimum (a few KiB): nothing should arrive here,
    // and what does cannot pile up.
    let _ = s.set_recv_buffer_size(1);
    let ip = local.unwrap_or(if v6 {
        Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::UNSPECIFIED.into()
    });
    let span = u32::from(SOURCE_PORTS.end() - SOURCE_PORTS.start()) + 1;
    let mut port = None;
    for _ in 0..PORT_TRIES {
        let p = SOURCE_PORTS.start() + (*cursor % span) as u16;
        *cursor = cursor.wrapping_add(1);
        let at = match (ip, peer) {
            // A link-local source needs the peer's interface.
            (IpAddr::V6(a), SocketAddr::V6(pa)) => {
                SocketAddr::V6(std::net::SocketAddrV6::new(a, p, 0, pa.scope_id()))
            }
            _ => SocketAddr::new(ip, p),
        };
        if s.bind(&at.into()).is_ok() {
            port = Some(p);
            break;
        }
    }
    let port =
        port.ok_or_else(|| io::Error::new(io::ErrorKind::AddrInUse, "no free BFD source port"))?;
    s.connect(&peer.into())?;
    Ok((s.into(), port))
}
