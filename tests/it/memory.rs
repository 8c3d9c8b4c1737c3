//! max_memory, eviction policies, OOM errors and memory coming back: the
//! real server, filled over TCP until its limit matters.

use std::time::{Duration, Instant};

use crate::common::{info_int, redistill_only, RawClient, TestServer};

const MB: i64 = 1024 * 1024;
const OOM: &str = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

fn server(max_memory: &str, policy: &str) -> TestServer {
    TestServer::start_with(&format!(
        "[server]\nnum_shards = 16\n[memory]\nmax_memory = \"{max_memory}\"\neviction_policy = \"{policy}\"\n"
    ))
}

fn info(c: &mut RawClient) -> String {
    c.call_resp(&["INFO", "all"]).text()
}

/// Bytes in use above the idle footprint: what max_memory limits.
fn used_over_startup(c: &mut RawClient) -> i64 {
    let info = info(c);
    info_int(&info, "used_memory") - info_int(&info, "used_memory_startup")
}

/// SET `count` keys `{prefix}{i}` with `size`-byte values, pipelined in
/// batches; returns the replies that were not +OK.
fn fill(c: &mut RawClient, prefix: &str, count: usize, size: usize, extra: &[&str]) -> Vec<String> {
    let value = "v".repeat(size);
    let mut failures = Vec::new();
    for batch in (0..count).collect::<Vec<_>>().chunks(64) {
        for i in batch {
            let key = format!("{prefix}{i}");
            let mut args = vec!["SET", key.as_str(), value.as_str()];
            args.extend_from_slice(extra);
            c.send_cmd(&args);
        }
        for _ in batch {
            let reply = c.read_reply();
            if reply != "+OK\r\n" {
                failures.push(reply);
            }
        }
    }
    failures
}

/// [`fill`], which must succeed: a failure names the first error reply
/// and the memory figures at that moment.
fn fill_ok(c: &mut RawClient, prefix: &str, count: usize, size: usize, extra: &[&str]) {
    let failures = fill(c, prefix, count, size, extra);
    if let Some(first) = failures.first() {
        let info = info(c);
        let figures: Vec<&str> =
            info.lines().filter(|l| l.starts_with("used_memory") || l.starts_with("evicted")).collect();
        panic!("{} of {count} SETs of {prefix}* failed, first {first:?}; {figures:?}", failures.len());
    }
}

fn exists(c: &mut RawClient, key: &str) -> bool {
    c.call_resp(&["EXISTS", key]).int() == 1
}

/// Poll until `check` holds or `timeout` passes.
fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    check()
}

#[test]
fn allkeys_lru_holds_the_limit_and_evicts() {
    if redistill_only() {
        return;
    }
    let s = server("8mb", "allkeys-lru");
    let mut c = s.raw();
    let failures = fill(&mut c, "k", 30_000, 1000, &[]);
    assert!(failures.is_empty(), "allkeys-lru never refuses a write: {:?}", &failures[..1]);
    let used = used_over_startup(&mut c);
    assert!(used <= 8 * MB * 11 / 10, "used {used} bytes over start-up, limit 8 MiB");
    let info = info(&mut c);
    assert!(info_int(&info, "evicted_keys") > 10_000, "{info}");
    let keys = c.call_resp(&["DBSIZE"]).int();
    assert!(keys > 4_000 && keys < 30_000, "{keys} keys left");
}

#[test]
fn lru_and_lfu_keep_keys_that_are_read() {
    if redistill_only() {
        return;
    }
    for policy in ["allkeys-lru", "allkeys-lfu"] {
        let s = server("16mb", policy);
        let mut c = s.raw();
        fill_ok(&mut c, "hot", 500, 1000, &[]);
        for round in 0..20 {
            read_all(&mut c, "hot", 500);
            fill_ok(&mut c, &format!("cold{round}:"), 3_000, 1000, &[]);
        }
        let hot = (0..500).filter(|i| exists(&mut c, &format!("hot{i}"))).count();
        assert!(hot >= 475, "{policy}: only {hot}/500 frequently read keys survived 60 MB of one-off writes");
        assert!(info_int(&info(&mut c), "evicted_keys") > 30_000, "{policy}");
    }
}

/// GET `{prefix}0` .. `{prefix}{count-1}`, pipelined.
fn read_all(c: &mut RawClient, prefix: &str, count: usize) {
    for i in 0..count {
        c.send_cmd(&["GET", &format!("{prefix}{i}")]);
    }
    for _ in 0..count {
        c.read_reply();
    }
}

/// S3-FIFO's ghost: a key evicted from probation unread and written again
/// soon after goes to the main queue, where a flood of one-off writes
/// (which only churns probation) does not reach it; a key never seen
/// before starts on probation and goes with the flood.
#[test]
fn lfu_admits_a_recently_evicted_key_to_the_main_queue() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start_with(
        "[server]\nnum_shards = 1\n[memory]\nmax_memory = \"16mb\"\neviction_policy = \"allkeys-lfu\"\n",
    );
    let mut c = s.raw();
    // Data that is read: it leaves probation for the main queue.
    fill_ok(&mut c, "warm", 14_000, 1000, &[]);
    read_all(&mut c, "warm", 14_000);
    fill_ok(&mut c, "flood-a", 6_000, 1000, &[]);
    // Twenty keys evicted from probation unread...
    fill_ok(&mut c, "back", 20, 1000, &[]);
    fill_ok(&mut c, "flood-b", 4_000, 1000, &[]);
    let left = (0..20).filter(|i| exists(&mut c, &format!("back{i}"))).count();
    assert_eq!(left, 0, "unread keys on probation outlived 4 MB of writes");
    // ...come back, next to twenty new ones, before another flood. (The
    // ghost forgets a key when a later one lands on its slot: after the
    // 4,000 evictions above, each of them with a chance of about 1 in 5.)
    fill_ok(&mut c, "back", 20, 1000, &[]);
    fill_ok(&mut c, "new", 20, 1000, &[]);
    fill_ok(&mut c, "flood-c", 5_000, 1000, &[]);
    let back = (0..20).filter(|i| exists(&mut c, &format!("back{i}"))).count();
    let new = (0..20).filter(|i| exists(&mut c, &format!("new{i}"))).count();
    assert!(back >= 10, "only {back}/20 recently evicted keys went to the main queue");
    assert!(new <= 4, "{new}/20 new keys outlived a flood of 5 MB on probation");
}

#[test]
fn noeviction_refuses_writes_but_serves_reads_and_deletes() {
    if redistill_only() {
        return;
    }
    let s = server("4mb", "noeviction");
    let mut c = s.raw();
    c.expect_cmd(&["SET", "first", "value"], "+OK\r\n");
    let failures = fill(&mut c, "k", 20_000, 1000, &[]);
    assert!(!failures.is_empty(), "4 MiB cannot hold 20 MB");
    assert!(failures.iter().all(|f| f == OOM), "unexpected failure: {:?}", failures[0]);
    assert!(eventually(Duration::from_secs(2), || c.call(&["SET", "x", "y"]) == OOM));
    c.expect_cmd(&["GET", "first"], "$5\r\nvalue\r\n");
    c.expect_cmd(&["DEL", "first"], ":1\r\n");
    assert_eq!(info_int(&info(&mut c), "evicted_keys"), 0);
    c.expect_cmd(&["FLUSHALL"], "+OK\r\n");
    assert!(eventually(Duration::from_secs(2), || c.call(&["SET", "x", "y"]) == "+OK\r\n"));
}

#[test]
fn volatile_lru_leaves_keys_without_ttl_alone() {
    if redistill_only() {
        return;
    }
    let s = server("8mb", "volatile-lru");
    let mut c = s.raw();
    fill_ok(&mut c, "keep", 2_000, 1000, &[]);
    fill_ok(&mut c, "ttl", 30_000, 1000, &["EX", "3600"]);
    let kept = (0..2_000).filter(|i| exists(&mut c, &format!("keep{i}"))).count();
    assert_eq!(kept, 2_000, "a key without a TTL was evicted under volatile-lru");
    assert!(info_int(&info(&mut c), "evicted_keys") > 10_000);
}

#[test]
fn volatile_policy_without_volatile_keys_refuses_writes() {
    if redistill_only() {
        return;
    }
    let s = server("4mb", "volatile-random");
    let mut c = s.raw();
    let failures = fill(&mut c, "k", 20_000, 1000, &[]);
    assert!(!failures.is_empty() && failures.iter().all(|f| f == OOM), "{:?}", failures.first());
}

#[test]
fn volatile_ttl_evicts_the_soonest_to_expire() {
    if redistill_only() {
        return;
    }
    let s = server("8mb", "volatile-ttl");
    let mut c = s.raw();
    fill_ok(&mut c, "long", 1_000, 1000, &["EX", "100000"]);
    fill_ok(&mut c, "short", 30_000, 1000, &["EX", "1000"]);
    let long = (0..1_000).filter(|i| exists(&mut c, &format!("long{i}"))).count();
    assert!(long >= 900, "only {long}/1000 long-lived keys survived");
    assert!(info_int(&info(&mut c), "evicted_keys") > 10_000);
}

#[test]
fn allkeys_lfu_and_random_evict_too() {
    if redistill_only() {
        return;
    }
    for policy in ["allkeys-lfu", "allkeys-random", "volatile-lfu"] {
        let s = server("8mb", policy);
        let mut c = s.raw();
        let extra: &[&str] = if policy.starts_with("volatile") { &["EX", "3600"] } else { &[] };
        fill_ok(&mut c, "k", 30_000, 1000, extra);
        // Within the limit once the evictor has caught up (a loaded machine
        // may leave the last writes' excess for its next round).
        let within = eventually(Duration::from_secs(5), || used_over_startup(&mut c) <= 8 * MB * 11 / 10);
        assert!(within, "{policy}: used_memory {} over the limit", used_over_startup(&mut c));
        assert!(info_int(&info(&mut c), "evicted_keys") > 10_000, "{policy}");
    }
}

#[test]
fn config_set_changes_limit_and_policy_live() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start_with("[server]\nnum_shards = 16\n");
    let mut c = s.raw();
    fill_ok(&mut c, "k", 20_000, 1000, &[]);
    assert_eq!(info_int(&info(&mut c), "evicted_keys"), 0);
    c.expect_cmd(&["CONFIG", "SET", "maxmemory", "8mb"], "+OK\r\n");
    assert!(eventually(Duration::from_secs(5), || used_over_startup(&mut c) <= 8 * MB));
    assert!(info_int(&info(&mut c), "evicted_keys") > 0);
    c.expect_cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"], "+OK\r\n");
    let info = info(&mut c);
    assert_eq!(crate::common::info_field(&info, "maxmemory_policy"), Some("noeviction"));
    assert_eq!(info_int(&info, "maxmemory"), 8 * MB);
    let failures = fill(&mut c, "more", 20_000, 1000, &[]);
    assert!(failures.iter().any(|f| f == OOM), "noeviction set live must refuse writes over the limit");
}

#[test]
fn active_expiry_reclaims_keys_nobody_touches() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start_with("[server]\nnum_shards = 16\n");
    let mut c = s.raw();
    fill_ok(&mut c, "k", 5_000, 100, &["PX", "100"]);
    assert!(eventually(Duration::from_secs(3), || info_int(&info(&mut c), "expired_keys") == 5_000));
    let info = info(&mut c);
    assert!(crate::common::info_field(&info, "db0").is_none(), "keyspace still lists db0: {info}");
    c.expect_cmd(&["DBSIZE"], ":0\r\n");
}

#[test]
fn memory_comes_back_after_del_flushall_and_expiry() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start_with("[server]\nnum_shards = 16\n");
    let mut c = s.raw();
    let rss_idle = rss(&mut c);
    // DEL: used_memory, and RSS too (jemalloc returns the pages).
    fill_ok(&mut c, "k", 20_000, 1000, &[]);
    assert!(used_over_startup(&mut c) > 18 * MB);
    assert!(rss(&mut c) > rss_idle + 18 * MB);
    for i in 0..20_000 {
        c.send_cmd(&["DEL", &format!("k{i}")]);
    }
    for _ in 0..20_000 {
        c.read_reply();
    }
    assert!(eventually(Duration::from_secs(3), || used_over_startup(&mut c) < 2 * MB), "DEL gives memory back");
    assert!(eventually(Duration::from_secs(5), || rss(&mut c) < rss_idle + 6 * MB), "and RSS drops after DEL");
    // FLUSHALL.
    fill_ok(&mut c, "k", 20_000, 1000, &[]);
    c.expect_cmd(&["FLUSHALL"], "+OK\r\n");
    assert!(used_over_startup(&mut c) < 2 * MB, "FLUSHALL gives memory back");
    assert!(eventually(Duration::from_secs(5), || rss(&mut c) < rss_idle + 6 * MB), "and RSS drops after FLUSHALL");
    // Expiry, with nobody touching the keys.
    fill_ok(&mut c, "k", 20_000, 1000, &["PX", "1500"]);
    assert!(rss(&mut c) > rss_idle + 18 * MB);
    // All keys gone first: RSS can dip under the slack below with a few
    // thousand 1 KB keys still waiting for the active expiry (a loaded host).
    assert!(eventually(Duration::from_secs(10), || c.call_resp(&["DBSIZE"]).int() == 0), "expiry removes every key");
    assert!(eventually(Duration::from_secs(10), || rss(&mut c) < rss_idle + 6 * MB), "and RSS drops after expiry");
}

/// The server's resident set, as INFO reports it.
fn rss(c: &mut RawClient) -> i64 {
    info_int(&info(c), "used_memory_rss")
}
