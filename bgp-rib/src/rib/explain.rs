//! Why each path of a prefix is or is not the best: the answer a `show ip bgp PREFIX` gives
//! (FRR's "bestpath reason", BIRD's "preferred"), for query interfaces. Read side only.

use super::*;
use crate::decision::Exclusion;

/// The decision process' verdict on one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The best path; the step that decided against its closest competitor.
    Best(Reason),
    /// Eligible but not best; the step at which the best path beat it.
    Lost(Reason),
    /// Not eligible at all.
    Excluded(Exclusion),
}

impl Verdict {
    /// Words for a human: `best (local-pref)`, `lost to best on as-path length`,
    /// `excluded: AS loop`.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Best(r) => format!("best ({r})"),
            Verdict::Lost(r) => format!("lost to best on {r}"),
            Verdict::Excluded(e) => format!(
                "excluded: {}",
                match e {
                    Exclusion::UnresolvableNextHop => "next hop unresolvable",
                    Exclusion::AsLoop => "AS loop (our AS in the path)",
                    Exclusion::OriginatorLoop => "ORIGINATOR_ID is our router id",
                    Exclusion::ClusterLoop => "our cluster id in CLUSTER_LIST",
                }
            ),
        }
    }
}

impl Rib {
    /// Every path stored for `prefix` (exact match) with the decision's verdict on it, best
    /// path first, then the others in the order they are stored.
    ///
    /// ```
    /// use bgp_rib::{Attrs, DecisionConfig, PeerInfo, Reason, Rib, Verdict};
    /// let mut rib = Rib::new(DecisionConfig::new(65000, "10.0.0.1".parse().unwrap()));
    /// let a = rib.add_peer(PeerInfo::new("10.0.0.2".parse().unwrap(), 65001, "2.2.2.2".parse().unwrap(), 65000));
    /// let b = rib.add_peer(PeerInfo::new("10.0.0.3".parse().unwrap(), 65002, "3.3.3.3".parse().unwrap(), 65000));
    /// let p = "203.0.113.0/24".parse().unwrap();
    /// let mut x = Attrs::new("10.0.0.2".parse().unwrap());
    /// x.local_pref = Some(200);
    /// rib.announce(a, p, 0, x).unwrap();
    /// rib.announce(b, p, 0, Attrs::new("10.0.0.3".parse().unwrap())).unwrap();
    /// let e = rib.explain(p);
    /// assert_eq!(e[0].1, Verdict::Best(Reason::LocalPref));
    /// assert_eq!(e[1].1, Verdict::Lost(Reason::LocalPref));
    /// ```
    pub fn explain(&self, prefix: IpNet) -> Vec<(PathView, Verdict)> {
        let paths = self.paths_of(prefix.into());
        let ctx = Ctx {
            cfg: &self.cfg,
            local: &self.local,
            peers: &self.peers,
            resolver: &*self.resolver,
        };
        let best = ctx.evaluate(paths);
        let mut out = Vec::with_capacity(paths.len());
        let best_cand = best.as_ref().and_then(|(b, _, _)| {
            let p = paths.get(*b)?;
            Some(Candidate {
                attrs: &p.attrs,
                peer: ctx.peer(p.peer),
                local: p.peer == 0,
                path_id: p.path_id,
                arrival: p.arrival,
                igp_cost: decision::exclusion(&self.cfg, &p.attrs, p.peer == 0, &*self.resolver)
                    .unwrap_or(0),
            })
        });
        for (i, p) in paths.iter().enumerate() {
            let local = p.peer == 0;
            let v = match decision::exclusion(&self.cfg, &p.attrs, local, &*self.resolver) {
                Err(e) => Verdict::Excluded(e),
                Ok(cost) => match (&best, &best_cand) {
                    (Some((b, _, r)), _) if *b == i => Verdict::Best(*r),
                    (_, Some(bc)) => {
                        let c = Candidate {
                            attrs: &p.attrs,
                            peer: ctx.peer(p.peer),
                            local,
                            path_id: p.path_id,
                            arrival: p.arrival,
                            igp_cost: cost,
                        };
                        Verdict::Lost(decision::compare(&self.cfg, bc, &c).1)
                    }
                    _ => Verdict::Best(Reason::OnlyPath),
                },
            };
            out.push((self.view(p), v));
        }
        out.sort_by_key(|(_, v)| !matches!(v, Verdict::Best(_)));
        out
    }

    /// How many routes `peer` sent that the RIB keeps before import policy (accepted or
    /// not), when soft reconfiguration inbound is on for it; `None` otherwise.
    pub fn peer_received_count(&self, peer: PeerId) -> Option<usize> {
        match self.peers.get(peer.0 as usize) {
            Some(Some(s)) => s.soft_in.as_ref().map(|m| m.len()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excluded_and_lost_paths_say_why() {
        let mut rib = Rib::new(DecisionConfig::new(65000, "10.0.0.1".parse().unwrap()));
        let peer = |a: &str, asn| {
            PeerInfo::new(a.parse().unwrap(), asn, "9.9.9.9".parse().unwrap(), 65000)
        };
        let a = rib.add_peer(peer("10.0.0.2", 65001));
        let b = rib.add_peer(peer("10.0.0.3", 65002));
        let c = rib.add_peer(peer("10.0.0.4", 65003));
        let _ = rib.set_soft_reconfiguration(a, true);
        let p: IpNet = "203.0.113.0/24".parse().unwrap();
        let mut x = Attrs::new("10.0.0.2".parse().unwrap());
        x.as_path = bgp_wire::attr::AsPath::from_sequence([65001]);
        rib.announce(a, p, 0, x).unwrap();
        let mut y = Attrs::new("10.0.0.3".parse().unwrap());
        y.as_path = bgp_wire::attr::AsPath::from_sequence([65002, 1]);
        rib.announce(b, p, 0, y).unwrap();
        let mut z = Attrs::new("10.0.0.4".parse().unwrap());
        z.as_path = bgp_wire::attr::AsPath::from_sequence([65003, 65000]);
        rib.announce(c, p, 0, z).unwrap();
        let e = rib.explain(p);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].0.peer, a);
        assert_eq!(e[0].1, Verdict::Best(Reason::AsPathLen));
        let of = |id| e.iter().find(|(v, _)| v.peer == id).unwrap().1;
        assert_eq!(of(b), Verdict::Lost(Reason::AsPathLen));
        assert_eq!(of(c), Verdict::Excluded(Exclusion::AsLoop));
        assert_eq!(of(c).describe(), "excluded: AS loop (our AS in the path)");
        assert_eq!(of(b).describe(), "lost to best on as-path length");
        assert!(rib.explain("198.51.100.0/24".parse().unwrap()).is_empty());
        assert_eq!(rib.peer_received_count(a), Some(1));
        assert_eq!(rib.peer_received_count(b), None);
    }
}
