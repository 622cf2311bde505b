//! FRR's bfdd beside an [`Frr`] instance's zebra and bgpd (same pathspace), for BFD interop
//! tests and for bgpd's `neighbor X bfd`.

use std::time::Duration;

use serde_json::Value;

use super::Frr;
use crate::util::{tail, wait_until};
use crate::{Error, Result};

const BFDD: &str = "/usr/lib/frr/bfdd";

impl Frr {
    /// A `bfdd.conf` with one single-hop peer per address, each with these intervals (ms) and
    /// multiplier (`receive-interval`, `transmit-interval`, `detect-multiplier`).
    pub fn bfdd_config(peers: &[&str], rx_ms: u32, tx_ms: u32, mult: u8) -> String {
        let mut s = String::from("hostname bfdd\n!\nbfd\n");
        for p in peers {
            s.push_str(&format!(
                " peer {p}\n  receive-interval {rx_ms}\n  transmit-interval {tx_ms}\n  \
                 detect-multiplier {mult}\n  no shutdown\n !\n"
            ));
        }
        s
    }

    /// Starts bfdd with this config text (zebra is already running) and waits until it
    /// answers `show bfd peers json` (up to 10 s). Returns its PID (e.g. for
    /// [`signal_daemon`](Self::signal_daemon)); it is stopped with the other daemons.
    pub fn start_bfdd(&mut self, bfdd_conf: &str) -> Result<u32> {
        std::fs::write(self.dir.path().join("bfdd.conf"), bfdd_conf)?;
        self.dir.chown("frr:frr")?;
        let pid = self.spawn_daemon(BFDD, "bfdd", &[])?;
        let ok = wait_until(Duration::from_secs(10), || {
            self.procs.is_running(pid)
                && self
                    .vtysh("show bfd peers json")
                    .is_ok_and(|s| serde_json::from_str::<Value>(&s).is_ok())
        });
        if !ok {
            return Err(Error::msg(format!(
                "bfdd did not come up in {}: {}",
                self.ns.name(),
                tail(&self.log_path("bfdd"), 20)
            )));
        }
        Ok(pid)
    }

    /// Sends a signal by name (`STOP`, `CONT`, ...) to one of this instance's daemons by PID.
    pub fn signal_daemon(&self, pid: u32, sig: &str) -> Result<()> {
        self.procs.signal(pid, sig)
    }

    /// `show bfd peers json`.
    pub fn bfd_peers(&self) -> Result<Value> {
        self.vtysh_json("show bfd peers json")
    }

    /// The `show bfd peers json` entry of one peer address, if bfdd has it.
    pub fn bfd_peer(&self, addr: &str) -> Option<Value> {
        let peers = self.bfd_peers().ok()?;
        peers
            .as_array()?
            .iter()
            .find(|p| p["peer"].as_str() == Some(addr))
            .cloned()
    }

    /// The `status` of a BFD peer (`up`, `down`, `init`, `shutdown`), if bfdd has it.
    pub fn bfd_status(&self, addr: &str) -> Option<String> {
        self.bfd_peer(addr)?["status"].as_str().map(str::to_owned)
    }
}
