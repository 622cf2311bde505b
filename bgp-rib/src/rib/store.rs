//! Storage: one hash map per prefix length and family, each destination holding its paths
//! (24 bytes each) inline when there is one, in a small vector otherwise; per-peer slots.

use super::*;

pub(super) const F_BEST: u8 = 1;
pub(super) const F_MULTI: u8 = 2;
pub(super) const F_STALE: u8 = 4;
/// The prefix length that marks a free destination slot.
pub(super) const FREE_LEN: u8 = u8::MAX;

/// One stored path: 24 bytes.
#[derive(Debug, Clone)]
pub(super) struct PathRec {
    pub(super) attrs: Arc<Attrs>,
    pub(super) peer: u32,
    pub(super) path_id: u32,
    pub(super) arrival: u32,
    pub(super) flags: u8,
}

/// The paths of one prefix: inline when there is one, a boxed slice of exact size otherwise
/// (an empty boxed slice, which does not allocate, when there are none). Two variants so the
/// `Arc`'s non-null niche tags it: 24 bytes.
#[derive(Debug)]
pub(super) enum PathSet {
    One(PathRec),
    Many(Box<[PathRec]>),
}

impl PathSet {
    pub(super) fn empty() -> Self {
        PathSet::Many(Vec::new().into_boxed_slice())
    }
    pub(super) fn is_empty(&self) -> bool {
        matches!(self, PathSet::Many(b) if b.is_empty())
    }
}

impl PathSet {
    pub(super) fn as_slice(&self) -> &[PathRec] {
        match self {
            PathSet::One(p) => std::slice::from_ref(p),
            PathSet::Many(b) => b,
        }
    }
    pub(super) fn as_mut_slice(&mut self) -> &mut [PathRec] {
        match self {
            PathSet::One(p) => std::slice::from_mut(p),
            PathSet::Many(b) => b,
        }
    }
    pub(super) fn push(&mut self, r: PathRec) {
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
    pub(super) fn remove(&mut self, i: usize) -> Option<PathRec> {
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
pub(super) struct Dest<A> {
    pub(super) prefix: Prefix<A>,
    pub(super) paths: PathSet,
}

/// One family's table: a prefix index (per-length hash maps, LPM-capable) into an arena of
/// destinations.
#[derive(Debug)]
pub(super) struct Table<A> {
    pub(super) index: PrefixMap<A, u32>,
    pub(super) dests: Vec<Dest<A>>,
    pub(super) free: Vec<u32>,
}

impl<A: AddrBits> Table<A> {
    pub(super) fn new() -> Self {
        Table {
            index: PrefixMap::new(),
            dests: Vec::new(),
            free: Vec::new(),
        }
    }
    pub(super) fn find(&self, p: Prefix<A>) -> Option<u32> {
        self.index.get(p.addr, p.len).copied()
    }
    pub(super) fn find_or_insert(&mut self, p: Prefix<A>) -> u32 {
        let (free, dests) = (&mut self.free, &mut self.dests);
        self.index.get_or_insert_with(p.addr, p.len, || {
            let d = Dest {
                prefix: p,
                paths: PathSet::empty(),
            };
            match free.pop() {
                Some(i) => {
                    if let Some(slot) = dests.get_mut(i as usize) {
                        *slot = d;
                    }
                    i
                }
                None => {
                    dests.push(d);
                    (dests.len() - 1) as u32
                }
            }
        })
    }
    /// The paths of the destination in `slot`, if it holds `p` (a [`Delta`] slot hint).
    pub(super) fn paths_at(&self, slot: u32, p: Prefix<A>) -> Option<&[PathRec]> {
        self.dests
            .get(slot as usize)
            .filter(|d| d.prefix == p)
            .map(|d| d.paths.as_slice())
    }
    /// Drop the destination if it has no paths left. Its slot is marked free (a length no
    /// prefix has), so a [`Delta`] slot hint made before never matches it.
    pub(super) fn gc(&mut self, i: u32) {
        if let Some(d) = self.dests.get_mut(i as usize)
            && d.paths.is_empty()
            && d.prefix.len != FREE_LEN
        {
            let p = d.prefix;
            d.prefix.len = FREE_LEN;
            self.index.remove(p.addr, p.len);
            self.free.push(i);
        }
    }
}

/// The best path among `paths`: (peer, path id, attributes).
pub(super) fn best_of(paths: &[PathRec]) -> Option<(PeerId, u32, &Arc<Attrs>)> {
    paths
        .iter()
        .find(|p| p.flags & F_BEST != 0)
        .map(|p| (PeerId(p.peer), p.path_id, &p.attrs))
}

/// Per-peer state.
#[derive(Debug)]
pub(super) struct PeerSlot {
    pub(super) info: PeerInfo,
    pub(super) import: Option<Arc<dyn Policy>>,
    /// Pre-policy Adj-RIB-In copy, when soft reconfiguration inbound is on.
    pub(super) soft_in: Option<HashMap<(AnyPrefix, u32), Arc<Attrs>, FastBuild>>,
    /// Graceful restart: stale paths are swept at this time (seconds, caller's clock).
    pub(super) gr_deadline: Option<u64>,
    /// Paths of this peer in the RIB (after import policy), IPv4 and IPv6.
    pub(super) paths: [usize; 2],
    /// Families an RFC 7606 AFI/SAFI-disable verdict turned off for the rest of the session
    /// (until [`Rib::peer_down`]).
    pub(super) disabled: Vec<AfiSafi>,
}

/// Index of a prefix's family in [`PeerSlot::paths`].
pub(super) fn fam_index(key: AnyPrefix) -> usize {
    match key {
        AnyPrefix::V4(_) => 0,
        AnyPrefix::V6(_) => 1,
    }
}
