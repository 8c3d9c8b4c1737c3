//! The striped key table of one database.
//!
//! Keys are spread over a power-of-two number of shards, each a `RwLock`
//! over its own index and segment log (see `segment.rs`), so workers on
//! different cores rarely touch the same lock. A key is hashed once: middle
//! bits of the hash pick the shard and the same hash is handed to the
//! shard's index (which uses the low bits for the bucket and the top seven
//! as tags, so the shard bits skew neither).
//!
//! The index is a hash table of 8-byte slots: a record's location (30
//! bits), the entry's access frequency for the clock sweep (2 bits), and
//! the access word OBJECT IDLETIME and FREQ read (32 bits, see
//! `access.rs`). A reader updates the last two with a relaxed atomic under
//! the *read* lock, so a GET never takes a write lock for bookkeeping.
//!
//! Expired entries are invisible at once; they are reclaimed on the next
//! write to the key, by a reader that finds them, or by the active sweep.
//! The same holds for a collection's expired elements (hash fields with
//! deadlines): a collection is purged of them before any command sees it,
//! so commands never meet an expired element.
//!
//! The table hands out values, never replies: [`EntryRef`] and [`SlotMut`]
//! give a command the inline bytes of a string, the shared buffer of a
//! large one, or a collection, and the command writes what it needs.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crossbeam_utils::CachePadded;
use foldhash::fast::RandomState;
use hashbrown::hash_table::{Entry as TableEntry, HashTable};

use bytes::Bytes;

use super::access::{self, Access};
use super::cursor::Cursor;
use super::events::{Emitter, EventSink, KeyEvent};
use super::ghost::Ghost;
use super::object::{Collection, Kind, Object, Objects, WrongType};
use super::observer::Observer;
use super::prefetch::IndexAddress;
use super::segment::{Loc, Log, LogFull, Queue, Record, LOC_MASK, MAX_SEGMENTS};
use super::watch::Watches;
use super::EvictionPolicy;
use super::Pressure;
use crate::blocking::Blocking;

/// Bits 30-31 of an index slot: the clock sweep's saturating access
/// counter (0-3).
const FREQ_SHIFT: u32 = 30;
const FREQ_MAX: u32 = 3;
/// Bits 32-63: the access word (see `access.rs`).
const ACCESS_SHIFT: u32 = 32;

/// One entry of a shard's index: location, clock counter and access word
/// (see the module doc), read as one value.
/// (`crate::sync`'s atomic: loom checks the lock-free update.)
pub struct IndexSlot(crate::sync::AtomicU64);

impl IndexSlot {
    pub(crate) fn new(loc: Loc, access: Access) -> Self {
        Self(crate::sync::AtomicU64::new(with_access(u64::from(loc & LOC_MASK), access)))
    }

    /// The whole slot, for [`frequency`], [`access_of`] and [`relocated`].
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Where the entry's record is.
    pub fn loc(&self) -> Loc {
        loc_of(self.get())
    }

    /// Only under the shard's write lock (readers only ever CAS).
    pub(crate) fn set(&self, slot: u64) {
        self.0.store(slot, Ordering::Relaxed);
    }
}

pub fn loc_of(slot: u64) -> Loc {
    slot as u32 & LOC_MASK
}

/// The clock sweep's counter (0-3).
pub fn frequency(slot: u64) -> u32 {
    (slot as u32) >> FREQ_SHIFT
}

pub fn access_of(slot: u64) -> Access {
    (slot >> ACCESS_SHIFT) as Access
}

fn with_access(slot: u64, access: Access) -> u64 {
    (slot & u64::from(u32::MAX)) | (u64::from(access) << ACCESS_SHIFT)
}

/// `slot` with its record moved to `loc` and clock counter `freq`; the
/// access word stays.
pub fn relocated(slot: u64, loc: Loc, freq: u32) -> u64 {
    let low = (loc & LOC_MASK) | (freq.min(FREQ_MAX) << FREQ_SHIFT);
    with_access(u64::from(low), access_of(slot))
}

/// Bytes an index slot costs (8-byte slot plus hashbrown's control byte).
const INDEX_SLOT_BYTES: usize = std::mem::size_of::<IndexSlot>() + 1;

/// Per-shard counters, written only under the shard's write lock and read
/// without it by INFO and DBSIZE; and, for the same reason kept outside
/// the lock, where the shard's index lives (read by the prefetch pass).
#[derive(Default)]
pub(crate) struct ShardStats {
    keys: AtomicUsize,
    expires: AtomicUsize,
    /// Collections holding elements with deadlines of their own.
    volatile_objects: AtomicUsize,
    memory: AtomicUsize,
    pub(crate) expired: AtomicU64,
    /// Elements of collections (hash fields) removed because their own
    /// deadline passed.
    expired_elements: AtomicU64,
    pub(crate) evicted: AtomicU64,
    index_address: IndexAddress,
    /// Keys per hash slot when the table is slot-sharded (cluster mode,
    /// see [`Table::with_slot_sharding`]), empty otherwise: this shard
    /// holds the slots `s` with `s & mask == shard`, and counts slot `s`
    /// at `s >> slot_shift`.
    slot_keys: Box<[AtomicU32]>,
    slot_shift: u32,
}

impl ShardStats {
    /// Count a key the sweep removed because it expired or was evicted.
    pub(crate) fn record_removal(&self, hash: u64, had_expiry: bool, expired: bool) {
        self.count_key(hash, false, had_expiry);
        let counter = if expired { &self.expired } else { &self.evicted };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Count a key (whose hash is `hash`) `added` or removed, with or
    /// without a deadline. Only under the shard's write lock.
    fn count_key(&self, hash: u64, added: bool, has_expiry: bool) {
        let (minus, plus) = if added { (0, 1) } else { (1, 0) };
        adjust(&self.keys, minus, plus);
        adjust(&self.expires, minus * usize::from(has_expiry), plus * usize::from(has_expiry));
        if let Some(counter) = self.slot_keys.get(slot_of_hash(hash) >> self.slot_shift) {
            let count = counter.load(Ordering::Relaxed);
            counter.store(if added { count + 1 } else { count.saturating_sub(1) }, Ordering::Relaxed);
        }
    }
}

/// Hash bits 32 to 45: the shard (its low bits) and, in a slot-sharded
/// table, the key's hash slot (see [`Table::hash`]).
const SLOT_BITS: u64 = (crate::cluster::SLOTS as u64 - 1) << 32;

/// The hash slot a slot-sharded table put in `hash`.
pub fn slot_of_hash(hash: u64) -> usize {
    ((hash & SLOT_BITS) >> 32) as usize
}

/// A shard's contents: the index, the records it points into, and the
/// keys recently evicted from probation.
pub struct ShardData {
    pub(crate) index: HashTable<IndexSlot>,
    pub(crate) log: Log,
    pub(crate) objects: Objects,
    pub(crate) ghost: Ghost,
    /// Bumped whenever the index is rebuilt (grown or rehashed), which
    /// moves slots between buckets: SCAN cursors carry it to notice.
    pub(crate) layout: u32,
}

impl ShardData {
    fn new(segment_size: usize) -> Self {
        Self {
            index: HashTable::new(),
            log: Log::new(segment_size),
            objects: Objects::default(),
            ghost: Ghost::default(),
            layout: 0,
        }
    }
}

impl ShardData {
    /// The live (not expired) entry of `key`, whose hash is `hash`.
    fn live_entry(&self, hash: u64, key: &[u8], now: u64) -> Option<EntryRef<'_>> {
        let index_slot = self.index.find(hash, |slot| self.log.record(slot.loc()).key() == key)?;
        let slot = index_slot.get();
        let record = self.log.record(loc_of(slot));
        let entry = EntryRef { record, log: &self.log, objects: &self.objects, index_slot, slot };
        (!record.is_expired(now)).then_some(entry)
    }

    /// Whether `key` is here but expired (to be reclaimed).
    fn holds_expired(&self, hash: u64, key: &[u8], now: u64) -> bool {
        let slot = self.index.find(hash, |slot| self.log.record(slot.loc()).key() == key);
        slot.is_some_and(|slot| self.log.record(slot.loc()).is_expired(now))
    }
}

/// Free a record's collection, if it has one: in the background when it
/// is large (see `lazyfree.rs`).
pub(crate) fn free_object(objects: &mut Objects, record: &Record<'_>) {
    if let Some(handle) = record.handle() {
        free_detached(objects.remove(handle));
    }
}

/// Kill the record at `loc`, freeing its collection.
pub(crate) fn kill_record(log: &mut Log, objects: &mut Objects, loc: Loc) {
    free_object(objects, &log.record(loc));
    log.kill(loc);
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
    /// Clients blocked on keys, woken when a write fills one.
    blocking: Arc<Blocking>,
    /// Cluster mode: a key's shard follows its hash slot (see
    /// [`Table::with_slot_sharding`]).
    slot_sharded: bool,
    /// Where keys created, expired and evicted are reported.
    events: Arc<EventSink>,
    /// Told of every change (client-side caching).
    observer: Arc<Observer>,
}

/// Who hears of a table's changes; the databases of a store share them.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Clients watching keys (WATCH), dirtied by changes.
    pub watches: Arc<Watches>,
    /// Clients blocked on keys, woken when a write fills one.
    pub blocking: Arc<Blocking>,
    /// Told of every change (client-side caching).
    pub observer: Arc<Observer>,
    /// Told of the keys it creates, expires and evicts (keyspace
    /// notifications; see `events.rs`).
    pub events: Arc<EventSink>,
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
        Self::for_db(0, shards, segment_size, pressure, Hooks::default(), RandomState::default())
    }

    /// A table for database `db`, reporting to `hooks`. All the databases
    /// of a store share one `hasher`, so SWAPDB can exchange their shards
    /// as they are.
    pub fn for_db(
        db: usize,
        shards: usize,
        segment_size: usize,
        pressure: Arc<Pressure>,
        hooks: Hooks,
        hasher: RandomState,
    ) -> Self {
        let Hooks { watches, blocking, observer, events } = hooks;
        let count = shards.max(1).next_power_of_two();
        let shard = || Shard { data: RwLock::new(ShardData::new(segment_size)), stats: ShardStats::default() };
        Self {
            shards: (0..count).map(|_| CachePadded::new(shard())).collect(),
            mask: count as u64 - 1,
            hasher,
            pressure,
            db,
            watches,
            blocking,
            slot_sharded: false,
            observer,
            events,
        }
    }

    /// How this database reports key events.
    pub(crate) fn emitter(&self) -> Emitter<'_> {
        Emitter { sink: &self.events, db: self.db }
    }

    /// The table of a cluster node: a key's shard is chosen by its hash
    /// slot, so all the keys of a slot live in one shard, and the shards
    /// count their keys per slot. CLUSTER COUNTKEYSINSLOT then reads a
    /// counter, and CLUSTER GETKEYSINSLOT and the freeing of a lost slot
    /// walk one shard, not the whole keyspace. This costs nothing per key
    /// (no per-slot index to keep), and keys still spread evenly over the
    /// shards, the slots being uniform; keys sharing a hash tag share a
    /// shard, as they share a node anyway. At most [`crate::cluster::SLOTS`]
    /// shards.
    pub fn with_slot_sharding(mut self) -> Self {
        let count = self.shards.len();
        assert!(count <= crate::cluster::SLOTS, "a slot-sharded table has at most one shard per slot");
        for shard in self.shards.iter_mut() {
            shard.stats.slot_keys = (0..crate::cluster::SLOTS / count).map(|_| AtomicU32::new(0)).collect();
            shard.stats.slot_shift = count.trailing_zeros();
        }
        self.slot_sharded = true;
        self
    }

    /// The hash every structure of the table is keyed by. In a
    /// slot-sharded table, bits 32 to 45 (which pick the shard; the index
    /// within a shard uses the low bits and the top seven) are the key's
    /// hash slot instead.
    pub fn hash(&self, key: &[u8]) -> u64 {
        if self.slot_sharded {
            return self.slot_sharded_hash(key);
        }
        hash_key(&self.hasher, key)
    }

    /// [`Table::hash`] of a slot-sharded table, taken from the batch's
    /// memo when the prefetch pass computed it (see `memo.rs`).
    fn slot_sharded_hash(&self, key: &[u8]) -> u64 {
        if let Some(hash) = super::memo::recall(key) {
            return hash;
        }
        let hash = hash_key(&self.hasher, key);
        (hash & !SLOT_BITS) | (u64::from(crate::cluster::key_slot(key)) << 32)
    }

    /// Whether keys are sharded by hash slot (cluster mode).
    pub fn is_slot_sharded(&self) -> bool {
        self.slot_sharded
    }

    /// The shard holding the keys of hash slot `slot` (slot-sharded).
    pub fn shard_of_slot(&self, slot: u16) -> usize {
        usize::from(slot) & self.mask as usize
    }

    /// Keys in hash slot `slot`, including expired ones not yet reclaimed
    /// (0 unless the table is slot-sharded).
    pub fn keys_in_slot(&self, slot: u16) -> usize {
        let stats = &self.shards[self.shard_of_slot(slot)].stats;
        stats.slot_keys.get(usize::from(slot) >> stats.slot_shift).map_or(0, |n| n.load(Ordering::Relaxed) as usize)
    }

    /// Up to `count` live keys of hash slot `slot`, from the one shard that
    /// holds them (slot-sharded).
    pub fn keys_of_slot(&self, slot: u16, count: usize, now: u64) -> Vec<Vec<u8>> {
        let mut keys = Vec::new();
        if count == 0 || self.keys_in_slot(slot) == 0 {
            return keys;
        }
        let data = read(&self.shards[self.shard_of_slot(slot)].data);
        for index_slot in data.index.iter() {
            let record = data.log.record(index_slot.loc());
            if !record.is_expired(now) && crate::cluster::key_slot(record.key()) == slot {
                keys.push(record.key().to_vec());
                if keys.len() == count {
                    break;
                }
            }
        }
        keys
    }

    /// Delete every key of shard `shard` whose hash slot is in `slots`
    /// (a cluster node freeing slots it lost), a batch per hold of the
    /// shard's lock. Returns how many went.
    pub fn remove_slots(&self, shard: usize, slots: &crate::cluster::SlotSet) -> usize {
        const BATCH: usize = 4096;
        let mut removed = 0;
        loop {
            let batch = self.lock_shard(shard).remove_where(BATCH, |key| slots.contains(crate::cluster::key_slot(key)));
            removed += batch;
            if batch < BATCH {
                return removed;
            }
        }
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
        self.view_purged(key, now, true, true, f)
    }

    /// [`Table::view`] that does not count as an access (OBJECT, like
    /// Redis's `LOOKUP_NOTOUCH`), so it reads the idle time and counter
    /// as they were.
    pub fn peek<R>(&self, key: &[u8], now: u64, f: impl FnOnce(Option<EntryRef<'_>>) -> R) -> R {
        self.view_purged(key, now, true, false, f)
    }

    /// [`Table::view`]; `may_purge`: a collection with expired elements is
    /// first purged under the write lock, then looked at again (once: the
    /// purge leaves nothing expired at `now`); `touching`: count the access.
    fn view_purged<R>(
        &self,
        key: &[u8],
        now: u64,
        may_purge: bool,
        touching: bool,
        f: impl FnOnce(Option<EntryRef<'_>>) -> R,
    ) -> R {
        let hash = self.hash(key);
        let shard = &self.shards[self.shard_of(hash)];
        let data = read(&shard.data);
        // The record the probe matched, kept rather than decoded again.
        let mut matched = None;
        let found = data.index.find(hash, |slot| {
            let current = slot.get();
            let record = data.log.record(loc_of(current));
            let hit = record.key() == key;
            if hit {
                matched = Some((current, record));
            }
            hit
        });
        let (Some(slot), Some((current, record))) = (found, matched) else { return f(None) };
        if record.is_expired(now) {
            drop(data);
            let result = f(None);
            // Reclaim it now rather than waiting for the sweep.
            self.update(key, now, |_| ());
            return result;
        }
        if may_purge && needs_purge(&data.objects, &record, now) {
            drop(data);
            self.update(key, now, |_| ());
            return self.view_purged(key, now, false, touching, f);
        }
        if touching {
            touch(slot, current, now);
        }
        f(Some(EntryRef { record, log: &data.log, objects: &data.objects, index_slot: slot, slot: current }))
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
    /// shard that is write-locked rather than wait. True if the third pass
    /// may find a collection there: a shard of strings only (a plain
    /// cache) skips it, and the lock it would take.
    pub fn prefetch_record(&self, hash: u64) -> bool {
        let Ok(data) = self.shards[self.shard_of(hash)].data.try_read() else { return false };
        let Some(slot) = data.index.find(hash, |_| true) else { return false };
        data.log.prefetch(slot.loc());
        !data.objects.is_empty()
    }

    /// Third pass, for collections: the record asked for by
    /// [`Table::prefetch_record`] has arrived by now; if it holds a
    /// collection, ask for the collection's contents (a string's value
    /// is in its record, already on the way).
    pub fn prefetch_object(&self, hash: u64) {
        let Ok(data) = self.shards[self.shard_of(hash)].data.try_read() else { return };
        if let Some(slot) = data.index.find(hash, |_| true) {
            if let Some(handle) = data.log.record(slot.loc()).handle() {
                data.objects.get(handle).prefetch();
            }
        }
    }

    /// Look at several keys at one instant: the shards holding them are
    /// read-locked together (in ascending order, like
    /// [`Table::with_keys_locked`]), so a multi-key write is seen whole or
    /// not at all. `f` gets each key's entry, in key order.
    pub fn view_many(&self, keys: &[&[u8]], now: u64, f: impl FnMut(Option<EntryRef<'_>>)) {
        self.view_all(keys, now, |entries| entries.into_iter().for_each(f));
    }

    /// [`Table::view_many`], handing `f` every entry at once (a set
    /// intersection reads all its sets together).
    pub fn view_all<R>(&self, keys: &[&[u8]], now: u64, f: impl FnOnce(Vec<Option<EntryRef<'_>>>) -> R) -> R {
        self.view_all_purged(keys, now, true, f)
    }

    /// [`Table::view_all`]; `may_purge` as for [`Table::view_purged`].
    fn view_all_purged<R>(
        &self,
        keys: &[&[u8]],
        now: u64,
        may_purge: bool,
        f: impl FnOnce(Vec<Option<EntryRef<'_>>>) -> R,
    ) -> R {
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
        let guard = |shard: usize| {
            let Ok(position) = order.binary_search(&shard) else { unreachable!("every key's shard is locked") };
            &guards[position]
        };
        let live: Vec<Option<EntryRef<'_>>> =
            keys.iter().zip(&hashed).map(|(key, &(hash, shard))| guard(shard).live_entry(hash, key, now)).collect();
        // Expired keys are reclaimed first, in key order, as a write
        // would, and so are collections with expired elements.
        let stale = |key: &[u8], &(hash, shard): &(u64, usize), entry: &Option<EntryRef<'_>>| match entry {
            Some(entry) => entry.needs_purge(now),
            None => guard(shard).holds_expired(hash, key, now),
        };
        let stale_keys: Vec<&[u8]> = (keys.iter().zip(&hashed).zip(&live))
            .filter(|((key, hashed), entry)| may_purge && stale(key, hashed, entry))
            .map(|((key, _), _)| *key)
            .collect();
        if !stale_keys.is_empty() {
            drop(live);
            drop(guards);
            stale_keys.iter().for_each(|key| self.update(key, now, |_| ()));
            return self.view_all_purged(keys, now, false, f);
        }
        live.iter().flatten().for_each(|entry| entry.touch(now));
        f(live)
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

    /// Collection elements (hash fields) removed because their deadline
    /// passed (INFO's `expired_subkeys`).
    pub fn expired_elements_total(&self) -> u64 {
        self.shards.iter().map(|s| s.stats.expired_elements.load(Ordering::Relaxed)).sum()
    }

    /// Keys holding collections with elements that have deadlines (INFO
    /// keyspace's `subexpiry`).
    pub fn volatile_collections(&self) -> usize {
        self.sum(|s| s.volatile_objects.load(Ordering::Relaxed))
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
            let record = data.log.record(slot.loc());
            if !record.is_expired(now) {
                f(record.key());
            }
        }
    }

    /// One SCAN step in shard `index`: from `cursor` (see `cursor.rs`),
    /// call `f` with each live key and its type until `count` keys were
    /// seen, under the read lock for only that much work. Returns where to
    /// resume, or None when the shard is done.
    pub fn scan_shard(
        &self,
        index: usize,
        cursor: Cursor,
        count: usize,
        now: u64,
        mut f: impl FnMut(&[u8], Kind),
    ) -> Option<Cursor> {
        let data = read(&self.shards[index].data);
        super::cursor::scan(&data.index, data.layout, cursor, count, |slot| {
            let record = data.log.record(slot.loc());
            let live = !record.is_expired(now);
            if live {
                f(record.key(), record.kind());
            }
            live
        })
    }

    /// A random live key, or None if the table is empty. `seed` picks the
    /// starting shard and the position in it.
    pub fn random_key(&self, now: u64, seed: u64) -> Option<Vec<u8>> {
        let count = self.shards.len();
        (0..count).find_map(|i| {
            let data = read(&self.shards[(seed as usize).wrapping_add(i) % count].data);
            let start = (seed >> 32) as usize % data.index.len().max(1);
            let live = |slot: &IndexSlot| {
                let record = data.log.record(slot.loc());
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
            for (x, y) in a.stats.slot_keys.iter().zip(b.stats.slot_keys.iter()) {
                let (vx, vy) = (x.load(Ordering::Relaxed), y.load(Ordering::Relaxed));
                x.store(vy, Ordering::Relaxed);
                y.store(vx, Ordering::Relaxed);
            }
            a.publish_memory();
            b.publish_memory();
        }
        self.watches.touch_db(Some(self.db));
        self.watches.touch_db(Some(other.db));
        self.keys_replaced();
        other.keys_replaced();
        self.observer.keyspace_replaced();
    }

    /// Tell WATCH and the observer that `key` changed, and the clients
    /// blocked on it that it now holds a value of `kind` (if it still
    /// exists).
    pub(crate) fn key_changed(&self, key: &[u8], kind: Option<Kind>) {
        self.watches.touch(self.db, key);
        self.observer.key_changed(self.db, key);
        if let Some(kind) = kind {
            self.blocking.key_ready(self.db, key, kind);
        }
    }

    /// Every key may have changed at once (SWAPDB): wake the clients
    /// blocked on keys that now hold values.
    fn keys_replaced(&self) {
        let now = crate::clock::now_ms();
        for key in self.blocking.waited_keys(self.db) {
            if let Some(kind) = self.view(&key, now, |entry| entry.map(|e| e.kind())) {
                self.blocking.key_ready(self.db, &key, kind);
            }
        }
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
        let stats = &self.shards[index].stats;
        stats.expires.load(Ordering::Relaxed) > 0 || stats.volatile_objects.load(Ordering::Relaxed) > 0
    }

    /// Delete every key (FLUSHDB), telling the observer.
    pub fn clear(&self, lazy: bool) {
        self.clear_quietly(lazy);
        self.observer.keyspace_replaced();
    }

    /// Delete every key, telling WATCH but not the observer (FLUSHALL
    /// tells it once for all databases). Each shard's contents are
    /// swapped out under its lock and freed after the lock is released:
    /// here, or with `lazy` (FLUSHDB ASYNC) on the background thread of
    /// `lazyfree.rs`.
    pub(crate) fn clear_quietly(&self, lazy: bool) {
        for index in 0..self.shards.len() {
            let old = self.lock_shard(index).take_all();
            if lazy {
                super::lazyfree::free(old, usize::MAX);
            } else {
                drop(old);
            }
        }
        self.watches.touch_db(Some(self.db));
        if !lazy {
            crate::memory::purge();
        }
    }
}

/// Count an access at `now` in an index slot: its clock counter and its
/// access word. The slot is written only when they change (the first
/// access after each sweep, once a second, or a step of the logarithmic
/// counter), so hot keys do not bounce a cache line, and a lost race
/// between two readers just loses one count.
fn touch(slot: &IndexSlot, current: u64, now: u64) {
    let freq = (frequency(current) + 1).min(FREQ_MAX);
    let new = with_access(relocated(current, loc_of(current), freq), access::accessed(access_of(current), now));
    if new != current {
        let _ = slot.0.compare_exchange(current, new, Ordering::Relaxed, Ordering::Relaxed);
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

    /// [`Table::view_all`] for keys whose shards are held: a multi-key
    /// command reads its sources and writes its destination in one step
    /// (SINTERSTORE).
    pub fn view_all<R>(&mut self, keys: &[&[u8]], now: u64, f: impl FnOnce(Vec<Option<EntryRef<'_>>>) -> R) -> R {
        // Expired keys and elements are reclaimed first, as a write does.
        keys.iter().for_each(|key| self.update(key, now, |_| ()));
        let entries = keys
            .iter()
            .map(|key| {
                let hash = self.table.hash(key);
                let shard = self.table.shard_of(hash);
                let Some((_, guard)) = self.guards.iter().find(|(i, _)| *i == shard) else {
                    unreachable!("key's shard was not locked by with_keys_locked");
                };
                guard.data.live_entry(hash, key, now)
            })
            .collect::<Vec<_>>();
        entries.iter().flatten().for_each(|entry| entry.touch(now));
        f(entries)
    }
}

impl ShardGuard<'_> {
    /// The heart of every write: find the key (hiding and reclaiming it if
    /// it has expired) and let `f` work on it through a [`SlotMut`].
    pub fn update_hashed<R>(&mut self, hash: u64, key: &[u8], now: u64, f: impl FnOnce(&mut SlotMut<'_>) -> R) -> R {
        self.ensure_room(now);
        let stats = self.stats;
        let table = self.table;
        let ShardData { index, log, objects, ghost, layout } = &mut *self.data;
        let queue = if table.pressure.policy().is_lfu() && !ghost.recalls(hash) { Queue::Small } else { Queue::Main };
        // The index only reads the low bits and the top seven of a hash, so
        // the slot bits a slot-sharded table puts in (see `Table::hash`) need
        // not be computed again when it grows.
        let rehash = |slot: &IndexSlot| hash_key(&table.hasher, log.record(slot.loc()).key());
        // The insert below must not rebuild the index unseen by SCAN.
        super::cursor::reserve_one(index, layout, rehash);
        let entry = index.entry(hash, |slot| log.record(slot.loc()).key() == key, rehash);
        let (result, modified, kind) = {
            let events = table.emitter();
            let mut slot = SlotMut {
                key,
                hash,
                stats,
                log,
                objects,
                queue,
                now,
                state: Some(entry),
                modified: false,
                access: None,
                events,
            };
            slot.reclaim_expired(now);
            let existed = slot.exists();
            let result = f(&mut slot);
            slot.note_access(existed);
            (result, slot.modified, slot.kind())
        };
        if modified {
            table.key_changed(key, kind);
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
        let bytes = data.log.footprint()
            + data.index.capacity() * INDEX_SLOT_BYTES
            + data.ghost.footprint()
            + data.objects.memory();
        self.stats.memory.store(bytes, Ordering::Relaxed);
        store_relaxed(&self.stats.volatile_objects, data.objects.volatile());
        self.stats.index_address.publish(&data.index);
    }

    /// Delete up to `limit` keys (live or expired) for which `doomed`
    /// holds, as DEL would (WATCH sees them go); returns how many went.
    pub(crate) fn remove_where(&mut self, limit: usize, doomed: impl Fn(&[u8]) -> bool) -> usize {
        let table = self.table;
        let data = &self.data;
        let found: Vec<(u64, Loc)> = data
            .index
            .iter()
            .map(IndexSlot::loc)
            .filter(|&loc| doomed(data.log.record(loc).key()))
            .take(limit)
            .map(|loc| (table.hash(data.log.record(loc).key()), loc))
            .collect();
        let stats = self.stats;
        let ShardData { index, log, objects, .. } = &mut *self.data;
        for &(hash, loc) in &found {
            if let Ok(entry) = index.find_entry(hash, |slot| slot.loc() == loc) {
                entry.remove();
                let record = log.record(loc);
                let had_expiry = record.expires_at().is_some();
                table.key_changed(record.key(), None);
                kill_record(log, objects, loc);
                stats.count_key(hash, false, had_expiry);
            }
        }
        self.publish_memory();
        found.len()
    }

    fn take_all(&mut self) -> ShardData {
        self.stats.slot_keys.iter().for_each(|count| count.store(0, Ordering::Relaxed));
        store_relaxed(&self.stats.keys, 0);
        store_relaxed(&self.stats.expires, 0);
        store_relaxed(&self.stats.volatile_objects, 0);
        store_relaxed(&self.stats.memory, 0);
        self.stats.index_address.clear();
        let data = &mut *self.data;
        data.layout = data.layout.wrapping_add(1);
        ShardData {
            index: std::mem::take(&mut data.index),
            log: data.log.take(),
            objects: std::mem::take(&mut data.objects),
            ghost: std::mem::take(&mut data.ghost),
            layout: 0,
        }
    }
}

/// A read-only view of a live entry.
pub struct EntryRef<'a> {
    record: Record<'a>,
    log: &'a Log,
    objects: &'a Objects,
    /// The index slot, and its value as it was read (location, counters,
    /// access word).
    index_slot: &'a IndexSlot,
    slot: u64,
}

impl<'a> EntryRef<'a> {
    /// Count an access (for eviction, OBJECT IDLETIME and FREQ).
    fn touch(&self, now: u64) {
        touch(self.index_slot, self.slot, now);
    }

    /// Whether the key's collection has expired elements to purge first.
    fn needs_purge(&self, now: u64) -> bool {
        needs_purge(self.objects, &self.record, now)
    }

    pub fn kind(&self) -> Kind {
        self.record.kind()
    }

    /// A string's bytes.
    pub fn string(&self) -> Result<&'a [u8], WrongType> {
        match self.record.kind() {
            Kind::String => Ok(self.record.value()),
            _ => Err(WrongType),
        }
    }

    /// A large string's bytes as a shared buffer, to send without copying
    /// (None for a string stored in a shared segment, or a collection).
    pub fn shared_string(&self) -> Option<Bytes> {
        self.log.shared_value(loc_of(self.slot))
    }

    /// The collection the key holds (None for a string).
    pub fn object(&self) -> Option<&'a Object> {
        self.record.handle().map(|handle| self.objects.get(handle))
    }

    /// The collection of type `T` the key holds; WrongType for a string
    /// or another collection.
    pub fn collection<T: Collection>(&self) -> Result<&'a T, WrongType> {
        self.object().and_then(T::of).ok_or(WrongType)
    }

    pub fn expires_at(&self) -> Option<u64> {
        self.record.expires_at()
    }

    /// Seconds since the key was last accessed (OBJECT IDLETIME).
    pub fn idle_secs(&self, now: u64) -> u64 {
        access::idle_secs(access_of(self.slot), now)
    }

    /// The logarithmic access counter (OBJECT FREQ).
    pub fn access_counter(&self, now: u64) -> u8 {
        access::counter(access_of(self.slot), now)
    }

    /// Bytes the entry occupies: its record, its index slot and its
    /// collection, if any.
    pub fn memory(&self) -> usize {
        self.record.len() + INDEX_SLOT_BYTES + self.object().map_or(0, Object::memory)
    }

    /// A copy of the value, for COPY and MOVE.
    pub fn to_owned_value(&self) -> OwnedValue {
        match self.object() {
            Some(object) => OwnedValue::Object(object.clone()),
            None => OwnedValue::String(self.record.value().to_vec()),
        }
    }
}

/// A value taken out of the table (RENAME, MOVE) or copied (COPY), to be
/// stored again under another key with [`SlotMut::put_owned`].
pub enum OwnedValue {
    String(Vec<u8>),
    Object(Object),
}

/// Whether `record` is a collection with expired elements to purge before
/// it may be read.
pub(crate) fn needs_purge(objects: &Objects, record: &Record<'_>, now: u64) -> bool {
    record.handle().is_some_and(|handle| objects.get(handle).needs_purge(now))
}

/// One key, write-locked: read it, create it, change it or delete it.
/// An expired entry has already been removed when a `SlotMut` is handed
/// out, and a collection's expired elements purged.
pub struct SlotMut<'a> {
    key: &'a [u8],
    /// The key's hash (its hash slot, in a slot-sharded table).
    hash: u64,
    stats: &'a ShardStats,
    log: &'a mut Log,
    objects: &'a mut Objects,
    /// The queue a new key starts in.
    queue: Queue,
    /// The time of the command (a new key's access word, a write's access).
    now: u64,
    state: Option<TableEntry<'a, IndexSlot>>,
    /// Whether the key was written or deleted (for WATCH).
    modified: bool,
    /// The access word RESTORE asked for, set when `f` is done.
    access: Option<Access>,
    /// Where a key created or reclaimed here is reported.
    events: Emitter<'a>,
}

impl<'a> SlotMut<'a> {
    /// The key this slot is for.
    pub fn key(&self) -> &'a [u8] {
        self.key
    }

    fn index_slot(&self) -> Option<&IndexSlot> {
        match &self.state {
            Some(TableEntry::Occupied(o)) => Some(o.get()),
            _ => None,
        }
    }

    fn slot(&self) -> Option<Loc> {
        self.index_slot().map(IndexSlot::loc)
    }

    fn record(&self) -> Option<Record<'_>> {
        self.slot().map(|slot| self.log.record(slot))
    }

    /// Give the entry the access word RESTORE's IDLETIME and FREQ ask for
    /// (see `access.rs`) once the write is done.
    pub fn set_access(&mut self, access: Access) {
        self.access = Some(access);
    }

    /// After a command's work: a write to a key that `existed` counts as an
    /// access, as in Redis (a new key keeps the word it was created with).
    fn note_access(&self, existed: bool) {
        let Some(slot) = self.index_slot() else { return };
        let current = slot.get();
        match self.access {
            Some(access) => slot.set(with_access(current, access)),
            None if existed && self.modified => {
                slot.set(with_access(current, access::accessed(access_of(current), self.now)));
            }
            None => {}
        }
    }

    /// Remove an expired entry, or the expired elements of a collection
    /// (and the collection, if that empties it).
    fn reclaim_expired(&mut self, now: u64) {
        let Some(record) = self.record() else { return };
        if record.is_expired(now) {
            self.remove();
            self.stats.expired.fetch_add(1, Ordering::Relaxed);
            self.events.emit(KeyEvent::Expired, self.key);
            return;
        }
        let Some(handle) = record.handle().filter(|_| needs_purge(self.objects, &record, now)) else { return };
        self.modified = true;
        let (purged, emptied) = self.objects.update(handle, |object| (object.purge_expired(now), object.is_empty()));
        self.stats.expired_elements.fetch_add(purged as u64, Ordering::Relaxed);
        if emptied {
            self.remove();
        }
        if purged > 0 {
            self.events.emit(KeyEvent::ElementsExpired { emptied }, self.key);
        }
    }

    pub fn exists(&self) -> bool {
        self.slot().is_some()
    }

    pub fn kind(&self) -> Option<Kind> {
        self.record().map(|r| r.kind())
    }

    /// The string at this key: `Ok(None)` if there is no key.
    pub fn string(&self) -> Result<Option<&[u8]>, WrongType> {
        match self.record() {
            Some(record) if record.kind() == Kind::String => Ok(Some(record.value())),
            Some(_) => Err(WrongType),
            None => Ok(None),
        }
    }

    pub fn expires_at(&self) -> Option<u64> {
        self.record().and_then(|r| r.expires_at())
    }

    /// Change the collection of type `T` at this key, creating an empty
    /// one first if there is no key and `create` is set. `f` returns its
    /// result and whether it changed the collection. A collection left
    /// empty is deleted: a collection never exists empty. `Ok(None)`: no
    /// key, and none created.
    pub fn update_collection<T: Collection, R>(
        &mut self,
        create: bool,
        f: impl FnOnce(&mut T) -> (R, bool),
    ) -> Result<Option<R>, WrongType> {
        let handle = match self.record().map(|r| (r.kind(), r.handle())) {
            Some((kind, handle)) if kind == T::KIND => handle,
            Some(_) => return Err(WrongType),
            None if create => {
                self.put_owned(OwnedValue::Object(T::default().into()), None);
                self.record().and_then(|r| r.handle())
            }
            None => return Ok(None),
        };
        let Some(handle) = handle else { return Ok(None) };
        let (result, changed, empty) = self.objects.update(handle, |object| {
            let Some(collection) = T::of_mut(object) else { unreachable!("the record says {}", T::KIND.name()) };
            let (result, changed) = f(collection);
            (result, changed, object.is_empty())
        });
        self.modified |= changed;
        if empty {
            self.remove();
        }
        Ok(Some(result))
    }

    /// Store the string `value` with this deadline, replacing any previous
    /// entry of any type.
    pub fn put(&mut self, value: &[u8], expires_at: Option<u64>) {
        if let Some(slot) = self.slot() {
            let had_expiry = self.expires_at().is_some();
            // In place when the old value is a string of the same size.
            if self.log.overwrite(slot, value, expires_at) {
                self.modified = true;
                adjust(&self.stats.expires, usize::from(had_expiry), usize::from(expires_at.is_some()));
                return;
            }
        }
        self.write(Kind::String, value, expires_at);
    }

    /// Store a value taken or copied from another key, replacing any
    /// previous entry.
    pub fn put_owned(&mut self, value: OwnedValue, expires_at: Option<u64>) {
        match value {
            OwnedValue::String(bytes) => self.put(&bytes, expires_at),
            OwnedValue::Object(object) => {
                let kind = object.kind();
                let handle = self.objects.insert(object);
                if !self.write(kind, &handle.to_le_bytes(), expires_at) {
                    free_detached(self.objects.remove(handle));
                }
            }
        }
    }

    /// Take the value out and delete the key (RENAME, MOVE).
    pub fn take(&mut self) -> Option<OwnedValue> {
        let record = self.record()?;
        let value = match record.handle() {
            Some(handle) => OwnedValue::Object(self.objects.remove(handle)),
            None => OwnedValue::String(record.value().to_vec()),
        };
        self.delete(false);
        Some(value)
    }

    /// Write a new record for this key, of `kind` with `value` bytes (a
    /// string, or a collection's handle), in place of the old one, whose
    /// collection is freed. Returns false if the log had no room.
    fn write(&mut self, kind: Kind, value: &[u8], expires_at: Option<u64>) -> bool {
        self.write_record(kind, value, expires_at, true)
    }

    /// [`SlotMut::write`]; `free_old`: whether the old record's collection
    /// goes (not when the new record holds the same handle).
    fn write_record(&mut self, kind: Kind, value: &[u8], expires_at: Option<u64>, free_old: bool) -> bool {
        self.modified = true;
        let had_expiry = self.expires_at().is_some();
        let (state, written) = match self.state.take() {
            Some(TableEntry::Occupied(o)) => {
                let current = o.get().get();
                let slot = loc_of(current);
                let queue = self.log.queue_of(slot);
                let Some(new) = append(self.log, queue, self.key, kind, value, expires_at) else {
                    self.state = Some(TableEntry::Occupied(o));
                    return false;
                };
                if free_old {
                    kill_record(self.log, self.objects, slot);
                } else {
                    self.log.kill(slot);
                }
                o.get().set(relocated(current, new, frequency(current)));
                adjust(&self.stats.expires, usize::from(had_expiry), usize::from(expires_at.is_some()));
                (Some(TableEntry::Occupied(o)), true)
            }
            Some(TableEntry::Vacant(v)) => {
                let Some(new) = append(self.log, self.queue, self.key, kind, value, expires_at) else {
                    self.state = Some(TableEntry::Vacant(v));
                    return false;
                };
                self.stats.count_key(self.hash, true, expires_at.is_some());
                let slot = IndexSlot::new(new, access::created(self.now));
                self.events.emit(KeyEvent::Created, self.key);
                (Some(TableEntry::Occupied(v.insert(slot))), true)
            }
            None => (None, false),
        };
        self.state = state;
        written
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
        let record = self.log.record(slot);
        let kind = record.kind();
        let mut small = [0u8; 128];
        let value = record.value();
        if let Some(copy) = small.get_mut(..value.len()) {
            copy.copy_from_slice(value);
            let len = value.len();
            self.write_record(kind, &small[..len], at, false);
            return;
        }
        // The same kind and value bytes: for a collection, the same handle.
        let value = value.to_vec();
        self.write_record(kind, &value, at, false);
    }

    /// Delete the entry; returns whether there was one.
    pub fn remove(&mut self) -> bool {
        self.delete(true)
    }

    /// Delete the entry, freeing its collection unless [`SlotMut::take`]
    /// has already taken it out of the arena.
    fn delete(&mut self, free: bool) -> bool {
        match self.state.take() {
            Some(TableEntry::Occupied(o)) => {
                self.modified = true;
                let slot = o.get().loc();
                let had_expiry = self.log.record(slot).expires_at().is_some();
                if free {
                    kill_record(self.log, self.objects, slot);
                } else {
                    self.log.kill(slot);
                }
                let (_, vacant) = o.remove();
                self.stats.count_key(self.hash, false, had_expiry);
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

/// Free a collection that is no longer in any arena.
fn free_detached(object: Object) {
    let elements = object.len();
    super::lazyfree::free(object, elements);
}

/// Append a record. Every writer first makes sure the shard has segment ids
/// to spare (see [`ShardGuard::ensure_room`]), so this cannot run out; if it
/// ever did, the write is dropped and logged rather than crashing the server.
fn append(log: &mut Log, queue: Queue, key: &[u8], kind: Kind, value: &[u8], expires_at: Option<u64>) -> Option<Loc> {
    match log.append(queue, key, kind, value, expires_at) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{key_slot, SlotSet};

    fn sharded() -> Table {
        Table::new(4, 4096, Arc::default()).with_slot_sharding()
    }

    fn put(table: &Table, key: &str, ttl: Option<u64>) {
        table.update(key.as_bytes(), 0, |slot| slot.put(b"v", ttl));
    }

    #[test]
    fn a_slot_lives_in_one_shard_and_is_counted() {
        let table = sharded();
        let keys: Vec<String> = (0..200).map(|i| format!("{{tag}}:{i}")).collect();
        keys.iter().for_each(|key| put(&table, key, None));
        put(&table, "other", Some(1));
        let slot = key_slot(b"tag");
        assert_eq!(table.keys_in_slot(slot), 200);
        assert_eq!(table.keys_in_slot(key_slot(b"other")), 1);
        assert_eq!(table.shard_of(table.hash(b"{tag}:7")), table.shard_of_slot(slot));
        let mut found = table.keys_of_slot(slot, 1000, 0);
        found.sort();
        let mut expected: Vec<Vec<u8>> = keys.iter().map(|k| k.as_bytes().to_vec()).collect();
        expected.sort();
        assert_eq!(found, expected);
        assert_eq!(table.keys_of_slot(slot, 5, 0).len(), 5);
        assert!(table.keys_of_slot(key_slot(b"other"), 10, 2).is_empty(), "expired keys are not listed");
        table.update(b"{tag}:0", 0, |slot| slot.remove());
        assert_eq!(table.keys_in_slot(slot), 199);
        table.update(b"other", 5, |_| ());
        assert_eq!(table.keys_in_slot(key_slot(b"other")), 0, "an expired key reclaimed is uncounted");
    }

    #[test]
    fn removing_slots_deletes_only_their_keys() {
        let table = sharded();
        (0..500).for_each(|i| put(&table, &format!("k{i}"), None));
        let mut doomed = SlotSet::default();
        let victim = key_slot(b"k1");
        doomed.insert(victim);
        let before = table.len();
        let removed = table.remove_slots(table.shard_of_slot(victim), &doomed);
        assert!(removed >= 1);
        assert_eq!(table.len(), before - removed);
        assert_eq!(table.keys_in_slot(victim), 0);
        assert!(table.view(b"k1", 0, |e| e.is_none()));
        assert!(table.view(b"k2", 0, |e| e.is_some()) || key_slot(b"k2") == victim);
        table.clear(false);
        assert_eq!(table.keys_in_slot(key_slot(b"k2")), 0);
    }

    #[test]
    fn plain_tables_count_no_slots() {
        let table = Table::new(4, 4096, Arc::default());
        put(&table, "foo", None);
        assert_eq!(table.keys_in_slot(key_slot(b"foo")), 0);
    }
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
            let now = 1_700_000_000_000;
            let slot = Arc::new(IndexSlot::new(loc, access::created(now)));
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    let slot = Arc::clone(&slot);
                    loom::thread::spawn(move || {
                        for _ in 0..2 {
                            touch(&slot, slot.get(), now);
                        }
                    })
                })
                .collect();
            for reader in readers {
                reader.join().unwrap();
            }
            let end = slot.get();
            assert_eq!(loc_of(end), loc, "a reader changed the record's location");
            assert!(access::counter(access_of(end), now) > access::COUNTER_INIT, "no access was counted");
            // Each reader's second touch sees at least one count, and its
            // CAS fails only if another reader's succeeded: no interleaving
            // loses more than that; four accesses saturate at three.
            assert!((2..=FREQ_MAX).contains(&frequency(end)), "frequency {} after four accesses", frequency(end));
        });
    }
}
