//! A worker thread: one mio poll loop over a slab of connections.
//!
//! The acceptor hands each new socket to one worker, which owns it for its
//! whole life: no connection state is ever shared between threads, so the
//! only cross-core traffic on the request path is the store's shard locks.

use std::collections::{BTreeSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use super::buffer_pool::BufferPool;
use super::connection::{CloseReason, Connection, Env, Status};
use super::tls::{Tls, Transport};
use crate::clients::ClientInfo;
use crate::commands::Session;
use crate::inbox::{UnblockReason, Wakeup};
use crate::server::Server;

/// The token of the waker the acceptor uses to announce new sockets, and
/// other threads to hand over wakeups (see `crate::inbox`).
pub const WAKER: Token = Token(usize::MAX);

/// How long the poll sleeps with nothing to do, which is also how often
/// shutdown and idle timeouts are checked.
const TICK: Duration = Duration::from_millis(100);

/// A socket handed over by the acceptor.
pub struct Incoming {
    pub stream: TcpStream,
    pub addr: SocketAddr,
    /// Assigned in accept order, so a later connection has a higher id.
    pub id: u64,
    /// Accepted on the TLS port.
    pub tls: bool,
}

pub struct Worker {
    index: usize,
    poll: Poll,
    server: Arc<Server>,
    incoming: Receiver<Incoming>,
    connections: Slab<Connection>,
    pool: BufferPool,
    /// Connections that yielded with work left, driven after the next poll.
    ready: VecDeque<usize>,
    /// Connections whose next command CLIENT PAUSE holds, driven again
    /// once the pause ends.
    held: Vec<usize>,
    /// Number of connections this worker owns, read by the acceptor.
    load: Arc<AtomicUsize>,
    last_timeout_check: Instant,
    /// [`crate::clients::Clients::kills`] when this worker last looked.
    kills_seen: u64,
    last_handshake_check: Instant,
    /// TLS settings, for connections accepted on the TLS port.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// Deadlines of blocked clients: (unix ms, connection, wait ticket),
    /// earliest first. The poll sleeps until the first one.
    timers: BTreeSet<(u64, usize, u64)>,
    /// The wakeups being served, swapped with the inbox (see
    /// [`crate::inbox::Inboxes::take`]).
    wakeups: Vec<Wakeup>,
}

impl Worker {
    pub fn new(
        index: usize,
        poll: Poll,
        server: Arc<Server>,
        incoming: Receiver<Incoming>,
        load: Arc<AtomicUsize>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let config = &server.config.server;
        let buffers = config.buffer_pool_size / config.worker_threads().max(1);
        let pool = BufferPool::new(buffers, config.buffer_size);
        Self {
            index,
            poll,
            server,
            incoming,
            connections: Slab::new(),
            pool,
            ready: VecDeque::new(),
            held: Vec::new(),
            load,
            last_timeout_check: Instant::now(),
            kills_seen: 0,
            last_handshake_check: Instant::now(),
            tls,
            timers: BTreeSet::new(),
            wakeups: Vec::new(),
        }
    }

    pub fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        while !self.server.is_shutting_down() {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                crate::log_error!("worker {}: poll failed: {e}", self.index);
                break;
            }
            for event in events.iter() {
                match event.token() {
                    WAKER => {
                        self.register_incoming();
                        self.serve_wakeups();
                    }
                    Token(key) => {
                        if let Some(conn) = self.connections.get_mut(key) {
                            if event.is_readable() || event.is_read_closed() || event.is_error() {
                                conn.on_readable();
                            }
                            self.drive(key);
                        }
                    }
                }
            }
            self.release_held();
            self.drive_ready();
            self.expire_waits();
            self.close_idle_connections();
        }
        self.shutdown();
    }

    /// How long the poll may sleep: not at all with work queued, until the
    /// pause ends while commands wait for it, else a tick.
    /// How long the poll may sleep: not at all with work queued, else until
    /// the next tick, the end of a pause holding a client, or the first
    /// blocked client's deadline, whichever comes first.
    fn poll_timeout(&self) -> Duration {
        if !self.ready.is_empty() {
            return Duration::ZERO;
        }
        let timeout = self.until_first_timer().min(TICK);
        if self.held.is_empty() {
            return timeout;
        }
        let remaining = self.server.pause.remaining_ms(crate::clock::now_ms()).unwrap_or(0);
        timeout.min(Duration::from_millis(remaining))
    }

    /// Once no pause is in force, queue the held connections to run their
    /// commands (one held again by a new pause joins the list again).
    fn release_held(&mut self) {
        if self.held.is_empty() || self.server.pause.remaining_ms(crate::clock::now_ms()).is_some() {
            return;
        }
        for key in std::mem::take(&mut self.held) {
            if let Some(conn) = self.connections.get_mut(key) {
                conn.in_held_list = false;
                if !conn.queued {
                    conn.queued = true;
                    self.ready.push_back(key);
                }
            }
        }
    }

    fn register_incoming(&mut self) {
        while let Ok(Incoming { mut stream, addr, id, tls }) = self.incoming.try_recv() {
            let tls = match (tls, &self.tls) {
                (true, Some(config)) => match Tls::new(config) {
                    Ok(tls) => Some(tls),
                    Err(e) => {
                        crate::log_warn!("worker {}: TLS session for {addr} failed: {e}", self.index);
                        self.forget_client();
                        continue;
                    }
                },
                _ => None,
            };
            let entry = self.connections.vacant_entry();
            let key = entry.key();
            let registered = self.poll.registry().register(&mut stream, Token(key), Interest::READABLE);
            if let Err(e) = registered {
                crate::log_warn!("worker {}: cannot register client {addr}: {e}", self.index);
                self.forget_client();
                continue;
            }
            let client = Arc::new(ClientInfo::new(id, Some(addr), stream.local_addr().ok()));
            self.server.clients.register(Arc::clone(&client));
            let session = Session::new(
                client,
                !self.server.requires_auth(),
                self.server.config.server.client_commands_per_second,
                (self.index, key),
            );
            entry.insert(Connection::new(Transport { socket: stream, tls }, session, key));
            crate::log_debug!("worker {}: client {addr} connected", self.index);
            // Bytes may have arrived before registration; look now.
            self.drive(key);
        }
    }

    fn drive(&mut self, key: usize) {
        let Some(conn) = self.connections.get_mut(key) else { return };
        let mut env = Env::new(&self.server, self.index, &mut self.pool);
        let status = conn.drive(&mut env);
        if conn.is_held() && !conn.in_held_list {
            conn.in_held_list = true;
            self.held.push(key);
        }
        if let Some((deadline, ticket)) = conn.take_timer() {
            self.timers.insert((deadline, key, ticket));
        }
        for (deadline, ticket) in conn.take_done_timers() {
            self.timers.remove(&(deadline, key, ticket));
        }
        match status {
            Status::Open => {
                // Ask for WRITABLE only while replies wait for the socket:
                // with edge-triggered epoll, a socket that always asks for
                // it wakes the worker once more after every reply is acked.
                let wants_write = conn.has_pending_output();
                if wants_write != conn.write_interest {
                    let interest =
                        if wants_write { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
                    match self.poll.registry().reregister(conn.stream_mut(), Token(key), interest) {
                        Ok(()) => conn.write_interest = wants_write,
                        Err(_) => self.close(key, CloseReason::IoError),
                    }
                }
            }
            Status::Yield => {
                if !conn.queued {
                    conn.queued = true;
                    self.ready.push_back(key);
                }
            }
            Status::Close(reason) => self.close(key, reason),
        }
    }

    /// Give each yielded connection one more turn (those that yield again
    /// go to the back of the queue for the next loop).
    fn drive_ready(&mut self) {
        for _ in 0..self.ready.len() {
            let Some(key) = self.ready.pop_front() else { break };
            if let Some(conn) = self.connections.get_mut(key) {
                conn.queued = false;
                self.drive(key);
            }
        }
    }

    /// How long the poll may sleep before the first blocked client's
    /// deadline.
    fn until_first_timer(&self) -> Duration {
        let Some(&(deadline, _, _)) = self.timers.first() else { return Duration::MAX };
        Duration::from_millis((deadline + 1).saturating_sub(crate::clock::now_ms()))
    }

    /// Answer the blocked clients whose deadline has passed. Deadlines are
    /// whole milliseconds, so one expires only once the clock is past it:
    /// a client never waits less than its timeout.
    fn expire_waits(&mut self) {
        let now = crate::clock::now_ms();
        while let Some(&(deadline, key, ticket)) = self.timers.first() {
            if deadline >= now {
                break;
            }
            self.timers.pop_first();
            self.end_wait(key, ticket, None);
        }
    }

    fn end_wait(&mut self, key: usize, ticket: u64, reason: Option<UnblockReason>) {
        let Some(conn) = self.connections.get_mut(key) else { return };
        let env = Env::new(&self.server, self.index, &mut self.pool);
        if conn.end_wait(ticket, reason, &env) {
            self.drive(key);
        }
    }

    /// Act on what other threads sent: run a blocked command again (a key
    /// it waits on was filled), end it (CLIENT UNBLOCK), send what was
    /// posted to a client's mailbox, or let a client whose writes woke
    /// others run on once they are served.
    fn serve_wakeups(&mut self) {
        self.server.inboxes.take(self.index, &mut self.wakeups);
        let mut wakeups = std::mem::take(&mut self.wakeups);
        for wakeup in wakeups.drain(..) {
            match wakeup {
                Wakeup::Retry { token, ticket } => {
                    let Some(conn) = self.connections.get_mut(token) else { continue };
                    if conn.retry(ticket, &self.server) {
                        self.drive(token);
                    }
                }
                Wakeup::Unblock { token, ticket, reason } => self.end_wait(token, ticket, Some(reason)),
                Wakeup::Deliver { token, id } => self.deliver(token, id),
                Wakeup::Resume { token } => {
                    let Some(conn) = self.connections.get_mut(token) else { continue };
                    if conn.resume(&self.server) {
                        self.drive(token);
                    }
                }
            }
        }
        self.wakeups = wakeups;
    }

    /// Move what was posted to client `id`'s mailbox into its output and
    /// send it; close the client if the mailbox overflowed its limit.
    fn deliver(&mut self, token: usize, id: u64) {
        let Some(conn) = self.connections.get_mut(token).filter(|conn| conn.session.id == id) else { return };
        let mut env = Env::new(&self.server, self.index, &mut self.pool);
        match conn.take_mail(&mut env) {
            Ok(()) => self.drive(token),
            Err(reason) => self.close(token, reason),
        }
    }

    fn close(&mut self, key: usize, reason: CloseReason) {
        let mut conn = self.connections.remove(key);
        if conn.in_held_list {
            self.held.retain(|&held| held != key);
        }
        conn.forget_hold(&self.server);
        conn.leave_wait(&self.server);
        // Off the client list before its mailbox goes: a client whose
        // invalidations it received then finds its redirection broken.
        self.server.clients.remove(conn.session.id);
        conn.leave_pubsub(&self.server);
        self.server.tracking.disable(&conn.session.client);
        let timers = conn.take_timer().into_iter().chain(conn.take_done_timers());
        timers.for_each(|(deadline, ticket)| {
            self.timers.remove(&(deadline, key, ticket));
        });
        let _ = self.poll.registry().deregister(conn.stream_mut());
        crate::log_debug!("worker {}: client {:?} closed ({reason:?})", self.index, conn.peer());
        conn.recycle(&mut self.pool);
        self.forget_client();
    }

    fn forget_client(&self) {
        self.server.remove_client();
        self.load.fetch_sub(1, Ordering::Relaxed);
    }

    /// Close connections that CLIENT KILL marked, TLS handshakes that take
    /// too long, and connections idle for longer than `timeout` seconds.
    /// Each is a scan of every connection, so it runs only when it can find
    /// something: after a CLIENT KILL anywhere, every tick while TLS is on,
    /// about once a second while a timeout is set. (Run on every loop turn,
    /// the scan cost a worker with thousands of idle clients more than the
    /// requests it served.)
    fn close_idle_connections(&mut self) {
        let kills = self.server.clients.kills();
        let handshakes_due = self.tls.is_some() && self.last_handshake_check.elapsed() >= TICK;
        if kills != self.kills_seen || handshakes_due {
            self.kills_seen = kills;
            self.last_handshake_check = Instant::now();
            self.close_killed_and_stalled();
        }
        self.close_timed_out();
    }

    fn close_killed_and_stalled(&mut self) {
        let killed: Vec<(usize, CloseReason)> = self
            .connections
            .iter()
            .filter_map(|(key, conn)| match () {
                _ if conn.session.client.is_killed() => Some((key, CloseReason::Killed)),
                _ if conn.handshake_expired() => Some((key, CloseReason::HandshakeTimeout)),
                _ => None,
            })
            .collect();
        for (key, reason) in killed {
            self.close(key, reason);
        }
    }

    fn close_timed_out(&mut self) {
        let timeout = self.server.live.timeout();
        if timeout == 0 || self.last_timeout_check.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last_timeout_check = Instant::now();
        let limit = Duration::from_secs(timeout);
        let idle: Vec<usize> = self
            .connections
            .iter()
            // As in Redis, blocked clients and subscribers wait as long
            // as they like.
            .filter(|(_, conn)| {
                !conn.is_blocked() && !conn.session.is_subscribed() && conn.last_active.elapsed() > limit
            })
            .map(|(key, _)| key)
            .collect();
        for key in idle {
            crate::log_debug!("worker {}: closing idle client", self.index);
            self.close(key, CloseReason::IdleTimeout);
        }
    }

    /// Answer what every client already sent, give the replies up to
    /// `shutdown_timeout` seconds to drain, then close everything.
    fn shutdown(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(self.server.config.server.shutdown_timeout);
        let keys: Vec<usize> = self.connections.iter().map(|(key, _)| key).collect();
        for key in keys {
            while Instant::now() < deadline {
                let Some(conn) = self.connections.get_mut(key) else { break };
                conn.on_readable();
                let mut env = Env::new(&self.server, self.index, &mut self.pool);
                match conn.drive(&mut env) {
                    Status::Yield => continue,
                    Status::Open if conn.has_pending_output() => std::thread::sleep(Duration::from_millis(1)),
                    _ => break,
                }
            }
            if self.connections.contains(key) {
                self.close(key, CloseReason::Shutdown);
            }
        }
    }
}
