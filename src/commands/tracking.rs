//! CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO, with Redis 7.4's
//! replies and errors; and the command layer's part in client-side
//! caching (`crate::tracking`): remembering the keys a tracking client's
//! read-only commands read, and the scope around each command that holds
//! the client's own invalidations until it has replied.
//!
//! A read is remembered before the command runs, not after as in Redis:
//! here a write on another worker may change the key between the read and
//! the remembering, and would find nobody to tell. Remembered first, the
//! write finds the entry (and takes it out of the table). So that the
//! client is tracked again for the value it did read, the command checks
//! afterwards whether it was sent an invalidation meanwhile; if so it
//! remembers the keys again and, for those that had been taken out,
//! follows its reply with an invalidation of its own: the client drops
//! what it read and reads it again, safe whichever came first.

use std::mem::take;

use super::{is, keyspec, Command, Ctx, Flags as CommandFlags, SYNTAX_ERROR};
use crate::protocol::parse::parse_i64;
use crate::protocol::Args;
use crate::tracking::scope::{self, Pending};
use crate::tracking::{Flags, Options};

/// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX prefix ...]
/// [OPTIN] [OPTOUT] [NOLOOP]. As in Redis, the options are parsed (and
/// the redirection checked) before ON or OFF is looked at.
pub fn client_tracking(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(options) = parse_options(ctx, args) else { return };
    if is(args.get(2), "ON") {
        if let Some(error) = refusal(ctx, &options) {
            return ctx.error(&error);
        }
        ctx.server.tracking.enable(&ctx.session.client, &options);
    } else if is(args.get(2), "OFF") {
        ctx.server.tracking.disable(&ctx.session.client);
    } else {
        return ctx.error(SYNTAX_ERROR);
    }
    ctx.out.ok();
}

fn parse_options<'a>(ctx: &mut Ctx<'_>, args: &Args<'a>) -> Option<Options<'a>> {
    let mut options = Options::default();
    let mut i = 3;
    while i < args.len() {
        let (option, more) = (args.get(i), i + 1 < args.len());
        if is(option, "REDIRECT") && more {
            i += 1;
            options.redirect = redirect_target(ctx, options.redirect, args.get(i))?;
        } else if is(option, "PREFIX") && more {
            i += 1;
            options.prefixes.push(args.get(i));
        } else {
            const FLAGS: [(&str, Flags); 4] = [
                ("BCAST", Flags::BCAST),
                ("OPTIN", Flags::OPTIN),
                ("OPTOUT", Flags::OPTOUT),
                ("NOLOOP", Flags::NOLOOP),
            ];
            let flag = FLAGS.into_iter().find(|(name, _)| is(option, name));
            let Some((_, flag)) = flag else {
                ctx.error(SYNTAX_ERROR);
                return None;
            };
            options.flags = options.flags.with(flag);
        }
        i += 1;
    }
    Some(options)
}

/// REDIRECT's client id: given once, an integer, a connected client.
fn redirect_target(ctx: &mut Ctx<'_>, previous: u64, arg: &[u8]) -> Option<u64> {
    let error = if previous != 0 {
        "ERR A client can only redirect to a single other client"
    } else {
        match parse_i64(arg) {
            None => super::NOT_AN_INTEGER,
            Some(id) => match u64::try_from(id).ok().filter(|&id| ctx.server.clients.contains(id)) {
                Some(id) => return Some(id),
                None => "ERR The client ID you want redirect to does not exist",
            },
        }
    };
    ctx.error(error);
    None
}

/// Why CLIENT TRACKING ON cannot take these options now, in the order
/// Redis checks.
fn refusal(ctx: &Ctx<'_>, options: &Options<'_>) -> Option<String> {
    let asked = options.flags;
    let current = ctx.session.client.tracking.flags();
    let bcast = asked.contains(Flags::BCAST);
    let switching = |a: Flags, b: Flags| asked.contains(a) && current.contains(b);
    let error = match () {
        _ if !bcast && !options.prefixes.is_empty() => "ERR PREFIX option requires BCAST mode to be enabled",
        _ if current.contains(Flags::ON) && current.contains(Flags::BCAST) != bcast => {
            "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling \
             it with a different mode."
        }
        _ if bcast && asked.intersects(Flags::OPTIN.with(Flags::OPTOUT)) => {
            "ERR OPTIN and OPTOUT are not compatible with BCAST"
        }
        _ if asked.contains(Flags::OPTIN.with(Flags::OPTOUT)) => {
            "ERR You can't specify both OPTIN mode and OPTOUT mode"
        }
        _ if switching(Flags::OPTIN, Flags::OPTOUT) || switching(Flags::OPTOUT, Flags::OPTIN) => {
            "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then \
             re-enabling it with a different mode."
        }
        // Redis answers a collision among the given prefixes other than
        // the first with the error and then, in error, +OK as well (and
        // turns tracking on): here the error is the only answer.
        _ if bcast => return ctx.server.tracking.prefix_collision(ctx.session.id, &options.prefixes),
        _ => return None,
    };
    Some(error.to_string())
}

/// CLIENT CACHING YES|NO: whether the next command's reads are tracked,
/// under OPTIN (YES) or OPTOUT (NO).
pub fn client_caching(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let tracking = &ctx.session.client.tracking;
    let flags = tracking.flags();
    let answer = args.get(2);
    let error = if !flags.contains(Flags::ON) {
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"
    } else if is(answer, "YES") && !flags.contains(Flags::OPTIN) {
        "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
    } else if is(answer, "NO") && !flags.contains(Flags::OPTOUT) {
        "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
    } else if !is(answer, "YES") && !is(answer, "NO") {
        SYNTAX_ERROR
    } else {
        tracking.update(|flags| flags.with(Flags::CACHING));
        return ctx.out.ok();
    };
    ctx.error(error);
}

/// CLIENT GETREDIR: the client invalidations are redirected to, 0 for
/// none, -1 while tracking is off.
pub fn client_getredir(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    ctx.out.integer(ctx.session.client.tracking.redirect_shown());
}

/// CLIENT TRACKINGINFO: `flags` (a set), `redirect` and `prefixes`.
pub fn client_trackinginfo(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    let tracking = &ctx.session.client.tracking;
    let flags = tracking.flags();
    let redirect = tracking.redirect_shown();
    let on = flags.contains(Flags::ON);
    let caching = flags.contains(Flags::CACHING);
    let names: Vec<&str> = [
        (true, if on { "on" } else { "off" }),
        (flags.contains(Flags::BCAST), "bcast"),
        (flags.contains(Flags::OPTIN), "optin"),
        (flags.contains(Flags::OPTIN) && caching, "caching-yes"),
        (flags.contains(Flags::OPTOUT), "optout"),
        (flags.contains(Flags::OPTOUT) && caching, "caching-no"),
        (flags.contains(Flags::NOLOOP), "noloop"),
        (flags.contains(Flags::BROKEN_REDIRECT), "broken_redirect"),
    ]
    .into_iter()
    .filter_map(|(shown, name)| shown.then_some(name))
    .collect();
    let prefixes = ctx.server.tracking.prefixes_of(ctx.session.id);
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    out.set(names.len());
    names.iter().for_each(|name| out.bulk(name.as_bytes()));
    out.bulk(b"redirect");
    out.integer(redirect);
    out.bulk(b"prefixes");
    out.array(prefixes.len());
    prefixes.iter().for_each(|prefix| out.bulk(prefix));
}

/// Before a command a client sent runs: while anyone tracks, open the
/// scope that holds this client's own invalidations (see
/// `crate::tracking::scope`).
pub fn open_scope(ctx: &Ctx<'_>) -> Option<scope::Guard> {
    ctx.server.tracking.active().then(|| scope::open(ctx.session.id))
}

/// After a command a client sent (and its reply): send what its scope
/// held, putting what is for the client itself after the reply (if
/// replies are on; otherwise its worker sends it as other messages), and
/// leave the connection the barrier its replies wait behind; and
/// forget CLIENT CACHING's answer unless the command was CLIENT itself or
/// is queued in MULTI, as Redis's `resetClient` does.
pub fn close_scope(ctx: &mut Ctx<'_>, guard: Option<scope::Guard>, args: &Args<'_>) {
    if let Some(guard) = guard {
        let held = scope::with(|scope| scope.map(|scope| (take(&mut scope.pending), take(&mut scope.changed))));
        let (pending, changed) = held.unwrap_or_default();
        ctx.server.tracking.finish(&pending, &changed, &ctx.session.client);
        ctx.session.barrier.merge(guard.close().barrier);
        let sent_itself = !pending.is_empty() || !changed.is_empty();
        if sent_itself && ctx.session.reply == super::connection::ReplyMode::On {
            if let Some(subscriber) = &ctx.session.pubsub {
                // An overflow is left for the connection, which closes it.
                subscriber.mailbox().drain_into(ctx.out);
            }
        }
    }
    let tracking = &ctx.session.client.tracking;
    if tracking.flags().contains(Flags::CACHING) && ctx.session.multi.is_none() && !is(args.get(0), "client") {
        tracking.update(|flags| flags.without(Flags::CACHING));
    }
}

/// The keys a tracking client's read-only command reads, remembered
/// before it runs (see the module documentation).
pub struct Read {
    keys: Vec<Box<[u8]>>,
    /// The client's invalidation count when they were remembered.
    invalidations: u64,
}

/// Before a command runs (for a client, in EXEC or in a script): if it is
/// a read-only command of a client that tracks its reads now, remember
/// its keys for the client. Scripts themselves are not: the commands they
/// call are, as in Redis.
pub fn before_read(ctx: &Ctx<'_>, command: &Command, args: &Args<'_>) -> Option<Read> {
    let tracking = &ctx.server.tracking;
    if !tracking.active()
        || !command.flags.contains(CommandFlags::READONLY)
        || command.flags.intersects(CommandFlags::EXCLUSIVE.with(CommandFlags::PUBSUB))
    {
        return None;
    }
    let client = &ctx.session.client;
    if !client.tracking.flags().remembers_reads() {
        return None;
    }
    let argv: Vec<&[u8]> = args.iter().collect();
    let positions = keyspec::find_keys(command.keys, &argv)?;
    if positions.is_empty() {
        return None;
    }
    let invalidations = client.tracking.invalidations();
    let keys: Vec<Box<[u8]>> = positions.iter().map(|&(position, _)| argv[position].into()).collect();
    keys.iter().for_each(|key| {
        tracking.remember(ctx.session.id, key);
    });
    Some(Read { keys, invalidations })
}

/// After the command ran: if the client was sent invalidations meanwhile,
/// remember its keys again, and invalidate after the reply those that
/// had been taken out of the table.
pub fn after_read(ctx: &Ctx<'_>, read: Read) {
    let client = &ctx.session.client;
    if client.tracking.invalidations() == read.invalidations {
        return;
    }
    for key in read.keys {
        if ctx.server.tracking.remember(ctx.session.id, &key) {
            let pending = Pending::Key(key);
            scope::with(|scope| match scope {
                Some(scope) if !scope.pending.contains(&pending) => scope.pending.push(pending),
                _ => {}
            });
        }
    }
}
