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

/// jemalloc: the router allocates and frees many small objects per batch (UPDATE vectors,
/// NLRI lists, attribute sets); in `scripts/bench-router.sh` (1M prefixes, A/B in one series)
/// it took the time to the sink from 1.33-1.70x BIRD's with glibc malloc to 1.12-1.15x. The
/// library crates leave the allocator to the program.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before `main` (`_RJEM_MALLOC_CONF` in the environment still
/// overrides them): one arena. The update groups pack on a blocking thread, and with an arena
/// per thread the tables that grow there and the memory freed across threads stayed
/// fragmented: 173-196 B of RSS per route against 157-162 B with one arena, which was also no
/// slower (1M prefixes, interleaved runs, ratio to BIRD 0.78-0.81 against 0.95-1.03).
#[allow(unsafe_code, non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: Option<&'static std::ffi::c_char> =
    // SAFETY: a pointer to the first byte of a NUL-terminated static string, as jemalloc's
    // `const char *malloc_conf` expects; it is only read.
    Some(unsafe { &*c"narenas:1".as_ptr() });

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
    // The router task runs on a worker, beside the drivers: a driver that wakes it hands it
    // the thread (tokio's LIFO slot) instead of waking a separate blocked thread. Measured
    // with scripts/bench-router.sh (1M prefixes, three A/B runs): 1.43-1.58x BIRD's time with
    // the router in `block_on` on the main thread, 1.19-1.32x spawned; the process went from
    // ~3.4 s of CPU (a third of it parking and waking) to ~2 s.
    rt.block_on(async { tokio::spawn(kube_bgp::router::cli::main(true)).await })??;
    Ok(())
}
