//! `Rib::path_count` is kept as counters; it must equal a walk of every destination after
//! any mix of peer and local announcements, withdrawals, ADD-PATH ids, policy rejections,
//! graceful-restart sweeps and peers going down or being removed.

use super::*;
use crate::policy::Policy;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

#[derive(Debug)]
struct DenyOdd;
impl Policy for DenyOdd {
    fn apply(&self, prefix: IpNet, _: &PeerInfo, _: &mut Attrs) -> bool {
        match prefix {
            IpNet::V4(p) => p.addr().octets()[1].is_multiple_of(2),
            IpNet::V6(_) => true,
        }
    }
}

#[test]
fn path_count_counters_equal_a_walk() {
    let mut rib = Rib::new(DecisionConfig::new(65000, "10.0.0.1".parse().unwrap()));
    let peers: Vec<PeerId> = (2..6u8)
        .map(|i| {
            let a = std::net::Ipv4Addr::new(10, 0, 0, i);
            rib.add_peer(PeerInfo::new(a.into(), 65000 + u32::from(i), a, 65000))
        })
        .collect();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for step in 0..4000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let p = if x.is_multiple_of(5) {
            net(&format!("2001:db8:{:x}::/48", (x >> 8) % 20))
        } else {
            net(&format!("10.{}.0.0/16", (x >> 8) % 20))
        };
        let nh: IpAddr = if matches!(p, IpNet::V6(_)) {
            "2001:db8::9".parse().unwrap()
        } else {
            "10.0.0.9".parse().unwrap()
        };
        let who = ((x >> 16) % 5) as usize;
        let id = ((x >> 24) % 2) as u32;
        match (x >> 32) % 9 {
            0..=3 if who == 4 => rib.originate(p, Attrs::new(nh)),
            0..=3 => rib.announce(peers[who], p, id, Attrs::new(nh)).unwrap(),
            4 | 5 if who == 4 => rib.withdraw_local(p),
            4 | 5 => rib.withdraw(peers[who], p, id),
            6 => {
                let pol: Option<Arc<dyn Policy>> = if who.is_multiple_of(2) {
                    Some(Arc::new(DenyOdd))
                } else {
                    None
                };
                let _ = rib.set_import_policy(peers[who % 4], pol);
            }
            7 => {
                rib.peer_restarting(peers[who % 4], u64::from(step), 1);
                rib.tick(u64::from(step) + 2);
            }
            _ => rib.peer_down(peers[who % 4]),
        }
        assert_eq!(rib.path_count(), rib.path_count_walk(), "step {step}");
    }
    rib.remove_peer(peers[0]);
    assert_eq!(rib.path_count(), rib.path_count_walk());
}
