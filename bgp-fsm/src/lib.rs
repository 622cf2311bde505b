//! # bgp-fsm
//!
//! The RFC 4271 §8 BGP session state machine, sans-I/O.
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
