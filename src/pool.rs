//! Deterministic service address allocation from pools.
//!
//! Every node that reads the same configuration must announce the same address for a
//! service, so allocation depends only on the configuration: services that name an
//! address keep it; the others, in name order, get the lowest free address of their pool
//! (the network address included, as MetalLB does).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;

/// Why an allocation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// The service names a pool that is not configured.
    #[error("service `{service}`: unknown pool `{pool}`")]
    UnknownPool {
        /// Service name.
        service: String,
        /// Pool name.
        pool: String,
    },
    /// The pool has no free address left.
    #[error("service `{service}`: pool `{pool}` is exhausted")]
    Exhausted {
        /// Service name.
        service: String,
        /// Pool name.
        pool: String,
    },
    /// Two services name the same address.
    #[error("services `{first}` and `{second}` both use address {addr}")]
    Duplicate {
        /// Address.
        addr: IpAddr,
        /// One service.
        first: String,
        /// The other.
        second: String,
    },
}

/// What a service asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A fixed address.
    Address(IpAddr),
    /// Any address of the named pool.
    Pool(String),
}

/// The n-th address of a network (n counted from the network address), if inside it.
fn nth(net: &IpNet, n: u128) -> Option<IpAddr> {
    match net {
        IpNet::V4(v4) => {
            let size = 1u128 << (32 - u32::from(v4.prefix_len()));
            if n >= size {
                return None;
            }
            let base = u32::from(v4.network());
            let n32 = u32::try_from(n).ok()?;
            Some(IpAddr::V4(base.checked_add(n32)?.into()))
        }
        IpNet::V6(v6) => {
            let bits = 128 - u32::from(v6.prefix_len());
            if bits < 128 && n >= (1u128 << bits) {
                return None;
            }
            let base = u128::from(v6.network());
            Some(IpAddr::V6(base.checked_add(n)?.into()))
        }
    }
}

/// Allocate addresses for `services` (name, request) from `pools` (name, network).
///
/// The search per service is bounded by the number of services plus one, so a huge
/// pool costs nothing.
pub fn allocate(
    pools: &BTreeMap<String, IpNet>,
    services: &BTreeMap<String, Request>,
) -> Result<BTreeMap<String, IpAddr>, PoolError> {
    let mut out = BTreeMap::new();
    let mut used: BTreeMap<IpAddr, String> = BTreeMap::new();
    for (name, req) in services {
        if let Request::Address(a) = req {
            if let Some(first) = used.get(a) {
                return Err(PoolError::Duplicate {
                    addr: *a,
                    first: first.clone(),
                    second: name.clone(),
                });
            }
            used.insert(*a, name.clone());
            out.insert(name.clone(), *a);
        }
    }
    let taken: BTreeSet<IpAddr> = used.keys().copied().collect();
    let mut taken = taken;
    for (name, req) in services {
        let Request::Pool(pool) = req else { continue };
        let net = pools.get(pool).ok_or_else(|| PoolError::UnknownPool {
            service: name.clone(),
            pool: pool.clone(),
        })?;
        let mut found = None;
        for n in 0..=(taken.len() as u128) {
            match nth(net, n) {
                Some(a) if !taken.contains(&a) => {
                    found = Some(a);
                    break;
                }
                Some(_) => {}
                None => break,
            }
        }
        let a = found.ok_or_else(|| PoolError::Exhausted {
            service: name.clone(),
            pool: pool.clone(),
        })?;
        taken.insert(a);
        out.insert(name.clone(), a);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pools() -> BTreeMap<String, IpNet> {
        [
            ("default".to_string(), "172.16.10.0/24".parse().unwrap()),
            ("tiny".to_string(), "10.9.9.0/31".parse().unwrap()),
            ("v6".to_string(), "fd00:10::/120".parse().unwrap()),
        ]
        .into_iter()
        .collect()
    }

    fn req(items: &[(&str, Request)]) -> BTreeMap<String, Request> {
        items
            .iter()
            .map(|(n, r)| (n.to_string(), r.clone()))
            .collect()
    }

    #[test]
    fn lowest_free_including_network_address() {
        let s = req(&[
            ("b", Request::Pool("default".into())),
            ("a", Request::Pool("default".into())),
            ("fixed", Request::Address("172.16.10.1".parse().unwrap())),
            ("six", Request::Pool("v6".into())),
        ]);
        let got = allocate(&pools(), &s).unwrap();
        assert_eq!(got["a"], "172.16.10.0".parse::<IpAddr>().unwrap());
        assert_eq!(got["b"], "172.16.10.2".parse::<IpAddr>().unwrap());
        assert_eq!(got["fixed"], "172.16.10.1".parse::<IpAddr>().unwrap());
        assert_eq!(got["six"], "fd00:10::".parse::<IpAddr>().unwrap());
        // Deterministic: same input, same output.
        assert_eq!(allocate(&pools(), &s).unwrap(), got);
    }

    #[test]
    fn errors_name_the_service() {
        let s = req(&[("x", Request::Pool("nope".into()))]);
        assert_eq!(
            allocate(&pools(), &s).unwrap_err().to_string(),
            "service `x`: unknown pool `nope`"
        );
        let s = req(&[
            ("a", Request::Pool("tiny".into())),
            ("b", Request::Pool("tiny".into())),
            ("c", Request::Pool("tiny".into())),
        ]);
        assert!(matches!(
            allocate(&pools(), &s),
            Err(PoolError::Exhausted { service, .. }) if service == "c"
        ));
        let s = req(&[
            ("a", Request::Address("10.0.0.1".parse().unwrap())),
            ("b", Request::Address("10.0.0.1".parse().unwrap())),
        ]);
        assert!(matches!(
            allocate(&pools(), &s),
            Err(PoolError::Duplicate { .. })
        ));
    }

    #[test]
    fn whole_space_pool_does_not_overflow() {
        let p: BTreeMap<String, IpNet> = [("all".to_string(), "::/0".parse().unwrap())]
            .into_iter()
            .collect();
        let s = req(&[("a", Request::Pool("all".into()))]);
        assert_eq!(
            allocate(&p, &s).unwrap()["a"],
            "::".parse::<IpAddr>().unwrap()
        );
    }
}
