//! Process lifecycle: graceful shutdown on SIGTERM and SHUTDOWN, the second
//! signal that cuts it short, `shutdown_timeout`, and SIGHUP reloads.
//!
//! These tests need the exit status and the pid of the server, so they run
//! the binary themselves instead of through `TestServer` (Redistill only).

use std::fs;
use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{bulk, encode, free_port, redistill_bin, RawClient, TempDir};

/// A Redistill process started from a config file this test can rewrite.
struct Daemon {
    child: Child,
    port: u16,
    dir: TempDir,
    config: PathBuf,
}

impl Daemon {
    fn start(toml: &str) -> Daemon {
        let mut last = String::new();
        // A probed port can be taken before the server binds it; retry then.
        for _ in 0..3 {
            match Self::try_start(toml) {
                Ok(daemon) => return daemon,
                Err(e) => last = e,
            }
        }
        panic!("server failed to start: {last}");
    }

    fn try_start(toml: &str) -> Result<Daemon, String> {
        let port = free_port();
        let dir = TempDir::new("lifecycle");
        let config = dir.write("redistill.toml", toml);
        let stderr = fs::File::create(dir.path().join("stderr.log")).map_err(|e| e.to_string())?;
        let child = Command::new(redistill_bin())
            .arg("--config")
            .arg(&config)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--threads", "2"])
            .env_remove("REDIS_PASSWORD")
            .env_remove("REDIS_MAX_MEMORY")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut daemon = Daemon { child, port, dir, config };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                return Err(format!("exited early with {status}: {}", daemon.stderr()));
            }
            if daemon.stderr().contains("ready to accept connections") && TcpStream::connect(daemon.addr()).is_ok() {
                return Ok(daemon);
            }
            thread::sleep(Duration::from_millis(10));
        }
        Err(format!("not ready within 10 s: {}", daemon.stderr()))
    }

    fn addr(&self) -> (&'static str, u16) {
        ("127.0.0.1", self.port)
    }

    fn client(&self) -> RawClient {
        RawClient::connect(self.port)
    }

    fn stderr(&self) -> String {
        fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill").arg(format!("-{name}")).arg(self.child.id().to_string()).status();
        assert!(sent.is_ok_and(|s| s.success()), "could not send SIG{name}");
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    }

    fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.stderr().contains(needle) {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that asked for far more output than the socket buffers hold and
/// never reads it, so a graceful shutdown cannot finish draining it.
fn stuck_reader(daemon: &Daemon) -> TcpStream {
    let mut setup = daemon.client();
    setup.expect_cmd(&["SET", "big", &"x".repeat(1 << 20)], "+OK\r\n");
    let mut stream = TcpStream::connect(daemon.addr()).expect("connect");
    let mut batch = Vec::new();
    for _ in 0..40 {
        batch.extend(encode(&["GET", "big"]));
    }
    stream.write_all(&batch).expect("send the batch");
    // Let the server execute the batch and fill the socket buffers.
    thread::sleep(Duration::from_millis(300));
    stream
}

#[test]
fn sigterm_answers_a_pipelined_batch_in_flight_then_exits_0() {
    let mut daemon = Daemon::start("");
    let mut client = daemon.client();
    const N: usize = 5000;
    let mut batch = Vec::new();
    for _ in 0..N {
        batch.extend(encode(&["INCR", "counter"]));
    }
    client.send(&batch);
    daemon.signal("TERM");
    for i in 1..=N {
        assert_eq!(client.read_reply(), format!(":{i}\r\n"), "reply {i}; stderr:\n{}", daemon.stderr());
    }
    assert!(client.is_closed(), "the connection is closed after the replies");
    let status = daemon.wait_exit(Duration::from_secs(10)).expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", daemon.stderr());
    let log = daemon.stderr();
    assert!(log.contains("received SIGTERM, shutting down"), "{log}");
    assert!(log.contains("bye"), "{log}");
}

#[test]
fn sigint_shuts_down_gracefully_too() {
    let mut daemon = Daemon::start("");
    let mut client = daemon.client();
    client.expect_cmd(&["PING"], "+PONG\r\n");
    daemon.signal("INT");
    let status = daemon.wait_exit(Duration::from_secs(10)).expect("exits after SIGINT");
    assert_eq!(status.code(), Some(0), "{}", daemon.stderr());
    assert!(client.is_closed());
}

#[test]
fn shutdown_nosave_exits_0_without_a_reply() {
    for args in [&["SHUTDOWN", "NOSAVE"][..], &["SHUTDOWN"], &["shutdown", "now", "force"]] {
        let mut daemon = Daemon::start("");
        let mut other = daemon.client();
        other.expect_cmd(&["SET", "k", "v"], "+OK\r\n");
        let mut client = daemon.client();
        client.send_cmd(args);
        assert!(client.is_closed(), "{args:?}: closed without a reply, got {:?}", client.pending());
        let status = daemon.wait_exit(Duration::from_secs(10)).expect("exits after SHUTDOWN");
        assert_eq!(status.code(), Some(0), "{args:?}: {}", daemon.stderr());
        assert!(other.is_closed(), "other clients are closed too");
        assert!(daemon.stderr().contains("SHUTDOWN requested"), "{}", daemon.stderr());
    }
}

#[test]
fn shutdown_save_and_abort_are_errors_and_the_server_keeps_running() {
    let mut daemon = Daemon::start("");
    let mut client = daemon.client();
    client
        .expect_cmd(&["SHUTDOWN", "SAVE"], "-ERR Redistill does not persist data; SHUTDOWN SAVE is not supported\r\n");
    client.expect_cmd(&["SHUTDOWN", "ABORT"], "-ERR No shutdown in progress.\r\n");
    client.expect_cmd(&["SHUTDOWN", "LATER"], "-ERR syntax error\r\n");
    client.expect_cmd(&["SHUTDOWN", "SAVE", "NOSAVE"], "-ERR syntax error\r\n");
    client.expect_cmd(&["PING"], "+PONG\r\n");
    assert!(daemon.wait_exit(Duration::from_millis(300)).is_none(), "still running");
    daemon.client().expect_cmd(&["PING"], "+PONG\r\n");
}

#[test]
fn second_signal_during_shutdown_exits_immediately_with_status_1() {
    let mut daemon = Daemon::start("[server]\nshutdown_timeout = 60\n");
    let _stuck = stuck_reader(&daemon);
    daemon.signal("TERM");
    assert!(daemon.wait_for_log("shutting down", Duration::from_secs(5)), "{}", daemon.stderr());
    assert!(daemon.wait_exit(Duration::from_millis(500)).is_none(), "still draining the stuck client");
    let sent = Instant::now();
    daemon.signal("INT");
    let status = daemon.wait_exit(Duration::from_secs(3)).expect("exits at once after the second signal");
    assert!(sent.elapsed() < Duration::from_secs(2), "took {:?}", sent.elapsed());
    assert_eq!(status.code(), Some(1), "{}", daemon.stderr());
    assert!(daemon.stderr().contains("received SIGINT during shutdown, exiting immediately"), "{}", daemon.stderr());
}

#[test]
fn shutdown_timeout_bounds_the_drain() {
    let mut daemon = Daemon::start("[server]\nshutdown_timeout = 1\n");
    let _stuck = stuck_reader(&daemon);
    let sent = Instant::now();
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(0), "{}", daemon.stderr());
    let took = sent.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(4), "took {took:?}");
}

#[test]
fn sighup_reloads_password_and_maxmemory() {
    let daemon = Daemon::start("[security]\npassword = \"old\"\n");
    let mut client = daemon.client();
    client.expect_cmd(&["AUTH", "old"], "+OK\r\n");
    fs::write(
        &daemon.config,
        "[security]\npassword = \"new\"\n[memory]\nmax_memory = 1048576\neviction_policy = \"allkeys-lru\"\n",
    )
    .unwrap();
    daemon.signal("HUP");
    assert!(
        daemon.wait_for_log("config reload: maxmemory 0 -> 1048576", Duration::from_secs(5)),
        "{}",
        daemon.stderr()
    );
    let log = daemon.stderr();
    assert!(log.contains("config reload: maxmemory-policy allkeys-lfu -> allkeys-lru"), "{log}");
    assert!(log.contains("config reload: password changed"), "{log}");
    assert!(!log.contains("\"new\"") && !log.contains(" new "), "the password is never logged: {log}");

    let mut fresh = daemon.client();
    fresh.expect_cmd(&["AUTH", "old"], "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    fresh.expect_cmd(&["AUTH", "new"], "+OK\r\n");
    let info = fresh.info("memory");
    assert!(info.contains("maxmemory:1048576\r\n"), "{info}");
    client.expect_cmd(&["PING"], "+PONG\r\n");

    // A file that no longer parses changes nothing.
    fs::write(&daemon.config, "[server\nbroken").unwrap();
    daemon.signal("HUP");
    assert!(daemon.wait_for_log("config reload failed", Duration::from_secs(5)), "{}", daemon.stderr());
    let mut after = daemon.client();
    after.expect_cmd(&["AUTH", "new"], "+OK\r\n");
    assert!(after.info("memory").contains("maxmemory:1048576\r\n"));
    after.expect_cmd(&["SET", "k", "v"], "+OK\r\n");
    after.expect_cmd(&["GET", "k"], bulk("v"));
}
