//! Hostile clients: slowloris, clients that pipeline huge replies and never
//! read, garbage on the wire, and connection churn. In each case the server
//! must stay responsive to a well-behaved client, keep its memory bounded and
//! not leak file descriptors.

use crate::common::*;
use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// Pid of the server listening on `port`, found from `/proc/*/cmdline` (the
/// harness passes `--port <port>` on the command line).
fn server_pid(s: &TestServer) -> u32 {
    let port = s.port().to_string();
    for entry in fs::read_dir("/proc").expect("read /proc") {
        let entry = entry.expect("dir entry");
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else { continue };
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        let is_server = args.first().is_some_and(|a| a.ends_with(b"redistill") || a.ends_with(b"redis-server"));
        let has_port = args.windows(2).any(|w| w[0] == b"--port" && w[1] == port.as_bytes());
        if is_server && has_port {
            return pid;
        }
    }
    panic!("no server process with --port {port} in /proc");
}

fn fd_count(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).expect("read /proc/<pid>/fd").count()
}

/// Resident set size in bytes.
fn rss(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/<pid>/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/<pid>/status");
    kb * 1024
}

fn used_memory(c: &mut RawClient) -> i64 {
    info_int(&c.info("memory"), "used_memory")
}

/// PING latencies (sorted) of `n` round trips on one connection.
fn ping_latencies(c: &mut RawClient, n: usize) -> Vec<Duration> {
    let mut lat: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            c.expect_cmd(&["PING"], PONG);
            let d = t.elapsed();
            thread::sleep(Duration::from_millis(2));
            d
        })
        .collect();
    lat.sort();
    lat
}

fn p99(sorted: &[Duration]) -> Duration {
    sorted[(sorted.len() * 99).div_ceil(100) - 1]
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s
}

#[test]
fn slowloris_does_not_slow_down_others() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start();
    let pid = server_pid(&s);
    let mut normal = s.raw();
    let rss_before = rss(pid);
    let stop = AtomicBool::new(false);
    // Frames that are never finished, in three flavours.
    let mut stalled: Vec<TcpStream> = Vec::new();
    for i in 0..20 {
        let mut c = connect(s.port());
        c.write_all(format!("*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$100\r\npartial-{i}").as_bytes()).unwrap();
        stalled.push(c);
    }
    for _ in 0..8 {
        // A declared half-gigabyte bulk string, then nothing.
        let mut c = connect(s.port());
        c.write_all(b"*3\r\n$3\r\nSET\r\n$4\r\nhuge\r\n$500000000\r\nabc").unwrap();
        stalled.push(c);
    }
    for _ in 0..8 {
        // A declared multibulk of INT_MAX-ish elements, then nothing.
        let mut c = connect(s.port());
        c.write_all(b"*1048576\r\n$4\r\nPING\r\n").unwrap();
        stalled.push(c);
    }
    let ready = Barrier::new(21);
    let lat = thread::scope(|scope| {
        for i in 0..20 {
            let (s, stop, ready) = (&s, &stop, &ready);
            scope.spawn(move || {
                // One byte at a time, a few milliseconds apart, forever.
                let mut c = connect(s.port());
                let frame = encode(&["SET", &format!("drip:{i}"), &"x".repeat(10_000)]);
                ready.wait();
                for b in frame.iter().cycle() {
                    if stop.load(Ordering::Relaxed) || c.write_all(&[*b]).is_err() {
                        break;
                    }
                    thread::sleep(Duration::from_millis(3));
                }
            });
        }
        ready.wait();
        thread::sleep(Duration::from_millis(100));
        let lat = ping_latencies(&mut normal, 200);
        stop.store(true, Ordering::Relaxed);
        lat
    });
    let (p50, p99, max) = (lat[lat.len() / 2], p99(&lat), lat[lat.len() - 1]);
    eprintln!("PING under slowloris: p50 {p50:?} p99 {p99:?} max {max:?}");
    assert!(p99 < Duration::from_millis(50), "PING p99 {p99:?} under slowloris (p50 {p50:?}, max {max:?})");
    normal.expect_cmd(&["SET", "after", "slowloris"], OK);
    normal.expect_cmd(&["GET", "after"], bulk("slowloris"));
    // Declaring 8 x 500 MB must not have made the server reserve it.
    let rss_after = rss(pid);
    assert!(
        rss_after < rss_before + 200 * 1024 * 1024,
        "RSS grew from {} MiB to {} MiB while clients only declared big frames",
        rss_before >> 20,
        rss_after >> 20
    );
    drop(stalled);
}

#[test]
fn clients_that_never_read_do_not_grow_memory_or_stall_others() {
    if redistill_only() {
        return;
    }
    const HOSTILE: usize = 3;
    const GETS: usize = 4000;
    let s = TestServer::start();
    let pid = server_pid(&s);
    let mut normal = s.raw();
    let big = vec![b'v'; 1 << 20];
    normal.expect_cmd(&[b"SET".as_slice(), b"big", &big], OK);
    let used_before = used_memory(&mut normal);
    let rss_before = rss(pid);
    let get = encode(&["GET", "big"]);
    let stop = AtomicBool::new(false);
    let hostiles: Vec<TcpStream> = (0..HOSTILE).map(|_| connect(s.port())).collect();
    let (max_used, max_rss, lat) = thread::scope(|scope| {
        for h in &hostiles {
            let (get, stop) = (&get, &stop);
            scope.spawn(move || {
                // Pipeline thousands of 1 MiB GETs and never read a byte; stop
                // when the server stops reading us (write times out) or hangs up.
                let mut h = h;
                h.set_write_timeout(Some(Duration::from_millis(500))).unwrap();
                let chunk = get.repeat(100);
                let mut sent = 0;
                while sent < GETS && !stop.load(Ordering::Relaxed) {
                    if h.write_all(&chunk).is_err() {
                        break;
                    }
                    sent += 100;
                }
            });
        }
        let mut max_used = 0;
        let mut max_rss = 0;
        let mut lat = Vec::new();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(3) {
            let t = Instant::now();
            normal.expect_cmd(&["PING"], PONG);
            lat.push(t.elapsed());
            max_used = max_used.max(used_memory(&mut normal));
            max_rss = max_rss.max(rss(pid));
            thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
        (max_used, max_rss, lat)
    });
    let mut lat = lat;
    lat.sort();
    let p99 = p99(&lat);
    eprintln!(
        "never-reading clients: used_memory {} -> max {} MiB, RSS {} -> max {} MiB, PING p99 {p99:?}",
        used_before >> 20,
        max_used >> 20,
        rss_before >> 20,
        max_rss >> 20
    );
    // Each hostile connection may hold its output buffer limit (64 MiB) plus
    // one reply in flight; anything near GETS x 1 MiB per client is unbounded.
    let bound = (HOSTILE as i64) * 80 * (1 << 20) + 64 * (1 << 20);
    assert!(max_used < used_before + bound, "used_memory reached {max_used} (before {used_before})");
    assert!(max_rss < rss_before + bound as u64, "RSS reached {max_rss} (before {rss_before})");
    assert!(p99 < Duration::from_millis(100), "PING p99 {p99:?} next to never-reading clients");
    let got = normal.call_resp(&["GET", "big"]);
    assert_eq!(got.bytes().len(), big.len());
    drop(hostiles);
    normal.expect_cmd(&["PING"], PONG);
}

/// Send `bytes` on a fresh connection and collect whatever comes back until the
/// server closes or stays silent for `quiet`.
fn send_garbage(port: u16, bytes: &[u8], quiet: Duration) -> (Vec<u8>, bool) {
    let mut c = connect(port);
    c.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    // The server may close mid-write; that is an allowed outcome.
    let _ = c.write_all(bytes);
    c.set_read_timeout(Some(quiet)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match c.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break false,
            Err(_) => break true,
        }
    };
    let _ = c.shutdown(Shutdown::Both);
    (got, closed)
}

#[test]
fn garbage_gets_an_error_or_a_close() {
    let s = TestServer::start();
    let mut bystander = s.raw();
    bystander.expect_cmd(&["SET", "bystander", "fine"], OK);
    let pid = if s.is_redis() { None } else { Some(server_pid(&s)) };
    let rss_before = pid.map(rss);
    let quiet = Duration::from_millis(300);
    // (bytes, exact reply expected before the close, or None for "an error line or nothing")
    let cases: &[(&[u8], Option<&str>)] = &[
        (b"*2147483648\r\n", Some("-ERR Protocol error: invalid multibulk length\r\n")),
        (b"*1\r\n$9999999999\r\n", Some("-ERR Protocol error: invalid bulk length\r\n")),
        (b"*1\r\n$-5\r\n", Some("-ERR Protocol error: invalid bulk length\r\n")),
        (b"*1\r\n$12a\r\n", Some("-ERR Protocol error: invalid bulk length\r\n")),
        (b"*1\r\n$ \r\n", Some("-ERR Protocol error: invalid bulk length\r\n")),
        (b"*x1\r\n", Some("-ERR Protocol error: invalid multibulk length\r\n")),
        (b"*1\r\n$+3\r\nfoo\r\n", None),
        (b"*1\r\n$\r\n", Some("-ERR Protocol error: invalid bulk length\r\n")),
        (b"*-5\r\n", None),
        (b"*2147483647\r\n", None),
        (b"*2147483647\r\n$4\r\nPING\r\n", None),
        (b"$9999999999\r\n", None),
        (b"PI\0NG\r\n", None),
        (b"\0\0\0\0\r\n", None),
        (b"SET k\0 v\0\r\n", None),
        (b"\xff\xfe\xfd\r\n", None),
    ];
    for (bytes, expected) in cases {
        let (got, closed) = send_garbage(s.port(), bytes, quiet);
        match expected {
            Some(e) => {
                assert_eq!(show(&got), show(e.as_bytes()), "reply to {}", show(bytes));
                assert!(closed, "connection still open after {}", show(bytes));
            }
            None => {
                // Only complete error lines (or +OK/-ERR for inline NUL
                // commands that are valid syntax) may come back.
                let text = String::from_utf8_lossy(&got);
                for line in text.split_terminator("\r\n") {
                    assert!(
                        line.starts_with('-') || line == "+OK",
                        "garbage {} got a non-error reply: {}",
                        show(bytes),
                        show(&got)
                    );
                }
            }
        }
        bystander.expect_cmd(&["GET", "bystander"], bulk("fine"));
    }
    // Random bytes, deterministic seed.
    let mut state = 0x5EED_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..60 {
        let len = (next() % 2048 + 1) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Half the blobs start like a frame so the deeper parser states get hit.
        match next() % 4 {
            0 => bytes.splice(0..0, b"*3\r\n$3\r\nSET\r\n".iter().copied()).for_each(drop),
            1 => bytes.splice(0..0, b"*".iter().copied()).for_each(drop),
            _ => {}
        }
        let _ = send_garbage(s.port(), &bytes, Duration::from_millis(50));
    }
    bystander.expect_cmd(&["GET", "bystander"], bulk("fine"));
    s.raw().expect_cmd(&["PING"], PONG);
    if let (Some(pid), Some(before)) = (pid, rss_before) {
        let after = rss(pid);
        assert!(after < before + 200 * 1024 * 1024, "RSS grew from {} to {} MiB on garbage", before >> 20, after >> 20);
    }
}

#[test]
fn connection_churn_does_not_leak_fds() {
    if redistill_only() {
        return;
    }
    const CYCLES: usize = 20_000;
    const THREADS: usize = 4;
    let s = TestServer::start();
    let pid = server_pid(&s);
    let mut normal = s.raw();
    normal.expect_cmd(&["PING"], PONG);
    let baseline = fd_count(pid);
    let t0 = Instant::now();
    thread::scope(|scope| {
        for t in 0..THREADS {
            let s = &s;
            scope.spawn(move || {
                let mut buf = [0u8; 64];
                for i in 0..CYCLES / THREADS {
                    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
                    let addr: std::net::SocketAddr = ([127, 0, 0, 1], s.port()).into();
                    sock.connect(&addr.into()).unwrap_or_else(|e| panic!("connect #{i} of thread {t}: {e}"));
                    let mut c: TcpStream = sock.into();
                    c.set_nodelay(true).unwrap();
                    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    match i % 3 {
                        // PING, then abort with RST (no TIME_WAIT left on our side).
                        0 => {
                            c.write_all(b"PING\r\n").unwrap();
                            c.read_exact(&mut buf[..7]).unwrap();
                            assert_eq!(&buf[..7], PONG.as_bytes());
                            socket2::SockRef::from(&c).set_linger(Some(Duration::ZERO)).unwrap();
                        }
                        // PING then QUIT: the server closes first.
                        1 => {
                            c.write_all(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n").unwrap();
                            c.read_exact(&mut buf[..12]).unwrap();
                            assert_eq!(&buf[..12], b"+PONG\r\n+OK\r\n");
                            assert_eq!(c.read(&mut buf).unwrap_or(0), 0, "no close after QUIT");
                        }
                        // PING and hang up with a command still unanswered.
                        _ => {
                            c.write_all(b"PING\r\n").unwrap();
                            c.read_exact(&mut buf[..7]).unwrap();
                            let _ = c.write_all(b"GET k\r\n");
                            socket2::SockRef::from(&c).set_linger(Some(Duration::ZERO)).unwrap();
                        }
                    }
                }
            });
        }
    });
    let churn_time = t0.elapsed();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut now = fd_count(pid);
    while now > baseline + 4 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
        now = fd_count(pid);
    }
    eprintln!("{CYCLES} connect/PING/close cycles in {churn_time:?}; server fds {baseline} -> {now}");
    assert!(now <= baseline + 4, "server has {now} fds open after churn, {baseline} before");
    normal.expect_cmd(&["PING"], PONG);
    let clients = info_int(&normal.info("clients"), "connected_clients");
    assert!(clients <= 2, "connected_clients = {clients} after churn");
}
