//! CLIENT LIST / INFO / KILL / NO-EVICT / NO-TOUCH across connections.

use std::time::Duration;

use crate::common::TestServer;

const OK: &str = "+OK\r\n";

fn field(line: &str, name: &str) -> Option<String> {
    line.split(' ').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=').map(String::from))
}

#[test]
fn list_and_info_describe_connections() {
    let s = TestServer::start();
    let mut a = s.raw();
    let mut b = s.raw();
    let id_a = a.call_resp(&["CLIENT", "ID"]).int();
    a.expect_cmd(&["CLIENT", "SETNAME", "alpha"], OK);
    a.expect_cmd(&["SELECT", "2"], OK);
    let list = b.call_resp(&["CLIENT", "LIST"]).text();
    let line = list.lines().find(|l| field(l, "id") == Some(id_a.to_string())).expect("client a listed");
    assert_eq!(field(line, "name").as_deref(), Some("alpha"));
    assert_eq!(field(line, "db").as_deref(), Some("2"));
    assert_eq!(field(line, "user").as_deref(), Some("default"));
    let info = a.call_resp(&["CLIENT", "INFO"]).text();
    assert_eq!(field(info.trim_end(), "id"), Some(id_a.to_string()));
    assert!(info.ends_with('\n'));
    let only_a = b.call_resp(&["CLIENT", "LIST", "ID", &id_a.to_string()]).text();
    assert_eq!(only_a.lines().count(), 1);
    b.expect_cmd(&["CLIENT", "LIST", "ID", "x"], "-ERR Invalid client ID\r\n");
    b.expect_cmd(&["CLIENT", "LIST", "TYPE", "foo"], "-ERR Unknown client type 'foo'\r\n");
}

#[test]
fn kill_by_id_and_addr() {
    let s = TestServer::start();
    let mut killer = s.raw();
    let mut victim = s.raw();
    let id = victim.call_resp(&["CLIENT", "ID"]).int();
    killer.expect_cmd(&["CLIENT", "KILL", "ID", &id.to_string()], ":1\r\n");
    victim.set_read_timeout(Duration::from_secs(2));
    assert!(victim.is_closed(), "killed client still connected");

    let mut second = s.raw();
    let addr = field(second.call_resp(&["CLIENT", "INFO"]).text().trim_end(), "addr").expect("addr");
    killer.expect_cmd(&["CLIENT", "KILL", &addr], OK);
    second.set_read_timeout(Duration::from_secs(2));
    assert!(second.is_closed());
    killer.expect_cmd(&["CLIENT", "KILL", "1.2.3.4:5"], "-ERR No such client\r\n");
    killer.expect_cmd(&["CLIENT", "KILL", "ID", "999999"], ":0\r\n");
    killer.expect_cmd(&["CLIENT", "KILL", "ID", "0"], "-ERR client-id should be greater than 0\r\n");
    killer.expect_cmd(&["CLIENT", "KILL", "BOGUS", "1"], "-ERR syntax error\r\n");
    let me = killer.call_resp(&["CLIENT", "ID"]).int().to_string();
    killer.expect_cmd(&["CLIENT", "KILL", "ID", &me], ":0\r\n");
    killer.expect_cmd(&["PING"], "+PONG\r\n");
}

#[test]
fn no_evict_and_no_touch_take_on_off() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CLIENT", "NO-EVICT", "on"], OK);
    c.expect_cmd(&["CLIENT", "NO-EVICT", "maybe"], "-ERR syntax error\r\n");
    // NO-TOUCH arrived in Redis 7.2.
    if !s.reference_older_than(7, 2) {
        c.expect_cmd(&["CLIENT", "NO-TOUCH", "off"], OK);
    }
}
