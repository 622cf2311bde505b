//! The policies the router runs per neighbour: RFC 9234 OTC rules when a role is configured,
//! then the neighbour's own import / export policy; with RFC 8212
//! ([`super::RouterConfig::ebgp_requires_policy`]) an eBGP neighbour without one of its own
//! neither imports nor exports anything.

use std::sync::Arc;

use bgp_rib::policy::Policy;
use bgp_rib::role::{Chain, DenyAll, OtcExport, OtcImport};

use super::NeighborConfig;

/// `first` then `then`, as one policy (`None` when both are absent).
fn chain(first: Option<Arc<dyn Policy>>, then: Option<Arc<dyn Policy>>) -> Option<Arc<dyn Policy>> {
    match (first, then) {
        (Some(a), Some(b)) => Some(Arc::new(Chain(vec![a, b]))),
        (a, b) => a.or(b),
    }
}

/// The configured policy, or with RFC 8212 (`requires`) a deny-all for an eBGP neighbour
/// that has none. An explicit accept-all is no policy to run (it satisfies RFC 8212), so
/// such neighbours share update groups.
fn configured(p: &Option<Arc<dyn Policy>>, ebgp: bool, requires: bool) -> Option<Arc<dyn Policy>> {
    match p {
        Some(p) if p.is_accept_all() => None,
        Some(p) => Some(p.clone()),
        None if ebgp && requires => Some(Arc::new(DenyAll)),
        None => None,
    }
}

/// The import policy the RIB runs for routes from `n`: the RFC 9234 ingress rules (eBGP
/// with a role) before the configured policy; RFC 8212 when `requires`.
pub fn import_policy(n: &NeighborConfig, local_as: u32, requires: bool) -> Option<Arc<dyn Policy>> {
    let ebgp = n.peer_as != local_as;
    let otc = n
        .role
        .filter(|_| ebgp)
        .map(|r| Arc::new(OtcImport { local_role: r }) as Arc<dyn Policy>);
    chain(otc, configured(&n.import, ebgp, requires))
}

/// The export policy for routes to `n`: the RFC 9234 egress rules (eBGP with a role) before
/// the configured policy; RFC 8212 when `requires`.
pub fn export_policy(n: &NeighborConfig, local_as: u32, requires: bool) -> Option<Arc<dyn Policy>> {
    let ebgp = n.peer_as != local_as;
    let otc = n.role.filter(|_| ebgp).map(|r| {
        Arc::new(OtcExport {
            local_role: r,
            local_as,
        }) as Arc<dyn Policy>
    });
    chain(otc, configured(&n.export, ebgp, requires))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp_rib::policy::AcceptAll;
    use bgp_rib::{Attrs, PeerInfo};

    #[test]
    fn explicit_accept_all_runs_no_policy_and_satisfies_rfc8212() {
        let mut n = NeighborConfig::new("10.0.0.2".parse().unwrap(), 65001);
        n.import = Some(Arc::new(AcceptAll));
        n.export = Some(Arc::new(AcceptAll));
        assert!(import_policy(&n, 64512, true).is_none());
        assert!(export_policy(&n, 64512, true).is_none());
        n.export = None;
        assert!(
            export_policy(&n, 64512, true).is_some(),
            "RFC 8212: deny-all"
        );
    }

    fn accepts(p: &Option<Arc<dyn Policy>>, asn: u32) -> bool {
        let info = PeerInfo::new(
            "192.0.2.2".parse().unwrap(),
            asn,
            "2.2.2.2".parse().unwrap(),
            64512,
        );
        let mut a = Attrs::new("192.0.2.2".parse().unwrap());
        p.as_ref()
            .is_none_or(|p| p.apply("10.0.0.0/8".parse().unwrap(), &info, &mut a))
    }

    #[test]
    fn rfc8212_ebgp_without_policy_imports_and_exports_nothing() {
        let ebgp = NeighborConfig::new("192.0.2.2".parse().unwrap(), 65001);
        let ibgp = NeighborConfig::new("192.0.2.3".parse().unwrap(), 64512);
        for requires in [true, false] {
            assert_eq!(
                accepts(&import_policy(&ebgp, 64512, requires), 65001),
                !requires
            );
            assert_eq!(
                accepts(&export_policy(&ebgp, 64512, requires), 65001),
                !requires
            );
            assert!(
                accepts(&import_policy(&ibgp, 64512, requires), 64512),
                "iBGP untouched"
            );
            assert!(accepts(&export_policy(&ibgp, 64512, requires), 64512));
        }
        // An explicit policy is used as is.
        let mut with = ebgp.clone();
        with.import = Some(Arc::new(AcceptAll));
        assert!(accepts(&import_policy(&with, 64512, true), 65001));
        assert!(!accepts(&export_policy(&with, 64512, true), 65001));
    }
}
