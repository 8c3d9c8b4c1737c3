//! Key hashes computed ahead of a batch of commands, for a slot-sharded
//! table (cluster mode), whose hash of a key includes the key's CRC16 hash
//! slot (see `Table::hash`).
//!
//! A worker's prefetch pass hashes the keys of the commands it is about to
//! run (`net::connection`); remembered here, the routing check and the
//! table lookups of those commands take the hash instead of computing the
//! CRC16 and the hash again. Entries name keys by address and length in
//! the connection's input buffer, which does not change while the batch
//! runs, and are forgotten when it ends ([`Batch`]), before the buffer can
//! be refilled: a key elsewhere (a script's arguments, a key a command
//! builds) cannot have the address of one in the live buffer, so it is
//! simply not found. Only cluster mode uses it.

use std::cell::RefCell;

/// Keys remembered per batch (as many as the prefetch pass looks ahead).
const ENTRIES: usize = 16;

#[derive(Default)]
struct Memo {
    /// (address, length, hash) of each key.
    keys: [(usize, usize, u64); ENTRIES],
    len: usize,
    /// Where the last key was found: commands run in the order their
    /// keys were remembered, and the routing check and the lookup ask for
    /// the same key in turn, so a search starts there.
    hint: usize,
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::default();
}

/// Remember `key`'s hash for the rest of this thread's batch.
pub fn remember(key: &[u8], hash: u64) {
    MEMO.with(|memo| {
        let mut memo = memo.borrow_mut();
        if memo.len < ENTRIES {
            let at = memo.len;
            memo.keys[at] = (key.as_ptr() as usize, key.len(), hash);
            memo.len += 1;
        }
    });
}

/// The hash remembered for `key` (the same bytes at the same address).
pub fn recall(key: &[u8]) -> Option<u64> {
    let (address, len) = (key.as_ptr() as usize, key.len());
    MEMO.with(|memo| {
        let mut memo = memo.borrow_mut();
        let is_key = |&(a, l, _): &(usize, usize, u64)| a == address && l == len;
        let (hint, keys) = (memo.hint, &memo.keys[..memo.len]);
        let at = match keys.get(hint..).and_then(|after| after.iter().take(2).position(is_key)) {
            Some(offset) => hint + offset,
            None => keys.iter().position(is_key)?,
        };
        memo.hint = at;
        Some(memo.keys[at].2)
    })
}

/// One batch of commands of one connection: what it remembers is
/// forgotten when it is dropped.
pub struct Batch;

impl Drop for Batch {
    fn drop(&mut self) {
        MEMO.with(|memo| {
            let mut memo = memo.borrow_mut();
            memo.len = 0;
            memo.hint = 0;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_known_by_address_for_one_batch() {
        let buffer = b"foo foo".to_vec();
        let (first, second) = (&buffer[0..3], &buffer[4..7]);
        {
            let _batch = Batch;
            remember(first, 42);
            assert_eq!(recall(first), Some(42));
            assert_eq!(recall(second), None, "the same bytes elsewhere");
            assert_eq!(recall(&buffer[0..2]), None, "another length");
        }
        assert_eq!(recall(first), None, "forgotten after the batch");
    }
}
