#![no_main]
//! The codec fed the input in arbitrary chunks yields the same messages (and the same
//! error) as fed all at once.
use bgp_wire::{BgpCodec, SessionContext};
use bytes::BytesMut;
use tokio_util::codec::Decoder;

fn run(ctx: &SessionContext, stream: &[u8], cuts: &[usize]) -> (Vec<String>, Option<String>) {
    let mut codec = BgpCodec::new(ctx.clone());
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut prev = 0;
    for &c in cuts.iter().chain(std::iter::once(&stream.len())) {
        buf.extend_from_slice(&stream[prev..c]);
        prev = c;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(d)) => out.push(format!("{:?}", d)),
                Ok(None) => break,
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }
    (out, None)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let bits = data[0];
    let ncuts = (data[1] % 8) as usize;
    let Some(rest) = data.get(2 + 2 * ncuts..) else { return };
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
