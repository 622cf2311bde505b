//! Query a running `router` over its control socket (`router --control PATH`), in the
//! manner of `birdc` or `gobgp`: tables for people, `--json` for scripts.
//!
//! ```text
//! routerctl --control /run/router.sock summary
//! routerctl --control /run/router.sock neighbors
//! routerctl --control /run/router.sock route 203.0.113.0/24
//! routerctl --control /run/router.sock --json route 203.0.113.7
//! ```
//!
//! Protocol: [`kube_bgp::router::control`].

use clap::{Parser, Subcommand};
use serde_json::{Value, json};

/// Command line.
#[derive(Debug, Parser)]
#[command(about = "Query a running router over its control socket")]
struct Args {
    /// The router's --control socket.
    #[arg(long, default_value = "/run/kube-bgp-router.sock")]
    control: std::path::PathBuf,
    /// Print the JSON answer as it came.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Router-wide numbers.
    Summary,
    /// Every neighbour: state, uptime, prefixes received / accepted / advertised.
    Neighbors,
    /// Every path of a prefix (or of the longest match of an address) and why the best won.
    Route {
        /// PREFIX/LEN or an address.
        prefix: String,
    },
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(x) => x.clone(),
        other => other.to_string(),
    }
}

fn uptime(secs: Option<u64>) -> String {
    match secs {
        None => "-".into(),
        Some(s) => format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let req = match &args.cmd {
        Cmd::Summary => json!({"cmd": "summary"}),
        Cmd::Neighbors => json!({"cmd": "neighbors"}),
        Cmd::Route { prefix } => json!({"cmd": "route", "prefix": prefix}),
    };
    let v = kube_bgp::router::control::request(&args.control, &req)
        .await
        .map_err(|e| format!("{}: {e}", args.control.display()))?;
    if let Some(e) = v.get("error") {
        return Err(s(e).into());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    match args.cmd {
        Cmd::Summary => {
            for k in [
                "local_as",
                "router_id",
                "uptime",
                "neighbors",
                "established",
                "rib_prefixes",
                "rib_paths",
                "resident_memory_bytes",
            ] {
                println!("{k:<24}{}", s(&v[k]));
            }
        }
        Cmd::Neighbors => {
            println!(
                "{:<40}{:>10} {:<12}{:>9}{:>6}{:>10}{:>10}{:>10}  Description",
                "Neighbor", "AS", "State", "Up", "Est", "Received", "Accepted", "Adv"
            );
            for n in v["neighbors"].as_array().into_iter().flatten() {
                println!(
                    "{:<40}{:>10} {:<12}{:>9}{:>6}{:>10}{:>10}{:>10}  {}",
                    s(&n["address"]),
                    s(&n["remote_as"]),
                    s(&n["state"]),
                    uptime(n["uptime"].as_u64()),
                    s(&n["established_count"]),
                    s(&n["received"]),
                    s(&n["accepted"]),
                    s(&n["advertised"]),
                    n["description"].as_str().unwrap_or("")
                );
            }
        }
        Cmd::Route { .. } => {
            let paths = v["paths"].as_array().cloned().unwrap_or_default();
            if paths.is_empty() {
                println!("no route");
                return Ok(());
            }
            println!("{}: {} path(s)", s(&v["prefix"]), paths.len());
            for p in paths {
                println!(
                    "  {} from {}  next hop {}  as-path [{}]  origin {}  local-pref {}  med {}{}",
                    if p["best"] == true {
                        "*>"
                    } else if p["multipath"] == true {
                        "*="
                    } else {
                        "  "
                    },
                    s(&p["peer"]),
                    s(&p["next_hop"]),
                    s(&p["as_path"]),
                    s(&p["origin"]),
                    s(&p["local_pref"]),
                    s(&p["med"]),
                    if p["stale"] == true { "  (stale)" } else { "" }
                );
                let comms = p["communities"]
                    .as_array()
                    .map(|c| c.iter().map(s).collect::<Vec<_>>().join(" "));
                if let Some(c) = comms.filter(|c| !c.is_empty()) {
                    println!("     communities {c}");
                }
                println!("     {}", s(&p["why"]));
            }
        }
    }
    Ok(())
}
