//! Blocking commands across connections (and so across worker threads):
//! BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP served by pushes (and SORT ...
//! STORE), and BZPOPMIN, BZPOPMAX, BZMPOP served by ZADD and by the other
//! writes that leave a sorted set at a key, from other clients in the order
//! the clients blocked, timeouts (with sub-second precision, and 0 for
//! ever), disconnects, CLIENT UNBLOCK,
//! INFO `blocked_clients` and CLIENT LIST's `b` flag, MULTI/EXEC (no
//! blocking inside; a push inside wakes only after EXEC), and a stress test
//! where every pushed item reaches exactly one of 200 blocked clients.
//!
//! Everything holds against redis-server 7.0 (differential mode).

use crate::common::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const NULL_ARRAY: &str = "*-1\r\n";
const QUEUED: &str = "+QUEUED\r\n";
const EMPTY_ARRAY: &str = "*0\r\n";

/// Wait until INFO says `n` clients are blocked.
fn wait_blocked(s: &TestServer, n: i64) {
    let mut c = s.raw();
    let start = Instant::now();
    loop {
        let info = c.call_resp(&["INFO", "clients"]).text();
        if info_int(&info, "blocked_clients") == n {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never {n} blocked clients:\n{info}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A client that sent `args` and is now blocked in it.
fn blocked(s: &TestServer, args: &[&str], already: i64) -> RawClient {
    let mut c = s.raw();
    c.send_cmd(args);
    wait_blocked(s, already + 1);
    c
}

/// Assert no reply arrives within `wait`.
fn assert_silent(c: &mut RawClient, wait: Duration) {
    c.set_read_timeout(wait);
    let mut byte = [0u8; 1];
    let read = std::io::Read::read(&mut c.stream(), &mut byte);
    assert!(read.is_err(), "a blocked client got a reply: {read:?} {:?}", byte);
    c.set_read_timeout(READ_TIMEOUT);
}

/// Run the blocking command `args`, expecting its null array after
/// `seconds` (deadlines are whole milliseconds, counted from the start of
/// the server's batch: a little early by the client's clock is fine).
fn expect_timeout_after(c: &mut RawClient, args: &[&str], seconds: f64) {
    let started = Instant::now();
    c.expect_cmd(args, NULL_ARRAY);
    let elapsed = started.elapsed().as_secs_f64();
    assert!(elapsed >= seconds - 0.005 && elapsed < seconds + 0.15, "{args:?} took {elapsed:.4} s");
}

#[test]
fn a_push_from_another_connection_serves_the_blocked_client() {
    let s = TestServer::start();
    let mut waiter = blocked(&s, &["BLPOP", "k", "0"], 0);
    let mut c = s.raw();
    c.expect_cmd(&["RPUSH", "k", "v"], int(1));
    waiter.expect_reply(bulks(&["k", "v"]));
    c.expect_cmd(&["EXISTS", "k"], int(0));
    wait_blocked(&s, 0);
    // BRPOP takes from the tail.
    let mut waiter = blocked(&s, &["BRPOP", "k", "5"], 0);
    c.expect_cmd(&["LPUSH", "k", "a"], int(1));
    waiter.expect_reply(bulks(&["k", "a"]));
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let s = TestServer::start();
    let mut waiters: Vec<RawClient> = (0..3).map(|i| blocked(&s, &["BLPOP", "k", "0"], i)).collect();
    let mut c = s.raw();
    c.expect_cmd(&["RPUSH", "k", "a", "b", "c", "d"], int(4));
    for (waiter, item) in waiters.iter_mut().zip(["a", "b", "c"]) {
        waiter.expect_reply(bulks(&["k", item]));
    }
    c.expect_cmd(&["LRANGE", "k", "0", "-1"], bulks(&["d"]));
    wait_blocked(&s, 0);
}

#[test]
fn several_keys_serve_from_the_first_that_has_items() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["RPUSH", "k2", "x"], int(1));
    c.expect_cmd(&["RPUSH", "k3", "y"], int(1));
    c.expect_cmd(&["BLPOP", "k1", "k2", "k3", "0"], bulks(&["k2", "x"]));
    let mut waiter = blocked(&s, &["BLPOP", "k1", "k2", "0"], 0);
    c.expect_cmd(&["RPUSH", "k2", "z"], int(1));
    waiter.expect_reply(bulks(&["k2", "z"]));
    c.expect_cmd(&["SET", "str", "v"], OK);
    c.expect_cmd(
        &["BLPOP", "k1", "str", "0"],
        err("WRONGTYPE Operation against a key holding the wrong kind of value"),
    );
}

#[test]
fn timeouts_have_sub_second_precision() {
    let s = TestServer::start();
    let mut c = s.raw();
    expect_timeout_after(&mut c, &["BLPOP", "k", "0.1"], 0.1);
    expect_timeout_after(&mut c, &["BRPOP", "a", "b", "0.25"], 0.25);
    c.expect_cmd(&["BLMOVE", "k", "d", "LEFT", "LEFT", "0.05"], NULL_ARRAY);
    c.expect_cmd(&["BRPOPLPUSH", "k", "d", "0.05"], NULL_ARRAY);
    c.expect_cmd(&["BLMPOP", "0.05", "1", "k", "LEFT"], NULL_ARRAY);
    let mut c3 = resp3(&s);
    c3.expect_cmd(&["BLPOP", "k", "0.05"], NULL3);
    c3.expect_cmd(&["BLMOVE", "k", "d", "LEFT", "LEFT", "0.05"], NULL3);
    // The connection goes on after a timeout.
    c.expect_cmd(&["PING"], PONG);
}

#[test]
fn timeout_zero_waits_until_a_push() {
    let s = TestServer::start();
    let mut waiter = blocked(&s, &["BLPOP", "k", "0"], 0);
    assert_silent(&mut waiter, Duration::from_millis(300));
    s.raw().expect_cmd(&["RPUSH", "k", "late"], int(1));
    waiter.expect_reply(bulks(&["k", "late"]));
}

#[test]
fn timeout_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    let not_float = err("ERR timeout is not a float or out of range");
    let negative = err("ERR timeout is negative");
    c.expect_cmd(&["BLPOP", "k", "abc"], not_float.clone());
    c.expect_cmd(&["BRPOP", "k", "1x"], not_float.clone());
    c.expect_cmd(&["BLPOP", "k", "-1"], negative.clone());
    c.expect_cmd(&["BLPOP", "k", "-1.5"], negative.clone());
    c.expect_cmd(&["BLMOVE", "k", "d", "LEFT", "LEFT", "x"], not_float.clone());
    c.expect_cmd(&["BLMOVE", "k", "d", "UP", "LEFT", "1"], SYNTAX_ERR);
    c.expect_cmd(&["BRPOPLPUSH", "k", "d", "-5"], negative.clone());
    c.expect_cmd(&["BLMPOP", "x", "1", "k", "LEFT"], not_float);
    c.expect_cmd(&["BLMPOP", "-1", "1", "k", "LEFT"], negative);
    c.expect_cmd(&["BLMPOP", "0", "0", "k", "LEFT"], err("ERR numkeys should be greater than 0"));
    c.expect_cmd(&["BLMPOP", "0", "1", "k", "MIDDLE"], SYNTAX_ERR);
    c.expect_cmd(&["BLMPOP", "0", "1", "k", "LEFT", "COUNT", "0"], err("ERR count should be greater than 0"));
    c.expect_cmd(&["BLPOP", "k"], arity_err("blpop"));
    c.expect_cmd(&["BLMPOP", "0", "1", "k"], arity_err("blmpop"));
    c.expect_cmd(&["BLMOVE", "k", "d", "LEFT", "LEFT"], arity_err("blmove"));
    c.expect_cmd(&["BRPOPLPUSH", "k", "d"], arity_err("brpoplpush"));
    wait_blocked(&s, 0);
}

#[test]
fn a_client_that_disconnects_while_blocked_is_forgotten() {
    let s = TestServer::start();
    let waiter = blocked(&s, &["BLPOP", "k", "0"], 0);
    drop(waiter);
    wait_blocked(&s, 0);
    let mut c = s.raw();
    c.expect_cmd(&["RPUSH", "k", "kept"], int(1));
    std::thread::sleep(Duration::from_millis(50));
    c.expect_cmd(&["LRANGE", "k", "0", "-1"], bulks(&["kept"]));
}

#[test]
fn blmove_and_brpoplpush_move_the_pushed_item() {
    let s = TestServer::start();
    let mut c = s.raw();
    let mut waiter = blocked(&s, &["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"], 0);
    c.expect_cmd(&["RPUSH", "dst", "old"], int(1));
    c.expect_cmd(&["RPUSH", "src", "a", "b"], int(2));
    waiter.expect_reply(bulk("b"));
    c.expect_cmd(&["LRANGE", "dst", "0", "-1"], bulks(&["b", "old"]));
    let mut waiter = blocked(&s, &["BRPOPLPUSH", "empty", "dst", "0"], 0);
    c.expect_cmd(&["LPUSH", "empty", "c"], int(1));
    waiter.expect_reply(bulk("c"));
    c.expect_cmd(&["LRANGE", "dst", "0", "-1"], bulks(&["c", "b", "old"]));
    // Served at once when the source has items.
    c.expect_cmd(&["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"], bulk("a"));
}

#[test]
fn blmpop_serves_a_count() {
    let s = TestServer::start();
    let mut c = s.raw();
    let mut waiter = blocked(&s, &["BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2"], 0);
    c.expect_cmd(&["RPUSH", "b", "1", "2", "3"], int(3));
    waiter.expect_reply(b"*2\r\n$1\r\nb\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n");
    c.expect_cmd(&["BLMPOP", "0", "2", "a", "b", "LEFT"], b"*2\r\n$1\r\nb\r\n*1\r\n$1\r\n1\r\n");
}

#[test]
fn inside_multi_blocking_commands_do_not_block() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MULTI"], OK);
    for cmd in [
        vec!["BLPOP", "k", "0"],
        vec!["BRPOP", "k", "0"],
        vec!["BLMOVE", "k", "d", "LEFT", "LEFT", "0"],
        vec!["BRPOPLPUSH", "k", "d", "0"],
        vec!["BLMPOP", "0", "1", "k", "LEFT"],
        vec!["RPUSH", "k", "x"],
        vec!["BLPOP", "k", "0"],
    ] {
        c.expect_cmd(&cmd, QUEUED);
    }
    let mut expected = b"*7\r\n*-1\r\n*-1\r\n$-1\r\n$-1\r\n*-1\r\n:1\r\n".to_vec();
    expected.extend_from_slice(&bulks(&["k", "x"]));
    c.expect_cmd(&["EXEC"], expected);
    wait_blocked(&s, 0);
}

#[test]
fn a_push_inside_multi_wakes_only_after_exec() {
    let s = TestServer::start();
    let mut waiter = blocked(&s, &["BLPOP", "k", "0"], 0);
    let mut c = s.raw();
    // Pushed and popped in one transaction: nothing for the waiter.
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["RPUSH", "k", "a"], QUEUED);
    c.expect_cmd(&["RPOP", "k"], QUEUED);
    c.expect_cmd(&["EXEC"], b"*2\r\n:1\r\n$1\r\na\r\n");
    assert_silent(&mut waiter, Duration::from_millis(100));
    wait_blocked(&s, 1);
    // The transaction sees its own pushes whole; the waiter gets the
    // first item after EXEC.
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["RPUSH", "k", "x", "y"], QUEUED);
    c.expect_cmd(&["LLEN", "k"], QUEUED);
    c.expect_cmd(&["LRANGE", "k", "0", "-1"], QUEUED);
    let mut expected = b"*3\r\n:2\r\n:2\r\n".to_vec();
    expected.extend_from_slice(&bulks(&["x", "y"]));
    c.expect_cmd(&["EXEC"], expected);
    waiter.expect_reply(bulks(&["k", "x"]));
    c.expect_cmd(&["LRANGE", "k", "0", "-1"], bulks(&["y"]));
}

#[test]
fn client_unblock_with_timeout_or_error() {
    let s = TestServer::start();
    let mut c = s.raw();
    let mut waiter = s.raw();
    let id = waiter.call_resp(&["CLIENT", "ID"]).int().to_string();
    waiter.send_cmd(&["BLPOP", "k", "0"]);
    wait_blocked(&s, 1);
    c.expect_cmd(&["CLIENT", "UNBLOCK", &id], int(1));
    waiter.expect_reply(NULL_ARRAY);
    c.expect_cmd(&["CLIENT", "UNBLOCK", &id], int(0));
    waiter.send_cmd(&["BLMOVE", "k", "d", "LEFT", "LEFT", "0"]);
    wait_blocked(&s, 1);
    c.expect_cmd(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"], int(1));
    waiter.expect_reply(NULL_ARRAY);
    waiter.send_cmd(&["BLMPOP", "0", "1", "k", "LEFT"]);
    wait_blocked(&s, 1);
    c.expect_cmd(&["CLIENT", "UNBLOCK", &id, "error"], int(1));
    waiter.expect_reply(err("UNBLOCKED client unblocked via CLIENT UNBLOCK"));
    waiter.expect_cmd(&["PING"], PONG);
    wait_blocked(&s, 0);
    c.expect_cmd(&["CLIENT", "UNBLOCK", &id, "FOO"], err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"));
    c.expect_cmd(&["CLIENT", "UNBLOCK", "x"], NOT_INT_ERR);
    c.expect_cmd(&["CLIENT", "UNBLOCK", "999999"], int(0));
    c.expect_cmd(&["CLIENT", "UNBLOCK"], arity_err("client|unblock"));
    // Released, it no longer waits: a push stays in the list.
    c.expect_cmd(&["RPUSH", "k", "v"], int(1));
    c.expect_cmd(&["LLEN", "k"], int(1));
}

#[test]
fn info_and_client_list_show_blocked_clients() {
    let s = TestServer::start();
    let mut c = s.raw();
    let info = c.call_resp(&["INFO", "clients"]).text();
    assert_eq!(info_int(&info, "blocked_clients"), 0);
    let _a = blocked(&s, &["BLPOP", "a", "0"], 0);
    let _b = blocked(&s, &["BRPOP", "b", "c", "0"], 1);
    let list = c.call_resp(&["CLIENT", "LIST"]).text();
    let flags_of = |command: &str| -> Vec<&str> {
        // Redis names a subcommand too (cmd=client|list).
        let is_command = |f: &str| f.strip_prefix("cmd=").is_some_and(|c| c.split('|').next() == Some(command));
        let lines = list.lines().filter(|l| l.split(' ').any(is_command));
        lines.filter_map(|l| l.split(' ').find(|f| f.starts_with("flags="))).collect()
    };
    assert_eq!(flags_of("blpop"), ["flags=b"], "{list}");
    assert_eq!(flags_of("brpop"), ["flags=b"], "{list}");
    assert_eq!(flags_of("client"), ["flags=N"], "{list}");
    c.expect_cmd(&["RPUSH", "c", "x"], int(1));
    wait_blocked(&s, 1);
}

#[test]
fn commands_pipelined_behind_a_blocked_one_wait_for_it() {
    let s = TestServer::start();
    let mut waiter = s.raw();
    waiter.send(&[encode(&["BLPOP", "k", "0"]), encode(&["PING"]), encode(&["LLEN", "k"])].concat());
    wait_blocked(&s, 1);
    assert_silent(&mut waiter, Duration::from_millis(100));
    s.raw().expect_cmd(&["RPUSH", "k", "a", "b"], int(2));
    waiter.expect_reply(bulks(&["k", "a"]));
    waiter.expect_reply(PONG);
    waiter.expect_reply(int(1));
}

#[test]
fn every_item_reaches_exactly_one_of_200_blocked_clients() {
    let s = TestServer::start();
    let waiters: Vec<RawClient> = (0..200)
        .map(|_| {
            let mut c = s.raw();
            c.send_cmd(&["BLPOP", "queue", "other", "0"]);
            c
        })
        .collect();
    wait_blocked(&s, 200);
    let port = s.port();
    let producers: Vec<_> = (0..5)
        .map(|p| {
            std::thread::spawn(move || {
                let mut c = RawClient::connect(port);
                for i in 0..40 {
                    let key = if i % 4 == 0 { "other" } else { "queue" };
                    let reply = c.call(&["RPUSH", key, &format!("{p}:{i}")]);
                    assert!(reply.starts_with(':'), "{reply}");
                }
            })
        })
        .collect();
    for producer in producers {
        assert!(producer.join().is_ok());
    }
    let mut delivered = BTreeMap::new();
    for mut waiter in waiters {
        let reply = waiter.read_resp();
        let item = reply.items()[1].text();
        *delivered.entry(item).or_insert(0) += 1;
    }
    assert_eq!(delivered.len(), 200, "every item once: {delivered:?}");
    assert!(delivered.values().all(|&n| n == 1));
    let mut c = s.raw();
    c.expect_cmd(&["EXISTS", "queue", "other"], int(0));
    wait_blocked(&s, 0);
}

// ---------------------------------------------------------------------------
// Sorted sets: BZPOPMIN, BZPOPMAX, BZMPOP
// ---------------------------------------------------------------------------

/// A `[key, member, score]` reply in RESP2 (the score a bulk string).
fn popped(key: &str, member: &str, score: &str) -> Vec<u8> {
    bulks(&[key, member, score])
}

#[test]
fn a_zadd_from_another_connection_serves_bzpopmin_and_bzpopmax() {
    let s = TestServer::start();
    let mut waiter = blocked(&s, &["BZPOPMIN", "z", "0"], 0);
    let mut c = s.raw();
    c.expect_cmd(&["ZADD", "z", "2", "b", "1.5", "a"], int(2));
    waiter.expect_reply(popped("z", "a", "1.5"));
    wait_blocked(&s, 0);
    // Served at once when a key already holds members.
    c.expect_cmd(&["BZPOPMAX", "none", "z", "5"], popped("z", "b", "2"));
    c.expect_cmd(&["EXISTS", "z"], int(0));
    let mut waiter = blocked(&s, &["BZPOPMAX", "z", "other", "0"], 0);
    c.expect_cmd(&["ZADD", "other", "1", "x", "7", "y"], int(2));
    waiter.expect_reply(popped("other", "y", "7"));
    c.expect_cmd(&["ZRANGE", "other", "0", "-1"], bulks(&["x"]));
    // RESP3: the score is a double.
    let mut waiter = resp3(&s);
    waiter.send_cmd(&["BZPOPMIN", "z", "0"]);
    wait_blocked(&s, 1);
    c.expect_cmd(&["ZADD", "z", "3", "m"], int(1));
    waiter.expect_reply("*3\r\n$1\r\nz\r\n$1\r\nm\r\n,3\r\n");
    c.expect_cmd(&["SET", "str", "v"], OK);
    c.expect_cmd(
        &["BZPOPMIN", "none", "str", "0"],
        err("WRONGTYPE Operation against a key holding the wrong kind of value"),
    );
}

#[test]
fn sorted_set_waiters_are_served_first_come_first_served() {
    let s = TestServer::start();
    let commands = [["BZPOPMIN", "z", "0"], ["BZPOPMAX", "z", "0"], ["BZPOPMIN", "z", "0"]];
    let mut waiters: Vec<RawClient> =
        commands.iter().enumerate().map(|(i, args)| blocked(&s, args, i as i64)).collect();
    let mut c = s.raw();
    c.expect_cmd(&["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"], int(4));
    let served = [("a", "1"), ("d", "4"), ("b", "2")];
    for (waiter, (member, score)) in waiters.iter_mut().zip(served) {
        waiter.expect_reply(popped("z", member, score));
    }
    c.expect_cmd(&["ZRANGE", "z", "0", "-1"], bulks(&["c"]));
    wait_blocked(&s, 0);
}

#[test]
fn any_write_that_leaves_a_sorted_set_serves_a_sorted_set_waiter() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["ZADD", "src", "1", "a", "2", "b"], int(2));
    let mut waiter = blocked(&s, &["BZPOPMAX", "dst", "0"], 0);
    c.expect_cmd(&["ZUNIONSTORE", "dst", "1", "src"], int(2));
    waiter.expect_reply(popped("dst", "b", "2"));
    c.expect_cmd(&["DEL", "dst"], int(1));
    let mut waiter = blocked(&s, &["BZPOPMIN", "dst", "0"], 0);
    c.expect_cmd(&["ZRANGESTORE", "dst", "src", "1", "1"], int(1));
    waiter.expect_reply(popped("dst", "b", "2"));
    let mut waiter = blocked(&s, &["BZPOPMIN", "dst", "0"], 0);
    c.expect_cmd(&["RENAME", "src", "dst"], OK);
    waiter.expect_reply(popped("dst", "a", "1"));
    // A list at the key does not serve it: the client keeps waiting.
    let mut waiter = blocked(&s, &["BZPOPMIN", "k", "0"], 0);
    c.expect_cmd(&["RPUSH", "k", "x"], int(1));
    assert_silent(&mut waiter, Duration::from_millis(100));
    wait_blocked(&s, 1);
    c.expect_cmd(&["DEL", "k"], int(1));
    c.expect_cmd(&["ZADD", "k", "5", "z"], int(1));
    waiter.expect_reply(popped("k", "z", "5"));
    wait_blocked(&s, 0);
}

#[test]
fn bzmpop_serves_a_count_from_either_end() {
    let s = TestServer::start();
    let mut c = s.raw();
    let mut waiter = blocked(&s, &["BZMPOP", "0", "2", "a", "b", "MAX", "COUNT", "2"], 0);
    c.expect_cmd(&["ZADD", "b", "1", "x", "2", "y", "3", "z"], int(3));
    waiter.expect_reply(b"*2\r\n$1\r\nb\r\n*2\r\n*2\r\n$1\r\nz\r\n$1\r\n3\r\n*2\r\n$1\r\ny\r\n$1\r\n2\r\n");
    c.expect_cmd(&["BZMPOP", "0", "2", "a", "b", "MIN"], b"*2\r\n$1\r\nb\r\n*1\r\n*2\r\n$1\r\nx\r\n$1\r\n1\r\n");
    c.expect_cmd(&["EXISTS", "b"], int(0));
    let mut waiter = resp3(&s);
    waiter.send_cmd(&["BZMPOP", "0", "1", "a", "MIN", "COUNT", "10"]);
    wait_blocked(&s, 1);
    c.expect_cmd(&["ZADD", "a", "0.5", "m"], int(1));
    waiter.expect_reply(b"*2\r\n$1\r\na\r\n*1\r\n*2\r\n$1\r\nm\r\n,0.5\r\n");
}

#[test]
fn sorted_set_pops_time_out_with_sub_second_precision() {
    let s = TestServer::start();
    let mut c = s.raw();
    expect_timeout_after(&mut c, &["BZPOPMIN", "z", "0.1"], 0.1);
    expect_timeout_after(&mut c, &["BZPOPMAX", "z", "0.2"], 0.2);
    c.expect_cmd(&["BZMPOP", "0.05", "2", "z", "y", "MIN", "COUNT", "3"], NULL_ARRAY);
    let mut c3 = resp3(&s);
    c3.expect_cmd(&["BZPOPMIN", "z", "0.05"], NULL3);
    c3.expect_cmd(&["BZMPOP", "0.05", "1", "z", "MAX"], NULL3);
    c.expect_cmd(&["PING"], PONG);
    wait_blocked(&s, 0);
}

#[test]
fn sorted_set_pop_argument_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    let not_float = err("ERR timeout is not a float or out of range");
    let negative = err("ERR timeout is negative");
    c.expect_cmd(&["BZPOPMIN", "k", "abc"], not_float.clone());
    c.expect_cmd(&["BZPOPMAX", "a", "b", "1x"], not_float.clone());
    c.expect_cmd(&["BZPOPMIN", "k", "-1"], negative.clone());
    c.expect_cmd(&["BZPOPMAX", "k", "-0.5"], negative.clone());
    c.expect_cmd(&["BZMPOP", "x", "1", "k", "MIN"], not_float);
    c.expect_cmd(&["BZMPOP", "-1", "1", "k", "MAX"], negative);
    // BZMPOP reads its other arguments before the timeout.
    c.expect_cmd(&["BZMPOP", "x", "0", "k", "MIN"], err("ERR numkeys should be greater than 0"));
    c.expect_cmd(&["BZMPOP", "x", "1", "k", "LEFT"], SYNTAX_ERR);
    c.expect_cmd(&["BZMPOP", "0", "3", "k", "MIN"], SYNTAX_ERR);
    c.expect_cmd(&["BZMPOP", "0", "1", "k", "MIN", "COUNT", "0"], err("ERR count should be greater than 0"));
    c.expect_cmd(&["BZMPOP", "0", "1", "k", "MIN", "COUNT"], SYNTAX_ERR);
    c.expect_cmd(&["BZMPOP", "0", "1", "k", "MIN", "COUNT", "1", "COUNT", "2"], SYNTAX_ERR);
    c.expect_cmd(&["BZPOPMIN", "k"], arity_err("bzpopmin"));
    c.expect_cmd(&["BZPOPMAX", "k"], arity_err("bzpopmax"));
    c.expect_cmd(&["BZMPOP", "0", "1", "k"], arity_err("bzmpop"));
    c.expect_cmd(&["SET", "str", "v"], OK);
    c.expect_cmd(
        &["BZMPOP", "0", "2", "none", "str", "MIN"],
        err("WRONGTYPE Operation against a key holding the wrong kind of value"),
    );
    wait_blocked(&s, 0);
}

#[test]
fn inside_multi_sorted_set_pops_do_not_block() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MULTI"], OK);
    for cmd in [
        vec!["BZPOPMIN", "k", "0"],
        vec!["BZPOPMAX", "k", "0"],
        vec!["BZMPOP", "0", "1", "k", "MIN"],
        vec!["ZADD", "k", "1", "a"],
        vec!["BZPOPMAX", "k", "0"],
    ] {
        c.expect_cmd(&cmd, QUEUED);
    }
    let mut expected = b"*5\r\n*-1\r\n*-1\r\n*-1\r\n:1\r\n".to_vec();
    expected.extend_from_slice(&popped("k", "a", "1"));
    c.expect_cmd(&["EXEC"], expected);
    wait_blocked(&s, 0);
}

#[test]
fn client_unblock_releases_sorted_set_pops() {
    let s = TestServer::start();
    let mut c = s.raw();
    let mut waiter = s.raw();
    let id = waiter.call_resp(&["CLIENT", "ID"]).int().to_string();
    waiter.send_cmd(&["BZPOPMIN", "z", "0"]);
    wait_blocked(&s, 1);
    c.expect_cmd(&["CLIENT", "UNBLOCK", &id], int(1));
    waiter.expect_reply(NULL_ARRAY);
    waiter.send_cmd(&["BZMPOP", "0", "1", "z", "MAX"]);
    wait_blocked(&s, 1);
    c.expect_cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"], int(1));
    waiter.expect_reply(err("UNBLOCKED client unblocked via CLIENT UNBLOCK"));
    wait_blocked(&s, 0);
    // Released, it no longer waits: the member stays.
    c.expect_cmd(&["ZADD", "z", "1", "a"], int(1));
    c.expect_cmd(&["ZCARD", "z"], int(1));
}

#[test]
fn sort_store_serves_a_list_waiter() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["RPUSH", "src", "3", "1", "2"], int(3));
    let mut waiter = blocked(&s, &["BLPOP", "dst", "0"], 0);
    c.expect_cmd(&["SORT", "src", "STORE", "dst"], int(3));
    waiter.expect_reply(bulks(&["dst", "1"]));
    c.expect_cmd(&["LRANGE", "dst", "0", "-1"], bulks(&["2", "3"]));
}

#[test]
fn a_transaction_that_fills_a_key_then_leaves_another_type_serves_nobody() {
    let s = TestServer::start();
    let mut c = s.raw();
    let cases: [(&[&str], &[&str]); 2] =
        [(&["BZPOPMIN", "k", "0"], &["ZADD", "k", "1", "a"]), (&["BLPOP", "k", "0"], &["RPUSH", "k", "a"])];
    for (wait, fill) in cases {
        let mut waiter = blocked(&s, wait, 0);
        // Filled, then overwritten with a string before EXEC ends: the
        // waiter keeps waiting (no WRONGTYPE, no null).
        c.expect_cmd(&["MULTI"], OK);
        c.expect_cmd(fill, QUEUED);
        c.expect_cmd(&["DEL", "k"], QUEUED);
        c.expect_cmd(&["SET", "k", "v"], QUEUED);
        c.expect_cmd(&["EXEC"], b"*3\r\n:1\r\n:1\r\n+OK\r\n");
        assert_silent(&mut waiter, Duration::from_millis(100));
        wait_blocked(&s, 1);
        c.expect_cmd(&["DEL", "k"], int(1));
        c.expect_cmd(fill, int(1));
        let reply = if wait[0] == "BLPOP" { bulks(&["k", "a"]) } else { popped("k", "a", "1") };
        waiter.expect_reply(reply);
        wait_blocked(&s, 0);
    }
}

#[test]
fn a_blocking_command_that_ends_unserved_counts_as_one_call() {
    let s = TestServer::start();
    let mut c = s.raw();
    let stat = |c: &mut RawClient, field: &str| cmdstat_int(&c.info("commandstats"), "blpop", field);
    c.expect_cmd(&["BLPOP", "k", "0.01"], NULL_ARRAY);
    assert_eq!((stat(&mut c, "calls"), stat(&mut c, "failed_calls")), (1, 0));
    let mut waiter = s.raw();
    let id = waiter.call_resp(&["CLIENT", "ID"]).int().to_string();
    for (reason, reply) in
        [("ERROR", err("UNBLOCKED client unblocked via CLIENT UNBLOCK")), ("TIMEOUT", NULL_ARRAY.into())]
    {
        c.expect_cmd(&["CONFIG", "RESETSTAT"], OK);
        waiter.send_cmd(&["BLPOP", "k", "0"]);
        wait_blocked(&s, 1);
        // Redis 7.0 counts the call when it blocks, 7.2 when it ends.
        if !s.reference_older_than(7, 2) {
            assert!(cmdstat(&c.info("commandstats"), "blpop").is_none(), "counted while it still waits");
        }
        c.expect_cmd(&["CLIENT", "UNBLOCK", &id, reason], int(1));
        waiter.expect_reply(reply);
        assert_eq!(stat(&mut c, "calls"), 1, "{reason}");
        // Redis 7.0 also counts an UNBLOCK ... TIMEOUT as failed; 7.2 does not.
        if reason == "ERROR" || !s.reference_older_than(7, 2) {
            assert_eq!(stat(&mut c, "failed_calls"), u64::from(reason == "ERROR"), "{reason}");
        }
    }
    // Served, it counts once too (not once per run).
    c.expect_cmd(&["CONFIG", "RESETSTAT"], OK);
    waiter.send_cmd(&["BLPOP", "k", "0"]);
    wait_blocked(&s, 1);
    c.expect_cmd(&["RPUSH", "k", "v"], int(1));
    waiter.expect_reply(bulks(&["k", "v"]));
    assert_eq!((stat(&mut c, "calls"), stat(&mut c, "failed_calls")), (1, 0));
}

// ---------------------------------------------------------------------------
// Served before the writer's next command
// ---------------------------------------------------------------------------

#[test]
fn a_pipelined_pop_after_a_push_does_not_take_a_waiters_element() {
    let s = TestServer::start();
    let mut waiter = blocked(&s, &["BLPOP", "k", "0"], 0);
    let mut c = s.raw();
    // The push serves the client already waiting before the pipelined
    // BLPOP runs, which then blocks in its turn.
    c.send(&[encode(&["LPUSH", "k", "1"]), encode(&["BLPOP", "k", "0"])].concat());
    waiter.expect_reply(bulks(&["k", "1"]));
    c.expect_reply(int(1));
    wait_blocked(&s, 1);
    s.raw().expect_cmd(&["LPUSH", "k", "2"], int(1));
    c.expect_reply(bulks(&["k", "2"]));
    // The same with a non-blocking pop: it finds the list empty.
    let mut waiter = blocked(&s, &["BZPOPMIN", "z", "0"], 0);
    c.send(&[encode(&["ZADD", "z", "1", "a"]), encode(&["ZPOPMIN", "z"]), encode(&["EXISTS", "z"])].concat());
    c.expect_reply(int(1));
    c.expect_reply(EMPTY_ARRAY);
    c.expect_reply(int(0));
    waiter.expect_reply(popped("z", "a", "1"));
}

#[test]
fn the_writer_sees_a_chain_of_moves_done() {
    let s = TestServer::start();
    let _first = blocked(&s, &["BRPOPLPUSH", "list1", "list2", "0"], 0);
    let _second = blocked(&s, &["BRPOPLPUSH", "list2", "list1", "0"], 1);
    let mut c = s.raw();
    // The first waiter moves foo to list2, which serves the second, which
    // moves it back: all before the writer's next command.
    c.expect_cmd(&["RPUSH", "list1", "foo"], int(1));
    c.expect_cmd(&["LRANGE", "list1", "0", "-1"], bulks(&["foo"]));
    c.expect_cmd(&["LRANGE", "list2", "0", "-1"], EMPTY_ARRAY);
    wait_blocked(&s, 0);
}

#[test]
fn clients_woken_by_one_transaction_are_served_in_key_order() {
    let s = TestServer::start();
    let mut first = blocked(&s, &["BRPOPLPUSH", "l1", "l3", "0"], 0);
    let mut second = blocked(&s, &["BLPOP", "l2", "0"], 1);
    let mut third = blocked(&s, &["BLMPOP", "0", "2", "l2", "l3", "LEFT", "COUNT", "1"], 2);
    let mut c = s.raw();
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["LPUSH", "l1", "1"], QUEUED);
    c.expect_cmd(&["LPUSH", "l2", "2"], QUEUED);
    c.expect_cmd(&["EXEC"], b"*2\r\n:1\r\n:1\r\n");
    // l1 first (its move fills l3), then l2, then l3: the third client
    // gets the moved element, not l2's, which went to the second.
    first.expect_reply(bulk("1"));
    second.expect_reply(bulks(&["l2", "2"]));
    third.expect_reply(b"*2\r\n$2\r\nl3\r\n*1\r\n$1\r\n1\r\n");
    c.expect_cmd(&["EXISTS", "l1", "l2", "l3"], int(0));
    wait_blocked(&s, 0);
}
