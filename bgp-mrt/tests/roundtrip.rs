//! Encode-then-decode round trips of every record kind, and the reader's resync.
mod common;

use bgp_mrt::{MrtReader, ReadError};
use common::*;

fn roundtrip(recs: Vec<bgp_mrt::MrtRecord>) {
    let bytes = encode_all(&recs);
    let back: Vec<_> = MrtReader::new(&bytes[..])
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(back, recs);
}

#[test]
fn table_dump_v2_roundtrips() {
    roundtrip(table_dump_v2(20, false));
    roundtrip(table_dump_v2(20, true));
}

#[test]
fn bgp4mp_roundtrips() {
    roundtrip(bgp4mp_log(5, false));
    roundtrip(bgp4mp_log(5, true));
}

#[test]
fn table_dump_v1_roundtrips() {
    roundtrip(table_dump_v1(5));
}

#[test]
fn malformed_record_is_skipped_with_its_offset() {
    let recs = table_dump_v2(3, false);
    let good = encode_all(&recs);
    let first = encode_all(&recs[..1]).len();
    let second = encode_all(&recs[1..2]).len();
    let mut bad = good.to_vec();
    // Corrupt the second record's prefix length (RIB body octet 4) to 200.
    bad[first + 12 + 4] = 200;
    let out: Vec<_> = MrtReader::new(&bad[..]).collect();
    assert_eq!(out.len(), recs.len());
    match &out[1] {
        Err(ReadError::Record { offset, .. }) => assert_eq!(*offset, first as u64),
        other => panic!("expected a record error, got {other:?}"),
    }
    assert_eq!(out[2].as_ref().unwrap(), &recs[2]);
    let _ = second;
}

#[test]
fn record_over_the_limit_is_skipped_unread() {
    let recs = table_dump_v2(3, false);
    let bytes = encode_all(&recs);
    let out: Vec<_> = MrtReader::new(&bytes[..])
        .with_max_record_len(100)
        .collect();
    // The peer table and the one-path IPv6 RIBs are small; the two-path IPv4 RIBs are not.
    assert!(out[0].is_ok());
    assert!(
        out[1..4]
            .iter()
            .all(|r| matches!(r, Err(ReadError::TooLong { .. })))
    );
    assert_eq!(
        out[4..]
            .iter()
            .map(|r| r.as_ref().unwrap())
            .collect::<Vec<_>>(),
        recs[4..].iter().collect::<Vec<_>>()
    );
    assert_eq!(out.len(), recs.len());
}

#[test]
fn truncated_file_stops_with_an_error() {
    let bytes = encode_all(&table_dump_v2(3, false));
    let cut = &bytes[..bytes.len() - 5];
    let out: Vec<_> = MrtReader::new(cut).collect();
    assert!(matches!(
        out.last(),
        Some(Err(ReadError::TruncatedFile { .. }))
    ));
    assert_eq!(out.iter().filter(|r| r.is_ok()).count(), 3 + 3);
}

#[test]
fn gzip_and_bzip2_are_detected() {
    use std::io::Write;
    let recs = bgp4mp_log(3, true);
    let bytes = encode_all(&recs);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    let gz = gz.finish().unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bz.write_all(&bytes).unwrap();
    let bz = bz.finish().unwrap();
    for data in [gz, bz, bytes.to_vec()] {
        let back: Vec<_> = MrtReader::auto(std::io::Cursor::new(data))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(back, recs);
    }
}

/// Writes the fuzz seed corpus (`cargo test -p bgp-mrt --test roundtrip -- --ignored`).
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/seed-mrt_decode");
    std::fs::create_dir_all(&dir).unwrap();
    let sets = [
        ("td2", table_dump_v2(2, false)),
        ("td2ap", table_dump_v2(2, true)),
        ("bgp4mp", bgp4mp_log(1, false)),
        ("bgp4mp_et", bgp4mp_log(1, true)),
        ("td1", table_dump_v1(2)),
    ];
    for (name, recs) in sets {
        std::fs::write(dir.join(name), encode_all(&recs)).unwrap();
    }
}

/// Fuzzer find: a RIB entry's MP_REACH_NLRI of another family with an empty next hop was
/// re-encoded in the abbreviated form, which does not read back. Decode, encode, decode and
/// encode again must give the same octets.
#[test]
fn encoding_of_decoded_records_is_stable() {
    let data = include_bytes!("data/fuzz-mp-reach-empty-next-hop.mrt");
    let mut n = 0;
    for rec in MrtReader::new(&data[..]).filter_map(Result::ok) {
        let mut b = bytes::BytesMut::new();
        if bgp_mrt::encode_record(&rec, &mut b).is_err() {
            continue;
        }
        let again: Vec<_> = MrtReader::new(&b[..]).collect();
        let [Ok(r2)] = &again[..] else {
            panic!("{again:?}")
        };
        let mut b2 = bytes::BytesMut::new();
        bgp_mrt::encode_record(r2, &mut b2).unwrap();
        assert_eq!(b, b2);
        n += 1;
    }
    assert!(n > 0);
}
