//! RFC 9234 route-leak prevention with BGP Roles: the Only to Customer (OTC) attribute rules
//! of §5, as ready-made import and export [`Policy`]s to run before (import) or with
//! (export) the user's own, plus [`Chain`] to combine policies.
//!
//! Roles are the local one towards the neighbour, as configured (and negotiated by bgp-fsm):
//! `Customer` means the neighbour is our provider. The rules apply to eBGP neighbours only.
//!
//! ```
//! use bgp_rib::role::{otc, OtcImport, OtcExport};
//! use bgp_rib::policy::Policy;
//! use bgp_rib::{Attrs, PeerInfo};
//! use bgp_wire::message::BgpRole;
//! // We are the customer of AS 65001: its routes get OTC = 65001 on the way in...
//! let provider = PeerInfo::new("192.0.2.1".parse().unwrap(), 65001, "1.1.1.1".parse().unwrap(), 65000);
//! let mut a = Attrs::new("192.0.2.1".parse().unwrap());
//! assert!(OtcImport { local_role: BgpRole::Customer }.apply("10.0.0.0/8".parse().unwrap(), &provider, &mut a));
//! assert_eq!(otc(&a), Some(65001));
//! // ...and a route with OTC is never sent to another provider.
//! let other = PeerInfo::new("192.0.2.9".parse().unwrap(), 65009, "9.9.9.9".parse().unwrap(), 65000);
//! let exp = OtcExport { local_role: BgpRole::Customer, local_as: 65000 };
//! assert!(!exp.apply("10.0.0.0/8".parse().unwrap(), &other, &mut a));
//! ```

use std::sync::Arc;

use bgp_wire::PathAttribute;
use bgp_wire::message::BgpRole;
use ipnet::IpNet;

use crate::attrs::Attrs;
use crate::decision::PeerInfo;
use crate::policy::Policy;

/// The OTC attribute's AS, if the route carries one.
pub fn otc(a: &Attrs) -> Option<u32> {
    a.extra.as_ref()?.other.iter().find_map(|o| match o {
        PathAttribute::Otc(v) => Some(*v),
        _ => None,
    })
}

/// Add OTC = `asn` (the caller checked it is absent).
pub fn set_otc(a: &mut Attrs, asn: u32) {
    let x = a.extra_mut();
    x.other.retain(|o| !matches!(o, PathAttribute::Otc(_)));
    x.other.push(PathAttribute::Otc(asn));
}

/// The neighbour is our provider, peer or route server: routes from it may go only to
/// customers (ingress rules 2-3, egress rule 1).
fn from_above_or_side(local: BgpRole) -> bool {
    matches!(
        local,
        BgpRole::Customer | BgpRole::Peer | BgpRole::RouteServerClient
    )
}

/// RFC 9234 §5 ingress procedure for routes received from an eBGP neighbour towards which
/// our role is `local_role`: a route with OTC from a customer or RS client is a leak
/// (rejected); from a provider, peer or route server a route whose OTC is not the neighbour's
/// AS is a leak, and one without OTC gets OTC = the neighbour's AS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtcImport {
    /// Our role towards the neighbour.
    pub local_role: BgpRole,
}

impl Policy for OtcImport {
    fn apply(&self, _prefix: IpNet, peer: &PeerInfo, attrs: &mut Attrs) -> bool {
        if peer.ibgp {
            return true;
        }
        let o = otc(attrs);
        match self.local_role {
            // The neighbour is a customer or an RS client.
            BgpRole::Provider | BgpRole::RouteServer => o.is_none(),
            r if from_above_or_side(r) => match o {
                Some(v) => v == peer.asn,
                None => {
                    set_otc(attrs, peer.asn);
                    true
                }
            },
            _ => true,
        }
    }
}

/// RFC 9234 §5 egress procedure for routes sent to an eBGP neighbour towards which our role
/// is `local_role`: a route with OTC is not sent to a provider, peer or route server; a route
/// sent to a customer, peer or RS client without OTC gets OTC = our AS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtcExport {
    /// Our role towards the neighbour.
    pub local_role: BgpRole,
    /// Our AS.
    pub local_as: u32,
}

impl Policy for OtcExport {
    fn apply(&self, _prefix: IpNet, peer: &PeerInfo, attrs: &mut Attrs) -> bool {
        if peer.ibgp {
            return true;
        }
        let o = otc(attrs);
        // The neighbour is a provider, peer or route server.
        if from_above_or_side(self.local_role) && o.is_some() {
            return false;
        }
        // The neighbour is a customer, peer or RS client.
        if matches!(
            self.local_role,
            BgpRole::Provider | BgpRole::Peer | BgpRole::RouteServer
        ) && o.is_none()
        {
            set_otc(attrs, self.local_as);
        }
        true
    }
}

/// Policies applied in order; the first rejection rejects.
#[derive(Debug, Clone, Default)]
pub struct Chain(pub Vec<Arc<dyn Policy>>);

impl Policy for Chain {
    fn apply(&self, prefix: IpNet, peer: &PeerInfo, attrs: &mut Attrs) -> bool {
        self.0.iter().all(|p| p.apply(prefix, peer, attrs))
    }
}

/// Reject everything (RFC 8212: an eBGP neighbour without a configured policy).
#[derive(Debug, Clone, Copy, Default)]
pub struct DenyAll;

impl Policy for DenyAll {
    fn apply(&self, _prefix: IpNet, _peer: &PeerInfo, _attrs: &mut Attrs) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BgpRole::*;

    const LOCAL: u32 = 65000;
    const NBR: u32 = 65001;

    fn peer(ibgp: bool) -> PeerInfo {
        let asn = if ibgp { LOCAL } else { NBR };
        PeerInfo::new(
            "192.0.2.1".parse().unwrap(),
            asn,
            "1.1.1.1".parse().unwrap(),
            LOCAL,
        )
    }
    fn with(o: Option<u32>) -> Attrs {
        let mut a = Attrs::new("192.0.2.1".parse().unwrap());
        if let Some(v) = o {
            set_otc(&mut a, v);
        }
        a
    }
    fn import(role: BgpRole, o: Option<u32>) -> Option<Option<u32>> {
        let mut a = with(o);
        OtcImport { local_role: role }
            .apply("10.0.0.0/8".parse().unwrap(), &peer(false), &mut a)
            .then(|| otc(&a))
    }
    fn export(role: BgpRole, o: Option<u32>) -> Option<Option<u32>> {
        let mut a = with(o);
        OtcExport {
            local_role: role,
            local_as: LOCAL,
        }
        .apply("10.0.0.0/8".parse().unwrap(), &peer(false), &mut a)
        .then(|| otc(&a))
    }

    #[test]
    fn ingress_rules() {
        // From a customer (we are its provider) or an RS client: OTC means a leak.
        for r in [Provider, RouteServer] {
            assert_eq!(import(r, Some(64999)), None);
            assert_eq!(import(r, Some(NBR)), None);
            assert_eq!(import(r, None), Some(None), "no OTC added");
        }
        // From a provider, peer or route server: OTC must be theirs; added when absent.
        for r in [Customer, Peer, RouteServerClient] {
            assert_eq!(import(r, Some(64999)), None, "{r:?}");
            assert_eq!(import(r, Some(NBR)), Some(Some(NBR)));
            assert_eq!(import(r, None), Some(Some(NBR)));
        }
        assert_eq!(import(Other(9), Some(1)), Some(Some(1)));
        // iBGP: untouched.
        let mut a = with(Some(1));
        assert!(
            OtcImport {
                local_role: Provider
            }
            .apply("10.0.0.0/8".parse().unwrap(), &peer(true), &mut a)
        );
    }

    #[test]
    fn egress_rules() {
        // To a provider, peer or route server: nothing with OTC.
        for r in [Customer, Peer, RouteServerClient] {
            assert_eq!(export(r, Some(64999)), None, "{r:?}");
        }
        // To a provider or route server without OTC: sent unchanged.
        for r in [Customer, RouteServerClient] {
            assert_eq!(export(r, None), Some(None));
        }
        // To a customer, peer or RS client: OTC = our AS when absent, kept otherwise.
        for r in [Provider, Peer, RouteServer] {
            assert_eq!(export(r, None), Some(Some(LOCAL)), "{r:?}");
        }
        for r in [Provider, RouteServer] {
            assert_eq!(export(r, Some(64999)), Some(Some(64999)));
        }
    }

    #[test]
    fn chain_and_deny() {
        let c = Chain(vec![
            Arc::new(OtcImport {
                local_role: Customer,
            }),
            Arc::new(crate::policy::AcceptAll),
        ]);
        let mut a = with(None);
        assert!(c.apply("10.0.0.0/8".parse().unwrap(), &peer(false), &mut a));
        assert_eq!(otc(&a), Some(NBR));
        let c = Chain(vec![Arc::new(crate::policy::AcceptAll), Arc::new(DenyAll)]);
        assert!(!c.apply("10.0.0.0/8".parse().unwrap(), &peer(false), &mut a));
        assert!(Chain::default().apply("10.0.0.0/8".parse().unwrap(), &peer(false), &mut a));
    }
}
