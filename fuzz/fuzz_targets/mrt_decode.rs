//! MRT: the streaming reader (typed decode, skip and resync), the lazy views and
//! decode-encode-decode stability on arbitrary bytes.
#![no_main]

use bgp_mrt::view::{Bgp4mpView, RibView};
use bgp_mrt::{MrtReader, encode_record};
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rd = MrtReader::new(data).with_max_record_len(1 << 16);
    let mut n = 0;
    while let Some(r) = rd.next_record() {
        n += 1;
        assert!(n <= data.len() / 12 + 1, "more records than the input can hold");
        let Ok(rec) = r else { continue };
        // Whatever decoded re-encodes, and the result decodes to the same record.
        let mut b = BytesMut::new();
        if encode_record(&rec, &mut b).is_ok() {
            let again: Vec<_> = MrtReader::new(&b[..]).collect();
            if let [Ok(r2)] = &again[..] {
                let mut b2 = BytesMut::new();
                encode_record(r2, &mut b2).expect("re-encode");
                assert_eq!(b, b2, "encoding is not stable");
            }
        }
    }
    let mut rd = MrtReader::new(data);
    while let Some(r) = rd.next_raw() {
        let Ok(r) = r else { continue };
        if let Ok(v) = RibView::parse(r.header.subtype, &r.body) {
            for e in v.entries() {
                let _ = e.attributes().count();
            }
        }
        let _ = Bgp4mpView::parse(r.header.subtype, &Bytes::clone(&r.body));
    }
});
