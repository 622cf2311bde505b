//! Connection collisions inside a [`Peer`] (RFC 4271 §6.8): which of two connections to the
//! same peer survives, Cease 6/7 on the other, and the promotion of the survivor.

use std::time::Duration;

use super::conn::{DEFAULT_CTX, Which};
use super::{IoAction, Peer, PeerEvent};
use crate::collision::{self, Keep};
use crate::fsm::{Action, Event, State};

#[derive(PartialEq, Eq)]
pub(super) enum Collision {
    None,
    SecondaryDropped,
    Promoted,
}

impl Peer {
    /// Resolve a collision between the session's connection and a second (incoming) one
    /// (RFC 4271 §6.8).
    pub(super) fn check_collision(&mut self, now: Duration) -> Collision {
        let Some(sec) = self.secondary.as_ref() else {
            return Collision::None;
        };
        let pstate = self.primary.fsm.state();
        if pstate < State::OpenSent {
            // The primary fell back: the secondary connection carries on as the session.
            self.promote_secondary();
            return Collision::Promoted;
        }
        let Some(remote_id) = sec.fsm.remote_id().or(self.primary.fsm.remote_id()) else {
            if pstate == State::Established {
                self.dump(now, Which::Secondary);
                return Collision::SecondaryDropped;
            }
            return Collision::None;
        };
        let cfg = self.primary.fsm.config();
        let keep = collision::resolve(
            pstate,
            self.primary.dir,
            cfg.router_id,
            cfg.local_as,
            remote_id,
            cfg.peer_as,
        );
        match keep {
            Some(Keep::Existing) => {
                self.dump(now, Which::Secondary);
                Collision::SecondaryDropped
            }
            Some(Keep::New) => {
                self.dump(now, Which::Primary);
                self.promote_secondary();
                Collision::Promoted
            }
            None => Collision::None,
        }
    }

    /// Cease 6/7 on one connection and close it; only its messages go out (the session
    /// continues on the other connection).
    fn dump(&mut self, now: Duration, which: Which) {
        let mut sec = None;
        let c = match which {
            Which::Primary => &mut self.primary,
            Which::Secondary => match self.secondary.take() {
                Some(s) => sec.insert(s),
                None => return,
            },
        };
        c.fsm.handle_event(now, Event::OpenCollisionDump);
        while let Some(a) = c.fsm.poll_action() {
            if let (Action::Send(m), Some(_)) = (&a, c.id) {
                let _ = bgp_wire::encode_message(m, &DEFAULT_CTX, &mut c.ctrl);
            }
        }
        if let (Some(id), out) = c.detach() {
            self.retire(id, out);
        }
    }

    fn promote_secondary(&mut self) {
        let Some(sec) = self.secondary.take() else {
            return;
        };
        let from = self.primary.fsm.state();
        if let (Some(id), out) = self.primary.detach() {
            self.retire(id, out);
        }
        self.io.push_back(IoAction::CancelConnect);
        self.primary = *sec;
        let to = self.primary.fsm.state();
        if from != to {
            self.events.push_back(PeerEvent::StateChanged { from, to });
        }
    }
}
