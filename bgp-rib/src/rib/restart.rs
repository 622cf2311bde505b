//! Graceful restart (RFC 4724 helper) and peer loss: a peer going down removes its paths, a
//! restarting peer's paths are kept stale until its End-of-RIB or its restart time.

use super::*;

impl Rib {
    /// Remove every path of a peer (session down), recomputing the affected prefixes.
    pub fn peer_down(&mut self, peer: PeerId) {
        if let Some(Some(s)) = self.peers.get_mut(peer.0 as usize) {
            if let Some(m) = &mut s.soft_in {
                m.clear();
            }
            s.gr_deadline = None;
            s.disabled.clear();
        }
        self.sweep(|p| p.peer == peer.0, None);
    }

    /// Remove paths matching `f` in every (or one) family.
    pub(super) fn sweep(&mut self, f: impl Fn(&PathRec) -> bool, only: Option<AfiSafi>) {
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
}
