//! The striped key table of one database.
//!
//! Keys are spread over a power-of-two number of shards, each a `RwLock`
//! over its own hash table, so workers on different cores rarely touch the
//! same lock. A key is hashed once: middle bits of the hash pick the shard
//! and the same hash is handed to the shard's table (which uses the low bits
//! for the bucket and the top seven as tags, so the shard bits don't skew
//! either).
//!
//! Readers take the shard's read lock and look at the entry in place (the
//! reply is encoded under the lock, so small values are copied once, into
//! the output buffer, with no reference count traffic). Writers take the
//! write lock for one lookup and update. Expired entries are invisible at
//! once; they are reclaimed on the next write to the key, by a reader that
//! finds them, or by the active expiry sweep.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crossbeam_utils::CachePadded;
use foldhash::fast::RandomState;
use hashbrown::hash_table::{Entry as TableEntry, HashTable};
use std::hash::BuildHasher;

use bytes::Bytes;

use super::entry::{Entry, Slot};
use crate::protocol::ReplyBuffer;

/// Per-shard counters, written only under the shard's write lock and read
/// without it by INFO and DBSIZE.
#[derive(Default)]
struct ShardStats {
    keys: AtomicUsize,
    expires: AtomicUsize,
    memory: AtomicUsize,
    expired: AtomicU64,
}

struct Shard {
    map: RwLock<HashTable<Slot>>,
    stats: ShardStats,
}

/// One database: a fixed set of shards.
pub struct Table {
    shards: Box<[CachePadded<Shard>]>,
    mask: u64,
    hasher: RandomState,
}

/// Write access to one shard, with the bookkeeping that goes with it.
pub struct ShardGuard<'a> {
    map: RwLockWriteGuard<'a, HashTable<Slot>>,
    stats: &'a ShardStats,
    hasher: &'a RandomState,
}

impl Table {
    /// A table with `shards` shards (rounded up to a power of two).
    pub fn new(shards: usize) -> Self {
        let count = shards.max(1).next_power_of_two();
        Self {
            shards: (0..count)
                .map(|_| CachePadded::new(Shard { map: RwLock::new(HashTable::new()), stats: ShardStats::default() }))
                .collect(),
            mask: count as u64 - 1,
            hasher: RandomState::default(),
        }
    }

    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Which shard holds keys with this hash.
    pub fn shard_of(&self, hash: u64) -> usize {
        ((hash >> 32) & self.mask) as usize
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Look at a key's live entry under the shard's read lock.
    pub fn view<R>(&self, key: &[u8], now: u64, f: impl FnOnce(Option<EntryRef<'_>>) -> R) -> R {
        let hash = self.hash(key);
        let shard = &self.shards[self.shard_of(hash)];
        let map = read(&shard.map);
        match map.find(hash, |slot| &*slot.key == key) {
            Some(slot) if slot.entry.is_expired(now) => {
                drop(map);
                let result = f(None);
                // Reclaim it now rather than waiting for the sweep.
                self.update(key, now, |_| ());
                result
            }
            Some(slot) => f(Some(EntryRef { entry: &slot.entry })),
            None => f(None),
        }
    }

    /// Read, create, change or delete one key under its shard's write lock.
    pub fn update<R>(&self, key: &[u8], now: u64, f: impl FnOnce(&mut SlotMut<'_>) -> R) -> R {
        let hash = self.hash(key);
        self.lock_shard(self.shard_of(hash)).update_hashed(hash, key, now, f)
    }

    /// Write-lock the shards holding `keys`, in ascending shard order so
    /// that two multi-key writers can never deadlock, and run `f` with all
    /// of them held: other clients see either none or all of its changes.
    pub fn with_keys_locked<'k, R>(
        &self,
        keys: impl Iterator<Item = &'k [u8]>,
        f: impl FnOnce(&mut LockedKeys<'_>) -> R,
    ) -> R {
        let mut indices: Vec<usize> = keys.map(|k| self.shard_of(self.hash(k))).collect();
        indices.sort_unstable();
        indices.dedup();
        let guards = indices.iter().map(|&i| (i, self.lock_shard(i))).collect();
        f(&mut LockedKeys { table: self, guards })
    }

    pub fn lock_shard(&self, index: usize) -> ShardGuard<'_> {
        let shard = &self.shards[index];
        ShardGuard { map: write(&shard.map), stats: &shard.stats, hasher: &self.hasher }
    }

    /// Keys in the table, including expired ones not yet reclaimed.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.stats.keys.load(Ordering::Relaxed)).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys that carry an expiry.
    pub fn expires(&self) -> usize {
        self.shards.iter().map(|s| s.stats.expires.load(Ordering::Relaxed)).sum()
    }

    /// Approximate bytes held by keys, values and table cells.
    pub fn memory(&self) -> usize {
        self.shards.iter().map(|s| s.stats.memory.load(Ordering::Relaxed)).sum()
    }

    /// Keys removed because their deadline passed.
    pub fn expired_total(&self) -> u64 {
        self.shards.iter().map(|s| s.stats.expired.load(Ordering::Relaxed)).sum()
    }

    /// Whether shard `index` holds any key with an expiry (a lock-free
    /// hint for the active expiry sweep).
    pub fn shard_has_expires(&self, index: usize) -> bool {
        self.shards[index].stats.expires.load(Ordering::Relaxed) > 0
    }

    /// Delete every key. Each shard's table is swapped out under its lock
    /// and freed after the lock is released.
    pub fn clear(&self) {
        for index in 0..self.shards.len() {
            let old = self.lock_shard(index).take_all();
            drop(old);
        }
    }
}

/// Several shards write-locked at once (see [`Table::with_keys_locked`]).
pub struct LockedKeys<'t> {
    table: &'t Table,
    guards: Vec<(usize, ShardGuard<'t>)>,
}

impl LockedKeys<'_> {
    /// [`Table::update`] for a key whose shard is held.
    pub fn update<R>(&mut self, key: &[u8], now: u64, f: impl FnOnce(&mut SlotMut<'_>) -> R) -> R {
        let hash = self.table.hash(key);
        let shard = self.table.shard_of(hash);
        let position = self.guards.iter().position(|(i, _)| *i == shard);
        let Some(position) = position else {
            unreachable!("key's shard was not locked by with_keys_locked");
        };
        self.guards[position].1.update_hashed(hash, key, now, f)
    }
}

impl ShardGuard<'_> {
    /// The heart of every write: find the key (hiding and reclaiming it if
    /// it has expired) and let `f` work on it through a [`SlotMut`].
    pub fn update_hashed<R>(&mut self, hash: u64, key: &[u8], now: u64, f: impl FnOnce(&mut SlotMut<'_>) -> R) -> R {
        let hasher = self.hasher;
        let stats = self.stats;
        let mut entry = self.map.entry(hash, |slot| &*slot.key == key, |slot| hasher.hash_one(&slot.key));
        if let TableEntry::Occupied(occupied) = entry {
            if occupied.get().entry.is_expired(now) {
                let (slot, vacant) = occupied.remove();
                account(stats, Footprint::of(&slot), Footprint::NONE);
                stats.expired.fetch_add(1, Ordering::Relaxed);
                entry = TableEntry::Vacant(vacant);
            } else {
                entry = TableEntry::Occupied(occupied);
            }
        }
        let mut slot = SlotMut { key, stats, state: Some(entry) };
        f(&mut slot)
    }

    /// Remove every expired entry in this shard; returns how many.
    pub fn remove_expired(&mut self, now: u64) -> usize {
        let mut removed = Footprint::NONE;
        let mut count = 0;
        self.map.retain(|slot| {
            if slot.entry.is_expired(now) {
                removed.add(Footprint::of(slot));
                count += 1;
                false
            } else {
                true
            }
        });
        self.stats.expired.fetch_add(count as u64, Ordering::Relaxed);
        self.account(removed, Footprint::NONE);
        count
    }

    fn take_all(&mut self) -> HashTable<Slot> {
        store_relaxed(&self.stats.keys, 0);
        store_relaxed(&self.stats.expires, 0);
        store_relaxed(&self.stats.memory, 0);
        std::mem::take(&mut *self.map)
    }

    fn account(&self, before: Footprint, after: Footprint) {
        account(self.stats, before, after);
    }
}

/// A read-only view of a live entry.
pub struct EntryRef<'a> {
    entry: &'a Entry,
}

impl EntryRef<'_> {
    pub fn value(&self) -> &[u8] {
        self.entry.value()
    }

    pub fn expires_at(&self) -> Option<u64> {
        self.entry.expires_at()
    }

    /// Write the value as a bulk reply (large values without copying).
    pub fn reply(&self, out: &mut ReplyBuffer) {
        out.bulk_bytes(self.entry.value());
    }
}

/// One key, write-locked: read it, create it, change it or delete it.
/// An expired entry has already been removed when a `SlotMut` is handed out.
pub struct SlotMut<'a> {
    key: &'a [u8],
    stats: &'a ShardStats,
    state: Option<TableEntry<'a, Slot>>,
}

impl SlotMut<'_> {
    fn current(&self) -> Option<&Entry> {
        match &self.state {
            Some(TableEntry::Occupied(o)) => Some(&o.get().entry),
            _ => None,
        }
    }

    pub fn exists(&self) -> bool {
        self.current().is_some()
    }

    pub fn value(&self) -> Option<&[u8]> {
        self.current().map(|e| &e.value()[..])
    }

    pub fn expires_at(&self) -> Option<u64> {
        self.current().and_then(Entry::expires_at)
    }

    /// Store `value` with this deadline, replacing any previous entry.
    pub fn put(&mut self, value: &[u8], expires_at: Option<u64>) {
        let entry = Entry::new(Bytes::copy_from_slice(value), expires_at);
        let stats = self.stats;
        self.state = match self.state.take() {
            Some(TableEntry::Occupied(mut o)) => {
                let before = Footprint::of(o.get());
                o.get_mut().entry = entry;
                account(stats, before, Footprint::of(o.get()));
                Some(TableEntry::Occupied(o))
            }
            Some(TableEntry::Vacant(v)) => {
                let slot = Slot { key: self.key.into(), entry };
                account(stats, Footprint::NONE, Footprint::of(&slot));
                Some(TableEntry::Occupied(v.insert(slot)))
            }
            None => None,
        };
    }

    /// Change the deadline of an existing entry (no-op if there is none).
    pub fn set_expires_at(&mut self, at: Option<u64>) {
        if let Some(TableEntry::Occupied(o)) = &mut self.state {
            let before = Footprint::of(o.get());
            o.get_mut().entry.set_expires_at(at);
            account(self.stats, before, Footprint::of(o.get()));
        }
    }

    /// Delete the entry; returns whether there was one.
    pub fn remove(&mut self) -> bool {
        match self.state.take() {
            Some(TableEntry::Occupied(o)) => {
                let (slot, vacant) = o.remove();
                account(self.stats, Footprint::of(&slot), Footprint::NONE);
                self.state = Some(TableEntry::Vacant(vacant));
                true
            }
            other => {
                self.state = other;
                false
            }
        }
    }
}

fn account(stats: &ShardStats, before: Footprint, after: Footprint) {
    adjust(&stats.keys, before.keys, after.keys);
    adjust(&stats.expires, before.expires, after.expires);
    adjust(&stats.memory, before.bytes, after.bytes);
}

/// What a set of slots contributes to a shard's counters.
#[derive(Clone, Copy)]
struct Footprint {
    keys: usize,
    expires: usize,
    bytes: usize,
}

impl Footprint {
    const NONE: Footprint = Footprint { keys: 0, expires: 0, bytes: 0 };

    fn of(slot: &Slot) -> Self {
        Footprint { keys: 1, expires: usize::from(slot.entry.expires_at().is_some()), bytes: slot.memory() }
    }

    fn add(&mut self, other: Footprint) {
        self.keys += other.keys;
        self.expires += other.expires;
        self.bytes += other.bytes;
    }
}

/// Counters are only written under the shard's write lock, so a plain
/// load-then-store cannot lose an update.
fn adjust(counter: &AtomicUsize, minus: usize, plus: usize) {
    if minus != plus {
        store_relaxed(counter, counter.load(Ordering::Relaxed).wrapping_sub(minus).wrapping_add(plus));
    }
}

fn store_relaxed(counter: &AtomicUsize, value: usize) {
    counter.store(value, Ordering::Relaxed);
}

/// A panic while a shard lock was held cannot leave the table itself torn
/// (hashbrown's operations are panic-safe), so a poisoned lock is used as is.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(table: &Table, key: &str, value: &str, expires_at: Option<u64>) {
        table.update(key.as_bytes(), 0, |slot| slot.put(value.as_bytes(), expires_at));
    }

    fn get(table: &Table, key: &str, now: u64) -> Option<Vec<u8>> {
        table.view(key.as_bytes(), now, |e| e.map(|e| e.value().to_vec()))
    }

    #[test]
    fn put_get_remove_and_counters() {
        let table = Table::new(4);
        put(&table, "a", "1", None);
        put(&table, "b", "2", Some(100));
        assert_eq!(table.len(), 2);
        assert_eq!(table.expires(), 1);
        assert_eq!(get(&table, "a", 0).as_deref(), Some(&b"1"[..]));
        assert!(table.update(b"a", 0, |slot| slot.remove()));
        assert_eq!(get(&table, "a", 0), None);
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn expired_entries_vanish_and_are_reclaimed() {
        let table = Table::new(1);
        put(&table, "k", "v", Some(100));
        assert!(get(&table, "k", 100).is_some(), "alive at its deadline");
        assert!(get(&table, "k", 101).is_none());
        assert_eq!(table.len(), 0, "a reader reclaims what it finds expired");
        assert_eq!(table.expired_total(), 1);
        put(&table, "k2", "v", Some(5));
        assert_eq!(table.lock_shard(0).remove_expired(10), 1);
        assert_eq!((table.len(), table.expires(), table.memory()), (0, 0, 0));
    }

    #[test]
    fn clear_resets_everything() {
        let table = Table::new(8);
        for i in 0..100 {
            put(&table, &i.to_string(), "v", None);
        }
        assert_eq!(table.len(), 100);
        table.clear();
        assert_eq!((table.len(), table.memory()), (0, 0));
    }

    #[test]
    fn multi_key_lock_covers_all_keys() {
        let table = Table::new(16);
        let keys: Vec<String> = (0..50).map(|i| format!("key{i}")).collect();
        table.with_keys_locked(keys.iter().map(|k| k.as_bytes()), |locked| {
            for k in &keys {
                locked.update(k.as_bytes(), 0, |slot| slot.put(b"x", None));
            }
        });
        assert_eq!(table.len(), 50);
    }
}
