//! Test support (not published): Linux network namespaces, veth links, bridges and real BGP
//! daemons (FRR, GoBGP, BIRD, ExaBGP) plus packet capture, all started as children of the test
//! and torn down by PID when their handle is dropped — also when the test panics.
//!
//! Every helper needs root and the daemon binaries; tests call [`require_root_and`] first. On a
//! developer machine without them the test returns early (printing a `SKIP` line); under
//! `CI=true` ([`under_ci`]) a missing prerequisite fails the test instead, so a broken install
//! step cannot pass unseen. Each test that really ran is appended to `$TESTLAB_RAN_LOG`.
//!
//! Names are unique per run: a prefix, the test process id and a counter (at most 15
//! characters), so concurrent tests never collide.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use testlab::{link, require_root_and, Netns};
//!
//! # fn main() -> testlab::Result<()> {
//! if !require_root_and(&["ip", "ping"]) {
//!     return Ok(());
//! }
//! let a = Netns::new("a")?;
//! let b = Netns::new("b")?;
//! let _veth = link(&a, "10.0.0.1/24", &b, "10.0.0.2/24")?;
//! assert!(a.ping("10.0.0.2", Duration::from_secs(2)));
//! // Dropping `a`, `b` and the veth deletes both namespaces and kills their processes.
//! # Ok(())
//! # }
//! ```
//!
//! An interop test of a speaker against FRR (the pattern the project's scenario tests use):
//!
//! ```no_run
//! use std::time::Duration;
//! use testlab::{link, require_root_and, Frr, Netns};
//!
//! # fn main() -> testlab::Result<()> {
//! if !require_root_and(&["/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh"]) {
//!     return Ok(());
//! }
//! let router = Netns::new("rt")?;
//! let node = Netns::new("nd")?;
//! let _l = link(&router, "10.0.0.1/24", &node, "10.0.0.2/24")?;
//! router.enable_forwarding()?;
//! // Quick timers, connect retry 1 s, no eBGP policy needed.
//! let frr = Frr::start(&router, &Frr::config(64512, "10.0.0.1", &[("10.0.0.2", 64512)]))?;
//! let log = std::env::temp_dir().join("speaker.log");
//! let pid = node.spawn_args(&["/path/to/speaker", "--peer", "10.0.0.1"], Some(&log))?;
//! frr.wait_established("10.0.0.2", Duration::from_secs(30))?;
//! let hops = frr.wait_kernel_nexthops("172.16.10.0/32", 1, Duration::from_secs(30))?;
//! assert_eq!(hops[0].gateway, Some("10.0.0.2".parse().unwrap()));
//! node.signal(pid, "TERM")?; // graceful stop, then:
//! frr.wait_kernel_nexthops("172.16.10.0/32", 0, Duration::from_secs(5))?;
//! # Ok(())
//! # }
//! ```
//!
//! Set `TESTLAB_KEEP=1` to keep the temporary directories (daemon configs and logs) after a
//! run; their paths are printed.
//!
//! A compiled check that the basic helpers behave without root:
//!
//! ```
//! use std::time::Duration;
//! let name = testlab::unique_name("node");
//! assert!(name.len() <= 15 && name.starts_with("node"));
//! assert!(testlab::wait_until(Duration::from_millis(100), || true));
//! ```

mod bird;
mod capture;
pub mod dfz;
mod error;
mod exabgp;
mod frr;
mod gobgp;
mod netns;
mod proc;
mod util;

pub use bird::Bird;
pub use capture::Capture;
pub use error::{Error, Result};
pub use exabgp::Exabgp;
pub use frr::Frr;
pub use gobgp::Gobgp;
pub use netns::{
    Bridge, KernelRoute, Netns, NextHop, Veth, enter_netns, link, remove_stale_namespaces,
    spawn_in_netns,
};
pub use util::{
    TempDir, forward, is_root, recv_until, require_root_and, require_tool, under_ci, unique_name,
    wait_until, which,
};
