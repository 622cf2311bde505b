//! Declarative advertisements: the desired set, its difference to what a peer was sent,
//! and the UPDATE messages that carry the difference.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use std::sync::Arc;

use bgp_rib::export::{OutPeerConfig, export_attrs};
use bgp_rib::policy::{Action, Clause, Policy, RouteMap, Set};
use bgp_rib::{Attrs, DecisionConfig, PeerId, PeerInfo};
use bgp_wire::attr::{Community, LargeCommunity, MpNextHop, MpReach, MpUnreach, PathAttribute};
use bgp_wire::nlri::MpNlri;
use bgp_wire::{AfiSafi, Nlri, Update};
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

/// How a route's next hop is encoded on this session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Nh {
    /// Classic NEXT_HOP attribute (IPv4 NLRI in the UPDATE body).
    Classic(Ipv4Addr),
    /// MP_REACH_NLRI with this next hop.
    Mp(MpNextHop),
}

/// How the exported next hop `addr` is encoded for `prefix` on this session (RFC 8950 where
/// an IPv4 prefix has an IPv6 next hop).
fn resolve_next_hop(info: &SessionInfo, prefix: &IpNet, addr: IpAddr) -> Result<Nh, String> {
    match (prefix, addr) {
        (IpNet::V4(_), IpAddr::V4(a)) => Ok(Nh::Classic(a)),
        (IpNet::V4(_), IpAddr::V6(a)) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return Ok(Nh::Classic(v4));
            }
            if info.extended_next_hop.contains(&AfiSafi::IPV4_UNICAST) {
                Ok(Nh::Mp(MpNextHop::V6 {
                    global: a,
                    link_local: None,
                }))
            } else {
                Err(format!(
                    "IPv4 prefix with IPv6 next hop {a} needs extended next hop (RFC 8950), not negotiated"
                ))
            }
        }
        (IpNet::V6(_), IpAddr::V6(a)) => Ok(Nh::Mp(MpNextHop::V6 {
            global: a,
            link_local: None,
        })),
        (IpNet::V6(_), IpAddr::V4(a)) => Ok(Nh::Mp(MpNextHop::V6 {
            global: a.to_ipv6_mapped(),
            link_local: None,
        })),
    }
}

/// The route as the local pseudo-peer of a RIB holds it: ORIGIN IGP, empty AS_PATH, the next
/// hop (unspecified for "next hop self", which export fills with the session's address), MED,
/// LOCAL_PREF and the communities (sorted, without duplicates).
fn local_attrs(a: &RouteAttrs) -> Attrs {
    let nh = match a.next_hop {
        NextHop::Addr(addr) => addr,
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

/// The attributes this session gets for a locally originated route, by bgp-rib's export rules
/// (the one place they live: AS_PATH prepend and next hop on eBGP, LOCAL_PREF only inside the
/// AS, next hop self, well-known communities), then the route's own settings as an export
/// policy: extra prepends on eBGP and an explicit next hop. `None` when export forbids
/// sending it (e.g. NO_EXPORT to an eBGP peer).
fn exported(info: &SessionInfo, prefix: IpNet, a: &RouteAttrs) -> Result<Option<Attrs>, String> {
    let local_addr = match (a.next_hop, info.local_addr) {
        (_, Some(l)) => l,
        (NextHop::Addr(addr), None) => addr,
        (NextHop::SelfAddr, None) => {
            return Err("next hop self but the session's local address is unknown".to_string());
        }
    };
    // Our router id only matters when reflecting, which never applies to local routes.
    let cfg = DecisionConfig::new(info.local_as, Ipv4Addr::UNSPECIFIED);
    let peer = PeerInfo::new(
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        info.peer_as,
        info.peer_router_id,
        info.local_as,
    );
    let mut sets = Vec::new();
    if !peer.ibgp && a.as_path_prepend > 0 {
        sets.push(Set::Prepend(info.local_as, a.as_path_prepend));
    }
    if let NextHop::Addr(addr) = a.next_hop {
        sets.push(Set::NextHop(addr));
    }
    let policy: Option<Arc<dyn Policy>> = (!sets.is_empty()).then(|| {
        Arc::new(RouteMap {
            clauses: vec![Clause {
                action: Action::Permit,
                matches: Vec::new(),
                sets,
            }],
        }) as Arc<dyn Policy>
    });
    let to = OutPeerConfig {
        info: peer,
        local_addr,
        next_hop_self: false,
        route_reflector: false,
        policy,
        families: info.families.clone(),
        add_path: false,
    };
    let local = PeerInfo::local(&cfg);
    Ok(export_attrs(
        &cfg,
        PeerId::LOCAL,
        &local,
        PeerId(u32::MAX),
        &to,
        prefix,
        &local_attrs(a),
    ))
}

/// Estimated wire size of the attributes (an upper bound).
fn attrs_size(attrs: &[PathAttribute]) -> usize {
    attrs
        .iter()
        .map(|a| {
            4 + match a {
                PathAttribute::Origin(_) => 1,
                PathAttribute::AsPath(p) => p.segments.iter().map(|s| 2 + 4 * s.asns.len()).sum(),
                PathAttribute::NextHop(_) => 4,
                PathAttribute::MultiExitDisc(_) | PathAttribute::LocalPref(_) => 4,
                PathAttribute::Communities(c) => 4 * c.len(),
                PathAttribute::LargeCommunities(c) => 12 * c.len(),
                PathAttribute::MpReachNlri(_) => 5 + 32 + 1,
                _ => 64,
            }
        })
        .sum()
}

fn nlri_size(p: &IpNet) -> usize {
    1 + usize::from(p.prefix_len()).div_ceil(8)
}

/// Split `prefixes` into chunks whose NLRI fit in `room` octets.
fn chunks(prefixes: &[IpNet], room: usize) -> Vec<Vec<IpNet>> {
    let room = room.max(17);
    let mut out: Vec<Vec<IpNet>> = Vec::new();
    let mut cur = Vec::new();
    let mut used = 0;
    for p in prefixes {
        let s = nlri_size(p);
        if used + s > room && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
            used = 0;
        }
        used += s;
        cur.push(*p);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Build the UPDATEs that turn the peer's view into the desired one for this session.
///
/// Routes of a family the session did not negotiate, or whose next hop cannot be
/// expressed on it, are reported in [`Built::skipped`]. Withdrawals of such families are
/// never sent either. Every message stays under the session's maximum message size.
pub fn build_updates(info: &SessionInfo, d: &Diff) -> Built {
    let mut built = Built::default();
    let max = info.max_message_len.max(bgp_wire::MAX_MESSAGE_LEN);
    // 19 header + 2 withdrawn len + 2 attrs len, and some slack for the estimate.
    let overhead = 19 + 4 + 16;

    // Withdrawals.
    let mut w4 = Vec::new();
    let mut w6 = Vec::new();
    for p in &d.withdraw {
        if !info.families.contains(&family_of(p)) {
            continue;
        }
        match p {
            IpNet::V4(_) => w4.push(*p),
            IpNet::V6(_) => w6.push(*p),
        }
    }
    for c in chunks(&w4, max - overhead) {
        built.withdrawn.extend(c.iter().copied());
        built.updates.push(Update {
            withdrawn: c.into_iter().map(Nlri::new).collect(),
            ..Default::default()
        });
    }
    for c in chunks(&w6, max - overhead - 8) {
        built.withdrawn.extend(c.iter().copied());
        built.updates.push(Update {
            attributes: vec![PathAttribute::MpUnreachNlri(MpUnreach {
                af: AfiSafi::IPV6_UNICAST,
                withdrawn: MpNlri::Prefixes(c.into_iter().map(Nlri::new).collect()),
            })],
            ..Default::default()
        });
    }

    // Announcements, grouped by (family, next hop encoding, exported attributes).
    let mut groups: BTreeMap<(AfiSafi, String), (Nh, Attrs, Vec<IpNet>)> = BTreeMap::new();
    for (p, a) in &d.announce {
        let af = family_of(p);
        if !info.families.contains(&af) {
            built.skipped.push(Skipped {
                prefix: *p,
                reason: format!("address family {af} not negotiated"),
            });
            continue;
        }
        let out = match exported(info, *p, a) {
            Ok(Some(out)) => out,
            Ok(None) => {
                built.skipped.push(Skipped {
                    prefix: *p,
                    reason: "export rules hold it back from this peer (well-known community)"
                        .to_string(),
                });
                continue;
            }
            Err(reason) => {
                built.skipped.push(Skipped { prefix: *p, reason });
                continue;
            }
        };
        let nh = match resolve_next_hop(info, p, out.next_hop) {
            Ok(nh) => nh,
            Err(reason) => {
                built.skipped.push(Skipped { prefix: *p, reason });
                continue;
            }
        };
        let key = (af, format!("{nh:?}{out:?}"));
        groups
            .entry(key)
            .or_insert_with(|| (nh, out, Vec::new()))
            .2
            .push(*p);
    }
    for ((af, _), (nh, out, prefixes)) in groups {
        // The exported attributes in wire order, the next hop encoded for this session:
        // NEXT_HOP third for IPv4 NLRI, MP_REACH_NLRI in its place otherwise.
        let mut attrs: Vec<PathAttribute> = out
            .to_wire()
            .into_iter()
            .filter(|x| !matches!(x, PathAttribute::NextHop(_)))
            .collect();
        if let Nh::Classic(v4) = &nh {
            attrs.insert(2, PathAttribute::NextHop(*v4));
        }
        let room = max.saturating_sub(overhead + attrs_size(&attrs) + 40);
        for c in chunks(&prefixes, room) {
            built.announced.extend(c.iter().copied());
            let mut u = Update {
                attributes: attrs.clone(),
                ..Default::default()
            };
            match &nh {
                Nh::Classic(_) => u.nlri = c.into_iter().map(Nlri::new).collect(),
                Nh::Mp(mp) => u.attributes.insert(
                    2,
                    PathAttribute::MpReachNlri(MpReach {
                        af,
                        next_hop: mp.clone(),
                        nlri: MpNlri::Prefixes(c.into_iter().map(Nlri::new).collect()),
                    }),
                ),
            }
            built.updates.push(u);
        }
    }
    built
}

/// The End-of-RIB marker for a family (RFC 4724): an empty UPDATE for IPv4 unicast, an
/// empty MP_UNREACH_NLRI otherwise.
pub fn end_of_rib(af: AfiSafi) -> Update {
    if af == AfiSafi::IPV4_UNICAST {
        Update::default()
    } else {
        Update {
            attributes: vec![PathAttribute::MpUnreachNlri(MpUnreach {
                af,
                withdrawn: MpNlri::Prefixes(Vec::new()),
            })],
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp_wire::attr::AsPath;

    fn info(local: u32, peer: u32, addr: &str) -> SessionInfo {
        SessionInfo {
            local_as: local,
            peer_as: peer,
            local_addr: Some(addr.parse().unwrap()),
            families: vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST],
            extended_next_hop: vec![],
            max_message_len: 4096,
            peer_router_id: Ipv4Addr::new(192, 0, 2, 1),
        }
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
        let d = diff(&DesiredSet::new(), &set(&[("172.16.10.0/32", a)]));
        let b = build_updates(&info(64512, 64512, "192.168.1.10"), &d);
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
        let d = diff(&DesiredSet::new(), &set(&[("172.16.10.0/32", a)]));
        let b = build_updates(&info(4_200_000_000, 64512, "192.168.1.10"), &d);
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
        let d = diff(
            &set(&[("fd00::2/128", RouteAttrs::default())]),
            &set(&[("fd00::1/128", RouteAttrs::default())]),
        );
        let b = build_updates(&info(64512, 64512, "fd00:1::10"), &d);
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
        let d = diff(
            &DesiredSet::new(),
            &set(&[("172.16.10.0/32", RouteAttrs::default())]),
        );
        let mut i = info(64512, 64512, "fd00:1::10");
        let b = build_updates(&i, &d);
        assert!(b.updates.is_empty());
        assert_eq!(b.skipped.len(), 1);
        i.extended_next_hop = vec![AfiSafi::IPV4_UNICAST];
        let b = build_updates(&i, &d);
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
        let d = diff(
            &set(&[("fd00::9/128", RouteAttrs::default())]),
            &set(&[("fd00::1/128", RouteAttrs::default())]),
        );
        let b = build_updates(&i, &d);
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
        let b = build_updates(
            &info(64512, 64512, "192.168.1.10"),
            &diff(&DesiredSet::new(), &new),
        );
        assert!(b.updates.len() > 1);
        assert_eq!(b.announced.len(), 3000);
        for u in &b.updates {
            assert!(u.nlri.len() * 5 + 100 < 4096);
        }
        let w = build_updates(
            &info(64512, 64512, "192.168.1.10"),
            &diff(&new, &DesiredSet::new()),
        );
        assert_eq!(w.withdrawn.len(), 3000);
        assert!(w.updates.iter().all(|u| u.withdrawn.len() * 5 < 4096 - 23));
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
            let b = build_updates(&i, &d);
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
