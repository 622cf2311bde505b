//! Decoding and encoding of BMP messages. Decoding checks every length against the enclosing
//! one and allocates only for the lists it returns (bounded by the message length); BGP PDUs
//! stay slices of the input.

use std::net::Ipv4Addr;

use bgp_wire::{Afi, AfiSafi, Safi};
use bytes::{BufMut, Bytes, BytesMut};

use crate::message::*;

/// What is wrong with a BMP message. Every variant names the byte offset within the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer octets than a field needs.
    #[error("truncated at offset {offset}: {what} needs {need} octets, {have} left")]
    Truncated {
        /// Offset of the field.
        offset: usize,
        /// The field.
        what: &'static str,
        /// Octets the field needs.
        need: usize,
        /// Octets left.
        have: usize,
    },
    /// The version is not 3.
    #[error("unsupported BMP version {0}")]
    Version(u8),
    /// The common header's length is below 6, above the limit, or disagrees with the input.
    #[error("bad message length {len} (limit {limit}, input {input})")]
    Length {
        /// Length in the header.
        len: usize,
        /// The accepted maximum.
        limit: usize,
        /// Octets given.
        input: usize,
    },
    /// An unassigned message type.
    #[error("unknown BMP message type {0}")]
    UnknownType(u8),
    /// A carried BGP PDU whose own header is wrong (marker or length).
    #[error("bad BGP PDU at offset {offset}: {why}")]
    BgpPdu {
        /// Offset of the PDU.
        offset: usize,
        /// What is wrong.
        why: &'static str,
    },
}

struct Cur<'a> {
    buf: &'a Bytes,
    pos: usize,
    end: usize,
}

impl<'a> Cur<'a> {
    fn need(&self, n: usize, what: &'static str) -> Result<(), DecodeError> {
        if self.end - self.pos < n {
            return Err(DecodeError::Truncated {
                offset: self.pos,
                what,
                need: n,
                have: self.end - self.pos,
            });
        }
        Ok(())
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        self.need(1, what)?;
        self.pos += 1;
        Ok(self.buf[self.pos - 1])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        self.need(2, what)?;
        let v = u16::from_be_bytes([self.buf[self.pos], self.buf[self.pos + 1]]);
        self.pos += 2;
        Ok(v)
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let b = self.array::<4>(what)?;
        Ok(u32::from_be_bytes(b))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let b = self.array::<8>(what)?;
        Ok(u64::from_be_bytes(b))
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        self.need(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(&self.buf[self.pos..self.pos + N]);
        self.pos += N;
        Ok(a)
    }
    fn bytes(&mut self, n: usize, what: &'static str) -> Result<Bytes, DecodeError> {
        self.need(n, what)?;
        let b = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(b)
    }
    fn rest(&mut self) -> Bytes {
        let b = self.buf.slice(self.pos..self.end);
        self.pos = self.end;
        b
    }
    fn is_empty(&self) -> bool {
        self.pos >= self.end
    }
    /// One whole BGP PDU: the marker checked, the length read from its header.
    fn bgp_pdu(&mut self, what: &'static str) -> Result<Bytes, DecodeError> {
        let at = self.pos;
        self.need(bgp_wire::HEADER_LEN, what)?;
        if self.buf[at..at + 16].iter().any(|&b| b != 0xff) {
            return Err(DecodeError::BgpPdu {
                offset: at,
                why: "marker is not all ones",
            });
        }
        let len = u16::from_be_bytes([self.buf[at + 16], self.buf[at + 17]]) as usize;
        if len < bgp_wire::HEADER_LEN {
            return Err(DecodeError::BgpPdu {
                offset: at,
                why: "length below the 19-octet header",
            });
        }
        self.bytes(len, what)
    }
}

/// The length of the next message if `buf` starts with a whole common header: checks the
/// version and the length against `limit`. `Ok(None)` when fewer than 6 octets are there.
pub fn peek_len(buf: &[u8], limit: usize) -> Result<Option<usize>, DecodeError> {
    if buf.len() < COMMON_HEADER_LEN {
        return Ok(None);
    }
    if buf[0] != VERSION {
        return Err(DecodeError::Version(buf[0]));
    }
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if !(COMMON_HEADER_LEN..=limit).contains(&len) {
        return Err(DecodeError::Length {
            len,
            limit,
            input: buf.len(),
        });
    }
    Ok(Some(len))
}

/// Decodes one whole BMP message (`msg` is exactly one message, common header included).
///
/// ```
/// use bgp_bmp::{decode, encode, Message};
/// let m = Message::initiation("router1", "kube-bgp");
/// let bytes = encode(&m).unwrap();
/// assert_eq!(decode(bytes.freeze()).unwrap(), m);
/// ```
pub fn decode(msg: Bytes) -> Result<Message, DecodeError> {
    let len = peek_len(&msg, usize::MAX)?.ok_or(DecodeError::Truncated {
        offset: 0,
        what: "common header",
        need: COMMON_HEADER_LEN,
        have: msg.len(),
    })?;
    if len != msg.len() {
        return Err(DecodeError::Length {
            len,
            limit: msg.len(),
            input: msg.len(),
        });
    }
    let ty = msg[5];
    let mut c = Cur {
        buf: &msg,
        pos: COMMON_HEADER_LEN,
        end: len,
    };
    Ok(match ty {
        msg_type::INITIATION => Message::Initiation(tlvs(&mut c)?),
        msg_type::TERMINATION => Message::Termination(tlvs(&mut c)?),
        msg_type::ROUTE_MONITORING => {
            let peer = peer_header(&mut c)?;
            let update = c.bgp_pdu("route monitoring BGP UPDATE")?;
            // Anything after the PDU is not part of the message format; refuse it rather than
            // guess.
            if !c.is_empty() {
                return Err(DecodeError::Length {
                    len,
                    limit: c.pos,
                    input: msg.len(),
                });
            }
            Message::RouteMonitoring { peer, update }
        }
        msg_type::STATISTICS_REPORT => {
            let peer = peer_header(&mut c)?;
            let count = c.u32("stats count")?;
            // Each stat takes at least 4 octets: the count cannot ask for more room than the
            // message has.
            let mut stats = Vec::with_capacity((count as usize).min((c.end - c.pos) / 4));
            for _ in 0..count {
                let kind = c.u16("stat type")?;
                let l = c.u16("stat length")? as usize;
                let v = c.bytes(l, "stat value")?;
                let value = match l {
                    4 => StatValue::Counter(u32::from_be_bytes([v[0], v[1], v[2], v[3]])),
                    8 => StatValue::Gauge(u64::from_be_bytes(v[..8].try_into().unwrap_or([0; 8]))),
                    11 => StatValue::PerFamily(
                        AfiSafi::new(
                            Afi::from_code(u16::from_be_bytes([v[0], v[1]])),
                            Safi::from_code(v[2]),
                        ),
                        u64::from_be_bytes(v[3..11].try_into().unwrap_or([0; 8])),
                    ),
                    _ => StatValue::Raw(v),
                };
                stats.push(Stat { kind, value });
            }
            Message::StatisticsReport { peer, stats }
        }
        msg_type::PEER_DOWN => {
            let peer = peer_header(&mut c)?;
            let code = c.u8("peer down reason")?;
            let reason = match code {
                1 => PeerDownReason::LocalNotification(c.bgp_pdu("NOTIFICATION")?),
                2 => PeerDownReason::LocalNoNotification(c.u16("FSM event code")?),
                3 => PeerDownReason::RemoteNotification(c.bgp_pdu("NOTIFICATION")?),
                4 => PeerDownReason::RemoteNoData,
                5 => PeerDownReason::PeerDeconfigured,
                6 => PeerDownReason::LocalTlvs(tlvs(&mut c)?),
                c2 => PeerDownReason::Other(c2, c.rest()),
            };
            // Reasons 1-5 carry nothing after their data; keep strictness symmetric with the
            // encoder so round trips are exact.
            if !c.is_empty() {
                return Err(DecodeError::Length {
                    len,
                    limit: c.pos,
                    input: msg.len(),
                });
            }
            Message::PeerDown { peer, reason }
        }
        msg_type::PEER_UP => {
            let peer = peer_header(&mut c)?;
            let local = c.array::<16>("local address")?;
            let local_port = c.u16("local port")?;
            let remote_port = c.u16("remote port")?;
            let sent_open = c.bgp_pdu("sent OPEN")?;
            let received_open = c.bgp_pdu("received OPEN")?;
            let information = tlvs(&mut c)?;
            let v6 = peer.flags & peer_flags::IPV6 != 0 && peer.peer_type != PeerType::LocRib;
            Message::PeerUp {
                up: Box::new(PeerUp {
                    local_address: ip_from16(local, v6 || looks_v6(&local)),
                    local_port,
                    remote_port,
                    sent_open,
                    received_open,
                    information,
                }),
                peer,
            }
        }
        msg_type::ROUTE_MIRRORING => {
            let peer = peer_header(&mut c)?;
            Message::RouteMirroring {
                peer,
                tlvs: tlvs(&mut c)?,
            }
        }
        t => return Err(DecodeError::UnknownType(t)),
    })
}

/// A 16-octet address that is not an IPv4 address in BMP's zero-padded form.
fn looks_v6(b: &[u8; 16]) -> bool {
    b[..12].iter().any(|&x| x != 0)
}

fn peer_header(c: &mut Cur<'_>) -> Result<PeerHeader, DecodeError> {
    c.need(PEER_HEADER_LEN, "per-peer header")?;
    let peer_type = PeerType::from_code(c.u8("peer type")?);
    let flags = c.u8("peer flags")?;
    let distinguisher = c.u64("peer distinguisher")?;
    let addr = c.array::<16>("peer address")?;
    let asn = c.u32("peer AS")?;
    let bgp_id = Ipv4Addr::from(c.array::<4>("peer BGP ID")?);
    let timestamp_secs = c.u32("timestamp seconds")?;
    let timestamp_micros = c.u32("timestamp microseconds")?;
    // The V flag means IPv6 except for Loc-RIB peers, where 0x80 is the F flag and the
    // address is zero; an address that is not zero-padded is IPv6 whatever the flag says.
    let v6 = (peer_type != PeerType::LocRib && flags & peer_flags::IPV6 != 0) || looks_v6(&addr);
    Ok(PeerHeader {
        peer_type,
        flags,
        distinguisher,
        address: ip_from16(addr, v6),
        asn,
        bgp_id,
        timestamp_secs,
        timestamp_micros,
    })
}

fn tlvs(c: &mut Cur<'_>) -> Result<Vec<Tlv>, DecodeError> {
    let mut v = Vec::new();
    while !c.is_empty() {
        let kind = c.u16("TLV type")?;
        let l = c.u16("TLV length")? as usize;
        let value = c.bytes(l, "TLV value")?;
        v.push(Tlv { kind, value });
    }
    Ok(v)
}

/// Why a message cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A TLV or statistic value longer than its 2-octet length field allows.
    #[error("{what} of {len} octets does not fit a 2-octet length")]
    TooLong {
        /// The field.
        what: &'static str,
        /// Its length.
        len: usize,
    },
}

/// Encodes a message into a new buffer.
pub fn encode(msg: &Message) -> Result<BytesMut, EncodeError> {
    let mut b = BytesMut::new();
    encode_into(msg, &mut b)?;
    Ok(b)
}

fn len16(what: &'static str, len: usize) -> Result<u16, EncodeError> {
    u16::try_from(len).map_err(|_| EncodeError::TooLong { what, len })
}

/// Appends the encoding of `msg` to `dst`. On error `dst` is left as it was.
pub fn encode_into(msg: &Message, dst: &mut BytesMut) -> Result<(), EncodeError> {
    let start = dst.len();
    let r = encode_body(msg, dst, start);
    if r.is_err() {
        dst.truncate(start);
    }
    r
}

fn encode_body(msg: &Message, dst: &mut BytesMut, start: usize) -> Result<(), EncodeError> {
    dst.put_u8(VERSION);
    dst.put_u32(0); // length, patched below
    dst.put_u8(msg.msg_type());
    match msg {
        Message::Initiation(t) | Message::Termination(t) => put_tlvs(dst, t)?,
        Message::RouteMonitoring { peer, update } => {
            put_peer(dst, peer);
            dst.put_slice(update);
        }
        Message::StatisticsReport { peer, stats } => {
            put_peer(dst, peer);
            dst.put_u32(stats.len() as u32);
            for s in stats {
                dst.put_u16(s.kind);
                match &s.value {
                    StatValue::Counter(v) => {
                        dst.put_u16(4);
                        dst.put_u32(*v);
                    }
                    StatValue::Gauge(v) => {
                        dst.put_u16(8);
                        dst.put_u64(*v);
                    }
                    StatValue::PerFamily(af, v) => {
                        dst.put_u16(11);
                        dst.put_u16(af.afi.code());
                        dst.put_u8(af.safi.code());
                        dst.put_u64(*v);
                    }
                    StatValue::Raw(r) => {
                        dst.put_u16(len16("statistic value", r.len())?);
                        dst.put_slice(r);
                    }
                }
            }
        }
        Message::PeerDown { peer, reason } => {
            put_peer(dst, peer);
            dst.put_u8(reason.code());
            match reason {
                PeerDownReason::LocalNotification(p) | PeerDownReason::RemoteNotification(p) => {
                    dst.put_slice(p)
                }
                PeerDownReason::LocalNoNotification(e) => dst.put_u16(*e),
                PeerDownReason::RemoteNoData | PeerDownReason::PeerDeconfigured => {}
                PeerDownReason::LocalTlvs(t) => put_tlvs(dst, t)?,
                PeerDownReason::Other(_, d) => dst.put_slice(d),
            }
        }
        Message::PeerUp { peer, up } => {
            put_peer(dst, peer);
            dst.put_slice(&ip16(up.local_address));
            dst.put_u16(up.local_port);
            dst.put_u16(up.remote_port);
            dst.put_slice(&up.sent_open);
            dst.put_slice(&up.received_open);
            put_tlvs(dst, &up.information)?;
        }
        Message::RouteMirroring { peer, tlvs } => {
            put_peer(dst, peer);
            put_tlvs(dst, tlvs)?;
        }
    }
    let len = (dst.len() - start) as u32;
    dst[start + 1..start + 5].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

fn put_peer(dst: &mut BytesMut, p: &PeerHeader) {
    dst.put_u8(p.peer_type.code());
    dst.put_u8(p.flags);
    dst.put_u64(p.distinguisher);
    dst.put_slice(&ip16(p.address));
    dst.put_u32(p.asn);
    dst.put_slice(&p.bgp_id.octets());
    dst.put_u32(p.timestamp_secs);
    dst.put_u32(p.timestamp_micros);
}

fn put_tlvs(dst: &mut BytesMut, t: &[Tlv]) -> Result<(), EncodeError> {
    for x in t {
        dst.put_u16(x.kind);
        dst.put_u16(len16("TLV value", x.value.len())?);
        dst.put_slice(&x.value);
    }
    Ok(())
}

/// A tokio-util `Decoder`/`Encoder` for BMP over a byte stream (feature `codec`): one
/// [`Message`] per frame, lengths checked against a maximum before anything is buffered for
/// them.
#[cfg(feature = "codec")]
#[derive(Debug, Clone, Default)]
pub struct BmpCodec {
    frames: BmpFrames,
}

#[cfg(feature = "codec")]
impl BmpCodec {
    /// A codec refusing messages longer than `max_len` octets.
    pub fn with_max_len(max_len: usize) -> Self {
        BmpCodec {
            frames: BmpFrames { max_len },
        }
    }
}

/// An error of the stream codec: I/O or a message that cannot be framed or decoded.
#[cfg(feature = "codec")]
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// I/O error of the underlying stream.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The message is malformed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The message cannot be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

#[cfg(feature = "codec")]
impl tokio_util::codec::Decoder for BmpCodec {
    type Item = Message;
    type Error = CodecError;
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, CodecError> {
        match self.frames.decode(src)? {
            Some(frame) => Ok(Some(decode(frame)?)),
            None => Ok(None),
        }
    }
}

/// A tokio-util `Decoder` that cuts a byte stream into whole BMP messages without decoding
/// them (feature `codec`): the common header's version and length are checked, so a message
/// that later fails to decode (an unknown type, a malformed body) costs that message only and
/// the stream stays in step. A station uses it to carry on past what it cannot read.
#[cfg(feature = "codec")]
#[derive(Debug, Clone)]
pub struct BmpFrames {
    max_len: usize,
}

#[cfg(feature = "codec")]
impl Default for BmpFrames {
    fn default() -> Self {
        BmpFrames {
            max_len: DEFAULT_MAX_MESSAGE_LEN,
        }
    }
}

#[cfg(feature = "codec")]
impl tokio_util::codec::Decoder for BmpFrames {
    type Item = Bytes;
    type Error = CodecError;
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, CodecError> {
        let Some(len) = peek_len(src, self.max_len)? else {
            return Ok(None);
        };
        if src.len() < len {
            src.reserve(len - src.len());
            return Ok(None);
        }
        Ok(Some(src.split_to(len).freeze()))
    }
}

#[cfg(feature = "codec")]
impl tokio_util::codec::Encoder<Message> for BmpCodec {
    type Error = CodecError;
    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(encode_into(&item, dst)?)
    }
}

#[cfg(feature = "codec")]
impl tokio_util::codec::Encoder<&Message> for BmpCodec {
    type Error = CodecError;
    fn encode(&mut self, item: &Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(encode_into(item, dst)?)
    }
}
