//! Events the speaker reports, serializable as JSON lines.

use serde::Serialize;

/// Something that happened in the speaker.
///
/// Serialized with an `event` tag, e.g.
/// `{"event":"state_changed","peer":"192.168.1.1","from":"OpenConfirm","to":"Established"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SpeakerEvent {
    /// A peer was configured.
    PeerAdded {
        /// Peer address.
        peer: String,
    },
    /// A peer's settings changed and its session was restarted.
    PeerRestarted {
        /// Peer address.
        peer: String,
        /// The settings that changed.
        changed: Vec<String>,
    },
    /// A peer's BFD settings changed and were applied to its running BFD session; the
    /// BGP session was left alone.
    PeerReconfigured {
        /// Peer address.
        peer: String,
        /// The settings that changed.
        changed: Vec<String>,
    },
    /// A peer was removed.
    PeerRemoved {
        /// Peer address.
        peer: String,
    },
    /// The session changed FSM state.
    StateChanged {
        /// Peer address.
        peer: String,
        /// Old state.
        from: String,
        /// New state.
        to: String,
    },
    /// The session became Established.
    Established {
        /// Peer address.
        peer: String,
        /// Local address of the connection.
        local_addr: Option<String>,
        /// Negotiated families.
        families: Vec<String>,
    },
    /// The session went down.
    Down {
        /// Peer address.
        peer: String,
        /// Why.
        reason: String,
    },
    /// We sent a NOTIFICATION.
    NotificationSent {
        /// Peer address.
        peer: String,
        /// Decoded text.
        notification: String,
    },
    /// The peer sent a NOTIFICATION.
    NotificationReceived {
        /// Peer address.
        peer: String,
        /// Decoded text.
        notification: String,
    },
    /// Prefixes announced to a peer.
    Advertised {
        /// Peer address.
        peer: String,
        /// Prefixes.
        prefixes: Vec<String>,
    },
    /// Prefixes withdrawn from a peer.
    Withdrawn {
        /// Peer address.
        peer: String,
        /// Prefixes.
        prefixes: Vec<String>,
    },
    /// Prefixes that could not be sent to a peer.
    Skipped {
        /// Peer address.
        peer: String,
        /// Prefix.
        prefix: String,
        /// Why.
        reason: String,
    },
    /// The peer asked for a family again (ROUTE-REFRESH); it was re-sent.
    RouteRefreshed {
        /// Peer address.
        peer: String,
        /// Family.
        family: String,
        /// Prefixes re-sent.
        prefixes: usize,
    },
    /// End-of-RIB sent after the initial table.
    EndOfRib {
        /// Peer address.
        peer: String,
        /// Family, as `afi/safi`.
        family: String,
    },
    /// Routes received from a peer were ignored (import is off).
    RoutesIgnored {
        /// Peer address.
        peer: String,
        /// How many NLRI the UPDATE carried.
        count: usize,
    },
    /// Routes received from a peer were imported into the RIB.
    RoutesImported {
        /// Peer address.
        peer: String,
        /// Routes announced in the UPDATE (before import policy).
        announced: usize,
        /// Routes withdrawn.
        withdrawn: usize,
    },
    /// A received UPDATE could not be imported.
    ImportFailed {
        /// Peer address.
        peer: String,
        /// Why.
        reason: String,
    },
    /// A step of the graceful shutdown.
    Shutdown {
        /// The phase: `graceful_shutdown_community`, `withdraw`, `cease`, `done`.
        phase: String,
    },
}

impl SpeakerEvent {
    /// The event as one JSON line (without the newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_tagged() {
        let e = SpeakerEvent::StateChanged {
            peer: "192.0.2.1".into(),
            from: "Idle".into(),
            to: "Connect".into(),
        };
        assert_eq!(
            e.to_json(),
            r#"{"event":"state_changed","peer":"192.0.2.1","from":"Idle","to":"Connect"}"#
        );
    }
}
