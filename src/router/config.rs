//! The router's TOML configuration file (`--config FILE`): per-neighbour settings and named
//! policies (route maps of bgp-rib's [`RouteMap`]). Global settings (AS, router id, listen
//! address, decision options) stay on the command line; neighbours given with `--peer` and
//! the file's `[[neighbor]]` tables are merged (a file neighbour with the same address replaces
//! the flag one), and each file neighbour starts from what the flags would give it (port,
//! passive, hold time, families ...). SIGHUP re-reads the file ([`super::reload`]).
//!
//! ```toml
//! [[neighbor]]
//! address = "192.0.2.2"          # ADDR or ADDR:PORT
//! remote-as = 65001
//! passive = true
//! hold-time = 30
//! families = ["ipv4-unicast", "ipv6-unicast"]
//! maximum-prefix = 10000
//! import = "from-customer"
//! export = "to-customer"
//!
//! [prefix-list]
//! customer = ["deny 203.0.113.0/24", "198.51.100.0/22 le 24"]
//!
//! [[policy.from-customer]]         # terms in order; the first that matches decides
//! match = { prefix-list = "customer", as-path = "^65001_" }
//! set = { local-pref = 200, community-add = ["64512:100"] }
//! action = "accept"
//!
//! [[policy.to-customer]]
//! match = { community = ["no-export"] }
//! action = "reject"
//! [[policy.to-customer]]
//! set = { prepend = 2, med = 10 }  # no match: every route
//! ```
//!
//! Matches of a term (all must hold): `prefix-list` (a name), `prefix` (inline entries),
//! `community` (any of), `as-path` (regular expression, `_` a delimiter), `as-path-contains`,
//! `origin-as`, `as-path-min-length`, `as-path-max-length`, `peer-as`. Sets (on accept):
//! `local-pref`, `med`, `weight`, `community-add`, `community-remove`, `prepend` (times,
//! our AS unless `prepend-as`), `next-hop`. `action` is `accept` (default) or `reject`; a
//! route no term matches is rejected. Prefix-list entries read
//! `[permit|deny] PREFIX [ge N] [le M]` (without ge/le only the exact prefix matches).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use bgp_rib::policy::{Action, AsPathRegex, Clause, Match, Policy, PrefixList, RouteMap, Set};
use bgp_wire::AfiSafi;
use serde::Deserialize;

use super::NeighborConfig;
use crate::config::{ConfigError, invalid, parse_addr, parse_community, parse_peer, parse_prefix};

/// The file as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RouterFile {
    /// `[[neighbor]]` tables.
    #[serde(default)]
    pub neighbor: Vec<NeighborFile>,
    /// `[prefix-list]`: name = entries.
    #[serde(default)]
    pub prefix_list: BTreeMap<String, Vec<String>>,
    /// `[[policy.NAME]]`: the terms of each policy, in order.
    #[serde(default)]
    pub policy: BTreeMap<String, Vec<TermFile>>,
}

/// A `[[neighbor]]` table; unset keys take the command line's value.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NeighborFile {
    /// ADDR or ADDR:PORT.
    pub address: String,
    /// Its AS.
    pub remote_as: u32,
    /// Wait for it to connect.
    pub passive: Option<bool>,
    /// Hold time to propose.
    pub hold_time: Option<u16>,
    /// ConnectRetry seconds.
    pub connect_retry: Option<u64>,
    /// Source address of outgoing connections.
    pub local_address: Option<String>,
    /// Next hop self towards this iBGP neighbour.
    pub next_hop_self: Option<bool>,
    /// A route-reflector client (RFC 4456).
    pub route_reflector_client: Option<bool>,
    /// A route-server client (RFC 7947): no AS prepend, NEXT_HOP and MED passed unchanged.
    pub route_server_client: Option<bool>,
    /// maximum-prefix per family (Cease 6/1 when exceeded).
    pub maximum_prefix: Option<u32>,
    /// `ipv4-unicast`, `ipv6-unicast`.
    pub families: Option<Vec<String>>,
    /// Import policy name.
    pub import: Option<String>,
    /// Export policy name.
    pub export: Option<String>,
    /// Free text (shown by `routerctl neighbors`).
    pub description: Option<String>,
    /// Keep its routes before import policy (default true): a reloaded import policy is
    /// re-applied from them; false saves that memory and asks the neighbour to send its
    /// routes again instead (ROUTE-REFRESH).
    pub soft_reconfiguration: Option<bool>,
}

/// One term of a policy.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TermFile {
    /// Conditions (all must hold; none: every route).
    #[serde(default, rename = "match")]
    pub matches: MatchFile,
    /// Changes made on accept.
    #[serde(default)]
    pub set: SetFile,
    /// `accept` (default) or `reject`.
    pub action: Option<String>,
}

/// The `match` table of a term.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MatchFile {
    /// A named prefix list.
    pub prefix_list: Option<String>,
    /// Inline prefix-list entries.
    pub prefix: Option<Vec<String>>,
    /// Any of these communities.
    pub community: Option<Vec<String>>,
    /// AS_PATH regular expression.
    pub as_path: Option<String>,
    /// The AS_PATH contains this AS.
    pub as_path_contains: Option<u32>,
    /// Originated by this AS.
    pub origin_as: Option<u32>,
    /// Minimum AS_PATH length.
    pub as_path_min_length: Option<usize>,
    /// Maximum AS_PATH length.
    pub as_path_max_length: Option<usize>,
    /// The neighbour's AS.
    pub peer_as: Option<u32>,
}

/// The `set` table of a term.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SetFile {
    /// LOCAL_PREF.
    pub local_pref: Option<u32>,
    /// MED.
    pub med: Option<u32>,
    /// Local weight.
    pub weight: Option<u32>,
    /// Communities to add.
    #[serde(default)]
    pub community_add: Vec<String>,
    /// Communities to remove.
    #[serde(default)]
    pub community_remove: Vec<String>,
    /// Prepend this many times.
    pub prepend: Option<u8>,
    /// The AS to prepend (default: ours).
    pub prepend_as: Option<u32>,
    /// Next hop address.
    pub next_hop: Option<String>,
}

/// Read the file.
pub fn read(path: &Path) -> Result<RouterFile, ConfigError> {
    crate::config::read_file_as(path)
}

/// Parse a prefix-list entry `[permit|deny] PREFIX [ge N] [le M]`.
fn parse_entry(key: &str, s: &str, list: PrefixList) -> Result<PrefixList, ConfigError> {
    let mut words = s.split_whitespace().peekable();
    let action = match words.peek() {
        Some(&"deny") => {
            words.next();
            Action::Deny
        }
        Some(&"permit") => {
            words.next();
            Action::Permit
        }
        _ => Action::Permit,
    };
    let prefix = parse_prefix(key, words.next().unwrap_or(""))?;
    let (mut ge, mut le) = (None, None);
    while let Some(w) = words.next() {
        let v: Option<u8> = words.next().and_then(|v| v.parse().ok());
        let max = prefix.max_prefix_len();
        match (w, v) {
            ("ge", Some(v)) if v <= max => ge = Some(v),
            ("le", Some(v)) if v <= max => le = Some(v),
            _ => {
                return Err(invalid(
                    key,
                    s,
                    "expected [permit|deny] PREFIX [ge N] [le M]",
                ));
            }
        }
    }
    if ge.is_some_and(|g| g < prefix.prefix_len())
        || matches!((ge, le), (Some(g), Some(l)) if g > l)
    {
        return Err(invalid(key, s, "need prefix length <= ge <= le"));
    }
    Ok(list.push(action, prefix, ge, le))
}

fn prefix_list(key: &str, entries: &[String]) -> Result<PrefixList, ConfigError> {
    entries
        .iter()
        .try_fold(PrefixList::default(), |l, e| parse_entry(key, e, l))
}

impl RouterFile {
    /// Every policy, compiled; `local_as` is the AS `prepend` uses by default.
    pub fn policies(&self, local_as: u32) -> Result<BTreeMap<String, Arc<RouteMap>>, ConfigError> {
        let mut lists = BTreeMap::new();
        for (name, entries) in &self.prefix_list {
            lists.insert(
                name.clone(),
                prefix_list(&format!("prefix-list.{name}"), entries)?,
            );
        }
        let mut out = BTreeMap::new();
        for (name, terms) in &self.policy {
            let mut rm = RouteMap::default();
            for (i, t) in terms.iter().enumerate() {
                let key = format!("policy.{name}[{i}]");
                rm.clauses.push(t.compile(&key, &lists, local_as)?);
            }
            out.insert(name.clone(), Arc::new(rm));
        }
        Ok(out)
    }

    /// The file's neighbours; `template(addr, asn)` gives a neighbour's settings from the
    /// command line before the file's keys override them.
    pub fn neighbors(
        &self,
        local_as: u32,
        mut template: impl FnMut(IpAddr, u32) -> NeighborConfig,
    ) -> Result<Vec<NeighborConfig>, ConfigError> {
        let policies = self.policies(local_as)?;
        let policy = |key: &str, name: &Option<String>| -> Result<_, ConfigError> {
            match name {
                None => Ok(None),
                Some(n) => match policies.get(n) {
                    Some(p) => Ok(Some(p.clone() as Arc<dyn Policy>)),
                    None => Err(invalid(key, n, "no [[policy.NAME]] of that name")),
                },
            }
        };
        let mut out: Vec<NeighborConfig> = Vec::new();
        for (i, f) in self.neighbor.iter().enumerate() {
            let k = |s: &str| format!("neighbor[{i}].{s}");
            let (addr, port) = parse_peer(&k("address"), &f.address)?;
            if out.iter().any(|n| n.addr == addr) {
                return Err(invalid(k("address"), &f.address, "neighbour listed twice"));
            }
            let mut n = template(addr, f.remote_as);
            n.addr = addr;
            n.peer_as = f.remote_as;
            if f.address.parse::<IpAddr>().is_err() {
                n.port = port;
            }
            if let Some(v) = f.passive {
                n.passive = v;
            }
            if let Some(v) = f.hold_time {
                if v == 1 || v == 2 {
                    return Err(invalid(
                        k("hold-time"),
                        v,
                        "must be 0 or at least 3 (RFC 4271)",
                    ));
                }
                n.hold_time = v;
            }
            if let Some(v) = f.connect_retry {
                n.connect_retry = std::time::Duration::from_secs(v.max(1));
            }
            if let Some(v) = &f.local_address {
                n.local_addr = Some(parse_addr(&k("local-address"), v)?);
            }
            if let Some(v) = f.next_hop_self {
                n.next_hop_self = v;
            }
            if let Some(v) = f.route_reflector_client {
                n.rr_client = v;
            }
            if let Some(v) = f.route_server_client {
                n.rs_client = v;
            }
            if let Some(v) = f.maximum_prefix {
                n.max_prefix = Some(v);
            }
            if let Some(fams) = &f.families {
                n.families = fams
                    .iter()
                    .map(|s| match s.as_str() {
                        "ipv4-unicast" | "ipv4" => Ok(AfiSafi::IPV4_UNICAST),
                        "ipv6-unicast" | "ipv6" => Ok(AfiSafi::IPV6_UNICAST),
                        _ => Err(invalid(k("families"), s, "ipv4-unicast or ipv6-unicast")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            n.import = policy(&k("import"), &f.import)?;
            n.export = policy(&k("export"), &f.export)?;
            n.description = f.description.clone();
            n.soft_reconfiguration = f.soft_reconfiguration.unwrap_or(true);
            out.push(n);
        }
        Ok(out)
    }
}

impl TermFile {
    fn compile(
        &self,
        key: &str,
        lists: &BTreeMap<String, PrefixList>,
        local_as: u32,
    ) -> Result<Clause, ConfigError> {
        let m = &self.matches;
        let mut matches = Vec::new();
        if let Some(name) = &m.prefix_list {
            let l = lists.get(name).ok_or_else(|| {
                invalid(
                    format!("{key}.match.prefix-list"),
                    name,
                    "no such prefix-list",
                )
            })?;
            matches.push(Match::Prefix(l.clone()));
        }
        if let Some(entries) = &m.prefix {
            matches.push(Match::Prefix(prefix_list(
                &format!("{key}.match.prefix"),
                entries,
            )?));
        }
        if let Some(cs) = &m.community {
            let k = format!("{key}.match.community");
            let cs = cs
                .iter()
                .map(|c| parse_community(&k, c))
                .collect::<Result<_, _>>()?;
            matches.push(Match::CommunityAny(cs));
        }
        if let Some(re) = &m.as_path {
            let r = AsPathRegex::new(re)
                .map_err(|e| invalid(format!("{key}.match.as-path"), re, e.to_string()))?;
            matches.push(Match::AsPathRegex(r));
        }
        if let Some(a) = m.as_path_contains {
            matches.push(Match::AsPathContains(a));
        }
        if let Some(a) = m.origin_as {
            matches.push(Match::OriginAs(a));
        }
        if m.as_path_min_length.is_some() || m.as_path_max_length.is_some() {
            matches.push(Match::AsPathLen {
                min: m.as_path_min_length,
                max: m.as_path_max_length,
            });
        }
        if let Some(a) = m.peer_as {
            matches.push(Match::PeerAs(a));
        }
        let s = &self.set;
        let mut sets = Vec::new();
        if let Some(v) = s.local_pref {
            sets.push(Set::LocalPref(v));
        }
        if let Some(v) = s.med {
            sets.push(Set::Med(v));
        }
        if let Some(v) = s.weight {
            sets.push(Set::Weight(v));
        }
        let k = format!("{key}.set.community-remove");
        for c in &s.community_remove {
            sets.push(Set::DeleteCommunity(parse_community(&k, c)?));
        }
        let k = format!("{key}.set.community-add");
        for c in &s.community_add {
            sets.push(Set::AddCommunity(parse_community(&k, c)?));
        }
        if let Some(n) = s.prepend {
            sets.push(Set::Prepend(s.prepend_as.unwrap_or(local_as), n));
        }
        if let Some(nh) = &s.next_hop {
            sets.push(Set::NextHop(parse_addr(
                &format!("{key}.set.next-hop"),
                nh,
            )?));
        }
        let action = match self.action.as_deref() {
            None | Some("accept") | Some("permit") => Action::Permit,
            Some("reject") | Some("deny") => Action::Deny,
            Some(a) => return Err(invalid(format!("{key}.action"), a, "accept or reject")),
        };
        Ok(Clause {
            action,
            matches,
            sets,
        })
    }
}

/// Merge the file at `path` into `cfg` (built from the flags): each file neighbour starts
/// from what `--peer ADDR --peer-as AS` would give it, then takes the file's keys; it
/// replaces a flag neighbour of the same address. Turns soft reconfiguration on, so that a
/// reloaded import policy can be re-applied without asking the neighbours.
pub fn merge_file(
    args: &super::cli::RouterArgs,
    path: &Path,
    cfg: &mut super::RouterConfig,
    export: bool,
) -> Result<(), super::RouterError> {
    let err = |e: ConfigError| super::RouterError::Config(e.to_string());
    let file = read(path).map_err(err)?;
    let mut template_err = None;
    let from_file = file
        .neighbors(cfg.decision.local_as, |addr, asn| {
            // The flags with this neighbour as the only `--peer`. (Not through clap's
            // `try_update_from`: it would reset every flag left at its default.)
            let mut a = args.clone();
            a.peers = vec![super::cli::ScopedAddr {
                ip: addr,
                scope_id: 0,
            }];
            a.peer_as = vec![asn];
            a.config = None;
            match a.to_config(export) {
                Ok(mut c) if !c.neighbors.is_empty() => c.neighbors.remove(0),
                Ok(_) => NeighborConfig::new(addr, asn),
                Err(e) => {
                    template_err = Some(e);
                    NeighborConfig::new(addr, asn)
                }
            }
        })
        .map_err(err)?;
    if let Some(e) = template_err {
        return Err(e);
    }
    cfg.neighbors
        .retain(|n| !from_file.iter().any(|f| f.addr == n.addr));
    for n in &mut cfg.neighbors {
        n.soft_reconfiguration = true;
    }
    cfg.neighbors.extend(from_file);
    Ok(())
}

/// Start what the flags ask for besides the sessions: the `--metrics` and `--control`
/// servers and, with `--config`, the SIGHUP handler that re-reads the file (a file that does
/// not parse is reported on stderr and changes nothing).
pub async fn start_services(
    args: &super::cli::RouterArgs,
    export: bool,
) -> Result<super::Hooks, super::RouterError> {
    use tokio::sync::mpsc;
    let mut hooks = super::Hooks::default();
    if args.metrics.is_some() || args.control.is_some() {
        let (tx, rx) = mpsc::channel(16);
        hooks.queries = Some(rx);
        if let Some(addr) = args.metrics {
            let l = tokio::net::TcpListener::bind(addr).await?;
            let tx = tx.clone();
            tokio::spawn(async move {
                if let Err(e) = super::metrics::serve_on(l, tx).await {
                    eprintln!("metrics: {e}");
                }
            });
        }
        if let Some(path) = args.control.clone() {
            // Bind now so a bad path fails at start, not later.
            let l = super::control::bind(&path)?;
            tokio::spawn(async move {
                if let Err(e) = super::control::serve_on(l, tx).await {
                    eprintln!("control: {e}");
                }
            });
        }
    }
    if args.config.is_some() {
        use tokio::signal::unix::{SignalKind, signal};
        let (tx, rx) = mpsc::channel(1);
        hooks.reload = Some(rx);
        let mut hup = signal(SignalKind::hangup())?;
        let args = args.clone();
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                match args.to_config(export) {
                    Ok(c) => {
                        if tx.send(c).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => eprintln!("reload: {e}; keeping the running configuration"),
                }
            }
        });
    }
    Ok(hooks)
}

/// Two policies are the same when both are absent, the same object, or render the same
/// (a [`RouteMap`]'s `Debug` is its whole definition): a reload re-runs import or export
/// only for neighbours whose policy changed.
pub fn same_policy(a: &Option<Arc<dyn Policy>>, b: &Option<Arc<dyn Policy>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || format!("{a:?}") == format!("{b:?}"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp_rib::attrs::Attrs;
    use bgp_rib::decision::PeerInfo;
    use bgp_wire::attr::{AsPath, Community};

    const FILE: &str = r#"
[[neighbor]]
address = "192.0.2.2"
remote-as = 65001
passive = true
hold-time = 30
families = ["ipv4-unicast", "ipv6-unicast"]
maximum-prefix = 100
import = "in"
soft-reconfiguration = false

[[neighbor]]
address = "192.0.2.3:1179"
remote-as = 64512
route-reflector-client = true
export = "out"

[prefix-list]
cust = ["deny 10.9.0.0/16 le 32", "10.0.0.0/8 ge 16 le 24"]

[[policy.in]]
match = { prefix-list = "cust", as-path = "^65001_" }
set = { local-pref = 200, community-add = ["64512:7"], community-remove = ["65001:1"] }

[[policy.in]]
match = { community = ["no-export"] }
action = "accept"

[[policy.out]]
match = { origin-as = 65009 }
action = "reject"
[[policy.out]]
set = { prepend = 2, med = 5 }
"#;

    fn parse(t: &str) -> Result<RouterFile, ConfigError> {
        crate::config::parse_toml_as(Path::new("t.toml"), t)
    }

    #[test]
    fn neighbours_and_policies_parse_and_apply() {
        let f = parse(FILE).unwrap();
        let ns = f.neighbors(64512, NeighborConfig::new).unwrap();
        assert_eq!(ns.len(), 2);
        assert!(ns[0].passive && ns[0].hold_time == 30 && ns[0].max_prefix == Some(100));
        assert_eq!(ns[0].families.len(), 2);
        assert_eq!(ns[1].port, 1179);
        assert!(ns[1].rr_client && ns[1].import.is_none());
        assert!(!ns[0].soft_reconfiguration && ns[1].soft_reconfiguration);
        let peer = PeerInfo::new(
            "192.0.2.2".parse().unwrap(),
            65001,
            "1.1.1.1".parse().unwrap(),
            64512,
        );
        let imp = ns[0].import.clone().unwrap();
        let mut a = Attrs::new("192.0.2.2".parse().unwrap());
        a.as_path = AsPath::from_sequence([65001, 65009]);
        a.communities.push(Community::new(65001, 1));
        let mut x = a.clone();
        assert!(imp.apply("10.1.0.0/16".parse().unwrap(), &peer, &mut x));
        assert_eq!(x.local_pref, Some(200));
        assert_eq!(x.communities, vec![Community::new(64512, 7)]);
        assert!(
            !imp.apply("10.9.1.0/24".parse().unwrap(), &peer, &mut a.clone()),
            "deny entry"
        );
        assert!(
            !imp.apply("10.1.0.0/25".parse().unwrap(), &peer, &mut a.clone()),
            "le 24"
        );
        let mut ne = a.clone();
        ne.communities.push(Community::NO_EXPORT);
        assert!(
            imp.apply("11.0.0.0/8".parse().unwrap(), &peer, &mut ne),
            "second term"
        );
        let exp = ns[1].export.clone().unwrap();
        assert!(
            !exp.apply("10.1.0.0/16".parse().unwrap(), &peer, &mut a.clone()),
            "origin 65009"
        );
        let mut o = Attrs::new("192.0.2.2".parse().unwrap());
        o.as_path = AsPath::from_sequence([65001]);
        assert!(exp.apply("10.1.0.0/16".parse().unwrap(), &peer, &mut o));
        assert_eq!(o.as_path.path_len(), 3);
        assert_eq!(o.med, Some(5));
    }

    #[test]
    fn errors_name_the_key() {
        let e = |t: &str| {
            let f = parse(t)?;
            f.neighbors(1, NeighborConfig::new).map(|_| ())
        };
        let msg = |t: &str| e(t).unwrap_err().to_string();
        assert!(msg("[[neighbor]]\naddress=\"x\"\nremote-as=1").contains("neighbor[0].address"));
        assert!(
            msg("[[neighbor]]\naddress=\"1.1.1.1\"\nremote-as=1\nimport=\"nope\"")
                .contains("neighbor[0].import")
        );
        assert!(msg("[prefix-list]\na=[\"10.0.0.0/8 ge 4\"]").contains("prefix-list.a"));
        assert!(msg("[[policy.p]]\nmatch={as-path=\"(\"}").contains("policy.p[0].match.as-path"));
        assert!(msg("[[policy.p]]\naction=\"maybe\"").contains("policy.p[0].action"));
        assert!(msg("[[neighbor]]\naddress=\"1.1.1.1\"\nremote-as=1\nbogus=1").contains("bogus"));
        assert!(
            msg("[[neighbor]]\naddress=\"1.1.1.1\"\nremote-as=1\nhold-time=2")
                .contains("hold-time")
        );
    }

    #[test]
    fn same_policy_compares_definitions() {
        let a = parse(FILE).unwrap().policies(1).unwrap();
        let b = parse(FILE).unwrap().policies(1).unwrap();
        let p =
            |m: &BTreeMap<String, Arc<RouteMap>>, n: &str| Some(m[n].clone() as Arc<dyn Policy>);
        assert!(same_policy(&p(&a, "in"), &p(&b, "in")));
        assert!(!same_policy(&p(&a, "in"), &p(&b, "out")));
        assert!(!same_policy(&p(&a, "in"), &None));
    }

    #[test]
    fn flags_and_file_combine() {
        use clap::Parser;
        let path = std::env::temp_dir().join(format!("router-merge-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "[[neighbor]]\naddress = \"10.0.0.3\"\nremote-as = 65003\nhold-time = 30\n\
             [[neighbor]]\naddress = \"10.0.0.4\"\nremote-as = 65004\n",
        )
        .unwrap();
        let args = super::super::cli::RouterArgs::try_parse_from([
            "router",
            "--local-as",
            "64512",
            "--router-id",
            "10.0.0.1",
            "--peer",
            "10.0.0.2",
            "--peer",
            "10.0.0.3",
            "--peer-as",
            "65002",
            "--peer-as",
            "65099",
            "--hold-time",
            "9",
            "--passive",
            "--ipv6",
            "--config",
            path.to_str().unwrap(),
        ])
        .unwrap();
        let c = args.to_config(true).unwrap();
        let _ = std::fs::remove_file(&path);
        let by = |a: &str| {
            c.neighbors
                .iter()
                .find(|n| n.addr == a.parse::<IpAddr>().unwrap())
                .unwrap()
        };
        assert_eq!(c.neighbors.len(), 3);
        assert!(c.neighbors.iter().all(|n| n.soft_reconfiguration));
        assert_eq!(by("10.0.0.2").peer_as, 65002, "flag neighbour kept");
        assert_eq!(
            by("10.0.0.3").peer_as,
            65003,
            "the file replaces the flag neighbour"
        );
        assert_eq!(by("10.0.0.3").hold_time, 30, "file key wins");
        assert_eq!(
            by("10.0.0.4").hold_time,
            9,
            "flag default for a file neighbour"
        );
        assert!(by("10.0.0.4").passive);
        assert_eq!(by("10.0.0.4").families.len(), 2);
        // A file alone is enough.
        let path2 = std::env::temp_dir().join(format!("router-merge2-{}.toml", std::process::id()));
        std::fs::write(
            &path2,
            "[[neighbor]]\naddress = \"10.0.0.5\"\nremote-as = 65005\n",
        )
        .unwrap();
        let args = super::super::cli::RouterArgs::try_parse_from([
            "router",
            "--local-as",
            "64512",
            "--router-id",
            "10.0.0.1",
            "--config",
            path2.to_str().unwrap(),
        ])
        .unwrap();
        let c = args.to_config(true).unwrap();
        let _ = std::fs::remove_file(&path2);
        assert_eq!(c.neighbors.len(), 1);
        assert_eq!(c.neighbors[0].port, 179);
    }
}
