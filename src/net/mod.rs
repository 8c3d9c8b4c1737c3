//! Networking: the acceptor, the worker threads' event loops, connections
//! and their pooled buffers.

pub mod buffer_pool;
pub mod connection;
pub mod listener;
pub mod tls;
pub mod worker;

use std::io;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use mio::{Poll, Waker};

use crate::server::Server;
use listener::{Acceptor, Listener, WorkerHandle, ACCEPTOR_WAKER};
use worker::{Worker, WAKER};

/// The running network threads.
pub struct Network {
    pub threads: Vec<JoinHandle<()>>,
    wakers: Vec<Arc<Waker>>,
}

impl Network {
    /// Wake every thread so it notices shutdown without waiting for its tick.
    pub fn wake_all(&self) {
        for waker in &self.wakers {
            let _ = waker.wake();
        }
    }
}

/// Bind the listeners (plain TCP unless its port is 0, and TLS when
/// enabled) and start the acceptor and `threads` workers.
pub fn start(server: &Arc<Server>) -> io::Result<Network> {
    let config = &server.config;
    let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidInput, e);
    let addr = config.server.listen_addr().map_err(invalid)?;
    let tls_config = match config.security.tls_enabled {
        true => Some(tls::server_config(&config.security).map_err(invalid)?),
        false => None,
    };
    let mut listeners = Vec::new();
    if config.server.port != 0 {
        let socket = listener::bind(addr, config.server.tcp_backlog)?;
        server.set_local_addr(socket.local_addr()?);
        listeners.push(Listener { socket, tls: false });
    }
    if tls_config.is_some() {
        let tls_addr = std::net::SocketAddr::new(addr.ip(), config.security.tls_port);
        let socket = listener::bind(tls_addr, config.server.tcp_backlog)?;
        server.set_tls_addr(socket.local_addr()?);
        listeners.push(Listener { socket, tls: true });
    }
    let mut threads = Vec::new();
    let mut wakers = Vec::new();
    let mut handles = Vec::new();
    for index in 0..server.config.server.worker_threads() {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (sender, receiver) = mpsc::channel();
        let load = Arc::new(AtomicUsize::new(0));
        let worker = Worker::new(index, poll, Arc::clone(server), receiver, Arc::clone(&load), tls_config.clone());
        threads.push(std::thread::Builder::new().name(format!("worker-{index}")).spawn(move || worker.run())?);
        wakers.push(Arc::clone(&waker));
        handles.push(WorkerHandle { sender, waker, load });
    }
    server.inboxes.install(wakers.clone());
    let poll = Poll::new()?;
    wakers.push(Arc::new(Waker::new(poll.registry(), ACCEPTOR_WAKER)?));
    let acceptor = Acceptor::new(poll, listeners, handles, Arc::clone(server))?;
    threads.push(std::thread::Builder::new().name("acceptor".into()).spawn(move || acceptor.run())?);
    Ok(Network { threads, wakers })
}
