//! Graceful Restart decisions of the receiving (helper) side: RFC 4724 §4.2 with the
//! RFC 8538 Notification (N) bit. Pure functions over what the state machine reports, so every
//! user of the driver decides the same way when a session goes down or comes back.
//!
//! ```
//! use bgp_fsm::DownReason;
//! use bgp_wire::Notification;
//! // Without the N bit only a lost connection keeps the peer's routes (as stale).
//! assert!(DownReason::ConnectionFailed.keeps_stale_routes(false));
//! assert!(!DownReason::HoldTimerExpired.keeps_stale_routes(false));
//! // With it, a NOTIFICATION or a hold-timer expiry keeps them too, a Hard Reset does not.
//! let cease = Notification::new(6, 4);
//! assert!(DownReason::NotificationReceived(cease.clone()).keeps_stale_routes(true));
//! let hard = Notification::hard_reset(&cease);
//! assert!(!DownReason::NotificationReceived(hard).keeps_stale_routes(true));
//! ```

use bgp_wire::error::codes;
use bgp_wire::message::GracefulRestartFamily;
use bgp_wire::{AfiSafi, Capability, Notification};

use crate::fsm::DownReason;

/// Whether a NOTIFICATION is a Cease / Hard Reset (6/9, RFC 8538).
pub fn is_hard_reset(n: &Notification) -> bool {
    n.code == codes::CEASE && n.subcode == codes::HARD_RESET
}

/// The Cease subcodes RFC 8538 §5 sends as a Hard Reset when the N bit was negotiated:
/// Maximum Number of Prefixes Reached, Administrative Shutdown, Peer De-configured (and Hard
/// Reset itself). The others (Administrative Reset is left to us: graceful) stay plain.
pub fn cease_needs_hard_reset(n: &Notification) -> bool {
    n.code == codes::CEASE
        && matches!(
            n.subcode,
            codes::MAX_PREFIXES_REACHED | codes::ADMINISTRATIVE_SHUTDOWN | codes::PEER_DECONFIGURED
        )
}

impl DownReason {
    /// Whether the helper keeps the peer's routes (marked stale) after the session ended this
    /// way, given whether RFC 8538's N bit was negotiated
    /// ([`crate::Negotiated::graceful_notification`]) and the peer advertised Graceful Restart.
    ///
    /// RFC 4724 alone: only a connection lost without a NOTIFICATION (TCP failure or close)
    /// keeps them; a hold-timer expiry sends a NOTIFICATION and so ends graceful restart.
    /// RFC 8538 (N bit): a NOTIFICATION sent or received, and a hold-timer expiry, keep them,
    /// except a Cease / Hard Reset (6/9), which flushes at once. Stops we chose (ManualStop,
    /// AutomaticStop) and collisions never keep them.
    pub fn keeps_stale_routes(&self, graceful_notification: bool) -> bool {
        match self {
            DownReason::ConnectionFailed => true,
            DownReason::HoldTimerExpired => graceful_notification,
            DownReason::NotificationReceived(n) | DownReason::NotificationSent(n) => {
                graceful_notification && !is_hard_reset(n)
            }
            DownReason::ManualStop(_)
            | DownReason::AutomaticStop(_)
            | DownReason::CollisionResolution
            | DownReason::UnexpectedEvent(_) => false,
        }
    }
}

/// The families whose stale routes a returning peer lets us keep until its End-of-RIB
/// (RFC 4724 §4.2): those listed in its new Graceful Restart capability with the Forwarding
/// State (F) bit set. Every other family's stale routes must be flushed at once; with no
/// capability at all, every family's.
pub fn forwarding_preserved(cap: Option<&Capability>) -> Vec<AfiSafi> {
    match cap {
        Some(Capability::GracefulRestart { families, .. }) => families
            .iter()
            .filter(|f| f.forwarding_preserved)
            .map(|f: &GracefulRestartFamily| f.af)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_keeps_routes_only_where_the_rfcs_say() {
        let cease = Notification::new(6, 4);
        let hard = Notification::hard_reset(&Notification::new(6, 2));
        for n in [false, true] {
            assert!(DownReason::ConnectionFailed.keeps_stale_routes(n));
            assert_eq!(DownReason::HoldTimerExpired.keeps_stale_routes(n), n);
            assert_eq!(
                DownReason::NotificationReceived(cease.clone()).keeps_stale_routes(n),
                n
            );
            assert_eq!(
                DownReason::NotificationSent(Notification::new(3, 1)).keeps_stale_routes(n),
                n
            );
            assert!(!DownReason::NotificationReceived(hard.clone()).keeps_stale_routes(n));
            assert!(!DownReason::NotificationSent(hard.clone()).keeps_stale_routes(n));
            assert!(!DownReason::ManualStop(Notification::new(6, 2)).keeps_stale_routes(n));
            assert!(!DownReason::AutomaticStop(Notification::new(6, 1)).keeps_stale_routes(n));
            assert!(!DownReason::CollisionResolution.keeps_stale_routes(n));
        }
    }

    #[test]
    fn forwarding_state_per_family() {
        let cap = Capability::GracefulRestart {
            restart_state: true,
            notification: true,
            restart_time: 120,
            families: vec![
                GracefulRestartFamily {
                    af: AfiSafi::IPV4_UNICAST,
                    forwarding_preserved: false,
                },
                GracefulRestartFamily {
                    af: AfiSafi::IPV6_UNICAST,
                    forwarding_preserved: true,
                },
            ],
        };
        assert_eq!(
            forwarding_preserved(Some(&cap)),
            vec![AfiSafi::IPV6_UNICAST]
        );
        assert!(forwarding_preserved(None).is_empty());
        assert!(forwarding_preserved(Some(&Capability::RouteRefresh)).is_empty());
    }

    #[test]
    fn hard_reset_cease_subcodes() {
        assert!(cease_needs_hard_reset(&Notification::new(6, 1)));
        assert!(cease_needs_hard_reset(&Notification::new(6, 2)));
        assert!(cease_needs_hard_reset(&Notification::new(6, 3)));
        assert!(!cease_needs_hard_reset(&Notification::new(6, 4)));
        assert!(!cease_needs_hard_reset(&Notification::new(6, 7)));
        assert!(!cease_needs_hard_reset(&Notification::new(4, 0)));
        assert!(is_hard_reset(&Notification::new(6, 9)));
    }
}
