//! Hash commands: HSET, HSETNX, HMSET, HGET, HMGET, HGETALL, HDEL, HEXISTS,
//! HLEN, HKEYS, HVALS, HSTRLEN, HINCRBY, HINCRBYFLOAT, HRANDFIELD, HSCAN, their
//! options, arity and error texts, WRONGTYPE, and RESP3 reply types; then the
//! per-field expiry family (HEXPIRE, HPEXPIRE, HEXPIREAT, HPEXPIREAT, HTTL,
//! HPTTL, HEXPIRETIME, HPEXPIRETIME, HPERSIST: Redis 7.4) and HSETEX, HGETEX,
//! HGETDEL (Redis 8.0), with lazy and active reclaim of expired fields.
//!
//! Redis replies, byte-exact. Everything that does not need 7.4/8.0 holds
//! against redis-server 7.0 (differential mode); the newer tests skip
//! themselves on an older reference and were written from the Redis source and
//! docs (t_hash.c of 8.x). Field order of multi-field replies is not asserted
//! (Redis only keeps insertion order for small listpack hashes): those replies
//! are checked for their framing and then compared sorted.

use crate::common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const NOT_HASH_INT: &str = "-ERR hash value is not an integer\r\n";
const NOT_HASH_FLOAT: &str = "-ERR hash value is not a float\r\n";
const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";
const OVERFLOW: &str = "-ERR increment or decrement would overflow\r\n";
/// HINCRBYFLOAT's answer to an infinite increment (INCRBYFLOAT answers
/// "increment would produce NaN or Infinity" to the same argument).
const INCR_NAN_OR_INF: &str = "-ERR value is NaN or Infinity\r\n";
/// HINCRBYFLOAT's answer when the sum overflows the long double range.
const RESULT_NAN_OR_INF: &str = "-ERR increment would produce NaN or Infinity\r\n";
const INVALID_CURSOR: &str = "-ERR invalid cursor\r\n";
const OUT_OF_RANGE: &str = "-ERR value is out of range\r\n";
/// HRANDFIELD's count parser (`getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)`).
const COUNT_RANGE: &str =
    "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n";
const NUMFIELDS_MISMATCH: &str = "-ERR The `numfields` parameter must match the number of arguments\r\n";
const FIELDS_MISSING: &str = "-ERR Mandatory argument FIELDS is missing or not at the right position\r\n";
/// HEXPIRE family: numfields 0 or not a number.
const HEXPIRE_NUMFIELDS: &str = "-ERR Parameter `numFields` should be greater than 0\r\n";
/// HTTL family, HPERSIST, HGETEX, HGETDEL: numfields 0 or not a number.
const NUMFIELDS_POSITIVE: &str = "-ERR Number of fields must be a positive integer\r\n";
const NEGATIVE_EXPIRE: &str = "-ERR invalid expire time, must be >= 0\r\n";

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as i64
}

/// `ERR invalid expire time in '<cmd>' command`.
fn bad_expire(cmd: &str) -> String {
    err(&format!("ERR invalid expire time in '{cmd}' command"))
}

fn texts(items: &[Resp]) -> Vec<String> {
    items.iter().map(Resp::text).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    v.sort();
    v
}

/// HGETALL of `key`, checked to be a RESP2 flat array of bulks, as sorted pairs.
fn hgetall(c: &mut RawClient, key: &str) -> Vec<(String, String)> {
    let reply = c.call_resp(&["HGETALL", key]);
    let items = reply.items();
    assert!(items.len() % 2 == 0, "HGETALL {key} returned an odd-length array: {reply:?}");
    assert!(items.iter().all(|i| matches!(i, Resp::Bulk(Some(_)))), "HGETALL {key}: not all bulks: {reply:?}");
    let mut v: Vec<(String, String)> = reply.pairs().into_iter().map(|(k, v)| (k, v.text())).collect();
    v.sort();
    v
}

/// Assert `key` holds exactly `pairs` (HGETALL and HLEN agree).
fn assert_hash(c: &mut RawClient, key: &str, pairs: &[(&str, &str)]) {
    assert_eq!(hgetall(c, key), owned(pairs), "HGETALL {key}");
    c.expect_cmd(&["HLEN", key], int(pairs.len() as i64));
}

/// Full HSCAN iteration; returns every (field, value) pair seen (with
/// duplicates) and checks the reply shape of each step.
fn hscan_all(c: &mut RawClient, key: &str, extra: &[&str]) -> Vec<(String, String)> {
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    for _ in 0..100_000 {
        let mut args = vec!["HSCAN", key, cursor.as_str()];
        args.extend_from_slice(extra);
        let reply = c.call_resp(&args);
        let parts = reply.items();
        assert_eq!(parts.len(), 2, "HSCAN reply is [cursor, items]: {reply:?}");
        let next = parts[0].text();
        assert!(next.parse::<u64>().is_ok(), "HSCAN cursor {next:?} is not an unsigned integer");
        seen.extend(parts[1].pairs().into_iter().map(|(k, v)| (k, v.text())));
        if next == "0" {
            return seen;
        }
        cursor = next;
    }
    panic!("HSCAN {key} did not finish");
}

// ---------------------------------------------------------------------------
// HSET, HSETNX, HMSET, HGET, HMGET
// ---------------------------------------------------------------------------

#[test]
fn hset_creates_and_updates_fields() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    // Variadic: counts only the fields that are new.
    c.expect_cmd(&["HSET", "h", "a", "2", "b", "3", "c", "4"], int(2));
    c.expect_cmd(&["HSET", "h", "a", "5"], int(0));
    c.expect_cmd(&["HGET", "h", "a"], bulk("5"));
    c.expect_cmd(&["HGET", "h", "b"], bulk("3"));
    c.expect_cmd(&["HGET", "h", "missing"], NIL);
    c.expect_cmd(&["HGET", "missing", "a"], NIL);
    c.expect_cmd(&["TYPE", "h"], "+hash\r\n");
    assert_hash(&mut c, "h", &[("a", "5"), ("b", "3"), ("c", "4")]);
}

#[test]
fn hset_same_field_twice_in_one_call() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "a", "2"], int(1));
    c.expect_cmd(&["HGET", "h", "a"], bulk("2"));
    c.expect_cmd(&["HLEN", "h"], int(1));
}

#[test]
fn hset_is_binary_safe() {
    let s = TestServer::start();
    let mut c = s.raw();
    let field: &[u8] = b"f\0\r\n\xff";
    let value: &[u8] = b"v\0\r\n\xfe";
    c.expect_cmd(&[b"HSET" as &[u8], b"h", field, value], int(1));
    c.expect_cmd(&[b"HGET" as &[u8], b"h", field], bulk(value));
    c.expect_cmd(&[b"HSTRLEN" as &[u8], b"h", field], int(5));
    // Empty field name and empty value are valid.
    c.expect_cmd(&["HSET", "h", "", ""], int(1));
    c.expect_cmd(&["HGET", "h", ""], "$0\r\n\r\n");
    c.expect_cmd(&["HEXISTS", "h", ""], int(1));
    c.expect_cmd(&["HLEN", "h"], int(2));
}

#[test]
fn hset_wrong_arity() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b"], arity_err("hset"));
    c.expect_cmd(&["HSET", "h", "a"], arity_err("hset"));
    c.expect_cmd(&["HSET", "h"], arity_err("hset"));
    c.expect_cmd(&["HSET"], arity_err("hset"));
    c.expect_cmd(&["EXISTS", "h"], int(0));
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    c.expect_cmd(&["HSET", "h", "a", "2", "b"], arity_err("hset"));
    c.expect_cmd(&["HGET", "h", "a"], bulk("1"));
}

#[test]
fn hsetnx_sets_only_new_fields() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSETNX", "h", "a", "1"], int(1));
    c.expect_cmd(&["HSETNX", "h", "a", "2"], int(0));
    c.expect_cmd(&["HGET", "h", "a"], bulk("1"));
    c.expect_cmd(&["HSETNX", "h", "b", "2"], int(1));
    assert_hash(&mut c, "h", &[("a", "1"), ("b", "2")]);
    c.expect_cmd(&["HSETNX", "h", "a"], arity_err("hsetnx"));
    c.expect_cmd(&["HSETNX", "h", "a", "1", "b", "2"], arity_err("hsetnx"));
}

#[test]
fn hmset_replies_ok() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HMSET", "h", "a", "1", "b", "2"], OK);
    c.expect_cmd(&["HMSET", "h", "a", "3"], OK);
    assert_hash(&mut c, "h", &[("a", "3"), ("b", "2")]);
    c.expect_cmd(&["HMSET", "h", "a"], arity_err("hmset"));
    c.expect_cmd(&["HMSET", "h", "a", "1", "b"], arity_err("hmset"));
    c.expect_cmd(&["HMSET", "h"], arity_err("hmset"));
    c.expect_cmd(&["HGET", "h", "a"], bulk("3"));
}

#[test]
fn hget_wrong_arity() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HGET", "h"], arity_err("hget"));
    c.expect_cmd(&["HGET", "h", "a", "b"], arity_err("hget"));
}

#[test]
fn hmget_returns_nil_for_missing_fields() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2"], int(2));
    c.expect_cmd(&["HMGET", "h", "b", "missing", "a", "b"], "*4\r\n$1\r\n2\r\n$-1\r\n$1\r\n1\r\n$1\r\n2\r\n");
    c.expect_cmd(&["HMGET", "missing", "a", "b"], "*2\r\n$-1\r\n$-1\r\n");
    c.expect_cmd(&["HMGET", "h"], arity_err("hmget"));
    let mut c3 = resp3(&s);
    c3.expect_cmd(&["HMGET", "h", "a", "missing"], "*2\r\n$1\r\n1\r\n_\r\n");
    c3.expect_cmd(&["HMGET", "missing", "a"], "*1\r\n_\r\n");
    c3.expect_cmd(&["HGET", "h", "missing"], NULL3);
}

// ---------------------------------------------------------------------------
// HGETALL, HKEYS, HVALS
// ---------------------------------------------------------------------------

#[test]
fn hgetall_resp2_is_a_flat_array() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HGETALL", "missing"], "*0\r\n");
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    c.expect_cmd(&["HGETALL", "h"], "*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    c.expect_cmd(&["HSET", "h", "b", "22", "c", "333"], int(2));
    let reply = c.call(&["HGETALL", "h"]);
    assert!(reply.starts_with("*6\r\n"), "HGETALL of 3 fields: {reply}");
    assert_hash(&mut c, "h", &[("a", "1"), ("b", "22"), ("c", "333")]);
    c.expect_cmd(&["HGETALL"], arity_err("hgetall"));
    c.expect_cmd(&["HGETALL", "h", "x"], arity_err("hgetall"));
}

#[test]
fn hgetall_resp3_is_a_map() {
    let s = TestServer::start();
    let mut c = resp3(&s);
    c.expect_cmd(&["HGETALL", "missing"], "%0\r\n");
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    c.expect_cmd(&["HGETALL", "h"], "%1\r\n$1\r\na\r\n$1\r\n1\r\n");
    c.expect_cmd(&["HSET", "h", "b", "2"], int(1));
    let reply = c.call_resp(&["HGETALL", "h"]);
    assert!(matches!(reply, Resp::Map(ref kv) if kv.len() == 2), "HGETALL in RESP3 is a 2-entry map: {reply:?}");
    let mut pairs: Vec<(String, String)> = reply.pairs().into_iter().map(|(k, v)| (k, v.text())).collect();
    pairs.sort();
    assert_eq!(pairs, owned(&[("a", "1"), ("b", "2")]));
    // HKEYS and HVALS stay plain arrays in RESP3.
    c.expect_cmd(&["HKEYS", "missing"], "*0\r\n");
    c.expect_cmd(&["HDEL", "h", "b"], int(1));
    c.expect_cmd(&["HKEYS", "h"], bulks(&["a"]));
    c.expect_cmd(&["HVALS", "h"], bulks(&["1"]));
}

#[test]
fn hkeys_and_hvals() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HKEYS", "missing"], "*0\r\n");
    c.expect_cmd(&["HVALS", "missing"], "*0\r\n");
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"], int(3));
    let keys = c.call_resp(&["HKEYS", "h"]);
    assert_eq!(sorted(texts(keys.items())), ["a", "b", "c"]);
    let vals = c.call_resp(&["HVALS", "h"]);
    assert_eq!(sorted(texts(vals.items())), ["1", "2", "3"]);
    // HKEYS and HVALS walk the hash in the same order as each other.
    let all = hgetall_unsorted(&mut c, "h");
    assert_eq!(texts(keys.items()), all.iter().map(|p| p.0.clone()).collect::<Vec<_>>());
    assert_eq!(texts(vals.items()), all.iter().map(|p| p.1.clone()).collect::<Vec<_>>());
    c.expect_cmd(&["HKEYS"], arity_err("hkeys"));
    c.expect_cmd(&["HVALS", "h", "x"], arity_err("hvals"));
}

/// HGETALL pairs in server order.
fn hgetall_unsorted(c: &mut RawClient, key: &str) -> Vec<(String, String)> {
    c.call_resp(&["HGETALL", key]).pairs().into_iter().map(|(k, v)| (k, v.text())).collect()
}

// ---------------------------------------------------------------------------
// HDEL, HEXISTS, HLEN, HSTRLEN
// ---------------------------------------------------------------------------

#[test]
fn hdel_is_variadic_and_counts_deleted_fields() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4"], int(4));
    c.expect_cmd(&["HDEL", "h", "a", "missing", "a", "b"], int(2));
    assert_hash(&mut c, "h", &[("c", "3"), ("d", "4")]);
    c.expect_cmd(&["HDEL", "h", "a"], int(0));
    c.expect_cmd(&["HDEL", "missing", "a"], int(0));
    c.expect_cmd(&["HDEL", "h"], arity_err("hdel"));
}

#[test]
fn hdel_of_the_last_field_removes_the_key() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2"], int(2));
    c.expect_cmd(&["HDEL", "h", "a"], int(1));
    c.expect_cmd(&["EXISTS", "h"], int(1));
    c.expect_cmd(&["HDEL", "h", "b", "a"], int(1));
    c.expect_cmd(&["EXISTS", "h"], int(0));
    c.expect_cmd(&["TYPE", "h"], "+none\r\n");
    c.expect_cmd(&["DBSIZE"], int(0));
    c.expect_cmd(&["HLEN", "h"], int(0));
    c.expect_cmd(&["HGETALL", "h"], "*0\r\n");
    // The name is free for any type again.
    c.expect_cmd(&["SET", "h", "s"], OK);
    c.expect_cmd(&["GET", "h"], bulk("s"));
}

#[test]
fn hexists_hlen_hstrlen() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "hello", "n", "-123", "e", ""], int(3));
    c.expect_cmd(&["HEXISTS", "h", "a"], int(1));
    c.expect_cmd(&["HEXISTS", "h", "missing"], int(0));
    c.expect_cmd(&["HEXISTS", "missing", "a"], int(0));
    c.expect_cmd(&["HLEN", "h"], int(3));
    c.expect_cmd(&["HLEN", "missing"], int(0));
    c.expect_cmd(&["HSTRLEN", "h", "a"], int(5));
    c.expect_cmd(&["HSTRLEN", "h", "n"], int(4));
    c.expect_cmd(&["HSTRLEN", "h", "e"], int(0));
    c.expect_cmd(&["HSTRLEN", "h", "missing"], int(0));
    c.expect_cmd(&["HSTRLEN", "missing", "a"], int(0));
    c.expect_cmd(&["HEXISTS", "h"], arity_err("hexists"));
    c.expect_cmd(&["HEXISTS", "h", "a", "b"], arity_err("hexists"));
    c.expect_cmd(&["HLEN"], arity_err("hlen"));
    c.expect_cmd(&["HLEN", "h", "a"], arity_err("hlen"));
    c.expect_cmd(&["HSTRLEN", "h"], arity_err("hstrlen"));
}

// ---------------------------------------------------------------------------
// HINCRBY
// ---------------------------------------------------------------------------

#[test]
fn hincrby_creates_and_increments() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HINCRBY", "h", "n", "5"], int(5));
    c.expect_cmd(&["HINCRBY", "h", "n", "-8"], int(-3));
    c.expect_cmd(&["HINCRBY", "h", "n", "0"], int(-3));
    c.expect_cmd(&["HGET", "h", "n"], bulk("-3"));
    c.expect_cmd(&["HSET", "h", "m", "100"], int(1));
    c.expect_cmd(&["HINCRBY", "h", "m", "1"], int(101));
    c.expect_cmd(&["HINCRBY", "h", "m", "+1"], NOT_INT_ERR);
    c.expect_cmd(&["HINCRBY", "h", "m", "-9223372036854775808"], int(-9223372036854775707));
    c.expect_cmd(&["HGET", "h", "m"], bulk("-9223372036854775707"));
}

#[test]
fn hincrby_field_not_an_integer() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "s", "abc", "f", "1.5", "e", "", "sp", " 1", "big", "9223372036854775808"], int(5));
    for field in ["s", "f", "e", "sp", "big"] {
        c.expect_cmd(&["HINCRBY", "h", field, "1"], NOT_HASH_INT);
    }
    c.expect_cmd(&["HGET", "h", "s"], bulk("abc"));
}

#[test]
fn hincrby_bad_increment() {
    let s = TestServer::start();
    let mut c = s.raw();
    for bad in ["x", "1.5", "", " 1", "9223372036854775808", "-9223372036854775809", "1e3"] {
        c.expect_cmd(&["HINCRBY", "h", "n", bad], NOT_INT_ERR);
    }
    // A rejected increment creates nothing.
    c.expect_cmd(&["EXISTS", "h"], int(0));
    c.expect_cmd(&["HINCRBY", "h", "n"], arity_err("hincrby"));
    c.expect_cmd(&["HINCRBY", "h", "n", "1", "2"], arity_err("hincrby"));
}

#[test]
fn hincrby_overflow() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "max", "9223372036854775807", "min", "-9223372036854775808"], int(2));
    c.expect_cmd(&["HINCRBY", "h", "max", "1"], OVERFLOW);
    c.expect_cmd(&["HINCRBY", "h", "min", "-1"], OVERFLOW);
    c.expect_cmd(&["HINCRBY", "h", "max", "-1"], int(9223372036854775806));
    c.expect_cmd(&["HINCRBY", "h", "min", "9223372036854775807"], int(-1));
    c.expect_cmd(&["HINCRBY", "h", "max", "0"], int(9223372036854775806));
    c.expect_cmd(&["HGET", "h", "max"], bulk("9223372036854775806"));
}

// ---------------------------------------------------------------------------
// HINCRBYFLOAT
// ---------------------------------------------------------------------------

#[test]
fn hincrbyfloat_formats_like_redis() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "f", "10.5"], int(1));
    c.expect_cmd(&["HINCRBYFLOAT", "h", "f", "0.1"], bulk("10.6"));
    c.expect_cmd(&["HINCRBYFLOAT", "h", "f", "-5"], bulk("5.6"));
    c.expect_cmd(&["HGET", "h", "f"], bulk("5.6"));
    c.expect_cmd(&["HINCRBYFLOAT", "h", "new", "5.0e3"], bulk("5000"));
    c.expect_cmd(&["HINCRBYFLOAT", "h", "new", "1"], bulk("5001"));
    c.expect_cmd(&["HINCRBYFLOAT", "h", "new", "-5001"], bulk("0"));
    c.expect_cmd(&["HINCRBYFLOAT", "h", "g", "0.1"], bulk("0.1"));
    c.expect_cmd(&["HINCRBYFLOAT", "h", "g", "0.2"], bulk("0.3"));
    c.expect_cmd(&["HINCRBYFLOAT", "h", "x", "0x10"], bulk("16"));
    c.expect_cmd(&["HINCRBYFLOAT", "h", "x", "+.75"], bulk("16.75"));
    c.expect_cmd(&["HINCRBYFLOAT", "h", "p", "5"], bulk("5"));
    c.expect_cmd(&["HINCRBYFLOAT", "h", "p", "1e-17"], bulk("5.00000000000000001"));
    // Integers made by HINCRBY are floats too, and back.
    c.expect_cmd(&["HINCRBY", "h", "i", "3"], int(3));
    c.expect_cmd(&["HINCRBYFLOAT", "h", "i", "1.5"], bulk("4.5"));
    c.expect_cmd(&["HINCRBY", "h", "i", "1"], NOT_HASH_INT);
    c.expect_cmd(&["HINCRBYFLOAT", "h", "i", "0.5"], bulk("5"));
    c.expect_cmd(&["HINCRBY", "h", "i", "1"], int(6));
    // No exponent in the output: every digit is printed.
    let big = c.call_resp(&["HINCRBYFLOAT", "h", "big", "1e300"]).text();
    assert_eq!(big.len(), 301, "HINCRBYFLOAT 1e300 prints every digit: {big}");
    assert!(big.starts_with("1000000000000000000008997324079559"), "{big}");
}

#[test]
fn hincrbyfloat_is_a_bulk_string_in_resp3() {
    let s = TestServer::start();
    let mut c = resp3(&s);
    c.expect_cmd(&["HINCRBYFLOAT", "h", "f", "10.5"], bulk("10.5"));
    c.expect_cmd(&["HINCRBYFLOAT", "h", "f", "0.1"], bulk("10.6"));
}

#[test]
fn hincrbyfloat_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    for bad in ["abc", "", " 1", "1 ", "nan", "1e", "1.5.2", "1e5000", "1,5"] {
        c.expect_cmd(&["HINCRBYFLOAT", "h", "f", bad], NOT_FLOAT);
    }
    // An infinite increment is refused with a text of its own.
    c.expect_cmd(&["HINCRBYFLOAT", "h", "f", "inf"], INCR_NAN_OR_INF);
    c.expect_cmd(&["HINCRBYFLOAT", "h", "f", "-inf"], INCR_NAN_OR_INF);
    c.expect_cmd(&["HINCRBYFLOAT", "h", "f", "+Infinity"], INCR_NAN_OR_INF);
    c.expect_cmd(&["EXISTS", "h"], int(0));
    c.expect_cmd(&["HSET", "h", "s", "abc", "e", "", "huge", "1.18e4932"], int(3));
    c.expect_cmd(&["HINCRBYFLOAT", "h", "s", "1"], NOT_HASH_FLOAT);
    c.expect_cmd(&["HINCRBYFLOAT", "h", "e", "1"], NOT_HASH_FLOAT);
    // The sum is computed in long double: 1.18e4932 * 2 overflows it.
    c.expect_cmd(&["HINCRBYFLOAT", "h", "huge", "1.18e4932"], RESULT_NAN_OR_INF);
    c.expect_cmd(&["HGET", "h", "huge"], bulk("1.18e4932"));
    c.expect_cmd(&["HGET", "h", "s"], bulk("abc"));
    c.expect_cmd(&["HINCRBYFLOAT", "h", "f"], arity_err("hincrbyfloat"));
    c.expect_cmd(&["HINCRBYFLOAT", "h", "f", "1", "2"], arity_err("hincrbyfloat"));
}

// ---------------------------------------------------------------------------
// HRANDFIELD
// ---------------------------------------------------------------------------

#[test]
fn hrandfield_without_count() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HRANDFIELD", "missing"], NIL);
    c.expect_cmd(&["HSET", "h", "only", "1"], int(1));
    c.expect_cmd(&["HRANDFIELD", "h"], bulk("only"));
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2"], int(2));
    for _ in 0..20 {
        let f = c.call_resp(&["HRANDFIELD", "h"]).text();
        assert!(["only", "a", "b"].contains(&f.as_str()), "HRANDFIELD returned {f:?}");
    }
    let mut c3 = resp3(&s);
    c3.expect_cmd(&["HRANDFIELD", "missing"], NULL3);
    c3.expect_cmd(&["HRANDFIELD"], arity_err("hrandfield"));
}

#[test]
fn hrandfield_positive_count_is_distinct() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"], int(5));
    let all = ["a", "b", "c", "d", "e"];
    for count in [1usize, 2, 4, 5] {
        for _ in 0..10 {
            let got = texts(c.call_resp(&["HRANDFIELD", "h", &count.to_string()]).items());
            assert_eq!(got.len(), count, "HRANDFIELD h {count}: {got:?}");
            let distinct: BTreeSet<&String> = got.iter().collect();
            assert_eq!(distinct.len(), count, "HRANDFIELD h {count} repeated a field: {got:?}");
            assert!(got.iter().all(|f| all.contains(&f.as_str())), "{got:?}");
        }
    }
    // A count above the size returns the whole hash, once each.
    for count in ["6", "100", "9223372036854775807"] {
        let got = sorted(texts(c.call_resp(&["HRANDFIELD", "h", count]).items()));
        assert_eq!(got, all, "HRANDFIELD h {count}");
    }
}

#[test]
fn hrandfield_negative_count_allows_repeats() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2"], int(2));
    let got = texts(c.call_resp(&["HRANDFIELD", "h", "-100"]).items());
    assert_eq!(got.len(), 100);
    assert!(got.iter().all(|f| f == "a" || f == "b"), "{got:?}");
    // With 100 draws from 2 fields, both show up (fails with odds 2^-99).
    assert!(got.contains(&"a".to_string()) && got.contains(&"b".to_string()), "{got:?}");
    let one = texts(c.call_resp(&["HRANDFIELD", "h", "-1"]).items());
    assert!(one == ["a"] || one == ["b"], "HRANDFIELD h -1: {one:?}");
}

#[test]
fn hrandfield_withvalues() {
    let s = TestServer::start();
    let mut c = s.raw();
    let pairs = BTreeMap::from([("a", "1"), ("b", "2"), ("c", "3")]);
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"], int(3));
    for count in ["2", "3", "10", "-7"] {
        let reply = c.call_resp(&["HRANDFIELD", "h", count, "WITHVALUES"]);
        let got = reply.pairs();
        let n: i64 = count.parse().unwrap();
        let expect_len = if n < 0 { n.unsigned_abs() as usize } else { (n as usize).min(3) };
        assert_eq!(got.len(), expect_len, "HRANDFIELD h {count} WITHVALUES: {reply:?}");
        for (f, v) in &got {
            assert_eq!(pairs.get(f.as_str()).copied(), Some(v.text().as_str()), "pair {f}={v:?}");
        }
        if n > 0 {
            let distinct: BTreeSet<&String> = got.iter().map(|p| &p.0).collect();
            assert_eq!(distinct.len(), got.len(), "positive count repeated a field: {reply:?}");
        }
    }
    // Lower case works; the one pair is one of the three.
    let got = c.call_resp(&["HRANDFIELD", "h", "1", "withvalues"]).pairs();
    assert_eq!(got.len(), 1);
    assert_eq!(pairs.get(got[0].0.as_str()).copied(), Some(got[0].1.text().as_str()));
}

#[test]
fn hrandfield_zero_count_and_missing_key() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    c.expect_cmd(&["HRANDFIELD", "h", "0"], "*0\r\n");
    c.expect_cmd(&["HRANDFIELD", "h", "0", "WITHVALUES"], "*0\r\n");
    c.expect_cmd(&["HRANDFIELD", "missing", "5"], "*0\r\n");
    c.expect_cmd(&["HRANDFIELD", "missing", "-5"], "*0\r\n");
    c.expect_cmd(&["HRANDFIELD", "missing", "5", "WITHVALUES"], "*0\r\n");
    let mut c3 = resp3(&s);
    c3.expect_cmd(&["HRANDFIELD", "missing", "5"], "*0\r\n");
    c3.expect_cmd(&["HRANDFIELD", "missing", "5", "WITHVALUES"], "*0\r\n");
}

#[test]
fn hrandfield_resp3_withvalues_is_an_array_of_pairs() {
    let s = TestServer::start();
    let mut c = resp3(&s);
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    c.expect_cmd(&["HRANDFIELD", "h", "1", "WITHVALUES"], "*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    c.expect_cmd(
        &["HRANDFIELD", "h", "-2", "WITHVALUES"],
        "*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    // Without WITHVALUES it stays a flat array of fields.
    c.expect_cmd(&["HRANDFIELD", "h", "-2"], "*2\r\n$1\r\na\r\n$1\r\na\r\n");
    c.expect_cmd(&["HRANDFIELD", "h"], bulk("a"));
    // RESP2 for comparison: a flat field, value list.
    let mut c2 = s.raw();
    c2.expect_cmd(&["HRANDFIELD", "h", "-2", "WITHVALUES"], "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n1\r\n");
}

/// HRANDFIELD with a huge negative count: Redis tries to send 2^63
/// elements; Redistill produces the reply as it goes and cuts the client
/// off once the reply passes its output buffer limit, without growing
/// memory beyond that or disturbing other clients (Redistill only).
#[test]
fn hrandfield_huge_negative_count_is_cut_off_at_the_output_limit() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start_with("[server]\nclient_output_buffer_limit = \"1mb\"\n");
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2"], int(2));
    let mut stream = c.stream().try_clone().expect("clone stream");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.write_all(&encode(&["HRANDFIELD", "h", "-9223372036854775807"])).expect("send");
    let mut received = Vec::new();
    let read = std::io::Read::read_to_end(&mut stream, &mut received);
    assert!(read.is_ok(), "the server should close the connection, not stall: {read:?}");
    assert!(
        received.starts_with(b"*9223372036854775807\r\n$1\r\n"),
        "an array reply starts: {}",
        show(&received[..40])
    );
    assert!(received.len() > 1 << 20, "the reply is cut after the limit, not before: {} bytes", received.len());
    assert!(received.len() < 16 << 20, "the reply stops near the 1 MB limit: {} bytes", received.len());
    let mut other = s.raw();
    other.expect_cmd(&["HLEN", "h"], int(2));
}

#[test]
fn hrandfield_count_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2"], int(2));
    c.expect_cmd(&["HRANDFIELD", "h", "x"], NOT_INT_ERR);
    c.expect_cmd(&["HRANDFIELD", "h", "1.5"], NOT_INT_ERR);
    c.expect_cmd(&["HRANDFIELD", "h", "9223372036854775808"], NOT_INT_ERR);
    // LONG_MIN cannot be negated: refused before anything is generated.
    c.expect_cmd(&["HRANDFIELD", "h", "-9223372036854775808"], COUNT_RANGE);
    c.expect_cmd(&["HRANDFIELD", "h", "-9223372036854775808", "WITHVALUES"], COUNT_RANGE);
    // WITHVALUES doubles the reply, so |count| must stay within LONG_MAX / 2.
    c.expect_cmd(&["HRANDFIELD", "h", "9223372036854775807", "WITHVALUES"], OUT_OF_RANGE);
    c.expect_cmd(&["HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES"], OUT_OF_RANGE);
    c.expect_cmd(&["HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"], OUT_OF_RANGE);
    c.expect_cmd(&["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"], OUT_OF_RANGE);
    let r = c.call_resp(&["HRANDFIELD", "h", "4611686018427387903", "WITHVALUES"]);
    assert_eq!(r.items().len(), 4, "a huge positive count returns the whole hash: {r:?}");
    c.expect_cmd(&["HRANDFIELD", "h", "1", "VALUES"], SYNTAX_ERR);
    c.expect_cmd(&["HRANDFIELD", "h", "1", "WITHVALUES", "x"], SYNTAX_ERR);
    // The count is parsed before the key is looked up.
    c.expect_cmd(&["HRANDFIELD", "missing", "x"], NOT_INT_ERR);
    c.expect_cmd(&["HRANDFIELD", "missing", "1", "x"], SYNTAX_ERR);
}

// ---------------------------------------------------------------------------
// HSCAN
// ---------------------------------------------------------------------------

#[test]
fn hscan_returns_every_field() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSCAN", "missing", "0"], "*2\r\n$1\r\n0\r\n*0\r\n");
    c.expect_cmd(&["HSET", "small", "a", "1"], int(1));
    c.expect_cmd(&["HSCAN", "small", "0"], "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    hset_many(&mut c, "h", 1000);
    let seen: BTreeMap<String, String> = hscan_all(&mut c, "h", &[]).into_iter().collect();
    assert_eq!(seen.len(), 1000);
    for i in 0..1000 {
        assert_eq!(seen.get(&format!("f{i}")), Some(&format!("v{i}")), "field f{i}");
    }
    let seen: BTreeSet<String> = hscan_all(&mut c, "h", &["COUNT", "7"]).into_iter().map(|p| p.0).collect();
    assert_eq!(seen.len(), 1000);
}

#[test]
fn hscan_match_filters_fields() {
    let s = TestServer::start();
    let mut c = s.raw();
    hset_many(&mut c, "big", 600);
    c.expect_cmd(&["HSET", "small", "apple", "1", "banana", "2", "avocado", "3"], int(3));
    for key in ["big", "small"] {
        let seen: BTreeSet<String> =
            hscan_all(&mut c, key, &["MATCH", "f1*", "COUNT", "50"]).into_iter().map(|p| p.0).collect();
        if key == "big" {
            let expect: BTreeSet<String> = (0..600).map(|i| format!("f{i}")).filter(|f| f.starts_with("f1")).collect();
            assert_eq!(seen, expect);
        } else {
            assert!(seen.is_empty(), "{seen:?}");
        }
    }
    let seen: BTreeSet<String> = hscan_all(&mut c, "small", &["MATCH", "a*"]).into_iter().map(|p| p.0).collect();
    assert_eq!(seen, BTreeSet::from(["apple".to_string(), "avocado".to_string()]));
    let seen = hscan_all(&mut c, "small", &["match", "*an*", "count", "1"]);
    assert_eq!(seen, vec![("banana".to_string(), "2".to_string())]);
}

#[test]
fn hscan_is_an_array_in_resp3() {
    let s = TestServer::start();
    let mut c = resp3(&s);
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    c.expect_cmd(&["HSCAN", "h", "0"], "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    c.expect_cmd(&["HSCAN", "missing", "0"], "*2\r\n$1\r\n0\r\n*0\r\n");
}

#[test]
fn hscan_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    // Only cursors every Redis refuses: 7.0 accepts "" and "-1" and refuses
    // " 1", 7.4+ the other way round; both accept "+1".
    for bad in ["x", "1.5", "1 ", "18446744073709551616", "0x10"] {
        c.expect_cmd(&["HSCAN", "h", bad], INVALID_CURSOR);
    }
    c.expect_cmd(&["HSCAN", "missing", "x"], INVALID_CURSOR);
    c.expect_cmd(&["HSCAN", "h", "0", "COUNT", "0"], SYNTAX_ERR);
    c.expect_cmd(&["HSCAN", "h", "0", "COUNT", "-1"], SYNTAX_ERR);
    c.expect_cmd(&["HSCAN", "h", "0", "COUNT", "x"], NOT_INT_ERR);
    c.expect_cmd(&["HSCAN", "h", "0", "COUNT"], SYNTAX_ERR);
    c.expect_cmd(&["HSCAN", "h", "0", "MATCH"], SYNTAX_ERR);
    c.expect_cmd(&["HSCAN", "h", "0", "FOO", "bar"], SYNTAX_ERR);
    c.expect_cmd(&["HSCAN", "h"], arity_err("hscan"));
}

#[test]
fn hscan_novalues() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    c.expect_cmd(&["HSCAN", "h", "0", "NOVALUES"], "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n");
    hset_many(&mut c, "big", 1000);
    let mut cursor = "0".to_string();
    let mut seen = BTreeSet::new();
    loop {
        let reply = c.call_resp(&["HSCAN", "big", &cursor, "COUNT", "20", "NOVALUES"]);
        let parts = reply.items();
        for f in parts[1].items() {
            let f = f.text();
            assert!(f.starts_with('f'), "NOVALUES returned a value: {f:?}");
            seen.insert(f);
        }
        cursor = parts[0].text();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
}

// ---------------------------------------------------------------------------
// Wrong type and arity
// ---------------------------------------------------------------------------

#[test]
fn hash_commands_on_a_string_key() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "str", "v"], OK);
    let cmds: &[&[&str]] = &[
        &["HSET", "str", "a", "1"],
        &["HSETNX", "str", "a", "1"],
        &["HMSET", "str", "a", "1"],
        &["HGET", "str", "a"],
        &["HMGET", "str", "a"],
        &["HGETALL", "str"],
        &["HDEL", "str", "a"],
        &["HEXISTS", "str", "a"],
        &["HLEN", "str"],
        &["HKEYS", "str"],
        &["HVALS", "str"],
        &["HSTRLEN", "str", "a"],
        &["HINCRBY", "str", "a", "1"],
        &["HINCRBYFLOAT", "str", "a", "1"],
        &["HRANDFIELD", "str"],
        &["HRANDFIELD", "str", "2"],
        &["HRANDFIELD", "str", "-2", "WITHVALUES"],
        &["HSCAN", "str", "0"],
    ];
    for cmd in cmds {
        c.expect_cmd(cmd, WRONGTYPE);
    }
    c.expect_cmd(&["GET", "str"], bulk("v"));
    c.expect_cmd(&["TYPE", "str"], "+string\r\n");
}

#[test]
fn field_expiry_commands_on_a_string_key() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["SET", "str", "v"], OK);
    let cmds: &[&[&str]] = &[
        &["HEXPIRE", "str", "100", "FIELDS", "1", "a"],
        &["HPEXPIRE", "str", "100", "FIELDS", "1", "a"],
        &["HEXPIREAT", "str", "100", "FIELDS", "1", "a"],
        &["HPEXPIREAT", "str", "100", "FIELDS", "1", "a"],
        &["HTTL", "str", "FIELDS", "1", "a"],
        &["HPTTL", "str", "FIELDS", "1", "a"],
        &["HEXPIRETIME", "str", "FIELDS", "1", "a"],
        &["HPEXPIRETIME", "str", "FIELDS", "1", "a"],
        &["HPERSIST", "str", "FIELDS", "1", "a"],
    ];
    for cmd in cmds {
        c.expect_cmd(cmd, WRONGTYPE);
    }
    c.expect_cmd(&["GET", "str"], bulk("v"));
}

#[test]
fn hsetex_hgetex_hgetdel_on_a_string_key() {
    let s = TestServer::start();
    if s.reference_older_than(8, 0) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["SET", "str", "v"], OK);
    c.expect_cmd(&["HSETEX", "str", "FIELDS", "1", "a", "1"], WRONGTYPE);
    c.expect_cmd(&["HGETEX", "str", "FIELDS", "1", "a"], WRONGTYPE);
    c.expect_cmd(&["HGETDEL", "str", "FIELDS", "1", "a"], WRONGTYPE);
    c.expect_cmd(&["GET", "str"], bulk("v"));
}

// ---------------------------------------------------------------------------
// Per-field expiry: HEXPIRE family, HTTL family, HPERSIST (Redis 7.4)
// ---------------------------------------------------------------------------

#[test]
fn hexpire_sets_field_ttls() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2"], int(2));
    c.expect_cmd(&["HEXPIRE", "h", "100", "FIELDS", "2", "a", "missing"], ints(&[1, -2]));
    c.expect_cmd(&["HTTL", "h", "FIELDS", "3", "a", "b", "missing"], ints(&[100, -1, -2]));
    let pttl = c.call_resp(&["HPTTL", "h", "FIELDS", "1", "a"]).items()[0].int();
    assert!((99_000..=100_000).contains(&pttl), "HPTTL after HEXPIRE 100 = {pttl}");
    c.expect_cmd(&["HPTTL", "h", "FIELDS", "2", "b", "missing"], ints(&[-1, -2]));
    c.expect_cmd(&["HPEXPIRE", "h", "50000", "FIELDS", "1", "b"], ints(&[1]));
    let pttl = c.call_resp(&["HPTTL", "h", "FIELDS", "1", "b"]).items()[0].int();
    assert!((49_000..=50_000).contains(&pttl), "HPTTL after HPEXPIRE 50000 = {pttl}");
    c.expect_cmd(&["HTTL", "h", "FIELDS", "1", "b"], ints(&[50]));
    // The key itself has no TTL; the fields keep their values.
    c.expect_cmd(&["TTL", "h"], int(-1));
    assert_hash(&mut c, "h", &[("a", "1"), ("b", "2")]);
    // Field names are case-sensitive, FIELDS is not.
    c.expect_cmd(&["HEXPIRE", "h", "100", "fields", "1", "A"], ints(&[-2]));
}

#[test]
fn hexpire_on_a_missing_key_answers_minus_two_per_field() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HEXPIRE", "missing", "100", "FIELDS", "3", "a", "b", "c"], ints(&[-2, -2, -2]));
    c.expect_cmd(&["HPEXPIRE", "missing", "100", "NX", "FIELDS", "1", "a"], ints(&[-2]));
    c.expect_cmd(&["HEXPIREAT", "missing", "100", "FIELDS", "1", "a"], ints(&[-2]));
    c.expect_cmd(&["HPEXPIREAT", "missing", "100", "FIELDS", "2", "a", "b"], ints(&[-2, -2]));
    c.expect_cmd(&["HTTL", "missing", "FIELDS", "2", "a", "b"], ints(&[-2, -2]));
    c.expect_cmd(&["HPTTL", "missing", "FIELDS", "1", "a"], ints(&[-2]));
    c.expect_cmd(&["HEXPIRETIME", "missing", "FIELDS", "1", "a"], ints(&[-2]));
    c.expect_cmd(&["HPEXPIRETIME", "missing", "FIELDS", "1", "a"], ints(&[-2]));
    c.expect_cmd(&["HPERSIST", "missing", "FIELDS", "2", "a", "b"], ints(&[-2, -2]));
    c.expect_cmd(&["EXISTS", "missing"], int(0));
}

#[test]
fn hexpire_conditions_nx_xx_gt_lt() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4"], int(4));
    // NX: only fields without a TTL.
    c.expect_cmd(&["HEXPIRE", "h", "100", "NX", "FIELDS", "2", "a", "b"], ints(&[1, 1]));
    c.expect_cmd(&["HEXPIRE", "h", "200", "NX", "FIELDS", "3", "a", "c", "missing"], ints(&[0, 1, -2]));
    c.expect_cmd(&["HTTL", "h", "FIELDS", "3", "a", "b", "c"], ints(&[100, 100, 200]));
    // XX: only fields with a TTL.
    c.expect_cmd(&["HEXPIRE", "h", "300", "XX", "FIELDS", "2", "a", "d"], ints(&[1, 0]));
    c.expect_cmd(&["HTTL", "h", "FIELDS", "2", "a", "d"], ints(&[300, -1]));
    // GT: only a later time; no TTL counts as infinite, so GT never sets it.
    c.expect_cmd(&["HEXPIRE", "h", "200", "GT", "FIELDS", "2", "a", "d"], ints(&[0, 0]));
    c.expect_cmd(&["HEXPIRE", "h", "400", "gt", "FIELDS", "1", "a"], ints(&[1]));
    // LT: only an earlier time; a field without TTL accepts it.
    c.expect_cmd(&["HEXPIRE", "h", "500", "LT", "FIELDS", "1", "a"], ints(&[0]));
    c.expect_cmd(&["HEXPIRE", "h", "50", "lt", "FIELDS", "3", "a", "d", "missing"], ints(&[1, 1, -2]));
    c.expect_cmd(&["HTTL", "h", "FIELDS", "4", "a", "b", "c", "d"], ints(&[50, 100, 200, 50]));
    // A condition that fails for an equal time: absolute, so that a clock
    // tick between the commands cannot make the new time later.
    let at = c.call_resp(&["HPEXPIRETIME", "h", "FIELDS", "1", "d"]).items()[0].int().to_string();
    c.expect_cmd(&["HPEXPIREAT", "h", &at, "GT", "FIELDS", "1", "d"], ints(&[0]));
    c.expect_cmd(&["HEXPIRE", "h", "200", "LT", "FIELDS", "1", "c"], ints(&[0]));
    assert_hash(&mut c, "h", &[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]);
}

#[test]
fn hexpire_at_zero_or_in_the_past_deletes_fields() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"], int(5));
    c.expect_cmd(&["HEXPIRE", "h", "0", "FIELDS", "2", "a", "missing"], ints(&[2, -2]));
    c.expect_cmd(&["HPEXPIRE", "h", "0", "FIELDS", "1", "b"], ints(&[2]));
    c.expect_cmd(&["HEXPIREAT", "h", "1", "FIELDS", "1", "c"], ints(&[2]));
    let now = now_ms().to_string();
    c.expect_cmd(&["HPEXPIREAT", "h", &now, "FIELDS", "1", "d"], ints(&[2]));
    assert_hash(&mut c, "h", &[("e", "5")]);
    c.expect_cmd(&["HEXISTS", "h", "a"], int(0));
    // A past time still honours the condition: GT on a field without TTL fails.
    c.expect_cmd(&["HEXPIREAT", "h", "1", "GT", "FIELDS", "1", "e"], ints(&[0]));
    c.expect_cmd(&["HGET", "h", "e"], bulk("5"));
    // Deleting the last field deletes the key.
    c.expect_cmd(&["HPEXPIREAT", "h", "1", "FIELDS", "1", "e"], ints(&[2]));
    c.expect_cmd(&["EXISTS", "h"], int(0));
    c.expect_cmd(&["TYPE", "h"], "+none\r\n");
}

#[test]
fn hexpireat_and_hexpiretime() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"], int(3));
    let at_s = now_ms() / 1000 + 100;
    c.expect_cmd(&["HEXPIREAT", "h", &at_s.to_string(), "FIELDS", "1", "a"], ints(&[1]));
    c.expect_cmd(&["HEXPIRETIME", "h", "FIELDS", "3", "a", "c", "missing"], ints(&[at_s, -1, -2]));
    c.expect_cmd(&["HPEXPIRETIME", "h", "FIELDS", "1", "a"], ints(&[at_s * 1000]));
    let ttl = c.call_resp(&["HTTL", "h", "FIELDS", "1", "a"]).items()[0].int();
    assert!((98..=100).contains(&ttl), "HTTL after HEXPIREAT now+100 = {ttl}");
    // HPEXPIREAT keeps milliseconds; HEXPIRETIME rounds them up to a second.
    let at_ms = (now_ms() / 1000 + 200) * 1000 + 1;
    c.expect_cmd(&["HPEXPIREAT", "h", &at_ms.to_string(), "FIELDS", "1", "b"], ints(&[1]));
    c.expect_cmd(&["HPEXPIRETIME", "h", "FIELDS", "1", "b"], ints(&[at_ms]));
    c.expect_cmd(&["HEXPIRETIME", "h", "FIELDS", "1", "b"], ints(&[at_ms / 1000 + 1]));
    let pttl = c.call_resp(&["HPTTL", "h", "FIELDS", "1", "b"]).items()[0].int();
    assert!((198_000..=201_000).contains(&pttl), "HPTTL after HPEXPIREAT = {pttl}");
}

#[test]
fn hexpire_errors() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2"], int(2));
    // numfields must match the number of fields given.
    c.expect_cmd(&["HEXPIRE", "h", "100", "FIELDS", "2", "a"], NUMFIELDS_MISMATCH);
    c.expect_cmd(&["HEXPIRE", "h", "100", "FIELDS", "1", "a", "b"], NUMFIELDS_MISMATCH);
    c.expect_cmd(&["HPEXPIRE", "h", "100", "NX", "FIELDS", "3", "a", "b"], NUMFIELDS_MISMATCH);
    c.expect_cmd(&["HEXPIRE", "h", "100", "FIELDS", "0", "a"], HEXPIRE_NUMFIELDS);
    c.expect_cmd(&["HEXPIRE", "h", "100", "FIELDS", "-1", "a"], HEXPIRE_NUMFIELDS);
    c.expect_cmd(&["HEXPIRE", "h", "100", "FIELDS", "x", "a"], HEXPIRE_NUMFIELDS);
    // The FIELDS keyword is mandatory, right after the time or the condition.
    c.expect_cmd(&["HEXPIRE", "h", "100", "1", "a", "b"], FIELDS_MISSING);
    c.expect_cmd(&["HEXPIRE", "h", "100", "NX", "1", "a"], FIELDS_MISSING);
    c.expect_cmd(&["HEXPIRE", "h", "100", "XY", "FIELDS", "1", "a"], FIELDS_MISSING);
    c.expect_cmd(&["HEXPIRE", "h", "100", "NX", "XX", "FIELDS", "1", "a"], FIELDS_MISSING);
    // The time.
    c.expect_cmd(&["HEXPIRE", "h", "x", "FIELDS", "1", "a"], NOT_INT_ERR);
    c.expect_cmd(&["HEXPIRE", "h", "1.5", "FIELDS", "1", "a"], NOT_INT_ERR);
    c.expect_cmd(&["HEXPIRE", "h", "-1", "FIELDS", "1", "a"], NEGATIVE_EXPIRE);
    c.expect_cmd(&["HPEXPIREAT", "h", "-1", "FIELDS", "1", "a"], NEGATIVE_EXPIRE);
    c.expect_cmd(&["HEXPIRE", "h", "100000000000000", "FIELDS", "1", "a"], bad_expire("hexpire"));
    c.expect_cmd(&["HPEXPIRE", "h", "100000000000000", "FIELDS", "1", "a"], bad_expire("hpexpire"));
    c.expect_cmd(&["HEXPIREAT", "h", "100000000000000", "FIELDS", "1", "a"], bad_expire("hexpireat"));
    c.expect_cmd(&["HPEXPIREAT", "h", "100000000000000", "FIELDS", "1", "a"], bad_expire("hpexpireat"));
    c.expect_cmd(&["HEXPIRE", "h", "9223372036854775807", "FIELDS", "1", "a"], bad_expire("hexpire"));
    // Nothing changed.
    c.expect_cmd(&["HTTL", "h", "FIELDS", "2", "a", "b"], ints(&[-1, -1]));
    c.expect_cmd(&["HEXPIRE", "h", "100", "FIELDS", "1"], arity_err("hexpire"));
    c.expect_cmd(&["HPEXPIRE", "h", "100", "FIELDS"], arity_err("hpexpire"));
    c.expect_cmd(&["HEXPIREAT", "h"], arity_err("hexpireat"));
}

#[test]
fn httl_family_errors() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    for cmd in ["HTTL", "HPTTL", "HEXPIRETIME", "HPEXPIRETIME", "HPERSIST"] {
        c.expect_cmd(&[cmd, "h", "FIELDS", "2", "a"], NUMFIELDS_MISMATCH);
        c.expect_cmd(&[cmd, "h", "FIELDS", "1", "a", "b"], NUMFIELDS_MISMATCH);
        c.expect_cmd(&[cmd, "h", "FIELDS", "0", "a"], NUMFIELDS_POSITIVE);
        c.expect_cmd(&[cmd, "h", "FIELDS", "x", "a"], NUMFIELDS_POSITIVE);
        c.expect_cmd(&[cmd, "h", "1", "a", "b"], FIELDS_MISSING);
        c.expect_cmd(&[cmd, "h", "FIELDS", "1"], arity_err(&cmd.to_lowercase()));
    }
}

#[test]
fn hpersist_removes_field_ttls() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2"], int(2));
    c.expect_cmd(&["HEXPIRE", "h", "100", "FIELDS", "1", "a"], ints(&[1]));
    c.expect_cmd(&["HPERSIST", "h", "FIELDS", "3", "a", "b", "missing"], ints(&[1, -1, -2]));
    c.expect_cmd(&["HTTL", "h", "FIELDS", "2", "a", "b"], ints(&[-1, -1]));
    c.expect_cmd(&["HPERSIST", "h", "FIELDS", "1", "a"], ints(&[-1]));
    // After HPERSIST, NX can set a TTL again.
    c.expect_cmd(&["HEXPIRE", "h", "100", "NX", "FIELDS", "1", "a"], ints(&[1]));
    assert_hash(&mut c, "h", &[("a", "1"), ("b", "2")]);
}

#[test]
fn field_ttl_replies_in_resp3() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = resp3(&s);
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    c.expect_cmd(&["HEXPIRE", "h", "100", "FIELDS", "2", "a", "b"], ints(&[1, -2]));
    c.expect_cmd(&["HTTL", "h", "FIELDS", "2", "a", "b"], ints(&[100, -2]));
    c.expect_cmd(&["HPERSIST", "h", "FIELDS", "1", "a"], ints(&[1]));
}

// ---------------------------------------------------------------------------
// Expired fields: lazy invisibility, key removal, active reclaim
// ---------------------------------------------------------------------------

/// A hash `key` with fields `gone` (100 ms TTL) and `stays`, then a wait for
/// the TTL to pass; the key is not touched after the wait.
fn hash_with_expired_field(c: &mut RawClient, key: &str) {
    c.expect_cmd(&["HSET", key, "gone", "1", "stays", "2"], int(2));
    c.expect_cmd(&["HPEXPIRE", key, "100", "FIELDS", "1", "gone"], ints(&[1]));
}

#[test]
fn an_expired_field_is_invisible_to_every_read() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    // One hash per read command, so each command is the first to see its hash
    // after the TTL passed.
    let cmds =
        ["HGET", "HLEN", "HGETALL", "HEXISTS", "HSCAN", "HRANDFIELD", "HKEYS", "HVALS", "HMGET", "HSTRLEN", "HTTL"];
    for cmd in cmds {
        hash_with_expired_field(&mut c, &format!("h:{cmd}"));
    }
    sleep(Duration::from_millis(250));
    c.expect_cmd(&["HGET", "h:HGET", "gone"], NIL);
    c.expect_cmd(&["HLEN", "h:HLEN"], int(1));
    c.expect_cmd(&["HGETALL", "h:HGETALL"], bulks(&["stays", "2"]));
    c.expect_cmd(&["HEXISTS", "h:HEXISTS", "gone"], int(0));
    c.expect_cmd(&["HSCAN", "h:HSCAN", "0"], "*2\r\n$1\r\n0\r\n*2\r\n$5\r\nstays\r\n$1\r\n2\r\n");
    let got = texts(c.call_resp(&["HRANDFIELD", "h:HRANDFIELD", "-20"]).items());
    assert_eq!(got, vec!["stays".to_string(); 20]);
    c.expect_cmd(&["HKEYS", "h:HKEYS"], bulks(&["stays"]));
    c.expect_cmd(&["HVALS", "h:HVALS"], bulks(&["2"]));
    c.expect_cmd(&["HMGET", "h:HMGET", "gone", "stays"], "*2\r\n$-1\r\n$1\r\n2\r\n");
    c.expect_cmd(&["HSTRLEN", "h:HSTRLEN", "gone"], int(0));
    c.expect_cmd(&["HTTL", "h:HTTL", "FIELDS", "2", "gone", "stays"], ints(&[-2, -1]));
    // Writes see the field as absent too.
    hash_with_expired_field(&mut c, "h:w");
    sleep(Duration::from_millis(250));
    c.expect_cmd(&["HSETNX", "h:w", "gone", "new"], int(1));
    c.expect_cmd(&["HGET", "h:w", "gone"], bulk("new"));
    c.expect_cmd(&["HTTL", "h:w", "FIELDS", "1", "gone"], ints(&[-1]));
    hash_with_expired_field(&mut c, "h:w2");
    sleep(Duration::from_millis(250));
    c.expect_cmd(&["HINCRBY", "h:w2", "gone", "5"], int(5));
    c.expect_cmd(&["HSET", "h:w2", "gone", "x"], int(0));
}

#[test]
fn a_hash_whose_last_field_expires_stops_existing() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h1", "a", "1", "b", "2"], int(2));
    c.expect_cmd(&["HPEXPIRE", "h1", "100", "FIELDS", "2", "a", "b"], ints(&[1, 1]));
    c.expect_cmd(&["HSET", "h2", "a", "1"], int(1));
    c.expect_cmd(&["HPEXPIRE", "h2", "100", "FIELDS", "1", "a"], ints(&[1]));
    c.expect_cmd(&["HSET", "h3", "a", "1"], int(1));
    c.expect_cmd(&["HPEXPIRE", "h3", "100", "FIELDS", "1", "a"], ints(&[1]));
    sleep(Duration::from_millis(250));
    c.expect_cmd(&["EXISTS", "h1"], int(0));
    c.expect_cmd(&["TYPE", "h2"], "+none\r\n");
    c.expect_cmd(&["HGETALL", "h3"], "*0\r\n");
    c.expect_cmd(&["EXISTS", "h3"], int(0));
    c.expect_cmd(&["DBSIZE"], int(0));
    // The name can hold a string now.
    c.expect_cmd(&["SET", "h1", "v"], OK);
    c.expect_cmd(&["TYPE", "h1"], "+string\r\n");
}

#[test]
fn hset_clears_a_field_ttl_and_hincrby_keeps_it() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2", "n", "1", "f", "1.5", "m", "1"], int(5));
    c.expect_cmd(&["HEXPIRE", "h", "100", "FIELDS", "5", "a", "b", "n", "f", "m"], ints(&[1, 1, 1, 1, 1]));
    c.expect_cmd(&["HSET", "h", "a", "new"], int(0));
    c.expect_cmd(&["HMSET", "h", "m", "new"], OK);
    c.expect_cmd(&["HSETNX", "h", "b", "ignored"], int(0));
    c.expect_cmd(&["HINCRBY", "h", "n", "1"], int(2));
    c.expect_cmd(&["HINCRBYFLOAT", "h", "f", "1"], bulk("2.5"));
    c.expect_cmd(&["HTTL", "h", "FIELDS", "5", "a", "m", "b", "n", "f"], ints(&[-1, -1, 100, 100, 100]));
    // Deleting and re-adding a field starts it without a TTL.
    c.expect_cmd(&["HDEL", "h", "b"], int(1));
    c.expect_cmd(&["HSET", "h", "b", "again"], int(1));
    c.expect_cmd(&["HTTL", "h", "FIELDS", "1", "b"], ints(&[-1]));
}

#[test]
fn key_ttl_and_field_ttls_are_independent() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2"], int(2));
    c.expect_cmd(&["EXPIRE", "h", "1000"], int(1));
    c.expect_cmd(&["HEXPIRE", "h", "100", "FIELDS", "1", "a"], ints(&[1]));
    c.expect_cmd(&["TTL", "h"], int(1000));
    c.expect_cmd(&["PERSIST", "h"], int(1));
    c.expect_cmd(&["HTTL", "h", "FIELDS", "2", "a", "b"], ints(&[100, -1]));
    c.expect_cmd(&["HPERSIST", "h", "FIELDS", "1", "a"], ints(&[1]));
    c.expect_cmd(&["TTL", "h"], int(-1));
}

/// Poll DBSIZE (which does not touch any key) until it is `want` or `limit` passes.
fn wait_dbsize(c: &mut RawClient, want: i64, limit: Duration) -> i64 {
    let deadline = Instant::now() + limit;
    loop {
        let n = c.call_resp(&["DBSIZE"]).int();
        if n == want || Instant::now() > deadline {
            return n;
        }
        sleep(Duration::from_millis(50));
    }
}

#[test]
fn expired_fields_are_reclaimed_without_being_read() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    for key in ["r1", "r2", "r3"] {
        hset_many(&mut c, key, 300);
        let mut args = vec!["HPEXPIRE".to_string(), key.into(), "100".into(), "FIELDS".into(), "300".into()];
        args.extend((0..300).map(|i| format!("f{i}")));
        c.expect_cmd(&args, ints(&[1; 300]));
    }
    c.expect_cmd(&["SET", "plain", "v"], OK);
    c.expect_cmd(&["DBSIZE"], int(4));
    // DBSIZE counts a hash until its fields are actually removed.
    sleep(Duration::from_millis(1500));
    let n = wait_dbsize(&mut c, 1, Duration::from_secs(5));
    assert_eq!(n, 1, "hashes whose fields all expired were not reclaimed without being read");
    let info = c.info("keyspace");
    let line = info.lines().find(|l| l.starts_with("db0:")).unwrap_or_else(|| panic!("no db0 in INFO:\n{info}"));
    assert!(line.starts_with("db0:keys=1,"), "INFO keyspace after reclaim: {line}");
}

/// INFO's field-expiry statistics (Redis 7.4): `subexpiry` in the keyspace
/// line counts hashes with field deadlines, `expired_subkeys` in stats the
/// fields removed by expiry.
#[test]
fn field_expiry_statistics_in_info() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    let keyspace = |c: &mut RawClient| {
        let info = c.info("keyspace");
        info.lines().find(|l| l.starts_with("db0:")).map(str::to_string).unwrap_or_default()
    };
    hset_many(&mut c, "stats", 5);
    hset_many(&mut c, "plain", 2);
    assert!(keyspace(&mut c).ends_with(",subexpiry=0"), "no field deadlines yet: {}", keyspace(&mut c));
    c.expect_cmd(&["HPEXPIRE", "stats", "100000", "FIELDS", "3", "f0", "f1", "f2"], ints(&[1, 1, 1]));
    c.expect_cmd(&["HPEXPIRE", "stats", "1", "FIELDS", "2", "f3", "f4"], ints(&[1, 1]));
    assert!(keyspace(&mut c).ends_with(",subexpiry=1"), "one hash has field deadlines: {}", keyspace(&mut c));
    sleep(Duration::from_millis(20));
    assert_eq!(hgetall(&mut c, "stats").len(), 3, "the two expired fields are invisible");
    let expired = (0..60).find_map(|_| {
        let n = info_int(&c.info("stats"), "expired_subkeys");
        (n == 2).then_some(n).or_else(|| {
            sleep(Duration::from_millis(50));
            None
        })
    });
    assert_eq!(expired, Some(2), "expired_subkeys counts the two expired fields");
    c.expect_cmd(&["HPERSIST", "stats", "FIELDS", "3", "f0", "f1", "f2"], ints(&[1, 1, 1]));
    assert!(keyspace(&mut c).ends_with(",subexpiry=0"), "no field deadlines left: {}", keyspace(&mut c));
}

// ---------------------------------------------------------------------------
// HSETEX, HGETEX, HGETDEL (Redis 8.0)
// ---------------------------------------------------------------------------

#[test]
fn hsetex_sets_fields_with_a_ttl() {
    let s = TestServer::start();
    if s.reference_older_than(8, 0) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSETEX", "h", "EX", "100", "FIELDS", "2", "a", "1", "b", "2"], int(1));
    c.expect_cmd(&["HTTL", "h", "FIELDS", "2", "a", "b"], ints(&[100, 100]));
    assert_hash(&mut c, "h", &[("a", "1"), ("b", "2")]);
    c.expect_cmd(&["HSETEX", "h", "PX", "50000", "FIELDS", "1", "c", "3"], int(1));
    let pttl = c.call_resp(&["HPTTL", "h", "FIELDS", "1", "c"]).items()[0].int();
    assert!((49_000..=50_000).contains(&pttl), "HPTTL after HSETEX PX 50000 = {pttl}");
    let at_s = now_ms() / 1000 + 300;
    c.expect_cmd(&["HSETEX", "h", "EXAT", &at_s.to_string(), "FIELDS", "1", "d", "4"], int(1));
    c.expect_cmd(&["HEXPIRETIME", "h", "FIELDS", "1", "d"], ints(&[at_s]));
    let at_ms = now_ms() + 400_000;
    c.expect_cmd(&["HSETEX", "h", "PXAT", &at_ms.to_string(), "FIELDS", "1", "e", "5"], int(1));
    c.expect_cmd(&["HPEXPIRETIME", "h", "FIELDS", "1", "e"], ints(&[at_ms]));
    // KEEPTTL keeps a field's TTL; no option at all clears it, like HSET.
    c.expect_cmd(&["HSETEX", "h", "KEEPTTL", "FIELDS", "1", "a", "x"], int(1));
    c.expect_cmd(&["HSETEX", "h", "FIELDS", "1", "b", "y"], int(1));
    c.expect_cmd(&["HTTL", "h", "FIELDS", "2", "a", "b"], ints(&[100, -1]));
    c.expect_cmd(&["HGET", "h", "a"], bulk("x"));
}

#[test]
fn hsetex_fnx_and_fxx() {
    let s = TestServer::start();
    if s.reference_older_than(8, 0) {
        return;
    }
    let mut c = s.raw();
    // FXX on a missing key: nothing set, no key created.
    c.expect_cmd(&["HSETEX", "h", "FXX", "FIELDS", "1", "a", "1"], int(0));
    c.expect_cmd(&["EXISTS", "h"], int(0));
    c.expect_cmd(&["HSETEX", "h", "FNX", "FIELDS", "2", "a", "1", "b", "2"], int(1));
    // FNX: all or nothing, refused when any field exists.
    c.expect_cmd(&["HSETEX", "h", "FNX", "FIELDS", "2", "c", "3", "a", "9"], int(0));
    c.expect_cmd(&["HEXISTS", "h", "c"], int(0));
    c.expect_cmd(&["HSETEX", "h", "FNX", "EX", "100", "FIELDS", "1", "c", "3"], int(1));
    // FXX: all or nothing, refused when any field is missing.
    c.expect_cmd(&["HSETEX", "h", "FXX", "FIELDS", "2", "a", "9", "zz", "9"], int(0));
    c.expect_cmd(&["HEXISTS", "h", "zz"], int(0));
    c.expect_cmd(&["HGET", "h", "a"], bulk("1"));
    c.expect_cmd(&["HSETEX", "h", "FXX", "PX", "100000", "FIELDS", "2", "a", "10", "b", "20"], int(1));
    c.expect_cmd(&["HTTL", "h", "FIELDS", "3", "a", "b", "c"], ints(&[100, 100, 100]));
    assert_hash(&mut c, "h", &[("a", "10"), ("b", "20"), ("c", "3")]);
    // Options in either order.
    c.expect_cmd(&["HSETEX", "h", "KEEPTTL", "FXX", "FIELDS", "1", "a", "11"], int(1));
    c.expect_cmd(&["HTTL", "h", "FIELDS", "1", "a"], ints(&[100]));
}

#[test]
fn hsetex_with_a_past_time_deletes_the_fields() {
    let s = TestServer::start();
    if s.reference_older_than(8, 0) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "keep", "1"], int(1));
    c.expect_cmd(&["HSETEX", "h", "PXAT", "1", "FIELDS", "1", "a", "1"], int(1));
    assert_hash(&mut c, "h", &[("keep", "1")]);
    c.expect_cmd(&["HSETEX", "new", "EXAT", "1", "FIELDS", "1", "a", "1"], int(1));
    c.expect_cmd(&["EXISTS", "new"], int(0));
}

#[test]
fn hsetex_errors() {
    let s = TestServer::start();
    if s.reference_older_than(8, 0) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSETEX", "h", "FIELDS", "2", "a", "1"], arity_err("hsetex"));
    c.expect_cmd(&["HSETEX", "h", "FIELDS", "1", "a", "1", "b"], arity_err("hsetex"));
    c.expect_cmd(&["HSETEX", "h", "FIELDS", "1", "a", "1", "b", "2"], arity_err("hsetex"));
    c.expect_cmd(&["HSETEX", "h", "FIELDS", "0", "a", "1"], err("ERR invalid number of fields"));
    c.expect_cmd(
        &["HSETEX", "h", "FNX", "FXX", "FIELDS", "1", "a", "1"],
        err("ERR Only one of FXX or FNX arguments can be specified"),
    );
    let one_ttl = err("ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified");
    c.expect_cmd(&["HSETEX", "h", "EX", "10", "PX", "10", "FIELDS", "1", "a", "1"], one_ttl.clone());
    c.expect_cmd(&["HSETEX", "h", "EX", "10", "KEEPTTL", "FIELDS", "1", "a", "1"], one_ttl);
    c.expect_cmd(&["HSETEX", "h", "FOO", "FIELDS", "1", "a", "1"], err("ERR unknown argument: FOO"));
    c.expect_cmd(&["HSETEX", "h", "EX", "x", "FIELDS", "1", "a", "1"], NOT_INT_ERR);
    c.expect_cmd(&["HSETEX", "h", "EX", "-1", "FIELDS", "1", "a", "1"], NEGATIVE_EXPIRE);
    c.expect_cmd(&["HSETEX", "h", "EX", "100000000000000", "FIELDS", "1", "a", "1"], bad_expire("hsetex"));
    c.expect_cmd(&["HSETEX", "h", "FIELDS", "1", "a"], arity_err("hsetex"));
    c.expect_cmd(&["EXISTS", "h"], int(0));
}

#[test]
fn hgetex_reads_and_sets_ttls() {
    let s = TestServer::start();
    if s.reference_older_than(8, 0) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"], int(3));
    c.expect_cmd(
        &["HGETEX", "h", "EX", "100", "FIELDS", "3", "a", "b", "missing"],
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n",
    );
    c.expect_cmd(&["HTTL", "h", "FIELDS", "4", "a", "b", "c", "missing"], ints(&[100, 100, -1, -2]));
    // Without an option it is a plain multi-get that keeps the TTLs.
    c.expect_cmd(&["HGETEX", "h", "FIELDS", "2", "a", "c"], "*2\r\n$1\r\n1\r\n$1\r\n3\r\n");
    c.expect_cmd(&["HTTL", "h", "FIELDS", "1", "a"], ints(&[100]));
    c.expect_cmd(&["HGETEX", "h", "PERSIST", "FIELDS", "1", "a"], "*1\r\n$1\r\n1\r\n");
    c.expect_cmd(&["HTTL", "h", "FIELDS", "2", "a", "b"], ints(&[-1, 100]));
    c.expect_cmd(&["HGETEX", "h", "PX", "50000", "FIELDS", "1", "c"], "*1\r\n$1\r\n3\r\n");
    let pttl = c.call_resp(&["HPTTL", "h", "FIELDS", "1", "c"]).items()[0].int();
    assert!((49_000..=50_000).contains(&pttl), "HPTTL after HGETEX PX 50000 = {pttl}");
    let at_s = now_ms() / 1000 + 300;
    c.expect_cmd(&["HGETEX", "h", "EXAT", &at_s.to_string(), "FIELDS", "1", "a"], "*1\r\n$1\r\n1\r\n");
    c.expect_cmd(&["HEXPIRETIME", "h", "FIELDS", "1", "a"], ints(&[at_s]));
    let at_ms = now_ms() + 400_000;
    c.expect_cmd(&["HGETEX", "h", "PXAT", &at_ms.to_string(), "FIELDS", "1", "a"], "*1\r\n$1\r\n1\r\n");
    c.expect_cmd(&["HPEXPIRETIME", "h", "FIELDS", "1", "a"], ints(&[at_ms]));
    // A past time returns the values and deletes the fields; the key goes with the last one.
    c.expect_cmd(&["HGETEX", "h", "PXAT", "1", "FIELDS", "2", "a", "b"], "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_hash(&mut c, "h", &[("c", "3")]);
    c.expect_cmd(&["HGETEX", "h", "EXAT", "1", "FIELDS", "1", "c"], "*1\r\n$1\r\n3\r\n");
    c.expect_cmd(&["EXISTS", "h"], int(0));
    // A missing key: one nil per field, nothing created.
    c.expect_cmd(&["HGETEX", "h", "EX", "100", "FIELDS", "2", "a", "b"], "*2\r\n$-1\r\n$-1\r\n");
    c.expect_cmd(&["EXISTS", "h"], int(0));
    let mut c3 = resp3(&s);
    c3.expect_cmd(&["HGETEX", "h", "FIELDS", "1", "a"], "*1\r\n_\r\n");
}

#[test]
fn hgetex_errors() {
    let s = TestServer::start();
    if s.reference_older_than(8, 0) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    c.expect_cmd(&["HGETEX", "h", "FIELDS", "2", "a"], NUMFIELDS_MISMATCH);
    c.expect_cmd(&["HGETEX", "h", "EX", "100", "FIELDS", "1", "a", "b"], NUMFIELDS_MISMATCH);
    c.expect_cmd(&["HGETEX", "h", "FIELDS", "0", "a"], NUMFIELDS_POSITIVE);
    c.expect_cmd(&["HGETEX", "h", "EX", "100", "1", "a"], FIELDS_MISSING);
    c.expect_cmd(&["HGETEX", "h", "FOO", "FIELDS", "1", "a"], FIELDS_MISSING);
    c.expect_cmd(&["HGETEX", "h", "EX", "x", "FIELDS", "1", "a"], NOT_INT_ERR);
    c.expect_cmd(&["HGETEX", "h", "EX", "-1", "FIELDS", "1", "a"], NEGATIVE_EXPIRE);
    c.expect_cmd(&["HGETEX", "h", "PX", "100000000000000", "FIELDS", "1", "a"], bad_expire("hgetex"));
    c.expect_cmd(&["HGETEX", "h", "FIELDS", "1"], arity_err("hgetex"));
    c.expect_cmd(&["HTTL", "h", "FIELDS", "1", "a"], ints(&[-1]));
}

#[test]
fn hgetdel_returns_and_deletes_fields() {
    let s = TestServer::start();
    if s.reference_older_than(8, 0) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"], int(3));
    c.expect_cmd(&["HGETDEL", "h", "FIELDS", "3", "a", "missing", "a"], "*3\r\n$1\r\n1\r\n$-1\r\n$-1\r\n");
    assert_hash(&mut c, "h", &[("b", "2"), ("c", "3")]);
    c.expect_cmd(&["HGETDEL", "h", "FIELDS", "2", "c", "b"], "*2\r\n$1\r\n3\r\n$1\r\n2\r\n");
    c.expect_cmd(&["EXISTS", "h"], int(0));
    c.expect_cmd(&["HGETDEL", "h", "FIELDS", "2", "a", "b"], "*2\r\n$-1\r\n$-1\r\n");
    c.expect_cmd(&["EXISTS", "h"], int(0));
    c.expect_cmd(&["HGETDEL", "h", "FIELDS", "2", "a"], NUMFIELDS_MISMATCH);
    c.expect_cmd(&["HGETDEL", "h", "FIELDS", "0", "a"], NUMFIELDS_POSITIVE);
    c.expect_cmd(&["HGETDEL", "h", "FOO", "1", "a"], FIELDS_MISSING);
    c.expect_cmd(&["HGETDEL", "h", "FIELDS", "1"], arity_err("hgetdel"));
    let mut c3 = resp3(&s);
    c3.expect_cmd(&["HGETDEL", "h", "FIELDS", "1", "a"], "*1\r\n_\r\n");
}
