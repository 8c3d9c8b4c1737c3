//! DUMP and RESTORE: a key's value as a payload and back (the format is
//! Redistill's own, see `store/serialize.rs`; the command surface and
//! errors are Redis 7's).

use super::{is, specs, Command, Ctx, Flags, NOT_AN_INTEGER, SYNTAX_ERROR};
use crate::notify::Event;
use crate::protocol::parse::parse_i64;
use crate::protocol::Args;
use crate::store::access;
use crate::store::serialize::{self, DecodeError, Limits};

pub static COMMANDS: &[Command] = &[
    Command { name: "dump", arity: 2, flags: Flags::READONLY, keys: specs::READ, group: "keyspace", run: dump },
    Command {
        name: "restore",
        arity: -4,
        flags: Flags::WRITE.with(Flags::DENYOOM),
        keys: specs::OVERWRITE,
        group: "keyspace",
        run: restore,
    },
];

const BUSYKEY: &str = "BUSYKEY Target key name already exists.";
const BAD_TTL: &str = "ERR Invalid TTL value, must be >= 0";
const BAD_IDLETIME: &str = "ERR Invalid IDLETIME value, must be >= 0";
const BAD_FREQ: &str = "ERR Invalid FREQ value, must be >= 0 and <= 255";
const BAD_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
const BAD_DATA: &str = "ERR Bad data format";

/// DUMP key
fn dump(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    ctx.read_key(args.get(1), |entry, out| {
        match entry {
            Some(entry) => out.bulk(&serialize::dump(entry)),
            None => out.null(),
        }
        Ok(())
    });
}

/// RESTORE's options after the payload.
#[derive(Default)]
struct RestoreOptions {
    replace: bool,
    absttl: bool,
    idle: Option<u64>,
    freq: Option<u8>,
}

impl RestoreOptions {
    /// Parse as Redis does: IDLETIME and FREQ exclude each other (the
    /// second is a syntax error). None after replying with the error.
    fn parse(ctx: &mut Ctx<'_>, args: &Args<'_>) -> Option<Self> {
        let mut options = RestoreOptions::default();
        let mut i = 4;
        while i < args.len() {
            let (arg, has_value) = (args.get(i), i + 1 < args.len());
            if is(arg, "REPLACE") {
                options.replace = true;
            } else if is(arg, "ABSTTL") {
                options.absttl = true;
            } else if is(arg, "IDLETIME") && has_value && options.freq.is_none() {
                let idle = ctx.integer_arg(args, i + 1)?;
                options.idle = Some(u64::try_from(idle).ok().or_else(|| error(ctx, BAD_IDLETIME))?);
                i += 1;
            } else if is(arg, "FREQ") && has_value && options.idle.is_none() {
                let freq = ctx.integer_arg(args, i + 1)?;
                options.freq = Some(u8::try_from(freq).ok().or_else(|| error(ctx, BAD_FREQ))?);
                i += 1;
            } else {
                return error(ctx, SYNTAX_ERROR);
            }
            i += 1;
        }
        Some(options)
    }
}

/// Reply with `msg`; None, for `?`.
fn error<T>(ctx: &mut Ctx<'_>, msg: &str) -> Option<T> {
    ctx.error(msg);
    None
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds]
/// [FREQ frequency]
///
/// Checks come in Redis's order: options, BUSYKEY, the TTL, the payload.
/// A deadline already past (only ABSTTL can give one), or a hash whose
/// every field has expired, stores nothing and replies OK, deleting the
/// old key under REPLACE (a `del` event), as Redis does for the former.
/// Else the key is created anew, the old one deleted first (a `new`
/// event), then `restore`.
fn restore(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(options) = RestoreOptions::parse(ctx, args) else { return };
    let (key, now) = (args.get(1), ctx.now);
    if !options.replace && ctx.db().view(key, now, |entry| entry.is_some()) {
        return ctx.error(BUSYKEY);
    }
    let Some(ttl) = parse_i64(args.get(2)) else { return ctx.error(NOT_AN_INTEGER) };
    let Ok(ttl) = u64::try_from(ttl) else { return ctx.error(BAD_TTL) };
    let limits = Limits {
        max_string: ctx.server.config.server.proto_max_bulk_len,
        pack: ctx.server.live.hash_pack_limits(),
        set: ctx.server.live.set_limits(),
        zset: ctx.server.live.zset_pack_limits(),
        list: ctx.server.live.list_fill(),
    };
    let value = match serialize::restore(args.get(3), now, limits) {
        Ok(value) => value,
        Err(DecodeError::Trailer) => return ctx.error(BAD_PAYLOAD),
        Err(DecodeError::Body) => return ctx.error(BAD_DATA),
    };
    let deadline = match ttl {
        0 => None,
        at if options.absttl => Some(at),
        relative => Some(now.saturating_add(relative)),
    };
    let value = value.filter(|_| deadline.is_none_or(|at| at > now));
    let access = access::restored(now, options.idle, options.freq);
    let events = ctx.events();
    let stored = ctx.db().update(key, now, |slot| {
        if slot.exists() && !options.replace {
            return false;
        }
        let removed = slot.remove();
        let event = match value {
            Some(value) => {
                slot.put_owned(value, deadline);
                slot.set_access(access);
                Some(Event::generic("restore"))
            }
            None => removed.then_some(Event::DEL),
        };
        // Reported under the key's lock: before a client blocked on it
        // can take what was restored.
        if let Some(event) = event {
            events.notify(event, key);
        }
        true
    });
    if stored {
        ctx.out.ok();
    } else {
        ctx.error(BUSYKEY);
    }
}
