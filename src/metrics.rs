//! Server statistics, kept per worker thread and summed when read.
//!
//! Every command bumps a counter or two. A counter shared by all workers
//! would bounce one cache line between cores on every command, so each
//! worker owns a cache-padded block of counters that only it writes; INFO
//! and the metrics endpoint add the blocks up.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

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

/// The counters one worker thread maintains.
#[derive(Debug, Default)]
pub struct WorkerStats {
    pub commands_processed: Counter,
    pub keyspace_hits: Counter,
    pub keyspace_misses: Counter,
    pub connections_received: Counter,
    pub net_input_bytes: Counter,
    pub net_output_bytes: Counter,
    pub error_replies: Counter,
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
        Self { workers: (0..=workers).map(|_| CachePadded::new(WorkerStats::default())).collect() }
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
        }
    }
}
