//! Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (FCALL
//! and FUNCTION are in `functions`), and [`call`], the checks Redis applies to a
//! command a script runs (`redis.call`).
//!
//! A script runs with every worker's gate held (the `EXCLUSIVE` flag,
//! read by the network layer), so no other client sees it half done,
//! whatever keys it touches. The interpreter is the worker's own
//! (`scripting::lua`); the cache and the libraries are shared
//! (`scripting`).
//!
//! EVAL's keys are found through its `numkeys` argument (a keynum key
//! spec), so COMMAND GETKEYS and cluster clients see them.

use super::admin::{is_flush_mode, reply_help};
use super::cluster::{route_script_call, ScriptSlot};
use super::{
    accepts, dispatch_subcommand, execute, lookup_with_id, specs, Command, Ctx, Flags, KeySpec, Subcommand, OOM,
};
use crate::protocol::Args;
use crate::scripting::{self, lua, parse_shebang, ScriptFlags, NOSCRIPT};

/// EVAL and FCALL: not from scripts, with every worker held; the keys
/// may be none (`numkeys` 0).
pub(super) const RUNS: Flags = Flags::NO_SCRIPT.with(Flags::EXCLUSIVE).with(Flags::NO_MANDATORY_KEYS);
/// The keys of EVAL and EVALSHA: `script numkeys key ...`.
pub(super) const SCRIPT_KEYS: &[KeySpec] = &[KeySpec::keynum(2, 0, 1, 1, specs::RW_ACCESS_UPDATE)];
/// The keys of the read-only forms.
pub(super) const SCRIPT_KEYS_RO: &[KeySpec] = &[KeySpec::keynum(2, 0, 1, 1, specs::RO_ACCESS)];
/// SCRIPT: KILL answers while a script is busy.
const CONTROL: Flags = Flags::NO_SCRIPT.with(Flags::ALLOW_BUSY);

pub static COMMANDS: &[Command] = &[
    Command {
        name: "eval",
        arity: -3,
        flags: RUNS.with(Flags::MAY_REPLICATE),
        keys: SCRIPT_KEYS,
        group: "scripting",
        run: eval,
    },
    Command {
        name: "evalsha",
        arity: -3,
        flags: RUNS.with(Flags::MAY_REPLICATE),
        keys: SCRIPT_KEYS,
        group: "scripting",
        run: evalsha,
    },
    Command {
        name: "eval_ro",
        arity: -3,
        flags: RUNS.with(Flags::READONLY),
        keys: SCRIPT_KEYS_RO,
        group: "scripting",
        run: eval_ro,
    },
    Command {
        name: "evalsha_ro",
        arity: -3,
        flags: RUNS.with(Flags::READONLY),
        keys: SCRIPT_KEYS_RO,
        group: "scripting",
        run: evalsha_ro,
    },
    Command {
        name: "script",
        arity: -2,
        flags: CONTROL.with(Flags::CONTAINER),
        keys: specs::NONE,
        group: "scripting",
        run: script,
    },
];

/// What the commands of one script run may do, and what they did.
#[derive(Debug, Clone, Copy)]
pub struct CallPolicy {
    /// EVAL_RO, or the `no-writes` flag: write commands are refused.
    pub read_only: bool,
    pub allow_oom: bool,
    /// Memory was over the limit when the script started.
    pub oom: bool,
    /// A write command ran: the OOM check no longer applies and the script
    /// can no longer be killed.
    pub wrote: bool,
    /// An EVAL script (not a function).
    pub eval: bool,
    /// Cluster mode: the slot of the keys the script uses.
    pub slot: ScriptSlot,
}

impl CallPolicy {
    /// The policy of a script called with `keys` (its declared keys).
    pub fn new(ctx: &Ctx<'_>, flags: ScriptFlags, read_only: bool, eval: bool, keys: &[&[u8]]) -> Self {
        Self {
            read_only: read_only || flags.no_writes,
            allow_oom: flags.allow_oom || flags.no_writes,
            oom: ctx.server.must_refuse_writes(),
            wrote: false,
            eval,
            slot: match ctx.server.cluster {
                Some(_) => ScriptSlot::new(keys, flags.allow_cross_slot),
                None => ScriptSlot::default(),
            },
        }
    }
}

/// Run a command for a script: Redis's checks for scripts (unknown
/// command, arity, commands scripts may not call, writes from a read-only
/// script, OOM before the first write; in cluster mode, keys served here
/// and all in one slot), then the command itself, counted in commandstats
/// and the slow log like any other. `Err` is the error text the script
/// receives.
pub fn call(ctx: &mut Ctx<'_>, args: &Args<'_>, policy: &mut CallPolicy) -> Result<(), String> {
    let Some((id, command)) = lookup_with_id(args.get(0)) else {
        return Err(refuse(ctx, None, "ERR Unknown Redis command called from script"));
    };
    let flags = command.flags;
    let refusal = if !accepts(command.arity, args.len()) {
        Some("ERR Wrong number of args calling Redis command from script")
    } else if flags.contains(Flags::NO_SCRIPT) {
        Some("ERR This Redis command is not allowed from script")
    } else if policy.read_only && flags.contains(Flags::WRITE) {
        Some("ERR Write commands are not allowed from read-only scripts.")
    } else if flags.contains(Flags::DENYOOM) && !policy.allow_oom && !policy.wrote && policy.oom {
        Some(OOM)
    } else {
        None
    };
    if let Some(text) = refusal {
        return Err(refuse(ctx, Some(id), text));
    }
    if flags.contains(Flags::WRITE) {
        policy.wrote = true;
        ctx.server.scripts.run.note_write();
    }
    if ctx.server.cluster.is_some() {
        if let Err(text) = route_script_call(ctx, command, args, &mut policy.slot) {
            return Err(refuse(ctx, Some(id), &text));
        }
    }
    ctx.stats.commands_processed.incr();
    execute(ctx, id, command, args);
    Ok(())
}

fn refuse(ctx: &mut Ctx<'_>, id: Option<usize>, text: &str) -> String {
    if let Some(id) = id {
        ctx.stats.record_rejected(id);
    }
    ctx.stats.count_error(text);
    text.to_string()
}

/// A script's `KEYS` and `ARGV`.
pub type KeysAndArgs<'a> = (Vec<&'a [u8]>, Vec<&'a [u8]>);

/// `numkeys key... arg...` from argument 2 on, with Redis's errors
/// (`not_integer` for a `numkeys` that is not a number: EVAL and FCALL
/// differ there).
pub fn keys_and_args<'a>(ctx: &mut Ctx<'_>, args: &Args<'a>, not_integer: &str) -> Option<KeysAndArgs<'a>> {
    let Some(numkeys) = crate::protocol::parse::parse_i64(args.get(2)) else {
        ctx.error(not_integer);
        return None;
    };
    let available = args.len() as i64 - 3;
    if numkeys > available {
        ctx.error("ERR Number of keys can't be greater than number of args");
        return None;
    }
    if numkeys < 0 {
        ctx.error("ERR Number of keys can't be negative");
        return None;
    }
    let split = 3 + numkeys as usize;
    let all: Vec<&'a [u8]> = args.iter().collect();
    Some((all[3..split].to_vec(), all[split..].to_vec()))
}

fn eval(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    eval_generic(ctx, args, false, false);
}

fn evalsha(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    eval_generic(ctx, args, true, false);
}

fn eval_ro(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    eval_generic(ctx, args, false, true);
}

fn evalsha_ro(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    eval_generic(ctx, args, true, true);
}

/// The checks a script's flags call for before it runs (a script that may
/// write, from a `_RO` command or while memory is over the limit): true
/// if it was refused.
pub(super) fn refuse_by_flags(ctx: &mut Ctx<'_>, flags: ScriptFlags, read_only: bool) -> bool {
    if !flags.compat && flags.no_cluster && ctx.server.cluster.is_some() {
        ctx.error("ERR Can not run script on cluster, 'no-cluster' flag is set.");
        return true;
    }
    if flags.compat || flags.no_writes {
        return false;
    }
    if read_only {
        ctx.error("ERR Can not execute a script with write flag using *_ro command.");
        return true;
    }
    if !flags.allow_oom && ctx.server.must_refuse_writes() {
        ctx.error(OOM);
        return true;
    }
    false
}

/// EVAL[SHA][_RO] script|sha numkeys [key ...] [arg ...]
fn eval_generic(ctx: &mut Ctx<'_>, args: &Args<'_>, by_sha: bool, read_only: bool) {
    let Some((keys, argv)) = keys_and_args(ctx, args, super::NOT_AN_INTEGER) else { return };
    let cached;
    let (sha, body): (String, &[u8]) = if by_sha {
        let sha = String::from_utf8_lossy(args.get(1)).to_ascii_lowercase();
        match (sha.len() == 40).then(|| ctx.server.scripts.get(&sha)).flatten() {
            Some(body) => {
                cached = body;
                (sha, &cached[..])
            }
            None => return ctx.error(NOSCRIPT),
        }
    } else {
        (scripting::sha1_hex(args.get(1)), args.get(1))
    };
    let (flags, code) = match parse_shebang(body) {
        Ok(parsed) => parsed,
        Err(e) => return ctx.error(&e),
    };
    if refuse_by_flags(ctx, flags, read_only) {
        return;
    }
    let policy = CallPolicy::new(ctx, flags, read_only, true, &keys);
    let server = ctx.server;
    let outcome = lua::with_vm(server, |vm| -> Result<(), String> {
        let f = vm.compile(&sha, &code)?;
        if !by_sha {
            server.scripts.insert(&sha, body, true)?;
        }
        vm.run_eval(ctx, &f, &sha, &keys, &argv, policy);
        Ok(())
    });
    if let Err(e) = outcome.and_then(|r| r) {
        ctx.error(&e);
    }
}

const SCRIPT_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "load", arity: 3, run: script_load },
    Subcommand { name: "exists", arity: -3, run: script_exists },
    Subcommand { name: "flush", arity: -2, run: script_flush },
    Subcommand { name: "kill", arity: 2, run: script_kill },
    Subcommand { name: "debug", arity: 3, run: script_debug },
    Subcommand {
        name: "help",
        arity: 2,
        run: |ctx, _| {
            reply_help(
                ctx,
                "SCRIPT",
                &[
                    "DEBUG (YES|SYNC|NO)",
                    "    Set the debug mode for subsequent scripts executed.",
                    "EXISTS <sha1> [<sha1> ...]",
                    "    Return information about the existence of the scripts in the script cache.",
                    "FLUSH [ASYNC|SYNC]",
                    "    Flush the Lua scripts cache. Very dangerous on replicas.",
                    "    When called without the optional mode argument, the behavior is determined by the",
                    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                    "    * ASYNC: Asynchronously flush the scripts cache.",
                    "    * SYNC: Synchronously flush the scripts cache.",
                    "KILL",
                    "    Kill the currently executing Lua script.",
                    "LOAD <script>",
                    "    Load a script into the scripts cache without executing it.",
                ],
            )
        },
    },
];

/// SCRIPT subcommand [arguments]. While a script is busy only KILL runs.
fn script(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if !super::is(args.get(1), "kill") && refuse_if_busy(ctx) {
        return;
    }
    dispatch_subcommand(ctx, args, "script", SCRIPT_SUBCOMMANDS);
}

/// Answer BUSY (true) if a script runs past the busy threshold.
pub(super) fn refuse_if_busy(ctx: &mut Ctx<'_>) -> bool {
    let run = &ctx.server.scripts.run;
    if run.busy().is_some() {
        ctx.error(run.busy_error());
        return true;
    }
    false
}

/// SCRIPT LOAD script: compile it (here, so a syntax error is reported)
/// and cache it.
fn script_load(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let body = args.get(2);
    let sha = scripting::sha1_hex(body);
    let server = ctx.server;
    let outcome = lua::with_vm(server, |vm| -> Result<(), String> {
        let (_, code) = parse_shebang(body)?;
        vm.compile(&sha, &code)?;
        server.scripts.insert(&sha, body, false)?;
        server.scripts.pin(&sha);
        Ok(())
    });
    match outcome.and_then(|r| r) {
        Ok(()) => ctx.out.bulk(sha.as_bytes()),
        Err(e) => ctx.error(&e),
    }
}

/// SCRIPT EXISTS sha1 [sha1 ...]
fn script_exists(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    ctx.out.array(args.len() - 2);
    for sha in args.iter().skip(2) {
        let known = std::str::from_utf8(sha).is_ok_and(|sha| ctx.server.scripts.exists(sha));
        ctx.out.integer(i64::from(known));
    }
}

/// SCRIPT FLUSH [ASYNC | SYNC]
fn script_flush(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if args.len() > 3 || (args.len() == 3 && !is_flush_mode(args.get(2))) {
        return ctx.error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    }
    ctx.server.scripts.flush();
    ctx.out.ok();
}

/// SCRIPT KILL
fn script_kill(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    match ctx.server.scripts.run.kill(true) {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.error(e),
    }
}

/// SCRIPT DEBUG: the Lua debugger is not implemented.
fn script_debug(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if super::is(args.get(2), "no") {
        return ctx.out.ok();
    }
    if super::is(args.get(2), "yes") || super::is(args.get(2), "sync") {
        return ctx.error("ERR SCRIPT DEBUG is not supported by Redistill");
    }
    ctx.error("ERR Use SCRIPT DEBUG YES/SYNC/NO");
}
