//! String commands: GET/SET and all SET options, SETEX, PSETEX, SETNX, MGET,
//! MSET, INCR/DECR/INCRBY/DECRBY, binary safety. Redis 7 replies, byte-exact.

use crate::common::*;
use std::time::{SystemTime, UNIX_EPOCH};

const BAD_EXPIRE_SET: &str = "-ERR invalid expire time in 'set' command\r\n";
const OVERFLOW: &str = "-ERR increment or decrement would overflow\r\n";

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as u64
}

/// PTTL of `key`, asserted to lie in `lo..=hi`.
fn assert_pttl_between(c: &mut RawClient, key: &str, lo: i64, hi: i64) {
    let pttl = c.call_resp(&["PTTL", key]).int();
    assert!((lo..=hi).contains(&pttl), "PTTL {key} = {pttl}, expected {lo}..={hi}");
}

#[test]
fn set_and_get() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["GET", "s:k"], NIL);
    c.expect_cmd(&["SET", "s:k", "v1"], OK);
    c.expect_cmd(&["GET", "s:k"], bulk("v1"));
    c.expect_cmd(&["SET", "s:k", "v2"], OK);
    c.expect_cmd(&["GET", "s:k"], bulk("v2"));
    c.expect_cmd(&["SET", "s:empty", ""], OK);
    c.expect_cmd(&["GET", "s:empty"], "$0\r\n\r\n");
    // The empty string is a valid key.
    c.expect_cmd(&["SET", "", "empty key"], OK);
    c.expect_cmd(&["GET", ""], bulk("empty key"));
}

#[test]
fn set_plain_clears_previous_ttl() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "k", "v", "EX", "100"], OK);
    c.expect_cmd(&["SET", "k", "v2"], OK);
    c.expect_cmd(&["TTL", "k"], int(-1));
}

#[test]
fn set_with_ex_and_px() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "ex", "v", "EX", "100"], OK);
    c.expect_cmd(&["TTL", "ex"], int(100));
    assert_pttl_between(&mut c, "ex", 99_000, 100_000);
    c.expect_cmd(&["SET", "px", "v", "PX", "100000"], OK);
    assert_pttl_between(&mut c, "px", 99_000, 100_000);
    c.expect_cmd(&["GET", "px"], bulk("v"));
}

#[test]
fn set_with_exat_and_pxat() {
    let s = TestServer::start();
    let mut c = s.raw();
    let at_s = now_ms() / 1000 + 100;
    c.expect_cmd(&["SET", "exat", "v", "EXAT", &at_s.to_string()], OK);
    let ttl = c.call_resp(&["TTL", "exat"]).int();
    assert!((98..=100).contains(&ttl), "TTL after EXAT now+100 = {ttl}");
    let at_ms = now_ms() + 100_000;
    c.expect_cmd(&["SET", "pxat", "v", "PXAT", &at_ms.to_string()], OK);
    assert_pttl_between(&mut c, "pxat", 99_000, 100_000);
    c.expect_cmd(&["GET", "pxat"], bulk("v"));
}

#[test]
fn set_with_timestamp_in_the_past_deletes() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "past", "v", "EXAT", "1"], OK);
    c.expect_cmd(&["GET", "past"], NIL);
    c.expect_cmd(&["EXISTS", "past"], int(0));
    c.expect_cmd(&["SET", "past", "old"], OK);
    c.expect_cmd(&["SET", "past", "new", "PXAT", "1", "GET"], bulk("old"));
    c.expect_cmd(&["GET", "past"], NIL);
}

#[test]
fn set_nx_and_xx() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "nx", "1", "NX"], OK);
    c.expect_cmd(&["SET", "nx", "2", "NX"], NIL);
    c.expect_cmd(&["GET", "nx"], bulk("1"));
    c.expect_cmd(&["SET", "xx", "1", "XX"], NIL);
    c.expect_cmd(&["EXISTS", "xx"], int(0));
    c.expect_cmd(&["SET", "nx", "3", "XX"], OK);
    c.expect_cmd(&["GET", "nx"], bulk("3"));
    // NX with a TTL only applies the TTL when the key is set.
    c.expect_cmd(&["SET", "nx", "4", "NX", "EX", "100"], NIL);
    c.expect_cmd(&["TTL", "nx"], int(-1));
    c.expect_cmd(&["SET", "nxttl", "4", "EX", "100", "NX"], OK);
    c.expect_cmd(&["TTL", "nxttl"], int(100));
}

#[test]
fn set_get_option_returns_old_value() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "g", "first", "GET"], NIL);
    c.expect_cmd(&["GET", "g"], bulk("first"));
    c.expect_cmd(&["SET", "g", "second", "GET"], bulk("first"));
    c.expect_cmd(&["GET", "g"], bulk("second"));
    // NX + GET (allowed since 7.0): returns the old value, does not overwrite.
    c.expect_cmd(&["SET", "g", "third", "NX", "GET"], bulk("second"));
    c.expect_cmd(&["GET", "g"], bulk("second"));
    c.expect_cmd(&["SET", "g-new", "x", "NX", "GET"], NIL);
    c.expect_cmd(&["GET", "g-new"], bulk("x"));
    // XX + GET on a missing key: nil, nothing set.
    c.expect_cmd(&["SET", "g-missing", "x", "XX", "GET"], NIL);
    c.expect_cmd(&["EXISTS", "g-missing"], int(0));
    c.expect_cmd(&["SET", "g", "fourth", "XX", "GET", "EX", "100"], bulk("second"));
    c.expect_cmd(&["TTL", "g"], int(100));
}

#[test]
fn set_keepttl() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "kt", "v1", "EX", "100"], OK);
    c.expect_cmd(&["SET", "kt", "v2", "KEEPTTL"], OK);
    c.expect_cmd(&["GET", "kt"], bulk("v2"));
    c.expect_cmd(&["TTL", "kt"], int(100));
    c.expect_cmd(&["SET", "kt", "v3", "KEEPTTL", "GET"], bulk("v2"));
    c.expect_cmd(&["TTL", "kt"], int(100));
    c.expect_cmd(&["SET", "kt", "v4"], OK);
    c.expect_cmd(&["TTL", "kt"], int(-1));
    c.expect_cmd(&["SET", "kt-new", "v", "KEEPTTL"], OK);
    c.expect_cmd(&["TTL", "kt-new"], int(-1));
}

#[test]
fn set_option_syntax_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    let bad: &[&[&str]] = &[
        &["NX", "XX"],
        &["XX", "NX"],
        &["EX", "10", "PX", "10"],
        &["PX", "10", "EX", "10"],
        &["EX", "10", "EXAT", "10"],
        &["EXAT", "10", "PXAT", "10"],
        &["EX", "10", "KEEPTTL"],
        &["KEEPTTL", "PX", "5"],
        &["KEEPTTL", "EX", "10"],
        &["FOO"],
        &["EX"],
        &["PX"],
        &["EXAT"],
        &["PXAT"],
        &["EX", "10", "BAR"],
    ];
    for opts in bad {
        let mut args = vec!["SET", "syn", "v"];
        args.extend_from_slice(opts);
        c.expect_cmd(&args, SYNTAX_ERR);
    }
    c.expect_cmd(&["EXISTS", "syn"], int(0));
}

#[test]
fn set_invalid_expire_times() {
    let s = TestServer::start();
    let mut c = s.raw();
    for (opt, val) in [
        ("EX", "0"),
        ("EX", "-1"),
        ("PX", "0"),
        ("PX", "-100"),
        ("EXAT", "0"),
        ("PXAT", "0"),
        ("PXAT", "-5"),
        ("EX", "9223372036854775807"),
        ("EX", "9223372036854775"),
        ("PX", "9223372036854775807"),
        ("EXAT", "9223372036854775807"),
    ] {
        c.expect_cmd(&["SET", "badexp", "v", opt, val], BAD_EXPIRE_SET);
    }
    for (opt, val) in
        [("EX", "abc"), ("EX", "1.5"), ("PX", "1.0"), ("EX", ""), ("EX", " 10"), ("PX", "99999999999999999999")]
    {
        c.expect_cmd(&["SET", "badexp", "v", opt, val], NOT_INT_ERR);
    }
    c.expect_cmd(&["EXISTS", "badexp"], int(0));
}

#[test]
fn set_options_are_case_insensitive() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "ci", "v", "ex", "100", "nx"], OK);
    c.expect_cmd(&["TTL", "ci"], int(100));
    c.expect_cmd(&["SET", "ci", "w", "Xx", "keepttl", "gEt"], bulk("v"));
    c.expect_cmd(&["TTL", "ci"], int(100));
}

#[test]
fn setex_and_psetex() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SETEX", "se", "100", "v"], OK);
    c.expect_cmd(&["GET", "se"], bulk("v"));
    c.expect_cmd(&["TTL", "se"], int(100));
    c.expect_cmd(&["PSETEX", "pse", "100000", "v"], OK);
    assert_pttl_between(&mut c, "pse", 99_000, 100_000);
    c.expect_cmd(&["GET", "pse"], bulk("v"));
}

#[test]
fn setex_psetex_errors() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SETEX", "se", "0", "v"], err("ERR invalid expire time in 'setex' command"));
    c.expect_cmd(&["SETEX", "se", "-1", "v"], err("ERR invalid expire time in 'setex' command"));
    c.expect_cmd(&["SETEX", "se", "9223372036854775807", "v"], err("ERR invalid expire time in 'setex' command"));
    c.expect_cmd(&["PSETEX", "se", "0", "v"], err("ERR invalid expire time in 'psetex' command"));
    c.expect_cmd(&["PSETEX", "se", "-5", "v"], err("ERR invalid expire time in 'psetex' command"));
    c.expect_cmd(&["SETEX", "se", "abc", "v"], NOT_INT_ERR);
    c.expect_cmd(&["PSETEX", "se", "1.5", "v"], NOT_INT_ERR);
    c.expect_cmd(&["SETEX", "se", "10"], arity_err("setex"));
    c.expect_cmd(&["SETEX", "se", "10", "v", "v"], arity_err("setex"));
    c.expect_cmd(&["PSETEX", "se", "10"], arity_err("psetex"));
    c.expect_cmd(&["EXISTS", "se"], int(0));
}

#[test]
fn setnx() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SETNX", "snx", "a"], int(1));
    c.expect_cmd(&["SETNX", "snx", "b"], int(0));
    c.expect_cmd(&["GET", "snx"], bulk("a"));
    c.expect_cmd(&["SETNX", "snx"], arity_err("setnx"));
}

#[test]
fn mset_and_mget() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MSET", "m1", "1", "m2", "2", "m3", ""], OK);
    c.expect_cmd(
        &["MGET", "m1", "missing", "m2", "m3", "m1"],
        "*5\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n$0\r\n\r\n$1\r\n1\r\n",
    );
    c.expect_cmd(&["MGET", "nope"], "*1\r\n$-1\r\n");
    // Later pairs win.
    c.expect_cmd(&["MSET", "m1", "a", "m1", "b"], OK);
    c.expect_cmd(&["GET", "m1"], bulk("b"));
}

#[test]
fn mset_mget_arity() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["MSET", "a"], arity_err("mset"));
    c.expect_cmd(&["MSET", "a", "1", "b"], arity_err("mset"));
    c.expect_cmd(&["MSET"], arity_err("mset"));
    c.expect_cmd(&["MGET"], arity_err("mget"));
    c.expect_cmd(&["EXISTS", "a"], int(0));
}

#[test]
fn incr_decr_on_missing_and_existing() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["INCR", "i1"], int(1));
    c.expect_cmd(&["INCR", "i1"], int(2));
    c.expect_cmd(&["GET", "i1"], bulk("2"));
    c.expect_cmd(&["DECR", "d1"], int(-1));
    c.expect_cmd(&["INCRBY", "i2", "5"], int(5));
    c.expect_cmd(&["INCRBY", "i2", "-10"], int(-5));
    c.expect_cmd(&["DECRBY", "i3", "10"], int(-10));
    c.expect_cmd(&["DECRBY", "i3", "-3"], int(-7));
    c.expect_cmd(&["SET", "i4", "-20"], OK);
    c.expect_cmd(&["INCR", "i4"], int(-19));
    c.expect_cmd(&["SET", "i5", "0"], OK);
    c.expect_cmd(&["DECR", "i5"], int(-1));
    c.expect_cmd(&["GET", "i5"], bulk("-1"));
}

#[test]
fn incr_keeps_ttl() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "it", "10", "EX", "100"], OK);
    c.expect_cmd(&["INCR", "it"], int(11));
    c.expect_cmd(&["TTL", "it"], int(100));
}

#[test]
fn incr_rejects_non_integers() {
    let s = TestServer::start();
    let mut c = s.raw();
    for v in ["abc", " 1", "1 ", "01", "+1", "-0", "1.5", "", "99999999999999999999", "1\0", "0x10"] {
        c.expect_cmd(&["SET", "ni", v], OK);
        c.expect_cmd(&["INCR", "ni"], NOT_INT_ERR);
        c.expect_cmd(&["DECR", "ni"], NOT_INT_ERR);
        c.expect_cmd(&["INCRBY", "ni", "1"], NOT_INT_ERR);
        // The value is untouched.
        c.expect_cmd(&["GET", "ni"], bulk(v));
    }
    for by in ["abc", "1.5", "", " 1", "01", "9223372036854775808"] {
        c.expect_cmd(&["INCRBY", "nb", by], NOT_INT_ERR);
        c.expect_cmd(&["DECRBY", "nb", by], NOT_INT_ERR);
    }
    c.expect_cmd(&["EXISTS", "nb"], int(0));
}

#[test]
fn incr_overflow() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "ov", "9223372036854775807"], OK);
    c.expect_cmd(&["INCR", "ov"], OVERFLOW);
    c.expect_cmd(&["INCRBY", "ov", "1"], OVERFLOW);
    c.expect_cmd(&["DECRBY", "ov", "-1"], OVERFLOW);
    c.expect_cmd(&["GET", "ov"], bulk("9223372036854775807"));
    c.expect_cmd(&["SET", "un", "-9223372036854775808"], OK);
    c.expect_cmd(&["DECR", "un"], OVERFLOW);
    c.expect_cmd(&["INCRBY", "un", "-1"], OVERFLOW);
    c.expect_cmd(&["INCR", "un"], int(-9223372036854775807));
    c.expect_cmd(&["SET", "big", "9223372036854775800"], OK);
    c.expect_cmd(&["INCRBY", "big", "7"], int(9223372036854775807));
    c.expect_cmd(&["INCRBY", "big", "1"], OVERFLOW);
    // DECRBY by i64::MIN cannot be negated: its own message.
    c.expect_cmd(&["DECRBY", "z", "-9223372036854775808"], err("ERR decrement would overflow"));
    c.expect_cmd(&["INCRBY", "z", "-9223372036854775808"], int(i64::MIN));
}

#[test]
fn incr_family_arity() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["INCR"], arity_err("incr"));
    c.expect_cmd(&["INCR", "a", "b"], arity_err("incr"));
    c.expect_cmd(&["DECR", "a", "b"], arity_err("decr"));
    c.expect_cmd(&["INCRBY", "a"], arity_err("incrby"));
    c.expect_cmd(&["DECRBY", "a"], arity_err("decrby"));
}

#[test]
fn binary_safe_keys_and_values() {
    let s = TestServer::start();
    let mut c = s.raw();
    let key: &[u8] = b"bin\0key\r\nwith\xffbytes";
    let val: &[u8] = b"\0\r\n\x01\x02\xfe\xff$3\r\n*1\r\n";
    c.expect_cmd(&[&b"SET"[..], key, val], OK);
    c.expect_cmd(&[&b"GET"[..], key], bulk(val));
    c.expect_cmd(&[&b"GET"[..], b"bin\0key"], NIL);
    c.expect_cmd(&[&b"EXISTS"[..], key], int(1));
    c.expect_cmd(&[&b"MGET"[..], key, b"bin"], [b"*2\r\n".to_vec(), bulk(val), NIL.as_bytes().to_vec()].concat());
    c.expect_cmd(&[&b"DEL"[..], key], int(1));
}

#[test]
fn large_value_roundtrip() {
    let s = TestServer::start();
    let mut c = s.raw();
    let val: Vec<u8> = (0..(4 << 20)).map(|i| (i * 7 % 251) as u8).collect();
    c.expect_cmd(&[&b"SET"[..], b"large", &val], OK);
    c.expect_cmd(&["GET", "large"], bulk(&val));
}

#[test]
fn mset_mget_many_keys() {
    let s = TestServer::start();
    let mut c = s.raw();
    let n = 10_000;
    let mut mset = vec!["MSET".to_string()];
    for i in 0..n {
        mset.push(format!("many:{i}"));
        mset.push(format!("v{i}"));
    }
    c.expect_cmd(&mset, OK);
    let mut mget = vec!["MGET".to_string()];
    mget.extend((0..n).map(|i| format!("many:{i}")));
    let reply = c.call_resp(&mget);
    let items = reply.items();
    assert_eq!(items.len(), n);
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item.text(), format!("v{i}"), "MGET element {i}");
    }
}
