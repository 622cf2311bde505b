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

impl SessionContext {
    /// The context negotiated by our OPEN (`local`) and the peer's (`remote`):
    /// 4-octet AS and Extended Messages when both advertise them, ADD-PATH receive for
    /// families we can receive and the peer can send (and send the other way round),
    /// extended next hop (IPv6 next hop) for families both list.
    ///
    /// ```
    /// use bgp_wire::message::{AddPathMode, Capability, Open};
    /// use bgp_wire::{AfiSafi, SessionContext};
    /// let open = |caps| Open { version: 4, my_as: 64512, hold_time: 9,
    ///     bgp_id: "10.0.0.1".parse().unwrap(), capabilities: caps, other_params: vec![] };
    /// let local = open(vec![Capability::FourOctetAs(64512),
    ///     Capability::AddPath(vec![(AfiSafi::IPV4_UNICAST, AddPathMode::Both)])]);
    /// let remote = open(vec![Capability::FourOctetAs(64512),
    ///     Capability::AddPath(vec![(AfiSafi::IPV4_UNICAST, AddPathMode::Send)])]);
    /// let ctx = SessionContext::negotiate(&local, &remote);
    /// assert!(ctx.four_octet_as);
    /// assert_eq!(ctx.add_path_receive, vec![AfiSafi::IPV4_UNICAST]);
    /// assert!(ctx.add_path_send.is_empty());
    /// ```
    pub fn negotiate(local: &crate::message::Open, remote: &crate::message::Open) -> Self {
        use crate::message::Capability as C;
        let has = |o: &crate::message::Open, f: &dyn Fn(&C) -> bool| o.capabilities.iter().any(f);
        let add_path = |o: &crate::message::Open| -> Vec<(AfiSafi, crate::message::AddPathMode)> {
            o.capabilities
                .iter()
                .filter_map(|c| match c {
                    C::AddPath(v) => Some(v.iter().copied()),
                    _ => None,
                })
                .flatten()
                .collect()
        };
        let (la, ra) = (add_path(local), add_path(remote));
        let mode = |v: &[(AfiSafi, crate::message::AddPathMode)], af: AfiSafi| {
            v.iter().find(|(a, _)| *a == af).map(|(_, m)| *m)
        };
        let mut add_path_receive = Vec::new();
        let mut add_path_send = Vec::new();
        for (af, m) in &la {
            if let Some(r) = mode(&ra, *af) {
                if m.receives() && r.sends() && !add_path_receive.contains(af) {
                    add_path_receive.push(*af);
                }
                if m.sends() && r.receives() && !add_path_send.contains(af) {
                    add_path_send.push(*af);
                }
            }
        }
        let enh = |o: &crate::message::Open| -> Vec<AfiSafi> {
            o.capabilities
                .iter()
                .filter_map(|c| match c {
                    C::ExtendedNextHop(v) => Some(
                        v.iter()
                            .filter(|(_, nh)| *nh == crate::afi::Afi::Ipv6)
                            .map(|(af, _)| *af),
                    ),
                    _ => None,
                })
                .flatten()
                .collect()
        };
        let (le, re) = (enh(local), enh(remote));
        let mut extended_next_hop: Vec<AfiSafi> =
            le.into_iter().filter(|af| re.contains(af)).collect();
        extended_next_hop.dedup();
        SessionContext {
            four_octet_as: has(local, &|c| matches!(c, C::FourOctetAs(_)))
                && has(remote, &|c| matches!(c, C::FourOctetAs(_))),
            add_path_receive,
            add_path_send,
            extended_message: has(local, &|c| matches!(c, C::ExtendedMessage))
                && has(remote, &|c| matches!(c, C::ExtendedMessage)),
            extended_next_hop,
        }
    }
}
