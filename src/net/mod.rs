//! Networking: the acceptor, the worker threads' event loops, connections
//! and their pooled buffers.

pub mod buffer_pool;
pub mod connection;
pub mod listener;
pub mod worker;

use std::io;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use mio::{Poll, Waker};

use crate::server::Server;
use listener::{Acceptor, WorkerHandle, ACCEPTOR_WAKER};
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

/// Bind the listener and start the acceptor and `threads` workers.
pub fn start(server: &Arc<Server>) -> io::Result<Network> {
    let addr = server.config.server.listen_addr().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let listener = listener::bind(addr)?;
    server.set_local_addr(listener.local_addr()?);
    let mut threads = Vec::new();
    let mut wakers = Vec::new();
    let mut handles = Vec::new();
    for index in 0..server.config.server.worker_threads() {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (sender, receiver) = mpsc::channel();
        let load = Arc::new(AtomicUsize::new(0));
        let worker = Worker::new(index, poll, Arc::clone(server), receiver, Arc::clone(&load));
        threads.push(std::thread::Builder::new().name(format!("worker-{index}")).spawn(move || worker.run())?);
        wakers.push(Arc::clone(&waker));
        handles.push(WorkerHandle { sender, waker, load });
    }
    let poll = Poll::new()?;
    wakers.push(Arc::new(Waker::new(poll.registry(), ACCEPTOR_WAKER)?));
    let acceptor = Acceptor::new(poll, listener, handles, Arc::clone(server))?;
    threads.push(std::thread::Builder::new().name("acceptor".into()).spawn(move || acceptor.run())?);
    Ok(Network { threads, wakers })
}
