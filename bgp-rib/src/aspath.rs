//! AS_PATH manipulation shared by export (our AS on eBGP) and policy (prepend actions). It
//! sits apart from both so that neither depends on the other.

use bgp_wire::attr::{AsPath, AsSegment, AsSegmentType};

/// Prepend `asn` `n` times to the leftmost AS_SEQUENCE (a new segment when the path starts with
/// an AS_SET or a full segment).
pub fn prepend(path: &mut AsPath, asn: u32, n: usize) {
    for _ in 0..n {
        match path.segments.first_mut() {
            Some(s) if s.kind == AsSegmentType::Sequence && s.asns.len() < 255 => {
                s.asns.insert(0, asn)
            }
            _ => path
                .segments
                .insert(0, AsSegment::new(AsSegmentType::Sequence, [asn])),
        }
    }
}
