//! # kube-bgp
//!
//! The speaker runtime that ties bgp-wire, bgp-fsm and bgp-rib together: a [`Speaker`]
//! holds peers that can be added, changed and removed at runtime, and one declarative
//! desired set of advertisements that it sends to every peer as a difference.
//!
//! ```
//! use kube_bgp::advert::{diff, DesiredSet, NextHop, RouteAttrs};
//!
//! let mut old = DesiredSet::new();
//! old.insert("172.16.10.0/32".parse().unwrap(), RouteAttrs::default());
//! let mut new = old.clone();
//! new.insert(
//!     "172.16.10.1/32".parse().unwrap(),
//!     RouteAttrs { next_hop: NextHop::SelfAddr, local_pref: Some(200), ..Default::default() },
//! );
//! let d = diff(&old, &new);
//! assert_eq!(d.announce.len(), 1);
//! assert!(d.withdraw.is_empty());
//! ```
//!
//! A speaker over TCP (the bgp-fsm driver), announcing one service address to a router
//! and leaving gracefully:
//!
//! ```no_run
//! use std::sync::Arc;
//! use kube_bgp::driver::FsmBackend;
//! use kube_bgp::{PeerSettings, RouteAttrs, ShutdownOptions, Speaker};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let backend = FsmBackend::new(Some("0.0.0.0:179".parse().unwrap())).await?;
//! let speaker = Speaker::new(Arc::new(backend));
//! let mut events = speaker.subscribe();
//! speaker.announce("172.16.10.0/32".parse().unwrap(), RouteAttrs::default());
//! let peer = PeerSettings::new(
//!     "192.168.1.1".parse().unwrap(), // the router
//!     64512,                          // our AS
//!     64512,                          // its AS: iBGP
//!     "192.168.1.10".parse().unwrap(), // our router id
//! );
//! speaker.add_peer(peer).expect("new peer");
//! while let Ok(e) = events.recv().await {
//!     println!("{}", e.to_json());
//!     # break;
//! }
//! speaker.shutdown(ShutdownOptions::default()).await;
//! # Ok(()) }
//! ```
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod advert;
pub mod bfd;
pub mod bmp;
pub mod config;
pub mod driver;
pub mod events;
pub mod health;
pub mod metrics;
pub mod pool;
pub mod router;
pub mod session;
pub mod speaker;

pub use advert::{DesiredSet, NextHop, RouteAttrs};
pub use events::SpeakerEvent;
pub use session::{PeerSettings, SessionBackend};
pub use speaker::{ShutdownOptions, Speaker, SpeakerError};
