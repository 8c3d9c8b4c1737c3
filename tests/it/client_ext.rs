//! CLIENT PAUSE / UNPAUSE, REPLY, UNBLOCK, and CLIENT KILL / LIST with all
//! their filters, across connections.

use std::time::{Duration, Instant};

use crate::common::{bulk, info_field, RawClient, TestServer};

const OK: &str = "+OK\r\n";

fn field(line: &str, name: &str) -> Option<String> {
    line.split(' ').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=').map(String::from))
}

/// The ids CLIENT LIST shows.
fn listed_ids(c: &mut RawClient, args: &[&str]) -> Vec<String> {
    let list = c.call_resp(args).text();
    list.lines().filter_map(|line| field(line, "id")).collect()
}

/// Wait (up to 5 s) until INFO reports `n` blocked clients; Redis counts
/// the clients CLIENT PAUSE holds there, and so does Redistill.
fn wait_for_blocked(c: &mut RawClient, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let info = c.info("clients");
        if info_field(&info, "blocked_clients") == Some(n.to_string().as_str()) {
            return;
        }
        assert!(Instant::now() < deadline, "blocked_clients never reached {n}:\n{info}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ----- CLIENT PAUSE / UNPAUSE -----

#[test]
fn pause_write_holds_writes_until_unpause_and_lets_reads_through() {
    let s = TestServer::start();
    let (mut admin, mut writer, mut reader) = (s.raw(), s.raw(), s.raw());
    admin.expect_cmd(&["SET", "k", "old"], OK);
    admin.expect_cmd(&["CLIENT", "PAUSE", "60000", "WRITE"], OK);
    writer.send_cmd(&["SET", "k", "new"]);
    wait_for_blocked(&mut reader, 1);
    // Reads, and commands that do not write, go through at once.
    reader.expect_cmd(&["GET", "k"], bulk("old"));
    reader.expect_cmd(&["PING"], "+PONG\r\n");
    reader.expect_cmd(&["EXISTS", "k"], ":1\r\n");
    writer.assert_silent_and_open(Duration::from_millis(300));
    admin.expect_cmd(&["CLIENT", "UNPAUSE"], OK);
    writer.set_read_timeout(Duration::from_secs(5));
    writer.expect_reply(OK);
    reader.expect_cmd(&["GET", "k"], bulk("new"));
    wait_for_blocked(&mut reader, 0);
}

#[test]
fn pause_ends_by_itself_at_its_timeout() {
    let s = TestServer::start();
    let (mut admin, mut writer) = (s.raw(), s.raw());
    admin.expect_cmd(&["CLIENT", "PAUSE", "400", "WRITE"], OK);
    let started = Instant::now();
    writer.expect_cmd(&["INCR", "n"], ":1\r\n");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300), "the write waited only {waited:?}");
    assert!(waited < Duration::from_secs(5), "the write waited {waited:?}");
}

#[test]
fn pause_all_holds_every_command_even_the_pausers_unpause() {
    let s = TestServer::start();
    let (mut admin, mut other) = (s.raw(), s.raw());
    admin.expect_cmd(&["CLIENT", "PAUSE", "500", "ALL"], OK);
    let started = Instant::now();
    other.expect_cmd(&["PING"], "+PONG\r\n");
    assert!(started.elapsed() >= Duration::from_millis(350), "PING waited only {:?}", started.elapsed());
    // CLIENT UNPAUSE is held like anything else (Redis does the same).
    admin.expect_cmd(&["CLIENT", "PAUSE", "500", "ALL"], OK);
    let started = Instant::now();
    admin.expect_cmd(&["CLIENT", "UNPAUSE"], OK);
    assert!(started.elapsed() >= Duration::from_millis(350), "UNPAUSE waited only {:?}", started.elapsed());
}

#[test]
fn pause_default_mode_is_all_and_the_omitted_mode_holds_reads() {
    let s = TestServer::start();
    let (mut admin, mut reader) = (s.raw(), s.raw());
    admin.expect_cmd(&["CLIENT", "PAUSE", "400"], OK);
    let started = Instant::now();
    reader.expect_cmd(&["GET", "nothing"], "$-1\r\n");
    assert!(started.elapsed() >= Duration::from_millis(250), "GET waited only {:?}", started.elapsed());
}

#[test]
fn an_earlier_pause_all_outlasts_a_shorter_pause_write() {
    let s = TestServer::start();
    let (mut admin, mut reader) = (s.raw(), s.raw());
    let started = Instant::now();
    admin.expect_cmd(&["CLIENT", "PAUSE", "500", "ALL"], OK);
    admin.expect_cmd(&["CLIENT", "PAUSE", "20", "WRITE"], OK);
    reader.expect_cmd(&["GET", "x"], "$-1\r\n");
    assert!(started.elapsed() >= Duration::from_millis(400), "GET waited only {:?}", started.elapsed());
}

#[test]
fn pipelined_commands_behind_a_held_one_run_in_order_after_it() {
    let s = TestServer::start();
    let (mut admin, mut writer, mut reader) = (s.raw(), s.raw(), s.raw());
    admin.expect_cmd(&["CLIENT", "PAUSE", "60000", "WRITE"], OK);
    let mut pipeline = crate::common::encode(&["GET", "p"]);
    pipeline.extend(crate::common::encode(&["SET", "p", "1"]));
    pipeline.extend(crate::common::encode(&["GET", "p"]));
    pipeline.extend(crate::common::encode(&["INCR", "p"]));
    writer.send(&pipeline);
    // The read before the write is answered; the rest waits.
    writer.expect_reply("$-1\r\n");
    wait_for_blocked(&mut reader, 1);
    writer.assert_silent_and_open(Duration::from_millis(200));
    admin.expect_cmd(&["CLIENT", "UNPAUSE"], OK);
    writer.set_read_timeout(Duration::from_secs(5));
    writer.expect_reply(OK);
    writer.expect_reply(bulk("1"));
    writer.expect_reply(":2\r\n");
}

#[test]
fn refused_commands_are_answered_at_once_while_paused() {
    let s = TestServer::start();
    let (mut admin, mut other) = (s.raw(), s.raw());
    // Only its timeout ends an ALL pause (UNPAUSE is held too).
    admin.expect_cmd(&["CLIENT", "PAUSE", "1500", "ALL"], OK);
    other.set_read_timeout(Duration::from_secs(1));
    other.expect_cmd(&["GET"], "-ERR wrong number of arguments for 'get' command\r\n");
    let reply = other.call(&["NOSUCHCOMMAND"]);
    assert!(reply.starts_with("-ERR unknown command 'NOSUCHCOMMAND'"), "{reply}");
    // A valid command waits.
    other.send_cmd(&["PING"]);
    other.assert_silent_and_open(Duration::from_millis(200));
    other.set_read_timeout(Duration::from_secs(5));
    other.expect_reply("+PONG\r\n");
}

#[test]
fn pause_write_holds_an_exec_that_writes_but_not_one_that_reads() {
    let s = TestServer::start();
    let (mut admin, mut tx, mut reader) = (s.raw(), s.raw(), s.raw());
    admin.expect_cmd(&["SET", "k", "v"], OK);
    tx.expect_cmd(&["MULTI"], OK);
    tx.expect_cmd(&["SET", "k", "w"], "+QUEUED\r\n");
    admin.expect_cmd(&["CLIENT", "PAUSE", "60000", "WRITE"], OK);
    tx.send_cmd(&["EXEC"]);
    wait_for_blocked(&mut reader, 1);
    // A read-only transaction goes through.
    reader.expect_cmd(&["MULTI"], OK);
    reader.expect_cmd(&["GET", "k"], "+QUEUED\r\n");
    reader.expect_cmd(&["EXEC"], format!("*1\r\n{}", String::from_utf8_lossy(&bulk("v"))));
    tx.assert_silent_and_open(Duration::from_millis(200));
    admin.expect_cmd(&["CLIENT", "UNPAUSE"], OK);
    tx.set_read_timeout(Duration::from_secs(5));
    tx.expect_reply("*1\r\n+OK\r\n");
    reader.expect_cmd(&["GET", "k"], bulk("w"));
}

#[test]
fn pause_zero_and_unpause_without_a_pause_hold_nothing() {
    let s = TestServer::start();
    let (mut admin, mut writer) = (s.raw(), s.raw());
    admin.expect_cmd(&["CLIENT", "UNPAUSE"], OK);
    admin.expect_cmd(&["CLIENT", "PAUSE", "0", "WRITE"], OK);
    writer.set_read_timeout(Duration::from_secs(1));
    writer.expect_cmd(&["SET", "k", "v"], OK);
}

#[test]
fn pause_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CLIENT", "PAUSE", "abc"], "-ERR timeout is not an integer or out of range\r\n");
    c.expect_cmd(&["CLIENT", "PAUSE", "1.5"], "-ERR timeout is not an integer or out of range\r\n");
    c.expect_cmd(&["CLIENT", "PAUSE", "-1"], "-ERR timeout is negative\r\n");
    // Redis before 7.2 let the deadline overflow (into no pause at all).
    if !s.reference_older_than(7, 2) {
        c.expect_cmd(&["CLIENT", "PAUSE", "9223372036854775807"], "-ERR timeout is out of range\r\n");
    }
    // The mode is checked first.
    c.expect_cmd(&["CLIENT", "PAUSE", "abc", "sometimes"], "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n");
    c.expect_cmd(
        &["CLIENT", "PAUSE", "10", "WRITE", "extra"],
        "-ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.\r\n",
    );
    c.expect_cmd(&["CLIENT", "PAUSE"], "-ERR wrong number of arguments for 'client|pause' command\r\n");
    c.expect_cmd(&["CLIENT", "UNPAUSE", "now"], "-ERR wrong number of arguments for 'client|unpause' command\r\n");
    // None of them paused anything.
    c.set_read_timeout(Duration::from_secs(1));
    c.expect_cmd(&["SET", "k", "v"], OK);
}

// ----- CLIENT REPLY -----

#[test]
fn reply_off_suppresses_every_reply_until_on() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.send_cmd(&["CLIENT", "REPLY", "OFF"]);
    c.send_cmd(&["SET", "k", "v"]);
    c.send_cmd(&["PING"]);
    c.send_cmd(&["NOSUCHCOMMAND"]);
    c.send_cmd(&["GET"]);
    c.send_cmd(&["CLIENT", "REPLY", "bogus"]);
    c.expect_cmd(&["CLIENT", "REPLY", "ON"], OK);
    c.expect_cmd(&["GET", "k"], bulk("v"));
}

#[test]
fn reply_skip_drops_only_the_next_reply() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.send_cmd(&["CLIENT", "REPLY", "SKIP"]);
    c.send_cmd(&["SET", "k", "v"]);
    c.expect_cmd(&["GET", "k"], bulk("v"));
    // An error is skipped too.
    c.send_cmd(&["CLIENT", "REPLY", "SKIP"]);
    c.send_cmd(&["GET"]);
    c.expect_cmd(&["ECHO", "x"], bulk("x"));
    // SKIP while OFF leaves replies off.
    c.send_cmd(&["CLIENT", "REPLY", "OFF"]);
    c.send_cmd(&["CLIENT", "REPLY", "SKIP"]);
    c.send_cmd(&["PING"]);
    c.send_cmd(&["PING"]);
    c.expect_cmd(&["CLIENT", "REPLY", "ON"], OK);
    // ON right after SKIP is answered: it cancels the skip.
    c.send_cmd(&["CLIENT", "REPLY", "SKIP"]);
    c.expect_cmd(&["CLIENT", "REPLY", "ON"], OK);
    c.expect_cmd(&["PING"], "+PONG\r\n");
}

#[test]
fn reply_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CLIENT", "REPLY", "maybe"], "-ERR syntax error\r\n");
    c.expect_cmd(&["CLIENT", "REPLY"], "-ERR wrong number of arguments for 'client|reply' command\r\n");
    c.expect_cmd(&["CLIENT", "REPLY", "ON", "x"], "-ERR wrong number of arguments for 'client|reply' command\r\n");
    c.expect_cmd(&["CLIENT", "REPLY", "on"], OK);
}

// ----- CLIENT UNBLOCK -----

#[test]
fn unblock_answers_zero_for_clients_not_blocked() {
    let s = TestServer::start();
    let (mut c, mut other) = (s.raw(), s.raw());
    let id = other.call_resp(&["CLIENT", "ID"]).int().to_string();
    c.expect_cmd(&["CLIENT", "UNBLOCK", &id], ":0\r\n");
    c.expect_cmd(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"], ":0\r\n");
    c.expect_cmd(&["CLIENT", "UNBLOCK", &id, "error"], ":0\r\n");
    c.expect_cmd(&["CLIENT", "UNBLOCK", "999999"], ":0\r\n");
    c.expect_cmd(&["CLIENT", "UNBLOCK", "-1"], ":0\r\n");
    other.expect_cmd(&["PING"], "+PONG\r\n");
}

#[test]
fn unblock_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CLIENT", "UNBLOCK", "x"], "-ERR value is not an integer or out of range\r\n");
    c.expect_cmd(&["CLIENT", "UNBLOCK", "1", "later"], "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n");
    // The reason is checked before the id.
    c.expect_cmd(&["CLIENT", "UNBLOCK", "x", "later"], "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n");
    c.expect_cmd(&["CLIENT", "UNBLOCK"], "-ERR wrong number of arguments for 'client|unblock' command\r\n");
    c.expect_cmd(
        &["CLIENT", "UNBLOCK", "1", "TIMEOUT", "x"],
        "-ERR unknown subcommand or wrong number of arguments for 'UNBLOCK'. Try CLIENT HELP.\r\n",
    );
}

// ----- CLIENT KILL and CLIENT LIST -----

/// Kill `victim` with `kill` (arguments after CLIENT KILL, `{id}` and
/// `{addr}` replaced) and check that the killer's very next CLIENT LIST no
/// longer shows it, and that its connection closes.
fn assert_killed_at_once(s: &TestServer, kill: &[&str], reply: &str) {
    let mut killer = s.raw();
    let mut victim = s.raw();
    let id = victim.call_resp(&["CLIENT", "ID"]).int().to_string();
    let addr = field(victim.call_resp(&["CLIENT", "INFO"]).text().trim_end(), "addr").expect("addr");
    let mut args = vec!["CLIENT", "KILL"];
    args.extend(kill.iter().map(|a| match *a {
        "{id}" => id.as_str(),
        "{addr}" => addr.as_str(),
        other => other,
    }));
    killer.expect_cmd(&args, reply);
    assert!(!listed_ids(&mut killer, &["CLIENT", "LIST"]).contains(&id), "{kill:?}: victim still listed");
    victim.set_read_timeout(Duration::from_secs(2));
    assert!(victim.is_closed(), "{kill:?}: victim still connected");
}

#[test]
fn killed_clients_leave_client_list_before_the_reply() {
    let s = TestServer::start();
    assert_killed_at_once(&s, &["ID", "{id}"], ":1\r\n");
    assert_killed_at_once(&s, &["{addr}"], OK);
    assert_killed_at_once(&s, &["ADDR", "{addr}"], ":1\r\n");
    assert_killed_at_once(&s, &["ADDR", "{addr}", "TYPE", "normal", "USER", "default"], ":1\r\n");
    assert_killed_at_once(&s, &["ID", "{id}", "SKIPME", "yes"], ":1\r\n");
}

#[test]
fn kill_by_laddr_type_and_user_spares_the_caller() {
    let s = TestServer::start();
    let mut killer = s.raw();
    let laddr = field(killer.call_resp(&["CLIENT", "INFO"]).text().trim_end(), "laddr").expect("laddr");
    for filter in [["LADDR", laddr.as_str()], ["TYPE", "normal"], ["USER", "default"]] {
        let mut victims = [s.raw(), s.raw()];
        for v in &mut victims {
            v.expect_cmd(&["PING"], "+PONG\r\n");
        }
        let mut args = vec!["CLIENT", "KILL"];
        args.extend(filter);
        killer.expect_cmd(&args, ":2\r\n");
        assert_eq!(listed_ids(&mut killer, &["CLIENT", "LIST"]).len(), 1, "{filter:?}");
        for v in &mut victims {
            assert!(v.is_closed(), "{filter:?}");
        }
    }
}

#[test]
fn kill_types_no_client_has_kill_nobody() {
    let s = TestServer::start();
    let mut c = s.raw();
    let _other = s.raw();
    for kind in ["master", "replica", "slave", "pubsub", "MASTER"] {
        c.expect_cmd(&["CLIENT", "KILL", "TYPE", kind], ":0\r\n");
        c.expect_cmd(&["CLIENT", "KILL", "TYPE", kind, "SKIPME", "no"], ":0\r\n");
    }
    assert_eq!(listed_ids(&mut c, &["CLIENT", "LIST"]).len(), 2);
}

#[test]
fn kill_skipme_no_closes_the_caller_after_its_reply() {
    let s = TestServer::start();
    let mut c = s.raw();
    let id = c.call_resp(&["CLIENT", "ID"]).int().to_string();
    c.expect_cmd(&["CLIENT", "KILL", "ID", &id, "SKIPME", "no"], ":1\r\n");
    assert!(c.is_closed());
    // The old form may kill the caller too.
    let mut c = s.raw();
    let addr = field(c.call_resp(&["CLIENT", "INFO"]).text().trim_end(), "addr").expect("addr");
    c.expect_cmd(&["CLIENT", "KILL", &addr], OK);
    assert!(c.is_closed());
}

#[test]
fn kill_maxage_kills_only_clients_that_old() {
    let s = TestServer::start();
    // MAXAGE arrived in Redis 7.4.
    if s.reference_older_than(7, 4) {
        return;
    }
    let mut old = s.raw();
    old.expect_cmd(&["PING"], "+PONG\r\n");
    std::thread::sleep(Duration::from_millis(2100));
    let mut killer = s.raw();
    killer.expect_cmd(&["CLIENT", "KILL", "MAXAGE", "100"], ":0\r\n");
    killer.expect_cmd(&["CLIENT", "KILL", "MAXAGE", "2"], ":1\r\n");
    assert!(old.is_closed());
    killer.expect_cmd(&["CLIENT", "KILL", "MAXAGE", "0"], "-ERR maxage should be greater than 0\r\n");
    killer.expect_cmd(&["CLIENT", "KILL", "MAXAGE", "x"], "-ERR maxage is not an integer or out of range\r\n");
}

#[test]
fn kill_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CLIENT", "KILL", "TYPE", "bogus"], "-ERR Unknown client type 'bogus'\r\n");
    c.expect_cmd(&["CLIENT", "KILL", "USER", "bob"], "-ERR No such user 'bob'\r\n");
    c.expect_cmd(&["CLIENT", "KILL", "SKIPME", "maybe"], "-ERR syntax error\r\n");
    c.expect_cmd(&["CLIENT", "KILL", "ID", "1", "TYPE"], "-ERR syntax error\r\n");
    c.expect_cmd(&["CLIENT", "KILL", "ID", "-3"], "-ERR client-id should be greater than 0\r\n");
    c.expect_cmd(&["CLIENT", "KILL", "ID", "x"], "-ERR client-id should be greater than 0\r\n");
    c.expect_cmd(&["CLIENT", "KILL", "1.2.3.4:5"], "-ERR No such client\r\n");
    c.expect_cmd(&["CLIENT", "KILL"], "-ERR wrong number of arguments for 'client|kill' command\r\n");
}

#[test]
fn list_by_type_and_by_ids_in_the_order_asked() {
    let s = TestServer::start();
    let (mut a, mut b) = (s.raw(), s.raw());
    let id_a = a.call_resp(&["CLIENT", "ID"]).int().to_string();
    let id_b = b.call_resp(&["CLIENT", "ID"]).int().to_string();
    let mut expected = vec![id_a.clone(), id_b.clone()];
    expected.sort();
    // The harness's readiness probe may still be closing: wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let everyone = loop {
        let mut everyone = listed_ids(&mut a, &["CLIENT", "LIST", "TYPE", "normal"]);
        everyone.sort();
        if everyone == expected || std::time::Instant::now() > deadline {
            break everyone;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(everyone, expected);
    for kind in ["master", "replica", "slave", "pubsub", "PUBSUB"] {
        assert_eq!(a.call_resp(&["CLIENT", "LIST", "TYPE", kind]).text(), "", "{kind}");
    }
    assert_eq!(listed_ids(&mut a, &["CLIENT", "LIST", "ID", &id_b, &id_a]), [id_b.clone(), id_a.clone()]);
    assert_eq!(listed_ids(&mut a, &["CLIENT", "LIST", "ID", &id_b, "0", "-5", "999999"]), [id_b]);
    assert_eq!(a.call_resp(&["CLIENT", "LIST", "ID", "0"]).text(), "");
}

#[test]
fn list_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CLIENT", "LIST", "ID", "1", "x"], "-ERR Invalid client ID\r\n");
    c.expect_cmd(&["CLIENT", "LIST", "TYPE", "bogus"], "-ERR Unknown client type 'bogus'\r\n");
    c.expect_cmd(&["CLIENT", "LIST", "TYPE"], "-ERR syntax error\r\n");
    c.expect_cmd(&["CLIENT", "LIST", "TYPE", "normal", "x"], "-ERR syntax error\r\n");
    c.expect_cmd(&["CLIENT", "LIST", "ID"], "-ERR syntax error\r\n");
    c.expect_cmd(&["CLIENT", "LIST", "foo", "bar"], "-ERR syntax error\r\n");
}
