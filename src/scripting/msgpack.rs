//! `cmsgpack`, the MessagePack library Redis gives scripts (its vendored
//! lua-cmsgpack 0.4.0): `pack`, `unpack`, `unpack_one`, `unpack_limit`,
//! with the same encodings and errors.
//!
//! Written here rather than with a MessagePack crate because what scripts
//! see is lua-cmsgpack's own choices: a number that is an integer packs as
//! the smallest integer type, any other as a 32-bit float when that is
//! exact, a table packs as an array only if its keys are exactly 1..n,
//! tables nested 16 deep pack as nil, strings use the str8/16/32 types,
//! and unpacking knows only the types it packs (bin and ext are bad data).
//!
//! Unpacking is bounded: a table is sized by the bytes left, not by the
//! length the input claims, and nesting deeper than [`MAX_DECODE_DEPTH`]
//! is refused, so no input can allocate without limit or overflow the stack.

use mlua::{Lua, MultiValue, Table, Value, Variadic};

use super::lua::{lib_function, raise as script_raise, raise_lib as raise};

/// lua-cmsgpack's nesting limit for packing: deeper tables pack as nil.
const MAX_PACK_NESTING: usize = 16;

/// How deep unpacking may nest (lua-cmsgpack has no limit; its C stack is
/// the limit there).
const MAX_DECODE_DEPTH: usize = 1000;

/// Lua 5.1's C stack: more results than this cannot be returned at once.
const MAX_RESULTS: usize = 7990;

pub fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.set("pack", lib_function(lua, pack)?)?;
    t.set("unpack", lib_function(lua, |lua, args: Variadic<Value>| unpack_full(lua, &args, "unpack", 0, 0))?)?;
    t.set(
        "unpack_one",
        lib_function(lua, |lua, args: Variadic<Value>| {
            let offset = opt_integer(&args, 1, "unpack_one")?;
            unpack_full(lua, &args, "unpack_one", 1, offset)
        })?,
    )?;
    t.set(
        "unpack_limit",
        lib_function(lua, |lua, args: Variadic<Value>| {
            let limit = check_integer(args.get(1), 2, "unpack_limit")?;
            let offset = opt_integer(&args, 2, "unpack_limit")?;
            unpack_full(lua, &args, "unpack_limit", limit, offset)
        })?,
    )?;
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    globals.set("cmsgpack", t)
}

fn check_integer(value: Option<&Value>, position: usize, name: &str) -> mlua::Result<i64> {
    match value {
        Some(Value::Integer(i)) => Ok(*i),
        Some(Value::Number(n)) => Ok(*n as i64),
        Some(Value::String(s)) => {
            let text = s.to_string_lossy();
            text.trim().parse::<f64>().map(|n| n as i64).map_err(|_| type_error(position, name, "string"))
        }
        other => Err(type_error(position, name, other.map_or("no value", Value::type_name))),
    }
}

fn type_error(position: usize, name: &str, got: &str) -> mlua::Error {
    raise(format!("bad argument #{position} to '{name}' (number expected, got {got})"))
}

/// `luaL_optinteger`: absent or nil is 0.
fn opt_integer(args: &[Value], index: usize, name: &str) -> mlua::Result<i64> {
    match args.get(index) {
        None | Some(Value::Nil) => Ok(0),
        value => check_integer(value, index + 1, name),
    }
}

/// `cmsgpack.pack(...)`: each argument packed, concatenated.
fn pack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<mlua::String> {
    if args.is_empty() {
        return Err(raise("bad argument #0 to 'pack' (MessagePack pack needs input.)"));
    }
    let mut out = Vec::new();
    for value in args.iter() {
        encode(value, &mut out, 0)?;
    }
    lua.create_string(out)
}

fn encode(value: &Value, out: &mut Vec<u8>, level: usize) -> mlua::Result<()> {
    match value {
        Value::String(s) => encode_bytes(&s.as_bytes(), out),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_int(*i, out),
        Value::Number(n) => encode_number(*n, out),
        Value::Table(t) if level < MAX_PACK_NESTING => encode_table(t, out, level)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

/// A Lua 5.1 number: an integer type if it is one (and fits 64 bits),
/// else a float, 32 bits when that loses nothing.
fn encode_number(n: f64, out: &mut Vec<u8>) {
    if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n) && n.fract() == 0.0 {
        return encode_int(n as i64, out);
    }
    let f = n as f32;
    if f64::from(f) == n {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    match n {
        0..=127 => out.push(n as u8),
        128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
        0x100..=0xffff => push_be(out, 0xcd, &(n as u16).to_be_bytes()),
        0x1_0000..=0xffff_ffff => push_be(out, 0xce, &(n as u32).to_be_bytes()),
        0x1_0000_0000.. => push_be(out, 0xcf, &(n as u64).to_be_bytes()),
        -32..=-1 => out.push(n as i8 as u8),
        -128..=-33 => out.extend_from_slice(&[0xd0, n as i8 as u8]),
        -32768..=-129 => push_be(out, 0xd1, &(n as i16).to_be_bytes()),
        -2_147_483_648..=-32769 => push_be(out, 0xd2, &(n as i32).to_be_bytes()),
        _ => push_be(out, 0xd3, &n.to_be_bytes()),
    }
}

fn push_be(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    out.extend_from_slice(bytes);
}

fn encode_bytes(s: &[u8], out: &mut Vec<u8>) {
    let len = s.len();
    match len {
        0..=31 => out.push(0xa0 | len as u8),
        32..=0xff => out.extend_from_slice(&[0xd9, len as u8]),
        0x100..=0xffff => push_be(out, 0xda, &(len as u16).to_be_bytes()),
        _ => push_be(out, 0xdb, &(len as u32).to_be_bytes()),
    }
    out.extend_from_slice(s);
}

/// A header for an array (`base` 0x90, 0xdc) or a map (0x80, 0xde).
fn encode_header(n: usize, fix: u8, sixteen: u8, out: &mut Vec<u8>) {
    match n {
        0..=15 => out.push(fix | n as u8),
        16..=0xffff => push_be(out, sixteen, &(n as u16).to_be_bytes()),
        _ => push_be(out, sixteen + 1, &(n as u32).to_be_bytes()),
    }
}

/// Two passes over the table, as lua-cmsgpack makes: one to choose array
/// or map (and count), one to encode. Pairs are not collected, since each
/// value held would pin a slot of Lua's stack.
fn encode_table(t: &Table, out: &mut Vec<u8>, level: usize) -> mlua::Result<()> {
    let (count, array) = shape(t)?;
    if array {
        let len = t.raw_len();
        encode_header(len, 0x90, 0xdc, out);
        for i in 1..=len {
            encode(&t.raw_get::<Value>(i)?, out, level + 1)?;
        }
    } else {
        encode_header(count, 0x80, 0xde, out);
        for pair in t.pairs::<Value, Value>() {
            let (key, value) = pair?;
            encode(&key, out, level + 1)?;
            encode(&value, out, level + 1)?;
        }
    }
    Ok(())
}

/// The number of keys, and lua-cmsgpack's array test: every key a
/// positive integer (that fits a C `int`) and the largest key equal to the
/// count, so no holes.
fn shape(t: &Table) -> mlua::Result<(usize, bool)> {
    let (mut count, mut max, mut array) = (0usize, 0i64, true);
    for pair in t.pairs::<Value, Value>() {
        let (key, _) = pair?;
        count += 1;
        let n = match key {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => f64::NAN,
        };
        if !(n > 0.0 && n <= f64::from(i32::MAX) && n.fract() == 0.0) {
            array = false;
        }
        max = max.max(n as i64);
    }
    Ok((count, array && max == count as i64))
}

/// Why a decode stopped.
enum DecodeError {
    Eof,
    BadFormat,
    Lua(mlua::Error),
}

impl From<mlua::Error> for DecodeError {
    fn from(e: mlua::Error) -> Self {
        DecodeError::Lua(e)
    }
}

/// lua-cmsgpack's `mp_unpack_full`: decode up to `limit` values from
/// `offset` (both 0: every value, and no offset returned).
fn unpack_full(lua: &Lua, args: &[Value], name: &str, limit: i64, offset: i64) -> mlua::Result<MultiValue> {
    let input = match args.first() {
        Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => lua.coerce_string(v.clone())?,
        _ => None,
    };
    let Some(input) = input else {
        let got = args.first().map_or("no value", Value::type_name);
        return Err(raise(format!("bad argument #1 to '{name}' (string expected, got {got})")));
    };
    let bytes = input.as_bytes();
    let len = bytes.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(raise(format!("Invalid request to unpack with offset of {offset} and limit of {len}.")));
    }
    if offset as u64 > len as u64 {
        return Err(raise(format!("Start offset {offset} greater than input length {len}.")));
    }
    let limit = if decode_all { i64::MAX } else { limit };
    let mut cursor = Cursor { data: &bytes[offset as usize..] };
    let mut values = Vec::new();
    while !cursor.data.is_empty() && (values.len() as i64) < limit {
        if values.len() >= MAX_RESULTS {
            return Err(raise(
                "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)",
            ));
        }
        match cursor.decode(lua, 0) {
            Ok(value) => values.push(value),
            Err(DecodeError::Eof) => return Err(raise("Missing bytes in input.")),
            Err(DecodeError::BadFormat) => return Err(raise("Bad data format in input.")),
            Err(DecodeError::Lua(e)) => return Err(e),
        }
    }
    if !decode_all {
        let next = if cursor.data.is_empty() { -1 } else { (len - cursor.data.len()) as i64 };
        values.insert(0, Value::Integer(next));
    }
    Ok(MultiValue::from_vec(values))
}

struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.data.len() < n {
            return Err(DecodeError::Eof);
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    /// A big-endian unsigned number of `n` bytes.
    fn uint(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn decode(&mut self, lua: &Lua, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DECODE_DEPTH {
            return Err(DecodeError::BadFormat);
        }
        let tag = self.take(1)?[0];
        let number = |n: f64| Ok(Value::Number(n));
        match tag {
            0x00..=0x7f => number(f64::from(tag)),
            0xe0..=0xff => number(f64::from(tag as i8)),
            0xcc => number(self.uint(1)? as f64),
            0xcd => number(self.uint(2)? as f64),
            0xce => number(self.uint(4)? as f64),
            0xcf => number(self.uint(8)? as f64),
            0xd0 => number(f64::from(self.uint(1)? as u8 as i8)),
            0xd1 => number(f64::from(self.uint(2)? as u16 as i16)),
            0xd2 => number(f64::from(self.uint(4)? as u32 as i32)),
            0xd3 => number(self.uint(8)? as i64 as f64),
            0xc0 => Ok(Value::Nil),
            0xc2 => Ok(Value::Boolean(false)),
            0xc3 => Ok(Value::Boolean(true)),
            0xca => number(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => number(f64::from_bits(self.uint(8)?)),
            0xa0..=0xbf => self.string(lua, usize::from(tag & 0x1f)),
            0xd9 => {
                let len = self.uint(1)?;
                self.string(lua, len as usize)
            }
            0xda => {
                let len = self.uint(2)?;
                self.string(lua, len as usize)
            }
            0xdb => {
                let len = self.uint(4)?;
                self.string(lua, len as usize)
            }
            0x90..=0x9f => self.array(lua, usize::from(tag & 0xf), depth),
            0xdc => {
                let len = self.uint(2)?;
                self.array(lua, len as usize, depth)
            }
            0xdd => {
                let len = self.uint(4)?;
                self.array(lua, len as usize, depth)
            }
            0x80..=0x8f => self.map(lua, usize::from(tag & 0xf), depth),
            0xde => {
                let len = self.uint(2)?;
                self.map(lua, len as usize, depth)
            }
            0xdf => {
                let len = self.uint(4)?;
                self.map(lua, len as usize, depth)
            }
            _ => Err(DecodeError::BadFormat),
        }
    }

    fn string(&mut self, lua: &Lua, len: usize) -> Result<Value, DecodeError> {
        Ok(Value::String(lua.create_string(self.take(len)?)?))
    }

    fn array(&mut self, lua: &Lua, len: usize, depth: usize) -> Result<Value, DecodeError> {
        let t = lua.create_table_with_capacity(len.min(self.data.len()), 0)?;
        for i in 1..=len {
            let value = self.decode(lua, depth + 1)?;
            t.raw_set(i, value)?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, lua: &Lua, len: usize, depth: usize) -> Result<Value, DecodeError> {
        let t = lua.create_table_with_capacity(0, len.min(self.data.len() / 2))?;
        for _ in 0..len {
            let key = self.decode(lua, depth + 1)?;
            let value = self.decode(lua, depth + 1)?;
            match key {
                // Lua's own errors, raised from C: no script position.
                Value::Nil => return Err(DecodeError::Lua(script_raise("ERR table index is nil"))),
                Value::Number(n) if n.is_nan() => return Err(DecodeError::Lua(script_raise("ERR table index is NaN"))),
                key => t.raw_set(key, value)?,
            }
        }
        Ok(Value::Table(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed_number(n: f64) -> Vec<u8> {
        let mut out = Vec::new();
        encode_number(n, &mut out);
        out
    }

    #[test]
    fn numbers_pack_as_lua_cmsgpack() {
        assert_eq!(packed_number(5.0), [5]);
        assert_eq!(packed_number(-1.0), [0xff]);
        assert_eq!(packed_number(200.0), [0xcc, 200]);
        assert_eq!(packed_number(-200.0), [0xd1, 0xff, 0x38]);
        assert_eq!(packed_number(65536.0), [0xce, 0, 1, 0, 0]);
        assert_eq!(packed_number(1.5), [0xca, 0x3f, 0xc0, 0, 0]);
        assert_eq!(packed_number(0.1)[0], 0xcb);
        assert_eq!(packed_number(f64::INFINITY), [0xca, 0x7f, 0x80, 0, 0]);
    }

    #[test]
    fn string_headers() {
        let mut out = Vec::new();
        encode_bytes(&[b'x'; 40], &mut out);
        assert_eq!(&out[..2], [0xd9, 40]);
        out.clear();
        encode_bytes(&[b'x'; 300], &mut out);
        assert_eq!(&out[..3], [0xda, 1, 44]);
    }
}
