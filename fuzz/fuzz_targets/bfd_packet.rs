#![no_main]
//! Decode arbitrary bytes as a BFD Control packet (RFC 5880); what decodes must re-encode
//! to the same octets (Length aside) and then drive a session without panicking, and a
//! second session that authenticates (the first input byte picks one of the five types).

use std::num::NonZeroU32;
use std::time::Duration;

use bgp_bfd::{AuthKey, AuthType, ControlPacket, Session, SessionConfig};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut s = Session::new(
        SessionConfig::new(Duration::from_millis(100), Duration::from_millis(100), 3),
        NonZeroU32::MIN,
        Duration::ZERO,
    );
    let kind = AuthType::from_code(data.first().map_or(1, |b| b % 5 + 1)).expect("1-5");
    let mut cfg = SessionConfig::new(Duration::from_millis(100), Duration::from_millis(100), 3);
    cfg.auth = Some(AuthKey::new(kind, 1, b"fuzz").expect("valid key"));
    let mut a = Session::new(cfg, NonZeroU32::MIN, Duration::ZERO);
    let mut now = Duration::ZERO;
    for chunk in data.chunks(40) {
        let b = Bytes::copy_from_slice(chunk);
        if let Ok(p) = ControlPacket::decode(&b) {
            let again = p.to_bytes().expect("decoded packets encode");
            assert_eq!(&again[..3], &b[..3]);
            assert_eq!(&again[4..], &b[4..again.len()]);
            assert_eq!(ControlPacket::decode(&again).as_ref(), Ok(&p));
            let _ = s.handle_packet(now, &p);
            let _ = a.handle_packet(now, &p);
        }
        now += Duration::from_millis(u64::from(chunk[0]) * 4);
        s.handle_timeout(now);
        a.handle_timeout(now);
        while let Some(p) = s.poll_transmit(now) {
            assert!(!(p.poll && p.final_));
        }
        while let Some(p) = a.poll_transmit(now) {
            assert!(p.auth.is_some() && p.to_bytes().is_ok());
        }
    }
});
