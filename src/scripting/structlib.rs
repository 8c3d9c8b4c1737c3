//! `struct`, Roberto Ierusalimschy's binary packing library as Redis
//! vendors it (struct.c 1.7): `pack`, `unpack` and `size`, with the sizes,
//! alignment rules and errors of Redis on x86-64/aarch64 Linux (little
//! endian natively, `short` 2, `int` 4, `long` and `size_t` 8, maximum
//! alignment 8, integers carried in a C `long`).
//!
//! Every size comes from the format (at most [`MAX_INT_SIZE`] for an
//! integer; a `cN` string is checked against the argument or the data
//! before it is copied), so the output is bounded by the input.

use mlua::{Lua, MultiValue, Value, Variadic};

use super::lua::{lib_function, raise_lib as raise};

/// struct.c's `MAXINTSIZE`.
const MAX_INT_SIZE: usize = 32;

/// `MAXALIGN`: the alignment of a double in a struct on 64-bit Linux.
const MAX_ALIGN: usize = 8;

/// Lua 5.1's C stack: more results than this cannot be returned.
const MAX_RESULTS: usize = 7990;

pub fn install(lua: &Lua, globals: &mlua::Table) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.set("pack", lib_function(lua, pack)?)?;
    t.set("unpack", lib_function(lua, unpack)?)?;
    t.set("size", lib_function(lua, size)?)?;
    globals.set("struct", t)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endian {
    Big,
    Little,
}

/// Byte order and maximum alignment, changed by `>`, `<` and `!`.
struct Header {
    endian: Endian,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Self { endian: Endian::Little, align: 1 }
    }
}

/// The format string, read one option at a time.
struct Format<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Format<'_> {
    fn next_option(&mut self) -> Option<u8> {
        let opt = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(opt)
    }

    /// `getnum`: a decimal count after an option, or `default`.
    fn number(&mut self, default: usize) -> mlua::Result<usize> {
        if !self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut n: usize = 0;
        while let Some(&d) = self.bytes.get(self.pos).filter(|b| b.is_ascii_digit()) {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(usize::from(d - b'0')))
                .filter(|&n| n <= i32::MAX as usize)
                .ok_or_else(|| raise("integral size overflow"))?;
            self.pos += 1;
        }
        Ok(n)
    }

    /// `optsize`: the size of an option's item (0 for control options).
    fn size(&mut self, opt: u8) -> mlua::Result<usize> {
        Ok(match opt {
            b'B' | b'b' | b'x' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let size = self.number(4)?;
                if size > MAX_INT_SIZE {
                    return Err(raise(format!("integral size {size} is larger than limit of {MAX_INT_SIZE}")));
                }
                size
            }
            _ => 0,
        })
    }

    /// `controloptions`: endianness, alignment and spaces; anything else
    /// is an invalid option.
    fn control(&mut self, opt: u8, header: &mut Header, name: &str) -> mlua::Result<()> {
        match opt {
            b' ' => {}
            b'>' => header.endian = Endian::Big,
            b'<' => header.endian = Endian::Little,
            b'!' => {
                let align = self.number(MAX_ALIGN)?;
                if !align.is_power_of_two() {
                    return Err(raise(format!("alignment {align} is not a power of 2")));
                }
                header.align = align;
            }
            _ => {
                return Err(raise(format!("bad argument #1 to '{name}' (invalid format option '{}')", char::from(opt))))
            }
        }
        Ok(())
    }
}

/// `gettoalign`: padding before an item of `size` at `len`.
fn padding(len: usize, header: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(header.align);
    size.wrapping_sub(len & (size - 1)) & (size - 1)
}

fn arg_error(position: usize, name: &str, expected: &str, got: Option<&Value>) -> mlua::Error {
    let got = got.map_or("no value", Value::type_name);
    raise(format!("bad argument #{position} to '{name}' ({expected} expected, got {got})"))
}

/// `luaL_checklstring` of argument `index` (0-based).
fn check_string(lua: &Lua, args: &[Value], index: usize, name: &str) -> mlua::Result<Vec<u8>> {
    let value = args.get(index).or((name == "pack" && index > 0 && index == args.len()).then_some(&Value::Nil));
    let text = match value {
        Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => lua.coerce_string(v.clone())?,
        _ => None,
    };
    text.map(|s| s.as_bytes().to_vec()).ok_or_else(|| arg_error(index + 1, name, "string", value))
}

/// `luaL_checknumber` of argument `index` (0-based). `pack` pushes a nil
/// after its arguments, so the first missing one is `nil` to it.
fn check_number(lua: &Lua, args: &[Value], index: usize, name: &str) -> mlua::Result<f64> {
    let value = args.get(index).or((name == "pack" && index == args.len()).then_some(&Value::Nil));
    let number = match value {
        Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => lua.coerce_number(v.clone())?,
        _ => None,
    };
    number.ok_or_else(|| arg_error(index + 1, name, "number", value))
}

/// `struct.pack(fmt, ...)`.
fn pack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<mlua::String> {
    let fmt = check_string(lua, &args, 0, "pack")?;
    let mut format = Format { bytes: &fmt, pos: 0 };
    let mut header = Header::default();
    let mut out = Vec::new();
    let mut arg = 1;
    while let Some(opt) = format.next_option() {
        let mut size = format.size(opt)?;
        out.resize(out.len() + padding(out.len(), &header, opt, size), 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(lua, &args, arg, "pack")?;
                arg += 1;
                put_integer(&mut out, n, header.endian, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = check_number(lua, &args, arg, "pack")? as f32;
                arg += 1;
                out.extend_from_slice(&ordered(f.to_le_bytes().to_vec(), header.endian));
            }
            b'd' => {
                let d = check_number(lua, &args, arg, "pack")?;
                arg += 1;
                out.extend_from_slice(&ordered(d.to_le_bytes().to_vec(), header.endian));
            }
            b'c' | b's' => {
                let s = check_string(lua, &args, arg, "pack")?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return Err(raise(format!("bad argument #{} to 'pack' (string too short)", arg + 1)));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => format.control(opt, &mut header, "pack")?,
        }
    }
    lua.create_string(out)
}

/// Little-endian bytes in the header's order.
fn ordered(mut bytes: Vec<u8>, endian: Endian) -> Vec<u8> {
    if endian == Endian::Big {
        bytes.reverse();
    }
    bytes
}

/// `putinteger`: the number as a C `long` (unsigned if not negative), its
/// low `size` bytes (zeros past the eighth).
fn put_integer(out: &mut Vec<u8>, n: f64, endian: Endian, size: usize) {
    let value = if n < 0.0 { n as i64 as u64 } else { n as u64 };
    let bytes: Vec<u8> = (0..size).map(|i| if i < 8 { (value >> (8 * i)) as u8 } else { 0 }).collect();
    out.extend_from_slice(&ordered(bytes, endian));
}

/// `getinteger`: `size` bytes as an unsigned or sign-extended C `long`
/// (bytes past the eighth shift out, as in C).
fn get_integer(data: &[u8], endian: Endian, signed: bool, size: usize) -> f64 {
    let fold = |acc: u64, &b: &u8| acc.wrapping_shl(8) | u64::from(b);
    let value = match endian {
        Endian::Big => data.iter().fold(0, fold),
        Endian::Little => data.iter().rev().fold(0, fold),
    };
    if !signed {
        return value as f64;
    }
    let mask = u64::MAX.wrapping_shl((size * 8).wrapping_sub(1) as u32);
    let value = if value & mask != 0 { value | mask } else { value };
    value as i64 as f64
}

/// `struct.unpack(fmt, data [, pos])`: the values, then the next position.
fn unpack(lua: &Lua, args: Variadic<Value>) -> mlua::Result<MultiValue> {
    let fmt = check_string(lua, &args, 0, "unpack")?;
    let data = check_string(lua, &args, 1, "unpack")?;
    let start = match args.get(2) {
        None | Some(Value::Nil) => 1.0,
        Some(_) => check_number(lua, &args, 2, "unpack")?,
    };
    let mut pos = (start as i64 as usize).wrapping_sub(1);
    if start as i64 == 0 {
        return Err(raise("bad argument #3 to 'unpack' (offset must be 1 or greater)"));
    }
    let too_short = || raise("bad argument #2 to 'unpack' (data string too short)");
    let fits = |pos: usize, size: usize| size <= data.len() && pos <= data.len() - size;
    let mut format = Format { bytes: &fmt, pos: 0 };
    let mut header = Header::default();
    let mut values: Vec<Value> = Vec::new();
    while let Some(opt) = format.next_option() {
        let mut size = format.size(opt)?;
        pos = pos.wrapping_add(padding(pos, &header, opt, size));
        if !fits(pos, size) {
            return Err(too_short());
        }
        if values.len() >= MAX_RESULTS {
            return Err(raise("stack overflow (too many results)"));
        }
        let item = &data[pos..pos + size];
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                values.push(Value::Number(get_integer(item, header.endian, opt.is_ascii_lowercase(), size)));
            }
            b'x' => {}
            b'f' => {
                let bytes = ordered(item.to_vec(), header.endian);
                let f = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                values.push(Value::Number(f64::from(f)));
            }
            b'd' => {
                let mut raw = [0u8; 8];
                raw.copy_from_slice(&ordered(item.to_vec(), header.endian));
                values.push(Value::Number(f64::from_le_bytes(raw)));
            }
            b'c' => {
                if size == 0 {
                    let previous = values.last().and_then(|v| lua.coerce_number(v.clone()).ok().flatten());
                    let Some(n) = previous else { return Err(raise("format 'c0' needs a previous size")) };
                    values.pop();
                    size = n as usize;
                    if !fits(pos, size) {
                        return Err(too_short());
                    }
                }
                values.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let rest = &data[pos..];
                let end = rest.iter().position(|&b| b == 0).ok_or_else(|| raise("unfinished string in data"))?;
                values.push(Value::String(lua.create_string(&rest[..end])?));
                size = end + 1;
            }
            _ => format.control(opt, &mut header, "unpack")?,
        }
        pos += size;
    }
    values.push(Value::Integer(pos as i64 + 1));
    Ok(MultiValue::from_vec(values))
}

/// `struct.size(fmt)`: the bytes `pack` makes for a fixed-size format.
fn size(lua: &Lua, args: Variadic<Value>) -> mlua::Result<i64> {
    let fmt = check_string(lua, &args, 0, "size")?;
    let mut format = Format { bytes: &fmt, pos: 0 };
    let mut header = Header::default();
    let mut pos = 0usize;
    while let Some(opt) = format.next_option() {
        let size = format.size(opt)?;
        pos = pos.wrapping_add(padding(pos, &header, opt, size));
        if opt == b's' {
            return Err(raise("bad argument #1 to 'size' (option 's' has no fixed size)"));
        }
        if opt == b'c' && size == 0 {
            return Err(raise("bad argument #1 to 'size' (option 'c0' has no fixed size)"));
        }
        if !opt.is_ascii_alphanumeric() {
            format.control(opt, &mut header, "size")?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(pos as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_in_both_orders() {
        for endian in [Endian::Big, Endian::Little] {
            for (n, size) in [(-2.0, 2), (1234.0, 4), (-1.0, 8), (127.0, 1), (-5.0, 1), (7.0, 12)] {
                let mut out = Vec::new();
                put_integer(&mut out, n, endian, size);
                assert_eq!(out.len(), size);
                assert_eq!(get_integer(&out, endian, true, size), n, "{n} in {size} bytes");
            }
        }
        assert_eq!(get_integer(&[0xff, 0xff], Endian::Little, false, 2), 65535.0);
    }

    #[test]
    fn alignment_follows_struct_c() {
        let header = Header { endian: Endian::Little, align: 8 };
        assert_eq!(padding(1, &header, b'i', 4), 3);
        assert_eq!(padding(1, &header, b'd', 8), 7);
        assert_eq!(padding(1, &header, b'c', 8), 0);
        assert_eq!(padding(3, &Header::default(), b'i', 4), 0);
    }
}
