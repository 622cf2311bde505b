//! Print an MRT file (plain, gzip or bzip2) as JSON lines, one record a line, or with `-m`
//! one route a line in the format of `bgpdump -m`.
//!
//! `cargo run -p bgp-mrt --features serde --example mrtdump -- [-m] FILE`
//!
//! Malformed records are reported on stderr with their offset and skipped.

use std::io::Write;

use bgp_mrt::MrtReader;
use bgp_mrt::text::BgpdumpFormat;
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// One line per route, as `bgpdump -m`.
    #[arg(short = 'm')]
    bgpdump: bool,
    /// The MRT file.
    file: std::path::PathBuf,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let reader = MrtReader::open(&args.file)?;
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let mut fmt = BgpdumpFormat::new();
    let mut errors = 0u64;
    for r in reader {
        match r {
            Ok(rec) => {
                if args.bgpdump {
                    for l in fmt.lines(&rec) {
                        writeln!(out, "{l}")?;
                    }
                } else {
                    writeln!(out, "{}", serde_json::to_string(&rec)?)?;
                }
            }
            Err(e) => {
                errors += 1;
                eprintln!("{e}");
            }
        }
    }
    out.flush()?;
    if errors > 0 {
        eprintln!("{errors} records skipped");
    }
    Ok(())
}
