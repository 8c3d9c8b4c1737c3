//! Redis 7 functions: FCALL, FCALL_RO and FUNCTION (LOAD, LIST, DELETE,
//! FLUSH, STATS, DUMP, RESTORE, KILL, HELP).
//!
//! The libraries are shared by every worker (`scripting::functions`);
//! FUNCTION LOAD runs a library's code in this worker's interpreter to
//! learn what it registers, and other workers run it again the first time
//! they call one of its functions (`scripting::library`). FCALL runs like
//! EVAL: with every worker's gate held, its keys found through `numkeys`.

use std::sync::Arc;

use super::admin::{is_flush_mode, reply_help};
use super::scripting::{keys_and_args, refuse_by_flags, CallPolicy, RUNS, SCRIPT_KEYS, SCRIPT_KEYS_RO};
use super::{dispatch_subcommand, is, specs, Command, Ctx, Flags, Subcommand};
use crate::protocol::Args;
use crate::scripting::functions::{parse_metadata, Library, RestorePolicy};
use crate::scripting::library::Registered;
use crate::scripting::lua::{self, Vm};
use crate::store::serialize::{self, DecodeError};

/// FUNCTION: KILL and STATS answer while a script is busy.
const CONTROL: Flags = Flags::NO_SCRIPT.with(Flags::ALLOW_BUSY);

pub static COMMANDS: &[Command] = &[
    Command {
        name: "fcall",
        arity: -3,
        flags: RUNS.with(Flags::MAY_REPLICATE),
        keys: SCRIPT_KEYS,
        group: "scripting",
        run: fcall,
    },
    Command {
        name: "fcall_ro",
        arity: -3,
        flags: RUNS.with(Flags::READONLY),
        keys: SCRIPT_KEYS_RO,
        group: "scripting",
        run: fcall_ro,
    },
    Command {
        name: "function",
        arity: -2,
        flags: CONTROL.with(Flags::CONTAINER),
        keys: specs::NONE,
        group: "scripting",
        run: function,
    },
];

fn fcall(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    fcall_generic(ctx, args, false);
}

fn fcall_ro(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    fcall_generic(ctx, args, true);
}

/// FCALL[_RO] function numkeys [key ...] [arg ...]
fn fcall_generic(ctx: &mut Ctx<'_>, args: &Args<'_>, read_only: bool) {
    let found = ctx.server.scripts.functions.lock().find(args.get(1));
    let Some((library, meta)) = found else { return ctx.error("ERR Function not found") };
    let Some((keys, argv)) = keys_and_args(ctx, args, "ERR Bad number of keys provided") else { return };
    if refuse_by_flags(ctx, meta.flags, read_only) {
        return;
    }
    let policy = CallPolicy::new(ctx, meta.flags, read_only, false, &keys);
    let server = ctx.server;
    server.scripts.run.set_command(args);
    let outcome = lua::with_vm(server, |vm| -> Result<(), String> {
        let f = vm.callback(server, &library, &meta.name)?;
        vm.run_function(ctx, &f, &meta.name, &keys, &argv, policy);
        Ok(())
    });
    if let Err(e) = outcome.and_then(|r| r) {
        ctx.error(&e);
    }
}

const FUNCTION_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "load", arity: -3, run: function_load },
    Subcommand { name: "list", arity: -2, run: function_list },
    Subcommand { name: "delete", arity: 3, run: function_delete },
    Subcommand { name: "flush", arity: -2, run: function_flush },
    Subcommand { name: "stats", arity: 2, run: function_stats },
    Subcommand { name: "dump", arity: 2, run: function_dump },
    Subcommand { name: "restore", arity: -3, run: function_restore },
    Subcommand { name: "kill", arity: 2, run: function_kill },
    Subcommand { name: "help", arity: 2, run: function_help },
];

/// FUNCTION subcommand [arguments]. While a script is busy only KILL and
/// STATS run.
fn function(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let sub = args.get(1);
    if !is(sub, "kill") && !is(sub, "stats") && super::scripting::refuse_if_busy(ctx) {
        return;
    }
    dispatch_subcommand(ctx, args, "function", FUNCTION_SUBCOMMANDS);
}

/// `ERR unknown subcommand or wrong number of arguments for 'x'. Try
/// FUNCTION HELP.`
fn subcommand_syntax_error(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let sub: String = String::from_utf8_lossy(args.get(1)).chars().take(128).collect();
    ctx.error(&format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try FUNCTION HELP."));
}

/// Run a library's text in this worker's interpreter: the library and
/// the callbacks it registered, or FUNCTION LOAD's error.
fn compile_library(vm: &mut Vm, text: &[u8]) -> Result<(Library, Registered), String> {
    let meta = parse_metadata(text)?;
    let registered = vm.register_library(meta.code)?;
    if registered.functions.is_empty() {
        return Err("ERR No functions registered".into());
    }
    let functions = registered.functions.iter().map(|f| (f.name.clone(), f.clone())).collect();
    let vm_bytes = registered.vm_bytes;
    Ok((Library { name: meta.name, code: Arc::from(text), functions, vm_bytes }, registered))
}

/// FUNCTION LOAD [REPLACE] code
fn function_load(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let mut replace = false;
    for option in args.iter().skip(2).take(args.len() - 3) {
        if !is(option, "replace") {
            return ctx.error(&format!("ERR Unknown option given: {}", String::from_utf8_lossy(option)));
        }
        replace = true;
    }
    let text = args.get(args.len() - 1);
    let server = ctx.server;
    let outcome = lua::with_vm(server, |vm| -> Result<String, String> {
        let name = parse_metadata(text)?.name;
        if !replace && server.scripts.functions.lock().contains(&name) {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        let (library, registered) = compile_library(vm, text)?;
        let mut shared = server.scripts.functions.lock();
        shared.add(library, replace)?;
        if let Some(library) = shared.get(&name) {
            vm.keep_library(Arc::clone(library), registered)?;
        }
        Ok(name)
    });
    match outcome.and_then(|r| r) {
        Ok(name) => ctx.out.bulk(name.as_bytes()),
        Err(e) => ctx.error(&e),
    }
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]
fn function_list(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 2;
    while i < args.len() {
        let arg = args.get(i);
        if !with_code && is(arg, "withcode") {
            with_code = true;
        } else if pattern.is_none() && is(arg, "libraryname") {
            if i + 1 >= args.len() {
                return ctx.error("ERR library name argument was not given");
            }
            i += 1;
            pattern = Some(args.get(i));
        } else {
            return ctx.error(&format!("ERR Unknown argument {}", String::from_utf8_lossy(arg)));
        }
        i += 1;
    }
    let matching: Vec<Arc<Library>> = ctx
        .server
        .scripts
        .functions
        .lock()
        .iter()
        .filter(|lib| pattern.is_none_or(|p| crate::glob::matches(p, lib.name.as_bytes(), true)))
        .cloned()
        .collect();
    ctx.out.array(matching.len());
    for library in &matching {
        list_library(ctx, library, with_code);
    }
}

fn list_library(ctx: &mut Ctx<'_>, library: &Library, with_code: bool) {
    let out = &mut *ctx.out;
    out.map(if with_code { 4 } else { 3 });
    out.bulk(b"library_name");
    out.bulk(library.name.as_bytes());
    out.bulk(b"engine");
    out.bulk(b"LUA");
    out.bulk(b"functions");
    out.array(library.functions.len());
    for function in library.functions.values() {
        out.map(3);
        out.bulk(b"name");
        out.bulk(function.name.as_bytes());
        out.bulk(b"description");
        match &function.description {
            Some(text) => out.bulk(text),
            None => out.null(),
        }
        out.bulk(b"flags");
        let names = function.flags.names();
        out.set(names.len());
        for name in names {
            out.simple(name);
        }
    }
    if with_code {
        out.bulk(b"library_code");
        out.bulk(&library.code);
    }
}

/// FUNCTION DELETE library
fn function_delete(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let name = String::from_utf8_lossy(args.get(2));
    if ctx.server.scripts.functions.lock().remove(&name) {
        ctx.out.ok();
    } else {
        ctx.error("ERR Library not found");
    }
}

/// FUNCTION FLUSH [ASYNC | SYNC]
fn function_flush(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    match args.len() {
        2 => {}
        3 if is_flush_mode(args.get(2)) => {}
        3 => return ctx.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
        _ => return subcommand_syntax_error(ctx, args),
    }
    let old = ctx.server.scripts.functions.lock().clear();
    if args.len() == 3 && is(args.get(2), "async") {
        // Each function and the engine count as freed objects, as in Redis.
        let objects = old.values().map(|lib| lib.functions.len()).sum::<usize>() + 1;
        crate::store::lazyfree::free_objects(old, objects);
    }
    ctx.out.ok();
}

/// FUNCTION STATS: the function running now (only seen while it is busy,
/// since it holds every worker otherwise) and the engine's counts.
fn function_stats(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    let run = &ctx.server.scripts.run;
    let running = run.running();
    if running.as_ref().is_some_and(|r| r.eval) {
        return ctx.error(crate::scripting::BUSY_EVAL);
    }
    let (libraries, functions) = {
        let shared = ctx.server.scripts.functions.lock();
        (shared.library_count(), shared.function_count())
    };
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    match running {
        None => out.null(),
        Some(script) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(script.name.as_bytes());
            out.bulk(b"command");
            out.array(script.command.len());
            for arg in &script.command {
                out.bulk(arg);
            }
            out.bulk(b"duration_ms");
            out.integer(script.duration_ms as i64);
        }
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.integer(libraries as i64);
    out.bulk(b"functions_count");
    out.integer(functions as i64);
}

/// FUNCTION DUMP: every library's code, in Redistill's payload format.
fn function_dump(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    let payload = serialize::dump_functions(ctx.server.scripts.functions.lock().iter().map(|lib| &lib.code[..]));
    ctx.out.bulk(&payload);
}

/// FUNCTION RESTORE payload [FLUSH | APPEND | REPLACE]
fn function_restore(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if args.len() > 4 {
        return subcommand_syntax_error(ctx, args);
    }
    let policy = match args.len() {
        4 if is(args.get(3), "append") => RestorePolicy::Append,
        4 if is(args.get(3), "replace") => RestorePolicy::Replace,
        4 if is(args.get(3), "flush") => RestorePolicy::Flush,
        4 => return ctx.error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."),
        _ => RestorePolicy::Append,
    };
    let texts = match serialize::restore_functions(args.get(2)) {
        Ok(texts) => texts,
        Err(DecodeError::Trailer) => return ctx.error("ERR DUMP payload version or checksum are wrong"),
        Err(DecodeError::Body) => return ctx.error("ERR failed loading the given functions payload"),
    };
    let server = ctx.server;
    let outcome = lua::with_vm(server, |vm| -> Result<(), String> {
        let libraries =
            texts.iter().map(|text| compile_library(vm, text).map(|(lib, _)| lib)).collect::<Result<Vec<_>, _>>()?;
        server.scripts.functions.lock().restore(libraries, policy)
    });
    match outcome.and_then(|r| r) {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.error(&e),
    }
}

/// FUNCTION KILL
fn function_kill(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    match ctx.server.scripts.run.kill(false) {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.error(e),
    }
}

fn function_help(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    reply_help(
        ctx,
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
}
