//! NLRI: prefixes with an optional ADD-PATH path identifier.

use bytes::Bytes;
use ipnet::IpNet;

/// One route in an UPDATE: a prefix, with a path identifier when ADD-PATH is in use (RFC 7911).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Nlri {
    /// ADD-PATH path identifier, present iff the session context says so for this family.
    pub path_id: Option<u32>,
    /// The prefix, host bits zero.
    pub prefix: IpNet,
}

impl Nlri {
    /// An NLRI without path identifier.
    pub fn new(prefix: IpNet) -> Self {
        Nlri {
            path_id: None,
            prefix: prefix.trunc(),
        }
    }
    /// An NLRI with a path identifier.
    pub fn with_path_id(prefix: IpNet, path_id: u32) -> Self {
        Nlri {
            path_id: Some(path_id),
            prefix: prefix.trunc(),
        }
    }
}

impl From<IpNet> for Nlri {
    fn from(p: IpNet) -> Self {
        Nlri::new(p)
    }
}

/// The NLRI field of MP_REACH_NLRI / MP_UNREACH_NLRI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum MpNlri {
    /// IPv4 or IPv6 unicast/multicast prefixes, typed.
    Prefixes(Vec<Nlri>),
    /// Any other family, kept raw so it re-encodes unchanged.
    Raw(Bytes),
}

impl MpNlri {
    /// Typed prefixes, or an empty slice for raw NLRI.
    pub fn prefixes(&self) -> &[Nlri] {
        match self {
            MpNlri::Prefixes(p) => p,
            MpNlri::Raw(_) => &[],
        }
    }
    /// True when there is nothing in it (as in an End-of-RIB marker).
    pub fn is_empty(&self) -> bool {
        match self {
            MpNlri::Prefixes(p) => p.is_empty(),
            MpNlri::Raw(b) => b.is_empty(),
        }
    }
}
