//! # kube-bgp
//!
//! The speaker runtime that ties bgp-wire, bgp-fsm and bgp-rib together.
