//! Sending whole IPv4/UDP packets straight to a neighbour's link-layer address through a
//! send-only `AF_PACKET` socket: the way out of our Echo packets (which the kernel's
//! routing would deliver locally) and, with [`DriverConfig::link_tx`], of the Control
//! packets of Up IPv4 single-hop sessions (which then skip the kernel's UDP and IP
//! output path, the larger part of the driver's CPU time at 1,000 sessions). The
//! neighbour's MAC address comes from the kernel's neighbour table, read for all
//! sessions at once and cached. Sending needs CAP_NET_RAW. (Unsafe code: no safe crate
//! offers packet sockets with a link-layer destination.)
//!
//! [`DriverConfig::link_tx`]: super::DriverConfig::link_tx
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::sys::{BATCH, TX_BUF};

/// How long a resolved link-layer address is used before it is looked up again, and how
/// old the cached neighbour table may be.
const LINK_TTL: Duration = Duration::from_secs(5);
/// The neighbour table is read again for an address it lacked at most this often.
const MISS_RETRY: Duration = Duration::from_secs(1);

/// IPv4 and UDP headers.
pub(super) const HEADERS: usize = 20 + 8;

/// A neighbour's link: where to hand a packet.
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

/// The kernel's IPv4 neighbour table (complete entries), as last read.
#[derive(Default)]
pub(super) struct Neighbours {
    table: HashMap<Ipv4Addr, Link>,
    /// When the table was last read.
    read_at: Option<Duration>,
    /// A send on a link from the table failed: read it again (at most once a
    /// [`MISS_RETRY`]).
    dirty: bool,
    /// Interfaces whose missing `accept_local` has been reported (once each, not once
    /// per session).
    warned: std::collections::HashSet<i32>,
}

impl Neighbours {
    /// `peer`'s link: from the cached table while it is fresh; otherwise, or when the
    /// peer is missing from it or the table was [invalidated](Self::invalidate) (at most
    /// once a [`MISS_RETRY`]), from a new reading of `/proc/thread-self/net/arp` (the
    /// table of this thread's network namespace).
    pub(super) fn lookup(&mut self, peer: Ipv4Addr, now: Duration) -> Option<Link> {
        let table = || std::fs::read_to_string("/proc/thread-self/net/arp").ok();
        self.lookup_in(peer, now, table, device)
    }

    /// [`lookup`](Self::lookup), reading the table text from `table` when it must and
    /// each device's index and `accept_local` from `dev`.
    fn lookup_in(
        &mut self,
        peer: Ipv4Addr,
        now: Duration,
        table: impl FnOnce() -> Option<String>,
        dev: impl Fn(&str) -> Option<(i32, bool)>,
    ) -> Option<Link> {
        let age = self.read_at.map(|t| now.saturating_sub(t));
        let stale = age.is_none_or(|a| a >= LINK_TTL);
        let hit = self.table.get(&peer).copied();
        let again = hit.is_none() || self.dirty;
        if stale || (again && age.is_none_or(|a| a >= MISS_RETRY)) {
            self.read(now, table(), dev);
            return self.table.get(&peer).copied();
        }
        hit
    }

    /// True the first time it is asked about `ifindex`: whether to warn about it.
    pub(super) fn first_warning(&mut self, ifindex: i32) -> bool {
        self.warned.insert(ifindex)
    }

    /// Have the next lookup read the table again (after a failed send).
    pub(super) fn invalidate(&mut self) {
        self.dirty = true;
    }

    fn read(
        &mut self,
        now: Duration,
        text: Option<String>,
        dev: impl Fn(&str) -> Option<(i32, bool)>,
    ) {
        self.read_at = Some(now);
        self.dirty = false;
        self.table.clear();
        let Some(text) = text else {
            return;
        };
        // Per device: its index and whether it accepts our own source address.
        let mut devs: HashMap<&str, Option<(i32, bool)>> = HashMap::new();
        // An address listed on two interfaces (VRFs, a stale entry) is nobody's: which
        // one the peer is on is the routing's business, so such peers keep the UDP socket.
        let mut ambiguous = std::collections::HashSet::new();
        for (ip, name, mac) in parse_arp(&text) {
            let d = *devs.entry(name).or_insert_with(|| dev(name));
            let Some((ifindex, accepts_own)) = d else {
                continue;
            };
            if ambiguous.contains(&ip) {
                continue;
            }
            let link = Link {
                ifindex,
                mac,
                at: now,
                accepts_own,
            };
            if let Some(other) = self.table.insert(ip, link)
                && other.ifindex != ifindex
            {
                self.table.remove(&ip);
                ambiguous.insert(ip);
            }
        }
    }
}

/// A device's index and whether it takes packets with our own source address
/// (`accept_local` on it or on all).
fn device(name: &str) -> Option<(i32, bool)> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: a valid NUL-terminated name.
    let ifindex = unsafe { libc::if_nametoindex(c.as_ptr()) };
    let ifindex = i32::try_from(ifindex).ok().filter(|i| *i != 0)?;
    Some((ifindex, accepts_local("all") || accepts_local(name)))
}

fn accepts_local(dev: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv4/conf/{dev}/accept_local"))
        .is_ok_and(|v| v.trim() == "1")
}

/// The complete (ATF_COM) entries of `/proc/net/arp`: address, device, MAC address.
fn parse_arp(text: &str) -> impl Iterator<Item = (Ipv4Addr, &str, [u8; 6])> {
    const ATF_COM: u32 = 0x2;
    text.lines().skip(1).filter_map(|l| {
        let mut f = l.split_whitespace();
        let (ip, _hw_type, flags, hw, _mask, dev) = (
            f.next()?,
            f.next()?,
            f.next()?,
            f.next()?,
            f.next()?,
            f.next()?,
        );
        if f.next().is_some() {
            return None;
        }
        let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16).ok()?;
        if flags & ATF_COM == 0 {
            return None;
        }
        let ip = ip.parse::<Ipv4Addr>().ok()?;
        let mut mac = [0u8; 6];
        let mut parts = hw.split(':');
        for b in &mut mac {
            *b = u8::from_str_radix(parts.next()?, 16).ok()?;
        }
        (parts.next().is_none() && mac != [0; 6]).then_some((ip, dev, mac))
    })
}

/// One's complement sum of 16-bit words, folded.
pub(super) fn sum16(init: u32, data: &[u8]) -> u32 {
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

/// Write an IPv4/UDP packet into `out` around the `payload_len` octets already at
/// `out[HEADERS..]`: TTL 255, DSCP CS6 (network control, as FRR's bfdd marks BFD),
/// Don't Fragment, both checksums. Returns the packet's length. `out` must hold
/// `HEADERS + payload_len` octets (the callers' buffers do; it panics otherwise).
pub(super) fn ipv4_udp(
    out: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    src_port: u16,
    dst_port: u16,
    payload_len: usize,
) -> usize {
    let total = HEADERS + payload_len;
    let d = &mut out[..total];
    d[..HEADERS].fill(0);
    let udp_len = (total - 20) as u16;
    d[0] = 0x45;
    d[1] = 0xc0;
    d[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    d[6] = 0x40; // DF
    d[8] = 255;
    d[9] = 17;
    d[12..16].copy_from_slice(&src.octets());
    d[16..20].copy_from_slice(&dst.octets());
    let ip_sum = !(sum16(0, &d[..20]) as u16);
    d[10..12].copy_from_slice(&ip_sum.to_be_bytes());
    d[20..22].copy_from_slice(&src_port.to_be_bytes());
    d[22..24].copy_from_slice(&dst_port.to_be_bytes());
    d[24..26].copy_from_slice(&udp_len.to_be_bytes());
    // Pseudo-header: source, destination, protocol, UDP length.
    let mut pseudo = [0u8; 12];
    pseudo[..4].copy_from_slice(&src.octets());
    pseudo[4..8].copy_from_slice(&dst.octets());
    pseudo[9] = 17;
    pseudo[10..12].copy_from_slice(&udp_len.to_be_bytes());
    let s = sum16(sum16(0, &pseudo), &d[20..]);
    let udp_sum = match !(s as u16) {
        0 => 0xffff,
        x => x,
    };
    d[26..28].copy_from_slice(&udp_sum.to_be_bytes());
    total
}

fn sockaddr_ll(link: &Link) -> libc::sockaddr_ll {
    // SAFETY: all-zero is a valid sockaddr_ll.
    let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = (libc::ETH_P_IP as u16).to_be();
    sll.sll_ifindex = link.ifindex;
    sll.sll_halen = 6;
    sll.sll_addr[..6].copy_from_slice(&link.mac);
    sll
}

/// A send-only packet socket (the kernel adds the link-layer header).
pub(super) struct PacketSock(OwnedFd);

impl PacketSock {
    pub(super) fn open() -> io::Result<PacketSock> {
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
        Ok(PacketSock(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Send one packet (IPv4 header included) on `link`.
    pub(super) fn send(&self, link: &Link, packet: &[u8]) -> io::Result<()> {
        let sll = sockaddr_ll(link);
        // SAFETY: the buffer and the address are valid for the lengths given.
        let n = unsafe {
            libc::sendto(
                self.0.as_raw_fd(),
                packet.as_ptr().cast(),
                packet.len(),
                libc::MSG_DONTWAIT,
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Send the queued packets with as few non-blocking `sendmmsg` calls as the kernel
    /// allows and empty the batch. Returns the number sent and the sessions (local
    /// discriminators) whose packet was refused.
    pub(super) fn send_batch(&self, batch: &mut LinkBatch, refused: &mut Vec<u32>) -> usize {
        let n = batch.meta.len();
        // SAFETY: all-zero is a valid sockaddr_ll, iovec and mmsghdr.
        let mut names: [libc::sockaddr_ll; BATCH] = unsafe { zeroed() };
        let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        // One pointer to the buffers, offset per packet (no reborrow of the vector per
        // packet, which would invalidate the earlier pointers under Stacked Borrows).
        let bufs = batch.bufs.as_mut_ptr();
        for (i, m) in batch.meta.iter().enumerate() {
            names[i] = sockaddr_ll(&m.link);
            iovs[i] = libc::iovec {
                // SAFETY: i < meta.len() <= bufs.len() (push never queues past the end).
                iov_base: unsafe { bufs.add(i) }.cast(),
                iov_len: m.len,
            };
            let h = &mut hdrs[i].msg_hdr;
            h.msg_name = (&mut names[i] as *mut libc::sockaddr_ll).cast();
            h.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            h.msg_iov = &mut iovs[i];
            h.msg_iovlen = 1;
        }
        let meta = &batch.meta;
        // SAFETY: hdrs[..n] point into `names`, `iovs` and `batch.bufs`, all alive and
        // unmoved for the duration of the call, with the stated lengths.
        let sent = unsafe {
            super::sys::sendmmsg_all(self.0.as_raw_fd(), &mut hdrs[..n], |i| {
                refused.push(meta[i].disc)
            })
        };
        batch.meta.clear();
        sent
    }
}

struct LinkMeta {
    len: usize,
    link: Link,
    /// The sending session.
    disc: u32,
}

/// Reusable buffers for one `sendmmsg` on the packet socket.
pub(super) struct LinkBatch {
    bufs: Vec<[u8; HEADERS + TX_BUF]>,
    meta: Vec<LinkMeta>,
}

impl LinkBatch {
    pub(super) fn new() -> LinkBatch {
        LinkBatch {
            bufs: vec![[0; HEADERS + TX_BUF]; BATCH],
            meta: Vec::with_capacity(BATCH),
        }
    }
    pub(super) fn len(&self) -> usize {
        self.meta.len()
    }
    pub(super) fn is_full(&self) -> bool {
        self.meta.len() == BATCH
    }
    /// Drop every queued packet as refused (no socket to send them on); returns 0, the
    /// number sent.
    pub(super) fn refuse_all(&mut self, refused: &mut Vec<u32>) -> usize {
        refused.extend(self.meta.drain(..).map(|m| m.disc));
        0
    }
    /// Queue one packet: `fill` writes the UDP payload into a [`TX_BUF`]-octet buffer
    /// and returns its length (or `None` to queue nothing); the headers are then written
    /// around it. False when the batch is full.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn push(
        &mut self,
        link: Link,
        disc: u32,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ports: (u16, u16),
        fill: impl FnOnce(&mut [u8]) -> Option<usize>,
    ) -> bool {
        let i = self.meta.len();
        let Some(buf) = self.bufs.get_mut(i) else {
            return false;
        };
        if let Some(n) = fill(&mut buf[HEADERS..]) {
            let len = ipv4_udp(buf, src, dst, ports.0, ports.1, n.min(TX_BUF));
            self.meta.push(LinkMeta { len, link, disc });
        }
        true
    }
}

/// Whether `d` is an IPv4/UDP packet from `src` to `dst` whose two checksums verify (the
/// sum over the header, and over pseudo-header and datagram, is all ones).
#[cfg(test)]
pub(super) fn checksums_ok(d: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> bool {
    let mut pseudo = [0u8; 12];
    pseudo[..4].copy_from_slice(&src.octets());
    pseudo[4..8].copy_from_slice(&dst.octets());
    pseudo[9] = 17;
    pseudo[10..12].copy_from_slice(&((d.len() - 20) as u16).to_be_bytes());
    d[12..16] == src.octets()
        && d[16..20] == dst.octets()
        && sum16(0, &d[..20]) == 0xffff
        && sum16(sum16(0, &pseudo), &d[20..]) == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arp_table_lines() {
        let t = "IP address       HW type     Flags       HW address            Mask     Device\n\
                 10.0.0.1         0x1         0x0         00:00:00:00:00:00     *        eth1\n\
                 10.0.0.2         0x1         0x2         02:42:ac:11:00:02     *        veth0\n\
                 10.0.0.3         0x1         0x6         0a:0b:0c:0d:0e:0f     *        eth2\n\
                 10.0.0.4         0x1         0x2         0a:0b:0c:0d:0e        *        eth2\n\
                 garbage\n1 2 3\n";
        let got: Vec<_> = parse_arp(t).collect();
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            got,
            vec![
                (
                    ip("10.0.0.2"),
                    "veth0",
                    [0x02, 0x42, 0xac, 0x11, 0x00, 0x02]
                ),
                (ip("10.0.0.3"), "eth2", [10, 11, 12, 13, 14, 15]),
            ]
        );
    }

    /// The table is read once for many lookups, again once it is 5 s old, and again
    /// for a missing peer at most once a second.
    #[test]
    fn neighbour_table_is_cached() {
        let head = "IP address HW type Flags HW address Mask Device\n";
        let one = format!("{head}10.0.0.2 0x1 0x2 02:00:00:00:00:02 * eth0\n");
        let two = format!("{one}10.0.0.3 0x1 0x2 02:00:00:00:00:03 * eth1\n");
        let (a, b): (Ipv4Addr, Ipv4Addr) =
            ("10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap());
        let s = Duration::from_secs;
        let mut nb = Neighbours::default();
        let reads = std::cell::Cell::new(0);
        let dev = |name: &str| match name {
            "eth0" => Some((2, false)),
            "eth1" => Some((3, true)),
            _ => None,
        };
        let look = |nb: &mut Neighbours, ip, now, text: &str| {
            let table = || {
                reads.set(reads.get() + 1);
                Some(text.to_string())
            };
            nb.lookup_in(ip, now, table, dev)
        };
        let l = look(&mut nb, a, s(0), &one).expect("found");
        assert_eq!(
            (l.mac[5], l.ifindex, l.at, l.accepts_own),
            (2, 2, s(0), false)
        );
        assert_eq!(reads.get(), 1);
        // Fresh table: a hit costs no read; a miss within the second neither.
        assert!(look(&mut nb, a, s(4), &two).is_some());
        assert!(look(&mut nb, b, Duration::from_millis(500), &two).is_none());
        assert_eq!(reads.get(), 1);
        // A miss after a second reads again and finds the new entry.
        let l = look(&mut nb, b, s(2), &two);
        assert_eq!(
            l.map(|l| (l.mac[5], l.ifindex, l.accepts_own)),
            Some((3, 3, true))
        );
        assert_eq!(reads.get(), 2);
        // Five seconds on, even a hit reads again; a vanished entry is gone.
        assert!(look(&mut nb, b, s(7), &one).is_none());
        assert_eq!(reads.get(), 3);
        assert!(look(&mut nb, a, s(7), &one).is_some_and(|l| l.fresh(s(11)) && !l.fresh(s(12))));
        // A failed send: the next lookup after a second reads again, even for a hit.
        nb.invalidate();
        assert!(look(&mut nb, a, Duration::from_millis(7500), &one).is_some());
        assert_eq!(reads.get(), 3);
        assert!(look(&mut nb, a, s(8), &one).is_some());
        assert_eq!(reads.get(), 4);
        // An address on two interfaces is nobody's, however often it is listed; one on
        // an unknown device is skipped.
        let twice = format!(
            "{two}10.0.0.2 0x1 0x2 02:00:00:00:00:09 * eth1\n10.0.0.2 0x1 0x2 02:00:00:00:00:0a * eth0\n\
             10.0.0.4 0x1 0x2 02:00:00:00:00:04 * wg0\n"
        );
        assert!(look(&mut nb, a, s(14), &twice).is_none());
        assert_eq!(reads.get(), 5);
        assert!(look(&mut nb, b, s(14), &twice).is_some());
        assert!(look(&mut nb, "10.0.0.4".parse().unwrap(), s(14), &twice).is_none());
        // An empty table: nothing found, nothing kept.
        assert!(look(&mut nb, a, s(20), "").is_none());
        assert_eq!(reads.get(), 6);
    }

    /// Both checksums verify (the sum over the header, and over pseudo-header and
    /// datagram, is all ones), for even and odd payload lengths.
    #[test]
    fn packet_checksums() {
        let (a, b): (Ipv4Addr, Ipv4Addr) = (
            "192.168.1.21".parse().unwrap(),
            "192.168.1.1".parse().unwrap(),
        );
        for len in [24usize, 25, 52] {
            let mut buf = [0u8; HEADERS + TX_BUF];
            for (i, x) in buf[HEADERS..HEADERS + len].iter_mut().enumerate() {
                *x = i as u8 ^ 0x5a;
            }
            let n = ipv4_udp(&mut buf, a, b, 49200, 3784, len);
            let d = &buf[..n];
            assert_eq!(n, HEADERS + len);
            assert!(checksums_ok(d, a, b));
            assert_eq!((d[8], d[9], d[1]), (255, 17, 0xc0));
        }
    }
}
