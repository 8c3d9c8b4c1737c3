//! Server commands: DBSIZE, FLUSHDB, FLUSHALL and COMMAND (the command
//! table's self-description, which redis-cli and client libraries read).

use super::{dispatch_subcommand, is, Command, Ctx, Flags, KeySpec, Subcommand, SYNTAX_ERROR};
use crate::protocol::{Args, ReplyBuffer};

pub static COMMANDS: &[Command] = &[
    Command {
        name: "dbsize",
        arity: 1,
        flags: Flags::READONLY.with(Flags::FAST),
        keys: KeySpec::NONE,
        group: "keyspace",
        run: dbsize,
    },
    Command { name: "flushdb", arity: -1, flags: Flags::WRITE, keys: KeySpec::NONE, group: "keyspace", run: flushdb },
    Command { name: "flushall", arity: -1, flags: Flags::WRITE, keys: KeySpec::NONE, group: "keyspace", run: flushall },
    Command { name: "command", arity: -1, flags: Flags::NONE, keys: KeySpec::NONE, group: "connection", run: command },
    Command { name: "slowlog", arity: -2, flags: Flags::ADMIN, keys: KeySpec::NONE, group: "server", run: slowlog },
];

/// DBSIZE
fn dbsize(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    let keys = ctx.db().len();
    ctx.out.integer(keys as i64);
}

/// FLUSHDB / FLUSHALL accept `ASYNC` or `SYNC`; both free synchronously
/// here, shard by shard, without blocking other shards.
/// The flush mode: Some(true) for ASYNC (free in the background),
/// Some(false) for SYNC or none; None (after a syntax error) otherwise.
fn flush_mode(ctx: &mut Ctx<'_>, args: &Args<'_>) -> Option<bool> {
    let lazy = match args.len() {
        1 => Some(false),
        2 if is(args.get(1), "ASYNC") => Some(true),
        2 if is(args.get(1), "SYNC") => Some(false),
        _ => None,
    };
    if lazy.is_none() {
        ctx.error(SYNTAX_ERROR);
    }
    lazy
}

/// FLUSHDB [ASYNC | SYNC]
fn flushdb(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if let Some(lazy) = flush_mode(ctx, args) {
        ctx.db().clear(lazy);
        ctx.out.ok();
    }
}

/// FLUSHALL [ASYNC | SYNC]
fn flushall(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if let Some(lazy) = flush_mode(ctx, args) {
        ctx.server.store.flush_all(lazy);
        ctx.out.ok();
    }
}

const COMMAND_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "count", arity: 2, run: |ctx, _| ctx.out.integer(super::all().count() as i64) },
    Subcommand { name: "list", arity: -2, run: command_list },
    Subcommand { name: "info", arity: -2, run: command_info_named },
    Subcommand { name: "docs", arity: -2, run: command_docs },
    Subcommand { name: "getkeys", arity: -3, run: command_getkeys },
];

/// COMMAND [COUNT | LIST | INFO [name ...] | DOCS [name ...]]
fn command(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if args.len() == 1 {
        return all_command_info(ctx);
    }
    dispatch_subcommand(ctx, args, "command", COMMAND_SUBCOMMANDS);
}

/// COMMAND LIST
fn command_list(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    ctx.out.array(super::all().count());
    super::all().for_each(|c| ctx.out.bulk(c.name.as_bytes()));
}

/// COMMAND INFO [name ...]: unknown names get a null.
fn command_info_named(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if args.len() == 2 {
        return all_command_info(ctx);
    }
    ctx.out.array(args.len() - 2);
    for name in args.iter().skip(2) {
        match super::lookup(name) {
            Some(c) => command_info(ctx, c),
            None => ctx.out.null(),
        }
    }
}

fn all_command_info(ctx: &mut Ctx<'_>) {
    ctx.out.array(super::all().count());
    super::all().for_each(|c| command_info(ctx, c));
}

/// One command's entry in COMMAND / COMMAND INFO: name, arity, flags, first
/// key, last key, key step, ACL categories, tips, key specs, subcommands.
fn command_info(ctx: &mut Ctx<'_>, c: &Command) {
    let out = &mut *ctx.out;
    out.array(10);
    out.bulk(c.name.as_bytes());
    out.integer(i64::from(c.arity));
    let flags: Vec<_> = c.flags.names().collect();
    out.set(flags.len());
    flags.into_iter().for_each(|f| out.simple(f));
    out.integer(i64::from(c.keys.first));
    out.integer(i64::from(c.keys.last));
    out.integer(i64::from(c.keys.step));
    out.set(1);
    out.simple(&format!("@{}", c.group));
    out.array(0);
    key_specs(out, c);
    out.array(0);
}

/// Redis 7's key specifications, derived from the (first, last, step)
/// triple: where the keys begin (an index) and how far they run (a range,
/// `lastkey` relative to the first key, or -1 for "to the end").
fn key_specs(out: &mut ReplyBuffer, c: &Command) {
    if c.keys.first == 0 {
        return out.array(0);
    }
    let access: &[&str] = if c.flags.contains(Flags::WRITE) { &["RW", "update"] } else { &["RO", "access"] };
    let last_key = if c.keys.last < 0 { i64::from(c.keys.last) } else { i64::from(c.keys.last - c.keys.first) };
    out.array(1);
    out.map(3);
    out.bulk(b"flags");
    out.set(access.len());
    access.iter().for_each(|f| out.simple(f));
    out.bulk(b"begin_search");
    search_spec(out, "index", &[("index", i64::from(c.keys.first))]);
    out.bulk(b"find_keys");
    search_spec(out, "range", &[("lastkey", last_key), ("keystep", i64::from(c.keys.step)), ("limit", 0)]);
}

/// One part of a key spec: `{type: <kind>, spec: {<name>: <value>, ...}}`.
fn search_spec(out: &mut ReplyBuffer, kind: &str, fields: &[(&str, i64)]) {
    out.map(2);
    out.bulk(b"type");
    out.bulk(kind.as_bytes());
    out.bulk(b"spec");
    out.map(fields.len());
    for (name, value) in fields {
        out.bulk(name.as_bytes());
        out.integer(*value);
    }
}

/// COMMAND DOCS [name ...]: a map from name to a short doc map. redis-cli
/// reads this at start-up for its hints.
fn command_docs(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let wanted: Vec<&'static Command> =
        if args.len() == 2 { super::all().collect() } else { args.iter().skip(2).filter_map(super::lookup).collect() };
    let out = &mut *ctx.out;
    out.map(wanted.len());
    for c in wanted {
        out.bulk(c.name.as_bytes());
        out.map(2);
        out.bulk(b"summary");
        out.bulk(c.name.as_bytes());
        out.bulk(b"group");
        out.bulk(c.group.as_bytes());
    }
}

/// COMMAND GETKEYS command [arg ...]: which arguments are keys.
fn command_getkeys(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(command) = super::lookup(args.get(2)) else {
        return ctx.error("ERR Invalid command specified");
    };
    let argc = args.len() - 2;
    if !super::accepts(command.arity, argc) {
        return ctx.error("ERR Invalid number of arguments specified for command");
    }
    let spec = command.keys;
    if spec.first == 0 {
        return ctx.error("ERR The command has no key arguments");
    }
    let last = if spec.last < 0 { argc as i32 + spec.last } else { spec.last };
    let positions: Vec<usize> = (spec.first..=last).step_by(spec.step.max(1) as usize).map(|p| p as usize).collect();
    ctx.out.array(positions.len());
    for position in positions {
        ctx.out.bulk(args.get(2 + position));
    }
}

const SLOWLOG_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "get", arity: -2, run: slowlog_get },
    Subcommand { name: "len", arity: 2, run: |ctx, _| ctx.out.integer(ctx.server.slowlog.len() as i64) },
    Subcommand { name: "reset", arity: 2, run: slowlog_reset },
    Subcommand { name: "help", arity: 2, run: slowlog_help },
];

/// SLOWLOG GET [count] | LEN | RESET | HELP
fn slowlog(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    dispatch_subcommand(ctx, args, "slowlog", SLOWLOG_SUBCOMMANDS);
}

/// SLOWLOG GET [count]: newest first; -1 for all, 10 by default.
fn slowlog_get(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if args.len() > 3 {
        return ctx.error(&super::arity_message("slowlog|get"));
    }
    let count = if args.len() == 3 {
        match crate::protocol::parse::parse_i64(args.get(2)) {
            Some(-1) => usize::MAX,
            Some(n) if n >= 0 => n as usize,
            _ => return ctx.error("ERR count should be greater than or equal to -1"),
        }
    } else {
        10
    };
    let out = &mut *ctx.out;
    ctx.server.slowlog.newest(count, |entries| {
        let entries: Vec<_> = entries.collect();
        out.array(entries.len());
        for entry in entries {
            out.array(6);
            out.integer(entry.id as i64);
            out.integer(entry.unix_seconds as i64);
            out.integer(entry.micros as i64);
            out.array(entry.args.len());
            entry.args.iter().for_each(|arg| out.bulk(arg));
            out.bulk(entry.client_addr.as_bytes());
            out.bulk(entry.client_name.as_bytes());
        }
    });
}

/// SLOWLOG RESET
fn slowlog_reset(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    ctx.server.slowlog.reset();
    ctx.out.ok();
}

fn slowlog_help(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    let lines = [
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Print this help.",
    ];
    ctx.help(&lines);
}
