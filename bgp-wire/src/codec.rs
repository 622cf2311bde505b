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
