//! What the store tells the rest of the server about keys that appear or
//! go without a command saying so: a key created by a write, removed
//! because its deadline passed (by whoever found it, or the active sweep),
//! evicted to stay under `max_memory`, or a collection purged of elements
//! whose own deadlines passed.
//!
//! Only the store sees these as they happen (a command does not know that
//! the key it writes was just reclaimed, the sweeps run on their own
//! thread), so it reports them through a [`KeyEvents`] sink the server
//! installs at start-up: keyspace notifications (`crate::notify`) turn them
//! into `new`, `expired`, `evicted` and `hexpired` messages. The store
//! itself knows nothing of pub/sub: before a sink is installed (and in
//! tables built for tests) events go nowhere.

use std::sync::{Arc, OnceLock};

/// Something the store did to a key on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyEvent {
    /// A write created the key (it did not exist, or had just expired).
    Created,
    /// The key was removed because its deadline passed.
    Expired,
    /// The key was removed to free memory.
    Evicted,
    /// Elements of the key's collection (hash fields) whose deadlines
    /// passed were removed; `emptied`: the key went with them.
    ElementsExpired { emptied: bool },
}

/// Where the store reports [`KeyEvent`]s (called under the key's shard
/// lock, in the order the events happen).
pub trait KeyEvents: Send + Sync {
    fn key_event(&self, db: usize, event: KeyEvent, key: &[u8]);
}

/// The sink the databases of a store share, installed once.
#[derive(Default)]
pub struct EventSink(OnceLock<Arc<dyn KeyEvents>>);

impl EventSink {
    /// Install the sink (once; later calls are ignored).
    pub fn install(&self, sink: Arc<dyn KeyEvents>) {
        let _ = self.0.set(sink);
    }

    /// Report `event` on `key` of database `db`.
    #[inline]
    pub fn emit(&self, db: usize, event: KeyEvent, key: &[u8]) {
        if let Some(sink) = self.0.get() {
            sink.key_event(db, event, key);
        }
    }
}

/// One database's way to report events: the shared sink and its number.
#[derive(Clone, Copy)]
pub struct Emitter<'a> {
    pub(crate) sink: &'a EventSink,
    pub(crate) db: usize,
}

impl Emitter<'_> {
    #[inline]
    pub fn emit(self, event: KeyEvent, key: &[u8]) {
        self.sink.emit(self.db, event, key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::table::Hooks;
    use crate::store::{EvictionPolicy, Hash, Pressure, Table};
    use foldhash::fast::RandomState;
    use parking_lot::Mutex;

    /// A sink that records what it is told.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(usize, KeyEvent, Vec<u8>)>>);

    impl KeyEvents for Recorder {
        fn key_event(&self, db: usize, event: KeyEvent, key: &[u8]) {
            self.0.lock().push((db, event, key.to_vec()));
        }
    }

    impl Recorder {
        fn take(&self) -> Vec<(KeyEvent, String)> {
            let events = std::mem::take(&mut *self.0.lock());
            events.into_iter().map(|(_, event, key)| (event, String::from_utf8_lossy(&key).into_owned())).collect()
        }
    }

    fn recorded_table() -> (Table, Arc<Recorder>) {
        let recorder = Arc::new(Recorder::default());
        let sink = Arc::new(EventSink::default());
        sink.install(Arc::clone(&recorder) as Arc<dyn KeyEvents>);
        let hooks = Hooks { events: sink, ..Hooks::default() };
        (Table::for_db(0, 1, 4096, Arc::new(Pressure::default()), hooks, RandomState::default()), recorder)
    }

    fn event(event: KeyEvent, key: &str) -> (KeyEvent, String) {
        (event, key.to_string())
    }

    #[test]
    fn events_reach_the_installed_sink_only() {
        let sink = EventSink::default();
        sink.emit(0, KeyEvent::Created, b"lost");
        let recorder = Arc::new(Recorder::default());
        sink.install(Arc::clone(&recorder) as Arc<dyn KeyEvents>);
        Emitter { sink: &sink, db: 3 }.emit(KeyEvent::Expired, b"k");
        assert_eq!(*recorder.0.lock(), vec![(3, KeyEvent::Expired, b"k".to_vec())]);
    }

    #[test]
    fn writes_report_created_keys_and_reclaimed_ones() {
        let (table, recorder) = recorded_table();
        table.update(b"k", 0, |slot| slot.put(b"v", Some(10)));
        table.update(b"k", 0, |slot| slot.put(b"w", Some(10)));
        assert_eq!(recorder.take(), vec![event(KeyEvent::Created, "k")], "an overwrite creates nothing");
        table.update(b"k", 20, |slot| slot.put(b"v", None));
        assert_eq!(recorder.take(), vec![event(KeyEvent::Expired, "k"), event(KeyEvent::Created, "k")]);
        table.update(b"gone", 0, |slot| slot.put(b"v", Some(10)));
        recorder.take();
        assert!(table.view(b"gone", 20, |entry| entry.is_none()));
        assert_eq!(recorder.take(), vec![event(KeyEvent::Expired, "gone")], "a reader reclaims it");
        table.update(b"a", 0, |slot| slot.put(b"v", Some(10)));
        table.update(b"b", 0, |slot| slot.put(b"v", None));
        recorder.take();
        table.view_all(&[b"a", b"b", b"none"], 20, |entries| assert!(entries[0].is_none() && entries[1].is_some()));
        assert_eq!(recorder.take(), vec![event(KeyEvent::Expired, "a")], "so does a reader of several keys");
    }

    #[test]
    fn sweeps_report_expired_and_evicted_keys() {
        let (table, recorder) = recorded_table();
        table.update(b"ttl", 0, |slot| slot.put(b"v", Some(10)));
        table.update(b"kept", 0, |slot| slot.put(b"v", None));
        recorder.take();
        assert_eq!(table.lock_shard(0).remove_expired(20), 1);
        assert_eq!(recorder.take(), vec![event(KeyEvent::Expired, "ttl")]);
        table.lock_shard(0).evict_oldest(EvictionPolicy::AllKeysRandom, 20);
        assert_eq!(recorder.take(), vec![event(KeyEvent::Evicted, "kept")]);
    }

    #[test]
    fn purged_hash_fields_are_reported_with_whether_the_key_went() {
        let (table, recorder) = recorded_table();
        let limits = crate::store::hash::PackLimits::default();
        table
            .update(b"h", 0, |slot| {
                slot.update_collection(true, |hash: &mut Hash| {
                    hash.insert(b"a", b"1", Some(10), limits);
                    hash.insert(b"b", b"2", None, limits);
                    ((), true)
                })
            })
            .ok();
        table.update(b"h", 20, |_| ());
        table
            .update(b"h", 20, |slot| {
                slot.update_collection(false, |hash: &mut Hash| (hash.set_deadline(b"b", Some(30)), true))
            })
            .ok();
        table.update(b"h", 40, |_| ());
        let expected = vec![
            event(KeyEvent::Created, "h"),
            event(KeyEvent::ElementsExpired { emptied: false }, "h"),
            event(KeyEvent::ElementsExpired { emptied: true }, "h"),
        ];
        assert_eq!(recorder.take(), expected);
    }
}
