//! The `announce` binary refuses bad configuration with an error naming the key and the
//! value, and documents its flags in `--help`. Needs nothing but the binary.

mod scenario_common;

use std::process::Command;

use scenario_common::announce_bin;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(announce_bin()).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn help_documents_every_flag() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    for flag in [
        "--local-as",
        "--router-id",
        "--peer ",
        "--peer-as",
        "--prefix",
        "--next-hop",
        "--community",
        "--large-community",
        "--local-pref",
        "--med",
        "--hold-time",
        "--keepalive",
        "--password",
        "--passive",
        "--listen",
        "--no-listen",
        "--json",
        "--metrics",
        "--ttl",
        "--graceful-restart",
        "--config",
    ] {
        assert!(out.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn bad_flag_values_are_refused_naming_key_and_value() {
    let (code, _, err) = run(&["--local-as", "64512", "--prefix", "10.0.0.1/24"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("`prefix`") && err.contains("10.0.0.1/24"),
        "{err}"
    );
    let (code, _, err) = run(&["--local-as", "64512", "--next-hop", "router"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("`next-hop`") && err.contains("router"),
        "{err}"
    );
    // The restart time is a 12-bit field. (Loopback peer: nothing leaves the machine even if
    // validation were to pass.)
    for bad in ["0", "5000"] {
        let (code, _, err) = run(&[
            "--local-as",
            "64512",
            "--peer",
            "127.0.0.1",
            "--peer-as",
            "64512",
            "--graceful-restart",
            bad,
        ]);
        assert_eq!(code, Some(2), "graceful-restart {bad}: {err}");
        assert!(
            err.contains("`graceful-restart`") && err.contains(bad),
            "{err}"
        );
    }
}

#[test]
fn bad_config_file_is_refused_naming_key_and_value() {
    let dir = std::env::temp_dir().join(format!("announce-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.toml");
    std::fs::write(
        &f,
        "local-as = 64512\npeer = [\"192.0.2.1\"]\npeer-as = 64512\nlarge-community = [\"1:2\"]\n",
    )
    .unwrap();
    let (code, _, err) = run(&["--config", f.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("`large-community`") && err.contains("`1:2`"),
        "{err}"
    );
    std::fs::write(&f, "local-as = 64512\nhold-tmie = 9\n").unwrap();
    let (code, _, err) = run(&["--config", f.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("hold-tmie"), "{err}");
    let (code, _, err) = run(&["--config", dir.join("missing.toml").to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("missing.toml"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
