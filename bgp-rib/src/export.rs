//! Export: RFC 4271 / RFC 4456 rules, export policy, the Adj-RIB-Out and UPDATE packing.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Weak};

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

pub mod group;
mod pending;
mod sent;
pub use group::{GroupBatch, GroupCounters, UpdateGroup, UpdateGroupKey};
use pending::Pending;
use sent::SentTable;

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
    export_with(
        cfg,
        src_id,
        src,
        to_id,
        to,
        to.policy.as_ref(),
        prefix,
        attrs,
    )
}

/// The RFC 4271 / 4456 / 7947 export rules without the peer's policy.
fn export_rules(
    cfg: &DecisionConfig,
    src_id: PeerId,
    src: &PeerInfo,
    to_id: PeerId,
    to: &OutPeerConfig,
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
    Some(a)
}

/// [`export_attrs`]: the RFC rules (`export_rules`), then `policy` (the peer's, or the one a
/// reload replaced).
#[allow(clippy::too_many_arguments)]
fn export_with(
    cfg: &DecisionConfig,
    src_id: PeerId,
    src: &PeerInfo,
    to_id: PeerId,
    to: &OutPeerConfig,
    policy: Option<&Arc<dyn Policy>>,
    prefix: IpNet,
    attrs: &Attrs,
) -> Option<Attrs> {
    let mut a = export_rules(cfg, src_id, src, to_id, to, attrs)?;
    if let Some(p) = policy
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
    sent: SentTable,
    pending: Pending,
    /// ADD-PATH send: (prefix, source peer, source path id) -> the path id we send it with.
    out_ids: BTreeMap<(AnyPrefix, u32, u32), u32>,
    /// Exported sets while they are packed (and those the cache holds): none is kept for
    /// what was sent.
    interner: Interner,
    /// What the export depends on besides the route, copied from the RIB when routes are
    /// queued, so packing (on another thread, without the RIB) can run it: the decision
    /// configuration and each source peer.
    dcfg: Option<DecisionConfig>,
    srcs: FastMap<u32, PeerInfo>,
    /// Export generation: changes when the export configuration does. A route recorded under
    /// another generation is exported again to see whether it changed.
    generation: u32,
    /// The generation before the last policy change and its policy: a route sent under it is
    /// unchanged when both policies export it alike.
    prev: Option<(u32, Option<Arc<dyn Policy>>)>,
    /// Exported attributes per (source attribute set, source peer): see [`ExportCache`].
    cache: ExportCache,
    /// Set for the Adj-RIB-Out of an update group: its members (split horizon is theirs).
    members: Option<Vec<PeerId>>,
    eor_pending: bool,
    encode_errors: usize,
}

/// A route in the Adj-RIB-Out: the Loc-RIB's attributes of the route (the RIB's interned
/// set, shared, not a copy), the peer the route came from (split horizon of update-group
/// members) and the export generation it was sent under. What the peer was sent is the
/// export of these, computed again when needed (packing, a member's dump): keeping the
/// exported sets cost a second attribute set per distinct set and source, about 40 bytes
/// per route on a full table.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub(crate) attrs: Arc<Attrs>,
    pub(crate) src: u32,
    pub(crate) generation: u32,
}

impl Sent {
    /// The same Loc-RIB route (attribute set and source), whatever the generation.
    fn same_route(&self, o: &Sent) -> bool {
        Arc::ptr_eq(&self.attrs, &o.attrs) && self.src == o.src
    }
}

/// The generation a queued route carries to be sent even when unchanged (ROUTE-REFRESH).
const FORCE: u32 = u32::MAX;

/// Who an UPDATE of an update group's stream is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Every member.
    All,
    /// Every member but this one (its own routes: split horizon).
    AllBut(PeerId),
    /// Only this member (withdraws what it had when the route became its own).
    Only(PeerId),
}

impl Audience {
    /// Whether a member receives it.
    pub fn includes(self, member: PeerId) -> bool {
        match self {
            Audience::All => true,
            Audience::AllBut(p) => p != member,
            Audience::Only(p) => p == member,
        }
    }
}

/// At most this many (source attribute set, source peer) entries are cached; the cache is
/// emptied when full (it refills from the next prefixes at the cost of one export each).
const EXPORT_CACHE_MAX: usize = 1 << 14;

/// Exported attributes per source attribute set: attribute sets are interned by the RIB, so
/// one (pointer, source peer) pair stands for every prefix carrying that set, and
/// [`export_attrs`] plus interning run once per set instead of once per prefix. Used when
/// no export policy is configured (a policy sees the prefix). The entry keeps a `Weak` to the
/// source set so its address cannot be reused by another set while the entry exists, and
/// is emptied whenever what else the result depends on changes (the source peer, the decision
/// configuration, the policy).
#[derive(Debug, Default)]
struct ExportCache {
    map: FastMap<(usize, u32), CacheEntry>,
    hits: u64,
    misses: u64,
}

#[derive(Debug)]
struct CacheEntry {
    _src: Weak<Attrs>,
    out: Option<Arc<Attrs>>,
}

impl AdjRibOut {
    /// An empty Adj-RIB-Out for peer `id`.
    pub fn new(id: PeerId, cfg: OutPeerConfig) -> Self {
        AdjRibOut {
            id,
            cfg,
            sent: SentTable::default(),
            pending: Pending::default(),
            out_ids: BTreeMap::new(),
            interner: Interner::default(),
            dcfg: None,
            srcs: FastMap::default(),
            generation: 0,
            prev: None,
            cache: ExportCache::default(),
            members: None,
            eor_pending: false,
            encode_errors: 0,
        }
    }
    /// The Adj-RIB-Out of an update group: no peer of its own (split horizon is applied per
    /// member when the stream is cut, see [`AdjRibOut::take_for_members`]).
    pub(crate) fn new_group(cfg: OutPeerConfig) -> Self {
        let mut o = AdjRibOut::new(PeerId(u32::MAX), cfg);
        o.members = Some(Vec::new());
        o
    }
    pub(crate) fn members_mut(&mut self) -> Option<&mut Vec<PeerId>> {
        self.members.as_mut()
    }
    pub(crate) fn members(&self) -> &[PeerId] {
        self.members.as_deref().unwrap_or(&[])
    }
    /// The configuration.
    pub fn config(&self) -> &OutPeerConfig {
        &self.cfg
    }
    /// Replace the export policy (a configuration reload). Nothing is re-sent until the
    /// prefixes are refreshed: call [`AdjRibOut::refresh`] for each of
    /// [`Rib::best_prefixes`], which queues only the difference to what was sent.
    pub fn set_policy(&mut self, policy: Option<Arc<dyn Policy>>) {
        let old = std::mem::replace(&mut self.cfg.policy, policy);
        self.prev = Some((self.generation, old));
        self.next_generation();
        // Cached exports were computed under the old configuration.
        self.clear_cache();
    }
    fn next_generation(&mut self) {
        self.generation = (self.generation + 1) % FORCE;
    }
    /// Whether changes wait to be taken (or End-of-RIB markers).
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() || self.eor_pending
    }
    /// Number of routes (prefix, path id) advertised (after pending changes are taken).
    pub fn advertised(&self) -> usize {
        self.sent.len()
    }
    /// Export computations (the RFC rules and interning of one exported set) done so far, and
    /// how many prefixes reused a cached result (see the module docs).
    pub fn export_counters(&self) -> (u64, u64) {
        (self.cache.misses, self.cache.hits)
    }
    /// Every prefix advertised (after pending changes are taken), each once, in no
    /// particular order: what a neighbour holds from this Adj-RIB-Out.
    pub fn advertised_prefixes(&self) -> Vec<IpNet> {
        let mut v: Vec<IpNet> = self.sent.iter().map(|((p, _), _)| p.to_net()).collect();
        v.sort();
        v.dedup();
        v
    }
    /// The attributes currently advertised for a prefix (path id 0, or the lowest path id
    /// with ADD-PATH).
    pub fn advertised_attrs(&self, prefix: IpNet) -> Option<Attrs> {
        let k = AnyPrefix::from(prefix);
        let id = *self.sent.ids_of(k).first()?;
        let s = self.sent.get(&(k, id))?;
        self.export_plain(self.cfg.policy.as_ref(), s.src, &s.attrs, prefix)
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
    /// Whether a route from `src_id` may be queued here (split horizon of a per-peer
    /// Adj-RIB-Out); records what its export needs from the RIB.
    fn note_source(&mut self, rib: &Rib, src_id: PeerId) -> bool {
        if src_id != PeerId::LOCAL && src_id == self.id {
            // Split horizon: never back to the peer it came from.
            return false;
        }
        let Some(info) = rib.peer_info(src_id) else {
            return false;
        };
        match self.srcs.get(&src_id.0) {
            Some(known) if known == info => {}
            Some(_) => {
                // The source changed (a session came back as another peer): routes sent from
                // it before are exported again.
                self.srcs.insert(src_id.0, info.clone());
                self.prev = None;
                self.next_generation();
                self.clear_cache();
            }
            None => {
                self.srcs.insert(src_id.0, info.clone());
            }
        }
        true
    }
    /// Record the RIB's decision configuration (once per batch of deltas).
    fn note_config(&mut self, rib: &Rib) {
        if self.dcfg.as_ref() != Some(rib.config()) {
            if self.dcfg.is_some() {
                self.prev = None;
                self.next_generation();
                self.clear_cache();
            }
            self.dcfg = Some(rib.config().clone());
        }
    }
    /// The export of a route from `src` under `policy`, not interned.
    fn export_plain(
        &self,
        policy: Option<&Arc<dyn Policy>>,
        src: u32,
        attrs: &Attrs,
        prefix: IpNet,
    ) -> Option<Attrs> {
        let cfg = self.dcfg.as_ref()?;
        let info = self.srcs.get(&src)?;
        export_with(
            cfg,
            PeerId(src),
            info,
            self.id,
            &self.cfg,
            policy,
            prefix,
            attrs,
        )
    }
    /// The exported attributes of one path (interned here), through the cache when no
    /// policy is configured.
    fn export_now(&mut self, src: u32, attrs: &Arc<Attrs>, prefix: IpNet) -> Option<Arc<Attrs>> {
        if self.cfg.policy.is_some() {
            let a = self.export_plain(self.cfg.policy.as_ref(), src, attrs, prefix)?;
            self.cache.misses += 1;
            return Some(self.interner.intern(a));
        }
        let key = (Arc::as_ptr(attrs) as usize, src);
        if let Some(e) = self.cache.map.get(&key) {
            self.cache.hits += 1;
            return e.out.clone();
        }
        self.cache.misses += 1;
        let out = self
            .export_plain(None, src, attrs, prefix)
            .map(|a| self.interner.intern(a));
        if self.cache.map.len() >= EXPORT_CACHE_MAX {
            self.clear_cache();
        }
        let e = CacheEntry {
            _src: Arc::downgrade(attrs),
            out: out.clone(),
        };
        if let Some(old) = self.cache.map.insert(key, e)
            && let Some(o) = old.out
        {
            self.interner.release(o);
        }
        out
    }
    fn clear_cache(&mut self) {
        for (_, e) in self.cache.map.drain() {
            if let Some(o) = e.out {
                self.interner.release(o);
            }
        }
    }
    /// Whether this Adj-RIB-Out carries the family of `key`.
    fn carries(&self, key: AnyPrefix) -> bool {
        let af = match key {
            AnyPrefix::V4(_) => AfiSafi::IPV4_UNICAST,
            AnyPrefix::V6(_) => AfiSafi::IPV6_UNICAST,
        };
        self.cfg.families.contains(&af)
    }
    /// [`AdjRibOut::refresh`] of a delta's prefix (its slot hint spares the RIB lookup).
    fn refresh_delta(&mut self, rib: &Rib, d: &Delta) {
        if self.cfg.add_path {
            return self.refresh_one(rib, d.prefix);
        }
        let key = AnyPrefix::from(d.prefix);
        if self.carries(key) {
            self.refresh_best(rib, key, rib.best_path_of(d));
        }
    }
    /// Re-evaluate one prefix against the Loc-RIB.
    pub fn refresh(&mut self, rib: &Rib, prefix: IpNet) {
        self.note_config(rib);
        self.refresh_one(rib, prefix);
    }
    fn refresh_one(&mut self, rib: &Rib, prefix: IpNet) {
        let key = AnyPrefix::from(prefix);
        if !self.carries(key) {
            return;
        }
        if !self.cfg.add_path {
            self.refresh_best(rib, key, rib.best_path(prefix));
            return;
        }
        let mut want: Vec<(u32, Sent)> = Vec::new();
        // ADD-PATH: the (peer, path id) of every wanted path, to keep or allocate its id.
        let mut sources: Vec<(u32, u32)> = Vec::new();
        if let Some(r) = rib.route(prefix) {
            for m in r.multipath {
                if self.elided(m.peer) || !self.note_source(rib, m.peer) {
                    continue;
                }
                sources.push((m.peer.0, m.path_id));
                want.push((
                    0,
                    Sent {
                        attrs: m.attrs.clone(),
                        src: m.peer.0,
                        generation: self.generation,
                    },
                ));
            }
        }
        self.assign_out_ids(key, &sources, &mut want);
        // Forget pending changes of this prefix, then queue the difference to what was sent.
        for k in self.pending.keys_of(key) {
            self.pending.remove(&k);
        }
        let sent_ids: Vec<u32> = self.sent.ids_of(key);
        for id in sent_ids {
            if !want.iter().any(|(w, _)| *w == id) {
                self.pending.insert((key, id), None);
            }
        }
        for (id, a) in want {
            self.queue(key, id, a);
        }
    }
    /// A route from `src` that no member of this group may receive: the group's only
    /// member is its source (split horizon for the whole group).
    fn elided(&self, src: PeerId) -> bool {
        matches!(self.members.as_deref(), Some([m]) if *m == src)
    }
    /// Queue `a` for (key, id) unless the same was sent under this export generation. An
    /// update group queues it anyway: [`AdjRibOut::take_for_members`] drops what is unchanged
    /// with the lookup it does to record the route (one probe of the sent table instead of
    /// two, and not on the thread that reads and decides when the router packs elsewhere).
    fn queue(&mut self, key: AnyPrefix, id: u32, a: Sent) {
        if self.members.is_none()
            && self
                .sent
                .get(&(key, id))
                .is_some_and(|s| s.same_route(&a) && s.generation == a.generation)
        {
            self.pending.remove(&(key, id));
            return;
        }
        self.pending.insert((key, id), Some(a));
    }
    /// Without ADD-PATH: only the best path (`best`, looked up by the caller), path id 0, no
    /// allocation. Whether the peer may have it (rules, policy) is decided when it is packed.
    fn refresh_best(
        &mut self,
        rib: &Rib,
        key: AnyPrefix,
        best: Option<(PeerId, u32, &Arc<Attrs>)>,
    ) {
        let want = match best {
            Some((peer, _, attrs)) if !self.elided(peer) && self.note_source(rib, peer) => {
                Some(Sent {
                    attrs: attrs.clone(),
                    src: peer.0,
                    generation: self.generation,
                })
            }
            _ => None,
        };
        match want {
            None => {
                if self.sent.contains_key(&(key, 0)) {
                    self.pending.insert((key, 0), None);
                } else {
                    self.pending.remove(&(key, 0));
                }
            }
            Some(a) => self.queue(key, 0, a),
        }
    }
    /// Give each wanted path of `key` its outgoing ADD-PATH id: the one it already has, else
    /// the lowest id used neither by a path still advertised for the prefix nor by another
    /// wanted path (so a withdrawal and a new path never share an id in one batch). Ids of
    /// paths no longer wanted are forgotten.
    fn assign_out_ids(&mut self, key: AnyPrefix, sources: &[(u32, u32)], want: &mut [(u32, Sent)]) {
        let range = (key, 0, 0)..=(key, u32::MAX, u32::MAX);
        let old: Vec<((AnyPrefix, u32, u32), u32)> =
            self.out_ids.range(range).map(|(k, v)| (*k, *v)).collect();
        for (k, _) in &old {
            self.out_ids.remove(k);
        }
        let mut used: Vec<u32> = self.sent.ids_of(key);
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
        self.note_config(rib);
        for d in deltas {
            self.refresh_delta(rib, d);
        }
    }
    /// Queue the whole Loc-RIB (session just established); End-of-RIB follows the dump.
    pub fn initial_dump(&mut self, rib: &Rib) {
        self.dump_all(rib);
        self.eor_pending = true;
    }
    /// Re-evaluate every prefix with a best path (no End-of-RIB).
    pub(crate) fn dump_all(&mut self, rib: &Rib) {
        self.note_config(rib);
        for p in rib.best_prefixes() {
            self.refresh_one(rib, p);
        }
    }
    /// Pack pending changes into UPDATEs with bgp-wire's [`UpdateBuilder`]: withdrawals
    /// batched, prefixes with identical attributes in one message, each message within the
    /// session's size limit; IPv6 in MP_REACH/MP_UNREACH. End-of-RIB markers after the initial
    /// dump. A group whose attributes cannot be encoded is not sent (it is counted in
    /// [`AdjRibOut::encode_errors`]): its prefixes are withdrawn where a route was advertised
    /// before, and are no longer advertised.
    pub fn take_updates(&mut self, ctx: &SessionContext) -> Vec<Update> {
        self.take_for_members(ctx)
            .into_iter()
            .map(|(_, u)| u)
            .collect()
    }
    /// [`AdjRibOut::take_updates`] with each UPDATE's audience among an update group's
    /// members: a member's own routes are not sent to it (split horizon), and a member that
    /// becomes the source of a prefix gets that prefix withdrawn. Without members (a
    /// per-peer Adj-RIB-Out) every UPDATE is for [`Audience::All`].
    pub(crate) fn take_for_members(&mut self, ctx: &SessionContext) -> Vec<(Audience, Update)> {
        let pending = self.pending.take_sorted();
        let members: Vec<PeerId> = self.members().to_vec();
        let audience = |src: u32| {
            if members.iter().any(|m| m.0 == src) {
                Audience::AllBut(PeerId(src))
            } else {
                Audience::All
            }
        };
        let mut wd: Vec<(Audience, Vec<Nlri>, Vec<Nlri>)> = Vec::new();
        fn withdraw(wd: &mut Vec<(Audience, Vec<Nlri>, Vec<Nlri>)>, to: Audience, n: Nlri) {
            let i = match wd.iter().position(|w| w.0 == to) {
                Some(i) => i,
                None => {
                    wd.push((to, Vec::new(), Vec::new()));
                    wd.len() - 1
                }
            };
            if let Some(w) = wd.get_mut(i) {
                if matches!(n.prefix, IpNet::V4(_)) {
                    w.1.push(n)
                } else {
                    w.2.push(n)
                }
            }
        }
        // Attributes, audience, IPv4 NLRI, IPv6 NLRI, and per route its key and the source
        // of the route the peer had before, if any (to withdraw it should the group fail to
        // encode).
        type Group = (
            Arc<Attrs>,
            Audience,
            Vec<Nlri>,
            Vec<Nlri>,
            Vec<((AnyPrefix, u32), Option<u32>)>,
        );
        let mut groups: Vec<Group> = Vec::new();
        let mut by_key: FastMap<(usize, Audience), usize> = FastMap::default();
        let id4 = ctx.sends_path_id(AfiSafi::IPV4_UNICAST);
        let id6 = ctx.sends_path_id(AfiSafi::IPV6_UNICAST);
        let nlri_of = |p: AnyPrefix, id: u32| {
            let v4 = matches!(p, AnyPrefix::V4(_));
            let mut nlri = Nlri::new(p.to_net());
            if (v4 && id4) || (!v4 && id6) {
                nlri.path_id = Some(id);
            }
            nlri
        };
        for ((p, id), v) in pending {
            let k = (p, id);
            let nlri = nlri_of(p, id);
            let Some(mut a) = v else {
                if let Some(old) = self.sent.remove(&k) {
                    withdraw(&mut wd, audience(old.src), nlri);
                }
                continue;
            };
            let forced = a.generation == FORCE;
            a.generation = self.generation;
            // An update group queues without looking (see `queue`), and a route sent under
            // an earlier export generation may export as before; ROUTE-REFRESH resends are
            // sent as they are.
            if !forced && self.unchanged(k, &a) {
                continue;
            }
            let Some(attrs) = self.export_now(a.src, &a.attrs, p.to_net()) else {
                // The rules or the policy keep it from the peer: withdrawn where it was sent.
                if let Some(old) = self.sent.remove(&k) {
                    withdraw(&mut wd, audience(old.src), nlri);
                }
                continue;
            };
            let to = audience(a.src);
            let src = a.src;
            let ptr = Arc::as_ptr(&attrs) as usize;
            let had = self.sent.insert(k, a).map(|old| old.src);
            let g = *by_key.entry((ptr, to)).or_insert_with(|| {
                groups.push((attrs.clone(), to, Vec::new(), Vec::new(), Vec::new()));
                groups.len() - 1
            });
            self.interner.release(attrs);
            if let Some(o) = had
                && o != src
                && to != Audience::All
            {
                // The member that is now the source had the old route.
                withdraw(&mut wd, Audience::Only(PeerId(src)), nlri);
            }
            if let Some(grp) = groups.get_mut(g) {
                if matches!(p, AnyPrefix::V4(_)) {
                    grp.2.push(nlri)
                } else {
                    grp.3.push(nlri)
                }
                grp.4.push((k, had));
            }
        }
        let mut announce = Vec::new();
        for (a, to, n4, n6, keys) in groups {
            match encode_group(ctx, &a, n4, n6) {
                Ok(u) => announce.extend(u.into_iter().map(|u| (to, u))),
                Err(_) => {
                    // Too large even alone in a message (e.g. a very long AS path after
                    // prepending): the peer must not keep the route we replaced, so the
                    // prefixes are withdrawn there and no longer count as advertised.
                    self.encode_errors += 1;
                    for ((p, id), had) in keys {
                        self.sent.remove(&(p, id));
                        if let Some(o) = had {
                            withdraw(&mut wd, audience(o), nlri_of(p, id));
                        }
                    }
                }
            }
            self.interner.release(a);
        }
        let mut out = Vec::new();
        for (to, w4, w6) in wd {
            let b = UpdateBuilder::new(ctx)
                .withdraw(AfiSafi::IPV4_UNICAST, w4)
                .withdraw(AfiSafi::IPV6_UNICAST, w6);
            match b.build() {
                Ok(u) => out.extend(u.into_iter().map(|u| (to, u))),
                Err(_) => self.encode_errors += 1,
            }
        }
        out.extend(announce);
        if self.eor_pending {
            self.eor_pending = false;
            for af in &self.cfg.families {
                out.push((Audience::All, end_of_rib(*af)));
            }
        }
        out
    }
    /// Whether the peer already has what `a` (queued for `k`, current generation) exports
    /// to: the same source route sent under this generation, or under the generation before
    /// the last policy change when both policies export it alike (then it is recorded under
    /// this one).
    fn unchanged(&mut self, k: (AnyPrefix, u32), a: &Sent) -> bool {
        let Some(old) = self.sent.get(&k) else {
            return false;
        };
        if !old.same_route(a) {
            return false;
        }
        if old.generation == a.generation {
            return true;
        }
        let same = match &self.prev {
            Some((g, policy)) if *g == old.generation => {
                let p = k.0.to_net();
                let before = self.export_plain(policy.as_ref(), a.src, &a.attrs, p);
                before.is_some()
                    && before == self.export_plain(self.cfg.policy.as_ref(), a.src, &a.attrs, p)
            }
            _ => false,
        };
        if same {
            self.sent.insert(k, a.clone());
        }
        same
    }
    /// Everything advertised, packed again for one member of an update group (its own routes
    /// left out): what a member that joins the group, or asks for a route refresh, is sent
    /// before the group's stream. Sets that no longer encode are skipped and counted.
    pub(crate) fn encode_sent_for(&mut self, ctx: &SessionContext, member: PeerId) -> Vec<Update> {
        let id4 = ctx.sends_path_id(AfiSafi::IPV4_UNICAST);
        let id6 = ctx.sends_path_id(AfiSafi::IPV6_UNICAST);
        let mut groups: Vec<(Arc<Attrs>, Vec<Nlri>, Vec<Nlri>)> = Vec::new();
        let mut by_ptr: FastMap<usize, usize> = FastMap::default();
        // Sorted, so a dump is the same whatever the table's history.
        let mut routes: Vec<((AnyPrefix, u32), Sent)> = self
            .sent
            .iter()
            .filter(|(_, s)| s.src != member.0 || member == PeerId::LOCAL)
            .map(|(k, s)| (k, s.clone()))
            .collect();
        routes.sort_unstable_by_key(|(k, _)| *k);
        for ((p, id), s) in routes {
            let Some(attrs) = self.export_now(s.src, &s.attrs, p.to_net()) else {
                continue;
            };
            let g = *by_ptr
                .entry(Arc::as_ptr(&attrs) as usize)
                .or_insert_with(|| {
                    groups.push((attrs.clone(), Vec::new(), Vec::new()));
                    groups.len() - 1
                });
            self.interner.release(attrs);
            let v4 = matches!(p, AnyPrefix::V4(_));
            let mut nlri = Nlri::new(p.to_net());
            if (v4 && id4) || (!v4 && id6) {
                nlri.path_id = Some(id);
            }
            if let Some(grp) = groups.get_mut(g) {
                if v4 {
                    grp.1.push(nlri)
                } else {
                    grp.2.push(nlri)
                }
            }
        }
        let mut out = Vec::new();
        for (a, n4, n6) in groups {
            match encode_group(ctx, &a, n4, n6) {
                Ok(u) => out.extend(u),
                Err(_) => self.encode_errors += 1,
            }
            self.interner.release(a);
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
        let again: Vec<((AnyPrefix, u32), Sent)> = self
            .sent
            .iter()
            .filter(|((p, _), _)| matches!(p, AnyPrefix::V4(_)) == v4)
            .filter(|(k, _)| !self.pending.contains_key(k))
            .map(|(k, a)| {
                let mut a = a.clone();
                a.generation = FORCE;
                (k, a)
            })
            .collect();
        let n = again.len();
        for (k, a) in again {
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
        self.sent.clear();
        self.pending = Pending::default();
        self.clear_cache();
        self.out_ids.clear();
        self.eor_pending = false;
    }
}

/// The UPDATEs announcing `n4` and `n6` with attributes `a`.
fn encode_group(
    ctx: &SessionContext,
    a: &Attrs,
    n4: Vec<Nlri>,
    n6: Vec<Nlri>,
) -> Result<Vec<Update>, bgp_wire::EncodeError> {
    let mut wire = a.to_wire();
    if !ctx.four_octet_as {
        add_as4(a, &mut wire);
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
    b.build()
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
