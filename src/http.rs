//! The HTTP endpoint for orchestrators and monitoring: `GET /health` for
//! liveness/readiness probes and `GET /metrics` for Prometheus.
//!
//! It listens on `server.health_check_port` (same `bind` address as the
//! Redis port) and runs on a thread of its own, so a scrape or a probe
//! never takes time from a worker, and a busy or stuck worker does not stop
//! the probe from answering.
//!
//! The endpoint faces whatever can reach the port, so it is built to be
//! cheap to attack: one mio poll loop serves every client without
//! blocking; a request may be at most [`MAX_REQUEST`] bytes of request
//! line and headers (bodies are never read); a client gets
//! [`READ_TIMEOUT`] to send it and [`WRITE_TIMEOUT`] to take the reply;
//! and at most [`MAX_CONNECTIONS`] clients are served at once. Every
//! response closes the connection, which keeps the state machine to three
//! phases and costs a probe nothing worth measuring.
//!
//! Metric names follow the Prometheus redis_exporter, so its dashboards
//! and alerts work unchanged; the per-command latency histogram, which
//! Redis has no equivalent of, is `redistill_command_duration_seconds`.

use std::fmt::{Display, Write as _};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use crate::metrics::{latency_bound_seconds, CpuUsage, LATENCY_BOUNDS};
use crate::server::Server;

/// Largest request line plus headers accepted; longer requests get 431.
pub const MAX_REQUEST: usize = 8 * 1024;
/// Time a client has, from connecting, to send its whole request.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a client has to read the response.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// After the response, how long we wait for the client to close first.
/// Closing a socket with unread input resets the connection, which can
/// destroy the response before the client reads it; so we half-close,
/// discard whatever else the client sends, and close on its EOF.
const LINGER: Duration = Duration::from_secs(1);
/// Clients served at once; connections beyond are closed on accept.
pub const MAX_CONNECTIONS: usize = 512;
/// How often the loop wakes to enforce deadlines when idle.
const TICK: Duration = Duration::from_millis(100);

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX);

/// The running HTTP thread.
pub struct HttpServer {
    thread: JoinHandle<()>,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    addr: SocketAddr,
}

impl HttpServer {
    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop serving and wait for the thread. Called after the workers have
    /// drained, so `/health` answers 503 for the whole shutdown.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
        let _ = self.thread.join();
    }
}

/// Bind `server.health_check_port` and start the HTTP thread; `None` when
/// the port is 0 (disabled).
pub fn start(server: &Arc<Server>) -> io::Result<Option<HttpServer>> {
    let Some(addr) = server.config.server.health_check_addr() else { return Ok(None) };
    let mut listener = crate::net::listener::bind(addr, server.config.server.tcp_backlog)?;
    let addr = listener.local_addr()?;
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    let stop = Arc::new(AtomicBool::new(false));
    let endpoint = Endpoint {
        poll,
        listener,
        server: Arc::clone(server),
        stop: Arc::clone(&stop),
        clients: Slab::new(),
        last_sweep: Instant::now(),
    };
    let thread = std::thread::Builder::new().name("http".into()).spawn(move || endpoint.run())?;
    Ok(Some(HttpServer { thread, stop, waker, addr }))
}

struct Endpoint {
    poll: Poll,
    listener: TcpListener,
    server: Arc<Server>,
    stop: Arc<AtomicBool>,
    clients: Slab<Client>,
    last_sweep: Instant,
}

impl Endpoint {
    fn run(mut self) {
        let mut events = Events::with_capacity(256);
        while !self.stop.load(Ordering::Acquire) {
            if let Err(e) = self.poll.poll(&mut events, Some(TICK)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                crate::log_error!("http: poll failed: {e}");
                break;
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    WAKER => {}
                    Token(key) => self.drive(key),
                }
            }
            if self.last_sweep.elapsed() >= TICK {
                self.expire();
            }
        }
    }

    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, addr)) => self.admit(stream, addr),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: the listener stays registered, and
                    // the next connection attempt raises a new event.
                    crate::log_warn!("http: accept failed: {e}");
                    return;
                }
            }
        }
    }

    fn admit(&mut self, mut stream: TcpStream, addr: SocketAddr) {
        if self.clients.len() >= MAX_CONNECTIONS {
            crate::log_debug!("http: refusing {addr}: {MAX_CONNECTIONS} clients already connected");
            return;
        }
        let entry = self.clients.vacant_entry();
        let key = entry.key();
        if let Err(e) = self.poll.registry().register(&mut stream, Token(key), Interest::READABLE | Interest::WRITABLE)
        {
            crate::log_warn!("http: cannot register {addr}: {e}");
            return;
        }
        entry.insert(Client::new(stream, Instant::now()));
        // The request may have arrived before registration.
        self.drive(key);
    }

    fn drive(&mut self, key: usize) {
        let Some(client) = self.clients.get_mut(key) else { return };
        if !client.advance(&self.server) {
            self.close(key);
        }
    }

    fn close(&mut self, key: usize) {
        if self.clients.contains(key) {
            let mut client = self.clients.remove(key);
            let _ = self.poll.registry().deregister(&mut client.stream);
        }
    }

    /// Close every client past its deadline. A client still sending its
    /// request gets a best-effort 408 first.
    fn expire(&mut self) {
        let now = Instant::now();
        self.last_sweep = now;
        let expired: Vec<usize> =
            self.clients.iter().filter(|(_, client)| client.deadline <= now).map(|(key, _)| key).collect();
        for key in expired {
            if let Some(client) = self.clients.get_mut(key) {
                if client.phase == Phase::Reading && !client.input.is_empty() {
                    let response = Response::text(408, "request timeout\n").encode(false);
                    let _ = client.stream.write(&response);
                }
            }
            self.close(key);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the request line and headers.
    Reading,
    /// Sending the response.
    Writing,
    /// Response sent and our side shut down; waiting for the client's EOF.
    Draining,
}

struct Client {
    stream: TcpStream,
    input: Vec<u8>,
    output: Vec<u8>,
    written: usize,
    phase: Phase,
    deadline: Instant,
}

impl Client {
    fn new(stream: TcpStream, now: Instant) -> Self {
        Self {
            stream,
            input: Vec::new(),
            output: Vec::new(),
            written: 0,
            phase: Phase::Reading,
            deadline: now + READ_TIMEOUT,
        }
    }

    /// Make all the progress the socket allows; false once the connection
    /// should be closed.
    fn advance(&mut self, server: &Server) -> bool {
        loop {
            let progressed = match self.phase {
                Phase::Reading => self.read_request(server),
                Phase::Writing => self.write_response(),
                Phase::Draining => self.drain(),
            };
            match progressed {
                Progress::Next => continue,
                Progress::Wait => return true,
                Progress::Close => return false,
            }
        }
    }

    fn read_request(&mut self, server: &Server) -> Progress {
        let mut chunk = [0u8; 2048];
        loop {
            if let Some(end) = header_end(&self.input) {
                let response = respond(&self.input[..end], server);
                return self.start_response(response);
            }
            if self.input.len() >= MAX_REQUEST {
                return self.start_response((Response::text(431, "request header fields too large\n"), false));
            }
            let room = (MAX_REQUEST - self.input.len()).min(chunk.len());
            match self.stream.read(&mut chunk[..room]) {
                Ok(0) => return Progress::Close,
                Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Progress::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Progress::Close,
            }
        }
    }

    fn start_response(&mut self, response: (Response, bool)) -> Progress {
        let (response, head_only) = response;
        self.output = response.encode(head_only);
        self.written = 0;
        self.input = Vec::new();
        self.phase = Phase::Writing;
        self.deadline = Instant::now() + WRITE_TIMEOUT;
        Progress::Next
    }

    fn write_response(&mut self) -> Progress {
        while self.written < self.output.len() {
            match self.stream.write(&self.output[self.written..]) {
                Ok(0) => return Progress::Close,
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Progress::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Progress::Close,
            }
        }
        self.output = Vec::new();
        if self.stream.shutdown(Shutdown::Write).is_err() {
            return Progress::Close;
        }
        self.phase = Phase::Draining;
        self.deadline = Instant::now() + LINGER;
        Progress::Next
    }

    fn drain(&mut self) -> Progress {
        let mut sink = [0u8; 2048];
        loop {
            match self.stream.read(&mut sink) {
                Ok(0) => return Progress::Close,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Progress::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Progress::Close,
            }
        }
    }
}

enum Progress {
    /// The phase changed; run the next one.
    Next,
    /// Wait for the next readiness event (or the deadline).
    Wait,
    /// Close the connection.
    Close,
}

/// Length of the request head including the blank line that ends it.
/// Bare `\n` line ends are accepted too, as HTTP allows servers to.
fn header_end(input: &[u8]) -> Option<usize> {
    let crlf = input.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = input.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Method {
    Get,
    Head,
    Other,
}

/// The parts of a request that matter here.
#[derive(Debug, PartialEq, Eq)]
struct Request<'a> {
    method: Method,
    /// The path, without any query string.
    path: &'a str,
}

/// Parse the request line; `None` if it is not `METHOD target HTTP/x.y`.
fn parse_request(head: &[u8]) -> Option<Request<'_>> {
    let line_end = head.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&head[..line_end]).ok()?.trim_end_matches('\r');
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return None;
    }
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        m if !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()) => Method::Other,
        _ => return None,
    };
    let path = target.split(['?', '#']).next().unwrap_or(target);
    Some(Request { method, path })
}

/// A response about to be encoded.
struct Response {
    status: u16,
    content_type: &'static str,
    /// Extra header lines, each ending in CRLF.
    headers: &'static str,
    body: String,
}

impl Response {
    fn text(status: u16, body: &str) -> Self {
        Self { status, content_type: "text/plain; charset=utf-8", headers: "", body: body.to_string() }
    }

    fn encode(&self, head_only: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
             Connection: close\r\n{}\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len(),
            self.headers
        )
        .into_bytes();
        if !head_only {
            out.extend_from_slice(self.body.as_bytes());
        }
        out
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// The response to a complete request head, and whether to leave out the
/// body (HEAD).
fn respond(head: &[u8], server: &Server) -> (Response, bool) {
    let Some(request) = parse_request(head) else {
        return (Response::text(400, "bad request\n"), false);
    };
    let head_only = request.method == Method::Head;
    if request.method == Method::Other {
        let mut response = Response::text(405, "method not allowed\n");
        response.headers = "Allow: GET, HEAD\r\n";
        return (response, false);
    }
    let response = match request.path {
        "/health" => health(server),
        "/metrics" => Response {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            headers: "",
            body: metrics(server),
        },
        _ => Response::text(404, "not found\n"),
    };
    (response, head_only)
}

/// `/health`: 200 and a JSON summary while serving, 503 once shutdown has
/// begun, so a load balancer stops sending clients before the port closes.
fn health(server: &Server) -> Response {
    let shutting_down = server.is_shutting_down();
    let keys: usize = server.store.iter().map(|db| db.len()).sum();
    let body = format!(
        "{{\"status\":\"{}\",\"uptime_seconds\":{},\"connected_clients\":{},\"used_memory\":{},\"maxmemory\":{},\
         \"keys\":{keys},\"version\":\"{}\"}}\n",
        if shutting_down { "shutting_down" } else { "ok" },
        server.started.elapsed().as_secs(),
        server.connected_clients(),
        crate::memory::refresh(),
        server.live.max_memory(),
        crate::cli::VERSION,
    );
    Response { status: if shutting_down { 503 } else { 200 }, content_type: "application/json", headers: "", body }
}

/// Builder for the Prometheus text exposition format, version 0.0.4.
struct Exposition {
    out: String,
}

impl Exposition {
    /// Start a metric family: its HELP and TYPE lines.
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = write!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, text)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{label}=\"");
                escape_label(&mut self.out, text);
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// A family with one unlabelled sample.
    fn single(&mut self, name: &str, kind: &str, help: &str, value: impl Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// Label values escape backslash, double quote and newline.
fn escape_label(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// `/metrics`: everything INFO's counters say, in Prometheus form.
fn metrics(server: &Server) -> String {
    let stats = server.metrics.snapshot();
    let cpu = CpuUsage::now();
    let mut e = Exposition { out: String::with_capacity(16 * 1024) };
    e.single("redis_up", "gauge", "Whether the server is up.", 1);
    e.single(
        "redis_uptime_in_seconds",
        "gauge",
        "Seconds since the server started.",
        server.started.elapsed().as_secs(),
    );
    e.single("redis_connected_clients", "gauge", "Client connections open now.", server.connected_clients());
    e.single("redis_memory_used_bytes", "gauge", "Bytes allocated by the server.", crate::memory::refresh());
    e.single(
        "redis_memory_used_rss_bytes",
        "gauge",
        "Resident set size of the process in bytes.",
        crate::commands::info::resident_set_bytes(),
    );
    e.single("redis_memory_max_bytes", "gauge", "Memory limit in bytes (0 = unlimited).", server.live.max_memory());
    e.single("redis_connections_received_total", "counter", "Client connections accepted.", stats.connections_received);
    e.single(
        "redis_rejected_connections_total",
        "counter",
        "Client connections refused because max_connections was reached.",
        server.rejected_connections(),
    );
    e.single("redis_commands_processed_total", "counter", "Commands received.", stats.commands_processed);
    e.single("redis_net_input_bytes_total", "counter", "Bytes read from clients.", stats.net_input_bytes);
    e.single("redis_net_output_bytes_total", "counter", "Bytes written to clients.", stats.net_output_bytes);
    e.single(
        "redis_expired_keys_total",
        "counter",
        "Keys removed because their TTL passed.",
        server.store.expired_total(),
    );
    e.single(
        "redis_evicted_keys_total",
        "counter",
        "Keys evicted to stay under the memory limit.",
        crate::metrics::evicted_keys(&server.store),
    );
    e.single("redis_keyspace_hits_total", "counter", "Key lookups that found the key.", stats.keyspace_hits);
    e.single("redis_keyspace_misses_total", "counter", "Key lookups that did not find the key.", stats.keyspace_misses);
    e.single("redis_cpu_sys_seconds_total", "counter", "System CPU time used by the server.", cpu.sys.as_secs_f64());
    e.single("redis_cpu_user_seconds_total", "counter", "User CPU time used by the server.", cpu.user.as_secs_f64());

    e.family("redis_db_keys", "gauge", "Keys per database.");
    for (index, db) in server.store.iter().enumerate() {
        e.sample("redis_db_keys", &[("db", &format!("db{index}"))], db.len());
    }
    e.family("redis_db_keys_expiring", "gauge", "Keys with a TTL per database.");
    for (index, db) in server.store.iter().enumerate() {
        e.sample("redis_db_keys_expiring", &[("db", &format!("db{index}"))], db.expires());
    }

    e.family("redis_errors_total", "counter", "Error replies per error code.");
    for (code, count) in server.metrics.error_totals() {
        e.sample("redis_errors_total", &[("err", &code)], count);
    }

    command_metrics(server, &mut e);
    e.out
}

/// The per-command families: redis_exporter's counters, and the latency
/// histogram with cumulative buckets at 1 µs · 2^k.
fn command_metrics(server: &Server, e: &mut Exposition) {
    let used: Vec<_> =
        crate::commands::all().zip(server.metrics.command_totals()).filter(|(_, totals)| totals.is_used()).collect();
    e.family("redis_commands_total", "counter", "Calls per command.");
    for (command, t) in &used {
        e.sample("redis_commands_total", &[("cmd", command.name)], t.calls);
    }
    e.family("redis_commands_duration_seconds_total", "counter", "Seconds spent per command.");
    for (command, t) in &used {
        e.sample("redis_commands_duration_seconds_total", &[("cmd", command.name)], t.seconds());
    }
    e.family("redis_commands_failed_calls_total", "counter", "Calls per command that replied with an error.");
    for (command, t) in &used {
        e.sample("redis_commands_failed_calls_total", &[("cmd", command.name)], t.failed);
    }
    e.family(
        "redis_commands_rejected_calls_total",
        "counter",
        "Calls per command refused before running (arity, authentication).",
    );
    for (command, t) in &used {
        e.sample("redis_commands_rejected_calls_total", &[("cmd", command.name)], t.rejected);
    }
    let name = "redistill_command_duration_seconds";
    e.family(name, "histogram", "Time spent executing each command.");
    let bucket = format!("{name}_bucket");
    for (command, t) in &used {
        let mut cumulative = 0;
        for k in 0..LATENCY_BOUNDS {
            cumulative += t.latency[k];
            let le = latency_bound_seconds(k).to_string();
            e.sample(&bucket, &[("cmd", command.name), ("le", &le)], cumulative);
        }
        e.sample(&bucket, &[("cmd", command.name), ("le", "+Inf")], t.calls);
        e.sample(&format!("{name}_sum"), &[("cmd", command.name)], t.seconds());
        e.sample(&format!("{name}_count"), &[("cmd", command.name)], t.calls);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn server() -> Server {
        let mut config = Config::default();
        config.server.databases = 2;
        config.server.num_shards = 4;
        config.server.threads = 1;
        Server::new(config)
    }

    fn status_of(response: &[u8]) -> &str {
        std::str::from_utf8(&response[9..12]).unwrap_or("")
    }

    #[test]
    fn request_lines() {
        let get = parse_request(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(get, Some(Request { method: Method::Get, path: "/health" }));
        let query = parse_request(b"GET /metrics?x=1 HTTP/1.0\n\n");
        assert_eq!(query, Some(Request { method: Method::Get, path: "/metrics" }));
        assert_eq!(parse_request(b"HEAD / HTTP/1.1\r\n\r\n").map(|r| r.method), Some(Method::Head));
        assert_eq!(parse_request(b"POST /health HTTP/1.1\r\n\r\n").map(|r| r.method), Some(Method::Other));
        for bad in [
            &b"GET /health\r\n\r\n"[..],
            b"GET  /health HTTP/1.1\r\n\r\n",
            b"GET health HTTP/1.1\r\n\r\n",
            b"get /health HTTP/1.1\r\n\r\n",
            b"GET /health HTTP/2\r\n\r\n",
            b"\r\n\r\n",
            b"GET /\xff HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(parse_request(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn header_end_accepts_crlf_and_lf() {
        assert_eq!(header_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some(18));
        assert_eq!(header_end(b"GET / HTTP/1.1\n\nbody"), Some(16));
        assert_eq!(header_end(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
    }

    #[test]
    fn routes() {
        let s = server();
        let answer = |req: &[u8]| {
            let (response, head_only) = respond(req, &s);
            response.encode(head_only)
        };
        assert_eq!(status_of(&answer(b"GET /health HTTP/1.1\r\n\r\n")), "200");
        assert_eq!(status_of(&answer(b"GET /metrics HTTP/1.1\r\n\r\n")), "200");
        assert_eq!(status_of(&answer(b"GET /nope HTTP/1.1\r\n\r\n")), "404");
        assert_eq!(status_of(&answer(b"DELETE /health HTTP/1.1\r\n\r\n")), "405");
        assert_eq!(status_of(&answer(b"nonsense\r\n\r\n")), "400");
        let head = answer(b"HEAD /health HTTP/1.1\r\n\r\n");
        assert!(head.ends_with(b"\r\n\r\n"), "HEAD has no body");
        assert!(String::from_utf8_lossy(&head).contains("Content-Length: "));
        s.begin_shutdown();
        let down = answer(b"GET /health HTTP/1.1\r\n\r\n");
        assert_eq!(status_of(&down), "503");
        assert!(String::from_utf8_lossy(&down).contains("\"status\":\"shutting_down\""));
    }

    #[test]
    fn metrics_families_have_help_and_type() {
        let s = server();
        s.metrics.worker(0).record_command(0, 3_000, false);
        s.metrics.worker(0).count_error("WRONGPASS nope");
        let text = metrics(&s);
        let mut typed = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                typed.push(rest.split(' ').next().unwrap_or_default().to_string());
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix).filter(|base| typed.iter().any(|t| t == base)))
                .unwrap_or(name);
            assert_eq!(typed.last().map(String::as_str), Some(family), "sample outside its family: {line}");
            let value = line.rsplit(' ').next().unwrap_or_default();
            assert!(value.parse::<f64>().is_ok(), "bad value in {line}");
        }
        let first = crate::commands::all().next().map(|c| c.name).unwrap_or_default();
        assert!(text.contains(&format!("redis_commands_total{{cmd=\"{first}\"}} 1\n")), "{text}");
        let bucket = format!("redistill_command_duration_seconds_bucket{{cmd=\"{first}\",le=\"0.000004\"}} 1\n");
        assert!(text.contains(&bucket), "{text}");
        assert!(text.contains("redis_errors_total{err=\"WRONGPASS\"} 1\n"));
        assert!(text.contains("redis_db_keys{db=\"db1\"} 0\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        escape_label(&mut out, "a\"b\\c\nd");
        assert_eq!(out, "a\\\"b\\\\c\\nd");
    }
}
