//! The RIB: per-prefix path sets (Adj-RIB-In post-policy and Loc-RIB in one structure), the
//! decision process run on every change, and a stream of deltas.
//!
//! Every path a peer announced (after import policy) lives in its prefix's destination, tagged
//! with the peer; the Loc-RIB is the best/multipath flags on those paths. This is how FRR and BIRD
//! avoid a second copy of every route. A peer's pre-policy copy (for soft reconfiguration) is
//! kept only when asked for.

//!
//! The module is split by concern: `store` holds the per-prefix path sets, `ingest` takes
//! routes from UPDATEs and the caller, `decide` runs the decision process and records deltas,
//! `restart` is the graceful-restart helper and peer-down handling; this file has the public
//! types, the [`Rib`] itself, peer management and the read side.

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
/// Two deltas are equal when prefix and kind are.
#[derive(Debug, Clone, Copy)]
pub struct Delta {
    /// The prefix.
    pub prefix: IpNet,
    /// What changed.
    pub kind: DeltaKind,
    /// Where the RIB kept the prefix when the delta was made (a hint: checked against the
    /// prefix before use, since the slot may be reused), so the export finds it without a
    /// hash lookup. `u32::MAX` for none.
    pub(crate) slot: u32,
}

impl Delta {
    /// A delta for `prefix`.
    pub fn new(prefix: IpNet, kind: DeltaKind) -> Self {
        Delta {
            prefix,
            kind,
            slot: u32::MAX,
        }
    }
}

impl PartialEq for Delta {
    fn eq(&self, other: &Self) -> bool {
        self.prefix == other.prefix && self.kind == other.kind
    }
}

impl Eq for Delta {}

impl std::hash::Hash for Delta {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.prefix.hash(h);
        self.kind.hash(h);
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
    /// Paths of locally originated routes (peers count theirs in their slot).
    local_paths: usize,
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

mod decide;
mod explain;
mod ingest;
mod restart;
mod store;

use decide::{Ctx, recompute, snapshot};
pub use explain::Verdict;
use store::*;

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
            local_paths: 0,
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
            disabled: Vec::new(),
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
                self.deltas.push(Delta::new(d.prefix.to_net(), kind));
            }
        }
        for d in self.v6.dests.iter_mut() {
            if d.paths.as_slice().iter().any(|p| p.peer == id)
                && let Some(kind) = recompute(&ctx, d, snapshot(d.paths.as_slice()))
                && self.track
            {
                self.deltas.push(Delta::new(d.prefix.to_net(), kind));
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

    /// The best path of a prefix, read from the flags the decision process left on the
    /// stored paths (no [`RouteView`] is built and the decision is not re-run): the peer it
    /// came from, its path id and its attributes. What an Adj-RIB-Out without ADD-PATH needs
    /// per prefix.
    pub fn best_path(&self, prefix: IpNet) -> Option<(PeerId, u32, &Arc<Attrs>)> {
        best_of(self.paths_of(prefix.into()))
    }

    /// [`Rib::best_path`] of a delta's prefix, through the delta's slot hint when it still
    /// holds that prefix.
    pub(crate) fn best_path_of(&self, d: &Delta) -> Option<(PeerId, u32, &Arc<Attrs>)> {
        let key = AnyPrefix::from(d.prefix);
        let hinted = match key {
            AnyPrefix::V4(p) => self.v4.paths_at(d.slot, p),
            AnyPrefix::V6(p) => self.v6.paths_at(d.slot, p),
        };
        best_of(hinted.unwrap_or_else(|| self.paths_of(key)))
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
    /// Number of paths stored. Kept as counters (per peer and for local routes), so it is
    /// cheap enough for a stats line while a full table loads.
    pub fn path_count(&self) -> usize {
        self.local_paths
            + self
                .peers
                .iter()
                .flatten()
                .map(|s| s.paths[0] + s.paths[1])
                .sum::<usize>()
    }
    /// [`Rib::path_count`] by walking every destination (tests compare the two).
    #[cfg(test)]
    pub(crate) fn path_count_walk(&self) -> usize {
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
mod tests;
#[cfg(test)]
mod tests_counts;
