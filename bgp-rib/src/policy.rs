//! Import and export policy: a trait, plus ready-made prefix lists, community matches and
//! route maps built from them.

use std::net::IpAddr;

use bgp_wire::attr::Community;
use ipnet::IpNet;

use crate::attrs::Attrs;
use crate::decision::PeerInfo;

mod aspath;
pub use aspath::{AsPathRegex, origin_as, path_text};

/// A routing policy applied to one route: may rewrite the attributes; returns whether the route
/// is accepted.
pub trait Policy: Send + Sync + std::fmt::Debug {
    /// Apply to `prefix` learned from (import) or sent to (export) `peer`.
    fn apply(&self, prefix: IpNet, peer: &PeerInfo, attrs: &mut Attrs) -> bool;
    /// True when the policy accepts every route unchanged, whatever the peer (as
    /// [`AcceptAll`]): a user may then run no policy at all, so neighbours with it can share
    /// one update group. `false` unless a policy overrides it.
    fn is_accept_all(&self) -> bool {
        false
    }
}

/// Permit or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Permit.
    Permit,
    /// Deny.
    Deny,
}

/// One prefix-list entry: `prefix` with optional `ge`/`le` length bounds (FRR semantics: without
/// bounds only the exact prefix matches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixListEntry {
    /// Permit or deny.
    pub action: Action,
    /// The covering prefix.
    pub prefix: IpNet,
    /// Minimum length (inclusive).
    pub ge: Option<u8>,
    /// Maximum length (inclusive).
    pub le: Option<u8>,
}

/// An ordered prefix list; the first matching entry decides, no match denies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrefixList {
    /// Entries in order.
    pub entries: Vec<PrefixListEntry>,
}

impl PrefixList {
    /// Add an entry.
    pub fn push(mut self, action: Action, prefix: IpNet, ge: Option<u8>, le: Option<u8>) -> Self {
        self.entries.push(PrefixListEntry {
            action,
            prefix: prefix.trunc(),
            ge,
            le,
        });
        self
    }
    /// Whether `p` is permitted.
    pub fn permits(&self, p: IpNet) -> bool {
        for e in &self.entries {
            let same_family = matches!(
                (e.prefix.addr(), p.addr()),
                (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
            );
            if !same_family || !e.prefix.contains(&p.network()) {
                continue;
            }
            let l = p.prefix_len();
            if l < e.prefix.prefix_len() {
                continue;
            }
            let ok = match (e.ge, e.le) {
                (None, None) => l == e.prefix.prefix_len(),
                (ge, le) => {
                    l >= ge.unwrap_or(e.prefix.prefix_len())
                        && l <= le.unwrap_or(p.max_prefix_len())
                }
            };
            if ok {
                return e.action == Action::Permit;
            }
        }
        false
    }
}

/// A match condition of a route-map clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// The prefix is permitted by the list.
    Prefix(PrefixList),
    /// The route carries this community.
    Community(Community),
    /// The route's AS_PATH contains this AS.
    AsPathContains(u32),
    /// The route carries at least one of these communities.
    CommunityAny(Vec<Community>),
    /// The route's AS_PATH matches this regular expression.
    AsPathRegex(AsPathRegex),
    /// The route was originated by this AS (the last AS of its path, see [`origin_as`]).
    OriginAs(u32),
    /// The AS_PATH length (as the decision process counts it) is within these bounds
    /// (inclusive).
    AsPathLen {
        /// Minimum length.
        min: Option<usize>,
        /// Maximum length.
        max: Option<usize>,
    },
    /// The route was learned from (import) or is sent to (export) a peer of this AS.
    PeerAs(u32),
}

impl Match {
    fn matches(&self, prefix: IpNet, peer: &PeerInfo, attrs: &Attrs) -> bool {
        match self {
            Match::Prefix(l) => l.permits(prefix),
            Match::Community(c) => attrs.has_community(*c),
            Match::AsPathContains(a) => attrs.as_path.count(*a) > 0,
            Match::CommunityAny(cs) => cs.iter().any(|c| attrs.has_community(*c)),
            Match::AsPathRegex(r) => r.is_match(&attrs.as_path),
            Match::OriginAs(a) => origin_as(&attrs.as_path) == Some(*a),
            Match::AsPathLen { min, max } => {
                let l = attrs.as_path.path_len();
                min.is_none_or(|m| l >= m) && max.is_none_or(|m| l <= m)
            }
            Match::PeerAs(a) => peer.asn == *a,
        }
    }
}

/// A set action of a route-map clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Set {
    /// Set LOCAL_PREF.
    LocalPref(u32),
    /// Set MED.
    Med(u32),
    /// Set the local weight.
    Weight(u32),
    /// Add a community.
    AddCommunity(Community),
    /// Remove a community.
    DeleteCommunity(Community),
    /// Prepend an AS this many times.
    Prepend(u32, u8),
    /// Set the next hop.
    NextHop(IpAddr),
}

impl Set {
    fn apply(&self, attrs: &mut Attrs) {
        match self {
            Set::LocalPref(v) => attrs.local_pref = Some(*v),
            Set::Med(v) => attrs.med = Some(*v),
            Set::Weight(v) => attrs.weight = *v,
            Set::AddCommunity(c) => {
                if !attrs.communities.contains(c) {
                    attrs.communities.push(*c);
                }
            }
            Set::DeleteCommunity(c) => attrs.communities.retain(|x| x != c),
            Set::Prepend(asn, n) => {
                crate::aspath::prepend(&mut attrs.as_path, *asn, usize::from(*n));
            }
            Set::NextHop(nh) => attrs.next_hop = *nh,
        }
    }
}

/// One clause: if every match holds, apply the sets and return the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// Permit or deny when matched.
    pub action: Action,
    /// All must match (an empty list matches everything).
    pub matches: Vec<Match>,
    /// Applied on a permit match.
    pub sets: Vec<Set>,
}

/// An ordered list of clauses; no match denies (like FRR's route-map).
///
/// ```
/// use bgp_rib::policy::*;
/// use bgp_rib::attrs::Attrs;
/// use bgp_rib::decision::PeerInfo;
/// let pl = PrefixList::default().push(Action::Permit, "10.0.0.0/8".parse().unwrap(), None, Some(24));
/// let rm = RouteMap { clauses: vec![Clause { action: Action::Permit, matches: vec![Match::Prefix(pl)],
///     sets: vec![Set::LocalPref(200)] }] };
/// let peer = PeerInfo::new("192.0.2.1".parse().unwrap(), 65001, "1.1.1.1".parse().unwrap(), 65000);
/// let mut a = Attrs::new("192.0.2.1".parse().unwrap());
/// assert!(rm.apply("10.1.0.0/16".parse().unwrap(), &peer, &mut a));
/// assert_eq!(a.local_pref, Some(200));
/// assert!(!rm.apply("10.1.1.0/25".parse().unwrap(), &peer, &mut a));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteMap {
    /// Clauses in order.
    pub clauses: Vec<Clause>,
}

impl Policy for RouteMap {
    fn apply(&self, prefix: IpNet, peer: &PeerInfo, attrs: &mut Attrs) -> bool {
        for c in &self.clauses {
            if c.matches.iter().all(|m| m.matches(prefix, peer, attrs)) {
                if c.action == Action::Permit {
                    for s in &c.sets {
                        s.apply(attrs);
                    }
                    return true;
                }
                return false;
            }
        }
        false
    }
}

/// Accept everything unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptAll;

impl Policy for AcceptAll {
    fn apply(&self, _prefix: IpNet, _peer: &PeerInfo, _attrs: &mut Attrs) -> bool {
        true
    }
    fn is_accept_all(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn prefix_list_exact_ge_le() {
        let pl = PrefixList::default()
            .push(Action::Deny, n("10.1.0.0/16"), None, None)
            .push(Action::Permit, n("10.0.0.0/8"), Some(16), Some(24));
        assert!(!pl.permits(n("10.1.0.0/16")), "exact deny first");
        assert!(pl.permits(n("10.2.0.0/16")));
        assert!(pl.permits(n("10.1.2.0/24")));
        assert!(!pl.permits(n("10.0.0.0/8")), "shorter than ge");
        assert!(!pl.permits(n("10.1.2.0/25")), "longer than le");
        assert!(!pl.permits(n("11.0.0.0/16")), "no match denies");
        assert!(!pl.permits(n("::/0")));
    }

    #[test]
    fn route_map_community_match_and_sets() {
        let rm = RouteMap {
            clauses: vec![
                Clause {
                    action: Action::Deny,
                    matches: vec![Match::Community(Community::new(65000, 666))],
                    sets: vec![],
                },
                Clause {
                    action: Action::Permit,
                    matches: vec![],
                    sets: vec![
                        Set::Weight(7),
                        Set::AddCommunity(Community::new(1, 1)),
                        Set::Prepend(65000, 2),
                    ],
                },
            ],
        };
        let peer = PeerInfo::new(n("192.0.2.1/32").addr(), 1, "1.1.1.1".parse().unwrap(), 2);
        let mut a = Attrs::new(n("192.0.2.1/32").addr());
        assert!(rm.apply(n("10.0.0.0/8"), &peer, &mut a));
        assert_eq!(a.weight, 7);
        assert_eq!(a.communities, vec![Community::new(1, 1)]);
        assert_eq!(a.as_path.path_len(), 2);
        a.communities.push(Community::new(65000, 666));
        assert!(!rm.apply(n("10.0.0.0/8"), &peer, &mut a));
    }

    #[test]
    fn route_map_as_path_origin_length_and_peer_matches() {
        let clause = |m: Match| RouteMap {
            clauses: vec![Clause {
                action: Action::Permit,
                matches: vec![m],
                sets: vec![Set::LocalPref(50)],
            }],
        };
        let peer = PeerInfo::new(
            n("192.0.2.1/32").addr(),
            65001,
            "1.1.1.1".parse().unwrap(),
            2,
        );
        let mut a = Attrs::new(n("192.0.2.1/32").addr());
        a.as_path = bgp_wire::attr::AsPath::from_sequence([65001, 65002, 65003]);
        a.communities.push(Community::new(1, 2));
        let p = n("10.0.0.0/8");
        let ok = |m: Match| clause(m).apply(p, &peer, &mut a.clone());
        assert!(ok(Match::AsPathRegex(AsPathRegex::new("^65001_").unwrap())));
        assert!(!ok(Match::AsPathRegex(
            AsPathRegex::new("^65002_").unwrap()
        )));
        assert!(ok(Match::OriginAs(65003)));
        assert!(!ok(Match::OriginAs(65001)));
        assert!(ok(Match::AsPathLen {
            min: Some(3),
            max: Some(3)
        }));
        assert!(!ok(Match::AsPathLen {
            min: None,
            max: Some(2)
        }));
        assert!(ok(Match::PeerAs(65001)));
        assert!(!ok(Match::PeerAs(65002)));
        assert!(ok(Match::CommunityAny(vec![
            Community::new(9, 9),
            Community::new(1, 2)
        ])));
        assert!(!ok(Match::CommunityAny(vec![Community::new(9, 9)])));
    }
}
