//! Commands over the keyspace as a whole or across keys and databases:
//! SCAN, KEYS, RANDOMKEY, RENAME, RENAMENX, COPY, MOVE, SWAPDB, OBJECT.

use super::{dispatch_subcommand, is, specs, Command, Ctx, Flags, Subcommand, NOT_AN_INTEGER, SYNTAX_ERROR};
use crate::glob;
use crate::notify::Event;
use crate::protocol::parse::parse_i64;
use crate::protocol::{Args, ReplyBuffer};
use crate::store::cursor::{Cursor, TAG_SHIFT};
use crate::store::{OwnedValue, Table};

const R: Flags = Flags::READONLY;
const W: Flags = Flags::WRITE;

pub static COMMANDS: &[Command] = &[
    Command { name: "scan", arity: -2, flags: R, keys: specs::NONE, group: "keyspace", run: scan },
    Command { name: "keys", arity: 2, flags: R, keys: specs::NONE, group: "keyspace", run: keys },
    Command { name: "randomkey", arity: 1, flags: R, keys: specs::NONE, group: "keyspace", run: randomkey },
    Command { name: "rename", arity: 3, flags: W, keys: specs::RENAME, group: "keyspace", run: rename },
    Command {
        name: "renamenx",
        arity: 3,
        flags: W.with(Flags::FAST),
        keys: specs::RENAMENX,
        group: "keyspace",
        run: renamenx,
    },
    Command { name: "copy", arity: -3, flags: W.with(Flags::DENYOOM), keys: specs::COPY, group: "keyspace", run: copy },
    Command {
        name: "move",
        arity: 3,
        flags: W.with(Flags::FAST),
        keys: specs::READ_UPDATE,
        group: "keyspace",
        run: move_key,
    },
    Command { name: "swapdb", arity: 3, flags: W.with(Flags::FAST), keys: specs::NONE, group: "keyspace", run: swapdb },
    Command {
        name: "object",
        arity: -2,
        flags: R.with(Flags::CONTAINER),
        keys: specs::NONE,
        group: "keyspace",
        run: object,
    },
];

const SAME_OBJECT: &str = "ERR source and destination objects are the same";
const DB_RANGE: &str = "ERR DB index is out of range";

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
///
/// The cursor names a shard and a bucket of its index (see
/// [`Table::scan_shard`]), so a step looks at about COUNT keys, whatever
/// the size of the shards, and every key present for the whole iteration
/// is returned at least once. COUNT is, as in Redis, a hint of how many
/// keys to look at; MATCH and TYPE filter what was looked at.
fn scan(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(cursor) = parse_cursor(args.get(1)) else {
        return ctx.error("ERR invalid cursor");
    };
    let Some(options) = ScanOptions::parse(ctx, args, 2, ScanOf::Keys) else { return };
    let db = ctx.db();
    let mut shard = (cursor >> TAG_SHIFT) as usize;
    let mut position = Cursor::from_bits(cursor);
    let mut keys = Vec::new();
    let mut examined = 0;
    let next = loop {
        if shard >= db.shard_count() {
            break 0;
        }
        let wanted = options.count.saturating_sub(examined).max(1);
        let resume = db.scan_shard(shard, position, wanted, ctx.now, |key, kind| {
            examined += 1;
            if options.admits(key, kind.name()) {
                keys.push(key.to_vec());
            }
        });
        if let Some(at) = resume {
            break join_cursor(shard, at);
        }
        (shard, position) = (shard + 1, Cursor::START);
        if examined >= options.count && shard < db.shard_count() {
            break join_cursor(shard, position);
        }
    };
    reply_scan(ctx.out, next, &keys);
}

/// The reply of the SCAN family: the next cursor, and the items.
pub(crate) fn reply_scan<T: AsRef<[u8]>>(out: &mut ReplyBuffer, next: u64, items: &[T]) {
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(items.len());
    items.iter().for_each(|item| out.bulk(item.as_ref()));
}

/// A cursor as Redis reads it: an unsigned 64-bit decimal.
pub(crate) fn parse_cursor(arg: &[u8]) -> Option<u64> {
    std::str::from_utf8(arg).ok()?.parse().ok()
}

/// A SCAN cursor: the shard in the top bits, its own cursor below.
fn join_cursor(shard: usize, at: Cursor) -> u64 {
    ((shard as u64) << TAG_SHIFT) | at.to_bits()
}

/// What a SCAN-family command iterates, for the options it takes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScanOf {
    /// SCAN: also TYPE.
    Keys,
    /// HSCAN: also NOVALUES.
    Hash,
    /// SSCAN and ZSCAN: MATCH and COUNT only.
    Members,
}

/// The options of SCAN, HSCAN, SSCAN (and later ZSCAN): MATCH, COUNT, and
/// TYPE for SCAN or NOVALUES for HSCAN.
pub(crate) struct ScanOptions<'a> {
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
    /// SCAN's TYPE filter.
    pub kind: Option<&'a [u8]>,
    /// HSCAN's NOVALUES.
    pub no_values: bool,
}

impl<'a> ScanOptions<'a> {
    /// Read the options from argument `first` on; None after replying
    /// with Redis's error.
    pub(crate) fn parse(ctx: &mut Ctx<'_>, args: &Args<'a>, first: usize, of: ScanOf) -> Option<Self> {
        let mut options = ScanOptions { pattern: None, count: 10, kind: None, no_values: false };
        let mut i = first;
        while i < args.len() {
            if of == ScanOf::Hash && is(args.get(i), "NOVALUES") {
                options.no_values = true;
                i += 1;
                continue;
            }
            if i + 1 >= args.len() {
                ctx.error(SYNTAX_ERROR);
                return None;
            }
            let value = args.get(i + 1);
            match args.get(i) {
                opt if is(opt, "MATCH") => options.pattern = Some(value),
                opt if is(opt, "COUNT") => match parse_i64(value) {
                    Some(n) if n >= 1 => options.count = usize::try_from(n).unwrap_or(usize::MAX),
                    Some(_) => {
                        ctx.error(SYNTAX_ERROR);
                        return None;
                    }
                    None => {
                        ctx.error(NOT_AN_INTEGER);
                        return None;
                    }
                },
                opt if of == ScanOf::Keys && is(opt, "TYPE") => options.kind = Some(value),
                _ => {
                    ctx.error(SYNTAX_ERROR);
                    return None;
                }
            }
            i += 2;
        }
        Some(options)
    }

    /// Whether a key (or field) of type `kind` passes MATCH and TYPE.
    pub(crate) fn admits(&self, key: &[u8], kind: &str) -> bool {
        self.kind.is_none_or(|k| is(k, kind)) && self.pattern.is_none_or(|p| glob::matches(p, key, false))
    }
}

/// KEYS pattern
fn keys(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let pattern = args.get(1);
    let db = ctx.db();
    let mut keys = Vec::new();
    for shard in 0..db.shard_count() {
        db.for_each_key(shard, ctx.now, |key| {
            if glob::matches(pattern, key, false) {
                keys.push(key.to_vec());
            }
        });
    }
    ctx.out.array(keys.len());
    keys.iter().for_each(|k| ctx.out.bulk(k));
}

/// RANDOMKEY
fn randomkey(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    let seed = crate::clock::now_us().wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ctx.session.id;
    match ctx.db().random_key(ctx.now, seed) {
        Some(key) => ctx.out.bulk(&key),
        None => ctx.out.null(),
    }
}

/// A key's value (a deep copy, for collections) and deadline.
type Snapshot = (OwnedValue, Option<u64>);

fn snapshot(db: &Table, key: &[u8], now: u64) -> Option<Snapshot> {
    db.view(key, now, |entry| entry.map(|e| (e.to_owned_value(), e.expires_at())))
}

/// Move `src` to `dst` in one database with both shards locked, so no
/// client sees the key under both names or neither. `only_if_absent` is
/// RENAMENX. Returns None if `src` does not exist, else whether it moved.
///
/// As Redis does, a `dst` that exists is deleted and created again (so a
/// `new` event), then come `rename_from` and `rename_to`.
fn rename_in(ctx: &Ctx<'_>, src: &[u8], dst: &[u8], only_if_absent: bool) -> Option<bool> {
    let (now, events) = (ctx.now, ctx.events());
    ctx.db().with_keys_locked([src, dst].into_iter(), |locked| {
        if !locked.update(src, now, |slot| slot.exists()) {
            return None;
        }
        if src == dst {
            return Some(!only_if_absent);
        }
        if only_if_absent && locked.update(dst, now, |slot| slot.exists()) {
            return Some(false);
        }
        // Taken out, not copied: a collection changes hands whole.
        let (value, deadline) = locked.update(src, now, |slot| {
            let deadline = slot.expires_at();
            (slot.take(), deadline)
        });
        let value = value?;
        locked.update(dst, now, |slot| {
            slot.remove();
            slot.put_owned(value, deadline);
        });
        events.notify(Event::generic("rename_from"), src);
        events.notify(Event::generic("rename_to"), dst);
        Some(true)
    })
}

/// RENAME key newkey
fn rename(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    match rename_in(ctx, args.get(1), args.get(2), false) {
        Some(_) => ctx.out.ok(),
        None => ctx.error("ERR no such key"),
    }
}

/// RENAMENX key newkey
fn renamenx(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    match rename_in(ctx, args.get(1), args.get(2), true) {
        Some(moved) => ctx.out.integer(i64::from(moved)),
        None => ctx.error("ERR no such key"),
    }
}

/// Redis's reply to a database number that does not fit a C int.
const DB_NOT_INT: &str = "ERR value is out of range, value must between -2147483648 and 2147483647";

/// The errors for a database index argument that is not an integer, and
/// for one that does not fit a C int.
pub(crate) struct DbIndexErrors(&'static str, &'static str);

/// SELECT, MOVE and COPY's DB option.
pub(crate) const DB_INDEX: DbIndexErrors = DbIndexErrors(NOT_AN_INTEGER, DB_NOT_INT);

/// Parse a database index argument as Redis does: an integer that fits a C
/// int and names an existing database. None after replying with the error.
pub(crate) fn db_index(ctx: &mut Ctx<'_>, arg: &[u8], errors: DbIndexErrors) -> Option<usize> {
    let Some(index) = parse_i64(arg) else {
        ctx.error(errors.0);
        return None;
    };
    if i32::try_from(index).is_err() {
        ctx.error(errors.1);
        return None;
    }
    match usize::try_from(index) {
        Ok(index) if index < ctx.server.store.databases() => Some(index),
        _ => {
            ctx.error(DB_RANGE);
            None
        }
    }
}

/// COPY source destination [DB destination-db] [REPLACE]
fn copy(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let mut target = ctx.session.db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if is(args.get(i), "REPLACE") {
            replace = true;
            i += 1;
        } else if is(args.get(i), "DB") && i + 1 < args.len() {
            let Some(index) = db_index(ctx, args.get(i + 1), DB_INDEX) else { return };
            target = index;
            i += 2;
        } else {
            return ctx.error(SYNTAX_ERROR);
        }
    }
    let (src, dst) = (args.get(1), args.get(2));
    if target == ctx.session.db && src == dst {
        return ctx.error(SAME_OBJECT);
    }
    let found = snapshot(ctx.db(), src, ctx.now);
    ctx.count_lookup(src, found.is_some());
    let Some((value, deadline)) = found else { return ctx.out.integer(0) };
    // An existing destination is deleted and created again, as in Redis
    // (a `new` event).
    let events = ctx.events_of(target);
    let copied = ctx.server.store.db(target).update(dst, ctx.now, |slot| {
        if slot.exists() && !replace {
            return false;
        }
        slot.remove();
        slot.put_owned(value, deadline);
        events.notify(Event::generic("copy_to"), dst);
        true
    });
    ctx.out.integer(i64::from(copied));
}

/// MOVE key db
fn move_key(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if ctx.server.cluster.is_some() {
        return ctx.error("ERR MOVE is not allowed in cluster mode");
    }
    let Some(target) = db_index(ctx, args.get(2), DB_INDEX) else { return };
    if target == ctx.session.db {
        return ctx.error(SAME_OBJECT);
    }
    let (key, from, to) = (args.get(1), ctx.events(), ctx.events_of(target));
    let moved = ctx.server.store.move_key(ctx.session.db, target, key, ctx.now, || {
        from.notify(Event::generic("move_from"), key);
        to.notify(Event::generic("move_to"), key);
    });
    ctx.out.integer(i64::from(moved));
}

/// SWAPDB index1 index2
fn swapdb(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    const FIRST: &str = "ERR invalid first DB index";
    const SECOND: &str = "ERR invalid second DB index";
    if ctx.server.cluster.is_some() {
        return ctx.error("ERR SWAPDB is not allowed in cluster mode");
    }
    let Some(a) = db_index(ctx, args.get(1), DbIndexErrors(FIRST, FIRST)) else { return };
    let Some(b) = db_index(ctx, args.get(2), DbIndexErrors(SECOND, SECOND)) else { return };
    if a != b {
        let store = &ctx.server.store;
        store.db(a).swap_with(store.db(b));
    }
    ctx.out.ok();
}

const OBJECT_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "encoding", arity: 3, run: object_encoding },
    Subcommand { name: "freq", arity: 3, run: object_freq },
    Subcommand { name: "idletime", arity: 3, run: object_idletime },
    Subcommand { name: "refcount", arity: 3, run: object_refcount },
    Subcommand { name: "help", arity: 2, run: object_help },
];

/// OBJECT ENCODING | FREQ | IDLETIME | REFCOUNT key, OBJECT HELP
fn object(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    dispatch_subcommand(ctx, args, "object", OBJECT_SUBCOMMANDS);
}

/// Look at a key for OBJECT, without counting an access (as Redis looks
/// with `LOOKUP_NOTOUCH`); None (after a null reply) if it does not exist.
fn object_of<R>(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(&crate::store::EntryRef<'_>) -> R) -> Option<R> {
    let result = ctx.db().peek(key, ctx.now, |entry| entry.map(|e| f(&e)));
    if result.is_none() {
        ctx.out.null();
    }
    result
}

/// The encoding Redis would use: for a string `int`, `embstr` (up to 44
/// bytes) or `raw` (Redistill stores every string the same way; clients
/// and tools only read this to understand sizes); for a collection, the
/// encoding it really has.
fn object_encoding(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let encoding = object_of(ctx, args.get(2), |e| {
        let Ok(value) = e.string() else {
            return e.object().map_or("raw", crate::store::Object::encoding);
        };
        if value.len() <= 20 && parse_i64(value).is_some() {
            "int"
        } else if value.len() <= 44 {
            "embstr"
        } else {
            "raw"
        }
    });
    if let Some(encoding) = encoding {
        ctx.out.bulk(encoding.as_bytes());
    }
}

/// OBJECT FREQ: the key's logarithmic access counter, as Redis's LFU
/// counter (see `store/access.rs`). Redistill keeps it under every
/// policy, so it answers where Redis, outside LFU, would refuse.
fn object_freq(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let now = ctx.now;
    if let Some(freq) = object_of(ctx, args.get(2), |e| e.access_counter(now)) {
        ctx.out.integer(i64::from(freq));
    }
}

/// OBJECT IDLETIME: seconds since the key was last read or written. Kept
/// under every policy: Redistill's default policy is LFU, under which
/// Redis would refuse, but Redis's default (noeviction) answers.
fn object_idletime(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let now = ctx.now;
    if let Some(idle) = object_of(ctx, args.get(2), |e| e.idle_secs(now)) {
        ctx.out.integer(i64::try_from(idle).unwrap_or(i64::MAX));
    }
}

/// OBJECT REFCOUNT: values are never shared between keys.
fn object_refcount(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if object_of(ctx, args.get(2), |_| ()).is_some() {
        ctx.out.integer(1);
    }
}

fn object_help(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    let lines = [
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Print this help.",
    ];
    ctx.help(&lines);
}
