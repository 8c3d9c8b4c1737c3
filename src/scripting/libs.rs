//! The libraries Redis adds to Lua: `cjson` and `bit` (LuaBitOp), written
//! to give the same results as Redis's C modules for what scripts use;
//! [`install`] also adds `cmsgpack` (`msgpack`) and `struct` (`structlib`).
//!
//! `cjson.encode` is written out by hand rather than with serde_json,
//! because Redis's cjson differs from it in ways scripts can see: it
//! escapes `/`, prints numbers with 14 significant digits, encodes an
//! empty table as `{}`, and decides between array and object by the keys.
//! `cjson.decode` parses with serde_json and converts.

use mlua::{LightUserData, Lua, Table, Value, Variadic};

use super::lua::raise_lib as raise;

/// cjson's nesting limit for encode and decode.
const MAX_DEPTH: usize = 1000;

pub fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    globals.set("cjson", cjson(lua)?)?;
    globals.set("bit", bit(lua)?)?;
    super::msgpack::install(lua, globals)?;
    super::structlib::install(lua, globals)
}

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

fn cjson(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("null", null())?;
    t.set(
        "encode",
        lua.create_function(|lua, args: Variadic<Value>| {
            let [value] = &args[..] else { return Err(raise("bad argument #1 to 'encode' (expected 1 argument)")) };
            let mut out = Vec::new();
            encode(value, &mut out, 0).map_err(raise)?;
            lua.create_string(out)
        })?,
    )?;
    t.set(
        "decode",
        lua.create_function(|lua, text: mlua::String| {
            let parsed: serde_json::Value = serde_json::from_slice(&text.as_bytes())
                .map_err(|e| raise(format!("Expected value but found invalid token at character {}", e.column())))?;
            decode(lua, &parsed, 0)
        })?,
    )?;
    Ok(t)
}

fn encode(value: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    match value {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Number(n) => encode_number(*n, out)?,
        Value::String(s) => encode_string(&s.as_bytes(), out),
        Value::Table(t) => encode_table(t, out, depth + 1)?,
        other => return Err(format!("Cannot serialise {}: type not supported", other.type_name())),
    }
    Ok(())
}

fn encode_number(n: f64, out: &mut Vec<u8>) -> Result<(), String> {
    if n.is_nan() || n.is_infinite() {
        return Err("Cannot serialise number: must not be NaN or Inf".into());
    }
    let mut buf = [0u8; 64];
    // SAFETY: the buffer holds any %.14g output; snprintf NUL-terminates.
    let len = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.14g".as_ptr(), n) };
    out.extend_from_slice(&buf[..(len.max(0) as usize).min(buf.len() - 1)]);
    Ok(())
}

fn encode_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// The length of the table as an array (every key a positive integer),
/// or None for an object. cjson refuses arrays that are mostly holes.
fn array_len(t: &Table) -> Result<Option<usize>, String> {
    let mut max = 0usize;
    let mut count = 0usize;
    for pair in t.pairs::<Value, Value>() {
        let (key, _) = pair.map_err(|e| e.to_string())?;
        let index = match key {
            Value::Integer(i) if i >= 1 => i as usize,
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => n as usize,
            _ => return Ok(None),
        };
        max = max.max(index);
        count += 1;
    }
    if max > 10 && max > count * 2 {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok(Some(max))
}

fn encode_table(t: &Table, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("Cannot serialise, excessive nesting ({depth})"));
    }
    match array_len(t)? {
        Some(len) if len > 0 => {
            out.push(b'[');
            for i in 1..=len {
                if i > 1 {
                    out.push(b',');
                }
                encode(&t.raw_get::<Value>(i).map_err(|e| e.to_string())?, out, depth)?;
            }
            out.push(b']');
        }
        _ => {
            out.push(b'{');
            let mut first = true;
            for pair in t.pairs::<Value, Value>() {
                let (key, value) = pair.map_err(|e| e.to_string())?;
                if !first {
                    out.push(b',');
                }
                first = false;
                match &key {
                    Value::String(s) => encode_string(&s.as_bytes(), out),
                    Value::Integer(_) | Value::Number(_) => {
                        out.push(b'"');
                        encode(&key, out, depth)?;
                        out.push(b'"');
                    }
                    _ => return Err("Cannot serialise table: table key must be a number or string".into()),
                }
                out.push(b':');
                encode(&value, out, depth)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn decode(lua: &Lua, value: &serde_json::Value, depth: usize) -> mlua::Result<Value> {
    if depth > MAX_DEPTH {
        return Err(raise("Found too many nested data structures"));
    }
    Ok(match value {
        serde_json::Value::Null => null(),
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::String(lua.create_string(s)?),
        serde_json::Value::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, decode(lua, item, depth + 1)?)?;
            }
            Value::Table(t)
        }
        serde_json::Value::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, v) in map {
                t.raw_set(lua.create_string(k)?, decode(lua, v, depth + 1)?)?;
            }
            Value::Table(t)
        }
    })
}

/// LuaBitOp's normalisation of a number to a signed 32-bit integer: the
/// low 32 bits of the number rounded to an integer.
fn tobit(n: f64) -> i32 {
    (n + 6_755_399_441_055_744.0).to_bits() as u32 as i32
}

fn arg(args: &[f64], i: usize, name: &str) -> mlua::Result<i32> {
    args.get(i)
        .map(|&n| tobit(n))
        .ok_or_else(|| raise(format!("bad argument #{} to '{name}' (number expected, got no value)", i + 1)))
}

fn bit(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    type Op = fn(&[f64]) -> mlua::Result<i32>;
    let ops: [(&str, Op); 11] = [
        ("tobit", |a| arg(a, 0, "tobit")),
        ("bnot", |a| Ok(!arg(a, 0, "bnot")?)),
        ("band", |a| fold(a, "band", |x, y| x & y)),
        ("bor", |a| fold(a, "bor", |x, y| x | y)),
        ("bxor", |a| fold(a, "bxor", |x, y| x ^ y)),
        ("lshift", |a| Ok(((arg(a, 0, "lshift")? as u32) << (arg(a, 1, "lshift")? & 31)) as i32)),
        ("rshift", |a| Ok(((arg(a, 0, "rshift")? as u32) >> (arg(a, 1, "rshift")? & 31)) as i32)),
        ("arshift", |a| Ok(arg(a, 0, "arshift")? >> (arg(a, 1, "arshift")? & 31))),
        ("rol", |a| Ok((arg(a, 0, "rol")? as u32).rotate_left(arg(a, 1, "rol")? as u32 & 31) as i32)),
        ("ror", |a| Ok((arg(a, 0, "ror")? as u32).rotate_right(arg(a, 1, "ror")? as u32 & 31) as i32)),
        ("bswap", |a| Ok(arg(a, 0, "bswap")?.swap_bytes())),
    ];
    for (name, op) in ops {
        t.set(name, lua.create_function(move |_, args: Variadic<f64>| Ok(f64::from(op(&args)?)))?)?;
    }
    t.set(
        "tohex",
        lua.create_function(|_, args: Variadic<f64>| {
            let value = arg(&args, 0, "tohex")? as u32;
            let n = args.get(1).map_or(8, |&n| tobit(n));
            let digits = n.unsigned_abs().clamp(1, 8) as usize;
            let hex = if n < 0 { format!("{value:08X}") } else { format!("{value:08x}") };
            Ok(hex[8 - digits..].to_string())
        })?,
    )?;
    Ok(t)
}

fn fold(args: &[f64], name: &str, op: fn(i32, i32) -> i32) -> mlua::Result<i32> {
    let first = arg(args, 0, name)?;
    Ok(args[1..].iter().fold(first, |acc, &n| op(acc, tobit(n))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tobit_wraps_like_luabitop() {
        assert_eq!(tobit(4294967295.0), -1);
        assert_eq!(tobit(2147483648.0), i32::MIN);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(7.0), 7);
    }

    #[test]
    fn strings_escape_as_cjson() {
        let mut out = Vec::new();
        encode_string(b"a/b\"\n\x01", &mut out);
        assert_eq!(out, b"\"a\\/b\\\"\\n\\u0001\"");
    }
}
