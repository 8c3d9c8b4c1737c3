//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Between MULTI and EXEC a client's commands are checked (name, arity,
//! memory) and queued; a command that fails those checks makes EXEC answer
//! EXECABORT, as in Redis. EXEC runs the queue while holding every worker's
//! gate (see `server::Gate`), so no other client runs a command in the
//! middle of a transaction, whatever shards its keys live in. WATCH makes
//! EXEC answer a null array if a watched key changed in the meantime
//! (written, deleted, expired, evicted or flushed by anyone).

use std::ops::Range;

use super::{lookup_with_id, run_command, specs, Command, Ctx, Flags};
use crate::protocol::Args;
use crate::store::watch::WatchSet;

/// Transaction commands run at once, even inside MULTI.
const TX: Flags = Flags::NO_QUEUE.with(Flags::FAST).with(Flags::NO_SCRIPT).with(Flags::ALLOW_BUSY);

pub static COMMANDS: &[Command] = &[
    Command { name: "multi", arity: 1, flags: TX, keys: specs::NONE, group: "transaction", run: multi },
    Command {
        name: "exec",
        arity: 1,
        flags: Flags::NO_QUEUE.with(Flags::ENDS_MULTI).with(Flags::NO_SCRIPT),
        keys: specs::NONE,
        group: "transaction",
        run: exec,
    },
    Command { name: "discard", arity: 1, flags: TX, keys: specs::NONE, group: "transaction", run: discard },
    Command { name: "watch", arity: -2, flags: TX, keys: specs::RO_ALL, group: "transaction", run: watch },
    Command { name: "unwatch", arity: 1, flags: TX, keys: specs::NONE, group: "transaction", run: unwatch },
];

/// A transaction being queued.
#[derive(Debug, Default)]
pub struct Multi {
    queued: Vec<Queued>,
    /// The flags of every queued command, together (CLIENT PAUSE WRITE
    /// holds an EXEC that would write).
    flags: Flags,
    /// A queued command was rejected: EXEC must answer EXECABORT.
    failed: bool,
}

impl Multi {
    pub fn fail(&mut self) {
        self.failed = true;
    }

    /// The queued commands' flags, together.
    pub fn flags(&self) -> Flags {
        self.flags
    }

    /// The queued commands, in order (cluster mode routes them together
    /// when EXEC comes).
    pub fn commands(&self) -> impl Iterator<Item = Args<'_>> {
        self.queued.iter().map(|command| Args::new(&command.data, &command.ranges))
    }

    /// Keep a copy of a command for EXEC.
    pub fn queue(&mut self, args: &Args<'_>, flags: Flags) {
        self.flags = self.flags.with(flags);
        let mut data = Vec::new();
        let mut ranges = Vec::with_capacity(args.len());
        for arg in args.iter() {
            ranges.push(data.len()..data.len() + arg.len());
            data.extend_from_slice(arg);
        }
        self.queued.push(Queued { data, ranges });
    }
}

#[derive(Debug)]
struct Queued {
    data: Vec<u8>,
    ranges: Vec<Range<usize>>,
}

/// MULTI
fn multi(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    if ctx.session.multi.is_some() {
        return ctx.error("ERR MULTI calls can not be nested");
    }
    ctx.session.multi = Some(Multi::default());
    ctx.out.ok();
}

/// EXEC
fn exec(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    let Some(multi) = ctx.session.multi.take() else {
        return ctx.error("ERR EXEC without MULTI");
    };
    let watched = ctx.session.watch.take();
    if multi.failed {
        return ctx.error("EXECABORT Transaction discarded because of previous errors.");
    }
    if let Some(watched) = &watched {
        // Looking at a watched key that has expired reclaims it, which
        // marks the watch dirty, as Redis treats expiry as a change.
        for (db, key) in watched.keys() {
            ctx.server.store.db(db).view(key, ctx.now, |_| ());
        }
        if watched.dirty() {
            return ctx.out.null_array();
        }
    }
    ctx.out.array(multi.queued.len());
    ctx.session.in_exec = true;
    for command in &multi.queued {
        let args = Args::new(&command.data, &command.ranges);
        run_command(ctx, &args, lookup_with_id(args.get(0)));
    }
    ctx.session.in_exec = false;
}

/// DISCARD
fn discard(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    if ctx.session.multi.take().is_none() {
        return ctx.error("ERR DISCARD without MULTI");
    }
    ctx.session.watch = None;
    ctx.out.ok();
}

/// WATCH key [key ...]
fn watch(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if ctx.session.multi.is_some() {
        return ctx.error("ERR WATCH inside MULTI is not allowed");
    }
    let db = ctx.session.db;
    let watches = &ctx.server.store.watches;
    let set = ctx.session.watch.get_or_insert_with(|| WatchSet::new(std::sync::Arc::clone(watches)));
    for key in args.iter().skip(1) {
        set.add(db, key);
    }
    ctx.out.ok();
}

/// UNWATCH
fn unwatch(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    ctx.session.watch = None;
    ctx.out.ok();
}
