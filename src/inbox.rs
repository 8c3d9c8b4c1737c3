//! The workers' inboxes: how any thread hands work to the worker that owns
//! a connection.
//!
//! A connection lives on one worker thread, but what concerns it may happen
//! on any other: a key it waits on is filled (`crate::blocking`), a message
//! is published to a channel it subscribes to (`crate::pubsub`), CLIENT
//! KILL marks it. Each worker has an inbox of [`Wakeup`]s and the mio
//! `Waker` that interrupts its poll; [`Inboxes`] holds all of them, once,
//! for every subsystem that needs to reach a worker.
//!
//! A sender pushes its wakeup and wakes the worker only if the inbox was
//! empty: the worker takes the whole inbox after each wake, so a non-empty
//! inbox always has a wake on its way, and a burst of wakeups costs one
//! system call.

use std::sync::{Arc, OnceLock};

use mio::Waker;
use parking_lot::Mutex;

/// How CLIENT UNBLOCK ends a blocking command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnblockReason {
    /// As if its timeout had passed (its null reply).
    Timeout,
    /// With `-UNBLOCKED client unblocked via CLIENT UNBLOCK`.
    Error,
}

/// What a woken worker must do for one of its connections (`token` is its
/// slot in the worker; a slot is reused once its connection closes, so
/// each wakeup also says which connection it is meant for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wakeup {
    /// A key the client waits on may be ready: run its command again.
    Retry { token: usize, ticket: u64 },
    /// CLIENT UNBLOCK released it: answer as the reason says.
    Unblock { token: usize, ticket: u64, reason: UnblockReason },
    /// Client `id`'s mailbox holds frames to send (see `crate::pubsub`).
    Deliver { token: usize, id: u64 },
    /// The clients its command woke have been served: it may run its
    /// next command (a hint: `Blocking::handoff_pending` says).
    Resume { token: usize },
}

struct Inbox {
    waker: Arc<Waker>,
    wakeups: Mutex<Vec<Wakeup>>,
}

/// Every worker's inbox, by worker index.
#[derive(Default)]
pub struct Inboxes {
    inboxes: OnceLock<Box<[Inbox]>>,
}

impl Inboxes {
    /// Install the workers' wakers, by worker index (once, at start-up;
    /// wakeups sent before that are dropped).
    pub fn install(&self, wakers: Vec<Arc<Waker>>) {
        let inboxes = wakers.into_iter().map(|waker| Inbox { waker, wakeups: Mutex::default() }).collect();
        let _ = self.inboxes.set(inboxes);
    }

    fn inbox(&self, worker: usize) -> Option<&Inbox> {
        self.inboxes.get().and_then(|inboxes| inboxes.get(worker))
    }

    /// Queue `wakeup` for `worker`, waking it unless a wake is already on
    /// its way.
    pub fn send(&self, worker: usize, wakeup: Wakeup) {
        let Some(inbox) = self.inbox(worker) else { return };
        let mut wakeups = inbox.wakeups.lock();
        let was_empty = wakeups.is_empty();
        wakeups.push(wakeup);
        drop(wakeups);
        if was_empty {
            wake(worker, &inbox.waker);
        }
    }

    /// Swap `worker`'s inbox with `into` (which should be empty): the
    /// worker keeps one buffer and the inbox another, so taking wakeups
    /// allocates nothing once both have grown.
    pub fn take(&self, worker: usize, into: &mut Vec<Wakeup>) {
        if let Some(inbox) = self.inbox(worker) {
            std::mem::swap(&mut *inbox.wakeups.lock(), into);
        }
    }

    /// Interrupt every worker's poll, so that it looks at killed clients
    /// and held commands now rather than at its next tick.
    pub fn wake_all(&self) {
        for (worker, inbox) in self.inboxes.get().into_iter().flatten().enumerate() {
            wake(worker, &inbox.waker);
        }
    }
}

fn wake(worker: usize, waker: &Waker) {
    if let Err(e) = waker.wake() {
        crate::log_warn!("cannot wake worker {worker}: {e}");
    }
}
