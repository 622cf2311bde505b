//! Shared helpers of the interop tests: run our driver inside a test namespace.
#![allow(dead_code)]

use std::time::Duration;

use bgp_fsm::driver::PeerEvent;
use tokio::sync::mpsc;

/// Run `f` on a new thread that has joined network namespace `ns` (only that thread: setns is
/// per thread), with a current-thread tokio runtime, and wait for its result. Sockets it
/// opens live in `ns`.
pub(crate) fn in_netns<F, Fut, R>(ns: &testlab::Netns, f: F) -> R
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = R>,
    R: Send + 'static,
{
    match testlab::spawn_in_netns(ns, f).join() {
        Ok(r) => r,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// The next event that matches, or panic after `timeout`.
pub(crate) async fn wait_event(
    rx: &mut mpsc::Receiver<PeerEvent>,
    timeout: Duration,
    what: &str,
    f: impl Fn(&PeerEvent) -> bool,
) -> PeerEvent {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ev)) if f(&ev) => return ev,
            Ok(Some(ev)) => eprintln!("  (event: {ev:?})"),
            Ok(None) => panic!("event channel closed while waiting for {what}"),
            Err(_) => panic!("timed out after {timeout:?} waiting for {what}"),
        }
    }
}

/// Poll a blocking condition from async code.
pub(crate) async fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
