//! What a session negotiated, which changes how the same bytes decode.

use crate::afi::AfiSafi;

/// The negotiated parameters that decoding and encoding depend on.
///
/// A session has one context per direction: decoding received messages uses
/// [`SessionContext::add_path_receive`], encoding messages to send uses
/// [`SessionContext::add_path_send`]. Build it from the two OPENs (bgp-fsm does this).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionContext {
    /// Both sides advertised the 4-octet AS capability (RFC 6793): AS_PATH and
    /// AGGREGATOR carry 4-octet AS numbers.
    pub four_octet_as: bool,
    /// AFI/SAFIs for which received NLRI carry ADD-PATH path identifiers (RFC 7911).
    pub add_path_receive: Vec<AfiSafi>,
    /// AFI/SAFIs for which NLRI we send carry ADD-PATH path identifiers.
    pub add_path_send: Vec<AfiSafi>,
    /// Extended Messages (RFC 8654) negotiated: messages up to 65535 octets.
    pub extended_message: bool,
    /// AFI/SAFIs for which an IPv6 next hop may be used with IPv4 NLRI (RFC 8950).
    pub extended_next_hop: Vec<AfiSafi>,
}

impl SessionContext {
    /// The context of a session that negotiated modern defaults: 4-octet AS, nothing else.
    pub fn modern() -> Self {
        SessionContext {
            four_octet_as: true,
            ..Default::default()
        }
    }
    /// Largest message allowed in this session.
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            crate::MAX_EXTENDED_MESSAGE_LEN
        } else {
            crate::MAX_MESSAGE_LEN
        }
    }
    /// Whether received NLRI of this family carry path identifiers.
    pub fn receives_path_id(&self, af: AfiSafi) -> bool {
        self.add_path_receive.contains(&af)
    }
    /// Whether NLRI of this family we send carry path identifiers.
    pub fn sends_path_id(&self, af: AfiSafi) -> bool {
        self.add_path_send.contains(&af)
    }
}
