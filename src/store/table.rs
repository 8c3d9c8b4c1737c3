//! The striped key table of one database.
//!
//! Keys are spread over a power-of-two number of shards, each a `RwLock`
//! over its own index and segment log (see `segment.rs`), so workers on
//! different cores rarely touch the same lock. A key is hashed once: middle
//! bits of the hash pick the shard and the same hash is handed to the
//! shard's index (which uses the low bits for the bucket and the top seven
//! as tags, so the shard bits skew neither).
//!
//! The index is a hash table of 4-byte record locations. The two top bits
//! of each location are the entry's access frequency for the clock sweep: a
//! reader bumps them with a relaxed atomic under the *read* lock, so a GET
//! never takes a write lock for bookkeeping.
//!
//! Expired entries are invisible at once; they are reclaimed on the next
//! write to the key, by a reader that finds them, or by the active sweep.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crossbeam_utils::CachePadded;
use foldhash::fast::RandomState;
use hashbrown::hash_table::{Entry as TableEntry, HashTable};

use super::ghost::Ghost;
use super::prefetch::IndexAddress;
use super::segment::{Loc, Log, LogFull, Queue, Record, LOC_MASK, MAX_SEGMENTS};
use super::watch::Watches;
use super::Pressure;
use crate::config::EvictionPolicy;
use crate::protocol::ReplyBuffer;
use crate::sync::AtomicU32;

/// Top two bits of an index slot: a saturating access counter (0-3).
const FREQ_SHIFT: u32 = 30;
const FREQ_MAX: u32 = 3;

pub fn frequency(slot: u32) -> u32 {
    slot >> FREQ_SHIFT
}

pub fn with_frequency(loc: Loc, freq: u32) -> u32 {
    (loc & LOC_MASK) | (freq.min(FREQ_MAX) << FREQ_SHIFT)
}

/// Bytes an index slot costs (4-byte location plus hashbrown's control byte).
const INDEX_SLOT_BYTES: usize = std::mem::size_of::<AtomicU32>() + 1;

/// Per-shard counters, written only under the shard's write lock and read
/// without it by INFO and DBSIZE; and, for the same reason kept outside
/// the lock, where the shard's index lives (read by the prefetch pass).
#[derive(Default)]
pub(crate) struct ShardStats {
    keys: AtomicUsize,
    expires: AtomicUsize,
    memory: AtomicUsize,
    pub(crate) expired: AtomicU64,
    pub(crate) evicted: AtomicU64,
    index_address: IndexAddress,
}

impl ShardStats {
    /// Count a key the sweep removed because it expired or was evicted.
    pub(crate) fn record_removal(&self, had_expiry: bool, expired: bool) {
        adjust(&self.keys, 1, 0);
        adjust(&self.expires, usize::from(had_expiry), 0);
        let counter = if expired { &self.expired } else { &self.evicted };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A shard's contents: the index, the records it points into, and the
/// keys recently evicted from probation.
pub struct ShardData {
    pub(crate) index: HashTable<AtomicU32>,
    pub(crate) log: Log,
    pub(crate) ghost: Ghost,
}

impl ShardData {
    fn new(segment_size: usize) -> Self {
        Self { index: HashTable::new(), log: Log::new(segment_size), ghost: Ghost::default() }
    }
}

struct Shard {
    data: RwLock<ShardData>,
    stats: ShardStats,
}

/// One database: a fixed set of shards.
pub struct Table {
    shards: Box<[CachePadded<Shard>]>,
    mask: u64,
    hasher: RandomState,
    pressure: Arc<Pressure>,
    /// This table's database number, for WATCH.
    db: usize,
    watches: Arc<Watches>,
}

/// Write access to one shard, with the bookkeeping that goes with it.
pub struct ShardGuard<'a> {
    pub(crate) data: RwLockWriteGuard<'a, ShardData>,
    pub(crate) stats: &'a ShardStats,
    pub(crate) table: &'a Table,
}

/// Hash a key the way a table with `hasher` does.
pub(crate) fn hash_key(hasher: &RandomState, key: &[u8]) -> u64 {
    hasher.hash_one(key)
}

impl Table {
    /// A table with `shards` shards (rounded up to a power of two).
    /// `segment_size` is the capacity of each shard's log segments.
    pub fn new(shards: usize, segment_size: usize, pressure: Arc<Pressure>) -> Self {
        Self::for_db(0, shards, segment_size, pressure, Arc::default(), RandomState::default())
    }

    /// A table for database `db`, reporting changes to `watches`. All the
    /// databases of a store share one `hasher`, so SWAPDB can exchange
    /// their shards as they are.
    pub fn for_db(
        db: usize,
        shards: usize,
        segment_size: usize,
        pressure: Arc<Pressure>,
        watches: Arc<Watches>,
        hasher: RandomState,
    ) -> Self {
        let count = shards.max(1).next_power_of_two();
        let shard = || Shard { data: RwLock::new(ShardData::new(segment_size)), stats: ShardStats::default() };
        Self {
            shards: (0..count).map(|_| CachePadded::new(shard())).collect(),
            mask: count as u64 - 1,
            hasher,
            pressure,
            db,
            watches,
        }
    }

    pub fn hash(&self, key: &[u8]) -> u64 {
        hash_key(&self.hasher, key)
    }

    /// Which shard holds keys with this hash.
    pub fn shard_of(&self, hash: u64) -> usize {
        ((hash >> 32) & self.mask) as usize
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Look at a key's live entry under the shard's read lock. Counts as
    /// an access for eviction.
    pub fn view<R>(&self, key: &[u8], now: u64, f: impl FnOnce(Option<EntryRef<'_>>) -> R) -> R {
        let hash = self.hash(key);
        let shard = &self.shards[self.shard_of(hash)];
        let data = read(&shard.data);
        // The record the probe matched, kept rather than decoded again.
        let mut matched = None;
        let found = data.index.find(hash, |slot| {
            let loc = slot.load(Ordering::Relaxed);
            let record = data.log.record(loc);
            let hit = record.key() == key;
            if hit {
                matched = Some((loc, record));
            }
            hit
        });
        let (Some(slot), Some((loc, record))) = (found, matched) else { return f(None) };
        if record.is_expired(now) {
            drop(data);
            let result = f(None);
            // Reclaim it now rather than waiting for the sweep.
            self.update(key, now, |_| ());
            return result;
        }
        touch(slot, loc);
        f(Some(EntryRef { record, log: &data.log, loc }))
    }

    /// First prefetch pass for a key a command will look up soon (see
    /// `store/prefetch.rs`): ask for the index lines its lookup reads,
    /// without taking the shard's lock.
    pub fn prefetch_index(&self, hash: u64) {
        self.shards[self.shard_of(hash)].stats.index_address.prefetch(hash);
    }

    /// Second pass: find the key's index slot (its lines asked for by
    /// [`Table::prefetch_index`]) and ask for the record it points at. A
    /// hint only: it takes the first slot whose tag matches, and skips a
    /// shard that is write-locked rather than wait.
    pub fn prefetch_record(&self, hash: u64) {
        let Ok(data) = self.shards[self.shard_of(hash)].data.try_read() else { return };
        if let Some(slot) = data.index.find(hash, |_| true) {
            data.log.prefetch(slot.load(Ordering::Relaxed));
        }
    }

    /// Look at several keys at one instant: the shards holding them are
    /// read-locked together (in ascending order, like
    /// [`Table::with_keys_locked`]), so a multi-key write is seen whole or
    /// not at all. `f` gets each key's entry, in key order.
    pub fn view_many(&self, keys: &[&[u8]], now: u64, mut f: impl FnMut(Option<EntryRef<'_>>)) {
        let hashed: Vec<(u64, usize)> = keys
            .iter()
            .map(|k| {
                let hash = self.hash(k);
                (hash, self.shard_of(hash))
            })
            .collect();
        let mut order: Vec<usize> = hashed.iter().map(|&(_, shard)| shard).collect();
        order.sort_unstable();
        order.dedup();
        let guards: Vec<RwLockReadGuard<'_, ShardData>> = order.iter().map(|&i| read(&self.shards[i].data)).collect();
        for (key, (hash, shard)) in keys.iter().zip(hashed) {
            let Ok(position) = order.binary_search(&shard) else { unreachable!("every key's shard is locked") };
            let data = &guards[position];
            let found = data.index.find(hash, |slot| data.log.record(slot.load(Ordering::Relaxed)).key() == *key);
            let live = found.and_then(|slot| {
                let loc = slot.load(Ordering::Relaxed);
                let record = data.log.record(loc);
                (!record.is_expired(now)).then(|| {
                    touch(slot, loc);
                    EntryRef { record, log: &data.log, loc }
                })
            });
            f(live);
        }
    }

    /// Read, create, change or delete one key under its shard's write lock.
    ///
    /// While memory is over the limit (and the excess not yet paid off),
    /// the writer first sweeps one segment of the shard it holds anyway: a
    /// bounded step that keeps the limit from being overrun before the
    /// maintenance thread catches up.
    pub fn update<R>(&self, key: &[u8], now: u64, f: impl FnOnce(&mut SlotMut<'_>) -> R) -> R {
        let hash = self.hash(key);
        let index = self.shard_of(hash);
        let mut shard = self.lock_shard(index);
        if self.pressure.in_debt() && self.may_evict_from(index) {
            self.pressure.pay(shard.evict_oldest(self.pressure.policy(), now).freed);
        }
        shard.update_hashed(hash, key, now, f)
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
        ShardGuard { data: write(&shard.data), stats: &shard.stats, table: self }
    }

    fn sum(&self, counter: impl Fn(&ShardStats) -> usize) -> usize {
        self.shards.iter().map(|s| counter(&s.stats)).sum()
    }

    /// Keys in the table, including expired ones not yet reclaimed.
    pub fn len(&self) -> usize {
        self.sum(|s| s.keys.load(Ordering::Relaxed))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys that carry an expiry.
    pub fn expires(&self) -> usize {
        self.sum(|s| s.expires.load(Ordering::Relaxed))
    }

    /// Bytes held by segments and index tables.
    pub fn memory(&self) -> usize {
        self.sum(|s| s.memory.load(Ordering::Relaxed))
    }

    /// Keys removed because their deadline passed.
    pub fn expired_total(&self) -> u64 {
        self.shards.iter().map(|s| s.stats.expired.load(Ordering::Relaxed)).sum()
    }

    /// Keys removed to stay under `max_memory`.
    pub fn evicted_total(&self) -> u64 {
        self.shards.iter().map(|s| s.stats.evicted.load(Ordering::Relaxed)).sum()
    }

    /// Call `f` with every live key of shard `index`, under its read lock.
    /// SCAN and KEYS walk the table a shard at a time with this, so each
    /// shard is seen whole at one instant.
    pub fn for_each_key(&self, index: usize, now: u64, mut f: impl FnMut(&[u8])) {
        let data = read(&self.shards[index].data);
        for slot in data.index.iter() {
            let record = data.log.record(slot.load(Ordering::Relaxed));
            if !record.is_expired(now) {
                f(record.key());
            }
        }
    }

    /// A random live key, or None if the table is empty. `seed` picks the
    /// starting shard and the position in it.
    pub fn random_key(&self, now: u64, seed: u64) -> Option<Vec<u8>> {
        let count = self.shards.len();
        (0..count).find_map(|i| {
            let data = read(&self.shards[(seed as usize).wrapping_add(i) % count].data);
            let start = (seed >> 32) as usize % data.index.len().max(1);
            let live = |slot: &AtomicU32| {
                let record = data.log.record(slot.load(Ordering::Relaxed));
                (!record.is_expired(now)).then(|| record.key().to_vec())
            };
            data.index.iter().skip(start).chain(data.index.iter().take(start)).find_map(live)
        })
    }

    /// Exchange the contents of two tables (SWAPDB), shard by shard, with
    /// both shards locked (lower database first, so two SWAPDBs cannot
    /// deadlock). Clients watching keys of either database see a change.
    pub fn swap_with(&self, other: &Table) {
        let (first, second) = if self.db <= other.db { (self, other) } else { (other, self) };
        for index in 0..self.shards.len() {
            let mut a = first.lock_shard(index);
            let mut b = second.lock_shard(index);
            std::mem::swap(&mut *a.data, &mut *b.data);
            for (x, y) in [(&a.stats.keys, &b.stats.keys), (&a.stats.expires, &b.stats.expires)] {
                let (vx, vy) = (x.load(Ordering::Relaxed), y.load(Ordering::Relaxed));
                store_relaxed(x, vy);
                store_relaxed(y, vx);
            }
            a.publish_memory();
            b.publish_memory();
        }
        self.watches.touch_db(Some(self.db));
        self.watches.touch_db(Some(other.db));
    }

    /// Tell WATCH that `key` changed.
    pub(crate) fn key_changed(&self, key: &[u8]) {
        self.watches.touch(self.db, key);
    }

    /// Whether the current policy can find anything to evict in shard
    /// `index` (a sweep that may only copy records forward is skipped).
    pub fn may_evict_from(&self, index: usize) -> bool {
        match self.pressure.policy() {
            EvictionPolicy::NoEviction => false,
            policy if policy.is_volatile() => self.shard_has_expires(index),
            _ => !self.shard_is_empty(index),
        }
    }

    /// Whether shard `index` holds no key at all (a lock-free hint).
    pub fn shard_is_empty(&self, index: usize) -> bool {
        self.shards[index].stats.keys.load(Ordering::Relaxed) == 0
    }

    /// Whether shard `index` holds any key with an expiry (a lock-free
    /// hint for the active expiry sweep).
    pub fn shard_has_expires(&self, index: usize) -> bool {
        self.shards[index].stats.expires.load(Ordering::Relaxed) > 0
    }

    /// Delete every key. Each shard's contents are swapped out under its
    /// lock and freed after the lock is released.
    pub fn clear(&self) {
        for index in 0..self.shards.len() {
            let old = self.lock_shard(index).take_all();
            drop(old);
        }
        self.watches.touch_db(Some(self.db));
        crate::memory::purge();
    }
}

/// Count an access in an index slot's frequency bits. Only the first access
/// after each sweep writes (so hot keys do not bounce a cache line), and a
/// lost race between two readers just loses one count.
fn touch(slot: &AtomicU32, current: u32) {
    let freq = frequency(current);
    if freq < FREQ_MAX {
        let _ = slot.compare_exchange(current, with_frequency(current, freq + 1), Ordering::Relaxed, Ordering::Relaxed);
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
        self.ensure_room(now);
        let stats = self.stats;
        let table = self.table;
        let ShardData { index, log, ghost } = &mut *self.data;
        let queue = if table.pressure.policy().is_lfu() && !ghost.recalls(hash) { Queue::Small } else { Queue::Main };
        let entry = index.entry(
            hash,
            |slot| log.record(slot.load(Ordering::Relaxed)).key() == key,
            |slot| hash_key(&table.hasher, log.record(slot.load(Ordering::Relaxed)).key()),
        );
        let (result, modified) = {
            let mut slot = SlotMut { key, stats, log, queue, state: Some(entry), modified: false };
            if slot.record().is_some_and(|r| r.is_expired(now)) {
                slot.remove();
                stats.expired.fetch_add(1, Ordering::Relaxed);
            }
            (f(&mut slot), slot.modified)
        };
        if modified {
            table.key_changed(key);
        }
        self.publish_memory();
        result
    }

    /// A write appends at most one segment. A shard whose log is that close
    /// to its segment-id limit (a gigabyte of records in one shard) first
    /// drops its oldest segment, whatever the policy: the shard is full.
    fn ensure_room(&mut self, now: u64) {
        while self.data.log.segment_count() + 2 > MAX_SEGMENTS {
            self.evict_oldest(EvictionPolicy::AllKeysRandom, now);
        }
    }

    /// Keep the shard's memory counter (and its index's address) in step
    /// with its contents.
    pub(crate) fn publish_memory(&self) {
        let data = &self.data;
        let bytes = data.log.footprint() + data.index.capacity() * INDEX_SLOT_BYTES + data.ghost.footprint();
        self.stats.memory.store(bytes, Ordering::Relaxed);
        self.stats.index_address.publish(&data.index);
    }

    fn take_all(&mut self) -> ShardData {
        store_relaxed(&self.stats.keys, 0);
        store_relaxed(&self.stats.expires, 0);
        store_relaxed(&self.stats.memory, 0);
        self.stats.index_address.clear();
        let index = std::mem::take(&mut self.data.index);
        let ghost = std::mem::take(&mut self.data.ghost);
        ShardData { index, log: self.data.log.take(), ghost }
    }
}

/// A read-only view of a live entry.
pub struct EntryRef<'a> {
    record: Record<'a>,
    log: &'a Log,
    loc: Loc,
}

impl EntryRef<'_> {
    pub fn value(&self) -> &[u8] {
        self.record.value()
    }

    pub fn expires_at(&self) -> Option<u64> {
        self.record.expires_at()
    }

    /// Write the value as a bulk reply (large values without copying).
    pub fn reply(&self, out: &mut ReplyBuffer) {
        match self.log.shared_value(self.loc) {
            Some(shared) => out.bulk_bytes(&shared),
            None => out.bulk(self.record.value()),
        }
    }

    /// The access counter the clock sweep reads (0-3).
    pub fn frequency(&self) -> u32 {
        frequency(self.loc)
    }

    /// Bytes the entry occupies, its index slot included.
    pub fn memory(&self) -> usize {
        self.record.len() + INDEX_SLOT_BYTES
    }
}

/// One key, write-locked: read it, create it, change it or delete it.
/// An expired entry has already been removed when a `SlotMut` is handed out.
pub struct SlotMut<'a> {
    key: &'a [u8],
    stats: &'a ShardStats,
    log: &'a mut Log,
    /// The queue a new key starts in.
    queue: Queue,
    state: Option<TableEntry<'a, AtomicU32>>,
    /// Whether the key was written or deleted (for WATCH).
    modified: bool,
}

impl SlotMut<'_> {
    fn slot(&self) -> Option<u32> {
        match &self.state {
            Some(TableEntry::Occupied(o)) => Some(o.get().load(Ordering::Relaxed)),
            _ => None,
        }
    }

    fn record(&self) -> Option<Record<'_>> {
        self.slot().map(|slot| self.log.record(slot))
    }

    pub fn exists(&self) -> bool {
        self.slot().is_some()
    }

    pub fn value(&self) -> Option<&[u8]> {
        self.slot().map(|slot| self.log.record(slot).value())
    }

    pub fn expires_at(&self) -> Option<u64> {
        self.record().and_then(|r| r.expires_at())
    }

    /// Store `value` with this deadline, replacing any previous entry.
    pub fn put(&mut self, value: &[u8], expires_at: Option<u64>) {
        self.modified = true;
        let had_expiry = self.expires_at().is_some();
        self.state = match self.state.take() {
            Some(TableEntry::Occupied(o)) => {
                let slot = o.get().load(Ordering::Relaxed);
                if !self.log.overwrite(slot, value, expires_at) {
                    let queue = self.log.queue_of(slot);
                    let Some(new) = append(self.log, queue, self.key, value, expires_at) else {
                        self.state = Some(TableEntry::Occupied(o));
                        return;
                    };
                    self.log.kill(slot);
                    o.get().store(with_frequency(new, frequency(slot)), Ordering::Relaxed);
                }
                adjust(&self.stats.expires, usize::from(had_expiry), usize::from(expires_at.is_some()));
                Some(TableEntry::Occupied(o))
            }
            Some(TableEntry::Vacant(v)) => {
                let Some(new) = append(self.log, self.queue, self.key, value, expires_at) else {
                    self.state = Some(TableEntry::Vacant(v));
                    return;
                };
                adjust(&self.stats.keys, 0, 1);
                adjust(&self.stats.expires, 0, usize::from(expires_at.is_some()));
                Some(TableEntry::Occupied(v.insert(AtomicU32::new(new))))
            }
            None => None,
        };
    }

    /// Change the deadline of an existing entry (no-op if there is none).
    pub fn set_expires_at(&mut self, at: Option<u64>) {
        let Some(slot) = self.slot() else { return };
        self.modified = true;
        let had = self.expires_at().is_some();
        if self.log.set_expiry_in_place(slot, at) {
            adjust(&self.stats.expires, usize::from(had), usize::from(at.is_some()));
            return;
        }
        // The record has no room for a deadline: write it again with one.
        let mut small = [0u8; 128];
        let value = self.log.record(slot).value();
        if let Some(copy) = small.get_mut(..value.len()) {
            copy.copy_from_slice(value);
            let len = value.len();
            return self.put(&small[..len], at);
        }
        let value = value.to_vec();
        self.put(&value, at)
    }

    /// Delete the entry; returns whether there was one.
    pub fn remove(&mut self) -> bool {
        match self.state.take() {
            Some(TableEntry::Occupied(o)) => {
                self.modified = true;
                let slot = o.get().load(Ordering::Relaxed);
                let had_expiry = self.log.record(slot).expires_at().is_some();
                self.log.kill(slot);
                let (_, vacant) = o.remove();
                adjust(&self.stats.keys, 1, 0);
                adjust(&self.stats.expires, usize::from(had_expiry), 0);
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

/// Append a record. Every writer first makes sure the shard has segment ids
/// to spare (see [`ShardGuard::ensure_room`]), so this cannot run out; if it
/// ever did, the write is dropped and logged rather than crashing the server.
fn append(log: &mut Log, queue: Queue, key: &[u8], value: &[u8], expires_at: Option<u64>) -> Option<Loc> {
    match log.append(queue, key, value, expires_at) {
        Ok(loc) => Some(loc),
        Err(LogFull) => {
            crate::log_error!("shard log full: write of a {}-byte value dropped", value.len());
            None
        }
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

/// Model checks of the one lock-free write in the table: readers bumping a
/// slot's frequency bits while holding only the shared lock. Run with
/// `RUSTFLAGS="--cfg loom" cargo test --lib loom`.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    #[test]
    fn loom_racing_readers_count_accesses_and_never_move_the_record() {
        loom::model(|| {
            let loc: Loc = 0x2bad_cafe & LOC_MASK;
            let slot = Arc::new(AtomicU32::new(with_frequency(loc, 0)));
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    let slot = Arc::clone(&slot);
                    loom::thread::spawn(move || {
                        for _ in 0..2 {
                            touch(&slot, slot.load(Ordering::Relaxed));
                        }
                    })
                })
                .collect();
            for reader in readers {
                reader.join().unwrap();
            }
            let end = slot.load(Ordering::Relaxed);
            assert_eq!(end & LOC_MASK, loc, "a reader changed the record's location");
            // Each reader's second touch sees at least one count, and its
            // CAS fails only if another reader's succeeded: no interleaving
            // loses more than that; four accesses saturate at three.
            assert!((2..=FREQ_MAX).contains(&frequency(end)), "frequency {} after four accesses", frequency(end));
        });
    }
}
