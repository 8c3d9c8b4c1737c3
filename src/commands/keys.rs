//! Keyspace commands: DEL, UNLINK, EXISTS, TYPE, TOUCH, and the expiry
//! family (EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, EXPIRETIME,
//! PEXPIRETIME, PERSIST).

use super::strings::{TimeUnit, PERSIST};
use super::{is, specs, Command, Ctx, Flags};
use crate::notify::Event;
use crate::protocol::Args;

const R: Flags = Flags::READONLY.with(Flags::FAST);
const W: Flags = Flags::WRITE.with(Flags::FAST);

pub static COMMANDS: &[Command] = &[
    Command { name: "del", arity: -2, flags: Flags::WRITE, keys: specs::REMOVE_ALL, group: "keyspace", run: del },
    Command { name: "unlink", arity: -2, flags: W, keys: specs::REMOVE_ALL, group: "keyspace", run: del },
    Command { name: "exists", arity: -2, flags: R, keys: specs::RO_ALL, group: "keyspace", run: exists },
    Command { name: "type", arity: 2, flags: R, keys: specs::RO, group: "keyspace", run: key_type },
    Command { name: "touch", arity: -2, flags: R, keys: specs::RO_ALL, group: "keyspace", run: exists },
    Command { name: "expire", arity: -3, flags: W, keys: specs::UPDATE, group: "keyspace", run: expire },
    Command { name: "pexpire", arity: -3, flags: W, keys: specs::UPDATE, group: "keyspace", run: pexpire },
    Command { name: "expireat", arity: -3, flags: W, keys: specs::UPDATE, group: "keyspace", run: expireat },
    Command { name: "pexpireat", arity: -3, flags: W, keys: specs::UPDATE, group: "keyspace", run: pexpireat },
    Command { name: "ttl", arity: 2, flags: R, keys: specs::READ, group: "keyspace", run: ttl },
    Command { name: "pttl", arity: 2, flags: R, keys: specs::READ, group: "keyspace", run: pttl },
    Command { name: "expiretime", arity: 2, flags: R, keys: specs::READ, group: "keyspace", run: expiretime },
    Command { name: "pexpiretime", arity: 2, flags: R, keys: specs::READ, group: "keyspace", run: pexpiretime },
    Command { name: "persist", arity: 2, flags: W, keys: specs::UPDATE, group: "keyspace", run: persist },
];

/// DEL key [key ...], and UNLINK key [key ...] (values are freed at once either way)
///
/// All the keys go at once (their shards are locked together), so a reader
/// never sees some of them deleted and others not, as in Redis.
fn del(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let (db, events, now) = (ctx.server.store.db(ctx.session.db), ctx.events(), ctx.now);
    let removed = db.with_keys_locked(args.iter().skip(1), |locked| {
        let mut removed = 0;
        for key in args.iter().skip(1) {
            if locked.update(key, now, |slot| slot.remove()) {
                events.notify(Event::DEL, key);
                removed += 1;
            }
        }
        removed
    });
    ctx.out.integer(removed);
}

/// EXISTS key [key ...], and TOUCH key [key ...]: a key named twice counts twice.
fn exists(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let found = args.iter().skip(1).filter(|key| key_exists(ctx, key)).count();
    ctx.out.integer(found as i64);
}

/// Whether `key` exists, counted as a keyspace hit or miss.
fn key_exists(ctx: &Ctx<'_>, key: &[u8]) -> bool {
    let found = ctx.db().view(key, ctx.now, |e| e.is_some());
    ctx.count_lookup(key, found);
    found
}

/// TYPE key: the value's type (`string`, `hash`), or `none` for a
/// missing key.
fn key_type(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let kind = ctx.db().view(args.get(1), ctx.now, |entry| entry.map(|e| e.kind()));
    ctx.count_lookup(args.get(1), kind.is_some());
    ctx.out.simple(kind.map_or("none", crate::store::Kind::name));
}

/// EXPIRE key seconds [NX | XX | GT | LT]
fn expire(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    set_deadline(ctx, args, TimeUnit::Seconds, "expire");
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
fn pexpire(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    set_deadline(ctx, args, TimeUnit::Millis, "pexpire");
}

/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
fn expireat(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    set_deadline(ctx, args, TimeUnit::UnixSeconds, "expireat");
}

/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
fn pexpireat(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    set_deadline(ctx, args, TimeUnit::UnixMillis, "pexpireat");
}

/// The conditions EXPIRE's options (and HEXPIRE's) put on the current
/// deadline.
#[derive(Default, Clone, Copy)]
pub(super) struct ExpireConditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl ExpireConditions {
    /// Both sets of conditions (EXPIRE takes several options).
    fn and(self, other: ExpireConditions) -> ExpireConditions {
        ExpireConditions {
            nx: self.nx || other.nx,
            xx: self.xx || other.xx,
            gt: self.gt || other.gt,
            lt: self.lt || other.lt,
        }
    }

    /// The one condition HEXPIRE takes before FIELDS, if `arg` names one.
    pub(super) fn keyword(arg: &[u8]) -> Option<ExpireConditions> {
        let mut c = ExpireConditions::default();
        match () {
            _ if is(arg, "NX") => c.nx = true,
            _ if is(arg, "XX") => c.xx = true,
            _ if is(arg, "GT") => c.gt = true,
            _ if is(arg, "LT") => c.lt = true,
            _ => return None,
        }
        Some(c)
    }

    /// May a key (or field) whose deadline is `current` (None = persistent)
    /// get `new`?
    pub(super) fn allow(self, current: Option<u64>, new: u64) -> bool {
        match current {
            Some(_) if self.nx => false,
            None if self.xx || self.gt => false,
            Some(at) if self.gt && new <= at => false,
            Some(at) if self.lt && new >= at => false,
            _ => true,
        }
    }
}

fn parse_expire_conditions(ctx: &mut Ctx<'_>, args: &Args<'_>) -> Option<ExpireConditions> {
    let mut c = ExpireConditions::default();
    for arg in args.iter().skip(3) {
        let Some(one) = ExpireConditions::keyword(arg) else {
            ctx.error(&format!("ERR Unsupported option {}", String::from_utf8_lossy(arg)));
            return None;
        };
        c = c.and(one);
    }
    if c.nx && (c.xx || c.gt || c.lt) {
        ctx.error("ERR NX and XX, GT or LT options at the same time are not compatible");
        return None;
    }
    if c.gt && c.lt {
        ctx.error("ERR GT and LT options at the same time are not compatible");
        return None;
    }
    Some(c)
}

/// Shared body of EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT. Unlike SET's,
/// the time may be zero or negative; a deadline already in the past
/// deletes the key, as in Redis (a `del` event, where a deadline set is
/// an `expire` one).
fn set_deadline(ctx: &mut Ctx<'_>, args: &Args<'_>, unit: TimeUnit, command: &str) {
    let Some(conditions) = parse_expire_conditions(ctx, args) else { return };
    let Some(amount) = ctx.integer_arg(args, 2) else { return };
    let Some(deadline) = unit.to_unix_ms(amount, ctx.now) else {
        return ctx.error(&format!("ERR invalid expire time in '{command}' command"));
    };
    let now = ctx.now;
    let db = ctx.server.store.db(ctx.session.db);
    let (key, events) = (args.get(1), ctx.events());
    let applied = db.update(key, now, |slot| {
        let new = deadline.max(0) as u64;
        if !slot.exists() || !conditions.allow(slot.expires_at(), new) {
            return false;
        }
        let event = if deadline <= now as i64 {
            slot.remove();
            Event::DEL
        } else {
            slot.set_expires_at(Some(new));
            Event::EXPIRE
        };
        events.notify(event, key);
        true
    });
    ctx.out.integer(i64::from(applied));
}

/// TTL key: seconds left, rounded; -1 without a deadline, -2 if missing.
fn ttl(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    reply_deadline(ctx, args.get(1), |at, now| (remaining_ms(at, now) + 500) / 1000);
}

/// PTTL key: milliseconds left; -1 without a deadline, -2 if missing.
fn pttl(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    reply_deadline(ctx, args.get(1), remaining_ms);
}

/// EXPIRETIME key: unix seconds (rounded, as Redis does); -1 without a deadline, -2 if missing.
fn expiretime(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    reply_deadline(ctx, args.get(1), |at, _| ((at + 500) / 1000) as i64);
}

/// PEXPIRETIME key: unix milliseconds; -1 without a deadline, -2 if missing.
fn pexpiretime(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    reply_deadline(ctx, args.get(1), |at, _| at as i64);
}

fn remaining_ms(at: u64, now: u64) -> i64 {
    at.saturating_sub(now) as i64
}

/// The TTL family's reply: -2 for a missing key, -1 for one without a
/// deadline, else `f(deadline, now)`. The lookup counts as a hit or miss.
fn reply_deadline(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(u64, u64) -> i64) {
    let now = ctx.now;
    let deadline = ctx.db().view(key, now, |entry| entry.map(|e| e.expires_at()));
    ctx.count_lookup(key, deadline.is_some());
    let reply = match deadline {
        None => -2,
        Some(None) => -1,
        Some(Some(at)) => f(at, now),
    };
    ctx.out.integer(reply);
}

/// PERSIST key: drop the deadline; 1 if there was one.
fn persist(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let (db, events) = (ctx.server.store.db(ctx.session.db), ctx.events());
    let removed = db.update(args.get(1), ctx.now, |slot| {
        // Only a real change may touch the key (WATCH sees every write).
        let had_deadline = slot.expires_at().is_some();
        if had_deadline {
            slot.set_expires_at(None);
            events.notify(PERSIST, slot.key());
        }
        had_deadline
    });
    ctx.out.integer(i64::from(removed));
}
