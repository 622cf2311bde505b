//! Update groups: one computation for all members, and each member's view equal to what a
//! per-neighbour Adj-RIB-Out would have sent it (split horizon included).

use super::*;
use crate::Attrs;
use crate::decision::{DecisionConfig, PeerInfo};
use crate::policy::Policy;
use bgp_wire::attr::AsPath;
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

const AS: u32 = 65000;

fn info(last: u8, asn: u32) -> PeerInfo {
    PeerInfo::new(
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
        asn,
        Ipv4Addr::new(1, 1, 1, last),
        AS,
    )
}
fn out(p: &PeerInfo) -> OutPeerConfig {
    OutPeerConfig {
        info: p.clone(),
        local_addr: "10.0.0.1".parse().unwrap(),
        next_hop_self: false,
        route_reflector: false,
        policy: None,
        families: vec![AfiSafi::IPV4_UNICAST],
        add_path: false,
    }
}
fn pfx(i: u32) -> IpNet {
    IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::from(0x0b00_0000 + (i << 8)), 24).unwrap())
}
fn attrs_from(p: &PeerInfo, variant: u32) -> Attrs {
    let mut a = Attrs::new(p.addr);
    a.as_path = AsPath::from_sequence([p.asn, 100 + variant]);
    a
}

/// A neighbour's table, built from the UPDATEs it was sent.
type Table = BTreeMap<IpNet, Vec<bgp_wire::PathAttribute>>;
fn apply(t: &mut Table, ups: &[Update]) {
    for u in ups {
        for w in &u.withdrawn {
            t.remove(&w.prefix);
        }
        for n in &u.nlri {
            t.insert(n.prefix, u.attributes.clone());
        }
    }
}

fn rib3() -> (Rib, [PeerId; 3], [PeerInfo; 3]) {
    let mut rib = Rib::new(DecisionConfig::new(AS, Ipv4Addr::new(10, 0, 0, 1)));
    let i = [info(2, 65002), info(3, 65003), info(4, 65004)];
    let ids = [
        rib.add_peer(i[0].clone()),
        rib.add_peer(i[1].clone()),
        rib.add_peer(i[2].clone()),
    ];
    (rib, ids, i)
}

#[test]
fn equivalent_members_share_one_computation_and_one_stream() {
    let (mut rib, [a, b, c], [ia, ib, ic]) = rib3();
    let ctx = SessionContext::modern();
    let mut g = UpdateGroup::new(out(&ia), ctx.clone());
    assert_eq!(g.key(), &UpdateGroupKey::new(&out(&ib), &ctx));
    g.join(&rib, a);
    g.join(&rib, b);
    let first = g.take();
    assert_eq!(first.for_member(a), first.for_member(b));
    // 1000 prefixes from c with 4 distinct attribute sets.
    for i in 0..1000 {
        rib.announce(c, pfx(i), 0, attrs_from(&ic, i % 4)).unwrap();
    }
    let d = rib.drain_deltas();
    g.process(&rib, &d);
    let batch = g.take();
    let (ua, ub) = (batch.for_member(a), batch.for_member(b));
    assert_eq!(ua, ub, "identical UPDATEs for both members");
    assert_eq!(
        batch.clone().into_member(b),
        ub,
        "copied from a shared stream"
    );
    assert_eq!(Arc::strong_count(&batch.stream), 1);
    assert_eq!(batch.into_member(a), ua, "moved by the last holder");
    assert_eq!(ua.iter().map(|u| u.nlri.len()).sum::<usize>(), 1000);
    let k = g.counters();
    assert_eq!(
        k.exports, 4,
        "one export per attribute set, not per prefix or member"
    );
    assert_eq!(k.export_cache_hits, 996);
    assert_eq!(k.batches, 1);
    // The same bytes as a per-neighbour Adj-RIB-Out sends a.
    let mut solo = AdjRibOut::new(a, out(&ia));
    solo.process(&rib, &d);
    assert_eq!(solo.take_updates(&ctx), ua);
}

#[test]
fn members_views_equal_per_neighbour_adj_rib_outs_split_horizon_kept() {
    let (mut rib, [a, b, c], infos) = rib3();
    let ids = [a, b, c];
    let ctx = SessionContext::modern();
    // a and b in one group (same export parameters; c is the third, non-member source).
    let mut g = UpdateGroup::new(out(&infos[0]), ctx.clone());
    g.join(&rib, a);
    g.join(&rib, b);
    let mut solo: Vec<AdjRibOut> = [0, 1]
        .iter()
        .map(|&i| {
            let mut o = AdjRibOut::new(ids[i], out(&infos[i]));
            o.initial_dump(&rib);
            o
        })
        .collect();
    let mut via_group = [Table::new(), Table::new()];
    let mut via_solo = [Table::new(), Table::new()];
    // A deterministic pseudo-random walk of announcements and withdrawals from a, b and c
    // over a few prefixes, so best paths move between members and the non-member.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut differ = 0;
    for step in 0..3000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let who = (x % 3) as usize;
        let p = pfx(((x >> 8) % 6) as u32);
        if (x >> 16).is_multiple_of(3) {
            rib.withdraw(ids[who], p, 0);
        } else {
            let mut at = attrs_from(&infos[who], ((x >> 24) % 3) as u32);
            at.med = Some(((x >> 32) % 3) as u32);
            rib.announce(ids[who], p, 0, at).unwrap();
        }
        let d = rib.drain_deltas();
        g.process(&rib, &d);
        for o in solo.iter_mut() {
            o.process(&rib, &d);
        }
        if step.is_multiple_of(7) {
            let batch = g.take();
            for m in 0..2 {
                apply(&mut via_group[m], &batch.for_member(ids[m]));
                apply(&mut via_solo[m], &solo[m].take_updates(&ctx));
                assert_eq!(via_group[m], via_solo[m], "member {m} after step {step}");
            }
            if via_group[0] != via_group[1] {
                // Split horizon at work: the members see different tables.
                differ += 1;
            }
        }
    }
    assert!(
        differ > 50,
        "the walk exercised split horizon ({differ} batches)"
    );
}

#[test]
fn sole_member_routes_are_not_packed_until_a_second_member_joins() {
    let (mut rib, [a, b, _], [ia, ib, _]) = rib3();
    let ctx = SessionContext::modern();
    let mut g = UpdateGroup::new(out(&ia), ctx.clone());
    g.join(&rib, a);
    assert_eq!(
        g.take().for_member(a),
        vec![end_of_rib(AfiSafi::IPV4_UNICAST)]
    );
    for i in 0..100 {
        rib.announce(a, pfx(i), 0, attrs_from(&ia, 0)).unwrap();
    }
    let d = rib.drain_deltas();
    g.process(&rib, &d);
    assert!(
        !g.has_pending(),
        "a's own routes: nothing to pack for a group of a alone"
    );
    assert_eq!(g.counters().exports, 0);
    g.join(&rib, b);
    let batch = g.take();
    assert_eq!(batch.for_member(a), vec![], "split horizon");
    let mut t = Table::new();
    apply(&mut t, &batch.for_member(b));
    assert_eq!(t.len(), 100);
    let mut solo = AdjRibOut::new(b, out(&ib));
    solo.initial_dump(&rib);
    let mut s = Table::new();
    apply(&mut s, &solo.take_updates(&ctx));
    assert_eq!(t, s);
    assert_eq!(
        batch.for_member(b).last(),
        Some(&end_of_rib(AfiSafi::IPV4_UNICAST))
    );
}

#[test]
fn late_member_gets_a_dump_then_the_stream_and_route_refresh_resends() {
    let (mut rib, [a, b, c], [ia, _, ic]) = rib3();
    let ctx = SessionContext::modern();
    let mut g = UpdateGroup::new(out(&ia), ctx.clone());
    g.join(&rib, a);
    for i in 0..50 {
        rib.announce(c, pfx(i), 0, attrs_from(&ic, 0)).unwrap();
    }
    let d = rib.drain_deltas();
    g.process(&rib, &d);
    let first = g.take();
    let mut ta = Table::new();
    apply(&mut ta, &first.for_member(a));
    assert_eq!(ta.len(), 50);
    g.join(&rib, b);
    rib.withdraw(c, pfx(0), 0);
    let d = rib.drain_deltas();
    g.process(&rib, &d);
    let batch = g.take();
    assert_eq!(g.counters().member_dumps, 1);
    let ub = batch.for_member(b);
    let mut tb = Table::new();
    apply(&mut tb, &ub);
    apply(&mut ta, &batch.for_member(a));
    assert_eq!(tb.len(), 49);
    assert_eq!(ta, tb);
    assert_eq!(ub.last(), Some(&end_of_rib(AfiSafi::IPV4_UNICAST)));
    assert!(
        !batch
            .for_member(a)
            .contains(&end_of_rib(AfiSafi::IPV4_UNICAST))
    );
    // ROUTE-REFRESH from a: everything again for a only.
    g.refresh_member(a);
    let r = g.take();
    assert!(r.for_member(b).is_empty());
    let mut again = Table::new();
    apply(&mut again, &r.for_member(a));
    assert_eq!(again, ta);
    // Leaving.
    assert!(!g.leave(a));
    assert!(g.leave(b));
}

#[derive(Debug)]
struct Nothing;
impl Policy for Nothing {
    fn apply(&self, _: IpNet, _: &PeerInfo, _: &mut Attrs) -> bool {
        true
    }
}

#[test]
fn keys_separate_what_changes_the_exported_routes_or_their_encoding() {
    let (ia, ib) = (info(2, 65002), info(3, 65003));
    let ctx = SessionContext::modern();
    let k = |c: &OutPeerConfig, x: &SessionContext| UpdateGroupKey::new(c, x);
    assert_eq!(
        k(&out(&ia), &ctx),
        k(&out(&ib), &ctx),
        "peer AS and address do not matter"
    );
    let mut other_addr = out(&ib);
    other_addr.local_addr = "10.9.0.1".parse().unwrap();
    assert_ne!(
        k(&out(&ia), &ctx),
        k(&other_addr, &ctx),
        "next hop we set differs"
    );
    let ibgp = info(5, AS);
    assert_ne!(k(&out(&ia), &ctx), k(&out(&ibgp), &ctx));
    assert_ne!(
        k(&out(&ia), &ctx),
        k(&out(&ia), &SessionContext::default()),
        "2-octet AS"
    );
    let mut fam = out(&ib);
    fam.families = vec![AfiSafi::IPV6_UNICAST, AfiSafi::IPV4_UNICAST];
    assert_ne!(k(&out(&ia), &ctx), k(&fam, &ctx));
    let pol: Arc<dyn Policy> = Arc::new(Nothing);
    let (mut pa, mut pb) = (out(&ia), out(&ib));
    pa.policy = Some(pol.clone());
    pb.policy = Some(pol);
    assert_ne!(
        k(&pa, &ctx),
        k(&pb, &ctx),
        "a policy sees the neighbour: not shared"
    );
    assert_eq!(k(&pa, &ctx), k(&pa.clone(), &ctx));
}

#[test]
fn route_server_clients_and_plain_ebgp_neighbours_never_share_a_group() {
    let ctx = bgp_wire::SessionContext::modern();
    let plain = info(2, 65002);
    let mut client = info(3, 65003);
    client.rs_client = true;
    assert_ne!(
        UpdateGroupKey::new(&out(&plain), &ctx),
        UpdateGroupKey::new(&out(&client), &ctx),
        "RFC 7947 export differs: no prepend, next hop and MED kept"
    );
    let mut other_client = info(4, 65004);
    other_client.rs_client = true;
    assert_eq!(
        UpdateGroupKey::new(&out(&client), &ctx),
        UpdateGroupKey::new(&out(&other_client), &ctx)
    );
}
