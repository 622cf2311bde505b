//! RFC 7606 / RFC 4271 error handling of the router, observed from a third peer: a raw
//! speaker (a Python script in its own namespace, so the bytes are exactly ours) sends the
//! router valid routes, then malformed UPDATEs; GoBGP, the third peer, must see
//! - treat-as-withdraw (RFC 7606 §7.1 ORIGIN with an undefined value; §3 d, a missing
//!   well-known mandatory NEXT_HOP): the route withdrawn;
//! - attribute discard (§7.6 ATOMIC_AGGREGATE of length 1, §7.7 AGGREGATOR of length 5): the
//!   route replaced by the new one without that attribute (its new community arrives);
//!
//! and the session with the sender stays up (no NOTIFICATION for either case).
//!
//! Needs root, gobgpd, gobgp, python3; build the example first (`cargo build --example router`).

#[path = "router_common.rs"]
mod router_common;

use std::time::Duration;

use router_common::RouterProc;
use testlab::{Bridge, Gobgp, Netns, TempDir, wait_until};

const R: &str = "10.9.0.1";
const RAW: &str = "10.9.0.9";
const GOBGP_A: &str = "10.9.0.4";

/// The raw speaker: OPEN (AS 65009, hold 9, IPv4 unicast, 4-octet AS), then phase 1; phase 2
/// once the file `go` exists next to the script; keepalives every 3 s; what the router sends
/// is read and dropped, a NOTIFICATION is written to `notification` before exiting.
const RAW_PY: &str = r#"import os, socket, struct, sys, threading, time
here = os.path.dirname(os.path.abspath(__file__))
def msg(t, body): return b'\xff' * 16 + struct.pack('!HB', 19 + len(body), t) + body
def attr(flags, code, value): return bytes([flags, code, len(value)]) + value
def origin(v=0): return attr(0x40, 1, bytes([v]))
PATH = attr(0x40, 2, bytes([2, 1]) + struct.pack('!I', 65009))
NH = attr(0x40, 3, socket.inet_aton(sys.argv[2]))
def comm(x): return attr(0xc0, 8, struct.pack('!HH', 65009, x))
ATOMIC = attr(0x40, 6, b'')
BAD_ATOMIC = attr(0x40, 6, b'\x00')
AGGR = attr(0xc0, 7, struct.pack('!I', 65009) + socket.inet_aton(sys.argv[2]))
BAD_AGGR = attr(0xc0, 7, struct.pack('!I', 65009) + b'\x0a')
def pfx(s):
    a, l = s.split('/'); l = int(l)
    return bytes([l]) + socket.inet_aton(a)[:(l + 7) // 8]
def update(attrs, nlri):
    a = b''.join(attrs)
    return msg(2, struct.pack('!H', 0) + struct.pack('!H', len(a)) + a + b''.join(pfx(p) for p in nlri))
s = socket.socket()
s.bind((sys.argv[2], 0))
while True:
    try:
        s.connect((sys.argv[1], 179)); break
    except OSError:
        time.sleep(0.5)
caps = bytes([1, 4, 0, 1, 0, 1, 65, 4]) + struct.pack('!I', 65009)
opt = bytes([2, len(caps)]) + caps
s.sendall(msg(1, bytes([4]) + struct.pack('!HH', 65009, 9) + socket.inet_aton(sys.argv[2]) + bytes([len(opt)]) + opt))
s.sendall(msg(4, b''))
def reader():
    buf = b''
    while True:
        d = s.recv(65536)
        if not d: os._exit(0)
        buf += d
        while len(buf) >= 19:
            n = struct.unpack('!H', buf[16:18])[0]
            if len(buf) < n: break
            if buf[18] == 3:
                open(os.path.join(here, 'notification'), 'w').write(buf[19:n].hex())
            buf = buf[n:]
threading.Thread(target=reader, daemon=True).start()
time.sleep(0.5)
common = [PATH, NH]
s.sendall(update([origin()] + common + [comm(1), ATOMIC, AGGR], ['10.91.0.0/24', '10.92.0.0/24', '10.93.0.0/24', '10.94.0.0/24', '10.95.0.0/24']))
while not os.path.exists(os.path.join(here, 'go')):
    s.sendall(msg(4, b'')); time.sleep(0.5)
s.sendall(update([origin(5)] + common + [comm(2)], ['10.91.0.0/24']))
s.sendall(update([origin()] + common + [comm(2), BAD_ATOMIC, AGGR], ['10.92.0.0/24']))
s.sendall(update([origin()] + common + [comm(3), ATOMIC, BAD_AGGR], ['10.93.0.0/24']))
s.sendall(update([origin(), PATH, comm(4)], ['10.94.0.0/24']))
s.sendall(update([origin()] + common + [comm(5)], ['10.95.0.0/24']))
while True:
    s.sendall(msg(4, b'')); time.sleep(3)
"#;

/// GoBGP's path for `prefix`: (attribute type codes, communities as `asn:x`).
fn seen(g: &Gobgp, prefix: &str) -> Option<(Vec<u64>, Vec<String>)> {
    let v = g.rib_json("ipv4").ok()?;
    let path = v.get(prefix)?.as_array()?.first()?.clone();
    let mut types = Vec::new();
    let mut comms = Vec::new();
    for a in path["attrs"].as_array()? {
        let t = a["type"].as_u64()?;
        types.push(t);
        if t == 8 {
            for c in a["communities"].as_array().into_iter().flatten() {
                let c = c.as_u64().unwrap_or(0);
                comms.push(format!("{}:{}", c >> 16, c & 0xffff));
            }
        }
    }
    Some((types, comms))
}

fn has(v: &Option<(Vec<u64>, Vec<String>)>, types: &[u64], comm: &str) -> bool {
    v.as_ref()
        .is_some_and(|(t, c)| types.iter().all(|x| t.contains(x)) && c.iter().any(|x| x == comm))
}

#[test]
fn malformed_updates_are_observable_from_a_third_peer_rfc7606() {
    if !testlab::require_root_and(&["gobgpd", "gobgp", "python3"]) {
        return;
    }
    let mut lan = Bridge::new("rml").unwrap();
    let rns = Netns::new("rmr").unwrap();
    lan.attach(&rns, "eth0", &format!("{R}/24")).unwrap();
    let xns = Netns::new("rmx").unwrap();
    lan.attach(&xns, "eth0", &format!("{RAW}/24")).unwrap();
    let gns = Netns::new("rmg").unwrap();
    lan.attach(&gns, "eth0", &format!("{GOBGP_A}/24")).unwrap();

    let router = RouterProc::start(
        &rns,
        &[
            "--local-as",
            "64512",
            "--router-id",
            R,
            "--import-policy",
            "accept",
            "--export-policy",
            "accept",
            "--listen",
            "0.0.0.0:179",
            "--peer",
            RAW,
            "--peer",
            GOBGP_A,
            "--peer-as",
            "65009",
            "--peer-as",
            "65003",
            "--hold-time",
            "9",
            "--connect-retry",
            "1",
            "--output",
            "none",
        ],
    )
    .unwrap();
    let gobgp = Gobgp::start(&gns, &Gobgp::config(65003, GOBGP_A, &[(R, 64512)])).unwrap();
    let dir = TempDir::new("rawbgp").unwrap();
    let script = dir.path().join("raw.py");
    std::fs::write(&script, RAW_PY).unwrap();
    let mut cmd = xns.command("python3");
    cmd.arg(&script).arg(R).arg(RAW);
    let raw = xns.spawn(cmd).unwrap();
    struct Kill(Netns, u32);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.stop(self.1);
        }
    }
    let _raw = Kill(xns.clone(), raw);

    // Phase 1: all five valid routes at GoBGP, with ATOMIC_AGGREGATE (6) and AGGREGATOR (7).
    let prefixes = [
        "10.91.0.0/24",
        "10.92.0.0/24",
        "10.93.0.0/24",
        "10.94.0.0/24",
        "10.95.0.0/24",
    ];
    let ok = wait_until(Duration::from_secs(30), || {
        prefixes
            .iter()
            .all(|p| has(&seen(&gobgp, p), &[6, 7], "65009:1"))
    });
    assert!(
        ok,
        "phase 1: {:?}\n{}",
        prefixes.map(|p| seen(&gobgp, p)),
        router.log()
    );

    // Phase 2: the malformed UPDATEs, then a valid one (10.95: its new community marks that
    // everything before it was processed).
    std::fs::write(dir.path().join("go"), b"").unwrap();
    let ok = wait_until(Duration::from_secs(20), || {
        has(&seen(&gobgp, "10.95.0.0/24"), &[], "65009:5")
    });
    assert!(
        ok,
        "valid UPDATE after the malformed ones not seen: {}",
        router.log()
    );
    let (p1, p2, p3, p4) = (
        seen(&gobgp, "10.91.0.0/24"),
        seen(&gobgp, "10.92.0.0/24"),
        seen(&gobgp, "10.93.0.0/24"),
        seen(&gobgp, "10.94.0.0/24"),
    );
    assert!(p1.is_none(), "ORIGIN 5: treat-as-withdraw, got {p1:?}");
    assert!(p4.is_none(), "no NEXT_HOP: treat-as-withdraw, got {p4:?}");
    assert!(
        has(&p2, &[7], "65009:2") && !p2.as_ref().unwrap().0.contains(&6),
        "bad ATOMIC_AGGREGATE: discarded, route kept: {p2:?}"
    );
    assert!(
        has(&p3, &[6], "65009:3") && !p3.as_ref().unwrap().0.contains(&7),
        "bad AGGREGATOR: discarded, route kept: {p3:?}"
    );
    assert!(
        !dir.path().join("notification").exists(),
        "the router sent a NOTIFICATION: {}",
        std::fs::read_to_string(dir.path().join("notification")).unwrap_or_default()
    );
    assert_eq!(router.established(), 2, "{}", router.log());
    drop((gobgp, router));
}
