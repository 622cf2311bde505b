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

    /// A restarting peer's session is back (RFC 4724 §4.2): its stale paths of every family
    /// not in `keep` are removed now. `keep` is the families its new Graceful Restart
    /// capability lists with the Forwarding State (F) bit
    /// (`bgp_fsm::graceful::forwarding_preserved`); empty when it sent no capability. The
    /// kept families' stale paths wait for End-of-RIB (or the restart time) as before.
    pub fn peer_returned(&mut self, peer: PeerId, keep: &[AfiSafi]) {
        // Stale paths exist only while the restart timer runs: no table scan otherwise.
        if !matches!(self.peers.get(peer.0 as usize), Some(Some(s)) if s.gr_deadline.is_some()) {
            return;
        }
        for af in [AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST] {
            if !keep.contains(&af) {
                self.flush_stale(peer, af);
            }
        }
    }

    /// Remove a peer's stale paths of one family now.
    pub fn flush_stale(&mut self, peer: PeerId, af: AfiSafi) {
        let id = peer.0;
        self.sweep(|p| p.peer == id && p.flags & F_STALE != 0, Some(af));
        if !self.has_stale(id)
            && let Some(Some(s)) = self.peers.get_mut(id as usize)
        {
            s.gr_deadline = None;
        }
    }

    /// Number of stale paths (kept for a restarting peer) in the Loc-RIB tables.
    pub fn stale_path_count(&self, peer: PeerId) -> usize {
        let id = peer.0;
        let count = |paths: &[PathRec]| {
            paths
                .iter()
                .filter(|p| p.peer == id && p.flags & F_STALE != 0)
                .count()
        };
        self.v4
            .dests
            .iter()
            .map(|d| count(d.paths.as_slice()))
            .sum::<usize>()
            + self
                .v6
                .dests
                .iter()
                .map(|d| count(d.paths.as_slice()))
                .sum::<usize>()
    }

    fn has_stale(&self, id: u32) -> bool {
        let stale =
            |paths: &[PathRec]| paths.iter().any(|p| p.peer == id && p.flags & F_STALE != 0);
        self.v4.dests.iter().any(|d| stale(d.paths.as_slice()))
            || self.v6.dests.iter().any(|d| stale(d.paths.as_slice()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use bgp_wire::attr::AsPath;
    use std::net::Ipv4Addr;

    fn attrs(nh: IpAddr) -> Attrs {
        let mut a = Attrs::new(nh);
        a.as_path = AsPath::from_sequence([65001]);
        a
    }

    /// A returning peer without the F bit for a family loses that family's stale paths at
    /// once; the family it preserved forwarding for keeps them until End-of-RIB.
    #[test]
    fn returning_peer_without_forwarding_state_flushes_that_family() {
        let mut rib = Rib::new(DecisionConfig::new(64512, Ipv4Addr::new(192, 168, 1, 1)));
        let a = rib.add_peer(PeerInfo::new(
            "192.168.1.2".parse().unwrap(),
            65001,
            Ipv4Addr::new(192, 168, 1, 2),
            64512,
        ));
        let (p4, p6): (IpNet, IpNet) = (
            "10.1.0.0/16".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        );
        rib.announce(a, p4, 0, attrs("192.168.1.2".parse().unwrap()))
            .unwrap();
        rib.announce(a, p6, 0, attrs("2001:db8::2".parse().unwrap()))
            .unwrap();
        rib.peer_restarting(a, 0, 120);
        assert_eq!(rib.stale_path_count(a), 2);
        // Back with F set for IPv6 only.
        rib.peer_returned(a, &[AfiSafi::IPV6_UNICAST]);
        assert!(
            rib.route(p4).is_none(),
            "IPv4 stale flushed: no forwarding state"
        );
        assert!(rib.route(p6).unwrap().best.stale, "IPv6 kept, still stale");
        assert_eq!(rib.stale_path_count(a), 1);
        rib.end_of_rib(a, AfiSafi::IPV6_UNICAST);
        assert!(rib.route(p6).is_none());
        // No capability at all on return: everything stale goes.
        rib.announce(a, p4, 0, attrs("192.168.1.2".parse().unwrap()))
            .unwrap();
        rib.peer_restarting(a, 10, 120);
        rib.peer_returned(a, &[]);
        assert!(rib.route(p4).is_none());
        assert_eq!(rib.stale_path_count(a), 0);
        // Fresh paths are never flushed.
        rib.announce(a, p4, 0, attrs("192.168.1.2".parse().unwrap()))
            .unwrap();
        rib.peer_returned(a, &[]);
        assert!(rib.route(p4).is_some());
    }
}
