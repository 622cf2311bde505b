//! Independent decoder: `bgpdump` (RIPE NCC, Debian package) reads every kind of MRT file
//! we write; the test checks field values in its output and that our `-m` text equals its
//! own on the same files.
mod common;

use std::path::Path;
use std::process::Command;

use bgp_mrt::MrtReader;
use bgp_mrt::text::BgpdumpFormat;
use common::*;

fn bgpdump(file: &Path) -> Option<Vec<String>> {
    let out = match Command::new("bgpdump")
        .arg("-m")
        .arg("-v")
        .arg(file)
        .output()
    {
        Ok(o) => o,
        Err(_) => {
            assert!(
                std::env::var("CI").is_err(),
                "bgpdump not installed (CI=true)"
            );
            eprintln!("SKIP: bgpdump not installed");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "bgpdump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

fn ours(file: &Path) -> Vec<String> {
    let mut f = BgpdumpFormat::new();
    MrtReader::open(file)
        .unwrap()
        .flat_map(|r| f.lines(&r.unwrap()))
        .collect()
}

fn write(name: &str, recs: &[bgp_mrt::MrtRecord]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bgp-mrt-bgpdump-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, encode_all(recs)).unwrap();
    p
}

fn check(name: &str, recs: &[bgp_mrt::MrtRecord]) -> Option<Vec<String>> {
    let p = write(name, recs);
    let theirs = bgpdump(&p)?;
    let mine = ours(&p);
    let _ = std::fs::remove_file(&p);
    for (i, (a, b)) in theirs.iter().zip(mine.iter()).enumerate() {
        assert_eq!(a, b, "{name}: line {i} differs (left bgpdump, right ours)");
    }
    assert_eq!(theirs.len(), mine.len(), "{name}: line counts differ");
    Some(theirs)
}

#[test]
fn bgpdump_reads_our_table_dump_v2() {
    let Some(lines) = check("rib.mrt", &table_dump_v2(50, false)) else {
        return;
    };
    assert_eq!(lines.len(), 50 * 2 + 3);
    assert_eq!(
        lines[0],
        "TABLE_DUMP2|1700000000|B|10.0.0.1|65001|10.0.0.0/24|65001 4200000001 64500 {64999,64998}|IGP|192.0.2.1|100|0|65001:0 65002:7|AG|65001 198.51.100.7|"
    );
    let f: Vec<&str> = lines[3].split('|').collect();
    assert_eq!(
        &f[3..12],
        [
            "10.0.0.2",
            "4200000001",
            "10.0.1.0/24",
            "65001 4200000001 64502 {64999,64998}",
            "IGP",
            "192.0.2.3",
            "102",
            "20",
            "65001:2 65002:7"
        ]
    );
    let v6: Vec<&str> = lines[100].split('|').collect();
    assert_eq!(
        &v6[3..12],
        [
            "2001:db8::3",
            "65010",
            "2001:db8::/48",
            "65010 65020",
            "EGP",
            "2001:db8:ff::1",
            "0",
            "5",
            "65010:99"
        ]
    );
}

#[test]
fn bgpdump_reads_our_table_dump_v2_addpath() {
    let Some(lines) = check("rib-ap.mrt", &table_dump_v2(10, true)) else {
        return;
    };
    assert_eq!(lines.len(), 10 * 2 + 3);
    assert!(
        lines[4].starts_with(
            "TABLE_DUMP2_AP|1700000000|B|10.0.0.1|65001|10.0.2.0/24|1|65001 4200000001 64502"
        ),
        "{}",
        lines[4]
    );
    assert!(lines[21].starts_with("TABLE_DUMP2_AP|1700000000|B|2001:db8::3|65010|2001:db8:1::/48|7|65010 65021|EGP|2001:db8:ff::2|"), "{}", lines[21]);
}

#[test]
fn bgpdump_reads_our_bgp4mp() {
    for et in [false, true] {
        let Some(lines) = check(
            if et { "upd-et.mrt" } else { "upd.mrt" },
            &bgp4mp_log(4, et),
        ) else {
            return;
        };
        let kind = if et { "BGP4MP_ET" } else { "BGP4MP" };
        let t = |s: u32, us: u32| {
            if et {
                format!("{s}.{us:06}")
            } else {
                s.to_string()
            }
        };
        assert_eq!(
            lines[0],
            format!("{kind}|{}|STATE|10.0.0.1|65001|1|2", t(T, 1))
        );
        assert_eq!(
            lines[2],
            format!("{kind}|{}|W|10.0.0.2|4200000001|172.16.0.0/24", t(T, 1))
        );
        assert_eq!(
            lines[3],
            format!(
                "{kind}|{}|A|10.0.0.2|4200000001|10.0.0.0/16|65001 4200000001 64500 {{64999,64998}}|IGP|192.0.2.1|100|0|65001:0 65002:7|AG|65001 198.51.100.7|",
                t(T, 1)
            )
        );
        assert!(lines.iter().any(|l| l.ends_with(
            "|A|2001:db8::3|65010|2001:db8:2::/48|65010 65022|EGP|2001:db8:ff::3|0|5|65010:99|NAG||"
        )));
        assert!(
            lines
                .iter()
                .any(|l| l.ends_with("|W|2001:db8::3|65010|2001:db8:ffff:3::/64"))
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("|A|10.0.0.1|65001|10.1.0.0/16|65001 65002|INCOMPLETE|"))
        );
        assert!(lines.contains(&format!(
            "{kind}_AP|{}|W|10.0.0.2|4200000001|172.16.2.0/24|42",
            t(T + 4, 4001)
        )));
        assert!(lines.iter().any(|l| l.starts_with(&format!(
            "{kind}_AP|{}|A|10.0.0.2|4200000001|10.2.1.0/24|42|65001 4200000001 64502 ",
            t(T + 4, 4001)
        ))));
        assert!(lines.iter().any(|l| l.starts_with(&format!(
            "{kind}_LOCAL|{}|A|10.0.0.2|4200000001|10.3.0.0/16|",
            t(T + 5, 5001)
        ))));
        assert_eq!(
            lines.last().unwrap(),
            &format!("{kind}|{}|STATE|10.0.0.2|4200000001|6|1", t(T + 9, 9001))
        );
    }
}

#[test]
fn bgpdump_reads_our_table_dump_v1() {
    let Some(lines) = check("td1.mrt", &table_dump_v1(4)) else {
        return;
    };
    assert_eq!(lines.len(), 4);
    assert!(
        lines[2].starts_with(
            "TABLE_DUMP|1700000000|B|10.0.0.1|65001|10.2.0.0/16|65001 65102|IGP|192.0.2.3|102|20|"
        ),
        "{}",
        lines[2]
    );
}
