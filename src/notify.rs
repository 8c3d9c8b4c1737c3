//! Keyspace notifications, as Redis 7.4's `notify.c`: which classes of
//! events are on (`notify-keyspace-events`), and publishing an event on a
//! key to `__keyspace@<db>__:<key>` (the event as the message) and
//! `__keyevent@<db>__:<event>` (the key as the message), in that order, as
//! plain pub/sub messages.
//!
//! Commands report their events through `Ctx::notify` and [`Events`],
//! while the key they write is still locked: the events of one key come in
//! the order of its writes, and a client blocked on a key (BLPOP), woken by
//! a write, only takes what was written once that write's events are out,
//! so its own follow them, as in Redis. The store reports the events only
//! it sees (keys created, expired, evicted, hash fields expired) through
//! the [`KeyEvents`] sink [`Notifier`] implements, as they happen.
//!
//! An event sits in every write command, and notifications are off by
//! default, so [`Notifier::notify`] is inlined down to one relaxed load of
//! the flags and a branch: nothing is formatted or allocated unless the
//! event's class is on (and then, unless somebody subscribes to anything).

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::pubsub::{Kind, PubSub};
use crate::store::events::{KeyEvent, KeyEvents};

/// A set of notification classes: Redis's `NOTIFY_*` flags, with its bit
/// values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Classes(u32);

impl Classes {
    /// K: publish to `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: Classes = Classes(1 << 0);
    /// E: publish to `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: Classes = Classes(1 << 1);
    /// g: DEL, EXPIRE, RENAME... (not type specific).
    pub const GENERIC: Classes = Classes(1 << 2);
    /// $: string commands.
    pub const STRING: Classes = Classes(1 << 3);
    /// l: list commands.
    pub const LIST: Classes = Classes(1 << 4);
    /// s: set commands.
    pub const SET: Classes = Classes(1 << 5);
    /// h: hash commands.
    pub const HASH: Classes = Classes(1 << 6);
    /// z: sorted set commands.
    pub const ZSET: Classes = Classes(1 << 7);
    /// x: a key removed because its deadline passed.
    pub const EXPIRED: Classes = Classes(1 << 8);
    /// e: a key evicted for `maxmemory`.
    pub const EVICTED: Classes = Classes(1 << 9);
    /// t: stream commands (Redistill has no streams: never fired).
    pub const STREAM: Classes = Classes(1 << 10);
    /// m: a read of a missing key (not part of A).
    pub const KEY_MISS: Classes = Classes(1 << 11);
    /// d: module events (never fired).
    pub const MODULE: Classes = Classes(1 << 13);
    /// n: a key created (not part of A).
    pub const NEW: Classes = Classes(1 << 14);
    /// A: g$lshzxetd.
    pub const ALL: Classes = Classes(
        Self::GENERIC.0
            | Self::STRING.0
            | Self::LIST.0
            | Self::SET.0
            | Self::HASH.0
            | Self::ZSET.0
            | Self::EXPIRED.0
            | Self::EVICTED.0
            | Self::STREAM.0
            | Self::MODULE.0,
    );
    pub const NONE: Classes = Classes(0);

    /// The characters of the classes, in the order Redis writes them.
    const LETTERS: [(char, Classes); 14] = [
        ('g', Self::GENERIC),
        ('$', Self::STRING),
        ('l', Self::LIST),
        ('s', Self::SET),
        ('h', Self::HASH),
        ('z', Self::ZSET),
        ('x', Self::EXPIRED),
        ('e', Self::EVICTED),
        ('t', Self::STREAM),
        ('d', Self::MODULE),
        ('n', Self::NEW),
        ('K', Self::KEYSPACE),
        ('E', Self::KEYEVENT),
        ('m', Self::KEY_MISS),
    ];

    /// Redis's `keyspaceEventsStringToFlags`: every character names a
    /// class (`A` all of g$lshzxetd); None for any other character. The
    /// text ends at a NUL byte, as Redis reads it as a C string.
    pub fn parse(text: &[u8]) -> Option<Classes> {
        text.iter().take_while(|&&b| b != 0).try_fold(Classes::NONE, |classes, &b| {
            let class = match b {
                b'A' => Self::ALL,
                _ => Self::LETTERS.iter().find(|(c, _)| *c as u32 == u32::from(b))?.1,
            };
            Some(classes.with(class))
        })
    }

    pub const fn with(self, other: Classes) -> Classes {
        Classes(self.0 | other.0)
    }

    pub fn contains(self, other: Classes) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Redis's `keyspaceEventsFlagsToString`: `A` for all of A's classes (the
/// others of them, and `n`, then go unsaid), else each class, then K, E, m.
impl fmt::Display for Classes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (types, kinds) = Self::LETTERS.split_at(11);
        if self.contains(Self::ALL) {
            f.write_str("A")?;
        } else {
            types.iter().filter(|(_, class)| self.contains(*class)).try_for_each(|(c, _)| write!(f, "{c}"))?;
        }
        kinds.iter().filter(|(_, class)| self.contains(*class)).try_for_each(|(c, _)| write!(f, "{c}"))
    }
}

/// Redis's CONFIG SET error for a character that names no class.
pub const INVALID_CLASSES: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/// The config file's `notify_keyspace_events`, as Redis's config reads it.
impl TryFrom<String> for Classes {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Classes::parse(text.as_bytes())
            .ok_or_else(|| format!("invalid notify_keyspace_events '{text}': {INVALID_CLASSES}"))
    }
}

/// One kind of event: its class and its name (the message on the keyspace
/// channel, the end of the keyevent channel's name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    class: Classes,
    name: &'static str,
}

impl Event {
    pub const DEL: Event = Event::generic("del");
    pub const EXPIRE: Event = Event::generic("expire");
    pub const NEW: Event = Event { class: Classes::NEW, name: "new" };
    pub const EXPIRED: Event = Event { class: Classes::EXPIRED, name: "expired" };
    pub const EVICTED: Event = Event { class: Classes::EVICTED, name: "evicted" };
    pub const KEYMISS: Event = Event { class: Classes::KEY_MISS, name: "keymiss" };
    pub const HEXPIRED: Event = Event::hash("hexpired");

    pub const fn generic(name: &'static str) -> Event {
        Event { class: Classes::GENERIC, name }
    }

    pub const fn string(name: &'static str) -> Event {
        Event { class: Classes::STRING, name }
    }

    pub const fn list(name: &'static str) -> Event {
        Event { class: Classes::LIST, name }
    }

    pub const fn set(name: &'static str) -> Event {
        Event { class: Classes::SET, name }
    }

    pub const fn hash(name: &'static str) -> Event {
        Event { class: Classes::HASH, name }
    }

    pub const fn zset(name: &'static str) -> Event {
        Event { class: Classes::ZSET, name }
    }

    pub fn name(self) -> &'static str {
        self.name
    }
}

/// The classes that are on, and the pub/sub registry events go to.
pub struct Notifier {
    flags: AtomicU32,
    pubsub: Arc<PubSub>,
}

impl Notifier {
    pub fn new(classes: Classes, pubsub: Arc<PubSub>) -> Self {
        Self { flags: AtomicU32::new(classes.0), pubsub }
    }

    /// CONFIG GET notify-keyspace-events.
    pub fn classes(&self) -> Classes {
        Classes(self.flags.load(Ordering::Relaxed))
    }

    /// CONFIG SET notify-keyspace-events.
    pub fn set_classes(&self, classes: Classes) {
        self.flags.store(classes.0, Ordering::Relaxed);
    }

    /// Publish `event` on `key` of database `db`, if its class is on.
    #[inline]
    pub fn notify(&self, db: usize, event: Event, key: &[u8]) {
        if self.flags.load(Ordering::Relaxed) & event.class.0 != 0 {
            self.publish(db, event, key);
        }
    }

    /// Redis's `notifyKeyspaceEvent` once the class is known to be on:
    /// the keyspace channel first, then the keyevent one. Nobody
    /// subscribing to any channel or pattern, nothing is built.
    #[cold]
    #[inline(never)]
    fn publish(&self, db: usize, event: Event, key: &[u8]) {
        if self.pubsub.count(Kind::Channel) == 0 && self.pubsub.count(Kind::Pattern) == 0 {
            return;
        }
        let classes = self.classes();
        if classes.contains(Classes::KEYSPACE) {
            self.pubsub.publish(&channel("__keyspace@", db, key), event.name.as_bytes());
        }
        if classes.contains(Classes::KEYEVENT) {
            self.pubsub.publish(&channel("__keyevent@", db, event.name.as_bytes()), key);
        }
    }
}

/// `<prefix><db>__:<name>`.
fn channel(prefix: &str, db: usize, name: &[u8]) -> Vec<u8> {
    let mut digits = [0u8; 20];
    let db = crate::protocol::reply::format_i64(db as i64, &mut digits);
    let mut channel = Vec::with_capacity(prefix.len() + db.len() + 3 + name.len());
    channel.extend_from_slice(prefix.as_bytes());
    channel.extend_from_slice(db);
    channel.extend_from_slice(b"__:");
    channel.extend_from_slice(name);
    channel
}

/// The store's events, as Redis names them: `new`, `expired`, `evicted`;
/// `hexpired` for hash fields, then `del` if the hash went with them.
impl KeyEvents for Notifier {
    fn key_event(&self, db: usize, event: KeyEvent, key: &[u8]) {
        match event {
            KeyEvent::Created => self.notify(db, Event::NEW, key),
            KeyEvent::Expired => self.notify(db, Event::EXPIRED, key),
            KeyEvent::Evicted => self.notify(db, Event::EVICTED, key),
            KeyEvent::ElementsExpired { emptied } => {
                self.notify(db, Event::HEXPIRED, key);
                if emptied {
                    self.notify(db, Event::DEL, key);
                }
            }
        }
    }
}

/// What a write did to a key, for its events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// The key's value changed.
    pub changed: bool,
    /// It is gone (a collection left empty).
    pub removed: bool,
}

/// The notifications of one database, for code that reports events while
/// it holds other parts of the command's context (a closure under a lock).
#[derive(Clone, Copy)]
pub struct Events<'a> {
    notifier: &'a Notifier,
    db: usize,
}

impl<'a> Events<'a> {
    pub fn new(notifier: &'a Notifier, db: usize) -> Self {
        Self { notifier, db }
    }

    #[inline]
    pub fn notify(self, event: Event, key: &[u8]) {
        self.notifier.notify(self.db, event, key);
    }

    /// A collection command's events, as Redis reports them: `event` if it
    /// changed the key, then `del` if that left the collection empty.
    pub fn notify_change(self, event: Event, key: &[u8], change: Change) {
        if change.changed {
            self.notify(event, key);
            if change.removed {
                self.notify(Event::DEL, key);
            }
        }
    }

    /// A `keymiss` for each key of `lookups` that was not found, in order:
    /// a command that reads several keys, each with Redis's
    /// `lookupKeyRead`.
    pub fn keymisses<'k>(self, lookups: impl IntoIterator<Item = (&'k [u8], bool)>) {
        lookups.into_iter().filter(|(_, found)| !found).for_each(|(key, _)| self.notify(Event::KEYMISS, key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::ClientInfo;
    use crate::protocol::ReplyBuffer;
    use crate::pubsub::Drained;

    fn classes(text: &str) -> Option<String> {
        Classes::parse(text.as_bytes()).map(|c| c.to_string())
    }

    #[test]
    fn parsed_and_written_as_redis_does() {
        assert_eq!(classes(""), Some(String::new()));
        assert_eq!(classes("KEA"), Some("AKE".into()));
        assert_eq!(classes("gKE"), Some("gKE".into()));
        assert_eq!(classes("$lshzxeKE"), Some("$lshzxeKE".into()));
        assert_eq!(classes("Elg"), Some("glE".into()));
        assert_eq!(classes("gs$lhzxetdAmnKE"), Some("AKEm".into()), "A hides n");
        assert_eq!(classes("nK"), Some("nK".into()));
        assert_eq!(classes("g$lshzxetd"), Some("A".into()));
        assert_eq!(classes("Em\0q"), Some("Em".into()), "a C string ends at NUL");
        assert_eq!(classes("KEAq"), None);
        assert_eq!(classes("a"), None);
        assert!(Classes::parse("A".as_bytes()).is_some_and(|c| !c.contains(Classes::NEW)));
    }

    fn notifier(classes: &str) -> (Notifier, crate::pubsub::Subscriber, Arc<PubSub>) {
        let limits = crate::output_limits::BufferLimit::PUBSUB;
        let limits = Arc::new(crate::output_limits::OutputLimits::new(limits, limits));
        let pubsub = Arc::new(PubSub::new(Arc::default(), limits));
        let mut subscriber = pubsub.subscriber(Arc::new(ClientInfo::new(1, None, None)), 0, 1);
        pubsub.subscribe(&mut subscriber, Kind::Pattern, b"__key*__:*");
        let classes = Classes::parse(classes.as_bytes()).unwrap_or_default();
        (Notifier::new(classes, Arc::clone(&pubsub)), subscriber, pubsub)
    }

    fn received(subscriber: &crate::pubsub::Subscriber) -> String {
        let mut out = ReplyBuffer::default();
        assert_eq!(subscriber.mailbox().drain_into(&mut out), Drained::Ok);
        String::from_utf8_lossy(&out.take_all()).replace("\r\n", " ")
    }

    #[test]
    fn events_go_to_the_keyspace_then_the_keyevent_channel() {
        let (notifier, subscriber, _pubsub) = notifier("KEl");
        notifier.notify(3, Event::list("lpush"), b"k");
        notifier.notify(3, Event::DEL, b"k");
        let expected = "*4 $8 pmessage $10 __key*__:* $16 __keyspace@3__:k $5 lpush \
                        *4 $8 pmessage $10 __key*__:* $20 __keyevent@3__:lpush $1 k ";
        assert_eq!(received(&subscriber), expected, "only the classes that are on");
    }

    #[test]
    fn store_events_are_named_as_redis_names_them() {
        let (notifier, subscriber, _pubsub) = notifier("Exhgn");
        notifier.key_event(0, KeyEvent::Created, b"a");
        notifier.key_event(0, KeyEvent::Evicted, b"b");
        notifier.key_event(0, KeyEvent::ElementsExpired { emptied: true }, b"c");
        let events: Vec<String> = received(&subscriber)
            .split("*4 ")
            .filter(|m| !m.is_empty())
            .map(|m| m.split(' ').nth(5).unwrap_or_default().to_string())
            .collect();
        assert_eq!(events, ["__keyevent@0__:new", "__keyevent@0__:hexpired", "__keyevent@0__:del"]);
    }
}
