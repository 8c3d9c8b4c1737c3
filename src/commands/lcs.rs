//! LCS, Redis's lcsCommand (t_string.c): the longest common subsequence of
//! two strings, its length, or the ranges where they match. The dynamic
//! programming table and the walk back through it are ported as Redis
//! writes them, because their tie-breaking decides which of several equally
//! long subsequences (and which ranges) a client gets.

use super::{is, specs, Command, Ctx, Flags, KeySpec, NOT_AN_INTEGER, SYNTAX_ERROR};
use crate::protocol::parse::parse_i64;
use crate::protocol::Args;

/// LCS reads its two keys.
const TWO_KEYS: &[KeySpec] = &[KeySpec::range(1, 1, specs::RO_ACCESS)];

pub static COMMANDS: &[Command] =
    &[Command { name: "lcs", arity: -3, flags: Flags::READONLY, keys: TWO_KEYS, group: "string", run: lcs }];

const NOT_STRINGS: &str = "ERR The specified keys must contain string values";
const LEN_AND_IDX: &str = "ERR If you want both the length and indexes, please just use IDX.";
const TOO_LONG: &str = "ERR String too long for LCS";
const TABLE_TOO_BIG: &str = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
const ALLOCATION_FAILED: &str = "ERR Insufficient memory, failed allocating transient memory for LCS";

/// What the client asked for.
#[derive(Default)]
struct Options {
    len: bool,
    idx: bool,
    min_match_len: i64,
    with_match_len: bool,
}

fn parse_options(args: &Args<'_>) -> Result<Options, &'static str> {
    let mut o = Options::default();
    let mut j = 3;
    while j < args.len() {
        let arg = args.get(j);
        if is(arg, "IDX") {
            o.idx = true;
        } else if is(arg, "LEN") {
            o.len = true;
        } else if is(arg, "WITHMATCHLEN") {
            o.with_match_len = true;
        } else if is(arg, "MINMATCHLEN") && j + 1 < args.len() {
            o.min_match_len = parse_i64(args.get(j + 1)).ok_or(NOT_AN_INTEGER)?.max(0);
            j += 1;
        } else {
            return Err(SYNTAX_ERROR);
        }
        j += 1;
    }
    if o.len && o.idx {
        return Err(LEN_AND_IDX);
    }
    Ok(o)
}

/// One key's string: its length, and a copy of it unless it is too long
/// for any table within the limit (then only the length is needed, for
/// the error).
struct Operand {
    len: usize,
    bytes: Option<Vec<u8>>,
}

/// Both keys' strings, read at one instant (missing keys are empty); None
/// if either holds another type.
fn read_operands(ctx: &mut Ctx<'_>, args: &Args<'_>, table_limit: u64) -> Option<[Operand; 2]> {
    let keys = [args.get(1), args.get(2)];
    let mut operands = Vec::with_capacity(2);
    let mut wrong_type = false;
    let mut key = keys.iter();
    ctx.db().view_many(&keys, ctx.now, |entry| {
        ctx.count_lookup(key.next().copied().unwrap_or_default(), entry.is_some());
        let value = match entry.as_ref().map(|e| e.string()).transpose() {
            Ok(value) => value.unwrap_or_default(),
            Err(_) => {
                wrong_type = true;
                b""
            }
        };
        // A table row alone takes (len + 1) * 4 bytes.
        let fits = (value.len() as u64 + 1).saturating_mul(4) <= table_limit;
        operands.push(Operand { len: value.len(), bytes: fits.then(|| value.to_vec()) });
    });
    let [a, b]: [Operand; 2] = operands.try_into().ok()?;
    (!wrong_type).then_some([a, b])
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
fn lcs(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let table_limit = super::strings::max_string_len(ctx);
    let Some([a, b]) = read_operands(ctx, args, table_limit) else { return ctx.error(NOT_STRINGS) };
    let options = match parse_options(args) {
        Ok(options) => options,
        Err(msg) => return ctx.error(msg),
    };
    if a.len >= u32::MAX as usize - 1 || b.len >= u32::MAX as usize - 1 {
        return ctx.error(TOO_LONG);
    }
    let table_bytes = (a.len as u128 + 1) * (b.len as u128 + 1) * 4;
    let (Some(a), Some(b)) = (a.bytes, b.bytes) else { return ctx.error(TABLE_TOO_BIG) };
    if table_bytes > u128::from(table_limit) {
        return ctx.error(TABLE_TOO_BIG);
    }
    let Some(table) = Table::build(&a, &b) else { return ctx.error(ALLOCATION_FAILED) };
    if options.len {
        return ctx.out.integer(i64::from(table.total()));
    }
    let (common, matches) = table.walk_back(&a, &b, options.min_match_len);
    if !options.idx {
        return ctx.out.bulk(&common);
    }
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"matches");
    out.array(matches.len());
    for m in &matches {
        out.array(2 + usize::from(options.with_match_len));
        for (start, end) in [m.a, m.b] {
            out.array(2);
            out.integer(start as i64);
            out.integer(end as i64);
        }
        if options.with_match_len {
            out.integer(m.len as i64);
        }
    }
    out.bulk(b"len");
    out.integer(i64::from(table.total()));
}

/// Redis's LCS table: cell (i, j) holds the length of the LCS of the first
/// i bytes of A and the first j bytes of B.
struct Table {
    cells: Vec<u32>,
    width: usize,
    rows: usize,
}

/// A range where A and B match, inclusive, and its length.
struct Match {
    a: (usize, usize),
    b: (usize, usize),
    len: usize,
}

impl Table {
    /// None if the memory cannot be had (the caller has bounded it).
    fn build(a: &[u8], b: &[u8]) -> Option<Table> {
        let (rows, width) = (a.len() + 1, b.len() + 1);
        let mut cells = Vec::new();
        cells.try_reserve_exact(rows.checked_mul(width)?).ok()?;
        cells.resize(rows * width, 0u32);
        for i in 1..rows {
            for j in 1..width {
                cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * width + j - 1] + 1
                } else {
                    cells[(i - 1) * width + j].max(cells[i * width + j - 1])
                };
            }
        }
        Some(Table { cells, width, rows })
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }

    /// The length of the LCS of all of A and all of B.
    fn total(&self) -> u32 {
        self.at(self.rows - 1, self.width - 1)
    }

    /// Walk back from the last cell as Redis does: the LCS itself, and the
    /// matching ranges (last first) of at least `min_len` bytes (0: all).
    fn walk_back(&self, a: &[u8], b: &[u8], min_len: i64) -> (Vec<u8>, Vec<Match>) {
        let mut common = vec![0u8; self.total() as usize];
        let mut left = common.len();
        let mut matches = Vec::new();
        // The range being extended backwards: (a start, a end, b start, b end).
        let mut range: Option<(usize, usize, usize, usize)> = None;
        let (mut i, mut j) = (a.len(), b.len());
        while i > 0 && j > 0 {
            let mut emit = false;
            if a[i - 1] == b[j - 1] {
                common[left - 1] = a[i - 1];
                match &mut range {
                    None => range = Some((i - 1, i - 1, j - 1, j - 1)),
                    Some((a_start, _, b_start, _)) if *a_start == i && *b_start == j => {
                        *a_start -= 1;
                        *b_start -= 1;
                    }
                    Some(_) => emit = true,
                }
                // A range that reached the start of either string ends here.
                emit |= range.is_some_and(|(a_start, _, b_start, _)| a_start == 0 || b_start == 0);
                left -= 1;
                i -= 1;
                j -= 1;
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                emit = range.is_some();
            }
            if let Some((a_start, a_end, b_start, b_end)) = range.filter(|_| emit) {
                let len = a_end - a_start + 1;
                if min_len == 0 || len as i64 >= min_len {
                    matches.push(Match { a: (a_start, a_end), b: (b_start, b_end), len });
                }
                range = None;
            }
        }
        (common, matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A match as (a start, a end, b start, b end, length).
    type Flat = (usize, usize, usize, usize, usize);

    fn lcs_of(a: &str, b: &str, min_len: i64) -> (String, Vec<Flat>, u32) {
        let table = Table::build(a.as_bytes(), b.as_bytes()).expect("small table");
        let (common, matches) = table.walk_back(a.as_bytes(), b.as_bytes(), min_len);
        let matches = matches.iter().map(|m| (m.a.0, m.a.1, m.b.0, m.b.1, m.len)).collect();
        (String::from_utf8(common).expect("ascii"), matches, table.total())
    }

    #[test]
    fn the_redis_documentation_example() {
        let (common, matches, total) = lcs_of("ohmytext", "mynewtext", 0);
        assert_eq!(common, "mytext");
        assert_eq!(total, 6);
        assert_eq!(matches, [(4, 7, 5, 8, 4), (2, 3, 0, 1, 2)]);
        let (_, matches, _) = lcs_of("ohmytext", "mynewtext", 4);
        assert_eq!(matches, [(4, 7, 5, 8, 4)]);
    }

    #[test]
    fn empty_and_disjoint() {
        assert_eq!(lcs_of("", "abc", 0), (String::new(), vec![], 0));
        assert_eq!(lcs_of("abc", "xyz", 0), (String::new(), vec![], 0));
    }
}
