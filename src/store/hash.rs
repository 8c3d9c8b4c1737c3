//! The hash type: fields with values, each field with an optional deadline
//! (the per-field expiry of Redis 7.4).
//!
//! Two encodings, switched the way Redis switches them and reported by
//! `OBJECT ENCODING` under Redis's names:
//!
//! - `listpack`: a small hash is one byte vector of entries back to back,
//!   searched linearly, in insertion order. No per-field allocation: a
//!   10-field hash of 16-byte names and 32-byte values is one 512-byte
//!   allocation.
//! - `hashtable`: once a hash has more than `hash-max-listpack-entries`
//!   fields, or a name or value longer than `hash-max-listpack-value`, each
//!   entry becomes one boxed allocation in a hashbrown table (a 16-byte
//!   slot, against Redis's 24-byte dict entry plus two sds strings).
//!
//! Both encodings store an entry as a record of the segment log (see
//! `segment.rs`), the field's name as its key and its deadline as its
//! expiry:
//!
//! ```text
//! flags (1 byte) | name length (varint) | value length (varint)
//!   | [deadline, u64 LE, if flags has EXPIRY] | name | value
//! ```
//!
//! Expired fields are not filtered on every read: the table purges a hash
//! whose earliest deadline has passed before any command sees it (see
//! [`Hash::needs_purge`]), and the active expiry sweep does the same for
//! hashes nobody reads.

use super::boxed_table::{BoxedTable, EntryKey};
use super::prefetch::prefetch_lines;
use super::segment::{record_len, record_lengths, Record, FLAG_EXPIRY};
use crate::memory::size_class;

/// Lines of a packed hash asked for ahead of a command: a 10-field hash of
/// short names and 32-byte values fits in them.
const PREFETCH_LINES: usize = 6;

/// Redis's `hash-max-listpack-entries` and `hash-max-listpack-value`: the
/// largest hash (fields) and the longest name or value kept packed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackLimits {
    pub entries: usize,
    pub value: usize,
}

impl Default for PackLimits {
    fn default() -> Self {
        PackLimits { entries: 512, value: 64 }
    }
}

/// The latest deadline a field may have (Redis's `HFE_MAX_ABS_TIME_MSEC`).
pub const MAX_FIELD_DEADLINE_MS: u64 = (1 << 46) - 1;

/// One field, read in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
    /// Unix ms after which the field no longer exists.
    pub deadline: Option<u64>,
}

/// Write an entry into `buf`, which is exactly [`record_len`] long: a
/// string record of the segment log, written in place (the log only ever
/// appends, so it has no encoder for this).
fn write_entry(buf: &mut [u8], name: &[u8], value: &[u8], deadline: Option<u64>) {
    buf[0] = if deadline.is_some() { FLAG_EXPIRY } else { 0 };
    let mut at = 1;
    for mut n in [name.len(), value.len()] {
        while n >= 0x80 {
            buf[at] = (n as u8) | 0x80;
            n >>= 7;
            at += 1;
        }
        buf[at] = n as u8;
        at += 1;
    }
    if let Some(deadline) = deadline {
        buf[at..at + 8].copy_from_slice(&deadline.to_le_bytes());
        at += 8;
    }
    buf[at..at + name.len()].copy_from_slice(name);
    buf[at + name.len()..].copy_from_slice(value);
}

/// Decode the entry at the start of `data`; returns it and its length.
fn read_entry(data: &[u8]) -> (Field<'_>, usize) {
    let record = Record::at(data, 0);
    (Field { name: record.key(), value: record.value(), deadline: record.expires_at() }, record.len())
}

fn boxed_entry(name: &[u8], value: &[u8], deadline: Option<u64>) -> Box<[u8]> {
    let mut buf = vec![0u8; record_len(name.len(), value.len(), deadline.is_some())].into_boxed_slice();
    write_entry(&mut buf, name, value, deadline);
    buf
}

/// The large encoding's entries are keyed by the field's name.
struct FieldName;

impl EntryKey for FieldName {
    fn key(entry: &[u8]) -> &[u8] {
        read_entry(entry).0.name
    }
}

type Table = BoxedTable<FieldName>;

#[derive(Clone)]
enum Encoding {
    /// `ex`: some field has had a deadline (Redis then reports `listpackex`,
    /// for good).
    Packed {
        data: Vec<u8>,
        len: u32,
        ex: bool,
    },
    Table(Box<Table>),
}

/// A hash value.
#[derive(Clone)]
pub struct Hash {
    encoding: Encoding,
    /// No field's deadline is earlier than this (`u64::MAX`: no field has
    /// one). Deleting fields can leave it early, never late: a purge that
    /// finds nothing expired recomputes it.
    next_deadline: u64,
    /// How many fields have a deadline.
    volatile: u32,
}

impl Default for Hash {
    fn default() -> Self {
        Hash {
            encoding: Encoding::Packed { data: Vec::new(), len: 0, ex: false },
            next_deadline: u64::MAX,
            volatile: 0,
        }
    }
}

impl Hash {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        match &self.encoding {
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
            Encoding::Packed { ex: false, .. } => "listpack",
            Encoding::Packed { ex: true, .. } => "listpackex",
            Encoding::Table(_) => "hashtable",
        }
    }

    /// Bytes the hash holds, by allocator size class.
    pub fn memory(&self) -> usize {
        let own = std::mem::size_of::<Hash>();
        match &self.encoding {
            Encoding::Packed { data, .. } => own + size_class(data.capacity()),
            Encoding::Table(table) => own + table.memory(),
        }
    }

    /// Whether any field has a deadline.
    pub fn is_volatile(&self) -> bool {
        self.volatile > 0
    }

    /// Whether some field may have expired by `now` and must be purged
    /// before the hash is read.
    pub fn needs_purge(&self, now: u64) -> bool {
        self.next_deadline < now
    }

    /// Start loading the first lines of a packed hash's entries (a table
    /// has no one place where a lookup starts).
    pub fn prefetch(&self) {
        if let Encoding::Packed { data, .. } = &self.encoding {
            prefetch_lines(data, PREFETCH_LINES);
        }
    }

    pub fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.field(name).map(|f| f.value)
    }

    pub fn field(&self, name: &[u8]) -> Option<Field<'_>> {
        match &self.encoding {
            Encoding::Packed { data, .. } => packed_find(data, name).map(|(at, _)| read_entry(&data[at..]).0),
            Encoding::Table(table) => table.find(name).map(|e| read_entry(e).0),
        }
    }

    pub fn contains(&self, name: &[u8]) -> bool {
        self.field(name).is_some()
    }

    /// Every field: in insertion order while packed, in table order after.
    pub fn iter(&self) -> impl Iterator<Item = Field<'_>> {
        let (packed, table) = match &self.encoding {
            Encoding::Packed { data, .. } => (Some(PackedIter { data }), None),
            Encoding::Table(table) => (None, Some(table.iter().map(|e| read_entry(e).0))),
        };
        packed.into_iter().flatten().chain(table.into_iter().flatten())
    }

    /// Set a field's value and deadline (`None`: none, as HSET leaves it).
    /// Returns whether the field is new.
    pub fn insert(&mut self, name: &[u8], value: &[u8], deadline: Option<u64>, limits: PackLimits) -> bool {
        if self.should_convert(name, value, limits) {
            self.convert();
        }
        let put = match &mut self.encoding {
            Encoding::Packed { data, len, ex } => {
                let put = packed_put(data, name, value, deadline);
                *len += u32::from(put == Put::New);
                *ex |= deadline.is_some();
                put
            }
            Encoding::Table(table) => match table.put(boxed_entry(name, value, deadline)) {
                Some(old) => Put::Replaced(read_entry(&old).0.deadline),
                None => Put::New,
            },
        };
        let old_deadline = match put {
            Put::New => None,
            Put::Replaced(old) => old,
        };
        self.note_deadline_change(old_deadline, deadline);
        put == Put::New
    }

    /// Change the deadline of an existing field, keeping its value.
    /// Returns false if there is no such field.
    pub fn set_deadline(&mut self, name: &[u8], deadline: Option<u64>) -> bool {
        let Some(field) = self.field(name) else { return false };
        if field.deadline == deadline {
            return true;
        }
        let value = field.value.to_vec();
        // Same name and value: never changes the encoding.
        self.insert(name, &value, deadline, PackLimits { entries: usize::MAX, value: usize::MAX });
        true
    }

    /// Delete a field; returns whether it was there.
    pub fn remove(&mut self, name: &[u8]) -> bool {
        let deadline = match &mut self.encoding {
            Encoding::Packed { data, len, .. } => {
                let Some((at, entry_len)) = packed_find(data, name) else { return false };
                let deadline = read_entry(&data[at..]).0.deadline;
                data.drain(at..at + entry_len);
                *len -= 1;
                deadline
            }
            Encoding::Table(table) => match table.remove(name) {
                Some(entry) => read_entry(&entry).0.deadline,
                None => return false,
            },
        };
        self.note_deadline_change(deadline, None);
        if self.is_empty() {
            self.next_deadline = u64::MAX;
        }
        true
    }

    /// Delete every field whose deadline is before `now`; returns how many.
    pub fn purge_expired(&mut self, now: u64) -> usize {
        if !self.needs_purge(now) {
            return 0;
        }
        let expired: Vec<Vec<u8>> =
            self.iter().filter(|f| f.deadline.is_some_and(|d| d < now)).map(|f| f.name.to_vec()).collect();
        expired.iter().for_each(|name| {
            self.remove(name);
        });
        self.next_deadline = self.iter().filter_map(|f| f.deadline).min().unwrap_or(u64::MAX);
        expired.len()
    }

    /// A field picked by `seed` (uniform for a random seed), or None.
    pub fn random_field(&self, seed: u64) -> Option<Field<'_>> {
        let len = self.len();
        if len == 0 {
            return None;
        }
        match &self.encoding {
            Encoding::Packed { .. } => self.iter().nth((seed % len as u64) as usize),
            Encoding::Table(table) => table.random(seed).map(|e| read_entry(e).0),
        }
    }

    /// One HSCAN step from `cursor` (0 to start): visit about `count`
    /// fields, calling `f` with each, and return the cursor to resume
    /// from (0 when done). A packed hash is returned whole, as Redis does.
    /// The cursor is a bucket position tagged with the table's layout;
    /// if the table was rebuilt since, the scan starts over, so a field
    /// present throughout is returned at least once.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(Field<'a>)) -> u64 {
        let Encoding::Table(table) = &self.encoding else {
            self.iter().for_each(f);
            return 0;
        };
        table.scan(cursor, count, |entry| f(read_entry(entry).0))
    }

    fn should_convert(&self, name: &[u8], value: &[u8], limits: PackLimits) -> bool {
        match &self.encoding {
            Encoding::Packed { len, .. } => {
                name.len() > limits.value || value.len() > limits.value || *len as usize >= limits.entries
            }
            Encoding::Table(_) => false,
        }
    }

    /// Move a packed hash into a table.
    fn convert(&mut self) {
        let Encoding::Packed { data, .. } = &self.encoding else { return };
        let mut table = Table::with_capacity(self.len() + 1);
        for entry in (PackedIter { data }).map(|f| boxed_entry(f.name, f.value, f.deadline)) {
            table.put(entry);
        }
        self.encoding = Encoding::Table(Box::new(table));
    }

    fn note_deadline_change(&mut self, old: Option<u64>, new: Option<u64>) {
        self.volatile = self.volatile - u32::from(old.is_some()) + u32::from(new.is_some());
        if let Some(at) = new {
            self.next_deadline = self.next_deadline.min(at);
        }
        if self.volatile == 0 {
            self.next_deadline = u64::MAX;
        }
    }
}

struct PackedIter<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        if self.data.is_empty() {
            return None;
        }
        let (field, len) = read_entry(self.data);
        self.data = &self.data[len..];
        Some(field)
    }
}

/// Offset and length of `name`'s entry in a packed hash.
///
/// The hottest loop of the hash commands: it decodes only each entry's
/// lengths, and compares bytes only where the lengths match, last byte
/// first (generated names such as `field:000123` share their beginnings
/// and differ at the end).
fn packed_find(data: &[u8], name: &[u8]) -> Option<(usize, usize)> {
    let last = name.len().checked_sub(1);
    let mut at = 0;
    while at < data.len() {
        let (header, name_len, value_len) = record_lengths(&data[at..]);
        let start = at + header;
        let len = header + name_len + value_len;
        if name_len == name.len()
            && last.is_none_or(|last| data[start + last] == name[last])
            && &data[start..start + name_len] == name
        {
            return Some((at, len));
        }
        at += len;
    }
    None
}

/// What a put found in the field's place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Put {
    New,
    /// The field was there, with this deadline.
    Replaced(Option<u64>),
}

/// Write `name`'s entry in place of the old one (keeping its position,
/// as a listpack does) or at the end. The vector grows by exactly what the
/// entry needs: a packed hash is small, and jemalloc reallocates within a
/// size class in place.
fn packed_put(data: &mut Vec<u8>, name: &[u8], value: &[u8], deadline: Option<u64>) -> Put {
    let new_len = record_len(name.len(), value.len(), deadline.is_some());
    let (at, old_len) = packed_find(data, name).unwrap_or((data.len(), 0));
    let put = if old_len == 0 { Put::New } else { Put::Replaced(read_entry(&data[at..]).0.deadline) };
    let end = data.len();
    if new_len > old_len {
        data.reserve_exact(new_len - old_len);
        data.resize(end + new_len - old_len, 0);
        data.copy_within(at + old_len..end, at + new_len);
    } else if new_len < old_len {
        data.copy_within(at + old_len..end, at + new_len);
        data.truncate(end - (old_len - new_len));
    }
    write_entry(&mut data[at..at + new_len], name, value, deadline);
    put
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: PackLimits = PackLimits { entries: 4, value: 16 };

    fn names(hash: &Hash) -> Vec<Vec<u8>> {
        let mut names: Vec<Vec<u8>> = hash.iter().map(|f| f.name.to_vec()).collect();
        names.sort();
        names
    }

    #[test]
    fn packed_keeps_insertion_order_and_replaces_in_place() {
        let mut h = Hash::new();
        assert!(h.insert(b"b", b"1", None, SMALL));
        assert!(h.insert(b"a", b"2", None, SMALL));
        assert!(!h.insert(b"b", b"a longer value", None, SMALL));
        let order: Vec<&[u8]> = h.iter().map(|f| f.name).collect();
        assert_eq!(order, [&b"b"[..], b"a"]);
        assert_eq!(h.get(b"b"), Some(&b"a longer value"[..]));
        assert_eq!((h.len(), h.encoding()), (2, "listpack"));
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        assert_eq!((h.len(), h.get(b"a")), (1, Some(&b"2"[..])));
    }

    #[test]
    fn converts_past_the_limits_and_keeps_every_field() {
        let mut h = Hash::new();
        for i in 0..4 {
            h.insert(format!("f{i}").as_bytes(), b"v", Some(100 + i), SMALL);
        }
        assert_eq!(h.encoding(), "listpackex", "fields with deadlines, as Redis 7.4 names it");
        h.insert(b"f4", b"v", None, SMALL);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);
        assert_eq!(h.field(b"f2").and_then(|f| f.deadline), Some(102));
        let mut long = Hash::new();
        long.insert(b"f", &[b'x'; 17], None, SMALL);
        assert_eq!(long.encoding(), "hashtable");
    }

    #[test]
    fn expired_fields_are_purged_and_deadlines_counted() {
        let mut h = Hash::new();
        h.insert(b"keep", b"1", None, SMALL);
        h.insert(b"soon", b"2", Some(10), SMALL);
        h.insert(b"later", b"3", Some(50), SMALL);
        assert!(h.is_volatile());
        assert!(!h.needs_purge(10), "a field expires after its deadline, not at it");
        assert_eq!(h.purge_expired(11), 1);
        assert_eq!(names(&h), [b"keep".to_vec(), b"later".to_vec()]);
        assert!(!h.needs_purge(50));
        h.insert(b"later", b"3", None, SMALL);
        assert!(!h.is_volatile(), "HSET clears a field's deadline");
        assert!(!h.needs_purge(u64::MAX - 1));
    }

    #[test]
    fn set_deadline_keeps_the_value() {
        let mut h = Hash::new();
        h.insert(b"f", b"value", None, SMALL);
        assert!(h.set_deadline(b"f", Some(7)));
        assert_eq!(h.field(b"f"), Some(Field { name: b"f", value: b"value", deadline: Some(7) }));
        assert!(h.set_deadline(b"f", None));
        assert!(!h.is_volatile());
        assert!(!h.set_deadline(b"missing", Some(1)));
    }

    #[test]
    fn scan_visits_every_field_across_rebuilds() {
        let mut h = Hash::new();
        for i in 0..1000 {
            h.insert(format!("f{i}").as_bytes(), b"v", None, SMALL);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut steps = 0;
        loop {
            cursor = h.scan(cursor, 10, |f| {
                seen.insert(f.name.to_vec());
            });
            steps += 1;
            // Grow the table under the cursor a few times.
            if steps % 20 == 0 && steps <= 60 {
                for j in 0..200 {
                    h.insert(format!("new{steps}-{j}").as_bytes(), b"v", None, SMALL);
                }
            }
            if cursor == 0 {
                break;
            }
        }
        assert!((0..1000).all(|i| seen.contains(format!("f{i}").as_bytes())));
        assert!(steps > 50, "a step visits about COUNT fields: {steps}");
    }

    #[test]
    fn memory_follows_the_contents() {
        let mut h = Hash::new();
        let empty = h.memory();
        for i in 0..1000 {
            h.insert(format!("field:{i:08}").as_bytes(), &[b'v'; 32], None, PackLimits::default());
        }
        let full = h.memory();
        assert!(full > empty + 1000 * 48, "{full}");
        for i in 0..1000 {
            h.remove(format!("field:{i:08}").as_bytes());
        }
        assert!(h.memory() < full / 2);
    }

    #[test]
    fn random_fields_cover_the_hash() {
        for limits in [SMALL, PackLimits::default()] {
            let mut h = Hash::new();
            for i in 0..10 {
                h.insert(format!("f{i}").as_bytes(), b"v", None, limits);
            }
            let picked: std::collections::HashSet<Vec<u8>> = (0..1000u64)
                .filter_map(|s| h.random_field(s.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
                .map(|f| f.name.to_vec())
                .collect();
            assert_eq!(picked.len(), 10);
        }
    }
}
