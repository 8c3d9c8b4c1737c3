//! Freeing the keys of slots this node no longer owns, in the background.
//!
//! When a new map takes slots away, routing answers MOVED for them at
//! once, and a background thread then deletes their keys shard by shard
//! (with the slot-sharded store, all the keys of a slot live in one
//! shard: see `Table::remove_slots`); large values go on to the lazy-free
//! thread. Slots whose keys are still to go are `pending`. A map that
//! gives such a slot back first finishes its purge in place, under the
//! same lock the background thread holds per shard, so the node never
//! serves a key from an earlier ownership of the slot (it starts empty, as
//! a cache may), and the purge never deletes a key written after.

use std::sync::Arc;

use parking_lot::Mutex;

use super::slot::SlotSet;
use crate::store::{Store, Table};

pub struct Purge {
    store: Arc<Store>,
    pending: Mutex<SlotSet>,
}

impl Purge {
    pub fn new(store: Arc<Store>) -> Self {
        Self { store, pending: Mutex::new(SlotSet::default()) }
    }

    fn table(&self) -> &Table {
        self.store.db(0)
    }

    /// Before slots are gained: free now what is left of their keys.
    pub fn before_gaining(&self, gained: &[u16]) {
        let mut pending = self.pending.lock();
        let mut due = SlotSet::default();
        gained.iter().filter(|&&slot| pending.contains(slot)).for_each(|&slot| due.insert(slot));
        if due.is_empty() {
            return;
        }
        let table = self.table();
        let mut shards: Vec<usize> = due.iter().map(|slot| table.shard_of_slot(slot)).collect();
        shards.sort_unstable();
        shards.dedup();
        for shard in shards {
            table.remove_slots(shard, &due);
        }
        due.iter().for_each(|slot| pending.remove(slot));
    }

    /// Slots were lost: free their keys in the background.
    pub fn lost(self: &Arc<Self>, lost: &[u16]) {
        if lost.is_empty() {
            return;
        }
        lost.iter().for_each(|&slot| self.pending.lock().insert(slot));
        let purge = Arc::clone(self);
        let spawned = std::thread::Builder::new().name("cluster-purge".into()).spawn(move || purge.run());
        if let Err(e) = spawned {
            crate::log_warn!("cluster: cannot start the purge thread ({e}); freeing the lost slots' keys now");
            self.run();
        }
    }

    /// Free the keys of every pending slot, a shard at a time.
    fn run(&self) {
        let table = self.table();
        let mut shards: Vec<usize> = self.pending.lock().iter().map(|slot| table.shard_of_slot(slot)).collect();
        shards.sort_unstable();
        shards.dedup();
        let mut freed = 0;
        for shard in shards {
            let mut pending = self.pending.lock();
            let mut due = SlotSet::default();
            pending.iter().filter(|&slot| table.shard_of_slot(slot) == shard).for_each(|slot| due.insert(slot));
            freed += table.remove_slots(shard, &due);
            due.iter().for_each(|slot| pending.remove(slot));
        }
        crate::log_info!("cluster: freed {freed} key(s) of slots this node no longer owns");
    }
}
