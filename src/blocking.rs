//! Blocking commands (BLPOP, BLMOVE, BLMPOP, ...): which clients wait on
//! which keys, and waking them when a key becomes ready.
//!
//! A connection belongs to one worker thread, and the command that makes a
//! key ready may run on any other, so the registry is shared: (database,
//! key) to the FIFO of client ids waiting on it, and per client its
//! [`Waiter`] (worker, connection token, the kind of value it waits for).
//! Each worker has an inbox of [`Wakeup`]s and its mio `Waker`. Deadlines
//! stay with the worker that owns the client: its poll sleeps until the
//! earliest one (a `BTreeSet` of timers), so blocked clients cost no CPU
//! while they wait.
//!
//! # The wait/ready API (what a blocking command family uses)
//!
//! - A blocking command that finds nothing to serve calls
//!   [`crate::commands::Ctx::block`] with its keys, the [`Kind`] of value it
//!   waits for and its deadline, and replies nothing. The connection keeps
//!   the command unparsed in its input, registers the client here with
//!   [`Blocking::block`] and stops executing that client's commands.
//! - Readiness comes from the store, not from commands: every write to a
//!   key (`Table::update`, RENAME, MOVE, COPY, SWAPDB...) that leaves it
//!   holding a value calls [`Blocking::key_ready`] with the value's kind,
//!   so any command that creates or fills a key wakes its waiters, whatever
//!   the type. `key_ready` costs one atomic load while nobody is blocked.
//! - `key_ready` wakes the first waiter of that key waiting for that kind
//!   (not all of them): its worker re-runs the blocked command for that
//!   client. Served, the client leaves the registry and its keys are
//!   checked again ([`Blocking::recheck`]), which wakes the next waiter if
//!   the key still holds something: clients are served one at a time, in
//!   the order they blocked, and an element goes to exactly one of them.
//!   Not served (someone else took the element first), it keeps its place.
//! - Inside EXEC every worker's gate is held (`server::Gate`), so a woken
//!   client's command runs only after the transaction completes.
//! - A client whose deadline passes, that CLIENT UNBLOCK releases, or that
//!   disconnects leaves the registry the same way (its keys rechecked, so
//!   a wake meant for it is passed on).
//!
//! So a new blocking family (BZPOPMIN, BZMPOP) needs only to call
//! `Ctx::block(keys, Kind::ZSet, deadline)` when it has nothing to serve,
//! and to serve the client when its command runs again.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use mio::Waker;

use crate::store::{Kind, Store};

/// How CLIENT UNBLOCK ends a blocking command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnblockReason {
    /// As if its timeout had passed (its null reply).
    Timeout,
    /// With `-UNBLOCKED client unblocked via CLIENT UNBLOCK`.
    Error,
}

/// What a woken worker must do for one of its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wakeup {
    /// A key the client waits on may be ready: run its command again.
    Retry { token: usize, ticket: u64 },
    /// CLIENT UNBLOCK released it: answer as the reason says.
    Unblock { token: usize, ticket: u64, reason: UnblockReason },
}

/// One blocked client.
#[derive(Debug)]
struct Waiter {
    worker: usize,
    /// The connection's token in its worker.
    token: usize,
    /// Identifies this wait: a connection blocks many times in its life,
    /// and a wakeup meant for an earlier wait must not end a later one.
    ticket: u64,
    kind: Kind,
    db: usize,
    keys: Vec<Vec<u8>>,
    /// A retry is on its way to the worker.
    woken: bool,
}

#[derive(Default)]
struct State {
    /// Database -> key -> ids of the clients waiting on it, oldest first.
    keys: HashMap<usize, HashMap<Vec<u8>, VecDeque<u64>>>,
    clients: HashMap<u64, Waiter>,
}

/// A worker's queue of wakeups and the waker that interrupts its poll.
struct Inbox {
    waker: Arc<Waker>,
    wakeups: Mutex<Vec<Wakeup>>,
}

/// The registry of blocked clients (see the module documentation).
#[derive(Default)]
pub struct Blocking {
    /// Clients blocked now (INFO's `blocked_clients`).
    blocked: AtomicUsize,
    next_ticket: AtomicU64,
    state: Mutex<State>,
    inboxes: OnceLock<Box<[Inbox]>>,
}

/// What a client blocks on, for [`Blocking::block`].
pub struct Wait {
    pub id: u64,
    pub worker: usize,
    pub token: usize,
    pub kind: Kind,
    pub db: usize,
    pub keys: Vec<Vec<u8>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Blocking {
    /// Install the workers' wakers, by worker index (once, at start-up).
    pub fn set_wakers(&self, wakers: Vec<Arc<Waker>>) {
        let inboxes = wakers.into_iter().map(|waker| Inbox { waker, wakeups: Mutex::default() }).collect();
        let _ = self.inboxes.set(inboxes);
    }

    /// Clients blocked now.
    pub fn blocked_clients(&self) -> usize {
        self.blocked.load(Ordering::Relaxed)
    }

    /// Register a client that waits; returns the wait's ticket. The caller
    /// then checks the keys once ([`Blocking::recheck`]): a key filled
    /// between the command's look and this registration woke nobody.
    pub fn block(&self, wait: Wait) -> u64 {
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        let mut state = lock(&self.state);
        let waiting = state.keys.entry(wait.db).or_default();
        for key in &wait.keys {
            let queue = waiting.entry(key.clone()).or_default();
            if !queue.contains(&wait.id) {
                queue.push_back(wait.id);
            }
        }
        let waiter = Waiter {
            worker: wait.worker,
            token: wait.token,
            ticket,
            kind: wait.kind,
            db: wait.db,
            keys: wait.keys,
            woken: false,
        };
        if state.clients.insert(wait.id, waiter).is_none() {
            self.blocked.fetch_add(1, Ordering::Relaxed);
        }
        ticket
    }

    /// Key `key` of database `db` now holds a value of `kind`: wake the
    /// first client waiting on it for that kind (unless a wake is already
    /// on its way to it).
    pub fn key_ready(&self, db: usize, key: &[u8], kind: Kind) {
        if self.blocked_clients() == 0 {
            return;
        }
        let mut state = lock(&self.state);
        let State { keys, clients } = &mut *state;
        let Some(queue) = keys.get(&db).and_then(|waiting| waiting.get(key)) else { return };
        let first = queue.iter().find(|id| clients.get(id).is_some_and(|w| w.kind == kind));
        if let Some(waiter) = first.and_then(|id| clients.get_mut(id)).filter(|w| !w.woken) {
            waiter.woken = true;
            self.send(waiter.worker, Wakeup::Retry { token: waiter.token, ticket: waiter.ticket });
        }
    }

    /// Run again the command of every client waiting on a key of database
    /// `db` that `moved` picks (cluster mode: the key's slot went to
    /// another node, and the command, routed again, answers MOVED, as
    /// Redis redirects blocked clients).
    pub fn retry_where(&self, db: usize, moved: impl Fn(&[u8]) -> bool) {
        if self.blocked_clients() == 0 {
            return;
        }
        let mut state = lock(&self.state);
        let State { keys, clients } = &mut *state;
        let Some(waiting) = keys.get(&db) else { return };
        let ids = waiting.iter().filter(|(key, _)| moved(key)).flat_map(|(_, queue)| queue.iter().copied());
        for id in ids {
            if let Some(waiter) = clients.get_mut(&id).filter(|waiter| !waiter.woken) {
                waiter.woken = true;
                self.send(waiter.worker, Wakeup::Retry { token: waiter.token, ticket: waiter.ticket });
            }
        }
    }

    /// The keys of database `db` somebody waits on (for SWAPDB, which
    /// changes them all at once).
    pub fn waited_keys(&self, db: usize) -> Vec<Vec<u8>> {
        if self.blocked_clients() == 0 {
            return Vec::new();
        }
        lock(&self.state).keys.get(&db).map(|waiting| waiting.keys().cloned().collect()).unwrap_or_default()
    }

    /// The worker is about to run client `id`'s blocked command again:
    /// false if that wait is over (unblocked or timed out meanwhile). A
    /// key filled from now on wakes the client once more.
    pub fn begin_retry(&self, id: u64, ticket: u64) -> bool {
        let mut state = lock(&self.state);
        match state.clients.get_mut(&id) {
            Some(waiter) if waiter.ticket == ticket => {
                waiter.woken = false;
                true
            }
            _ => false,
        }
    }

    /// Client `id` no longer waits (served, timed out, disconnected):
    /// forget it. Returns its database and keys, to [`Blocking::recheck`]
    /// so that a wake meant for it goes on to the next waiter.
    pub fn unblock(&self, id: u64) -> Option<(usize, Vec<Vec<u8>>)> {
        let mut state = lock(&self.state);
        let waiter = state.clients.remove(&id)?;
        self.blocked.fetch_sub(1, Ordering::Relaxed);
        if let Some(waiting) = state.keys.get_mut(&waiter.db) {
            for key in &waiter.keys {
                let Some(queue) = waiting.get_mut(key.as_slice()) else { continue };
                queue.retain(|other| *other != id);
                if queue.is_empty() {
                    waiting.remove(key.as_slice());
                }
            }
            if waiting.is_empty() {
                state.keys.remove(&waiter.db);
            }
        }
        Some((waiter.db, waiter.keys))
    }

    /// CLIENT UNBLOCK: release client `id` if it is blocked, telling its
    /// worker how to answer. Returns its database and keys (see
    /// [`Blocking::unblock`]), or None if it was not blocked.
    pub fn request_unblock(&self, id: u64, reason: UnblockReason) -> Option<(usize, Vec<Vec<u8>>)> {
        let (worker, token, ticket) = {
            let state = lock(&self.state);
            let waiter = state.clients.get(&id)?;
            (waiter.worker, waiter.token, waiter.ticket)
        };
        let released = self.unblock(id)?;
        self.send(worker, Wakeup::Unblock { token, ticket, reason });
        Some(released)
    }

    /// Wake the waiters of `keys` that now hold a value (after a client
    /// left the registry, or right after one joined it).
    pub fn recheck(&self, store: &Store, db: usize, keys: &[Vec<u8>], now: u64) {
        if self.blocked_clients() == 0 {
            return;
        }
        let table = store.db(db);
        for key in keys {
            if let Some(kind) = table.view(key, now, |entry| entry.map(|e| e.kind())) {
                self.key_ready(db, key, kind);
            }
        }
    }

    /// Take the wakeups sent to `worker`.
    pub fn take_wakeups(&self, worker: usize) -> Vec<Wakeup> {
        self.inboxes
            .get()
            .and_then(|inboxes| inboxes.get(worker))
            .map_or_else(Vec::new, |inbox| std::mem::take(&mut *lock(&inbox.wakeups)))
    }

    fn send(&self, worker: usize, wakeup: Wakeup) {
        let Some(inbox) = self.inboxes.get().and_then(|inboxes| inboxes.get(worker)) else { return };
        lock(&inbox.wakeups).push(wakeup);
        if let Err(e) = inbox.waker.wake() {
            crate::log_warn!("cannot wake worker {worker}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(id: u64, keys: &[&[u8]], kind: Kind) -> Wait {
        Wait { id, worker: 0, token: id as usize, kind, db: 0, keys: keys.iter().map(|k| k.to_vec()).collect() }
    }

    fn registry() -> (Blocking, mio::Poll) {
        let poll = mio::Poll::new().unwrap();
        let waker = Arc::new(Waker::new(poll.registry(), mio::Token(0)).unwrap());
        let blocking = Blocking::default();
        blocking.set_wakers(vec![waker]);
        (blocking, poll)
    }

    #[test]
    fn a_ready_key_wakes_its_first_waiter_of_that_kind_once() {
        let (blocking, _poll) = registry();
        let a = blocking.block(wait(1, &[b"k"], Kind::Hash));
        let b = blocking.block(wait(2, &[b"k", b"other"], Kind::List));
        blocking.block(wait(3, &[b"k"], Kind::List));
        assert_eq!(blocking.blocked_clients(), 3);
        blocking.key_ready(0, b"k", Kind::List);
        blocking.key_ready(0, b"k", Kind::List);
        assert_eq!(blocking.take_wakeups(0), [Wakeup::Retry { token: 2, ticket: b }]);
        assert!(blocking.begin_retry(2, b));
        assert!(!blocking.begin_retry(2, a), "a stale ticket");
        assert_eq!(blocking.unblock(2).map(|(_, keys)| keys.len()), Some(2));
        blocking.key_ready(0, b"k", Kind::List);
        assert_eq!(blocking.take_wakeups(0).len(), 1, "client 3 is next");
        assert!(blocking.request_unblock(1, UnblockReason::Error).is_some());
        assert!(blocking.request_unblock(1, UnblockReason::Error).is_none());
        assert_eq!(blocking.take_wakeups(0), [Wakeup::Unblock { token: 1, ticket: a, reason: UnblockReason::Error }]);
        assert!(blocking.unblock(3).is_some());
        assert_eq!(blocking.blocked_clients(), 0);
        assert!(blocking.waited_keys(0).is_empty(), "no queue is left behind");
    }
}
