//! The clock that expiry runs on.
//!
//! Expiry times are unix milliseconds (so EXPIREAT and PXAT mean what they
//! say), but they are measured against a monotonic clock anchored to the wall
//! clock once at start-up: if an operator or NTP steps the system time back,
//! keys do not come back to life, and stepping it forward does not expire
//! the whole cache at once.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

struct Anchor {
    instant: Instant,
    unix_us: u64,
}

fn anchor() -> &'static Anchor {
    static ANCHOR: OnceLock<Anchor> = OnceLock::new();
    ANCHOR.get_or_init(|| Anchor {
        instant: Instant::now(),
        unix_us: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64),
    })
}

/// Milliseconds since the unix epoch, never going backwards.
pub fn now_ms() -> u64 {
    now_us() / 1000
}

/// Microseconds since the unix epoch, never going backwards (TIME).
pub fn now_us() -> u64 {
    let anchor = anchor();
    anchor.unix_us + anchor.instant.elapsed().as_micros() as u64
}
