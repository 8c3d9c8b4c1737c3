//! Shared harness for the integration tests.
//!
//! * [`TestServer`] starts a private server (Redistill, or a real
//!   `redis-server` in differential mode) on a free port and kills it on drop.
//! * [`RawClient`] talks RESP over a plain socket and returns every reply as
//!   its exact bytes, so tests can assert on reply types and error texts.
//!
//! Differential mode: set `REDISTILL_TEST_REDIS_SERVER=/usr/bin/redis-server`
//! and the very same tests run against real Redis, which is the reference for
//! every expectation in the command tests. Tests about Redistill's own config
//! file and CLI call [`redistill_only`] and skip themselves in that mode.

#![allow(dead_code)]

pub mod cluster;
pub mod rng;

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Env var naming a redis-server binary; when set, tests run against it.
pub const REDIS_SERVER_ENV: &str = "REDISTILL_TEST_REDIS_SERVER";

/// How long a server gets to start answering PING.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Default read timeout of a [`RawClient`].
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Env vars the server reads; scrubbed from the child so the test runner's own
/// environment can't leak into a test.
const SERVER_ENV_VARS: &[&str] = &[
    "REDIS_PORT",
    "REDIS_PASSWORD",
    "REDIS_MAX_MEMORY",
    "REDIS_BIND",
    "REDISTILL_CONFIG",
    "REDISTILL_THREADS",
    "REDISTILL_CLUSTER_ENABLED",
    "REDISTILL_CLUSTER_NODE_ID",
    "REDISTILL_CLUSTER_ANNOUNCE_IP",
    "REDISTILL_CLUSTER_ANNOUNCE_PORT",
];

// ---------------------------------------------------------------------------
// Mode selection
// ---------------------------------------------------------------------------

/// Path of the reference redis-server when running in differential mode.
pub fn reference_redis() -> Option<PathBuf> {
    std::env::var_os(REDIS_SERVER_ENV).filter(|v| !v.is_empty()).map(PathBuf::from)
}

pub fn differential_mode() -> bool {
    reference_redis().is_some()
}

/// True (after printing a note) when the calling test is Redistill-specific
/// and must be skipped because we are running against real Redis.
pub fn redistill_only() -> bool {
    if differential_mode() {
        eprintln!("note: Redistill-only test skipped in differential mode ({REDIS_SERVER_ENV} is set)");
        true
    } else {
        false
    }
}

/// Path of the Redistill binary cargo built for these tests.
pub fn redistill_bin() -> &'static str {
    env!("CARGO_BIN_EXE_redistill")
}

// ---------------------------------------------------------------------------
// Temp dirs and ports
// ---------------------------------------------------------------------------

/// A scratch directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "redistill-test-{tag}-{}-{}-{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.0.join(name);
        fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A port that was free a moment ago (bind :0, read it, close).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

// ---------------------------------------------------------------------------
// Server processes
// ---------------------------------------------------------------------------

/// How to launch a server. `Launch::default()` is what `TestServer::start` uses.
#[derive(Clone, Debug)]
pub struct Launch {
    /// Config file contents (Redistill only; ignored by real Redis).
    pub toml: String,
    /// Require this password (Redistill: `[security] password`, Redis: `--requirepass`).
    pub password: Option<String>,
    /// Extra environment for the child (the server's own env vars are scrubbed first).
    pub env: Vec<(String, String)>,
    /// Pass `--port <port>` on the command line.
    pub port_flag: bool,
    /// Port the server is expected to answer on; a free one is picked when None.
    pub port: Option<u16>,
    /// Extra command-line arguments for a real redis-server (differential
    /// mode), e.g. to start it as a cluster node.
    pub redis_args: Vec<String>,
}

impl Default for Launch {
    fn default() -> Self {
        Launch {
            toml: String::new(),
            password: None,
            env: Vec::new(),
            port_flag: true,
            port: None,
            redis_args: Vec::new(),
        }
    }
}

/// A running server owned by one test; killed (SIGKILL) on drop.
pub struct TestServer {
    child: Child,
    /// `sh` process that SIGKILLs the server if this test process dies without
    /// running destructors (its stdin pipe then hits EOF).
    watchdog: Option<(Child, ChildStdin)>,
    port: u16,
    password: Option<String>,
    dir: TempDir,
    is_redis: bool,
}

impl TestServer {
    /// Redistill with an empty config (or real Redis in differential mode).
    pub fn start() -> TestServer {
        Self::launch(Launch::default())
    }

    /// Redistill with the given config file contents.
    pub fn start_with(toml: &str) -> TestServer {
        Self::launch(Launch { toml: toml.to_string(), ..Launch::default() })
    }

    /// A server that requires `password` for the default user.
    pub fn start_with_password(password: &str) -> TestServer {
        Self::launch(Launch { password: Some(password.to_string()), ..Launch::default() })
    }

    pub fn launch(launch: Launch) -> TestServer {
        // A picked port can be taken by someone else between our probe and the
        // server's bind; retry a few times with fresh ports in that case.
        let attempts = if launch.port.is_some() { 1 } else { 3 };
        let mut last_err = String::new();
        for _ in 0..attempts {
            match Self::try_launch(&launch) {
                Ok(s) => return s,
                Err(e) => last_err = e,
            }
        }
        panic!("server failed to start: {last_err}");
    }

    fn try_launch(launch: &Launch) -> Result<TestServer, String> {
        let port = launch.port.unwrap_or_else(free_port);
        let dir = TempDir::new("srv");
        let redis = reference_redis();
        let mut cmd = match &redis {
            Some(bin) => {
                let mut c = Command::new(bin);
                c.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
                c.args(["--daemonize", "no", "--dir"]).arg(dir.path());
                if let Some(pw) = &launch.password {
                    c.args(["--requirepass", pw]);
                }
                c.args(&launch.redis_args);
                c
            }
            None => {
                let mut toml = launch.toml.clone();
                if let Some(pw) = &launch.password {
                    toml.push_str(&format!("\n[security]\npassword = \"{pw}\"\n"));
                }
                let config = dir.write("redistill.toml", &toml);
                let mut c = Command::new(redistill_bin());
                c.arg("--config").arg(&config);
                if launch.port_flag {
                    c.args(["--port", &port.to_string()]);
                }
                c.args(["--bind", "127.0.0.1", "--threads", "2"]);
                c
            }
        };
        for var in SERVER_ENV_VARS {
            cmd.env_remove(var);
        }
        for (k, v) in &launch.env {
            cmd.env(k, v);
        }
        let stdout = fs::File::create(dir.path().join("stdout.log")).map_err(|e| e.to_string())?;
        let stderr = fs::File::create(dir.path().join("stderr.log")).map_err(|e| e.to_string())?;
        cmd.current_dir(dir.path()).stdin(Stdio::null()).stdout(Stdio::from(stdout)).stderr(Stdio::from(stderr));
        let child = cmd.spawn().map_err(|e| format!("spawn {cmd:?}: {e}"))?;
        let watchdog = spawn_watchdog(child.id());
        let mut server =
            TestServer { child, watchdog, port, password: launch.password.clone(), dir, is_redis: redis.is_some() };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "server exited early with {status}; stderr:\n{}\nstdout:\n{}",
                    self.stderr_so_far(),
                    self.stdout_so_far()
                ));
            }
            if let Some(reply) = ping_once(self.port) {
                if reply.starts_with(b"+PONG") || reply.starts_with(b"-NOAUTH") {
                    return Ok(());
                }
                return Err(format!(
                    "server on port {} answered PING with {}; stderr:\n{}",
                    self.port,
                    show(&reply),
                    self.stderr_so_far()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "server did not answer PING on port {} within {STARTUP_TIMEOUT:?}; stderr:\n{}",
                    self.port,
                    self.stderr_so_far()
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// True when this is a real redis-server (differential mode).
    pub fn is_redis(&self) -> bool {
        self.is_redis
    }

    pub fn stderr_so_far(&self) -> String {
        fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    pub fn stdout_so_far(&self) -> String {
        fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    /// Panics (with the server's stderr) if the server process has exited.
    pub fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("server exited with {status}; stderr:\n{}", self.stderr_so_far());
        }
    }

    /// The Redistill config file the server was started with (rewrite it,
    /// then send SIGHUP, to test a reload).
    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("redistill.toml")
    }

    /// Send the signal `name` (`HUP`, `TERM`...) to the server.
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args([&format!("-{name}"), &pid]).status().map(|s| s.success());
        assert_eq!(sent.ok(), Some(true), "could not send SIG{name} to {pid}");
    }

    /// Send SIGTERM and wait up to `timeout` for the process to exit.
    /// Returns its exit status, or None if it is still running.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().map(|s| s.success()).unwrap_or(false);
        assert!(sent, "could not send SIGTERM to {pid}");
        self.wait_exit(timeout)
    }

    /// Wait up to `timeout` for the process to exit on its own (after
    /// `terminate(Duration::ZERO)` or SHUTDOWN), without signalling it again:
    /// a second SIGTERM during shutdown makes the server exit at once.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn url(&self, query: &str) -> String {
        match &self.password {
            Some(pw) => format!("redis://:{pw}@127.0.0.1:{}/{query}", self.port),
            None => format!("redis://127.0.0.1:{}/{query}", self.port),
        }
    }

    /// A redis-rs connection speaking RESP2 (authenticated if a password is set).
    pub fn client(&self) -> redis::Connection {
        self.connect_url(&self.url(""))
    }

    /// A redis-rs connection speaking RESP3 (sends HELLO 3 on connect).
    pub fn client_resp3(&self) -> redis::Connection {
        self.connect_url(&self.url("?protocol=resp3"))
    }

    fn connect_url(&self, url: &str) -> redis::Connection {
        let client = redis::Client::open(url).unwrap_or_else(|e| panic!("client for {url}: {e}"));
        let con = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect {url}: {e}; server stderr:\n{}", self.stderr_so_far()));
        con.set_read_timeout(Some(READ_TIMEOUT)).expect("set_read_timeout");
        con.set_write_timeout(Some(READ_TIMEOUT)).expect("set_write_timeout");
        con
    }

    /// A raw RESP client (not authenticated).
    pub fn raw(&self) -> RawClient {
        RawClient::connect(self.port)
    }

    /// A raw RESP client switched to RESP3 (HELLO 3 sent and checked).
    pub fn raw_resp3(&self) -> RawClient {
        let mut c = self.raw();
        c.send_cmd(&["HELLO", "3"]);
        let hello = c.read_reply_bytes();
        assert!(hello.starts_with(b"%7\r\n"), "HELLO 3 should reply with a 7-entry map, got {}", show(&hello));
        c
    }

    /// A raw client that already sent AUTH when the server has a password.
    pub fn raw_authed(&self) -> RawClient {
        let mut c = self.raw();
        if let Some(pw) = &self.password {
            c.expect_cmd(&["AUTH", pw.as_str()], "+OK\r\n");
        }
        c
    }

    /// The `redis_version` this server reports in INFO server.
    pub fn redis_version(&self) -> String {
        let mut c = self.raw_authed();
        let info = c.info("server");
        info_field(&info, "redis_version")
            .unwrap_or_else(|| panic!("no redis_version in INFO server:\n{info}"))
            .to_string()
    }

    /// True (after a note) when the server is a real Redis older than
    /// `major.minor`, so a test of a newer Redis feature must be skipped.
    pub fn reference_older_than(&self, major: u32, minor: u32) -> bool {
        if !self.is_redis {
            return false;
        }
        let v = self.redis_version();
        let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let (ma, mi) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        if (ma, mi) < (major, minor) {
            eprintln!("note: test needs Redis >= {major}.{minor}, reference is {v}; skipped");
            true
        } else {
            false
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some((mut dog, stdin)) = self.watchdog.take() {
            let _ = dog.kill();
            let _ = dog.wait();
            drop(stdin);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `sh` that waits for EOF on its stdin (our end of the pipe closes when this
/// process dies, however it dies) and then SIGKILLs the server.
fn spawn_watchdog(pid: u32) -> Option<(Child, ChildStdin)> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("read _ignored; kill -9 {pid} 2>/dev/null"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let stdin = child.stdin.take()?;
    Some((child, stdin))
}

/// One PING on a fresh connection; None if nothing (complete) came back.
fn ping_once(port: u16) -> Option<Vec<u8>> {
    let addr = ("127.0.0.1", port);
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"*1\r\n$4\r\nPING\r\n").ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    while !buf.ends_with(b"\r\n") {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Some(buf)
}

/// True if something accepts TCP connections on the port.
pub fn port_accepts(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)).is_ok()
}

/// Run the Redistill binary to completion (for CLI tests), killing it after
/// `timeout`. Returns (status or None on timeout, stdout, stderr).
pub fn run_redistill(args: &[&str], env: &[(&str, &str)], timeout: Duration) -> RunOutput {
    let dir = TempDir::new("run");
    let mut cmd = Command::new(redistill_bin());
    cmd.args(args).current_dir(dir.path());
    for var in SERVER_ENV_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out_path = dir.path().join("stdout.log");
    let err_path = dir.path().join("stderr.log");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(fs::File::create(&out_path).expect("stdout file")))
        .stderr(Stdio::from(fs::File::create(&err_path).expect("stderr file")));
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let _dog = spawn_watchdog(child.id());
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    RunOutput {
        status,
        stdout: fs::read_to_string(out_path).unwrap_or_default(),
        stderr: fs::read_to_string(err_path).unwrap_or_default(),
    }
}

#[derive(Debug)]
pub struct RunOutput {
    /// None when the process had to be killed at the timeout.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl RunOutput {
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
}

// ---------------------------------------------------------------------------
// RESP
// ---------------------------------------------------------------------------

/// Encode a command as a RESP array of bulk strings.
pub fn encode<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Printable form of protocol bytes (`\r\n` etc. escaped), for messages.
pub fn show(bytes: &[u8]) -> String {
    const MAX: usize = 2000;
    let mut s: String = bytes.iter().take(MAX).flat_map(|&b| std::ascii::escape_default(b)).map(char::from).collect();
    if bytes.len() > MAX {
        s.push_str(&format!("... ({} bytes total)", bytes.len()));
    }
    s
}

/// A parsed RESP2/RESP3 value.
#[derive(Clone, Debug, PartialEq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    /// `$-1` is `Bulk(None)`.
    Bulk(Option<Vec<u8>>),
    /// `*-1` is `Array(None)`.
    Array(Option<Vec<Resp>>),
    Null,
    Double(String),
    Bool(bool),
    BigNumber(String),
    BlobError(Vec<u8>),
    Verbatim {
        format: String,
        text: Vec<u8>,
    },
    Map(Vec<(Resp, Resp)>),
    Set(Vec<Resp>),
    Attribute(Vec<(Resp, Resp)>, Box<Resp>),
    Push(Vec<Resp>),
}

impl Resp {
    /// The bytes of a bulk/simple/verbatim string, else panic.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Resp::Bulk(Some(b)) => b,
            Resp::Simple(s) => s.as_bytes(),
            Resp::Verbatim { text, .. } => text,
            other => panic!("expected a string reply, got {other:?}"),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    pub fn int(&self) -> i64 {
        match self {
            Resp::Int(i) => *i,
            other => panic!("expected an integer reply, got {other:?}"),
        }
    }

    pub fn items(&self) -> &[Resp] {
        match self {
            Resp::Array(Some(v)) | Resp::Set(v) | Resp::Push(v) => v,
            other => panic!("expected an array reply, got {other:?}"),
        }
    }

    /// Key/value pairs of a RESP3 map or of a RESP2 flat array of pairs.
    pub fn pairs(&self) -> Vec<(String, Resp)> {
        match self {
            Resp::Map(kv) => kv.iter().map(|(k, v)| (k.text(), v.clone())).collect(),
            Resp::Array(Some(v)) => {
                assert!(v.len() % 2 == 0, "odd-length array is not a pair list: {self:?}");
                v.chunks(2).map(|p| (p[0].text(), p[1].clone())).collect()
            }
            other => panic!("expected a map reply, got {other:?}"),
        }
    }
}

/// Parse exactly one complete reply from `bytes`; returns it and the bytes used.
pub fn parse_resp(bytes: &[u8]) -> Result<(Resp, usize), String> {
    let mut src = SliceSource { data: bytes, pos: 0 };
    let mut raw = Vec::new();
    let v = read_value(&mut src, &mut raw)?;
    Ok((v, src.pos))
}

/// Where the RESP reader pulls bytes from.
trait Source {
    /// A line without its `\r\n`.
    fn line(&mut self) -> Result<Vec<u8>, String>;
    /// Exactly `n` bytes.
    fn take(&mut self, n: usize) -> Result<Vec<u8>, String>;
}

struct SliceSource<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Source for SliceSource<'_> {
    fn line(&mut self) -> Result<Vec<u8>, String> {
        let rest = &self.data[self.pos..];
        let end = find_crlf(rest).ok_or("incomplete line")?;
        self.pos += end + 2;
        Ok(rest[..end].to_vec())
    }
    fn take(&mut self, n: usize) -> Result<Vec<u8>, String> {
        if self.data.len() - self.pos < n {
            return Err("incomplete bulk".into());
        }
        let v = self.data[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(v)
    }
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

/// Read one value, appending its exact wire bytes to `raw`.
fn read_value(src: &mut dyn Source, raw: &mut Vec<u8>) -> Result<Resp, String> {
    let line = src.line()?;
    raw.extend_from_slice(&line);
    raw.extend_from_slice(b"\r\n");
    let (&kind, rest) = line.split_first().ok_or("empty line where a reply was expected")?;
    let text = String::from_utf8_lossy(rest).into_owned();
    let len = |raw_len: &str| -> Result<i64, String> {
        raw_len.parse::<i64>().map_err(|_| format!("bad length {raw_len:?} in {}", show(&line)))
    };
    let blob = |src: &mut dyn Source, raw: &mut Vec<u8>, n: i64| -> Result<Vec<u8>, String> {
        if n < 0 {
            return Err(format!("negative length in {}", show(&line)));
        }
        let mut data = src.take(n as usize + 2)?;
        raw.extend_from_slice(&data);
        if !data.ends_with(b"\r\n") {
            return Err(format!("bulk of {n} bytes not followed by CRLF: {}", show(&data)));
        }
        data.truncate(n as usize);
        Ok(data)
    };
    let many = |src: &mut dyn Source, raw: &mut Vec<u8>, n: i64| -> Result<Vec<Resp>, String> {
        (0..n).map(|_| read_value(src, raw)).collect()
    };
    Ok(match kind {
        b'+' => Resp::Simple(text),
        b'-' => Resp::Error(text),
        b':' => Resp::Int(len(&text)?),
        b'_' => Resp::Null,
        b',' => Resp::Double(text),
        b'#' => Resp::Bool(rest == b"t"),
        b'(' => Resp::BigNumber(text),
        b'$' => match len(&text)? {
            -1 => Resp::Bulk(None),
            n => Resp::Bulk(Some(blob(src, raw, n)?)),
        },
        b'!' => Resp::BlobError(blob(src, raw, len(&text)?)?),
        b'=' => {
            let data = blob(src, raw, len(&text)?)?;
            if data.len() < 4 || data[3] != b':' {
                return Err(format!("bad verbatim string {}", show(&data)));
            }
            Resp::Verbatim { format: String::from_utf8_lossy(&data[..3]).into_owned(), text: data[4..].to_vec() }
        }
        b'*' => match len(&text)? {
            -1 => Resp::Array(None),
            n => Resp::Array(Some(many(src, raw, n)?)),
        },
        b'~' => Resp::Set(many(src, raw, len(&text)?)?),
        b'>' => Resp::Push(many(src, raw, len(&text)?)?),
        b'%' | b'|' => {
            let flat = many(src, raw, 2 * len(&text)?)?;
            let pairs: Vec<(Resp, Resp)> = flat.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect();
            if kind == b'%' {
                Resp::Map(pairs)
            } else {
                // An attribute precedes the value it annotates.
                Resp::Attribute(pairs, Box::new(read_value(src, raw)?))
            }
        }
        _ => return Err(format!("unknown RESP type byte in line {}", show(&line))),
    })
}

// ---------------------------------------------------------------------------
// Raw client
// ---------------------------------------------------------------------------

/// A RESP client over a plain TcpStream that returns replies byte-exact.
pub struct RawClient {
    stream: TcpStream,
    buf: Vec<u8>,
    pos: usize,
}

/// Outcome of trying to read more bytes.
enum Fill {
    Data,
    Eof,
    Timeout,
    Failed(std::io::Error),
}

impl RawClient {
    pub fn connect(port: u16) -> RawClient {
        let stream =
            TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"));
        Self::from_stream(stream)
    }

    pub fn from_stream(stream: TcpStream) -> RawClient {
        stream.set_read_timeout(Some(READ_TIMEOUT)).expect("set_read_timeout");
        stream.set_write_timeout(Some(READ_TIMEOUT)).expect("set_write_timeout");
        stream.set_nodelay(true).expect("set_nodelay");
        RawClient { stream, buf: Vec::new(), pos: 0 }
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    pub fn set_read_timeout(&mut self, t: Duration) {
        self.stream.set_read_timeout(Some(t)).expect("set_read_timeout");
    }

    /// Write bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap_or_else(|e| panic!("write {}: {e}", show(bytes)));
        self.stream.flush().expect("flush");
    }

    /// Send a command encoded as a RESP array.
    pub fn send_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.send(&encode(args));
    }

    /// Send a command and return its reply's exact text.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> String {
        self.send_cmd(args);
        self.read_reply()
    }

    /// Send a command and return its parsed reply.
    pub fn call_resp<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Resp {
        self.send_cmd(args);
        self.read_resp()
    }

    /// Send `bytes` and assert the next reply is exactly `expected`.
    pub fn expect(&mut self, bytes: &[u8], expected: impl AsRef<[u8]>) {
        self.send(bytes);
        let got = self.read_reply_bytes();
        let expected = expected.as_ref();
        assert!(
            got == expected,
            "\n  sent:     {}\n  expected: {}\n  got:      {}\n",
            show(bytes),
            show(expected),
            show(&got)
        );
    }

    /// Send a command and assert its reply is exactly `expected`.
    pub fn expect_cmd<A: AsRef<[u8]>>(&mut self, args: &[A], expected: impl AsRef<[u8]>) {
        self.expect(&encode(args), expected);
    }

    /// Assert the next reply (of something already sent) is exactly `expected`.
    pub fn expect_reply(&mut self, expected: impl AsRef<[u8]>) {
        let got = self.read_reply_bytes();
        let expected = expected.as_ref();
        assert!(got == expected, "\n  expected: {}\n  got:      {}\n", show(expected), show(&got));
    }

    /// One complete reply, as text (lossy for binary payloads).
    pub fn read_reply(&mut self) -> String {
        String::from_utf8_lossy(&self.read_reply_bytes()).into_owned()
    }

    /// One complete reply, as its exact bytes.
    pub fn read_reply_bytes(&mut self) -> Vec<u8> {
        self.read_both().1
    }

    /// One complete reply, parsed.
    pub fn read_resp(&mut self) -> Resp {
        self.read_both().0
    }

    fn read_both(&mut self) -> (Resp, Vec<u8>) {
        let mut raw = Vec::new();
        match read_value(self, &mut raw) {
            Ok(v) => (v, raw),
            Err(e) => panic!("reading a reply: {e}; bytes of this reply so far: {}", show(&raw)),
        }
    }

    fn fill(&mut self) -> Fill {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => Fill::Eof,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Fill::Data
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Fill::Timeout,
            Err(e) if e.kind() == ErrorKind::Interrupted => Fill::Data,
            Err(e) => Fill::Failed(e),
        }
    }

    fn fill_or_err(&mut self) -> Result<(), String> {
        match self.fill() {
            Fill::Data => Ok(()),
            Fill::Eof => Err("connection closed by server".into()),
            Fill::Timeout => Err("timed out waiting for the server".into()),
            Fill::Failed(e) => Err(format!("read error: {e}")),
        }
    }

    /// Bytes received but not yet consumed by a reply.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// True when the server has closed the connection: a read returns EOF or a
    /// reset within `wait`. Unread reply bytes mean "not closed".
    pub fn is_closed_within(&mut self, wait: Duration) -> bool {
        if !self.pending().is_empty() {
            return false;
        }
        self.set_read_timeout(wait);
        let r = self.fill();
        self.set_read_timeout(READ_TIMEOUT);
        match r {
            Fill::Eof | Fill::Failed(_) => true,
            Fill::Data | Fill::Timeout => false,
        }
    }

    /// [`is_closed_within`](Self::is_closed_within) with a 2 s grace period.
    pub fn is_closed(&mut self) -> bool {
        self.is_closed_within(Duration::from_secs(2))
    }

    /// Assert that nothing arrives within `wait` and the connection stays open.
    pub fn assert_silent_and_open(&mut self, wait: Duration) {
        assert!(self.pending().is_empty(), "unexpected bytes from server: {}", show(self.pending()));
        self.set_read_timeout(wait);
        let r = self.fill();
        self.set_read_timeout(READ_TIMEOUT);
        match r {
            Fill::Timeout => {}
            Fill::Data => panic!("unexpected bytes from server: {}", show(self.pending())),
            Fill::Eof => panic!("server closed the connection"),
            Fill::Failed(e) => panic!("connection failed: {e}"),
        }
    }

    /// Body of `INFO [section]` (bulk or RESP3 verbatim string).
    pub fn info(&mut self, section: &str) -> String {
        let reply = if section.is_empty() { self.call_resp(&["INFO"]) } else { self.call_resp(&["INFO", section]) };
        match reply {
            Resp::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
            Resp::Verbatim { text, .. } => String::from_utf8_lossy(&text).into_owned(),
            other => panic!("INFO {section} returned {other:?}"),
        }
    }
}

impl Source for RawClient {
    fn line(&mut self) -> Result<Vec<u8>, String> {
        let mut searched: usize = 0;
        loop {
            let avail = &self.buf[self.pos..];
            if let Some(i) = find_crlf(&avail[searched.saturating_sub(1)..]) {
                let end = searched.saturating_sub(1) + i;
                let line = avail[..end].to_vec();
                self.pos += end + 2;
                return Ok(line);
            }
            searched = avail.len();
            self.fill_or_err().map_err(|e| format!("{e} (partial line: {})", show(self.pending())))?;
        }
    }

    fn take(&mut self, n: usize) -> Result<Vec<u8>, String> {
        while self.buf.len() - self.pos < n {
            self.fill_or_err().map_err(|e| format!("{e} (have {} of {n} bytes)", self.buf.len() - self.pos))?;
        }
        let v = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(v)
    }
}

// ---------------------------------------------------------------------------
// Small reply helpers
// ---------------------------------------------------------------------------

/// `$<len>\r\n<data>\r\n`
pub fn bulk(data: impl AsRef<[u8]>) -> Vec<u8> {
    let d = data.as_ref();
    let mut out = format!("${}\r\n", d.len()).into_bytes();
    out.extend_from_slice(d);
    out.extend_from_slice(b"\r\n");
    out
}

/// A RESP2 array of bulk strings.
pub fn bulks(items: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for i in items {
        out.extend_from_slice(&bulk(i));
    }
    out
}

/// A raw connection switched to RESP3.
pub fn resp3(s: &TestServer) -> RawClient {
    let mut c = s.raw();
    c.send_cmd(&["HELLO", "3"]);
    let hello = c.read_reply_bytes();
    assert!(hello.starts_with(b"%7\r\n"), "HELLO 3 should reply with a 7-entry map, got {}", show(&hello));
    c
}

/// `:<n>\r\n`
pub fn int(n: i64) -> String {
    format!(":{n}\r\n")
}

/// A RESP array of integers.
pub fn ints(items: &[i64]) -> String {
    let mut out = format!("*{}\r\n", items.len());
    for i in items {
        out.push_str(&int(*i));
    }
    out
}

/// Every item a full iteration of a SCAN-family command returns, with
/// duplicates: `command key` (`args`), then the cursor, then `extra`; each
/// step's reply is checked to be `[cursor, items]`.
pub fn scan_all(c: &mut RawClient, args: &[&str], extra: &[&str]) -> Vec<Resp> {
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    for _ in 0..100_000 {
        let mut step: Vec<&str> = args.to_vec();
        step.push(cursor.as_str());
        step.extend_from_slice(extra);
        let reply = c.call_resp(&step);
        let parts = reply.items();
        assert_eq!(parts.len(), 2, "{args:?} reply is [cursor, items]: {reply:?}");
        let next = parts[0].text();
        assert!(next.parse::<u64>().is_ok(), "{args:?} cursor {next:?} is not an unsigned integer");
        seen.extend(parts[1].items().iter().cloned());
        if next == "0" {
            return seen;
        }
        cursor = next;
    }
    panic!("{args:?} did not finish");
}

/// Send `args`, a random pick with a huge negative count, and check that
/// the server streams an array starting with `prefix` and cuts the client
/// off a little past its 1 MB output buffer limit instead of stalling.
pub fn expect_cut_off_at_output_limit(c: &RawClient, args: &[&str], prefix: &[u8]) {
    let mut stream = c.stream().try_clone().expect("clone stream");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.write_all(&encode(args)).expect("send");
    let mut received = Vec::new();
    let read = stream.read_to_end(&mut received);
    assert!(read.is_ok(), "the server should close the connection, not stall: {read:?}");
    assert!(received.starts_with(prefix), "an array reply starts: {}", show(&received[..40]));
    assert!(received.len() > 1 << 20, "the reply is cut after the limit, not before: {} bytes", received.len());
    assert!(received.len() < 16 << 20, "the reply stops near the 1 MB limit: {} bytes", received.len());
}

/// HSET `key` with fields `f0..f(n-1)` = `v0..v(n-1)` in one command.
pub fn hset_many(c: &mut RawClient, key: &str, n: usize) {
    let mut args = vec!["HSET".to_string(), key.to_string()];
    for i in 0..n {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
    }
    c.expect_cmd(&args, int(n as i64));
}

/// `-<text>\r\n`
pub fn err(text: &str) -> String {
    format!("-{text}\r\n")
}

pub const OK: &str = "+OK\r\n";
pub const NIL: &str = "$-1\r\n";
pub const NULL3: &str = "_\r\n";
pub const PONG: &str = "+PONG\r\n";

/// Redis's arity error for `cmd` (lower-case command name as Redis prints it).
pub fn arity_err(cmd: &str) -> String {
    format!("-ERR wrong number of arguments for '{cmd}' command\r\n")
}

pub const SYNTAX_ERR: &str = "-ERR syntax error\r\n";
pub const NOT_INT_ERR: &str = "-ERR value is not an integer or out of range\r\n";

/// Value of `field` in an INFO text (`field:value` lines).
pub fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(str::trim_end))
}

/// Integer value of `field` in an INFO text, panicking with the text if absent.
pub fn info_int(info: &str, field: &str) -> i64 {
    let v = info_field(info, field).unwrap_or_else(|| panic!("no {field} in INFO:\n{info}"));
    v.parse().unwrap_or_else(|_| panic!("{field}:{v} is not an integer"))
}

/// `cmdstat_<name>` fields of INFO commandstats, or None if not listed.
pub fn cmdstat(info: &str, name: &str) -> Option<std::collections::HashMap<String, String>> {
    let value = info_field(info, &format!("cmdstat_{name}"))?;
    Some(
        value
            .split(',')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("bad cmdstat field {pair:?} in {value}"));
                (k.to_string(), v.to_string())
            })
            .collect(),
    )
}

/// One integer field of `cmdstat_<name>`, panicking with the text if absent.
pub fn cmdstat_int(info: &str, name: &str, field: &str) -> u64 {
    let stat = cmdstat(info, name).unwrap_or_else(|| panic!("no cmdstat_{name} in:\n{info}"));
    let value = stat.get(field).unwrap_or_else(|| panic!("no {field} in cmdstat_{name}: {stat:?}"));
    value.parse().unwrap_or_else(|_| panic!("{field}={value} is not an integer"))
}

/// True when `prog --version` runs (for redis-cli / redis-benchmark tests).
pub fn have_program(prog: &str) -> bool {
    Command::new(prog)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
