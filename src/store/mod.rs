//! The keyspace: numbered databases, each a striped table of entries, and
//! the background sweep that reclaims expired keys.

pub mod entry;
pub mod expiry;
pub mod table;

pub use table::{EntryRef, SlotMut, Table};

/// All databases (SELECT 0 .. databases-1).
pub struct Store {
    dbs: Box<[Table]>,
}

impl Store {
    pub fn new(databases: usize, shards_per_db: usize) -> Self {
        Self { dbs: (0..databases.max(1)).map(|_| Table::new(shards_per_db)).collect() }
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

    pub fn flush_all(&self) {
        self.dbs.iter().for_each(Table::clear);
    }

    /// Approximate bytes held by all keys and values.
    pub fn memory(&self) -> usize {
        self.dbs.iter().map(Table::memory).sum()
    }

    pub fn expired_total(&self) -> u64 {
        self.dbs.iter().map(Table::expired_total).sum()
    }
}
