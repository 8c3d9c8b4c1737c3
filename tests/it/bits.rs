//! The bitmap commands and LCS: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
//! BITFIELD, BITFIELD_RO and LCS, with every option and error, the key
//! specs COMMAND reports for them, and the string size limit they obey.
//! Redis 7 replies, byte-exact, in RESP2 and RESP3; every expectation holds
//! against redis-server 7.0 (differential mode). The BITFIELD values are
//! worked out by hand in the comments.

use crate::common::*;

const BIT_OFFSET: &str = "-ERR bit offset is not an integer or out of range\r\n";
const BIT_VALUE: &str = "-ERR bit is not an integer or out of range\r\n";
const BITPOS_BIT: &str = "-ERR The bit argument must be 1 or 0.\r\n";
const NOT_ONE_SOURCE: &str = "-ERR BITOP NOT must be called with a single source key.\r\n";
const FIELD_TYPE: &str =
    "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n";
const OVERFLOW_TYPE: &str = "-ERR Invalid OVERFLOW type specified\r\n";
const RO_ONLY_GET: &str = "-ERR BITFIELD_RO only supports the GET subcommand\r\n";
const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const LCS_NOT_STRINGS: &str = "-ERR The specified keys must contain string values\r\n";
const LCS_LEN_AND_IDX: &str = "-ERR If you want both the length and indexes, please just use IDX.\r\n";
const LCS_TOO_BIG: &str = "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n";

const MIB: usize = 1024 * 1024;

/// A server whose strings may not exceed 1 MiB (`proto-max-bulk-len`).
fn server_with_1mb_strings() -> TestServer {
    let s = TestServer::start_with("[server]\nproto_max_bulk_len = \"1mb\"\n");
    if s.is_redis() {
        s.raw().expect_cmd(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"], OK);
    }
    s
}

/// A raw connection switched to RESP3.
fn resp3(s: &TestServer) -> RawClient {
    let mut c = s.raw_authed();
    let hello = c.call_resp(&["HELLO", "3"]);
    assert!(matches!(hello, Resp::Map(_)), "HELLO 3 should answer a map, got {hello:?}");
    c
}

/// SET `key` to raw bytes.
fn set_bytes(c: &mut RawClient, key: &str, value: &[u8]) {
    c.expect_cmd(&[b"SET".as_slice(), key.as_bytes(), value], OK);
}

/// A RESP array of already encoded replies.
fn array(items: &[&str]) -> String {
    format!("*{}\r\n{}", items.len(), items.concat())
}

// ---------------------------------------------------------------------------
// SETBIT, GETBIT, BITCOUNT
// ---------------------------------------------------------------------------

#[test]
fn setbit_sets_clears_and_grows() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SETBIT", "b", "7", "1"], int(0));
    c.expect_cmd(&["GET", "b"], bulk("\x01"));
    c.expect_cmd(&["SETBIT", "b", "7", "1"], int(1));
    c.expect_cmd(&["SETBIT", "b", "0", "1"], int(0));
    c.expect_cmd(&["GET", "b"], bulk([0x81u8]));
    c.expect_cmd(&["SETBIT", "b", "7", "0"], int(1));
    c.expect_cmd(&["GET", "b"], bulk([0x80u8]));
    // Clearing a bit past the end still grows the string.
    c.expect_cmd(&["SETBIT", "b", "100", "0"], int(0));
    c.expect_cmd(&["STRLEN", "b"], int(13));
    // Even on a missing key.
    c.expect_cmd(&["SETBIT", "z", "0", "0"], int(0));
    c.expect_cmd(&["GET", "z"], bulk([0u8]));
    c.expect_cmd(&["SET", "t", "a", "EX", "100"], OK);
    c.expect_cmd(&["SETBIT", "t", "6", "1"], int(0));
    c.expect_cmd(&["GET", "t"], bulk("c"));
    c.expect_cmd(&["TTL", "t"], int(100));
    c.expect_cmd(&["SETBIT", "b", "1"], arity_err("setbit"));
}

#[test]
fn setbit_offset_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    for bad in ["-1", "abc", "1.5", "4294967296", "#1", "", "99999999999999999999"] {
        c.expect_cmd(&["SETBIT", "b", bad, "1"], BIT_OFFSET);
    }
    // The offset is checked before the bit.
    c.expect_cmd(&["SETBIT", "b", "-1", "2"], BIT_OFFSET);
    c.expect_cmd(&["EXISTS", "b"], int(0));
}

#[test]
fn setbit_value_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    for bad in ["2", "-1", "abc", "", "01", "1.0"] {
        c.expect_cmd(&["SETBIT", "b", "1", bad], BIT_VALUE);
    }
    c.expect_cmd(&["SETBIT", "b", "4294967295", "2"], BIT_VALUE);
    c.expect_cmd(&["EXISTS", "b"], int(0));
}

#[test]
fn setbit_offset_limit_follows_proto_max_bulk_len() {
    let s = server_with_1mb_strings();
    let mut c = s.raw();
    let last = (8 * MIB - 1).to_string();
    let beyond = (8 * MIB).to_string();
    c.expect_cmd(&["SETBIT", "b", beyond.as_str(), "1"], BIT_OFFSET);
    c.expect_cmd(&["GETBIT", "b", beyond.as_str()], BIT_OFFSET);
    c.expect_cmd(&["SETBIT", "b", last.as_str(), "1"], int(0));
    c.expect_cmd(&["GETBIT", "b", last.as_str()], int(1));
    c.expect_cmd(&["STRLEN", "b"], int(MIB as i64));
}

#[test]
fn getbit_reads_bits() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "g", "`"], OK); // 0110 0000
    c.expect_cmd(&["GETBIT", "g", "0"], int(0));
    c.expect_cmd(&["GETBIT", "g", "1"], int(1));
    c.expect_cmd(&["GETBIT", "g", "2"], int(1));
    c.expect_cmd(&["GETBIT", "g", "3"], int(0));
    c.expect_cmd(&["GETBIT", "g", "100"], int(0));
    c.expect_cmd(&["GETBIT", "g", "4294967295"], int(0));
    c.expect_cmd(&["GETBIT", "missing", "0"], int(0));
    c.expect_cmd(&["GETBIT", "g"], arity_err("getbit"));
}

#[test]
fn getbit_offset_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "g", "x"], OK);
    for bad in ["-1", "abc", "4294967296", "1.5"] {
        c.expect_cmd(&["GETBIT", "g", bad], BIT_OFFSET);
        c.expect_cmd(&["GETBIT", "missing", bad], BIT_OFFSET);
    }
}

#[test]
fn bitcount_whole_string_and_byte_ranges() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "bc", "foobar"], OK);
    c.expect_cmd(&["BITCOUNT", "bc"], int(26));
    c.expect_cmd(&["BITCOUNT", "bc", "0", "0"], int(4));
    c.expect_cmd(&["BITCOUNT", "bc", "1", "1"], int(6));
    c.expect_cmd(&["BITCOUNT", "bc", "1", "1", "BYTE"], int(6));
    c.expect_cmd(&["BITCOUNT", "bc", "1", "1", "byte"], int(6));
    c.expect_cmd(&["BITCOUNT", "bc", "-100", "100"], int(26));
    c.expect_cmd(&["BITCOUNT", "bc", "-1", "-5"], int(0));
    c.expect_cmd(&["BITCOUNT", "bc", "9223372036854775807", "-9223372036854775808"], int(0));
    c.expect_cmd(&["BITCOUNT", "missing"], int(0));
    c.expect_cmd(&["SET", "e", ""], OK);
    c.expect_cmd(&["BITCOUNT", "e"], int(0));
    c.expect_cmd(&["BITCOUNT", "e", "0", "-1"], int(0));
}

#[test]
fn bitcount_bit_ranges() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "bc", "foobar"], OK);
    c.expect_cmd(&["BITCOUNT", "bc", "5", "30", "BIT"], int(17));
    c.expect_cmd(&["BITCOUNT", "bc", "5", "30", "bit"], int(17));
    c.expect_cmd(&["BITCOUNT", "bc", "0", "-1", "BIT"], int(26));
    c.expect_cmd(&["BITCOUNT", "bc", "-3", "-1", "BIT"], int(1));
    c.expect_cmd(&["BITCOUNT", "bc", "1", "6", "BIT"], int(4));
    c.expect_cmd(&["BITCOUNT", "bc", "8", "15", "BIT"], int(6));
    c.expect_cmd(&["BITCOUNT", "bc", "9", "9", "BIT"], int(1));
    c.expect_cmd(&["BITCOUNT", "bc", "-9223372036854775808", "-1", "BIT"], int(26));
    c.expect_cmd(&["SET", "e", ""], OK);
    c.expect_cmd(&["BITCOUNT", "e", "0", "-1", "BIT"], int(0));
}

#[test]
fn bitcount_syntax_and_integer_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "bc", "foobar"], OK);
    c.expect_cmd(&["BITCOUNT", "bc", "0"], SYNTAX_ERR);
    c.expect_cmd(&["BITCOUNT", "bc", "0", "1", "FOO"], SYNTAX_ERR);
    c.expect_cmd(&["BITCOUNT", "bc", "0", "1", "BIT", "x"], SYNTAX_ERR);
    c.expect_cmd(&["BITCOUNT", "bc", "1", "-5", "FOO"], SYNTAX_ERR);
    c.expect_cmd(&["BITCOUNT", "bc", "a", "1"], NOT_INT_ERR);
    c.expect_cmd(&["BITCOUNT", "bc", "0", "b"], NOT_INT_ERR);
    // Redis 7 answers an empty negative range before it reads the unit.
    c.expect_cmd(&["BITCOUNT", "bc", "-1", "-5", "FOO"], int(0));
    c.expect_cmd(&["BITCOUNT"], arity_err("bitcount"));
}

#[test]
fn bitcount_missing_key_ignores_its_arguments() {
    // Redis 7.0 and 7.2 look the key up first (Redis 8 checks the arguments
    // first and would answer these with errors).
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["BITCOUNT", "missing", "0"], int(0));
    c.expect_cmd(&["BITCOUNT", "missing", "a", "b"], int(0));
    c.expect_cmd(&["BITCOUNT", "missing", "0", "1", "FOO"], int(0));
}

#[test]
fn bitcount_wrong_type() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "f", "v"], int(1));
    c.expect_cmd(&["BITCOUNT", "h"], WRONGTYPE);
    c.expect_cmd(&["BITCOUNT", "h", "0", "-1", "BIT"], WRONGTYPE);
}

// ---------------------------------------------------------------------------
// BITPOS
// ---------------------------------------------------------------------------

#[test]
fn bitpos_documentation_examples() {
    let s = TestServer::start();
    let mut c = s.raw();
    set_bytes(&mut c, "mykey", b"\xff\xf0\x00");
    c.expect_cmd(&["BITPOS", "mykey", "0"], int(12));
    set_bytes(&mut c, "mykey", b"\x00\xff\xf0");
    c.expect_cmd(&["BITPOS", "mykey", "1", "0"], int(8));
    c.expect_cmd(&["BITPOS", "mykey", "1", "2"], int(16));
    c.expect_cmd(&["BITPOS", "mykey", "1", "2", "-1", "BYTE"], int(16));
    c.expect_cmd(&["BITPOS", "mykey", "1", "7", "15", "BIT"], int(8));
    c.expect_cmd(&["BITPOS", "mykey", "0"], int(0));
    set_bytes(&mut c, "mykey", b"\x00\x00\x00");
    c.expect_cmd(&["BITPOS", "mykey", "1"], int(-1));
    c.expect_cmd(&["BITPOS", "mykey", "1", "7", "-3", "BIT"], int(-1));
}

#[test]
fn bitpos_clear_bit_past_the_end_only_without_an_end() {
    let s = TestServer::start();
    let mut c = s.raw();
    set_bytes(&mut c, "ff", b"\xff\xff\xff");
    // With no end, the string reads as followed by zeros.
    c.expect_cmd(&["BITPOS", "ff", "0"], int(24));
    c.expect_cmd(&["BITPOS", "ff", "0", "1"], int(24));
    c.expect_cmd(&["BITPOS", "ff", "0", "-1"], int(24));
    // With an end, there is no 0 in the range.
    c.expect_cmd(&["BITPOS", "ff", "0", "0", "-1"], int(-1));
    c.expect_cmd(&["BITPOS", "ff", "0", "0", "-1", "BYTE"], int(-1));
    c.expect_cmd(&["BITPOS", "ff", "0", "1", "22", "BIT"], int(-1));
    c.expect_cmd(&["BITPOS", "ff", "1", "-3", "-1", "BIT"], int(21));
}

#[test]
fn bitpos_bit_ranges_mask_the_edge_bytes() {
    let s = TestServer::start();
    let mut c = s.raw();
    // 00001111 11110000 00000000 11111111
    set_bytes(&mut c, "mix", b"\x0f\xf0\x00\xff");
    c.expect_cmd(&["BITPOS", "mix", "1", "3", "20", "BIT"], int(4));
    c.expect_cmd(&["BITPOS", "mix", "0", "3", "20", "BIT"], int(3));
    c.expect_cmd(&["BITPOS", "mix", "0", "4", "11", "BIT"], int(-1));
    c.expect_cmd(&["BITPOS", "mix", "0", "4", "12", "bit"], int(12));
    c.expect_cmd(&["BITPOS", "mix", "1", "12", "24", "BIT"], int(24));
    c.expect_cmd(&["BITPOS", "mix", "1", "12", "23", "BIT"], int(-1));
    c.expect_cmd(&["BITPOS", "mix", "0", "24", "31", "BIT"], int(-1));
    c.expect_cmd(&["BITPOS", "mix", "1", "9", "9", "BIT"], int(9));
    c.expect_cmd(&["BITPOS", "mix", "0", "12", "12", "BIT"], int(12));
    c.expect_cmd(&["BITPOS", "mix", "1", "29", "3", "BIT"], int(-1));
    c.expect_cmd(&["BITPOS", "mix", "1", "9223372036854775807", "-9223372036854775808", "BIT"], int(-1));
    c.expect_cmd(&["BITPOS", "mix", "0", "-9223372036854775808", "9223372036854775807", "BIT"], int(0));
}

#[test]
fn bitpos_byte_ranges_and_negative_indexes() {
    let s = TestServer::start();
    let mut c = s.raw();
    set_bytes(&mut c, "mix", b"\x0f\xf0\x00\xff");
    c.expect_cmd(&["BITPOS", "mix", "1", "1"], int(8));
    c.expect_cmd(&["BITPOS", "mix", "0", "3"], int(32));
    c.expect_cmd(&["BITPOS", "mix", "0", "3", "3"], int(-1));
    c.expect_cmd(&["BITPOS", "mix", "1", "-2"], int(24));
    c.expect_cmd(&["BITPOS", "mix", "1", "-100", "-50"], int(4));
    c.expect_cmd(&["BITPOS", "mix", "1", "2", "1"], int(-1));
    c.expect_cmd(&["BITPOS", "mix", "1", "10", "20"], int(-1));
    c.expect_cmd(&["BITPOS", "mix", "0", "10"], int(-1));
    set_bytes(&mut c, "e", b"");
    c.expect_cmd(&["BITPOS", "e", "0"], int(-1));
    c.expect_cmd(&["BITPOS", "e", "1"], int(-1));
}

#[test]
fn bitpos_missing_key_and_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    // A missing key is an endless run of zeros.
    c.expect_cmd(&["BITPOS", "missing", "1"], int(-1));
    c.expect_cmd(&["BITPOS", "missing", "0"], int(0));
    c.expect_cmd(&["BITPOS", "missing", "0", "5", "10", "BIT"], int(0));
    set_bytes(&mut c, "ff", b"\xff");
    for bad in ["2", "-1", "10"] {
        c.expect_cmd(&["BITPOS", "ff", bad], BITPOS_BIT);
        c.expect_cmd(&["BITPOS", "missing", bad], BITPOS_BIT);
    }
    for bad in ["x", "", "1.0", "01"] {
        c.expect_cmd(&["BITPOS", "ff", bad], NOT_INT_ERR);
    }
    c.expect_cmd(&["BITPOS", "ff", "1", "x"], NOT_INT_ERR);
    c.expect_cmd(&["BITPOS", "ff", "1", "0", "x"], NOT_INT_ERR);
    c.expect_cmd(&["BITPOS", "ff", "1", "0", "1", "FOO"], SYNTAX_ERR);
    // Redis reads the unit before the end.
    c.expect_cmd(&["BITPOS", "ff", "1", "0", "x", "FOO"], SYNTAX_ERR);
    c.expect_cmd(&["BITPOS", "ff", "1", "0", "1", "BIT", "x"], SYNTAX_ERR);
    c.expect_cmd(&["HSET", "h", "f", "v"], int(1));
    c.expect_cmd(&["BITPOS", "h", "1"], WRONGTYPE);
    c.expect_cmd(&["BITPOS", "h", "1", "0", "-1", "BIT"], WRONGTYPE);
    c.expect_cmd(&["BITPOS", "h", "3"], BITPOS_BIT);
    c.expect_cmd(&["BITPOS", "ff"], arity_err("bitpos"));
}

#[test]
fn bitpos_missing_key_ignores_its_range() {
    // Redis 7.0 and 7.2 answer a missing key before they read the range
    // (7.4 reads it first and would answer these with errors).
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["BITPOS", "missing", "1", "x"], int(-1));
    c.expect_cmd(&["BITPOS", "missing", "0", "0", "1", "FOO"], int(0));
    c.expect_cmd(&["BITPOS", "missing", "1", "0", "1", "BIT", "x"], int(-1));
}

// ---------------------------------------------------------------------------
// BITOP
// ---------------------------------------------------------------------------

#[test]
fn bitop_and_or_xor_not() {
    let s = TestServer::start();
    let mut c = s.raw();
    set_bytes(&mut c, "a", b"abc"); // 61 62 63
    set_bytes(&mut c, "b", b"\x0f\xf0");
    // The shorter source reads as zero-padded; the result is as long as
    // the longest.
    c.expect_cmd(&["BITOP", "AND", "d", "a", "b"], int(3));
    c.expect_cmd(&["GET", "d"], bulk(b"\x01\x60\x00"));
    c.expect_cmd(&["BITOP", "or", "d", "a", "b"], int(3));
    c.expect_cmd(&["GET", "d"], bulk(b"\x6f\xf2\x63"));
    c.expect_cmd(&["BITOP", "Xor", "d", "a", "b"], int(3));
    c.expect_cmd(&["GET", "d"], bulk(b"\x6e\x92\x63"));
    c.expect_cmd(&["BITOP", "XOR", "d", "a", "b", "a"], int(3));
    c.expect_cmd(&["GET", "d"], bulk(b"\x0f\xf0\x00"));
    c.expect_cmd(&["BITOP", "NOT", "d", "a"], int(3));
    c.expect_cmd(&["GET", "d"], bulk(b"\x9e\x9d\x9c"));
    // The destination may be a source.
    c.expect_cmd(&["BITOP", "NOT", "a", "a"], int(3));
    c.expect_cmd(&["GET", "a"], bulk(b"\x9e\x9d\x9c"));
    c.expect_cmd(&["BITOP", "OR", "a", "a", "b", "b"], int(3));
    c.expect_cmd(&["GET", "a"], bulk(b"\x9f\xfd\x9c"));
    // Integer-encoded strings are their digits.
    c.expect_cmd(&["SET", "n", "12"], OK);
    c.expect_cmd(&["BITOP", "AND", "d", "n", "n"], int(2));
    c.expect_cmd(&["GET", "d"], bulk("12"));
}

#[test]
fn bitop_missing_sources_and_empty_results() {
    let s = TestServer::start();
    let mut c = s.raw();
    set_bytes(&mut c, "a", b"abc");
    c.expect_cmd(&["BITOP", "AND", "d", "a", "missing"], int(3));
    c.expect_cmd(&["GET", "d"], bulk(b"\0\0\0"));
    c.expect_cmd(&["BITOP", "OR", "d", "missing", "a"], int(3));
    c.expect_cmd(&["GET", "d"], bulk("abc"));
    c.expect_cmd(&["BITOP", "NOT", "d", "missing"], int(0));
    c.expect_cmd(&["EXISTS", "d"], int(0));
    // An empty result deletes the destination, whatever it held.
    c.expect_cmd(&["HSET", "h", "f", "v"], int(1));
    set_bytes(&mut c, "e", b"");
    c.expect_cmd(&["BITOP", "AND", "h", "e", "missing"], int(0));
    c.expect_cmd(&["EXISTS", "h"], int(0));
}

#[test]
fn bitop_replaces_the_destination_and_its_expiry() {
    let s = TestServer::start();
    let mut c = s.raw();
    set_bytes(&mut c, "a", b"abc");
    c.expect_cmd(&["HSET", "h", "f", "v"], int(1));
    c.expect_cmd(&["BITOP", "OR", "h", "a"], int(3));
    c.expect_cmd(&["TYPE", "h"], "+string\r\n");
    c.expect_cmd(&["GET", "h"], bulk("abc"));
    c.expect_cmd(&["SET", "x", "1", "EX", "100"], OK);
    c.expect_cmd(&["BITOP", "OR", "x", "a"], int(3));
    c.expect_cmd(&["TTL", "x"], int(-1));
}

#[test]
fn bitop_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    set_bytes(&mut c, "a", b"abc");
    c.expect_cmd(&["BITOP", "NOT", "d", "a", "a"], NOT_ONE_SOURCE);
    c.expect_cmd(&["BITOP", "FOO", "d", "a"], SYNTAX_ERR);
    c.expect_cmd(&["BITOP", "ANDX", "d", "a"], SYNTAX_ERR);
    c.expect_cmd(&["BITOP", "FOO", "d", "a", "b"], SYNTAX_ERR);
    c.expect_cmd(&["HSET", "h", "f", "v"], int(1));
    c.expect_cmd(&["BITOP", "AND", "d", "a", "h"], WRONGTYPE);
    c.expect_cmd(&["BITOP", "NOT", "d", "h"], WRONGTYPE);
    c.expect_cmd(&["EXISTS", "d"], int(0));
    c.expect_cmd(&["BITOP", "AND", "d"], arity_err("bitop"));
    c.expect_cmd(&["BITOP", "NOT"], arity_err("bitop"));
}

// ---------------------------------------------------------------------------
// BITFIELD
// ---------------------------------------------------------------------------

#[test]
fn bitfield_get_set_incrby() {
    let s = TestServer::start();
    let mut c = s.raw();
    // 100 + 50 = 150 does not fit an i8: it wraps to 150 - 256.
    c.expect_cmd(
        &["BITFIELD", "bf", "SET", "i8", "0", "100", "GET", "i8", "0", "INCRBY", "i8", "0", "50"],
        ints(&[0, 100, -106]),
    );
    c.expect_cmd(&["GET", "bf"], bulk(b"\x96"));
    // #1 is the second u8; 0x96ff = 38655, and as an i16 38655 - 65536.
    c.expect_cmd(
        &["BITFIELD", "bf", "SET", "u8", "#1", "255", "GET", "u16", "0", "GET", "i16", "0"],
        ints(&[0, 38655, -26881]),
    );
    c.expect_cmd(&["STRLEN", "bf"], int(2));
    c.expect_cmd(&["bitfield", "bf", "get", "u4", "0", "get", "u4", "#1", "get", "i4", "4"], ints(&[9, 6, 6]));
    // Reading past the end reads zeros and does not grow the string.
    c.expect_cmd(&["BITFIELD", "bf", "GET", "i8", "#100", "GET", "u63", "1000"], ints(&[0, 0]));
    c.expect_cmd(&["STRLEN", "bf"], int(2));
    c.expect_cmd(&["BITFIELD", "bf"], "*0\r\n");
    // Redis's documentation: 23 as a u5 at bit 7 is 00000001 01110000.
    c.expect_cmd(&["BITFIELD", "u", "SET", "u5", "7", "23"], ints(&[0]));
    c.expect_cmd(&["GET", "u"], bulk(b"\x01\x70"));
    c.expect_cmd(&["BITFIELD", "u", "GET", "u5", "7", "GET", "i5", "7"], ints(&[23, -9]));
    // A missing key reads as zeros and is not created by GET.
    c.expect_cmd(&["BITFIELD", "nokey", "GET", "u8", "0", "GET", "i64", "100"], ints(&[0, 0]));
    c.expect_cmd(&["EXISTS", "nokey"], int(0));
    // An integer-encoded string is its digits: '1' is 49.
    c.expect_cmd(&["SET", "num", "12345"], OK);
    c.expect_cmd(&["BITFIELD", "num", "GET", "u8", "0", "INCRBY", "u8", "0", "1"], ints(&[49, 50]));
    c.expect_cmd(&["GET", "num"], bulk("22345"));
}

#[test]
fn bitfield_overflow_modes() {
    let s = TestServer::start();
    let mut c = s.raw();
    // Redis's documentation: WRAP (the default) then SAT on u2 (0..=3).
    let incr = ["BITFIELD", "k", "INCRBY", "u2", "100", "1", "OVERFLOW", "SAT", "INCRBY", "u2", "102", "1"];
    for expected in [[1, 1], [2, 2], [3, 3], [0, 3]] {
        c.expect_cmd(&incr, ints(&expected));
    }
    c.expect_cmd(&["BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", "102", "1"], NIL.replace("$-1", "*1\r\n$-1"));
    c.expect_cmd(
        &["BITFIELD", "k", "GET", "u2", "102", "OVERFLOW", "FAIL", "INCRBY", "u2", "102", "-3"],
        ints(&[3, 0]),
    );
    // i8 is -128..=127.
    c.expect_cmd(&["BITFIELD", "s", "SET", "i8", "0", "100", "INCRBY", "i8", "0", "100"], ints(&[0, -56]));
    let sat = |by: &'static str| ["BITFIELD", "s", "OVERFLOW", "SAT", "INCRBY", "i8", "0", by];
    c.expect_cmd(&sat("100"), int(44).replace(':', "*1\r\n:"));
    c.expect_cmd(&sat("100"), ints(&[127]));
    c.expect_cmd(&sat("-300"), ints(&[-128]));
    c.expect_cmd(
        &["BITFIELD", "s", "OVERFLOW", "FAIL", "INCRBY", "i8", "0", "-1", "GET", "i8", "0"],
        array(&[NIL, &int(-128)]),
    );
    // SET reports the old value and stores the new one as the mode says.
    c.expect_cmd(&["BITFIELD", "s", "OVERFLOW", "WRAP", "SET", "i8", "0", "200", "GET", "i8", "0"], ints(&[-128, -56]));
    c.expect_cmd(&["BITFIELD", "s", "OVERFLOW", "SAT", "SET", "i8", "0", "200", "GET", "i8", "0"], ints(&[-56, 127]));
    c.expect_cmd(
        &["BITFIELD", "s", "OVERFLOW", "FAIL", "SET", "i8", "0", "-129", "GET", "i8", "0"],
        array(&[NIL, &int(127)]),
    );
    // A negative value is huge for an unsigned field: SAT stores the maximum.
    c.expect_cmd(&["BITFIELD", "s", "OVERFLOW", "SAT", "SET", "u8", "8", "-1", "GET", "u8", "8"], ints(&[0, 255]));
    c.expect_cmd(&["BITFIELD", "s", "OVERFLOW", "WRAP", "SET", "u8", "8", "-2", "GET", "u8", "8"], ints(&[255, 254]));
    // Redis's check computes 127 - i64::MIN with wrapping: an overflow upwards.
    c.expect_cmd(
        &["BITFIELD", "s", "OVERFLOW", "SAT", "SET", "i8", "8", "-9223372036854775808", "GET", "i8", "8"],
        ints(&[-2, 127]),
    );
}

#[test]
fn bitfield_64_bit_fields() {
    let s = TestServer::start();
    let mut c = s.raw();
    let min = i64::MIN;
    let max = i64::MAX;
    c.expect_cmd(
        &["BITFIELD", "w", "SET", "i64", "0", "-9223372036854775808", "INCRBY", "i64", "0", "-1"],
        ints(&[0, max]),
    );
    c.expect_cmd(&["BITFIELD", "w", "OVERFLOW", "SAT", "INCRBY", "i64", "0", "1"], ints(&[max]));
    c.expect_cmd(&["BITFIELD", "w", "OVERFLOW", "FAIL", "INCRBY", "i64", "0", "1"], array(&[NIL]));
    c.expect_cmd(&["BITFIELD", "w", "INCRBY", "i64", "0", "1"], ints(&[min]));
    // The top 63 of 0x8000000000000000's bits: 2^62.
    c.expect_cmd(&["BITFIELD", "w", "GET", "u63", "0", "GET", "u63", "1"], ints(&[1 << 62, 0]));
    c.expect_cmd(&["BITFIELD", "w", "SET", "u63", "1", "9223372036854775807", "GET", "i64", "0"], ints(&[0, -1]));
    c.expect_cmd(&["BITFIELD", "w", "OVERFLOW", "SAT", "INCRBY", "u63", "1", "-9223372036854775808"], ints(&[0]));
    c.expect_cmd(
        &["BITFIELD", "w", "OVERFLOW", "WRAP", "INCRBY", "u63", "1", "9223372036854775807", "INCRBY", "u63", "1", "1"],
        ints(&[max, 0]),
    );
}

#[test]
fn bitfield_writes_grow_the_string_and_keep_its_expiry() {
    let s = TestServer::start();
    let mut c = s.raw();
    // Even a refused write creates, or grows, the string.
    c.expect_cmd(&["BITFIELD", "fresh", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "10"], array(&[NIL]));
    c.expect_cmd(&["GET", "fresh"], bulk(b"\0"));
    c.expect_cmd(&["BITFIELD", "fresh", "OVERFLOW", "FAIL", "INCRBY", "u8", "#2", "-1"], array(&[NIL]));
    c.expect_cmd(&["STRLEN", "fresh"], int(3));
    set_bytes(&mut c, "t", b"\x01");
    c.expect_cmd(&["EXPIRE", "t", "100"], int(1));
    c.expect_cmd(&["BITFIELD", "t", "SET", "u8", "0", "255"], ints(&[1]));
    c.expect_cmd(&["TTL", "t"], int(100));
    c.expect_cmd(&["GET", "t"], bulk(b"\xff"));
    // GETs run in order with the writes.
    c.expect_cmd(&["BITFIELD", "t", "GET", "u8", "0", "SET", "u8", "0", "7", "GET", "u8", "0"], ints(&[255, 255, 7]));
}

#[test]
fn bitfield_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    set_bytes(&mut c, "bf", b"\x01");
    for bad in ["u64", "i65", "I8", "U8", "i0", "u0", "u", "i", "", "x8", "i08", "i-8", "i8x", "u 8"] {
        c.expect_cmd(&["BITFIELD", "bf", "GET", bad, "0"], FIELD_TYPE);
    }
    for bad in ["-1", "x", "#x", "#-1", "#", "1.5", "4294967296", "#536870912", "#1152921504606846976"] {
        c.expect_cmd(&["BITFIELD", "bf", "GET", "i8", bad], BIT_OFFSET);
    }
    // The largest offsets within 512 MB read zeros without allocating.
    c.expect_cmd(&["BITFIELD", "bf", "GET", "i8", "4294967295", "GET", "u8", "#536870911"], ints(&[0, 0]));
    c.expect_cmd(&["BITFIELD", "bf", "SET", "i8", "0", "x"], NOT_INT_ERR);
    c.expect_cmd(&["BITFIELD", "bf", "INCRBY", "i8", "0", "1.5"], NOT_INT_ERR);
    c.expect_cmd(&["BITFIELD", "bf", "SET", "i8", "0"], SYNTAX_ERR);
    c.expect_cmd(&["BITFIELD", "bf", "INCRBY", "i8", "0"], SYNTAX_ERR);
    c.expect_cmd(&["BITFIELD", "bf", "GET", "i8"], SYNTAX_ERR);
    c.expect_cmd(&["BITFIELD", "bf", "FOO", "i8", "0"], SYNTAX_ERR);
    c.expect_cmd(&["BITFIELD", "bf", "GET", "i8", "0", "extra"], SYNTAX_ERR);
    c.expect_cmd(&["BITFIELD", "bf", "OVERFLOW", "FOO"], OVERFLOW_TYPE);
    c.expect_cmd(&["BITFIELD", "bf", "OVERFLOW"], SYNTAX_ERR);
    // The first error wins, and an error runs nothing.
    c.expect_cmd(&["BITFIELD", "bf", "GET", "x", "y", "SET", "u64", "0", "1"], FIELD_TYPE);
    c.expect_cmd(&["BITFIELD", "bf", "GET", "i8", "y", "SET", "u64", "0", "1"], BIT_OFFSET);
    c.expect_cmd(&["BITFIELD", "bf", "SET", "i8", "0", "2", "GET", "u64", "0"], FIELD_TYPE);
    c.expect_cmd(&["BITFIELD", "bf", "SET", "i8", "0", "2", "OVERFLOW", "NONE", "GET", "u8", "0"], OVERFLOW_TYPE);
    c.expect_cmd(&["GET", "bf"], bulk(b"\x01"));
    c.expect_cmd(&["BITFIELD"], arity_err("bitfield"));
}

#[test]
fn bitfield_wrong_type() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["HSET", "h", "f", "v"], int(1));
    c.expect_cmd(&["BITFIELD", "h", "GET", "i8", "0"], WRONGTYPE);
    c.expect_cmd(&["BITFIELD", "h", "SET", "i8", "0", "1"], WRONGTYPE);
    c.expect_cmd(&["BITFIELD", "h"], WRONGTYPE);
    c.expect_cmd(&["BITFIELD_RO", "h", "GET", "i8", "0"], WRONGTYPE);
    // Arguments are checked before the key.
    c.expect_cmd(&["BITFIELD", "h", "GET", "u64", "0"], FIELD_TYPE);
    c.expect_cmd(&["TYPE", "h"], "+hash\r\n");
}

#[test]
fn bitfield_ro_only_reads() {
    let s = TestServer::start();
    let mut c = s.raw();
    set_bytes(&mut c, "bf", b"\x96\xff");
    c.expect_cmd(
        &["BITFIELD_RO", "bf", "GET", "i8", "0", "GET", "u4", "4", "get", "u16", "#0"],
        ints(&[-106, 6, 38655]),
    );
    c.expect_cmd(&["BITFIELD_RO", "bf"], "*0\r\n");
    c.expect_cmd(&["BITFIELD_RO", "bf", "OVERFLOW", "FAIL", "GET", "i8", "0"], ints(&[-106]));
    c.expect_cmd(&["BITFIELD_RO", "missing", "GET", "i8", "0"], ints(&[0]));
    c.expect_cmd(&["BITFIELD_RO", "bf", "SET", "i8", "0", "1"], RO_ONLY_GET);
    c.expect_cmd(&["BITFIELD_RO", "bf", "GET", "i8", "0", "INCRBY", "i8", "0", "1"], RO_ONLY_GET);
    c.expect_cmd(&["BITFIELD_RO", "missing", "SET", "i8", "0", "1"], RO_ONLY_GET);
    // Parsing comes first.
    c.expect_cmd(&["BITFIELD_RO", "bf", "SET", "i8", "0", "x"], NOT_INT_ERR);
    c.expect_cmd(&["BITFIELD_RO", "bf", "GET", "u64", "0"], FIELD_TYPE);
    c.expect_cmd(&["GET", "bf"], bulk(b"\x96\xff"));
    c.expect_cmd(&["EXISTS", "missing"], int(0));
    c.expect_cmd(&["BITFIELD_RO"], arity_err("bitfield_ro"));
}

#[test]
fn bitfield_offsets_follow_proto_max_bulk_len() {
    let s = server_with_1mb_strings();
    let mut c = s.raw();
    let beyond = (8 * MIB).to_string();
    let last_byte = (8 * MIB - 8).to_string();
    let last_bit = (8 * MIB - 1).to_string();
    let nth_beyond = format!("#{MIB}");
    c.expect_cmd(&["BITFIELD", "b", "GET", "u8", beyond.as_str()], BIT_OFFSET);
    c.expect_cmd(&["BITFIELD", "b", "SET", "u8", beyond.as_str(), "1"], BIT_OFFSET);
    c.expect_cmd(&["BITFIELD", "b", "SET", "u8", nth_beyond.as_str(), "1"], BIT_OFFSET);
    c.expect_cmd(&["EXISTS", "b"], int(0));
    c.expect_cmd(&["BITFIELD", "b", "SET", "u8", last_byte.as_str(), "1"], ints(&[0]));
    c.expect_cmd(&["STRLEN", "b"], int(MIB as i64));
    // A field may start at the last allowed bit (set just above, so the
    // field held 1 and 63 zeros); the string grows to hold all of it, as
    // in Redis.
    c.expect_cmd(
        &["BITFIELD", "b", "SET", "i64", last_bit.as_str(), "-1", "GET", "i64", last_bit.as_str()],
        ints(&[i64::MIN, -1]),
    );
    c.expect_cmd(&["STRLEN", "b"], int(MIB as i64 + 8));
}

#[test]
fn bitfield_fail_is_a_resp3_null() {
    let s = TestServer::start();
    let mut c = resp3(&s);
    c.expect_cmd(
        &["BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "4", "INCRBY", "u2", "0", "3"],
        format!("*2\r\n{NULL3}:3\r\n"),
    );
}

// ---------------------------------------------------------------------------
// LCS
// ---------------------------------------------------------------------------

/// One match of LCS IDX: A's range, B's range, and the length (WITHMATCHLEN).
type Match = (i64, i64, i64, i64, Option<i64>);

/// The matches part of an LCS IDX reply.
fn lcs_matches(matches: &[Match]) -> String {
    let mut out = format!("$7\r\nmatches\r\n*{}\r\n", matches.len());
    for &(a0, a1, b0, b1, len) in matches {
        out.push_str(&format!("*{}\r\n{}{}", 2 + usize::from(len.is_some()), ints(&[a0, a1]), ints(&[b0, b1])));
        if let Some(len) = len {
            out.push_str(&int(len));
        }
    }
    out
}

/// LCS IDX's reply in RESP2 (a flat array) or RESP3 (a map).
fn lcs_idx(matches: &[Match], len: i64, resp3: bool) -> String {
    let header = if resp3 { "%2\r\n" } else { "*4\r\n" };
    format!("{header}{}$3\r\nlen\r\n{}", lcs_matches(matches), int(len))
}

#[test]
fn lcs_documentation_example() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MSET", "key1", "ohmytext", "key2", "mynewtext"], OK);
    c.expect_cmd(&["LCS", "key1", "key2"], bulk("mytext"));
    c.expect_cmd(&["LCS", "key1", "key2", "LEN"], int(6));
    c.expect_cmd(&["LCS", "key1", "key2", "len", "MINMATCHLEN", "3"], int(6));
    let both = [(4, 7, 5, 8, None), (2, 3, 0, 1, None)];
    c.expect_cmd(&["LCS", "key1", "key2", "IDX"], lcs_idx(&both, 6, false));
    c.expect_cmd(&["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "-5"], lcs_idx(&both, 6, false));
    c.expect_cmd(&["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"], lcs_idx(&both[..1], 6, false));
    c.expect_cmd(&["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "5"], lcs_idx(&[], 6, false));
    let with_len = [(4, 7, 5, 8, Some(4)), (2, 3, 0, 1, Some(2))];
    c.expect_cmd(&["LCS", "key1", "key2", "idx", "withmatchlen"], lcs_idx(&with_len, 6, false));
    c.expect_cmd(
        &["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
        lcs_idx(&with_len[..1], 6, false),
    );
    // WITHMATCHLEN and MINMATCHLEN without IDX change nothing.
    c.expect_cmd(&["LCS", "key1", "key2", "WITHMATCHLEN", "MINMATCHLEN", "9"], bulk("mytext"));
}

#[test]
fn lcs_reports_the_matches_redis_reports() {
    // Which of several equally long subsequences comes back, and which
    // ranges, follows Redis's walk back through its table.
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MSET", "a", "ACCGGTCGAGTGCGCGGAAGCCGGCCGAA", "b", "GTCGTTCGGAATGCCGTTGCTCTGTAAA"], OK);
    c.expect_cmd(&["LCS", "a", "b"], bulk("GTCGTCGGAAGCCGGCCGAA"));
    let matches = [
        (27, 28, 26, 27, Some(2)),
        (26, 26, 23, 23, Some(1)),
        (25, 25, 21, 21, Some(1)),
        (23, 24, 18, 19, Some(2)),
        (19, 22, 12, 15, Some(4)),
        (14, 18, 6, 10, Some(5)),
        (9, 10, 3, 4, Some(2)),
        (4, 6, 0, 2, Some(3)),
    ];
    c.expect_cmd(&["LCS", "a", "b", "IDX", "WITHMATCHLEN"], lcs_idx(&matches, 20, false));
    c.expect_cmd(&["MSET", "c", "aaaaabbbbbaaaaa", "d", "bbbbbaaaaabbbbb"], OK);
    c.expect_cmd(&["LCS", "c", "d"], bulk("bbbbbaaaaa"));
    c.expect_cmd(&["LCS", "c", "d", "IDX", "WITHMATCHLEN"], lcs_idx(&[(5, 14, 0, 9, Some(10))], 10, false));
    c.expect_cmd(&["LCS", "d", "c"], bulk("aaaaabbbbb"));
    c.expect_cmd(&["SET", "n", "12345"], OK);
    c.expect_cmd(&["LCS", "n", "n", "LEN"], int(5));
}

#[test]
fn lcs_idx_is_a_map_in_resp3() {
    let s = TestServer::start();
    let mut c = resp3(&s);
    c.expect_cmd(&["MSET", "key1", "ohmytext", "key2", "mynewtext"], OK);
    let matches = [(4, 7, 5, 8, Some(4)), (2, 3, 0, 1, Some(2))];
    c.expect_cmd(&["LCS", "key1", "key2", "IDX", "WITHMATCHLEN"], lcs_idx(&matches, 6, true));
    c.expect_cmd(&["LCS", "key1", "missing", "IDX"], lcs_idx(&[], 0, true));
    c.expect_cmd(&["LCS", "key1", "key2"], bulk("mytext"));
}

#[test]
fn lcs_missing_keys_are_empty_strings() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "key1", "ohmytext"], OK);
    c.expect_cmd(&["LCS", "key1", "missing"], bulk(""));
    c.expect_cmd(&["LCS", "missing", "key1", "LEN"], int(0));
    c.expect_cmd(&["LCS", "missing", "missing2", "IDX"], lcs_idx(&[], 0, false));
    c.expect_cmd(&["SET", "other", "123"], OK);
    c.expect_cmd(&["LCS", "key1", "other", "IDX"], lcs_idx(&[], 0, false));
}

#[test]
fn lcs_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MSET", "key1", "ohmytext", "key2", "mynewtext"], OK);
    c.expect_cmd(&["LCS", "key1", "key2", "LEN", "IDX"], LCS_LEN_AND_IDX);
    c.expect_cmd(&["LCS", "key1", "key2", "IDX", "LEN"], LCS_LEN_AND_IDX);
    c.expect_cmd(&["LCS", "key1", "key2", "MINMATCHLEN"], SYNTAX_ERR);
    c.expect_cmd(&["LCS", "key1", "key2", "MINMATCHLEN", "x"], NOT_INT_ERR);
    c.expect_cmd(&["LCS", "key1", "key2", "FOO"], SYNTAX_ERR);
    c.expect_cmd(&["LCS", "key1", "key2", "FOO", "LEN", "IDX"], SYNTAX_ERR);
    c.expect_cmd(&["LCS", "key1", "key2", "LEN", "IDX", "FOO"], SYNTAX_ERR);
    c.expect_cmd(&["HSET", "h", "f", "v"], int(1));
    c.expect_cmd(&["LCS", "key1", "h"], LCS_NOT_STRINGS);
    c.expect_cmd(&["LCS", "h", "missing", "LEN"], LCS_NOT_STRINGS);
    // The types are checked before the options.
    c.expect_cmd(&["LCS", "h", "key1", "FOO"], LCS_NOT_STRINGS);
    c.expect_cmd(&["LCS", "key1"], arity_err("lcs"));
}

#[test]
fn lcs_refuses_tables_over_proto_max_bulk_len() {
    // The table has (len1 + 1) * (len2 + 1) four-byte cells.
    let s = server_with_1mb_strings();
    let mut c = s.raw();
    let (a500, a600) = ("a".repeat(500), "a".repeat(600));
    c.expect_cmd(&["MSET", "a500", a500.as_str(), "a600", a600.as_str()], OK);
    c.expect_cmd(&["LCS", "a500", "a500", "LEN"], int(500)); // 1,004,004 bytes
    c.expect_cmd(&["LCS", "a600", "a600", "LEN"], LCS_TOO_BIG); // 1,444,804 bytes
    c.expect_cmd(&["LCS", "a600", "a500"], LCS_TOO_BIG);
    c.expect_cmd(&["LCS", "a500", "a600", "IDX"], LCS_TOO_BIG);
    // Even against an empty string, one row of a long string is too much.
    let long = "x".repeat(300_000);
    c.expect_cmd(&["SET", "long", long.as_str()], OK);
    c.expect_cmd(&["LCS", "long", "missing"], LCS_TOO_BIG);
    c.expect_cmd(&["LCS", "missing", "long", "LEN"], LCS_TOO_BIG);
    // Option errors come first.
    c.expect_cmd(&["LCS", "long", "long", "LEN", "IDX"], LCS_LEN_AND_IDX);
}

// ---------------------------------------------------------------------------
// The command table
// ---------------------------------------------------------------------------

/// COMMAND INFO's first key, last key and key step.
type KeyTriple = (i64, i64, i64);

#[test]
fn command_info_arity_flags_and_keys() {
    let s = TestServer::start();
    let mut c = s.raw();
    let expected: [(&str, i64, &[&str], KeyTriple); 8] = [
        ("setbit", 4, &["write", "denyoom"], (1, 1, 1)),
        ("getbit", 3, &["readonly", "fast"], (1, 1, 1)),
        ("bitcount", -2, &["readonly"], (1, 1, 1)),
        ("bitpos", -3, &["readonly"], (1, 1, 1)),
        ("bitop", -4, &["write", "denyoom"], (2, -1, 1)),
        ("bitfield", -2, &["write", "denyoom"], (1, 1, 1)),
        ("bitfield_ro", -2, &["readonly", "fast"], (1, 1, 1)),
        ("lcs", -3, &["readonly"], (1, 2, 1)),
    ];
    for (name, arity, flags, keys) in expected {
        let reply = c.call_resp(&["COMMAND", "INFO", name]);
        let info = reply.items()[0].items();
        assert_eq!(info[0].text(), name);
        assert_eq!(info[1].int(), arity, "arity of {name}");
        let mut got: Vec<String> = info[2].items().iter().map(Resp::text).collect();
        got.sort();
        let mut want: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "flags of {name}");
        assert_eq!((info[3].int(), info[4].int(), info[5].int()), keys, "keys of {name}");
    }
}

#[test]
fn command_getkeys_finds_the_keys() {
    let s = TestServer::start();
    let mut c = s.raw();
    let keys = |names: &[&str]| {
        let items: Vec<u8> = names.iter().flat_map(bulk).collect();
        let mut reply = format!("*{}\r\n", names.len()).into_bytes();
        reply.extend(items);
        reply
    };
    c.expect_cmd(&["COMMAND", "GETKEYS", "BITOP", "AND", "dest", "a", "b"], keys(&["dest", "a", "b"]));
    c.expect_cmd(&["COMMAND", "GETKEYS", "BITOP", "NOT", "dest", "a"], keys(&["dest", "a"]));
    c.expect_cmd(&["COMMAND", "GETKEYS", "LCS", "a", "b", "IDX", "MINMATCHLEN", "3"], keys(&["a", "b"]));
    c.expect_cmd(&["COMMAND", "GETKEYS", "BITFIELD_RO", "k", "GET", "i8", "0"], keys(&["k"]));
    c.expect_cmd(&["COMMAND", "GETKEYS", "BITFIELD", "k", "SET", "i8", "0", "1"], keys(&["k"]));
    c.expect_cmd(&["COMMAND", "GETKEYS", "BITPOS", "k", "1", "0"], keys(&["k"]));
}
