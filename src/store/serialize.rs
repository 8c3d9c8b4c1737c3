//! DUMP and RESTORE payloads: Redistill's own serialization of one key's
//! value (not Redis's RDB encoding, which Redistill has no use for).
//!
//! ```text
//! type (1 byte) | body | format version (u16 LE) | CRC-64/XZ (u64 LE)
//! ```
//!
//! The layout is Redis's (its payload also ends in an RDB version and a
//! CRC-64 over everything before it), so a payload is checked the same
//! way before its body is read: a wrong version or checksum is
//! [`DecodeError::Trailer`], a body that does not decode is
//! [`DecodeError::Body`]. Redis's own payloads are refused at the trailer
//! (another CRC polynomial, and RDB versions are above ours).
//!
//! Bodies, by type byte (lengths and counts are LEB128 varints):
//!
//! - [`TYPE_STRING`]: length, bytes.
//! - [`TYPE_HASH`]: field count, then per field: name length, name, value
//!   length, value, deadline (absolute unix ms, 0 for none).
//! - [`TYPE_SET`]: member count, then per member: length, bytes.
//! - [`TYPE_ZSET`]: member count, then per member in score order: length,
//!   bytes, score (f64 bits, LE).
//! - [`TYPE_LIST`]: element count, then per element, head first: length,
//!   bytes.
//!
//! A type that comes later gets a type byte of its own; an older server
//! answers Bad data format for a type it does not know. [`FORMAT_VERSION`] changes only if an existing
//! body changes.
//!
//! Decoding is total: every length and count is checked against the bytes
//! left (and strings against the server's size limit) before anything is
//! allocated, so any input gives an error or a valid value.

use crc::{Crc, CRC_64_XZ};

use super::hash::{Hash, PackLimits, MAX_FIELD_DEADLINE_MS};
use super::list::{End, Fill, List};
use super::object::Object;
use super::set::{Set, SetLimits};
use super::table::{EntryRef, OwnedValue};
use super::zset::ZSet;

/// The body format this server writes; it reads versions 1 to this.
pub const FORMAT_VERSION: u16 = 1;

pub const TYPE_STRING: u8 = 0;
pub const TYPE_HASH: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_LIST: u8 = 4;
/// A FUNCTION DUMP payload (never a key's value): a count, then each
/// library's whole text as length and bytes.
pub const TYPE_FUNCTIONS: u8 = 0xf5;

/// Version and checksum after the body.
const TRAILER_LEN: usize = 2 + 8;

/// The smallest bytes a hash field can take in a body: two empty lengths
/// and no deadline.
const MIN_FIELD_LEN: usize = 3;

const CHECKSUM: Crc<u64> = Crc::<u64>::new(&CRC_64_XZ);

/// Why a payload was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Too short, an unknown format version or a wrong checksum.
    Trailer,
    /// The checksum matches but the body is malformed.
    Body,
}

/// What a restored value may be: the server's limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The longest string (`proto-max-bulk-len`).
    pub max_string: u64,
    /// When a restored hash leaves its packed encoding.
    pub pack: PackLimits,
    /// When a restored set leaves its small encodings.
    pub set: SetLimits,
    /// When a restored sorted set leaves its packed encoding.
    pub zset: PackLimits,
    /// How full a restored list's nodes get.
    pub list: Fill,
}

/// The payload DUMP returns for a live entry.
pub fn dump(entry: &EntryRef<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    match entry.object() {
        None => {
            let value = entry.string().unwrap_or_default();
            out.push(TYPE_STRING);
            put_bytes(&mut out, value);
        }
        Some(Object::Hash(hash)) => {
            out.push(TYPE_HASH);
            put_hash(&mut out, hash);
        }
        Some(Object::Set(set)) => {
            out.push(TYPE_SET);
            put_set(&mut out, set);
        }
        Some(Object::ZSet(zset)) => {
            out.push(TYPE_ZSET);
            put_zset(&mut out, zset);
        }
        Some(Object::List(list)) => {
            out.push(TYPE_LIST);
            put_list(&mut out, list);
        }
    }
    seal(out)
}

/// Append the trailer (version and checksum) to a type byte and body.
pub fn seal(mut out: Vec<u8>) -> Vec<u8> {
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let sum = CHECKSUM.checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// The payload of FUNCTION DUMP: the libraries' texts.
pub fn dump_functions<'a>(texts: impl ExactSizeIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = vec![TYPE_FUNCTIONS];
    put_varint(&mut out, texts.len() as u64);
    for text in texts {
        put_bytes(&mut out, text);
    }
    seal(out)
}

/// The library texts of a FUNCTION RESTORE payload.
pub fn restore_functions(payload: &[u8]) -> Result<Vec<&[u8]>, DecodeError> {
    let mut reader = Reader { data: verify(payload)? };
    if reader.byte()? != TYPE_FUNCTIONS {
        return Err(DecodeError::Body);
    }
    let count = reader.varint()?;
    if count > reader.data.len() as u64 {
        return Err(DecodeError::Body);
    }
    let texts = (0..count).map(|_| reader.length_prefixed()).collect::<Result<Vec<_>, _>>()?;
    if !reader.data.is_empty() {
        return Err(DecodeError::Body);
    }
    Ok(texts)
}

fn put_hash(out: &mut Vec<u8>, hash: &Hash) {
    put_varint(out, hash.len() as u64);
    for field in hash.iter() {
        put_bytes(out, field.name);
        put_bytes(out, field.value);
        put_varint(out, field.deadline.unwrap_or(0));
    }
}

fn put_set(out: &mut Vec<u8>, set: &Set) {
    put_varint(out, set.len() as u64);
    for member in set.iter() {
        put_bytes(out, &member.to_vec());
    }
}

fn put_zset(out: &mut Vec<u8>, zset: &ZSet) {
    put_varint(out, zset.len() as u64);
    zset.walk(0, false, |member, score| {
        put_bytes(out, member);
        out.extend_from_slice(&score.to_bits().to_le_bytes());
        true
    });
}

fn put_list(out: &mut Vec<u8>, list: &List) {
    put_varint(out, list.len() as u64);
    list.iter().for_each(|element| put_bytes(out, element));
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// The type byte and body of a payload whose trailer is right.
pub fn verify(payload: &[u8]) -> Result<&[u8], DecodeError> {
    let Some(body_len) = payload.len().checked_sub(TRAILER_LEN).filter(|&n| n > 0) else {
        return Err(DecodeError::Trailer);
    };
    let (sealed, sum) = payload.split_at(payload.len() - 8);
    let version = u16::from_le_bytes([sealed[body_len], sealed[body_len + 1]]);
    if version == 0 || version > FORMAT_VERSION {
        return Err(DecodeError::Trailer);
    }
    let mut expected = [0u8; 8];
    expected.copy_from_slice(sum);
    if CHECKSUM.checksum(sealed) != u64::from_le_bytes(expected) {
        return Err(DecodeError::Trailer);
    }
    Ok(&payload[..body_len])
}

/// Decode a payload into the value to store. `Ok(None)`: the value is a
/// hash whose every field's deadline is already before `now`, so there is
/// nothing to store (fields that expired are dropped, the rest kept).
pub fn restore(payload: &[u8], now: u64, limits: Limits) -> Result<Option<OwnedValue>, DecodeError> {
    let mut reader = Reader { data: verify(payload)? };
    let value = match reader.byte()? {
        TYPE_STRING => Some(OwnedValue::String(read_string(&mut reader, limits)?)),
        TYPE_HASH => read_hash(&mut reader, now, limits)?.map(|hash| OwnedValue::Object(Object::Hash(hash))),
        TYPE_SET => Some(OwnedValue::Object(Object::Set(read_set(&mut reader, limits)?))),
        TYPE_ZSET => Some(OwnedValue::Object(Object::ZSet(read_zset(&mut reader, limits)?))),
        TYPE_LIST => Some(OwnedValue::Object(Object::List(read_list(&mut reader, limits)?))),
        _ => return Err(DecodeError::Body),
    };
    if !reader.data.is_empty() {
        return Err(DecodeError::Body);
    }
    Ok(value)
}

fn read_string(reader: &mut Reader<'_>, limits: Limits) -> Result<Vec<u8>, DecodeError> {
    let len = reader.varint()?;
    if len > limits.max_string {
        return Err(DecodeError::Body);
    }
    Ok(reader.bytes(len)?.to_vec())
}

fn read_hash(reader: &mut Reader<'_>, now: u64, limits: Limits) -> Result<Option<Hash>, DecodeError> {
    let count = reader.varint()?;
    if count == 0 || count > (reader.data.len() / MIN_FIELD_LEN) as u64 {
        return Err(DecodeError::Body);
    }
    let mut hash = Hash::new();
    for _ in 0..count {
        let name = reader.length_prefixed()?;
        let value = reader.length_prefixed()?;
        let deadline = match reader.varint()? {
            0 => None,
            at if at <= MAX_FIELD_DEADLINE_MS => Some(at),
            _ => return Err(DecodeError::Body),
        };
        if !hash.insert(name, value, deadline, limits.pack) {
            // A field twice: Redis refuses duplicates too.
            return Err(DecodeError::Body);
        }
    }
    hash.purge_expired(now);
    Ok((!hash.is_empty()).then_some(hash))
}

fn read_set(reader: &mut Reader<'_>, limits: Limits) -> Result<Set, DecodeError> {
    // Every member takes at least its length byte.
    let count = reader.varint()?;
    if count == 0 || count > reader.data.len() as u64 {
        return Err(DecodeError::Body);
    }
    let mut set = Set::new();
    for _ in 0..count {
        if !set.insert(reader.length_prefixed()?, limits.set) {
            return Err(DecodeError::Body);
        }
    }
    Ok(set)
}

fn read_zset(reader: &mut Reader<'_>, limits: Limits) -> Result<ZSet, DecodeError> {
    // Every member takes at least its length byte and its score.
    let count = reader.varint()?;
    if count == 0 || count > (reader.data.len() / 9) as u64 {
        return Err(DecodeError::Body);
    }
    let mut zset = ZSet::new();
    for _ in 0..count {
        let member = reader.length_prefixed()?;
        let mut bits = [0u8; 8];
        bits.copy_from_slice(reader.bytes(8)?);
        let score = f64::from_le_bytes(bits);
        if score.is_nan() || zset.insert(member, score, limits.zset).is_some() {
            return Err(DecodeError::Body);
        }
    }
    Ok(zset)
}

fn read_list(reader: &mut Reader<'_>, limits: Limits) -> Result<List, DecodeError> {
    // Every element takes at least its length byte.
    let count = reader.varint()?;
    if count == 0 || count > reader.data.len() as u64 {
        return Err(DecodeError::Body);
    }
    let mut list = List::new();
    for _ in 0..count {
        list.push(End::Right, reader.length_prefixed()?, limits.list);
    }
    Ok(list)
}

/// Reads a body front to back; every read checks the bytes left.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let (&first, rest) = self.data.split_first().ok_or(DecodeError::Body)?;
        self.data = rest;
        Ok(first)
    }

    /// A LEB128 u64: at most ten bytes, no bits past the 64th.
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(DecodeError::Body);
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::Body)
    }

    fn bytes(&mut self, len: u64) -> Result<&'a [u8], DecodeError> {
        let len = usize::try_from(len).ok().filter(|&n| n <= self.data.len()).ok_or(DecodeError::Body)?;
        let (bytes, rest) = self.data.split_at(len);
        self.data = rest;
        Ok(bytes)
    }

    fn length_prefixed(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.varint()?;
        self.bytes(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_string: 512 * 1024 * 1024,
        pack: PackLimits { entries: 4, value: 16 },
        set: SetLimits { intset_entries: 4, listpack_entries: 4, listpack_value: 16 },
        zset: PackLimits { entries: 4, value: 16 },
        list: Fill(-2),
    };
    const NOW: u64 = 1_700_000_000_000;

    fn string_payload(value: &[u8]) -> Vec<u8> {
        let mut out = vec![TYPE_STRING];
        put_bytes(&mut out, value);
        seal(out)
    }

    fn hash_payload(fields: &[(&[u8], &[u8], Option<u64>)]) -> Vec<u8> {
        let mut hash = Hash::new();
        for (name, value, deadline) in fields {
            hash.insert(name, value, *deadline, LIMITS.pack);
        }
        let mut out = vec![TYPE_HASH];
        put_hash(&mut out, &hash);
        seal(out)
    }

    fn payload_of(value: &OwnedValue) -> Vec<u8> {
        match value {
            OwnedValue::String(bytes) => string_payload(bytes),
            OwnedValue::Object(Object::Hash(hash)) => {
                let mut out = vec![TYPE_HASH];
                put_hash(&mut out, hash);
                seal(out)
            }
            OwnedValue::Object(Object::Set(set)) => {
                let mut out = vec![TYPE_SET];
                put_set(&mut out, set);
                seal(out)
            }
            OwnedValue::Object(Object::ZSet(zset)) => {
                let mut out = vec![TYPE_ZSET];
                put_zset(&mut out, zset);
                seal(out)
            }
            OwnedValue::Object(Object::List(list)) => {
                let mut out = vec![TYPE_LIST];
                put_list(&mut out, list);
                seal(out)
            }
        }
    }

    /// A value as comparable data: a string's bytes, a hash's fields.
    fn content(value: &OwnedValue) -> (Vec<u8>, Vec<FieldData>) {
        match value {
            OwnedValue::String(bytes) => (bytes.clone(), Vec::new()),
            OwnedValue::Object(_) => (Vec::new(), fields(value)),
        }
    }

    /// A hash field as owned data: name, value, deadline.
    type FieldData = (Vec<u8>, Vec<u8>, Option<u64>);

    fn fields(value: &OwnedValue) -> Vec<FieldData> {
        let OwnedValue::Object(Object::Hash(hash)) = value else { panic!("not a hash") };
        let mut fields: Vec<_> = hash.iter().map(|f| (f.name.to_vec(), f.value.to_vec(), f.deadline)).collect();
        fields.sort();
        fields
    }

    #[test]
    fn functions_round_trip_and_refuse_other_payloads() {
        let texts: [&[u8]; 2] = [b"#!lua name=a\n", b"#!lua name=b\n"];
        assert_eq!(restore_functions(&dump_functions(texts.into_iter())), Ok(texts.to_vec()));
        assert_eq!(restore_functions(&dump_functions(std::iter::empty())), Ok(Vec::new()));
        assert_eq!(restore_functions(&string_payload(b"x")), Err(DecodeError::Body));
        let mut bad = dump_functions(texts.into_iter());
        bad[3] ^= 1;
        assert_eq!(restore_functions(&bad), Err(DecodeError::Trailer));
    }

    #[test]
    fn strings_round_trip() {
        for value in [&b""[..], b"12345", b"-9223372036854775808", &[0xff; 300], &vec![b'x'; 100_000]] {
            let Ok(Some(OwnedValue::String(back))) = restore(&string_payload(value), NOW, LIMITS) else {
                panic!("string did not restore")
            };
            assert_eq!(back, value);
        }
    }

    #[test]
    fn hashes_round_trip_with_deadlines_and_drop_expired_fields() {
        let later = NOW + 60_000;
        let payload = hash_payload(&[(b"a", b"1", None), (b"b", b"2", Some(later)), (b"gone", b"3", Some(NOW - 1))]);
        let value = restore(&payload, NOW, LIMITS).expect("valid").expect("not empty");
        assert_eq!(fields(&value), [(b"a".to_vec(), b"1".to_vec(), None), (b"b".to_vec(), b"2".to_vec(), Some(later))]);
        let all_gone = hash_payload(&[(b"x", b"1", Some(NOW - 5))]);
        assert!(matches!(restore(&all_gone, NOW, LIMITS), Ok(None)));
    }

    #[test]
    fn a_large_hash_restores_as_a_table() {
        let names: Vec<Vec<u8>> = (0..1000).map(|i| format!("f{i}").into_bytes()).collect();
        let fields: Vec<(&[u8], &[u8], Option<u64>)> = names.iter().map(|n| (&n[..], &b"v"[..], None)).collect();
        let value = restore(&hash_payload(&fields), NOW, LIMITS).expect("valid").expect("not empty");
        let OwnedValue::Object(object) = &value else { panic!("not a hash") };
        assert_eq!((object.len(), object.encoding()), (1000, "hashtable"));
    }

    #[test]
    fn the_trailer_is_checked_before_the_body() {
        let good = string_payload(b"hello");
        let mut flipped = good.clone();
        flipped[2] ^= 1;
        assert_eq!(restore(&flipped, NOW, LIMITS).err(), Some(DecodeError::Trailer));
        let mut future = good[..good.len() - TRAILER_LEN].to_vec();
        future.extend_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        let sum = CHECKSUM.checksum(&future);
        future.extend_from_slice(&sum.to_le_bytes());
        assert_eq!(restore(&future, NOW, LIMITS).err(), Some(DecodeError::Trailer));
        assert_eq!(restore(&good[..TRAILER_LEN], NOW, LIMITS).err(), Some(DecodeError::Trailer));
        // Redis 7.0's DUMP of the string "hello".
        let redis = b"\x00\x05hello\x0a\x00cr\xdfve4 \x0a";
        assert_eq!(restore(redis, NOW, LIMITS).err(), Some(DecodeError::Trailer));
    }

    #[test]
    fn malformed_bodies_are_bad_data() {
        let bad = |body: &[u8]| restore(&seal(body.to_vec()), NOW, LIMITS).err();
        assert_eq!(bad(&[9, 0]), Some(DecodeError::Body), "unknown type");
        assert_eq!(bad(&[TYPE_STRING, 5, b'a']), Some(DecodeError::Body), "short string");
        assert_eq!(bad(&[TYPE_STRING, 1, b'a', b'b']), Some(DecodeError::Body), "trailing bytes");
        assert_eq!(bad(&[TYPE_HASH, 0]), Some(DecodeError::Body), "empty hash");
        assert_eq!(bad(&[TYPE_HASH, 2, 1, b'a', 0, 0, 1, b'a', 0, 0]), Some(DecodeError::Body), "duplicate field");
        let mut huge = vec![TYPE_STRING];
        huge.extend_from_slice(&[0xff; 9]);
        huge.push(0x7f);
        assert_eq!(bad(&huge), Some(DecodeError::Body), "varint past 64 bits");
        let mut late = vec![TYPE_HASH, 1, 1, b'a', 0];
        put_varint(&mut late, MAX_FIELD_DEADLINE_MS + 1);
        assert_eq!(bad(&late), Some(DecodeError::Body), "deadline past the maximum");
        let tight = Limits { max_string: 3, ..LIMITS };
        assert_eq!(restore(&string_payload(b"four"), NOW, tight).err(), Some(DecodeError::Body), "over the limit");
    }

    /// SplitMix64: a fixed-seed source for the fuzz cases below.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// A mutated copy of a valid payload's type byte and body, resealed so
    /// the body decoder (not just the checksum) meets it.
    fn mutate(rng: &mut Rng, payload: &[u8]) -> Vec<u8> {
        let mut body = payload[..payload.len() - TRAILER_LEN].to_vec();
        for _ in 0..=rng.below(4) {
            match rng.below(4) {
                0 if !body.is_empty() => {
                    let at = rng.below(body.len());
                    body[at] ^= 1 << rng.below(8);
                }
                1 => body.truncate(rng.below(body.len() + 1)),
                2 if !body.is_empty() => {
                    let at = rng.below(body.len());
                    body[at] = rng.next() as u8;
                }
                _ => body.insert(rng.below(body.len() + 1), rng.next() as u8),
            }
        }
        seal(body)
    }

    #[test]
    fn any_bytes_decode_to_an_error_or_a_value() {
        let mut rng = Rng(7);
        let later = NOW + 1000;
        let seeds = [
            string_payload(b"hello"),
            string_payload(&[b'z'; 200]),
            hash_payload(&[(b"a", b"1", None), (b"bb", b"22", Some(later))]),
            hash_payload(&[
                (b"k1", b"v", None),
                (b"k2", b"v", None),
                (b"k3", b"v", None),
                (b"k4", b"v", None),
                (b"k5", b"v", None),
            ]),
        ];
        for case in 0..20_000 {
            let input = match case % 3 {
                0 => (0..rng.below(40)).map(|_| rng.next() as u8).collect(),
                1 => {
                    let seed = rng.below(seeds.len());
                    mutate(&mut rng, &seeds[seed])
                }
                _ => {
                    let mut random: Vec<u8> = (0..rng.below(30)).map(|_| rng.next() as u8).collect();
                    random.insert(0, rng.below(3) as u8);
                    seal(random)
                }
            };
            if let Ok(Some(value)) = restore(&input, NOW, LIMITS) {
                // A value that decodes is whole: it encodes and decodes
                // to itself.
                let again = restore(&payload_of(&value), NOW, LIMITS).expect("re-encoded").expect("not empty");
                assert_eq!(content(&again), content(&value));
            }
        }
    }
}
