//! Server and connection administration: TIME, LASTSAVE, WAIT, the
//! persistence commands a cache refuses (SAVE, BGSAVE, BGREWRITEAOF),
//! FUNCTION and SCRIPT (only FLUSH, which has nothing to flush), MEMORY
//! (USAGE), RESET and SHUTDOWN.

use std::sync::OnceLock;

use super::{dispatch_subcommand, is, specs, Command, Ctx, Flags, Subcommand, SYNTAX_ERROR};
use crate::protocol::parse::parse_i64;
use crate::protocol::reply::format_i64;
use crate::protocol::{Args, Protocol};

const FAST_NO_AUTH: Flags = Flags::FAST.with(Flags::NO_AUTH);

/// SAVE and SHUTDOWN are refused inside MULTI, as in Redis: queued, they
/// would act only at EXEC.
const ADMIN_NO_MULTI: Flags = Flags::ADMIN.with(Flags::NO_MULTI);

pub static COMMANDS: &[Command] = &[
    Command { name: "time", arity: 1, flags: Flags::FAST, keys: specs::NONE, group: "server", run: time },
    Command { name: "lastsave", arity: 1, flags: Flags::FAST, keys: specs::NONE, group: "server", run: lastsave },
    Command { name: "wait", arity: 3, flags: Flags::NONE, keys: specs::NONE, group: "connection", run: wait },
    Command {
        name: "save",
        arity: 1,
        flags: ADMIN_NO_MULTI.with(Flags::NO_SCRIPT),
        keys: specs::NONE,
        group: "server",
        run: save,
    },
    Command {
        name: "bgsave",
        arity: -1,
        flags: Flags::ADMIN.with(Flags::NO_SCRIPT),
        keys: specs::NONE,
        group: "server",
        run: bgsave,
    },
    Command {
        name: "bgrewriteaof",
        arity: 1,
        flags: Flags::ADMIN,
        keys: specs::NONE,
        group: "server",
        run: bgrewriteaof,
    },
    Command {
        name: "shutdown",
        arity: -1,
        flags: ADMIN_NO_MULTI.with(Flags::NO_SCRIPT).with(Flags::ALLOW_BUSY),
        keys: specs::NONE,
        group: "server",
        run: shutdown,
    },
    Command { name: "memory", arity: -2, flags: Flags::CONTAINER, keys: specs::NONE, group: "server", run: memory },
    Command {
        name: "reset",
        arity: 1,
        flags: FAST_NO_AUTH
            .with(Flags::NO_QUEUE)
            .with(Flags::NO_SCRIPT)
            .with(Flags::ALLOW_BUSY)
            .with(Flags::SUBSCRIBED_CONTEXT),
        keys: specs::NONE,
        group: "connection",
        run: reset,
    },
];

/// TIME: [unix seconds, microseconds], both as bulk strings.
fn time(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    let now = crate::clock::now_us();
    let mut digits = [0u8; 20];
    ctx.out.array(2);
    ctx.out.bulk(format_i64((now / 1_000_000) as i64, &mut digits));
    ctx.out.bulk(format_i64((now % 1_000_000) as i64, &mut digits));
}

/// LASTSAVE: the server's start time, as a Redis that never saved answers.
fn lastsave(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    // Unix seconds, worked out once: recomputing it from two clocks could flip by a
    // second between calls, and clients compare LASTSAVE values.
    static STARTED: OnceLock<i64> = OnceLock::new();
    let started = STARTED.get_or_init(|| {
        let uptime = ctx.server.started.elapsed().as_micros() as u64;
        (crate::clock::now_us().saturating_sub(uptime) / 1_000_000) as i64
    });
    ctx.out.integer(*started);
}

/// WAIT numreplicas timeout: 0 at once, as there are no replicas.
fn wait(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    // Redis would block until the timeout when numreplicas > 0. The
    // arguments are checked as in Redis 7.2.
    if ctx.integer_arg(args, 1).is_none() {
        return;
    }
    match parse_i64(args.get(2)) {
        None => ctx.error("ERR timeout is not an integer or out of range"),
        Some(timeout) if timeout < 0 => ctx.error("ERR timeout is negative"),
        Some(timeout) if timeout > i64::MAX - ctx.now as i64 => ctx.error("ERR timeout is out of range"),
        Some(_) => ctx.out.integer(0),
    }
}

/// The reply of the commands that would write the dataset to disk.
fn refuse_persistence(ctx: &mut Ctx<'_>, command: &str) {
    ctx.error(&format!("ERR Redistill is a cache and does not persist data; {command} is not supported"));
}

/// SAVE
fn save(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    refuse_persistence(ctx, "SAVE");
}

/// BGSAVE [SCHEDULE]
fn bgsave(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    match args.len() {
        1 => refuse_persistence(ctx, "BGSAVE"),
        2 if is(args.get(1), "SCHEDULE") => refuse_persistence(ctx, "BGSAVE"),
        _ => ctx.error(SYNTAX_ERROR),
    }
}

/// BGREWRITEAOF
fn bgrewriteaof(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    refuse_persistence(ctx, "BGREWRITEAOF");
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]: begin the same graceful
/// shutdown as SIGTERM. Nothing is saved either way, so NOSAVE, NOW and
/// FORCE change nothing; SAVE is refused rather than silently ignored, and
/// ABORT has no shutdown to abort (one that began cannot be called off).
/// On success the connection is closed without a reply, as Redis does.
fn shutdown(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let (mut save, mut nosave, mut abort) = (false, false, false);
    for arg in args.iter().skip(1) {
        match () {
            _ if is(arg, "SAVE") => save = true,
            _ if is(arg, "NOSAVE") => nosave = true,
            _ if is(arg, "ABORT") => abort = true,
            _ if is(arg, "NOW") || is(arg, "FORCE") => {}
            _ => return ctx.error(SYNTAX_ERROR),
        }
    }
    if (save && nosave) || (abort && args.len() > 2) {
        return ctx.error(SYNTAX_ERROR);
    }
    if abort {
        return ctx.error("ERR No shutdown in progress.");
    }
    if save {
        return ctx.error("ERR Redistill does not persist data; SHUTDOWN SAVE is not supported");
    }
    crate::log_warn!("SHUTDOWN requested by client {}, shutting down", ctx.session.id);
    ctx.server.begin_shutdown();
    ctx.session.close_after_reply = true;
}

/// A HELP reply as Redis formats it: a header naming the command, the
/// subcommands' lines, then HELP itself.
pub(super) fn reply_help(ctx: &mut Ctx<'_>, command: &str, lines: &[&str]) {
    let header = format!("{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    let mut all = vec![header.as_str()];
    all.extend_from_slice(lines);
    all.extend(["HELP", "    Prints this help."]);
    ctx.help(&all);
}

/// Is this FLUSH's optional mode argument?
pub(super) fn is_flush_mode(arg: &[u8]) -> bool {
    is(arg, "ASYNC") || is(arg, "SYNC")
}

const MEMORY_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "usage", arity: -3, run: memory_usage },
    Subcommand {
        name: "help",
        arity: 2,
        run: |ctx, _| {
            reply_help(
                ctx,
                "MEMORY",
                &[
                    "USAGE <key> [SAMPLES <count>]",
                    "    Return an estimate of the memory in bytes used by <key> and its value.",
                    "    SAMPLES is accepted for compatibility; string values need no sampling.",
                ],
            )
        },
    },
];

/// MEMORY subcommand [arguments]
fn memory(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    dispatch_subcommand(ctx, args, "memory", MEMORY_SUBCOMMANDS);
}

/// A fixed allowance for what an entry costs beyond its key and value
/// bytes (the store's record header and index slot); a deadline adds
/// [`DEADLINE_BYTES`]. An estimate, as the command's name allows.
const ENTRY_OVERHEAD: usize = 16;
const DEADLINE_BYTES: usize = 8;

/// MEMORY USAGE key [SAMPLES count]: key + value + per-entry overhead, or null.
fn memory_usage(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    // The options are checked before the key is looked up, as in Redis.
    let mut i = 3;
    while i < args.len() {
        if !is(args.get(i), "SAMPLES") || i + 1 == args.len() {
            return ctx.error(SYNTAX_ERROR);
        }
        let Some(samples) = ctx.integer_arg(args, i + 1) else { return };
        if samples < 0 {
            return ctx.error(SYNTAX_ERROR);
        }
        i += 2;
    }
    let key = args.get(2);
    let usage = ctx.db().view(key, ctx.now, |entry| {
        entry.map(|e| {
            let deadline = if e.expires_at().is_some() { DEADLINE_BYTES } else { 0 };
            let string = e.string().map_or(0, <[u8]>::len);
            key.len() + string + e.object().map_or(0, crate::store::Object::memory) + ENTRY_OVERHEAD + deadline
        })
    });
    match usage {
        Some(bytes) => ctx.out.integer(bytes as i64),
        None => ctx.out.null(),
    }
}

/// RESET: back to RESP2, database 0, no name, unauthenticated if a password
/// is set, no subscriptions, tracking off.
fn reset(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    // The client library's name and version stay, as in Redis 7.2.
    ctx.out.protocol = Protocol::Resp2;
    ctx.session.select(0);
    ctx.session.client.names().name = None;
    ctx.session.client.set_resp(2);
    ctx.session.authenticated = !ctx.server.requires_auth();
    ctx.session.multi = None;
    ctx.session.watch = None;
    super::connection::leave_pubsub(ctx);
    ctx.server.tracking.disable(&ctx.session.client);
    ctx.out.simple("RESET");
}
