//! Lua scripting shared by every worker: the script cache (EVAL, EVALSHA,
//! SCRIPT), the function libraries (FUNCTION, FCALL), and the state of the
//! script running now (busy detection, SCRIPT KILL).
//!
//! The interpreters themselves are per worker thread (see [`lua`]); what
//! lives here is what all of them share. A script runs with every worker's
//! gate held (see `server::Gate`), so at most one script runs at a time and
//! [`RunState`] describes that one.

pub mod cjson;
pub mod functions;
pub mod library;
pub mod libs;
pub mod lua;
pub mod msgpack;
pub mod sandbox;
pub mod structlib;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// Scripts cached by EVAL (not SCRIPT LOAD) beyond this are forgotten,
/// oldest first, so a client that generates a new script per call cannot
/// grow the cache without bound (Redis 7.4 does the same with 500).
pub const MAX_EVAL_SCRIPTS: usize = 500;

/// Scripts kept in all (SCRIPT LOAD included): past this, SCRIPT LOAD and
/// EVAL of a new script are refused.
pub const MAX_SCRIPTS: usize = 100_000;

/// What each worker's interpreter may allocate; a script that needs more
/// fails with a Lua memory error and the server goes on.
pub const LUA_MEMORY_LIMIT: usize = 512 * 1024 * 1024;

/// Default `busy-reply-threshold` (Redis's `lua-time-limit`), in ms.
pub const DEFAULT_BUSY_THRESHOLD_MS: u64 = 5000;

pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
pub const BUSY_EVAL: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// Everything the workers share about scripts.
pub struct Scripts {
    cache: Mutex<Cache>,
    pub run: Arc<RunState>,
    /// Bumped by SCRIPT FLUSH: each worker resets its interpreter when it
    /// sees a new value, as Redis does.
    generation: AtomicU64,
    /// Each worker thread's interpreter: its generation and its bytes
    /// (`used_memory_lua` sums those of the current generation: after
    /// SCRIPT FLUSH a worker drops its old interpreter only when it next
    /// runs a script, and Redis reports a flushed interpreter as gone).
    lua_memory: Mutex<HashMap<std::thread::ThreadId, (u64, u64)>>,
    pub functions: Mutex<functions::Libraries>,
}

impl Default for Scripts {
    fn default() -> Self {
        Self {
            cache: Mutex::new(Cache::default()),
            run: Arc::new(RunState::default()),
            generation: AtomicU64::new(0),
            lua_memory: Mutex::new(HashMap::new()),
            functions: Mutex::new(functions::Libraries::default()),
        }
    }
}

/// Script bodies by SHA1.
#[derive(Default)]
struct Cache {
    bodies: HashMap<String, Arc<[u8]>>,
    /// Scripts added by EVAL, oldest first (they may be evicted).
    ephemeral: VecDeque<String>,
    bytes: usize,
}

impl Scripts {
    /// Remember a script; `Err` when the cache is full. `eval` marks one
    /// cached by EVAL rather than SCRIPT LOAD.
    pub fn insert(&self, sha: &str, body: &[u8], eval: bool) -> Result<Arc<[u8]>, &'static str> {
        let mut cache = self.cache.lock();
        if let Some(body) = cache.bodies.get(sha) {
            return Ok(Arc::clone(body));
        }
        if eval && cache.ephemeral.len() >= MAX_EVAL_SCRIPTS {
            if let Some(old) = cache.ephemeral.pop_front() {
                if let Some(body) = cache.bodies.remove(&old) {
                    cache.bytes -= body.len();
                }
            }
        }
        if cache.bodies.len() >= MAX_SCRIPTS {
            return Err("ERR the script cache is full (SCRIPT FLUSH frees it)");
        }
        let body: Arc<[u8]> = Arc::from(body);
        cache.bytes += body.len();
        cache.bodies.insert(sha.to_string(), Arc::clone(&body));
        if eval {
            cache.ephemeral.push_back(sha.to_string());
        }
        Ok(body)
    }

    /// The body of a cached script (`sha` in lower case).
    pub fn get(&self, sha: &str) -> Option<Arc<[u8]>> {
        self.cache.lock().bodies.get(sha).cloned()
    }

    /// A script that SCRIPT LOAD asks for stays cached: it is no longer
    /// one EVAL may evict.
    pub fn pin(&self, sha: &str) {
        let mut cache = self.cache.lock();
        cache.ephemeral.retain(|s| s != sha);
    }

    pub fn exists(&self, sha: &str) -> bool {
        self.cache.lock().bodies.contains_key(sha)
    }

    /// SCRIPT FLUSH: forget every script and reset every interpreter.
    pub fn flush(&self) {
        let mut cache = self.cache.lock();
        *cache = Cache::default();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// `number_of_cached_scripts`.
    pub fn count(&self) -> usize {
        self.cache.lock().bodies.len()
    }

    /// `used_memory_scripts`: the cached bodies with their keys.
    pub fn cache_bytes(&self) -> usize {
        let cache = self.cache.lock();
        cache.bytes + cache.bodies.len() * (40 + 64)
    }

    /// `used_memory_lua`.
    pub fn lua_memory(&self) -> u64 {
        let generation = self.generation();
        self.lua_memory.lock().values().filter(|(g, _)| *g == generation).map(|(_, bytes)| bytes).sum()
    }

    /// This thread's interpreter, of `generation`, now takes `bytes`
    /// (None: it has none).
    pub fn set_lua_memory(&self, generation: u64, bytes: Option<u64>) {
        let thread = std::thread::current().id();
        let mut all = self.lua_memory.lock();
        match bytes {
            Some(bytes) => all.insert(thread, (generation, bytes)),
            None => all.remove(&thread),
        };
    }
}

/// The script running now, read by other workers (busy replies, SCRIPT
/// KILL) and by the interpreter's instruction hook.
#[derive(Default)]
pub struct RunState {
    /// When it started (unix ms), 0 when no script runs.
    started_ms: AtomicU64,
    /// It is an EVAL script (not a function), for KILL and BUSY texts.
    eval: AtomicBool,
    /// It has run a write command: it can no longer be killed.
    wrote: AtomicBool,
    /// SCRIPT KILL or FUNCTION KILL asked it to stop.
    kill: AtomicBool,
    /// The server is shutting down: stop it whatever it did.
    shutdown: AtomicBool,
    /// The busy warning was logged for this run.
    warned: AtomicBool,
    /// `busy-reply-threshold` in ms; 0 stands for the default.
    threshold_ms: AtomicU64,
    /// The script's name (SHA1 or function), for the busy warning.
    name: Mutex<String>,
    /// The FCALL that runs it (FUNCTION STATS shows it).
    command: Mutex<Vec<Vec<u8>>>,
}

/// The script running now, as FUNCTION STATS reports it.
#[derive(Debug, Clone)]
pub struct Running {
    pub eval: bool,
    pub name: String,
    pub command: Vec<Vec<u8>>,
    pub duration_ms: u64,
}

/// Why the instruction hook stops a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Killed,
    Shutdown,
}

impl RunState {
    pub fn begin(&self, eval: bool, now_ms: u64, name: &str) {
        name.clone_into(&mut self.name.lock());
        self.eval.store(eval, Ordering::Relaxed);
        self.wrote.store(false, Ordering::Relaxed);
        self.kill.store(false, Ordering::Relaxed);
        self.warned.store(false, Ordering::Relaxed);
        self.started_ms.store(now_ms.max(1), Ordering::Release);
    }

    /// Remember the FCALL about to run (before [`Self::begin`]).
    pub fn set_command(&self, args: &crate::protocol::Args<'_>) {
        let mut command = self.command.lock();
        command.clear();
        command.extend(args.iter().map(<[u8]>::to_vec));
    }

    /// The script running now, if any.
    pub fn running(&self) -> Option<Running> {
        let started = self.started_ms.load(Ordering::Acquire);
        (started != 0).then(|| Running {
            eval: self.eval.load(Ordering::Relaxed),
            name: self.name.lock().clone(),
            command: self.command.lock().clone(),
            duration_ms: crate::clock::now_ms().saturating_sub(started),
        })
    }

    pub fn end(&self) {
        self.started_ms.store(0, Ordering::Release);
        self.kill.store(false, Ordering::Relaxed);
    }

    pub fn note_write(&self) {
        self.wrote.store(true, Ordering::Relaxed);
    }

    pub fn threshold_ms(&self) -> u64 {
        match self.threshold_ms.load(Ordering::Relaxed) {
            0 => DEFAULT_BUSY_THRESHOLD_MS,
            ms => ms,
        }
    }

    /// CONFIG SET busy-reply-threshold. 0 (busy at once, in Redis) is
    /// stored as 1 ms, since 0 here stands for the default.
    pub fn set_threshold_ms(&self, ms: u64) {
        self.threshold_ms.store(ms.max(1), Ordering::Relaxed);
    }

    /// The running script's kind (`Some(true)` for EVAL) if it has run
    /// past the busy threshold.
    pub fn busy(&self) -> Option<bool> {
        let started = self.started_ms.load(Ordering::Acquire);
        let busy = started != 0 && crate::clock::now_ms().saturating_sub(started) >= self.threshold_ms();
        busy.then(|| self.eval.load(Ordering::Relaxed))
    }

    /// The BUSY error for the script running now.
    pub fn busy_error(&self) -> &'static str {
        if self.eval.load(Ordering::Relaxed) {
            BUSY_EVAL
        } else {
            BUSY_FUNCTION
        }
    }

    /// SCRIPT KILL (`eval`) or FUNCTION KILL: Redis's checks and texts.
    pub fn kill(&self, eval: bool) -> Result<(), &'static str> {
        if self.started_ms.load(Ordering::Acquire) == 0 {
            return Err("NOTBUSY No scripts in execution right now.");
        }
        if self.wrote.load(Ordering::Relaxed) {
            return Err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
        }
        match (eval, self.eval.load(Ordering::Relaxed)) {
            (true, false) => Err(BUSY_FUNCTION),
            (false, true) => Err(BUSY_EVAL),
            _ => {
                self.kill.store(true, Ordering::Release);
                Ok(())
            }
        }
    }

    pub fn stop_for_shutdown(&self) {
        self.shutdown.store(true, Ordering::Release);
    }

    /// Called by the interpreter every so many instructions: logs the
    /// first time the script passes the threshold, and says whether it
    /// must stop.
    pub fn check(&self) -> Option<Stop> {
        if self.shutdown.load(Ordering::Acquire) {
            return Some(Stop::Shutdown);
        }
        if self.kill.load(Ordering::Acquire) {
            return Some(Stop::Killed);
        }
        if self.busy().is_some() && !self.warned.swap(true, Ordering::Relaxed) {
            let started = self.started_ms.load(Ordering::Relaxed);
            crate::log_warn!(
                "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the SCRIPT KILL command. Script name is: {}.",
                crate::clock::now_ms().saturating_sub(started),
                self.name.lock()
            );
        }
        None
    }
}

/// Lower-case hex SHA1 of a script body: its name in the cache.
pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

/// What a script's shebang (`#!lua flags=...`) or a function's
/// registration declares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// No shebang: Redis's compatibility mode (writes allowed, the OOM
    /// check happens per command).
    pub compat: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    /// Accepted and listed (FUNCTION LIST); it concerns replicas, which
    /// Redistill has not.
    pub allow_stale: bool,
    /// Cluster mode refuses to run the script.
    pub no_cluster: bool,
    /// Cluster mode lets the script's commands use keys of several slots
    /// (each command's keys still in one slot served here).
    pub allow_cross_slot: bool,
}

/// The flag names, in Redis's order (FUNCTION LIST lists them so).
pub const FLAG_NAMES: [&str; 5] = ["no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"];

impl ScriptFlags {
    fn slot(&mut self, index: usize) -> &mut bool {
        match index {
            0 => &mut self.no_writes,
            1 => &mut self.allow_oom,
            2 => &mut self.allow_stale,
            3 => &mut self.no_cluster,
            _ => &mut self.allow_cross_slot,
        }
    }

    /// Parse one flag name, as in a shebang (exact case).
    pub fn set(&mut self, name: &[u8]) -> bool {
        match FLAG_NAMES.iter().position(|flag| flag.as_bytes() == name) {
            Some(index) => {
                *self.slot(index) = true;
                true
            }
            None => false,
        }
    }

    /// The names of the flags set, in Redis's order.
    pub fn names(mut self) -> Vec<&'static str> {
        (0..FLAG_NAMES.len()).filter(|&i| *self.slot(i)).map(|i| FLAG_NAMES[i]).collect()
    }
}

/// Split an EVAL body into its flags and the code Lua compiles: a shebang
/// line is blanked (kept as an empty line, so line numbers match Redis's).
pub fn parse_shebang(body: &[u8]) -> Result<(ScriptFlags, std::borrow::Cow<'_, [u8]>), String> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags { compat: true, ..ScriptFlags::default() }, body.into()));
    }
    let end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
    let line = &body[..end];
    let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or_default();
    if engine != b"#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {}", String::from_utf8_lossy(engine)));
    }
    let mut flags = ScriptFlags::default();
    for part in parts {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {}", String::from_utf8_lossy(part)));
        };
        for flag in list.split(|&b| b == b',').filter(|f| !f.is_empty()) {
            if !flags.set(flag) {
                return Err(format!("ERR Unexpected flag in script shebang: {}", String::from_utf8_lossy(flag)));
            }
        }
    }
    let mut code = body[end..].to_vec();
    code.shrink_to_fit();
    Ok((flags, code.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_is_lower_case_hex() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }

    #[test]
    fn shebang_flags_and_errors() {
        let (flags, code) = parse_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(flags.no_writes && flags.allow_oom && !flags.compat);
        assert_eq!(&*code, b"\nreturn 1");
        assert!(parse_shebang(b"return 1").unwrap().0.compat);
        assert_eq!(parse_shebang(b"#!luax\n").unwrap_err(), "ERR Unexpected engine in script shebang: #!luax");
        assert_eq!(parse_shebang(b"#!lua flags=bad\n").unwrap_err(), "ERR Unexpected flag in script shebang: bad");
        assert_eq!(parse_shebang(b"#!lua name=x\n").unwrap_err(), "ERR Unknown lua shebang option: name=x");
    }
}
