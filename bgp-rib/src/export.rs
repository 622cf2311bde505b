//! Export: RFC 4271 / RFC 4456 rules, export policy, the Adj-RIB-Out and UPDATE packing.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use bgp_wire::attr::MpNextHop;
pub use bgp_wire::end_of_rib;
use bgp_wire::{AfiSafi, Nlri, SessionContext, Update, UpdateBuilder};
use ipnet::IpNet;

use crate::attrs::{Attrs, Interner};
use crate::decision::{self, DEFAULT_LOCAL_PREF, DecisionConfig, PeerInfo};
use crate::policy::Policy;
use crate::prefix::{AnyPrefix, FastMap};
use crate::rib::{Delta, PeerId, Rib};

pub use crate::aspath::prepend;

/// How we send to one peer.
#[derive(Debug, Clone)]
pub struct OutPeerConfig {
    /// The peer (AS, address, iBGP, route-reflector client).
    pub info: PeerInfo,
    /// Our address on the session: the next hop we set on eBGP and with next-hop-self.
    pub local_addr: IpAddr,
    /// Set ourselves as next hop on routes to this iBGP peer (`next-hop-self`).
    pub next_hop_self: bool,
    /// We reflect routes (RFC 4456): there are route-reflector clients among our peers.
    pub route_reflector: bool,
    /// Export policy, applied after the protocol rules.
    pub policy: Option<Arc<dyn Policy>>,
    /// Families negotiated with the peer (End-of-RIB is sent for each; routes of other
    /// families are not sent).
    pub families: Vec<AfiSafi>,
    /// ADD-PATH send (RFC 7911): advertise every member of the multipath set, each with its own
    /// path identifier, instead of the best path alone. Set it only when the session
    /// negotiated sending path identifiers for the family.
    pub add_path: bool,
}

/// The attributes to send for a route from `src` to the peer of `to`, or `None` when the rules
/// forbid sending it. `src_id == to_id` is split horizon.
pub fn export_attrs(
    cfg: &DecisionConfig,
    src_id: PeerId,
    src: &PeerInfo,
    to_id: PeerId,
    to: &OutPeerConfig,
    prefix: IpNet,
    attrs: &Attrs,
) -> Option<Attrs> {
    let local = src_id == PeerId::LOCAL;
    // Split horizon: never back to the peer it came from.
    if !local && src_id == to_id {
        return None;
    }
    // RFC 1997 well-known communities.
    if !decision::communities_allow(attrs, to.info.ibgp) {
        return None;
    }
    let mut a = attrs.clone();
    a.weight = 0;
    if !local && let Some(x) = a.extra.as_mut() {
        // RFC 4271 §5, §9.1.3: a received unrecognized optional transitive attribute is passed
        // on with the Partial bit set, a non-transitive one is not passed on. Our own routes'
        // attributes are not "passed on" and keep their flags.
        x.other = x.other.iter().filter_map(|o| o.for_propagation()).collect();
    }
    if to.info.ibgp {
        let mut reflected = false;
        if !local && src.ibgp {
            // RFC 4271 §9.2: no iBGP-learned route to an iBGP peer, unless we reflect
            // (RFC 4456 §6): from a client to everyone, from a non-client to clients only.
            if !to.route_reflector || !(src.rr_client || to.info.rr_client) {
                return None;
            }
            reflected = true;
        }
        if reflected {
            let x = a.extra_mut();
            if x.originator_id.is_none() {
                x.originator_id = Some(src.router_id);
            }
            x.cluster_list.insert(0, cfg.effective_cluster_id());
        }
        if a.local_pref.is_none() {
            a.local_pref = Some(DEFAULT_LOCAL_PREF);
        }
        let unspecified = match a.next_hop {
            IpAddr::V4(v) => v == Ipv4Addr::UNSPECIFIED,
            IpAddr::V6(v) => v.is_unspecified(),
        };
        if unspecified || (to.next_hop_self && !reflected) {
            a.next_hop = to.local_addr;
            if let Some(x) = a.extra.as_mut() {
                x.link_local = None;
            }
        }
    } else if to.info.rs_client {
        // RFC 7947 §2.2 (route server to client): transparent. Our AS is not prepended,
        // NEXT_HOP (§2.2.2) and MED (§2.2.3) pass unchanged; LOCAL_PREF and the RR
        // attributes stay inside the AS as on any eBGP session.
        let unspecified = match a.next_hop {
            IpAddr::V4(v) => v == Ipv4Addr::UNSPECIFIED,
            IpAddr::V6(v) => v.is_unspecified(),
        };
        if unspecified {
            // Our own route: we are its next hop.
            a.next_hop = to.local_addr;
            if let Some(x) = a.extra.as_mut() {
                x.link_local = None;
            }
        }
        a.local_pref = None;
        if let Some(x) = a.extra.as_mut() {
            x.originator_id = None;
            x.cluster_list.clear();
        }
        a.normalize();
    } else {
        // To eBGP: prepend our AS, we are the next hop, LOCAL_PREF and RR attributes stay
        // inside the AS, and a MED learned from another AS is not passed on.
        prepend(&mut a.as_path, cfg.local_as, 1);
        a.next_hop = to.local_addr;
        a.local_pref = None;
        if let Some(x) = a.extra.as_mut() {
            x.link_local = None;
            x.originator_id = None;
            x.cluster_list.clear();
        }
        a.normalize();
        if !local {
            a.med = None;
        }
    }
    if let Some(p) = &to.policy
        && !p.apply(prefix, &to.info, &mut a)
    {
        return None;
    }
    Some(a)
}

/// The Adj-RIB-Out of one peer (or a group of peers with the same export configuration): what
/// was sent, what is pending, and the UPDATE packer.
///
/// ```
/// use bgp_rib::{Attrs, DecisionConfig, PeerInfo, Rib};
/// use bgp_rib::export::{AdjRibOut, OutPeerConfig};
/// let cfg = DecisionConfig::new(65000, "10.0.0.1".parse().unwrap());
/// let mut rib = Rib::new(cfg);
/// let ebgp = PeerInfo::new("10.0.0.2".parse().unwrap(), 65001, "2.2.2.2".parse().unwrap(), 65000);
/// let to = rib.add_peer(ebgp.clone());
/// rib.originate("203.0.113.0/24".parse().unwrap(), Attrs::new("0.0.0.0".parse().unwrap()));
/// let mut out = AdjRibOut::new(to, OutPeerConfig { info: ebgp, local_addr: "10.0.0.1".parse().unwrap(),
///     next_hop_self: false, route_reflector: false, policy: None,
///     families: vec![bgp_wire::AfiSafi::IPV4_UNICAST], add_path: false });
/// out.initial_dump(&rib);
/// let updates = out.take_updates(&bgp_wire::SessionContext::modern());
/// assert_eq!(updates.len(), 2, "one UPDATE and the End-of-RIB");
/// assert_eq!(updates[0].nlri.len(), 1);
/// ```
#[derive(Debug)]
pub struct AdjRibOut {
    id: PeerId,
    cfg: OutPeerConfig,
    /// (prefix, path id) -> what was sent; path id 0 without ADD-PATH.
    sent: BTreeMap<(AnyPrefix, u32), Arc<Attrs>>,
    pending: BTreeMap<(AnyPrefix, u32), Option<Arc<Attrs>>>,
    /// ADD-PATH send: (prefix, source peer, source path id) -> the path id we send it with.
    out_ids: BTreeMap<(AnyPrefix, u32, u32), u32>,
    interner: Interner,
    eor_pending: bool,
    encode_errors: usize,
}

impl AdjRibOut {
    /// An empty Adj-RIB-Out for peer `id`.
    pub fn new(id: PeerId, cfg: OutPeerConfig) -> Self {
        AdjRibOut {
            id,
            cfg,
            sent: BTreeMap::new(),
            pending: BTreeMap::new(),
            out_ids: BTreeMap::new(),
            interner: Interner::default(),
            eor_pending: false,
            encode_errors: 0,
        }
    }
    /// The configuration.
    pub fn config(&self) -> &OutPeerConfig {
        &self.cfg
    }
    /// Replace the export policy (a configuration reload). Nothing is re-sent until the
    /// prefixes are refreshed: call [`AdjRibOut::refresh`] for each of
    /// [`Rib::best_prefixes`], which queues only the difference to what was sent.
    pub fn set_policy(&mut self, policy: Option<Arc<dyn Policy>>) {
        self.cfg.policy = policy;
    }
    /// Number of routes (prefix, path id) advertised (after pending changes are taken).
    pub fn advertised(&self) -> usize {
        self.sent.len()
    }
    /// The attributes currently advertised for a prefix (path id 0, or the lowest path id
    /// with ADD-PATH).
    pub fn advertised_attrs(&self, prefix: IpNet) -> Option<&Arc<Attrs>> {
        let k = AnyPrefix::from(prefix);
        self.sent
            .range((k, 0)..=(k, u32::MAX))
            .next()
            .map(|(_, a)| a)
    }
    /// The path identifier we send `prefix`'s path from `peer` (with its `path_id`) with, when
    /// ADD-PATH send is on and the path is advertised or queued. Identifiers are allocated per
    /// prefix (RFC 7911 only needs them unique per prefix): the lowest one not in use by
    /// another path of the prefix, kept while the path stays in the multipath set.
    pub fn out_path_id(&self, prefix: IpNet, peer: PeerId, path_id: u32) -> Option<u32> {
        self.out_ids
            .get(&(AnyPrefix::from(prefix), peer.0, path_id))
            .copied()
    }
    /// Re-evaluate one prefix against the Loc-RIB.
    pub fn refresh(&mut self, rib: &Rib, prefix: IpNet) {
        let key = AnyPrefix::from(prefix);
        let af = match key {
            AnyPrefix::V4(_) => AfiSafi::IPV4_UNICAST,
            AnyPrefix::V6(_) => AfiSafi::IPV6_UNICAST,
        };
        if !self.cfg.families.contains(&af) {
            return;
        }
        let mut want: Vec<(u32, Arc<Attrs>)> = Vec::new();
        // ADD-PATH: the (peer, path id) of every wanted path, to keep or allocate its id.
        let mut sources: Vec<(u32, u32)> = Vec::new();
        if let Some(r) = rib.route(prefix) {
            let members = if self.cfg.add_path {
                r.multipath.clone()
            } else {
                vec![r.best.clone()]
            };
            for m in members {
                let Some(src) = rib.peer_info(m.peer) else {
                    continue;
                };
                if let Some(a) = export_attrs(
                    rib.config(),
                    m.peer,
                    src,
                    self.id,
                    &self.cfg,
                    prefix,
                    &m.attrs,
                ) {
                    sources.push((m.peer.0, m.path_id));
                    want.push((0, self.interner.intern(a)));
                }
            }
        }
        if self.cfg.add_path {
            self.assign_out_ids(key, &sources, &mut want);
        }
        // Forget pending changes of this prefix, then queue the difference to what was sent.
        let stale: Vec<(AnyPrefix, u32)> = self
            .pending
            .range((key, 0)..=(key, u32::MAX))
            .map(|(k, _)| *k)
            .collect();
        for k in stale {
            if let Some(Some(a)) = self.pending.remove(&k) {
                self.interner.release(a);
            }
        }
        let sent_ids: Vec<u32> = self
            .sent
            .range((key, 0)..=(key, u32::MAX))
            .map(|((_, id), _)| *id)
            .collect();
        for id in sent_ids {
            if !want.iter().any(|(w, _)| *w == id) {
                self.pending.insert((key, id), None);
            }
        }
        for (id, a) in want {
            let same = self
                .sent
                .get(&(key, id))
                .is_some_and(|s| Arc::ptr_eq(s, &a));
            if same {
                self.interner.release(a);
            } else {
                self.pending.insert((key, id), Some(a));
            }
        }
    }
    /// Give each wanted path of `key` its outgoing ADD-PATH id: the one it already has, else
    /// the lowest id used neither by a path still advertised for the prefix nor by another
    /// wanted path (so a withdrawal and a new path never share an id in one batch). Ids of
    /// paths no longer wanted are forgotten.
    fn assign_out_ids(
        &mut self,
        key: AnyPrefix,
        sources: &[(u32, u32)],
        want: &mut [(u32, Arc<Attrs>)],
    ) {
        let range = (key, 0, 0)..=(key, u32::MAX, u32::MAX);
        let old: Vec<((AnyPrefix, u32, u32), u32)> =
            self.out_ids.range(range).map(|(k, v)| (*k, *v)).collect();
        for (k, _) in &old {
            self.out_ids.remove(k);
        }
        let mut used: Vec<u32> = self
            .sent
            .range((key, 0)..=(key, u32::MAX))
            .map(|((_, id), _)| *id)
            .collect();
        let mut fresh = Vec::new();
        for (i, (peer, path_id)) in sources.iter().enumerate() {
            match old
                .iter()
                .find(|((_, p, id), _)| p == peer && id == path_id)
            {
                Some((_, out)) => {
                    want[i].0 = *out;
                    used.push(*out);
                    self.out_ids.insert((key, *peer, *path_id), *out);
                }
                None => fresh.push(i),
            }
        }
        let mut next = 1u32;
        for i in fresh {
            while used.contains(&next) {
                next += 1;
            }
            let (peer, path_id) = sources[i];
            want[i].0 = next;
            used.push(next);
            self.out_ids.insert((key, peer, path_id), next);
        }
    }
    /// Apply Loc-RIB deltas.
    pub fn process(&mut self, rib: &Rib, deltas: &[Delta]) {
        for d in deltas {
            self.refresh(rib, d.prefix);
        }
    }
    /// Queue the whole Loc-RIB (session just established); End-of-RIB follows the dump.
    pub fn initial_dump(&mut self, rib: &Rib) {
        for p in rib.best_prefixes() {
            self.refresh(rib, p);
        }
        self.eor_pending = true;
    }
    /// Pack pending changes into UPDATEs with bgp-wire's [`UpdateBuilder`]: withdrawals
    /// batched, prefixes with identical attributes in one message, each message within the
    /// session's size limit; IPv6 in MP_REACH/MP_UNREACH. End-of-RIB markers after the initial
    /// dump. A group whose attributes cannot be encoded is not sent (it is counted in
    /// [`AdjRibOut::encode_errors`]): its prefixes are withdrawn where a route was advertised
    /// before, and are no longer advertised.
    pub fn take_updates(&mut self, ctx: &SessionContext) -> Vec<Update> {
        let pending = std::mem::take(&mut self.pending);
        let mut out = Vec::new();
        let mut w4: Vec<Nlri> = Vec::new();
        let mut w6: Vec<Nlri> = Vec::new();
        // Attributes, IPv4 NLRI, IPv6 NLRI, and per route its key and whether the peer had
        // a route for it before (to withdraw it should the group fail to encode).
        type Group = (
            Arc<Attrs>,
            Vec<Nlri>,
            Vec<Nlri>,
            Vec<((AnyPrefix, u32), bool)>,
        );
        let mut groups: Vec<Group> = Vec::new();
        let mut by_ptr: FastMap<usize, usize> = FastMap::default();
        let id4 = ctx.sends_path_id(AfiSafi::IPV4_UNICAST);
        let id6 = ctx.sends_path_id(AfiSafi::IPV6_UNICAST);
        for ((p, id), v) in pending {
            let k = (p, id);
            let v4 = matches!(p, AnyPrefix::V4(_));
            let mut nlri = Nlri::new(p.to_net());
            if (v4 && id4) || (!v4 && id6) {
                nlri.path_id = Some(id);
            }
            match v {
                None => {
                    if let Some(old) = self.sent.remove(&k) {
                        self.interner.release(old);
                        if v4 { w4.push(nlri) } else { w6.push(nlri) }
                    }
                }
                Some(a) => {
                    let g = *by_ptr.entry(Arc::as_ptr(&a) as usize).or_insert_with(|| {
                        groups.push((a.clone(), Vec::new(), Vec::new(), Vec::new()));
                        groups.len() - 1
                    });
                    let had = match self.sent.insert(k, a) {
                        Some(old) => {
                            self.interner.release(old);
                            true
                        }
                        None => false,
                    };
                    if let Some(grp) = groups.get_mut(g) {
                        if v4 {
                            grp.1.push(nlri)
                        } else {
                            grp.2.push(nlri)
                        }
                        grp.3.push((k, had));
                    }
                }
            }
        }
        let mut announce = Vec::new();
        for (a, n4, n6, keys) in groups {
            let mut wire = a.to_wire();
            if !ctx.four_octet_as {
                add_as4(&a, &mut wire);
            }
            let mut b = UpdateBuilder::new(ctx).attributes(wire);
            if !n4.is_empty() {
                if let IpAddr::V6(g) = a.next_hop {
                    // RFC 8950: IPv4 NLRI with an IPv6 next hop goes in MP_REACH_NLRI.
                    b = b.next_hop(
                        AfiSafi::IPV4_UNICAST,
                        MpNextHop::V6 {
                            global: g,
                            link_local: a.link_local(),
                        },
                    );
                }
                b = b.announce(AfiSafi::IPV4_UNICAST, n4);
            }
            if !n6.is_empty() {
                let nh = match a.next_hop {
                    IpAddr::V6(g) => MpNextHop::V6 {
                        global: g,
                        link_local: a.link_local(),
                    },
                    IpAddr::V4(v) => MpNextHop::V6 {
                        global: v.to_ipv6_mapped(),
                        link_local: None,
                    },
                };
                b = b
                    .next_hop(AfiSafi::IPV6_UNICAST, nh)
                    .announce(AfiSafi::IPV6_UNICAST, n6);
            }
            match b.build() {
                Ok(u) => announce.extend(u),
                Err(_) => {
                    // Too large even alone in a message (e.g. a very long AS path after
                    // prepending): the peer must not keep the route we replaced, so the
                    // prefixes are withdrawn there and no longer count as advertised.
                    self.encode_errors += 1;
                    for ((p, id), had) in keys {
                        if let Some(x) = self.sent.remove(&(p, id)) {
                            self.interner.release(x);
                        }
                        if had {
                            let v4 = matches!(p, AnyPrefix::V4(_));
                            let mut nlri = Nlri::new(p.to_net());
                            if (v4 && id4) || (!v4 && id6) {
                                nlri.path_id = Some(id);
                            }
                            if v4 { w4.push(nlri) } else { w6.push(nlri) }
                        }
                    }
                }
            }
        }
        if !w4.is_empty() || !w6.is_empty() {
            let b = UpdateBuilder::new(ctx)
                .withdraw(AfiSafi::IPV4_UNICAST, w4)
                .withdraw(AfiSafi::IPV6_UNICAST, w6);
            match b.build() {
                Ok(u) => out.extend(u),
                Err(_) => self.encode_errors += 1,
            }
        }
        out.extend(announce);
        if self.eor_pending {
            self.eor_pending = false;
            for af in &self.cfg.families {
                out.push(end_of_rib(*af));
            }
        }
        out
    }
    /// Queue every route advertised in `af` again, unchanged: the peer asked for the family
    /// with a ROUTE-REFRESH (RFC 2918) and expects the full table. Returns how many routes
    /// were queued; [`AdjRibOut::take_updates`] sends them (no End-of-RIB).
    pub fn resend(&mut self, af: AfiSafi) -> usize {
        let v4 = af == AfiSafi::IPV4_UNICAST;
        if !v4 && af != AfiSafi::IPV6_UNICAST {
            return 0;
        }
        let again: Vec<((AnyPrefix, u32), Arc<Attrs>)> = self
            .sent
            .iter()
            .filter(|((p, _), _)| matches!(p, AnyPrefix::V4(_)) == v4)
            .filter(|(k, _)| !self.pending.contains_key(k))
            .map(|(k, a)| (*k, a.clone()))
            .collect();
        let n = again.len();
        for (k, a) in again {
            let a = self.interner.intern_arc(&a);
            self.pending.insert(k, Some(a));
        }
        n
    }
    /// How many attribute groups could not be encoded (attributes too large for a message).
    pub fn encode_errors(&self) -> usize {
        self.encode_errors
    }
    /// Forget everything sent (session down).
    pub fn reset(&mut self) {
        for (_, a) in std::mem::take(&mut self.sent) {
            self.interner.release(a);
        }
        for (_, a) in std::mem::take(&mut self.pending) {
            if let Some(a) = a {
                self.interner.release(a);
            }
        }
        self.out_ids.clear();
        self.eor_pending = false;
    }
}

/// RFC 6793 §4.2.2: to a 2-octet speaker, the encoder writes AS_TRANS for AS numbers above
/// 65535 in AS_PATH and AGGREGATOR; the real ones travel in AS4_PATH (without confederation
/// segments) and AS4_AGGREGATOR.
fn add_as4(a: &Attrs, wire: &mut Vec<bgp_wire::PathAttribute>) {
    use bgp_wire::PathAttribute;
    use bgp_wire::attr::{AsPath, AsSegmentType};
    if a.as_path.needs_as4() {
        let p = AsPath::from_segments(
            a.as_path
                .segments
                .iter()
                .filter(|s| {
                    !matches!(
                        s.kind,
                        AsSegmentType::ConfedSequence | AsSegmentType::ConfedSet
                    )
                })
                .cloned(),
        );
        wire.push(PathAttribute::As4Path(p));
    }
    if let Some(g) = a.extra().aggregator
        && g.asn > u32::from(u16::MAX)
    {
        wire.push(PathAttribute::As4Aggregator(g));
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod rs_tests;
