//! BFD authentication (RFC 5880 §4.2-§4.4, §6.7): Simple Password, Keyed MD5, Meticulous
//! Keyed MD5, Keyed SHA1 and Meticulous Keyed SHA1. A session signs with one key and may
//! accept more, by Key ID, during a rollover.
//!
//! [`AuthKey::sign`] fills the authentication section of a packet about to be sent;
//! [`AuthKey::verify`] checks a received one and returns its sequence number. The
//! sequence-number state (bfd.RcvAuthSeq, bfd.AuthSeqKnown, bfd.XmitAuthSeq) lives in
//! [`Session`](crate::Session), which calls both.

use std::fmt;

use bytes::Bytes;
use md5::{Digest, Md5};
use sha1::Sha1;
use thiserror::Error;

use crate::packet::{AuthSection, ControlPacket, MIN_LEN};

/// Authentication types (§4.1, Auth Type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthType {
    /// 1: the password in clear (§6.7.2).
    SimplePassword,
    /// 2: MD5 over the packet and the key; the sequence number may stay (§6.7.3).
    KeyedMd5,
    /// 3: as Keyed MD5, the sequence number rises with every packet.
    MeticulousKeyedMd5,
    /// 4: SHA1 over the packet and the key (§6.7.4).
    KeyedSha1,
    /// 5: as Keyed SHA1, the sequence number rises with every packet.
    MeticulousKeyedSha1,
}

impl AuthType {
    /// The five types, in Auth Type order.
    pub const ALL: [AuthType; 5] = [
        AuthType::SimplePassword,
        AuthType::KeyedMd5,
        AuthType::MeticulousKeyedMd5,
        AuthType::KeyedSha1,
        AuthType::MeticulousKeyedSha1,
    ];

    /// A configuration name: `simple-password`, `keyed-md5`, `meticulous-keyed-md5`,
    /// `keyed-sha1`, `meticulous-keyed-sha1` (parsed back by `FromStr`).
    pub fn name(self) -> &'static str {
        match self {
            AuthType::SimplePassword => "simple-password",
            AuthType::KeyedMd5 => "keyed-md5",
            AuthType::MeticulousKeyedMd5 => "meticulous-keyed-md5",
            AuthType::KeyedSha1 => "keyed-sha1",
            AuthType::MeticulousKeyedSha1 => "meticulous-keyed-sha1",
        }
    }

    /// The Auth Type field value.
    pub fn code(self) -> u8 {
        match self {
            AuthType::SimplePassword => 1,
            AuthType::KeyedMd5 => 2,
            AuthType::MeticulousKeyedMd5 => 3,
            AuthType::KeyedSha1 => 4,
            AuthType::MeticulousKeyedSha1 => 5,
        }
    }

    /// The type for an Auth Type field value; `None` for 0 and 6-255 (reserved).
    pub fn from_code(c: u8) -> Option<AuthType> {
        Some(match c {
            1 => AuthType::SimplePassword,
            2 => AuthType::KeyedMd5,
            3 => AuthType::MeticulousKeyedMd5,
            4 => AuthType::KeyedSha1,
            5 => AuthType::MeticulousKeyedSha1,
            _ => return None,
        })
    }

    /// Whether the sequence number must rise with every packet sent, and must have risen
    /// in every packet accepted.
    pub fn meticulous(self) -> bool {
        matches!(
            self,
            AuthType::MeticulousKeyedMd5 | AuthType::MeticulousKeyedSha1
        )
    }

    /// Length of the digest field (zero for Simple Password).
    fn digest_len(self) -> usize {
        match self {
            AuthType::SimplePassword => 0,
            AuthType::KeyedMd5 | AuthType::MeticulousKeyedMd5 => 16,
            AuthType::KeyedSha1 | AuthType::MeticulousKeyedSha1 => 20,
        }
    }

    /// Longest key or password: 16 octets, 20 for SHA1.
    pub fn max_key_len(self) -> usize {
        match self {
            AuthType::KeyedSha1 | AuthType::MeticulousKeyedSha1 => 20,
            _ => 16,
        }
    }
}

impl fmt::Display for AuthType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of [`AuthType::name`]'s.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unknown BFD authentication type {0:?} (simple-password, keyed-md5, meticulous-keyed-md5, keyed-sha1, meticulous-keyed-sha1)"
)]
pub struct UnknownAuthType(pub String);

impl std::str::FromStr for AuthType {
    type Err = UnknownAuthType;
    fn from_str(s: &str) -> Result<AuthType, UnknownAuthType> {
        AuthType::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| UnknownAuthType(s.to_string()))
    }
}

/// A key that does not fit its type.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("a {kind:?} key must be 1 to {max} octets, not {len}")]
pub struct KeyLengthError {
    /// The type asked for.
    pub kind: AuthType,
    /// Longest allowed.
    pub max: usize,
    /// Length given.
    pub len: usize,
}

/// Why an authenticated packet was rejected (§6.7). Each is a discard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AuthError {
    /// The A bit is set but the session runs no authentication.
    #[error("authentication not in use but A bit set")]
    NotInUse,
    /// The session runs authentication but the A bit is clear.
    #[error("authentication in use but A bit clear")]
    Missing,
    /// Auth Type is not the session's.
    #[error("auth type {0}, expected another")]
    WrongType(u8),
    /// Auth Key ID is not the session's key.
    #[error("auth key id {0} is not ours")]
    WrongKeyId(u8),
    /// Auth Len is not the one the type defines.
    #[error("auth len {0} does not fit the type")]
    BadLength(usize),
    /// The sequence number is outside the window of §6.7.3.
    #[error("sequence number {got} outside the window after {last}")]
    Sequence {
        /// Received.
        got: u32,
        /// bfd.RcvAuthSeq.
        last: u32,
    },
    /// The password or digest does not match.
    #[error("password or digest does not match")]
    Mismatch,
}

/// One authentication key: its type, Key ID and secret (a password for Simple Password).
/// `Debug` does not print the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthKey {
    kind: AuthType,
    key_id: u8,
    secret: Vec<u8>,
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthKey")
            .field("kind", &self.kind)
            .field("key_id", &self.key_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl AuthKey {
    /// A key of `kind` with Key ID `key_id`; the secret must be 1 to
    /// [`AuthType::max_key_len`] octets (shorter MD5 and SHA1 keys are padded with zeros,
    /// §6.7.3).
    pub fn new(kind: AuthType, key_id: u8, secret: &[u8]) -> Result<AuthKey, KeyLengthError> {
        let max = kind.max_key_len();
        if secret.is_empty() || secret.len() > max {
            return Err(KeyLengthError {
                kind,
                max,
                len: secret.len(),
            });
        }
        Ok(AuthKey {
            kind,
            key_id,
            secret: secret.to_vec(),
        })
    }

    /// The authentication type.
    pub fn kind(&self) -> AuthType {
        self.kind
    }

    /// The Auth Key ID.
    pub fn key_id(&self) -> u8 {
        self.key_id
    }

    /// Octets after Auth Type and Auth Len in this type's section.
    fn data_len(&self) -> usize {
        match self.kind {
            AuthType::SimplePassword => 1 + self.secret.len(),
            // Key ID, Reserved, Sequence Number, digest.
            k => 6 + k.digest_len(),
        }
    }

    /// The digest field as it goes into the hash: the key padded with zeros.
    fn padded_key(&self) -> [u8; 20] {
        let mut k = [0u8; 20];
        k[..self.secret.len()].copy_from_slice(&self.secret);
        k
    }

    /// Fill `p`'s authentication section for sending, with sequence number `seq` (ignored
    /// by Simple Password).
    pub fn sign(&self, p: &mut ControlPacket, seq: u32) {
        let mut data = [0u8; 26];
        let n = self.data_len();
        data[0] = self.key_id;
        let section = |data: &[u8]| AuthSection {
            auth_type: self.kind.code(),
            data: Bytes::copy_from_slice(data),
        };
        if self.kind == AuthType::SimplePassword {
            data[1..n].copy_from_slice(&self.secret);
        } else {
            data[2..6].copy_from_slice(&seq.to_be_bytes());
            // The digest covers the section with the padded key in the digest field,
            // which `digest` puts there; zeros stand in meanwhile.
            p.auth = Some(section(&data[..n]));
            let dl = self.kind.digest_len();
            let digest = self.digest(p);
            data[6..6 + dl].copy_from_slice(&digest[..dl]);
        }
        p.auth = Some(section(&data[..n]));
    }

    /// The hash of `p` as encoded, with the padded key in place of its digest field.
    fn digest(&self, p: &ControlPacket) -> [u8; 20] {
        let mut buf = [0u8; 255];
        let len = p.encoded_len().min(buf.len());
        let mut w = &mut buf[..len];
        // Cannot fail: the section is one of ours or was decoded, so it fits Length.
        let _ = p.encode(&mut w);
        let dl = self.kind.digest_len();
        let at = MIN_LEN + 2 + 6;
        if let Some(field) = buf.get_mut(at..at + dl) {
            field.copy_from_slice(&self.padded_key()[..dl]);
        }
        let mut out = [0u8; 20];
        match self.kind {
            AuthType::KeyedSha1 | AuthType::MeticulousKeyedSha1 => {
                out.copy_from_slice(&Sha1::digest(&buf[..len]));
            }
            _ => out[..16].copy_from_slice(&Md5::digest(&buf[..len])),
        }
        out
    }

    /// Check a received packet (§6.7.2-§6.7.4). `last` is bfd.RcvAuthSeq when
    /// bfd.AuthSeqKnown is set. Returns the packet's sequence number (zero for Simple
    /// Password) for the caller to store.
    pub fn verify(&self, p: &ControlPacket, last: Option<u32>) -> Result<u32, AuthError> {
        let Some(a) = &p.auth else {
            return Err(AuthError::Missing);
        };
        if a.auth_type != self.kind.code() {
            return Err(AuthError::WrongType(a.auth_type));
        }
        let d = &a.data[..];
        // Auth Len is fixed by the type (by the password's length for Simple Password).
        if d.len() != self.data_len() {
            return Err(AuthError::BadLength(d.len() + 2));
        }
        // The first octet after Auth Len is the Key ID in every type (the length above
        // is at least 2).
        if d[0] != self.key_id {
            return Err(AuthError::WrongKeyId(d[0]));
        }
        if self.kind == AuthType::SimplePassword {
            return if eq_ct(&d[1..], &self.secret) {
                Ok(0)
            } else {
                Err(AuthError::Mismatch)
            };
        }
        let seq = u32::from_be_bytes([d[2], d[3], d[4], d[5]]);
        if let Some(last) = last {
            // §6.7.3: within 3 x Detect Mult after the last one, circularly; a
            // meticulous sequence number must also have moved.
            let ahead = seq.wrapping_sub(last);
            let low = u32::from(self.kind.meticulous());
            if ahead < low || ahead > 3 * u32::from(p.detect_mult) {
                return Err(AuthError::Sequence { got: seq, last });
            }
        }
        let dl = self.kind.digest_len();
        if eq_ct(&self.digest(p)[..dl], &d[6..6 + dl]) {
            Ok(seq)
        } else {
            Err(AuthError::Mismatch)
        }
    }
}

/// Compare without an early exit, so the time taken does not say how much matched.
fn eq_ct(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Diag, State};
    use proptest::prelude::*;

    const TYPES: [AuthType; 5] = AuthType::ALL;

    #[test]
    fn names_round_trip() {
        for t in AuthType::ALL {
            assert_eq!(t.name().parse::<AuthType>(), Ok(t));
            assert_eq!(AuthType::from_code(t.code()), Some(t));
        }
        assert!("sha256".parse::<AuthType>().is_err());
        assert_eq!(AuthType::from_code(0), None);
    }

    fn signed(key: &AuthKey, seq: u32) -> ControlPacket {
        let mut p = ControlPacket::new(State::Up, Diag::None, 1, 2);
        p.desired_min_tx = 100_000;
        p.required_min_rx = 100_000;
        key.sign(&mut p, seq);
        // Through the wire, as a receiver sees it.
        ControlPacket::decode(&p.to_bytes().unwrap()).unwrap()
    }

    #[test]
    fn section_layout_and_length_of_each_type() {
        for (kind, auth_len) in TYPES.iter().zip([3 + 6, 24, 24, 28, 28]) {
            let key = AuthKey::new(*kind, 9, b"secret").unwrap();
            let wire = signed(&key, 0x0102_0304).to_bytes().unwrap();
            assert_eq!(wire[1] & 0x04, 0x04, "A bit");
            assert_eq!(usize::from(wire[3]), 24 + auth_len, "{kind:?}");
            assert_eq!(wire[24], kind.code());
            assert_eq!(usize::from(wire[25]), auth_len);
            assert_eq!(wire[26], 9, "key id");
            if *kind == AuthType::SimplePassword {
                assert_eq!(&wire[27..], b"secret");
            } else {
                assert_eq!(wire[27], 0, "reserved");
                assert_eq!(&wire[28..32], &[1, 2, 3, 4]);
                assert!(
                    !wire[32..].windows(6).any(|w| w == b"secret"),
                    "key not sent"
                );
            }
        }
    }

    #[test]
    fn md5_digest_is_over_the_packet_with_the_padded_key() {
        // Computed independently: the packet with the key, zero-padded to 16 octets, in
        // the digest field, hashed with MD5.
        let key = AuthKey::new(AuthType::KeyedMd5, 1, b"abc").unwrap();
        let p = signed(&key, 7);
        let mut raw = p.to_bytes().unwrap().to_vec();
        let digest = raw[32..48].to_vec();
        raw[32..48].fill(0);
        raw[32..35].copy_from_slice(b"abc");
        assert_eq!(&Md5::digest(&raw)[..], &digest[..]);
    }

    #[test]
    fn verify_accepts_its_own_and_rejects_changes() {
        for kind in TYPES {
            let key = AuthKey::new(kind, 3, b"k3y").unwrap();
            let p = signed(&key, 100);
            assert!(key.verify(&p, None).is_ok(), "{kind:?}");
            // Any change to a field the hash covers, or to the password, fails.
            let mut q = p.clone();
            q.required_min_rx += 1;
            let changed = key.verify(&q, None);
            if kind == AuthType::SimplePassword {
                assert!(changed.is_ok(), "a password does not cover the packet");
            } else {
                assert_eq!(changed, Err(AuthError::Mismatch), "{kind:?}");
            }
            let other = AuthKey::new(kind, 3, b"k3Y").unwrap();
            assert_eq!(other.verify(&p, None), Err(AuthError::Mismatch), "{kind:?}");
            let other_id = AuthKey::new(kind, 4, b"k3y").unwrap();
            assert_eq!(other_id.verify(&p, None), Err(AuthError::WrongKeyId(3)));
            let mut unsigned = p.clone();
            unsigned.auth = None;
            assert_eq!(key.verify(&unsigned, None), Err(AuthError::Missing));
        }
        let md5 = AuthKey::new(AuthType::KeyedMd5, 3, b"k3y").unwrap();
        let sha = AuthKey::new(AuthType::KeyedSha1, 3, b"k3y").unwrap();
        assert_eq!(
            sha.verify(&signed(&md5, 1), None),
            Err(AuthError::WrongType(2))
        );
    }

    #[test]
    fn sequence_window_of_section_6_7_3() {
        // Detect Mult 3: up to 9 ahead; keyed accepts the same number, meticulous not.
        let keyed = AuthKey::new(AuthType::KeyedSha1, 1, b"k").unwrap();
        let met = AuthKey::new(AuthType::MeticulousKeyedSha1, 1, b"k").unwrap();
        for (last, seq, keyed_ok, met_ok) in [
            (100, 100, true, false),
            (100, 101, true, true),
            (100, 109, true, true),
            (100, 110, false, false),
            (100, 99, false, false),
            (u32::MAX, 3, true, true),
            (u32::MAX - 1, u32::MAX - 1, true, false),
        ] {
            assert_eq!(
                keyed.verify(&signed(&keyed, seq), Some(last)).is_ok(),
                keyed_ok
            );
            assert_eq!(met.verify(&signed(&met, seq), Some(last)).is_ok(), met_ok);
        }
    }

    #[test]
    fn key_lengths() {
        assert!(AuthKey::new(AuthType::SimplePassword, 1, b"").is_err());
        assert!(AuthKey::new(AuthType::SimplePassword, 1, &[b'x'; 16]).is_ok());
        assert!(AuthKey::new(AuthType::KeyedMd5, 1, &[b'x'; 17]).is_err());
        assert!(AuthKey::new(AuthType::KeyedSha1, 1, &[b'x'; 20]).is_ok());
        assert!(AuthKey::new(AuthType::MeticulousKeyedSha1, 1, &[b'x'; 21]).is_err());
        let k = AuthKey::new(AuthType::KeyedSha1, 1, b"hunter2").unwrap();
        assert!(!format!("{k:?}").contains("hunter2"));
    }

    proptest! {
        /// Arbitrary authentication sections never panic, and are never accepted by a
        /// digest key unless they were signed with it.
        #[test]
        fn arbitrary_sections_do_not_panic(t in 0u8..8, data in proptest::collection::vec(any::<u8>(), 0..40), last in any::<Option<u32>>()) {
            let mut p = ControlPacket::new(State::Up, Diag::None, 1, 2);
            p.auth = Some(AuthSection { auth_type: t, data: Bytes::from(data) });
            let p = ControlPacket::decode(&p.to_bytes().unwrap()).unwrap();
            for kind in TYPES {
                let key = AuthKey::new(kind, 0, b"k").unwrap();
                let r = key.verify(&p, last);
                if kind != AuthType::SimplePassword {
                    prop_assert!(r.is_err());
                }
            }
        }

        /// Sign then verify is the identity on the sequence number, for any packet.
        #[test]
        fn sign_verify_round_trip(seq in any::<u32>(), disc in 1u32.., tx in any::<u32>(), secret in proptest::collection::vec(any::<u8>(), 1..=16)) {
            for kind in TYPES {
                let key = AuthKey::new(kind, 7, &secret).unwrap();
                let mut p = ControlPacket::new(State::Down, Diag::None, disc, 0);
                p.desired_min_tx = tx;
                key.sign(&mut p, seq);
                let back = ControlPacket::decode(&p.to_bytes().unwrap()).unwrap();
                prop_assert_eq!(&back, &p);
                let want = if kind == AuthType::SimplePassword { 0 } else { seq };
                prop_assert_eq!(key.verify(&back, None), Ok(want));
            }
        }
    }
}
