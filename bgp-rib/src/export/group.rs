//! Update groups: neighbours with the same export parameters share one Adj-RIB-Out, one export
//! computation per change and one packed UPDATE stream (as FRR's update groups do), so N
//! equivalent neighbours (route-server clients, iBGP clients of a reflector) cost one
//! computation and one packing instead of N.
//!
//! The group's Adj-RIB-Out records for every route the peer it came from. Split horizon (a
//! route is never sent back to the neighbour it came from) stays per member: an UPDATE
//! carrying a member's own routes is marked [`Audience::AllBut`] that member, and a member
//! that becomes the source of a prefix it was sent before gets it withdrawn
//! ([`Audience::Only`]). A member that joins later (or asks for a route refresh) is sent the
//! group's advertised routes packed once for it, then follows the shared stream.

use std::net::IpAddr;
use std::sync::Arc;

use bgp_wire::{AfiSafi, SessionContext, Update, end_of_rib};

use super::{AdjRibOut, Audience, OutPeerConfig};
use crate::rib::{Delta, PeerId, Rib};

/// Everything the exported routes and their encoding depend on. Neighbours with equal keys
/// can share an [`UpdateGroup`].
///
/// An export policy is identified by its `Arc` (the same policy object); since a policy is
/// given the neighbour it exports to, neighbours with a policy are grouped only with
/// themselves (the key then carries the neighbour's address and AS).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UpdateGroupKey {
    ibgp: bool,
    rr_client: bool,
    rs_client: bool,
    local_addr: IpAddr,
    next_hop_self: bool,
    route_reflector: bool,
    policy: Option<(usize, IpAddr, u32)>,
    families: Vec<AfiSafi>,
    add_path: bool,
    four_octet_as: bool,
    add_path_send: Vec<AfiSafi>,
    extended_message: bool,
    extended_next_hop: Vec<AfiSafi>,
}

impl UpdateGroupKey {
    /// The key of a neighbour with export configuration `cfg` on a session that negotiated
    /// `ctx`.
    pub fn new(cfg: &OutPeerConfig, ctx: &SessionContext) -> Self {
        let sorted = |v: &[AfiSafi]| {
            let mut v = v.to_vec();
            v.sort();
            v.dedup();
            v
        };
        UpdateGroupKey {
            ibgp: cfg.info.ibgp,
            rr_client: cfg.info.rr_client,
            rs_client: cfg.info.rs_client,
            local_addr: cfg.local_addr,
            next_hop_self: cfg.next_hop_self,
            route_reflector: cfg.route_reflector,
            policy: cfg.policy.as_ref().map(|p| {
                (
                    Arc::as_ptr(p) as *const () as usize,
                    cfg.info.addr,
                    cfg.info.asn,
                )
            }),
            families: sorted(&cfg.families),
            add_path: cfg.add_path,
            four_octet_as: ctx.four_octet_as,
            add_path_send: sorted(&ctx.add_path_send),
            extended_message: ctx.extended_message,
            extended_next_hop: sorted(&ctx.extended_next_hop),
        }
    }
}

/// Counters of an update group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCounters {
    /// Export computations (RFC rules and interning of one exported attribute set).
    pub exports: u64,
    /// Prefixes that reused a cached export result.
    pub export_cache_hits: u64,
    /// Batches packed from the shared Adj-RIB-Out ([`UpdateGroup::take`] with changes).
    pub batches: u64,
    /// UPDATEs packed for the shared stream (each counted once, whatever the members).
    pub updates: u64,
    /// Dumps packed for one member (joins and route refreshes).
    pub member_dumps: u64,
}

#[derive(Debug, Clone, Copy)]
struct Joiner {
    peer: PeerId,
    /// Needs the advertised routes packed for it before the stream.
    dump: bool,
}

/// One batch of an update group, to be cut per member with [`GroupBatch::for_member`].
#[derive(Debug, Clone, Default)]
pub struct GroupBatch {
    /// The shared stream, each UPDATE with who gets it.
    pub stream: Arc<Vec<(Audience, Update)>>,
    /// Per member that joined (or asked for a refresh): its dump, sent before the stream.
    pub dumps: Vec<(PeerId, Vec<Update>)>,
    /// Members that get End-of-RIB markers after the stream (first batch after joining).
    pub eor: Vec<PeerId>,
    /// The families of the End-of-RIB markers.
    pub families: Vec<AfiSafi>,
}

impl GroupBatch {
    /// Nothing for anyone.
    pub fn is_empty(&self) -> bool {
        self.stream.is_empty() && self.dumps.is_empty() && self.eor.is_empty()
    }
    /// The UPDATEs `member` is sent, in order: its dump, the stream without what is not
    /// for it, its End-of-RIB markers.
    pub fn for_member(&self, member: PeerId) -> Vec<Update> {
        let mut v: Vec<Update> = self.shared_for(member).cloned().collect();
        v.extend(self.eor_for(member));
        v
    }
    /// [`GroupBatch::for_member`], moving the UPDATEs out when nobody else holds the stream
    /// (a group of one member costs no copy).
    pub fn into_member(self, member: PeerId) -> Vec<Update> {
        let eor = self.eor_for(member);
        let mut v: Vec<Update> = self
            .dumps
            .into_iter()
            .filter(|(p, _)| *p == member)
            .flat_map(|(_, u)| u)
            .collect();
        match Arc::try_unwrap(self.stream) {
            Ok(s) => v.extend(
                s.into_iter()
                    .filter(|(a, _)| a.includes(member))
                    .map(|(_, u)| u),
            ),
            Err(s) => v.extend(
                s.iter()
                    .filter(|(a, _)| a.includes(member))
                    .map(|(_, u)| u.clone()),
            ),
        }
        v.extend(eor);
        v
    }
    /// [`GroupBatch::for_member`] without its End-of-RIB markers, borrowed.
    pub fn shared_for(&self, member: PeerId) -> impl Iterator<Item = &Update> {
        self.dumps
            .iter()
            .filter(move |(p, _)| *p == member)
            .flat_map(|(_, u)| u.iter())
            .chain(
                self.stream
                    .iter()
                    .filter(move |(a, _)| a.includes(member))
                    .map(|(_, u)| u),
            )
    }
    /// The End-of-RIB markers `member` gets after the rest of the batch.
    pub fn eor_for(&self, member: PeerId) -> Vec<Update> {
        if self.eor.contains(&member) {
            self.families.iter().map(|af| end_of_rib(*af)).collect()
        } else {
            Vec::new()
        }
    }
}

/// Neighbours sharing one Adj-RIB-Out and one UPDATE stream.
///
/// ```
/// use bgp_rib::{Attrs, DecisionConfig, PeerInfo, Rib};
/// use bgp_rib::export::OutPeerConfig;
/// use bgp_rib::export::group::UpdateGroup;
/// let mut rib = Rib::new(DecisionConfig::new(65000, "10.0.0.1".parse().unwrap()));
/// let info = |a: &str, asn| PeerInfo::new(a.parse().unwrap(), asn, "0.0.0.0".parse().unwrap(), 65000);
/// let (a, b) = (rib.add_peer(info("10.0.0.2", 65001)), rib.add_peer(info("10.0.0.3", 65002)));
/// rib.originate("203.0.113.0/24".parse().unwrap(), Attrs::new("0.0.0.0".parse().unwrap()));
/// let cfg = OutPeerConfig { info: info("10.0.0.2", 65001), local_addr: "10.0.0.1".parse().unwrap(),
///     next_hop_self: false, route_reflector: false, policy: None,
///     families: vec![bgp_wire::AfiSafi::IPV4_UNICAST], add_path: false };
/// let mut g = UpdateGroup::new(cfg, bgp_wire::SessionContext::modern());
/// g.join(&rib, a);
/// g.join(&rib, b);
/// let batch = g.take();
/// assert_eq!(batch.for_member(a), batch.for_member(b), "one stream for both");
/// assert_eq!(batch.for_member(a).len(), 2, "the route and End-of-RIB");
/// ```
#[derive(Debug)]
pub struct UpdateGroup {
    key: UpdateGroupKey,
    ctx: SessionContext,
    out: AdjRibOut,
    joining: Vec<Joiner>,
    counters: GroupCounters,
}

impl UpdateGroup {
    /// An empty group for neighbours exporting with `cfg` over sessions that negotiated `ctx`
    /// (the first member's; `cfg.info` is what a policy is given).
    pub fn new(cfg: OutPeerConfig, ctx: SessionContext) -> Self {
        UpdateGroup {
            key: UpdateGroupKey::new(&cfg, &ctx),
            ctx,
            out: AdjRibOut::new_group(cfg),
            joining: Vec::new(),
            counters: GroupCounters::default(),
        }
    }
    /// The key neighbours must have to join.
    pub fn key(&self) -> &UpdateGroupKey {
        &self.key
    }
    /// The negotiated parameters the stream is encoded for.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }
    /// The members.
    pub fn members(&self) -> &[PeerId] {
        self.out.members()
    }
    /// The shared Adj-RIB-Out (read side: what is advertised).
    pub fn adj_rib_out(&self) -> &AdjRibOut {
        &self.out
    }
    /// The counters.
    pub fn counters(&self) -> GroupCounters {
        let (exports, hits) = self.out.export_counters();
        GroupCounters {
            exports,
            export_cache_hits: hits,
            ..self.counters
        }
    }
    /// Add a member (its session just came up). The first member starts the group's
    /// Adj-RIB-Out from the Loc-RIB; a later one is sent what the group advertises, packed
    /// for it, in the next batch. End-of-RIB follows for it.
    pub fn join(&mut self, rib: &Rib, peer: PeerId) {
        if self.out.members().contains(&peer) {
            return;
        }
        let before = self.out.members().len();
        if let Some(m) = self.out.members_mut() {
            m.push(peer);
        }
        // With one member, that member's own routes were left out entirely; now the others
        // need them (and a first member needs everything).
        if before <= 1 {
            self.out.dump_all(rib);
        }
        self.joining.retain(|j| j.peer != peer);
        self.joining.push(Joiner {
            peer,
            dump: before > 0,
        });
    }
    /// Remove a member (session down). True when no member is left.
    pub fn leave(&mut self, peer: PeerId) -> bool {
        if let Some(m) = self.out.members_mut() {
            m.retain(|p| *p != peer);
        }
        self.joining.retain(|j| j.peer != peer);
        self.out.members().is_empty()
    }
    /// A member asked for the routes again (ROUTE-REFRESH): it is sent everything the group
    /// advertises, then End-of-RIB.
    pub fn refresh_member(&mut self, peer: PeerId) {
        if self.out.members().contains(&peer) {
            self.joining.retain(|j| j.peer != peer);
            self.joining.push(Joiner { peer, dump: true });
        }
    }
    /// Apply Loc-RIB deltas once for all members.
    pub fn process(&mut self, rib: &Rib, deltas: &[Delta]) {
        self.out.process(rib, deltas);
    }
    /// Whether [`UpdateGroup::take`] has anything to give.
    pub fn has_pending(&self) -> bool {
        self.out.has_pending() || !self.joining.is_empty()
    }
    /// Pack what changed since the last batch, once for all members.
    pub fn take(&mut self) -> GroupBatch {
        let mut dumps = Vec::new();
        let mut eor = Vec::new();
        for j in std::mem::take(&mut self.joining) {
            if j.dump {
                self.counters.member_dumps += 1;
                dumps.push((j.peer, self.out.encode_sent_for(&self.ctx, j.peer)));
            }
            eor.push(j.peer);
        }
        let stream = self.out.take_for_members(&self.ctx);
        if !stream.is_empty() {
            self.counters.batches += 1;
            self.counters.updates += stream.len() as u64;
        }
        GroupBatch {
            stream: Arc::new(stream),
            dumps,
            eor,
            families: self.out.config().families.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
