//! Benchmark helper for `scripts/bench-router.sh`: a minimal blocking BGP speaker that either
//! replays a synthetic IPv4 table as fast as TCP takes it (`feed`) or counts the prefixes it
//! receives (`sink`), printing wall-clock times (Unix ms) as JSON so two receivers (our router
//! and BIRD) can be timed the same way in one run.
//!
//! The table: `--prefixes N` distinct /24s from 1.0.0.0 up, in attribute sets of power-law
//! size (most sets carry a few prefixes, some hundreds) with AS paths of 1-10 hops (some
//! prepending), MED on 30 % and 1-6 communities on 60 % of the sets, packed into UPDATEs of at
//! most 4096 octets; NEXT_HOP is the feeder's address. It is built before connecting, so only
//! sending is timed.
//!
//! `rs` (for `scripts/bench-rs.sh`, a route-server client) does both on one session: it sends
//! its own `--prefixes N` (numbered from `--first`, so clients do not overlap) and counts the
//! other prefixes it receives until `--expect M`, reporting whether any of its own came back.
//! `--bind` picks the local address (many clients on one interface); `--start-at` (Unix ms)
//! makes many clients start sending at the same moment once their sessions are up.
//!
//! ```text
//! bgp_feed rs --connect 10.5.0.1:179 --bind 10.5.0.11 --local-as 65011 --router-id 10.5.0.11 \
//!     --prefixes 2000 --first 2000 --expect 98000
//! bgp_feed feed --connect 10.1.0.1:179 --local-as 65001 --router-id 10.1.0.2 --prefixes 1000000
//! bgp_feed sink --connect 10.2.0.1:179 --local-as 65002 --router-id 10.2.0.2 --prefixes 1000000
//! ```
use std::collections::HashSet;
use std::io::{BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Command line.
#[derive(Debug, Parser)]
struct Args {
    /// `feed` or `sink`.
    mode: String,
    /// The receiver to connect to.
    #[arg(long)]
    connect: SocketAddr,
    /// Our AS.
    #[arg(long)]
    local_as: u32,
    /// Our BGP identifier, also the NEXT_HOP of fed routes.
    #[arg(long)]
    router_id: Ipv4Addr,
    /// Prefixes to send (feed) or to wait for (sink).
    #[arg(long, default_value_t = 1_000_000)]
    prefixes: usize,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Local address to connect from.
    #[arg(long)]
    bind: Option<std::net::IpAddr>,
    /// Index of the first prefix sent (prefix i is 1.0.0.0/24 + i).
    #[arg(long, default_value_t = 0)]
    first: usize,
    /// `rs`: distinct prefixes of others to wait for.
    #[arg(long, default_value_t = 0)]
    expect: usize,
    /// Start sending at this Unix time in ms (after the session is up).
    #[arg(long)]
    start_at: Option<u128>,
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![0xFF; 16];
    m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    m.push(kind);
    m.extend_from_slice(body);
    m
}

fn open(asn: u32, id: Ipv4Addr) -> Vec<u8> {
    let my_as = if asn > 65535 { 23456u16 } else { asn as u16 };
    // Capabilities: multiprotocol IPv4 unicast, 4-octet AS.
    let mut caps = vec![1, 4, 0, 1, 0, 1, 65, 4];
    caps.extend_from_slice(&asn.to_be_bytes());
    let mut b = vec![4];
    b.extend_from_slice(&my_as.to_be_bytes());
    b.extend_from_slice(&180u16.to_be_bytes());
    b.extend_from_slice(&id.octets());
    b.push((caps.len() + 2) as u8);
    b.push(2);
    b.push(caps.len() as u8);
    b.extend_from_slice(&caps);
    message(1, &b)
}

fn put_attr(out: &mut Vec<u8>, flags: u8, code: u8, value: &[u8]) {
    out.extend_from_slice(&[flags, code, value.len() as u8]);
    out.extend_from_slice(value);
}

fn attrs(rng: &mut StdRng, local_as: u32, nh: Ipv4Addr) -> Vec<u8> {
    let mut a = Vec::with_capacity(96);
    put_attr(&mut a, 0x40, 1, &[if rng.gen_bool(0.9) { 0 } else { 2 }]);
    let hops = [1, 2, 2, 3, 3, 3, 4, 4, 5, 6, 7, 10][rng.gen_range(0..12)];
    let mut path = vec![2u8, hops as u8];
    path.extend_from_slice(&local_as.to_be_bytes());
    let mut prev = local_as;
    for _ in 1..hops {
        let x = if rng.gen_bool(0.1) {
            prev
        } else if rng.gen_bool(0.25) {
            rng.gen_range(131_072..400_000)
        } else {
            rng.gen_range(1..64_000)
        };
        prev = x;
        path.extend_from_slice(&x.to_be_bytes());
    }
    put_attr(&mut a, 0x40, 2, &path);
    put_attr(&mut a, 0x40, 3, &nh.octets());
    if rng.gen_bool(0.3) {
        put_attr(&mut a, 0x80, 4, &rng.gen_range(0u32..1000).to_be_bytes());
    }
    if rng.gen_bool(0.6) {
        let mut c = Vec::new();
        for _ in 0..rng.gen_range(1..=6) {
            let x = (rng.gen_range(1u32..65_000) << 16) | rng.gen_range(0u32..65_536);
            c.extend_from_slice(&x.to_be_bytes());
        }
        put_attr(&mut a, 0xC0, 8, &c);
    }
    a
}

/// The whole table as one byte stream of UPDATEs, then End-of-RIB.
fn table(first: usize, n: usize, local_as: u32, nh: Ipv4Addr) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(1);
    let mut out = Vec::with_capacity(n * 5);
    let n = first + n;
    let mut i = first;
    while i < n {
        let a = attrs(&mut rng, local_as, nh);
        let u: f64 = rng.gen_range(0.0001..1.0);
        let set = ((1.0 / u.powf(1.0 / 1.2)) as usize)
            .clamp(1, 2000)
            .min(n - i);
        let room = 4096 - 19 - 4 - a.len();
        let mut nlri = Vec::with_capacity(room);
        let flush = |out: &mut Vec<u8>, nlri: &mut Vec<u8>| {
            let mut b = vec![0, 0];
            b.extend_from_slice(&(a.len() as u16).to_be_bytes());
            b.extend_from_slice(&a);
            b.extend_from_slice(nlri);
            out.extend_from_slice(&message(2, &b));
            nlri.clear();
        };
        for _ in 0..set {
            if nlri.len() + 4 > room {
                flush(&mut out, &mut nlri);
            }
            let p = (0x0100_0000u32 + ((i as u32) << 8)).to_be_bytes();
            nlri.extend_from_slice(&[24, p[0], p[1], p[2]]);
            i += 1;
        }
        flush(&mut out, &mut nlri);
    }
    out.extend_from_slice(&message(2, &[0, 0, 0, 0]));
    out
}

/// Read one message: (type, body).
fn read_msg(r: &mut impl Read) -> std::io::Result<(u8, Vec<u8>)> {
    let mut h = [0u8; 19];
    r.read_exact(&mut h)?;
    let len = usize::from(u16::from_be_bytes([h[16], h[17]]));
    let mut body = vec![0u8; len.saturating_sub(19)];
    r.read_exact(&mut body)?;
    Ok((h[18], body))
}

/// One TCP connection attempt, from `--bind` when given.
fn connect(a: &Args) -> std::io::Result<TcpStream> {
    let Some(bind) = a.bind else {
        return TcpStream::connect_timeout(&a.connect, Duration::from_secs(1));
    };
    let s = socket2::Socket::new(
        socket2::Domain::for_address(a.connect),
        socket2::Type::STREAM,
        None,
    )?;
    s.bind(&SocketAddr::new(bind, 0).into())?;
    s.connect_timeout(&a.connect.into(), Duration::from_secs(1))?;
    Ok(s.into())
}

/// Connect and exchange OPEN and KEEPALIVE, retrying the whole exchange until `deadline`
/// (a receiver that is still starting may reset a connection it has no neighbour for yet);
/// the stream once Established.
fn establish(a: &Args, deadline: Instant) -> std::io::Result<TcpStream> {
    loop {
        match handshake(a) {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// One connection and OPEN/KEEPALIVE exchange.
fn handshake(a: &Args) -> std::io::Result<TcpStream> {
    let s = connect(a)?;
    s.set_nodelay(true)?;
    let mut w = s.try_clone()?;
    w.write_all(&open(a.local_as, a.router_id))?;
    w.write_all(&message(4, &[]))?;
    let mut r = s.try_clone()?;
    let (mut got_open, mut got_ka) = (false, false);
    while !(got_open && got_ka) {
        let (t, body) = read_msg(&mut r)?;
        match t {
            1 => got_open = true,
            4 => got_ka = true,
            3 => {
                return Err(std::io::Error::other(format!(
                    "NOTIFICATION {:?}",
                    &body[..body.len().min(2)]
                )));
            }
            _ => {}
        }
    }
    Ok(s)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = Args::parse();
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    match a.mode.as_str() {
        "feed" => {
            let t = table(a.first, a.prefixes, a.local_as, a.router_id);
            let s = establish(&a, deadline)?;
            // Drain whatever the receiver sends so it never blocks on us.
            let mut r = s.try_clone()?;
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                while matches!(r.read(&mut buf), Ok(n) if n > 0) {}
            });
            let start = unix_ms();
            let mut w = s.try_clone()?;
            w.write_all(&t)?;
            let done = unix_ms();
            println!(
                "{{\"start_unix_ms\":{start},\"sent_unix_ms\":{done},\"prefixes\":{},\"bytes\":{}}}",
                a.prefixes,
                t.len()
            );
            std::io::stdout().flush()?;
            // Stay up (keepalives every 30 s) until killed or the deadline.
            while Instant::now() < deadline {
                std::thread::sleep(Duration::from_secs(30));
                w.write_all(&message(4, &[]))?;
            }
        }
        "sink" => {
            let s = establish(&a, deadline)?;
            s.set_read_timeout(Some(Duration::from_secs(a.timeout)))?;
            let mut w = s.try_clone()?;
            let mut r = BufReader::with_capacity(1 << 16, s);
            let mut seen: HashSet<u32> = HashSet::with_capacity(a.prefixes);
            let mut first = None;
            let mut last_ka = Instant::now();
            while seen.len() < a.prefixes {
                let (t, body) = read_msg(&mut r)?;
                if last_ka.elapsed() > Duration::from_secs(30) {
                    w.write_all(&message(4, &[]))?;
                    last_ka = Instant::now();
                }
                if t != 2 || body.len() < 4 {
                    continue;
                }
                let wl = usize::from(u16::from_be_bytes([body[0], body[1]]));
                let al_at = 2 + wl;
                let Some(al) = body.get(al_at..al_at + 2) else {
                    continue;
                };
                let al = usize::from(u16::from_be_bytes([al[0], al[1]]));
                let mut at = al_at + 2 + al;
                while at < body.len() {
                    let len = usize::from(body[at]);
                    let n = len.div_ceil(8);
                    let mut p = [0u8; 4];
                    for (k, b) in body
                        .get(at + 1..at + 1 + n)
                        .unwrap_or(&[])
                        .iter()
                        .enumerate()
                    {
                        if let Some(x) = p.get_mut(k) {
                            *x = *b;
                        }
                    }
                    if first.is_none() {
                        first = Some(unix_ms());
                    }
                    // The table holds /24s only: the address identifies the prefix.
                    seen.insert(u32::from_be_bytes(p));
                    at += 1 + n;
                }
            }
            println!(
                "{{\"first_unix_ms\":{},\"last_unix_ms\":{},\"prefixes\":{}}}",
                first.unwrap_or(0),
                unix_ms(),
                seen.len()
            );
        }
        "rs" => rs_client(&a, deadline)?,
        m => return Err(format!("mode {m:?}: feed, sink or rs").into()),
    }
    Ok(())
}

/// `rs` mode: send our table (from a thread, then keepalives), count what the others send.
fn rs_client(a: &Args, deadline: Instant) -> Result<(), Box<dyn std::error::Error>> {
    let t = table(a.first, a.prefixes, a.local_as, a.router_id);
    let s = establish(a, deadline)?;
    s.set_read_timeout(Some(Duration::from_secs(a.timeout)))?;
    let established = unix_ms();
    if let Some(at) = a.start_at {
        let now = unix_ms();
        if at > now {
            std::thread::sleep(Duration::from_millis((at - now) as u64));
        }
    }
    let start = unix_ms();
    let mut w = s.try_clone()?;
    std::thread::spawn(move || {
        if w.write_all(&t).is_err() {
            return;
        }
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_secs(30));
            if w.write_all(&message(4, &[])).is_err() {
                return;
            }
        }
    });
    let own = |p: u32| {
        let i = (p.wrapping_sub(0x0100_0000) >> 8) as usize;
        (a.first..a.first + a.prefixes).contains(&i)
    };
    let mut r = BufReader::with_capacity(1 << 16, s);
    let mut seen: HashSet<u32> = HashSet::with_capacity(a.expect);
    let mut own_seen = 0usize;
    while seen.len() < a.expect {
        let (t, body) = read_msg(&mut r)?;
        if t == 3 {
            return Err("NOTIFICATION received".into());
        }
        if t != 2 {
            continue;
        }
        for p in nlri_v4(&body) {
            if own(p) {
                own_seen += 1;
            } else {
                seen.insert(p);
            }
        }
    }
    println!(
        "{{\"established_unix_ms\":{established},\"start_unix_ms\":{start},\"last_unix_ms\":{},\"prefixes\":{},\"own_returned\":{own_seen}}}",
        unix_ms(),
        seen.len()
    );
    std::io::stdout().flush()?;
    // Stay up until killed, so our routes stay in the others' tables.
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1));
    }
    Ok(())
}

/// The announced IPv4 NLRI of an UPDATE body, each as its (left-aligned) address.
fn nlri_v4(body: &[u8]) -> Vec<u32> {
    let mut out = Vec::new();
    let Some(wl) = body.get(0..2) else {
        return out;
    };
    let al_at = 2 + usize::from(u16::from_be_bytes([wl[0], wl[1]]));
    let Some(al) = body.get(al_at..al_at + 2) else {
        return out;
    };
    let mut at = al_at + 2 + usize::from(u16::from_be_bytes([al[0], al[1]]));
    while at < body.len() {
        let n = usize::from(body[at]).div_ceil(8);
        let mut p = [0u8; 4];
        for (k, b) in body
            .get(at + 1..at + 1 + n)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            if let Some(x) = p.get_mut(k) {
                *x = *b;
            }
        }
        out.push(u32::from_be_bytes(p));
        at += 1 + n;
    }
    out
}
