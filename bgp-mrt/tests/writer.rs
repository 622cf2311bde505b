//! The snapshot writer (from a bgp-rib `Rib`) and the BGP4MP update log, read back by us
//! and by bgpdump with field values checked.
mod common;

use std::net::IpAddr;
use std::process::Command;

use bgp_mrt::dump::MrtDump;
use bgp_mrt::text::BgpdumpFormat;
use bgp_mrt::writer::{SessionId, state};
use bgp_mrt::{MrtBody, MrtReader};
use bgp_rib::{Attrs, DecisionConfig, PeerInfo, Rib};
use bgp_wire::attr::{AsPath, Community, Origin};

fn rib() -> Rib {
    let mut rib = Rib::new(DecisionConfig::new(65000, "10.255.0.1".parse().unwrap()));
    let p1 = rib.add_peer(PeerInfo::new(
        "10.0.0.1".parse().unwrap(),
        65001,
        "1.1.1.1".parse().unwrap(),
        65000,
    ));
    let p2 = rib.add_peer(PeerInfo::new(
        "2001:db8::2".parse().unwrap(),
        4_200_000_002,
        "2.2.2.2".parse().unwrap(),
        65000,
    ));
    for i in 0..5u32 {
        let mut a = Attrs::new("10.0.0.1".parse().unwrap());
        a.as_path = AsPath::from_sequence([65001, 64600 + i]);
        a.med = Some(i);
        a.communities = vec![Community(65001 << 16 | i)];
        rib.announce(p1, format!("10.1.{i}.0/24").parse().unwrap(), 0, a)
            .unwrap();
        let mut b = Attrs::new("2001:db8::2".parse().unwrap());
        b.as_path = AsPath::from_sequence([4_200_000_002]);
        b.origin = Origin::Incomplete;
        rib.announce(
            p2,
            format!("2001:db8:{i}::/48").parse().unwrap(),
            0,
            b.clone(),
        )
        .unwrap();
        // The same IPv4 prefix from both peers (an IPv6 next hop for IPv4 NLRI, RFC 8950).
        rib.announce(p2, format!("10.1.{i}.0/24").parse().unwrap(), 0, b)
            .unwrap();
    }
    rib
}

fn bgpdump(path: &std::path::Path) -> Option<Vec<String>> {
    match Command::new("bgpdump").arg("-m").arg(path).output() {
        Ok(o) => Some(
            String::from_utf8(o.stdout)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect(),
        ),
        Err(_) => {
            assert!(
                std::env::var("CI").is_err(),
                "bgpdump not installed (CI=true)"
            );
            None
        }
    }
}

fn ours(path: &std::path::Path) -> Vec<String> {
    let mut f = BgpdumpFormat::new();
    MrtReader::open(path)
        .unwrap()
        .flat_map(|r| f.lines(&r.unwrap()))
        .collect()
}

#[test]
fn collector_dump_snapshot_and_update_log_read_by_bgpdump() {
    let dir = std::env::temp_dir().join(format!("bgp-mrt-writer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut d = MrtDump::new(&dir, 60).unwrap();
    let s = SessionId {
        peer_as: 65001,
        local_as: 65000,
        peer_addr: "10.0.0.1".parse().unwrap(),
        local_addr: "10.0.0.254".parse().unwrap(),
    };
    d.state_change(
        1_700_000_000,
        5,
        &s,
        state::OPEN_CONFIRM,
        state::ESTABLISHED,
    )
    .unwrap();
    d.message(1_700_000_001, 7, &s, &common::update_v4(3))
        .unwrap();
    d.state_change(1_700_000_002, 0, &s, state::ESTABLISHED, state::IDLE)
        .unwrap();
    let rib = rib();
    assert!(
        d.tick(1_700_000_010, &rib).unwrap().is_none(),
        "first tick only arms the timer"
    );
    let (snap, st) = d.tick(1_700_000_070, &rib).unwrap().unwrap();
    assert_eq!((st.peers, st.prefixes, st.entries), (2, 10, 15));

    // Our reader: the peer table and the paths.
    let recs: Vec<_> = MrtReader::open(&snap)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let MrtBody::PeerIndexTable(t) = &recs[0].body else {
        panic!("peer table first")
    };
    assert_eq!(
        t.peers.iter().map(|p| (p.addr, p.asn)).collect::<Vec<_>>(),
        vec![
            ("10.0.0.1".parse::<IpAddr>().unwrap(), 65001),
            ("2001:db8::2".parse().unwrap(), 4_200_000_002)
        ]
    );
    let ribs = recs
        .iter()
        .filter(|r| matches!(r.body, MrtBody::Rib(_)))
        .count();
    assert_eq!(ribs, 10);

    let upd = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("updates.")
        })
        .unwrap();
    let Some(snap_lines) = bgpdump(&snap) else {
        return;
    };
    assert_eq!(snap_lines, ours(&snap));
    assert_eq!(snap_lines.len(), 15);
    assert!(snap_lines.contains(&"TABLE_DUMP2|1700000070|B|10.0.0.1|65001|10.1.3.0/24|65001 64603|IGP|10.0.0.1|0|3|65001:3|NAG||".to_string()), "{snap_lines:#?}");
    assert!(snap_lines.contains(&"TABLE_DUMP2|1700000070|B|2001:db8::2|4200000002|10.1.3.0/24|4200000002|INCOMPLETE|2001:db8::2|0|0||NAG||".to_string()), "{snap_lines:#?}");
    assert!(snap_lines.contains(&"TABLE_DUMP2|1700000070|B|2001:db8::2|4200000002|2001:db8:4::/48|4200000002|INCOMPLETE|2001:db8::2|0|0||NAG||".to_string()), "{snap_lines:#?}");

    let upd_lines = bgpdump(&upd).unwrap();
    assert_eq!(upd_lines, ours(&upd));
    assert_eq!(
        upd_lines[0],
        "BGP4MP_ET|1700000000.000005|STATE|10.0.0.1|65001|5|6"
    );
    assert_eq!(
        upd_lines[1],
        "BGP4MP_ET|1700000001.000007|W|10.0.0.1|65001|172.16.3.0/24"
    );
    assert!(upd_lines[2].starts_with("BGP4MP_ET|1700000001.000007|A|10.0.0.1|65001|10.3.0.0/16|65001 4200000001 64503 {64999,64998}|INCOMPLETE|192.0.2.4|103|30|65001:3 65002:7|AG|65001 198.51.100.7|"), "{}", upd_lines[2]);
    assert_eq!(
        upd_lines.last().unwrap(),
        "BGP4MP_ET|1700000002|STATE|10.0.0.1|65001|6|1"
            .replace("1700000002", "1700000002.000000")
            .as_str()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
