//! The list type: a sequence of byte strings, pushed and popped at both
//! ends in O(1), read and changed in the middle without copying it.
//!
//! Two encodings, switched as Redis 7.2 switches them and reported by
//! `OBJECT ENCODING` under Redis's names:
//!
//! - `listpack`: a small list is one packed [`Chunk`], its elements back to
//!   back in one byte vector (a 10-element list of 32-byte strings is one
//!   384-byte allocation).
//! - `quicklist`: once the list outgrows one node (`list-max-listpack-size`:
//!   8 KB by default, or a number of elements), it becomes a deque of
//!   chunks, each at most one node's worth. Pushes and pops touch an end
//!   chunk; an index walks the chunks' counts from the nearer end, then
//!   the entries of one chunk.
//!
//! An element is stored as `header | bytes | trailer`, the trailer being
//! the header's bytes reversed, so a chunk can be walked from either end
//! (the role of a listpack's back-length):
//!
//! ```text
//! length < 128:     [len]                      (1 byte each side)
//! length < 16384:   [0b10hhhhhh, low byte]     (2 bytes each side)
//! longer:           [0xC0, u32 little-endian]  (5 bytes each side)
//! ```
//!
//! Memory is counted by jemalloc size class: a chunk grows to exactly the
//! size class its bytes need, and the quicklist keeps the total of its
//! chunks in step as they change, so [`List::memory`] is O(1).

use std::collections::VecDeque;
use std::ops::Range;

use super::prefetch::prefetch_lines;
use crate::memory::size_class;

/// Lines of a packed list asked for ahead of a command.
const PREFETCH_LINES: usize = 4;

/// What a listpack adds to its entries (6-byte header, 1-byte end): chunk
/// sizes are compared with the node limit as Redis compares `lpBytes`.
const LISTPACK_OVERHEAD: usize = 7;

/// The node sizes of negative `list-max-listpack-size` values (-1 .. -5).
const SIZE_LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

/// With a positive (count) fill, a node never grows past this many bytes.
const SIZE_SAFETY_LIMIT: usize = 8192;

/// Redis's `list-max-listpack-size`: negative, a node's size in bytes by
/// level (-2: 8 KB); positive, its number of elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill(pub i64);

impl Default for Fill {
    fn default() -> Self {
        Fill(-2)
    }
}

impl Fill {
    /// Whether a node of `bytes` (listpack-sized) and `count` elements is
    /// over the limit (Redis's `quicklistNodeExceedsLimit`).
    pub fn exceeded_by(self, bytes: usize, count: usize) -> bool {
        match self.0 {
            fill if fill < 0 => bytes > self.size_limit(),
            fill => bytes > SIZE_SAFETY_LIMIT || count > (fill.max(1) as usize),
        }
    }

    fn size_limit(self) -> usize {
        let level = usize::try_from(self.0.unsigned_abs().saturating_sub(1)).unwrap_or(usize::MAX);
        SIZE_LEVELS[level.min(SIZE_LEVELS.len() - 1)]
    }

    /// Whether a quicklist of one node this size may go back to a listpack
    /// (half the limit, so that a list at the edge does not flip on every
    /// push and pop).
    fn fits_half(self, bytes: usize, count: usize) -> bool {
        match self.0 {
            fill if fill < 0 => bytes <= self.size_limit() / 2,
            fill => bytes <= SIZE_SAFETY_LIMIT / 2 && count <= (fill.max(1) as usize) / 2,
        }
    }

    /// An element this long gets a node of its own.
    fn is_large(self, len: usize) -> bool {
        match self.0 {
            fill if fill < 0 => len > self.size_limit(),
            _ => len > SIZE_SAFETY_LIMIT,
        }
    }
}

/// Which end of the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

// ---------------------------------------------------------------------------
// The entry codec
// ---------------------------------------------------------------------------

/// Bytes of an element's header (and of its trailer).
fn header_len(len: usize) -> usize {
    match len {
        0..0x80 => 1,
        0x80..0x4000 => 2,
        _ => 5,
    }
}

/// Bytes an element takes in a chunk.
fn entry_len(len: usize) -> usize {
    2 * header_len(len) + len
}

/// Write `value` as an entry into `buf`, which is [`entry_len`] long.
fn write_entry(buf: &mut [u8], value: &[u8]) {
    let len = value.len();
    let mut header = [0u8; 5];
    let size = header_len(len);
    match size {
        1 => header[0] = len as u8,
        2 => header[..2].copy_from_slice(&[0x80 | (len >> 8) as u8, len as u8]),
        _ => {
            header[0] = 0xC0;
            header[1..].copy_from_slice(&(len as u32).to_le_bytes());
        }
    }
    buf[..size].copy_from_slice(&header[..size]);
    buf[size..size + len].copy_from_slice(value);
    let trailer = &mut buf[size + len..];
    trailer.iter_mut().zip(header[..size].iter().rev()).for_each(|(t, h)| *t = *h);
}

/// Decode a header whose `i`-th byte is `byte(i)`: the element's length
/// and the header's size.
fn decode_header(byte: impl Fn(usize) -> u8) -> (usize, usize) {
    match byte(0) {
        b if b < 0x80 => (usize::from(b), 1),
        b if b & 0xC0 == 0x80 => ((usize::from(b & 0x3F) << 8) | usize::from(byte(1)), 2),
        _ => (u32::from_le_bytes([byte(1), byte(2), byte(3), byte(4)]) as usize, 5),
    }
}

/// The element whose entry starts at `at`: its bytes' range and where the
/// next entry starts.
fn entry_at(data: &[u8], at: usize) -> (Range<usize>, usize) {
    let (len, size) = decode_header(|i| data[at + i]);
    (at + size..at + size + len, at + 2 * size + len)
}

/// The element whose entry ends at `end`: its bytes' range and where its
/// entry starts.
fn entry_before(data: &[u8], end: usize) -> (Range<usize>, usize) {
    let (len, size) = decode_header(|i| data[end - 1 - i]);
    let start = end - 2 * size - len;
    (start + size..start + size + len, start)
}

// ---------------------------------------------------------------------------
// Chunks
// ---------------------------------------------------------------------------

/// A packed run of elements: a whole small list, or one quicklist node.
#[derive(Clone, Default)]
struct Chunk {
    data: Vec<u8>,
    count: u32,
}

impl Chunk {
    fn with(values: &[&[u8]]) -> Chunk {
        let mut chunk = Chunk::default();
        values.iter().for_each(|v| chunk.insert(chunk.data.len(), v));
        chunk
    }

    fn len(&self) -> usize {
        self.count as usize
    }

    fn memory(&self) -> usize {
        size_class(self.data.capacity())
    }

    /// Its size as Redis sizes a listpack with these entries.
    fn packed_bytes(&self) -> usize {
        self.data.len() + LISTPACK_OVERHEAD
    }

    fn iter(&self) -> ChunkIter<'_> {
        ChunkIter { data: &self.data, front: 0, back: self.data.len(), left: self.len() }
    }

    /// Where the `index`-th entry starts, walking from the nearer end.
    fn offset(&self, index: usize) -> usize {
        if index <= self.len() / 2 {
            (0..index).fold(0, |at, _| entry_at(&self.data, at).1)
        } else {
            (index..self.len()).fold(self.data.len(), |end, _| entry_before(&self.data, end).1)
        }
    }

    fn element(&self, at: usize) -> &[u8] {
        &self.data[entry_at(&self.data, at).0]
    }

    /// Make room for `extra` more bytes, growing to exactly a size class.
    fn reserve(&mut self, extra: usize) {
        let needed = self.data.len() + extra;
        if needed > self.data.capacity() {
            self.data.reserve_exact(size_class(needed) - self.data.len());
        }
    }

    /// Give back a size class the entries no longer need.
    fn shrink(&mut self) {
        let class = size_class(self.data.len());
        if class < self.data.capacity() {
            self.data.shrink_to(class);
        }
    }

    /// Replace the bytes `at..at + old` with an entry for `value`.
    fn splice(&mut self, at: usize, old: usize, value: &[u8]) {
        let new = entry_len(value.len());
        let end = self.data.len();
        if new > old {
            self.reserve(new - old);
            self.data.resize(end + new - old, 0);
            self.data.copy_within(at + old..end, at + new);
        } else if new < old {
            self.data.copy_within(at + old..end, at + new);
            self.data.truncate(end - (old - new));
            self.shrink();
        }
        write_entry(&mut self.data[at..at + new], value);
    }

    /// Insert `value` as an entry starting at byte `at`.
    fn insert(&mut self, at: usize, value: &[u8]) {
        self.splice(at, 0, value);
        self.count += 1;
    }

    /// Replace the entry starting at `at`.
    fn replace(&mut self, at: usize, value: &[u8]) {
        let old = entry_at(&self.data, at).1 - at;
        self.splice(at, old, value);
    }

    /// Remove `n` entries from the front or the back.
    fn remove_end(&mut self, end: End, n: usize) {
        match end {
            End::Left => {
                let cut = self.offset(n);
                self.data.drain(..cut);
            }
            End::Right => {
                let cut = self.offset(self.len() - n);
                self.data.truncate(cut);
            }
        }
        self.count -= n as u32;
        self.shrink();
    }

    /// Keep the elements `keep` accepts; returns how many went.
    fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) -> usize {
        let mut data = Vec::with_capacity(self.data.len());
        let mut kept = 0;
        let mut at = 0;
        while at < self.data.len() {
            let (element, next) = entry_at(&self.data, at);
            if keep(&self.data[element]) {
                data.extend_from_slice(&self.data[at..next]);
                kept += 1;
            }
            at = next;
        }
        let removed = self.len() - kept;
        if removed > 0 {
            self.data.clear();
            self.reserve(data.len());
            self.data.extend_from_slice(&data);
            self.count = kept as u32;
            self.shrink();
        }
        removed
    }

    /// Split off the entries from `index` on into a new chunk.
    fn split_off(&mut self, index: usize) -> Chunk {
        let at = self.offset(index);
        let mut tail = Chunk { data: Vec::new(), count: (self.len() - index) as u32 };
        tail.reserve(self.data.len() - at);
        tail.data.extend_from_slice(&self.data[at..]);
        self.data.truncate(at);
        self.count = index as u32;
        self.shrink();
        tail
    }
}

/// A chunk's elements, from either end.
#[derive(Clone)]
pub struct ChunkIter<'a> {
    data: &'a [u8],
    front: usize,
    back: usize,
    left: usize,
}

impl<'a> Iterator for ChunkIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let (element, next) = entry_at(self.data, self.front);
        self.front = next;
        self.left -= 1;
        Some(&self.data[element])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for ChunkIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let (element, start) = entry_before(self.data, self.back);
        self.back = start;
        self.left -= 1;
        Some(&self.data[element])
    }
}

// ---------------------------------------------------------------------------
// The list
// ---------------------------------------------------------------------------

/// The large encoding: chunks, with their total element count and memory.
#[derive(Clone, Default)]
struct Quick {
    chunks: VecDeque<Chunk>,
    len: usize,
    /// Bytes of the chunks' buffers, by size class.
    chunk_bytes: usize,
}

#[derive(Clone)]
enum Encoding {
    Packed(Chunk),
    Quick(Box<Quick>),
}

/// A list value.
#[derive(Clone)]
pub struct List {
    encoding: Encoding,
}

impl Default for List {
    fn default() -> Self {
        List { encoding: Encoding::Packed(Chunk::default()) }
    }
}

impl List {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        match &self.encoding {
            Encoding::Packed(chunk) => chunk.len(),
            Encoding::Quick(quick) => quick.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Redis's name for the encoding (`OBJECT ENCODING`).
    pub fn encoding(&self) -> &'static str {
        match self.encoding {
            Encoding::Packed(_) => "listpack",
            Encoding::Quick(_) => "quicklist",
        }
    }

    /// Bytes the list holds, by allocator size class.
    pub fn memory(&self) -> usize {
        let own = std::mem::size_of::<List>();
        match &self.encoding {
            Encoding::Packed(chunk) => own + chunk.memory(),
            Encoding::Quick(quick) => {
                own + size_class(std::mem::size_of::<Quick>())
                    + size_class(quick.chunks.capacity() * std::mem::size_of::<Chunk>())
                    + quick.chunk_bytes
            }
        }
    }

    /// Start loading the first lines of the list's head.
    pub fn prefetch(&self) {
        if let Some(chunk) = self.chunks().next() {
            prefetch_lines(&chunk.data, PREFETCH_LINES);
        }
    }

    fn chunks(&self) -> impl DoubleEndedIterator<Item = &Chunk> + Clone {
        let (one, many) = match &self.encoding {
            Encoding::Packed(chunk) => (Some(chunk), None),
            Encoding::Quick(quick) => (None, Some(quick.chunks.iter())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    /// Every element, head to tail (`.rev()` for tail to head).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + Clone {
        self.chunks().flat_map(Chunk::iter)
    }

    /// The elements from `index` on, skipping whole chunks by their counts.
    pub fn iter_from(&self, index: usize) -> impl Iterator<Item = &[u8]> {
        let mut chunks = self.chunks();
        let mut skip = index;
        let mut first = None;
        for chunk in chunks.by_ref() {
            if skip < chunk.len() {
                first = Some(chunk.iter().skip(skip));
                break;
            }
            skip -= chunk.len();
        }
        let done = first.is_none();
        first.into_iter().flatten().chain(chunks.filter(move |_| !done).flat_map(Chunk::iter))
    }

    /// The element at `index` (from the head), if there is one.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let (chunk, at) = self.locate(index)?;
        let chunk = self.chunks().nth(chunk)?;
        Some(chunk.element(at))
    }

    /// The chunk holding element `index`, walking from the nearer end, and
    /// the byte offset of its entry there.
    fn locate(&self, index: usize) -> Option<(usize, usize)> {
        let len = self.len();
        if index >= len {
            return None;
        }
        let mut first = 0;
        let mut position = 0;
        if index < len / 2 {
            for chunk in self.chunks() {
                if index < first + chunk.len() {
                    return Some((position, chunk.offset(index - first)));
                }
                first += chunk.len();
                position += 1;
            }
        } else {
            let (mut last, mut position) = (len, self.chunk_count());
            for chunk in self.chunks().rev() {
                last -= chunk.len();
                position -= 1;
                if index >= last {
                    return Some((position, chunk.offset(index - last)));
                }
            }
        }
        None
    }

    fn chunk_count(&self) -> usize {
        match &self.encoding {
            Encoding::Packed(_) => 1,
            Encoding::Quick(quick) => quick.chunks.len(),
        }
    }

    /// Change chunk `position`, keeping the counts and memory in step; a
    /// chunk left empty is dropped. `f` returns its result and the change
    /// in the element count.
    fn edit<R>(&mut self, position: usize, f: impl FnOnce(&mut Chunk) -> (R, isize)) -> R {
        match &mut self.encoding {
            Encoding::Packed(chunk) => f(chunk).0,
            Encoding::Quick(quick) => {
                let Some(chunk) = quick.chunks.get_mut(position) else { unreachable!("chunk {position} exists") };
                let before = chunk.memory();
                let (result, delta) = f(chunk);
                let after = chunk.memory();
                let empty = chunk.len() == 0;
                quick.chunk_bytes = quick.chunk_bytes - before + after;
                quick.len = quick.len.wrapping_add_signed(delta);
                if empty {
                    quick.chunks.remove(position);
                }
                result
            }
        }
    }

    /// Add a chunk to a quicklist at `position`.
    fn add_chunk(quick: &mut Quick, position: usize, chunk: Chunk) {
        quick.chunk_bytes += chunk.memory();
        quick.len += chunk.len();
        quick.chunks.insert(position, chunk);
    }

    /// Turn a listpack that `value`, added, would take past the node limit
    /// into a quicklist (Redis's `listTypeTryConversionAppend`). LSET
    /// calls it before replacing, as Redis 7.2+ does, so a full listpack
    /// becomes a quicklist even though its length stays the same (and
    /// even if the index is out of range).
    pub fn make_room_for(&mut self, value: &[u8], fill: Fill) {
        if let Encoding::Packed(chunk) = &self.encoding {
            if fill.exceeded_by(chunk.packed_bytes() + value.len(), chunk.len() + 1) {
                self.unpack();
            }
        }
    }

    /// Push at one end.
    pub fn push(&mut self, end: End, value: &[u8], fill: Fill) {
        self.make_room_for(value, fill);
        let last = self.chunk_count().saturating_sub(1);
        let position = if end == End::Left { 0 } else { last };
        if let Encoding::Quick(quick) = &mut self.encoding {
            let fits = quick.chunks.get(position).is_some_and(|c| {
                !fill.is_large(value.len()) && !fill.exceeded_by(c.packed_bytes() + entry_len(value.len()), c.len() + 1)
            });
            if !fits {
                let at = if end == End::Left { 0 } else { quick.chunks.len() };
                return Self::add_chunk(quick, at, Chunk::with(&[value]));
            }
        }
        self.edit(position, |chunk| {
            let at = if end == End::Left { 0 } else { chunk.data.len() };
            chunk.insert(at, value);
            ((), 1)
        });
    }

    /// Pop one element from an end.
    pub fn pop(&mut self, end: End, fill: Fill) -> Option<Vec<u8>> {
        let value = match end {
            End::Left => self.iter().next()?.to_vec(),
            End::Right => self.iter().next_back()?.to_vec(),
        };
        self.remove_end(end, 1, fill);
        Some(value)
    }

    /// Remove `n` elements (at most all) from an end.
    pub fn remove_end(&mut self, end: End, n: usize, fill: Fill) {
        let mut left = n.min(self.len());
        while left > 0 {
            let position = if end == End::Left { 0 } else { self.chunk_count().saturating_sub(1) };
            let take = self.chunks().nth(position).map_or(0, |c| c.len().min(left));
            self.edit(position, |chunk| {
                chunk.remove_end(end, take);
                ((), -(take as isize))
            });
            left -= take;
        }
        self.shrunk(fill);
    }

    /// Keep only the elements `start..=stop` (already clamped).
    pub fn trim(&mut self, start: usize, stop: usize, fill: Fill) {
        let len = self.len();
        self.remove_end(End::Right, len.saturating_sub(stop + 1), fill);
        self.remove_end(End::Left, start, fill);
    }

    /// Replace the element at `index`; false if there is none.
    pub fn set(&mut self, index: usize, value: &[u8], fill: Fill) -> bool {
        let Some((position, at)) = self.locate(index) else { return false };
        self.edit(position, |chunk| (chunk.replace(at, value), 0));
        self.split_if_over(position, fill);
        self.shrunk(fill);
        true
    }

    /// Insert `value` so that it becomes element `index` (`len`: at the
    /// tail).
    pub fn insert(&mut self, index: usize, value: &[u8], fill: Fill) {
        if index >= self.len() {
            return self.push(End::Right, value, fill);
        }
        if index == 0 {
            return self.push(End::Left, value, fill);
        }
        let Some((position, at)) = self.locate(index) else { return };
        self.edit(position, |chunk| (chunk.insert(at, value), 1));
        self.split_if_over(position, fill);
    }

    /// Remove up to `limit` elements equal to `value` (0: all), from the
    /// head or (`from_tail`) from the tail; returns how many went.
    pub fn remove_matching(&mut self, value: &[u8], limit: usize, from_tail: bool, fill: Fill) -> usize {
        let mut left = if limit == 0 { usize::MAX } else { limit };
        let mut removed = 0;
        let positions: Vec<usize> =
            if from_tail { (0..self.chunk_count()).rev().collect() } else { (0..self.chunk_count()).collect() };
        for position in positions {
            if left == 0 {
                break;
            }
            let Some(chunk) = self.chunks().nth(position) else { continue };
            let matches = chunk.iter().filter(|e| *e == value).count();
            if matches == 0 {
                continue;
            }
            // From the tail, the last `left` matches of the chunk go.
            let mut skip = if from_tail { matches.saturating_sub(left) } else { 0 };
            let mut budget = left;
            let gone = self.edit(position, |chunk| {
                let gone = chunk.retain(|e| {
                    if e != value || budget == 0 {
                        return true;
                    }
                    if skip > 0 {
                        skip -= 1;
                        return true;
                    }
                    budget -= 1;
                    false
                });
                (gone, -(gone as isize))
            });
            removed += gone;
            left -= gone;
        }
        self.shrunk(fill);
        removed
    }

    /// Turn a listpack into a quicklist of one node.
    fn unpack(&mut self) {
        let Encoding::Packed(chunk) = &mut self.encoding else { return };
        let chunk = std::mem::take(chunk);
        let mut quick = Quick::default();
        if chunk.len() > 0 {
            Self::add_chunk(&mut quick, 0, chunk);
        }
        self.encoding = Encoding::Quick(Box::new(quick));
    }

    /// After a removal: a quicklist down to one node of half the limit
    /// becomes a listpack again (Redis's shrinking conversion).
    fn shrunk(&mut self, fill: Fill) {
        let Encoding::Quick(quick) = &mut self.encoding else { return };
        let single = quick.chunks.len() <= 1;
        let small = quick.chunks.front().is_none_or(|c| fill.fits_half(c.packed_bytes(), c.len()));
        if single && small {
            let chunk = quick.chunks.pop_front().unwrap_or_default();
            self.encoding = Encoding::Packed(chunk);
        }
    }

    /// Split chunk `position` in halves while it is over the node limit
    /// (after an insert or a replace in the middle); a listpack over the
    /// limit becomes a quicklist first.
    fn split_if_over(&mut self, position: usize, fill: Fill) {
        let over = |c: &Chunk| c.len() > 1 && fill.exceeded_by(c.packed_bytes(), c.len());
        if let Encoding::Packed(chunk) = &self.encoding {
            if !over(chunk) {
                return;
            }
            self.unpack();
        }
        let Encoding::Quick(quick) = &mut self.encoding else { return };
        let mut position = position;
        while quick.chunks.get(position).is_some_and(over) {
            let Some(chunk) = quick.chunks.get_mut(position) else { break };
            let before = chunk.memory();
            let tail = chunk.split_off(chunk.len() / 2);
            quick.chunk_bytes = quick.chunk_bytes - before + chunk.memory();
            quick.len -= tail.len();
            let tail_over = over(&tail);
            Self::add_chunk(quick, position + 1, tail);
            if !quick.chunks.get(position).is_some_and(over) && tail_over {
                position += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Fill = Fill(4);

    fn contents(list: &List) -> Vec<Vec<u8>> {
        list.iter().map(<[u8]>::to_vec).collect()
    }

    fn numbered(n: usize, fill: Fill) -> List {
        let mut list = List::new();
        (0..n).for_each(|i| list.push(End::Right, i.to_string().as_bytes(), fill));
        list
    }

    #[test]
    fn entries_of_every_length_read_both_ways() {
        for len in [0, 1, 127, 128, 16383, 16384, 70000] {
            let value = vec![b'x'; len];
            let chunk = Chunk::with(&[b"a", &value, b"b"]);
            let forward: Vec<&[u8]> = chunk.iter().collect();
            let backward: Vec<&[u8]> = chunk.iter().rev().collect();
            assert_eq!(forward, [&b"a"[..], &value, b"b"]);
            assert_eq!(backward, [&b"b"[..], &value, b"a"]);
        }
    }

    #[test]
    fn push_pop_both_ends_and_convert() {
        let mut list = List::new();
        list.push(End::Right, b"b", SMALL);
        list.push(End::Left, b"a", SMALL);
        list.push(End::Right, b"c", SMALL);
        assert_eq!(contents(&list), [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(list.encoding(), "listpack");
        list.push(End::Right, b"d", SMALL);
        list.push(End::Right, b"e", SMALL);
        assert_eq!(list.encoding(), "quicklist");
        assert_eq!(list.pop(End::Left, SMALL), Some(b"a".to_vec()));
        assert_eq!(list.pop(End::Right, SMALL), Some(b"e".to_vec()));
        assert_eq!(list.pop(End::Right, SMALL), Some(b"d".to_vec()));
        assert_eq!(list.len(), 2);
        assert_eq!(list.encoding(), "listpack", "back under half the limit in one node");
    }

    #[test]
    fn index_set_insert_and_ranges_across_chunks() {
        let mut list = numbered(100, SMALL);
        assert_eq!(list.chunk_count(), 25);
        for i in 0..100 {
            assert_eq!(list.get(i), Some(i.to_string().as_bytes()));
        }
        assert_eq!(list.get(100), None);
        assert!(list.set(57, b"fifty-seven", SMALL));
        list.insert(10, b"new", SMALL);
        assert_eq!(list.get(10), Some(&b"new"[..]));
        assert_eq!(list.get(58), Some(&b"fifty-seven"[..]));
        assert_eq!(list.len(), 101);
        let tail: Vec<&[u8]> = list.iter_from(99).collect();
        assert_eq!(tail, [&b"98"[..], b"99"]);
        assert_eq!(list.iter_from(101).count(), 0);
        assert_eq!(list.iter().next_back(), Some(&b"99"[..]));
    }

    #[test]
    fn remove_matching_from_either_end() {
        let mut list = List::new();
        for v in [b"x", b"a", b"x", b"b", b"x", b"x"] {
            list.push(End::Right, v, SMALL);
        }
        assert_eq!(list.remove_matching(b"x", 2, true, SMALL), 2);
        assert_eq!(contents(&list), [b"x".to_vec(), b"a".to_vec(), b"x".to_vec(), b"b".to_vec()]);
        assert_eq!(list.remove_matching(b"x", 1, false, SMALL), 1);
        assert_eq!(contents(&list), [b"a".to_vec(), b"x".to_vec(), b"b".to_vec()]);
        assert_eq!(list.remove_matching(b"x", 0, false, SMALL), 1);
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn trim_and_memory_follow_the_contents() {
        let mut list = numbered(10_000, Fill::default());
        assert_eq!(list.encoding(), "quicklist");
        let full = list.memory();
        assert!(full > 10_000 * 4, "{full}");
        list.trim(100, 199, Fill::default());
        assert_eq!(list.len(), 100);
        assert_eq!(list.get(0), Some(&b"100"[..]));
        assert_eq!(list.encoding(), "listpack");
        assert!(list.memory() < full / 10);
    }

    #[test]
    fn a_large_element_gets_its_own_node() {
        let mut list = List::new();
        list.push(End::Right, b"a", Fill::default());
        list.push(End::Right, &[b'x'; 9000], Fill::default());
        list.push(End::Right, b"b", Fill::default());
        assert_eq!(list.encoding(), "quicklist");
        assert_eq!(list.chunk_count(), 3);
        assert_eq!(list.get(1).map(<[u8]>::len), Some(9000));
    }
}
