//! SORT and SORT_RO: the elements of a list, set or sorted set, sorted
//! numerically or (ALPHA) as strings, by themselves or by other keys'
//! values (BY pattern: `*` replaced by the element, `->field` reading a
//! hash field), cut by LIMIT, answered as themselves or as other keys'
//! values (GET pattern, GET #), or stored as a list (STORE), as Redis
//! 7.4's `sort.c` does.
//!
//! Memory follows the source: its elements are copied out once (only the
//! LIMIT window when nothing is sorted), the BY values are compared where
//! they lie (their keys read together, under their shards' read locks),
//! and the GET values go straight into the reply or the stored list. The
//! source, the BY keys and the GET keys are three looks at the keyspace,
//! each consistent in itself (a transaction or script holding every
//! worker sees them as one).

use std::cmp::Ordering;
use std::ops::Range;

use super::sets::found;
use super::zsets::strtod;
use super::{is, specs, Command, Ctx, Flags, KeyFlags, KeySpec, SYNTAX_ERROR};
use crate::notify::Event;
use crate::protocol::{Args, ReplyBuffer};
use crate::store::list::{End, Fill};
use crate::store::{EntryRef, Hash, Kind, List, Object, OwnedValue, WrongType, ZSet};

const BY_GET_NOTES: &str = "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive \
                            from the content of the key we sort";
const STORE_NOTES: &str = "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear \
                           anywhere in the argument array";

/// The sorted key, the keys its patterns name, and (SORT only) the STORE
/// destination, as Redis 7.4 describes them.
const SORT_KEYS: &[KeySpec] = &[
    KeySpec::at(1, specs::RO_ACCESS),
    KeySpec::unknown(specs::RO_ACCESS, BY_GET_NOTES, None),
    KeySpec::unknown(KeyFlags::OW.with(KeyFlags::UPDATE), STORE_NOTES, Some(store_key)),
];
const SORT_RO_KEYS: &[KeySpec] = SORT_KEYS.split_at(2).0;

pub static COMMANDS: &[Command] = &[
    Command {
        name: "sort",
        arity: -2,
        flags: Flags::WRITE.with(Flags::DENYOOM),
        keys: SORT_KEYS,
        group: "generic",
        run: sort,
    },
    Command { name: "sort_ro", arity: -2, flags: Flags::READONLY, keys: SORT_RO_KEYS, group: "generic", run: sort_ro },
];

const NOT_A_DOUBLE: &str = "ERR One or more scores can't be converted into double";

/// Where SORT's STORE destination is (Redis's `sortGetKeys`, for COMMAND
/// GETKEYS): after the last STORE, the options' arguments skipped.
fn store_key(args: &[&[u8]]) -> Vec<usize> {
    let mut found = None;
    let mut i = 2;
    while i < args.len() {
        match args[i] {
            arg if is(arg, "LIMIT") => i += 2,
            arg if is(arg, "STORE") && i + 1 < args.len() => found = Some(i + 1),
            arg if is(arg, "GET") || is(arg, "BY") => i += 1,
            _ => {}
        }
        i += 1;
    }
    found.into_iter().collect()
}

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA] [STORE destination]
fn sort(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    sort_command(ctx, args, false);
}

/// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
fn sort_ro(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    sort_command(ctx, args, true);
}

fn sort_command(ctx: &mut Ctx<'_>, args: &Args<'_>, readonly: bool) {
    let Some(mut options) = Options::parse(ctx, args, readonly) else { return };
    unpack_sorted_set(ctx, args.get(1));
    let loaded = ctx.read_key(args.get(1), |entry, _| load(entry, &mut options));
    let Some(Loaded { elements, window }) = loaded else { return };
    let order = if options.dontsort { Ok((0..elements.len()).collect()) } else { sort_order(ctx, &elements, &options) };
    match order {
        Ok(order) => answer(ctx, &elements, order.get(window).unwrap_or_default(), &options),
        Err(NotADouble) => ctx.error(NOT_A_DOUBLE),
    }
}

// ---------------------------------------------------------------------------
// Options and patterns
// ---------------------------------------------------------------------------

struct Options<'a> {
    desc: bool,
    alpha: bool,
    /// LIMIT offset count (a negative count: to the end).
    offset: i64,
    count: i64,
    /// BY: the pattern the elements are weighed by.
    by: Option<Pattern<'a>>,
    /// Nothing is sorted: a BY named no key (this sticks, as in Redis, even
    /// if a later BY names some).
    dontsort: bool,
    gets: Vec<Pattern<'a>>,
    store: Option<&'a [u8]>,
    /// Run by a script (`redis.call`).
    in_script: bool,
}

impl<'a> Options<'a> {
    /// Read the options in Redis's order, replying with its error (the
    /// first bad option wins) and returning None if one is bad. SORT_RO
    /// knows no STORE.
    fn parse(ctx: &mut Ctx<'_>, args: &Args<'a>, readonly: bool) -> Option<Options<'a>> {
        let mut options = Options {
            desc: false,
            alpha: false,
            offset: 0,
            count: -1,
            by: None,
            dontsort: false,
            gets: Vec::new(),
            store: None,
            in_script: ctx.session.in_script,
        };
        let mut j = 2;
        while j < args.len() {
            let (arg, left) = (args.get(j), args.len() - j - 1);
            match () {
                _ if is(arg, "ASC") => options.desc = false,
                _ if is(arg, "DESC") => options.desc = true,
                _ if is(arg, "ALPHA") => options.alpha = true,
                _ if is(arg, "LIMIT") && left >= 2 => {
                    options.offset = ctx.integer_arg(args, j + 1)?;
                    options.count = ctx.integer_arg(args, j + 2)?;
                    j += 2;
                }
                _ if !readonly && is(arg, "STORE") && left >= 1 => {
                    options.store = Some(args.get(j + 1));
                    j += 1;
                }
                _ if is(arg, "BY") && left >= 1 => {
                    let by = Pattern::parse(args.get(j + 1));
                    if matches!(by, Pattern::Key { .. }) && !pattern_in_slot(ctx, args, j + 1, "BY") {
                        return None;
                    }
                    options.dontsort |= !matches!(by, Pattern::Key { .. });
                    options.by = Some(by);
                    j += 1;
                }
                _ if is(arg, "GET") && left >= 1 => {
                    if !pattern_in_slot(ctx, args, j + 1, "GET") {
                        return None;
                    }
                    options.gets.push(Pattern::parse(args.get(j + 1)));
                    j += 1;
                }
                _ => {
                    ctx.error(SYNTAX_ERROR);
                    return None;
                }
            }
            j += 1;
        }
        Some(options)
    }
}

/// Cluster mode: whether the keys the BY or GET pattern at `at` forms are
/// all in the slot of the key sorted (Redis refuses the option, with this
/// error, when they may not be). Always true with cluster mode off.
fn pattern_in_slot(ctx: &mut Ctx<'_>, args: &Args<'_>, at: usize, option: &str) -> bool {
    if ctx.server.cluster.is_none() {
        return true;
    }
    let slot = crate::cluster::slot::pattern_slot(args.get(at));
    if slot == Some(crate::cluster::key_slot(args.get(1))) {
        return true;
    }
    ctx.error(&format!(
        "ERR {option} option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots."
    ));
    false
}

/// A BY or GET pattern (Redis's `lookupKeyByPattern`). Redis looks for
/// `#`, `*` and `->` in the pattern as a C string, so up to a NUL byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pattern<'a> {
    /// `#`: the element itself.
    Element,
    /// No `*`: the pattern names no key (GET answers nil).
    Nothing,
    /// The string at `prefix element suffix`, or, with `field`, that
    /// hash's field.
    Key { prefix: &'a [u8], suffix: &'a [u8], field: Option<&'a [u8]> },
}

impl<'a> Pattern<'a> {
    fn parse(pattern: &'a [u8]) -> Pattern<'a> {
        let text = c_string(pattern);
        if text == b"#" {
            return Pattern::Element;
        }
        let Some(star) = text.iter().position(|&b| b == b'*') else { return Pattern::Nothing };
        let arrow = text[star + 1..].windows(2).position(|w| w == b"->").map(|at| star + 1 + at);
        // `->` ends the key only if a field name follows it.
        match arrow.filter(|&at| at + 2 < text.len()) {
            Some(at) => Pattern::Key {
                prefix: &pattern[..star],
                suffix: &pattern[star + 1..at],
                field: Some(&pattern[at + 2..]),
            },
            None => Pattern::Key { prefix: &pattern[..star], suffix: &pattern[star + 1..], field: None },
        }
    }

    /// The key this pattern names for `element`, if it names one.
    fn key(&self, element: &[u8]) -> Option<Vec<u8>> {
        let Pattern::Key { prefix, suffix, .. } = self else { return None };
        Some([*prefix, element, *suffix].concat())
    }

    /// What the pattern reads from the entry of its key: a string's value,
    /// or the hash field (None: no key, another type, or no such field).
    fn value<'e>(&self, entry: Option<&EntryRef<'e>>) -> Option<&'e [u8]> {
        let Pattern::Key { field, .. } = self else { return None };
        match field {
            None => entry?.string().ok(),
            Some(field) => entry?.collection::<Hash>().ok()?.get(field),
        }
    }
}

/// `bytes` as C reads it: up to the first NUL.
fn c_string(bytes: &[u8]) -> &[u8] {
    bytes.iter().position(|&b| b == 0).map_or(bytes, |end| &bytes[..end])
}

// ---------------------------------------------------------------------------
// The source
// ---------------------------------------------------------------------------

/// The elements copied out of the source, and the positions (after
/// sorting) of those answered.
struct Loaded {
    elements: Vec<Vec<u8>>,
    window: Range<usize>,
}

/// Copy the elements out of the sorted key (a missing key is an empty
/// list). When nothing is sorted, a list or a sorted set gives only the
/// LIMIT window, in its own order (reversed by DESC).
fn load(entry: Option<&EntryRef<'_>>, options: &mut Options<'_>) -> Result<Loaded, WrongType> {
    let object = entry.map(|e| e.object().ok_or(WrongType)).transpose()?;
    if let Some(Object::Hash(_)) = object {
        return Err(WrongType);
    }
    // Redis sorts a set it is told not to sort when storing it or for a
    // script, so that what is stored or replicated does not depend on the
    // set's order.
    if options.dontsort && (options.store.is_some() || options.in_script) && matches!(object, Some(Object::Set(_))) {
        (options.dontsort, options.alpha, options.by) = (false, true, None);
    }
    let window = limit_window(options.offset, options.count, object.map_or(0, Object::len));
    let direct = options.dontsort && matches!(object, Some(Object::List(_) | Object::ZSet(_)));
    let (n, desc) = (window.len(), options.desc);
    let elements = match object {
        None | Some(Object::Hash(_)) => Vec::new(),
        Some(Object::List(list)) if direct && desc => {
            list.iter().rev().skip(window.start).take(n).map(<[u8]>::to_vec).collect()
        }
        Some(Object::List(list)) if direct => list.iter_from(window.start).take(n).map(<[u8]>::to_vec).collect(),
        Some(Object::List(list)) => list.iter().map(<[u8]>::to_vec).collect(),
        Some(Object::Set(set)) => set.iter().map(|member| member.to_vec()).collect(),
        Some(Object::ZSet(zset)) if direct => zset_window(zset, window.clone(), desc),
        Some(Object::ZSet(zset)) => zset_window(zset, 0..zset.len(), false),
    };
    let window = if direct { 0..elements.len() } else { window };
    Ok(Loaded { elements, window })
}

/// Redis turns a sorted set it sorts into its large encoding, for good
/// (`zsetConvert` in `sortCommandGeneric`, SORT_RO too), which later
/// replies show: a -0 score then stays -0, ZSCAN answers in table order.
fn unpack_sorted_set(ctx: &Ctx<'_>, key: &[u8]) {
    ctx.db().update(key, ctx.now, |slot| {
        if slot.kind() == Some(Kind::ZSet) {
            let _ = slot.update_collection(false, |zset: &mut ZSet| (zset.unpack(), false));
        }
    });
}

/// The members of ranks `window` (counted from the top when `desc`).
fn zset_window(zset: &ZSet, window: Range<usize>, desc: bool) -> Vec<Vec<u8>> {
    let mut members = Vec::with_capacity(window.len());
    if window.is_empty() {
        return members;
    }
    let first = if desc { zset.len() - 1 - window.start } else { window.start };
    zset.walk(first, desc, |member, _| {
        members.push(member.to_vec());
        members.len() < window.len()
    });
    members
}

/// The positions LIMIT offset count selects among `len` elements, clamped
/// as Redis clamps them.
fn limit_window(offset: i64, count: i64, len: usize) -> Range<usize> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let mut start = offset.max(0).min(len);
    let count = count.max(-1).min(len);
    let mut end = if count < 0 { len - 1 } else { start + count - 1 };
    if start >= len {
        (start, end) = (len - 1, len - 2);
    }
    end = end.min(len - 1);
    if end < start {
        return 0..0;
    }
    start as usize..(end + 1) as usize
}

// ---------------------------------------------------------------------------
// Sorting
// ---------------------------------------------------------------------------

/// A BY value or an element did not read as a number.
struct NotADouble;

/// The elements' order: by their BY values (read together, in place; a
/// missing key is a `keymiss`, as Redis's `lookupKeyByPattern` reads each
/// with `lookupKeyRead`) or by themselves.
fn sort_order(ctx: &mut Ctx<'_>, elements: &[Vec<u8>], options: &Options<'_>) -> Result<Vec<usize>, NotADouble> {
    let Some(by) = options.by.filter(|by| matches!(by, Pattern::Key { .. })) else {
        let values: Vec<Option<&[u8]>> = elements.iter().map(|e| Some(e.as_slice())).collect();
        return order_by(elements, &values, options);
    };
    let keys: Vec<Vec<u8>> = elements.iter().filter_map(|e| by.key(e)).collect();
    let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let events = ctx.events();
    ctx.db().view_all(&keys, ctx.now, |entries| {
        events.keymisses(found(&keys, &entries));
        let values: Vec<Option<&[u8]>> = entries.iter().map(|entry| by.value(entry.as_ref())).collect();
        order_by(elements, &values, options)
    })
}

/// Sort the positions of `elements` by their `values` (Redis's
/// `sortCompare`): as numbers (a missing value weighs 0; ties go by the
/// elements' bytes), or ALPHA as strings (missing values first; compared
/// as C's `strcoll` in the C locale would, or byte by byte when storing).
/// DESC reverses the whole comparison.
fn order_by(elements: &[Vec<u8>], values: &[Option<&[u8]>], options: &Options<'_>) -> Result<Vec<usize>, NotADouble> {
    let mut order: Vec<usize> = (0..elements.len()).collect();
    let directed = |ordering: Ordering| if options.desc { ordering.reverse() } else { ordering };
    if options.alpha {
        let whole = options.store.is_some();
        let text = |i: usize| values[i].map(|v| if whole { v } else { c_string(v) });
        order.sort_by(|&a, &b| directed(text(a).cmp(&text(b))));
    } else {
        let scores = values.iter().map(|v| v.map_or(Ok(0.0), score)).collect::<Result<Vec<f64>, _>>()?;
        order.sort_by(|&a, &b| {
            let by_score = scores[a].partial_cmp(&scores[b]).unwrap_or(Ordering::Equal);
            directed(by_score.then_with(|| elements[a].cmp(&elements[b])))
        });
    }
    Ok(order)
}

/// A value as SORT reads a number: C's `strtod` over the value as a C
/// string, which must be read whole (an empty value is 0), in range and
/// not NaN.
fn score(value: &[u8]) -> Result<f64, NotADouble> {
    let text = c_string(value);
    if text.is_empty() {
        return Ok(0.0);
    }
    // strtod skips leading white space (but reads nothing from only that).
    let start = text.iter().position(|b| !b" \t\n\x0b\x0c\r".contains(b)).unwrap_or(0);
    match strtod(&text[start..]) {
        Some((value, false)) if !value.is_nan() => Ok(value),
        _ => Err(NotADouble),
    }
}

// ---------------------------------------------------------------------------
// The answer
// ---------------------------------------------------------------------------

/// Where the answered values go.
enum Sink<'o> {
    Reply(&'o mut ReplyBuffer),
    /// STORE: a list (a missing value stored as an empty string).
    Store(List, Fill),
}

impl Sink<'_> {
    fn put(&mut self, value: Option<&[u8]>) {
        match self {
            Sink::Reply(out) => match value {
                Some(value) => out.bulk(value),
                None => out.null(),
            },
            Sink::Store(list, fill) => list.push(End::Right, value.unwrap_or_default(), *fill),
        }
    }
}

/// Answer the elements at `picked` (or, with GET patterns, what each
/// pattern reads for them), or store them as a list at the STORE
/// destination and answer its length.
fn answer(ctx: &mut Ctx<'_>, elements: &[Vec<u8>], picked: &[usize], options: &Options<'_>) {
    let count = picked.len() * options.gets.len().max(1);
    let (server, db, now, events) = (ctx.server, ctx.session.db, ctx.now, ctx.events());
    let mut sink = match options.store {
        Some(_) => Sink::Store(List::new(), server.live.list_fill()),
        None => {
            ctx.out.array(count);
            Sink::Reply(&mut *ctx.out)
        }
    };
    if options.gets.is_empty() {
        picked.iter().for_each(|&i| sink.put(Some(&elements[i])));
    } else {
        let gets = &options.gets;
        let keys: Vec<Vec<u8>> =
            picked.iter().flat_map(|&i| gets.iter().filter_map(move |get| get.key(&elements[i]))).collect();
        let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        server.store.db(db).view_all(&keys, now, |entries| {
            events.keymisses(found(&keys, &entries));
            let mut entries = entries.iter();
            for element in picked.iter().map(|&i| elements[i].as_slice()) {
                for get in gets {
                    let value = match get {
                        Pattern::Element => Some(element),
                        Pattern::Nothing => None,
                        Pattern::Key { .. } => get.value(entries.next().and_then(Option::as_ref)),
                    };
                    sink.put(value);
                }
            }
        });
    }
    if let (Sink::Store(list, _), Some(destination)) = (sink, options.store) {
        store(ctx, destination, list);
    }
}

/// Put `list` at `destination` in place of whatever it held (an empty
/// result deletes it), and answer its length. Reports `sortstore`, or
/// `del` if an empty result deleted the destination.
fn store(ctx: &mut Ctx<'_>, destination: &[u8], list: List) {
    let (len, events) = (list.len(), ctx.events());
    ctx.db().update(destination, ctx.now, |slot| {
        let event = if list.is_empty() {
            slot.remove().then_some(Event::DEL)
        } else {
            slot.put_owned(OwnedValue::Object(list.into()), None);
            Some(Event::list("sortstore"))
        };
        // Under the key's lock, before a client blocked on it can pop.
        if let Some(event) = event {
            events.notify(event, destination);
        }
    });
    ctx.out.integer(len as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_clamp_as_redis_does() {
        assert_eq!(limit_window(0, -1, 5), 0..5);
        assert_eq!(limit_window(1, 2, 5), 1..3);
        assert_eq!(limit_window(-3, 2, 5), 0..2);
        assert_eq!(limit_window(3, 100, 5), 3..5);
        assert_eq!(limit_window(5, 1, 5), 0..0);
        assert_eq!(limit_window(2, 0, 5), 0..0);
        assert_eq!(limit_window(0, -1, 0), 0..0);
        assert_eq!(limit_window(i64::MAX, i64::MAX, 3), 0..0);
        assert_eq!(limit_window(i64::MIN, i64::MIN, 3), 0..3);
    }

    #[test]
    fn patterns_split_as_lookup_key_by_pattern_does() {
        assert_eq!(Pattern::parse(b"#"), Pattern::Element);
        assert_eq!(Pattern::parse(b"#\0x"), Pattern::Element);
        assert_eq!(Pattern::parse(b"fixed"), Pattern::Nothing);
        assert_eq!(Pattern::parse(b"a\0*"), Pattern::Nothing);
        let key = |prefix, suffix, field| Pattern::Key { prefix, suffix, field };
        assert_eq!(Pattern::parse(b"w_*"), key(b"w_", b"", None));
        assert_eq!(Pattern::parse(b"h_*_x->f"), key(b"h_", b"_x", Some(b"f")));
        assert_eq!(Pattern::parse(b"h_*->"), key(b"h_", b"->", None));
        assert_eq!(Pattern::parse(b"a->b*c"), key(b"a->b", b"c", None));
        assert_eq!(Pattern::parse(b"*->f->g"), key(b"", b"", Some(b"f->g")));
        assert_eq!(key(b"w_", b"!", None).key(b"e"), Some(b"w_e!".to_vec()));
    }

    #[test]
    fn scores_read_as_strtod_does() {
        assert_eq!(score(b"1.5").ok(), Some(1.5));
        assert_eq!(score(b"").ok(), Some(0.0));
        assert_eq!(score(b" \t-2").ok(), Some(-2.0));
        assert_eq!(score(b"3\0junk").ok(), Some(3.0));
        assert_eq!(score(b"inf").ok(), Some(f64::INFINITY));
        for bad in [&b" "[..], b"2 ", b"abc", b"nan", b"1e400", b"1e-400"] {
            assert!(score(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn store_key_is_after_the_last_store() {
        fn line(text: &str) -> Vec<&[u8]> {
            text.split(' ').map(str::as_bytes).collect()
        }
        assert_eq!(store_key(&line("sort k store d")), [3]);
        assert_eq!(store_key(&line("sort k store a limit 0 1 store b")), [8]);
        assert!(store_key(&line("sort k get store")).is_empty(), "GET's argument");
        assert!(store_key(&line("sort k limit store x store")).is_empty(), "LIMIT's arguments; STORE needs one");
        assert!(store_key(&line("sort k")).is_empty());
    }
}
