//! The set type: unordered distinct members, in one of three encodings
//! that `OBJECT ENCODING` reports under Redis's names and that change in
//! the direction Redis changes them (never back):
//!
//! - `intset`: every member an integer in canonical form (`string2ll`),
//!   at most `set-max-intset-entries` of them: a sorted array of 2-, 4- or
//!   8-byte little-endian integers, the smallest width that holds them
//!   all (widened when a larger one arrives), as Redis's intset. Searched
//!   by bisection.
//! - `listpack`: at most `set-max-listpack-entries` members of at most
//!   `set-max-listpack-value` bytes: one byte vector of `length (varint) |
//!   bytes` entries in insertion order, searched linearly.
//! - `hashtable`: anything larger; each member one boxed allocation in a
//!   [`BoxedTable`] (a 16-byte slot, against Redis's 8-byte bucket, 24-byte
//!   dict entry and sds string).
//!
//! Memory is exact: every allocation is counted by its jemalloc size
//! class, and the arrays grow by exactly what an insert needs.

use super::boxed_table::{BoxedTable, EntryKey};
use super::prefetch::prefetch_lines;
use super::segment::{read_varint, varint_len, write_varint};
use crate::memory::size_class;
use crate::protocol::parse::parse_i64;
use crate::protocol::reply::format_i64;

/// Lines of a small set asked for ahead of a command.
const PREFETCH_LINES: usize = 4;

/// Redis caps an intset at 2^30 members whatever the setting says.
const MAX_INTSET_ENTRIES: usize = 1 << 30;

/// Redis's `set-max-intset-entries`, `set-max-listpack-entries` and
/// `set-max-listpack-value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetLimits {
    pub intset_entries: usize,
    pub listpack_entries: usize,
    pub listpack_value: usize,
}

impl Default for SetLimits {
    fn default() -> Self {
        SetLimits { intset_entries: 512, listpack_entries: 128, listpack_value: 64 }
    }
}

impl SetLimits {
    fn intset_entries(self) -> usize {
        self.intset_entries.min(MAX_INTSET_ENTRIES)
    }
}

/// One member, read in place: an intset's integer, or bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl<'a> Member<'a> {
    /// The member's bytes (an integer formatted into `buf`).
    pub fn bytes<'b>(&self, buf: &'b mut [u8; 20]) -> &'b [u8]
    where
        'a: 'b,
    {
        match *self {
            Member::Int(n) => format_i64(n, buf),
            Member::Bytes(bytes) => bytes,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes(&mut [0; 20]).to_vec()
    }
}

/// A hashtable's entries are the members themselves.
struct WholeEntry;

impl EntryKey for WholeEntry {
    fn key(entry: &[u8]) -> &[u8] {
        entry
    }
}

type Table = BoxedTable<WholeEntry>;

/// A sorted array of integers of one width.
#[derive(Clone, Default)]
struct IntSet {
    data: Vec<u8>,
    /// Bytes per integer: 2, 4 or 8 (0 while empty and never written).
    width: usize,
}

/// The smallest intset width that holds `n`.
fn width_for(n: i64) -> usize {
    if i16::try_from(n).is_ok() {
        2
    } else if i32::try_from(n).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    fn len(&self) -> usize {
        self.data.len().checked_div(self.width).unwrap_or(0)
    }

    fn get(&self, i: usize) -> i64 {
        let bytes = &self.data[i * self.width..(i + 1) * self.width];
        match *bytes {
            [a, b] => i64::from(i16::from_le_bytes([a, b])),
            [a, b, c, d] => i64::from(i32::from_le_bytes([a, b, c, d])),
            _ => {
                let mut all = [0u8; 8];
                all.copy_from_slice(bytes);
                i64::from_le_bytes(all)
            }
        }
    }

    /// Position of `n`, or where it would go.
    fn search(&self, n: i64) -> Result<usize, usize> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = (low + high) / 2;
            match self.get(mid).cmp(&n) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(low)
    }

    fn contains(&self, n: i64) -> bool {
        self.search(n).is_ok()
    }

    fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Insert `n`; returns whether it is new.
    fn insert(&mut self, n: i64) -> bool {
        if width_for(n) > self.width {
            self.widen(width_for(n));
        }
        let Err(at) = self.search(n) else { return false };
        let bytes = n.to_le_bytes();
        self.data.reserve_exact(self.width);
        let at = at * self.width;
        self.data.splice(at..at, bytes[..self.width].iter().copied());
        true
    }

    fn remove(&mut self, n: i64) -> bool {
        let Ok(at) = self.search(n) else { return false };
        let at = at * self.width;
        self.data.drain(at..at + self.width);
        self.data.shrink_to_fit();
        true
    }

    /// Rewrite every integer at a larger width.
    fn widen(&mut self, width: usize) {
        let mut data = Vec::with_capacity(self.len() * width);
        for n in self.iter() {
            data.extend_from_slice(&n.to_le_bytes()[..width]);
        }
        *self = IntSet { data, width };
    }

    /// Digits (with sign) of the longest member.
    fn longest(&self) -> usize {
        let len = self.len();
        let digits = |n: i64| format_i64(n, &mut [0; 20]).len();
        if len == 0 {
            0
        } else {
            digits(self.get(0)).max(digits(self.get(len - 1)))
        }
    }
}

#[derive(Clone)]
enum Encoding {
    Ints(IntSet),
    Packed { data: Vec<u8>, len: u32 },
    Table(Box<Table>),
}

/// A set value.
#[derive(Clone)]
pub struct Set {
    encoding: Encoding,
}

impl Default for Set {
    fn default() -> Self {
        Set { encoding: Encoding::Ints(IntSet::default()) }
    }
}

impl Set {
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set in the encoding Redis picks for about `hint` members,
    /// the first being `first` (`setTypeCreate`).
    pub fn for_members(first: &[u8], hint: usize, limits: SetLimits) -> Self {
        let encoding = if parse_i64(first).is_some() && hint <= limits.intset_entries() {
            Encoding::Ints(IntSet::default())
        } else if hint <= limits.listpack_entries {
            Encoding::Packed { data: Vec::new(), len: 0 }
        } else {
            Encoding::Table(Box::new(Table::with_capacity(hint)))
        };
        Set { encoding }
    }

    /// Before adding about `hint` members: a small set that cannot hold
    /// that many becomes a table at once (`setTypeMaybeConvert`).
    pub fn prepare(&mut self, hint: usize, limits: SetLimits) {
        let too_many = match &self.encoding {
            Encoding::Ints(_) => hint > limits.intset_entries(),
            Encoding::Packed { .. } => hint > limits.listpack_entries,
            Encoding::Table(_) => false,
        };
        if too_many {
            self.convert_to_table(hint);
        }
    }

    pub fn len(&self) -> usize {
        match &self.encoding {
            Encoding::Ints(ints) => ints.len(),
            Encoding::Packed { len, .. } => *len as usize,
            Encoding::Table(table) => table.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Redis's name for the encoding (`OBJECT ENCODING`).
    pub fn encoding(&self) -> &'static str {
        match self.encoding {
            Encoding::Ints(_) => "intset",
            Encoding::Packed { .. } => "listpack",
            Encoding::Table(_) => "hashtable",
        }
    }

    /// Bytes the set holds, by allocator size class.
    pub fn memory(&self) -> usize {
        std::mem::size_of::<Set>()
            + match &self.encoding {
                Encoding::Ints(ints) => size_class(ints.data.capacity()),
                Encoding::Packed { data, .. } => size_class(data.capacity()),
                Encoding::Table(table) => table.memory(),
            }
    }

    /// Start loading the first lines of a small set.
    pub fn prefetch(&self) {
        match &self.encoding {
            Encoding::Ints(ints) => prefetch_lines(&ints.data, PREFETCH_LINES),
            Encoding::Packed { data, .. } => prefetch_lines(data, PREFETCH_LINES),
            Encoding::Table(_) => {}
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.encoding {
            Encoding::Ints(ints) => parse_i64(member).is_some_and(|n| ints.contains(n)),
            Encoding::Packed { data, .. } => packed_find(data, member).is_some(),
            Encoding::Table(table) => table.find(member).is_some(),
        }
    }

    /// Whether a member, as another set gave it, is in this set (an
    /// intset's integer is looked up in an intset without formatting it).
    pub fn contains_member(&self, member: Member<'_>) -> bool {
        match (member, &self.encoding) {
            (Member::Int(n), Encoding::Ints(ints)) => ints.contains(n),
            _ => self.contains(member.bytes(&mut [0; 20])),
        }
    }

    /// Every member: ascending while an intset, in insertion order while
    /// packed, in table order after.
    pub fn iter(&self) -> impl Iterator<Item = Member<'_>> {
        let (ints, packed, table) = match &self.encoding {
            Encoding::Ints(ints) => (Some(ints.iter().map(Member::Int)), None, None),
            Encoding::Packed { data, .. } => (None, Some(PackedIter { data }.map(Member::Bytes)), None),
            Encoding::Table(table) => (None, None, Some(table.iter().map(Member::Bytes))),
        };
        ints.into_iter().flatten().chain(packed.into_iter().flatten()).chain(table.into_iter().flatten())
    }

    /// Add a member; returns whether it is new. Converts the set first if
    /// the member does not fit its encoding (`setTypeAddAux`).
    pub fn insert(&mut self, member: &[u8], limits: SetLimits) -> bool {
        match &mut self.encoding {
            Encoding::Ints(ints) => match parse_i64(member) {
                Some(n) => {
                    let added = ints.insert(n);
                    if added && ints.len() > limits.intset_entries() {
                        self.convert_to_table(self.len());
                    }
                    added
                }
                None => {
                    let fits = ints.len() < limits.listpack_entries
                        && member.len() <= limits.listpack_value
                        && ints.longest() <= limits.listpack_value;
                    if fits {
                        self.convert_to_packed();
                    } else {
                        self.convert_to_table(self.len() + 1);
                    }
                    self.insert(member, limits)
                }
            },
            Encoding::Packed { data, len } => {
                if packed_find(data, member).is_some() {
                    return false;
                }
                if (*len as usize) < limits.listpack_entries && member.len() <= limits.listpack_value {
                    data.reserve_exact(varint_len(member.len()) + member.len());
                    write_varint(data, member.len());
                    data.extend_from_slice(member);
                    *len += 1;
                    return true;
                }
                self.convert_to_table(self.len() + 1);
                self.insert(member, limits)
            }
            Encoding::Table(table) => {
                let absent = table.find(member).is_none();
                if absent {
                    table.put(member.into());
                }
                absent
            }
        }
    }

    /// Add a member as another set gave it (an intset's integer is added
    /// without formatting it when this set is an intset too).
    pub fn insert_member(&mut self, member: Member<'_>, limits: SetLimits) -> bool {
        match (member, &mut self.encoding) {
            (Member::Int(n), Encoding::Ints(ints)) => {
                let added = ints.insert(n);
                if added && ints.len() > limits.intset_entries() {
                    self.convert_to_table(self.len());
                }
                added
            }
            _ => self.insert(member.bytes(&mut [0; 20]), limits),
        }
    }

    /// Delete a member; returns whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.encoding {
            Encoding::Ints(ints) => parse_i64(member).is_some_and(|n| ints.remove(n)),
            Encoding::Packed { data, len } => {
                let Some((at, entry_len)) = packed_find(data, member) else { return false };
                data.drain(at..at + entry_len);
                data.shrink_to_fit();
                *len -= 1;
                true
            }
            Encoding::Table(table) => table.remove(member).is_some(),
        }
    }

    /// A member picked by `seed` (near uniform for a random seed), or None.
    pub fn random(&self, seed: u64) -> Option<Member<'_>> {
        let len = self.len();
        if len == 0 {
            return None;
        }
        let index = (seed % len as u64) as usize;
        match &self.encoding {
            Encoding::Ints(ints) => Some(Member::Int(ints.get(index))),
            Encoding::Packed { data, .. } => PackedIter { data }.nth(index).map(Member::Bytes),
            Encoding::Table(table) => table.random(seed).map(Member::Bytes),
        }
    }

    /// Whether [`Set::random`] is quick (not a walk through a packed set).
    pub fn random_is_cheap(&self) -> bool {
        !matches!(self.encoding, Encoding::Packed { .. })
    }

    /// One SSCAN step from `cursor` (0 to start): visit about `count`
    /// members, calling `f` with each, and return the cursor to resume
    /// from (0 when done). A small set is returned whole, as Redis does.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(Member<'a>)) -> u64 {
        match &self.encoding {
            Encoding::Table(table) => table.scan(cursor, count, |entry| f(Member::Bytes(entry))),
            _ => {
                self.iter().for_each(f);
                0
            }
        }
    }

    /// Make the set a hashtable presized for `capacity` members.
    fn convert_to_table(&mut self, capacity: usize) {
        if matches!(self.encoding, Encoding::Table(_)) {
            return;
        }
        let mut table = Table::with_capacity(capacity.max(self.len()));
        for member in self.iter() {
            table.put(member.bytes(&mut [0; 20]).into());
        }
        self.encoding = Encoding::Table(Box::new(table));
    }

    /// Make an intset a listpack of its integers' decimal forms.
    fn convert_to_packed(&mut self) {
        let Encoding::Ints(ints) = &self.encoding else { return };
        let mut data = Vec::new();
        for n in ints.iter() {
            let mut buf = [0; 20];
            let digits = format_i64(n, &mut buf);
            write_varint(&mut data, digits.len());
            data.extend_from_slice(digits);
        }
        let len = ints.len() as u32;
        self.encoding = Encoding::Packed { data, len };
    }
}

struct PackedIter<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.data.is_empty() {
            return None;
        }
        let (len, start) = read_varint(self.data, 0);
        let member = &self.data[start..start + len];
        self.data = &self.data[start + len..];
        Some(member)
    }
}

/// Offset and length of `member`'s entry in a packed set (comparing
/// bytes only where the lengths match, last byte first: generated
/// members share their beginnings).
fn packed_find(data: &[u8], member: &[u8]) -> Option<(usize, usize)> {
    let last = member.len().checked_sub(1);
    let mut at = 0;
    while at < data.len() {
        let (len, start) = read_varint(data, at);
        if len == member.len()
            && last.is_none_or(|last| data[start + last] == member[last])
            && &data[start..start + len] == member
        {
            return Some((at, start + len - at));
        }
        at = start + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: SetLimits = SetLimits { intset_entries: 4, listpack_entries: 3, listpack_value: 8 };

    fn sorted(set: &Set) -> Vec<Vec<u8>> {
        let mut members: Vec<Vec<u8>> = set.iter().map(|m| m.to_vec()).collect();
        members.sort();
        members
    }

    #[test]
    fn intsets_widen_stay_sorted_and_reject_non_canonical_integers() {
        let mut s = Set::new();
        for n in [5i64, -3, 70000, 1 << 40, -(1 << 40), 5] {
            s.insert(n.to_string().as_bytes(), SetLimits::default());
        }
        assert_eq!(s.encoding(), "intset");
        let order: Vec<Member<'_>> = s.iter().collect();
        let expected = [-(1i64 << 40), -3, 5, 70000, 1 << 40].map(Member::Int);
        assert_eq!(order, expected);
        assert!(s.contains(b"70000") && !s.contains(b"070000") && !s.contains(b"+5"));
        assert!(s.remove(b"-3") && !s.remove(b"-3"));
        assert_eq!(s.len(), 4);
        assert_eq!(s.memory(), std::mem::size_of::<Set>() + size_class(4 * 8));
    }

    #[test]
    fn conversions_follow_redis() {
        let mut s = Set::new();
        for n in 1..=4 {
            s.insert(n.to_string().as_bytes(), SMALL);
        }
        assert_eq!(s.encoding(), "intset");
        s.insert(b"5", SMALL);
        assert_eq!(s.encoding(), "hashtable", "past set-max-intset-entries");

        let mut s = Set::new();
        s.insert(b"1", SMALL);
        s.insert(b"a", SMALL);
        assert_eq!(s.encoding(), "listpack", "a string joins a small intset");
        assert_eq!(sorted(&s), [b"1".to_vec(), b"a".to_vec()]);
        s.insert(b"b", SMALL);
        assert_eq!(s.encoding(), "listpack");
        s.insert(b"c", SMALL);
        assert_eq!(s.encoding(), "hashtable", "past set-max-listpack-entries");
        s.remove(b"c");
        s.remove(b"b");
        assert_eq!(s.encoding(), "hashtable", "never back");

        let mut s = Set::new();
        s.insert(b"1", SMALL);
        s.insert(b"a long member", SMALL);
        assert_eq!(s.encoding(), "hashtable", "past set-max-listpack-value");
        assert!(s.contains(b"1") && s.contains(b"a long member"));
    }

    #[test]
    fn creation_and_preparation_use_the_size_hint() {
        assert_eq!(Set::for_members(b"1", 4, SMALL).encoding(), "intset");
        assert_eq!(Set::for_members(b"1", 5, SMALL).encoding(), "hashtable");
        assert_eq!(Set::for_members(b"x", 3, SMALL).encoding(), "listpack");
        let mut s = Set::for_members(b"x", 1, SMALL);
        s.insert(b"x", SMALL);
        s.prepare(4, SMALL);
        assert_eq!(s.encoding(), "hashtable");
    }

    #[test]
    fn random_members_cover_every_encoding() {
        for (members, encoding) in [(vec!["1", "2", "3"], "intset"), (vec!["a", "b", "c"], "listpack")] {
            let mut s = Set::new();
            members.iter().for_each(|m| {
                s.insert(m.as_bytes(), SetLimits::default());
            });
            assert_eq!(s.encoding(), encoding);
            let picked: std::collections::HashSet<Vec<u8>> = (0..100u64)
                .filter_map(|i| s.random(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
                .map(|m| m.to_vec())
                .collect();
            assert_eq!(picked.len(), 3);
        }
    }

    #[test]
    fn a_large_set_scans_whole_and_shrinks_as_it_empties() {
        let mut s = Set::new();
        for i in 0..10_000 {
            s.insert(format!("m{i}").as_bytes(), SetLimits::default());
        }
        let full = s.memory();
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = s.scan(cursor, 100, |m| {
                seen.insert(m.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 10_000);
        for i in 0..9_990 {
            assert!(s.remove(format!("m{i}").as_bytes()));
        }
        assert!(s.memory() < full / 20, "{} of {full}", s.memory());
        assert!(s.random(12345).is_some());
    }
}
