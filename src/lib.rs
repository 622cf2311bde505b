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
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod advert;
pub mod config;
pub mod driver;
pub mod events;
pub mod health;
pub mod metrics;
pub mod pool;
pub mod session;
pub mod speaker;

pub use advert::{DesiredSet, NextHop, RouteAttrs};
pub use events::SpeakerEvent;
pub use session::{PeerSettings, SessionBackend};
pub use speaker::{ShutdownOptions, Speaker, SpeakerError};
