//! Server commands: DBSIZE, FLUSHDB, FLUSHALL and COMMAND (the command
//! table's self-description, which redis-cli and client libraries read).

use super::{dispatch_subcommand, is, keyspec, specs, Command, Ctx, Flags, KeySpec, Subcommand, SYNTAX_ERROR};
use crate::protocol::Args;

pub static COMMANDS: &[Command] = &[
    Command {
        name: "dbsize",
        arity: 1,
        flags: Flags::READONLY.with(Flags::FAST),
        keys: specs::NONE,
        group: "keyspace",
        run: dbsize,
    },
    Command { name: "flushdb", arity: -1, flags: Flags::WRITE, keys: specs::NONE, group: "keyspace", run: flushdb },
    Command { name: "flushall", arity: -1, flags: Flags::WRITE, keys: specs::NONE, group: "keyspace", run: flushall },
    Command {
        name: "command",
        arity: -1,
        flags: Flags::CONTAINER,
        keys: specs::NONE,
        group: "connection",
        run: command,
    },
    Command {
        name: "slowlog",
        arity: -2,
        flags: Flags::ADMIN.with(Flags::CONTAINER),
        keys: specs::NONE,
        group: "server",
        run: slowlog,
    },
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
    Subcommand { name: "getkeys", arity: -3, run: |ctx, args| command_getkeys(ctx, args, false) },
    Subcommand { name: "getkeysandflags", arity: -3, run: |ctx, args| command_getkeys(ctx, args, true) },
    Subcommand { name: "help", arity: 2, run: command_help },
];

/// COMMAND [COUNT | LIST | INFO [name ...] | DOCS [name ...] | GETKEYS ... | GETKEYSANDFLAGS ...]
fn command(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if args.len() == 1 {
        return all_command_info(ctx);
    }
    dispatch_subcommand(ctx, args, "command", COMMAND_SUBCOMMANDS);
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]
fn command_list(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let filter: Box<dyn Fn(&Command) -> bool> = match args.len() {
        2 => Box::new(|_| true),
        5 if is(args.get(2), "FILTERBY") => {
            let value = args.get(4);
            match args.get(3) {
                // No modules are loaded, so no command comes from one.
                kind if is(kind, "MODULE") => Box::new(|_| false),
                kind if is(kind, "ACLCAT") => Box::new(move |c| acl_categories(c).any(|cat| is(value, cat))),
                kind if is(kind, "PATTERN") => Box::new(move |c| crate::glob::matches(value, c.name.as_bytes(), true)),
                _ => return ctx.error(SYNTAX_ERROR),
            }
        }
        _ => return ctx.error(SYNTAX_ERROR),
    };
    let names: Vec<&str> = super::all().filter(|c| filter(c)).map(|c| c.name).collect();
    ctx.out.array(names.len());
    names.iter().for_each(|name| ctx.out.bulk(name.as_bytes()));
}

/// The ACL categories Redistill's commands can have, in the order Redis
/// lists them.
const ACL_CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// A command's ACL categories: its family, and those its flags imply
/// (`read`, `write`, `admin` and `dangerous`, `fast` or else `slow`), as
/// Redis's `setImplicitACLCategories` adds them.
fn acl_categories(c: &Command) -> impl Iterator<Item = &'static str> + '_ {
    ACL_CATEGORIES.iter().copied().filter(move |&category| match category {
        "read" => c.flags.contains(Flags::READONLY),
        "write" => c.flags.contains(Flags::WRITE),
        "admin" => c.flags.contains(Flags::ADMIN),
        "dangerous" => c.flags.contains(Flags::ADMIN) || more_categories(c).contains(&category),
        "fast" => c.flags.contains(Flags::FAST),
        "slow" => !c.flags.contains(Flags::FAST),
        "blocking" => c.flags.contains(Flags::BLOCKING),
        family => c.group == family || more_categories(c).contains(&family),
    })
}

/// The categories Redis gives a command beyond its family and flags: SORT
/// and SORT_RO (of the `generic` family, which is no category) read every
/// collection type, and may cost much.
fn more_categories(c: &Command) -> &'static [&'static str] {
    match c.name {
        "sort" | "sort_ro" => &["set", "sortedset", "list", "dangerous"],
        _ => &[],
    }
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
    let ((first, last, step), movable) = keyspec::legacy_range(c.keys);
    out.array(10);
    out.bulk(c.name.as_bytes());
    out.integer(i64::from(c.arity));
    let mut flags: Vec<_> = c.flags.names().collect();
    if movable {
        flags.push("movablekeys");
    }
    out.set(flags.len());
    flags.into_iter().for_each(|f| out.simple(f));
    out.integer(i64::from(first));
    out.integer(i64::from(last));
    out.integer(i64::from(step));
    let categories: Vec<_> = acl_categories(c).collect();
    out.set(categories.len());
    categories.iter().for_each(|cat| out.simple(&format!("@{cat}")));
    out.array(0);
    out.array(c.keys.len());
    c.keys.iter().for_each(|spec| spec.reply(out));
    out.array(0);
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

/// The key specs of the command line `line` (a container command's come
/// from its subcommand), or None if it names no command.
fn specs_of(line: &[&[u8]]) -> Option<(&'static Command, &'static [KeySpec])> {
    let command = super::lookup(line.first()?)?;
    Some((command, keyspec::specs_for(command, line.get(1).copied())))
}

/// COMMAND GETKEYS / GETKEYSANDFLAGS command [arg ...]: which arguments
/// are keys (and, `with_flags`, what the command does to each), found by
/// the command's key specs, with Redis's errors in Redis's order.
fn command_getkeys(ctx: &mut Ctx<'_>, args: &Args<'_>, with_flags: bool) {
    let line: Vec<&[u8]> = args.iter().skip(2).collect();
    let Some((command, specs)) = specs_of(&line) else {
        return ctx.error("ERR Invalid command specified");
    };
    if !keyspec::has_keys(specs) {
        return ctx.error("ERR The command has no key arguments");
    }
    if !super::accepts(command.arity, line.len()) {
        return ctx.error("ERR Invalid number of arguments specified for command");
    }
    let keys = keyspec::find_keys(specs, &line).filter(|keys| !keys.is_empty());
    let Some(keys) = keys else {
        if command.flags.contains(Flags::NO_MANDATORY_KEYS) {
            return ctx.out.array(0);
        }
        return ctx.error("ERR Invalid arguments specified for command");
    };
    let out = &mut *ctx.out;
    out.array(keys.len());
    for (position, flags) in keys {
        if with_flags {
            out.array(2);
            out.bulk(line[position]);
            flags.reply(out);
        } else {
            out.bulk(line[position]);
        }
    }
}

fn command_help(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    let lines = [
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Print this help.",
    ];
    ctx.help(&lines);
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
