//! Applying a new configuration to a running router (SIGHUP with `--config`), touching only
//! what changed:
//! - a neighbour no longer configured is stopped with Cease/Peer De-configured (6/3) and its
//!   routes withdrawn from the others;
//! - a new neighbour is started;
//! - a neighbour whose session parameters changed (AS, port, passive, source address, hold
//!   time, connect retry, families, route-reflector client, next-hop-self, soft
//!   reconfiguration) is restarted alone,
//!   with Cease/Other Configuration Change (6/6);
//! - a changed import policy is re-run over the routes kept before policy (soft
//!   reconfiguration inbound; a ROUTE-REFRESH is asked for when they were not kept), a changed
//!   export policy over the Loc-RIB; the session stays up;
//! - maximum-prefix and description are updated in place.
//!
//! Global settings (AS, router id, listen address, decision options) need a restart.
//! One JSON line reports what was done:
//! `{"type":"reload","added":A,"removed":R,"reset":S,"import_changed":I,"export_changed":E}`.

use std::io::Write;
use std::time::Duration;

use bgp_fsm::DownReason;
use bgp_fsm::driver::PeerEvent;
use bgp_wire::Notification;

use super::config::same_policy;
use super::{Events, NeighborConfig, Router, RouterConfig};

/// Cease subcodes (RFC 4486).
const CEASE: u8 = 6;
const PEER_DECONFIGURED: u8 = 3;
const OTHER_CONFIGURATION_CHANGE: u8 = 6;

/// Whether the session must be reset to apply `new` in place of `old`.
fn session_changed(old: &NeighborConfig, new: &NeighborConfig) -> bool {
    old.peer_as != new.peer_as
        || old.port != new.port
        || old.passive != new.passive
        || old.local_addr != new.local_addr
        || old.hold_time != new.hold_time
        || old.connect_retry != new.connect_retry
        || old.families != new.families
        || old.rr_client != new.rr_client
        || old.rs_client != new.rs_client
        || old.scope_id != new.scope_id
        || old.min_hold_time != new.min_hold_time
        || old.role != new.role
        || old.strict_role != new.strict_role
        || old.next_hop_self != new.next_hop_self
        // Turned on mid-session it would miss what was received before.
        || old.soft_reconfiguration != new.soft_reconfiguration
}

impl Router {
    /// Stop neighbour `i` with a Cease of `subcode` and forget it (its routes are withdrawn
    /// from the RIB, so the others hear of it in the next batch). Waits (bounded) for the
    /// driver to end, so a neighbour started again at the same address registers with the
    /// listener only after the old one has left it.
    async fn stop_neighbor(&mut self, i: usize, subcode: u8, events: &mut Events) {
        if i >= self.nbrs.len() {
            return;
        }
        // Its events are no longer read: the driver never waits on them.
        if i < events.rx.len() {
            events.rx.remove(i);
        }
        let n = self.nbrs.remove(i);
        let addr = n.cfg.addr;
        let cease = Notification::with_data(CEASE, subcode, bytes::Bytes::new());
        let was_up = n.stats.established_at.is_some();
        if was_up && !n.over_limit {
            // BMP Peer Down and the MRT state change, as for any session that ends.
            let reason = DownReason::AutomaticStop(cease.clone());
            let _ = writeln!(
                self.out,
                "{{\"type\":\"session\",\"peer\":\"{addr}\",\"state\":\"down\",\"reason\":\"{}\",\"graceful_restart\":false}}",
                super::json_escape(&format!("{reason:?}"))
            );
            self.mon
                .event(&self.rib, n.id, &PeerEvent::Down { reason }, || None);
        }
        drop(n.session);
        self.rib.remove_peer(n.id);
        let h = n.handle;
        let mut state = h.watch_state();
        let _ = tokio::time::timeout(Duration::from_secs(3), async {
            let _ = h.automatic_stop(cease).await;
            let _ = h.shutdown(None).await;
            // The driver answers before its task ends; wait for the end (its state sender is
            // dropped), so its connection is closed and it has left the listener before a
            // neighbour at the same address starts again. (Before the driver's registration
            // numbers, its late unregister took the new neighbour's listener entry away.)
            while state.changed().await.is_ok() {}
        })
        .await;
    }

    /// Apply `new`: see the module documentation.
    pub(super) async fn reload(&mut self, new: RouterConfig, events: &mut Events) {
        self.home_all();
        let (mut added, mut removed, mut reset, mut import, mut export) = (0, 0, 0, 0, 0);
        // Removed neighbours, and those whose session must restart.
        let mut i = 0;
        let mut restart = Vec::new();
        while i < self.nbrs.len() {
            let old = &self.nbrs[i].cfg;
            match new.neighbors.iter().find(|n| n.addr == old.addr) {
                None => {
                    self.stop_neighbor(i, PEER_DECONFIGURED, events).await;
                    removed += 1;
                }
                Some(n) if session_changed(old, n) => {
                    restart.push(n.clone());
                    self.stop_neighbor(i, OTHER_CONFIGURATION_CHANGE, events)
                        .await;
                    reset += 1;
                }
                Some(n) => {
                    let n = n.clone();
                    if !same_policy(&self.nbrs[i].cfg.import, &n.import) {
                        self.reimport(i, &n);
                        import += 1;
                    }
                    if !same_policy(&self.nbrs[i].cfg.export, &n.export) {
                        self.reexport(i, &n);
                        export += 1;
                    }
                    let nb = &mut self.nbrs[i];
                    nb.cfg.import = n.import;
                    nb.cfg.export = n.export;
                    nb.cfg.max_prefix = n.max_prefix;
                    nb.cfg.description = n.description;
                    self.check_max_prefix(i);
                    i += 1;
                }
            }
        }
        for n in restart {
            self.start_neighbor(n, events);
        }
        for n in &new.neighbors {
            if !self.nbrs.iter().any(|x| x.cfg.addr == n.addr) {
                self.start_neighbor(n.clone(), events);
                added += 1;
            }
        }
        self.cfg.neighbors = new.neighbors;
        self.cfg.max_prefix = new.max_prefix;
        let _ = writeln!(
            self.out,
            "{{\"type\":\"reload\",\"added\":{added},\"removed\":{removed},\"reset\":{reset},\"import_changed\":{import},\"export_changed\":{export}}}"
        );
        let _ = self.out.flush();
    }

    /// Re-run a changed import policy over what the neighbour sent (no session reset).
    fn reimport(&mut self, i: usize, n: &NeighborConfig) {
        let id = self.nbrs[i].id;
        let local_as = self.cfg.decision.local_as;
        let p = super::policy::import_policy(n, local_as, self.cfg.ebgp_requires_policy);
        let _ = self.rib.set_import_policy(id, p);
        if self.nbrs[i].cfg.soft_reconfiguration {
            let _ = self.rib.soft_reconfigure(id);
        } else if self.nbrs[i].session.is_some() || self.nbrs[i].handle.connection().is_some() {
            // Not kept: ask the neighbour to send everything again (RFC 2918).
            let h = self.nbrs[i].handle.clone();
            let fams = self.nbrs[i].cfg.families.clone();
            tokio::spawn(async move {
                for af in fams {
                    let _ = h.route_refresh(af).await;
                }
            });
        }
    }

    /// Apply a changed export policy without resetting the session: the neighbour leaves its
    /// update group for the group of its new export parameters. That group's first batch for
    /// it replaces every route it advertises and withdraws the rest of what the neighbour
    /// held from the old group (`OutSession::moving`), on the neighbour's own queue, so
    /// nothing stale is left there and nothing flaps.
    fn reexport(&mut self, i: usize, n: &NeighborConfig) {
        let local_as = self.cfg.decision.local_as;
        let policy = super::policy::export_policy(n, local_as, self.cfg.ebgp_requires_policy);
        let id = self.nbrs[i].id;
        let Some(s) = self.nbrs[i].session.as_ref() else {
            return;
        };
        let Some(Some(old)) = self.groups.get(s.group) else {
            return;
        };
        let mut cfg = old.adj_rib_out().config().clone();
        cfg.policy = policy;
        let ctx = old.context().clone();
        let mut held = old.adj_rib_out().advertised_prefixes();
        if let Some(earlier) = &s.moving {
            // Moved twice before a batch went out: it still holds those too.
            held.extend(earlier.iter().copied());
        }
        let tx = s.tx.clone();
        self.end_session(i);
        let gi = self.join_group(cfg, &ctx, id);
        self.nbrs[i].session = Some(super::OutSession {
            group: gi,
            tx,
            moving: Some(held),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_changes_reset_the_session() {
        let a = NeighborConfig::new("192.0.2.1".parse().unwrap(), 65001);
        let mut b = a.clone();
        b.max_prefix = Some(5);
        b.description = Some("x".into());
        assert!(!session_changed(&a, &b));
        b.hold_time = 30;
        assert!(session_changed(&a, &b));
        let mut c = a.clone();
        c.peer_as = 65002;
        assert!(session_changed(&a, &c));
    }
}
