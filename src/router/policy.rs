//! The policies the router runs per neighbour: RFC 9234 OTC rules when a role is configured,
//! then the neighbour's own import / export policy.

use std::sync::Arc;

use bgp_rib::policy::Policy;
use bgp_rib::role::{Chain, OtcExport, OtcImport};

use super::NeighborConfig;

/// `first` then `then`, as one policy (`None` when both are absent).
fn chain(first: Option<Arc<dyn Policy>>, then: Option<Arc<dyn Policy>>) -> Option<Arc<dyn Policy>> {
    match (first, then) {
        (Some(a), Some(b)) => Some(Arc::new(Chain(vec![a, b]))),
        (a, b) => a.or(b),
    }
}

/// The import policy the RIB runs for routes from `n`: the RFC 9234 ingress rules (eBGP
/// with a role) before the configured policy.
pub fn import_policy(n: &NeighborConfig, local_as: u32) -> Option<Arc<dyn Policy>> {
    let otc = n
        .role
        .filter(|_| n.peer_as != local_as)
        .map(|r| Arc::new(OtcImport { local_role: r }) as Arc<dyn Policy>);
    chain(otc, n.import.clone())
}

/// The export policy for routes to `n`: the RFC 9234 egress rules (eBGP with a role) before
/// the configured policy.
pub fn export_policy(n: &NeighborConfig, local_as: u32) -> Option<Arc<dyn Policy>> {
    let otc = n.role.filter(|_| n.peer_as != local_as).map(|r| {
        Arc::new(OtcExport {
            local_role: r,
            local_as,
        }) as Arc<dyn Policy>
    });
    chain(otc, n.export.clone())
}
