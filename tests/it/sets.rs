//! Set commands: SADD, SREM, SMOVE, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD,
//! SPOP, SRANDMEMBER, SINTER, SINTERCARD, SINTERSTORE, SUNION, SUNIONSTORE,
//! SDIFF, SDIFFSTORE, SSCAN: options, arity and error texts, WRONGTYPE both
//! ways, RESP3 reply types; the encodings (intset, listpack, hashtable) and
//! their CONFIG thresholds; TYPE, SCAN TYPE, RENAME, COPY, MOVE, EXPIRE,
//! MULTI/EXEC, WATCH and MEMORY USAGE with sets.
//!
//! Redis replies, byte-exact where the order is fixed. Member order is not
//! asserted where Redis does not fix it (a hashtable's order; Redis 7.0 keeps
//! small string sets in a hashtable where 7.2 uses a listpack): those replies
//! are checked for their framing and compared sorted. Everything holds against
//! redis-server 7.0 (differential mode) except the listpack encoding and its
//! settings, which are Redis 7.2's and skip themselves on an older reference.

use crate::common::*;
use std::collections::BTreeSet;
use std::io::Write;
use std::thread::sleep;
use std::time::Duration;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const NOT_POSITIVE: &str = "-ERR value is out of range, must be positive\r\n";
const COUNT_RANGE: &str =
    "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n";

/// The members of a RESP2 array (or RESP3 set) reply of bulks, sorted.
fn sorted_members(reply: &Resp) -> Vec<String> {
    let items = reply.items();
    assert!(items.iter().all(|i| matches!(i, Resp::Bulk(Some(_)))), "not all bulks: {reply:?}");
    let mut members: Vec<String> = items.iter().map(Resp::text).collect();
    members.sort();
    members
}

/// The reply of `args`, checked to be a RESP2 array of bulks, sorted.
fn members(c: &mut RawClient, args: &[&str]) -> Vec<String> {
    let reply = c.call_resp(args);
    assert!(matches!(reply, Resp::Array(Some(_))), "{args:?}: expected an array, got {reply:?}");
    sorted_members(&reply)
}

fn strings(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// Assert `key` holds exactly `expected` (SMEMBERS and SCARD agree).
fn assert_set(c: &mut RawClient, key: &str, expected: &[&str]) {
    assert_eq!(members(c, &["SMEMBERS", key]), strings(expected), "SMEMBERS {key}");
    c.expect_cmd(&["SCARD", key], int(expected.len() as i64));
}

/// SADD `key` with members `prefix0 .. prefix(n-1)` in one command.
fn sadd_many(c: &mut RawClient, key: &str, prefix: &str, n: usize) {
    let mut args = vec!["SADD".to_string(), key.to_string()];
    args.extend((0..n).map(|i| format!("{prefix}{i}")));
    c.expect_cmd(&args, int(n as i64));
}

fn encoding(c: &mut RawClient, key: &str) -> String {
    c.call_resp(&["OBJECT", "ENCODING", key]).text()
}

// ---------------------------------------------------------------------------
// SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD
// ---------------------------------------------------------------------------

#[test]
fn sadd_counts_new_members_and_smembers_lists_them() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SADD", "s", "a", "b", "a"], int(2));
    c.expect_cmd(&["SADD", "s", "b", "c"], int(1));
    c.expect_cmd(&["SADD", "s", "c"], int(0));
    assert_set(&mut c, "s", &["a", "b", "c"]);
    c.expect_cmd(&["SMEMBERS", "missing"], "*0\r\n");
    c.expect_cmd(&["SCARD", "missing"], int(0));
    // Binary-safe members, including the empty one.
    c.expect_cmd(&[&b"SADD"[..], b"bin", b"", b"\x00\xff\r\n"], int(2));
    c.expect_cmd(&["SCARD", "bin"], int(2));
    c.expect_cmd(&[&b"SISMEMBER"[..], b"bin", b"\x00\xff\r\n"], int(1));
    c.expect_cmd(&["SISMEMBER", "bin", ""], int(1));
}

#[test]
fn small_intsets_and_packed_sets_keep_redis_order() {
    let s = TestServer::start();
    let mut c = s.raw();
    // An intset is sorted, whatever the order of insertion.
    c.expect_cmd(&["SADD", "ints", "30", "-5", "7", "100000", "-9000000000"], int(5));
    c.expect_cmd(
        &["SMEMBERS", "ints"],
        "*5\r\n$11\r\n-9000000000\r\n$2\r\n-5\r\n$1\r\n7\r\n$2\r\n30\r\n$6\r\n100000\r\n",
    );
    if s.reference_older_than(7, 2) {
        return;
    }
    // A listpack keeps insertion order.
    c.expect_cmd(&["SADD", "strs", "c", "a", "b"], int(3));
    c.expect_cmd(&["SMEMBERS", "strs"], "*3\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n");
}

#[test]
fn srem_counts_and_the_last_member_deletes_the_key() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SADD", "s", "a", "b", "c", "1"], int(4));
    c.expect_cmd(&["SREM", "s", "a", "x", "a"], int(1));
    assert_set(&mut c, "s", &["b", "c", "1"]);
    c.expect_cmd(&["SREM", "missing", "a"], int(0));
    c.expect_cmd(&["SREM", "s", "b", "c", "1", "zzz"], int(3));
    c.expect_cmd(&["EXISTS", "s"], int(0));
    c.expect_cmd(&["TYPE", "s"], "+none\r\n");
    // Integers in canonical form only: "01" is not the member 1.
    c.expect_cmd(&["SADD", "i", "1", "2"], int(2));
    c.expect_cmd(&["SREM", "i", "01", "+2"], int(0));
    c.expect_cmd(&["SISMEMBER", "i", "01"], int(0));
    c.expect_cmd(&["SREM", "i", "1", "2"], int(2));
    c.expect_cmd(&["EXISTS", "i"], int(0));
}

#[test]
fn sismember_smismember_scard() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SADD", "s", "a", "1"], int(2));
    c.expect_cmd(&["SISMEMBER", "s", "a"], int(1));
    c.expect_cmd(&["SISMEMBER", "s", "1"], int(1));
    c.expect_cmd(&["SISMEMBER", "s", "b"], int(0));
    c.expect_cmd(&["SISMEMBER", "missing", "a"], int(0));
    c.expect_cmd(&["SMISMEMBER", "s", "a", "b", "1"], ints(&[1, 0, 1]));
    c.expect_cmd(&["SMISMEMBER", "missing", "a", "b"], ints(&[0, 0]));
    c.expect_cmd(&["SCARD", "s"], int(2));
}

#[test]
fn arity_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    let cases: &[(&[&str], &str)] = &[
        (&["SADD", "s"], "sadd"),
        (&["SREM", "s"], "srem"),
        (&["SMEMBERS"], "smembers"),
        (&["SMEMBERS", "a", "b"], "smembers"),
        (&["SISMEMBER", "s"], "sismember"),
        (&["SMISMEMBER", "s"], "smismember"),
        (&["SCARD"], "scard"),
        (&["SPOP"], "spop"),
        (&["SRANDMEMBER"], "srandmember"),
        (&["SMOVE", "a", "b"], "smove"),
        (&["SINTER"], "sinter"),
        (&["SINTERCARD", "1"], "sintercard"),
        (&["SINTERSTORE", "d"], "sinterstore"),
        (&["SUNION"], "sunion"),
        (&["SUNIONSTORE", "d"], "sunionstore"),
        (&["SDIFF"], "sdiff"),
        (&["SDIFFSTORE", "d"], "sdiffstore"),
        (&["SSCAN", "s"], "sscan"),
    ];
    for (args, name) in cases {
        c.expect_cmd(args, arity_err(name));
    }
}

#[test]
fn wrongtype_both_ways_with_strings_and_hashes() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "str", "x"], OK);
    c.expect_cmd(&["HSET", "h", "f", "v"], int(1));
    c.expect_cmd(&["SADD", "set", "a"], int(1));
    for key in ["str", "h"] {
        for args in [
            vec!["SADD", key, "a"],
            vec!["SREM", key, "a"],
            vec!["SMEMBERS", key],
            vec!["SISMEMBER", key, "a"],
            vec!["SMISMEMBER", key, "a"],
            vec!["SCARD", key],
            vec!["SPOP", key],
            vec!["SPOP", key, "2"],
            vec!["SRANDMEMBER", key],
            vec!["SRANDMEMBER", key, "-2"],
            vec!["SSCAN", key, "0"],
            vec!["SINTER", "set", key],
            vec!["SUNION", "set", key],
            vec!["SDIFF", "set", key],
            vec!["SINTERCARD", "2", "set", key],
        ] {
            c.expect_cmd(&args, WRONGTYPE);
        }
    }
    // The other way: string and hash commands on a set.
    c.expect_cmd(&["GET", "set"], WRONGTYPE);
    c.expect_cmd(&["APPEND", "set", "x"], WRONGTYPE);
    c.expect_cmd(&["INCR", "set"], WRONGTYPE);
    c.expect_cmd(&["HSET", "set", "f", "v"], WRONGTYPE);
    c.expect_cmd(&["HGET", "set", "f"], WRONGTYPE);
    // A missing key earlier among the sources does not hide a later wrong type.
    c.expect_cmd(&["SINTER", "missing", "str"], WRONGTYPE);
    c.expect_cmd(&["SINTERSTORE", "dest", "missing", "h"], WRONGTYPE);
    c.expect_cmd(&["SUNIONSTORE", "dest", "set", "str"], WRONGTYPE);
    c.expect_cmd(&["SDIFFSTORE", "dest", "set", "str"], WRONGTYPE);
    c.expect_cmd(&["EXISTS", "dest"], int(0));
    assert_set(&mut c, "set", &["a"]);
}

// ---------------------------------------------------------------------------
// SMOVE
// ---------------------------------------------------------------------------

#[test]
fn smove_moves_a_member() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SADD", "src", "a", "b", "1"], int(3));
    c.expect_cmd(&["SMOVE", "src", "dst", "a"], int(1));
    assert_set(&mut c, "src", &["b", "1"]);
    assert_set(&mut c, "dst", &["a"]);
    c.expect_cmd(&["SMOVE", "src", "dst", "nope"], int(0));
    c.expect_cmd(&["SMOVE", "missing", "dst", "a"], int(0));
    // Already in the destination: still moved out of the source.
    c.expect_cmd(&["SADD", "dst", "b"], int(1));
    c.expect_cmd(&["SMOVE", "src", "dst", "b"], int(1));
    assert_set(&mut c, "dst", &["a", "b"]);
    // Same key: 1 if a member, and nothing changes.
    c.expect_cmd(&["SMOVE", "src", "src", "1"], int(1));
    c.expect_cmd(&["SMOVE", "src", "src", "x"], int(0));
    assert_set(&mut c, "src", &["1"]);
    // Moving the last member deletes the source.
    c.expect_cmd(&["SMOVE", "src", "dst", "1"], int(1));
    c.expect_cmd(&["EXISTS", "src"], int(0));
    assert_set(&mut c, "dst", &["a", "b", "1"]);
}

#[test]
fn smove_wrongtype() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SADD", "set", "a"], int(1));
    c.expect_cmd(&["SET", "str", "x"], OK);
    c.expect_cmd(&["SMOVE", "str", "set", "a"], WRONGTYPE);
    // The destination's type is checked even when the member is absent.
    c.expect_cmd(&["SMOVE", "set", "str", "zzz"], WRONGTYPE);
    c.expect_cmd(&["SMOVE", "set", "str", "a"], WRONGTYPE);
    // A missing source answers 0 before any type check.
    c.expect_cmd(&["SMOVE", "missing", "str", "a"], int(0));
    assert_set(&mut c, "set", &["a"]);
    c.expect_cmd(&["GET", "str"], bulk("x"));
}

// ---------------------------------------------------------------------------
// SPOP and SRANDMEMBER
// ---------------------------------------------------------------------------

#[test]
fn spop_without_count() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SADD", "s", "a", "b", "c"], int(3));
    let mut popped = Vec::new();
    for left in [2, 1, 0] {
        popped.push(c.call_resp(&["SPOP", "s"]).text());
        c.expect_cmd(&["SCARD", "s"], int(left));
    }
    popped.sort();
    assert_eq!(popped, strings(&["a", "b", "c"]));
    c.expect_cmd(&["EXISTS", "s"], int(0));
    c.expect_cmd(&["SPOP", "s"], NIL);
    c.expect_cmd(&["SPOP", "s", "1", "2"], SYNTAX);
    let mut c3 = s.raw_resp3();
    c3.expect_cmd(&["SPOP", "s"], NULL3);
}

#[test]
fn spop_with_count() {
    let s = TestServer::start();
    let mut c = s.raw();
    for (key, prefix, n) in [("ints", "", 20), ("strs", "m", 20), ("big", "m", 1000)] {
        sadd_many(&mut c, key, prefix, n);
        let popped = members(&mut c, &["SPOP", key, "5"]);
        assert_eq!(popped.len(), 5, "{key}: {popped:?}");
        assert_eq!(popped.iter().collect::<BTreeSet<_>>().len(), 5, "{key}: distinct");
        for member in &popped {
            c.expect_cmd(&["SISMEMBER", key, member], int(0));
        }
        c.expect_cmd(&["SCARD", key], int(n as i64 - 5));
        // Most of what is left (Redis builds a new set from the rest).
        let popped = members(&mut c, &["SPOP", key, &(n - 7).to_string()]);
        assert_eq!(popped.iter().collect::<BTreeSet<_>>().len(), n - 7);
        c.expect_cmd(&["SCARD", key], int(2));
        // Everything left, and more: the key is deleted.
        assert_eq!(members(&mut c, &["SPOP", key, "10"]).len(), 2);
        c.expect_cmd(&["EXISTS", key], int(0));
    }
    c.expect_cmd(&["SADD", "s", "a"], int(1));
    c.expect_cmd(&["SPOP", "s", "0"], "*0\r\n");
    c.expect_cmd(&["SPOP", "missing", "3"], "*0\r\n");
    c.expect_cmd(&["SPOP", "s", "-1"], NOT_POSITIVE);
    c.expect_cmd(&["SPOP", "s", "x"], NOT_POSITIVE);
    c.expect_cmd(&["SCARD", "s"], int(1));
}

#[test]
fn spop_with_count_is_a_set_in_resp3() {
    let s = TestServer::start();
    let mut c = s.raw_resp3();
    c.expect_cmd(&["SADD", "s", "a", "b", "c"], int(3));
    let reply = c.call_resp(&["SPOP", "s", "2"]);
    assert!(matches!(reply, Resp::Set(ref v) if v.len() == 2), "SPOP with count in RESP3: {reply:?}");
    let reply = c.call_resp(&["SPOP", "s", "5"]);
    assert!(matches!(reply, Resp::Set(ref v) if v.len() == 1), "SPOP of the whole set in RESP3: {reply:?}");
    c.expect_cmd(&["SPOP", "s", "0"], "~0\r\n");
    c.expect_cmd(&["SPOP", "missing", "2"], "~0\r\n");
}

#[test]
fn srandmember_without_count() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SRANDMEMBER", "s"], NIL);
    c.expect_cmd(&["SADD", "s", "a", "b", "7"], int(3));
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        seen.insert(c.call_resp(&["SRANDMEMBER", "s"]).text());
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), strings(&["a", "b", "7"]));
    c.expect_cmd(&["SCARD", "s"], int(3));
    c.expect_cmd(&["SRANDMEMBER", "s", "1", "2"], SYNTAX);
    let mut c3 = s.raw_resp3();
    c3.expect_cmd(&["SRANDMEMBER", "missing"], NULL3);
}

#[test]
fn srandmember_with_count() {
    let s = TestServer::start();
    let mut c = s.raw();
    for (key, prefix, n) in [("ints", "", 50), ("strs", "m", 50), ("big", "m", 1000)] {
        sadd_many(&mut c, key, prefix, n);
        let all: BTreeSet<String> = members(&mut c, &["SMEMBERS", key]).into_iter().collect();
        for count in [1, 5, 20, 40] {
            let picked = members(&mut c, &["SRANDMEMBER", key, &count.to_string()]);
            assert_eq!(picked.len(), count, "{key} {count}");
            let distinct: BTreeSet<String> = picked.into_iter().collect();
            assert_eq!(distinct.len(), count, "{key} {count}: distinct");
            assert!(distinct.is_subset(&all));
        }
        // At least the whole set: the whole set.
        let whole: BTreeSet<String> =
            members(&mut c, &["SRANDMEMBER", key, &(n + 5).to_string()]).into_iter().collect();
        assert_eq!(whole, all);
        // Negative: exactly that many, repeats allowed.
        let picked = members(&mut c, &["SRANDMEMBER", key, &format!("-{}", n * 3)]);
        assert_eq!(picked.len(), n * 3);
        assert!(picked.iter().all(|m| all.contains(m)));
        c.expect_cmd(&["SCARD", key], int(n as i64));
    }
    c.expect_cmd(&["SRANDMEMBER", "strs", "0"], "*0\r\n");
    c.expect_cmd(&["SRANDMEMBER", "missing", "5"], "*0\r\n");
    c.expect_cmd(&["SRANDMEMBER", "missing", "-5"], "*0\r\n");
    c.expect_cmd(&["SRANDMEMBER", "strs", "x"], NOT_INT_ERR);
    c.expect_cmd(&["SRANDMEMBER", "strs", "9223372036854775808"], NOT_INT_ERR);
    c.expect_cmd(&["SRANDMEMBER", "strs", "-9223372036854775808"], COUNT_RANGE);
    // A one-member set answers a negative count with that member repeated.
    c.expect_cmd(&["SADD", "one", "x"], int(1));
    c.expect_cmd(&["SRANDMEMBER", "one", "-3"], "*3\r\n$1\r\nx\r\n$1\r\nx\r\n$1\r\nx\r\n");
}

#[test]
fn srandmember_with_count_is_an_array_in_resp3() {
    let s = TestServer::start();
    let mut c = s.raw_resp3();
    c.expect_cmd(&["SADD", "s", "a"], int(1));
    c.expect_cmd(&["SRANDMEMBER", "s", "1"], "*1\r\n$1\r\na\r\n");
    c.expect_cmd(&["SRANDMEMBER", "s", "-2"], "*2\r\n$1\r\na\r\n$1\r\na\r\n");
    c.expect_cmd(&["SRANDMEMBER", "s", "0"], "*0\r\n");
    c.expect_cmd(&["SRANDMEMBER", "missing", "2"], "*0\r\n");
}

/// SRANDMEMBER with a huge negative count: Redis tries to send 2^63
/// members; Redistill produces the reply as it goes and cuts the client off
/// once the reply passes its output buffer limit (Redistill only).
#[test]
fn srandmember_huge_negative_count_is_cut_off_at_the_output_limit() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start_with("[server]\nclient_output_buffer_limit = \"1mb\"\n");
    let mut c = s.raw();
    for (key, members) in [("ints", ["1", "2"]), ("strs", ["a", "b"])] {
        c.expect_cmd(&["SADD", key, members[0], members[1]], int(2));
        let mut stream = s.raw().stream().try_clone().expect("clone stream");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        stream.write_all(&encode(&["SRANDMEMBER", key, "-9223372036854775807"])).expect("send");
        let mut received = Vec::new();
        let read = std::io::Read::read_to_end(&mut stream, &mut received);
        assert!(read.is_ok(), "the server should close the connection, not stall: {read:?}");
        assert!(received.starts_with(b"*9223372036854775807\r\n$1\r\n"), "{}", show(&received[..40]));
        assert!(received.len() > 1 << 20, "cut after the limit, not before: {} bytes", received.len());
        assert!(received.len() < 16 << 20, "stops near the 1 MB limit: {} bytes", received.len());
        c.expect_cmd(&["SCARD", key], int(2));
    }
}

// ---------------------------------------------------------------------------
// SINTER, SUNION, SDIFF, SINTERCARD and the STORE forms
// ---------------------------------------------------------------------------

/// a = {1 2 3 x y}, b = {2 3 4 y z}, c = {3 y w}, big = {m0..m999, 3, y}.
fn algebra_fixture(c: &mut RawClient) {
    c.expect_cmd(&["SADD", "a", "1", "2", "3", "x", "y"], int(5));
    c.expect_cmd(&["SADD", "b", "2", "3", "4", "y", "z"], int(5));
    c.expect_cmd(&["SADD", "c", "3", "y", "w"], int(3));
    sadd_many(c, "big", "m", 1000);
    c.expect_cmd(&["SADD", "big", "3", "y"], int(2));
}

#[test]
fn sinter_sunion_sdiff() {
    let s = TestServer::start();
    let mut c = s.raw();
    algebra_fixture(&mut c);
    assert_eq!(members(&mut c, &["SINTER", "a", "b"]), strings(&["2", "3", "y"]));
    assert_eq!(members(&mut c, &["SINTER", "a", "b", "c"]), strings(&["3", "y"]));
    assert_eq!(members(&mut c, &["SINTER", "big", "a", "c"]), strings(&["3", "y"]));
    assert_eq!(members(&mut c, &["SINTER", "a"]), strings(&["1", "2", "3", "x", "y"]));
    assert_eq!(members(&mut c, &["SINTER", "a", "a"]), strings(&["1", "2", "3", "x", "y"]));
    assert_eq!(members(&mut c, &["SINTER", "a", "missing"]), Vec::<String>::new());
    assert_eq!(members(&mut c, &["SUNION", "a", "b"]), strings(&["1", "2", "3", "4", "x", "y", "z"]));
    assert_eq!(members(&mut c, &["SUNION", "missing", "c", "missing2"]), strings(&["3", "w", "y"]));
    assert_eq!(members(&mut c, &["SUNION", "big", "a"]).len(), 1000 + 5);
    assert_eq!(members(&mut c, &["SUNION", "missing"]), Vec::<String>::new());
    assert_eq!(members(&mut c, &["SDIFF", "a", "b"]), strings(&["1", "x"]));
    assert_eq!(members(&mut c, &["SDIFF", "a", "b", "c"]), strings(&["1", "x"]));
    assert_eq!(members(&mut c, &["SDIFF", "a", "missing"]), strings(&["1", "2", "3", "x", "y"]));
    assert_eq!(members(&mut c, &["SDIFF", "a", "a"]), Vec::<String>::new());
    assert_eq!(members(&mut c, &["SDIFF", "missing", "a"]), Vec::<String>::new());
    assert_eq!(members(&mut c, &["SDIFF", "big", "a"]).len(), 1000);
    assert_eq!(members(&mut c, &["SDIFF", "c", "big"]), strings(&["w"]));
    // Integer sets stay integer sets: the intersection of two intsets is sorted.
    c.expect_cmd(&["SADD", "i1", "5", "1", "3"], int(3));
    c.expect_cmd(&["SADD", "i2", "3", "5", "9"], int(3));
    c.expect_cmd(&["SINTER", "i1", "i2"], "*2\r\n$1\r\n3\r\n$1\r\n5\r\n");
    c.expect_cmd(&["SUNION", "i1", "i2"], "*4\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n5\r\n$1\r\n9\r\n");
    c.expect_cmd(&["SDIFF", "i1", "i2"], "*1\r\n$1\r\n1\r\n");
}

#[test]
fn set_algebra_replies_are_sets_in_resp3() {
    let s = TestServer::start();
    let mut c = s.raw_resp3();
    c.expect_cmd(&["SADD", "a", "1", "2"], int(2));
    c.expect_cmd(&["SADD", "b", "2", "3"], int(2));
    c.expect_cmd(&["SMEMBERS", "a"], "~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    c.expect_cmd(&["SINTER", "a", "b"], "~1\r\n$1\r\n2\r\n");
    c.expect_cmd(&["SUNION", "a", "b"], "~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
    c.expect_cmd(&["SDIFF", "a", "b"], "~1\r\n$1\r\n1\r\n");
    c.expect_cmd(&["SMEMBERS", "missing"], "~0\r\n");
    c.expect_cmd(&["SINTER", "a", "missing"], "~0\r\n");
    c.expect_cmd(&["SMISMEMBER", "a", "1", "3"], ints(&[1, 0]));
    c.expect_cmd(&["SCARD", "a"], int(2));
    c.expect_cmd(&["SSCAN", "a", "0"], "*2\r\n$1\r\n0\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
}

#[test]
fn sintercard_counts_with_a_limit() {
    let s = TestServer::start();
    let mut c = s.raw();
    algebra_fixture(&mut c);
    c.expect_cmd(&["SINTERCARD", "2", "a", "b"], int(3));
    c.expect_cmd(&["SINTERCARD", "3", "a", "b", "c"], int(2));
    c.expect_cmd(&["SINTERCARD", "1", "big"], int(1002));
    c.expect_cmd(&["SINTERCARD", "2", "a", "b", "LIMIT", "2"], int(2));
    c.expect_cmd(&["SINTERCARD", "2", "a", "b", "limit", "0"], int(3));
    c.expect_cmd(&["SINTERCARD", "2", "a", "b", "LIMIT", "100"], int(3));
    c.expect_cmd(&["SINTERCARD", "1", "big", "LIMIT", "10", "LIMIT", "5"], int(5));
    c.expect_cmd(&["SINTERCARD", "2", "a", "missing"], int(0));
    c.expect_cmd(&["SINTERCARD", "0", "a"], "-ERR numkeys should be greater than 0\r\n");
    c.expect_cmd(&["SINTERCARD", "-1", "a"], "-ERR numkeys should be greater than 0\r\n");
    c.expect_cmd(&["SINTERCARD", "x", "a"], "-ERR numkeys should be greater than 0\r\n");
    c.expect_cmd(&["SINTERCARD", "3", "a", "b"], "-ERR Number of keys can't be greater than number of args\r\n");
    c.expect_cmd(&["SINTERCARD", "1", "a", "LIMIT", "-1"], "-ERR LIMIT can't be negative\r\n");
    c.expect_cmd(&["SINTERCARD", "1", "a", "LIMIT", "x"], "-ERR LIMIT can't be negative\r\n");
    c.expect_cmd(&["SINTERCARD", "1", "a", "LIMIT"], SYNTAX);
    c.expect_cmd(&["SINTERCARD", "1", "a", "b"], SYNTAX);
    c.expect_cmd(&["SINTERCARD", "1", "a", "FOO", "1"], SYNTAX);
}

#[test]
fn store_forms_write_the_destination_and_reply_its_size() {
    let s = TestServer::start();
    let mut c = s.raw();
    algebra_fixture(&mut c);
    c.expect_cmd(&["SINTERSTORE", "d", "a", "b"], int(3));
    assert_set(&mut c, "d", &["2", "3", "y"]);
    c.expect_cmd(&["SUNIONSTORE", "d", "a", "c"], int(6));
    assert_set(&mut c, "d", &["1", "2", "3", "x", "y", "w"]);
    c.expect_cmd(&["SDIFFSTORE", "d", "a", "b"], int(2));
    assert_set(&mut c, "d", &["1", "x"]);
    c.expect_cmd(&["SUNIONSTORE", "d", "big"], int(1002));
    c.expect_cmd(&["SCARD", "d"], int(1002));
    // The destination may be a source.
    c.expect_cmd(&["SUNIONSTORE", "a", "a", "c"], int(6));
    assert_set(&mut c, "a", &["1", "2", "3", "x", "y", "w"]);
    c.expect_cmd(&["SDIFFSTORE", "a", "a", "c"], int(3));
    assert_set(&mut c, "a", &["1", "2", "x"]);
    // Any type at the destination is replaced, and its TTL goes with it.
    for (setup, key) in [(vec!["SET", "str", "v", "EX", "100"], "str"), (vec!["HSET", "h", "f", "v"], "h")] {
        c.call(&setup);
        c.expect_cmd(&["SINTERSTORE", key, "b", "c"], int(2));
        c.expect_cmd(&["TYPE", key], "+set\r\n");
        c.expect_cmd(&["TTL", key], int(-1));
        assert_set(&mut c, key, &["3", "y"]);
    }
    // An empty result deletes the destination, whatever it held.
    c.expect_cmd(&["SET", "str2", "v"], OK);
    c.expect_cmd(&["SINTERSTORE", "str2", "a", "missing"], int(0));
    c.expect_cmd(&["EXISTS", "str2"], int(0));
    c.expect_cmd(&["SADD", "d2", "q"], int(1));
    c.expect_cmd(&["SDIFFSTORE", "d2", "c", "c"], int(0));
    c.expect_cmd(&["EXISTS", "d2"], int(0));
    c.expect_cmd(&["SUNIONSTORE", "d2", "missing"], int(0));
    c.expect_cmd(&["EXISTS", "d2"], int(0));
    c.expect_cmd(&["SINTERSTORE", "d2", "b", "c", "big"], int(2));
    assert_set(&mut c, "d2", &["3", "y"]);
}

#[test]
fn stored_results_take_the_encoding_of_their_members() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SADD", "i1", "1", "2", "3"], int(3));
    c.expect_cmd(&["SADD", "i2", "2", "3", "4"], int(3));
    c.expect_cmd(&["SINTERSTORE", "d", "i1", "i2"], int(2));
    assert_eq!(encoding(&mut c, "d"), "intset");
    c.expect_cmd(&["SUNIONSTORE", "d", "i1", "i2"], int(4));
    assert_eq!(encoding(&mut c, "d"), "intset");
    sadd_many(&mut c, "many", "", 600);
    c.expect_cmd(&["SUNIONSTORE", "d", "many"], int(600));
    assert_eq!(encoding(&mut c, "d"), "hashtable");
    // Integers of a hashtable set come back as an intset when few enough.
    c.expect_cmd(&["SINTERSTORE", "d", "many", "i1"], int(3));
    assert_eq!(encoding(&mut c, "d"), "intset");
    c.expect_cmd(&["SADD", "s", "a", "b"], int(2));
    c.expect_cmd(&["SUNIONSTORE", "d", "s", "i1"], int(5));
    let expected = if s.reference_older_than(7, 2) { "hashtable" } else { "listpack" };
    assert_eq!(encoding(&mut c, "d"), expected);
}

// ---------------------------------------------------------------------------
// SSCAN
// ---------------------------------------------------------------------------

/// Full SSCAN iteration; every member seen (with duplicates).
fn sscan_all(c: &mut RawClient, key: &str, extra: &[&str]) -> Vec<String> {
    scan_all(c, &["SSCAN", key], extra).iter().map(Resp::text).collect()
}

#[test]
fn sscan_returns_every_member() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SADD", "small", "3", "1", "2"], int(3));
    c.expect_cmd(&["SSCAN", "small", "0"], "*2\r\n$1\r\n0\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
    sadd_many(&mut c, "big", "m", 1000);
    let seen: BTreeSet<String> = sscan_all(&mut c, "big", &["COUNT", "50"]).into_iter().collect();
    assert_eq!(seen.len(), 1000);
    let matched: BTreeSet<String> = sscan_all(&mut c, "big", &["MATCH", "m9?"]).into_iter().collect();
    assert_eq!(matched, (90..100).map(|i| format!("m{i}")).collect::<BTreeSet<_>>());
    let matched = sscan_all(&mut c, "small", &["MATCH", "[12]", "COUNT", "1"]);
    assert_eq!(matched, ["1", "2"]);
    c.expect_cmd(&["SSCAN", "missing", "0"], "*2\r\n$1\r\n0\r\n*0\r\n");
}

#[test]
fn sscan_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SADD", "s", "a"], int(1));
    c.expect_cmd(&["SSCAN", "s", "x"], "-ERR invalid cursor\r\n");
    c.expect_cmd(&["SSCAN", "s", "0", "COUNT", "0"], SYNTAX);
    c.expect_cmd(&["SSCAN", "s", "0", "COUNT", "x"], NOT_INT_ERR);
    c.expect_cmd(&["SSCAN", "s", "0", "MATCH"], SYNTAX);
    c.expect_cmd(&["SSCAN", "s", "0", "NOVALUES"], SYNTAX);
    c.expect_cmd(&["SSCAN", "s", "0", "TYPE", "set"], SYNTAX);
    // The key is looked at before the options, as Redis does.
    c.expect_cmd(&["SSCAN", "missing", "0", "COUNT", "0"], "*2\r\n$1\r\n0\r\n*0\r\n");
    c.expect_cmd(&["SET", "str", "x"], OK);
    c.expect_cmd(&["SSCAN", "str", "0", "COUNT", "0"], WRONGTYPE);
}

// ---------------------------------------------------------------------------
// Encodings and their settings
// ---------------------------------------------------------------------------

#[test]
fn intset_becomes_a_hashtable_past_set_max_intset_entries() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CONFIG", "GET", "set-max-intset-entries"], "*2\r\n$22\r\nset-max-intset-entries\r\n$3\r\n512\r\n");
    sadd_many(&mut c, "s", "", 512);
    assert_eq!(encoding(&mut c, "s"), "intset");
    c.expect_cmd(&["SADD", "s", "512"], int(1));
    assert_eq!(encoding(&mut c, "s"), "hashtable");
    // Never back.
    c.expect_cmd(&["SREM", "s", "512", "511", "510"], int(3));
    assert_eq!(encoding(&mut c, "s"), "hashtable");
    // Wide integers stay in an intset.
    c.expect_cmd(&["SADD", "w", "1", "-9223372036854775808", "9223372036854775807"], int(3));
    assert_eq!(encoding(&mut c, "w"), "intset");
    c.expect_cmd(&["SISMEMBER", "w", "9223372036854775807"], int(1));
    // A number out of the i64 range is a string.
    c.expect_cmd(&["SADD", "w", "9223372036854775808"], int(1));
    assert_ne!(encoding(&mut c, "w"), "intset");
    c.expect_cmd(&["CONFIG", "SET", "set-max-intset-entries", "4"], OK);
    c.expect_cmd(&["SADD", "t", "1", "2", "3", "4"], int(4));
    assert_eq!(encoding(&mut c, "t"), "intset");
    c.expect_cmd(&["SADD", "t", "5"], int(1));
    assert_eq!(encoding(&mut c, "t"), "hashtable");
    c.expect_cmd(&["CONFIG", "GET", "set-max-intset-entries"], "*2\r\n$22\r\nset-max-intset-entries\r\n$1\r\n4\r\n");
}

#[test]
fn listpack_encoding_and_its_thresholds() {
    let s = TestServer::start();
    let mut c = s.raw();
    if s.reference_older_than(7, 2) {
        return;
    }
    c.expect_cmd(&["CONFIG", "GET", "set-max-listpack-*"], {
        let mut reply = Vec::new();
        reply.extend_from_slice(b"*4\r\n");
        for item in ["set-max-listpack-entries", "128", "set-max-listpack-value", "64"] {
            reply.extend(bulk(item));
        }
        reply
    });
    // A string joins a small intset: a listpack.
    c.expect_cmd(&["SADD", "s", "1", "2"], int(2));
    assert_eq!(encoding(&mut c, "s"), "intset");
    c.expect_cmd(&["SADD", "s", "a"], int(1));
    assert_eq!(encoding(&mut c, "s"), "listpack");
    // Past 128 members: a hashtable.
    sadd_many(&mut c, "l", "m", 128);
    assert_eq!(encoding(&mut c, "l"), "listpack");
    c.expect_cmd(&["SADD", "l", "one more"], int(1));
    assert_eq!(encoding(&mut c, "l"), "hashtable");
    // A member longer than 64 bytes: a hashtable.
    c.expect_cmd(&["SADD", "v", "a"], int(1));
    c.expect_cmd(&["SADD", "v", &"x".repeat(64)], int(1));
    assert_eq!(encoding(&mut c, "v"), "listpack");
    c.expect_cmd(&["SADD", "v", &"x".repeat(65)], int(1));
    assert_eq!(encoding(&mut c, "v"), "hashtable");
    // SADD with more members than a listpack holds converts at once,
    // even when they are all there already.
    c.expect_cmd(&["SADD", "d", "a"], int(1));
    let mut args = vec!["SADD".to_string(), "d".to_string()];
    args.extend(vec!["a".to_string(); 200]);
    c.expect_cmd(&args, int(0));
    assert_eq!(encoding(&mut c, "d"), "hashtable");
    // A long first member makes a hashtable at once.
    c.expect_cmd(&["SADD", "long", &"y".repeat(65)], int(1));
    assert_eq!(encoding(&mut c, "long"), "hashtable");
    // The settings.
    c.expect_cmd(&["CONFIG", "SET", "set-max-listpack-entries", "2", "set-max-listpack-value", "3"], OK);
    c.expect_cmd(&["SADD", "e", "a", "b"], int(2));
    assert_eq!(encoding(&mut c, "e"), "listpack");
    c.expect_cmd(&["SADD", "e", "c"], int(1));
    assert_eq!(encoding(&mut c, "e"), "hashtable");
    c.expect_cmd(&["SADD", "f", "abcd"], int(1));
    assert_eq!(encoding(&mut c, "f"), "hashtable");
    c.expect_cmd(&["CONFIG", "GET", "set-max-listpack-value"], "*2\r\n$22\r\nset-max-listpack-value\r\n$1\r\n3\r\n");
    let refused = c.call(&["CONFIG", "SET", "set-max-listpack-entries", "-1"]);
    assert!(refused.starts_with("-ERR"), "a negative threshold is refused: {refused}");
}

// ---------------------------------------------------------------------------
// The keyspace and the set type
// ---------------------------------------------------------------------------

#[test]
fn type_and_scan_type_name_sets() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SADD", "s1", "a"], int(1));
    c.expect_cmd(&["SADD", "s2", "1"], int(1));
    c.expect_cmd(&["SET", "str", "x"], OK);
    c.expect_cmd(&["HSET", "h", "f", "v"], int(1));
    c.expect_cmd(&["TYPE", "s1"], "+set\r\n");
    let mut found = BTreeSet::new();
    let mut cursor = "0".to_string();
    loop {
        let reply = c.call_resp(&["SCAN", &cursor, "TYPE", "set", "COUNT", "100"]);
        cursor = reply.items()[0].text();
        found.extend(reply.items()[1].items().iter().map(Resp::text));
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(found.into_iter().collect::<Vec<_>>(), strings(&["s1", "s2"]));
}

#[test]
fn rename_copy_move_and_expire_a_set() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SADD", "s", "a", "b", "1"], int(3));
    c.expect_cmd(&["RENAME", "s", "t"], OK);
    c.expect_cmd(&["EXISTS", "s"], int(0));
    assert_set(&mut c, "t", &["a", "b", "1"]);
    c.expect_cmd(&["COPY", "t", "u"], int(1));
    c.expect_cmd(&["SADD", "u", "z"], int(1));
    assert_set(&mut c, "t", &["a", "b", "1"]);
    assert_set(&mut c, "u", &["a", "b", "1", "z"]);
    c.expect_cmd(&["MOVE", "u", "1"], int(1));
    c.expect_cmd(&["EXISTS", "u"], int(0));
    c.expect_cmd(&["SELECT", "1"], OK);
    assert_set(&mut c, "u", &["a", "b", "1", "z"]);
    c.expect_cmd(&["SELECT", "0"], OK);
    c.expect_cmd(&["PEXPIRE", "t", "1000"], int(1));
    let ttl = c.call_resp(&["PTTL", "t"]).int();
    assert!((1..=1000).contains(&ttl), "PTTL {ttl}");
    // SADD keeps the TTL.
    c.expect_cmd(&["SADD", "t", "c"], int(1));
    assert!(c.call_resp(&["PTTL", "t"]).int() > 0);
    sleep(Duration::from_millis(1100));
    c.expect_cmd(&["SCARD", "t"], int(0));
    c.expect_cmd(&["EXISTS", "t"], int(0));
}

#[test]
fn a_set_emptied_by_spop_or_smove_stops_existing() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SADD", "s", "a"], int(1));
    c.expect_cmd(&["SPOP", "s"], bulk("a"));
    c.expect_cmd(&["EXISTS", "s"], int(0));
    c.expect_cmd(&["SADD", "s", "a", "b"], int(2));
    assert_eq!(members(&mut c, &["SPOP", "s", "2"]), strings(&["a", "b"]));
    c.expect_cmd(&["EXISTS", "s"], int(0));
    c.expect_cmd(&["DBSIZE"], int(0));
}

#[test]
fn multi_exec_and_watch() {
    let s = TestServer::start();
    let mut a = s.raw();
    let mut b = s.raw();
    a.expect_cmd(&["MULTI"], OK);
    a.expect_cmd(&["SADD", "s", "a", "b"], "+QUEUED\r\n");
    a.expect_cmd(&["SREM", "s", "a"], "+QUEUED\r\n");
    a.expect_cmd(&["SCARD", "s"], "+QUEUED\r\n");
    a.expect_cmd(&["EXEC"], "*3\r\n:2\r\n:1\r\n:1\r\n");
    // SADD of a new member invalidates a WATCH.
    a.expect_cmd(&["WATCH", "s"], OK);
    b.expect_cmd(&["SADD", "s", "new"], int(1));
    a.expect_cmd(&["MULTI"], OK);
    a.expect_cmd(&["SADD", "s", "x"], "+QUEUED\r\n");
    a.expect_cmd(&["EXEC"], "*-1\r\n");
    // SADD of a member already there changes nothing, and does not.
    a.expect_cmd(&["WATCH", "s"], OK);
    b.expect_cmd(&["SADD", "s", "new"], int(0));
    a.expect_cmd(&["MULTI"], OK);
    a.expect_cmd(&["SADD", "s", "x"], "+QUEUED\r\n");
    a.expect_cmd(&["EXEC"], "*1\r\n:1\r\n");
    // Nor does SREM of an absent member; SMOVE into it does.
    a.expect_cmd(&["WATCH", "s"], OK);
    b.expect_cmd(&["SREM", "s", "absent"], int(0));
    b.expect_cmd(&["SADD", "other", "m"], int(1));
    b.expect_cmd(&["SMOVE", "other", "s", "m"], int(1));
    a.expect_cmd(&["MULTI"], OK);
    a.expect_cmd(&["SCARD", "s"], "+QUEUED\r\n");
    a.expect_cmd(&["EXEC"], "*-1\r\n");
}

#[test]
fn memory_usage_grows_with_members() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SADD", "s", "member:0"], int(1));
    let one = c.call_resp(&["MEMORY", "USAGE", "s"]).int();
    assert!(one > 0, "MEMORY USAGE of a 1-member set: {one}");
    sadd_many(&mut c, "s", "member:x", 100);
    let hundred = c.call_resp(&["MEMORY", "USAGE", "s", "SAMPLES", "0"]).int();
    assert!(hundred > one + 100 * 8, "1 member {one}, 101 members {hundred}");
    sadd_many(&mut c, "s", "member:y", 5000);
    let many = c.call_resp(&["MEMORY", "USAGE", "s", "SAMPLES", "0"]).int();
    assert!(many > hundred + 5000 * 16, "101 members {hundred}, 5101 members {many}");
    c.expect_cmd(&["SADD", "i", "-1"], int(1));
    let int_one = c.call_resp(&["MEMORY", "USAGE", "i"]).int();
    sadd_many(&mut c, "i", "", 500);
    let int_many = c.call_resp(&["MEMORY", "USAGE", "i"]).int();
    assert!(int_many > int_one + 500 * 2, "1 integer {int_one}, 501 integers {int_many}");
}

/// used_memory follows a set up and back down (Redistill's accounting:
/// Redis's allocator keeps some of it).
#[test]
fn used_memory_follows_a_large_set() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start();
    let mut c = s.raw();
    let used = |c: &mut RawClient| -> i64 {
        let info = c.info("memory");
        info_field(&info, "used_memory").and_then(|v| v.parse().ok()).expect("used_memory")
    };
    let before = used(&mut c);
    for batch in 0..20 {
        sadd_many(&mut c, "big", &format!("member:{batch:02}:"), 1000);
    }
    let full = used(&mut c);
    assert!(full > before + 20_000 * 32, "before {before}, with 20,000 members {full}");
    c.expect_cmd(&["DEL", "big"], int(1));
    // Freed in the background; used_memory is sampled.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut after = used(&mut c);
    while after >= before + (full - before) / 4 && std::time::Instant::now() < deadline {
        sleep(Duration::from_millis(50));
        after = used(&mut c);
    }
    assert!(after < before + (full - before) / 4, "memory comes back after DEL: {before} {full} {after}");
}
