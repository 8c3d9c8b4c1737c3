//! The clock that expiry runs on.
//!
//! Expiry times are unix milliseconds (so EXPIREAT and PXAT mean what they
//! say), but they are measured against a monotonic clock anchored to the wall
//! clock once at start-up: if an operator or NTP steps the system time back,
//! keys do not come back to life, and stepping it forward does not expire
//! the whole cache at once.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

struct Anchor {
    monotonic_ns: u64,
    unix_us: u64,
}

fn anchor() -> &'static Anchor {
    static ANCHOR: OnceLock<Anchor> = OnceLock::new();
    ANCHOR.get_or_init(|| Anchor {
        monotonic_ns: monotonic_ns(),
        unix_us: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64),
    })
}

/// Nanoseconds on the monotonic clock, from an arbitrary origin.
///
/// Every command is timed (for INFO commandstats, the latency histograms
/// and SLOWLOG), so this is on the hot path: one vDSO call and integer
/// arithmetic, where `Instant::now` and `elapsed` add a normalising
/// `Timespec` subtraction and a `Duration` per reading.
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid timespec for clock_gettime to write, and
    // CLOCK_MONOTONIC exists on every platform Redistill builds for.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    (now.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(now.tv_nsec as u64)
}

/// Milliseconds since the unix epoch, never going backwards.
pub fn now_ms() -> u64 {
    now_us() / 1000
}

/// Microseconds since the unix epoch, never going backwards (TIME).
pub fn now_us() -> u64 {
    let anchor = anchor();
    anchor.unix_us + monotonic_ns().saturating_sub(anchor.monotonic_ns) / 1000
}
