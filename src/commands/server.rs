//! Server commands: DBSIZE, FLUSHDB, FLUSHALL and COMMAND (the command
//! table's self-description, which redis-cli and client libraries read).

use super::{dispatch_subcommand, is, Command, Ctx, Flags, KeySpec, Subcommand, SYNTAX_ERROR};
use crate::protocol::Args;

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
];

/// DBSIZE
fn dbsize(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    let keys = ctx.db().len();
    ctx.out.integer(keys as i64);
}

/// FLUSHDB / FLUSHALL accept `ASYNC` or `SYNC`; both free synchronously
/// here, shard by shard, without blocking other shards.
fn flush_mode_ok(ctx: &mut Ctx<'_>, args: &Args<'_>) -> bool {
    let ok = match args.len() {
        1 => true,
        2 => is(args.get(1), "ASYNC") || is(args.get(1), "SYNC"),
        _ => false,
    };
    if !ok {
        ctx.error(SYNTAX_ERROR);
    }
    ok
}

/// FLUSHDB [ASYNC | SYNC]
fn flushdb(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if flush_mode_ok(ctx, args) {
        ctx.db().clear();
        ctx.out.ok();
    }
}

/// FLUSHALL [ASYNC | SYNC]
fn flushall(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if flush_mode_ok(ctx, args) {
        ctx.server.store.flush_all();
        ctx.out.ok();
    }
}

const COMMAND_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "count", arity: 2, run: |ctx, _| ctx.out.integer(super::all().count() as i64) },
    Subcommand { name: "list", arity: -2, run: command_list },
    Subcommand { name: "info", arity: -2, run: command_info_named },
    Subcommand { name: "docs", arity: -2, run: command_docs },
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
    out.array(0);
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
