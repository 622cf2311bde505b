//! CPU and memory of many BFD sessions in one process, side by side with FRR's bfdd in the
//! same run: N sessions at 100 ms x 3 between our driver (one namespace, N local addresses)
//! and bfdd (another namespace, N configured peers). Both processes' CPU time and resident
//! memory are read from /proc over the same window.
//!
//! ```text
//! flock /work/heavy.lock cargo run --release -p bgp-bfd --features tokio --example scale -- 1000 20
//! ```
//! Arguments: sessions (default 1000), measured seconds (default 20). Needs root and FRR.
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
    let downs_before = downs.load(Ordering::Relaxed);
    let (o0, _) = proc_usage("self");
    let (f0, _) = proc_usage(&bfdd.to_string());
    let (cs0, fcs0, n0) = (
        ctx_switches("self"),
        ctx_switches(&bfdd.to_string()),
        counts(),
    );
    let (ns0, fns0) = (on_cpu_ns("self"), on_cpu_ns(&bfdd.to_string()));
    let w0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let wall = w0.elapsed().as_secs_f64();
    let (o1, our_rss) = proc_usage("self");
    let (f1, frr_rss) = proc_usage(&bfdd.to_string());
    let (cs1, fcs1, n1) = (
        ctx_switches("self"),
        ctx_switches(&bfdd.to_string()),
        counts(),
    );
    let (ns1, fns1) = (on_cpu_ns("self"), on_cpu_ns(&bfdd.to_string()));
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
    let tps = ticks_per_sec();
    let pct = |a: u64, b: u64| (b - a) as f64 / tps / wall * 100.0;
    let (our_user, our_sys) = (pct(o0.0, o1.0), pct(o0.1, o1.1));
    let (frr_user, frr_sys) = (pct(f0.0, f1.0), pct(f0.1, f1.1));
    let (our_cpu, frr_cpu) = (our_user + our_sys, frr_user + frr_sys);
    println!("RESULT sessions={n} interval=100ms x3 window={wall:.1}s");
    println!(
        "RESULT ours: cpu={our_cpu:.2}% of one core (user {our_user:.2}%, system {our_sys:.2}%), rss={} KiB (+{} KiB over the idle process), \
         sent={sent} received={rcvd} total",
        our_rss,
        our_rss.saturating_sub(rss_before)
    );
    println!(
        "RESULT ours in the window: sent {:.0} pkts/s, received {:.0} pkts/s, {:.0} context switches/s (all threads; the measuring thread adds ~0); bfdd: {:.0} context switches/s",
        (n1.0 - n0.0) as f64 / wall,
        (n1.1 - n0.1) as f64 / wall,
        (cs1 - cs0) as f64 / wall,
        (fcs1 - fcs0) as f64 / wall,
    );
    let (ours_exact, frr_exact) = (
        (ns1 - ns0) as f64 / 1e9 / wall * 100.0,
        (fns1 - fns0) as f64 / 1e9 / wall * 100.0,
    );
    println!(
        "RESULT on-CPU time from schedstat (exact): ours {ours_exact:.2}% of one core, bfdd {frr_exact:.2}%, ratio {:.2}",
        if frr_exact > 0.0 {
            ours_exact / frr_exact
        } else {
            0.0
        }
    );
    drop(bfd_handle);
    println!(
        "RESULT frr bfdd: cpu={frr_cpu:.2}% of one core (user {frr_user:.2}%, system {frr_sys:.2}%), rss={frr_rss} KiB"
    );
    if frr_cpu > 0.0 {
        println!("RESULT cpu ratio ours/bfdd = {:.2}", our_cpu / frr_cpu);
    }
    println!(
        "RESULT flaps during the window: ours={flaps} (all run: {} we stopped hearing bfdd, {} bfdd \
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
