//! The Echo function's I/O (RFC 5881 §4, IPv4 single hop). An Echo packet is addressed
//! to our own address, so the kernel's routing would deliver it locally: it leaves
//! instead as a raw IPv4/UDP datagram through an `AF_PACKET` socket, handed to the
//! peer's link-layer address (from the neighbour table), and the peer's forwarding sends
//! it back. It returns to an ordinary UDP socket on port 3785. Sending needs
//! CAP_NET_RAW. (Unsafe code: no safe crate offers packet sockets with a link-layer
//! destination.)
#![allow(unsafe_code)]

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::sockets::{self, RxSock};

/// The Echo port (RFC 5881 §4).
pub const ECHO_PORT: u16 = 3785;

/// How long a resolved link-layer address is used before it is looked up again.
const LINK_TTL: Duration = Duration::from_secs(5);

/// The peer's link: where to hand an Echo packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Link {
    pub(super) ifindex: i32,
    pub(super) mac: [u8; 6],
    /// When it was looked up.
    pub(super) at: Duration,
    /// Whether the interface takes packets with our own source address
    /// (`accept_local`); without it the kernel drops our Echo packets as they come back.
    pub(super) accepts_own: bool,
}

impl Link {
    pub(super) fn fresh(&self, now: Duration) -> bool {
        now < self.at + LINK_TTL
    }
}

/// The Echo sockets: a send-only packet socket and the UDP receive socket.
pub(super) struct Echo {
    tx: OwnedFd,
    pub(super) rx: RxSock,
    /// The UDP port the packets are sent to (and come back to).
    pub(super) port: u16,
    /// Source port of our Echo packets.
    pub(super) src_port: u16,
}

impl Echo {
    /// Open both sockets; the receive one on UDP `port`.
    pub(super) fn open(port: u16, src_port: u16) -> io::Result<Echo> {
        // Protocol 0: a packet socket that receives nothing (it only sends).
        // SAFETY: plain socket(2) call; the descriptor is owned at once.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        let tx = unsafe { OwnedFd::from_raw_fd(fd) };
        let rx = sockets::open_rx(false, port, false)?;
        Ok(Echo {
            tx,
            rx,
            port,
            src_port,
        })
    }

    /// Send one Echo datagram (IPv4 header included) on `link`.
    pub(super) fn send(&self, link: &Link, datagram: &[u8]) -> io::Result<()> {
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_IP as u16).to_be();
        sll.sll_ifindex = link.ifindex;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&link.mac);
        // SAFETY: the buffer and the address are valid for the lengths given.
        let n = unsafe {
            libc::sendto(
                self.tx.as_raw_fd(),
                datagram.as_ptr().cast(),
                datagram.len(),
                libc::MSG_DONTWAIT,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

/// The peer's interface and MAC address from the kernel's neighbour table
/// (`/proc/thread-self/net/arp`: the table of this thread's network namespace), for a
/// complete entry only.
pub(super) fn resolve(peer: Ipv4Addr, now: Duration) -> Option<Link> {
    let text = std::fs::read_to_string("/proc/thread-self/net/arp").ok()?;
    parse_arp(&text, peer).and_then(|(dev, mac)| {
        let name = std::ffi::CString::new(dev).ok()?;
        // SAFETY: a valid NUL-terminated name.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        let sysctl = |dev: &str| {
            std::fs::read_to_string(format!("/proc/sys/net/ipv4/conf/{dev}/accept_local"))
                .is_ok_and(|v| v.trim() == "1")
        };
        (ifindex != 0).then_some(Link {
            ifindex: i32::try_from(ifindex).ok()?,
            mac,
            at: now,
            accepts_own: sysctl(dev) || sysctl("all"),
        })
    })
}

/// The device and MAC address of `peer`'s complete (ATF_COM) entry in `/proc/net/arp`.
fn parse_arp(text: &str, peer: Ipv4Addr) -> Option<(&str, [u8; 6])> {
    const ATF_COM: u32 = 0x2;
    text.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let [ip, _hw_type, flags, hw, _mask, dev] = f[..] else {
            return None;
        };
        let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16).ok()?;
        if ip.parse::<Ipv4Addr>().ok()? != peer || flags & ATF_COM == 0 {
            return None;
        }
        let mut mac = [0u8; 6];
        let mut parts = hw.split(':');
        for b in &mut mac {
            *b = u8::from_str_radix(parts.next()?, 16).ok()?;
        }
        (parts.next().is_none() && mac != [0; 6]).then_some((dev, mac))
    })
}

/// One's complement sum of 16-bit words, folded.
fn sum16(init: u32, data: &[u8]) -> u32 {
    let mut s = init;
    for c in data.chunks(2) {
        let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
        s += u32::from(w);
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s
}

/// Length of an Echo datagram: IPv4 header, UDP header, our payload.
pub(super) const DATAGRAM_LEN: usize = 20 + 8 + crate::packet::EchoPacket::LEN;

/// An Echo datagram from and to `addr`: TTL 255, DSCP CS6 (network control, as for
/// Control packets), Don't Fragment, UDP `src_port` -> `dst_port`, both checksums.
pub(super) fn datagram(
    addr: Ipv4Addr,
    src_port: u16,
    dst_port: u16,
    payload: &[u8; crate::packet::EchoPacket::LEN],
) -> [u8; DATAGRAM_LEN] {
    let mut d = [0u8; DATAGRAM_LEN];
    let total = DATAGRAM_LEN as u16;
    let udp_len = total - 20;
    d[0] = 0x45;
    d[1] = 0xc0;
    d[2..4].copy_from_slice(&total.to_be_bytes());
    d[6] = 0x40; // DF
    d[8] = 255;
    d[9] = 17;
    d[12..16].copy_from_slice(&addr.octets());
    d[16..20].copy_from_slice(&addr.octets());
    let ip_sum = !(sum16(0, &d[..20]) as u16);
    d[10..12].copy_from_slice(&ip_sum.to_be_bytes());
    d[20..22].copy_from_slice(&src_port.to_be_bytes());
    d[22..24].copy_from_slice(&dst_port.to_be_bytes());
    d[24..26].copy_from_slice(&udp_len.to_be_bytes());
    d[28..].copy_from_slice(payload);
    // Pseudo-header: source, destination, protocol, UDP length.
    let mut pseudo = [0u8; 12];
    pseudo[..4].copy_from_slice(&addr.octets());
    pseudo[4..8].copy_from_slice(&addr.octets());
    pseudo[9] = 17;
    pseudo[10..12].copy_from_slice(&udp_len.to_be_bytes());
    let s = sum16(sum16(0, &pseudo), &d[20..]);
    let udp_sum = match !(s as u16) {
        0 => 0xffff,
        x => x,
    };
    d[26..28].copy_from_slice(&udp_sum.to_be_bytes());
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arp_table_lines() {
        let t = "IP address       HW type     Flags       HW address            Mask     Device\n\
                 10.0.0.1         0x1         0x0         00:00:00:00:00:00     *        eth1\n\
                 10.0.0.2         0x1         0x2         02:42:ac:11:00:02     *        veth0\n\
                 10.0.0.3         0x1         0x6         0a:0b:0c:0d:0e:0f     *        eth2\n";
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            parse_arp(t, ip("10.0.0.2")),
            Some(("veth0", [0x02, 0x42, 0xac, 0x11, 0x00, 0x02]))
        );
        assert_eq!(
            parse_arp(t, ip("10.0.0.3")),
            Some(("eth2", [10, 11, 12, 13, 14, 15]))
        );
        // Incomplete, absent.
        assert_eq!(parse_arp(t, ip("10.0.0.1")), None);
        assert_eq!(parse_arp(t, ip("10.0.0.9")), None);
        assert_eq!(parse_arp("garbage\n1 2 3\n", ip("10.0.0.2")), None);
    }

    /// Both checksums verify (the sum over the header, and over pseudo-header and
    /// datagram, is all ones).
    #[test]
    fn datagram_checksums() {
        let a: Ipv4Addr = "192.168.1.21".parse().unwrap();
        let p = crate::packet::EchoPacket { disc: 9, seq: 77 }.encode();
        let d = datagram(a, 49200, ECHO_PORT, &p);
        assert_eq!(sum16(0, &d[..20]), 0xffff);
        let mut pseudo = [0u8; 12];
        pseudo[..4].copy_from_slice(&a.octets());
        pseudo[4..8].copy_from_slice(&a.octets());
        pseudo[9] = 17;
        pseudo[10..12].copy_from_slice(&((DATAGRAM_LEN - 20) as u16).to_be_bytes());
        assert_eq!(sum16(sum16(0, &pseudo), &d[20..]), 0xffff);
        assert_eq!(&d[28..], &p);
        assert_eq!((d[8], d[9]), (255, 17));
    }
}
