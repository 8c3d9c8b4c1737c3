//! MULTI / EXEC / DISCARD / WATCH / UNWATCH against the real server,
//! including atomicity under concurrent clients.

use std::thread;
use std::time::Duration;

use crate::common::TestServer;

const OK: &str = "+OK\r\n";
const QUEUED: &str = "+QUEUED\r\n";

#[test]
fn exec_runs_the_queue_in_order() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["SET", "tx:a", "1"], QUEUED);
    c.expect_cmd(&["INCR", "tx:a"], QUEUED);
    c.expect_cmd(&["GET", "tx:a"], QUEUED);
    c.expect_cmd(&["EXEC"], "*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n");
    c.expect_cmd(&["EXEC"], "-ERR EXEC without MULTI\r\n");
    c.expect_cmd(&["DISCARD"], "-ERR DISCARD without MULTI\r\n");
}

#[test]
fn empty_transaction_and_nested_multi() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["MULTI"], "-ERR MULTI calls can not be nested\r\n");
    c.expect_cmd(&["EXEC"], "*0\r\n");
}

#[test]
fn discard_drops_the_queue() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["SET", "tx:d", "1"], QUEUED);
    c.expect_cmd(&["DISCARD"], OK);
    c.expect_cmd(&["GET", "tx:d"], "$-1\r\n");
}

#[test]
fn queue_time_errors_abort_with_execabort() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["SET", "tx:e", "1"], QUEUED);
    c.expect_cmd(&["NOSUCH", "x"], "-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n");
    c.expect_cmd(&["EXEC"], "-EXECABORT Transaction discarded because of previous errors.\r\n");
    c.expect_cmd(&["GET", "tx:e"], "$-1\r\n");
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["GET"], "-ERR wrong number of arguments for 'get' command\r\n");
    c.expect_cmd(&["EXEC"], "-EXECABORT Transaction discarded because of previous errors.\r\n");
}

#[test]
fn malformed_exec_aborts_inside_and_outside_multi() {
    let s = TestServer::start();
    let mut c = s.raw();
    let abort = "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n";
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["SET", "tx:m", "1"], QUEUED);
    c.expect_cmd(&["EXEC", "extra"], abort);
    c.expect_cmd(&["GET", "tx:m"], "$-1\r\n");
    c.expect_cmd(&["EXEC"], "-ERR EXEC without MULTI\r\n");
    // Outside MULTI too, and the WATCHes are dropped: a later transaction
    // runs although the watched key changed.
    c.expect_cmd(&["WATCH", "tx:m"], OK);
    c.expect_cmd(&["EXEC", "extra"], abort);
    c.expect_cmd(&["SET", "tx:m", "2"], OK);
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["GET", "tx:m"], QUEUED);
    c.expect_cmd(&["EXEC"], "*1\r\n$1\r\n2\r\n");
}

#[test]
fn run_time_errors_do_not_stop_the_rest() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "tx:s", "abc"], OK);
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["INCR", "tx:s"], QUEUED);
    c.expect_cmd(&["SET", "tx:t", "ok"], QUEUED);
    c.expect_cmd(&["EXEC"], "*2\r\n-ERR value is not an integer or out of range\r\n+OK\r\n");
    c.expect_cmd(&["GET", "tx:t"], "$2\r\nok\r\n");
}

#[test]
fn watch_aborts_when_another_client_writes() {
    let s = TestServer::start();
    let mut a = s.raw();
    let mut b = s.raw();
    a.expect_cmd(&["SET", "tx:w", "1"], OK);
    a.expect_cmd(&["WATCH", "tx:w"], OK);
    b.expect_cmd(&["SET", "tx:w", "2"], OK);
    a.expect_cmd(&["MULTI"], OK);
    a.expect_cmd(&["SET", "tx:w", "3"], QUEUED);
    a.expect_cmd(&["EXEC"], "*-1\r\n");
    a.expect_cmd(&["GET", "tx:w"], "$1\r\n2\r\n");
    // The watch is gone after EXEC: the next transaction goes through.
    a.expect_cmd(&["MULTI"], OK);
    a.expect_cmd(&["SET", "tx:w", "4"], QUEUED);
    a.expect_cmd(&["EXEC"], "*1\r\n+OK\r\n");
}

#[test]
fn watch_without_changes_commits_and_unwatch_forgets() {
    let s = TestServer::start();
    let mut a = s.raw();
    let mut b = s.raw();
    a.expect_cmd(&["WATCH", "tx:u", "tx:v"], OK);
    b.expect_cmd(&["SET", "tx:other", "x"], OK);
    a.expect_cmd(&["MULTI"], OK);
    a.expect_cmd(&["SET", "tx:u", "1"], QUEUED);
    a.expect_cmd(&["EXEC"], "*1\r\n+OK\r\n");
    a.expect_cmd(&["WATCH", "tx:u"], OK);
    a.expect_cmd(&["UNWATCH"], OK);
    b.expect_cmd(&["DEL", "tx:u"], ":1\r\n");
    a.expect_cmd(&["MULTI"], OK);
    a.expect_cmd(&["GET", "tx:u"], QUEUED);
    a.expect_cmd(&["EXEC"], "*1\r\n$-1\r\n");
}

#[test]
fn watch_is_invalidated_by_expiry_flush_and_delete() {
    let s = TestServer::start();
    let mut a = s.raw();
    let mut b = s.raw();
    a.expect_cmd(&["SET", "tx:x", "1", "PX", "50"], OK);
    a.expect_cmd(&["WATCH", "tx:x"], OK);
    thread::sleep(Duration::from_millis(120));
    a.expect_cmd(&["MULTI"], OK);
    a.expect_cmd(&["PING"], QUEUED);
    a.expect_cmd(&["EXEC"], "*-1\r\n");

    a.expect_cmd(&["SET", "tx:y", "1"], OK);
    a.expect_cmd(&["WATCH", "tx:y"], OK);
    b.expect_cmd(&["FLUSHDB"], OK);
    a.expect_cmd(&["MULTI"], OK);
    a.expect_cmd(&["PING"], QUEUED);
    a.expect_cmd(&["EXEC"], "*-1\r\n");

    a.expect_cmd(&["SET", "tx:z", "1"], OK);
    a.expect_cmd(&["WATCH", "tx:z"], OK);
    b.expect_cmd(&["DEL", "tx:z"], ":1\r\n");
    a.expect_cmd(&["MULTI"], OK);
    a.expect_cmd(&["PING"], QUEUED);
    a.expect_cmd(&["EXEC"], "*-1\r\n");
}

#[test]
fn watch_inside_multi_is_an_error() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["WATCH", "k"], "-ERR WATCH inside MULTI is not allowed\r\n");
    c.expect_cmd(&["EXEC"], "*0\r\n");
    c.expect_cmd(&["WATCH"], "-ERR wrong number of arguments for 'watch' command\r\n");
}

#[test]
fn aborted_exec_is_null_in_resp3() {
    let s = TestServer::start();
    let mut a = s.raw();
    let mut b = s.raw();
    a.call(&["HELLO", "3"]);
    a.expect_cmd(&["WATCH", "tx:r3"], OK);
    b.expect_cmd(&["SET", "tx:r3", "1"], OK);
    a.expect_cmd(&["MULTI"], OK);
    a.expect_cmd(&["PING"], QUEUED);
    a.expect_cmd(&["EXEC"], "_\r\n");
}

/// Transfers between two keys in MULTI/EXEC never show a half-applied
/// state to a client reading both keys in a transaction of its own.
#[test]
fn transfers_keep_the_total_constant() {
    let s = TestServer::start();
    let mut setup = s.raw();
    setup.expect_cmd(&["MSET", "acct:a", "1000", "acct:b", "1000"], OK);
    let port = s.port();
    let movers: Vec<_> = (0..4)
        .map(|i| {
            thread::spawn(move || {
                let mut c = crate::common::RawClient::connect(port);
                let (from, to) = if i % 2 == 0 { ("acct:a", "acct:b") } else { ("acct:b", "acct:a") };
                for _ in 0..300 {
                    c.expect_cmd(&["MULTI"], OK);
                    c.expect_cmd(&["DECRBY", from, "7"], QUEUED);
                    c.expect_cmd(&["INCRBY", to, "7"], QUEUED);
                    let reply = c.call_resp(&["EXEC"]);
                    assert_eq!(reply.items().len(), 2);
                }
            })
        })
        .collect();
    let mut reader = s.raw();
    for _ in 0..300 {
        reader.expect_cmd(&["MULTI"], OK);
        reader.expect_cmd(&["GET", "acct:a"], QUEUED);
        reader.expect_cmd(&["GET", "acct:b"], QUEUED);
        let reply = reader.call_resp(&["EXEC"]);
        let total: i64 = reply.items().iter().map(|v| v.text().parse::<i64>().unwrap_or(i64::MIN)).sum();
        assert_eq!(total, 2000, "a transaction saw a half-applied transfer");
    }
    for mover in movers {
        mover.join().expect("mover thread");
    }
}

/// SAVE and SHUTDOWN are refused when queued (Redis's `no-multi`), which
/// dooms the transaction; queued, SHUTDOWN would stop the server at EXEC.
#[test]
fn no_multi_commands_are_refused_inside_multi() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["SAVE"], "-ERR Command not allowed inside a transaction\r\n");
    c.expect_cmd(&["SHUTDOWN"], "-ERR Command not allowed inside a transaction\r\n");
    c.expect_cmd(&["SET", "tx:nomulti", "1"], QUEUED);
    c.expect_cmd(&["EXEC"], "-EXECABORT Transaction discarded because of previous errors.\r\n");
    c.expect_cmd(&["GET", "tx:nomulti"], "$-1\r\n");
    c.expect_cmd(&["PING"], "+PONG\r\n");
}
