//! List commands: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LLEN, LRANGE,
//! LINDEX, LSET, LINSERT, LREM, LTRIM, LPOS, LMOVE, RPOPLPUSH, LMPOP, their
//! options, arity and error texts, encodings (listpack / quicklist and
//! `list-max-listpack-size`), TYPE and SCAN TYPE, RENAME and COPY,
//! WRONGTYPE against strings and hashes, and MULTI/EXEC/WATCH. (The
//! blocking forms are in `blocking.rs`.)
//!
//! Replies byte-exact, as Redis 7.2 gives them; all of it holds against
//! redis-server 7.0 (differential mode).

use crate::common::*;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const NOT_POSITIVE: &str = "-ERR value is out of range, must be positive\r\n";
const EMPTY: &str = "*0\r\n";
const NULL_ARRAY: &str = "*-1\r\n";

/// `RPUSH key items...`, checked.
fn rpush(c: &mut RawClient, key: &str, items: &[&str]) {
    let mut args = vec!["RPUSH", key];
    args.extend_from_slice(items);
    c.expect_cmd(&args, int(items.len() as i64));
}

/// Assert the whole list.
fn assert_list(c: &mut RawClient, key: &str, items: &[&str]) {
    c.expect_cmd(&["LRANGE", key, "0", "-1"], bulks(items));
    c.expect_cmd(&["LLEN", key], int(items.len() as i64));
}

// ---------------------------------------------------------------------------
// Pushes and pops
// ---------------------------------------------------------------------------

#[test]
fn pushes_at_both_ends_return_the_length() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["RPUSH", "l", "b", "c"], int(2));
    c.expect_cmd(&["LPUSH", "l", "a", "z"], int(4));
    assert_list(&mut c, "l", &["z", "a", "b", "c"]);
    c.expect_cmd(&["LPUSHX", "l", "y"], int(5));
    c.expect_cmd(&["RPUSHX", "l", "d", "e"], int(7));
    assert_list(&mut c, "l", &["y", "z", "a", "b", "c", "d", "e"]);
    c.expect_cmd(&["LPUSHX", "missing", "a"], int(0));
    c.expect_cmd(&["RPUSHX", "missing", "a"], int(0));
    c.expect_cmd(&["EXISTS", "missing"], int(0));
    c.expect_cmd(&["RPUSH", "e", ""], int(1));
    c.expect_cmd(&["LINDEX", "e", "0"], bulk(""));
    for cmd in ["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"] {
        c.expect_cmd(&[cmd, "l"], arity_err(&cmd.to_lowercase()));
    }
}

#[test]
fn pops_with_and_without_count() {
    let s = TestServer::start();
    let mut c = s.raw();
    rpush(&mut c, "l", &["a", "b", "c", "d", "e"]);
    c.expect_cmd(&["LPOP", "l"], bulk("a"));
    c.expect_cmd(&["RPOP", "l"], bulk("e"));
    c.expect_cmd(&["LPOP", "l", "2"], bulks(&["b", "c"]));
    c.expect_cmd(&["LPOP", "l", "0"], EMPTY);
    c.expect_cmd(&["RPOP", "l", "10"], bulks(&["d"]));
    c.expect_cmd(&["EXISTS", "l"], int(0));
    c.expect_cmd(&["LPOP", "l"], NIL);
    c.expect_cmd(&["RPOP", "l"], NIL);
    c.expect_cmd(&["LPOP", "l", "1"], NULL_ARRAY);
    c.expect_cmd(&["RPOP", "l", "0"], NULL_ARRAY);
    rpush(&mut c, "l", &["a", "b", "c"]);
    c.expect_cmd(&["RPOP", "l", "2"], bulks(&["c", "b"]));
    c.expect_cmd(&["LPOP", "l", "-1"], NOT_POSITIVE);
    c.expect_cmd(&["RPOP", "l", "x"], NOT_POSITIVE);
    c.expect_cmd(&["LPOP", "l", "1", "2"], arity_err("lpop"));
    c.expect_cmd(&["RPOP", "l", "1", "2"], arity_err("rpop"));
    c.expect_cmd(&["LPOP"], arity_err("lpop"));
    assert_list(&mut c, "l", &["a"]);
}

#[test]
fn pops_answer_in_resp3() {
    let s = TestServer::start();
    let mut c = resp3(&s);
    c.expect_cmd(&["LPOP", "none"], NULL3);
    c.expect_cmd(&["LPOP", "none", "2"], NULL3);
    c.expect_cmd(&["LMPOP", "1", "none", "LEFT"], NULL3);
    c.expect_cmd(&["LPOS", "none", "x"], NULL3);
    c.expect_cmd(&["LINDEX", "none", "0"], NULL3);
    c.expect_cmd(&["RPUSH", "l", "a", "b"], int(2));
    c.expect_cmd(&["LMPOP", "1", "l", "RIGHT", "COUNT", "5"], b"*2\r\n$1\r\nl\r\n*2\r\n$1\r\nb\r\n$1\r\na\r\n");
}

// ---------------------------------------------------------------------------
// Readers
// ---------------------------------------------------------------------------

#[test]
fn lrange_clamps_its_range() {
    let s = TestServer::start();
    let mut c = s.raw();
    rpush(&mut c, "l", &["a", "b", "c", "d"]);
    c.expect_cmd(&["LRANGE", "l", "1", "2"], bulks(&["b", "c"]));
    c.expect_cmd(&["LRANGE", "l", "-2", "-1"], bulks(&["c", "d"]));
    c.expect_cmd(&["LRANGE", "l", "-100", "100"], bulks(&["a", "b", "c", "d"]));
    c.expect_cmd(&["LRANGE", "l", "3", "1"], EMPTY);
    c.expect_cmd(&["LRANGE", "l", "4", "10"], EMPTY);
    c.expect_cmd(&["LRANGE", "l", "0", "4611686018427387904"], bulks(&["a", "b", "c", "d"]));
    c.expect_cmd(&["LRANGE", "l", "-9223372036854775808", "9223372036854775807"], bulks(&["a", "b", "c", "d"]));
    c.expect_cmd(&["LRANGE", "missing", "0", "-1"], EMPTY);
    c.expect_cmd(&["LRANGE", "l", "a", "1"], NOT_INT_ERR);
    c.expect_cmd(&["LRANGE", "l", "0", "1.5"], NOT_INT_ERR);
    c.expect_cmd(&["LRANGE", "l", "0"], arity_err("lrange"));
}

#[test]
fn lindex_and_llen() {
    let s = TestServer::start();
    let mut c = s.raw();
    rpush(&mut c, "l", &["a", "b", "c"]);
    c.expect_cmd(&["LINDEX", "l", "0"], bulk("a"));
    c.expect_cmd(&["LINDEX", "l", "-1"], bulk("c"));
    c.expect_cmd(&["LINDEX", "l", "-3"], bulk("a"));
    c.expect_cmd(&["LINDEX", "l", "3"], NIL);
    c.expect_cmd(&["LINDEX", "l", "-4"], NIL);
    c.expect_cmd(&["LINDEX", "missing", "0"], NIL);
    c.expect_cmd(&["LINDEX", "l", "x"], NOT_INT_ERR);
    // The key first: no list answers null whatever the index.
    c.expect_cmd(&["LINDEX", "missing", "x"], NIL);
    c.expect_cmd(&["LLEN", "missing"], int(0));
    c.expect_cmd(&["LLEN", "l", "x"], arity_err("llen"));
    c.expect_cmd(&["LINDEX", "l"], arity_err("lindex"));
}

#[test]
fn lpos_rank_count_and_maxlen() {
    let s = TestServer::start();
    let mut c = s.raw();
    rpush(&mut c, "l", &["a", "b", "c", "1", "2", "3", "c", "c"]);
    c.expect_cmd(&["LPOS", "l", "c"], int(2));
    c.expect_cmd(&["LPOS", "l", "x"], NIL);
    c.expect_cmd(&["LPOS", "l", "c", "RANK", "2"], int(6));
    c.expect_cmd(&["LPOS", "l", "c", "RANK", "-1"], int(7));
    c.expect_cmd(&["LPOS", "l", "c", "RANK", "-3"], int(2));
    c.expect_cmd(&["LPOS", "l", "c", "RANK", "4"], NIL);
    c.expect_cmd(&["LPOS", "l", "c", "COUNT", "2"], ints(&[2, 6]));
    c.expect_cmd(&["LPOS", "l", "c", "COUNT", "0"], ints(&[2, 6, 7]));
    c.expect_cmd(&["LPOS", "l", "c", "COUNT", "0", "RANK", "-1"], ints(&[7, 6, 2]));
    c.expect_cmd(&["LPOS", "l", "c", "COUNT", "0", "RANK", "2"], ints(&[6, 7]));
    c.expect_cmd(&["LPOS", "l", "x", "COUNT", "0"], EMPTY);
    c.expect_cmd(&["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "7"], ints(&[2, 6]));
    c.expect_cmd(&["LPOS", "l", "c", "MAXLEN", "2"], NIL);
    c.expect_cmd(&["LPOS", "l", "c", "RANK", "-1", "MAXLEN", "1"], int(7));
    c.expect_cmd(&["LPOS", "l", "c", "rank", "1", "count", "1", "maxlen", "0"], ints(&[2]));
    c.expect_cmd(&["LPOS", "missing", "c"], NIL);
    c.expect_cmd(&["LPOS", "missing", "c", "COUNT", "1"], EMPTY);
    let rank_zero = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use \
                     negative to start from the end of the list";
    c.expect_cmd(&["LPOS", "l", "c", "RANK", "0"], err(rank_zero));
    c.expect_cmd(&["LPOS", "l", "c", "RANK", "x"], NOT_INT_ERR);
    // Redis 7.2 refuses a rank whose negation overflows.
    if !s.reference_older_than(7, 2) {
        c.expect_cmd(
            &["LPOS", "l", "c", "RANK", "-9223372036854775808"],
            err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
        );
    }
    c.expect_cmd(&["LPOS", "l", "c", "COUNT", "-1"], err("ERR COUNT can't be negative"));
    c.expect_cmd(&["LPOS", "l", "c", "COUNT", "x"], err("ERR COUNT can't be negative"));
    c.expect_cmd(&["LPOS", "l", "c", "MAXLEN", "-1"], err("ERR MAXLEN can't be negative"));
    c.expect_cmd(&["LPOS", "l", "c", "COUNT"], SYNTAX_ERR);
    c.expect_cmd(&["LPOS", "l", "c", "FOO", "1"], SYNTAX_ERR);
    // Options are checked before the key.
    c.expect_cmd(&["LPOS", "missing", "c", "RANK", "0"], err(rank_zero));
    c.expect_cmd(&["LPOS", "l"], arity_err("lpos"));
}

// ---------------------------------------------------------------------------
// Editors
// ---------------------------------------------------------------------------

#[test]
fn lset_replaces_by_index() {
    let s = TestServer::start();
    let mut c = s.raw();
    rpush(&mut c, "l", &["a", "b", "c"]);
    c.expect_cmd(&["LSET", "l", "1", "B"], OK);
    c.expect_cmd(&["LSET", "l", "-1", "a much longer value than before"], OK);
    assert_list(&mut c, "l", &["a", "B", "a much longer value than before"]);
    c.expect_cmd(&["LSET", "l", "3", "x"], err("ERR index out of range"));
    c.expect_cmd(&["LSET", "l", "-4", "x"], err("ERR index out of range"));
    c.expect_cmd(&["LSET", "missing", "0", "x"], err("ERR no such key"));
    c.expect_cmd(&["LSET", "l", "x", "x"], NOT_INT_ERR);
    c.expect_cmd(&["LSET", "missing", "x", "x"], err("ERR no such key"));
    c.expect_cmd(&["LSET", "l", "0"], arity_err("lset"));
}

#[test]
fn linsert_before_and_after_a_pivot() {
    let s = TestServer::start();
    let mut c = s.raw();
    rpush(&mut c, "l", &["a", "c", "c"]);
    c.expect_cmd(&["LINSERT", "l", "BEFORE", "c", "b"], int(4));
    c.expect_cmd(&["LINSERT", "l", "after", "c", "C"], int(5));
    c.expect_cmd(&["LINSERT", "l", "AFTER", "a", "A"], int(6));
    assert_list(&mut c, "l", &["a", "A", "b", "c", "C", "c"]);
    c.expect_cmd(&["LINSERT", "l", "BEFORE", "zz", "x"], int(-1));
    c.expect_cmd(&["LINSERT", "missing", "BEFORE", "a", "x"], int(0));
    c.expect_cmd(&["LINSERT", "l", "MIDDLE", "a", "x"], SYNTAX_ERR);
    c.expect_cmd(&["LINSERT", "missing", "MIDDLE", "a", "x"], SYNTAX_ERR);
    c.expect_cmd(&["LINSERT", "l", "BEFORE", "a"], arity_err("linsert"));
}

#[test]
fn lrem_from_the_head_the_tail_or_all() {
    let s = TestServer::start();
    let mut c = s.raw();
    rpush(&mut c, "l", &["x", "a", "x", "b", "x", "c", "x"]);
    c.expect_cmd(&["LREM", "l", "2", "x"], int(2));
    assert_list(&mut c, "l", &["a", "b", "x", "c", "x"]);
    c.expect_cmd(&["LREM", "l", "-1", "x"], int(1));
    assert_list(&mut c, "l", &["a", "b", "x", "c"]);
    c.expect_cmd(&["LREM", "l", "0", "x"], int(1));
    c.expect_cmd(&["LREM", "l", "0", "nothing"], int(0));
    assert_list(&mut c, "l", &["a", "b", "c"]);
    c.expect_cmd(&["LREM", "missing", "0", "x"], int(0));
    c.expect_cmd(&["LREM", "l", "x", "x"], NOT_INT_ERR);
    c.expect_cmd(&["LREM", "l", "0", "a"], int(1));
    c.expect_cmd(&["LREM", "l", "-9223372036854775808", "b"], int(1));
    c.expect_cmd(&["LREM", "l", "9223372036854775807", "c"], int(1));
    c.expect_cmd(&["EXISTS", "l"], int(0));
    c.expect_cmd(&["LREM", "l", "0"], arity_err("lrem"));
}

#[test]
fn ltrim_keeps_a_range() {
    let s = TestServer::start();
    let mut c = s.raw();
    rpush(&mut c, "l", &["a", "b", "c", "d", "e"]);
    c.expect_cmd(&["LTRIM", "l", "1", "-2"], OK);
    assert_list(&mut c, "l", &["b", "c", "d"]);
    c.expect_cmd(&["LTRIM", "l", "-100", "100"], OK);
    assert_list(&mut c, "l", &["b", "c", "d"]);
    c.expect_cmd(&["LTRIM", "l", "1", "1"], OK);
    assert_list(&mut c, "l", &["c"]);
    c.expect_cmd(&["LTRIM", "l", "2", "1"], OK);
    c.expect_cmd(&["EXISTS", "l"], int(0));
    c.expect_cmd(&["LTRIM", "missing", "0", "1"], OK);
    c.expect_cmd(&["LTRIM", "l", "a", "1"], NOT_INT_ERR);
    c.expect_cmd(&["LTRIM", "l", "0"], arity_err("ltrim"));
}

// ---------------------------------------------------------------------------
// Moves
// ---------------------------------------------------------------------------

#[test]
fn lmove_between_every_pair_of_ends() {
    let s = TestServer::start();
    let mut c = s.raw();
    rpush(&mut c, "src", &["a", "b", "c", "d"]);
    c.expect_cmd(&["LMOVE", "src", "dst", "LEFT", "RIGHT"], bulk("a"));
    c.expect_cmd(&["LMOVE", "src", "dst", "right", "left"], bulk("d"));
    c.expect_cmd(&["LMOVE", "src", "dst", "LEFT", "LEFT"], bulk("b"));
    c.expect_cmd(&["LMOVE", "src", "dst", "RIGHT", "RIGHT"], bulk("c"));
    assert_list(&mut c, "dst", &["b", "d", "a", "c"]);
    c.expect_cmd(&["EXISTS", "src"], int(0));
    c.expect_cmd(&["LMOVE", "src", "dst", "LEFT", "RIGHT"], NIL);
    // The same list: a rotation.
    c.expect_cmd(&["LMOVE", "dst", "dst", "LEFT", "RIGHT"], bulk("b"));
    assert_list(&mut c, "dst", &["d", "a", "c", "b"]);
    c.expect_cmd(&["RPOPLPUSH", "dst", "other"], bulk("b"));
    c.expect_cmd(&["RPOPLPUSH", "dst", "dst"], bulk("c"));
    assert_list(&mut c, "dst", &["c", "d", "a"]);
    c.expect_cmd(&["RPOPLPUSH", "missing", "dst"], NIL);
    c.expect_cmd(&["LMOVE", "dst", "x", "UP", "LEFT"], SYNTAX_ERR);
    c.expect_cmd(&["LMOVE", "dst", "x", "LEFT", "DOWN"], SYNTAX_ERR);
    c.expect_cmd(&["LMOVE", "dst", "x", "LEFT"], arity_err("lmove"));
    c.expect_cmd(&["RPOPLPUSH", "dst"], arity_err("rpoplpush"));
}

#[test]
fn lmove_checks_the_destination_type_before_moving() {
    let s = TestServer::start();
    let mut c = s.raw();
    rpush(&mut c, "src", &["a"]);
    c.expect_cmd(&["SET", "str", "v"], OK);
    c.expect_cmd(&["LMOVE", "src", "str", "LEFT", "LEFT"], WRONGTYPE);
    c.expect_cmd(&["RPOPLPUSH", "src", "str"], WRONGTYPE);
    c.expect_cmd(&["RPOPLPUSH", "str", "src"], WRONGTYPE);
    assert_list(&mut c, "src", &["a"]);
    // A missing source answers null before the destination is looked at.
    c.expect_cmd(&["LMOVE", "missing", "str", "LEFT", "LEFT"], NIL);
}

#[test]
fn lmpop_pops_from_the_first_non_empty_list() {
    let s = TestServer::start();
    let mut c = s.raw();
    rpush(&mut c, "b", &["1", "2", "3"]);
    c.expect_cmd(&["LMPOP", "2", "a", "b", "LEFT"], b"*2\r\n$1\r\nb\r\n*1\r\n$1\r\n1\r\n");
    c.expect_cmd(&["LMPOP", "2", "a", "b", "RIGHT", "COUNT", "10"], b"*2\r\n$1\r\nb\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n");
    c.expect_cmd(&["LMPOP", "2", "a", "b", "LEFT"], NULL_ARRAY);
    let numkeys = err("ERR numkeys should be greater than 0");
    c.expect_cmd(&["LMPOP", "0", "a", "LEFT"], numkeys.clone());
    c.expect_cmd(&["LMPOP", "-1", "a", "LEFT"], numkeys.clone());
    c.expect_cmd(&["LMPOP", "x", "a", "LEFT"], numkeys);
    c.expect_cmd(&["LMPOP", "3", "a", "LEFT"], SYNTAX_ERR);
    c.expect_cmd(&["LMPOP", "9223372036854775807", "a", "LEFT"], SYNTAX_ERR);
    c.expect_cmd(&["LMPOP", "1", "a", "MIDDLE"], SYNTAX_ERR);
    c.expect_cmd(&["LMPOP", "1", "a", "LEFT", "COUNT"], SYNTAX_ERR);
    c.expect_cmd(&["LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1"], SYNTAX_ERR);
    c.expect_cmd(&["LMPOP", "1", "a", "LEFT", "EXTRA"], SYNTAX_ERR);
    let count = err("ERR count should be greater than 0");
    c.expect_cmd(&["LMPOP", "1", "a", "LEFT", "COUNT", "0"], count.clone());
    c.expect_cmd(&["LMPOP", "1", "a", "LEFT", "COUNT", "x"], count);
    c.expect_cmd(&["LMPOP", "1", "a"], arity_err("lmpop"));
}

// ---------------------------------------------------------------------------
// Types, encodings, keyspace
// ---------------------------------------------------------------------------

#[test]
fn wrongtype_against_strings_and_hashes() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "str", "v"], OK);
    c.expect_cmd(&["HSET", "hash", "f", "v"], int(1));
    rpush(&mut c, "l", &["a"]);
    for key in ["str", "hash"] {
        for cmd in [
            vec!["LPUSH", key, "x"],
            vec!["RPUSH", key, "x"],
            vec!["LPUSHX", key, "x"],
            vec!["RPUSHX", key, "x"],
            vec!["LPOP", key],
            vec!["RPOP", key, "2"],
            vec!["LLEN", key],
            vec!["LRANGE", key, "0", "-1"],
            vec!["LINDEX", key, "0"],
            vec!["LSET", key, "0", "x"],
            vec!["LINSERT", key, "BEFORE", "a", "x"],
            vec!["LREM", key, "0", "x"],
            vec!["LTRIM", key, "0", "1"],
            vec!["LPOS", key, "x"],
            vec!["LMPOP", "2", "missing", key, "LEFT"],
        ] {
            c.expect_cmd(&cmd, WRONGTYPE);
        }
    }
    c.expect_cmd(&["GET", "l"], WRONGTYPE);
    c.expect_cmd(&["HGET", "l", "f"], WRONGTYPE);
    c.expect_cmd(&["GET", "str"], bulk("v"));
}

#[test]
fn type_scan_type_rename_and_copy() {
    let s = TestServer::start();
    let mut c = s.raw();
    rpush(&mut c, "l", &["a", "b"]);
    c.expect_cmd(&["SET", "s", "v"], OK);
    c.expect_cmd(&["TYPE", "l"], "+list\r\n");
    c.expect_cmd(&["SCAN", "0", "TYPE", "list", "COUNT", "100"], b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\nl\r\n");
    c.expect_cmd(&["RENAME", "l", "m"], OK);
    c.expect_cmd(&["COPY", "m", "n"], int(1));
    c.expect_cmd(&["RPUSH", "n", "c"], int(3));
    assert_list(&mut c, "m", &["a", "b"]);
    assert_list(&mut c, "n", &["a", "b", "c"]);
    c.expect_cmd(&["EXISTS", "l"], int(0));
    c.expect_cmd(&["EXPIRE", "n", "100"], int(1));
    c.expect_cmd(&["DEL", "n", "m"], int(2));
}

#[test]
fn encodings_follow_list_max_listpack_size() {
    let s = TestServer::start();
    // Redis 7.0 keeps every list as a quicklist.
    if s.reference_older_than(7, 2) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["CONFIG", "GET", "list-max-listpack-size"], bulks(&["list-max-listpack-size", "-2"]));
    rpush(&mut c, "small", &["a", "b"]);
    c.expect_cmd(&["OBJECT", "ENCODING", "small"], bulk("listpack"));
    // Over 8 KB: a quicklist.
    let big = "x".repeat(500);
    for i in 1..=20 {
        c.expect_cmd(&["RPUSH", "big", &big], int(i));
    }
    c.expect_cmd(&["OBJECT", "ENCODING", "big"], bulk("quicklist"));
    // Back to a listpack once it fits in half a node.
    c.expect_cmd(&["LTRIM", "big", "0", "1"], OK);
    c.expect_cmd(&["OBJECT", "ENCODING", "big"], bulk("listpack"));
    // A count limit, set through the old name.
    c.expect_cmd(&["CONFIG", "SET", "list-max-ziplist-size", "4"], OK);
    c.expect_cmd(&["CONFIG", "GET", "list-max-listpack-size"], bulks(&["list-max-listpack-size", "4"]));
    rpush(&mut c, "four", &["1", "2", "3", "4"]);
    c.expect_cmd(&["OBJECT", "ENCODING", "four"], bulk("listpack"));
    c.expect_cmd(&["RPUSH", "four", "5"], int(5));
    c.expect_cmd(&["OBJECT", "ENCODING", "four"], bulk("quicklist"));
    c.expect_cmd(&["RPOP", "four", "4"], bulks(&["5", "4", "3", "2"]));
    c.expect_cmd(&["OBJECT", "ENCODING", "four"], bulk("listpack"));
    c.expect_cmd(
        &["CONFIG", "SET", "list-max-listpack-size", "x"],
        err("ERR CONFIG SET failed (possibly related to argument 'list-max-listpack-size') - argument couldn't be \
             parsed into an integer"),
    );
    c.expect_cmd(&["CONFIG", "SET", "list-max-listpack-size", "-2"], OK);
}

#[test]
fn lset_converts_a_full_listpack_as_an_append_would() {
    let s = TestServer::start();
    // Redis 7.0 keeps every list as a quicklist.
    if s.reference_older_than(7, 2) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["CONFIG", "SET", "list-max-listpack-size", "3"], OK);
    // Redis 7.2+ checks the new element as if it were added: a listpack
    // at its limit becomes a quicklist though its length stays 3, even
    // when the index is out of range.
    for index in ["0", "5"] {
        c.call(&["DEL", "l"]);
        rpush(&mut c, "l", &["a", "b", "c"]);
        c.expect_cmd(&["OBJECT", "ENCODING", "l"], bulk("listpack"));
        let reply = if index == "0" { OK.to_string() } else { err("ERR index out of range") };
        c.expect_cmd(&["LSET", "l", index, "hello"], reply);
        c.expect_cmd(&["OBJECT", "ENCODING", "l"], bulk("quicklist"));
    }
    // Below the limit, it stays a listpack.
    rpush(&mut c, "two", &["a", "b"]);
    c.expect_cmd(&["LSET", "two", "0", "hello"], OK);
    c.expect_cmd(&["OBJECT", "ENCODING", "two"], bulk("listpack"));
    assert_list(&mut c, "two", &["hello", "b"]);
}

#[test]
fn list_compress_depth_is_accepted() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CONFIG", "GET", "list-compress-depth"], bulks(&["list-compress-depth", "0"]));
    c.expect_cmd(&["CONFIG", "SET", "list-compress-depth", "2"], OK);
    c.expect_cmd(&["CONFIG", "GET", "list-compress-depth"], bulks(&["list-compress-depth", "2"]));
    let range = "ERR CONFIG SET failed (possibly related to argument 'list-compress-depth') - argument must be \
                 between 0 and 2147483647 inclusive";
    c.expect_cmd(&["CONFIG", "SET", "list-compress-depth", "-1"], err(range));
    c.expect_cmd(&["CONFIG", "SET", "list-compress-depth", "2147483648"], err(range));
    c.expect_cmd(
        &["CONFIG", "SET", "list-compress-depth", "x"],
        err("ERR CONFIG SET failed (possibly related to argument 'list-compress-depth') - argument couldn't be \
             parsed into an integer"),
    );
    // Lists work the same whatever the depth.
    rpush(&mut c, "l", &["a", "b", "c", "d"]);
    assert_list(&mut c, "l", &["a", "b", "c", "d"]);
    c.expect_cmd(&["CONFIG", "SET", "list-compress-depth", "0"], OK);
}

#[test]
fn a_long_quicklist_reads_and_edits_anywhere() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CONFIG", "SET", "list-max-listpack-size", "16"], OK);
    let n = 2000;
    let items: Vec<String> = (0..n).map(|i| format!("item:{i}")).collect();
    let refs: Vec<&str> = items.iter().map(String::as_str).collect();
    rpush(&mut c, "l", &refs);
    c.expect_cmd(&["OBJECT", "ENCODING", "l"], bulk("quicklist"));
    for i in [0, 1, 15, 16, 17, 999, 1000, 1998, 1999] {
        c.expect_cmd(&["LINDEX", "l", &i.to_string()], bulk(&items[i]));
    }
    c.expect_cmd(&["LRANGE", "l", "990", "1010"], bulks(&refs[990..=1010]));
    c.expect_cmd(&["LRANGE", "l", "-5", "-1"], bulks(&refs[n - 5..]));
    c.expect_cmd(&["LSET", "l", "1000", "changed"], OK);
    c.expect_cmd(&["LINSERT", "l", "BEFORE", "item:500", "inserted"], int(n as i64 + 1));
    c.expect_cmd(&["LINDEX", "l", "500"], bulk("inserted"));
    c.expect_cmd(&["LINDEX", "l", "1001"], bulk("changed"));
    c.expect_cmd(&["LPOS", "l", "item:1999"], int(n as i64));
    c.expect_cmd(&["LREM", "l", "0", "inserted"], int(1));
    c.expect_cmd(&["LTRIM", "l", "100", "-101"], OK);
    c.expect_cmd(&["LLEN", "l"], int(n as i64 - 200));
    c.expect_cmd(&["LINDEX", "l", "0"], bulk("item:100"));
    c.expect_cmd(&["RPOP", "l"], bulk("item:1899"));
}

#[test]
fn transactions_and_watch() {
    let s = TestServer::start();
    let mut c = s.raw();
    let mut other = s.raw();
    c.expect_cmd(&["WATCH", "l"], OK);
    other.expect_cmd(&["RPUSH", "l", "x"], int(1));
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["LPUSH", "l", "y"], "+QUEUED\r\n");
    c.expect_cmd(&["EXEC"], NULL_ARRAY);
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["LPUSH", "l", "a"], "+QUEUED\r\n");
    c.expect_cmd(&["RPOP", "l"], "+QUEUED\r\n");
    c.expect_cmd(&["LRANGE", "l", "0", "-1"], "+QUEUED\r\n");
    c.expect_cmd(&["EXEC"], b"*3\r\n:2\r\n$1\r\nx\r\n*1\r\n$1\r\na\r\n");
    // WATCH sees a pop too.
    c.expect_cmd(&["WATCH", "l"], OK);
    other.expect_cmd(&["LPOP", "l"], bulk("a"));
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["LLEN", "l"], "+QUEUED\r\n");
    c.expect_cmd(&["EXEC"], NULL_ARRAY);
}
