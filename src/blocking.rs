//! Blocking commands (BLPOP, BLMOVE, BLMPOP, ...): which clients wait on
//! which keys, and waking them when a key becomes ready.
//!
//! A connection belongs to one worker thread, and the command that makes a
//! key ready may run on any other, so the registry is shared: (database,
//! key) to the FIFO of client ids waiting on it, and per client its
//! [`Waiter`] (worker, connection token, the kind of value it waits for).
//! Wakeups reach the workers through their inboxes (`crate::inbox`). Deadlines
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
//! # Hand-offs: served before the writer's next command
//!
//! Redis serves the clients a command made ready before it runs any other
//! command, so the writer's next command sees them served (a pipelined
//! `LPUSH k x` + `BLPOP k 0` does not take back the element a client
//! already waits for, and `RPUSH a x` then `LRANGE b` sees a BLMOVE
//! waiter's move). Here the wakes a command causes form its client's
//! [`Handoff`]: the woken clients run one at a time in the order the keys
//! became ready (Redis's ready-key order), the wakes their own commands
//! cause join the same hand-off (so a chain of BLMOVEs is served whole),
//! and the writer runs nothing more until the hand-off is done
//! ([`Wakeup::Resume`]). The connection marks a command's run with a
//! [`HandoffScope`] (a thread-local, as `key_ready` runs deep in the
//! store); a wake outside any scope is sent at once.
//!
//! So a new blocking family (BZPOPMIN, BZMPOP) needs only to call
//! `Ctx::block(keys, Kind::ZSet, deadline)` when it has nothing to serve,
//! and to serve the client when its command runs again.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::inbox::{Inboxes, UnblockReason, Wakeup};
use crate::store::{Kind, Store};

/// The client whose command's wakes form a hand-off (module
/// documentation), and where to tell it the hand-off is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handoff {
    /// The writer's client id.
    pub id: u64,
    pub worker: usize,
    pub token: usize,
}

/// A hand-off under way.
struct HandoffState {
    owner: Handoff,
    /// Woken clients waiting for their turn: (client id, ticket).
    queue: VecDeque<(u64, u64)>,
    /// The client running its command now.
    turn: Option<u64>,
}

/// Where a waiter's wake stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wake {
    /// Not woken.
    Idle,
    /// In hand-off `id`'s queue.
    Queued(u64),
    /// A retry is on its way to the worker (its hand-off's turn, if any).
    Sent(Option<u64>),
}

thread_local! {
    /// The hand-off the command running on this thread adds its wakes to.
    static CURRENT: Cell<Option<Handoff>> = const { Cell::new(None) };
    /// Whether it added any.
    static JOINED: Cell<bool> = const { Cell::new(false) };
}

/// While alive, the wakes caused on this thread join a hand-off.
pub struct HandoffScope(());

impl HandoffScope {
    pub fn enter(handoff: Handoff) -> Self {
        CURRENT.set(Some(handoff));
        JOINED.set(false);
        HandoffScope(())
    }

    /// Whether a wake joined the hand-off while the scope was open.
    pub fn joined(&self) -> bool {
        JOINED.get()
    }
}

impl Drop for HandoffScope {
    fn drop(&mut self) {
        CURRENT.set(None);
        JOINED.set(false);
    }
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
    /// Whether a key it waits on woke it, and what became of the wake.
    wake: Wake,
    /// A key it waits on moved to another node (cluster mode): its
    /// command must run again to answer MOVED.
    moved: bool,
}

#[derive(Default)]
struct State {
    /// Database -> key -> ids of the clients waiting on it, oldest first.
    keys: HashMap<usize, HashMap<Vec<u8>, VecDeque<u64>>>,
    clients: HashMap<u64, Waiter>,
    /// Hand-offs under way, by their writer's client id.
    handoffs: HashMap<u64, HandoffState>,
}

/// The registry of blocked clients (see the module documentation). A
/// default one (a table on its own, in tests) has inboxes no worker reads.
#[derive(Default)]
pub struct Blocking {
    /// Clients blocked now (INFO's `blocked_clients`).
    blocked: AtomicUsize,
    next_ticket: AtomicU64,
    state: Mutex<State>,
    inboxes: Arc<Inboxes>,
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
    /// An empty registry that sends its wakeups to `inboxes`.
    pub fn new(inboxes: Arc<Inboxes>) -> Self {
        Self { blocked: AtomicUsize::new(0), next_ticket: AtomicU64::new(0), state: Mutex::default(), inboxes }
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
            wake: Wake::Idle,
            moved: false,
        };
        if state.clients.insert(wait.id, waiter).is_none() {
            self.blocked.fetch_add(1, Ordering::Relaxed);
        }
        ticket
    }

    /// Key `key` of database `db` now holds a value of `kind`: wake the
    /// first client waiting on it for that kind (unless it is woken
    /// already), at once or, inside a [`HandoffScope`], on its turn.
    pub fn key_ready(&self, db: usize, key: &[u8], kind: Kind) {
        if self.blocked_clients() == 0 {
            return;
        }
        let mut state = lock(&self.state);
        let State { keys, clients, handoffs } = &mut *state;
        let Some(queue) = keys.get(&db).and_then(|waiting| waiting.get(key)) else { return };
        let Some(&id) = queue.iter().find(|id| clients.get(id).is_some_and(|w| w.kind == kind)) else { return };
        let Some(waiter) = clients.get_mut(&id).filter(|w| w.wake == Wake::Idle) else { return };
        let Some(handoff) = CURRENT.get() else {
            waiter.wake = Wake::Sent(None);
            return self.inboxes.send(waiter.worker, Wakeup::Retry { token: waiter.token, ticket: waiter.ticket });
        };
        JOINED.set(true);
        waiter.wake = Wake::Queued(handoff.id);
        let ticket = waiter.ticket;
        let entry = handoffs.entry(handoff.id).or_insert_with(|| HandoffState {
            owner: handoff,
            queue: VecDeque::new(),
            turn: None,
        });
        entry.queue.push_back((id, ticket));
        if entry.turn.is_none() {
            self.next_turn(&mut state, handoff.id);
        }
    }

    /// Give hand-off `id`'s turn to the next woken client still waiting,
    /// or, none left, end it and tell its writer.
    fn next_turn(&self, state: &mut State, id: u64) {
        let State { clients, handoffs, .. } = state;
        let Some(handoff) = handoffs.get_mut(&id) else { return };
        while let Some((client, ticket)) = handoff.queue.pop_front() {
            let waiter = clients.get_mut(&client).filter(|w| w.ticket == ticket && w.wake == Wake::Queued(id));
            if let Some(waiter) = waiter {
                waiter.wake = Wake::Sent(Some(id));
                handoff.turn = Some(client);
                return self.inboxes.send(waiter.worker, Wakeup::Retry { token: waiter.token, ticket });
            }
        }
        let owner = handoff.owner;
        handoffs.remove(&id);
        self.inboxes.send(owner.worker, Wakeup::Resume { token: owner.token });
    }

    /// Client `client` has run its command on hand-off `id`'s turn
    /// (served or not, and any wakes it caused joined the hand-off): the
    /// next one's turn.
    pub fn turn_done(&self, id: u64, client: u64) {
        let mut state = lock(&self.state);
        match state.handoffs.get_mut(&id) {
            Some(handoff) if handoff.turn == Some(client) => handoff.turn = None,
            _ => return,
        }
        self.next_turn(&mut state, id);
    }

    /// Whether client `id`'s hand-off is still under way.
    pub fn handoff_pending(&self, id: u64) -> bool {
        lock(&self.state).handoffs.contains_key(&id)
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
        let State { keys, clients, .. } = &mut *state;
        let Some(waiting) = keys.get(&db) else { return };
        let ids = waiting.iter().filter(|(key, _)| moved(key)).flat_map(|(_, queue)| queue.iter().copied());
        for id in ids {
            if let Some(waiter) = clients.get_mut(&id).filter(|waiter| waiter.wake == Wake::Idle) {
                waiter.wake = Wake::Sent(None);
                waiter.moved = true;
                self.inboxes.send(waiter.worker, Wakeup::Retry { token: waiter.token, ticket: waiter.ticket });
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
    /// None if that wait is over (unblocked or timed out meanwhile), else
    /// the hand-off whose turn the run is (its wakes join it, and it ends
    /// with [`Blocking::turn_done`]). A key filled from now on wakes the
    /// client once more.
    pub fn begin_retry(&self, id: u64, ticket: u64) -> Option<Option<Handoff>> {
        let mut state = lock(&self.state);
        let State { clients, handoffs, .. } = &mut *state;
        let waiter = clients.get_mut(&id).filter(|w| w.ticket == ticket)?;
        match std::mem::replace(&mut waiter.wake, Wake::Idle) {
            Wake::Sent(turn) => Some(turn.and_then(|h| handoffs.get(&h)).map(|h| h.owner)),
            Wake::Idle => Some(None),
            // Not its turn yet: the hand-off will send it.
            queued @ Wake::Queued(_) => {
                waiter.wake = queued;
                None
            }
        }
    }

    /// Whether one of the keys client `id` waits on holds the kind of value
    /// it waits for. A wake is a hint: in `MULTI` a key can be filled and
    /// then deleted or overwritten with another type before the woken
    /// command runs, and Redis then leaves the client blocked rather than
    /// answering WRONGTYPE or nothing (its ready keys are served only if
    /// they still hold the blocked type). A client whose key moved to
    /// another node runs again too, to answer MOVED.
    pub fn awaited_value_present(&self, store: &Store, id: u64, now: u64) -> bool {
        let (db, kind, keys) = {
            let state = lock(&self.state);
            let Some(waiter) = state.clients.get(&id) else { return false };
            if waiter.moved {
                return true;
            }
            (waiter.db, waiter.kind, waiter.keys.clone())
        };
        let table = store.db(db);
        keys.iter().any(|key| table.peek(key, now, |entry| entry.is_some_and(|e| e.kind() == kind)))
    }

    /// Client `id` no longer waits (served, timed out, disconnected):
    /// forget it. Returns its database and keys, to [`Blocking::recheck`]
    /// so that a wake meant for it goes on to the next waiter.
    pub fn unblock(&self, id: u64) -> Option<(usize, Vec<Vec<u8>>)> {
        let mut state = lock(&self.state);
        let waiter = state.clients.remove(&id)?;
        self.blocked.fetch_sub(1, Ordering::Relaxed);
        // Its turn came but its command never ran: pass it on. (A client
        // still queued is skipped when its turn comes.)
        if let Wake::Sent(Some(handoff)) = waiter.wake {
            if state.handoffs.get_mut(&handoff).is_some_and(|h| h.turn.take_if(|turn| *turn == id).is_some()) {
                self.next_turn(&mut state, handoff);
            }
        }
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
        self.inboxes.send(worker, Wakeup::Unblock { token, ticket, reason });
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(id: u64, keys: &[&[u8]], kind: Kind) -> Wait {
        Wait { id, worker: 0, token: id as usize, kind, db: 0, keys: keys.iter().map(|k| k.to_vec()).collect() }
    }

    fn registry() -> (Blocking, Arc<Inboxes>, mio::Poll) {
        let poll = mio::Poll::new().unwrap();
        let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).unwrap());
        let inboxes = Arc::new(Inboxes::default());
        inboxes.install(vec![waker]);
        (Blocking::new(Arc::clone(&inboxes)), inboxes, poll)
    }

    fn take_wakeups(inboxes: &Inboxes) -> Vec<Wakeup> {
        let mut wakeups = Vec::new();
        inboxes.take(0, &mut wakeups);
        wakeups
    }

    #[test]
    fn a_ready_key_wakes_its_first_waiter_of_that_kind_once() {
        let (blocking, inboxes, _poll) = registry();
        let a = blocking.block(wait(1, &[b"k"], Kind::Hash));
        let b = blocking.block(wait(2, &[b"k", b"other"], Kind::List));
        blocking.block(wait(3, &[b"k"], Kind::List));
        assert_eq!(blocking.blocked_clients(), 3);
        blocking.key_ready(0, b"k", Kind::List);
        blocking.key_ready(0, b"k", Kind::List);
        assert_eq!(take_wakeups(&inboxes), [Wakeup::Retry { token: 2, ticket: b }]);
        assert_eq!(blocking.begin_retry(2, b), Some(None));
        assert_eq!(blocking.begin_retry(2, a), None, "a stale ticket");
        assert_eq!(blocking.unblock(2).map(|(_, keys)| keys.len()), Some(2));
        blocking.key_ready(0, b"k", Kind::List);
        assert_eq!(take_wakeups(&inboxes).len(), 1, "client 3 is next");
        assert!(blocking.request_unblock(1, UnblockReason::Error).is_some());
        assert!(blocking.request_unblock(1, UnblockReason::Error).is_none());
        assert_eq!(take_wakeups(&inboxes), [Wakeup::Unblock { token: 1, ticket: a, reason: UnblockReason::Error }]);
        assert!(blocking.unblock(3).is_some());
        assert_eq!(blocking.blocked_clients(), 0);
        assert!(blocking.waited_keys(0).is_empty(), "no queue is left behind");
    }

    #[test]
    fn a_handoff_serves_its_wakes_one_at_a_time_then_resumes_its_writer() {
        let (blocking, inboxes, _poll) = registry();
        let a = blocking.block(wait(1, &[b"a"], Kind::List));
        let b = blocking.block(wait(2, &[b"b"], Kind::List));
        let c = blocking.block(wait(3, &[b"c"], Kind::List));
        let writer = Handoff { id: 9, worker: 0, token: 90 };
        {
            let scope = HandoffScope::enter(writer);
            blocking.key_ready(0, b"a", Kind::List);
            blocking.key_ready(0, b"b", Kind::List);
            blocking.key_ready(0, b"c", Kind::List);
            assert!(scope.joined());
        }
        // Only the first is sent; the others wait for their turn.
        assert_eq!(take_wakeups(&inboxes), [Wakeup::Retry { token: 1, ticket: a }]);
        assert_eq!(blocking.begin_retry(2, b), None, "not its turn yet");
        assert_eq!(blocking.begin_retry(1, a), Some(Some(writer)));
        blocking.turn_done(9, 1);
        assert_eq!(take_wakeups(&inboxes), [Wakeup::Retry { token: 2, ticket: b }]);
        // Leaving before its command ran passes the turn on.
        assert!(blocking.unblock(2).is_some());
        assert_eq!(take_wakeups(&inboxes), [Wakeup::Retry { token: 3, ticket: c }]);
        assert!(blocking.handoff_pending(9));
        assert_eq!(blocking.begin_retry(3, c), Some(Some(writer)));
        blocking.turn_done(9, 3);
        assert_eq!(take_wakeups(&inboxes), [Wakeup::Resume { token: 90 }]);
        assert!(!blocking.handoff_pending(9));
        // Outside a scope a wake is sent at once.
        blocking.key_ready(0, b"a", Kind::List);
        assert_eq!(take_wakeups(&inboxes), [Wakeup::Retry { token: 1, ticket: a }]);
        assert_eq!(blocking.begin_retry(1, a), Some(None));
    }
}
