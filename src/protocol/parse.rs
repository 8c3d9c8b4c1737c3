//! Incremental request parser: RESP multibulk frames and inline commands.
//!
//! A connection feeds its whole unconsumed read buffer to [`Parser::parse`]
//! after every read. The parser either returns one complete command (as
//! offsets into that buffer, so no argument is copied), asks for more bytes,
//! or reports a protocol error with Redis's exact text. When a frame is cut
//! short the parser remembers how far it got, so a 512 MiB bulk that arrives
//! in thousands of reads is scanned once, not once per read.
//!
//! Nothing is ever allocated from a length the client declared: the argument
//! list grows one entry per argument actually received, and the caller grows
//! its buffer only as bytes arrive.

use std::ops::Range;

/// Longest inline command or multibulk/bulk header line accepted, like
/// Redis's `PROTO_INLINE_MAX_SIZE`.
pub const MAX_INLINE_LEN: usize = 64 * 1024;

/// Largest multibulk count, like Redis (`INT_MAX`).
const MAX_MULTIBULK_LEN: i64 = i32::MAX as i64;

/// Before a connection authenticates it may only send small frames, as in
/// Redis: this keeps unauthenticated peers from making the server buffer much.
const UNAUTHENTICATED_MAX_ARGS: i64 = 10;
const UNAUTHENTICATED_MAX_BULK: i64 = 16 * 1024;

/// Limits the parser enforces on one frame.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest bulk string accepted (`proto-max-bulk-len`).
    pub max_bulk_len: u64,
    /// False until the connection has authenticated when a password is set.
    pub authenticated: bool,
}

/// A malformed request. The connection replies with the message as an `ERR`
/// error and then closes, as Redis does: after a framing error the byte
/// stream cannot be trusted to resynchronise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    TooBigInline,
    UnbalancedQuotes,
    TooBigMultibulkCount,
    InvalidMultibulkLength,
    UnauthenticatedMultibulkLength,
    ExpectedDollar(u8),
    TooBigBulkCount,
    InvalidBulkLength,
    UnauthenticatedBulkLength,
    MissingBulkTerminator,
}

impl ProtocolError {
    /// The error text sent to the client (without the leading `-ERR `).
    pub fn message(&self) -> String {
        let detail = match self {
            Self::TooBigInline => "too big inline request".to_string(),
            Self::UnbalancedQuotes => "unbalanced quotes in request".to_string(),
            Self::TooBigMultibulkCount => "too big mbulk count string".to_string(),
            Self::InvalidMultibulkLength => "invalid multibulk length".to_string(),
            Self::UnauthenticatedMultibulkLength => "unauthenticated multibulk length".to_string(),
            Self::ExpectedDollar(got) => format!("expected '$', got '{}'", char::from(*got)),
            Self::TooBigBulkCount => "too big bulk count string".to_string(),
            Self::InvalidBulkLength => "invalid bulk length".to_string(),
            Self::UnauthenticatedBulkLength => "unauthenticated bulk length".to_string(),
            Self::MissingBulkTerminator => "expected '\\r\\n' after bulk data".to_string(),
        };
        format!("Protocol error: {detail}")
    }
}

/// What one call to [`Parser::parse`] found at the front of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A complete command of this many bytes; read it with [`Parser::args`].
    Command(usize),
    /// A frame with no command in it (`*0`, `*-1`, an empty inline line):
    /// skip this many bytes.
    Empty(usize),
    /// The frame is not complete yet.
    Incomplete,
    Error(ProtocolError),
}

/// Resumable parse state for the frame at the front of the buffer.
#[derive(Debug, Default)]
pub struct Parser {
    /// Offset, from the start of the frame, of the next byte to look at.
    pos: usize,
    /// Arguments still to read in the current multibulk frame (0 = none begun).
    remaining: usize,
    /// Length of the bulk whose header has been read but whose data has not.
    pending_bulk: Option<usize>,
    /// Argument ranges, relative to the frame start (or to `inline` below).
    args: Vec<Range<usize>>,
    /// Inline commands are unquoted into this scratch buffer.
    inline: Vec<u8>,
    is_inline: bool,
}

/// The arguments of one parsed command, borrowed from the read buffer.
pub struct Args<'a> {
    base: &'a [u8],
    ranges: &'a [Range<usize>],
}

impl<'a> Args<'a> {
    pub fn new(base: &'a [u8], ranges: &'a [Range<usize>]) -> Self {
        Self { base, ranges }
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Argument `i` (0 is the command name). Panics if out of range, so
    /// callers check arity first, which the dispatcher does for them.
    pub fn get(&self, i: usize) -> &'a [u8] {
        &self.base[self.ranges[i].clone()]
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + '_ {
        self.ranges.iter().map(|r| &self.base[r.clone()])
    }
}

impl Parser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse the frame at the front of `buf`. `buf` must start where the
    /// previous complete frame ended and may grow between calls.
    pub fn parse(&mut self, buf: &[u8], limits: Limits) -> Parsed {
        if buf.is_empty() {
            return Parsed::Incomplete;
        }
        if self.remaining == 0 && self.pos == 0 && buf[0] != b'*' {
            return self.parse_inline(buf);
        }
        self.parse_multibulk(buf, limits)
    }

    /// The arguments of the command just returned by [`Parsed::Command`].
    pub fn args<'a>(&'a self, buf: &'a [u8]) -> Args<'a> {
        let base = if self.is_inline { &self.inline[..] } else { buf };
        Args::new(base, &self.args)
    }

    /// Forget the finished frame so the next call starts a new one.
    pub fn reset(&mut self) {
        self.pos = 0;
        self.remaining = 0;
        self.pending_bulk = None;
        self.args.clear();
        self.is_inline = false;
        if self.inline.capacity() > MAX_INLINE_LEN {
            self.inline = Vec::new();
        }
    }

    /// Drop spare capacity held by a connection that has gone idle.
    pub fn shrink(&mut self) {
        self.args.shrink_to(16);
        self.inline = Vec::new();
    }

    fn parse_multibulk(&mut self, buf: &[u8], limits: Limits) -> Parsed {
        if self.remaining == 0 {
            let (count, next) = match read_header(buf, 0, b'*') {
                Header::Incomplete => return Parsed::Incomplete,
                Header::TooLong => return Parsed::Error(ProtocolError::TooBigMultibulkCount),
                Header::Invalid => return Parsed::Error(ProtocolError::InvalidMultibulkLength),
                Header::Value(count, next) => (count, next),
            };
            if count > MAX_MULTIBULK_LEN {
                return Parsed::Error(ProtocolError::InvalidMultibulkLength);
            }
            if count <= 0 {
                self.reset();
                return Parsed::Empty(next);
            }
            if count > UNAUTHENTICATED_MAX_ARGS && !limits.authenticated {
                return Parsed::Error(ProtocolError::UnauthenticatedMultibulkLength);
            }
            self.remaining = count as usize;
            self.pos = next;
            self.args.clear();
        }
        while self.remaining > 0 {
            let len = match self.pending_bulk {
                Some(len) => len,
                None => match self.read_bulk_header(buf, limits) {
                    Ok(len) => len,
                    Err(parsed) => return parsed,
                },
            };
            let end = self.pos + len;
            if buf.len() < end + 2 {
                return Parsed::Incomplete;
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Parsed::Error(ProtocolError::MissingBulkTerminator);
            }
            self.args.push(self.pos..end);
            self.pos = end + 2;
            self.pending_bulk = None;
            self.remaining -= 1;
        }
        self.is_inline = false;
        Parsed::Command(self.pos)
    }

    /// Read a `$<len>\r\n` header at `self.pos`, leaving `pending_bulk` set.
    fn read_bulk_header(&mut self, buf: &[u8], limits: Limits) -> Result<usize, Parsed> {
        let Some(&first) = buf.get(self.pos) else {
            return Err(Parsed::Incomplete);
        };
        if first != b'$' {
            return Err(Parsed::Error(ProtocolError::ExpectedDollar(first)));
        }
        let (len, next) = match read_header(buf, self.pos, b'$') {
            Header::Incomplete => return Err(Parsed::Incomplete),
            Header::TooLong => return Err(Parsed::Error(ProtocolError::TooBigBulkCount)),
            Header::Invalid => return Err(Parsed::Error(ProtocolError::InvalidBulkLength)),
            Header::Value(len, next) => (len, next),
        };
        if len < 0 || len as u64 > limits.max_bulk_len {
            return Err(Parsed::Error(ProtocolError::InvalidBulkLength));
        }
        if len > UNAUTHENTICATED_MAX_BULK && !limits.authenticated {
            return Err(Parsed::Error(ProtocolError::UnauthenticatedBulkLength));
        }
        self.pos = next;
        self.pending_bulk = Some(len as usize);
        Ok(len as usize)
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Parsed {
        let Some(newline) = memchr(b'\n', buf) else {
            return if buf.len() > MAX_INLINE_LEN {
                Parsed::Error(ProtocolError::TooBigInline)
            } else {
                Parsed::Incomplete
            };
        };
        if newline > MAX_INLINE_LEN {
            return Parsed::Error(ProtocolError::TooBigInline);
        }
        let line = &buf[..newline];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        self.args.clear();
        self.inline.clear();
        if split_inline_args(line, &mut self.inline, &mut self.args).is_err() {
            return Parsed::Error(ProtocolError::UnbalancedQuotes);
        }
        if self.args.is_empty() {
            self.reset();
            return Parsed::Empty(newline + 1);
        }
        self.is_inline = true;
        Parsed::Command(newline + 1)
    }
}

enum Header {
    Incomplete,
    TooLong,
    Invalid,
    /// The number and the offset just past its `\r\n`.
    Value(i64, usize),
}

/// Parse `<prefix><digits>\r\n` starting at `start`.
#[inline(always)]
fn read_header(buf: &[u8], start: usize, prefix: u8) -> Header {
    debug_assert_eq!(buf.get(start), Some(&prefix));
    let rest = &buf[start + 1..];
    match short_count(rest) {
        Some((value, len)) => Header::Value(value, start + 1 + len),
        None => read_any_header(rest, start),
    }
}

/// [`read_header`] for what [`short_count`] leaves: signs, long numbers,
/// incomplete and malformed headers. `rest` follows the prefix at `start`.
#[cold]
#[inline(never)]
fn read_any_header(rest: &[u8], start: usize) -> Header {
    let Some(newline) = memchr(b'\n', &rest[..rest.len().min(MAX_INLINE_LEN + 1)]) else {
        return if rest.len() > MAX_INLINE_LEN { Header::TooLong } else { Header::Incomplete };
    };
    let Some(digits) = rest[..newline].strip_suffix(b"\r") else {
        return Header::Invalid;
    };
    match parse_i64(digits) {
        Some(value) => Header::Value(value, start + 1 + newline + 1),
        None => Header::Invalid,
    }
}

/// The fast path of [`read_header`], for what clients send: a count of up
/// to 18 digits, no sign, no leading zero, then `\r\n`, in one pass (too
/// few digits to overflow). Returns the count and the bytes it took with
/// its `\r\n`; anything else, including a header not yet complete, goes
/// the general way.
#[inline(always)]
fn short_count(rest: &[u8]) -> Option<(i64, usize)> {
    const MAX_DIGITS: usize = 18;
    let mut value: i64 = 0;
    let mut digits = 0;
    for &byte in rest.iter().take(MAX_DIGITS + 1) {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        // Wrapping: a 19th digit may overflow, and then the count is
        // thrown away below (a debug build would panic on `*` and `+`).
        value = value.wrapping_mul(10).wrapping_add(i64::from(digit));
        digits += 1;
    }
    if digits > MAX_DIGITS {
        return None;
    }
    let leading_zero = digits > 1 && rest[0] == b'0';
    let terminated = rest.get(digits..digits + 2) == Some(b"\r\n");
    (digits > 0 && !leading_zero && terminated).then_some((value, digits + 2))
}

/// Most arguments a frame may have for [`peek_key`] to walk it.
const PEEK_MAX_ARGS: i64 = 8;

/// A look at the complete multibulk frame at the start of `buf` without
/// parsing it for real: its length and its second argument, which is the
/// key of almost every data command. It serves only as a hint (the store
/// prefetches that key while earlier commands run), so it gives up (None)
/// on anything but the plain form clients send: an incomplete frame, an
/// inline command, one argument or more than [`PEEK_MAX_ARGS`], a header
/// off the fast path. The parser proper still judges every frame.
pub fn peek_key(buf: &[u8]) -> Option<(usize, &[u8])> {
    let (count, len) = short_count(buf.strip_prefix(b"*")?)?;
    if !(2..=PEEK_MAX_ARGS).contains(&count) {
        return None;
    }
    let mut at = 1 + len;
    let mut key: &[u8] = &[];
    for index in 0..count {
        let (bulk_len, len) = short_count(buf.get(at..)?.strip_prefix(b"$")?)?;
        let start = at + 1 + len;
        let end = start.checked_add(usize::try_from(bulk_len).ok()?)?;
        if buf.get(end..end.checked_add(2)?)? != b"\r\n" {
            return None;
        }
        if index == 1 {
            key = &buf[start..end];
        }
        at = end + 2;
    }
    Some((at, key))
}

/// Strict base-10 integer parse with Redis's `string2ll` rules: optional `-`,
/// no `+`, no leading zeros, no spaces, must fit in 64 bits.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 20 || (digits[0] == b'0' && s.len() > 1) {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if value > i64::MAX as u64 + 1 {
            return None;
        }
        Some((value as i64).wrapping_neg())
    } else {
        i64::try_from(value).ok()
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Split a line like Redis's `sdssplitargs` into owned arguments (`None`
/// for unbalanced quotes): what FUNCTION LOAD's shebang is parsed with.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let (mut out, mut ranges) = (Vec::new(), Vec::new());
    split_inline_args(line, &mut out, &mut ranges).ok()?;
    Some(ranges.into_iter().map(|r| out[r].to_vec()).collect())
}

/// Split an inline command line like Redis's `sdssplitargs`: whitespace
/// separates arguments, `"..."` understands `\n \r \t \b \a \\ \" \xHH`,
/// `'...'` understands `\'`, a quote may open inside an argument
/// (`a"b c"` is `ab c`), and a closing quote must end the argument.
fn split_inline_args(line: &[u8], out: &mut Vec<u8>, args: &mut Vec<Range<usize>>) -> Result<(), ()> {
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i == line.len() {
            return Ok(());
        }
        let start = out.len();
        i = match line[i] {
            b'"' => read_double_quoted(line, i + 1, out)?,
            b'\'' => read_single_quoted(line, i + 1, out)?,
            _ => read_bare(line, i, out)?,
        };
        args.push(start..out.len());
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn read_bare(line: &[u8], mut i: usize, out: &mut Vec<u8>) -> Result<usize, ()> {
    while i < line.len() && !is_space(line[i]) {
        match line[i] {
            b'"' => return read_double_quoted(line, i + 1, out),
            b'\'' => return read_single_quoted(line, i + 1, out),
            byte => out.push(byte),
        }
        i += 1;
    }
    Ok(i)
}

fn read_double_quoted(line: &[u8], mut i: usize, out: &mut Vec<u8>) -> Result<usize, ()> {
    while i < line.len() {
        match line[i] {
            b'\\' if i + 3 < line.len() && line[i + 1] == b'x' => {
                if let (Some(hi), Some(lo)) = (hex(line[i + 2]), hex(line[i + 3])) {
                    out.push(hi << 4 | lo);
                    i += 4;
                    continue;
                }
                out.push(b'x');
                i += 2;
            }
            b'\\' if i + 1 < line.len() => {
                out.push(match line[i + 1] {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'a' => 0x07,
                    other => other,
                });
                i += 2;
            }
            b'"' => return closing_quote(line, i),
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    Err(())
}

fn read_single_quoted(line: &[u8], mut i: usize, out: &mut Vec<u8>) -> Result<usize, ()> {
    while i < line.len() {
        match line[i] {
            b'\\' if line.get(i + 1) == Some(&b'\'') => {
                out.push(b'\'');
                i += 2;
            }
            b'\'' => return closing_quote(line, i),
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    Err(())
}

/// A closing quote must be followed by a space or the end of the line.
fn closing_quote(line: &[u8], quote: usize) -> Result<usize, ()> {
    match line.get(quote + 1) {
        None => Ok(quote + 1),
        Some(&b) if is_space(b) => Ok(quote + 1),
        Some(_) => Err(()),
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_bulk_len: 512 * 1024 * 1024, authenticated: true };

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut parser = Parser::new();
        let mut commands = Vec::new();
        let mut start = 0;
        loop {
            match parser.parse(&input[start..], LIMITS) {
                Parsed::Command(len) => {
                    let args = parser.args(&input[start..]);
                    commands.push(args.iter().map(<[u8]>::to_vec).collect());
                    parser.reset();
                    start += len;
                }
                Parsed::Empty(len) => start += len,
                Parsed::Incomplete => return Ok(commands),
                Parsed::Error(e) => return Err(e),
            }
        }
    }

    fn words(cmd: &[&str]) -> Vec<Vec<u8>> {
        cmd.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn short_counts_take_the_fast_path_and_nothing_else() {
        assert_eq!(short_count(b"3\r\n$3"), Some((3, 3)));
        assert_eq!(short_count(b"0\r\n"), Some((0, 3)));
        assert_eq!(short_count(b"999999999999999999\r\n"), Some((999_999_999_999_999_999, 20)));
        let general =
            [&b"9999999999999999999\r\n"[..], b"01\r\n", b"-1\r\n", b"12", b"12\r", b"1\n", b"\r\n", b"1x\r\n"];
        for header in general {
            assert_eq!(short_count(header), None, "{header:?}");
        }
    }

    #[test]
    fn peek_key_walks_plain_frames_only() {
        let pipeline = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$2\r\nk2\r\n$0\r\n\r\n";
        assert_eq!(peek_key(pipeline), Some((20, &b"k"[..])));
        assert_eq!(peek_key(&pipeline[20..]), Some((27, &b"k2"[..])));
        let gives_up: [&[u8]; 7] = [
            b"GET k\r\n",                      // inline
            b"*1\r\n$4\r\nPING\r\n",           // no key
            b"*2\r\n$3\r\nGET\r\n$1\r\nk",     // incomplete
            b"*2\r\n$3\r\nGET\r\n$1\r\nkXX",   // bad terminator
            b"*2\r\n$3\r\nGET\r\n$-1\r\n",     // off the fast path
            b"*9\r\n$3\r\nDEL\r\n$1\r\nk\r\n", // too many arguments
            b"",
        ];
        for frame in gives_up {
            assert_eq!(peek_key(frame), None, "{:?}", String::from_utf8_lossy(frame));
        }
    }

    #[test]
    fn multibulk_and_pipeline() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        assert_eq!(parse_all(input).unwrap(), vec![words(&["SET", "k", "hello"]), words(&["GET", "k"])]);
    }

    #[test]
    fn resumes_at_every_split_point() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\n0123456789\r\n";
        for split in 0..input.len() {
            let mut parser = Parser::new();
            assert_eq!(parser.parse(&input[..split], LIMITS), Parsed::Incomplete, "split {split}");
            assert_eq!(parser.parse(input, LIMITS), Parsed::Command(input.len()));
            let args: Vec<_> = parser.args(input).iter().map(<[u8]>::to_vec).collect();
            assert_eq!(args, words(&["SET", "key", "0123456789"]));
        }
    }

    #[test]
    fn inline_commands_and_quotes() {
        assert_eq!(parse_all(b"PING\r\n").unwrap(), vec![words(&["PING"])]);
        assert_eq!(parse_all(b"  set k  \"a b\\x41\\n\"\n").unwrap(), vec![words(&["set", "k", "a bA\n"])]);
        assert_eq!(parse_all(b"echo 'it\\'s'\r\n").unwrap(), vec![words(&["echo", "it's"])]);
        assert_eq!(parse_all(b"\r\n\r\nPING\r\n").unwrap(), vec![words(&["PING"])]);
        assert_eq!(parse_all(b"SET k \"abc\r\n"), Err(ProtocolError::UnbalancedQuotes));
        assert_eq!(parse_all(b"SET k \"abc\"x\r\n"), Err(ProtocolError::UnbalancedQuotes));
        assert_eq!(parse_all(b"SET a\"b c\" x\r\n").unwrap(), vec![words(&["SET", "ab c", "x"])]);
        assert_eq!(parse_all(b"SET a\"b\r\n"), Err(ProtocolError::UnbalancedQuotes));
    }

    #[test]
    fn length_errors() {
        assert_eq!(parse_all(b"*2147483648\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(parse_all(b"*abc\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(parse_all(b"*1\r\n$abc\r\n"), Err(ProtocolError::InvalidBulkLength));
        assert_eq!(parse_all(b"*1\r\n$-1\r\n"), Err(ProtocolError::InvalidBulkLength));
        assert_eq!(parse_all(b"*1\r\n$536870913\r\n"), Err(ProtocolError::InvalidBulkLength));
        assert_eq!(parse_all(b"*1\r\nfoo\r\n"), Err(ProtocolError::ExpectedDollar(b'f')));
        assert_eq!(parse_all(b"*1\r\n$3\r\nfooXY"), Err(ProtocolError::MissingBulkTerminator));
        assert_eq!(parse_all(b"*0\r\n*-1\r\nPING\r\n").unwrap(), vec![words(&["PING"])]);
    }

    #[test]
    fn oversized_lines() {
        let long = vec![b'a'; MAX_INLINE_LEN + 1];
        assert_eq!(parse_all(&long), Err(ProtocolError::TooBigInline));
        let mut header = b"*".to_vec();
        header.extend(std::iter::repeat_n(b'1', MAX_INLINE_LEN + 1));
        assert_eq!(parse_all(&header), Err(ProtocolError::TooBigMultibulkCount));
    }

    #[test]
    fn unauthenticated_limits() {
        let limits = Limits { authenticated: false, ..LIMITS };
        assert_eq!(
            Parser::new().parse(b"*11\r\n", limits),
            Parsed::Error(ProtocolError::UnauthenticatedMultibulkLength)
        );
        assert_eq!(
            Parser::new().parse(b"*1\r\n$16385\r\n", limits),
            Parsed::Error(ProtocolError::UnauthenticatedBulkLength)
        );
    }

    #[test]
    fn huge_declared_bulk_is_not_preallocated() {
        let mut parser = Parser::new();
        assert_eq!(parser.parse(b"*1\r\n$500000000\r\nabc", LIMITS), Parsed::Incomplete);
        assert!(parser.args.capacity() < 16);
    }

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [&b"9223372036854775808"[..], b"", b"-", b"+1", b"01", b" 1", b"1 ", b"-0"] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
