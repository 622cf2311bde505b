//! CPU and memory of many BFD sessions in one process, side by side with FRR's bfdd in the
//! same run: N sessions at 100 ms x 3 between our driver (one namespace, N local addresses)
//! and bfdd (another namespace, N configured peers). Both processes' CPU time and resident
//! memory are read from /proc over the same window.
//!
//! ```text
//! flock /work/heavy.lock cargo run --release -p bgp-bfd --features tokio --example scale -- 1000 20
//! ```
//! Arguments: sessions (default 1000), measured seconds (per window; default 20). Needs
//! root, FRR and ethtool.
//!
//! Two windows are measured, both printed:
//! - unsteered: as veth works by default, each packet is delivered into the receiving
//!   socket inside the SENDER's send system call, so each process is also charged for
//!   the kernel's receive processing of the packets it sends (the peer's work; IRQ time
//!   accounting is off in this kernel). The `RESULT ours:` / `RESULT frr bfdd:` lines,
//!   comparable with earlier versions of this example, are from this window.
//! - steered (`BFD_STEER=napi`, the default): threaded NAPI on both veth ends, so that the
//!   receive processing of each side's packets runs in a kernel thread of its own, as it
//!   would on the peer's machine on a real network; the processes are then charged for
//!   their own work only, and the receive threads' CPU time is printed beside them.
//!   On this VM a receive thread is woken for nearly every packet, which adds context
//!   switches to both sides (see the context switches/s). `BFD_STEER=rps` steers with
//!   Receive Packet Steering instead (see the comment in `main`), `off` skips it.
//!
//! `BFD_LINK_TX=off` sends through the UDP socket only (default: on,
//! [`DriverConfig::link_tx`]).
//!
//! `BFD_POLL_ABOVE=off` (or a rate) and `BFD_POLL_MS=N` override the driver's
//! [`DriverConfig::poll_above_pps`] and [`DriverConfig::poll_interval`].
//!
//! Kernel floor: `scale floor [SESSIONS] [SECS]` measures what the kernel's UDP path alone
//! costs at the same packet rate, with no BFD logic, no tokio and no FRR: the same two
//! namespaces and addresses, and in each a blaster process (this example re-executed) that
//! every 5 ms drains its receive socket with `recvmmsg` and sends SESSIONS x 5 / 87.5
//! packets (the mean rate of BFD's 75-100 % jitter at 100 ms) with one `sendmmsg`, the
//! "many" side choosing each packet's source address with IP_PKTINFO as our driver does.
//! Each blaster's on-CPU time (schedstat) is printed as `RESULT floor unsteered:` and,
//! unless `BFD_STEER=off`, `RESULT floor steered:` (threaded NAPI, as above).
//! `BFD_FLOOR_TX=packet`: the blasters send whole IPv4/UDP packets through a packet
//! socket to the peer's MAC instead (the way out of [`DriverConfig::link_tx`]).
//!
//! ```text
//! flock /work/heavy.lock target/release/examples/scale floor 1000 20
//! ```
#![allow(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bgp_bfd::driver::{Bfd, DriverConfig};
use bgp_bfd::{SessionConfig, State};
use testlab::{Frr, Netns, link, wait_until};

fn our_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 30, (i / 250) as u8, (i % 250 + 1) as u8)
}
const FRR_ADDR: Ipv4Addr = Ipv4Addr::new(10, 30, 255, 254);

/// ((utime, stime) in clock ticks, VmRSS in KiB) of a process ("self" or a PID).
fn proc_usage(pid: &str) -> ((u64, u64), u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3; utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = (
        f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0),
        f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0),
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (ticks, rss)
}

/// Context switches (voluntary + involuntary) summed over the threads of a process: the
/// wake-ups it took.
fn ctx_switches(pid: &str) -> u64 {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    dir.flatten()
        .map(|t| {
            std::fs::read_to_string(t.path().join("status"))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

/// Nanoseconds on CPU summed over the threads of a process, from /proc/PID/task/*/schedstat:
/// the scheduler's exact runtime (not sampled at ticks, like utime/stime are). Without
/// IRQ time accounting it includes softirq work done while the process was running.
fn on_cpu_ns(pid: &str) -> u64 {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    dir.flatten()
        .filter_map(|t| {
            std::fs::read_to_string(t.path().join("schedstat"))
                .ok()?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

fn ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("floor") => return floor_main(std::env::args().skip(2)),
        Some("floor-blast") => return blast_main(std::env::args().skip(2)),
        _ => {}
    }
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    assert!(n <= 250 * 250, "at most 62500 sessions");
    assert!(
        testlab::require_root_and(&["/usr/lib/frr/bfdd", "/usr/lib/frr/zebra", "vtysh"]),
        "needs root and FRR"
    );

    let ours_ns = Netns::new("bsa").unwrap();
    let frr_ns = Netns::new("bsb").unwrap();
    let veth = link(&frr_ns, &format!("{FRR_ADDR}/16"), &ours_ns, "").unwrap();
    add_our_addrs(&ours_ns, veth.b_if(), n);

    let peers: Vec<String> = (0..n).map(|i| our_addr(i).to_string()).collect();
    let refs: Vec<&str> = peers.iter().map(String::as_str).collect();
    let mut frr = Frr::start(&frr_ns, "hostname bgpd\n").unwrap();
    let bfdd = frr
        .start_bfdd(&Frr::bfdd_config(&refs, 100, 100, 3))
        .unwrap();
    println!("bfdd (pid {bfdd}) configured with {n} peers");

    let up = Arc::new(AtomicUsize::new(0));
    let downs = Arc::new(AtomicUsize::new(0));
    // Downs by cause: [we stopped hearing bfdd (diag 1), bfdd said Down (diag 3), other].
    let causes = Arc::new([
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ]);
    let stop = Arc::new(AtomicBool::new(false));
    let rss_before = proc_usage("self").1;
    let (u, d, st, c) = (up.clone(), downs.clone(), stop.clone(), causes.clone());
    let (handle_tx, handle_rx) = std::sync::mpsc::channel::<Bfd>();
    let ours = testlab::spawn_in_netns(&ours_ns, move || async move {
        // BFD_POLL_ABOVE=off|N and BFD_POLL_MS=N override the driver's polling choice.
        let mut cfg = DriverConfig {
            ipv6: false,
            ..DriverConfig::default()
        };
        match std::env::var("BFD_POLL_ABOVE").ok().as_deref() {
            Some("off") => cfg.poll_above_pps = None,
            Some(v) => cfg.poll_above_pps = v.parse().ok(),
            None => {}
        }
        if let Some(ms) = std::env::var("BFD_POLL_MS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            cfg.poll_interval = Duration::from_millis(ms);
        }
        // BFD_LINK_TX=off: Control packets through the UDP socket only.
        cfg.link_tx = std::env::var("BFD_LINK_TX").as_deref() != Ok("off");
        println!(
            "driver: poll above {:?} pkts/s, round every {:?} while polling, link_tx {}",
            cfg.poll_above_pps, cfg.poll_interval, cfg.link_tx
        );
        let bfd = Bfd::spawn(cfg).await.expect("bind 3784");
        let _ = handle_tx.send(bfd.clone());
        let scfg = SessionConfig::new(Duration::from_millis(100), Duration::from_millis(100), 3);
        let mut sessions = Vec::with_capacity(n);
        for i in 0..n {
            let s = bfd
                .add_session_from(IpAddr::V4(FRR_ADDR), IpAddr::V4(our_addr(i)), scfg.clone())
                .await
                .unwrap();
            let mut w = s.watch();
            let (u, d, c) = (u.clone(), d.clone(), c.clone());
            tokio::spawn(async move {
                let mut was_up = false;
                while w.changed().await.is_ok() {
                    let now_up = w.borrow().state == State::Up;
                    if now_up && !was_up {
                        u.fetch_add(1, Ordering::Relaxed);
                    } else if !now_up && was_up {
                        u.fetch_sub(1, Ordering::Relaxed);
                        d.fetch_add(1, Ordering::Relaxed);
                        let k = match w.borrow().local_diag {
                            bgp_bfd::Diag::ControlDetectionTimeExpired => 0,
                            bgp_bfd::Diag::NeighborSignaledSessionDown => 1,
                            _ => 2,
                        };
                        c[k].fetch_add(1, Ordering::Relaxed);
                    }
                    was_up = now_up;
                }
            });
            sessions.push(s);
        }
        while !st.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let sent = bfd.stats().sent.load(Ordering::Relaxed);
        let rcvd = bfd.stats().received.load(Ordering::Relaxed);
        let on_link = bfd.stats().link_sent.load(Ordering::Relaxed);
        (sent, rcvd, on_link)
    });

    let bfd_handle = handle_rx.recv().expect("driver started");
    let counts = || {
        let s = bfd_handle.stats();
        (
            s.sent.load(Ordering::Relaxed),
            s.received.load(Ordering::Relaxed),
        )
    };
    let t0 = Instant::now();
    let all_up = wait_until(Duration::from_secs(120), || up.load(Ordering::Relaxed) == n);
    println!(
        "{} of {n} sessions Up after {:?}",
        up.load(Ordering::Relaxed),
        t0.elapsed()
    );
    assert!(all_up, "not all sessions came Up");
    // Let the coming-Up Poll Sequences settle, then measure.
    std::thread::sleep(Duration::from_secs(3));
    let bfdd_pid = bfdd.to_string();
    let downs_before = downs.load(Ordering::Relaxed);

    // Window 1, as the machine is set up by default: veth delivers each packet into the
    // receiving socket on the SENDING CPU, inside the send system call, so each process
    // is charged for the kernel's receive processing of the packets it SENDS (the
    // peer's receive work). IRQ time accounting is off in this kernel, so that softirq
    // time lands on whoever runs.
    let plain = measure(secs, &bfdd_pid, &counts, (&[], &[]));
    plain.print("unsteered (each side also pays the peer's receive processing)");
    let (our_rss, frr_rss) = (proc_usage("self").1, proc_usage(&bfdd_pid).1);

    // Window 2, the fair model: on a real deployment the peer is another machine, and
    // its receive processing is never charged to us. Threaded NAPI on both veth ends
    // (GRO on, so veth queues packets for its NAPI instead of delivering them inline,
    // and `threaded`, so that NAPI runs in a kernel thread "napi/<dev>-<id>"): the
    // receive processing of each side's packets then runs in a thread of its own,
    // whose CPU time is measured and printed beside the process it delivers to. Same
    // rules for bfdd. `BFD_STEER=rps` instead steers with Receive Packet Steering (each
    // veth end's receive processing on the receiver's CPU, each process pinned to its
    // CPU): on this VM every steered packet costs the sender an inter-processor
    // interrupt (an x2APIC MSR write, a VM exit), so that model charges us more, not
    // less. `BFD_STEER=off`: no second window.
    let mode = std::env::var("BFD_STEER").unwrap_or_else(|_| "napi".into());
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let steered = match mode.as_str() {
        "rps" if cpus >= 2 => {
            let rps = |ns: &Netns, dev: &str, mask: &str| {
                ns.exec(&[
                    "sh",
                    "-c",
                    &format!("echo {mask} > /sys/class/net/{dev}/queues/rx-0/rps_cpus"),
                ])
            };
            let ok = rps(&ours_ns, veth.b_if(), "1").is_ok()
                && rps(&frr_ns, veth.a_if(), "2").is_ok()
                && pin("self", 0)
                && pin(&bfdd_pid, 1);
            println!(
                "steered (rps): RPS on our veth end -> CPU 0, on bfdd's -> CPU 1; we run on CPU 0, bfdd on CPU 1: {}",
                if ok { "set" } else { "FAILED" }
            );
            ok.then(|| (Vec::new(), Vec::new()))
        }
        "napi" => {
            let ours_rx = threaded_napi(&ours_ns, veth.b_if());
            let bfdd_rx = threaded_napi(&frr_ns, veth.a_if());
            println!("steered (napi): receive threads: ours {ours_rx:?}, bfdd's {bfdd_rx:?}");
            (!ours_rx.is_empty() && !bfdd_rx.is_empty()).then_some((ours_rx, bfdd_rx))
        }
        _ => None,
    };
    let steered = steered.map(|(ours_rx, bfdd_rx)| {
        std::thread::sleep(Duration::from_secs(2));
        let w = measure(secs, &bfdd_pid, &counts, (&ours_rx, &bfdd_rx));
        w.print(&format!(
            "steered ({mode}; fair: each side pays its own work only)"
        ));
        w
    });
    if steered.is_none() {
        println!("steered: no second window (BFD_STEER={mode}, {cpus} CPUs)");
    }

    let flaps = downs.load(Ordering::Relaxed) - downs_before;
    let frr_up = frr
        .bfd_peers()
        .ok()
        .and_then(|v| {
            v.as_array()
                .map(|a| a.iter().filter(|p| p["status"] == "up").count())
        })
        .unwrap_or(0);
    stop.store(true, Ordering::Relaxed);
    let (sent, rcvd, on_link) = ours.join().unwrap();
    drop(bfd_handle);
    println!("RESULT sessions={n} interval=100ms x3 windows={secs}s");
    // The lines of the earlier versions of this example, from the unsteered window.
    println!(
        "RESULT ours: cpu={:.2}% of one core (user {:.2}%, system {:.2}%), rss={our_rss} KiB (+{} KiB over the idle process), \
         sent={sent} (on the link {on_link}) received={rcvd} total",
        plain.ours.cpu(),
        plain.ours.user,
        plain.ours.system,
        our_rss.saturating_sub(rss_before)
    );
    println!(
        "RESULT frr bfdd: cpu={:.2}% of one core (user {:.2}%, system {:.2}%), rss={frr_rss} KiB",
        plain.bfdd.cpu(),
        plain.bfdd.user,
        plain.bfdd.system
    );
    for (name, w) in [("unsteered", Some(&plain)), ("steered", steered.as_ref())] {
        let Some(w) = w else { continue };
        println!(
            "RESULT {name}: ours {:.2}% of one core, bfdd {:.2}%, ratio {:.2} (on-CPU time from schedstat){}",
            w.ours.exact,
            w.bfdd.exact,
            if w.bfdd.exact > 0.0 {
                w.ours.exact / w.bfdd.exact
            } else {
                0.0
            },
            w.rx_threads.map_or(String::new(), |(o, b)| format!(
                "; receive threads: to ours {o:.2}%, to bfdd {b:.2}%"
            ))
        );
    }
    println!(
        "RESULT flaps during the windows: ours={flaps} (all run: {} we stopped hearing bfdd, {} bfdd \
         stopped hearing us, {} other); FRR peers up at the end: {frr_up}/{n}; load average {}",
        causes[0].load(Ordering::Relaxed),
        causes[1].load(Ordering::Relaxed),
        causes[2].load(Ordering::Relaxed),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    for (who, ns) in [("ours", &ours_ns), ("bfdd", &frr_ns)] {
        let snmp = ns.exec(&["cat", "/proc/net/snmp"]).unwrap_or_default();
        let udp: Vec<&str> = snmp.lines().filter(|l| l.starts_with("Udp:")).collect();
        if let [names, values] = udp[..] {
            let kv: Vec<String> = names
                .split_whitespace()
                .zip(values.split_whitespace())
                .skip(1)
                .filter(|(k, _)| matches!(*k, "InDatagrams" | "RcvbufErrors" | "InErrors"))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            println!("RESULT udp counters in {who}'s namespace: {}", kv.join(" "));
        }
    }
    drop(frr);
}

/// The N addresses of our side on `dev` in `ns`, in one `ip -batch`; then `dev` up.
fn add_our_addrs(ns: &Netns, dev: &str, n: usize) {
    let batch: String = (0..n)
        .map(|i| format!("addr add {}/16 dev {dev}\n", our_addr(i)))
        .collect();
    let bf = std::env::temp_dir().join(format!("bfd-scale-{}.batch", std::process::id()));
    std::fs::write(&bf, batch).unwrap();
    ns.ip(&["-batch", bf.to_str().unwrap()]).expect("ip -batch");
    let _ = std::fs::remove_file(&bf);
    ns.link_up(dev).unwrap();
}

/// Pin every thread of a process ("self" or a PID) to one CPU.
fn pin(pid: &str, cpu: usize) -> bool {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    dir.flatten().all(|t| {
        let Some(tid) = t.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            return false;
        };
        // SAFETY: an all-zero cpu_set_t is the empty set; CPU_SET stays inside it for
        // cpu < CPU_SETSIZE, and sched_setaffinity reads exactly its size.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
        }
    })
}

/// Turn on GRO and threaded NAPI on a veth end inside `ns`; returns the PIDs of the
/// kernel threads that appeared for it ("napi/<dev>-<id>").
fn threaded_napi(ns: &Netns, dev: &str) -> Vec<String> {
    let before = napi_threads();
    let ok = ns
        .exec(&[
            "ethtool",
            "-K",
            dev,
            "gro",
            "on",
            "rx-udp-gro-forwarding",
            "on",
        ])
        .is_ok()
        && ns
            .exec(&[
                "sh",
                "-c",
                &format!("echo 1 > /sys/class/net/{dev}/threaded"),
            ])
            .is_ok();
    if !ok {
        return Vec::new();
    }
    std::thread::sleep(Duration::from_millis(200));
    napi_threads()
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect()
}

/// PIDs of the threaded-NAPI kernel threads of the machine.
fn napi_threads() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.to_string();
            let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
            comm.starts_with("napi/").then_some(pid)
        })
        .collect()
}

/// Busy and total time of each CPU so far, in clock ticks, from /proc/stat (busy: all
/// but idle and iowait; the idle time of an idle-tickless kernel excludes interrupts).
fn cpu_times() -> Vec<(u64, u64)> {
    std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .map(|l| {
            let v: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .take(8)
                .filter_map(|x| x.parse().ok())
                .collect();
            let total: u64 = v.iter().sum();
            let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
            (total - idle, total)
        })
        .collect()
}

/// One process over a window, in % of one core.
struct Usage {
    user: f64,
    system: f64,
    /// On-CPU time from schedstat (exact, not sampled at ticks).
    exact: f64,
    ctx_per_s: f64,
}

impl Usage {
    fn cpu(&self) -> f64 {
        self.user + self.system
    }
}

/// Both processes over one measured window.
struct Window {
    ours: Usage,
    bfdd: Usage,
    /// Our packets per second (sent, received).
    pps: (f64, f64),
    /// % of one core used by the kernel threads receiving (ours, bfdd's) packets, when
    /// the receive processing runs in threads of its own (threaded NAPI).
    rx_threads: Option<(f64, f64)>,
    /// Busy % of each CPU over the window (all processes of the machine and interrupts).
    cpu_busy: Vec<f64>,
}

/// Measure both processes (and the receive threads delivering to each, if any) over
/// `secs` seconds.
fn measure(
    secs: u64,
    bfdd: &str,
    counts: &dyn Fn() -> (u64, u64),
    rx: (&[String], &[String]),
) -> Window {
    let snap = |pid: &str| (proc_usage(pid).0, on_cpu_ns(pid), ctx_switches(pid));
    let rx_ns = |pids: &[String]| pids.iter().map(|p| on_cpu_ns(p)).sum::<u64>();
    let (o0, f0, n0, c0) = (snap("self"), snap(bfdd), counts(), cpu_times());
    let r0 = (rx_ns(rx.0), rx_ns(rx.1));
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let wall = t0.elapsed().as_secs_f64();
    let (o1, f1, n1, c1) = (snap("self"), snap(bfdd), counts(), cpu_times());
    let r1 = (rx_ns(rx.0), rx_ns(rx.1));
    let pct_ns = |a: u64, b: u64| b.saturating_sub(a) as f64 / 1e9 / wall * 100.0;
    let tps = ticks_per_sec();
    let usage = |a: &((u64, u64), u64, u64), b: &((u64, u64), u64, u64)| Usage {
        user: (b.0.0 - a.0.0) as f64 / tps / wall * 100.0,
        system: (b.0.1 - a.0.1) as f64 / tps / wall * 100.0,
        exact: (b.1 - a.1) as f64 / 1e9 / wall * 100.0,
        ctx_per_s: (b.2 - a.2) as f64 / wall,
    };
    Window {
        ours: usage(&o0, &o1),
        bfdd: usage(&f0, &f1),
        pps: ((n1.0 - n0.0) as f64 / wall, (n1.1 - n0.1) as f64 / wall),
        rx_threads: (!rx.0.is_empty()).then(|| (pct_ns(r0.0, r1.0), pct_ns(r0.1, r1.1))),
        cpu_busy: c0
            .iter()
            .zip(&c1)
            .map(|(a, b)| {
                let total = b.1.saturating_sub(a.1);
                if total == 0 {
                    0.0
                } else {
                    b.0.saturating_sub(a.0) as f64 / total as f64 * 100.0
                }
            })
            .collect(),
    }
}

impl Window {
    fn print(&self, what: &str) {
        println!("window {what}:");
        for (who, u) in [("ours", &self.ours), ("bfdd", &self.bfdd)] {
            println!(
                "  {who}: {:.2}% of one core on-CPU (schedstat); ticks: user {:.2}% system {:.2}%; {:.0} context switches/s",
                u.exact, u.user, u.system, u.ctx_per_s
            );
        }
        if let Some((o, b)) = self.rx_threads {
            println!(
                "  receive threads (kernel, not in the processes above): delivering to ours {o:.2}%, to bfdd {b:.2}%; \
                 ours with its receive thread {:.2}%, bfdd with its {:.2}%",
                self.ours.exact + o,
                self.bfdd.exact + b
            );
        }
        println!(
            "  ours sent {:.0} pkts/s, received {:.0} pkts/s; CPUs busy (whole machine, all processes): {}",
            self.pps.0,
            self.pps.1,
            self.cpu_busy
                .iter()
                .enumerate()
                .map(|(i, b)| format!("cpu{i} {b:.1}%"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

// Kernel floor (`scale floor [SESSIONS] [SECS]`): the kernel's UDP path alone at the rate
// of N sessions, measured in two blaster processes, one per namespace.

/// Seconds each blaster runs before its measured window.
const FLOOR_WARMUP_SECS: u64 = 3;
/// One blaster round (receive everything queued, send one batch) every 5 ms.
const ROUND_NS: u64 = 5_000_000;
/// Datagrams per `recvmmsg` call.
const FLOOR_RX_BATCH: usize = 256;
/// Receive buffer per datagram (a Control packet is at most 255 octets).
const FLOOR_RX_BUF: usize = 256;
/// Control-message room per received datagram, in u64 words: 128 octets.
const FLOOR_RX_CTRL_WORDS: usize = 16;
/// Control-message room per sent datagram, in u64 words: CMSG_SPACE(in_pktinfo) is 32.
const FLOOR_TX_CTRL_WORDS: usize = 4;
/// What each datagram carries: a BFD Control header (version 1, Up, detect mult 3,
/// length 24, discriminators 1 and 1, 100 ms desired TX and required RX, no echo).
const FLOOR_PAYLOAD: [u8; 24] = [
    0x20, 0xc0, 3, 24, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 0, 0, 0, 0,
];

/// A whole IPv4/UDP packet carrying FLOOR_PAYLOAD.
const PKT_LEN: usize = 20 + 8 + 24;

fn sum16(init: u32, data: &[u8]) -> u32 {
    let mut s = init;
    for c in data.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s
}

/// IPv4 (TTL 255, CS6, DF) + UDP with both checksums; addresses in network order.
fn ipv4_udp(src: u32, dst: u32, sport: u16, dport: u16, payload: &[u8; 24]) -> [u8; PKT_LEN] {
    let mut d = [0u8; PKT_LEN];
    let (s, t) = (src.to_ne_bytes(), dst.to_ne_bytes());
    d[0] = 0x45;
    d[1] = 0xc0;
    d[2..4].copy_from_slice(&(PKT_LEN as u16).to_be_bytes());
    d[6] = 0x40;
    d[8] = 255;
    d[9] = 17;
    d[12..16].copy_from_slice(&s);
    d[16..20].copy_from_slice(&t);
    let ip = !(sum16(0, &d[..20]) as u16);
    d[10..12].copy_from_slice(&ip.to_be_bytes());
    d[20..22].copy_from_slice(&sport.to_be_bytes());
    d[22..24].copy_from_slice(&dport.to_be_bytes());
    d[24..26].copy_from_slice(&((PKT_LEN - 20) as u16).to_be_bytes());
    d[28..].copy_from_slice(payload);
    let mut pseudo = [0u8; 12];
    pseudo[..4].copy_from_slice(&s);
    pseudo[4..8].copy_from_slice(&t);
    pseudo[9] = 17;
    pseudo[10..12].copy_from_slice(&((PKT_LEN - 20) as u16).to_be_bytes());
    let u = match !(sum16(sum16(0, &pseudo), &d[20..]) as u16) {
        0 => 0xffff,
        x => x,
    };
    d[26..28].copy_from_slice(&u.to_be_bytes());
    d
}

/// The two ends of the floor run: "many" holds the N addresses (our driver's side), "one"
/// holds FRR_ADDR (bfdd's side).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Many,
    One,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Many => "many",
            Side::One => "one",
        }
    }
}

/// `scale floor [SESSIONS] [SECS]`: namespaces, an unsteered window and (unless
/// `BFD_STEER=off`) a steered one, each measured in two fresh blaster processes.
fn floor_main(mut args: impl Iterator<Item = String>) {
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    assert!((1..=250 * 250).contains(&n), "1 to 62500 sessions");
    assert!(testlab::require_root_and(&["ip"]), "needs root");

    let many_ns = Netns::new("bfm").unwrap();
    let one_ns = Netns::new("bfo").unwrap();
    let veth = link(&one_ns, &format!("{FRR_ADDR}/16"), &many_ns, "").unwrap();
    add_our_addrs(&many_ns, veth.b_if(), n);
    let per_s = n as f64 * 1000.0 / 87.5;
    println!(
        "floor: {n} addresses on \"many\" ({}), {FRR_ADDR} on \"one\" ({}); each side sends {per_s:.0} pkts/s \
         ({:.2} per 5 ms round), warmup {FLOOR_WARMUP_SECS} s, windows {secs} s",
        many_ns.name(),
        one_ns.name(),
        n as f64 * 5.0 / 87.5
    );

    let plain = floor_window(n, secs, &many_ns, &one_ns, (&[], &[]));
    plain.print("unsteered");
    let mode = std::env::var("BFD_STEER").unwrap_or_else(|_| "napi".into());
    let steered = if mode == "off" {
        println!("steered: no second window (BFD_STEER=off)");
        None
    } else {
        let many_rx = threaded_napi(&many_ns, veth.b_if());
        let one_rx = threaded_napi(&one_ns, veth.a_if());
        println!("steered (napi): receive threads: to many {many_rx:?}, to one {one_rx:?}");
        if many_rx.is_empty() || one_rx.is_empty() {
            println!("steered: threaded NAPI could not be set (ethtool?); no second window");
            None
        } else {
            std::thread::sleep(Duration::from_secs(2));
            let w = floor_window(n, secs, &many_ns, &one_ns, (&many_rx, &one_rx));
            w.print("steered");
            Some(w)
        }
    };
    println!(
        "RESULT floor sessions={n} rate={per_s:.0} pkts/s each way, windows={secs}s (kernel UDP path only: no BFD, no tokio)"
    );
    for (name, w) in [("unsteered", Some(&plain)), ("steered", steered.as_ref())] {
        let Some(w) = w else { continue };
        println!(
            "RESULT floor {name}: many {:.2}% one {:.2}% of one core; sent/received pkts/s: many {:.0}/{:.0}, one {:.0}/{:.0}{}",
            w.many.cpu(),
            w.one.cpu(),
            w.many.pps(w.many.sent),
            w.many.pps(w.many.received),
            w.one.pps(w.one.sent),
            w.one.pps(w.one.received),
            w.rx_threads.map_or(String::new(), |(m, o)| format!(
                "; receive threads: to many {m:.2}%, to one {o:.2}%"
            ))
        );
    }
    drop(veth);
}

/// The blaster processes of one window. Dropping it kills (SIGKILL, by PID) and reaps
/// those still running, on every exit path of the parent, panics included.
struct Blasters(Vec<std::process::Child>);

impl Drop for Blasters {
    fn drop(&mut self) {
        for c in &mut self.0 {
            // Child::kill signals this child's own PID, and does nothing once it is reaped.
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What one blaster reported over its measured window.
#[derive(Debug, Default)]
struct BlastReport {
    on_cpu_ns: u64,
    wall_ns: u64,
    sent: u64,
    received: u64,
    refused: u64,
    rx_errors: u64,
}

impl BlastReport {
    /// `floor-blast SIDE key=value ...`, as `blast_main` prints it.
    fn parse(line: &str) -> Option<BlastReport> {
        let mut r = BlastReport::default();
        for kv in line.split_whitespace().skip(2) {
            let (k, v) = kv.split_once('=')?;
            let v: u64 = v.parse().ok()?;
            match k {
                "on_cpu_ns" => r.on_cpu_ns = v,
                "wall_ns" => r.wall_ns = v,
                "sent" => r.sent = v,
                "received" => r.received = v,
                "refused" => r.refused = v,
                "rx_errors" => r.rx_errors = v,
                _ => {}
            }
        }
        (r.wall_ns > 0).then_some(r)
    }
    /// On-CPU time in % of one core.
    fn cpu(&self) -> f64 {
        self.on_cpu_ns as f64 / self.wall_ns as f64 * 100.0
    }
    /// A count over the window, per second.
    fn pps(&self, count: u64) -> f64 {
        count as f64 * 1e9 / self.wall_ns as f64
    }
}

/// Both blasters over one window, and the receive threads delivering to each (steered).
struct FloorWindow {
    many: BlastReport,
    one: BlastReport,
    rx_threads: Option<(f64, f64)>,
}

impl FloorWindow {
    fn print(&self, what: &str) {
        println!("window {what}:");
        for (side, r) in [("many", &self.many), ("one", &self.one)] {
            println!(
                "  {side}: {:.2}% of one core on-CPU (schedstat); sent {:.0} pkts/s, received {:.0} pkts/s; \
                 refused by sendmmsg {}, recvmmsg errors {}",
                r.cpu(),
                r.pps(r.sent),
                r.pps(r.received),
                r.refused,
                r.rx_errors
            );
        }
        if let Some((m, o)) = self.rx_threads {
            println!(
                "  receive threads (kernel, not in the processes above): delivering to many {m:.2}%, to one {o:.2}%"
            );
        }
    }
}

/// Run both blasters for one window (warmup, then `secs` measured) and collect their
/// reports; the receive threads (`rx`: to many, to one) are measured by this process over
/// the same window, give or take the blasters' start-up.
fn floor_window(
    n: usize,
    secs: u64,
    many: &Netns,
    one: &Netns,
    rx: (&[String], &[String]),
) -> FloorWindow {
    use std::io::Read;
    let exe = std::env::current_exe().expect("current_exe");
    let mut kids = Blasters(Vec::new());
    for (side, ns) in [(Side::Many, many), (Side::One, one)] {
        let child = std::process::Command::new(&exe)
            .args([
                "floor-blast",
                side.name(),
                &n.to_string(),
                &secs.to_string(),
                &FLOOR_WARMUP_SECS.to_string(),
                ns.name(),
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn blaster");
        kids.0.push(child);
    }
    println!(
        "blasters: many pid {}, one pid {} (warmup {FLOOR_WARMUP_SECS} s, then {secs} s measured)",
        kids.0[0].id(),
        kids.0[1].id()
    );
    let rx_ns = |pids: &[String]| pids.iter().map(|p| on_cpu_ns(p)).sum::<u64>();
    std::thread::sleep(Duration::from_secs(FLOOR_WARMUP_SECS));
    let (r0, t0) = ((rx_ns(rx.0), rx_ns(rx.1)), Instant::now());
    let mut reports = Vec::new();
    for (side, c) in [Side::Many, Side::One].into_iter().zip(kids.0.iter_mut()) {
        let mut out = String::new();
        if let Some(mut pipe) = c.stdout.take() {
            let _ = pipe.read_to_string(&mut out);
        }
        let status = c.wait().expect("wait blaster");
        let report = BlastReport::parse(out.trim())
            .unwrap_or_else(|| panic!("blaster {side:?} ({status}) reported {out:?}"));
        reports.push(report);
    }
    let wall = t0.elapsed().as_secs_f64();
    let r1 = (rx_ns(rx.0), rx_ns(rx.1));
    let pct = |a: u64, b: u64| b.saturating_sub(a) as f64 / 1e9 / wall * 100.0;
    let one_r = reports.pop().expect("two reports");
    let many_r = reports.pop().expect("two reports");
    FloorWindow {
        many: many_r,
        one: one_r,
        rx_threads: (!rx.0.is_empty()).then(|| (pct(r0.0, r1.0), pct(r0.1, r1.1))),
    }
}

/// `floor-blast SIDE SESSIONS SECS WARMUP NETNS` (hidden; started by `floor_window`):
/// enter the namespace, blast for WARMUP seconds, then measure SECS seconds and print one
/// report line.
fn blast_main(mut args: impl Iterator<Item = String>) {
    let side = match args.next().as_deref() {
        Some("many") => Side::Many,
        Some("one") => Side::One,
        other => panic!("floor-blast: side {other:?}"),
    };
    let mut num = || -> u64 {
        args.next()
            .and_then(|a| a.parse().ok())
            .expect("floor-blast SIDE SESSIONS SECS WARMUP NETNS")
    };
    let (n, secs, warmup) = (num() as usize, num(), num());
    let ns = args.next().expect("floor-blast: NETNS");
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number; no memory is passed.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    testlab::enter_netns(&ns).expect("enter the blaster's namespace");

    let mut b = Blaster::new(side, n);
    b.run_until(mono_ns() + warmup * 1_000_000_000);
    let (c0, w0) = (self_on_cpu_ns(), mono_ns());
    let (s0, r0, f0, e0) = (b.sent, b.received, b.refused, b.rx_errors);
    b.run_until(w0 + secs * 1_000_000_000);
    let (c1, w1) = (self_on_cpu_ns(), mono_ns());
    println!(
        "floor-blast {} on_cpu_ns={} wall_ns={} sent={} received={} refused={} rx_errors={}",
        side.name(),
        c1.saturating_sub(c0),
        w1 - w0,
        b.sent - s0,
        b.received - r0,
        b.refused - f0,
        b.rx_errors - e0
    );
}

/// CLOCK_MONOTONIC now, in ns.
fn mono_ns() -> u64 {
    // SAFETY: all-zero is a valid timespec.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sleep until CLOCK_MONOTONIC reaches `ns` (absolute), through signals.
fn sleep_until(ns: u64) {
    // SAFETY: all-zero is a valid timespec.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    ts.tv_sec = (ns / 1_000_000_000) as libc::time_t;
    ts.tv_nsec = (ns % 1_000_000_000) as libc::c_long;
    // SAFETY: `ts` is a valid timespec read by the call; no remainder is asked for
    // (TIMER_ABSTIME), so the null pointer is allowed.
    while unsafe {
        libc::clock_nanosleep(
            libc::CLOCK_MONOTONIC,
            libc::TIMER_ABSTIME,
            &ts,
            std::ptr::null_mut(),
        )
    } == libc::EINTR
    {}
}

/// This (single-threaded) process's on-CPU ns so far: the first field of
/// /proc/self/schedstat.
fn self_on_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn set_int_opt(sock: &impl AsRawFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) {
    // SAFETY: `v` lives across the call and the length is its exact size; the socket is
    // open (borrowed).
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "setsockopt({level}, {name}): {}",
        std::io::Error::last_os_error()
    );
}

/// One side's sockets and every buffer its rounds use, allocated once: the `mmsghdr`
/// arrays point into the other vectors' heap buffers, which are never resized after
/// `new` (moving the struct does not move them).
struct Blaster {
    side: Side,
    rx: std::net::UdpSocket,
    tx: std::net::UdpSocket,
    /// The N addresses of the "many" side, as `s_addr` (network order).
    addrs: Vec<u32>,
    /// Next address in the rotation.
    next_addr: usize,
    /// Mean datagrams per round, and the fraction carried over.
    per_round: f64,
    carry: f64,
    /// Absolute CLOCK_MONOTONIC time of the last round, in ns.
    round_at: u64,
    rx_bufs: Vec<[u8; FLOOR_RX_BUF]>,
    rx_names: Vec<libc::sockaddr_in>,
    rx_ctrl: Vec<[u64; FLOOR_RX_CTRL_WORDS]>,
    rx_iovs: Vec<libc::iovec>,
    rx_hdrs: Vec<libc::mmsghdr>,
    tx_bufs: Vec<[u8; 24]>,
    tx_names: Vec<libc::sockaddr_in>,
    tx_ctrl: Vec<[u64; FLOOR_TX_CTRL_WORDS]>,
    /// Where in `tx_ctrl[i]` the in_pktinfo of datagram i lies ("many" only).
    tx_pktinfo: Vec<*mut libc::in_pktinfo>,
    tx_iovs: Vec<libc::iovec>,
    tx_hdrs: Vec<libc::mmsghdr>,
    /// `BFD_FLOOR_TX=packet`: datagrams leave as whole IPv4/UDP packets through this
    /// `AF_PACKET` socket (the kernel's UDP and IP output skipped), built in `pkt_bufs`.
    pkt: Option<std::os::fd::OwnedFd>,
    pkt_bufs: Vec<[u8; PKT_LEN]>,
    pkt_name: Box<libc::sockaddr_ll>,
    sent: u64,
    received: u64,
    refused: u64,
    rx_errors: u64,
}

fn sockaddr_in(s_addr: u32, port: u16) -> libc::sockaddr_in {
    // SAFETY: all-zero is a valid sockaddr_in.
    let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sin.sin_family = libc::AF_INET as libc::sa_family_t;
    sin.sin_port = port.to_be();
    sin.sin_addr.s_addr = s_addr;
    sin
}

impl Blaster {
    fn new(side: Side, n: usize) -> Blaster {
        use std::mem::{size_of, zeroed};
        let rx = std::net::UdpSocket::bind("0.0.0.0:3784").expect("bind 0.0.0.0:3784");
        rx.set_nonblocking(true).unwrap();
        set_int_opt(&rx, libc::IPPROTO_IP, libc::IP_PKTINFO, 1);
        set_int_opt(&rx, libc::IPPROTO_IP, libc::IP_RECVTTL, 1);
        set_int_opt(&rx, libc::SOL_SOCKET, libc::SO_RCVBUF, 4 << 20);
        let tx_bind = match side {
            Side::Many => Ipv4Addr::UNSPECIFIED,
            Side::One => FRR_ADDR,
        };
        let tx = std::net::UdpSocket::bind((tx_bind, 49152)).expect("bind tx port 49152");
        tx.set_ttl(255).unwrap();
        set_int_opt(
            &tx,
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            libc::IP_PMTUDISC_DO,
        );

        let per_round = n as f64 * (ROUND_NS as f64 / 1e6) / 87.5;
        // At most ceil(per_round) datagrams in one round (the carry stays below 1).
        let max = per_round.ceil() as usize + 1;
        let addrs: Vec<u32> = (0..n).map(|i| u32::from(our_addr(i)).to_be()).collect();
        let to = match side {
            Side::Many => u32::from(FRR_ADDR).to_be(),
            Side::One => addrs[0],
        };
        let mut b = Blaster {
            side,
            rx,
            tx,
            addrs,
            next_addr: 0,
            per_round,
            carry: 0.0,
            round_at: mono_ns(),
            rx_bufs: vec![[0; FLOOR_RX_BUF]; FLOOR_RX_BATCH],
            rx_names: vec![sockaddr_in(0, 0); FLOOR_RX_BATCH],
            rx_ctrl: vec![[0; FLOOR_RX_CTRL_WORDS]; FLOOR_RX_BATCH],
            // SAFETY: all-zero is a valid iovec and mmsghdr.
            rx_iovs: vec![unsafe { zeroed() }; FLOOR_RX_BATCH],
            // SAFETY: as above.
            rx_hdrs: vec![unsafe { zeroed() }; FLOOR_RX_BATCH],
            tx_bufs: vec![FLOOR_PAYLOAD; max],
            tx_names: vec![sockaddr_in(to, 3784); max],
            tx_ctrl: vec![[0; FLOOR_TX_CTRL_WORDS]; max],
            tx_pktinfo: Vec::with_capacity(max),
            // SAFETY: all-zero is a valid iovec and mmsghdr.
            tx_iovs: vec![unsafe { zeroed() }; max],
            // SAFETY: as above.
            tx_hdrs: vec![unsafe { zeroed() }; max],
            pkt: None,
            pkt_bufs: vec![[0; PKT_LEN]; max],
            // SAFETY: all-zero is a valid sockaddr_ll.
            pkt_name: Box::new(unsafe { zeroed() }),
            sent: 0,
            received: 0,
            refused: 0,
            rx_errors: 0,
        };
        for i in 0..FLOOR_RX_BATCH {
            b.rx_iovs[i] = libc::iovec {
                iov_base: b.rx_bufs[i].as_mut_ptr().cast(),
                iov_len: FLOOR_RX_BUF,
            };
            let h = &mut b.rx_hdrs[i].msg_hdr;
            h.msg_name = (&mut b.rx_names[i] as *mut libc::sockaddr_in).cast();
            h.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_iov = &mut b.rx_iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = b.rx_ctrl[i].as_mut_ptr().cast();
            h.msg_controllen = size_of::<[u64; FLOOR_RX_CTRL_WORDS]>() as _;
        }
        for i in 0..max {
            b.tx_iovs[i] = libc::iovec {
                iov_base: b.tx_bufs[i].as_mut_ptr().cast(),
                iov_len: FLOOR_PAYLOAD.len(),
            };
            let h = &mut b.tx_hdrs[i].msg_hdr;
            h.msg_name = (&mut b.tx_names[i] as *mut libc::sockaddr_in).cast();
            h.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_iov = &mut b.tx_iovs[i];
            h.msg_iovlen = 1;
            if side == Side::Many {
                let len = size_of::<libc::in_pktinfo>() as u32;
                h.msg_control = b.tx_ctrl[i].as_mut_ptr().cast();
                // SAFETY: CMSG_SPACE is a pure size computation.
                h.msg_controllen = unsafe { libc::CMSG_SPACE(len) } as _;
                // SAFETY: `h` carries tx_ctrl[i] (32 octets, 8-aligned) with a length of
                // CMSG_SPACE(in_pktinfo) = 32, so CMSG_FIRSTHDR returns its start and one
                // cmsghdr plus an in_pktinfo fit inside it.
                unsafe {
                    let c = libc::CMSG_FIRSTHDR(h);
                    (*c).cmsg_level = libc::IPPROTO_IP;
                    (*c).cmsg_type = libc::IP_PKTINFO;
                    (*c).cmsg_len = libc::CMSG_LEN(len) as _;
                    b.tx_pktinfo
                        .push(libc::CMSG_DATA(c).cast::<libc::in_pktinfo>());
                }
            }
        }
        if std::env::var("BFD_FLOOR_TX").as_deref() == Ok("packet") {
            b.packet_tx(to);
        }
        b
    }

    /// Switch sending to a packet socket: resolve the peer's MAC (one datagram through
    /// the UDP socket makes the kernel ask), then point every send header at a whole
    /// IPv4/UDP packet and the peer's link address.
    fn packet_tx(&mut self, to: u32) {
        use std::os::fd::FromRawFd;
        let peer = Ipv4Addr::from(u32::from_be(to));
        let _ = self.tx.send_to(&FLOOR_PAYLOAD, (peer, 3784));
        let t0 = Instant::now();
        let (dev, mac) = loop {
            let text = std::fs::read_to_string("/proc/thread-self/net/arp").unwrap_or_default();
            let hit = text.lines().skip(1).find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 6 && f[0] == peer.to_string() && f[2] == "0x2")
                    .then(|| (f[5].to_string(), f[3].to_string()))
            });
            if let Some(h) = hit {
                break h;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(3),
                "no ARP entry for {peer}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // SAFETY: plain socket(2); the descriptor is owned at once.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        assert!(fd >= 0, "AF_PACKET: {}", std::io::Error::last_os_error());
        // SAFETY: fd is fresh and nobody else owns it.
        self.pkt = Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
        let name = std::ffi::CString::new(dev).unwrap();
        let sll = &mut *self.pkt_name;
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_IP as u16).to_be();
        // SAFETY: a valid NUL-terminated name.
        sll.sll_ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) } as i32;
        sll.sll_halen = 6;
        for (d, h) in sll.sll_addr.iter_mut().zip(mac.split(':')) {
            *d = u8::from_str_radix(h, 16).unwrap();
        }
        for i in 0..self.tx_hdrs.len() {
            self.tx_iovs[i] = libc::iovec {
                iov_base: self.pkt_bufs[i].as_mut_ptr().cast(),
                iov_len: PKT_LEN,
            };
            let h = &mut self.tx_hdrs[i].msg_hdr;
            h.msg_name = (&mut *self.pkt_name as *mut libc::sockaddr_ll).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
        }
    }

    /// Rounds every 5 ms until CLOCK_MONOTONIC reaches `deadline` (ns). No allocation.
    fn run_until(&mut self, deadline: u64) {
        while self.round_at + ROUND_NS <= deadline {
            self.round_at += ROUND_NS;
            sleep_until(self.round_at);
            self.receive();
            self.send();
        }
    }

    /// Drain the receive socket: `recvmmsg` batches until it is empty or a batch is short.
    fn receive(&mut self) {
        loop {
            // SAFETY: every header points into rx_bufs / rx_names / rx_ctrl / rx_iovs,
            // alive and unmoved for the call, with the lengths the headers state.
            let rc = unsafe {
                libc::recvmmsg(
                    self.rx.as_raw_fd(),
                    self.rx_hdrs.as_mut_ptr(),
                    FLOOR_RX_BATCH as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if rc < 0 {
                if std::io::Error::last_os_error().kind() != std::io::ErrorKind::WouldBlock {
                    self.rx_errors += 1;
                }
                return;
            }
            let got = rc as usize;
            self.received += got as u64;
            // The kernel wrote the name and control lengths it used: give back the room.
            for h in &mut self.rx_hdrs[..got] {
                h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as _;
                h.msg_hdr.msg_controllen = std::mem::size_of::<[u64; FLOOR_RX_CTRL_WORDS]>() as _;
            }
            if got < FLOOR_RX_BATCH {
                return;
            }
        }
    }

    /// This round's datagrams (the mean rate, with the fraction carried over), to or
    /// from the next addresses in rotation, with as few `sendmmsg` calls as the kernel
    /// takes (one below UIO_MAXIOV datagrams).
    fn send(&mut self) {
        self.carry += self.per_round;
        let k = (self.carry as usize).min(self.tx_hdrs.len());
        self.carry -= k as f64;
        for i in 0..k {
            let a = self.addrs[self.next_addr];
            self.next_addr = (self.next_addr + 1) % self.addrs.len();
            if self.pkt.is_some() {
                let frr = u32::from(FRR_ADDR).to_be();
                let (src, dst) = match self.side {
                    Side::Many => (a, frr),
                    Side::One => (frr, a),
                };
                self.pkt_bufs[i] = ipv4_udp(src, dst, 49152, 3784, &FLOOR_PAYLOAD);
                continue;
            }
            match self.side {
                // SAFETY: tx_pktinfo[i] points at the in_pktinfo inside tx_ctrl[i], which
                // is alive and unmoved; written unaligned-safe.
                Side::Many => unsafe {
                    std::ptr::write_unaligned(
                        self.tx_pktinfo[i],
                        libc::in_pktinfo {
                            ipi_ifindex: 0,
                            ipi_spec_dst: libc::in_addr { s_addr: a },
                            ipi_addr: libc::in_addr { s_addr: 0 },
                        },
                    );
                },
                Side::One => self.tx_names[i].sin_addr.s_addr = a,
            }
        }
        let mut at = 0;
        while at < k {
            // SAFETY: tx_hdrs[at..k] point into tx_names / tx_iovs / tx_bufs / tx_ctrl,
            // alive and unmoved for the call, with the lengths the headers state.
            let rc = unsafe {
                libc::sendmmsg(
                    self.pkt
                        .as_ref()
                        .map_or(self.tx.as_raw_fd(), |p| p.as_raw_fd()),
                    self.tx_hdrs[at..].as_mut_ptr(),
                    (k - at) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if rc > 0 {
                at += rc as usize;
                self.sent += rc as u64;
            } else {
                // The datagram at `at` was refused: skip it, like the driver does.
                at += 1;
                self.refused += 1;
            }
        }
    }
}
