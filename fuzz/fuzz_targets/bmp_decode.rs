#![no_main]
//! BMP from arbitrary bytes: as one message, as a stream through the codec, and through a
//! station (which decodes the carried OPENs and UPDATEs). Whatever decodes must re-encode and
//! decode to the same value.
use bgp_bmp::{BmpCodec, Station, decode, encode};
use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(m) = decode(Bytes::copy_from_slice(data)) {
        let again = encode(&m).expect("a decoded message re-encodes");
        assert_eq!(decode(again.freeze()).expect("re-decodes"), m);
    }
    let mut codec = BmpCodec::with_max_len(64 * 1024);
    let mut buf = BytesMut::from(data);
    let mut station = Station::default();
    // Each decoded frame consumes at least the 6-octet header: the loop is bounded.
    while let Ok(Some(m)) = codec.decode(&mut buf) {
        let _ = station.handle(m);
    }
});
