//! Set commands: SADD, SREM, SMOVE, the readers (SMEMBERS, SISMEMBER,
//! SMISMEMBER, SCARD, SSCAN), the random ones (SPOP, SRANDMEMBER), and the
//! algebra (SINTER, SINTERCARD, SUNION, SDIFF and their STORE forms).
//!
//! The set itself (encodings and their conversions, random picks, scan
//! cursor) is `store/set.rs`; here are the arguments, the replies and the
//! errors, as Redis gives them. A command over several keys reads them at
//! one instant (their shards locked together), and a STORE form writes its
//! destination in the same step.

use std::collections::HashSet;

use super::family_flags::{R, RF, W, WF, WRITE_FAST};
use super::keyspace::{parse_cursor, reply_scan, ScanOf, ScanOptions};
use super::random::{close_cut_off, distinct, output_limit, stream_repeats, Rng, COUNT_RANGE};
use super::{is, specs, Command, Ctx, Family, KeyFlags, KeySpec, SYNTAX_ERROR, WRONGTYPE};
use crate::notify::Event;
use crate::protocol::parse::parse_i64;
use crate::protocol::{Args, ReplyBuffer};
use crate::store::set::{Member, SetLimits};
use crate::store::{EntryRef, Kind, OwnedValue, Set, WrongType};

type F = KeyFlags;

const INSERT: &[KeySpec] = specs::INSERT;
const DELETE: &[KeySpec] = specs::DELETE;
const READ: &[KeySpec] = specs::READ;
const RO: &[KeySpec] = specs::RO;
/// The source loses the member, the destination gains it.
const SMOVE_KEYS: &[KeySpec] =
    &[KeySpec::at(1, F::RW.with(F::ACCESS).with(F::DELETE)), KeySpec::at(2, F::RW.with(F::INSERT))];
/// SINTERCARD numkeys key ...
const NUMKEYS: &[KeySpec] = &[KeySpec::keynum(1, 0, 1, 1, specs::RO_ACCESS)];
/// The STORE forms: the destination, then the sources.
const STORE: &[KeySpec] = &[KeySpec::at(1, F::OW.with(F::UPDATE)), KeySpec::range(2, -1, specs::RO_ACCESS)];

const SET: Family = Family("set");

pub static COMMANDS: &[Command] = &[
    SET.command("sadd", -3, WF, INSERT, sadd),
    SET.command("srem", -3, WRITE_FAST, DELETE, srem),
    SET.command("smove", 4, WRITE_FAST, SMOVE_KEYS, smove),
    SET.command("smembers", 2, R, READ, smembers),
    SET.command("sismember", 3, RF, RO, sismember),
    SET.command("smismember", -3, RF, READ, smismember),
    SET.command("scard", 2, RF, RO, scard),
    SET.command("spop", -2, WRITE_FAST, specs::READ_DELETE, spop),
    SET.command("srandmember", -2, R, READ, srandmember),
    SET.command("sinter", -2, R, specs::READ_ALL, sinter),
    SET.command("sintercard", -3, R, NUMKEYS, sintercard),
    SET.command("sinterstore", -3, W, STORE, sinterstore),
    SET.command("sunion", -2, R, specs::READ_ALL, sunion),
    SET.command("sunionstore", -3, W, STORE, sunionstore),
    SET.command("sdiff", -2, R, specs::READ_ALL, sdiff),
    SET.command("sdiffstore", -3, W, STORE, sdiffstore),
    SET.command("sscan", -3, R, READ, sscan),
];

const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";

fn limits(ctx: &Ctx<'_>) -> SetLimits {
    ctx.server.live.set_limits()
}

fn bulk_member(out: &mut ReplyBuffer, member: Member<'_>) {
    out.bulk(member.bytes(&mut [0; 20]));
}

/// `len` members as a RESP3 set (an array in RESP2).
fn reply_set<'a>(out: &mut ReplyBuffer, len: usize, members: impl Iterator<Item = Member<'a>>) {
    out.set(len);
    members.for_each(|m| bulk_member(out, m));
}

/// Look at the set at `key` (see [`Ctx::read_collection`]).
fn with_set<R>(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(Option<&Set>, &mut ReplyBuffer) -> R) -> Option<R> {
    ctx.read_collection(key, f)
}

/// The keys from argument `first` on.
fn keys_from<'a>(args: &Args<'a>, first: usize) -> Vec<&'a [u8]> {
    args.iter().skip(first).collect()
}

// ---------------------------------------------------------------------------
// Writers
// ---------------------------------------------------------------------------

/// SADD key member [member ...]
fn sadd(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let limits = limits(ctx);
    let hint = args.len() - 2;
    let added = ctx.update_collection(args.get(1), true, SADD, |set: &mut Set, _| {
        // The encoding is chosen for the number of members given, as Redis
        // chooses it: 200 of them make a table at once.
        if set.is_empty() {
            *set = Set::for_members(args.get(2), hint, limits);
        } else {
            set.prepare(hint, limits);
        }
        let added = args.iter().skip(2).filter(|m| set.insert(m, limits)).count();
        (added as i64, added > 0)
    });
    reply_count(ctx, added);
}

/// SREM key member [member ...]
fn srem(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let removed = ctx.update_collection(args.get(1), false, SREM, |set: &mut Set, _| {
        let removed = args.iter().skip(2).filter(|m| set.remove(m)).count();
        (removed as i64, removed > 0)
    });
    reply_count(ctx, removed);
}

/// The integer reply of an update (0 for a missing key); nothing after
/// WRONGTYPE.
fn reply_count(ctx: &mut Ctx<'_>, result: Option<Option<i64>>) {
    if let Some(n) = result {
        ctx.out.integer(n.unwrap_or(0));
    }
}

const SADD: Event = Event::set("sadd");
const SREM: Event = Event::set("srem");

/// SMOVE source destination member, with both keys' shards held. Its
/// events come as Redis's: `srem` (and `del` if that emptied the source),
/// then the destination's (`new` if created, `sadd` if the member is new
/// to it).
fn smove(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let (src, dst, member) = (args.get(1), args.get(2), args.get(3));
    let (now, limits, events) = (ctx.now, limits(ctx), ctx.events());
    let moved = ctx.db().with_keys_locked([src, dst].into_iter(), |locked| {
        let [src_kind, dst_kind] = [src, dst].map(|key| locked.update(key, now, |slot| slot.kind()));
        let Some(src_kind) = src_kind else { return Ok(false) };
        if src_kind != Kind::Set || dst_kind.is_some_and(|kind| kind != Kind::Set) {
            return Err(WrongType);
        }
        let in_source = |set: &mut Set, remove: bool| {
            let found = if remove { set.remove(member) } else { set.contains(member) };
            (found, found && remove)
        };
        if src == dst {
            return Ok(
                locked.update(src, now, |slot| slot.update_collection(false, |s| in_source(s, false)))? == Some(true)
            );
        }
        let removed = locked.update(src, now, |slot| {
            let removed = slot.update_collection(false, |s| in_source(s, true))? == Some(true);
            Ok::<_, WrongType>(removed.then_some(!slot.exists()))
        })?;
        let Some(emptied) = removed else { return Ok(false) };
        events.notify(SREM, src);
        if emptied {
            events.notify(Event::DEL, src);
        }
        let added = locked.update(dst, now, |slot| {
            slot.update_collection(true, |set: &mut Set| {
                if set.is_empty() {
                    *set = Set::for_members(member, 1, limits);
                }
                let added = set.insert(member, limits);
                (added, added)
            })
        })?;
        if added == Some(true) {
            events.notify(SADD, dst);
        }
        Ok(true)
    });
    match moved {
        Ok(moved) => ctx.out.integer(i64::from(moved)),
        Err(WrongType) => ctx.error(WRONGTYPE),
    }
}

// ---------------------------------------------------------------------------
// Readers
// ---------------------------------------------------------------------------

/// SMEMBERS key
fn smembers(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    with_set(ctx, args.get(1), |set, out| {
        reply_set(out, set.map_or(0, Set::len), set.into_iter().flat_map(|s| s.iter()))
    });
}

/// SISMEMBER key member
fn sismember(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    with_set(ctx, args.get(1), |set, out| out.integer(i64::from(set.is_some_and(|s| s.contains(args.get(2))))));
}

/// SMISMEMBER key member [member ...]: 1 or 0 for each.
fn smismember(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    with_set(ctx, args.get(1), |set, out| {
        out.array(args.len() - 2);
        for member in args.iter().skip(2) {
            out.integer(i64::from(set.is_some_and(|s| s.contains(member))));
        }
    });
}

/// SCARD key
fn scard(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    with_set(ctx, args.get(1), |set, out| out.integer(set.map_or(0, Set::len) as i64));
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]. As in Redis, the key
/// is looked at before the options: a missing key answers an empty scan
/// whatever they say.
fn sscan(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(cursor) = parse_cursor(args.get(2)) else {
        return ctx.error("ERR invalid cursor");
    };
    match ctx.db().view(args.get(1), ctx.now, |entry| entry.map(|e| e.kind())) {
        None => {
            ctx.count_lookup(args.get(1), false);
            return reply_scan::<&[u8]>(ctx.out, 0, &[]);
        }
        Some(kind) if kind != Kind::Set => return ctx.error(WRONGTYPE),
        Some(_) => {}
    }
    let Some(options) = ScanOptions::parse(ctx, args, 3, ScanOf::Members) else { return };
    with_set(ctx, args.get(1), |set, out| {
        let mut items = Vec::new();
        let next = set.map_or(0, |set| {
            set.scan(cursor, options.count, |member| {
                let bytes = member.to_vec();
                if options.admits(&bytes, "set") {
                    items.push(bytes);
                }
            })
        });
        reply_scan(out, next, &items);
    });
}

// ---------------------------------------------------------------------------
// SPOP and SRANDMEMBER
// ---------------------------------------------------------------------------

/// `count` distinct members of `set` (fewer than it has), at random.
fn pick_distinct<'s>(set: &'s Set, count: usize, rng: &mut Rng) -> Vec<Member<'s>> {
    if count.saturating_mul(3) > set.len() || !set.random_is_cheap() {
        return distinct(set.iter().collect(), count, rng);
    }
    // A few of a large set: draw until enough are distinct, without
    // listing the set.
    let mut seen = HashSet::with_capacity(count);
    let mut picked = Vec::with_capacity(count);
    while picked.len() < count {
        let Some(member) = set.random(rng.next()) else { break };
        if seen.insert(member) {
            picked.push(member);
        }
    }
    picked
}

/// A drawer of members with repeats: straight from the set when its
/// random pick is cheap, else from a list of its members made once.
fn drawer<'s>(set: &'s Set) -> impl FnMut(&mut Rng) -> Option<Member<'s>> {
    let listed: Vec<Member<'s>> = if set.random_is_cheap() { Vec::new() } else { set.iter().collect() };
    move |rng| match listed.len() {
        0 => set.random(rng.next()),
        len => Some(listed[rng.below(len)]),
    }
}

/// SPOP key [count]
fn spop(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    match args.len() {
        2 => spop_one(ctx, args.get(1)),
        3 => spop_count(ctx, args),
        _ => ctx.error(SYNTAX_ERROR),
    }
}

fn spop_one(ctx: &mut Ctx<'_>, key: &[u8]) {
    let mut rng = Rng::new(ctx);
    let popped = ctx.update_collection(key, false, SPOP, |set: &mut Set, out| {
        let Some(member) = set.random(rng.next()).map(|m| m.to_vec()) else { return ((), false) };
        out.bulk(&member);
        ((), set.remove(&member))
    });
    if let Some(None) = popped {
        ctx.out.null();
    }
}

/// SPOP key count: a RESP3 set of the popped members. Popping them all
/// deletes the key.
fn spop_count(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(count) = parse_i64(args.get(2)).and_then(|n| usize::try_from(n).ok()) else {
        return ctx.error(NOT_POSITIVE);
    };
    let mut rng = Rng::new(ctx);
    let popped = ctx.update_collection(args.get(1), false, SPOP, |set: &mut Set, out| {
        if count == 0 {
            out.set(0);
            return ((), false);
        }
        if count >= set.len() {
            reply_set(out, set.len(), set.iter());
            // Emptied: the table deletes the key, freeing the set lazily.
            crate::store::lazyfree::free(std::mem::take(set), count);
            return ((), true);
        }
        let picked: Vec<Vec<u8>> = pick_distinct(set, count, &mut rng).iter().map(Member::to_vec).collect();
        out.set(picked.len());
        for member in &picked {
            out.bulk(member);
            set.remove(member);
        }
        ((), true)
    });
    if let Some(None) = popped {
        ctx.out.set(0);
    }
}

const SPOP: Event = Event::set("spop");

/// SRANDMEMBER key [count]
fn srandmember(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    match args.len() {
        2 => {
            let mut rng = Rng::new(ctx);
            with_set(ctx, args.get(1), |set, out| match set.and_then(|s| s.random(rng.next())) {
                Some(member) => bulk_member(out, member),
                None => out.null(),
            });
        }
        3 => srandmember_count(ctx, args),
        _ => ctx.error(SYNTAX_ERROR),
    }
}

/// SRANDMEMBER key count: distinct members for a positive count, as many
/// as asked with repeats for a negative one.
fn srandmember_count(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(count) = ctx.integer_arg(args, 2) else { return };
    if count == i64::MIN {
        return ctx.error(COUNT_RANGE);
    }
    let output_limit = output_limit(ctx);
    let mut rng = Rng::new(ctx);
    let complete = with_set(ctx, args.get(1), |set, out| {
        let Some(set) = set.filter(|_| count != 0) else {
            out.array(0);
            return true;
        };
        let wanted = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
        if count < 0 {
            out.array(wanted);
            let mut draw = drawer(set);
            return stream_repeats(out, wanted, output_limit, |out| {
                if let Some(member) = draw(&mut rng) {
                    bulk_member(out, member);
                }
            });
        }
        if wanted >= set.len() {
            reply_members(out, set.len(), set.iter());
        } else {
            let picked = pick_distinct(set, wanted, &mut rng);
            reply_members(out, picked.len(), picked.into_iter());
        }
        true
    });
    if complete == Some(false) {
        close_cut_off(ctx, "SRANDMEMBER");
    }
}

/// `len` members as an array (in RESP3 too).
fn reply_members<'a>(out: &mut ReplyBuffer, len: usize, members: impl Iterator<Item = Member<'a>>) {
    out.array(len);
    members.for_each(|m| bulk_member(out, m));
}

// ---------------------------------------------------------------------------
// SINTER, SUNION, SDIFF and their STORE forms
// ---------------------------------------------------------------------------

/// The sets of `entries` (None for a missing key); WrongType if any key
/// holds another type.
fn sets_of<'a>(entries: &[Option<EntryRef<'a>>]) -> Result<Vec<Option<&'a Set>>, WrongType> {
    entries.iter().map(|entry| entry.as_ref().map(EntryRef::collection::<Set>).transpose()).collect()
}

/// Look at the sets at `keys` at one instant, counting each lookup.
/// Replies WRONGTYPE, and returns None, if any key holds another type.
fn with_sets<R>(
    ctx: &mut Ctx<'_>,
    keys: &[&[u8]],
    f: impl FnOnce(&[Option<&Set>], &mut ReplyBuffer) -> R,
) -> Option<R> {
    let (db, events) = (ctx.server.store.db(ctx.session.db), ctx.events());
    let out = &mut *ctx.out;
    let (hits, result) = db.view_all(keys, ctx.now, |entries| {
        events.keymisses(found(keys, &entries));
        (entries.iter().flatten().count(), sets_of(&entries).map(|sets| f(&sets, out)))
    });
    ctx.stats.keyspace_hits.add(hits as u64);
    ctx.stats.keyspace_misses.add((keys.len() - hits) as u64);
    if result.is_err() {
        ctx.error(WRONGTYPE);
    }
    result.ok()
}

/// Each of `keys` with whether `entries` found it, for the `keymiss`
/// events of the sources (read one by one in Redis).
pub(super) fn found<'k>(
    keys: &'k [&'k [u8]],
    entries: &'k [Option<EntryRef<'_>>],
) -> impl Iterator<Item = (&'k [u8], bool)> + 'k {
    keys.iter().copied().zip(entries.iter().map(Option::is_some))
}

/// Compute a set from the sets at `sources` and store it at `dest`
/// (replacing a value of any type and its TTL; deleting `dest` when the
/// result is empty), with every key's shard held, so no client sees the
/// sources change in between. Replies with the result's size. Reports
/// `event` on `dest`, or `del` if an empty result deleted it.
fn store(
    ctx: &mut Ctx<'_>,
    dest: &[u8],
    sources: &[&[u8]],
    event: Event,
    compute: impl FnOnce(&[Option<&Set>]) -> Set,
) {
    let (now, events) = (ctx.now, ctx.events());
    let result = ctx.db().with_keys_locked(sources.iter().copied().chain([dest]), |locked| {
        let set = locked.view_all(sources, now, |entries| {
            events.keymisses(found(sources, &entries));
            sets_of(&entries).map(|sets| compute(&sets))
        })?;
        let len = set.len();
        let event = locked.update(dest, now, |slot| {
            if set.is_empty() {
                slot.remove().then_some(Event::DEL)
            } else {
                slot.put_owned(OwnedValue::Object(set.into()), None);
                Some(event)
            }
        });
        if let Some(event) = event {
            events.notify(event, dest);
        }
        Ok(len)
    });
    match result {
        Ok(len) => ctx.out.integer(len as i64),
        Err(WrongType) => ctx.error(WRONGTYPE),
    }
}

/// The members every set has: those of the smallest that all the others
/// have, at most `limit` of them (0: no limit). A missing key is an empty
/// set, so the intersection is empty.
fn intersection<'a>(sets: &[Option<&'a Set>], limit: usize) -> Vec<Member<'a>> {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<&Set>>>() else { return Vec::new() };
    sets.sort_by_key(|set| set.len());
    let Some((&smallest, others)) = sets.split_first() else { return Vec::new() };
    let in_all =
        |member: &Member<'_>| others.iter().all(|&set| std::ptr::eq(set, smallest) || set.contains_member(*member));
    let limit = if limit == 0 { usize::MAX } else { limit };
    smallest.iter().filter(in_all).take(limit).collect()
}

/// A new set of `members`, encoded as adding them one by one makes it.
fn set_of<'a>(members: impl Iterator<Item = Member<'a>>, limits: SetLimits) -> Set {
    let mut set = Set::new();
    members.for_each(|member| {
        set.insert_member(member, limits);
    });
    set
}

/// Every member of any of the sets.
fn union(sets: &[Option<&Set>], limits: SetLimits) -> Set {
    set_of(sets.iter().flatten().flat_map(|set| set.iter()), limits)
}

/// The members of the first set that none of the others has.
fn difference(sets: &[Option<&Set>], limits: SetLimits) -> Set {
    let Some((Some(first), others)) = sets.split_first() else { return Set::new() };
    let in_none = |member: &Member<'_>| !others.iter().flatten().any(|set| set.contains_member(*member));
    set_of(first.iter().filter(in_none), limits)
}

/// SINTER key [key ...]
fn sinter(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    with_sets(ctx, &keys_from(args, 1), |sets, out| {
        let members = intersection(sets, 0);
        reply_set(out, members.len(), members.into_iter());
    });
}

/// SUNION key [key ...]
fn sunion(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let limits = limits(ctx);
    with_sets(ctx, &keys_from(args, 1), |sets, out| reply_whole(out, &union(sets, limits)));
}

/// SDIFF key [key ...]
fn sdiff(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let limits = limits(ctx);
    with_sets(ctx, &keys_from(args, 1), |sets, out| reply_whole(out, &difference(sets, limits)));
}

fn reply_whole(out: &mut ReplyBuffer, set: &Set) {
    reply_set(out, set.len(), set.iter());
}

/// SINTERSTORE destination key [key ...]
fn sinterstore(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let limits = limits(ctx);
    let event = Event::set("sinterstore");
    store(ctx, args.get(1), &keys_from(args, 2), event, |sets| set_of(intersection(sets, 0).into_iter(), limits));
}

/// SUNIONSTORE destination key [key ...]
fn sunionstore(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let limits = limits(ctx);
    store(ctx, args.get(1), &keys_from(args, 2), Event::set("sunionstore"), |sets| union(sets, limits));
}

/// SDIFFSTORE destination key [key ...]
fn sdiffstore(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let limits = limits(ctx);
    store(ctx, args.get(1), &keys_from(args, 2), Event::set("sdiffstore"), |sets| difference(sets, limits));
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let numkeys = match parse_i64(args.get(1)) {
        Some(n) if n >= 1 => n.unsigned_abs(),
        _ => return ctx.error("ERR numkeys should be greater than 0"),
    };
    if numkeys > (args.len() - 2) as u64 {
        return ctx.error("ERR Number of keys can't be greater than number of args");
    }
    let keys_end = 2 + numkeys as usize;
    let mut limit = 0;
    let mut i = keys_end;
    while i < args.len() {
        if !is(args.get(i), "LIMIT") || i + 1 >= args.len() {
            return ctx.error(SYNTAX_ERROR);
        }
        match parse_i64(args.get(i + 1)).and_then(|n| usize::try_from(n).ok()) {
            Some(n) => limit = n,
            None => return ctx.error("ERR LIMIT can't be negative"),
        }
        i += 2;
    }
    let keys: Vec<&[u8]> = (2..keys_end).map(|i| args.get(i)).collect();
    with_sets(ctx, &keys, |sets, out| out.integer(intersection(sets, limit).len() as i64));
}
