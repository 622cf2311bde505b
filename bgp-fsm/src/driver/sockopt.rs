//! Socket options that no safe crate API offers: TCP MD5 signatures (RFC 2385) and the
//! minimum received TTL of GTSM (RFC 5082).
#![allow(unsafe_code)]

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, RawFd};

/// Longest TCP MD5 key Linux accepts (TCP_MD5SIG_MAXKEYLEN).
pub(crate) const MD5_MAX_KEY_LEN: usize = 80;

/// Linux `struct tcp_md5sig`: a `__kernel_sockaddr_storage` (128 octets, 8-aligned) then
/// flags, prefix length, key length, ifindex and the key.
#[repr(C, align(8))]
struct TcpMd5Sig {
    addr: [u8; 128],
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: i32,
    key: [u8; MD5_MAX_KEY_LEN],
}

fn sockaddr_bytes(ip: IpAddr) -> [u8; 128] {
    let mut b = [0u8; 128];
    match ip {
        IpAddr::V4(v4) => {
            b[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            // port 0, then the address in network order.
            b[4..8].copy_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            b[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            // port 0, flowinfo 0, then the address.
            b[8..24].copy_from_slice(&v6.octets());
        }
    }
    b
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    let len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is a live, initialised `T` for the duration of the call and `len` is its
    // exact size; the kernel only reads `len` bytes from it. `fd` is a socket descriptor owned
    // by the caller's socket object, which outlives this call.
    let rc = unsafe { libc::setsockopt(fd, level, name, (value as *const T).cast(), len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Install (or, with an empty key, remove) the TCP MD5 key for a peer address on a socket.
/// On an IPv6 socket an IPv4 peer is given as its v4-mapped address (dual-stack listeners).
pub(crate) fn set_md5(
    sock: &impl AsRawFd,
    socket_v6: bool,
    peer: IpAddr,
    key: &[u8],
) -> io::Result<()> {
    let peer = match peer {
        IpAddr::V4(v4) if socket_v6 => IpAddr::V6(v4.to_ipv6_mapped()),
        p => p,
    };
    if key.len() > MD5_MAX_KEY_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "TCP MD5 key longer than 80 octets",
        ));
    }
    let mut sig = TcpMd5Sig {
        addr: sockaddr_bytes(peer),
        flags: 0,
        prefixlen: 0,
        keylen: key.len() as u16,
        ifindex: 0,
        key: [0; MD5_MAX_KEY_LEN],
    };
    sig.key[..key.len()].copy_from_slice(key);
    setsockopt(sock.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_MD5SIG, &sig)
}

/// Drop received packets whose TTL (hop limit) is below `min` (IP_MINTTL / IPV6_MINHOPCOUNT).
pub(crate) fn set_min_ttl(sock: &impl AsRawFd, v6: bool, min: u8) -> io::Result<()> {
    let v = libc::c_int::from(min);
    if v6 {
        setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_MINHOPCOUNT,
            &v,
        )
    } else {
        setsockopt(sock.as_raw_fd(), libc::IPPROTO_IP, libc::IP_MINTTL, &v)
    }
}

/// The index of a network interface by name (`if_nametoindex(3)`).
pub(crate) fn if_nametoindex(name: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name with NUL"))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_matches_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<TcpMd5Sig>(), 216);
    }

    #[test]
    fn options_apply_to_a_real_socket() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        set_md5(&l, false, "127.0.0.1".parse().unwrap(), b"secret").unwrap();
        assert!(set_md5(&l, false, "127.0.0.1".parse().unwrap(), &[0u8; 81]).is_err());
        set_min_ttl(&l, false, 254).unwrap();
        // A dual-stack listener takes IPv4 peers as v4-mapped addresses.
        if let Ok(l6) = std::net::TcpListener::bind("[::]:0") {
            set_md5(&l6, true, "127.0.0.1".parse().unwrap(), b"secret").unwrap();
            set_md5(&l6, true, "::1".parse().unwrap(), b"secret").unwrap();
            set_min_ttl(&l6, true, 254).unwrap();
        }
    }
}
