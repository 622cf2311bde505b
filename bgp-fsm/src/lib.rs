//! # bgp-fsm
//!
//! The RFC 4271 §8 BGP session state machine, sans-I/O: no clock, no sockets. Time is an
//! input ([`std::time::Duration`] since an epoch the caller chooses), and every output is an
//! [`Action`] the caller carries out. [`Peer`] runs the machines of one peer's connections
//! together with framing, collisions and flow control, still sans-I/O. With the `tokio`
//! feature, [`driver`] pumps a [`Peer`] over TCP.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use std::time::Duration;
//! use bgp_fsm::{Action, Event, Fsm, SessionConfig, State};
//! use bgp_wire::Message;
//!
//! let mut fsm = Fsm::new(SessionConfig::new(65001, 65002, Ipv4Addr::new(10, 0, 0, 1)));
//! let t0 = Duration::ZERO;
//! fsm.handle_event(t0, Event::ManualStart);
//! assert_eq!(fsm.state(), State::Connect);
//! assert!(fsm.drain_actions().contains(&Action::Connect));
//! // The TCP connection is up: the machine sends its OPEN.
//! fsm.handle_event(t0, Event::TcpCrAcked);
//! assert_eq!(fsm.state(), State::OpenSent);
//! let sent_open = fsm
//!     .drain_actions()
//!     .into_iter()
//!     .any(|a| matches!(a, Action::Send(Message::Open(_))));
//! assert!(sent_open);
//! // Nothing arrives: the 4-minute OpenSent hold timer fires and sends 4/0.
//! let deadline = fsm.poll_timeout().unwrap();
//! fsm.handle_timeout(deadline);
//! assert_eq!(fsm.state(), State::Idle);
//! ```
//!
//! ## A whole peer, driven by hand
//!
//! [`Peer`] wraps the machines of one peer's connections with everything else that needs no
//! socket: framing, the negotiated context, collisions, the send hold timer and flow control.
//! Bytes and time go in, bytes, socket actions and events come out; here two peers are wired
//! together by hand (the [`driver`] does the same with TCP sockets).
//!
//! ```
//! use std::net::Ipv4Addr;
//! use std::time::Duration;
//! use bgp_fsm::{IoAction, Limits, Peer, PeerEvent, SessionConfig, State};
//!
//! let mut a = Peer::new(SessionConfig::new(65001, 65002, Ipv4Addr::new(10, 0, 0, 1)), Limits::default());
//! let mut cfg_b = SessionConfig::new(65002, 65001, Ipv4Addr::new(10, 0, 0, 2));
//! cfg_b.passive = true;
//! let mut b = Peer::new(cfg_b, Limits::default());
//! let now = Duration::ZERO;
//! a.start(now);
//! b.start(now);
//! // A wants a TCP connection; say it came up and B accepted it.
//! assert_eq!(a.poll_io(), Some(IoAction::Connect));
//! let ca = a.handle_connected(now).unwrap();
//! let cb = b.handle_accepted(now);
//! // Carry bytes both ways until both sides are quiet: OPENs, then KEEPALIVEs.
//! loop {
//!     let mut moved = false;
//!     while let Some((_, bytes)) = a.poll_transmit() {
//!         a.handle_transmitted(now, ca, bytes.len()); // the socket took them
//!         b.handle_input(now, cb, &bytes);
//!         moved = true;
//!     }
//!     while let Some((_, bytes)) = b.poll_transmit() {
//!         b.handle_transmitted(now, cb, bytes.len());
//!         a.handle_input(now, ca, &bytes);
//!         moved = true;
//!     }
//!     if !moved {
//!         break;
//!     }
//! }
//! assert_eq!(a.state(), State::Established);
//! assert_eq!(b.state(), State::Established);
//! assert!(std::iter::from_fn(|| a.poll_event()).any(|e| matches!(e, PeerEvent::Established(_))));
//! // Time is an input too: at the deadline the next KEEPALIVE (19 octets) is due.
//! let t = a.poll_timeout().unwrap();
//! a.handle_timeout(t);
//! let (conn, keepalive) = a.poll_transmit().unwrap();
//! assert_eq!((conn, keepalive.len()), (ca, 19));
//! ```
//!
//! ## Model and choices
//!
//! - One [`Fsm`] per TCP connection. Connection collisions (§6.8) are resolved outside the
//!   machine (by [`Peer`], with [`collision::resolve`]); the loser gets
//!   [`Event::OpenCollisionDump`] (Cease 6/7). A connection already Established always wins (CollisionDetectEstablishedState is
//!   not implemented). Consequently an OPEN received in OpenConfirm or Established on the same
//!   connection is an unexpected event: FSM Error 5/2 or 5/3 (RFC 6608).
//! - `Event::BgpOpen` stands for Events 19 and 20: the machine validates the OPEN (§6.2) and
//!   knows whether its DelayOpenTimer runs.
//! - A message header error in Established is reported with its own NOTIFICATION (1/x, §6.1)
//!   rather than the FSM error the §8.2.2 "any other event" row would send.
//! - Entering Idle stops every timer (the ConnectRetryTimer restart some Idle transitions
//!   list has no effect in Idle).
//! - Automatic restart (AllowAutomaticStart) goes through the IdleHoldTimer. Peer oscillation
//!   damping, whose method §8.1.1 leaves open, doubles the IdleHoldTime after each consecutive
//!   fall to Idle up to a maximum; a session that stayed Established that long, or a
//!   ManualStart, resets it. A ManualStop disables automatic restarts until the next start.
//! - Jitter (0.75-1.0, §10) applies to ConnectRetry, Keepalive and IdleHold timers and comes
//!   from a seeded generator ([`SessionConfig::jitter_seed`]), so runs are reproducible.
//! - With [`SessionConfig::passive`] the session never connects out: a ConnectRetryTimer
//!   expiry in Active restarts the timer instead of moving to Connect.
//! - ROUTE-REFRESH messages (not an RFC 4271 event) refresh the HoldTimer in Established and
//!   are delivered upward; elsewhere they are unexpected messages.
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod collision;
pub mod config;
pub mod fsm;
pub mod graceful;
pub mod negotiate;
pub mod peer;
pub mod role;
mod timer;

#[cfg(feature = "tokio")]
pub mod driver;

pub use collision::{Direction, Keep};
pub use config::{GracefulRestartConfig, SessionConfig};
pub use fsm::{
    Action, DownReason, Event, Fsm, FsmError, State, shutdown_message, shutdown_notification,
};
pub use negotiate::{Negotiated, build_open, validate_open};
pub use peer::{ConnId, IoAction, Limits, Peer, PeerError, PeerEvent};
