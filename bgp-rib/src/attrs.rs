//! Path attributes as the RIB holds them, and the interner that shares identical sets.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use bgp_wire::PathAttribute;
use bgp_wire::attr::{
    Aggregator, AsPath, Community, ExtendedCommunity, LargeCommunity, MpNextHop, Origin,
};

use crate::prefix::{FastBuild, FastHasher};

/// The attributes of one path, typed for the decision process.
///
/// Values are interned by [`Interner`]: paths with identical attributes share one `Arc<Attrs>`.
/// The common attributes are inline; the rarely present ones live in [`ExtraAttrs`] behind a box
/// that is absent when they all are: 136 bytes per attribute set, an AS path of up to ten AS
/// numbers included with no heap block of its own, plus a 136-byte [`ExtraAttrs`] only when
/// one of the rare attributes is present.
/// `weight` is local (never sent), set by import policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attrs {
    /// ORIGIN.
    pub origin: Origin,
    /// AS_PATH (4-octet ASNs).
    pub as_path: AsPath,
    /// Next hop (NEXT_HOP for IPv4, the MP_REACH_NLRI global address otherwise).
    pub next_hop: IpAddr,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF.
    pub local_pref: Option<u32>,
    /// COMMUNITIES.
    pub communities: Vec<Community>,
    /// Local weight (FRR's `weight`): higher wins, first step of the decision. Never sent.
    pub weight: u32,
    /// The rarely present attributes; `None` when all are absent (see [`Attrs::extra_mut`]).
    pub extra: Option<Box<ExtraAttrs>>,
}

/// The less common attributes of a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ExtraAttrs {
    /// IPv6 link-local next hop, if one was sent.
    pub link_local: Option<Ipv6Addr>,
    /// ATOMIC_AGGREGATE.
    pub atomic_aggregate: bool,
    /// AGGREGATOR.
    pub aggregator: Option<Aggregator>,
    /// EXTENDED_COMMUNITIES.
    pub ext_communities: Vec<ExtendedCommunity>,
    /// LARGE_COMMUNITY.
    pub large_communities: Vec<LargeCommunity>,
    /// ORIGINATOR_ID (RFC 4456).
    pub originator_id: Option<Ipv4Addr>,
    /// CLUSTER_LIST (RFC 4456).
    pub cluster_list: Vec<Ipv4Addr>,
    /// Other attributes kept to pass on (optional transitive ones we do not interpret).
    pub other: Vec<PathAttribute>,
}

static NO_EXTRA: ExtraAttrs = ExtraAttrs {
    link_local: None,
    atomic_aggregate: false,
    aggregator: None,
    ext_communities: Vec::new(),
    large_communities: Vec::new(),
    originator_id: None,
    cluster_list: Vec::new(),
    other: Vec::new(),
};

impl Attrs {
    /// Minimal attributes: ORIGIN IGP, empty AS_PATH, the given next hop.
    pub fn new(next_hop: IpAddr) -> Self {
        Attrs {
            origin: Origin::Igp,
            as_path: AsPath::default(),
            next_hop,
            med: None,
            local_pref: None,
            communities: Vec::new(),
            weight: 0,
            extra: None,
        }
    }

    /// The rare attributes (all absent when there is no box).
    pub fn extra(&self) -> &ExtraAttrs {
        self.extra.as_deref().unwrap_or(&NO_EXTRA)
    }
    /// The rare attributes, for changing (creates the box).
    pub fn extra_mut(&mut self) -> &mut ExtraAttrs {
        self.extra.get_or_insert_with(Default::default)
    }
    /// Drop an all-absent box, so equal attribute sets compare and hash equal.
    pub fn normalize(&mut self) {
        if self.extra.as_deref() == Some(&NO_EXTRA) {
            self.extra = None;
        }
    }
    /// ORIGINATOR_ID.
    pub fn originator_id(&self) -> Option<Ipv4Addr> {
        self.extra().originator_id
    }
    /// CLUSTER_LIST.
    pub fn cluster_list(&self) -> &[Ipv4Addr] {
        &self.extra().cluster_list
    }
    /// IPv6 link-local next hop.
    pub fn link_local(&self) -> Option<Ipv6Addr> {
        self.extra().link_local
    }

    /// Build from the attributes of an UPDATE. The next hop is taken from MP_REACH_NLRI when
    /// present, else NEXT_HOP; `None` when neither gives an address (such an UPDATE carries no
    /// usable route). MP_REACH/MP_UNREACH and AS4_* are not kept. An UPDATE with both IPv4
    /// NLRI and MP_REACH_NLRI needs two sets: [`crate::Rib::apply_update`] gives the IPv4 NLRI
    /// the NEXT_HOP one.
    pub fn from_wire(attrs: &[PathAttribute]) -> Option<Self> {
        let mut nh: Option<IpAddr> = None;
        let mut a = Attrs::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        for attr in attrs {
            match attr {
                PathAttribute::Origin(o) => a.origin = *o,
                PathAttribute::AsPath(p) => a.as_path = p.clone(),
                PathAttribute::NextHop(n) => {
                    if nh.is_none() {
                        nh = Some(IpAddr::V4(*n));
                    }
                }
                PathAttribute::MultiExitDisc(m) => a.med = Some(*m),
                PathAttribute::LocalPref(l) => a.local_pref = Some(*l),
                PathAttribute::AtomicAggregate => a.extra_mut().atomic_aggregate = true,
                PathAttribute::Aggregator(g) => a.extra_mut().aggregator = Some(*g),
                PathAttribute::Communities(c) => a.communities = c.clone(),
                PathAttribute::OriginatorId(o) => a.extra_mut().originator_id = Some(*o),
                PathAttribute::ClusterList(c) => a.extra_mut().cluster_list = c.clone(),
                PathAttribute::ExtendedCommunities(c) => a.extra_mut().ext_communities = c.clone(),
                PathAttribute::LargeCommunities(c) => a.extra_mut().large_communities = c.clone(),
                PathAttribute::MpReachNlri(r) => match &r.next_hop {
                    MpNextHop::V4(v) => nh = Some(IpAddr::V4(*v)),
                    MpNextHop::V6 { global, link_local } => {
                        nh = Some(IpAddr::V6(*global));
                        a.extra_mut().link_local = *link_local;
                    }
                    MpNextHop::Raw(_) => {}
                },
                PathAttribute::MpUnreachNlri(_)
                | PathAttribute::As4Path(_)
                | PathAttribute::As4Aggregator(_) => {}
                other => a.extra_mut().other.push(other.clone()),
            }
        }
        a.next_hop = nh?;
        a.normalize();
        Some(a)
    }

    /// The attributes in wire order for an UPDATE carrying IPv4 unicast NLRI (NEXT_HOP included
    /// when the next hop is IPv4; MP_REACH_NLRI is the caller's business for other families).
    pub fn to_wire(&self) -> Vec<PathAttribute> {
        let x = self.extra();
        let mut v = Vec::with_capacity(8 + x.other.len());
        v.push(PathAttribute::Origin(self.origin));
        v.push(PathAttribute::AsPath(self.as_path.clone()));
        if let IpAddr::V4(n) = self.next_hop {
            v.push(PathAttribute::NextHop(n));
        }
        if let Some(m) = self.med {
            v.push(PathAttribute::MultiExitDisc(m));
        }
        if let Some(l) = self.local_pref {
            v.push(PathAttribute::LocalPref(l));
        }
        if x.atomic_aggregate {
            v.push(PathAttribute::AtomicAggregate);
        }
        if let Some(g) = x.aggregator {
            v.push(PathAttribute::Aggregator(g));
        }
        if !self.communities.is_empty() {
            v.push(PathAttribute::Communities(self.communities.clone()));
        }
        if let Some(o) = x.originator_id {
            v.push(PathAttribute::OriginatorId(o));
        }
        if !x.cluster_list.is_empty() {
            v.push(PathAttribute::ClusterList(x.cluster_list.clone()));
        }
        if !x.ext_communities.is_empty() {
            v.push(PathAttribute::ExtendedCommunities(
                x.ext_communities.clone(),
            ));
        }
        if !x.large_communities.is_empty() {
            v.push(PathAttribute::LargeCommunities(x.large_communities.clone()));
        }
        v.extend(x.other.iter().cloned());
        v
    }

    /// Whether a standard community is attached.
    pub fn has_community(&self, c: Community) -> bool {
        self.communities.contains(&c)
    }

    /// The link-bandwidth extended community's value in bytes/s, if attached.
    pub fn link_bandwidth(&self) -> Option<f32> {
        self.extra()
            .ext_communities
            .iter()
            .find_map(|c| c.link_bandwidth())
    }
}

fn attrs_hash(a: &Attrs) -> u64 {
    let mut h = FastHasher::default();
    a.hash(&mut h);
    h.finish()
}

/// Stores each distinct attribute set once.
///
/// [`Interner::intern`] returns the shared `Arc`; [`Interner::release`] drops the interner's copy
/// when the caller's reference was the last one outside the interner.
///
/// The table is keyed by a 64-bit hash of the attributes, computed once per call, so growing the
/// table never re-hashes attribute sets. Should two different sets ever share a hash, the second
/// is simply not shared (correct, just not deduplicated).
///
/// ```
/// use bgp_rib::attrs::{Attrs, Interner};
/// use std::sync::Arc;
/// let mut i = Interner::default();
/// let a = i.intern(Attrs::new("192.0.2.1".parse().unwrap()));
/// let b = i.intern(Attrs::new("192.0.2.1".parse().unwrap()));
/// assert!(Arc::ptr_eq(&a, &b));
/// assert_eq!(i.len(), 1);
/// i.release(a);
/// i.release(b);
/// assert_eq!(i.len(), 0);
/// ```
#[derive(Debug, Default)]
pub struct Interner {
    map: HashMap<u64, Arc<Attrs>, FastBuild>,
    /// The table is swept when it reaches this size (see [`Interner::release`]).
    sweep_at: usize,
}

impl Interner {
    /// The shared copy of `a`.
    pub fn intern(&mut self, mut a: Attrs) -> Arc<Attrs> {
        a.normalize();
        let h = attrs_hash(&a);
        match self.map.get(&h) {
            Some(e) if **e == a => e.clone(),
            // A 64-bit collision: keep it unshared.
            Some(_) => Arc::new(a),
            None => {
                let arc = Arc::new(a);
                self.insert(h, arc.clone());
                arc
            }
        }
    }
    /// The shared copy of an `Arc` that may come from elsewhere.
    pub fn intern_arc(&mut self, a: &Arc<Attrs>) -> Arc<Attrs> {
        if a.extra.as_deref() == Some(&NO_EXTRA) {
            return self.intern((**a).clone());
        }
        let h = attrs_hash(a);
        match self.map.get(&h) {
            Some(e) if Arc::ptr_eq(e, a) || **e == **a => e.clone(),
            Some(_) => a.clone(),
            None => {
                self.insert(h, a.clone());
                a.clone()
            }
        }
    }
    fn insert(&mut self, h: u64, a: Arc<Attrs>) {
        if self.map.len() >= self.sweep_at {
            // Sets whose last other holder dropped them without `release` (an Adj-RIB-Out
            // keeps the Loc-RIB's sets): forgotten here, once per doubling of the table.
            self.map.retain(|_, a| Arc::strong_count(a) > 1);
            self.sweep_at = (2 * self.map.len()).max(1024);
        }
        self.map.insert(h, a);
    }
    /// Give back a reference; the table forgets the value when nobody else holds it. A value
    /// someone else still holds stays; once they drop it, it is forgotten at the next sweep
    /// (when the table has doubled since the last one).
    pub fn release(&mut self, a: Arc<Attrs>) {
        // The interner holds one reference and `a` another: 2 means `a` was the last user.
        if Arc::strong_count(&a) == 2 {
            let h = attrs_hash(&a);
            if self.map.get(&h).is_some_and(|e| Arc::ptr_eq(e, &a)) {
                self.map.remove(&h);
            }
        }
    }
    /// Number of distinct attribute sets held.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp_wire::AfiSafi;
    use bgp_wire::attr::MpReach;
    use bgp_wire::nlri::MpNlri;

    #[test]
    fn from_wire_prefers_mp_next_hop_and_round_trips() {
        let wire = vec![
            PathAttribute::Origin(Origin::Egp),
            PathAttribute::AsPath(AsPath::from_sequence([65001, 65002])),
            PathAttribute::NextHop("192.0.2.1".parse().unwrap()),
            PathAttribute::MultiExitDisc(5),
            PathAttribute::LocalPref(200),
            PathAttribute::Communities(vec![Community::new(1, 2)]),
        ];
        let a = Attrs::from_wire(&wire).unwrap();
        assert_eq!(a.next_hop, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(a.to_wire(), wire);
        let mut w6 = wire.clone();
        w6.push(PathAttribute::MpReachNlri(MpReach {
            af: AfiSafi::IPV6_UNICAST,
            next_hop: MpNextHop::V6 {
                global: "2001:db8::1".parse().unwrap(),
                link_local: None,
            },
            nlri: MpNlri::Prefixes(vec![]),
        }));
        let a6 = Attrs::from_wire(&w6).unwrap();
        assert_eq!(a6.next_hop, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert!(Attrs::from_wire(&[PathAttribute::Origin(Origin::Igp)]).is_none());
    }

    #[test]
    fn attrs_stay_small_and_normalized() {
        // 136: the AS path (64 bytes, up to ten ASNs inline) lives in the set itself.
        assert!(std::mem::size_of::<Attrs>() <= 136);
        let mut i = Interner::default();
        let a = i.intern(Attrs::new("10.0.0.1".parse().unwrap()));
        let mut b = Attrs::new("10.0.0.1".parse().unwrap());
        b.extra_mut();
        let b = i.intern(b);
        assert!(Arc::ptr_eq(&a, &b), "an empty extra box is the same set");
        assert!(b.extra.is_none());
    }

    #[test]
    fn sets_dropped_elsewhere_are_swept() {
        let mut i = Interner::default();
        let set = |k: u32| {
            let mut a = Attrs::new("10.0.0.1".parse().unwrap());
            a.med = Some(k);
            a
        };
        let kept = i.intern(set(u32::MAX));
        for k in 0..5000u32 {
            // Another holder keeps it past `release`, then drops it.
            let a = i.intern(set(k));
            let other = a.clone();
            i.release(a);
            assert!(i.len() <= 1024, "swept as it grows: {}", i.len());
            drop(other);
        }
        let again = i.intern(set(u32::MAX));
        assert!(
            Arc::ptr_eq(&kept, &again),
            "a set still in use survives the sweeps"
        );
    }

    #[test]
    fn interner_keeps_value_while_used() {
        let mut i = Interner::default();
        let mut x = Attrs::new("10.0.0.1".parse().unwrap());
        let a = i.intern(x.clone());
        x.med = Some(1);
        let b = i.intern(x);
        assert!(!Arc::ptr_eq(&a, &b));
        let a2 = i.intern((*a).clone());
        assert!(Arc::ptr_eq(&a, &a2));
        i.release(a);
        assert_eq!(i.len(), 2, "a2 still uses it");
        i.release(a2);
        assert_eq!(i.len(), 1);
    }
}
