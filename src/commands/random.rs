//! Random picks for HRANDFIELD and ZRANDMEMBER: the generator, their
//! shared count argument, and the reply with repeats (a negative count),
//! which may be far larger than the collection and is produced as it goes.

use super::{is, Ctx, SYNTAX_ERROR};
use crate::protocol::{Args, ReplyBuffer};

/// A small fast generator for random picks (SplitMix64), seeded from the
/// clock and the connection.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(ctx: &Ctx<'_>) -> Self {
        Rng(crate::clock::now_us().wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ctx.session.id.rotate_left(32))
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

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
        ctx.error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
        return None;
    }
    if with && count.unsigned_abs() > (i64::MAX / 2) as u64 {
        ctx.error("ERR value is out of range");
        return None;
    }
    Some((count, with))
}

/// Write `len` picks with repeats, each by `emit(out, rng)`. With repeats
/// the reply may be far larger than the collection: a client asking for
/// more than its output buffer may hold is cut off, as Redis cuts off a
/// client over its output buffer limit. Returns false if it was cut off.
pub(crate) fn emit_repeats(
    out: &mut ReplyBuffer,
    len: usize,
    output_limit: usize,
    rng: &mut Rng,
    mut emit: impl FnMut(&mut ReplyBuffer, &mut Rng),
) -> bool {
    for done in 0..len {
        emit(out, rng);
        if done % 1024 == 0 && out.pending() > output_limit {
            return false;
        }
    }
    true
}

/// After a reply [`emit_repeats`] cut off: close the client once what was
/// written is sent.
pub(crate) fn cut_off(ctx: &mut Ctx<'_>, command: &str) {
    crate::log_warn!("closing client {}: {command} reply over client_output_buffer_limit", ctx.session.id);
    ctx.session.close_after_reply = true;
}

/// The client's output limit, for [`emit_repeats`].
pub(crate) fn output_limit(ctx: &Ctx<'_>) -> usize {
    ctx.server.config.server.client_output_buffer_limit as usize
}
