//! Keyspace commands beyond DEL/EXISTS/EXPIRE: UNLINK, TYPE, TOUCH,
//! EXPIREAT and PEXPIREAT (with NX/XX/GT/LT), EXPIRETIME and PEXPIRETIME.
//! Redis 7 replies, byte-exact, in RESP2 and RESP3; every expectation holds
//! against redis-server 7.0 (differential mode).

use crate::common::*;
use std::thread::sleep;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_s() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64
}

fn invalid_expire(command: &str) -> String {
    err(&format!("ERR invalid expire time in '{command}' command"))
}

// ---------------------------------------------------------------------------
// UNLINK, TYPE, TOUCH
// ---------------------------------------------------------------------------

#[test]
fn unlink_counts_removed_keys() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MSET", "a", "1", "b", "2", "c", "3"], OK);
    c.expect_cmd(&["UNLINK", "a", "b", "missing", "a"], int(2));
    c.expect_cmd(&["EXISTS", "a", "b", "c"], int(1));
    c.expect_cmd(&["UNLINK", "a"], int(0));
    c.expect_cmd(&["UNLINK"], arity_err("unlink"));
}

#[test]
fn type_of_strings_and_missing_keys() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "s", "v"], OK);
    c.expect_cmd(&["TYPE", "s"], "+string\r\n");
    c.expect_cmd(&["INCR", "n"], int(1));
    c.expect_cmd(&["TYPE", "n"], "+string\r\n");
    c.expect_cmd(&["TYPE", "missing"], "+none\r\n");
    c.expect_cmd(&["SET", "gone", "v", "PX", "1"], OK);
    sleep(Duration::from_millis(20));
    c.expect_cmd(&["TYPE", "gone"], "+none\r\n");
    c.expect_cmd(&["TYPE"], arity_err("type"));
    c.expect_cmd(&["TYPE", "a", "b"], arity_err("type"));
}

#[test]
fn touch_counts_existing_keys() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MSET", "a", "1", "b", "2"], OK);
    c.expect_cmd(&["TOUCH", "a"], int(1));
    c.expect_cmd(&["TOUCH", "a", "a", "b", "missing"], int(3));
    c.expect_cmd(&["TOUCH", "missing"], int(0));
    c.expect_cmd(&["TOUCH"], arity_err("touch"));
}

// ---------------------------------------------------------------------------
// EXPIREAT, PEXPIREAT
// ---------------------------------------------------------------------------

#[test]
fn expireat_sets_an_absolute_deadline() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    let at = now_s() + 100;
    c.expect_cmd(&["EXPIREAT", "k", &at.to_string()], int(1));
    c.expect_cmd(&["EXPIRETIME", "k"], int(at));
    let ttl = c.call_resp(&["TTL", "k"]).int();
    assert!((98..=100).contains(&ttl), "TTL after EXPIREAT now+100 = {ttl}");
    c.expect_cmd(&["EXPIREAT", "missing", &at.to_string()], int(0));
    c.expect_cmd(&["EXISTS", "missing"], int(0));
}

#[test]
fn pexpireat_sets_an_absolute_deadline() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    c.expect_cmd(&["PEXPIREAT", "k", "99999999999999"], int(1));
    c.expect_cmd(&["PEXPIRETIME", "k"], int(99_999_999_999_999));
    c.expect_cmd(&["EXPIRETIME", "k"], int(100_000_000_000));
    c.expect_cmd(&["PEXPIREAT", "k", "9223372036854775807"], int(1));
    c.expect_cmd(&["PEXPIRETIME", "k"], int(i64::MAX));
    c.expect_cmd(&["PEXPIREAT", "missing", "99999999999999"], int(0));
}

#[test]
fn expireat_in_the_past_deletes() {
    let s = TestServer::start();
    let mut c = s.raw();
    for (command, when) in [("EXPIREAT", "1"), ("EXPIREAT", "0"), ("EXPIREAT", "-5"), ("PEXPIREAT", "-1")] {
        c.expect_cmd(&["SET", "k", "v"], OK);
        c.expect_cmd(&[command, "k", when], int(1));
        c.expect_cmd(&["EXISTS", "k"], int(0));
    }
}

#[test]
fn expireat_conditions() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    // Without a deadline: XX and GT refuse, NX and LT apply.
    c.expect_cmd(&["EXPIREAT", "k", "99999999999", "XX"], int(0));
    c.expect_cmd(&["EXPIREAT", "k", "99999999999", "GT"], int(0));
    c.expect_cmd(&["EXPIREAT", "k", "99999999999", "NX"], int(1));
    c.expect_cmd(&["EXPIREAT", "k", "99999999990", "NX"], int(0));
    c.expect_cmd(&["EXPIRETIME", "k"], int(99_999_999_999));
    c.expect_cmd(&["EXPIREAT", "k", "99999999998", "GT"], int(0));
    c.expect_cmd(&["EXPIREAT", "k", "99999999998", "LT"], int(1));
    c.expect_cmd(&["EXPIREAT", "k", "99999999998", "LT"], int(0));
    c.expect_cmd(&["EXPIREAT", "k", "99999999999", "gt"], int(1));
    c.expect_cmd(&["EXPIREAT", "k", "99999999997", "XX", "LT"], int(1));
    c.expect_cmd(&["EXPIRETIME", "k"], int(99_999_999_997));
    c.expect_cmd(&["PEXPIREAT", "k", "99999999998000", "XX", "GT"], int(1));
    c.expect_cmd(&["PEXPIRETIME", "k"], int(99_999_999_998_000));
    // LT on a key without a deadline applies, even with a past time.
    c.expect_cmd(&["SET", "p", "v"], OK);
    c.expect_cmd(&["EXPIREAT", "p", "0", "GT"], int(0));
    c.expect_cmd(&["EXPIREAT", "p", "-5", "LT"], int(1));
    c.expect_cmd(&["EXISTS", "p"], int(0));
}

#[test]
fn expireat_incompatible_and_unknown_options() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    for command in ["EXPIREAT", "PEXPIREAT"] {
        c.expect_cmd(
            &[command, "k", "1", "NX", "XX"],
            err("ERR NX and XX, GT or LT options at the same time are not compatible"),
        );
        c.expect_cmd(
            &[command, "k", "1", "GT", "LT"],
            err("ERR GT and LT options at the same time are not compatible"),
        );
        c.expect_cmd(&[command, "k", "1", "FOO"], err("ERR Unsupported option FOO"));
        // Options are checked before the time.
        c.expect_cmd(&[command, "k", "abc", "FOO"], err("ERR Unsupported option FOO"));
    }
    c.expect_cmd(&["TTL", "k"], int(-1));
}

#[test]
fn expireat_time_not_an_integer() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    for bad in ["abc", "1.5", "", "99999999999999999999"] {
        c.expect_cmd(&["EXPIREAT", "k", bad], NOT_INT_ERR);
        c.expect_cmd(&["PEXPIREAT", "k", bad], NOT_INT_ERR);
    }
    c.expect_cmd(&["EXPIREAT", "k"], arity_err("expireat"));
    c.expect_cmd(&["PEXPIREAT", "k"], arity_err("pexpireat"));
}

#[test]
fn expireat_time_out_of_range() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    c.expect_cmd(&["EXPIREAT", "k", "9223372036854775807"], invalid_expire("expireat"));
    c.expect_cmd(&["EXPIREAT", "k", "-9223372036854775808"], invalid_expire("expireat"));
    c.expect_cmd(&["EXPIREAT", "k", "9223372036854776"], invalid_expire("expireat"));
    // The largest time in seconds that fits in milliseconds is accepted.
    c.expect_cmd(&["EXPIREAT", "k", "9223372036854775"], int(1));
    c.expect_cmd(&["PEXPIRETIME", "k"], int(9_223_372_036_854_775_000));
    // EXPIRE's relative variants still check for the same overflow.
    c.expect_cmd(&["PEXPIRE", "k", "9223372036854775807"], invalid_expire("pexpire"));
}

// ---------------------------------------------------------------------------
// EXPIRETIME, PEXPIRETIME
// ---------------------------------------------------------------------------

#[test]
fn expiretime_special_values() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["EXPIRETIME", "missing"], int(-2));
    c.expect_cmd(&["PEXPIRETIME", "missing"], int(-2));
    c.expect_cmd(&["SET", "p", "v"], OK);
    c.expect_cmd(&["EXPIRETIME", "p"], int(-1));
    c.expect_cmd(&["PEXPIRETIME", "p"], int(-1));
    c.expect_cmd(&["EXPIRETIME"], arity_err("expiretime"));
    c.expect_cmd(&["PEXPIRETIME", "a", "b"], arity_err("pexpiretime"));
}

#[test]
fn expiretime_rounds_to_the_nearest_second() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "r", "v", "PXAT", "1999999999499"], OK);
    c.expect_cmd(&["EXPIRETIME", "r"], int(1_999_999_999));
    c.expect_cmd(&["PEXPIRETIME", "r"], int(1_999_999_999_499));
    c.expect_cmd(&["SET", "r", "v", "PXAT", "1999999999500"], OK);
    c.expect_cmd(&["EXPIRETIME", "r"], int(2_000_000_000));
    c.expect_cmd(&["PEXPIREAT", "r", "9223372036854775807"], int(1));
    c.expect_cmd(&["EXPIRETIME", "r"], int(9_223_372_036_854_776));
}

#[test]
fn expiretime_follows_relative_expiry() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v", "EX", "100"], OK);
    let at = c.call_resp(&["EXPIRETIME", "k"]).int();
    let expected = now_s() + 100;
    assert!((expected - 2..=expected + 1).contains(&at), "EXPIRETIME after EX 100 = {at}, now+100 = {expected}");
    let at_ms = c.call_resp(&["PEXPIRETIME", "k"]).int();
    assert!((at_ms + 500) / 1000 == at, "PEXPIRETIME {at_ms} and EXPIRETIME {at} disagree");
    c.expect_cmd(&["PERSIST", "k"], int(1));
    c.expect_cmd(&["EXPIRETIME", "k"], int(-1));
}

#[test]
fn expired_keys_report_missing() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v", "PX", "1"], OK);
    sleep(Duration::from_millis(20));
    c.expect_cmd(&["EXPIRETIME", "k"], int(-2));
    c.expect_cmd(&["PEXPIRETIME", "k"], int(-2));
    c.expect_cmd(&["TOUCH", "k"], int(0));
    c.expect_cmd(&["UNLINK", "k"], int(0));
}

// ---------------------------------------------------------------------------
// RESP3 and statistics
// ---------------------------------------------------------------------------

#[test]
fn resp3_replies() {
    let s = TestServer::start();
    let mut c = s.raw_authed();
    let hello = c.call_resp(&["HELLO", "3"]);
    assert!(matches!(hello, Resp::Map(_)), "HELLO 3: {hello:?}");
    c.expect_cmd(&["SET", "k", "v"], OK);
    c.expect_cmd(&["TYPE", "k"], "+string\r\n");
    c.expect_cmd(&["TYPE", "missing"], "+none\r\n");
    c.expect_cmd(&["TOUCH", "k", "missing"], int(1));
    c.expect_cmd(&["EXPIREAT", "k", "99999999999"], int(1));
    c.expect_cmd(&["EXPIRETIME", "k"], int(99_999_999_999));
    c.expect_cmd(&["PEXPIRETIME", "missing"], int(-2));
    c.expect_cmd(&["UNLINK", "k"], int(1));
}

#[test]
fn lookups_count_as_keyspace_hits_and_misses() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    let before = c.info("stats");
    for key in ["k", "missing"] {
        c.call(&["TYPE", key]);
        c.call(&["TOUCH", key]);
        c.call(&["EXPIRETIME", key]);
        c.call(&["PEXPIRETIME", key]);
        c.call(&["TTL", key]);
        c.call(&["PTTL", key]);
        c.call(&["EXISTS", key]);
    }
    // Writes do not count.
    c.call(&["EXPIREAT", "k", "99999999999"]);
    c.call(&["UNLINK", "missing"]);
    let after = c.info("stats");
    let delta = |f: &str| info_int(&after, f) - info_int(&before, f);
    assert_eq!(delta("keyspace_hits"), 7, "keyspace_hits delta");
    assert_eq!(delta("keyspace_misses"), 7, "keyspace_misses delta");
}

#[test]
fn persist_without_a_deadline_does_not_touch_watched_keys() {
    let s = TestServer::start();
    let mut c = s.raw();
    let mut other = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    c.expect_cmd(&["WATCH", "k"], OK);
    other.expect_cmd(&["PERSIST", "k"], int(0));
    other.expect_cmd(&["EXPIREAT", "k", "99999999999", "XX"], int(0));
    other.expect_cmd(&["TOUCH", "k"], int(1));
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["PING"], "+QUEUED\r\n");
    c.expect_cmd(&["EXEC"], "*1\r\n+PONG\r\n");
    // A deadline that is set, or removed, is a change.
    for change in [&["EXPIREAT", "k", "99999999999"][..], &["PERSIST", "k"][..]] {
        c.expect_cmd(&["WATCH", "k"], OK);
        other.expect_cmd(change, int(1));
        c.expect_cmd(&["MULTI"], OK);
        c.expect_cmd(&["PING"], "+QUEUED\r\n");
        c.expect_cmd(&["EXEC"], "*-1\r\n");
    }
}
