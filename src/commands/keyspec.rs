//! Key specifications (Redis 7's key specs): which arguments of a command
//! are keys, and what the command does to each (`RO`/`RW`/`OW`/`RM`,
//! `access`/`update`/`insert`/`delete`).
//!
//! Every command in the table lists its specs; they drive COMMAND's legacy
//! first/last/step triple and its `key_specs`, COMMAND GETKEYS and COMMAND
//! GETKEYSANDFLAGS. A spec begins at an index and finds its keys either
//! as a range or, for commands that say how many keys follow (EVAL,
//! ZUNIONSTORE, LMPOP), through a `numkeys` argument. A spec Redis marks
//! `unknown` (SORT's STORE destination, its BY/GET patterns) finds this
//! call's keys, if any, with a function, as Redis's `getkeys_proc` does.

use super::ReplyBuffer;
use crate::protocol::Args;

/// A command line whose keys are looked for: a client's [`Args`] (the
/// routing check of cluster mode) or the arguments COMMAND GETKEYS was
/// given.
pub trait ArgList {
    fn count(&self) -> usize;
    fn arg(&self, i: usize) -> &[u8];
    /// Every argument, for a [`LocateKeys`] function.
    fn to_vec(&self) -> Vec<&[u8]> {
        (0..self.count()).map(|i| self.arg(i)).collect()
    }
}

impl ArgList for [&[u8]] {
    fn count(&self) -> usize {
        self.len()
    }

    fn arg(&self, i: usize) -> &[u8] {
        self[i]
    }
}

impl ArgList for Args<'_> {
    fn count(&self) -> usize {
        self.len()
    }

    fn arg(&self, i: usize) -> &[u8] {
        self.get(i)
    }
}

/// The positions of one spec's keys (a range, or the list a
/// [`LocateKeys`] function gave), without allocating for a range.
pub enum Positions {
    Range(std::iter::StepBy<std::ops::RangeInclusive<usize>>),
    Listed(std::vec::IntoIter<usize>),
}

impl Iterator for Positions {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match self {
            Positions::Range(range) => range.next(),
            Positions::Listed(list) => list.next(),
        }
    }
}

/// What a command does with a key, as Redis names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyFlags(u16);

impl KeyFlags {
    /// Read only.
    pub const RO: KeyFlags = KeyFlags(1);
    /// Read and written.
    pub const RW: KeyFlags = KeyFlags(1 << 1);
    /// Overwritten without being read.
    pub const OW: KeyFlags = KeyFlags(1 << 2);
    /// Removed.
    pub const RM: KeyFlags = KeyFlags(1 << 3);
    /// Its value is returned or used.
    pub const ACCESS: KeyFlags = KeyFlags(1 << 4);
    /// Its value is changed.
    pub const UPDATE: KeyFlags = KeyFlags(1 << 5);
    /// Data is only added.
    pub const INSERT: KeyFlags = KeyFlags(1 << 6);
    /// Data is only removed.
    pub const DELETE: KeyFlags = KeyFlags(1 << 7);
    /// The flags depend on the arguments (SET with or without GET).
    pub const VARIABLE_FLAGS: KeyFlags = KeyFlags(1 << 8);
    /// Not a key, though placed like one (SSUBSCRIBE's shard channels):
    /// COMMAND shows the spec, COMMAND GETKEYS finds nothing in it.
    pub const NOT_KEY: KeyFlags = KeyFlags(1 << 9);

    pub const fn with(self, other: KeyFlags) -> KeyFlags {
        KeyFlags(self.0 | other.0)
    }

    pub fn contains(self, other: KeyFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The names Redis replies with, in its order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        [
            (KeyFlags::RO, "RO"),
            (KeyFlags::RW, "RW"),
            (KeyFlags::OW, "OW"),
            (KeyFlags::RM, "RM"),
            (KeyFlags::ACCESS, "access"),
            (KeyFlags::UPDATE, "update"),
            (KeyFlags::INSERT, "insert"),
            (KeyFlags::DELETE, "delete"),
            (KeyFlags::NOT_KEY, "not_key"),
            (KeyFlags::VARIABLE_FLAGS, "variable_flags"),
        ]
        .into_iter()
        .filter(move |(flag, _)| self.contains(*flag))
        .map(|(_, name)| name)
    }

    /// Write the flags as a set (an array in RESP2), as Redis does.
    pub fn reply(self, out: &mut ReplyBuffer) {
        let names: Vec<&str> = self.names().collect();
        out.set(names.len());
        names.iter().for_each(|name| out.simple(name));
    }
}

/// How a spec finds its keys, from the index it begins at.
#[derive(Clone, Copy, Debug)]
pub enum FindKeys {
    /// From the begin index to `last` (relative to it; negative: counted
    /// from the end of the arguments), every `step` arguments. A `limit`
    /// above 0 with `last` -1 takes 1/limit of the remaining arguments.
    Range { last: i32, step: i32, limit: i32 },
    /// The argument at `begin + numkeys_at` says how many keys there are;
    /// they start at `begin + first`, every `step` arguments.
    Keynum { numkeys_at: i32, first: i32, step: i32 },
    /// Neither where the keys begin nor how to find them can be described
    /// (COMMAND shows `unknown` for both); `locate` gives the positions
    /// of a given call's keys (None: the keys cannot be known at all).
    Unknown { locate: Option<LocateKeys> },
}

/// The positions of a call's keys, from its arguments (the command name
/// first), for a spec of [`FindKeys::Unknown`].
pub type LocateKeys = fn(&[&[u8]]) -> Vec<usize>;

/// The flags a call of a `VARIABLE_FLAGS` spec really has, from its
/// arguments (the command name first).
pub type ActualFlags = fn(&[&[u8]]) -> KeyFlags;

/// One key spec. `actual`, for a spec with `VARIABLE_FLAGS`, gives the
/// flags a given call really has (COMMAND GETKEYSANDFLAGS).
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    pub begin: i32,
    pub find: FindKeys,
    pub flags: KeyFlags,
    pub actual: Option<ActualFlags>,
    /// COMMAND's `notes` (why a spec is `unknown`).
    pub notes: Option<&'static str>,
}

impl KeySpec {
    /// The key at argument `index`.
    pub const fn at(index: i32, flags: KeyFlags) -> KeySpec {
        KeySpec { begin: index, find: FindKeys::Range { last: 0, step: 1, limit: 0 }, flags, actual: None, notes: None }
    }

    /// Every argument from the first on is a key (DEL, MGET).
    pub const fn rest(flags: KeyFlags) -> KeySpec {
        KeySpec { begin: 1, find: FindKeys::Range { last: -1, step: 1, limit: 0 }, flags, actual: None, notes: None }
    }

    /// The keys from argument `begin` to `last` arguments after it
    /// (negative: counted from the end), every one (BITOP's sources, LCS).
    pub const fn range(begin: i32, last: i32, flags: KeyFlags) -> KeySpec {
        KeySpec { begin, find: FindKeys::Range { last, step: 1, limit: 0 }, flags, actual: None, notes: None }
    }

    /// Every other argument from the first on is a key (MSET).
    pub const fn pairs(flags: KeyFlags) -> KeySpec {
        KeySpec { begin: 1, find: FindKeys::Range { last: -1, step: 2, limit: 0 }, flags, actual: None, notes: None }
    }

    /// Keys counted by a `numkeys` argument (EVAL's `script numkeys key
    /// ...`: `keynum(2, 0, 1, 1)`; ZUNIONSTORE's sources likewise).
    pub const fn keynum(begin: i32, numkeys_at: i32, first: i32, step: i32, flags: KeyFlags) -> KeySpec {
        KeySpec { begin, find: FindKeys::Keynum { numkeys_at, first, step }, flags, actual: None, notes: None }
    }

    /// Keys COMMAND cannot describe (see [`FindKeys::Unknown`]), with the
    /// notes that say why.
    pub const fn unknown(flags: KeyFlags, notes: &'static str, locate: Option<LocateKeys>) -> KeySpec {
        KeySpec { begin: 0, find: FindKeys::Unknown { locate }, flags, actual: None, notes: Some(notes) }
    }

    /// With flags that depend on the call.
    pub const fn varying(self, actual: ActualFlags) -> KeySpec {
        KeySpec { flags: self.flags.with(KeyFlags::VARIABLE_FLAGS), actual: Some(actual), ..self }
    }

    /// The positions of this spec's keys in `args` (the command name at
    /// 0), or None if the arguments do not fit it (Redis's invalid spec).
    fn positions<A: ArgList + ?Sized>(&self, args: &A) -> Option<Positions> {
        let argc = i64::try_from(args.count()).ok()?;
        let mut first = i64::from(self.begin);
        let (last, step) = match self.find {
            FindKeys::Range { last, step, limit: 0 } if last < 0 => (argc + i64::from(last), step),
            FindKeys::Range { last, step, limit } if last < 0 => {
                (first + (argc - first) / i64::from(limit) + i64::from(last), step)
            }
            FindKeys::Range { last, step, .. } => (first + i64::from(last), step),
            FindKeys::Unknown { locate } => {
                let listed = locate.map_or_else(Vec::new, |locate| locate(&args.to_vec()));
                return Some(Positions::Listed(listed.into_iter()));
            }
            FindKeys::Keynum { numkeys_at, first: offset, step } => {
                let at = usize::try_from(first + i64::from(numkeys_at)).ok().filter(|&at| at < args.count())?;
                let numkeys = crate::protocol::parse::parse_i64(args.arg(at)).filter(|&n| n >= 0)?;
                first += i64::from(offset);
                (first.checked_add(numkeys)? - 1, step)
            }
        };
        if last >= argc || last < first || first >= argc {
            return None;
        }
        let step = usize::try_from(step).ok().filter(|&s| s > 0)?;
        Some(Positions::Range((usize::try_from(first).ok()?..=usize::try_from(last).ok()?).step_by(step)))
    }

    /// Write this spec as COMMAND INFO shows it: flags, begin_search,
    /// find_keys.
    pub fn reply(&self, out: &mut ReplyBuffer) {
        out.map(3 + usize::from(self.notes.is_some()));
        if let Some(notes) = self.notes {
            out.bulk(b"notes");
            out.bulk(notes.as_bytes());
        }
        out.bulk(b"flags");
        self.flags.reply(out);
        out.bulk(b"begin_search");
        match self.find {
            FindKeys::Unknown { .. } => search_spec(out, "unknown", &[]),
            _ => search_spec(out, "index", &[("index", self.begin)]),
        }
        out.bulk(b"find_keys");
        match self.find {
            FindKeys::Unknown { .. } => search_spec(out, "unknown", &[]),
            FindKeys::Range { last, step, limit } => {
                search_spec(out, "range", &[("lastkey", last), ("keystep", step), ("limit", limit)]);
            }
            FindKeys::Keynum { numkeys_at, first, step } => {
                search_spec(out, "keynum", &[("keynumidx", numkeys_at), ("firstkey", first), ("keystep", step)]);
            }
        }
    }
}

/// One part of a key spec: `{type: <kind>, spec: {<name>: <value>, ...}}`.
fn search_spec(out: &mut ReplyBuffer, kind: &str, fields: &[(&str, i32)]) {
    out.map(2);
    out.bulk(b"type");
    out.bulk(kind.as_bytes());
    out.bulk(b"spec");
    out.map(fields.len());
    for (name, value) in fields {
        out.bulk(name.as_bytes());
        out.integer(i64::from(*value));
    }
}

/// Whether a command with these specs has key arguments at all (Redis's
/// `doesCommandHaveKeys`): one spec that is not `not_key`.
pub fn has_keys(specs: &[KeySpec]) -> bool {
    specs.iter().any(|spec| !spec.flags.contains(KeyFlags::NOT_KEY))
}

/// The keys of one call, in spec order: (position in `args`, flags).
/// None if a spec does not fit the arguments (as Redis, which then
/// reports no keys at all). `not_key` specs find nothing.
pub fn find_keys(specs: &[KeySpec], args: &[&[u8]]) -> Option<Vec<(usize, KeyFlags)>> {
    let mut keys = Vec::new();
    for spec in specs.iter().filter(|spec| !spec.flags.contains(KeyFlags::NOT_KEY)) {
        let flags = spec.actual.map_or(spec.flags, |actual| actual(args));
        keys.extend(spec.positions(args)?.map(|position| (position, flags)));
    }
    Some(keys)
}

/// Call `f` with each key of one call, in spec order, stopping at its
/// first error; no keys at all if a spec does not fit the arguments (as
/// [`find_keys`]). Allocates nothing for specs that are ranges.
pub fn for_each_key<A: ArgList + ?Sized, E>(
    specs: &[KeySpec],
    args: &A,
    mut f: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    if specs.iter().any(|spec| spec.positions(args).is_none()) {
        return Ok(());
    }
    for spec in specs {
        for position in spec.positions(args).into_iter().flatten() {
            f(args.arg(position))?;
        }
    }
    Ok(())
}

/// The specs that find the keys of a call of `command` whose subcommand
/// (if it is a container command) is `sub`: a container command's keys
/// are its subcommand's (OBJECT ENCODING key).
pub fn specs_for(command: &super::Command, sub: Option<&[u8]>) -> &'static [KeySpec] {
    if !command.keys.is_empty() {
        return command.keys;
    }
    let Some(sub) = sub else { return command.keys };
    SUBCOMMAND_KEYS
        .iter()
        .find(|(parent, name, _)| *parent == command.name && super::is(sub, name))
        .map_or(command.keys, |(_, _, specs)| *specs)
}

/// COMMAND's legacy (first key, last key, step) triple, derived from the
/// specs as Redis derives it, and whether the keys are "movable" (not all
/// described by that triple: COMMAND then reports `movablekeys`).
pub fn legacy_range(specs: &[KeySpec]) -> ((i32, i32, i32), bool) {
    if let [KeySpec { begin, find: FindKeys::Range { last, step, .. }, .. }] = specs {
        let last = if *last < 0 { *last } else { begin + last };
        return ((*begin, last, *step), false);
    }
    let (mut first, mut last, mut previous_last) = (i32::MAX, 0i32, 0i32);
    let mut movable = false;
    for spec in specs {
        let FindKeys::Range { last: spec_last, step, .. } = spec.find else {
            movable = true;
            continue;
        };
        if step != 1 || (previous_last != 0 && previous_last != spec.begin - 1) {
            movable = true;
            continue;
        }
        first = first.min(spec.begin);
        let absolute = if spec_last >= 0 { spec_last + spec.begin } else { spec_last };
        // Redis compares as unsigned, so a negative (to the end) wins.
        last = if (absolute as u32) > (last as u32) { absolute } else { last };
        previous_last = last;
    }
    if first == i32::MAX {
        return ((0, 0, 0), movable || !specs.is_empty());
    }
    ((first, last, 1), movable)
}

/// Keys of the subcommands of container commands (whose own entry has no
/// keys), for COMMAND GETKEYS: OBJECT ENCODING key, MEMORY USAGE key.
pub const SUBCOMMAND_KEYS: &[(&str, &str, &[KeySpec])] = &[
    ("object", "encoding", &[KeySpec::at(2, KeyFlags::RO)]),
    ("object", "freq", &[KeySpec::at(2, KeyFlags::RO)]),
    ("object", "idletime", &[KeySpec::at(2, KeyFlags::RO)]),
    ("object", "refcount", &[KeySpec::at(2, KeyFlags::RO)]),
    ("memory", "usage", &[KeySpec::at(2, KeyFlags::RO)]),
];

/// The specs most commands use, by what they do to their one key (or to
/// every key: `*_ALL`), named after Redis's flags.
pub mod specs {
    use super::{KeyFlags as F, KeySpec};

    pub const RO_ACCESS: F = F::RO.with(F::ACCESS);
    pub const RW_ACCESS_UPDATE: F = F::RW.with(F::ACCESS).with(F::UPDATE);

    pub const NONE: &[KeySpec] = &[];
    pub const RO: &[KeySpec] = &[KeySpec::at(1, F::RO)];
    pub const READ: &[KeySpec] = &[KeySpec::at(1, RO_ACCESS)];
    pub const OVERWRITE: &[KeySpec] = &[KeySpec::at(1, F::OW.with(F::UPDATE))];
    pub const OVERWRITE_INSERT: &[KeySpec] = &[KeySpec::at(1, F::OW.with(F::INSERT))];
    pub const READ_UPDATE: &[KeySpec] = &[KeySpec::at(1, RW_ACCESS_UPDATE)];
    pub const READ_DELETE: &[KeySpec] = &[KeySpec::at(1, F::RW.with(F::ACCESS).with(F::DELETE))];
    pub const UPDATE: &[KeySpec] = &[KeySpec::at(1, F::RW.with(F::UPDATE))];
    pub const INSERT: &[KeySpec] = &[KeySpec::at(1, F::RW.with(F::INSERT))];
    pub const DELETE: &[KeySpec] = &[KeySpec::at(1, F::RW.with(F::DELETE))];
    /// The blocking pops (BLPOP, BZPOPMIN): every argument but the last
    /// (the timeout), each popped from.
    pub const POP_THEN_TIMEOUT: &[KeySpec] = &[KeySpec::range(1, -2, F::RW.with(F::ACCESS).with(F::DELETE))];
    /// LMPOP, ZMPOP: `numkeys key ...`, each popped from.
    pub const MPOP: &[KeySpec] = &[KeySpec::keynum(1, 0, 1, 1, F::RW.with(F::ACCESS).with(F::DELETE))];
    /// BLMPOP, BZMPOP: `timeout numkeys key ...`.
    pub const BLOCKING_MPOP: &[KeySpec] = &[KeySpec::keynum(2, 0, 1, 1, F::RW.with(F::ACCESS).with(F::DELETE))];
    pub const RO_ALL: &[KeySpec] = &[KeySpec::rest(F::RO)];
    pub const READ_ALL: &[KeySpec] = &[KeySpec::rest(RO_ACCESS)];
    pub const REMOVE_ALL: &[KeySpec] = &[KeySpec::rest(F::RM.with(F::DELETE))];
    pub const OVERWRITE_PAIRS: &[KeySpec] = &[KeySpec::pairs(F::OW.with(F::UPDATE))];
    pub const OVERWRITE_INSERT_PAIRS: &[KeySpec] = &[KeySpec::pairs(F::OW.with(F::INSERT))];
    /// RENAME: the source is read and deleted, the destination written.
    pub const RENAME: &[KeySpec] =
        &[KeySpec::at(1, F::RW.with(F::ACCESS).with(F::DELETE)), KeySpec::at(2, F::OW.with(F::UPDATE))];
    pub const RENAMENX: &[KeySpec] =
        &[KeySpec::at(1, F::RW.with(F::ACCESS).with(F::DELETE)), KeySpec::at(2, F::OW.with(F::INSERT))];
    pub const COPY: &[KeySpec] = &[KeySpec::at(1, RO_ACCESS), KeySpec::at(2, F::OW.with(F::UPDATE))];
    /// SET: overwritten, unless GET also reads it.
    pub const SET: &[KeySpec] = &[KeySpec::at(1, RW_ACCESS_UPDATE).varying(set_flags)];

    /// Redis's `setGetKeys`: a `GET` among the options reads the old value.
    fn set_flags(args: &[&[u8]]) -> F {
        if args.iter().skip(3).any(|arg| arg.eq_ignore_ascii_case(b"GET")) {
            RW_ACCESS_UPDATE
        } else {
            F::OW.with(F::UPDATE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(specs: &[KeySpec], line: &str) -> Option<Vec<usize>> {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        find_keys(specs, &args).map(|keys| keys.into_iter().map(|(p, _)| p).collect())
    }

    #[test]
    fn ranges_pairs_and_keynum() {
        assert_eq!(keys(specs::READ, "get k"), Some(vec![1]));
        assert_eq!(keys(specs::REMOVE_ALL, "del a b c"), Some(vec![1, 2, 3]));
        assert_eq!(keys(specs::OVERWRITE_PAIRS, "mset a 1 b 2"), Some(vec![1, 3]));
        let zunionstore = [KeySpec::at(1, KeyFlags::OW), KeySpec::keynum(2, 0, 1, 1, KeyFlags::RO)];
        assert_eq!(keys(&zunionstore, "zunionstore d 2 a b weights 1 2"), Some(vec![1, 3, 4]));
        assert_eq!(keys(&zunionstore, "zunionstore d 3 a b"), None, "more keys than arguments");
        assert_eq!(keys(&zunionstore, "zunionstore d x a"), None);
        let eval = [KeySpec::keynum(2, 0, 1, 1, KeyFlags::RW)];
        assert_eq!(keys(&eval, "eval s 0"), None, "no key: nothing after the count");
        assert_eq!(keys(&eval, "eval s 2 a b c"), Some(vec![3, 4]));
        assert_eq!(keys(&eval, "eval s -1 a"), None);
    }

    #[test]
    fn legacy_triples_as_redis_derives_them() {
        assert_eq!(legacy_range(specs::NONE), ((0, 0, 0), false));
        assert_eq!(legacy_range(specs::READ), ((1, 1, 1), false));
        assert_eq!(legacy_range(specs::REMOVE_ALL), ((1, -1, 1), false));
        assert_eq!(legacy_range(specs::OVERWRITE_PAIRS), ((1, -1, 2), false));
        assert_eq!(legacy_range(specs::RENAME), ((1, 2, 1), false));
        let zunionstore = [KeySpec::at(1, KeyFlags::OW), KeySpec::keynum(2, 0, 1, 1, KeyFlags::RO)];
        assert_eq!(legacy_range(&zunionstore), ((1, 1, 1), true));
        assert_eq!(legacy_range(&[KeySpec::keynum(2, 0, 1, 1, KeyFlags::RW)]), ((0, 0, 0), true));
    }

    #[test]
    fn unknown_specs_are_movable_and_locate_their_keys() {
        let last: LocateKeys = |args| vec![args.len() - 1];
        let specs = [KeySpec::at(1, KeyFlags::RO), KeySpec::unknown(KeyFlags::OW, "notes", Some(last))];
        assert_eq!(legacy_range(&specs), ((1, 1, 1), true));
        assert_eq!(keys(&specs, "sort k x d"), Some(vec![1, 3]));
        assert_eq!(keys(&[KeySpec::unknown(KeyFlags::RO, "notes", None)], "sort k"), Some(vec![]));
    }

    #[test]
    fn keys_of_client_arguments() {
        let collect = |specs: &[KeySpec], line: &str| {
            let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            let mut keys = Vec::new();
            for_each_key(specs, &args[..], |key| {
                keys.push(String::from_utf8_lossy(key).into_owned());
                Ok::<(), ()>(())
            })
            .unwrap();
            keys
        };
        assert_eq!(collect(specs::OVERWRITE_PAIRS, "mset a 1 b 2"), ["a", "b"]);
        let zunionstore = [KeySpec::at(1, KeyFlags::OW), KeySpec::keynum(2, 0, 1, 1, KeyFlags::RO)];
        assert_eq!(collect(&zunionstore, "zunionstore d 2 a b"), ["d", "a", "b"]);
        assert!(collect(&zunionstore, "zunionstore d 3 a b").is_empty(), "a spec that does not fit: no keys");
        let args: Vec<&[u8]> = vec![b"mget", b"a", b"b", b"c"];
        let stopped =
            for_each_key(specs::READ_ALL, &args[..], |key| if key == b"b" { Err(key.to_vec()) } else { Ok(()) });
        assert_eq!(stopped, Err(b"b".to_vec()));
    }

    #[test]
    fn set_flags_follow_get() {
        let set = |line: &str| {
            let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            find_keys(specs::SET, &args).map(|keys| keys[0].1.names().collect::<Vec<_>>())
        };
        assert_eq!(set("set k v"), Some(vec!["OW", "update"]));
        assert_eq!(set("set k v nx get"), Some(vec!["RW", "access", "update"]));
    }
}
