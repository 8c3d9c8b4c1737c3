//! Telling code outside the store that keys changed, without the store
//! knowing who listens or why.
//!
//! Client-side caching (`crate::tracking`) must hear of every change of
//! every key (a write, a delete, an expiry, an eviction) and of every
//! change of the whole keyspace (FLUSHDB, FLUSHALL, SWAPDB). The store
//! reports them here, at the one place each passes through
//! (`Table::key_changed`, `Table::clear`, `Table::swap_with`); the server
//! installs the listener, a [`KeyObserver`], at start-up.
//!
//! Writes are far more common than listeners, so the listener arms the
//! hook only while it has something to do (a client tracks keys): until
//! then a change costs one relaxed load, as WATCH's does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// What the store reports. Called with the key's shard still locked, so
/// an implementation must not call back into the store.
pub trait KeyObserver: Send + Sync {
    /// `key` of database `db` was written, deleted, expired or evicted.
    fn key_changed(&self, db: usize, key: &[u8]);
    /// Any key may have changed at once (a database was flushed or two
    /// were swapped).
    fn keyspace_replaced(&self);
}

/// The store's end of the hook: the listener, and whether it listens now.
#[derive(Default)]
pub struct Observer {
    armed: AtomicBool,
    listener: OnceLock<Arc<dyn KeyObserver>>,
}

impl Observer {
    /// Install the listener (once; later calls are ignored).
    pub fn install(&self, listener: Arc<dyn KeyObserver>) {
        let _ = self.listener.set(listener);
    }

    /// Start or stop reporting changes.
    pub fn arm(&self, armed: bool) {
        self.armed.store(armed, Ordering::Relaxed);
    }

    fn listener(&self) -> Option<&Arc<dyn KeyObserver>> {
        if self.armed.load(Ordering::Relaxed) {
            self.listener.get()
        } else {
            None
        }
    }

    pub fn key_changed(&self, db: usize, key: &[u8]) {
        if let Some(listener) = self.listener() {
            listener.key_changed(db, key);
        }
    }

    pub fn keyspace_replaced(&self) {
        if let Some(listener) = self.listener() {
            listener.keyspace_replaced();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl KeyObserver for Log {
        fn key_changed(&self, db: usize, key: &[u8]) {
            self.0.lock().unwrap().push(format!("{db}:{}", String::from_utf8_lossy(key)));
        }
        fn keyspace_replaced(&self) {
            self.0.lock().unwrap().push("all".into());
        }
    }

    #[test]
    fn reports_only_while_armed() {
        let observer = Observer::default();
        let log = Arc::new(Log::default());
        observer.install(log.clone());
        observer.key_changed(0, b"a");
        observer.arm(true);
        observer.key_changed(1, b"b");
        observer.keyspace_replaced();
        observer.arm(false);
        observer.key_changed(0, b"c");
        assert_eq!(*log.0.lock().unwrap(), ["1:b", "all"]);
    }
}
