//! Leveled logging to stderr: one line per event, with a UTC timestamp.
//!
//! The server logs rarely (start-up, shutdown, closed clients, errors), so a
//! lock on stderr per line is fine; nothing on the request path logs unless
//! the level is `debug`.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::LogLevel;

static LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);

pub fn set_level(level: LogLevel) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// The level set last (what `enabled` compares against).
pub fn level() -> LogLevel {
    let current = LEVEL.load(Ordering::Relaxed);
    LogLevel::ALL.into_iter().find(|l| *l as u8 == current).unwrap_or_default()
}

pub fn enabled(level: LogLevel) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Write one log line; use the `log_*!` macros rather than calling this.
pub fn write(level: LogLevel, args: fmt::Arguments<'_>) {
    let label = match level {
        LogLevel::Error => "ERROR",
        LogLevel::Warn => "WARN",
        LogLevel::Info => "INFO",
        LogLevel::Debug => "DEBUG",
    };
    let line = format!("{} {label} {args}\n", timestamp());
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// At most one log line per second for an event a client can trigger at
/// will (a failed AUTH), so a password-guessing client cannot flood the log.
/// [`Throttle::check`] says whether to log now and how many occurrences
/// were suppressed since the last line.
pub struct Throttle {
    /// Milliseconds (on [`crate::clock::now_ms`]) of the last logged line, 0 before any.
    last_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl Throttle {
    pub const fn new() -> Self {
        Self { last_ms: AtomicU64::new(0), suppressed: AtomicU64::new(0) }
    }

    /// `Some(suppressed)` when a line may be logged at `now_ms`, `None`
    /// when this occurrence is only counted.
    pub fn check(&self, now_ms: u64) -> Option<u64> {
        let last = self.last_ms.load(Ordering::Acquire);
        let due = last == 0 || now_ms >= last.saturating_add(1000);
        if !due || self.last_ms.compare_exchange(last, now_ms.max(1), Ordering::AcqRel, Ordering::Acquire).is_err() {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.suppressed.swap(0, Ordering::Relaxed))
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new()
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` from the system clock.
fn timestamp() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        now.subsec_millis()
    )
}

/// Days since 1970-01-01 to a (year, month, day) date (Howard Hinnant's
/// algorithm), so logs need no date crate.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[macro_export]
macro_rules! log_error {
    ($($arg:tt)*) => { $crate::log::write($crate::config::LogLevel::Error, format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! log_warn {
    ($($arg:tt)*) => {
        if $crate::log::enabled($crate::config::LogLevel::Warn) {
            $crate::log::write($crate::config::LogLevel::Warn, format_args!($($arg)*))
        }
    };
}

#[macro_export]
macro_rules! log_info {
    ($($arg:tt)*) => {
        if $crate::log::enabled($crate::config::LogLevel::Info) {
            $crate::log::write($crate::config::LogLevel::Info, format_args!($($arg)*))
        }
    };
}

#[macro_export]
macro_rules! log_debug {
    ($($arg:tt)*) => {
        if $crate::log::enabled($crate::config::LogLevel::Debug) {
            $crate::log::write($crate::config::LogLevel::Debug, format_args!($($arg)*))
        }
    };
}

#[cfg(test)]
mod tests {
    use super::{civil_from_days, Throttle};

    #[test]
    fn throttle_allows_one_line_per_second_and_counts_the_rest() {
        let throttle = Throttle::new();
        assert_eq!(throttle.check(10_000), Some(0));
        assert_eq!(throttle.check(10_001), None);
        assert_eq!(throttle.check(10_999), None);
        assert_eq!(throttle.check(11_000), Some(2));
        assert_eq!(throttle.check(11_500), None);
        assert_eq!(throttle.check(20_000), Some(1));
        assert_eq!(throttle.check(20_001), None);
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_418), (2025, 11, 26));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
