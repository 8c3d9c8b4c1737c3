//! Messages on their way to one client: its [`Mailbox`], and the [`Push`]
//! frames put in it.
//!
//! A client's connection belongs to one worker thread, but messages for it
//! are published on any. So a publisher never touches the connection: it
//! appends the already encoded frame to the client's mailbox (a queue of
//! shared `Bytes` behind a small lock) and, if no delivery is pending yet,
//! sends the client's worker a [`Wakeup::Deliver`]. The worker then moves
//! the frames into the connection's output ([`Mailbox::drain_into`]), in
//! the order they were posted: messages from one publisher reach each
//! subscriber in publish order.
//!
//! A frame is encoded once per protocol, not once per receiver: [`Push`]
//! builds the RESP2 array or the RESP3 push the first time a receiver
//! speaking that protocol needs it, and every receiver shares those bytes.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::clients::ClientInfo;
use crate::inbox::{Inboxes, Wakeup};
use crate::protocol::{Protocol, ReplyBuffer};

/// A message to clients: `len` elements written by `body`, sent as a RESP3
/// push (`>`) to RESP3 clients and as an array (`*`) to RESP2 ones, each
/// encoding made at most once.
pub struct Push<'a> {
    len: usize,
    body: &'a dyn Fn(&mut ReplyBuffer),
    resp2: OnceLock<Bytes>,
    resp3: OnceLock<Bytes>,
}

impl<'a> Push<'a> {
    /// `body` writes the `len` elements (with the given buffer's protocol,
    /// so nested replies take that protocol's types).
    pub fn new(len: usize, body: &'a dyn Fn(&mut ReplyBuffer)) -> Self {
        Self { len, body, resp2: OnceLock::new(), resp3: OnceLock::new() }
    }

    /// The frame in `protocol`, encoded the first time it is asked for.
    pub fn encoded(&self, protocol: Protocol) -> &Bytes {
        let cell = match protocol {
            Protocol::Resp2 => &self.resp2,
            Protocol::Resp3 => &self.resp3,
        };
        cell.get_or_init(|| {
            let mut out = ReplyBuffer::with_protocol(protocol);
            out.push(self.len);
            (self.body)(&mut out);
            out.into_bytes()
        })
    }
}

/// What [`Mailbox::drain_into`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drained {
    /// Every frame posted so far is in the connection's output.
    Ok,
    /// The frames passed the client's hard output limit before its worker
    /// could take them: they were dropped, and the client must be closed.
    Overflowed,
}

/// One client's queue of frames not yet in its connection's output.
pub struct Mailbox {
    pub client: Arc<ClientInfo>,
    /// Where the connection lives: its worker, and its slot there.
    worker: usize,
    token: usize,
    queue: Mutex<Queue>,
    /// The sequence number of the last frame its connection has taken
    /// (or that was dropped): a sender that must not get ahead of its
    /// frame waits for this to reach the number [`Mailbox::post`] gave it.
    taken: AtomicU64,
}

#[derive(Default)]
struct Queue {
    frames: VecDeque<Bytes>,
    /// Bytes in `frames`.
    bytes: u64,
    /// A [`Wakeup::Deliver`] is on its way to the worker.
    notified: bool,
    /// Over the hard limit: later frames are dropped until the worker
    /// closes the client.
    overflowed: bool,
    /// Frames posted so far (the last one's sequence number).
    posted: u64,
}

impl Mailbox {
    pub fn new(client: Arc<ClientInfo>, worker: usize, token: usize) -> Self {
        Self { client, worker, token, queue: Mutex::default(), taken: AtomicU64::new(0) }
    }

    pub fn id(&self) -> u64 {
        self.client.id
    }

    /// The protocol the client speaks now.
    pub fn protocol(&self) -> Protocol {
        if self.client.resp3() {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        }
    }

    /// Append `frame`, and wake the client's worker unless a delivery is
    /// pending already. `hard_limit` (0: none) bounds what may pile up
    /// here while the worker cannot take it: past it the frames are dropped
    /// and the client is closed. The publisher is never made to wait.
    /// Returns the frame's sequence number (see [`Mailbox::taken`]).
    pub fn post(&self, frame: &Bytes, hard_limit: u64, inboxes: &Inboxes) -> u64 {
        let mut queue = self.queue.lock();
        queue.posted += 1;
        let seq = queue.posted;
        if queue.overflowed {
            self.taken.store(seq, Ordering::Release);
            return seq;
        }
        queue.bytes += frame.len() as u64;
        if hard_limit > 0 && queue.bytes >= hard_limit {
            queue.overflowed = true;
            queue.frames = VecDeque::new();
            queue.bytes = 0;
            self.taken.store(seq, Ordering::Release);
        } else {
            queue.frames.push_back(frame.clone());
        }
        if !std::mem::replace(&mut queue.notified, true) {
            drop(queue);
            inboxes.send(self.worker, Wakeup::Deliver { token: self.token, id: self.client.id });
        }
        seq
    }

    /// The sequence number of the last frame taken into the connection's
    /// output (or dropped).
    pub fn taken(&self) -> u64 {
        self.taken.load(Ordering::Acquire)
    }

    /// Move every posted frame into `out`, in order. A delivery wakeup
    /// still on its way then finds nothing, and the next post sends a new
    /// one.
    pub fn drain_into(&self, out: &mut ReplyBuffer) -> Drained {
        let mut queue = self.queue.lock();
        queue.notified = false;
        if queue.overflowed {
            return Drained::Overflowed;
        }
        for frame in queue.frames.drain(..) {
            out.encoded(&frame);
        }
        queue.bytes = 0;
        self.taken.store(queue.posted, Ordering::Release);
        Drained::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(mailbox: &Mailbox) -> (Drained, Vec<u8>) {
        let mut out = ReplyBuffer::default();
        let drained = mailbox.drain_into(&mut out);
        (drained, out.take_all())
    }

    #[test]
    fn a_push_is_encoded_once_per_protocol() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let body = |out: &mut ReplyBuffer| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            out.bulk(b"message");
            out.null();
        };
        let push = Push::new(2, &body);
        assert_eq!(&push.encoded(Protocol::Resp2)[..], b"*2\r\n$7\r\nmessage\r\n$-1\r\n");
        assert_eq!(&push.encoded(Protocol::Resp3)[..], b">2\r\n$7\r\nmessage\r\n_\r\n");
        push.encoded(Protocol::Resp2);
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 2);
    }

    #[test]
    fn frames_come_out_in_order_until_the_hard_limit() {
        let inboxes = Inboxes::default();
        let mailbox = Mailbox::new(Arc::new(ClientInfo::new(7, None, None)), 0, 3);
        mailbox.post(&Bytes::from_static(b"one "), 10, &inboxes);
        assert_eq!(mailbox.post(&Bytes::from_static(b"two "), 10, &inboxes), 2);
        assert_eq!(mailbox.taken(), 0);
        assert_eq!(drain(&mailbox), (Drained::Ok, b"one two ".to_vec()));
        assert_eq!(mailbox.taken(), 2);
        mailbox.post(&Bytes::from_static(b"0123456789"), 10, &inboxes);
        mailbox.post(&Bytes::from_static(b"more"), 10, &inboxes);
        assert_eq!(drain(&mailbox), (Drained::Overflowed, Vec::new()));
        mailbox.post(&Bytes::from_static(b"big"), 0, &inboxes);
        assert_eq!(drain(&mailbox).0, Drained::Overflowed, "a client over its limit stays so");
    }
}
