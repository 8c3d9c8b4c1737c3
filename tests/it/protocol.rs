//! Wire protocol over raw sockets: inline commands, pipelining, frames split
//! at every byte, binary payloads, protocol errors (reply, then close), and
//! the frames Redis silently ignores.

use crate::common::*;
use std::io::Write;
use std::thread;
use std::time::Duration;

/// Send `bytes` on a fresh connection, expect exactly `error` (a full
/// `-ERR Protocol error: ...\r\n` line), then a closed connection; other
/// connections keep working.
fn assert_protocol_error(s: &TestServer, bytes: &[u8], error: &str) {
    let mut bystander = s.raw();
    bystander.expect_cmd(&["SET", "bystander", "still-here"], OK);
    let mut c = s.raw();
    c.expect(bytes, error);
    assert!(c.is_closed(), "connection still open after {error:?}");
    bystander.expect_cmd(&["GET", "bystander"], bulk("still-here"));
    s.raw().expect_cmd(&["PING"], PONG);
}

#[test]
fn inline_commands() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect(b"PING\r\n", PONG);
    c.expect(b"SET inl v\r\n", OK);
    c.expect(b"GET inl\r\n", bulk("v"));
    c.expect(b"ping hello\r\n", bulk("hello"));
    c.expect(b"   PING   \r\n", PONG);
    c.expect(b"SET  inl   spaced\r\n", OK);
    c.expect(b"GET inl\r\n", bulk("spaced"));
    // A bare LF terminates an inline command too.
    c.expect(b"PING\n", PONG);
}

#[test]
fn long_inline_command_under_the_limit() {
    let s = TestServer::start();
    let mut c = s.raw();
    let value = "a".repeat(60_000);
    c.expect(format!("SET longinline {value}\r\n").as_bytes(), OK);
    c.expect_cmd(&["GET", "longinline"], bulk(&value));
}

#[test]
fn inline_quoting() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect(b"SET q \"a b\"\r\n", OK);
    c.expect(b"GET q\r\n", bulk("a b"));
    c.expect(b"SET q 'single quoted'\r\n", OK);
    c.expect(b"GET q\r\n", bulk("single quoted"));
    c.expect(b"ECHO \"esc\\x41\\n\\t\\\"\"\r\n", bulk("escA\n\t\""));
    c.expect(b"ECHO 'it\\'s'\r\n", bulk("it's"));
    c.expect(b"ECHO \"\"\r\n", bulk(""));
    // A quote may open inside an argument, as in sdssplitargs.
    c.expect(b"SET a\"b c\" x\r\n", OK);
    c.expect(b"GET \"ab c\"\r\n", bulk("x"));
    c.expect(b"ECHO pre'fix s'\r\n", bulk("prefix s"));
}

#[test]
fn inline_empty_lines_are_ignored() {
    let s = TestServer::start();
    let mut c = s.raw();
    // Only the PING gets a reply; the empty lines produce nothing.
    c.expect(b"\r\n\r\n\n   \r\nPING\r\n", PONG);
    c.assert_silent_and_open(Duration::from_millis(100));
}

#[test]
fn inline_and_multibulk_mixed_in_one_write() {
    let s = TestServer::start();
    let mut c = s.raw();
    let mut batch = b"SET mix 1\r\n".to_vec();
    batch.extend(encode(&["INCR", "mix"]));
    batch.extend(b"INCR mix\r\n");
    batch.extend(encode(&["GET", "mix"]));
    c.send(&batch);
    c.expect_reply(OK);
    c.expect_reply(int(2));
    c.expect_reply(int(3));
    c.expect_reply(bulk("3"));
}

#[test]
fn pipeline_of_10000_commands() {
    let s = TestServer::start();
    let mut c = s.raw();
    const N: usize = 10_000;
    let mut batch = Vec::new();
    for i in 0..N {
        batch.extend(encode(&["SET", &format!("pipe:{i}"), &format!("value-{i}")]));
        batch.extend(encode(&["GET", &format!("pipe:{i}")]));
    }
    // One write, from another thread, so a server that stops reading while
    // its replies are unread can't deadlock the test.
    let mut writer = c.stream().try_clone().expect("clone stream");
    let sender = thread::spawn(move || writer.write_all(&batch));
    for i in 0..N {
        let set = c.read_reply();
        assert_eq!(set, OK, "reply to SET pipe:{i}");
        let get = c.read_reply_bytes();
        assert_eq!(show(&get), show(&bulk(format!("value-{i}"))), "reply to GET pipe:{i}");
    }
    sender.join().expect("writer thread").expect("write pipeline");
    c.expect_cmd(&["DBSIZE"], int(N as i64));
}

/// Send `frame` split at `at` with a pause in between, expect `reply`.
fn send_split(c: &mut RawClient, frame: &[u8], at: usize, reply: &[u8]) {
    c.send(&frame[..at]);
    thread::sleep(Duration::from_millis(2));
    c.send(&frame[at..]);
    let got = c.read_reply_bytes();
    assert!(
        got == reply,
        "frame split at {at}: {}\n  expected {}\n  got      {}",
        show(frame),
        show(reply),
        show(&got)
    );
}

#[test]
fn frames_split_at_every_byte() {
    let s = TestServer::start();
    let mut c = s.raw();
    let probe = encode(&["SET", "split:key", "hello world 000"]);
    for at in 1..probe.len() {
        let value = format!("hello world {at:03}");
        let set = encode(&["SET", "split:key", value.as_str()]);
        send_split(&mut c, &set, at, OK.as_bytes());
        let get = encode(&["GET", "split:key"]);
        send_split(&mut c, &get, at.min(get.len() - 1), &bulk(&value));
    }
}

#[test]
fn inline_split_at_every_byte() {
    let s = TestServer::start();
    let mut c = s.raw();
    let frame = b"SET isplit \"a b\"\r\n";
    for at in 1..frame.len() {
        send_split(&mut c, frame, at, OK.as_bytes());
    }
    c.expect(b"GET isplit\r\n", bulk("a b"));
}

#[test]
fn binary_payloads() {
    let s = TestServer::start();
    let mut c = s.raw();
    let all_bytes: Vec<u8> = (0..=255u8).cycle().take(256 * 40).collect();
    c.expect_cmd(&[&b"SET"[..], b"bin:all", &all_bytes], OK);
    c.expect_cmd(&["GET", "bin:all"], bulk(&all_bytes));
    // A value that looks like RESP must come back untouched.
    let resp_like = b"*2\r\n$3\r\nGET\r\n$1\r\nx\r\n+OK\r\n-ERR\r\n";
    c.expect_cmd(&[&b"SET"[..], b"bin:resp", resp_like], OK);
    c.expect_cmd(&["GET", "bin:resp"], bulk(resp_like));
    // A 1 MiB value delivered in small chunks.
    let big: Vec<u8> = (0..(1 << 20)).map(|i| (i % 253) as u8).collect();
    let frame = encode(&[&b"SET"[..], b"bin:big", &big]);
    for chunk in frame.chunks(7919) {
        c.send(chunk);
    }
    c.expect_reply(OK);
    c.expect_cmd(&["GET", "bin:big"], bulk(&big));
}

#[test]
fn empty_and_null_multibulk_are_ignored() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect(b"*0\r\n*-1\r\nPING\r\n", PONG);
    c.send(b"*0\r\n*-1\r\n");
    c.assert_silent_and_open(Duration::from_millis(100));
    c.expect_cmd(&["PING"], PONG);
}

#[test]
fn error_invalid_multibulk_length_too_large() {
    let s = TestServer::start();
    assert_protocol_error(&s, b"*2147483648\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
}

#[test]
fn error_invalid_multibulk_length_not_a_number() {
    let s = TestServer::start();
    assert_protocol_error(&s, b"*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
}

#[test]
fn error_bulk_over_512_mib() {
    let s = TestServer::start();
    assert_protocol_error(&s, b"*1\r\n$536870913\r\n", "-ERR Protocol error: invalid bulk length\r\n");
}

#[test]
fn error_invalid_bulk_length() {
    let s = TestServer::start();
    assert_protocol_error(&s, b"*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length\r\n");
    assert_protocol_error(&s, b"*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n");
}

#[test]
fn error_expected_dollar() {
    let s = TestServer::start();
    assert_protocol_error(&s, b"*1\r\nfoo\r\n", "-ERR Protocol error: expected '$', got 'f'\r\n");
    assert_protocol_error(&s, b"*2\r\n$3\r\nGET\r\n:1\r\n", "-ERR Protocol error: expected '$', got ':'\r\n");
}

#[test]
fn error_too_big_inline_request() {
    let s = TestServer::start();
    let line = vec![b'A'; 64 * 1024 + 1];
    assert_protocol_error(&s, &line, "-ERR Protocol error: too big inline request\r\n");
}

#[test]
fn error_too_big_count_strings() {
    let s = TestServer::start();
    let mut mbulk = b"*".to_vec();
    mbulk.extend(vec![b'1'; 70_000]);
    assert_protocol_error(&s, &mbulk, "-ERR Protocol error: too big mbulk count string\r\n");
    let mut bulk_len = b"*1\r\n$".to_vec();
    bulk_len.extend(vec![b'1'; 70_000]);
    assert_protocol_error(&s, &bulk_len, "-ERR Protocol error: too big bulk count string\r\n");
}

#[test]
fn error_unbalanced_quotes() {
    let s = TestServer::start();
    let e = "-ERR Protocol error: unbalanced quotes in request\r\n";
    assert_protocol_error(&s, b"SET k \"abc\r\n", e);
    assert_protocol_error(&s, b"SET k 'abc\r\n", e);
    // A closing quote must be followed by a space or the end of the line.
    assert_protocol_error(&s, b"ECHO \"a\"b\r\n", e);
}

#[test]
fn commands_before_a_protocol_error_are_answered() {
    let s = TestServer::start();
    let mut c = s.raw();
    let mut batch = encode(&["SET", "before", "1"]);
    batch.extend(b"PING\r\n");
    batch.extend(b"*1\r\nfoo\r\n");
    batch.extend(encode(&["SET", "after", "1"]));
    c.send(&batch);
    c.expect_reply(OK);
    c.expect_reply(PONG);
    c.expect_reply("-ERR Protocol error: expected '$', got 'f'\r\n");
    assert!(c.is_closed(), "connection still open after a protocol error");
    let mut other = s.raw();
    other.expect_cmd(&["GET", "before"], bulk("1"));
    other.expect_cmd(&["EXISTS", "after"], int(0));
}

#[test]
fn huge_declared_bulk_waits_without_failing() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.send(b"*3\r\n$3\r\nSET\r\n$4\r\nhuge\r\n$500000000\r\nonly a few bytes");
    // No reply (the argument is incomplete) and the connection stays open.
    c.assert_silent_and_open(Duration::from_millis(300));
    let mut other = s.raw();
    other.expect_cmd(&["PING"], PONG);
    other.expect_cmd(&["SET", "other", "ok"], OK);
    other.expect_cmd(&["GET", "other"], bulk("ok"));
    other.expect_cmd(&["EXISTS", "huge"], int(0));
    c.assert_silent_and_open(Duration::from_millis(100));
}

#[test]
fn many_tiny_writes_of_one_command() {
    let s = TestServer::start();
    let mut c = s.raw();
    let frame = encode(&["SET", "drip", "drip-fed value"]);
    for b in &frame {
        c.send(std::slice::from_ref(b));
    }
    c.expect_reply(OK);
    c.expect_cmd(&["GET", "drip"], bulk("drip-fed value"));
}

/// Replies may wait while the rest of a pipeline is being read, but never
/// for a frame the client has not finished sending.
#[test]
fn replies_are_not_held_for_an_unfinished_frame() {
    let s = TestServer::start();
    let mut c = s.raw();
    let value = "v".repeat(40_000);
    let mut batch = encode(&["SET", "first", &value]).repeat(3);
    let next = encode(&["GET", "first"]);
    batch.extend(&next[..next.len() - 3]);
    c.send(&batch);
    for _ in 0..3 {
        c.expect_reply(OK);
    }
    c.send(&next[next.len() - 3..]);
    c.expect_reply(bulk(&value));
}

#[test]
fn pipelined_large_replies() {
    let s = TestServer::start();
    let mut c = s.raw();
    let value: Vec<u8> = (0..(1 << 20)).map(|i| (i % 241) as u8).collect();
    c.expect_cmd(&[&b"SET"[..], b"big", &value], OK);
    // 48 MiB of replies to one write; read them while the server writes.
    const N: usize = 48;
    let batch = encode(&["GET", "big"]).repeat(N);
    let mut writer = c.stream().try_clone().expect("clone stream");
    let sender = thread::spawn(move || writer.write_all(&batch));
    let expected = bulk(&value);
    for i in 0..N {
        let got = c.read_reply_bytes();
        assert!(got == expected, "reply {i} of {N} differs ({} bytes)", got.len());
    }
    sender.join().expect("writer thread").expect("write pipeline");
    c.expect_cmd(&["PING"], PONG);
}

#[test]
fn client_vanishing_mid_reply_does_not_hurt_the_server() {
    let s = TestServer::start();
    let value = vec![b'v'; 1 << 20];
    s.raw().expect_cmd(&[&b"SET"[..], b"big", &value], OK);
    for _ in 0..5 {
        let mut c = s.raw();
        c.send(&encode(&["GET", "big"]).repeat(64));
        drop(c);
    }
    let mut other = s.raw();
    other.expect_cmd(&["PING"], PONG);
    other.expect_cmd(&["GET", "big"], bulk(&value));
}

#[test]
fn quit_after_pipelined_commands() {
    let s = TestServer::start();
    let mut c = s.raw();
    let mut batch = encode(&["SET", "q", "1"]);
    batch.extend(b"INCR q\r\n");
    batch.extend(encode(&["QUIT"]));
    batch.extend(encode(&["INCR", "q"]));
    c.send(&batch);
    c.expect_reply(OK);
    c.expect_reply(int(2));
    c.expect_reply(OK);
    assert!(c.is_closed(), "connection still open after QUIT");
    s.raw().expect_cmd(&["GET", "q"], bulk("2"));
}
