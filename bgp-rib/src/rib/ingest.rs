//! Ingest: routes announced and withdrawn by peers (one at a time or from a decoded UPDATE
//! with its RFC 7606 verdict), import policy, and locally originated routes.

use super::*;

impl Rib {
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
        let (attrs, interned) = if peer != PeerId::LOCAL
            && self.peer_info(peer).is_some_and(|p| !p.ibgp)
            && (attrs.originator_id().is_some() || !attrs.cluster_list().is_empty())
        {
            // RFC 7606 §7.9/§7.10: ORIGINATOR_ID and CLUSTER_LIST from an external peer are
            // discarded before anything else sees the route.
            let mut a = (*attrs).clone();
            let x = a.extra_mut();
            x.originator_id = None;
            x.cluster_list.clear();
            a.normalize();
            drop(attrs);
            (self.interner.intern(a), true)
        } else {
            (attrs, interned)
        };
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
        let (change, old, added, slot) = with_table!(self, key, |t, p| {
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
            (recompute(&ctx, d, before), old, added, i)
        });
        if let Some(o) = old {
            self.interner.release(o.attrs);
        }
        if added {
            match self.peers.get_mut(peer.0 as usize) {
                Some(Some(s)) => s.paths[fam_index(key)] += 1,
                _ if peer == PeerId::LOCAL => self.local_paths += 1,
                _ => {}
            }
        }
        if let Some(kind) = change
            && self.track
        {
            self.deltas.push(Delta {
                prefix: key.to_net(),
                kind,
                slot,
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
    pub(super) fn remove_where(&mut self, key: AnyPrefix, f: impl Fn(&PathRec) -> bool) {
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
            match self.peers.get_mut(r.peer as usize) {
                Some(Some(s)) => {
                    let n = &mut s.paths[fam_index(key)];
                    *n = n.saturating_sub(1);
                }
                _ if r.peer == PeerId::LOCAL.0 => {
                    self.local_paths = self.local_paths.saturating_sub(1)
                }
                _ => {}
            }
            self.interner.release(r.attrs);
        }
        if let Some(kind) = change
            && self.track
        {
            self.deltas.push(Delta::new(key.to_net(), kind));
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
    /// NLRI (ADD-PATH), 0 otherwise. Families an earlier AFI/SAFI-disable verdict turned off
    /// for this peer (see [`Rib::apply_decoded`]) are ignored until [`Rib::peer_down`].
    pub fn apply_update(&mut self, peer: PeerId, u: &Update) -> Result<UpdateSummary, RibError> {
        let disabled = self.slot(peer)?.disabled.clone();
        let off = |af: AfiSafi| disabled.contains(&af);
        let mut s = UpdateSummary::default();
        if u.withdrawn.is_empty() && u.attributes.is_empty() && u.nlri.is_empty() {
            s.end_of_rib.push(AfiSafi::IPV4_UNICAST);
            return Ok(s);
        }
        let v4_on = !off(AfiSafi::IPV4_UNICAST);
        if v4_on {
            for w in &u.withdrawn {
                self.withdraw(peer, w.prefix, w.path_id.unwrap_or(0));
                s.withdrawn += 1;
            }
        }
        // IPv4 NLRI (next hop: NEXT_HOP) and MP_REACH NLRI (next hop: MP_REACH's own) are kept
        // apart: an UPDATE may carry both, each set with its own next hop.
        let reach4: &[bgp_wire::Nlri] = if v4_on { &u.nlri } else { &[] };
        let mut reach: Vec<&bgp_wire::Nlri> = Vec::new();
        for a in &u.attributes {
            match a {
                PathAttribute::MpUnreachNlri(m) if off(m.af) => {}
                PathAttribute::MpReachNlri(m) if off(m.af) => {}
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
        if reach.is_empty() && reach4.is_empty() {
            return Ok(s);
        }
        let mut attrs = Attrs::from_wire(&u.attributes).ok_or(RibError::NoNextHop)?;
        if self.peer_info(peer).is_some_and(|p| !p.four_octet_as) {
            merge_as4(&mut attrs, &u.attributes);
        }
        if self.peer_info(peer).is_some_and(|p| !p.ibgp) {
            // RFC 4271 §5.1.5: LOCAL_PREF from an external peer is ignored.
            attrs.local_pref = None;
            // RFC 7606 §7.9/§7.10 (also done per route in announce, done here once per UPDATE).
            if let Some(x) = attrs.extra.as_mut() {
                x.originator_id = None;
                x.cluster_list.clear();
            }
        }
        let nh4 = u.attributes.iter().find_map(|a| match a {
            PathAttribute::NextHop(n) => Some(IpAddr::V4(*n)),
            _ => None,
        });
        let attrs4 = match nh4 {
            Some(nh) if !reach4.is_empty() && nh != attrs.next_hop => {
                let mut a4 = attrs.clone();
                a4.next_hop = nh;
                if let Some(x) = a4.extra.as_mut() {
                    x.link_local = None;
                }
                Some(self.interner.intern(a4))
            }
            _ => None,
        };
        let a = self.interner.intern(attrs);
        let a4 = attrs4.as_ref().unwrap_or(&a);
        for n in reach4.iter().chain(reach) {
            let at = if s.announced < reach4.len() { a4 } else { &a };
            self.announce_inner(peer, n.prefix, n.path_id.unwrap_or(0), at.clone(), true)?;
            s.announced += 1;
        }
        if let Some(x) = attrs4 {
            self.interner.release(x);
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
    ///   [`UpdateSummary::disabled`]) and later UPDATEs of that family from the peer are
    ///   ignored until [`Rib::peer_down`] (RFC 7606 §5.4, RFC 4760 §7); the rest is handled as
    ///   above;
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
            let slot = self.slot(peer)?;
            if !slot.disabled.contains(af) {
                slot.disabled.push(*af);
            }
        }
        if !taw {
            // apply_update leaves the disabled families (this UPDATE's and earlier ones) out.
            let mut r = self.apply_update(peer, u)?;
            r.disabled = s.disabled;
            return Ok(r);
        }
        // Treat-as-withdraw: explicit withdrawals still count, announcements become withdrawals.
        let off = self.slot(peer)?.disabled.clone();
        let mut gone: Vec<(AfiSafi, IpNet, u32)> = Vec::new();
        if !off.contains(&AfiSafi::IPV4_UNICAST) {
            gone.extend(
                u.withdrawn
                    .iter()
                    .map(|n| (AfiSafi::IPV4_UNICAST, n.prefix, n.path_id.unwrap_or(0))),
            );
        }
        for a in &u.attributes {
            if let PathAttribute::MpUnreachNlri(m) = a
                && !off.contains(&m.af)
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
            if (af == AfiSafi::IPV4_UNICAST || af == AfiSafi::IPV6_UNICAST) && !off.contains(&af) {
                self.withdraw(peer, prefix, path_id);
                s.withdrawn += 1;
            }
        }
        Ok(s)
    }
}

/// RFC 6793 §4.2.3: rebuild the real AS path and aggregator of an UPDATE from a 2-octet
/// speaker from AS4_PATH and AS4_AGGREGATOR. An AGGREGATOR that is not AS_TRANS means an
/// OLD speaker aggregated after the AS4_* attributes were attached: both are ignored.
fn merge_as4(attrs: &mut Attrs, wire: &[PathAttribute]) {
    let mut as4_path = None;
    let mut as4_aggr = None;
    for a in wire {
        match a {
            PathAttribute::As4Path(p) => as4_path = Some(p),
            PathAttribute::As4Aggregator(g) => as4_aggr = Some(*g),
            _ => {}
        }
    }
    if let Some(g) = attrs.extra().aggregator {
        if g.asn != u32::from(bgp_wire::message::AS_TRANS) {
            return;
        }
        if let Some(g4) = as4_aggr {
            attrs.extra_mut().aggregator = Some(g4);
        }
    }
    if let Some(p4) = as4_path {
        attrs.as_path = bgp_wire::merge_as4_path(&attrs.as_path, p4);
    }
}
