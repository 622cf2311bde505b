//! Decode BGP messages and print each as one JSON object per line.
//!
//! Input is either hex on stdin (one message per line, header included; blank lines and
//! lines starting with `#` are skipped), or a file of raw BGP messages back to back (a TCP
//! stream's payload) given as an argument. The session context is given with flags:
//!
//! ```text
//! cargo run -p bgp-wire --features serde --example decode -- --asn4 --add-path ipv4/unicast \
//!     --reencode < bgp-wire/testdata/bird/bird-to-frr1-update-01.hex
//! ```
//!
//! Each output line is `{"index", "length", "message", "verdict"}` (or `{"index", "error",
//! "notification"}` when the message is unusable); `--reencode` adds `"reencoded"`, the hex
//! of the message encoded again from the typed form, and `"identical"`.

use std::io::{BufRead, Read, Write};

use bgp_wire::{Afi, AfiSafi, Safi, SessionContext};
use bytes::{Bytes, BytesMut};
use clap::Parser;

/// Command line of the decode example.
#[derive(Debug, Parser)]
#[command(about = "Decode BGP messages (hex lines on stdin, or a raw byte stream file) to JSON")]
pub(crate) struct Args {
    /// The session negotiated 4-octet AS numbers (RFC 6793).
    #[arg(long)]
    pub(crate) asn4: bool,
    /// NLRI of this family carry ADD-PATH path identifiers (RFC 7911), e.g. `ipv4/unicast`,
    /// `ipv6/unicast` or `AFI/SAFI` in numbers. Repeatable.
    #[arg(long = "add-path", value_name = "AFI/SAFI", value_parser = parse_family)]
    pub(crate) add_path: Vec<AfiSafi>,
    /// The session negotiated Extended Messages (RFC 8654): up to 65535 octets.
    #[arg(long)]
    pub(crate) extended_message: bool,
    /// IPv6 next hops are allowed for NLRI of this family (RFC 8950), e.g. `ipv4/unicast`.
    /// Repeatable.
    #[arg(long = "extended-nexthop", value_name = "AFI/SAFI", value_parser = parse_family)]
    pub(crate) extended_nexthop: Vec<AfiSafi>,
    /// Also print the message re-encoded from the decoded form, as hex.
    #[arg(long)]
    pub(crate) reencode: bool,
    /// A file holding raw BGP messages back to back; without it, hex lines are read from stdin.
    pub(crate) file: Option<std::path::PathBuf>,
}

/// Parses `ipv4/unicast`, `ipv6/multicast`, `1/1`, `25/70` ...
pub(crate) fn parse_family(s: &str) -> Result<AfiSafi, String> {
    let (a, b) = s
        .split_once('/')
        .ok_or_else(|| format!("expected AFI/SAFI, got {s:?}"))?;
    let afi = match a.to_ascii_lowercase().as_str() {
        "ipv4" => Afi::Ipv4,
        "ipv6" => Afi::Ipv6,
        n => Afi::from_code(n.parse().map_err(|_| format!("unknown AFI {a:?}"))?),
    };
    let safi = match b.to_ascii_lowercase().as_str() {
        "unicast" => Safi::Unicast,
        "multicast" => Safi::Multicast,
        n => Safi::from_code(n.parse().map_err(|_| format!("unknown SAFI {b:?}"))?),
    };
    Ok(AfiSafi::new(afi, safi))
}

impl Args {
    /// The session context these flags describe (the same ADD-PATH families both ways).
    pub(crate) fn context(&self) -> SessionContext {
        SessionContext {
            four_octet_as: self.asn4,
            add_path_receive: self.add_path.clone(),
            add_path_send: self.add_path.clone(),
            extended_message: self.extended_message,
            extended_next_hop: self.extended_nexthop.clone(),
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    let s: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", s.len()));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| format!("bad hex: {e}")))
        .collect()
}

/// Decodes one message and returns its JSON line.
pub(crate) fn decode_one(
    index: usize,
    raw: Bytes,
    ctx: &SessionContext,
    reencode: bool,
) -> serde_json::Value {
    let length = raw.len();
    match bgp_wire::decode_message(raw.clone(), ctx) {
        Ok(d) => {
            let mut v = serde_json::json!({
                "index": index,
                "length": length,
                "message": d.message,
                "verdict": d.verdict,
            });
            if reencode {
                let mut buf = BytesMut::new();
                match bgp_wire::encode_message(&d.message, ctx, &mut buf) {
                    Ok(()) => {
                        v["reencoded"] = hex(&buf).into();
                        v["identical"] = (buf[..] == raw[..]).into();
                    }
                    Err(e) => v["reencode_error"] = e.to_string().into(),
                }
            }
            v
        }
        Err(e) => serde_json::json!({
            "index": index,
            "length": length,
            "error": e.to_string(),
            "notification": e.notification(),
        }),
    }
}

/// Splits a raw stream into messages by their header's length field.
pub(crate) fn split_stream(data: &[u8]) -> Result<Vec<Bytes>, String> {
    let data = Bytes::copy_from_slice(data);
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        if data.len() - at < bgp_wire::HEADER_LEN {
            return Err(format!("{} trailing bytes at offset {at}", data.len() - at));
        }
        let len = usize::from(u16::from_be_bytes([data[at + 16], data[at + 17]]));
        if len < bgp_wire::HEADER_LEN || at + len > data.len() {
            return Err(format!(
                "bad or truncated message of length {len} at offset {at}"
            ));
        }
        out.push(data.slice(at..at + len));
        at += len;
    }
    Ok(out)
}

/// Runs the tool: reads `input` (hex lines, unless `args.file` is set), writes JSON lines.
pub(crate) fn run(args: &Args, input: impl Read, mut out: impl Write) -> Result<usize, String> {
    let ctx = args.context();
    let messages: Vec<Bytes> = match &args.file {
        Some(path) => {
            let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            split_stream(&data)?
        }
        None => {
            let mut v = Vec::new();
            for (n, line) in std::io::BufReader::new(input).lines().enumerate() {
                let line = line.map_err(|e| e.to_string())?;
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                v.push(Bytes::from(
                    unhex(line).map_err(|e| format!("line {}: {e}", n + 1))?,
                ));
            }
            v
        }
    };
    for (i, m) in messages.iter().enumerate() {
        let v = decode_one(i, m.clone(), &ctx, args.reencode);
        writeln!(out, "{v}").map_err(|e| e.to_string())?;
    }
    Ok(messages.len())
}

#[allow(dead_code)]
fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args, std::io::stdin().lock(), std::io::stdout().lock()) {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("decode: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
