//! # bgp-rib
//!
//! Adj-RIB-In, Loc-RIB, Adj-RIB-Out, the decision process and ECMP multipath, with no I/O and no
//! clock (time is an input).
//!
//! - [`Rib`] stores every received path (after import policy) per prefix, runs the decision
//!   process ([`decision`]) on each change and queues [`Delta`]s for a FIB writer or an
//!   Adj-RIB-Out.
//! - [`attrs::Interner`] shares identical attribute sets; [`prefix::PrefixMap`] gives compact
//!   prefix keys and longest-prefix match.
//! - [`export::AdjRibOut`] applies RFC 4271 / RFC 4456 export rules and packs UPDATEs.
//!
//! ```
//! use bgp_rib::{Attrs, DecisionConfig, PeerInfo, Reason, Rib};
//! let cfg = DecisionConfig::new(65000, "10.0.0.1".parse().unwrap());
//! let mut rib = Rib::new(cfg);
//! let a = rib.add_peer(PeerInfo::new("10.0.0.2".parse().unwrap(), 65001, "2.2.2.2".parse().unwrap(), 65000));
//! let b = rib.add_peer(PeerInfo::new("10.0.0.3".parse().unwrap(), 65002, "3.3.3.3".parse().unwrap(), 65000));
//! let p = "203.0.113.0/24".parse().unwrap();
//! let mut x = Attrs::new("10.0.0.2".parse().unwrap());
//! x.local_pref = Some(200);
//! rib.announce(a, p, 0, x).unwrap();
//! rib.announce(b, p, 0, Attrs::new("10.0.0.3".parse().unwrap())).unwrap();
//! let r = rib.route(p).unwrap();
//! assert_eq!(r.best.peer, a);
//! assert_eq!(r.reason, Reason::LocalPref);
//! ```
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![forbid(unsafe_code)]

mod aspath;
pub mod attrs;
pub mod decision;
pub mod export;
pub mod policy;
pub mod prefix;
pub mod rib;
pub mod role;

pub use attrs::{Attrs, Interner};
pub use decision::{DecisionConfig, NextHopResolver, PeerInfo, Reason, WeightedNextHop};
pub use rib::{
    Delta, DeltaKind, PathView, PeerId, Rib, RibError, RouteView, UpdateSummary, Verdict,
};
