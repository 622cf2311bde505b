//! Path attributes (RFC 4271 §4.3, §5 and successors).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use smallvec::SmallVec;

use crate::afi::AfiSafi;
use crate::nlri::MpNlri;

/// Attribute flag: optional.
pub const FLAG_OPTIONAL: u8 = 0x80;
/// Attribute flag: transitive.
pub const FLAG_TRANSITIVE: u8 = 0x40;
/// Attribute flag: partial.
pub const FLAG_PARTIAL: u8 = 0x20;
/// Attribute flag: extended length (2-octet length field).
pub const FLAG_EXTENDED_LENGTH: u8 = 0x10;

/// Attribute type codes.
pub mod type_code {
    #![allow(missing_docs)]
    pub const ORIGIN: u8 = 1;
    pub const AS_PATH: u8 = 2;
    pub const NEXT_HOP: u8 = 3;
    pub const MULTI_EXIT_DISC: u8 = 4;
    pub const LOCAL_PREF: u8 = 5;
    pub const ATOMIC_AGGREGATE: u8 = 6;
    pub const AGGREGATOR: u8 = 7;
    pub const COMMUNITIES: u8 = 8;
    pub const ORIGINATOR_ID: u8 = 9;
    pub const CLUSTER_LIST: u8 = 10;
    pub const MP_REACH_NLRI: u8 = 14;
    pub const MP_UNREACH_NLRI: u8 = 15;
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    pub const AS4_PATH: u8 = 17;
    pub const AS4_AGGREGATOR: u8 = 18;
    pub const IPV6_EXTENDED_COMMUNITIES: u8 = 25;
    pub const LARGE_COMMUNITIES: u8 = 32;
    pub const OTC: u8 = 35;
}

/// ORIGIN values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Origin {
    /// IGP (0).
    Igp = 0,
    /// EGP (1).
    Egp = 1,
    /// INCOMPLETE (2).
    Incomplete = 2,
}

/// AS_PATH segment types (RFC 4271, RFC 5065).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum AsSegmentType {
    /// AS_SET (1).
    Set = 1,
    /// AS_SEQUENCE (2).
    Sequence = 2,
    /// AS_CONFED_SEQUENCE (3).
    ConfedSequence = 3,
    /// AS_CONFED_SET (4).
    ConfedSet = 4,
}

/// The AS numbers of one segment. Up to [`INLINE_ASNS`] are stored inline, so the
/// common path (one AS_SEQUENCE of a few hops) decodes without a heap allocation.
pub type Asns = SmallVec<[u32; INLINE_ASNS]>;

/// The segments of a path; one is stored inline.
pub type AsSegments = SmallVec<[AsSegment; 1]>;

/// How many AS numbers an [`AsSegment`] holds before it moves them to the heap. Ten
/// covers the paths of a full Internet table except long prepends.
pub const INLINE_ASNS: usize = 10;

/// One AS_PATH segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AsSegment {
    /// Segment type.
    pub kind: AsSegmentType,
    /// AS numbers (at most 255 per segment on the wire).
    pub asns: Asns,
}

impl AsSegment {
    /// A segment of `kind` holding `asns`.
    pub fn new(kind: AsSegmentType, asns: impl IntoIterator<Item = u32>) -> Self {
        AsSegment {
            kind,
            asns: asns.into_iter().collect(),
        }
    }
}

/// An AS_PATH or AS4_PATH, always held with 4-octet AS numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AsPath {
    /// Segments in wire order.
    pub segments: AsSegments,
}

impl AsPath {
    /// A path of one AS_SEQUENCE.
    pub fn from_sequence(asns: impl IntoIterator<Item = u32>) -> Self {
        let seg = AsSegment::new(AsSegmentType::Sequence, asns);
        if seg.asns.is_empty() {
            return AsPath::default();
        }
        AsPath {
            segments: smallvec::smallvec![seg],
        }
    }
    /// A path of the given segments, in wire order.
    pub fn from_segments(segments: impl IntoIterator<Item = AsSegment>) -> Self {
        AsPath {
            segments: segments.into_iter().collect(),
        }
    }
    /// Path length for the decision process (RFC 4271 §9.1.2.2): an AS_SET counts 1,
    /// confederation segments count 0.
    pub fn path_len(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.kind {
                AsSegmentType::Sequence => s.asns.len(),
                AsSegmentType::Set => 1,
                AsSegmentType::ConfedSequence | AsSegmentType::ConfedSet => 0,
            })
            .sum()
    }
    /// The neighbouring AS: the first AS of the first AS_SEQUENCE segment, if the path starts with one.
    pub fn first_as(&self) -> Option<u32> {
        let s = self.segments.iter().find(|s| {
            !matches!(
                s.kind,
                AsSegmentType::ConfedSequence | AsSegmentType::ConfedSet
            )
        })?;
        match s.kind {
            AsSegmentType::Sequence => s.asns.first().copied(),
            _ => None,
        }
    }
    /// How many times `asn` occurs anywhere in the path.
    pub fn count(&self, asn: u32) -> usize {
        self.segments
            .iter()
            .flat_map(|s| s.asns.iter())
            .filter(|&&a| a == asn)
            .count()
    }
    /// True for an empty path (as iBGP-originated routes have).
    pub fn is_empty(&self) -> bool {
        self.segments.iter().all(|s| s.asns.is_empty())
    }
}

/// AGGREGATOR / AS4_AGGREGATOR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Aggregator {
    /// AS of the aggregating speaker.
    pub asn: u32,
    /// Its BGP identifier / address.
    pub addr: Ipv4Addr,
}

/// A standard community (RFC 1997).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Community(pub u32);

impl Community {
    /// GRACEFUL_SHUTDOWN (RFC 8326).
    pub const GRACEFUL_SHUTDOWN: Community = Community(0xFFFF_0000);
    /// ACCEPT_OWN (RFC 7611).
    pub const ACCEPT_OWN: Community = Community(0xFFFF_0001);
    /// BLACKHOLE (RFC 7999).
    pub const BLACKHOLE: Community = Community(0xFFFF_029A);
    /// NO_EXPORT.
    pub const NO_EXPORT: Community = Community(0xFFFF_FF01);
    /// NO_ADVERTISE.
    pub const NO_ADVERTISE: Community = Community(0xFFFF_FF02);
    /// NO_EXPORT_SUBCONFED.
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xFFFF_FF03);
    /// NOPEER (RFC 3765).
    pub const NOPEER: Community = Community(0xFFFF_FF04);
    /// From `asn:value`.
    pub const fn new(asn: u16, value: u16) -> Self {
        Community(((asn as u32) << 16) | value as u32)
    }
    /// The well-known name, if it has one.
    pub fn well_known_name(self) -> Option<&'static str> {
        Some(match self {
            Community::GRACEFUL_SHUTDOWN => "GRACEFUL_SHUTDOWN",
            Community::ACCEPT_OWN => "ACCEPT_OWN",
            Community::BLACKHOLE => "BLACKHOLE",
            Community::NO_EXPORT => "NO_EXPORT",
            Community::NO_ADVERTISE => "NO_ADVERTISE",
            Community::NO_EXPORT_SUBCONFED => "NO_EXPORT_SUBCONFED",
            Community::NOPEER => "NOPEER",
            _ => return None,
        })
    }
}

impl std::fmt::Display for Community {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.0 >> 16, self.0 & 0xFFFF)
    }
}

/// A large community (RFC 8092).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LargeCommunity {
    /// Global administrator.
    pub global: u32,
    /// Local data part 1.
    pub local1: u32,
    /// Local data part 2.
    pub local2: u32,
}

impl std::fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.global, self.local1, self.local2)
    }
}

/// Global administrator of a route target / route origin extended community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum ExtGlobalAdmin {
    /// 2-octet AS specific (type 0x00): AS and 4-octet local.
    As2 {
        /// AS.
        asn: u16,
        /// Local administrator.
        local: u32,
    },
    /// IPv4 address specific (type 0x01): address and 2-octet local.
    Ipv4 {
        /// Address.
        addr: Ipv4Addr,
        /// Local administrator.
        local: u16,
    },
    /// 4-octet AS specific (type 0x02): AS and 2-octet local.
    As4 {
        /// AS.
        asn: u32,
        /// Local administrator.
        local: u16,
    },
}

/// An extended community (RFC 4360).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum ExtendedCommunity {
    /// Route target (subtype 0x02), transitive.
    RouteTarget(ExtGlobalAdmin),
    /// Route origin (subtype 0x03), transitive.
    RouteOrigin(ExtGlobalAdmin),
    /// Link bandwidth (type 0x40 non-transitive or 0x00 transitive, subtype 0x04).
    LinkBandwidth {
        /// Whether the transitive type (0x00) was used.
        transitive: bool,
        /// The AS.
        asn: u16,
        /// Bandwidth in bytes per second as IEEE 754 single-precision bits.
        bandwidth_bits: u32,
    },
    /// Any other extended community, raw.
    Other([u8; 8]),
}

impl ExtendedCommunity {
    /// Link bandwidth in bytes per second, for the link-bandwidth community.
    pub fn link_bandwidth(&self) -> Option<f32> {
        match self {
            ExtendedCommunity::LinkBandwidth { bandwidth_bits, .. } => {
                Some(f32::from_bits(*bandwidth_bits))
            }
            _ => None,
        }
    }
}

/// An IPv6-address-specific extended community (RFC 5701).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Ipv6ExtendedCommunity {
    /// Type octet (0x00 transitive, 0x40 non-transitive).
    pub kind: u8,
    /// Subtype octet.
    pub subtype: u8,
    /// Global administrator.
    pub addr: Ipv6Addr,
    /// Local administrator.
    pub local: u16,
}

/// The next hop of MP_REACH_NLRI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum MpNextHop {
    /// A 4-octet IPv4 next hop.
    V4(Ipv4Addr),
    /// An IPv6 global next hop, with the link-local one when 32 octets were sent.
    V6 {
        /// Global address.
        global: Ipv6Addr,
        /// Link-local address.
        link_local: Option<Ipv6Addr>,
    },
    /// Anything else (other families), raw.
    Raw(Bytes),
}

impl MpNextHop {
    /// The address to forward to (the global one for IPv6).
    pub fn addr(&self) -> Option<IpAddr> {
        match self {
            MpNextHop::V4(a) => Some(IpAddr::V4(*a)),
            MpNextHop::V6 { global, .. } => Some(IpAddr::V6(*global)),
            MpNextHop::Raw(_) => None,
        }
    }
}

/// MP_REACH_NLRI (RFC 4760).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MpReach {
    /// Family of the NLRI.
    pub af: AfiSafi,
    /// Next hop.
    pub next_hop: MpNextHop,
    /// Announced routes.
    pub nlri: MpNlri,
}

/// MP_UNREACH_NLRI (RFC 4760).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MpUnreach {
    /// Family.
    pub af: AfiSafi,
    /// Withdrawn routes.
    pub withdrawn: MpNlri,
}

/// An attribute this library does not interpret, kept with its flags.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RawAttribute {
    /// Flags as received (the extended-length bit is recomputed on encode).
    pub flags: u8,
    /// Type code.
    pub type_code: u8,
    /// Value.
    pub value: Bytes,
}

/// A path attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum PathAttribute {
    /// ORIGIN (1).
    Origin(Origin),
    /// AS_PATH (2), held with 4-octet ASNs whatever the session's encoding.
    AsPath(AsPath),
    /// NEXT_HOP (3).
    NextHop(Ipv4Addr),
    /// MULTI_EXIT_DISC (4).
    MultiExitDisc(u32),
    /// LOCAL_PREF (5).
    LocalPref(u32),
    /// ATOMIC_AGGREGATE (6).
    AtomicAggregate,
    /// AGGREGATOR (7).
    Aggregator(Aggregator),
    /// COMMUNITIES (8).
    Communities(Vec<Community>),
    /// ORIGINATOR_ID (9).
    OriginatorId(Ipv4Addr),
    /// CLUSTER_LIST (10).
    ClusterList(Vec<Ipv4Addr>),
    /// MP_REACH_NLRI (14).
    MpReachNlri(MpReach),
    /// MP_UNREACH_NLRI (15).
    MpUnreachNlri(MpUnreach),
    /// EXTENDED_COMMUNITIES (16).
    ExtendedCommunities(Vec<ExtendedCommunity>),
    /// AS4_PATH (17).
    As4Path(AsPath),
    /// AS4_AGGREGATOR (18).
    As4Aggregator(Aggregator),
    /// IPv6 Address Specific Extended Community (25).
    Ipv6ExtendedCommunities(Vec<Ipv6ExtendedCommunity>),
    /// LARGE_COMMUNITY (32).
    LargeCommunities(Vec<LargeCommunity>),
    /// Only to Customer (35, RFC 9234).
    Otc(u32),
    /// Anything else, kept raw with its flags.
    Unknown(RawAttribute),
}

impl PathAttribute {
    /// The attribute type code.
    pub fn type_code(&self) -> u8 {
        use type_code::*;
        match self {
            PathAttribute::Origin(_) => ORIGIN,
            PathAttribute::AsPath(_) => AS_PATH,
            PathAttribute::NextHop(_) => NEXT_HOP,
            PathAttribute::MultiExitDisc(_) => MULTI_EXIT_DISC,
            PathAttribute::LocalPref(_) => LOCAL_PREF,
            PathAttribute::AtomicAggregate => ATOMIC_AGGREGATE,
            PathAttribute::Aggregator(_) => AGGREGATOR,
            PathAttribute::Communities(_) => COMMUNITIES,
            PathAttribute::OriginatorId(_) => ORIGINATOR_ID,
            PathAttribute::ClusterList(_) => CLUSTER_LIST,
            PathAttribute::MpReachNlri(_) => MP_REACH_NLRI,
            PathAttribute::MpUnreachNlri(_) => MP_UNREACH_NLRI,
            PathAttribute::ExtendedCommunities(_) => EXTENDED_COMMUNITIES,
            PathAttribute::As4Path(_) => AS4_PATH,
            PathAttribute::As4Aggregator(_) => AS4_AGGREGATOR,
            PathAttribute::Ipv6ExtendedCommunities(_) => IPV6_EXTENDED_COMMUNITIES,
            PathAttribute::LargeCommunities(_) => LARGE_COMMUNITIES,
            PathAttribute::Otc(_) => OTC,
            PathAttribute::Unknown(r) => r.type_code,
        }
    }
    /// The flags this attribute is sent with (without the extended-length bit).
    pub fn flags(&self) -> u8 {
        use PathAttribute::*;
        match self {
            Origin(_) | AsPath(_) | NextHop(_) | LocalPref(_) | AtomicAggregate => FLAG_TRANSITIVE,
            MultiExitDisc(_) | OriginatorId(_) | ClusterList(_) | MpReachNlri(_)
            | MpUnreachNlri(_) => FLAG_OPTIONAL,
            Aggregator(_)
            | Communities(_)
            | ExtendedCommunities(_)
            | As4Path(_)
            | As4Aggregator(_)
            | Ipv6ExtendedCommunities(_)
            | LargeCommunities(_)
            | Otc(_) => FLAG_OPTIONAL | FLAG_TRANSITIVE,
            Unknown(r) => r.flags & !FLAG_EXTENDED_LENGTH,
        }
    }
}

impl PathAttribute {
    /// The attribute as it should be passed on to another peer, or `None` when it must
    /// not be: an unrecognized optional transitive attribute gets the Partial bit
    /// (RFC 4271 §5), an unrecognized optional non-transitive one is dropped. Known
    /// attributes are returned unchanged (whether to pass MED, LOCAL_PREF,
    /// ORIGINATOR_ID, CLUSTER_LIST on is policy, not codec).
    pub fn for_propagation(&self) -> Option<PathAttribute> {
        match self {
            PathAttribute::Unknown(r) if r.flags & FLAG_OPTIONAL != 0 => {
                if r.flags & FLAG_TRANSITIVE != 0 {
                    Some(PathAttribute::Unknown(RawAttribute {
                        flags: (r.flags | FLAG_PARTIAL) & !FLAG_EXTENDED_LENGTH,
                        type_code: r.type_code,
                        value: r.value.clone(),
                    }))
                } else {
                    None
                }
            }
            other => Some(other.clone()),
        }
    }
}

impl AsPath {
    /// True when some AS number needs 4 octets, so a 2-octet peer needs AS4_PATH.
    pub fn needs_as4(&self) -> bool {
        self.segments
            .iter()
            .any(|s| s.asns.iter().any(|&a| a > u32::from(u16::MAX)))
    }
}

/// Rebuild the real AS path from AS_PATH and AS4_PATH received from a 2-octet peer
/// (RFC 6793 §4.2.3).
///
/// Counting an AS_SET as 1 and confederation segments as 0: when AS_PATH is shorter than
/// AS4_PATH, AS4_PATH is ignored and AS_PATH returned; otherwise the leading AS numbers of
/// AS_PATH that AS4_PATH does not cover (with any confederation segments among them) are
/// put in front of AS4_PATH.
///
/// ```
/// use bgp_wire::attr::AsPath;
/// use bgp_wire::merge_as4_path;
/// // 65001 prepended by an OLD speaker to a path through 4200000000 (sent as AS_TRANS).
/// let as_path = AsPath::from_sequence([65001, 23456, 65002]);
/// let as4_path = AsPath::from_sequence([4_200_000_000, 65002]);
/// assert_eq!(merge_as4_path(&as_path, &as4_path), AsPath::from_sequence([65001, 4_200_000_000, 65002]));
/// ```
pub fn merge_as4_path(as_path: &AsPath, as4_path: &AsPath) -> AsPath {
    let n2 = as_path.path_len();
    let n4 = as4_path.path_len();
    if n2 < n4 {
        return as_path.clone();
    }
    let mut keep = n2 - n4;
    let mut segments = AsSegments::with_capacity(as_path.segments.len() + as4_path.segments.len());
    for s in &as_path.segments {
        match s.kind {
            AsSegmentType::ConfedSequence | AsSegmentType::ConfedSet => {
                if keep > 0
                    || segments.iter().all(|x| {
                        matches!(
                            x.kind,
                            AsSegmentType::ConfedSequence | AsSegmentType::ConfedSet
                        )
                    })
                {
                    segments.push(s.clone());
                }
            }
            AsSegmentType::Set => {
                if keep == 0 {
                    break;
                }
                segments.push(s.clone());
                keep -= 1;
            }
            AsSegmentType::Sequence => {
                if keep == 0 {
                    break;
                }
                let take = keep.min(s.asns.len());
                segments.push(AsSegment {
                    kind: AsSegmentType::Sequence,
                    asns: s.asns.iter().take(take).copied().collect(),
                });
                keep -= take;
            }
        }
    }
    for s in &as4_path.segments {
        if matches!(
            s.kind,
            AsSegmentType::ConfedSequence | AsSegmentType::ConfedSet
        ) {
            // RFC 6793 §6: confederation segments in AS4_PATH are discarded.
            continue;
        }
        match segments.last_mut() {
            Some(last)
                if last.kind == AsSegmentType::Sequence && s.kind == AsSegmentType::Sequence =>
            {
                last.asns.extend_from_slice(&s.asns);
            }
            _ => segments.push(s.clone()),
        }
    }
    AsPath { segments }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smallvec::smallvec;

    fn seg(kind: AsSegmentType, asns: &[u32]) -> AsSegment {
        AsSegment {
            kind,
            asns: asns.into(),
        }
    }

    #[test]
    fn merge_shorter_as_path_ignores_as4() {
        let p2 = AsPath::from_sequence([23456]);
        let p4 = AsPath::from_sequence([1, 2]);
        assert_eq!(merge_as4_path(&p2, &p4), p2);
    }

    #[test]
    fn merge_equal_length_takes_as4() {
        let p2 = AsPath::from_sequence([23456, 23456]);
        let p4 = AsPath::from_sequence([70000, 80000]);
        assert_eq!(merge_as4_path(&p2, &p4), p4);
    }

    #[test]
    fn merge_with_set_and_confed() {
        let p2 = AsPath {
            segments: smallvec![
                seg(AsSegmentType::ConfedSequence, &[65100]),
                seg(AsSegmentType::Sequence, &[65001, 23456]),
                seg(AsSegmentType::Set, &[23456, 65003]),
            ],
        };
        let p4 = AsPath {
            segments: smallvec![
                seg(AsSegmentType::Sequence, &[70000]),
                seg(AsSegmentType::Set, &[70001, 65003]),
            ],
        };
        let m = merge_as4_path(&p2, &p4);
        assert_eq!(
            m,
            AsPath {
                segments: smallvec![
                    seg(AsSegmentType::ConfedSequence, &[65100]),
                    seg(AsSegmentType::Sequence, &[65001, 70000]),
                    seg(AsSegmentType::Set, &[70001, 65003]),
                ]
            }
        );
        assert_eq!(m.path_len(), p2.path_len());
    }

    #[test]
    fn propagation_sets_partial_and_drops_non_transitive() {
        let t = PathAttribute::Unknown(RawAttribute {
            flags: FLAG_OPTIONAL | FLAG_TRANSITIVE,
            type_code: 99,
            value: Bytes::from_static(b"x"),
        });
        let p = t.for_propagation().unwrap();
        assert_eq!(p.flags(), FLAG_OPTIONAL | FLAG_TRANSITIVE | FLAG_PARTIAL);
        let nt = PathAttribute::Unknown(RawAttribute {
            flags: FLAG_OPTIONAL,
            type_code: 98,
            value: Bytes::new(),
        });
        assert_eq!(nt.for_propagation(), None);
        let known = PathAttribute::MultiExitDisc(3);
        assert_eq!(known.for_propagation(), Some(known.clone()));
    }

    #[test]
    fn needs_as4() {
        assert!(!AsPath::from_sequence([65535]).needs_as4());
        assert!(AsPath::from_sequence([65536]).needs_as4());
    }
}
