//! Keyspace notifications (`notify-keyspace-events`): CONFIG GET/SET and
//! its errors, the two channels and their order, the masking by class, and
//! the exact events of every command family, in order, as a client
//! subscribed to `__key*__:*` receives them while another runs commands;
//! `new`, `keymiss`, `expired` (lazy and active) and `evicted`; MULTI and
//! scripts.
//!
//! Every test also holds against redis-server 7.0 (differential mode),
//! except hash field expiry (HEXPIRE and its family, HSETEX, HGETEX,
//! HGETDEL), which 7.0 lacks: those follow Redis 7.4's source (8.0's
//! documentation for HSETEX, HGETEX and HGETDEL) and are Redistill-only.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common::*;

/// Published by the command client after its commands: the subscriber has
/// seen every event they caused once it sees this (it matches the pattern
/// too, and one connection's publishes arrive in order).
const MARKER: &str = "__keymarker__:done";

/// A client subscribed to every keyspace and keyevent channel.
struct Listener {
    c: RawClient,
}

/// One message: its channel and payload.
type Message = (String, String);

impl Listener {
    fn new(s: &TestServer) -> Listener {
        let mut c = s.raw();
        c.send_cmd(&["PSUBSCRIBE", "__key*__:*"]);
        assert_eq!(c.read_resp().items()[0].text(), "psubscribe");
        Listener { c }
    }

    fn message(&mut self) -> Message {
        let message = self.c.read_resp();
        let items = message.items();
        assert_eq!((items[0].text().as_str(), items[1].text().as_str()), ("pmessage", "__key*__:*"), "{message:?}");
        (items[2].text(), items[3].text())
    }

    /// The next event, as `"event key"` (`"event key@db"` outside db 0),
    /// from its keyspace message and the keyevent message that must come
    /// right after it; None at the marker.
    fn event(&mut self) -> Option<String> {
        let (channel, event) = self.message();
        if channel == MARKER {
            return None;
        }
        let (db, key) = split_channel(&channel, "__keyspace@");
        let (keyevent, payload) = self.message();
        let expected = format!("__keyevent@{db}__:{event}");
        assert_eq!((keyevent.as_str(), payload.as_str()), (expected.as_str(), key), "after {channel} {event}");
        Some(if db == "0" { format!("{event} {key}") } else { format!("{event} {key}@{db}") })
    }

    /// Every event until `c` publishes the marker.
    fn events(&mut self, c: &mut RawClient) -> Vec<String> {
        c.call(&["PUBLISH", MARKER, "."]);
        std::iter::from_fn(|| self.event()).collect()
    }
}

/// `(db, rest)` of `<prefix><db>__:<rest>`.
fn split_channel<'a>(channel: &'a str, prefix: &str) -> (&'a str, &'a str) {
    let rest = channel.strip_prefix(prefix).unwrap_or_else(|| panic!("not a {prefix} channel: {channel}"));
    rest.split_once("__:").unwrap_or_else(|| panic!("no db in {channel}"))
}

/// A server with notifications of `classes` on (with K and E), a client
/// to run commands, and a subscriber.
struct Scene {
    s: TestServer,
    c: RawClient,
    l: Listener,
}

impl Scene {
    fn new(classes: &str) -> Scene {
        let s = TestServer::start();
        let mut c = s.raw();
        c.expect_cmd(&["CONFIG", "SET", "notify-keyspace-events", &format!("KE{classes}")], "+OK\r\n");
        let l = Listener::new(&s);
        Scene { s, c, l }
    }

    /// Run `command`, which must not fail; its reply.
    fn run(&mut self, command: &[&str]) -> String {
        let reply = self.c.call(command);
        assert!(!reply.starts_with('-'), "{command:?}: {reply}");
        reply
    }

    /// Run `commands` (none may fail) and assert the events they caused,
    /// exactly and in order.
    fn expect(&mut self, commands: &[&[&str]], events: &[&str]) {
        commands.iter().for_each(|command| {
            self.run(command);
        });
        assert_eq!(self.l.events(&mut self.c), events, "after {commands:?}");
    }

    /// Run `command`, expecting exactly `reply`, and assert its events.
    fn expect_reply(&mut self, command: &[&str], reply: &str, events: &[&str]) {
        self.c.expect_cmd(command, reply);
        assert_eq!(self.l.events(&mut self.c), events, "after {command:?}");
    }
}

// ---------------------------------------------------------------------------
// CONFIG and the channels
// ---------------------------------------------------------------------------

fn config_get(c: &mut RawClient) -> String {
    let reply = c.call_resp(&["CONFIG", "GET", "notify-keyspace-events"]);
    assert_eq!(reply.items()[0].text(), "notify-keyspace-events");
    reply.items()[1].text()
}

#[test]
fn config_set_and_get_round_trip_as_redis_writes_the_classes() {
    let s = TestServer::start();
    let mut c = s.raw();
    assert_eq!(config_get(&mut c), "", "off by default");
    for (set, got) in [
        ("gKE", "gKE"),
        ("$lshzxeKE", "$lshzxeKE"),
        ("KA", "AK"),
        ("EA", "AE"),
        ("KEA", "AKE"),
        ("Elg", "glE"),
        ("g$lshzxetd", "A"),
        ("AmnKE", "AKEm"),
        ("nK", "nK"),
        ("xe", "xe"),
        ("m", "m"),
        ("KKgg", "gK"),
        ("", ""),
    ] {
        c.expect_cmd(&["CONFIG", "SET", "notify-keyspace-events", set], "+OK\r\n");
        assert_eq!(config_get(&mut c), got, "after setting {set:?}");
    }
    let got = c.call_resp(&["CONFIG", "GET", "notify*"]);
    assert_eq!(got.pairs().len(), 1);
}

#[test]
fn config_set_refuses_a_character_that_names_no_class() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CONFIG", "SET", "notify-keyspace-events", "gE"], "+OK\r\n");
    let error = "-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event \
                 class character. Use 'Ag$lshzxeKEtmdn'.\r\n";
    for bad in ["KEAq", "a", "k", " ", "KE "] {
        c.expect_cmd(&["CONFIG", "SET", "notify-keyspace-events", bad], error);
    }
    // Nothing of a refused CONFIG SET is applied.
    c.expect_cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru", "notify-keyspace-events", "x?"], error);
    assert_eq!(config_get(&mut c), "gE");
    let policy = c.call_resp(&["CONFIG", "GET", "maxmemory-policy"]);
    assert_ne!(policy.items()[1].text(), "allkeys-lru");
    c.expect_cmd(
        &["CONFIG", "SET", "notify-keyspace-events"],
        "-ERR wrong number of arguments for 'config|set' command\r\n",
    );
}

#[test]
fn config_file_sets_the_classes_at_start() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start_with("[server]\nnotify_keyspace_events = \"Elg\"\n");
    assert_eq!(config_get(&mut s.raw()), "glE");
}

#[test]
fn an_event_goes_to_the_keyspace_channel_then_the_keyevent_one() {
    let mut t = Scene::new("$g");
    t.c.call(&["SET", "foo", "bar"]);
    let pmessage = |channel: &str, payload: &str| {
        format!(
            "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n",
            channel.len(),
            payload.len()
        )
    };
    t.l.c.expect_reply(pmessage("__keyspace@0__:foo", "set"));
    t.l.c.expect_reply(pmessage("__keyevent@0__:set", "foo"));
    // Channel subscribers receive them as plain messages.
    let mut plain = t.s.raw();
    plain.call(&["SUBSCRIBE", "__keyspace@0__:foo", "__keyevent@0__:del"]);
    plain.read_reply();
    t.c.call(&["DEL", "foo"]);
    plain.expect_reply(bulks(&["message", "__keyspace@0__:foo", "del"]));
    plain.expect_reply(bulks(&["message", "__keyevent@0__:del", "foo"]));
}

/// The messages of one SET with `classes` on.
fn messages_of_a_set(classes: &str) -> Vec<Message> {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CONFIG", "SET", "notify-keyspace-events", classes], "+OK\r\n");
    let mut l = Listener::new(&s);
    c.call(&["SET", "foo", "bar"]);
    c.call(&["PUBLISH", MARKER, "."]);
    std::iter::from_fn(|| Some(l.message()).filter(|(channel, _)| channel != MARKER)).collect()
}

#[test]
fn k_and_e_choose_the_channels_and_the_classes_the_events() {
    let message = |channel: &str, payload: &str| (channel.to_string(), payload.to_string());
    assert_eq!(messages_of_a_set("KA"), [message("__keyspace@0__:foo", "set")]);
    assert_eq!(messages_of_a_set("EA"), [message("__keyevent@0__:set", "foo")]);
    assert_eq!(messages_of_a_set("A"), [], "no channel named");
    assert_eq!(messages_of_a_set("KEl"), [], "strings masked");
    assert_eq!(messages_of_a_set("KE"), [], "no class named");
    assert_eq!(messages_of_a_set(""), []);
}

#[test]
fn the_database_is_in_the_channel_names() {
    let mut t = Scene::new("$g");
    t.run(&["SELECT", "3"]);
    t.expect(&[&["SET", "k", "v"], &["DEL", "k"]], &["set k@3", "del k@3"]);
}

// ---------------------------------------------------------------------------
// Strings and bits
// ---------------------------------------------------------------------------

#[test]
fn set_family_events() {
    let mut t = Scene::new("$gn");
    t.expect(&[&["SET", "k", "v"], &["SET", "k", "w"]], &["new k", "set k", "set k"]);
    t.expect(&[&["SET", "k", "v", "EX", "100"]], &["set k", "expire k"]);
    t.expect(
        &[&["SET", "k", "v", "KEEPTTL"], &["SET", "k", "v", "PXAT", "99999999999999"]],
        &["set k", "set k", "expire k"],
    );
    t.expect(
        &[&["SETEX", "e", "100", "v"], &["PSETEX", "p", "100000", "v"]],
        &["new e", "set e", "expire e", "new p", "set p", "expire p"],
    );
    t.expect_reply(&["SET", "k", "v", "NX"], "$-1\r\n", &[]);
    t.expect_reply(&["SET", "missing", "v", "XX"], "$-1\r\n", &[]);
    t.expect(&[&["SETNX", "k", "v"], &["SETNX", "n", "v"]], &["new n", "set n"]);
    t.expect(&[&["GETSET", "k", "x"], &["SET", "k", "y", "GET"]], &["set k", "set k"]);
    t.expect(&[&["MSET", "a", "1", "k", "2", "b", "3"]], &["new a", "set a", "set k", "new b", "set b"]);
    t.expect_reply(&["MSETNX", "a", "1", "c", "2"], ":0\r\n", &[]);
    t.expect(&[&["MSETNX", "c", "1", "d", "2"]], &["new c", "set c", "new d", "set d"]);
    // A deadline already past: the key is set, given its deadline, and
    // gone at once (Redis stores it and reclaims it when it is next seen).
    t.expect(&[&["SET", "old", "v", "PXAT", "1"], &["EXISTS", "old"]], &["new old", "set old", "expire old"]);
}

#[test]
fn a_deadline_already_past_expires_the_key() {
    let mut t = Scene::new("$gxn");
    t.expect(
        &[&["SET", "old", "v", "PXAT", "1"], &["EXISTS", "old"]],
        &["new old", "set old", "expire old", "expired old"],
    );
    t.expect(
        &[&["SET", "k", "v"], &["SET", "k", "w", "EXAT", "1"], &["GET", "k"]],
        &["new k", "set k", "set k", "expire k", "expired k"],
    );
}

#[test]
fn string_editing_events() {
    let mut t = Scene::new("$gn");
    t.expect(
        &[&["APPEND", "s", "ab"], &["APPEND", "s", "cd"], &["APPEND", "s", ""]],
        &["new s", "append s", "append s", "append s"],
    );
    t.expect(
        &[&["SETRANGE", "s", "1", "xy"], &["SETRANGE", "s", "1", ""], &["SETRANGE", "none", "3", ""]],
        &["setrange s"],
    );
    t.expect(&[&["SETRANGE", "r", "2", "z"]], &["new r", "setrange r"]);
    t.expect(
        &[&["INCR", "n"], &["DECR", "n"], &["INCRBY", "n", "5"], &["DECRBY", "n", "2"]],
        &["new n", "incrby n", "incrby n", "incrby n", "incrby n"],
    );
    t.expect(&[&["INCRBYFLOAT", "f", "1.5"], &["INCRBYFLOAT", "f", "1"]], &["new f", "incrbyfloat f", "incrbyfloat f"]);
    // Failures change nothing and report nothing.
    for command in [&["INCR", "s"][..], &["INCRBYFLOAT", "s", "1"], &["SETRANGE", "s", "-1", "x"]] {
        assert!(t.c.call(command).starts_with('-'), "{command:?}");
    }
    t.run(&["LPUSH", "list", "x"]);
    assert!(t.c.call(&["APPEND", "list", "x"]).starts_with("-WRONGTYPE"));
    assert_eq!(t.l.events(&mut t.c), ["new list"]);
}

#[test]
fn getdel_and_getex_events() {
    let mut t = Scene::new("$g");
    t.run(&["SET", "k", "v"]);
    t.expect(
        &[&["GETEX", "k"], &["GETEX", "k", "EX", "100"], &["GETEX", "k", "PERSIST"], &["GETEX", "k", "PERSIST"]],
        &["set k", "expire k", "persist k"],
    );
    t.expect(&[&["GETEX", "k", "PXAT", "1"], &["GETEX", "k", "EX", "10"]], &["del k"]);
    t.run(&["SET", "k", "v"]);
    t.expect(&[&["GETDEL", "k"], &["GETDEL", "k"]], &["set k", "del k"]);
}

#[test]
fn bit_command_events() {
    let mut t = Scene::new("$gn");
    t.expect_reply(&["SETBIT", "b", "7", "1"], ":0\r\n", &["new b", "setbit b"]);
    t.expect_reply(&["SETBIT", "b", "7", "1"], ":1\r\n", &[]);
    t.expect_reply(&["SETBIT", "b", "100", "0"], ":0\r\n", &["setbit b"]);
    t.expect(&[&["BITFIELD", "b", "SET", "u8", "0", "255"], &["BITFIELD", "b", "GET", "u8", "0"]], &["setbit b"]);
    t.expect(&[&["BITFIELD", "b", "SET", "u8", "0", "255"]], &[]);
    t.expect(&[&["BITFIELD", "b", "INCRBY", "u8", "0", "1"]], &["setbit b"]);
    // OVERFLOW FAIL refuses the write: the string is created all the same.
    t.expect(&[&["BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9"]], &["new f"]);
    t.expect(&[&["BITFIELD_RO", "b", "GET", "u8", "0"]], &[]);
    t.run(&["SET", "x", "ab"]);
    t.l.events(&mut t.c);
    t.expect(&[&["BITOP", "AND", "dst", "x", "b"], &["BITOP", "OR", "dst", "x"]], &["new dst", "set dst", "set dst"]);
    t.expect(&[&["BITOP", "AND", "dst", "none", "none2"], &["BITOP", "AND", "dst", "none"]], &["del dst"]);
}

// ---------------------------------------------------------------------------
// Generic commands
// ---------------------------------------------------------------------------

#[test]
fn del_and_expire_family_events() {
    let mut t = Scene::new("g");
    for key in ["a", "b", "c", "d"] {
        t.run(&["SET", key, "v"]);
    }
    t.expect(&[&["DEL", "a", "missing", "b"], &["UNLINK", "c", "c"]], &["del a", "del b", "del c"]);
    t.expect(
        &[&["EXPIRE", "d", "100"], &["PEXPIRE", "d", "100000"], &["EXPIREAT", "d", "99999999999"]],
        &["expire d", "expire d", "expire d"],
    );
    t.expect(
        &[&["PEXPIREAT", "d", "99999999999999"], &["EXPIRE", "d", "100", "NX"], &["EXPIRE", "missing", "10"]],
        &["expire d"],
    );
    t.expect(&[&["PERSIST", "d"], &["PERSIST", "d"], &["PERSIST", "missing"]], &["persist d"]);
    // A deadline in the past deletes the key: `del`, not `expire`.
    t.expect(&[&["EXPIRE", "d", "-1"], &["EXPIRE", "d", "10"]], &["del d"]);
    t.run(&["SET", "e", "v"]);
    t.expect(&[&["PEXPIREAT", "e", "1"]], &["del e"]);
}

#[test]
fn rename_events_create_the_destination_anew() {
    let mut t = Scene::new("gn");
    t.run(&["SET", "a", "1"]);
    t.run(&["SET", "b", "2"]);
    t.l.events(&mut t.c);
    t.expect(&[&["RENAME", "a", "c"]], &["new c", "rename_from a", "rename_to c"]);
    t.expect(&[&["RENAME", "c", "b"]], &["new b", "rename_from c", "rename_to b"]);
    t.expect(&[&["RENAME", "b", "b"]], &[]);
    t.run(&["SET", "x", "1"]);
    t.l.events(&mut t.c);
    t.expect_reply(&["RENAMENX", "x", "b"], ":0\r\n", &[]);
    t.expect_reply(&["RENAMENX", "x", "y"], ":1\r\n", &["new y", "rename_from x", "rename_to y"]);
    t.expect_reply(&["RENAME", "missing", "z"], "-ERR no such key\r\n", &[]);
}

#[test]
fn copy_and_move_events_name_their_databases() {
    let mut t = Scene::new("gn");
    t.run(&["SET", "k", "v"]);
    t.run(&["SET", "other", "v"]);
    t.l.events(&mut t.c);
    t.expect(&[&["COPY", "k", "k2"], &["COPY", "k", "other"]], &["new k2", "copy_to k2"]);
    t.expect(&[&["COPY", "k", "other", "REPLACE"]], &["new other", "copy_to other"]);
    t.expect(&[&["COPY", "k", "k", "DB", "2"]], &["new k@2", "copy_to k@2"]);
    t.expect_reply(&["MOVE", "k", "2"], ":0\r\n", &[]);
    t.expect_reply(&["MOVE", "k2", "2"], ":1\r\n", &["new k2@2", "move_from k2", "move_to k2@2"]);
    t.expect(&[&["SWAPDB", "0", "2"], &["FLUSHDB"], &["FLUSHALL"]], &[]);
}

#[test]
fn restore_creates_the_key_anew() {
    let mut t = Scene::new("gn");
    t.run(&["SET", "k", "v"]);
    let dump = t.c.call_resp(&["DUMP", "k"]).bytes().to_vec();
    t.l.events(&mut t.c);
    let restore = |key: &str, ttl: &str, extra: &[&str]| {
        let mut args: Vec<&[u8]> = vec![b"RESTORE", key.as_bytes(), ttl.as_bytes(), &dump];
        args.extend(extra.iter().map(|arg| arg.as_bytes()));
        encode(&args)
    };
    t.c.expect(&restore("r", "0", &[]), "+OK\r\n");
    t.c.expect(&restore("r", "0", &[]), "-BUSYKEY Target key name already exists.\r\n");
    t.c.expect(&restore("r", "100000", &["REPLACE"]), "+OK\r\n");
    assert_eq!(t.l.events(&mut t.c), ["new r", "restore r", "new r", "restore r"]);
    // A deadline already past stores nothing: `del` of a key replaced.
    t.c.expect(&restore("r", "1", &["REPLACE", "ABSTTL"]), "+OK\r\n");
    t.c.expect(&restore("gone", "1", &["ABSTTL"]), "+OK\r\n");
    assert_eq!(t.l.events(&mut t.c), ["del r"]);
}

// ---------------------------------------------------------------------------
// Hashes
// ---------------------------------------------------------------------------

#[test]
fn hash_events() {
    let mut t = Scene::new("hgn");
    t.expect(
        &[&["HSET", "h", "a", "1", "b", "2"], &["HSET", "h", "a", "1"], &["HMSET", "h", "c", "3"]],
        &["new h", "hset h", "hset h", "hset h"],
    );
    t.expect(&[&["HSETNX", "h", "a", "9"], &["HSETNX", "h", "d", "4"]], &["hset h"]);
    t.expect(&[&["HINCRBY", "h", "n", "2"], &["HINCRBYFLOAT", "h", "f", "0.5"]], &["hincrby h", "hincrbyfloat h"]);
    assert!(t.c.call(&["HINCRBY", "h", "a", "x"]).starts_with('-'));
    assert!(t.c.call(&["HINCRBY", "h", "f", "1"]).starts_with('-'));
    t.expect(&[&["HDEL", "h", "zz"], &["HDEL", "h", "a", "b", "zz"]], &["hdel h"]);
    t.expect(&[&["HDEL", "h", "c", "d", "n", "f"]], &["hdel h", "del h"]);
    t.expect(&[&["HINCRBY", "new", "n", "1"]], &["new new", "hincrby new"]);
}

#[test]
fn hash_field_expiry_events() {
    if redistill_only() {
        return;
    }
    let mut t = Scene::new("hg");
    t.run(&["HSET", "h", "yes", "1", "no", "0", "f", "x"]);
    t.l.events(&mut t.c);
    t.expect(&[&["HEXPIRE", "h", "999999", "FIELDS", "1", "yes"]], &["hexpire h"]);
    t.expect(&[&["HEXPIREAT", "h", "9999999999", "NX", "FIELDS", "1", "no"]], &["hexpire h"]);
    t.expect(
        &[&["HEXPIREAT", "h", "9999999999", "NX", "FIELDS", "1", "no"], &["HEXPIRE", "h", "1", "FIELDS", "1", "zz"]],
        &[],
    );
    t.expect(
        &[&["HPEXPIRE", "h", "999999", "FIELDS", "1", "yes"], &["HPERSIST", "h", "FIELDS", "1", "yes"]],
        &["hexpire h", "hpersist h"],
    );
    t.expect(&[&["HPERSIST", "h", "FIELDS", "2", "yes", "zz"], &["HPEXPIRE", "missing", "0", "FIELDS", "1", "a"]], &[]);
    // A deadline already past deletes the field: `hdel`, also when other
    // fields got a deadline in the same call.
    t.expect(&[&["HPEXPIRE", "h", "0", "FIELDS", "1", "yes"]], &["hdel h"]);
    t.expect(
        &[&["HPEXPIREAT", "h", "1", "FIELDS", "1", "no"], &["HPEXPIRE", "h", "0", "FIELDS", "2", "f", "zz"]],
        &["hdel h", "hdel h", "del h"],
    );
}

#[test]
fn hash_fields_that_expire_are_reported_lazily_and_by_the_sweep() {
    if redistill_only() {
        return;
    }
    let mut t = Scene::new("hgx");
    t.run(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    t.run(&["HPEXPIRE", "h", "50", "FIELDS", "1", "a"]);
    t.l.events(&mut t.c);
    // Nobody touches it: the active sweep removes the field.
    assert_eq!(t.l.event().as_deref(), Some("hexpired h"));
    // A field deleted before its deadline is not reported again by the sweep.
    t.run(&["HSET", "h", "gone", "x"]);
    t.run(&["HPEXPIRE", "h", "50", "FIELDS", "1", "gone"]);
    t.run(&["HDEL", "h", "gone"]);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(t.l.events(&mut t.c), ["hset h", "hexpire h", "hdel h"]);
    t.run(&["HPEXPIRE", "h", "20", "FIELDS", "2", "b", "c"]);
    std::thread::sleep(Duration::from_millis(30));
    t.expect_reply(&["HMGET", "h", "b", "c"], "*2\r\n$-1\r\n$-1\r\n", &["hexpire h", "hexpired h", "del h"]);
}

#[test]
fn hsetex_hgetex_and_hgetdel_events() {
    if redistill_only() {
        return;
    }
    let mut t = Scene::new("hgn");
    t.expect(&[&["HSETEX", "h", "FIELDS", "2", "a", "1", "b", "2"]], &["new h", "hset h"]);
    t.expect(&[&["HSETEX", "h", "EX", "100", "FIELDS", "1", "a", "1"]], &["hset h", "hexpire h"]);
    t.expect(
        &[&["HSETEX", "h", "FNX", "FIELDS", "1", "a", "1"], &["HSETEX", "none", "FXX", "FIELDS", "1", "a", "1"]],
        &[],
    );
    t.expect(
        &[&["HGETEX", "h", "FIELDS", "1", "a"], &["HGETEX", "h", "PX", "100000", "FIELDS", "2", "b", "zz"]],
        &["hexpire h"],
    );
    t.expect(
        &[&["HGETEX", "h", "PERSIST", "FIELDS", "2", "a", "b"], &["HGETEX", "h", "PERSIST", "FIELDS", "1", "a"]],
        &["hpersist h"],
    );
    t.expect(&[&["HGETEX", "h", "PXAT", "1", "FIELDS", "1", "a"]], &["hexpired h"]);
    t.expect(&[&["HSETEX", "h", "PXAT", "1", "FIELDS", "1", "b", "2"]], &["hexpired h", "del h"]);
    t.run(&["HSET", "d", "a", "1", "b", "2"]);
    t.l.events(&mut t.c);
    t.expect(&[&["HGETDEL", "d", "FIELDS", "2", "a", "zz"], &["HGETDEL", "d", "FIELDS", "1", "zz"]], &["hdel d"]);
    t.expect(&[&["HGETDEL", "d", "FIELDS", "1", "b"]], &["hdel d", "del d"]);
}

// ---------------------------------------------------------------------------
// Sets
// ---------------------------------------------------------------------------

#[test]
fn set_events() {
    let mut t = Scene::new("sgn");
    t.expect(&[&["SADD", "s", "a", "b", "c"], &["SADD", "s", "a"], &["SREM", "s", "x"]], &["new s", "sadd s"]);
    t.expect(&[&["SREM", "s", "a", "x"], &["SREM", "s", "b", "c"]], &["srem s", "srem s", "del s"]);
    t.run(&["SADD", "s", "a", "b", "c", "d"]);
    t.l.events(&mut t.c);
    t.expect(&[&["SPOP", "s"], &["SPOP", "s", "0"], &["SPOP", "s", "2"], &["SPOP", "missing"]], &["spop s", "spop s"]);
    t.expect(&[&["SPOP", "s", "5"]], &["spop s", "del s"]);
    t.run(&["SADD", "one", "x"]);
    t.l.events(&mut t.c);
    t.expect(&[&["SPOP", "one"]], &["spop one", "del one"]);
}

#[test]
fn smove_events_come_from_the_source_then_the_destination() {
    let mut t = Scene::new("sgn");
    t.run(&["SADD", "src", "a", "b"]);
    t.run(&["SADD", "has", "b"]);
    t.l.events(&mut t.c);
    t.expect(&[&["SMOVE", "src", "dst", "a"]], &["srem src", "new dst", "sadd dst"]);
    t.expect(&[&["SMOVE", "src", "has", "b"]], &["srem src", "del src"]);
    t.expect(&[&["SMOVE", "dst", "dst", "a"], &["SMOVE", "missing", "dst", "a"], &["SMOVE", "has", "dst", "zz"]], &[]);
}

#[test]
fn set_store_events() {
    let mut t = Scene::new("sgn");
    t.run(&["SADD", "a", "1", "2"]);
    t.run(&["SADD", "b", "2", "3"]);
    t.l.events(&mut t.c);
    t.expect(
        &[&["SINTERSTORE", "i", "a", "b"], &["SUNIONSTORE", "i", "a", "b"], &["SDIFFSTORE", "d", "a", "b"]],
        &["new i", "sinterstore i", "sunionstore i", "new d", "sdiffstore d"],
    );
    // An empty result deletes the destination (`del` only if it existed).
    t.expect(
        &[&["SINTERSTORE", "i", "a", "missing"], &["SDIFFSTORE", "i", "a", "a"], &["SUNIONSTORE", "d", "x", "y"]],
        &["del i", "del d"],
    );
}

// ---------------------------------------------------------------------------
// Sorted sets
// ---------------------------------------------------------------------------

#[test]
fn sorted_set_events() {
    let mut t = Scene::new("zgn");
    t.expect(
        &[&["ZADD", "z", "1", "a", "2", "b"], &["ZADD", "z", "1", "a"], &["ZADD", "z", "NX", "5", "a"]],
        &["new z", "zadd z"],
    );
    t.expect(
        &[&["ZADD", "z", "3", "a"], &["ZADD", "z", "XX", "CH", "4", "a"], &["ZADD", "z", "GT", "1", "a"]],
        &["zadd z", "zadd z"],
    );
    t.expect(
        &[&["ZINCRBY", "z", "1", "a"], &["ZADD", "z", "INCR", "1", "b"], &["ZADD", "missing", "XX", "1", "a"]],
        &["zincr z", "zincr z"],
    );
    t.expect(&[&["ZREM", "z", "x"], &["ZREM", "z", "a"]], &["zrem z"]);
    t.run(&["ZADD", "z", "1", "a", "5", "c", "6", "d", "7", "e"]);
    t.l.events(&mut t.c);
    t.expect(
        &[&["ZREMRANGEBYSCORE", "z", "100", "200"], &["ZREMRANGEBYSCORE", "z", "1", "1"]],
        &["zremrangebyscore z"],
    );
    t.expect(
        &[&["ZREMRANGEBYRANK", "z", "0", "0"], &["ZREMRANGEBYLEX", "z", "[a", "[c"]],
        &["zremrangebyrank z", "zremrangebylex z"],
    );
    t.expect(&[&["ZREMRANGEBYRANK", "z", "0", "-1"]], &["zremrangebyrank z", "del z"]);
}

#[test]
fn sorted_set_pop_events() {
    let mut t = Scene::new("zgn");
    t.run(&["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"]);
    t.l.events(&mut t.c);
    t.expect(
        &[&["ZPOPMIN", "z"], &["ZPOPMAX", "z", "0"], &["ZPOPMAX", "z", "1"], &["ZPOPMIN", "missing"]],
        &["zpopmin z", "zpopmax z"],
    );
    t.expect(&[&["ZMPOP", "2", "missing", "z", "MAX"], &["BZPOPMIN", "z", "0"]], &["zpopmax z", "zpopmin z", "del z"]);
}

#[test]
fn sorted_set_store_events() {
    let mut t = Scene::new("zgn");
    t.run(&["ZADD", "a", "1", "x", "2", "y"]);
    t.run(&["ZADD", "b", "1", "y"]);
    t.l.events(&mut t.c);
    t.expect(
        &[
            &["ZUNIONSTORE", "u", "2", "a", "b"],
            &["ZINTERSTORE", "u", "2", "a", "b"],
            &["ZDIFFSTORE", "d", "2", "a", "b"],
            &["ZRANGESTORE", "r", "a", "0", "-1"],
        ],
        &["new u", "zunionstore u", "zinterstore u", "new d", "zdiffstore d", "new r", "zrangestore r"],
    );
    t.expect(
        &[
            &["ZINTERSTORE", "u", "2", "a", "missing"],
            &["ZDIFFSTORE", "d", "2", "a", "a"],
            &["ZRANGESTORE", "r", "a", "5", "9"],
            &["ZUNIONSTORE", "n", "1", "missing"],
        ],
        &["del u", "del d", "del r"],
    );
}

// ---------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------

#[test]
fn list_events() {
    let mut t = Scene::new("lgn");
    t.expect(
        &[&["LPUSH", "l", "a", "b"], &["RPUSH", "l", "c"], &["LPUSHX", "none", "a"], &["RPUSHX", "l", "d"]],
        &["new l", "lpush l", "rpush l", "rpush l"],
    );
    t.expect(
        &[&["LSET", "l", "0", "x"], &["LINSERT", "l", "BEFORE", "x", "y"], &["LINSERT", "l", "AFTER", "zz", "y"]],
        &["lset l", "linsert l"],
    );
    t.expect(&[&["LREM", "l", "0", "zz"], &["LREM", "l", "1", "y"]], &["lrem l"]);
    t.expect(
        &[&["LTRIM", "l", "0", "-1"], &["LTRIM", "l", "0", "1"], &["LTRIM", "missing", "0", "1"]],
        &["ltrim l", "ltrim l"],
    );
    t.expect(&[&["LPOP", "l"], &["RPOP", "l", "0"], &["LPOP", "missing"]], &["lpop l"]);
    t.expect(&[&["RPOP", "l", "5"]], &["rpop l", "del l"]);
    t.run(&["RPUSH", "l", "a", "b"]);
    t.l.events(&mut t.c);
    t.expect(&[&["LTRIM", "l", "5", "9"]], &["ltrim l", "del l"]);
    t.run(&["RPUSH", "l", "a"]);
    t.l.events(&mut t.c);
    t.expect(&[&["LREM", "l", "0", "a"]], &["lrem l", "del l"]);
}

#[test]
fn list_move_events_push_before_they_pop() {
    let mut t = Scene::new("lgn");
    t.run(&["RPUSH", "src", "a", "b"]);
    t.l.events(&mut t.c);
    t.expect(&[&["LMOVE", "src", "dst", "LEFT", "RIGHT"]], &["new dst", "rpush dst", "lpop src"]);
    t.expect(&[&["RPOPLPUSH", "src", "dst"]], &["lpush dst", "rpop src", "del src"]);
    // A list moved onto itself is rotated: it never empties.
    t.run(&["RPUSH", "one", "x"]);
    t.l.events(&mut t.c);
    t.expect(
        &[&["LMOVE", "one", "one", "LEFT", "RIGHT"], &["RPOPLPUSH", "one", "one"]],
        &["rpush one", "lpop one", "lpush one", "rpop one"],
    );
    t.expect(
        &[&["LMOVE", "missing", "dst", "LEFT", "LEFT"], &["BLMOVE", "one", "dst", "LEFT", "LEFT", "0"]],
        &["lpush dst", "lpop one", "del one"],
    );
    t.expect(&[&["LMPOP", "2", "missing", "dst", "RIGHT", "COUNT", "9"]], &["rpop dst", "del dst"]);
}

/// Wait until `n` clients are blocked.
fn wait_blocked(s: &TestServer, n: i64) {
    let mut c = s.raw();
    let start = Instant::now();
    while info_int(&c.call_resp(&["INFO", "clients"]).text(), "blocked_clients") != n {
        assert!(start.elapsed() < Duration::from_secs(10), "{n} clients never blocked");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn blocked_pops_report_when_they_are_served() {
    let mut t = Scene::new("lzgn");
    let mut waiter = t.s.raw();
    waiter.send_cmd(&["BLPOP", "q", "0"]);
    wait_blocked(&t.s, 1);
    t.run(&["RPUSH", "q", "job"]);
    waiter.expect_reply(bulks(&["q", "job"]));
    assert_eq!(t.l.events(&mut t.c), ["new q", "rpush q", "lpop q", "del q"]);
    waiter.send_cmd(&["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"]);
    wait_blocked(&t.s, 1);
    t.run(&["LPUSH", "src", "x"]);
    waiter.expect_reply(bulk("x"));
    assert_eq!(t.l.events(&mut t.c), ["new src", "lpush src", "new dst", "lpush dst", "rpop src", "del src"]);
    waiter.send_cmd(&["BZPOPMAX", "z", "0"]);
    wait_blocked(&t.s, 1);
    t.run(&["ZADD", "z", "1", "m"]);
    waiter.read_reply();
    assert_eq!(t.l.events(&mut t.c), ["new z", "zadd z", "zpopmax z", "del z"]);
}

#[test]
fn sort_store_events() {
    let mut t = Scene::new("lgn");
    t.run(&["RPUSH", "l", "3", "1", "2"]);
    t.l.events(&mut t.c);
    t.expect(
        &[&["SORT", "l", "STORE", "s"], &["SORT", "l", "DESC", "STORE", "s"], &["SORT", "l"]],
        &["new s", "sortstore s", "sortstore s"],
    );
    t.expect(&[&["SORT", "missing", "STORE", "s"], &["SORT", "missing", "STORE", "s"]], &["del s"]);
}

// ---------------------------------------------------------------------------
// new, keymiss, expired, evicted
// ---------------------------------------------------------------------------

#[test]
fn new_is_reported_once_per_key_created() {
    let mut t = Scene::new("n");
    t.expect(&[&["SET", "foo", "bar"], &["SET", "foo", "baz"], &["SET", "bar", "bar"]], &["new foo", "new bar"]);
    t.expect(
        &[&["DEL", "foo"], &["LPUSH", "foo", "x"], &["LPUSH", "foo", "y"], &["SADD", "s", "m"]],
        &["new foo", "new s"],
    );
}

#[test]
fn keymiss_is_reported_by_reads_of_missing_keys_only() {
    let mut t = Scene::new("m");
    t.run(&["SET", "k", "v"]);
    t.expect(
        &[&["GET", "k"], &["GET", "none"], &["STRLEN", "n2"], &["GETRANGE", "n3", "0", "1"]],
        &["keymiss none", "keymiss n2", "keymiss n3"],
    );
    t.expect(
        &[&["MGET", "a", "k", "b"], &["EXISTS", "c", "k"], &["TYPE", "d"], &["TTL", "e"], &["PTTL", "k"]],
        &["keymiss a", "keymiss b", "keymiss c", "keymiss d", "keymiss e"],
    );
    t.expect(
        &[
            &["HGET", "h", "f"],
            &["LRANGE", "l", "0", "1"],
            &["SMEMBERS", "s"],
            &["ZRANGE", "z", "0", "1"],
            &["DUMP", "x"],
        ],
        &["keymiss h", "keymiss l", "keymiss s", "keymiss z", "keymiss x"],
    );
    t.expect(&[&["GETDEL", "g"], &["GETEX", "g"], &["SET", "g", "v", "GET"]], &["keymiss g", "keymiss g", "keymiss g"]);
    t.expect(
        &[&["SINTER", "s1", "s2"], &["SINTERSTORE", "d", "s3"], &["ZUNIONSTORE", "d", "1", "z1"]],
        &["keymiss s1", "keymiss s2", "keymiss s3", "keymiss z1"],
    );
    t.expect(
        &[&["COPY", "c1", "c2"], &["BITOP", "OR", "d", "b1"], &["SSCAN", "s4", "0"]],
        &["keymiss c1", "keymiss b1", "keymiss s4"],
    );
    // Writes, OBJECT and the existence checks of writes are no reads.
    t.expect(
        &[
            &["OBJECT", "ENCODING", "o"],
            &["DEL", "w1"],
            &["EXPIRE", "w2", "1"],
            &["LPOP", "w3"],
            &["HDEL", "w4", "f"],
            &["INCR", "w5"],
            &["RENAMENX", "w5", "w6"],
        ],
        &[],
    );
}

#[test]
fn sort_reports_the_pattern_keys_it_misses() {
    let mut t = Scene::new("m");
    t.run(&["RPUSH", "l", "1", "2"]);
    t.run(&["SET", "w_2", "5"]);
    t.expect(
        &[&["SORT", "l", "BY", "w_*", "GET", "o_*", "GET", "#"], &["SORT", "missing"]],
        &["keymiss w_1", "keymiss o_1", "keymiss o_2", "keymiss missing"],
    );
}

/// Set `key` to expire in 200 ms, and wait until it has.
fn set_and_outlive(t: &mut Scene, key: &str) {
    t.run(&["SET", key, "v", "PX", "200"]);
    t.l.events(&mut t.c);
    std::thread::sleep(Duration::from_millis(300));
}

#[test]
fn a_key_found_expired_is_reported_before_the_miss() {
    // Whether the sweep or the command reclaims it, `expired` comes first.
    let mut t = Scene::new("xmgn$");
    set_and_outlive(&mut t, "k");
    t.expect(&[&["GET", "k"]], &["expired k", "keymiss k"]);
    set_and_outlive(&mut t, "w");
    t.expect(&[&["SET", "w", "x"]], &["expired w", "new w", "set w"]);
    // Commands that read several keys at once reclaim them as well.
    set_and_outlive(&mut t, "m");
    t.expect(&[&["MGET", "w", "m"]], &["expired m", "keymiss m"]);
    t.run(&["SADD", "s", "a"]);
    t.run(&["PEXPIRE", "s", "200"]);
    t.l.events(&mut t.c);
    std::thread::sleep(Duration::from_millis(300));
    t.expect(&[&["SUNION", "s", "none"]], &["expired s", "keymiss s", "keymiss none"]);
}

#[test]
fn keys_nobody_touches_are_reported_expired_by_the_sweep() {
    let mut t = Scene::new("x");
    t.run(&["PSETEX", "foo", "100", "1"]);
    t.run(&["SET", "bar", "1", "PX", "100"]);
    let mut expired: Vec<String> = (0..2).filter_map(|_| t.l.event()).collect();
    expired.sort();
    assert_eq!(expired, ["expired bar", "expired foo"]);
    assert_eq!(t.l.events(&mut t.c), Vec::<String>::new());
}

#[test]
fn evicted_keys_are_reported() {
    let mut t = Scene::new("e");
    t.run(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    for key in ["foo", "bar", "baz"] {
        t.run(&["SET", key, "v"]);
    }
    t.run(&["CONFIG", "SET", "maxmemory", "1"]);
    let evicted: BTreeSet<String> = (0..3).filter_map(|_| t.l.event()).collect();
    let expected: BTreeSet<String> = ["evicted bar", "evicted baz", "evicted foo"].map(String::from).into();
    assert_eq!(evicted, expected);
    t.run(&["CONFIG", "SET", "maxmemory", "0"]);
    assert_eq!(t.run(&["DBSIZE"]), ":0\r\n");
}

// ---------------------------------------------------------------------------
// Transactions and scripts
// ---------------------------------------------------------------------------

#[test]
fn events_of_a_transaction_come_as_exec_runs_it() {
    let mut t = Scene::new("$lgn");
    t.run(&["MULTI"]);
    t.c.expect_cmd(&["SET", "k", "v"], "+QUEUED\r\n");
    t.c.expect_cmd(&["LPUSH", "l", "a"], "+QUEUED\r\n");
    t.c.expect_cmd(&["DEL", "k", "l"], "+QUEUED\r\n");
    // (The marker comes from another client: this one is in MULTI.)
    assert_eq!(t.l.events(&mut t.s.raw()), Vec::<String>::new(), "nothing before EXEC");
    t.c.expect_cmd(&["EXEC"], "*3\r\n+OK\r\n:1\r\n:2\r\n");
    assert_eq!(t.l.events(&mut t.c), ["new k", "set k", "new l", "lpush l", "del k", "del l"]);
}

#[test]
fn events_of_a_script_come_as_its_commands_run() {
    let mut t = Scene::new("$gn");
    let script = "redis.call('SET', KEYS[1], 'v'); redis.call('INCR', KEYS[2]); \
                  return redis.call('DEL', KEYS[1])";
    t.expect_reply(&["EVAL", script, "2", "a", "n"], ":1\r\n", &["new a", "set a", "new n", "incrby n", "del a"]);
}
