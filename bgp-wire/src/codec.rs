//! tokio-util framing (feature `codec`).

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::context::SessionContext;
use crate::decode::{Decoded, decode_message, frame_len};
use crate::encode::encode_message;
use crate::error::{EncodeError, MessageError};
use crate::message::Message;

/// Errors of [`BgpCodec`].
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The transport failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A received message is invalid; send its NOTIFICATION and close.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// A message to send could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// Frames a byte stream into BGP messages and encodes messages onto it.
///
/// Update the context with [`BgpCodec::set_context`] once the OPENs are exchanged
/// (4-octet AS, ADD-PATH, Extended Messages change how later messages are framed and read).
///
/// ```
/// use bgp_wire::{BgpCodec, Message, SessionContext};
/// use bytes::BytesMut;
/// use tokio_util::codec::{Decoder, Encoder};
/// let mut codec = BgpCodec::new(SessionContext::modern());
/// let mut buf = BytesMut::new();
/// codec.encode(&Message::Keepalive, &mut buf).unwrap();
/// let d = codec.decode(&mut buf).unwrap().unwrap();
/// assert_eq!(d.message, Message::Keepalive);
/// ```
#[derive(Debug, Clone, Default)]
pub struct BgpCodec {
    ctx: SessionContext,
}

impl BgpCodec {
    /// A codec for a session with this context.
    pub fn new(ctx: SessionContext) -> Self {
        BgpCodec { ctx }
    }
    /// Replace the context (after capability negotiation).
    pub fn set_context(&mut self, ctx: SessionContext) {
        self.ctx = ctx;
    }
    /// The current context.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }
}

impl Decoder for BgpCodec {
    type Item = Decoded;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Decoded>, CodecError> {
        let Some(len) = frame_len(src, &self.ctx)? else {
            src.reserve(crate::HEADER_LEN);
            return Ok(None);
        };
        if src.len() < len {
            src.reserve(len - src.len());
            return Ok(None);
        }
        let msg = src.split_to(len).freeze();
        Ok(Some(decode_message(msg, &self.ctx)?))
    }
}

impl Encoder<Message> for BgpCodec {
    type Error = CodecError;
    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(encode_message(&item, &self.ctx, dst)?)
    }
}

impl Encoder<&Message> for BgpCodec {
    type Error = CodecError;
    fn encode(&mut self, item: &Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(encode_message(item, &self.ctx, dst)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Notification;

    #[test]
    fn waits_for_whole_messages_and_reports_header_errors() {
        let mut codec = BgpCodec::new(SessionContext::default());
        let mut wire = BytesMut::new();
        codec.encode(&Message::Keepalive, &mut wire).unwrap();
        codec
            .encode(Message::Notification(Notification::new(6, 2)), &mut wire)
            .unwrap();
        let mut buf = BytesMut::new();
        for (i, b) in wire.iter().enumerate() {
            buf.extend_from_slice(&[*b]);
            let got = codec.decode(&mut buf).unwrap();
            match i {
                18 => assert_eq!(got.unwrap().message, Message::Keepalive),
                39 => assert_eq!(
                    got.unwrap().message,
                    Message::Notification(Notification::new(6, 2))
                ),
                _ => assert!(got.is_none(), "early message at {i}"),
            }
        }
        // A bad marker is reported as soon as the header is in.
        let mut bad = BytesMut::from(&[0u8; 19][..]);
        match codec.decode(&mut bad) {
            Err(CodecError::Message(e)) => assert_eq!(e.notification, Notification::new(1, 1)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn context_switch_allows_extended_messages() {
        let mut codec = BgpCodec::new(SessionContext::default());
        let mut big = BytesMut::from(&[0xFFu8; 16][..]);
        big.extend_from_slice(&5000u16.to_be_bytes());
        big.extend_from_slice(&[3, 6, 0]);
        big.resize(5000, 0);
        let mut b = big.clone();
        assert!(matches!(codec.decode(&mut b), Err(CodecError::Message(_))));
        codec.set_context(SessionContext {
            extended_message: true,
            ..Default::default()
        });
        assert!(codec.context().extended_message);
        let mut b = big.clone();
        let d = codec.decode(&mut b).unwrap().unwrap();
        assert!(matches!(d.message, Message::Notification(_)));
        // Encoding a message too long for the session is an error, not a truncation.
        codec.set_context(SessionContext::default());
        let mut out = BytesMut::new();
        let long = Message::Notification(Notification::with_data(6, 0, vec![0u8; 5000]));
        assert!(matches!(
            codec.encode(&long, &mut out),
            Err(CodecError::Encode(EncodeError::TooLong { .. }))
        ));
        assert!(out.is_empty());
    }
}
