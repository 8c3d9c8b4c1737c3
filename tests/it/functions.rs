//! Redis 7 functions: FUNCTION LOAD (metadata, the load sandbox,
//! `redis.register_function` in both forms and all its errors), FCALL and
//! FCALL_RO, FUNCTION LIST (RESP2 and RESP3 shapes), DELETE, FLUSH, STATS,
//! DUMP/RESTORE with their policies, KILL while a function is busy, INFO's
//! counts, and libraries shared by every worker. Everything is checked
//! against redis-server 7.0 too.

use crate::common::*;
use std::thread;
use std::time::{Duration, Instant};

/// A library called `name` whose body is `body` (after the shebang line).
fn lib(name: &str, body: &str) -> String {
    format!("#!lua name={name}\n{body}")
}

/// A library registering one function `f` that returns `ret` (Lua).
fn one(name: &str, f: &str, ret: &str) -> String {
    lib(name, &format!("redis.register_function('{f}', function(keys, args) return {ret} end)"))
}

fn load(c: &mut RawClient, code: &str) -> String {
    c.call(&["FUNCTION", "LOAD", code])
}

fn load_ok(c: &mut RawClient, name: &str, code: &str) {
    assert_eq!(load(c, code), String::from_utf8(bulk(name)).unwrap(), "{code}");
}

/// `ERR Error registering functions: ERR <msg>`.
fn register_err(msg: &str) -> String {
    err(&format!("ERR Error registering functions: ERR {msg}"))
}

// ---------------------------------------------------------------------------
// FUNCTION LOAD and FCALL
// ---------------------------------------------------------------------------

#[test]
fn load_and_call_functions() {
    let s = TestServer::start();
    let mut c = s.raw();
    load_ok(
        &mut c,
        "mylib",
        &lib("mylib", "redis.register_function('echo', function(keys, args) return {keys, args} end)"),
    );
    c.expect_cmd(&["FCALL", "echo", "2", "k1", "k2", "a1"], "*2\r\n*2\r\n$2\r\nk1\r\n$2\r\nk2\r\n*1\r\n$2\r\na1\r\n");
    c.expect_cmd(&["FCALL", "echo", "0"], "*2\r\n*0\r\n*0\r\n");
    // Function names are found whatever their case; library names are not.
    c.expect_cmd(&["FCALL", "ECHO", "0", "x"], "*2\r\n*0\r\n*1\r\n$1\r\nx\r\n");
    load_ok(&mut c, "MyLib", &one("MyLib", "other", "1"));
    // The engine and the `name` key are case-insensitive.
    load_ok(&mut c, "up", &format!("#!LUA NAME=up\n{}", "redis.register_function('up1', function() return 2 end)"));
    c.expect_cmd(&["FCALL", "up1", "0"], int(2));
    // Functions call commands with the caller's keys.
    let setter = "redis.register_function('setk', function(keys, args) return redis.call('set', keys[1], args[1]) end)";
    load_ok(&mut c, "writer", &lib("writer", setter));
    c.expect_cmd(&["FCALL", "setk", "1", "k", "v"], OK);
    c.expect_cmd(&["GET", "k"], bulk("v"));
    // Positional and table forms, several functions in one library.
    let both = "redis.register_function('p1', function() return 'p' end)\n\
        redis.register_function{function_name='t1', callback=function() return 't' end, description='d'}";
    load_ok(&mut c, "both", &lib("both", both));
    c.expect_cmd(&["FCALL", "p1", "0"], bulk("p"));
    c.expect_cmd(&["FCALL", "t1", "0"], bulk("t"));
    // Library code may keep local state and helpers for its functions.
    let helpers = "local prefix = 'n:'\nlocal function key(k) return prefix .. k end\n\
        redis.register_function('incrp', function(keys) return redis.call('incr', key(keys[1])) end)";
    load_ok(&mut c, "helpers", &lib("helpers", helpers));
    c.expect_cmd(&["FCALL", "incrp", "1", "x"], int(1));
    c.expect_cmd(&["GET", "n:x"], bulk("1"));
}

#[test]
fn fcall_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    load_ok(&mut c, "l", &one("l", "f", "1"));
    c.expect_cmd(&["FCALL", "nope", "0"], err("ERR Function not found"));
    c.expect_cmd(&["FCALL", "nope", "x"], err("ERR Function not found"));
    c.expect_cmd(&["FCALL", "f", "x"], err("ERR Bad number of keys provided"));
    c.expect_cmd(&["FCALL", "f", "2", "a"], err("ERR Number of keys can't be greater than number of args"));
    c.expect_cmd(&["FCALL", "f", "-1"], err("ERR Number of keys can't be negative"));
    c.expect_cmd(&["FCALL", "f"], arity_err("fcall"));
    c.expect_cmd(&["FCALL_RO", "f"], arity_err("fcall_ro"));
    // Runtime errors name the function and its line.
    let code = lib(
        "rt",
        "redis.register_function('rt1', function() return redis.call('nope') end)\n\
         redis.register_function('rt2', function() local t = nil return t.x end)\n\
         redis.register_function('rt3', function() newglobal = 1 end)\n\
         redis.register_function('rt4', function() return redis.error_reply('MY own') end)",
    );
    load_ok(&mut c, "rt", &code);
    c.expect_cmd(
        &["FCALL", "rt1", "0"],
        err("ERR Unknown Redis command called from script script: rt1, on @user_function:2."),
    );
    c.expect_cmd(
        &["FCALL", "rt2", "0"],
        err("ERR user_function:3: attempt to index local 't' (a nil value) script: rt2, on @user_function:3."),
    );
    c.expect_cmd(
        &["FCALL", "rt3", "0"],
        err("ERR user_function:4: Attempt to modify a readonly table script: rt3, on @user_function:4."),
    );
    c.expect_cmd(&["FCALL", "rt4", "0"], err("MY own"));
    // Functions are not EVAL scripts: FCALL cannot be called from a script.
    c.expect_cmd(
        &["EVAL", "return redis.call('fcall', 'f', '0')", "0"],
        err(&format!(
            "ERR This Redis command is not allowed from script script: {}, on @user_script:1.",
            sha1_smol::Sha1::from("return redis.call('fcall', 'f', '0')").digest()
        )),
    );
}

#[test]
fn fcall_ro_and_function_flags() {
    let s = TestServer::start();
    let mut c = s.raw();
    let code = lib(
        "flags",
        "redis.register_function('w', function(keys) return redis.call('set', keys[1], 'v') end)\n\
         redis.register_function{function_name='r', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}\n\
         redis.register_function{function_name='rw', callback=function(keys) return redis.call('set', keys[1], 'x') end, flags={'NO-WRITES'}}",
    );
    load_ok(&mut c, "flags", &code);
    c.expect_cmd(&["FCALL", "w", "1", "k"], OK);
    c.expect_cmd(&["FCALL_RO", "r", "1", "k"], bulk("v"));
    c.expect_cmd(&["FCALL", "r", "1", "k"], bulk("v"));
    c.expect_cmd(&["FCALL_RO", "w", "1", "k"], err("ERR Can not execute a script with write flag using *_ro command."));
    let refused = err("ERR Write commands are not allowed from read-only scripts. script: rw, on @user_function:4.");
    c.expect_cmd(&["FCALL", "rw", "1", "k"], &refused);
    c.expect_cmd(&["FCALL_RO", "rw", "1", "k"], &refused);
    c.expect_cmd(&["GET", "k"], bulk("v"));
}

#[test]
fn allow_oom_lets_a_function_run_over_maxmemory() {
    let s = TestServer::start();
    let mut c = s.raw();
    let code = lib(
        "oom",
        "redis.register_function('w', function() return 1 end)\n\
         redis.register_function{function_name='o', callback=function() return 2 end, flags={'allow-oom'}}\n\
         redis.register_function{function_name='r', callback=function() return 3 end, flags={'no-writes'}}",
    );
    load_ok(&mut c, "oom", &code);
    c.call(&["SET", "filler", &"x".repeat(100_000)]);
    c.expect_cmd(&["CONFIG", "SET", "maxmemory", "1"], OK);
    let oom = err("OOM command not allowed when used memory > 'maxmemory'.");
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.call(&["SET", "probe", "x"]) != oom {
        assert!(Instant::now() < deadline, "SET never refused");
        thread::sleep(Duration::from_millis(20));
    }
    c.expect_cmd(&["FCALL", "w", "0"], &oom);
    c.expect_cmd(&["FCALL", "o", "0"], int(2));
    c.expect_cmd(&["FCALL", "r", "0"], int(3));
    c.expect_cmd(&["CONFIG", "SET", "maxmemory", "0"], OK);
}

#[test]
fn load_replace_and_collisions() {
    let s = TestServer::start();
    let mut c = s.raw();
    load_ok(&mut c, "a", &one("a", "fa", "1"));
    load_ok(&mut c, "b", &one("b", "fb", "2"));
    c.expect_cmd(&["FUNCTION", "LOAD", &one("a", "fa", "10")], err("ERR Library 'a' already exists"));
    c.expect_cmd(&["FUNCTION", "LOAD", "REPLACE", &one("a", "fa", "10")], bulk("a"));
    c.expect_cmd(&["FCALL", "fa", "0"], int(10));
    c.expect_cmd(&["function", "load", "replace", &one("a", "fa2", "11")], bulk("a"));
    c.expect_cmd(&["FCALL", "fa", "0"], err("ERR Function not found"));
    c.expect_cmd(&["FCALL", "fa2", "0"], int(11));
    // Another library's function name (in any case) is taken; a failed
    // REPLACE keeps the old library.
    c.expect_cmd(&["FUNCTION", "LOAD", &one("c", "fb", "3")], err("ERR Function fb already exists"));
    c.expect_cmd(&["FUNCTION", "LOAD", &one("c", "FB", "3")], err("ERR Function FB already exists"));
    c.expect_cmd(&["FUNCTION", "LOAD", "REPLACE", &one("a", "fb", "3")], err("ERR Function fb already exists"));
    c.expect_cmd(&["FCALL", "fa2", "0"], int(11));
    let twice = lib("d", "redis.register_function('x', function() end)\nredis.register_function('x', function() end)");
    c.expect_cmd(&["FUNCTION", "LOAD", &twice], register_err("Function already exists in the library"));
    c.expect_cmd(&["FUNCTION", "LOAD", "foo", &one("e", "fe", "1")], err("ERR Unknown option given: foo"));
    c.expect_cmd(&["FUNCTION", "LOAD", "REPLACE", "foo", &one("e", "fe", "1")], err("ERR Unknown option given: foo"));
    // REPLACE alone is the code.
    c.expect_cmd(&["FUNCTION", "LOAD", "REPLACE"], err("ERR Missing library metadata"));
    c.expect_cmd(&["FUNCTION", "LOAD"], arity_err("function|load"));
}

#[test]
fn library_metadata_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    let cases = [
        ("return 1", "ERR Missing library metadata"),
        ("#!lua name=x", "ERR Invalid library metadata"),
        ("#!lua\nreturn 1", "ERR Library name was not given"),
        ("#!lua name=a name=b\n", "ERR Invalid metadata value, name argument was given multiple times"),
        ("#!lua foo=a\n", "ERR Invalid metadata value given: foo=a"),
        ("#!lua name=a-b\n", "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
        ("#!lua name=\n", "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
        ("#!js name=a\n", "ERR Engine 'js' not found"),
        ("#!lua name=empty\nlocal x = 1", "ERR No functions registered"),
        ("#!lua name=bad\nreturn 1 +", "ERR Error compiling function: user_function:2: unexpected symbol near '<eof>'"),
    ];
    for (code, expected) in cases {
        c.expect_cmd(&["FUNCTION", "LOAD", code], err(expected));
    }
    c.expect_cmd(&["FUNCTION", "LIST"], "*0\r\n");
}

#[test]
fn register_function_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    let f = "function() return 1 end";
    let cases = [
        (format!("redis.register_function('f-x', {f})"), "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
        (format!("redis.register_function('', {f})"), "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
        (format!("redis.register_function{{function_name='f', callback={f}, flags={{'bad'}}}}"), "unknown flag given"),
        (format!("redis.register_function{{function_name='f', callback={f}, flags='no-writes'}}"), "flags argument to redis.register_function must be a table representing function flags"),
        (format!("redis.register_function{{function_name='f', callback={f}, foo=1}}"), "unknown argument given to redis.register_function"),
        (format!("redis.register_function{{callback={f}}}"), "redis.register_function must get a function name argument"),
        ("redis.register_function{function_name='f'}".into(), "redis.register_function must get a callback argument"),
        ("redis.register_function{function_name='f', callback=1}".into(), "callback argument given to redis.register_function must be a function"),
        (format!("redis.register_function{{function_name={{}}, callback={f}}}"), "function_name argument given to redis.register_function must be a string"),
        (format!("redis.register_function{{function_name='f', callback={f}, description={{}}}}"), "description argument given to redis.register_function must be a string"),
        ("redis.register_function('f')".into(), "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."),
        ("redis.register_function({}, function() end)".into(), "first argument to redis.register_function must be a string"),
        ("redis.register_function('f', 2)".into(), "second argument to redis.register_function must be a function"),
        ("redis.register_function()".into(), "wrong number of arguments to redis.register_function"),
        ("redis.register_function('a', function() end, 3)".into(), "wrong number of arguments to redis.register_function"),
    ];
    for (body, expected) in cases {
        c.expect_cmd(&["FUNCTION", "LOAD", &lib("l", &body)], register_err(expected));
    }
}

#[test]
fn the_load_sandbox() {
    let s = TestServer::start();
    let mut c = s.raw();
    let f = "redis.register_function('f', function() return 1 end)";
    let cases = [
        (
            "redis.call('set', 'x', 'y')",
            "user_function:2: Script attempted to access nonexistent global variable 'call'",
        ),
        (
            "local s = string.format('%d', 1)",
            "user_function:2: Script attempted to access nonexistent global variable 'string'",
        ),
        ("x = 5", "user_function:2: Attempt to modify a readonly table"),
        ("local y = x", "user_function:2: Script attempted to access nonexistent global variable 'x'"),
        ("error('boom')", "user_function:2: Script attempted to access nonexistent global variable 'error'"),
    ];
    for (line, expected) in cases {
        c.expect_cmd(&["FUNCTION", "LOAD", &lib("l", &format!("{line}\n{f}"))], register_err(expected));
    }
    c.expect_cmd(&["EXISTS", "x"], int(0));
    // What the load API has: log, the version, the log levels.
    let ok = "redis.log(redis.LOG_NOTICE, 'loading')\nlocal v = redis.REDIS_VERSION .. redis.REDIS_VERSION_NUM";
    load_ok(&mut c, "l", &lib("l", &format!("{ok}\n{f}")));
    // A library that never returns is stopped.
    let started = Instant::now();
    c.expect_cmd(&["FUNCTION", "LOAD", &lib("slow", "while true do end")], register_err("FUNCTION LOAD timeout"));
    assert!(started.elapsed() < Duration::from_secs(5));
    // At run time the callbacks see the ordinary globals.
    let run = "redis.register_function('g', function() return string.format('%d', 7) .. tostring(cjson ~= nil) end)";
    load_ok(&mut c, "rt", &lib("rt", run));
    c.expect_cmd(&["FCALL", "g", "0"], bulk("7true"));
    // register_function is for FUNCTION LOAD only.
    let later = "local reg = redis.register_function\n\
        redis.register_function('late', function() reg('x', function() end) end)";
    load_ok(&mut c, "late", &lib("late", later));
    let reply = c.call(&["FCALL", "late", "0"]);
    assert!(reply.starts_with("-ERR redis.register_function can only be called on FUNCTION LOAD command"), "{reply}");
}

// ---------------------------------------------------------------------------
// FUNCTION LIST, DELETE, FLUSH, STATS
// ---------------------------------------------------------------------------

fn listed_library() -> String {
    lib(
        "lst",
        "redis.register_function{function_name='fl', callback=function() return 1 end, \
         flags={'allow-cross-slot-keys', 'no-cluster', 'allow-stale', 'allow-oom', 'no-writes'}, description='my desc'}",
    )
}

#[test]
fn function_list_in_resp2_and_resp3() {
    let s = TestServer::start();
    let mut c = s.raw();
    let code = listed_library();
    load_ok(&mut c, "lst", &code);
    let flags2 = "*5\r\n+no-writes\r\n+allow-oom\r\n+allow-stale\r\n+no-cluster\r\n+allow-cross-slot-keys\r\n";
    let function2 =
        format!("*6\r\n$4\r\nname\r\n$2\r\nfl\r\n$11\r\ndescription\r\n$7\r\nmy desc\r\n$5\r\nflags\r\n{flags2}");
    let head2 = "$12\r\nlibrary_name\r\n$3\r\nlst\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*1\r\n";
    c.expect_cmd(&["FUNCTION", "LIST"], format!("*1\r\n*6\r\n{head2}{function2}"));
    let code_tail = format!("$12\r\nlibrary_code\r\n{}", String::from_utf8(bulk(&code)).unwrap());
    c.expect_cmd(&["FUNCTION", "LIST", "WITHCODE"], format!("*1\r\n*8\r\n{head2}{function2}{code_tail}"));
    c.expect_cmd(
        &["FUNCTION", "LIST", "LIBRARYNAME", "l*", "withcode"],
        format!("*1\r\n*8\r\n{head2}{function2}{code_tail}"),
    );
    c.expect_cmd(&["FUNCTION", "LIST", "libraryname", "x*"], "*0\r\n");
    // A function without description or flags.
    load_ok(&mut c, "plain", &one("plain", "pf", "1"));
    c.expect_cmd(
        &["FUNCTION", "LIST", "LIBRARYNAME", "plain"],
        "*1\r\n*6\r\n$12\r\nlibrary_name\r\n$5\r\nplain\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n\
         *1\r\n*6\r\n$4\r\nname\r\n$2\r\npf\r\n$11\r\ndescription\r\n$-1\r\n$5\r\nflags\r\n*0\r\n",
    );
    assert_eq!(c.call_resp(&["FUNCTION", "LIST"]).items().len(), 2);
    // RESP3: maps, a set of flags, a null description.
    c.call(&["HELLO", "3"]);
    let flags3 = "~5\r\n+no-writes\r\n+allow-oom\r\n+allow-stale\r\n+no-cluster\r\n+allow-cross-slot-keys\r\n";
    c.expect_cmd(
        &["FUNCTION", "LIST", "LIBRARYNAME", "lst"],
        format!(
            "*1\r\n%3\r\n$12\r\nlibrary_name\r\n$3\r\nlst\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*1\r\n\
             %3\r\n$4\r\nname\r\n$2\r\nfl\r\n$11\r\ndescription\r\n$7\r\nmy desc\r\n$5\r\nflags\r\n{flags3}"
        ),
    );
    c.expect_cmd(
        &["FUNCTION", "LIST", "LIBRARYNAME", "plain"],
        "*1\r\n%3\r\n$12\r\nlibrary_name\r\n$5\r\nplain\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n\
         *1\r\n%3\r\n$4\r\nname\r\n$2\r\npf\r\n$11\r\ndescription\r\n_\r\n$5\r\nflags\r\n~0\r\n",
    );
}

#[test]
fn function_list_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["FUNCTION", "LIST", "foo"], err("ERR Unknown argument foo"));
    c.expect_cmd(&["FUNCTION", "LIST", "LIBRARYNAME"], err("ERR library name argument was not given"));
    c.expect_cmd(&["FUNCTION", "LIST", "WITHCODE", "WITHCODE"], err("ERR Unknown argument WITHCODE"));
    c.expect_cmd(
        &["FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b"],
        err("ERR Unknown argument LIBRARYNAME"),
    );
}

#[test]
fn function_delete_and_flush() {
    let s = TestServer::start();
    let mut c = s.raw();
    load_ok(&mut c, "a", &one("a", "fa", "1"));
    load_ok(&mut c, "b", &one("b", "fb", "2"));
    c.expect_cmd(&["FUNCTION", "DELETE", "nope"], err("ERR Library not found"));
    c.expect_cmd(&["FUNCTION", "DELETE", "A"], err("ERR Library not found"));
    c.expect_cmd(&["FUNCTION", "DELETE"], arity_err("function|delete"));
    c.expect_cmd(&["FUNCTION", "DELETE", "a", "b"], arity_err("function|delete"));
    c.expect_cmd(&["FUNCTION", "DELETE", "a"], OK);
    c.expect_cmd(&["FCALL", "fa", "0"], err("ERR Function not found"));
    c.expect_cmd(&["FCALL", "fb", "0"], int(2));
    // The name is free again.
    load_ok(&mut c, "a", &one("a", "fa", "3"));
    c.expect_cmd(&["FCALL", "fa", "0"], int(3));
    c.expect_cmd(&["FUNCTION", "FLUSH"], OK);
    c.expect_cmd(&["FCALL", "fb", "0"], err("ERR Function not found"));
    c.expect_cmd(&["FUNCTION", "LIST"], "*0\r\n");
    load_ok(&mut c, "a", &one("a", "fa", "4"));
    c.expect_cmd(&["FUNCTION", "FLUSH", "ASYNC"], OK);
    c.expect_cmd(&["FUNCTION", "FLUSH", "sync"], OK);
    c.expect_cmd(&["FUNCTION", "LIST"], "*0\r\n");
}

#[test]
fn function_stats_when_idle() {
    let s = TestServer::start();
    let mut c = s.raw();
    load_ok(
        &mut c,
        "a",
        &lib("a", "redis.register_function('f1', function() end)\nredis.register_function('f2', function() end)"),
    );
    load_ok(&mut c, "b", &one("b", "f3", "1"));
    c.expect_cmd(
        &["FUNCTION", "STATS"],
        "*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n\
         *4\r\n$15\r\nlibraries_count\r\n:2\r\n$15\r\nfunctions_count\r\n:3\r\n",
    );
    c.call(&["HELLO", "3"]);
    c.expect_cmd(
        &["FUNCTION", "STATS"],
        "%2\r\n$14\r\nrunning_script\r\n_\r\n$7\r\nengines\r\n%1\r\n$3\r\nLUA\r\n\
         %2\r\n$15\r\nlibraries_count\r\n:2\r\n$15\r\nfunctions_count\r\n:3\r\n",
    );
    c.expect_cmd(&["FUNCTION", "STATS", "x"], arity_err("function|stats"));
}

#[test]
fn info_counts_functions_and_libraries() {
    let s = TestServer::start();
    let mut c = s.raw();
    let info = c.info("memory");
    assert_eq!((info_int(&info, "number_of_functions"), info_int(&info, "number_of_libraries")), (0, 0));
    load_ok(
        &mut c,
        "a",
        &lib("a", "redis.register_function('f1', function() end)\nredis.register_function('f2', function() end)"),
    );
    load_ok(&mut c, "b", &one("b", "f3", "1"));
    let info = c.info("memory");
    assert_eq!((info_int(&info, "number_of_functions"), info_int(&info, "number_of_libraries")), (3, 2));
    c.expect_cmd(&["FUNCTION", "DELETE", "a"], OK);
    let info = c.info("memory");
    assert_eq!((info_int(&info, "number_of_functions"), info_int(&info, "number_of_libraries")), (1, 1));
}

#[test]
fn info_memory_of_functions_and_async_flush() {
    let s = TestServer::start();
    let mut c = s.raw();
    let fields = [
        "used_memory_lua",
        "used_memory_vm_eval",
        "used_memory_lua_human",
        "used_memory_scripts_eval",
        "number_of_cached_scripts",
        "number_of_functions",
        "number_of_libraries",
        "used_memory_vm_functions",
        "used_memory_vm_total",
        "used_memory_vm_total_human",
        "used_memory_functions",
        "used_memory_scripts",
        "used_memory_scripts_human",
    ];
    // Redis 7.4's lines, in its order.
    let info = c.info("memory");
    let positions: Vec<usize> =
        fields.iter().map(|f| info.find(&format!("\r\n{f}:")).unwrap_or_else(|| panic!("{f}: {info}"))).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{info}");
    let empty = info_int(&info, "used_memory_vm_functions");
    assert!(empty < 40_000, "{info}");
    for i in 0..100 {
        load_ok(&mut c, &format!("l{i}"), &one(&format!("l{i}"), &format!("f{i}"), "1"));
    }
    let info = c.info("memory");
    assert!(info_int(&info, "used_memory_vm_functions") > empty + 10_000, "{info}");
    assert!(info_int(&info, "used_memory_functions") > 100 * 50, "{info}");
    assert_eq!(
        info_int(&info, "used_memory_vm_total"),
        info_int(&info, "used_memory_vm_eval") + info_int(&info, "used_memory_vm_functions")
    );
    assert_eq!(
        info_int(&info, "used_memory_scripts"),
        info_int(&info, "used_memory_scripts_eval") + info_int(&info, "used_memory_functions")
    );
    // An async flush of more than 64 functions frees them (and the
    // engine) in the background, counted in lazyfreed_objects as Redis 7.4
    // counts them (7.0 leaves out the engine); the functions' interpreter
    // memory drops at once (7.4 rebuilds it).
    c.expect_cmd(&["CONFIG", "RESETSTAT"], OK);
    c.expect_cmd(&["FUNCTION", "FLUSH", "ASYNC"], OK);
    let info = c.info("memory");
    assert_eq!(info_int(&info, "number_of_libraries"), 0);
    // Redis 7.0 frees the functions' memory later: 7.4's answers here.
    if redistill_only() {
        return;
    }
    assert!(info_int(&info, "used_memory_vm_functions") < 40_000, "{info}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while info_int(&c.info("memory"), "lazyfreed_objects") != 101 {
        assert!(Instant::now() < deadline, "{}", c.info("memory"));
        thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------
// FUNCTION DUMP and RESTORE
// ---------------------------------------------------------------------------

fn dump(c: &mut RawClient) -> Vec<u8> {
    c.call_resp(&["FUNCTION", "DUMP"]).bytes().to_vec()
}

fn restore(c: &mut RawClient, payload: &[u8], policy: Option<&str>) -> String {
    let mut args: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", payload];
    if let Some(policy) = policy {
        args.push(policy.as_bytes());
    }
    c.call(&args)
}

#[test]
fn dump_and_restore_with_each_policy() {
    let s = TestServer::start();
    let mut c = s.raw();
    load_ok(&mut c, "a", &one("a", "fa", "1"));
    load_ok(&mut c, "b", &listed_library().replace("lst", "b"));
    let list_before = c.call(&["FUNCTION", "LIST", "WITHCODE"]);
    let payload = dump(&mut c);
    c.expect_cmd(&["FUNCTION", "FLUSH"], OK);
    assert_eq!(restore(&mut c, &payload, None), OK);
    c.expect_cmd(&["FUNCTION", "LIST", "WITHCODE"], &list_before);
    c.expect_cmd(&["FCALL", "fa", "0"], int(1));
    // APPEND (the default) refuses a library that exists, and adds nothing.
    c.expect_cmd(&["FUNCTION", "DELETE", "b"], OK);
    assert_eq!(restore(&mut c, &payload, Some("APPEND")), err("ERR Library a already exists"));
    assert_eq!(restore(&mut c, &payload, None), err("ERR Library a already exists"));
    c.expect_cmd(&["FCALL", "fl", "0"], err("ERR Function not found"));
    // REPLACE swaps libraries of the same name.
    c.expect_cmd(&["FUNCTION", "DELETE", "a"], OK);
    load_ok(&mut c, "a", &one("a", "fa", "9"));
    assert_eq!(restore(&mut c, &payload, Some("replace")), OK);
    c.expect_cmd(&["FCALL", "fa", "0"], int(1));
    c.expect_cmd(&["FUNCTION", "LIST", "WITHCODE"], &list_before);
    // REPLACE still fails on a function another library has.
    c.expect_cmd(&["FUNCTION", "DELETE", "a"], OK);
    load_ok(&mut c, "other", &one("other", "fa", "7"));
    assert_eq!(restore(&mut c, &payload, Some("REPLACE")), err("ERR Function fa already exists"));
    c.expect_cmd(&["FCALL", "fa", "0"], int(7));
    // FLUSH drops what was there first.
    assert_eq!(restore(&mut c, &payload, Some("FLUSH")), OK);
    c.expect_cmd(&["FUNCTION", "LIST", "WITHCODE"], &list_before);
    c.expect_cmd(&["FCALL", "fa", "0"], int(1));
    // An empty dump restores to nothing.
    c.expect_cmd(&["FUNCTION", "FLUSH"], OK);
    let empty = dump(&mut c);
    assert_eq!(restore(&mut c, &empty, None), OK);
    c.expect_cmd(&["FUNCTION", "LIST"], "*0\r\n");
}

#[test]
fn restore_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    load_ok(&mut c, "a", &one("a", "fa", "1"));
    let payload = dump(&mut c);
    let wrong = err("ERR DUMP payload version or checksum are wrong");
    assert_eq!(restore(&mut c, b"foo", None), wrong);
    assert_eq!(restore(&mut c, b"", None), wrong);
    let mut corrupt = payload.clone();
    corrupt[2] ^= 0x40;
    assert_eq!(restore(&mut c, &corrupt, None), wrong);
    assert_eq!(restore(&mut c, &payload[..payload.len() - 1], None), wrong);
    assert_eq!(
        restore(&mut c, &payload, Some("bar")),
        err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
    );
    c.expect_cmd(
        &["FUNCTION", "RESTORE", "foo", "FLUSH", "x"],
        err("ERR unknown subcommand or wrong number of arguments for 'RESTORE'. Try FUNCTION HELP."),
    );
    c.expect_cmd(&["FUNCTION", "RESTORE"], arity_err("function|restore"));
    c.expect_cmd(&["FUNCTION", "DUMP", "x"], arity_err("function|dump"));
    // A key's DUMP payload is not a functions payload.
    c.call(&["SET", "k", "v"]);
    let key_payload = c.call_resp(&["DUMP", "k"]).bytes().to_vec();
    let reply = restore(&mut c, &key_payload, None);
    assert!(reply.starts_with("-ERR "), "{reply}");
    c.expect_cmd(&["FCALL", "fa", "0"], int(1));
}

// ---------------------------------------------------------------------------
// Busy functions, FUNCTION KILL and STATS while one runs
// ---------------------------------------------------------------------------

fn multi_worker_server() -> TestServer {
    TestServer::start_with("[server]\nthreads = 4\n")
}

const BUSY_FUNCTION: &str = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

fn wait_busy_function(c: &mut RawClient) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = c.call(&["PING"]);
        if reply.starts_with("-BUSY") {
            assert_eq!(reply, err(BUSY_FUNCTION));
            return;
        }
        assert!(Instant::now() < deadline, "never busy: {reply}");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn function_kill_and_stats_while_busy() {
    let s = multi_worker_server();
    let mut admin = s.raw();
    admin.expect_cmd(&["CONFIG", "SET", "busy-reply-threshold", "100"], OK);
    load_ok(&mut admin, "spin", &lib("spin", "redis.register_function('spin', function() while true do end end)"));
    let mut runner = s.raw();
    runner.send_cmd(&["FCALL", "spin", "1", "k", "arg"]);
    thread::sleep(Duration::from_millis(50));
    wait_busy_function(&mut admin);
    admin.expect_cmd(&["FUNCTION", "LIST"], err(BUSY_FUNCTION));
    let stats = admin.call_resp(&["FUNCTION", "STATS"]).pairs();
    let running = stats[0].1.pairs();
    assert_eq!((running[0].0.as_str(), running[0].1.text()), ("name", "spin".to_string()));
    let command: Vec<String> = running[1].1.items().iter().map(|a| a.text()).collect();
    assert_eq!(command, ["FCALL", "spin", "1", "k", "arg"]);
    assert!(running[2].1.int() >= 100, "{running:?}");
    admin.expect_cmd(&["SCRIPT", "KILL"], err(BUSY_FUNCTION));
    admin.expect_cmd(&["FUNCTION", "KILL"], OK);
    let reply = runner.read_reply();
    assert!(reply.starts_with("-ERR Script killed by user with SCRIPT KILL..."), "{reply}");
    admin.expect_cmd(&["PING"], PONG);
    admin.expect_cmd(&["FUNCTION", "KILL"], err("NOTBUSY No scripts in execution right now."));
}

#[test]
fn function_stats_refuses_while_an_eval_script_is_busy() {
    let s = multi_worker_server();
    let mut admin = s.raw();
    admin.expect_cmd(&["CONFIG", "SET", "busy-reply-threshold", "100"], OK);
    let mut runner = s.raw();
    runner.send_cmd(&["EVAL", "while true do end", "0"]);
    thread::sleep(Duration::from_millis(50));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !admin.call(&["PING"]).starts_with("-BUSY") {
        assert!(Instant::now() < deadline, "never busy");
        thread::sleep(Duration::from_millis(20));
    }
    admin.expect_cmd(
        &["FUNCTION", "STATS"],
        err("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."),
    );
    admin.expect_cmd(&["SCRIPT", "KILL"], OK);
    assert!(runner.read_reply().starts_with("-ERR Script killed"));
}

// ---------------------------------------------------------------------------
// Libraries shared by every worker, MULTI, COMMAND
// ---------------------------------------------------------------------------

#[test]
fn every_worker_sees_each_library_version() {
    let s = multi_worker_server();
    let mut clients: Vec<RawClient> = (0..8).map(|_| s.raw()).collect();
    load_ok(&mut clients[0], "shared", &one("shared", "ver", "1"));
    for c in &mut clients {
        c.expect_cmd(&["FCALL", "ver", "0"], int(1));
    }
    clients[3].expect_cmd(&["FUNCTION", "LOAD", "REPLACE", &one("shared", "ver", "2")], bulk("shared"));
    for c in &mut clients {
        c.expect_cmd(&["FCALL", "ver", "0"], int(2));
    }
    clients[5].expect_cmd(&["FUNCTION", "DELETE", "shared"], OK);
    for c in &mut clients {
        c.expect_cmd(&["FCALL", "ver", "0"], err("ERR Function not found"));
    }
    // A worker's interpreter reset (SCRIPT FLUSH) reloads libraries.
    load_ok(&mut clients[1], "again", &one("again", "ver", "3"));
    clients[2].expect_cmd(&["SCRIPT", "FLUSH"], OK);
    for c in &mut clients {
        c.expect_cmd(&["FCALL", "ver", "0"], int(3));
    }
}

#[test]
fn a_library_with_thousands_of_functions() {
    let s = TestServer::start();
    let mut c = s.raw();
    let body: Vec<String> =
        (0..9000).map(|i| format!("redis.register_function('f{i}', function() return {i} end)")).collect();
    load_ok(&mut c, "big", &lib("big", &body.join("\n")));
    c.expect_cmd(&["FCALL", "f0", "0"], int(0));
    c.expect_cmd(&["FCALL", "f8999", "0"], int(8999));
    let info = c.info("memory");
    assert_eq!(info_int(&info, "number_of_functions"), 9000);
}

#[test]
fn fifty_thousand_libraries_then_flush() {
    // One worker holds every library: a Lua reference per library once
    // exhausted mlua's ~8000 slots and killed the worker, and loading
    // them was quadratic (a copy of every library, and a full garbage
    // collection, per load).
    let s = TestServer::start_with("[server]\nthreads = 1\n");
    let mut c = s.raw();
    c.set_read_timeout(Duration::from_secs(120));
    const N: usize = 50_000;
    for start in (0..N).step_by(5000) {
        let mut batch = Vec::new();
        for i in start..start + 5000 {
            batch.extend(encode(&["FUNCTION", "LOAD", &one(&format!("l{i}"), &format!("f{i}"), &i.to_string())]));
        }
        c.send(&batch);
        for i in start..start + 5000 {
            assert_eq!(c.read_reply().into_bytes(), bulk(format!("l{i}")));
        }
    }
    c.expect_cmd(&["FCALL", "f0", "0"], int(0));
    c.expect_cmd(&["FCALL", &format!("f{}", N - 1), "0"], int(N as i64 - 1));
    assert_eq!(info_int(&c.info("memory"), "number_of_libraries"), N as i64);
    c.expect_cmd(&["FUNCTION", "FLUSH"], OK);
    c.expect_cmd(&["FCALL", "f0", "0"], err("ERR Function not found"));
    load_ok(&mut c, "again", &one("again", "g", "7"));
    c.expect_cmd(&["FCALL", "g", "0"], int(7));
    assert_eq!(c.call(&["EVAL", "return 'alive'", "0"]).into_bytes(), bulk("alive"));
}

#[test]
fn fcall_in_multi_and_command_keys() {
    let s = TestServer::start();
    let mut c = s.raw();
    load_ok(
        &mut c,
        "m",
        &lib("m", "redis.register_function('inc', function(keys) return redis.call('incr', keys[1]) end)"),
    );
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["FCALL", "inc", "1", "n"], "+QUEUED\r\n");
    c.expect_cmd(&["FCALL", "inc", "1", "n"], "+QUEUED\r\n");
    c.expect_cmd(&["EXEC"], ints(&[1, 2]));
    c.expect_cmd(&["COMMAND", "GETKEYS", "FCALL", "inc", "2", "a", "b", "x"], "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    c.expect_cmd(&["COMMAND", "GETKEYS", "FCALL_RO", "inc", "1", "a"], "*1\r\n$1\r\na\r\n");
}
