//! List commands: the pushes (LPUSH, RPUSH and their X forms), the pops
//! (LPOP, RPOP, LMPOP), the readers (LLEN, LRANGE, LINDEX, LPOS), the
//! editors (LSET, LINSERT, LREM, LTRIM), the moves (LMOVE, RPOPLPUSH), and
//! the blocking forms (BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH).
//!
//! The list itself (encodings, chunks) is `store/list.rs`; blocking (the
//! registry, wakeups, timeouts) is `crate::blocking`. A blocking command
//! that finds nothing calls [`Ctx::block`] and replies nothing; it runs
//! again, from the top, when a key it waits on is filled.

use super::family_flags::{BLOCKING, BLOCKING_W, R, RF, W, WF, WRITE, WRITE_FAST};
use super::{
    arity_message, is, specs, Command, Ctx, Family, KeyFlags, KeySpec, NOT_AN_INTEGER, SYNTAX_ERROR, WRONGTYPE,
};
use crate::notify::Event;
use crate::protocol::parse::parse_i64;
use crate::protocol::{Args, ReplyBuffer};
use crate::store::list::{End, Fill};
use crate::store::{Kind, List, WrongType};

type F = KeyFlags;

const INSERT: &[KeySpec] = specs::INSERT;
const POP: &[KeySpec] = specs::READ_DELETE;
const READ: &[KeySpec] = specs::READ;
const DELETE: &[KeySpec] = specs::DELETE;
/// The source loses an element, the destination gains it.
const MOVE: &[KeySpec] =
    &[KeySpec::at(1, F::RW.with(F::ACCESS).with(F::DELETE)), KeySpec::at(2, F::RW.with(F::INSERT))];

const LIST: Family = Family("list");

pub static COMMANDS: &[Command] = &[
    LIST.command("lpush", -3, WF, INSERT, lpush),
    LIST.command("rpush", -3, WF, INSERT, rpush),
    LIST.command("lpushx", -3, WF, INSERT, lpushx),
    LIST.command("rpushx", -3, WF, INSERT, rpushx),
    LIST.command("lpop", -2, WRITE_FAST, POP, lpop),
    LIST.command("rpop", -2, WRITE_FAST, POP, rpop),
    LIST.command("llen", 2, RF, specs::RO, llen),
    LIST.command("lrange", 4, R, READ, lrange),
    LIST.command("lindex", 3, R, READ, lindex),
    LIST.command("lset", 4, W, specs::UPDATE, lset),
    LIST.command("linsert", 5, W, INSERT, linsert),
    LIST.command("lrem", 4, WRITE, DELETE, lrem),
    LIST.command("ltrim", 4, WRITE, DELETE, ltrim),
    LIST.command("lpos", -3, R, READ, lpos),
    LIST.command("lmove", 5, W, MOVE, lmove),
    LIST.command("rpoplpush", 3, W, MOVE, rpoplpush),
    LIST.command("lmpop", -4, WRITE, specs::MPOP, lmpop),
    LIST.command("blpop", -3, BLOCKING, specs::POP_THEN_TIMEOUT, blpop),
    LIST.command("brpop", -3, BLOCKING, specs::POP_THEN_TIMEOUT, brpop),
    LIST.command("blmove", 6, BLOCKING_W, MOVE, blmove),
    LIST.command("brpoplpush", 4, BLOCKING_W, MOVE, brpoplpush),
    LIST.command("blmpop", -5, BLOCKING, specs::BLOCKING_MPOP, blmpop),
];

const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";

fn fill(ctx: &Ctx<'_>) -> Fill {
    ctx.server.live.list_fill()
}

/// LEFT or RIGHT.
fn end_arg(arg: &[u8]) -> Option<End> {
    match () {
        _ if is(arg, "LEFT") => Some(End::Left),
        _ if is(arg, "RIGHT") => Some(End::Right),
        _ => None,
    }
}

/// Argument `i` as an integer of at least `min`, replying `message` if it
/// is not one (Redis's `getRangeLongFromObjectOrReply` with a message).
fn at_least(ctx: &mut Ctx<'_>, args: &Args<'_>, i: usize, min: i64, message: &str) -> Option<usize> {
    let value = parse_i64(args.get(i)).filter(|&n| n >= min).and_then(|n| usize::try_from(n).ok());
    if value.is_none() {
        ctx.error(message);
    }
    value
}

/// Redis's range rule (LRANGE, LTRIM): negative indexes count from the
/// end; None when the range holds nothing.
fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop.min(len - 1) as usize))
}

/// The event of a push onto `end` (LPUSH, LMOVE's destination...).
fn push_event(end: End) -> Event {
    Event::list(match end {
        End::Left => "lpush",
        End::Right => "rpush",
    })
}

/// The event of a pop from `end`.
fn pop_event(end: End) -> Event {
    Event::list(match end {
        End::Left => "lpop",
        End::Right => "rpop",
    })
}

/// A position that may count from the end (-1 is the last); None outside.
fn position(index: i64, len: usize) -> Option<usize> {
    let index = if index < 0 { index + len as i64 } else { index };
    usize::try_from(index).ok().filter(|&i| i < len)
}

// ---------------------------------------------------------------------------
// Pushes
// ---------------------------------------------------------------------------

/// LPUSH key element [element ...]
fn lpush(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    push(ctx, args, End::Left, true);
}

/// RPUSH key element [element ...]
fn rpush(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    push(ctx, args, End::Right, true);
}

/// LPUSHX key element [element ...]: only onto an existing list.
fn lpushx(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    push(ctx, args, End::Left, false);
}

/// RPUSHX key element [element ...]: only onto an existing list.
fn rpushx(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    push(ctx, args, End::Right, false);
}

/// Push every element in turn; replies with the new length (0: no list
/// and `create` unset).
fn push(ctx: &mut Ctx<'_>, args: &Args<'_>, end: End, create: bool) {
    let fill = fill(ctx);
    let len = ctx.update_collection(args.get(1), create, push_event(end), |list: &mut List, _| {
        args.iter().skip(2).for_each(|element| list.push(end, element, fill));
        (list.len() as i64, true)
    });
    if let Some(len) = len {
        ctx.out.integer(len.unwrap_or(0));
    }
}

// ---------------------------------------------------------------------------
// Pops
// ---------------------------------------------------------------------------

/// LPOP key [count]
fn lpop(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    pop(ctx, args, End::Left, "lpop");
}

/// RPOP key [count]
fn rpop(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    pop(ctx, args, End::Right, "rpop");
}

/// One element as a bulk string, or with a count an array of up to that
/// many (empty for 0; a null array for no list).
fn pop(ctx: &mut Ctx<'_>, args: &Args<'_>, end: End, name: &str) {
    if args.len() > 3 {
        return ctx.error(&arity_message(name));
    }
    let count = match args.len() {
        3 => match at_least(ctx, args, 2, 0, NOT_POSITIVE) {
            Some(n) => Some(n),
            None => return,
        },
        _ => None,
    };
    let fill = fill(ctx);
    let popped = ctx.update_collection(args.get(1), false, pop_event(end), |list: &mut List, out| match count {
        None => {
            reply_element(out, list.pop(end, fill).as_deref());
            ((), true)
        }
        Some(n) => {
            pop_into(list, end, n, fill, out);
            ((), n > 0)
        }
    });
    match (popped, count) {
        (Some(None), None) => ctx.out.null(),
        (Some(None), Some(_)) => ctx.out.null_array(),
        _ => {}
    }
}

fn reply_element(out: &mut ReplyBuffer, element: Option<&[u8]>) {
    match element {
        Some(element) => out.bulk(element),
        None => out.null(),
    }
}

/// Pop up to `n` elements from `end`, replying with them as an array.
fn pop_into(list: &mut List, end: End, n: usize, fill: Fill, out: &mut ReplyBuffer) {
    let n = n.min(list.len());
    out.array(n);
    match end {
        End::Left => list.iter().take(n).for_each(|e| out.bulk(e)),
        End::Right => list.iter().rev().take(n).for_each(|e| out.bulk(e)),
    }
    list.remove_end(end, n, fill);
}

/// Pop from the first of `keys` that holds a list, replying `[key,
/// element]` (`count` None: BLPOP) or `[key, [elements]]` (LMPOP). Returns
/// whether a list was found; None after a WRONGTYPE reply.
fn pop_first(ctx: &mut Ctx<'_>, keys: &[&[u8]], end: End, count: Option<usize>) -> Option<bool> {
    let fill = fill(ctx);
    for key in keys {
        let served = ctx.update_collection(key, false, pop_event(end), |list: &mut List, out| {
            out.array(2);
            out.bulk(key);
            match count {
                None => reply_element(out, list.pop(end, fill).as_deref()),
                Some(n) => pop_into(list, end, n, fill, out),
            }
            ((), true)
        })?;
        if served.is_some() {
            return Some(true);
        }
    }
    Some(false)
}

/// The arguments of LMPOP and BLMPOP from `numkeys` at `at`: the keys, the
/// end and the count.
fn mpop_args<'a>(ctx: &mut Ctx<'_>, args: &Args<'a>, at: usize) -> Option<(Vec<&'a [u8]>, End, usize)> {
    let numkeys = at_least(ctx, args, at, 1, "ERR numkeys should be greater than 0")?;
    let Some(end) = numkeys.checked_add(at + 1).filter(|&i| i < args.len()).and_then(|i| end_arg(args.get(i))) else {
        ctx.error(SYNTAX_ERROR);
        return None;
    };
    let keys: Vec<&[u8]> = (at + 1..=at + numkeys).map(|i| args.get(i)).collect();
    let mut count = None;
    let mut i = at + numkeys + 2;
    while i < args.len() {
        if count.is_some() || !is(args.get(i), "COUNT") || i + 1 == args.len() {
            ctx.error(SYNTAX_ERROR);
            return None;
        }
        count = Some(at_least(ctx, args, i + 1, 1, "ERR count should be greater than 0")?);
        i += 2;
    }
    Some((keys, end, count.unwrap_or(1)))
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn lmpop(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some((keys, end, count)) = mpop_args(ctx, args, 1) else { return };
    if pop_first(ctx, &keys, end, Some(count)) == Some(false) {
        ctx.out.null_array();
    }
}

// ---------------------------------------------------------------------------
// Readers
// ---------------------------------------------------------------------------

/// LLEN key
fn llen(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    ctx.read_collection(args.get(1), |list: Option<&List>, out| out.integer(list.map_or(0, List::len) as i64));
}

/// LRANGE key start stop
fn lrange(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(start) = ctx.integer_arg(args, 2) else { return };
    let Some(stop) = ctx.integer_arg(args, 3) else { return };
    ctx.read_collection(args.get(1), |list: Option<&List>, out| {
        let Some((list, (first, last))) = list.and_then(|l| Some((l, clamp_range(start, stop, l.len())?))) else {
            return out.array(0);
        };
        out.array(last - first + 1);
        list.iter_from(first).take(last - first + 1).for_each(|e| out.bulk(e));
    });
}

/// LINDEX key index (the key is looked at before the index: no list
/// answers null whatever the index)
fn lindex(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let index = parse_i64(args.get(2));
    let bad_index = ctx.read_collection(args.get(1), |list: Option<&List>, out| {
        let Some(list) = list else {
            out.null();
            return false;
        };
        let Some(index) = index else { return true };
        reply_element(out, position(index, list.len()).and_then(|i| list.get(i)));
        false
    });
    if bad_index == Some(true) {
        ctx.error(NOT_AN_INTEGER);
    }
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
fn lpos(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(options) = LposOptions::parse(ctx, args) else { return };
    let element = args.get(2);
    ctx.read_collection(args.get(1), |list: Option<&List>, out| {
        let found = list.map_or_else(Vec::new, |list| options.find(list, element));
        match options.count {
            Some(_) => {
                out.array(found.len());
                found.iter().for_each(|&i| out.integer(i as i64));
            }
            None => match found.first() {
                Some(&i) => out.integer(i as i64),
                None => out.null(),
            },
        }
    });
}

struct LposOptions {
    /// Which match comes first (negative: from the tail).
    rank: i64,
    /// Matches wanted (Some(0): all); None: reply with one integer.
    count: Option<usize>,
    /// Elements compared at most (0: all).
    maxlen: usize,
}

impl LposOptions {
    fn parse(ctx: &mut Ctx<'_>, args: &Args<'_>) -> Option<LposOptions> {
        let mut options = LposOptions { rank: 1, count: None, maxlen: 0 };
        let mut i = 3;
        while i < args.len() {
            let (option, has_value) = (args.get(i), i + 1 < args.len());
            match () {
                _ if is(option, "RANK") && has_value => options.rank = Self::rank(ctx, args.get(i + 1))?,
                _ if is(option, "COUNT") && has_value => {
                    options.count = Some(at_least(ctx, args, i + 1, 0, "ERR COUNT can't be negative")?);
                }
                _ if is(option, "MAXLEN") && has_value => {
                    options.maxlen = at_least(ctx, args, i + 1, 0, "ERR MAXLEN can't be negative")?;
                }
                _ => {
                    ctx.error(SYNTAX_ERROR);
                    return None;
                }
            }
            i += 2;
        }
        Some(options)
    }

    fn rank(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<i64> {
        let error = match parse_i64(arg) {
            None => NOT_AN_INTEGER,
            Some(i64::MIN) => {
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
            }
            Some(0) => {
                "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use \
                 negative to start from the end of the list"
            }
            Some(rank) => return Some(rank),
        };
        ctx.error(error);
        None
    }

    /// Positions of the matches, in the order of the search.
    fn find(&self, list: &List, element: &[u8]) -> Vec<usize> {
        let skip = usize::try_from(self.rank.unsigned_abs() - 1).unwrap_or(usize::MAX);
        let wanted = match self.count {
            None => 1,
            Some(0) => usize::MAX,
            Some(n) => n,
        };
        let limit = if self.maxlen == 0 { usize::MAX } else { self.maxlen };
        let search = |elements: &mut dyn Iterator<Item = &[u8]>| -> Vec<usize> {
            let matches = elements.take(limit).enumerate().filter(|(_, e)| *e == element);
            matches.skip(skip).take(wanted).map(|(i, _)| i).collect()
        };
        if self.rank > 0 {
            search(&mut list.iter())
        } else {
            let last = list.len() - 1;
            search(&mut list.iter().rev()).into_iter().map(|i| last - i).collect()
        }
    }
}

// ---------------------------------------------------------------------------
// Editors
// ---------------------------------------------------------------------------

/// LSET key index element (the key is looked at before the index)
fn lset(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let index = parse_i64(args.get(2));
    let fill = fill(ctx);
    let result = ctx.update_collection(args.get(1), false, Event::list("lset"), |list: &mut List, _| {
        let Some(index) = index else { return (Err(NOT_AN_INTEGER), false) };
        list.make_room_for(args.get(3), fill);
        match position(index, list.len()) {
            Some(i) => (Ok(list.set(i, args.get(3), fill)), true),
            None => (Err(INDEX_OUT_OF_RANGE), false),
        }
    });
    match result {
        Some(Some(Ok(_))) => ctx.out.ok(),
        Some(Some(Err(message))) => ctx.error(message),
        Some(None) => ctx.error("ERR no such key"),
        None => {}
    }
}

/// LINSERT key BEFORE|AFTER pivot element: the new length, -1 if the
/// pivot is not there, 0 if there is no list.
fn linsert(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let after = match args.get(2) {
        arg if is(arg, "AFTER") => 1,
        arg if is(arg, "BEFORE") => 0,
        _ => return ctx.error(SYNTAX_ERROR),
    };
    let (pivot, element, fill) = (args.get(3), args.get(4), fill(ctx));
    let result = ctx.update_collection(args.get(1), false, Event::list("linsert"), |list: &mut List, _| {
        let found = list.iter().position(|e| e == pivot);
        match found {
            Some(i) => {
                list.insert(i + after, element, fill);
                (list.len() as i64, true)
            }
            None => (-1, false),
        }
    });
    if let Some(result) = result {
        ctx.out.integer(result.unwrap_or(0));
    }
}

/// LREM key count element: count > 0 from the head, < 0 from the tail,
/// 0 all.
fn lrem(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(count) = ctx.integer_arg(args, 2) else { return };
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let fill = fill(ctx);
    let removed = ctx.update_collection(args.get(1), false, Event::list("lrem"), |list: &mut List, _| {
        let removed = list.remove_matching(args.get(3), limit, count < 0, fill);
        (removed as i64, removed > 0)
    });
    if let Some(removed) = removed {
        ctx.out.integer(removed.unwrap_or(0));
    }
}

/// LTRIM key start stop. As in Redis, a trim is a change (an `ltrim`
/// event, and WATCH sees it) even when it removes nothing.
fn ltrim(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(start) = ctx.integer_arg(args, 2) else { return };
    let Some(stop) = ctx.integer_arg(args, 3) else { return };
    let fill = fill(ctx);
    let trimmed = ctx.update_collection(args.get(1), false, Event::list("ltrim"), |list: &mut List, _| {
        let len = list.len();
        match clamp_range(start, stop, len) {
            Some((first, last)) => list.trim(first, last, fill),
            None => list.remove_end(End::Left, len, fill),
        }
        ((), true)
    });
    if trimmed.is_some() {
        ctx.out.ok();
    }
}

// ---------------------------------------------------------------------------
// Moves
// ---------------------------------------------------------------------------

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
fn lmove(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let (Some(from), Some(to)) = (end_arg(args.get(3)), end_arg(args.get(4))) else {
        return ctx.error(SYNTAX_ERROR);
    };
    if let Some(moved) = move_element(ctx, args.get(1), args.get(2), from, to) {
        reply_element(ctx.out, moved.as_deref());
    }
}

/// RPOPLPUSH source destination
fn rpoplpush(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if let Some(moved) = move_element(ctx, args.get(1), args.get(2), End::Right, End::Left) {
        reply_element(ctx.out, moved.as_deref());
    }
}

/// Pop from `source` and push onto `destination`, both keys locked
/// together. `Some(None)`: no source list; None after a WRONGTYPE reply
/// (either key; the destination is checked before anything moves).
///
/// The events come in Redis's order, the push first: `new` if the
/// destination is created, `lpush`/`rpush` on it, then `lpop`/`rpop` on
/// the source and `del` if that emptied it. A list moved onto itself is
/// rotated in place (it never empties, nor is created again).
fn move_element(ctx: &mut Ctx<'_>, source: &[u8], destination: &[u8], from: End, to: End) -> Option<Option<Vec<u8>>> {
    let (fill, now, events) = (fill(ctx), ctx.now, ctx.events());
    let db = ctx.server.store.db(ctx.session.db);
    let moved = db.with_keys_locked([source, destination].into_iter(), |locked| {
        let destination_ok = locked.update(destination, now, |slot| slot.kind().is_none_or(|k| k == Kind::List));
        let rotate = source == destination;
        let popped = locked.update(source, now, |slot| {
            if slot.kind().is_some() && !destination_ok {
                return Err(WrongType);
            }
            let popped = slot.update_collection(false, |list: &mut List| {
                let element = list.pop(from, fill);
                if let (Some(element), true) = (&element, rotate) {
                    list.push(to, element, fill);
                }
                (element, true)
            })?;
            Ok(popped.flatten().map(|element| (element, !slot.exists())))
        })?;
        let Some((element, emptied)) = popped else { return Ok(None) };
        if !rotate {
            locked.update(destination, now, |slot| {
                slot.update_collection(true, |list: &mut List| (list.push(to, &element, fill), true))
            })?;
        }
        events.notify(push_event(to), destination);
        events.notify(pop_event(from), source);
        if emptied {
            events.notify(Event::DEL, source);
        }
        Ok(Some(element))
    });
    match moved {
        Ok(moved) => Some(moved),
        Err(WrongType) => {
            ctx.error(WRONGTYPE);
            None
        }
    }
}

// ---------------------------------------------------------------------------
// Blocking forms
// ---------------------------------------------------------------------------

/// BLPOP key [key ...] timeout
fn blpop(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    blocking_pop(ctx, args, End::Left);
}

/// BRPOP key [key ...] timeout
fn brpop(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    blocking_pop(ctx, args, End::Right);
}

fn blocking_pop(ctx: &mut Ctx<'_>, args: &Args<'_>, end: End) {
    let Some(deadline) = ctx.timeout_arg(args.get(args.len() - 1)) else { return };
    let keys: Vec<&[u8]> = args.iter().skip(1).take(args.len() - 2).collect();
    if pop_first(ctx, &keys, end, None) == Some(false) {
        ctx.block_or(&keys, Kind::List, deadline, ReplyBuffer::null_array);
    }
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn blmpop(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some((keys, end, count)) = mpop_args(ctx, args, 2) else { return };
    let Some(deadline) = ctx.timeout_arg(args.get(1)) else { return };
    if pop_first(ctx, &keys, end, Some(count)) == Some(false) {
        ctx.block_or(&keys, Kind::List, deadline, ReplyBuffer::null_array);
    }
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
fn blmove(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let (Some(from), Some(to)) = (end_arg(args.get(3)), end_arg(args.get(4))) else {
        return ctx.error(SYNTAX_ERROR);
    };
    blocking_move(ctx, args, from, to, 5);
}

/// BRPOPLPUSH source destination timeout
fn brpoplpush(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    blocking_move(ctx, args, End::Right, End::Left, 3);
}

fn blocking_move(ctx: &mut Ctx<'_>, args: &Args<'_>, from: End, to: End, timeout_at: usize) {
    let Some(deadline) = ctx.timeout_arg(args.get(timeout_at)) else { return };
    match move_element(ctx, args.get(1), args.get(2), from, to) {
        Some(Some(element)) => ctx.out.bulk(&element),
        Some(None) => ctx.block_or(&[args.get(1)], Kind::List, deadline, ReplyBuffer::null),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_clamp_as_redis_does() {
        assert_eq!(clamp_range(0, -1, 3), Some((0, 2)));
        assert_eq!(clamp_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(clamp_range(2, 1, 3), None);
        assert_eq!(clamp_range(3, 5, 3), None);
        assert_eq!(clamp_range(0, 1 << 62, 3), Some((0, 2)));
        assert_eq!(clamp_range(i64::MIN, i64::MAX, 0), None);
        assert_eq!(position(-1, 3), Some(2));
        assert_eq!(position(-4, 3), None);
        assert_eq!(position(i64::MIN, 3), None);
    }
}
