//! Hash commands: HSET and its relatives, the readers (HGET, HMGET,
//! HGETALL, HKEYS, HVALS, HLEN, HEXISTS, HSTRLEN), the counters (HINCRBY,
//! HINCRBYFLOAT), HRANDFIELD, HSCAN, and the per-field expiry of Redis 7.4
//! and 8.0 (HEXPIRE and its variants, HTTL and its variants, HPERSIST,
//! HSETEX, HGETEX, HGETDEL).
//!
//! The hash itself (encodings, deadlines, scan cursor) is `store/hash.rs`;
//! here are the arguments, the replies and the errors, as Redis gives them.

use super::family_flags::{R, RF, WF, WRITE_FAST};
use super::keys::ExpireConditions;
use super::keyspace::{parse_cursor, reply_scan, ScanOf, ScanOptions};
use super::long_double::LongDouble;
use super::random::{close_cut_off, count_arg, distinct, output_limit, stream_repeats, Rng};
use super::strings::{expiry_unit, TimeUnit};
use super::{
    arity_message, is, specs, Change, Command, Ctx, Family, NOT_AN_INTEGER, OVERFLOW, SYNTAX_ERROR, WRONGTYPE,
};
use crate::notify::{Event, Events};
use crate::protocol::parse::parse_i64;
use crate::protocol::{Args, Protocol, ReplyBuffer};
use crate::store::hash::{Field, PackLimits};
use crate::store::Hash;

const HASH: Family = Family("hash");

pub static COMMANDS: &[Command] = &[
    HASH.command("hset", -4, WF, specs::UPDATE, hset),
    HASH.command("hsetnx", 4, WF, specs::INSERT, hsetnx),
    HASH.command("hmset", -4, WF, specs::UPDATE, hmset),
    HASH.command("hget", 3, RF, specs::READ, hget),
    HASH.command("hmget", -3, RF, specs::READ, hmget),
    HASH.command("hgetall", 2, R, specs::READ, hgetall),
    HASH.command("hkeys", 2, R, specs::READ, hkeys),
    HASH.command("hvals", 2, R, specs::READ, hvals),
    HASH.command("hlen", 2, RF, specs::RO, hlen),
    HASH.command("hexists", 3, RF, specs::RO, hexists),
    HASH.command("hstrlen", 3, RF, specs::RO, hstrlen),
    HASH.command("hdel", -3, WRITE_FAST, specs::DELETE, hdel),
    HASH.command("hincrby", 4, WF, specs::READ_UPDATE, hincrby),
    HASH.command("hincrbyfloat", 4, WF, specs::READ_UPDATE, hincrbyfloat),
    HASH.command("hrandfield", -2, R, specs::READ, hrandfield),
    HASH.command("hscan", -3, R, specs::READ, hscan),
    HASH.command("hexpire", -6, WRITE_FAST, specs::UPDATE, hexpire),
    HASH.command("hpexpire", -6, WRITE_FAST, specs::UPDATE, hpexpire),
    HASH.command("hexpireat", -6, WRITE_FAST, specs::UPDATE, hexpireat),
    HASH.command("hpexpireat", -6, WRITE_FAST, specs::UPDATE, hpexpireat),
    HASH.command("httl", -5, RF, specs::READ, httl),
    HASH.command("hpttl", -5, RF, specs::READ, hpttl),
    HASH.command("hexpiretime", -5, RF, specs::READ, hexpiretime),
    HASH.command("hpexpiretime", -5, RF, specs::READ, hpexpiretime),
    HASH.command("hpersist", -5, WRITE_FAST, specs::UPDATE, hpersist),
    HASH.command("hsetex", -6, WF, specs::UPDATE, hsetex),
    HASH.command("hgetex", -5, WRITE_FAST, specs::READ_UPDATE, hgetex),
    HASH.command("hgetdel", -5, WRITE_FAST, specs::READ_DELETE, hgetdel),
];

const NOT_AN_INTEGER_HASH: &str = "ERR hash value is not an integer";
const NOT_A_FLOAT_HASH: &str = "ERR hash value is not a float";
const FIELDS_MISSING: &str = "ERR Mandatory argument FIELDS is missing or not at the right position";
const NUMFIELDS_NOT_POSITIVE: &str = "ERR Number of fields must be a positive integer";
const NUMFIELDS_MISMATCH: &str = "ERR The `numfields` parameter must match the number of arguments";

/// The latest deadline a field may have (Redis's `HFE_MAX_ABS_TIME_MSEC`).
const MAX_DEADLINE_MS: i64 = crate::store::hash::MAX_FIELD_DEADLINE_MS as i64;

fn limits(ctx: &Ctx<'_>) -> PackLimits {
    ctx.server.live.hash_pack_limits()
}

/// Look at the hash at `key` (see [`Ctx::read_collection`]).
fn with_hash<R>(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(Option<&Hash>, &mut ReplyBuffer) -> R) -> Option<R> {
    ctx.read_collection(key, f)
}

/// Change the hash at `key`, then report `event` (see
/// [`Ctx::update_collection`]).
fn update_hash<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    create: bool,
    event: Event,
    f: impl FnOnce(&mut Hash, &mut ReplyBuffer) -> (R, bool),
) -> Option<Option<R>> {
    ctx.update_collection(key, create, event, f)
}

const HSET: Event = Event::hash("hset");
const HDEL: Event = Event::hash("hdel");

// ---------------------------------------------------------------------------
// Writers
// ---------------------------------------------------------------------------

/// HSET and HMSET: set every field/value pair; returns how many were new.
fn set_pairs(ctx: &mut Ctx<'_>, args: &Args<'_>, command: &str) -> Option<i64> {
    if args.len() % 2 != 0 {
        ctx.error(&arity_message(command));
        return None;
    }
    let limits = limits(ctx);
    let added = update_hash(ctx, args.get(1), true, HSET, |hash, _| {
        let added = (2..args.len()).step_by(2).filter(|&i| hash.insert(args.get(i), args.get(i + 1), None, limits));
        (added.count() as i64, true)
    })?;
    Some(added.unwrap_or(0))
}

/// HSET key field value [field value ...]
fn hset(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if let Some(added) = set_pairs(ctx, args, "hset") {
        ctx.out.integer(added);
    }
}

/// HMSET key field value [field value ...]
fn hmset(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if set_pairs(ctx, args, "hmset").is_some() {
        ctx.out.ok();
    }
}

/// HSETNX key field value
fn hsetnx(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let limits = limits(ctx);
    let (field, value) = (args.get(2), args.get(3));
    let set = update_hash(ctx, args.get(1), true, HSET, |hash, _| {
        let absent = !hash.contains(field);
        if absent {
            hash.insert(field, value, None, limits);
        }
        (absent, absent)
    });
    if let Some(set) = set {
        ctx.out.integer(i64::from(set == Some(true)));
    }
}

/// HDEL key field [field ...]
fn hdel(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let deleted = update_hash(ctx, args.get(1), false, HDEL, |hash, _| {
        let deleted = args.iter().skip(2).filter(|field| hash.remove(field)).count();
        (deleted as i64, deleted > 0)
    });
    if let Some(deleted) = deleted {
        ctx.out.integer(deleted.unwrap_or(0));
    }
}

/// HINCRBY key field increment (a field's deadline is kept)
fn hincrby(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(delta) = ctx.integer_arg(args, 3) else { return };
    let limits = limits(ctx);
    let field = args.get(2);
    let result = update_hash(ctx, args.get(1), true, Event::hash("hincrby"), |hash, _| {
        let current = hash.field(field);
        let old = match current.map(|f| parse_i64(f.value)) {
            Some(Some(n)) => n,
            Some(None) => return (Err(NOT_AN_INTEGER_HASH), false),
            None => 0,
        };
        let Some(new) = old.checked_add(delta) else { return (Err(OVERFLOW), false) };
        let deadline = current.and_then(|f| f.deadline);
        let mut digits = [0u8; 20];
        hash.insert(field, crate::protocol::reply::format_i64(new, &mut digits), deadline, limits);
        (Ok(new), true)
    });
    match result {
        Some(Some(Ok(n))) => ctx.out.integer(n),
        Some(Some(Err(msg))) => ctx.error(msg),
        Some(None) | None => {}
    }
}

/// HINCRBYFLOAT key field increment (a field's deadline is kept)
fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(increment) = LongDouble::parse(args.get(3)) else {
        return ctx.error("ERR value is not a valid float");
    };
    if !matches!(increment, LongDouble::Finite { .. }) {
        return ctx.error("ERR value is NaN or Infinity");
    }
    let limits = limits(ctx);
    let field = args.get(2);
    let result = update_hash(ctx, args.get(1), true, Event::hash("hincrbyfloat"), |hash, _| {
        let current = hash.field(field);
        let old = match current.map(|f| LongDouble::parse(f.value)) {
            Some(Some(n)) => n,
            Some(None) => return (Err(NOT_A_FLOAT_HASH), false),
            None => LongDouble::ZERO,
        };
        let Some(sum) = old.add(increment).to_human_string() else {
            return (Err("ERR increment would produce NaN or Infinity"), false);
        };
        hash.insert(field, sum.as_bytes(), current.and_then(|f| f.deadline), limits);
        (Ok(sum), true)
    });
    match result {
        Some(Some(Ok(sum))) => ctx.out.bulk(sum.as_bytes()),
        Some(Some(Err(msg))) => ctx.error(msg),
        Some(None) | None => {}
    }
}

// ---------------------------------------------------------------------------
// Readers
// ---------------------------------------------------------------------------

/// HGET key field
fn hget(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    with_hash(ctx, args.get(1), |hash, out| match hash.and_then(|h| h.get(args.get(2))) {
        Some(value) => out.bulk(value),
        None => out.null(),
    });
}

/// HMGET key field [field ...]: null for each missing field.
fn hmget(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    with_hash(ctx, args.get(1), |hash, out| {
        out.array(args.len() - 2);
        for field in args.iter().skip(2) {
            match hash.and_then(|h| h.get(field)) {
                Some(value) => out.bulk(value),
                None => out.null(),
            }
        }
    });
}

/// HGETALL key: a map in RESP3, a flat array of fields and values in RESP2.
fn hgetall(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    with_hash(ctx, args.get(1), |hash, out| {
        out.map(hash.map_or(0, Hash::len));
        for field in hash.iter().flat_map(|h| h.iter()) {
            out.bulk(field.name);
            out.bulk(field.value);
        }
    });
}

/// HKEYS key
fn hkeys(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    reply_each(ctx, args.get(1), |f| f.name);
}

/// HVALS key
fn hvals(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    reply_each(ctx, args.get(1), |f| f.value);
}

/// An array with one part of every field.
fn reply_each(ctx: &mut Ctx<'_>, key: &[u8], part: for<'a> fn(&Field<'a>) -> &'a [u8]) {
    with_hash(ctx, key, |hash, out| {
        out.array(hash.map_or(0, Hash::len));
        hash.iter().flat_map(|h| h.iter()).for_each(|f| out.bulk(part(&f)));
    });
}

/// HLEN key
fn hlen(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    reply_integer(ctx, args.get(1), |hash| hash.len() as i64);
}

/// HEXISTS key field
fn hexists(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    reply_integer(ctx, args.get(1), |hash| i64::from(hash.contains(args.get(2))));
}

/// HSTRLEN key field
fn hstrlen(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    reply_integer(ctx, args.get(1), |hash| hash.get(args.get(2)).map_or(0, |v| v.len() as i64));
}

/// An integer computed from the hash (0 for a missing key).
fn reply_integer(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(&Hash) -> i64) {
    with_hash(ctx, key, |hash, out| out.integer(hash.map_or(0, f)));
}

// ---------------------------------------------------------------------------
// HRANDFIELD and HSCAN
// ---------------------------------------------------------------------------

/// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if args.len() == 2 {
        let mut rng = Rng::new(ctx);
        with_hash(ctx, args.get(1), |hash, out| match hash.and_then(|h| h.random_field(rng.next())) {
            Some(field) => out.bulk(field.name),
            None => out.null(),
        });
        return;
    }
    let Some((count, with_values)) = count_arg(ctx, args, "WITHVALUES") else { return };
    let resp3 = ctx.out.protocol == Protocol::Resp3;
    let output_limit = output_limit(ctx);
    let mut rng = Rng::new(ctx);
    let complete = with_hash(ctx, args.get(1), |hash, out| {
        let Some(hash) = hash.filter(|_| count != 0) else {
            out.array(0);
            return true;
        };
        let picks = random_fields(hash, count, &mut rng);
        let len = if count < 0 { count.unsigned_abs() as usize } else { picks.len() };
        out.array(if with_values && !resp3 { len * 2 } else { len });
        let emit = |out: &mut ReplyBuffer, field: &Field<'_>| {
            if with_values && resp3 {
                out.array(2);
            }
            out.bulk(field.name);
            if with_values {
                out.bulk(field.value);
            }
        };
        if count > 0 {
            picks.iter().for_each(|field| emit(out, field));
            return true;
        }
        // With repeats the reply may be far larger than the hash.
        stream_repeats(out, len, output_limit, |out| emit(out, &picks[rng.below(picks.len())]))
    });
    if complete == Some(false) {
        close_cut_off(ctx, "HRANDFIELD");
    }
}

/// The fields HRANDFIELD draws from: for a positive count, that many
/// distinct fields (all of them if the hash is smaller), in random order;
/// for a negative one, every field, to pick from with repeats.
fn random_fields<'h>(hash: &'h Hash, count: i64, rng: &mut Rng) -> Vec<Field<'h>> {
    let fields: Vec<Field<'h>> = hash.iter().collect();
    if count < 0 {
        return fields;
    }
    distinct(fields, usize::try_from(count).unwrap_or(usize::MAX), rng)
}

/// HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]
fn hscan(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(cursor) = parse_cursor(args.get(2)) else {
        return ctx.error("ERR invalid cursor");
    };
    let Some(options) = ScanOptions::parse(ctx, args, 3, ScanOf::Hash) else { return };
    with_hash(ctx, args.get(1), |hash, out| {
        let mut items: Vec<&[u8]> = Vec::new();
        let next = hash.map_or(0, |hash| {
            hash.scan(cursor, options.count, |field| {
                if options.admits(field.name, "hash") {
                    items.push(field.name);
                    if !options.no_values {
                        items.push(field.value);
                    }
                }
            })
        });
        reply_scan(out, next, &items);
    });
}

// ---------------------------------------------------------------------------
// Per-field expiry
// ---------------------------------------------------------------------------

/// The field list of the expiry commands: `FIELDS numfields field ...`,
/// whose FIELDS keyword is at `at`. None after replying with the error.
fn fields_at<'a>(ctx: &mut Ctx<'_>, args: &Args<'a>, at: usize) -> Option<Vec<&'a [u8]>> {
    fields_with(ctx, args, at, NUMFIELDS_NOT_POSITIVE)
}

/// [`fields_at`] with the HEXPIRE family's text for a bad numfields.
fn fields_to_expire<'a>(ctx: &mut Ctx<'_>, args: &Args<'a>, at: usize) -> Option<Vec<&'a [u8]>> {
    fields_with(ctx, args, at, "ERR Parameter `numFields` should be greater than 0")
}

fn fields_with<'a>(ctx: &mut Ctx<'_>, args: &Args<'a>, at: usize, not_positive: &str) -> Option<Vec<&'a [u8]>> {
    if at >= args.len() || !is(args.get(at), "FIELDS") {
        ctx.error(FIELDS_MISSING);
        return None;
    }
    let count = match parse_i64(args.get(at + 1)) {
        Some(n) if n >= 1 => n,
        _ => {
            ctx.error(not_positive);
            return None;
        }
    };
    if usize::try_from(count).ok() != Some(args.len().saturating_sub(at + 2)) {
        ctx.error(NUMFIELDS_MISMATCH);
        return None;
    }
    Some(args.iter().skip(at + 2).collect())
}

/// An expiry argument as an absolute deadline in unix ms: a non-negative
/// integer in `unit`, within Redis's range for field deadlines. None after
/// replying with the error.
fn field_deadline(ctx: &mut Ctx<'_>, arg: &[u8], unit: TimeUnit, command: &str) -> Option<u64> {
    let Some(value) = parse_i64(arg) else {
        ctx.error(NOT_AN_INTEGER);
        return None;
    };
    if value < 0 {
        ctx.error("ERR invalid expire time, must be >= 0");
        return None;
    }
    match unit.to_unix_ms(value, ctx.now).filter(|&at| at <= MAX_DEADLINE_MS) {
        Some(at) => Some(at as u64),
        None => {
            ctx.error(&format!("ERR invalid expire time in '{command}' command"));
            None
        }
    }
}

/// HEXPIRE key seconds [NX | XX | GT | LT] FIELDS numfields field ...
fn hexpire(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    expire_fields(ctx, args, TimeUnit::Seconds, "hexpire");
}

/// HPEXPIRE key milliseconds [NX | XX | GT | LT] FIELDS numfields field ...
fn hpexpire(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    expire_fields(ctx, args, TimeUnit::Millis, "hpexpire");
}

/// HEXPIREAT key unix-time-seconds [NX | XX | GT | LT] FIELDS numfields field ...
fn hexpireat(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    expire_fields(ctx, args, TimeUnit::UnixSeconds, "hexpireat");
}

/// HPEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT] FIELDS numfields field ...
fn hpexpireat(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    expire_fields(ctx, args, TimeUnit::UnixMillis, "hpexpireat");
}

/// The four HEXPIRE commands. Replies with one integer per field: -2 no
/// such field, 0 condition not met, 1 deadline set, 2 field deleted (the
/// deadline is now or past). Reports, as Redis 7.4's `hashTypeSetExDone`,
/// `hdel` if any field was deleted, else `hexpire` if any deadline was set;
/// then `del` if the hash is gone.
fn expire_fields(ctx: &mut Ctx<'_>, args: &Args<'_>, unit: TimeUnit, command: &str) {
    if key_is_not_a_hash(ctx, args.get(1)) {
        return ctx.error(WRONGTYPE);
    }
    let Some(deadline) = field_deadline(ctx, args.get(2), unit, command) else { return };
    // One of NX, XX, GT, LT may come before FIELDS.
    let condition = ExpireConditions::keyword(args.get(3));
    let keyword_at = if condition.is_some() { 4 } else { 3 };
    let condition = condition.unwrap_or_default();
    let Some(fields) = fields_to_expire(ctx, args, keyword_at) else { return };
    let now = ctx.now;
    let key = args.get(1);
    let each = |hash: &mut Hash, field: &[u8], out: &mut ReplyBuffer| {
        let code = match hash.field(field) {
            None => -2,
            Some(f) if !condition.allow(f.deadline, deadline) => 0,
            Some(_) if deadline <= now => i64::from(hash.remove(field)) * 2,
            Some(_) => i64::from(hash.set_deadline(field, Some(deadline))),
        };
        out.integer(code);
        FieldChange::of_code(code)
    };
    for_each_field(ctx, key, &fields, Missing::NoField, each, |events, tally| {
        let event = if tally.deleted > 0 { HDEL } else { Event::hash("hexpire") };
        events.notify_change(event, key, tally.change());
    });
}

/// Whether `key` holds something other than a hash (Redis checks the
/// type before the other arguments of the field-expiry commands).
fn key_is_not_a_hash(ctx: &Ctx<'_>, key: &[u8]) -> bool {
    ctx.db().view(key, ctx.now, |entry| entry.is_some_and(|e| e.collection::<Hash>().is_err()))
}

/// What the per-field commands answer for each field of a missing key.
#[derive(Clone, Copy)]
enum Missing {
    /// -2, as for a missing field.
    NoField,
    /// A null value.
    Null,
}

/// What a per-field write command did to one field.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldChange {
    Unchanged,
    /// Its deadline was set or removed.
    Updated,
    /// It was deleted.
    Deleted,
}

impl FieldChange {
    /// HEXPIRE's reply code for a field (1: set, 2: deleted).
    fn of_code(code: i64) -> FieldChange {
        match code {
            1 => FieldChange::Updated,
            2 => FieldChange::Deleted,
            _ => FieldChange::Unchanged,
        }
    }
}

/// What a per-field write command did to the hash, for its events.
#[derive(Clone, Copy, Default)]
struct Tally {
    updated: usize,
    deleted: usize,
    /// The hash is gone (every field deleted).
    removed: bool,
}

impl Tally {
    fn change(self) -> Change {
        Change { changed: self.updated + self.deleted > 0, removed: self.removed }
    }
}

/// The frame of the per-field write commands (HEXPIRE, HPERSIST, HGETEX,
/// HGETDEL): under the write lock, an array with one element per field,
/// written by `each`, which says what it did to the field; then `report`
/// gets the fields changed, to report the command's events (under the
/// lock too). Nothing is reported if there is no hash.
fn for_each_field(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    fields: &[&[u8]],
    missing: Missing,
    mut each: impl FnMut(&mut Hash, &[u8], &mut ReplyBuffer) -> FieldChange,
    report: impl FnOnce(Events<'_>, Tally),
) {
    let events = ctx.events();
    let update = |hash: &mut Hash, out: &mut ReplyBuffer| {
        out.array(fields.len());
        let mut tally = Tally::default();
        for field in fields {
            match each(hash, field, out) {
                FieldChange::Updated => tally.updated += 1,
                FieldChange::Deleted => tally.deleted += 1,
                FieldChange::Unchanged => {}
            }
        }
        (tally, tally.updated + tally.deleted > 0)
    };
    let result = ctx.change_collection(key, false, update, |tally, change| {
        report(events, Tally { removed: change.removed, ..*tally })
    });
    if let Some(None) = result {
        ctx.out.array(fields.len());
        for _ in fields {
            match missing {
                Missing::NoField => ctx.out.integer(-2),
                Missing::Null => ctx.out.null(),
            }
        }
    }
}

/// HTTL key FIELDS numfields field ...
fn httl(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    field_times(ctx, args, |at, now| at.saturating_sub(now).div_ceil(1000));
}

/// HPTTL key FIELDS numfields field ...
fn hpttl(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    field_times(ctx, args, |at, now| at.saturating_sub(now));
}

/// HEXPIRETIME key FIELDS numfields field ...
fn hexpiretime(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    field_times(ctx, args, |at, _| at.div_ceil(1000));
}

/// HPEXPIRETIME key FIELDS numfields field ...
fn hpexpiretime(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    field_times(ctx, args, |at, _| at);
}

/// The four TTL commands: per field -2 (no such field, or no key), -1
/// (no deadline) or the deadline as `show` gives it.
fn field_times(ctx: &mut Ctx<'_>, args: &Args<'_>, show: fn(u64, u64) -> u64) {
    if key_is_not_a_hash(ctx, args.get(1)) {
        return ctx.error(WRONGTYPE);
    }
    let Some(fields) = fields_at(ctx, args, 2) else { return };
    let now = ctx.now;
    with_hash(ctx, args.get(1), |hash, out| {
        out.array(fields.len());
        for field in &fields {
            match hash.and_then(|h| h.field(field)) {
                None => out.integer(-2),
                Some(Field { deadline: None, .. }) => out.integer(-1),
                Some(Field { deadline: Some(at), .. }) => out.integer(i64::try_from(show(at, now)).unwrap_or(i64::MAX)),
            }
        }
    });
}

/// HPERSIST key FIELDS numfields field ...: per field -2 (no such field),
/// -1 (no deadline) or 1 (deadline removed).
fn hpersist(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if key_is_not_a_hash(ctx, args.get(1)) {
        return ctx.error(WRONGTYPE);
    }
    let Some(fields) = fields_at(ctx, args, 2) else { return };
    let key = args.get(1);
    let each = |hash: &mut Hash, field: &[u8], out: &mut ReplyBuffer| {
        let (code, changed) = match hash.field(field).map(|f| f.deadline) {
            None => (-2, false),
            Some(None) => (-1, false),
            Some(Some(_)) => (1, hash.set_deadline(field, None)),
        };
        out.integer(code);
        if changed {
            FieldChange::Updated
        } else {
            FieldChange::Unchanged
        }
    };
    for_each_field(ctx, key, &fields, Missing::NoField, each, |events, tally| {
        events.notify_change(Event::hash("hpersist"), key, tally.change());
    });
}

/// What HSETEX and HGETEX do to the deadlines of the fields they touch.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldExpiry {
    /// HSETEX without an option: the fields lose their deadlines.
    Clear,
    /// KEEPTTL (HSETEX), or no option (HGETEX).
    Keep,
    /// PERSIST (HGETEX).
    Persist,
    At(u64),
}

/// Read one of EX, PX, EXAT, PXAT at `args[i]` with its value; None if it
/// is not one of them, Some(None) after replying with an error.
fn expiry_option(ctx: &mut Ctx<'_>, args: &Args<'_>, i: usize, command: &str) -> Option<Option<u64>> {
    let unit = expiry_unit(args.get(i))?;
    if i + 1 >= args.len() {
        ctx.error("ERR missing expire time");
        return Some(None);
    }
    Some(field_deadline(ctx, args.get(i + 1), unit, command))
}

/// HSETEX key [FNX | FXX] [EX s | PX ms | EXAT t | PXAT t | KEEPTTL]
///   FIELDS numfields field value [field value ...]
/// Replies 1 when the fields were set, 0 when FNX or FXX stopped it.
fn hsetex(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let (mut only_if, mut expiry, mut i) = (None::<bool>, None, 2);
    let pairs = loop {
        if i >= args.len() {
            return ctx.error(SYNTAX_ERROR);
        }
        let arg = args.get(i);
        if is(arg, "FIELDS") {
            let Some(pairs) = hsetex_pairs(ctx, args, i) else { return };
            break pairs;
        }
        if is(arg, "FNX") || is(arg, "FXX") {
            if only_if.is_some() {
                return ctx.error("ERR Only one of FXX or FNX arguments can be specified");
            }
            only_if = Some(is(arg, "FXX"));
            i += 1;
            continue;
        }
        let keep = is(arg, "KEEPTTL");
        if !keep && expiry_unit(arg).is_none() {
            return ctx.error(&format!("ERR unknown argument: {}", String::from_utf8_lossy(arg)));
        }
        if expiry.is_some() {
            return ctx.error("ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified");
        }
        if keep {
            expiry = Some(FieldExpiry::Keep);
            i += 1;
            continue;
        }
        let Some(Some(at)) = expiry_option(ctx, args, i, "hsetex") else { return };
        expiry = Some(FieldExpiry::At(at));
        i += 2;
    };
    let expiry = expiry.unwrap_or(FieldExpiry::Clear);
    let (limits, now) = (limits(ctx), ctx.now);
    let (key, create, events) = (args.get(1), only_if != Some(true), ctx.events());
    let deadline = matches!(expiry, FieldExpiry::At(_));
    let update = |hash: &mut Hash, _: &mut ReplyBuffer| {
        let present = pairs.iter().filter(|(field, _)| hash.contains(field)).count();
        let allowed = match only_if {
            Some(true) => present == pairs.len(),
            Some(false) => present == 0,
            None => true,
        };
        if !allowed {
            return (None, false);
        }
        let mut tally = Tally::default();
        for (field, value) in &pairs {
            let deadline = match expiry {
                FieldExpiry::At(at) => Some(at),
                FieldExpiry::Keep => hash.field(field).and_then(|f| f.deadline),
                FieldExpiry::Clear | FieldExpiry::Persist => None,
            };
            if deadline.is_some_and(|at| at <= now) {
                tally.deleted += usize::from(hash.remove(field));
            } else {
                hash.insert(field, value, deadline, limits);
                tally.updated += 1;
            }
        }
        (Some(tally), true)
    };
    let report = |tally: &Option<Tally>, change: Change| {
        if let Some(tally) = tally {
            notify_hsetex(events, key, Tally { removed: change.removed, ..*tally }, deadline);
        }
    };
    let Some(result) = ctx.change_collection(key, create, update, report) else { return };
    ctx.out.integer(i64::from(result.flatten().is_some()));
}

/// HSETEX's events (a Redis 8.0 command, after its documentation): `hset`
/// for the fields set, with `hexpire` when they got a `deadline`;
/// `hexpired` for the fields a deadline already past deleted; then `del`
/// if that left the hash empty.
fn notify_hsetex(events: Events<'_>, key: &[u8], tally: Tally, deadline: bool) {
    if tally.updated > 0 {
        events.notify(HSET, key);
        if deadline {
            events.notify(Event::hash("hexpire"), key);
        }
    }
    notify_expired_fields(events, key, tally);
}

/// `hexpired` if fields were deleted by a deadline already past, then
/// `del` if the hash went with them.
fn notify_expired_fields(events: Events<'_>, key: &[u8], tally: Tally) {
    events.notify_change(Event::HEXPIRED, key, Change { changed: tally.deleted > 0, removed: tally.removed });
}

/// HSETEX's `FIELDS numfields field value ...` from `at` (the FIELDS
/// keyword). None after replying with Redis's error.
fn hsetex_pairs<'a>(ctx: &mut Ctx<'_>, args: &Args<'a>, at: usize) -> Option<Vec<(&'a [u8], &'a [u8])>> {
    if at + 3 >= args.len() {
        ctx.error(&arity_message("hsetex"));
        return None;
    }
    let Some(count) = parse_i64(args.get(at + 1)).filter(|&n| (1..=i64::from(i32::MAX)).contains(&n)) else {
        ctx.error("ERR invalid number of fields");
        return None;
    };
    let remaining = args.len() - at - 2;
    if remaining % 2 != 0 || count != (remaining / 2) as i64 {
        ctx.error(&arity_message("hsetex"));
        return None;
    }
    Some((at + 2..args.len()).step_by(2).map(|j| (args.get(j), args.get(j + 1))).collect())
}

/// HGETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST] FIELDS numfields field ...
/// Replies with the values (null for missing fields), then changes the
/// deadlines of the fields that exist. Its events (a Redis 8.0 command,
/// after its documentation): `hexpire` (or `hpersist`) for deadlines set
/// (or removed), `hexpired` for fields a deadline already past deleted,
/// then `del` if the hash went with them.
fn hgetex(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if key_is_not_a_hash(ctx, args.get(1)) {
        return ctx.error(WRONGTYPE);
    }
    let (expiry, fields_at_index) = match expiry_option(ctx, args, 2, "hgetex") {
        Some(Some(at)) => (FieldExpiry::At(at), 4),
        Some(None) => return,
        None if is(args.get(2), "PERSIST") => (FieldExpiry::Persist, 3),
        None => (FieldExpiry::Keep, 2),
    };
    let Some(fields) = fields_at(ctx, args, fields_at_index) else { return };
    let (now, key) = (ctx.now, args.get(1));
    let each = |hash: &mut Hash, field: &[u8], out: &mut ReplyBuffer| {
        let Some(value) = hash.get(field) else {
            out.null();
            return FieldChange::Unchanged;
        };
        out.bulk(value);
        let (changed, how) = match expiry {
            FieldExpiry::At(at) if at <= now => (hash.remove(field), FieldChange::Deleted),
            FieldExpiry::At(at) => (hash.set_deadline(field, Some(at)), FieldChange::Updated),
            FieldExpiry::Persist => (
                hash.field(field).is_some_and(|f| f.deadline.is_some()) && hash.set_deadline(field, None),
                FieldChange::Updated,
            ),
            FieldExpiry::Keep | FieldExpiry::Clear => (false, FieldChange::Unchanged),
        };
        if changed {
            how
        } else {
            FieldChange::Unchanged
        }
    };
    for_each_field(ctx, key, &fields, Missing::Null, each, |events, tally| {
        if tally.updated > 0 {
            let event = if expiry == FieldExpiry::Persist { "hpersist" } else { "hexpire" };
            events.notify(Event::hash(event), key);
        }
        notify_expired_fields(events, key, tally);
    });
}

/// HGETDEL key FIELDS numfields field ...: the values (null for missing
/// fields), and the fields deleted (`hdel`, then `del` if that emptied
/// the hash).
fn hgetdel(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if key_is_not_a_hash(ctx, args.get(1)) {
        return ctx.error(WRONGTYPE);
    }
    let Some(fields) = fields_at(ctx, args, 2) else { return };
    let key = args.get(1);
    let each = |hash: &mut Hash, field: &[u8], out: &mut ReplyBuffer| {
        let Some(value) = hash.get(field) else {
            out.null();
            return FieldChange::Unchanged;
        };
        out.bulk(value);
        if hash.remove(field) {
            FieldChange::Deleted
        } else {
            FieldChange::Unchanged
        }
    };
    for_each_field(ctx, key, &fields, Missing::Null, each, |events, tally| {
        events.notify_change(HDEL, key, tally.change());
    });
}
