#![no_main]
//! Decode arbitrary bytes as a BFD Control packet (RFC 5880); what decodes must re-encode
//! to the same octets (Length aside) and then drive a session without panicking. Beside
//! it, two sessions that share a key (the first input byte picks one of the five types)
//! exchange signed packets, and the input decides which of them reach the other intact,
//! altered in one octet, or not at all, and what arbitrary packets are mixed in: the
//! digest, sequence-number and A-bit paths all run on both accepted and refused packets.
//! The sessions run the Echo function: the input also decides which of a's Echo packets
//! come back, and arbitrary bytes go to the Echo decoder and sessions.
//!
//! Input: a type byte, then records of a length byte (1-72 octets follow) and its bytes.

use std::num::NonZeroU32;
use std::time::Duration;

use bgp_bfd::{AuthKey, AuthType, ControlPacket, EchoPacket, Session, SessionConfig};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fn session(disc: u32, auth: Option<AuthKey>) -> Session {
    let mut cfg = SessionConfig::new(Duration::from_millis(100), Duration::from_millis(100), 3);
    cfg.auth = auth;
    // Both run and invite the Echo function, so its paths run too.
    cfg.echo_tx = Some(Duration::from_millis(20));
    cfg.required_min_echo_rx = Duration::from_millis(20);
    Session::new(cfg, NonZeroU32::new(disc).expect("nonzero"), Duration::ZERO)
}

fn check_round_trip(b: &Bytes, p: &ControlPacket) {
    let again = p.to_bytes().expect("decoded packets encode");
    assert_eq!(&again[..3], &b[..3]);
    assert_eq!(&again[4..], &b[4..again.len()]);
    assert_eq!(ControlPacket::decode(&again).as_ref(), Ok(p));
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let kind = AuthType::from_code(first % 5 + 1).expect("1-5");
    let key = AuthKey::new(kind, 1, b"fuzz").expect("valid key");
    let mut plain = session(1, None);
    let mut a = session(1, Some(key.clone()));
    let mut b = session(2, Some(key));
    let mut now = Duration::ZERO;
    while let Some((&len, tail)) = rest.split_first() {
        let n = (usize::from(len) % 72 + 1).min(tail.len());
        let (chunk, next) = tail.split_at(n);
        rest = next;
        let ctl = chunk.first().copied().unwrap_or(0);
        // Arbitrary bytes to the plain session and to a.
        let raw = Bytes::copy_from_slice(chunk);
        // ...also as Echo payloads; and a's own Echo packets back to it, or lost.
        if let Some(e) = EchoPacket::decode(chunk) {
            assert_eq!(EchoPacket::decode(&e.encode()), Some(e));
            let _ = a.handle_echo(now, &e);
            let _ = plain.handle_echo(now, &e);
        }
        while let Some(e) = a.poll_echo(now) {
            if ctl & 0x40 == 0 {
                a.echo_sent(now);
            }
            if ctl & 0x20 == 0 {
                let _ = a.handle_echo(now, &e);
            }
        }
        if let Ok(p) = ControlPacket::decode(&raw) {
            check_round_trip(&raw, &p);
            let _ = plain.handle_packet(now, &p);
            let _ = a.handle_packet(now, &p);
        }
        // b's signed packets to a: intact, one octet altered, or dropped.
        while let Some(p) = b.poll_transmit(now) {
            let mut wire = p.to_bytes().expect("signed packets encode").to_vec();
            match ctl % 4 {
                0 => continue,
                1 => {
                    let at = usize::from(chunk.get(1).copied().unwrap_or(0)) % wire.len();
                    wire[at] ^= chunk.get(2).copied().unwrap_or(1).max(1);
                }
                _ => {}
            }
            if let Ok(q) = ControlPacket::decode(&Bytes::from(wire)) {
                let _ = a.handle_packet(now, &q);
            }
        }
        // a's packets to b, always intact (a replay when ctl says so).
        while let Some(p) = a.poll_transmit(now) {
            assert!(p.auth.is_some());
            let q = ControlPacket::decode(&p.to_bytes().expect("encodes")).expect("decodes");
            let _ = b.handle_packet(now, &q);
            if ctl & 0x10 != 0 {
                let _ = b.handle_packet(now, &q);
            }
        }
        now += Duration::from_millis(u64::from(ctl) * 2);
        for s in [&mut plain, &mut a, &mut b] {
            s.handle_timeout(now);
        }
        while let Some(p) = plain.poll_transmit(now) {
            assert!(!(p.poll && p.final_) && p.auth.is_none());
        }
    }
});
