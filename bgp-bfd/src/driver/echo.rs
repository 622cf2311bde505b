//! The Echo function's I/O (RFC 5881 §4, IPv4 single hop). An Echo packet is addressed
//! to our own address, so the kernel's routing would deliver it locally: it leaves
//! instead as a whole IPv4/UDP packet through the driver's packet socket
//! ([`super::link`]), handed to the peer's link-layer address, and the peer's forwarding
//! sends it back. It returns to an ordinary UDP socket on port 3785.

use std::io;
use std::net::Ipv4Addr;

use super::link::{self, HEADERS};
use super::sockets::{self, RxSock};

/// The Echo port (RFC 5881 §4).
pub const ECHO_PORT: u16 = 3785;

/// The Echo receive socket and ports.
pub(super) struct Echo {
    pub(super) rx: RxSock,
    /// The UDP port the packets are sent to (and come back to).
    pub(super) port: u16,
    /// Source port of our Echo packets.
    pub(super) src_port: u16,
}

impl Echo {
    /// Open the receive socket on UDP `port`.
    pub(super) fn open(port: u16, src_port: u16) -> io::Result<Echo> {
        let rx = sockets::open_rx(false, port, false)?;
        Ok(Echo { rx, port, src_port })
    }
}

/// Length of an Echo datagram: IPv4 header, UDP header, our payload.
pub(super) const DATAGRAM_LEN: usize = HEADERS + crate::packet::EchoPacket::LEN;

/// An Echo datagram from and to `addr`: TTL 255, DSCP CS6 (network control, as for
/// Control packets), Don't Fragment, UDP `src_port` -> `dst_port`, both checksums.
pub(super) fn datagram(
    addr: Ipv4Addr,
    src_port: u16,
    dst_port: u16,
    payload: &[u8; crate::packet::EchoPacket::LEN],
) -> [u8; DATAGRAM_LEN] {
    let mut d = [0u8; DATAGRAM_LEN];
    d[HEADERS..].copy_from_slice(payload);
    link::ipv4_udp(&mut d, addr, addr, src_port, dst_port, payload.len());
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both checksums verify (the sum over the header, and over pseudo-header and
    /// datagram, is all ones).
    #[test]
    fn datagram_checksums() {
        let a: Ipv4Addr = "192.168.1.21".parse().unwrap();
        let p = crate::packet::EchoPacket { disc: 9, seq: 77 }.encode();
        let d = datagram(a, 49200, ECHO_PORT, &p);
        assert!(link::checksums_ok(&d, a, a));
        assert_eq!(&d[28..], &p);
        assert_eq!((d[8], d[9]), (255, 17));
    }
}
