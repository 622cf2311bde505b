//! Timers on caller-provided time, and the deterministic jitter source.

use std::time::Duration;

/// A one-shot timer: either stopped or armed with an absolute deadline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Timer {
    deadline: Option<Duration>,
}

impl Timer {
    pub(crate) fn start(&mut self, now: Duration, after: Duration) {
        self.deadline = Some(now.saturating_add(after));
    }
    pub(crate) fn stop(&mut self) {
        self.deadline = None;
    }
    pub(crate) fn running(&self) -> bool {
        self.deadline.is_some()
    }
    pub(crate) fn deadline(&self) -> Option<Duration> {
        self.deadline
    }
    pub(crate) fn expired(&self, now: Duration) -> bool {
        matches!(self.deadline, Some(d) if d <= now)
    }
}

/// SplitMix64: a tiny deterministic generator for timer jitter.
#[derive(Debug, Clone)]
pub(crate) struct Jitter {
    state: u64,
}

impl Jitter {
    pub(crate) fn new(seed: u64) -> Self {
        Jitter { state: seed }
    }
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// `d` multiplied by a factor uniformly drawn in [0.75, 1.0] (RFC 4271 §10).
    pub(crate) fn apply(&mut self, d: Duration) -> Duration {
        // factor = 0.75 + 0.25 * r, r in [0, 1], with 1/1024 resolution.
        let r = (self.next_u64() % 1025) as u32;
        let millis = d.as_millis().min(u128::from(u64::MAX)) as u64;
        let scaled = millis / 4 * 3 + (millis / 4).saturating_mul(u64::from(r)) / 1024;
        Duration::from_millis(scaled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_three_quarters_and_one() {
        let mut j = Jitter::new(7);
        let d = Duration::from_secs(120);
        let mut min = d;
        let mut max = Duration::ZERO;
        for _ in 0..10_000 {
            let v = j.apply(d);
            assert!(v >= Duration::from_secs(90) && v <= d, "{v:?}");
            min = min.min(v);
            max = max.max(v);
        }
        // It really varies over the whole range.
        assert!(min < Duration::from_secs(91) && max > Duration::from_secs(119));
    }

    #[test]
    fn jitter_is_deterministic_per_seed() {
        let d = Duration::from_secs(30);
        let a: Vec<_> = (0..5)
            .map({
                let mut j = Jitter::new(1);
                move |_| j.apply(d)
            })
            .collect();
        let b: Vec<_> = (0..5)
            .map({
                let mut j = Jitter::new(1);
                move |_| j.apply(d)
            })
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn timer_expiry() {
        let mut t = Timer::default();
        assert!(!t.running());
        t.start(Duration::from_secs(1), Duration::from_secs(2));
        assert!(!t.expired(Duration::from_millis(2999)));
        assert!(t.expired(Duration::from_secs(3)));
        t.stop();
        assert!(!t.expired(Duration::from_secs(10)));
    }
}
