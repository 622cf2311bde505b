//! A BGP collector: the receive-only mode of the router ([`kube_bgp::router`]). It peers with
//! routers, runs the decision process with ECMP, prints Loc-RIB changes as JSON lines, and with
//! `--fib` installs the multipath routes in the kernel. It sends no routes.
//!
//! ```text
//! collector --local-as 64512 --router-id 192.168.1.1 --listen 0.0.0.0:179 \
//!     --peer 192.168.1.10 --peer 192.168.1.21 --peer-as 64512 --maximum-paths 8 --fib
//! ```
//!
//! The flags and the output lines are those of `examples/router.rs`; see
//! [`kube_bgp::router::cli::RouterArgs`] and [`kube_bgp::router::output`].

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    kube_bgp::router::cli::main(false).await?;
    Ok(())
}
