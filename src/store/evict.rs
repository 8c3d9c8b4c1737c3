//! The clock sweep: how a shard gives memory back.
//!
//! A shard's segments form two FIFO queues (see `segment.rs`). The sweep
//! takes the oldest segment of one of them and decides, record by record,
//! what happens to it:
//!
//! - dead records (overwritten or deleted) and expired ones are dropped;
//! - in the main queue, under an eviction policy, a record that was read
//!   since the last pass (frequency bits above zero) is copied to the head
//!   and its frequency lowered; one that was not is evicted. This is CLOCK,
//!   also called FIFO-reinsertion, which beats LRU's miss ratio on most
//!   production traces (HotOS'23): allkeys-lru clears the counter, the LFU
//!   policies lower it by one (the 2-bit counter of S3-FIFO's main queue);
//! - under the LFU policies new keys start in the small queue, about a
//!   tenth of the shard, and the sweep takes from it while it is over that
//!   share. A record read while there moves to the main queue; one that
//!   was not is evicted at once and its hash remembered by the ghost (see
//!   `ghost.rs`), so that if it comes back soon it is admitted to the main
//!   queue directly. This is S3-FIFO (SOSP'23): one-hit wonders, most keys
//!   of a cache trace, leave after a short stay instead of a whole trip
//!   through the cache. On the Zipf traces of `scripts/hit-ratio` it beats
//!   both CLOCK and Redis's allkeys-lfu, hence the default policy;
//! - when only compacting, every live record stays in its queue.
//!
//! The segment is then freed whole. A pass holds the shard's write lock for
//! one segment (at most 64 KiB of records), so no client ever waits behind
//! a scan of the whole shard.

use super::events::KeyEvent;
use super::segment::{loc, Loc, Log, LogFull, Queue};
use super::table::{free_object, frequency, kill_record, needs_purge, relocated, IndexSlot, ShardData, ShardGuard};
use super::EvictionPolicy;

/// What a sweep pass may do with live records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepMode {
    /// Keep every live record: reclaim dead and expired bytes only.
    Compact,
    /// Evict according to the policy.
    Evict(EvictionPolicy),
}

/// The small queue's share of a shard's segment bytes, in percent.
const SMALL_QUEUE_PERCENT: usize = 10;

/// The verdict on one live record.
enum Verdict {
    /// Copy it to the head of this queue with this frequency.
    Keep(Queue, u32),
    Evict,
}

impl SweepMode {
    /// What happens to a live record swept from queue `from`.
    fn judge(self, from: Queue, freq: u32, expires_at: Option<u64>, ttl_cutoff: u64) -> Verdict {
        use EvictionPolicy::*;
        let SweepMode::Evict(policy) = self else { return Verdict::Keep(from, freq) };
        if policy.is_volatile() && expires_at.is_none() {
            return Verdict::Keep(Queue::Main, freq);
        }
        let kept = match policy {
            NoEviction => Some(freq),
            AllKeysRandom | VolatileRandom => None,
            VolatileTtl => expires_at.is_some_and(|at| at >= ttl_cutoff).then_some(freq),
            // Read while on probation: promoted, to earn its counter anew.
            _ if from == Queue::Small => (freq > 0).then_some(0),
            AllKeysLru | VolatileLru => (freq > 0).then_some(0),
            AllKeysLfu | VolatileLfu => (freq > 0).then(|| freq - 1),
        };
        kept.map_or(Verdict::Evict, |freq| Verdict::Keep(Queue::Main, freq))
    }
}

/// The queue an eviction pass under `policy` takes from: the small queue
/// while it holds more than its share (or anything, once the policy no
/// longer puts new keys there), else the main queue.
fn queue_to_evict(log: &Log, policy: EvictionPolicy) -> Queue {
    let small = log.queue_footprint(Queue::Small);
    let share = if policy.is_lfu() { log.footprint() / 100 * SMALL_QUEUE_PERCENT } else { 0 };
    if small > share || (small > 0 && log.queue_footprint(Queue::Main) == 0) {
        Queue::Small
    } else {
        Queue::Main
    }
}

/// Deadlines sampled from a shard to pick volatile-ttl's cutoff.
const TTL_SAMPLE: usize = 64;

/// For volatile-ttl: records whose deadline is below the returned cutoff
/// are evicted. It is the median deadline among volatile keys sampled from
/// the whole shard, so a pass evicts what expires sooner than most and
/// keeps long-lived keys even when they sit in the oldest segment (and all
/// of them when most share the earliest deadline, so a pass progresses).
fn ttl_cutoff(data: &ShardData, mode: SweepMode) -> u64 {
    if mode != SweepMode::Evict(EvictionPolicy::VolatileTtl) {
        return 0;
    }
    let mut deadlines: Vec<u64> =
        data.index.iter().filter_map(|slot| data.log.record(slot.loc()).expires_at()).take(TTL_SAMPLE).collect();
    let Some(&earliest) = deadlines.iter().min() else { return 0 };
    let middle = deadlines.len() / 2;
    let median = *deadlines.select_nth_unstable(middle).1;
    if median == earliest {
        median + 1
    } else {
        median
    }
}

/// One sweep of one segment: where it comes from and how to judge.
#[derive(Clone, Copy)]
struct Pass {
    from: Queue,
    mode: SweepMode,
    now: u64,
    ttl_cutoff: u64,
}

impl Pass {
    /// Whether keys this pass evicts are remembered by the ghost: those
    /// that leave probation unread under a policy that has one.
    fn remembers_evictions(&self) -> bool {
        self.from == Queue::Small && matches!(self.mode, SweepMode::Evict(policy) if policy.is_lfu())
    }
}

/// What one sweep achieved.
#[derive(Clone, Copy, Debug, Default)]
pub struct Swept {
    /// Bytes given back to the allocator.
    pub freed: usize,
    /// Whether it brought any record closer to eviction (evicted it, lowered
    /// its counter, promoted it out of probation) or freed memory. A sweep
    /// that only copies records forward unchanged cannot free anything by
    /// being repeated: the policy has nothing to evict there.
    pub progressed: bool,
}

impl ShardGuard<'_> {
    /// Evict from the shard: sweep the oldest segment of the queue the
    /// policy says (see [`queue_to_evict`]).
    pub fn evict_oldest(&mut self, policy: EvictionPolicy, now: u64) -> Swept {
        let queue = queue_to_evict(&self.data.log, policy);
        self.sweep_oldest(queue, SweepMode::Evict(policy), now)
    }

    /// Sweep the oldest segment of `queue`.
    pub fn sweep_oldest(&mut self, queue: Queue, mode: SweepMode, now: u64) -> Swept {
        let before = self.data.log.footprint();
        let ttl_cutoff = ttl_cutoff(&self.data, mode);
        let Some((id, segment)) = self.data.log.take_oldest(queue) else { return Swept::default() };
        let pass = Pass { from: queue, mode, now, ttl_cutoff };
        let mut progressed = false;
        if segment.is_jumbo() {
            // A jumbo segment holds one record: keep the segment itself (no
            // copy) or drop it. A dead one is just dropped, and counted.
            // (A jumbo record is always a string: collections live out of line.)
            let live = segment.records().next().map(|(_, record)| (record.key().to_vec(), record.expires_at()));
            if let Some((key, expires_at)) = live {
                let requeue = |log: &mut Log, to| log.requeue(segment, to);
                progressed = self.settle(loc(id, 0), &key, None, expires_at, pass, requeue);
            }
        } else {
            for (offset, record) in segment.records() {
                let (key, value, expires_at) = (record.key(), record.value(), record.expires_at());
                let store = |log: &mut Log, to| log.append(to, key, record.kind(), value, expires_at);
                progressed |= self.settle(loc(id, offset), key, Some(&record), expires_at, pass, store);
            }
        }
        self.publish_memory();
        let freed = before.saturating_sub(self.data.log.footprint());
        Swept { freed, progressed: progressed || freed > 0 }
    }

    /// Judge the record of `key` that was at `old` and carry the verdict
    /// out: `store` it again at the head of a queue, its index entry moved
    /// along, or evict it. A record the index no longer points at (an
    /// older version of a key written since) is dead and just dropped.
    /// An evicted record's collection is freed with it (`record`: the
    /// record read from the detached segment, None for a jumbo string).
    /// Returns whether the record is closer to eviction than it was.
    fn settle(
        &mut self,
        old: Loc,
        key: &[u8],
        record: Option<&super::segment::Record<'_>>,
        expires_at: Option<u64>,
        pass: Pass,
        store: impl FnOnce(&mut Log, Queue) -> Result<Loc, LogFull>,
    ) -> bool {
        let table = self.table;
        let hash = table.hash(key);
        let stats = self.stats;
        let ShardData { index, log, objects, ghost, .. } = &mut *self.data;
        let Ok(entry) = index.find_entry(hash, |slot| slot.loc() == old) else {
            return false;
        };
        let expired = expires_at.is_some_and(|at| pass.now > at);
        let slot = entry.get().get();
        let verdict = if expired {
            Verdict::Evict
        } else {
            pass.mode.judge(pass.from, frequency(slot), expires_at, pass.ttl_cutoff)
        };
        if let Verdict::Keep(queue, freq) = verdict {
            if let Ok(new) = store(log, queue) {
                entry.get().set(relocated(slot, new, freq));
                return queue != pass.from || freq < frequency(slot);
            }
        }
        entry.remove();
        if let Some(record) = record {
            free_object(objects, record);
        }
        if pass.remembers_evictions() && !expired {
            ghost.remember(hash, index.len());
        }
        stats.record_removal(hash, expires_at.is_some(), expired);
        table.key_changed(key, None);
        table.emitter().emit(if expired { KeyEvent::Expired } else { KeyEvent::Evicted }, key);
        true
    }

    /// Compact a queue in which more than half of the bytes are dead: sweep
    /// its oldest segment, keeping all live records. Returns whether it did
    /// anything.
    pub fn compact_if_sparse(&mut self, now: u64) -> bool {
        let log = &self.data.log;
        let sparse = [Queue::Small, Queue::Main].into_iter().find(|&queue| {
            log.segment_count() > 1 && {
                let (live, dead) = log.live_and_dead_bytes(queue);
                dead > live
            }
        });
        if let Some(queue) = sparse {
            self.sweep_oldest(queue, SweepMode::Compact, now);
        }
        sparse.is_some()
    }

    /// Remove every expired record in this shard, and the expired elements
    /// of its collections (hash fields with deadlines); returns how many
    /// keys went.
    pub fn remove_expired(&mut self, now: u64) -> usize {
        let table = self.table;
        let data = &self.data;
        let mut expired = Vec::new();
        let mut to_purge = Vec::new();
        for loc in data.index.iter().map(IndexSlot::loc) {
            let record = data.log.record(loc);
            if record.is_expired(now) {
                expired.push((table.hash(record.key()), loc));
            } else if needs_purge(&data.objects, &record, now) {
                to_purge.push(record.key().to_vec());
            }
        }
        let stats = self.stats;
        let ShardData { index, log, objects, .. } = &mut *self.data;
        for &(hash, old) in &expired {
            if let Ok(entry) = index.find_entry(hash, |slot| slot.loc() == old) {
                entry.remove();
                table.key_changed(log.record(old).key(), None);
                table.emitter().emit(KeyEvent::Expired, log.record(old).key());
                kill_record(log, objects, old);
                stats.record_removal(hash, true, true);
            }
        }
        let mut emptied = 0;
        for key in &to_purge {
            // Purged by the write path, which also deletes a collection it
            // leaves empty.
            let hash = table.hash(key);
            let existed = self.update_hashed(hash, key, now, |slot| slot.exists());
            emptied += usize::from(!existed);
        }
        self.publish_memory();
        expired.len() + emptied
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::segment::SEGMENT_SIZE;
    use crate::store::Table;

    fn fill(table: &Table, count: usize, value_len: usize, ttl: Option<u64>) {
        let value = vec![b'v'; value_len];
        for i in 0..count {
            table.update(format!("key:{i}").as_bytes(), 0, |slot| slot.put(&value, ttl));
        }
    }

    fn exists(table: &Table, key: &str) -> bool {
        table.view(key.as_bytes(), 0, |e| e.is_some())
    }

    fn sweep_all(table: &Table, policy: EvictionPolicy, passes: usize) -> usize {
        (0..passes).map(|_| table.lock_shard(0).evict_oldest(policy, 0).freed).sum()
    }

    fn queue_of(table: &Table, key: &str) -> Option<Queue> {
        let shard = table.lock_shard(0);
        let data = &shard.data;
        let hash = table.hash(key.as_bytes());
        let slot = data.index.find(hash, |slot| data.log.record(slot.loc()).key() == key.as_bytes());
        slot.map(|slot| data.log.queue_of(slot.loc()))
    }

    fn lfu_table() -> Table {
        let pressure = std::sync::Arc::new(crate::store::Pressure::default());
        pressure.set_policy(EvictionPolicy::AllKeysLfu);
        Table::new(1, 4096, pressure)
    }

    #[test]
    fn lfu_keys_on_probation_move_on_only_if_read() {
        let table = lfu_table();
        fill(&table, 100, 100, None);
        assert_eq!(queue_of(&table, "key:0"), Some(Queue::Small), "new keys start on probation");
        for i in (0..100).step_by(2) {
            assert!(exists(&table, &format!("key:{i}")));
        }
        // Nothing in the main queue yet: every pass takes from probation.
        while table.lock_shard(0).data.log.queue_footprint(Queue::Small) > 0 {
            sweep_all(&table, EvictionPolicy::AllKeysLfu, 1);
        }
        assert!((0..100).step_by(2).all(|i| queue_of(&table, &format!("key:{i}")) == Some(Queue::Main)));
        assert!((1..100).step_by(2).all(|i| !exists(&table, &format!("key:{i}"))), "unread keys leave at once");
        assert_eq!(table.evicted_total(), 50);
    }

    #[test]
    fn lfu_admits_keys_the_ghost_recalls_to_the_main_queue() {
        let table = lfu_table();
        let value = vec![b'v'; 100];
        table.update(b"back", 0, |slot| slot.put(&value, None));
        sweep_all(&table, EvictionPolicy::AllKeysLfu, 1);
        assert_eq!(table.len(), 0, "evicted from probation unread");
        table.update(b"back", 0, |slot| slot.put(&value, None));
        table.update(b"never-seen", 0, |slot| slot.put(&value, None));
        assert_eq!(queue_of(&table, "back"), Some(Queue::Main), "evicted a moment ago, and back");
        assert_eq!(queue_of(&table, "never-seen"), Some(Queue::Small));
    }

    #[test]
    fn lfu_sweeps_probation_only_while_over_its_share() {
        let table = lfu_table();
        // Ten segments of keys, all read: they go to the main queue.
        fill(&table, 400, 100, None);
        (0..400).for_each(|i| assert!(exists(&table, &format!("key:{i}"))));
        while table.lock_shard(0).data.log.queue_footprint(Queue::Small) > 0 {
            sweep_all(&table, EvictionPolicy::AllKeysLfu, 1);
        }
        // A few new keys: well under a tenth of the shard.
        let value = vec![b'v'; 100];
        table.update(b"new", 0, |slot| slot.put(&value, None));
        sweep_all(&table, EvictionPolicy::AllKeysLfu, 1);
        assert!(exists(&table, "new"), "the main queue is swept while probation is under its share");
    }

    #[test]
    fn lfu_lowers_counters_in_the_main_queue_one_pass_at_a_time() {
        let table = Table::new(1, 4096, Default::default());
        fill(&table, 100, 100, None);
        for _ in 0..3 {
            assert!(exists(&table, "key:0"));
        }
        assert!(exists(&table, "key:1"));
        evict_until_gone(&table, "key:1");
        assert!(exists_quietly(&table, "key:0"), "read three times, it outlives a key read once");
        assert!(evict_until_gone(&table, "key:0") > 0, "but goes in the end");
    }

    /// Sweep until `key` is gone; returns the passes it took.
    fn evict_until_gone(table: &Table, key: &str) -> usize {
        let mut passes = 0;
        while exists_quietly(table, key) {
            sweep_all(table, EvictionPolicy::AllKeysLfu, 1);
            passes += 1;
            assert!(passes < 1000, "{key} is never evicted");
        }
        passes
    }

    /// Whether a key is there, without counting an access.
    fn exists_quietly(table: &Table, key: &str) -> bool {
        queue_of(table, key).is_some()
    }

    #[test]
    fn lru_keeps_what_was_read_and_evicts_the_rest() {
        let table = Table::new(1, SEGMENT_SIZE, Default::default());
        fill(&table, 1000, 200, None);
        for i in (0..1000).step_by(10) {
            assert!(exists(&table, &format!("key:{i}")));
        }
        // Sweep every segment but the head, which the survivors go to.
        let segments = table.lock_shard(0).data.log.segment_count();
        let freed = sweep_all(&table, EvictionPolicy::AllKeysLru, segments - 1);
        assert!(freed > 0);
        assert!((0..1000).step_by(10).all(|i| exists(&table, &format!("key:{i}"))), "every key read survives");
        let evicted = table.evicted_total() as usize;
        assert!(evicted > 700, "unread keys in swept segments go: {evicted}");
        assert_eq!(table.len(), 1000 - evicted);
    }

    #[test]
    fn volatile_policies_spare_keys_without_ttl() {
        let table = Table::new(1, SEGMENT_SIZE, Default::default());
        fill(&table, 200, 500, None);
        let value = vec![b'x'; 500];
        for i in 0..200 {
            table.update(format!("ttl:{i}").as_bytes(), 0, |slot| slot.put(&value, Some(1_000_000)));
        }
        let segments = table.lock_shard(0).data.log.segment_count();
        sweep_all(&table, EvictionPolicy::VolatileLru, segments);
        assert!((0..200).all(|i| exists(&table, &format!("key:{i}"))));
        assert!((0..200).all(|i| !exists(&table, &format!("ttl:{i}"))));
    }

    #[test]
    fn volatile_ttl_evicts_the_soonest_deadlines_first() {
        let table = Table::new(1, 4096, Default::default());
        let value = vec![b'x'; 100];
        for i in 0..100u64 {
            table.update(format!("long{i}").as_bytes(), 0, |slot| slot.put(&value, Some(1_000_000 + i)));
        }
        for i in 0..300u64 {
            table.update(format!("short{i}").as_bytes(), 0, |slot| slot.put(&value, Some(10_000 + i)));
        }
        let segments = table.lock_shard(0).data.log.segment_count();
        sweep_all(&table, EvictionPolicy::VolatileTtl, segments - 1);
        assert!((0..100).all(|i| exists(&table, &format!("long{i}"))), "long-lived keys stay, though oldest");
        assert!(table.evicted_total() > 100);
    }

    #[test]
    fn compaction_keeps_live_records_and_frees_dead_space() {
        let table = Table::new(1, SEGMENT_SIZE, Default::default());
        fill(&table, 1000, 300, None);
        for i in (0..1000).filter(|i| i % 3 != 0) {
            table.update(format!("key:{i}").as_bytes(), 0, |slot| slot.remove());
        }
        let before = table.memory();
        while table.lock_shard(0).compact_if_sparse(0) {}
        assert!(table.memory() < before);
        assert_eq!(table.len(), 334);
        assert!((0..1000).filter(|i| i % 3 == 0).all(|i| exists(&table, &format!("key:{i}"))));
    }

    #[test]
    fn expired_records_are_reclaimed() {
        let table = Table::new(1, SEGMENT_SIZE, Default::default());
        fill(&table, 100, 10, Some(5));
        fill(&table, 50, 10, None);
        assert_eq!(table.lock_shard(0).remove_expired(10), 50, "the second fill rewrote 50 keys without a ttl");
        assert_eq!((table.len(), table.expires(), table.expired_total()), (50, 0, 50));
    }

    #[test]
    fn jumbo_records_survive_or_go_whole() {
        let table = Table::new(1, SEGMENT_SIZE, Default::default());
        let big = vec![b'b'; 100_000];
        table.update(b"big", 0, |slot| slot.put(&big, None));
        assert!(exists(&table, "big"));
        sweep_all(&table, EvictionPolicy::AllKeysLru, 1);
        assert!(table.view(b"big", 0, |e| e.map(|e| e.string().map_or(0, <[u8]>::len))) == Some(100_000));
        sweep_all(&table, EvictionPolicy::AllKeysLru, 2);
        assert!(!exists(&table, "big"));
    }
}
