//! Resumable scans over a hashbrown table, bucket by bucket: the machinery
//! of SCAN (over each shard's index) and HSCAN (over a large hash).
//!
//! A position is a bucket index. A table that is rebuilt (grown, or
//! rehashed in place to clear tombstones) moves its entries between
//! buckets, so every scanned table keeps a *layout* counter, bumped by
//! [`reserve_one`], the one place where such a table may be rebuilt, and a
//! cursor carries the layout its position belongs to. A cursor issued
//! under another layout starts the table over: an entry present for the
//! whole scan is returned at least once (perhaps twice), as Redis promises.

use hashbrown::HashTable;

/// Bits of a cursor's bucket position.
const POSITION_BITS: u32 = 40;
/// Bits of a cursor's layout (the layout counter, modulo 256).
const LAYOUT_BITS: u32 = 8;
/// The bits above these are the caller's (SCAN keeps the shard there).
pub const TAG_SHIFT: u32 = POSITION_BITS + LAYOUT_BITS;

/// Where a scan of one table resumes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    layout: u32,
    position: usize,
}

impl Cursor {
    /// The start of a table.
    pub const START: Cursor = Cursor { layout: 0, position: 0 };

    /// The cursor in the low [`TAG_SHIFT`] bits of a client's cursor.
    pub fn from_bits(bits: u64) -> Cursor {
        let position = bits & ((1 << POSITION_BITS) - 1);
        let layout = (bits >> POSITION_BITS) & ((1 << LAYOUT_BITS) - 1);
        Cursor { layout: layout as u32, position: position as usize }
    }

    pub fn to_bits(self) -> u64 {
        (u64::from(self.layout) << POSITION_BITS) | self.position as u64
    }
}

fn masked(layout: u32) -> u32 {
    layout & ((1 << LAYOUT_BITS) - 1)
}

/// Make room for one more entry, bumping `layout` if that rebuilds the
/// table. Call it before every insert into a scanned table, so the insert
/// itself never rebuilds it unseen.
pub fn reserve_one<T>(table: &mut HashTable<T>, layout: &mut u32, hasher: impl Fn(&T) -> u64) {
    if table.capacity() == table.len() {
        table.reserve(1, hasher);
        *layout = layout.wrapping_add(1);
    }
}

/// Visit the buckets of `table` (whose layout is `layout`) from `cursor`,
/// calling `f` with each entry, until `f` has counted `count` of them (it
/// returns whether an entry counts). Returns where to resume, or None when
/// the table is done.
pub fn scan<'t, T>(
    table: &'t HashTable<T>,
    layout: u32,
    cursor: Cursor,
    count: usize,
    mut f: impl FnMut(&'t T) -> bool,
) -> Option<Cursor> {
    let mut bucket = if cursor.layout == masked(layout) { cursor.position } else { 0 };
    let buckets = table.num_buckets();
    let mut seen = 0;
    while bucket < buckets && seen < count {
        if let Some(entry) = table.get_bucket(bucket) {
            seen += usize::from(f(entry));
        }
        bucket += 1;
    }
    (bucket < buckets).then_some(Cursor { layout: masked(layout), position: bucket })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_keep_the_layout_modulo_256() {
        let cursor = Cursor { layout: masked(300), position: 12345 };
        assert_eq!(Cursor::from_bits(cursor.to_bits()), cursor);
        assert_eq!(Cursor::from_bits(cursor.to_bits() | (7 << TAG_SHIFT)), cursor, "the tag bits are the caller's");
    }

    #[test]
    fn a_scan_resumes_under_a_layout_past_256() {
        // The layout counter passes 255: a cursor (which keeps 8 bits of
        // it) must still resume rather than start over every time.
        let hasher = |n: &u64| n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut table = HashTable::new();
        let mut layout = 1000;
        for n in 0..1000u64 {
            reserve_one(&mut table, &mut layout, hasher);
            table.insert_unique(hasher(&n), n, hasher);
        }
        let (mut seen, mut cursor, mut steps) = (Vec::new(), Cursor::START, 0);
        while let Some(next) = scan(&table, layout, cursor, 10, |n| {
            seen.push(*n);
            true
        }) {
            cursor = next;
            steps += 1;
            assert!(steps < 1000, "the scan does not progress");
        }
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 1000);
    }
}
