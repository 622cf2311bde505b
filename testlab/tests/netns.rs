//! Namespaces, veths, bridges and teardown (needs root; skips otherwise).

use std::path::Path;
use std::time::Duration;

use testlab::{Bridge, Netns, Veth, link, require_root_and};

fn netns_exists(name: &str) -> bool {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn two_namespaces_ping_over_veth_v4_and_v6() {
    if !require_root_and(&["ip", "ping"]) {
        return;
    }
    let a = Netns::new("tla").unwrap();
    let b = Netns::new("tlb").unwrap();
    assert!(a.name().len() <= 15);
    let v = link(&a, "10.77.0.1/24 fd77::1/64", &b, "10.77.0.2/24,fd77::2/64").unwrap();
    assert_eq!(v.a_if(), "veth0");
    assert!(a.ping("10.77.0.2", Duration::from_secs(3)), "v4 ping");
    assert!(b.ping("fd77::1", Duration::from_secs(3)), "v6 ping (nodad)");
    assert!(
        !a.ping("10.77.0.99", Duration::from_secs(1)),
        "no such host"
    );
    // Link down: ping must fail.
    v.set_a_up(false).unwrap();
    assert!(!a.ping("10.77.0.2", Duration::from_secs(1)));
}

#[test]
fn teardown_removes_namespaces_veths_and_processes() {
    if !require_root_and(&["ip", "sleep", "sh"]) {
        return;
    }
    let a = Netns::new("tld").unwrap();
    let b = Netns::new("tle").unwrap();
    let (an, bn) = (a.name().to_string(), b.name().to_string());
    let v = link(&a, "10.78.0.1/24", &b, "10.78.0.2/24").unwrap();
    let p1 = a.spawn_args(&["sleep", "600"], None).unwrap();
    // A process that ignores SIGTERM must be SIGKILLed after the grace period.
    let p2 = b
        .spawn_args(&["sh", "-c", "trap '' TERM; sleep 600 & wait"], None)
        .unwrap();
    assert!(a.is_running(p1) && b.is_running(p2));
    assert!(pid_alive(p1) && pid_alive(p2));
    assert!(netns_exists(&an) && netns_exists(&bn));
    drop(v);
    assert!(a.ip(&["link", "show", "veth0"]).is_err(), "veth deleted");
    drop(a);
    drop(b);
    assert!(!netns_exists(&an), "{an} still listed");
    assert!(!netns_exists(&bn), "{bn} still listed");
    assert!(!pid_alive(p1), "pid {p1} survived");
    assert!(!pid_alive(p2), "pid {p2} survived");
}

#[test]
fn teardown_happens_on_panic() {
    if !require_root_and(&["ip", "sleep"]) {
        return;
    }
    let names = std::sync::Mutex::new((String::new(), 0u32));
    let r = std::panic::catch_unwind(|| {
        let a = Netns::new("tlp").unwrap();
        let pid = a.spawn_args(&["sleep", "600"], None).unwrap();
        *names.lock().unwrap() = (a.name().to_string(), pid);
        panic!("test body failed");
    });
    assert!(r.is_err());
    let (name, pid) = names.lock().unwrap().clone();
    assert!(!name.is_empty());
    assert!(!netns_exists(&name));
    assert!(!pid_alive(pid));
}

#[test]
fn stop_signal_and_wait_exit_by_pid() {
    if !require_root_and(&["ip", "sleep"]) {
        return;
    }
    let a = Netns::new("tls").unwrap();
    let p1 = a.spawn_args(&["sleep", "600"], None).unwrap();
    let p2 = a.spawn_args(&["sleep", "600"], None).unwrap();
    a.signal(p1, "KILL").unwrap();
    assert!(a.wait_exit(p1, Duration::from_secs(5)).is_some());
    assert!(!pid_alive(p1));
    assert!(a.is_running(p2));
    a.stop(p2).unwrap();
    assert!(!pid_alive(p2));
    assert!(a.pids().is_empty());
    assert!(a.signal(12345678, "TERM").is_err(), "not our child");
}

#[test]
fn bridge_lan_and_routed_client() {
    if !require_root_and(&["ip", "ping"]) {
        return;
    }
    let mut br = Bridge::new("tlsw").unwrap();
    let r = Netns::new("tlr").unwrap();
    let n1 = Netns::new("tln").unwrap();
    let n2 = Netns::new("tln").unwrap();
    let c = Netns::new("tlc").unwrap();
    br.attach(&r, "eth0", "10.79.1.1/24").unwrap();
    br.attach(&n1, "eth0", "10.79.1.10/24").unwrap();
    br.attach(&n2, "eth0", "10.79.1.21/24 fd79::21/64").unwrap();
    let v: Veth = link(&r, "10.79.10.1/24", &c, "10.79.10.100/24").unwrap();
    assert_eq!((v.a().name(), v.b().name()), (r.name(), c.name()));
    r.enable_forwarding().unwrap();
    c.add_route("default", "10.79.10.1").unwrap();
    n1.add_route("default", "10.79.1.1").unwrap();
    assert!(
        n2.ping("10.79.1.10", Duration::from_secs(3)),
        "L2 between nodes"
    );
    assert!(c.ping("10.79.1.10", Duration::from_secs(3)), "routed via r");
    assert!(
        !c.ping("10.79.1.21", Duration::from_secs(1)),
        "n2 has no return route"
    );
    let nh = c.route_nexthops("default").unwrap();
    assert_eq!(nh.len(), 1);
    assert_eq!(nh[0].gateway, Some("10.79.10.1".parse().unwrap()));
}

#[test]
fn stale_namespaces_of_dead_creators_are_removed() {
    if !require_root_and(&["ip", "sleep"]) {
        return;
    }
    // A live namespace of this process; creating it also runs the once-per-process sweep
    // before the fake stale entry below exists. It must survive the sweep.
    let live = Netns::new("tlsl").unwrap();
    // A namespace whose registered creator is "dead": our own pid with a start time that is not
    // ours (what PID reuse would look like).
    let name = testlab::unique_name("tlst");
    let st = std::process::Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::create_dir_all("/run/testlab").unwrap();
    std::fs::write(
        format!("/run/testlab/{name}"),
        format!("{} 1\n", std::process::id()),
    )
    .unwrap();
    let mut orphan = std::process::Command::new("ip")
        .args(["netns", "exec", &name, "sleep", "600"])
        .spawn()
        .unwrap();
    assert!(testlab::wait_until(Duration::from_secs(5), || {
        let out = std::process::Command::new("ip")
            .args(["netns", "pids", &name])
            .output()
            .unwrap();
        !String::from_utf8_lossy(&out.stdout).trim().is_empty()
    }));
    // Another test process may sweep it first; either way it must be gone afterwards.
    testlab::remove_stale_namespaces();
    assert!(!netns_exists(&name), "stale namespace kept");
    assert!(!Path::new(&format!("/run/testlab/{name}")).exists());
    let status = orphan.wait().unwrap();
    assert!(!status.success(), "the orphan inside was killed");
    assert!(netns_exists(live.name()), "live namespace removed");
}
