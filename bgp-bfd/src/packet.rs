//! The BFD Control packet (RFC 5880 §4.1): encoding, decoding and the packet-level
//! reception checks of §6.8.6.
//!
//! Decoding applies every check of §6.8.6 that needs only the packet itself (version,
//! length, detect multiplier, Multipoint bit, discriminators). The checks that need
//! session state (which session, authentication in use) belong to
//! [`Session::handle_packet`](crate::Session::handle_packet) and the driver.

use bytes::{BufMut, Bytes};
use thiserror::Error;

/// Length of a Control packet without an authentication section.
pub const MIN_LEN: usize = 24;
/// Longest authentication data after Auth Type and Auth Len: Length is one octet.
pub const MAX_AUTH_DATA: usize = 255 - MIN_LEN - 2;
/// The only protocol version defined (RFC 5880).
pub const VERSION: u8 = 1;

/// Session states as carried in the Sta field (§4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// AdminDown (0): the session is held down administratively.
    AdminDown,
    /// Down (1).
    Down,
    /// Init (2): the remote side was heard, but it has not yet heard us.
    Init,
    /// Up (3).
    Up,
}

impl State {
    /// The 2-bit field value.
    pub fn code(self) -> u8 {
        match self {
            State::AdminDown => 0,
            State::Down => 1,
            State::Init => 2,
            State::Up => 3,
        }
    }

    /// The state for a 2-bit field value (the upper bits are ignored).
    pub fn from_code(c: u8) -> State {
        match c & 3 {
            0 => State::AdminDown,
            1 => State::Down,
            2 => State::Init,
            _ => State::Up,
        }
    }
}

/// Diagnostic codes (§4.1, Diag field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Diag {
    /// 0: No Diagnostic.
    None,
    /// 1: Control Detection Time Expired.
    ControlDetectionTimeExpired,
    /// 2: Echo Function Failed.
    EchoFunctionFailed,
    /// 3: Neighbor Signaled Session Down.
    NeighborSignaledSessionDown,
    /// 4: Forwarding Plane Reset.
    ForwardingPlaneReset,
    /// 5: Path Down.
    PathDown,
    /// 6: Concatenated Path Down.
    ConcatenatedPathDown,
    /// 7: Administratively Down.
    AdministrativelyDown,
    /// 8: Reverse Concatenated Path Down.
    ReverseConcatenatedPathDown,
    /// 9-31: reserved values, kept as received.
    Reserved(u8),
}

impl Diag {
    /// The 5-bit field value.
    pub fn code(self) -> u8 {
        match self {
            Diag::None => 0,
            Diag::ControlDetectionTimeExpired => 1,
            Diag::EchoFunctionFailed => 2,
            Diag::NeighborSignaledSessionDown => 3,
            Diag::ForwardingPlaneReset => 4,
            Diag::PathDown => 5,
            Diag::ConcatenatedPathDown => 6,
            Diag::AdministrativelyDown => 7,
            Diag::ReverseConcatenatedPathDown => 8,
            Diag::Reserved(c) => c & 0x1f,
        }
    }

    /// The diagnostic for a 5-bit field value (the upper bits are ignored).
    pub fn from_code(c: u8) -> Diag {
        match c & 0x1f {
            0 => Diag::None,
            1 => Diag::ControlDetectionTimeExpired,
            2 => Diag::EchoFunctionFailed,
            3 => Diag::NeighborSignaledSessionDown,
            4 => Diag::ForwardingPlaneReset,
            5 => Diag::PathDown,
            6 => Diag::ConcatenatedPathDown,
            7 => Diag::AdministrativelyDown,
            8 => Diag::ReverseConcatenatedPathDown,
            c => Diag::Reserved(c),
        }
    }
}

/// The authentication section (§4.2) as received: type and the octets after the
/// Auth Len field. This crate does not implement authentication; a session discards
/// packets with the A bit set (§6.8.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSection {
    /// Auth Type.
    pub auth_type: u8,
    /// The section after Auth Type and Auth Len (at most [`MAX_AUTH_DATA`] octets).
    pub data: Bytes,
}

/// A BFD Control packet (§4.1). Intervals are in microseconds, as on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlPacket {
    /// Diag.
    pub diag: Diag,
    /// Sta.
    pub state: State,
    /// P: Poll.
    pub poll: bool,
    /// F: Final.
    pub final_: bool,
    /// C: Control Plane Independent.
    pub cpi: bool,
    /// D: Demand.
    pub demand: bool,
    /// M: Multipoint (must be zero; a packet with it set is discarded).
    pub multipoint: bool,
    /// Detect Mult.
    pub detect_mult: u8,
    /// My Discriminator.
    pub my_disc: u32,
    /// Your Discriminator.
    pub your_disc: u32,
    /// Desired Min TX Interval, µs.
    pub desired_min_tx: u32,
    /// Required Min RX Interval, µs.
    pub required_min_rx: u32,
    /// Required Min Echo RX Interval, µs.
    pub required_min_echo_rx: u32,
    /// Authentication section; `Some` exactly when the A bit is set.
    pub auth: Option<AuthSection>,
}

/// Why a received packet was discarded (§6.8.6).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Fewer octets than the fixed header, or than the Length field says.
    #[error("packet truncated: {got} octets, need {need}")]
    Truncated {
        /// Octets received.
        got: usize,
        /// Octets needed.
        need: usize,
    },
    /// Version is not 1.
    #[error("unsupported BFD version {0}")]
    Version(u8),
    /// Length below 24 (26 with the A bit), or an authentication section that does not fit.
    #[error("bad length {0}")]
    Length(u8),
    /// Detect Mult is zero.
    #[error("detect multiplier is zero")]
    DetectMultZero,
    /// The Multipoint bit is set.
    #[error("multipoint bit set")]
    Multipoint,
    /// My Discriminator is zero.
    #[error("my discriminator is zero")]
    MyDiscZero,
    /// Your Discriminator is zero while the state is neither Down nor AdminDown.
    #[error("your discriminator is zero in state {0:?}")]
    YourDiscZero(State),
}

/// Errors from [`ControlPacket::encode`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// Authentication data longer than [`MAX_AUTH_DATA`] octets does not fit the Length field.
    #[error("authentication section too long: {0} octets")]
    AuthTooLong(usize),
}

impl ControlPacket {
    /// A packet with the given state and discriminators, every flag clear and the
    /// Required Min Echo RX Interval zero (this crate does not run the Echo function).
    pub fn new(state: State, diag: Diag, my_disc: u32, your_disc: u32) -> ControlPacket {
        ControlPacket {
            diag,
            state,
            poll: false,
            final_: false,
            cpi: false,
            demand: false,
            multipoint: false,
            detect_mult: 3,
            my_disc,
            your_disc,
            desired_min_tx: 1_000_000,
            required_min_rx: 1_000_000,
            required_min_echo_rx: 0,
            auth: None,
        }
    }

    /// Length of the encoded packet.
    pub fn encoded_len(&self) -> usize {
        MIN_LEN + self.auth.as_ref().map_or(0, |a| 2 + a.data.len())
    }

    /// Append the packet to `out`.
    pub fn encode(&self, out: &mut impl BufMut) -> Result<(), EncodeError> {
        if let Some(a) = &self.auth
            && a.data.len() > MAX_AUTH_DATA
        {
            return Err(EncodeError::AuthTooLong(a.data.len()));
        }
        out.put_u8((VERSION << 5) | self.diag.code());
        let flags = (self.state.code() << 6)
            | (u8::from(self.poll) << 5)
            | (u8::from(self.final_) << 4)
            | (u8::from(self.cpi) << 3)
            | (u8::from(self.auth.is_some()) << 2)
            | (u8::from(self.demand) << 1)
            | u8::from(self.multipoint);
        out.put_u8(flags);
        out.put_u8(self.detect_mult);
        // At most 24 + 2 + MAX_AUTH_DATA = 255, checked above.
        out.put_u8(u8::try_from(self.encoded_len()).unwrap_or(u8::MAX));
        out.put_u32(self.my_disc);
        out.put_u32(self.your_disc);
        out.put_u32(self.desired_min_tx);
        out.put_u32(self.required_min_rx);
        out.put_u32(self.required_min_echo_rx);
        if let Some(a) = &self.auth {
            out.put_u8(a.auth_type);
            out.put_u8((2 + a.data.len()) as u8);
            out.put_slice(&a.data);
        }
        Ok(())
    }

    /// The encoded packet as a fresh buffer.
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.encode(&mut v)?;
        Ok(Bytes::from(v))
    }

    /// Decode a UDP payload, applying the packet-level checks of §6.8.6. Octets after
    /// the Length field's extent are ignored; the authentication section is a zero-copy
    /// slice of `buf`.
    pub fn decode(buf: &Bytes) -> Result<ControlPacket, DecodeError> {
        Self::decode_with(buf, |r| buf.slice(r))
    }

    /// [`decode`](Self::decode) from a borrowed buffer (e.g. a reused receive buffer):
    /// nothing is allocated unless the packet carries an authentication section, which
    /// is copied.
    pub fn decode_slice(buf: &[u8]) -> Result<ControlPacket, DecodeError> {
        Self::decode_with(buf, |r| Bytes::copy_from_slice(&buf[r]))
    }

    fn decode_with(
        buf: &[u8],
        auth_data: impl FnOnce(std::ops::Range<usize>) -> Bytes,
    ) -> Result<ControlPacket, DecodeError> {
        if buf.len() < MIN_LEN {
            return Err(DecodeError::Truncated {
                got: buf.len(),
                need: MIN_LEN,
            });
        }
        let version = buf[0] >> 5;
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        let flags = buf[1];
        let auth_bit = flags & 0x04 != 0;
        let length = buf[3];
        let min = if auth_bit { MIN_LEN + 2 } else { MIN_LEN };
        if usize::from(length) < min {
            return Err(DecodeError::Length(length));
        }
        if usize::from(length) > buf.len() {
            return Err(DecodeError::Truncated {
                got: buf.len(),
                need: usize::from(length),
            });
        }
        let state = State::from_code(flags >> 6);
        let detect_mult = buf[2];
        if detect_mult == 0 {
            return Err(DecodeError::DetectMultZero);
        }
        let multipoint = flags & 0x01 != 0;
        if multipoint {
            return Err(DecodeError::Multipoint);
        }
        let u32_at = |i: usize| u32::from_be_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        let my_disc = u32_at(4);
        let your_disc = u32_at(8);
        if my_disc == 0 {
            return Err(DecodeError::MyDiscZero);
        }
        if your_disc == 0 && !matches!(state, State::Down | State::AdminDown) {
            return Err(DecodeError::YourDiscZero(state));
        }
        let auth = if auth_bit {
            let auth_len = usize::from(buf[MIN_LEN + 1]);
            // The section must hold its own two header octets and end where Length says.
            if auth_len < 2 || MIN_LEN + auth_len != usize::from(length) {
                return Err(DecodeError::Length(length));
            }
            Some(AuthSection {
                auth_type: buf[MIN_LEN],
                data: auth_data(MIN_LEN + 2..MIN_LEN + auth_len),
            })
        } else {
            None
        };
        Ok(ControlPacket {
            diag: Diag::from_code(buf[0]),
            state,
            poll: flags & 0x20 != 0,
            final_: flags & 0x10 != 0,
            cpi: flags & 0x08 != 0,
            demand: flags & 0x02 != 0,
            multipoint,
            detect_mult,
            my_disc,
            your_disc,
            desired_min_tx: u32_at(12),
            required_min_rx: u32_at(16),
            required_min_echo_rx: u32_at(20),
            auth,
        })
    }
}

/// The payload of our Echo packets (RFC 5880 §4: its format is the sender's own
/// business, since only the sender reads it back): a version octet, three reserved
/// octets, the sender's My Discriminator and a sequence number, all big-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoPacket {
    /// bfd.LocalDiscr of the sending session.
    pub disc: u32,
    /// Counts the session's Echo packets.
    pub seq: u32,
}

impl EchoPacket {
    /// Encoded length.
    pub const LEN: usize = 12;
    /// First octet of our format.
    pub const VERSION: u8 = 0xe1;

    /// The encoded payload.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        b[0] = Self::VERSION;
        b[4..8].copy_from_slice(&self.disc.to_be_bytes());
        b[8..12].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    /// Decode a payload of ours; `None` for anything else (another system's Echo
    /// packets, a wrong length).
    pub fn decode(buf: &[u8]) -> Option<EchoPacket> {
        if buf.len() != Self::LEN || buf[0] != Self::VERSION {
            return None;
        }
        let u = |i: usize| u32::from_be_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        Some(EchoPacket {
            disc: u(4),
            seq: u(8),
        })
        .filter(|e| e.disc != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> ControlPacket {
        let mut p = ControlPacket::new(State::Up, Diag::None, 0x1122_3344, 0x5566_7788);
        p.poll = true;
        p.desired_min_tx = 100_000;
        p.required_min_rx = 200_000;
        p
    }

    #[test]
    fn encodes_the_rfc_layout() {
        let b = sample().to_bytes().unwrap();
        assert_eq!(
            &b[..],
            &[
                0x20, 0xe0, 3, 24, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0, 1, 0x86,
                0xa0, 0, 3, 0x0d, 0x40, 0, 0, 0, 0
            ]
        );
        assert_eq!(ControlPacket::decode(&b).unwrap(), sample());
    }

    /// One row per packet-level discard rule of RFC 5880 §6.8.6.
    #[test]
    fn section_6_8_6_packet_checks() {
        let good = sample().to_bytes().unwrap().to_vec();
        type Edit = fn(&mut Vec<u8>);
        let rows: &[(&str, Edit, DecodeError)] = &[
            ("version 0", |b| b[0] &= 0x1f, DecodeError::Version(0)),
            (
                "version 2",
                |b| b[0] = (b[0] & 0x1f) | 0x40,
                DecodeError::Version(2),
            ),
            ("length 23", |b| b[3] = 23, DecodeError::Length(23)),
            (
                "length beyond payload",
                |b| b[3] = 30,
                DecodeError::Truncated { got: 24, need: 30 },
            ),
            (
                "short payload",
                |b| b.truncate(20),
                DecodeError::Truncated { got: 20, need: 24 },
            ),
            (
                "A bit with length 24",
                |b| b[1] |= 0x04,
                DecodeError::Length(24),
            ),
            ("detect mult 0", |b| b[2] = 0, DecodeError::DetectMultZero),
            ("multipoint", |b| b[1] |= 0x01, DecodeError::Multipoint),
            ("my disc 0", |b| b[4..8].fill(0), DecodeError::MyDiscZero),
            (
                "your disc 0 in Up",
                |b| b[8..12].fill(0),
                DecodeError::YourDiscZero(State::Up),
            ),
            (
                "your disc 0 in Init",
                |b| {
                    b[8..12].fill(0);
                    b[1] = (b[1] & 0x3f) | 0x80;
                },
                DecodeError::YourDiscZero(State::Init),
            ),
        ];
        for (name, edit, want) in rows {
            let mut b = good.clone();
            edit(&mut b);
            assert_eq!(
                ControlPacket::decode(&Bytes::from(b)),
                Err(want.clone()),
                "{name}"
            );
        }
        // Accepted: your disc 0 in Down and AdminDown; trailing octets beyond Length.
        for sta in [0x40u8, 0x00] {
            let mut b = good.clone();
            b[8..12].fill(0);
            b[1] = (b[1] & 0x3f) | sta;
            b.extend_from_slice(&[0xff; 8]);
            assert!(ControlPacket::decode(&Bytes::from(b)).is_ok());
        }
    }

    #[test]
    fn auth_section_round_trips_and_is_checked() {
        let mut p = sample();
        p.auth = Some(AuthSection {
            auth_type: 1,
            data: Bytes::from_static(b"\x01secret"),
        });
        let b = p.to_bytes().unwrap();
        assert_eq!(b[3] as usize, 24 + 2 + 7);
        assert_eq!(ControlPacket::decode(&b).unwrap(), p);
        let mut bad = b.to_vec();
        bad[25] = 1; // Auth Len below its own header
        assert!(ControlPacket::decode(&Bytes::from(bad)).is_err());
    }

    fn arb_packet() -> impl Strategy<Value = ControlPacket> {
        (
            (0u8..32, 0u8..4, any::<bool>(), any::<bool>(), any::<bool>()),
            (any::<bool>(), 1u8..=255, 1u32.., any::<u32>()),
            (any::<u32>(), any::<u32>(), any::<u32>()),
            proptest::option::of((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..200))),
        )
            .prop_map(
                |((diag, sta, poll, fin, cpi), (demand, mult, my, your), (tx, rx, echo), auth)| {
                    let state = State::from_code(sta);
                    let your = if matches!(state, State::Up | State::Init) && your == 0 {
                        1
                    } else {
                        your
                    };
                    ControlPacket {
                        diag: Diag::from_code(diag),
                        state,
                        poll,
                        final_: fin,
                        cpi,
                        demand,
                        multipoint: false,
                        detect_mult: mult,
                        my_disc: my,
                        your_disc: your,
                        desired_min_tx: tx,
                        required_min_rx: rx,
                        required_min_echo_rx: echo,
                        auth: auth.map(|(t, d)| AuthSection {
                            auth_type: t,
                            data: Bytes::from(d),
                        }),
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn round_trip(p in arb_packet()) {
            let b = p.to_bytes().unwrap();
            prop_assert_eq!(b.len(), p.encoded_len());
            prop_assert_eq!(ControlPacket::decode(&b).unwrap(), p.clone());
            prop_assert_eq!(ControlPacket::decode_slice(&b).unwrap(), p);
        }

        #[test]
        fn decode_slice_agrees_with_decode(v in proptest::collection::vec(any::<u8>(), 0..300)) {
            let b = Bytes::from(v);
            prop_assert_eq!(ControlPacket::decode_slice(&b), ControlPacket::decode(&b));
        }

        #[test]
        fn arbitrary_bytes_never_panic(v in proptest::collection::vec(any::<u8>(), 0..300)) {
            let b = Bytes::from(v);
            if let Ok(p) = ControlPacket::decode(&b) {
                // What decodes re-encodes to the same prefix of the input.
                // (Length is rewritten: octets beyond 24 without the A bit are not kept.)
                let again = p.to_bytes().unwrap();
                prop_assert_eq!(&again[..3], &b[..3]);
                prop_assert_eq!(&again[4..], &b[4..again.len()]);
            }
        }
    }
}
