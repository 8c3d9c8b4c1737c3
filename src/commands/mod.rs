//! Command dispatch: the command table, the per-connection session, and the
//! checks every command goes through (lookup, arity, authentication) before
//! its implementation runs.
//!
//! Each family lives in its own file and exports its entries for the table
//! (`strings`, `bits`, `lcs`, `keys`, `connection`, `server`, `info`, ...). An implementation is
//! a plain function that reads its arguments and writes its reply; it never
//! sees the socket.

pub mod admin;
pub mod bits;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod dump;
pub mod functions;
pub mod hashes;
pub mod info;
pub mod keys;
pub mod keyspace;
pub mod keyspec;
pub mod lcs;
pub mod lists;
mod long_double;
pub mod pubsub;
mod random;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod strings;
pub mod tracking;
pub mod transactions;
pub mod zsets;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::OnceLock;

use crate::clients::ClientInfo;
use crate::metrics::WorkerStats;
pub use crate::notify::Change;
use crate::notify::{Event, Events};
use crate::protocol::{Args, ReplyBuffer};
use crate::server::Server;
use crate::store::Collection;

pub const SYNTAX_ERROR: &str = "ERR syntax error";
pub const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// String commands read a value with `?` in closures that fail with a
/// reply text.
impl From<crate::store::WrongType> for &'static str {
    fn from(_: crate::store::WrongType) -> Self {
        WRONGTYPE
    }
}

/// What a command may do, for COMMAND's flags and for dispatch checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(u32);

impl Flags {
    pub const WRITE: Flags = Flags(1);
    pub const READONLY: Flags = Flags(1 << 1);
    pub const FAST: Flags = Flags(1 << 2);
    /// May run before the connection has authenticated.
    pub const NO_AUTH: Flags = Flags(1 << 3);
    pub const ADMIN: Flags = Flags(1 << 4);
    pub const DENYOOM: Flags = Flags(1 << 5);
    /// Runs at once inside MULTI instead of being queued.
    pub const NO_QUEUE: Flags = Flags(1 << 6);
    /// Refused inside MULTI (Redis's `no-multi`: SAVE, SHUTDOWN).
    pub const NO_MULTI: Flags = Flags(1 << 7);
    /// Ends a transaction (EXEC): inside MULTI it runs with every worker
    /// held (see `server::Gate`), and a malformed one aborts the
    /// transaction. Not reported by COMMAND.
    pub const ENDS_MULTI: Flags = Flags(1 << 8);
    /// Changes nothing itself but may write or be propagated (Redis's
    /// `may-replicate`: EVAL, PUBLISH): held by CLIENT PAUSE WRITE.
    pub const MAY_REPLICATE: Flags = Flags(1 << 9);
    /// May be called without keys although it has key arguments (EVAL
    /// with numkeys 0): COMMAND GETKEYS then answers an empty list.
    pub const NO_MANDATORY_KEYS: Flags = Flags(1 << 10);
    /// Scripts may not call it (Redis's `noscript`).
    pub const NO_SCRIPT: Flags = Flags(1 << 11);
    /// Runs while a script is busy past `busy-reply-threshold` (Redis's
    /// `allow-busy`); every other command is answered BUSY then.
    pub const ALLOW_BUSY: Flags = Flags(1 << 12);
    /// Runs with every worker held, like EXEC (see `server::Gate`): a
    /// script (EVAL, FCALL), or CLUSTER (whose SETMAP replaces the slot
    /// map between two commands of every client). Not reported by COMMAND.
    pub const EXCLUSIVE: Flags = Flags(1 << 13);
    /// May block the client (BLPOP...; Redis's `blocking`).
    pub const BLOCKING: Flags = Flags(1 << 14);
    /// A Pub/Sub command (Redis's `pubsub`).
    pub const PUBSUB: Flags = Flags(1 << 15);
    /// Allowed while a RESP2 client is subscribed to something: the
    /// (un)subscribe commands, PING, QUIT and RESET (see
    /// `pubsub::before_command`). Not reported by COMMAND.
    pub const SUBSCRIBED_CONTEXT: Flags = Flags(1 << 16);
    /// Runs one of its subcommands (CLIENT, CONFIG, PUBSUB...): errors name
    /// it `parent|sub`. Not reported by COMMAND.
    pub const CONTAINER: Flags = Flags(1 << 17);
    pub const NONE: Flags = Flags(0);

    pub const fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any of `other`'s flags is set.
    pub fn intersects(self, other: Flags) -> bool {
        self.0 & other.0 != 0
    }

    /// Flag names as COMMAND reports them.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        [
            (Flags::WRITE, "write"),
            (Flags::READONLY, "readonly"),
            (Flags::DENYOOM, "denyoom"),
            (Flags::ADMIN, "admin"),
            (Flags::PUBSUB, "pubsub"),
            (Flags::NO_AUTH, "no_auth"),
            (Flags::FAST, "fast"),
            (Flags::NO_MULTI, "no_multi"),
            (Flags::MAY_REPLICATE, "may_replicate"),
            (Flags::NO_MANDATORY_KEYS, "no_mandatory_keys"),
            (Flags::NO_SCRIPT, "noscript"),
            (Flags::ALLOW_BUSY, "allow_busy"),
            (Flags::BLOCKING, "blocking"),
        ]
        .into_iter()
        .filter(move |(flag, _)| self.contains(*flag))
        .map(|(_, name)| name)
    }
}

pub use keyspec::{specs, KeyFlags, KeySpec};

pub type Handler = fn(&mut Ctx<'_>, &Args<'_>);

/// One entry of the command table.
pub struct Command {
    /// Lower-case name, as Redis reports it in errors and COMMAND.
    pub name: &'static str,
    /// Redis arity: `n` means exactly n arguments (name included), `-n` at
    /// least n.
    pub arity: i32,
    pub flags: Flags,
    /// Which arguments are keys, and what the command does to them.
    pub keys: &'static [KeySpec],
    /// ACL category, e.g. `string`, `keyspace`, `connection`.
    pub group: &'static str,
    pub run: Handler,
}

/// The commands of one ACL category (`group`), for building their table
/// entries: `LIST.command("lpush", -3, WF, INSERT, lpush)`.
pub struct Family(pub &'static str);

impl Family {
    pub const fn command(
        &self,
        name: &'static str,
        arity: i32,
        flags: Flags,
        keys: &'static [KeySpec],
        run: Handler,
    ) -> Command {
        Command { name, arity, flags, keys, group: self.0, run }
    }
}

/// The flag sets the collection families' tables share.
pub mod family_flags {
    use super::Flags;

    pub const R: Flags = Flags::READONLY;
    pub const RF: Flags = R.with(Flags::FAST);
    /// Writes that may add data: refused when memory is full.
    pub const W: Flags = Flags::WRITE.with(Flags::DENYOOM);
    pub const WF: Flags = W.with(Flags::FAST);
    /// Writes that never add data: not refused when memory is full.
    pub const WRITE: Flags = Flags::WRITE;
    pub const WRITE_FAST: Flags = WRITE.with(Flags::FAST);
    /// Blocking pops, which scripts may not call (Redis 7.0's `noscript`).
    pub const BLOCKING: Flags = WRITE.with(Flags::BLOCKING).with(Flags::NO_SCRIPT);
    /// Blocking moves, which add to their destination.
    pub const BLOCKING_W: Flags = W.with(Flags::BLOCKING).with(Flags::NO_SCRIPT);
}

/// One subcommand of a container command (CLIENT, COMMAND, CONFIG).
pub struct Subcommand {
    /// Lower-case name.
    pub name: &'static str,
    /// Arity counted over the whole command line, as Redis does.
    pub arity: i32,
    pub run: Handler,
}

/// Does an argument count satisfy a Redis arity?
pub fn accepts(arity: i32, argc: usize) -> bool {
    let argc = argc as i64;
    let arity = i64::from(arity);
    if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

/// Per-connection state that commands read and change.
#[derive(Debug)]
pub struct Session {
    pub id: u64,
    pub db: usize,
    pub authenticated: bool,
    /// What CLIENT LIST shows of this connection (name and libraries too).
    pub client: Arc<ClientInfo>,
    /// Set by QUIT: flush the reply, then close.
    pub close_after_reply: bool,
    /// Commands queued since MULTI.
    pub multi: Option<transactions::Multi>,
    /// Keys this client WATCHes.
    pub watch: Option<crate::store::watch::WatchSet>,
    /// `client_commands_per_second`.
    pub rate: crate::rate::RateLimit,
    /// CLIENT REPLY: whether replies are sent.
    pub reply: connection::ReplyMode,
    /// Set by a blocking command that found nothing to serve (see
    /// [`Ctx::block`]); the connection then blocks the client.
    pub block: Option<BlockRequest>,
    /// EXEC is running this client's queued commands: a blocking command
    /// answers at once instead of blocking.
    pub in_exec: bool,
    /// Where the connection lives: its worker and its slot there (where
    /// other threads send its wakeups).
    pub worker: usize,
    pub token: usize,
    /// The client's subscriptions and mailbox, from its first subscription
    /// on (see `crate::pubsub`).
    pub pubsub: Option<Box<crate::pubsub::Subscriber>>,
    /// Where the pushes written before or by the running command (messages
    /// drained from its mailbox, (un)subscribe confirmations) end, as an
    /// output position: CLIENT REPLY OFF or SKIP drops its reply but sends
    /// those anyway (0: none). Reset after each command.
    pub pushed_until: usize,
    /// The session of a script's `redis.call` (SORT orders a set it is
    /// told not to sort, as Redis does for scripts).
    pub in_script: bool,
    /// Invalidations its commands sent other clients, which its replies
    /// wait for (see `crate::tracking::barrier`).
    pub barrier: crate::tracking::barrier::Barrier,
}

/// What a blocking command waits for (see `crate::blocking`).
#[derive(Debug)]
pub struct BlockRequest {
    pub keys: Vec<Vec<u8>>,
    /// The kind of value that serves it.
    pub kind: crate::store::Kind,
    /// Unix ms; None waits for ever.
    pub deadline: Option<u64>,
    /// The blocked command's id in the table (set by [`execute`]), for its
    /// statistics when it ends without being served.
    pub command: usize,
}

impl Session {
    /// `commands_per_second` limits what the client may run (0: no limit).
    /// The connection is at `token` in worker `worker`.
    pub fn new(
        client: Arc<ClientInfo>,
        authenticated: bool,
        commands_per_second: u32,
        (worker, token): (usize, usize),
    ) -> Self {
        Self {
            id: client.id,
            db: 0,
            authenticated,
            client,
            close_after_reply: false,
            multi: None,
            watch: None,
            rate: crate::rate::RateLimit::new(commands_per_second, crate::clock::now_ms()),
            reply: connection::ReplyMode::On,
            block: None,
            in_exec: false,
            worker,
            token,
            pubsub: None,
            pushed_until: 0,
            in_script: false,
            barrier: Default::default(),
        }
    }

    /// The session a script's commands run in: the caller's client and
    /// database, nothing queued or watched or subscribed, no rate limit.
    pub fn for_script(caller: &Session) -> Self {
        let mut session = Self::new(Arc::clone(&caller.client), true, 0, (caller.worker, caller.token));
        session.db = caller.db;
        session.in_script = true;
        session
    }

    pub fn addr(&self) -> Option<SocketAddr> {
        self.client.addr
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.client.set_db(db);
    }

    /// After a command whose reply starts where [`ReplyBuffer::pending`]
    /// was `mark`: take that reply back if CLIENT REPLY drops it (see
    /// [`connection::ReplyMode`]), but not the pushes it wrote.
    pub fn after_command(&mut self, out: &mut ReplyBuffer, mark: usize) {
        let pushed_until = std::mem::take(&mut self.pushed_until);
        if self.reply != connection::ReplyMode::On {
            self.reply.after_command(out, mark.max(pushed_until));
        }
    }

    /// Subscribed to any channel, pattern or shard channel.
    pub fn is_subscribed(&self) -> bool {
        self.pubsub.as_ref().is_some_and(|subscriber| subscriber.total() > 0)
    }
}

/// Everything a command implementation may use.
pub struct Ctx<'a> {
    pub server: &'a Server,
    pub session: &'a mut Session,
    pub out: &'a mut ReplyBuffer,
    pub stats: &'a WorkerStats,
    /// The time every command of this batch sees (unix ms).
    pub now: u64,
}

impl<'a> Ctx<'a> {
    /// Reply with an error and count it.
    pub fn error(&mut self, msg: &str) {
        self.stats.count_error(msg);
        self.out.error(msg);
    }

    /// A HELP reply: one status line per entry.
    pub fn help(&mut self, lines: &[&str]) {
        self.out.array(lines.len());
        lines.iter().for_each(|line| self.out.simple(line));
    }

    /// The selected database.
    pub fn db(&self) -> &crate::store::Table {
        self.server.store.db(self.session.db)
    }

    /// Count a read of `key` as Redis's `lookupKeyRead` does: a keyspace
    /// hit or miss for INFO, and a miss is a `keymiss` event.
    pub fn count_lookup(&self, key: &[u8], hit: bool) {
        self.count_lookup_stats(hit);
        if !hit {
            self.notify(Event::KEYMISS, key);
        }
    }

    /// Count a key lookup for INFO's keyspace_hits / keyspace_misses only
    /// (for a command that reports its `keymiss` itself, in its place
    /// among its other events).
    pub fn count_lookup_stats(&self, hit: bool) {
        if hit {
            self.stats.keyspace_hits.incr();
        } else {
            self.stats.keyspace_misses.incr();
        }
    }

    /// The keyspace notifications of the selected database, to report
    /// events from code that holds other parts of the context.
    pub fn events(&self) -> Events<'a> {
        self.events_of(self.session.db)
    }

    /// The keyspace notifications of database `db` (MOVE, COPY ... DB).
    pub fn events_of(&self, db: usize) -> Events<'a> {
        Events::new(&self.server.notify, db)
    }

    /// Report a keyspace event on `key` of the selected database: one
    /// relaxed load and a branch while its class is off (see
    /// `crate::notify`).
    #[inline]
    pub fn notify(&self, event: Event, key: &[u8]) {
        self.server.notify.notify(self.session.db, event, key);
    }

    /// Look at `key` under the read lock, counting the lookup as a keyspace
    /// hit or miss. `f` gets the entry (None if there is no key) and the
    /// reply buffer; if it finds the key of another type, the reply is
    /// WRONGTYPE and the result None.
    pub fn read_key<R>(
        &mut self,
        key: &[u8],
        f: impl FnOnce(Option<&crate::store::EntryRef<'_>>, &mut ReplyBuffer) -> Result<R, crate::store::WrongType>,
    ) -> Option<R> {
        let db = self.server.store.db(self.session.db);
        let out = &mut *self.out;
        let (hit, result) = db.view(key, self.now, |entry| (entry.is_some(), f(entry.as_ref(), out)));
        self.count_lookup(key, hit);
        if result.is_err() {
            self.error(WRONGTYPE);
        }
        result.ok()
    }

    /// Look at the collection of type `T` at `key` under the read lock
    /// (None if there is no key), counting the lookup. Replies WRONGTYPE,
    /// and returns None, for another type.
    pub fn read_collection<T: Collection, R>(
        &mut self,
        key: &[u8],
        f: impl FnOnce(Option<&T>, &mut ReplyBuffer) -> R,
    ) -> Option<R> {
        self.read_key(key, |entry, out| Ok(f(entry.map(|e| e.collection::<T>()).transpose()?, out)))
    }

    /// Change the collection of type `T` at `key` under the write lock,
    /// creating it first if `create` (see
    /// [`crate::store::SlotMut::update_collection`]), and report `event` if
    /// `f` says it changed the collection, then `del` if that emptied it
    /// (see [`Events::notify_change`]). `Some(None)`: no key. None after
    /// replying WRONGTYPE.
    ///
    /// The events are reported before the key's lock is let go: a client
    /// blocked on the key, woken by the change, only pops once they are
    /// out, so its own events follow them, as in Redis.
    pub fn update_collection<T: Collection, R>(
        &mut self,
        key: &[u8],
        create: bool,
        event: Event,
        f: impl FnOnce(&mut T, &mut ReplyBuffer) -> (R, bool),
    ) -> Option<Option<R>> {
        let events = self.events();
        self.change_collection(key, create, f, |_, change| events.notify_change(event, key, change))
    }

    /// [`Ctx::update_collection`] for a command whose events depend on
    /// what `f` did: `report` gets its result and what the update did to
    /// the key, under the key's lock, to report them.
    pub fn change_collection<T: Collection, R>(
        &mut self,
        key: &[u8],
        create: bool,
        f: impl FnOnce(&mut T, &mut ReplyBuffer) -> (R, bool),
        report: impl FnOnce(&R, Change),
    ) -> Option<Option<R>> {
        let db = self.server.store.db(self.session.db);
        let out = &mut *self.out;
        let mut changed = false;
        let result = db.update(key, self.now, |slot| {
            let result = slot.update_collection(create, |c| {
                let (result, change) = f(c, out);
                changed = change;
                (result, change)
            })?;
            if let Some(result) = &result {
                report(result, Change { changed, removed: !slot.exists() });
            }
            Ok::<_, crate::store::WrongType>(result)
        });
        if result.is_err() {
            self.error(WRONGTYPE);
        }
        result.ok()
    }

    /// Whether a blocking command may block here (not inside MULTI/EXEC).
    pub fn may_block(&self) -> bool {
        !self.session.in_exec
    }

    /// Block the client on `keys` until one holds a value of `kind` or
    /// `deadline` passes: the command replies nothing now, and runs again
    /// when a key is ready (see `crate::blocking`).
    pub fn block(&mut self, keys: Vec<Vec<u8>>, kind: crate::store::Kind, deadline: Option<u64>) {
        self.session.block = Some(BlockRequest { keys, kind, deadline, command: 0 });
    }

    /// A blocking command's timeout, in seconds with fractions (Redis's
    /// `getTimeoutFromObjectOrReply`): the deadline in unix ms, None for 0
    /// (wait for ever). Replies with Redis's error and returns None if the
    /// argument is bad.
    pub fn timeout_arg(&mut self, arg: &[u8]) -> Option<Option<u64>> {
        let error = match long_double::LongDouble::parse(arg).map(|seconds| seconds.to_f64() * 1000.0) {
            None => "ERR timeout is not a float or out of range",
            Some(ms) if ms.is_nan() => "ERR timeout is not a float or out of range",
            Some(ms) if ms > i64::MAX as f64 => "ERR timeout is out of range",
            Some(ms) if ms.ceil() < 0.0 => "ERR timeout is negative",
            Some(ms) if ms.ceil() == 0.0 => return Some(None),
            Some(ms) => match (ms.ceil() as u64).checked_add(self.now).filter(|&d| d <= i64::MAX as u64) {
                Some(deadline) => return Some(Some(deadline)),
                None => "ERR timeout is out of range",
            },
        };
        self.error(error);
        None
    }

    /// Block on `keys` until one holds a `kind` (see [`Ctx::block`]) or,
    /// where a command may not block (inside MULTI), reply as its timeout
    /// would, with `null` (`null_array` for the pops, the null bulk string
    /// for the moves).
    pub fn block_or(
        &mut self,
        keys: &[&[u8]],
        kind: crate::store::Kind,
        deadline: Option<u64>,
        null: fn(&mut ReplyBuffer),
    ) {
        if self.may_block() {
            self.block(keys.iter().map(|k| k.to_vec()).collect(), kind, deadline);
        } else {
            null(self.out);
        }
    }

    /// Parse argument `i` as an integer, replying with Redis's error if it
    /// is not one.
    pub fn integer_arg(&mut self, args: &Args<'_>, i: usize) -> Option<i64> {
        let value = crate::protocol::parse::parse_i64(args.get(i));
        if value.is_none() {
            self.error(NOT_AN_INTEGER);
        }
        value
    }
}

/// Every command Redistill knows, in COMMAND order.
pub fn all() -> impl Iterator<Item = &'static Command> {
    connection::COMMANDS
        .iter()
        .chain(strings::COMMANDS)
        .chain(bits::COMMANDS)
        .chain(lcs::COMMANDS)
        .chain(keys::COMMANDS)
        .chain(server::COMMANDS)
        .chain(admin::COMMANDS)
        .chain(info::COMMANDS)
        .chain(config::COMMANDS)
        .chain(transactions::COMMANDS)
        .chain(keyspace::COMMANDS)
        .chain(dump::COMMANDS)
        .chain(hashes::COMMANDS)
        .chain(scripting::COMMANDS)
        .chain(sets::COMMANDS)
        .chain(zsets::COMMANDS)
        .chain(lists::COMMANDS)
        .chain(functions::COMMANDS)
        .chain(sort::COMMANDS)
        .chain(pubsub::COMMANDS)
        .chain(cluster::COMMANDS)
}

/// Names longer than this cannot be commands.
const MAX_NAME_LEN: usize = 32;

/// Commands by name length and first letter, each entry with its position
/// in [`all`] (the command's stable id for per-command statistics). A
/// bucket holds one or two names, so a lookup compares the name with those,
/// case-insensitively, and neither copies nor hashes it: this runs for
/// every command received.
struct Index {
    buckets: Vec<Vec<(usize, &'static Command)>>,
}

impl Index {
    fn build() -> Self {
        let mut buckets = vec![Vec::new(); (MAX_NAME_LEN + 1) * 26];
        for (id, command) in all().enumerate() {
            if let Some(bucket) = Self::bucket(command.name.as_bytes()) {
                buckets[bucket].push((id, command));
            }
        }
        Self { buckets }
    }

    /// Every command name is at most [`MAX_NAME_LEN`] bytes and starts
    /// with a letter (a test checks).
    fn bucket(name: &[u8]) -> Option<usize> {
        let first = name.first()?.to_ascii_lowercase();
        (name.len() <= MAX_NAME_LEN && first.is_ascii_lowercase()).then(|| name.len() * 26 + usize::from(first - b'a'))
    }

    fn get(&self, name: &[u8]) -> Option<(usize, &'static Command)> {
        let bucket = &self.buckets[Self::bucket(name)?];
        // Names in a bucket have the input's length and are lower case.
        let is = |command: &Command| command.name.bytes().zip(name).all(|(c, &n)| c == n.to_ascii_lowercase());
        bucket.iter().find(|(_, command)| is(command)).copied()
    }
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(Index::build)
}

/// Find a command by name, case-insensitively, without allocating.
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    lookup_with_id(name).map(|(_, command)| command)
}

/// A command found by name, with its position in [`all`] (its id for
/// per-command statistics); None for an unknown name.
pub type Found = Option<(usize, &'static Command)>;

/// [`lookup`], also returning the command's position in [`all`]. The
/// network layer looks each request up once and hands the result to
/// [`dispatch`].
pub fn lookup_with_id(name: &[u8]) -> Found {
    index().get(name)
}

/// What [`dispatch`] did with a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatched {
    /// It ran, or was refused, and its reply is written.
    Done,
    /// CLIENT PAUSE holds it: nothing was done, and the connection must
    /// offer it again once the pause ends.
    Held,
}

/// Run one parsed command from a client (`found` is its name looked up)
/// and write its reply, unless a CLIENT PAUSE holds it. As in Redis, a
/// command that is refused anyway (unknown, wrong arity, not
/// authenticated...) is answered at once.
pub fn dispatch(ctx: &mut Ctx<'_>, args: &Args<'_>, found: Found) -> Dispatched {
    if ctx.session.pubsub.is_some() && pubsub::before_command(ctx, args, found) {
        return Dispatched::Done;
    }
    let pause = &ctx.server.pause;
    if pause.holds(true, ctx.now) {
        if let Some((_, command)) = found {
            let refused = refusal(ctx, command, args).is_some();
            if !refused && pause.holds(may_write(ctx, command), ctx.now) {
                return Dispatched::Held;
            }
        }
    }
    let scope = tracking::open_scope(ctx);
    run_command(ctx, args, found);
    tracking::close_scope(ctx, scope, args);
    Dispatched::Done
}

/// Whether a command may change the dataset, for CLIENT PAUSE WRITE: the
/// table's WRITE and MAY_REPLICATE flags, and for EXEC those of the
/// commands it would run.
fn may_write(ctx: &Ctx<'_>, command: &Command) -> bool {
    let writes = Flags::WRITE.with(Flags::MAY_REPLICATE);
    command.flags.intersects(writes)
        || (command.flags.contains(Flags::ENDS_MULTI)
            && ctx.session.multi.as_ref().is_some_and(|multi| multi.flags().intersects(writes)))
}

/// Why a command is refused before it runs.
pub(crate) enum Refusal {
    /// It fails one of the checks every command goes through.
    Check(std::borrow::Cow<'static, str>),
    /// Cluster mode: its keys are not all served here.
    Redirect(crate::cluster::Redirect),
}

/// Why a command must be refused before it runs, if it must: the checks
/// Redis makes before a pause can hold it, in Redis's order.
pub(crate) fn refusal(ctx: &Ctx<'_>, command: &Command, args: &Args<'_>) -> Option<Refusal> {
    let check = |text: &'static str| Some(Refusal::Check(text.into()));
    // Redis checks arity before authentication.
    if !accepts(command.arity, args.len()) {
        return Some(Refusal::Check(arity_message(command.name).into()));
    }
    if !ctx.session.authenticated && !command.flags.contains(Flags::NO_AUTH) {
        return check(NOAUTH);
    }
    if ctx.session.multi.is_some() && command.flags.contains(Flags::NO_MULTI) {
        return check("ERR Command not allowed inside a transaction");
    }
    // The queued commands EXEC runs were routed when EXEC came.
    if ctx.server.cluster.is_some() && !ctx.session.in_exec {
        if let Err(redirect) = cluster::route(ctx, command, args) {
            return Some(Refusal::Redirect(redirect));
        }
    }
    if command.flags.contains(Flags::DENYOOM) && ctx.server.must_refuse_writes() {
        return check(OOM);
    }
    None
}

/// Run one command (from a client, or queued by MULTI) and write its reply.
///
/// Statistics as Redis keeps them: a command refused before it runs (wrong
/// arity, not authenticated) counts as rejected; one that runs is timed
/// (two clock reads) and counts as failed if it replied with an error.
pub fn run_command(ctx: &mut Ctx<'_>, args: &Args<'_>, found: Found) {
    ctx.stats.commands_processed.incr();
    let Some((id, command)) = found else {
        let msg = unknown_command_message(args);
        fail_transaction(ctx);
        ctx.stats.count_error("ERR");
        return ctx.out.error_bytes(&msg);
    };
    match refusal(ctx, command, args) {
        Some(Refusal::Check(msg)) => return reject(ctx, id, &msg),
        Some(Refusal::Redirect(redirect)) => return redirect_client(ctx, id, command, &redirect),
        None => {}
    }
    if !ctx.session.rate.admit(ctx.now) {
        return reject(ctx, id, "ERR max commands per second reached for this client, try again later");
    }
    if let Some(multi) = &mut ctx.session.multi {
        if !command.flags.contains(Flags::NO_QUEUE) {
            multi.queue(args, command.flags);
            return ctx.out.simple("QUEUED");
        }
    }
    execute(ctx, id, command, args);
}

/// Run a command that passed its checks, timed, into the slow log and the
/// per-command statistics (for clients and for scripts alike).
pub fn execute(ctx: &mut Ctx<'_>, id: usize, command: &Command, args: &Args<'_>) {
    ctx.session.client.note_command(id, ctx.now);
    let errors_before = ctx.stats.error_replies.get();
    let read = tracking::before_read(ctx, command, args);
    let started = crate::clock::command_ticks();
    (command.run)(ctx, args);
    if let Some(read) = read {
        tracking::after_read(ctx, read);
    }
    let elapsed_ns = crate::clock::ticks_to_ns(crate::clock::command_ticks().saturating_sub(started));
    ctx.server.slowlog.record(elapsed_ns, args, || {
        let names = ctx.session.client.names();
        let addr = ctx.session.addr().map(|a| a.to_string()).unwrap_or_default();
        (addr, names.name.as_deref().map(String::from_utf8_lossy).unwrap_or_default().into_owned())
    });
    // A command that blocked is counted when it finally answers: served
    // (here, when it runs again), or as its wait ends (the connection's).
    match &mut ctx.session.block {
        Some(block) => block.command = id,
        // `>`, not `!=`: CONFIG RESETSTAT zeroes the counter while it runs.
        None => ctx.stats.record_command(id, elapsed_ns, ctx.stats.error_replies.get() > errors_before),
    }
}

/// A command received while a script runs past the busy threshold
/// holding every worker: the few that are allowed then (SCRIPT KILL,
/// SHUTDOWN, connection commands) run, every other one is answered BUSY.
pub fn dispatch_busy(ctx: &mut Ctx<'_>, args: &Args<'_>, found: Found) -> Dispatched {
    match found {
        Some((id, command)) if !command.flags.contains(Flags::ALLOW_BUSY) => {
            ctx.stats.commands_processed.incr();
            reject(ctx, id, ctx.server.scripts.run.busy_error());
            Dispatched::Done
        }
        _ => dispatch(ctx, args, found),
    }
}

/// Whether this command must run with every worker's gate held: a script
/// (outside MULTI, where it would only be queued), or the command that
/// ends a transaction (EXEC) inside MULTI.
pub fn needs_exclusive(found: Found, in_multi: bool) -> bool {
    found.is_some_and(|(_, c)| {
        let flag = if in_multi { Flags::ENDS_MULTI } else { Flags::EXCLUSIVE };
        c.flags.contains(flag)
    })
}

/// Refuse a command before it runs; inside MULTI this also dooms the
/// transaction to EXECABORT.
pub(crate) fn reject(ctx: &mut Ctx<'_>, id: usize, msg: &str) {
    ctx.stats.record_rejected(id);
    if all().nth(id).is_some_and(|c| c.flags.contains(Flags::ENDS_MULTI)) {
        // A malformed EXEC ends the transaction (and drops the WATCHes),
        // as in Redis, which answers EXECABORT even outside MULTI.
        ctx.session.multi = None;
        ctx.session.watch = None;
        let reason = msg.strip_prefix("ERR ").unwrap_or(msg);
        return ctx.error(&format!("EXECABORT Transaction discarded because of: {reason}"));
    }
    fail_transaction(ctx);
    ctx.error(msg);
}

/// Answer a command whose keys this cluster node does not serve (Redis's
/// `clusterRedirectClient`): inside MULTI the transaction is doomed to
/// EXECABORT; EXEC itself discards the transaction and answers with the
/// redirection.
fn redirect_client(ctx: &mut Ctx<'_>, id: usize, command: &Command, redirect: &crate::cluster::Redirect) {
    ctx.stats.record_rejected(id);
    if command.flags.contains(Flags::ENDS_MULTI) {
        ctx.session.multi = None;
        ctx.session.watch = None;
    } else {
        fail_transaction(ctx);
    }
    ctx.error(&redirect.error());
}

fn fail_transaction(ctx: &mut Ctx<'_>) {
    if let Some(multi) = &mut ctx.session.multi {
        multi.fail();
    }
}

pub fn arity_message(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// Redis's text, which clients match on to detect missing commands:
/// `ERR unknown command 'x', with args beginning with: 'a' 'b' `. Like
/// Redis's `%.128s`, names and arguments are raw bytes cut at a NUL, and
/// the argument list stops growing at 128 bytes.
fn unknown_command_message(args: &Args<'_>) -> Vec<u8> {
    let c_string =
        |arg: &[u8], limit: usize| -> Vec<u8> { arg.iter().take_while(|&&b| b != 0).take(limit).copied().collect() };
    let mut listed = Vec::new();
    for arg in args.iter().skip(1) {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        listed.push(b'\'');
        listed.extend(c_string(arg, room));
        listed.extend_from_slice(b"' ");
    }
    let mut message = b"ERR unknown command '".to_vec();
    message.extend(c_string(args.get(0), 128));
    message.extend_from_slice(b"', with args beginning with: ");
    message.extend(listed);
    message
}

/// Run the subcommand named by `args[1]`, with Redis's errors for an
/// unknown one (`ERR unknown subcommand ...`) and for a wrong argument
/// count (`... for 'client|setname' command`).
pub fn dispatch_subcommand(ctx: &mut Ctx<'_>, args: &Args<'_>, parent: &str, table: &[Subcommand]) {
    let Some(sub) = table.iter().find(|s| is(args.get(1), s.name)) else {
        return unknown_subcommand(ctx, args);
    };
    if !accepts(sub.arity, args.len()) {
        return ctx.error(&arity_message(&format!("{parent}|{}", sub.name)));
    }
    (sub.run)(ctx, args);
}

/// `ERR unknown subcommand 'x'. Try CLIENT HELP.`
fn unknown_subcommand(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let sub: String = String::from_utf8_lossy(args.get(1)).chars().take(128).collect();
    let cmd = String::from_utf8_lossy(args.get(0)).to_ascii_uppercase();
    ctx.error(&format!("ERR unknown subcommand '{sub}'. Try {cmd} HELP."));
}

/// Redis's answer to a subcommand it knows given arguments it does not
/// take: `ERR unknown subcommand or wrong number of arguments for 'x'.
/// Try CLIENT HELP.`
pub fn subcommand_syntax_error(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let sub: String = String::from_utf8_lossy(args.get(1)).chars().take(128).collect();
    let cmd = String::from_utf8_lossy(args.get(0)).to_ascii_uppercase();
    ctx.error(&format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {cmd} HELP."));
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lower_case() {
        let mut seen = std::collections::HashSet::new();
        for command in all() {
            assert!(seen.insert(command.name), "duplicate {}", command.name);
            assert_eq!(command.name, command.name.to_ascii_lowercase());
        }
        assert!(lookup(b"GeT").is_some());
        assert!(lookup(b"nope").is_none());
    }

    #[test]
    fn every_command_is_found_by_its_name_in_any_case() {
        for (id, command) in all().enumerate() {
            assert!(Index::bucket(command.name.as_bytes()).is_some(), "{} cannot be indexed", command.name);
            let upper = command.name.to_ascii_uppercase();
            assert_eq!(lookup_with_id(upper.as_bytes()).map(|(i, _)| i), Some(id), "{}", command.name);
        }
        for name in [&b""[..], b"1get", b"\xffget", &[b'g'; MAX_NAME_LEN + 1], b"ge", b"gett"] {
            assert!(lookup(name).is_none());
        }
    }

    #[test]
    fn unknown_command_text_matches_redis() {
        let buf = b"foo a b";
        let ranges = [0..3, 4..5, 6..7];
        let args = Args::new(buf, &ranges);
        assert_eq!(unknown_command_message(&args), b"ERR unknown command 'foo', with args beginning with: 'a' 'b' ");
        let raw = b"f\xbd\x00x \xff";
        let ranges = [0..4, 5..6];
        assert_eq!(
            unknown_command_message(&Args::new(raw, &ranges)),
            b"ERR unknown command 'f\xbd', with args beginning with: '\xff' "
        );
    }
}
