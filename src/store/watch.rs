//! WATCH: which clients watch which keys, and marking them dirty when a
//! watched key changes (written, deleted, expired, evicted or flushed).
//!
//! Writes are far more common than WATCH, so a write first reads one
//! counter: with nobody watching anything (the usual case) that is all it
//! costs. Only while some client watches a key does a write look the key up
//! in the registry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// A client's "a watched key changed" flag, shared with the registry.
pub type DirtyFlag = Arc<AtomicBool>;

/// (database, key) -> the flags of the clients watching it.
type Registry = HashMap<(usize, Vec<u8>), Vec<DirtyFlag>>;

#[derive(Default)]
pub struct Watches {
    /// Number of (key, client) registrations.
    count: AtomicUsize,
    keys: RwLock<Registry>,
}

impl Watches {
    /// Is anybody watching anything?
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    pub fn watch(&self, db: usize, key: &[u8], flag: &DirtyFlag) {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        let flags = keys.entry((db, key.to_vec())).or_default();
        if !flags.iter().any(|f| Arc::ptr_eq(f, flag)) {
            flags.push(Arc::clone(flag));
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn unwatch(&self, db: usize, key: &[u8], flag: &DirtyFlag) {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        let map_key = (db, key.to_vec());
        if let Some(flags) = keys.get_mut(&map_key) {
            let before = flags.len();
            flags.retain(|f| !Arc::ptr_eq(f, flag));
            self.count.fetch_sub(before - flags.len(), Ordering::Relaxed);
            if flags.is_empty() {
                keys.remove(&map_key);
            }
        }
    }

    /// Key `key` of database `db` changed.
    pub fn touch(&self, db: usize, key: &[u8]) {
        if !self.active() {
            return;
        }
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(flags) = keys.get(&(db, key.to_vec())) {
            flags.iter().for_each(|f| f.store(true, Ordering::Relaxed));
        }
    }

    /// Every key of database `db` changed (FLUSHDB), or of all databases.
    pub fn touch_db(&self, db: Option<usize>) {
        if !self.active() {
            return;
        }
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        for ((key_db, _), flags) in keys.iter() {
            if db.is_none_or(|db| db == *key_db) {
                flags.iter().for_each(|f| f.store(true, Ordering::Relaxed));
            }
        }
    }
}

/// The keys one client watches; unregisters them when dropped (UNWATCH,
/// EXEC, DISCARD, RESET or the connection closing).
pub struct WatchSet {
    watches: Arc<Watches>,
    flag: DirtyFlag,
    keys: Vec<(usize, Vec<u8>)>,
}

impl WatchSet {
    pub fn new(watches: Arc<Watches>) -> Self {
        Self { watches, flag: DirtyFlag::default(), keys: Vec::new() }
    }

    pub fn add(&mut self, db: usize, key: &[u8]) {
        if !self.keys.iter().any(|(d, k)| *d == db && k == key) {
            self.watches.watch(db, key, &self.flag);
            self.keys.push((db, key.to_vec()));
        }
    }

    /// Whether any watched key changed since it was watched.
    pub fn dirty(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Mark the set dirty from the watching client itself (a watched key
    /// that had already expired when EXEC runs, as Redis does).
    pub fn mark_dirty(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    pub fn keys(&self) -> impl Iterator<Item = (usize, &[u8])> {
        self.keys.iter().map(|(db, key)| (*db, key.as_slice()))
    }
}

impl std::fmt::Debug for WatchSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchSet").field("keys", &self.keys.len()).field("dirty", &self.dirty()).finish()
    }
}

impl Drop for WatchSet {
    fn drop(&mut self) {
        for (db, key) in &self.keys {
            self.watches.unwatch(*db, key, &self.flag);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touching_a_watched_key_marks_only_its_watchers() {
        let watches = Arc::new(Watches::default());
        let mut a = WatchSet::new(Arc::clone(&watches));
        let mut b = WatchSet::new(Arc::clone(&watches));
        a.add(0, b"k");
        b.add(1, b"k");
        watches.touch(0, b"k");
        assert!(a.dirty() && !b.dirty());
        watches.touch_db(Some(1));
        assert!(b.dirty());
        drop(a);
        drop(b);
        assert!(!watches.active(), "dropping the sets unregisters every key");
    }
}
