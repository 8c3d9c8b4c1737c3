//! Reply encoding: RESP2 and RESP3 replies written into a connection's
//! output buffer.
//!
//! Small replies are encoded straight into one contiguous staging buffer, so
//! a pipeline of a thousand GETs becomes one `write` call. A large value is
//! not copied: the staging bytes so far are sealed into a segment and the
//! value's shared `Bytes` is queued behind them, and the socket writer sends
//! the segments with one vectored write.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};

use bytes::{Buf, Bytes};

/// Values at least this large are queued by reference instead of copied.
pub const ZERO_COPY_THRESHOLD: usize = 16 * 1024;

/// How many segments one vectored write hands to the kernel.
const MAX_IOVECS: usize = 64;

/// Which protocol a connection speaks; RESP3 after `HELLO 3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// The output side of a connection: encoded replies waiting to be written.
#[derive(Debug, Default)]
pub struct ReplyBuffer {
    /// Segments that precede `staging` on the wire.
    queued: VecDeque<Bytes>,
    /// Encoded replies not yet sealed into a segment.
    staging: Vec<u8>,
    /// Bytes of `staging` already written to the socket.
    staging_written: usize,
    /// Bytes held in `queued`, for the output-buffer limit.
    queued_len: usize,
    pub protocol: Protocol,
}

impl ReplyBuffer {
    pub fn new(staging: Vec<u8>) -> Self {
        Self { staging, ..Self::default() }
    }

    /// An empty buffer speaking `protocol` (a script's replies).
    pub fn with_protocol(protocol: Protocol) -> Self {
        Self { protocol, ..Self::default() }
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> usize {
        self.queued_len + self.staging.len() - self.staging_written
    }

    pub fn is_empty(&self) -> bool {
        self.pending() == 0
    }

    /// Bytes queued behind the segment being written now: what piles up
    /// when a client stops reading, as opposed to one large reply in flight.
    pub fn backlog(&self) -> usize {
        self.pending() - self.queued.front().map_or(0, Bytes::len)
    }

    /// Drop what was encoded since [`ReplyBuffer::pending`] was `keep`
    /// (nothing is written to the socket in between): CLIENT REPLY OFF
    /// and SKIP take back a command's reply this way.
    pub fn discard_after(&mut self, keep: usize) {
        let mut excess = self.pending().saturating_sub(keep);
        let staged = (self.staging.len() - self.staging_written).min(excess);
        self.staging.truncate(self.staging.len() - staged);
        excess -= staged;
        while excess > 0 {
            let Some(back) = self.queued.back_mut() else { break };
            let cut = excess.min(back.len());
            back.truncate(back.len() - cut);
            self.queued_len -= cut;
            excess -= cut;
            if back.is_empty() {
                self.queued.pop_back();
            }
        }
    }

    /// Hand back the staging buffer (for the pool) once everything is sent.
    pub fn take_staging(&mut self) -> Vec<u8> {
        debug_assert!(self.is_empty());
        self.staging_written = 0;
        std::mem::take(&mut self.staging)
    }

    /// Install a (pooled) staging buffer on an idle connection.
    pub fn set_staging(&mut self, buf: Vec<u8>) {
        debug_assert!(self.is_empty());
        self.staging = buf;
        self.staging.clear();
    }

    pub fn staging_capacity(&self) -> usize {
        self.staging.capacity()
    }

    /// Write as much as the socket takes. Returns `Ok(true)` once empty,
    /// `Ok(false)` if the socket would block with data left over.
    pub fn write_to<W: Write>(&mut self, sink: &mut W) -> io::Result<bool> {
        while !self.is_empty() {
            let written = match self.write_once(sink) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.consume(written);
        }
        self.staging.clear();
        self.staging_written = 0;
        Ok(true)
    }

    fn write_once<W: Write>(&self, sink: &mut W) -> io::Result<usize> {
        let staging = &self.staging[self.staging_written..];
        if self.queued.is_empty() {
            return sink.write(staging);
        }
        let mut slices: [IoSlice<'_>; MAX_IOVECS] = [IoSlice::new(&[]); MAX_IOVECS];
        let mut count = 0;
        for segment in self.queued.iter().take(MAX_IOVECS - 1) {
            slices[count] = IoSlice::new(segment);
            count += 1;
        }
        if count == self.queued.len() && !staging.is_empty() {
            slices[count] = IoSlice::new(staging);
            count += 1;
        }
        sink.write_vectored(&slices[..count])
    }

    fn consume(&mut self, mut written: usize) {
        while written > 0 {
            let Some(front) = self.queued.front_mut() else {
                self.staging_written += written;
                return;
            };
            let step = written.min(front.len());
            front.advance(step);
            self.queued_len -= step;
            written -= step;
            if front.is_empty() {
                self.queued.pop_front();
            }
        }
    }

    // ----- encoding -----

    pub fn ok(&mut self) {
        self.staging.extend_from_slice(b"+OK\r\n");
    }

    pub fn simple(&mut self, s: &str) {
        self.line(b'+', s.as_bytes());
    }

    /// An error reply; `msg` includes its code, e.g. `ERR syntax error`.
    pub fn error(&mut self, msg: &str) {
        self.line(b'-', msg.as_bytes());
    }

    /// An error reply from raw bytes (Redis echoes client bytes as they are).
    pub fn error_bytes(&mut self, msg: &[u8]) {
        self.line(b'-', msg);
    }

    pub fn integer(&mut self, n: i64) {
        self.number(b':', n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.number(b'$', data.len() as i64);
        self.staging.extend_from_slice(data);
        self.staging.extend_from_slice(b"\r\n");
    }

    /// A bulk string from a shared value: large ones are queued, not copied.
    pub fn bulk_bytes(&mut self, data: &Bytes) {
        if data.len() < ZERO_COPY_THRESHOLD {
            return self.bulk(data);
        }
        self.number(b'$', data.len() as i64);
        self.seal_staging();
        self.queued_len += data.len();
        self.queued.push_back(data.clone());
        self.staging.extend_from_slice(b"\r\n");
    }

    /// The null bulk string: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        match self.protocol {
            Protocol::Resp2 => self.staging.extend_from_slice(b"$-1\r\n"),
            Protocol::Resp3 => self.staging.extend_from_slice(b"_\r\n"),
        }
    }

    /// The null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        match self.protocol {
            Protocol::Resp2 => self.staging.extend_from_slice(b"*-1\r\n"),
            Protocol::Resp3 => self.staging.extend_from_slice(b"_\r\n"),
        }
    }

    pub fn array(&mut self, len: usize) {
        self.number(b'*', len as i64);
    }

    /// An out-of-band message of `len` elements (pub/sub messages and
    /// confirmations): a push (`>`) in RESP3, an array in RESP2.
    pub fn push(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.number(b'*', len as i64),
            Protocol::Resp3 => self.number(b'>', len as i64),
        }
    }

    /// A map of `len` pairs: `%` in RESP3, a flat array of `2*len` in RESP2.
    pub fn map(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.number(b'*', 2 * len as i64),
            Protocol::Resp3 => self.number(b'%', len as i64),
        }
    }

    /// A set: `~` in RESP3, an array in RESP2.
    pub fn set(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.number(b'*', len as i64),
            Protocol::Resp3 => self.number(b'~', len as i64),
        }
    }

    /// A double: `,` in RESP3, a bulk string in RESP2.
    pub fn double(&mut self, value: f64) {
        let text = format_double(value);
        match self.protocol {
            Protocol::Resp2 => self.bulk(text.as_bytes()),
            Protocol::Resp3 => self.line(b',', text.as_bytes()),
        }
    }

    /// A verbatim string (`=` in RESP3, e.g. INFO); a bulk string in RESP2.
    pub fn verbatim(&mut self, text: &str) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(text.as_bytes()),
            Protocol::Resp3 => {
                self.number(b'=', text.len() as i64 + 4);
                self.staging.extend_from_slice(b"txt:");
                self.staging.extend_from_slice(text.as_bytes());
                self.staging.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A status reply from raw bytes (a script's `{ok=...}`).
    pub fn simple_bytes(&mut self, s: &[u8]) {
        self.line(b'+', s);
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, value: bool) {
        match self.protocol {
            Protocol::Resp2 => self.integer(i64::from(value)),
            Protocol::Resp3 => self.staging.extend_from_slice(if value { b"#t\r\n" } else { b"#f\r\n" }),
        }
    }

    /// A big number: `(` in RESP3, a bulk string in RESP2.
    pub fn big_number(&mut self, digits: &[u8]) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(digits),
            Protocol::Resp3 => self.line(b'(', digits),
        }
    }

    /// A verbatim string with its three-letter format; a bulk string in RESP2.
    pub fn verbatim_with(&mut self, format: &[u8], text: &[u8]) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.number(b'=', text.len() as i64 + 4);
                self.staging.extend_from_slice(format);
                self.staging.push(b':');
                self.staging.extend_from_slice(text);
                self.staging.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Everything written and not yet sent, as one buffer (a script reads
    /// the reply of the command it called).
    pub fn take_all(&mut self) -> Vec<u8> {
        let mut all = Vec::with_capacity(self.pending());
        for segment in self.queued.drain(..) {
            all.extend_from_slice(&segment);
        }
        all.extend_from_slice(&self.staging[self.staging_written..]);
        self.queued_len = 0;
        self.staging.clear();
        self.staging_written = 0;
        all
    }

    /// Everything written, as one shared buffer (without a copy when it
    /// is all in the staging buffer): an encoded frame to send to many
    /// clients.
    pub fn into_bytes(mut self) -> Bytes {
        if self.queued.is_empty() && self.staging_written == 0 {
            return Bytes::from(std::mem::take(&mut self.staging));
        }
        Bytes::from(self.take_all())
    }

    /// An already encoded frame (a published message): copied if small,
    /// else queued by reference, as [`ReplyBuffer::bulk_bytes`] does.
    pub fn encoded(&mut self, frame: &Bytes) {
        if frame.len() < ZERO_COPY_THRESHOLD {
            return self.staging.extend_from_slice(frame);
        }
        self.seal_staging();
        self.queued_len += frame.len();
        self.queued.push_back(frame.clone());
    }

    /// Append another buffer's replies after this one's.
    pub fn append(&mut self, mut other: ReplyBuffer) {
        let bytes = other.take_all();
        self.staging.extend_from_slice(&bytes);
    }

    /// Raw bytes already in RESP form (pre-encoded constant replies).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.staging.extend_from_slice(bytes);
    }

    fn line(&mut self, prefix: u8, text: &[u8]) {
        self.staging.push(prefix);
        // A status or error line cannot contain CR or LF.
        self.staging.extend(text.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
        self.staging.extend_from_slice(b"\r\n");
    }

    /// `<prefix><n>\r\n`, laid out on the stack and appended at once:
    /// every integer reply and every length header comes through here.
    fn number(&mut self, prefix: u8, n: i64) {
        let mut line = [0u8; 24];
        let end = line.len() - 2;
        line[end..].copy_from_slice(b"\r\n");
        let start = write_digits(n, &mut line[..end]) - 1;
        line[start] = prefix;
        self.staging.extend_from_slice(&line[start..]);
    }

    fn seal_staging(&mut self) {
        let unsent = &self.staging[self.staging_written..];
        if !unsent.is_empty() {
            self.queued_len += unsent.len();
            self.queued.push_back(Bytes::copy_from_slice(unsent));
        }
        self.staging.clear();
        self.staging_written = 0;
    }
}

/// Decimal digits of `n` without allocating.
pub fn format_i64(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let start = write_digits(n, buf);
    &buf[start..]
}

/// Write `n` in decimal at the end of `buf` (at least 20 bytes long);
/// returns where it starts.
fn write_digits(n: i64, buf: &mut [u8]) -> usize {
    let mut value = n.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    i
}

/// Format a double the way Redis 7.2+ replies with one (`d2string`):
/// `inf`/`-inf`/`nan`, `0`/`-0`, integers below 2^62 in full, and
/// otherwise the shortest digits that round-trip laid out as Redis's
/// `fpconv_dtoa` lays them out (plain up to 7 places, else `1.5e+300`).
pub fn format_double(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    const INTEGER_LIMIT: f64 = (i64::MAX / 2) as f64;
    if (-INTEGER_LIMIT..=INTEGER_LIMIT).contains(&value) && value.trunc() == value {
        return (value as i64).to_string();
    }
    // `{:e}` gives the shortest round-trip digits: `d.ddde-X`.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if value < 0.0 { "-" } else { "" };
    format!("{sign}{}", fpconv_layout(&digits, exponent))
}

/// `fpconv_dtoa`'s `emit_digits`: `digits` (no point) with the first one
/// at the decimal `exponent`.
fn fpconv_layout(digits: &str, exponent: i32) -> String {
    let ndigits = digits.len() as i32;
    // The decimal exponent of the last digit.
    let k = exponent - (ndigits - 1);
    let magnitude = exponent.abs();
    if k >= 0 && magnitude < ndigits + 7 {
        return format!("{digits}{}", "0".repeat(k as usize));
    }
    if k < 0 && (k > -7 || magnitude < 4) {
        let offset = ndigits + k;
        if offset <= 0 {
            return format!("0.{}{digits}", "0".repeat(offset.unsigned_abs() as usize));
        }
        let (whole, fraction) = digits.split_at(offset as usize);
        return format!("{whole}.{fraction}");
    }
    let (first, rest) = digits.split_at(1);
    let point = if rest.is_empty() { "" } else { "." };
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{first}{point}{rest}e{sign}{magnitude}")
}

/// C's `%.17g` (what Redis's `ld2string` gives a double): 17 significant
/// digits, trailing zeros dropped, an exponent of at least two digits
/// below 1e-4 and from 1e17.
pub fn format_double_g17(value: f64) -> String {
    if !value.is_finite() {
        return format_double(value);
    }
    let scientific = format!("{:.16e}", value);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..17).contains(&exponent) {
        let mantissa = trim_fraction(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let fixed = format!("{:.*}", (16 - exponent) as usize, value);
    trim_fraction(&fixed).to_string()
}

/// Drop trailing zeros after a decimal point, and the point if bare.
fn trim_fraction(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(buf: &mut ReplyBuffer) -> Vec<u8> {
        let mut out = Vec::new();
        assert!(buf.write_to(&mut out).unwrap());
        out
    }

    #[test]
    fn encodes_resp2_and_resp3() {
        let mut buf = ReplyBuffer::default();
        buf.ok();
        buf.integer(-42);
        buf.bulk(b"hi");
        buf.null();
        buf.map(1);
        buf.error("ERR bad\r\nthing");
        assert_eq!(drain(&mut buf), b"+OK\r\n:-42\r\n$2\r\nhi\r\n$-1\r\n*2\r\n-ERR bad  thing\r\n");
        buf.protocol = Protocol::Resp3;
        buf.null();
        buf.map(1);
        buf.double(1.5);
        buf.set(0);
        assert_eq!(drain(&mut buf), b"_\r\n%1\r\n,1.5\r\n~0\r\n");
    }

    #[test]
    fn discard_after_drops_only_the_newer_replies() {
        let mut buf = ReplyBuffer::default();
        buf.ok();
        let keep = buf.pending();
        buf.integer(1);
        buf.bulk_bytes(&Bytes::from(vec![b'x'; ZERO_COPY_THRESHOLD]));
        buf.integer(2);
        buf.discard_after(keep);
        assert_eq!(buf.pending(), keep);
        buf.integer(3);
        assert_eq!(drain(&mut buf), b"+OK\r\n:3\r\n");
    }

    #[test]
    fn large_values_are_queued_in_order() {
        let mut buf = ReplyBuffer::default();
        let big = Bytes::from(vec![b'x'; ZERO_COPY_THRESHOLD]);
        buf.ok();
        buf.bulk_bytes(&big);
        buf.integer(1);
        let out = drain(&mut buf);
        let mut expected = format!("+OK\r\n${}\r\n", big.len()).into_bytes();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"\r\n:1\r\n");
        assert_eq!(out, expected);
        assert!(buf.is_empty());
    }

    /// A sink that accepts a few bytes per call, then would block.
    struct Trickle {
        out: Vec<u8>,
        budget: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            if self.budget == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = data.len().min(3).min(self.budget);
            self.budget -= n;
            self.out.extend_from_slice(&data[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn partial_writes_resume() {
        let mut buf = ReplyBuffer::default();
        let big = Bytes::from(vec![b'y'; ZERO_COPY_THRESHOLD + 5]);
        buf.bulk(b"abc");
        buf.bulk_bytes(&big);
        buf.ok();
        let total = buf.pending();
        let mut sink = Trickle { out: Vec::new(), budget: 10 };
        while !buf.write_to(&mut sink).unwrap() {
            sink.budget = 7;
        }
        assert_eq!(sink.out.len(), total);
        assert!(sink.out.ends_with(b"\r\n+OK\r\n"));
    }

    #[test]
    fn formats_numbers() {
        let mut digits = [0u8; 20];
        assert_eq!(format_i64(i64::MIN, &mut digits), b"-9223372036854775808");
        assert_eq!(format_i64(0, &mut digits), b"0");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(f64::INFINITY), "inf");
    }

    /// Answers of Redis 7.4's ZSCORE (d2string) and of `printf("%.17g")`.
    #[test]
    fn formats_doubles_like_redis() {
        let cases = [
            (0.1, "0.1"),
            (-0.0, "-0"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (1e20, "1e+20"),
            (5e18, "5e+18"),
            (4e18, "4000000000000000000"),
            (123456.789, "123456.789"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (1.2345678e-5, "1.2345678e-5"),
            (0.0001234, "1.234e-4"),
            (0.001234, "0.001234"),
            (1.5e300, "1.5e+300"),
            (2.5e-300, "2.5e-300"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (3.0000000000000004, "3.0000000000000004"),
        ];
        for (value, text) in cases {
            assert_eq!(format_double(value), text, "{value:e}");
        }
        let g17 =
            [(0.1, "0.10000000000000001"), (3.0, "3"), (1e20, "1e+20"), (1.5, "1.5"), (1e-5, "1.0000000000000001e-05")];
        for (value, text) in g17 {
            assert_eq!(format_double_g17(value), text, "{value:e}");
        }
    }
}
