//! # bgp-rib
//!
//! Adj-RIB-In, Loc-RIB, Adj-RIB-Out, the decision process and ECMP multipath.
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
