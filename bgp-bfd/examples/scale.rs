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
//! `BFD_POLL_ABOVE=off` (or a rate) and `BFD_POLL_MS=N` override the driver's
//! [`DriverConfig::poll_above_pps`] and [`DriverConfig::poll_interval`].
#![allow(unsafe_code)]

use std::fs::File;
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
    // N addresses on our side, in one `ip -batch`.
    let batch: String = (0..n)
        .map(|i| format!("addr add {}/16 dev {}\n", our_addr(i), veth.b_if()))
        .collect();
    let bf = std::env::temp_dir().join(format!("bfd-scale-{}.batch", std::process::id()));
    std::fs::write(&bf, batch).unwrap();
    ours_ns
        .ip(&["-batch", bf.to_str().unwrap()])
        .expect("ip -batch");
    let _ = std::fs::remove_file(&bf);
    ours_ns.link_up(veth.b_if()).unwrap();

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
    let path = format!("/run/netns/{}", ours_ns.name());
    let (u, d, st, c) = (up.clone(), downs.clone(), stop.clone(), causes.clone());
    let (handle_tx, handle_rx) = std::sync::mpsc::channel::<Bfd>();
    let ours = std::thread::spawn(move || {
        let file = File::open(&path).expect("open netns");
        // SAFETY: a valid descriptor (kept alive by `file`) and a namespace type flag.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
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
            println!(
                "driver: poll above {:?} pkts/s, round every {:?} while polling",
                cfg.poll_above_pps, cfg.poll_interval
            );
            let bfd = Bfd::spawn(cfg).await.expect("bind 3784");
            let _ = handle_tx.send(bfd.clone());
            let scfg =
                SessionConfig::new(Duration::from_millis(100), Duration::from_millis(100), 3);
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
            (sent, rcvd)
        })
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
    let (sent, rcvd) = ours.join().unwrap();
    drop(bfd_handle);
    println!("RESULT sessions={n} interval=100ms x3 windows={secs}s");
    // The lines of the earlier versions of this example, from the unsteered window.
    println!(
        "RESULT ours: cpu={:.2}% of one core (user {:.2}%, system {:.2}%), rss={our_rss} KiB (+{} KiB over the idle process), \
         sent={sent} received={rcvd} total",
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
