//! String commands: GET, SET and its variants, MGET, MSET, and the integer
//! counters (INCR, DECR, INCRBY, DECRBY).

use super::{is, Command, Ctx, Flags, KeySpec, NOT_AN_INTEGER, SYNTAX_ERROR};
use crate::protocol::parse::parse_i64;
use crate::protocol::{Args, ReplyBuffer};
use crate::store::{EntryRef, SlotMut};

const R: Flags = Flags::READONLY.with(Flags::FAST);
const W: Flags = Flags::WRITE.with(Flags::DENYOOM);

pub static COMMANDS: &[Command] = &[
    Command { name: "get", arity: 2, flags: R, keys: KeySpec::ONE, group: "string", run: get },
    Command { name: "set", arity: -3, flags: W, keys: KeySpec::ONE, group: "string", run: set },
    Command { name: "setex", arity: 4, flags: W, keys: KeySpec::ONE, group: "string", run: setex },
    Command { name: "psetex", arity: 4, flags: W, keys: KeySpec::ONE, group: "string", run: psetex },
    Command { name: "setnx", arity: 3, flags: W.with(Flags::FAST), keys: KeySpec::ONE, group: "string", run: setnx },
    Command { name: "mget", arity: -2, flags: R, keys: KeySpec::ALL, group: "string", run: mget },
    Command { name: "mset", arity: -3, flags: W, keys: KeySpec::PAIRS, group: "string", run: mset },
    Command { name: "incr", arity: 2, flags: W.with(Flags::FAST), keys: KeySpec::ONE, group: "string", run: incr },
    Command { name: "decr", arity: 2, flags: W.with(Flags::FAST), keys: KeySpec::ONE, group: "string", run: decr },
    Command { name: "incrby", arity: 3, flags: W.with(Flags::FAST), keys: KeySpec::ONE, group: "string", run: incrby },
    Command { name: "decrby", arity: 3, flags: W.with(Flags::FAST), keys: KeySpec::ONE, group: "string", run: decrby },
];

/// GET key
fn get(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let db = ctx.server.store.db(ctx.session.db);
    let out = &mut *ctx.out;
    let hit = db.view(args.get(1), ctx.now, |entry| reply_value(out, entry));
    ctx.count_lookup(hit);
}

/// Reply with an entry's value, or null; returns whether there was one.
pub fn reply_value(out: &mut ReplyBuffer, entry: Option<EntryRef<'_>>) -> bool {
    match entry {
        Some(entry) => {
            entry.reply(out);
            true
        }
        None => {
            out.null();
            false
        }
    }
}

/// When a SET may write.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Condition {
    Always,
    IfAbsent,
    IfPresent,
}

/// What a SET does with the key's deadline.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expiry {
    /// Drop any deadline (plain SET).
    Clear,
    /// Keep the existing deadline (KEEPTTL).
    Keep,
    /// Set this deadline (unix ms).
    At(u64),
}

struct SetOptions {
    condition: Condition,
    expiry: Expiry,
    return_old: bool,
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]
fn set(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(options) = parse_set_options(ctx, args) else { return };
    let db = ctx.server.store.db(ctx.session.db);
    let out = &mut *ctx.out;
    db.update(args.get(1), ctx.now, |slot| {
        if options.return_old {
            match slot.value() {
                Some(old) => out.bulk(old),
                None => out.null(),
            }
        }
        let written = store_value(slot, args.get(2), &options);
        if !options.return_old {
            if written {
                out.ok();
            } else {
                out.null();
            }
        }
    });
}

/// Parse SET's options, replying with Redis's error when they are invalid.
fn parse_set_options(ctx: &mut Ctx<'_>, args: &Args<'_>) -> Option<SetOptions> {
    let mut options = SetOptions { condition: Condition::Always, expiry: Expiry::Clear, return_old: false };
    let mut has_expiry_option = false;
    let mut i = 3;
    while i < args.len() {
        let arg = args.get(i);
        let next = (i + 1 < args.len()).then(|| args.get(i + 1));
        if is(arg, "NX") && options.condition != Condition::IfPresent {
            options.condition = Condition::IfAbsent;
        } else if is(arg, "XX") && options.condition != Condition::IfAbsent {
            options.condition = Condition::IfPresent;
        } else if is(arg, "GET") {
            options.return_old = true;
        } else if is(arg, "KEEPTTL") && !has_expiry_option {
            options.expiry = Expiry::Keep;
            has_expiry_option = true;
        } else if let (Some(unit), Some(value), false) = (expiry_unit(arg), next, has_expiry_option) {
            options.expiry = Expiry::At(parse_deadline(ctx, value, unit, "set")?);
            has_expiry_option = true;
            i += 1;
        } else {
            ctx.error(SYNTAX_ERROR);
            return None;
        }
        i += 1;
    }
    Some(options)
}

/// How an expiry argument is expressed.
#[derive(Clone, Copy)]
pub enum TimeUnit {
    Seconds,
    Millis,
    UnixSeconds,
    UnixMillis,
}

fn expiry_unit(arg: &[u8]) -> Option<TimeUnit> {
    [
        ("EX", TimeUnit::Seconds),
        ("PX", TimeUnit::Millis),
        ("EXAT", TimeUnit::UnixSeconds),
        ("PXAT", TimeUnit::UnixMillis),
    ]
    .into_iter()
    .find(|(name, _)| is(arg, name))
    .map(|(_, unit)| unit)
}

/// Turn an expiry argument into an absolute deadline in unix ms, replying
/// with Redis's errors: not an integer, or not positive / overflowing
/// (`invalid expire time in '<command>' command`).
pub fn parse_deadline(ctx: &mut Ctx<'_>, arg: &[u8], unit: TimeUnit, command: &str) -> Option<u64> {
    let Some(value) = parse_i64(arg) else {
        ctx.error(NOT_AN_INTEGER);
        return None;
    };
    let deadline = match unit {
        TimeUnit::Seconds => value.checked_mul(1000).and_then(|ms| ms.checked_add(ctx.now as i64)),
        TimeUnit::Millis => value.checked_add(ctx.now as i64),
        TimeUnit::UnixSeconds => value.checked_mul(1000),
        TimeUnit::UnixMillis => Some(value),
    };
    match deadline {
        Some(deadline) if value > 0 && deadline > 0 => Some(deadline as u64),
        _ => {
            ctx.error(&format!("ERR invalid expire time in '{command}' command"));
            None
        }
    }
}

/// Store `value` in `slot` as SET does; false if the NX/XX condition
/// stopped it.
fn store_value(slot: &mut SlotMut<'_>, value: &[u8], options: &SetOptions) -> bool {
    let allowed = match options.condition {
        Condition::Always => true,
        Condition::IfAbsent => !slot.exists(),
        Condition::IfPresent => slot.exists(),
    };
    if allowed {
        let deadline = match options.expiry {
            Expiry::Clear => None,
            Expiry::Keep => slot.expires_at(),
            Expiry::At(at) => Some(at),
        };
        slot.put(value, deadline);
    }
    allowed
}

/// Run SET-like `options` on `key` and return whether it was written.
fn set_key(ctx: &Ctx<'_>, key: &[u8], value: &[u8], options: &SetOptions) -> bool {
    ctx.db().update(key, ctx.now, |slot| store_value(slot, value, options))
}

/// SETEX key seconds value
fn setex(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    set_with_expiry(ctx, args, TimeUnit::Seconds, "setex");
}

/// PSETEX key milliseconds value
fn psetex(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    set_with_expiry(ctx, args, TimeUnit::Millis, "psetex");
}

fn set_with_expiry(ctx: &mut Ctx<'_>, args: &Args<'_>, unit: TimeUnit, command: &str) {
    let Some(deadline) = parse_deadline(ctx, args.get(2), unit, command) else { return };
    let options = SetOptions { condition: Condition::Always, expiry: Expiry::At(deadline), return_old: false };
    set_key(ctx, args.get(1), args.get(3), &options);
    ctx.out.ok();
}

/// SETNX key value
fn setnx(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let options = SetOptions { condition: Condition::IfAbsent, expiry: Expiry::Clear, return_old: false };
    let written = set_key(ctx, args.get(1), args.get(2), &options);
    ctx.out.integer(i64::from(written));
}

/// MGET key [key ...]
fn mget(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let db = ctx.server.store.db(ctx.session.db);
    ctx.out.array(args.len() - 1);
    for key in args.iter().skip(1) {
        let out = &mut *ctx.out;
        let hit = db.view(key, ctx.now, |entry| reply_value(out, entry));
        ctx.count_lookup(hit);
    }
}

/// MSET key value [key value ...], atomically: all shards involved are
/// locked together, so no reader sees some of the keys set and not others.
fn mset(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if args.len() % 2 == 0 {
        return ctx.error(&super::arity_message("mset"));
    }
    let db = ctx.server.store.db(ctx.session.db);
    let keys = args.iter().skip(1).step_by(2);
    db.with_keys_locked(keys, |locked| {
        for pair in 0..(args.len() - 1) / 2 {
            let (key, value) = (args.get(1 + 2 * pair), args.get(2 + 2 * pair));
            locked.update(key, ctx.now, |slot| slot.put(value, None));
        }
    });
    ctx.out.ok();
}

/// INCR key
fn incr(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    add_to_counter(ctx, args.get(1), 1);
}

/// DECR key
fn decr(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    add_to_counter(ctx, args.get(1), -1);
}

/// INCRBY key increment
fn incrby(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(delta) = ctx.integer_arg(args, 2) else { return };
    add_to_counter(ctx, args.get(1), delta);
}

/// DECRBY key decrement
fn decrby(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(delta) = ctx.integer_arg(args, 2) else { return };
    let Some(delta) = delta.checked_neg() else {
        return ctx.error("ERR decrement would overflow");
    };
    add_to_counter(ctx, args.get(1), delta);
}

/// Add `delta` to the integer stored at `key` (0 if absent), keeping its
/// deadline, and reply with the new value.
fn add_to_counter(ctx: &mut Ctx<'_>, key: &[u8], delta: i64) {
    let db = ctx.server.store.db(ctx.session.db);
    let result = db.update(key, ctx.now, |slot| {
        let old = match slot.value() {
            Some(value) => parse_i64(value).ok_or(NOT_AN_INTEGER)?,
            None => 0,
        };
        let new = old.checked_add(delta).ok_or("ERR increment or decrement would overflow")?;
        let mut digits = [0u8; 20];
        let deadline = slot.expires_at();
        slot.put(crate::protocol::reply::format_i64(new, &mut digits), deadline);
        Ok(new)
    });
    match result {
        Ok(n) => ctx.out.integer(n),
        Err(msg) => ctx.error(msg),
    }
}
