//! The command a worker thread is running for a client, as invalidation
//! sees it (Redis's `server.current_client` while it executes).
//!
//! Two things depend on who changes a key. A client does not get
//! invalidations for its own changes in NOLOOP mode; and the invalidations
//! it does get for them must follow its command's reply, not land in the
//! middle of it (or of an EXEC's or a script's replies), which is how Redis
//! 7.4 orders them (`trackingHandlePendingKeyInvalidations`). The store
//! reports a change on the thread that makes it, so the command layer
//! opens a [`Scope`] on that thread around each command a client sends;
//! changes seen inside it are held in it, and sent when it closes.
//!
//! BCAST mode's invalidations are gathered the same way, so that a command
//! changing several keys under one prefix (MSET, an EXEC) sends one
//! message with all of them, as Redis sends one per event loop cycle.
//! Changes made outside any command (the expiry and eviction sweeps) have
//! no scope and are sent at once.
//!
//! What a command sends to other clients is noted in its scope too: the
//! command's reply waits for it (see `super::barrier`).

use std::cell::RefCell;

/// An invalidation held until the command's reply is written.
#[derive(Debug, PartialEq, Eq)]
pub enum Pending {
    /// A key the client may cache changed.
    Key(Box<[u8]>),
    /// The keyspace was flushed or swapped: every key.
    All,
}

/// What the command running on this thread has changed so far.
#[derive(Debug, Default)]
pub struct Scope {
    /// The client running it.
    pub client: u64,
    /// Invalidations for that client itself.
    pub pending: Vec<Pending>,
    /// Changed keys, for BCAST listeners.
    pub changed: Vec<Box<[u8]>>,
    /// What it sent to other clients, which its reply must not overtake.
    pub barrier: super::barrier::Barrier,
}

thread_local! {
    static CURRENT: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

/// Open on this thread while a client's command runs; [`Guard::close`]
/// hands back what it gathered. Dropping it without closing (a panic)
/// discards that.
pub struct Guard(());

/// Open a scope for a command of client `client`.
pub fn open(client: u64) -> Guard {
    CURRENT.with(|current| *current.borrow_mut() = Some(Scope { client, ..Scope::default() }));
    Guard(())
}

impl Guard {
    pub fn close(self) -> Scope {
        CURRENT.with(|current| current.borrow_mut().take()).unwrap_or_default()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        CURRENT.with(|current| current.borrow_mut().take());
    }
}

/// Run `f` on this thread's scope, if a command is running.
pub fn with<R>(f: impl FnOnce(Option<&mut Scope>) -> R) -> R {
    CURRENT.with(|current| f(current.borrow_mut().as_mut()))
}

/// The client whose command runs on this thread, if any.
pub fn client() -> Option<u64> {
    with(|scope| scope.map(|scope| scope.client))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_holds_what_its_command_changed() {
        assert_eq!(client(), None);
        let guard = open(7);
        assert_eq!(client(), Some(7));
        with(|scope| scope.into_iter().for_each(|s| s.pending.push(Pending::All)));
        let scope = guard.close();
        assert_eq!((scope.client, scope.pending), (7, vec![Pending::All]));
        assert_eq!(client(), None);
        drop(open(8));
        assert_eq!(client(), None, "dropping the guard closes the scope");
    }
}
