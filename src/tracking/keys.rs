//! The tracking table: for each key a client read while tracking, the ids
//! of the clients that may hold it in their cache.
//!
//! Keys are names, not (database, name) pairs: like Redis, client-side
//! caching does not tell databases apart. An entry is removed whole when
//! the key is invalidated (its clients are told, and must read it again to
//! be tracked again), so the table holds only keys read since their last
//! change. Ids of clients that turned tracking off or left stay until then
//! (Redis's lazy clean-up: dropping them eagerly would cost a walk of the
//! table per client).
//!
//! Reads of tracked keys happen on every worker, so the table is split in
//! shards by key hash, each behind its own lock, and the totals INFO shows
//! are kept in atomics.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;
use parking_lot::Mutex;

type Hasher = foldhash::fast::RandomState;

const SHARDS: usize = 16;

/// The clients of one key: nearly always one, so without a set of its own.
enum Ids {
    One(u64),
    Many(HashSet<u64, Hasher>),
}

impl Ids {
    /// Add `id`; false if it was there.
    fn insert(&mut self, id: u64) -> bool {
        match self {
            Ids::One(one) if *one == id => false,
            Ids::One(one) => {
                *self = Ids::Many([*one, id].into_iter().collect());
                true
            }
            Ids::Many(ids) => ids.insert(id),
        }
    }

    fn into_vec(self) -> Vec<u64> {
        match self {
            Ids::One(id) => vec![id],
            Ids::Many(ids) => ids.into_iter().collect(),
        }
    }
}

type Shard = HashMap<Box<[u8]>, Ids, Hasher>;

/// The table (see the module documentation).
pub struct Keys {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    hasher: Hasher,
    /// Keys in the table (INFO's `tracking_total_keys`).
    keys: AtomicUsize,
    /// (key, client) pairs (INFO's `tracking_total_items`).
    items: AtomicUsize,
    /// Where the next search for keys to drop starts, so that successive
    /// trims do not all empty the first shard.
    next_victim_shard: AtomicUsize,
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| CachePadded::new(Mutex::default())).collect(),
            hasher: Hasher::default(),
            keys: AtomicUsize::new(0),
            items: AtomicUsize::new(0),
            next_victim_shard: AtomicUsize::new(0),
        }
    }
}

impl Keys {
    fn shard(&self, key: &[u8]) -> &Mutex<Shard> {
        &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS]
    }

    /// Remember that client `id` may cache `key`; false if it was already
    /// remembered.
    pub fn remember(&self, key: &[u8], id: u64) -> bool {
        let mut shard = self.shard(key).lock();
        let added = match shard.get_mut(key) {
            Some(ids) => ids.insert(id),
            None => {
                shard.insert(key.into(), Ids::One(id));
                self.keys.fetch_add(1, Ordering::Relaxed);
                true
            }
        };
        if added {
            self.items.fetch_add(1, Ordering::Relaxed);
        }
        added
    }

    /// Remove `key`'s entry, returning the clients it had.
    pub fn take(&self, key: &[u8]) -> Vec<u64> {
        let Some(ids) = self.shard(key).lock().remove(key) else { return Vec::new() };
        let ids = ids.into_vec();
        self.keys.fetch_sub(1, Ordering::Relaxed);
        self.items.fetch_sub(ids.len(), Ordering::Relaxed);
        ids
    }

    /// Forget everything. Each shard's map is swapped out under its lock
    /// and dropped after.
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            let old = std::mem::take(&mut *shard.lock());
            let items: usize = old.values().map(|ids| if let Ids::Many(ids) = ids { ids.len() } else { 1 }).sum();
            self.keys.fetch_sub(old.len(), Ordering::Relaxed);
            self.items.fetch_sub(items, Ordering::Relaxed);
        }
    }

    pub fn len(&self) -> usize {
        self.keys.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn items(&self) -> usize {
        self.items.load(Ordering::Relaxed)
    }

    /// Up to `count` keys of the table, taken in hash order (that is, at
    /// random) from shard after shard: the ones to drop when it is over
    /// its size limit.
    pub fn victims(&self, count: usize) -> Vec<Box<[u8]>> {
        let mut victims = Vec::with_capacity(count.min(1024));
        let first = self.next_victim_shard.fetch_add(1, Ordering::Relaxed);
        for step in 0..SHARDS {
            if victims.len() >= count {
                break;
            }
            let shard = self.shards[(first + step) % SHARDS].lock();
            victims.extend(shard.keys().take(count - victims.len()).cloned());
        }
        victims
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_keys_and_items() {
        let keys = Keys::default();
        assert!(keys.remember(b"a", 1));
        assert!(!keys.remember(b"a", 1));
        assert!(keys.remember(b"a", 2));
        assert!(keys.remember(b"b", 1));
        assert_eq!((keys.len(), keys.items()), (2, 3));
        let mut ids = keys.take(b"a");
        ids.sort_unstable();
        assert_eq!(ids, [1, 2]);
        assert!(keys.take(b"a").is_empty());
        assert_eq!((keys.len(), keys.items()), (1, 1));
        keys.remember(b"c", 3);
        assert_eq!(keys.victims(5).len(), 2);
        keys.clear();
        assert_eq!((keys.len(), keys.items()), (0, 0));
    }
}
