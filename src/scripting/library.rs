//! Function libraries inside one worker's interpreter: FUNCTION LOAD's
//! sandbox, `redis.register_function`, and the libraries this interpreter
//! has loaded (each worker runs a library's code itself, the first time
//! it needs one of its functions, as it compiles EVAL scripts lazily).
//!
//! Library code runs with an environment of its own, as in Redis: an
//! empty read-only table whose reads go through to a small API while
//! FUNCTION LOAD runs the code (only `redis.register_function`,
//! `redis.log` and the version: no `redis.call`, no libraries) and to the
//! ordinary globals afterwards. The callbacks the code defines share that
//! environment (Lua 5.1 closures inherit it), so when FCALL runs them they
//! see the globals scripts see. EVAL scripts run in it too: being empty,
//! every assignment to a global, even one that exists (`string = nil`),
//! reaches its `__newindex` and is refused.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlua::{ChunkMode, Function, Lua, Table, Value, Variadic};

use super::functions::{FunctionMeta, Library, BAD_NAME, LOAD_TIMEOUT_MS};
use super::lua::{first_line, raise, version_and_log, Vm, FUNCTION_CHUNK};
use super::{sandbox, ScriptFlags};
use crate::server::Server;

/// What one run of a library's code registered: the functions, and their
/// callbacks in a Lua table (one reference however many there are: each
/// Rust-held Lua value takes a slot of a stack of about 8000).
pub struct Registered {
    pub functions: Vec<FunctionMeta>,
    callbacks: Table,
    /// An estimate of what the library keeps in the interpreter (see
    /// [`vm_estimate`]).
    pub vm_bytes: usize,
}

type Gathered = Rc<RefCell<Option<Registered>>>;

/// What one interpreter holds for function libraries.
pub struct Loaded {
    /// The environment of library code (read-only, empty).
    env: Table,
    /// Its metatable (read-only): `__index` is the load API or the globals.
    env_meta: Table,
    globals: Table,
    load_api: Table,
    /// What `register_function` gathers while a load runs (None otherwise).
    gathered: Gathered,
    /// When a running load must stop, read by the instruction hook.
    deadline: Rc<Cell<Option<Instant>>>,
    /// Libraries loaded here, the shared copy by name ...
    libraries: HashMap<String, Arc<Library>>,
    /// ... and their callbacks, `callbacks[library][function]`: one Lua
    /// table, so the number of libraries is not bounded by mlua's stack of
    /// Rust-held references (about 8000; a worker panicked past it).
    callbacks: Table,
    /// [`super::functions::Libraries::version`] when last pruned.
    version: u64,
}

impl Loaded {
    pub fn new(lua: &Lua, globals: &Table) -> mlua::Result<Self> {
        let gathered: Gathered = Rc::new(RefCell::new(None));
        let meta = sandbox::missing_global_meta(lua)?;
        let redis = lua.create_table()?;
        version_and_log(lua, &redis)?;
        redis.set("register_function", register_function(lua, Rc::clone(&gathered))?)?;
        redis.set_metatable(Some(meta.clone()))?;
        let load_api = lua.create_table()?;
        load_api.set("redis", &redis)?;
        load_api.set_metatable(Some(meta))?;
        let env_meta = lua.create_table()?;
        env_meta.set("__index", globals)?;
        let env = lua.create_table()?;
        env.set_metatable(Some(env_meta.clone()))?;
        sandbox::protect_recursively(lua, &load_api)?;
        sandbox::set_readonly(lua, &[&env, &env_meta], true)?;
        Ok(Self {
            env,
            env_meta,
            globals: globals.clone(),
            load_api,
            gathered,
            deadline: Rc::new(Cell::new(None)),
            libraries: HashMap::new(),
            callbacks: lua.create_table()?,
            version: 0,
        })
    }

    /// Point library code's globals at `api` (the load API or the globals).
    fn expose(&self, lua: &Lua, api: &Table) -> mlua::Result<()> {
        sandbox::while_writable(lua, &[&self.env_meta], || self.env_meta.raw_set("__index", api))
    }

    /// The load deadline, for the instruction hook.
    pub fn deadline(&self) -> Rc<Cell<Option<Instant>>> {
        Rc::clone(&self.deadline)
    }
}

impl Vm {
    /// Compile a library's code (after its shebang) and run it in the load
    /// sandbox: the functions it registered, or FUNCTION LOAD's error.
    pub fn register_library(&mut self, code: &[u8]) -> Result<Registered, String> {
        let chunk = self
            .lua()
            .load(code)
            .set_name(FUNCTION_CHUNK)
            .set_mode(ChunkMode::Text)
            .set_environment(self.functions.env.clone())
            .into_function()
            .map_err(|e| match e {
                mlua::Error::SyntaxError { message, .. } => format!("ERR Error compiling function: {message}"),
                other => format!("ERR Error compiling function: {}", first_line(&other.to_string())),
            })?;
        let loaded = &self.functions;
        loaded.expose(self.lua(), &loaded.load_api).map_err(|e| e.to_string())?;
        let callbacks = self.lua().create_table().map_err(|e| e.to_string())?;
        *loaded.gathered.borrow_mut() = Some(Registered { functions: Vec::new(), callbacks, vm_bytes: 0 });
        loaded.deadline.set(Some(Instant::now() + Duration::from_millis(LOAD_TIMEOUT_MS)));
        let outcome: mlua::Result<(bool, Value)> = self.runner.call((chunk, &self.handler, Value::Nil, Value::Nil));
        loaded.deadline.set(None);
        let gathered = loaded.gathered.borrow_mut().take();
        let restored = loaded.expose(self.lua(), &loaded.globals);
        let error = match (outcome, restored, gathered) {
            (Ok((true, _)), Ok(()), Some(mut gathered)) => {
                gathered.vm_bytes = vm_estimate(code.len(), gathered.functions.len());
                return Ok(gathered);
            }
            (Ok((false, Value::Table(t))), _, _) => t.raw_get::<mlua::String>("err").map(|s| s.to_string_lossy()),
            (Ok((false, other)), _, _) => Ok(format!("ERR {}", other.to_string().unwrap_or_default())),
            (Err(e), _, _) | (_, Err(e), _) => Ok(format!("ERR {}", first_line(&e.to_string()))),
            (Ok((true, _)), Ok(()), None) => Ok("ERR registration lost".into()),
        };
        Err(format!("ERR Error registering functions: {}", error.unwrap_or_default()))
    }

    /// Keep a library's callbacks (it was loaded here).
    pub fn keep_library(&mut self, library: Arc<Library>, registered: Registered) -> Result<(), String> {
        let loaded = &mut self.functions;
        loaded.callbacks.raw_set(library.name.as_str(), registered.callbacks).map_err(|e| format!("ERR {e}"))?;
        loaded.libraries.insert(library.name.clone(), library);
        Ok(())
    }

    /// The callback of `function` in `library`, loading the library here
    /// first unless this interpreter has this very version of it.
    pub fn callback(&mut self, server: &Server, library: &Arc<Library>, function: &str) -> Result<Function, String> {
        self.prune(server).map_err(|e| format!("ERR {e}"))?;
        let current = self.functions.libraries.get(&library.name).filter(|have| Arc::ptr_eq(have, library));
        if current.is_none() {
            let meta = super::functions::parse_metadata(&library.code)?;
            let registered = self.register_library(meta.code)?;
            self.keep_library(Arc::clone(library), registered)?;
        }
        let callbacks: Option<Table> = self.functions.callbacks.raw_get(library.name.as_str()).ok();
        match callbacks.map(|c| c.raw_get::<Value>(function)) {
            Some(Ok(Value::Function(f))) => Ok(f),
            _ => Err("ERR Function not found".into()),
        }
    }

    /// Forget libraries deleted or replaced since the last look.
    fn prune(&mut self, server: &Server) -> mlua::Result<()> {
        let shared = server.scripts.functions.lock();
        if shared.version() == self.functions.version {
            return Ok(());
        }
        let fresh = (shared.library_count() == 0).then(|| self.lua().create_table()).transpose()?;
        let loaded = &mut self.functions;
        loaded.version = shared.version();
        if let Some(fresh) = fresh {
            loaded.libraries.clear();
            loaded.callbacks = fresh;
            return Ok(());
        }
        let stale: Vec<String> = loaded
            .libraries
            .iter()
            .filter(|(name, have)| !shared.get(name).is_some_and(|lib| Arc::ptr_eq(lib, have)))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            loaded.libraries.remove(&name);
            loaded.callbacks.raw_set(name, Value::Nil)?;
        }
        Ok(())
    }
}

/// What a library keeps in an interpreter, for `used_memory_vm_functions`:
/// its bytecode, line info and constants (about twice the source for
/// small functions in Lua 5.1) and a closure and table slot per function.
/// Estimated because measuring would take a full garbage collection per
/// load (the heap's growth over a load is mostly garbage), which made
/// loading many libraries quadratic.
fn vm_estimate(code_len: usize, functions: usize) -> usize {
    2 * code_len + 64 * functions
}

/// `redis.register_function(name, callback)` or
/// `redis.register_function{function_name=..., callback=..., flags=...,
/// description=...}`, with Redis's checks and texts.
fn register_function(lua: &Lua, gathered: Gathered) -> mlua::Result<Function> {
    lua.create_function(move |lua, args: Variadic<Value>| {
        let mut gathered = gathered.borrow_mut();
        let Some(gathered) = gathered.as_mut() else {
            return Err(raise("ERR redis.register_function can only be called on FUNCTION LOAD command"));
        };
        let (meta, callback) = match &args[..] {
            [named] => named_args(lua, named),
            [name, callback] => positional_args(lua, name, callback),
            _ => Err("wrong number of arguments to redis.register_function"),
        }
        .map_err(|e| raise(format!("ERR {e}")))?;
        if !super::functions::valid_name(meta.name.as_bytes()) {
            return Err(raise(BAD_NAME));
        }
        if gathered.functions.iter().any(|f| f.name == meta.name) {
            return Err(raise("ERR Function already exists in the library"));
        }
        gathered.callbacks.raw_set(meta.name.as_str(), callback)?;
        gathered.functions.push(meta);
        Ok(())
    })
}

/// A string or a number as Lua's `lua_isstring` sees them.
fn string_like(lua: &Lua, value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::String(_) | Value::Integer(_) | Value::Number(_) => {
            lua.coerce_string(value.clone()).ok().flatten().map(|s| s.as_bytes().to_vec())
        }
        _ => None,
    }
}

/// One registration: the function and its callback.
type Registration = (FunctionMeta, Function);

fn registered(name: Vec<u8>, description: Option<Vec<u8>>, flags: ScriptFlags, callback: Function) -> Registration {
    let name = String::from_utf8_lossy(&name).into_owned();
    (FunctionMeta { name, description, flags }, callback)
}

fn positional_args(lua: &Lua, name: &Value, callback: &Value) -> Result<Registration, &'static str> {
    let name = string_like(lua, name).ok_or("first argument to redis.register_function must be a string")?;
    let Value::Function(callback) = callback else {
        return Err("second argument to redis.register_function must be a function");
    };
    Ok(registered(name, None, ScriptFlags::default(), callback.clone()))
}

fn named_args(lua: &Lua, named: &Value) -> Result<Registration, &'static str> {
    let Value::Table(table) = named else {
        return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
    };
    let (mut name, mut description, mut callback, mut flags) = (None, None, None, ScriptFlags::default());
    for pair in table.pairs::<Value, Value>() {
        let (key, value) = pair.map_err(|_| "unknown argument given to redis.register_function")?;
        let key =
            string_like(lua, &key).ok_or("named argument key given to redis.register_function is not a string")?;
        let key = String::from_utf8_lossy(&key).to_ascii_lowercase();
        match key.as_str() {
            "function_name" => {
                name = Some(
                    string_like(lua, &value)
                        .ok_or("function_name argument given to redis.register_function must be a string")?,
                );
            }
            "description" => {
                description = Some(
                    string_like(lua, &value)
                        .ok_or("description argument given to redis.register_function must be a string")?,
                );
            }
            "callback" => match value {
                Value::Function(f) => callback = Some(f),
                _ => return Err("callback argument given to redis.register_function must be a function"),
            },
            "flags" => {
                let Value::Table(list) = value else {
                    return Err(
                        "flags argument to redis.register_function must be a table representing function flags",
                    );
                };
                flags = read_flags(lua, &list).ok_or("unknown flag given")?;
            }
            _ => return Err("unknown argument given to redis.register_function"),
        }
    }
    let name = name.ok_or("redis.register_function must get a function name argument")?;
    let callback = callback.ok_or("redis.register_function must get a callback argument")?;
    Ok(registered(name, description, flags, callback))
}

/// The flags list of `register_function` (names in any case).
fn read_flags(lua: &Lua, list: &Table) -> Option<ScriptFlags> {
    let mut flags = ScriptFlags::default();
    for value in list.sequence_values::<Value>() {
        let name = string_like(lua, &value.ok()?)?;
        if !flags.set(&name.to_ascii_lowercase()) {
            return None;
        }
    }
    Some(flags)
}
