//! The driver's sockets: per address family a receive socket on the single-hop Control
//! port and one on the multihop port (in the reactor, or polled in rounds under load), and
//! a transmit socket on one source port (never in the reactor).

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
    /// Single hop (RFC 5881, port 3784).
    pub(super) rx: RxSock,
    /// Multihop (RFC 5883, port 4784), once a multihop session asked for it.
    pub(super) mh: Option<RxSock>,
    /// Not in the reactor: sends are non-blocking and a datagram the kernel refuses is
    /// dropped, so nothing waits for writability. Registered, each sent packet's
    /// release (`sock_wfree`) would run epoll's wake-up callback (~3 % of our samples).
    pub(super) tx: std::net::UdpSocket,
    pub(super) tx_port: u16,
}

fn any(v6: bool) -> IpAddr {
    if v6 {
        Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::UNSPECIFIED.into()
    }
}

fn domain(v6: bool) -> socket2::Domain {
    if v6 {
        socket2::Domain::IPV6
    } else {
        socket2::Domain::IPV4
    }
}

/// A receive socket on `port` that reports each datagram's TTL and destination; `reuse`
/// sets SO_REUSEADDR.
pub(super) fn open_rx(v6: bool, port: u16, reuse: bool) -> io::Result<RxSock> {
    use socket2::{Protocol, Socket, Type};
    let rx = Socket::new(domain(v6), Type::DGRAM, Some(Protocol::UDP))?;
    if v6 {
        rx.set_only_v6(true)?;
    }
    rx.set_reuse_address(reuse)?;
    rx.set_nonblocking(true)?;
    // Room for a polling round's worth of packets from many sessions (the kernel caps
    // this at net.core.rmem_max; best effort).
    let _ = rx.set_recv_buffer_size(1 << 20);
    sys::enable_recv_ttl(&rx, v6)?;
    rx.bind(&SocketAddr::new(any(v6), port).into())?;
    Ok(RxSock::Async(UdpSocket::from_std(rx.into())?))
}

impl Sockets {
    /// The sockets of one family, receiving on `listen_port`. The multihop socket is
    /// opened later, with the first multihop session ([`open_rx`]).
    pub(super) fn open(v6: bool, listen_port: u16) -> io::Result<Sockets> {
        use socket2::{Protocol, Socket, Type};
        let any = any(v6);
        let rx = open_rx(v6, listen_port, true)?;
        let mh = None;
        let tx = Socket::new(domain(v6), Type::DGRAM, Some(Protocol::UDP))?;
        // DSCP CS6, network control (as FRR's bfdd marks BFD; RFC 4594), best effort.
        if v6 {
            tx.set_only_v6(true)?;
            tx.set_unicast_hops_v6(255)?;
            let _ = tx.set_tclass_v6(0xc0);
        } else {
            tx.set_ttl(255)?;
            sys::set_dont_fragment(&tx)?;
            let _ = tx.set_tos(0xc0);
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
            rx,
            mh,
            tx: tx.into(),
            tx_port,
        })
    }
}

/// Ready when `rx` is readable; never while it is polled or absent.
pub(super) async fn readable(rx: Option<&RxSock>) -> io::Result<()> {
    match rx {
        Some(RxSock::Async(s)) => s.readable().await,
        _ => std::future::pending().await,
    }
}
