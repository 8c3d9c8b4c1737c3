//! SLOWLOG and COMMAND GETKEYS against the real server.

use crate::common::TestServer;

const OK: &str = "+OK\r\n";

#[test]
fn slowlog_records_commands_over_the_threshold() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SLOWLOG", "RESET"], OK);
    c.expect_cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"], OK);
    c.expect_cmd(&["SET", "slow:key", "value"], OK);
    let entries = c.call_resp(&["SLOWLOG", "GET", "1"]);
    let entry = &entries.items()[0];
    let fields = entry.items();
    assert_eq!(fields.len(), 6);
    let args: Vec<String> = fields[3].items().iter().map(|a| a.text()).collect();
    assert_eq!(args, ["SET", "slow:key", "value"]);
    assert!(fields[2].int() >= 0);
    assert!(c.call_resp(&["SLOWLOG", "LEN"]).int() >= 2);
    c.expect_cmd(&["SLOWLOG", "GET", "-2"], "-ERR count should be greater than or equal to -1\r\n");
    c.expect_cmd(&["SLOWLOG", "GET", "x"], "-ERR count should be greater than or equal to -1\r\n");
    c.expect_cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"], OK);
    c.expect_cmd(&["SLOWLOG", "RESET"], OK);
    c.expect_cmd(&["GET", "slow:key"], "$5\r\nvalue\r\n");
    c.expect_cmd(&["SLOWLOG", "LEN"], ":0\r\n");
    let got = c.call_resp(&["CONFIG", "GET", "slowlog-log-slower-than"]);
    assert_eq!(got.pairs()[0].1.text(), "-1");
}

#[test]
fn slowlog_cuts_long_arguments() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"], OK);
    let long = "x".repeat(200);
    c.expect_cmd(&["SET", "k", &long], OK);
    let entries = c.call_resp(&["SLOWLOG", "GET", "1"]);
    let value = entries.items()[0].items()[3].items()[2].text();
    assert_eq!(value, format!("{}... (72 more bytes)", "x".repeat(128)));
}

#[test]
fn command_getkeys() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["COMMAND", "GETKEYS", "GET", "a"], "*1\r\n$1\r\na\r\n");
    c.expect_cmd(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"], "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    c.expect_cmd(&["COMMAND", "GETKEYS", "DEL", "x", "y", "z"], "*3\r\n$1\r\nx\r\n$1\r\ny\r\n$1\r\nz\r\n");
}

#[test]
fn command_info_has_key_specs() {
    let s = TestServer::start();
    let mut c = s.raw();
    let info = c.call_resp(&["COMMAND", "INFO", "GET"]);
    let entry = info.items()[0].items();
    assert_eq!(entry[0].text(), "get");
    assert_eq!(entry[1].int(), 2);
    assert_eq!((entry[3].int(), entry[4].int(), entry[5].int()), (1, 1, 1));
    let spec = entry[8].items()[0].pairs();
    let begin = spec.iter().find(|(k, _)| k == "begin_search").expect("begin_search").1.pairs();
    assert_eq!(begin[0].1.text(), "index");
    assert_eq!(begin[1].1.pairs()[0].1.int(), 1);
    let find = spec.iter().find(|(k, _)| k == "find_keys").expect("find_keys").1.pairs();
    assert_eq!(find[0].1.text(), "range");
    let range: Vec<i64> = find[1].1.pairs().iter().map(|(_, v)| v.int()).collect();
    assert_eq!(range, [0, 1, 0]);
}
