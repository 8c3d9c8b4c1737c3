//! systemd's readiness protocol (`sd_notify(3)`), without libsystemd.
//!
//! With `Type=notify`, systemd passes the path of a datagram socket in
//! `$NOTIFY_SOCKET` and considers the service started only when it receives
//! `READY=1` there. Sending it after the listeners are bound means units
//! ordered `After=redistill.service` start when clients can really
//! connect, not merely when the process exists. `STOPPING=1` at shutdown
//! tells systemd the exit that follows is intended.
//!
//! The protocol is one datagram of newline-separated `KEY=VALUE` lines, so
//! std's `UnixDatagram` does it; a name starting with `@` is a Linux
//! abstract socket. Outside systemd the variable is unset and every call
//! is a no-op.

use std::ffi::OsStr;
use std::io;
use std::os::unix::net::UnixDatagram;

/// The environment variable systemd sets for `Type=notify` services.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Send `state` (e.g. `"READY=1\nSTATUS=serving"`) to the service manager.
/// Returns Ok(false) when not running under one (`$NOTIFY_SOCKET` unset or
/// empty).
pub fn notify(state: &str) -> io::Result<bool> {
    match std::env::var_os(NOTIFY_SOCKET) {
        Some(socket) if !socket.is_empty() => notify_to(&socket, state).map(|()| true),
        _ => Ok(false),
    }
}

/// Tell systemd start-up is complete, with a status line for
/// `systemctl status`.
pub fn ready(status: &str) {
    send(&format!("READY=1\nSTATUS={}", one_line(status)));
}

/// Tell systemd the service is shutting down.
pub fn stopping(status: &str) {
    send(&format!("STOPPING=1\nSTATUS={}", one_line(status)));
}

/// Send, logging failures: a missing notification makes systemd time the
/// start out, which the log line then explains, but it is no reason to stop
/// serving.
fn send(state: &str) {
    if let Err(e) = notify(state) {
        crate::log_warn!("cannot notify systemd via ${NOTIFY_SOCKET}: {e}");
    }
}

/// A newline would start a new `KEY=VALUE` assignment.
fn one_line(text: &str) -> String {
    text.replace('\n', " ")
}

/// Send one datagram to the socket named by `socket`: a filesystem path, or
/// `@name` for an abstract socket.
pub fn notify_to(socket: &OsStr, state: &str) -> io::Result<()> {
    let sender = UnixDatagram::unbound()?;
    let bytes = socket.as_encoded_bytes();
    let sent = match bytes.strip_prefix(b"@") {
        Some(name) => send_abstract(&sender, name, state.as_bytes())?,
        None => sender.send_to(state.as_bytes(), socket)?,
    };
    if sent != state.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "notification datagram truncated"));
    }
    Ok(())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn send_abstract(sender: &UnixDatagram, name: &[u8], data: &[u8]) -> io::Result<usize> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    sender.send_to_addr(data, &addr)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn send_abstract(_sender: &UnixDatagram, _name: &[u8], _data: &[u8]) -> io::Result<usize> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "abstract socket names exist only on Linux"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn receive(socket: &UnixDatagram) -> String {
        socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn sends_to_a_path() {
        let dir = std::env::temp_dir().join(format!("redistill-notify-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path).unwrap();
        notify_to(path.as_os_str(), "READY=1\nSTATUS=ok").unwrap();
        assert_eq!(receive(&socket), "READY=1\nSTATUS=ok");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sends_to_an_abstract_name() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("redistill-notify-unit-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&addr).unwrap();
        notify_to(OsStr::new(&format!("@{name}")), "STOPPING=1").unwrap();
        assert_eq!(receive(&socket), "STOPPING=1");
    }

    #[test]
    fn missing_socket_is_an_error() {
        assert!(notify_to(OsStr::new("/nonexistent/redistill/notify.sock"), "READY=1").is_err());
    }

    #[test]
    fn status_stays_on_one_line() {
        assert_eq!(one_line("a\nb"), "a b");
    }
}
