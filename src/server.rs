//! State shared by every thread of a running server: the configuration,
//! the keyspace, statistics, and the client count.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use parking_lot::{Mutex, MutexGuard};

use crossbeam_utils::CachePadded;
use std::time::Instant;

use crate::config::{Config, EvictionPolicy};
use crate::metrics::Metrics;
use crate::store::hash::PackLimits;
use crate::store::list::Fill;
use crate::store::set::SetLimits;
use crate::store::{Pressure, Store};

/// Version reported to clients as `redis_version`: clients switch features
/// on by it (Rails uses `EXPIRE ... NX` from 7.0), so it names the Redis
/// release whose behaviour Redistill follows.
pub const REDIS_VERSION: &str = "7.4.0";

pub struct Server {
    pub config: Config,
    pub store: Arc<Store>,
    pub metrics: Metrics,
    pub started: Instant,
    /// Settings CONFIG SET can change while the server runs.
    pub live: LiveSettings,
    next_client_id: AtomicU64,
    connected_clients: AtomicUsize,
    rejected_connections: AtomicU64,
    shutting_down: AtomicBool,
    /// The plain TCP address actually bound (none when its port is 0).
    local_addr: OnceLock<SocketAddr>,
    /// The TLS address, when TLS is enabled.
    tls_addr: OnceLock<SocketAddr>,
    /// The config file the server was started with, re-read on SIGHUP.
    config_path: OnceLock<PathBuf>,
    /// Random per-process id, as Redis's INFO `run_id`.
    run_id: String,
    /// Bytes allocated once the server was up and idle (buffer pools,
    /// empty tables): `max_memory` limits what is allocated beyond this.
    startup_memory: AtomicU64,
    /// One per worker, held while it executes commands (see [`Gate`]).
    gates: Box<[CachePadded<Mutex<()>>]>,
    pub clients: Arc<crate::clients::Clients>,
    pub slowlog: crate::slowlog::SlowLog,
    /// CLIENT PAUSE, consulted before every command.
    pub pause: crate::pause::Pause,
    /// The workers' inboxes and wakers, for work another thread hands a
    /// worker (blocked clients, published messages) and for changes they
    /// must act on at once (CLIENT KILL, CLIENT UNPAUSE).
    pub inboxes: Arc<crate::inbox::Inboxes>,
    /// The script cache, the libraries of functions, and the script running now.
    pub scripts: crate::scripting::Scripts,
    /// Channels, patterns and shard channels, and their subscribers.
    pub pubsub: Arc<crate::pubsub::PubSub>,
    /// Cluster mode's slot map and routing; None with cluster mode off.
    pub cluster: Option<Box<crate::cluster::Cluster>>,
    /// Keyspace notifications: which are on, and where they are published.
    pub notify: Arc<crate::notify::Notifier>,
    /// CLIENT TRACKING: which clients may cache which keys.
    pub tracking: Arc<crate::tracking::Tracking>,
}

impl Server {
    pub fn new(config: Config) -> Self {
        let inboxes = Arc::new(crate::inbox::Inboxes::default());
        let (shards, max_memory) = (config.server.shard_count(), config.memory.max_memory);
        let store = Arc::new(if config.cluster.enabled {
            Store::for_cluster(shards, max_memory, Arc::clone(&inboxes))
        } else {
            Store::new(config.server.databases, shards, max_memory, Arc::clone(&inboxes))
        });
        let cluster =
            config.cluster.enabled.then(|| Box::new(crate::cluster::Cluster::new(&config, Arc::clone(&store))));
        let workers = config.server.worker_threads();
        let metrics = Metrics::new(workers);
        let live = LiveSettings::new(&config, Arc::clone(&store.pressure));
        let pubsub = Arc::new(crate::pubsub::PubSub::new(Arc::clone(&inboxes), Arc::clone(&live.output_limits)));
        let notify = Arc::new(crate::notify::Notifier::new(config.server.notify_keyspace_events, Arc::clone(&pubsub)));
        store.events.install(Arc::clone(&notify) as Arc<dyn crate::store::events::KeyEvents>);
        let clients = Arc::new(crate::clients::Clients::default());
        let tracking = crate::tracking::Tracking::new(Arc::clone(&pubsub), Arc::clone(&clients), &store.observer);
        Self {
            config,
            store,
            metrics,
            started: Instant::now(),
            live,
            next_client_id: AtomicU64::new(1),
            connected_clients: AtomicUsize::new(0),
            rejected_connections: AtomicU64::new(0),
            shutting_down: AtomicBool::new(false),
            local_addr: OnceLock::new(),
            tls_addr: OnceLock::new(),
            config_path: OnceLock::new(),
            run_id: random_hex_id(),
            startup_memory: AtomicU64::new(0),
            gates: (0..workers).map(|_| CachePadded::new(Mutex::new(()))).collect(),
            clients,
            slowlog: crate::slowlog::SlowLog::default(),
            pause: crate::pause::Pause::default(),
            inboxes,
            scripts: crate::scripting::Scripts::default(),
            pubsub,
            cluster,
            notify,
            tracking,
        }
    }

    /// Redis's `redis_mode` (INFO) and HELLO's `mode`.
    pub fn mode(&self) -> &'static str {
        if self.cluster.is_some() {
            "cluster"
        } else {
            "standalone"
        }
    }

    pub fn requires_auth(&self) -> bool {
        self.live.password().is_some()
    }

    /// Compare a password in constant time (for equal lengths), so response
    /// timing does not reveal how much of a guess was right.
    pub fn check_password(&self, candidate: &[u8]) -> bool {
        match self.live.password() {
            None => true,
            Some(expected) => constant_time_eq(expected.as_bytes(), candidate),
        }
    }

    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Reserve a client slot; false when `max_connections` is reached.
    pub fn try_add_client(&self) -> bool {
        let max = self.config.server.max_connections;
        self.connected_clients.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).is_ok()
    }

    pub fn remove_client(&self) {
        self.connected_clients.fetch_sub(1, Ordering::AcqRel);
    }

    pub fn connected_clients(&self) -> usize {
        self.connected_clients.load(Ordering::Acquire)
    }

    pub fn count_rejected_connection(&self) {
        self.rejected_connections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rejected_connections(&self) -> u64 {
        self.rejected_connections.load(Ordering::Relaxed)
    }

    pub fn set_local_addr(&self, addr: SocketAddr) {
        let _ = self.local_addr.set(addr);
        if let Some(cluster) = &self.cluster {
            cluster.learn_port(addr.port());
        }
    }

    pub fn set_tls_addr(&self, addr: SocketAddr) {
        let _ = self.tls_addr.set(addr);
    }

    /// The TLS port (0 when TLS is off).
    pub fn tls_port(&self) -> u16 {
        self.tls_addr.get().map_or(0, SocketAddr::port)
    }

    /// The TCP port clients connect to (0 before the listener is bound).
    pub fn port(&self) -> u16 {
        self.local_addr.get().map_or(0, SocketAddr::port)
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Record the idle footprint; call once everything has started.
    pub fn mark_startup_memory(&self) {
        self.startup_memory.store(crate::memory::refresh(), Ordering::Relaxed);
    }

    pub fn startup_memory(&self) -> u64 {
        self.startup_memory.load(Ordering::Relaxed)
    }

    /// Allocated bytes above the idle footprint: what `max_memory` limits.
    pub fn used_memory_over_startup(&self) -> u64 {
        crate::memory::refresh().saturating_sub(self.startup_memory())
    }

    /// Whether a command that needs memory must be refused now: the limit
    /// is crossed and nothing can be evicted (or the policy forbids it).
    pub fn must_refuse_writes(&self) -> bool {
        let pressure = &self.store.pressure;
        pressure.over_limit() && (pressure.stuck() || self.live.eviction_policy() == EvictionPolicy::NoEviction)
    }

    /// Remember the config file the server was started with (see [`Server::reload_config`]).
    pub fn set_config_path(&self, path: PathBuf) {
        let _ = self.config_path.set(path);
    }

    pub fn config_path(&self) -> Option<&Path> {
        self.config_path.get().map(PathBuf::as_path)
    }

    /// SIGHUP: re-read the config file and apply what can change while the
    /// server runs (max_memory, eviction_policy, timeout, password,
    /// log_level and notify_keyspace_events), logging each change. A file that no longer loads is
    /// logged as an error and the running settings stay as they are.
    pub fn reload_config(&self) {
        let Some(path) = self.config_path() else {
            crate::log_warn!("config reload: the server was started without a config file; nothing to reload");
            return;
        };
        match crate::config::reload(path, &self.config) {
            Ok(config) => self.apply_reloaded(&config),
            Err(e) => crate::log_error!("config reload failed, keeping the current settings: {e}"),
        }
    }

    fn apply_reloaded(&self, config: &Config) {
        self.reload_cluster_map(config);
        let live = &self.live;
        let max_memory = config.memory.max_memory;
        if live.max_memory() != max_memory {
            crate::log_info!("config reload: maxmemory {} -> {max_memory}", live.max_memory());
            live.set_max_memory(max_memory);
        }
        let policy = config.memory.eviction_policy;
        if live.eviction_policy() != policy {
            crate::log_info!("config reload: maxmemory-policy {} -> {policy}", live.eviction_policy());
            live.set_eviction_policy(policy);
        }
        let timeout = config.server.timeout;
        if live.timeout() != timeout {
            crate::log_info!("config reload: timeout {} -> {timeout}", live.timeout());
            live.set_timeout(timeout);
        }
        if live.password() != config.security.password {
            // Never log the password itself.
            let state = |p: &Option<String>| if p.is_some() { "set" } else { "none" };
            crate::log_info!(
                "config reload: password changed ({} -> {})",
                state(&live.password()),
                state(&config.security.password)
            );
            live.set_password(config.security.password.clone());
        }
        let classes = config.server.notify_keyspace_events;
        if self.notify.classes() != classes {
            crate::log_info!("config reload: notify-keyspace-events '{}' -> '{classes}'", self.notify.classes());
            self.notify.set_classes(classes);
        }
        let level = config.server.log_level;
        let old_level = crate::log::level();
        if old_level != level {
            // Logged at whichever of the two levels is more verbose, so
            // the change is recorded unless both levels hide info lines.
            if level < old_level {
                crate::log_info!("config reload: loglevel {old_level} -> {level}");
            }
            crate::log::set_level(level);
            if level > old_level {
                crate::log_info!("config reload: loglevel {old_level} -> {level}");
            }
        }
    }

    /// SIGHUP in cluster mode: a slot map with a new epoch in the file
    /// replaces the running one (with every worker held, see
    /// [`crate::cluster::Cluster::replace`]); the same epoch changes nothing.
    fn reload_cluster_map(&self, config: &Config) {
        let Some(cluster) = &self.cluster else { return };
        let Some(map) = cluster.reloaded_map(&config.cluster) else { return };
        let before = cluster.map().epoch();
        match map.and_then(|map| self.with_workers_held(|| cluster.replace(map))) {
            Ok(change) => crate::log_info!(
                "config reload: cluster map epoch {before} -> {} (slots gained {}, lost {})",
                config.cluster.epoch,
                change.gained,
                change.lost
            ),
            Err(e) => crate::log_error!("config reload: cluster map not replaced: {e}"),
        }
    }

    /// Run `f` on a thread that is not a worker while no worker executes
    /// a command (every gate held, as `Gate::exclusive` does for a worker);
    /// waits out a script that holds them.
    pub fn with_workers_held<R>(&self, f: impl FnOnce() -> R) -> R {
        let held: Vec<MutexGuard<'_, ()>> = self.gates.iter().map(|gate| gate.lock()).collect();
        let result = f();
        drop(held);
        result
    }
    /// Interrupt every worker's poll, so that it looks at killed clients
    /// and held commands now rather than at its next tick.
    pub fn wake_workers(&self) {
        self.inboxes.wake_all();
    }

    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        // A script in a runaway loop must not keep its worker from exiting.
        self.scripts.run.stop_for_shutdown();
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

/// The settings that can change at run time (CONFIG SET), readable from any
/// thread without a lock on the request path.
pub struct LiveSettings {
    max_memory: AtomicU64,
    /// Holds the eviction policy, so the store's writers and CONFIG SET
    /// read and write the same value.
    pressure: Arc<Pressure>,
    timeout: AtomicU64,
    password: RwLock<Option<String>>,
    /// `hash-max-listpack-entries` and `hash-max-listpack-value`.
    hash_pack_entries: AtomicUsize,
    hash_pack_value: AtomicUsize,
    /// `set-max-intset-entries`, `set-max-listpack-entries` and
    /// `set-max-listpack-value`.
    set_intset_entries: AtomicUsize,
    set_pack_entries: AtomicUsize,
    set_pack_value: AtomicUsize,
    /// `zset-max-listpack-entries` and `zset-max-listpack-value`.
    zset_pack_entries: AtomicUsize,
    zset_pack_value: AtomicUsize,
    /// `list-max-listpack-size`.
    list_fill: AtomicI64,
    /// `client-output-buffer-limit`, per client class.
    pub output_limits: Arc<crate::output_limits::OutputLimits>,
    /// `list-compress-depth`: kept for CONFIG GET only; list nodes are
    /// never compressed, which no reply can tell.
    list_compress_depth: AtomicU64,
}

impl LiveSettings {
    fn new(config: &Config, pressure: Arc<Pressure>) -> Self {
        let settings = Self {
            max_memory: AtomicU64::new(config.memory.max_memory),
            pressure,
            timeout: AtomicU64::new(config.server.timeout),
            password: RwLock::new(config.security.password.clone()),
            hash_pack_entries: AtomicUsize::new(PackLimits::default().entries),
            hash_pack_value: AtomicUsize::new(PackLimits::default().value),
            set_intset_entries: AtomicUsize::new(SetLimits::default().intset_entries),
            set_pack_entries: AtomicUsize::new(SetLimits::default().listpack_entries),
            set_pack_value: AtomicUsize::new(SetLimits::default().listpack_value),
            zset_pack_entries: AtomicUsize::new(crate::store::zset::DEFAULT_LIMITS.entries),
            zset_pack_value: AtomicUsize::new(crate::store::zset::DEFAULT_LIMITS.value),
            list_fill: AtomicI64::new(Fill::default().0),
            output_limits: Arc::new(crate::output_limits::OutputLimits::new(
                crate::output_limits::BufferLimit {
                    hard: config.server.client_output_buffer_limit,
                    soft: 0,
                    soft_seconds: 0,
                },
                config.server.client_output_buffer_limit_pubsub,
            )),
            list_compress_depth: AtomicU64::new(0),
        };
        settings.set_eviction_policy(config.memory.eviction_policy);
        settings
    }

    /// Bytes the cache may use; 0 is unlimited.
    pub fn max_memory(&self) -> u64 {
        self.max_memory.load(Ordering::Relaxed)
    }

    pub fn set_max_memory(&self, bytes: u64) {
        self.max_memory.store(bytes, Ordering::Relaxed);
    }

    pub fn eviction_policy(&self) -> EvictionPolicy {
        self.pressure.policy()
    }

    pub fn set_eviction_policy(&self, policy: EvictionPolicy) {
        self.pressure.set_policy(policy);
    }

    /// Idle seconds before a client is closed; 0 is never.
    pub fn timeout(&self) -> u64 {
        self.timeout.load(Ordering::Relaxed)
    }

    pub fn set_timeout(&self, seconds: u64) {
        self.timeout.store(seconds, Ordering::Relaxed);
    }

    /// When a hash leaves the compact encoding.
    pub fn hash_pack_limits(&self) -> PackLimits {
        PackLimits {
            entries: self.hash_pack_entries.load(Ordering::Relaxed),
            value: self.hash_pack_value.load(Ordering::Relaxed),
        }
    }

    pub fn set_hash_pack_entries(&self, entries: usize) {
        self.hash_pack_entries.store(entries, Ordering::Relaxed);
    }

    pub fn set_hash_pack_value(&self, bytes: usize) {
        self.hash_pack_value.store(bytes, Ordering::Relaxed);
    }

    /// When a set leaves its compact encodings.
    pub fn set_limits(&self) -> SetLimits {
        SetLimits {
            intset_entries: self.set_intset_entries.load(Ordering::Relaxed),
            listpack_entries: self.set_pack_entries.load(Ordering::Relaxed),
            listpack_value: self.set_pack_value.load(Ordering::Relaxed),
        }
    }

    pub fn set_set_intset_entries(&self, entries: usize) {
        self.set_intset_entries.store(entries, Ordering::Relaxed);
    }

    pub fn set_set_pack_entries(&self, entries: usize) {
        self.set_pack_entries.store(entries, Ordering::Relaxed);
    }

    pub fn set_set_pack_value(&self, bytes: usize) {
        self.set_pack_value.store(bytes, Ordering::Relaxed);
    }
    /// When a sorted set leaves the compact encoding.
    pub fn zset_pack_limits(&self) -> PackLimits {
        PackLimits {
            entries: self.zset_pack_entries.load(Ordering::Relaxed),
            value: self.zset_pack_value.load(Ordering::Relaxed),
        }
    }

    pub fn set_zset_pack_entries(&self, entries: usize) {
        self.zset_pack_entries.store(entries, Ordering::Relaxed);
    }

    pub fn set_zset_pack_value(&self, bytes: usize) {
        self.zset_pack_value.store(bytes, Ordering::Relaxed);
    }
    /// How large a list node (and a listpack-encoded list) may grow.
    pub fn list_fill(&self) -> Fill {
        Fill(self.list_fill.load(Ordering::Relaxed))
    }

    pub fn set_list_fill(&self, fill: i64) {
        self.list_fill.store(fill, Ordering::Relaxed);
    }

    /// `list-compress-depth` as last set (it changes nothing else).
    pub fn list_compress_depth(&self) -> u64 {
        self.list_compress_depth.load(Ordering::Relaxed)
    }

    pub fn set_list_compress_depth(&self, depth: u64) {
        self.list_compress_depth.store(depth, Ordering::Relaxed);
    }

    pub fn password(&self) -> Option<String> {
        self.password.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn set_password(&self, password: Option<String>) {
        *self.password.write().unwrap_or_else(PoisonError::into_inner) = password;
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 40 hex characters, like Redis's run_id: seeded from the process's random
/// hasher state, the time and the pid (it identifies a run, it is no secret).
pub(crate) fn random_hex_id() -> String {
    use std::hash::BuildHasher;
    let state = foldhash::fast::RandomState::default();
    (0..5u64)
        .map(|i| state.hash_one((i, crate::clock::now_us(), std::process::id())) as u32)
        .map(|word| format!("{word:08x}"))
        .collect()
}

/// What makes EXEC and scripts atomic across shards: each worker holds its
/// own gate while it executes a batch of commands, and a transaction or a
/// script runs holding every gate, so no other client runs a command in the
/// middle of it.
///
/// A worker's own gate is uncontended except while some EXEC or script
/// runs, so the common path pays one uncontended lock per batch, not per
/// command. EXEC first lets go of its own gate and then takes all of them in
/// index order, so two of them can never wait on each other in a cycle.
///
/// Waiting for a gate is never unbounded while a script runs: a worker waits
/// in short slices, and once the script has run past `busy-reply-threshold`
/// it gives up with [`Busy`], so it can answer its clients `BUSY` and take
/// SCRIPT KILL.
pub struct Gate<'a> {
    server: &'a Server,
    worker: usize,
    held: Option<MutexGuard<'a, ()>>,
}

/// A script has run past `busy-reply-threshold` holding every gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// How long one wait for a gate lasts before the busy state is looked at.
const GATE_SLICE: std::time::Duration = std::time::Duration::from_millis(5);

impl<'a> Gate<'a> {
    pub fn enter(server: &'a Server, worker: usize) -> Result<Self, Busy> {
        let held = Some(acquire(server, &server.gates[worker])?);
        Ok(Self { server, worker, held })
    }

    /// Run `f` while no other worker executes anything; `Busy` (without
    /// running `f`) if a script holds the gates past the busy threshold.
    pub fn exclusive<R>(&mut self, f: impl FnOnce() -> R) -> Result<R, Busy> {
        self.held = None;
        let mut all: Vec<MutexGuard<'a, ()>> = Vec::with_capacity(self.server.gates.len());
        for gate in self.server.gates.iter() {
            match acquire(self.server, gate) {
                Ok(guard) => all.push(guard),
                Err(busy) => {
                    drop(all);
                    self.reenter();
                    return Err(busy);
                }
            }
        }
        let result = f();
        drop(all);
        self.reenter();
        Ok(result)
    }

    /// Take the worker's own gate back after an exclusive section. Only a
    /// script can hold it now, and waiting for it to end is all this
    /// worker can do (its batch is in the middle of a command).
    fn reenter(&mut self) {
        self.held = Some(self.server.gates[self.worker].lock());
    }
}

/// Lock a gate, waiting in slices; `Busy` once a script holding it has
/// run past the busy threshold.
fn acquire<'a>(server: &Server, gate: &'a Mutex<()>) -> Result<MutexGuard<'a, ()>, Busy> {
    loop {
        if let Some(guard) = gate.try_lock_for(GATE_SLICE) {
            return Ok(guard);
        }
        if server.scripts.run.busy().is_some() {
            return Err(Busy);
        }
    }
}
