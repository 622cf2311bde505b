//! Authentication interop with BIRD 2's BFD in network namespaces (root, BIRD and tcpdump
//! needed, tshark for the last step; under CI=true their absence fails the test). FRR's
//! bfdd has no authentication, BIRD has all five types. One veth per case, because BIRD
//! sets authentication per interface:
//! - simple password, keyed MD5, meticulous keyed SHA1 over IPv4, and meticulous keyed MD5
//!   over IPv6: both sides come Up and stay Up for 3 s (a meticulous sequence number
//!   checked on every packet), and BIRD reports our 100 ms x 3;
//! - keyed SHA1 with a different key on each side: neither side comes Up;
//! - tshark decodes every packet we sent, with the authentication type of its link.
#![cfg(feature = "tokio")]

use std::time::{Duration, Instant};

use bgp_bfd::driver::{Bfd, DriverConfig};
use bgp_bfd::{AuthKey, AuthType, Event, SessionConfig, State};
use testlab::{
    Bird, Capture, Netns, link, recv_until, require_root_and, require_tool, spawn_in_netns,
};
use tokio::sync::mpsc;

const MS: Duration = Duration::from_millis(1);

/// One link: BIRD's address, ours, BIRD's authentication lines, our key, whether it
/// must come Up.
struct Case {
    bird: &'static str,
    ours: &'static str,
    prefix: u8,
    bird_auth: &'static str,
    our_key: (AuthType, u8, &'static [u8]),
    up: bool,
}

const CASES: [Case; 5] = [
    Case {
        bird: "10.9.1.1",
        ours: "10.9.1.2",
        prefix: 24,
        bird_auth: r#"authentication simple; password "pw-one" { id 1; };"#,
        our_key: (AuthType::SimplePassword, 1, b"pw-one"),
        up: true,
    },
    Case {
        bird: "10.9.2.1",
        ours: "10.9.2.2",
        prefix: 24,
        bird_auth: r#"authentication keyed md5; password "md5-key" { id 2; };"#,
        our_key: (AuthType::KeyedMd5, 2, b"md5-key"),
        up: true,
    },
    Case {
        bird: "10.9.3.1",
        ours: "10.9.3.2",
        prefix: 24,
        bird_auth: r#"authentication meticulous keyed sha1; password "a-twenty-octet-key!!" { id 3; };"#,
        our_key: (AuthType::MeticulousKeyedSha1, 3, b"a-twenty-octet-key!!"),
        up: true,
    },
    Case {
        bird: "fd00:9:4::1",
        ours: "fd00:9:4::2",
        prefix: 64,
        bird_auth: r#"authentication meticulous keyed md5; password "v6-key" { id 4; };"#,
        our_key: (AuthType::MeticulousKeyedMd5, 4, b"v6-key"),
        up: true,
    },
    Case {
        bird: "10.9.5.1",
        ours: "10.9.5.2",
        prefix: 24,
        bird_auth: r#"authentication keyed sha1; password "right" { id 5; };"#,
        our_key: (AuthType::KeyedSha1, 5, b"wrong"),
        up: false,
    },
];

/// BIRD's line for a neighbour in `show bfd sessions`, split in words.
fn bird_session(bird: &Bird, addr: &str) -> Option<Vec<String>> {
    let out = bird.birdc("show bfd sessions").ok()?;
    out.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|w| w.first().map(String::as_str) == Some(addr))
}

#[test]
fn bird_authenticated_sessions() {
    if !require_root_and(&["bird", "birdc", "tcpdump"]) {
        return;
    }
    let r = Netns::new("bar").unwrap();
    let n = Netns::new("ban").unwrap();
    let mut links = Vec::new();
    let mut ifaces = String::new();
    let mut neighbors = String::new();
    for c in &CASES {
        let l = link(
            &r,
            &format!("{}/{}", c.bird, c.prefix),
            &n,
            &format!("{}/{}", c.ours, c.prefix),
        )
        .unwrap();
        ifaces.push_str(&format!(
            "  interface \"{}\" {{ interval 100 ms; multiplier 3; {} }};\n",
            l.a_if(),
            c.bird_auth
        ));
        neighbors.push_str(&format!(
            "  neighbor {} dev \"{}\" local {};\n",
            c.ours,
            l.a_if(),
            c.bird
        ));
        links.push(l);
    }
    let conf = format!(
        "router id 10.9.1.1;\nlog stderr all;\nprotocol device {{ scan time 1; }}\n\
         protocol bfd {{\n{ifaces}{neighbors}}}\n"
    );
    let bird = Bird::start(&r, &conf).unwrap();
    let mut caps: Vec<Capture> = links
        .iter()
        .map(|l| Capture::start_filtered(&n, l.b_if(), None, "udp port 3784").unwrap())
        .collect();

    let (ev_tx, ev_rx) = std::sync::mpsc::channel::<(usize, Instant, Event)>();
    let (quit_tx, mut quit_rx) = mpsc::unbounded_channel::<()>();
    let ours = spawn_in_netns(&n, move || async move {
        let bfd = Bfd::spawn(DriverConfig::default())
            .await
            .expect("bind 3784");
        let mut sessions = Vec::new();
        for (i, c) in CASES.iter().enumerate() {
            let mut cfg = SessionConfig::new(100 * MS, 100 * MS, 3);
            let (kind, id, secret) = c.our_key;
            cfg.auth = Some(AuthKey::new(kind, id, secret).unwrap());
            let mut s = bfd.add_session(c.bird.parse().unwrap(), cfg).await.unwrap();
            let tx = ev_tx.clone();
            testlab::forward(s.take_events().unwrap(), move |e| {
                tx.send((i, Instant::now(), e)).is_ok()
            });
            sessions.push(s);
        }
        let _ = quit_rx.recv().await;
        let st = bfd.stats();
        (
            st.sent.load(std::sync::atomic::Ordering::Relaxed),
            st.discarded.load(std::sync::atomic::Ordering::Relaxed),
        )
    });

    // 1. The four good cases come Up on our side, within 10 s.
    let t0 = Instant::now();
    let mut up_at: [Option<Instant>; 5] = [None; 5];
    let mut events = Vec::new();
    let all_up = recv_until(&ev_rx, Duration::from_secs(10), |(i, t, e)| {
        if matches!(e, Event::StateChange { to: State::Up, .. }) {
            up_at[*i] = Some(*t);
        }
        events.push((*i, e.clone()));
        up_at.iter().zip(&CASES).all(|(u, c)| !c.up || u.is_some())
    });
    if all_up.is_err() {
        panic!(
            "not Up: {up_at:?}; events {events:?}; BIRD:\n{}",
            bird.birdc("show bfd sessions").unwrap_or_default()
        );
    }
    eprintln!("authenticated sessions Up after {:?}", t0.elapsed());
    // 2. BIRD agrees, and reports our interval (0.100 s) and a 0.300 s timeout.
    for c in CASES.iter().filter(|c| c.up) {
        let ok = testlab::wait_until(Duration::from_secs(5), || {
            bird_session(&bird, c.ours).is_some_and(|w| {
                w.get(2).map(String::as_str) == Some("Up")
                    && w.iter().any(|x| x == "0.100")
                    && w.iter().any(|x| x == "0.300")
            })
        });
        assert!(
            ok,
            "BIRD's view of {}: {:?}\n{}",
            c.ours,
            bird_session(&bird, c.ours),
            bird.birdc("show bfd sessions").unwrap_or_default()
        );
    }
    // 3. Three more seconds: no flap (about 30 packets each way per session, every
    //    meticulous one with a new sequence number), and the mismatched key never Up.
    std::thread::sleep(Duration::from_secs(3));
    let later: Vec<_> = ev_rx.try_iter().map(|(i, _, e)| (i, e)).collect();
    assert!(
        later
            .iter()
            .all(|(_, e)| matches!(e, Event::PollSequenceDone)),
        "flap: {later:?}"
    );
    events.extend(later);
    assert!(
        !events.iter().any(|(i, e)| *i == 4
            && matches!(
                e,
                Event::StateChange {
                    to: State::Up | State::Init,
                    ..
                }
            )),
        "the wrong key got somewhere: {events:?}"
    );
    let bad = bird_session(&bird, CASES[4].ours);
    assert!(
        bad.as_ref()
            .is_some_and(|w| w.get(2).map(String::as_str) != Some("Up")),
        "BIRD with a different key: {bad:?}"
    );
    for c in CASES.iter().filter(|c| c.up) {
        let w = bird_session(&bird, c.ours).unwrap();
        assert_eq!(w.get(2).map(String::as_str), Some("Up"), "{w:?}");
    }
    quit_tx.send(()).unwrap();
    let (sent, discarded) = ours.join().unwrap();
    eprintln!("ours: {sent} sent, {discarded} discarded (the mismatched link's packets)");
    assert!(
        discarded > 0,
        "BIRD's packets with the other key were not discarded"
    );

    // 4. tshark decodes what we sent on each link, with that link's authentication.
    for c in &mut caps {
        c.stop().unwrap();
    }
    if require_tool("tshark") {
        for (c, cap) in CASES.iter().zip(&caps) {
            let src = if c.ours.contains(':') {
                "ipv6.src"
            } else {
                "ip.src"
            };
            let rows = cap
                .fields(
                    &format!("bfd && {src} == {}", c.ours),
                    &[
                        "bfd.flags.a",
                        "bfd.auth.type",
                        "bfd.auth.key",
                        "bfd.auth.seq_num",
                    ],
                )
                .unwrap();
            assert!(
                rows.len() >= 3,
                "{}: {} packets decoded",
                c.ours,
                rows.len()
            );
            for row in &rows {
                assert!(row[0] == "1" || row[0] == "True", "A bit: {row:?}");
                assert_eq!(row[1], c.our_key.0.code().to_string(), "{row:?}");
                assert_eq!(row[2], c.our_key.1.to_string(), "key id: {row:?}");
            }
            assert_eq!(cap.malformed_count().unwrap(), 0, "{}", c.ours);
            eprintln!(
                "tshark: {} packets from {}, {:?}",
                rows.len(),
                c.ours,
                rows[0]
            );
        }
    }
}

/// Key rollover against BIRD, which accepts every key in its list and signs with the one
/// whose `generate from` is latest: BIRD holds keys 1 (old) and 2 (new, generated from
/// 2020 on). We sign with key 1 and accept key 2, so
/// the session comes Up only if we check BIRD's packets with an accept key; then we sign
/// with key 2, then drop key 1. The session must stay Up on both sides throughout, and
/// tshark must see our Key ID change from 1 to 2 while BIRD's stays 2.
#[test]
fn bird_key_rollover() {
    if !require_root_and(&["bird", "birdc", "tcpdump"]) {
        return;
    }
    let r = Netns::new("brr").unwrap();
    let n = Netns::new("brn").unwrap();
    let l = link(&r, "10.9.6.1/24", &n, "10.9.6.2/24").unwrap();
    let conf = format!(
        "router id 10.9.6.1;\nlog stderr all;\nprotocol device {{ scan time 1; }}\n\
         protocol bfd {{\n  interface \"{}\" {{ interval 100 ms; multiplier 3; \
         authentication meticulous keyed sha1; \
         password \"old-key\" {{ id 1; }}; \
         password \"new-key\" {{ id 2; generate from \"2020-01-01 00:00:00\"; }}; }};\n  \
         neighbor 10.9.6.2 dev \"{}\" local 10.9.6.1;\n}}\n",
        l.a_if(),
        l.a_if()
    );
    let bird = Bird::start(&r, &conf).unwrap();
    let mut cap = Capture::start_filtered(&n, l.b_if(), None, "udp port 3784").unwrap();
    let kind = AuthType::MeticulousKeyedSha1;
    let old = AuthKey::new(kind, 1, b"old-key").unwrap();
    let new = AuthKey::new(kind, 2, b"new-key").unwrap();

    let (ev_tx, ev_rx) = std::sync::mpsc::channel::<(Instant, Event)>();
    let (step_tx, mut step_rx) = mpsc::unbounded_channel::<(Option<AuthKey>, Vec<AuthKey>)>();
    let (sign, accept) = (old.clone(), vec![new.clone()]);
    let ours = spawn_in_netns(&n, move || async move {
        let bfd = Bfd::spawn(DriverConfig::default())
            .await
            .expect("bind 3784");
        let mut cfg = SessionConfig::new(100 * MS, 100 * MS, 3);
        cfg.auth = Some(sign);
        cfg.accept_keys = accept;
        let mut s = bfd
            .add_session("10.9.6.1".parse().unwrap(), cfg)
            .await
            .unwrap();
        testlab::forward(s.take_events().unwrap(), move |e| {
            ev_tx.send((Instant::now(), e)).is_ok()
        });
        while let Some((sign, accept)) = step_rx.recv().await {
            s.set_auth(sign, accept);
        }
    });
    let bird_up = || {
        bird_session(&bird, "10.9.6.2").is_some_and(|w| w.get(2).map(String::as_str) == Some("Up"))
    };

    // 1. Up, on both sides, with BIRD signing with key 2 and us with key 1.
    // (Down -> Init -> Up, or Down -> Up: the first event need not be Up.)
    let is_up = |(_, e): &(Instant, Event)| matches!(e, Event::StateChange { to: State::Up, .. });
    if recv_until(&ev_rx, Duration::from_secs(10), is_up).is_err() {
        panic!(
            "not Up; BIRD:\n{}",
            bird.birdc("show bfd sessions").unwrap_or_default()
        );
    }
    assert!(testlab::wait_until(Duration::from_secs(5), bird_up));
    std::thread::sleep(Duration::from_secs(1));
    // 2. Sign with the new key, keep accepting the old one; 3. drop the old one.
    step_tx.send((Some(new.clone()), vec![old])).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(bird_up(), "BIRD after we switched keys");
    step_tx.send((Some(new), vec![])).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(bird_up(), "BIRD after we dropped the old key");
    let later: Vec<_> = ev_rx.try_iter().map(|(_, e)| e).collect();
    assert!(
        later.iter().all(|e| matches!(e, Event::PollSequenceDone)),
        "flap during the rollover: {later:?}"
    );
    drop(step_tx);
    ours.join().unwrap();

    // 4. On the wire: our Key ID went 1 -> 2, once; BIRD's was 2 throughout.
    cap.stop().unwrap();
    if require_tool("tshark") {
        let ids = |src: &str| -> Vec<String> {
            cap.fields(&format!("bfd && ip.src == {src}"), &["bfd.auth.key"])
                .unwrap()
                .into_iter()
                .map(|row| row[0].clone())
                .collect()
        };
        let mut ours = ids("10.9.6.2");
        let n = ours.len();
        ours.dedup();
        assert_eq!(ours, ["1", "2"], "our Key IDs in order ({n} packets)");
        let mut theirs = ids("10.9.6.1");
        theirs.dedup();
        assert_eq!(theirs, ["2"], "BIRD's Key IDs");
        assert_eq!(cap.malformed_count().unwrap(), 0);
        eprintln!("tshark: {n} packets from us, Key ID 1 then 2");
    }
}
