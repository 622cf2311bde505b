//! The session context a fuzz input's first octet selects (shared by the wire targets, so one
//! seed corpus means the same thing to each): bit 0 4-octet AS, bit 1 ADD-PATH for IPv4
//! unicast, bit 2 ADD-PATH for IPv6 unicast (both directions), bit 3 Extended Messages,
//! bit 4 RFC 8950 next hops for IPv4 unicast.
use bgp_wire::{AfiSafi, SessionContext};

pub fn context(bits: u8) -> SessionContext {
    let mut ap = Vec::new();
    if bits & 2 != 0 {
        ap.push(AfiSafi::IPV4_UNICAST);
    }
    if bits & 4 != 0 {
        ap.push(AfiSafi::IPV6_UNICAST);
    }
    SessionContext {
        four_octet_as: bits & 1 != 0,
        add_path_receive: ap.clone(),
        add_path_send: ap,
        extended_message: bits & 8 != 0,
        extended_next_hop: if bits & 16 != 0 {
            vec![AfiSafi::IPV4_UNICAST]
        } else {
            vec![]
        },
    }
}
