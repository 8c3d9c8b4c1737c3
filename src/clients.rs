//! The list of connected clients, for CLIENT LIST, CLIENT INFO and
//! CLIENT KILL.
//!
//! A connection belongs to one worker thread, but CLIENT LIST may run on
//! any of them, so what it shows lives in a small shared record per client:
//! atomics the owner updates as it goes (database, last command, last
//! activity) and, behind a mutex, the rarely changed name and library.
//! CLIENT KILL marks the client and takes it off the list at once, so the
//! killer's next CLIENT LIST no longer shows it; the killer then wakes the
//! workers, and the owning one closes the socket.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::output_limits::ClientClass;

/// A client's name and library attributes (CLIENT SETNAME / SETINFO).
#[derive(Debug, Default, Clone)]
pub struct Names {
    pub name: Option<Vec<u8>>,
    pub lib_name: Option<Vec<u8>>,
    pub lib_ver: Option<Vec<u8>>,
}

#[derive(Debug)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: Option<SocketAddr>,
    pub local_addr: Option<SocketAddr>,
    created: Instant,
    /// Unix milliseconds of the last command.
    last_active: AtomicU64,
    db: AtomicUsize,
    /// Index of the last command in `commands::all()`, plus one (0: none).
    last_command: AtomicUsize,
    resp: AtomicU8,
    names: Mutex<Names>,
    killed: AtomicBool,
    /// Closing after its last reply (QUIT): as good as gone to others.
    closing: AtomicBool,
    /// In a blocking command (CLIENT LIST's `b` flag).
    blocked: AtomicBool,
    /// Channels, patterns and shard channels subscribed to (CLIENT LIST's
    /// `sub`, `psub` and `ssub`; any makes it a pubsub client).
    subscriptions: [AtomicU32; 3],
    /// CLIENT TRACKING's state (CLIENT LIST's `t`, `R`, `B` and `redir`).
    pub tracking: crate::tracking::ClientTracking,
}

impl ClientInfo {
    pub fn new(id: u64, addr: Option<SocketAddr>, local_addr: Option<SocketAddr>) -> Self {
        Self {
            id,
            addr,
            local_addr,
            created: Instant::now(),
            last_active: AtomicU64::new(crate::clock::now_ms()),
            db: AtomicUsize::new(0),
            last_command: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            names: Mutex::new(Names::default()),
            killed: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            blocked: AtomicBool::new(false),
            subscriptions: Default::default(),
            tracking: Default::default(),
        }
    }

    /// Record a command about to run at `now` (unix ms, the batch's clock
    /// reading, so this costs no clock read of its own).
    pub fn note_command(&self, command_index: usize, now: u64) {
        self.last_command.store(command_index + 1, Ordering::Relaxed);
        self.last_active.store(now, Ordering::Relaxed);
    }

    pub fn set_db(&self, db: usize) {
        self.db.store(db, Ordering::Relaxed);
    }

    pub fn set_resp(&self, version: u8) {
        self.resp.store(version, Ordering::Relaxed);
    }

    /// Whether the client speaks RESP3.
    pub fn resp3(&self) -> bool {
        self.resp.load(Ordering::Relaxed) == 3
    }

    /// Record how many channels, patterns and shard channels the client
    /// subscribes to.
    pub fn set_subscriptions(&self, counts: [usize; 3]) {
        for (count, value) in self.subscriptions.iter().zip(counts) {
            count.store(u32::try_from(value).unwrap_or(u32::MAX), Ordering::Relaxed);
        }
    }

    fn subscriptions(&self) -> [u32; 3] {
        self.subscriptions.each_ref().map(|count| count.load(Ordering::Relaxed))
    }

    /// Subscribed to anything (CLIENT LIST's `P` flag).
    pub fn is_pubsub(&self) -> bool {
        self.subscriptions().iter().any(|&count| count > 0)
    }

    /// The class whose output limits apply to the client.
    pub fn class(&self) -> ClientClass {
        if self.is_pubsub() {
            ClientClass::Pubsub
        } else {
            ClientClass::Normal
        }
    }

    pub fn names(&self) -> MutexGuard<'_, Names> {
        self.names.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Seconds since the client connected (CLIENT LIST's `age`).
    pub fn age_secs(&self) -> u64 {
        self.created.elapsed().as_secs()
    }
    pub fn set_blocked(&self, blocked: bool) {
        self.blocked.store(blocked, Ordering::Relaxed);
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }

    /// The client asked to be closed (QUIT): once its reply is written it
    /// is, and nothing more should be sent to it.
    pub fn mark_closing(&self) {
        self.closing.store(true, Ordering::Release);
    }

    /// Killed, or closing after QUIT: what is still sent to it is lost.
    pub fn is_gone(&self) -> bool {
        self.is_killed() || self.closing.load(Ordering::Acquire)
    }

    /// One line of CLIENT LIST, in Redis's format (fields Redistill has no
    /// notion of, like the query buffer of another thread's client, are 0).
    pub fn describe(&self) -> String {
        let names = self.names().clone();
        let text = |v: &Option<Vec<u8>>| v.as_deref().map(String::from_utf8_lossy).unwrap_or_default().into_owned();
        let command = match self.last_command.load(Ordering::Relaxed) {
            0 => "NULL",
            n => crate::commands::all().nth(n - 1).map_or("NULL", |c| c.name),
        };
        let age = self.age_secs();
        let idle =
            (self.created.elapsed().as_millis() as u64).saturating_sub(self.last_active.load(Ordering::Relaxed)) / 1000;
        let addr = |a: Option<SocketAddr>| a.map(|a| a.to_string()).unwrap_or_default();
        let [sub, psub, ssub] = self.subscriptions();
        let mut flags = String::new();
        if self.is_pubsub() {
            flags.push('P');
        }
        if self.blocked.load(Ordering::Relaxed) {
            flags.push('b');
        }
        flags.push_str(&self.tracking.list_flags());
        if flags.is_empty() {
            flags.push('N');
        }
        let mut line = String::new();
        let _ = write!(
            line,
            "id={} addr={} laddr={} fd=0 name={} age={age} idle={idle} flags={flags} db={} sub={sub} psub={psub} ssub={ssub} \
             multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={command} \
             user=default redir={} resp={} lib-name={} lib-ver={}",
            self.id,
            addr(self.addr),
            addr(self.local_addr),
            text(&names.name),
            self.db.load(Ordering::Relaxed),
            self.tracking.redirect_shown(),
            self.resp.load(Ordering::Relaxed),
            text(&names.lib_name),
            text(&names.lib_ver),
        );
        line
    }
}

/// Every connected client, by id.
#[derive(Default)]
pub struct Clients {
    map: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    /// How many clients CLIENT KILL has marked, ever: workers look for
    /// marked connections only when this moves.
    kills: AtomicU64,
}

impl Clients {
    fn map(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<ClientInfo>>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn register(&self, client: Arc<ClientInfo>) {
        self.map().insert(client.id, client);
    }

    pub fn remove(&self, id: u64) {
        self.map().remove(&id);
    }

    /// Whether client `id` is connected (and not killed).
    pub fn contains(&self, id: u64) -> bool {
        self.map().contains_key(&id)
    }

    /// Mark `client` for closing by the worker that owns it, and take it
    /// off the list now. The caller wakes the workers
    /// ([`crate::server::Server::wake_workers`]) so the socket closes at once.
    pub fn kill(&self, client: &ClientInfo) {
        client.killed.store(true, Ordering::Relaxed);
        self.remove(client.id);
        self.kills.fetch_add(1, Ordering::Release);
    }

    pub fn kills(&self) -> u64 {
        self.kills.load(Ordering::Acquire)
    }

    /// All clients, in id (connection) order.
    pub fn snapshot(&self) -> Vec<Arc<ClientInfo>> {
        self.map().values().cloned().collect()
    }
}
