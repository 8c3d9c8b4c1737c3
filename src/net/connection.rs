//! One client connection: its socket, its buffers, its parser and session,
//! and the loop that turns received bytes into replies.
//!
//! [`Connection::drive`] runs whenever the socket may be readable or
//! writable. It executes every complete command already buffered (at most
//! `batch_size` before flushing), writes all their replies with one write
//! call, and reads more. A read shorter than the free buffer space means
//! the socket is drained: with edge-triggered epoll, new data will raise a
//! new event, so the extra read that would only return `EAGAIN` is skipped.
//!
//! Backpressure: once a client has more than [`HIGH_WATER`] bytes of
//! replies waiting, its commands stop executing until the socket drains, so
//! a client that pipelines without reading cannot make the server buffer
//! without bound. What does pile up behind the reply in flight (replies,
//! or messages published to a subscriber that does not read) is capped by
//! the client class's `client-output-buffer-limit` (see
//! `crate::output_limits`).

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;

use super::buffer_pool::BufferPool;
use super::tls::{Transport, HANDSHAKE_TIMEOUT};
use crate::blocking::{Handoff, HandoffScope, Wait};
use crate::commands::{self, Ctx, Dispatched, Session};
use crate::inbox::UnblockReason;
use crate::metrics::WorkerStats;
use crate::protocol::{peek_key, Args, Limits, Parsed, Parser, ReplyBuffer};
use crate::pubsub::Drained;
use crate::server::{Busy, Gate, Server};

/// Replies waiting beyond this stop the connection's command execution.
pub const HIGH_WATER: usize = 1024 * 1024;

/// Replies held back while more of the client's pipeline is being read
/// (see `replies_can_wait`); past this they go out at once.
const HOLD_REPLIES_UP_TO: usize = 64 * 1024;

/// Input read while replies are held back, past which they go out: a
/// pipeline of small commands is still answered with one write, but one
/// of large values (a -P 16 of 64 KiB SETs is a megabyte) gets its first
/// replies as its first commands run, not after the last byte arrives.
const HOLD_WHILE_READING_UP_TO: usize = 32 * 1024;

/// Pipelined commands whose keys are prefetched before they run.
const PREFETCH_AHEAD: usize = 16;
/// A lone command's second argument longer than this (an EVAL script, a
/// large value) is not hashed ahead on the chance it is a key.
const MEMO_KEY_LEN: usize = 256;

/// Reads per `drive` call before yielding to other connections.
const MAX_ROUNDS: usize = 16;

/// What the worker should do with a connection after driving it.
#[derive(Debug, PartialEq, Eq)]
pub enum Status {
    /// Wait for the next readiness event.
    Open,
    /// More work is ready; drive again after other connections had a turn.
    Yield,
    /// Close the connection now.
    Close(CloseReason),
}

#[derive(Debug, PartialEq, Eq)]
pub enum CloseReason {
    ClientClosed,
    Quit,
    ProtocolError,
    QueryBufferLimit,
    OutputBufferLimit,
    IdleTimeout,
    Killed,
    HandshakeTimeout,
    Shutdown,
    IoError,
}

/// The worker's resources a connection uses while it runs.
pub struct Env<'a> {
    pub server: &'a Server,
    /// The index of the worker thread running the connection.
    pub worker: usize,
    pub stats: &'a WorkerStats,
    pub pool: &'a mut BufferPool,
}

impl<'a> Env<'a> {
    pub fn new(server: &'a Server, worker: usize, pool: &'a mut BufferPool) -> Self {
        Self { server, worker, stats: server.metrics.worker(worker), pool }
    }
}

pub struct Connection {
    transport: Transport,
    /// Received bytes; `input[start..end]` is not yet parsed. Empty (no
    /// allocation) while the connection is idle.
    input: Vec<u8>,
    start: usize,
    end: usize,
    parser: Parser,
    out: ReplyBuffer,
    pub session: Session,
    /// The socket may hold unread bytes (an event said so and no short read
    /// has happened since).
    may_have_input: bool,
    /// The peer closed its side; finish answering, then close.
    eof: bool,
    /// Close once the pending replies are written (protocol error, QUIT).
    closing: Option<CloseReason>,
    /// Bytes read since the oldest reply now waiting was made (see
    /// [`HOLD_WHILE_READING_UP_TO`]).
    read_while_holding: usize,
    /// Last time the client sent anything (for `timeout`).
    pub last_active: Instant,
    /// When the connection was accepted (for the TLS handshake timeout).
    opened: Instant,
    /// Already in the worker's queue of connections with work left.
    pub queued: bool,
    /// Registered for WRITABLE events (only while output is pending).
    pub write_interest: bool,
    /// CLIENT PAUSE holds the next buffered command: nothing more runs or
    /// is read until the worker offers it again (see `Worker::release_held`).
    held: bool,
    /// Already in the worker's list of held connections.
    pub in_held_list: bool,
    /// The connection's token in its worker (the blocking registry's
    /// address for it).
    token: usize,
    /// The command the client is blocked in, if any.
    blocked: Option<Blocked>,
    /// Its last command woke blocked clients, not all served yet: the next
    /// one waits (see `crate::blocking`'s hand-offs).
    awaiting_handoff: bool,
    /// A deadline for the worker's timers: (unix ms, ticket).
    new_timer: Option<(u64, u64)>,
    /// Deadlines of waits that ended, for the worker to drop.
    done_timers: Vec<(u64, u64)>,
    /// Since when the output waiting has been at or over the client's
    /// soft output limit.
    soft_limit_since: Option<Instant>,
}

/// A blocked command (see `crate::blocking`): it stays unparsed at the
/// front of the input until it is served, times out or is released, and
/// the client's later commands wait behind it.
struct Blocked {
    ticket: u64,
    deadline: Option<u64>,
    /// Length of the command's frame in the input.
    len: usize,
    /// A key may be ready: run the command again.
    ready: bool,
    /// The command's id in the table, for its statistics.
    command: usize,
    /// The hand-off whose turn the next run is (see `crate::blocking`).
    turn: Option<Handoff>,
}

/// A blocked command that a wake made ready runs again only if one of its
/// keys still holds the value it waits for (see
/// [`crate::blocking::Blocking::awaited_value_present`]); otherwise it goes
/// back to waiting. True for any other command.
fn woken_command_may_run(blocked: &mut Option<Blocked>, id: u64, env: &Env<'_>, now: u64) -> bool {
    let Some(blocked) = blocked.as_mut() else { return true };
    if env.server.store.blocking.awaited_value_present(&env.server.store, id, now) {
        return true;
    }
    blocked.ready = false;
    false
}

/// The hand-off the wakes of the command about to run join: the one
/// whose `turn` it runs on, else (while anyone is blocked) the client's
/// own. None when nobody waits.
fn handoff_scope(turn: Option<Handoff>, id: u64, token: usize, env: &Env<'_>) -> Option<HandoffScope> {
    let handoff = match turn {
        Some(turn) => turn,
        None if env.server.store.blocking.blocked_clients() > 0 => Handoff { id, worker: env.worker, token },
        None => return None,
    };
    Some(HandoffScope::enter(handoff))
}

/// Client `id` ran (or gave up) its command on a hand-off's turn.
fn end_turn(turn: Option<Handoff>, id: u64, server: &Server) {
    if let Some(turn) = turn {
        server.store.blocking.turn_done(turn.id, id);
    }
}

/// CLIENT UNBLOCK ... ERROR's reply.
const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

impl Connection {
    pub fn new(transport: Transport, session: Session, token: usize) -> Self {
        Self {
            transport,
            opened: Instant::now(),
            input: Vec::new(),
            start: 0,
            end: 0,
            parser: Parser::new(),
            out: ReplyBuffer::default(),
            session,
            may_have_input: true,
            read_while_holding: 0,
            eof: false,
            closing: None,
            last_active: Instant::now(),
            queued: false,
            write_interest: false,
            held: false,
            in_held_list: false,
            token,
            blocked: None,
            awaiting_handoff: false,
            new_timer: None,
            done_timers: Vec::new(),
            soft_limit_since: None,
        }
    }

    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.transport.socket
    }

    /// A TLS client that has not finished its handshake in time.
    pub fn handshake_expired(&self) -> bool {
        self.transport.is_handshaking() && self.opened.elapsed() > HANDSHAKE_TIMEOUT
    }

    pub fn peer(&self) -> Option<SocketAddr> {
        self.session.addr()
    }

    pub fn has_pending_output(&self) -> bool {
        !self.out.is_empty() || self.transport.has_pending()
    }

    /// Whether CLIENT PAUSE holds this connection's next command.
    pub fn is_held(&self) -> bool {
        self.held
    }

    /// Record that the next command waits (or no longer does), keeping
    /// the server's count of held clients.
    fn set_held(&mut self, server: &Server, held: bool) {
        if self.held != held {
            self.held = held;
            server.pause.count_held(held);
        }
    }

    /// Stop counting this connection as held (it is being closed).
    pub fn forget_hold(&mut self, server: &Server) {
        self.set_held(server, false);
    }

    pub fn is_blocked(&self) -> bool {
        self.blocked.is_some()
    }

    /// The deadline of a wait that just began, for the worker's timers:
    /// (unix ms, ticket).
    pub fn take_timer(&mut self) -> Option<(u64, u64)> {
        self.new_timer.take()
    }

    /// The deadlines of waits that ended since the last call.
    pub fn take_done_timers(&mut self) -> Vec<(u64, u64)> {
        std::mem::take(&mut self.done_timers)
    }

    /// A key the client waits on may be ready: let the next `drive` run the
    /// blocked command again. False if the wakeup is for an earlier wait.
    pub fn retry(&mut self, ticket: u64, server: &Server) -> bool {
        let Some(blocked) = self.blocked.as_mut().filter(|b| b.ticket == ticket) else { return false };
        let Some(turn) = server.store.blocking.begin_retry(self.session.id, ticket) else { return false };
        blocked.ready = true;
        blocked.turn = turn;
        true
    }

    /// The clients this connection's command woke may all be served: true
    /// if it was waiting for that and may now run its next command.
    pub fn resume(&mut self, server: &Server) -> bool {
        if !self.awaiting_handoff || server.store.blocking.handoff_pending(self.session.id) {
            return false;
        }
        self.awaiting_handoff = false;
        true
    }

    /// End the wait `ticket` without serving it: its timeout passed
    /// (`reason` None) or CLIENT UNBLOCK released it. The blocked command
    /// answers null (or the UNBLOCKED error) and the client's next
    /// commands run on the next `drive`. False if the wait is over already.
    pub fn end_wait(&mut self, ticket: u64, reason: Option<UnblockReason>, env: &Env<'_>) -> bool {
        let Some(blocked) = self.blocked.as_ref().filter(|b| b.ticket == ticket) else { return false };
        let (len, command) = (blocked.len, blocked.command);
        let failed = reason == Some(UnblockReason::Error);
        if failed {
            env.stats.count_error(UNBLOCKED);
            self.out.error(UNBLOCKED);
        } else {
            self.out.null_array();
        }
        // One call, as Redis 7.2+ counts it (7.0 also counts CLIENT UNBLOCK
        // TIMEOUT as failed).
        env.stats.record_command(command, 0, failed);
        self.start += len;
        self.leave_wait(env.server);
        true
    }

    /// The client no longer waits (served, timed out, released, or
    /// closing): take it out of the registry, and pass on a wake that may
    /// have been meant for it.
    pub fn leave_wait(&mut self, server: &Server) {
        let Some(blocked) = self.blocked.take() else { return };
        if let Some(deadline) = blocked.deadline {
            self.done_timers.push((deadline, blocked.ticket));
        }
        self.session.client.set_blocked(false);
        let blocking = &server.store.blocking;
        if let Some((db, keys)) = blocking.unblock(self.session.id) {
            blocking.recheck(&server.store, db, &keys, crate::clock::now_ms());
        }
        // Woken but leaving before its command ran (timed out, released,
        // closing): the next client's turn.
        end_turn(blocked.turn, self.session.id, server);
    }

    /// Move the frames posted to the client's mailbox into its output
    /// (the worker then drives the connection to send them). Err if they
    /// overflowed the client's output limit: it must be closed.
    pub fn take_mail(&mut self, env: &mut Env<'_>) -> Result<(), CloseReason> {
        if self.session.pubsub.is_none() {
            return Ok(());
        }
        self.acquire_buffers(env.pool);
        let mailbox = self.session.pubsub.as_ref().map(|subscriber| subscriber.mailbox());
        match mailbox.map_or(Drained::Ok, |mailbox| mailbox.drain_into(&mut self.out)) {
            Drained::Ok => Ok(()),
            Drained::Overflowed => {
                self.note_output_limit_close(env.server);
                Err(CloseReason::OutputBufferLimit)
            }
        }
    }

    /// The client is closing: leave its channels, patterns and shard
    /// channels, and forget its mailbox.
    pub fn leave_pubsub(&mut self, server: &Server) {
        if let Some(subscriber) = self.session.pubsub.take() {
            server.pubsub.remove(*subscriber);
        }
    }

    /// After a command ran: if it asked to block, keep it at the front of
    /// the input (registering the client on its first run) and return
    /// true; if it was a blocked command that has now answered, end the
    /// wait.
    fn settle_block(&mut self, env: &Env<'_>, len: usize, now: u64) -> bool {
        let Some(request) = self.session.block.take() else {
            if self.blocked.is_some() {
                self.leave_wait(env.server);
            }
            return false;
        };
        if let Some(blocked) = &mut self.blocked {
            // Run again and still nothing: it keeps its place and deadline.
            blocked.ready = false;
            return true;
        }
        let blocking = &env.server.store.blocking;
        let db = self.session.db;
        let wait = Wait {
            id: self.session.id,
            worker: env.worker,
            token: self.token,
            kind: request.kind,
            db,
            keys: request.keys,
        };
        let keys = wait.keys.clone();
        let ticket = blocking.block(wait);
        self.blocked = Some(Blocked {
            ticket,
            deadline: request.deadline,
            len,
            ready: false,
            command: request.command,
            turn: None,
        });
        self.new_timer = request.deadline.map(|deadline| (deadline, ticket));
        self.session.client.set_blocked(true);
        blocking.recheck(&env.server.store, db, &keys, now);
        true
    }

    /// Note a readiness event from the poller.
    pub fn on_readable(&mut self) {
        self.may_have_input = true;
    }

    /// Do all the work the connection has: execute, write, read, repeat.
    pub fn drive(&mut self, env: &mut Env<'_>) -> Status {
        self.acquire_buffers(env.pool);
        let status = self.run(env);
        if status == Status::Open {
            self.release_buffers(env.pool);
        }
        status
    }

    fn run(&mut self, env: &mut Env<'_>) -> Status {
        for _ in 0..MAX_ROUNDS {
            let more_commands = self.execute(env);
            if !self.session.barrier.passed() {
                // Its replies wait for invalidations it sent others to reach
                // them: try again once the worker has looked at its inbox.
                return Status::Yield;
            }
            if self.held {
                // Answer what ran before the held command; read no more.
                return self.flush(env).unwrap_or(Status::Open);
            }
            if !self.replies_can_wait(more_commands) {
                if let Some(status) = self.flush(env) {
                    return status;
                }
                if let Some(reason) = self.closing.take() {
                    return Status::Close(reason);
                }
                if more_commands {
                    continue;
                }
                if self.eof {
                    return Status::Close(CloseReason::ClientClosed);
                }
                if !self.may_have_input {
                    return Status::Open;
                }
            }
            if let Err(reason) = self.read(env) {
                return Status::Close(reason);
            }
        }
        Status::Yield
    }

    /// True while the client is still sending a pipeline whose replies can
    /// wait for the rest of it: reading on before writing answers a deep
    /// pipeline of large requests with one write instead of one per read.
    fn replies_can_wait(&self, more_commands: bool) -> bool {
        !more_commands
            && self.may_have_input
            && !self.eof
            && self.closing.is_none()
            && self.out.pending() < HOLD_REPLIES_UP_TO
            && self.read_while_holding < HOLD_WHILE_READING_UP_TO
    }

    /// Execute buffered commands until the input runs out, `batch_size`
    /// commands ran, or the replies pass the high-water mark. Returns true
    /// if it stopped with complete commands possibly left.
    fn execute(&mut self, env: &Env<'_>) -> bool {
        let config = &env.server.config.server;
        // Read once the gate is held (below): waiting for it behind an
        // EXEC must not leave the batch with a clock that lags, or a
        // `SET .. EX 1` would get a deadline already partly spent.
        let mut now = 0;
        let mut executed = 0;
        let mut more = false;
        let mut gate = None;
        // Cluster mode: the hashes the prefetch pass computes serve this
        // batch's routing and lookups (see `store::memo`).
        let _memo = env.server.cluster.is_some().then_some(crate::store::memo::Batch);
        self.prefetch_keys(env);
        while self.start < self.end && self.closing.is_none() {
            if self.awaiting_handoff || self.blocked.as_ref().is_some_and(|b| !b.ready) {
                break;
            }
            if executed == config.batch_size || self.out.pending() > HIGH_WATER {
                more = true;
                break;
            }
            let frame = &self.input[self.start..self.end];
            let limits = Limits { max_bulk_len: config.proto_max_bulk_len, authenticated: self.session.authenticated };
            match self.parser.parse(frame, limits) {
                Parsed::Command(len) => {
                    let args = self.parser.args(frame);
                    let gate = gate.get_or_insert_with(|| {
                        let gate = Gate::enter(env.server, env.worker);
                        now = crate::clock::now_ms();
                        gate
                    });
                    let turn = self.blocked.as_mut().and_then(|b| b.turn.take());
                    if !woken_command_may_run(&mut self.blocked, self.session.id, env, now) {
                        end_turn(turn, self.session.id, env.server);
                        break;
                    }
                    let scope = handoff_scope(turn, self.session.id, self.token, env);
                    let found = commands::lookup_with_id(args.get(0));
                    let exclusive = commands::needs_exclusive(found, self.session.multi.is_some());
                    let mark = self.out.pending();
                    let mut ctx = Ctx {
                        server: env.server,
                        session: &mut self.session,
                        out: &mut self.out,
                        stats: env.stats,
                        now,
                    };
                    let dispatched = run_command(&mut ctx, &args, found, gate, exclusive);
                    if exclusive {
                        now = crate::clock::now_ms();
                    }
                    self.parser.reset();
                    let held = dispatched == Dispatched::Held;
                    self.set_held(env.server, held);
                    if held {
                        // It runs (on its turn) once the pause is over.
                        if let Some(blocked) = &mut self.blocked {
                            blocked.turn = turn;
                        }
                        break;
                    }
                    executed += 1;
                    let blocks = self.settle_block(env, len, now);
                    let woke_clients = scope.is_some_and(|scope| scope.joined());
                    end_turn(turn, self.session.id, env.server);
                    if blocks {
                        break;
                    }
                    self.session.after_command(&mut self.out, mark);
                    self.start += len;
                    if self.session.close_after_reply {
                        self.session.client.mark_closing();
                        self.closing = Some(CloseReason::Quit);
                    }
                    // Its next command waits until they are served.
                    if woke_clients && turn.is_none() {
                        self.awaiting_handoff = true;
                        break;
                    }
                }
                Parsed::Empty(len) => self.start += len,
                Parsed::Incomplete => break,
                Parsed::Error(error) => {
                    let message = format!("ERR {}", error.message());
                    env.stats.count_error(&message);
                    let mark = self.out.pending();
                    self.out.error(&message);
                    self.session.after_command(&mut self.out, mark);
                    crate::log_debug!("protocol error from {:?}: {}", self.peer(), error.message());
                    self.closing = Some(CloseReason::ProtocolError);
                }
            }
        }
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        more
    }

    /// Prefetch the keys of the next [`PREFETCH_AHEAD`] pipelined commands
    /// in the buffer, in three passes (index lines, records, then the
    /// contents of collections, in shards that hold any; see
    /// `store/prefetch.rs`), so that their memory loads overlap. A lone
    /// command has nothing to overlap with and is left alone (but in a
    /// slot-sharded table its key's hash is remembered for the batch).
    fn prefetch_keys(&self, env: &Env<'_>) {
        let mut pending = &self.input[self.start..self.end];
        let mut frame = peek_key(pending);
        let table = env.server.store.db(self.session.db);
        let memo = table.is_slot_sharded();
        if frame.is_none_or(|(len, _)| len == pending.len()) {
            if let Some((_, key)) = frame.filter(|&(_, key)| memo && key.len() <= MEMO_KEY_LEN) {
                crate::store::memo::remember(key, table.hash(key));
            }
            return;
        }
        let mut hashes = [0u64; PREFETCH_AHEAD];
        let mut count = 0;
        while let Some((len, key)) = frame {
            hashes[count] = table.hash(key);
            if memo {
                crate::store::memo::remember(key, hashes[count]);
            }
            table.prefetch_index(hashes[count]);
            count += 1;
            pending = &pending[len..];
            frame = if count < PREFETCH_AHEAD { peek_key(pending) } else { None };
        }
        let mut collections = [0u64; PREFETCH_AHEAD];
        let mut found = 0;
        for &hash in &hashes[..count] {
            if table.prefetch_record(hash) {
                collections[found] = hash;
                found += 1;
            }
        }
        for &hash in &collections[..found] {
            table.prefetch_object(hash);
        }
    }

    /// Write pending replies. Returns a status if the connection must stop
    /// here (socket full, or an error), None once everything is written.
    fn flush(&mut self, env: &Env<'_>) -> Option<Status> {
        let before = self.out.pending();
        if before == 0 {
            return self.flush_transport();
        }
        let result = self.out.write_to(&mut self.transport);
        self.read_while_holding = 0;
        env.stats.net_output_bytes.add((before - self.out.pending()) as u64);
        match result {
            Ok(true) => {
                self.soft_limit_since = None;
                self.flush_transport()
            }
            Ok(false) if self.over_output_limits(env.server) => Some(Status::Close(CloseReason::OutputBufferLimit)),
            Ok(false) => Some(Status::Open),
            Err(_) => Some(Status::Close(CloseReason::IoError)),
        }
    }

    /// Whether the output piled up behind the reply in flight is over the
    /// limits of the client's class (checked when the socket cannot take
    /// it all): the hard limit, or the soft limit for too long.
    fn over_output_limits(&mut self, server: &Server) -> bool {
        let limit = server.live.output_limits.get(self.session.client.class());
        let used = self.out.backlog() as u64;
        if !limit.exceeded(used, &mut self.soft_limit_since, Instant::now()) {
            return false;
        }
        self.note_output_limit_close(server);
        true
    }

    /// Log and count a client closed for its output limits, as Redis does.
    fn note_output_limit_close(&self, server: &Server) {
        crate::log_warn!(
            "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
            self.session.client.describe()
        );
        server.live.output_limits.count_disconnection();
    }

    /// Push out TLS records still held by rustls; wait for the socket if
    /// it is full.
    fn flush_transport(&mut self) -> Option<Status> {
        match self.transport.flush_pending() {
            Ok(true) => None,
            Ok(false) => Some(Status::Open),
            Err(_) => Some(Status::Close(CloseReason::IoError)),
        }
    }

    /// One read into the input buffer, growing it if a single frame fills
    /// it. Sets `eof` on end of stream and clears `may_have_input` when the
    /// socket has been drained.
    fn read(&mut self, env: &Env<'_>) -> Result<(), CloseReason> {
        self.make_room(env)?;
        match self.transport.read(&mut self.input[self.end..]) {
            Ok((0, _)) => {
                self.eof = true;
                self.may_have_input = false;
            }
            Ok((n, drained)) => {
                self.end += n;
                if self.out.pending() > 0 {
                    self.read_while_holding += n;
                }
                self.last_active = Instant::now();
                env.stats.net_input_bytes.add(n as u64);
                if drained {
                    self.may_have_input = false;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.may_have_input = false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(CloseReason::IoError),
        }
        Ok(())
    }

    /// Ensure free space at the end of the input buffer: compact if parsed
    /// bytes sit at the front, otherwise double it, up to the query buffer
    /// limit. Growth follows the bytes actually received, never a length
    /// the client declared.
    fn make_room(&mut self, env: &Env<'_>) -> Result<(), CloseReason> {
        if self.end < self.input.len() {
            return Ok(());
        }
        if self.start > 0 {
            self.input.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            return Ok(());
        }
        let limit = env.server.config.server.client_query_buffer_limit as usize;
        let len = self.input.len();
        if len >= limit {
            crate::log_info!(
                "closing client {:?}: query buffer over client_query_buffer_limit ({limit} bytes)",
                self.peer()
            );
            return Err(CloseReason::QueryBufferLimit);
        }
        self.input.resize((len * 2).clamp(len + 1, limit), 0);
        Ok(())
    }

    fn acquire_buffers(&mut self, pool: &mut BufferPool) {
        if self.input.is_empty() {
            self.input = pool.take_read();
        }
        if self.out.staging_capacity() == 0 {
            self.out.set_staging(pool.take_write());
        }
    }

    /// Give the buffers back while nothing is in flight, so idle
    /// connections hold no buffer memory.
    fn release_buffers(&mut self, pool: &mut BufferPool) {
        if self.start == self.end && self.out.is_empty() {
            pool.give_read(std::mem::take(&mut self.input));
            pool.give_write(self.out.take_staging());
            self.parser.shrink();
        }
    }

    /// Return the buffers before the connection is dropped.
    pub fn recycle(mut self, pool: &mut BufferPool) {
        pool.give_read(std::mem::take(&mut self.input));
        if self.out.is_empty() {
            pool.give_write(self.out.take_staging());
        }
    }
}

/// Run one command under the worker's gate: with every gate held if it is
/// `exclusive` (EXEC, a script), and, while a script is busy holding the
/// gates, answering BUSY to all but the commands allowed then.
/// An exclusive command reads the clock once it holds every gate: it may
/// have waited for them.
fn run_command(
    ctx: &mut Ctx<'_>,
    args: &Args<'_>,
    found: commands::Found,
    gate: &mut Result<Gate<'_>, Busy>,
    exclusive: bool,
) -> Dispatched {
    let ran = match gate {
        Ok(gate) if exclusive => gate.exclusive(|| {
            ctx.now = crate::clock::now_ms();
            commands::dispatch(ctx, args, found)
        }),
        Ok(_) => return commands::dispatch(ctx, args, found),
        Err(Busy) => Err(Busy),
    };
    ran.unwrap_or_else(|Busy| commands::dispatch_busy(ctx, args, found))
}
