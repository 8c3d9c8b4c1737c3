//! Server-assisted client-side caching (CLIENT TRACKING), as in Redis 7.4:
//! which clients may have which keys cached, and telling them when a key
//! changes so they drop it.
//!
//! In the default mode a tracking client's reads are remembered in the
//! tracking table ([`keys`]: key -> client ids; the command layer records
//! them, see `crate::commands::tracking`); in BCAST mode it listens to key
//! prefixes instead ([`prefixes`]). The store reports every change of a
//! key, whatever its cause (a write, a delete, an expiry, an eviction),
//! and every flush, through its observer hook (`crate::store::observer`):
//! [`Tracking`] is that observer. For a changed key it takes the key's
//! entry out of the table and sends each of its clients an invalidation,
//! `>2 invalidate [key]` in RESP3, or, for a client that redirects them to
//! a RESP2 connection subscribed to something, a `__redis__:invalidate`
//! message there. A flush sends every tracking client `invalidate` with a
//! null: everything.
//!
//! Messages travel like Pub/Sub's, through the receiver's mailbox
//! (`crate::pubsub::mailbox`), which its connection drains before running
//! each command: an invalidation reaches a client before the reply of any
//! command it runs after the change. Changes a client makes itself are
//! held until its command has replied ([`scope`]).
//!
//! While no client tracks anything the store's hook is disarmed, so a
//! write pays one relaxed load for all this.

pub mod barrier;
pub mod client;
pub mod keys;
pub mod prefixes;
pub mod scope;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, RwLock};

pub use client::{ClientTracking, Flags};

use crate::clients::{ClientInfo, Clients};
use crate::protocol::{Protocol, ReplyBuffer};
use crate::pubsub::{Mailbox, PubSub, Push};
use crate::store::observer::{KeyObserver, Observer};
use scope::Pending;

/// The channel a RESP2 connection receives redirected invalidations on.
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

/// Redis's default `tracking-table-max-keys`.
pub const DEFAULT_MAX_KEYS: usize = 1_000_000;

type Hasher = foldhash::fast::RandomState;

/// What CLIENT TRACKING ON asks for, once checked.
#[derive(Debug, Default)]
pub struct Options<'a> {
    /// Of [`Flags::OPTIONS`].
    pub flags: Flags,
    /// The client to send invalidations to (0: the client itself).
    pub redirect: u64,
    /// BCAST's prefixes (none: every key).
    pub prefixes: Vec<&'a [u8]>,
}

/// The tracking registry (see the module documentation).
pub struct Tracking {
    /// Clients with tracking on, by id.
    trackers: RwLock<HashMap<u64, Arc<ClientInfo>, Hasher>>,
    /// Their number (INFO's `tracking_clients`), readable without a lock.
    tracking_clients: AtomicUsize,
    keys: keys::Keys,
    prefixes: RwLock<prefixes::Prefixes>,
    /// How many prefixes have listeners, readable without a lock.
    prefix_count: AtomicUsize,
    /// `tracking-table-max-keys` (0: no limit).
    max_keys: AtomicUsize,
    /// Held while keys are dropped to honour it, so that two threads do
    /// not both drop the same excess.
    trimming: Mutex<()>,
    pubsub: Arc<PubSub>,
    /// Every client, to tell a redirection to a client that left from one
    /// to a client that cannot receive invalidations.
    clients: Arc<Clients>,
    /// The store's hook, armed while some client tracks.
    observer: Weak<Observer>,
}

impl Tracking {
    /// A registry delivering through `pubsub`, installed as the store's
    /// `observer`.
    pub fn new(pubsub: Arc<PubSub>, clients: Arc<Clients>, observer: &Arc<Observer>) -> Arc<Self> {
        let tracking = Arc::new(Self {
            trackers: RwLock::default(),
            tracking_clients: AtomicUsize::new(0),
            keys: keys::Keys::default(),
            prefixes: RwLock::default(),
            prefix_count: AtomicUsize::new(0),
            max_keys: AtomicUsize::new(DEFAULT_MAX_KEYS),
            trimming: Mutex::new(()),
            pubsub,
            clients,
            observer: Arc::downgrade(observer),
        });
        observer.install(Arc::clone(&tracking) as Arc<dyn KeyObserver>);
        tracking
    }

    /// Whether any client tracks (one relaxed load).
    pub fn active(&self) -> bool {
        self.tracking_clients.load(Ordering::Relaxed) > 0
    }

    /// INFO's `tracking_clients`.
    pub fn tracking_clients(&self) -> usize {
        self.tracking_clients.load(Ordering::Relaxed)
    }

    /// INFO's `tracking_total_keys`.
    pub fn total_keys(&self) -> usize {
        self.keys.len()
    }

    /// INFO's `tracking_total_items`.
    pub fn total_items(&self) -> usize {
        self.keys.items()
    }

    /// INFO's `tracking_total_prefixes`.
    pub fn total_prefixes(&self) -> usize {
        self.prefix_count.load(Ordering::Relaxed)
    }

    pub fn max_keys(&self) -> usize {
        self.max_keys.load(Ordering::Relaxed)
    }

    /// Set `tracking-table-max-keys`, dropping keys at once if the table
    /// is over it.
    pub fn set_max_keys(&self, max: usize) {
        self.max_keys.store(max, Ordering::Relaxed);
        self.trim();
    }

    fn arm(&self, armed: bool) {
        if let Some(observer) = self.observer.upgrade() {
            observer.arm(armed);
        }
    }

    /// CLIENT TRACKING ON with checked `options` (Redis's
    /// `enableTracking`): again while on, it changes the options and the
    /// redirection, and adds BCAST prefixes.
    pub fn enable(&self, client: &Arc<ClientInfo>, options: &Options<'_>) {
        let mut trackers = self.trackers.write();
        if trackers.insert(client.id, Arc::clone(client)).is_none()
            && self.tracking_clients.fetch_add(1, Ordering::Relaxed) == 0
        {
            self.arm(true);
        }
        drop(trackers);
        client.tracking.set_redirect(options.redirect);
        let options_flags = options.flags;
        client.tracking.update(|flags| {
            flags.without(Flags::BROKEN_REDIRECT.with(Flags::OPTIONS)).with(Flags::ON).with(options_flags)
        });
        if options.flags.contains(Flags::BCAST) {
            let mut prefixes = self.prefixes.write();
            if options.prefixes.is_empty() {
                prefixes.add(client, b"");
            }
            options.prefixes.iter().for_each(|prefix| prefixes.add(client, prefix));
            self.prefix_count.store(prefixes.len(), Ordering::Relaxed);
        }
    }

    /// CLIENT TRACKING OFF, RESET, or the client leaving (Redis's
    /// `disableTracking`). Its ids stay in the tracking table until their
    /// keys change; once nobody tracks, the table is emptied.
    pub fn disable(&self, client: &ClientInfo) {
        let flags = client.tracking.flags();
        if flags.contains(Flags::BCAST) {
            let mut prefixes = self.prefixes.write();
            prefixes.remove_client(client.id);
            self.prefix_count.store(prefixes.len(), Ordering::Relaxed);
        }
        if !flags.contains(Flags::ON) {
            return;
        }
        client.tracking.update(|flags| flags.without(Flags::ALL));
        let mut trackers = self.trackers.write();
        if trackers.remove(&client.id).is_some() && self.tracking_clients.fetch_sub(1, Ordering::Relaxed) == 1 {
            // Under the lock, so that no client enables tracking meanwhile
            // and loses the keys it reads to this.
            self.keys.clear();
            self.arm(false);
        }
    }

    /// The BCAST prefixes of client `id`, in byte order.
    pub fn prefixes_of(&self, id: u64) -> Vec<Box<[u8]>> {
        self.prefixes.read().of(id).map(|set| set.iter().cloned().collect()).unwrap_or_default()
    }

    /// Redis's error if the BCAST prefixes `given` overlap each other or
    /// those client `id` has.
    pub fn prefix_collision(&self, id: u64, given: &[&[u8]]) -> Option<String> {
        prefixes::collision(self.prefixes.read().of(id), given)
    }

    /// Remember that client `id` read `key`; false if that was remembered
    /// already. The table is then trimmed to its limit.
    pub fn remember(&self, id: u64, key: &[u8]) -> bool {
        let added = self.keys.remember(key, id);
        let max = self.max_keys();
        if added && max > 0 && self.keys.len() > max {
            self.trim();
        }
        added
    }

    /// Drop keys, at random, while the table is over `tracking-table-max-keys`,
    /// telling their clients as if the keys had changed (Redis's
    /// `trackingLimitUsedSlots`). Not a change by the running command: the
    /// client running it hears of it too, at once.
    fn trim(&self) {
        let max = self.max_keys();
        if max == 0 {
            return;
        }
        let Some(_trimming) = self.trimming.try_lock() else { return };
        while let Some(excess) = self.keys.len().checked_sub(max).filter(|&n| n > 0) {
            let victims = self.keys.victims(excess);
            if victims.is_empty() {
                break;
            }
            victims.iter().for_each(|key| self.invalidate(key, None));
        }
    }

    /// `key` changed: tell the clients that may cache it. `current` is the
    /// client whose command changed it, if one did: in NOLOOP mode it is
    /// not told, otherwise it is told once its command has replied.
    fn invalidate(&self, key: &[u8], current: Option<u64>) {
        let ids = self.keys.take(key);
        if ids.is_empty() {
            return;
        }
        let trackers = self.trackers.read();
        let keys = [key];
        with_message(Payload::Keys(&keys), |message| {
            for id in ids {
                let Some(target) = trackers.get(&id) else { continue };
                let flags = target.tracking.flags();
                // Keys it read before it switched to BCAST mode are no
                // longer its concern, as in Redis.
                if !flags.contains(Flags::ON) || flags.contains(Flags::BCAST) {
                    continue;
                }
                if current == Some(id) {
                    if !flags.contains(Flags::NOLOOP) {
                        target.tracking.note_invalidation();
                        defer(Pending::Key(key.into()));
                    }
                    continue;
                }
                target.tracking.note_invalidation();
                self.send(target, message);
            }
        });
    }

    /// Send the BCAST listeners of the prefixes `changed` keys start with
    /// one message per prefix, with its keys; a NOLOOP listener does not
    /// hear of the changes it made itself (`writer`).
    fn broadcast(&self, changed: &[Box<[u8]>], writer: Option<u64>) {
        let prefixes = self.prefixes.read();
        for (keys, listeners) in prefixes.matching(changed) {
            with_message(Payload::Keys(&keys), |message| {
                for (id, listener) in listeners {
                    if writer == Some(*id) && listener.tracking.flags().contains(Flags::NOLOOP) {
                        continue;
                    }
                    self.send(listener, message);
                }
            });
        }
    }

    /// Send the invalidations a client's command held back (see [`scope`])
    /// now that it has replied: its own (`pending`), and its `changed`
    /// keys to BCAST listeners. `client` is the one that ran it; its scope
    /// is still open, to gather what this sends to others.
    pub fn finish(&self, pending: &[Pending], changed: &[Box<[u8]>], client: &ClientInfo) {
        if !changed.is_empty() && self.total_prefixes() > 0 {
            self.broadcast(changed, Some(client.id));
        }
        for pending in pending {
            let keys;
            let payload = match pending {
                Pending::Key(key) => {
                    keys = [&key[..]];
                    Payload::Keys(&keys)
                }
                Pending::All => Payload::All,
            };
            with_message(payload, |message| self.send(client, message));
        }
    }

    /// Send `message` where `target`'s invalidations go (Redis's
    /// `sendTrackingMessage`): to the client it redirects them to, as a
    /// push if that one speaks RESP3, else as a `__redis__:invalidate`
    /// message if it is subscribed to something; or, without a
    /// redirection, to `target` itself if it speaks RESP3. A RESP2 client
    /// without one gets nothing, as in Redis.
    fn send(&self, target: &ClientInfo, message: &Message<'_>) {
        let redirect = target.tracking.redirect();
        if redirect == 0 {
            self.pubsub.with_mailbox(target.id, |mailbox| {
                if mailbox.protocol() == Protocol::Resp3 {
                    self.post(mailbox, &message.push);
                }
            });
            return;
        }
        let reach = self.pubsub.with_mailbox(redirect, |mailbox| {
            if mailbox.client.is_gone() {
                Reach::Gone
            } else if mailbox.protocol() == Protocol::Resp3 {
                self.post(mailbox, &message.push);
                Reach::Sent
            } else if mailbox.client.is_pubsub() {
                self.post(mailbox, &message.channel);
                Reach::Sent
            } else {
                Reach::Deaf
            }
        });
        let reach = reach.unwrap_or_else(|| if self.clients.contains(redirect) { Reach::Deaf } else { Reach::Gone });
        if reach == Reach::Gone {
            self.redirect_broken(target, redirect);
        }
    }

    /// The client `target` redirects to is gone: flag it, and tell it
    /// (a RESP3 client only), as Redis does at each invalidation.
    fn redirect_broken(&self, target: &ClientInfo, redirect: u64) {
        target.tracking.update(|flags| flags.with(Flags::BROKEN_REDIRECT));
        let body = |out: &mut ReplyBuffer| {
            out.bulk(b"tracking-redir-broken");
            out.integer(i64::try_from(redirect).unwrap_or(i64::MAX));
        };
        let push = Push::new(2, &body);
        self.pubsub.with_mailbox(target.id, |mailbox| {
            if mailbox.protocol() == Protocol::Resp3 {
                self.post(mailbox, &push);
            }
        });
    }

    /// Post `push` to `mailbox`; from a client's command, its replies then
    /// wait for the frame to reach that client (see [`barrier`]), unless
    /// it is the client's own.
    fn post(&self, mailbox: &Arc<Mailbox>, push: &Push<'_>) {
        let seq = self.pubsub.post(mailbox, push);
        scope::with(|scope| match scope {
            Some(scope) if scope.client != mailbox.id() => scope.barrier.add(mailbox, seq),
            _ => {}
        });
    }
}

impl KeyObserver for Tracking {
    fn key_changed(&self, _db: usize, key: &[u8]) {
        let current = scope::client();
        if self.total_prefixes() > 0 {
            match current {
                Some(_) => scope::with(|scope| {
                    if let Some(scope) = scope {
                        scope.changed.push(key.into());
                    }
                }),
                None => self.broadcast(&[key.into()], None),
            }
        }
        self.invalidate(key, current);
    }

    /// Every tracking client hears `invalidate` with a null: drop
    /// everything (Redis's `trackingInvalidateKeysOnFlush`); the table is
    /// emptied.
    fn keyspace_replaced(&self) {
        let current = scope::client();
        let trackers = self.trackers.read();
        with_message(Payload::All, |message| {
            for (id, target) in trackers.iter() {
                target.tracking.note_invalidation();
                if current == Some(*id) {
                    defer(Pending::All);
                } else {
                    self.send(target, message);
                }
            }
        });
        self.keys.clear();
    }
}

/// Hold an invalidation for the client whose command runs on this thread.
fn defer(pending: Pending) {
    scope::with(|scope| {
        if let Some(scope) = scope {
            scope.pending.push(pending);
        }
    });
}

/// What became of an invalidation sent to a redirection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reach {
    Sent,
    /// The client exists but cannot receive it (RESP2, not subscribed).
    Deaf,
    /// The client has left, was killed, or is closing.
    Gone,
}

/// What an invalidation says is no longer valid.
#[derive(Clone, Copy)]
enum Payload<'a> {
    Keys(&'a [&'a [u8]]),
    /// Everything (a null).
    All,
}

/// One invalidation in both of its forms, each encoded at most once per
/// protocol however many clients receive it.
struct Message<'a> {
    /// `invalidate <payload>`, pushed to a RESP3 client.
    push: Push<'a>,
    /// `message __redis__:invalidate <payload>`, for a RESP2 subscriber.
    channel: Push<'a>,
}

fn with_message<R>(payload: Payload<'_>, f: impl FnOnce(&Message<'_>) -> R) -> R {
    let write_payload = |out: &mut ReplyBuffer| match payload {
        Payload::Keys(keys) => {
            out.array(keys.len());
            keys.iter().for_each(|key| out.bulk(key));
        }
        Payload::All => out.null(),
    };
    let push = |out: &mut ReplyBuffer| {
        out.bulk(b"invalidate");
        write_payload(out);
    };
    let channel = |out: &mut ReplyBuffer| {
        out.bulk(b"message");
        out.bulk(CHANNEL);
        write_payload(out);
    };
    f(&Message { push: Push::new(2, &push), channel: Push::new(3, &channel) })
}
