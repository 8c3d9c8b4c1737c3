//! Listening sockets and the acceptor thread.
//!
//! One acceptor thread accepts every connection and hands it to the worker
//! with the fewest connections (through a channel and the worker's mio
//! waker). We chose this over SO_REUSEPORT listeners per worker for three
//! reasons: the kernel's reuseport hashing can pile a burst of connections
//! (redis-benchmark opens 50 at once) onto one worker while another idles;
//! a second server started by mistake on the same port would silently take
//! half the clients instead of failing to bind; and a single place to
//! enforce `max_connections` keeps the limit exact. The hand-off costs one
//! channel send per connection, never per request.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use socket2::{Domain, SockRef, Socket, TcpKeepalive, Type};

use super::worker::Incoming;
use crate::rate::RateLimit;
use crate::server::Server;

pub const ACCEPTOR_WAKER: Token = Token(usize::MAX);

/// Bind a non-blocking listening socket with SO_REUSEADDR (so a restart
/// does not wait for TIME_WAIT sockets of the previous process), with a
/// queue of `backlog` connections not yet accepted (`server.tcp_backlog`).
pub fn bind(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    socket.set_nonblocking(true)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// The acceptor's handle on one worker.
pub struct WorkerHandle {
    pub sender: Sender<Incoming>,
    pub waker: Arc<Waker>,
    pub load: Arc<AtomicUsize>,
}

/// A listening socket and whether its clients speak TLS.
pub struct Listener {
    pub socket: TcpListener,
    pub tls: bool,
}

pub struct Acceptor {
    poll: Poll,
    listeners: Vec<Listener>,
    workers: Vec<WorkerHandle>,
    server: Arc<Server>,
    rate: RateLimit,
}

impl Acceptor {
    /// Listener `i` is registered with token `i`; the acceptor's waker
    /// uses [`ACCEPTOR_WAKER`], past them.
    pub fn new(
        poll: Poll,
        mut listeners: Vec<Listener>,
        workers: Vec<WorkerHandle>,
        server: Arc<Server>,
    ) -> io::Result<Self> {
        for (index, listener) in listeners.iter_mut().enumerate() {
            poll.registry().register(&mut listener.socket, Token(index), Interest::READABLE)?;
        }
        let rate = RateLimit::new(server.config.server.max_connections_per_second, crate::clock::now_ms());
        Ok(Self { poll, listeners, workers, server, rate })
    }

    pub fn run(mut self) {
        let mut events = Events::with_capacity(64);
        while !self.server.is_shutting_down() {
            if let Err(e) = self.poll.poll(&mut events, Some(Duration::from_millis(100))) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                crate::log_error!("acceptor: poll failed: {e}");
                break;
            }
            for index in 0..self.listeners.len() {
                if events.iter().any(|e| e.token() == Token(index)) {
                    self.accept_all(index);
                }
            }
        }
    }

    fn accept_all(&mut self, index: usize) {
        loop {
            match self.listeners[index].socket.accept() {
                Ok((stream, addr)) => self.admit(stream, addr, self.listeners[index].tls),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: log, back off briefly, keep serving.
                    crate::log_warn!("accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                    return;
                }
            }
        }
    }

    fn admit(&mut self, mut stream: TcpStream, addr: SocketAddr, tls: bool) {
        self.server.metrics.acceptor().connections_received.incr();
        if self.server.is_shutting_down() {
            return;
        }
        if !self.rate.admit(crate::clock::now_ms()) {
            self.server.count_rejected_connection();
            crate::log_debug!("rejecting client {addr}: max_connections_per_second reached");
            let _ = stream.write_all(b"-ERR max connections per second reached, try again later\r\n");
            return;
        }
        if !self.server.try_add_client() {
            self.server.count_rejected_connection();
            crate::log_warn!("rejecting client {addr}: max_connections reached");
            let _ = stream.write_all(b"-ERR max number of clients reached\r\n");
            return;
        }
        configure(&stream, &self.server);
        let worker = self.least_loaded();
        worker.load.fetch_add(1, Ordering::Relaxed);
        let id = self.server.next_client_id();
        if worker.sender.send(Incoming { stream, addr, id, tls }).is_err() || worker.waker.wake().is_err() {
            crate::log_error!("worker unavailable; dropping client {addr}");
            worker.load.fetch_sub(1, Ordering::Relaxed);
            self.server.remove_client();
        }
    }

    fn least_loaded(&self) -> &WorkerHandle {
        let mut best = &self.workers[0];
        for worker in &self.workers[1..] {
            if worker.load.load(Ordering::Relaxed) < best.load.load(Ordering::Relaxed) {
                best = worker;
            }
        }
        best
    }
}

/// Apply `tcp_nodelay` and `tcp_keepalive` to an accepted socket.
fn configure(stream: &TcpStream, server: &Server) {
    let perf = &server.config.performance;
    let socket = SockRef::from(stream);
    if let Err(e) = stream.set_nodelay(perf.tcp_nodelay) {
        crate::log_debug!("TCP_NODELAY: {e}");
    }
    if perf.tcp_keepalive > 0 {
        let keepalive = TcpKeepalive::new().with_time(Duration::from_secs(perf.tcp_keepalive));
        if let Err(e) = socket.set_tcp_keepalive(&keepalive) {
            crate::log_debug!("SO_KEEPALIVE: {e}");
        }
    }
}
