//! The production [`SessionBackend`]: sessions run by the bgp-fsm tokio driver.
//!
//! Not wired yet: the bgp-fsm tokio driver has not landed; `start` reports that.

use std::net::SocketAddr;

use crate::session::{PeerSettings, SessionBackend, SessionError, SessionIo};

/// Sessions over TCP run by bgp-fsm, sharing one listener.
#[derive(Debug)]
pub struct FsmBackend {
    listen: Option<SocketAddr>,
}

impl FsmBackend {
    /// A backend that also accepts connections on `listen` (None: only connect out).
    pub fn new(listen: Option<SocketAddr>) -> std::io::Result<Self> {
        Ok(FsmBackend { listen })
    }
}

impl SessionBackend for FsmBackend {
    fn start(&self, _settings: &PeerSettings) -> Result<SessionIo, SessionError> {
        let _ = self.listen;
        Err(SessionError::Start(
            "bgp-fsm tokio driver not available yet".into(),
        ))
    }
}
