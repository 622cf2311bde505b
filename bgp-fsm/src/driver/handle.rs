//! [`PeerHandle`]: the application's side of a running peer, and the commands it sends to the
//! driver task.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bgp_wire::{AfiSafi, Notification, Update};
use tokio::sync::{mpsc, oneshot, watch};

use super::PeerEvent;
use crate::fsm::{FsmError, State};

/// Errors of the driver API.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The session is not Established.
    #[error("session is not established (state {0})")]
    NotEstablished(State),
    /// The peer did not negotiate what the call needs.
    #[error(transparent)]
    Fsm(#[from] FsmError),
    /// The message cannot be encoded for this session.
    #[error("cannot encode: {0}")]
    Encode(#[from] bgp_wire::EncodeError),
    /// The driver task has stopped.
    #[error("the peer task has stopped")]
    Stopped,
    /// A socket error.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

pub(super) enum Command {
    Update(Box<Update>, oneshot::Sender<Result<(), DriverError>>),
    Updates(Vec<Update>, oneshot::Sender<Result<(), DriverError>>),
    Encoded(Vec<bytes::Bytes>, oneshot::Sender<Result<(), DriverError>>),
    RouteRefresh(AfiSafi, oneshot::Sender<Result<(), DriverError>>),
    Shutdown(Option<String>, oneshot::Sender<()>),
    AutomaticStop(Notification, oneshot::Sender<()>),
}

/// The caller's side of a running peer. Clones control the same peer.
#[derive(Debug, Clone)]
pub struct PeerHandle {
    pub(super) cmd: mpsc::Sender<Command>,
    pub(super) state: watch::Receiver<State>,
    pub(super) conn: Arc<Mutex<Option<(SocketAddr, SocketAddr)>>>,
    pub(super) taken: Arc<AtomicBool>,
    pub(super) events: Arc<Mutex<Option<mpsc::Receiver<PeerEvent>>>>,
    pub(super) peer: IpAddr,
}

impl PeerHandle {
    /// The peer's address.
    pub fn peer_addr(&self) -> IpAddr {
        self.peer
    }
    /// The current state.
    pub fn state(&self) -> State {
        *self.state.borrow()
    }
    /// The (local, remote) socket addresses of the Established session's TCP connection
    /// (e.g. to use our local address as next hop), `None` when not Established.
    pub fn connection(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.conn.lock().ok().and_then(|g| *g)
    }
    /// A receiver of the state, to await changes (`changed()`, `wait_for(..)`).
    pub fn watch_state(&self) -> watch::Receiver<State> {
        self.state.clone()
    }
    /// Every event, in order, lossless once taken. Only the first call gets it. Until it is
    /// taken, the first [`EVENT_CAPACITY`](super::EVENT_CAPACITY) events are kept and later ones dropped; once taken,
    /// the receiver must be drained (see the module docs on flow control).
    pub fn take_events(&self) -> Option<mpsc::Receiver<PeerEvent>> {
        let rx = self.events.lock().ok().and_then(|mut g| g.take());
        if rx.is_some() {
            self.taken.store(true, Ordering::Relaxed);
        }
        rx
    }
    /// Wait until the session is Established, up to `timeout`. True when it is.
    pub async fn wait_established(&self, timeout: Duration) -> bool {
        let mut rx = self.state.clone();
        tokio::time::timeout(timeout, rx.wait_for(|s| *s == State::Established))
            .await
            .is_ok_and(|r| r.is_ok())
    }
    /// Queue an UPDATE (errors when not Established). Waits while the write queue is full.
    pub async fn send_update(&self, update: Update) -> Result<(), DriverError> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Command::Update(Box::new(update), tx))
            .await
            .map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)?
    }
    /// Queue UPDATEs in order as one command: they are encoded as the session's send buffer
    /// takes them and leave in as few writes as fit, with one wake-up of the driver instead
    /// of one per message. Returns once every one is in the send buffer (or the first error;
    /// the rest are then not sent).
    pub async fn send_updates(&self, updates: Vec<Update>) -> Result<(), DriverError> {
        if updates.is_empty() {
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Command::Updates(updates, tx))
            .await
            .map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)?
    }
    /// [`PeerHandle::send_updates`] for UPDATEs already encoded for this session (each item
    /// one whole message or a run of them back to back, see
    /// [`crate::peer::Peer::send_encoded_update`]): an update group encodes its stream once
    /// and every member's driver copies the same bytes.
    pub async fn send_encoded_updates(
        &self,
        updates: Vec<bytes::Bytes>,
    ) -> Result<(), DriverError> {
        if updates.is_empty() {
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Command::Encoded(updates, tx))
            .await
            .map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)?
    }
    /// Ask the peer to resend a family (needs Route Refresh negotiated).
    pub async fn route_refresh(&self, af: AfiSafi) -> Result<(), DriverError> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Command::RouteRefresh(af, tx))
            .await
            .map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)?
    }
    /// End the current session with this Cease and keep the peer: AutomaticStop (RFC 4271
    /// Event 8), e.g. Cease 6/1 when the peer sent more prefixes than allowed (RFC 4486). The
    /// NOTIFICATION is sent if a session is open, the connection closed, the session goes
    /// Idle, and the peer reconnects after its IdleHoldTime, which doubles with each
    /// consecutive stop or failure (up to 120 s), so a peer that keeps breaking the limit is
    /// retried ever more slowly. Use [`PeerHandle::shutdown`] to stop for good.
    pub async fn automatic_stop(&self, cease: Notification) -> Result<(), DriverError> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Command::AutomaticStop(cease, tx))
            .await
            .map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)
    }
    /// Stop the peer: Cease 6/2 with the RFC 9003 shutdown communication when a session
    /// exists, flush, close, end the task.
    pub async fn shutdown(self, message: Option<String>) -> Result<(), DriverError> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Command::Shutdown(message, tx))
            .await
            .map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)
    }
}
