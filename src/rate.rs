//! Token buckets for the rate limits: `max_connections_per_second` (in the
//! acceptor) and `client_commands_per_second` (per connection).

/// Holds up to one second's worth of tokens, refills continuously, and
/// each admitted event takes one. A rate of 0 admits everything.
#[derive(Debug, Clone)]
pub struct RateLimit {
    per_second: f64,
    tokens: f64,
    /// Clock reading (ms) of the last refill.
    refilled: u64,
}

impl RateLimit {
    pub fn new(per_second: u32, now_ms: u64) -> Self {
        let per_second = f64::from(per_second);
        Self { per_second, tokens: per_second, refilled: now_ms }
    }

    /// Whether an event at `now_ms` is within the rate (and if so, count it).
    pub fn admit(&mut self, now_ms: u64) -> bool {
        if self.per_second == 0.0 {
            return true;
        }
        let elapsed = now_ms.saturating_sub(self.refilled) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.per_second);
        self.refilled = self.refilled.max(now_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimit;

    #[test]
    fn rate_limit_is_a_token_bucket() {
        let mut unlimited = RateLimit::new(0, 0);
        assert!((0..10_000).all(|_| unlimited.admit(0)));
        let mut rate = RateLimit::new(5, 1_000);
        assert_eq!((0..20).filter(|_| rate.admit(1_000)).count(), 5, "one second's burst");
        assert!(!rate.admit(1_100), "half a token");
        assert!(rate.admit(1_200), "a whole token");
        assert_eq!((0..20).filter(|_| rate.admit(11_000)).count(), 5, "capped at the burst");
    }
}
