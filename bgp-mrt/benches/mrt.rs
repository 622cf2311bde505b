//! Placeholder until the MRT bench lands.
fn main() {}
