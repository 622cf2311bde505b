//! # bgp-fsm
//!
//! The RFC 4271 §8 BGP session state machine, sans-I/O: no clock, no sockets. Time is an
//! input ([`std::time::Duration`] since an epoch the caller chooses), and every output is an
//! [`Action`] the caller carries out. With the `tokio` feature, [`driver`] runs it over TCP.
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
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod collision;
pub mod config;
pub mod fsm;
pub mod negotiate;
mod timer;

#[cfg(feature = "tokio")]
pub mod driver;

pub use collision::{Direction, Keep};
pub use config::{GracefulRestartConfig, SessionConfig};
pub use fsm::{
    Action, DownReason, Event, Fsm, FsmError, State, shutdown_message, shutdown_notification,
};
pub use negotiate::{Negotiated, build_open, validate_open};
