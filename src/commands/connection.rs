//! Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT and CLIENT.

use super::{arity_message, dispatch_subcommand, is, specs, subcommand_syntax_error, Command, Ctx, Flags, Subcommand};
use crate::inbox::UnblockReason;
use crate::pause::PauseMode;
use crate::protocol::parse::parse_i64;
use crate::protocol::{Args, Protocol};
use crate::server::REDIS_VERSION;

const CONN: Flags = Flags::FAST;
const CONN_NO_AUTH: Flags = Flags::FAST.with(Flags::NO_AUTH);
/// HELLO, AUTH and QUIT: not from scripts, but allowed while one is busy.
const CONN_SESSION: Flags = CONN_NO_AUTH.with(Flags::NO_SCRIPT).with(Flags::ALLOW_BUSY);

pub static COMMANDS: &[Command] = &[
    Command {
        name: "ping",
        arity: -1,
        flags: CONN.with(Flags::SUBSCRIBED_CONTEXT),
        keys: specs::NONE,
        group: "connection",
        run: ping,
    },
    Command { name: "echo", arity: 2, flags: CONN, keys: specs::NONE, group: "connection", run: echo },
    Command {
        name: "quit",
        arity: -1,
        flags: CONN_SESSION.with(Flags::NO_QUEUE).with(Flags::SUBSCRIBED_CONTEXT),
        keys: specs::NONE,
        group: "connection",
        run: quit,
    },
    Command { name: "hello", arity: -1, flags: CONN_SESSION, keys: specs::NONE, group: "connection", run: hello },
    Command { name: "auth", arity: -2, flags: CONN_SESSION, keys: specs::NONE, group: "connection", run: auth },
    Command { name: "select", arity: 2, flags: CONN, keys: specs::NONE, group: "connection", run: select },
    Command {
        name: "client",
        arity: -2,
        flags: Flags::NO_SCRIPT.with(Flags::CONTAINER),
        keys: specs::NONE,
        group: "connection",
        run: client,
    },
];

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// PING [message]. A RESP2 client subscribed to something gets
/// `["pong", message or ""]`, as Redis answers it there.
fn ping(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if args.len() > 2 {
        return ctx.error(&arity_message("ping"));
    }
    if ctx.out.protocol == Protocol::Resp2 && ctx.session.is_subscribed() {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        return ctx.out.bulk(if args.len() == 2 { args.get(1) } else { b"" });
    }
    match args.len() {
        1 => ctx.out.simple("PONG"),
        _ => ctx.out.bulk(args.get(1)),
    }
}

/// ECHO message
fn echo(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    ctx.out.bulk(args.get(1));
}

/// QUIT: reply OK, then close once the reply is written. The client
/// leaves its channels now, so that whoever it tells it quit sees them
/// gone.
fn quit(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    leave_pubsub(ctx);
    ctx.out.ok();
    ctx.session.close_after_reply = true;
}

/// Leave every channel, pattern and shard channel, without confirmations
/// (QUIT, RESET).
pub(super) fn leave_pubsub(ctx: &mut Ctx<'_>) {
    if let Some(subscriber) = ctx.session.pubsub.as_deref_mut() {
        ctx.server.pubsub.unsubscribe_everything(subscriber);
    }
}

/// Check credentials for the `default` user (the only user there is).
fn credentials_valid(ctx: &Ctx<'_>, user: &[u8], password: &[u8]) -> bool {
    user == b"default" && ctx.server.check_password(password)
}

/// AUTH [username] password
fn auth(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if args.len() > 3 {
        return ctx.error(super::SYNTAX_ERROR);
    }
    if args.len() == 2 && !ctx.server.requires_auth() {
        return ctx.error(
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        );
    }
    let (user, password) = if args.len() == 3 { (args.get(1), args.get(2)) } else { (&b"default"[..], args.get(1)) };
    if credentials_valid(ctx, user, password) {
        ctx.session.authenticated = true;
        ctx.out.ok();
    } else {
        log_failed_auth(ctx, "AUTH");
        ctx.error(WRONGPASS);
    }
}

/// Log a failed AUTH at most once a second, with the number of failures
/// left out since the previous line: a client guessing passwords must not
/// be able to flood the log (or slow the server down writing it).
fn log_failed_auth(ctx: &Ctx<'_>, what: &str) {
    static THROTTLE: crate::log::Throttle = crate::log::Throttle::new();
    if !crate::log::enabled(crate::config::LogLevel::Warn) {
        return;
    }
    match THROTTLE.check(crate::clock::now_ms()) {
        None => {}
        Some(0) => crate::log_warn!("failed {what} from {}", peer(ctx)),
        Some(n) => {
            crate::log_warn!("failed {what} from {} ({n} more failed AUTH suppressed since the last report)", peer(ctx))
        }
    }
}

fn peer(ctx: &Ctx<'_>) -> String {
    ctx.session.addr().map_or_else(|| "unknown".into(), |a| a.to_string())
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
fn hello(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let mut protocol = ctx.out.protocol;
    if args.len() >= 2 {
        match parse_i64(args.get(1)) {
            None => return ctx.error("ERR Protocol version is not an integer or out of range"),
            Some(2) => protocol = Protocol::Resp2,
            Some(3) => protocol = Protocol::Resp3,
            Some(_) => return ctx.error("NOPROTO unsupported protocol version"),
        }
    }
    let mut name = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(args.get(i), "AUTH") && more >= 2 {
            if !credentials_valid(ctx, args.get(i + 1), args.get(i + 2)) {
                log_failed_auth(ctx, "AUTH (HELLO)");
                return ctx.error(WRONGPASS);
            }
            ctx.session.authenticated = true;
            i += 3;
        } else if is(args.get(i), "SETNAME") && more >= 1 {
            name = Some(args.get(i + 1));
            i += 2;
        } else {
            let option = String::from_utf8_lossy(args.get(i));
            return ctx.error(&format!("ERR Syntax error in HELLO option '{option}'"));
        }
    }
    if !ctx.session.authenticated {
        return ctx.error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> \
             AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol \
             version at the same time",
        );
    }
    if let Some(name) = name {
        if !set_client_name(ctx, name) {
            return;
        }
    }
    ctx.out.protocol = protocol;
    ctx.session.client.set_resp(if protocol == Protocol::Resp3 { 3 } else { 2 });
    if protocol == Protocol::Resp3 {
        // A RESP3 client can be sent pushes at any time (the invalidations
        // of clients that redirect theirs to it): it gets its mailbox now.
        super::pubsub::subscriber_of(ctx.session, ctx.server);
    }
    hello_reply(ctx, protocol);
}

fn hello_reply(ctx: &mut Ctx<'_>, protocol: Protocol) {
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.integer(if protocol == Protocol::Resp3 { 3 } else { 2 });
    out.bulk(b"id");
    out.integer(ctx.session.id as i64);
    out.bulk(b"mode");
    out.bulk(ctx.server.mode().as_bytes());
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
}

/// SELECT index
fn select(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    // A cluster node has only database 0: any other valid C int is refused
    // before the range check, as in Redis.
    let other_db = crate::protocol::parse::parse_i64(args.get(1)).is_some_and(|n| n != 0 && i32::try_from(n).is_ok());
    if other_db && ctx.server.cluster.is_some() {
        return ctx.error("ERR SELECT is not allowed in cluster mode");
    }
    let Some(index) = super::keyspace::db_index(ctx, args.get(1), super::keyspace::DB_INDEX) else { return };
    ctx.session.select(index);
    ctx.out.ok();
}

const CLIENT_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "id", arity: 2, run: |ctx, _| ctx.out.integer(ctx.session.id as i64) },
    Subcommand { name: "getname", arity: 2, run: client_getname },
    Subcommand { name: "setname", arity: 3, run: client_setname },
    Subcommand { name: "setinfo", arity: 4, run: client_setinfo },
    Subcommand { name: "info", arity: 2, run: client_info },
    Subcommand { name: "list", arity: -2, run: client_list },
    Subcommand { name: "kill", arity: -3, run: client_kill },
    Subcommand { name: "no-evict", arity: 3, run: client_on_off },
    Subcommand { name: "no-touch", arity: 3, run: client_on_off },
    Subcommand { name: "reply", arity: 3, run: client_reply },
    Subcommand { name: "pause", arity: -3, run: client_pause },
    Subcommand { name: "unpause", arity: 2, run: client_unpause },
    Subcommand { name: "unblock", arity: -3, run: client_unblock },
    Subcommand { name: "tracking", arity: -3, run: super::tracking::client_tracking },
    Subcommand { name: "caching", arity: 3, run: super::tracking::client_caching },
    Subcommand { name: "getredir", arity: 2, run: super::tracking::client_getredir },
    Subcommand { name: "trackinginfo", arity: 2, run: super::tracking::client_trackinginfo },
    Subcommand { name: "help", arity: 2, run: client_help },
    Subcommand { name: "unblock", arity: -3, run: client_unblock },
];

/// CLIENT subcommand [arguments]
fn client(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    dispatch_subcommand(ctx, args, "client", CLIENT_SUBCOMMANDS);
}

/// CLIENT GETNAME
fn client_getname(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    let name = ctx.session.client.names().name.clone();
    match name {
        Some(name) => ctx.out.bulk(&name),
        None => ctx.out.null(),
    }
}

/// CLIENT SETNAME name
fn client_setname(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if set_client_name(ctx, args.get(2)) {
        ctx.out.ok();
    }
}

/// CLIENT INFO
fn client_info(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    let line = ctx.session.client.describe() + "\n";
    ctx.out.verbatim(&line);
}

/// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id [id ...]]
fn client_list(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let clients = ctx.server.clients.snapshot();
    let listed: Vec<_> = match args.len() {
        2 => clients,
        4 if is(args.get(2), "TYPE") => match client_type(ctx, args.get(3)) {
            Some(kind) => clients.into_iter().filter(|client| kind.includes(client)).collect(),
            None => return,
        },
        n if n > 3 && is(args.get(2), "ID") => {
            let Some(ids) = args.iter().skip(3).map(parse_i64).collect::<Option<Vec<i64>>>() else {
                return ctx.error("ERR Invalid client ID");
            };
            // In the order asked, as Redis lists them.
            ids.iter().filter_map(|&id| clients.iter().find(|c| i64::try_from(c.id) == Ok(id)).cloned()).collect()
        }
        _ => return ctx.error(super::SYNTAX_ERROR),
    };
    let mut text = String::new();
    for client in listed {
        text.push_str(&client.describe());
        text.push('\n');
    }
    ctx.out.verbatim(&text);
}

/// The client types of CLIENT LIST / KILL TYPE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientType {
    Normal,
    /// Subscribed to a channel, pattern or shard channel.
    Pubsub,
    /// `master` or `replica`/`slave`: no client here is one.
    Replication,
}

impl ClientType {
    fn includes(self, client: &crate::clients::ClientInfo) -> bool {
        match self {
            ClientType::Normal => !client.is_pubsub(),
            ClientType::Pubsub => client.is_pubsub(),
            ClientType::Replication => false,
        }
    }
}

/// A client type of CLIENT LIST / KILL TYPE, or None (after Redis's
/// error) for an unknown one.
fn client_type(ctx: &mut Ctx<'_>, name: &[u8]) -> Option<ClientType> {
    match () {
        _ if is(name, "normal") => Some(ClientType::Normal),
        _ if is(name, "pubsub") => Some(ClientType::Pubsub),
        _ if ["master", "replica", "slave"].iter().any(|t| is(name, t)) => Some(ClientType::Replication),
        _ => {
            let kind = String::from_utf8_lossy(name).into_owned();
            ctx.error(&format!("ERR Unknown client type '{kind}'"));
            None
        }
    }
}

/// Which clients a CLIENT KILL names.
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    skip_me: bool,
    kind: Option<ClientType>,
    /// Only clients connected at least this many seconds.
    max_age: Option<u64>,
}

impl Default for KillFilter {
    fn default() -> Self {
        Self { id: None, addr: None, laddr: None, skip_me: true, kind: None, max_age: None }
    }
}

impl KillFilter {
    fn matches(&self, client: &crate::clients::ClientInfo, me: bool) -> bool {
        let text = |a: Option<std::net::SocketAddr>| a.map(|a| a.to_string());
        self.kind.is_none_or(|kind| kind.includes(client))
            && self.id.is_none_or(|id| id == client.id)
            && self.addr.as_ref().is_none_or(|a| Some(a) == text(client.addr).as_ref())
            && self.laddr.as_ref().is_none_or(|a| Some(a) == text(client.local_addr).as_ref())
            && self.max_age.is_none_or(|age| client.age_secs() >= age)
            && !(me && self.skip_me)
    }
}

/// CLIENT KILL ip:port | CLIENT KILL [ID id] [ADDR ip:port] [LADDR ip:port]
/// [TYPE type] [USER username] [SKIPME yes/no] [MAXAGE seconds]
fn client_kill(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if args.len() == 3 {
        // The old form, which may kill the caller itself.
        let addr = String::from_utf8_lossy(args.get(2)).into_owned();
        let filter = KillFilter { addr: Some(addr), skip_me: false, ..KillFilter::default() };
        return match kill_matching(ctx, &filter) {
            0 => ctx.error("ERR No such client"),
            _ => ctx.out.ok(),
        };
    }
    let Some(filter) = parse_kill_filter(ctx, args) else { return };
    let killed = kill_matching(ctx, &filter);
    ctx.out.integer(killed as i64);
}

/// The option/value pairs of CLIENT KILL's new form, with Redis's errors.
fn parse_kill_filter(ctx: &mut Ctx<'_>, args: &Args<'_>) -> Option<KillFilter> {
    let mut filter = KillFilter::default();
    for pair in args.iter().skip(2).collect::<Vec<_>>().chunks(2) {
        let [name, value] = pair else {
            ctx.error(super::SYNTAX_ERROR);
            return None;
        };
        let text = String::from_utf8_lossy(value).into_owned();
        match () {
            _ if is(name, "ID") => match parse_i64(value).and_then(|n| u64::try_from(n).ok()).filter(|&n| n > 0) {
                Some(id) => filter.id = Some(id),
                None => return error(ctx, "ERR client-id should be greater than 0"),
            },
            _ if is(name, "MAXAGE") => match parse_i64(value) {
                None => return error(ctx, "ERR maxage is not an integer or out of range"),
                Some(age) if age <= 0 => return error(ctx, "ERR maxage should be greater than 0"),
                Some(age) => filter.max_age = u64::try_from(age).ok(),
            },
            _ if is(name, "TYPE") => filter.kind = Some(client_type(ctx, value)?),
            _ if is(name, "ADDR") => filter.addr = Some(text),
            _ if is(name, "LADDR") => filter.laddr = Some(text),
            // `default` is the only user, and every client's.
            _ if is(name, "USER") && text != "default" => return error(ctx, &format!("ERR No such user '{text}'")),
            _ if is(name, "USER") => {}
            _ if is(name, "SKIPME") && (is(value, "yes") || is(value, "no")) => filter.skip_me = is(value, "yes"),
            _ => return error(ctx, super::SYNTAX_ERROR),
        }
    }
    Some(filter)
}

/// Reply with an error; None, for parsers that stop there.
fn error<T>(ctx: &mut Ctx<'_>, msg: &str) -> Option<T> {
    ctx.error(msg);
    None
}

/// Kill every client matching `filter`; returns how many. Another client
/// leaves the client list at once and its worker is woken to close it;
/// the caller itself is closed once this reply is written.
fn kill_matching(ctx: &mut Ctx<'_>, filter: &KillFilter) -> usize {
    let mut killed = 0;
    let mut others = false;
    for client in ctx.server.clients.snapshot() {
        let me = client.id == ctx.session.id;
        if !filter.matches(&client, me) {
            continue;
        }
        killed += 1;
        if me {
            ctx.session.close_after_reply = true;
        } else {
            ctx.server.clients.kill(&client);
            others = true;
        }
    }
    if others {
        ctx.server.wake_workers();
    }
    killed
}

/// CLIENT NO-EVICT / NO-TOUCH on|off: accepted; Redistill never evicts
/// clients, and a client's reads count for eviction either way.
fn client_on_off(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if is(args.get(2), "ON") || is(args.get(2), "OFF") {
        ctx.out.ok();
    } else {
        ctx.error(super::SYNTAX_ERROR);
    }
}

/// CLIENT REPLY ON|OFF|SKIP: whether this connection's replies are sent
/// (see [`ReplyMode`]). OFF and SKIP reply nothing themselves.
fn client_reply(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let mode = args.get(2);
    if is(mode, "ON") {
        ctx.session.reply = ReplyMode::On;
        ctx.out.ok();
    } else if is(mode, "OFF") {
        ctx.session.reply = ReplyMode::Off;
    } else if is(mode, "SKIP") {
        if ctx.session.reply != ReplyMode::Off {
            ctx.session.reply = ReplyMode::SkipNext;
        }
    } else {
        ctx.error(super::SYNTAX_ERROR);
    }
}

/// CLIENT REPLY's state, applied where a connection's replies are
/// written (`net::connection`): after each command,
/// [`super::Session::after_command`] takes back the reply it wrote if
/// replies are off or skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    /// CLIENT REPLY OFF: nothing is sent until CLIENT REPLY ON.
    Off,
    /// CLIENT REPLY SKIP just ran: the next command's reply is dropped.
    SkipNext,
    /// The reply of the command running now is dropped.
    Skip,
}

impl ReplyMode {
    /// After a command whose reply starts where [`ReplyBuffer::pending`]
    /// was `keep`: drop that reply if replies are off or this one is
    /// skipped, and move a SKIP on to the next command.
    pub fn after_command(&mut self, out: &mut crate::protocol::ReplyBuffer, keep: usize) {
        match *self {
            ReplyMode::On => {}
            ReplyMode::Off => out.discard_after(keep),
            ReplyMode::SkipNext => *self = ReplyMode::Skip,
            ReplyMode::Skip => {
                out.discard_after(keep);
                *self = ReplyMode::On;
            }
        }
    }
}

/// CLIENT PAUSE timeout [WRITE|ALL]: hold other clients' commands (all of
/// them, or those that may write) for `timeout` milliseconds.
fn client_pause(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if args.len() > 4 {
        return subcommand_syntax_error(ctx, args);
    }
    let mode = match args.len() {
        4 if is(args.get(3), "WRITE") => PauseMode::Write,
        4 if !is(args.get(3), "ALL") => return ctx.error("ERR CLIENT PAUSE mode must be WRITE or ALL"),
        _ => PauseMode::All,
    };
    let Some(timeout) = parse_i64(args.get(2)) else {
        return ctx.error("ERR timeout is not an integer or out of range");
    };
    let now = ctx.now;
    let end = match u64::try_from(timeout) {
        Err(_) => return ctx.error("ERR timeout is negative"),
        // Redis takes 0 as no deadline at all: the pause ends at once.
        Ok(0) => 0,
        Ok(ms) if ms > i64::MAX as u64 - now => return ctx.error("ERR timeout is out of range"),
        Ok(ms) => now + ms,
    };
    ctx.server.pause.pause(end, mode, now);
    ctx.out.ok();
}

/// CLIENT UNPAUSE: end the pause and wake the workers holding commands.
fn client_unpause(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    ctx.server.pause.unpause();
    ctx.server.wake_workers();
    ctx.out.ok();
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]: 1 if that client was blocked
/// in a blocking command and is now released (its command answers null,
/// or with ERROR the `-UNBLOCKED` error), else 0 (see
/// [`crate::blocking::Blocking::request_unblock`]).
fn client_unblock(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if args.len() > 4 {
        return subcommand_syntax_error(ctx, args);
    }
    let reason = match args.len() {
        4 if is(args.get(3), "TIMEOUT") => UnblockReason::Timeout,
        4 if is(args.get(3), "ERROR") => UnblockReason::Error,
        4 => return ctx.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
        _ => UnblockReason::Timeout,
    };
    let Some(id) = ctx.integer_arg(args, 2) else { return };
    let blocking = &ctx.server.store.blocking;
    let released = u64::try_from(id).ok().and_then(|id| blocking.request_unblock(id, reason));
    if let Some((db, keys)) = &released {
        blocking.recheck(&ctx.server.store, *db, keys, ctx.now);
    }
    ctx.out.integer(i64::from(released.is_some()));
}

/// Redis allows only printable, non-space characters in client names and
/// library attributes, so that CLIENT LIST stays parseable.
fn valid_attribute(value: &[u8]) -> bool {
    value.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

fn set_client_name(ctx: &mut Ctx<'_>, name: &[u8]) -> bool {
    if !valid_attribute(name) {
        ctx.error("ERR Client names cannot contain spaces, newlines or special characters.");
        return false;
    }
    ctx.session.client.names().name = (!name.is_empty()).then(|| name.to_vec());
    true
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value
fn client_setinfo(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let (attr, value) = (args.get(2), args.get(3));
    let attr_name = String::from_utf8_lossy(attr).into_owned();
    let lib_name = is(attr, "LIB-NAME");
    if !lib_name && !is(attr, "LIB-VER") {
        return ctx.error(&format!("ERR Unrecognized option '{attr_name}'"));
    }
    if !valid_attribute(value) {
        return ctx.error(&format!("ERR {attr_name} cannot contain spaces, newlines or special characters."));
    }
    let value = (!value.is_empty()).then(|| value.to_vec());
    let mut names = ctx.session.client.names();
    if lib_name {
        names.lib_name = value;
    } else {
        names.lib_ver = value;
    }
    drop(names);
    ctx.out.ok();
}

fn client_help(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    let lines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "    * ID <client-id>",
        "      Kill connections by client id.",
        "    * MAXAGE <maxage>",
        "      Kill connections older than the specified age.",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.",
        "    * LIB-VER: the client lib version.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "NO-TOUCH (ON|OFF)",
        "    Will not touch LRU/LFU stats when this mode is on.",
        "HELP",
        "    Print this help.",
    ];
    ctx.help(&lines);
}
