//! Sorted set commands: ZADD (NX, XX, GT, LT, CH, INCR) and ZINCRBY, ZREM,
//! ZSCORE, ZMSCORE, ZCARD, ZCOUNT, ZLEXCOUNT, the ZRANGE family (BYSCORE,
//! BYLEX, REV, LIMIT, WITHSCORES; ZRANGESTORE, ZREVRANGE, ZRANGEBYSCORE,
//! ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX), ZRANK and ZREVRANK,
//! ZREMRANGEBY*, ZPOPMIN, ZPOPMAX, ZMPOP, ZRANDMEMBER, ZUNION, ZINTER,
//! ZDIFF and their STORE forms, ZINTERCARD, ZSCAN; their errors (exact
//! texts), RESP2 and RESP3 reply shapes, encodings and their thresholds,
//! the type's place in the keyspace (TYPE, SCAN TYPE, RENAME, COPY,
//! WRONGTYPE), MULTI/EXEC, and ranges far larger than the set.
//!
//! Redis replies, byte-exact: everything holds against redis-server 7.0
//! (differential mode) except what needs 7.2 (ZRANK WITHSCORE, the
//! shortest-digits score format, the encoding chosen from ZADD's pair
//! count), which skips itself on an older reference. Scores are chosen so
//! that 7.0's `%.17g` and 7.2's shortest digits agree, unless the test is
//! about the difference.

use crate::common::*;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";
const MIN_MAX_FLOAT: &str = "-ERR min or max is not a float\r\n";
const MIN_MAX_LEX: &str = "-ERR min or max not valid string range item\r\n";
const NOT_POSITIVE: &str = "-ERR value is out of range, must be positive\r\n";
const LIMIT_BY: &str = "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n";
const WITHSCORES_BYLEX: &str = "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n";
const EMPTY: &str = "*0\r\n";
const NULL_ARRAY: &str = "*-1\r\n";

/// A sorted set `z` with a 1, b 2, c 3, d 4, e 5.
fn abcde(c: &mut RawClient) {
    c.expect_cmd(&["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"], int(5));
}

/// A sorted set `l` of members a..g, all with score 0 (for lex ranges).
fn letters(c: &mut RawClient) {
    c.expect_cmd(&["ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "f", "0", "g"], int(7));
}

/// ZADD `key` with `n` members m0..m(n-1) scored 0..n-1, in one command.
fn zadd_many(c: &mut RawClient, key: &str, n: usize, pad: usize) {
    let mut args = vec!["ZADD".to_string(), key.to_string()];
    for i in 0..n {
        args.push(i.to_string());
        args.push(format!("m{i:0pad$}"));
    }
    c.expect_cmd(&args, int(n as i64));
}

fn encoding(c: &mut RawClient, key: &str) -> String {
    c.call_resp(&["OBJECT", "ENCODING", key]).text()
}

// ---------------------------------------------------------------------------
// ZADD and ZINCRBY
// ---------------------------------------------------------------------------

#[test]
fn zadd_adds_and_updates_members() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["ZADD", "z", "1", "a"], int(1));
    // Only new members count; an update is silent without CH.
    c.expect_cmd(&["ZADD", "z", "2", "a", "3", "b", "-1.5", "c"], int(2));
    c.expect_cmd(&["ZSCORE", "z", "a"], bulk("2"));
    c.expect_cmd(&["ZSCORE", "z", "c"], bulk("-1.5"));
    c.expect_cmd(&["ZRANGE", "z", "0", "-1"], bulks(&["c", "a", "b"]));
    c.expect_cmd(&["ZADD", "z", "CH", "2", "a", "4", "b", "0", "d"], int(2));
    c.expect_cmd(&["ZCARD", "z"], int(4));
    c.expect_cmd(&["TYPE", "z"], "+zset\r\n");
    // The same member twice in one call: the last score wins.
    c.expect_cmd(&["ZADD", "y", "1", "m", "5", "m"], int(1));
    c.expect_cmd(&["ZSCORE", "y", "m"], bulk("5"));
}

#[test]
fn zadd_orders_equal_scores_by_member_bytes() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["ZADD", "z", "1", "b", "1", "a", "1", "ab", "0", "z", "1", "B", "-inf", "lo", "+inf", "hi"], int(7));
    c.expect_cmd(&["ZRANGE", "z", "0", "-1"], bulks(&["lo", "z", "B", "a", "ab", "b", "hi"]));
    c.expect_cmd(&["ZSCORE", "z", "lo"], bulk("-inf"));
    c.expect_cmd(&["ZSCORE", "z", "hi"], bulk("inf"));
}

#[test]
fn zadd_nx_xx_gt_lt() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["ZADD", "z", "5", "a"], int(1));
    c.expect_cmd(&["ZADD", "z", "NX", "9", "a", "1", "b"], int(1));
    c.expect_cmd(&["ZSCORE", "z", "a"], bulk("5"));
    c.expect_cmd(&["ZADD", "z", "XX", "CH", "6", "a", "1", "new"], int(1));
    c.expect_cmd(&["ZSCORE", "z", "new"], NIL);
    c.expect_cmd(&["ZSCORE", "z", "a"], bulk("6"));
    c.expect_cmd(&["ZADD", "z", "GT", "CH", "4", "a", "2", "b", "1", "c"], int(3 - 1));
    c.expect_cmd(&["ZSCORE", "z", "a"], bulk("6"));
    c.expect_cmd(&["ZSCORE", "z", "b"], bulk("2"));
    c.expect_cmd(&["ZADD", "z", "LT", "CH", "7", "a", "1", "b"], int(1));
    c.expect_cmd(&["ZSCORE", "z", "a"], bulk("6"));
    c.expect_cmd(&["ZSCORE", "z", "b"], bulk("1"));
    // XX with GT: only existing members, only upwards.
    c.expect_cmd(&["ZADD", "z", "XX", "GT", "CH", "10", "a", "10", "zz"], int(1));
    c.expect_cmd(&["ZSCORE", "z", "zz"], NIL);
    // XX on a missing key creates nothing.
    c.expect_cmd(&["ZADD", "nokey", "XX", "1", "a"], int(0));
    c.expect_cmd(&["EXISTS", "nokey"], int(0));
    // Options are case-insensitive and may repeat.
    c.expect_cmd(&["ZADD", "z", "ch", "Ch", "nx", "1", "q"], int(1));
}

#[test]
fn zadd_incr_and_zincrby() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["ZINCRBY", "z", "2.5", "a"], bulk("2.5"));
    c.expect_cmd(&["ZINCRBY", "z", "-1", "a"], bulk("1.5"));
    c.expect_cmd(&["ZADD", "z", "INCR", "2", "a"], bulk("3.5"));
    c.expect_cmd(&["ZADD", "z", "INCR", "XX", "2", "missing"], NIL);
    c.expect_cmd(&["ZADD", "z", "INCR", "NX", "2", "a"], NIL);
    c.expect_cmd(&["ZADD", "z", "INCR", "GT", "-1", "a"], NIL);
    c.expect_cmd(&["ZADD", "z", "INCR", "LT", "-1", "a"], bulk("2.5"));
    c.expect_cmd(&["ZADD", "nokey", "INCR", "XX", "1", "a"], NIL);
    c.expect_cmd(&["ZINCRBY", "z", "+inf", "a"], bulk("inf"));
    c.expect_cmd(&["ZINCRBY", "z", "-inf", "a"], err("ERR resulting score is not a number (NaN)"));
    c.expect_cmd(&["ZADD", "z", "INCR", "-inf", "a"], err("ERR resulting score is not a number (NaN)"));
    c.expect_cmd(&["ZSCORE", "z", "a"], bulk("inf"));
    c.expect_cmd(&["ZINCRBY", "z", "x", "a"], NOT_FLOAT);
    c.expect_cmd(&["ZINCRBY", "z", "nan", "a"], NOT_FLOAT);
    c.expect_cmd(&["ZINCRBY", "z", "1"], arity_err("zincrby"));
    let mut r3 = resp3(&s);
    r3.expect_cmd(&["ZINCRBY", "y", "1.5", "m"], ",1.5\r\n");
    r3.expect_cmd(&["ZADD", "y", "XX", "INCR", "1", "other"], NULL3);
}

#[test]
fn zadd_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["ZADD", "z", "1"], arity_err("zadd"));
    c.expect_cmd(&["ZADD", "z", "1", "a", "2"], SYNTAX_ERR);
    c.expect_cmd(&["ZADD", "z", "NX", "1"], SYNTAX_ERR);
    c.expect_cmd(
        &["ZADD", "z", "NX", "XX", "1", "a"],
        err("ERR XX and NX options at the same time are not compatible"),
    );
    let gt_lt_nx = err("ERR GT, LT, and/or NX options at the same time are not compatible");
    c.expect_cmd(&["ZADD", "z", "GT", "LT", "1", "a"], &gt_lt_nx);
    c.expect_cmd(&["ZADD", "z", "GT", "NX", "1", "a"], &gt_lt_nx);
    c.expect_cmd(&["ZADD", "z", "LT", "NX", "1", "a"], &gt_lt_nx);
    c.expect_cmd(
        &["ZADD", "z", "INCR", "1", "a", "2", "b"],
        err("ERR INCR option supports a single increment-element pair"),
    );
    for bad in ["x", "nan", "", " 1", "1e400", "1,5", "--1", "0x", "0x1p"] {
        c.expect_cmd(&["ZADD", "z", bad, "a"], NOT_FLOAT);
    }
    // One bad score anywhere: nothing is added.
    c.expect_cmd(&["ZADD", "z", "1", "a", "x", "b"], NOT_FLOAT);
    c.expect_cmd(&["EXISTS", "z"], int(0));
    for good in ["+1", "-.5", "1e3", "INF", "-Infinity", "1.", "0"] {
        c.expect_cmd(&["ZADD", "z", good, "a"], int(i64::from(good == "+1")));
    }
    // Hexadecimal floats, which C's strtod reads.
    c.expect_cmd(&["ZADD", "z", "0x1f", "a", "-0X1.8p1", "b"], int(1));
    c.expect_cmd(&["ZSCORE", "z", "a"], bulk("31"));
    c.expect_cmd(&["ZSCORE", "z", "b"], bulk("-3"));
}

// ---------------------------------------------------------------------------
// ZREM, ZCARD, ZSCORE, ZMSCORE, ZCOUNT, ZLEXCOUNT, ZRANK
// ---------------------------------------------------------------------------

#[test]
fn zrem_removes_members_and_the_emptied_key() {
    let s = TestServer::start();
    let mut c = s.raw();
    abcde(&mut c);
    c.expect_cmd(&["ZREM", "z", "a", "x", "b", "a"], int(2));
    c.expect_cmd(&["ZCARD", "z"], int(3));
    c.expect_cmd(&["ZREM", "missing", "a"], int(0));
    c.expect_cmd(&["ZCARD", "missing"], int(0));
    c.expect_cmd(&["ZREM", "z", "c", "d", "e"], int(3));
    c.expect_cmd(&["EXISTS", "z"], int(0));
    c.expect_cmd(&["ZREM", "z"], arity_err("zrem"));
    c.expect_cmd(&["ZCARD"], arity_err("zcard"));
}

#[test]
fn zscore_and_zmscore_in_resp2_and_resp3() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["ZADD", "z", "1.5", "a", "-2", "b"], int(2));
    c.expect_cmd(&["ZSCORE", "z", "a"], bulk("1.5"));
    c.expect_cmd(&["ZSCORE", "z", "x"], NIL);
    c.expect_cmd(&["ZSCORE", "missing", "x"], NIL);
    c.expect_cmd(&["ZMSCORE", "z", "a", "x", "b"], b"*3\r\n$3\r\n1.5\r\n$-1\r\n$2\r\n-2\r\n");
    c.expect_cmd(&["ZMSCORE", "missing", "a", "b"], "*2\r\n$-1\r\n$-1\r\n");
    c.expect_cmd(&["ZMSCORE", "z"], arity_err("zmscore"));
    let mut r3 = resp3(&s);
    r3.expect_cmd(&["ZSCORE", "z", "a"], ",1.5\r\n");
    r3.expect_cmd(&["ZSCORE", "z", "x"], NULL3);
    r3.expect_cmd(&["ZMSCORE", "z", "b", "x"], "*2\r\n,-2\r\n_\r\n");
}

#[test]
fn scores_are_formatted_with_the_shortest_round_trip_digits() {
    let s = TestServer::start();
    if s.reference_older_than(7, 2) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["ZADD", "z", "0.1", "a", "1e20", "b", "-0", "c", "123456.789", "d", "1e-7", "e"], int(5));
    c.expect_cmd(&["ZSCORE", "z", "a"], bulk("0.1"));
    c.expect_cmd(&["ZSCORE", "z", "b"], bulk("1e+20"));
    // A packed set keeps integers as integers: -0 is 0, as in a listpack.
    c.expect_cmd(&["ZSCORE", "z", "c"], bulk("0"));
    c.expect_cmd(&["ZSCORE", "z", "d"], bulk("123456.789"));
    c.expect_cmd(&["ZSCORE", "z", "e"], bulk("1e-7"));
    c.expect_cmd(&["ZINCRBY", "z", "0.2", "a"], bulk("0.30000000000000004"));
    let mut r3 = resp3(&s);
    r3.expect_cmd(&["ZSCORE", "z", "a"], ",0.30000000000000004\r\n");
}

#[test]
fn zcount_and_zlexcount() {
    let s = TestServer::start();
    let mut c = s.raw();
    abcde(&mut c);
    c.expect_cmd(&["ZCOUNT", "z", "2", "4"], int(3));
    c.expect_cmd(&["ZCOUNT", "z", "(2", "(4"], int(1));
    c.expect_cmd(&["ZCOUNT", "z", "-inf", "+inf"], int(5));
    c.expect_cmd(&["ZCOUNT", "z", "4", "2"], int(0));
    c.expect_cmd(&["ZCOUNT", "z", "(5", "5"], int(0));
    c.expect_cmd(&["ZCOUNT", "missing", "0", "1"], int(0));
    for (min, max) in [("x", "1"), ("1", "nan"), ("[1", "2"), ("((1", "2")] {
        c.expect_cmd(&["ZCOUNT", "z", min, max], MIN_MAX_FLOAT);
    }
    letters(&mut c);
    c.expect_cmd(&["ZLEXCOUNT", "l", "-", "+"], int(7));
    c.expect_cmd(&["ZLEXCOUNT", "l", "[b", "(e"], int(3));
    c.expect_cmd(&["ZLEXCOUNT", "l", "(b", "[e"], int(3));
    c.expect_cmd(&["ZLEXCOUNT", "l", "+", "-"], int(0));
    c.expect_cmd(&["ZLEXCOUNT", "l", "[e", "[b"], int(0));
    c.expect_cmd(&["ZLEXCOUNT", "missing", "-", "+"], int(0));
    for (min, max) in [("a", "+"), ("-", "z"), ("--", "+"), ("-", "++"), ("", "+")] {
        c.expect_cmd(&["ZLEXCOUNT", "l", min, max], MIN_MAX_LEX);
    }
    c.expect_cmd(&["ZCOUNT", "z", "1"], arity_err("zcount"));
}

#[test]
fn zrank_and_zrevrank() {
    let s = TestServer::start();
    let mut c = s.raw();
    abcde(&mut c);
    c.expect_cmd(&["ZRANK", "z", "a"], int(0));
    c.expect_cmd(&["ZRANK", "z", "d"], int(3));
    c.expect_cmd(&["ZREVRANK", "z", "d"], int(1));
    c.expect_cmd(&["ZRANK", "z", "x"], NIL);
    c.expect_cmd(&["ZREVRANK", "missing", "x"], NIL);
    c.expect_cmd(&["ZRANK", "z"], arity_err("zrank"));
}

#[test]
fn zrank_withscore() {
    let s = TestServer::start();
    if s.reference_older_than(7, 2) {
        return;
    }
    let mut c = s.raw();
    abcde(&mut c);
    c.expect_cmd(&["ZRANK", "z", "c", "WITHSCORE"], b"*2\r\n:2\r\n$1\r\n3\r\n");
    c.expect_cmd(&["ZREVRANK", "z", "c", "withscore"], b"*2\r\n:2\r\n$1\r\n3\r\n");
    c.expect_cmd(&["ZRANK", "z", "x", "WITHSCORE"], NULL_ARRAY);
    c.expect_cmd(&["ZRANK", "missing", "x", "WITHSCORE"], NULL_ARRAY);
    c.expect_cmd(&["ZRANK", "z", "c", "WITHSCORES"], SYNTAX_ERR);
    c.expect_cmd(&["ZRANK", "z", "c", "WITHSCORE", "x"], arity_err("zrank"));
    let mut r3 = resp3(&s);
    r3.expect_cmd(&["ZRANK", "z", "c", "WITHSCORE"], "*2\r\n:2\r\n,3\r\n");
    r3.expect_cmd(&["ZRANK", "z", "x", "WITHSCORE"], NULL3);
    r3.expect_cmd(&["ZRANK", "z", "x"], NULL3);
}

// ---------------------------------------------------------------------------
// The ZRANGE family
// ---------------------------------------------------------------------------

#[test]
fn zrange_by_rank() {
    let s = TestServer::start();
    let mut c = s.raw();
    abcde(&mut c);
    c.expect_cmd(&["ZRANGE", "z", "0", "-1"], bulks(&["a", "b", "c", "d", "e"]));
    c.expect_cmd(&["ZRANGE", "z", "1", "2"], bulks(&["b", "c"]));
    c.expect_cmd(&["ZRANGE", "z", "-2", "-1"], bulks(&["d", "e"]));
    c.expect_cmd(&["ZRANGE", "z", "-100", "100"], bulks(&["a", "b", "c", "d", "e"]));
    c.expect_cmd(&["ZRANGE", "z", "3", "1"], EMPTY);
    c.expect_cmd(&["ZRANGE", "z", "5", "10"], EMPTY);
    c.expect_cmd(&["ZRANGE", "z", "0", "-6"], EMPTY);
    c.expect_cmd(&["ZRANGE", "z", "0", "1", "REV"], bulks(&["e", "d"]));
    c.expect_cmd(&["ZREVRANGE", "z", "0", "1"], bulks(&["e", "d"]));
    c.expect_cmd(&["ZREVRANGE", "z", "-1", "-1"], bulks(&["a"]));
    c.expect_cmd(&["ZRANGE", "z", "0", "1", "WITHSCORES"], bulks(&["a", "1", "b", "2"]));
    c.expect_cmd(&["ZREVRANGE", "z", "0", "0", "withscores"], bulks(&["e", "5"]));
    c.expect_cmd(&["ZRANGE", "missing", "0", "-1"], EMPTY);
    c.expect_cmd(&["ZRANGE", "z", "a", "1"], NOT_INT_ERR);
    c.expect_cmd(&["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"], LIMIT_BY);
    // LIMIT 0 -1 is "no limit": Redis does not object to it.
    c.expect_cmd(&["ZRANGE", "z", "0", "0", "LIMIT", "0", "-1"], bulks(&["a"]));
    c.expect_cmd(&["ZRANGE", "z", "0", "1", "REV", "REV"], SYNTAX_ERR);
    c.expect_cmd(&["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"], SYNTAX_ERR);
    c.expect_cmd(&["ZRANGE", "z", "0", "1", "LIMIT", "1"], SYNTAX_ERR);
    c.expect_cmd(&["ZRANGE", "z", "0", "1", "LIMIT", "x", "1"], NOT_INT_ERR);
    c.expect_cmd(&["ZREVRANGE", "z", "0", "1", "REV"], SYNTAX_ERR);
    c.expect_cmd(&["ZREVRANGE", "z", "0", "1", "BYSCORE"], SYNTAX_ERR);
    c.expect_cmd(&["ZRANGE", "z", "0"], arity_err("zrange"));
}

#[test]
fn zrange_withscores_is_nested_in_resp3() {
    let s = TestServer::start();
    let mut c = resp3(&s);
    c.expect_cmd(&["ZADD", "z", "1", "a", "2.5", "b"], int(2));
    c.expect_cmd(&["ZRANGE", "z", "0", "-1", "WITHSCORES"], "*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n");
    c.expect_cmd(&["ZRANGE", "z", "0", "-1"], "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    c.expect_cmd(&["ZRANGEBYSCORE", "z", "2", "3", "WITHSCORES"], "*1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n");
    c.expect_cmd(&["ZRANGE", "missing", "0", "-1", "WITHSCORES"], EMPTY);
}

#[test]
fn zrange_by_score_with_limit_and_rev() {
    let s = TestServer::start();
    let mut c = s.raw();
    abcde(&mut c);
    c.expect_cmd(&["ZRANGE", "z", "2", "4", "BYSCORE"], bulks(&["b", "c", "d"]));
    c.expect_cmd(&["ZRANGE", "z", "(2", "(4", "BYSCORE"], bulks(&["c"]));
    c.expect_cmd(&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"], bulks(&["b", "c"]));
    c.expect_cmd(&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "3", "-1"], bulks(&["d", "e"]));
    c.expect_cmd(&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"], EMPTY);
    c.expect_cmd(&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "5", "2"], EMPTY);
    c.expect_cmd(&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "0", "0"], EMPTY);
    // REV takes max first.
    c.expect_cmd(&["ZRANGE", "z", "4", "2", "BYSCORE", "REV"], bulks(&["d", "c", "b"]));
    c.expect_cmd(
        &["ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2", "WITHSCORES"],
        bulks(&["d", "4", "c", "3"]),
    );
    c.expect_cmd(&["ZRANGE", "z", "2", "4", "BYSCORE", "REV"], EMPTY);
    c.expect_cmd(&["ZRANGEBYSCORE", "z", "(1", "3", "WITHSCORES"], bulks(&["b", "2", "c", "3"]));
    c.expect_cmd(&["ZRANGEBYSCORE", "z", "1", "5", "LIMIT", "1", "1"], bulks(&["b"]));
    c.expect_cmd(&["ZREVRANGEBYSCORE", "z", "5", "(3"], bulks(&["e", "d"]));
    c.expect_cmd(&["ZREVRANGEBYSCORE", "z", "+inf", "-inf", "WITHSCORES", "LIMIT", "0", "1"], bulks(&["e", "5"]));
    c.expect_cmd(&["ZRANGEBYSCORE", "z", "x", "1"], MIN_MAX_FLOAT);
    c.expect_cmd(&["ZRANGE", "z", "0", "(x", "BYSCORE"], MIN_MAX_FLOAT);
    c.expect_cmd(&["ZRANGEBYSCORE", "z", "1", "5", "REV"], SYNTAX_ERR);
    c.expect_cmd(&["ZRANGEBYSCORE", "z", "1", "5", "BYLEX"], SYNTAX_ERR);
    c.expect_cmd(&["ZRANGEBYSCORE", "missing", "1", "5"], EMPTY);
}

#[test]
fn zrange_by_lex() {
    let s = TestServer::start();
    let mut c = s.raw();
    letters(&mut c);
    c.expect_cmd(&["ZRANGE", "l", "[b", "(e", "BYLEX"], bulks(&["b", "c", "d"]));
    c.expect_cmd(&["ZRANGE", "l", "-", "+", "BYLEX", "LIMIT", "2", "2"], bulks(&["c", "d"]));
    c.expect_cmd(&["ZRANGE", "l", "+", "-", "BYLEX", "REV", "LIMIT", "0", "2"], bulks(&["g", "f"]));
    c.expect_cmd(&["ZRANGE", "l", "[d", "(b", "BYLEX", "REV"], bulks(&["d", "c"]));
    c.expect_cmd(&["ZRANGEBYLEX", "l", "(f", "+"], bulks(&["g"]));
    c.expect_cmd(&["ZRANGEBYLEX", "l", "[aa", "[c"], bulks(&["b", "c"]));
    c.expect_cmd(&["ZRANGEBYLEX", "l", "-", "+", "LIMIT", "5", "10"], bulks(&["f", "g"]));
    c.expect_cmd(&["ZREVRANGEBYLEX", "l", "[c", "-"], bulks(&["c", "b", "a"]));
    c.expect_cmd(&["ZREVRANGEBYLEX", "l", "+", "[f", "LIMIT", "1", "5"], bulks(&["f"]));
    c.expect_cmd(&["ZRANGE", "l", "-", "+", "BYLEX", "WITHSCORES"], WITHSCORES_BYLEX);
    c.expect_cmd(&["ZRANGEBYLEX", "l", "-", "+", "WITHSCORES"], WITHSCORES_BYLEX);
    c.expect_cmd(&["ZRANGEBYLEX", "l", "a", "+"], MIN_MAX_LEX);
    c.expect_cmd(&["ZRANGE", "l", "-", "c", "BYLEX"], MIN_MAX_LEX);
    c.expect_cmd(&["ZRANGEBYLEX", "l", "-", "+", "REV"], SYNTAX_ERR);
    c.expect_cmd(&["ZRANGEBYLEX", "missing", "-", "+"], EMPTY);
}

#[test]
fn huge_limits_and_rank_ranges_answer_from_the_set() {
    let s = TestServer::start();
    let mut c = s.raw();
    zadd_many(&mut c, "big", 300, 3);
    let max = "9223372036854775807";
    let min = "-9223372036854775808";
    let r = c.call_resp(&["ZRANGE", "big", min, max]);
    assert_eq!(r.items().len(), 300);
    let r = c.call_resp(&["ZRANGE", "big", "-inf", "+inf", "BYSCORE", "LIMIT", "0", max]);
    assert_eq!(r.items().len(), 300);
    c.expect_cmd(&["ZRANGE", "big", "-inf", "+inf", "BYSCORE", "LIMIT", max, max], EMPTY);
    c.expect_cmd(&["ZRANGE", "big", "-inf", "+inf", "BYSCORE", "LIMIT", min, "1"], EMPTY);
    c.expect_cmd(&["ZRANGE", "big", "-", "+", "BYLEX", "LIMIT", "299", max], bulks(&["m299"]));
    c.expect_cmd(&["ZRANGE", "big", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "299", max], bulks(&["m000"]));
    c.expect_cmd(&["ZRANGE", "big", max, max], EMPTY);
    c.expect_cmd(&["ZRANGE", "big", min, min], EMPTY);
    c.expect_cmd(&["ZREMRANGEBYRANK", "big", max, max], int(0));
    c.expect_cmd(&["ZREMRANGEBYRANK", "big", "298", max], int(2));
    let popped = c.call_resp(&["ZPOPMIN", "big", max]);
    assert_eq!(popped.items().len(), 298 * 2);
    c.expect_cmd(&["EXISTS", "big"], int(0));
}

#[test]
fn zrangestore_stores_the_range() {
    let s = TestServer::start();
    let mut c = s.raw();
    abcde(&mut c);
    c.expect_cmd(&["ZRANGESTORE", "dst", "z", "1", "2"], int(2));
    c.expect_cmd(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"], bulks(&["b", "2", "c", "3"]));
    c.expect_cmd(&["ZRANGESTORE", "dst", "z", "5", "(3", "BYSCORE", "REV", "LIMIT", "0", "1"], int(1));
    c.expect_cmd(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"], bulks(&["e", "5"]));
    c.expect_cmd(&["ZRANGESTORE", "dst", "z", "0", "1", "REV"], int(2));
    c.expect_cmd(&["ZRANGE", "dst", "0", "-1"], bulks(&["d", "e"]));
    // An empty result deletes the destination, of any type.
    c.expect_cmd(&["SET", "str", "x"], OK);
    c.expect_cmd(&["EXPIRE", "str", "100"], int(1));
    c.expect_cmd(&["ZRANGESTORE", "str", "z", "0", "0"], int(1));
    c.expect_cmd(&["TYPE", "str"], "+zset\r\n");
    c.expect_cmd(&["TTL", "str"], int(-1));
    c.expect_cmd(&["ZRANGESTORE", "dst", "z", "10", "20"], int(0));
    c.expect_cmd(&["EXISTS", "dst"], int(0));
    c.expect_cmd(&["ZRANGESTORE", "str", "missing", "0", "-1"], int(0));
    c.expect_cmd(&["EXISTS", "str"], int(0));
    c.expect_cmd(&["ZRANGESTORE", "dst", "z", "0", "-1", "WITHSCORES"], SYNTAX_ERR);
    c.expect_cmd(&["ZRANGESTORE", "dst", "z", "0", "-1", "LIMIT", "0", "1"], LIMIT_BY);
    c.expect_cmd(&["SET", "s", "x"], OK);
    c.expect_cmd(&["ZRANGESTORE", "dst", "s", "0", "-1"], WRONGTYPE);
    c.expect_cmd(&["ZRANGESTORE", "dst", "z", "0"], arity_err("zrangestore"));
}

// ---------------------------------------------------------------------------
// ZREMRANGEBY*
// ---------------------------------------------------------------------------

#[test]
fn zremrange_by_rank_score_and_lex() {
    let s = TestServer::start();
    let mut c = s.raw();
    abcde(&mut c);
    c.expect_cmd(&["ZREMRANGEBYRANK", "z", "0", "1"], int(2));
    c.expect_cmd(&["ZRANGE", "z", "0", "-1"], bulks(&["c", "d", "e"]));
    c.expect_cmd(&["ZREMRANGEBYRANK", "z", "-1", "-1"], int(1));
    c.expect_cmd(&["ZREMRANGEBYRANK", "z", "5", "10"], int(0));
    c.expect_cmd(&["ZREMRANGEBYRANK", "z", "x", "1"], NOT_INT_ERR);
    c.expect_cmd(&["ZREMRANGEBYSCORE", "z", "(3", "+inf"], int(1));
    c.expect_cmd(&["ZREMRANGEBYSCORE", "z", "x", "1"], MIN_MAX_FLOAT);
    c.expect_cmd(&["ZREMRANGEBYSCORE", "z", "-inf", "+inf"], int(1));
    c.expect_cmd(&["EXISTS", "z"], int(0));
    letters(&mut c);
    c.expect_cmd(&["ZREMRANGEBYLEX", "l", "(b", "[d"], int(2));
    c.expect_cmd(&["ZRANGE", "l", "0", "-1"], bulks(&["a", "b", "e", "f", "g"]));
    c.expect_cmd(&["ZREMRANGEBYLEX", "l", "x", "+"], MIN_MAX_LEX);
    c.expect_cmd(&["ZREMRANGEBYLEX", "l", "-", "+"], int(5));
    c.expect_cmd(&["ZREMRANGEBYLEX", "missing", "-", "+"], int(0));
    c.expect_cmd(&["ZREMRANGEBYSCORE", "missing", "0", "1"], int(0));
    c.expect_cmd(&["ZREMRANGEBYRANK", "missing", "0", "1"], int(0));
    // The range is checked before the key.
    c.expect_cmd(&["ZREMRANGEBYRANK", "missing", "0", "x"], NOT_INT_ERR);
}

// ---------------------------------------------------------------------------
// ZPOPMIN, ZPOPMAX, ZMPOP
// ---------------------------------------------------------------------------

#[test]
fn zpopmin_and_zpopmax() {
    let s = TestServer::start();
    let mut c = s.raw();
    abcde(&mut c);
    c.expect_cmd(&["ZPOPMIN", "z"], bulks(&["a", "1"]));
    c.expect_cmd(&["ZPOPMAX", "z"], bulks(&["e", "5"]));
    c.expect_cmd(&["ZPOPMIN", "z", "2"], bulks(&["b", "2", "c", "3"]));
    c.expect_cmd(&["ZPOPMIN", "z", "0"], EMPTY);
    c.expect_cmd(&["ZPOPMAX", "z", "10"], bulks(&["d", "4"]));
    c.expect_cmd(&["EXISTS", "z"], int(0));
    c.expect_cmd(&["ZPOPMIN", "z"], EMPTY);
    c.expect_cmd(&["ZPOPMAX", "z", "3"], EMPTY);
    c.expect_cmd(&["ZPOPMIN", "z", "-1"], NOT_POSITIVE);
    c.expect_cmd(&["ZPOPMIN", "z", "x"], NOT_POSITIVE);
    c.expect_cmd(&["ZPOPMIN", "z", "1", "2"], SYNTAX_ERR);
    c.expect_cmd(&["ZPOPMIN"], arity_err("zpopmin"));
}

#[test]
fn zpop_reply_shapes_in_resp3() {
    let s = TestServer::start();
    let mut c = resp3(&s);
    c.expect_cmd(&["ZADD", "z", "1", "a", "2", "b", "3", "c"], int(3));
    // Without COUNT a flat pair; with COUNT pairs nested.
    c.expect_cmd(&["ZPOPMIN", "z"], "*2\r\n$1\r\na\r\n,1\r\n");
    c.expect_cmd(&["ZPOPMAX", "z", "1"], "*1\r\n*2\r\n$1\r\nc\r\n,3\r\n");
    c.expect_cmd(&["ZMPOP", "1", "z", "MIN"], "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nb\r\n,2\r\n");
    c.expect_cmd(&["ZMPOP", "1", "z", "MIN"], NULL3);
    c.expect_cmd(&["ZPOPMIN", "z", "1"], EMPTY);
}

#[test]
fn zmpop_takes_from_the_first_non_empty_key() {
    let s = TestServer::start();
    let mut c = s.raw();
    abcde(&mut c);
    let reply = |key: &str, pairs: &[(&str, &str)]| {
        let mut out = format!("*2\r\n${}\r\n{key}\r\n*{}\r\n", key.len(), pairs.len()).into_bytes();
        for (m, sc) in pairs {
            out.extend_from_slice(&bulks(&[m, sc]));
        }
        out
    };
    c.expect_cmd(&["ZMPOP", "2", "nokey", "z", "MIN"], reply("z", &[("a", "1")]));
    c.expect_cmd(&["ZMPOP", "1", "z", "max", "COUNT", "2"], reply("z", &[("e", "5"), ("d", "4")]));
    c.expect_cmd(&["ZMPOP", "1", "z", "MIN", "COUNT", "10"], reply("z", &[("b", "2"), ("c", "3")]));
    c.expect_cmd(&["ZMPOP", "2", "z", "nokey", "MIN"], NULL_ARRAY);
    let numkeys = err("ERR numkeys should be greater than 0");
    c.expect_cmd(&["ZMPOP", "0", "z", "MIN"], &numkeys);
    c.expect_cmd(&["ZMPOP", "x", "z", "MIN"], &numkeys);
    c.expect_cmd(&["ZMPOP", "-1", "z", "MIN"], &numkeys);
    c.expect_cmd(&["ZMPOP", "3", "z", "MIN"], SYNTAX_ERR);
    c.expect_cmd(&["ZMPOP", "9223372036854775807", "z", "MIN"], SYNTAX_ERR);
    c.expect_cmd(&["ZMPOP", "1", "z", "MIDDLE"], SYNTAX_ERR);
    let count = err("ERR count should be greater than 0");
    c.expect_cmd(&["ZMPOP", "1", "z", "MIN", "COUNT", "0"], &count);
    c.expect_cmd(&["ZMPOP", "1", "z", "MIN", "COUNT", "x"], &count);
    c.expect_cmd(&["ZMPOP", "1", "z", "MIN", "COUNT"], SYNTAX_ERR);
    c.expect_cmd(&["ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "1"], SYNTAX_ERR);
    c.expect_cmd(&["ZMPOP", "1", "z"], arity_err("zmpop"));
    c.expect_cmd(&["SET", "s", "x"], OK);
    c.expect_cmd(&["ZMPOP", "2", "nokey", "s", "MIN"], WRONGTYPE);
}

// ---------------------------------------------------------------------------
// ZRANDMEMBER
// ---------------------------------------------------------------------------

#[test]
fn zrandmember_picks_members() {
    let s = TestServer::start();
    let mut c = s.raw();
    abcde(&mut c);
    let all = ["a", "b", "c", "d", "e"];
    for _ in 0..20 {
        let m = c.call_resp(&["ZRANDMEMBER", "z"]).text();
        assert!(all.contains(&m.as_str()), "{m}");
    }
    c.expect_cmd(&["ZRANDMEMBER", "missing"], NIL);
    let distinct = c.call_resp(&["ZRANDMEMBER", "z", "3"]);
    let mut seen: Vec<String> = distinct.items().iter().map(Resp::text).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3, "{distinct:?}");
    // A count at least the size returns the whole set, highest score first.
    c.expect_cmd(&["ZRANDMEMBER", "z", "10"], bulks(&["e", "d", "c", "b", "a"]));
    let repeats = c.call_resp(&["ZRANDMEMBER", "z", "-20"]);
    assert_eq!(repeats.items().len(), 20);
    assert!(repeats.items().iter().all(|m| all.contains(&m.text().as_str())));
    let scored = c.call_resp(&["ZRANDMEMBER", "z", "-6", "WITHSCORES"]);
    for pair in scored.items().chunks(2) {
        let member = pair[0].text();
        let expected = (all.iter().position(|m| *m == member).expect("a member") + 1).to_string();
        assert_eq!(pair[1].text(), expected, "score of {member}");
    }
    assert_eq!(scored.items().len(), 12);
    c.expect_cmd(&["ZRANDMEMBER", "z", "0"], EMPTY);
    c.expect_cmd(&["ZRANDMEMBER", "missing", "5"], EMPTY);
    c.expect_cmd(&["ZRANDMEMBER", "z", "x"], NOT_INT_ERR);
    c.expect_cmd(&["ZRANDMEMBER", "z", "1", "SCORES"], SYNTAX_ERR);
    c.expect_cmd(&["ZRANDMEMBER", "z", "1", "WITHSCORES", "x"], SYNTAX_ERR);
    c.expect_cmd(
        &["ZRANDMEMBER", "z", "-9223372036854775808"],
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
    );
    c.expect_cmd(&["ZRANDMEMBER", "z", "-9223372036854775807", "WITHSCORES"], err("ERR value is out of range"));
    let mut r3 = resp3(&s);
    let nested = r3.call_resp(&["ZRANDMEMBER", "z", "2", "WITHSCORES"]);
    assert_eq!(nested.items().len(), 2);
    for pair in nested.items() {
        assert_eq!(pair.items().len(), 2, "{nested:?}");
        assert!(matches!(pair.items()[1], Resp::Double(_)), "{nested:?}");
    }
}

#[test]
fn zrandmember_on_a_large_set_covers_it() {
    let s = TestServer::start();
    let mut c = s.raw();
    zadd_many(&mut c, "big", 500, 3);
    assert_eq!(encoding(&mut c, "big"), "skiplist");
    let r = c.call_resp(&["ZRANDMEMBER", "big", "100"]);
    let mut seen: Vec<String> = r.items().iter().map(Resp::text).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 100);
    let r = c.call_resp(&["ZRANDMEMBER", "big", "-3000"]);
    let mut seen: Vec<String> = r.items().iter().map(Resp::text).collect();
    seen.sort();
    seen.dedup();
    assert!(seen.len() > 450, "3000 picks with repeats cover most of 500 members: {}", seen.len());
    let r = c.call_resp(&["ZRANDMEMBER", "big", "400", "WITHSCORES"]);
    assert_eq!(r.items().len(), 800);
}

/// ZRANDMEMBER with a huge negative count: Redistill produces the reply as
/// it goes and cuts the client off past its output buffer limit (Redis
/// would try to send 2^63 members).
#[test]
fn zrandmember_huge_negative_count_is_cut_off_at_the_output_limit() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start_with("[server]\nclient_output_buffer_limit = \"1mb\"\n");
    let mut c = s.raw();
    c.expect_cmd(&["ZADD", "z", "1", "a", "2", "b"], int(2));
    expect_cut_off_at_output_limit(
        &c,
        &["ZRANDMEMBER", "z", "-9223372036854775807"],
        b"*9223372036854775807\r\n$1\r\n",
    );
    s.raw().expect_cmd(&["ZCARD", "z"], int(2));
}

// ---------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF, the STORE forms, ZINTERCARD
// ---------------------------------------------------------------------------

/// `a` = {x 1, y 2, z 3}, `b` = {y 10, z 20, w 30}.
fn two_sets(c: &mut RawClient) {
    c.expect_cmd(&["ZADD", "a", "1", "x", "2", "y", "3", "z"], int(3));
    c.expect_cmd(&["ZADD", "b", "10", "y", "20", "z", "30", "w"], int(3));
}

#[test]
fn set_operations_take_plain_sets_scoring_one() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["ZADD", "z", "5", "a", "7", "b"], ":2\r\n");
    c.expect_cmd(&["SADD", "s", "b", "c"], ":2\r\n");
    c.expect_cmd(&["ZUNION", "2", "z", "s", "WITHSCORES"], bulks(&["c", "1", "a", "5", "b", "8"]));
    c.expect_cmd(&["ZINTER", "2", "z", "s", "WITHSCORES"], bulks(&["b", "8"]));
    c.expect_cmd(&["ZDIFF", "2", "s", "z", "WITHSCORES"], bulks(&["c", "1"]));
    c.expect_cmd(&["ZINTERCARD", "2", "s", "z"], ":1\r\n");
    c.expect_cmd(&["ZUNIONSTORE", "d", "2", "s", "z", "WEIGHTS", "2", "1"], ":3\r\n");
    c.expect_cmd(&["ZRANGE", "d", "0", "-1", "WITHSCORES"], bulks(&["c", "2", "a", "5", "b", "9"]));
    c.expect_cmd(&["SET", "str", "v"], "+OK\r\n");
    c.expect_cmd(
        &["ZUNION", "2", "z", "str"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]
fn zunion_zinter_zdiff() {
    let s = TestServer::start();
    let mut c = s.raw();
    two_sets(&mut c);
    c.expect_cmd(&["ZUNION", "2", "a", "b", "WITHSCORES"], bulks(&["x", "1", "y", "12", "z", "23", "w", "30"]));
    c.expect_cmd(&["ZUNION", "2", "a", "b"], bulks(&["x", "y", "z", "w"]));
    c.expect_cmd(
        &["ZUNION", "3", "a", "nokey", "b", "AGGREGATE", "MAX", "WITHSCORES"],
        bulks(&["x", "1", "y", "10", "z", "20", "w", "30"]),
    );
    c.expect_cmd(
        &["ZUNION", "2", "a", "b", "WEIGHTS", "2", "0.5", "WITHSCORES"],
        bulks(&["x", "2", "y", "9", "w", "15", "z", "16"]),
    );
    c.expect_cmd(&["ZINTER", "2", "a", "b", "WITHSCORES"], bulks(&["y", "12", "z", "23"]));
    c.expect_cmd(&["ZINTER", "2", "a", "b", "AGGREGATE", "min", "WITHSCORES"], bulks(&["y", "2", "z", "3"]));
    c.expect_cmd(&["ZINTER", "2", "b", "a", "WEIGHTS", "1", "-1", "WITHSCORES"], bulks(&["y", "8", "z", "17"]));
    c.expect_cmd(&["ZINTER", "2", "a", "nokey"], EMPTY);
    c.expect_cmd(&["ZDIFF", "2", "a", "b", "WITHSCORES"], bulks(&["x", "1"]));
    c.expect_cmd(&["ZDIFF", "2", "b", "a"], bulks(&["w"]));
    c.expect_cmd(&["ZDIFF", "1", "nokey"], EMPTY);
    // inf + -inf is 0 in a sum.
    c.expect_cmd(&["ZADD", "p", "+inf", "m"], int(1));
    c.expect_cmd(&["ZADD", "n", "-inf", "m"], int(1));
    c.expect_cmd(&["ZUNION", "2", "p", "n", "WITHSCORES"], bulks(&["m", "0"]));
    c.expect_cmd(&["ZINTER", "2", "p", "n", "WITHSCORES"], bulks(&["m", "0"]));
    let mut r3 = resp3(&s);
    r3.expect_cmd(&["ZINTER", "2", "a", "b", "WITHSCORES"], "*2\r\n*2\r\n$1\r\ny\r\n,12\r\n*2\r\n$1\r\nz\r\n,23\r\n");
}

#[test]
fn zunionstore_zinterstore_zdiffstore() {
    let s = TestServer::start();
    let mut c = s.raw();
    two_sets(&mut c);
    c.expect_cmd(&["ZUNIONSTORE", "u", "2", "a", "b"], int(4));
    c.expect_cmd(&["ZRANGE", "u", "0", "-1", "WITHSCORES"], bulks(&["x", "1", "y", "12", "z", "23", "w", "30"]));
    c.expect_cmd(&["ZINTERSTORE", "i", "2", "a", "b", "WEIGHTS", "1", "2", "AGGREGATE", "SUM"], int(2));
    c.expect_cmd(&["ZRANGE", "i", "0", "-1", "WITHSCORES"], bulks(&["y", "22", "z", "43"]));
    c.expect_cmd(&["ZDIFFSTORE", "d", "2", "a", "b"], int(1));
    c.expect_cmd(&["ZRANGE", "d", "0", "-1", "WITHSCORES"], bulks(&["x", "1"]));
    // The destination may be a source, and an empty result deletes it.
    c.expect_cmd(&["ZUNIONSTORE", "a", "2", "a", "a"], int(3));
    c.expect_cmd(&["ZSCORE", "a", "z"], bulk("6"));
    c.expect_cmd(&["ZINTERSTORE", "i", "2", "a", "nokey"], int(0));
    c.expect_cmd(&["EXISTS", "i"], int(0));
    c.expect_cmd(&["SET", "str", "v"], OK);
    c.expect_cmd(&["ZDIFFSTORE", "str", "1", "b"], int(3));
    c.expect_cmd(&["TYPE", "str"], "+zset\r\n");
    c.expect_cmd(&["ZUNIONSTORE", "u", "1", "a", "WITHSCORES"], SYNTAX_ERR);
    c.expect_cmd(&["ZDIFFSTORE", "u", "1", "a", "WEIGHTS", "1"], SYNTAX_ERR);
    c.expect_cmd(&["ZUNIONSTORE", "u", "0", "a"], err("ERR at least 1 input key is needed for 'zunionstore' command"));
    c.expect_cmd(&["ZUNIONSTORE", "u"], arity_err("zunionstore"));
}

#[test]
fn set_operation_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    two_sets(&mut c);
    c.expect_cmd(&["ZUNION", "0", "a"], err("ERR at least 1 input key is needed for 'zunion' command"));
    c.expect_cmd(&["ZINTER", "-1", "a"], err("ERR at least 1 input key is needed for 'zinter' command"));
    c.expect_cmd(&["ZDIFF", "x", "a"], NOT_INT_ERR);
    c.expect_cmd(&["ZUNION", "3", "a", "b"], SYNTAX_ERR);
    c.expect_cmd(&["ZUNION", "2", "a", "b", "WEIGHTS", "1"], SYNTAX_ERR);
    c.expect_cmd(&["ZUNION", "2", "a", "b", "WEIGHTS", "1", "x"], err("ERR weight value is not a float"));
    c.expect_cmd(&["ZUNION", "2", "a", "b", "AGGREGATE", "AVG"], SYNTAX_ERR);
    c.expect_cmd(&["ZUNION", "2", "a", "b", "AGGREGATE"], SYNTAX_ERR);
    c.expect_cmd(&["ZDIFF", "2", "a", "b", "AGGREGATE", "MIN"], SYNTAX_ERR);
    c.expect_cmd(&["ZUNION", "2", "a", "b", "LIMIT", "1"], SYNTAX_ERR);
    c.expect_cmd(&["SET", "s", "x"], OK);
    c.expect_cmd(&["HSET", "h", "f", "v"], int(1));
    c.expect_cmd(&["ZUNION", "2", "a", "s"], WRONGTYPE);
    c.expect_cmd(&["ZINTER", "2", "h", "a"], WRONGTYPE);
    c.expect_cmd(&["ZUNIONSTORE", "dst", "2", "a", "h"], WRONGTYPE);
    // A wrong type among the keys is reported before a bad option.
    c.expect_cmd(&["ZUNION", "2", "a", "s", "WEIGHTS", "x", "y"], WRONGTYPE);
    c.expect_cmd(&["ZUNION", "1"], arity_err("zunion"));
}

#[test]
fn zintercard_counts_the_intersection() {
    let s = TestServer::start();
    let mut c = s.raw();
    two_sets(&mut c);
    c.expect_cmd(&["ZINTERCARD", "2", "a", "b"], int(2));
    c.expect_cmd(&["ZINTERCARD", "2", "a", "b", "LIMIT", "1"], int(1));
    c.expect_cmd(&["ZINTERCARD", "2", "a", "b", "LIMIT", "0"], int(2));
    c.expect_cmd(&["ZINTERCARD", "1", "a"], int(3));
    c.expect_cmd(&["ZINTERCARD", "2", "a", "nokey"], int(0));
    c.expect_cmd(&["ZINTERCARD", "2", "a", "b", "LIMIT", "-1"], err("ERR LIMIT can't be negative"));
    c.expect_cmd(&["ZINTERCARD", "2", "a", "b", "LIMIT", "x"], err("ERR LIMIT can't be negative"));
    c.expect_cmd(&["ZINTERCARD", "2", "a", "b", "WITHSCORES"], SYNTAX_ERR);
    c.expect_cmd(&["ZINTERCARD", "2", "a", "b", "WEIGHTS", "1", "1"], SYNTAX_ERR);
    c.expect_cmd(&["ZINTERCARD", "0", "a"], err("ERR at least 1 input key is needed for 'zintercard' command"));
    c.expect_cmd(&["ZINTERCARD", "3", "a", "b"], SYNTAX_ERR);
}

// ---------------------------------------------------------------------------
// ZSCAN
// ---------------------------------------------------------------------------

fn zscan_all(c: &mut RawClient, key: &str, extra: &[&str]) -> Vec<(String, String)> {
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let mut args = vec!["ZSCAN", key, cursor.as_str()];
        args.extend_from_slice(extra);
        let reply = c.call_resp(&args);
        let parts = reply.items();
        assert_eq!(parts.len(), 2, "{reply:?}");
        seen.extend(parts[1].pairs().into_iter().map(|(m, s)| (m, s.text())));
        cursor = parts[0].text();
        if cursor == "0" {
            seen.sort();
            seen.dedup();
            return seen;
        }
    }
    panic!("ZSCAN {key} did not finish");
}

#[test]
fn zscan_returns_every_member_with_its_score() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["ZADD", "z", "1.5", "a", "2", "b", "-inf", "c"], int(3));
    let expected = vec![("a".to_string(), "1.5".to_string()), ("b".into(), "2".into()), ("c".into(), "-inf".into())];
    assert_eq!(zscan_all(&mut c, "z", &[]), expected);
    assert_eq!(zscan_all(&mut c, "z", &["MATCH", "a*"]), expected[..1].to_vec());
    zadd_many(&mut c, "big", 1000, 4);
    let all = zscan_all(&mut c, "big", &["COUNT", "50"]);
    assert_eq!(all.len(), 1000);
    assert!(all.contains(&("m0123".to_string(), "123".to_string())));
    c.expect_cmd(&["ZSCAN", "missing", "0"], b"*2\r\n$1\r\n0\r\n*0\r\n");
    // Options are read only for a sorted set: a missing key is an empty scan.
    c.expect_cmd(&["ZSCAN", "missing", "0", "COUNT", "0"], b"*2\r\n$1\r\n0\r\n*0\r\n");
    c.expect_cmd(&["ZSCAN", "z", "x"], err("ERR invalid cursor"));
    c.expect_cmd(&["ZSCAN", "z", "0", "COUNT", "0"], SYNTAX_ERR);
    c.expect_cmd(&["ZSCAN", "z", "0", "TYPE", "zset"], SYNTAX_ERR);
    c.expect_cmd(&["ZSCAN", "z", "0", "MATCH"], SYNTAX_ERR);
    c.expect_cmd(&["SET", "s", "x"], OK);
    c.expect_cmd(&["ZSCAN", "s", "0"], WRONGTYPE);
    c.expect_cmd(&["ZSCAN", "s", "0", "COUNT", "0"], WRONGTYPE);
}

// ---------------------------------------------------------------------------
// Encodings and the keyspace
// ---------------------------------------------------------------------------

#[test]
fn encoding_follows_the_listpack_limits() {
    let s = TestServer::start();
    let mut c = s.raw();
    zadd_many(&mut c, "z", 128, 3);
    assert_eq!(encoding(&mut c, "z"), "listpack");
    c.expect_cmd(&["ZADD", "z", "1", "one-more"], int(1));
    assert_eq!(encoding(&mut c, "z"), "skiplist");
    // Redis never converts back on removal.
    c.expect_cmd(&["ZREMRANGEBYRANK", "z", "0", "100"], int(101));
    assert_eq!(encoding(&mut c, "z"), "skiplist");
    let long = "x".repeat(65);
    c.expect_cmd(&["ZADD", "v", "1", "a"], int(1));
    assert_eq!(encoding(&mut c, "v"), "listpack");
    c.expect_cmd(&["ZADD", "v", "1", &"x".repeat(64)], int(1));
    assert_eq!(encoding(&mut c, "v"), "listpack");
    c.expect_cmd(&["ZADD", "v", "1", &long], int(1));
    assert_eq!(encoding(&mut c, "v"), "skiplist");
    // A stored result is packed when it is small, whatever its sources.
    c.expect_cmd(&["ZUNIONSTORE", "small", "1", "z"], int(28));
    assert_eq!(encoding(&mut c, "small"), "listpack");
    c.expect_cmd(&["ZRANGESTORE", "small", "v", "0", "-1"], int(3));
    assert_eq!(encoding(&mut c, "small"), "skiplist");
}

#[test]
fn config_set_changes_the_thresholds() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CONFIG", "GET", "zset-max-listpack-entries"], bulks(&["zset-max-listpack-entries", "128"]));
    c.expect_cmd(&["CONFIG", "GET", "zset-max-listpack-value"], bulks(&["zset-max-listpack-value", "64"]));
    c.expect_cmd(&["CONFIG", "SET", "zset-max-listpack-entries", "4", "zset-max-listpack-value", "8"], OK);
    c.expect_cmd(&["CONFIG", "GET", "zset-max-ziplist-entries"], bulks(&["zset-max-ziplist-entries", "4"]));
    c.expect_cmd(&["CONFIG", "GET", "zset-max-ziplist-value"], bulks(&["zset-max-ziplist-value", "8"]));
    zadd_many(&mut c, "z", 4, 1);
    assert_eq!(encoding(&mut c, "z"), "listpack");
    c.expect_cmd(&["ZADD", "z", "9", "m9"], int(1));
    assert_eq!(encoding(&mut c, "z"), "skiplist");
    c.expect_cmd(&["ZADD", "v", "1", "123456789"], int(1));
    assert_eq!(encoding(&mut c, "v"), "skiplist");
    c.expect_cmd(&["CONFIG", "SET", "zset-max-ziplist-entries", "0"], OK);
    c.expect_cmd(&["CONFIG", "GET", "zset-max-listpack-entries"], bulks(&["zset-max-listpack-entries", "0"]));
    c.expect_cmd(&["ZADD", "w", "1", "a"], int(1));
    assert_eq!(encoding(&mut c, "w"), "skiplist");
    let r = c.call(&["CONFIG", "SET", "zset-max-listpack-entries", "x"]);
    assert!(r.starts_with("-ERR CONFIG SET failed (possibly related to argument 'zset-max-listpack-entries')"), "{r}");
}

/// Redis 7.2 creates a sorted set for ZADD's pair count: more pairs than
/// the listpack limit make a skiplist even if they name one member.
#[test]
fn zadd_with_many_pairs_creates_a_skiplist() {
    let s = TestServer::start();
    if s.reference_older_than(7, 2) {
        return;
    }
    let mut c = s.raw();
    let mut args = vec!["ZADD".to_string(), "z".to_string()];
    for i in 0..129 {
        args.push(i.to_string());
        args.push("same".to_string());
    }
    c.expect_cmd(&args, int(1));
    assert_eq!(encoding(&mut c, "z"), "skiplist");
}

#[test]
fn type_scan_rename_copy_and_memory() {
    let s = TestServer::start();
    let mut c = s.raw();
    abcde(&mut c);
    c.expect_cmd(&["SET", "str", "v"], OK);
    c.expect_cmd(&["HSET", "h", "f", "v"], int(1));
    c.expect_cmd(&["TYPE", "z"], "+zset\r\n");
    let r = c.call_resp(&["SCAN", "0", "TYPE", "zset", "COUNT", "1000"]);
    assert_eq!(r.items()[1].items().iter().map(Resp::text).collect::<Vec<_>>(), ["z"]);
    c.expect_cmd(&["RENAME", "z", "z2"], OK);
    c.expect_cmd(&["ZRANGE", "z2", "0", "-1"], bulks(&["a", "b", "c", "d", "e"]));
    c.expect_cmd(&["COPY", "z2", "z3"], int(1));
    c.expect_cmd(&["ZADD", "z3", "9", "f"], int(1));
    c.expect_cmd(&["ZCARD", "z2"], int(5));
    c.expect_cmd(&["ZCARD", "z3"], int(6));
    zadd_many(&mut c, "big", 1000, 4);
    c.expect_cmd(&["COPY", "big", "big2"], int(1));
    c.expect_cmd(&["ZREM", "big", "m0500"], int(1));
    c.expect_cmd(&["ZRANK", "big2", "m0500"], int(500));
    c.expect_cmd(&["ZRANK", "big2", "m0999"], int(999));
    c.expect_cmd(&["ZRANK", "big", "m0999"], int(998));
    let small = c.call_resp(&["MEMORY", "USAGE", "z2"]).int();
    let large = c.call_resp(&["MEMORY", "USAGE", "big2"]).int();
    assert!(small > 0 && large > 20 * small, "{small} {large}");
    c.expect_cmd(&["DEL", "big", "big2"], int(2));
}

#[test]
fn zset_commands_on_other_types_answer_wrongtype() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "s", "x"], OK);
    c.expect_cmd(&["HSET", "h", "f", "v"], int(1));
    for key in ["s", "h"] {
        for cmd in [
            &["ZADD", key, "1", "a"][..],
            &["ZINCRBY", key, "1", "a"],
            &["ZREM", key, "a"],
            &["ZSCORE", key, "a"],
            &["ZMSCORE", key, "a"],
            &["ZCARD", key],
            &["ZCOUNT", key, "0", "1"],
            &["ZLEXCOUNT", key, "-", "+"],
            &["ZRANGE", key, "0", "-1"],
            &["ZREVRANGE", key, "0", "-1"],
            &["ZRANGEBYSCORE", key, "0", "1"],
            &["ZRANGEBYLEX", key, "-", "+"],
            &["ZRANK", key, "a"],
            &["ZREVRANK", key, "a"],
            &["ZREMRANGEBYRANK", key, "0", "1"],
            &["ZREMRANGEBYSCORE", key, "0", "1"],
            &["ZREMRANGEBYLEX", key, "-", "+"],
            &["ZPOPMIN", key],
            &["ZPOPMAX", key, "2"],
            &["ZRANDMEMBER", key],
            &["ZRANDMEMBER", key, "2"],
            &["ZSCAN", key, "0"],
        ] {
            c.expect_cmd(cmd, WRONGTYPE);
        }
    }
    c.expect_cmd(&["ZADD", "z", "1", "a"], int(1));
    c.expect_cmd(&["GET", "z"], WRONGTYPE);
    c.expect_cmd(&["HGET", "z", "a"], WRONGTYPE);
    c.expect_cmd(&["SET", "z", "now a string"], OK);
    c.expect_cmd(&["TYPE", "z"], "+string\r\n");
}

#[test]
fn rate_limiter_trio_in_multi_exec() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["ZADD", "rl", "100", "r100", "200", "r200", "300", "r300"], int(3));
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["ZREMRANGEBYSCORE", "rl", "-inf", "(250"], "+QUEUED\r\n");
    c.expect_cmd(&["ZADD", "rl", "400", "r400"], "+QUEUED\r\n");
    c.expect_cmd(&["ZCARD", "rl"], "+QUEUED\r\n");
    c.expect_cmd(&["EXPIRE", "rl", "60"], "+QUEUED\r\n");
    c.expect_cmd(&["EXEC"], "*4\r\n:2\r\n:1\r\n:2\r\n:1\r\n");
    c.expect_cmd(&["ZRANGE", "rl", "0", "-1"], bulks(&["r300", "r400"]));
    // A bad command queued aborts; one failing at run time does not.
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["ZADD", "rl", "x", "m"], "+QUEUED\r\n");
    c.expect_cmd(&["ZCARD", "rl"], "+QUEUED\r\n");
    c.expect_cmd(&["EXEC"], format!("*2\r\n{NOT_FLOAT}:2\r\n"));
}
