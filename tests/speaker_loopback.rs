//! Two in-process speakers over loopback with the real bgp-fsm driver (no root needed):
//! an eBGP session between a 4-octet AS and a 2-octet AS, one side passive behind a
//! listener. Checks that announcements, the full replay after a reconnect, a withdrawal and
//! the graceful shutdown's Cease
//! message arrive, and that a peer whose settings did not change is left alone.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use kube_bgp::driver::FsmBackend;
use kube_bgp::events::SpeakerEvent;
use kube_bgp::{PeerSettings, RouteAttrs, ShutdownOptions, Speaker};
use tokio::sync::broadcast;

async fn wait_for(
    rx: &mut broadcast::Receiver<SpeakerEvent>,
    what: &str,
    mut f: impl FnMut(&SpeakerEvent) -> bool,
) -> SpeakerEvent {
    let mut seen = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match rx.recv().await {
                Ok(e) if f(&e) => return e,
                Ok(e) => seen.push(e),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event stream ended: {e}"),
            }
        }
    })
    .await;
    r.unwrap_or_else(|_| panic!("timed out waiting for {what}; saw {seen:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_speakers_over_loopback() {
    let a_ip: IpAddr = "127.0.0.1".parse().unwrap();
    let b_ip: IpAddr = "127.0.0.2".parse().unwrap();
    // B listens on 127.0.0.2 (an ephemeral port) and waits passively for A.
    let b_backend = FsmBackend::new(Some((b_ip, 0).into())).await.unwrap();
    let b_port = b_backend.local_addr().unwrap().port();
    let b = Speaker::new(Arc::new(b_backend));
    let mut b_events = b.subscribe();
    let mut bs = PeerSettings::new(a_ip, 64512, 4_200_000_001, "10.0.0.2".parse().unwrap());
    bs.passive = true;
    bs.hold_time = 9;
    bs.keepalive = 3;
    b.add_peer(bs.clone()).unwrap();

    // A connects out from 127.0.0.1, announces two prefixes.
    let a = Speaker::new(Arc::new(FsmBackend::new(None).await.unwrap()));
    let mut a_events = a.subscribe();
    let mut s = PeerSettings::new(b_ip, 4_200_000_001, 64512, "10.0.0.1".parse().unwrap());
    s.port = b_port;
    s.source_address = Some(a_ip);
    s.hold_time = 9;
    s.keepalive = 3;
    s.connect_retry = Duration::from_secs(1);
    let attrs = RouteAttrs {
        med: Some(5),
        ..Default::default()
    };
    a.announce("172.16.10.0/32".parse().unwrap(), attrs.clone());
    a.announce("172.16.10.1/32".parse().unwrap(), attrs);
    a.add_peer(s.clone()).unwrap();

    wait_for(
        &mut a_events,
        "A established",
        |e| matches!(e, SpeakerEvent::Established { local_addr: Some(l), .. } if l == "127.0.0.1"),
    )
    .await;
    let got = wait_for(&mut b_events, "B receives routes", |e| {
        matches!(e, SpeakerEvent::RoutesIgnored { .. })
    })
    .await;
    assert_eq!(
        got,
        SpeakerEvent::RoutesIgnored {
            peer: "127.0.0.1".into(),
            count: 2
        }
    );

    // B drops the session (peer removed, then configured again): A reconnects and replays
    // its whole set.
    b.remove_peer(a_ip).await.unwrap();
    wait_for(&mut a_events, "A sees the session go down", |e| {
        matches!(e, SpeakerEvent::Down { .. })
    })
    .await;
    b.add_peer(bs.clone()).unwrap();
    wait_for(&mut a_events, "A established again", |e| {
        matches!(e, SpeakerEvent::Established { .. })
    })
    .await;
    let got = wait_for(&mut b_events, "B receives the replay", |e| {
        matches!(e, SpeakerEvent::RoutesIgnored { .. })
    })
    .await;
    assert_eq!(
        got,
        SpeakerEvent::RoutesIgnored {
            peer: "127.0.0.1".into(),
            count: 2
        }
    );

    // Re-applying the same peers touches nothing.
    let ch = a.apply_peers(vec![s.clone()]).await.unwrap();
    assert_eq!(ch.unchanged, vec![b_ip]);

    // A withdrawal is one more UPDATE at B.
    let before = b.metrics().snapshot()[&a_ip].updates_received;
    a.withdraw("172.16.10.1/32".parse().unwrap());
    wait_for(&mut a_events, "A withdraws", |e| {
        matches!(e, SpeakerEvent::Withdrawn { prefixes, .. } if prefixes == &["172.16.10.1/32".to_string()])
    })
    .await;
    let ok = tokio::time::timeout(Duration::from_secs(10), async {
        while b.metrics().snapshot()[&a_ip].updates_received <= before {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(ok.is_ok(), "B never saw the withdrawal");
    assert_eq!(a.metrics().snapshot()[&b_ip].prefixes_advertised, 1);

    // Graceful shutdown: B hears the Cease with our message.
    a.shutdown(ShutdownOptions {
        message: "maintenance window".into(),
        ..Default::default()
    })
    .await;
    let n = wait_for(&mut b_events, "B gets the Cease", |e| {
        matches!(e, SpeakerEvent::NotificationReceived { .. })
    })
    .await;
    assert_eq!(
        n,
        SpeakerEvent::NotificationReceived {
            peer: "127.0.0.1".into(),
            notification: "Cease/Administrative Shutdown (6/2): maintenance window".into()
        }
    );
    b.shutdown(ShutdownOptions::default()).await;
}

/// One speaker with two peers over the real driver: changing one peer's settings restarts
/// only that session; the other one stays Established without a single Down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_one_peer_leaves_the_other_session_alone() {
    let a_ip: IpAddr = "127.0.0.1".parse().unwrap();
    let mut routers = Vec::new();
    for (ip, id) in [("127.0.0.3", "10.0.0.3"), ("127.0.0.4", "10.0.0.4")] {
        let ip: IpAddr = ip.parse().unwrap();
        let be = FsmBackend::new(Some((ip, 0).into())).await.unwrap();
        let port = be.local_addr().unwrap().port();
        let sp = Speaker::new(Arc::new(be));
        let mut s = PeerSettings::new(a_ip, 64512, 64512, id.parse().unwrap());
        s.passive = true;
        s.hold_time = 9;
        s.keepalive = 3;
        sp.add_peer(s).unwrap();
        routers.push((ip, port, sp));
    }
    let a = Speaker::new(Arc::new(FsmBackend::new(None).await.unwrap()));
    let mut a_events = a.subscribe();
    a.announce("172.16.10.0/32".parse().unwrap(), RouteAttrs::default());
    let settings: Vec<PeerSettings> = routers
        .iter()
        .map(|(ip, port, _)| {
            let mut s = PeerSettings::new(*ip, 64512, 64512, "10.0.0.1".parse().unwrap());
            s.port = *port;
            s.source_address = Some(a_ip);
            s.hold_time = 9;
            s.keepalive = 3;
            s.connect_retry = Duration::from_secs(1);
            s
        })
        .collect();
    a.apply_peers(settings.clone()).await.unwrap();
    for _ in 0..2 {
        wait_for(&mut a_events, "both established", |e| {
            matches!(e, SpeakerEvent::Established { .. })
        })
        .await;
    }
    let mut changed = settings.clone();
    changed[1].hold_time = 6;
    changed[1].keepalive = 2;
    let ch = a.apply_peers(changed).await.unwrap();
    assert_eq!(ch.unchanged, vec![routers[0].0]);
    assert_eq!(ch.restarted, vec![routers[1].0]);
    let e = wait_for(&mut a_events, "restarted peer established", |e| {
        matches!(e, SpeakerEvent::Established { .. })
    })
    .await;
    assert!(
        matches!(&e, SpeakerEvent::Established { peer, .. } if peer == "127.0.0.4"),
        "{e:?}"
    );
    // Give a wrongly touched session time to show it, then check the counters.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m = a.metrics().snapshot();
    assert_eq!(m[&routers[0].0].established_transitions, 1);
    assert!(m[&routers[0].0].up);
    assert_eq!(m[&routers[1].0].established_transitions, 2);
    let r0 = routers[0].2.metrics().snapshot();
    assert_eq!(r0[&a_ip].established_transitions, 1, "router 0 saw a reset");
    assert_eq!(
        r0[&a_ip].updates_received, 3,
        "the route and two End-of-RIBs (IPv4, IPv6), nothing re-sent"
    );
    a.shutdown(ShutdownOptions::default()).await;
    for (_, _, sp) in routers {
        sp.shutdown(ShutdownOptions::default()).await;
    }
}
