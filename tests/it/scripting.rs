//! Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT; the
//! conversions between replies and Lua values both ways, in RESP2 and
//! RESP3; the sandbox; the exact errors clients branch on; BUSY and SCRIPT
//! KILL; atomicity under concurrency; MULTI/EXEC and WATCH with scripts.
//! Everything is checked against redis-server 7.0 too (differential mode),
//! except what is marked `redistill_only` (Lua memory cap).

use crate::common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// `-ERR <msg> script: <sha>, on @user_script:<line>.`: a runtime error.
fn runtime_err(msg: &str, script: &str, line: u32) -> String {
    let sha = sha1(script);
    err(&format!("{msg} script: {sha}, on @user_script:{line}."))
}

/// The SHA1 the server names a script by.
fn sha1(script: &str) -> String {
    sha1_smol::Sha1::from(script).digest().to_string()
}

fn eval(c: &mut RawClient, script: &str, args: &[&str]) -> String {
    let mut cmd = vec!["EVAL", script];
    cmd.extend_from_slice(args);
    c.call(&cmd)
}

// ---------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------

#[test]
fn lua_values_become_redis_replies() {
    let s = TestServer::start();
    let mut c = s.raw();
    assert_eq!(eval(&mut c, "return 3.9", &["0"]), int(3));
    assert_eq!(eval(&mut c, "return -3.9", &["0"]), int(-3));
    assert_eq!(eval(&mut c, "return 'hi'", &["0"]), "$2\r\nhi\r\n");
    assert_eq!(eval(&mut c, "return {1,2,nil,4}", &["0"]), ints(&[1, 2]));
    assert_eq!(eval(&mut c, "return {1,2,3.7,nil,5}", &["0"]), ints(&[1, 2, 3]));
    assert_eq!(eval(&mut c, "return {err='My Error'}", &["0"]), "-My Error\r\n");
    assert_eq!(eval(&mut c, "return redis.error_reply('oops')", &["0"]), err("ERR oops"));
    assert_eq!(eval(&mut c, "return redis.error_reply('MY thing')", &["0"]), err("MY thing"));
    assert_eq!(eval(&mut c, "return redis.status_reply('fine')", &["0"]), "+fine\r\n");
    assert_eq!(eval(&mut c, "return {ok='fine'}", &["0"]), "+fine\r\n");
    assert_eq!(eval(&mut c, "return {ok='a\\r\\nb'}", &["0"]), "+a  b\r\n");
    assert_eq!(eval(&mut c, "return false", &["0"]), "$-1\r\n");
    assert_eq!(eval(&mut c, "return true", &["0"]), int(1));
    assert_eq!(eval(&mut c, "return nil", &["0"]), "$-1\r\n");
    assert_eq!(eval(&mut c, "return {}", &["0"]), "*0\r\n");
    assert_eq!(eval(&mut c, "return {'a', {1, 'b'}}", &["0"]), "*2\r\n$1\r\na\r\n*2\r\n:1\r\n$1\r\nb\r\n");
    assert_eq!(
        eval(&mut c, "return {KEYS[1], ARGV[1], #KEYS, #ARGV}", &["1", "k", "a", "b"]),
        "*4\r\n$1\r\nk\r\n$1\r\na\r\n:1\r\n:2\r\n"
    );
}

#[test]
fn redis_replies_become_lua_values() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.call(&["SET", "str", "abc"]);
    c.call(&["HSET", "h", "f", "v"]);
    // integer -> number, bulk -> string, nil -> false, status -> {ok=}, error -> {err=}
    assert_eq!(eval(&mut c, "return type(redis.call('incr', 'n'))", &["0"]), "$6\r\nnumber\r\n");
    assert_eq!(eval(&mut c, "return type(redis.call('get', 'str'))", &["0"]), "$6\r\nstring\r\n");
    assert_eq!(eval(&mut c, "return redis.call('get', 'missing') == false", &["0"]), int(1));
    assert_eq!(eval(&mut c, "return redis.call('set', 'x', '1').ok", &["0"]), "$2\r\nOK\r\n");
    assert_eq!(
        eval(&mut c, "return redis.pcall('incr', 'str').err", &["0"]),
        "$43\r\nERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        eval(&mut c, "return redis.pcall('incr', 'str')", &["0"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(eval(&mut c, "return redis.call('hgetall', 'h')", &["0"]), "*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    // Numbers passed to redis.call are formatted with 17 digits.
    assert_eq!(eval(&mut c, "return redis.call('set', 'f', 0.1)", &["0"]), "+OK\r\n");
    c.expect_cmd(&["GET", "f"], "$19\r\n0.10000000000000001\r\n");
    assert_eq!(eval(&mut c, "return redis.call('set', 'f', 2)", &["0"]), "+OK\r\n");
    assert_eq!(c.call(&["GET", "f"]), "$1\r\n2\r\n");
}

#[test]
fn resp3_conversions_after_setresp() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.call(&["HSET", "h", "f", "v"]);
    // Under RESP2 (the caller's protocol) a map comes back flat.
    assert_eq!(eval(&mut c, "redis.setresp(3) return redis.call('hgetall', 'h')['map']['f']", &["0"]), "$1\r\nv\r\n");
    assert_eq!(eval(&mut c, "redis.setresp(3) return redis.call('get', 'missing') == nil", &["0"]), int(1));
    assert_eq!(eval(&mut c, "redis.setresp(3) return {map={a=1}}", &["0"]), "*2\r\n$1\r\na\r\n:1\r\n");
    assert_eq!(eval(&mut c, "return {double=3.5}", &["0"]), "$3\r\n3.5\r\n");
    assert_eq!(eval(&mut c, "redis.setresp(3) return true", &["0"]), int(1));
    assert_eq!(eval(&mut c, "redis.setresp(3) return false", &["0"]), int(0));
    c.call(&["HELLO", "3"]);
    assert_eq!(eval(&mut c, "redis.setresp(3) return true", &["0"]), "#t\r\n");
    assert_eq!(eval(&mut c, "return false", &["0"]), "_\r\n");
    assert_eq!(eval(&mut c, "return {map={a=1}}", &["0"]), "%1\r\n$1\r\na\r\n:1\r\n");
    assert_eq!(eval(&mut c, "return {set={a=true}}", &["0"]), "~1\r\n$1\r\na\r\n");
    assert_eq!(eval(&mut c, "return {double=3.5}", &["0"]), ",3.5\r\n");
    assert_eq!(eval(&mut c, "return {big_number='123'}", &["0"]), "(123\r\n");
    assert_eq!(
        eval(&mut c, "redis.setresp(3) return redis.call('hgetall', 'h')", &["0"]),
        "%1\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
    let script = "redis.setresp(4)";
    assert_eq!(eval(&mut c, script, &["0"]), runtime_err("ERR RESP version must be 2 or 3.", script, 1));
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

#[test]
fn numkeys_and_noscript_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    assert_eq!(eval(&mut c, "return 1", &["-1"]), err("ERR Number of keys can't be negative"));
    assert_eq!(eval(&mut c, "return 1", &["2", "a"]), err("ERR Number of keys can't be greater than number of args"));
    assert_eq!(eval(&mut c, "return 1", &["abc"]), err("ERR value is not an integer or out of range"));
    let noscript = err("NOSCRIPT No matching script. Please use EVAL.");
    c.expect_cmd(&["EVALSHA", "0123456789012345678901234567890123456789", "0"], &noscript);
    c.expect_cmd(&["EVALSHA", "abc", "0"], &noscript);
    c.expect_cmd(&["EVALSHA_RO", "abc", "0"], &noscript);
    c.expect_cmd(&["EVAL", "return 1"], arity_err("eval"));
    c.expect_cmd(&["EVALSHA", "x"], arity_err("evalsha"));
}

#[test]
fn compile_and_runtime_errors_have_redis_format() {
    let s = TestServer::start();
    let mut c = s.raw();
    assert_eq!(
        eval(&mut c, "return 1 +", &["0"]),
        err("ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'")
    );
    let script = "error('x')";
    assert_eq!(eval(&mut c, script, &["0"]), runtime_err("ERR user_script:1: x", script, 1));
    let script = "local a = 1\nreturn redis.call('nosuch')";
    assert_eq!(eval(&mut c, script, &["0"]), runtime_err("ERR Unknown Redis command called from script", script, 2));
    let script = "return redis.call('get')";
    assert_eq!(
        eval(&mut c, script, &["0"]),
        runtime_err("ERR Wrong number of args calling Redis command from script", script, 1)
    );
    let script = "return redis.call()";
    assert_eq!(
        eval(&mut c, script, &["0"]),
        runtime_err("ERR Please specify at least one argument for this redis lib call", script, 1)
    );
    let script = "return redis.call({})";
    assert_eq!(
        eval(&mut c, script, &["0"]),
        runtime_err("ERR Lua redis lib command arguments must be strings or integers", script, 1)
    );
    c.call(&["SET", "str", "abc"]);
    let script = "return redis.call('incr', 'str')";
    assert_eq!(eval(&mut c, script, &["0"]), runtime_err("ERR value is not an integer or out of range", script, 1));
    // redis.pcall returns the error; pcall(redis.call) gets its text.
    assert_eq!(
        eval(&mut c, "return redis.pcall('nosuch')", &["0"]),
        err("ERR Unknown Redis command called from script")
    );
    assert_eq!(
        eval(&mut c, "local ok, e = pcall(redis.call, 'incr', 'str') return e", &["0"]),
        "$43\r\nERR value is not an integer or out of range\r\n"
    );
}

#[test]
fn commands_scripts_may_not_call() {
    let s = TestServer::start();
    let mut c = s.raw();
    for cmd in ["multi", "exec", "watch", "eval", "script", "client", "config", "subscribe", "hello", "auth"] {
        let script = format!("return redis.call('{cmd}', 'a', 'b')");
        let reply = eval(&mut c, &script, &["0"]);
        assert!(
            reply.starts_with("-ERR This Redis command is not allowed from script script: ")
                || reply.starts_with("-ERR Wrong number of args calling")
                || reply.starts_with("-ERR Unknown Redis command"),
            "{cmd}: {reply}"
        );
    }
    // Blocking commands too (Redis 7.0 flags them noscript), whether or
    // not they would block.
    c.expect_cmd(&["RPUSH", "full", "x"], ":1\r\n");
    for script in [
        "return redis.call('multi')",
        "return redis.call('blpop', 'empty', 0)",
        "return redis.call('brpop', 'full', 1)",
        "return redis.call('blmove', 'full', 'd', 'left', 'left', 0)",
    ] {
        assert_eq!(
            eval(&mut c, script, &["0"]),
            runtime_err("ERR This Redis command is not allowed from script", script, 1),
            "{script}"
        );
    }
}

#[test]
fn read_only_scripts_refuse_writes() {
    let s = TestServer::start();
    let mut c = s.raw();
    let script = "return redis.call('set','a','b')";
    c.expect_cmd(
        &["EVAL_RO", script, "0"],
        runtime_err("ERR Write commands are not allowed from read-only scripts.", script, 1),
    );
    let script = "#!lua flags=no-writes\nreturn redis.call('set','a','b')";
    assert_eq!(
        eval(&mut c, script, &["0"]),
        runtime_err("ERR Write commands are not allowed from read-only scripts.", script, 2)
    );
    c.expect_cmd(
        &["EVAL_RO", "#!lua\nreturn 1", "0"],
        err("ERR Can not execute a script with write flag using *_ro command."),
    );
    c.expect_cmd(&["EVAL_RO", "#!lua flags=no-writes\nreturn redis.call('get','a')", "0"], "$-1\r\n");
    c.expect_cmd(&["EVAL_RO", "return redis.call('get','a')", "0"], "$-1\r\n");
    c.call(&["SCRIPT", "LOAD", "return redis.call('get','a')"]);
    let sha = sha1("return redis.call('get','a')");
    c.expect_cmd(&["EVALSHA_RO", &sha, "0"], "$-1\r\n");
    assert_eq!(c.call(&["EXISTS", "a"]), int(0));
}

#[test]
fn shebang_flags_and_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    assert_eq!(eval(&mut c, "#!lua\nreturn redis.call('set','a','b')", &["0"]), "+OK\r\n");
    assert_eq!(eval(&mut c, "#!lua flags=no-writes,allow-oom\nreturn 1", &["0"]), int(1));
    let script = "#!lua\nerror('x')";
    assert_eq!(eval(&mut c, script, &["0"]), runtime_err("ERR user_script:2: x", script, 2));
    assert_eq!(eval(&mut c, "#!lua flags=bad\nreturn 1", &["0"]), err("ERR Unexpected flag in script shebang: bad"));
    assert_eq!(eval(&mut c, "#!luax\nreturn 1", &["0"]), err("ERR Unexpected engine in script shebang: #!luax"));
    assert_eq!(eval(&mut c, "#!lua name=x\nreturn 1", &["0"]), err("ERR Unknown lua shebang option: name=x"));
}

// ---------------------------------------------------------------------------
// Sandbox and libraries
// ---------------------------------------------------------------------------

#[test]
fn globals_are_protected() {
    let s = TestServer::start();
    let mut c = s.raw();
    let script = "x = 5";
    assert_eq!(
        eval(&mut c, script, &["0"]),
        runtime_err("ERR user_script:1: Attempt to modify a readonly table", script, 1)
    );
    let script = "return y";
    assert_eq!(
        eval(&mut c, script, &["0"]),
        runtime_err("ERR user_script:1: Script attempted to access nonexistent global variable 'y'", script, 1)
    );
    for name in ["io", "require", "loadfile", "dofile", "print", "getfenv", "setfenv"] {
        let script = format!("return {name}");
        let reply = eval(&mut c, &script, &["0"]);
        assert!(reply.contains(&format!("nonexistent global variable '{name}'")), "{name}: {reply}");
    }
    assert_eq!(eval(&mut c, "return loadstring('return 1')()", &["0"]), int(1));
    assert_eq!(eval(&mut c, "local t = {} t.x = 1 return t.x", &["0"]), int(1));
}

#[test]
fn library_tables_and_the_global_metatable_are_read_only() {
    let s = TestServer::start();
    let mut c = s.raw();
    let positioned = [
        "local g = getmetatable(_G) g.__index = {}",
        "redis.call = function() return 1 end",
        "cjson.encode = function() return 1 end",
        "cmsgpack.pack = function() return 1 end",
        "bit.lshift = function() return 1 end",
        "struct.pack = 1",
        "string.rep = 1",
        "redis = function() return 1 end",
        "string = nil",
        "_G.KEYS = nil",
        "_G = {}",
    ];
    for script in positioned {
        assert_eq!(
            eval(&mut c, script, &["0"]),
            runtime_err("ERR user_script:1: Attempt to modify a readonly table", script, 1),
            "{script}"
        );
    }
    for script in ["setmetatable(_G, {})", "rawset(_G, 'x', 1)", "rawset(redis, 'call', 1)"] {
        assert_eq!(eval(&mut c, script, &["0"]), runtime_err("ERR Attempt to modify a readonly table", script, 1));
    }
    // Chunks made by loadstring run in the same environment.
    let reply = eval(&mut c, "loadstring('string = nil')()", &["0"]);
    assert!(reply.starts_with("-ERR [string \"string = nil\"]:1: Attempt to modify a readonly table"), "{reply}");
    // Nothing leaked into later scripts; ordinary tables are free.
    assert_eq!(eval(&mut c, "return redis.call('ping')", &["0"]), "+PONG\r\n");
    assert_eq!(eval(&mut c, "return string.rep('a', 2)", &["0"]), "$2\r\naa\r\n");
    assert_eq!(
        eval(
            &mut c,
            "local t = setmetatable({}, {__index = function() return 5 end}) rawset(t, 'y', 1) return t.x + t.y",
            &["0"]
        ),
        int(6)
    );
    // Precompiled chunks are refused (loadstring gives nil).
    let script = "return loadstring(string.dump(function() return 1 end))()";
    assert_eq!(eval(&mut c, script, &["0"]), runtime_err("ERR user_script:1: attempt to call a nil value", script, 1));
    // Writes through the table library and the strings' metatable are
    // refused too; reading and iterating see the real tables.
    for script in ["table.insert(string, 1)", "table.insert(_G, 1)", "table.insert(cjson, 1, 2)"] {
        assert_eq!(eval(&mut c, script, &["0"]), runtime_err("ERR Attempt to modify a readonly table", script, 1));
    }
    for script in ["getmetatable('').__index = {}", "coroutine.x = 1"] {
        assert_eq!(
            eval(&mut c, script, &["0"]),
            runtime_err("ERR user_script:1: Attempt to modify a readonly table", script, 1),
            "{script}"
        );
    }
    let count = |table: &str| format!("local n = 0 for k, v in pairs({table}) do n = n + 1 end return n");
    assert_eq!(eval(&mut c, &count("redis"), &["0"]), int(23));
    assert_eq!(eval(&mut c, &count("string"), &["0"]), int(15));
    assert_eq!(eval(&mut c, &count("cjson"), &["0"]), int(13));
    assert_eq!(eval(&mut c, &count("bit"), &["0"]), int(12));
    assert_eq!(eval(&mut c, "local n = 0 for i, v in ipairs(redis) do n = n + 1 end return n", &["0"]), int(0));
    assert_eq!(eval(&mut c, "return {next(string) ~= nil, rawget(redis, 'call') ~= nil}", &["0"]), ints(&[1, 1]));
    assert_eq!(eval(&mut c, "return {type(getmetatable(redis)), #string}", &["0"]), "*2\r\n$3\r\nnil\r\n:0\r\n");
    assert_eq!(eval(&mut c, "return type(getmetatable(_G).__index)", &["0"]), "$8\r\nfunction\r\n");
    assert_eq!(eval(&mut c, "return tostring(getmetatable(_G).__newindex)", &["0"]), "$3\r\nnil\r\n");
    // Precompiled chunks fail to parse, with Lua's text parser's error.
    assert_eq!(
        eval(&mut c, "local f, e = loadstring(string.dump(function() return 1 end), 'x') return e", &["0"]),
        "$49\r\n[string \"x\"]:1: unexpected symbol near 'char(27)'\r\n"
    );
    // An error inside a loadstring chunk names that chunk.
    let script = "return loadstring('x = 1')()";
    assert_eq!(
        eval(&mut c, script, &["0"]),
        err(&format!(
            "ERR [string \"x = 1\"]:1: Attempt to modify a readonly table script: {}, on x = 1:1.",
            sha1(script)
        ))
    );
    // The scripts' own tables are theirs.
    assert_eq!(
        eval(&mut c, "KEYS[1] = 'b' table.insert(ARGV, 'z') return {KEYS[1], ARGV[2]}", &["1", "a", "y"]),
        String::from_utf8(bulks(&["b", "z"])).unwrap()
    );
    // Functions get the same protection.
    let lib = "#!lua name=ro\nredis.register_function('ro', function() setmetatable(_G, nil) end)\n\
        redis.register_function('ro2', function() cjson.decode = 1 end)";
    assert_eq!(c.call(&["FUNCTION", "LOAD", lib]), "$2\r\nro\r\n");
    assert_eq!(
        c.call(&["FCALL", "ro", "0"]),
        err("ERR Attempt to modify a readonly table script: ro, on @user_function:2.")
    );
    assert_eq!(
        c.call(&["FCALL", "ro2", "0"]),
        err("ERR user_function:3: Attempt to modify a readonly table script: ro2, on @user_function:3.")
    );
}

#[test]
fn cjson_and_bit_behave_as_redis() {
    let s = TestServer::start();
    let mut c = s.raw();
    assert_eq!(eval(&mut c, "return cjson.encode({a=1})", &["0"]), "$7\r\n{\"a\":1}\r\n");
    assert_eq!(eval(&mut c, "return cjson.encode({1,2,3})", &["0"]), "$7\r\n[1,2,3]\r\n");
    assert_eq!(eval(&mut c, "return cjson.encode({})", &["0"]), "$2\r\n{}\r\n");
    assert_eq!(eval(&mut c, "return cjson.encode({1,2,nil,4})", &["0"]), "$12\r\n[1,2,null,4]\r\n");
    assert_eq!(eval(&mut c, "return cjson.encode(0.1)", &["0"]), "$3\r\n0.1\r\n");
    assert_eq!(eval(&mut c, "return cjson.encode(1e20)", &["0"]), "$5\r\n1e+20\r\n");
    assert_eq!(
        eval(&mut c, "return cjson.encode(cjson.decode('[1,\"a/b\",true,null]'))", &["0"]),
        "$20\r\n[1,\"a\\/b\",true,null]\r\n"
    );
    assert_eq!(eval(&mut c, "return cjson.decode('{\"a\":[1,2,{\"b\":3}]}').a[3].b", &["0"]), int(3));
    let script = "return cjson.encode(function() end)";
    assert_eq!(
        eval(&mut c, script, &["0"]),
        runtime_err("ERR user_script:1: Cannot serialise function: type not supported", script, 1)
    );
    assert_eq!(eval(&mut c, "return bit.band(7, 3)", &["0"]), int(3));
    assert_eq!(eval(&mut c, "return bit.bxor(5, 3, 1)", &["0"]), int(7));
    assert_eq!(eval(&mut c, "return bit.lshift(1, 40)", &["0"]), int(256));
    assert_eq!(eval(&mut c, "return bit.tobit(4294967295)", &["0"]), int(-1));
    assert_eq!(eval(&mut c, "return bit.tohex(65535)", &["0"]), "$8\r\n0000ffff\r\n");
    assert_eq!(eval(&mut c, "return bit.tohex(-1, -4)", &["0"]), "$4\r\nFFFF\r\n");
    assert_eq!(eval(&mut c, "return bit.bnot(0)", &["0"]), int(-1));
    assert_eq!(eval(&mut c, "return bit.arshift(-256, 4)", &["0"]), int(-16));
    assert_eq!(eval(&mut c, "return bit.rol(1, 33)", &["0"]), int(2));
    let script = "return bit.band()";
    assert_eq!(
        eval(&mut c, script, &["0"]),
        runtime_err("ERR user_script:1: bad argument #1 to 'band' (number expected, got no value)", script, 1)
    );
    assert_eq!(
        eval(&mut c, "return string.rep('a', 3) .. math.floor(3.7) .. table.concat({1,2}, ',')", &["0"]),
        "$7\r\naaa31,2\r\n"
    );
}

#[test]
fn cjson_settings_as_redis() {
    let s = TestServer::start();
    let mut c = s.raw();
    let lines = |items: &[&str]| String::from_utf8(bulks(items)).unwrap();
    // The defaults, as each setting function answers without arguments.
    let defaults = "return {tostring(cjson.encode_keep_buffer()), cjson.encode_max_depth(), \
        cjson.decode_max_depth(), tostring(cjson.encode_invalid_numbers()), \
        tostring(cjson.decode_invalid_numbers()), cjson.encode_number_precision(), \
        tostring((cjson.encode_sparse_array())), select(2, cjson.encode_sparse_array())}";
    assert_eq!(
        eval(&mut c, defaults, &["0"]),
        "*9\r\n$4\r\ntrue\r\n:1000\r\n:1000\r\n$5\r\nfalse\r\n$4\r\ntrue\r\n:14\r\n$5\r\nfalse\r\n:2\r\n:10\r\n"
    );
    assert_eq!(eval(&mut c, "return {cjson._NAME, cjson._VERSION}", &["0"]), lines(&["cjson", "2.1.0"]));
    // Settings of a cjson.new() table are its own.
    let script = "local j = cjson.new() j.encode_number_precision(3) j.encode_invalid_numbers('null') \
        j.encode_sparse_array(true) j.encode_max_depth(2) \
        return {j.encode(math.pi), j.encode(0/0), j.encode({[1]=1, [20]=2}), cjson.encode(math.pi), \
        select(2, pcall(j.encode, {{{1}}}))}";
    assert_eq!(
        eval(&mut c, script, &["0"]),
        lines(&["3.14", "null", "{\"1\":1,\"20\":2}", "3.1415926535898", "Cannot serialise, excessive nesting (3)"])
    );
    // Setting errors, as luaL_argerror words them (the name is '?' under pcall).
    for (call, message) in [
        ("cjson.encode_max_depth, 0", "bad argument #1 to '?' (expected integer between 1 and 2147483647)"),
        ("cjson.encode_max_depth, 'x'", "bad argument #1 to '?' (number expected, got string)"),
        ("cjson.encode_max_depth, 1, 2", "bad argument #2 to '?' (found too many arguments)"),
        ("cjson.encode_number_precision, 15", "bad argument #1 to '?' (expected integer between 1 and 14)"),
        ("cjson.encode_keep_buffer, 'maybe'", "bad argument #1 to '?' (invalid option 'maybe')"),
        ("cjson.encode_invalid_numbers, {}", "bad argument #1 to '?' (string expected, got table)"),
        ("cjson.encode", "bad argument #1 to '?' (expected 1 argument)"),
    ] {
        let script = format!("return select(2, pcall({call}))");
        assert_eq!(eval(&mut c, &script, &["0"]), String::from_utf8(bulk(message)).unwrap(), "{call}");
    }
    // As in Redis, the module's settings last for later scripts.
    assert_eq!(eval(&mut c, "return cjson.encode_invalid_numbers('on')", &["0"]), int(1));
    assert_eq!(
        eval(&mut c, "return cjson.encode({1/0, -1/0})", &["0"]),
        lines(&["[inf,-inf]"]).replacen("*1\r\n", "", 1)
    );
    assert_eq!(eval(&mut c, "return tostring(cjson.encode_invalid_numbers(false))", &["0"]), "$5\r\nfalse\r\n");
    let script = "return cjson.encode(0/0)";
    assert_eq!(
        eval(&mut c, script, &["0"]),
        runtime_err("ERR user_script:1: Cannot serialise number: must not be NaN or Inf", script, 1)
    );
}

#[test]
fn cjson_decode_as_redis() {
    let s = TestServer::start();
    let mut c = s.raw();
    for (json, message) in [
        ("[", "Expected value but found T_END at character 2"),
        ("{\"a\":1,}", "Expected object key string but found T_OBJ_END at character 8"),
        (" [1, 2 ", "Expected comma or array end but found T_END at character 8"),
        ("{\"a\" 2}", "Expected colon but found T_NUMBER at character 6"),
        ("{1:2}", "Expected object key string but found T_NUMBER at character 2"),
        ("tru", "Expected value but found invalid token at character 1"),
        ("\"abc", "Expected value but found unexpected end of string at character 5"),
        ("\"\\ud800\"", "Expected value but found invalid unicode escape code at character 2"),
        ("\"\\q\"", "Expected value but found invalid escape code at character 2"),
        ("1 2", "Expected the end but found T_NUMBER at character 3"),
        ("-", "Expected value but found invalid number at character 1"),
        ("a\u{0}b", "JSON parser does not support UTF-16 or UTF-32"),
    ] {
        let script = "return cjson.decode(ARGV[1])";
        assert_eq!(
            eval(&mut c, script, &["0", json]),
            runtime_err(&format!("ERR user_script:1: {message}"), script, 1),
            "{json}"
        );
        // pcall called it: no position in front.
        let script = "return select(2, pcall(cjson.decode, ARGV[1]))";
        assert_eq!(eval(&mut c, script, &["0", json]), String::from_utf8(bulk(message)).unwrap(), "{json}");
    }
    let deep = "[".repeat(1001);
    let script = "return select(2, pcall(cjson.decode, ARGV[1]))";
    assert_eq!(
        eval(&mut c, script, &["0", &deep]),
        String::from_utf8(bulk("Found too many nested data structures (1001) at character 1001")).unwrap()
    );
    // What strtod accepts; escapes; nulls.
    let script = "local t = cjson.decode(ARGV[1]) return {t[1], t[2], t[3], t[4], t[5], tostring(t[6] == cjson.null)}";
    assert_eq!(
        eval(&mut c, script, &["0", "[\"\\u00e9\\/\\ud83d\\ude00\", +1, 0x10, -2.5e1, \"a\\tb\", null]"]),
        "*6\r\n$7\r\n\u{e9}/\u{1f600}\r\n:1\r\n:16\r\n:-25\r\n$3\r\na\tb\r\n$4\r\ntrue\r\n"
    );
    assert_eq!(eval(&mut c, "return cjson.decode('NaN')", &["0"]), int(i64::MIN));
    assert_eq!(eval(&mut c, "return cjson.decode(12)", &["0"]), int(12));
    assert_eq!(eval(&mut c, "return cjson.encode(cjson.decode('{\"a\":{}}'))", &["0"]), "$8\r\n{\"a\":{}}\r\n");
    let script = "return cjson.encode({[true] = 1})";
    assert_eq!(
        eval(&mut c, script, &["0"]),
        runtime_err("ERR user_script:1: Cannot serialise boolean: table key must be a number or string", script, 1)
    );
}

/// `body` run with a `hex(s)` helper in scope; its return value.
fn eval_hex(c: &mut RawClient, body: &str) -> String {
    let script = format!(
        "local function hex(s) return (s:gsub('.', function(ch) return string.format('%02x', ch:byte()) end)) end\n{body}"
    );
    eval(c, &script, &["0"])
}

/// A bulk reply as text.
fn bulk_str(s: &str) -> String {
    String::from_utf8(bulk(s)).unwrap()
}

/// The error a library function raises on line 2 of an `eval_hex` script.
fn lib_err(c: &mut RawClient, body: &str, msg: &str) {
    let script = format!(
        "local function hex(s) return (s:gsub('.', function(ch) return string.format('%02x', ch:byte()) end)) end\n{body}"
    );
    assert_eq!(eval(c, &script, &["0"]), runtime_err(&format!("ERR user_script:2: {msg}"), &script, 2), "{body}");
}

#[test]
fn cmsgpack_packs_and_unpacks_as_redis() {
    let s = TestServer::start();
    let mut c = s.raw();
    let cases = [
        ("return hex(cmsgpack.pack(1, -1, 200, -200, 70000, -70000))", "01ffccc8d1ff38ce00011170d2fffeee90"),
        ("return hex(cmsgpack.pack(5000000000, -5000000000))", "cf000000012a05f200d3fffffffed5fa0e00"),
        ("return hex(cmsgpack.pack(1.5, 0.1, 1/0))", "ca3fc00000cb3fb999999999999aca7f800000"),
        ("return hex(cmsgpack.pack(true, false, nil, function() end))", "c3c2c0c0"),
        ("return hex(cmsgpack.pack({1,2,3}, {}, {a=1}, {[1]=1,[3]=3}))", "930102039081a161018201010303"),
        ("return hex(cmsgpack.pack(string.rep('x', 40))):sub(1, 6)", "d92878"),
        ("return hex(cmsgpack.pack(string.rep('y', 300))):sub(1, 8)", "da012c79"),
        // Tables nested 16 deep pack as nil.
        (
            "local t = {} local cur = t for i=1,20 do cur[1] = {} cur = cur[1] end return hex(cmsgpack.pack(t))",
            "91919191919191919191919191919191c0",
        ),
        ("local a, b, t, m = cmsgpack.unpack(cmsgpack.pack(1, 'a', {1,2}, {x='y'})) return {a, b, t[2], m.x}", ""),
        ("return tostring(cmsgpack.unpack(cmsgpack.pack(0.1)))", "0.1"),
        ("return {cmsgpack.unpack(string.char(0xd0, 0x80, 0xd1, 0x80, 0, 0xcb, 0x3f, 0xf8, 0,0,0,0,0,0))}", ""),
        ("return {cmsgpack.unpack_one(cmsgpack.pack(1,2))}", ""),
        ("return {cmsgpack.unpack_one(cmsgpack.pack(1,2), 1)}", ""),
        ("return {cmsgpack.unpack_one(cmsgpack.pack(1,2), 2)}", ""),
        ("return {cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 2)}", ""),
        ("return {cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 2, 1)}", ""),
        ("return cmsgpack._VERSION == 'lua-cmsgpack 0.4.0' and 'yes'", "yes"),
    ];
    let expected_arrays = [
        "*4\r\n:1\r\n$1\r\na\r\n:2\r\n$1\r\ny\r\n",
        "*3\r\n:-128\r\n:-32768\r\n:1\r\n",
        "*2\r\n:1\r\n:1\r\n",
        "*2\r\n:-1\r\n:2\r\n",
        "*1\r\n:-1\r\n",
        "*3\r\n:2\r\n:1\r\n:2\r\n",
        "*3\r\n:-1\r\n:2\r\n:3\r\n",
    ];
    let mut arrays = expected_arrays.iter();
    for (body, expected) in cases {
        let reply = eval_hex(&mut c, body);
        if expected.is_empty() {
            assert_eq!(&reply, arrays.next().unwrap(), "{body}");
        } else {
            assert_eq!(reply, bulk_str(&expected.replace(' ', "")), "{body}");
        }
    }
    lib_err(&mut c, "return cmsgpack.pack()", "bad argument #0 to 'pack' (MessagePack pack needs input.)");
    lib_err(&mut c, "return cmsgpack.unpack()", "bad argument #1 to 'unpack' (string expected, got no value)");
    lib_err(&mut c, "return cmsgpack.unpack(string.char(0xc4, 1, 1))", "Bad data format in input.");
    lib_err(&mut c, "return cmsgpack.unpack(string.char(0xcd, 1))", "Missing bytes in input.");
    // A length the input cannot hold is missing bytes, not an allocation.
    lib_err(&mut c, "return cmsgpack.unpack(string.char(0xdd, 0xff, 0xff, 0xff, 0xff))", "Missing bytes in input.");
    lib_err(
        &mut c,
        "return cmsgpack.unpack_one(cmsgpack.pack(1,2), -1)",
        "Invalid request to unpack with offset of -1 and limit of 2.",
    );
    lib_err(&mut c, "return cmsgpack.unpack_one(cmsgpack.pack(1,2), 5)", "Start offset 5 greater than input length 2.");
    lib_err(
        &mut c,
        "return cmsgpack.unpack_limit(cmsgpack.pack(1,2), 'x')",
        "bad argument #2 to 'unpack_limit' (number expected, got string)",
    );
    // Large tables (more keys than Lua's C stack has slots) both ways.
    let big = "local t = {} for i=1,100000 do t[tostring(i)] = i end \
        local e = cmsgpack.pack(t) local d = cmsgpack.unpack(e) return {#e, d['77777']}";
    assert_eq!(eval(&mut c, big, &["0"]), ints(&[957448, 77777]));
    let script = "return cmsgpack.unpack(string.char(0x81, 0xc0, 1))";
    assert_eq!(
        eval(&mut c, script, &["0"]),
        err(&format!("ERR table index is nil script: {}, on @user_script:1.", sha1(script)))
    );
}

#[test]
fn struct_packs_and_unpacks_as_redis() {
    let s = TestServer::start();
    let mut c = s.raw();
    let cases = [
        ("return hex(struct.pack('>i', 1))", "00000001"),
        (
            "return hex(struct.pack('<hHlLbBT', -2, 65535, -3, 4, -1, 255, 9))",
            "feffffff fdffffffffffffff 0400000000000000 ffff 0900000000000000",
        ),
        ("return hex(struct.pack('!4 b i', 1, 2))", "01000000 02000000"),
        ("return hex(struct.pack('!bd', 1, 1.5))", "0100000000000000 000000000000f83f"),
        (
            "return hex(struct.pack('c3 c0 s x f d', 'abcdef', 'zz', 'str', 1.5, 2.25))",
            "616263 7a7a 73747200 00 0000c03f 0000000000000240",
        ),
        ("return hex(struct.pack('>i3 I3', -5, 70000))", "fffffb 011170"),
        ("return struct.size('!8 b d i')", ""),
        ("return {struct.unpack('>i', struct.pack('>i', -5))}", ""),
        ("return {struct.unpack('<hHlLbBT', struct.pack('<hHlLbBT', -2, 65535, -3, 4, -1, 255, 9))}", ""),
        ("return {struct.unpack('b c0', struct.pack('b', 3) .. 'abcd')}", ""),
        ("return {struct.unpack('s b', 'hello' .. string.char(0) .. 'x')}", ""),
        ("return {struct.unpack('i', 'abcdabcd', 5)}", ""),
        ("return {struct.unpack('f d', struct.pack('f d', 1.5, -2.25))}", ""),
    ];
    let expected_replies = [
        int(20),
        "*2\r\n:-5\r\n:5\r\n".to_string(),
        "*8\r\n:-2\r\n:65535\r\n:-3\r\n:4\r\n:-1\r\n:255\r\n:9\r\n:31\r\n".to_string(),
        "*2\r\n$3\r\nabc\r\n:5\r\n".to_string(),
        "*3\r\n$5\r\nhello\r\n:120\r\n:8\r\n".to_string(),
        "*2\r\n:1684234849\r\n:9\r\n".to_string(),
        "*3\r\n:1\r\n:-2\r\n:13\r\n".to_string(),
    ];
    let mut replies = expected_replies.iter();
    for (body, expected) in cases {
        let reply = eval_hex(&mut c, body);
        if expected.is_empty() {
            assert_eq!(&reply, replies.next().unwrap(), "{body}");
        } else {
            assert_eq!(reply, bulk_str(&expected.replace(' ', "")), "{body}");
        }
    }
    let errors = [
        ("return struct.pack('c5', 'ab')", "bad argument #3 to 'pack' (string too short)"),
        ("return struct.pack('i40', 1)", "integral size 40 is larger than limit of 32"),
        ("return struct.pack('!3 i', 1)", "alignment 3 is not a power of 2"),
        ("return struct.pack('z', 1)", "bad argument #1 to 'pack' (invalid format option 'z')"),
        ("return struct.pack('i', 'x')", "bad argument #2 to 'pack' (number expected, got string)"),
        ("return struct.pack('i')", "bad argument #2 to 'pack' (number expected, got nil)"),
        ("return struct.pack()", "bad argument #1 to 'pack' (string expected, got no value)"),
        ("return struct.pack('i99999999999', 1)", "integral size overflow"),
        ("return struct.unpack('s', 'hello')", "unfinished string in data"),
        ("return struct.unpack('i', 'ab')", "bad argument #2 to 'unpack' (data string too short)"),
        ("return struct.unpack('i', 'abcd', 0)", "bad argument #3 to 'unpack' (offset must be 1 or greater)"),
        ("return struct.unpack('c0', 'abcd')", "format 'c0' needs a previous size"),
        ("return struct.size('s')", "bad argument #1 to 'size' (option 's' has no fixed size)"),
        ("return struct.size('c0')", "bad argument #1 to 'size' (option 'c0' has no fixed size)"),
        ("return struct.size('?')", "bad argument #1 to 'size' (invalid format option '?')"),
    ];
    for (body, msg) in errors {
        lib_err(&mut c, body, msg);
    }
    // Unknown letters take no room in size (struct.c skips them there).
    assert_eq!(eval(&mut c, "return struct.size('zi')", &["0"]), int(4));
}

#[test]
fn many_distinct_scripts_on_one_worker() {
    // More scripts than mlua has slots for Rust-held Lua values (about
    // 8000): a reference per compiled script once killed the worker.
    let s = TestServer::start_with("[server]\nthreads = 1\n");
    let mut c = s.raw();
    let mut batch = Vec::new();
    for i in 0..20_000 {
        batch.extend(encode(&["EVAL", &format!("return {i}"), "0"]));
    }
    c.send(&batch);
    for i in 0..20_000 {
        assert_eq!(c.read_reply(), int(i));
    }
    assert_eq!(eval(&mut c, "return 'alive'", &["0"]), "$5\r\nalive\r\n");
}

#[test]
fn redis_api_helpers() {
    let s = TestServer::start();
    let mut c = s.raw();
    assert_eq!(eval(&mut c, "return redis.sha1hex('')", &["0"]), "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n");
    let script = "return redis.sha1hex()";
    assert_eq!(eval(&mut c, script, &["0"]), runtime_err("ERR wrong number of arguments", script, 1));
    assert_eq!(eval(&mut c, "return redis.log(redis.LOG_WARNING, 'from a script')", &["0"]), "$-1\r\n");
    let script = "redis.log(99, 'x')";
    assert_eq!(eval(&mut c, script, &["0"]), runtime_err("ERR Invalid debug level.", script, 1));
    let script = "redis.log(1)";
    assert_eq!(eval(&mut c, script, &["0"]), runtime_err("ERR redis.log() requires two arguments or more.", script, 1));
    assert_eq!(eval(&mut c, "return redis.set_repl(redis.REPL_ALL)", &["0"]), "$-1\r\n");
    let script = "redis.set_repl(99)";
    assert_eq!(
        eval(&mut c, script, &["0"]),
        runtime_err("ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.", script, 1)
    );
    assert_eq!(eval(&mut c, "return type(redis.REDIS_VERSION)", &["0"]), "$6\r\nstring\r\n");
    assert_eq!(
        eval(&mut c, "return redis.status_reply(1).err", &["0"]),
        "$37\r\nERR wrong number or type of arguments\r\n"
    );
}

#[test]
fn acl_check_debugger_helpers_and_library_error_forms() {
    let s = TestServer::start();
    let mut c = s.raw();
    // No ACL rules here (the default user in Redis): known commands pass.
    assert_eq!(eval(&mut c, "return redis.acl_check_cmd('set', 'xx', 1)", &["0"]), int(1));
    for (script, message) in [
        ("return redis.acl_check_cmd('invalid-cmd', 'arg')", "ERR Invalid command passed to redis.acl_check_cmd()"),
        ("return redis.acl_check_cmd()", "ERR Please specify at least one argument for this redis lib call"),
        ("return redis.acl_check_cmd({})", "ERR Lua redis lib command arguments must be strings or integers"),
    ] {
        assert_eq!(eval(&mut c, script, &["0"]), runtime_err(message, script, 1), "{script}");
    }
    // No debugger session: breakpoint is false, debug does nothing.
    assert_eq!(eval(&mut c, "return {redis.breakpoint(), redis.debug('x', 1)}", &["0"]), "*1\r\n$-1\r\n");
    // luaL_error's position is the caller's: none when pcall calls the
    // library function itself, and the function name is then '?'.
    assert_eq!(
        eval(&mut c, "return select(2, pcall(bit.band))", &["0"]),
        String::from_utf8(bulk("bad argument #1 to '?' (number expected, got no value)")).unwrap()
    );
    assert_eq!(
        eval(&mut c, "return select(2, pcall(function() return bit.band() end))", &["0"]),
        String::from_utf8(bulk("user_script:1: bad argument #1 to 'band' (number expected, got no value)")).unwrap()
    );
    assert_eq!(eval(&mut c, "return type(select(2, pcall(cjson.decode)))", &["0"]), "$6\r\nstring\r\n");
    // Numbers out of a long long's range convert as C's cast does.
    assert_eq!(eval(&mut c, "return {1e20, 0/0, -1e20, -2.5}", &["0"]), ints(&[i64::MIN, i64::MIN, i64::MIN, -2]));
}

#[test]
fn select_inside_a_script_does_not_leak() {
    let s = TestServer::start();
    let mut c = s.raw();
    assert_eq!(eval(&mut c, "redis.call('select', 1) redis.call('set', 'k', 'db1') return 1", &["0"]), int(1));
    c.expect_cmd(&["GET", "k"], "$-1\r\n");
    c.call(&["SELECT", "1"]);
    c.expect_cmd(&["GET", "k"], "$3\r\ndb1\r\n");
}

// ---------------------------------------------------------------------------
// SCRIPT
// ---------------------------------------------------------------------------

#[test]
fn script_load_exists_flush() {
    let s = TestServer::start();
    let mut c = s.raw();
    let sha = sha1("return 'hello'");
    c.expect_cmd(&["SCRIPT", "LOAD", "return 'hello'"], bulk_text(&sha));
    c.expect_cmd(&["EVALSHA", &sha, "0"], "$5\r\nhello\r\n");
    c.expect_cmd(&["EVALSHA", &sha.to_uppercase(), "0"], "$5\r\nhello\r\n");
    c.expect_cmd(&["SCRIPT", "EXISTS", &sha, "ffff"], "*2\r\n:1\r\n:0\r\n");
    // EVAL caches its script too.
    let other = sha1("return 2");
    eval(&mut c, "return 2", &["0"]);
    c.expect_cmd(&["SCRIPT", "EXISTS", &other], "*1\r\n:1\r\n");
    c.expect_cmd(
        &["SCRIPT", "LOAD", "return 1 +"],
        err("ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'"),
    );
    c.expect_cmd(&["SCRIPT", "FLUSH"], "+OK\r\n");
    c.expect_cmd(&["SCRIPT", "EXISTS", &sha, &other], "*2\r\n:0\r\n:0\r\n");
    c.expect_cmd(&["EVALSHA", &sha, "0"], err("NOSCRIPT No matching script. Please use EVAL."));
    c.expect_cmd(&["SCRIPT", "FLUSH", "ASYNC"], "+OK\r\n");
    c.expect_cmd(&["SCRIPT", "FLUSH", "SYNC"], "+OK\r\n");
    c.expect_cmd(&["SCRIPT", "FLUSH", "foo"], err("ERR SCRIPT FLUSH only support SYNC|ASYNC option"));
    c.expect_cmd(&["SCRIPT", "LOAD"], arity_err("script|load"));
    c.expect_cmd(&["SCRIPT", "EXISTS"], arity_err("script|exists"));
    c.expect_cmd(&["SCRIPT", "KILL"], err("NOTBUSY No scripts in execution right now."));
    c.expect_cmd(&["FUNCTION", "KILL"], err("NOTBUSY No scripts in execution right now."));
    let help = c.call_resp(&["SCRIPT", "HELP"]);
    assert!(help.items().len() > 10, "{help:?}");
}

fn bulk_text(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

// ---------------------------------------------------------------------------
// Transactions, WATCH, stats
// ---------------------------------------------------------------------------

#[test]
fn eval_inside_multi_and_watch() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MULTI"], "+OK\r\n");
    c.expect_cmd(&["EVAL", "return redis.call('incr', KEYS[1])", "1", "n"], "+QUEUED\r\n");
    c.expect_cmd(&["EVAL", "return redis.call('incr', KEYS[1])", "1", "n"], "+QUEUED\r\n");
    c.expect_cmd(&["EXEC"], "*2\r\n:1\r\n:2\r\n");
    // A script's write invalidates another client's WATCH.
    let mut other = s.raw();
    c.expect_cmd(&["WATCH", "n"], "+OK\r\n");
    assert_eq!(eval(&mut other, "return redis.call('incr', KEYS[1])", &["1", "n"]), int(3));
    c.expect_cmd(&["MULTI"], "+OK\r\n");
    c.expect_cmd(&["GET", "n"], "+QUEUED\r\n");
    c.expect_cmd(&["EXEC"], "*-1\r\n");
}

#[test]
fn commandstats_count_the_commands_a_script_calls() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.call(&["CONFIG", "RESETSTAT"]);
    eval(&mut c, "redis.call('set', 'a', '1') redis.call('get', 'a') return redis.call('get', 'a')", &["0"]);
    let stats = c.info("commandstats");
    assert!(stats.contains("cmdstat_get:calls=2,"), "{stats}");
    assert!(stats.contains("cmdstat_set:calls=1,"), "{stats}");
    assert!(stats.contains("cmdstat_eval:calls=1,"), "{stats}");
}

#[test]
fn info_reports_script_memory() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.call(&["SCRIPT", "FLUSH"]);
    eval(&mut c, "return 1", &["0"]);
    c.call(&["SCRIPT", "LOAD", "return 2"]);
    let info = c.info("memory");
    assert_eq!(info_int(&info, "number_of_cached_scripts"), 2);
    assert!(info_int(&info, "used_memory_lua") > 0, "{info}");
    assert!(info_int(&info, "used_memory_scripts") > 0, "{info}");
}

#[test]
fn scripts_on_many_connections_then_flush_count_one_fresh_interpreter() {
    // Each worker has an interpreter; after SCRIPT FLUSH the old ones are
    // not counted (Redis's one interpreter is rebuilt): used_memory_lua
    // stays near one interpreter's size, as Redis's scripting.tcl checks.
    let s = TestServer::start_with("[server]\nthreads = 4\n");
    let mut clients: Vec<RawClient> = (0..4).map(|_| s.raw()).collect();
    for c in &mut clients {
        assert_eq!(eval(c, "local t = {} for i = 1, 1000 do t[i] = i end return #t", &["0"]), int(1000));
    }
    let c = &mut clients[0];
    c.expect_cmd(&["SCRIPT", "FLUSH"], OK);
    for _ in 0..100 {
        eval(c, "return redis.call('incr', KEYS[1])", &["1", "x"]);
    }
    let info = c.info("memory");
    assert!(info_int(&info, "used_memory_lua") < 100 * 1024, "{info}");
}

#[test]
fn sort_by_a_constant_orders_a_set_for_scripts() {
    let s = TestServer::start();
    let mut c = s.raw();
    let members = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "l", "m", "n", "z", "aa", "aaa", "azz"];
    let mut cmd = vec!["SADD", "myset"];
    cmd.extend(members);
    c.call(&cmd);
    let mut sorted = members.to_vec();
    sorted.sort_unstable();
    assert_eq!(
        eval(&mut c, "return redis.call('sort', KEYS[1], 'by', '_')", &["1", "myset"]),
        String::from_utf8(bulks(&sorted)).unwrap()
    );
}

#[test]
fn config_busy_reply_threshold() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CONFIG", "SET", "busy-reply-threshold", "1234"], "+OK\r\n");
    c.expect_cmd(&["CONFIG", "GET", "busy-reply-threshold"], "*2\r\n$20\r\nbusy-reply-threshold\r\n$4\r\n1234\r\n");
    c.expect_cmd(&["CONFIG", "GET", "lua-time-limit"], "*2\r\n$14\r\nlua-time-limit\r\n$4\r\n1234\r\n");
}

#[test]
fn oom_refuses_write_scripts_unless_allowed() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.call(&["SET", "filler", &"x".repeat(100_000)]);
    c.expect_cmd(&["CONFIG", "SET", "maxmemory", "1"], "+OK\r\n");
    let oom = err("OOM command not allowed when used memory > 'maxmemory'.");
    // The memory state is measured in the background: wait for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.call(&["SET", "probe", "x"]) != oom {
        assert!(Instant::now() < deadline, "SET never refused");
        thread::sleep(Duration::from_millis(20));
    }
    c.expect_cmd(&["EVAL", "#!lua\nreturn 1", "0"], &oom);
    c.expect_cmd(&["EVAL", "#!lua flags=allow-oom\nreturn 1", "0"], int(1));
    c.expect_cmd(&["EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'nope')", "0"], "$-1\r\n");
    // Without a shebang the first write the script makes is refused.
    let script = "return redis.call('set', 'k', 'v')";
    c.expect_cmd(
        &["EVAL", script, "0"],
        runtime_err("OOM command not allowed when used memory > 'maxmemory'.", script, 1),
    );
    c.expect_cmd(&["EVAL", "return redis.call('get', 'nope')", "0"], "$-1\r\n");
    c.expect_cmd(&["CONFIG", "SET", "maxmemory", "0"], "+OK\r\n");
}

// ---------------------------------------------------------------------------
// BUSY, SCRIPT KILL
// ---------------------------------------------------------------------------

/// A server with several workers, so the clients of a test land on
/// different threads (Redis has one thread and serves them all alike).
fn multi_worker_server() -> TestServer {
    TestServer::start_with("[server]\nthreads = 4\n")
}

/// Wait until `c` gets a BUSY reply to PING.
fn wait_busy(c: &mut RawClient) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = c.call(&["PING"]);
        if reply.starts_with("-BUSY") {
            assert_eq!(
                reply,
                err("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
            );
            return;
        }
        assert!(Instant::now() < deadline, "never busy: {reply}");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn script_kill_stops_a_busy_read_only_script() {
    let s = multi_worker_server();
    let mut admin = s.raw();
    admin.expect_cmd(&["CONFIG", "SET", "busy-reply-threshold", "100"], "+OK\r\n");
    let mut runner = s.raw();
    runner.send_cmd(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"]);
    thread::sleep(Duration::from_millis(50));
    wait_busy(&mut admin);
    admin.expect_cmd(
        &["FUNCTION", "KILL"],
        err("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."),
    );
    admin.expect_cmd(&["SCRIPT", "KILL"], "+OK\r\n");
    let reply = runner.read_reply();
    assert!(reply.starts_with("-ERR Script killed by user with SCRIPT KILL..."), "{reply}");
    admin.expect_cmd(&["PING"], "+PONG\r\n");
    runner.expect_cmd(&["PING"], "+PONG\r\n");
}

#[test]
fn script_kill_stops_a_script_that_catches_errors_with_pcall() {
    let s = multi_worker_server();
    let mut admin = s.raw();
    admin.expect_cmd(&["CONFIG", "SET", "busy-reply-threshold", "100"], "+OK\r\n");
    let mut runner = s.raw();
    let script = "local f = function() while 1 do redis.call('ping') end end while 1 do pcall(f) end";
    runner.send_cmd(&["EVAL", script, "0"]);
    thread::sleep(Duration::from_millis(50));
    wait_busy(&mut admin);
    admin.expect_cmd(&["SCRIPT", "KILL"], "+OK\r\n");
    runner.set_read_timeout(Duration::from_secs(10));
    let reply = runner.read_reply();
    assert!(reply.starts_with("-ERR Script killed by user with SCRIPT KILL..."), "{reply}");
    admin.expect_cmd(&["PING"], "+PONG\r\n");
    // The next scripts on that worker run at full speed again, and pcall
    // catches errors as before.
    let next = "local n = 0 for i = 1, 3000000 do n = n + 1 end \
        local ok = pcall(function() error('x') end) return {n, ok and 1 or 0}";
    runner.expect_cmd(&["EVAL", next, "0"], ints(&[3_000_000, 0]));
}

#[test]
fn a_script_that_wrote_is_unkillable() {
    let s = multi_worker_server();
    let mut admin = s.raw();
    admin.expect_cmd(&["CONFIG", "SET", "busy-reply-threshold", "100"], "+OK\r\n");
    let mut runner = s.raw();
    let script = "redis.call('set', 'k', 'v') local t = redis.call('time') \
        while true do local n = redis.call('time') if n[1] - t[1] >= 2 then break end end return 'done'";
    runner.send_cmd(&["EVAL", script, "0"]);
    thread::sleep(Duration::from_millis(50));
    wait_busy(&mut admin);
    admin.expect_cmd(&["SCRIPT", "KILL"], err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."));
    runner.set_read_timeout(Duration::from_secs(10));
    assert_eq!(runner.read_reply(), "$4\r\ndone\r\n");
    admin.expect_cmd(&["GET", "k"], "$1\r\nv\r\n");
}

// ---------------------------------------------------------------------------
// Atomicity
// ---------------------------------------------------------------------------

#[test]
fn no_client_sees_a_script_half_done() {
    let s = multi_worker_server();
    let mut setup = s.raw();
    setup.call(&["MSET", "a", "1000", "b", "1000"]);
    let stop = Arc::new(AtomicBool::new(false));
    let mover = "local n = tonumber(ARGV[1]) redis.call('decrby', KEYS[1], n) \
        for i = 1, 200 do end redis.call('incrby', KEYS[2], n) return 1";
    let movers: Vec<_> = (0..3)
        .map(|i| {
            let port = s.port();
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut c = RawClient::connect(port);
                let (from, to) = if i % 2 == 0 { ("a", "b") } else { ("b", "a") };
                while !stop.load(Ordering::Relaxed) {
                    assert_eq!(c.call(&["EVAL", mover, "2", from, to, "7"]), ":1\r\n");
                }
            })
        })
        .collect();
    let mut reader = s.raw();
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut reads = 0;
    while Instant::now() < deadline {
        let reply = reader.call_resp(&["MGET", "a", "b"]);
        let sum: i64 = reply
            .items()
            .iter()
            .map(|v| match v {
                Resp::Bulk(Some(b)) => String::from_utf8_lossy(b).parse::<i64>().expect("number"),
                other => panic!("{other:?}"),
            })
            .sum();
        assert_eq!(sum, 2000, "a reader saw a script half done");
        reads += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for m in movers {
        m.join().expect("mover");
    }
    assert!(reads > 10);
}

// ---------------------------------------------------------------------------
// Limits (Redistill only: Redis has no cap on Lua memory)
// ---------------------------------------------------------------------------

#[test]
fn a_script_cannot_exhaust_memory() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start();
    let mut c = s.raw();
    // Filling the interpreter's 512 MB takes seconds in a debug build.
    c.set_read_timeout(Duration::from_secs(120));
    let reply = eval(&mut c, "local t = {} for i = 1, 100 do t[i] = string.rep('x', 2^24) .. i end return #t", &["0"]);
    assert!(reply.starts_with("-ERR Error running script") && reply.contains("not enough memory"), "{reply}");
    c.expect_cmd(&["PING"], "+PONG\r\n");
    assert_eq!(eval(&mut c, "return 1", &["0"]), int(1));
    let reply = eval(&mut c, "local function f(n) return f(n + 1) + 1 end return f(1)", &["0"]);
    assert!(reply.starts_with("-ERR user_script:1: stack overflow"), "{reply}");
}
