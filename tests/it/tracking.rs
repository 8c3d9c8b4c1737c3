//! Client-side caching: CLIENT TRACKING (every option and error), CLIENT
//! CACHING, GETREDIR and TRACKINGINFO, byte for byte; the invalidations
//! every kind of change sends (writes of every type, deletes, RENAME,
//! MOVE, COPY, expiry, eviction, FLUSHALL/FLUSHDB/SWAPDB, MULTI and
//! scripts), where they go (RESP3 pushes, a RESP2 subscriber a client
//! redirects to, a redirection that broke) and when (a client's own
//! change after its reply, as Redis 7.4 orders it); BCAST prefixes,
//! OPTIN/OPTOUT, NOLOOP, `tracking-table-max-keys`, INFO and CLIENT LIST.
//!
//! Everything holds against redis-server 7.0 (differential mode) except
//! where a test says Redistill departs from Redis on purpose.

use crate::common::*;
use std::time::{Duration, Instant};

/// `>2 invalidate [keys]`: what a RESP3 client is pushed.
fn inval(keys: &[&str]) -> Vec<u8> {
    let mut out = b">2\r\n".to_vec();
    out.extend(bulk("invalidate"));
    out.extend(bulks(keys));
    out
}

/// `>2 invalidate _`: everything (a flush).
fn inval_all() -> Vec<u8> {
    let mut out = b">2\r\n".to_vec();
    out.extend(bulk("invalidate"));
    out.extend_from_slice(NULL3.as_bytes());
    out
}

/// `message __redis__:invalidate [keys]`: what a RESP2 subscriber gets.
fn message(keys: &[&str]) -> Vec<u8> {
    let mut out = b"*3\r\n".to_vec();
    out.extend(bulk("message"));
    out.extend(bulk("__redis__:invalidate"));
    out.extend(bulks(keys));
    out
}

/// A RESP3 client with tracking on, with `options` after ON.
fn tracker(s: &TestServer, options: &[&str]) -> RawClient {
    let mut c = s.raw_resp3();
    let mut args = vec!["CLIENT", "TRACKING", "ON"];
    args.extend_from_slice(options);
    c.expect_cmd(&args, OK);
    c
}

fn client_id(c: &mut RawClient) -> String {
    c.call_resp(&["CLIENT", "ID"]).int().to_string()
}

/// A RESP2 client subscribed to `__redis__:invalidate`, and its id.
fn subscriber(s: &TestServer) -> (RawClient, String) {
    let mut c = s.raw();
    let id = client_id(&mut c);
    c.send_cmd(&["SUBSCRIBE", "__redis__:invalidate"]);
    let mut confirmation = b"*3\r\n".to_vec();
    confirmation.extend(bulk("subscribe"));
    confirmation.extend(bulk("__redis__:invalidate"));
    confirmation.extend(int(1).into_bytes());
    c.expect_reply(confirmation);
    (c, id)
}

/// Assert `c` was sent nothing: its next PING answers PONG alone (an
/// invalidation already sent would come first).
fn assert_nothing(c: &mut RawClient) {
    c.expect_cmd(&["PING"], PONG);
}

/// A subscribed RESP2 client's PING reply.
const SUBSCRIBED_PONG: &str = "*2\r\n$4\r\npong\r\n$0\r\n\r\n";

/// Send `args` and expect `reply`, then `pushes` after it.
fn expect_then(c: &mut RawClient, args: &[&str], reply: impl AsRef<[u8]>, pushes: &[Vec<u8>]) {
    c.expect_cmd(args, reply);
    pushes.iter().for_each(|push| c.expect_reply(push));
}

fn info(c: &mut RawClient) -> String {
    c.info("")
}

/// Wait until `check` holds (10 s at most).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(10), "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

const NOT_EXIST: &str = "ERR The client ID you want redirect to does not exist";

// ---------------------------------------------------------------------------
// CLIENT TRACKING and its errors
// ---------------------------------------------------------------------------

#[test]
fn tracking_option_errors_are_redis_s() {
    let s = TestServer::start();
    let mut c = s.raw();
    let me = client_id(&mut c);
    c.expect_cmd(&["CLIENT", "TRACKING"], arity_err("client|tracking"));
    c.expect_cmd(&["CLIENT", "TRACKING", "maybe"], SYNTAX_ERR);
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "FOO"], SYNTAX_ERR);
    // An option that needs an argument, at the end: a syntax error.
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT"], SYNTAX_ERR);
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX"], SYNTAX_ERR);
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", "x"], NOT_INT_ERR);
    for id in ["0", "-3", "999999"] {
        c.expect_cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", id], err(NOT_EXIST));
    }
    c.expect_cmd(
        &["CLIENT", "TRACKING", "ON", "REDIRECT", &me, "REDIRECT", &me],
        err("ERR A client can only redirect to a single other client"),
    );
    // Options are parsed before ON/OFF is looked at.
    c.expect_cmd(&["CLIENT", "TRACKING", "OFF", "REDIRECT", "999999"], err(NOT_EXIST));
    c.expect_cmd(&["CLIENT", "TRACKING", "maybe", "NOLOOP"], SYNTAX_ERR);
    c.expect_cmd(
        &["CLIENT", "TRACKING", "ON", "PREFIX", "a"],
        err("ERR PREFIX option requires BCAST mode to be enabled"),
    );
    for option in ["OPTIN", "OPTOUT"] {
        c.expect_cmd(
            &["CLIENT", "TRACKING", "on", "bcast", option],
            err("ERR OPTIN and OPTOUT are not compatible with BCAST"),
        );
    }
    c.expect_cmd(
        &["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"],
        err("ERR You can't specify both OPTIN mode and OPTOUT mode"),
    );
    // None of that turned tracking on.
    c.expect_cmd(&["CLIENT", "GETREDIR"], int(-1));
    c.expect_cmd(&["CLIENT", "TRACKING", "OFF"], OK);
    c.expect_cmd(&["CLIENT", "TRACKING", "off"], OK);
}

#[test]
fn tracking_modes_cannot_be_switched_while_on() {
    let s = TestServer::start();
    let mut c = s.raw();
    let bcast_switch = err(
        "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it \
         with a different mode.",
    );
    let opt_switch = err(
        "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it \
         with a different mode.",
    );
    c.expect_cmd(&["CLIENT", "TRACKING", "ON"], OK);
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "BCAST"], bcast_switch.as_str());
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "NOLOOP"], OK);
    c.expect_cmd(&["CLIENT", "TRACKING", "OFF"], OK);
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "BCAST"], OK);
    c.expect_cmd(&["CLIENT", "TRACKING", "ON"], bcast_switch.as_str());
    c.expect_cmd(&["CLIENT", "TRACKING", "OFF"], OK);
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "OPTIN"], OK);
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "OPTOUT"], opt_switch.as_str());
    // ON again without OPTIN keeps tracking on, in the default mode.
    c.expect_cmd(&["CLIENT", "TRACKING", "ON"], OK);
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "OPTOUT"], OK);
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "OPTIN"], opt_switch.as_str());
}

#[test]
fn bcast_prefixes_must_not_overlap() {
    let s = TestServer::start();
    let mut c = s.raw();
    let overlap = |a: &str, b: &str, existing: bool| {
        let which = if existing { "an existing prefix" } else { "another provided prefix" };
        err(&format!("ERR Prefix '{a}' overlaps with {which} '{b}'. Prefixes for a single client must not overlap."))
    };
    let prefixes = |list: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["CLIENT", "TRACKING", "ON", "BCAST"].map(String::from).to_vec();
        list.iter().for_each(|p| args.extend(["PREFIX".to_string(), p.to_string()]));
        args
    };
    c.expect_cmd(&prefixes(&["FOOBAR", "FOO"]), overlap("FOOBAR", "FOO", false));
    c.expect_cmd(&prefixes(&["FOO", "FOOBAR"]), overlap("FOO", "FOOBAR", false));
    c.expect_cmd(&prefixes(&["same", "same"]), overlap("same", "same", false));
    c.expect_cmd(&prefixes(&["", "x"]), overlap("", "x", false));
    c.expect_cmd(&["CLIENT", "GETREDIR"], int(-1));
    c.expect_cmd(&prefixes(&["FOO", "BAR"]), OK);
    c.expect_cmd(&prefixes(&["FO"]), overlap("FO", "FOO", true));
    c.expect_cmd(&prefixes(&["BARB"]), overlap("BARB", "BAR", true));
    // The first existing prefix in byte order is named.
    c.expect_cmd(&prefixes(&["", "x"]), overlap("", "BAR", true));
    c.expect_cmd(&prefixes(&["x", ""]), overlap("x", "", false));
    // A prefix the client has already is no change.
    c.expect_cmd(&prefixes(&["FOO"]), overlap("FOO", "FOO", true));
    c.expect_cmd(&prefixes(&["BAZ"]), OK);
    let info = c.call_resp(&["CLIENT", "TRACKINGINFO"]);
    assert_eq!(info.items()[5].items().iter().map(Resp::text).collect::<Vec<_>>(), ["BAR", "BAZ", "FOO"]);
}

/// Redis answers a collision among given prefixes other than the first
/// with its error and then +OK too, and turns tracking on: two replies to
/// one command. Redistill answers the error alone and changes nothing.
#[test]
fn a_later_prefix_collision_is_one_error() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(
        &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "x", "PREFIX", "FOOBAR", "PREFIX", "FOO"],
        err("ERR Prefix 'FOOBAR' overlaps with another provided prefix 'FOO'. Prefixes for a single client must not \
             overlap."),
    );
    c.expect_cmd(&["CLIENT", "GETREDIR"], int(-1));
}

/// Redis compares every pair of prefixes; Redistill sorts them, so many
/// prefixes cost no more than reading them (Redis gets a smaller list).
#[test]
fn many_prefixes_are_checked_without_delay() {
    let s = TestServer::start();
    let mut c = s.raw();
    let n = if s.is_redis() { 2_000 } else { 50_000 };
    let mut args = vec!["CLIENT".to_string(), "TRACKING".into(), "ON".into(), "BCAST".into()];
    for i in 0..n {
        args.extend(["PREFIX".to_string(), format!("p{i:06}:")]);
    }
    let started = Instant::now();
    c.expect_cmd(&args, OK);
    // A prefix of the first hundred collides with the first. (Redis
    // answers a collision of a later one twice, see above.)
    args.extend(["PREFIX".to_string(), "p0000".to_string()]);
    c.expect_cmd(&["CLIENT", "TRACKING", "OFF"], OK);
    c.expect_cmd(
        &args,
        err("ERR Prefix 'p000000:' overlaps with another provided prefix 'p0000'. Prefixes for a single client must \
             not overlap."),
    );
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!(info_int(&info(&mut c), "tracking_total_prefixes"), 0);
}

#[test]
fn client_help_lists_the_tracking_subcommands() {
    let s = TestServer::start();
    let mut c = s.raw();
    let help: Vec<String> = c.call_resp(&["CLIENT", "HELP"]).items().iter().map(Resp::text).collect();
    let entries: [&[&str]; 4] = [
        &["CACHING (YES|NO)", "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes."],
        &["GETREDIR", "    Return the client ID we are redirecting to when tracking is enabled."],
        &[
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
        ],
        &["TRACKINGINFO", "    Report tracking status for the current connection."],
    ];
    for entry in entries {
        let at = help.iter().position(|line| line == entry[0]).unwrap_or_else(|| panic!("{:?} in {help:?}", entry[0]));
        assert_eq!(help[at..at + entry.len()], *entry, "{help:?}");
    }
}

#[test]
fn caching_errors_and_answers() {
    let s = TestServer::start();
    let mut c = s.raw();
    let not_tracking = err(
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
    );
    c.expect_cmd(&["CLIENT", "CACHING"], arity_err("client|caching"));
    c.expect_cmd(&["CLIENT", "CACHING", "yes", "no"], arity_err("client|caching"));
    c.expect_cmd(&["CLIENT", "CACHING", "yes"], not_tracking.as_str());
    c.expect_cmd(&["CLIENT", "CACHING", "maybe"], not_tracking.as_str());
    c.expect_cmd(&["CLIENT", "TRACKING", "ON"], OK);
    let yes_needs_optin = err("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
    let no_needs_optout = err("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
    c.expect_cmd(&["CLIENT", "CACHING", "yes"], yes_needs_optin.as_str());
    c.expect_cmd(&["CLIENT", "CACHING", "no"], no_needs_optout.as_str());
    c.expect_cmd(&["CLIENT", "CACHING", "maybe"], SYNTAX_ERR);
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "OPTIN"], OK);
    c.expect_cmd(&["CLIENT", "CACHING", "YES"], OK);
    c.expect_cmd(&["CLIENT", "CACHING", "no"], no_needs_optout.as_str());
    c.expect_cmd(&["CLIENT", "TRACKING", "OFF"], OK);
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "OPTOUT"], OK);
    c.expect_cmd(&["CLIENT", "CACHING", "No"], OK);
    c.expect_cmd(&["CLIENT", "CACHING", "yes"], yes_needs_optin.as_str());
}

#[test]
fn getredir_and_trackinginfo_follow_the_state() {
    let s = TestServer::start();
    let (_sub, sub_id) = subscriber(&s);
    let mut c = s.raw();
    c.expect_cmd(&["CLIENT", "GETREDIR", "x"], arity_err("client|getredir"));
    c.expect_cmd(&["CLIENT", "TRACKINGINFO", "x"], arity_err("client|trackinginfo"));
    let info2 = |flags: &[&str], redirect: i64, prefixes: &[&str]| {
        let mut out = b"*6\r\n".to_vec();
        out.extend(bulk("flags"));
        out.extend(bulks(flags));
        out.extend(bulk("redirect"));
        out.extend(int(redirect).into_bytes());
        out.extend(bulk("prefixes"));
        out.extend(bulks(prefixes));
        out
    };
    c.expect_cmd(&["CLIENT", "GETREDIR"], int(-1));
    c.expect_cmd(&["CLIENT", "TRACKINGINFO"], info2(&["off"], -1, &[]));
    c.expect_cmd(&["CLIENT", "TRACKING", "ON"], OK);
    c.expect_cmd(&["CLIENT", "GETREDIR"], int(0));
    c.expect_cmd(&["CLIENT", "TRACKINGINFO"], info2(&["on"], 0, &[]));
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", &sub_id, "NOLOOP"], OK);
    let redirect: i64 = sub_id.parse().unwrap();
    c.expect_cmd(&["CLIENT", "GETREDIR"], int(redirect));
    c.expect_cmd(&["CLIENT", "TRACKINGINFO"], info2(&["on", "noloop"], redirect, &[]));
    c.expect_cmd(&["CLIENT", "TRACKING", "OFF"], OK);
    c.expect_cmd(&["CLIENT", "GETREDIR"], int(-1));
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "OPTIN"], OK);
    c.expect_cmd(&["CLIENT", "TRACKINGINFO"], info2(&["on", "optin"], 0, &[]));
    c.expect_cmd(&["CLIENT", "CACHING", "YES"], OK);
    c.expect_cmd(&["CLIENT", "TRACKINGINFO"], info2(&["on", "optin", "caching-yes"], 0, &[]));
    // CACHING lasts for one command only (CLIENT commands aside).
    c.expect_cmd(&["PING"], PONG);
    c.expect_cmd(&["CLIENT", "TRACKINGINFO"], info2(&["on", "optin"], 0, &[]));
    c.expect_cmd(&["CLIENT", "TRACKING", "OFF"], OK);
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "OPTOUT"], OK);
    c.expect_cmd(&["CLIENT", "CACHING", "NO"], OK);
    c.expect_cmd(&["CLIENT", "TRACKINGINFO"], info2(&["on", "optout", "caching-no"], 0, &[]));
    c.expect_cmd(&["CLIENT", "TRACKING", "OFF"], OK);
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "foo", "PREFIX", "bar"], OK);
    c.expect_cmd(&["CLIENT", "TRACKINGINFO"], info2(&["on", "bcast"], 0, &["bar", "foo"]));
    c.expect_cmd(&["CLIENT", "TRACKING", "OFF"], OK);
    c.expect_cmd(&["CLIENT", "TRACKINGINFO"], info2(&["off"], -1, &[]));
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "BCAST"], OK);
    c.expect_cmd(&["CLIENT", "TRACKINGINFO"], info2(&["on", "bcast"], 0, &[""]));
    // RESP3: a map, and the flags a set.
    let mut c3 = s.raw_resp3();
    c3.expect_cmd(&["CLIENT", "TRACKING", "ON", "OPTIN"], OK);
    let mut expected = b"%3\r\n".to_vec();
    expected.extend(bulk("flags"));
    expected.extend(b"~2\r\n");
    expected.extend(bulk("on"));
    expected.extend(bulk("optin"));
    expected.extend(bulk("redirect"));
    expected.extend(int(0).into_bytes());
    expected.extend(bulk("prefixes"));
    expected.extend(b"*0\r\n");
    c3.expect_cmd(&["CLIENT", "TRACKINGINFO"], expected);
}

#[test]
fn client_list_shows_tracking_flags_and_redirect() {
    let s = TestServer::start();
    let (_sub, sub_id) = subscriber(&s);
    let mut c = s.raw();
    let line = |c: &mut RawClient| c.call_resp(&["CLIENT", "INFO"]).text();
    let field = |line: &str, name: &str| {
        line.split_whitespace().find_map(|f| f.strip_prefix(&format!("{name}="))).map(str::to_string)
    };
    let l = line(&mut c);
    assert_eq!((field(&l, "flags").unwrap(), field(&l, "redir").unwrap()), ("N".into(), "-1".into()));
    c.expect_cmd(&["CLIENT", "TRACKING", "ON"], OK);
    let l = line(&mut c);
    assert_eq!((field(&l, "flags").unwrap(), field(&l, "redir").unwrap()), ("t".into(), "0".into()));
    c.expect_cmd(&["CLIENT", "TRACKING", "OFF"], OK);
    c.expect_cmd(&["CLIENT", "TRACKING", "ON", "BCAST", "REDIRECT", &sub_id], OK);
    let l = line(&mut c);
    assert_eq!((field(&l, "flags").unwrap(), field(&l, "redir").unwrap()), ("tB".into(), sub_id.clone()));
    let list = c.call_resp(&["CLIENT", "LIST"]).text();
    assert!(list.lines().any(|l| l.contains(" flags=tB ") && l.contains(&format!(" redir={sub_id} "))), "{list}");
}

// ---------------------------------------------------------------------------
// What sends invalidations
// ---------------------------------------------------------------------------

#[test]
fn a_read_key_is_invalidated_once_by_a_write() {
    let s = TestServer::start();
    let mut t = tracker(&s, &[]);
    let mut w = s.raw();
    w.expect_cmd(&["SET", "a", "1"], OK);
    w.expect_cmd(&["SET", "b", "1"], OK);
    t.expect_cmd(&["GET", "a"], bulk("1"));
    // b was not read: its change is not sent.
    w.expect_cmd(&["INCR", "b"], int(2));
    w.expect_cmd(&["INCR", "a"], int(2));
    t.expect_reply(inval(&["a"]));
    // The entry went with the invalidation: the next change is not sent
    // until the key is read again.
    w.expect_cmd(&["INCR", "a"], int(3));
    assert_nothing(&mut t);
    // A read of a missing key is tracked too.
    t.expect_cmd(&["GET", "missing"], NULL3);
    w.expect_cmd(&["SET", "missing", "x"], OK);
    t.expect_reply(inval(&["missing"]));
    // Every key of a multi-key read.
    t.expect_cmd(&["MGET", "a", "b"], "*2\r\n$1\r\n3\r\n$1\r\n2\r\n");
    w.expect_cmd(&["DEL", "b", "a"], int(2));
    t.expect_reply(inval(&["b"]));
    t.expect_reply(inval(&["a"]));
    assert_nothing(&mut t);
}

/// Each kind of write, to each type, sends the invalidation of the key it
/// changes: `(setup, read, write, keys invalidated)`.
#[test]
fn every_kind_of_change_invalidates() {
    let s = TestServer::start();
    let mut t = tracker(&s, &[]);
    let mut w = s.raw();
    type Case<'a> = (&'a [&'a [&'a str]], &'a [&'a str], &'a [&'a str], &'a [&'a str]);
    let cases: &[Case<'_>] = &[
        (&[&["SET", "s", "v"]], &["GET", "s"], &["APPEND", "s", "w"], &["s"]),
        (&[&["SET", "s", "v"]], &["STRLEN", "s"], &["SETRANGE", "s", "0", "x"], &["s"]),
        (&[&["SET", "s", "v"]], &["GET", "s"], &["GETDEL", "s"], &["s"]),
        (&[&["SET", "s", "v"]], &["GET", "s"], &["EXPIRE", "s", "100"], &["s"]),
        (&[&["SET", "s", "v", "EX", "100"]], &["TTL", "s"], &["PERSIST", "s"], &["s"]),
        (&[&["SET", "s", "v"]], &["EXISTS", "s"], &["UNLINK", "s"], &["s"]),
        (&[&["SET", "s", "1"]], &["GET", "s"], &["INCRBYFLOAT", "s", "1.5"], &["s"]),
        (&[&["SET", "s", "v"]], &["GETBIT", "s", "0"], &["SETBIT", "s", "0", "1"], &["s"]),
        (&[&["HSET", "h", "f", "1"]], &["HGET", "h", "f"], &["HSET", "h", "g", "2"], &["h"]),
        (&[&["HSET", "h", "f", "1"]], &["HGETALL", "h"], &["HDEL", "h", "f"], &["h"]),
        (&[&["HSET", "h", "f", "1"]], &["HLEN", "h"], &["HINCRBY", "h", "f", "1"], &["h"]),
        (&[&["SADD", "set", "a"]], &["SMEMBERS", "set"], &["SADD", "set", "b"], &["set"]),
        (&[&["SADD", "set", "a"]], &["SISMEMBER", "set", "a"], &["SREM", "set", "a"], &["set"]),
        (&[&["RPUSH", "l", "a"]], &["LRANGE", "l", "0", "-1"], &["LPUSH", "l", "b"], &["l"]),
        (&[&["RPUSH", "l", "a", "b"]], &["LLEN", "l"], &["RPOP", "l"], &["l"]),
        (&[&["ZADD", "z", "1", "a"]], &["ZSCORE", "z", "a"], &["ZINCRBY", "z", "2", "a"], &["z"]),
        (&[&["ZADD", "z", "1", "a"]], &["ZRANGE", "z", "0", "-1"], &["ZREM", "z", "a"], &["z"]),
        (&[&["SET", "src", "v"]], &["MGET", "src", "dst"], &["RENAME", "src", "dst"], &["src", "dst"]),
        (&[&["SET", "src", "v"]], &["EXISTS", "dst"], &["COPY", "src", "dst"], &["dst"]),
        (&[&["SET", "src", "v"]], &["GET", "src"], &["MOVE", "src", "1"], &["src"]),
        (&[&["SADD", "x", "1"], &["SADD", "y", "2"]], &["SCARD", "dst"], &["SUNIONSTORE", "dst", "x", "y"], &["dst"]),
        (&[&["RPUSH", "from", "a"]], &["LLEN", "to"], &["LMOVE", "from", "to", "LEFT", "LEFT"], &["to"]),
    ];
    for (setup, read, write, keys) in cases {
        w.expect_cmd(&["FLUSHALL"], OK);
        t.expect_reply(inval_all());
        for command in *setup {
            w.call(command);
        }
        t.call(read);
        let reply = w.call(write);
        assert!(!reply.starts_with('-'), "{write:?}: {reply}");
        for key in *keys {
            t.expect_reply(inval(&[key]));
        }
        assert_nothing(&mut t);
    }
}

#[test]
fn flushes_and_swapdb_invalidate_everything() {
    let s = TestServer::start();
    let mut t = tracker(&s, &[]);
    let mut bcast = tracker(&s, &["BCAST", "PREFIX", "nothing:"]);
    let mut w = s.raw();
    let read = |t: &mut RawClient| {
        t.expect_cmd(&["GET", "k"], NULL3);
    };
    read(&mut t);
    // Redis sends nothing for SWAPDB (a gap: every key of both databases
    // may have changed); Redistill invalidates everything, as for a flush.
    let swapdb = (!s.is_redis()).then_some(&["SWAPDB", "0", "1"][..]);
    for flush in
        [&["FLUSHALL"][..], &["FLUSHALL", "ASYNC"], &["FLUSHDB"], &["FLUSHDB", "SYNC"]].into_iter().chain(swapdb)
    {
        w.expect_cmd(flush, OK);
        // Every tracking client, whether it read anything or not.
        t.expect_reply(inval_all());
        bcast.expect_reply(inval_all());
        assert_nothing(&mut t);
    }
    // Flushing forgets the tracked keys: a write after it sends nothing.
    w.expect_cmd(&["SET", "k", "v"], OK);
    assert_nothing(&mut t);
    // SWAPDB of a database with itself changes nothing.
    w.expect_cmd(&["SWAPDB", "1", "1"], OK);
    assert_nothing(&mut t);
    assert_nothing(&mut bcast);
}

#[test]
fn a_client_s_own_change_is_invalidated_after_its_reply() {
    let s = TestServer::start();
    let mut t = tracker(&s, &[]);
    expect_then(&mut t, &["HSET", "h", "f", "1"], int(1), &[]);
    t.expect_cmd(&["HGET", "h", "f"], bulk("1"));
    expect_then(&mut t, &["HDEL", "h", "f"], int(1), &[inval(&["h"])]);
    // Several keys of one command: after the whole reply.
    t.expect_cmd(&["MGET", "a", "b"], "*2\r\n_\r\n_\r\n");
    expect_then(&mut t, &["MSET", "a", "1", "b", "2"], OK, &[inval(&["a"]), inval(&["b"])]);
    // In a transaction: after EXEC's reply.
    t.expect_cmd(&["GET", "a"], bulk("1"));
    t.expect_cmd(&["MULTI"], OK);
    t.expect_cmd(&["INCR", "a"], "+QUEUED\r\n");
    t.expect_cmd(&["GET", "b"], "+QUEUED\r\n");
    expect_then(&mut t, &["EXEC"], "*2\r\n:2\r\n$1\r\n2\r\n", &[inval(&["a"])]);
    // The GET b inside EXEC was tracked.
    expect_then(&mut t, &["DEL", "b"], int(1), &[inval(&["b"])]);
    t.expect_cmd(&["MULTI"], OK);
    t.expect_cmd(&["FLUSHDB"], "+QUEUED\r\n");
    expect_then(&mut t, &["EXEC"], "*1\r\n+OK\r\n", &[inval_all()]);
    // In a script: after its reply.
    t.expect_cmd(&["GET", "k"], NULL3);
    expect_then(&mut t, &["EVAL", "return redis.call('set', KEYS[1], 'x')", "1", "k"], OK, &[inval(&["k"])]);
    assert_nothing(&mut t);
}

#[test]
fn transactions_and_scripts_of_others_invalidate() {
    let s = TestServer::start();
    let mut t = tracker(&s, &[]);
    let mut w = s.raw();
    t.expect_cmd(&["MGET", "a", "b"], "*2\r\n_\r\n_\r\n");
    w.expect_cmd(&["MULTI"], OK);
    w.expect_cmd(&["SET", "a", "1"], "+QUEUED\r\n");
    w.expect_cmd(&["SET", "b", "2"], "+QUEUED\r\n");
    w.expect_cmd(&["EXEC"], "*2\r\n+OK\r\n+OK\r\n");
    t.expect_reply(inval(&["a"]));
    t.expect_reply(inval(&["b"]));
    t.expect_cmd(&["GET", "a"], bulk("1"));
    w.expect_cmd(&["EVAL", "redis.call('incr', KEYS[1]) return redis.call('del', KEYS[1])", "1", "a"], int(1));
    t.expect_reply(inval(&["a"]));
    assert_nothing(&mut t);
}

/// Scripts are not tracked themselves (their declared keys are not
/// read), the read-only commands they call are (Redis 7.2 on: 7.0 tracked
/// the script's declared keys).
#[test]
fn scripts_track_what_they_read() {
    let s = TestServer::start();
    if s.reference_older_than(7, 2) {
        return;
    }
    let mut t = tracker(&s, &[]);
    let mut w = s.raw();
    w.expect_cmd(&["MSET", "k1", "0", "k2", "0"], OK);
    for (round, eval) in ["EVAL", "EVAL_RO"].into_iter().enumerate() {
        let (v1, v2) = ((2 * round + 1).to_string(), (2 * round + 2).to_string());
        t.expect_cmd(&[eval, "return redis.call('ping')", "2", "k1", "k2"], "+PONG\r\n");
        w.expect_cmd(&["MSET", "k1", &v1, "k2", &v1], OK);
        assert_nothing(&mut t);
        t.expect_cmd(&[eval, "return redis.call('get', KEYS[2])", "2", "k1", "k2"], bulk(&v1));
        w.expect_cmd(&["MSET", "k1", &v2, "k2", &v2], OK);
        t.expect_reply(inval(&["k2"]));
        assert_nothing(&mut t);
    }
}

#[test]
fn expired_keys_are_invalidated() {
    let s = TestServer::start();
    let mut t = tracker(&s, &[]);
    let mut w = s.raw();
    // Active expiry: the key goes without anybody touching it.
    w.expect_cmd(&["SET", "active", "v", "PX", "100"], OK);
    t.expect_cmd(&["GET", "active"], bulk("v"));
    eventually("the key expires", || w.call_resp(&["DBSIZE"]).int() == 0);
    t.expect_reply(inval(&["active"]));
    assert_nothing(&mut t);
    // Found expired by a read, whichever way it goes first.
    w.expect_cmd(&["SET", "lazy", "v", "PX", "50"], OK);
    t.expect_cmd(&["GET", "lazy"], bulk("v"));
    std::thread::sleep(Duration::from_millis(60));
    w.expect_cmd(&["GET", "lazy"], NIL);
    t.expect_reply(inval(&["lazy"]));
    assert_nothing(&mut t);
}

#[test]
fn evicted_keys_are_invalidated() {
    let s = TestServer::start();
    let mut t = tracker(&s, &[]);
    let mut w = s.raw();
    w.expect_cmd(&["SET", "victim", "v"], OK);
    t.expect_cmd(&["GET", "victim"], bulk("v"));
    let used = info_int(&info(&mut w), "used_memory");
    w.expect_cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"], OK);
    w.expect_cmd(&["CONFIG", "SET", "maxmemory", &(used + (1 << 20)).to_string()], OK);
    let value = "x".repeat(1000);
    for round in 0..200 {
        for i in 0..500 {
            w.send_cmd(&["SET", &format!("filler:{round}:{i}"), &value]);
        }
        (0..500).for_each(|_| assert_eq!(w.read_reply(), OK));
        t.send_cmd(&["PING"]);
        let first = t.read_reply_bytes();
        if first != PONG.as_bytes() {
            assert_eq!(show(&first), show(&inval(&["victim"])));
            t.expect_reply(PONG);
            assert_nothing(&mut t);
            return;
        }
    }
    panic!("victim was never evicted");
}

// ---------------------------------------------------------------------------
// Where invalidations go
// ---------------------------------------------------------------------------

#[test]
fn a_resp2_client_without_redirection_is_sent_nothing() {
    let s = TestServer::start();
    let mut t = s.raw();
    let mut w = s.raw();
    t.expect_cmd(&["CLIENT", "TRACKING", "ON"], OK);
    t.expect_cmd(&["GET", "k"], NIL);
    w.expect_cmd(&["SET", "k", "v"], OK);
    t.expect_cmd(&["SET", "k", "w"], OK);
    assert_nothing(&mut t);
    // Switching to RESP3 later: new reads are pushed.
    t.expect_cmd(&["GET", "k"], bulk("w"));
    t.send_cmd(&["HELLO", "3"]);
    t.read_reply();
    w.expect_cmd(&["SET", "k", "x"], OK);
    t.expect_reply(inval(&["k"]));
}

#[test]
fn redirection_to_a_resp2_subscriber() {
    let s = TestServer::start();
    let (mut sub, sub_id) = subscriber(&s);
    let mut t = s.raw();
    let mut other = s.raw();
    let mut w = s.raw();
    t.expect_cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", &sub_id], OK);
    other.expect_cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", &sub_id], OK);
    w.expect_cmd(&["MSET", "a", "1", "b", "2"], OK);
    t.expect_cmd(&["GET", "a"], bulk("1"));
    other.expect_cmd(&["GET", "b"], bulk("2"));
    w.expect_cmd(&["INCR", "a"], int(2));
    w.expect_cmd(&["INCR", "b"], int(3));
    sub.expect_reply(message(&["a"]));
    sub.expect_reply(message(&["b"]));
    // The tracking client's own change too, after its reply.
    t.expect_cmd(&["GET", "a"], bulk("2"));
    t.expect_cmd(&["DEL", "a"], int(1));
    sub.expect_reply(message(&["a"]));
    w.expect_cmd(&["FLUSHALL"], OK);
    let mut flush = b"*3\r\n".to_vec();
    flush.extend(bulk("message"));
    flush.extend(bulk("__redis__:invalidate"));
    flush.extend(NIL.as_bytes());
    sub.expect_reply(&flush);
    sub.expect_reply(&flush);
    sub.expect_cmd(&["PING"], SUBSCRIBED_PONG);
    assert_nothing(&mut t);
}

#[test]
fn redirection_to_a_resp3_client_or_a_deaf_one() {
    let s = TestServer::start();
    // A RESP3 client need not subscribe to receive the pushes.
    let mut target = s.raw_resp3();
    let target_id = client_id(&mut target);
    let mut t = s.raw();
    let mut w = s.raw();
    t.expect_cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", &target_id], OK);
    t.expect_cmd(&["GET", "k"], NIL);
    w.expect_cmd(&["SET", "k", "v"], OK);
    target.expect_reply(inval(&["k"]));
    // A RESP2 client that subscribes to nothing cannot receive them: they
    // are lost, and the redirection is not broken.
    let mut deaf = s.raw();
    let deaf_id = client_id(&mut deaf);
    t.expect_cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", &deaf_id], OK);
    t.expect_cmd(&["GET", "k"], bulk("v"));
    w.expect_cmd(&["SET", "k", "w"], OK);
    assert_nothing(&mut deaf);
    assert_nothing(&mut target);
    let flags = t.call_resp(&["CLIENT", "TRACKINGINFO"]).items()[1].items().iter().map(Resp::text).collect::<Vec<_>>();
    assert_eq!(flags, ["on"]);
}

#[test]
fn a_broken_redirection_is_reported() {
    let s = TestServer::start();
    let (mut sub, sub_id) = subscriber(&s);
    let mut t = s.raw_resp3();
    let mut w = s.raw();
    t.expect_cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", &sub_id], OK);
    t.expect_cmd(&["MGET", "k1", "k2"], "*2\r\n_\r\n_\r\n");
    sub.expect_cmd(&["QUIT"], OK);
    w.expect_cmd(&["SET", "k1", "v"], OK);
    let mut broken = b">2\r\n".to_vec();
    broken.extend(bulk("tracking-redir-broken"));
    broken.extend(int(sub_id.parse().unwrap()).into_bytes());
    t.expect_reply(&broken);
    let l = t.call_resp(&["CLIENT", "INFO"]).text();
    assert!(l.contains(" flags=tR ") && l.contains(&format!(" redir={sub_id} ")), "{l}");
    let info = t.call_resp(&["CLIENT", "TRACKINGINFO"]).pairs();
    let flags = info[0].1.items().iter().map(Resp::text).collect::<Vec<_>>();
    assert_eq!(flags, ["on", "broken_redirect"]);
    // Each invalidation tells it again.
    w.expect_cmd(&["SET", "k2", "v"], OK);
    t.expect_reply(&broken);
    // Turning tracking on again clears it.
    let mut c = s.raw();
    let c_id = client_id(&mut c);
    t.expect_cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", &c_id], OK);
    assert!(t.call_resp(&["CLIENT", "INFO"]).text().contains(" flags=t "));
    // A RESP2 client is only flagged.
    let (mut sub2, sub2_id) = subscriber(&s);
    let mut t2 = s.raw();
    t2.expect_cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", &sub2_id], OK);
    t2.expect_cmd(&["GET", "k3"], NIL);
    w.expect_cmd(&["CLIENT", "KILL", "ID", &sub2_id], int(1));
    assert!(sub2.is_closed());
    w.expect_cmd(&["SET", "k3", "v"], OK);
    assert!(t2.call_resp(&["CLIENT", "INFO"]).text().contains(" flags=tR "));
    assert_nothing(&mut t2);
}

#[test]
fn bcast_sends_changes_under_each_prefix_in_one_message() {
    let s = TestServer::start();
    let (mut sub, sub_id) = subscriber(&s);
    let mut t = s.raw();
    let mut w = s.raw();
    t.expect_cmd(&["CLIENT", "TRACKING", "ON", "BCAST", "REDIRECT", &sub_id, "PREFIX", "b:", "PREFIX", "a:"], OK);
    // Nothing read, yet every change under a prefix is sent: one message
    // per prefix per command, its keys in byte order.
    w.expect_cmd(&["MSET", "b:1", "x", "a:2", "x", "c:1", "x", "a:1", "x"], OK);
    sub.expect_reply(message(&["a:1", "a:2"]));
    sub.expect_reply(message(&["b:1"]));
    w.expect_cmd(&["MULTI"], OK);
    for key in ["a:3", "b:2", "a:3"] {
        w.expect_cmd(&["INCR", key], "+QUEUED\r\n");
    }
    w.expect_cmd(&["EXEC"], "*3\r\n:1\r\n:1\r\n:2\r\n");
    sub.expect_reply(message(&["a:3"]));
    sub.expect_reply(message(&["b:2"]));
    w.expect_cmd(&["SET", "c:1", "y"], OK);
    sub.expect_cmd(&["PING"], SUBSCRIBED_PONG);
    // Adding a prefix; the empty prefix covers every key.
    t.expect_cmd(&["CLIENT", "TRACKING", "ON", "BCAST", "REDIRECT", &sub_id, "PREFIX", "c:"], OK);
    w.expect_cmd(&["DEL", "c:1"], int(1));
    sub.expect_reply(message(&["c:1"]));
    let mut all = tracker(&s, &["BCAST"]);
    w.expect_cmd(&["SET", "zzz", "1"], OK);
    all.expect_reply(inval(&["zzz"]));
    sub.expect_cmd(&["PING"], SUBSCRIBED_PONG);
    // Keys read before switching to BCAST are not invalidated any more.
    let mut switcher = tracker(&s, &[]);
    switcher.expect_cmd(&["GET", "zzz"], bulk("1"));
    switcher.expect_cmd(&["CLIENT", "TRACKING", "OFF"], OK);
    switcher.expect_cmd(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "nothing"], OK);
    w.expect_cmd(&["SET", "zzz", "2"], OK);
    all.expect_reply(inval(&["zzz"]));
    assert_nothing(&mut switcher);
}

#[test]
fn noloop_skips_the_client_s_own_changes() {
    let s = TestServer::start();
    let mut t = tracker(&s, &["NOLOOP"]);
    let mut w = s.raw();
    t.expect_cmd(&["MGET", "other1", "mine", "other2"], "*3\r\n_\r\n_\r\n_\r\n");
    w.expect_cmd(&["SET", "other1", "1"], OK);
    t.expect_reply(inval(&["other1"]));
    t.expect_cmd(&["SET", "mine", "1"], OK);
    w.expect_cmd(&["SET", "other2", "1"], OK);
    t.expect_reply(inval(&["other2"]));
    // Nor in a script.
    t.expect_cmd(&["GET", "mine"], bulk("1"));
    t.expect_cmd(&["EVAL", "return redis.call('set', KEYS[1], '2')", "1", "mine"], OK);
    t.expect_cmd(&["GET", "mine"], bulk("2"));
    // BCAST with NOLOOP: its own changes are left out of the message.
    let mut b = tracker(&s, &["BCAST", "NOLOOP"]);
    b.expect_cmd(&["SET", "loop", "1"], OK);
    w.expect_cmd(&["SET", "x", "1"], OK);
    b.expect_reply(inval(&["x"]));
    assert_nothing(&mut b);
}

#[test]
fn optin_tracks_only_after_caching_yes() {
    let s = TestServer::start();
    let mut t = tracker(&s, &["OPTIN"]);
    let mut w = s.raw();
    w.expect_cmd(&["SET", "k", "1"], OK);
    t.expect_cmd(&["GET", "k"], bulk("1"));
    w.expect_cmd(&["SET", "k", "2"], OK);
    assert_nothing(&mut t);
    t.expect_cmd(&["CLIENT", "CACHING", "YES"], OK);
    t.expect_cmd(&["GET", "k"], bulk("2"));
    w.expect_cmd(&["SET", "k", "3"], OK);
    t.expect_reply(inval(&["k"]));
    // For the next command only...
    t.expect_cmd(&["CLIENT", "CACHING", "YES"], OK);
    t.expect_cmd(&["PING"], PONG);
    t.expect_cmd(&["GET", "k"], bulk("3"));
    w.expect_cmd(&["SET", "k", "4"], OK);
    assert_nothing(&mut t);
    // ...which may be a transaction.
    t.expect_cmd(&["CLIENT", "CACHING", "YES"], OK);
    t.expect_cmd(&["MULTI"], OK);
    t.expect_cmd(&["GET", "k"], "+QUEUED\r\n");
    t.expect_cmd(&["EXEC"], "*1\r\n$1\r\n4\r\n");
    w.expect_cmd(&["SET", "k", "5"], OK);
    t.expect_reply(inval(&["k"]));
}

#[test]
fn optout_tracks_unless_caching_no() {
    let s = TestServer::start();
    let mut t = tracker(&s, &["OPTOUT"]);
    let mut w = s.raw();
    w.expect_cmd(&["MSET", "a", "1", "b", "1"], OK);
    t.expect_cmd(&["CLIENT", "CACHING", "NO"], OK);
    t.expect_cmd(&["GET", "a"], bulk("1"));
    t.expect_cmd(&["GET", "b"], bulk("1"));
    w.expect_cmd(&["MSET", "a", "2", "b", "2"], OK);
    t.expect_reply(inval(&["b"]));
    assert_nothing(&mut t);
}

// ---------------------------------------------------------------------------
// The table's size, INFO, and leaving
// ---------------------------------------------------------------------------

#[test]
fn tracking_table_max_keys_drops_keys_with_their_invalidations() {
    let s = TestServer::start();
    let (mut sub, sub_id) = subscriber(&s);
    let mut t = s.raw();
    let mut c = s.raw();
    c.expect_cmd(&["CONFIG", "GET", "tracking-table-max-keys"], bulks(&["tracking-table-max-keys", "1000000"]));
    let range_err = "argument must be between 0 and 9223372036854775807 inclusive";
    let parse_err = "argument couldn't be parsed into an integer";
    for (value, reason) in [("-1", range_err), ("abc", parse_err), ("1k", parse_err)] {
        c.expect_cmd(
            &["CONFIG", "SET", "tracking-table-max-keys", value],
            err(&format!("ERR CONFIG SET failed (possibly related to argument 'tracking-table-max-keys') - {reason}")),
        );
    }
    t.expect_cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", &sub_id], OK);
    let keys: Vec<String> = (0..10).map(|i| format!("key{i}")).collect();
    for key in &keys {
        t.expect_cmd(&["GET", key], NIL);
    }
    assert_eq!(info_int(&info(&mut c), "tracking_total_keys"), 10);
    c.expect_cmd(&["CONFIG", "SET", "tracking-table-max-keys", "3"], OK);
    c.expect_cmd(&["CONFIG", "GET", "tracking-table-max-keys"], bulks(&["tracking-table-max-keys", "3"]));
    // The dropped keys are invalidated, one message each: seven of them.
    let mut dropped = Vec::new();
    for _ in 0..7 {
        let reply = sub.read_resp();
        dropped.push(reply.items()[2].items()[0].text());
    }
    sub.expect_cmd(&["PING"], SUBSCRIBED_PONG);
    eventually("the table to hold 3 keys", || info_int(&info(&mut c), "tracking_total_keys") == 3);
    // Reading more keys keeps it at the limit.
    t.expect_cmd(&["GET", "more"], NIL);
    let reply = sub.read_resp();
    dropped.push(reply.items()[2].items()[0].text());
    eventually("the table to hold 3 keys", || info_int(&info(&mut c), "tracking_total_keys") == 3);
    dropped.sort();
    dropped.dedup();
    assert_eq!(dropped.len(), 8, "{dropped:?}");
    c.expect_cmd(&["CONFIG", "SET", "tracking-table-max-keys", "0"], OK);
    for key in &keys {
        t.expect_cmd(&["GET", key], NIL);
    }
    assert!(info_int(&info(&mut c), "tracking_total_keys") >= 10);
}

#[test]
fn info_counts_clients_keys_items_and_prefixes() {
    let s = TestServer::start();
    let mut c = s.raw();
    let fields = |c: &mut RawClient| {
        let info = info(c);
        ["tracking_clients", "tracking_total_keys", "tracking_total_items", "tracking_total_prefixes"]
            .map(|f| info_int(&info, f))
    };
    assert_eq!(fields(&mut c), [0, 0, 0, 0]);
    let mut a = tracker(&s, &[]);
    let mut b = tracker(&s, &[]);
    a.expect_cmd(&["MGET", "k1", "k2"], "*2\r\n_\r\n_\r\n");
    b.expect_cmd(&["GET", "k1"], NULL3);
    let mut p = tracker(&s, &["BCAST", "PREFIX", "x:", "PREFIX", "y:"]);
    let _q = tracker(&s, &["BCAST", "PREFIX", "x:"]);
    assert_eq!(fields(&mut c), [4, 2, 3, 2]);
    c.expect_cmd(&["SET", "k1", "v"], OK);
    assert_eq!(fields(&mut c), [4, 1, 1, 2]);
    p.expect_cmd(&["CLIENT", "TRACKING", "OFF"], OK);
    assert_eq!(fields(&mut c), [3, 1, 1, 1]);
    // RESET turns tracking off; so does leaving.
    a.expect_reply(inval(&["k1"]));
    a.expect_cmd(&["RESET"], "+RESET\r\n");
    assert_eq!(fields(&mut c)[0], 2);
    drop(b);
    eventually("the client to leave", || fields(&mut c)[0] == 1);
}

#[test]
fn the_server_reports_redis_7_4() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start();
    let mut c = s.raw_resp3();
    let hello = c.call_resp(&["HELLO", "3"]);
    let pairs = hello.pairs();
    let version = pairs.iter().find(|(k, _)| k == "version").map(|(_, v)| v.text());
    assert_eq!(version.as_deref(), Some("7.4.0"), "redis-py's client-side cache needs 7.4.0 or later");
    assert_eq!(s.redis_version(), "7.4.0");
}

/// The property a client-side cache relies on: a tracking client that
/// caches what it reads and drops what it is told to never keeps a stale
/// value, however writes on other connections interleave with its reads.
/// In RESP3 an invalidation that arrives before a read's reply is about
/// an older change (the reply is newer); one after it drops the value.
#[test]
fn a_cache_kept_by_the_invalidations_never_goes_stale() {
    let s = TestServer::start();
    let keys: Vec<String> = (0..8).map(|i| format!("counter{i}")).collect();
    let mut w = s.raw();
    for key in &keys {
        w.expect_cmd(&["SET", key, "0"], OK);
    }
    let writer = {
        let keys = keys.clone();
        let mut w = s.raw();
        std::thread::spawn(move || {
            for i in 0..3000 {
                let key = &keys[i % keys.len()];
                w.call(&["INCR", key]);
            }
        })
    };
    let mut t = tracker(&s, &[]);
    let mut cache: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    // Read frames until the reply (not a push) comes; apply the pushes.
    let read_reply = |t: &mut RawClient, cache: &mut std::collections::HashMap<String, String>| loop {
        match t.read_resp() {
            Resp::Push(items) => {
                assert_eq!(items[0].text(), "invalidate");
                for key in items[1].items() {
                    cache.remove(&key.text());
                }
            }
            reply => return reply,
        }
    };
    let mut rounds = 0;
    while !writer.is_finished() || rounds < 2 {
        if writer.is_finished() {
            rounds += 1;
        }
        for key in &keys {
            if !cache.contains_key(key) {
                t.send_cmd(&["GET", key]);
                let value = read_reply(&mut t, &mut cache).text();
                cache.insert(key.clone(), value);
            }
        }
        t.send_cmd(&["PING"]);
        assert_eq!(read_reply(&mut t, &mut cache), Resp::Simple("PONG".into()));
    }
    writer.join().unwrap();
    t.send_cmd(&["PING"]);
    read_reply(&mut t, &mut cache);
    for key in &keys {
        let current = w.call_resp(&["GET", key]).text();
        if let Some(cached) = cache.get(key) {
            assert_eq!(cached, &current, "{key} is stale in the cache");
        }
    }
}
