//! Memory per idle Established session in the driver, measured with a counting global
//! allocator over loopback (one test per process: the allocator counts everything).
#![cfg(feature = "tokio")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use bgp_fsm::driver::{Listener, PeerConfig, spawn_peer};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged, only counting sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const N: u8 = 50;

#[test]
fn idle_established_session_memory() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = Listener::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let port = listener.local_addr().port();
        // Warm up lazily-initialised runtime structures with one session.
        let warm = |i: u8| {
            let src = IpAddr::V4(Ipv4Addr::new(127, 0, 1, i));
            let mut p = PeerConfig::new(65001, 65002, Ipv4Addr::new(10, 0, 0, 1), src);
            p.passive = true;
            let a = spawn_peer(p, Some(&listener));
            let mut c = PeerConfig::new(65002, 65001, Ipv4Addr::new(10, 0, 1, i), "127.0.0.1".parse().unwrap());
            c.peer_port = port;
            c.local_addr = Some(src);
            c.connect_retry = Duration::from_secs(1);
            let b = spawn_peer(c, None);
            (a, b)
        };
        let w = warm(250);
        assert!(w.0.wait_established(Duration::from_secs(10)).await);
        let mut wr = (w.0.take_events().unwrap(), w.1.take_events().unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
        while wr.0.try_recv().is_ok() {}
        while wr.1.try_recv().is_ok() {}
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = LIVE.load(Ordering::Relaxed);
        let mut all = Vec::new();
        for i in 1..=N {
            all.push(warm(i));
        }
        for (a, b) in &all {
            assert!(a.wait_established(Duration::from_secs(20)).await);
            assert!(b.wait_established(Duration::from_secs(20)).await);
        }
        // The application consumes its events (the Negotiated parameters etc.).
        let mut receivers = Vec::new();
        for (a, b) in &all {
            receivers.push(a.take_events().unwrap());
            receivers.push(b.take_events().unwrap());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        for r in &mut receivers {
            while r.try_recv().is_ok() {}
        }
        let after = LIVE.load(Ordering::Relaxed);
        let per = (after - before) as f64 / f64::from(2 * u32::from(N));
        println!(
            "idle Established session (driver + handle + socket, both ends ours): {per:.0} bytes each ({} sessions)",
            2 * u32::from(N)
        );
        assert!(per < 12.0 * 1024.0, "{per} bytes per session (target: under 16 KiB)");
        for (a, b) in all {
            a.shutdown(None).await.unwrap();
            b.shutdown(None).await.unwrap();
        }
    });
}
