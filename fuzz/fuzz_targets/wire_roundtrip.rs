#![no_main]
//! decode -> encode -> decode gives the same typed message (and the same bytes again).
//! The input is tried as a raw message under a legacy and a modern context (seed corpus
//! form), and as context octet + message.
use bgp_wire::{EncodeError, SessionContext, decode_message, encode_message};
use bytes::{Bytes, BytesMut};

mod context;
use context::context;

fn check(msg: &[u8], ctx: &SessionContext) {
    let Ok(first) = decode_message(Bytes::copy_from_slice(msg), ctx) else {
        return;
    };
    let mut enc = BytesMut::new();
    match encode_message(&first.message, ctx, &mut enc) {
        Ok(()) => {}
        // The canonical form can be longer than the input (an OPEN with all capabilities
        // in one parameter is re-encoded with one parameter each).
        Err(EncodeError::TooLong { .. }) => return,
        Err(e) => panic!("decoded message failed to encode: {e}: {:?}", first.message),
    }
    let enc = enc.freeze();
    let second = decode_message(enc.clone(), ctx).expect("re-encoded message must decode");
    assert_eq!(second.message, first.message);
    let mut enc2 = BytesMut::new();
    encode_message(&second.message, ctx, &mut enc2).expect("encode twice");
    assert_eq!(enc2.freeze(), enc, "encoding is not canonical");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    check(data, &context(0));
    check(data, &context(1 | 16));
    if let Some((&bits, rest)) = data.split_first() {
        check(rest, &context(bits));
    }
});
