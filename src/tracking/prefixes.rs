//! BCAST mode's prefixes: which clients want to hear of changes to keys
//! starting with which prefix, and the check that one client's prefixes
//! do not overlap.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::clients::ClientInfo;

type Hasher = foldhash::fast::RandomState;
/// The clients of one prefix, by id.
pub type Listeners = HashMap<u64, Arc<ClientInfo>, Hasher>;

/// Every prefix some client listens to, in byte order (as Redis's radix
/// tree lists them), and each client's prefixes.
#[derive(Default)]
pub struct Prefixes {
    listeners: BTreeMap<Box<[u8]>, Listeners>,
    by_client: HashMap<u64, BTreeSet<Box<[u8]>>, Hasher>,
}

impl Prefixes {
    /// `client` listens to `prefix` (again: no change).
    pub fn add(&mut self, client: &Arc<ClientInfo>, prefix: &[u8]) {
        self.listeners.entry(prefix.into()).or_default().insert(client.id, Arc::clone(client));
        self.by_client.entry(client.id).or_default().insert(prefix.into());
    }

    /// Client `id` listens to nothing any more; a prefix goes with its
    /// last listener.
    pub fn remove_client(&mut self, id: u64) {
        for prefix in self.by_client.remove(&id).unwrap_or_default() {
            if let Some(listeners) = self.listeners.get_mut(&prefix) {
                listeners.remove(&id);
                if listeners.is_empty() {
                    self.listeners.remove(&prefix);
                }
            }
        }
    }

    /// Client `id`'s prefixes, in byte order.
    pub fn of(&self, id: u64) -> Option<&BTreeSet<Box<[u8]>>> {
        self.by_client.get(&id)
    }

    /// How many prefixes have listeners (INFO's `tracking_total_prefixes`).
    pub fn len(&self) -> usize {
        self.listeners.len()
    }

    pub fn is_empty(&self) -> bool {
        self.listeners.is_empty()
    }

    /// For each prefix (in byte order) that some of `keys` start with:
    /// those keys, in byte order and each once, and the prefix's clients.
    pub fn matching<'k>(&self, keys: &'k [Box<[u8]>]) -> Vec<(Vec<&'k [u8]>, &Listeners)> {
        self.listeners
            .iter()
            .filter_map(|(prefix, listeners)| {
                let matched: BTreeSet<&[u8]> =
                    keys.iter().map(|key| &key[..]).filter(|key| key.starts_with(prefix)).collect();
                (!matched.is_empty()).then(|| (matched.into_iter().collect(), listeners))
            })
            .collect()
    }
}

/// Whether two prefixes would both cover some key: one starts with the
/// other (Redis's `stringCheckPrefix`).
fn overlap(a: &[u8], b: &[u8]) -> bool {
    let len = a.len().min(b.len());
    a[..len] == b[..len]
}

/// Where a prefix came from, for [`collision`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    Existing,
    Given(usize),
}

/// What [`collision`] learns about one given prefix.
#[derive(Clone, Copy, Default)]
struct Overlaps {
    /// It overlaps a prefix the client has already.
    existing: bool,
    /// The highest position of a given prefix it overlaps.
    given: Option<usize>,
}

impl Overlaps {
    fn merge(self, other: Overlaps) -> Overlaps {
        Overlaps { existing: self.existing || other.existing, given: self.given.max(other.given) }
    }

    fn of(origin: Origin) -> Overlaps {
        match origin {
            Origin::Existing => Overlaps { existing: true, given: None },
            Origin::Given(i) => Overlaps { existing: false, given: Some(i) },
        }
    }
}

/// Redis's error for the first collision among the prefixes `given` to
/// CLIENT TRACKING ... BCAST and those the client has (`existing`), in the
/// order Redis's `checkPrefixCollisionsOrReply` finds it: for each given
/// prefix in turn, first an existing one it overlaps (the first in byte
/// order), then a later given one (the first after it).
///
/// Redis compares every pair; this sorts the prefixes instead, so a
/// client sending many cannot make it quadratic. In byte order the
/// prefixes that start with a prefix follow it, together, and those it
/// starts with are below it on a stack of nested prefixes: one pass finds,
/// for each given prefix, whether it overlaps an existing one and the
/// latest given one it overlaps.
pub fn collision(existing: Option<&BTreeSet<Box<[u8]>>>, given: &[&[u8]]) -> Option<String> {
    let overlaps = overlaps_of_given(existing, given);
    let (i, found) = overlaps.iter().enumerate().find(|(i, o)| o.existing || o.given.is_some_and(|j| j > *i))?;
    let prefix = String::from_utf8_lossy(given[i]);
    if found.existing {
        let other = existing.into_iter().flatten().find(|p| overlap(p, given[i]))?;
        let other = String::from_utf8_lossy(other);
        return Some(format!(
            "ERR Prefix '{prefix}' overlaps with an existing prefix '{other}'. Prefixes for a single client must not \
             overlap."
        ));
    }
    let other = given.iter().skip(i + 1).find(|p| overlap(p, given[i]))?;
    let other = String::from_utf8_lossy(other);
    Some(format!(
        "ERR Prefix '{prefix}' overlaps with another provided prefix '{other}'. Prefixes for a single client must not \
         overlap."
    ))
}

/// For each given prefix, what it overlaps among the others (see
/// [`collision`]).
fn overlaps_of_given(existing: Option<&BTreeSet<Box<[u8]>>>, given: &[&[u8]]) -> Vec<Overlaps> {
    let mut all: Vec<(&[u8], Origin)> = existing.into_iter().flatten().map(|p| (&p[..], Origin::Existing)).collect();
    all.extend(given.iter().enumerate().map(|(i, p)| (*p, Origin::Given(i))));
    all.sort_unstable();
    let mut result = vec![Overlaps::default(); given.len()];
    // The prefixes the current one starts with, outermost first: each
    // with what all those below it (its own prefixes) overlap, and what
    // those found after it that start with it overlap.
    struct Open<'a> {
        prefix: &'a [u8],
        origin: Origin,
        below: Overlaps,
        within: Overlaps,
    }
    let mut stack: Vec<Open<'_>> = Vec::new();
    let mut close = |open: Open<'_>, stack: &mut Vec<Open<'_>>| {
        if let Origin::Given(i) = open.origin {
            result[i] = open.below.merge(open.within);
        }
        if let Some(parent) = stack.last_mut() {
            parent.within = parent.within.merge(open.within).merge(Overlaps::of(open.origin));
        }
    };
    for (prefix, origin) in all {
        while let Some(top) = stack.pop() {
            if prefix.starts_with(top.prefix) {
                stack.push(top);
                break;
            }
            close(top, &mut stack);
        }
        let below = stack.last().map_or_else(Overlaps::default, |top| top.below.merge(Overlaps::of(top.origin)));
        stack.push(Open { prefix, origin, below, within: Overlaps::default() });
    }
    while let Some(top) = stack.pop() {
        close(top, &mut stack);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Redis's pairwise check, for comparison.
    fn pairwise(existing: &BTreeSet<Box<[u8]>>, given: &[&[u8]]) -> Option<(usize, bool)> {
        for i in 0..given.len() {
            if existing.iter().any(|p| overlap(p, given[i])) {
                return Some((i, true));
            }
            if given[i + 1..].iter().any(|p| overlap(p, given[i])) {
                return Some((i, false));
            }
        }
        None
    }

    fn set(prefixes: &[&str]) -> BTreeSet<Box<[u8]>> {
        prefixes.iter().map(|p| p.as_bytes().into()).collect()
    }

    #[test]
    fn errors_name_the_pair_redis_names() {
        let none = BTreeSet::new();
        let check = |existing: &BTreeSet<Box<[u8]>>, given: &[&str]| {
            let given: Vec<&[u8]> = given.iter().map(|p| p.as_bytes()).collect();
            collision(Some(existing), &given)
        };
        assert_eq!(check(&none, &["a", "b"]), None);
        assert_eq!(
            check(&none, &["FOOBAR", "FOO"]).unwrap(),
            "ERR Prefix 'FOOBAR' overlaps with another provided prefix 'FOO'. Prefixes for a single client must not \
             overlap."
        );
        assert!(check(&none, &["x", "FOO", "FOOBAR"]).unwrap().starts_with("ERR Prefix 'FOO' overlaps with another"));
        assert!(check(&none, &["a", "a"]).unwrap().contains("'a' overlaps with another provided prefix 'a'"));
        assert!(check(&none, &["", "z"]).unwrap().contains("Prefix '' overlaps"));
        let existing = set(&["BAR", "FOO"]);
        assert!(check(&existing, &["FO"]).unwrap().contains("'FO' overlaps with an existing prefix 'FOO'"));
        assert!(check(&existing, &["BARB"]).unwrap().contains("'BARB' overlaps with an existing prefix 'BAR'"));
        assert!(check(&existing, &["Q", "F"]).unwrap().contains("'F' overlaps with an existing prefix 'FOO'"));
    }

    #[test]
    fn agrees_with_the_pairwise_check() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        for _ in 0..2000 {
            let word = |next: &mut dyn FnMut(u64) -> u64| -> Vec<u8> {
                (0..next(4)).map(|_| b"ab"[next(2) as usize]).collect()
            };
            let existing: BTreeSet<Box<[u8]>> = (0..next(3)).map(|_| word(&mut next).into()).collect();
            let given: Vec<Vec<u8>> = (0..next(5)).map(|_| word(&mut next)).collect();
            let given: Vec<&[u8]> = given.iter().map(Vec::as_slice).collect();
            let expected = pairwise(&existing, &given);
            let overlaps = overlaps_of_given(Some(&existing), &given);
            let found = overlaps
                .iter()
                .enumerate()
                .find(|(i, o)| o.existing || o.given.is_some_and(|j| j > *i))
                .map(|(i, o)| (i, o.existing));
            assert_eq!(found, expected, "existing {existing:?} given {given:?}");
        }
    }

    #[test]
    fn listeners_come_and_go_with_their_clients() {
        let a = Arc::new(ClientInfo::new(1, None, None));
        let b = Arc::new(ClientInfo::new(2, None, None));
        let mut prefixes = Prefixes::default();
        prefixes.add(&a, b"user:");
        prefixes.add(&b, b"user:");
        prefixes.add(&b, b"");
        assert_eq!(prefixes.len(), 2);
        let keys: Vec<Box<[u8]>> =
            vec![b"user:2".as_slice().into(), b"x".as_slice().into(), b"user:1".as_slice().into()];
        let matched = prefixes.matching(&keys);
        assert_eq!(matched[0].0, [&b"user:1"[..], b"user:2", b"x"]);
        assert_eq!(matched[1].0, [&b"user:1"[..], b"user:2"]);
        assert_eq!(matched[1].1.len(), 2);
        prefixes.remove_client(2);
        assert_eq!(prefixes.len(), 1);
        assert!(prefixes.of(2).is_none());
        prefixes.remove_client(1);
        assert!(prefixes.is_empty());
    }
}
