//! BGP Role negotiation (RFC 9234 §4): the Role capability we send and the check of the
//! peer's in its OPEN, answered with OPEN Message Error / Role Mismatch (2/11).
//!
//! ```
//! use bgp_fsm::role::roles_match;
//! use bgp_wire::message::BgpRole;
//! assert!(roles_match(BgpRole::Customer, BgpRole::Provider));
//! assert!(!roles_match(BgpRole::Peer, BgpRole::Customer));
//! ```

use bgp_wire::error::codes;
use bgp_wire::message::BgpRole;
use bgp_wire::{Capability, Notification, Open};

use crate::config::SessionConfig;

/// Whether our role and the peer's form an allowed pair (RFC 9234 §4.2 Table 2):
/// Provider-Customer, Customer-Provider, RS-RS-Client, RS-Client-RS, Peer-Peer.
pub fn roles_match(local: BgpRole, remote: BgpRole) -> bool {
    use BgpRole::*;
    matches!(
        (local, remote),
        (Provider, Customer)
            | (Customer, Provider)
            | (RouteServer, RouteServerClient)
            | (RouteServerClient, RouteServer)
            | (Peer, Peer)
    )
}

/// The role the peer announced, after the RFC 9234 §4.2 checks against ours; `Err` is the
/// Role Mismatch NOTIFICATION to send. Roles are for eBGP only: on iBGP nothing is checked
/// (and we send none). Several Role capabilities with one value count as one; with different
/// values they are a mismatch. With [`SessionConfig::strict_role`], a peer that sends no
/// Role capability is refused too.
pub fn check_role(cfg: &SessionConfig, open: &Open) -> Result<Option<BgpRole>, Notification> {
    let mismatch = || Notification::new(codes::OPEN_MESSAGE_ERROR, codes::ROLE_MISMATCH);
    let mut peer: Option<BgpRole> = None;
    for c in &open.capabilities {
        if let Capability::Role(r) = c {
            match peer {
                Some(p) if p != *r => {
                    if cfg.role.is_some() && !cfg.is_ibgp() {
                        return Err(mismatch());
                    }
                }
                _ => peer = Some(*r),
            }
        }
    }
    let Some(local) = cfg.role.filter(|_| !cfg.is_ibgp()) else {
        return Ok(peer);
    };
    match peer {
        Some(r) if !roles_match(local, r) => Err(mismatch()),
        None if cfg.strict_role => Err(mismatch()),
        p => Ok(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::negotiate::build_open;
    use std::net::Ipv4Addr;

    fn cfg(role: Option<BgpRole>, strict: bool) -> SessionConfig {
        let mut c = SessionConfig::new(65001, 65002, Ipv4Addr::new(10, 0, 0, 1));
        c.role = role;
        c.strict_role = strict;
        c
    }
    fn open(role: Option<BgpRole>) -> Open {
        let mut c = SessionConfig::new(65002, 65001, Ipv4Addr::new(10, 0, 0, 2));
        c.role = role;
        build_open(&c)
    }

    #[test]
    fn allowed_pairs() {
        use BgpRole::*;
        let all = [
            Provider,
            RouteServer,
            RouteServerClient,
            Customer,
            Peer,
            Other(7),
        ];
        let mut ok = 0;
        for a in all {
            for b in all {
                if roles_match(a, b) {
                    ok += 1;
                    assert!(roles_match(b, a), "symmetric");
                }
            }
        }
        assert_eq!(ok, 5);
    }

    #[test]
    fn mismatch_strict_and_ibgp() {
        use BgpRole::*;
        assert_eq!(
            check_role(&cfg(Some(Customer), false), &open(Some(Provider))),
            Ok(Some(Provider))
        );
        let e = check_role(&cfg(Some(Customer), false), &open(Some(Customer))).unwrap_err();
        assert_eq!((e.code, e.subcode), (2, 11));
        // No role from the peer: fine unless strict.
        assert_eq!(check_role(&cfg(Some(Peer), false), &open(None)), Ok(None));
        assert!(check_role(&cfg(Some(Peer), true), &open(None)).is_err());
        // No role of ours: nothing to check.
        assert_eq!(
            check_role(&cfg(None, true), &open(Some(Peer))),
            Ok(Some(Peer))
        );
        // Two different roles in one OPEN.
        let mut o = open(Some(Peer));
        o.capabilities.push(Capability::Role(Provider));
        assert!(check_role(&cfg(Some(Peer), false), &o).is_err());
        let mut o = open(Some(Peer));
        o.capabilities.push(Capability::Role(Peer));
        assert_eq!(check_role(&cfg(Some(Peer), false), &o), Ok(Some(Peer)));
        // iBGP: roles are not used, and we send none.
        let mut c = SessionConfig::new(65001, 65001, Ipv4Addr::new(10, 0, 0, 1));
        c.role = Some(Customer);
        c.strict_role = true;
        assert!(!build_open(&c).capabilities.iter().any(|c| c.code() == 9));
        assert_eq!(check_role(&c, &open(None)), Ok(None));
    }
}
