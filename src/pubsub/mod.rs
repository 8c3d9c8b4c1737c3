//! Pub/Sub: which clients subscribe to which channels, patterns and shard
//! channels, and delivering messages to them on whatever worker they live.
//!
//! The registry ([`PubSub`]) maps each channel, pattern and shard channel
//! to its subscribers' mailboxes, and each client id to its mailbox. A
//! client's own side, the names it subscribes to and its mailbox, is a
//! [`Subscriber`] its session holds (created on its first subscription),
//! so that only its connection changes it.
//!
//! Publishing ([`PubSub::publish`]) looks the channel up under the read
//! lock and posts the message, encoded once per protocol, to each
//! subscriber's mailbox (see [`mailbox`]); the subscriber's worker moves it
//! into the connection's output. A PUBLISH nobody listens to costs one
//! atomic load while nobody subscribes to anything, and otherwise one
//! read-locked map probe (plus a match against each pattern, as in Redis),
//! without allocating.
//!
//! The same delivery serves other pushes to a client: [`PubSub::with_mailbox`]
//! finds a client's mailbox by id and [`PubSub::post`] sends it a [`Push`]
//! built by the caller (CLIENT TRACKING's invalidation messages); a client
//! gets a mailbox with its session's subscriber
//! (`commands::pubsub::subscriber_of`, which a client that only tracks
//! keys calls too). Keyspace notifications are plain publishes.

pub mod mailbox;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::clients::ClientInfo;
use crate::inbox::Inboxes;
use crate::output_limits::OutputLimits;
use crate::protocol::ReplyBuffer;
pub use mailbox::{Drained, Mailbox, Push};

type Hasher = foldhash::fast::RandomState;
/// A name's subscribers, by client id.
type Subscribers = HashMap<u64, Arc<Mailbox>, Hasher>;
type Names = HashMap<Box<[u8]>, Subscribers, Hasher>;

/// What a client subscribes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE: a channel by its exact name.
    Channel = 0,
    /// PSUBSCRIBE: every channel matching a glob pattern.
    Pattern = 1,
    /// SSUBSCRIBE: a shard channel (a channel name space of its own).
    Shard = 2,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Channel, Kind::Pattern, Kind::Shard];

    /// The first element of a subscription confirmation.
    pub fn subscribe_name(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
            Kind::Shard => b"ssubscribe",
        }
    }

    /// The first element of an unsubscription confirmation.
    pub fn unsubscribe_name(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }
}

/// One client's subscriptions and its mailbox (held by its session).
pub struct Subscriber {
    mailbox: Arc<Mailbox>,
    names: [HashSet<Box<[u8]>, Hasher>; 3],
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts = Kind::ALL.map(|kind| self.count(kind));
        f.debug_struct("Subscriber").field("id", &self.mailbox.id()).field("counts", &counts).finish()
    }
}

impl Subscriber {
    pub fn mailbox(&self) -> &Arc<Mailbox> {
        &self.mailbox
    }

    /// The client's subscriptions of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.names[kind as usize].len()
    }

    /// The count a (un)subscribe confirmation of `kind` carries: channels
    /// and patterns together, or shard channels (Redis's
    /// `clientSubscriptionsCount` and `clientShardSubscriptionsCount`).
    pub fn confirmation_count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.count(Kind::Shard),
            _ => self.count(Kind::Channel) + self.count(Kind::Pattern),
        }
    }

    /// All the client's subscriptions (0: it is not in pub/sub mode).
    pub fn total(&self) -> usize {
        self.names.iter().map(HashSet::len).sum()
    }

    /// The names the client subscribes to of `kind`.
    pub fn names(&self, kind: Kind) -> Vec<Box<[u8]>> {
        self.names[kind as usize].iter().cloned().collect()
    }
}

#[derive(Default)]
struct Registry {
    names: [Names; 3],
    /// Every subscriber's mailbox, by client id.
    mailboxes: HashMap<u64, Arc<Mailbox>, Hasher>,
}

/// The server's pub/sub registry (see the module documentation).
pub struct PubSub {
    inboxes: Arc<Inboxes>,
    limits: Arc<OutputLimits>,
    /// Names in the registry per [`Kind`], readable without the lock.
    counts: [AtomicUsize; 3],
    /// Clients with at least one subscription.
    clients: AtomicUsize,
    registry: RwLock<Registry>,
}

impl PubSub {
    /// A registry that wakes workers through `inboxes` and bounds what
    /// waits in a mailbox by the hard limits of `limits`.
    pub fn new(inboxes: Arc<Inboxes>, limits: Arc<OutputLimits>) -> Self {
        Self { inboxes, limits, counts: Default::default(), clients: AtomicUsize::new(0), registry: RwLock::default() }
    }

    /// A subscriber with no subscriptions yet for `client`, whose
    /// connection is at `token` in worker `worker`; its mailbox can be
    /// reached by client id until [`PubSub::remove`].
    pub fn subscriber(&self, client: Arc<ClientInfo>, worker: usize, token: usize) -> Subscriber {
        let mailbox = Arc::new(Mailbox::new(client, worker, token));
        self.registry.write().mailboxes.insert(mailbox.id(), Arc::clone(&mailbox));
        Subscriber { mailbox, names: Default::default() }
    }

    /// Subscribe to `name`; false if the client already was.
    pub fn subscribe(&self, subscriber: &mut Subscriber, kind: Kind, name: &[u8]) -> bool {
        if subscriber.names[kind as usize].contains(name) {
            return false;
        }
        let before = subscriber.total();
        subscriber.names[kind as usize].insert(name.into());
        let mut registry = self.registry.write();
        let names = &mut registry.names[kind as usize];
        let mailbox = Arc::clone(&subscriber.mailbox);
        names.entry(name.into()).or_default().insert(mailbox.id(), mailbox);
        self.counts[kind as usize].store(names.len(), Ordering::Release);
        drop(registry);
        self.note_change(subscriber, before);
        true
    }

    /// Unsubscribe from `name`; false if the client was not subscribed.
    pub fn unsubscribe(&self, subscriber: &mut Subscriber, kind: Kind, name: &[u8]) -> bool {
        let before = subscriber.total();
        if !subscriber.names[kind as usize].remove(name) {
            return false;
        }
        let mut registry = self.registry.write();
        self.leave(&mut registry, subscriber.mailbox.id(), kind, name);
        drop(registry);
        self.note_change(subscriber, before);
        true
    }

    /// Leave every channel, pattern and shard channel, without
    /// confirmations (RESET).
    pub fn unsubscribe_everything(&self, subscriber: &mut Subscriber) {
        let before = subscriber.total();
        if before == 0 {
            return;
        }
        let mut registry = self.registry.write();
        for kind in Kind::ALL {
            for name in std::mem::take(&mut subscriber.names[kind as usize]) {
                self.leave(&mut registry, subscriber.mailbox.id(), kind, &name);
            }
        }
        drop(registry);
        self.note_change(subscriber, before);
    }

    /// The client is gone: leave everything and forget its mailbox.
    pub fn remove(&self, mut subscriber: Subscriber) {
        self.unsubscribe_everything(&mut subscriber);
        self.registry.write().mailboxes.remove(&subscriber.mailbox.id());
    }

    fn leave(&self, registry: &mut Registry, id: u64, kind: Kind, name: &[u8]) {
        let names = &mut registry.names[kind as usize];
        if let Some(subscribers) = names.get_mut(name) {
            subscribers.remove(&id);
            if subscribers.is_empty() {
                // Dropped with its last subscriber, so that subscribing to
                // millions of names once leaves nothing behind.
                names.remove(name);
            }
        }
        self.counts[kind as usize].store(names.len(), Ordering::Release);
    }

    /// Keep the counts others read in step after a client's subscriptions
    /// changed from `before` in all: CLIENT LIST's, and how many clients
    /// are in pub/sub mode.
    fn note_change(&self, subscriber: &Subscriber, before: usize) {
        let counts = Kind::ALL.map(|kind| subscriber.count(kind));
        subscriber.mailbox.client.set_subscriptions(counts);
        match (before, subscriber.total()) {
            (0, 1..) => self.clients.fetch_add(1, Ordering::Relaxed),
            (1.., 0) => self.clients.fetch_sub(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    /// PUBLISH: send `message` to the subscribers of `channel` and of the
    /// patterns matching it; returns how many deliveries were made (a
    /// client subscribed both ways receives it twice).
    pub fn publish(&self, channel: &[u8], message: &[u8]) -> usize {
        let patterns = self.counts[Kind::Pattern as usize].load(Ordering::Acquire);
        if patterns == 0 && self.counts[Kind::Channel as usize].load(Ordering::Acquire) == 0 {
            return 0;
        }
        let registry = self.registry.read();
        let mut receivers = self.post_to_channel(&registry.names[Kind::Channel as usize], b"message", channel, message);
        if patterns > 0 {
            for (pattern, subscribers) in &registry.names[Kind::Pattern as usize] {
                if crate::glob::matches(pattern, channel, false) {
                    let body = |out: &mut ReplyBuffer| {
                        out.bulk(b"pmessage");
                        out.bulk(pattern);
                        out.bulk(channel);
                        out.bulk(message);
                    };
                    receivers += self.post_all(subscribers, &Push::new(4, &body));
                }
            }
        }
        receivers
    }

    /// SPUBLISH: send `message` to the subscribers of shard channel
    /// `channel` (patterns do not see shard channels).
    pub fn spublish(&self, channel: &[u8], message: &[u8]) -> usize {
        if self.counts[Kind::Shard as usize].load(Ordering::Acquire) == 0 {
            return 0;
        }
        let registry = self.registry.read();
        self.post_to_channel(&registry.names[Kind::Shard as usize], b"smessage", channel, message)
    }

    fn post_to_channel(&self, names: &Names, kind: &[u8], channel: &[u8], message: &[u8]) -> usize {
        let Some(subscribers) = names.get(channel) else { return 0 };
        let body = |out: &mut ReplyBuffer| {
            out.bulk(kind);
            out.bulk(channel);
            out.bulk(message);
        };
        self.post_all(subscribers, &Push::new(3, &body))
    }

    fn post_all(&self, subscribers: &Subscribers, push: &Push<'_>) -> usize {
        subscribers.values().for_each(|mailbox| {
            self.post(mailbox, push);
        });
        subscribers.len()
    }

    /// Send `push` to one mailbox, in the protocol its client speaks;
    /// returns its sequence number there (see [`Mailbox::taken`]).
    pub fn post(&self, mailbox: &Mailbox, push: &Push<'_>) -> u64 {
        let hard_limit = self.limits.hard(mailbox.client.class());
        mailbox.post(push.encoded(mailbox.protocol()), hard_limit, &self.inboxes)
    }

    /// Run `f` on client `id`'s mailbox, if it has one (under the
    /// registry's read lock: `f` may post, not subscribe). For senders
    /// whose message depends on the receiver (CLIENT TRACKING's).
    pub fn with_mailbox<R>(&self, id: u64, f: impl FnOnce(&Arc<Mailbox>) -> R) -> Option<R> {
        self.registry.read().mailboxes.get(&id).map(f)
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB: the subscribers of one name.
    pub fn subscribers(&self, kind: Kind, name: &[u8]) -> usize {
        self.registry.read().names[kind as usize].get(name).map_or(0, HashMap::len)
    }

    /// PUBSUB CHANNELS / SHARDCHANNELS: the names somebody subscribes to,
    /// those matching `pattern` if given.
    pub fn active(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Box<[u8]>> {
        let registry = self.registry.read();
        let names = registry.names[kind as usize].keys();
        names.filter(|name| pattern.is_none_or(|pattern| crate::glob::matches(pattern, name, false))).cloned().collect()
    }

    /// How many channels, patterns or shard channels have subscribers
    /// (INFO's `pubsub_channels`..., PUBSUB NUMPAT).
    pub fn count(&self, kind: Kind) -> usize {
        self.counts[kind as usize].load(Ordering::Relaxed)
    }

    /// Clients with at least one subscription (INFO's `pubsub_clients`).
    pub fn clients(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> PubSub {
        let limits = crate::output_limits::BufferLimit::PUBSUB;
        PubSub::new(Arc::default(), Arc::new(OutputLimits::new(limits, limits)))
    }

    fn subscriber(pubsub: &PubSub, id: u64) -> Subscriber {
        pubsub.subscriber(Arc::new(ClientInfo::new(id, None, None)), 0, id as usize)
    }

    fn received(subscriber: &Subscriber) -> String {
        let mut out = ReplyBuffer::default();
        assert_eq!(subscriber.mailbox().drain_into(&mut out), Drained::Ok);
        String::from_utf8_lossy(&out.take_all()).into_owned()
    }

    #[test]
    fn publish_reaches_channel_and_pattern_subscribers() {
        let pubsub = registry();
        assert_eq!(pubsub.publish(b"news", b"x"), 0);
        let (mut a, mut b) = (subscriber(&pubsub, 1), subscriber(&pubsub, 2));
        assert!(pubsub.subscribe(&mut a, Kind::Channel, b"news"));
        assert!(!pubsub.subscribe(&mut a, Kind::Channel, b"news"));
        assert!(pubsub.subscribe(&mut a, Kind::Pattern, b"n*"));
        assert!(pubsub.subscribe(&mut b, Kind::Shard, b"news"));
        assert_eq!((a.confirmation_count(Kind::Channel), a.confirmation_count(Kind::Shard)), (2, 0));
        assert_eq!(pubsub.clients(), 2);
        assert_eq!(pubsub.publish(b"news", b"hi"), 2);
        assert_eq!(received(&a), "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n");
        assert_eq!(received(&b), "", "shard channels are a name space of their own");
        assert_eq!(pubsub.spublish(b"news", b"s"), 1);
        assert_eq!(received(&b), "*3\r\n$8\r\nsmessage\r\n$4\r\nnews\r\n$1\r\ns\r\n");
        assert_eq!(pubsub.subscribers(Kind::Channel, b"news"), 1);
        assert_eq!(pubsub.active(Kind::Pattern, Some(b"n?")), vec![Box::from(&b"n*"[..])]);
        pubsub.unsubscribe_everything(&mut a);
        assert_eq!((a.total(), pubsub.count(Kind::Channel), pubsub.count(Kind::Pattern)), (0, 0, 0));
        assert_eq!(pubsub.clients(), 1);
        let body = |out: &mut ReplyBuffer| out.bulk(b"invalidate");
        let deliver = |id| pubsub.with_mailbox(id, |mailbox| pubsub.post(mailbox, &Push::new(1, &body))).is_some();
        assert!(deliver(1), "a client keeps its mailbox until it is removed");
        assert_eq!(received(&a), "*1\r\n$10\r\ninvalidate\r\n");
        pubsub.remove(b);
        assert!(!deliver(2));
        assert_eq!((pubsub.count(Kind::Shard), pubsub.clients()), (0, 0));
    }
}
