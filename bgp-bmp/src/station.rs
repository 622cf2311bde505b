//! The receiving side of one BMP session, sans-I/O: it remembers each monitored peer's two
//! OPENs from its Peer Up message and decodes that peer's Route Monitoring UPDATEs with the
//! session context they imply (4-octet AS, ADD-PATH per family and direction, Extended
//! Messages), as a BMP station must: the same UPDATE bytes mean different things per session.

use std::collections::HashMap;
use std::net::IpAddr;

use bgp_wire::Decoded;
use bgp_wire::{MessageError, Open, SessionContext};
use bytes::Bytes;

use crate::message::*;

/// What a [`Station`] makes of one message.
#[derive(Debug, Clone)]
pub enum Event {
    /// The router introduced itself (Initiation).
    Initiated {
        /// sysName TLV, if sent.
        sys_name: Option<String>,
        /// sysDescr TLV, if sent.
        sys_descr: Option<String>,
        /// Free-form string TLVs.
        strings: Vec<String>,
    },
    /// The router ends the BMP session (Termination).
    Terminated {
        /// Reason code TLV, if sent.
        reason: Option<u16>,
        /// Free-form string TLVs.
        strings: Vec<String>,
    },
    /// A monitored session came up.
    PeerUp {
        /// Per-peer header.
        peer: PeerHeader,
        /// The router's local address and ports.
        local_address: IpAddr,
        /// Local TCP port.
        local_port: u16,
        /// Remote TCP port.
        remote_port: u16,
        /// The OPEN the router sent.
        sent_open: Box<Open>,
        /// The OPEN the router received.
        received_open: Box<Open>,
    },
    /// A monitored session went down; the station forgets the peer.
    PeerDown {
        /// Per-peer header.
        peer: PeerHeader,
        /// Why.
        reason: PeerDownReason,
    },
    /// Routes of a peer: the UPDATE decoded with that peer's session context.
    Route {
        /// Per-peer header (flags say pre/post policy, Adj-RIB-In/Out, Loc-RIB).
        peer: PeerHeader,
        /// The UPDATE and its RFC 7606 verdict.
        update: Box<Decoded>,
        /// False when no Peer Up was seen for this peer: then the context came from the
        /// header's flags only (no ADD-PATH).
        known_peer: bool,
    },
    /// Counters of a peer.
    Stats {
        /// Per-peer header.
        peer: PeerHeader,
        /// The statistics.
        stats: Vec<Stat>,
    },
    /// Mirrored messages of a peer.
    Mirror {
        /// Per-peer header.
        peer: PeerHeader,
        /// The mirroring TLVs.
        tlvs: Vec<Tlv>,
    },
}

/// Why a message could not be turned into an [`Event`]. The station stays usable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StationError {
    /// A Peer Up message whose OPEN PDU does not decode as an OPEN.
    #[error("peer {peer}: bad {which} OPEN: {error}")]
    BadOpen {
        /// The peer.
        peer: IpAddr,
        /// "sent" or "received".
        which: &'static str,
        /// The decoder's error.
        error: String,
    },
    /// A Route Monitoring PDU that does not decode as an UPDATE.
    #[error("peer {peer}: bad route monitoring PDU: {error}")]
    BadUpdate {
        /// The peer.
        peer: IpAddr,
        /// The decoder's error.
        error: MessageError,
    },
}

#[derive(Debug, Clone)]
struct PeerState {
    /// Context for UPDATEs the router received from the peer (Adj-RIB-In, Loc-RIB).
    rx: SessionContext,
    /// Context for UPDATEs the router sends the peer (Adj-RIB-Out, RFC 8671).
    tx: SessionContext,
}

/// One BMP session's state at the station: the monitored peers and their contexts.
///
/// ```
/// use bgp_bmp::{Event, Message, Station};
/// let mut st = Station::default();
/// let ev = st.handle(Message::initiation("r1", "FRRouting")).unwrap();
/// assert!(matches!(ev, Event::Initiated { sys_name: Some(n), .. } if n == "r1"));
/// ```
#[derive(Debug, Default)]
pub struct Station {
    peers: HashMap<PeerKey, PeerState>,
}

impl Station {
    /// Number of peers currently up.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Handles one message.
    pub fn handle(&mut self, msg: Message) -> Result<Event, StationError> {
        Ok(match msg {
            Message::Initiation(tlvs) => Event::Initiated {
                sys_name: find_str(&tlvs, tlv::SYS_NAME),
                sys_descr: find_str(&tlvs, tlv::SYS_DESCR),
                strings: strings(&tlvs),
            },
            Message::Termination(tlvs) => {
                self.peers.clear();
                Event::Terminated {
                    reason: tlvs
                        .iter()
                        .find(|t| t.kind == tlv::TERMINATION_REASON && t.value.len() == 2)
                        .map(|t| u16::from_be_bytes([t.value[0], t.value[1]])),
                    strings: strings(&tlvs),
                }
            }
            Message::PeerUp { peer, up } => {
                let sent = open_of(&up.sent_open, peer.address, "sent")?;
                let received = open_of(&up.received_open, peer.address, "received")?;
                let legacy = peer.is_legacy_as_path();
                let mut rx = SessionContext::negotiate(&sent, &received);
                let mut tx = SessionContext::negotiate(&received, &sent);
                rx.four_octet_as &= !legacy;
                tx.four_octet_as &= !legacy;
                self.peers.insert(peer.key(), PeerState { rx, tx });
                Event::PeerUp {
                    peer,
                    local_address: up.local_address,
                    local_port: up.local_port,
                    remote_port: up.remote_port,
                    sent_open: Box::new(sent),
                    received_open: Box::new(received),
                }
            }
            Message::PeerDown { peer, reason } => {
                self.peers.remove(&peer.key());
                Event::PeerDown { peer, reason }
            }
            Message::RouteMonitoring { peer, update } => {
                let state = self.peers.get(&peer.key());
                let known_peer = state.is_some();
                let ctx = match state {
                    Some(s) if peer.is_adj_rib_out() => s.tx.clone(),
                    Some(s) => s.rx.clone(),
                    None => SessionContext {
                        four_octet_as: !peer.is_legacy_as_path(),
                        extended_message: true,
                        ..Default::default()
                    },
                };
                let decoded = bgp_wire::decode_message(update, &ctx).map_err(|error| {
                    StationError::BadUpdate {
                        peer: peer.address,
                        error,
                    }
                })?;
                Event::Route {
                    peer,
                    update: Box::new(decoded),
                    known_peer,
                }
            }
            Message::StatisticsReport { peer, stats } => Event::Stats { peer, stats },
            Message::RouteMirroring { peer, tlvs } => Event::Mirror { peer, tlvs },
        })
    }
}

fn open_of(pdu: &Bytes, peer: IpAddr, which: &'static str) -> Result<Open, StationError> {
    match bgp_wire::decode_message(pdu.clone(), &SessionContext::default()) {
        Ok(Decoded {
            message: bgp_wire::Message::Open(o),
            ..
        }) => Ok(o),
        Ok(d) => Err(StationError::BadOpen {
            peer,
            which,
            error: format!("a {:?} message, not an OPEN", d.message.message_type()),
        }),
        Err(e) => Err(StationError::BadOpen {
            peer,
            which,
            error: e.to_string(),
        }),
    }
}

fn find_str(tlvs: &[Tlv], kind: u16) -> Option<String> {
    tlvs.iter().find(|t| t.kind == kind).map(Tlv::as_str)
}

fn strings(tlvs: &[Tlv]) -> Vec<String> {
    tlvs.iter()
        .filter(|t| t.kind == tlv::STRING)
        .map(Tlv::as_str)
        .collect()
}
