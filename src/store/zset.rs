//! The sorted set type: members with f64 scores, ordered by score, then
//! by member bytes (Redis's order).
//!
//! Two encodings, switched the way Redis switches them and reported by
//! `OBJECT ENCODING` under Redis's names:
//!
//! - `listpack`: a small set is one byte vector of entries in order, read
//!   linearly. An entry is `header (varint: member length << 1 | float)`,
//!   then the score (a zigzag varint when it is an integer below 2^53, else
//!   8 bytes), then the member: a 10-byte member with a small integer score
//!   takes 12 bytes.
//! - `skiplist`: once a set has more than `zset-max-listpack-entries`
//!   members, or a member longer than `zset-max-listpack-value`, each member
//!   is one allocation (`length | score | member`) owned by a hashbrown table
//!   (member → score in O(1)), and an order-statistic B+ tree of
//!   (score, pointer) pairs (`ranked.rs`) keeps the order, with ranks,
//!   inserts and deletes in O(log n). Like Redis's skiplist and dict, both
//!   share the member's bytes.

use std::cmp::Ordering;
use std::hash::BuildHasher;
use std::ptr::NonNull;

use foldhash::fast::RandomState;
use hashbrown::hash_table::HashTable;

use super::cursor::{reserve_one, scan, Cursor};
use super::hash::PackLimits;
use super::prefetch::prefetch_lines;
use super::ranked::Ranked;
use super::segment::{read_varint, varint_len, write_varint};
use crate::memory::size_class;

/// Redis's defaults for `zset-max-listpack-entries` and
/// `zset-max-listpack-value`.
pub const DEFAULT_LIMITS: PackLimits = PackLimits { entries: 128, value: 64 };

/// Lines of a packed set asked for ahead of a command.
const PREFETCH_LINES: usize = 4;

/// Integers up to this magnitude are exact in an f64 and packed as varints.
const PACKED_INT_LIMIT: f64 = (1u64 << 53) as f64;

/// Redis's order: by score, then by member bytes.
pub fn compare(a_score: f64, a_member: &[u8], b_score: f64, b_member: &[u8]) -> Ordering {
    a_score.partial_cmp(&b_score).unwrap_or(Ordering::Equal).then_with(|| a_member.cmp(b_member))
}

// ---------------------------------------------------------------------------
// The packed encoding
// ---------------------------------------------------------------------------

/// The score as a packed integer, if it is one. Like Redis's listpack
/// (`double2ll`), this makes -0 a plain 0.
fn packed_int(score: f64) -> Option<i64> {
    (score.trunc() == score && score.abs() < PACKED_INT_LIMIT).then_some(score as i64)
}

fn push_entry(out: &mut Vec<u8>, member: &[u8], score: f64) {
    match packed_int(score) {
        Some(n) => {
            write_varint(out, member.len() << 1);
            write_varint(out, ((n << 1) ^ (n >> 63)) as u64 as usize);
        }
        None => {
            write_varint(out, member.len() << 1 | 1);
            out.extend_from_slice(&score.to_le_bytes());
        }
    }
    out.extend_from_slice(member);
}

/// The entry at the start of `data`: member, score and entry length.
fn read_entry(data: &[u8]) -> (&[u8], f64, usize) {
    let (header, at) = read_varint(data, 0);
    let (score, at) = if header & 1 == 1 {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&data[at..at + 8]);
        (f64::from_le_bytes(bytes), at + 8)
    } else {
        let (zigzag, at) = read_varint(data, at);
        let n = (zigzag >> 1) as i64 ^ -((zigzag & 1) as i64);
        (n as f64, at)
    };
    let end = at + (header >> 1);
    (&data[at..end], score, end)
}

struct PackedIter<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.data.is_empty() {
            return None;
        }
        let (member, score, len) = read_entry(self.data);
        self.data = &self.data[len..];
        Some((member, score))
    }
}

/// Byte offset of each entry of a packed set, and of its end.
fn packed_offsets(data: &[u8]) -> Vec<usize> {
    let mut offsets = vec![0];
    let mut at = 0;
    while at < data.len() {
        at += read_entry(&data[at..]).2;
        offsets.push(at);
    }
    offsets
}

/// Offset, length and score of `member`'s entry.
fn packed_find(data: &[u8], member: &[u8]) -> Option<(usize, usize, f64)> {
    let mut at = 0;
    while at < data.len() {
        let (name, score, len) = read_entry(&data[at..]);
        if name == member {
            return Some((at, len, score));
        }
        at += len;
    }
    None
}

// ---------------------------------------------------------------------------
// The large encoding
// ---------------------------------------------------------------------------

/// A member and its score in one allocation, `member length (varint) |
/// score (f64 LE) | member`, owned by the member table. The order tree
/// holds [`ElemRef`]s to the same allocation.
struct Elem(NonNull<u8>);

/// A pointer to an [`Elem`]'s allocation, valid while the Elem is in its
/// set's member table.
#[derive(Clone, Copy)]
struct ElemRef(NonNull<u8>);

// SAFETY: an Elem owns its allocation as a Box<[u8]> would, and an ElemRef
// is only read through the set that owns the Elem, under the same borrow.
unsafe impl Send for Elem {}
unsafe impl Sync for Elem {}
unsafe impl Send for ElemRef {}
unsafe impl Sync for ElemRef {}

impl Elem {
    fn new(member: &[u8], score: f64) -> Elem {
        let mut buf = Vec::with_capacity(varint_len(member.len()) + 8 + member.len());
        write_varint(&mut buf, member.len());
        buf.extend_from_slice(&score.to_le_bytes());
        buf.extend_from_slice(member);
        Elem(NonNull::from(Box::leak(buf.into_boxed_slice())).cast())
    }

    fn get(&self) -> ElemRef {
        ElemRef(self.0)
    }

    fn set_score(&mut self, score: f64) {
        let header = self.get().header_len();
        // SAFETY: the allocation is this Elem's own, and holds the 8 score
        // bytes right after the header; `&mut self` excludes readers.
        unsafe { std::ptr::copy_nonoverlapping(score.to_le_bytes().as_ptr(), self.0.as_ptr().add(header), 8) }
    }
}

impl Drop for Elem {
    fn drop(&mut self) {
        let len = self.get().total_len();
        // SAFETY: the allocation came from a Box<[u8]> of exactly `len` bytes.
        unsafe { drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.0.as_ptr(), len))) }
    }
}

impl ElemRef {
    /// The allocation's bytes. The caller ties the lifetime to a borrow of
    /// the set that owns the Elem.
    fn bytes<'a>(self) -> &'a [u8] {
        // SAFETY: the Elem is alive (see the type's note); its header is a
        // varint of at most 10 bytes that ends before the score.
        unsafe {
            let head = std::slice::from_raw_parts(self.0.as_ptr(), 1);
            if head[0] < 0x80 {
                return std::slice::from_raw_parts(self.0.as_ptr(), 1 + 8 + usize::from(head[0]));
            }
            let header = std::slice::from_raw_parts(self.0.as_ptr(), varint_header_len(self.0));
            let (len, at) = read_varint(header, 0);
            std::slice::from_raw_parts(self.0.as_ptr(), at + 8 + len)
        }
    }

    fn header_len(self) -> usize {
        let bytes = self.bytes();
        bytes.len() - 8 - read_varint(bytes, 0).0
    }

    fn total_len(self) -> usize {
        self.bytes().len()
    }

    fn member<'a>(self) -> &'a [u8] {
        let bytes = self.bytes();
        &bytes[read_varint(bytes, 0).1 + 8..]
    }

    fn score(self) -> f64 {
        let bytes = self.bytes();
        let at = read_varint(bytes, 0).1;
        let mut score = [0u8; 8];
        score.copy_from_slice(&bytes[at..at + 8]);
        f64::from_le_bytes(score)
    }
}

/// Length of the varint at `p`.
///
/// # Safety
/// `p` must point at a complete varint.
unsafe fn varint_header_len(p: NonNull<u8>) -> usize {
    let mut len = 1;
    while *p.as_ptr().add(len - 1) >= 0x80 {
        len += 1;
    }
    len
}

/// An item of the order tree: the score (so searches rarely follow the
/// pointer) and the member's allocation.
#[derive(Clone, Copy)]
struct Entry {
    score: f64,
    elem: ElemRef,
}

impl Entry {
    /// [`compare`], reading the member (behind a pointer) only when the
    /// scores tie: a search down the order tree then touches no member.
    fn cmp_key(&self, score: f64, member: &[u8]) -> Ordering {
        match self.score.partial_cmp(&score) {
            Some(Ordering::Equal) | None => self.elem.member().cmp(member),
            Some(order) => order,
        }
    }
}

struct Skiplist {
    members: HashTable<Elem>,
    hasher: RandomState,
    order: Ranked<Entry>,
    /// Bytes of the member allocations, by size class.
    elem_bytes: usize,
    /// Bumped when the member table is rebuilt (see `cursor.rs`).
    layout: u32,
}

impl Skiplist {
    fn new() -> Self {
        Skiplist {
            members: HashTable::new(),
            hasher: RandomState::default(),
            order: Ranked::default(),
            elem_bytes: 0,
            layout: 0,
        }
    }

    fn memory(&self) -> usize {
        size_class(std::mem::size_of::<Skiplist>())
            + size_class(self.members.allocation_size())
            + self.elem_bytes
            + self.order.memory()
    }

    fn find(&self, member: &[u8]) -> Option<ElemRef> {
        let hash = self.hasher.hash_one(member);
        self.members.find(hash, |e| e.get().member() == member).map(Elem::get)
    }

    fn rank_of(&self, score: f64, member: &[u8]) -> usize {
        self.order.partition_point(|e| e.cmp_key(score, member) == Ordering::Less)
    }

    /// Add a member known to be absent, at its place in the order.
    fn add(&mut self, member: &[u8], score: f64) {
        let elem = Elem::new(member, score);
        let entry = Entry { score, elem: elem.get() };
        self.elem_bytes += size_class(elem.get().total_len());
        let hasher = &self.hasher;
        reserve_one(&mut self.members, &mut self.layout, |e| hasher.hash_one(e.get().member()));
        self.members.insert_unique(self.hasher.hash_one(member), elem, |e| hasher.hash_one(e.get().member()));
        let rank = self.rank_of(score, member);
        self.order.insert(rank, entry);
    }

    /// Set the score; returns the old one (None: the member is new).
    fn put(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let hash = self.hasher.hash_one(member);
        let Some(elem) = self.members.find_mut(hash, |e| e.get().member() == member) else {
            self.add(member, score);
            return None;
        };
        let old = elem.get().score();
        if old.to_bits() != score.to_bits() {
            let rank = self.order.partition_point(|e| e.cmp_key(old, member) == Ordering::Less);
            self.order.remove(rank);
            elem.set_score(score);
            let entry = Entry { score, elem: elem.get() };
            let rank = self.rank_of(score, member);
            self.order.insert(rank, entry);
        }
        Some(old)
    }

    /// Drop the member's allocation (already out of the order tree).
    fn forget(&mut self, elem: ElemRef) {
        let member = elem.member();
        let hash = self.hasher.hash_one(member);
        if let Ok(found) = self.members.find_entry(hash, |e| e.0 == elem.0) {
            let (gone, _) = found.remove();
            self.elem_bytes -= size_class(gone.get().total_len());
        }
        // Give memory back when the set shrinks to an eighth of its table,
        // as Redis resizes a dict under 10% full; a scan starts over.
        if self.members.capacity() > 1024 && self.members.len() < self.members.capacity() / 8 {
            let hasher = &self.hasher;
            self.members.shrink_to(self.members.len() * 2, |e| hasher.hash_one(e.get().member()));
            self.layout = self.layout.wrapping_add(1);
        }
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let elem = self.find(member)?;
        let score = elem.score();
        let rank = self.rank_of(score, member);
        self.order.remove(rank);
        self.forget(elem);
        Some(score)
    }

    fn remove_rank(&mut self, rank: usize) {
        if let Some(entry) = self.order.remove(rank) {
            self.forget(entry.elem);
        }
    }
}

impl Clone for Skiplist {
    fn clone(&self) -> Self {
        let mut copy = Skiplist::new();
        self.order.walk(0, false, |e| {
            copy.add(e.elem.member(), e.score);
            true
        });
        copy
    }
}

// ---------------------------------------------------------------------------
// The set
// ---------------------------------------------------------------------------

#[derive(Clone)]
enum Encoding {
    Packed { data: Vec<u8>, len: u32 },
    Skiplist(Box<Skiplist>),
}

/// A sorted set value.
#[derive(Clone)]
pub struct ZSet {
    encoding: Encoding,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet { encoding: Encoding::Packed { data: Vec::new(), len: 0 } }
    }
}

impl ZSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// A set of `items`, already in order and distinct, in the encoding
    /// Redis gives a stored result (ZUNIONSTORE, ZRANGESTORE...): packed
    /// if it is within `limits`.
    pub fn from_sorted<'a>(items: impl IntoIterator<Item = (&'a [u8], f64)>, limits: PackLimits) -> Self {
        let items: Vec<(&[u8], f64)> = items.into_iter().collect();
        let longest = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        let mut set = ZSet::new();
        if items.len() > limits.entries || longest > limits.value {
            let mut list = Skiplist::new();
            items.iter().for_each(|&(member, score)| list.add(member, score));
            set.encoding = Encoding::Skiplist(Box::new(list));
        } else {
            let mut data = Vec::new();
            items.iter().for_each(|&(member, score)| push_entry(&mut data, member, score));
            data.shrink_to_fit();
            set.encoding = Encoding::Packed { data, len: items.len() as u32 };
        }
        set
    }

    pub fn len(&self) -> usize {
        match &self.encoding {
            Encoding::Packed { len, .. } => *len as usize,
            Encoding::Skiplist(list) => list.order.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Redis's name for the encoding (`OBJECT ENCODING`).
    pub fn encoding(&self) -> &'static str {
        match self.encoding {
            Encoding::Packed { .. } => "listpack",
            Encoding::Skiplist(_) => "skiplist",
        }
    }

    /// Bytes the set holds, by allocator size class.
    pub fn memory(&self) -> usize {
        std::mem::size_of::<ZSet>()
            + match &self.encoding {
                Encoding::Packed { data, .. } => size_class(data.capacity()),
                Encoding::Skiplist(list) => list.memory(),
            }
    }

    /// Start loading the first lines of a packed set.
    pub fn prefetch(&self) {
        if let Encoding::Packed { data, .. } = &self.encoding {
            prefetch_lines(data, PREFETCH_LINES);
        }
    }

    /// Before a write of `count` members, the first `longest` bytes long:
    /// go to the large encoding if that many would not stay packed, or if
    /// the set is new and that member would not (Redis 7.2's
    /// `zsetTypeCreate` and `zsetTypeMaybeConvert`).
    pub fn presize(&mut self, count: usize, longest: usize, limits: PackLimits) {
        if count > limits.entries || (self.is_empty() && longest > limits.value) {
            self.convert();
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.encoding {
            Encoding::Packed { data, .. } => packed_find(data, member).map(|(_, _, score)| score),
            Encoding::Skiplist(list) => list.find(member).map(ElemRef::score),
        }
    }

    /// Set `member`'s score; returns the old one (None: the member is new).
    pub fn insert(&mut self, member: &[u8], score: f64, limits: PackLimits) -> Option<f64> {
        if let Encoding::Packed { data, len } = &mut self.encoding {
            let found = packed_find(data, member);
            if found.is_none() && (*len as usize >= limits.entries || member.len() > limits.value) {
                self.convert();
            } else {
                if let Some((at, entry_len, _)) = found {
                    data.drain(at..at + entry_len);
                }
                let at = packed_position(data, member, score);
                let mut entry = Vec::new();
                push_entry(&mut entry, member, score);
                // Grow by exactly the entry, as a listpack does: jemalloc
                // reallocates within a size class in place.
                data.reserve_exact(entry.len());
                data.splice(at..at, entry);
                *len += u32::from(found.is_none());
                return found.map(|(_, _, old)| old);
            }
        }
        match &mut self.encoding {
            Encoding::Skiplist(list) => list.put(member, score),
            Encoding::Packed { .. } => None,
        }
    }

    /// Delete a member; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.encoding {
            Encoding::Packed { data, len } => {
                let (at, entry_len, score) = packed_find(data, member)?;
                data.drain(at..at + entry_len);
                *len -= 1;
                Some(score)
            }
            Encoding::Skiplist(list) => list.remove(member),
        }
    }

    /// The member's rank (0: lowest score) and score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match &self.encoding {
            Encoding::Packed { data, .. } => {
                PackedIter { data }.enumerate().find(|(_, (m, _))| *m == member).map(|(rank, (_, s))| (rank, s))
            }
            Encoding::Skiplist(list) => {
                let score = list.find(member)?.score();
                Some((list.rank_of(score, member), score))
            }
        }
    }

    /// The member at `rank` and its score.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        match &self.encoding {
            Encoding::Packed { data, .. } => PackedIter { data }.nth(rank),
            Encoding::Skiplist(list) => list.order.get(rank).map(|e| (e.elem.member(), e.score)),
        }
    }

    /// How many leading members satisfy `below`, which must hold for a
    /// prefix of the order and not after it.
    pub fn partition_point(&self, below: impl Fn(&[u8], f64) -> bool) -> usize {
        match &self.encoding {
            Encoding::Packed { data, .. } => PackedIter { data }.take_while(|(m, s)| below(m, *s)).count(),
            Encoding::Skiplist(list) => list.order.partition_point(|e| below(e.elem.member(), e.score)),
        }
    }

    /// Call `f` with the members from rank `start` on, in order (or in
    /// reverse order, when `rev`), until it returns false.
    pub fn walk<'s>(&'s self, start: usize, rev: bool, mut f: impl FnMut(&'s [u8], f64) -> bool) {
        match &self.encoding {
            Encoding::Packed { data, .. } if rev => {
                let items: Vec<(&[u8], f64)> = PackedIter { data }.take(start.saturating_add(1)).collect();
                let _ = items.into_iter().rev().all(|(m, s)| f(m, s));
            }
            Encoding::Packed { data, .. } => {
                let _ = PackedIter { data }.skip(start).all(|(m, s)| f(m, s));
            }
            Encoding::Skiplist(list) => list.order.walk(start, rev, |e| f(e.elem.member(), e.score)),
        }
    }

    /// Every member with its score, in order.
    pub fn to_vec(&self) -> Vec<(&[u8], f64)> {
        let mut items = Vec::with_capacity(self.len());
        self.walk(0, false, |m, s| {
            items.push((m, s));
            true
        });
        items
    }

    /// Delete the members of ranks `start..end`; returns how many.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        match &mut self.encoding {
            Encoding::Packed { data, len } => {
                let offsets = packed_offsets(data);
                data.drain(offsets[start]..offsets[end]);
                *len -= (end - start) as u32;
            }
            Encoding::Skiplist(list) => (start..end).for_each(|_| list.remove_rank(start)),
        }
        end - start
    }

    /// One ZSCAN step from `cursor` (0 to start): about `count` members,
    /// and the cursor to resume from (0 when done). A packed set is
    /// returned whole, as Redis does; see `Hash::scan` for the cursor.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(&'a [u8], f64)) -> u64 {
        let list = match &self.encoding {
            Encoding::Packed { data, .. } => {
                PackedIter { data }.for_each(|(m, s)| f(m, s));
                return 0;
            }
            Encoding::Skiplist(list) => list,
        };
        let next = scan(&list.members, list.layout, Cursor::from_bits(cursor), count, |elem| {
            let elem = elem.get();
            f(elem.member(), elem.score());
            true
        });
        next.map_or(0, Cursor::to_bits)
    }

    /// Move to the large encoding whatever the size, for good (Redis's
    /// SORT does this to the sorted sets it sorts).
    pub fn unpack(&mut self) {
        self.convert();
    }

    /// Move a packed set into the large encoding.
    fn convert(&mut self) {
        let Encoding::Packed { data, .. } = &self.encoding else { return };
        let mut list = Skiplist::new();
        list.members.reserve(self.len() + 1, |_| 0);
        for (member, score) in (PackedIter { data }) {
            list.add(member, score);
        }
        self.encoding = Encoding::Skiplist(Box::new(list));
    }
}

/// Where an entry for (score, member) goes in a packed set.
fn packed_position(data: &[u8], member: &[u8], score: f64) -> usize {
    let mut at = 0;
    while at < data.len() {
        let (name, s, len) = read_entry(&data[at..]);
        if compare(s, name, score, member) == Ordering::Greater {
            break;
        }
        at += len;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: PackLimits = PackLimits { entries: 4, value: 8 };

    fn members(set: &ZSet) -> Vec<(Vec<u8>, f64)> {
        set.to_vec().into_iter().map(|(m, s)| (m.to_vec(), s)).collect()
    }

    #[test]
    fn packed_scores_round_trip() {
        for score in [0.0, -0.0, 1.0, -1.0, 1.5, 1e300, -(2f64.powi(53)), 2f64.powi(53), f64::INFINITY, -f64::INFINITY]
        {
            let mut data = Vec::new();
            push_entry(&mut data, b"m", score);
            let (member, back, len) = read_entry(&data);
            let expected = if score == 0.0 { 0.0 } else { score };
            assert_eq!((member, back.to_bits(), len), (&b"m"[..], expected.to_bits(), data.len()));
        }
        let mut data = Vec::new();
        push_entry(&mut data, b"0123456789", 7.0);
        assert_eq!(data.len(), 12, "a small integer score takes one byte");
    }

    #[test]
    fn both_encodings_keep_redis_order() {
        for limits in [SMALL, DEFAULT_LIMITS] {
            let mut z = ZSet::new();
            assert_eq!(z.insert(b"b", 1.0, limits), None);
            assert_eq!(z.insert(b"a", 1.0, limits), None);
            assert_eq!(z.insert(b"c", 0.5, limits), None);
            assert_eq!(z.insert(b"aa", 1.0, limits), None);
            assert_eq!(z.insert(b"c", 2.0, limits), Some(0.5));
            let expected: Vec<(Vec<u8>, f64)> =
                vec![(b"a".to_vec(), 1.0), (b"aa".to_vec(), 1.0), (b"b".to_vec(), 1.0), (b"c".to_vec(), 2.0)];
            assert_eq!(members(&z), expected);
            assert_eq!(z.rank(b"b"), Some((2, 1.0)));
            assert_eq!(z.get(3), Some((&b"c"[..], 2.0)));
            assert_eq!(z.partition_point(|_, s| s < 2.0), 3);
            assert_eq!(z.remove(b"aa"), Some(1.0));
            assert_eq!(z.remove(b"aa"), None);
            assert_eq!(z.len(), 3);
            assert_eq!(z.encoding(), "listpack");
        }
    }

    #[test]
    fn converts_past_the_limits_and_keeps_every_member() {
        let mut z = ZSet::new();
        for i in 0..4 {
            z.insert(format!("m{i}").as_bytes(), f64::from(i), SMALL);
        }
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"m1", 10.0, SMALL);
        assert_eq!(z.encoding(), "listpack", "an update never converts");
        z.insert(b"m4", 4.0, SMALL);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.len(), 5);
        assert_eq!(z.score(b"m1"), Some(10.0));
        assert_eq!(z.rank(b"m1"), Some((4, 10.0)));
        let mut long = ZSet::new();
        long.insert(b"123456789", 1.0, SMALL);
        assert_eq!(long.encoding(), "skiplist");
        let mut hinted = ZSet::new();
        hinted.presize(5, 1, SMALL);
        assert_eq!(hinted.encoding(), "skiplist");
    }

    #[test]
    fn large_sets_match_a_model() {
        let mut z = ZSet::new();
        let mut model = std::collections::BTreeMap::new();
        let mut seed = 0x9E37_79B9_u64;
        for step in 0..30_000u64 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let member = format!("m{}", (seed >> 33) % 5000).into_bytes();
            let score = ((seed >> 20) % 100) as f64 / 4.0;
            if step % 3 == 2 {
                assert_eq!(z.remove(&member), model.remove(&member), "remove {step}");
            } else {
                assert_eq!(z.insert(&member, score, DEFAULT_LIMITS), model.insert(member.clone(), score));
            }
        }
        let mut expected: Vec<(Vec<u8>, f64)> = model.into_iter().collect();
        expected.sort_by(|a, b| compare(a.1, &a.0, b.1, &b.0));
        assert_eq!(members(&z), expected);
        for (rank, (member, score)) in expected.iter().enumerate().step_by(97) {
            assert_eq!(z.rank(member), Some((rank, *score)));
        }
        let copy = z.clone();
        assert_eq!(z.remove_ranks(10, 20), 10);
        assert_eq!(members(&copy), expected);
        assert_eq!(z.len(), expected.len() - 10);
        assert_eq!(z.get(10).map(|(m, _)| m.to_vec()), Some(expected[20].0.clone()));
    }

    #[test]
    fn scan_visits_every_member() {
        let mut z = ZSet::new();
        for i in 0..1000 {
            z.insert(format!("m{i}").as_bytes(), f64::from(i), DEFAULT_LIMITS);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = z.scan(cursor, 10, |m, _| {
                seen.insert(m.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
    }

    #[test]
    fn memory_follows_the_contents() {
        let mut z = ZSet::new();
        for i in 0..10_000 {
            z.insert(format!("member:{i:07}").as_bytes(), f64::from(i), DEFAULT_LIMITS);
        }
        let full = z.memory();
        assert!(full < 10_000 * 90, "{full}");
        z.remove_ranks(0, 9_900);
        assert!(z.memory() < full / 10, "{}", z.memory());
    }
}
