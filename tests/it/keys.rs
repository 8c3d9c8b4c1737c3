//! Keyspace commands: DEL, EXISTS, EXPIRE/PEXPIRE (with NX/XX/GT/LT), TTL/PTTL,
//! PERSIST, real expiry, DBSIZE, FLUSHDB, FLUSHALL and INFO keyspace.

use crate::common::*;
use std::thread::sleep;
use std::time::Duration;

/// The `dbN:` lines of INFO keyspace, in order.
fn keyspace_lines(c: &mut RawClient) -> Vec<String> {
    let info = c.info("keyspace");
    assert!(info.starts_with("# Keyspace\r\n"), "INFO keyspace should start with the section header:\n{info}");
    info.lines().filter(|l| l.starts_with("db")).map(str::to_string).collect()
}

/// Assert a keyspace line is `dbN:keys=K,expires=E,avg_ttl=<integer>`,
/// followed (Redis 7.4 on) by `,subexpiry=<integer>`.
fn assert_keyspace_line(line: &str, db: u32, keys: u64, expires: u64) {
    let prefix = format!("db{db}:keys={keys},expires={expires},avg_ttl=");
    let rest =
        line.strip_prefix(&prefix).unwrap_or_else(|| panic!("keyspace line {line:?} does not start with {prefix:?}"));
    let integers: Vec<&str> = match rest.split_once(",subexpiry=") {
        Some((avg_ttl, subexpiry)) => vec![avg_ttl, subexpiry],
        None => vec![rest],
    };
    assert!(
        integers.iter().all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        "avg_ttl (or subexpiry) in {line:?} is not a non-negative integer"
    );
}

#[test]
fn del_counts_deleted_keys() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MSET", "a", "1", "b", "2", "c", "3"], OK);
    c.expect_cmd(&["DEL", "a", "b", "missing", "a"], int(2));
    c.expect_cmd(&["GET", "a"], NIL);
    c.expect_cmd(&["GET", "c"], bulk("3"));
    c.expect_cmd(&["DEL", "a"], int(0));
    c.expect_cmd(&["DEL", "c"], int(1));
    c.expect_cmd(&["DEL"], arity_err("del"));
}

#[test]
fn exists_counts_duplicates() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "e", "1"], OK);
    c.expect_cmd(&["EXISTS", "e"], int(1));
    c.expect_cmd(&["EXISTS", "e", "e", "missing", "e"], int(3));
    c.expect_cmd(&["EXISTS", "missing"], int(0));
    c.expect_cmd(&["EXISTS"], arity_err("exists"));
}

#[test]
fn ttl_and_pttl_special_values() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["TTL", "missing"], int(-2));
    c.expect_cmd(&["PTTL", "missing"], int(-2));
    c.expect_cmd(&["SET", "p", "v"], OK);
    c.expect_cmd(&["TTL", "p"], int(-1));
    c.expect_cmd(&["PTTL", "p"], int(-1));
    c.expect_cmd(&["TTL"], arity_err("ttl"));
    c.expect_cmd(&["PTTL", "a", "b"], arity_err("pttl"));
}

#[test]
fn expire_sets_ttl() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "x", "v"], OK);
    c.expect_cmd(&["EXPIRE", "x", "100"], int(1));
    c.expect_cmd(&["TTL", "x"], int(100));
    let pttl = c.call_resp(&["PTTL", "x"]).int();
    assert!((99_000..=100_000).contains(&pttl), "PTTL after EXPIRE 100 = {pttl}");
    c.expect_cmd(&["EXPIRE", "missing", "100"], int(0));
    c.expect_cmd(&["EXISTS", "missing"], int(0));
    // EXPIRE replaces an existing TTL.
    c.expect_cmd(&["EXPIRE", "x", "1000"], int(1));
    c.expect_cmd(&["TTL", "x"], int(1000));
}

#[test]
fn pexpire_sets_ttl_in_ms() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "px", "v"], OK);
    c.expect_cmd(&["PEXPIRE", "px", "100000"], int(1));
    let pttl = c.call_resp(&["PTTL", "px"]).int();
    assert!((99_000..=100_000).contains(&pttl), "PTTL after PEXPIRE 100000 = {pttl}");
    c.expect_cmd(&["TTL", "px"], int(100));
    c.expect_cmd(&["PEXPIRE", "missing", "100"], int(0));
}

#[test]
fn expire_zero_or_negative_deletes() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MSET", "z1", "v", "z2", "v", "z3", "v"], OK);
    c.expect_cmd(&["EXPIRE", "z1", "0"], int(1));
    c.expect_cmd(&["EXISTS", "z1"], int(0));
    c.expect_cmd(&["GET", "z1"], NIL);
    c.expect_cmd(&["EXPIRE", "z2", "-10"], int(1));
    c.expect_cmd(&["TTL", "z2"], int(-2));
    c.expect_cmd(&["PEXPIRE", "z3", "-5"], int(1));
    c.expect_cmd(&["EXISTS", "z3"], int(0));
    c.expect_cmd(&["DBSIZE"], int(0));
    c.expect_cmd(&["EXPIRE", "z1", "0"], int(0));
}

#[test]
fn expire_argument_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "ee", "v"], OK);
    c.expect_cmd(&["EXPIRE", "ee", "abc"], NOT_INT_ERR);
    c.expect_cmd(&["EXPIRE", "ee", "1.0"], NOT_INT_ERR);
    c.expect_cmd(&["PEXPIRE", "ee", "abc"], NOT_INT_ERR);
    c.expect_cmd(&["EXPIRE", "ee", "9223372036854775807"], err("ERR invalid expire time in 'expire' command"));
    c.expect_cmd(&["EXPIRE", "ee", "9223372036854775"], err("ERR invalid expire time in 'expire' command"));
    c.expect_cmd(&["PEXPIRE", "ee", "9223372036854775807"], err("ERR invalid expire time in 'pexpire' command"));
    c.expect_cmd(&["EXPIRE", "ee"], arity_err("expire"));
    c.expect_cmd(&["PEXPIRE", "ee"], arity_err("pexpire"));
    c.expect_cmd(&["EXPIRE", "ee", "10", "FOO"], err("ERR Unsupported option FOO"));
    c.expect_cmd(
        &["EXPIRE", "ee", "10", "NX", "XX"],
        err("ERR NX and XX, GT or LT options at the same time are not compatible"),
    );
    c.expect_cmd(
        &["EXPIRE", "ee", "10", "NX", "GT"],
        err("ERR NX and XX, GT or LT options at the same time are not compatible"),
    );
    c.expect_cmd(&["EXPIRE", "ee", "10", "GT", "LT"], err("ERR GT and LT options at the same time are not compatible"));
    // Nothing above touched the key.
    c.expect_cmd(&["TTL", "ee"], int(-1));
}

#[test]
fn expire_nx_xx_gt_lt() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "o", "v"], OK);
    // No TTL yet: XX and GT fail, LT succeeds (no TTL counts as infinite).
    c.expect_cmd(&["EXPIRE", "o", "100", "XX"], int(0));
    c.expect_cmd(&["EXPIRE", "o", "100", "GT"], int(0));
    c.expect_cmd(&["TTL", "o"], int(-1));
    c.expect_cmd(&["EXPIRE", "o", "100", "NX"], int(1));
    c.expect_cmd(&["EXPIRE", "o", "200", "NX"], int(0));
    c.expect_cmd(&["TTL", "o"], int(100));
    c.expect_cmd(&["EXPIRE", "o", "50", "GT"], int(0));
    c.expect_cmd(&["EXPIRE", "o", "200", "gt"], int(1));
    c.expect_cmd(&["TTL", "o"], int(200));
    c.expect_cmd(&["EXPIRE", "o", "300", "LT"], int(0));
    c.expect_cmd(&["EXPIRE", "o", "150", "LT"], int(1));
    c.expect_cmd(&["TTL", "o"], int(150));
    c.expect_cmd(&["EXPIRE", "o", "120", "XX"], int(1));
    c.expect_cmd(&["TTL", "o"], int(120));
    c.expect_cmd(&["SET", "p", "v"], OK);
    c.expect_cmd(&["PEXPIRE", "p", "100000", "LT"], int(1));
    c.expect_cmd(&["TTL", "p"], int(100));
    c.expect_cmd(&["EXPIRE", "missing", "10", "NX"], int(0));
}

#[test]
fn persist_removes_ttl() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "per", "v", "EX", "100"], OK);
    c.expect_cmd(&["PERSIST", "per"], int(1));
    c.expect_cmd(&["TTL", "per"], int(-1));
    c.expect_cmd(&["PERSIST", "per"], int(0));
    c.expect_cmd(&["PERSIST", "missing"], int(0));
    c.expect_cmd(&["GET", "per"], bulk("v"));
    c.expect_cmd(&["PERSIST"], arity_err("persist"));
    c.expect_cmd(&["PERSIST", "a", "b"], arity_err("persist"));
}

#[test]
fn expired_key_is_really_gone() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "gone", "v", "PX", "50"], OK);
    c.expect_cmd(&["SET", "gone2", "7"], OK);
    c.expect_cmd(&["PEXPIRE", "gone2", "50"], int(1));
    c.expect_cmd(&["SET", "stays", "v", "PX", "60000"], OK);
    c.expect_cmd(&["GET", "gone"], bulk("v"));
    sleep(Duration::from_millis(120));
    c.expect_cmd(&["GET", "gone"], NIL);
    c.expect_cmd(&["EXISTS", "gone", "gone2", "stays"], int(1));
    c.expect_cmd(&["TTL", "gone"], int(-2));
    c.expect_cmd(&["PTTL", "gone2"], int(-2));
    c.expect_cmd(&["MGET", "gone", "stays"], "*2\r\n$-1\r\n$1\r\nv\r\n");
    // An expired key behaves like a missing one for writers too.
    c.expect_cmd(&["INCR", "gone2"], int(1));
    c.expect_cmd(&["TTL", "gone2"], int(-1));
    c.expect_cmd(&["SET", "gone", "again", "NX"], OK);
    c.expect_cmd(&["GET", "gone"], bulk("again"));
}

#[test]
fn commands_on_expired_keys_see_nothing() {
    let s = TestServer::start();
    let mut c = s.raw();
    for k in ["x:del", "x:persist", "x:expire", "x:ttl"] {
        c.expect_cmd(&["SET", k, "v", "PX", "30"], OK);
    }
    sleep(Duration::from_millis(100));
    c.expect_cmd(&["DEL", "x:del"], int(0));
    c.expect_cmd(&["PERSIST", "x:persist"], int(0));
    c.expect_cmd(&["EXPIRE", "x:expire", "100"], int(0));
    c.expect_cmd(&["EXISTS", "x:expire"], int(0));
    c.expect_cmd(&["PTTL", "x:ttl"], int(-2));
}

#[test]
fn ttl_rounds_to_the_nearest_second() {
    // Redis reports (pttl + 500) / 1000.
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "r17", "v", "PX", "1700"], OK);
    c.expect_cmd(&["TTL", "r17"], int(2));
    c.expect_cmd(&["SET", "r12", "v", "PX", "1200"], OK);
    c.expect_cmd(&["TTL", "r12"], int(1));
}

#[test]
fn set_get_on_expired_key_returns_nil() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "sg", "old", "PX", "50"], OK);
    sleep(Duration::from_millis(120));
    c.expect_cmd(&["SET", "sg", "new", "GET"], NIL);
    c.expect_cmd(&["GET", "sg"], bulk("new"));
    c.expect_cmd(&["TTL", "sg"], int(-1));
}

#[test]
fn dbsize_counts_keys_of_selected_db() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["DBSIZE"], int(0));
    c.expect_cmd(&["MSET", "a", "1", "b", "2", "c", "3"], OK);
    c.expect_cmd(&["DBSIZE"], int(3));
    c.expect_cmd(&["DEL", "a"], int(1));
    c.expect_cmd(&["DBSIZE"], int(2));
    c.expect_cmd(&["SELECT", "3"], OK);
    c.expect_cmd(&["DBSIZE"], int(0));
    c.expect_cmd(&["SET", "a", "1"], OK);
    c.expect_cmd(&["DBSIZE"], int(1));
    c.expect_cmd(&["DBSIZE", "x"], arity_err("dbsize"));
}

#[test]
fn flushdb_only_clears_selected_db() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MSET", "a", "1", "b", "2"], OK);
    c.expect_cmd(&["SELECT", "1"], OK);
    c.expect_cmd(&["SET", "a", "db1"], OK);
    c.expect_cmd(&["FLUSHDB"], OK);
    c.expect_cmd(&["DBSIZE"], int(0));
    c.expect_cmd(&["GET", "a"], NIL);
    c.expect_cmd(&["SELECT", "0"], OK);
    c.expect_cmd(&["DBSIZE"], int(2));
    c.expect_cmd(&["GET", "a"], bulk("1"));
}

#[test]
fn flushall_clears_every_db() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "a", "1"], OK);
    c.expect_cmd(&["SELECT", "5"], OK);
    c.expect_cmd(&["SET", "b", "1", "EX", "100"], OK);
    c.expect_cmd(&["FLUSHALL"], OK);
    c.expect_cmd(&["DBSIZE"], int(0));
    c.expect_cmd(&["SELECT", "0"], OK);
    c.expect_cmd(&["DBSIZE"], int(0));
    c.expect_cmd(&["GET", "a"], NIL);
    // INFO keyspace has no db lines left.
    c.expect_cmd(&["INFO", "keyspace"], bulk("# Keyspace\r\n"));
}

#[test]
fn flush_options() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "a", "1"], OK);
    c.expect_cmd(&["FLUSHDB", "SYNC"], OK);
    c.expect_cmd(&["DBSIZE"], int(0));
    c.expect_cmd(&["SET", "a", "1"], OK);
    c.expect_cmd(&["FLUSHDB", "async"], OK);
    c.expect_cmd(&["EXISTS", "a"], int(0));
    c.expect_cmd(&["SET", "a", "1"], OK);
    c.expect_cmd(&["FLUSHALL", "ASYNC"], OK);
    c.expect_cmd(&["EXISTS", "a"], int(0));
    c.expect_cmd(&["FLUSHDB", "FOO"], SYNTAX_ERR);
    c.expect_cmd(&["FLUSHALL", "FOO"], SYNTAX_ERR);
}

#[test]
fn info_keyspace_reports_keys_and_expires() {
    let s = TestServer::start();
    let mut c = s.raw();
    assert_eq!(keyspace_lines(&mut c), Vec::<String>::new(), "empty server should have no db lines");
    c.expect_cmd(&["SET", "k1", "v"], OK);
    c.expect_cmd(&["SET", "k2", "v", "EX", "1000"], OK);
    c.expect_cmd(&["SET", "k3", "v", "PX", "2000000"], OK);
    c.expect_cmd(&["SELECT", "2"], OK);
    c.expect_cmd(&["SET", "k1", "v"], OK);
    let lines = keyspace_lines(&mut c);
    assert_eq!(lines.len(), 2, "expected db0 and db2 lines, got {lines:?}");
    assert_keyspace_line(&lines[0], 0, 3, 2);
    assert_keyspace_line(&lines[1], 2, 1, 0);
    c.expect_cmd(&["SELECT", "0"], OK);
    c.expect_cmd(&["PERSIST", "k2"], int(1));
    c.expect_cmd(&["DEL", "k1"], int(1));
    let lines = keyspace_lines(&mut c);
    assert_keyspace_line(&lines[0], 0, 2, 1);
}
