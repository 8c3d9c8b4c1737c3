//! SORT and SORT_RO over lists, sets and sorted sets: numeric and ALPHA
//! order, ASC/DESC, LIMIT, BY patterns (string keys, `->field` hash
//! fields, BY without `*`), GET patterns (GET #, missing values), STORE
//! (a list in place of any value, an empty result deleting the
//! destination), WRONGTYPE, every error text, RESP3, the key specs and
//! COMMAND GETKEYS, and huge LIMITs on a large list.
//!
//! ALPHA order here is byte order: Redis compares with `strcoll`, which
//! agrees in the C locales (the only ones on the test machines).
//!
//! Replies byte-exact; all of it holds against redis-server 7.0
//! (differential mode).

use crate::common::*;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const NOT_A_DOUBLE: &str = "-ERR One or more scores can't be converted into double\r\n";
const EMPTY: &str = "*0\r\n";

/// `command key items...`, checked to add them all.
fn fill(c: &mut RawClient, command: &str, key: &str, items: &[&str]) {
    let mut args = vec![command, key];
    args.extend_from_slice(items);
    let added = if command == "ZADD" { items.len() / 2 } else { items.len() };
    c.expect_cmd(&args, int(added as i64));
}

/// A RESP2 array of bulk strings and nils.
fn values(items: &[Option<&str>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for item in items {
        match item {
            Some(item) => out.extend_from_slice(&bulk(item)),
            None => out.extend_from_slice(NIL.as_bytes()),
        }
    }
    out
}

/// `SORT <line>`, split at spaces.
fn sort(c: &mut RawClient, line: &str, expected: impl AsRef<[u8]>) {
    let mut args = vec!["SORT"];
    args.extend(line.split(' '));
    c.expect_cmd(&args, expected);
}

/// A server with the list `l` = 3 1 2 10 -1 1.5.
fn with_numbers() -> (TestServer, RawClient) {
    let s = TestServer::start();
    let mut c = s.raw();
    fill(&mut c, "RPUSH", "l", &["3", "1", "2", "10", "-1", "1.5"]);
    (s, c)
}

// ---------------------------------------------------------------------------
// Order
// ---------------------------------------------------------------------------

#[test]
fn numeric_order_by_default_and_desc() {
    let (_s, mut c) = with_numbers();
    sort(&mut c, "l", bulks(&["-1", "1", "1.5", "2", "3", "10"]));
    sort(&mut c, "l ASC", bulks(&["-1", "1", "1.5", "2", "3", "10"]));
    sort(&mut c, "l DESC", bulks(&["10", "3", "2", "1.5", "1", "-1"]));
    sort(&mut c, "l desc asc", bulks(&["-1", "1", "1.5", "2", "3", "10"]));
    // Equal numbers go by their bytes (reversed by DESC); strtod's forms.
    fill(&mut c, "RPUSH", "t", &["1.0", "1", "01", "-inf", "1e1", " 2", "", "0x1p3", "0X.8"]);
    sort(&mut c, "t", bulks(&["-inf", "", "0X.8", "01", "1", "1.0", " 2", "0x1p3", "1e1"]));
    sort(&mut c, "t DESC", bulks(&["1e1", "0x1p3", " 2", "1.0", "1", "01", "0X.8", "", "-inf"]));
    // The source is left as it was.
    c.expect_cmd(&["LRANGE", "l", "0", "-1"], bulks(&["3", "1", "2", "10", "-1", "1.5"]));
}

#[test]
fn alpha_order_compares_bytes() {
    let (_s, mut c) = with_numbers();
    sort(&mut c, "l ALPHA", bulks(&["-1", "1", "1.5", "10", "2", "3"]));
    sort(&mut c, "l alpha DESC", bulks(&["3", "2", "10", "1.5", "1", "-1"]));
    fill(&mut c, "RPUSH", "w", &["pear", "apple", "fig", "apple"]);
    sort(&mut c, "w ALPHA", bulks(&["apple", "apple", "fig", "pear"]));
}

#[test]
fn values_that_are_not_numbers_fail_a_numeric_sort() {
    let s = TestServer::start();
    let mut c = s.raw();
    for bad in ["a", "2 ", "nan", "1e400", " ", "0x"] {
        c.expect_cmd(&["DEL", "l"], if bad == "a" { int(0) } else { int(1) });
        fill(&mut c, "RPUSH", "l", &["1", bad]);
        sort(&mut c, "l", NOT_A_DOUBLE);
        sort(&mut c, "l STORE d", NOT_A_DOUBLE);
        c.expect_cmd(&["EXISTS", "d"], int(0));
    }
    // ALPHA, and no sorting at all, read no numbers.
    sort(&mut c, "l ALPHA", bulks(&["0x", "1"]));
    sort(&mut c, "l BY nosort", bulks(&["1", "0x"]));
}

// ---------------------------------------------------------------------------
// LIMIT
// ---------------------------------------------------------------------------

#[test]
fn limit_takes_a_window_of_the_sorted_elements() {
    let (_s, mut c) = with_numbers();
    sort(&mut c, "l LIMIT 1 2", bulks(&["1", "1.5"]));
    sort(&mut c, "l LIMIT 1 2 DESC", bulks(&["3", "2"]));
    sort(&mut c, "l LIMIT 4 -1", bulks(&["3", "10"]));
    sort(&mut c, "l LIMIT -5 2", bulks(&["-1", "1"]));
    sort(&mut c, "l LIMIT 4 100", bulks(&["3", "10"]));
    sort(&mut c, "l LIMIT 6 1", EMPTY);
    sort(&mut c, "l LIMIT 2 0", EMPTY);
    sort(&mut c, "l LIMIT 9223372036854775807 9223372036854775807", EMPTY);
    sort(&mut c, "l LIMIT -9223372036854775808 -9223372036854775808", bulks(&["-1", "1", "1.5", "2", "3", "10"]));
    // The last LIMIT wins.
    sort(&mut c, "l LIMIT 0 1 LIMIT 5 1", bulks(&["10"]));
    sort(&mut c, "l LIMIT x 1", NOT_INT_ERR);
    sort(&mut c, "l LIMIT 0 1.5", NOT_INT_ERR);
    sort(&mut c, "l LIMIT 0", SYNTAX_ERR);
    sort(&mut c, "l LIMIT", SYNTAX_ERR);
}

#[test]
fn huge_limits_on_a_large_list_answer_only_the_window() {
    let s = TestServer::start();
    let mut c = s.raw();
    let items: Vec<String> = (0..20_000).rev().map(|i| i.to_string()).collect();
    for chunk in items.chunks(5_000) {
        let mut args = vec!["RPUSH", "big"];
        args.extend(chunk.iter().map(String::as_str));
        assert!(c.call(&args).starts_with(':'));
    }
    sort(&mut c, "big LIMIT 19998 9223372036854775807", bulks(&["19998", "19999"]));
    sort(&mut c, "big BY nosort LIMIT 1 2 GET # GET #", bulks(&["19998", "19998", "19997", "19997"]));
    sort(&mut c, "big BY nosort DESC LIMIT 0 2", bulks(&["0", "1"]));
    sort(&mut c, "big LIMIT 0 3 GET nostar_*", values(&[None, None, None]));
    sort(&mut c, "big LIMIT 10 5 STORE d", int(5));
    c.expect_cmd(&["LRANGE", "d", "0", "-1"], bulks(&["10", "11", "12", "13", "14"]));
}

// ---------------------------------------------------------------------------
// Source types
// ---------------------------------------------------------------------------

#[test]
fn sets_sort_and_store_in_order() {
    let s = TestServer::start();
    let mut c = s.raw();
    fill(&mut c, "SADD", "s", &["5", "3", "9", "1"]);
    sort(&mut c, "s", bulks(&["1", "3", "5", "9"]));
    sort(&mut c, "s DESC LIMIT 1 2", bulks(&["5", "3"]));
    fill(&mut c, "SADD", "words", &["b", "a", "c", "10", "9"]);
    sort(&mut c, "words ALPHA", bulks(&["10", "9", "a", "b", "c"]));
    sort(&mut c, "words", NOT_A_DOUBLE);
    // Not sorted, a set answers in its own order; stored, it is sorted
    // ALPHA (DESC too) so what is stored does not depend on that order.
    sort(&mut c, "words BY nosort STORE d", int(5));
    c.expect_cmd(&["LRANGE", "d", "0", "-1"], bulks(&["10", "9", "a", "b", "c"]));
    sort(&mut c, "words BY nosort DESC LIMIT 0 2 STORE d", int(2));
    c.expect_cmd(&["LRANGE", "d", "0", "-1"], bulks(&["c", "b"]));
    let mut unsorted =
        c.call_resp(&["SORT", "words", "BY", "nosort"]).items().iter().map(Resp::text).collect::<Vec<_>>();
    unsorted.sort();
    assert_eq!(unsorted, ["10", "9", "a", "b", "c"]);
    fill(&mut c, "SADD", "one", &["x"]);
    sort(&mut c, "one BY nosort", bulks(&["x"]));
}

#[test]
fn sorted_sets_sort_by_member_or_keep_their_order() {
    let s = TestServer::start();
    let mut c = s.raw();
    fill(&mut c, "ZADD", "z", &["1", "c", "2", "a", "3", "b"]);
    sort(&mut c, "z ALPHA", bulks(&["a", "b", "c"]));
    sort(&mut c, "z", NOT_A_DOUBLE);
    sort(&mut c, "z BY nosort", bulks(&["c", "a", "b"]));
    sort(&mut c, "z BY nosort DESC", bulks(&["b", "a", "c"]));
    sort(&mut c, "z BY nosort LIMIT 1 1", bulks(&["a"]));
    sort(&mut c, "z BY nosort DESC LIMIT 1 5", bulks(&["a", "c"]));
    sort(&mut c, "z BY nosort LIMIT 3 1", EMPTY);
    fill(&mut c, "ZADD", "zn", &["1", "10", "2", "5", "3", "-2"]);
    sort(&mut c, "zn", bulks(&["-2", "5", "10"]));
    sort(&mut c, "zn DESC LIMIT 0 1", bulks(&["10"]));
    // Sorted, a sorted set leaves its packed encoding for good (even by
    // SORT_RO, even on an error), as in Redis: a -0 score then stays -0.
    fill(&mut c, "ZADD", "packed", &["-0", "m"]);
    c.expect_cmd(&["ZSCORE", "packed", "m"], bulk("0"));
    c.expect_cmd(&["OBJECT", "ENCODING", "packed"], bulk("listpack"));
    c.expect_cmd(&["SORT_RO", "packed", "LIMIT", "0", "1"], NOT_A_DOUBLE);
    c.expect_cmd(&["OBJECT", "ENCODING", "packed"], bulk("skiplist"));
    c.expect_cmd(&["ZADD", "packed", "-0", "n"], int(1));
    c.expect_cmd(&["ZSCORE", "packed", "n"], bulk("-0"));
    // A large sorted set (not packed) keeps its order too.
    let members: Vec<String> = (0..300).flat_map(|i| [i.to_string(), format!("m{:03}", 299 - i)]).collect();
    let mut args = vec!["ZADD", "big"];
    args.extend(members.iter().map(String::as_str));
    c.expect_cmd(&args, int(300));
    sort(&mut c, "big BY nosort LIMIT 0 2", bulks(&["m299", "m298"]));
    sort(&mut c, "big BY nosort DESC LIMIT 1 2", bulks(&["m001", "m002"]));
    sort(&mut c, "big ALPHA LIMIT 0 2", bulks(&["m000", "m001"]));
}

#[test]
fn lists_keep_their_order_without_sorting() {
    let (_s, mut c) = with_numbers();
    sort(&mut c, "l BY nosort", bulks(&["3", "1", "2", "10", "-1", "1.5"]));
    sort(&mut c, "l BY nosort DESC", bulks(&["1.5", "-1", "10", "2", "1", "3"]));
    sort(&mut c, "l BY nosort LIMIT 1 3", bulks(&["1", "2", "10"]));
    sort(&mut c, "l BY nosort DESC LIMIT 1 3", bulks(&["-1", "10", "2"]));
    // BY # names no key either; a BY without `*` sticks.
    sort(&mut c, "l BY #", bulks(&["3", "1", "2", "10", "-1", "1.5"]));
    sort(&mut c, "l BY nosort BY w_*", bulks(&["3", "1", "2", "10", "-1", "1.5"]));
}

#[test]
fn wrong_types_and_missing_keys() {
    let s = TestServer::start();
    let mut c = s.raw();
    c.expect_cmd(&["SET", "str", "1"], OK);
    c.expect_cmd(&["HSET", "h", "f", "1"], int(1));
    sort(&mut c, "str", WRONGTYPE);
    sort(&mut c, "h", WRONGTYPE);
    c.expect_cmd(&["SORT_RO", "h", "ALPHA"], WRONGTYPE);
    // The options are read first.
    sort(&mut c, "str FOO", SYNTAX_ERR);
    sort(&mut c, "nokey", EMPTY);
    sort(&mut c, "nokey BY w_* GET # DESC ALPHA LIMIT 0 5", EMPTY);
    c.expect_cmd(&["SORT_RO", "nokey"], EMPTY);
}

// ---------------------------------------------------------------------------
// BY and GET patterns
// ---------------------------------------------------------------------------

#[test]
fn by_weighs_elements_by_string_keys() {
    let (_s, mut c) = with_numbers();
    c.expect_cmd(&["MSET", "w_3", "30", "w_1", "10", "w_2", "-20", "w_10", "5", "w_-1", "100"], OK);
    // w_1.5 is missing: it weighs 0.
    sort(&mut c, "l BY w_*", bulks(&["2", "1.5", "10", "1", "3", "-1"]));
    sort(&mut c, "l BY w_* DESC LIMIT 0 2", bulks(&["-1", "3"]));
    sort(&mut c, "l BY w_* LIMIT 1 2", bulks(&["1.5", "10"]));
    // A suffix after `*`; equal weights go by the elements.
    c.expect_cmd(&["MSET", "x_3!", "1", "x_1!", "1", "x_2!", "0"], OK);
    sort(&mut c, "l BY x_*! LIMIT 0 4", bulks(&["-1", "1.5", "10", "2"]));
    // ALPHA compares the weights as strings; missing weights come first.
    c.expect_cmd(&["MSET", "a_3", "cherry", "a_1", "apple", "a_2", "banana", "a_10", "date", "a_-1", "elder"], OK);
    sort(&mut c, "l BY a_* ALPHA", bulks(&["1.5", "1", "2", "3", "10", "-1"]));
    sort(&mut c, "l BY a_* ALPHA DESC", bulks(&["-1", "10", "3", "2", "1", "1.5"]));
    sort(&mut c, "l BY a_* ALPHA LIMIT 1 2 GET a_*", bulks(&["apple", "banana"]));
    // A weight that is no number fails the numeric sort; a collection at
    // the key weighs as a missing key.
    c.expect_cmd(&["SET", "w_2", "heavy"], OK);
    sort(&mut c, "l BY w_*", NOT_A_DOUBLE);
    c.expect_cmd(&["DEL", "w_2"], int(1));
    c.expect_cmd(&["RPUSH", "w_2", "-20"], int(1));
    sort(&mut c, "l BY w_* LIMIT 0 2", bulks(&["1.5", "2"]));
}

#[test]
fn by_and_get_read_hash_fields() {
    let s = TestServer::start();
    let mut c = s.raw();
    fill(&mut c, "RPUSH", "ids", &["1", "2", "3", "4"]);
    for (id, name, age) in [("1", "carol", "30"), ("2", "alice", "25"), ("3", "bob", "41")] {
        c.expect_cmd(&["HSET", &format!("user:{id}"), "name", name, "age", age], int(2));
    }
    c.expect_cmd(&["SET", "user:4", "not a hash"], OK);
    let by_name =
        values(&[Some("4"), None, Some("2"), Some("alice"), Some("3"), Some("bob"), Some("1"), Some("carol")]);
    sort(&mut c, "ids BY user:*->name ALPHA GET # GET user:*->name", by_name);
    sort(&mut c, "ids BY user:*->age GET user:*->age", values(&[None, Some("25"), Some("30"), Some("41")]));
    sort(&mut c, "ids BY user:*->age DESC LIMIT 0 2 GET user:*->name", bulks(&["bob", "carol"]));
    // A missing field, a pattern without `*`, `->` with no field after it
    // (then part of a string key's name).
    sort(
        &mut c,
        "ids LIMIT 0 2 GET user:*->nope GET fixed GET #",
        values(&[None, None, Some("1"), None, None, Some("2")]),
    );
    c.expect_cmd(&["SET", "user:1->", "arrow"], OK);
    sort(&mut c, "ids LIMIT 0 2 GET user:*->", values(&[Some("arrow"), None]));
    // Only the first `*` is replaced; `->` is looked for after it.
    c.expect_cmd(&["SET", "a->1*", "star"], OK);
    sort(&mut c, "ids LIMIT 0 1 GET a->**", values(&[Some("star")]));
    c.expect_cmd(&["HSET", "k1", "f*", "v"], int(1));
    sort(&mut c, "ids LIMIT 0 1 GET k*->f*", values(&[Some("v")]));
}

#[test]
fn get_answers_each_pattern_for_each_element() {
    let (_s, mut c) = with_numbers();
    c.expect_cmd(&["MSET", "v_1", "one", "v_2", "two", "v_3", "three"], OK);
    sort(&mut c, "l LIMIT 1 3 GET v_*", values(&[Some("one"), None, Some("two")]));
    sort(
        &mut c,
        "l LIMIT 1 2 GET # GET v_* GET #",
        values(&[Some("1"), Some("one"), Some("1"), Some("1.5"), None, Some("1.5")]),
    );
    sort(&mut c, "l BY nosort LIMIT 0 1 GET v_*", values(&[Some("three")]));
    // RESP3: a missing value is a null.
    let mut c3 = resp3(&_s);
    c3.expect_cmd(&["SORT", "l", "LIMIT", "0", "2", "GET", "v_*"], "*2\r\n_\r\n$3\r\none\r\n");
    c3.expect_cmd(&["SORT", "l", "LIMIT", "0", "1"], "*1\r\n$2\r\n-1\r\n");
}

// ---------------------------------------------------------------------------
// STORE
// ---------------------------------------------------------------------------

#[test]
fn store_puts_a_list_in_place_of_any_value() {
    let (_s, mut c) = with_numbers();
    c.expect_cmd(&["SET", "d", "old"], OK);
    c.expect_cmd(&["EXPIRE", "d", "100"], int(1));
    sort(&mut c, "l STORE d", int(6));
    c.expect_cmd(&["TYPE", "d"], "+list\r\n");
    c.expect_cmd(&["TTL", "d"], int(-1));
    c.expect_cmd(&["LRANGE", "d", "0", "-1"], bulks(&["-1", "1", "1.5", "2", "3", "10"]));
    // With GET: every value, a missing one stored as an empty string.
    c.expect_cmd(&["SET", "v_2", "two"], OK);
    sort(&mut c, "l LIMIT 2 2 GET # GET v_* STORE d", int(4));
    c.expect_cmd(&["LRANGE", "d", "0", "-1"], bulks(&["1.5", "", "2", "two"]));
    // The last STORE wins; the source may be the destination.
    sort(&mut c, "l DESC STORE x STORE l", int(6));
    c.expect_cmd(&["EXISTS", "x"], int(0));
    c.expect_cmd(&["LRANGE", "l", "0", "-1"], bulks(&["10", "3", "2", "1.5", "1", "-1"]));
    // Nothing to store deletes the destination.
    sort(&mut c, "l LIMIT 0 0 STORE d", int(0));
    c.expect_cmd(&["EXISTS", "d"], int(0));
    c.expect_cmd(&["HSET", "d", "f", "v"], int(1));
    sort(&mut c, "nokey STORE d", int(0));
    c.expect_cmd(&["EXISTS", "d"], int(0));
    // The stored list is a list like any other.
    sort(&mut c, "l ALPHA STORE d", int(6));
    c.expect_cmd(&["LPOP", "d"], bulk("-1"));
    c.expect_cmd(&["LLEN", "d"], int(5));
}

#[test]
fn stored_lists_take_the_encoding_their_size_gives() {
    if redistill_only() {
        // Redis 7.0 stores every list as a quicklist; 7.2 converts.
        return;
    }
    let (_s, mut c) = with_numbers();
    sort(&mut c, "l STORE d", int(6));
    c.expect_cmd(&["OBJECT", "ENCODING", "d"], bulk("listpack"));
}

// ---------------------------------------------------------------------------
// SORT_RO, errors, key specs
// ---------------------------------------------------------------------------

#[test]
fn sort_ro_takes_every_option_but_store() {
    let (_s, mut c) = with_numbers();
    c.expect_cmd(&["MSET", "w_3", "30", "v_3", "three"], OK);
    c.expect_cmd(&["SORT_RO", "l"], bulks(&["-1", "1", "1.5", "2", "3", "10"]));
    c.expect_cmd(
        &["SORT_RO", "l", "BY", "w_*", "DESC", "LIMIT", "0", "1", "GET", "#", "GET", "v_*"],
        bulks(&["3", "three"]),
    );
    c.expect_cmd(&["SORT_RO", "l", "ALPHA", "LIMIT", "0", "2", "ASC"], bulks(&["-1", "1"]));
    c.expect_cmd(&["SORT_RO", "l", "STORE", "d"], SYNTAX_ERR);
    c.expect_cmd(&["SORT_RO", "l", "LIMIT", "a", "b"], NOT_INT_ERR);
    c.expect_cmd(&["SORT_RO"], arity_err("sort_ro"));
    c.expect_cmd(&["EXISTS", "d"], int(0));
}

#[test]
fn syntax_errors() {
    let (_s, mut c) = with_numbers();
    for line in ["l FOO", "l STORE", "l BY", "l GET", "l LIMIT 0 1 x", "l ALPHA DESC BY", "l GET # STORE"] {
        sort(&mut c, line, SYNTAX_ERR);
    }
    c.expect_cmd(&["SORT"], arity_err("sort"));
    // An error leaves the destination alone.
    sort(&mut c, "l STORE d FOO", SYNTAX_ERR);
    c.expect_cmd(&["EXISTS", "d"], int(0));
}

#[test]
fn sort_inside_multi() {
    let (_s, mut c) = with_numbers();
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["RPUSH", "l", "0"], "+QUEUED\r\n");
    c.expect_cmd(&["SORT", "l", "LIMIT", "0", "2", "STORE", "d"], "+QUEUED\r\n");
    c.expect_cmd(&["LRANGE", "d", "0", "-1"], "+QUEUED\r\n");
    let mut expected = b"*3\r\n:7\r\n:2\r\n".to_vec();
    expected.extend_from_slice(&bulks(&["-1", "0"]));
    c.expect_cmd(&["EXEC"], expected);
}

#[test]
fn key_specs_and_getkeys() {
    let s = TestServer::start();
    let mut c = s.raw();
    let getkeys = |c: &mut RawClient, line: &str| {
        let mut args = vec!["COMMAND", "GETKEYS"];
        args.extend(line.split(' '));
        c.call_resp(&args).items().iter().map(Resp::text).collect::<Vec<_>>()
    };
    assert_eq!(getkeys(&mut c, "SORT l BY w_* GET # STORE d"), ["l", "d"]);
    assert_eq!(getkeys(&mut c, "SORT l STORE a LIMIT 0 1 STORE b"), ["l", "b"]);
    assert_eq!(getkeys(&mut c, "SORT l GET store"), ["l"]);
    assert_eq!(getkeys(&mut c, "SORT_RO l BY w_*"), ["l"]);
    let flags = c.call_resp(&["COMMAND", "GETKEYSANDFLAGS", "SORT", "l", "STORE", "d"]);
    let flags: Vec<(String, Vec<String>)> = flags
        .items()
        .iter()
        .map(|k| (k.items()[0].text(), k.items()[1].items().iter().map(Resp::text).collect()))
        .collect();
    assert_eq!(flags[0], ("l".to_string(), vec!["RO".to_string(), "access".to_string()]));
    assert_eq!(flags[1], ("d".to_string(), vec!["OW".to_string(), "update".to_string()]));
    let info = c.call_resp(&["COMMAND", "INFO", "sort", "sort_ro"]);
    for (entry, spec_count) in info.items().iter().zip([3, 2]) {
        let entry = entry.items();
        let flags: Vec<String> = entry[2].items().iter().map(Resp::text).collect();
        assert!(flags.contains(&"movablekeys".to_string()), "{flags:?}");
        assert_eq!((entry[3].int(), entry[4].int(), entry[5].int()), (1, 1, 1));
        let categories: Vec<String> = entry[6].items().iter().map(Resp::text).collect();
        assert!(categories.contains(&"@sortedset".to_string()) && categories.contains(&"@dangerous".to_string()));
        let specs = entry[8].items();
        assert_eq!(specs.len(), spec_count);
        let unknown = specs[1].pairs();
        assert_eq!(unknown[0].0, "notes");
        assert!(unknown[0].1.text().starts_with("For the optional BY/GET keyword"));
        let begin = unknown.iter().find(|(name, _)| name == "begin_search").map(|(_, v)| v.pairs());
        assert_eq!(begin.map(|b| b[0].1.text()), Some("unknown".to_string()));
    }
}
