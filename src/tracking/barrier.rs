//! Holding a writer's replies back until the invalidations its commands
//! sent to other clients have reached those clients' connections.
//!
//! In Redis one thread writes a command's reply and the invalidations it
//! caused in the same turn of its event loop, so by the time a client has
//! the reply of a write, the invalidation is in the cached connection's
//! socket: a cache that checks its socket before serving a read does not
//! serve the old value after the write returned. Here the invalidation
//! crosses to the receiver's worker through its mailbox, which takes a
//! wake-up; without waiting, the writer's reply could overtake it. So the
//! writer's connection keeps its replies until every receiver's connection
//! has taken the frames meant for it (see `Mailbox::taken`), or for a few
//! milliseconds at most: a receiver that cannot take them (its worker held
//! by a script, its connection gone) does not hold the writer up longer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::pubsub::Mailbox;

/// How long a writer's replies wait at most.
const PATIENCE: Duration = Duration::from_millis(5);

type Hasher = foldhash::fast::RandomState;

/// Frames sent to other clients that a connection's replies wait for.
#[derive(Default)]
pub struct Barrier {
    /// By receiver id: its mailbox, and the last frame sent to it.
    frames: HashMap<u64, (Arc<Mailbox>, u64), Hasher>,
    /// When the replies began to wait.
    since: Option<Instant>,
}

impl std::fmt::Debug for Barrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Barrier").field("receivers", &self.frames.len()).field("since", &self.since).finish()
    }
}

impl Barrier {
    /// Frame `seq` was posted to `mailbox`.
    pub fn add(&mut self, mailbox: &Arc<Mailbox>, seq: u64) {
        let entry = self.frames.entry(mailbox.id()).or_insert_with(|| (Arc::clone(mailbox), seq));
        entry.1 = entry.1.max(seq);
    }

    /// Wait for `other`'s frames too.
    pub fn merge(&mut self, other: Barrier) {
        other.frames.into_values().for_each(|(mailbox, seq)| self.add(&mailbox, seq));
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Whether the replies may go now: every frame has been taken, or they
    /// have waited long enough.
    pub fn passed(&mut self) -> bool {
        if self.frames.is_empty() {
            return true;
        }
        self.frames.retain(|_, (mailbox, seq)| mailbox.taken() < *seq);
        let since = *self.since.get_or_insert_with(Instant::now);
        if self.frames.is_empty() || since.elapsed() >= PATIENCE {
            self.frames.clear();
            self.since = None;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::ClientInfo;
    use crate::inbox::Inboxes;
    use crate::protocol::ReplyBuffer;
    use bytes::Bytes;

    #[test]
    fn passes_once_the_frames_are_taken_or_after_a_while() {
        let inboxes = Inboxes::default();
        let mailbox = Arc::new(Mailbox::new(Arc::new(ClientInfo::new(3, None, None)), 0, 0));
        let mut barrier = Barrier::default();
        assert!(barrier.passed());
        let seq = mailbox.post(&Bytes::from_static(b"x"), 0, &inboxes);
        barrier.add(&mailbox, seq);
        assert!(!barrier.passed());
        mailbox.drain_into(&mut ReplyBuffer::default());
        assert!(barrier.passed() && barrier.is_empty());
        barrier.add(&mailbox, mailbox.post(&Bytes::from_static(b"y"), 0, &inboxes));
        assert!(!barrier.passed());
        std::thread::sleep(PATIENCE);
        assert!(barrier.passed(), "a receiver that does not take its frames does not hold the writer for ever");
    }
}
