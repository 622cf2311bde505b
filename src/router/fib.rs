//! FIB install: Loc-RIB changes written to the kernel's main routing table over rtnetlink.
//!
//! One netlink connection is opened at start; each change is an RTM_NEWROUTE with
//! NLM_F_REPLACE | NLM_F_CREATE and protocol `bgp` (186), one gateway or RTA_MULTIPATH next
//! hops weighted from link bandwidth (else 1; `rtnh_hops` is weight - 1, as with
//! `ip route ... weight W`), and an RTM_DELROUTE (`proto bgp`) on withdrawal. Errors go to
//! stderr and do not stop the caller.

use std::net::IpAddr;

use bgp_rib::RouteView;
use ipnet::IpNet;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::route::{RouteMessage, RouteProtocol};
use rtnetlink::{Handle, RouteMessageBuilder, RouteNextHopBuilder};

/// One FIB change: a route to replace with its next hops, or a prefix to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FibChange {
    /// The prefix.
    pub prefix: IpNet,
    /// Next hops with their weights; empty for a deletion.
    pub next_hops: Vec<(IpAddr, u32)>,
}

impl FibChange {
    /// The change for a Loc-RIB entry: replace with the route's next hops, or delete when
    /// there is no route.
    pub fn for_route(prefix: IpNet, r: Option<&RouteView>) -> Self {
        FibChange {
            prefix,
            next_hops: r
                .map(|r| r.next_hops.iter().map(|n| (n.addr, n.weight)).collect())
                .unwrap_or_default(),
        }
    }
}

/// The kernel's multipath hop count (`rtnh_hops`) for a weight: weight 1..=256 is hops
/// 0..=255, the same number `ip route ... weight W` sends.
pub fn rtnh_hops(weight: u32) -> u8 {
    u8::try_from(weight.clamp(1, 256) - 1).unwrap_or(u8::MAX)
}

/// The netlink route message for `change`: main table, `proto bgp`, unicast; one gateway for
/// a single next hop, RTA_MULTIPATH with weights for several.
pub fn route_message(change: &FibChange) -> Result<RouteMessage, String> {
    let p = &change.prefix;
    let mut b = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(p.addr(), p.prefix_len())
        .map_err(|e| e.to_string())?
        .protocol(RouteProtocol::Bgp);
    match change.next_hops.as_slice() {
        [] => {}
        [(addr, _)] => b = b.gateway(*addr).map_err(|e| e.to_string())?,
        hops => {
            let family = match p {
                IpNet::V4(_) => AddressFamily::Inet,
                IpNet::V6(_) => AddressFamily::Inet6,
            };
            let mut nh = Vec::with_capacity(hops.len());
            for (addr, weight) in hops {
                nh.push(
                    RouteNextHopBuilder::new(family)
                        .via(*addr)
                        .map_err(|e| e.to_string())?
                        .weight(rtnh_hops(*weight))
                        .build(),
                );
            }
            b = b.multipath(nh);
        }
    }
    Ok(b.build())
}

/// A netlink connection to the kernel's routing table.
#[derive(Debug, Clone)]
pub struct Fib {
    handle: Handle,
}

impl Fib {
    /// Open the connection (its task is spawned on the current tokio runtime).
    pub fn open() -> std::io::Result<Self> {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        Ok(Fib { handle })
    }
    /// Write `changes`: route replace (NLM_F_REPLACE | NLM_F_CREATE) or route delete, one
    /// request each. Errors go to stderr; the caller carries on.
    pub async fn install(&self, changes: Vec<FibChange>) {
        for c in changes {
            let msg = match route_message(&c) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("fib {}: {e}", c.prefix);
                    continue;
                }
            };
            let (op, res) = if c.next_hops.is_empty() {
                ("del", self.handle.route().del(msg).execute().await)
            } else {
                (
                    "replace",
                    self.handle.route().add(msg).replace().execute().await,
                )
            };
            if let Err(e) = res {
                eprintln!("fib route {op} {}: {e}", c.prefix);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_map_to_hop_counts() {
        assert_eq!(rtnh_hops(0), 0);
        assert_eq!(rtnh_hops(1), 0);
        assert_eq!(rtnh_hops(3), 2);
        assert_eq!(rtnh_hops(1000), 255);
    }

    #[test]
    fn deletion_has_no_next_hops() {
        let c = FibChange::for_route("10.0.0.0/8".parse().unwrap(), None);
        assert!(c.next_hops.is_empty());
        assert!(route_message(&c).is_ok());
    }
}
