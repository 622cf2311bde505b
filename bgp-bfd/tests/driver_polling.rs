//! The driver's polling mode (`DriverConfig::poll_above_pps`): above the packet rate it
//! stops waking up per packet and works in rounds; sessions stay Up, Poll Sequences
//! complete, a signalled Down is seen, and it returns to per-packet wake-ups when the rate
//! falls. Twenty sessions on loopback (127.0.0.2-21 to 127.0.0.1) at 20 ms.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::time::Duration;

use bgp_bfd::driver::{Bfd, DriverConfig};
use bgp_bfd::{SessionConfig, State};

const MS: Duration = Duration::from_millis(1);

async fn until(what: impl Fn() -> bool, timeout: Duration) -> bool {
    let t0 = tokio::time::Instant::now();
    while t0.elapsed() < timeout {
        if what() {
            return true;
        }
        tokio::time::sleep(10 * MS).await;
    }
    what()
}

#[tokio::test]
async fn polling_rounds_keep_sessions_up_and_switch_back() {
    let (pa, pb) = (47_851, 47_852);
    // a polls above 100 received packets/s (20 sessions x 50/s is 1,000/s); b never polls.
    let a = Bfd::spawn(DriverConfig {
        listen_port: pa,
        peer_port: pb,
        ipv6: false,
        poll_above_pps: Some(100),
        poll_interval: 5 * MS,
        ..DriverConfig::default()
    })
    .await
    .unwrap();
    let b = Bfd::spawn(DriverConfig {
        listen_port: pb,
        peer_port: pa,
        ipv6: false,
        poll_above_pps: None,
        ..DriverConfig::default()
    })
    .await
    .unwrap();
    let one = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let cfg = SessionConfig::new(20 * MS, 20 * MS, 3);
    let mut sa = Vec::new();
    let mut sb = Vec::new();
    for i in 0..20u8 {
        let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i));
        sa.push(a.add_session_from(one, other, cfg.clone()).await.unwrap());
        sb.push(b.add_session_from(other, one, cfg.clone()).await.unwrap());
    }
    for s in sa.iter().chain(&sb) {
        assert!(s.wait_state(State::Up, Duration::from_secs(5)).await);
    }
    assert!(
        until(
            || a.stats().polling.load(Ordering::Relaxed),
            Duration::from_secs(3)
        )
        .await,
        "a did not start polling"
    );
    assert!(!b.stats().polling.load(Ordering::Relaxed));
    let mut events: Vec<_> = sa.iter_mut().map(|s| s.take_events().unwrap()).collect();
    tokio::time::sleep(300 * MS).await;
    for e in &mut events {
        while e.try_recv().is_ok() {}
    }

    // A parameter change goes through a Poll Sequence while polling; nobody flaps for 1 s
    // of 20 ms x 3 detection times.
    sa[0].set_parameters(30 * MS, 30 * MS, 4);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        events[0].try_recv().ok(),
        Some(bgp_bfd::Event::PollSequenceDone)
    );
    for (i, e) in events.iter_mut().enumerate() {
        assert!(e.try_recv().is_err(), "session {i} flapped while polling");
    }
    assert_eq!(sb[0].info().detection_time, Some(4 * 30 * MS));
    assert!(a.stats().polling.load(Ordering::Relaxed));

    // b goes away: its AdminDown packets reach a within a round or two.
    drop(sb);
    drop(b);
    for s in &sa {
        assert!(s.wait_state(State::Down, 200 * MS).await);
        assert_eq!(s.info().remote_state, State::AdminDown);
    }
    // Nothing arrives any more: back to a wake-up per packet.
    assert!(
        until(
            || !a.stats().polling.load(Ordering::Relaxed),
            Duration::from_secs(3)
        )
        .await,
        "a kept polling with no traffic"
    );
}
