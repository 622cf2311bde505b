//! The one-line-per-route text of `bgpdump -m`, so our output can be compared with
//! bgpdump's line by line.
//!
//! - `TABLE_DUMP2|time|B|peer|peer_as|prefix|as_path|origin|next_hop|local_pref|med|communities|AG or NAG|aggregator|`
//! - `BGP4MP|time|A|...same fields...` per announced prefix, `BGP4MP|time|W|peer|peer_as|prefix`
//!   per withdrawn one, `BGP4MP|time|STATE|peer|peer_as|old|new`; `BGP4MP_ET` records show
//!   `time.micros`.
//! - `TABLE_DUMP|...` for v1 records. OPEN, KEEPALIVE and NOTIFICATION print nothing.

use std::fmt::Write as _;
use std::net::IpAddr;

use bgp_wire::attr::{AsPath, AsSegmentType, Origin};
use bgp_wire::{Message, Nlri, PathAttribute};

use crate::record::*;

/// Formatter state: the last PEER_INDEX_TABLE seen.
#[derive(Debug, Default)]
pub struct BgpdumpFormat {
    peers: Option<PeerIndexTable>,
}

/// The AS path as bgpdump prints it: sequences space-separated, sets in braces.
pub fn as_path_string(p: &AsPath) -> String {
    let mut s = String::new();
    for seg in &p.segments {
        if !s.is_empty() {
            s.push(' ');
        }
        let asns: Vec<String> = seg.asns.iter().map(|a| a.to_string()).collect();
        match seg.kind {
            AsSegmentType::Sequence => s.push_str(&asns.join(" ")),
            AsSegmentType::Set => {
                let _ = write!(s, "{{{}}}", asns.join(","));
            }
            AsSegmentType::ConfedSequence => {
                let _ = write!(s, "({})", asns.join(" "));
            }
            AsSegmentType::ConfedSet => {
                let _ = write!(s, "[{}]", asns.join(","));
            }
        }
    }
    s
}

/// The attribute fields after the prefix: as_path|origin|next_hop|lp|med|communities|AG|aggregator|
fn attr_fields(attrs: &[PathAttribute], fallback_nh: Option<IpAddr>) -> String {
    let mut path = String::new();
    let mut origin = "";
    let mut nh: Option<IpAddr> = None;
    let mut mp_nh: Option<IpAddr> = None;
    let (mut lp, mut med) = (0u32, 0u32);
    let mut comm = String::new();
    let mut ag = "NAG";
    let mut aggr = String::new();
    for a in attrs {
        match a {
            PathAttribute::AsPath(p) => path = as_path_string(p),
            PathAttribute::Origin(o) => {
                origin = match o {
                    Origin::Igp => "IGP",
                    Origin::Egp => "EGP",
                    Origin::Incomplete => "INCOMPLETE",
                }
            }
            PathAttribute::NextHop(a) => nh = Some(IpAddr::V4(*a)),
            PathAttribute::MpReachNlri(r) => mp_nh = r.next_hop.addr(),
            PathAttribute::LocalPref(v) => lp = *v,
            PathAttribute::MultiExitDisc(v) => med = *v,
            PathAttribute::Communities(cs) => {
                comm = cs
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            PathAttribute::AtomicAggregate => ag = "AG",
            PathAttribute::Aggregator(g) => aggr = format!("{} {}", g.asn, g.addr),
            _ => {}
        }
    }
    let nh = mp_nh.or(nh).or(fallback_nh);
    let nh = nh.map(|a| a.to_string()).unwrap_or_default();
    format!("{path}|{origin}|{nh}|{lp}|{med}|{comm}|{ag}|{aggr}|")
}

impl BgpdumpFormat {
    /// A formatter.
    pub fn new() -> Self {
        Self::default()
    }

    /// The lines of one record (none for records bgpdump -m does not print).
    pub fn lines(&mut self, rec: &MrtRecord) -> Vec<String> {
        let mut out = Vec::new();
        let ts = match rec.microseconds {
            Some(us) => format!("{}.{:06}", rec.timestamp, us),
            None => rec.timestamp.to_string(),
        };
        match &rec.body {
            MrtBody::PeerIndexTable(p) => self.peers = Some(p.clone()),
            MrtBody::Rib(r) => {
                for e in &r.entries {
                    let (peer, asn) = match self
                        .peers
                        .as_ref()
                        .and_then(|t| t.peers.get(e.peer_index as usize))
                    {
                        Some(p) => (p.addr.to_string(), p.asn),
                        None => continue,
                    };
                    let (kind, pid) = if r.add_path() {
                        ("TABLE_DUMP2_AP", format!("{}|", e.path_id))
                    } else {
                        ("TABLE_DUMP2", String::new())
                    };
                    out.push(format!(
                        "{kind}|{ts}|B|{peer}|{asn}|{}|{pid}{}",
                        r.prefix,
                        attr_fields(&e.attributes, None)
                    ));
                }
            }
            MrtBody::TableDump(t) => out.push(format!(
                "TABLE_DUMP|{ts}|B|{}|{}|{}|{}",
                t.peer_addr,
                t.peer_as,
                t.prefix,
                attr_fields(&t.attributes, None)
            )),
            MrtBody::Bgp4mp(m) => {
                let kind = format!(
                    "BGP4MP{}{}{}",
                    if rec.microseconds.is_some() {
                        "_ET"
                    } else {
                        ""
                    },
                    if m.local() { "_LOCAL" } else { "" },
                    if m.add_path() { "_AP" } else { "" },
                );
                let head = format!("{kind}|{ts}");
                let peer = format!("{}|{}", m.peer_addr, m.peer_as);
                match &m.body {
                    Bgp4mpBody::StateChange(s) => {
                        out.push(format!("{head}|STATE|{peer}|{}|{}", s.old, s.new))
                    }
                    Bgp4mpBody::Message(msg) => {
                        if let Message::Update(u) = msg.as_ref() {
                            update_lines(&head, &peer, u, &mut out);
                        }
                    }
                    Bgp4mpBody::Undecodable { .. } => {}
                }
            }
            MrtBody::RibGeneric { .. } | MrtBody::Unknown { .. } => {}
        }
        out
    }
}

fn update_lines(head: &str, peer: &str, u: &bgp_wire::Update, out: &mut Vec<String>) {
    let mut withdrawn: Vec<&Nlri> = u.withdrawn.iter().collect();
    let mut announced: Vec<&Nlri> = u.nlri.iter().collect();
    for a in &u.attributes {
        match a {
            PathAttribute::MpUnreachNlri(r) => withdrawn.extend(r.withdrawn.prefixes().iter()),
            PathAttribute::MpReachNlri(r) => announced.extend(r.nlri.prefixes().iter()),
            _ => {}
        }
    }
    for n in withdrawn {
        match n.path_id {
            Some(id) => out.push(format!("{head}|W|{peer}|{}|{id}", n.prefix)),
            None => out.push(format!("{head}|W|{peer}|{}", n.prefix)),
        }
    }
    if !announced.is_empty() {
        let f = attr_fields(&u.attributes, None);
        for n in announced {
            match n.path_id {
                Some(id) => out.push(format!("{head}|A|{peer}|{}|{id}|{f}", n.prefix)),
                None => out.push(format!("{head}|A|{peer}|{}|{f}", n.prefix)),
            }
        }
    }
}
