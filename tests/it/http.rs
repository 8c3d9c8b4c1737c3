//! The HTTP endpoint (`server.health_check_port`): /health, /metrics, and
//! how it copes with bad, slow, oversized and numerous clients. Everything
//! goes over a plain TcpStream to the real binary.

use crate::common::*;
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A server with the HTTP endpoint on a port of its own; None (test
/// skipped) in differential mode, where there is no such endpoint.
fn start_with_health(extra_toml: &str) -> Option<(TestServer, u16)> {
    if redistill_only() {
        return None;
    }
    let port = free_port();
    let server = TestServer::start_with(&format!("[server]\nhealth_check_port = {port}\n{extra_toml}"));
    // The harness waits for the Redis port; the HTTP port is bound just after.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !port_accepts(port) {
        assert!(Instant::now() < deadline, "HTTP port {port} never opened; stderr:\n{}", server.stderr_so_far());
        sleep(Duration::from_millis(10));
    }
    Some((server, port))
}

#[derive(Debug)]
struct HttpResponse {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl HttpResponse {
    fn header(&self, name: &str) -> &str {
        self.headers.get(&name.to_ascii_lowercase()).map_or("", String::as_str)
    }
}

/// Send raw request bytes and read the response until the server closes.
fn http_raw(port: u16, request: &[u8]) -> HttpResponse {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("connect :{port}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("read timeout");
    stream.write_all(request).expect("send request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap_or_else(|e| panic!("read response: {e}; got {}", show(&raw)));
    parse_response(&raw)
}

fn http_get(port: u16, path: &str) -> HttpResponse {
    http_raw(port, format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
}

fn parse_response(raw: &[u8]) -> HttpResponse {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no header end in {}", show(raw)));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    assert!(status_line.starts_with("HTTP/1.1 "), "bad status line {status_line:?}");
    let status = status_line[9..12].parse().unwrap_or_else(|_| panic!("bad status line {status_line:?}"));
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap_or_else(|| panic!("bad header line {line:?}"));
            (name.to_ascii_lowercase(), value.trim().to_string())
        })
        .collect();
    let response = HttpResponse { status, headers, body: body.to_string() };
    if let Ok(len) = response.header("content-length").parse::<usize>() {
        assert!(response.body.len() == len || response.body.is_empty(), "Content-Length mismatch: {response:?}");
    }
    response
}

/// The raw value of `"key":` in a flat JSON object.
fn json_field<'a>(json: &'a str, key: &str) -> &'a str {
    let start = json.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("no {key} in {json}")) + key.len() + 3;
    let rest = &json[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim()
}

fn json_int(json: &str, key: &str) -> u64 {
    let raw = json_field(json, key);
    raw.parse().unwrap_or_else(|_| panic!("{key}: {raw} is not an integer in {json}"))
}

#[test]
fn health_reports_status_and_counts() {
    let Some((server, http)) = start_with_health("[memory]\nmax_memory = \"64mb\"\n") else { return };
    let mut c = server.raw();
    for key in ["a", "b", "c"] {
        c.expect_cmd(&["SET", key, "v"], OK);
    }
    c.expect_cmd(&["SELECT", "3"], OK);
    c.expect_cmd(&["SET", "d", "v"], OK);

    let response = http_get(http, "/health");
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.header("content-type"), "application/json");
    assert_eq!(response.header("connection"), "close");
    let json = response.body.trim_end();
    assert!(json.starts_with('{') && json.ends_with('}'), "{json}");
    assert_eq!(json_field(json, "status"), "\"ok\"");
    assert_eq!(json_int(json, "keys"), 4);
    assert_eq!(json_int(json, "maxmemory"), 64 * 1024 * 1024);
    assert!(json_int(json, "used_memory") > 0, "{json}");
    assert!(json_int(json, "connected_clients") >= 1, "{json}");
    assert!(json_int(json, "uptime_seconds") < 3600, "{json}");
    assert_eq!(json_field(json, "version"), format!("\"{}\"", env!("CARGO_PKG_VERSION")));

    // The query string is ignored, and HEAD gets the headers only.
    assert_eq!(http_get(http, "/health?verbose=1").status, 200);
    let head = http_raw(http, b"HEAD /health HTTP/1.1\r\n\r\n");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty(), "HEAD must not send a body: {head:?}");
    assert!(head.header("content-length").parse::<usize>().is_ok_and(|n| n > 0), "{head:?}");
}

#[test]
fn unknown_paths_methods_and_garbage() {
    let Some((_server, http)) = start_with_health("") else { return };
    for path in ["/", "/nope", "/health/", "/metricsx"] {
        assert_eq!(http_get(http, path).status, 404, "GET {path}");
    }
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let response = http_raw(http, format!("{method} /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n").as_bytes());
        assert_eq!(response.status, 405, "{method}");
        assert_eq!(response.header("allow"), "GET, HEAD");
    }
    assert_eq!(http_raw(http, b"POST /metrics HTTP/1.1\r\n\r\n").status, 405);
    for garbage in
        [&b"hello\r\n\r\n"[..], b"GET /health\r\n\r\n", b"\x16\x03\x01\x02\x00\r\n\r\n", b"*1\r\n$4\r\nPING\r\n\r\n"]
    {
        assert_eq!(http_raw(http, garbage).status, 400, "{}", show(garbage));
    }
}

/// One parsed exposition: (series with labels, value), in order.
fn parse_exposition(text: &str) -> Vec<(String, f64)> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helped = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default();
            helped.push(name.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let (name, kind) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
            assert!(["counter", "gauge", "histogram"].contains(&kind), "bad TYPE line {line:?}");
            assert!(helped.last().is_some_and(|h| h == name), "TYPE without HELP: {line:?}");
            assert!(types.insert(name.to_string(), kind.to_string()).is_none(), "family declared twice: {name}");
            continue;
        }
        assert!(!line.is_empty() && !line.starts_with('#'), "unexpected line {line:?}");
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value in {line:?}"));
        let name = series.split('{').next().unwrap_or_default();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.is_empty(),
            "bad metric name in {line:?}"
        );
        if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
            assert!(labels.starts_with('{') && labels.ends_with('}'), "bad labels in {line:?}");
            for pair in labels[1..labels.len() - 1].split(',') {
                let (label, quoted) = pair.split_once('=').unwrap_or_else(|| panic!("bad label in {line:?}"));
                assert!(label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "bad label name in {line:?}");
                assert!(quoted.len() >= 2 && quoted.starts_with('"') && quoted.ends_with('"'), "{line:?}");
            }
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|base| types.get(*base).is_some_and(|t| t == "histogram")))
            .unwrap_or(name);
        assert!(types.contains_key(family), "sample before its TYPE line: {line:?}");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        samples.push((series.to_string(), value));
    }
    samples
}

fn scrape(port: u16) -> Vec<(String, f64)> {
    let response = http_get(port, "/metrics");
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    parse_exposition(&response.body)
}

fn sample(samples: &[(String, f64)], series: &str) -> Option<f64> {
    samples.iter().find(|(s, _)| s == series).map(|(_, v)| *v)
}

#[test]
fn metrics_are_prometheus_text_and_count_commands() {
    let Some((server, http)) = start_with_health("") else { return };
    let before = scrape(http);
    for name in [
        "redis_up",
        "redis_connected_clients",
        "redis_memory_used_bytes",
        "redis_memory_max_bytes",
        "redis_evicted_keys_total",
        "redis_expired_keys_total",
        "redis_keyspace_hits_total",
        "redis_keyspace_misses_total",
        "redis_rejected_connections_total",
        "redis_db_keys{db=\"db0\"}",
    ] {
        assert!(sample(&before, name).is_some(), "no {name} in /metrics");
    }
    assert_eq!(sample(&before, "redis_up"), Some(1.0));
    let sets_before = sample(&before, "redis_commands_total{cmd=\"set\"}").unwrap_or(0.0);

    let mut c = server.raw();
    for i in 0..5 {
        c.expect_cmd(&["SET", &format!("k{i}"), "v"], OK);
    }
    c.expect_cmd(&["GET", "k0"], bulk("v"));
    c.expect_cmd(&["GET", "missing"], NIL);
    c.expect_cmd(&["INCR", "k0"], NOT_INT_ERR);

    let after = scrape(http);
    assert_eq!(sample(&after, "redis_commands_total{cmd=\"set\"}"), Some(sets_before + 5.0));
    assert!(sample(&after, "redis_commands_duration_seconds_total{cmd=\"set\"}").is_some_and(|s| s > 0.0));
    assert_eq!(sample(&after, "redis_commands_failed_calls_total{cmd=\"incr\"}"), Some(1.0));
    assert_eq!(sample(&after, "redis_errors_total{err=\"ERR\"}"), Some(1.0));
    assert_eq!(sample(&after, "redis_db_keys{db=\"db0\"}"), Some(5.0));
    assert!(sample(&after, "redis_keyspace_hits_total") >= Some(1.0));
    assert!(sample(&after, "redis_keyspace_misses_total") >= Some(1.0));
    assert!(sample(&after, "redis_connected_clients") >= Some(1.0));

    // The histogram: cumulative buckets ending in +Inf == _count.
    let buckets: Vec<f64> = after
        .iter()
        .filter(|(s, _)| s.starts_with("redistill_command_duration_seconds_bucket{cmd=\"set\","))
        .map(|(_, v)| *v)
        .collect();
    assert!(buckets.len() > 10, "too few buckets: {buckets:?}");
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "buckets not cumulative: {buckets:?}");
    let inf = sample(&after, "redistill_command_duration_seconds_bucket{cmd=\"set\",le=\"+Inf\"}");
    assert_eq!(inf, Some(sets_before + 5.0));
    assert_eq!(sample(&after, "redistill_command_duration_seconds_count{cmd=\"set\"}"), inf);
    assert!(sample(&after, "redistill_command_duration_seconds_sum{cmd=\"set\"}").is_some_and(|s| s > 0.0));
}

#[test]
fn slow_client_is_cut_off_without_blocking_others() {
    let Some((_server, http)) = start_with_health("") else { return };
    let started = Instant::now();
    let mut slow = TcpStream::connect(("127.0.0.1", http)).expect("connect");
    slow.write_all(b"GET /hea").expect("send");
    // Idle connections that never send anything.
    let idle: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(("127.0.0.1", http)).expect("connect")).collect();

    let quick = Instant::now();
    assert_eq!(http_get(http, "/health").status, 200);
    assert!(quick.elapsed() < Duration::from_secs(2), "a slow client delayed others");

    slow.set_read_timeout(Some(Duration::from_secs(15))).expect("read timeout");
    let mut reply = Vec::new();
    match slow.read_to_end(&mut reply) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("slow client was not disconnected: {e}"),
    }
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(4), "cut off too early ({waited:?})");
    assert!(waited < Duration::from_secs(10), "cut off too late ({waited:?})");
    if !reply.is_empty() {
        assert!(reply.starts_with(b"HTTP/1.1 408 "), "{}", show(&reply));
    }
    drop(idle);
    assert_eq!(http_get(http, "/health").status, 200);
}

#[test]
fn oversized_request_is_refused() {
    let Some((_server, http)) = start_with_health("") else { return };
    let mut request = b"GET /health HTTP/1.1\r\nX-Filler: ".to_vec();
    request.extend_from_slice(&[b'a'; 16 * 1024]);
    let mut stream = TcpStream::connect(("127.0.0.1", http)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("read timeout");
    // The server may stop reading (and reply) before all of it is written.
    let _ = stream.write_all(&request);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let response = parse_response(&raw);
    assert_eq!(response.status, 431, "{response:?}");
    // A request just under the limit is fine.
    let mut fits = b"GET /health HTTP/1.1\r\nX-Filler: ".to_vec();
    fits.extend_from_slice(&[b'a'; 7 * 1024]);
    fits.extend_from_slice(b"\r\n\r\n");
    assert_eq!(http_raw(http, &fits).status, 200);
}

#[test]
fn many_concurrent_clients() {
    let Some((_server, http)) = start_with_health("") else { return };
    let threads: Vec<_> = (0..64)
        .map(|i| {
            std::thread::spawn(move || {
                let path = if i % 2 == 0 { "/health" } else { "/metrics" };
                http_get(http, path).status
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().expect("client thread"), 200);
    }
}

#[test]
fn health_is_503_while_shutting_down() {
    let Some((mut server, http)) = start_with_health("shutdown_timeout = 2\n") else { return };
    // A client that asks for far more than the socket buffers hold and never
    // reads keeps its worker draining for a while after SIGTERM (up to
    // shutdown_timeout), the window in which /health must say the server is
    // going away.
    let mut stuck = server.raw();
    let value = "x".repeat(4 * 1024 * 1024);
    stuck.expect_cmd(&["SET", "big", &value], OK);
    let mut pipeline = Vec::new();
    for _ in 0..32 {
        pipeline.extend(encode(&["GET", "big"]));
    }
    stuck.send(&pipeline);
    sleep(Duration::from_millis(200));
    assert_eq!(http_get(http, "/health").status, 200);

    assert!(server.terminate(Duration::ZERO).is_none(), "server exited at once");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = None;
    while Instant::now() < deadline {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", http)) else { break };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut raw = Vec::new();
        if stream.write_all(b"GET /health HTTP/1.1\r\n\r\n").is_ok() && stream.read_to_end(&mut raw).is_ok() {
            let response = parse_response(&raw);
            if response.status == 503 {
                seen = Some(response);
                break;
            }
        }
        sleep(Duration::from_millis(10));
    }
    let response = seen.expect("/health never answered 503 during shutdown");
    assert_eq!(json_field(&response.body, "status"), "\"shutting_down\"");
    // Not terminate(): a second SIGTERM would cut the drain short (status 1).
    let status = server.wait_exit(Duration::from_secs(10)).expect("server did not exit");
    assert!(status.success(), "exit status {status}");
    assert!(!port_accepts(http), "HTTP port still open after exit");
}

#[test]
fn health_port_in_use_stops_startup() {
    if redistill_only() {
        return;
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let http = taken.local_addr().expect("addr").port();
    let dir = TempDir::new("http-conflict");
    let config = dir.write("redistill.toml", &format!("[server]\nhealth_check_port = {http}\n"));
    let port = free_port().to_string();
    let config = config.to_string_lossy().into_owned();
    let out =
        run_redistill(&["--config", &config, "--port", &port, "--bind", "127.0.0.1"], &[], Duration::from_secs(10));
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("health_check_port") || out.stdout.contains("health_check_port"), "{out:?}");
}
