//! The README's main command as a test: `scripts/seed-lab.sh --speaker announce` reproduces the
//! reference scenario (FRR router, six nodes running `examples/announce`, a client curling the
//! service) and its failover measurements; a second run takes the services from a TOML file
//! (address pool + HTTP health check). Needs root, FRR, jq, curl and python3; skips
//! otherwise. Runs the debug build of the example that `cargo test` builds, under a namespace
//! prefix unique to this run, and tears the lab down even when the test fails.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `seed-lab.sh --down` with our prefix when dropped (also on panic).
struct Down {
    script: PathBuf,
    prefix: String,
}

impl Drop for Down {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(&self.script)
            .arg("--down")
            .env("KB_LAB_PREFIX", &self.prefix)
            .output();
    }
}

/// `target/<profile>/examples/announce`, next to this test's `deps/` directory.
fn announce_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps");
    profile_dir.join("examples").join("announce")
}

/// The number after `key=` on the first output line holding it.
fn result_ms(out: &str, key: &str) -> u64 {
    let pat = format!("{key}=");
    let line = out
        .lines()
        .find(|l| l.contains(&pat))
        .unwrap_or_else(|| panic!("no `{key}` in the output:\n{out}"));
    let rest = &line[line.find(&pat).unwrap_or(0) + pat.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad `{key}` value in: {line}"))
}

/// Runs `seed-lab.sh --speaker announce --announce-bin BIN EXTRA...` under a fresh namespace
/// prefix; asserts success, the common key lines and a clean teardown; returns stdout.
/// `None` when the test must skip.
fn run_lab(tag: char, extra: &[&str]) -> Option<String> {
    if !testlab::require_root_and(&[
        "/usr/lib/frr/bgpd",
        "/usr/lib/frr/zebra",
        "vtysh",
        "jq",
        "curl",
        "python3",
    ]) {
        return None;
    }
    let bin = announce_bin();
    assert!(
        bin.is_file(),
        "{} missing: `cargo test` builds the examples; run `cargo build --example announce`",
        bin.display()
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("scripts").join("seed-lab.sh");
    let prefix = format!("k{tag}{}-", std::process::id() % 100_000);
    let _down = Down {
        script: script.clone(),
        prefix: prefix.clone(),
    };
    let out = Command::new("bash")
        .arg(&script)
        .args(["--speaker", "announce", "--announce-bin"])
        .arg(&bin)
        .args(extra)
        .env("KB_LAB_PREFIX", &prefix)
        .output()
        .expect("run seed-lab.sh");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all = format!("{stdout}\n--- stderr\n{stderr}");
    assert!(
        out.status.success(),
        "seed-lab.sh failed ({}):\n{all}",
        out.status
    );
    assert!(stdout.contains("LAB PASSED"), "{all}");

    // Six peers Established, PfxRcd 1 each, one kernel route with six next hops.
    assert!(
        stdout.contains("RESULT established_peers=6 pfxrcd1_peers=6 kernel_nexthops=6"),
        "{all}"
    );
    // With tcpdump + tshark installed (CI), every captured BGP message decoded cleanly.
    if testlab::require_tool("tshark") && testlab::require_tool("tcpdump") {
        assert!(stdout.contains("RESULT tshark_malformed=0 "), "{all}");
    }
    // FRR holds six paths, all of them multipath.
    assert!(stdout.contains("RESULT bgp_paths=6 multipath=6"), "{all}");
    // The client reached the service through the router.
    assert!(stdout.contains("curl -> HTTP 200: served by k8s-"), "{all}");
    // SIGTERM: the node's next hop leaves the router's kernel within 1 s, five remain.
    let sigterm = result_ms(&stdout, "sigterm_to_nexthop_gone_ms");
    assert!(sigterm <= 1000, "SIGTERM failover {sigterm} ms\n{all}");
    assert!(
        stdout.contains(&format!(
            "RESULT sigterm_to_nexthop_gone_ms={sigterm} kernel_nexthops=5"
        )),
        "{all}"
    );
    // kill -9 and SIGSTOP (hold time 9 s) are both detected within the hold time + 3 s.
    assert!(
        result_ms(&stdout, "kill9_to_nexthop_gone_ms") <= 12_000,
        "{all}"
    );
    let frozen = result_ms(&stdout, "sigstop_to_nexthop_gone_ms");
    assert!(
        (3_000..=12_000).contains(&frozen),
        "hold-timer expiry after {frozen} ms\n{all}"
    );
    // A restarted speaker's next hop comes back; stopping all withdraws the route.
    result_ms(&stdout, "speaker_start_to_kernel_ms");
    result_ms(&stdout, "sigterm_all_to_route_gone_ms");
    // The script tore everything down.
    let list = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let left: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    assert!(left.is_empty(), "namespaces left: {left:?}");
    Some(stdout)
}

#[test]
fn seed_lab_reference_scenario_with_announce() {
    let Some(out) = run_lab('a', &[]) else {
        return;
    };
    assert!(!out.contains("http_down_to_nexthop_gone_ms"), "{out}");
}

#[test]
fn seed_lab_config_file_pool_and_health_check() {
    let Some(out) = run_lab('c', &["--config"]) else {
        return;
    };
    // The service got 172.16.10.0 from pool 172.16.10.0/24 (lowest free, .0 included): the
    // common assertions saw six next hops for 172.16.10.0/32. Its health check withdraws the
    // node whose HTTP server stops, and re-announces it when the server is back.
    assert!(
        out.contains("RESULT http_down_to_nexthop_gone_ms="),
        "{out}"
    );
    assert!(
        result_ms(&out, "http_down_to_nexthop_gone_ms") <= 5_000,
        "{out}"
    );
    assert!(
        result_ms(&out, "http_up_to_nexthop_back_ms") <= 10_000,
        "{out}"
    );
}
