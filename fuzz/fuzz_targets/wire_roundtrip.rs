#![no_main]
// Placeholder: replaced by the owning crate's real target.
libfuzzer_sys::fuzz_target!(|_data: &[u8]| {});
