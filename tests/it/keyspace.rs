//! SCAN, KEYS, RANDOMKEY, RENAME, RENAMENX, COPY, MOVE, SWAPDB and OBJECT
//! against the real server (and, in differential mode, against Redis).

use std::collections::BTreeSet;

use crate::common::{RawClient, Resp, TestServer};

const OK: &str = "+OK\r\n";
const NIL: &str = "$-1\r\n";

fn set_many(c: &mut RawClient, keys: &[String]) {
    for key in keys {
        c.expect_cmd(&["SET", key.as_str(), "v"], OK);
    }
}

/// Follow a SCAN to the end and return every key it produced.
fn scan_all(c: &mut RawClient, extra: &[&str]) -> BTreeSet<String> {
    let mut cursor = "0".to_string();
    let mut seen = BTreeSet::new();
    loop {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(extra);
        let reply = c.call_resp(&args);
        let items = reply.items();
        cursor = items[0].text();
        seen.extend(items[1].items().iter().map(Resp::text));
        if cursor == "0" {
            return seen;
        }
    }
}

fn sorted(reply: &Resp) -> BTreeSet<String> {
    reply.items().iter().map(Resp::text).collect()
}

#[test]
fn scan_returns_every_key_once_the_cursor_comes_back_to_zero() {
    let s = TestServer::start();
    let mut c = s.raw();
    let keys: Vec<String> = (0..500).map(|i| format!("user:{i}")).collect();
    set_many(&mut c, &keys);
    c.expect_cmd(&["SET", "other", "v"], OK);
    let mut expected: BTreeSet<String> = keys.iter().cloned().collect();
    assert_eq!(scan_all(&mut c, &["MATCH", "user:*"]), expected);
    expected.insert("other".into());
    assert_eq!(scan_all(&mut c, &["COUNT", "7"]), expected);
    assert_eq!(scan_all(&mut c, &["TYPE", "string"]), expected);
    assert!(scan_all(&mut c, &["TYPE", "hash"]).is_empty());
}

#[test]
fn scan_keeps_keys_present_throughout_while_others_come_and_go() {
    let s = TestServer::start();
    let mut c = s.raw();
    let stable: Vec<String> = (0..300).map(|i| format!("stable:{i}")).collect();
    set_many(&mut c, &stable);
    let mut writer = s.raw();
    let mut cursor = "0".to_string();
    let mut seen = BTreeSet::new();
    let mut round = 0;
    loop {
        let reply = c.call_resp(&["SCAN", cursor.as_str(), "COUNT", "20"]);
        cursor = reply.items()[0].text();
        seen.extend(reply.items()[1].items().iter().map(Resp::text));
        for i in 0..20 {
            writer.call(&["SET", &format!("churn:{round}:{i}"), "v"]);
            writer.call(&["DEL", &format!("churn:{}:{i}", round.max(1) - 1)]);
        }
        round += 1;
        if cursor == "0" {
            break;
        }
    }
    assert!(stable.iter().all(|k| seen.contains(k)), "a key present during the whole SCAN was missed");
}

#[test]
fn scan_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SCAN", "abc"], "-ERR invalid cursor\r\n");
    c.expect_cmd(&["SCAN", "0", "COUNT", "0"], "-ERR syntax error\r\n");
    c.expect_cmd(&["SCAN", "0", "COUNT", "x"], "-ERR value is not an integer or out of range\r\n");
    c.expect_cmd(&["SCAN", "0", "MATCH"], "-ERR syntax error\r\n");
    c.expect_cmd(&["SCAN", "0", "BOGUS", "1"], "-ERR syntax error\r\n");
    c.expect_cmd(&["SCAN"], "-ERR wrong number of arguments for 'scan' command\r\n");
}

#[test]
fn keys_matches_globs() {
    let s = TestServer::start();
    let mut c = s.raw();
    set_many(&mut c, &["hello", "hallo", "hxllo", "hllo", "heeeello", "a*b"].map(String::from));
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(sorted(&c.call_resp(&["KEYS", "h?llo"])), set(&["hello", "hallo", "hxllo"]));
    assert_eq!(sorted(&c.call_resp(&["KEYS", "h*llo"])), set(&["hello", "hallo", "hxllo", "hllo", "heeeello"]));
    assert_eq!(sorted(&c.call_resp(&["KEYS", "h[ae]llo"])), set(&["hello", "hallo"]));
    assert_eq!(sorted(&c.call_resp(&["KEYS", "h[^e]llo"])), set(&["hallo", "hxllo"]));
    assert_eq!(sorted(&c.call_resp(&["KEYS", "h[a-b]llo"])), set(&["hallo"]));
    assert_eq!(sorted(&c.call_resp(&["KEYS", "a\\*b"])), set(&["a*b"]));
    c.expect_cmd(&["KEYS", "nothing*"], "*0\r\n");
}

#[test]
fn randomkey() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["RANDOMKEY"], NIL);
    c.expect_cmd(&["SET", "only", "v"], OK);
    c.expect_cmd(&["RANDOMKEY"], "$4\r\nonly\r\n");
    set_many(&mut c, &(0..50).map(|i| format!("k{i}")).collect::<Vec<_>>());
    let picked: BTreeSet<String> = (0..40).map(|_| c.call_resp(&["RANDOMKEY"]).text()).collect();
    assert!(picked.len() > 1, "RANDOMKEY always returned the same key");
}

#[test]
fn rename_and_renamenx() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["RENAME", "nokey", "x"], "-ERR no such key\r\n");
    c.expect_cmd(&["RENAMENX", "nokey", "x"], "-ERR no such key\r\n");
    c.expect_cmd(&["SET", "src", "v1", "EX", "100"], OK);
    c.expect_cmd(&["RENAME", "src", "dst"], OK);
    c.expect_cmd(&["GET", "src"], NIL);
    c.expect_cmd(&["GET", "dst"], "$2\r\nv1\r\n");
    let ttl = c.call_resp(&["TTL", "dst"]).int();
    assert!((99..=100).contains(&ttl), "RENAME keeps the TTL, got {ttl}");
    c.expect_cmd(&["RENAME", "dst", "dst"], OK);
    c.expect_cmd(&["SET", "other", "v2"], OK);
    c.expect_cmd(&["RENAMENX", "dst", "other"], ":0\r\n");
    c.expect_cmd(&["RENAMENX", "dst", "fresh"], ":1\r\n");
    c.expect_cmd(&["GET", "fresh"], "$2\r\nv1\r\n");
    c.expect_cmd(&["RENAMENX", "fresh", "fresh"], ":0\r\n");
    c.expect_cmd(&["RENAME", "fresh", "other"], OK);
    c.expect_cmd(&["GET", "other"], "$2\r\nv1\r\n");
}

#[test]
fn copy_between_keys_and_databases() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["COPY", "missing", "x"], ":0\r\n");
    c.expect_cmd(&["SET", "a", "1", "PX", "100000"], OK);
    c.expect_cmd(&["COPY", "a", "b"], ":1\r\n");
    c.expect_cmd(&["GET", "b"], "$1\r\n1\r\n");
    assert!(c.call_resp(&["PTTL", "b"]).int() > 90_000, "COPY keeps the TTL");
    c.expect_cmd(&["SET", "a", "2"], OK);
    c.expect_cmd(&["COPY", "a", "b"], ":0\r\n");
    c.expect_cmd(&["COPY", "a", "b", "REPLACE"], ":1\r\n");
    c.expect_cmd(&["GET", "b"], "$1\r\n2\r\n");
    c.expect_cmd(&["COPY", "a", "a"], "-ERR source and destination objects are the same\r\n");
    c.expect_cmd(&["COPY", "a", "a", "DB", "3"], ":1\r\n");
    c.expect_cmd(&["COPY", "a", "a", "DB", "99"], "-ERR DB index is out of range\r\n");
    c.expect_cmd(&["COPY", "a", "a", "DB", "x"], "-ERR value is not an integer or out of range\r\n");
    c.expect_cmd(&["COPY", "a", "a", "DB", "4294967296"], INT_RANGE);
    c.expect_cmd(&["COPY", "a", "b", "BOGUS"], "-ERR syntax error\r\n");
    c.expect_cmd(&["SELECT", "3"], OK);
    c.expect_cmd(&["GET", "a"], "$1\r\n2\r\n");
}

#[test]
fn move_and_swapdb() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "m", "v"], OK);
    c.expect_cmd(&["MOVE", "m", "0"], "-ERR source and destination objects are the same\r\n");
    c.expect_cmd(&["MOVE", "m", "16"], "-ERR DB index is out of range\r\n");
    c.expect_cmd(&["MOVE", "m", "2147483647"], "-ERR DB index is out of range\r\n");
    c.expect_cmd(&["MOVE", "m", "-2147483649"], INT_RANGE);
    c.expect_cmd(&["MOVE", "m", "x"], "-ERR value is not an integer or out of range\r\n");
    c.expect_cmd(&["MOVE", "nokey", "1"], ":0\r\n");
    c.expect_cmd(&["MOVE", "m", "1"], ":1\r\n");
    c.expect_cmd(&["EXISTS", "m"], ":0\r\n");
    c.expect_cmd(&["SET", "m", "again"], OK);
    c.expect_cmd(&["MOVE", "m", "1"], ":0\r\n");
    c.expect_cmd(&["SWAPDB", "0", "1"], OK);
    c.expect_cmd(&["GET", "m"], "$1\r\nv\r\n");
    c.expect_cmd(&["SELECT", "1"], OK);
    c.expect_cmd(&["GET", "m"], "$5\r\nagain\r\n");
    c.expect_cmd(&["SWAPDB", "x", "1"], "-ERR invalid first DB index\r\n");
    c.expect_cmd(&["SWAPDB", "0", "y"], "-ERR invalid second DB index\r\n");
    c.expect_cmd(&["SWAPDB", "0", "99"], "-ERR DB index is out of range\r\n");
    c.expect_cmd(&["SWAPDB", "4294967296", "0"], "-ERR invalid first DB index\r\n");
    c.expect_cmd(&["SWAPDB", "0", "4294967296"], "-ERR invalid second DB index\r\n");
}

/// Redis's reply to a database number outside a C int.
const INT_RANGE: &str = "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n";

#[test]
fn object_subcommands() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "n", "12345"], OK);
    c.expect_cmd(&["SET", "short", "hello"], OK);
    c.expect_cmd(&["SET", "long", &"x".repeat(100)], OK);
    c.expect_cmd(&["OBJECT", "ENCODING", "n"], "$3\r\nint\r\n");
    c.expect_cmd(&["OBJECT", "ENCODING", "short"], "$6\r\nembstr\r\n");
    c.expect_cmd(&["OBJECT", "ENCODING", "long"], "$3\r\nraw\r\n");
    c.expect_cmd(&["OBJECT", "ENCODING", "missing"], NIL);
    c.expect_cmd(&["OBJECT", "REFCOUNT", "short"], ":1\r\n");
    c.expect_cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"], OK);
    c.expect_cmd(&["OBJECT", "IDLETIME", "short"], ":0\r\n");
    // Redis tracks the counter only under LFU; Redistill always does.
    let lfu_only = "-ERR An LFU maxmemory policy is not selected, access frequency not tracked.";
    let freq = c.call(&["OBJECT", "FREQ", "short"]);
    assert!(if s.is_redis() { freq.starts_with(lfu_only) } else { freq == ":5\r\n" }, "{freq}");
    c.expect_cmd(&["OBJECT", "BOGUS", "x"], "-ERR unknown subcommand 'BOGUS'. Try OBJECT HELP.\r\n");
    c.expect_cmd(&["OBJECT", "ENCODING"], "-ERR wrong number of arguments for 'object|encoding' command\r\n");
    c.expect_cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"], OK);
    let freq = c.call_resp(&["OBJECT", "FREQ", "short"]).int();
    assert!((0..=255).contains(&freq));
    let lru_only = "-ERR An LFU maxmemory policy is selected, idle time not tracked.";
    let idle = c.call(&["OBJECT", "IDLETIME", "short"]);
    assert!(if s.is_redis() { idle.starts_with(lru_only) } else { idle == ":0\r\n" }, "{idle}");
    let help = c.call_resp(&["OBJECT", "HELP"]);
    assert!(help.items().len() > 4);
}

/// OBJECT IDLETIME counts whole seconds since the last read or write, and
/// does not itself count as an access.
#[test]
fn object_idletime_counts_seconds_since_the_last_access() {
    let s = TestServer::start();
    let mut c = s.raw();
    // Redis answers IDLETIME only outside LFU.
    c.expect_cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"], OK);
    c.expect_cmd(&["SET", "k", "v"], OK);
    c.expect_cmd(&["HSET", "h", "f", "v"], ":1\r\n");
    c.expect_cmd(&["OBJECT", "IDLETIME", "missing"], NIL);
    std::thread::sleep(std::time::Duration::from_millis(2200));
    for key in ["k", "h"] {
        let idle = c.call_resp(&["OBJECT", "IDLETIME", key]).int();
        assert!((2..=4).contains(&idle), "{key} idle {idle}s after 2.2s");
        assert_eq!(c.call_resp(&["OBJECT", "IDLETIME", key]).int(), idle, "OBJECT touched {key}");
    }
    c.expect_cmd(&["GET", "k"], "$1\r\nv\r\n");
    c.expect_cmd(&["OBJECT", "IDLETIME", "k"], ":0\r\n");
    c.expect_cmd(&["HSET", "h", "f", "w"], ":0\r\n");
    c.expect_cmd(&["OBJECT", "IDLETIME", "h"], ":0\r\n");
    c.expect_cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"], OK);
    c.expect_cmd(&["OBJECT", "IDLETIME", "k"], ":0\r\n");
}

/// OBJECT FREQ is Redis's logarithmic LFU counter: 5 for a new key, one
/// more for the first read, then ever rarer steps.
#[test]
fn object_freq_is_a_logarithmic_access_counter() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"], OK);
    c.expect_cmd(&["SET", "k", "v"], OK);
    c.expect_cmd(&["OBJECT", "FREQ", "missing"], NIL);
    // Redis decays by whole clock minutes, so a minute boundary between
    // SET and FREQ may already take one away there.
    let fresh = c.call_resp(&["OBJECT", "FREQ", "k"]).int();
    assert!((4..=5).contains(&fresh), "new key counter {fresh}");
    c.expect_cmd(&["GET", "k"], "$1\r\nv\r\n");
    assert_eq!(c.call_resp(&["OBJECT", "FREQ", "k"]).int(), fresh + 1, "the first read always counts");
    for _ in 0..200 {
        c.expect_cmd(&["GET", "k"], "$1\r\nv\r\n");
    }
    let hot = c.call_resp(&["OBJECT", "FREQ", "k"]).int();
    assert!((8..=14).contains(&hot), "counter {hot} after 201 reads");
    assert_eq!(c.call_resp(&["OBJECT", "FREQ", "k"]).int(), hot, "OBJECT FREQ counted as an access");
}

/// Redistill keeps idle time and the counter under every policy (its
/// default, allkeys-lfu, is not Redis's noeviction, and clients call
/// IDLETIME on a default server); Redis refuses the one it does not keep.
#[test]
fn object_idletime_and_freq_answer_under_every_policy() {
    if crate::common::redistill_only() {
        return;
    }
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    for policy in ["allkeys-lfu", "allkeys-lru", "noeviction", "volatile-ttl", "allkeys-random", "volatile-lfu"] {
        c.expect_cmd(&["CONFIG", "SET", "maxmemory-policy", policy], OK);
        c.expect_cmd(&["OBJECT", "IDLETIME", "k"], ":0\r\n");
        c.expect_cmd(&["OBJECT", "FREQ", "k"], ":5\r\n");
    }
}
