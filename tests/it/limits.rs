//! Limits on who may connect and how fast: protected mode, the rate of new
//! connections, and the rate of failed-AUTH log lines (Redistill only).

use std::io::Read;
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use crate::common::{free_port, redistill_only, run_redistill, TempDir, TestServer};

const REJECTED: &str = "-ERR max connections per second reached, try again later\r\n";

#[test]
fn protected_mode_refuses_a_public_bind_without_password() {
    if redistill_only() {
        return;
    }
    let port = free_port().to_string();
    let out = run_redistill(&["--bind", "0.0.0.0", "--port", &port], &[], Duration::from_secs(10));
    assert_eq!(out.code(), Some(1), "{out:?}");
    for word in ["protected mode", "server.bind", "security.password", "security.protected_mode", "0.0.0.0"] {
        assert!(out.stderr.contains(word), "stderr lacks {word:?}: {}", out.stderr);
    }
}

#[test]
fn protected_mode_allows_a_password_or_protected_mode_false() {
    if redistill_only() {
        return;
    }
    let dir = TempDir::new("limits");
    let off = dir.write("off.toml", "[security]\nprotected_mode = false\n");
    let off = off.to_string_lossy().into_owned();
    let with_password = dir.write("password.toml", "[security]\npassword = \"secret\"\n");
    let with_password = with_password.to_string_lossy().into_owned();
    for (config, env) in [(&off, &[][..]), (&with_password, &[][..]), (&off, &[("REDIS_PASSWORD", "secret")][..])] {
        let port = free_port().to_string();
        // Still running when the harness stops it: it started.
        let out =
            run_redistill(&["--config", config, "--bind", "0.0.0.0", "--port", &port], env, Duration::from_secs(2));
        assert_eq!(out.status, None, "exited: {out:?}");
        assert!(out.stderr.contains("ready to accept connections"), "{}", out.stderr);
    }
}

/// Connect and wait briefly for an unsolicited line: the refusal, or
/// nothing (admitted, the server waits for a command).
fn connect_and_listen(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut buf = [0u8; 128];
    match stream.read(&mut buf) {
        Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Err(_) => None,
    }
}

#[test]
fn max_connections_per_second_refuses_the_excess() {
    if redistill_only() {
        return;
    }
    let server = TestServer::start_with("[server]\nmax_connections_per_second = 5\n");
    // Let the bucket refill after the harness's readiness probes.
    thread::sleep(Duration::from_millis(1100));
    let streams: Vec<TcpStream> =
        (0..20).map(|_| TcpStream::connect(("127.0.0.1", server.port())).expect("connect")).collect();
    let mut admitted = 0;
    let mut refused = 0;
    for mut stream in streams {
        stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut buf = [0u8; 128];
        match stream.read(&mut buf) {
            Ok(n) => {
                assert_eq!(String::from_utf8_lossy(&buf[..n]), REJECTED);
                refused += 1;
            }
            Err(_) => admitted += 1,
        }
    }
    assert!((5..=7).contains(&admitted), "admitted {admitted}, refused {refused}");
    assert_eq!(admitted + refused, 20);

    thread::sleep(Duration::from_millis(1100));
    assert_eq!(connect_and_listen(server.port()), None, "admitted again once the bucket refilled");
    let mut client = server.raw();
    let info = client.info("stats");
    let counted: u64 = info
        .lines()
        .find_map(|line| line.strip_prefix("rejected_connections:"))
        .expect("rejected_connections in INFO stats")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(counted, refused, "{info}");
}

#[test]
fn failed_auth_is_logged_at_most_once_a_second() {
    if redistill_only() {
        return;
    }
    let server = TestServer::start_with_password("secret");
    let mut client = server.raw();
    let wrongpass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    for _ in 0..50 {
        client.expect_cmd(&["AUTH", "guess"], wrongpass);
    }
    let lines = |log: &str| log.lines().filter(|l| l.contains("failed AUTH")).count();
    let first = lines(&server.stderr_so_far());
    assert!((1..=2).contains(&first), "{}", server.stderr_so_far());

    thread::sleep(Duration::from_millis(1100));
    client.expect_cmd(&["AUTH", "guess"], wrongpass);
    thread::sleep(Duration::from_millis(100));
    let log = server.stderr_so_far();
    assert_eq!(lines(&log), first + 1, "{log}");
    let last = log.lines().rfind(|l| l.contains("failed AUTH")).unwrap();
    assert!(last.contains("suppressed"), "{last}");
    if first == 1 {
        assert!(last.contains("(49 more failed AUTH suppressed"), "{last}");
    }
}

#[test]
fn client_commands_per_second_answers_the_excess_with_an_error() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start_with("[server]\nclient_commands_per_second = 20\n");
    let mut c = s.raw();
    let mut pipeline = Vec::new();
    for _ in 0..60 {
        pipeline.extend(crate::common::encode(&["PING"]));
    }
    c.send(&pipeline);
    let replies: Vec<String> = (0..60).map(|_| c.read_reply()).collect();
    let pongs = replies.iter().filter(|r| *r == "+PONG\r\n").count();
    let limited = replies
        .iter()
        .filter(|r| *r == "-ERR max commands per second reached for this client, try again later\r\n")
        .count();
    assert_eq!(pongs + limited, 60, "{replies:?}");
    assert!((19..=22).contains(&pongs), "one second's burst of 20, got {pongs}");
    // The connection stays open, and another client has its own budget.
    thread::sleep(Duration::from_millis(200));
    c.expect_cmd(&["PING"], "+PONG\r\n");
    s.raw().expect_cmd(&["PING"], "+PONG\r\n");
}
