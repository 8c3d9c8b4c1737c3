//! Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT, CLIENT, and the
//! generic unknown-command / arity errors. Expectations are Redis 7's replies.

use crate::common::*;

const NOAUTH: &str = "-NOAUTH Authentication required.\r\n";
const WRONGPASS: &str = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
const NOPROTO: &str = "-NOPROTO unsupported protocol version\r\n";
const BAD_NAME: &str = "-ERR Client names cannot contain spaces, newlines or special characters.\r\n";

/// The exact HELLO reply Redis sends: a `*14` array (RESP2) or a `%7` map (RESP3).
fn hello_reply(proto: i64, id: i64, version: &str) -> Vec<u8> {
    let mut out = if proto == 3 { b"%7\r\n".to_vec() } else { b"*14\r\n".to_vec() };
    for (k, v) in [("server", bulk("redis")), ("version", bulk(version)), ("proto", int(proto).into_bytes())] {
        out.extend(bulk(k));
        out.extend(v);
    }
    out.extend(bulk("id"));
    out.extend(int(id).into_bytes());
    for (k, v) in [("mode", "standalone"), ("role", "master")] {
        out.extend(bulk(k));
        out.extend(bulk(v));
    }
    out.extend(bulk("modules"));
    out.extend(b"*0\r\n");
    out
}

/// Redis's reply to HELLO before authentication. Redis 7.2 (redis/redis#11809)
/// added `<proto>` to the suggested syntax; 7.0 lacks it. The expected text
/// follows the version the server claims in INFO.
fn hello_noauth(version: &str) -> String {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let at_least_7_2 = (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (7, 2);
    let syntax = if at_least_7_2 { "HELLO <proto> AUTH <user> <pass>" } else { "HELLO AUTH <user> <pass>" };
    err(&format!(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the {syntax} option can be used to authenticate the client and select the RESP protocol version at the same time"
    ))
}

/// CLIENT ID of this connection.
fn client_id(c: &mut RawClient) -> i64 {
    c.call_resp(&["CLIENT", "ID"]).int()
}

/// Version the server reports; HELLO must agree with INFO and be a 7.x.
fn server_version(s: &TestServer) -> String {
    let v = s.redis_version();
    assert!(v.starts_with("7."), "redis_version should be 7.x, got {v}");
    v
}

#[test]
fn ping_forms() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["PING"], PONG);
    c.expect_cmd(&["PING", "hello world"], bulk("hello world"));
    c.expect_cmd(&["PING", ""], bulk(""));
    c.expect_cmd(&["PING", "a", "b"], arity_err("ping"));
}

#[test]
fn echo_forms() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["ECHO", "x"], bulk("x"));
    c.expect_cmd(&["ECHO", ""], bulk(""));
    c.expect_cmd(&[&b"ECHO"[..], b"a\r\nb\0c"], bulk(b"a\r\nb\0c"));
    c.expect_cmd(&["ECHO"], arity_err("echo"));
    c.expect_cmd(&["ECHO", "a", "b"], arity_err("echo"));
}

#[test]
fn quit_replies_ok_then_closes() {
    let s = TestServer::start();
    let mut c = s.raw();
    // The PING after QUIT in the same write must not be answered.
    c.expect(&[encode(&["QUIT"]), encode(&["PING"])].concat(), OK);
    assert!(c.is_closed(), "connection still open after QUIT");
    // The server itself keeps serving.
    s.raw().expect_cmd(&["PING"], PONG);
}

#[test]
fn quit_ignores_extra_arguments() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["QUIT", "now"], OK);
    assert!(c.is_closed(), "connection still open after QUIT now");
}

#[test]
fn hello_without_arguments_keeps_resp2() {
    let s = TestServer::start();
    let version = server_version(&s);
    let mut c = s.raw();
    let id = client_id(&mut c);
    c.expect_cmd(&["HELLO"], hello_reply(2, id, &version));
    c.expect_cmd(&["GET", "hello:nokey"], NIL);
}

#[test]
fn hello_2_returns_flat_array() {
    let s = TestServer::start();
    let version = server_version(&s);
    let mut c = s.raw();
    let id = client_id(&mut c);
    c.expect_cmd(&["HELLO", "2"], hello_reply(2, id, &version));
    c.expect_cmd(&["GET", "hello:nokey"], NIL);
}

#[test]
fn hello_3_returns_map_and_switches_protocol() {
    let s = TestServer::start();
    let version = server_version(&s);
    let mut c = s.raw();
    let id = client_id(&mut c);
    c.expect_cmd(&["HELLO", "3"], hello_reply(3, id, &version));
    c.expect_cmd(&["GET", "hello:nokey"], NULL3);
    // HELLO without a version reports the current protocol and keeps it.
    c.expect_cmd(&["HELLO"], hello_reply(3, id, &version));
    c.expect_cmd(&["GET", "hello:nokey"], NULL3);
    // ...and back to RESP2.
    c.expect_cmd(&["HELLO", "2"], hello_reply(2, id, &version));
    c.expect_cmd(&["GET", "hello:nokey"], NIL);
}

#[test]
fn hello_rejects_bad_versions_and_options() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HELLO", "4"], NOPROTO);
    c.expect_cmd(&["HELLO", "1"], NOPROTO);
    c.expect_cmd(&["HELLO", "abc"], err("ERR Protocol version is not an integer or out of range"));
    c.expect_cmd(&["HELLO", "3", "FOO"], err("ERR Syntax error in HELLO option 'FOO'"));
    c.expect_cmd(&["HELLO", "3", "AUTH", "default"], err("ERR Syntax error in HELLO option 'AUTH'"));
    c.expect_cmd(&["HELLO", "3", "SETNAME"], err("ERR Syntax error in HELLO option 'SETNAME'"));
    // A failed HELLO leaves the protocol alone.
    c.expect_cmd(&["GET", "hello:nokey"], NIL);
}

#[test]
fn hello_setname_sets_the_client_name() {
    let s = TestServer::start();
    let version = server_version(&s);
    let mut c = s.raw();
    let id = client_id(&mut c);
    c.expect_cmd(&["HELLO", "3", "SETNAME", "myname"], hello_reply(3, id, &version));
    c.expect_cmd(&["CLIENT", "GETNAME"], bulk("myname"));
    c.expect_cmd(&["HELLO", "3", "SETNAME", "a b"], BAD_NAME);
    c.expect_cmd(&["CLIENT", "GETNAME"], bulk("myname"));
}

#[test]
fn hello_auth_with_password() {
    let s = TestServer::start_with_password("secret");
    let version = server_version(&s);

    let mut c = s.raw();
    c.expect_cmd(&["HELLO", "3"], hello_noauth(&version));
    c.expect_cmd(&["HELLO", "3", "AUTH", "default", "wrong"], WRONGPASS);
    c.expect_cmd(&["GET", "k"], NOAUTH);
    // CLIENT ID itself needs auth, so take the id from the HELLO reply.
    c.send_cmd(&["HELLO", "3", "AUTH", "default", "secret"]);
    let raw = c.read_reply_bytes();
    let (reply, _) = parse_resp(&raw).expect("parse HELLO reply");
    let id = match &reply {
        Resp::Map(_) => reply.pairs().iter().find(|(k, _)| k == "id").map(|(_, v)| v.int()).expect("id in HELLO"),
        other => panic!("HELLO 3 AUTH must reply with a map, got {other:?}"),
    };
    assert_eq!(show(&raw), show(&hello_reply(3, id, &version)));
    c.expect_cmd(&["GET", "k"], NULL3);
    c.expect_cmd(&["CLIENT", "ID"], int(id));
}

#[test]
fn auth_required_when_password_configured() {
    let s = TestServer::start_with_password("secret");
    let mut c = s.raw();
    c.expect_cmd(&["PING"], NOAUTH);
    c.expect_cmd(&["GET", "k"], NOAUTH);
    c.expect_cmd(&["SET", "k", "v"], NOAUTH);
    c.expect_cmd(&["AUTH", "wrong"], WRONGPASS);
    c.expect_cmd(&["AUTH", "default", "wrong"], WRONGPASS);
    c.expect_cmd(&["AUTH", "someone", "secret"], WRONGPASS);
    c.expect_cmd(&["GET", "k"], NOAUTH);
    c.expect_cmd(&["AUTH", "secret"], OK);
    c.expect_cmd(&["GET", "k"], NIL);
    c.expect_cmd(&["PING"], PONG);
}

#[test]
fn unknown_and_arity_errors_come_before_noauth() {
    // Redis looks the command up and checks its arity before the auth check.
    let s = TestServer::start_with_password("secret");
    let mut c = s.raw();
    c.expect_cmd(&["nosuch", "x"], err("ERR unknown command 'nosuch', with args beginning with: 'x' "));
    c.expect_cmd(&["GET", "a", "b"], arity_err("get"));
    c.expect_cmd(&["ECHO"], arity_err("echo"));
    c.expect_cmd(&["HELLO", "4"], NOPROTO);
    c.expect_cmd(&["SELECT", "1"], NOAUTH);
    c.expect_cmd(&["CLIENT", "SETNAME", "x"], NOAUTH);
}

#[test]
fn quit_works_before_auth() {
    let s = TestServer::start_with_password("secret");
    let mut c = s.raw();
    c.expect_cmd(&["QUIT"], OK);
    assert!(c.is_closed(), "connection still open after QUIT");
}

#[test]
fn auth_two_arguments_default_user() {
    let s = TestServer::start_with_password("secret");
    let mut c = s.raw();
    c.expect_cmd(&["AUTH", "default", "secret"], OK);
    c.expect_cmd(&["SET", "auth2:k", "v"], OK);
    c.expect_cmd(&["GET", "auth2:k"], bulk("v"));
}

#[test]
fn auth_argument_errors() {
    let s = TestServer::start_with_password("secret");
    let mut c = s.raw();
    c.expect_cmd(&["AUTH"], arity_err("auth"));
    c.expect_cmd(&["AUTH", "a", "b", "c"], SYNTAX_ERR);
}

#[test]
fn auth_is_per_connection() {
    let s = TestServer::start_with_password("secret");
    let mut a = s.raw();
    a.expect_cmd(&["AUTH", "secret"], OK);
    let mut b = s.raw();
    b.expect_cmd(&["GET", "k"], NOAUTH);
    a.expect_cmd(&["GET", "k"], NIL);
}

#[test]
fn auth_without_configured_password() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(
        &["AUTH", "x"],
        err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"),
    );
    // The default user has no password: any password is accepted for it...
    c.expect_cmd(&["AUTH", "default", "x"], OK);
    // ...but unknown users are not.
    c.expect_cmd(&["AUTH", "nouser", "x"], WRONGPASS);
    c.expect_cmd(&["PING"], PONG);
}

#[test]
fn hello_auth_without_configured_password() {
    let s = TestServer::start();
    let version = server_version(&s);
    let mut c = s.raw();
    let id = client_id(&mut c);
    c.expect_cmd(&["HELLO", "3", "AUTH", "default", "whatever"], hello_reply(3, id, &version));
}

#[test]
fn select_valid_and_invalid_indexes() {
    let s = TestServer::start();
    let mut c = s.raw();
    for db in 0..16 {
        c.expect_cmd(&["SELECT", &db.to_string()], OK);
    }
    c.expect_cmd(&["SELECT", "16"], err("ERR DB index is out of range"));
    c.expect_cmd(&["SELECT", "-1"], err("ERR DB index is out of range"));
    c.expect_cmd(&["SELECT", "abc"], NOT_INT_ERR);
    c.expect_cmd(&["SELECT", "1.5"], NOT_INT_ERR);
    c.expect_cmd(&["SELECT", " 1"], NOT_INT_ERR);
    c.expect_cmd(&["SELECT", "01"], NOT_INT_ERR);
    c.expect_cmd(&["SELECT"], arity_err("select"));
    c.expect_cmd(&["SELECT", "1", "2"], arity_err("select"));
}

#[test]
fn select_keeps_keys_separate_per_db() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "db0"], OK);
    c.expect_cmd(&["SELECT", "1"], OK);
    c.expect_cmd(&["GET", "k"], NIL);
    c.expect_cmd(&["SET", "k", "db1"], OK);
    c.expect_cmd(&["SELECT", "15"], OK);
    c.expect_cmd(&["EXISTS", "k"], int(0));
    c.expect_cmd(&["SELECT", "0"], OK);
    c.expect_cmd(&["GET", "k"], bulk("db0"));
    c.expect_cmd(&["SELECT", "1"], OK);
    c.expect_cmd(&["GET", "k"], bulk("db1"));
    // The selected db is per connection.
    let mut other = s.raw();
    other.expect_cmd(&["GET", "k"], bulk("db0"));
}

#[test]
fn client_setname_getname() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CLIENT", "GETNAME"], NIL);
    c.expect_cmd(&["CLIENT", "SETNAME", "worker-1"], OK);
    c.expect_cmd(&["CLIENT", "GETNAME"], bulk("worker-1"));
    c.expect_cmd(&["CLIENT", "SETNAME", "a b"], BAD_NAME);
    c.expect_cmd(&["CLIENT", "SETNAME", "a\nb"], BAD_NAME);
    c.expect_cmd(&["CLIENT", "GETNAME"], bulk("worker-1"));
    // An empty name clears it.
    c.expect_cmd(&["CLIENT", "SETNAME", ""], OK);
    c.expect_cmd(&["CLIENT", "GETNAME"], NIL);
    c.expect_cmd(&["CLIENT", "SETNAME"], arity_err("client|setname"));
    c.expect_cmd(&["CLIENT", "SETNAME", "a", "b"], arity_err("client|setname"));
    // Names are per connection.
    s.raw().expect_cmd(&["CLIENT", "GETNAME"], NIL);
}

#[test]
fn client_id_is_unique_and_increasing() {
    let s = TestServer::start();
    // b connects only after a has been served, so b is unambiguously later.
    let mut a = s.raw();
    let ia = client_id(&mut a);
    let mut b = s.raw();
    let ib = client_id(&mut b);
    assert!(ia > 0, "CLIENT ID {ia} not positive");
    assert!(ib > ia, "later connection got CLIENT ID {ib}, not > {ia}");
    assert_eq!(client_id(&mut a), ia, "CLIENT ID changed on the same connection");
    a.expect_cmd(&["CLIENT", "ID", "x"], arity_err("client|id"));
}

#[test]
fn client_subcommand_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CLIENT"], arity_err("client"));
    c.expect_cmd(&["CLIENT", "FOO"], err("ERR unknown subcommand 'FOO'. Try CLIENT HELP."));
    c.expect_cmd(&["client", "foo"], err("ERR unknown subcommand 'foo'. Try CLIENT HELP."));
}

#[test]
fn client_setinfo() {
    let s = TestServer::start();
    // CLIENT SETINFO is Redis 7.2+; texts below are 7.2's (networking.c).
    if s.reference_older_than(7, 2) {
        return;
    }
    let mut c = s.raw();
    c.expect_cmd(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"], OK);
    c.expect_cmd(&["CLIENT", "SETINFO", "LIB-VER", "5.0.1"], OK);
    c.expect_cmd(&["CLIENT", "SETINFO", "lib-name", "redis-rs"], OK);
    c.expect_cmd(&["CLIENT", "SETINFO", "FOO", "bar"], err("ERR Unrecognized option 'FOO'"));
    c.expect_cmd(
        &["CLIENT", "SETINFO", "LIB-NAME", "a b"],
        err("ERR LIB-NAME cannot contain spaces, newlines or special characters."),
    );
    c.expect_cmd(
        &["CLIENT", "SETINFO", "lib-ver", "1\n2"],
        err("ERR lib-ver cannot contain spaces, newlines or special characters."),
    );
    c.expect_cmd(&["CLIENT", "SETINFO", "LIB-NAME"], arity_err("client|setinfo"));
    c.expect_cmd(&["CLIENT", "SETINFO", "LIB-NAME", "a", "b"], arity_err("client|setinfo"));
}

#[test]
fn unknown_command_error_text() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["foo", "a", "b"], err("ERR unknown command 'foo', with args beginning with: 'a' 'b' "));
    c.expect_cmd(&["foo"], err("ERR unknown command 'foo', with args beginning with: "));
    c.expect_cmd(&["FooBar", "x"], err("ERR unknown command 'FooBar', with args beginning with: 'x' "));
    // CR/LF inside an argument are printed as spaces.
    c.expect_cmd(&["foo", "a\r\nb"], err("ERR unknown command 'foo', with args beginning with: 'a  b' "));
    // An empty command name is just another unknown command.
    c.expect_cmd(&[""], err("ERR unknown command '', with args beginning with: "));
    // The connection is still fine afterwards.
    c.expect_cmd(&["PING"], PONG);
}

#[test]
fn unknown_command_error_truncates_long_arguments() {
    let s = TestServer::start();
    let mut c = s.raw();
    let long = "x".repeat(200);
    c.expect_cmd(
        &["foo", long.as_str()],
        err(&format!("ERR unknown command 'foo', with args beginning with: '{}' ", "x".repeat(128))),
    );
    let (a, b, cc) = ("a".repeat(60), "b".repeat(60), "c".repeat(60));
    c.expect_cmd(
        &["foo", a.as_str(), b.as_str(), cc.as_str()],
        err(&format!("ERR unknown command 'foo', with args beginning with: '{a}' '{b}' 'cc' ")),
    );
    let name = "f".repeat(200);
    c.expect_cmd(
        &[name.as_str()],
        err(&format!("ERR unknown command '{}', with args beginning with: ", "f".repeat(128))),
    );
}

#[test]
fn arity_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["GET"], arity_err("get"));
    c.expect_cmd(&["GET", "a", "b"], arity_err("get"));
    c.expect_cmd(&["get"], arity_err("get"));
    c.expect_cmd(&["SET", "k"], arity_err("set"));
    c.expect_cmd(&["DEL"], arity_err("del"));
    c.expect_cmd(&["INCR"], arity_err("incr"));
    c.expect_cmd(&["EXPIRE", "k"], arity_err("expire"));
    c.expect_cmd(&["SETEX", "k", "10"], arity_err("setex"));
    c.expect_cmd(&["MGET"], arity_err("mget"));
}

#[test]
fn commands_are_case_insensitive() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["pInG"], PONG);
    c.expect_cmd(&["set", "case:k", "v", "ex", "100", "nx"], OK);
    c.expect_cmd(&["GeT", "case:k"], bulk("v"));
    c.expect_cmd(&["tTl", "case:k"], int(100));
    c.expect_cmd(&["client", "setname", "n1"], OK);
    c.expect_cmd(&["CLIENT", "getname"], bulk("n1"));
    c.expect_cmd(&["echo", "Hi"], bulk("Hi"));
    c.expect_cmd(&["del", "case:k"], int(1));
    // Keys are not case-insensitive.
    c.expect_cmd(&["SET", "Case:K", "upper"], OK);
    c.expect_cmd(&["GET", "case:k"], NIL);
}
