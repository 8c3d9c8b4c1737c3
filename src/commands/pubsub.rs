//! Pub/Sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE,
//! SSUBSCRIBE, SUNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB, on the registry
//! in `crate::pubsub`; and what a subscribed client's commands go through
//! first ([`before_command`]).
//!
//! Confirmations follow Redis 7: one `[subscribe, name, count]` per name
//! (a push in RESP3), the count being the client's channels and patterns
//! together (shard channels for SSUBSCRIBE and SUNSUBSCRIBE).

use super::connection::ReplyMode;
use super::{
    dispatch_subcommand, keyspec::KeyFlags, reject, subcommand_syntax_error, Command, Ctx, Family, Flags, Found,
    KeySpec, Session, Subcommand,
};
use crate::protocol::{Args, Protocol};
use crate::pubsub::{Kind, Subscriber};
use crate::server::Server;

const PUBSUB: Family = Family("pubsub");
/// The (un)subscribe commands: not from scripts, and allowed while a RESP2
/// client is subscribed.
const SUBSCRIBING: Flags = Flags::PUBSUB.with(Flags::NO_SCRIPT).with(Flags::SUBSCRIBED_CONTEXT);
/// PUBLISH and SPUBLISH: held by CLIENT PAUSE WRITE, as Redis 7.4 holds them.
const PUBLISHING: Flags = Flags::PUBSUB.with(Flags::FAST).with(Flags::MAY_REPLICATE);

/// SSUBSCRIBE's and SUNSUBSCRIBE's shard channels are keys to COMMAND
/// (`not_key`: they name no key), as in Redis.
const SHARD_CHANNELS: &[KeySpec] = &[KeySpec::rest(KeyFlags::NOT_KEY)];
const SHARD_CHANNEL: &[KeySpec] = &[KeySpec::at(1, KeyFlags::NOT_KEY)];

pub static COMMANDS: &[Command] = &[
    PUBSUB.command("subscribe", -2, SUBSCRIBING, &[], subscribe),
    PUBSUB.command("unsubscribe", -1, SUBSCRIBING, &[], unsubscribe),
    PUBSUB.command("psubscribe", -2, SUBSCRIBING, &[], psubscribe),
    PUBSUB.command("punsubscribe", -1, SUBSCRIBING, &[], punsubscribe),
    PUBSUB.command("ssubscribe", -2, SUBSCRIBING, SHARD_CHANNELS, ssubscribe),
    PUBSUB.command("sunsubscribe", -1, SUBSCRIBING, SHARD_CHANNELS, sunsubscribe),
    PUBSUB.command("publish", 3, PUBLISHING, &[], publish),
    PUBSUB.command("spublish", 3, PUBLISHING, SHARD_CHANNEL, spublish),
    PUBSUB.command("pubsub", -2, Flags::CONTAINER, &[], pubsub),
];

/// Before each command of a client that ever subscribed (the only cost
/// other clients pay is the check that they did not): send the messages
/// waiting in its mailbox first, so that they precede the reply as in
/// Redis (unless CLIENT REPLY drops this reply: they are sent after it
/// then), and in RESP2, while subscribed, refuse the commands Redis
/// refuses there. True if the command was refused.
pub fn before_command(ctx: &mut Ctx<'_>, args: &Args<'_>, found: Found) -> bool {
    let Some(subscriber) = &ctx.session.pubsub else { return false };
    let replies_on = ctx.session.reply == ReplyMode::On;
    if replies_on {
        // An overflow is left for the connection, which closes the client.
        subscriber.mailbox().drain_into(ctx.out);
    }
    let subscribed = subscriber.total() > 0;
    if replies_on {
        // Sent even if this command turns replies off (CLIENT REPLY).
        ctx.session.pushed_until = ctx.out.pending();
    }
    if ctx.out.protocol != Protocol::Resp2 || !subscribed {
        return false;
    }
    let Some((id, command)) = found else { return false };
    // Redis checks arity, authentication and the like first.
    if command.flags.contains(Flags::SUBSCRIBED_CONTEXT) || super::refusal(ctx, command, args).is_some() {
        return false;
    }
    ctx.stats.commands_processed.incr();
    let name = match args.len() {
        2.. if command.flags.contains(Flags::CONTAINER) => {
            format!("{}|{}", command.name, String::from_utf8_lossy(args.get(1)).to_ascii_lowercase())
        }
        _ => command.name.to_string(),
    };
    let message = format!(
        "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in \
         this context"
    );
    reject(ctx, id, &message);
    true
}

/// SUBSCRIBE channel [channel ...]
fn subscribe(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    subscribe_to(ctx, args, Kind::Channel);
}

/// PSUBSCRIBE pattern [pattern ...]
fn psubscribe(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    subscribe_to(ctx, args, Kind::Pattern);
}

/// SSUBSCRIBE shardchannel [shardchannel ...]: refused inside EXEC, where
/// Redis makes an exception for SUBSCRIBE and PSUBSCRIBE only.
fn ssubscribe(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if ctx.session.in_exec {
        return ctx.error("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
    }
    subscribe_to(ctx, args, Kind::Shard);
}

/// UNSUBSCRIBE [channel ...]
fn unsubscribe(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    unsubscribe_from(ctx, args, Kind::Channel);
}

/// PUNSUBSCRIBE [pattern ...]
fn punsubscribe(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    unsubscribe_from(ctx, args, Kind::Pattern);
}

/// SUNSUBSCRIBE [shardchannel ...]
fn sunsubscribe(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    unsubscribe_from(ctx, args, Kind::Shard);
}

/// The client's subscriber, created on its first (un)subscription (or
/// when it switches to RESP3, see `connection::hello`).
pub(crate) fn subscriber_of<'s>(session: &'s mut Session, server: &Server) -> &'s mut Subscriber {
    let (client, address) = (&session.client, (session.worker, session.token));
    session
        .pubsub
        .get_or_insert_with(|| Box::new(server.pubsub.subscriber(std::sync::Arc::clone(client), address.0, address.1)))
}

fn subscribe_to(ctx: &mut Ctx<'_>, args: &Args<'_>, kind: Kind) {
    let server = ctx.server;
    for name in args.iter().skip(1) {
        let subscriber = subscriber_of(ctx.session, server);
        server.pubsub.subscribe(subscriber, kind, name);
        let count = subscriber.confirmation_count(kind);
        confirm(ctx, kind.subscribe_name(), Some(name), count);
    }
}

/// Leave the names given, or every one of `kind` (confirming a null name
/// if there is none).
fn unsubscribe_from(ctx: &mut Ctx<'_>, args: &Args<'_>, kind: Kind) {
    let server = ctx.server;
    let subscriber = subscriber_of(ctx.session, server);
    let names: Vec<Box<[u8]>> =
        if args.len() == 1 { subscriber.names(kind) } else { args.iter().skip(1).map(Box::from).collect() };
    if names.is_empty() {
        let count = subscriber.confirmation_count(kind);
        return confirm(ctx, kind.unsubscribe_name(), None, count);
    }
    for name in names {
        let subscriber = subscriber_of(ctx.session, server);
        server.pubsub.unsubscribe(subscriber, kind, &name);
        let count = subscriber.confirmation_count(kind);
        confirm(ctx, kind.unsubscribe_name(), Some(&name), count);
    }
}

/// `[what, name or null, count]`, pushed in RESP3. A push, not a reply:
/// CLIENT REPLY OFF or SKIP does not drop it, as in Redis.
fn confirm(ctx: &mut Ctx<'_>, what: &[u8], name: Option<&[u8]>, count: usize) {
    let out = &mut *ctx.out;
    out.push(3);
    out.bulk(what);
    match name {
        Some(name) => out.bulk(name),
        None => out.null(),
    }
    out.integer(count as i64);
    if ctx.session.reply != ReplyMode::On {
        ctx.session.pushed_until = out.pending();
    }
}

/// PUBLISH channel message: how many subscribers it went to.
fn publish(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let receivers = ctx.server.pubsub.publish(args.get(1), args.get(2));
    ctx.out.integer(receivers as i64);
}

/// SPUBLISH shardchannel message
fn spublish(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let receivers = ctx.server.pubsub.spublish(args.get(1), args.get(2));
    ctx.out.integer(receivers as i64);
}

const PUBSUB_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "channels", arity: -2, run: |ctx, args| active(ctx, args, Kind::Channel) },
    Subcommand { name: "numsub", arity: -2, run: |ctx, args| subscribers(ctx, args, Kind::Channel) },
    Subcommand {
        name: "numpat",
        arity: 2,
        run: |ctx, _| ctx.out.integer(ctx.server.pubsub.count(Kind::Pattern) as i64),
    },
    Subcommand { name: "shardchannels", arity: -2, run: |ctx, args| active(ctx, args, Kind::Shard) },
    Subcommand { name: "shardnumsub", arity: -2, run: |ctx, args| subscribers(ctx, args, Kind::Shard) },
    Subcommand { name: "help", arity: 2, run: pubsub_help },
];

/// PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB|HELP ...
fn pubsub(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    dispatch_subcommand(ctx, args, "pubsub", PUBSUB_SUBCOMMANDS);
}

/// PUBSUB CHANNELS [pattern] / SHARDCHANNELS [pattern]: the names with
/// subscribers, in no particular order.
fn active(ctx: &mut Ctx<'_>, args: &Args<'_>, kind: Kind) {
    if args.len() > 3 {
        return subcommand_syntax_error(ctx, args);
    }
    let pattern = (args.len() == 3).then(|| args.get(2));
    let names = ctx.server.pubsub.active(kind, pattern);
    ctx.out.array(names.len());
    names.iter().for_each(|name| ctx.out.bulk(name));
}

/// PUBSUB NUMSUB [channel ...] / SHARDNUMSUB [shardchannel ...]: a flat
/// array of each name and its subscriber count (pattern subscribers left
/// out).
fn subscribers(ctx: &mut Ctx<'_>, args: &Args<'_>, kind: Kind) {
    ctx.out.array((args.len() - 2) * 2);
    for name in args.iter().skip(2) {
        ctx.out.bulk(name);
        ctx.out.integer(ctx.server.pubsub.subscribers(kind, name) as i64);
    }
}

fn pubsub_help(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let header = format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        String::from_utf8_lossy(args.get(0)).to_ascii_uppercase()
    );
    let lines = [
        header.as_str(),
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Print this help.",
    ];
    ctx.help(&lines);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribing_commands_are_allowed_while_subscribed_and_publishing_ones_are_not() {
        for name in ["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe"] {
            let command = super::super::lookup(name.as_bytes()).unwrap();
            assert!(command.flags.contains(Flags::SUBSCRIBED_CONTEXT), "{name}");
            assert!(command.flags.contains(Flags::NO_SCRIPT), "{name}");
        }
        for name in ["ping", "quit", "reset"] {
            assert!(super::super::lookup(name.as_bytes()).unwrap().flags.contains(Flags::SUBSCRIBED_CONTEXT));
        }
        for name in ["publish", "spublish", "pubsub", "get", "hello", "client"] {
            assert!(!super::super::lookup(name.as_bytes()).unwrap().flags.contains(Flags::SUBSCRIBED_CONTEXT));
        }
    }
}
