//! Random picks for the commands that return random elements (HRANDFIELD,
//! SRANDMEMBER, SPOP, ZRANDMEMBER): a small fast generator, the shared
//! count argument, distinct picks, and the streaming of a reply with
//! repeats, which may be far larger than the collection it is drawn from.

use super::{is, Ctx, SYNTAX_ERROR};
use crate::protocol::{Args, ReplyBuffer};
use crate::store::boxed_table::splitmix;

/// A count of LONG_MIN, which Redis refuses (its absolute value does not
/// fit).
pub(crate) const COUNT_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

/// A small fast generator for random picks (SplitMix64), seeded from the
/// clock and the connection.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(ctx: &Ctx<'_>) -> Self {
        Rng(crate::clock::now_us().wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ctx.session.id.rotate_left(32))
    }

    pub(crate) fn next(&mut self) -> u64 {
        let out = splitmix(self.0);
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        out
    }

    /// A number below `n` (which must not be 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The `count [WITH...]` arguments of HRANDFIELD and ZRANDMEMBER (from
/// argument 2), checked as Redis checks them: the count first (LONG_MIN
/// refused), then the keyword, then, with it, |count| within LONG_MAX / 2
/// (the reply doubles). None after replying with the error.
pub(crate) fn count_arg(ctx: &mut Ctx<'_>, args: &Args<'_>, keyword: &str) -> Option<(i64, bool)> {
    let count = ctx.integer_arg(args, 2)?;
    let with = match args.len() {
        3 => false,
        4 if is(args.get(3), keyword) => true,
        _ => {
            ctx.error(SYNTAX_ERROR);
            return None;
        }
    };
    if count == i64::MIN {
        ctx.error(COUNT_RANGE);
        return None;
    }
    if with && count.unsigned_abs() > (i64::MAX / 2) as u64 {
        ctx.error("ERR value is out of range");
        return None;
    }
    Some((count, with))
}

/// `wanted` distinct items of `items` (all of them if there are fewer),
/// in random order: a partial Fisher-Yates shuffle.
pub(crate) fn distinct<T>(mut items: Vec<T>, wanted: usize, rng: &mut Rng) -> Vec<T> {
    let wanted = wanted.min(items.len());
    for i in 0..wanted {
        let j = i + rng.below(items.len() - i);
        items.swap(i, j);
    }
    items.truncate(wanted);
    items
}

/// The client's output limit, past which a reply is cut off: the hard
/// limit of normal clients (none if 0).
pub(crate) fn output_limit(ctx: &Ctx<'_>) -> usize {
    match ctx.server.live.output_limits.get(crate::output_limits::ClientClass::Normal).hard {
        0 => usize::MAX,
        hard => usize::try_from(hard).unwrap_or(usize::MAX),
    }
}

/// Write `len` picks with repeats, each by `emit`, as they are drawn: a
/// client asking for more than its output buffer may hold is cut off, as
/// Redis cuts off a client over its output buffer limit. Returns whether
/// the reply is whole.
pub(crate) fn stream_repeats(
    out: &mut ReplyBuffer,
    len: usize,
    output_limit: usize,
    mut emit: impl FnMut(&mut ReplyBuffer),
) -> bool {
    for done in 0..len {
        emit(out);
        if done % 1024 == 0 && out.pending() > output_limit {
            return false;
        }
    }
    true
}

/// Close a client once its cut-off reply is sent (see [`stream_repeats`]).
pub(crate) fn close_cut_off(ctx: &mut Ctx<'_>, command: &str) {
    crate::log_warn!("closing client {}: {command} reply over client_output_buffer_limit", ctx.session.id);
    ctx.session.close_after_reply = true;
}
