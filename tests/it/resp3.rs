//! RESP3: reply types after HELLO 3 on a raw socket, and the redis crate
//! connecting with RESP3 (as redis-py 8 does by default) and RESP2.

use crate::common::*;
use redis::{cmd, pipe, Value};

/// A raw connection switched to RESP3 (HELLO reply checked to be a `%7` map).
fn resp3(s: &TestServer) -> RawClient {
    let mut c = s.raw_authed();
    c.send_cmd(&["HELLO", "3"]);
    let hello = c.read_reply_bytes();
    assert!(hello.starts_with(b"%7\r\n"), "HELLO 3 should reply with a 7-entry map, got {}", show(&hello));
    c
}

#[test]
fn null_replies_use_the_resp3_null() {
    let s = TestServer::start();
    let mut c = resp3(&s);
    c.expect_cmd(&["GET", "missing"], NULL3);
    c.expect_cmd(&["SET", "r3", "1"], OK);
    c.expect_cmd(&["MGET", "r3", "missing"], "*2\r\n$1\r\n1\r\n_\r\n");
    c.expect_cmd(&["SET", "r3", "2", "NX"], NULL3);
    c.expect_cmd(&["SET", "r3new", "x", "GET"], NULL3);
    c.expect_cmd(&["SET", "r3", "3", "GET"], bulk("1"));
    c.expect_cmd(&["CLIENT", "GETNAME"], NULL3);
}

#[test]
fn scalar_replies_are_unchanged() {
    let s = TestServer::start();
    let mut c = resp3(&s);
    c.expect_cmd(&["PING"], PONG);
    c.expect_cmd(&["ECHO", "hi"], bulk("hi"));
    c.expect_cmd(&["INCR", "n"], int(1));
    c.expect_cmd(&["TTL", "n"], int(-1));
    c.expect_cmd(&["EXISTS", "n", "n"], int(2));
    c.expect_cmd(&["DEL", "n"], int(1));
    c.expect_cmd(&["GET"], arity_err("get"));
    c.expect_cmd(&["foo"], err("ERR unknown command 'foo', with args beginning with: "));
}

#[test]
fn info_is_a_verbatim_string() {
    let s = TestServer::start();
    let mut c = resp3(&s);
    c.expect_cmd(&["SET", "a", "1"], OK);
    let reply = c.call_resp(&["INFO", "keyspace"]);
    match reply {
        Resp::Verbatim { format, text } => {
            assert_eq!(format, "txt");
            let text = String::from_utf8_lossy(&text).into_owned();
            assert!(text.starts_with("# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl="), "INFO keyspace text:\n{text}");
        }
        other => panic!("INFO in RESP3 should be a verbatim string (=...txt:), got {other:?}"),
    }
    let info = c.info("");
    assert!(info.contains("redis_version:7."), "INFO over RESP3:\n{info}");
}

#[test]
fn hello_3_map_fields() {
    let s = TestServer::start();
    let mut c = s.raw();
    let reply = c.call_resp(&["HELLO", "3"]);
    assert!(matches!(reply, Resp::Map(_)), "HELLO 3 reply: {reply:?}");
    let keys: Vec<String> = reply.pairs().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["server", "version", "proto", "id", "mode", "role", "modules"]);
    let field = |name: &str| reply.pairs().into_iter().find(|(k, _)| k == name).map(|(_, v)| v).expect(name);
    assert_eq!(field("proto"), Resp::Int(3));
    assert_eq!(field("modules"), Resp::Array(Some(vec![])));
}

#[test]
fn command_docs_is_a_map_in_resp3() {
    let s = TestServer::start();
    let mut c = resp3(&s);
    let docs = c.call_resp(&["COMMAND", "DOCS", "get"]);
    assert!(matches!(docs, Resp::Map(_)), "COMMAND DOCS get in RESP3 should be a map, got {docs:?}");
    assert_eq!(docs.pairs()[0].0, "get");
}

#[test]
fn redis_crate_resp3_roundtrip() {
    let s = TestServer::start();
    let mut con = s.client_resp3();
    let set: Value = cmd("SET").arg("crate:k").arg("v").query(&mut con).expect("SET");
    assert_eq!(set, Value::Okay);
    let got: Option<String> = cmd("GET").arg("crate:k").query(&mut con).expect("GET");
    assert_eq!(got.as_deref(), Some("v"));
    let missing: Value = cmd("GET").arg("crate:missing").query(&mut con).expect("GET missing");
    assert_eq!(missing, Value::Nil);
    let hello: Value = cmd("HELLO").arg(3).query(&mut con).expect("HELLO 3");
    let Value::Map(entries) = hello else { panic!("HELLO 3 via redis-rs: {hello:?}") };
    let proto = entries.iter().find(|(k, _)| *k == Value::BulkString(b"proto".to_vec())).map(|(_, v)| v.clone());
    assert_eq!(proto, Some(Value::Int(3)));
    let info: Value = cmd("INFO").arg("server").query(&mut con).expect("INFO");
    assert!(matches!(info, Value::VerbatimString { .. }), "INFO via RESP3: {info:?}");
}

#[test]
fn redis_crate_resp3_with_password() {
    let s = TestServer::start_with_password("s3cret");
    // The crate sends HELLO 3 AUTH default s3cret, like redis-py 8 does.
    let mut con = s.client_resp3();
    let _: () = cmd("SET").arg("auth:k").arg("v").query(&mut con).expect("SET");
    let got: String = cmd("GET").arg("auth:k").query(&mut con).expect("GET");
    assert_eq!(got, "v");
}

#[test]
fn redis_crate_resp2_roundtrip_and_pipeline() {
    let s = TestServer::start();
    let mut con = s.client();
    let _: () = cmd("SETEX").arg("crate2:session").arg(300).arg("payload").query(&mut con).expect("SETEX");
    let ttl: i64 = cmd("TTL").arg("crate2:session").query(&mut con).expect("TTL");
    assert_eq!(ttl, 300);
    // The rate-limiting pattern: pipelined INCR + EXPIRE.
    for expected in 1..=3i64 {
        let (count, set): (i64, i64) = pipe()
            .cmd("INCR")
            .arg("crate2:rl")
            .cmd("EXPIRE")
            .arg("crate2:rl")
            .arg(3600)
            .query(&mut con)
            .expect("pipeline");
        assert_eq!((count, set), (expected, 1));
    }
    let values: Vec<Option<String>> =
        cmd("MGET").arg("crate2:rl").arg("crate2:none").arg("crate2:session").query(&mut con).expect("MGET");
    assert_eq!(values, vec![Some("3".to_string()), None, Some("payload".to_string())]);
    let err = cmd("INCR").arg("crate2:session").query::<i64>(&mut con).expect_err("INCR on text");
    assert!(err.to_string().contains("value is not an integer or out of range"), "error: {err}");
}

#[test]
fn redis_crate_resp3_and_resp2_clients_share_data() {
    let s = TestServer::start();
    let mut c3 = s.client_resp3();
    let mut c2 = s.client();
    let _: () = cmd("SET").arg("shared").arg("from-resp3").query(&mut c3).expect("SET");
    let got: String = cmd("GET").arg("shared").query(&mut c2).expect("GET");
    assert_eq!(got, "from-resp3");
}

#[test]
fn redis_py_8_style_handshake() {
    // redis-py 8 with a password and db=2 pipelines exactly this on connect.
    let s = TestServer::start_with_password("pw");
    if s.reference_older_than(7, 2) {
        return; // CLIENT SETINFO needs 7.2
    }
    let mut c = s.raw();
    let mut batch = encode(&["HELLO", "3", "AUTH", "default", "pw"]);
    batch.extend(encode(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"]));
    batch.extend(encode(&["CLIENT", "SETINFO", "LIB-VER", "8.0.0"]));
    batch.extend(encode(&["SELECT", "2"]));
    batch.extend(encode(&["GET", "handshake"]));
    c.send(&batch);
    let hello = c.read_resp();
    let proto = hello.pairs().into_iter().find(|(k, _)| k == "proto").map(|(_, v)| v);
    assert!(matches!(hello, Resp::Map(_)) && proto == Some(Resp::Int(3)), "HELLO reply: {hello:?}");
    c.expect_reply(OK);
    c.expect_reply(OK);
    c.expect_reply(OK);
    c.expect_reply(NULL3);
}

#[test]
fn go_redis_style_handshake() {
    // go-redis v9: HELLO 3 AUTH user pass SETNAME name, then SELECT.
    let s = TestServer::start_with_password("pw");
    let mut c = s.raw();
    let mut batch = encode(&["HELLO", "3", "AUTH", "default", "pw", "SETNAME", "go-client"]);
    batch.extend(encode(&["SELECT", "1"]));
    batch.extend(encode(&["CLIENT", "GETNAME"]));
    c.send(&batch);
    let hello = c.read_resp();
    assert!(matches!(hello, Resp::Map(_)), "HELLO reply: {hello:?}");
    c.expect_reply(OK);
    c.expect_reply(bulk("go-client"));
}
