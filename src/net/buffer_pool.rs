//! Preallocated I/O buffers, one pool per worker thread.
//!
//! A connection holds a read buffer and a reply buffer only while it has
//! bytes in flight; once everything it sent has been answered it hands both
//! back. Ten thousand idle clients therefore cost ten thousand small
//! structs, not twenty thousand buffers, and a busy connection reuses warm
//! memory instead of calling the allocator per request.
//!
//! Read buffers are kept initialised to their full length (sockets read
//! into `&mut [u8]`), so each is zero-filled once in its life, not per use.
//! Buffers that grew past the standard size for a large request are freed
//! rather than pooled, so the pool's footprint stays `count * size`.

pub struct BufferPool {
    size: usize,
    capacity: usize,
    reads: Vec<Vec<u8>>,
    writes: Vec<Vec<u8>>,
}

impl BufferPool {
    /// A pool keeping up to `count` buffers of each kind, `size` bytes each,
    /// all allocated up front.
    pub fn new(count: usize, size: usize) -> Self {
        Self {
            size,
            capacity: count,
            reads: (0..count).map(|_| vec![0; size]).collect(),
            writes: (0..count).map(|_| Vec::with_capacity(size)).collect(),
        }
    }

    /// The standard buffer size.
    pub fn buffer_size(&self) -> usize {
        self.size
    }

    /// A zero-initialised read buffer of at least the standard size.
    pub fn take_read(&mut self) -> Vec<u8> {
        self.reads.pop().unwrap_or_else(|| vec![0; self.size])
    }

    /// An empty reply buffer with the standard capacity.
    pub fn take_write(&mut self) -> Vec<u8> {
        self.writes.pop().unwrap_or_else(|| Vec::with_capacity(self.size))
    }

    /// Take back a read buffer. One that grew for a large request is freed
    /// and replaced by a standard one, so the pool (and the memory counted
    /// as the server's start-up footprint) stays the same size.
    pub fn give_read(&mut self, buf: Vec<u8>) {
        if self.reads.len() < self.capacity {
            self.reads.push(if buf.len() == self.size { buf } else { vec![0; self.size] });
        }
    }

    pub fn give_write(&mut self, mut buf: Vec<u8>) {
        if self.writes.len() < self.capacity {
            if buf.capacity() == self.size {
                buf.clear();
                self.writes.push(buf);
            } else {
                self.writes.push(Vec::with_capacity(self.size));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_standard_buffers_and_replaces_grown_ones() {
        let mut pool = BufferPool::new(1, 64);
        let read = pool.take_read();
        assert_eq!(read.len(), 64);
        let ptr = read.as_ptr();
        pool.give_read(read);
        let again = pool.take_read();
        assert_eq!(again.as_ptr(), ptr, "the same buffer comes back");
        let mut grown = pool.take_write();
        grown.extend_from_slice(&[1; 200]);
        let grown_ptr = grown.as_ptr();
        pool.give_write(grown);
        let replacement = pool.take_write();
        assert_eq!(replacement.capacity(), 64, "a grown buffer is replaced by a standard one");
        assert_ne!(replacement.as_ptr(), grown_ptr);
    }
}
