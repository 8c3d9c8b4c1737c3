//! Keyspace commands: DEL, EXISTS, and the expiry family (EXPIRE, PEXPIRE,
//! TTL, PTTL, PERSIST).

use super::strings::TimeUnit;
use super::{is, Command, Ctx, Flags, KeySpec, NOT_AN_INTEGER};
use crate::protocol::parse::parse_i64;
use crate::protocol::Args;

const R: Flags = Flags::READONLY.with(Flags::FAST);
const W: Flags = Flags::WRITE.with(Flags::FAST);

pub static COMMANDS: &[Command] = &[
    Command { name: "del", arity: -2, flags: Flags::WRITE, keys: KeySpec::ALL, group: "keyspace", run: del },
    Command { name: "exists", arity: -2, flags: R, keys: KeySpec::ALL, group: "keyspace", run: exists },
    Command { name: "expire", arity: -3, flags: W, keys: KeySpec::ONE, group: "keyspace", run: expire },
    Command { name: "pexpire", arity: -3, flags: W, keys: KeySpec::ONE, group: "keyspace", run: pexpire },
    Command { name: "ttl", arity: 2, flags: R, keys: KeySpec::ONE, group: "keyspace", run: ttl },
    Command { name: "pttl", arity: 2, flags: R, keys: KeySpec::ONE, group: "keyspace", run: pttl },
    Command { name: "persist", arity: 2, flags: W, keys: KeySpec::ONE, group: "keyspace", run: persist },
];

/// DEL key [key ...]
fn del(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let db = ctx.server.store.db(ctx.session.db);
    let removed = args.iter().skip(1).filter(|key| db.update(key, ctx.now, |slot| slot.remove())).count();
    ctx.out.integer(removed as i64);
}

/// EXISTS key [key ...]: a key named twice counts twice.
fn exists(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let db = ctx.server.store.db(ctx.session.db);
    let found = args.iter().skip(1).filter(|key| db.view(key, ctx.now, |e| e.is_some())).count();
    ctx.out.integer(found as i64);
}

/// EXPIRE key seconds [NX | XX | GT | LT]
fn expire(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    set_deadline(ctx, args, TimeUnit::Seconds, "expire");
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
fn pexpire(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    set_deadline(ctx, args, TimeUnit::Millis, "pexpire");
}

/// The conditions EXPIRE's options put on the current deadline.
#[derive(Default, Clone, Copy)]
struct ExpireConditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl ExpireConditions {
    /// May a key whose deadline is `current` (None = persistent) get `new`?
    fn allow(self, current: Option<u64>, new: u64) -> bool {
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
        match () {
            _ if is(arg, "NX") => c.nx = true,
            _ if is(arg, "XX") => c.xx = true,
            _ if is(arg, "GT") => c.gt = true,
            _ if is(arg, "LT") => c.lt = true,
            _ => {
                ctx.error(&format!("ERR Unsupported option {}", String::from_utf8_lossy(arg)));
                return None;
            }
        }
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

/// Shared body of EXPIRE and PEXPIRE. A deadline already in the past
/// deletes the key, as in Redis.
fn set_deadline(ctx: &mut Ctx<'_>, args: &Args<'_>, unit: TimeUnit, command: &str) {
    let Some(conditions) = parse_expire_conditions(ctx, args) else { return };
    let Some(amount) = parse_i64(args.get(2)) else {
        return ctx.error(NOT_AN_INTEGER);
    };
    let deadline = match unit {
        TimeUnit::Seconds => amount.checked_mul(1000),
        _ => Some(amount),
    }
    .and_then(|ms| ms.checked_add(ctx.now as i64));
    let Some(deadline) = deadline else {
        return ctx.error(&format!("ERR invalid expire time in '{command}' command"));
    };
    let now = ctx.now;
    let db = ctx.server.store.db(ctx.session.db);
    let applied = db.update(args.get(1), now, |slot| {
        let new = deadline.max(0) as u64;
        if !slot.exists() || !conditions.allow(slot.expires_at(), new) {
            return false;
        }
        if deadline <= now as i64 {
            slot.remove();
        } else {
            slot.set_expires_at(Some(new));
        }
        true
    });
    ctx.out.integer(i64::from(applied));
}

/// TTL key: seconds left, rounded; -1 without a deadline, -2 if missing.
fn ttl(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let remaining = remaining_ms(ctx, args.get(1));
    ctx.out.integer(if remaining >= 0 { (remaining + 500) / 1000 } else { remaining });
}

/// PTTL key: milliseconds left; -1 without a deadline, -2 if missing.
fn pttl(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let remaining = remaining_ms(ctx, args.get(1));
    ctx.out.integer(remaining);
}

fn remaining_ms(ctx: &Ctx<'_>, key: &[u8]) -> i64 {
    let now = ctx.now;
    ctx.db().view(key, now, |entry| match entry {
        None => -2,
        Some(entry) => match entry.expires_at() {
            None => -1,
            Some(at) => at.saturating_sub(now) as i64,
        },
    })
}

/// PERSIST key: drop the deadline; 1 if there was one.
fn persist(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let db = ctx.server.store.db(ctx.session.db);
    let removed = db.update(args.get(1), ctx.now, |slot| {
        let had_deadline = slot.expires_at().is_some();
        slot.set_expires_at(None);
        had_deadline
    });
    ctx.out.integer(i64::from(removed));
}
