//! What no safe crate API offers for RFC 5881: receiving a datagram together with its
//! IP TTL / IPv6 Hop Limit and destination address (IP_RECVTTL / IPV6_RECVHOPLIMIT,
//! IP_PKTINFO / IPV6_RECVPKTINFO and `recvmsg` control data), and sending one from a chosen
//! source address (`sendmsg` with IP_PKTINFO / IPV6_PKTINFO). Linux's IP_MINTTL does not
//! filter UDP, so the TTL check is made per packet.
#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};

fn set_int(fd: RawFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: `v` lives across the call and the length is its exact size; `fd` is an
    // open socket owned by the caller.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&v as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Ask the kernel to report the received TTL (IPv4) or Hop Limit (IPv6) and the
/// destination address of each datagram.
pub(crate) fn enable_recv_ttl(sock: &impl AsRawFd, v6: bool) -> io::Result<()> {
    let fd = sock.as_raw_fd();
    if v6 {
        set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)?;
        set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)
    } else {
        set_int(fd, libc::IPPROTO_IP, libc::IP_RECVTTL, 1)?;
        set_int(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, 1)
    }
}

/// Never fragment what an IPv4 socket sends (IP_PMTUDISC_DO). The kernel's default
/// (PMTUDISC_WANT) already sets DF on small packets but keeps the right to fragment them
/// locally, so it draws an IP ID for each packet from its shared generator (~5 % of our
/// transmit samples); with DO a packet takes IP ID 0 (RFC 6864). A Control packet (at
/// most 255 octets) never needs fragmenting.
pub(crate) fn set_dont_fragment(sock: &impl AsRawFd) -> io::Result<()> {
    set_int(
        sock.as_raw_fd(),
        libc::IPPROTO_IP,
        libc::IP_MTU_DISCOVER,
        libc::IP_PMTUDISC_DO,
    )
}

/// What `recv_with_ttl` learned about one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Received {
    pub(crate) len: usize,
    pub(crate) src: SocketAddr,
    pub(crate) ttl: Option<u8>,
    pub(crate) dst: Option<IpAddr>,
}

fn sockaddr_of(dst: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut st: libc::sockaddr_storage = unsafe { zeroed() };
    let len = match dst {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large enough and aligned for sockaddr_in.
            let sin = unsafe {
                &mut *(&mut st as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from(*a.ip()).to_be();
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe {
                &mut *(&mut st as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
            size_of::<libc::sockaddr_in6>()
        }
    };
    (st, len as libc::socklen_t)
}

/// Datagrams per `recvmmsg` / `sendmmsg` call.
pub(crate) const BATCH: usize = 64;
/// Receive buffer per datagram: a Control packet is at most 255 octets (its Length field).
const RX_BUF: usize = 256;
/// Transmit buffer per datagram: we send no authentication section (24 octets).
pub(crate) const TX_BUF: usize = 64;
/// Control-message room per datagram, in u64 words (aligned like cmsghdr): a TTL / Hop
/// Limit and a (v6) pktinfo message take 64 octets.
const CTRL_WORDS: usize = 16;

/// Reusable buffers for one `recvmmsg` call: no allocation per datagram. The `msghdr`
/// array (raw pointers, not `Send`) is built on the stack for each call.
pub(crate) struct RxBatch {
    bufs: Vec<[u8; RX_BUF]>,
    addrs: Vec<libc::sockaddr_storage>,
    ctrl: Vec<[u64; CTRL_WORDS]>,
    got: Vec<Received>,
}

impl RxBatch {
    pub(crate) fn new() -> RxBatch {
        RxBatch {
            bufs: vec![[0; RX_BUF]; BATCH],
            // SAFETY: all-zero is a valid sockaddr_storage.
            addrs: vec![unsafe { zeroed() }; BATCH],
            ctrl: vec![[0; CTRL_WORDS]; BATCH],
            got: Vec::with_capacity(BATCH),
        }
    }
    /// A placeholder without buffers (no allocation), to move a batch out and back.
    pub(crate) fn empty() -> RxBatch {
        RxBatch {
            bufs: Vec::new(),
            addrs: Vec::new(),
            ctrl: Vec::new(),
            got: Vec::new(),
        }
    }
    /// The datagrams of the last call: metadata and payload.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Received, &[u8])> {
        self.got
            .iter()
            .zip(self.bufs.iter())
            .map(|(r, b)| (r, &b[..r.len.min(RX_BUF)]))
    }
}

/// Reusable buffers for one `sendmmsg` call.
pub(crate) struct TxBatch {
    bufs: Vec<[u8; TX_BUF]>,
    meta: Vec<(usize, SocketAddr, Option<IpAddr>)>,
}

impl TxBatch {
    pub(crate) fn new() -> TxBatch {
        TxBatch {
            bufs: vec![[0; TX_BUF]; BATCH],
            meta: Vec::with_capacity(BATCH),
        }
    }
    pub(crate) fn len(&self) -> usize {
        self.meta.len()
    }
    pub(crate) fn is_full(&self) -> bool {
        self.meta.len() == BATCH
    }
    /// Queue one datagram, written by `fill` into a [`TX_BUF`]-octet buffer (it returns
    /// the length used, or `None` to queue nothing). False when the batch is full.
    pub(crate) fn push(
        &mut self,
        dst: SocketAddr,
        src: Option<IpAddr>,
        fill: impl FnOnce(&mut [u8]) -> Option<usize>,
    ) -> bool {
        let i = self.meta.len();
        let Some(buf) = self.bufs.get_mut(i) else {
            return false;
        };
        if let Some(n) = fill(buf) {
            self.meta.push((n.min(TX_BUF), dst, src));
        }
        true
    }
}

/// Write an IP_PKTINFO / IPV6_PKTINFO control message choosing source address `src` into
/// `control`; returns the control length.
fn write_pktinfo(control: &mut [u64; 8], src: IpAddr) -> usize {
    // SAFETY: all-zero is a valid msghdr; it only carries the control buffer to the
    // CMSG_* macros, which stay inside `control` (64 octets, 8-aligned, larger than one
    // cmsghdr plus an in6_pktinfo, 40 octets). The pktinfo is written unaligned-safe.
    unsafe {
        let mut msg: libc::msghdr = zeroed();
        msg.msg_control = control.as_mut_ptr().cast();
        let (level, ty, data_len) = match src {
            IpAddr::V4(_) => (
                libc::IPPROTO_IP,
                libc::IP_PKTINFO,
                size_of::<libc::in_pktinfo>(),
            ),
            IpAddr::V6(_) => (
                libc::IPPROTO_IPV6,
                libc::IPV6_PKTINFO,
                size_of::<libc::in6_pktinfo>(),
            ),
        };
        let space = libc::CMSG_SPACE(data_len as u32) as usize;
        msg.msg_controllen = space as _;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = level;
        (*c).cmsg_type = ty;
        (*c).cmsg_len = libc::CMSG_LEN(data_len as u32) as _;
        match src {
            IpAddr::V4(a) => {
                let info = libc::in_pktinfo {
                    ipi_ifindex: 0,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(a).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::in_pktinfo>(), info);
            }
            IpAddr::V6(a) => {
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: a.octets(),
                    },
                    ipi6_ifindex: 0,
                };
                std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::in6_pktinfo>(), info);
            }
        }
        space
    }
}

/// Send the queued datagrams with as few non-blocking `sendmmsg` calls as the kernel
/// allows and empty the batch. A datagram the kernel refuses (e.g. no route while a link
/// is down, or a full send buffer) is skipped. Returns (sent, refused).
pub(crate) fn send_batch(sock: &impl AsRawFd, batch: &mut TxBatch) -> (usize, usize) {
    let n = batch.meta.len();
    // SAFETY: all-zero is a valid sockaddr_storage, iovec and mmsghdr.
    let mut names: [libc::sockaddr_storage; BATCH] = unsafe { zeroed() };
    let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
    let mut control = [[0u64; 8]; BATCH];
    let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
    for (i, &(len, dst, src)) in batch.meta.iter().enumerate() {
        let (name, namelen) = sockaddr_of(dst);
        names[i] = name;
        iovs[i] = libc::iovec {
            iov_base: batch.bufs[i].as_mut_ptr().cast(),
            iov_len: len,
        };
        let h = &mut hdrs[i].msg_hdr;
        h.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
        h.msg_namelen = namelen;
        h.msg_iov = &mut iovs[i];
        h.msg_iovlen = 1;
        if let Some(src) = src {
            let clen = write_pktinfo(&mut control[i], src);
            h.msg_control = control[i].as_mut_ptr().cast();
            h.msg_controllen = clen as _;
        }
    }
    let mut refused = 0;
    // SAFETY: hdrs[..n] point into `names`, `iovs`, `control` and `batch.bufs`, all alive
    // and unmoved for the duration of the call, with the stated lengths.
    let sent = unsafe { sendmmsg_all(sock.as_raw_fd(), &mut hdrs[..n], |_| refused += 1) };
    batch.meta.clear();
    (sent, refused)
}

/// Send `hdrs` with as few non-blocking `sendmmsg` calls as the kernel allows. A message
/// the kernel refuses (e.g. no route while a link is down, or a full send buffer) is
/// skipped and its index handed to `refused`. Returns the number sent.
///
/// # Safety
/// Every header must point to names, iovecs, buffers and control data that are valid,
/// with the lengths it states, for the duration of the call.
pub(crate) unsafe fn sendmmsg_all(
    fd: RawFd,
    hdrs: &mut [libc::mmsghdr],
    mut refused: impl FnMut(usize),
) -> usize {
    let n = hdrs.len();
    let (mut at, mut sent) = (0usize, 0usize);
    while at < n {
        // SAFETY: the caller vouches for every header; hdrs[at..] is in bounds.
        let rc = unsafe {
            libc::sendmmsg(
                fd,
                hdrs[at..].as_mut_ptr(),
                (n - at) as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if rc > 0 {
            at += rc as usize;
            sent += rc as usize;
        } else {
            // The message at `at` failed (rc < 0; 0 does not happen for n > at): skip it.
            refused(at);
            at += 1;
        }
    }
    sent
}

/// Receive up to [`BATCH`] datagrams with one non-blocking `recvmmsg`, each with its
/// source and destination address and TTL / Hop Limit. `WouldBlock` when none is queued.
pub(crate) fn recv_batch(sock: &impl AsRawFd, batch: &mut RxBatch) -> io::Result<usize> {
    recv_batch_limited(sock, batch, BATCH)
}

fn recv_batch_limited(sock: &impl AsRawFd, batch: &mut RxBatch, max: usize) -> io::Result<usize> {
    batch.got.clear();
    // SAFETY: all-zero is a valid iovec and mmsghdr.
    let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
    let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
    for i in 0..BATCH {
        iovs[i] = libc::iovec {
            iov_base: batch.bufs[i].as_mut_ptr().cast(),
            iov_len: RX_BUF,
        };
        let h = &mut hdrs[i].msg_hdr;
        h.msg_name = (&mut batch.addrs[i] as *mut libc::sockaddr_storage).cast();
        h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        h.msg_iov = &mut iovs[i];
        h.msg_iovlen = 1;
        h.msg_control = batch.ctrl[i].as_mut_ptr().cast();
        h.msg_controllen = size_of::<[u64; CTRL_WORDS]>() as _;
    }
    // SAFETY: every pointer in `hdrs` refers to a live buffer of the stated length for
    // the duration of the call; the kernel writes at most those lengths.
    let rc = unsafe {
        libc::recvmmsg(
            sock.as_raw_fd(),
            hdrs.as_mut_ptr(),
            max.clamp(1, BATCH) as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    for (i, h) in hdrs.iter().take(rc as usize).enumerate() {
        // A datagram of an unexpected family is reported with an unspecified source,
        // which matches no session.
        let src = sockaddr_to_std(&batch.addrs[i])
            .unwrap_or(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)));
        let (ttl, dst) = parse_control(&h.msg_hdr);
        batch.got.push(Received {
            len: h.msg_len as usize,
            src,
            ttl,
            dst,
        });
    }
    Ok(rc as usize)
}

fn sockaddr_to_std(addr: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match libc::c_int::from(addr.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in (family AF_INET) into the storage,
            // which is large enough and suitably aligned for it.
            let a =
                unsafe { &*(addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a =
                unsafe { &*(addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// The TTL / Hop Limit and destination address in the control data of a received message.
fn parse_control(msg: &libc::msghdr) -> (Option<u8>, Option<IpAddr>) {
    let mut ttl = None;
    let mut dst = None;
    // SAFETY: the CMSG_* macros walk the control buffer the kernel filled, bounded by
    // msg_controllen; CMSG_DATA of a TTL/HOPLIMIT message holds one c_int, of a pktinfo
    // message an in_pktinfo / in6_pktinfo (read unaligned).
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            let h = &*c;
            let is_ttl = (h.cmsg_level == libc::IPPROTO_IP && h.cmsg_type == libc::IP_TTL)
                || (h.cmsg_level == libc::IPPROTO_IPV6 && h.cmsg_type == libc::IPV6_HOPLIMIT);
            if is_ttl {
                let v = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
                ttl = u8::try_from(v).ok();
            }
            if h.cmsg_level == libc::IPPROTO_IP && h.cmsg_type == libc::IP_PKTINFO {
                let i = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::in_pktinfo>());
                dst = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(i.ipi_addr.s_addr))));
            }
            if h.cmsg_level == libc::IPPROTO_IPV6 && h.cmsg_type == libc::IPV6_PKTINFO {
                let i = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::in6_pktinfo>());
                dst = Some(IpAddr::V6(Ipv6Addr::from(i.ipi6_addr.s6_addr)));
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
    }
    (ttl, dst)
}

/// One datagram to `dst` from source address `src`, through [`send_batch`].
#[cfg(test)]
pub(crate) fn send_from(
    sock: &impl AsRawFd,
    buf: &[u8],
    dst: SocketAddr,
    src: IpAddr,
) -> io::Result<usize> {
    let mut b = TxBatch::new();
    b.push(dst, Some(src), |out| {
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        Some(n)
    });
    match send_batch(sock, &mut b) {
        (1, _) => Ok(buf.len()),
        _ => Err(io::Error::other("not sent")),
    }
}

/// One datagram with its TTL / Hop Limit, through [`recv_batch`] (the batch may hold
/// more datagrams; the test reads them one at a time by sending one at a time).
#[cfg(test)]
pub(crate) fn recv_with_ttl(sock: &impl AsRawFd, buf: &mut [u8]) -> io::Result<Received> {
    let mut b = RxBatch::new();
    // One at a time: a batch of one is what the test wants to see.
    recv_batch_limited(sock, &mut b, 1)?;
    let (r, data) = b.iter().next().ok_or(io::ErrorKind::WouldBlock)?;
    let n = data.len().min(buf.len());
    buf[..n].copy_from_slice(&data[..n]);
    Ok(*r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_ttl_of_loopback_datagrams() {
        let r = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        enable_recv_ttl(&r, false).unwrap();
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_ttl(255).unwrap();
        s.send_to(b"x", r.local_addr().unwrap()).unwrap();
        s.set_ttl(17).unwrap();
        s.send_to(b"yz", r.local_addr().unwrap()).unwrap();
        let mut buf = [0u8; 64];
        r.set_nonblocking(false).unwrap();
        let got = recv_with_ttl(&r, &mut buf).unwrap();
        assert_eq!(
            got,
            Received {
                len: 1,
                src: s.local_addr().unwrap(),
                ttl: Some(255),
                dst: Some("127.0.0.1".parse().unwrap())
            }
        );
        let got = recv_with_ttl(&r, &mut buf).unwrap();
        assert_eq!((got.len, got.ttl), (2, Some(17)));
        // From a chosen source address (127.0.0.2 is on lo too).
        let s2 = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        s2.set_ttl(255).unwrap();
        send_from(
            &s2,
            b"abc",
            r.local_addr().unwrap(),
            "127.0.0.2".parse().unwrap(),
        )
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let got = recv_with_ttl(&r, &mut buf).unwrap();
        assert_eq!(got.src.ip(), "127.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(got.len, 3);
        assert_eq!(
            recv_with_ttl(&r, &mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }
}
