//! Real daemons in namespaces: FRR with GoBGP, BIRD and ExaBGP (needs root and the binaries;
//! skips otherwise).

use std::path::Path;
use std::time::Duration;

use testlab::{Bird, Capture, Exabgp, Frr, Gobgp, Netns, link, require_root_and, wait_until};

const T: Duration = Duration::from_secs(30);

fn frr_conf(router_id: &str, neighbors: &[(&str, u32)]) -> String {
    Frr::config(64512, router_id, neighbors)
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn netns_listed(name: &str) -> bool {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

#[test]
fn frr_and_gobgp_ibgp_route_reaches_kernel_then_teardown_is_clean() {
    if !require_root_and(&[
        "/usr/lib/frr/bgpd",
        "/usr/lib/frr/zebra",
        "vtysh",
        "gobgpd",
        "gobgp",
        "tcpdump",
        "tshark",
    ]) {
        return;
    }
    let r = Netns::new("tfr").unwrap();
    let g = Netns::new("tgb").unwrap();
    let (rn, gn) = (r.name().to_string(), g.name().to_string());
    let veth = link(&r, "10.80.0.1/24", &g, "10.80.0.2/24").unwrap();
    r.enable_forwarding().unwrap();
    let mut cap = Capture::start(&r, "veth0", None).unwrap();
    let frr = Frr::start(&r, &frr_conf("10.80.0.1", &[("10.80.0.2", 64512)])).unwrap();
    let gb = Gobgp::start(
        &g,
        &Gobgp::config(64512, "10.80.0.2", &[("10.80.0.1", 64512)]),
    )
    .unwrap();
    gb.wait_established("10.80.0.1", T).unwrap();
    frr.wait_established("10.80.0.2", T).unwrap();
    gb.add_route("172.16.10.0/32", "10.80.0.2").unwrap();
    assert!(gb.has_route("172.16.10.0/32"));
    assert!(
        wait_until(T, || frr.path_count("172.16.10.0/32") == 1),
        "FRR never got the route: {:?}",
        frr.route_json("172.16.10.0/32")
    );
    let nh = frr.wait_kernel_nexthops("172.16.10.0/32", 1, T).unwrap();
    assert_eq!(nh[0].gateway, Some("10.80.0.2".parse().unwrap()));
    let peer = frr.summary_peer("10.80.0.2").unwrap();
    assert_eq!(peer["pfxRcd"].as_u64(), Some(1), "{peer}");
    assert_eq!(
        frr.neighbor("10.80.0.2").unwrap()["bgpTimerHoldTimeMsecs"].as_u64(),
        Some(9000)
    );
    // Withdraw: gone from FRR and the kernel.
    gb.del_route("172.16.10.0/32").unwrap();
    assert!(wait_until(T, || frr.path_count("172.16.10.0/32") == 0));
    frr.wait_kernel_nexthops("172.16.10.0/32", 0, T).unwrap();
    // Freeze GoBGP: FRR's hold timer (9 s) expires, then it recovers after SIGCONT.
    gb.add_route("172.16.10.0/32", "10.80.0.2").unwrap();
    frr.wait_kernel_nexthops("172.16.10.0/32", 1, T).unwrap();
    gb.signal("STOP").unwrap();
    let frozen = std::time::Instant::now();
    frr.wait_kernel_nexthops("172.16.10.0/32", 0, T).unwrap();
    let held = frozen.elapsed();
    assert!(
        held >= Duration::from_secs(4) && held <= Duration::from_secs(12),
        "hold timer fired after {held:?}"
    );
    gb.signal("CONT").unwrap();
    frr.wait_established("10.80.0.2", T).unwrap();
    cap.stop().unwrap();
    assert!(cap.bgp_message_count(1).unwrap() >= 2, "two OPENs captured");
    assert!(
        cap.bgp_message_count(2).unwrap() >= 2,
        "announce + withdraw"
    );
    assert_eq!(cap.malformed_count().unwrap(), 0);

    let pids = [frr.bgpd_pid(), frr.zebra_pid(), gb.pid(), cap.pid()];
    let rundir = Path::new("/var/run/frr").join(frr.pathspace());
    let dirs = [
        frr.dir().to_path_buf(),
        gb.dir().to_path_buf(),
        cap.dir().to_path_buf(),
    ];
    assert!(rundir.exists());
    drop(frr);
    drop(gb);
    drop(cap);
    drop(veth);
    drop(r);
    drop(g);
    for p in pids {
        assert!(!pid_alive(p), "pid {p} survived");
    }
    assert!(!netns_listed(&rn) && !netns_listed(&gn), "namespaces left");
    assert!(!rundir.exists(), "pathspace dir left");
    if std::env::var_os("TESTLAB_KEEP").is_none() {
        for d in dirs {
            assert!(!d.exists(), "{} left", d.display());
        }
    }
}

#[test]
fn bird_establishes_with_frr_and_exchanges_routes() {
    if !require_root_and(&["/usr/lib/frr/bgpd", "vtysh", "bird", "birdc"]) {
        return;
    }
    let r = Netns::new("tfb").unwrap();
    let b = Netns::new("tbd").unwrap();
    let _v = link(&r, "10.81.0.1/24", &b, "10.81.0.2/24").unwrap();
    let conf = format!(
        "{}!\nrouter bgp 64512\n address-family ipv4 unicast\n  network 10.99.1.0/24\n exit-address-family\n",
        frr_conf("10.81.0.1", &[("10.81.0.2", 64513)])
    );
    let frr = Frr::start(&r, &conf).unwrap();
    let bird = Bird::start(
        &b,
        "router id 10.81.0.2;\nprotocol device {}\nprotocol direct { ipv4; }\n\
         protocol static st { ipv4; route 10.99.2.0/24 blackhole; }\n\
         protocol kernel { ipv4 { export all; }; }\n\
         protocol bgp frr1 {\n local 10.81.0.2 as 64513;\n neighbor 10.81.0.1 as 64512;\n \
         hold time 9;\n connect delay time 1;\n connect retry time 1;\n \
         ipv4 { import all; export where source = RTS_STATIC; };\n}\n",
    )
    .unwrap();
    bird.wait_established("frr1", T).unwrap();
    frr.wait_established("10.81.0.2", T).unwrap();
    assert!(
        wait_until(T, || frr.path_count("10.99.2.0/24") == 1),
        "FRR got BIRD's route"
    );
    assert!(
        wait_until(T, || bird
            .birdc("show route 10.99.1.0/24")
            .is_ok_and(|s| s.contains("10.99.1.0/24"))),
        "BIRD got FRR's route"
    );
}

#[test]
fn exabgp_connects_to_frr_and_announces() {
    if !require_root_and(&["/usr/lib/frr/bgpd", "vtysh", "exabgp"]) {
        return;
    }
    let r = Netns::new("tfe").unwrap();
    let e = Netns::new("tex").unwrap();
    let _v = link(&r, "10.82.0.1/24", &e, "10.82.0.2/24").unwrap();
    let conf = format!(
        "{}!\nrouter bgp 64512\n address-family ipv4 unicast\n  network 10.99.3.0/24\n \
         exit-address-family\n",
        frr_conf("10.82.0.1", &[("10.82.0.2", 64512)])
    );
    let frr = Frr::start(&r, &conf).unwrap();
    let exa = Exabgp::start(
        &e,
        &format!(
            "{}neighbor 10.82.0.1 {{\n router-id 10.82.0.2;\n local-address 10.82.0.2;\n \
             local-as 64512;\n peer-as 64512;\n hold-time 9;\n \
             api {{ processes [ tlrecv ]; receive {{ parsed; update; }} }}\n \
             static {{\n  route 172.16.20.0/32 next-hop 10.82.0.2;\n }}\n}}\n",
            Exabgp::RECEIVER_PROCESS
        ),
    )
    .unwrap();
    frr.wait_established("10.82.0.2", T)
        .unwrap_or_else(|e| panic!("{e}\nexabgp log:\n{}", exa.log()));
    assert!(wait_until(T, || frr.path_count("172.16.20.0/32") == 1));
    // ExaBGP's own decoding of FRR's UPDATE reaches the receiver process.
    assert!(
        wait_until(T, || exa.api_messages().iter().any(|m| {
            m["type"] == "update"
                && m["neighbor"]["message"]["update"]["announce"]["ipv4 unicast"]
                    .as_object()
                    .is_some_and(|nh| {
                        nh.values()
                            .filter_map(|v| v.as_array())
                            .flatten()
                            .any(|n| n["nlri"] == "10.99.3.0/24")
                    })
        })),
        "no parsed update in {:?}\n{}",
        exa.api_messages(),
        exa.log()
    );
    assert!(exa.is_running());
}

#[test]
fn frr_rejects_a_config_typo_and_cleans_up() {
    if !require_root_and(&["/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh"]) {
        return;
    }
    let r = Netns::new("tft").unwrap();
    let conf = format!(
        "{} neighbr 10.83.0.2 remote-as 1\n",
        frr_conf("10.83.0.1", &[])
    );
    let err = Frr::start(&r, &conf).expect_err("typo must be reported");
    assert!(err.message().contains("neighbr"), "{err}");
    // Nothing of that FRR may survive the failed start.
    let out = std::process::Command::new("ip")
        .args(["netns", "pids", r.name()])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).trim().is_empty(),
        "processes left in netns"
    );
}

#[test]
fn namespaces_ignore_router_advertisements() {
    if !require_root_and(&["/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh"]) {
        return;
    }
    let r = Netns::new("tra").unwrap();
    let quiet = Netns::new("trq").unwrap();
    let control = Netns::new("trc").unwrap();
    let _v1 = link(&r, "fd84:1::1/64", &quiet, "fd84:1::2/64").unwrap();
    let _v2 = link(&r, "fd84:2::1/64", &control, "fd84:2::2/64").unwrap();
    // The control namespace opts back in, so it shows that RAs really flow.
    control
        .set_sysctl("net.ipv6.conf.veth0.accept_ra", "1")
        .unwrap();
    control
        .set_sysctl("net.ipv6.conf.veth0.autoconf", "1")
        .unwrap();
    let zebra = "hostname z\n!\ninterface veth0\n ipv6 nd ra-interval 1\n no ipv6 nd suppress-ra\n!\n\
                 interface veth1\n ipv6 nd ra-interval 1\n no ipv6 nd suppress-ra\n!\n";
    let _frr = Frr::start_with(&r, &Frr::config(64512, "10.84.0.1", &[]), zebra).unwrap();
    let slaac = |ns: &Netns, net: &str| {
        ns.ip(&["-6", "addr", "show", "dev", "veth0"])
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains(net) && !l.contains(&format!("{net}:2/64")))
    };
    assert!(
        wait_until(T, || slaac(&control, "fd84:2:")),
        "control never autoconfigured: {}",
        control.ip(&["-6", "addr"]).unwrap_or_default()
    );
    // Same RA cadence on both links: give the quiet side a moment more, then check.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !slaac(&quiet, "fd84:1:"),
        "{}",
        quiet.ip(&["-6", "addr"]).unwrap()
    );
}
