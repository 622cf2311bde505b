//! A BGP router: peers with N neighbours (eBGP and iBGP, IPv4 and IPv6, passive or active),
//! runs the decision process with ECMP and sends every neighbour the best routes learnt from
//! the others (RFC 4271, RFC 4456 with `--route-reflector --rr-client ADDR`), optionally
//! installing them in the kernel (`--fib`).
//!
//! ```text
//! router --local-as 64512 --router-id 10.0.0.1 --listen 0.0.0.0:179 --passive \
//!     --peer 10.0.0.2 --peer 10.0.0.3 --peer-as 65001 --peer-as 65002 \
//!     --import-policy accept --export-policy accept --output none --stats
//! ```
//!
//! eBGP neighbours exchange routes only with an explicit policy (RFC 8212, as FRR's
//! `bgp ebgp-requires-policy`); `--no-ebgp-requires-policy` turns that off.
//!
//! Output lines: [`kube_bgp::router::output`].

//!
//! `ROUTER_WORKER_THREADS=N` sets the number of tokio worker threads (default: one per core);
//! `0` runs everything on one thread (no cross-thread wake-ups between the drivers and the
//! router task), for measuring which suits a machine.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let threads: Option<usize> = std::env::var("ROUTER_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse().ok());
    let rt = match threads {
        Some(0) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build()?,
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?,
    };
    rt.block_on(kube_bgp::router::cli::main(true))?;
    Ok(())
}
