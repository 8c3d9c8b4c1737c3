//! Active expiry: reclaim keys whose deadline passed even if no client
//! ever touches them again.
//!
//! Lazy expiry (every access checks the deadline) keeps expired keys
//! invisible; this sweep gives their memory back. Ten times a second it
//! walks the shards that hold keys with a deadline, one shard lock at a
//! time, and stops for the tick when its time budget is spent, resuming
//! where it left off. Shards are small (keys / num_shards), so each lock is
//! held for a short, bounded step and clients are never stalled behind a
//! whole-database scan.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::Store;
use crate::clock;

/// How often the sweep runs (Redis's default `hz` is 10).
const TICK: Duration = Duration::from_millis(100);

/// CPU time the sweep may use per tick: a quarter of a core, as Redis's
/// slow expire cycle allows itself.
const BUDGET: Duration = Duration::from_millis(25);

/// Where the sweep resumes on the next tick.
#[derive(Default)]
pub struct Cursor {
    db: usize,
    shard: usize,
}

/// Sweep shards from `cursor` until all have been visited once or the
/// budget runs out. Returns the number of keys reclaimed.
pub fn sweep(store: &Store, cursor: &mut Cursor, budget: Duration) -> usize {
    let started = Instant::now();
    let total_shards: usize = store.iter().map(|t| t.shard_count()).sum();
    let mut removed = 0;
    for _ in 0..total_shards {
        if cursor.db >= store.databases() {
            cursor.db = 0;
        }
        let table = store.db(cursor.db);
        if table.shard_has_expires(cursor.shard) {
            removed += table.lock_shard(cursor.shard).remove_expired(clock::now_ms());
        }
        cursor.shard += 1;
        if cursor.shard == table.shard_count() {
            cursor.shard = 0;
            cursor.db += 1;
        }
        if started.elapsed() >= budget {
            break;
        }
    }
    removed
}

/// Run the sweep every tick until `stop` is set.
pub fn spawn(store: Arc<Store>, stop: Arc<AtomicBool>) -> std::io::Result<thread::JoinHandle<()>> {
    thread::Builder::new().name("expiry".into()).spawn(move || {
        let mut cursor = Cursor::default();
        while !stop.load(Ordering::Relaxed) {
            sweep(&store, &mut cursor, BUDGET);
            thread::sleep(TICK);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reclaims_untouched_expired_keys_in_every_db() {
        let store = Store::new(3, 8);
        for db in 0..3 {
            for i in 0..100 {
                let key = format!("k{i}");
                let deadline = if i % 2 == 0 { Some(1) } else { None };
                store.db(db).update(key.as_bytes(), 0, |slot| slot.put(b"v", deadline));
            }
        }
        let removed = sweep(&store, &mut Cursor::default(), Duration::from_secs(10));
        assert_eq!(removed, 150);
        assert!(store.iter().all(|t| t.len() == 50 && t.expires() == 0));
    }
}
