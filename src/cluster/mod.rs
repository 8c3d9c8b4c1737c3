//! Redis Cluster's data path on a configured slot map: the hash slot of a
//! key ([`slot`]), the map of which node owns each slot ([`map`], set up
//! from the `[cluster]` config section, [`config`]), and the routing
//! check every keyed command passes before it runs ([`Query`]): keys in
//! one slot, a slot some node owns, and this node, or a redirection.
//!
//! The map is replaced at run time (CLUSTER SETMAP, SIGHUP) with every
//! worker's gate held, so each command is routed and run under one map.
//! Workers read it without a lock: each keeps the map it last used and
//! swaps in the new one when the version counter says it changed (one
//! relaxed load per routed command). Slots this node loses are answered
//! MOVED at once and their keys freed in the background ([`purge`]).
//!
//! With cluster mode off there is no `Cluster` at all, and the only cost on
//! the command path is the branch that finds none.

pub mod config;
pub mod map;
mod purge;
pub mod slot;

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use parking_lot::Mutex;

pub use map::{MapSpec, Node, NodeSpec, SlotMap};
pub use slot::{key_slot, SlotSet, SLOTS};

use crate::store::Store;

/// Why a request cannot run on this node, as Redis's `getNodeByQuery`
/// decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// Its keys are in more than one slot.
    CrossSlot,
    /// No node owns the slot of its first key.
    Unbound,
    /// Another node owns the slot.
    Moved { slot: u16, ip: String, port: u16 },
}

impl Redirect {
    /// The error a client gets.
    pub fn error(&self) -> String {
        match self {
            Redirect::CrossSlot => "CROSSSLOT Keys in request don't hash to the same slot".into(),
            Redirect::Unbound => "CLUSTERDOWN Hash slot not served".into(),
            Redirect::Moved { slot, ip, port } => format!("MOVED {slot} {ip}:{port}"),
        }
    }

    /// The error a script gets when its `redis.call` of `command` (the
    /// command's name) is redirected (Redis 7.4's
    /// `scriptVerifyClusterState`).
    pub fn script_error(&self, command: &str) -> String {
        match self {
            Redirect::CrossSlot => {
                format!("ERR Command '{command}' in script attempted to access keys that don't hash to the same slot")
            }
            Redirect::Unbound => "ERR Script attempted to access a slot not served".into(),
            Redirect::Moved { .. } => "ERR Script attempted to access a non local key in a cluster node".into(),
        }
    }
}

/// The routing check of one request (a command, or a transaction's queued
/// commands together): feed it every key, then [`Query::finish`].
pub struct Query<'m> {
    map: &'m SlotMap,
    slot: Option<u16>,
}

impl<'m> Query<'m> {
    pub fn new(map: &'m SlotMap) -> Self {
        Self { map, slot: None }
    }

    /// One key of the request. As in Redis, the first key's slot must be
    /// served, and every later key must be in that slot.
    pub fn key(&mut self, key: &[u8]) -> Result<(), Redirect> {
        // The prefetch pass may have hashed it already (`store::memo`).
        let remembered = crate::store::memo::recall(key).map(crate::store::table::slot_of_hash);
        let slot = remembered.map_or_else(|| key_slot(key), |slot| slot as u16);
        match self.slot {
            None if self.map.owner(slot).is_none() => Err(Redirect::Unbound),
            None => {
                self.slot = Some(slot);
                Ok(())
            }
            Some(first) if first != slot => Err(Redirect::CrossSlot),
            Some(_) => Ok(()),
        }
    }

    /// The request's slot (None: it has no keys) if this node serves it.
    pub fn finish(self) -> Result<Option<u16>, Redirect> {
        let Some(slot) = self.slot else { return Ok(None) };
        if self.map.owns(slot) {
            return Ok(Some(slot));
        }
        let Some(owner) = self.map.owner(slot) else { return Err(Redirect::Unbound) };
        let node = &self.map.nodes()[owner];
        Err(Redirect::Moved { slot, ip: node.ip.clone(), port: node.port })
    }
}

/// Versions of maps, unique across every `Cluster` of the process (so a
/// thread's cached map can never be mistaken for another's).
static NEXT_VERSION: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The map this thread last routed with, and its version.
    static CACHED: RefCell<Option<(u64, Arc<SlotMap>)>> = const { RefCell::new(None) };
}

/// What a map change did, for the log and the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub gained: usize,
    pub lost: usize,
}

/// The cluster state of a running node.
pub struct Cluster {
    map: RwLock<Arc<SlotMap>>,
    version: AtomicU64,
    /// Held while a map is replaced: SETMAP on a worker and SIGHUP on the
    /// main thread take turns.
    changing: Mutex<()>,
    purge: Arc<purge::Purge>,
    store: Arc<Store>,
}

impl Cluster {
    /// The cluster of a node whose configuration has been validated (so
    /// its id resolves and its map checks out); logs what it is.
    pub fn new(config: &crate::config::Config, store: Arc<Store>) -> Cluster {
        let cluster = &config.cluster;
        let (bind, port) = (&config.server.bind, config.server.port);
        let id = cluster.resolve_id(bind, port).ok().flatten();
        let generated = id.is_none();
        let id = id.unwrap_or_else(crate::server::random_hex_id);
        let (ip, port) = config::announced(cluster, bind, port);
        let me = Node { id, ip, port };
        let map = map_of(cluster, &me).unwrap_or_else(|e| {
            // Validation has already refused such a map.
            crate::log_error!("cluster map: {e}; starting with no slots");
            SlotMap::without_slots(me.clone(), cluster.epoch)
        });
        log_identity(&map, generated);
        Cluster {
            map: RwLock::new(Arc::new(map)),
            version: AtomicU64::new(NEXT_VERSION.fetch_add(1, Ordering::Relaxed)),
            changing: Mutex::new(()),
            purge: Arc::new(purge::Purge::new(Arc::clone(&store))),
            store,
        }
    }

    /// The current map.
    pub fn map(&self) -> Arc<SlotMap> {
        Arc::clone(&self.map.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Run `f` with the current map, without a lock or a reference count
    /// on the shared map when it has not changed since this thread last
    /// looked (the routing check of every command).
    pub fn with_map<R>(&self, f: impl FnOnce(&SlotMap) -> R) -> R {
        let version = self.version.load(Ordering::Acquire);
        CACHED.with(|cached| {
            let current = matches!(&*cached.borrow(), Some((v, _)) if *v == version);
            if !current {
                *cached.borrow_mut() = Some((version, self.map()));
            }
            match &*cached.borrow() {
                Some((_, map)) => f(map),
                None => f(&self.map()),
            }
        })
    }

    /// Replace the map with `new`, whose epoch must be larger. Only with
    /// every worker's gate held (`server::Gate`, `Server::with_workers_held`),
    /// so no command is between its routing check and its execution. Slots
    /// this node gains start empty (keys left from an earlier ownership
    /// still being freed are freed first); clients blocked on keys of
    /// slots it loses are redirected, and those keys freed in the
    /// background.
    pub fn replace(&self, new: SlotMap) -> Result<Change, String> {
        let _changing = self.changing.lock();
        let old = self.map();
        if new.epoch() <= old.epoch() {
            return Err(format!(
                "the new map's epoch ({}) must be greater than the current one ({})",
                new.epoch(),
                old.epoch()
            ));
        }
        let (before, after) = (old.my_slots(), new.my_slots());
        let gained = after.iter().filter(|&slot| !before.contains(slot)).collect::<Vec<_>>();
        let lost = before.iter().filter(|&slot| !after.contains(slot)).collect::<Vec<_>>();
        self.purge.before_gaining(&gained);
        self.install(new);
        if !lost.is_empty() {
            let mut moved = SlotSet::default();
            lost.iter().for_each(|&slot| moved.insert(slot));
            self.store.blocking.retry_where(0, |key| moved.contains(key_slot(key)));
        }
        self.purge.lost(&lost);
        Ok(Change { gained: gained.len(), lost: lost.len() })
    }

    fn install(&self, map: SlotMap) {
        *self.map.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(map);
        self.version.store(NEXT_VERSION.fetch_add(1, Ordering::Relaxed), Ordering::Release);
    }

    /// The listener is bound to `port`: an emulated node configured with
    /// port 0 (the OS picks one) now knows what to announce.
    pub fn learn_port(&self, port: u16) {
        let _changing = self.changing.lock();
        let map = self.map();
        if map.myself().port == 0 {
            self.install(map.with_my_port(port));
        }
    }

    /// SIGHUP: the map of the re-read `[cluster]` section, to
    /// [`Cluster::replace`] the running one with, when its epoch differs
    /// (None: the same epoch, nothing to do).
    pub fn reloaded_map(&self, config: &config::ClusterConfig) -> Option<Result<SlotMap, String>> {
        let current = self.map();
        (config.epoch != current.epoch()).then(|| map_of(config, current.myself()))
    }
}

/// The map a `[cluster]` section describes, seen from node `me`: with no
/// nodes, `me` alone owning every slot (the emulated single node).
fn map_of(config: &config::ClusterConfig, me: &Node) -> Result<SlotMap, String> {
    if config.nodes.is_empty() {
        return Ok(SlotMap::emulated(me.clone(), config.epoch));
    }
    SlotMap::build(&config.map_spec(), me)
}

fn log_identity(map: &SlotMap, generated: bool) {
    let me = map.myself();
    if generated {
        crate::log_info!("cluster mode: node id {} (generated: set cluster.node_id to keep it across restarts)", me.id);
    } else {
        crate::log_info!("cluster mode: node id {}", me.id);
    }
    crate::log_info!(
        "cluster map epoch {}: {} node(s), {} of {SLOTS} slots assigned, {} owned by this node",
        map.epoch(),
        map.nodes().len(),
        map.assigned(),
        map.my_slots().len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_of_two() -> SlotMap {
        let node = |c: char, port, start, end| NodeSpec {
            id: std::iter::repeat_n(c, 40).collect(),
            ip: "127.0.0.1".into(),
            port,
            slots: vec![config::SlotRange { start, end }],
        };
        let spec = MapSpec { epoch: 1, nodes: vec![node('a', 7001, 0, 8191), node('b', 7002, 8192, 16000)] };
        let me = Node { id: "a".repeat(40), ip: String::new(), port: 0 };
        SlotMap::build(&spec, &me).unwrap()
    }

    fn route(map: &SlotMap, keys: &[&str]) -> Result<Option<u16>, Redirect> {
        let mut query = Query::new(map);
        for key in keys {
            query.key(key.as_bytes())?;
        }
        query.finish()
    }

    #[test]
    fn routing_follows_redis() {
        let map = map_of_two();
        assert_eq!(route(&map, &[]), Ok(None));
        assert_eq!(route(&map, &["bar", "{bar}x"]), Ok(Some(5061)));
        let moved = Redirect::Moved { slot: 12182, ip: "127.0.0.1".into(), port: 7002 };
        assert_eq!(route(&map, &["foo"]), Err(moved.clone()));
        assert_eq!(moved.error(), "MOVED 12182 127.0.0.1:7002");
        assert_eq!(route(&map, &["bar", "foo"]), Err(Redirect::CrossSlot));
        // 16383 is nobody's; a first key in such a slot wins over a cross-slot.
        let unbound = (0..).map(|i| format!("k{i}")).find(|k| key_slot(k.as_bytes()) > 16000).unwrap();
        assert_eq!(route(&map, &[&unbound, "bar"]), Err(Redirect::Unbound));
        assert_eq!(route(&map, &["bar", &unbound]), Err(Redirect::CrossSlot));
    }

    #[test]
    fn script_errors() {
        assert_eq!(
            Redirect::CrossSlot.script_error("mget"),
            "ERR Command 'mget' in script attempted to access keys that don't hash to the same slot"
        );
        assert_eq!(Redirect::Unbound.script_error("get"), "ERR Script attempted to access a slot not served");
    }
}
