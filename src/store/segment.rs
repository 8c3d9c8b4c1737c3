//! Where a shard's keys and values live: an append-only log of segments.
//!
//! Each entry is one *record*, packed into a 64 KiB segment with no
//! per-record allocation and no allocator rounding:
//!
//! ```text
//! flags (1 byte) | key length (varint) | value length (varint)
//!   | [expiry, u64 LE, if flags has EXPIRY] | key bytes | value bytes
//! ```
//!
//! The flags also carry the value's [`Kind`]: a string's bytes are the
//! value itself; a collection's are the 4-byte handle of its object in the
//! shard's arena (see `object.rs`).
//!
//! A 10-byte key with a 256-byte value costs 270 bytes plus its 4-byte slot
//! in the shard's index, against about 390 in Redis (separate allocations
//! for key, value object and dict entry, each rounded up to a size class).
//!
//! The segments form two FIFO queues, [`Queue::Small`] for keys on
//! probation and [`Queue::Main`] for the rest (S3-FIFO's queues; see
//! `evict.rs`). Records are written at the head segment of a queue.
//! Overwriting a value of the same encoded size rewrites it in place;
//! otherwise the old record is marked dead and a new one appended to the
//! same queue. Segments are released whole, oldest first, by the clock
//! sweep, which copies the records that deserve to stay to a head:
//! eviction and compaction are the same pass, so memory is always returned
//! in whole segments and never fragments.
//!
//! Records too large to share a segment (over [`JUMBO_RECORD`] bytes) get a
//! segment of their own, held as `Bytes` so a GET sends the value straight
//! from it without copying.

use std::collections::VecDeque;

use bytes::Bytes;

use super::object::Kind;
use super::prefetch::prefetch_lines;

/// Largest capacity of a regular segment (offsets are 16 bits).
pub const SEGMENT_SIZE: usize = 64 * 1024;

/// Smallest segment capacity [`segment_size_for`] picks.
const MIN_SEGMENT_SIZE: usize = 4 * 1024;

/// The segment size for a shard expected to hold `shard_bytes`: small
/// enough that a shard has at least 16 segments, so each sweep step (and
/// the head still being filled) is a small fraction of the shard, and no
/// larger than [`SEGMENT_SIZE`]. Without a limit, shards can grow
/// unbounded and get the largest segments.
pub fn segment_size_for(shard_bytes: u64) -> usize {
    if shard_bytes == 0 {
        return SEGMENT_SIZE;
    }
    let size = (shard_bytes / 16).next_power_of_two() as usize;
    size.clamp(MIN_SEGMENT_SIZE, SEGMENT_SIZE)
}

/// A shard's first segment starts this small and doubles as it fills, so a
/// shard holding a few keys does not pin a whole segment's worth of memory.
const FIRST_CAPACITY: usize = 1024;

/// Records larger than this get a segment of their own (at most a quarter
/// of the log's segment size).
pub const JUMBO_RECORD: usize = 16 * 1024;

/// Segment ids fit in 14 bits of a location (see [`Loc`]).
pub const MAX_SEGMENTS: usize = 1 << 14;

pub(super) const FLAG_EXPIRY: u8 = 1;
const FLAG_DEAD: u8 = 2;
/// Bits 2-4 of the flags: the value's [`Kind`].
const KIND_SHIFT: u8 = 2;
const KIND_MASK: u8 = 0b111 << KIND_SHIFT;

/// Where a record is: segment id (14 bits) and byte offset (16 bits). The
/// two top bits of the u32 that stores it in the index are left for the
/// entry's access frequency.
pub type Loc = u32;

pub const LOC_MASK: u32 = (1 << 30) - 1;

pub fn loc(segment: usize, offset: usize) -> Loc {
    debug_assert!(segment < MAX_SEGMENTS && offset < SEGMENT_SIZE);
    ((segment as u32) << 16) | offset as u32
}

/// Cache lines [`Log::prefetch`] asks for: a small record's header, key
/// and the start of its value.
const PREFETCH_LINES: usize = 4;

fn split(loc: Loc) -> (usize, usize) {
    (((loc & LOC_MASK) >> 16) as usize, (loc & 0xffff) as usize)
}

/// The decoded fixed part of a record.
#[derive(Clone, Copy, Debug)]
struct Header {
    flags: u8,
    key_len: usize,
    value_len: usize,
    /// Bytes before the key: flags, lengths and expiry.
    len: usize,
}

impl Header {
    /// Every key and value read goes through here, so the usual shapes
    /// (a key under 128 bytes, a value under 16 KiB: one- and two-byte
    /// lengths) are decoded without the general varint loop.
    #[inline]
    fn parse(data: &[u8]) -> Header {
        // `lengths_end`: the offset just past the two lengths.
        let (flags, key_len, value_len, lengths_end) = match *data {
            [flags, key, value, ..] if key < 0x80 && value < 0x80 => (flags, key.into(), value.into(), 3),
            [flags, key, low, high, ..] if key < 0x80 && high < 0x80 => {
                (flags, key.into(), usize::from(low & 0x7f) | usize::from(high) << 7, 4)
            }
            _ => {
                let (key_len, a) = read_varint(data, 1);
                let (value_len, b) = read_varint(data, a);
                (data[0], key_len, value_len, b)
            }
        };
        let len = if flags & FLAG_EXPIRY != 0 { lengths_end + 8 } else { lengths_end };
        Header { flags, key_len, value_len, len }
    }

    fn record_len(&self) -> usize {
        self.len + self.key_len + self.value_len
    }
}

/// The lengths of the record at the start of `data`: its header (flags,
/// lengths and expiry), its key and its value. For scans that skip most
/// records without reading them (a packed hash's field search).
#[inline]
pub(super) fn record_lengths(data: &[u8]) -> (usize, usize, usize) {
    let header = Header::parse(data);
    (header.len, header.key_len, header.value_len)
}

/// Encoded size of a record.
pub fn record_len(key_len: usize, value_len: usize, has_expiry: bool) -> usize {
    1 + varint_len(key_len) + varint_len(value_len) + if has_expiry { 8 } else { 0 } + key_len + value_len
}

pub(crate) fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

pub(crate) fn write_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

pub(crate) fn read_varint(data: &[u8], mut pos: usize) -> (usize, usize) {
    let mut value = 0usize;
    let mut shift = 0;
    loop {
        let byte = data[pos];
        pos += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return (value, pos);
        }
        shift += 7;
    }
}

/// Make room for `len` more bytes in a regular segment, doubling its
/// capacity up to `limit`. Returns the bytes added.
fn grow_for(data: &mut Vec<u8>, len: usize, limit: usize) -> usize {
    let needed = data.len() + len;
    let before = data.capacity();
    if needed > before {
        let target = (before * 2).max(needed).min(limit);
        data.reserve_exact(target - data.len());
    }
    data.capacity() - before
}

fn encode(out: &mut Vec<u8>, key: &[u8], kind: Kind, value: &[u8], expires_at: Option<u64>) {
    let expiry = if expires_at.is_some() { FLAG_EXPIRY } else { 0 };
    out.push(expiry | (kind as u8) << KIND_SHIFT);
    write_varint(out, key.len());
    write_varint(out, value.len());
    if let Some(at) = expires_at {
        out.extend_from_slice(&at.to_le_bytes());
    }
    out.extend_from_slice(key);
    out.extend_from_slice(value);
}

/// A record, read in place.
#[derive(Clone, Copy)]
pub struct Record<'a> {
    data: &'a [u8],
    header: Header,
}

impl<'a> Record<'a> {
    pub(super) fn at(data: &'a [u8], offset: usize) -> Record<'a> {
        let header = Header::parse(&data[offset..]);
        Record { data: &data[offset..offset + header.record_len()], header }
    }

    pub fn key(&self) -> &'a [u8] {
        &self.data[self.header.len..self.header.len + self.header.key_len]
    }

    pub fn value(&self) -> &'a [u8] {
        &self.data[self.header.len + self.header.key_len..]
    }

    /// Unix ms deadline, if any (a stored 0 means the deadline was removed).
    pub fn expires_at(&self) -> Option<u64> {
        if self.header.flags & FLAG_EXPIRY == 0 {
            return None;
        }
        let start = self.header.len - 8;
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&self.data[start..start + 8]);
        Some(u64::from_le_bytes(raw)).filter(|&at| at != 0)
    }

    pub fn kind(&self) -> Kind {
        Kind::from_bits((self.header.flags & KIND_MASK) >> KIND_SHIFT)
    }

    /// A collection's handle (its value bytes); None for a string.
    pub fn handle(&self) -> Option<u32> {
        if self.kind() == Kind::String {
            return None;
        }
        let mut raw = [0u8; 4];
        raw.copy_from_slice(self.value().get(..4)?);
        Some(u32::from_le_bytes(raw))
    }

    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at().is_some_and(|at| now > at)
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn is_dead(&self) -> bool {
        self.header.flags & FLAG_DEAD != 0
    }
}

enum Storage {
    /// Shared by many records; `len()` is the bytes written so far.
    Regular(Vec<u8>),
    /// One record, immutable, sent to clients without copying.
    Jumbo(Bytes),
}

/// The two FIFO queues of a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    /// New keys on probation: a short FIFO that only keys read while in
    /// it leave for the main queue.
    Small = 0,
    /// Everything else.
    Main = 1,
}

/// One segment, the queue it belongs to, and how many of its bytes still
/// belong to live records.
pub struct Segment {
    storage: Storage,
    queue: Queue,
    live: usize,
}

impl Segment {
    fn data(&self) -> &[u8] {
        match &self.storage {
            Storage::Regular(v) => v,
            Storage::Jumbo(b) => b,
        }
    }

    /// Bytes of memory the segment holds.
    pub fn footprint(&self) -> usize {
        match &self.storage {
            Storage::Regular(v) => v.capacity(),
            Storage::Jumbo(b) => b.len(),
        }
    }

    pub fn is_jumbo(&self) -> bool {
        matches!(self.storage, Storage::Jumbo(_))
    }

    /// The live records of the segment with their offsets.
    pub fn records(&self) -> impl Iterator<Item = (usize, Record<'_>)> {
        let data = self.data();
        let mut offset = 0;
        std::iter::from_fn(move || {
            while offset < data.len() {
                let record = Record::at(data, offset);
                let at = offset;
                offset += record.len();
                if !record.is_dead() {
                    return Some((at, record));
                }
            }
            None
        })
    }

    /// The value of the jumbo record at `offset`, as a shared slice.
    pub fn shared_value(&self, record: &Record<'_>) -> Option<Bytes> {
        match &self.storage {
            Storage::Jumbo(bytes) => Some(bytes.slice(bytes.len() - record.header.value_len..)),
            Storage::Regular(_) => None,
        }
    }
}

/// The log could not take another record: every segment id is in use.
#[derive(Debug)]
pub struct LogFull;

/// One queue of segments, in write order.
#[derive(Default)]
struct Fifo {
    /// Segment ids, oldest first.
    order: VecDeque<usize>,
    /// The regular segment new records of this queue go to.
    head: Option<usize>,
    /// Bytes held by the queue's segments.
    footprint: usize,
}

/// All segments of one shard.
pub struct Log {
    /// Capacity of each regular segment.
    segment_size: usize,
    segments: Vec<Option<Segment>>,
    free_ids: Vec<usize>,
    /// Indexed by [`Queue`].
    fifos: [Fifo; 2],
    /// Bytes held by all segments.
    footprint: usize,
}

impl Default for Log {
    fn default() -> Self {
        Log::new(SEGMENT_SIZE)
    }
}

impl Log {
    pub fn new(segment_size: usize) -> Self {
        Self {
            segment_size: segment_size.min(SEGMENT_SIZE),
            segments: Vec::new(),
            free_ids: Vec::new(),
            fifos: Default::default(),
            footprint: 0,
        }
    }

    fn fifo(&self, queue: Queue) -> &Fifo {
        &self.fifos[queue as usize]
    }

    fn fifo_mut(&mut self, queue: Queue) -> &mut Fifo {
        &mut self.fifos[queue as usize]
    }

    fn jumbo_threshold(&self) -> usize {
        JUMBO_RECORD.min(self.segment_size / 4)
    }

    pub fn record(&self, loc: Loc) -> Record<'_> {
        let (segment, offset) = split(loc);
        Record::at(self.segment(segment).data(), offset)
    }

    /// Start loading the first cache lines of the record at `loc` (its
    /// header, key and the start of its value), so that a lookup of it
    /// soon after finds them in cache instead of stalling on memory.
    pub fn prefetch(&self, loc: Loc) {
        let (segment, offset) = split(loc);
        if let Some(Some(segment)) = self.segments.get(segment) {
            if let Some(record) = segment.data().get(offset..) {
                prefetch_lines(record, PREFETCH_LINES);
            }
        }
    }

    /// A jumbo record's value as shared bytes (None for regular records).
    pub fn shared_value(&self, loc: Loc) -> Option<Bytes> {
        let (segment, offset) = split(loc);
        let segment = self.segment(segment);
        if !segment.is_jumbo() {
            return None;
        }
        segment.shared_value(&Record::at(segment.data(), offset))
    }

    fn segment(&self, id: usize) -> &Segment {
        match &self.segments[id] {
            Some(segment) => segment,
            None => unreachable!("location points at a released segment"),
        }
    }

    fn segment_mut(&mut self, id: usize) -> &mut Segment {
        match &mut self.segments[id] {
            Some(segment) => segment,
            None => unreachable!("location points at a released segment"),
        }
    }

    /// The queue the record at `loc` belongs to.
    pub fn queue_of(&self, loc: Loc) -> Queue {
        self.segment(split(loc).0).queue
    }

    /// Write a new record at the head of `queue` and return where it is.
    pub fn append(
        &mut self,
        queue: Queue,
        key: &[u8],
        kind: Kind,
        value: &[u8],
        expires_at: Option<u64>,
    ) -> Result<Loc, LogFull> {
        let len = record_len(key.len(), value.len(), expires_at.is_some());
        if len > self.jumbo_threshold() {
            let mut data = Vec::with_capacity(len);
            encode(&mut data, key, kind, value, expires_at);
            let id = self.add_segment(Segment { storage: Storage::Jumbo(Bytes::from(data)), queue, live: len })?;
            return Ok(loc(id, 0));
        }
        let id = match self.fifo(queue).head {
            Some(id) if self.head_room(id) >= len => id,
            _ => {
                let storage = Storage::Regular(Vec::with_capacity(self.new_segment_capacity()));
                let id = self.add_segment(Segment { storage, queue, live: 0 })?;
                self.fifo_mut(queue).head = Some(id);
                id
            }
        };
        let limit = self.segment_size;
        let segment = self.segment_mut(id);
        let Storage::Regular(data) = &mut segment.storage else { unreachable!("the head is a regular segment") };
        let offset = data.len();
        let grown = grow_for(data, len, limit);
        encode(data, key, kind, value, expires_at);
        segment.live += len;
        self.footprint += grown;
        self.fifo_mut(queue).footprint += grown;
        Ok(loc(id, offset))
    }

    /// A shard's first segment starts small and doubles as it fills; once
    /// the shard holds a full segment's worth, new ones are allocated whole,
    /// so records are not copied again by each doubling.
    fn new_segment_capacity(&self) -> usize {
        if self.footprint >= self.segment_size {
            self.segment_size
        } else {
            FIRST_CAPACITY
        }
    }

    fn head_room(&self, id: usize) -> usize {
        self.segment_size - self.segment(id).data().len()
    }

    fn add_segment(&mut self, segment: Segment) -> Result<usize, LogFull> {
        let id = match self.free_ids.pop() {
            Some(id) => id,
            None if self.segments.len() < MAX_SEGMENTS => {
                self.segments.push(None);
                self.segments.len() - 1
            }
            None => return Err(LogFull),
        };
        let fifo = self.fifo_mut(segment.queue);
        fifo.footprint += segment.footprint();
        fifo.order.push_back(id);
        self.footprint += segment.footprint();
        self.segments[id] = Some(segment);
        Ok(id)
    }

    /// Rewrite a string record's value (and deadline) in place if the new
    /// record has exactly the old one's size and lives in a regular segment.
    pub fn overwrite(&mut self, loc: Loc, value: &[u8], expires_at: Option<u64>) -> bool {
        let (id, offset) = split(loc);
        let record = self.record(loc);
        let header = record.header;
        let same_shape = record.kind() == Kind::String
            && record_len(header.key_len, value.len(), expires_at.is_some()) == header.record_len()
            && header.value_len == value.len()
            && (header.flags & FLAG_EXPIRY != 0) == expires_at.is_some();
        let Storage::Regular(data) = &mut self.segment_mut(id).storage else { return false };
        if !same_shape {
            return false;
        }
        if let Some(at) = expires_at {
            data[offset + header.len - 8..offset + header.len].copy_from_slice(&at.to_le_bytes());
        }
        let value_start = offset + header.len + header.key_len;
        data[value_start..value_start + value.len()].copy_from_slice(value);
        true
    }

    /// Change a record's deadline in place, if it has room for one.
    pub fn set_expiry_in_place(&mut self, loc: Loc, expires_at: Option<u64>) -> bool {
        let (id, offset) = split(loc);
        let header = self.record(loc).header;
        if header.flags & FLAG_EXPIRY == 0 {
            return expires_at.is_none();
        }
        match &mut self.segment_mut(id).storage {
            Storage::Regular(data) => {
                let at = expires_at.unwrap_or(0).to_le_bytes();
                data[offset + header.len - 8..offset + header.len].copy_from_slice(&at);
                true
            }
            Storage::Jumbo(_) => false,
        }
    }

    /// Mark a record dead. A segment left with no live record is released
    /// at once (unless it is a head, which is still being filled).
    pub fn kill(&mut self, loc: Loc) {
        let (id, offset) = split(loc);
        let len = self.record(loc).len();
        let segment = self.segment_mut(id);
        if let Storage::Regular(data) = &mut segment.storage {
            data[offset] |= FLAG_DEAD;
        }
        segment.live -= len;
        let (empty, queue) = (segment.live == 0, segment.queue);
        if empty && self.fifo(queue).head != Some(id) {
            self.release(id);
        }
    }

    fn release(&mut self, id: usize) -> Option<Segment> {
        let segment = self.segments[id].take()?;
        self.footprint -= segment.footprint();
        let fifo = self.fifo_mut(segment.queue);
        fifo.footprint -= segment.footprint();
        fifo.order.retain(|&s| s != id);
        if fifo.head == Some(id) {
            fifo.head = None;
        }
        self.free_ids.push(id);
        Some(segment)
    }

    /// Detach the oldest segment of `queue` for the sweep. Its records stay
    /// readable through the returned segment; the caller moves or drops
    /// each one.
    pub fn take_oldest(&mut self, queue: Queue) -> Option<(usize, Segment)> {
        let id = *self.fifo(queue).order.front()?;
        self.release(id).map(|segment| (id, segment))
    }

    /// Put a jumbo segment that survived the sweep back, as the newest of
    /// `queue`.
    pub fn requeue(&mut self, mut segment: Segment, queue: Queue) -> Result<Loc, LogFull> {
        segment.queue = queue;
        let id = self.add_segment(segment)?;
        Ok(loc(id, 0))
    }

    /// [`Log::append`] of a string (tests).
    #[cfg(test)]
    pub fn append_string(&mut self, queue: Queue, key: &[u8], value: &[u8], at: Option<u64>) -> Result<Loc, LogFull> {
        self.append(queue, key, Kind::String, value, at)
    }

    pub fn segment_count(&self) -> usize {
        self.fifos.iter().map(|f| f.order.len()).sum()
    }

    pub fn footprint(&self) -> usize {
        self.footprint
    }

    /// Bytes held by the segments of `queue`.
    pub fn queue_footprint(&self, queue: Queue) -> usize {
        self.fifo(queue).footprint
    }

    /// Bytes written in the segments of `queue` that belong to live
    /// records and to dead ones (reclaimable by compaction).
    pub fn live_and_dead_bytes(&self, queue: Queue) -> (usize, usize) {
        let order = &self.fifo(queue).order;
        order
            .iter()
            .map(|&id| self.segment(id))
            .fold((0, 0), |(live, dead), s| (live + s.live, dead + s.data().len() - s.live))
    }

    /// Take everything out, leaving an empty log of the same shape.
    pub fn take(&mut self) -> Log {
        std::mem::replace(self, Log::new(self.segment_size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let mut log = Log::default();
        let a = log.append_string(Queue::Main, b"key", b"value", None).unwrap();
        let b = log.append_string(Queue::Main, b"k2", &[7u8; 300], Some(1234)).unwrap();
        assert_eq!(log.record(a).key(), b"key");
        assert_eq!(log.record(a).value(), b"value");
        assert_eq!(log.record(a).expires_at(), None);
        assert_eq!(log.record(b).value(), &[7u8; 300][..]);
        assert_eq!(log.record(b).expires_at(), Some(1234));
        assert_eq!(log.record(b).len(), record_len(2, 300, true));
    }

    #[test]
    fn segment_size_follows_the_shard_budget() {
        assert_eq!(segment_size_for(0), SEGMENT_SIZE);
        assert_eq!(segment_size_for(50 * 1024 * 1024 / 256), 16 * 1024);
        assert_eq!(segment_size_for(1024), MIN_SEGMENT_SIZE);
        assert_eq!(segment_size_for(1 << 40), SEGMENT_SIZE);
    }

    #[test]
    fn headers_of_every_length_shape_decode() {
        let mut log = Log::default();
        for (key_len, value_len) in [(0, 0), (5, 127), (5, 128), (127, 16_383), (128, 3), (200, 16_384), (3, 40_000)] {
            let (key, value) = (vec![b'k'; key_len], vec![b'v'; value_len]);
            for expires_at in [None, Some(77)] {
                let at = log.append_string(Queue::Main, &key, &value, expires_at).unwrap();
                let record = log.record(at);
                assert_eq!((record.key(), record.value()), (&key[..], &value[..]), "{key_len} {value_len}");
                assert_eq!(record.expires_at(), expires_at);
                assert_eq!(record.len(), record_len(key_len, value_len, expires_at.is_some()));
            }
        }
    }

    #[test]
    fn compact_encoding() {
        assert_eq!(record_len(10, 256, false), 1 + 1 + 2 + 10 + 256);
    }

    #[test]
    fn in_place_updates() {
        let mut log = Log::default();
        let a = log.append_string(Queue::Main, b"n", b"10", Some(5)).unwrap();
        assert!(log.overwrite(a, b"11", Some(6)));
        assert_eq!((log.record(a).value(), log.record(a).expires_at()), (&b"11"[..], Some(6)));
        assert!(!log.overwrite(a, b"100", Some(6)), "a longer value needs a new record");
        assert!(log.set_expiry_in_place(a, None));
        assert_eq!(log.record(a).expires_at(), None);
    }

    #[test]
    fn jumbo_values_are_shared() {
        let mut log = Log::default();
        let value = vec![1u8; JUMBO_RECORD + 10];
        let a = log.append_string(Queue::Main, b"big", &value, None).unwrap();
        assert_eq!(log.record(a).value(), &value[..]);
        assert_eq!(log.shared_value(a).as_deref(), Some(&value[..]));
    }

    #[test]
    fn dead_segments_are_released() {
        let mut log = Log::default();
        let value = vec![0u8; 1000];
        let locs: Vec<Loc> = (0..200)
            .map(|i| log.append_string(Queue::Main, format!("{i}").as_bytes(), &value, None).unwrap())
            .collect();
        assert!(log.segment_count() >= 3);
        let before = log.footprint();
        for &l in &locs[..100] {
            log.kill(l);
        }
        assert!(log.footprint() < before, "a fully dead segment goes back to the allocator");
        let live: usize = log.fifo(Queue::Main).order.iter().map(|&id| log.segment(id).records().count()).sum();
        assert_eq!(live, 100);
    }

    #[test]
    fn take_oldest_walks_in_write_order() {
        let mut log = Log::default();
        let value = vec![0u8; 10_000];
        for i in 0..20 {
            log.append_string(Queue::Main, format!("k{i}").as_bytes(), &value, None).unwrap();
        }
        let (_, oldest) = log.take_oldest(Queue::Main).unwrap();
        let first = oldest.records().next().map(|(_, r)| r.key().to_vec());
        assert_eq!(first.as_deref(), Some(&b"k0"[..]));
    }
}
