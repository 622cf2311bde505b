//! IPv6 link-local neighbours with an interface scope (`fe80::1%eth0`, RFC 4007 zones): the
//! zone names the interface the address lives on; without it a link-local address is
//! ambiguous and `connect` fails.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// The index of the network interface `name` (`if_nametoindex`); an all-digit name is taken
/// as the index itself.
pub fn interface_index(name: &str) -> io::Result<u32> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        return name
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index too large"));
    }
    super::sockopt::if_nametoindex(name)
}

/// Parse `ADDR` or `ADDR%ZONE` (IPv6 only, ZONE an interface name or index): the address and
/// its scope id (0 without a zone).
///
/// ```
/// use bgp_fsm::driver::parse_scoped_addr;
/// assert_eq!(parse_scoped_addr("10.0.0.1").unwrap().1, 0);
/// assert_eq!(parse_scoped_addr("fe80::1%7").unwrap(), ("fe80::1".parse().unwrap(), 7));
/// assert!(parse_scoped_addr("10.0.0.1%1").is_err());
/// ```
pub fn parse_scoped_addr(s: &str) -> io::Result<(IpAddr, u32)> {
    let bad = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
    let (addr, zone) = match s.split_once('%') {
        Some((a, z)) => (a, Some(z)),
        None => (s, None),
    };
    let ip: IpAddr = addr.parse().map_err(|e| bad(format!("{addr:?}: {e}")))?;
    let scope = match (zone, ip) {
        (None, _) => 0,
        (Some(z), IpAddr::V6(_)) => interface_index(z).map_err(|e| bad(format!("{s:?}: {e}")))?,
        (Some(_), IpAddr::V4(_)) => return Err(bad(format!("{s:?}: a zone is for IPv6 only"))),
    };
    Ok((ip, scope))
}

/// Whether an address needs a zone to be used (IPv6 link-local unicast, fe80::/10).
pub fn is_link_local(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if is_link_local_v6(v6))
}

fn is_link_local_v6(v6: Ipv6Addr) -> bool {
    v6.segments()[0] & 0xffc0 == 0xfe80
}

/// `ip:port` with the scope id on an IPv6 address (ignored for IPv4 and when 0).
pub fn scoped_socket_addr(ip: IpAddr, port: u16, scope_id: u32) -> SocketAddr {
    match ip {
        IpAddr::V6(v6) if scope_id != 0 => SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scope_id)),
        ip => SocketAddr::new(ip, port),
    }
}

/// The scope id that identifies a connection's remote address for listener matching: the
/// socket's scope for a link-local IPv6 address, 0 otherwise (global addresses are unique).
pub(crate) fn match_scope(from: &SocketAddr) -> u32 {
    match from {
        SocketAddr::V6(a) if is_link_local_v6(*a.ip()) => a.scope_id(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_parse_and_resolve() {
        assert_eq!(
            parse_scoped_addr("fe80::1%lo").unwrap(),
            ("fe80::1".parse().unwrap(), interface_index("lo").unwrap())
        );
        assert_eq!(
            interface_index("lo").unwrap(),
            1,
            "lo is interface 1 on Linux"
        );
        assert!(parse_scoped_addr("fe80::1%no-such-if0").is_err());
        assert!(parse_scoped_addr("fe80::1%").is_err());
        assert!(parse_scoped_addr("nonsense").is_err());
        assert_eq!(parse_scoped_addr("2001:db8::1").unwrap().1, 0);
        assert!(is_link_local("fe80::1".parse().unwrap()));
        assert!(is_link_local("febf::1".parse().unwrap()));
        assert!(!is_link_local("fec0::1".parse().unwrap()));
        assert!(!is_link_local("10.0.0.1".parse().unwrap()));
        let a = scoped_socket_addr("fe80::1".parse().unwrap(), 179, 3);
        assert_eq!(a.to_string(), "[fe80::1%3]:179");
        assert_eq!(match_scope(&a), 3);
        assert_eq!(
            match_scope(&scoped_socket_addr("2001:db8::1".parse().unwrap(), 179, 3)),
            0
        );
    }
}
