//! Connection collision detection (RFC 4271 §6.8, RFC 6286 §2.3).
//!
//! The model: one [`crate::Fsm`] per TCP connection. When two connections to the same peer
//! exist and one of them has accepted the peer's OPEN (so the peer's BGP Identifier is known),
//! the caller asks [`resolve`] which one to keep and feeds
//! [`crate::Event::OpenCollisionDump`] to the other, which sends Cease 6/7 and closes.
//! A connection already in Established always wins (we do not set
//! CollisionDetectEstablishedState).

use std::net::Ipv4Addr;

use crate::fsm::State;

/// Who opened a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// We connected to the peer.
    Outgoing,
    /// The peer connected to us.
    Incoming,
}

/// Which of two colliding connections survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Keep the connection that existed first; dump the new one.
    Existing,
    /// Keep the new connection; dump the existing one.
    New,
}

/// The direction of the connection that survives a collision between the local and the remote
/// speaker: the one opened by the speaker with the larger BGP Identifier (§6.8). With equal
/// identifiers (possible for eBGP, RFC 6286 §2.3) the one opened by the larger AS wins.
pub fn winner(local_id: Ipv4Addr, local_as: u32, remote_id: Ipv4Addr, remote_as: u32) -> Direction {
    let local_wins = match u32::from(local_id).cmp(&u32::from(remote_id)) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => local_as > remote_as,
    };
    if local_wins {
        Direction::Outgoing
    } else {
        Direction::Incoming
    }
}

/// Decide between an existing connection (in `existing_state`, opened in `existing_dir`) and a
/// new one opened in the other direction. `None` when there is nothing to decide yet (the
/// existing connection is not past Active).
pub fn resolve(
    existing_state: State,
    existing_dir: Direction,
    local_id: Ipv4Addr,
    local_as: u32,
    remote_id: Ipv4Addr,
    remote_as: u32,
) -> Option<Keep> {
    match existing_state {
        State::Idle | State::Connect | State::Active => None,
        State::Established => Some(Keep::Existing),
        State::OpenSent | State::OpenConfirm => {
            if winner(local_id, local_as, remote_id, remote_as) == existing_dir {
                Some(Keep::Existing)
            } else {
                Some(Keep::New)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOW: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const HIGH: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    #[test]
    fn larger_identifier_keeps_its_own_connection() {
        assert_eq!(winner(HIGH, 1, LOW, 2), Direction::Outgoing);
        assert_eq!(winner(LOW, 1, HIGH, 2), Direction::Incoming);
        // Equal identifiers (eBGP): the larger AS wins.
        assert_eq!(winner(LOW, 2, LOW, 1), Direction::Outgoing);
        assert_eq!(winner(LOW, 1, LOW, 2), Direction::Incoming);
    }

    #[test]
    fn both_sides_agree_on_the_same_tcp_connection() {
        // A's outgoing connection is B's incoming one; both must keep the same physical one.
        let a = winner(LOW, 1, HIGH, 2);
        let b = winner(HIGH, 2, LOW, 1);
        assert_ne!(a, b);
    }

    #[test]
    fn established_wins_and_early_states_do_not_collide() {
        for dir in [Direction::Outgoing, Direction::Incoming] {
            assert_eq!(
                resolve(State::Established, dir, LOW, 1, HIGH, 2),
                Some(Keep::Existing)
            );
            assert_eq!(resolve(State::Active, dir, LOW, 1, HIGH, 2), None);
            assert_eq!(resolve(State::Connect, dir, LOW, 1, HIGH, 2), None);
        }
        assert_eq!(
            resolve(State::OpenConfirm, Direction::Outgoing, LOW, 1, HIGH, 2),
            Some(Keep::New)
        );
        assert_eq!(
            resolve(State::OpenSent, Direction::Outgoing, HIGH, 1, LOW, 2),
            Some(Keep::Existing)
        );
    }
}
