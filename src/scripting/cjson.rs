//! `cjson`, the JSON library Redis gives scripts (its vendored lua-cjson
//! 2.1.0): `encode`, `decode`, `null`, `new` and the settings functions
//! (`encode_sparse_array`, `encode_max_depth`, `decode_max_depth`,
//! `encode_number_precision`, `encode_keep_buffer`,
//! `encode_invalid_numbers`, `decode_invalid_numbers`), with lua-cjson's
//! defaults, results and error texts.
//!
//! Written out rather than with serde_json because scripts see lua-cjson's
//! own choices: `/` is escaped, numbers print with `%.14g`, an empty table
//! is `{}`, array or object is decided by the keys, the decoder accepts
//! what `strtod` accepts (`+1`, `0x10`, `NaN`) and reports errors by token
//! name and character position.
//!
//! The settings live in the module table's functions (one [`Config`] per
//! `cjson` table, `cjson.new()` makes another) and, as in Redis, last
//! across scripts. Nesting is bounded by [`MAX_NESTING`] whatever the
//! settings say: each level holds Lua references, of which a state has
//! about 8000.

use std::cell::RefCell;
use std::rc::Rc;

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

use super::lua::{lib_function, raise_lib as raise};

/// The deepest nesting encode and decode go to, whatever the settings
/// (Redis's Lua stops near 8000, at its C stack's size).
const MAX_NESTING: i32 = 1000;

/// lua-cjson's settings, with its defaults.
#[derive(Debug, Clone, Copy)]
struct Config {
    sparse_convert: bool,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0 refuse NaN and Inf, 1 print them, 2 print `null`.
    encode_invalid_numbers: i32,
    decode_invalid_numbers: bool,
    keep_buffer: bool,
    precision: i32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: true,
            keep_buffer: true,
            precision: 14,
        }
    }
}

type Shared = Rc<RefCell<Config>>;

pub fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// A `cjson` module table with settings of its own.
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let cfg: Shared = Rc::default();
    let with = |f: fn(&Lua, &Shared, MultiValue) -> mlua::Result<MultiValue>| {
        let cfg = Rc::clone(&cfg);
        lib_function(lua, move |lua, args: MultiValue| f(lua, &cfg, args))
    };
    t.set("encode", with(encode)?)?;
    t.set("decode", with(decode)?)?;
    t.set("encode_sparse_array", with(cfg_sparse_array)?)?;
    t.set(
        "encode_max_depth",
        with(|lua, cfg, args| integer_setting(lua, cfg, args, |c| &mut c.encode_max_depth, i32::MAX))?,
    )?;
    t.set(
        "decode_max_depth",
        with(|lua, cfg, args| integer_setting(lua, cfg, args, |c| &mut c.decode_max_depth, i32::MAX))?,
    )?;
    t.set(
        "encode_number_precision",
        with(|lua, cfg, args| integer_setting(lua, cfg, args, |c| &mut c.precision, 14))?,
    )?;
    t.set("encode_keep_buffer", with(|lua, cfg, args| bool_setting(lua, cfg, args, |c| &mut c.keep_buffer))?)?;
    t.set("encode_invalid_numbers", with(cfg_encode_invalid)?)?;
    t.set(
        "decode_invalid_numbers",
        with(|lua, cfg, args| bool_setting(lua, cfg, args, |c| &mut c.decode_invalid_numbers))?,
    )?;
    t.set("new", lib_function(lua, |lua, ()| module(lua))?)?;
    t.set("null", null())?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    Ok(t)
}

fn arg_error(n: usize, message: &str) -> mlua::Error {
    raise(format!("bad argument #{n} to '?' ({message})"))
}

/// `json_arg_init`: at most `count` arguments, missing ones are nil.
fn settings_args(args: MultiValue, count: usize) -> mlua::Result<Vec<Value>> {
    let mut args: Vec<Value> = args.into_iter().collect();
    if args.len() > count {
        return Err(arg_error(count + 1, "found too many arguments"));
    }
    args.resize(count, Value::Nil);
    Ok(args)
}

/// `luaL_checkinteger` (a numeric string counts), truncated to C's int.
fn check_integer(lua: &Lua, value: &Value, n: usize) -> mlua::Result<i32> {
    match value {
        Value::Integer(i) => Ok(*i as i32),
        Value::Number(x) => Ok(*x as i64 as i32),
        Value::String(_) => match lua.coerce_number(value.clone())? {
            Some(x) => Ok(x as i64 as i32),
            None => Err(arg_error(n, "number expected, got string")),
        },
        other => Err(arg_error(n, &format!("number expected, got {}", type_name(other)))),
    }
}

/// Lua's name for a value's type (`lua_typename`).
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::LightUserData(_) | Value::UserData(_) => "userdata",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// `json_integer_option`: set the value if given (between `min` and
/// `max`; lua-cjson names argument 1 in the error whichever it was), and
/// return the value in force.
fn integer_option(lua: &Lua, value: &Value, setting: &mut i32, min: i32, max: i32) -> mlua::Result<Value> {
    if !value.is_nil() {
        let n = check_integer(lua, value, 1)?;
        if n < min || n > max {
            return Err(arg_error(1, &format!("expected integer between {min} and {max}")));
        }
        *setting = n;
    }
    Ok(Value::Integer(i64::from(*setting)))
}

/// `json_enum_option`: a boolean, or one of `options` by name (its
/// index); nil keeps `setting`.
fn enum_option(value: &Value, setting: i32, options: &[&str]) -> mlua::Result<i32> {
    match value {
        Value::Nil => Ok(setting),
        Value::Boolean(b) => Ok(i32::from(*b)),
        Value::String(s) => {
            let name = s.as_bytes();
            match options.iter().position(|o| o.as_bytes() == &name[..]) {
                Some(index) => Ok(index as i32),
                None => Err(arg_error(1, &format!("invalid option '{}'", s.to_string_lossy()))),
            }
        }
        Value::Integer(i) => Err(arg_error(1, &format!("invalid option '{i}'"))),
        Value::Number(x) => Err(arg_error(1, &format!("invalid option '{}'", super::lua::format_g(*x, 14)))),
        other => Err(arg_error(1, &format!("string expected, got {}", type_name(other)))),
    }
}

/// What a setting function answers for an enumerated setting: a boolean
/// for off and on, else the option's name (`null`).
fn enum_value(lua: &Lua, value: i32) -> mlua::Result<Value> {
    Ok(match value {
        0 => Value::Boolean(false),
        1 => Value::Boolean(true),
        _ => Value::String(lua.create_string("null")?),
    })
}

fn one(value: Value) -> MultiValue {
    MultiValue::from_vec(vec![value])
}

fn bool_setting(
    lua: &Lua,
    cfg: &Shared,
    args: MultiValue,
    field: fn(&mut Config) -> &mut bool,
) -> mlua::Result<MultiValue> {
    let args = settings_args(args, 1)?;
    let mut config = cfg.borrow_mut();
    let slot = field(&mut config);
    let value = enum_option(&args[0], i32::from(*slot), &["off", "on"])?;
    *slot = value != 0;
    Ok(one(enum_value(lua, value)?))
}

fn integer_setting(
    lua: &Lua,
    cfg: &Shared,
    args: MultiValue,
    field: fn(&mut Config) -> &mut i32,
    max: i32,
) -> mlua::Result<MultiValue> {
    let args = settings_args(args, 1)?;
    Ok(one(integer_option(lua, &args[0], field(&mut cfg.borrow_mut()), 1, max)?))
}

/// `encode_sparse_array([convert[, ratio[, safe]]])`: all three back.
fn cfg_sparse_array(lua: &Lua, cfg: &Shared, args: MultiValue) -> mlua::Result<MultiValue> {
    let args = settings_args(args, 3)?;
    let mut config = cfg.borrow_mut();
    let convert = enum_option(&args[0], i32::from(config.sparse_convert), &["off", "on"])?;
    config.sparse_convert = convert != 0;
    let ratio = integer_option(lua, &args[1], &mut config.sparse_ratio, 0, i32::MAX)?;
    let safe = integer_option(lua, &args[2], &mut config.sparse_safe, 0, i32::MAX)?;
    Ok(MultiValue::from_vec(vec![enum_value(lua, convert)?, ratio, safe]))
}

/// `encode_invalid_numbers([off|on|null|true|false])`.
fn cfg_encode_invalid(lua: &Lua, cfg: &Shared, args: MultiValue) -> mlua::Result<MultiValue> {
    let args = settings_args(args, 1)?;
    let mut config = cfg.borrow_mut();
    config.encode_invalid_numbers = enum_option(&args[0], config.encode_invalid_numbers, &["off", "on", "null"])?;
    Ok(one(enum_value(lua, config.encode_invalid_numbers)?))
}

/// `cjson.encode(value)`.
fn encode(lua: &Lua, cfg: &Shared, args: MultiValue) -> mlua::Result<MultiValue> {
    let [value] = &args.into_iter().collect::<Vec<_>>()[..] else {
        return Err(arg_error(1, "expected 1 argument"));
    };
    let mut encoder = Encoder { cfg: *cfg.borrow(), out: Vec::new() };
    encoder.value(value, 0).map_err(raise)?;
    Ok(one(Value::String(lua.create_string(&encoder.out)?)))
}

struct Encoder {
    cfg: Config,
    out: Vec<u8>,
}

fn cannot_serialise(value: &Value, reason: &str) -> String {
    format!("Cannot serialise {}: {reason}", type_name(value))
}

impl Encoder {
    fn value(&mut self, value: &Value, depth: i32) -> Result<(), String> {
        if self.out.len() > super::LUA_MEMORY_LIMIT {
            return Err("not enough memory".into());
        }
        match value {
            Value::String(s) => self.string(&s.as_bytes()),
            Value::Integer(i) => self.number(value, *i as f64)?,
            Value::Number(n) => self.number(value, *n)?,
            Value::Boolean(b) => self.out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Table(t) => self.table(t, depth + 1)?,
            Value::Nil => self.out.extend_from_slice(b"null"),
            Value::LightUserData(p) if p.0.is_null() => self.out.extend_from_slice(b"null"),
            other => return Err(cannot_serialise(other, "type not supported")),
        }
        Ok(())
    }

    fn string(&mut self, s: &[u8]) {
        self.out.push(b'"');
        for &b in s {
            match b {
                b'"' => self.out.extend_from_slice(b"\\\""),
                b'\\' => self.out.extend_from_slice(b"\\\\"),
                b'/' => self.out.extend_from_slice(b"\\/"),
                b'\n' => self.out.extend_from_slice(b"\\n"),
                b'\r' => self.out.extend_from_slice(b"\\r"),
                b'\t' => self.out.extend_from_slice(b"\\t"),
                0x08 => self.out.extend_from_slice(b"\\b"),
                0x0c => self.out.extend_from_slice(b"\\f"),
                0..=0x1f | 0x7f => self.out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
                _ => self.out.push(b),
            }
        }
        self.out.push(b'"');
    }

    /// `json_append_number`: NaN and Inf by the setting, then `%.<precision>g`.
    fn number(&mut self, value: &Value, n: f64) -> Result<(), String> {
        let text = match self.cfg.encode_invalid_numbers {
            0 if !n.is_finite() => return Err(cannot_serialise(value, "must not be NaN or Inf")),
            1 if n.is_nan() => "nan".to_string(),
            2 if !n.is_finite() => "null".to_string(),
            _ => super::lua::format_g(n, self.cfg.precision),
        };
        self.out.extend_from_slice(text.as_bytes());
        Ok(())
    }

    /// The table's length as an array, or None for an object (`lua_array_length`).
    fn array_len(&self, t: &Table) -> Result<Option<usize>, String> {
        let (mut max, mut items) = (0f64, 0f64);
        for pair in t.pairs::<Value, Value>() {
            let (key, _) = pair.map_err(|e| e.to_string())?;
            let k = match key {
                Value::Integer(i) => i as f64,
                Value::Number(n) => n,
                _ => return Ok(None),
            };
            if k == 0.0 || k.floor() != k || k < 1.0 {
                return Ok(None);
            }
            max = max.max(k);
            items += 1.0;
        }
        let cfg = &self.cfg;
        if cfg.sparse_ratio > 0 && max > items * f64::from(cfg.sparse_ratio) && max > f64::from(cfg.sparse_safe) {
            if !cfg.sparse_convert {
                return Err("Cannot serialise table: excessively sparse array".into());
            }
            return Ok(None);
        }
        Ok(Some(max as usize))
    }

    fn table(&mut self, t: &Table, depth: i32) -> Result<(), String> {
        if depth > self.cfg.encode_max_depth || depth > MAX_NESTING {
            return Err(format!("Cannot serialise, excessive nesting ({depth})"));
        }
        match self.array_len(t)? {
            Some(len) if len > 0 => {
                self.out.push(b'[');
                for i in 1..=len {
                    if i > 1 {
                        self.out.push(b',');
                    }
                    self.value(&t.raw_get::<Value>(i).map_err(|e| e.to_string())?, depth)?;
                }
                self.out.push(b']');
            }
            _ => self.object(t, depth)?,
        }
        Ok(())
    }

    fn object(&mut self, t: &Table, depth: i32) -> Result<(), String> {
        self.out.push(b'{');
        for (i, pair) in t.pairs::<Value, Value>().enumerate() {
            let (key, value) = pair.map_err(|e| e.to_string())?;
            if i > 0 {
                self.out.push(b',');
            }
            match &key {
                Value::Integer(_) | Value::Number(_) => {
                    self.out.push(b'"');
                    self.value(&key, depth)?;
                    self.out.extend_from_slice(b"\":");
                }
                Value::String(s) => {
                    self.string(&s.as_bytes());
                    self.out.push(b':');
                }
                other => return Err(cannot_serialise(other, "table key must be a number or string")),
            }
            self.value(&value, depth)?;
        }
        self.out.push(b'}');
        Ok(())
    }
}

/// `cjson.decode(text)`.
fn decode(lua: &Lua, cfg: &Shared, args: MultiValue) -> mlua::Result<MultiValue> {
    let [input] = &args.into_iter().collect::<Vec<_>>()[..] else {
        return Err(arg_error(1, "expected 1 argument"));
    };
    let text = match input {
        Value::String(_) | Value::Integer(_) | Value::Number(_) => lua.coerce_string(input.clone())?,
        _ => None,
    };
    let Some(text) = text else {
        return Err(arg_error(1, &format!("string expected, got {}", type_name(input))));
    };
    let mut data = text.as_bytes().to_vec();
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(raise("JSON parser does not support UTF-16 or UTF-32"));
    }
    // lua-cjson reads a C string: the text ends at its first NUL.
    data.push(0);
    let mut parser = Parser { lua, data: &data, pos: 0, cfg: *cfg.borrow(), depth: 0 };
    Ok(one(parser.document().map_err(raise)?))
}

/// A token, as lua-cjson's `json_token_type_t`.
enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Number(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    /// What was wrong (`invalid token`, `invalid number`, ...).
    Error(&'static str),
}

impl Token {
    /// The name errors give a token (`T_END`), or the error's text.
    fn name(&self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::Str(_) => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Bool(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(what) => what,
        }
    }
}

/// A container being filled: an array and its next index, or an object
/// and the key of the value being read.
enum Frame {
    Array(Table, i64),
    Object(Table, mlua::String),
}

struct Parser<'a> {
    lua: &'a Lua,
    /// The text with a NUL after it.
    data: &'a [u8],
    pos: usize,
    cfg: Config,
    depth: i32,
}

impl Parser<'_> {
    fn at(&self, offset: usize) -> u8 {
        self.data.get(self.pos + offset).copied().unwrap_or(0)
    }

    fn lua_err(e: mlua::Error) -> String {
        e.to_string()
    }

    /// The whole text: one value, then nothing. Containers are filled with
    /// an explicit stack, not recursion.
    fn document(&mut self) -> Result<Value, String> {
        let mut stack: Vec<Frame> = Vec::new();
        let (mut token, mut index) = self.next_token();
        'value: loop {
            let mut value = match token {
                Token::Str(s) => Value::String(self.lua.create_string(s).map_err(Self::lua_err)?),
                Token::Number(n) => Value::Number(n),
                Token::Bool(b) => Value::Boolean(b),
                Token::Null => null(),
                Token::ObjBegin | Token::ArrBegin => {
                    let object = matches!(token, Token::ObjBegin);
                    self.descend()?;
                    let table = self.lua.create_table().map_err(Self::lua_err)?;
                    (token, index) = self.next_token();
                    match (&token, object) {
                        (Token::ObjEnd, true) | (Token::ArrEnd, false) => {
                            self.depth -= 1;
                            Value::Table(table)
                        }
                        (_, true) => {
                            let key = self.object_key(token, index)?;
                            stack.push(Frame::Object(table, key));
                            (token, index) = self.next_token();
                            continue 'value;
                        }
                        (_, false) => {
                            stack.push(Frame::Array(table, 1));
                            continue 'value;
                        }
                    }
                }
                other => return Err(parse_error("value", &other, index)),
            };
            // Store the value in its container; a container that ends here
            // is itself the next value to store.
            loop {
                let Some(frame) = stack.last_mut() else {
                    let (token, index) = self.next_token();
                    if !matches!(token, Token::End) {
                        return Err(parse_error("the end", &token, index));
                    }
                    return Ok(value);
                };
                let (table, end, expected) = match frame {
                    Frame::Array(table, i) => {
                        table.raw_set(*i, value).map_err(Self::lua_err)?;
                        *i += 1;
                        (table.clone(), true, "comma or array end")
                    }
                    Frame::Object(table, key) => {
                        table.raw_set(&*key, value).map_err(Self::lua_err)?;
                        (table.clone(), false, "comma or object end")
                    }
                };
                (token, index) = self.next_token();
                match (&token, end) {
                    (Token::ArrEnd, true) | (Token::ObjEnd, false) => {
                        self.depth -= 1;
                        stack.pop();
                        value = Value::Table(table);
                    }
                    (Token::Comma, _) => {
                        (token, index) = self.next_token();
                        if let Some(Frame::Object(_, key)) = stack.last_mut() {
                            *key = self.object_key(token, index)?;
                            (token, index) = self.next_token();
                        }
                        continue 'value;
                    }
                    _ => return Err(parse_error(expected, &token, index)),
                }
            }
        }
    }

    /// An object's key and the colon after it.
    fn object_key(&mut self, token: Token, index: usize) -> Result<mlua::String, String> {
        let Token::Str(key) = token else { return Err(parse_error("object key string", &token, index)) };
        let key = self.lua.create_string(key).map_err(Self::lua_err)?;
        let (token, index) = self.next_token();
        if !matches!(token, Token::Colon) {
            return Err(parse_error("colon", &token, index));
        }
        Ok(key)
    }

    fn descend(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > self.cfg.decode_max_depth || self.depth > MAX_NESTING {
            return Err(format!("Found too many nested data structures ({}) at character {}", self.depth, self.pos));
        }
        Ok(())
    }

    /// `json_next_token`: the next token and where it starts.
    fn next_token(&mut self) -> (Token, usize) {
        while matches!(self.at(0), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let start = self.pos;
        let single = match self.at(0) {
            b'{' => Some(Token::ObjBegin),
            b'}' => Some(Token::ObjEnd),
            b'[' => Some(Token::ArrBegin),
            b']' => Some(Token::ArrEnd),
            b',' => Some(Token::Comma),
            b':' => Some(Token::Colon),
            _ => None,
        };
        if let Some(token) = single {
            self.pos += 1;
            return (token, start);
        }
        let token = match self.at(0) {
            0 => Token::End,
            b'"' => self.string(),
            b'-' | b'0'..=b'9' if !self.cfg.decode_invalid_numbers && self.invalid_number() => {
                Token::Error("invalid number")
            }
            b'-' | b'0'..=b'9' => self.number(),
            b't' | b'f' | b'n' | b'i' | b'I' | b'N' | b'+' => self.word(),
            _ => Token::Error("invalid token"),
        };
        // An error token's position is where the error was found.
        let index = if matches!(token, Token::Error(_)) { self.pos } else { start };
        (token, index)
    }

    fn word(&mut self) -> Token {
        let rest = &self.data[self.pos..];
        for (word, token) in [(&b"true"[..], Token::Bool(true)), (b"false", Token::Bool(false)), (b"null", Token::Null)]
        {
            if rest.starts_with(word) {
                self.pos += word.len();
                return token;
            }
        }
        if self.cfg.decode_invalid_numbers && self.invalid_number() {
            return self.number();
        }
        Token::Error("invalid token")
    }

    /// `json_is_invalid_number`: what strtod takes but JSON does not.
    fn invalid_number(&self) -> bool {
        let mut p = self.pos;
        let byte = |i: usize| self.data.get(i).copied().unwrap_or(0);
        if byte(p) == b'+' {
            return true;
        }
        if byte(p) == b'-' {
            p += 1;
        }
        if byte(p) == b'0' {
            let next = byte(p + 1);
            return next | 0x20 == b'x' || next.is_ascii_digit();
        }
        if byte(p) <= b'9' {
            return false;
        }
        let head: Vec<u8> = (0..3).map(|i| byte(p + i).to_ascii_lowercase()).collect();
        head == b"inf" || head == b"nan"
    }

    /// A number as `strtod` reads it.
    fn number(&mut self) -> Token {
        let start = self.data[self.pos..].as_ptr().cast::<libc::c_char>();
        let mut end = start.cast_mut();
        // SAFETY: `data` ends with a NUL, so strtod stops inside it; `end`
        // points into the same buffer.
        let n = unsafe { libc::strtod(start, &mut end) };
        let used = end as usize - start as usize;
        if used == 0 {
            return Token::Error("invalid number");
        }
        self.pos += used;
        Token::Number(n)
    }

    /// `json_next_string_token`: from the opening quote.
    fn string(&mut self) -> Token {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let ch = self.at(0);
            match ch {
                b'"' => break,
                0 => return Token::Error("unexpected end of string"),
                b'\\' => {
                    let escaped = match self.at(1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => 0x0c,
                        b'r' => b'\r',
                        b'u' => match self.unicode_escape(&mut out) {
                            Some(()) => continue,
                            None => return Token::Error("invalid unicode escape code"),
                        },
                        _ => return Token::Error("invalid escape code"),
                    };
                    out.push(escaped);
                    self.pos += 2;
                }
                _ => {
                    out.push(ch);
                    self.pos += 1;
                }
            }
        }
        self.pos += 1;
        Token::Str(out)
    }

    fn hex4(&self, offset: usize) -> Option<u32> {
        (0..4).try_fold(0u32, |acc, i| Some(acc << 4 | char::from(self.at(offset + i)).to_digit(16)?))
    }

    /// `\uXXXX` (or a surrogate pair) as UTF-8, at `pos`.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let mut codepoint = self.hex4(2)?;
        let mut len = 6;
        if codepoint & 0xF800 == 0xD800 {
            if codepoint & 0x400 != 0 || self.at(6) != b'\\' || self.at(7) != b'u' {
                return None;
            }
            let low = self.hex4(8)?;
            if low & 0xFC00 != 0xDC00 {
                return None;
            }
            codepoint = (((codepoint & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let mut buf = [0u8; 4];
        // Lone low surrogates are encoded as they are, as lua-cjson does.
        let bytes: &[u8] = match char::from_u32(codepoint) {
            Some(c) => c.encode_utf8(&mut buf).as_bytes(),
            None => {
                buf[0] = 0xE0 | (codepoint >> 12) as u8;
                buf[1] = 0x80 | ((codepoint >> 6) & 0x3F) as u8;
                buf[2] = 0x80 | (codepoint & 0x3F) as u8;
                &buf[..3]
            }
        };
        out.extend_from_slice(bytes);
        self.pos += len;
        Some(())
    }
}

fn parse_error(expected: &str, found: &Token, index: usize) -> String {
    format!("Expected {expected} but found {} at character {}", found.name(), index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_text(text: &str) -> Result<String, String> {
        let lua = Lua::new();
        let data = [text.as_bytes(), b"\0"].concat();
        let mut parser = Parser { lua: &lua, data: &data, pos: 0, cfg: Config::default(), depth: 0 };
        let value = parser.document()?;
        let mut encoder = Encoder { cfg: Config::default(), out: Vec::new() };
        encoder.value(&value, 0)?;
        Ok(String::from_utf8_lossy(&encoder.out).into_owned())
    }

    #[test]
    fn decode_errors_name_the_token_and_position() {
        assert_eq!(decode_text("[").unwrap_err(), "Expected value but found T_END at character 2");
        assert_eq!(
            decode_text("{\"a\":1,}").unwrap_err(),
            "Expected object key string but found T_OBJ_END at character 8"
        );
        assert_eq!(decode_text(" [1, 2 ").unwrap_err(), "Expected comma or array end but found T_END at character 8");
        assert_eq!(decode_text("tru").unwrap_err(), "Expected value but found invalid token at character 1");
        assert_eq!(
            decode_text("\"abc").unwrap_err(),
            "Expected value but found unexpected end of string at character 5"
        );
        assert_eq!(decode_text("1 2").unwrap_err(), "Expected the end but found T_NUMBER at character 3");
        assert_eq!(decode_text("{\"a\" 2}").unwrap_err(), "Expected colon but found T_NUMBER at character 6");
        assert_eq!(decode_text("-").unwrap_err(), "Expected value but found invalid number at character 1");
        assert_eq!(
            decode_text("\"\\ud800\"").unwrap_err(),
            "Expected value but found invalid unicode escape code at character 2"
        );
        assert_eq!(
            decode_text(&"[".repeat(1001)).unwrap_err(),
            "Found too many nested data structures (1001) at character 1001"
        );
    }

    #[test]
    fn decode_accepts_what_strtod_does() {
        assert_eq!(decode_text("+1").unwrap(), "1");
        assert_eq!(decode_text("0x10").unwrap(), "16");
        assert_eq!(
            decode_text("[1,{\"a\":[true,null]},\"\\u00e9\\/\"]").unwrap(),
            "[1,{\"a\":[true,null]},\"\u{e9}\\/\"]"
        );
        assert_eq!(decode_text("{}").unwrap(), "{}");
        assert_eq!(decode_text("[[]]").unwrap(), "[{}]");
    }
}
