//! The bitmap commands, Redis's bitops.c: SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD and BITFIELD_RO. A bitmap is a plain string; bit 0 is the
//! most significant bit of its first byte, and bits past the end read as 0.
//! Ranges, masks and overflow checks are ported from Redis line by line,
//! since their corner cases (wrapping C arithmetic included) are what
//! clients see.

use super::strings::{max_string_len, put_and_notify, put_keeping_ttl, with_value};
use super::{is, specs, Command, Ctx, Flags, KeyFlags, KeySpec, NOT_AN_INTEGER, SYNTAX_ERROR, WRONGTYPE};
use crate::notify::Event;
use crate::protocol::parse::parse_i64;
use crate::protocol::{Args, ReplyBuffer};
use crate::store::WrongType;

const R: Flags = Flags::READONLY.with(Flags::FAST);
const W: Flags = Flags::WRITE.with(Flags::DENYOOM);
/// BITOP's keys: the destination, then every source after it.
const BITOP_KEYS: &[KeySpec] =
    &[KeySpec::at(2, KeyFlags::OW.with(KeyFlags::UPDATE)), KeySpec::range(3, -1, specs::RO_ACCESS)];

pub static COMMANDS: &[Command] = &[
    Command { name: "setbit", arity: 4, flags: W, keys: specs::READ_UPDATE, group: "bitmap", run: setbit },
    Command { name: "getbit", arity: 3, flags: R, keys: specs::READ, group: "bitmap", run: getbit },
    Command { name: "bitcount", arity: -2, flags: Flags::READONLY, keys: specs::READ, group: "bitmap", run: bitcount },
    Command { name: "bitpos", arity: -3, flags: Flags::READONLY, keys: specs::READ, group: "bitmap", run: bitpos },
    Command { name: "bitop", arity: -4, flags: W, keys: BITOP_KEYS, group: "bitmap", run: bitop },
    Command { name: "bitfield", arity: -2, flags: W, keys: specs::READ_UPDATE, group: "bitmap", run: bitfield },
    Command { name: "bitfield_ro", arity: -2, flags: R, keys: specs::READ, group: "bitmap", run: bitfield_ro },
];

const BAD_BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_BIT: &str = "ERR bit is not an integer or out of range";
const BAD_BITPOS_BIT: &str = "ERR The bit argument must be 1 or 0.";
const NOT_ONE_SOURCE: &str = "ERR BITOP NOT must be called with a single source key.";
const BAD_FIELD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
const BAD_OVERFLOW: &str = "ERR Invalid OVERFLOW type specified";
const RO_ONLY_GET: &str = "ERR BITFIELD_RO only supports the GET subcommand";

// ---------------------------------------------------------------------------
// Offsets and single bits
// ---------------------------------------------------------------------------

/// A bit offset as Redis's getBitOffsetFromArgument reads it: a
/// non-negative integer whose byte lies below `limit` (proto-max-bulk-len).
/// With a field `width` (BITFIELD), `#N` means the N-th field: N * width,
/// multiplied without an overflow check as in C (it wraps).
fn bit_offset(arg: &[u8], width: Option<u32>, limit: u64) -> Option<u64> {
    let (digits, scale) = match (arg.strip_prefix(b"#"), width) {
        (Some(rest), Some(width)) => (rest, i64::from(width)),
        _ => (arg, 1),
    };
    let offset = parse_i64(digits)?.wrapping_mul(scale);
    (offset >= 0 && (offset as u64 >> 3) < limit).then_some(offset as u64)
}

/// A SETBIT / GETBIT offset, or None after replying with Redis's error.
fn bit_offset_arg(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<u64> {
    let offset = bit_offset(arg, None, max_string_len(ctx));
    if offset.is_none() {
        ctx.error(BAD_BIT_OFFSET);
    }
    offset
}

/// The byte holding bit `offset` and the mask selecting it.
fn bit_position(offset: u64) -> (usize, u8) {
    ((offset >> 3) as usize, 0x80 >> (offset & 7))
}

/// Bit `offset` of `value`; 0 past its end.
fn bit_at(value: &[u8], offset: u64) -> bool {
    let (byte, mask) = bit_position(offset);
    value.get(byte).is_some_and(|b| b & mask != 0)
}

/// Set or clear bit `offset` of `value` (which reaches it).
fn set_bit_at(value: &mut [u8], offset: u64, on: bool) {
    let (byte, mask) = bit_position(offset);
    if let Some(b) = value.get_mut(byte) {
        if on {
            *b |= mask;
        } else {
            *b &= !mask;
        }
    }
}

/// Reply with a result, or with the error that stopped the command; None:
/// WRONGTYPE was already replied.
fn reply_integer(ctx: &mut Ctx<'_>, result: Option<Result<i64, &'static str>>) {
    match result {
        Some(Ok(n)) => ctx.out.integer(n),
        Some(Err(msg)) => ctx.error(msg),
        None => {}
    }
}

/// SETBIT key offset value: replies with the bit's old value.
fn setbit(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    // The string grows (zero-padded) to reach the offset, even when the
    // bit is being cleared.
    let Some(offset) = bit_offset_arg(ctx, args.get(2)) else { return };
    let on = match parse_i64(args.get(3)) {
        Some(bit @ (0 | 1)) => bit == 1,
        _ => return ctx.error(BAD_BIT),
    };
    let (byte, _) = bit_position(offset);
    let events = ctx.events();
    let was_on = ctx.db().update(args.get(1), ctx.now, |slot| {
        let old = slot.string()?;
        let was_on = old.is_some_and(|value| bit_at(value, offset));
        if old.is_some_and(|value| value.len() > byte) && was_on == on {
            return Ok(was_on);
        }
        let mut value = old.unwrap_or_default().to_vec();
        if value.len() <= byte {
            value.resize(byte + 1, 0);
        }
        set_bit_at(&mut value, offset, on);
        put_and_notify(slot, &value, events, SETBIT);
        Ok(was_on)
    });
    match was_on {
        Ok(was_on) => ctx.out.integer(i64::from(was_on)),
        Err(WrongType) => ctx.error(WRONGTYPE),
    }
}

/// SETBIT's event, and a BITFIELD's that writes.
const SETBIT: Event = Event::string("setbit");

/// GETBIT key offset: 0 beyond the end of the string or for a missing key.
fn getbit(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(offset) = bit_offset_arg(ctx, args.get(2)) else { return };
    let on = with_value(ctx, args.get(1), |value, _| value.is_some_and(|v| bit_at(v, offset)));
    if let Some(on) = on {
        ctx.out.integer(i64::from(on));
    }
}

// ---------------------------------------------------------------------------
// Ranges: BITCOUNT and BITPOS
// ---------------------------------------------------------------------------

/// A range of a string in bytes, as BITCOUNT and BITPOS compute it; in BIT
/// units, the masks select the bits of the edge bytes that lie outside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ByteRange {
    start: i64,
    end: i64,
    first_mask: u8,
    last_mask: u8,
}

impl ByteRange {
    /// Redis's conversion of `start..=end` over a string of `len` bytes
    /// (`in_bits`: the indexes count bits): negative indexes count from the
    /// end, then both are clamped; the range may come out empty (start >
    /// end).
    fn new(len: usize, start: i64, end: i64, in_bits: bool) -> ByteRange {
        let total = if in_bits { (len as i64) << 3 } else { len as i64 };
        let start = if start < 0 { total + start } else { start }.max(0);
        let end = if end < 0 { total + end } else { end }.max(0).min(total - 1);
        if !in_bits || start > end {
            return ByteRange { start, end, first_mask: 0, last_mask: 0 };
        }
        ByteRange { start: start >> 3, end: end >> 3, first_mask: !(0xff >> (start & 7)), last_mask: 0x7f >> (end & 7) }
    }

    /// The range's bytes of `value`, if it is not empty.
    fn bytes<'v>(&self, value: &'v [u8]) -> Option<&'v [u8]> {
        (self.start <= self.end).then(|| value.get(self.start as usize..=self.end as usize)).flatten()
    }
}

/// A BYTE | BIT unit argument: whether it is BIT.
fn unit_is_bit(arg: &[u8]) -> Result<bool, &'static str> {
    if is(arg, "BIT") {
        Ok(true)
    } else if is(arg, "BYTE") {
        Ok(false)
    } else {
        Err(SYNTAX_ERROR)
    }
}

fn count_ones(bytes: &[u8]) -> i64 {
    bytes.iter().map(|b| i64::from(b.count_ones())).sum()
}

/// BITCOUNT key [start end [BYTE | BIT]]
fn bitcount(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    // Redis 7.0 and 7.2 look the key up before they read the range, so a
    // missing key counts 0 whatever the other arguments are; Redis 7.4
    // checks them first.
    let result = with_value(ctx, args.get(1), |value, _| {
        let Some(value) = value else { return Ok(0) };
        if args.len() == 2 {
            return Ok(count_ones(value));
        }
        if args.len() != 4 && args.len() != 5 {
            return Err(SYNTAX_ERROR);
        }
        let start = parse_i64(args.get(2)).ok_or(NOT_AN_INTEGER)?;
        let end = parse_i64(args.get(3)).ok_or(NOT_AN_INTEGER)?;
        // Redis answers this case before it looks at the unit.
        if start < 0 && end < 0 && start > end {
            return Ok(0);
        }
        let in_bits = args.len() == 5 && unit_is_bit(args.get(4))?;
        let range = ByteRange::new(value.len(), start, end, in_bits);
        let Some(bytes) = range.bytes(value) else { return Ok(0) };
        let (first, last) = (bytes[0], bytes[bytes.len() - 1]);
        Ok(count_ones(bytes) - count_ones(&[first & range.first_mask, last & range.last_mask]))
    });
    reply_integer(ctx, result);
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
fn bitpos(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let bit = match parse_i64(args.get(2)) {
        Some(bit @ (0 | 1)) => bit == 1,
        Some(_) => return ctx.error(BAD_BITPOS_BIT),
        None => return ctx.error(NOT_AN_INTEGER),
    };
    // A missing key is an endless run of zeros: no 1 anywhere, a 0 at
    // once. As with BITCOUNT, Redis 7.0 and 7.2 answer that before they
    // read the range (7.4 reads it first).
    let result = with_value(ctx, args.get(1), |value, _| {
        let Some(value) = value else { return Ok(if bit { -1 } else { 0 }) };
        let (range, end_given) = bitpos_range(args, value.len())?;
        Ok(find_bit(value, bit, &range, end_given))
    });
    reply_integer(ctx, result);
}

/// BITPOS's range over a string of `len` bytes, and whether an end was given.
fn bitpos_range(args: &Args<'_>, len: usize) -> Result<(ByteRange, bool), &'static str> {
    match args.len() {
        3 => return Ok((ByteRange::new(len, 0, -1, false), false)),
        4..=6 => {}
        _ => return Err(SYNTAX_ERROR),
    }
    // Redis's order: the start, then the unit, then the end.
    let start = parse_i64(args.get(3)).ok_or(NOT_AN_INTEGER)?;
    let in_bits = args.len() == 6 && unit_is_bit(args.get(5))?;
    let end = match args.len() {
        4 => -1,
        _ => parse_i64(args.get(4)).ok_or(NOT_AN_INTEGER)?,
    };
    Ok((ByteRange::new(len, start, end, in_bits), args.len() >= 5))
}

/// Redis's redisBitpos: the position of the first `bit` in `bytes`. When
/// there is none: -1 for a 1, and for a 0 the position just past the end
/// (the string reads as zero-padded).
fn first_bit(bytes: &[u8], bit: bool) -> i64 {
    let skip = if bit { 0 } else { 0xff };
    match bytes.iter().position(|&b| b != skip) {
        Some(i) => {
            let byte = if bit { bytes[i] } else { !bytes[i] };
            ((i as i64) << 3) + i64::from(byte.leading_zeros())
        }
        None if bit => -1,
        None => (bytes.len() as i64) << 3,
    }
}

/// `byte` with the bits of `mask` set so that a search for `bit` skips
/// them.
fn hide(byte: u8, mask: u8, bit: bool) -> u8 {
    if bit {
        byte & !mask
    } else {
        byte | mask
    }
}

/// The first `bit` of `value` within `range` (bitposCommand's search: the
/// masked first byte, the whole bytes, the masked last byte). Looking for a
/// 0 with an explicit end, "none in the range" is -1, not the position
/// past it.
fn find_bit(value: &[u8], bit: bool, range: &ByteRange, end_given: bool) -> i64 {
    let Some(bytes) = range.bytes(value) else { return -1 };
    let mut start = range.start;
    let mut rest = bytes;
    let pos = 'found: {
        if range.first_mask != 0 {
            let mut first = hide(rest[0], range.first_mask, bit);
            if range.last_mask != 0 && rest.len() == 1 {
                first = hide(first, range.last_mask, bit);
            }
            let pos = first_bit(&[first], bit);
            if rest.len() == 1 || (pos != -1 && pos != 8) {
                break 'found pos;
            }
            start += 1;
            rest = &rest[1..];
        }
        let whole = rest.len() - usize::from(range.last_mask != 0);
        if whole > 0 {
            let pos = first_bit(&rest[..whole], bit);
            if whole == rest.len() || (pos != -1 && pos != (whole as i64) << 3) {
                break 'found pos;
            }
            start += whole as i64;
            rest = &rest[whole..];
        }
        first_bit(&[hide(rest[0], range.last_mask, bit)], bit)
    };
    if end_given && !bit && pos == (rest.len() as i64) << 3 {
        return -1;
    }
    if pos == -1 {
        -1
    } else {
        pos + (start << 3)
    }
}

// ---------------------------------------------------------------------------
// BITOP
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

impl BitOp {
    fn parse(arg: &[u8]) -> Option<BitOp> {
        [("AND", BitOp::And), ("OR", BitOp::Or), ("XOR", BitOp::Xor), ("NOT", BitOp::Not)]
            .into_iter()
            .find(|(name, _)| is(arg, name))
            .map(|(_, op)| op)
    }

    /// Fold `source` into `acc`, the result of the sources before it;
    /// the shorter of the two reads as zero-padded.
    fn fold(self, acc: &mut Option<Vec<u8>>, source: &[u8]) {
        let Some(acc) = acc else {
            let first = if self == BitOp::Not { source.iter().map(|b| !b).collect() } else { source.to_vec() };
            *acc = Some(first);
            return;
        };
        if acc.len() < source.len() {
            acc.resize(source.len(), 0);
        }
        for (i, a) in acc.iter_mut().enumerate() {
            let b = source.get(i).copied().unwrap_or(0);
            match self {
                BitOp::And => *a &= b,
                BitOp::Or => *a |= b,
                BitOp::Xor => *a ^= b,
                BitOp::Not => {}
            }
        }
    }
}

/// BITOP AND | OR | XOR | NOT destkey key [key ...]: replies with the
/// result's length, that of the longest source (missing keys are empty
/// strings). The result replaces destkey (whatever its type, dropping its
/// expiry); an empty one deletes it. The result is never longer than a
/// source, so it is within the string size limit like them.
fn bitop(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let Some(op) = BitOp::parse(args.get(1)) else { return ctx.error(SYNTAX_ERROR) };
    if op == BitOp::Not && args.len() != 4 {
        return ctx.error(NOT_ONE_SOURCE);
    }
    let (now, events) = (ctx.now, ctx.events());
    let (mut looked_up, mut hits) = (0, 0);
    let destination = args.get(2);
    let result = ctx.db().with_keys_locked(args.iter().skip(2), |locked| {
        let mut acc = None;
        for source in args.iter().skip(3) {
            locked.update(source, now, |slot| {
                looked_up += 1;
                hits += u64::from(slot.exists());
                if !slot.exists() {
                    events.notify(Event::KEYMISS, source);
                }
                let value = slot.string()?;
                op.fold(&mut acc, value.unwrap_or_default());
                Ok::<_, WrongType>(())
            })?;
        }
        let result = acc.unwrap_or_default();
        let event = locked.update(destination, now, |slot| {
            if result.is_empty() {
                slot.remove().then_some(Event::DEL)
            } else {
                slot.put(&result, None);
                Some(Event::string("set"))
            }
        });
        if let Some(event) = event {
            events.notify(event, destination);
        }
        Ok(result.len())
    });
    ctx.stats.keyspace_hits.add(hits);
    ctx.stats.keyspace_misses.add(looked_up - hits);
    match result {
        Ok(len) => ctx.out.integer(len as i64),
        Err(WrongType) => ctx.error(WRONGTYPE),
    }
}

// ---------------------------------------------------------------------------
// BITFIELD
// ---------------------------------------------------------------------------

/// What a SET or INCRBY does when the result does not fit the field.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, Debug)]
enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// One GET, SET or INCRBY of a BITFIELD call.
#[derive(Clone, Copy, Debug)]
struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

/// A field type, `i1`..`i64` or `u1`..`u63` (the width is read as C reads
/// it, up to a NUL): (signed, bits).
fn field_type(arg: &[u8]) -> Option<(bool, u32)> {
    let (&sign, width) = arg.split_first()?;
    let width = width.split(|&b| b == 0).next().unwrap_or_default();
    let bits = u32::try_from(parse_i64(width)?).ok()?;
    match sign {
        b'i' if (1..=64).contains(&bits) => Some((true, bits)),
        b'u' if (1..=63).contains(&bits) => Some((false, bits)),
        _ => None,
    }
}

fn overflow_kind(arg: &[u8]) -> Result<Overflow, &'static str> {
    [("WRAP", Overflow::Wrap), ("SAT", Overflow::Sat), ("FAIL", Overflow::Fail)]
        .into_iter()
        .find(|(name, _)| is(arg, name))
        .map(|(_, kind)| kind)
        .ok_or(BAD_OVERFLOW)
}

/// BITFIELD's subcommands, with Redis's errors in Redis's order. A
/// subcommand short of arguments is a syntax error; OVERFLOW applies to
/// the subcommands after it.
fn parse_fields(args: &Args<'_>, limit: u64) -> Result<Vec<Field>, &'static str> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let (sub, remaining) = (args.get(j), args.len() - j - 1);
        let with_value = if is(sub, "GET") && remaining >= 2 {
            false
        } else if (is(sub, "SET") || is(sub, "INCRBY")) && remaining >= 3 {
            true
        } else if is(sub, "OVERFLOW") && remaining >= 1 {
            overflow = overflow_kind(args.get(j + 1))?;
            j += 2;
            continue;
        } else {
            return Err(SYNTAX_ERROR);
        };
        let (signed, bits) = field_type(args.get(j + 1)).ok_or(BAD_FIELD_TYPE)?;
        let offset = bit_offset(args.get(j + 2), Some(bits), limit).ok_or(BAD_BIT_OFFSET)?;
        let op = match with_value {
            false => FieldOp::Get,
            true => {
                let value = parse_i64(args.get(j + 3)).ok_or(NOT_AN_INTEGER)?;
                if is(sub, "SET") {
                    FieldOp::Set(value)
                } else {
                    FieldOp::IncrBy(value)
                }
            }
        };
        fields.push(Field { op, signed, bits, offset, overflow });
        j += if with_value { 4 } else { 3 };
    }
    Ok(fields)
}

/// The `bits` bits of `value` from `offset`, as an unsigned number (bits
/// past the end read as 0).
fn read_bits(value: &[u8], offset: u64, bits: u32) -> u64 {
    (offset..offset + u64::from(bits)).fold(0, |acc, i| (acc << 1) | u64::from(bit_at(value, i)))
}

/// Store the low `bits` bits of `n` at `offset`.
fn write_bits(value: &mut [u8], offset: u64, bits: u32, n: u64) {
    for j in 0..bits {
        set_bit_at(value, offset + u64::from(j), (n >> (bits - 1 - j)) & 1 == 1);
    }
}

/// A `bits`-wide two's complement number as an i64.
fn sign_extend(raw: u64, bits: u32) -> i64 {
    if bits < 64 && raw & (1 << (bits - 1)) != 0 {
        (raw | (u64::MAX << bits)) as i64
    } else {
        raw as i64
    }
}

impl Field {
    /// The field's value in `value`.
    fn get(&self, value: &[u8]) -> i64 {
        let raw = read_bits(value, self.offset, self.bits);
        if self.signed {
            sign_extend(raw, self.bits)
        } else {
            raw as i64
        }
    }

    /// Run a SET or INCRBY on `value` (long enough to hold the field):
    /// its reply (SET: the old value, INCRBY: the new one) and whether it
    /// changed the field; None when OVERFLOW FAIL refused it.
    fn write(&self, value: &mut [u8]) -> Option<(i64, bool)> {
        let old = self.get(value);
        let (operand, incr) = match self.op {
            FieldOp::Set(n) => (n, 0),
            FieldOp::IncrBy(n) => (old, n),
            FieldOp::Get => return Some((old, false)),
        };
        let new = if self.signed {
            signed_result(operand, incr, self.bits, self.overflow)?
        } else {
            unsigned_result(operand as u64, incr, self.bits, self.overflow)? as i64
        };
        write_bits(value, self.offset, self.bits, new as u64);
        let reply = if matches!(self.op, FieldOp::Set(_)) { old } else { new };
        Some((reply, new != old))
    }
}

/// `value + incr` in a signed field of `bits` bits, following Redis's
/// checkSignedBitfieldOverflow (its wrapping intermediate sums included,
/// which decide some out-of-range SETs); None when it overflows and the
/// mode is FAIL.
fn signed_result(value: i64, incr: i64, bits: u32, mode: Overflow) -> Option<i64> {
    let max = if bits == 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let over = value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr);
    let under = value < min || (bits != 64 && incr < min_incr) || (value < 0 && incr < 0 && incr < min_incr);
    if !over && !under {
        return Some(value.wrapping_add(incr));
    }
    match mode {
        Overflow::Fail => None,
        Overflow::Sat => Some(if over { max } else { min }),
        Overflow::Wrap => {
            let sum = (value as u64).wrapping_add(incr as u64);
            Some(if bits == 64 { sum as i64 } else { sign_extend(sum & !(u64::MAX << bits), bits) })
        }
    }
}

/// `value + incr` in an unsigned field of `bits` (< 64) bits, following
/// Redis's checkUnsignedBitfieldOverflow; None when it overflows and the
/// mode is FAIL.
fn unsigned_result(value: u64, incr: i64, bits: u32, mode: Overflow) -> Option<u64> {
    let max = (1u64 << bits) - 1;
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    let over = value > max || (incr > 0 && incr > max_incr);
    let under = incr < 0 && incr < min_incr;
    if !over && !under {
        return Some(value.wrapping_add(incr as u64));
    }
    match mode {
        Overflow::Fail => None,
        Overflow::Sat => Some(if over { max } else { 0 }),
        Overflow::Wrap => Some(value.wrapping_add(incr as u64) & max),
    }
}

/// BITFIELD key [GET type offset] [SET type offset value] [INCRBY type
/// offset increment] [OVERFLOW WRAP | SAT | FAIL] ...
fn bitfield(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    run_bitfield(ctx, args, false);
}

/// BITFIELD_RO key [GET type offset ...]
fn bitfield_ro(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    run_bitfield(ctx, args, true);
}

/// Parse every subcommand first (so an error runs none), then run them in
/// order and reply with an array of their results.
fn run_bitfield(ctx: &mut Ctx<'_>, args: &Args<'_>, read_only: bool) {
    let fields = match parse_fields(args, max_string_len(ctx)) {
        Ok(fields) => fields,
        Err(msg) => return ctx.error(msg),
    };
    // The highest bit a SET or INCRBY reaches: the string grows to hold it.
    let highest =
        fields.iter().filter(|f| !matches!(f.op, FieldOp::Get)).map(|f| f.offset + u64::from(f.bits) - 1).max();
    let Some(highest) = highest else {
        with_value(ctx, args.get(1), |value, out| {
            out.array(fields.len());
            fields.iter().for_each(|f| out.integer(f.get(value.unwrap_or_default())));
        });
        return;
    };
    if read_only {
        return ctx.error(RO_ONLY_GET);
    }
    let (db, events) = (ctx.server.store.db(ctx.session.db), ctx.events());
    let out = &mut *ctx.out;
    let result = db.update(args.get(1), ctx.now, |slot| {
        let mut value = slot.string()?.unwrap_or_default().to_vec();
        let needed = (highest >> 3) as usize + 1;
        // As in Redis, growing (or creating) the string is a change even
        // if every write then fails; but only a write that was done
        // (into a string grown, or changing a field) is reported.
        let grown = value.len() < needed;
        value.resize(value.len().max(needed), 0);
        out.array(fields.len());
        let mut reported = false;
        for field in &fields {
            let done = write_field(out, field, &mut value);
            reported |= !matches!(field.op, FieldOp::Get) && done.is_some_and(|changed| changed || grown);
        }
        if reported {
            put_and_notify(slot, &value, events, SETBIT);
        } else if grown {
            put_keeping_ttl(slot, &value);
        }
        Ok::<_, WrongType>(())
    });
    if result.is_err() {
        ctx.error(WRONGTYPE);
    }
}

/// Run one subcommand of a writing BITFIELD and reply with its result (nil
/// when OVERFLOW FAIL refused it); whether it changed the string, None if
/// it was refused.
fn write_field(out: &mut ReplyBuffer, field: &Field, value: &mut [u8]) -> Option<bool> {
    match field.write(value) {
        Some((reply, changed)) => {
            out.integer(reply);
            Some(changed)
        }
        None => {
            out.null();
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_redis() {
        assert_eq!(bit_offset(b"7", None, 1), Some(7));
        assert_eq!(bit_offset(b"8", None, 1), None);
        assert_eq!(bit_offset(b"-1", None, 1), None);
        assert_eq!(bit_offset(b"#2", None, 100), None);
        assert_eq!(bit_offset(b"#2", Some(8), 100), Some(16));
        assert_eq!(bit_offset(b"#-1", Some(8), 100), None);
        // 2^62 * 4 wraps to 0 in C's arithmetic.
        assert_eq!(bit_offset(b"#4611686018427387904", Some(4), 100), Some(0));
    }

    #[test]
    fn field_types() {
        assert_eq!(field_type(b"i64"), Some((true, 64)));
        assert_eq!(field_type(b"u63"), Some((false, 63)));
        assert_eq!(field_type(b"i8\0junk"), Some((true, 8)));
        for bad in [&b"u64"[..], b"i65", b"i0", b"I8", b"u", b"", b"i08", b"i-1", b"x8"] {
            assert_eq!(field_type(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn overflow_checks_match_redis() {
        assert_eq!(signed_result(127, 1, 8, Overflow::Wrap), Some(-128));
        assert_eq!(signed_result(127, 1, 8, Overflow::Sat), Some(127));
        assert_eq!(signed_result(127, 1, 8, Overflow::Fail), None);
        assert_eq!(signed_result(-128, -1, 8, Overflow::Sat), Some(-128));
        assert_eq!(signed_result(i64::MAX, 1, 64, Overflow::Wrap), Some(i64::MIN));
        // Redis's wrapping `max - value` makes this SET an overflow upwards.
        assert_eq!(signed_result(i64::MIN, 0, 8, Overflow::Sat), Some(127));
        assert_eq!(unsigned_result(255, 1, 8, Overflow::Wrap), Some(0));
        assert_eq!(unsigned_result(0, -1, 8, Overflow::Sat), Some(0));
        assert_eq!(unsigned_result(u64::MAX, 0, 8, Overflow::Sat), Some(255));
        assert_eq!(unsigned_result(u64::MAX, 0, 8, Overflow::Wrap), Some(255));
        assert_eq!(unsigned_result(3, -5, 2, Overflow::Fail), None);
    }

    #[test]
    fn bit_search() {
        assert_eq!(first_bit(&[0, 0x10], true), 11);
        assert_eq!(first_bit(&[0, 0], true), -1);
        assert_eq!(first_bit(&[0xff, 0xff], false), 16);
        let whole = ByteRange::new(3, 0, -1, false);
        assert_eq!(find_bit(&[0xff, 0xf0, 0], false, &whole, false), 12);
        assert_eq!(find_bit(&[0xff, 0xff, 0xff], false, &whole, false), 24);
        assert_eq!(find_bit(&[0xff, 0xff, 0xff], false, &whole, true), -1);
        let bits = ByteRange::new(3, 7, 15, true);
        assert_eq!(find_bit(&[0x00, 0xff, 0xff], true, &bits, true), 8);
        assert_eq!(find_bit(&[0x01, 0xff, 0xff], true, &bits, true), 7);
    }
}
