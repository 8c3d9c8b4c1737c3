//! The large encoding of the collections: a hashbrown table of boxed
//! entries, each one allocation holding an element (a hash's field and
//! value, a set's member), found by the key inside it.
//!
//! Shared by hashes and sets so both get the same exact memory accounting
//! (every entry by its jemalloc size class), the same scan cursor (see
//! `cursor.rs`) and the same random pick. What an entry's key is, is the
//! collection's business: [`EntryKey`].

use std::hash::BuildHasher;
use std::marker::PhantomData;

use foldhash::fast::RandomState;
use hashbrown::hash_table::{Entry, HashTable};

use super::cursor::{reserve_one, scan, Cursor};
use crate::memory::size_class;

/// Random buckets [`BoxedTable::random`] draws before walking to the next
/// occupied one.
const RANDOM_TRIES: usize = 64;

/// One step of SplitMix64: a well-mixed number from `state` (the
/// generator's next state is `state` plus the golden-ratio increment).
pub fn splitmix(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Where the key of a boxed entry is: the whole entry (a set member), or
/// a part of it (a hash field's name, ahead of its value).
pub trait EntryKey {
    fn key(entry: &[u8]) -> &[u8];
}

/// A table of boxed entries keyed by `K::key`.
pub struct BoxedTable<K> {
    entries: HashTable<Box<[u8]>>,
    hasher: RandomState,
    /// Bytes of the boxed entries, by jemalloc size class.
    entry_bytes: usize,
    /// Bumped whenever the table is rebuilt, which moves entries between
    /// buckets: a scan cursor issued before then starts over.
    layout: u32,
    key: PhantomData<K>,
}

impl<K> Clone for BoxedTable<K> {
    fn clone(&self) -> Self {
        BoxedTable {
            entries: self.entries.clone(),
            hasher: self.hasher.clone(),
            entry_bytes: self.entry_bytes,
            layout: self.layout,
            key: PhantomData,
        }
    }
}

impl<K: EntryKey> BoxedTable<K> {
    /// An empty table with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Self {
        BoxedTable {
            entries: HashTable::with_capacity(capacity),
            hasher: RandomState::default(),
            entry_bytes: 0,
            layout: 0,
            key: PhantomData,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of the table, its slots and its entries, by size class (the
    /// caller boxes the table: its own struct is counted here too).
    pub fn memory(&self) -> usize {
        size_class(std::mem::size_of::<Self>()) + size_class(self.entries.allocation_size()) + self.entry_bytes
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    pub fn find(&self, key: &[u8]) -> Option<&[u8]> {
        self.entries.find(self.hash(key), |e| K::key(e) == key).map(|e| &e[..])
    }

    /// Insert `entry`, or replace the entry with its key; returns the
    /// replaced one.
    pub fn put(&mut self, entry: Box<[u8]>) -> Option<Box<[u8]>> {
        let hasher = &self.hasher;
        reserve_one(&mut self.entries, &mut self.layout, |e| hasher.hash_one(K::key(e)));
        let hash = self.hash(K::key(&entry));
        let added = size_class(entry.len());
        let hasher = &self.hasher;
        match self.entries.entry(hash, |e| K::key(e) == K::key(&entry), |e| hasher.hash_one(K::key(e))) {
            Entry::Occupied(mut o) => {
                self.entry_bytes = self.entry_bytes - size_class(o.get().len()) + added;
                Some(std::mem::replace(o.get_mut(), entry))
            }
            Entry::Vacant(v) => {
                self.entry_bytes += added;
                v.insert(entry);
                None
            }
        }
    }

    /// Remove the entry with `key`. A table left a tenth full is shrunk,
    /// as Redis shrinks a dict: memory follows the contents down, and
    /// random picks (which walk from a random bucket) stay quick.
    pub fn remove(&mut self, key: &[u8]) -> Option<Box<[u8]>> {
        let hash = self.hash(key);
        let found = self.entries.find_entry(hash, |e| K::key(e) == key).ok()?;
        let (entry, _) = found.remove();
        self.entry_bytes -= size_class(entry.len());
        if self.entries.len() * 10 < self.entries.capacity() && self.entries.capacity() > 64 {
            let hasher = &self.hasher;
            self.entries.shrink_to(self.entries.len() * 2, |e| hasher.hash_one(K::key(e)));
            self.layout = self.layout.wrapping_add(1);
        }
        Some(entry)
    }

    /// Every entry, in table order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.entries.iter().map(|e| &e[..])
    }

    /// An entry picked by `seed`, uniformly: random buckets until one is
    /// occupied (a table is kept more than a tenth full, so few are
    /// drawn), as Redis's fair random pick does; after many empty ones,
    /// the next occupied bucket from the last (slightly biased, never
    /// stuck).
    pub fn random(&self, seed: u64) -> Option<&[u8]> {
        if self.entries.is_empty() {
            return None;
        }
        let buckets = self.entries.num_buckets();
        let mut state = seed;
        for _ in 0..RANDOM_TRIES {
            state = splitmix(state);
            if let Some(entry) = self.entries.get_bucket((state % buckets as u64) as usize) {
                return Some(&entry[..]);
            }
        }
        let start = (state % buckets as u64) as usize;
        (0..buckets).find_map(|i| self.entries.get_bucket((start + i) % buckets)).map(|e| &e[..])
    }

    /// One scan step from `cursor` (0 to start): visit about `count`
    /// entries and return the cursor to resume from (0 when done). The
    /// cursor is a bucket position tagged with the table's layout; if the
    /// table was rebuilt since, the scan starts over, so an entry present
    /// throughout is returned at least once.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(&'a [u8])) -> u64 {
        let next = scan(&self.entries, self.layout, Cursor::from_bits(cursor), count, |entry| {
            f(entry);
            true
        });
        next.map_or(0, Cursor::to_bits)
    }
}
