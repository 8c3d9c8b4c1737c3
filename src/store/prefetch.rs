//! Software prefetching for pipelined lookups.
//!
//! A lookup misses the cache up to three times, each load waiting for the
//! one before: the index's control bytes, then the index slot, then the
//! record the slot points at. When a connection holds a pipeline of
//! commands it looks their keys up ahead in passes over the batch (see
//! `Connection::prefetch_keys`): the first asks for every key's index
//! lines at once, from addresses computed without a lock
//! ([`IndexAddress`]); the second finds each slot under the shard's read
//! lock, now in cache, and asks for the record ([`Log::prefetch`]); the
//! third reads the records that arrived and, for a collection, asks for
//! its contents (a hash's packed fields: two more dependent misses, the
//! arena entry and the data it points at). The batch then runs with its
//! memory already on the way, the misses overlapped instead of paid one
//! after another.
//!
//! Everything here is a hint: a prefetch never faults and changes nothing
//! a program can observe, so a stale or wrong address costs a wasted
//! memory load, never a wrong answer.
//!
//! [`Log::prefetch`]: super::segment::Log::prefetch

use std::sync::atomic::{AtomicUsize, Ordering};

use hashbrown::HashTable;

use super::table::IndexSlot;

const CACHE_LINE: usize = 64;

/// Hint the CPU to load the first `lines` cache lines of `bytes`.
#[inline]
pub fn prefetch_lines(bytes: &[u8], lines: usize) {
    for line in bytes.chunks(CACHE_LINE).take(lines) {
        prefetch_address(line.as_ptr() as usize);
    }
}

/// Hint the CPU to load the cache line holding `address`.
#[inline]
fn prefetch_address(address: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults, whatever the
    // address, and changes nothing a program can observe.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(address as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// Bytes of one index slot.
const SLOT: usize = std::mem::size_of::<IndexSlot>();

/// Where a shard's index lives, published under the shard's write lock and
/// read without any lock, so that the first prefetch pass can ask for the
/// index lines of many keys without waiting on one lock (a locked
/// instruction is a full fence: it would wait for the previous key's miss).
///
/// This leans on how `hashbrown` lays a table out: control bytes at a base
/// address, one per bucket, with slot `i` stored just below them at
/// `base - (i + 1) * size_of::<T>()`, and a probe for `hash` starting at
/// bucket `hash & (buckets - 1)`. The unit test below checks both against
/// the hashbrown in use, so an upgrade that changes them fails it rather
/// than silently prefetching the wrong lines.
#[derive(Default)]
pub struct IndexAddress {
    /// Address of the control bytes; 0 when unknown (no occupied bucket).
    base: AtomicUsize,
    /// Buckets - 1.
    mask: AtomicUsize,
}

impl IndexAddress {
    /// Record where `index` lives now. Cheap unless the table was resized
    /// (or was empty) since the last call.
    pub fn publish(&self, index: &HashTable<IndexSlot>) {
        let mask = index.num_buckets().saturating_sub(1);
        if self.mask.load(Ordering::Relaxed) == mask && self.base.load(Ordering::Relaxed) != 0 {
            return;
        }
        if index.is_empty() {
            // No occupied bucket to measure from: not worth a scan of
            // every bucket on each write to an emptied shard.
            self.clear();
            return;
        }
        let base = (0..index.num_buckets())
            .find_map(|i| index.get_bucket(i).map(|slot| slot as *const IndexSlot as usize + (i + 1) * SLOT))
            .unwrap_or(0);
        self.base.store(base, Ordering::Relaxed);
        self.mask.store(mask, Ordering::Relaxed);
    }

    /// Forget the address (the index was replaced by an empty one).
    pub fn clear(&self) {
        self.base.store(0, Ordering::Relaxed);
    }

    /// Ask for the control bytes and the first slot a lookup of `hash`
    /// will read. Base and mask may be torn by a concurrent resize: the
    /// prefetch is then wasted, nothing else.
    pub fn prefetch(&self, hash: u64) {
        let base = self.base.load(Ordering::Relaxed);
        if base == 0 {
            return;
        }
        let bucket = (hash as usize) & self.mask.load(Ordering::Relaxed);
        prefetch_address(base.wrapping_add(bucket));
        prefetch_address(base.wrapping_sub((bucket + 1).wrapping_mul(SLOT)));
    }

    /// The bucket a probe for `hash` starts at.
    #[cfg(test)]
    fn probe_start(&self, hash: u64) -> usize {
        hash as usize & self.mask.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    /// The layout `IndexAddress` assumes is the one hashbrown has: every
    /// slot sits at `base - (i + 1) * SLOT`, and a key is found in the
    /// group its probe starts at (or, after collisions, soon after).
    #[test]
    fn index_address_matches_hashbrown_layout() {
        let hasher = foldhash::fast::RandomState::default();
        let hash = |n: u32| hasher.hash_one(n);
        let mut index: HashTable<IndexSlot> = HashTable::new();
        let address = IndexAddress::default();
        for n in 0..10_000u32 {
            index.insert_unique(hash(n), IndexSlot::new(n, 0), |slot| hash(slot.loc()));
            address.publish(&index);
        }
        let buckets = index.num_buckets();
        let mut near_start = 0;
        for n in 0..10_000u32 {
            let found = index.find_bucket_index(hash(n), |slot| slot.loc() == n).unwrap();
            let slot = index.get_bucket(found).unwrap() as *const IndexSlot as usize;
            let start = address.probe_start(hash(n));
            let base = address.base.load(Ordering::Relaxed);
            assert_eq!(slot, base - (found + 1) * SLOT, "slot {found} is not where the layout says");
            if (found + buckets - start) % buckets < 16 {
                near_start += 1;
            }
        }
        assert!(near_start > 9_000, "only {near_start} of 10000 keys sit in the group their probe starts at");
        address.clear();
        address.prefetch(hash(1));
    }
}
