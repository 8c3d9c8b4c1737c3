//! String commands beyond GET/SET: APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE,
//! GETSET, GETDEL, GETEX, MSETNX, INCRBYFLOAT, and SET's repeated options
//! (the bitmap commands are in `bits.rs`). Redis 7 replies, byte-exact, in RESP2 and RESP3;
//! every expectation holds against redis-server 7.0 (differential mode).

use crate::common::*;
use std::time::{SystemTime, UNIX_EPOCH};

const TOO_BIG: &str = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
const OFFSET_RANGE: &str = "-ERR offset is out of range\r\n";
const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";
const NAN_OR_INF: &str = "-ERR increment would produce NaN or Infinity\r\n";
const BAD_EXPIRE_GETEX: &str = "-ERR invalid expire time in 'getex' command\r\n";
const EMPTY: &str = "$0\r\n\r\n";

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as u64
}

/// A raw connection switched to RESP3.
fn resp3(s: &TestServer) -> RawClient {
    let mut c = s.raw_authed();
    let hello = c.call_resp(&["HELLO", "3"]);
    assert!(matches!(hello, Resp::Map(_)), "HELLO 3 should answer a map, got {hello:?}");
    c
}

/// A server whose strings may not exceed 1 MiB (`proto-max-bulk-len`).
fn server_with_1mb_strings() -> TestServer {
    let s = TestServer::start_with("[server]\nproto_max_bulk_len = \"1mb\"\n");
    if s.is_redis() {
        s.raw().expect_cmd(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"], OK);
    }
    s
}

const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------
// APPEND, STRLEN
// ---------------------------------------------------------------------------

#[test]
fn append_creates_and_extends() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["APPEND", "a", "Hello"], int(5));
    c.expect_cmd(&["APPEND", "a", " World"], int(11));
    c.expect_cmd(&["GET", "a"], bulk("Hello World"));
    c.expect_cmd(&["APPEND", "a", ""], int(11));
    c.expect_cmd(&["APPEND", "empty", ""], int(0));
    c.expect_cmd(&["EXISTS", "empty"], int(1));
    c.expect_cmd(&["APPEND", "bin", "\0\r\n"], int(3));
    c.expect_cmd(&["GET", "bin"], bulk("\0\r\n"));
    // A counter can be appended to, and stays usable as a string.
    c.expect_cmd(&["SET", "n", "12"], OK);
    c.expect_cmd(&["APPEND", "n", "3"], int(3));
    c.expect_cmd(&["INCR", "n"], int(124));
    c.expect_cmd(&["APPEND"], arity_err("append"));
    c.expect_cmd(&["APPEND", "a"], arity_err("append"));
}

#[test]
fn append_keeps_the_ttl() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "t", "x", "EX", "100"], OK);
    c.expect_cmd(&["APPEND", "t", "y"], int(2));
    c.expect_cmd(&["TTL", "t"], int(100));
}

#[test]
fn append_beyond_proto_max_bulk_len_is_refused() {
    let s = server_with_1mb_strings();
    let mut c = s.raw();
    let half = "x".repeat(MIB / 2);
    c.expect_cmd(&["APPEND", "big", half.as_str()], int((MIB / 2) as i64));
    c.expect_cmd(&["APPEND", "big", half.as_str()], int(MIB as i64));
    c.expect_cmd(&["APPEND", "big", "y"], TOO_BIG);
    c.expect_cmd(&["STRLEN", "big"], int(MIB as i64));
}

#[test]
fn strlen_of_strings_and_missing_keys() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["STRLEN", "missing"], int(0));
    c.expect_cmd(&["SET", "s", "hello"], OK);
    c.expect_cmd(&["STRLEN", "s"], int(5));
    c.expect_cmd(&["SET", "s", ""], OK);
    c.expect_cmd(&["STRLEN", "s"], int(0));
    c.expect_cmd(&["SET", "n", "-123"], OK);
    c.expect_cmd(&["STRLEN", "n"], int(4));
    c.expect_cmd(&["STRLEN"], arity_err("strlen"));
    c.expect_cmd(&["STRLEN", "a", "b"], arity_err("strlen"));
}

// ---------------------------------------------------------------------------
// GETRANGE / SUBSTR, SETRANGE
// ---------------------------------------------------------------------------

#[test]
fn getrange_clamps_like_redis() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "r", "This is a string"], OK);
    c.expect_cmd(&["GETRANGE", "r", "0", "3"], bulk("This"));
    c.expect_cmd(&["GETRANGE", "r", "-3", "-1"], bulk("ing"));
    c.expect_cmd(&["GETRANGE", "r", "0", "-1"], bulk("This is a string"));
    c.expect_cmd(&["GETRANGE", "r", "10", "100"], bulk("string"));
    c.expect_cmd(&["GETRANGE", "r", "5", "3"], EMPTY);
    c.expect_cmd(&["GETRANGE", "r", "100", "200"], EMPTY);
    c.expect_cmd(&["GETRANGE", "r", "-1", "-5"], EMPTY);
    // Redis 7 quirk: both ends clamp to 0 and the first byte comes back.
    c.expect_cmd(&["GETRANGE", "r", "-100", "-50"], bulk("T"));
    c.expect_cmd(&["GETRANGE", "r", "0", "-100"], bulk("T"));
    c.expect_cmd(&["GETRANGE", "r", "-9223372036854775808", "9223372036854775807"], bulk("This is a string"));
    c.expect_cmd(&["GETRANGE", "r", "9223372036854775807", "-9223372036854775808"], EMPTY);
    c.expect_cmd(&["GETRANGE", "missing", "0", "-1"], EMPTY);
    c.expect_cmd(&["SET", "e", ""], OK);
    c.expect_cmd(&["GETRANGE", "e", "0", "-1"], EMPTY);
    c.expect_cmd(&["GETRANGE", "e", "0", "0"], EMPTY);
}

#[test]
fn getrange_argument_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "r", "abc"], OK);
    c.expect_cmd(&["GETRANGE", "r", "a", "1"], NOT_INT_ERR);
    c.expect_cmd(&["GETRANGE", "r", "0", "1.5"], NOT_INT_ERR);
    c.expect_cmd(&["GETRANGE", "r", "-0", "1"], NOT_INT_ERR);
    c.expect_cmd(&["GETRANGE", "missing", "x", "1"], NOT_INT_ERR);
    c.expect_cmd(&["GETRANGE", "r", "0"], arity_err("getrange"));
    c.expect_cmd(&["GETRANGE", "r", "0", "1", "2"], arity_err("getrange"));
}

#[test]
fn substr_is_getrange() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "r", "Hello World"], OK);
    c.expect_cmd(&["SUBSTR", "r", "0", "4"], bulk("Hello"));
    c.expect_cmd(&["SUBSTR", "r", "-5", "-1"], bulk("World"));
    c.expect_cmd(&["SUBSTR", "missing", "0", "1"], EMPTY);
    c.expect_cmd(&["SUBSTR", "r", "x", "1"], NOT_INT_ERR);
    c.expect_cmd(&["SUBSTR", "r", "0"], arity_err("substr"));
}

#[test]
fn setrange_overwrites_and_pads() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "Hello World"], OK);
    c.expect_cmd(&["SETRANGE", "k", "6", "Redis"], int(11));
    c.expect_cmd(&["GET", "k"], bulk("Hello Redis"));
    c.expect_cmd(&["SETRANGE", "k", "11", "!"], int(12));
    c.expect_cmd(&["GET", "k"], bulk("Hello Redis!"));
    c.expect_cmd(&["SETRANGE", "pad", "3", "ab"], int(5));
    c.expect_cmd(&["GET", "pad"], bulk("\0\0\0ab"));
    // An empty value changes nothing and creates nothing.
    c.expect_cmd(&["SETRANGE", "k", "100", ""], int(12));
    c.expect_cmd(&["SETRANGE", "none", "0", ""], int(0));
    c.expect_cmd(&["SETRANGE", "none", "99999999999", ""], int(0));
    c.expect_cmd(&["EXISTS", "none"], int(0));
    c.expect_cmd(&["SET", "t", "abc", "EX", "100"], OK);
    c.expect_cmd(&["SETRANGE", "t", "1", "X"], int(3));
    c.expect_cmd(&["GET", "t"], bulk("aXc"));
    c.expect_cmd(&["TTL", "t"], int(100));
}

#[test]
fn setrange_negative_offset_is_out_of_range() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SETRANGE", "k", "-1", "x"], OFFSET_RANGE);
    c.expect_cmd(&["SETRANGE", "k", "-1", ""], OFFSET_RANGE);
    c.expect_cmd(&["EXISTS", "k"], int(0));
}

#[test]
fn setrange_offset_not_an_integer() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SETRANGE", "k", "abc", "x"], NOT_INT_ERR);
    c.expect_cmd(&["SETRANGE", "k", "1.5", "x"], NOT_INT_ERR);
    c.expect_cmd(&["SETRANGE", "k", "99999999999999999999", "x"], NOT_INT_ERR);
    c.expect_cmd(&["SETRANGE", "k", "1"], arity_err("setrange"));
}

#[test]
fn setrange_beyond_512mb_is_refused() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "abc"], OK);
    c.expect_cmd(&["SETRANGE", "k", "536870912", "x"], TOO_BIG);
    c.expect_cmd(&["SETRANGE", "k", "536870911", "xy"], TOO_BIG);
    c.expect_cmd(&["SETRANGE", "k", "9223372036854775807", "x"], TOO_BIG);
    c.expect_cmd(&["SETRANGE", "new", "536870912", "x"], TOO_BIG);
    c.expect_cmd(&["EXISTS", "new"], int(0));
    c.expect_cmd(&["GET", "k"], bulk("abc"));
}

#[test]
fn setrange_limit_follows_proto_max_bulk_len() {
    let s = server_with_1mb_strings();
    let mut c = s.raw();
    let last = (MIB - 1).to_string();
    c.expect_cmd(&["SETRANGE", "k", last.as_str(), "x"], int(MIB as i64));
    c.expect_cmd(&["SETRANGE", "k", last.as_str(), "xy"], TOO_BIG);
    c.expect_cmd(&["STRLEN", "k"], int(MIB as i64));
}

// ---------------------------------------------------------------------------
// GETSET, GETDEL, GETEX
// ---------------------------------------------------------------------------

#[test]
fn getset_returns_the_old_value_and_clears_the_ttl() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["GETSET", "g", "v1"], NIL);
    c.expect_cmd(&["GET", "g"], bulk("v1"));
    c.expect_cmd(&["SET", "g", "v2", "EX", "100"], OK);
    c.expect_cmd(&["GETSET", "g", "v3"], bulk("v2"));
    c.expect_cmd(&["TTL", "g"], int(-1));
    c.expect_cmd(&["GET", "g"], bulk("v3"));
    c.expect_cmd(&["GETSET", "g"], arity_err("getset"));
    c.expect_cmd(&["GETSET", "g", "a", "b"], arity_err("getset"));
}

#[test]
fn getdel_returns_and_deletes() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "d", "v"], OK);
    c.expect_cmd(&["GETDEL", "d"], bulk("v"));
    c.expect_cmd(&["EXISTS", "d"], int(0));
    c.expect_cmd(&["GETDEL", "d"], NIL);
    c.expect_cmd(&["GETDEL"], arity_err("getdel"));
    c.expect_cmd(&["GETDEL", "a", "b"], arity_err("getdel"));
}

#[test]
fn getex_sets_and_removes_deadlines() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["GETEX", "missing"], NIL);
    c.expect_cmd(&["SET", "k", "v"], OK);
    c.expect_cmd(&["GETEX", "k"], bulk("v"));
    c.expect_cmd(&["TTL", "k"], int(-1));
    c.expect_cmd(&["GETEX", "k", "EX", "100"], bulk("v"));
    c.expect_cmd(&["TTL", "k"], int(100));
    c.expect_cmd(&["GETEX", "k", "PX", "200000"], bulk("v"));
    let pttl = c.call_resp(&["PTTL", "k"]).int();
    assert!((199_000..=200_000).contains(&pttl), "PTTL after GETEX PX 200000 = {pttl}");
    let at = now_ms() / 1000 + 300;
    c.expect_cmd(&["GETEX", "k", "EXAT", &at.to_string()], bulk("v"));
    c.expect_cmd(&["EXPIRETIME", "k"], int(at as i64));
    c.expect_cmd(&["GETEX", "k", "PXAT", "99999999999999"], bulk("v"));
    c.expect_cmd(&["PEXPIRETIME", "k"], int(99_999_999_999_999));
    c.expect_cmd(&["GETEX", "k", "PERSIST"], bulk("v"));
    c.expect_cmd(&["TTL", "k"], int(-1));
    c.expect_cmd(&["GETEX", "k", "ex", "50"], bulk("v"));
    c.expect_cmd(&["TTL", "k"], int(50));
    // Without options the deadline is left alone.
    c.expect_cmd(&["GETEX", "k"], bulk("v"));
    c.expect_cmd(&["TTL", "k"], int(50));
}

#[test]
fn getex_with_a_past_timestamp_returns_then_deletes() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    c.expect_cmd(&["GETEX", "k", "EXAT", "1"], bulk("v"));
    c.expect_cmd(&["EXISTS", "k"], int(0));
    c.expect_cmd(&["SET", "k", "v"], OK);
    c.expect_cmd(&["GETEX", "k", "PXAT", "1"], bulk("v"));
    c.expect_cmd(&["EXISTS", "k"], int(0));
}

#[test]
fn getex_repeated_option_last_value_wins() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    c.expect_cmd(&["GETEX", "k", "EX", "10", "EX", "20"], bulk("v"));
    c.expect_cmd(&["TTL", "k"], int(20));
    // Only the last value is checked.
    c.expect_cmd(&["GETEX", "k", "EX", "abc", "EX", "30"], bulk("v"));
    c.expect_cmd(&["TTL", "k"], int(30));
    c.expect_cmd(&["GETEX", "k", "PERSIST", "PERSIST"], bulk("v"));
    c.expect_cmd(&["TTL", "k"], int(-1));
}

#[test]
fn getex_syntax_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v", "EX", "100"], OK);
    let bad: &[&[&str]] = &[
        &["EX"],
        &["PX"],
        &["EXAT"],
        &["PXAT"],
        &["FOO"],
        &["EX", "10", "PERSIST"],
        &["PERSIST", "EX", "10"],
        &["EX", "10", "PX", "10"],
        &["PX", "10", "EXAT", "10"],
        &["EXAT", "10", "PXAT", "10"],
        &["NX"],
        &["XX"],
        &["GET"],
        &["KEEPTTL"],
        &["EX", "10", "BAR"],
    ];
    for opts in bad {
        let mut args = vec!["GETEX", "k"];
        args.extend_from_slice(opts);
        c.expect_cmd(&args, SYNTAX_ERR);
        // Syntax is checked before the key is looked up.
        args[1] = "missing";
        c.expect_cmd(&args, SYNTAX_ERR);
    }
    c.expect_cmd(&["TTL", "k"], int(100));
    c.expect_cmd(&["GETEX"], arity_err("getex"));
}

#[test]
fn getex_invalid_expire_times() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    for (opt, val) in [
        ("EX", "0"),
        ("EX", "-1"),
        ("PX", "0"),
        ("EXAT", "0"),
        ("PXAT", "-5"),
        ("EX", "9223372036854775807"),
        ("EX", "9223372036854775"),
        ("PX", "9223372036854775807"),
        ("EXAT", "9223372036854775807"),
    ] {
        c.expect_cmd(&["GETEX", "k", opt, val], BAD_EXPIRE_GETEX);
    }
    for (opt, val) in [("EX", "abc"), ("PX", "1.5"), ("EXAT", ""), ("PXAT", " 1")] {
        c.expect_cmd(&["GETEX", "k", opt, val], NOT_INT_ERR);
    }
    c.expect_cmd(&["TTL", "k"], int(-1));
    // A missing key answers null before its expiry value is looked at.
    c.expect_cmd(&["GETEX", "missing", "EX", "0"], NIL);
    c.expect_cmd(&["GETEX", "missing", "EX", "abc"], NIL);
}

#[test]
fn set_repeated_options_behave_like_redis() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v", "EX", "10", "EX", "20"], OK);
    c.expect_cmd(&["TTL", "k"], int(20));
    c.expect_cmd(&["SET", "k", "v", "EX", "abc", "EX", "30"], OK);
    c.expect_cmd(&["TTL", "k"], int(30));
    c.expect_cmd(&["SET", "k", "v", "KEEPTTL", "KEEPTTL"], OK);
    c.expect_cmd(&["TTL", "k"], int(30));
    c.expect_cmd(&["SET", "k", "w", "NX", "NX"], NIL);
    c.expect_cmd(&["SET", "k", "w", "XX", "XX", "GET", "GET"], bulk("v"));
    c.expect_cmd(&["SET", "k", "v", "PERSIST"], SYNTAX_ERR);
    c.expect_cmd(&["SET", "k", "v", "EX", "0", "PX", "5"], SYNTAX_ERR);
}

// ---------------------------------------------------------------------------
// MSETNX
// ---------------------------------------------------------------------------

#[test]
fn msetnx_sets_all_or_nothing() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MSETNX", "a", "1", "b", "2"], int(1));
    c.expect_cmd(&["MGET", "a", "b"], "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    c.expect_cmd(&["MSETNX", "a", "9", "c", "3"], int(0));
    c.expect_cmd(&["EXISTS", "c"], int(0));
    c.expect_cmd(&["GET", "a"], bulk("1"));
    // The same key twice: neither exists yet, the last value wins.
    c.expect_cmd(&["MSETNX", "x", "1", "x", "2"], int(1));
    c.expect_cmd(&["GET", "x"], bulk("2"));
    // Values are stored without a deadline.
    c.expect_cmd(&["TTL", "x"], int(-1));
}

#[test]
fn msetnx_odd_arguments_are_an_arity_error() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MSETNX", "a"], arity_err("msetnx"));
    c.expect_cmd(&["MSETNX", "a", "1", "b"], arity_err("msetnx"));
    c.expect_cmd(&["EXISTS", "a", "b"], int(0));
}

#[test]
fn msetnx_is_atomic_for_readers() {
    let s = TestServer::start();
    let keys: Vec<String> = (0..16).map(|i| format!("atomic:{i}")).collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (port, keys, stop) = (s.port(), keys.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut c = RawClient::connect(port);
            let mut args = vec!["MGET".to_string()];
            args.extend(keys);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let reply = c.call_resp(&args);
                let set = reply.items().iter().filter(|v| !matches!(v, Resp::Bulk(None))).count();
                assert!(set == 0 || set == 16, "MGET saw {set} of the 16 keys MSETNX sets together");
            }
        })
    };
    let mut c = s.raw();
    for round in 0..200 {
        let mut args = vec!["MSETNX".to_string()];
        for k in &keys {
            args.push(k.clone());
            args.push(round.to_string());
        }
        c.expect_cmd(&args, int(1));
        let mut del = vec!["DEL".to_string()];
        del.extend(keys.iter().cloned());
        c.expect_cmd(&del, int(16));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.join().expect("reader thread");
}

// ---------------------------------------------------------------------------
// INCRBYFLOAT
// ---------------------------------------------------------------------------

#[test]
fn incrbyfloat_formats_like_redis() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "f", "10.5"], OK);
    c.expect_cmd(&["INCRBYFLOAT", "f", "0.1"], bulk("10.6"));
    c.expect_cmd(&["INCRBYFLOAT", "f", "-5"], bulk("5.6"));
    c.expect_cmd(&["GET", "f"], bulk("5.6"));
    c.expect_cmd(&["SET", "g", "0.1"], OK);
    c.expect_cmd(&["INCRBYFLOAT", "g", "0.2"], bulk("0.3"));
    c.expect_cmd(&["INCRBYFLOAT", "new", "3.0e3"], bulk("3000"));
    c.expect_cmd(&["INCRBYFLOAT", "new", "-3000"], bulk("0"));
    c.expect_cmd(&["INCRBYFLOAT", "tiny", "1e-20"], bulk("0"));
    c.expect_cmd(&["INCRBYFLOAT", "tie", "0.000003814697265625"], bulk("0.00000381469726562"));
    c.expect_cmd(&["SET", "p", "5"], OK);
    c.expect_cmd(&["INCRBYFLOAT", "p", "1e-17"], bulk("5.00000000000000001"));
    c.expect_cmd(&["SET", "i", "123456789012345678901234567890"], OK);
    c.expect_cmd(&["INCRBYFLOAT", "i", "1"], bulk("123456789012345678899921813504"));
    c.expect_cmd(&["INCRBYFLOAT", "h", "0x10"], bulk("16"));
    c.expect_cmd(&["INCRBYFLOAT", "h", "0x1p-2"], bulk("16.25"));
    c.expect_cmd(&["INCRBYFLOAT", "h", "+.75"], bulk("17"));
    c.expect_cmd(&["INCRBYFLOAT", "h", "-INF"], NAN_OR_INF);
    let big = c.call_resp(&["INCRBYFLOAT", "big", "1e300"]).text();
    assert_eq!(big.len(), 301, "INCRBYFLOAT 1e300 prints every digit: {big}");
    assert!(big.starts_with("1000000000000000000008997324079559"), "{big}");
}

#[test]
fn incrbyfloat_keeps_the_ttl() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "t", "1", "EX", "100"], OK);
    c.expect_cmd(&["INCRBYFLOAT", "t", "1.5"], bulk("2.5"));
    c.expect_cmd(&["TTL", "t"], int(100));
}

#[test]
fn incrbyfloat_invalid_increment() {
    let s = TestServer::start();
    let mut c = s.raw();
    for bad in ["abc", "", " 1", "1 ", "nan", "1e", "0x", "1.5.2", "1e5000", "1e-5000", "1,5"] {
        c.expect_cmd(&["INCRBYFLOAT", "f", bad], NOT_FLOAT);
    }
    c.expect_cmd(&["INCRBYFLOAT", "f", "1.5\0"], NOT_FLOAT);
    c.expect_cmd(&["EXISTS", "f"], int(0));
    c.expect_cmd(&["INCRBYFLOAT", "f"], arity_err("incrbyfloat"));
}

#[test]
fn incrbyfloat_invalid_stored_value() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "s", "abc"], OK);
    c.expect_cmd(&["INCRBYFLOAT", "s", "1"], NOT_FLOAT);
    c.expect_cmd(&["SET", "e", ""], OK);
    c.expect_cmd(&["INCRBYFLOAT", "e", "1"], NOT_FLOAT);
    c.expect_cmd(&["GET", "s"], bulk("abc"));
}

#[test]
fn incrbyfloat_nan_or_infinity() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["INCRBYFLOAT", "f", "inf"], NAN_OR_INF);
    c.expect_cmd(&["INCRBYFLOAT", "f", "-infinity"], NAN_OR_INF);
    c.expect_cmd(&["EXISTS", "f"], int(0));
    c.expect_cmd(&["SET", "huge", "1.18e4932"], OK);
    c.expect_cmd(&["INCRBYFLOAT", "huge", "1.18e4932"], NAN_OR_INF);
    c.expect_cmd(&["GET", "huge"], bulk("1.18e4932"));
}

// ---------------------------------------------------------------------------
// RESP3 and statistics
// ---------------------------------------------------------------------------

#[test]
fn resp3_null_and_scalar_replies() {
    let s = TestServer::start();
    let mut c = resp3(&s);
    c.expect_cmd(&["GETDEL", "missing"], NULL3);
    c.expect_cmd(&["GETEX", "missing"], NULL3);
    c.expect_cmd(&["GETSET", "g", "v"], NULL3);
    c.expect_cmd(&["GETSET", "g", "w"], bulk("v"));
    c.expect_cmd(&["GETRANGE", "missing", "0", "-1"], EMPTY);
    c.expect_cmd(&["INCRBYFLOAT", "f", "1.5"], bulk("1.5"));
    c.expect_cmd(&["APPEND", "g", "x"], int(2));
    c.expect_cmd(&["STRLEN", "g"], int(2));
    c.expect_cmd(&["MSETNX", "m", "1"], int(1));
    c.expect_cmd(&["SETBIT", "b", "1", "1"], int(0));
    c.expect_cmd(&["GETBIT", "b", "1"], int(1));
    c.expect_cmd(&["BITCOUNT", "b"], int(1));
    c.expect_cmd(&["SETRANGE", "g", "0", "y"], int(2));
    c.expect_cmd(&["INCRBYFLOAT", "f", "x"], NOT_FLOAT);
}

#[test]
fn reads_count_as_keyspace_hits_and_misses() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "value"], OK);
    let before = c.info("stats");
    // Lookups: 6 hits, 6 misses.
    for key in ["k", "missing"] {
        c.call(&["STRLEN", key]);
        c.call(&["GETRANGE", key, "0", "1"]);
        c.call(&["GETBIT", key, "0"]);
        c.call(&["BITCOUNT", key]);
        c.call(&["GETEX", key]);
    }
    c.call(&["GETSET", "k", "value"]);
    c.call(&["GETDEL", "missing"]);
    // Writes that read the old value do not count.
    c.call(&["APPEND", "k", "x"]);
    c.call(&["SETRANGE", "k", "0", "x"]);
    c.call(&["INCRBYFLOAT", "f", "1"]);
    c.call(&["SETBIT", "b", "0", "1"]);
    c.call(&["MSETNX", "m", "1"]);
    let after = c.info("stats");
    let delta = |f: &str| info_int(&after, f) - info_int(&before, f);
    assert_eq!(delta("keyspace_hits"), 6, "keyspace_hits delta");
    assert_eq!(delta("keyspace_misses"), 6, "keyspace_misses delta");
}

/// Run `change` from another client between WATCH k and EXEC, after
/// `setup`; true if that aborted the transaction (EXEC answered null).
fn aborts_watch(s: &TestServer, setup: &[&str], change: &[&str]) -> bool {
    let mut c = s.raw();
    let mut other = s.raw();
    c.call(&["DEL", "k"]);
    c.call(setup);
    c.expect_cmd(&["WATCH", "k"], OK);
    other.call(change);
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["PING"], "+QUEUED\r\n");
    match c.call_resp(&["EXEC"]) {
        Resp::Array(None) => true,
        Resp::Array(Some(_)) => false,
        other => panic!("EXEC answered {other:?}"),
    }
}

#[test]
fn only_real_changes_touch_watched_keys() {
    let s = TestServer::start();
    let set = ["SET", "k", "v"];
    // Writes that change nothing leave a WATCH alone, as in Redis.
    let unchanged: &[(&[&str], &[&str])] = &[
        (&set, &["GETEX", "k", "PERSIST"]),
        (&set, &["GETEX", "k"]),
        (&set, &["SETRANGE", "k", "0", ""]),
        (&set, &["MSETNX", "k", "1", "other", "2"]),
        (&["SET", "k", "@"], &["SETBIT", "k", "1", "1"]),
    ];
    for (setup, change) in unchanged {
        assert!(!aborts_watch(&s, setup, change), "{change:?} should not touch a watched key");
    }
    let changed: &[(&[&str], &[&str])] = &[
        (&set, &["APPEND", "k", ""]),
        (&set, &["APPEND", "k", "x"]),
        (&set, &["SETRANGE", "k", "0", "x"]),
        (&set, &["GETEX", "k", "EX", "100"]),
        (&set, &["GETDEL", "k"]),
        (&set, &["GETSET", "k", "v"]),
        (&["SET", "k", "1"], &["INCRBYFLOAT", "k", "0"]),
        (&set, &["SETBIT", "k", "100", "0"]),
        (&["SET", "k", "@"], &["SETBIT", "k", "1", "0"]),
        (&["DEL", "k"], &["MSETNX", "k", "1"]),
    ];
    for (setup, change) in changed {
        assert!(aborts_watch(&s, setup, change), "{change:?} should touch a watched key");
    }
}
