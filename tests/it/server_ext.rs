//! Server and connection commands: TIME, LASTSAVE, WAIT, SAVE, BGSAVE,
//! BGREWRITEAOF, FUNCTION FLUSH, SCRIPT FLUSH, MEMORY USAGE/HELP and RESET
//! (the rest of scripting is in `scripting.rs`).
//! Replies are checked against redis-server 7.0 (differential mode), except
//! where Redistill deliberately differs (refusing to persist, WAIT not
//! blocking, MEMORY USAGE's estimate), which those tests
//! mark with `redistill_only`; 7.2 behaviour is skipped on an older Redis.

use crate::common::*;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_s() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64
}

fn resp3(c: &mut RawClient) {
    let hello = c.call_resp(&["HELLO", "3"]);
    assert!(matches!(hello, Resp::Map(_)), "HELLO 3 should answer a map, got {hello:?}");
}

/// The lines of a HELP reply (an array of simple strings).
fn help_lines(c: &mut RawClient, args: &[&str]) -> Vec<String> {
    let reply = c.call_resp(args);
    reply
        .items()
        .iter()
        .map(|line| match line {
            Resp::Simple(text) => text.clone(),
            other => panic!("{args:?}: HELP lines are simple strings, got {other:?}"),
        })
        .collect()
}

/// Redis's HELP layout: a header naming the command, then HELP last.
fn assert_help_layout(lines: &[String], command: &str, must_mention: &str) {
    let header = format!("{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    assert_eq!(lines.first(), Some(&header), "{command} HELP header: {lines:?}");
    assert_eq!(
        &lines[lines.len() - 2..],
        ["HELP", "    Prints this help."],
        "{command} HELP ends with HELP: {lines:?}"
    );
    assert!(lines.iter().any(|l| l.starts_with(must_mention)), "{command} HELP mentions {must_mention:?}: {lines:?}");
}

// ---------------------------------------------------------------------------
// TIME, LASTSAVE
// ---------------------------------------------------------------------------

#[test]
fn time_is_seconds_and_microseconds() {
    let s = TestServer::start();
    let mut c = s.raw();
    for protocol in [2, 3] {
        if protocol == 3 {
            resp3(&mut c);
        }
        let reply = c.call_resp(&["TIME"]);
        let items = reply.items();
        assert_eq!(items.len(), 2, "TIME: {reply:?}");
        assert!(matches!(reply, Resp::Array(_)), "TIME is an array in RESP{protocol}: {reply:?}");
        let secs: i64 = items[0].text().parse().expect("seconds are an integer");
        let micros: i64 = items[1].text().parse().expect("microseconds are an integer");
        assert!((now_s() - secs).abs() <= 2, "TIME seconds {secs} vs the clock's {}", now_s());
        assert!((0..1_000_000).contains(&micros), "TIME microseconds {micros}");
    }
}

#[test]
fn time_moves_forward() {
    let s = TestServer::start();
    let mut c = s.raw();
    let read = |c: &mut RawClient| {
        let reply = c.call_resp(&["TIME"]);
        let items = reply.items();
        let secs: i64 = items[0].text().parse().expect("seconds");
        let micros: i64 = items[1].text().parse().expect("micros");
        secs * 1_000_000 + micros
    };
    let first = read(&mut c);
    std::thread::sleep(Duration::from_millis(20));
    let second = read(&mut c);
    assert!(second - first >= 15_000, "TIME advanced by {}us over a 20ms sleep", second - first);
}

#[test]
fn time_and_lastsave_take_no_arguments() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["TIME", "x"], arity_err("time"));
    c.expect_cmd(&["LASTSAVE", "x"], arity_err("lastsave"));
}

#[test]
fn lastsave_is_the_start_time() {
    let before = now_s();
    let s = TestServer::start();
    let mut c = s.raw();
    let lastsave = c.call_resp(&["LASTSAVE"]).int();
    assert!((before - 1..=now_s()).contains(&lastsave), "LASTSAVE {lastsave}, server started at about {before}");
    c.expect_cmd(&["SET", "k", "v"], OK);
    std::thread::sleep(Duration::from_millis(1100));
    c.expect_cmd(&["LASTSAVE"], int(lastsave));
}

// ---------------------------------------------------------------------------
// WAIT
// ---------------------------------------------------------------------------

#[test]
fn wait_answers_zero_replicas() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    c.expect_cmd(&["WAIT", "0", "0"], int(0));
    c.expect_cmd(&["WAIT", "-1", "0"], int(0));
    c.expect_cmd(&["WAIT", "0", "100"], int(0));
    c.expect_cmd(&["WAIT", "1", "50"], int(0));
}

#[test]
fn wait_does_not_block() {
    if redistill_only() {
        return;
    }
    // Redis blocks until the timeout waiting for replicas it does not
    // have; Redistill has none to wait for and answers at once.
    let s = TestServer::start();
    let mut c = s.raw();
    let started = Instant::now();
    c.expect_cmd(&["WAIT", "1", "5000"], int(0));
    assert!(started.elapsed() < Duration::from_secs(2), "WAIT 1 5000 took {:?}", started.elapsed());
}

#[test]
fn wait_argument_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["WAIT", "a", "0"], NOT_INT_ERR);
    c.expect_cmd(&["WAIT", "1.5", "0"], NOT_INT_ERR);
    c.expect_cmd(&["WAIT", "0", "a"], err("ERR timeout is not an integer or out of range"));
    c.expect_cmd(&["WAIT", "0", "1.5"], err("ERR timeout is not an integer or out of range"));
    c.expect_cmd(&["WAIT", "0", "-1"], err("ERR timeout is negative"));
    c.expect_cmd(&["WAIT", "0"], arity_err("wait"));
    c.expect_cmd(&["WAIT", "0", "0", "0"], arity_err("wait"));
}

#[test]
fn wait_timeout_out_of_range() {
    let s = TestServer::start();
    // Redis 7.2 checks that the deadline does not overflow; 7.0 did not.
    if s.reference_older_than(7, 2) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["WAIT", "0", "9223372036854775807"], err("ERR timeout is out of range"));
}

// ---------------------------------------------------------------------------
// SAVE, BGSAVE, BGREWRITEAOF
// ---------------------------------------------------------------------------

#[test]
fn save_is_refused() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SAVE"], err("ERR Redistill is a cache and does not persist data; SAVE is not supported"));
}

#[test]
fn bgsave_is_refused() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start();
    let mut c = s.raw();
    let refused = err("ERR Redistill is a cache and does not persist data; BGSAVE is not supported");
    c.expect_cmd(&["BGSAVE"], refused.as_str());
    c.expect_cmd(&["BGSAVE", "SCHEDULE"], refused.as_str());
    c.expect_cmd(&["bgsave", "schedule"], refused.as_str());
}

#[test]
fn bgrewriteaof_is_refused() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(
        &["BGREWRITEAOF"],
        err("ERR Redistill is a cache and does not persist data; BGREWRITEAOF is not supported"),
    );
}

#[test]
fn persistence_command_argument_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SAVE", "x"], arity_err("save"));
    c.expect_cmd(&["BGREWRITEAOF", "x"], arity_err("bgrewriteaof"));
    c.expect_cmd(&["BGSAVE", "foo"], SYNTAX_ERR);
    c.expect_cmd(&["BGSAVE", "SCHEDULE", "x"], SYNTAX_ERR);
    c.expect_cmd(&["BGSAVE", "x", "y"], SYNTAX_ERR);
}

#[test]
fn persistence_commands_need_authentication() {
    let s = TestServer::start_with_password("pw");
    let mut c = s.raw();
    c.expect_cmd(&["SAVE"], err("NOAUTH Authentication required."));
    c.expect_cmd(&["BGSAVE"], err("NOAUTH Authentication required."));
}

// ---------------------------------------------------------------------------
// FUNCTION, SCRIPT
// ---------------------------------------------------------------------------

#[test]
fn function_flush_is_ok() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["FUNCTION", "FLUSH"], OK);
    c.expect_cmd(&["FUNCTION", "FLUSH", "ASYNC"], OK);
    c.expect_cmd(&["function", "flush", "sync"], OK);
}

#[test]
fn function_flush_bad_mode() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["FUNCTION", "FLUSH", "foo"], err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"));
    c.expect_cmd(
        &["FUNCTION", "FLUSH", "a", "b"],
        err("ERR unknown subcommand or wrong number of arguments for 'FLUSH'. Try FUNCTION HELP."),
    );
    c.expect_cmd(
        &["function", "flush", "a", "b"],
        err("ERR unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP."),
    );
}

#[test]
fn function_unknown_subcommand_and_arity() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["FUNCTION", "FOO"], err("ERR unknown subcommand 'FOO'. Try FUNCTION HELP."));
    c.expect_cmd(&["FUNCTION"], arity_err("function"));
    c.expect_cmd(&["FUNCTION", "HELP", "x"], arity_err("function|help"));
}

#[test]
fn function_help_lists_flush() {
    let s = TestServer::start();
    let mut c = s.raw();
    let lines = help_lines(&mut c, &["FUNCTION", "HELP"]);
    assert_help_layout(&lines, "FUNCTION", "FLUSH [ASYNC|SYNC]");
}

#[test]
fn script_flush_is_ok() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SCRIPT", "FLUSH"], OK);
    c.expect_cmd(&["SCRIPT", "FLUSH", "ASYNC"], OK);
    c.expect_cmd(&["script", "flush", "sync"], OK);
}

#[test]
fn script_flush_bad_mode() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SCRIPT", "FLUSH", "foo"], err("ERR SCRIPT FLUSH only support SYNC|ASYNC option"));
    c.expect_cmd(&["SCRIPT", "FLUSH", "a", "b"], err("ERR SCRIPT FLUSH only support SYNC|ASYNC option"));
}

#[test]
fn script_unknown_subcommand_and_arity() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SCRIPT", "foo"], err("ERR unknown subcommand 'foo'. Try SCRIPT HELP."));
    c.expect_cmd(&["SCRIPT"], arity_err("script"));
    c.expect_cmd(&["SCRIPT", "HELP", "x"], arity_err("script|help"));
}

#[test]
fn script_help_lists_flush() {
    let s = TestServer::start();
    let mut c = s.raw();
    let lines = help_lines(&mut c, &["SCRIPT", "HELP"]);
    assert_help_layout(&lines, "SCRIPT", "FLUSH [ASYNC|SYNC]");
}

// ---------------------------------------------------------------------------
// MEMORY
// ---------------------------------------------------------------------------

#[test]
fn memory_usage_of_missing_key_is_null() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MEMORY", "USAGE", "missing"], NIL);
    c.expect_cmd(&["MEMORY", "USAGE", "missing", "SAMPLES", "0"], NIL);
    resp3(&mut c);
    c.expect_cmd(&["MEMORY", "USAGE", "missing"], NULL3);
}

#[test]
fn memory_usage_grows_with_the_value() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    let small = c.call_resp(&["MEMORY", "USAGE", "k"]).int();
    assert!(small >= 2, "MEMORY USAGE of a 1-byte key with a 1-byte value: {small}");
    let value = "x".repeat(10_000);
    c.expect_cmd(&["SET", "k", value.as_str()], OK);
    let large = c.call_resp(&["MEMORY", "USAGE", "k"]).int();
    assert!(large >= 10_001 && large > small, "MEMORY USAGE with a 10,000-byte value: {large} (1 byte: {small})");
    c.expect_cmd(&["MEMORY", "USAGE", "k", "SAMPLES", "5"], int(large));
    c.expect_cmd(&["MEMORY", "USAGE", "k", "samples", "0", "SAMPLES", "3"], int(large));
}

#[test]
fn memory_usage_estimate() {
    if redistill_only() {
        return;
    }
    // key + value + 16 bytes per entry, + 8 with a deadline.
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "key", "value"], OK);
    c.expect_cmd(&["MEMORY", "USAGE", "key"], int(3 + 5 + 16));
    c.expect_cmd(&["EXPIRE", "key", "100"], int(1));
    c.expect_cmd(&["MEMORY", "USAGE", "key"], int(3 + 5 + 16 + 8));
}

#[test]
fn memory_usage_option_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    c.expect_cmd(&["MEMORY", "USAGE", "k", "SAMPLES"], SYNTAX_ERR);
    c.expect_cmd(&["MEMORY", "USAGE", "k", "SAMPLES", "-1"], SYNTAX_ERR);
    c.expect_cmd(&["MEMORY", "USAGE", "k", "SAMPLES", "a"], NOT_INT_ERR);
    c.expect_cmd(&["MEMORY", "USAGE", "k", "FOO"], SYNTAX_ERR);
    // Options are checked before the key is looked up.
    c.expect_cmd(&["MEMORY", "USAGE", "missing", "FOO"], SYNTAX_ERR);
    c.expect_cmd(&["MEMORY", "USAGE"], arity_err("memory|usage"));
}

#[test]
fn memory_unknown_subcommand_and_arity() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MEMORY", "foo"], err("ERR unknown subcommand 'foo'. Try MEMORY HELP."));
    c.expect_cmd(&["MEMORY"], arity_err("memory"));
    c.expect_cmd(&["MEMORY", "HELP", "x"], arity_err("memory|help"));
}

#[test]
fn memory_help_lists_usage() {
    let s = TestServer::start();
    let mut c = s.raw();
    let lines = help_lines(&mut c, &["MEMORY", "HELP"]);
    assert_help_layout(&lines, "MEMORY", "USAGE <key> [SAMPLES <count>]");
}

// ---------------------------------------------------------------------------
// RESET
// ---------------------------------------------------------------------------

#[test]
fn reset_restores_a_fresh_connection() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "db0"], OK);
    resp3(&mut c);
    c.expect_cmd(&["SELECT", "3"], OK);
    c.expect_cmd(&["CLIENT", "SETNAME", "named"], OK);
    c.expect_cmd(&["GET", "missing"], NULL3);
    c.expect_cmd(&["RESET"], "+RESET\r\n");
    // RESP2 again, database 0, no name.
    c.expect_cmd(&["GET", "missing"], NIL);
    c.expect_cmd(&["GET", "k"], bulk("db0"));
    c.expect_cmd(&["CLIENT", "GETNAME"], NIL);
    c.expect_cmd(&["RESET"], "+RESET\r\n");
}

#[test]
fn reset_keeps_the_client_id() {
    let s = TestServer::start();
    let mut c = s.raw();
    let id = c.call_resp(&["CLIENT", "ID"]).int();
    c.expect_cmd(&["RESET"], "+RESET\r\n");
    c.expect_cmd(&["CLIENT", "ID"], int(id));
}

#[test]
fn reset_drops_authentication() {
    let s = TestServer::start_with_password("pw");
    let mut c = s.raw();
    // RESET needs no authentication.
    c.expect_cmd(&["RESET"], "+RESET\r\n");
    c.expect_cmd(&["AUTH", "pw"], OK);
    c.expect_cmd(&["SET", "k", "v"], OK);
    c.expect_cmd(&["RESET"], "+RESET\r\n");
    c.expect_cmd(&["GET", "k"], err("NOAUTH Authentication required."));
    c.expect_cmd(&["AUTH", "pw"], OK);
    c.expect_cmd(&["GET", "k"], bulk("v"));
}

#[test]
fn reset_discards_a_transaction() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["SET", "k", "v"], "+QUEUED\r\n");
    // RESET runs at once inside MULTI, and drops the queued commands.
    c.expect_cmd(&["RESET"], "+RESET\r\n");
    c.expect_cmd(&["EXEC"], err("ERR EXEC without MULTI"));
    c.expect_cmd(&["GET", "k"], NIL);
}

#[test]
fn reset_forgets_watched_keys() {
    let s = TestServer::start();
    let mut c = s.raw();
    let mut other = s.raw();
    c.expect_cmd(&["WATCH", "k"], OK);
    c.expect_cmd(&["RESET"], "+RESET\r\n");
    other.expect_cmd(&["SET", "k", "changed"], OK);
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["GET", "k"], "+QUEUED\r\n");
    c.expect_cmd(&["EXEC"], "*1\r\n$7\r\nchanged\r\n");
}

#[test]
fn reset_takes_no_arguments() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["RESET", "x"], arity_err("reset"));
}

// ---------------------------------------------------------------------------
// The command table
// ---------------------------------------------------------------------------

#[test]
fn command_info_reports_redis_arities() {
    let s = TestServer::start();
    let mut c = s.raw();
    let arities = [
        ("append", 3),
        ("strlen", 2),
        ("getrange", 4),
        ("substr", 4),
        ("setrange", 4),
        ("getset", 3),
        ("getdel", 2),
        ("getex", -2),
        ("msetnx", -3),
        ("incrbyfloat", 3),
        ("setbit", 4),
        ("getbit", 3),
        ("bitcount", -2),
        ("unlink", -2),
        ("type", 2),
        ("touch", -2),
        ("expireat", -3),
        ("pexpireat", -3),
        ("expiretime", 2),
        ("pexpiretime", 2),
        ("time", 1),
        ("lastsave", 1),
        ("wait", 3),
        ("save", 1),
        ("bgsave", -1),
        ("bgrewriteaof", 1),
        ("function", -2),
        ("script", -2),
        ("memory", -2),
        ("reset", 1),
    ];
    for (name, arity) in arities {
        let reply = c.call_resp(&["COMMAND", "INFO", name]);
        let info = reply.items()[0].items();
        assert_eq!(info[0].text(), name, "COMMAND INFO {name}: {reply:?}");
        assert_eq!(info[1].int(), arity, "arity of {name}");
    }
}
