#![no_main]
//! Decode arbitrary input under several session contexts chosen by the first octet.
use bgp_wire::{
    Message, SessionContext, UpdateView, decode_message, encode_message, frame_len,
};
use bytes::{Bytes, BytesMut};

mod context;
use context::context;

fn run(rest: &[u8], ctx: &SessionContext) {
    let _ = frame_len(rest, ctx);
    if let Ok(d) = decode_message(Bytes::copy_from_slice(rest), ctx) {
        let mut out = BytesMut::new();
        let _ = encode_message(&d.message, ctx, &mut out);
        if let Message::Update(u) = &d.message {
            let _ = u.end_of_rib();
            let _ = u.announced().count() + u.withdrawn_routes().count();
        }
        if let Message::Notification(n) = &d.message {
            let _ = n.kind().to_string();
        }
    }
    if let Some(body) = rest.get(19..) {
        if let Ok(v) = UpdateView::parse(body, ctx) {
            let _ = v.nlri().count() + v.withdrawn().count() + v.attributes().count();
            let _ = v.mp_reach().and_then(|m| m.prefixes()).map(|p| p.count());
            let _ = v.mp_unreach().and_then(|m| m.prefixes()).map(|p| p.count());
            let _ = v.end_of_rib();
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Raw messages (as in the seed corpus) under fixed contexts...
    for b in [0, 1, 2 | 4, 1 | 2 | 4 | 8 | 16] {
        run(data, &context(b));
    }
    // ...and the rest of the input under the context its first octet picks.
    if let Some((&bits, rest)) = data.split_first() {
        run(rest, &context(bits));
    }
});
