//! Packet capture in a namespace (tcpdump to a pcap), analysed with tshark.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::proc::{GRACE, ProcSet};
use crate::util::{TempDir, run, tail, wait_until};
use crate::{Error, Netns, Result};

/// A running (or stopped) capture of TCP traffic on one interface of a namespace.
///
/// ```no_run
/// # fn main() -> testlab::Result<()> {
/// let ns = testlab::Netns::new("c")?;
/// let mut cap = testlab::Capture::start(&ns, "veth0", None)?;
/// // ... exchange BGP ...
/// cap.stop()?;
/// assert_eq!(cap.malformed_count()?, 0);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Capture {
    procs: ProcSet,
    pid: u32,
    port: Option<u16>,
    dir: TempDir,
}

impl Capture {
    /// Starts `tcpdump -U -w FILE tcp` on `iface` in `ns` and waits until it listens.
    /// `bgp_port`: a TCP port other than 179 to decode as BGP in the analysis.
    pub fn start(ns: &Netns, iface: &str, bgp_port: Option<u16>) -> Result<Self> {
        Self::start_filtered(ns, iface, bgp_port, "tcp")
    }

    /// Like [`start`](Self::start) with a tcpdump filter expression of the caller's choice,
    /// e.g. `udp port 3784` for BFD.
    pub fn start_filtered(
        ns: &Netns,
        iface: &str,
        bgp_port: Option<u16>,
        filter: &str,
    ) -> Result<Self> {
        let dir = TempDir::new("cap")?;
        let pcap = dir.path().join("capture.pcap");
        let log = dir.path().join("tcpdump.log");
        let f = std::fs::File::create(&log)?;
        let mut cmd = ns.command("tcpdump");
        cmd.args([
            "-n",
            "-U",
            "--immediate-mode",
            "-Z",
            "root",
            "-s",
            "0",
            "-i",
            iface,
            "-w",
        ])
        .arg(&pcap)
        .args(filter.split_whitespace())
        .stdin(std::process::Stdio::null())
        .stdout(f.try_clone()?)
        .stderr(f);
        let procs = ProcSet::default();
        let pid = procs.spawn(cmd)?;
        if !wait_until(Duration::from_secs(10), || {
            std::fs::read_to_string(&log).is_ok_and(|s| s.contains("listening on"))
                || !procs.is_running(pid)
        }) || !procs.is_running(pid)
        {
            return Err(Error::msg(format!(
                "tcpdump did not start on {iface} in {}: {}",
                ns.name(),
                tail(&log, 10)
            )));
        }
        Ok(Capture {
            procs,
            pid,
            port: bgp_port,
            dir,
        })
    }

    /// PID of tcpdump.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The pcap file.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("capture.pcap")
    }

    /// The temporary directory holding the pcap.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the capture (SIGTERM: tcpdump flushes and closes the file).
    pub fn stop(&mut self) -> Result<()> {
        // Let the last packets in flight reach the file.
        std::thread::sleep(Duration::from_millis(100));
        self.procs.stop_all(GRACE);
        Ok(())
    }

    /// Runs `tshark -r PCAP [-d tcp.port==N,bgp] ARGS...` and returns its stdout.
    pub fn tshark(&self, args: &[&str]) -> Result<String> {
        let mut c = Command::new("tshark");
        c.arg("-r").arg(self.path());
        if let Some(p) = self.port {
            c.arg("-d").arg(format!("tcp.port=={p},bgp"));
        }
        run(c.args(args))
    }

    /// The values of `fields` (tshark field names) in every packet matching the display
    /// filter `filter`: one row per packet, one column per field (a field repeated within a
    /// packet stays comma-separated, as tshark prints it). Packets with no value are skipped.
    pub fn fields(&self, filter: &str, fields: &[&str]) -> Result<Vec<Vec<String>>> {
        let mut args = vec!["-Y", filter, "-T", "fields"];
        for f in fields {
            args.push("-e");
            args.push(f);
        }
        let out = self.tshark(&args)?;
        Ok(out
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect())
    }

    /// Number of packets tshark marks malformed or with an expert error
    /// (`_ws.malformed || _ws.expert.severity >= error`).
    pub fn malformed_count(&self) -> Result<usize> {
        let out = self.tshark(&["-Y", "_ws.malformed || _ws.expert.severity >= error"])?;
        Ok(out.lines().filter(|l| !l.trim().is_empty()).count())
    }

    /// The BMP message types (`bmp.type`) tshark decodes in the capture, reading TCP port
    /// `port` as BMP; each type once, sorted.
    pub fn bmp_types(&self, port: u16) -> Result<Vec<u8>> {
        let decode = format!("tcp.port=={port},bmp");
        let out = self.tshark(&["-d", &decode, "-Y", "bmp", "-T", "fields", "-e", "bmp.type"])?;
        let mut v: Vec<u8> = out
            .split(['\n', ','])
            .filter_map(|t| t.trim().parse().ok())
            .collect();
        v.sort_unstable();
        v.dedup();
        Ok(v)
    }

    /// The packets tshark marks malformed or with an expert error when it reads TCP port
    /// `port` as BMP, one summary line each, leaving out those matching the display filter
    /// `except` (for a known dissector limitation).
    pub fn bmp_malformed(&self, port: u16, except: Option<&str>) -> Result<Vec<String>> {
        let decode = format!("tcp.port=={port},bmp");
        let mut filter = "(_ws.malformed || _ws.expert.severity >= error)".to_string();
        if let Some(e) = except {
            filter = format!("{filter} && !({e})");
        }
        let out = self.tshark(&["-d", &decode, "-Y", &filter])?;
        Ok(out
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect())
    }

    /// Number of BGP messages of a type (1 OPEN, 2 UPDATE, 3 NOTIFICATION, 4 KEEPALIVE) seen.
    pub fn bgp_message_count(&self, msg_type: u8) -> Result<usize> {
        let out = self.tshark(&[
            "-Y",
            &format!("bgp.type == {msg_type}"),
            "-T",
            "fields",
            "-e",
            "bgp.type",
        ])?;
        Ok(out
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| t.trim() == msg_type.to_string())
            .count())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.procs.stop_all(GRACE);
    }
}
