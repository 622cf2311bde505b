//! # bgp-bfd
//!
//! Bidirectional Forwarding Detection (RFC 5880) over IP (RFC 5881 single hop, RFC 5883
//! multihop), sans-I/O like `bgp-fsm`: no clock, no sockets. A [`Session`] is the §6.8 state machine with its
//! timers, Poll/Final sequences and transmit jitter; time is an input ([`std::time::Duration`] since
//! an epoch the caller chooses) and packets go in and out as [`ControlPacket`] values.
//! With the `tokio` feature, `driver` runs many single-hop (RFC 5881) and multihop (RFC 5883)
//! sessions over a few shared UDP sockets.
//!
//! ```
//! use std::num::NonZeroU32;
//! use std::time::Duration;
//! use bgp_bfd::{ControlPacket, Session, SessionConfig, State};
//!
//! let cfg = SessionConfig::new(Duration::from_millis(100), Duration::from_millis(100), 3);
//! let mut a = Session::new(cfg.clone(), NonZeroU32::new(1).unwrap(), Duration::ZERO);
//! let mut b = Session::new(cfg, NonZeroU32::new(2).unwrap(), Duration::ZERO);
//! // Carry packets from one side to the other through the wire format.
//! fn pump(from: &mut Session, to: &mut Session, now: Duration) {
//!     while let Some(p) = from.poll_transmit(now) {
//!         let wire = p.to_bytes().unwrap();
//!         let p = ControlPacket::decode(&wire).unwrap();
//!         to.handle_packet(now, &p).unwrap();
//!     }
//! }
//! let mut now = Duration::ZERO;
//! for _ in 0..10 {
//!     pump(&mut a, &mut b, now);
//!     pump(&mut b, &mut a, now);
//!     now += Duration::from_millis(100);
//! }
//! assert_eq!((a.state(), b.state()), (State::Up, State::Up));
//! // b falls silent: a declares it down after the Detection Time (3 x 100 ms).
//! let deadline = now + a.detection_time().unwrap();
//! a.handle_timeout(deadline);
//! assert_eq!(a.state(), State::Down);
//! ```
//!
//! ## Scope and choices
//!
//! - Asynchronous mode only. Demand mode is not offered (we never set D); a peer in Demand
//!   mode is honoured by ceasing periodic transmission as §6.8.7 says.
//! - The Echo function (§6.4, §6.8.9): [`SessionConfig::echo_tx`] runs ours while Up and
//!   while the peer allows it, [`SessionConfig::required_min_echo_rx`] invites the peer's;
//!   the payload is our own [`EchoPacket`]. The `tokio` driver sends IPv4 single-hop Echo
//!   packets through a packet socket (CAP_NET_RAW).
//! - Authentication (§6.7): all five types ([`SessionConfig::auth`]), with further keys
//!   accepted by Key ID for a rollover ([`SessionConfig::accept_keys`],
//!   [`Session::set_auth`]). Without a key, packets with the A bit are discarded
//!   (§6.8.6); with one, packets without it or failing it are. A non-meticulous key moves
//!   its sequence number once a second, a meticulous one with every packet.
//! - A state change is sent at once rather than at the next periodic slot, as FRR and BIRD
//!   do: it shortens the three-way handshake; the periodic rate is unchanged.
//! - Coming Up lowers bfd.DesiredMinTxInterval from the one-second floor to the configured
//!   value, which starts a Poll Sequence (§6.8.3); any later parameter change while Up
//!   does too, with the deferred application of §6.8.3 (a larger TX interval and a smaller
//!   RX interval wait for the Final). A change while a sequence runs starts another after
//!   the Final.
//! - Jitter (§6.8.7) comes from a seeded generator ([`SessionConfig::jitter_seed`]).
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod auth;
pub mod packet;
pub mod session;

#[cfg(feature = "tokio")]
pub mod driver;
#[cfg(test)]
mod session_tests;

pub use auth::{AuthError, AuthKey, AuthType, KeyLengthError, UnknownAuthType};
pub use packet::{AuthSection, ControlPacket, DecodeError, Diag, EchoPacket, EncodeError, State};
pub use session::{Event, RxError, Session, SessionConfig};
