//! The typed keyspace, with hashes and strings side by side: WRONGTYPE from
//! every string command on a hash (and what SET, MGET, MSETNX do instead),
//! TYPE, SCAN ... TYPE, OBJECT ENCODING (listpack / hashtable and the
//! hash-max-listpack-* limits), MEMORY USAGE, RENAME/RENAMENX/COPY/MOVE/SWAPDB
//! of hashes (with field TTLs on 7.4+), key TTLs on hashes, DEL/UNLINK of a
//! 100,000-field hash, FLUSHDB/FLUSHALL, MULTI/EXEC and WATCH with hashes,
//! INFO keyspace, and the SCAN/HSCAN cursor guarantees under concurrent writes.
//!
//! Redis replies, byte-exact; every test holds against redis-server 7.0
//! (differential mode) except the field-TTL parts, which skip on a reference
//! older than 7.4.

use crate::common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, sleep};
use std::time::Duration;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const QUEUED: &str = "+QUEUED\r\n";

/// HGETALL of `key` as a sorted map (framing checked to be a RESP2 pair list).
fn hgetall(c: &mut RawClient, key: &str) -> BTreeMap<String, String> {
    let reply = c.call_resp(&["HGETALL", key]);
    let pairs = reply.pairs();
    let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.clone(), v.text())).collect();
    assert_eq!(map.len(), pairs.len(), "HGETALL {key} repeated a field: {reply:?}");
    map
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The value of a single-valued `CONFIG GET name` as an integer.
fn config_int(c: &mut RawClient, name: &str) -> usize {
    let reply = c.call_resp(&["CONFIG", "GET", name]);
    let pairs = reply.pairs();
    assert_eq!(pairs.len(), 1, "CONFIG GET {name}: {reply:?}");
    assert_eq!(pairs[0].0, name);
    pairs[0].1.text().parse().unwrap_or_else(|_| panic!("CONFIG GET {name} is not a number: {reply:?}"))
}

/// Build a hash of `n` fields with pipelined HSETs of 1,000 fields each.
fn hset_pipelined(c: &mut RawClient, key: &str, n: usize) {
    let mut buf = Vec::new();
    let mut batches = 0;
    for start in (0..n).step_by(1000) {
        let mut args = vec!["HSET".to_string(), key.to_string()];
        for i in start..(start + 1000).min(n) {
            args.push(format!("field:{i}"));
            args.push(format!("value:{i}"));
        }
        buf.extend_from_slice(&encode(&args));
        batches += 1;
    }
    c.send(&buf);
    let mut total = 0;
    for _ in 0..batches {
        total += c.read_resp().int();
    }
    assert_eq!(total, n as i64, "pipelined HSETs created {total} fields");
}

/// MSET `prefix0..prefix(n-1)` in pipelined batches of 1,000 keys.
fn mset_pipelined(c: &mut RawClient, prefix: &str, n: usize) {
    let mut buf = Vec::new();
    let mut batches = 0;
    for start in (0..n).step_by(1000) {
        let mut args = vec!["MSET".to_string()];
        for i in start..(start + 1000).min(n) {
            args.push(format!("{prefix}{i}"));
            args.push("v".to_string());
        }
        buf.extend_from_slice(&encode(&args));
        batches += 1;
    }
    c.send(&buf);
    for _ in 0..batches {
        c.expect_reply(OK);
    }
}

/// One SCAN-style step: (next cursor, items).
fn scan_step(c: &mut RawClient, args: &[&str]) -> (String, Vec<Resp>) {
    let reply = c.call_resp(args);
    let parts = reply.items();
    assert_eq!(parts.len(), 2, "{args:?} reply is [cursor, items]: {reply:?}");
    let cursor = parts[0].text();
    assert!(cursor.parse::<u64>().is_ok(), "cursor {cursor:?} is not an unsigned integer");
    (cursor, parts[1].items().to_vec())
}

/// Full `SCAN` iteration with extra arguments; every key seen (deduplicated).
fn scan_all(c: &mut RawClient, extra: &[&str]) -> BTreeSet<String> {
    let mut cursor = "0".to_string();
    let mut seen = BTreeSet::new();
    for _ in 0..1_000_000 {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(extra);
        let (next, items) = scan_step(c, &args);
        seen.extend(items.iter().map(Resp::text));
        if next == "0" {
            return seen;
        }
        cursor = next;
    }
    panic!("SCAN did not finish");
}

// ---------------------------------------------------------------------------
// String commands on a hash key
// ---------------------------------------------------------------------------

#[test]
fn string_commands_on_a_hash_answer_wrongtype() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    let cmds: &[&[&str]] = &[
        &["GET", "h"],
        &["GETSET", "h", "x"],
        &["GETDEL", "h"],
        &["GETEX", "h"],
        &["GETEX", "h", "EX", "100"],
        &["GETEX", "h", "PERSIST"],
        &["APPEND", "h", "x"],
        &["STRLEN", "h"],
        &["GETRANGE", "h", "0", "-1"],
        &["SUBSTR", "h", "0", "-1"],
        &["SETRANGE", "h", "0", "x"],
        &["INCR", "h"],
        &["DECR", "h"],
        &["INCRBY", "h", "1"],
        &["DECRBY", "h", "1"],
        &["INCRBYFLOAT", "h", "1.5"],
        // The type is checked before the increment is read.
        &["INCRBYFLOAT", "h", "notafloat"],
        &["SETBIT", "h", "0", "1"],
        &["GETBIT", "h", "0"],
        &["BITCOUNT", "h"],
        &["BITCOUNT", "h", "0", "-1"],
        // SET with GET must read the old value, which is not a string.
        &["SET", "h", "x", "GET"],
        &["SET", "h", "x", "XX", "GET"],
    ];
    for cmd in cmds {
        c.expect_cmd(cmd, WRONGTYPE);
    }
    // None of them changed the hash or its TTL.
    assert_eq!(hgetall(&mut c, "h"), map(&[("a", "1")]));
    c.expect_cmd(&["TYPE", "h"], "+hash\r\n");
    c.expect_cmd(&["TTL", "h"], int(-1));
}

#[test]
fn set_overwrites_a_hash() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h1", "a", "1"], int(1));
    c.expect_cmd(&["SET", "h1", "v"], OK);
    c.expect_cmd(&["TYPE", "h1"], "+string\r\n");
    c.expect_cmd(&["GET", "h1"], bulk("v"));
    c.expect_cmd(&["HGET", "h1", "a"], WRONGTYPE);
    // SET XX counts the hash as existing; SET NX / SETNX as well.
    c.expect_cmd(&["HSET", "h2", "a", "1"], int(1));
    c.expect_cmd(&["SET", "h2", "v", "NX"], NIL);
    c.expect_cmd(&["SETNX", "h2", "v"], int(0));
    c.expect_cmd(&["TYPE", "h2"], "+hash\r\n");
    c.expect_cmd(&["SET", "h2", "v", "XX"], OK);
    c.expect_cmd(&["TYPE", "h2"], "+string\r\n");
    // SETEX, PSETEX and MSET replace a hash too, and a TTL on it.
    c.expect_cmd(&["HSET", "h3", "a", "1"], int(1));
    c.expect_cmd(&["EXPIRE", "h3", "1000"], int(1));
    c.expect_cmd(&["SETEX", "h3", "100", "v"], OK);
    c.expect_cmd(&["TTL", "h3"], int(100));
    c.expect_cmd(&["HSET", "h4", "a", "1"], int(1));
    c.expect_cmd(&["PSETEX", "h4", "100000", "v"], OK);
    c.expect_cmd(&["GET", "h4"], bulk("v"));
    c.expect_cmd(&["HSET", "h5", "a", "1"], int(1));
    c.expect_cmd(&["EXPIRE", "h5", "1000"], int(1));
    c.expect_cmd(&["MSET", "h5", "v", "other", "w"], OK);
    c.expect_cmd(&["GET", "h5"], bulk("v"));
    c.expect_cmd(&["TTL", "h5"], int(-1));
    // And a hash can replace nothing but a missing key: HSET on the string fails.
    c.expect_cmd(&["HSET", "h5", "a", "1"], WRONGTYPE);
}

#[test]
fn mget_answers_nil_for_a_hash() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    c.expect_cmd(&["SET", "s", "v"], OK);
    c.expect_cmd(&["MGET", "s", "h", "missing", "s"], "*4\r\n$1\r\nv\r\n$-1\r\n$-1\r\n$1\r\nv\r\n");
}

#[test]
fn msetnx_sees_a_hash_as_existing() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    c.expect_cmd(&["MSETNX", "new", "1", "h", "2"], int(0));
    c.expect_cmd(&["EXISTS", "new"], int(0));
    c.expect_cmd(&["TYPE", "h"], "+hash\r\n");
    c.expect_cmd(&["MSETNX", "new", "1", "other", "2"], int(1));
}

#[test]
fn generic_commands_work_on_both_types() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    c.expect_cmd(&["SET", "s", "v"], OK);
    c.expect_cmd(&["EXISTS", "h", "s", "missing"], int(2));
    c.expect_cmd(&["DBSIZE"], int(2));
    c.expect_cmd(&["TOUCH", "h", "s"], int(2));
    c.expect_cmd(&["DEL", "h", "s"], int(2));
    c.expect_cmd(&["DBSIZE"], int(0));
}

// ---------------------------------------------------------------------------
// TYPE and SCAN TYPE
// ---------------------------------------------------------------------------

#[test]
fn type_reports_hash_string_none() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["TYPE", "missing"], "+none\r\n");
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    c.expect_cmd(&["SET", "s", "v"], OK);
    c.expect_cmd(&["SET", "n", "12"], OK);
    c.expect_cmd(&["TYPE", "h"], "+hash\r\n");
    c.expect_cmd(&["TYPE", "s"], "+string\r\n");
    c.expect_cmd(&["TYPE", "n"], "+string\r\n");
    c.expect_cmd(&["HDEL", "h", "a"], int(1));
    c.expect_cmd(&["TYPE", "h"], "+none\r\n");
    let mut c3 = s.raw();
    c3.send_cmd(&["HELLO", "3"]);
    let _ = c3.read_reply_bytes();
    c3.expect_cmd(&["TYPE", "s"], "+string\r\n");
    c3.expect_cmd(&["TYPE", "missing"], "+none\r\n");
}

#[test]
fn scan_type_filters_by_type() {
    let s = TestServer::start();
    let mut c = s.raw();
    let mut hashes = BTreeSet::new();
    let mut strings = BTreeSet::new();
    for i in 0..150 {
        c.expect_cmd(&["HSET", &format!("h:{i}"), "f", "v"], int(1));
        c.expect_cmd(&["SET", &format!("s:{i}"), "v"], OK);
        hashes.insert(format!("h:{i}"));
        strings.insert(format!("s:{i}"));
    }
    assert_eq!(scan_all(&mut c, &["TYPE", "hash"]), hashes);
    assert_eq!(scan_all(&mut c, &["TYPE", "string", "COUNT", "7"]), strings);
    assert_eq!(scan_all(&mut c, &["type", "HASH", "count", "1000"]), hashes);
    assert_eq!(scan_all(&mut c, &["TYPE", "list"]), BTreeSet::new());
    let expect: BTreeSet<String> = hashes.iter().filter(|k| k.starts_with("h:1")).cloned().collect();
    assert_eq!(scan_all(&mut c, &["MATCH", "h:1*", "TYPE", "hash"]), expect);
    assert_eq!(scan_all(&mut c, &["MATCH", "h:*", "TYPE", "string"]), BTreeSet::new());
    let all: BTreeSet<String> = hashes.union(&strings).cloned().collect();
    assert_eq!(scan_all(&mut c, &[]), all);
}

// ---------------------------------------------------------------------------
// OBJECT ENCODING and MEMORY USAGE
// ---------------------------------------------------------------------------

#[test]
fn hash_encoding_follows_the_listpack_entries_limit() {
    let s = TestServer::start();
    let mut c = s.raw();
    // 512 since Redis 7.0 (128 in 6.x as hash-max-ziplist-entries).
    let max = config_int(&mut c, "hash-max-listpack-entries");
    assert!(max > 0);
    hset_many(&mut c, "small", max);
    c.expect_cmd(&["OBJECT", "ENCODING", "small"], bulk("listpack"));
    c.expect_cmd(&["HSET", "small", "one-more", "v"], int(1));
    c.expect_cmd(&["OBJECT", "ENCODING", "small"], bulk("hashtable"));
    // A hashtable does not turn back into a listpack when it shrinks.
    let mut args = vec!["HDEL".to_string(), "small".into()];
    args.extend((0..max).map(|i| format!("f{i}")));
    c.expect_cmd(&args, int(max as i64));
    c.expect_cmd(&["HLEN", "small"], int(1));
    c.expect_cmd(&["OBJECT", "ENCODING", "small"], bulk("hashtable"));
    c.expect_cmd(&["OBJECT", "ENCODING", "missing"], NIL);
    c.expect_cmd(&["OBJECT", "ENCODING"], arity_err("object|encoding"));
}

#[test]
fn hash_encoding_follows_the_listpack_value_limit() {
    let s = TestServer::start();
    let mut c = s.raw();
    let max = config_int(&mut c, "hash-max-listpack-value");
    assert_eq!(max, 64, "hash-max-listpack-value default");
    let fits = "x".repeat(max);
    let too_long = "x".repeat(max + 1);
    c.expect_cmd(&["HSET", "v", "a", &fits], int(1));
    c.expect_cmd(&["OBJECT", "ENCODING", "v"], bulk("listpack"));
    c.expect_cmd(&["HSET", "v", "b", &too_long], int(1));
    c.expect_cmd(&["OBJECT", "ENCODING", "v"], bulk("hashtable"));
    // A long field name counts as well.
    c.expect_cmd(&["HSET", "f", &too_long, "1"], int(1));
    c.expect_cmd(&["OBJECT", "ENCODING", "f"], bulk("hashtable"));
    // HINCRBYFLOAT can grow a value past the limit too.
    c.expect_cmd(&["HSET", "g", "n", "1"], int(1));
    c.expect_cmd(&["OBJECT", "ENCODING", "g"], bulk("listpack"));
    let _ = c.call_resp(&["HINCRBYFLOAT", "g", "n", "1e300"]);
    c.expect_cmd(&["OBJECT", "ENCODING", "g"], bulk("hashtable"));
}

#[test]
fn config_set_hash_max_listpack_entries() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CONFIG", "SET", "hash-max-listpack-entries", "4"], OK);
    c.expect_cmd(
        &["CONFIG", "GET", "hash-max-listpack-entries"],
        "*2\r\n$25\r\nhash-max-listpack-entries\r\n$1\r\n4\r\n",
    );
    hset_many(&mut c, "four", 4);
    c.expect_cmd(&["OBJECT", "ENCODING", "four"], bulk("listpack"));
    hset_many(&mut c, "five", 5);
    c.expect_cmd(&["OBJECT", "ENCODING", "five"], bulk("hashtable"));
    c.expect_cmd(&["HSET", "four", "e", "5"], int(1));
    c.expect_cmd(&["OBJECT", "ENCODING", "four"], bulk("hashtable"));
    c.expect_cmd(&["CONFIG", "SET", "hash-max-listpack-value", "8"], OK);
    c.expect_cmd(&["HSET", "val", "a", "123456789"], int(1));
    c.expect_cmd(&["OBJECT", "ENCODING", "val"], bulk("hashtable"));
    let r = c.call(&["CONFIG", "SET", "hash-max-listpack-entries", "x"]);
    assert!(r.starts_with("-ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-entries')"), "{r}");
}

#[test]
fn hash_encoding_with_field_ttls() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    // Redis 7.4+ reports a small hash with field TTLs as `listpackex`.
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2"], int(2));
    c.expect_cmd(&["HEXPIRE", "h", "100", "FIELDS", "1", "a"], ints(&[1]));
    c.expect_cmd(&["OBJECT", "ENCODING", "h"], bulk("listpackex"));
    c.expect_cmd(&["HPERSIST", "h", "FIELDS", "1", "a"], ints(&[1]));
    c.expect_cmd(&["OBJECT", "ENCODING", "h"], bulk("listpackex"));
    let max = config_int(&mut c, "hash-max-listpack-entries");
    hset_many(&mut c, "big", max + 1);
    c.expect_cmd(&["HEXPIRE", "big", "100", "FIELDS", "1", "f0"], ints(&[1]));
    c.expect_cmd(&["OBJECT", "ENCODING", "big"], bulk("hashtable"));
}

#[test]
fn memory_usage_of_a_hash_grows_with_its_fields() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MEMORY", "USAGE", "missing"], NIL);
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    let one = c.call_resp(&["MEMORY", "USAGE", "h"]).int();
    assert!(one > 0, "MEMORY USAGE of a 1-field hash: {one}");
    hset_many(&mut c, "h", 100);
    let hundred = c.call_resp(&["MEMORY", "USAGE", "h", "SAMPLES", "0"]).int();
    assert!(hundred > one + 100 * 4, "MEMORY USAGE 1 field {one}, 101 fields {hundred}");
    hset_pipelined(&mut c, "h", 5000);
    let many = c.call_resp(&["MEMORY", "USAGE", "h", "SAMPLES", "0"]).int();
    assert!(many > hundred + 5000 * 16, "MEMORY USAGE 101 fields {hundred}, 5101 fields {many}");
    let value = "x".repeat(10_000);
    c.expect_cmd(&["HSET", "big", "a", &value], int(1));
    let big = c.call_resp(&["MEMORY", "USAGE", "big"]).int();
    assert!(big >= 10_000, "MEMORY USAGE of a hash holding a 10 kB value: {big}");
}

// ---------------------------------------------------------------------------
// RENAME, RENAMENX, COPY, MOVE, SWAPDB
// ---------------------------------------------------------------------------

#[test]
fn rename_and_renamenx_keep_the_hash() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2"], int(2));
    c.expect_cmd(&["EXPIRE", "h", "1000"], int(1));
    c.expect_cmd(&["RENAME", "h", "h2"], OK);
    c.expect_cmd(&["EXISTS", "h"], int(0));
    c.expect_cmd(&["TYPE", "h2"], "+hash\r\n");
    c.expect_cmd(&["TTL", "h2"], int(1000));
    assert_eq!(hgetall(&mut c, "h2"), map(&[("a", "1"), ("b", "2")]));
    // RENAME over a string replaces it with the hash.
    c.expect_cmd(&["SET", "s", "v"], OK);
    c.expect_cmd(&["RENAME", "h2", "s"], OK);
    c.expect_cmd(&["TYPE", "s"], "+hash\r\n");
    // RENAMENX refuses an existing target of any type.
    c.expect_cmd(&["SET", "t", "v"], OK);
    c.expect_cmd(&["RENAMENX", "s", "t"], int(0));
    c.expect_cmd(&["TYPE", "t"], "+string\r\n");
    c.expect_cmd(&["RENAMENX", "s", "h3"], int(1));
    assert_eq!(hgetall(&mut c, "h3"), map(&[("a", "1"), ("b", "2")]));
    // A string renamed onto a hash replaces it.
    c.expect_cmd(&["RENAME", "t", "h3"], OK);
    c.expect_cmd(&["GET", "h3"], bulk("v"));
}

#[test]
fn copy_is_a_deep_copy() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2"], int(2));
    c.expect_cmd(&["COPY", "h", "c"], int(1));
    c.expect_cmd(&["TYPE", "c"], "+hash\r\n");
    c.expect_cmd(&["HSET", "c", "a", "changed", "new", "3"], int(1));
    c.expect_cmd(&["HDEL", "c", "b"], int(1));
    assert_eq!(hgetall(&mut c, "h"), map(&[("a", "1"), ("b", "2")]));
    assert_eq!(hgetall(&mut c, "c"), map(&[("a", "changed"), ("new", "3")]));
    c.expect_cmd(&["HINCRBY", "h", "b", "10"], int(12));
    c.expect_cmd(&["HEXISTS", "c", "b"], int(0));
    // Existing destination: refused without REPLACE, replaced with it.
    c.expect_cmd(&["SET", "s", "v"], OK);
    c.expect_cmd(&["COPY", "h", "s"], int(0));
    c.expect_cmd(&["TYPE", "s"], "+string\r\n");
    c.expect_cmd(&["COPY", "h", "s", "REPLACE"], int(1));
    assert_eq!(hgetall(&mut c, "s"), map(&[("a", "1"), ("b", "12")]));
    c.expect_cmd(&["COPY", "s", "h", "REPLACE"], int(1));
    c.expect_cmd(&["COPY", "missing", "x"], int(0));
    // A big (hashtable) hash is copied deeply as well, with the key TTL.
    hset_many(&mut c, "big", 1000);
    c.expect_cmd(&["EXPIRE", "big", "1000"], int(1));
    c.expect_cmd(&["COPY", "big", "big2"], int(1));
    c.expect_cmd(&["TTL", "big2"], int(1000));
    c.expect_cmd(&["HSET", "big2", "f0", "x"], int(0));
    c.expect_cmd(&["HGET", "big", "f0"], bulk("v0"));
    c.expect_cmd(&["HLEN", "big2"], int(1000));
    // COPY into another database.
    c.expect_cmd(&["COPY", "h", "h", "DB", "1"], int(1));
    c.expect_cmd(&["SELECT", "1"], OK);
    assert_eq!(hgetall(&mut c, "h"), map(&[("a", "1"), ("b", "12")]));
    c.expect_cmd(&["HSET", "h", "a", "db1"], int(0));
    c.expect_cmd(&["SELECT", "0"], OK);
    c.expect_cmd(&["HGET", "h", "a"], bulk("1"));
}

#[test]
fn move_and_swapdb_keep_the_hash() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2"], int(2));
    c.expect_cmd(&["EXPIRE", "h", "1000"], int(1));
    c.expect_cmd(&["MOVE", "h", "1"], int(1));
    c.expect_cmd(&["EXISTS", "h"], int(0));
    c.expect_cmd(&["MOVE", "h", "1"], int(0));
    c.expect_cmd(&["SELECT", "1"], OK);
    c.expect_cmd(&["TYPE", "h"], "+hash\r\n");
    c.expect_cmd(&["TTL", "h"], int(1000));
    assert_eq!(hgetall(&mut c, "h"), map(&[("a", "1"), ("b", "2")]));
    // MOVE refuses when the target db has the name, whatever its type.
    c.expect_cmd(&["SELECT", "0"], OK);
    c.expect_cmd(&["SET", "h", "v"], OK);
    c.expect_cmd(&["MOVE", "h", "1"], int(0));
    c.expect_cmd(&["GET", "h"], bulk("v"));
    // SWAPDB exchanges them.
    c.expect_cmd(&["SWAPDB", "0", "1"], OK);
    c.expect_cmd(&["TYPE", "h"], "+hash\r\n");
    assert_eq!(hgetall(&mut c, "h"), map(&[("a", "1"), ("b", "2")]));
    c.expect_cmd(&["SELECT", "1"], OK);
    c.expect_cmd(&["GET", "h"], bulk("v"));
}

#[test]
fn field_ttls_survive_rename_copy_move() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2"], int(2));
    c.expect_cmd(&["HEXPIRE", "h", "100", "FIELDS", "1", "a"], ints(&[1]));
    c.expect_cmd(&["RENAME", "h", "r"], OK);
    c.expect_cmd(&["HTTL", "r", "FIELDS", "2", "a", "b"], ints(&[100, -1]));
    c.expect_cmd(&["COPY", "r", "c"], int(1));
    c.expect_cmd(&["HTTL", "c", "FIELDS", "2", "a", "b"], ints(&[100, -1]));
    // The copy's field TTLs are its own.
    c.expect_cmd(&["HPERSIST", "c", "FIELDS", "1", "a"], ints(&[1]));
    c.expect_cmd(&["HTTL", "r", "FIELDS", "1", "a"], ints(&[100]));
    c.expect_cmd(&["MOVE", "r", "1"], int(1));
    c.expect_cmd(&["SWAPDB", "0", "1"], OK);
    c.expect_cmd(&["HTTL", "r", "FIELDS", "2", "a", "b"], ints(&[100, -1]));
    c.expect_cmd(&["RENAMENX", "r", "n"], int(1));
    c.expect_cmd(&["HTTL", "n", "FIELDS", "1", "a"], ints(&[100]));
    // A copied 100 ms field TTL still expires in the copy.
    c.expect_cmd(&["HPEXPIRE", "n", "100", "FIELDS", "1", "a"], ints(&[1]));
    c.expect_cmd(&["COPY", "n", "n2"], int(1));
    sleep(Duration::from_millis(250));
    c.expect_cmd(&["HGETALL", "n2"], "*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
    c.expect_cmd(&["HGETALL", "n"], "*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
}

// ---------------------------------------------------------------------------
// Key TTLs, deletion, flushing
// ---------------------------------------------------------------------------

#[test]
fn expire_ttl_persist_on_a_hash() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    c.expect_cmd(&["EXPIRE", "h", "100"], int(1));
    c.expect_cmd(&["TTL", "h"], int(100));
    // Changing the hash keeps the key's TTL (only SET-like commands drop it).
    c.expect_cmd(&["HSET", "h", "b", "2"], int(1));
    c.expect_cmd(&["HINCRBY", "h", "n", "1"], int(1));
    c.expect_cmd(&["HDEL", "h", "a"], int(1));
    c.expect_cmd(&["TTL", "h"], int(100));
    c.expect_cmd(&["PERSIST", "h"], int(1));
    c.expect_cmd(&["TTL", "h"], int(-1));
    c.expect_cmd(&["PERSIST", "h"], int(0));
    c.expect_cmd(&["PEXPIRE", "h", "100"], int(1));
    let pttl = c.call_resp(&["PTTL", "h"]).int();
    assert!((0..=100).contains(&pttl), "PTTL after PEXPIRE 100 = {pttl}");
    sleep(Duration::from_millis(250));
    c.expect_cmd(&["HGETALL", "h"], "*0\r\n");
    c.expect_cmd(&["EXISTS", "h"], int(0));
    c.expect_cmd(&["TYPE", "h"], "+none\r\n");
    // A hash that expires without being read is reclaimed too.
    c.expect_cmd(&["HSET", "h2", "a", "1"], int(1));
    c.expect_cmd(&["PEXPIRE", "h2", "100"], int(1));
    sleep(Duration::from_millis(250));
    c.expect_cmd(&["EXISTS", "h2"], int(0));
    c.expect_cmd(&["HSET", "h2", "fresh", "1"], int(1));
    c.expect_cmd(&["TTL", "h2"], int(-1));
}

#[test]
fn del_and_unlink_a_hash_of_100k_fields() {
    let s = TestServer::start();
    let mut c = s.raw();
    hset_pipelined(&mut c, "big1", 100_000);
    hset_pipelined(&mut c, "big2", 100_000);
    c.expect_cmd(&["HLEN", "big1"], int(100_000));
    c.expect_cmd(&["HGET", "big1", "field:99999"], bulk("value:99999"));
    c.expect_cmd(&["OBJECT", "ENCODING", "big1"], bulk("hashtable"));
    c.expect_cmd(&["DEL", "big1"], int(1));
    c.expect_cmd(&["EXISTS", "big1"], int(0));
    c.expect_cmd(&["UNLINK", "big2", "missing"], int(1));
    c.expect_cmd(&["EXISTS", "big2"], int(0));
    c.expect_cmd(&["DBSIZE"], int(0));
    c.expect_cmd(&["PING"], PONG);
    // UNLINK freed the large hash in the background (Redistill's DEL too),
    // and INFO memory counts it, as Redis does, until nothing is pending.
    let settled = (0..100).any(|_| {
        let memory = c.info("memory");
        let done = info_int(&memory, "lazyfreed_objects") >= 1 && info_int(&memory, "lazyfree_pending_objects") == 0;
        if !done {
            sleep(Duration::from_millis(50));
        }
        done
    });
    assert!(settled, "INFO memory: lazyfreed_objects stayed 0, or lazyfree_pending_objects above 0");
}

#[test]
fn flushdb_and_flushall_remove_hashes() {
    let s = TestServer::start();
    let mut c = s.raw();
    for db in ["1", "0"] {
        c.expect_cmd(&["SELECT", db], OK);
        c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
        hset_pipelined(&mut c, "big", 10_000);
        c.expect_cmd(&["SET", "s", "v"], OK);
    }
    c.expect_cmd(&["FLUSHDB"], OK);
    c.expect_cmd(&["DBSIZE"], int(0));
    c.expect_cmd(&["HGET", "h", "a"], NIL);
    c.expect_cmd(&["SELECT", "1"], OK);
    c.expect_cmd(&["DBSIZE"], int(3));
    c.expect_cmd(&["FLUSHDB", "ASYNC"], OK);
    c.expect_cmd(&["DBSIZE"], int(0));
    c.expect_cmd(&["HLEN", "big"], int(0));
    for (db, mode) in [("0", "SYNC"), ("1", "ASYNC")] {
        c.expect_cmd(&["SELECT", "0"], OK);
        c.expect_cmd(&["HSET", "h", "a", "1"], int(1));
        c.expect_cmd(&["SELECT", "1"], OK);
        hset_pipelined(&mut c, "big", 10_000);
        c.expect_cmd(&["FLUSHALL", mode], OK);
        c.expect_cmd(&["SELECT", db], OK);
        c.expect_cmd(&["DBSIZE"], int(0));
        c.expect_cmd(&["SELECT", "0"], OK);
        c.expect_cmd(&["EXISTS", "h"], int(0));
    }
    // A flushed name can be reused with another type.
    c.expect_cmd(&["SET", "h", "v"], OK);
    c.expect_cmd(&["TYPE", "h"], "+string\r\n");
}

// ---------------------------------------------------------------------------
// Transactions
// ---------------------------------------------------------------------------

#[test]
fn hash_commands_inside_multi_exec() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2"], QUEUED);
    c.expect_cmd(&["HINCRBY", "h", "a", "5"], QUEUED);
    c.expect_cmd(&["HDEL", "h", "b"], QUEUED);
    c.expect_cmd(&["HGETALL", "h"], QUEUED);
    c.expect_cmd(&["HGET", "h", "missing"], QUEUED);
    c.expect_cmd(&["HLEN", "h"], QUEUED);
    c.expect_cmd(&["TYPE", "h"], QUEUED);
    c.expect_cmd(&["EXEC"], "*7\r\n:2\r\n:6\r\n:1\r\n*2\r\n$1\r\na\r\n$1\r\n6\r\n$-1\r\n:1\r\n+hash\r\n");
    // A WRONGTYPE inside EXEC is one reply in the array; the rest runs.
    c.expect_cmd(&["SET", "s", "v"], OK);
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["HSET", "s", "a", "1"], QUEUED);
    c.expect_cmd(&["HINCRBY", "h", "a", "1"], QUEUED);
    c.expect_cmd(&["GET", "h"], QUEUED);
    c.expect_cmd(&["EXEC"], format!("*3\r\n{WRONGTYPE}:7\r\n{WRONGTYPE}"));
    c.expect_cmd(&["HGET", "h", "a"], bulk("7"));
    // An arity error while queueing aborts the whole transaction.
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["HSET", "h", "a", "100"], QUEUED);
    c.expect_cmd(&["HSET", "h", "a"], arity_err("hset"));
    c.expect_cmd(&["EXEC"], "-EXECABORT Transaction discarded because of previous errors.\r\n");
    c.expect_cmd(&["HGET", "h", "a"], bulk("7"));
    // RESP3: HGETALL inside EXEC is a map.
    let mut c3 = s.raw();
    c3.send_cmd(&["HELLO", "3"]);
    let _ = c3.read_reply_bytes();
    c3.expect_cmd(&["MULTI"], OK);
    c3.expect_cmd(&["HGETALL", "h"], QUEUED);
    c3.expect_cmd(&["EXEC"], "*1\r\n%1\r\n$1\r\na\r\n$1\r\n7\r\n");
}

#[test]
fn watch_sees_hash_writes_from_another_client() {
    let s = TestServer::start();
    let mut a = s.raw();
    let mut b = s.raw();
    a.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    // A write to the watched hash aborts EXEC.
    a.expect_cmd(&["WATCH", "h"], OK);
    b.expect_cmd(&["HSET", "h", "a", "2"], int(0));
    a.expect_cmd(&["MULTI"], OK);
    a.expect_cmd(&["HSET", "h", "a", "3"], QUEUED);
    a.expect_cmd(&["EXEC"], "*-1\r\n");
    a.expect_cmd(&["HGET", "h", "a"], bulk("2"));
    // A write to another key does not.
    a.expect_cmd(&["WATCH", "h"], OK);
    b.expect_cmd(&["HSET", "other", "a", "2"], int(1));
    b.expect_cmd(&["SET", "s", "v"], OK);
    a.expect_cmd(&["MULTI"], OK);
    a.expect_cmd(&["HSET", "h", "a", "3"], QUEUED);
    a.expect_cmd(&["EXEC"], "*1\r\n:0\r\n");
    a.expect_cmd(&["HGET", "h", "a"], bulk("3"));
    // Every kind of hash write counts: HDEL, HINCRBY, HINCRBYFLOAT, HSETNX, DEL.
    let writes: &[&[&str]] = &[
        &["HDEL", "h", "a"],
        &["HINCRBY", "h", "n", "1"],
        &["HINCRBYFLOAT", "h", "n", "1.5"],
        &["HSETNX", "h", "new", "1"],
        &["HMSET", "h", "a", "1"],
        &["DEL", "h"],
    ];
    for w in writes {
        // Recreate the field (HSET answers 0 or 1 depending on the last write).
        let _ = a.call_resp(&["HSET", "h", "a", "1"]);
        a.expect_cmd(&["WATCH", "h"], OK);
        let _ = b.call_resp(w);
        a.expect_cmd(&["MULTI"], OK);
        a.expect_cmd(&["HLEN", "h"], QUEUED);
        a.expect_cmd(&["EXEC"], "*-1\r\n");
    }
    // An HDEL that deletes nothing does not touch the key.
    a.expect_cmd(&["HSET", "h", "a", "1"], int(1));
    a.expect_cmd(&["WATCH", "h"], OK);
    b.expect_cmd(&["HDEL", "h", "missing"], int(0));
    a.expect_cmd(&["MULTI"], OK);
    a.expect_cmd(&["HGET", "h", "a"], QUEUED);
    a.expect_cmd(&["EXEC"], "*1\r\n$1\r\n1\r\n");
}

// ---------------------------------------------------------------------------
// INFO keyspace
// ---------------------------------------------------------------------------

#[test]
fn info_keyspace_counts_hash_keys() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h1", "a", "1"], int(1));
    c.expect_cmd(&["HSET", "h2", "a", "1"], int(1));
    c.expect_cmd(&["SET", "s", "v"], OK);
    c.expect_cmd(&["EXPIRE", "h2", "1000"], int(1));
    let info = c.info("keyspace");
    let line = info.lines().find(|l| l.starts_with("db0:")).unwrap_or_else(|| panic!("no db0 line:\n{info}"));
    assert!(line.starts_with("db0:keys=3,expires=1,avg_ttl="), "INFO keyspace: {line}");
    c.expect_cmd(&["HDEL", "h1", "a"], int(1));
    let info = c.info("keyspace");
    let line = info.lines().find(|l| l.starts_with("db0:")).unwrap_or_else(|| panic!("no db0 line:\n{info}"));
    assert!(line.starts_with("db0:keys=2,expires=1,avg_ttl="), "INFO keyspace after HDEL of the last field: {line}");
}

// ---------------------------------------------------------------------------
// SCAN and HSCAN cursors
// ---------------------------------------------------------------------------

#[test]
fn scan_count_returns_a_small_batch() {
    let s = TestServer::start();
    let mut c = s.raw();
    mset_pipelined(&mut c, "k:", 20_000);
    c.expect_cmd(&["DBSIZE"], int(20_000));
    let (cursor, items) = scan_step(&mut c, &["SCAN", "0", "COUNT", "10"]);
    assert!(cursor != "0", "SCAN 0 COUNT 10 over 20,000 keys finished in one step");
    assert!(!items.is_empty() && items.len() <= 100, "SCAN 0 COUNT 10 returned {} keys", items.len());
    let (_, items) = scan_step(&mut c, &["SCAN", "0"]);
    assert!(items.len() <= 100, "SCAN 0 (default COUNT 10) returned {} keys", items.len());
    // The same holds for a big hash.
    hset_pipelined(&mut c, "h", 20_000);
    let (cursor, items) = scan_step(&mut c, &["HSCAN", "h", "0", "COUNT", "10"]);
    assert!(cursor != "0", "HSCAN 0 COUNT 10 over 20,000 fields finished in one step");
    assert!(!items.is_empty() && items.len() <= 200, "HSCAN 0 COUNT 10 returned {} items", items.len());
}

/// Runs `churn` on its own connection in a loop until dropped.
struct Churn {
    stop: Arc<AtomicBool>,
    rounds: Arc<AtomicU64>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Churn {
    fn start(s: &TestServer, churn: impl Fn(&mut RawClient, u64) + Send + 'static) -> Churn {
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicU64::new(0));
        let mut c = s.raw();
        let (stop2, rounds2) = (stop.clone(), rounds.clone());
        let handle = thread::spawn(move || {
            let mut i = 0;
            while !stop2.load(Ordering::Relaxed) {
                churn(&mut c, i);
                i += 1;
                rounds2.store(i, Ordering::Relaxed);
            }
        });
        // Scans must overlap the churn: wait for its first round (a loaded
        // machine may start the thread late).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while rounds.load(Ordering::Relaxed) == 0 && std::time::Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        Churn { stop, rounds, handle: Some(handle) }
    }

    /// Stop and return how many rounds ran.
    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.join().expect("churn thread panicked");
        }
        self.rounds.load(Ordering::Relaxed)
    }
}

impl Drop for Churn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[test]
fn scan_sees_every_stable_key_while_others_change() {
    let s = TestServer::start();
    let mut c = s.raw();
    mset_pipelined(&mut c, "stable:", 20_000);
    c.expect_cmd(&["HSET", "stable:hash", "a", "1"], int(1));
    // The other connection keeps adding keys (the keyspace grows past a
    // resize) and deleting some of them again.
    let churn = Churn::start(&s, |c, i| {
        c.expect_cmd(&["SET", &format!("churn:{i}"), "v"], OK);
        c.expect_cmd(&["HSET", &format!("churnh:{i}"), "f", "v"], int(1));
        if i % 3 == 0 && i >= 30 {
            c.expect_cmd(&["DEL", &format!("churn:{}", i - 30), &format!("churnh:{}", i - 30)], int(2));
        }
    });
    let mut cursor = "0".to_string();
    let mut seen = BTreeSet::new();
    let mut steps = 0;
    loop {
        let (next, items) = scan_step(&mut c, &["SCAN", &cursor, "COUNT", "10"]);
        assert!(items.len() <= 200, "SCAN COUNT 10 returned {} keys in one step", items.len());
        seen.extend(items.iter().map(Resp::text).filter(|k| k.starts_with("stable:")));
        steps += 1;
        if next == "0" {
            break;
        }
        cursor = next;
        assert!(steps < 200_000, "SCAN did not finish");
    }
    let rounds = churn.finish();
    assert!(rounds > 0, "the churn connection made no changes during the scan");
    assert!(steps > 100, "SCAN COUNT 10 over 20,000 keys took only {steps} steps");
    let missing: Vec<String> =
        (0..20_000).map(|i| format!("stable:{i}")).filter(|k| !seen.contains(k)).take(10).collect();
    assert!(missing.is_empty(), "SCAN missed keys that existed throughout, e.g. {missing:?}");
    assert!(seen.contains("stable:hash"));
}

#[test]
fn hscan_sees_every_stable_field_while_others_change() {
    let s = TestServer::start();
    let mut c = s.raw();
    let mut args = vec!["HSET".to_string(), "h".into()];
    for i in 0..1000 {
        args.push(format!("stable:{i}"));
        args.push(format!("v{i}"));
    }
    c.expect_cmd(&args, int(1000));
    let churn = Churn::start(&s, |c, i| {
        c.expect_cmd(&["HSET", "h", &format!("churn:{i}"), "v"], int(1));
        if i % 2 == 0 && i >= 10 {
            c.expect_cmd(&["HDEL", "h", &format!("churn:{}", i - 10)], int(1));
        }
    });
    let mut cursor = "0".to_string();
    let mut seen = BTreeMap::new();
    let mut steps = 0;
    loop {
        let (next, items) = scan_step(&mut c, &["HSCAN", "h", &cursor, "COUNT", "10"]);
        assert!(items.len() % 2 == 0, "HSCAN items are field/value pairs");
        for pair in items.chunks(2) {
            let field = pair[0].text();
            if field.starts_with("stable:") {
                seen.insert(field, pair[1].text());
            }
        }
        steps += 1;
        if next == "0" {
            break;
        }
        cursor = next;
        assert!(steps < 100_000, "HSCAN did not finish");
    }
    let rounds = churn.finish();
    assert!(rounds > 0, "the churn connection made no changes during the scan");
    assert_eq!(seen.len(), 1000, "HSCAN missed fields that existed throughout");
    for i in 0..1000 {
        assert_eq!(seen[&format!("stable:{i}")], format!("v{i}"));
    }
}
