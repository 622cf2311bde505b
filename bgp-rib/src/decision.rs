//! The decision process: RFC 4271 §9.1 with the steps users expect from FRR, and ECMP multipath.
//!
//! [`compare`] ranks two paths and says which step decided ([`Reason`]). [`select`] picks the best
//! path and the multipath set from a candidate list. With `deterministic_med` the result does not
//! depend on the order of the candidates: paths are grouped by neighbouring AS, each group's
//! winner is found with MED compared inside the group, then the group winners are compared.
//!
//! Length: the code is about 520 lines; the rest is its unit tests, one per decision step.

use std::cmp::Ordering;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use bgp_wire::attr::Community;

use crate::attrs::Attrs;

/// The default LOCAL_PREF assumed when the attribute is missing (RFC 4271 leaves it local; 100
/// is the common default).
pub const DEFAULT_LOCAL_PREF: u32 = 100;

/// Options of the decision process, named after FRR's knobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionConfig {
    /// Our AS.
    pub local_as: u32,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// Our route-reflector cluster id (defaults to the router id when we reflect).
    pub cluster_id: Option<Ipv4Addr>,
    /// How many times our own AS may appear in a received AS_PATH (`allowas-in`); 0 rejects any.
    pub allowas_in: u8,
    /// `maximum-paths` for eBGP best paths (1 disables multipath).
    pub max_paths_ebgp: u16,
    /// `maximum-paths ibgp` for iBGP best paths (1 disables multipath).
    pub max_paths_ibgp: u16,
    /// `bgp bestpath as-path multipath-relax`: multipath across different neighbouring ASes /
    /// AS_PATHs of equal length.
    pub multipath_relax: bool,
    /// `bgp deterministic-med`: order-independent MED comparison.
    pub deterministic_med: bool,
    /// `bgp always-compare-med`: compare MED whatever the neighbouring AS.
    pub always_compare_med: bool,
    /// `bgp bestpath med missing-as-worst`: a missing MED counts as 2^32-1, not 0.
    pub missing_as_worst: bool,
    /// Prefer the older of two eBGP paths before comparing router ids (FRR's default unless
    /// `bgp bestpath compare-routerid`; off here so results are reproducible).
    pub prefer_oldest_ebgp: bool,
}

impl DecisionConfig {
    /// Defaults for an AS and router id: multipath off, deterministic-med on.
    pub fn new(local_as: u32, router_id: Ipv4Addr) -> Self {
        DecisionConfig {
            local_as,
            router_id,
            cluster_id: None,
            allowas_in: 0,
            max_paths_ebgp: 1,
            max_paths_ibgp: 1,
            multipath_relax: false,
            deterministic_med: true,
            always_compare_med: false,
            missing_as_worst: false,
            prefer_oldest_ebgp: false,
        }
    }
    /// The cluster id in use (the configured one, else the router id).
    pub fn effective_cluster_id(&self) -> Ipv4Addr {
        self.cluster_id.unwrap_or(self.router_id)
    }
}

/// What we know about the peer a path came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerInfo {
    /// The peer's address (the last tie-break).
    pub addr: IpAddr,
    /// The peer's AS.
    pub asn: u32,
    /// The peer's BGP identifier.
    pub router_id: Ipv4Addr,
    /// Whether the session is internal (peer AS = our AS).
    pub ibgp: bool,
    /// Whether the peer is a route-reflector client of ours (RFC 4456).
    pub rr_client: bool,
    /// Whether the session negotiated 4-octet AS numbers (RFC 6793); `true` from the
    /// constructors. When `false`, [`crate::Rib::apply_update`] merges AS4_PATH and
    /// AS4_AGGREGATOR into the path it stores.
    pub four_octet_as: bool,
    /// Whether the peer is a route-server client of ours (RFC 7947; eBGP only): routes
    /// exported to it keep their AS_PATH (our AS is not prepended), NEXT_HOP and MED, so
    /// we are transparent to it. `false` from the constructors.
    pub rs_client: bool,
}

impl PeerInfo {
    /// A peer; `ibgp` is derived from `local_as`.
    pub fn new(addr: IpAddr, asn: u32, router_id: Ipv4Addr, local_as: u32) -> Self {
        PeerInfo {
            addr,
            asn,
            router_id,
            ibgp: asn == local_as,
            rr_client: false,
            four_octet_as: true,
            rs_client: false,
        }
    }
    /// The pseudo-peer of locally originated routes.
    pub fn local(cfg: &DecisionConfig) -> Self {
        PeerInfo {
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            asn: cfg.local_as,
            router_id: cfg.router_id,
            ibgp: true,
            rr_client: false,
            four_octet_as: true,
            rs_client: false,
        }
    }
}

/// Which step of the decision process made a path win (FRR's "bestpath reason").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// Higher weight (local).
    Weight,
    /// Higher LOCAL_PREF (RFC 4271 §9.1.1).
    LocalPref,
    /// Locally originated.
    LocalOrigin,
    /// Shorter AS_PATH (§9.1.2.2 a).
    AsPathLen,
    /// Lower ORIGIN (§9.1.2.2 b).
    Origin,
    /// Lower MED from the same neighbouring AS (§9.1.2.2 c).
    Med,
    /// eBGP over iBGP (§9.1.2.2 d).
    EbgpOverIbgp,
    /// Lower IGP cost to the next hop (§9.1.2.2 e).
    IgpCost,
    /// Older eBGP path (optional).
    Older,
    /// Lower router id or ORIGINATOR_ID (§9.1.2.2 f, RFC 4456 §9).
    RouterId,
    /// Shorter CLUSTER_LIST (RFC 4456 §9).
    ClusterListLen,
    /// Lower peer address (§9.1.2.2 g).
    PeerAddress,
    /// Lower ADD-PATH path identifier (same peer).
    PathId,
    /// The only eligible path.
    OnlyPath,
}

impl Reason {
    /// FRR-like wording.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Weight => "weight",
            Reason::LocalPref => "local-pref",
            Reason::LocalOrigin => "locally originated",
            Reason::AsPathLen => "as-path length",
            Reason::Origin => "origin",
            Reason::Med => "MED",
            Reason::EbgpOverIbgp => "eBGP over iBGP",
            Reason::IgpCost => "IGP metric",
            Reason::Older => "older path",
            Reason::RouterId => "router id",
            Reason::ClusterListLen => "cluster-list length",
            Reason::PeerAddress => "peer address",
            Reason::PathId => "path id",
            Reason::OnlyPath => "only path",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a path cannot be selected at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exclusion {
    /// The next hop is not resolvable.
    UnresolvableNextHop,
    /// Our AS appears in the AS_PATH more often than `allowas_in` permits.
    AsLoop,
    /// ORIGINATOR_ID is our router id (RFC 4456 §8).
    OriginatorLoop,
    /// Our cluster id is in the CLUSTER_LIST (RFC 4456 §8).
    ClusterLoop,
}

/// Resolves a next hop to an IGP cost; `None` means unresolvable (the path is excluded).
pub trait NextHopResolver {
    /// The IGP cost to reach `nh`, or `None` if it cannot be reached.
    fn resolve(&self, nh: IpAddr) -> Option<u32>;
}

/// Every next hop is reachable at cost 0 (directly connected peers, as in the reference scenario).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllReachable;

impl NextHopResolver for AllReachable {
    fn resolve(&self, _nh: IpAddr) -> Option<u32> {
        Some(0)
    }
}

/// A next-hop resolver from a table of IGP/connected prefixes with costs, by longest-prefix match.
#[derive(Debug, Clone, Default)]
pub struct PrefixResolver {
    v4: crate::prefix::PrefixMap<u32, u32>,
    v6: crate::prefix::PrefixMap<u128, u32>,
}

impl PrefixResolver {
    /// Empty: nothing resolves.
    pub fn new() -> Self {
        Self::default()
    }
    /// Add a reachable prefix with its cost.
    pub fn add(&mut self, net: ipnet::IpNet, cost: u32) {
        match net {
            ipnet::IpNet::V4(n) => {
                self.v4.insert(u32::from(n.addr()), n.prefix_len(), cost);
            }
            ipnet::IpNet::V6(n) => {
                self.v6.insert(u128::from(n.addr()), n.prefix_len(), cost);
            }
        }
    }
}

impl NextHopResolver for PrefixResolver {
    fn resolve(&self, nh: IpAddr) -> Option<u32> {
        match nh {
            IpAddr::V4(a) => self.v4.longest_match(u32::from(a)).map(|(_, c)| *c),
            IpAddr::V6(a) => self.v6.longest_match(u128::from(a)).map(|(_, c)| *c),
        }
    }
}

/// One path as the decision process sees it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// Its attributes.
    pub attrs: &'a Attrs,
    /// The peer it came from.
    pub peer: &'a PeerInfo,
    /// Locally originated.
    pub local: bool,
    /// ADD-PATH path id (0 without ADD-PATH).
    pub path_id: u32,
    /// Arrival sequence number (lower is older).
    pub arrival: u32,
    /// IGP cost of the next hop (from the resolver).
    pub igp_cost: u32,
}

impl Candidate<'_> {
    fn ebgp(&self) -> bool {
        !self.local && !self.peer.ibgp
    }
    /// The neighbouring AS for MED comparison (0 for an empty AS_PATH).
    pub fn neighbour_as(&self) -> u32 {
        self.attrs.as_path.first_as().unwrap_or(0)
    }
    fn local_pref(&self) -> u32 {
        self.attrs.local_pref.unwrap_or(DEFAULT_LOCAL_PREF)
    }
    fn med(&self, cfg: &DecisionConfig) -> u32 {
        self.attrs
            .med
            .unwrap_or(if cfg.missing_as_worst { u32::MAX } else { 0 })
    }
    fn router_id(&self) -> Ipv4Addr {
        self.attrs.originator_id().unwrap_or(self.peer.router_id)
    }
}

/// Why `c` is excluded from selection, if it is (RFC 4271 §9.1.2, RFC 4456 §8).
pub fn exclusion(
    cfg: &DecisionConfig,
    attrs: &Attrs,
    local: bool,
    resolver: &dyn NextHopResolver,
) -> Result<u32, Exclusion> {
    if !local {
        if attrs.as_path.count(cfg.local_as) > usize::from(cfg.allowas_in) {
            return Err(Exclusion::AsLoop);
        }
        if attrs.originator_id() == Some(cfg.router_id) {
            return Err(Exclusion::OriginatorLoop);
        }
        if attrs.cluster_list().contains(&cfg.effective_cluster_id()) {
            return Err(Exclusion::ClusterLoop);
        }
    }
    if local {
        return Ok(0);
    }
    resolver
        .resolve(attrs.next_hop)
        .ok_or(Exclusion::UnresolvableNextHop)
}

/// Compare two paths: `Less` when `a` is preferred, with the deciding step.
/// `Equal` only for the same peer and path id.
pub fn compare(cfg: &DecisionConfig, a: &Candidate<'_>, b: &Candidate<'_>) -> (Ordering, Reason) {
    macro_rules! step {
        ($ord:expr, $r:expr) => {
            let o = $ord;
            if o != Ordering::Equal {
                return (o, $r);
            }
        };
    }
    // Higher weight wins.
    step!(b.attrs.weight.cmp(&a.attrs.weight), Reason::Weight);
    // §9.1.1: higher degree of preference (LOCAL_PREF).
    step!(b.local_pref().cmp(&a.local_pref()), Reason::LocalPref);
    // Locally originated routes win.
    step!(b.local.cmp(&a.local), Reason::LocalOrigin);
    // §9.1.2.2 a: shorter AS_PATH (AS_SET counts 1, confederation segments 0).
    step!(
        a.attrs.as_path.path_len().cmp(&b.attrs.as_path.path_len()),
        Reason::AsPathLen
    );
    // §9.1.2.2 b: lower ORIGIN.
    step!(a.attrs.origin.cmp(&b.attrs.origin), Reason::Origin);
    // §9.1.2.2 c: lower MED, only between routes from the same neighbouring AS.
    if cfg.always_compare_med || a.neighbour_as() == b.neighbour_as() {
        step!(a.med(cfg).cmp(&b.med(cfg)), Reason::Med);
    }
    // §9.1.2.2 d: eBGP over iBGP.
    step!(b.ebgp().cmp(&a.ebgp()), Reason::EbgpOverIbgp);
    // §9.1.2.2 e: lower interior cost to the next hop.
    step!(a.igp_cost.cmp(&b.igp_cost), Reason::IgpCost);
    // Optional: the older of two eBGP paths (RFC 5004 style stability).
    if cfg.prefer_oldest_ebgp && a.ebgp() && b.ebgp() {
        step!(a.arrival.cmp(&b.arrival), Reason::Older);
    }
    // §9.1.2.2 f / RFC 4456 §9: lower BGP identifier, ORIGINATOR_ID standing in for it.
    step!(a.router_id().cmp(&b.router_id()), Reason::RouterId);
    // RFC 4456 §9: shorter CLUSTER_LIST.
    step!(
        a.attrs
            .cluster_list()
            .len()
            .cmp(&b.attrs.cluster_list().len()),
        Reason::ClusterListLen
    );
    // §9.1.2.2 g: lower peer address.
    step!(a.peer.addr.cmp(&b.peer.addr), Reason::PeerAddress);
    // Same peer with ADD-PATH: lower path id, so the order is total.
    step!(a.path_id.cmp(&b.path_id), Reason::PathId);
    (Ordering::Equal, Reason::PathId)
}

/// Whether `c` may join the multipath set of `best` (FRR's rules): equal up to and including the
/// IGP cost, same kind of session, and for eBGP the same neighbouring AS, for iBGP an identical
/// AS_PATH, unless `multipath_relax`.
pub fn multipath_eligible(cfg: &DecisionConfig, best: &Candidate<'_>, c: &Candidate<'_>) -> bool {
    if best.local || c.local {
        return false;
    }
    let (o, r) = compare(cfg, best, c);
    if o != Ordering::Equal && r <= Reason::IgpCost {
        return false;
    }
    if cfg.multipath_relax {
        return true;
    }
    if best.ebgp() {
        best.peer.asn == c.peer.asn
    } else {
        best.attrs.as_path == c.attrs.as_path
    }
}

/// Outcome of [`select`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Index of the best path in the candidate slice.
    pub best: usize,
    /// Indices of the multipath set, best first, then in preference order.
    pub multipath: Vec<usize>,
    /// Why the best path beat its closest competitor.
    pub reason: Reason,
}

/// Pick the best path and multipath set among eligible candidates (excluded paths must not be
/// passed). `None` for an empty slice.
pub fn select(cfg: &DecisionConfig, cands: &[Candidate<'_>]) -> Option<Selection> {
    if cands.is_empty() {
        return None;
    }
    if cands.len() == 1 {
        return Some(Selection {
            best: 0,
            multipath: vec![0],
            reason: Reason::OnlyPath,
        });
    }
    let better = |i: usize, j: usize| compare(cfg, &cands[i], &cands[j]).0 == Ordering::Less;
    let best = if cfg.deterministic_med && !cfg.always_compare_med {
        // Group winners by neighbouring AS (within a group MED is comparable, so the order is
        // total), then compare the winners (MED never compared across groups: total again).
        let mut winners: Vec<usize> = Vec::new();
        for i in 0..cands.len() {
            let nas = cands[i].neighbour_as();
            match winners
                .iter_mut()
                .find(|w| cands[**w].neighbour_as() == nas)
            {
                Some(w) => {
                    if better(i, *w) {
                        *w = i;
                    }
                }
                None => winners.push(i),
            }
        }
        let mut b = winners[0];
        for &w in &winners[1..] {
            if better(w, b) {
                b = w;
            }
        }
        b
    } else {
        // RFC 4271 pairwise walk in the given order (order-dependent without deterministic-med
        // when MEDs from different ASes are involved; total with always-compare-med).
        let mut b = 0;
        for i in 1..cands.len() {
            if better(i, b) {
                b = i;
            }
        }
        b
    };
    // Reason: the deciding step against the closest competitor.
    let reason = (0..cands.len())
        .filter(|&i| i != best)
        .map(|i| compare(cfg, &cands[best], &cands[i]).1)
        .max()
        .unwrap_or(Reason::OnlyPath);
    let max = usize::from(if cands[best].ebgp() {
        cfg.max_paths_ebgp
    } else {
        cfg.max_paths_ibgp
    })
    .max(1);
    let mut others: Vec<usize> = (0..cands.len())
        .filter(|&i| i != best && multipath_eligible(cfg, &cands[best], &cands[i]))
        .collect();
    others.sort_by(|&i, &j| compare(cfg, &cands[i], &cands[j]).0);
    others.truncate(max - 1);
    let mut multipath = Vec::with_capacity(others.len() + 1);
    multipath.push(best);
    multipath.extend(others);
    Some(Selection {
        best,
        multipath,
        reason,
    })
}

/// A next hop of the ECMP set with its weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WeightedNextHop {
    /// The next hop address.
    pub addr: IpAddr,
    /// Relative weight (1 for plain ECMP; from link bandwidth when every member carries it).
    pub weight: u32,
}

/// The ordered, de-duplicated next hops of a multipath set, with weights.
///
/// When every member carries the link-bandwidth extended community, weights are proportional to
/// bandwidth (scaled to 1..=100 of the total); otherwise every weight is 1. Sorted by address.
pub fn next_hops<'a>(members: impl IntoIterator<Item = &'a Attrs>) -> Vec<WeightedNextHop> {
    let members: Vec<&Attrs> = members.into_iter().collect();
    let bws: Option<Vec<f64>> = members
        .iter()
        .map(|a| a.link_bandwidth().map(f64::from))
        .collect();
    let total: f64 = bws.as_ref().map(|b| b.iter().sum()).unwrap_or(0.0);
    let mut out: Vec<WeightedNextHop> = Vec::with_capacity(members.len());
    for (i, a) in members.iter().enumerate() {
        let w = match &bws {
            Some(b) if total > 0.0 && total.is_finite() => {
                let x = (b[i] / total * 100.0).round();
                if x.is_finite() { (x as u32).max(1) } else { 1 }
            }
            _ => 1,
        };
        match out.iter_mut().find(|n| n.addr == a.next_hop) {
            Some(n) => n.weight = n.weight.saturating_add(w),
            None => out.push(WeightedNextHop {
                addr: a.next_hop,
                weight: w,
            }),
        }
    }
    out.sort();
    out
}

/// Whether a route with these communities may be sent to a peer (RFC 1997 well-known
/// communities): NO_ADVERTISE to nobody, NO_EXPORT not to eBGP peers, NO_EXPORT_SUBCONFED not
/// to eBGP peers (no confederations here, so the same as NO_EXPORT).
pub fn communities_allow(attrs: &Attrs, to_ibgp: bool) -> bool {
    if attrs.has_community(Community::NO_ADVERTISE) {
        return false;
    }
    if !to_ibgp
        && (attrs.has_community(Community::NO_EXPORT)
            || attrs.has_community(Community::NO_EXPORT_SUBCONFED))
    {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp_wire::attr::{AsPath, AsSegment, AsSegmentType, ExtendedCommunity, Origin};
    use bgp_wire::smallvec::smallvec;

    fn cfg() -> DecisionConfig {
        DecisionConfig::new(65000, Ipv4Addr::new(10, 0, 0, 1))
    }
    fn peer(last: u8, asn: u32) -> PeerInfo {
        PeerInfo::new(
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
            asn,
            Ipv4Addr::new(1, 1, 1, last),
            65000,
        )
    }
    fn attrs(nh: u8, path: &[u32]) -> Attrs {
        let mut a = Attrs::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, nh)));
        a.as_path = AsPath::from_sequence(path.iter().copied());
        a
    }
    fn cand<'a>(a: &'a Attrs, p: &'a PeerInfo) -> Candidate<'a> {
        Candidate {
            attrs: a,
            peer: p,
            local: false,
            path_id: 0,
            arrival: 0,
            igp_cost: 0,
        }
    }
    /// Asserts `x` beats `y` on `r`, in both argument orders.
    fn wins(c: &DecisionConfig, x: &Candidate<'_>, y: &Candidate<'_>, r: Reason) {
        assert_eq!(compare(c, x, y), (Ordering::Less, r));
        assert_eq!(compare(c, y, x), (Ordering::Greater, r));
    }

    #[test]
    fn step_weight() {
        // FRR: weight is the first criterion, before LOCAL_PREF.
        let (p1, p2) = (peer(2, 65001), peer(3, 65001));
        let mut a = attrs(2, &[65001]);
        a.weight = 10;
        let mut b = attrs(3, &[65001]);
        b.local_pref = Some(500);
        wins(&cfg(), &cand(&a, &p1), &cand(&b, &p2), Reason::Weight);
    }

    #[test]
    fn step_local_pref_rfc4271_9_1_1() {
        // RFC 4271 §9.1.1: the degree of preference is LOCAL_PREF; missing counts as 100.
        let (p1, p2) = (peer(2, 65000), peer(3, 65000));
        let mut a = attrs(2, &[65001, 65002, 65003]);
        a.local_pref = Some(101);
        let b = attrs(3, &[65001]);
        wins(&cfg(), &cand(&a, &p1), &cand(&b, &p2), Reason::LocalPref);
    }

    #[test]
    fn step_locally_originated() {
        let (p1, p2) = (PeerInfo::local(&cfg()), peer(3, 65001));
        let a = attrs(0, &[65009, 65008]);
        let b = attrs(3, &[65001]);
        let mut ca = cand(&a, &p1);
        ca.local = true;
        wins(&cfg(), &ca, &cand(&b, &p2), Reason::LocalOrigin);
    }

    #[test]
    fn step_as_path_length_rfc4271_9_1_2_2_a() {
        // §9.1.2.2 a: an AS_SET counts 1 whatever its size; confederation segments count 0.
        let (p1, p2) = (peer(2, 65001), peer(3, 65001));
        let mut a = attrs(2, &[65001]);
        a.as_path.segments.push(AsSegment {
            kind: AsSegmentType::Set,
            asns: smallvec![1, 2, 3, 4],
        });
        a.as_path.segments.insert(
            0,
            AsSegment {
                kind: AsSegmentType::ConfedSequence,
                asns: smallvec![7, 8, 9],
            },
        );
        let b = attrs(3, &[65001, 5, 6]);
        assert_eq!(a.as_path.path_len(), 2);
        wins(&cfg(), &cand(&a, &p1), &cand(&b, &p2), Reason::AsPathLen);
    }

    #[test]
    fn step_origin_rfc4271_9_1_2_2_b() {
        let (p1, p2) = (peer(2, 65001), peer(3, 65001));
        let mut a = attrs(2, &[65001]);
        a.origin = Origin::Egp;
        let mut b = attrs(3, &[65001]);
        b.origin = Origin::Incomplete;
        wins(&cfg(), &cand(&a, &p1), &cand(&b, &p2), Reason::Origin);
    }

    #[test]
    fn step_med_same_neighbour_as_only_rfc4271_9_1_2_2_c() {
        let (p1, p2) = (peer(5, 65001), peer(3, 65002));
        let mut a = attrs(5, &[65001]);
        a.med = Some(5);
        let mut b = attrs(3, &[65001]);
        b.med = Some(50);
        wins(&cfg(), &cand(&a, &p1), &cand(&b, &p2), Reason::Med);
        // Different neighbouring AS: MED skipped, decided later (router id).
        let c = attrs(3, &[65002]);
        let mut c2 = c.clone();
        c2.med = Some(0);
        wins(&cfg(), &cand(&c2, &p2), &cand(&a, &p1), Reason::RouterId);
        // always-compare-med compares across ASes.
        let mut ac = cfg();
        ac.always_compare_med = true;
        a.med = Some(0);
        c2.med = Some(9);
        wins(&ac, &cand(&a, &p1), &cand(&c2, &p2), Reason::Med);
    }

    #[test]
    fn step_med_missing_as_worst() {
        let (p1, p2) = (peer(5, 65001), peer(3, 65001));
        let mut a = attrs(5, &[65001]);
        a.med = Some(10);
        let b = attrs(3, &[65001]);
        // Missing MED = 0 by default: b wins.
        wins(&cfg(), &cand(&b, &p2), &cand(&a, &p1), Reason::Med);
        let mut c = cfg();
        c.missing_as_worst = true;
        wins(&c, &cand(&a, &p1), &cand(&b, &p2), Reason::Med);
    }

    #[test]
    fn step_ebgp_over_ibgp_rfc4271_9_1_2_2_d() {
        let (p1, p2) = (peer(5, 65001), peer(3, 65000));
        let a = attrs(5, &[65001]);
        let b = attrs(3, &[65001]);
        wins(&cfg(), &cand(&a, &p1), &cand(&b, &p2), Reason::EbgpOverIbgp);
    }

    #[test]
    fn step_igp_cost_rfc4271_9_1_2_2_e() {
        let (p1, p2) = (peer(5, 65000), peer(3, 65000));
        let a = attrs(5, &[65001]);
        let b = attrs(3, &[65001]);
        let mut ca = cand(&a, &p1);
        ca.igp_cost = 1;
        let mut cb = cand(&b, &p2);
        cb.igp_cost = 2;
        wins(&cfg(), &ca, &cb, Reason::IgpCost);
    }

    #[test]
    fn step_prefer_oldest_ebgp() {
        let (p1, p2) = (peer(5, 65001), peer(3, 65001));
        let a = attrs(5, &[65001]);
        let b = attrs(3, &[65001]);
        let mut ca = cand(&a, &p1);
        ca.arrival = 1;
        let mut cb = cand(&b, &p2);
        cb.arrival = 2;
        // Off: router id decides (1.1.1.3 < 1.1.1.5).
        wins(&cfg(), &cb, &ca, Reason::RouterId);
        let mut c = cfg();
        c.prefer_oldest_ebgp = true;
        wins(&c, &ca, &cb, Reason::Older);
    }

    #[test]
    fn step_router_id_and_originator_id_rfc4456_9() {
        let (p1, p2) = (peer(5, 65000), peer(3, 65000));
        let a = attrs(5, &[65001]);
        let b = attrs(3, &[65001]);
        wins(&cfg(), &cand(&b, &p2), &cand(&a, &p1), Reason::RouterId);
        // ORIGINATOR_ID stands in for the router id of a reflected route.
        let mut b2 = b.clone();
        b2.extra_mut().originator_id = Some(Ipv4Addr::new(9, 9, 9, 9));
        wins(&cfg(), &cand(&a, &p1), &cand(&b2, &p2), Reason::RouterId);
    }

    #[test]
    fn step_cluster_list_length_rfc4456_9() {
        let (p1, p2) = (peer(5, 65000), peer(3, 65000));
        let mut a = attrs(5, &[65001]);
        a.extra_mut().originator_id = Some(Ipv4Addr::new(7, 7, 7, 7));
        let mut b = a.clone();
        b.extra_mut().cluster_list = vec![Ipv4Addr::new(8, 8, 8, 8)];
        wins(
            &cfg(),
            &cand(&a, &p1),
            &cand(&b, &p2),
            Reason::ClusterListLen,
        );
    }

    #[test]
    fn step_peer_address_rfc4271_9_1_2_2_g() {
        let p1 = peer(5, 65000);
        let mut p2 = peer(3, 65000);
        p2.router_id = p1.router_id;
        let a = attrs(5, &[65001]);
        wins(&cfg(), &cand(&a, &p2), &cand(&a, &p1), Reason::PeerAddress);
    }

    #[test]
    fn step_path_id_same_peer() {
        let p1 = peer(5, 65000);
        let a = attrs(5, &[65001]);
        let mut x = cand(&a, &p1);
        x.path_id = 1;
        let mut y = cand(&a, &p1);
        y.path_id = 2;
        wins(&cfg(), &x, &y, Reason::PathId);
    }

    #[test]
    fn exclusions() {
        let c = cfg();
        let r = AllReachable;
        let a = attrs(5, &[65001, 65000]);
        assert_eq!(exclusion(&c, &a, false, &r), Err(Exclusion::AsLoop));
        let mut c1 = c.clone();
        c1.allowas_in = 1;
        assert_eq!(exclusion(&c1, &a, false, &r), Ok(0));
        let mut b = attrs(5, &[65001]);
        b.extra_mut().originator_id = Some(c.router_id);
        assert_eq!(exclusion(&c, &b, false, &r), Err(Exclusion::OriginatorLoop));
        let mut d = attrs(5, &[65001]);
        d.extra_mut().cluster_list = vec![Ipv4Addr::new(3, 3, 3, 3), c.router_id];
        assert_eq!(exclusion(&c, &d, false, &r), Err(Exclusion::ClusterLoop));
        let mut pr = PrefixResolver::new();
        pr.add("10.0.0.0/30".parse().unwrap(), 7);
        let e = attrs(2, &[65001]);
        assert_eq!(exclusion(&c, &e, false, &pr), Ok(7));
        let f = attrs(5, &[65001]);
        assert_eq!(
            exclusion(&c, &f, false, &pr),
            Err(Exclusion::UnresolvableNextHop)
        );
    }

    #[test]
    fn deterministic_med_is_order_independent() {
        // The classic MED cycle: A(AS1, MED 10), B(AS2, MED 0... ), C(AS1, MED 5).
        // Pairwise: C beats A on MED; A vs B and C vs B fall through to router id.
        let pa = peer(1, 1);
        let pb = peer(2, 2);
        let pc = peer(3, 1);
        let mut a = attrs(1, &[1]);
        a.med = Some(10);
        let mut b = attrs(2, &[2]);
        b.med = Some(0);
        let mut c = attrs(3, &[1]);
        c.med = Some(5);
        let v = [cand(&a, &pa), cand(&b, &pb), cand(&c, &pc)];
        let orders = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        let mut det = cfg();
        det.deterministic_med = true;
        let mut bests = std::collections::HashSet::new();
        let mut non_det = std::collections::HashSet::new();
        let mut nd = cfg();
        nd.deterministic_med = false;
        for o in orders {
            let cs: Vec<Candidate<'_>> = o.iter().map(|&i| v[i]).collect();
            let s = select(&det, &cs).unwrap();
            bests.insert(cs[s.best].peer.addr);
            let s2 = select(&nd, &cs).unwrap();
            non_det.insert(cs[s2.best].peer.addr);
        }
        assert_eq!(bests.len(), 1, "deterministic-med picks one winner");
        // AS1 group winner is C (MED 5); C vs B by router id: B (1.1.1.2) wins.
        assert!(bests.contains(&pb.addr));
        assert!(non_det.len() > 1, "without it the arrival order matters");
    }

    #[test]
    fn multipath_rules() {
        let mut c = cfg();
        c.max_paths_ebgp = 4;
        c.max_paths_ibgp = 4;
        // eBGP: same neighbouring AS required.
        let (p1, p2, p3) = (peer(1, 65001), peer(2, 65001), peer(3, 65002));
        let a = attrs(1, &[65001, 7]);
        let b = attrs(2, &[65001, 8]);
        let d = attrs(3, &[65002, 7]);
        let cs = [cand(&a, &p1), cand(&b, &p2), cand(&d, &p3)];
        let s = select(&c, &cs).unwrap();
        assert_eq!(s.best, 0);
        assert_eq!(s.multipath, vec![0, 1]);
        c.multipath_relax = true;
        assert_eq!(select(&c, &cs).unwrap().multipath, vec![0, 1, 2]);
        c.max_paths_ebgp = 2;
        assert_eq!(select(&c, &cs).unwrap().multipath, vec![0, 1]);
        c.max_paths_ebgp = 1;
        assert_eq!(select(&c, &cs).unwrap().multipath, vec![0]);
        // iBGP: identical AS_PATH required (without relax).
        let mut c = cfg();
        c.max_paths_ibgp = 8;
        let (i1, i2, i3) = (peer(1, 65000), peer(2, 65000), peer(3, 65000));
        let x = attrs(1, &[65001, 7]);
        let y = attrs(2, &[65001, 7]);
        let z = attrs(3, &[65001, 8]);
        let cs = [cand(&x, &i1), cand(&y, &i2), cand(&z, &i3)];
        assert_eq!(select(&c, &cs).unwrap().multipath, vec![0, 1]);
        // A higher IGP cost leaves the set.
        let mut cs2 = cs;
        cs2[1].igp_cost = 5;
        assert_eq!(select(&c, &cs2).unwrap().multipath, vec![0]);
        // eBGP best does not take iBGP members.
        let e = attrs(4, &[65001, 7]);
        let pe = peer(4, 65001);
        let cs3 = [cand(&e, &pe), cand(&x, &i1)];
        let s = select(&c, &cs3).unwrap();
        assert_eq!((s.best, s.multipath.clone()), (0, vec![0]));
        assert_eq!(s.reason, Reason::EbgpOverIbgp);
    }

    #[test]
    fn weighted_next_hops_from_link_bandwidth() {
        let bw = |nh: u8, b: f32| {
            let mut a = attrs(nh, &[1]);
            a.extra_mut()
                .ext_communities
                .push(ExtendedCommunity::LinkBandwidth {
                    transitive: false,
                    asn: 1,
                    bandwidth_bits: b.to_bits(),
                });
            a
        };
        let (a, b, c) = (bw(1, 100.0), bw(2, 300.0), attrs(3, &[1]));
        let w = next_hops([&a, &b]);
        assert_eq!(w.iter().map(|x| x.weight).collect::<Vec<_>>(), vec![25, 75]);
        // One member without the community: plain ECMP.
        let w = next_hops([&a, &b, &c]);
        assert!(w.iter().all(|x| x.weight == 1));
        assert_eq!(w.len(), 3);
        // Same next hop twice is merged.
        assert_eq!(next_hops([&c, &c.clone()]).len(), 1);
    }

    #[test]
    fn well_known_communities() {
        let mut a = attrs(1, &[1]);
        assert!(communities_allow(&a, false));
        a.communities.push(Community::NO_EXPORT);
        assert!(!communities_allow(&a, false));
        assert!(communities_allow(&a, true));
        a.communities.push(Community::NO_ADVERTISE);
        assert!(!communities_allow(&a, true));
    }
}
