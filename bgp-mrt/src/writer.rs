//! Writers for routers and collectors: TABLE_DUMP_V2 snapshots of a `bgp_rib::Rib` and a
//! BGP4MP update log.
//!
//! Both build records in memory with [`crate::encode_record`]; the caller supplies time
//! (no clock is read here) and the [`std::io::Write`] to put them in.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};

use bgp_rib::{PathView, PeerId, Rib};
use bgp_wire::attr::{MpNextHop, MpReach};
use bgp_wire::nlri::MpNlri;
use bgp_wire::{Afi, AfiSafi, Message, PathAttribute};
use bytes::{Bytes, BytesMut};
use ipnet::IpNet;

use crate::encode::encode_record;
use crate::error::MrtEncodeError;
use crate::record::*;

/// What a snapshot wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    /// Peers in the PEER_INDEX_TABLE.
    pub peers: usize,
    /// RIB records (prefixes).
    pub prefixes: usize,
    /// RIB entries (paths).
    pub entries: usize,
}

/// The attribute list of a RIB entry for a path of `prefix`: bgp-rib's wire attributes,
/// plus MP_REACH_NLRI (abbreviated on encode) when the prefix or next hop is not IPv4.
pub fn rib_entry_attributes(prefix: &IpNet, attrs: &bgp_rib::Attrs) -> Vec<PathAttribute> {
    let mut v = attrs.to_wire();
    let v4_nh = matches!(attrs.next_hop, IpAddr::V4(_));
    if prefix.addr().is_ipv6() || !v4_nh {
        let af = if prefix.addr().is_ipv4() {
            AfiSafi::IPV4_UNICAST
        } else {
            AfiSafi::IPV6_UNICAST
        };
        let next_hop = match attrs.next_hop {
            IpAddr::V4(a) => MpNextHop::V4(a),
            IpAddr::V6(g) => MpNextHop::V6 {
                global: g,
                link_local: attrs.link_local(),
            },
        };
        // NEXT_HOP is for IPv4 NLRI only.
        v.retain(|a| !matches!(a, PathAttribute::NextHop(_)));
        let at = v.len().min(3);
        v.insert(
            at,
            PathAttribute::MpReachNlri(MpReach {
                af,
                next_hop,
                nlri: MpNlri::Prefixes(Vec::new()),
            }),
        );
    }
    v
}

/// The records of a TABLE_DUMP_V2 snapshot of every path in `rib` (Adj-RIB-In after import
/// policy, all peers): a PEER_INDEX_TABLE, then one RIB record per prefix, IPv4 first.
/// `timestamp` is the record time and the entries' originated time.
pub fn rib_snapshot_records(rib: &Rib, timestamp: u32) -> Vec<MrtRecord> {
    let cfg = rib.config();
    let mut peers: Vec<PeerEntry> = Vec::new();
    let mut index: BTreeMap<PeerId, u16> = BTreeMap::new();
    let mut prefixes = rib.best_prefixes();
    prefixes.sort_by_key(|p| (p.addr().is_ipv6(), *p));
    let mut out = Vec::with_capacity(prefixes.len() + 1);
    let mut seq = 0u32;
    let mut peer_of = |p: &PathView, peers: &mut Vec<PeerEntry>| -> u16 {
        *index.entry(p.peer).or_insert_with(|| {
            let (bgp_id, addr, asn) = match rib.peer_info(p.peer) {
                Some(i) => (i.router_id, i.addr, i.asn),
                None => (cfg.router_id, p.peer_addr, cfg.local_as),
            };
            peers.push(PeerEntry {
                bgp_id,
                addr,
                asn,
                as4: true,
            });
            (peers.len() - 1).min(u16::MAX as usize) as u16
        })
    };
    for prefix in prefixes {
        let paths = rib.paths(prefix);
        if paths.is_empty() {
            continue;
        }
        let entries = paths
            .iter()
            .map(|p| RibEntry {
                peer_index: peer_of(p, &mut peers),
                originated: timestamp,
                path_id: p.path_id,
                attributes: rib_entry_attributes(&prefix, &p.attrs),
            })
            .collect::<Vec<_>>();
        let add_path = entries.iter().any(|e| e.path_id != 0);
        let afi = if prefix.addr().is_ipv4() {
            Afi::Ipv4
        } else {
            Afi::Ipv6
        };
        let Some(subtype) = rib_subtype(afi, false, add_path) else {
            continue;
        };
        out.push(MrtRecord {
            timestamp,
            microseconds: None,
            body: MrtBody::Rib(RibRecord {
                subtype,
                sequence: seq,
                prefix,
                entries,
            }),
        });
        seq = seq.wrapping_add(1);
    }
    out.insert(
        0,
        MrtRecord {
            timestamp,
            microseconds: None,
            body: MrtBody::PeerIndexTable(PeerIndexTable {
                collector_id: cfg.router_id,
                view_name: Bytes::new(),
                peers,
            }),
        },
    );
    out
}

/// Write a TABLE_DUMP_V2 snapshot of `rib` (see [`rib_snapshot_records`]).
pub fn write_rib_snapshot<W: Write>(
    rib: &Rib,
    timestamp: u32,
    w: &mut W,
) -> std::io::Result<SnapshotStats> {
    let recs = rib_snapshot_records(rib, timestamp);
    let mut st = SnapshotStats::default();
    let mut buf = BytesMut::with_capacity(1 << 16);
    for r in &recs {
        match &r.body {
            MrtBody::PeerIndexTable(p) => st.peers = p.peers.len(),
            MrtBody::Rib(x) => {
                st.prefixes += 1;
                st.entries += x.entries.len();
            }
            _ => {}
        }
        if let Err(e) = encode_record(r, &mut buf) {
            // A path that cannot be written (e.g. an attribute list over 64 KiB) is left out.
            let _ = e;
        }
        if buf.len() > 1 << 20 {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&buf)?;
    Ok(st)
}

/// The session a BGP4MP record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionId {
    /// Peer AS.
    pub peer_as: u32,
    /// Local AS.
    pub local_as: u32,
    /// Peer address.
    pub peer_addr: IpAddr,
    /// Local address (unspecified of the peer's family when unknown).
    pub local_addr: IpAddr,
}

impl SessionId {
    fn local(&self) -> IpAddr {
        match (self.peer_addr, self.local_addr) {
            (IpAddr::V4(_), IpAddr::V6(_)) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            (IpAddr::V6(_), IpAddr::V4(_)) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
            (_, l) => l,
        }
    }
}

/// FSM state numbers of BGP4MP_STATE_CHANGE (RFC 6396 §4.4.1).
pub mod state {
    /// Idle.
    pub const IDLE: u16 = 1;
    /// Connect.
    pub const CONNECT: u16 = 2;
    /// Active.
    pub const ACTIVE: u16 = 3;
    /// OpenSent.
    pub const OPEN_SENT: u16 = 4;
    /// OpenConfirm.
    pub const OPEN_CONFIRM: u16 = 5;
    /// Established.
    pub const ESTABLISHED: u16 = 6;
}

/// A BGP4MP update log: BGP messages as MESSAGE_AS4 (MESSAGE_AS4_ADDPATH when asked) and
/// state changes as STATE_CHANGE_AS4, with microsecond timestamps (BGP4MP_ET) when
/// `extended_time` is set.
#[derive(Debug)]
pub struct UpdateLog<W: Write> {
    w: W,
    buf: BytesMut,
    /// Write BGP4MP_ET records.
    pub extended_time: bool,
    /// Records written.
    pub records: u64,
}

impl<W: Write> UpdateLog<W> {
    /// A log writing to `w`.
    pub fn new(w: W) -> Self {
        UpdateLog {
            w,
            buf: BytesMut::new(),
            extended_time: false,
            records: 0,
        }
    }

    /// The underlying writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.w
    }

    /// Flush the underlying writer.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }

    fn put(&mut self, secs: u32, micros: u32, m: Bgp4mp) -> std::io::Result<()> {
        let rec = MrtRecord {
            timestamp: secs,
            microseconds: self.extended_time.then_some(micros),
            body: MrtBody::Bgp4mp(m),
        };
        self.buf.clear();
        encode_record(&rec, &mut self.buf).map_err(|e: MrtEncodeError| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
        })?;
        self.w.write_all(&self.buf)?;
        self.records += 1;
        Ok(())
    }

    /// Log a BGP message received from (or, with `local`, sent to) the peer. `add_path`
    /// says whether the session carries path identifiers.
    pub fn message(
        &mut self,
        secs: u32,
        micros: u32,
        s: &SessionId,
        msg: &Message,
        add_path: bool,
        local: bool,
    ) -> std::io::Result<()> {
        let subtype = match (add_path, local) {
            (false, false) => bgp4mp::MESSAGE_AS4,
            (false, true) => bgp4mp::MESSAGE_AS4_LOCAL,
            (true, false) => bgp4mp::MESSAGE_AS4_ADDPATH,
            (true, true) => bgp4mp::MESSAGE_AS4_LOCAL_ADDPATH,
        };
        self.put(
            secs,
            micros,
            Bgp4mp {
                subtype,
                peer_as: s.peer_as,
                local_as: s.local_as,
                interface: 0,
                peer_addr: s.peer_addr,
                local_addr: s.local(),
                body: Bgp4mpBody::Message(Box::new(msg.clone())),
            },
        )
    }

    /// Log a state change (see [`state`]).
    pub fn state_change(
        &mut self,
        secs: u32,
        micros: u32,
        s: &SessionId,
        old: u16,
        new: u16,
    ) -> std::io::Result<()> {
        self.put(
            secs,
            micros,
            Bgp4mp {
                subtype: bgp4mp::STATE_CHANGE_AS4,
                peer_as: s.peer_as,
                local_as: s.local_as,
                interface: 0,
                peer_addr: s.peer_addr,
                local_addr: s.local(),
                body: Bgp4mpBody::StateChange(StateChange { old, new }),
            },
        )
    }
}
