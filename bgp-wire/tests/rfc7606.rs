//! RFC 7606 (revised UPDATE error handling) and the error rules of RFC 4271 §6.3,
//! RFC 4760 §7, RFC 6793 §6, RFC 8092 §6 and RFC 9234 — one test per rule, named for it.
//!
//! RFC 7606 §7.12 (Traffic Engineering, type 24) and §7.13 (Tunnel Encapsulation,
//! type 23) are kept raw by bgp-wire but syntax-checked (fixed part / TLV framing).

use bgp_wire::attr::{FLAG_EXTENDED_LENGTH, type_code as tc};
use bgp_wire::error::{UpdateAction, UpdateVerdict};
use bgp_wire::{AfiSafi, Message, Nlri, Notification, SessionContext, Update, decode_message};
use bytes::Bytes;

fn msg(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Bytes {
    let mut v = vec![0xFF; 16];
    let len = 19 + 4 + withdrawn.len() + attrs.len() + nlri.len();
    v.extend_from_slice(&(len as u16).to_be_bytes());
    v.push(2);
    v.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
    v.extend_from_slice(withdrawn);
    v.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    v.extend_from_slice(attrs);
    v.extend_from_slice(nlri);
    Bytes::from(v)
}

fn attr(flags: u8, code: u8, value: &[u8]) -> Vec<u8> {
    let mut v = vec![flags, code];
    if flags & FLAG_EXTENDED_LENGTH != 0 {
        v.extend_from_slice(&(value.len() as u16).to_be_bytes());
    } else {
        v.push(value.len() as u8);
    }
    v.extend_from_slice(value);
    v
}

const WK: u8 = 0x40; // well-known (transitive)
const ON: u8 = 0x80; // optional non-transitive
const OT: u8 = 0xC0; // optional transitive

fn origin() -> Vec<u8> {
    attr(WK, tc::ORIGIN, &[0])
}
fn as_path4() -> Vec<u8> {
    attr(WK, tc::AS_PATH, &[2, 1, 0, 0, 0xFD, 0xE8])
}
fn next_hop() -> Vec<u8> {
    attr(WK, tc::NEXT_HOP, &[192, 168, 1, 10])
}
/// ORIGIN, AS_PATH (4-octet), NEXT_HOP, then `extra`.
fn base_with(extra: &[u8]) -> Vec<u8> {
    let mut v = origin();
    v.extend(as_path4());
    v.extend(next_hop());
    v.extend_from_slice(extra);
    v
}
const NLRI: &[u8] = &[32, 172, 16, 10, 0];

fn ctx() -> SessionContext {
    SessionContext::modern()
}

fn decode(m: Bytes, ctx: &SessionContext) -> (Update, UpdateVerdict) {
    let d = decode_message(m, ctx).expect("UPDATE should decode with a verdict");
    match d.message {
        Message::Update(u) => (u, d.verdict),
        other => panic!("not an UPDATE: {other:?}"),
    }
}

fn service_route() -> (AfiSafi, Nlri) {
    (
        AfiSafi::IPV4_UNICAST,
        Nlri::new("172.16.10.0/32".parse().unwrap()),
    )
}

/// The attribute is malformed, the verdict is treat-as-withdraw listing the route, and
/// the attribute is gone from the update.
fn assert_taw(extra: &[u8], code: u8) {
    let (u, v) = decode(msg(&[], &base_with(extra), NLRI), &ctx());
    assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw), "{v:?}");
    assert_eq!(v.treat_as_withdraw, vec![service_route()]);
    assert!(u.attribute(code).is_none(), "malformed attribute kept");
    assert!(v.problems.iter().any(|p| p.attr_type == Some(code)));
}

/// The attribute is discarded, the routes stay.
fn assert_discard(extra: &[u8], code: u8, ctx: &SessionContext) {
    let (u, v) = decode(msg(&[], &base_with(extra), NLRI), ctx);
    assert_eq!(v.action(), Some(&UpdateAction::AttributeDiscard), "{v:?}");
    assert!(v.treat_as_withdraw.is_empty());
    assert!(u.attribute(code).is_none(), "discarded attribute kept");
    assert_eq!(u.nlri.len(), 1);
}

fn assert_reset(m: Bytes, code: u8, subcode: u8) -> Notification {
    let (_, v) = decode(m, &ctx());
    match v.action() {
        Some(UpdateAction::SessionReset(n)) => {
            assert_eq!((n.code, n.subcode), (code, subcode));
            n.clone()
        }
        other => panic!("expected session reset, got {other:?}"),
    }
}

#[test]
fn clean_update_has_empty_verdict() {
    let (u, v) = decode(msg(&[], &base_with(&[]), NLRI), &ctx());
    assert!(v.is_clean());
    assert_eq!(u.nlri.len(), 1);
}

// ---- §3 ----

#[test]
fn s3b_withdrawn_routes_length_overrun_is_session_reset_3_1() {
    let mut m = msg(&[], &base_with(&[]), NLRI).to_vec();
    m[19] = 0x10; // withdrawn length 4096
    let e = decode_message(Bytes::from(m), &ctx()).unwrap_err();
    assert_eq!(e.notification, Notification::new(3, 1));
    assert_eq!(e.offset, 19);
}

#[test]
fn s3b_total_attribute_length_overrun_is_session_reset_3_1() {
    let mut m = msg(&[], &base_with(&[]), NLRI).to_vec();
    m[22] = 0xF0;
    let e = decode_message(Bytes::from(m), &ctx()).unwrap_err();
    assert_eq!(e.notification, Notification::new(3, 1));
    assert_eq!(e.offset, 21);
}

#[test]
fn s3c_attribute_flags_error_is_treat_as_withdraw() {
    // MED sent as well-known instead of optional.
    let extra = attr(WK, tc::MULTI_EXIT_DISC, &[0, 0, 0, 1]);
    assert_taw(&extra, tc::MULTI_EXIT_DISC);
    let (_, v) = decode(msg(&[], &base_with(&extra), NLRI), &ctx());
    // The RFC 4271 notification (3/4) carries the whole attribute.
    assert_eq!(
        v.problems[0].notification,
        Notification::with_data(3, 4, extra)
    );
}

#[test]
fn s3c_flags_error_on_well_known_origin_is_treat_as_withdraw() {
    let mut attrs = attr(OT, tc::ORIGIN, &[0]);
    attrs.extend(as_path4());
    attrs.extend(next_hop());
    let (u, v) = decode(msg(&[], &attrs, NLRI), &ctx());
    assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw));
    assert!(u.attribute(tc::ORIGIN).is_none());
    // Reported once as a flags error, not again as missing.
    assert_eq!(v.problems.len(), 1);
}

#[test]
fn s3c_partial_bit_alone_is_not_a_flags_error() {
    let extra = attr(OT | 0x20, tc::COMMUNITIES, &[0xFF, 0xFF, 0xFF, 0x01]);
    let (_, v) = decode(msg(&[], &base_with(&extra), NLRI), &ctx());
    assert!(v.is_clean());
}

#[test]
fn s3d_missing_origin_is_treat_as_withdraw() {
    let mut attrs = as_path4();
    attrs.extend(next_hop());
    let (_, v) = decode(msg(&[], &attrs, NLRI), &ctx());
    assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw));
    assert_eq!(v.problems[0].attr_type, Some(tc::ORIGIN));
    assert_eq!(
        v.problems[0].notification,
        Notification::with_data(3, 3, vec![1])
    );
    assert_eq!(v.treat_as_withdraw, vec![service_route()]);
}

#[test]
fn s3d_missing_as_path_is_treat_as_withdraw() {
    let mut attrs = origin();
    attrs.extend(next_hop());
    let (_, v) = decode(msg(&[], &attrs, NLRI), &ctx());
    assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw));
    assert_eq!(v.problems[0].attr_type, Some(tc::AS_PATH));
}

#[test]
fn s3d_missing_next_hop_with_ipv4_nlri_is_treat_as_withdraw() {
    let mut attrs = origin();
    attrs.extend(as_path4());
    let (_, v) = decode(msg(&[], &attrs, NLRI), &ctx());
    assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw));
    assert_eq!(v.problems[0].attr_type, Some(tc::NEXT_HOP));
}

#[test]
fn s3d_next_hop_not_required_with_only_mp_reach() {
    let mut attrs = origin();
    attrs.extend(as_path4());
    let mut mp = vec![0, 2, 1, 16];
    mp.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    mp.extend_from_slice(&[0, 32, 0x20, 0x01, 0x0d, 0xb8]);
    attrs.extend(attr(ON, tc::MP_REACH_NLRI, &mp));
    let (_, v) = decode(msg(&[], &attrs, &[]), &ctx());
    assert!(v.is_clean(), "{v:?}");
}

#[test]
fn s3d_mandatory_attributes_not_required_without_nlri() {
    // A withdrawal-only UPDATE and an End-of-RIB need no attributes.
    let (_, v) = decode(msg(&[8, 10], &[], &[]), &ctx());
    assert!(v.is_clean());
    let (_, v) = decode(msg(&[], &[], &[]), &ctx());
    assert!(v.is_clean());
}

#[test]
fn s3d_missing_local_pref_is_the_callers_business() {
    // LOCAL_PREF is mandatory only on iBGP, which the codec does not know.
    let (_, v) = decode(msg(&[], &base_with(&[]), NLRI), &ctx());
    assert!(v.is_clean());
}

#[test]
fn s3g_duplicate_attribute_keeps_first_and_discards_rest() {
    let mut extra = attr(ON, tc::MULTI_EXIT_DISC, &[0, 0, 0, 1]);
    extra.extend(attr(ON, tc::MULTI_EXIT_DISC, &[0, 0, 0, 2]));
    let (u, v) = decode(msg(&[], &base_with(&extra), NLRI), &ctx());
    assert_eq!(v.action(), Some(&UpdateAction::AttributeDiscard));
    assert_eq!(
        u.attribute(tc::MULTI_EXIT_DISC),
        Some(&bgp_wire::PathAttribute::MultiExitDisc(1))
    );
    assert_eq!(
        u.attributes
            .iter()
            .filter(|a| a.type_code() == tc::MULTI_EXIT_DISC)
            .count(),
        1
    );
}

#[test]
fn s3g_duplicate_unknown_attribute_keeps_first() {
    let mut extra = attr(OT, 200, &[1]);
    extra.extend(attr(OT, 200, &[2]));
    let (u, v) = decode(msg(&[], &base_with(&extra), NLRI), &ctx());
    assert_eq!(v.action(), Some(&UpdateAction::AttributeDiscard));
    assert_eq!(
        u.attributes.iter().filter(|a| a.type_code() == 200).count(),
        1
    );
}

#[test]
fn s3g_duplicate_mp_reach_is_session_reset_3_1() {
    let mp = [
        0, 2, 1, 16, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
    ];
    let mut extra = attr(ON, tc::MP_REACH_NLRI, &mp);
    extra.extend(attr(ON, tc::MP_REACH_NLRI, &mp));
    assert_reset(msg(&[], &base_with(&extra), &[]), 3, 1);
}

#[test]
fn s3g_duplicate_mp_unreach_is_session_reset_3_1() {
    let mut extra = attr(ON, tc::MP_UNREACH_NLRI, &[0, 2, 1]);
    extra.extend(attr(ON, tc::MP_UNREACH_NLRI, &[0, 2, 1]));
    assert_reset(msg(&[], &extra, &[]), 3, 1);
}

#[test]
fn s3h_strongest_action_wins() {
    // Discard (bad ATOMIC_AGGREGATE) + treat-as-withdraw (bad MED) -> treat-as-withdraw.
    let mut extra = attr(WK, tc::ATOMIC_AGGREGATE, &[1]);
    extra.extend(attr(ON, tc::MULTI_EXIT_DISC, &[1]));
    let (_, v) = decode(msg(&[], &base_with(&extra), NLRI), &ctx());
    assert_eq!(v.problems.len(), 2);
    assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw));
    // ... plus a reset (unrecognized well-known attribute) -> reset.
    extra.extend(attr(WK, 222, &[]));
    let (_, v) = decode(msg(&[], &base_with(&extra), NLRI), &ctx());
    assert_eq!(v.problems.len(), 3);
    assert!(matches!(v.action(), Some(UpdateAction::SessionReset(_))));
    assert!(v.treat_as_withdraw.is_empty());
}

#[test]
fn s3i_withdrawn_routes_syntax_is_checked_3_10() {
    let e = decode_message(msg(&[33, 1, 2, 3, 4, 5], &[], &[]), &ctx()).unwrap_err();
    assert_eq!(e.notification, Notification::new(3, 10));
    assert_eq!(e.offset, 21);
    let e = decode_message(msg(&[24, 10, 0], &[], &[]), &ctx()).unwrap_err();
    assert_eq!(e.notification, Notification::new(3, 10));
}

#[test]
fn s3j_malformed_mp_reach_with_readable_afi_safi_disables_family() {
    // IPv6 NLRI with prefix length 129.
    let mp = [
        0, 2, 1, 16, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 129, 0,
    ];
    let mut attrs = origin();
    attrs.extend(as_path4());
    attrs.extend(attr(ON, tc::MP_REACH_NLRI, &mp));
    let (u, v) = decode(msg(&[], &attrs, &[]), &ctx());
    assert_eq!(
        v.action(),
        Some(&UpdateAction::AfiSafiDisable(AfiSafi::IPV6_UNICAST))
    );
    assert!(u.mp_reach().is_none());
    assert_eq!(v.problems[0].notification.subcode, 9);
}

#[test]
fn s3j_mp_reach_too_short_for_afi_safi_is_session_reset() {
    let n = assert_reset(
        msg(&[], &base_with(&attr(ON, tc::MP_REACH_NLRI, &[0, 2])), NLRI),
        3,
        9,
    );
    assert_eq!(&n.data[..], &[ON, tc::MP_REACH_NLRI, 2, 0, 2]);
}

#[test]
fn s3j_mp_unreach_with_bad_nlri_disables_family() {
    let attrs = attr(ON, tc::MP_UNREACH_NLRI, &[0, 2, 1, 64, 0x20]);
    let (_, v) = decode(msg(&[], &attrs, &[]), &ctx());
    assert_eq!(
        v.action(),
        Some(&UpdateAction::AfiSafiDisable(AfiSafi::IPV6_UNICAST))
    );
}

#[test]
fn s3j_disabled_family_not_listed_but_others_withdrawn() {
    // Bad IPv6 MP_REACH (disable IPv6) + bad MED (treat-as-withdraw IPv4 NLRI).
    let mp = [0, 2, 1, 4, 1, 2, 3, 4, 0];
    let mut extra = attr(ON, tc::MP_REACH_NLRI, &mp);
    extra.extend(attr(ON, tc::MULTI_EXIT_DISC, &[1]));
    let (_, v) = decode(msg(&[], &base_with(&extra), NLRI), &ctx());
    assert_eq!(
        v.action(),
        Some(&UpdateAction::AfiSafiDisable(AfiSafi::IPV6_UNICAST))
    );
    assert_eq!(v.treat_as_withdraw, vec![service_route()]);
}

#[test]
fn s3_unrecognized_well_known_attribute_is_session_reset_3_2_with_attribute() {
    let bad = attr(WK, 222, &[1, 2]);
    let n = assert_reset(msg(&[], &base_with(&bad), NLRI), 3, 2);
    assert_eq!(&n.data[..], &bad[..]);
}

#[test]
fn s3_unknown_optional_attributes_are_kept() {
    let extra = attr(ON, 201, &[9]);
    let (u, v) = decode(msg(&[], &base_with(&extra), NLRI), &ctx());
    assert!(v.is_clean());
    assert!(u.attribute(201).is_some());
}

// ---- §4 attribute length fields ----

#[test]
fn s4_attribute_overrunning_the_list_is_treat_as_withdraw() {
    // A COMMUNITIES header claiming 8 octets with only 4 left in the attribute list.
    let mut extra = vec![OT, tc::COMMUNITIES, 8];
    extra.extend_from_slice(&[0, 0, 0, 1]);
    let (_, v) = decode(msg(&[], &base_with(&extra), NLRI), &ctx());
    assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw));
    // The NLRI was still found through the Total Path Attribute Length.
    assert_eq!(v.treat_as_withdraw, vec![service_route()]);
}

#[test]
fn s4_fewer_octets_than_an_attribute_header_is_treat_as_withdraw() {
    for tail in [&[0x40u8][..], &[0x40, 5][..], &[0x50, 5, 0][..]] {
        let (_, v) = decode(msg(&[], &base_with(tail), NLRI), &ctx());
        assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw), "{tail:?}");
        assert_eq!(v.treat_as_withdraw, vec![service_route()]);
    }
}

#[test]
fn s4_mp_reach_overrunning_the_list_is_session_reset() {
    let extra = [ON, tc::MP_REACH_NLRI, 40, 0, 2, 1];
    assert_reset(msg(&[], &base_with(&extra), &[]), 3, 1);
}

#[test]
fn s4_extended_length_honoured_for_short_values() {
    let extra = attr(
        ON | FLAG_EXTENDED_LENGTH,
        tc::MULTI_EXIT_DISC,
        &[0, 0, 0, 7],
    );
    let (u, v) = decode(msg(&[], &base_with(&extra), NLRI), &ctx());
    assert!(v.is_clean());
    assert_eq!(
        u.attribute(tc::MULTI_EXIT_DISC),
        Some(&bgp_wire::PathAttribute::MultiExitDisc(7))
    );
}

// ---- §5 NLRI ----

#[test]
fn s5_3_nlri_prefix_length_over_32_is_session_reset_3_10() {
    let e = decode_message(msg(&[], &base_with(&[]), &[33, 1, 2, 3, 4, 5]), &ctx()).unwrap_err();
    assert_eq!(e.notification, Notification::new(3, 10));
}

#[test]
fn s5_3_nlri_overrunning_the_message_is_session_reset_3_10() {
    let e = decode_message(msg(&[], &base_with(&[]), &[24, 10, 0]), &ctx()).unwrap_err();
    assert_eq!(e.notification, Notification::new(3, 10));
    let (_, _) = decode(msg(&[], &base_with(&[]), &[24, 10, 0, 0]), &ctx());
}

#[test]
fn s5_3_add_path_nlri_too_short_for_path_id_is_session_reset() {
    let c = SessionContext {
        add_path_receive: vec![AfiSafi::IPV4_UNICAST],
        ..ctx()
    };
    let e = decode_message(msg(&[], &base_with(&[]), &[0, 0, 1]), &c).unwrap_err();
    assert_eq!(e.notification, Notification::new(3, 10));
}

// ---- §7 per attribute ----

#[test]
fn s7_1_origin_wrong_length_is_treat_as_withdraw() {
    let mut attrs = attr(WK, tc::ORIGIN, &[0, 0]);
    attrs.extend(as_path4());
    attrs.extend(next_hop());
    let (_, v) = decode(msg(&[], &attrs, NLRI), &ctx());
    assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw));
    assert_eq!(v.problems[0].notification.subcode, 5);
    assert_eq!(v.problems.len(), 1);
}

#[test]
fn s7_1_origin_undefined_value_is_treat_as_withdraw() {
    let mut attrs = attr(WK, tc::ORIGIN, &[3]);
    attrs.extend(as_path4());
    attrs.extend(next_hop());
    let (_, v) = decode(msg(&[], &attrs, NLRI), &ctx());
    assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw));
    assert_eq!(v.problems[0].notification.subcode, 6);
}

fn as_path_case(value: &[u8]) -> UpdateVerdict {
    let mut attrs = origin();
    attrs.extend(attr(WK, tc::AS_PATH, value));
    attrs.extend(next_hop());
    decode(msg(&[], &attrs, NLRI), &ctx()).1
}

#[test]
fn s7_2_as_path_segment_overrun_is_treat_as_withdraw() {
    let v = as_path_case(&[2, 2, 0, 0, 0, 1]);
    assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw));
    assert_eq!(v.problems[0].notification.subcode, 11);
}

#[test]
fn s7_2_as_path_single_trailing_octet_is_treat_as_withdraw() {
    let v = as_path_case(&[2, 1, 0, 0, 0, 1, 2]);
    assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw));
}

#[test]
fn s7_2_as_path_zero_length_segment_is_treat_as_withdraw() {
    let v = as_path_case(&[2, 0]);
    assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw));
}

#[test]
fn s7_2_as_path_unknown_segment_type_is_treat_as_withdraw() {
    let v = as_path_case(&[5, 1, 0, 0, 0, 1]);
    assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw));
}

#[test]
fn s7_2_empty_as_path_is_valid() {
    let v = as_path_case(&[]);
    assert!(v.is_clean());
}

#[test]
fn s7_3_next_hop_wrong_length_is_treat_as_withdraw() {
    let mut attrs = origin();
    attrs.extend(as_path4());
    attrs.extend(attr(WK, tc::NEXT_HOP, &[1, 2, 3]));
    let (_, v) = decode(msg(&[], &attrs, NLRI), &ctx());
    assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw));
    assert_eq!(v.problems.len(), 1, "reported once, not also as missing");
}

#[test]
fn s7_3_next_hop_not_a_host_address_is_treat_as_withdraw() {
    for nh in [[0, 0, 0, 0], [255, 255, 255, 255], [224, 0, 0, 5]] {
        let mut attrs = origin();
        attrs.extend(as_path4());
        attrs.extend(attr(WK, tc::NEXT_HOP, &nh));
        let (_, v) = decode(msg(&[], &attrs, NLRI), &ctx());
        assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw), "{nh:?}");
        assert_eq!(v.problems[0].notification.subcode, 8);
    }
}

#[test]
fn s7_4_med_wrong_length_is_treat_as_withdraw() {
    assert_taw(
        &attr(ON, tc::MULTI_EXIT_DISC, &[0, 0, 1]),
        tc::MULTI_EXIT_DISC,
    );
}

#[test]
fn s7_5_local_pref_wrong_length_is_treat_as_withdraw() {
    assert_taw(
        &attr(WK, tc::LOCAL_PREF, &[0, 0, 0, 0, 100]),
        tc::LOCAL_PREF,
    );
}

#[test]
fn s7_6_atomic_aggregate_wrong_length_is_attribute_discard() {
    assert_discard(
        &attr(WK, tc::ATOMIC_AGGREGATE, &[1]),
        tc::ATOMIC_AGGREGATE,
        &ctx(),
    );
}

#[test]
fn s7_7_aggregator_wrong_length_is_attribute_discard() {
    // 6 octets on a 4-octet session, 8 octets on a 2-octet session.
    assert_discard(
        &attr(OT, tc::AGGREGATOR, &[0, 1, 1, 1, 1, 1]),
        tc::AGGREGATOR,
        &ctx(),
    );
    let two = SessionContext::default();
    let mut attrs = origin();
    attrs.extend(attr(WK, tc::AS_PATH, &[2, 1, 0xFD, 0xE8]));
    attrs.extend(next_hop());
    attrs.extend(attr(OT, tc::AGGREGATOR, &[0, 0, 0, 1, 1, 1, 1, 1]));
    let (u, v) = decode(msg(&[], &attrs, NLRI), &two);
    assert_eq!(v.action(), Some(&UpdateAction::AttributeDiscard));
    assert!(u.attribute(tc::AGGREGATOR).is_none());
}

#[test]
fn s7_8_communities_not_multiple_of_4_is_treat_as_withdraw() {
    assert_taw(&attr(OT, tc::COMMUNITIES, &[0, 0, 1]), tc::COMMUNITIES);
}

#[test]
fn s7_8_communities_zero_length_is_treat_as_withdraw() {
    assert_taw(&attr(OT, tc::COMMUNITIES, &[]), tc::COMMUNITIES);
}

#[test]
fn s7_9_originator_id_wrong_length_is_treat_as_withdraw() {
    assert_taw(&attr(ON, tc::ORIGINATOR_ID, &[1, 1, 1]), tc::ORIGINATOR_ID);
}

#[test]
fn s7_10_cluster_list_not_multiple_of_4_is_treat_as_withdraw() {
    assert_taw(
        &attr(ON, tc::CLUSTER_LIST, &[1, 1, 1, 1, 2]),
        tc::CLUSTER_LIST,
    );
    assert_taw(&attr(ON, tc::CLUSTER_LIST, &[]), tc::CLUSTER_LIST);
}

#[test]
fn s7_11_mp_reach_next_hop_length_inconsistent_disables_family() {
    // IPv6 unicast with a 4-octet next hop.
    let mp = [0, 2, 1, 4, 10, 0, 0, 1, 0, 32, 0x20, 1, 0xd, 0xb8];
    let mut attrs = origin();
    attrs.extend(as_path4());
    attrs.extend(attr(ON, tc::MP_REACH_NLRI, &mp));
    let (_, v) = decode(msg(&[], &attrs, &[]), &ctx());
    assert_eq!(
        v.action(),
        Some(&UpdateAction::AfiSafiDisable(AfiSafi::IPV6_UNICAST))
    );
}

#[test]
fn s7_11_mp_reach_next_hop_overrunning_attribute_disables_family() {
    let mp = [0, 2, 1, 16, 1, 2, 3];
    let (_, v) = decode(msg(&[], &attr(ON, tc::MP_REACH_NLRI, &mp), &[]), &ctx());
    assert_eq!(
        v.action(),
        Some(&UpdateAction::AfiSafiDisable(AfiSafi::IPV6_UNICAST))
    );
}

#[test]
fn s7_11_mp_reach_flags_error_withdraws_its_routes() {
    let mp = [
        0, 2, 1, 16, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 32, 0x20, 1, 0xd,
        0xb8,
    ];
    let mut attrs = origin();
    attrs.extend(as_path4());
    attrs.extend(attr(OT, tc::MP_REACH_NLRI, &mp));
    let (_, v) = decode(msg(&[], &attrs, &[]), &ctx());
    assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw));
    assert_eq!(
        v.treat_as_withdraw,
        vec![(
            AfiSafi::IPV6_UNICAST,
            Nlri::new("2001:db8::/32".parse().unwrap())
        )]
    );
}

#[test]
fn s7_11_treat_as_withdraw_lists_mp_and_ipv4_routes_with_family() {
    let mp = [
        0, 2, 1, 16, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 32, 0x20, 1, 0xd,
        0xb8,
    ];
    let mut extra = attr(ON, tc::MP_REACH_NLRI, &mp);
    extra.extend(attr(OT, tc::COMMUNITIES, &[1]));
    let (_, v) = decode(msg(&[], &base_with(&extra), NLRI), &ctx());
    assert_eq!(v.action(), Some(&UpdateAction::TreatAsWithdraw));
    assert_eq!(
        v.treat_as_withdraw,
        vec![
            service_route(),
            (
                AfiSafi::IPV6_UNICAST,
                Nlri::new("2001:db8::/32".parse().unwrap())
            )
        ]
    );
}

#[test]
fn s7_12_traffic_engineering_shorter_than_fixed_part_is_treat_as_withdraw() {
    assert_taw(&attr(ON, 24, &[1, 2, 3]), 24);
    // A well-formed one (36-octet fixed part) is kept raw.
    let (u, v) = decode(msg(&[], &base_with(&attr(ON, 24, &[0; 36])), NLRI), &ctx());
    assert!(v.is_clean());
    assert!(u.attribute(24).is_some());
}

#[test]
fn s7_13_tunnel_encapsulation_tlv_overrun_is_treat_as_withdraw() {
    assert_taw(&attr(OT, 23, &[0, 1, 0, 5, 0]), 23);
    assert_taw(&attr(OT, 23, &[0, 1, 0]), 23);
    let (u, v) = decode(
        msg(
            &[],
            &base_with(&attr(OT, 23, &[0, 8, 0, 2, 9, 9, 0, 1, 0, 0])),
            NLRI,
        ),
        &ctx(),
    );
    assert!(v.is_clean());
    assert!(u.attribute(23).is_some());
}

#[test]
fn s7_14_extended_communities_not_multiple_of_8_is_treat_as_withdraw() {
    assert_taw(
        &attr(OT, tc::EXTENDED_COMMUNITIES, &[0, 2, 0, 1, 0, 0, 0]),
        tc::EXTENDED_COMMUNITIES,
    );
    assert_taw(
        &attr(OT, tc::EXTENDED_COMMUNITIES, &[]),
        tc::EXTENDED_COMMUNITIES,
    );
}

#[test]
fn s7_15_ipv6_extended_communities_not_multiple_of_20_is_treat_as_withdraw() {
    assert_taw(
        &attr(OT, tc::IPV6_EXTENDED_COMMUNITIES, &[0; 19]),
        tc::IPV6_EXTENDED_COMMUNITIES,
    );
}

// ---- other RFCs ----

#[test]
fn rfc8092_large_community_not_multiple_of_12_is_treat_as_withdraw() {
    // RFC 8092 §6: "not a non-zero multiple of 12" -> treat-as-withdraw.
    assert_taw(
        &attr(OT, tc::LARGE_COMMUNITIES, &[0; 13]),
        tc::LARGE_COMMUNITIES,
    );
    assert_taw(&attr(OT, tc::LARGE_COMMUNITIES, &[]), tc::LARGE_COMMUNITIES);
}

#[test]
fn rfc9234_otc_wrong_length_is_treat_as_withdraw() {
    assert_taw(&attr(OT, tc::OTC, &[0, 0, 0xFD]), tc::OTC);
}

#[test]
fn rfc9234_otc_wrong_flags_is_treat_as_withdraw() {
    assert_taw(&attr(ON, tc::OTC, &[0, 0, 0xFD, 0xE8]), tc::OTC);
}

fn two_octet_with(extra: &[u8]) -> (Update, UpdateVerdict) {
    let mut attrs = origin();
    attrs.extend(attr(WK, tc::AS_PATH, &[2, 1, 0x5B, 0xA0]));
    attrs.extend(next_hop());
    attrs.extend_from_slice(extra);
    decode(msg(&[], &attrs, NLRI), &SessionContext::default())
}

#[test]
fn rfc6793_malformed_as4_path_is_attribute_discard() {
    let (u, v) = two_octet_with(&attr(OT, tc::AS4_PATH, &[2, 2, 0, 0, 0, 1]));
    assert_eq!(v.action(), Some(&UpdateAction::AttributeDiscard));
    assert!(u.attribute(tc::AS4_PATH).is_none());
    assert_eq!(u.nlri.len(), 1);
}

#[test]
fn rfc6793_as4_path_with_confed_segment_is_attribute_discard() {
    let (u, v) = two_octet_with(&attr(OT, tc::AS4_PATH, &[3, 1, 0, 1, 0, 0]));
    assert_eq!(v.action(), Some(&UpdateAction::AttributeDiscard));
    assert!(u.attribute(tc::AS4_PATH).is_none());
}

#[test]
fn rfc6793_malformed_as4_aggregator_is_attribute_discard() {
    let (u, v) = two_octet_with(&attr(OT, tc::AS4_AGGREGATOR, &[0, 1, 0, 0, 1, 1]));
    assert_eq!(v.action(), Some(&UpdateAction::AttributeDiscard));
    assert!(u.attribute(tc::AS4_AGGREGATOR).is_none());
}

#[test]
fn rfc6793_as4_flags_error_is_attribute_discard() {
    let (_, v) = two_octet_with(&attr(ON, tc::AS4_PATH, &[2, 1, 0, 1, 0, 0]));
    assert_eq!(v.action(), Some(&UpdateAction::AttributeDiscard));
}

#[test]
fn rfc6793_as4_attributes_from_new_speaker_are_discarded() {
    let (u, v) = decode(
        msg(
            &[],
            &base_with(&attr(OT, tc::AS4_PATH, &[2, 1, 0, 1, 0, 0])),
            NLRI,
        ),
        &ctx(),
    );
    assert_eq!(v.action(), Some(&UpdateAction::AttributeDiscard));
    assert!(u.attribute(tc::AS4_PATH).is_none());
}

#[test]
fn rfc6793_valid_as4_path_merges() {
    let (u, v) = two_octet_with(&attr(OT, tc::AS4_PATH, &[2, 1, 0, 1, 0, 0]));
    assert!(v.is_clean());
    let Some(bgp_wire::PathAttribute::AsPath(p2)) = u.attribute(tc::AS_PATH) else {
        panic!()
    };
    let Some(bgp_wire::PathAttribute::As4Path(p4)) = u.attribute(tc::AS4_PATH) else {
        panic!()
    };
    assert_eq!(
        bgp_wire::merge_as4_path(p2, p4),
        bgp_wire::attr::AsPath::from_sequence([65536])
    );
}

#[test]
fn error_offsets_point_at_the_attribute() {
    let extra = attr(ON, tc::MULTI_EXIT_DISC, &[1]);
    let attrs = base_with(&extra);
    let (_, v) = decode(msg(&[], &attrs, NLRI), &ctx());
    // header 19 + withdrawn length 2 + attribute length 2 + preceding attributes.
    assert_eq!(v.problems[0].offset, 23 + attrs.len() - extra.len());
}
