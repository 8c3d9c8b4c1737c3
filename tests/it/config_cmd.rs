//! CONFIG GET / SET against the real server.

use std::collections::BTreeMap;

use crate::common::{redistill_only, RawClient, TestServer};

const OK: &str = "+OK\r\n";

fn config_get(c: &mut RawClient, patterns: &[&str]) -> BTreeMap<String, String> {
    let mut args = vec!["CONFIG", "GET"];
    args.extend_from_slice(patterns);
    c.call_resp(&args).pairs().into_iter().map(|(k, v)| (k, v.text())).collect()
}

#[test]
fn get_reports_the_settings_clients_read() {
    let s = TestServer::start();
    let mut c = s.raw();
    let got = config_get(&mut c, &["maxmemory", "maxmemory-policy", "timeout", "databases", "save", "appendonly"]);
    assert_eq!(got["maxmemory"], "0");
    assert_eq!(got["timeout"], "0");
    assert_eq!(got["databases"], "16");
    assert_eq!(got["save"], "");
    assert_eq!(got["appendonly"], "no");
    assert!(got.contains_key("maxmemory-policy"));
    let port = config_get(&mut c, &["port"]);
    assert_eq!(port["port"], s.port().to_string());
    assert!(config_get(&mut c, &["bind"]).contains_key("bind"));
}

#[test]
fn get_takes_glob_patterns_case_insensitively() {
    let s = TestServer::start();
    let mut c = s.raw();
    let got = config_get(&mut c, &["MAXMEMORY*"]);
    assert!(got.contains_key("maxmemory") && got.contains_key("maxmemory-policy"), "{got:?}");
    assert!(got.keys().all(|k| k.starts_with("maxmemory")));
    assert!(config_get(&mut c, &["no-such-parameter"]).is_empty());
    let two = config_get(&mut c, &["timeout", "databases"]);
    assert_eq!(two.len(), 2);
}

#[test]
fn set_changes_live_settings() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["CONFIG", "SET", "maxmemory", "100mb", "timeout", "300"], OK);
    let got = config_get(&mut c, &["maxmemory", "timeout"]);
    assert_eq!(got["maxmemory"], (100 * 1024 * 1024).to_string());
    assert_eq!(got["timeout"], "300");
    c.expect_cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"], OK);
    assert_eq!(config_get(&mut c, &["maxmemory-policy"])["maxmemory-policy"], "allkeys-lfu");
}

#[test]
fn set_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(
        &["CONFIG", "SET", "maxmemory", "lots"],
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n",
    );
    c.expect_cmd(&["CONFIG", "SET", "maxmemory"], "-ERR wrong number of arguments for 'config|set' command\r\n");
    c.expect_cmd(&["CONFIG", "GET"], "-ERR wrong number of arguments for 'config|get' command\r\n");
    c.expect_cmd(&["CONFIG", "BOGUS"], "-ERR unknown subcommand 'BOGUS'. Try CONFIG HELP.\r\n");
    // Nothing is applied when one pair is bad.
    let before = config_get(&mut c, &["timeout"]);
    let reply = c.call(&["CONFIG", "SET", "timeout", "5", "maxmemory", "lots"]);
    assert!(reply.starts_with("-ERR CONFIG SET failed"), "{reply}");
    assert_eq!(config_get(&mut c, &["timeout"]), before);
}

#[test]
fn requirepass_is_masked_and_takes_effect() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start();
    let mut admin = s.raw();
    assert_eq!(config_get(&mut admin, &["requirepass"])["requirepass"], "");
    admin.expect_cmd(&["CONFIG", "SET", "requirepass", "s3cret"], OK);
    assert_eq!(config_get(&mut admin, &["requirepass"])["requirepass"], "********");
    let mut fresh = s.raw();
    fresh.expect_cmd(&["GET", "k"], "-NOAUTH Authentication required.\r\n");
    fresh.expect_cmd(&["AUTH", "s3cret"], OK);
    fresh.expect_cmd(&["GET", "k"], "$-1\r\n");
    admin.expect_cmd(
        &["CONFIG", "SET", "no-such-parameter", "1"],
        "-ERR Unknown option or number of arguments for CONFIG SET - 'no-such-parameter'\r\n",
    );
}

#[test]
fn resetstat_zeroes_the_counters() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.call(&["GET", "nothing"]);
    c.expect_cmd(&["CONFIG", "RESETSTAT"], OK);
    let info = c.call_resp(&["INFO", "stats"]).text();
    assert_eq!(crate::common::info_int(&info, "keyspace_misses"), 0, "{info}");
}
