//! Blocking list commands across connections (and so across worker
//! threads): BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP served by pushes
//! from other clients in the order the clients blocked, timeouts (with
//! sub-second precision, and 0 for ever), disconnects, CLIENT UNBLOCK,
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
    for (command, timeout) in [(vec!["BLPOP", "k"], "0.1"), (vec!["BRPOP", "a", "b"], "0.25")] {
        let mut args = command.clone();
        args.push(timeout);
        let started = Instant::now();
        c.expect_cmd(&args, NULL_ARRAY);
        let elapsed = started.elapsed().as_secs_f64();
        let wanted: f64 = timeout.parse().unwrap_or(0.0);
        assert!(elapsed >= wanted && elapsed < wanted + 0.15, "{args:?} took {elapsed:.3} s");
    }
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
