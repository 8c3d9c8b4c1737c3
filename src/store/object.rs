//! Typed values: what a key holds, and where collections live.
//!
//! A string stays inline in its shard's segment log (see `segment.rs`). A
//! collection lives out of line, in its shard's [`Objects`] arena, and its
//! record in the log holds the key and a 4-byte handle to it: commands
//! change a collection in place (an HSET on a million-field hash touches
//! one field), and the clock sweep moves the small record, never the
//! collection. Every collection type (hash, set, sorted set, list) joins
//! [`Object`] and [`Kind`] the same way.

use super::arena::Arena;
use super::hash::Hash;
use super::list::List;
use super::set::Set;
use super::zset::ZSet;

/// The type of a key's value, as `TYPE` names it. The discriminant is
/// stored in a record's flags (see `segment.rs`), so it must stay below 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    String = 0,
    Hash = 1,
    Set = 2,
    ZSet = 3,
    List = 4,
}

impl Kind {
    /// Every kind, by discriminant.
    pub const ALL: [Kind; 5] = [Kind::String, Kind::Hash, Kind::Set, Kind::ZSet, Kind::List];

    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::ZSet => "zset",
            Kind::List => "list",
        }
    }

    pub(crate) fn from_bits(bits: u8) -> Kind {
        Kind::ALL.iter().copied().find(|kind| *kind as u8 == bits).unwrap_or(Kind::String)
    }
}

/// A command met a key of another type (Redis's `WRONGTYPE` error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrongType;

/// A collection value.
#[derive(Clone)]
pub enum Object {
    Hash(Hash),
    Set(Set),
    ZSet(ZSet),
    List(List),
}

impl Object {
    pub fn kind(&self) -> Kind {
        match self {
            Object::Hash(_) => Kind::Hash,
            Object::Set(_) => Kind::Set,
            Object::ZSet(_) => Kind::ZSet,
            Object::List(_) => Kind::List,
        }
    }

    /// Bytes the collection holds (its value struct included: MEMORY
    /// USAGE).
    pub fn memory(&self) -> usize {
        match self {
            Object::Hash(hash) => hash.memory(),
            Object::Set(set) => set.memory(),
            Object::ZSet(zset) => zset.memory(),
            Object::List(list) => list.memory(),
        }
    }

    /// Bytes it holds outside its arena slot: [`Object::memory`] less the
    /// value struct, which the slot holds (the arena counts its slots).
    fn heap_memory(&self) -> usize {
        let inline = match self {
            Object::Hash(_) => std::mem::size_of::<Hash>(),
            Object::Set(_) => std::mem::size_of::<Set>(),
            Object::ZSet(_) => std::mem::size_of::<ZSet>(),
            Object::List(_) => std::mem::size_of::<List>(),
        };
        self.memory() - inline
    }

    /// Start loading the first lines of the collection's contents, for a
    /// command that will read them soon (see `store/prefetch.rs`).
    pub fn prefetch(&self) {
        match self {
            Object::Hash(hash) => hash.prefetch(),
            Object::Set(set) => set.prefetch(),
            Object::ZSet(zset) => zset.prefetch(),
            Object::List(list) => list.prefetch(),
        }
    }

    /// Elements (fields, members, items).
    pub fn len(&self) -> usize {
        match self {
            Object::Hash(hash) => hash.len(),
            Object::Set(set) => set.len(),
            Object::ZSet(zset) => zset.len(),
            Object::List(list) => list.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Redis's name for the encoding (`OBJECT ENCODING`).
    pub fn encoding(&self) -> &'static str {
        match self {
            Object::Hash(hash) => hash.encoding(),
            Object::Set(set) => set.encoding(),
            Object::ZSet(zset) => zset.encoding(),
            Object::List(list) => list.encoding(),
        }
    }

    /// Whether some element has a deadline of its own.
    pub fn is_volatile(&self) -> bool {
        match self {
            Object::Hash(hash) => hash.is_volatile(),
            Object::Set(_) => false,
            Object::ZSet(_) => false,
            Object::List(_) => false,
        }
    }

    /// Whether some element may have expired by `now`.
    pub fn needs_purge(&self, now: u64) -> bool {
        match self {
            Object::Hash(hash) => hash.needs_purge(now),
            Object::Set(_) => false,
            Object::ZSet(_) => false,
            Object::List(_) => false,
        }
    }

    /// Remove the elements that expired by `now`; returns how many.
    pub fn purge_expired(&mut self, now: u64) -> usize {
        match self {
            Object::Hash(hash) => hash.purge_expired(now),
            Object::Set(_) => 0,
            Object::ZSet(_) => 0,
            Object::List(_) => 0,
        }
    }
}

/// A collection type, as the table's generic paths see it
/// ([`super::EntryRef::collection`], [`super::SlotMut::update_collection`]):
/// its kind, and how to find it in (and wrap it as) an [`Object`]. With
/// this, a new type gets WRONGTYPE checks, creation on first write and
/// deletion when emptied from the table, without code of its own there.
pub trait Collection: Default + Into<Object> {
    const KIND: Kind;

    fn of(object: &Object) -> Option<&Self>;

    fn of_mut(object: &mut Object) -> Option<&mut Self>;
}

impl From<Hash> for Object {
    fn from(hash: Hash) -> Object {
        Object::Hash(hash)
    }
}

impl Collection for Hash {
    const KIND: Kind = Kind::Hash;

    fn of(object: &Object) -> Option<&Hash> {
        match object {
            Object::Hash(hash) => Some(hash),
            _ => None,
        }
    }

    fn of_mut(object: &mut Object) -> Option<&mut Hash> {
        match object {
            Object::Hash(hash) => Some(hash),
            _ => None,
        }
    }
}

impl From<Set> for Object {
    fn from(set: Set) -> Object {
        Object::Set(set)
    }
}

impl Collection for Set {
    const KIND: Kind = Kind::Set;

    fn of(object: &Object) -> Option<&Set> {
        match object {
            Object::Set(set) => Some(set),
            _ => None,
        }
    }

    fn of_mut(object: &mut Object) -> Option<&mut Set> {
        match object {
            Object::Set(set) => Some(set),
            _ => None,
        }
    }
}

/// The handle a collection's record holds: its slot in the arena.
pub type Handle = u32;

/// A shard's collections, with their memory and the number that hold
/// elements with deadlines kept in step as they change.
#[derive(Default)]
pub struct Objects {
    arena: Arena<Object>,
    /// What the collections allocate outside their slots.
    bytes: usize,
    volatile: usize,
}

impl Objects {
    pub fn insert(&mut self, object: Object) -> Handle {
        self.bytes += object.heap_memory();
        self.volatile += usize::from(object.is_volatile());
        self.arena.insert(object)
    }

    pub fn get(&self, handle: Handle) -> &Object {
        match self.arena.get(handle) {
            Some(object) => object,
            None => unreachable!("a record points at a freed collection"),
        }
    }

    /// Change a collection, keeping the arena's accounting in step.
    pub fn update<R>(&mut self, handle: Handle, f: impl FnOnce(&mut Object) -> R) -> R {
        let Some(object) = self.arena.get_mut(handle) else { unreachable!("a record points at a freed collection") };
        let (bytes, volatile) = (object.heap_memory(), object.is_volatile());
        let result = f(object);
        self.bytes = self.bytes - bytes + object.heap_memory();
        self.volatile = self.volatile - usize::from(volatile) + usize::from(object.is_volatile());
        result
    }

    /// Take a collection out. Large ones should be dropped with
    /// [`super::lazyfree::free`], off the caller's thread.
    pub fn remove(&mut self, handle: Handle) -> Object {
        let Some(object) = self.arena.remove(handle) else { unreachable!("a record points at a freed collection") };
        self.bytes -= object.heap_memory();
        self.volatile -= usize::from(object.is_volatile());
        object
    }

    /// Bytes held by all collections: the arena's pages and what the
    /// collections allocate (each counted once).
    pub fn memory(&self) -> usize {
        self.bytes + self.arena.memory()
    }

    /// No collection at all (each counts some bytes): a shard of strings
    /// only.
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// Collections with elements that have deadlines.
    pub fn volatile(&self) -> usize {
        self.volatile
    }
}

impl From<ZSet> for Object {
    fn from(zset: ZSet) -> Object {
        Object::ZSet(zset)
    }
}

impl Collection for ZSet {
    const KIND: Kind = Kind::ZSet;

    fn of(object: &Object) -> Option<&ZSet> {
        match object {
            Object::ZSet(zset) => Some(zset),
            _ => None,
        }
    }

    fn of_mut(object: &mut Object) -> Option<&mut ZSet> {
        match object {
            Object::ZSet(zset) => Some(zset),
            _ => None,
        }
    }
}

impl From<List> for Object {
    fn from(list: List) -> Object {
        Object::List(list)
    }
}

impl Collection for List {
    const KIND: Kind = Kind::List;

    fn of(object: &Object) -> Option<&List> {
        match object {
            Object::List(list) => Some(list),
            _ => None,
        }
    }

    fn of_mut(object: &mut Object) -> Option<&mut List> {
        match object {
            Object::List(list) => Some(list),
            _ => None,
        }
    }
}
