//! String commands: GET, SET and its variants, MGET, MSET, and the integer
//! counters (INCR, DECR, INCRBY, DECRBY).

use bytes::Bytes;

use super::{is, Command, Ctx, Flags, KeySpec, NOT_AN_INTEGER, SYNTAX_ERROR};
use crate::protocol::parse::parse_i64;
use crate::protocol::Args;
use crate::store::{Change, Entry};

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
    let hit = db.view(args.get(1), ctx.now, |entry| match entry {
        Some(entry) => {
            out.bulk_bytes(entry.value());
            true
        }
        None => {
            out.null();
            false
        }
    });
    ctx.count_lookup(hit);
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
    let old = store_value(ctx, args.get(1), args.get(2), &options);
    match (options.return_old, old) {
        (true, Ok(Some(old))) | (true, Err(Some(old))) => ctx.out.bulk_bytes(&old),
        (true, _) => ctx.out.null(),
        (false, Ok(_)) => ctx.out.ok(),
        (false, Err(_)) => ctx.out.null(),
    }
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

/// Store `value` under `key` as SET does. `Ok(old)` if it was written,
/// `Err(old)` if the NX/XX condition stopped it; `old` is the previous value
/// when the caller asked for it.
fn store_value(ctx: &Ctx<'_>, key: &[u8], value: &[u8], options: &SetOptions) -> Result<Option<Bytes>, Option<Bytes>> {
    let db = ctx.server.store.db(ctx.session.db);
    db.mutate(key, ctx.now, |current| {
        let old = if options.return_old { current.as_ref().map(|e| e.value().clone()) } else { None };
        let allowed = match options.condition {
            Condition::Always => true,
            Condition::IfAbsent => current.is_none(),
            Condition::IfPresent => current.is_some(),
        };
        if !allowed {
            return (Change::Keep, Err(old));
        }
        let deadline = match options.expiry {
            Expiry::Clear => None,
            Expiry::Keep => current.and_then(|e| e.expires_at()),
            Expiry::At(at) => Some(at),
        };
        (Change::Put(Entry::new(Bytes::copy_from_slice(value), deadline)), Ok(old))
    })
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
    let _ = store_value(ctx, args.get(1), args.get(3), &options);
    ctx.out.ok();
}

/// SETNX key value
fn setnx(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let options = SetOptions { condition: Condition::IfAbsent, expiry: Expiry::Clear, return_old: false };
    let written = store_value(ctx, args.get(1), args.get(2), &options).is_ok();
    ctx.out.integer(i64::from(written));
}

/// MGET key [key ...]
fn mget(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let db = ctx.server.store.db(ctx.session.db);
    ctx.out.array(args.len() - 1);
    for key in args.iter().skip(1) {
        let out = &mut *ctx.out;
        let hit = db.view(key, ctx.now, |entry| match entry {
            Some(entry) => {
                out.bulk_bytes(entry.value());
                true
            }
            None => {
                out.null();
                false
            }
        });
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
            let entry = Entry::new(Bytes::copy_from_slice(value), None);
            locked.mutate(key, ctx.now, |_| (Change::Put(entry), ()));
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
    let result = db.mutate(key, ctx.now, |current| {
        let (old, deadline) = match &current {
            Some(entry) => match parse_i64(entry.value()) {
                Some(n) => (n, entry.expires_at()),
                None => return (Change::Keep, Err(NOT_AN_INTEGER)),
            },
            None => (0, None),
        };
        let Some(new) = old.checked_add(delta) else {
            return (Change::Keep, Err("ERR increment or decrement would overflow"));
        };
        let mut digits = [0u8; 20];
        let text = crate::protocol::reply::format_i64(new, &mut digits);
        (Change::Put(Entry::new(Bytes::copy_from_slice(text), deadline)), Ok(new))
    });
    match result {
        Ok(n) => ctx.out.integer(n),
        Err(msg) => ctx.error(msg),
    }
}
