//! Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT and CLIENT.

use super::{arity_message, dispatch_subcommand, is, Command, Ctx, Flags, KeySpec, Subcommand};
use crate::protocol::parse::parse_i64;
use crate::protocol::{Args, Protocol};
use crate::server::REDIS_VERSION;

const CONN: Flags = Flags::FAST;
const CONN_NO_AUTH: Flags = Flags::FAST.with(Flags::NO_AUTH);

pub static COMMANDS: &[Command] = &[
    Command { name: "ping", arity: -1, flags: CONN, keys: KeySpec::NONE, group: "connection", run: ping },
    Command { name: "echo", arity: 2, flags: CONN, keys: KeySpec::NONE, group: "connection", run: echo },
    Command {
        name: "quit",
        arity: -1,
        flags: CONN_NO_AUTH.with(Flags::NO_QUEUE),
        keys: KeySpec::NONE,
        group: "connection",
        run: quit,
    },
    Command { name: "hello", arity: -1, flags: CONN_NO_AUTH, keys: KeySpec::NONE, group: "connection", run: hello },
    Command { name: "auth", arity: -2, flags: CONN_NO_AUTH, keys: KeySpec::NONE, group: "connection", run: auth },
    Command { name: "select", arity: 2, flags: CONN, keys: KeySpec::NONE, group: "connection", run: select },
    Command { name: "client", arity: -2, flags: Flags::NONE, keys: KeySpec::NONE, group: "connection", run: client },
];

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// PING [message]
fn ping(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(args.get(1)),
        _ => ctx.error(&arity_message("ping")),
    }
}

/// ECHO message
fn echo(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    ctx.out.bulk(args.get(1));
}

/// QUIT: reply OK, then close once the reply is written.
fn quit(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    ctx.out.ok();
    ctx.session.close_after_reply = true;
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
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
}

/// SELECT index
fn select(ctx: &mut Ctx<'_>, args: &Args<'_>) {
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
    Subcommand { name: "reply", arity: 3, run: client_unsupported },
    Subcommand { name: "pause", arity: -3, run: client_unsupported },
    Subcommand { name: "unpause", arity: 2, run: client_unsupported },
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

/// CLIENT LIST [TYPE NORMAL] [ID id [id ...]]
fn client_list(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let mut ids: Option<Vec<u64>> = None;
    if args.len() > 2 {
        let filter = args.get(2);
        if is(filter, "TYPE") && args.len() == 4 {
            if !is(args.get(3), "NORMAL") {
                let kind = String::from_utf8_lossy(args.get(3)).into_owned();
                return ctx.error(&format!("ERR Unknown client type '{kind}'"));
            }
        } else if is(filter, "ID") && args.len() >= 4 {
            let parsed: Option<Vec<u64>> = args
                .iter()
                .skip(3)
                .map(|a| parse_i64(a).and_then(|n| u64::try_from(n).ok()).filter(|&n| n > 0))
                .collect();
            match parsed {
                Some(list) => ids = Some(list),
                None => return ctx.error("ERR Invalid client ID"),
            }
        } else {
            return ctx.error(super::SYNTAX_ERROR);
        }
    }
    let mut text = String::new();
    for client in ctx.server.clients.snapshot() {
        if ids.as_ref().is_none_or(|ids| ids.contains(&client.id)) {
            text.push_str(&client.describe());
            text.push('\n');
        }
    }
    ctx.out.verbatim(&text);
}

/// Which clients a CLIENT KILL names.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    skip_me: bool,
    normal_only: bool,
}

/// CLIENT KILL ip:port | CLIENT KILL [ID id] [ADDR ip:port] [LADDR ip:port]
/// [TYPE normal] [USER username] [SKIPME yes/no]
fn client_kill(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if args.len() == 3 {
        let addr = String::from_utf8_lossy(args.get(2)).into_owned();
        let filter = KillFilter { addr: Some(addr), ..KillFilter::default() };
        return match kill_matching(ctx, &filter) {
            0 => ctx.error("ERR No such client"),
            _ => ctx.out.ok(),
        };
    }
    let mut filter = KillFilter { skip_me: true, ..KillFilter::default() };
    for pair in args.iter().skip(2).collect::<Vec<_>>().chunks(2) {
        let [name, value] = pair else { return ctx.error(super::SYNTAX_ERROR) };
        let text = String::from_utf8_lossy(value).into_owned();
        match () {
            _ if is(name, "ID") => match parse_i64(value).and_then(|n| u64::try_from(n).ok()).filter(|&n| n > 0) {
                Some(id) => filter.id = Some(id),
                None => return ctx.error("ERR client-id should be greater than 0"),
            },
            _ if is(name, "ADDR") => filter.addr = Some(text),
            _ if is(name, "LADDR") => filter.laddr = Some(text),
            _ if is(name, "TYPE") => {
                if !["normal", "master", "slave", "replica", "pubsub"].iter().any(|t| is(value, t)) {
                    return ctx.error(&format!("ERR Unknown client type '{text}'"));
                }
                filter.normal_only = is(value, "normal");
                if !filter.normal_only {
                    return ctx.out.integer(0);
                }
            }
            _ if is(name, "USER") => {
                if text != "default" {
                    return ctx.error(&format!("ERR No such user '{text}'"));
                }
            }
            _ if is(name, "SKIPME") && (is(value, "yes") || is(value, "no")) => filter.skip_me = is(value, "yes"),
            _ => return ctx.error(super::SYNTAX_ERROR),
        }
    }
    let killed = kill_matching(ctx, &filter);
    ctx.out.integer(killed as i64);
}

/// Mark every client matching `filter` for closing; returns how many.
fn kill_matching(ctx: &mut Ctx<'_>, filter: &KillFilter) -> usize {
    let text = |a: Option<std::net::SocketAddr>| a.map(|a| a.to_string());
    let mut killed = 0;
    for client in ctx.server.clients.snapshot() {
        let me = client.id == ctx.session.id;
        let matches = filter.id.is_none_or(|id| id == client.id)
            && filter.addr.as_ref().is_none_or(|a| Some(a) == text(client.addr).as_ref())
            && filter.laddr.as_ref().is_none_or(|a| Some(a) == text(client.local_addr).as_ref())
            && !(me && filter.skip_me);
        if matches {
            killed += 1;
            if me {
                ctx.session.close_after_reply = true;
            } else {
                ctx.server.clients.kill(&client);
            }
        }
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

/// CLIENT REPLY / PAUSE / UNPAUSE are not implemented.
fn client_unsupported(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let sub = String::from_utf8_lossy(args.get(1)).to_ascii_uppercase();
    ctx.error(&format!("ERR CLIENT {sub} is not supported by Redistill"));
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
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.",
        "    * LIB-VER: the client lib version.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "HELP",
        "    Print this help.",
    ];
    ctx.help(&lines);
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]: 1 if that client was blocked
/// in a blocking command and is now released (its command answers null,
/// or with ERROR the `-UNBLOCKED` error), else 0 (see
/// [`crate::blocking::Blocking::request_unblock`]).
fn client_unblock(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    use crate::blocking::UnblockReason;
    let reason = match args.len() {
        3 => UnblockReason::Timeout,
        4 if is(args.get(3), "TIMEOUT") => UnblockReason::Timeout,
        4 if is(args.get(3), "ERROR") => UnblockReason::Error,
        4 => return ctx.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
        _ => return ctx.error("ERR unknown subcommand or wrong number of arguments for 'unblock'. Try CLIENT HELP."),
    };
    let Some(id) = ctx.integer_arg(args, 2) else { return };
    let blocking = &ctx.server.store.blocking;
    let released = u64::try_from(id).ok().and_then(|id| blocking.request_unblock(id, reason));
    if let Some((db, keys)) = &released {
        blocking.recheck(&ctx.server.store, *db, keys, ctx.now);
    }
    ctx.out.integer(i64::from(released.is_some()));
}
