//! The interpreter: one Lua 5.1 state per worker thread, created on the
//! first script that worker runs; its sandbox (Redis's globals, read-only);
//! the `redis` API; and the conversions between replies and Lua values,
//! exactly as Redis makes them.
//!
//! `redis.call` runs a command through the command table with a session of
//! the script's own (the caller's database, RESP2 unless the script calls
//! `redis.setresp(3)`), into a reply buffer whose bytes are then parsed into
//! Lua values: the reply a client would have received, converted by Redis's
//! rules. The script's return value goes the other way.

use std::cell::{Cell, RefCell};
use std::ops::Range;
use std::rc::Rc;

use mlua::{ChunkMode, Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, Variadic, VmState};

use super::{sandbox, Stop};
use crate::commands::scripting::CallPolicy;
use crate::commands::{Ctx, Session};
use crate::protocol::{Args, Protocol, ReplyBuffer};
use crate::server::Server;

/// How often (in VM instructions) the hook looks at the clock and for
/// SCRIPT KILL, as in Redis.
const HOOK_EVERY: u32 = 100_000;

/// Replies nested deeper than this are cut short with an error (a table
/// that contains itself would otherwise recurse forever).
const MAX_DEPTH: usize = 200;

/// Past this much Lua memory after a script, collect garbage at once
/// (and then only once the heap has doubled since the last collection:
/// a full collection per command over a large live heap, say 50,000
/// libraries, made loading them quadratic).
const COLLECT_ABOVE: usize = 32 * 1024 * 1024;

/// Compiled functions kept per interpreter before the cache is reset.
const MAX_COMPILED: usize = 10_000;

/// The chunk name of user scripts: errors read `user_script:1: ...` and
/// end in `on @user_script:1.`, as in Redis.
const SCRIPT_CHUNK: &str = "@user_script";
pub const FUNCTION_CHUNK: &str = "@user_function";

/// An error type that carries its text, for raising through mlua and
/// recognising on the way out (see `script_error`).
macro_rules! text_error {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(pub String);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::error::Error for $name {}
    };
}

text_error!(
    /// An error whose text is the reply, as is (`ERR ...`, `OOM ...`).
    ScriptError
);

/// Raise an error with exactly this reply text.
pub fn raise(text: impl Into<String>) -> mlua::Error {
    mlua::Error::external(ScriptError(text.into()))
}

text_error!(
    /// An error of a library function (cjson, bit, ...), raised as Lua's
    /// `luaL_error` raises: [`lib_function`] puts the caller's position in
    /// front (`user_script:1: ...`) and the name the caller used in a `bad
    /// argument` error, and scripts catch it as a string.
    LibError
);

pub fn raise_lib(text: impl Into<String>) -> mlua::Error {
    mlua::Error::external(LibError(text.into()))
}

/// A library function: its [`LibError`]s read as Lua's own C libraries'.
pub fn lib_function<A, R, F>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    A: mlua::FromLuaMulti,
    R: mlua::IntoLuaMulti,
    F: Fn(&Lua, A) -> mlua::Result<R> + 'static,
{
    lua.create_function(move |lua, args: A| f(lua, args).map_err(|e| locate_lib_error(lua, e)))
}

/// `luaL_where(L, 1)` in front of a library error, and `luaL_argerror`'s
/// function name (as the caller wrote it, `?` when called by `pcall`).
fn locate_lib_error(lua: &Lua, error: mlua::Error) -> mlua::Error {
    let Some(text) = lib_error(&error) else { return error };
    let text = match text.strip_prefix("bad argument #").and_then(|rest| rest.split_once(" to '")) {
        Some((number, rest)) => {
            let detail = rest.split_once('\'').map_or("", |(_, detail)| detail);
            let name = lua.inspect_stack(0, |d| d.names().name.map(|n| n.into_owned())).flatten();
            format!("bad argument #{number} to '{}'{detail}", name.as_deref().unwrap_or("?"))
        }
        None => text,
    };
    let position = lua
        .inspect_stack(1, |d| {
            let line = d.current_line().filter(|&l| l > 0)?;
            Some(format!("{}:{line}: ", d.source().short_src.as_deref().unwrap_or("?")))
        })
        .flatten();
    raise_lib(format!("{}{text}", position.unwrap_or_default()))
}

/// Lua code run once per interpreter: the parts of the `redis` API that
/// are plain Lua, and `pcall` made to return `redis.call`'s errors as
/// tables. (`redis.call` itself is Rust, as Redis's is C: a Lua wrapper
/// would be tail-called away by `return redis.call(...)` and errors would
/// lose the script's line.)
const PRELUDE: &str = r#"
local redis, errtext, converr = ...
redis.error_reply = function(...)
  local e = ...
  if select('#', ...) ~= 1 or type(e) ~= 'string' then
    return {err = 'ERR wrong number or type of arguments'}
  end
  if e:sub(1, 1) ~= '-' then e = '-' .. e end
  return {err = errtext(e)}
end
redis.status_reply = function(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return {err = 'ERR wrong number or type of arguments'}
  end
  return {ok = s}
end
-- An error raised by redis.call reaches pcall's caller as its text, as
-- in Redis 7.
local raw_pcall = pcall
local function caught(ok, ...)
  if ok then return ok, ... end
  return false, converr((...))
end
pcall = function(...) return caught(raw_pcall(...)) end
"#;

/// One worker's interpreter.
pub struct Vm {
    lua: Lua,
    /// [`super::Scripts::generation`] when it was built.
    generation: u64,
    /// Compiled EVAL scripts by SHA1, in a Lua table: Rust-held Lua values
    /// each take a slot of a stack of about 8000, a table one in all.
    compiled: Table,
    compiled_count: usize,
    /// Function libraries loaded here, and their sandbox.
    pub(super) functions: super::library::Loaded,
    /// The `redis` table: `call` and `pcall` are bound to each run.
    redis: Table,
    /// What `redis.call` is outside a run.
    idle_call: Function,
    pub(super) handler: Function,
    pub(super) runner: Function,
    /// The RESP version `redis.setresp` chose for this run.
    resp: Rc<Cell<u8>>,
    /// Collect garbage when the heap passes this (see [`COLLECT_ABOVE`]).
    collect_at: usize,
    hook: Hook,
}

/// The instruction hook: every [`HOOK_EVERY`] instructions it checks the
/// FUNCTION LOAD deadline, SCRIPT/FUNCTION KILL and shutdown. Once a run
/// is told to stop, the hook fires on every line instead, as in Redis, so
/// a script that catches the error with `pcall` cannot go on: the next
/// line raises it again.
#[derive(Clone)]
struct Hook {
    run: std::sync::Arc<super::RunState>,
    load_deadline: Rc<Cell<Option<std::time::Instant>>>,
    /// The hook fires on every line (a run is being stopped).
    stopping: Rc<Cell<bool>>,
}

impl Hook {
    fn install(&self, lua: &Lua) -> mlua::Result<()> {
        let triggers = if self.stopping.get() {
            HookTriggers::EVERY_LINE
        } else {
            HookTriggers::new().every_nth_instruction(HOOK_EVERY)
        };
        let hook = self.clone();
        lua.set_hook(triggers, move |lua, _| hook.check(lua))
    }

    fn check(&self, lua: &Lua) -> mlua::Result<VmState> {
        if self.load_deadline.get().is_some_and(|at| std::time::Instant::now() > at) {
            return Err(raise("ERR FUNCTION LOAD timeout"));
        }
        let text = match self.run.check() {
            Some(Stop::Killed) => "ERR Script killed by user with SCRIPT KILL...",
            Some(Stop::Shutdown) => "ERR Script killed by a server shutdown",
            None => return Ok(VmState::Continue),
        };
        if !self.stopping.replace(true) {
            self.install(lua)?;
        }
        Err(raise(text))
    }

    /// Back to the usual rate after a run that was stopped.
    fn reset(&self, lua: &Lua) {
        if self.stopping.replace(false) {
            let _ = self.install(lua);
        }
    }
}

thread_local! {
    static VM: RefCell<Option<Vm>> = const { RefCell::new(None) };
}

/// Run `f` with this thread's interpreter, creating it (or re-creating it
/// after SCRIPT FLUSH) first.
pub fn with_vm<R>(server: &Server, f: impl FnOnce(&mut Vm) -> R) -> Result<R, String> {
    VM.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return Err("ERR scripts cannot run scripts".to_string());
        };
        let generation = server.scripts.generation();
        if slot.as_ref().is_none_or(|vm| vm.generation != generation) {
            *slot = None;
            server.scripts.set_lua_memory(generation, None);
            *slot = Some(Vm::new(server, generation).map_err(|e| format!("ERR cannot start Lua: {e}"))?);
        }
        let vm = slot.as_mut().ok_or("ERR cannot start Lua")?;
        // A bug that panics inside the interpreter (mlua panics, for one,
        // when Rust holds too many Lua values at once) costs this
        // interpreter, not the worker thread.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(vm))) {
            Ok(result) => {
                vm.account(server);
                Ok(result)
            }
            Err(_) => {
                server.scripts.run.end();
                *slot = None;
                server.scripts.set_lua_memory(generation, None);
                crate::log_warn!("the Lua interpreter of this worker failed and was reset");
                Err("ERR Lua interpreter failure: the interpreter was reset".to_string())
            }
        }
    })
}

impl Vm {
    fn new(server: &Server, generation: u64) -> mlua::Result<Self> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::OS;
        let lua = Lua::new_with(libs, LuaOptions::default())?;
        lua.set_memory_limit(super::LUA_MEMORY_LIMIT)?;
        let globals = lua.globals();
        let clock: Function = globals.get::<Table>("os")?.get("clock")?;
        let os = lua.create_table()?;
        os.set("clock", clock)?;
        globals.set("os", os)?;
        for name in [
            "dofile", "loadfile", "print", "require", "module", "package", "io", "debug", "getfenv", "setfenv",
            "newproxy",
        ] {
            globals.raw_set(name, Value::Nil)?;
        }
        super::libs::install(&lua, &globals)?;
        let resp = Rc::new(Cell::new(2));
        let redis = redis_table(&lua, &resp)?;
        let idle_call = lua.create_function(|_, _: Variadic<Value>| -> mlua::Result<()> {
            Err(raise("ERR redis.call/pcall can only be called inside a script invocation"))
        })?;
        redis.set("call", &idle_call)?;
        redis.set("pcall", &idle_call)?;
        let errtext = lua.create_function(|lua, s: mlua::String| lua.create_string(error_text(&s.as_bytes())))?;
        let converr = lua.create_function(|lua, e: Value| match &e {
            Value::Error(inner) => match script_error(inner).or_else(|| lib_error(inner)) {
                Some(text) => Ok(Value::String(lua.create_string(text)?)),
                None => Ok(e),
            },
            _ => Ok(e),
        })?;
        lua.load(PRELUDE).set_name("=redis").set_mode(ChunkMode::Text).call::<()>((&redis, errtext, converr))?;
        globals.set("redis", &redis)?;
        let handler = lua.create_function(error_handler)?;
        let runner = lua
            .load("local f, h, a, b = ... return xpcall(function() return f(a, b) end, h)")
            .set_name("=redis")
            .set_mode(ChunkMode::Text)
            .into_function()?;
        let functions = super::library::Loaded::new(&lua, &globals)?;
        super::sandbox::lock_globals(&lua)?;
        let hook = Hook {
            run: std::sync::Arc::clone(&server.scripts.run),
            load_deadline: functions.deadline(),
            stopping: Rc::new(Cell::new(false)),
        };
        hook.install(&lua)?;
        let compiled = lua.create_table()?;
        Ok(Self {
            lua,
            generation,
            compiled,
            compiled_count: 0,
            functions,
            redis,
            idle_call,
            handler,
            runner,
            resp,
            collect_at: COLLECT_ABOVE,
            hook,
        })
    }

    pub fn lua(&self) -> &Lua {
        &self.lua
    }

    /// Report the interpreter's memory to INFO, collecting garbage first
    /// when it has grown large.
    fn account(&mut self, server: &Server) {
        if self.lua.used_memory() > self.collect_at {
            let _ = self.lua.gc_collect();
            self.collect_at = COLLECT_ABOVE.max(2 * self.lua.used_memory());
        }
        server.scripts.set_lua_memory(self.generation, Some(self.lua.used_memory() as u64));
    }

    /// Compile an EVAL script (once per interpreter). The error is Redis's
    /// `ERR Error compiling script (new function): ...`.
    pub fn compile(&mut self, sha: &str, code: &[u8]) -> Result<Function, String> {
        if let Ok(Value::Function(f)) = self.compiled.raw_get::<Value>(sha) {
            return Ok(f);
        }
        let f = self.load(code, SCRIPT_CHUNK).map_err(|e| format!("ERR Error compiling script (new function): {e}"))?;
        if self.compiled_count >= MAX_COMPILED {
            self.compiled = self.lua.create_table().map_err(|e| format!("ERR {e}"))?;
            self.compiled_count = 0;
        }
        self.compiled.raw_set(sha, &f).map_err(|e| format!("ERR {e}"))?;
        self.compiled_count += 1;
        Ok(f)
    }

    /// Compile Lua text (never bytecode) under a chunk name; the error is
    /// Lua's message.
    pub fn load(&self, code: &[u8], chunk: &str) -> Result<Function, String> {
        self.lua.load(code).set_name(chunk).set_mode(ChunkMode::Text).into_function().map_err(|e| match e {
            mlua::Error::SyntaxError { message, .. } => message,
            other => other.to_string(),
        })
    }

    /// Run an EVAL script: `KEYS` and `ARGV` are globals.
    pub fn run_eval(
        &mut self,
        ctx: &mut Ctx<'_>,
        f: &Function,
        name: &str,
        keys: &[&[u8]],
        argv: &[&[u8]],
        policy: CallPolicy,
    ) {
        let globals = self.lua.globals();
        let set =
            |global: &str, items: &[&[u8]]| -> mlua::Result<()> { globals.raw_set(global, self.string_table(items)?) };
        let outcome =
            sandbox::while_writable(&self.lua, &[&globals], || set("KEYS", keys).and_then(|()| set("ARGV", argv)));
        if let Err(e) = outcome {
            return ctx.error(&format!("ERR {e}"));
        }
        self.run(ctx, f, name, None, policy);
    }

    /// Run a registered function: it gets the keys and the arguments as
    /// its two parameters.
    pub fn run_function(
        &mut self,
        ctx: &mut Ctx<'_>,
        f: &Function,
        name: &str,
        keys: &[&[u8]],
        argv: &[&[u8]],
        policy: CallPolicy,
    ) {
        let args = self.string_table(keys).and_then(|k| Ok((k, self.string_table(argv)?)));
        match args {
            Ok(args) => self.run(ctx, f, name, Some(args), policy),
            Err(e) => ctx.error(&format!("ERR {e}")),
        }
    }

    pub fn string_table(&self, items: &[&[u8]]) -> mlua::Result<Table> {
        let t = self.lua.create_table_with_capacity(items.len(), 0)?;
        for (i, item) in items.iter().enumerate() {
            t.raw_set(i + 1, self.lua.create_string(item)?)?;
        }
        Ok(t)
    }

    /// Run `f` in protected mode with `redis.call` bound to this caller,
    /// and write its result (or its error, in Redis's format) as the reply.
    fn run(&mut self, ctx: &mut Ctx<'_>, f: &Function, name: &str, args: Option<(Table, Table)>, policy: CallPolicy) {
        let server = ctx.server;
        server.scripts.run.begin(policy.eval, ctx.now, name);
        self.resp.set(2);
        let protocol = ctx.out.protocol;
        let caller_db = ctx.session.db;
        let mut reply = ReplyBuffer::with_protocol(protocol);
        let mut failed = None;
        let cell = RefCell::new((&mut *ctx, policy));
        let resp = Rc::clone(&self.resp);
        let outcome = self.lua.scope(|scope| {
            let bound = |raise_errors: bool| {
                let (cell, resp) = (&cell, &resp);
                scope.create_function(move |lua, argv: Variadic<Value>| {
                    let mut guard = cell.try_borrow_mut().map_err(|_| raise("ERR redis.call re-entered"))?;
                    let (ctx, policy) = &mut *guard;
                    script_call(lua, ctx, policy, &argv, resp.get(), raise_errors)
                })
            };
            let (call, pcall) = (bound(true)?, bound(false)?);
            self.bind_calls(&call, &pcall)?;
            let (a, b) = args.map_or((Value::Nil, Value::Nil), |(k, v)| (Value::Table(k), Value::Table(v)));
            let (ok, value): (bool, Value) = self.runner.call((f, &self.handler, a, b))?;
            let script_resp3 = self.resp.get() == 3;
            failed = if ok {
                write_value(&mut reply, &value, script_resp3, 0)
            } else {
                Some(write_failure(&mut reply, &value, name))
            };
            Ok(())
        });
        let _ = self.bind_calls(&self.idle_call, &self.idle_call);
        let (ctx, _) = cell.into_inner();
        server.scripts.run.end();
        self.hook.reset(&self.lua);
        if ctx.session.db != caller_db {
            ctx.session.select(caller_db);
        }
        if let Err(e) = outcome {
            return ctx.error(&format!("ERR Error running script {name}, {}", first_line(&e.to_string())));
        }
        if let Some(error) = failed {
            ctx.stats.count_error(&error);
        }
        ctx.out.append(reply);
    }
}

impl Vm {
    /// Set `redis.call` and `redis.pcall` (the `redis` table is read-only
    /// to scripts).
    fn bind_calls(&self, call: &Function, pcall: &Function) -> mlua::Result<()> {
        sandbox::while_writable(&self.lua, &[&self.redis], || {
            self.redis.raw_set("call", call)?;
            self.redis.raw_set("pcall", pcall)
        })
    }
}

pub(super) fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// The `redis` table's Rust functions and constants.
fn redis_table(lua: &Lua, resp: &Rc<Cell<u8>>) -> mlua::Result<Table> {
    let redis = lua.create_table()?;
    version_and_log(lua, &redis)?;
    for (name, value) in [("REPL_NONE", 0), ("REPL_AOF", 1), ("REPL_SLAVE", 2), ("REPL_REPLICA", 2), ("REPL_ALL", 3)] {
        redis.set(name, value)?;
    }
    redis.set(
        "sha1hex",
        lua.create_function(|lua, args: Variadic<Value>| {
            let [value] = &args[..] else { return Err(raise("ERR wrong number of arguments")) };
            let bytes = lua.coerce_string(value.clone())?.map(|s| s.as_bytes().to_vec()).unwrap_or_default();
            Ok(super::sha1_hex(&bytes))
        })?,
    )?;
    let cell = Rc::clone(resp);
    redis.set(
        "setresp",
        lua.create_function(move |_, args: Variadic<Value>| {
            let [value] = &args[..] else { return Err(raise("ERR redis.setresp() requires one argument.")) };
            match number(value) {
                Some(v) if v == 2.0 || v == 3.0 => {
                    cell.set(v as u8);
                    Ok(())
                }
                _ => Err(raise("ERR RESP version must be 2 or 3.")),
            }
        })?,
    )?;
    redis.set(
        "set_repl",
        lua.create_function(|_, args: Variadic<Value>| {
            let [value] = &args[..] else { return Err(raise("ERR redis.set_repl() requires two arguments.")) };
            match number(value) {
                Some(v) if (0.0..=3.0).contains(&v) => Ok(()),
                _ => Err(raise("ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")),
            }
        })?,
    )?;
    redis.set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    // The Lua debugger (SCRIPT DEBUG) is not implemented: never active.
    redis.set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
    redis.set("debug", lua.create_function(|_, _: Variadic<Value>| Ok(()))?)?;
    redis.set("acl_check_cmd", lua.create_function(acl_check_cmd)?)?;
    Ok(redis)
}

/// What the `redis` table has at run time and at FUNCTION LOAD time alike:
/// the version, `log` and its levels.
pub(super) fn version_and_log(lua: &Lua, redis: &Table) -> mlua::Result<()> {
    redis.set("REDIS_VERSION", crate::server::REDIS_VERSION)?;
    redis.set("REDIS_VERSION_NUM", version_number(crate::server::REDIS_VERSION))?;
    for (name, value) in [("LOG_DEBUG", 0), ("LOG_VERBOSE", 1), ("LOG_NOTICE", 2), ("LOG_WARNING", 3)] {
        redis.set(name, value)?;
    }
    redis.set("log", lua.create_function(log)?)
}

/// `redis.acl_check_cmd(command, arg...)`: whether the caller may run the
/// command. Redistill has no ACL rules, so any command it knows is allowed.
fn acl_check_cmd(_: &Lua, args: Variadic<Value>) -> mlua::Result<bool> {
    let Some(name) = args.first() else {
        return Err(raise("ERR Please specify at least one argument for this redis lib call"));
    };
    if args.iter().any(|a| !matches!(a, Value::String(_) | Value::Integer(_) | Value::Number(_))) {
        return Err(raise("ERR Lua redis lib command arguments must be strings or integers"));
    }
    let known = matches!(name, Value::String(s) if crate::commands::lookup_with_id(&s.as_bytes()).is_some());
    if !known {
        return Err(raise("ERR Invalid command passed to redis.acl_check_cmd()"));
    }
    Ok(true)
}

/// `7.4.0` -> 0x070400, as Redis's `REDIS_VERSION_NUM`.
fn version_number(version: &str) -> i64 {
    version.split('.').take(3).fold(0, |acc, part| (acc << 8) | part.parse::<i64>().unwrap_or(0))
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// `redis.log(level, message, ...)`: to the server log.
fn log(lua: &Lua, args: Variadic<Value>) -> mlua::Result<()> {
    if args.len() < 2 {
        return Err(raise("ERR redis.log() requires two arguments or more."));
    }
    let Some(level) = number(&args[0]) else {
        return Err(raise("ERR First argument must be a number (log level)."));
    };
    let mut message = String::new();
    for (i, part) in args[1..].iter().enumerate() {
        if let Some(s) = lua.coerce_string(part.clone())? {
            if i > 0 {
                message.push(' ');
            }
            message.push_str(&String::from_utf8_lossy(&s.as_bytes()));
        }
    }
    match level as i64 {
        0 => crate::log_debug!("{message}"),
        1 | 2 => crate::log_info!("{message}"),
        3 => crate::log_warn!("{message}"),
        _ => return Err(raise("ERR Invalid debug level.")),
    }
    Ok(())
}

/// The text of an error table made from a `-CODE message` or `message`
/// string, as Redis's `luaPushErrorBuff`: the code is kept, a missing one
/// becomes `ERR`, and CR/LF at either end are trimmed.
pub fn error_text(raw: &[u8]) -> Vec<u8> {
    let (code, msg): (&[u8], &[u8]) = match raw.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&b| b == b' ') {
            Some(space) => (&rest[..space], &rest[space + 1..]),
            None => (b"ERR", rest),
        },
        None => (b"ERR", raw),
    };
    let trim = |b: &u8| *b == b'\r' || *b == b'\n';
    let start = msg.iter().position(|b| !trim(b)).unwrap_or(msg.len());
    let end = msg.iter().rposition(|b| !trim(b)).map_or(start, |i| i + 1);
    let mut text = code.to_vec();
    text.push(b' ');
    text.extend_from_slice(&msg[start..end]);
    text
}

/// The error handler of every run (Redis's `__redis__err__handler`): any
/// error becomes a table `{err=..., source=..., line=...}` naming the
/// script's line that raised it.
fn error_handler(lua: &Lua, err: Value) -> mlua::Result<Table> {
    let frame = user_frame(lua);
    let table = match err {
        Value::Table(t) if matches!(t.raw_get::<Value>("err")?, Value::String(_)) => t,
        other => {
            let t = lua.create_table()?;
            t.raw_set("err", lua.create_string(error_value_text(lua, other)?)?)?;
            t
        }
    };
    if let Some((source, line)) = frame {
        table.raw_set("source", source)?;
        table.raw_set("line", line)?;
    }
    Ok(table)
}

fn error_value_text(lua: &Lua, err: Value) -> mlua::Result<Vec<u8>> {
    if let Value::Error(e) = &err {
        if let Some(text) = script_error(e) {
            return Ok(text.into_bytes());
        }
        if let Some(text) = lib_error(e) {
            return Ok(format!("ERR {text}").into_bytes());
        }
        return Ok(format!("ERR {}", first_line(&e.to_string())).into_bytes());
    }
    let tostring: Function = lua.globals().raw_get("tostring")?;
    let text: mlua::String = tostring.call(err)?;
    let mut out = b"ERR ".to_vec();
    out.extend_from_slice(&text.as_bytes());
    Ok(out)
}

/// The reply text of a [`ScriptError`] inside an mlua error.
fn script_error(e: &mlua::Error) -> Option<String> {
    match e {
        mlua::Error::ExternalError(inner) => inner.downcast_ref::<ScriptError>().map(|s| s.0.clone()),
        mlua::Error::CallbackError { cause, .. } => script_error(cause),
        mlua::Error::WithContext { cause, .. } => script_error(cause),
        _ => None,
    }
}

fn lib_error(e: &mlua::Error) -> Option<String> {
    match e {
        mlua::Error::ExternalError(inner) => inner.downcast_ref::<LibError>().map(|s| s.0.clone()),
        mlua::Error::CallbackError { cause, .. } => lib_error(cause),
        mlua::Error::WithContext { cause, .. } => lib_error(cause),
        _ => None,
    }
}

/// The innermost frame of user code (`@user_script`, `@user_function`, or
/// a chunk the script made with `loadstring`), as Redis's error handler
/// finds it: not a C function, and not the server's own Lua (`=redis`).
fn user_frame(lua: &Lua) -> Option<(String, i64)> {
    for level in 0..64 {
        let frame = lua.inspect_stack(level, |d| {
            let source = d.source();
            let name = source.source.as_deref().unwrap_or_default().to_string();
            (source.what, name, d.current_line())
        })?;
        if let (what, name, Some(line)) = frame {
            if what != "C" && name != "=redis" {
                return Some((name, line as i64));
            }
        }
    }
    None
}

/// `redis.call` (`raise_errors`) and `redis.pcall`: run the command and
/// convert its reply; an error reply is raised by `redis.call` and
/// returned as `{err=...}` by `redis.pcall`.
fn script_call(
    lua: &Lua,
    ctx: &mut Ctx<'_>,
    policy: &mut CallPolicy,
    argv: &[Value],
    resp: u8,
    raise_errors: bool,
) -> mlua::Result<Value> {
    let fail = |text: &str| -> mlua::Result<Value> {
        if raise_errors {
            return Err(raise(text));
        }
        Ok(Value::Table(err_table(lua, text.as_bytes())?))
    };
    if argv.is_empty() {
        return fail("ERR Please specify at least one argument for this redis lib call");
    }
    let mut data = Vec::new();
    let mut ranges: Vec<Range<usize>> = Vec::with_capacity(argv.len());
    for value in argv {
        let start = data.len();
        match value {
            Value::String(s) => data.extend_from_slice(&s.as_bytes()),
            Value::Integer(i) => data.extend_from_slice(i.to_string().as_bytes()),
            Value::Number(n) => data.extend_from_slice(format_g17(*n).as_bytes()),
            _ => return fail("ERR Lua redis lib command arguments must be strings or integers"),
        }
        ranges.push(start..data.len());
    }
    let args = Args::new(&data, &ranges);
    let protocol = if resp == 3 { Protocol::Resp3 } else { Protocol::Resp2 };
    let mut out = ReplyBuffer::with_protocol(protocol);
    let mut session = Session::for_script(ctx.session);
    let mut inner = Ctx { server: ctx.server, session: &mut session, out: &mut out, stats: ctx.stats, now: ctx.now };
    if let Err(text) = crate::commands::scripting::call(&mut inner, &args, policy) {
        return fail(&text);
    }
    // SELECT inside a script lasts for the rest of the script.
    if session.db != ctx.session.db {
        ctx.session.db = session.db;
    }
    let bytes = out.take_all();
    if raise_errors && bytes.first() == Some(&b'-') {
        let end = bytes.len().saturating_sub(2);
        return fail(&String::from_utf8_lossy(&error_text(&bytes[..end])));
    }
    let mut pos = 0;
    parse_reply(lua, &bytes, &mut pos)
}

fn err_table(lua: &Lua, text: &[u8]) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(text)?)?;
    Ok(t)
}

fn single(lua: &Lua, field: &str, value: impl mlua::IntoLua) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(field, value)?;
    Ok(Value::Table(t))
}

/// `%.17g`, as Redis formats a Lua number argument.
pub fn format_g17(n: f64) -> String {
    format_g(n, 17)
}

/// C's `%.<precision>g`.
pub fn format_g(n: f64, precision: i32) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: the buffer is large enough for any %g output of at most 17
    // significant digits, and snprintf always NUL-terminates within the
    // given size.
    let len =
        unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.*g".as_ptr(), precision.clamp(1, 17), n) };
    String::from_utf8_lossy(&buf[..(len.max(0) as usize).min(buf.len() - 1)]).into_owned()
}

/// One RESP reply (as the server itself wrote it) into a Lua value, by
/// Redis's rules.
fn parse_reply(lua: &Lua, bytes: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    let line = read_line(bytes, pos)?;
    let (kind, body) = line.split_first().ok_or_else(|| raise("ERR empty reply"))?;
    let int = || -> mlua::Result<i64> {
        crate::protocol::parse::parse_i64(body).ok_or_else(|| raise("ERR bad reply length"))
    };
    match kind {
        b'+' => single(lua, "ok", lua.create_string(body)?),
        b'-' => {
            let mut raw = b"-".to_vec();
            raw.extend_from_slice(body);
            Ok(Value::Table(err_table(lua, &error_text(&raw))?))
        }
        b':' => Ok(Value::Number(int()? as f64)),
        b'$' | b'=' => {
            let len = int()?;
            if len < 0 {
                return Ok(Value::Boolean(false));
            }
            let data = read_exact(bytes, pos, len as usize)?;
            if *kind == b'$' {
                return Ok(Value::String(lua.create_string(data)?));
            }
            let (format, text) = data.split_at(data.len().min(3));
            let inner = lua.create_table()?;
            inner.raw_set("format", lua.create_string(format)?)?;
            inner.raw_set("string", lua.create_string(text.get(1..).unwrap_or_default())?)?;
            single(lua, "verbatim_string", inner)
        }
        b'*' => {
            let len = int()?;
            if len < 0 {
                return Ok(Value::Boolean(false));
            }
            let t = lua.create_table()?;
            for i in 0..len {
                t.raw_set(i + 1, parse_reply(lua, bytes, pos)?)?;
            }
            Ok(Value::Table(t))
        }
        b'%' | b'~' => {
            let t = lua.create_table()?;
            for _ in 0..int()? {
                let key = parse_reply(lua, bytes, pos)?;
                let value = if *kind == b'%' { parse_reply(lua, bytes, pos)? } else { Value::Boolean(true) };
                t.raw_set(key, value)?;
            }
            single(lua, if *kind == b'%' { "map" } else { "set" }, t)
        }
        b'_' => Ok(Value::Nil),
        b'#' => Ok(Value::Boolean(body == b"t")),
        b',' => {
            let text = std::str::from_utf8(body).unwrap_or_default();
            let value = match text {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                _ => text.parse().unwrap_or(f64::NAN),
            };
            single(lua, "double", value)
        }
        b'(' => single(lua, "big_number", lua.create_string(body)?),
        _ => Err(raise("ERR unexpected reply type")),
    }
}

fn read_line<'a>(bytes: &'a [u8], pos: &mut usize) -> mlua::Result<&'a [u8]> {
    let rest = bytes.get(*pos..).unwrap_or_default();
    let end = rest.windows(2).position(|w| w == b"\r\n").ok_or_else(|| raise("ERR truncated reply"))?;
    *pos += end + 2;
    Ok(&rest[..end])
}

fn read_exact<'a>(bytes: &'a [u8], pos: &mut usize, len: usize) -> mlua::Result<&'a [u8]> {
    let data = bytes.get(*pos..*pos + len).ok_or_else(|| raise("ERR truncated reply"))?;
    *pos += len + 2;
    Ok(data)
}

/// A script's return value as a reply, by Redis's rules. Returns the error
/// text if the reply is an error.
fn write_value(out: &mut ReplyBuffer, value: &Value, script_resp3: bool, depth: usize) -> Option<String> {
    if depth > MAX_DEPTH {
        out.error("ERR reached lua stack limit");
        return Some("ERR reached lua stack limit".into());
    }
    match value {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) if script_resp3 => out.boolean(*b),
        Value::Boolean(true) => out.integer(1),
        Value::Boolean(false) => out.null(),
        Value::Integer(i) => out.integer(*i),
        Value::Number(n) => out.integer(c_long_long(*n)),
        Value::Table(t) => return write_table(out, t, script_resp3, depth),
        _ => out.null(),
    }
    None
}

/// C's `(long long)` of a double on x86-64, as Redis converts a script's
/// number: truncated, and NaN or out of range gives the minimum.
fn c_long_long(n: f64) -> i64 {
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        return i64::MIN;
    }
    n as i64
}

fn write_table(out: &mut ReplyBuffer, t: &Table, script_resp3: bool, depth: usize) -> Option<String> {
    let field = |name: &str| t.raw_get::<Value>(name).unwrap_or(Value::Nil);
    if let Value::String(s) = field("err") {
        let text = s.as_bytes().to_vec();
        out.error_bytes(&text);
        return Some(String::from_utf8_lossy(&text).into_owned());
    }
    if let Value::String(s) = field("ok") {
        out.simple_bytes(&s.as_bytes());
        return None;
    }
    if let Some(n) = number(&field("double")) {
        out.double(n);
        return None;
    }
    if let Value::String(s) = field("big_number") {
        out.big_number(&s.as_bytes());
        return None;
    }
    if let Value::Table(v) = field("verbatim_string") {
        if let (Ok(Value::String(format)), Ok(Value::String(text))) = (v.raw_get("format"), v.raw_get("string")) {
            out.verbatim_with(&format.as_bytes(), &text.as_bytes());
            return None;
        }
    }
    if let Value::Table(map) = field("map") {
        let pairs: Vec<(Value, Value)> = map.pairs().flatten().collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            write_value(out, k, script_resp3, depth + 1);
            write_value(out, v, script_resp3, depth + 1);
        }
        return None;
    }
    if let Value::Table(set) = field("set") {
        let members: Vec<Value> = set.pairs::<Value, Value>().flatten().map(|(k, _)| k).collect();
        out.set(members.len());
        for m in &members {
            write_value(out, m, script_resp3, depth + 1);
        }
        return None;
    }
    // An array: up to the first nil, whatever raw_len says.
    let items: Vec<Value> = (1..).map_while(|i| t.raw_get::<Value>(i).ok().filter(|v| !v.is_nil())).collect();
    out.array(items.len());
    for item in &items {
        write_value(out, item, script_resp3, depth + 1);
    }
    None
}

/// A run that raised: `-<err> script: <name>, on <source>:<line>.`, or
/// Redis's text for an error that is not a table (out of memory).
fn write_failure(out: &mut ReplyBuffer, value: &Value, name: &str) -> String {
    let text = match value {
        Value::Table(t) => {
            let err = t.raw_get::<mlua::String>("err").map(|s| s.as_bytes().to_vec()).unwrap_or_default();
            let mut text = String::from_utf8_lossy(&err).into_owned();
            if let (Ok(source), Ok(line)) = (t.raw_get::<String>("source"), t.raw_get::<i64>("line")) {
                text.push_str(&format!(" script: {name}, on {source}:{line}."));
            }
            text
        }
        Value::String(s) => {
            let msg = String::from_utf8_lossy(&s.as_bytes()).chars().take(100).collect::<String>();
            format!("ERR Error running script {name}, {msg}")
        }
        _ => format!("ERR Error running script {name}, execution failure"),
    };
    out.error(&text);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_follow_redis() {
        assert_eq!(error_text(b"-ERR value is bad\r\n"), b"ERR value is bad");
        assert_eq!(error_text(b"-oops"), b"ERR oops");
        assert_eq!(error_text(b"-MY thing"), b"MY thing");
        assert_eq!(error_text(b"plain message"), b"ERR plain message");
    }

    #[test]
    fn numbers_format_as_redis() {
        assert_eq!(format_g17(1.5), "1.5");
        assert_eq!(format_g17(0.1), "0.10000000000000001");
        assert_eq!(format_g17(3.0), "3");
        assert_eq!(version_number("7.4.0"), 0x070400);
        assert_eq!((c_long_long(f64::NAN), c_long_long(1e20), c_long_long(-2.7)), (i64::MIN, i64::MIN, -2));
    }
}
