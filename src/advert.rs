//! Declarative advertisements: the desired set, its difference to what a peer was sent,
//! and the UPDATE messages that carry the difference.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use std::sync::{Arc, RwLock};

use bgp_rib::decision::communities_allow;
use bgp_rib::export::{AdjRibOut, OutPeerConfig, prepend};
use bgp_rib::policy::Policy;
use bgp_rib::{Attrs, DecisionConfig, PeerId, PeerInfo, Rib};
use bgp_wire::attr::{Community, LargeCommunity};
use bgp_wire::{AfiSafi, SessionContext, Update};
use ipnet::IpNet;

use crate::session::SessionInfo;

/// The next hop to advertise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NextHop {
    /// The local address of the session ("next hop self").
    #[default]
    SelfAddr,
    /// An explicit address.
    Addr(IpAddr),
}

impl std::str::FromStr for NextHop {
    type Err = std::net::AddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("self") {
            Ok(NextHop::SelfAddr)
        } else {
            s.parse().map(NextHop::Addr)
        }
    }
}

/// The attributes of one advertised prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RouteAttrs {
    /// Next hop.
    pub next_hop: NextHop,
    /// Standard communities (RFC 1997).
    pub communities: Vec<Community>,
    /// Large communities (RFC 8092).
    pub large_communities: Vec<LargeCommunity>,
    /// LOCAL_PREF, sent to iBGP peers only.
    pub local_pref: Option<u32>,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// How many extra times to prepend our AS (eBGP only).
    pub as_path_prepend: u8,
}

/// The full set of prefixes the speaker wants advertised, with their attributes.
pub type DesiredSet = BTreeMap<IpNet, RouteAttrs>;

/// The difference between what a peer has and what it should have.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// Prefixes to (re-)announce with these attributes: new or changed.
    pub announce: Vec<(IpNet, RouteAttrs)>,
    /// Prefixes to withdraw.
    pub withdraw: Vec<IpNet>,
}

impl Diff {
    /// True when nothing needs sending.
    pub fn is_empty(&self) -> bool {
        self.announce.is_empty() && self.withdraw.is_empty()
    }
}

/// What must change to go from `old` to `new`.
pub fn diff(old: &DesiredSet, new: &DesiredSet) -> Diff {
    let mut d = Diff::default();
    for (p, a) in new {
        if old.get(p) != Some(a) {
            d.announce.push((*p, a.clone()));
        }
    }
    for p in old.keys() {
        if !new.contains_key(p) {
            d.withdraw.push(*p);
        }
    }
    d
}

/// Add the GRACEFUL_SHUTDOWN community (RFC 8326) and LOCAL_PREF 0 to every route.
pub fn with_graceful_shutdown(set: &DesiredSet) -> DesiredSet {
    set.iter()
        .map(|(p, a)| {
            let mut a = a.clone();
            if !a.communities.contains(&Community::GRACEFUL_SHUTDOWN) {
                a.communities.push(Community::GRACEFUL_SHUTDOWN);
            }
            a.local_pref = Some(0);
            (*p, a)
        })
        .collect()
}

/// A route that could not be put in an UPDATE for this session, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The prefix.
    pub prefix: IpNet,
    /// Why it was not sent.
    pub reason: String,
}

/// The UPDATEs for a difference, and the routes left out.
#[derive(Debug, Clone, Default)]
pub struct Built {
    /// UPDATE messages in sending order (withdrawals first).
    pub updates: Vec<Update>,
    /// Announced prefixes that were sent.
    pub announced: Vec<IpNet>,
    /// Withdrawn prefixes that were sent.
    pub withdrawn: Vec<IpNet>,
    /// Announced prefixes that could not be sent on this session.
    pub skipped: Vec<Skipped>,
}

/// The unicast family of a prefix.
pub fn family_of(p: &IpNet) -> AfiSafi {
    match p {
        IpNet::V4(_) => AfiSafi::IPV4_UNICAST,
        IpNet::V6(_) => AfiSafi::IPV6_UNICAST,
    }
}

/// The route as the local pseudo-peer of a RIB holds it: ORIGIN IGP, empty AS_PATH, the next
/// hop (unspecified for "next hop self", which export fills with the session's address), MED,
/// LOCAL_PREF and the communities (sorted, without duplicates).
fn local_attrs(a: &RouteAttrs) -> Attrs {
    let nh = match a.next_hop {
        NextHop::Addr(addr) => addr.to_canonical(),
        NextHop::SelfAddr => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    let mut attrs = Attrs::new(nh);
    attrs.med = a.med;
    attrs.local_pref = a.local_pref;
    let mut c = a.communities.clone();
    c.sort();
    c.dedup();
    attrs.communities = c;
    if !a.large_communities.is_empty() {
        let mut l = a.large_communities.clone();
        l.sort();
        l.dedup();
        attrs.extra_mut().large_communities = l;
    }
    attrs
}

/// The per-route settings of the desired set as an export policy, applied by bgp-rib's export
/// after its protocol rules: extra AS_PATH prepends towards eBGP and an explicit next hop.
#[derive(Debug)]
struct RouteKnobs {
    local_as: u32,
    set: RwLock<Arc<DesiredSet>>,
}

impl Policy for RouteKnobs {
    fn apply(&self, prefix: IpNet, peer: &PeerInfo, attrs: &mut Attrs) -> bool {
        let set = self.set.read().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = set.get(&prefix) {
            if !peer.ibgp && r.as_path_prepend > 0 {
                prepend(
                    &mut attrs.as_path,
                    self.local_as,
                    usize::from(r.as_path_prepend),
                );
            }
            if let NextHop::Addr(addr) = r.next_hop {
                attrs.next_hop = addr.to_canonical();
            }
        }
        true
    }
}

/// What one session is sent, kept by bgp-rib's export pipeline: the desired set is originated
/// into a RIB of local routes (paths of the local pseudo-peer), and an [`AdjRibOut`] applies the
/// export rules (AS_PATH and next hop towards eBGP, LOCAL_PREF inside the AS, well-known
/// communities, AS4_PATH towards a 2-octet peer), remembers what was sent and packs the
/// differences into UPDATEs. The speaker adds only what a RIB cannot know: which routes the
/// session cannot carry (family not negotiated, next hop not expressible) and why.
///
/// ```
/// use kube_bgp::advert::{Advertiser, DesiredSet, RouteAttrs};
/// use kube_bgp::session::SessionInfo;
/// use std::sync::Arc;
/// let info = SessionInfo {
///     local_as: 64512,
///     peer_as: 64512,
///     local_addr: Some("192.168.1.10".parse().unwrap()),
///     families: vec![bgp_wire::AfiSafi::IPV4_UNICAST],
///     extended_next_hop: vec![],
///     max_message_len: 4096,
///     peer_router_id: "192.168.1.1".parse().unwrap(),
///     four_octet_as: true,
/// };
/// let mut adv = Advertiser::new(&info);
/// let mut set = DesiredSet::new();
/// set.insert("172.16.10.0/32".parse().unwrap(), RouteAttrs::default());
/// let built = adv.sync(&Arc::new(set));
/// assert_eq!(built.updates.len(), 1);
/// assert_eq!(built.announced.len(), 1);
/// // The same set again: nothing to send.
/// assert!(adv.sync(&Arc::new(adv.applied().as_ref().clone())).updates.is_empty());
/// ```
#[derive(Debug)]
pub struct Advertiser {
    info: SessionInfo,
    ctx: SessionContext,
    local: Rib,
    out: AdjRibOut,
    knobs: Arc<RouteKnobs>,
    applied: Arc<DesiredSet>,
}

impl Advertiser {
    /// The pipeline of a session that just came up (nothing sent yet).
    pub fn new(info: &SessionInfo) -> Self {
        // Our router id only matters when reflecting, which never applies to local routes.
        let cfg = DecisionConfig::new(info.local_as, Ipv4Addr::UNSPECIFIED);
        let mut local = Rib::new(cfg);
        // Changes are pushed to the Adj-RIB-Out prefix by prefix; no delta log to grow.
        local.set_track_deltas(false);
        let mut peer = PeerInfo::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            info.peer_as,
            info.peer_router_id,
            info.local_as,
        );
        peer.four_octet_as = info.four_octet_as;
        let knobs = Arc::new(RouteKnobs {
            local_as: info.local_as,
            set: RwLock::new(Arc::new(DesiredSet::new())),
        });
        let families = info
            .families
            .iter()
            .copied()
            .filter(|f| *f == AfiSafi::IPV4_UNICAST || *f == AfiSafi::IPV6_UNICAST)
            .collect();
        let out = AdjRibOut::new(
            PeerId(u32::MAX),
            OutPeerConfig {
                info: peer,
                local_addr: info
                    .local_addr
                    .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.to_canonical()),
                next_hop_self: false,
                route_reflector: false,
                policy: Some(knobs.clone() as Arc<dyn Policy>),
                families,
                add_path: false,
            },
        );
        let ctx = SessionContext {
            four_octet_as: info.four_octet_as,
            extended_message: info.max_message_len > bgp_wire::MAX_MESSAGE_LEN,
            extended_next_hop: info.extended_next_hop.clone(),
            ..SessionContext::default()
        };
        Advertiser {
            info: info.clone(),
            ctx,
            local,
            out,
            knobs,
            applied: Arc::new(DesiredSet::new()),
        }
    }

    /// The desired set the session's view was last brought to.
    pub fn applied(&self) -> &Arc<DesiredSet> {
        &self.applied
    }

    /// Number of routes the peer has from us.
    pub fn advertised(&self) -> usize {
        self.out.advertised()
    }

    /// Whether this session can carry `prefix` as `a` asks, or why not.
    fn sendable(&self, prefix: &IpNet, a: &RouteAttrs) -> Result<(), String> {
        let af = family_of(prefix);
        if !self.out.config().families.contains(&af) {
            return Err(format!("address family {af} not negotiated"));
        }
        let nh = match (a.next_hop, self.info.local_addr) {
            (NextHop::Addr(addr), _) => addr.to_canonical(),
            (NextHop::SelfAddr, Some(l)) => l.to_canonical(),
            (NextHop::SelfAddr, None) => {
                return Err("next hop self but the session's local address is unknown".into());
            }
        };
        if let (IpNet::V4(_), IpAddr::V6(v6)) = (prefix, nh)
            && !self.info.extended_next_hop.contains(&AfiSafi::IPV4_UNICAST)
        {
            return Err(format!(
                "IPv4 prefix with IPv6 next hop {v6} needs extended next hop (RFC 8950), not negotiated"
            ));
        }
        Ok(())
    }

    /// Bring the peer's view to `target`: the UPDATEs to send (withdrawals first, prefixes
    /// with the same exported attributes packed together, each within the session's size
    /// limit), what they announce and withdraw, and the changed routes this session cannot
    /// carry, with the reason.
    pub fn sync(&mut self, target: &Arc<DesiredSet>) -> Built {
        let d = diff(&self.applied, target);
        *self.knobs.set.write().unwrap_or_else(|e| e.into_inner()) = target.clone();
        self.applied = target.clone();
        if d.is_empty() {
            return Built::default();
        }
        let mut skipped = Vec::new();
        let mut held = Vec::new();
        for p in &d.withdraw {
            self.local.withdraw_local(*p);
        }
        for (p, a) in &d.announce {
            match self.sendable(p, a) {
                Ok(()) => {
                    self.local.originate(*p, local_attrs(a));
                    held.push((*p, a));
                }
                Err(reason) => {
                    self.local.withdraw_local(*p);
                    skipped.push(Skipped { prefix: *p, reason });
                }
            }
        }
        for p in d.withdraw.iter().chain(d.announce.iter().map(|(p, _)| p)) {
            self.out.refresh(&self.local, *p);
        }
        let mut built = self.take();
        // What export kept from the peer, or could not encode.
        let ibgp = self.info.is_ibgp();
        for (p, a) in held {
            if self.out.advertised_attrs(p).is_none() {
                let reason = if communities_allow(&local_attrs(a), ibgp) {
                    "the attributes do not fit in one message".to_string()
                } else {
                    "export rules hold it back from this peer (well-known community)".to_string()
                };
                skipped.push(Skipped { prefix: p, reason });
            }
        }
        built.skipped = skipped;
        built
    }

    /// Send every route of `af` again (the peer sent a ROUTE-REFRESH, RFC 2918).
    pub fn resend(&mut self, af: AfiSafi) -> Built {
        self.out.resend(af);
        self.take()
    }

    fn take(&mut self) -> Built {
        let updates = self.out.take_updates(&self.ctx);
        let mut built = Built::default();
        for u in &updates {
            built.announced.extend(u.announced().map(|(_, n)| n.prefix));
            built
                .withdrawn
                .extend(u.withdrawn_routes().map(|(_, n)| n.prefix));
        }
        built.updates = updates;
        built
    }
}

/// The End-of-RIB marker for a family (RFC 4724), bgp-wire's.
pub use bgp_wire::end_of_rib;

#[cfg(test)]
mod tests {
    use super::*;
    use bgp_wire::Nlri;
    use bgp_wire::attr::AsPath;
    use bgp_wire::attr::PathAttribute;

    fn info(local: u32, peer: u32, addr: &str) -> SessionInfo {
        SessionInfo {
            local_as: local,
            peer_as: peer,
            local_addr: Some(addr.parse().unwrap()),
            families: vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST],
            extended_next_hop: vec![],
            max_message_len: 4096,
            peer_router_id: Ipv4Addr::new(192, 0, 2, 1),
            four_octet_as: true,
        }
    }

    /// What a session that was brought to `old` is sent to bring it to `new`.
    fn build(info: &SessionInfo, old: &DesiredSet, new: &DesiredSet) -> Built {
        let mut adv = Advertiser::new(info);
        adv.sync(&Arc::new(old.clone()));
        adv.sync(&Arc::new(new.clone()))
    }

    fn set(items: &[(&str, RouteAttrs)]) -> DesiredSet {
        items
            .iter()
            .map(|(p, a)| (p.parse().unwrap(), a.clone()))
            .collect()
    }

    #[test]
    fn diff_sends_only_changes() {
        let a = RouteAttrs::default();
        let b = RouteAttrs {
            med: Some(5),
            ..Default::default()
        };
        let old = set(&[("10.0.0.1/32", a.clone()), ("10.0.0.2/32", a.clone())]);
        let new = set(&[("10.0.0.2/32", b.clone()), ("10.0.0.3/32", a.clone())]);
        let d = diff(&old, &new);
        assert_eq!(
            d.announce,
            vec![
                ("10.0.0.2/32".parse().unwrap(), b),
                ("10.0.0.3/32".parse().unwrap(), a)
            ]
        );
        assert_eq!(d.withdraw, vec!["10.0.0.1/32".parse::<IpNet>().unwrap()]);
        assert!(diff(&new, &new).is_empty());
    }

    #[test]
    fn ibgp_update_has_local_pref_and_empty_path() {
        let a = RouteAttrs {
            communities: vec![Community::new(64512, 7)],
            large_communities: vec![LargeCommunity {
                global: 64512,
                local1: 1,
                local2: 2,
            }],
            local_pref: Some(200),
            med: Some(10),
            ..Default::default()
        };
        let new = set(&[("172.16.10.0/32", a)]);
        let b = build(
            &info(64512, 64512, "192.168.1.10"),
            &DesiredSet::new(),
            &new,
        );
        assert_eq!(b.updates.len(), 1);
        let u = &b.updates[0];
        assert_eq!(u.nlri, vec![Nlri::new("172.16.10.0/32".parse().unwrap())]);
        assert!(
            u.attributes
                .contains(&PathAttribute::AsPath(AsPath::default()))
        );
        assert!(u.attributes.contains(&PathAttribute::LocalPref(200)));
        assert!(u.attributes.contains(&PathAttribute::MultiExitDisc(10)));
        assert!(
            u.attributes
                .contains(&PathAttribute::NextHop("192.168.1.10".parse().unwrap()))
        );
        assert!(
            u.attributes
                .contains(&PathAttribute::Communities(vec![Community::new(64512, 7)]))
        );
        assert!(
            u.attributes
                .iter()
                .any(|a| matches!(a, PathAttribute::LargeCommunities(v) if v.len() == 1))
        );
    }

    #[test]
    fn ebgp_prepends_and_omits_local_pref() {
        let a = RouteAttrs {
            local_pref: Some(200),
            as_path_prepend: 2,
            ..Default::default()
        };
        let new = set(&[("172.16.10.0/32", a)]);
        let b = build(
            &info(4_200_000_000, 64512, "192.168.1.10"),
            &DesiredSet::new(),
            &new,
        );
        let u = &b.updates[0];
        assert!(
            !u.attributes
                .iter()
                .any(|a| matches!(a, PathAttribute::LocalPref(_)))
        );
        assert!(
            u.attributes
                .contains(&PathAttribute::AsPath(AsPath::from_sequence([
                    4_200_000_000,
                    4_200_000_000,
                    4_200_000_000
                ])))
        );
    }

    #[test]
    fn ipv6_prefix_uses_mp_reach_and_unreach() {
        let old = set(&[("fd00::2/128", RouteAttrs::default())]);
        let new = set(&[("fd00::1/128", RouteAttrs::default())]);
        let b = build(&info(64512, 64512, "fd00:1::10"), &old, &new);
        assert_eq!(b.updates.len(), 2);
        assert!(matches!(
            &b.updates[0].attributes[0],
            PathAttribute::MpUnreachNlri(u) if u.withdrawn.prefixes().len() == 1
        ));
        let reach = b.updates[1]
            .attributes
            .iter()
            .find_map(|a| match a {
                PathAttribute::MpReachNlri(r) => Some(r),
                _ => None,
            })
            .unwrap();
        assert_eq!(reach.af, AfiSafi::IPV6_UNICAST);
        assert_eq!(reach.next_hop.addr(), Some("fd00:1::10".parse().unwrap()));
        assert!(b.updates[1].nlri.is_empty());
    }

    #[test]
    fn ipv4_over_ipv6_needs_extended_next_hop() {
        let new = set(&[("172.16.10.0/32", RouteAttrs::default())]);
        let mut i = info(64512, 64512, "fd00:1::10");
        let b = build(&i, &DesiredSet::new(), &new);
        assert!(b.updates.is_empty());
        assert_eq!(b.skipped.len(), 1);
        i.extended_next_hop = vec![AfiSafi::IPV4_UNICAST];
        let b = build(&i, &DesiredSet::new(), &new);
        let reach = b.updates[0]
            .attributes
            .iter()
            .find_map(|a| match a {
                PathAttribute::MpReachNlri(r) => Some(r),
                _ => None,
            })
            .unwrap();
        assert_eq!(reach.af, AfiSafi::IPV4_UNICAST);
        assert_eq!(reach.nlri.prefixes().len(), 1);
    }

    #[test]
    fn unnegotiated_family_is_skipped() {
        let mut i = info(64512, 64512, "192.168.1.10");
        i.families = vec![AfiSafi::IPV4_UNICAST];
        let old = set(&[("fd00::9/128", RouteAttrs::default())]);
        let new = set(&[("fd00::1/128", RouteAttrs::default())]);
        let b = build(&i, &old, &new);
        assert!(b.updates.is_empty());
        assert_eq!(b.skipped.len(), 1);
        assert!(b.withdrawn.is_empty());
    }

    #[test]
    fn many_prefixes_are_split_under_max_size() {
        let new: DesiredSet = (0..3000u32)
            .map(|i| {
                (
                    IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + i), 32).unwrap()),
                    RouteAttrs::default(),
                )
            })
            .collect();
        let b = build(
            &info(64512, 64512, "192.168.1.10"),
            &DesiredSet::new(),
            &new,
        );
        assert!(b.updates.len() > 1);
        assert_eq!(b.announced.len(), 3000);
        // Packed to the limit by bgp-wire's builder: the encoded size is what must fit.
        let ctx = bgp_wire::SessionContext::modern();
        for u in &b.updates {
            let mut buf = bytes::BytesMut::new();
            let m = bgp_wire::Message::Update(u.clone());
            bgp_wire::encode_message(&m, &ctx, &mut buf).unwrap();
            assert!(buf.len() <= 4096, "{} octets", buf.len());
        }
        let w = build(
            &info(64512, 64512, "192.168.1.10"),
            &new,
            &DesiredSet::new(),
        );
        assert_eq!(w.withdrawn.len(), 3000);
        assert!(w.updates.iter().all(|u| u.withdrawn.len() * 5 < 4096 - 23));
    }

    #[test]
    fn two_octet_peer_gets_as_trans_and_as4_path_rfc6793() {
        use bgp_wire::{Message, SessionContext};
        let mut i = info(4_200_000_000, 64512, "192.168.1.10");
        i.four_octet_as = false;
        let a = RouteAttrs {
            as_path_prepend: 1,
            ..Default::default()
        };
        let b = build(&i, &DesiredSet::new(), &set(&[("172.16.10.0/32", a)]));
        assert_eq!(b.updates.len(), 1);
        // On the wire of a 2-octet session: AS_TRANS in AS_PATH, the real path in AS4_PATH.
        let ctx = SessionContext::default();
        let mut buf = bytes::BytesMut::new();
        bgp_wire::encode_message(&Message::Update(b.updates[0].clone()), &ctx, &mut buf).unwrap();
        let back = bgp_wire::decode_message(buf.freeze(), &ctx).unwrap();
        let Message::Update(u) = back.message else {
            panic!("not an update")
        };
        assert!(
            u.attributes
                .contains(&PathAttribute::AsPath(AsPath::from_sequence([
                    23456, 23456
                ])))
        );
        assert!(
            u.attributes
                .contains(&PathAttribute::As4Path(AsPath::from_sequence([
                    4_200_000_000,
                    4_200_000_000
                ])))
        );
        // A 4-octet session carries the path as it is, without AS4_PATH.
        i.four_octet_as = true;
        let a = RouteAttrs {
            as_path_prepend: 1,
            ..Default::default()
        };
        let b = build(&i, &DesiredSet::new(), &set(&[("172.16.10.0/32", a)]));
        assert!(
            !b.updates[0]
                .attributes
                .iter()
                .any(|x| matches!(x, PathAttribute::As4Path(_)))
        );
    }

    #[test]
    fn route_refresh_resends_only_the_family() {
        let mut adv = Advertiser::new(&info(64512, 64512, "192.168.1.10"));
        let s = set(&[
            ("172.16.10.0/32", RouteAttrs::default()),
            ("fd00::1/128", RouteAttrs::default()),
        ]);
        assert_eq!(adv.sync(&Arc::new(s)).announced.len(), 2);
        let again = adv.resend(AfiSafi::IPV6_UNICAST);
        assert_eq!(
            again.announced,
            vec!["fd00::1/128".parse::<IpNet>().unwrap()]
        );
        assert!(again.withdrawn.is_empty());
        assert_eq!(adv.advertised(), 2);
    }

    #[test]
    fn well_known_community_is_held_back_with_a_reason() {
        let a = RouteAttrs {
            communities: vec![Community::NO_EXPORT],
            ..Default::default()
        };
        let s = set(&[("172.16.10.0/32", a)]);
        let b = build(&info(64512, 65001, "192.168.1.10"), &DesiredSet::new(), &s);
        assert!(b.updates.is_empty());
        assert_eq!(b.skipped.len(), 1);
        assert!(b.skipped[0].reason.contains("well-known community"));
        // Inside the AS it goes out.
        let b = build(&info(64512, 64512, "192.168.1.10"), &DesiredSet::new(), &s);
        assert_eq!(b.announced.len(), 1);
    }

    #[test]
    fn graceful_shutdown_adds_community() {
        let s = set(&[("172.16.10.0/32", RouteAttrs::default())]);
        let g = with_graceful_shutdown(&s);
        let a = g.values().next().unwrap();
        assert_eq!(a.communities, vec![Community::GRACEFUL_SHUTDOWN]);
        assert_eq!(a.local_pref, Some(0));
        assert_eq!(with_graceful_shutdown(&g), g);
    }

    #[test]
    fn end_of_rib_shapes() {
        assert_eq!(end_of_rib(AfiSafi::IPV4_UNICAST), Update::default());
        assert!(matches!(
            &end_of_rib(AfiSafi::IPV6_UNICAST).attributes[0],
            PathAttribute::MpUnreachNlri(u) if u.withdrawn.is_empty()
        ));
    }

    fn arb_net() -> impl proptest::strategy::Strategy<Value = IpNet> {
        use proptest::prelude::*;
        prop_oneof![
            (any::<u32>(), 8u8..=32).prop_map(|(a, l)| IpNet::V4(
                ipnet::Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc()
            )),
            (any::<u128>(), 16u8..=128).prop_map(|(a, l)| IpNet::V6(
                ipnet::Ipv6Net::new(std::net::Ipv6Addr::from(a), l)
                    .unwrap()
                    .trunc()
            )),
        ]
    }

    fn arb_attrs() -> impl proptest::strategy::Strategy<Value = RouteAttrs> {
        use proptest::prelude::*;
        (
            proptest::collection::vec(any::<u32>().prop_map(Community), 0..40),
            proptest::collection::vec(
                (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(g, a, b)| LargeCommunity {
                    global: g,
                    local1: a,
                    local2: b,
                }),
                0..20,
            ),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
            0u8..4,
        )
            .prop_map(|(c, l, lp, med, pre)| RouteAttrs {
                next_hop: NextHop::SelfAddr,
                communities: c,
                large_communities: l,
                local_pref: lp,
                med,
                as_path_prepend: pre,
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever the sets, every UPDATE encodes within 4096 octets with the real codec,
        /// decodes back, and together they carry exactly the difference.
        #[test]
        fn updates_encode_within_limits_and_carry_the_diff(
            old in proptest::collection::btree_map(arb_net(), arb_attrs(), 0..300),
            new in proptest::collection::btree_map(arb_net(), arb_attrs(), 0..300),
            ibgp in proptest::bool::ANY,
        ) {
            use bgp_wire::{Message, SessionContext};
            let mut i = info(64512, if ibgp { 64512 } else { 65001 }, "192.168.1.10");
            i.extended_next_hop = vec![AfiSafi::IPV4_UNICAST];
            let d = diff(&old, &new);
            let b = build(&i, &old, &new);
            proptest::prop_assert!(b.skipped.is_empty());
            let ctx = SessionContext::modern();
            let mut ann = Vec::new();
            let mut wd = Vec::new();
            for u in &b.updates {
                let mut buf = bytes::BytesMut::new();
                bgp_wire::encode_message(&Message::Update(u.clone()), &ctx, &mut buf).unwrap();
                proptest::prop_assert!(buf.len() <= 4096, "{} octets", buf.len());
                let back = bgp_wire::decode_message(buf.freeze(), &ctx).unwrap();
                let Message::Update(back) = back.message else { panic!("not an update") };
                ann.extend(back.announced().map(|(_, n)| n.prefix));
                wd.extend(back.withdrawn_routes().map(|(_, n)| n.prefix));
            }
            let mut want_ann: Vec<IpNet> = d.announce.iter().map(|(p, _)| *p).collect();
            let mut want_wd = d.withdraw.clone();
            ann.sort();
            wd.sort();
            want_ann.sort();
            want_wd.sort();
            proptest::prop_assert_eq!(ann, want_ann);
            proptest::prop_assert_eq!(wd, want_wd);
        }
    }
}
