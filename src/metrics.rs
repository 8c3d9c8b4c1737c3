//! Server statistics, kept per worker thread and summed when read.
//!
//! Every command bumps a counter or two. A counter shared by all workers
//! would bounce one cache line between cores on every command, so each
//! worker owns a cache-padded block of counters that only it writes; INFO
//! and the metrics endpoint add the blocks up.
//!
//! Besides the server-wide counters, each block holds per-command
//! statistics (INFO commandstats and the Prometheus histograms) indexed by
//! the command's position in [`crate::commands::all`], and error-reply
//! counts per error code (INFO errorstats).

use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::store::Store;
use crate::sync::AtomicU64;

/// A counter with a single writer (its worker) and any number of readers.
///
/// The writer does a plain load and store instead of an atomic
/// read-modify-write: with one writer no increment can be lost, and the
/// store is as cheap as an ordinary memory write.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Add `n`. Must only be called by the counter's owning thread.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    #[inline]
    pub fn incr(&self) {
        self.add(1);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Reset to zero (CONFIG RESETSTAT); a racing increment may survive.
    pub fn reset(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

/// Upper bounds of the latency histogram, as powers of two of a
/// microsecond: bucket `k` counts durations in (2^(k-1) µs, 2^k µs], bucket
/// 0 everything up to 1 µs. 2^20 µs is about one second; slower commands go
/// to one more, unbounded bucket. Fixed log-scale buckets keep recording to
/// one shift and one increment, and are what a Prometheus histogram needs
/// (cumulative counts at fixed `le` bounds).
pub const LATENCY_BOUNDS: usize = 21;

/// Histogram slots per command: the bounded buckets plus the overflow.
const LATENCY_SLOTS: usize = LATENCY_BOUNDS + 1;

/// Upper bound of histogram bucket `k` (< [`LATENCY_BOUNDS`]), in seconds.
pub fn latency_bound_seconds(k: usize) -> f64 {
    (1u64 << k) as f64 / 1e6
}

/// The histogram slot of a duration in nanoseconds.
#[inline]
fn latency_slot(nanos: u64) -> usize {
    // ceil(log2(µs)): the number of bits in ceil(ns / 1000) - 1.
    let micros_minus_one = nanos.saturating_sub(1) / 1000;
    ((u64::BITS - micros_minus_one.leading_zeros()) as usize).min(LATENCY_BOUNDS)
}

/// One command's statistics in one worker.
///
/// There is no separate call counter: the histogram's buckets add up to the
/// number of calls, which saves a write per command and keeps `calls`, the
/// `_count` of the histogram and its buckets consistent with each other.
#[derive(Debug, Default)]
pub struct CommandStats {
    latency: [Counter; LATENCY_SLOTS],
    /// Total time spent in the command, in nanoseconds (shown as Redis's
    /// `usec`; summing nanoseconds keeps sub-microsecond commands from
    /// adding up to zero).
    nanos: Counter,
    /// Calls that ran and replied with an error.
    failed: Counter,
    /// Calls refused before running (wrong arity, not authenticated).
    rejected: Counter,
}

impl CommandStats {
    fn reset(&self) {
        self.latency.iter().chain([&self.nanos, &self.failed, &self.rejected]).for_each(Counter::reset);
    }
}

/// One command's statistics summed over all workers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CommandTotals {
    pub calls: u64,
    pub nanos: u64,
    pub failed: u64,
    pub rejected: u64,
    /// Calls per histogram bucket (not cumulative); the last slot is the
    /// overflow above the largest bound.
    pub latency: [u64; LATENCY_SLOTS],
}

impl CommandTotals {
    /// Whether the command has been seen since start or the last reset
    /// (INFO commandstats lists only those, as Redis does).
    pub fn is_used(&self) -> bool {
        self.calls > 0 || self.failed > 0 || self.rejected > 0
    }

    pub fn usec(&self) -> u64 {
        self.nanos / 1000
    }

    pub fn seconds(&self) -> f64 {
        self.nanos as f64 / 1e9
    }
}

/// Error codes counted without a lock: the ones Redis itself replies with.
/// A reply's code is the text before its first space (`WRONGPASS invalid
/// username-password pair` counts as `WRONGPASS`).
const KNOWN_ERROR_CODES: &[&str] = &[
    "ERR",
    "WRONGTYPE",
    "NOAUTH",
    "WRONGPASS",
    "NOPROTO",
    "NOPERM",
    "OOM",
    "EXECABORT",
    "BUSY",
    "LOADING",
    "READONLY",
    "MISCONF",
    "NOSCRIPT",
    "CROSSSLOT",
];

/// Distinct codes outside [`KNOWN_ERROR_CODES`] tracked per worker; later
/// ones are counted as `ERR`. Redis caps its error table at 128 entries for
/// the same reason: a code derived from text must not grow memory forever.
const MAX_OTHER_ERROR_CODES: usize = 128;

/// Longest error code looked for (Redis looks at the first 32 bytes).
const MAX_ERROR_CODE_LEN: usize = 32;

/// Error replies by code, for one worker.
#[derive(Debug, Default)]
pub struct ErrorStats {
    known: [Counter; KNOWN_ERROR_CODES.len()],
    /// Codes not in the known list. Only error replies with an unusual code
    /// take this lock, and only this worker and INFO readers contend for it.
    other: Mutex<Vec<(Box<str>, u64)>>,
}

impl ErrorStats {
    fn count(&self, message: &str) {
        let code = error_code(message);
        if let Some(i) = KNOWN_ERROR_CODES.iter().position(|known| *known == code) {
            return self.known[i].incr();
        }
        let mut other = self.other.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = other.iter_mut().find(|(name, _)| &**name == code) {
            entry.1 += 1;
        } else if other.len() < MAX_OTHER_ERROR_CODES {
            other.push((code.into(), 1));
        } else {
            drop(other);
            self.known[0].incr();
        }
    }

    fn add_to(&self, totals: &mut Vec<(String, u64)>) {
        let known = KNOWN_ERROR_CODES.iter().zip(&self.known).map(|(code, counter)| (*code, counter.get()));
        let other = self.other.lock().unwrap_or_else(PoisonError::into_inner);
        for (code, count) in known.chain(other.iter().map(|(code, count)| (&**code, *count))) {
            if count == 0 {
                continue;
            }
            match totals.iter_mut().find(|(name, _)| name == code) {
                Some(entry) => entry.1 += count,
                None => totals.push((code.to_string(), count)),
            }
        }
    }

    fn reset(&self) {
        self.known.iter().for_each(Counter::reset);
        self.other.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

/// The code of an error reply, as Redis's errorstats names it: the text up
/// to the first space within the first 32 bytes, or `ERR` when there is
/// none.
pub fn error_code(message: &str) -> &str {
    let head = &message.as_bytes()[..message.len().min(MAX_ERROR_CODE_LEN)];
    match head.iter().position(|&b| b == b' ') {
        Some(end) if end > 0 => &message[..end],
        _ => "ERR",
    }
}

/// The counters one worker thread maintains.
#[derive(Debug)]
pub struct WorkerStats {
    pub commands_processed: Counter,
    pub keyspace_hits: Counter,
    pub keyspace_misses: Counter,
    pub connections_received: Counter,
    pub net_input_bytes: Counter,
    pub net_output_bytes: Counter,
    pub error_replies: Counter,
    /// Indexed by the command's position in [`crate::commands::all`].
    commands: Box<[CommandStats]>,
    errors: ErrorStats,
}

impl Default for WorkerStats {
    fn default() -> Self {
        Self::new(crate::commands::all().count())
    }
}

impl WorkerStats {
    /// A block with room for `commands` commands.
    pub fn new(commands: usize) -> Self {
        Self {
            commands_processed: Counter::default(),
            keyspace_hits: Counter::default(),
            keyspace_misses: Counter::default(),
            connections_received: Counter::default(),
            net_input_bytes: Counter::default(),
            net_output_bytes: Counter::default(),
            error_replies: Counter::default(),
            commands: (0..commands).map(|_| CommandStats::default()).collect(),
            errors: ErrorStats::default(),
        }
    }

    /// Count an error reply: the total (`total_error_replies`) and its code
    /// (`errorstat_<code>`).
    pub fn count_error(&self, message: &str) {
        self.error_replies.incr();
        self.errors.count(message);
    }

    /// Record one execution of command `id` that took `nanos`; `failed`
    /// when it replied with an error.
    #[inline]
    pub fn record_command(&self, id: usize, nanos: u64, failed: bool) {
        let Some(stats) = self.commands.get(id) else { return };
        stats.latency[latency_slot(nanos)].incr();
        stats.nanos.add(nanos);
        if failed {
            stats.failed.incr();
        }
    }

    /// Record that command `id` was refused before it ran.
    pub fn record_rejected(&self, id: usize) {
        if let Some(stats) = self.commands.get(id) {
            stats.rejected.incr();
        }
    }
}

/// Totals over all workers, as INFO reports them.
#[derive(Debug, Default, Clone, Copy)]
pub struct StatsSnapshot {
    pub commands_processed: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub connections_received: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub error_replies: u64,
}

/// One stats block per worker (plus one for the acceptor and background
/// threads, at the end).
pub struct Metrics {
    workers: Box<[CachePadded<WorkerStats>]>,
}

impl Metrics {
    pub fn new(workers: usize) -> Self {
        let commands = crate::commands::all().count();
        Self { workers: (0..=workers).map(|_| CachePadded::new(WorkerStats::new(commands))).collect() }
    }

    /// The block owned by worker `index`.
    pub fn worker(&self, index: usize) -> &WorkerStats {
        &self.workers[index]
    }

    /// The block owned by the acceptor thread.
    pub fn acceptor(&self) -> &WorkerStats {
        &self.workers[self.workers.len() - 1]
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let mut total = StatsSnapshot::default();
        for w in self.workers.iter() {
            total.commands_processed += w.commands_processed.get();
            total.keyspace_hits += w.keyspace_hits.get();
            total.keyspace_misses += w.keyspace_misses.get();
            total.connections_received += w.connections_received.get();
            total.net_input_bytes += w.net_input_bytes.get();
            total.net_output_bytes += w.net_output_bytes.get();
            total.error_replies += w.error_replies.get();
        }
        total
    }

    /// Per-command totals, indexed like [`crate::commands::all`].
    pub fn command_totals(&self) -> Vec<CommandTotals> {
        let len = self.workers.iter().map(|w| w.commands.len()).max().unwrap_or(0);
        let mut totals = vec![CommandTotals::default(); len];
        for w in self.workers.iter() {
            for (total, stats) in totals.iter_mut().zip(w.commands.iter()) {
                for (slot, counter) in total.latency.iter_mut().zip(&stats.latency) {
                    let n = counter.get();
                    *slot += n;
                    total.calls += n;
                }
                total.nanos += stats.nanos.get();
                total.failed += stats.failed.get();
                total.rejected += stats.rejected.get();
            }
        }
        totals
    }

    /// Error replies per code, summed over workers, sorted by code (the
    /// order Redis prints errorstats in). Codes never seen are left out.
    pub fn error_totals(&self) -> Vec<(String, u64)> {
        let mut totals = Vec::new();
        for w in self.workers.iter() {
            w.errors.add_to(&mut totals);
        }
        totals.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        totals
    }

    pub fn reset(&self) {
        for w in self.workers.iter() {
            for counter in [
                &w.commands_processed,
                &w.keyspace_hits,
                &w.keyspace_misses,
                &w.connections_received,
                &w.net_input_bytes,
                &w.net_output_bytes,
                &w.error_replies,
            ] {
                counter.reset();
            }
            w.commands.iter().for_each(CommandStats::reset);
            w.errors.reset();
        }
    }
}

/// Keys evicted to stay under `max_memory`, for INFO's `evicted_keys` and
/// `redis_evicted_keys_total`, read in one place so they cannot disagree.
pub fn evicted_keys(store: &Store) -> u64 {
    store.evicted_total()
}

/// CPU time used by the process, from getrusage(2).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CpuUsage {
    pub sys: Duration,
    pub user: Duration,
    pub children_sys: Duration,
    pub children_user: Duration,
}

impl CpuUsage {
    /// Current usage of this process (all threads) and of its waited-for
    /// children (Redistill never forks, so those stay zero).
    pub fn now() -> Self {
        let (sys, user) = rusage(libc::RUSAGE_SELF);
        let (children_sys, children_user) = rusage(libc::RUSAGE_CHILDREN);
        Self { sys, user, children_sys, children_user }
    }
}

/// (system, user) CPU time for `who`; zero if the call fails.
fn rusage(who: libc::c_int) -> (Duration, Duration) {
    // SAFETY: rusage is plain old data, so all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage for the call to fill in.
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return (Duration::ZERO, Duration::ZERO);
    }
    (timeval(usage.ru_stime), timeval(usage.ru_utime))
}

fn timeval(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u32::try_from(tv.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(u64::from(micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_slots_are_log2_microseconds() {
        let cases = [
            (0, 0),
            (1, 0),
            (999, 0),
            (1_000, 0),
            (1_001, 1),
            (2_000, 1),
            (2_001, 2),
            (4_000, 2),
            (4_001, 3),
            (1_048_576_000, 20),
            (1_048_576_001, 21),
            (u64::MAX, 21),
        ];
        for (nanos, slot) in cases {
            assert_eq!(latency_slot(nanos), slot, "{nanos} ns");
        }
        assert_eq!(latency_bound_seconds(0), 0.000001);
        assert_eq!(latency_bound_seconds(20), 1.048576);
    }

    #[test]
    fn error_codes_follow_redis() {
        assert_eq!(error_code("ERR syntax error"), "ERR");
        assert_eq!(error_code("WRONGPASS invalid username-password pair"), "WRONGPASS");
        assert_eq!(error_code("NOAUTH Authentication required."), "NOAUTH");
        assert_eq!(error_code("nospace"), "ERR");
        assert_eq!(error_code(" leading"), "ERR");
        assert_eq!(error_code(""), "ERR");
        let long = format!("{} x", "A".repeat(40));
        assert_eq!(error_code(&long), "ERR");
    }

    #[test]
    fn per_command_totals_sum_workers() {
        let metrics = Metrics::new(2);
        metrics.worker(0).record_command(1, 500, false);
        metrics.worker(1).record_command(1, 3_000, true);
        metrics.worker(1).record_rejected(1);
        metrics.worker(1).record_rejected(usize::MAX);
        let totals = metrics.command_totals();
        let t = totals[1];
        assert_eq!((t.calls, t.nanos, t.failed, t.rejected), (2, 3_500, 1, 1));
        assert_eq!(t.latency[0], 1);
        assert_eq!(t.latency[2], 1);
        assert!(!totals[0].is_used());
        metrics.reset();
        assert!(metrics.command_totals().iter().all(|t| !t.is_used()));
    }

    #[test]
    fn error_totals_by_code() {
        let metrics = Metrics::new(2);
        metrics.worker(0).count_error("ERR syntax error");
        metrics.worker(1).count_error("ERR unknown command");
        metrics.worker(1).count_error("WRONGPASS invalid username-password pair");
        metrics.worker(0).count_error("CUSTOM thing");
        metrics.worker(1).count_error("CUSTOM thing");
        let expected = vec![("CUSTOM".to_string(), 2), ("ERR".to_string(), 2), ("WRONGPASS".to_string(), 1)];
        assert_eq!(metrics.error_totals(), expected);
        assert_eq!(metrics.snapshot().error_replies, 5);
        metrics.reset();
        assert!(metrics.error_totals().is_empty());
    }

    #[test]
    fn unknown_error_codes_are_capped() {
        let stats = WorkerStats::new(0);
        for i in 0..MAX_OTHER_ERROR_CODES + 10 {
            stats.count_error(&format!("CODE{i} message"));
        }
        let mut totals = Vec::new();
        stats.errors.add_to(&mut totals);
        assert_eq!(totals.len(), MAX_OTHER_ERROR_CODES + 1);
        assert!(totals.contains(&("ERR".to_string(), 10)));
    }

    #[test]
    fn cpu_usage_is_readable() {
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(20) {
            std::hint::black_box(0u64);
        }
        let usage = CpuUsage::now();
        assert!(usage.user + usage.sys > Duration::ZERO);
    }
}

/// Model check of [`Counter`]'s plain load-and-store increment: with one
/// writer no count is lost and readers only ever see it grow.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::Counter;
    use loom::sync::Arc;

    #[test]
    fn loom_single_writer_counter_loses_nothing() {
        loom::model(|| {
            let counter = Arc::new(Counter::default());
            let writer = {
                let counter = Arc::clone(&counter);
                loom::thread::spawn(move || {
                    counter.incr();
                    counter.add(2);
                })
            };
            let first = counter.get();
            let second = counter.get();
            assert!(first <= second && [0, 1, 3].contains(&second), "reader saw {first} then {second}");
            writer.join().unwrap();
            assert_eq!(counter.get(), 3);
        });
    }
}
