//! The RIB: per-prefix path sets (Adj-RIB-In post-policy and Loc-RIB in one structure), the
//! decision process run on every change, and a stream of deltas.
//!
//! Every path a peer announced (after import policy) lives in its prefix's destination, tagged
//! with the peer; the Loc-RIB is the best/multipath flags on those paths. This is how FRR and BIRD
//! avoid a second copy of every route. A peer's pre-policy copy (for soft reconfiguration) is
//! kept only when asked for.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use bgp_wire::nlri::MpNlri;
use bgp_wire::{AfiSafi, PathAttribute, Update, UpdateAction, UpdateVerdict};
use ipnet::IpNet;

use crate::attrs::{Attrs, Interner};
use crate::decision::{
    self, AllReachable, Candidate, DecisionConfig, NextHopResolver, PeerInfo, Reason,
    WeightedNextHop,
};
use crate::policy::Policy;
use crate::prefix::{AddrBits, AnyPrefix, FastBuild, FastHasher, Prefix, PrefixMap};

/// Identifies a peer in the RIB. [`PeerId::LOCAL`] stands for locally originated routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u32);

impl PeerId {
    /// Locally originated routes.
    pub const LOCAL: PeerId = PeerId(0);
}

/// Errors of RIB operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RibError {
    /// The peer id is not registered.
    #[error("unknown peer {0:?}")]
    UnknownPeer(PeerId),
    /// Only IPv4 and IPv6 unicast are stored.
    #[error("unsupported address family {0}")]
    UnsupportedFamily(AfiSafi),
    /// An announcement had no usable next hop.
    #[error("announcement without a next hop")]
    NoNextHop,
}

/// What changed for a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeltaKind {
    /// The best path changed (new route, other path, or new attributes).
    BestChanged,
    /// Same best path, different multipath set.
    MultipathChanged,
    /// No usable path remains.
    Withdrawn,
}

/// One change of the Loc-RIB; look the prefix up with [`Rib::route`] for the new state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delta {
    /// The prefix.
    pub prefix: IpNet,
    /// What changed.
    pub kind: DeltaKind,
}

const F_BEST: u8 = 1;
const F_MULTI: u8 = 2;
const F_STALE: u8 = 4;

/// One stored path: 24 bytes.
#[derive(Debug, Clone)]
struct PathRec {
    attrs: Arc<Attrs>,
    peer: u32,
    path_id: u32,
    arrival: u32,
    flags: u8,
}

/// The paths of one prefix: inline when there is one, a boxed slice of exact size otherwise
/// (an empty boxed slice, which does not allocate, when there are none). Two variants so the
/// `Arc`'s non-null niche tags it: 24 bytes.
#[derive(Debug)]
enum PathSet {
    One(PathRec),
    Many(Box<[PathRec]>),
}

impl PathSet {
    fn empty() -> Self {
        PathSet::Many(Vec::new().into_boxed_slice())
    }
    fn is_empty(&self) -> bool {
        matches!(self, PathSet::Many(b) if b.is_empty())
    }
}

impl PathSet {
    fn as_slice(&self) -> &[PathRec] {
        match self {
            PathSet::One(p) => std::slice::from_ref(p),
            PathSet::Many(b) => b,
        }
    }
    fn as_mut_slice(&mut self) -> &mut [PathRec] {
        match self {
            PathSet::One(p) => std::slice::from_mut(p),
            PathSet::Many(b) => b,
        }
    }
    fn push(&mut self, r: PathRec) {
        *self = match std::mem::replace(self, PathSet::empty()) {
            PathSet::Many(b) if b.is_empty() => PathSet::One(r),
            PathSet::One(a) => PathSet::Many(Box::new([a, r])),
            PathSet::Many(b) => {
                let mut v = Vec::with_capacity(b.len() + 1);
                v.extend(b.into_vec());
                v.push(r);
                PathSet::Many(v.into_boxed_slice())
            }
        };
    }
    fn remove(&mut self, i: usize) -> Option<PathRec> {
        let (new, out) = match std::mem::replace(self, PathSet::empty()) {
            PathSet::One(a) => {
                if i == 0 {
                    (PathSet::empty(), Some(a))
                } else {
                    (PathSet::One(a), None)
                }
            }
            PathSet::Many(b) => {
                if i >= b.len() {
                    (PathSet::Many(b), None)
                } else {
                    let mut v = b.into_vec();
                    let r = v.remove(i);
                    if v.len() == 1 {
                        match v.pop() {
                            Some(x) => (PathSet::One(x), Some(r)),
                            None => (PathSet::empty(), Some(r)),
                        }
                    } else {
                        (PathSet::Many(v.into_boxed_slice()), Some(r))
                    }
                }
            }
        };
        *self = new;
        out
    }
}

#[derive(Debug)]
struct Dest<A> {
    prefix: Prefix<A>,
    paths: PathSet,
}

/// One family's table: a prefix index (per-length hash maps, LPM-capable) into an arena of
/// destinations.
#[derive(Debug)]
struct Table<A> {
    index: PrefixMap<A, u32>,
    dests: Vec<Dest<A>>,
    free: Vec<u32>,
}

impl<A: AddrBits> Table<A> {
    fn new() -> Self {
        Table {
            index: PrefixMap::new(),
            dests: Vec::new(),
            free: Vec::new(),
        }
    }
    fn find(&self, p: Prefix<A>) -> Option<u32> {
        self.index.get(p.addr, p.len).copied()
    }
    fn find_or_insert(&mut self, p: Prefix<A>) -> u32 {
        if let Some(i) = self.find(p) {
            return i;
        }
        let d = Dest {
            prefix: p,
            paths: PathSet::empty(),
        };
        let i = match self.free.pop() {
            Some(i) => {
                if let Some(slot) = self.dests.get_mut(i as usize) {
                    *slot = d;
                }
                i
            }
            None => {
                self.dests.push(d);
                (self.dests.len() - 1) as u32
            }
        };
        self.index.insert(p.addr, p.len, i);
        i
    }
    /// Drop the destination if it has no paths left.
    fn gc(&mut self, i: u32) {
        if let Some(d) = self.dests.get(i as usize)
            && d.paths.is_empty()
        {
            let p = d.prefix;
            self.index.remove(p.addr, p.len);
            self.free.push(i);
        }
    }
}

/// Per-peer state.
#[derive(Debug)]
struct PeerSlot {
    info: PeerInfo,
    import: Option<Arc<dyn Policy>>,
    /// Pre-policy Adj-RIB-In copy, when soft reconfiguration inbound is on.
    soft_in: Option<HashMap<(AnyPrefix, u32), Arc<Attrs>, FastBuild>>,
    /// Graceful restart: stale paths are swept at this time (seconds, caller's clock).
    gr_deadline: Option<u64>,
    /// Paths of this peer in the RIB (after import policy), IPv4 and IPv6.
    paths: [usize; 2],
}

/// Index of a prefix's family in [`PeerSlot::paths`].
fn fam_index(key: AnyPrefix) -> usize {
    match key {
        AnyPrefix::V4(_) => 0,
        AnyPrefix::V6(_) => 1,
    }
}

/// A view of one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathView {
    /// The peer it came from.
    pub peer: PeerId,
    /// That peer's address (unspecified for local routes).
    pub peer_addr: IpAddr,
    /// ADD-PATH path id (0 without ADD-PATH).
    pub path_id: u32,
    /// Attributes after import policy.
    pub attrs: Arc<Attrs>,
    /// Marked stale by graceful restart.
    pub stale: bool,
    /// Selected as best.
    pub best: bool,
    /// Member of the multipath set.
    pub multipath: bool,
}

/// The Loc-RIB entry of a prefix: best path, multipath set and next hops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteView {
    /// The prefix.
    pub prefix: IpNet,
    /// The best path.
    pub best: PathView,
    /// The multipath set, best first.
    pub multipath: Vec<PathView>,
    /// The ECMP next hops with weights, sorted by address.
    pub next_hops: Vec<WeightedNextHop>,
    /// Why the best path won.
    pub reason: Reason,
}

/// Summary of applying one UPDATE.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateSummary {
    /// Routes announced (before import policy).
    pub announced: usize,
    /// Routes withdrawn.
    pub withdrawn: usize,
    /// Routes rejected by import policy.
    pub rejected: usize,
    /// End-of-RIB markers seen (families).
    pub end_of_rib: Vec<AfiSafi>,
    /// Families disabled by an RFC 7606 AFI/SAFI-disable verdict (the peer's routes of those
    /// families were removed; see [`Rib::apply_decoded`]).
    pub disabled: Vec<AfiSafi>,
}

/// Adj-RIB-In + Loc-RIB for IPv4 and IPv6 unicast.
///
/// ```
/// use bgp_rib::{Rib, DecisionConfig, PeerInfo, Attrs, DeltaKind};
/// let mut cfg = DecisionConfig::new(64512, "192.168.1.1".parse().unwrap());
/// cfg.max_paths_ibgp = 8;
/// let mut rib = Rib::new(cfg);
/// let prefix = "172.16.10.0/32".parse().unwrap();
/// for i in 1..=3u8 {
///     let addr = std::net::Ipv4Addr::new(192, 168, 1, 20 + i);
///     let peer = rib.add_peer(PeerInfo::new(addr.into(), 64512, addr, 64512));
///     rib.announce(peer, prefix, 0, Attrs::new(addr.into())).unwrap();
/// }
/// let route = rib.route(prefix).unwrap();
/// assert_eq!(route.next_hops.len(), 3);
/// assert_eq!(rib.drain_deltas()[0].kind, DeltaKind::BestChanged);
/// ```
pub struct Rib {
    cfg: DecisionConfig,
    local: PeerInfo,
    peers: Vec<Option<PeerSlot>>,
    v4: Table<u32>,
    v6: Table<u128>,
    interner: Interner,
    resolver: Box<dyn NextHopResolver + Send + Sync>,
    deltas: Vec<Delta>,
    track: bool,
    arrival: u32,
}

impl std::fmt::Debug for Rib {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rib")
            .field("cfg", &self.cfg)
            .field("v4_prefixes", &self.v4.index.len())
            .field("v6_prefixes", &self.v6.index.len())
            .field("attr_sets", &self.interner.len())
            .finish()
    }
}

/// Everything the decision needs besides the paths.
struct Ctx<'a> {
    cfg: &'a DecisionConfig,
    local: &'a PeerInfo,
    peers: &'a [Option<PeerSlot>],
    resolver: &'a dyn NextHopResolver,
}

impl Ctx<'_> {
    fn peer(&self, id: u32) -> &PeerInfo {
        if id == 0 {
            return self.local;
        }
        match self.peers.get(id as usize) {
            Some(Some(p)) => &p.info,
            _ => self.local,
        }
    }
    /// Eligible candidates of a path list, with their indices.
    fn candidates<'p>(&'p self, paths: &'p [PathRec]) -> (Vec<Candidate<'p>>, Vec<usize>) {
        let mut c = Vec::with_capacity(paths.len());
        let mut idx = Vec::with_capacity(paths.len());
        for (i, p) in paths.iter().enumerate() {
            let local = p.peer == 0;
            if let Ok(cost) = decision::exclusion(self.cfg, &p.attrs, local, self.resolver) {
                c.push(Candidate {
                    attrs: &p.attrs,
                    peer: self.peer(p.peer),
                    local,
                    path_id: p.path_id,
                    arrival: p.arrival,
                    igp_cost: cost,
                });
                idx.push(i);
            }
        }
        (c, idx)
    }
    /// (best path index, multipath path indices, reason).
    fn evaluate(&self, paths: &[PathRec]) -> Option<(usize, Vec<usize>, Reason)> {
        let (c, idx) = self.candidates(paths);
        let s = decision::select(self.cfg, &c)?;
        Some((
            idx[s.best],
            s.multipath.iter().map(|&m| idx[m]).collect(),
            s.reason,
        ))
    }
}

fn path_key(p: &PathRec) -> u64 {
    let mut h = FastHasher::default();
    p.peer.hash(&mut h);
    p.path_id.hash(&mut h);
    (Arc::as_ptr(&p.attrs) as usize).hash(&mut h);
    h.finish()
}

/// The current best path and multipath set of a destination, as fingerprints.
fn snapshot(paths: &[PathRec]) -> (Option<u64>, u64) {
    let mut old_best = None;
    let mut old_mp = 0u64;
    for p in paths {
        if p.flags & F_BEST != 0 {
            old_best = Some(path_key(p));
        }
        if p.flags & F_MULTI != 0 {
            old_mp = old_mp.wrapping_add(path_key(p));
        }
    }
    (old_best, old_mp)
}

/// Recompute one destination's flags; the kind of change since `before` (a [`snapshot`] taken
/// before the paths were modified), if any.
fn recompute<A: AddrBits>(
    ctx: &Ctx<'_>,
    d: &mut Dest<A>,
    before: (Option<u64>, u64),
) -> Option<DeltaKind> {
    let (old_best, old_mp) = before;
    let paths = d.paths.as_mut_slice();
    let sel = if paths.len() == 1 {
        // Fast path: one path is best if it is eligible.
        let p = &paths[0];
        decision::exclusion(ctx.cfg, &p.attrs, p.peer == 0, ctx.resolver)
            .ok()
            .map(|_| (0usize, None))
    } else {
        ctx.evaluate(paths).map(|(b, m, _)| (b, Some(m)))
    };
    for p in paths.iter_mut() {
        p.flags &= !(F_BEST | F_MULTI);
    }
    let mut new_best = None;
    let mut new_mp = 0u64;
    if let Some((b, mp)) = sel {
        match mp {
            None => paths[b].flags |= F_MULTI,
            Some(m) => {
                for i in m {
                    paths[i].flags |= F_MULTI;
                }
            }
        }
        paths[b].flags |= F_BEST;
        new_best = Some(path_key(&paths[b]));
        for p in paths.iter() {
            if p.flags & F_MULTI != 0 {
                new_mp = new_mp.wrapping_add(path_key(p));
            }
        }
    }
    match (old_best, new_best) {
        (None, None) => None,
        (Some(_), None) => Some(DeltaKind::Withdrawn),
        (o, n) if o != n => Some(DeltaKind::BestChanged),
        _ if old_mp != new_mp => Some(DeltaKind::MultipathChanged),
        _ => None,
    }
}

macro_rules! with_table {
    ($self:ident, $prefix:expr, |$t:ident, $p:ident| $body:expr) => {
        match $prefix {
            AnyPrefix::V4($p) => {
                let $t = &mut $self.v4;
                $body
            }
            AnyPrefix::V6($p) => {
                let $t = &mut $self.v6;
                $body
            }
        }
    };
}

impl Rib {
    /// An empty RIB where every next hop resolves at cost 0.
    pub fn new(cfg: DecisionConfig) -> Self {
        Self::with_resolver(cfg, Box::new(AllReachable))
    }
    /// An empty RIB with a next-hop resolver.
    pub fn with_resolver(
        cfg: DecisionConfig,
        resolver: Box<dyn NextHopResolver + Send + Sync>,
    ) -> Self {
        Rib {
            local: PeerInfo::local(&cfg),
            cfg,
            peers: vec![None],
            v4: Table::new(),
            v6: Table::new(),
            interner: Interner::default(),
            resolver,
            deltas: Vec::new(),
            track: true,
            arrival: 0,
        }
    }
    /// The decision configuration.
    pub fn config(&self) -> &DecisionConfig {
        &self.cfg
    }
    /// Change the decision configuration and recompute everything.
    pub fn set_config(&mut self, cfg: DecisionConfig) {
        self.local = PeerInfo::local(&cfg);
        self.cfg = cfg;
        self.recompute_all();
    }
    /// Replace the next-hop resolver and recompute everything (call after IGP changes).
    pub fn set_resolver(&mut self, r: Box<dyn NextHopResolver + Send + Sync>) {
        self.resolver = r;
        self.recompute_all();
    }
    /// Turn delta tracking on or off (on by default).
    pub fn set_track_deltas(&mut self, on: bool) {
        self.track = on;
    }
    /// Register a peer.
    pub fn add_peer(&mut self, info: PeerInfo) -> PeerId {
        let slot = PeerSlot {
            info,
            import: None,
            soft_in: None,
            gr_deadline: None,
            paths: [0; 2],
        };
        if let Some(i) = self.peers.iter().skip(1).position(|p| p.is_none()) {
            self.peers[i + 1] = Some(slot);
            PeerId(i as u32 + 1)
        } else {
            self.peers.push(Some(slot));
            PeerId(self.peers.len() as u32 - 1)
        }
    }
    /// Forget a peer and all its routes.
    pub fn remove_peer(&mut self, peer: PeerId) {
        self.peer_down(peer);
        if peer != PeerId::LOCAL
            && let Some(s) = self.peers.get_mut(peer.0 as usize)
        {
            *s = None;
        }
    }
    /// Update what we know about a peer (e.g. its router id, learned when the session comes
    /// up) and recompute the prefixes it has paths for.
    pub fn set_peer_info(&mut self, peer: PeerId, info: PeerInfo) -> Result<(), RibError> {
        self.slot(peer)?.info = info;
        let id = peer.0;
        let ctx = Ctx {
            cfg: &self.cfg,
            local: &self.local,
            peers: &self.peers,
            resolver: &*self.resolver,
        };
        for d in self.v4.dests.iter_mut() {
            if d.paths.as_slice().iter().any(|p| p.peer == id)
                && let Some(kind) = recompute(&ctx, d, snapshot(d.paths.as_slice()))
                && self.track
            {
                self.deltas.push(Delta {
                    prefix: d.prefix.to_net(),
                    kind,
                });
            }
        }
        for d in self.v6.dests.iter_mut() {
            if d.paths.as_slice().iter().any(|p| p.peer == id)
                && let Some(kind) = recompute(&ctx, d, snapshot(d.paths.as_slice()))
                && self.track
            {
                self.deltas.push(Delta {
                    prefix: d.prefix.to_net(),
                    kind,
                });
            }
        }
        Ok(())
    }
    /// How many paths of `peer` in family `af` (IPv4 or IPv6 unicast) the RIB holds: what
    /// import policy accepted, stale ones included, each ADD-PATH path counted. Kept as a
    /// counter, so it is cheap enough to check after every UPDATE (a maximum-prefix limit).
    /// Zero for other families and unknown peers.
    pub fn peer_path_count(&self, peer: PeerId, af: AfiSafi) -> usize {
        let i = match af {
            AfiSafi::IPV4_UNICAST => 0,
            AfiSafi::IPV6_UNICAST => 1,
            _ => return 0,
        };
        match self.peers.get(peer.0 as usize) {
            Some(Some(s)) => s.paths[i],
            _ => 0,
        }
    }
    /// Information about a peer.
    pub fn peer_info(&self, peer: PeerId) -> Option<&PeerInfo> {
        if peer == PeerId::LOCAL {
            return Some(&self.local);
        }
        self.peers.get(peer.0 as usize)?.as_ref().map(|s| &s.info)
    }
    fn slot(&mut self, peer: PeerId) -> Result<&mut PeerSlot, RibError> {
        self.peers
            .get_mut(peer.0 as usize)
            .and_then(|s| s.as_mut())
            .ok_or(RibError::UnknownPeer(peer))
    }
    /// Set (or clear) a peer's import policy. Takes effect for new routes; call
    /// [`Rib::soft_reconfigure`] to re-apply it to stored ones.
    pub fn set_import_policy(
        &mut self,
        peer: PeerId,
        p: Option<Arc<dyn Policy>>,
    ) -> Result<(), RibError> {
        self.slot(peer)?.import = p;
        Ok(())
    }
    /// Keep the pre-policy copy of this peer's routes (soft reconfiguration inbound).
    pub fn set_soft_reconfiguration(&mut self, peer: PeerId, on: bool) -> Result<(), RibError> {
        let s = self.slot(peer)?;
        s.soft_in = if on { Some(HashMap::default()) } else { None };
        Ok(())
    }
    /// Re-run the import policy over the stored pre-policy routes of a peer.
    pub fn soft_reconfigure(&mut self, peer: PeerId) -> Result<(), RibError> {
        let stored: Vec<((AnyPrefix, u32), Arc<Attrs>)> = match &self.slot(peer)?.soft_in {
            Some(m) => m.iter().map(|(k, v)| (*k, v.clone())).collect(),
            None => return Ok(()),
        };
        for ((p, id), a) in stored {
            self.announce_arc(peer, p.to_net(), id, a)?;
        }
        Ok(())
    }

    /// Announce (or replace) a path; import policy applies. `path_id` is 0 without ADD-PATH.
    pub fn announce(
        &mut self,
        peer: PeerId,
        prefix: IpNet,
        path_id: u32,
        attrs: Attrs,
    ) -> Result<(), RibError> {
        let a = self.interner.intern(attrs);
        let r = self.announce_inner(peer, prefix, path_id, a.clone(), true);
        self.interner.release(a);
        r
    }

    /// Announce with attributes that may already be shared (one `Arc` for all prefixes of an
    /// UPDATE avoids re-hashing the attributes per route).
    pub fn announce_arc(
        &mut self,
        peer: PeerId,
        prefix: IpNet,
        path_id: u32,
        attrs: Arc<Attrs>,
    ) -> Result<(), RibError> {
        self.announce_inner(peer, prefix, path_id, attrs, false)
    }

    /// `interned`: `attrs` came from this RIB's interner (skips re-hashing it).
    fn announce_inner(
        &mut self,
        peer: PeerId,
        prefix: IpNet,
        path_id: u32,
        attrs: Arc<Attrs>,
        interned: bool,
    ) -> Result<(), RibError> {
        let key = AnyPrefix::from(prefix);
        let import = if peer == PeerId::LOCAL {
            None
        } else {
            let s = self.slot(peer)?;
            if let Some(m) = &mut s.soft_in {
                m.insert((key, path_id), attrs.clone());
            }
            s.import.clone()
        };
        let attrs = match import {
            None if interned => attrs,
            None => self.interner.intern_arc(&attrs),
            Some(pol) => {
                let info = self.peer_info(peer).cloned().unwrap_or(self.local.clone());
                let mut a = (*attrs).clone();
                if !pol.apply(key.to_net(), &info, &mut a) {
                    // Rejected: acts as a withdrawal of any previous path (the pre-policy copy,
                    // if kept, stays for a later soft reconfiguration).
                    self.remove_where(key, |p| p.peer == peer.0 && p.path_id == path_id);
                    return Ok(());
                }
                self.interner.intern(a)
            }
        };
        self.arrival = self.arrival.wrapping_add(1);
        let rec = PathRec {
            attrs,
            peer: peer.0,
            path_id,
            arrival: self.arrival,
            flags: 0,
        };
        let ctx = Ctx {
            cfg: &self.cfg,
            local: &self.local,
            peers: &self.peers,
            resolver: &*self.resolver,
        };
        let (change, old, added) = with_table!(self, key, |t, p| {
            let i = t.find_or_insert(p);
            let Some(d) = t.dests.get_mut(i as usize) else {
                return Ok(());
            };
            let before = snapshot(d.paths.as_slice());
            let mut old = None;
            let mut rec = Some(rec);
            for x in d.paths.as_mut_slice() {
                if x.peer == peer.0 && x.path_id == path_id {
                    if let Some(mut r) = rec.take() {
                        // Implicit withdraw: keep the original arrival when nothing changed.
                        if Arc::ptr_eq(&x.attrs, &r.attrs) {
                            r.arrival = x.arrival;
                        }
                        r.flags = x.flags & (F_BEST | F_MULTI);
                        old = Some(std::mem::replace(x, r));
                    }
                    break;
                }
            }
            let added = rec.is_some();
            if let Some(r) = rec {
                d.paths.push(r);
            }
            (recompute(&ctx, d, before), old, added)
        });
        if let Some(o) = old {
            self.interner.release(o.attrs);
        }
        if added && let Some(Some(s)) = self.peers.get_mut(peer.0 as usize) {
            s.paths[fam_index(key)] += 1;
        }
        if let Some(kind) = change
            && self.track
        {
            self.deltas.push(Delta {
                prefix: key.to_net(),
                kind,
            });
        }
        Ok(())
    }

    /// Withdraw a path. Unknown paths are ignored (RFC 4271 permits withdrawing what was never sent).
    pub fn withdraw(&mut self, peer: PeerId, prefix: IpNet, path_id: u32) {
        let key = AnyPrefix::from(prefix);
        if let Some(Some(s)) = self.peers.get_mut(peer.0 as usize)
            && let Some(m) = &mut s.soft_in
        {
            m.remove(&(key, path_id));
        }
        self.remove_where(key, |p| p.peer == peer.0 && p.path_id == path_id);
    }

    /// Remove the paths of one prefix matching `f`, recompute, record the delta.
    fn remove_where(&mut self, key: AnyPrefix, f: impl Fn(&PathRec) -> bool) {
        let ctx = Ctx {
            cfg: &self.cfg,
            local: &self.local,
            peers: &self.peers,
            resolver: &*self.resolver,
        };
        let mut removed = Vec::new();
        let change = with_table!(self, key, |t, p| {
            let Some(i) = t.find(p) else { return };
            let Some(d) = t.dests.get_mut(i as usize) else {
                return;
            };
            let before = snapshot(d.paths.as_slice());
            while let Some(pos) = d.paths.as_slice().iter().position(&f) {
                if let Some(r) = d.paths.remove(pos) {
                    removed.push(r);
                }
            }
            let c = if removed.is_empty() {
                None
            } else {
                recompute(&ctx, d, before)
            };
            t.gc(i);
            c
        });
        for r in removed {
            if let Some(Some(s)) = self.peers.get_mut(r.peer as usize) {
                let n = &mut s.paths[fam_index(key)];
                *n = n.saturating_sub(1);
            }
            self.interner.release(r.attrs);
        }
        if let Some(kind) = change
            && self.track
        {
            self.deltas.push(Delta {
                prefix: key.to_net(),
                kind,
            });
        }
    }

    /// Originate a local route (peer [`PeerId::LOCAL`]).
    pub fn originate(&mut self, prefix: IpNet, attrs: Attrs) {
        let _ = self.announce(PeerId::LOCAL, prefix, 0, attrs);
    }
    /// Stop originating a local route.
    pub fn withdraw_local(&mut self, prefix: IpNet) {
        self.withdraw(PeerId::LOCAL, prefix, 0);
    }

    /// Apply a received UPDATE from `peer`: IPv4 unicast NLRI/withdrawn and MP_REACH /
    /// MP_UNREACH for IPv4 and IPv6 unicast. Other families are ignored. Path ids come from the
    /// NLRI (ADD-PATH), 0 otherwise.
    pub fn apply_update(&mut self, peer: PeerId, u: &Update) -> Result<UpdateSummary, RibError> {
        self.slot(peer)?;
        let mut s = UpdateSummary::default();
        if u.withdrawn.is_empty() && u.attributes.is_empty() && u.nlri.is_empty() {
            s.end_of_rib.push(AfiSafi::IPV4_UNICAST);
            return Ok(s);
        }
        for w in &u.withdrawn {
            self.withdraw(peer, w.prefix, w.path_id.unwrap_or(0));
            s.withdrawn += 1;
        }
        let mut reach: Vec<&bgp_wire::Nlri> = u.nlri.iter().collect();
        for a in &u.attributes {
            match a {
                PathAttribute::MpUnreachNlri(m) => {
                    if m.withdrawn.is_empty() && u.attributes.len() == 1 {
                        s.end_of_rib.push(m.af);
                    }
                    if (m.af == AfiSafi::IPV4_UNICAST || m.af == AfiSafi::IPV6_UNICAST)
                        && let MpNlri::Prefixes(ps) = &m.withdrawn
                    {
                        for w in ps {
                            self.withdraw(peer, w.prefix, w.path_id.unwrap_or(0));
                            s.withdrawn += 1;
                        }
                    }
                }
                PathAttribute::MpReachNlri(m)
                    if m.af == AfiSafi::IPV4_UNICAST || m.af == AfiSafi::IPV6_UNICAST =>
                {
                    reach.extend(m.nlri.prefixes().iter());
                }
                _ => {}
            }
        }
        if reach.is_empty() {
            return Ok(s);
        }
        let mut attrs = Attrs::from_wire(&u.attributes).ok_or(RibError::NoNextHop)?;
        if self.peer_info(peer).is_some_and(|p| !p.ibgp) {
            // RFC 4271 §5.1.5: LOCAL_PREF from an external peer is ignored.
            attrs.local_pref = None;
        }
        let a = self.interner.intern(attrs);
        for n in reach {
            self.announce_inner(peer, n.prefix, n.path_id.unwrap_or(0), a.clone(), true)?;
            s.announced += 1;
        }
        self.interner.release(a);
        Ok(s)
    }

    /// Apply a received UPDATE together with its RFC 7606 verdict, as bgp-wire decoded them:
    /// - clean or attribute-discard: [`Rib::apply_update`] (the discarded attributes are
    ///   already absent from the typed UPDATE);
    /// - treat-as-withdraw: the UPDATE's own withdrawals, plus every route the verdict lists
    ///   (its announcements) withdrawn; nothing is announced;
    /// - AFI/SAFI disable: the peer's routes of each disabled family are removed (reported in
    ///   [`UpdateSummary::disabled`]; ignoring that family from then on is the session's
    ///   business), and the rest is handled as above;
    /// - session reset: nothing (the session is being torn down; its routes go with
    ///   [`Rib::peer_down`]).
    pub fn apply_decoded(
        &mut self,
        peer: PeerId,
        u: &Update,
        verdict: &UpdateVerdict,
    ) -> Result<UpdateSummary, RibError> {
        self.slot(peer)?;
        let mut s = UpdateSummary::default();
        let mut taw = false;
        for p in &verdict.problems {
            match &p.action {
                UpdateAction::SessionReset(_) => return Ok(s),
                UpdateAction::AfiSafiDisable(af) => {
                    if !s.disabled.contains(af) {
                        s.disabled.push(*af);
                    }
                }
                UpdateAction::TreatAsWithdraw => taw = true,
                UpdateAction::AttributeDiscard => {}
            }
        }
        for af in &s.disabled {
            let id = peer.0;
            self.sweep(|p| p.peer == id, Some(*af));
        }
        if !taw {
            if !s.disabled.is_empty() {
                // Only routes of families still enabled.
                let mut rest = u.clone();
                rest.attributes.retain(|a| match a {
                    PathAttribute::MpReachNlri(m) => !s.disabled.contains(&m.af),
                    PathAttribute::MpUnreachNlri(m) => !s.disabled.contains(&m.af),
                    _ => true,
                });
                if s.disabled.contains(&AfiSafi::IPV4_UNICAST) {
                    rest.nlri.clear();
                    rest.withdrawn.clear();
                }
                let mut r = self.apply_update(peer, &rest)?;
                r.disabled = s.disabled;
                return Ok(r);
            }
            return self.apply_update(peer, u);
        }
        // Treat-as-withdraw: explicit withdrawals still count, announcements become withdrawals.
        let mut gone: Vec<(AfiSafi, IpNet, u32)> = Vec::new();
        if !s.disabled.contains(&AfiSafi::IPV4_UNICAST) {
            gone.extend(
                u.withdrawn
                    .iter()
                    .map(|n| (AfiSafi::IPV4_UNICAST, n.prefix, n.path_id.unwrap_or(0))),
            );
        }
        for a in &u.attributes {
            if let PathAttribute::MpUnreachNlri(m) = a
                && !s.disabled.contains(&m.af)
            {
                gone.extend(
                    m.withdrawn
                        .prefixes()
                        .iter()
                        .map(|n| (m.af, n.prefix, n.path_id.unwrap_or(0))),
                );
            }
        }
        gone.extend(
            verdict
                .treat_as_withdraw
                .iter()
                .map(|(af, n)| (*af, n.prefix, n.path_id.unwrap_or(0))),
        );
        for (af, prefix, path_id) in gone {
            if af == AfiSafi::IPV4_UNICAST || af == AfiSafi::IPV6_UNICAST {
                self.withdraw(peer, prefix, path_id);
                s.withdrawn += 1;
            }
        }
        Ok(s)
    }

    /// Remove every path of a peer (session down), recomputing the affected prefixes.
    pub fn peer_down(&mut self, peer: PeerId) {
        if let Some(Some(s)) = self.peers.get_mut(peer.0 as usize) {
            if let Some(m) = &mut s.soft_in {
                m.clear();
            }
            s.gr_deadline = None;
        }
        self.sweep(|p| p.peer == peer.0, None);
    }

    /// Remove paths matching `f` in every (or one) family.
    fn sweep(&mut self, f: impl Fn(&PathRec) -> bool, only: Option<AfiSafi>) {
        let mut keys: Vec<AnyPrefix> = Vec::new();
        if only.is_none() || only == Some(AfiSafi::IPV4_UNICAST) {
            keys.extend(
                self.v4
                    .dests
                    .iter()
                    .filter(|d| d.paths.as_slice().iter().any(&f))
                    .map(|d| AnyPrefix::V4(d.prefix)),
            );
        }
        if only.is_none() || only == Some(AfiSafi::IPV6_UNICAST) {
            keys.extend(
                self.v6
                    .dests
                    .iter()
                    .filter(|d| d.paths.as_slice().iter().any(&f))
                    .map(|d| AnyPrefix::V6(d.prefix)),
            );
        }
        for k in keys {
            self.remove_where(k, &f);
        }
    }

    /// Graceful restart (RFC 4724, helper side): the peer's session went down but it is
    /// restarting. Its paths stay in use, marked stale, until [`Rib::end_of_rib`] or until
    /// `now + restart_time` seconds pass ([`Rib::tick`]).
    pub fn peer_restarting(&mut self, peer: PeerId, now: u64, restart_time: u16) {
        let id = peer.0;
        for d in &mut self.v4.dests {
            for p in d.paths.as_mut_slice() {
                if p.peer == id {
                    p.flags |= F_STALE;
                }
            }
        }
        for d in &mut self.v6.dests {
            for p in d.paths.as_mut_slice() {
                if p.peer == id {
                    p.flags |= F_STALE;
                }
            }
        }
        if let Some(Some(s)) = self.peers.get_mut(id as usize) {
            s.gr_deadline = Some(now.saturating_add(u64::from(restart_time)));
        }
    }

    /// End-of-RIB from a peer for a family: its paths still marked stale are removed.
    pub fn end_of_rib(&mut self, peer: PeerId, af: AfiSafi) {
        let id = peer.0;
        self.sweep(|p| p.peer == id && p.flags & F_STALE != 0, Some(af));
        let any_left = self.v4.dests.iter().chain(std::iter::empty()).any(|d| {
            d.paths
                .as_slice()
                .iter()
                .any(|p| p.peer == id && p.flags & F_STALE != 0)
        }) || self.v6.dests.iter().any(|d| {
            d.paths
                .as_slice()
                .iter()
                .any(|p| p.peer == id && p.flags & F_STALE != 0)
        });
        if !any_left && let Some(Some(s)) = self.peers.get_mut(id as usize) {
            s.gr_deadline = None;
        }
    }

    /// Advance time: peers whose restart timer expired lose their stale paths.
    pub fn tick(&mut self, now: u64) {
        let expired: Vec<u32> = self
            .peers
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Some(s) if s.gr_deadline.is_some_and(|d| now >= d) => Some(i as u32),
                _ => None,
            })
            .collect();
        for id in expired {
            self.sweep(|p| p.peer == id && p.flags & F_STALE != 0, None);
            if let Some(Some(s)) = self.peers.get_mut(id as usize) {
                s.gr_deadline = None;
            }
        }
    }

    /// Re-run the decision for every prefix (after a configuration or IGP change).
    pub fn recompute_all(&mut self) {
        let ctx = Ctx {
            cfg: &self.cfg,
            local: &self.local,
            peers: &self.peers,
            resolver: &*self.resolver,
        };
        for d in &mut self.v4.dests {
            if let Some(kind) = recompute(&ctx, d, snapshot(d.paths.as_slice()))
                && self.track
            {
                self.deltas.push(Delta {
                    prefix: d.prefix.to_net(),
                    kind,
                });
            }
        }
        for d in &mut self.v6.dests {
            if let Some(kind) = recompute(&ctx, d, snapshot(d.paths.as_slice()))
                && self.track
            {
                self.deltas.push(Delta {
                    prefix: d.prefix.to_net(),
                    kind,
                });
            }
        }
    }

    /// Take the pending deltas, oldest first.
    pub fn drain_deltas(&mut self) -> Vec<Delta> {
        std::mem::take(&mut self.deltas)
    }

    fn paths_of(&self, key: AnyPrefix) -> &[PathRec] {
        let d = match key {
            AnyPrefix::V4(p) => self
                .v4
                .find(p)
                .and_then(|i| self.v4.dests.get(i as usize))
                .map(|d| d.paths.as_slice()),
            AnyPrefix::V6(p) => self
                .v6
                .find(p)
                .and_then(|i| self.v6.dests.get(i as usize))
                .map(|d| d.paths.as_slice()),
        };
        d.unwrap_or(&[])
    }

    fn view(&self, p: &PathRec) -> PathView {
        PathView {
            peer: PeerId(p.peer),
            peer_addr: self
                .peer_info(PeerId(p.peer))
                .map(|i| i.addr)
                .unwrap_or(self.local.addr),
            path_id: p.path_id,
            attrs: p.attrs.clone(),
            stale: p.flags & F_STALE != 0,
            best: p.flags & F_BEST != 0,
            multipath: p.flags & F_MULTI != 0,
        }
    }

    /// All paths stored for a prefix (the Adj-RIBs-In post-policy), with their flags.
    pub fn paths(&self, prefix: IpNet) -> Vec<PathView> {
        self.paths_of(prefix.into())
            .iter()
            .map(|p| self.view(p))
            .collect()
    }

    /// The Loc-RIB entry of a prefix (exact match).
    pub fn route(&self, prefix: IpNet) -> Option<RouteView> {
        let key = AnyPrefix::from(prefix);
        let paths = self.paths_of(key);
        let ctx = Ctx {
            cfg: &self.cfg,
            local: &self.local,
            peers: &self.peers,
            resolver: &*self.resolver,
        };
        let (best, mp, reason) = ctx.evaluate(paths)?;
        let multipath: Vec<PathView> = mp.iter().map(|&i| self.view(&paths[i])).collect();
        let next_hops = decision::next_hops(mp.iter().map(|&i| &*paths[i].attrs));
        Some(RouteView {
            prefix: key.to_net(),
            best: self.view(&paths[best]),
            multipath,
            next_hops,
            reason,
        })
    }

    /// Longest-prefix match of an address in the Loc-RIB: the most specific prefix with a
    /// usable best path (prefixes whose paths are all excluded do not shadow shorter ones).
    pub fn lookup(&self, addr: IpAddr) -> Option<RouteView> {
        match addr {
            IpAddr::V4(a) => self
                .v4
                .index
                .matches(u32::from(a))
                .find_map(|(p, _)| self.route(p.to_net())),
            IpAddr::V6(a) => self
                .v6
                .index
                .matches(u128::from(a))
                .find_map(|(p, _)| self.route(p.to_net())),
        }
    }

    /// Prefixes (both families) that currently have a best path.
    pub fn best_prefixes(&self) -> Vec<IpNet> {
        let has_best = |s: &PathSet| s.as_slice().iter().any(|p| p.flags & F_BEST != 0);
        let mut v: Vec<IpNet> = self
            .v4
            .dests
            .iter()
            .filter(|d| has_best(&d.paths))
            .map(|d| d.prefix.to_net())
            .chain(
                self.v6
                    .dests
                    .iter()
                    .filter(|d| has_best(&d.paths))
                    .map(|d| d.prefix.to_net()),
            )
            .collect();
        v.sort();
        v
    }

    /// Number of prefixes stored (with any path).
    pub fn prefix_count(&self) -> usize {
        self.v4.index.len() + self.v6.index.len()
    }
    /// Number of paths stored.
    pub fn path_count(&self) -> usize {
        self.v4
            .dests
            .iter()
            .map(|d| d.paths.as_slice().len())
            .chain(self.v6.dests.iter().map(|d| d.paths.as_slice().len()))
            .sum()
    }
    /// Number of distinct attribute sets held by the interner.
    pub fn attr_set_count(&self) -> usize {
        self.interner.len()
    }
    /// Intern an attribute set (to share one `Arc` across many [`Rib::announce_arc`] calls).
    pub fn intern(&mut self, a: Attrs) -> Arc<Attrs> {
        self.interner.intern(a)
    }
    /// Give back an `Arc` obtained from [`Rib::intern`].
    pub fn release(&mut self, a: Arc<Attrs>) {
        self.interner.release(a)
    }
    /// Shrink internal tables after a bulk load.
    pub fn shrink_to_fit(&mut self) {
        self.v4.index.shrink_to_fit();
        self.v6.index.shrink_to_fit();
        self.v4.dests.shrink_to_fit();
        self.v6.dests.shrink_to_fit();
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;
    #[test]
    fn records_are_small() {
        assert_eq!(std::mem::size_of::<PathRec>(), 24);
        assert_eq!(std::mem::size_of::<PathSet>(), 24);
        assert_eq!(std::mem::size_of::<Dest<u32>>(), 32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp_wire::Nlri;
    use bgp_wire::attr::{AsPath, MpNextHop, MpReach, MpUnreach};
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    const LOCAL_AS: u32 = 64512;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }
    fn ip(a: u8, b: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 168, a, b))
    }
    fn cfg() -> DecisionConfig {
        let mut c = DecisionConfig::new(LOCAL_AS, Ipv4Addr::new(192, 168, 1, 1));
        c.max_paths_ibgp = 16;
        c.max_paths_ebgp = 16;
        c
    }
    fn add(rib: &mut Rib, last: u8, asn: u32) -> PeerId {
        let a = Ipv4Addr::new(192, 168, 1, last);
        rib.add_peer(PeerInfo::new(a.into(), asn, a, LOCAL_AS))
    }
    fn attrs(nh: u8, path: &[u32]) -> Attrs {
        let mut a = Attrs::new(ip(1, nh));
        a.as_path = AsPath::from_sequence(path.iter().copied());
        a
    }

    #[test]
    fn reference_scenario_six_ibgp_next_hops() {
        let mut rib = Rib::new(cfg());
        let p = net("172.16.10.0/32");
        for last in [10u8, 21, 22, 23, 24, 25] {
            let id = add(&mut rib, last, LOCAL_AS);
            rib.announce(id, p, 0, attrs(last, &[])).unwrap();
        }
        let r = rib.route(p).unwrap();
        assert_eq!(r.next_hops.len(), 6);
        assert!(r.next_hops.iter().all(|n| n.weight == 1));
        assert_eq!(r.best.peer_addr, ip(1, 10), "lowest router id");
        assert_eq!(r.reason, Reason::RouterId);
        let d = rib.drain_deltas();
        assert_eq!(d[0].kind, DeltaKind::BestChanged);
        assert!(d[1..].iter().all(|x| x.kind == DeltaKind::MultipathChanged));
        assert_eq!(d.len(), 6);
        assert_eq!(rib.attr_set_count(), 6);
    }

    #[test]
    fn multipath_member_leaving_and_lpm_fallback() {
        let mut rib = Rib::new(cfg());
        let a = add(&mut rib, 10, LOCAL_AS);
        let b = add(&mut rib, 21, LOCAL_AS);
        let p = net("172.16.10.0/32");
        rib.announce(a, p, 0, attrs(10, &[])).unwrap();
        rib.announce(b, p, 0, attrs(21, &[])).unwrap();
        rib.drain_deltas();
        // The non-best member leaves: same best, smaller set.
        rib.withdraw(b, p, 0);
        assert_eq!(
            rib.drain_deltas(),
            vec![Delta {
                prefix: p,
                kind: DeltaKind::MultipathChanged
            }]
        );
        // Covering route: LPM falls back to it when the /32 goes.
        rib.announce(b, net("172.16.0.0/16"), 0, attrs(21, &[]))
            .unwrap();
        let host = "172.16.10.0".parse().unwrap();
        assert_eq!(rib.lookup(host).unwrap().prefix, p);
        rib.withdraw(a, p, 0);
        assert_eq!(rib.lookup(host).unwrap().prefix, net("172.16.0.0/16"));
        assert!(rib.lookup("10.0.0.1".parse().unwrap()).is_none());
        // An excluded (AS loop) more specific does not shadow the covering route.
        rib.announce(a, net("172.16.10.0/24"), 0, attrs(10, &[65001, LOCAL_AS]))
            .unwrap();
        assert_eq!(rib.lookup(host).unwrap().prefix, net("172.16.0.0/16"));
    }

    #[test]
    fn implicit_withdraw_withdraw_and_interner_cleanup() {
        let mut rib = Rib::new(cfg());
        let a = add(&mut rib, 2, 65001);
        let p = net("10.0.0.0/8");
        rib.announce(a, p, 0, attrs(2, &[65001])).unwrap();
        rib.announce(a, p, 0, attrs(2, &[65001])).unwrap();
        assert_eq!(
            rib.drain_deltas().len(),
            1,
            "same attributes again: no change"
        );
        assert_eq!(rib.path_count(), 1);
        let mut x = attrs(2, &[65001]);
        x.med = Some(3);
        rib.announce(a, p, 0, x).unwrap();
        assert_eq!(rib.path_count(), 1, "replaced, not added");
        assert_eq!(rib.drain_deltas()[0].kind, DeltaKind::BestChanged);
        assert_eq!(rib.attr_set_count(), 1, "old attribute set released");
        rib.withdraw(a, p, 0);
        assert_eq!(rib.drain_deltas()[0].kind, DeltaKind::Withdrawn);
        assert_eq!(rib.prefix_count(), 0);
        assert_eq!(rib.attr_set_count(), 0);
        assert!(rib.route(p).is_none());
        rib.withdraw(a, p, 0);
        assert!(
            rib.drain_deltas().is_empty(),
            "withdrawing nothing changes nothing"
        );
    }

    #[test]
    fn peer_path_counts_follow_every_add_and_removal() {
        #[derive(Debug)]
        struct DenyTen;
        impl Policy for DenyTen {
            fn apply(&self, prefix: IpNet, _: &PeerInfo, _: &mut Attrs) -> bool {
                !net("10.0.0.0/8").contains(&prefix)
            }
        }
        let v4 = AfiSafi::IPV4_UNICAST;
        let v6 = AfiSafi::IPV6_UNICAST;
        let mut rib = Rib::new(cfg());
        let a = add(&mut rib, 2, 65001);
        let b = add(&mut rib, 3, 65002);
        for p in ["10.0.0.0/8", "11.0.0.0/8", "12.0.0.0/8"] {
            rib.announce(a, net(p), 0, attrs(2, &[65001])).unwrap();
        }
        rib.announce(a, net("2001:db8::/32"), 0, attrs(2, &[65001]))
            .unwrap();
        rib.announce(b, net("10.0.0.0/8"), 0, attrs(3, &[65002]))
            .unwrap();
        assert_eq!(rib.peer_path_count(a, v4), 3);
        assert_eq!(rib.peer_path_count(a, v6), 1);
        assert_eq!(rib.peer_path_count(b, v4), 1);
        // Implicit withdraw replaces; a second ADD-PATH id adds.
        let mut x = attrs(2, &[65001]);
        x.med = Some(7);
        rib.announce(a, net("10.0.0.0/8"), 0, x).unwrap();
        assert_eq!(rib.peer_path_count(a, v4), 3);
        rib.announce(a, net("10.0.0.0/8"), 9, attrs(2, &[65001]))
            .unwrap();
        assert_eq!(rib.peer_path_count(a, v4), 4);
        rib.withdraw(a, net("10.0.0.0/8"), 9);
        rib.withdraw(a, net("99.0.0.0/8"), 0);
        assert_eq!(
            rib.peer_path_count(a, v4),
            3,
            "unknown withdrawals change nothing"
        );
        // Import policy: a rejected re-announcement removes the accepted path; rejected
        // routes are not counted.
        rib.set_import_policy(a, Some(Arc::new(DenyTen))).unwrap();
        rib.announce(a, net("10.0.0.0/8"), 0, attrs(2, &[65001]))
            .unwrap();
        rib.announce(a, net("10.1.0.0/16"), 0, attrs(2, &[65001]))
            .unwrap();
        assert_eq!(rib.peer_path_count(a, v4), 2);
        // Graceful restart: stale paths count until swept.
        rib.peer_restarting(a, 0, 5);
        assert_eq!(rib.peer_path_count(a, v4), 2);
        rib.tick(5);
        assert_eq!(rib.peer_path_count(a, v4), 0);
        assert_eq!(rib.peer_path_count(a, v6), 0);
        assert_eq!(rib.peer_path_count(b, v4), 1);
        rib.peer_down(b);
        assert_eq!(rib.peer_path_count(b, v4), 0);
        assert_eq!(
            rib.peer_path_count(
                b,
                AfiSafi::new(bgp_wire::Afi::Ipv4, bgp_wire::Safi::Multicast)
            ),
            0
        );
        assert_eq!(rib.path_count(), 0);
    }

    /// An UPDATE message from raw parts (withdrawn routes, attributes, NLRI), decoded by
    /// bgp-wire with a 4-octet-AS context, so the verdict is bgp-wire's own.
    fn decoded(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> (Update, UpdateVerdict) {
        let mut m = vec![0xFF; 16];
        let len = 19 + 4 + withdrawn.len() + attrs.len() + nlri.len();
        m.extend_from_slice(&(len as u16).to_be_bytes());
        m.push(2);
        m.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
        m.extend_from_slice(withdrawn);
        m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        m.extend_from_slice(attrs);
        m.extend_from_slice(nlri);
        let d = bgp_wire::decode_message(m.into(), &bgp_wire::SessionContext::modern()).unwrap();
        match d.message {
            bgp_wire::Message::Update(u) => (u, d.verdict),
            other => panic!("not an UPDATE: {other:?}"),
        }
    }

    #[test]
    fn decoded_updates_follow_their_rfc7606_verdict() {
        const ORIGIN_IGP: &[u8] = &[0x40, 1, 1, 0];
        const ORIGIN_BAD: &[u8] = &[0x40, 1, 1, 7]; // §7.1: treat-as-withdraw
        const PATH: &[u8] = &[0x40, 2, 6, 2, 1, 0, 0, 0xFD, 0xE9]; // AS_SEQUENCE 65001
        const NH: &[u8] = &[0x40, 3, 4, 192, 168, 1, 2];
        const AGGR_BAD: &[u8] = &[0xC0, 7, 3, 1, 2, 3]; // §7.7: attribute discard
        let v4 = AfiSafi::IPV4_UNICAST;
        let mut rib = Rib::new(cfg());
        let a = add(&mut rib, 2, 65001);
        let ok = [ORIGIN_IGP, PATH, NH].concat();
        let (u, v) = decoded(&[], &ok, &[24, 10, 1, 1, 24, 10, 1, 2, 24, 10, 1, 3]);
        assert!(v.is_clean());
        rib.apply_decoded(a, &u, &v).unwrap();
        assert_eq!(rib.peer_path_count(a, v4), 3);
        // Attribute discard: the route is imported without the attribute.
        let (u, v) = decoded(&[], &[ok.as_slice(), AGGR_BAD].concat(), &[24, 10, 1, 4]);
        assert_eq!(v.action(), Some(&UpdateAction::AttributeDiscard));
        let s = rib.apply_decoded(a, &u, &v).unwrap();
        assert_eq!(s.announced, 1);
        assert_eq!(rib.peer_path_count(a, v4), 4);
        // Treat-as-withdraw: 10.1.1.0/24 was announced before and is re-announced with a bad
        // ORIGIN, so it goes; 10.1.2.0/24 is withdrawn explicitly; 10.1.9.0/24 (new) is not
        // imported.
        let bad = [ORIGIN_BAD, PATH, NH].concat();
        let (u, v) = decoded(&[24, 10, 1, 2], &bad, &[24, 10, 1, 1, 24, 10, 1, 9]);
        assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw));
        let s = rib.apply_decoded(a, &u, &v).unwrap();
        assert_eq!(s.announced, 0);
        assert!(rib.route(net("10.1.1.0/24")).is_none());
        assert!(rib.route(net("10.1.2.0/24")).is_none());
        assert!(rib.route(net("10.1.9.0/24")).is_none());
        assert!(rib.route(net("10.1.3.0/24")).is_some());
        assert_eq!(rib.peer_path_count(a, v4), 2);
        // AFI/SAFI disable (§3(j)): an MP_UNREACH for IPv6 unicast with an unreadable prefix
        // removes the peer's IPv6 routes and leaves IPv4 alone.
        rib.announce(a, net("2001:db8::/32"), 0, attrs(2, &[65001]))
            .unwrap();
        assert_eq!(rib.peer_path_count(a, AfiSafi::IPV6_UNICAST), 1);
        let (u, v) = decoded(&[], &[0x80, 15, 5, 0, 2, 1, 64, 0x20], &[]);
        assert_eq!(
            v.action(),
            Some(&UpdateAction::AfiSafiDisable(AfiSafi::IPV6_UNICAST))
        );
        let s = rib.apply_decoded(a, &u, &v).unwrap();
        assert_eq!(s.disabled, vec![AfiSafi::IPV6_UNICAST]);
        assert_eq!(rib.peer_path_count(a, AfiSafi::IPV6_UNICAST), 0);
        assert_eq!(rib.peer_path_count(a, v4), 2);
    }

    #[test]
    fn excluded_paths_stay_but_are_not_selected() {
        let mut rib = Rib::new(cfg());
        let a = add(&mut rib, 2, 65001);
        let p = net("10.0.0.0/8");
        rib.announce(a, p, 0, attrs(2, &[65001, LOCAL_AS])).unwrap();
        assert!(rib.route(p).is_none());
        assert_eq!(rib.paths(p).len(), 1);
        assert!(rib.drain_deltas().is_empty());
        let mut c = cfg();
        c.allowas_in = 1;
        rib.set_config(c);
        assert!(rib.route(p).is_some());
        assert_eq!(rib.drain_deltas()[0].kind, DeltaKind::BestChanged);
    }

    #[test]
    fn resolver_excludes_and_costs() {
        let mut r = crate::decision::PrefixResolver::new();
        r.add(net("192.168.1.0/28"), 10);
        r.add(net("192.168.1.16/28"), 5);
        let mut rib = Rib::with_resolver(cfg(), Box::new(r));
        let a = add(&mut rib, 2, LOCAL_AS);
        let b = add(&mut rib, 20, LOCAL_AS);
        let c = add(&mut rib, 40, LOCAL_AS);
        let p = net("10.0.0.0/8");
        rib.announce(a, p, 0, attrs(2, &[])).unwrap();
        rib.announce(b, p, 0, attrs(20, &[])).unwrap();
        rib.announce(c, p, 0, attrs(40, &[])).unwrap();
        let route = rib.route(p).unwrap();
        assert_eq!(route.best.peer, b);
        assert_eq!(route.reason, Reason::IgpCost);
        assert_eq!(route.multipath.len(), 1);
        assert_eq!(rib.paths(p).len(), 3);
    }

    #[test]
    fn peer_down_falls_back() {
        let mut rib = Rib::new(cfg());
        let a = add(&mut rib, 2, 65001);
        let b = add(&mut rib, 3, 65002);
        for i in 0..100u32 {
            let p =
                IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24).unwrap());
            let mut x = attrs(2, &[65001]);
            x.local_pref = Some(200);
            rib.announce(a, p, 0, x).unwrap();
            rib.announce(b, p, 0, attrs(3, &[65002])).unwrap();
        }
        rib.drain_deltas();
        rib.peer_down(a);
        let d = rib.drain_deltas();
        assert_eq!(d.len(), 100);
        assert!(d.iter().all(|x| x.kind == DeltaKind::BestChanged));
        assert_eq!(rib.route(net("10.0.5.0/24")).unwrap().best.peer, b);
        rib.peer_down(b);
        assert_eq!(rib.drain_deltas().len(), 100);
        assert_eq!(rib.prefix_count(), 0);
        assert_eq!(rib.attr_set_count(), 0);
    }

    #[test]
    fn graceful_restart_stale_then_eor_or_timer() {
        let mut rib = Rib::new(cfg());
        let a = add(&mut rib, 2, 65001);
        let (p1, p2) = (net("10.1.0.0/16"), net("10.2.0.0/16"));
        rib.announce(a, p1, 0, attrs(2, &[65001])).unwrap();
        rib.announce(a, p2, 0, attrs(2, &[65001])).unwrap();
        rib.drain_deltas();
        rib.peer_restarting(a, 1000, 120);
        assert!(rib.route(p1).unwrap().best.stale, "kept, marked stale");
        assert!(rib.drain_deltas().is_empty(), "forwarding unchanged");
        // The peer comes back and re-announces p1 only, then End-of-RIB.
        rib.announce(a, p1, 0, attrs(2, &[65001])).unwrap();
        assert!(!rib.route(p1).unwrap().best.stale);
        rib.tick(1050);
        assert!(rib.route(p2).is_some(), "timer not expired yet");
        rib.end_of_rib(a, AfiSafi::IPV4_UNICAST);
        assert!(rib.route(p2).is_none(), "stale p2 swept at End-of-RIB");
        assert!(rib.route(p1).is_some());
        // Restart again, never comes back: the timer sweeps.
        rib.peer_restarting(a, 2000, 120);
        rib.tick(2119);
        assert!(rib.route(p1).is_some());
        rib.tick(2120);
        assert!(rib.route(p1).is_none());
    }

    #[test]
    fn soft_reconfiguration_reapplies_import_policy() {
        use crate::policy::{Action, Clause, RouteMap, Set};
        let mut rib = Rib::new(cfg());
        let a = add(&mut rib, 2, 65001);
        rib.set_soft_reconfiguration(a, true).unwrap();
        let p = net("10.0.0.0/8");
        rib.announce(a, p, 0, attrs(2, &[65001])).unwrap();
        assert_eq!(rib.route(p).unwrap().best.attrs.local_pref, None);
        let rm = RouteMap {
            clauses: vec![Clause {
                action: Action::Permit,
                matches: vec![],
                sets: vec![Set::LocalPref(300)],
            }],
        };
        rib.set_import_policy(a, Some(Arc::new(rm))).unwrap();
        rib.soft_reconfigure(a).unwrap();
        assert_eq!(rib.route(p).unwrap().best.attrs.local_pref, Some(300));
        // Deny-all policy: the route goes away.
        rib.set_import_policy(a, Some(Arc::new(RouteMap::default())))
            .unwrap();
        rib.soft_reconfigure(a).unwrap();
        assert!(rib.route(p).is_none());
        // Accept again: the kept pre-policy copy comes back without the peer resending it.
        rib.set_import_policy(a, None).unwrap();
        rib.soft_reconfigure(a).unwrap();
        assert_eq!(rib.route(p).unwrap().best.attrs.local_pref, None);
    }

    #[test]
    fn apply_update_v4_v6_and_end_of_rib() {
        let mut rib = Rib::new(cfg());
        let a = add(&mut rib, 2, 65001);
        let mut u = Update {
            attributes: attrs(2, &[65001]).to_wire(),
            nlri: vec![Nlri::new(net("10.0.0.0/8")), Nlri::new(net("11.0.0.0/8"))],
            ..Default::default()
        };
        u.attributes.push(PathAttribute::MpReachNlri(MpReach {
            af: AfiSafi::IPV6_UNICAST,
            next_hop: MpNextHop::V6 {
                global: "2001:db8::2".parse().unwrap(),
                link_local: None,
            },
            nlri: MpNlri::Prefixes(vec![Nlri::new(net("2001:db8:1::/48"))]),
        }));
        let s = rib.apply_update(a, &u).unwrap();
        assert_eq!(s.announced, 3);
        assert_eq!(
            rib.attr_set_count(),
            1,
            "one UPDATE, one shared attribute set"
        );
        let r6 = rib.route(net("2001:db8:1::/48")).unwrap();
        assert_eq!(
            r6.next_hops[0].addr,
            "2001:db8::2".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            rib.lookup("2001:db8:1::5".parse().unwrap()).unwrap().prefix,
            net("2001:db8:1::/48")
        );
        assert_eq!(
            rib.lookup("10.9.9.9".parse().unwrap()).unwrap().prefix,
            net("10.0.0.0/8")
        );
        let w = Update {
            withdrawn: vec![Nlri::new(net("10.0.0.0/8"))],
            attributes: vec![PathAttribute::MpUnreachNlri(MpUnreach {
                af: AfiSafi::IPV6_UNICAST,
                withdrawn: MpNlri::Prefixes(vec![Nlri::new(net("2001:db8:1::/48"))]),
            })],
            nlri: vec![],
        };
        assert_eq!(rib.apply_update(a, &w).unwrap().withdrawn, 2);
        assert_eq!(rib.prefix_count(), 1);
        // LOCAL_PREF from an eBGP peer is ignored (RFC 4271 §5.1.5).
        let mut lp = attrs(2, &[65001]);
        lp.local_pref = Some(500);
        let u2 = Update {
            attributes: lp.to_wire(),
            nlri: vec![Nlri::new(net("12.0.0.0/8"))],
            ..Default::default()
        };
        rib.apply_update(a, &u2).unwrap();
        assert_eq!(
            rib.route(net("12.0.0.0/8")).unwrap().best.attrs.local_pref,
            None
        );
        rib.withdraw(a, net("12.0.0.0/8"), 0);
        let eor = rib.apply_update(a, &Update::default()).unwrap();
        assert_eq!(eor.end_of_rib, vec![AfiSafi::IPV4_UNICAST]);
        assert_eq!(
            rib.apply_update(PeerId(99), &u),
            Err(RibError::UnknownPeer(PeerId(99)))
        );
    }

    #[test]
    fn add_path_ids_are_separate_paths() {
        let mut rib = Rib::new(cfg());
        let a = add(&mut rib, 2, LOCAL_AS);
        let p = net("10.0.0.0/8");
        rib.announce(a, p, 1, attrs(5, &[])).unwrap();
        rib.announce(a, p, 2, attrs(6, &[])).unwrap();
        let r = rib.route(p).unwrap();
        assert_eq!(r.best.path_id, 1, "same peer: lower path id");
        assert_eq!(r.next_hops.len(), 2);
        rib.withdraw(a, p, 1);
        assert_eq!(rib.route(p).unwrap().best.path_id, 2);
    }

    #[derive(Debug, Clone)]
    struct GenPath {
        peer: usize,
        lp: u32,
        path: Vec<u32>,
        med: Option<u32>,
        origin: u8,
    }

    fn gen_path() -> impl Strategy<Value = GenPath> {
        (
            0usize..8,
            prop_oneof![Just(100u32), Just(200)],
            proptest::collection::vec(prop_oneof![Just(65001u32), Just(65002), Just(65003)], 0..3),
            proptest::option::of(0u32..3),
            0u8..3,
        )
            .prop_map(|(peer, lp, path, med, origin)| GenPath {
                peer,
                lp,
                path,
                med,
                origin,
            })
    }

    /// Peers 0..4 iBGP, 4..8 eBGP in AS 65001/65002.
    fn build(
        order: &[usize],
        paths: &[GenPath],
        ops: &[(usize, bool)],
        c: &DecisionConfig,
    ) -> (IpAddr, Vec<WeightedNextHop>) {
        let mut rib = Rib::new(c.clone());
        let mut ids = Vec::new();
        for i in 0..8u8 {
            let asn = if i < 4 {
                LOCAL_AS
            } else {
                65001 + u32::from(i % 2)
            };
            ids.push(add(&mut rib, 10 + i, asn));
        }
        let p = net("172.16.10.0/32");
        let mk = |g: &GenPath| {
            let mut a = Attrs::new(ip(1, 10 + g.peer as u8));
            let mut path = g.path.clone();
            if g.peer >= 4 {
                path.insert(0, 65001 + (g.peer as u32 % 2));
            }
            a.as_path = AsPath::from_sequence(path);
            a.local_pref = Some(g.lp);
            a.med = g.med;
            a.origin = match g.origin {
                0 => bgp_wire::attr::Origin::Igp,
                1 => bgp_wire::attr::Origin::Egp,
                _ => bgp_wire::attr::Origin::Incomplete,
            };
            a
        };
        // Noise first: withdraw / re-announce sequences over the same set.
        for &(i, announce) in ops {
            let g = &paths[i % paths.len()];
            if announce {
                rib.announce(ids[g.peer], p, 0, mk(g)).unwrap();
            } else {
                rib.withdraw(ids[g.peer], p, 0);
            }
        }
        for &i in order {
            let g = &paths[i];
            rib.announce(ids[g.peer], p, 0, mk(g)).unwrap();
        }
        let r = rib.route(p).unwrap();
        assert!(
            r.multipath.iter().any(|m| m.peer == r.best.peer),
            "best is in the ECMP set"
        );
        (r.best.peer_addr, r.next_hops)
    }

    proptest! {
        /// With deterministic-med the best path and multipath set do not depend on arrival order,
        /// nor on earlier withdraw/re-announce churn.
        #[test]
        fn order_independent(paths in proptest::collection::vec(gen_path(), 1..8)
                                 .prop_map(|mut v| { v.sort_by_key(|g| g.peer); v.dedup_by_key(|g| g.peer); v }),
                             seed in any::<u64>(),
                             ops in proptest::collection::vec((0usize..8, any::<bool>()), 0..12),
                             relax in any::<bool>(), maxp in 1u16..5) {
            let mut c = cfg();
            c.multipath_relax = relax;
            c.max_paths_ebgp = maxp;
            c.max_paths_ibgp = maxp;
            let n = paths.len();
            let base: Vec<usize> = (0..n).collect();
            let mut shuffled = base.clone();
            let mut s = seed;
            for i in (1..n).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
            let x = build(&base, &paths, &[], &c);
            let y = build(&shuffled, &paths, &ops, &c);
            prop_assert_eq!(x, y);
        }
    }
}
