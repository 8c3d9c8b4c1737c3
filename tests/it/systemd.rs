//! The systemd readiness protocol: the real binary, started with a fake
//! `$NOTIFY_SOCKET`, must send READY=1 once it accepts connections and
//! STOPPING=1 when SIGTERM starts the shutdown.

use crate::common::*;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The spawned server; killed on drop if a test fails halfway.
struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_with_notify_socket(dir: &TempDir, notify_socket: &str, port: u16) -> Spawned {
    let config = dir.write("redistill.toml", "");
    let child = Command::new(redistill_bin())
        .arg("--config")
        .arg(&config)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--threads", "1"])
        .env("NOTIFY_SOCKET", notify_socket)
        .env_remove("REDIS_PORT")
        .env_remove("REDISTILL_CONFIG")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redistill");
    Spawned(child)
}

/// The next datagram, as text.
fn receive(socket: &UnixDatagram, what: &str) -> String {
    socket.set_read_timeout(Some(Duration::from_secs(10))).expect("read timeout");
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).unwrap_or_else(|e| panic!("no {what} notification: {e}"));
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn wait_for_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "server did not exit within {timeout:?} of SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// READY=1 after the listener is up, STOPPING=1 on SIGTERM, clean exit.
fn ready_then_stopping(socket: &UnixDatagram, notify_socket: &str) {
    let dir = TempDir::new("systemd");
    let port = free_port();
    let mut server = spawn_with_notify_socket(&dir, notify_socket, port);

    let ready = receive(socket, "READY=1");
    let lines: Vec<&str> = ready.lines().collect();
    assert!(lines.contains(&"READY=1"), "{ready:?}");
    assert!(lines.iter().any(|l| l.starts_with("STATUS=")), "{ready:?}");
    // Ready means ready: the port answers without any retrying.
    let mut c = RawClient::connect(port);
    c.expect_cmd(&["PING"], PONG);

    let pid = libc::pid_t::try_from(server.0.id()).expect("pid");
    // SAFETY: kill has no memory-safety preconditions; pid is our child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0, "kill failed");
    let stopping = receive(socket, "STOPPING=1");
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
    let status = wait_for_exit(&mut server.0, Duration::from_secs(10));
    assert!(status.success(), "exit status {status}");
}

#[test]
fn notifies_a_socket_path() {
    if redistill_only() {
        return;
    }
    let dir = TempDir::new("notify");
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind notify socket");
    ready_then_stopping(&socket, &path.to_string_lossy());
}

#[cfg(target_os = "linux")]
#[test]
fn notifies_an_abstract_socket() {
    use std::os::linux::net::SocketAddrExt;
    if redistill_only() {
        return;
    }
    let name = format!("redistill-test-notify-{}-{}", std::process::id(), free_port());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract name");
    let socket = UnixDatagram::bind_addr(&addr).expect("bind abstract notify socket");
    ready_then_stopping(&socket, &format!("@{name}"));
}

#[test]
fn unreachable_notify_socket_does_not_stop_the_server() {
    if redistill_only() {
        return;
    }
    let dir = TempDir::new("notify-missing");
    let port = free_port();
    let missing = dir.path().join("nobody-listens.sock");
    let mut server = spawn_with_notify_socket(&dir, &missing.to_string_lossy(), port);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !port_accepts(port) {
        assert!(server.0.try_wait().expect("try_wait").is_none(), "server exited");
        assert!(Instant::now() < deadline, "server never listened");
        std::thread::sleep(Duration::from_millis(10));
    }
    RawClient::connect(port).expect_cmd(&["PING"], PONG);
}
