//! What the router prints: JSON lines (sessions and Loc-RIB changes) and `--stats` lines,
//! written by hand into one buffered writer (no `serde_json::Value` and no syscall per
//! route; the buffer is flushed once per batch of changes).
//!
//! Line formats (one JSON object a line):
//! - `{"type":"session","peer":ADDR,"state":"established","peer_as":N,"router_id":ID}`
//! - `{"type":"session","peer":ADDR,"state":"down","reason":R,"graceful_restart":B}`
//! - `{"type":"session","peer":ADDR,"event":"max_prefix","family":"1/1","count":C,"limit":N}`
//! - `{"type":"route","prefix":P,"event":"best_changed"|"multipath_changed"|"withdrawn",
//!   "best":{...},"nexthops":[{"addr":A,"weight":W}],"multipath":[peer addrs],"reason":R}`
//! - `{"type":"stats","routes":N,"paths":M,"peers":P,"established":E,"elapsed_ms":T,
//!   "unix_ms":U}`

use std::io::{self, Write};
use std::time::{Duration, Instant};

use bgp_rib::RouteView;
use bgp_wire::attr::Origin;
use ipnet::IpNet;

/// Whether Loc-RIB changes are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputMode {
    /// Nothing per route (sessions and stats lines are still printed).
    None,
    /// One JSON line per Loc-RIB change.
    #[default]
    Json,
}

impl std::str::FromStr for OutputMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(OutputMode::None),
            "json" => Ok(OutputMode::Json),
            _ => Err(format!("unknown output mode {s:?} (none|json)")),
        }
    }
}

/// The kind of a Loc-RIB change line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteEvent {
    /// A new best path (or a new route).
    BestChanged,
    /// Same best path, another multipath set.
    MultipathChanged,
    /// The prefix has no route any more.
    Withdrawn,
}

impl RouteEvent {
    /// The name used in the JSON line.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteEvent::BestChanged => "best_changed",
            RouteEvent::MultipathChanged => "multipath_changed",
            RouteEvent::Withdrawn => "withdrawn",
        }
    }
}

fn origin_str(o: Origin) -> &'static str {
    match o {
        Origin::Igp => "igp",
        Origin::Egp => "egp",
        Origin::Incomplete => "incomplete",
    }
}

/// Write one route line (without its newline handling beyond the trailing `\n`).
///
/// ```
/// use kube_bgp::router::output::{write_withdrawn, RouteEvent};
/// let mut v = Vec::new();
/// write_withdrawn(&mut v, "10.0.0.0/8".parse().unwrap()).unwrap();
/// let j: serde_json::Value = serde_json::from_slice(&v).unwrap();
/// assert_eq!(j["event"], "withdrawn");
/// ```
pub fn write_route<W: Write>(w: &mut W, r: &RouteView, kind: RouteEvent) -> io::Result<()> {
    let a = &r.best.attrs;
    write!(
        w,
        "{{\"type\":\"route\",\"prefix\":\"{}\",\"event\":\"{}\",\"best\":{{\"peer\":\"{}\",\"next_hop\":\"{}\",\"as_path\":[",
        r.prefix,
        kind.as_str(),
        r.best.peer_addr,
        a.next_hop
    )?;
    let mut first = true;
    for asn in a.as_path.segments.iter().flat_map(|s| s.asns.iter()) {
        if !first {
            w.write_all(b",")?;
        }
        first = false;
        write!(w, "{asn}")?;
    }
    w.write_all(b"],\"local_pref\":")?;
    opt(w, a.local_pref)?;
    w.write_all(b",\"med\":")?;
    opt(w, a.med)?;
    write!(
        w,
        ",\"origin\":\"{}\",\"stale\":{}}},\"multipath\":[",
        origin_str(a.origin),
        r.best.stale
    )?;
    for (i, m) in r.multipath.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write!(w, "\"{}\"", m.peer_addr)?;
    }
    w.write_all(b"],\"nexthops\":[")?;
    for (i, n) in r.next_hops.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write!(w, "{{\"addr\":\"{}\",\"weight\":{}}}", n.addr, n.weight)?;
    }
    writeln!(w, "],\"reason\":\"{}\"}}", r.reason.as_str())
}

/// Write the line of a prefix that has no route any more.
pub fn write_withdrawn<W: Write>(w: &mut W, prefix: IpNet) -> io::Result<()> {
    writeln!(
        w,
        "{{\"type\":\"route\",\"prefix\":\"{prefix}\",\"event\":\"withdrawn\"}}"
    )
}

fn opt<W: Write>(w: &mut W, v: Option<u32>) -> io::Result<()> {
    match v {
        Some(v) => write!(w, "{v}"),
        None => w.write_all(b"null"),
    }
}

/// Counters printed by `--stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Prefixes in the Loc-RIB.
    pub routes: usize,
    /// Paths in the Adj-RIBs-In (after import policy).
    pub paths: usize,
    /// Configured neighbours.
    pub peers: usize,
    /// Neighbours in Established.
    pub established: usize,
}

/// Rate limiter of the `--stats` line: printed when the route count changed, at most every
/// `interval`, and once more when it settles.
#[derive(Debug)]
pub struct StatsPrinter {
    interval: Duration,
    start: Instant,
    last_print: Option<Instant>,
    printed: Option<Stats>,
}

impl StatsPrinter {
    /// A printer measuring elapsed time from `start`.
    pub fn new(start: Instant, interval: Duration) -> Self {
        StatsPrinter {
            interval,
            start,
            last_print: None,
            printed: None,
        }
    }
    /// Whether a line may be printed at `now` (the interval has passed since the last one):
    /// check this before computing [`Stats`], which may cost a walk over the RIB.
    pub fn ready(&self, now: Instant) -> bool {
        self.last_print
            .is_none_or(|t| now.duration_since(t) >= self.interval)
    }
    /// Whether `s` should be printed at `now` (and if so, records it as printed).
    pub fn due(&mut self, s: Stats, now: Instant) -> bool {
        if self.printed == Some(s) {
            return false;
        }
        if let Some(t) = self.last_print
            && now.duration_since(t) < self.interval
        {
            return false;
        }
        self.printed = Some(s);
        self.last_print = Some(now);
        true
    }
    /// Write the stats line.
    pub fn write<W: Write>(&self, w: &mut W, s: Stats, now: Instant) -> io::Result<()> {
        writeln!(
            w,
            "{{\"type\":\"stats\",\"routes\":{},\"paths\":{},\"peers\":{},\"established\":{},\"elapsed_ms\":{},\"unix_ms\":{}}}",
            s.routes,
            s.paths,
            s.peers,
            s.established,
            now.duration_since(self.start).as_millis(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_are_rate_limited_and_printed_once_more_when_settled() {
        let t0 = Instant::now();
        let mut p = StatsPrinter::new(t0, Duration::from_millis(100));
        let s = |n| Stats {
            routes: n,
            ..Default::default()
        };
        assert!(p.due(s(1), t0));
        assert!(!p.ready(t0 + Duration::from_millis(50)));
        assert!(!p.due(s(2), t0 + Duration::from_millis(50)), "too soon");
        assert!(p.due(s(3), t0 + Duration::from_millis(120)));
        assert!(!p.due(s(3), t0 + Duration::from_millis(400)), "unchanged");
        let mut v = Vec::new();
        p.write(&mut v, s(3), t0 + Duration::from_millis(400))
            .unwrap();
        let j: serde_json::Value = serde_json::from_slice(&v).unwrap();
        assert_eq!(j["routes"], 3);
        assert_eq!(j["elapsed_ms"], 400);
    }
}
