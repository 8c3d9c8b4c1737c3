//! INFO's observability sections: cpu, commandstats and errorstats, and
//! which INFO arguments include them. The expectations are Redis 7's, so
//! these tests also pass in differential mode against a real redis-server.

use crate::common::*;
use std::time::{Duration, Instant};

fn headers(info: &str) -> Vec<&str> {
    info.lines().filter_map(|l| l.strip_prefix("# ")).collect()
}

/// `errorstat_<code>:count=N` as N (0 when absent).
fn errorstat(info: &str, code: &str) -> u64 {
    info_field(info, &format!("errorstat_{code}"))
        .map(|v| {
            let n = v.strip_prefix("count=").unwrap_or_else(|| panic!("bad errorstat value {v:?}"));
            n.parse().unwrap_or_else(|_| panic!("bad errorstat count {v:?}"))
        })
        .unwrap_or(0)
}

#[test]
fn section_selection_follows_redis() {
    let s = TestServer::start();
    let mut c = s.raw();
    let default = c.info("");
    let names = headers(&default);
    for section in ["Server", "Clients", "Memory", "Stats", "CPU", "Errorstats", "Keyspace"] {
        assert!(names.contains(&section), "default INFO lacks {section}: {names:?}");
    }
    assert!(!names.contains(&"Commandstats"), "default INFO must not include Commandstats");
    assert_eq!(headers(&c.info("default")), names);

    for arg in ["all", "everything", "ALL"] {
        let info = c.info(arg);
        let names = headers(&info);
        for section in ["Server", "Stats", "CPU", "Commandstats", "Errorstats", "Keyspace"] {
            assert!(names.contains(&section), "INFO {arg} lacks {section}: {names:?}");
        }
        let cpu = names.iter().position(|n| *n == "CPU");
        let commandstats = names.iter().position(|n| *n == "Commandstats");
        let errorstats = names.iter().position(|n| *n == "Errorstats");
        assert!(cpu < commandstats && commandstats < errorstats, "section order in INFO {arg}: {names:?}");
    }
    assert_eq!(headers(&c.info("commandstats")), ["Commandstats"]);
    assert_eq!(headers(&c.info("errorstats")), ["Errorstats"]);
    assert_eq!(headers(&c.info("cpu")), ["CPU"]);
    let both = c.call_resp(&["INFO", "cpu", "commandstats"]);
    let both = String::from_utf8_lossy(both.bytes()).into_owned();
    assert_eq!(headers(&both), ["CPU", "Commandstats"]);
}

#[test]
fn commandstats_count_calls_failures_and_rejections() {
    let s = TestServer::start();
    let mut c = s.raw();
    for _ in 0..3 {
        c.expect_cmd(&["SET", "k", "v"], OK);
    }
    c.expect_cmd(&["GET", "k"], bulk("v"));
    c.expect_cmd(&["GET", "k"], bulk("v"));
    c.expect_cmd(&["GET"], arity_err("get"));
    c.expect_cmd(&["INCR", "k"], NOT_INT_ERR);
    c.expect_cmd(&["NOSUCHCOMMAND", "x"], err("ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' "));

    let info = c.info("commandstats");
    assert_eq!(cmdstat_int(&info, "set", "calls"), 3);
    assert_eq!(cmdstat_int(&info, "set", "failed_calls"), 0);
    assert_eq!(cmdstat_int(&info, "set", "rejected_calls"), 0);
    assert_eq!(cmdstat_int(&info, "get", "calls"), 2);
    assert_eq!(cmdstat_int(&info, "get", "rejected_calls"), 1);
    assert_eq!(cmdstat_int(&info, "get", "failed_calls"), 0);
    assert_eq!(cmdstat_int(&info, "incr", "calls"), 1);
    assert_eq!(cmdstat_int(&info, "incr", "failed_calls"), 1);
    assert!(cmdstat(&info, "nosuchcommand").is_none(), "unknown commands have no stats");
    assert!(cmdstat(&info, "del").is_none(), "unused commands are not listed:\n{info}");

    // Field order and formats are Redis's, which exporters parse.
    let line = info.lines().find(|l| l.starts_with("cmdstat_set:")).unwrap_or_default();
    let keys: Vec<&str> =
        line["cmdstat_set:".len()..].split(',').filter_map(|p| p.split_once('=')).map(|p| p.0).collect();
    assert_eq!(keys, ["calls", "usec", "usec_per_call", "rejected_calls", "failed_calls"]);
    let stat = cmdstat(&info, "set").unwrap_or_default();
    let per_call = &stat["usec_per_call"];
    let decimals = per_call.split_once('.').map(|(_, d)| d.len());
    assert_eq!(decimals, Some(2), "usec_per_call={per_call}");
    let usec: u64 = stat["usec"].parse().unwrap_or(u64::MAX);
    assert!(usec < 3_000_000, "3 SETs took {usec} µs?");
}

#[test]
fn authentication_rejections_and_error_codes() {
    let s = TestServer::start_with_password("secret");
    // The harness's own start-up PING was already refused with NOAUTH, so
    // compare before and after.
    let mut admin = s.raw_authed();
    let before = admin.info("everything");
    let mut c = s.raw();
    c.expect_cmd(&["GET", "k"], err("NOAUTH Authentication required."));
    c.expect_cmd(&["SET", "k", "v"], err("NOAUTH Authentication required."));
    c.expect_cmd(&["AUTH", "wrong"], err("WRONGPASS invalid username-password pair or user is disabled."));
    c.expect_cmd(&["AUTH", "secret"], OK);
    let after = admin.info("everything");

    let delta = |name: &str, field: &str| {
        let old = cmdstat(&before, name).map_or(0, |_| cmdstat_int(&before, name, field));
        cmdstat_int(&after, name, field) - old
    };
    assert_eq!(delta("get", "rejected_calls"), 1);
    assert_eq!(delta("get", "calls"), 0);
    assert_eq!(delta("set", "rejected_calls"), 1);
    assert_eq!(delta("auth", "calls"), 2);
    assert_eq!(delta("auth", "failed_calls"), 1);
    assert_eq!(errorstat(&after, "NOAUTH") - errorstat(&before, "NOAUTH"), 2);
    assert_eq!(errorstat(&after, "WRONGPASS") - errorstat(&before, "WRONGPASS"), 1);
    let total = |info: &str| info_int(info, "total_error_replies");
    assert_eq!(total(&after) - total(&before), 3);
}

#[test]
fn errorstats_sum_to_total_error_replies() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    c.expect_cmd(&["INCR", "k"], NOT_INT_ERR);
    c.expect_cmd(&["GET"], arity_err("get"));
    c.expect_cmd(&["SET", "k", "v", "BOGUS"], SYNTAX_ERR);
    let _ = c.call(&["NOSUCHCOMMAND"]);

    let info = c.info("");
    assert_eq!(errorstat(&info, "ERR"), 4, "errorstats:\n{info}");
    let errorstats = c.info("errorstats");
    let sum: u64 = errorstats
        .lines()
        .filter_map(|l| l.split_once(":count="))
        .map(|(_, n)| n.parse::<u64>().unwrap_or_else(|_| panic!("bad count in {errorstats}")))
        .sum();
    assert_eq!(sum, 4);
    assert_eq!(info_int(&c.info("stats"), "total_error_replies"), 4);
    let codes: Vec<&str> = errorstats.lines().filter_map(|l| l.strip_prefix("errorstat_")).collect();
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    assert_eq!(codes, sorted, "errorstats are sorted by code");
}

#[test]
fn config_resetstat_clears_command_and_error_stats() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v"], OK);
    c.expect_cmd(&["INCR", "k"], NOT_INT_ERR);
    let info = c.info("all");
    assert!(cmdstat(&info, "set").is_some());
    assert_eq!(errorstat(&info, "ERR"), 1);

    c.expect_cmd(&["CONFIG", "RESETSTAT"], OK);
    let info = c.info("all");
    assert!(cmdstat(&info, "set").is_none(), "cmdstat_set survived RESETSTAT:\n{info}");
    assert!(cmdstat(&info, "incr").is_none(), "cmdstat_incr survived RESETSTAT:\n{info}");
    assert_eq!(errorstat(&info, "ERR"), 0);
    assert_eq!(info_int(&info, "total_error_replies"), 0);
}

#[test]
fn cpu_section_reports_process_cpu_time() {
    let s = TestServer::start();
    let mut c = s.raw();
    let cpu_seconds = |info: &str| -> f64 {
        let mut total = 0.0;
        for field in ["used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children"] {
            let value = info_field(info, field).unwrap_or_else(|| panic!("no {field} in:\n{info}"));
            let (whole, fraction) = value.split_once('.').unwrap_or_else(|| panic!("{field}:{value}"));
            assert!(whole.chars().all(|c| c.is_ascii_digit()) && !whole.is_empty(), "{field}:{value}");
            assert!(fraction.len() == 6 && fraction.chars().all(|c| c.is_ascii_digit()), "{field}:{value}");
            if field.ends_with("children") {
                continue;
            }
            total += value.parse::<f64>().unwrap_or_else(|_| panic!("{field}:{value}"));
        }
        total
    };
    let before = cpu_seconds(&c.info("cpu"));
    // Work until the CPU clock visibly moves (its resolution can be a tick).
    let mut batch = Vec::new();
    for i in 0..2000 {
        batch.extend(encode(&["SET", &format!("key:{i}"), "value"]));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        c.send(&batch);
        for _ in 0..2000 {
            c.expect_reply(OK);
        }
        let now = cpu_seconds(&c.info("cpu"));
        assert!(now >= before, "CPU time went backwards: {before} -> {now}");
        if now > before {
            break;
        }
        assert!(Instant::now() < deadline, "CPU time never increased from {before}");
    }
}
