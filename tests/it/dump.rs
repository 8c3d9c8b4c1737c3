//! DUMP and RESTORE: round trips of every type, every RESTORE option and
//! error, against the real server (and, in differential mode, Redis:
//! payload bytes differ, so tests only feed a server its own DUMPs).

use crate::common::{arity_err, err, NIL, NOT_INT_ERR, OK, SYNTAX_ERR};
use crate::common::{redistill_only, RawClient, TestServer};
use redistill::store::serialize::{seal, TYPE_HASH, TYPE_STRING};

const BUSYKEY: &str = "-BUSYKEY Target key name already exists.\r\n";
const BAD_PAYLOAD: &str = "-ERR DUMP payload version or checksum are wrong\r\n";
const BAD_DATA: &str = "-ERR Bad data format\r\n";

fn dump(c: &mut RawClient, key: &str) -> Vec<u8> {
    c.call_resp(&["DUMP", key]).bytes().to_vec()
}

/// RESTORE `key` `ttl` `payload` with `options`; the raw reply.
fn restore(c: &mut RawClient, key: &str, ttl: &str, payload: &[u8], options: &[&str]) -> String {
    let mut args: Vec<&[u8]> = vec![b"RESTORE", key.as_bytes(), ttl.as_bytes(), payload];
    args.extend(options.iter().map(|o| o.as_bytes()));
    c.call(&args)
}

/// DUMP `from`, RESTORE it as `to` (no TTL); asserts OK.
fn copy_via_dump(c: &mut RawClient, from: &str, to: &str) {
    let payload = dump(c, from);
    assert_eq!(restore(c, to, "0", &payload, &[]), OK);
}

fn sorted_hash(c: &mut RawClient, key: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let flat = c.call_resp(&["HGETALL", key]);
    let mut pairs: Vec<_> = flat.items().chunks(2).map(|kv| (kv[0].bytes().to_vec(), kv[1].bytes().to_vec())).collect();
    pairs.sort();
    pairs
}

#[test]
fn dump_of_a_missing_key_is_nil() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["DUMP", "missing"], NIL);
    c.expect_cmd(&["DUMP"], arity_err("dump"));
    c.expect_cmd(&["DUMP", "a", "b"], arity_err("dump"));
}

#[test]
fn strings_round_trip() {
    let s = TestServer::start();
    let mut c = s.raw();
    let big = "x".repeat(100_000);
    let binary = [0u8, 255, 13, 10, 0, 7];
    let cases: [(&str, &[u8]); 6] = [
        ("empty", b""),
        ("small", b"hello"),
        ("int", b"12345"),
        ("negative", b"-9223372036854775808"),
        ("big", big.as_bytes()),
        ("binary", &binary),
    ];
    for (key, value) in cases {
        c.expect_cmd(&[b"SET".as_ref(), key.as_bytes(), value], OK);
        let copy = format!("{key}:copy");
        copy_via_dump(&mut c, key, &copy);
        assert_eq!(c.call_resp(&["GET", &copy]).bytes(), value, "{key}");
        c.expect_cmd(&["TYPE", &copy], "+string\r\n");
        c.expect_cmd(&["TTL", &copy], ":-1\r\n");
    }
    c.expect_cmd(&["INCR", "int:copy"], ":12346\r\n");
}

#[test]
fn hashes_round_trip_small_and_large() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "small", "a", "1", "b", "two", "c", ""], ":3\r\n");
    crate::common::hset_many(&mut c, "large", 1000);
    for key in ["small", "large"] {
        let copy = format!("{key}:copy");
        copy_via_dump(&mut c, key, &copy);
        assert_eq!(sorted_hash(&mut c, &copy), sorted_hash(&mut c, key), "{key}");
        let encoding = c.call(&["OBJECT", "ENCODING", key]);
        c.expect_cmd(&["OBJECT", "ENCODING", &copy], encoding);
    }
    c.expect_cmd(&["HLEN", "large:copy"], ":1000\r\n");
    c.expect_cmd(&["OBJECT", "ENCODING", "large:copy"], "$9\r\nhashtable\r\n");
}

/// A collection's members, sorted (replies list them in encoding order).
fn sorted_members(c: &mut RawClient, command: &[&str]) -> Vec<Vec<u8>> {
    let mut members: Vec<Vec<u8>> = c.call_resp(command).items().iter().map(|m| m.bytes().to_vec()).collect();
    members.sort();
    members
}

#[test]
fn sets_round_trip_in_every_encoding() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SADD", "ints", "1", "-5", "300000"], ":3\r\n");
    c.expect_cmd(&["SADD", "words", "a", "bb", ""], ":3\r\n");
    let mut args = vec!["SADD".to_string(), "big".into()];
    args.extend((0..1000).map(|i| format!("member:{i}")));
    c.expect_cmd(&args, ":1000\r\n");
    for key in ["ints", "words", "big"] {
        let copy = format!("{key}:copy");
        copy_via_dump(&mut c, key, &copy);
        assert_eq!(sorted_members(&mut c, &["SMEMBERS", &copy]), sorted_members(&mut c, &["SMEMBERS", key]), "{key}");
        let encoding = c.call(&["OBJECT", "ENCODING", key]);
        c.expect_cmd(&["OBJECT", "ENCODING", &copy], encoding);
        c.expect_cmd(&["TYPE", &copy], "+set\r\n");
    }
}

#[test]
fn sorted_sets_round_trip_in_both_encodings() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["ZADD", "small", "1", "a", "-2.5", "b", "inf", "c"], ":3\r\n");
    let mut args = vec!["ZADD".to_string(), "big".into()];
    for i in 0..1000 {
        args.extend([format!("{}", i % 97), format!("member:{i}")]);
    }
    c.expect_cmd(&args, ":1000\r\n");
    for key in ["small", "big"] {
        let copy = format!("{key}:copy");
        copy_via_dump(&mut c, key, &copy);
        let all = |c: &mut RawClient, key: &str| c.call(&["ZRANGE", key, "0", "-1", "WITHSCORES"]);
        assert_eq!(all(&mut c, &copy), all(&mut c, key), "{key}");
        let encoding = c.call(&["OBJECT", "ENCODING", key]);
        c.expect_cmd(&["OBJECT", "ENCODING", &copy], encoding);
        c.expect_cmd(&["TYPE", &copy], "+zset\r\n");
    }
}

#[test]
fn lists_round_trip_in_both_encodings() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["RPUSH", "small", "a", "", "c", "a"], ":4\r\n");
    let mut args = vec!["RPUSH".to_string(), "big".into()];
    args.extend((0..2000).map(|i| format!("element:{i}:{}", "x".repeat(i % 50))));
    c.expect_cmd(&args, ":2000\r\n");
    for key in ["small", "big"] {
        let copy = format!("{key}:copy");
        copy_via_dump(&mut c, key, &copy);
        let all = |c: &mut RawClient, key: &str| c.call(&["LRANGE", key, "0", "-1"]);
        assert_eq!(all(&mut c, &copy), all(&mut c, key), "{key}");
        let encoding = c.call(&["OBJECT", "ENCODING", key]);
        c.expect_cmd(&["OBJECT", "ENCODING", &copy], encoding);
        c.expect_cmd(&["TYPE", &copy], "+list\r\n");
    }
}

#[test]
fn hash_field_deadlines_survive_a_round_trip() {
    let s = TestServer::start();
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "keep", "1", "timed", "2"], ":2\r\n");
    let at = "4000000000000";
    c.expect_cmd(&["HPEXPIREAT", "h", at, "FIELDS", "1", "timed"], "*1\r\n:1\r\n");
    copy_via_dump(&mut c, "h", "h2");
    c.expect_cmd(&["HPEXPIRETIME", "h2", "FIELDS", "2", "keep", "timed"], format!("*2\r\n:-1\r\n:{at}\r\n"));
    c.expect_cmd(&["HGET", "h2", "timed"], "$1\r\n2\r\n");
}

/// A field whose deadline passed between DUMP and RESTORE is dropped; a
/// hash left with none is not created. (Redis 7.4 loads them and lets
/// them expire later.)
#[test]
fn hash_fields_already_expired_are_dropped_on_restore() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "keep", "1", "soon", "2"], ":2\r\n");
    c.expect_cmd(&["HPEXPIRE", "h", "100", "FIELDS", "1", "soon"], "*1\r\n:1\r\n");
    let payload = dump(&mut c, "h");
    c.expect_cmd(&["HSET", "gone", "soon", "2"], ":1\r\n");
    c.expect_cmd(&["HPEXPIRE", "gone", "100", "FIELDS", "1", "soon"], "*1\r\n:1\r\n");
    let all_timed = dump(&mut c, "gone");
    std::thread::sleep(std::time::Duration::from_millis(250));
    assert_eq!(restore(&mut c, "h2", "0", &payload, &[]), OK);
    assert_eq!(sorted_hash(&mut c, "h2"), [(b"keep".to_vec(), b"1".to_vec())]);
    c.expect_cmd(&["SET", "old", "v"], OK);
    assert_eq!(restore(&mut c, "old", "0", &all_timed, &["REPLACE"]), OK);
    c.expect_cmd(&["EXISTS", "old"], ":0\r\n");
}

#[test]
fn ttl_replace_and_absttl() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    let payload = dump(&mut c, "k");
    assert_eq!(restore(&mut c, "k", "0", &payload, &[]), BUSYKEY);
    // BUSYKEY is checked before the TTL and the payload.
    assert_eq!(restore(&mut c, "k", "-1", b"junk", &[]), BUSYKEY);
    c.expect_cmd(&["SET", "k", "other"], OK);
    assert_eq!(restore(&mut c, "k", "0", &payload, &["REPLACE"]), OK);
    c.expect_cmd(&["GET", "k"], "$1\r\nv\r\n");
    assert_eq!(restore(&mut c, "rel", "100000", &payload, &[]), OK);
    let pttl = c.call_resp(&["PTTL", "rel"]).int();
    assert!((98_000..=100_000).contains(&pttl), "PTTL {pttl}");
    assert_eq!(restore(&mut c, "abs", "4000000000000", &payload, &["ABSTTL"]), OK);
    c.expect_cmd(&["PEXPIRETIME", "abs"], ":4000000000000\r\n");
    assert_eq!(restore(&mut c, "mixed", "0", &payload, &["abSTtl", "replace"]), OK);
    c.expect_cmd(&["TTL", "mixed"], ":-1\r\n");
    // A deadline already past: OK, and no key (an old one is deleted).
    assert_eq!(restore(&mut c, "past", "1000", &payload, &["ABSTTL"]), OK);
    c.expect_cmd(&["EXISTS", "past"], ":0\r\n");
    assert_eq!(restore(&mut c, "k", "1000", &payload, &["ABSTTL", "REPLACE"]), OK);
    c.expect_cmd(&["EXISTS", "k"], ":0\r\n");
}

#[test]
fn idletime_and_freq_set_the_access_figures() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    let payload = dump(&mut c, "k");
    // Redis applies each only under the policy that keeps it.
    c.expect_cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"], OK);
    assert_eq!(restore(&mut c, "idle", "0", &payload, &["IDLETIME", "1000"]), OK);
    let idle = c.call_resp(&["OBJECT", "IDLETIME", "idle"]).int();
    assert!((1000..=1002).contains(&idle), "IDLETIME {idle}");
    c.expect_cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"], OK);
    assert_eq!(restore(&mut c, "freq", "0", &payload, &["FREQ", "100"]), OK);
    c.expect_cmd(&["OBJECT", "FREQ", "freq"], ":100\r\n");
    assert_eq!(restore(&mut c, "freq", "0", &payload, &["REPLACE", "freq", "0"]), OK);
    c.expect_cmd(&["OBJECT", "FREQ", "freq"], ":0\r\n");
    assert_eq!(restore(&mut c, "max", "0", &payload, &["FREQ", "255"]), OK);
    c.expect_cmd(&["OBJECT", "FREQ", "max"], ":255\r\n");
}

#[test]
fn option_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    let p = dump(&mut c, "k");
    assert_eq!(restore(&mut c, "n", "-1", &p, &[]), err("ERR Invalid TTL value, must be >= 0"));
    assert_eq!(restore(&mut c, "n", "soon", &p, &[]), NOT_INT_ERR);
    assert_eq!(restore(&mut c, "n", "0", &p, &["IDLETIME", "-1"]), err("ERR Invalid IDLETIME value, must be >= 0"));
    assert_eq!(restore(&mut c, "n", "0", &p, &["IDLETIME", "x"]), NOT_INT_ERR);
    let bad_freq = err("ERR Invalid FREQ value, must be >= 0 and <= 255");
    assert_eq!(restore(&mut c, "n", "0", &p, &["FREQ", "256"]), bad_freq);
    assert_eq!(restore(&mut c, "n", "0", &p, &["FREQ", "-1"]), bad_freq);
    assert_eq!(restore(&mut c, "n", "0", &p, &["FREQ", "1.5"]), NOT_INT_ERR);
    for options in [
        &["IDLETIME", "1", "FREQ", "1"][..],
        &["FREQ", "1", "IDLETIME", "1"],
        &["IDLETIME"],
        &["FREQ"],
        &["BOGUS"],
        &["REPLACE", "NOW"],
    ] {
        assert_eq!(restore(&mut c, "n", "0", &p, options), SYNTAX_ERR, "{options:?}");
    }
    // Options are checked before BUSYKEY.
    assert_eq!(restore(&mut c, "k", "0", &p, &["BOGUS"]), SYNTAX_ERR);
    c.expect_cmd(&["RESTORE", "n", "0"], arity_err("restore"));
    c.expect_cmd(&["EXISTS", "n"], ":0\r\n");
}

#[test]
fn corrupt_payloads_are_refused() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "a", "1", "b", "2"], ":2\r\n");
    let payload = dump(&mut c, "h");
    assert_eq!(restore(&mut c, "n", "0", b"", &[]), BAD_PAYLOAD);
    assert_eq!(restore(&mut c, "n", "0", b"garbage", &[]), BAD_PAYLOAD);
    for at in [0, payload.len() / 2, payload.len() - 1] {
        let mut flipped = payload.clone();
        flipped[at] ^= 0x20;
        assert_eq!(restore(&mut c, "n", "0", &flipped, &[]), BAD_PAYLOAD, "byte {at} flipped");
    }
    assert_eq!(restore(&mut c, "n", "0", &payload[..payload.len() - 1], &[]), BAD_PAYLOAD);
    assert_eq!(restore(&mut c, "n", "0", &payload[1..], &[]), BAD_PAYLOAD);
    c.expect_cmd(&["EXISTS", "n"], ":0\r\n");
}

/// Redistill's payloads are its own: Redis's are refused at the trailer,
/// and a body that does not decode under a right checksum is bad data.
#[test]
fn foreign_and_malformed_payloads() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start();
    let mut c = s.raw();
    // Redis 7.0's DUMP of the string "hello" and of a one-field hash.
    let redis_string = b"\x00\x05hello\x0a\x00cr\xdfve4 \x0a";
    let redis_hash = b"\x10\x0c\x0c\x00\x00\x00\x02\x00\x81a\x02\x01\x01\xff\x0a\x00\x84\xa6\x93\xe8\xaa\x17\xe4\xdb";
    assert_eq!(restore(&mut c, "n", "0", redis_string, &[]), BAD_PAYLOAD);
    assert_eq!(restore(&mut c, "n", "0", redis_hash, &[]), BAD_PAYLOAD);
    for body in [
        &[9u8, 0][..],                                 // unknown type
        &[TYPE_STRING, 5, b'a'],                       // shorter than it says
        &[TYPE_STRING, 1, b'a', b'b'],                 // bytes left over
        &[TYPE_HASH, 0],                               // an empty hash
        &[TYPE_HASH, 200, 1, b'a', 0, 0],              // more fields than bytes
        &[TYPE_HASH, 2, 1, b'a', 0, 0, 1, b'a', 0, 0], // a field twice
    ] {
        assert_eq!(restore(&mut c, "n", "0", &seal(body.to_vec()), &[]), BAD_DATA, "{body:?}");
    }
    assert_eq!(restore(&mut c, "n", "0", &seal(vec![TYPE_STRING, 2, b'o', b'k']), &[]), OK);
    c.expect_cmd(&["GET", "n"], "$2\r\nok\r\n");
}

/// COMMAND INFO: RESTORE is a write refused when out of memory (denyoom),
/// DUMP a read, each with one key.
#[test]
fn restore_is_a_denyoom_write() {
    let s = TestServer::start();
    let mut c = s.raw();
    let info = c.call_resp(&["COMMAND", "INFO", "restore", "dump"]);
    let [restore_info, dump_info] = info.items() else { panic!("two entries") };
    let flags =
        |entry: &crate::common::Resp| -> Vec<String> { entry.items()[2].items().iter().map(|f| f.text()).collect() };
    let (restore_flags, dump_flags) = (flags(restore_info), flags(dump_info));
    assert!(restore_flags.contains(&"write".into()) && restore_flags.contains(&"denyoom".into()), "{restore_flags:?}");
    assert!(dump_flags.contains(&"readonly".into()), "{dump_flags:?}");
    assert_eq!(restore_info.items()[1].int(), -4);
    assert_eq!(restore_info.items()[3].int(), 1, "first key");
    assert_eq!(dump_info.items()[1].int(), 2);
}
