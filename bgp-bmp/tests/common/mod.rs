//! Helpers shared by the station interop tests: the example binary and its JSON lines.
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;

/// The `bmp-station` example (built by `cargo test -p bgp-bmp --all-features`).
pub(crate) fn station_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let p = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("bmp-station");
    assert!(
        p.exists(),
        "{} not built (cargo test -p bgp-bmp --all-features)",
        p.display()
    );
    p
}

/// The station's JSON lines so far.
pub(crate) fn lines(log: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

pub(crate) fn routes_for<'a>(
    ls: &'a [Value],
    prefix: &str,
    rib: &str,
    post: bool,
) -> Vec<&'a Value> {
    ls.iter()
        .filter(|l| {
            l["type"] == "route"
                && l["rib"] == rib
                && l["post_policy"] == post
                && l["announce"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|n| n["prefix"] == prefix))
        })
        .collect()
}

/// The value of the attribute named `name` in a route line.
pub(crate) fn attr<'a>(route: &'a Value, name: &str) -> &'a Value {
    route["attributes"]
        .as_array()
        .and_then(|a| a.iter().find_map(|x| x.get(name)))
        .unwrap_or(&Value::Null)
}

pub(crate) fn withdrawn(ls: &[Value], prefix: &str) -> bool {
    ls.iter().any(|l| {
        l["type"] == "route"
            && l["withdraw"]
                .as_array()
                .is_some_and(|a| a.iter().any(|n| n["prefix"] == prefix))
    })
}
