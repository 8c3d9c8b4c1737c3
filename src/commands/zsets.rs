//! Sorted set commands: ZADD and ZINCRBY, ZREM, the readers (ZSCORE,
//! ZMSCORE, ZCARD, ZCOUNT, ZLEXCOUNT, ZRANK, ZREVRANK), the range family
//! (ZRANGE with BYSCORE/BYLEX/REV/LIMIT, ZRANGESTORE, ZREVRANGE,
//! ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX), the
//! removals by range (ZREMRANGEBYRANK/SCORE/LEX), the pops (ZPOPMIN,
//! ZPOPMAX, ZMPOP) and their blocking forms (BZPOPMIN, BZPOPMAX, BZMPOP;
//! the waiting is `crate::blocking`'s), ZRANDMEMBER, the set operations
//! (ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD) and ZSCAN.
//!
//! The sorted set itself (encodings, order, ranks) is `store/zset.rs`;
//! here are the arguments, the replies and the errors, as Redis 7.2 gives
//! them. Every range is turned into ranks first (a binary search), so a
//! reply's length is known before it is written and it is written
//! straight from the set, whatever LIMIT or rank range was asked for.

use foldhash::fast::RandomState;

use super::family_flags::{BLOCKING, R, RF, W, WF, WRITE, WRITE_FAST};
use super::keyspace::{parse_cursor, ScanOf, ScanOptions};
use super::random::{self, Rng};
use super::{is, specs, Command, Ctx, Family, Flags, KeyFlags, KeySpec, SYNTAX_ERROR, WRONGTYPE};
use crate::notify::{Event, Events};
use crate::protocol::parse::parse_i64;
use crate::protocol::reply::format_double_g17;
use crate::protocol::{Args, Protocol, ReplyBuffer};
use crate::store::hash::PackLimits;
use crate::store::table::LockedKeys;
use crate::store::zset::compare;
use crate::store::{Kind, OwnedValue, Set, SlotMut, WrongType, ZSet};

/// Members to scores, for the set operations.
type HashMap<'a> = hashbrown::HashMap<&'a [u8], f64, RandomState>;

const BLOCKING_FAST: Flags = BLOCKING.with(Flags::FAST);

type F = KeyFlags;

const READ: &[KeySpec] = specs::READ;
const RO: &[KeySpec] = specs::RO;
const UPDATE: &[KeySpec] = specs::UPDATE;
const READ_UPDATE: &[KeySpec] = specs::READ_UPDATE;
const DELETE: &[KeySpec] = specs::DELETE;
const POP: &[KeySpec] = specs::READ_DELETE;
/// ZRANGESTORE: the destination, then the source.
const RANGESTORE: &[KeySpec] = &[KeySpec::at(1, F::OW.with(F::UPDATE)), KeySpec::at(2, specs::RO_ACCESS)];
/// ZUNION, ZINTER, ZDIFF, ZINTERCARD: `numkeys key ...`.
const NUMKEYS: &[KeySpec] = &[KeySpec::keynum(1, 0, 1, 1, specs::RO_ACCESS)];
/// The STORE forms: the destination, then `numkeys key ...`.
const STORE: &[KeySpec] = &[KeySpec::at(1, F::OW.with(F::UPDATE)), KeySpec::keynum(2, 0, 1, 1, specs::RO_ACCESS)];

const ZSET: Family = Family("sortedset");

pub static COMMANDS: &[Command] = &[
    ZSET.command("zadd", -4, WF, UPDATE, zadd),
    ZSET.command("zincrby", 4, WF, READ_UPDATE, zincrby),
    ZSET.command("zrem", -3, WRITE_FAST, DELETE, zrem),
    ZSET.command("zremrangebyscore", 4, WRITE, DELETE, zremrangebyscore),
    ZSET.command("zremrangebyrank", 4, WRITE, DELETE, zremrangebyrank),
    ZSET.command("zremrangebylex", 4, WRITE, DELETE, zremrangebylex),
    ZSET.command("zunionstore", -4, W, STORE, zunionstore),
    ZSET.command("zinterstore", -4, W, STORE, zinterstore),
    ZSET.command("zdiffstore", -4, W, STORE, zdiffstore),
    ZSET.command("zunion", -3, R, NUMKEYS, zunion),
    ZSET.command("zinter", -3, R, NUMKEYS, zinter),
    ZSET.command("zintercard", -3, R, NUMKEYS, zintercard),
    ZSET.command("zdiff", -3, R, NUMKEYS, zdiff),
    ZSET.command("zrange", -4, R, READ, zrange),
    ZSET.command("zrangestore", -5, W, RANGESTORE, zrangestore),
    ZSET.command("zrangebyscore", -4, R, READ, zrangebyscore),
    ZSET.command("zrevrangebyscore", -4, R, READ, zrevrangebyscore),
    ZSET.command("zrangebylex", -4, R, READ, zrangebylex),
    ZSET.command("zrevrangebylex", -4, R, READ, zrevrangebylex),
    ZSET.command("zcount", 4, RF, READ, zcount),
    ZSET.command("zlexcount", 4, RF, READ, zlexcount),
    ZSET.command("zrevrange", -4, R, READ, zrevrange),
    ZSET.command("zcard", 2, RF, RO, zcard),
    ZSET.command("zscore", 3, RF, READ, zscore),
    ZSET.command("zmscore", -3, RF, READ, zmscore),
    ZSET.command("zrank", -3, RF, READ, zrank),
    ZSET.command("zrevrank", -3, RF, READ, zrevrank),
    ZSET.command("zscan", -3, R, READ, zscan),
    ZSET.command("zpopmin", -2, WRITE_FAST, POP, zpopmin),
    ZSET.command("zpopmax", -2, WRITE_FAST, POP, zpopmax),
    ZSET.command("zmpop", -4, WRITE, specs::MPOP, zmpop),
    ZSET.command("bzpopmin", -3, BLOCKING_FAST, specs::POP_THEN_TIMEOUT, bzpopmin),
    ZSET.command("bzpopmax", -3, BLOCKING_FAST, specs::POP_THEN_TIMEOUT, bzpopmax),
    ZSET.command("bzmpop", -5, BLOCKING, specs::BLOCKING_MPOP, bzmpop),
    ZSET.command("zrandmember", -2, R, READ, zrandmember),
];

const NOT_A_FLOAT: &str = "ERR value is not a valid float";
const MIN_MAX_NOT_FLOAT: &str = "ERR min or max is not a float";
const MIN_MAX_NOT_LEX: &str = "ERR min or max not valid string range item";
const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";
const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";

fn limits(ctx: &Ctx<'_>) -> PackLimits {
    ctx.server.live.zset_pack_limits()
}

/// Look at the sorted set at `key` (see [`Ctx::read_collection`]).
fn with_zset<R>(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(Option<&ZSet>, &mut ReplyBuffer) -> R) -> Option<R> {
    ctx.read_collection(key, f)
}

/// Change the sorted set at `key`, then report `event` (see
/// [`Ctx::update_collection`]).
fn update_zset<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    create: bool,
    event: Event,
    f: impl FnOnce(&mut ZSet, &mut ReplyBuffer) -> (R, bool),
) -> Option<Option<R>> {
    ctx.update_collection(key, create, event, f)
}

// ---------------------------------------------------------------------------
// Scores and ranges
// ---------------------------------------------------------------------------

/// What C's `strtod` reads in all of `text`: decimal and hexadecimal
/// (`0x1.8p3`) numbers and `inf`/`infinity` in any case, with a sign (no
/// NaN). The flag says the value was out of range (overflow to infinity,
/// or underflow to zero: `strtod`'s ERANGE).
pub(crate) fn strtod(text: &[u8]) -> Option<(f64, bool)> {
    if let Some(value) = small_integer(text) {
        return Some((value, false));
    }
    let text = std::str::from_utf8(text).ok()?;
    let (negative, body) = match text.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        let (value, out_of_range) = hex_float(hex)?;
        return Some((if negative { -value } else { value }, out_of_range));
    }
    let infinite = body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity");
    let decimal = body.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !infinite && !decimal {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    let mantissa = body.split(['e', 'E']).next().unwrap_or("");
    let overflow = value.is_infinite() && !infinite;
    let underflow = value == 0.0 && mantissa.bytes().any(|b| matches!(b, b'1'..=b'9'));
    Some((value, overflow || underflow))
}

/// The common score, an integer of at most 15 digits (optionally
/// negative), read without the general parser: such a value is exact in
/// an f64.
fn small_integer(text: &[u8]) -> Option<f64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', digits)) => (true, digits),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let mut value = 0u64;
    for &byte in digits {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + u64::from(digit);
    }
    // `-0` is negative zero, as strtod reads it.
    let value = value as f64;
    Some(if negative { -value } else { value })
}

/// The digits of a C hexadecimal float after its `0x`: hex digits with an
/// optional point (at least one digit), then an optional binary exponent
/// `p[+-]digits`. The flag is ERANGE, as for [`strtod`].
fn hex_float(text: &str) -> Option<(f64, bool)> {
    let (digits, exponent) = match text.find(['p', 'P']) {
        Some(at) => (&text[..at], text[at + 1..].parse::<i64>().ok()?),
        None => (text, 0),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.len() + fraction.len() == 0 || !whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    // The mantissa keeps the first 60 significant bits; a whole digit
    // beyond them still makes the value 16 times larger.
    let (mut mantissa, mut shift, mut nonzero) = (0u64, 0i64, false);
    for (i, c) in whole.chars().chain(fraction.chars()).enumerate() {
        let digit = u64::from(c.to_digit(16).unwrap_or(0));
        let in_fraction = i >= whole.len();
        if mantissa >> 56 == 0 {
            mantissa = mantissa << 4 | digit;
            shift -= if in_fraction { 4 } else { 0 };
        } else if !in_fraction {
            shift += 4;
        }
        nonzero |= digit != 0;
    }
    let value = scale_by_power_of_two(mantissa as f64, exponent.saturating_add(shift));
    Some((value, value.is_infinite() || (value == 0.0 && nonzero)))
}

/// `x * 2^exponent` without overflowing or underflowing on the way (C's
/// `ldexp`).
fn scale_by_power_of_two(mut x: f64, mut exponent: i64) -> f64 {
    while exponent > 1000 && x.is_finite() && x != 0.0 {
        x *= 2f64.powi(1000);
        exponent -= 1000;
    }
    while exponent < -1000 && x != 0.0 {
        x *= 2f64.powi(-1000);
        exponent += 1000;
    }
    x * 2f64.powi(exponent.clamp(-1100, 1100) as i32)
}

/// A score as Redis's `string2d` reads it (ZADD, ZINCRBY, WEIGHTS): a
/// whole number `strtod` reads, in range, not NaN.
pub(crate) fn parse_score(text: &[u8]) -> Option<f64> {
    match strtod(text) {
        Some((value, false)) => Some(value),
        _ => None,
    }
}

/// One end of a score range, `[(]score`.
#[derive(Clone, Copy, Debug)]
struct ScoreBound {
    value: f64,
    exclusive: bool,
}

impl ScoreBound {
    /// Read as `zslParseRange` does, with `strtod`: text after a NUL is
    /// ignored, leading space skipped, out-of-range values saturate, and
    /// an empty number is 0.
    fn parse(text: &[u8]) -> Option<ScoreBound> {
        let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())];
        let (exclusive, number) = match text.split_first() {
            Some((b'(', rest)) => (true, rest),
            _ => (false, text),
        };
        if number.is_empty() {
            return Some(ScoreBound { value: 0.0, exclusive });
        }
        let start = number.iter().position(|b| !b" \t\n\x0b\x0c\r".contains(b)).unwrap_or(number.len());
        strtod(&number[start..]).map(|(value, _)| ScoreBound { value, exclusive })
    }

    /// Whether `score` lies below this bound taken as a minimum.
    fn below_min(self, score: f64) -> bool {
        if self.exclusive {
            score <= self.value
        } else {
            score < self.value
        }
    }

    /// Whether `score` lies within this bound taken as a maximum.
    fn within_max(self, score: f64) -> bool {
        if self.exclusive {
            score < self.value
        } else {
            score <= self.value
        }
    }
}

/// One end of a lexicographic range: `-`, `+`, `(member` or `[member`.
#[derive(Clone, Copy, Debug)]
enum LexBound<'a> {
    Min,
    Max,
    Open(&'a [u8]),
    Closed(&'a [u8]),
}

impl<'a> LexBound<'a> {
    fn parse(text: &'a [u8]) -> Option<LexBound<'a>> {
        match text.split_first()? {
            (b'-', []) => Some(LexBound::Min),
            (b'+', []) => Some(LexBound::Max),
            (b'(', rest) => Some(LexBound::Open(rest)),
            (b'[', rest) => Some(LexBound::Closed(rest)),
            _ => None,
        }
    }

    fn below_min(self, member: &[u8]) -> bool {
        match self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Open(bound) => member <= bound,
            LexBound::Closed(bound) => member < bound,
        }
    }

    fn within_max(self, member: &[u8]) -> bool {
        match self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Open(bound) => member < bound,
            LexBound::Closed(bound) => member <= bound,
        }
    }
}

/// The members a range selects.
#[derive(Clone, Copy, Debug)]
enum Bounds<'a> {
    /// Start and end ranks, inclusive, negative from the end.
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound<'a>, LexBound<'a>),
}

/// A range with its direction and LIMIT (`limit` -1: none).
#[derive(Clone, Copy, Debug)]
struct Query<'a> {
    bounds: Bounds<'a>,
    rev: bool,
    offset: i64,
    limit: i64,
}

impl<'a> Query<'a> {
    fn of(bounds: Bounds<'a>) -> Self {
        Query { bounds, rev: false, offset: 0, limit: -1 }
    }

    /// Where the range lies in `zset`.
    fn span(&self, zset: &ZSet) -> Span {
        match self.bounds {
            Bounds::Rank(start, end) => match rank_range(start, end, zset.len()) {
                Some((lo, hi)) if self.rev => Span { first: zset.len() - 1 - lo, len: hi - lo + 1, rev: true },
                Some((lo, hi)) => Span { first: lo, len: hi - lo + 1, rev: false },
                None => Span::default(),
            },
            Bounds::Score(min, max) => self
                .limited(zset.partition_point(|_, s| min.below_min(s)), zset.partition_point(|_, s| max.within_max(s))),
            Bounds::Lex(min, max) => self
                .limited(zset.partition_point(|m, _| min.below_min(m)), zset.partition_point(|m, _| max.within_max(m))),
        }
    }

    /// The ranks `lo..hi` after LIMIT (a negative offset selects nothing,
    /// a negative count everything), in the query's direction.
    fn limited(&self, lo: usize, hi: usize) -> Span {
        let available = hi.saturating_sub(lo);
        let Ok(offset) = usize::try_from(self.offset) else { return Span::default() };
        if offset >= available {
            return Span::default();
        }
        let len = (available - offset).min(usize::try_from(self.limit).unwrap_or(usize::MAX));
        match self.rev {
            true => Span { first: hi - 1 - offset, len, rev: true },
            false => Span { first: lo + offset, len, rev: false },
        }
    }
}

/// `start..=end` (negative from the end) clamped to a set of `len`, as
/// Redis clamps it; None when empty.
fn rank_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

/// `len` members from rank `first`, walking backwards when `rev`.
#[derive(Clone, Copy, Debug, Default)]
struct Span {
    first: usize,
    len: usize,
    rev: bool,
}

impl Span {
    /// Call `f` with each member of the span, in its order.
    fn walk<'s>(self, zset: &'s ZSet, mut f: impl FnMut(&'s [u8], f64)) {
        let mut left = self.len;
        if left > 0 {
            zset.walk(self.first, self.rev, |m, s| {
                f(m, s);
                left -= 1;
                left > 0
            });
        }
    }

    /// The lowest rank of the span and one past the highest.
    fn ranks(self) -> (usize, usize) {
        match self.rev {
            true => ((self.first + 1).saturating_sub(self.len), self.first + 1),
            false => (self.first, self.first + self.len),
        }
    }
}

/// One member of a reply: the member, and with `withscores` its score
/// after it (RESP2) or both as a pair (RESP3, as Redis 7 nests them).
fn emit_member(out: &mut ReplyBuffer, member: &[u8], score: f64, withscores: bool) {
    if withscores && out.protocol == Protocol::Resp3 {
        out.array(2);
    }
    out.bulk(member);
    if withscores {
        out.double(score);
    }
}

/// The array header for `len` members (see [`emit_member`]).
fn members_header(out: &mut ReplyBuffer, len: usize, withscores: bool) {
    out.array(if withscores && out.protocol == Protocol::Resp2 { len * 2 } else { len });
}

/// The members of `span`, as ZRANGE replies.
fn reply_span(out: &mut ReplyBuffer, zset: &ZSet, span: Span, withscores: bool) {
    members_header(out, span.len, withscores);
    span.walk(zset, |m, s| emit_member(out, m, s, withscores));
}

// ---------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM
// ---------------------------------------------------------------------------

/// ZADD's options.
#[derive(Clone, Copy, Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What ZADD did with one member.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Added {
    New,
    Updated,
    /// Processed, score unchanged.
    Same,
    /// Skipped by NX, XX, GT or LT.
    Skipped,
}

/// Redis's `zsetAdd`: add or update one member under `flags`. Returns
/// what happened and the member's score after it; Err for a NaN sum.
fn add_member(
    zset: &mut ZSet,
    member: &[u8],
    score: f64,
    flags: AddFlags,
    limits: PackLimits,
) -> Result<(Added, f64), ()> {
    let Some(current) = zset.score(member) else {
        if flags.xx {
            return Ok((Added::Skipped, score));
        }
        zset.insert(member, score, limits);
        return Ok((Added::New, score));
    };
    if flags.nx {
        return Ok((Added::Skipped, current));
    }
    let score = if flags.incr { score + current } else { score };
    if score.is_nan() {
        return Err(());
    }
    if (flags.lt && score >= current) || (flags.gt && score <= current) {
        return Ok((Added::Skipped, current));
    }
    if score == current {
        return Ok((Added::Same, score));
    }
    zset.insert(member, score, limits);
    Ok((Added::Updated, score))
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
fn zadd(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    add(ctx, args, AddFlags::default());
}

/// ZINCRBY key increment member (ZADD's code path, with INCR set).
fn zincrby(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    add(ctx, args, AddFlags { incr: true, ..AddFlags::default() });
}

fn add(ctx: &mut Ctx<'_>, args: &Args<'_>, mut flags: AddFlags) {
    let mut at = 2;
    while at < args.len() {
        let option = args.get(at);
        match () {
            _ if is(option, "NX") => flags.nx = true,
            _ if is(option, "XX") => flags.xx = true,
            _ if is(option, "CH") => flags.ch = true,
            _ if is(option, "INCR") => flags.incr = true,
            _ if is(option, "GT") => flags.gt = true,
            _ if is(option, "LT") => flags.lt = true,
            _ => break,
        }
        at += 1;
    }
    let pairs = (args.len() - at) / 2;
    if pairs == 0 || (args.len() - at) % 2 != 0 {
        return ctx.error(SYNTAX_ERROR);
    }
    if flags.nx && flags.xx {
        return ctx.error("ERR XX and NX options at the same time are not compatible");
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return ctx.error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if flags.incr && pairs > 1 {
        return ctx.error("ERR INCR option supports a single increment-element pair");
    }
    let Some(scores) = (0..pairs).map(|i| parse_score(args.get(at + 2 * i))).collect::<Option<Vec<f64>>>() else {
        return ctx.error(NOT_A_FLOAT);
    };
    let limits = limits(ctx);
    let event = Event::zset(if flags.incr { "zincr" } else { "zadd" });
    let result = update_zset(ctx, args.get(1), !flags.xx, event, |zset, _| {
        zset.presize(pairs, args.get(at + 1).len(), limits);
        let (mut added, mut updated, mut last) = (0, 0, None);
        for (i, &score) in scores.iter().enumerate() {
            match add_member(zset, args.get(at + 2 * i + 1), score, flags, limits) {
                Ok((Added::New, s)) => (added, last) = (added + 1, Some(s)),
                Ok((Added::Updated, s)) => (updated, last) = (updated + 1, Some(s)),
                Ok((Added::Same, s)) => last = Some(s),
                Ok((Added::Skipped, _)) => {}
                Err(()) => return (Err(NAN_SCORE), added + updated > 0),
            }
        }
        (Ok((added, updated, last)), added + updated > 0)
    });
    let (added, updated, last) = match result {
        None => return,
        Some(Some(Err(msg))) => return ctx.error(msg),
        Some(Some(Ok(counts))) => counts,
        Some(None) => (0, 0, None),
    };
    match (flags.incr, last) {
        (true, Some(score)) => ctx.out.double(score),
        (true, None) => ctx.out.null(),
        (false, _) => ctx.out.integer(if flags.ch { added + updated } else { added }),
    }
}

/// ZREM key member [member ...]
fn zrem(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let removed = update_zset(ctx, args.get(1), false, Event::zset("zrem"), |zset, _| {
        let removed = args.iter().skip(2).filter(|m| zset.remove(m).is_some()).count();
        (removed as i64, removed > 0)
    });
    if let Some(removed) = removed {
        ctx.out.integer(removed.unwrap_or(0));
    }
}

// ---------------------------------------------------------------------------
// Readers
// ---------------------------------------------------------------------------

/// ZSCORE key member: a double (a bulk string in RESP2), or null.
fn zscore(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    with_zset(ctx, args.get(1), |zset, out| reply_score(out, zset.and_then(|z| z.score(args.get(2)))));
}

fn reply_score(out: &mut ReplyBuffer, score: Option<f64>) {
    match score {
        Some(score) => out.double(score),
        None => out.null(),
    }
}

/// ZMSCORE key member [member ...]
fn zmscore(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    with_zset(ctx, args.get(1), |zset, out| {
        out.array(args.len() - 2);
        args.iter().skip(2).for_each(|m| reply_score(out, zset.and_then(|z| z.score(m))));
    });
}

/// ZCARD key
fn zcard(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    with_zset(ctx, args.get(1), |zset, out| out.integer(zset.map_or(0, ZSet::len) as i64));
}

/// ZCOUNT key min max
fn zcount(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if let Some(bounds) = score_bounds(ctx, args.get(2), args.get(3)) {
        count_in(ctx, args.get(1), bounds);
    }
}

/// ZLEXCOUNT key min max
fn zlexcount(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if let Some(bounds) = lex_bounds(ctx, args.get(2), args.get(3)) {
        count_in(ctx, args.get(1), bounds);
    }
}

fn count_in(ctx: &mut Ctx<'_>, key: &[u8], bounds: Bounds<'_>) {
    with_zset(ctx, key, |zset, out| out.integer(zset.map_or(0, |z| Query::of(bounds).span(z).len) as i64));
}

fn score_bounds<'a>(ctx: &mut Ctx<'_>, min: &[u8], max: &[u8]) -> Option<Bounds<'a>> {
    match (ScoreBound::parse(min), ScoreBound::parse(max)) {
        (Some(min), Some(max)) => Some(Bounds::Score(min, max)),
        _ => {
            ctx.error(MIN_MAX_NOT_FLOAT);
            None
        }
    }
}

fn lex_bounds<'a>(ctx: &mut Ctx<'_>, min: &'a [u8], max: &'a [u8]) -> Option<Bounds<'a>> {
    match (LexBound::parse(min), LexBound::parse(max)) {
        (Some(min), Some(max)) => Some(Bounds::Lex(min, max)),
        _ => {
            ctx.error(MIN_MAX_NOT_LEX);
            None
        }
    }
}

fn rank_bounds<'a>(ctx: &mut Ctx<'_>, args: &Args<'_>, start: usize, end: usize) -> Option<Bounds<'a>> {
    Some(Bounds::Rank(ctx.integer_arg(args, start)?, ctx.integer_arg(args, end)?))
}

/// ZRANK key member [WITHSCORE]
fn zrank(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    rank(ctx, args, false);
}

/// ZREVRANK key member [WITHSCORE]
fn zrevrank(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    rank(ctx, args, true);
}

fn rank(ctx: &mut Ctx<'_>, args: &Args<'_>, rev: bool) {
    if args.len() > 4 {
        let name = if rev { "zrevrank" } else { "zrank" };
        return ctx.error(&super::arity_message(name));
    }
    let withscore = args.len() == 4;
    if withscore && !is(args.get(3), "WITHSCORE") {
        return ctx.error(SYNTAX_ERROR);
    }
    with_zset(ctx, args.get(1), |zset, out| match zset.and_then(|z| Some((z.rank(args.get(2))?, z.len()))) {
        Some(((rank, score), len)) => {
            if withscore {
                out.array(2);
            }
            out.integer(if rev { len - 1 - rank } else { rank } as i64);
            if withscore {
                out.double(score);
            }
        }
        None if withscore => out.null_array(),
        None => out.null(),
    });
}

// ---------------------------------------------------------------------------
// The range family
// ---------------------------------------------------------------------------

/// How a range is given: by rank unless BYSCORE or BYLEX says otherwise.
#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

/// How one of the range commands reads its arguments.
#[derive(Clone, Copy)]
struct Form {
    /// The source key's position (the range follows it).
    source: usize,
    /// ZRANGESTORE: no WITHSCORES.
    store: bool,
    by: By,
    /// Fixed direction, or None where REV may be given (ZRANGE).
    rev: Option<bool>,
}

const ZRANGE: Form = Form { source: 1, store: false, by: By::Auto, rev: None };

/// Redis's `zrangeGenericCommand` argument parsing: the options, their
/// conflicts, then the range. None after replying with the error.
fn parse_range<'a>(ctx: &mut Ctx<'_>, args: &Args<'a>, form: Form) -> Option<(Query<'a>, bool)> {
    let (mut by, mut rev, mut withscores, mut offset, mut limit) = (form.by, form.rev, false, 0, -1);
    let mut j = form.source + 3;
    while j < args.len() {
        let arg = args.get(j);
        if !form.store && is(arg, "WITHSCORES") {
            withscores = true;
        } else if is(arg, "LIMIT") && args.len() - j > 2 {
            offset = ctx.integer_arg(args, j + 1)?;
            limit = ctx.integer_arg(args, j + 2)?;
            j += 2;
        } else if rev.is_none() && is(arg, "REV") {
            rev = Some(true);
        } else if by == By::Auto && is(arg, "BYLEX") {
            by = By::Lex;
        } else if by == By::Auto && is(arg, "BYSCORE") {
            by = By::Score;
        } else {
            ctx.error(SYNTAX_ERROR);
            return None;
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    let by = if by == By::Auto { By::Rank } else { by };
    if limit != -1 && by == By::Rank {
        ctx.error("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
        return None;
    }
    if withscores && by == By::Lex {
        ctx.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return None;
    }
    // A reversed score or lex range is given as max, min.
    let (min, max) = match rev && by != By::Rank {
        true => (form.source + 2, form.source + 1),
        false => (form.source + 1, form.source + 2),
    };
    let bounds = match by {
        By::Score => score_bounds(ctx, args.get(min), args.get(max))?,
        By::Lex => lex_bounds(ctx, args.get(min), args.get(max))?,
        By::Rank | By::Auto => rank_bounds(ctx, args, min, max)?,
    };
    Some((Query { bounds, rev, offset, limit }, withscores))
}

/// The read-only range commands.
fn range(ctx: &mut Ctx<'_>, args: &Args<'_>, form: Form) {
    let Some((query, withscores)) = parse_range(ctx, args, form) else { return };
    with_zset(ctx, args.get(form.source), |zset, out| match zset {
        Some(zset) => reply_span(out, zset, query.span(zset), withscores),
        None => out.array(0),
    });
}

/// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
fn zrange(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    range(ctx, args, ZRANGE);
}

/// ZREVRANGE key start stop [WITHSCORES]
fn zrevrange(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    range(ctx, args, Form { by: By::Rank, rev: Some(true), ..ZRANGE });
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
fn zrangebyscore(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    range(ctx, args, Form { by: By::Score, rev: Some(false), ..ZRANGE });
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    range(ctx, args, Form { by: By::Score, rev: Some(true), ..ZRANGE });
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
fn zrangebylex(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    range(ctx, args, Form { by: By::Lex, rev: Some(false), ..ZRANGE });
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    range(ctx, args, Form { by: By::Lex, rev: Some(true), ..ZRANGE });
}

/// A sorted set's members, copied out, in order.
type Members = Vec<(Vec<u8>, f64)>;

/// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]
fn zrangestore(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let form = Form { source: 2, store: true, ..ZRANGE };
    let Some((query, _)) = parse_range(ctx, args, form) else { return };
    let (dst, src, now, limits) = (args.get(1), args.get(2), ctx.now, limits(ctx));
    let events = ctx.events();
    let stored = ctx.db().with_keys_locked([dst, src].into_iter(), |locked| {
        let items = locked.update(src, now, |slot| {
            if !slot.exists() {
                events.notify(Event::KEYMISS, src);
            }
            read_zset(slot, |zset| {
                let mut items = Members::with_capacity(query.span(zset).len);
                query.span(zset).walk(zset, |m, s| items.push((m.to_vec(), s)));
                if query.rev {
                    items.reverse();
                }
                items
            })
        })?;
        let items = items.iter().map(|(m, s)| (&m[..], *s));
        Ok(store(locked, Target { key: dst, event: Event::zset("zrangestore"), events }, now, items, limits))
    });
    match stored {
        Ok(len) => ctx.out.integer(len as i64),
        Err(WrongType) => ctx.error(WRONGTYPE),
    }
}

/// Read the sorted set in `slot` with `f` (an empty result for no key).
fn read_zset<R: Default>(slot: &mut SlotMut<'_>, f: impl FnOnce(&ZSet) -> R) -> Result<R, WrongType> {
    slot.update_collection::<ZSet, R>(false, |zset| (f(zset), false)).map(Option::unwrap_or_default)
}

/// Where a STORE form puts its result, and the event it reports.
#[derive(Clone, Copy)]
struct Target<'k> {
    key: &'k [u8],
    event: Event,
    events: Events<'k>,
}

/// Store `items` (in order, distinct) at the target key in place of
/// whatever it held, in the encoding Redis gives a stored result; no items
/// deletes it. Reports the target's event, or `del` if it was deleted.
/// Returns how many were stored.
fn store<'a>(
    locked: &mut LockedKeys<'_>,
    target: Target<'_>,
    now: u64,
    items: impl Iterator<Item = (&'a [u8], f64)>,
    limits: PackLimits,
) -> usize {
    let zset = ZSet::from_sorted(items, limits);
    let len = zset.len();
    let event = locked.update(target.key, now, |slot| {
        if len == 0 {
            slot.remove().then_some(Event::DEL)
        } else {
            slot.put_owned(OwnedValue::Object(zset.into()), None);
            Some(target.event)
        }
    });
    if let Some(event) = event {
        target.events.notify(event, target.key);
    }
    len
}

// ---------------------------------------------------------------------------
// Removal by range
// ---------------------------------------------------------------------------

/// ZREMRANGEBYRANK key start stop
fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if let Some(bounds) = rank_bounds(ctx, args, 2, 3) {
        remove_range(ctx, args.get(1), bounds, "zremrangebyrank");
    }
}

/// ZREMRANGEBYSCORE key min max
fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if let Some(bounds) = score_bounds(ctx, args.get(2), args.get(3)) {
        remove_range(ctx, args.get(1), bounds, "zremrangebyscore");
    }
}

/// ZREMRANGEBYLEX key min max
fn zremrangebylex(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if let Some(bounds) = lex_bounds(ctx, args.get(2), args.get(3)) {
        remove_range(ctx, args.get(1), bounds, "zremrangebylex");
    }
}

/// Remove the members in `bounds`; the event is the command's name.
fn remove_range(ctx: &mut Ctx<'_>, key: &[u8], bounds: Bounds<'_>, command: &'static str) {
    let removed = update_zset(ctx, key, false, Event::zset(command), |zset, _| {
        let (lo, hi) = Query::of(bounds).span(zset).ranks();
        let removed = zset.remove_ranks(lo, hi);
        (removed as i64, removed > 0)
    });
    if let Some(removed) = removed {
        ctx.out.integer(removed.unwrap_or(0));
    }
}

// ---------------------------------------------------------------------------
// Pops
// ---------------------------------------------------------------------------

/// Which end a pop takes from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum End {
    Min,
    Max,
}

/// How a pop's reply is framed (Redis's `genericZpopCommand` flags).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PopReply {
    /// Name the key first (BZPOPMIN, ZMPOP, BZMPOP).
    pub with_key: bool,
    /// Member/score pairs as arrays of two (ZMPOP; RESP3 ZPOPMIN COUNT).
    pub nested: bool,
}

/// Take up to `count` members from `end` of `zset`.
pub(crate) fn pop(zset: &mut ZSet, end: End, count: usize) -> Members {
    let len = zset.len();
    let count = count.min(len);
    let span = match end {
        End::Min => Span { first: 0, len: count, rev: false },
        End::Max => Span { first: len.saturating_sub(1), len: count, rev: true },
    };
    let mut popped = Members::with_capacity(count);
    span.walk(zset, |m, s| popped.push((m.to_vec(), s)));
    let (lo, hi) = span.ranks();
    zset.remove_ranks(lo, hi);
    popped
}

/// Pop from the first of `keys` that exists: up to `count` members (None:
/// a single pop without COUNT, replied the same way as COUNT 1 except in
/// RESP3) from `end`, replying as `shape` says. Returns Some(true) when a
/// key was found and the reply written, Some(false) when no key exists and
/// nothing was written (the caller replies, or a blocking pop waits),
/// None after WRONGTYPE. The one pop of ZPOPMIN, ZPOPMAX, ZMPOP and the
/// blocking variants.
pub(crate) fn pop_first(ctx: &mut Ctx<'_>, keys: &[&[u8]], end: End, count: usize, shape: PopReply) -> Option<bool> {
    let event = Event::zset(match end {
        End::Min => "zpopmin",
        End::Max => "zpopmax",
    });
    for key in keys {
        let popped = update_zset(ctx, key, false, event, |zset, out| {
            let popped = pop(zset, end, count);
            reply_popped(out, shape.with_key.then_some(*key), shape.nested, &popped);
            ((), !popped.is_empty())
        })?;
        if popped.is_some() {
            return Some(true);
        }
    }
    Some(false)
}

fn reply_popped(out: &mut ReplyBuffer, key: Option<&[u8]>, nested: bool, popped: &Members) {
    let n = popped.len();
    match (key, nested) {
        (None, false) => out.array(n * 2),
        (None, true) => out.array(n),
        (Some(key), false) => {
            out.array(n * 2 + 1);
            out.bulk(key);
        }
        (Some(key), true) => {
            out.array(2);
            out.bulk(key);
            out.array(n);
        }
    }
    for (member, score) in popped {
        if nested {
            out.array(2);
        }
        out.bulk(member);
        out.double(*score);
    }
}

/// ZPOPMIN key [count]
fn zpopmin(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    pop_command(ctx, args, End::Min);
}

/// ZPOPMAX key [count]
fn zpopmax(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    pop_command(ctx, args, End::Max);
}

fn pop_command(ctx: &mut Ctx<'_>, args: &Args<'_>, end: End) {
    if args.len() > 3 {
        return ctx.error(SYNTAX_ERROR);
    }
    let count = match args.len() {
        3 => match parse_i64(args.get(2)).and_then(|n| usize::try_from(n).ok()) {
            Some(count) => Some(count),
            None => return ctx.error(NOT_POSITIVE),
        },
        _ => None,
    };
    let nested = ctx.out.protocol == Protocol::Resp3 && count.is_some();
    let shape = PopReply { with_key: false, nested };
    if pop_first(ctx, &[args.get(1)], end, count.unwrap_or(1), shape) == Some(false) {
        ctx.out.array(0);
    }
}

/// ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]
fn zmpop(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some((keys, end, count)) = parse_mpop(ctx, args, 1) else { return };
    if pop_first(ctx, &keys, end, count, PopReply { with_key: true, nested: true }) == Some(false) {
        ctx.out.null_array();
    }
}

/// ZMPOP's (and BZMPOP's) arguments from numkeys at `at`: the keys, the
/// end and the count. None after replying with Redis's error.
pub(crate) fn parse_mpop<'a>(ctx: &mut Ctx<'_>, args: &Args<'a>, at: usize) -> Option<(Vec<&'a [u8]>, End, usize)> {
    let positive = |arg: &[u8]| parse_i64(arg).filter(|&n| n >= 1).map(|n| n as u64 as usize);
    let Some(numkeys) = positive(args.get(at)) else {
        ctx.error("ERR numkeys should be greater than 0");
        return None;
    };
    let end_at = at.saturating_add(numkeys).saturating_add(1);
    if end_at >= args.len() {
        ctx.error(SYNTAX_ERROR);
        return None;
    }
    let end = match args.get(end_at) {
        arg if is(arg, "MIN") => End::Min,
        arg if is(arg, "MAX") => End::Max,
        _ => {
            ctx.error(SYNTAX_ERROR);
            return None;
        }
    };
    let mut count = None;
    let mut j = end_at + 1;
    while j < args.len() {
        if count.is_some() || !is(args.get(j), "COUNT") || j + 1 >= args.len() {
            ctx.error(SYNTAX_ERROR);
            return None;
        }
        let Some(n) = positive(args.get(j + 1)) else {
            ctx.error("ERR count should be greater than 0");
            return None;
        };
        count = Some(n);
        j += 2;
    }
    Some((args.iter().skip(at + 1).take(numkeys).collect(), end, count.unwrap_or(1)))
}

/// BZPOPMIN key [key ...] timeout
fn bzpopmin(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    blocking_pop(ctx, args, End::Min);
}

/// BZPOPMAX key [key ...] timeout
fn bzpopmax(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    blocking_pop(ctx, args, End::Max);
}

/// `[key, member, score]` from the first of the keys holding a sorted set,
/// or wait for one (the timeout is read first, as Redis does).
fn blocking_pop(ctx: &mut Ctx<'_>, args: &Args<'_>, end: End) {
    let Some(deadline) = ctx.timeout_arg(args.get(args.len() - 1)) else { return };
    let keys: Vec<&[u8]> = args.iter().skip(1).take(args.len() - 2).collect();
    let shape = PopReply { with_key: true, nested: false };
    pop_or_block(ctx, &keys, end, 1, shape, deadline);
}

/// BZMPOP timeout numkeys key [key ...] MIN | MAX [COUNT count]: ZMPOP's
/// reply, or wait (the arguments are read before the timeout).
fn bzmpop(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some((keys, end, count)) = parse_mpop(ctx, args, 2) else { return };
    let Some(deadline) = ctx.timeout_arg(args.get(1)) else { return };
    pop_or_block(ctx, &keys, end, count, PopReply { with_key: true, nested: true }, deadline);
}

/// Pop as [`pop_first`] does or, no key holding a sorted set, block until
/// one does (inside MULTI: reply as a timeout, a null array).
fn pop_or_block(ctx: &mut Ctx<'_>, keys: &[&[u8]], end: End, count: usize, shape: PopReply, deadline: Option<u64>) {
    if pop_first(ctx, keys, end, count, shape) == Some(false) {
        ctx.block_or(keys, Kind::ZSet, deadline, ReplyBuffer::null_array);
    }
}

// ---------------------------------------------------------------------------
// ZRANDMEMBER
// ---------------------------------------------------------------------------

/// ZRANDMEMBER key [count [WITHSCORES]]
fn zrandmember(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let mut rng = Rng::new(ctx);
    if args.len() == 2 {
        with_zset(ctx, args.get(1), |zset, out| {
            match zset.filter(|z| !z.is_empty()).and_then(|z| z.get(rng.below(z.len()))) {
                Some((member, _)) => out.bulk(member),
                None => out.null(),
            }
        });
        return;
    }
    let Some((count, withscores)) = random::count_arg(ctx, args, "WITHSCORES") else { return };
    let output_limit = random::output_limit(ctx);
    let complete = with_zset(ctx, args.get(1), |zset, out| {
        let Some(zset) = zset.filter(|_| count != 0) else {
            out.array(0);
            return true;
        };
        if count > 0 {
            let picks = distinct_picks(zset, count.unsigned_abs(), &mut rng);
            members_header(out, picks.len(), withscores);
            picks.iter().for_each(|&(m, s)| emit_member(out, m, s, withscores));
            return true;
        }
        let len = count.unsigned_abs() as usize;
        members_header(out, len, withscores);
        // A packed set is read once; a large one is picked from by rank.
        let packed = (zset.encoding() == "listpack").then(|| zset.to_vec());
        random::stream_repeats(out, len, output_limit, |out| {
            let rank = rng.below(zset.len());
            let pick = match &packed {
                Some(items) => items.get(rank).copied(),
                None => zset.get(rank),
            };
            if let Some((member, score)) = pick {
                emit_member(out, member, score, withscores);
            }
        })
    });
    if complete == Some(false) {
        random::close_cut_off(ctx, "ZRANDMEMBER");
    }
}

/// `count` distinct members (all of them if the set has no more, from the
/// highest score down, as Redis's iterator walks a set), in random order: a partial shuffle when the pick is a large part
/// of the set, else ranks drawn until enough are distinct.
fn distinct_picks<'z>(zset: &'z ZSet, count: u64, rng: &mut Rng) -> Vec<(&'z [u8], f64)> {
    let len = zset.len();
    if count >= len as u64 {
        let mut all = zset.to_vec();
        all.reverse();
        return all;
    }
    let count = count as usize;
    if count * 3 > len {
        let mut all = zset.to_vec();
        for i in 0..count {
            let j = i + rng.below(len - i);
            all.swap(i, j);
        }
        all.truncate(count);
        return all;
    }
    let mut ranks = hashbrown::HashSet::with_capacity_and_hasher(count, RandomState::default());
    let mut picks = Vec::with_capacity(count);
    while picks.len() < count {
        let rank = rng.below(len);
        if ranks.insert(rank) {
            picks.extend(zset.get(rank));
        }
    }
    picks
}

// ---------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's `zunionInterAggregate`: an inf + -inf sum is 0.
    fn apply(self, target: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *target += value;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => *target = if value < *target { value } else { *target },
            Aggregate::Max => *target = if value > *target { value } else { *target },
        }
    }
}

/// What a set operation was asked for.
struct SetQuery {
    op: SetOp,
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    /// ZINTERCARD's LIMIT (0: none).
    limit: usize,
}

/// A set operation's keys, and its options or the error they make.
type SetKeys<'a> = (Vec<&'a [u8]>, Result<SetQuery, &'static str>);

/// Which command of the family is running.
#[derive(Clone, Copy)]
struct SetForm {
    op: SetOp,
    name: &'static str,
    /// Position of numkeys.
    numkeys: usize,
    store: bool,
    cardinality: bool,
}

/// Redis's `zunionInterDiffGenericCommand` parsing: numkeys and the keys
/// (errors replied at once), then the options, whose error is returned
/// rather than replied: Redis reports a wrong type among the keys first.
fn parse_set_query<'a>(ctx: &mut Ctx<'_>, args: &Args<'a>, form: SetForm) -> Option<SetKeys<'a>> {
    let numkeys = ctx.integer_arg(args, form.numkeys)?;
    if numkeys < 1 {
        ctx.error(&format!("ERR at least 1 input key is needed for '{}' command", form.name));
        return None;
    }
    let first = form.numkeys + 1;
    if numkeys as u64 > (args.len() - first) as u64 {
        ctx.error(SYNTAX_ERROR);
        return None;
    }
    let n = numkeys as usize;
    let keys = args.iter().skip(first).take(n).collect();
    Some((keys, parse_set_options(args, form, first + n, n)))
}

/// The options of a set operation, from `j` on, for `n` keys.
fn parse_set_options(args: &Args<'_>, form: SetForm, mut j: usize, n: usize) -> Result<SetQuery, &'static str> {
    let mut query =
        SetQuery { op: form.op, weights: vec![1.0; n], aggregate: Aggregate::Sum, withscores: false, limit: 0 };
    let weighted = form.op != SetOp::Diff && !form.cardinality;
    while j < args.len() {
        let (arg, remaining) = (args.get(j), args.len() - j);
        if weighted && remaining > n && is(arg, "WEIGHTS") {
            for (i, weight) in query.weights.iter_mut().enumerate() {
                *weight = parse_score(args.get(j + 1 + i)).ok_or("ERR weight value is not a float")?;
            }
            j += n + 1;
        } else if weighted && remaining >= 2 && is(arg, "AGGREGATE") {
            query.aggregate = match args.get(j + 1) {
                a if is(a, "SUM") => Aggregate::Sum,
                a if is(a, "MIN") => Aggregate::Min,
                a if is(a, "MAX") => Aggregate::Max,
                _ => return Err(SYNTAX_ERROR),
            };
            j += 2;
        } else if !form.store && !form.cardinality && is(arg, "WITHSCORES") {
            query.withscores = true;
            j += 1;
        } else if form.cardinality && remaining >= 2 && is(arg, "LIMIT") {
            let limit = parse_i64(args.get(j + 1)).and_then(|n| usize::try_from(n).ok());
            query.limit = limit.ok_or("ERR LIMIT can't be negative")?;
            j += 2;
        } else {
            return Err(SYNTAX_ERROR);
        }
    }
    Ok(query)
}

/// Copy out the source in `slot`: a sorted set's members and scores, a
/// set's members scoring 1, or nothing for no key; another type is
/// WRONGTYPE.
fn read_source(slot: &mut SlotMut<'_>) -> Result<Members, WrongType> {
    match slot.kind() {
        None => Ok(Members::new()),
        // Redis takes a set here too, each member scoring 1 (`zuiNext` on
        // an OBJ_SET).
        Some(Kind::Set) => slot
            .update_collection::<Set, Members>(false, |set| (set.iter().map(|m| (m.to_vec(), 1.0)).collect(), false))
            .map(Option::unwrap_or_default),
        Some(_) => read_zset(slot, |zset| zset.to_vec().into_iter().map(|(m, s)| (m.to_vec(), s)).collect()),
    }
}

/// The result of a set operation over `sources` (one per key, with its
/// weight), in order; `limit` stops an intersection early (0: never).
fn combine<'s>(query: &SetQuery, sources: &'s [Members], limit: usize) -> Vec<(&'s [u8], f64)> {
    let weighted = |i: usize, s: f64| {
        let v = query.weights[i] * s;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut result: Vec<(&[u8], f64)> = match query.op {
        SetOp::Diff => {
            let others = member_maps(sources.get(1..).unwrap_or(&[]));
            let first = sources.first().map_or(&[][..], |s| &s[..]);
            first
                .iter()
                .filter(|(m, _)| others.iter().all(|o| !o.contains_key(&m[..])))
                .map(|(m, s)| (&m[..], *s))
                .collect()
        }
        SetOp::Union => {
            let mut order: Vec<usize> = (0..sources.len()).collect();
            order.sort_by_key(|&i| sources[i].len());
            let mut acc = HashMap::default();
            for i in order {
                for (member, score) in &sources[i] {
                    let value = weighted(i, *score);
                    acc.entry(&member[..]).and_modify(|t| query.aggregate.apply(t, value)).or_insert(value);
                }
            }
            acc.into_iter().collect()
        }
        SetOp::Inter => {
            let mut order: Vec<usize> = (0..sources.len()).collect();
            order.sort_by_key(|&i| sources[i].len());
            let maps = member_maps(sources);
            let mut found = Vec::new();
            for (member, score) in &sources[order[0]] {
                let mut total = weighted(order[0], *score);
                let all = order[1..].iter().all(|&j| match maps[j].get(&member[..]) {
                    Some(&s) => {
                        query.aggregate.apply(&mut total, s * query.weights[j]);
                        true
                    }
                    None => false,
                });
                if all {
                    found.push((&member[..], total));
                    if found.len() == limit {
                        break;
                    }
                }
            }
            found
        }
    };
    result.sort_by(|a, b| compare(a.1, a.0, b.1, b.0));
    result
}

fn member_maps(sources: &[Members]) -> Vec<HashMap<'_>> {
    sources.iter().map(|s| s.iter().map(|(m, score)| (&m[..], *score)).collect()).collect()
}

/// Run a set operation: read the sources under their locks, combine, and
/// reply (or store at `dst`, which is locked with them).
fn set_operation(ctx: &mut Ctx<'_>, args: &Args<'_>, form: SetForm) {
    let Some((keys, parsed)) = parse_set_query(ctx, args, form) else { return };
    let dst = form.store.then(|| args.get(1));
    let (now, limits, events) = (ctx.now, limits(ctx), ctx.events());
    let out = &mut *ctx.out;
    let outcome = ctx.server.store.db(ctx.session.db).with_keys_locked(keys.iter().copied().chain(dst), |locked| {
        let read = |key: &&[u8]| {
            locked.update(key, now, |slot| {
                if !slot.exists() {
                    events.notify(Event::KEYMISS, key);
                }
                read_source(slot)
            })
        };
        let sources = keys.iter().map(read).collect::<Result<Vec<_>, _>>()?;
        let Ok(query) = &parsed else { return Ok(()) };
        let result = combine(query, &sources, query.limit);
        match dst {
            Some(dst) => {
                let target = Target { key: dst, event: Event::zset(form.name), events };
                out.integer(store(locked, target, now, result.into_iter(), limits) as i64);
            }
            None if form.cardinality => out.integer(result.len() as i64),
            None => {
                members_header(out, result.len(), query.withscores);
                result.iter().for_each(|&(m, s)| emit_member(out, m, s, query.withscores));
            }
        }
        Ok(())
    });
    match (outcome, parsed) {
        (Err(WrongType), _) => ctx.error(WRONGTYPE),
        (Ok(()), Err(msg)) => ctx.error(msg),
        (Ok(()), Ok(_)) => {}
    }
}

const fn set_form(op: SetOp, name: &'static str, store: bool) -> SetForm {
    SetForm { op, name, numkeys: if store { 2 } else { 1 }, store, cardinality: false }
}

/// ZUNION numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
fn zunion(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    set_operation(ctx, args, set_form(SetOp::Union, "zunion", false));
}

/// ZINTER numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
fn zinter(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    set_operation(ctx, args, set_form(SetOp::Inter, "zinter", false));
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
fn zdiff(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    set_operation(ctx, args, set_form(SetOp::Diff, "zdiff", false));
}

/// ZUNIONSTORE dst numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]
fn zunionstore(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    set_operation(ctx, args, set_form(SetOp::Union, "zunionstore", true));
}

/// ZINTERSTORE dst numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]
fn zinterstore(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    set_operation(ctx, args, set_form(SetOp::Inter, "zinterstore", true));
}

/// ZDIFFSTORE dst numkeys key [key ...]
fn zdiffstore(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    set_operation(ctx, args, set_form(SetOp::Diff, "zdiffstore", true));
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
fn zintercard(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    set_operation(ctx, args, SetForm { cardinality: true, ..set_form(SetOp::Inter, "zintercard", false) });
}

// ---------------------------------------------------------------------------
// ZSCAN
// ---------------------------------------------------------------------------

/// ZSCAN key cursor [MATCH pattern] [COUNT count]. Scores are written as
/// Redis writes them: a packed set's as it stores them (`d2string`), a
/// large one's with `%.17g`. As in Redis, the options are read only once
/// the key is found to be a sorted set: a missing key is an empty scan
/// whatever they say.
fn zscan(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(cursor) = parse_cursor(args.get(2)) else {
        return ctx.error("ERR invalid cursor");
    };
    match with_zset(ctx, args.get(1), |zset, _| zset.is_some()) {
        None => return,
        Some(false) => return reply_scan(ctx.out, 0, &[]),
        Some(true) => {}
    }
    let Some(options) = ScanOptions::parse(ctx, args, 3, ScanOf::Members) else { return };
    with_zset(ctx, args.get(1), |zset, out| {
        let mut items: Vec<(&[u8], String)> = Vec::new();
        let next = zset.map_or(0, |zset| {
            let packed = zset.encoding() == "listpack";
            zset.scan(cursor, options.count, |member, score| {
                if options.admits(member, "zset") {
                    let text =
                        if packed { crate::protocol::reply::format_double(score) } else { format_double_g17(score) };
                    items.push((member, text));
                }
            })
        });
        reply_scan(out, next, &items);
    });
}

fn reply_scan(out: &mut ReplyBuffer, next: u64, items: &[(&[u8], String)]) {
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(items.len() * 2);
    for (member, score) in items {
        out.bulk(member);
        out.bulk(score.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_like_string2d() {
        for (text, value) in
            [("1", 1.0), ("-1.5", -1.5), ("+inf", f64::INFINITY), ("-INF", f64::NEG_INFINITY), (".5", 0.5)]
        {
            assert_eq!(parse_score(text.as_bytes()), Some(value), "{text}");
        }
        assert_eq!(parse_score(b"1e-310").map(|v| v > 0.0), Some(true), "a subnormal is accepted");
        for text in
            ["", " 1", "1 ", "nan", "-nan", "1e400", "1e-400", "abc", "1e", "1\x000", "0x", "0x.", "0xg", "0x1p"]
        {
            assert_eq!(parse_score(text.as_bytes()), None, "{text:?}");
        }
        // Hexadecimal floats, as C's strtod reads them.
        for (text, value) in [("0x1f", 31.0), ("-0X.8", -0.5), ("0x1.8p1", 3.0), ("+0x10p-4", 1.0), ("0x0", 0.0)] {
            assert_eq!(parse_score(text.as_bytes()), Some(value), "{text}");
        }
        assert_eq!(parse_score(b"0x123456789abcdef0123"), Some(0x0123_4567_89ab_cdef_0123_u128 as f64), "long");
        assert_eq!(parse_score(b"0x1p2000"), None, "overflow");
        assert_eq!(parse_score(b"0x1p-2000"), None, "underflow");
    }

    #[test]
    fn integer_scores_take_the_short_path_to_the_same_value() {
        for text in ["0", "-0", "7", "-42", "000123", "999999999999999", "-999999999999999", "1000000000000000"] {
            let general: f64 = text.parse().unwrap_or(f64::NAN);
            let parsed = strtod(text.as_bytes()).map(|(v, _)| v);
            assert_eq!(parsed.map(f64::to_bits), Some(general.to_bits()), "{text}");
        }
        for text in ["-", "--1", "1-", "+-1"] {
            assert_eq!(strtod(text.as_bytes()), None, "{text:?}");
        }
    }

    #[test]
    fn range_bounds_parse_like_zsl_parse_range() {
        let bound = |t: &str| ScoreBound::parse(t.as_bytes()).map(|b| (b.value, b.exclusive));
        assert_eq!(bound("(1.5"), Some((1.5, true)));
        assert_eq!(bound(""), Some((0.0, false)));
        assert_eq!(bound("("), Some((0.0, true)));
        assert_eq!(bound(" 2"), Some((2.0, false)));
        assert_eq!(bound("1e400"), Some((f64::INFINITY, false)));
        assert_eq!(bound("1\0junk"), Some((1.0, false)));
        assert_eq!(bound("nan"), None);
        assert_eq!(bound("(x"), None);
        assert_eq!(bound("  "), None);
    }

    #[test]
    fn rank_ranges_clamp_like_redis() {
        assert_eq!(rank_range(0, -1, 5), Some((0, 4)));
        assert_eq!(rank_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(rank_range(3, 1, 5), None);
        assert_eq!(rank_range(5, 10, 5), None);
        assert_eq!(rank_range(i64::MIN, i64::MAX, 5), Some((0, 4)));
        assert_eq!(rank_range(0, -1, 0), None);
    }
}
