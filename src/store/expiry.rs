//! Active expiry and compaction passes over the shards.
//!
//! Lazy expiry (every access checks the deadline) keeps expired keys
//! invisible; these passes give their memory back without anyone touching
//! them. The maintenance thread runs them ten times a second with a time
//! budget, one shard lock at a time, resuming where the last pass stopped.
//! Shards are small (keys / num_shards), so each lock is held for a short,
//! bounded step and clients never stall behind a whole-database scan.

use std::time::Duration;

use super::Store;

/// A position in the (database, shard) space, for passes that resume.
#[derive(Default)]
pub struct ShardCursor {
    db: usize,
    shard: usize,
}

impl ShardCursor {
    /// Visit shards from the cursor on, at most one full round, until
    /// `visit` returns false or `budget` is spent.
    pub fn visit(&mut self, store: &Store, budget: Duration, mut visit: impl FnMut(&super::Table, usize) -> bool) {
        let deadline =
            crate::clock::monotonic_ns().saturating_add(u64::try_from(budget.as_nanos()).unwrap_or(u64::MAX));
        let total: usize = store.iter().map(|t| t.shard_count()).sum();
        for _ in 0..total {
            if self.db >= store.databases() {
                self.db = 0;
            }
            let table = store.db(self.db);
            let keep_going = visit(table, self.shard);
            self.shard += 1;
            if self.shard >= table.shard_count() {
                self.shard = 0;
                self.db += 1;
            }
            if !keep_going || crate::clock::monotonic_ns() >= deadline {
                return;
            }
        }
    }
}

/// Reclaim expired keys, shard by shard. Returns how many were removed.
pub fn sweep_expired(store: &Store, cursor: &mut ShardCursor, now: u64, budget: Duration) -> usize {
    let mut removed = 0;
    cursor.visit(store, budget, |table, shard| {
        if table.shard_has_expires(shard) {
            removed += table.lock_shard(shard).remove_expired(now);
        }
        true
    });
    removed
}

/// Compact shards in which dead records outweigh live ones.
pub fn compact_sparse(store: &Store, cursor: &mut ShardCursor, now: u64, budget: Duration) {
    cursor.visit(store, budget, |table, shard| {
        table.lock_shard(shard).compact_if_sparse(now);
        true
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reclaims_untouched_expired_keys_in_every_db() {
        let store = Store::new(3, 8, 0, std::sync::Arc::default());
        for db in 0..3 {
            for i in 0..100 {
                let key = format!("k{i}");
                let deadline = if i % 2 == 0 { Some(1) } else { None };
                store.db(db).update(key.as_bytes(), 0, |slot| slot.put(b"v", deadline));
            }
        }
        let removed = sweep_expired(&store, &mut ShardCursor::default(), 10, Duration::from_secs(10));
        assert_eq!(removed, 150);
        assert!(store.iter().all(|t| t.len() == 50 && t.expires() == 0));
    }
}
