//! The maintenance thread: keeps memory under `max_memory`, reclaims
//! expired keys and compacts shards full of dead records.
//!
//! Memory is measured as jemalloc's allocated bytes above the server's idle
//! footprint (`used_memory_startup`: buffer pools and empty tables). While
//! a limit is set the thread checks it every millisecond once usage passes
//! half the limit, and every 10 ms below that (a measurement asks jemalloc
//! to merge its statistics; a thousand a second kept an idle server at a
//! tenth of a core); above 95% of the
//! limit it sweeps the oldest segment of one shard after another (see
//! `store/evict.rs`) until usage is back under that mark. If a write flood
//! outruns it and usage crosses the limit itself, writers help: each write
//! first sweeps one segment of the shard it has locked. Under `noeviction`,
//! or when a whole round finds nothing it may evict, writes are refused
//! with Redis's OOM error instead.

use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::clock;
use crate::server::Server;
use crate::store::expiry::{self, ShardCursor};
use crate::store::EvictionPolicy;

/// Evict down to this fraction of the limit, so writers rarely have to.
const LOW_WATER_PERCENT: u64 = 95;

/// Segments swept between two measurements of memory.
const EVICTION_BATCH: usize = 32;

/// Sweeps in a row that make no progress (see `Swept::progressed`), in
/// rounds' worth of shards, before writes are refused: under volatile-ttl
/// or a volatile policy a sweep may only move records that must stay.
const STUCK_ROUNDS: usize = 4;

/// How often expiry and compaction run, and their time budget per run.
const SLOW_TICK: Duration = Duration::from_millis(100);
const SLOW_BUDGET: Duration = Duration::from_millis(20);

pub fn spawn(server: Arc<Server>) -> io::Result<JoinHandle<()>> {
    thread::Builder::new().name("maintenance".into()).spawn(move || Maintenance::new(server).run())
}

struct Maintenance {
    server: Arc<Server>,
    evict_cursor: ShardCursor,
    expiry_cursor: ShardCursor,
    compact_cursor: ShardCursor,
    last_slow_tick: Instant,
    /// Sweeps in a row that made no progress (shards the policy may not
    /// evict from are skipped, not counted).
    fruitless: usize,
}

impl Maintenance {
    fn new(server: Arc<Server>) -> Self {
        Self {
            server,
            evict_cursor: ShardCursor::default(),
            expiry_cursor: ShardCursor::default(),
            compact_cursor: ShardCursor::default(),
            last_slow_tick: Instant::now(),
            fruitless: 0,
        }
    }

    fn run(mut self) {
        while !self.server.is_shutting_down() {
            let (busy, near_limit) = self.enforce_limit();
            if self.last_slow_tick.elapsed() >= SLOW_TICK {
                self.last_slow_tick = Instant::now();
                let store = &self.server.store;
                expiry::sweep_expired(store, &mut self.expiry_cursor, clock::now_ms(), SLOW_BUDGET);
                expiry::compact_sparse(store, &mut self.compact_cursor, clock::now_ms(), SLOW_BUDGET);
            }
            if !busy {
                thread::sleep(Duration::from_millis(if near_limit { 1 } else { 10 }));
            }
        }
    }

    /// Measure memory and evict if needed. Returns whether it is evicting,
    /// and whether usage is past half the limit (checked often then).
    fn enforce_limit(&mut self) -> (bool, bool) {
        let server = Arc::clone(&self.server);
        let pressure = &server.store.pressure;
        let policy = server.live.eviction_policy();
        let max = server.live.max_memory();
        if max == 0 {
            pressure.set_over_limit(false);
            pressure.set_debt(0);
            pressure.set_stuck(false);
            return (false, false);
        }
        let used = server.used_memory_over_startup();
        let near_limit = used > max / 2;
        pressure.set_over_limit(used > max);
        pressure.set_debt(used.saturating_sub(max));
        if used <= max / 100 * LOW_WATER_PERCENT {
            self.fruitless = 0;
            pressure.set_stuck(false);
            return (false, near_limit);
        }
        if policy == EvictionPolicy::NoEviction {
            pressure.set_stuck(used > max);
            return (false, near_limit);
        }
        let candidates = self.evict_batch(policy);
        let stuck = !candidates || self.fruitless >= STUCK_ROUNDS * self.total_shards();
        pressure.set_stuck(used > max && stuck);
        (true, near_limit)
    }

    /// Sweep up to [`EVICTION_BATCH`] shards the policy may evict from.
    /// Returns false when a whole round found none (e.g. volatile-lru with
    /// no key that has a TTL): nothing can free memory, writes must fail.
    fn evict_batch(&mut self, policy: EvictionPolicy) -> bool {
        let now = clock::now_ms();
        let mut swept = 0;
        let fruitless = &mut self.fruitless;
        self.evict_cursor.visit(&self.server.store, Duration::MAX, |table, shard| {
            if !table.may_evict_from(shard) {
                return true;
            }
            let progressed = table.lock_shard(shard).evict_oldest(policy, now).progressed;
            *fruitless = if progressed { 0 } else { *fruitless + 1 };
            swept += 1;
            swept < EVICTION_BATCH
        });
        swept > 0
    }

    fn total_shards(&self) -> usize {
        self.server.store.iter().map(|t| t.shard_count()).sum()
    }
}
