//! The clock that expiry runs on.
//!
//! Expiry times are unix milliseconds (so EXPIREAT and PXAT mean what they
//! say), but they are measured against a monotonic clock anchored to the wall
//! clock once at start-up: if an operator or NTP steps the system time back,
//! keys do not come back to life, and stepping it forward does not expire
//! the whole cache at once.
//!
//! Commands are timed on a cheaper clock of their own ([`command_ticks`]),
//! which never feeds expiry.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// Nanoseconds per time-stamp-counter tick, as 32.32 fixed point; 0 while
/// commands are timed with [`monotonic_ns`] instead.
static NS_PER_TICK: AtomicU64 = AtomicU64::new(0);

/// Where the kernel's own clocksource is; "tsc" means the kernel found the
/// CPU's time-stamp counter invariant, synchronised across CPUs and not
/// trapped by a hypervisor.
const CLOCKSOURCE: &str = "/sys/devices/system/clocksource/clocksource0/current_clocksource";

/// How long [`calibrate_command_clock`] watches the counter against the
/// monotonic clock (a 1e-3 error at most, from ~20 µs of jitter).
const CALIBRATION: Duration = Duration::from_millis(20);

/// Time commands with the time-stamp counter if the kernel trusts it.
///
/// Every command is timed (INFO commandstats, latency histograms,
/// SLOWLOG), two readings each; `rdtsc` costs a few nanoseconds where even
/// the vDSO's `clock_gettime` showed up at 6% of a pipelined GET's CPU.
/// Called once at start-up, before any command runs: a duration must not
/// mix readings of the two clocks.
pub fn calibrate_command_clock() {
    let trusted = std::fs::read_to_string(CLOCKSOURCE).is_ok_and(|s| s.trim() == "tsc");
    if !trusted {
        return;
    }
    let (Some(tsc), ns) = (tsc_ticks(), monotonic_ns()) else { return };
    std::thread::sleep(CALIBRATION);
    let (Some(tsc_after), ns_after) = (tsc_ticks(), monotonic_ns()) else { return };
    let ticks = tsc_after.saturating_sub(tsc);
    if ticks > 0 {
        let scale = (u128::from(ns_after.saturating_sub(ns)) << 32) / u128::from(ticks);
        NS_PER_TICK.store(u64::try_from(scale).unwrap_or(0), Ordering::Relaxed);
    }
}

/// A reading of the command clock; only differences of two readings,
/// turned into nanoseconds by [`ticks_to_ns`], mean anything.
#[inline]
pub fn command_ticks() -> u64 {
    match NS_PER_TICK.load(Ordering::Relaxed) {
        0 => monotonic_ns(),
        _ => tsc_ticks().unwrap_or(0),
    }
}

/// Nanoseconds in a difference of two [`command_ticks`] readings.
#[inline]
pub fn ticks_to_ns(ticks: u64) -> u64 {
    match NS_PER_TICK.load(Ordering::Relaxed) {
        0 => ticks,
        scale => u64::try_from((u128::from(ticks) * u128::from(scale)) >> 32).unwrap_or(u64::MAX),
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn tsc_ticks() -> Option<u64> {
    // SAFETY: rdtsc exists on every x86_64 CPU and only reads a counter.
    Some(unsafe { std::arch::x86_64::_rdtsc() })
}

#[cfg(not(target_arch = "x86_64"))]
fn tsc_ticks() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_clock_measures_nanoseconds_before_and_after_calibration() {
        let measure = || {
            let start = command_ticks();
            std::thread::sleep(Duration::from_millis(30));
            ticks_to_ns(command_ticks().wrapping_sub(start))
        };
        for _ in 0..2 {
            let ns = measure();
            assert!((30_000_000..200_000_000).contains(&ns), "30 ms measured as {ns} ns");
            calibrate_command_clock();
        }
    }
}
