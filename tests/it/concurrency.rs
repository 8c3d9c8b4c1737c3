//! Many clients at once: 1,000 simultaneous connections, and atomic INCR
//! under contention from several threads.

use crate::common::*;
use std::sync::Barrier;
use std::thread;

const THREADS: usize = 20;
const CONNS_PER_THREAD: usize = 50;

#[test]
fn thousand_concurrent_connections() {
    let s = TestServer::start();
    let total = THREADS * CONNS_PER_THREAD;
    let opened = Barrier::new(THREADS + 1);
    let counted = Barrier::new(THREADS + 1);
    let mut main = s.raw();
    thread::scope(|scope| {
        for t in 0..THREADS {
            let (s, opened, counted) = (&s, &opened, &counted);
            scope.spawn(move || {
                let mut conns: Vec<RawClient> = (0..CONNS_PER_THREAD).map(|_| s.raw()).collect();
                // Every connection is served before the count is taken.
                for c in &mut conns {
                    c.expect_cmd(&["PING"], PONG);
                }
                opened.wait();
                counted.wait();
                // Each connection writes its own key; send all, then read all.
                for (i, c) in conns.iter_mut().enumerate() {
                    let key = format!("conn:{t}:{i}");
                    let mut batch = encode(&["SET", key.as_str(), &format!("value-{t}-{i}")]);
                    batch.extend(encode(&["GET", key.as_str()]));
                    c.send(&batch);
                }
                for (i, c) in conns.iter_mut().enumerate() {
                    c.expect_reply(OK);
                    c.expect_reply(bulk(format!("value-{t}-{i}")));
                }
            });
        }
        opened.wait();
        let clients = info_int(&main.info("clients"), "connected_clients");
        counted.wait();
        assert!(
            clients > total as i64 && clients <= total as i64 + 2,
            "connected_clients = {clients} with {} connections open",
            total + 1
        );
    });
    main.expect_cmd(&["DBSIZE"], int(total as i64));
    main.expect_cmd(&["GET", "conn:7:42"], bulk("value-7-42"));
}

/// `threads` connections each send `per_thread` INCRs of one key (pipelined in
/// batches); every reply must be unique and the total exact.
fn contended_incr(s: &TestServer, key: &str, threads: usize, per_thread: usize) {
    const BATCH: usize = 100;
    let mut all: Vec<i64> = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    let mut c = s.raw();
                    let one = encode(&["INCR", key]);
                    let mut seen = Vec::with_capacity(per_thread);
                    let mut left = per_thread;
                    while left > 0 {
                        let n = left.min(BATCH);
                        c.send(&one.repeat(n));
                        for _ in 0..n {
                            let v = c.read_resp().int();
                            if let Some(&prev) = seen.last() {
                                assert!(v > prev, "INCR went from {prev} to {v} on one connection");
                            }
                            seen.push(v);
                        }
                        left -= n;
                    }
                    seen
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("incr thread")).collect()
    });
    let total = (threads * per_thread) as i64;
    s.raw().expect_cmd(&["GET", key], bulk(total.to_string()));
    all.sort_unstable();
    let expected: Vec<i64> = (1..=total).collect();
    assert!(all == expected, "INCR replies are not exactly 1..={total} (lost or duplicated increments)");
}

#[test]
fn incr_from_8_threads_is_atomic() {
    let s = TestServer::start();
    contended_incr(&s, "counter", 8, 10_000);
}

#[test]
fn incr_is_atomic_with_few_shards() {
    // Few shards means more contention per shard (config is ignored by real Redis).
    let s = TestServer::start_with("[server]\nnum_shards = 4\n");
    contended_incr(&s, "counter:4shards", 4, 5_000);
}

#[test]
fn concurrent_writers_on_distinct_dbs() {
    let s = TestServer::start();
    thread::scope(|scope| {
        for db in 0..4 {
            let s = &s;
            scope.spawn(move || {
                let mut c = s.raw();
                c.expect_cmd(&["SELECT", &db.to_string()], OK);
                for i in 0..500 {
                    c.send_cmd(&["SET", &format!("k{i}"), &format!("db{db}-{i}")]);
                }
                for _ in 0..500 {
                    c.expect_reply(OK);
                }
            });
        }
    });
    let mut c = s.raw();
    for db in 0..4 {
        c.expect_cmd(&["SELECT", &db.to_string()], OK);
        c.expect_cmd(&["DBSIZE"], int(500));
        c.expect_cmd(&["GET", "k499"], bulk(format!("db{db}-499")));
    }
}

#[test]
fn connection_churn() {
    let s = TestServer::start();
    thread::scope(|scope| {
        for t in 0..4 {
            let s = &s;
            scope.spawn(move || {
                for i in 0..250 {
                    let mut c = s.raw();
                    c.expect_cmd(&["SET", &format!("churn:{t}:{i}"), "x"], OK);
                    // Half the connections leave with QUIT, half just hang up.
                    if i % 2 == 0 {
                        c.expect_cmd(&["QUIT"], OK);
                    }
                }
            });
        }
    });
    let mut c = s.raw();
    c.expect_cmd(&["DBSIZE"], int(1000));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let clients = info_int(&c.info("clients"), "connected_clients");
        if clients == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "connected_clients stuck at {clients} after churn");
        thread::sleep(std::time::Duration::from_millis(20));
    }
}
