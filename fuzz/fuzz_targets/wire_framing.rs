#![no_main]
//! The codec fed the input in arbitrary chunks yields the same messages (and the same
//! error) as fed all at once.
use bgp_wire::{BgpCodec, Decoded, SessionContext};
use bytes::BytesMut;
use tokio_util::codec::Decoder;

fn run(ctx: &SessionContext, stream: &[u8], cuts: &[usize]) -> (Vec<Decoded>, Option<String>) {
    let mut codec = BgpCodec::new(ctx.clone());
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut prev = 0;
    for &c in cuts.iter().chain(std::iter::once(&stream.len())) {
        buf.extend_from_slice(&stream[prev..c]);
        prev = c;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(d)) => out.push(d),
                Ok(None) => break,
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }
    (out, None)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The input as a raw stream (seed corpus form), split into chunks whose sizes cycle
    // through the input's own octets.
    let mut cuts = Vec::new();
    let mut at = 0usize;
    let mut i = 0usize;
    while !data.is_empty() && at < data.len() && cuts.len() < 64 {
        at += 1 + (data[i % data.len()] % 64) as usize;
        i += 1;
        if at < data.len() {
            cuts.push(at);
        }
    }
    for ctx in [
        SessionContext::default(),
        SessionContext {
            extended_message: true,
            ..SessionContext::modern()
        },
    ] {
        assert_eq!(run(&ctx, data, &[]), run(&ctx, data, &cuts));
    }
    // Or: context octet, cut count, cut positions, then the stream.
    if data.len() < 2 {
        return;
    }
    let bits = data[0];
    let ncuts = (data[1] % 8) as usize;
    let Some(rest) = data.get(2 + 2 * ncuts..) else {
        return;
    };
    let mut cuts: Vec<usize> = data[2..2 + 2 * ncuts]
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]) as usize % (rest.len() + 1))
        .collect();
    cuts.sort_unstable();
    let ctx = SessionContext {
        four_octet_as: bits & 1 != 0,
        extended_message: bits & 2 != 0,
        ..Default::default()
    };
    let whole = run(&ctx, rest, &[]);
    let split = run(&ctx, rest, &cuts);
    assert_eq!(whole, split);
});
