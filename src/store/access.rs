//! What OBJECT IDLETIME and OBJECT FREQ report: when a key was last
//! accessed and how often, in 32 bits of its index slot (see `table.rs`).
//!
//! ```text
//! counter (8 bits) | last access (24 bits, unix seconds mod 2^24)
//! ```
//!
//! Redis keeps one or the other in its 24-bit `lru` field, depending on the
//! eviction policy, and errors for the one it does not keep. Redistill's
//! default policy (S3-FIFO, reported as `allkeys-lfu`) is not Redis's
//! default (`noeviction`, where IDLETIME works), so it keeps both, under
//! every policy, and OBJECT IDLETIME and FREQ always answer. The clock
//! sweep does not read them: it has its own 2-bit counter.
//!
//! The counter is Redis's LFU counter with its default settings
//! (`lfu-log-factor` 10, `lfu-decay-time` 1): it starts at 5, grows
//! logarithmically (an access adds one with probability
//! 1 / ((counter - 5) * 10 + 1)) and loses one for every minute the key
//! is idle. The clock wraps after 194 days, as Redis's LRU clock does.
//!
//! An access writes the slot only when the word changes: once a second
//! for a key read all the time, plus the rare counter step.

use std::cell::Cell;

/// A new key's counter (Redis's `LFU_INIT_VAL`).
pub const COUNTER_INIT: u8 = 5;
/// Redis's default `lfu-log-factor`.
const LOG_FACTOR: u64 = 10;
/// Seconds of idleness that take one from the counter (Redis's default
/// `lfu-decay-time`, one minute).
const DECAY_SECS: u64 = 60;

const CLOCK_BITS: u32 = 24;
const CLOCK_MASK: u32 = (1 << CLOCK_BITS) - 1;
/// The longest idle time the clock can tell.
pub const MAX_IDLE_SECS: u64 = CLOCK_MASK as u64;

/// The access word of a key.
pub type Access = u32;

fn clock(now_ms: u64) -> u32 {
    ((now_ms / 1000) as u32) & CLOCK_MASK
}

fn word(stamp: u32, counter: u8) -> Access {
    (u32::from(counter) << CLOCK_BITS) | (stamp & CLOCK_MASK)
}

/// A key created at `now`.
pub fn created(now_ms: u64) -> Access {
    word(clock(now_ms), COUNTER_INIT)
}

/// Seconds since the last access (OBJECT IDLETIME).
pub fn idle_secs(access: Access, now_ms: u64) -> u64 {
    u64::from(clock(now_ms).wrapping_sub(access) & CLOCK_MASK)
}

/// The counter, less what idleness has taken from it (OBJECT FREQ).
pub fn counter(access: Access, now_ms: u64) -> u8 {
    let stored = (access >> CLOCK_BITS) as u8;
    let periods = idle_secs(access, now_ms) / DECAY_SECS;
    stored.saturating_sub(u8::try_from(periods).unwrap_or(u8::MAX))
}

/// The word after an access at `now`.
pub fn accessed(access: Access, now_ms: u64) -> Access {
    let mut counter = counter(access, now_ms);
    if counter < u8::MAX {
        // Probability 1 / (base * factor + 1), as a multiply rather than
        // a division: r (32 bits) * (base * factor + 1) < 2^32.
        let base = u64::from(counter.saturating_sub(COUNTER_INIT));
        if base == 0 || (random() >> 32) * (base * LOG_FACTOR + 1) < 1 << 32 {
            counter += 1;
        }
    }
    word(clock(now_ms), counter)
}

/// The word RESTORE's IDLETIME and FREQ ask for: last accessed `idle`
/// seconds ago (at most [`MAX_IDLE_SECS`]), with counter `freq`; each
/// left as a new key's when not given.
pub fn restored(now_ms: u64, idle: Option<u64>, freq: Option<u8>) -> Access {
    let stamp = clock(now_ms).wrapping_sub(idle.map_or(0, |secs| secs.min(MAX_IDLE_SECS) as u32));
    word(stamp, freq.unwrap_or(COUNTER_INIT))
}

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0x853c_49e6_748f_ea9b) };
}

/// A cheap per-thread xorshift: the counter's coin needs no quality.
fn random() -> u64 {
    RNG.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn idle_time_counts_seconds_and_wraps_like_redis() {
        let access = created(NOW);
        assert_eq!(idle_secs(access, NOW + 999), 0);
        assert_eq!(idle_secs(access, NOW + 61_000), 61);
        assert_eq!(idle_secs(restored(NOW, Some(1000), None), NOW), 1000);
        assert_eq!(idle_secs(restored(NOW, Some(u64::MAX), None), NOW), MAX_IDLE_SECS);
    }

    #[test]
    fn the_counter_grows_logarithmically_and_decays_per_idle_minute() {
        let mut access = created(NOW);
        assert_eq!(counter(access, NOW), COUNTER_INIT);
        access = accessed(access, NOW);
        assert_eq!(counter(access, NOW), COUNTER_INIT + 1, "the first step is certain");
        for _ in 0..100_000 {
            access = accessed(access, NOW);
        }
        // Redis's table for lfu-log-factor 10 (redis.conf) says 142.
        let hot = counter(access, NOW);
        assert!((125..160).contains(&hot), "100k accesses gave {hot}");
        assert_eq!(counter(access, NOW + 3 * 60_000), hot - 3);
        assert_eq!(counter(restored(NOW, None, Some(255)), NOW), 255);
        assert_eq!(counter(restored(NOW, Some(600), Some(7)), NOW), 0, "ten idle minutes");
    }
}
