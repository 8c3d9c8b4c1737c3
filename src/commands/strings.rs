//! String commands: GET, SET and its variants, GETSET, GETDEL, GETEX, MGET,
//! MSET, MSETNX, APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE, the counters
//! (INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT) and the bit commands (SETBIT,
//! GETBIT, BITCOUNT).

use super::long_double::LongDouble;
use super::{is, specs, Command, Ctx, Flags, NOT_AN_INTEGER, OVERFLOW, SYNTAX_ERROR, WRONGTYPE};
use crate::notify::{Event, Events};
use crate::protocol::parse::parse_i64;
use crate::protocol::{Args, ReplyBuffer};
use crate::store::{EntryRef, SlotMut, WrongType};

const R: Flags = Flags::READONLY.with(Flags::FAST);
const W: Flags = Flags::WRITE.with(Flags::DENYOOM);
const WF: Flags = W.with(Flags::FAST);
/// GETDEL and GETEX write, but never add data: not refused when memory is full.
const WRITE_FAST: Flags = Flags::WRITE.with(Flags::FAST);

pub static COMMANDS: &[Command] = &[
    Command { name: "get", arity: 2, flags: R, keys: specs::READ, group: "string", run: get },
    Command { name: "set", arity: -3, flags: W, keys: specs::SET, group: "string", run: set },
    Command { name: "setex", arity: 4, flags: W, keys: specs::OVERWRITE, group: "string", run: setex },
    Command { name: "psetex", arity: 4, flags: W, keys: specs::OVERWRITE, group: "string", run: psetex },
    Command { name: "setnx", arity: 3, flags: WF, keys: specs::OVERWRITE_INSERT, group: "string", run: setnx },
    Command { name: "getset", arity: 3, flags: WF, keys: specs::READ_UPDATE, group: "string", run: getset },
    Command { name: "getdel", arity: 2, flags: WRITE_FAST, keys: specs::READ_DELETE, group: "string", run: getdel },
    Command { name: "getex", arity: -2, flags: WRITE_FAST, keys: specs::READ_UPDATE, group: "string", run: getex },
    Command { name: "mget", arity: -2, flags: R, keys: specs::READ_ALL, group: "string", run: mget },
    Command { name: "mset", arity: -3, flags: W, keys: specs::OVERWRITE_PAIRS, group: "string", run: mset },
    Command { name: "msetnx", arity: -3, flags: W, keys: specs::OVERWRITE_INSERT_PAIRS, group: "string", run: msetnx },
    Command { name: "append", arity: 3, flags: WF, keys: specs::INSERT, group: "string", run: append },
    Command { name: "strlen", arity: 2, flags: R, keys: specs::RO, group: "string", run: strlen },
    Command { name: "getrange", arity: 4, flags: Flags::READONLY, keys: specs::READ, group: "string", run: getrange },
    Command { name: "substr", arity: 4, flags: Flags::READONLY, keys: specs::READ, group: "string", run: getrange },
    Command { name: "setrange", arity: 4, flags: W, keys: specs::UPDATE, group: "string", run: setrange },
    Command { name: "incr", arity: 2, flags: WF, keys: specs::READ_UPDATE, group: "string", run: incr },
    Command { name: "decr", arity: 2, flags: WF, keys: specs::READ_UPDATE, group: "string", run: decr },
    Command { name: "incrby", arity: 3, flags: WF, keys: specs::READ_UPDATE, group: "string", run: incrby },
    Command { name: "decrby", arity: 3, flags: WF, keys: specs::READ_UPDATE, group: "string", run: decrby },
    Command { name: "incrbyfloat", arity: 3, flags: WF, keys: specs::READ_UPDATE, group: "string", run: incrbyfloat },
];

const STRING_TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
const NOT_A_FLOAT: &str = "ERR value is not a valid float";

/// GET key
fn get(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    ctx.read_key(args.get(1), |entry, out| reply_string(out, entry));
}

/// Reply with an entry's string (large ones without copying), or null;
/// returns whether there was one. Writes nothing for another type.
pub fn reply_string(out: &mut ReplyBuffer, entry: Option<&EntryRef<'_>>) -> Result<bool, WrongType> {
    let Some(entry) = entry else {
        out.null();
        return Ok(false);
    };
    let value = entry.string()?;
    match entry.shared_string() {
        Some(shared) => out.bulk_bytes(&shared),
        None => out.bulk(value),
    }
    Ok(true)
}

/// Look at a key's string under the read lock (None if it is missing),
/// counting the lookup as a keyspace hit or miss. Replies WRONGTYPE, and
/// returns None, if the key holds another type.
pub(super) fn with_value<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(Option<&[u8]>, &mut ReplyBuffer) -> R,
) -> Option<R> {
    ctx.read_key(key, |entry, out| Ok(f(entry.map(EntryRef::string).transpose()?, out)))
}

/// Reply with a length, or with the error that stopped the command.
fn reply_length(ctx: &mut Ctx<'_>, result: Result<usize, &'static str>) {
    match result {
        Ok(len) => ctx.out.integer(len as i64),
        Err(msg) => ctx.error(msg),
    }
}

/// Replace the value of a key (creating it if needed), keeping its
/// deadline: what APPEND, SETRANGE, SETBIT and the counters do.
pub(super) fn put_keeping_ttl(slot: &mut SlotMut<'_>, value: &[u8]) {
    let deadline = slot.expires_at();
    slot.put(value, deadline);
}

/// [`put_keeping_ttl`], and report `event` while the key is locked (so
/// that the events of one key come in the order of its writes).
pub(super) fn put_and_notify(slot: &mut SlotMut<'_>, value: &[u8], events: Events<'_>, event: Event) {
    put_keeping_ttl(slot, value);
    events.notify(event, slot.key());
}

/// The largest string a command may build (`proto-max-bulk-len`).
pub(super) fn max_string_len(ctx: &Ctx<'_>) -> u64 {
    ctx.server.config.server.proto_max_bulk_len
}

/// `a + b`, if a string of that length is allowed.
fn checked_len(a: usize, b: usize, limit: u64) -> Result<usize, &'static str> {
    a.checked_add(b).filter(|&len| len as u64 <= limit).ok_or(STRING_TOO_BIG)
}

// ---------------------------------------------------------------------------
// SET and its relatives
// ---------------------------------------------------------------------------

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
    run_set(ctx, args.get(1), args.get(2), &options);
}

/// Store `value` at `key` as SET with `options` does, and give SET's reply:
/// the old value (with GET), else OK or null.
fn run_set(ctx: &mut Ctx<'_>, key: &[u8], value: &[u8], options: &SetOptions) {
    let (db, events) = (ctx.server.store.db(ctx.session.db), ctx.events());
    let (out, now) = (&mut *ctx.out, ctx.now);
    let existed = db.update(key, now, |slot| -> Result<bool, WrongType> {
        let existed = slot.exists();
        if options.return_old {
            match slot.string()? {
                Some(old) => out.bulk(old),
                None => out.null(),
            }
            // Redis reads the old value as GET does, before it writes.
            if !existed {
                events.notify(Event::KEYMISS, key);
            }
        }
        let written = store_value(slot, value, options, now, events);
        if !options.return_old {
            if written {
                out.ok();
            } else {
                out.null();
            }
        }
        Ok(existed)
    });
    let Ok(existed) = existed else { return ctx.error(WRONGTYPE) };
    // Redis reads the old value like GET does, so it counts as a lookup.
    if options.return_old {
        ctx.count_lookup_stats(existed);
    }
}

/// Which command's options [`parse_string_options`] reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OptionsOf {
    Set,
    Getex,
}

/// The options of SET and GETEX as Redis reads them. An option may be
/// repeated (the last expiry value wins); two that conflict are a syntax
/// error. The expiry value itself is checked afterwards, by the command.
#[derive(Default)]
struct StringOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expiry: Option<(TimeUnit, &'a [u8])>,
}

fn parse_string_options<'a>(
    ctx: &mut Ctx<'_>,
    args: &Args<'a>,
    first: usize,
    of: OptionsOf,
) -> Option<StringOptions<'a>> {
    let mut o = StringOptions::default();
    let set = of == OptionsOf::Set;
    let mut i = first;
    while i < args.len() {
        let arg = args.get(i);
        let next = (i + 1 < args.len()).then(|| args.get(i + 1));
        let unit = expiry_unit(arg);
        if set && is(arg, "NX") && !o.xx {
            o.nx = true;
        } else if set && is(arg, "XX") && !o.nx {
            o.xx = true;
        } else if set && is(arg, "GET") {
            o.get = true;
        } else if set && is(arg, "KEEPTTL") && o.expiry.is_none() {
            o.keep_ttl = true;
        } else if !set && is(arg, "PERSIST") && o.expiry.is_none() {
            o.persist = true;
        } else if let (Some(unit), Some(value)) = (unit, next) {
            let same_unit = o.expiry.is_none_or(|(previous, _)| previous == unit);
            if o.keep_ttl || o.persist || !same_unit {
                ctx.error(SYNTAX_ERROR);
                return None;
            }
            o.expiry = Some((unit, value));
            i += 1;
        } else {
            ctx.error(SYNTAX_ERROR);
            return None;
        }
        i += 1;
    }
    Some(o)
}

/// Parse SET's options, replying with Redis's error when they are invalid.
fn parse_set_options(ctx: &mut Ctx<'_>, args: &Args<'_>) -> Option<SetOptions> {
    let options = parse_string_options(ctx, args, 3, OptionsOf::Set)?;
    let expiry = match options.expiry {
        Some((unit, value)) => Expiry::At(parse_deadline(ctx, value, unit, "set")?),
        None if options.keep_ttl => Expiry::Keep,
        None => Expiry::Clear,
    };
    let condition = match (options.nx, options.xx) {
        (true, _) => Condition::IfAbsent,
        (_, true) => Condition::IfPresent,
        _ => Condition::Always,
    };
    Some(SetOptions { condition, expiry, return_old: options.get })
}

/// How an expiry argument is expressed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TimeUnit {
    Seconds,
    Millis,
    UnixSeconds,
    UnixMillis,
}

impl TimeUnit {
    /// `amount` of this unit as a unix time in ms (relative units count
    /// from `now`); None if the arithmetic overflows.
    pub fn to_unix_ms(self, amount: i64, now: u64) -> Option<i64> {
        let ms = match self {
            TimeUnit::Seconds | TimeUnit::UnixSeconds => amount.checked_mul(1000)?,
            TimeUnit::Millis | TimeUnit::UnixMillis => amount,
        };
        match self {
            TimeUnit::Seconds | TimeUnit::Millis => ms.checked_add(now as i64),
            TimeUnit::UnixSeconds | TimeUnit::UnixMillis => Some(ms),
        }
    }
}

/// The unit an expiry keyword (EX, PX, EXAT, PXAT) names.
pub(super) fn expiry_unit(arg: &[u8]) -> Option<TimeUnit> {
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

/// Why an expiry argument was refused.
#[derive(Clone, Copy, Debug)]
enum BadExpiry {
    NotAnInteger,
    /// Not positive, or the deadline overflows.
    Invalid,
    /// (GETEX) The key is not a string.
    WrongType,
}

impl BadExpiry {
    fn reply(self, ctx: &mut Ctx<'_>, command: &str) {
        match self {
            BadExpiry::NotAnInteger => ctx.error(NOT_AN_INTEGER),
            BadExpiry::Invalid => ctx.error(&format!("ERR invalid expire time in '{command}' command")),
            BadExpiry::WrongType => ctx.error(WRONGTYPE),
        }
    }
}

/// An expiry argument of SET-like commands as an absolute deadline in unix
/// ms: a positive integer whose deadline does not overflow.
fn deadline(arg: &[u8], unit: TimeUnit, now: u64) -> Result<u64, BadExpiry> {
    let value = parse_i64(arg).ok_or(BadExpiry::NotAnInteger)?;
    match unit.to_unix_ms(value, now) {
        Some(deadline) if value > 0 && deadline > 0 => Ok(deadline as u64),
        _ => Err(BadExpiry::Invalid),
    }
}

/// Turn an expiry argument into an absolute deadline in unix ms, replying
/// with Redis's errors: not an integer, or not positive / overflowing
/// (`invalid expire time in '<command>' command`).
pub fn parse_deadline(ctx: &mut Ctx<'_>, arg: &[u8], unit: TimeUnit, command: &str) -> Option<u64> {
    deadline(arg, unit, ctx.now).map_err(|e| e.reply(ctx, command)).ok()
}

/// Store `value` in `slot` as SET does, with its events (`set`, then
/// `expire` for a deadline); false if the NX/XX condition stopped it.
///
/// A deadline already past (EXAT, PXAT) deletes the key at once: it is
/// never stored to linger, counted by DBSIZE, until reclaimed. Its events
/// are those Redis gives such a key, which it stores and reclaims later:
/// `new` (if there was no key), `set`, `expire`, `expired`.
fn store_value(slot: &mut SlotMut<'_>, value: &[u8], options: &SetOptions, now: u64, events: Events<'_>) -> bool {
    let existed = slot.exists();
    let allowed = match options.condition {
        Condition::Always => true,
        Condition::IfAbsent => !existed,
        Condition::IfPresent => existed,
    };
    if !allowed {
        return false;
    }
    let key = slot.key();
    let deadline = match options.expiry {
        Expiry::Clear => None,
        Expiry::Keep => slot.expires_at(),
        Expiry::At(at) if at <= now => {
            slot.remove();
            if !existed {
                events.notify(Event::NEW, key);
            }
            [SET, Event::EXPIRE, Event::EXPIRED].into_iter().for_each(|event| events.notify(event, key));
            return true;
        }
        Expiry::At(at) => Some(at),
    };
    slot.put(value, deadline);
    events.notify(SET, key);
    if matches!(options.expiry, Expiry::At(_)) {
        events.notify(Event::EXPIRE, key);
    }
    true
}

const SET: Event = Event::string("set");

/// Run SET-like `options` on `key` and return whether it was written.
fn set_key(ctx: &Ctx<'_>, key: &[u8], value: &[u8], options: &SetOptions) -> bool {
    let (now, events) = (ctx.now, ctx.events());
    ctx.db().update(key, now, |slot| store_value(slot, value, options, now, events))
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

/// GETSET key value: SET key value GET.
fn getset(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let options = SetOptions { condition: Condition::Always, expiry: Expiry::Clear, return_old: true };
    run_set(ctx, args.get(1), args.get(2), &options);
}

/// GETDEL key
fn getdel(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let (db, events, key) = (ctx.server.store.db(ctx.session.db), ctx.events(), args.get(1));
    let out = &mut *ctx.out;
    let hit = db.update(key, ctx.now, |slot| {
        let Some(value) = slot.string()? else {
            out.null();
            return Ok(false);
        };
        out.bulk(value);
        slot.remove();
        events.notify(Event::DEL, key);
        Ok(true)
    });
    match hit {
        Ok(hit) => ctx.count_lookup(key, hit),
        Err(WrongType) => ctx.error(WRONGTYPE),
    }
}

/// GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]
fn getex(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(options) = parse_string_options(ctx, args, 2, OptionsOf::Getex) else { return };
    // As in Redis, the key is looked up before the expiry value is checked
    // (a missing key answers null whatever that value is), and a deadline
    // that has already passed (EXAT/PXAT) deletes the key after the reply.
    let (now, events, key) = (ctx.now, ctx.events(), args.get(1));
    let db = ctx.server.store.db(ctx.session.db);
    let out = &mut *ctx.out;
    let result = db.update(key, now, |slot| -> Result<bool, BadExpiry> {
        let Some(value) = slot.string().map_err(|WrongType| BadExpiry::WrongType)? else {
            out.null();
            return Ok(false);
        };
        let deadline = options.expiry.map(|(unit, arg)| deadline(arg, unit, now)).transpose()?;
        out.bulk(value);
        let event = match deadline {
            Some(at) if at <= now => {
                slot.remove();
                Some(Event::DEL)
            }
            Some(at) => {
                slot.set_expires_at(Some(at));
                Some(Event::EXPIRE)
            }
            // Only a real change may touch the key (WATCH sees every write).
            None if options.persist && slot.expires_at().is_some() => {
                slot.set_expires_at(None);
                Some(PERSIST)
            }
            None => None,
        };
        if let Some(event) = event {
            events.notify(event, key);
        }
        Ok(true)
    });
    match result {
        Ok(found) => ctx.count_lookup(key, found),
        Err(bad) => bad.reply(ctx, "getex"),
    }
}

pub(super) const PERSIST: Event = Event::generic("persist");

/// MGET key [key ...]
fn mget(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let (db, events) = (ctx.server.store.db(ctx.session.db), ctx.events());
    ctx.out.array(args.len() - 1);
    let (mut hits, mut misses) = (0, 0);
    let out = &mut *ctx.out;
    let keys: Vec<&[u8]> = args.iter().skip(1).collect();
    let mut key = keys.iter();
    db.view_many(&keys, ctx.now, |entry| {
        let key = key.next().copied().unwrap_or_default();
        events.keymisses([(key, entry.is_some())]);
        // Keys of another type read as missing, as in Redis.
        let hit = reply_string(out, entry.as_ref()).unwrap_or_else(|WrongType| {
            out.null();
            false
        });
        if hit {
            hits += 1;
        } else {
            misses += 1;
        }
    });
    ctx.stats.keyspace_hits.add(hits);
    ctx.stats.keyspace_misses.add(misses);
}

/// MSET key value [key value ...], atomically: all shards involved are
/// locked together, so no reader sees some of the keys set and not others.
fn mset(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if set_pairs(ctx, args, "mset", false).is_some() {
        ctx.out.ok();
    }
}

/// MSETNX key value [key value ...]: all or none (if any key exists), atomically.
fn msetnx(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if let Some(written) = set_pairs(ctx, args, "msetnx", true) {
        ctx.out.integer(i64::from(written));
    }
}

/// MSET and MSETNX: with the shards of all the keys locked, write every
/// pair (unless `only_if_none_exist` and one of the keys exists). None
/// after replying with the arity error for an odd argument list.
fn set_pairs(ctx: &mut Ctx<'_>, args: &Args<'_>, command: &str, only_if_none_exist: bool) -> Option<bool> {
    if args.len() % 2 == 0 {
        ctx.error(&super::arity_message(command));
        return None;
    }
    let (now, events) = (ctx.now, ctx.events());
    let pairs = || (1..args.len()).step_by(2).map(|i| (args.get(i), args.get(i + 1)));
    let written = ctx.db().with_keys_locked(pairs().map(|(key, _)| key), |locked| {
        if only_if_none_exist && pairs().any(|(key, _)| locked.update(key, now, |slot| slot.exists())) {
            return false;
        }
        for (key, value) in pairs() {
            locked.update(key, now, |slot| slot.put(value, None));
            events.notify(SET, key);
        }
        true
    });
    Some(written)
}

// ---------------------------------------------------------------------------
// Substrings
// ---------------------------------------------------------------------------

/// APPEND key value
fn append(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let (suffix, limit, events) = (args.get(2), max_string_len(ctx), ctx.events());
    let append = Event::string("append");
    let result = ctx.db().update(args.get(1), ctx.now, |slot| {
        let Some(old) = slot.string()? else {
            slot.put(suffix, None);
            events.notify(append, slot.key());
            return Ok(suffix.len());
        };
        let len = checked_len(old.len(), suffix.len(), limit)?;
        let mut value = Vec::with_capacity(len);
        value.extend_from_slice(old);
        value.extend_from_slice(suffix);
        put_and_notify(slot, &value, events, append);
        Ok(len)
    });
    reply_length(ctx, result);
}

/// STRLEN key
fn strlen(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if let Some(len) = with_value(ctx, args.get(1), |value, _| value.map_or(0, <[u8]>::len)) {
        ctx.out.integer(len as i64);
    }
}

/// Redis's clamping of an inclusive range `start..=end` over `len` items
/// (negative indexes count from the end); None when it is empty.
pub(super) fn clamp_range(len: i64, start: i64, end: i64) -> Option<(i64, i64)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end }.max(0).min(len - 1);
    (start <= end).then_some((start, end))
}

/// GETRANGE key start end (SUBSTR is the same command)
fn getrange(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(start) = ctx.integer_arg(args, 2) else { return };
    let Some(end) = ctx.integer_arg(args, 3) else { return };
    with_value(ctx, args.get(1), |value, out| {
        let value = value.unwrap_or_default();
        match clamp_range(value.len() as i64, start, end) {
            Some((start, end)) => out.bulk(&value[start as usize..=end as usize]),
            None => out.bulk(b""),
        }
    });
}

/// SETRANGE key offset value
fn setrange(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    // A string that is too short is zero-padded; an empty value changes
    // nothing (and creates no key).
    let Some(offset) = ctx.integer_arg(args, 2) else { return };
    let Ok(offset) = usize::try_from(offset) else {
        return ctx.error("ERR offset is out of range");
    };
    let (patch, limit, events) = (args.get(3), max_string_len(ctx), ctx.events());
    let result = ctx.db().update(args.get(1), ctx.now, |slot| {
        let old = slot.string()?.unwrap_or_default();
        if patch.is_empty() {
            return Ok(old.len());
        }
        let end = checked_len(offset, patch.len(), limit)?;
        let mut value = Vec::with_capacity(end.max(old.len()));
        value.extend_from_slice(old);
        if value.len() < end {
            value.resize(end, 0);
        }
        value[offset..end].copy_from_slice(patch);
        put_and_notify(slot, &value, events, Event::string("setrange"));
        Ok(value.len())
    });
    reply_length(ctx, result);
}

// ---------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------

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
    let events = ctx.events();
    let result = ctx.db().update(key, ctx.now, |slot| {
        let old = match slot.string()? {
            Some(value) => parse_i64(value).ok_or(NOT_AN_INTEGER)?,
            None => 0,
        };
        let new = old.checked_add(delta).ok_or(OVERFLOW)?;
        let mut digits = [0u8; 20];
        put_and_notify(slot, crate::protocol::reply::format_i64(new, &mut digits), events, Event::string("incrby"));
        Ok(new)
    });
    match result {
        Ok(n) => ctx.out.integer(n),
        Err(msg) => ctx.error(msg),
    }
}

/// INCRBYFLOAT key increment
fn incrbyfloat(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    // In Redis's `long double` arithmetic, the result stored and returned
    // as Redis prints it (see [`LongDouble`]); the deadline is kept. As in
    // Redis, the key's type is checked before either operand is read.
    let events = ctx.events();
    let result = ctx.db().update(args.get(1), ctx.now, |slot| {
        let current = match slot.string()? {
            Some(value) => LongDouble::parse(value).ok_or(NOT_A_FLOAT)?,
            None => LongDouble::ZERO,
        };
        let increment = LongDouble::parse(args.get(2)).ok_or(NOT_A_FLOAT)?;
        let sum = current.add(increment).to_human_string().ok_or("ERR increment would produce NaN or Infinity")?;
        put_and_notify(slot, sum.as_bytes(), events, Event::string("incrbyfloat"));
        Ok(sum)
    });
    match result {
        Ok(sum) => ctx.out.bulk(sum.as_bytes()),
        Err(msg) => ctx.error(msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_clamp_like_redis() {
        // "abcdef": GETRANGE's answers in Redis 7.
        assert_eq!(clamp_range(6, 0, -1), Some((0, 5)));
        assert_eq!(clamp_range(6, -3, -1), Some((3, 5)));
        assert_eq!(clamp_range(6, -100, -50), Some((0, 0)));
        assert_eq!(clamp_range(6, -1, -100), None);
        assert_eq!(clamp_range(6, 2, 1), None);
        assert_eq!(clamp_range(6, 0, 100), Some((0, 5)));
        assert_eq!(clamp_range(0, 0, -1), None);
        assert_eq!(clamp_range(6, i64::MIN, i64::MAX), Some((0, 5)));
        assert_eq!(clamp_range(6, i64::MAX, i64::MIN), None);
    }

    #[test]
    fn relative_and_absolute_units() {
        assert_eq!(TimeUnit::Seconds.to_unix_ms(2, 1000), Some(3000));
        assert_eq!(TimeUnit::Millis.to_unix_ms(2, 1000), Some(1002));
        assert_eq!(TimeUnit::UnixSeconds.to_unix_ms(2, 1000), Some(2000));
        assert_eq!(TimeUnit::UnixMillis.to_unix_ms(-2, 1000), Some(-2));
        assert_eq!(TimeUnit::Seconds.to_unix_ms(i64::MAX / 1000 + 1, 0), None);
        assert_eq!(TimeUnit::Millis.to_unix_ms(i64::MAX, 1), None);
    }
}
