//! The keyspace: numbered databases, each a striped table whose shards keep
//! their records in a segment log, and the sweeps that give memory back
//! (expiry, compaction, eviction).

pub mod access;
pub mod arena;
pub mod boxed_table;
pub mod cursor;
pub mod events;
pub mod evict;
pub mod expiry;
pub mod ghost;
pub mod hash;
pub mod lazyfree;
pub mod list;
pub mod memo;
pub mod object;
pub mod observer;
pub mod policy;
pub mod prefetch;
pub mod ranked;
pub mod segment;
pub mod serialize;
pub mod set;
pub mod table;
pub mod watch;
pub mod zset;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::sync::Arc;

pub use evict::SweepMode;
pub use hash::Hash;
pub use list::List;
pub use object::{Collection, Kind, Object, WrongType};
pub use policy::EvictionPolicy;
pub use set::Set;
pub use table::{EntryRef, OwnedValue, SlotMut, Table};
pub use zset::ZSet;

/// Shared between the maintenance thread, which measures memory, and the
/// writers, which help evict when it says the limit is crossed.
#[derive(Default)]
pub struct Pressure {
    over_limit: AtomicBool,
    /// Bytes still to free since the last measurement. Writers that find it
    /// positive sweep a segment and pay down what they freed, so together
    /// they evict what the excess calls for, not a segment per write.
    debt: AtomicI64,
    /// Over the limit and a full eviction round freed nothing (noeviction,
    /// or volatile-* with no volatile keys): writes must be refused.
    stuck: AtomicBool,
    policy: AtomicU8,
}

impl Pressure {
    pub fn over_limit(&self) -> bool {
        self.over_limit.load(Ordering::Relaxed)
    }

    pub fn set_over_limit(&self, over: bool) {
        if self.over_limit() != over {
            self.over_limit.store(over, Ordering::Relaxed);
        }
    }

    /// Set the bytes writers should free before the next measurement.
    pub fn set_debt(&self, bytes: u64) {
        self.debt.store(i64::try_from(bytes).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    pub fn in_debt(&self) -> bool {
        self.debt.load(Ordering::Relaxed) > 0
    }

    pub fn pay(&self, freed: usize) {
        if freed > 0 {
            self.debt.fetch_sub(i64::try_from(freed).unwrap_or(i64::MAX), Ordering::Relaxed);
        }
    }

    pub fn stuck(&self) -> bool {
        self.stuck.load(Ordering::Relaxed)
    }

    pub fn set_stuck(&self, stuck: bool) {
        if self.stuck() != stuck {
            self.stuck.store(stuck, Ordering::Relaxed);
        }
    }

    pub fn policy(&self) -> EvictionPolicy {
        EvictionPolicy::ALL[usize::from(self.policy.load(Ordering::Relaxed))]
    }

    pub fn set_policy(&self, policy: EvictionPolicy) {
        let index = EvictionPolicy::ALL.iter().position(|p| *p == policy).unwrap_or(0);
        self.policy.store(index as u8, Ordering::Relaxed);
    }
}

/// All databases (SELECT 0 .. databases-1).
pub struct Store {
    dbs: Box<[Table]>,
    pub pressure: Arc<Pressure>,
    pub watches: Arc<watch::Watches>,
    /// Clients blocked on keys (BLPOP...), woken by writes that fill them.
    pub blocking: Arc<crate::blocking::Blocking>,
    /// Where every database reports keys it creates, expires and evicts
    /// (the server installs keyspace notifications there).
    pub events: Arc<events::EventSink>,
    /// Hears of every change of a key (see [`observer`]).
    pub observer: Arc<observer::Observer>,
}

impl Store {
    /// `max_memory` (0 = none) sizes the shards' log segments: see
    /// [`segment::segment_size_for`]. Blocked clients are woken through
    /// `inboxes`.
    pub fn new(databases: usize, shards_per_db: usize, max_memory: u64, inboxes: Arc<crate::inbox::Inboxes>) -> Self {
        let pressure = Arc::new(Pressure::default());
        let shards = shards_per_db.max(1).next_power_of_two();
        let segment_size = segment::segment_size_for(max_memory / shards as u64);
        let watches = Arc::new(watch::Watches::default());
        let blocking = Arc::new(crate::blocking::Blocking::new(inboxes));
        let observer = Arc::new(observer::Observer::default());
        let hasher = foldhash::fast::RandomState::default();
        let events = Arc::new(events::EventSink::default());
        let dbs = (0..databases.max(1))
            .map(|db| {
                let hooks = table::Hooks {
                    watches: Arc::clone(&watches),
                    blocking: Arc::clone(&blocking),
                    observer: Arc::clone(&observer),
                    events: Arc::clone(&events),
                };
                Table::for_db(db, shards, segment_size, Arc::clone(&pressure), hooks, hasher.clone())
            })
            .collect();
        Self { dbs, pressure, watches, blocking, observer, events }
    }

    /// The store of a cluster node: one database, slot-sharded (see
    /// [`Table::with_slot_sharding`]), with at most one shard per slot.
    pub fn for_cluster(shards_per_db: usize, max_memory: u64, inboxes: Arc<crate::inbox::Inboxes>) -> Self {
        let mut store = Self::new(1, shards_per_db.min(crate::cluster::SLOTS), max_memory, inboxes);
        let tables = std::mem::take(&mut store.dbs).into_vec();
        store.dbs = tables.into_iter().map(Table::with_slot_sharding).collect();
        store
    }

    pub fn db(&self, index: usize) -> &Table {
        &self.dbs[index]
    }

    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Table> {
        self.dbs.iter()
    }

    /// MOVE `key` from database `from` to database `to` (different ones),
    /// unless `to` has it already. Both shards are locked together, the
    /// lower database first (as SWAPDB does; with multi-key writes, which
    /// lock one database's shards in ascending order, every lock is taken
    /// in ascending (database, shard) order, so none can deadlock): no
    /// client sees the key in both databases or in neither, and a
    /// collection changes hands whole instead of being copied. Returns
    /// whether it moved; `moved` runs once it has, both shards still
    /// locked (the command reports it there, before a client blocked on
    /// the key in `to` can take it).
    pub fn move_key(&self, from: usize, to: usize, key: &[u8], now: u64, moved: impl FnOnce()) -> bool {
        let (source, target) = (self.db(from), self.db(to));
        let hash = source.hash(key);
        let shard = source.shard_of(hash);
        let (mut source, mut target) = if from < to {
            let first = source.lock_shard(shard);
            (first, target.lock_shard(shard))
        } else {
            let first = target.lock_shard(shard);
            (source.lock_shard(shard), first)
        };
        if target.update_hashed(hash, key, now, |slot| slot.exists()) {
            return false;
        }
        let taken = source.update_hashed(hash, key, now, |slot| {
            let deadline = slot.expires_at();
            slot.take().map(|value| (value, deadline))
        });
        let Some((value, deadline)) = taken else { return false };
        target.update_hashed(hash, key, now, |slot| slot.put_owned(value, deadline));
        moved();
        true
    }

    /// Delete every key of every database (`lazy`: free them in the
    /// background).
    pub fn flush_all(&self, lazy: bool) {
        self.dbs.iter().for_each(|db| db.clear_quietly(lazy));
        self.observer.keyspace_replaced();
    }

    /// Bytes held by all segments and index tables.
    pub fn memory(&self) -> usize {
        self.dbs.iter().map(Table::memory).sum()
    }

    pub fn expired_total(&self) -> u64 {
        self.dbs.iter().map(Table::expired_total).sum()
    }

    pub fn expired_elements_total(&self) -> u64 {
        self.dbs.iter().map(Table::expired_elements_total).sum()
    }

    pub fn evicted_total(&self) -> u64 {
        self.dbs.iter().map(Table::evicted_total).sum()
    }
}
