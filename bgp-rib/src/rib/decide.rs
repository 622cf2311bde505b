//! Decision glue: the context the decision process needs, the per-destination recompute that
//! sets best/multipath flags and reports what changed, and a full recompute after a
//! configuration change.

use super::*;

/// Everything the decision needs besides the paths.
pub(super) struct Ctx<'a> {
    pub(super) cfg: &'a DecisionConfig,
    pub(super) local: &'a PeerInfo,
    pub(super) peers: &'a [Option<PeerSlot>],
    pub(super) resolver: &'a dyn NextHopResolver,
}

impl Ctx<'_> {
    pub(super) fn peer(&self, id: u32) -> &PeerInfo {
        if id == 0 {
            return self.local;
        }
        match self.peers.get(id as usize) {
            Some(Some(p)) => &p.info,
            _ => self.local,
        }
    }
    /// Eligible candidates of a path list, with their indices.
    pub(super) fn candidates<'p>(
        &'p self,
        paths: &'p [PathRec],
    ) -> (Vec<Candidate<'p>>, Vec<usize>) {
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
    pub(super) fn evaluate(&self, paths: &[PathRec]) -> Option<(usize, Vec<usize>, Reason)> {
        let (c, idx) = self.candidates(paths);
        let s = decision::select(self.cfg, &c)?;
        Some((
            idx[s.best],
            s.multipath.iter().map(|&m| idx[m]).collect(),
            s.reason,
        ))
    }
}

pub(super) fn path_key(p: &PathRec) -> u64 {
    let mut h = FastHasher::default();
    p.peer.hash(&mut h);
    p.path_id.hash(&mut h);
    (Arc::as_ptr(&p.attrs) as usize).hash(&mut h);
    h.finish()
}

/// The current best path and multipath set of a destination, as fingerprints.
pub(super) fn snapshot(paths: &[PathRec]) -> (Option<u64>, u64) {
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
pub(super) fn recompute<A: AddrBits>(
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

impl Rib {
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
                self.deltas.push(Delta::new(d.prefix.to_net(), kind));
            }
        }
        for d in &mut self.v6.dests {
            if let Some(kind) = recompute(&ctx, d, snapshot(d.paths.as_slice()))
                && self.track
            {
                self.deltas.push(Delta::new(d.prefix.to_net(), kind));
            }
        }
    }
}
