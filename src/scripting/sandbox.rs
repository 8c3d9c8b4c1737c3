//! The script sandbox's read-only tables, as Redis 7 makes them: the
//! globals, every library table (`redis`, `string`, `cjson`, ...) and their
//! metatables refuse assignment, `rawset`, `table.insert` and
//! `setmetatable` with `Attempt to modify a readonly table`, so one script
//! cannot change what later scripts on the same worker see. Reading and
//! iterating (`pairs`, `next`) see the real tables.
//!
//! The flag lives in the table itself: the vendored Lua is patched for it
//! (`vendor/lua-src/PATCHES.md`), as Redis patches its own. A `__newindex`
//! guard cannot do it alone (it never fires for a key that exists), and
//! proxy tables break iteration and `rawget`.

use std::collections::HashSet;
use std::ffi::c_int;

use mlua::{ffi::lua_State, ChunkMode, Lua, Table, Value};

extern "C-unwind" {
    /// From the patched `lapi.c`: set or clear a table's read-only flag.
    fn lua_enablereadonlytable(state: *mut lua_State, index: c_int, enabled: c_int);
    fn lua_isreadonlytable(state: *mut lua_State, index: c_int) -> c_int;
}

/// The error every refused write raises (Lua's text, as Redis's).
pub const READONLY: &str = "Attempt to modify a readonly table";

/// Set (or clear) the read-only flag of each table.
pub fn set_readonly(lua: &Lua, tables: &[&Table], readonly: bool) -> mlua::Result<()> {
    let count = tables.len() as c_int;
    let args: mlua::Variadic<Table> = tables.iter().map(|&t| t.clone()).collect();
    // SAFETY: exec_raw pushes the tables as the top `count` values of the
    // stack it hands over; each index below points at one of them, and
    // the pop leaves the stack as it was given.
    unsafe {
        lua.exec_raw::<()>(args, |state| {
            for i in 1..=count {
                lua_enablereadonlytable(state, -i, c_int::from(readonly));
            }
            mlua::ffi::lua_pop(state, count);
        })
    }
}

pub fn is_readonly(lua: &Lua, table: &Table) -> mlua::Result<bool> {
    // SAFETY: the table is the one value exec_raw pushed; it is replaced
    // by the boolean returned.
    unsafe {
        lua.exec_raw::<bool>(table, |state| {
            let readonly = lua_isreadonlytable(state, -1);
            mlua::ffi::lua_pop(state, 1);
            mlua::ffi::lua_pushboolean(state, readonly);
        })
    }
}

/// Run `f` (the server's own writes: `KEYS`, `redis.call` bound to a run)
/// with `tables` writable, and make them read-only again whatever `f` did.
///
/// Making them read-only again can only fail for want of memory; it is
/// tried once more after a full collection, and if that fails too the
/// interpreter is not safe to keep: the panic makes `lua::with_vm` drop
/// it (the worker goes on with a fresh one).
pub fn while_writable<R>(lua: &Lua, tables: &[&Table], f: impl FnOnce() -> mlua::Result<R>) -> mlua::Result<R> {
    set_readonly(lua, tables, false)?;
    let result = f();
    if set_readonly(lua, tables, true).is_err() {
        let _ = lua.gc_collect();
        if let Err(e) = set_readonly(lua, tables, true) {
            panic!("cannot make the sandbox's tables read-only again: {e}");
        }
    }
    result
}

/// Make `root`, every table reachable from it through values and
/// metatables, read-only (Redis's `luaSetTableProtectionRecursively`).
pub fn protect_recursively(lua: &Lua, root: &Table) -> mlua::Result<()> {
    let mut seen = HashSet::new();
    let mut pending = vec![root.clone()];
    while let Some(table) = pending.pop() {
        if !seen.insert(table.to_pointer() as usize) {
            continue;
        }
        for pair in table.pairs::<Value, Value>() {
            if let (_, Value::Table(inner)) = pair? {
                pending.push(inner);
            }
        }
        if let Some(meta) = table.metatable() {
            pending.push(meta);
        }
        set_readonly(lua, &[&table], true)?;
    }
    Ok(())
}

/// Lock the interpreter's globals: reading a missing global is an error
/// (Redis's text), and the globals, the libraries and the strings'
/// metatable (`("x"):rep(2)` goes through it) are read-only.
pub fn lock_globals(lua: &Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    globals.set_metatable(Some(missing_global_meta(lua)?))?;
    protect_recursively(lua, &globals)?;
    let strings: Value = lua.load("return getmetatable('')").set_name("=redis").set_mode(ChunkMode::Text).eval()?;
    if let Value::Table(meta) = strings {
        protect_recursively(lua, &meta)?;
    }
    Ok(())
}

/// A metatable whose `__index` raises Redis's error for a missing name:
/// the globals' (read-only afterwards, like the globals), and that of the
/// tables FUNCTION LOAD's code sees.
pub fn missing_global_meta(lua: &Lua) -> mlua::Result<Table> {
    lua.load(
        r#"return {
  __index = function(_, name)
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end,
}"#,
    )
    .set_name("=redis")
    .set_mode(ChunkMode::Text)
    .eval()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_tables_refuse_writes_and_iterate() {
        let lua = Lua::new();
        let t: Table = lua.load("return {a = 1, inner = {b = 2}}").eval().unwrap();
        protect_recursively(&lua, &t).unwrap();
        assert!(is_readonly(&lua, &t).unwrap());
        lua.globals().set("t", &t).unwrap();
        for code in ["t.a = 2", "t.c = 1", "t.inner.b = 3", "rawset(t, 'a', 2)", "setmetatable(t, {})"] {
            let err = lua.load(code).exec().unwrap_err().to_string();
            assert!(err.contains(READONLY), "{code}: {err}");
        }
        let n: i64 = lua.load("local n = 0 for k in pairs(t) do n = n + 1 end return n").eval().unwrap();
        assert_eq!(n, 2);
        while_writable(&lua, &[&t], || t.raw_set("c", 3)).unwrap();
        assert!(is_readonly(&lua, &t).unwrap());
        assert_eq!(t.raw_get::<i64>("c").unwrap(), 3);
    }

    #[test]
    fn bytecode_is_parsed_as_text() {
        let lua = Lua::new();
        let err: String =
            lua.load("return select(2, loadstring(string.dump(function() return 1 end)))").eval().unwrap();
        assert!(err.ends_with("unexpected symbol near 'char(27)'"), "{err}");
    }
}
