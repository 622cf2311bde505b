//! What no safe crate API offers for RFC 5881: receiving a datagram together with its
//! IP TTL / IPv6 Hop Limit (IP_RECVTTL / IPV6_RECVHOPLIMIT and `recvmsg` control data).
//! Linux's IP_MINTTL does not filter UDP, so the check is made per packet.
#![allow(unsafe_code)]

use std::io;
use std::mem::{MaybeUninit, size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
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

/// Ask the kernel to report the received TTL (IPv4) or Hop Limit (IPv6) of each datagram.
pub(crate) fn enable_recv_ttl(sock: &impl AsRawFd, v6: bool) -> io::Result<()> {
    if v6 {
        set_int(
            sock.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_RECVHOPLIMIT,
            1,
        )
    } else {
        set_int(sock.as_raw_fd(), libc::IPPROTO_IP, libc::IP_RECVTTL, 1)
    }
}

/// One non-blocking `recvmsg`: the payload length, the source address and the TTL / Hop
/// Limit if the kernel reported it. `WouldBlock` when nothing is queued.
pub(crate) fn recv_with_ttl(
    sock: &impl AsRawFd,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Option<u8>)> {
    // SAFETY: all-zero is a valid sockaddr_storage and msghdr.
    let mut addr: libc::sockaddr_storage = unsafe { zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for a few control messages; aligned like cmsghdr.
    let mut control = [MaybeUninit::<u64>::uninit(); 16];
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_name = (&mut addr as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of::<[u64; 16]>() as _;
    // SAFETY: every pointer in `msg` refers to a live buffer of the stated length for the
    // duration of the call; the kernel writes at most those lengths.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let src = match libc::c_int::from(addr.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in (family AF_INET) into the storage,
            // which is large enough and suitably aligned for it.
            let a =
                unsafe { &*(&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            ))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a =
                unsafe { &*(&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            ))
        }
        f => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected address family {f}"),
            ));
        }
    };
    let mut ttl = None;
    // SAFETY: the CMSG_* macros walk the control buffer the kernel filled, bounded by
    // msg_controllen; CMSG_DATA of a TTL/HOPLIMIT message holds one c_int.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let h = &*c;
            let is_ttl = (h.cmsg_level == libc::IPPROTO_IP && h.cmsg_type == libc::IP_TTL)
                || (h.cmsg_level == libc::IPPROTO_IPV6 && h.cmsg_type == libc::IPV6_HOPLIMIT);
            if is_ttl {
                let v = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
                ttl = u8::try_from(v).ok();
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n as usize, src, ttl))
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
        let (n, from, ttl) = recv_with_ttl(&r, &mut buf).unwrap();
        assert_eq!((n, from, ttl), (1, s.local_addr().unwrap(), Some(255)));
        let (n, _, ttl) = recv_with_ttl(&r, &mut buf).unwrap();
        assert_eq!((n, ttl), (2, Some(17)));
        assert_eq!(
            recv_with_ttl(&r, &mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }
}
