//! Building our OPEN, validating the peer's (RFC 4271 §6.2) and negotiating capabilities.

use std::net::Ipv4Addr;

use bgp_wire::error::codes;
use bgp_wire::message::{AS_TRANS, AddPathMode, BgpRole};
use bgp_wire::{Afi, AfiSafi, Capability, Notification, Open, SessionContext};

use crate::config::SessionConfig;

/// The BGP version we speak.
pub const BGP_VERSION: u8 = 4;

/// What the two OPENs of a session agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The peer's AS number (from its 4-octet capability when present).
    pub peer_as: u32,
    /// The peer's BGP Identifier.
    pub peer_router_id: Ipv4Addr,
    /// Negotiated hold time in seconds: the smaller of the two proposals (0 = no keepalives).
    pub hold_time: u16,
    /// Keepalive interval in seconds (0 when the hold time is 0).
    pub keepalive: u16,
    /// Families both sides support (IPv4 unicast when the peer sent no Multiprotocol capability).
    pub families: Vec<AfiSafi>,
    /// ADD-PATH per family: what each direction does (we receive / we send path identifiers).
    pub add_path: Vec<(AfiSafi, AddPathMode)>,
    /// Both sides support 4-octet AS numbers.
    pub four_octet_as: bool,
    /// Both sides support Extended Messages.
    pub extended_message: bool,
    /// Extended next-hop tuples both sides support.
    pub extended_next_hop: Vec<(AfiSafi, Afi)>,
    /// Both sides support Route Refresh.
    pub route_refresh: bool,
    /// Both sides support Enhanced Route Refresh.
    pub enhanced_route_refresh: bool,
    /// The peer's Graceful Restart capability, if it sent one.
    pub peer_graceful_restart: Option<Capability>,
    /// Both sides advertised Graceful Restart with the Notification (N) bit (RFC 8538): a
    /// NOTIFICATION or a hold-timer expiry then keeps graceful restart going, and a Cease we
    /// send for reasons that must flush goes out as a Hard Reset (6/9).
    pub graceful_notification: bool,
    /// The BGP Role the peer announced (RFC 9234), checked against ours when we have one.
    pub peer_role: Option<BgpRole>,
    /// The peer's whole capability list, as received.
    pub peer_capabilities: Vec<Capability>,
    /// The context to decode received and encode sent messages with.
    pub context: SessionContext,
}

impl Negotiated {
    /// Whether the peer sends us path identifiers for this family.
    pub fn receives_path_id(&self, af: AfiSafi) -> bool {
        self.context.receives_path_id(af)
    }
    /// Whether we send path identifiers for this family.
    pub fn sends_path_id(&self, af: AfiSafi) -> bool {
        self.context.sends_path_id(af)
    }
}

/// Our OPEN message for a configuration.
pub fn build_open(cfg: &SessionConfig) -> Open {
    let mut caps = Vec::new();
    for af in &cfg.families {
        caps.push(Capability::Multiprotocol(*af));
    }
    if cfg.route_refresh {
        caps.push(Capability::RouteRefresh);
    }
    if cfg.enhanced_route_refresh {
        caps.push(Capability::EnhancedRouteRefresh);
    }
    if cfg.extended_message {
        caps.push(Capability::ExtendedMessage);
    }
    if !cfg.extended_next_hop.is_empty() {
        caps.push(Capability::ExtendedNextHop(cfg.extended_next_hop.clone()));
    }
    if let Some(gr) = &cfg.graceful_restart {
        caps.push(Capability::GracefulRestart {
            restart_state: gr.restart_state,
            notification: gr.notification,
            restart_time: gr.restart_time.min(4095),
            families: gr.families.clone(),
        });
    }
    if cfg.four_octet_as {
        caps.push(Capability::FourOctetAs(cfg.local_as));
    }
    if let Some(r) = cfg.role.filter(|_| !cfg.is_ibgp()) {
        caps.push(Capability::Role(r));
    }
    if !cfg.add_path.is_empty() {
        caps.push(Capability::AddPath(cfg.add_path.clone()));
    }
    Open {
        version: BGP_VERSION,
        my_as: if cfg.four_octet_as {
            Open::my_as_field(cfg.local_as)
        } else {
            // Without the capability a 4-octet AS cannot be told; AS_TRANS is the only honest value.
            u16::try_from(cfg.local_as).unwrap_or(AS_TRANS)
        },
        hold_time: cfg.hold_time,
        bgp_id: cfg.router_id,
        capabilities: caps,
        other_params: Vec::new(),
    }
}

fn open_error(subcode: u8) -> Notification {
    Notification::new(codes::OPEN_MESSAGE_ERROR, subcode)
}

fn peer_has(open: &Open, required: &Capability) -> bool {
    open.capabilities.iter().any(|c| match (required, c) {
        (Capability::Multiprotocol(a), Capability::Multiprotocol(b)) => a == b,
        (Capability::AddPath(want), Capability::AddPath(have)) => want
            .iter()
            .all(|(af, _)| have.iter().any(|(haf, _)| haf == af)),
        (Capability::ExtendedNextHop(want), Capability::ExtendedNextHop(have)) => {
            want.iter().all(|t| have.contains(t))
        }
        (a, b) => a.code() == b.code(),
    })
}

/// Check the peer's OPEN against our configuration (RFC 4271 §6.2, RFC 6793, RFC 5492) and
/// negotiate the session. On error, the NOTIFICATION to send.
pub fn validate_open(cfg: &SessionConfig, open: &Open) -> Result<Negotiated, Notification> {
    // Version (2/1): the data is the largest version we support, as a 2-octet number.
    if open.version != BGP_VERSION {
        return Err(Notification::with_data(
            codes::OPEN_MESSAGE_ERROR,
            codes::UNSUPPORTED_VERSION_NUMBER,
            vec![0, BGP_VERSION],
        ));
    }
    // Optional parameters other than Capabilities (2/4).
    if !open.other_params.is_empty() {
        return Err(open_error(codes::UNSUPPORTED_OPTIONAL_PARAMETER));
    }
    // Peer AS (2/2), RFC 6793: with the 4-octet capability the capability carries the AS and
    // My AS must be AS_TRANS when the AS does not fit 2 octets.
    let four_cap = open.capabilities.iter().find_map(|c| match c {
        Capability::FourOctetAs(a) => Some(*a),
        _ => None,
    });
    let peer_as = match four_cap {
        Some(a) => {
            let consistent = match u16::try_from(a) {
                Ok(two) => open.my_as == two || open.my_as == AS_TRANS,
                Err(_) => open.my_as == AS_TRANS,
            };
            if !consistent {
                return Err(open_error(codes::BAD_PEER_AS));
            }
            a
        }
        None => u32::from(open.my_as),
    };
    if peer_as != cfg.peer_as || peer_as == 0 {
        return Err(open_error(codes::BAD_PEER_AS));
    }
    // Hold time (2/6): 0 or at least 3 seconds.
    if open.hold_time == 1 || open.hold_time == 2 {
        return Err(open_error(codes::UNACCEPTABLE_HOLD_TIME));
    }
    // Our configured minimum: below it (0 included) is unacceptable too.
    if cfg.min_hold_time > 0 && open.hold_time < cfg.min_hold_time {
        return Err(open_error(codes::UNACCEPTABLE_HOLD_TIME));
    }
    // BGP Identifier (2/3): not zero; for iBGP not ours (RFC 6286).
    if open.bgp_id.is_unspecified() || (cfg.is_ibgp() && open.bgp_id == cfg.router_id) {
        return Err(open_error(codes::BAD_BGP_IDENTIFIER));
    }
    // Required capabilities (2/7 with the capability as data).
    for req in &cfg.required_capabilities {
        if !peer_has(open, req) {
            // The data is the capability as on the wire; one that cannot be encoded (longer
            // than a capability may be) is reported without data.
            return Err(
                Notification::unsupported_capability(std::slice::from_ref(req)).unwrap_or_else(
                    |_| Notification::new(codes::OPEN_MESSAGE_ERROR, codes::UNSUPPORTED_CAPABILITY),
                ),
            );
        }
    }
    // BGP Role (2/11, RFC 9234).
    let peer_role = crate::role::check_role(cfg, open)?;
    let mut n = negotiate(cfg, open, peer_as);
    n.peer_role = peer_role;
    Ok(n)
}

fn negotiate(cfg: &SessionConfig, open: &Open, peer_as: u32) -> Negotiated {
    let caps = &open.capabilities;
    let peer_mp: Vec<AfiSafi> = caps
        .iter()
        .filter_map(|c| match c {
            Capability::Multiprotocol(af) => Some(*af),
            _ => None,
        })
        .collect();
    // RFC 4760: a peer without any Multiprotocol capability speaks IPv4 unicast only.
    let peer_families = if peer_mp.is_empty() {
        vec![AfiSafi::IPV4_UNICAST]
    } else {
        peer_mp
    };
    let families: Vec<AfiSafi> = cfg
        .families
        .iter()
        .copied()
        .filter(|f| peer_families.contains(f))
        .collect();
    let has = |code: u8| caps.iter().any(|c| c.code() == code);
    let four_octet_as = cfg.four_octet_as && has(65);
    let extended_message = cfg.extended_message && has(6);
    let route_refresh = cfg.route_refresh && has(2);
    let enhanced_route_refresh = cfg.enhanced_route_refresh && has(70);
    let peer_enh: Vec<(AfiSafi, Afi)> = caps
        .iter()
        .filter_map(|c| match c {
            Capability::ExtendedNextHop(t) => Some(t.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let extended_next_hop: Vec<(AfiSafi, Afi)> = cfg
        .extended_next_hop
        .iter()
        .copied()
        .filter(|t| peer_enh.contains(t))
        .collect();
    let peer_ap: Vec<(AfiSafi, AddPathMode)> = caps
        .iter()
        .filter_map(|c| match c {
            Capability::AddPath(t) => Some(t.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let mut add_path = Vec::new();
    let mut add_path_receive = Vec::new();
    let mut add_path_send = Vec::new();
    for (af, ours) in &cfg.add_path {
        if !families.contains(af) {
            continue;
        }
        let Some((_, theirs)) = peer_ap.iter().find(|(paf, _)| paf == af) else {
            continue;
        };
        let recv = ours.receives() && theirs.sends();
        let send = ours.sends() && theirs.receives();
        let mode = match (recv, send) {
            (true, true) => AddPathMode::Both,
            (true, false) => AddPathMode::Receive,
            (false, true) => AddPathMode::Send,
            (false, false) => continue,
        };
        if recv {
            add_path_receive.push(*af);
        }
        if send {
            add_path_send.push(*af);
        }
        add_path.push((*af, mode));
    }
    let hold_time = cfg.hold_time.min(open.hold_time);
    let keepalive = if hold_time == 0 {
        0
    } else {
        let third = (hold_time / 3).max(1);
        cfg.keepalive.map_or(third, |k| k.clamp(1, third))
    };
    let peer_graceful_restart = caps
        .iter()
        .find(|c| matches!(c, Capability::GracefulRestart { .. }))
        .cloned();
    let graceful_notification = cfg
        .graceful_restart
        .as_ref()
        .is_some_and(|g| g.notification)
        && matches!(
            peer_graceful_restart,
            Some(Capability::GracefulRestart {
                notification: true,
                ..
            })
        );
    let context = SessionContext {
        four_octet_as,
        add_path_receive,
        add_path_send,
        extended_message,
        extended_next_hop: extended_next_hop.iter().map(|(af, _)| *af).collect(),
    };
    Negotiated {
        peer_as,
        peer_router_id: open.bgp_id,
        hold_time,
        keepalive,
        families,
        add_path,
        four_octet_as,
        extended_message,
        extended_next_hop,
        route_refresh,
        enhanced_route_refresh,
        peer_graceful_restart,
        graceful_notification,
        peer_role: None,
        peer_capabilities: caps.clone(),
        context,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SessionConfig {
        SessionConfig::new(65001, 65002, Ipv4Addr::new(10, 0, 0, 1))
    }
    fn peer_open() -> Open {
        let mut c = SessionConfig::new(65002, 65001, Ipv4Addr::new(10, 0, 0, 2));
        c.hold_time = 30;
        build_open(&c)
    }

    #[test]
    fn good_open_negotiates_minimum_hold_and_third_keepalive() {
        let n = validate_open(&cfg(), &peer_open()).unwrap();
        assert_eq!(n.hold_time, 30);
        assert_eq!(n.keepalive, 10);
        assert_eq!(n.peer_as, 65002);
        assert!(n.four_octet_as && n.route_refresh);
        assert_eq!(n.families, vec![AfiSafi::IPV4_UNICAST]);
        assert!(n.context.four_octet_as);
    }

    #[test]
    fn version_error_carries_our_version() {
        let mut o = peer_open();
        o.version = 3;
        let n = validate_open(&cfg(), &o).unwrap_err();
        assert_eq!((n.code, n.subcode), (2, 1));
        assert_eq!(&n.data[..], &[0, 4]);
    }

    #[test]
    fn bad_peer_as() {
        let mut c = cfg();
        c.peer_as = 65003;
        assert_eq!(validate_open(&c, &peer_open()).unwrap_err().subcode, 2);
    }

    #[test]
    fn four_octet_as_with_as_trans() {
        let mut c = cfg();
        c.peer_as = 4_200_000_000;
        let peer = SessionConfig::new(4_200_000_000, 65001, Ipv4Addr::new(10, 0, 0, 2));
        let o = build_open(&peer);
        assert_eq!(o.my_as, AS_TRANS);
        assert_eq!(validate_open(&c, &o).unwrap().peer_as, 4_200_000_000);
        // A my_as that contradicts the capability is a bad peer AS.
        let mut bad = o.clone();
        bad.my_as = 65002;
        assert_eq!(validate_open(&c, &bad).unwrap_err().subcode, 2);
        // AS_TRANS without the capability is AS 23456, not our peer.
        let mut nocap = o;
        nocap.capabilities.retain(|c| c.code() != 65);
        assert_eq!(validate_open(&c, &nocap).unwrap_err().subcode, 2);
    }

    #[test]
    fn hold_time_one_or_two_is_unacceptable_zero_is_fine() {
        for (h, ok) in [(0u16, true), (1, false), (2, false), (3, true)] {
            let mut o = peer_open();
            o.hold_time = h;
            let r = validate_open(&cfg(), &o);
            assert_eq!(r.is_ok(), ok, "hold {h}");
            if let Err(n) = &r {
                assert_eq!((n.code, n.subcode), (2, 6));
            }
            if let Ok(n) = &r {
                assert_eq!(n.hold_time, h);
                if h == 0 {
                    assert_eq!(n.keepalive, 0);
                } else {
                    assert_eq!(n.keepalive, 1);
                }
            }
        }
    }

    #[test]
    fn bgp_identifier_checks() {
        let mut o = peer_open();
        o.bgp_id = Ipv4Addr::UNSPECIFIED;
        assert_eq!(validate_open(&cfg(), &o).unwrap_err().subcode, 3);
        // Same id as ours: fine for eBGP (RFC 6286), refused for iBGP.
        let mut o = peer_open();
        o.bgp_id = cfg().router_id;
        assert!(validate_open(&cfg(), &o).is_ok());
        let mut ib = cfg();
        ib.peer_as = 65001;
        let mut o = build_open(&SessionConfig::new(65001, 65001, ib.router_id));
        assert_eq!(validate_open(&ib, &o).unwrap_err().subcode, 3);
        o.bgp_id = Ipv4Addr::new(10, 0, 0, 9);
        assert!(validate_open(&ib, &o).is_ok());
    }

    #[test]
    fn other_optional_parameters_are_unsupported() {
        let mut o = peer_open();
        o.other_params.push((1, bytes::Bytes::from_static(&[1, 2])));
        assert_eq!(validate_open(&cfg(), &o).unwrap_err().subcode, 4);
    }

    #[test]
    fn missing_required_capability_is_2_7_with_the_capability() {
        let mut c = cfg();
        c.required_capabilities = vec![Capability::Multiprotocol(AfiSafi::IPV6_UNICAST)];
        let n = validate_open(&c, &peer_open()).unwrap_err();
        assert_eq!((n.code, n.subcode), (2, 7));
        assert_eq!(&n.data[..], &[1, 4, 0, 2, 0, 1]);
        c.required_capabilities = vec![Capability::ExtendedMessage];
        let n = validate_open(&c, &peer_open()).unwrap_err();
        assert_eq!(&n.data[..], &[6, 0]);
        c.required_capabilities = vec![Capability::RouteRefresh];
        assert!(validate_open(&c, &peer_open()).is_ok());
    }

    #[test]
    fn add_path_directions_and_families() {
        let v6 = AfiSafi::IPV6_UNICAST;
        let mut a = cfg();
        a.families = vec![AfiSafi::IPV4_UNICAST, v6];
        a.add_path = vec![
            (AfiSafi::IPV4_UNICAST, AddPathMode::Both),
            (v6, AddPathMode::Send),
        ];
        a.extended_next_hop = vec![(AfiSafi::IPV4_UNICAST, Afi::Ipv6)];
        a.extended_message = true;
        let mut b = SessionConfig::new(65002, 65001, Ipv4Addr::new(10, 0, 0, 2));
        b.families = vec![AfiSafi::IPV4_UNICAST, v6];
        b.add_path = vec![
            (AfiSafi::IPV4_UNICAST, AddPathMode::Receive),
            (v6, AddPathMode::Both),
        ];
        b.extended_next_hop = vec![(AfiSafi::IPV4_UNICAST, Afi::Ipv6)];
        let n = validate_open(&a, &build_open(&b)).unwrap();
        assert_eq!(n.families, vec![AfiSafi::IPV4_UNICAST, v6]);
        assert_eq!(n.context.add_path_send, vec![AfiSafi::IPV4_UNICAST, v6]);
        assert!(n.context.add_path_receive.is_empty());
        assert_eq!(
            n.extended_next_hop,
            vec![(AfiSafi::IPV4_UNICAST, Afi::Ipv6)]
        );
        assert_eq!(n.context.extended_next_hop, vec![AfiSafi::IPV4_UNICAST]);
        assert!(!n.extended_message, "only one side offered it");
        // From b's point of view the directions mirror.
        let m = validate_open(&b, &build_open(&a)).unwrap();
        assert_eq!(m.context.add_path_receive, vec![AfiSafi::IPV4_UNICAST, v6]);
        assert!(m.context.add_path_send.is_empty());
    }

    #[test]
    fn no_multiprotocol_means_ipv4_unicast() {
        let mut o = peer_open();
        o.capabilities.retain(|c| c.code() != 1);
        let mut c = cfg();
        c.families = vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST];
        assert_eq!(
            validate_open(&c, &o).unwrap().families,
            vec![AfiSafi::IPV4_UNICAST]
        );
    }
}
