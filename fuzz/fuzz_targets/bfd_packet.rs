#![no_main]
//! Decode arbitrary bytes as a BFD Control packet (RFC 5880); what decodes must re-encode
//! to the same octets (Length aside) and then drive a session without panicking.

use std::num::NonZeroU32;
use std::time::Duration;

use bgp_bfd::{ControlPacket, Session, SessionConfig};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut s = Session::new(
        SessionConfig::new(Duration::from_millis(100), Duration::from_millis(100), 3),
        NonZeroU32::MIN,
        Duration::ZERO,
    );
    let mut now = Duration::ZERO;
    for chunk in data.chunks(40) {
        let b = Bytes::copy_from_slice(chunk);
        if let Ok(p) = ControlPacket::decode(&b) {
            let again = p.to_bytes().expect("decoded packets encode");
            assert_eq!(&again[..3], &b[..3]);
            assert_eq!(&again[4..], &b[4..again.len()]);
            assert_eq!(ControlPacket::decode(&again).as_ref(), Ok(&p));
            let _ = s.handle_packet(now, &p);
        }
        now += Duration::from_millis(u64::from(chunk[0]) * 4);
        s.handle_timeout(now);
        while let Some(p) = s.poll_transmit(now) {
            assert!(!(p.poll && p.final_));
        }
    }
});
