//! Pub/Sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE,
//! SUNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB, byte for byte in RESP2 and
//! RESP3 (confirmations and messages are pushes there); the RESP2
//! subscribed mode and its errors; MULTI and scripts; leaving every
//! channel on RESET, QUIT, CLIENT KILL and close; delivery across workers
//! in publish order; `client-output-buffer-limit pubsub` closing a
//! subscriber that does not read while the publisher and the other
//! subscribers go on; INFO, CLIENT LIST and COMMAND.
//!
//! Everything holds against redis-server 7.0 (differential mode), except
//! what 7.0 did differently from 7.4 (guarded with `reference_older_than`).

use crate::common::*;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which protocol a raw client speaks, for the expected bytes.
#[derive(Clone, Copy, PartialEq)]
enum Proto {
    Resp2,
    Resp3,
}
use Proto::{Resp2, Resp3};

fn client(s: &TestServer, proto: Proto) -> RawClient {
    match proto {
        Resp2 => s.raw(),
        Resp3 => s.raw_resp3(),
    }
}

/// A message, confirmation or PING reply of `items` bulk strings (None is
/// null) and an optional final integer: an array in RESP2, a push in RESP3.
fn frame(proto: Proto, items: &[Option<&[u8]>], count: Option<i64>) -> Vec<u8> {
    let len = items.len() + usize::from(count.is_some());
    let mut out = match proto {
        Resp2 => format!("*{len}\r\n").into_bytes(),
        Resp3 => format!(">{len}\r\n").into_bytes(),
    };
    for item in items {
        match (item, proto) {
            (Some(item), _) => out.extend(bulk(item)),
            (None, Resp2) => out.extend_from_slice(b"$-1\r\n"),
            (None, Resp3) => out.extend_from_slice(b"_\r\n"),
        }
    }
    if let Some(count) = count {
        out.extend(int(count).into_bytes());
    }
    out
}

/// `[kind, name, count]` (`name` None: the null of an UNSUBSCRIBE that
/// had nothing to leave).
fn confirm(proto: Proto, kind: &str, name: Option<&str>, count: i64) -> Vec<u8> {
    frame(proto, &[Some(kind.as_bytes()), name.map(str::as_bytes)], Some(count))
}

fn message(proto: Proto, channel: &str, payload: &[u8]) -> Vec<u8> {
    frame(proto, &[Some(b"message"), Some(channel.as_bytes()), Some(payload)], None)
}

fn pmessage(proto: Proto, pattern: &str, channel: &str, payload: &[u8]) -> Vec<u8> {
    frame(proto, &[Some(b"pmessage"), Some(pattern.as_bytes()), Some(channel.as_bytes()), Some(payload)], None)
}

fn smessage(proto: Proto, channel: &str, payload: &[u8]) -> Vec<u8> {
    frame(proto, &[Some(b"smessage"), Some(channel.as_bytes()), Some(payload)], None)
}

/// Send `args` and expect each of `replies` in turn.
fn expect_all(c: &mut RawClient, args: &[&str], replies: &[Vec<u8>]) {
    c.send_cmd(args);
    for reply in replies {
        c.expect_reply(reply);
    }
}

/// Wait until `check` holds (10 s at most).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(10), "never: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// PUBSUB NUMSUB of one channel.
fn numsub(c: &mut RawClient, channel: &str) -> i64 {
    c.call_resp(&["PUBSUB", "NUMSUB", channel]).items()[1].int()
}

fn wait_numsub(s: &TestServer, channel: &str, n: i64) {
    let mut c = s.raw();
    eventually(&format!("{n} subscribers of {channel}"), || numsub(&mut c, channel) == n);
}

const CONTEXT_ERR: &str = "only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context";

fn context_err(command: &str) -> String {
    err(&format!("ERR Can't execute '{command}': {CONTEXT_ERR}"))
}

#[test]
fn subscribe_confirms_each_channel_with_the_running_count() {
    let s = TestServer::start();
    for proto in [Resp2, Resp3] {
        let mut c = client(&s, proto);
        expect_all(
            &mut c,
            &["SUBSCRIBE", "a", "b", "a"],
            &[
                confirm(proto, "subscribe", Some("a"), 1),
                confirm(proto, "subscribe", Some("b"), 2),
                confirm(proto, "subscribe", Some("a"), 2),
            ],
        );
        // Patterns count with channels; shard channels on their own.
        expect_all(&mut c, &["PSUBSCRIBE", "x*"], &[confirm(proto, "psubscribe", Some("x*"), 3)]);
        expect_all(
            &mut c,
            &["SSUBSCRIBE", "s1", "s2"],
            &[confirm(proto, "ssubscribe", Some("s1"), 1), confirm(proto, "ssubscribe", Some("s2"), 2)],
        );
        expect_all(
            &mut c,
            &["UNSUBSCRIBE", "b", "nope"],
            &[confirm(proto, "unsubscribe", Some("b"), 2), confirm(proto, "unsubscribe", Some("nope"), 2)],
        );
        expect_all(&mut c, &["PUNSUBSCRIBE", "x*"], &[confirm(proto, "punsubscribe", Some("x*"), 1)]);
        expect_all(&mut c, &["SUNSUBSCRIBE", "s2"], &[confirm(proto, "sunsubscribe", Some("s2"), 1)]);
        // Without arguments: every remaining one, then (nothing left) one
        // confirmation with a null name.
        expect_all(&mut c, &["UNSUBSCRIBE"], &[confirm(proto, "unsubscribe", Some("a"), 0)]);
        expect_all(&mut c, &["UNSUBSCRIBE"], &[confirm(proto, "unsubscribe", None, 0)]);
        expect_all(&mut c, &["PUNSUBSCRIBE"], &[confirm(proto, "punsubscribe", None, 0)]);
        expect_all(&mut c, &["SUNSUBSCRIBE"], &[confirm(proto, "sunsubscribe", Some("s1"), 0)]);
        expect_all(&mut c, &["SUNSUBSCRIBE"], &[confirm(proto, "sunsubscribe", None, 0)]);
        // Never subscribed at all: the same answers.
        let mut fresh = client(&s, proto);
        expect_all(&mut fresh, &["UNSUBSCRIBE"], &[confirm(proto, "unsubscribe", None, 0)]);
        expect_all(
            &mut fresh,
            &["PUNSUBSCRIBE", "p", "q"],
            &[confirm(proto, "punsubscribe", Some("p"), 0), confirm(proto, "punsubscribe", Some("q"), 0)],
        );
        fresh.expect_cmd(&["PING"], PONG);
    }
}

#[test]
fn unsubscribe_without_arguments_leaves_every_channel() {
    let s = TestServer::start();
    let mut sub = s.raw();
    sub.send_cmd(&["SUBSCRIBE", "c1", "c2", "c3"]);
    for _ in 0..3 {
        sub.read_reply_bytes();
    }
    sub.send_cmd(&["UNSUBSCRIBE"]);
    let mut left: Vec<(String, i64)> = (0..3)
        .map(|_| {
            let reply = sub.read_resp();
            assert_eq!(reply.items()[0].text(), "unsubscribe");
            (reply.items()[1].text(), reply.items()[2].int())
        })
        .collect();
    let counts: Vec<i64> = left.iter().map(|(_, count)| *count).collect();
    assert_eq!(counts, [2, 1, 0], "each confirmation carries the count left");
    left.sort();
    assert_eq!(left.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), ["c1", "c2", "c3"]);
    let mut c = s.raw();
    c.expect_cmd(&["PUBLISH", "c1", "x"], int(0));
    sub.expect_cmd(&["GET", "k"], NIL);
}

#[test]
fn subscribing_commands_check_their_arity() {
    let s = TestServer::start();
    let mut c = s.raw();
    for (args, name) in [
        (&["SUBSCRIBE"][..], "subscribe"),
        (&["PSUBSCRIBE"], "psubscribe"),
        (&["SSUBSCRIBE"], "ssubscribe"),
        (&["PUBLISH", "c"], "publish"),
        (&["PUBLISH", "c", "m", "x"], "publish"),
        (&["SPUBLISH", "c"], "spublish"),
        (&["PUBSUB"], "pubsub"),
    ] {
        c.expect_cmd(args, arity_err(name));
    }
}

#[test]
fn publish_reaches_channel_and_pattern_subscribers_in_both_protocols() {
    let s = TestServer::start();
    let mut pub_ = s.raw();
    pub_.expect_cmd(&["PUBLISH", "news.tech", "nobody"], int(0));
    let mut subs: Vec<(Proto, RawClient)> = Vec::new();
    for proto in [Resp2, Resp3] {
        let mut c = client(&s, proto);
        expect_all(&mut c, &["SUBSCRIBE", "news.tech"], &[confirm(proto, "subscribe", Some("news.tech"), 1)]);
        expect_all(&mut c, &["PSUBSCRIBE", "news.*"], &[confirm(proto, "psubscribe", Some("news.*"), 2)]);
        subs.push((proto, c));
    }
    // Each client gets the message twice, the channel's first.
    pub_.expect_cmd(&["PUBLISH", "news.tech", "hello"], int(4));
    pub_.expect_cmd(&["PUBLISH", "news.art", "bin\r\n\x00"], int(2));
    pub_.expect_cmd(&["PUBLISH", "NEWS.tech", "case"], int(0));
    pub_.expect_cmd(&["PUBLISH", "news", "none"], int(0));
    for (proto, c) in &mut subs {
        c.expect_reply(message(*proto, "news.tech", b"hello"));
        c.expect_reply(pmessage(*proto, "news.*", "news.tech", b"hello"));
        c.expect_reply(pmessage(*proto, "news.*", "news.art", b"bin\r\n\x00"));
        c.assert_silent_and_open(Duration::from_millis(100));
    }
}

#[test]
fn patterns_use_glob_rules() {
    let s = TestServer::start();
    let mut sub = s.raw();
    expect_all(
        &mut sub,
        &["PSUBSCRIBE", "h?llo", "h[ae]y", "x\\*"],
        &[
            confirm(Resp2, "psubscribe", Some("h?llo"), 1),
            confirm(Resp2, "psubscribe", Some("h[ae]y"), 2),
            confirm(Resp2, "psubscribe", Some("x\\*"), 3),
        ],
    );
    let mut c = s.raw();
    for (channel, receivers) in [("hello", 1), ("hallo", 1), ("hllo", 0), ("hey", 1), ("hiy", 0), ("x*", 1), ("xy", 0)]
    {
        c.expect_cmd(&["PUBLISH", channel, "m"], int(receivers));
    }
    for (pattern, channel) in [("h?llo", "hello"), ("h?llo", "hallo"), ("h[ae]y", "hey"), ("x\\*", "x*")] {
        sub.expect_reply(pmessage(Resp2, pattern, channel, b"m"));
    }
}

#[test]
fn shard_channels_are_a_name_space_of_their_own() {
    let s = TestServer::start();
    for proto in [Resp2, Resp3] {
        let mut shard = client(&s, proto);
        expect_all(&mut shard, &["SSUBSCRIBE", "ch"], &[confirm(proto, "ssubscribe", Some("ch"), 1)]);
        let mut plain = client(&s, proto);
        expect_all(&mut plain, &["SUBSCRIBE", "ch"], &[confirm(proto, "subscribe", Some("ch"), 1)]);
        expect_all(&mut plain, &["PSUBSCRIBE", "*"], &[confirm(proto, "psubscribe", Some("*"), 2)]);
        let mut c = s.raw();
        c.expect_cmd(&["SPUBLISH", "ch", "s"], int(1));
        c.expect_cmd(&["PUBLISH", "ch", "p"], int(2));
        shard.expect_reply(smessage(proto, "ch", b"s"));
        shard.assert_silent_and_open(Duration::from_millis(50));
        plain.expect_reply(message(proto, "ch", b"p"));
        plain.expect_reply(pmessage(proto, "*", "ch", b"p"));
        c.expect_cmd(&["SPUBLISH", "other", "s"], int(0));
    }
}

#[test]
fn large_messages_arrive_whole() {
    let s = TestServer::start();
    let mut r2 = s.raw();
    expect_all(&mut r2, &["SUBSCRIBE", "big"], &[confirm(Resp2, "subscribe", Some("big"), 1)]);
    let mut r3 = s.raw_resp3();
    expect_all(&mut r3, &["PSUBSCRIBE", "b*"], &[confirm(Resp3, "psubscribe", Some("b*"), 1)]);
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut c = s.raw();
    c.expect(&encode(&[&b"PUBLISH"[..], b"big", &payload]), int(2));
    r2.expect_reply(message(Resp2, "big", &payload));
    r3.expect_reply(pmessage(Resp3, "b*", "big", &payload));
}

#[test]
fn resp2_subscribed_mode_allows_only_the_subscribing_commands_ping_quit_and_reset() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["PING"], PONG);
    expect_all(&mut c, &["SUBSCRIBE", "ch"], &[confirm(Resp2, "subscribe", Some("ch"), 1)]);
    c.expect_cmd(&["GET", "k"], context_err("get"));
    c.expect_cmd(&["publish", "ch", "m"], context_err("publish"));
    c.expect_cmd(&["CLIENT", "LIST"], context_err("client|list"));
    c.expect_cmd(&["CONFIG", "GET", "maxmemory"], context_err("config|get"));
    c.expect_cmd(&["PUBSUB", "NUMPAT"], context_err("pubsub|numpat"));
    c.expect_cmd(&["MULTI"], context_err("multi"));
    c.expect_cmd(&["HELLO", "3"], context_err("hello"));
    // Unknown commands and wrong arity are refused as ever, first.
    c.expect_cmd(&["NOPE"], err("ERR unknown command 'NOPE', with args beginning with: "));
    c.expect_cmd(&["GET"], arity_err("get"));
    // PING answers ["pong", message or ""].
    c.expect_cmd(&["PING"], bulks(&["pong", ""]));
    c.expect_cmd(&["PING", "hi"], bulks(&["pong", "hi"]));
    c.expect_cmd(&["PING", "a", "b"], arity_err("ping"));
    expect_all(&mut c, &["PSUBSCRIBE", "p*"], &[confirm(Resp2, "psubscribe", Some("p*"), 2)]);
    expect_all(&mut c, &["UNSUBSCRIBE", "ch"], &[confirm(Resp2, "unsubscribe", Some("ch"), 1)]);
    c.expect_cmd(&["GET", "k"], context_err("get"));
    expect_all(&mut c, &["PUNSUBSCRIBE"], &[confirm(Resp2, "punsubscribe", Some("p*"), 0)]);
    // Out of subscribed mode once nothing is left.
    c.expect_cmd(&["GET", "k"], NIL);
    c.expect_cmd(&["PING"], PONG);
    // Shard channels count as a subscription too.
    expect_all(&mut c, &["SSUBSCRIBE", "s"], &[confirm(Resp2, "ssubscribe", Some("s"), 1)]);
    c.expect_cmd(&["SET", "k", "v"], context_err("set"));
    c.expect_cmd(&["QUIT"], OK);
    assert!(c.is_closed());
    let mut p = s.raw();
    p.expect_cmd(&["PUBSUB", "SHARDNUMSUB", "s"], "*2\r\n$1\r\ns\r\n:0\r\n");
}

#[test]
fn refused_commands_count_as_rejected_calls() {
    let s = TestServer::start();
    let mut c = s.raw();
    expect_all(&mut c, &["SUBSCRIBE", "ch"], &[confirm(Resp2, "subscribe", Some("ch"), 1)]);
    c.expect_cmd(&["GET", "k"], context_err("get"));
    let mut other = s.raw();
    let stats = other.info("commandstats");
    let get = info_field(&stats, "cmdstat_get").unwrap_or_else(|| panic!("no cmdstat_get:\n{stats}"));
    assert!(get.contains("calls=0") && get.contains("rejected_calls=1"), "{get}");
    let subscribe = info_field(&stats, "cmdstat_subscribe").unwrap_or_else(|| panic!("{stats}"));
    assert!(subscribe.starts_with("calls=1,"), "{subscribe}");
    other.expect_cmd(&["PUBLISH", "ch", "m"], int(1));
    assert!(info_field(&other.info("commandstats"), "cmdstat_publish").is_some_and(|f| f.starts_with("calls=1,")));
}

#[test]
fn resp3_clients_run_any_command_while_subscribed() {
    let s = TestServer::start();
    let mut c = s.raw_resp3();
    expect_all(&mut c, &["SUBSCRIBE", "ch"], &[confirm(Resp3, "subscribe", Some("ch"), 1)]);
    c.expect_cmd(&["PING"], PONG);
    c.expect_cmd(&["PING", "hi"], bulk("hi"));
    c.expect_cmd(&["SET", "k", "v"], OK);
    c.expect_cmd(&["GET", "k"], bulk("v"));
    let mut p = s.raw();
    p.expect_cmd(&["PUBLISH", "ch", "m"], int(1));
    c.expect_reply(message(Resp3, "ch", b"m"));
    c.expect_cmd(&["GET", "k"], bulk("v"));
    // HELLO 2 switches the client, messages included, back to RESP2,
    // where it is in subscribed mode.
    let hello = c.call(&["HELLO", "2"]);
    assert!(hello.starts_with("*14\r\n"), "{hello}");
    p.expect_cmd(&["PUBLISH", "ch", "again"], int(1));
    c.expect_reply(message(Resp2, "ch", b"again"));
    c.expect_cmd(&["GET", "k"], context_err("get"));
}

#[test]
fn publishing_to_itself_the_reply_comes_first() {
    let s = TestServer::start();
    if s.reference_older_than(7, 2) {
        return;
    }
    let mut c = s.raw_resp3();
    expect_all(&mut c, &["SUBSCRIBE", "me"], &[confirm(Resp3, "subscribe", Some("me"), 1)]);
    c.send_cmd(&["PUBLISH", "me", "x"]);
    c.send_cmd(&["PING"]);
    c.expect_reply(int(1));
    c.expect_reply(message(Resp3, "me", b"x"));
    c.expect_reply(PONG);
}

#[test]
fn confirmations_are_sent_even_with_client_reply_off() {
    let s = TestServer::start();
    for proto in [Resp2, Resp3] {
        let mut c = client(&s, proto);
        c.send_cmd(&["CLIENT", "REPLY", "OFF"]);
        expect_all(
            &mut c,
            &["SUBSCRIBE", "a", "b"],
            &[confirm(proto, "subscribe", Some("a"), 1), confirm(proto, "subscribe", Some("b"), 2)],
        );
        expect_all(&mut c, &["UNSUBSCRIBE", "b"], &[confirm(proto, "unsubscribe", Some("b"), 1)]);
        let mut p = s.raw();
        p.expect_cmd(&["PUBLISH", "a", "m"], int(1));
        c.expect_reply(message(proto, "a", b"m"));
        if proto == Resp3 {
            c.send_cmd(&["GET", "k"]);
            c.expect_cmd(&["CLIENT", "REPLY", "ON"], OK);
        }
        c.assert_silent_and_open(Duration::from_millis(50));
    }
}

#[test]
fn reset_leaves_every_channel_and_subscribed_mode() {
    let s = TestServer::start();
    let mut c = s.raw();
    expect_all(&mut c, &["SUBSCRIBE", "a"], &[confirm(Resp2, "subscribe", Some("a"), 1)]);
    expect_all(&mut c, &["PSUBSCRIBE", "p*"], &[confirm(Resp2, "psubscribe", Some("p*"), 2)]);
    expect_all(&mut c, &["SSUBSCRIBE", "s"], &[confirm(Resp2, "ssubscribe", Some("s"), 1)]);
    c.expect_cmd(&["RESET"], "+RESET\r\n");
    c.expect_cmd(&["GET", "k"], NIL);
    let mut p = s.raw();
    p.expect_cmd(&["PUBSUB", "NUMSUB", "a"], "*2\r\n$1\r\na\r\n:0\r\n");
    p.expect_cmd(&["PUBSUB", "NUMPAT"], int(0));
    p.expect_cmd(&["PUBSUB", "SHARDNUMSUB", "s"], "*2\r\n$1\r\ns\r\n:0\r\n");
    p.expect_cmd(&["PUBLISH", "a", "m"], int(0));
    c.assert_silent_and_open(Duration::from_millis(50));
    // The connection subscribes again as if new.
    expect_all(&mut c, &["SUBSCRIBE", "b"], &[confirm(Resp2, "subscribe", Some("b"), 1)]);
    p.expect_cmd(&["PUBLISH", "b", "m"], int(1));
    c.expect_reply(message(Resp2, "b", b"m"));
    // RESET also takes a RESP3 subscriber back to RESP2.
    let mut r3 = s.raw_resp3();
    expect_all(&mut r3, &["SUBSCRIBE", "b"], &[confirm(Resp3, "subscribe", Some("b"), 1)]);
    r3.expect_cmd(&["RESET"], "+RESET\r\n");
    p.expect_cmd(&["PUBLISH", "b", "m"], int(1));
}

#[test]
fn quit_and_closing_leave_every_channel() {
    let s = TestServer::start();
    let mut p = s.raw();
    let mut quitter = s.raw();
    expect_all(
        &mut quitter,
        &["SUBSCRIBE", "a", "b"],
        &[confirm(Resp2, "subscribe", Some("a"), 1), confirm(Resp2, "subscribe", Some("b"), 2)],
    );
    quitter.expect_cmd(&["QUIT"], OK);
    wait_numsub(&s, "a", 0);
    let mut clients: Vec<RawClient> = (0..10).map(|_| s.raw()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        let count = if i % 2 == 0 { 1 } else { 2 };
        c.send_cmd(&["SUBSCRIBE", "a"]);
        c.read_reply_bytes();
        if i % 2 == 1 {
            expect_all(c, &["PSUBSCRIBE", "*"], &[confirm(Resp2, "psubscribe", Some("*"), count)]);
        }
        c.send_cmd(&["SSUBSCRIBE", "s"]);
        c.read_reply_bytes();
    }
    assert_eq!(numsub(&mut p, "a"), 10);
    p.expect_cmd(&["PUBSUB", "NUMPAT"], int(1));
    drop(clients);
    wait_numsub(&s, "a", 0);
    eventually("the pattern is dropped", || p.call(&["PUBSUB", "NUMPAT"]) == int(0));
    eventually("the shard channel is dropped", || p.call(&["PUBSUB", "SHARDNUMSUB", "s"]).ends_with(":0\r\n"));
    p.expect_cmd(&["PUBSUB", "CHANNELS"], "*0\r\n");
    p.expect_cmd(&["PUBLISH", "a", "m"], int(0));
    let info = p.info("stats");
    assert_eq!(
        (
            info_int(&info, "pubsub_channels"),
            info_int(&info, "pubsub_patterns"),
            info_int(&info, "pubsubshard_channels")
        ),
        (0, 0, 0)
    );
}

#[test]
fn client_kill_of_a_subscriber_leaves_its_channels() {
    let s = TestServer::start();
    let mut sub = s.raw();
    let id = sub.call_resp(&["CLIENT", "ID"]).int();
    expect_all(&mut sub, &["SUBSCRIBE", "a"], &[confirm(Resp2, "subscribe", Some("a"), 1)]);
    let mut normal = s.raw();
    let mut c = s.raw();
    c.expect_cmd(&["CLIENT", "KILL", "TYPE", "pubsub"], int(1));
    assert!(sub.is_closed());
    wait_numsub(&s, "a", 0);
    normal.expect_cmd(&["PING"], PONG);
    let list = c.call_resp(&["CLIENT", "LIST"]).text();
    assert!(!list.contains(&format!("id={id} ")), "{list}");
    c.expect_cmd(&["CLIENT", "KILL", "TYPE", "pubsub"], int(0));
}

#[test]
fn the_idle_timeout_spares_subscribers() {
    let s = TestServer::start();
    let mut admin = s.raw();
    admin.expect_cmd(&["CONFIG", "SET", "timeout", "1"], OK);
    let mut sub = s.raw();
    expect_all(&mut sub, &["SUBSCRIBE", "ch"], &[confirm(Resp2, "subscribe", Some("ch"), 1)]);
    let mut idle = s.raw();
    idle.expect_cmd(&["PING"], PONG);
    assert!(idle.is_closed_within(Duration::from_secs(5)), "an idle normal client is closed");
    // (The admin connection was idle too.)
    s.raw().expect_cmd(&["PUBLISH", "ch", "still here"], int(1));
    sub.expect_reply(message(Resp2, "ch", b"still here"));
    // Out of subscribed mode, it is an idle client like any other.
    expect_all(&mut sub, &["UNSUBSCRIBE"], &[confirm(Resp2, "unsubscribe", Some("ch"), 0)]);
    assert!(sub.is_closed_within(Duration::from_secs(5)));
}

#[test]
fn subscribe_inside_multi_runs_at_exec() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["SUBSCRIBE", "a", "b"], "+QUEUED\r\n");
    c.expect_cmd(&["PING"], "+QUEUED\r\n");
    // The EXEC array counts commands, not the confirmations they write
    // (so a client reads the two confirmations as EXEC's reply, then
    // PING's, which ran subscribed).
    c.send_cmd(&["EXEC"]);
    let mut exec = b"*2\r\n".to_vec();
    exec.extend(confirm(Resp2, "subscribe", Some("a"), 1));
    exec.extend(confirm(Resp2, "subscribe", Some("b"), 2));
    c.expect_reply(exec);
    c.expect_reply(bulks(&["pong", ""]));
    c.expect_cmd(&["GET", "k"], context_err("get"));
    let mut p = s.raw();
    p.expect_cmd(&["PUBLISH", "b", "m"], int(1));
    c.expect_reply(message(Resp2, "b", b"m"));
    // Commands inside EXEC run although the client subscribes first.
    let mut t = s.raw();
    t.expect_cmd(&["MULTI"], OK);
    t.expect_cmd(&["PSUBSCRIBE", "x*"], "+QUEUED\r\n");
    t.expect_cmd(&["SET", "k", "v"], "+QUEUED\r\n");
    t.expect_cmd(&["UNSUBSCRIBE"], "+QUEUED\r\n");
    t.expect_cmd(&["PUNSUBSCRIBE"], "+QUEUED\r\n");
    let exec = [
        b"*4\r\n".to_vec(),
        confirm(Resp2, "psubscribe", Some("x*"), 1),
        OK.as_bytes().to_vec(),
        confirm(Resp2, "unsubscribe", None, 1),
        confirm(Resp2, "punsubscribe", Some("x*"), 0),
    ];
    t.expect_cmd(&["EXEC"], exec.concat());
    t.expect_cmd(&["GET", "k"], bulk("v"));
}

#[test]
fn ssubscribe_is_refused_inside_exec() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["SSUBSCRIBE", "a"], "+QUEUED\r\n");
    c.expect_cmd(&["EXEC"], "*1\r\n-ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client\r\n");
    c.expect_cmd(&["PING"], PONG);
    c.expect_cmd(&["PUBSUB", "SHARDNUMSUB", "a"], "*2\r\n$1\r\na\r\n:0\r\n");
}

#[test]
fn scripts_may_publish_but_not_subscribe() {
    let s = TestServer::start();
    let mut c = s.raw();
    for command in ["subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe"] {
        let reply = c.call(&["EVAL", &format!("return redis.pcall('{command}', 'x')"), "0"]);
        assert_eq!(reply, err("ERR This Redis command is not allowed from script"), "{command}");
        let reply = c.call(&["EVAL", &format!("return redis.call('{command}', 'x')"), "0"]);
        assert!(reply.starts_with("-ERR This Redis command is not allowed from script script: "), "{command}: {reply}");
    }
    let mut sub = s.raw();
    expect_all(&mut sub, &["SUBSCRIBE", "ch"], &[confirm(Resp2, "subscribe", Some("ch"), 1)]);
    let publish = "return redis.call('publish', ARGV[1], ARGV[2])";
    c.expect_cmd(&["EVAL", publish, "0", "nobody", "from lua"], int(0));
    c.expect_cmd(&["EVAL", publish, "0", "ch", "from lua"], int(1));
    sub.expect_reply(message(Resp2, "ch", b"from lua"));
    c.expect_cmd(&["EVAL", "return redis.call('spublish', ARGV[1], 'x')", "0", "ch"], int(0));
}

/// Send `count` numbered messages on `channel`, pipelined in batches, each
/// answered by how many subscribers it reached.
fn publish_numbered(c: &mut RawClient, channel: &str, tag: &str, count: usize, receivers: i64) {
    for batch in (0..count).collect::<Vec<_>>().chunks(100) {
        let mut pipeline = Vec::new();
        for i in batch {
            pipeline.extend(encode(&["PUBLISH", channel, &format!("{tag}{i}")]));
        }
        c.send(&pipeline);
        for _ in batch {
            c.expect_reply(int(receivers));
        }
    }
}

#[test]
fn subscribers_on_every_worker_get_messages_in_publish_order() {
    let s = TestServer::start();
    let mut subs: Vec<(Proto, RawClient)> = (0..6)
        .map(|i| {
            let proto = if i % 2 == 0 { Resp2 } else { Resp3 };
            let mut c = client(&s, proto);
            expect_all(&mut c, &["SUBSCRIBE", "seq"], &[confirm(proto, "subscribe", Some("seq"), 1)]);
            (proto, c)
        })
        .collect();
    const COUNT: usize = 3000;
    let mut p = s.raw();
    publish_numbered(&mut p, "seq", "", COUNT, subs.len() as i64);
    for (proto, c) in &mut subs {
        for i in 0..COUNT {
            c.expect_reply(message(*proto, "seq", i.to_string().as_bytes()));
        }
    }
}

#[test]
fn each_publishers_messages_stay_in_order_with_publishers_in_parallel() {
    let s = TestServer::start();
    let mut subs: Vec<RawClient> = (0..4)
        .map(|_| {
            let mut c = s.raw();
            expect_all(&mut c, &["SUBSCRIBE", "mix"], &[confirm(Resp2, "subscribe", Some("mix"), 1)]);
            c
        })
        .collect();
    const COUNT: usize = 1500;
    let publishers: Vec<_> = (0..3)
        .map(|p| {
            let mut c = s.raw();
            std::thread::spawn(move || publish_numbered(&mut c, "mix", &format!("p{p}:"), COUNT, 4))
        })
        .collect();
    publishers.into_iter().for_each(|p| p.join().expect("publisher"));
    for sub in &mut subs {
        let mut next = [0usize; 3];
        for _ in 0..3 * COUNT {
            let reply = sub.read_resp();
            let payload = reply.items()[2].text();
            let (publisher, n) = payload.split_once(':').expect("tagged");
            let publisher: usize = publisher[1..].parse().expect("publisher number");
            assert_eq!(n.parse::<usize>().ok(), Some(next[publisher]), "from publisher {publisher}");
            next[publisher] += 1;
        }
        assert_eq!(next, [COUNT; 3]);
    }
}

#[test]
fn pubsub_channels_numsub_numpat_and_their_shard_forms() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["PUBSUB", "CHANNELS"], "*0\r\n");
    c.expect_cmd(&["PUBSUB", "NUMSUB"], "*0\r\n");
    c.expect_cmd(&["PUBSUB", "SHARDNUMSUB"], "*0\r\n");
    c.expect_cmd(&["PUBSUB", "NUMPAT"], int(0));
    let mut a = s.raw();
    expect_all(
        &mut a,
        &["SUBSCRIBE", "news.1", "news.2", "other"],
        &[
            confirm(Resp2, "subscribe", Some("news.1"), 1),
            confirm(Resp2, "subscribe", Some("news.2"), 2),
            confirm(Resp2, "subscribe", Some("other"), 3),
        ],
    );
    expect_all(
        &mut a,
        &["PSUBSCRIBE", "n*", "o*"],
        &[confirm(Resp2, "psubscribe", Some("n*"), 4), confirm(Resp2, "psubscribe", Some("o*"), 5)],
    );
    expect_all(&mut a, &["SSUBSCRIBE", "shard.1"], &[confirm(Resp2, "ssubscribe", Some("shard.1"), 1)]);
    let mut b = s.raw_resp3();
    expect_all(&mut b, &["SUBSCRIBE", "news.1"], &[confirm(Resp3, "subscribe", Some("news.1"), 1)]);
    expect_all(&mut b, &["PSUBSCRIBE", "n*"], &[confirm(Resp3, "psubscribe", Some("n*"), 2)]);
    expect_all(
        &mut b,
        &["SSUBSCRIBE", "shard.1", "shard.2"],
        &[confirm(Resp3, "ssubscribe", Some("shard.1"), 1), confirm(Resp3, "ssubscribe", Some("shard.2"), 2)],
    );
    let sorted = |reply: Resp| {
        let mut names: Vec<String> = reply.items().iter().map(Resp::text).collect();
        names.sort();
        names
    };
    assert_eq!(sorted(c.call_resp(&["PUBSUB", "CHANNELS"])), ["news.1", "news.2", "other"]);
    assert_eq!(sorted(c.call_resp(&["pubsub", "channels", "news.*"])), ["news.1", "news.2"]);
    assert_eq!(sorted(c.call_resp(&["PUBSUB", "CHANNELS", "NEWS.*"])), Vec::<String>::new());
    assert_eq!(sorted(c.call_resp(&["PUBSUB", "SHARDCHANNELS"])), ["shard.1", "shard.2"]);
    assert_eq!(sorted(c.call_resp(&["PUBSUB", "SHARDCHANNELS", "*2"])), ["shard.2"]);
    // Pattern subscribers are not counted; a flat array also in RESP3.
    let numsub = "*6\r\n$6\r\nnews.1\r\n:2\r\n$6\r\nnews.2\r\n:1\r\n$4\r\nnope\r\n:0\r\n";
    c.expect_cmd(&["PUBSUB", "NUMSUB", "news.1", "news.2", "nope"], numsub);
    let mut r3 = s.raw_resp3();
    r3.expect_cmd(&["PUBSUB", "NUMSUB", "news.1", "news.2", "nope"], numsub);
    c.expect_cmd(
        &["PUBSUB", "SHARDNUMSUB", "shard.1", "shard.2", "news.1"],
        "*6\r\n$7\r\nshard.1\r\n:2\r\n$7\r\nshard.2\r\n:1\r\n$6\r\nnews.1\r\n:0\r\n",
    );
    // NUMPAT counts distinct patterns.
    c.expect_cmd(&["PUBSUB", "NUMPAT"], int(2));
    let info = c.info("stats");
    assert_eq!(
        (
            info_int(&info, "pubsub_channels"),
            info_int(&info, "pubsub_patterns"),
            info_int(&info, "pubsubshard_channels")
        ),
        (3, 2, 2)
    );
}

#[test]
fn pubsub_subcommand_errors_and_help() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["PUBSUB", "FOO"], err("ERR unknown subcommand 'FOO'. Try PUBSUB HELP."));
    c.expect_cmd(
        &["pubsub", "channels", "a", "b"],
        err("ERR unknown subcommand or wrong number of arguments for 'channels'. Try PUBSUB HELP."),
    );
    c.expect_cmd(
        &["PUBSUB", "SHARDCHANNELS", "a", "b"],
        err("ERR unknown subcommand or wrong number of arguments for 'SHARDCHANNELS'. Try PUBSUB HELP."),
    );
    c.expect_cmd(&["PUBSUB", "NUMPAT", "x"], err("ERR wrong number of arguments for 'pubsub|numpat' command"));
    c.expect_cmd(&["PUBSUB", "HELP", "x"], err("ERR wrong number of arguments for 'pubsub|help' command"));
    let help: Vec<String> = c.call_resp(&["PUBSUB", "HELP"]).items().iter().map(Resp::text).collect();
    assert_eq!(help[0], "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    assert_eq!(
        help[1..5],
        [
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns."
        ]
    );
    assert_eq!(help.len(), 14);
    assert_eq!(help[12], "HELP");
    // Redis 7.2 changed the last line from "Prints".
    if !s.reference_older_than(7, 2) {
        assert_eq!(help[13], "    Print this help.");
    }
}

#[test]
fn client_list_and_info_show_subscriptions() {
    let s = TestServer::start();
    let mut sub = s.raw();
    expect_all(
        &mut sub,
        &["SUBSCRIBE", "a", "b"],
        &[confirm(Resp2, "subscribe", Some("a"), 1), confirm(Resp2, "subscribe", Some("b"), 2)],
    );
    expect_all(&mut sub, &["PSUBSCRIBE", "p*"], &[confirm(Resp2, "psubscribe", Some("p*"), 3)]);
    let mut r3 = s.raw_resp3();
    expect_all(&mut r3, &["SSUBSCRIBE", "s"], &[confirm(Resp3, "ssubscribe", Some("s"), 1)]);
    let line = r3.call_resp(&["CLIENT", "INFO"]).text();
    assert!(line.contains(" flags=P ") && line.contains(" sub=0 psub=0 ssub=1 "), "{line}");
    let mut c = s.raw();
    let me = c.call_resp(&["CLIENT", "INFO"]).text();
    assert!(me.contains(" flags=N ") && me.contains(" sub=0 psub=0 ssub=0 "), "{me}");
    let list = c.call_resp(&["CLIENT", "LIST"]).text();
    assert!(list.lines().any(|l| l.contains(" flags=P ") && l.contains(" sub=2 psub=1 ssub=0 ")), "{list}");
    let pubsub = c.call_resp(&["CLIENT", "LIST", "TYPE", "pubsub"]).text();
    assert_eq!(pubsub.lines().count(), 2, "{pubsub}");
    assert!(pubsub.lines().all(|l| l.contains(" flags=P ")), "{pubsub}");
    let normal = c.call_resp(&["CLIENT", "LIST", "TYPE", "normal"]).text();
    assert_eq!(normal.lines().count(), 1, "{normal}");
    assert!(normal.contains(" flags=N "), "{normal}");
    if !s.reference_older_than(7, 2) {
        assert_eq!(info_int(&c.info("clients"), "pubsub_clients"), 2);
    }
    // Out of pub/sub mode, a client is normal again.
    expect_all(&mut sub, &["PUNSUBSCRIBE"], &[confirm(Resp2, "punsubscribe", Some("p*"), 2)]);
    sub.send_cmd(&["UNSUBSCRIBE"]);
    sub.read_reply_bytes();
    sub.read_reply_bytes();
    let normal = c.call_resp(&["CLIENT", "LIST", "TYPE", "normal"]).text();
    assert_eq!(normal.lines().count(), 2, "{normal}");
    if !s.reference_older_than(7, 2) {
        assert_eq!(info_int(&c.info("clients"), "pubsub_clients"), 1);
    }
}

/// The flags COMMAND INFO gives a command.
fn command_flags(c: &mut RawClient, name: &str) -> Vec<String> {
    let reply = c.call_resp(&["COMMAND", "INFO", name]);
    reply.items()[0].items()[2].items().iter().map(Resp::text).collect()
}

#[test]
fn command_info_describes_the_pubsub_commands() {
    let s = TestServer::start();
    let mut c = s.raw();
    for name in ["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe"] {
        let flags = command_flags(&mut c, name);
        assert!(flags.contains(&"pubsub".into()) && flags.contains(&"noscript".into()), "{name}: {flags:?}");
        assert!(!flags.contains(&"fast".into()) && !flags.contains(&"write".into()), "{name}: {flags:?}");
    }
    for name in ["publish", "spublish"] {
        let flags = command_flags(&mut c, name);
        assert!(flags.contains(&"pubsub".into()) && flags.contains(&"fast".into()), "{name}: {flags:?}");
        assert!(!flags.contains(&"noscript".into()), "{name}: {flags:?}");
    }
    let info = c.call_resp(&["COMMAND", "INFO", "subscribe", "ssubscribe", "spublish", "sunsubscribe"]);
    let entries = info.items();
    let legacy = |e: &Resp| (e.items()[1].int(), e.items()[3].int(), e.items()[4].int(), e.items()[5].int());
    assert_eq!(legacy(&entries[0]), (-2, 0, 0, 0));
    assert_eq!(legacy(&entries[1]), (-2, 1, -1, 1));
    assert_eq!(legacy(&entries[2]), (3, 1, 1, 1));
    assert_eq!(legacy(&entries[3]), (-1, 1, -1, 1));
    for entry in entries {
        let categories: Vec<String> = entry.items()[6].items().iter().map(Resp::text).collect();
        assert!(categories.contains(&"@pubsub".into()), "{categories:?}");
    }
    assert!(entries[0].items()[8].items().is_empty(), "channels are no keys");
    // Shard channels have key specs flagged not_key.
    let spec = entries[2].items()[8].items()[0].pairs();
    let flags: Vec<String> = spec
        .iter()
        .find(|(k, _)| k == "flags")
        .map(|(_, v)| v.items().iter().map(Resp::text).collect())
        .unwrap_or_default();
    assert_eq!(flags, ["not_key"]);
    c.expect_cmd(&["COMMAND", "GETKEYS", "SPUBLISH", "ch", "m"], err("ERR The command has no key arguments"));
    c.expect_cmd(&["COMMAND", "GETKEYS", "SSUBSCRIBE", "a", "b"], err("ERR The command has no key arguments"));
    c.expect_cmd(&["COMMAND", "GETKEYS", "PUBLISH", "ch", "m"], err("ERR The command has no key arguments"));
    let list: Vec<String> =
        c.call_resp(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "pubsub"]).items().iter().map(Resp::text).collect();
    for name in
        ["publish", "subscribe", "spublish", "ssubscribe", "sunsubscribe", "psubscribe", "punsubscribe", "unsubscribe"]
    {
        assert!(list.contains(&name.to_string()), "{name} in @pubsub: {list:?}");
    }
}

#[test]
fn client_pause_write_holds_publish() {
    let s = TestServer::start();
    if s.reference_older_than(7, 2) {
        return; // PUBLISH is may_replicate from Redis 7.2 on.
    }
    let mut sub = s.raw();
    expect_all(&mut sub, &["SUBSCRIBE", "ch"], &[confirm(Resp2, "subscribe", Some("ch"), 1)]);
    let mut admin = s.raw();
    admin.expect_cmd(&["CLIENT", "PAUSE", "100000", "WRITE"], OK);
    let mut p = s.raw();
    p.send_cmd(&["PUBLISH", "ch", "held"]);
    p.assert_silent_and_open(Duration::from_millis(200));
    // Subscribing is no write.
    let mut other = s.raw();
    expect_all(&mut other, &["SUBSCRIBE", "ch"], &[confirm(Resp2, "subscribe", Some("ch"), 1)]);
    admin.expect_cmd(&["CLIENT", "UNPAUSE"], OK);
    p.expect_reply(int(2));
    sub.expect_reply(message(Resp2, "ch", b"held"));
}

#[test]
fn config_client_output_buffer_limit_uses_redis_format() {
    let s = TestServer::start();
    let mut c = s.raw();
    let get = |c: &mut RawClient| c.call_resp(&["CONFIG", "GET", "client-output-buffer-limit"]).items()[1].text();
    // Redistill's normal class starts at server.client_output_buffer_limit.
    c.expect_cmd(&["CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0"], OK);
    assert_eq!(get(&mut c), "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
    c.expect_cmd(&["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 2kb 3 replica 1 2 0"], OK);
    assert_eq!(get(&mut c), "normal 0 0 0 slave 1 2 0 pubsub 1048576 2048 3");
    c.expect_cmd(&["CONFIG", "SET", "client-output-buffer-limit", "slave 1g 1m 5 normal 1k 0 0"], OK);
    assert_eq!(get(&mut c), "normal 1000 0 0 slave 1000000000 1000000 5 pubsub 1048576 2048 3");
    c.expect_cmd(&["CONFIG", "SET", "client-output-buffer-limit", ""], OK);
    assert_eq!(get(&mut c), "normal 1000 0 0 slave 1000000000 1000000 5 pubsub 1048576 2048 3");
    let failed = |reason: &str| {
        err(&format!("ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - {reason}"))
    };
    let class = failed("Invalid client class specified in buffer limit configuration.");
    let number = failed("Error in hard, soft or soft_seconds setting in buffer limit configuration.");
    let count = failed("Wrong number of arguments in buffer limit configuration.");
    for (value, error) in [
        ("pubsub 1mb 2mb", &count),
        ("pubsub 1 2 3 normal", &count),
        ("master 1 2 3", &class),
        ("nobody 1 2 3", &class),
        ("normal x 2 3", &number),
        ("normal 1 -2 3", &number),
        ("normal 1 2 -3", &number),
        ("normal 1 2 3x", &number),
        // A bad group refuses the whole value.
        ("pubsub 5 5 5 normal 1 2 x", &number),
    ] {
        c.expect_cmd(&["CONFIG", "SET", "client-output-buffer-limit", value], error);
    }
    assert_eq!(get(&mut c), "normal 1000 0 0 slave 1000000000 1000000 5 pubsub 1048576 2048 3");
    let all = c.call_resp(&["CONFIG", "GET", "client-output-*"]);
    assert!(all.pairs().iter().any(|(k, _)| k == "client-output-buffer-limit"), "{all:?}");
}

#[test]
fn the_pubsub_limit_comes_from_the_config_file() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start_with(
        "[server]\nclient_output_buffer_limit = \"0\"\nclient_output_buffer_limit_pubsub = \"4mb 1mb 30\"\n",
    );
    let mut c = s.raw();
    let value = c.call_resp(&["CONFIG", "GET", "client-output-buffer-limit"]).items()[1].text();
    assert_eq!(value, "normal 0 0 0 slave 268435456 67108864 60 pubsub 4194304 1048576 30");
}

/// A subscriber that reads everything on a thread, checks the order and
/// counts what it got in `progress`, until the message "done".
fn reading_subscriber(s: &TestServer, channel: &str, progress: Arc<AtomicUsize>) -> std::thread::JoinHandle<usize> {
    let mut c = s.raw();
    expect_all(&mut c, &["SUBSCRIBE", channel], &[confirm(Resp2, "subscribe", Some(channel), 1)]);
    std::thread::spawn(move || {
        let mut seen = 0;
        loop {
            let reply = c.read_resp();
            let payload = reply.items()[2].bytes();
            if payload == b"done" {
                return seen;
            }
            let number = payload.split(|&b| b == b':').next().unwrap_or_default();
            assert_eq!(String::from_utf8_lossy(number), seen.to_string(), "messages arrive in order");
            seen += 1;
            progress.store(seen, Ordering::Release);
        }
    })
}

/// Publish numbered messages `range` of `size` bytes, pipelined 20 at a
/// time: every batch must be answered at once, whoever does not read.
/// With `reader`, wait for that subscriber to have read each batch, so
/// that only the subscribers that do not read fall behind.
fn flood(p: &mut RawClient, channel: &str, range: std::ops::Range<usize>, size: usize, reader: Option<&AtomicUsize>) {
    let filler = "x".repeat(size);
    for batch in range.collect::<Vec<_>>().chunks(20) {
        let mut pipeline = Vec::new();
        for i in batch {
            pipeline.extend(encode(&["PUBLISH", channel, &format!("{i}:{filler}")]));
        }
        p.send(&pipeline);
        for _ in batch {
            let reply = p.read_resp();
            assert!(matches!(reply, Resp::Int(0..=2)), "PUBLISH answered {reply:?}");
        }
        if let (Some(reader), Some(last)) = (reader, batch.last()) {
            eventually("the reading subscriber keeps up", || reader.load(Ordering::Acquire) > *last);
        }
    }
}

/// Read what the server sent until it closes the connection; panics if it
/// does not within 10 s.
fn read_until_closed(c: &RawClient) -> usize {
    let mut stream = c.stream().try_clone().expect("clone");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut total = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return total,
            Err(e) => panic!("the slow subscriber was not disconnected: {e} after {total} bytes"),
        }
    }
}

#[test]
fn a_subscriber_over_the_hard_limit_is_closed_and_the_others_go_on() {
    let s = TestServer::start();
    let mut admin = s.raw();
    admin.expect_cmd(&["CONFIG", "SET", "client-output-buffer-limit", "pubsub 2mb 0 0"], OK);
    let mut slow = s.raw();
    let slow_id = slow.call_resp(&["CLIENT", "ID"]).int();
    expect_all(&mut slow, &["SUBSCRIBE", "flood"], &[confirm(Resp2, "subscribe", Some("flood"), 1)]);
    let progress = Arc::new(AtomicUsize::new(0));
    let fast = reading_subscriber(&s, "flood", Arc::clone(&progress));
    let mut p = s.raw();
    // 40 MB: more than the kernel's socket buffers can hide.
    const COUNT: usize = 640;
    flood(&mut p, "flood", 0..COUNT, 64 * 1024, Some(&progress));
    wait_numsub(&s, "flood", 1);
    let received = read_until_closed(&slow);
    assert!(received < COUNT * 64 * 1024, "the slow subscriber was cut off ({received} bytes)");
    let list = admin.call_resp(&["CLIENT", "LIST"]).text();
    assert!(!list.contains(&format!("id={slow_id} ")), "{list}");
    assert_eq!(admin.call_resp(&["CLIENT", "LIST", "TYPE", "pubsub"]).text().lines().count(), 1);
    if !s.reference_older_than(7, 2) {
        let info = admin.info("");
        assert_eq!(info_int(&info, "client_output_buffer_limit_disconnections"), 1);
        assert_eq!(info_int(&info, "pubsub_clients"), 1);
    }
    p.expect_cmd(&["PUBLISH", "flood", "done"], int(1));
    assert_eq!(fast.join().expect("fast subscriber"), COUNT, "the reading subscriber got everything");
}

#[test]
fn a_subscriber_over_the_soft_limit_is_closed_after_its_seconds() {
    let s = TestServer::start();
    let mut admin = s.raw();
    admin.expect_cmd(&["CONFIG", "SET", "client-output-buffer-limit", "pubsub 0 1mb 60"], OK);
    let mut slow = s.raw();
    expect_all(&mut slow, &["SUBSCRIBE", "soft"], &[confirm(Resp2, "subscribe", Some("soft"), 1)]);
    let mut p = s.raw();
    const SIZE: usize = 64 * 1024;
    flood(&mut p, "soft", 0..480, SIZE, None);
    // Far over the soft limit, but not for 60 seconds: still there.
    assert_eq!(numsub(&mut admin, "soft"), 1);
    admin.expect_cmd(&["CONFIG", "SET", "client-output-buffer-limit", "pubsub 0 1mb 1"], OK);
    let started = Instant::now();
    let mut sent = 480;
    while numsub(&mut admin, "soft") == 1 {
        assert!(started.elapsed() < Duration::from_secs(10), "the soft limit never closed the subscriber");
        flood(&mut p, "soft", sent..sent + 2, SIZE, None);
        sent += 2;
        std::thread::sleep(Duration::from_millis(50));
    }
    read_until_closed(&slow);
}
