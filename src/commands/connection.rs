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
    Command { name: "quit", arity: -1, flags: CONN_NO_AUTH, keys: KeySpec::NONE, group: "connection", run: quit },
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
        crate::log_warn!("failed AUTH from {}", peer(ctx));
        ctx.error(WRONGPASS);
    }
}

fn peer(ctx: &Ctx<'_>) -> String {
    ctx.session.addr.map_or_else(|| "unknown".into(), |a| a.to_string())
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
                crate::log_warn!("failed AUTH (HELLO) from {}", peer(ctx));
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
    let Some(index) = ctx.integer_arg(args, 1) else { return };
    match usize::try_from(index) {
        Ok(index) if index < ctx.server.store.databases() => {
            ctx.session.db = index;
            ctx.out.ok();
        }
        _ => ctx.error("ERR DB index is out of range"),
    }
}

const CLIENT_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "id", arity: 2, run: |ctx, _| ctx.out.integer(ctx.session.id as i64) },
    Subcommand { name: "getname", arity: 2, run: client_getname },
    Subcommand { name: "setname", arity: 3, run: client_setname },
    Subcommand { name: "setinfo", arity: 4, run: client_setinfo },
    Subcommand { name: "help", arity: 2, run: client_help },
];

/// CLIENT subcommand [arguments]
fn client(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    dispatch_subcommand(ctx, args, "client", CLIENT_SUBCOMMANDS);
}

/// CLIENT GETNAME
fn client_getname(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    match &ctx.session.name {
        Some(name) => ctx.out.bulk(name),
        None => ctx.out.null(),
    }
}

/// CLIENT SETNAME name
fn client_setname(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if set_client_name(ctx, args.get(2)) {
        ctx.out.ok();
    }
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
    ctx.session.name = (!name.is_empty()).then(|| name.to_vec());
    true
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value
fn client_setinfo(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let (attr, value) = (args.get(2), args.get(3));
    let attr_name = String::from_utf8_lossy(attr).into_owned();
    let slot = if is(attr, "LIB-NAME") {
        &mut ctx.session.lib_name
    } else if is(attr, "LIB-VER") {
        &mut ctx.session.lib_ver
    } else {
        return ctx.error(&format!("ERR Unrecognized option '{attr_name}'"));
    };
    if !valid_attribute(value) {
        return ctx.error(&format!("ERR {attr_name} cannot contain spaces, newlines or special characters."));
    }
    *slot = (!value.is_empty()).then(|| value.to_vec());
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
    ctx.out.array(lines.len());
    for line in lines {
        ctx.out.simple(line);
    }
}
