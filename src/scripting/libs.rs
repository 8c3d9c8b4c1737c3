//! The libraries Redis adds to Lua: `bit` (LuaBitOp), written to give the
//! same results as Redis's C module; [`install`] also adds `cjson`
//! (`cjson`), `cmsgpack` (`msgpack`) and `struct` (`structlib`).

use mlua::{Lua, Table, Variadic};

use super::lua::{lib_function, raise_lib as raise};

pub fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    globals.set("cjson", super::cjson::module(lua)?)?;
    globals.set("bit", bit(lua)?)?;
    super::msgpack::install(lua, globals)?;
    super::structlib::install(lua, globals)
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
        t.set(name, lib_function(lua, move |_, args: Variadic<f64>| Ok(f64::from(op(&args)?)))?)?;
    }
    t.set(
        "tohex",
        lib_function(lua, |_, args: Variadic<f64>| {
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
}
