//! Redis's `long double` arithmetic, for INCRBYFLOAT (and the parsing of
//! blocking commands' timeouts).
//!
//! Redis reads INCRBYFLOAT's operands with `strtold`, adds them as x87
//! 80-bit extended floats (a 64-bit mantissa) and stores the sum printed
//! with `%.17Lf`, trailing zeros trimmed. Doing the same in `f64` gives
//! visibly different answers (`0.1 + 0.2` would be `0.30000000000000004`
//! where Redis says `0.3`), so this module does it in software: values are
//! exact big integers times a power of two, and every result is rounded
//! once, half to even, exactly as the FPU and glibc's `printf` round.

use std::cmp::Ordering;

/// Longest operand Redis accepts: its buffer (`MAX_LONG_DOUBLE_CHARS`) is
/// 5 KiB with the terminating NUL.
const MAX_CHARS: usize = 5 * 1024;
/// Mantissa bits of the x87 extended format.
const PRECISION: i64 = 64;
/// Weight of the lowest bit of the smallest subnormal, 2^-16445.
const MIN_LSB: i64 = -16445;
/// Weight of the leading bit of the largest finite value, 2^16383.
const MAX_EXP: i64 = 16383;
/// Digits printed after the decimal point (`%.17Lf`).
const FRACTION_DIGITS: usize = 17;

/// An x87 extended-precision value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongDouble {
    /// `(-1)^negative * mantissa * 2^exponent`; zero has mantissa 0.
    Finite {
        negative: bool,
        mantissa: u64,
        exponent: i64,
    },
    Infinite {
        negative: bool,
    },
    NaN,
}

impl LongDouble {
    pub const ZERO: LongDouble = LongDouble::Finite { negative: false, mantissa: 0, exponent: 0 };

    fn zero(negative: bool) -> LongDouble {
        LongDouble::Finite { negative, mantissa: 0, exponent: 0 }
    }

    /// Parse as Redis's `string2ld` does: all of `text` must be a number
    /// `strtold` reads (decimal or `0x` hexadecimal, `inf`, `infinity`),
    /// without leading space, and neither NaN nor out of range (overflow,
    /// or underflow to zero).
    pub fn parse(text: &[u8]) -> Option<LongDouble> {
        let first = *text.first()?;
        if text.len() >= MAX_CHARS || first.is_ascii_whitespace() || first == 0x0b {
            return None;
        }
        let (negative, body) = match first {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble::Infinite { negative });
        }
        match body {
            [b'0', b'x' | b'X', hex @ ..] => parse_hex(negative, hex),
            _ => parse_decimal(negative, body),
        }
    }

    /// The nearest `f64` (for a timeout, where a millisecond is the unit).
    pub fn to_f64(self) -> f64 {
        match self {
            LongDouble::Finite { negative, mantissa, exponent } => {
                // In two steps, so that neither power of two overflows on
                // its own; beyond these bounds the result is 0 or infinite.
                let exponent = exponent.clamp(-2200, 2200) as i32;
                let half = exponent / 2;
                let magnitude = mantissa as f64 * 2f64.powi(half) * 2f64.powi(exponent - half);
                if negative {
                    -magnitude
                } else {
                    magnitude
                }
            }
            LongDouble::Infinite { negative: true } => f64::NEG_INFINITY,
            LongDouble::Infinite { negative: false } => f64::INFINITY,
            LongDouble::NaN => f64::NAN,
        }
    }

    /// The sum, rounded to the extended format (NaN for `inf + -inf`).
    pub fn add(self, other: LongDouble) -> LongDouble {
        use LongDouble::{Finite, Infinite, NaN};
        match (self, other) {
            (NaN, _) | (_, NaN) => NaN,
            (Infinite { negative: a }, Infinite { negative: b }) if a != b => NaN,
            (Infinite { .. }, _) => self,
            (_, Infinite { .. }) => other,
            (
                Finite { negative: na, mantissa: ma, exponent: ea },
                Finite { negative: nb, mantissa: mb, exponent: eb },
            ) => {
                match (ma, mb) {
                    (0, 0) => return LongDouble::zero(na && nb),
                    (0, _) => return other,
                    (_, 0) => return self,
                    _ => {}
                }
                // With both leading bits at bit 63, a summand whose leading
                // bit lies more than 66 places below the other's is less
                // than half a unit in the last place of any possible sum,
                // so the sum rounds back to the larger summand.
                let (ma, ea) = normalise(ma, ea);
                let (mb, eb) = normalise(mb, eb);
                let ((na, ma, ea), (nb, mb, eb)) =
                    if ea >= eb { ((na, ma, ea), (nb, mb, eb)) } else { ((nb, mb, eb), (na, ma, ea)) };
                if ea - eb > 70 {
                    return Finite { negative: na, mantissa: ma, exponent: ea };
                }
                let a = Big::from(ma).shl(ea - eb);
                let b = Big::from(mb);
                let (negative, sum) = if na == nb {
                    (na, a.add(&b))
                } else {
                    match a.cmp(&b) {
                        Ordering::Greater => (na, a.sub(&b)),
                        Ordering::Less => (nb, b.sub(&a)),
                        Ordering::Equal => return LongDouble::ZERO,
                    }
                };
                round(negative, &sum, eb, false)
            }
        }
    }

    /// Redis's human-friendly format (`ld2string` with `LD_STR_HUMAN`):
    /// `%.17Lf`, then trailing zeros and a bare decimal point removed, and
    /// `-0` written as `0`. None for infinities and NaN.
    pub fn to_human_string(self) -> Option<String> {
        let LongDouble::Finite { negative, mantissa, exponent } = self else { return None };
        let mut scaled = Big::from(mantissa);
        scaled.mul_pow10(FRACTION_DIGITS as u64);
        let fixed = if exponent >= 0 {
            scaled.shl(exponent)
        } else {
            let shift = -exponent;
            let mut truncated = scaled.shr(shift);
            let half = scaled.bit(shift - 1);
            if half && (scaled.any_below(shift - 1) || truncated.bit(0)) {
                truncated.mul_small_add(1, 1);
            }
            truncated
        };
        let digits = format!("{:0>width$}", fixed.to_decimal(), width = FRACTION_DIGITS + 1);
        let (integer, fraction) = digits.split_at(digits.len() - FRACTION_DIGITS);
        let fraction = fraction.trim_end_matches('0');
        let mut text = String::with_capacity(digits.len() + 2);
        if negative {
            text.push('-');
        }
        text.push_str(integer);
        if !fraction.is_empty() {
            text.push('.');
            text.push_str(fraction);
        }
        Some(if text == "-0" { "0".into() } else { text })
    }
}

/// A rounded non-zero operand, or None if it overflowed or underflowed to
/// zero: `strtold`'s ERANGE, which Redis refuses.
fn in_range(value: LongDouble) -> Option<LongDouble> {
    match value {
        LongDouble::Finite { mantissa: 0, .. } | LongDouble::Infinite { .. } | LongDouble::NaN => None,
        finite => Some(finite),
    }
}

/// Shift a non-zero mantissa so its leading bit is bit 63.
fn normalise(mantissa: u64, exponent: i64) -> (u64, i64) {
    let shift = mantissa.leading_zeros();
    (mantissa << shift, exponent - i64::from(shift))
}

/// `digits [. digits] [e [+-] digits]`, at least one mantissa digit, the
/// whole of `text`.
fn parse_decimal(negative: bool, text: &[u8]) -> Option<LongDouble> {
    let (mantissa, fraction_digits, rest) = read_digits(text, 10)?;
    let exponent = read_exponent(rest, b'e')?;
    from_decimal(negative, mantissa, exponent.saturating_sub(fraction_digits))
}

/// What follows `0x`: `hexdigits [. hexdigits] [p [+-] digits]`.
fn parse_hex(negative: bool, text: &[u8]) -> Option<LongDouble> {
    let (mantissa, fraction_digits, rest) = read_digits(text, 16)?;
    let exponent = read_exponent(rest, b'p')?.saturating_sub(4 * fraction_digits);
    if mantissa.is_zero() {
        return Some(LongDouble::zero(negative));
    }
    let top = exponent.saturating_add(mantissa.bits() - 1);
    if !(MIN_LSB - 2..=MAX_EXP + 1).contains(&top) {
        return None;
    }
    in_range(round(negative, &mantissa, exponent, false))
}

/// Digits in `radix` with at most one point; returns their value, how
/// many came after the point, and what follows them.
fn read_digits(text: &[u8], radix: u32) -> Option<(Big, i64, &[u8])> {
    let mut value = Big::default();
    let mut count = 0usize;
    let mut fraction_digits = 0i64;
    let mut seen_point = false;
    let mut end = text.len();
    for (i, &byte) in text.iter().enumerate() {
        if let Some(digit) = char::from(byte).to_digit(radix) {
            value.mul_small_add(radix, digit);
            count += 1;
            fraction_digits += i64::from(seen_point);
        } else if byte == b'.' && !seen_point {
            seen_point = true;
        } else {
            end = i;
            break;
        }
    }
    (count > 0).then_some((value, fraction_digits, &text[end..]))
}

/// An optional exponent introduced by `marker` (either case); it must end
/// the text. Huge exponents saturate: the value is out of range anyway.
fn read_exponent(text: &[u8], marker: u8) -> Option<i64> {
    let Some((&first, rest)) = text.split_first() else { return Some(0) };
    if first.to_ascii_lowercase() != marker {
        return None;
    }
    let (negative, digits) = match rest {
        [b'-', digits @ ..] => (true, digits),
        [b'+', digits @ ..] => (false, digits),
        _ => (false, rest),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = digits.iter().fold(0i64, |n, &d| (n * 10 + i64::from(d - b'0')).min(1 << 40));
    Some(if negative { -magnitude } else { magnitude })
}

/// `digits * 10^exponent`, correctly rounded; None out of range.
fn from_decimal(negative: bool, digits: Big, exponent: i64) -> Option<LongDouble> {
    if digits.is_zero() {
        return Some(LongDouble::zero(negative));
    }
    // log10 of the value to within one; far outside the range it is
    // decided here, without building enormous numbers.
    let magnitude = (digits.bits() - 1) * 30_103 / 100_000 + exponent;
    if !(-4955..=4935).contains(&magnitude) {
        return None;
    }
    if exponent >= 0 {
        let mut value = digits;
        value.mul_pow10(exponent as u64);
        return in_range(round(negative, &value, 0, false));
    }
    let mut divisor = Big::from(1u64);
    divisor.mul_pow10(exponent.unsigned_abs());
    // Scale so the quotient has 67 or 68 bits: enough to round to 64 with
    // the remainder as the sticky bit.
    let shift = PRECISION + 3 + divisor.bits() - digits.bits();
    let (dividend, divisor) = if shift >= 0 { (digits.shl(shift), divisor) } else { (digits, divisor.shl(-shift)) };
    let (quotient, inexact) = dividend.div_small_quotient(&divisor);
    in_range(round(negative, &Big::from_u128(quotient), -shift, inexact))
}

/// Round `value * 2^exponent` (plus a little more when `sticky`) to the
/// nearest extended value, ties to even, with subnormals and overflow.
fn round(negative: bool, value: &Big, exponent: i64, sticky: bool) -> LongDouble {
    if value.is_zero() {
        return LongDouble::zero(negative);
    }
    let top = exponent + value.bits() - 1;
    let mut lsb = (top - (PRECISION - 1)).max(MIN_LSB);
    let shift = lsb - exponent;
    let mut mantissa = if shift <= 0 {
        // Fits: `value` has at most 64 bits here.
        value.shr_u128(0) << -shift
    } else {
        let truncated = value.shr_u128(shift);
        let half = value.bit(shift - 1);
        let rest = sticky || value.any_below(shift - 1);
        truncated + u128::from(half && (rest || truncated & 1 == 1))
    };
    if mantissa >> PRECISION != 0 {
        mantissa >>= 1;
        lsb += 1;
    }
    if mantissa == 0 {
        return LongDouble::zero(negative);
    }
    if lsb + i64::from(127 - mantissa.leading_zeros()) > MAX_EXP {
        return LongDouble::Infinite { negative };
    }
    LongDouble::Finite { negative, mantissa: mantissa as u64, exponent: lsb }
}

/// A non-negative integer of any size: little-endian 32-bit limbs, without
/// high zero limbs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Big(Vec<u32>);

impl From<u64> for Big {
    fn from(value: u64) -> Big {
        Big::from_u128(u128::from(value))
    }
}

impl Big {
    fn from_u128(mut value: u128) -> Big {
        let mut limbs = Vec::new();
        while value != 0 {
            limbs.push(value as u32);
            value >>= 32;
        }
        Big(limbs)
    }

    fn trim(mut self) -> Big {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
        self
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of significant bits (0 for zero).
    fn bits(&self) -> i64 {
        self.0.last().map_or(0, |&top| 32 * (self.0.len() as i64 - 1) + 32 - i64::from(top.leading_zeros()))
    }

    fn bit(&self, index: i64) -> bool {
        index >= 0 && self.0.get((index / 32) as usize).is_some_and(|limb| limb >> (index % 32) & 1 == 1)
    }

    /// Whether any bit below `index` is set.
    fn any_below(&self, index: i64) -> bool {
        if index <= 0 {
            return false;
        }
        let whole = ((index / 32) as usize).min(self.0.len());
        let partial = index % 32;
        self.0[..whole].iter().any(|&limb| limb != 0)
            || (partial > 0 && self.0.get(whole).is_some_and(|&limb| limb & ((1 << partial) - 1) != 0))
    }

    /// `self = self * factor + addend`.
    fn mul_small_add(&mut self, factor: u32, addend: u32) {
        let mut carry = u64::from(addend);
        for limb in &mut self.0 {
            let product = u64::from(*limb) * u64::from(factor) + carry;
            *limb = product as u32;
            carry = product >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn mul_pow10(&mut self, mut exponent: u64) {
        while exponent > 0 {
            let step = exponent.min(9);
            self.mul_small_add(10u32.pow(step as u32), 0);
            exponent -= step;
        }
    }

    fn shl(&self, bits: i64) -> Big {
        let (limbs, bits) = ((bits / 32) as usize, (bits % 32) as u32);
        let mut out = vec![0u32; limbs];
        out.reserve(self.0.len() + 1);
        let mut carry = 0u32;
        for &limb in &self.0 {
            out.push(if bits == 0 { limb } else { limb << bits | carry });
            carry = if bits == 0 { 0 } else { limb >> (32 - bits) };
        }
        out.push(carry);
        Big(out).trim()
    }

    fn shr(&self, bits: i64) -> Big {
        let (limbs, bits) = ((bits / 32) as usize, (bits % 32) as u32);
        let Some(kept) = self.0.get(limbs..) else { return Big::default() };
        let out = (0..kept.len())
            .map(|i| {
                let high = kept.get(i + 1).copied().unwrap_or(0);
                if bits == 0 {
                    kept[i]
                } else {
                    kept[i] >> bits | high << (32 - bits)
                }
            })
            .collect();
        Big(out).trim()
    }

    /// `self >> bits`, which the caller knows fits in 128 bits.
    fn shr_u128(&self, bits: i64) -> u128 {
        self.shr(bits).0.iter().rev().fold(0u128, |acc, &limb| acc << 32 | u128::from(limb))
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    fn add(&self, other: &Big) -> Big {
        let (long, short) = if self.0.len() >= other.0.len() { (self, other) } else { (other, self) };
        let mut out = Vec::with_capacity(long.0.len() + 1);
        let mut carry = 0u64;
        for (i, &limb) in long.0.iter().enumerate() {
            let sum = u64::from(limb) + u64::from(short.0.get(i).copied().unwrap_or(0)) + carry;
            out.push(sum as u32);
            carry = sum >> 32;
        }
        out.push(carry as u32);
        Big(out).trim()
    }

    /// `self - other`, for `self >= other`.
    fn sub(&self, other: &Big) -> Big {
        let mut out = self.clone();
        out.sub_assign(other);
        out
    }

    fn sub_assign(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let diff = i64::from(*limb) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            *limb = diff.rem_euclid(1 << 32) as u32;
            borrow = i64::from(diff < 0);
        }
        *self = std::mem::take(self).trim();
    }

    /// `(self / divisor, remainder != 0)` for a quotient below 2^128.
    fn div_small_quotient(&self, divisor: &Big) -> (u128, bool) {
        let mut remainder = self.clone();
        let mut quotient = 0u128;
        let top = (self.bits() - divisor.bits()).max(0);
        for position in (0..=top).rev() {
            let step = divisor.shl(position);
            if remainder.cmp(&step) != Ordering::Less {
                remainder.sub_assign(&step);
                quotient |= 1 << position;
            }
        }
        (quotient, !remainder.is_zero())
    }

    /// Divide in place by a small number and return the remainder.
    fn div_rem_small(&mut self, divisor: u32) -> u32 {
        let mut remainder = 0u64;
        for limb in self.0.iter_mut().rev() {
            let current = remainder << 32 | u64::from(*limb);
            *limb = (current / u64::from(divisor)) as u32;
            remainder = current % u64::from(divisor);
        }
        *self = std::mem::take(self).trim();
        remainder as u32
    }

    fn to_decimal(&self) -> String {
        const CHUNK: u32 = 1_000_000_000;
        let mut rest = self.clone();
        let mut chunks = Vec::new();
        while !rest.is_zero() {
            chunks.push(rest.div_rem_small(CHUNK));
        }
        let mut text = chunks.pop().map_or_else(|| "0".to_string(), |top| top.to_string());
        for chunk in chunks.iter().rev() {
            text.push_str(&format!("{chunk:09}"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(current: &str, increment: &str) -> Option<String> {
        let a = LongDouble::parse(current.as_bytes())?;
        let b = LongDouble::parse(increment.as_bytes())?;
        a.add(b).to_human_string()
    }

    /// Answers of Redis 7.0.15's INCRBYFLOAT on x86-64.
    #[test]
    fn sums_match_redis() {
        let cases = [
            ("10.5", "0.1", "10.6"),
            ("0.1", "0.2", "0.3"),
            ("0", "3.0e3", "3000"),
            ("0", "0.000003814697265625", "0.00000381469726562"),
            ("0", "1e-20", "0"),
            ("0", "-1e-20", "0"),
            ("0", "-0", "0"),
            ("5", "1e-17", "5.00000000000000001"),
            ("5.00000000000000001", "9e-18", "5.00000000000000002"),
            ("5.00000000000000002", "1", "6.00000000000000002"),
            ("123456789012345678901234567890", "1", "123456789012345678899921813504"),
            ("0.2", "1e10", "10000000000.20000000018626451"),
            ("1", "0X1P3", "9"),
            ("9", "0x1.8p1", "12"),
            ("10.5", "0x1p-2", "10.75"),
            ("10.75", "0x.8", "11.25"),
            ("0", "+5", "5"),
            ("5", ".5", "5.5"),
            ("5.5", "5.", "10.5"),
            ("0", "0x10", "16"),
            ("16", "0e-99999", "16"),
            ("0", "1e-4940", "0"),
            ("0.1", "-0.1", "0"),
            ("2.5", "-2.5", "0"),
            ("1", "-3", "-2"),
            ("-1.5", "-1.25", "-2.75"),
        ];
        for (current, increment, expected) in cases {
            assert_eq!(incr(current, increment).as_deref(), Some(expected), "{current} + {increment}");
        }
    }

    #[test]
    fn large_values_print_in_full() {
        let expected = concat!(
            "100000000000000000000899732407955919387052394427329074793826008232126564659618093575584915",
            "208375049719035037250861427483590359255618467298391309626052074864628732713564184365329408",
            "425510760601678972665293237003055138294762099454029477278188962060617926761162709741065056",
            "7187386105690089424915104006144",
        );
        assert_eq!(incr("0", "1e300").as_deref(), Some(expected));
        assert_eq!(incr("0", "1.7976931348623157e308").map(|s| s.len()), Some(309));
        let huge = incr("0", "1.18e4932").expect("finite");
        assert_eq!(huge.len(), 4933);
        assert!(huge
            .starts_with("118000000000000000000065281291809369920269043714016047172983124006183652772844699601208149"));
        assert_eq!(incr("1e4932", "0").map(|s| s.len()), Some(4933));
    }

    #[test]
    fn overflow_and_nan_are_not_finite() {
        assert_eq!(incr("1.18e4932", "1.18e4932"), None);
        assert_eq!(incr("0", "inf"), None);
        assert_eq!(incr("0", "-INFINITY"), None);
        let inf = LongDouble::parse(b"inf").expect("inf");
        let minus_inf = LongDouble::parse(b"-inf").expect("-inf");
        assert_eq!(inf.add(minus_inf), LongDouble::NaN);
    }

    #[test]
    fn invalid_operands_are_refused() {
        for text in [
            "",
            " 1",
            "1 ",
            "\t1",
            "\x0b1",
            "abc",
            "nan",
            "-nan",
            "nan(123)",
            "1e",
            "1e+",
            "0x",
            "0x1p",
            "0xp1",
            ".",
            "-",
            "+",
            "infinit",
            "1.5\0abc",
            "\0",
            "1e5000",
            "1e-5000",
            "1..2",
            "1e1.5",
            "0x1.8p1.5",
            "1_000",
        ] {
            assert_eq!(LongDouble::parse(text.as_bytes()), None, "{text:?} should be refused");
        }
        // As in Redis: 5119 characters are read, 5120 are not.
        let longest = format!("1.{}", "1".repeat(MAX_CHARS - 3));
        assert!(LongDouble::parse(longest.as_bytes()).is_some());
        let too_long = format!("{longest}1");
        assert_eq!(LongDouble::parse(too_long.as_bytes()), None);
        assert!(LongDouble::parse(b"0e-99999").is_some());
        assert!(LongDouble::parse(b"0x0p99999").is_some());
    }

    #[test]
    fn rounding_is_to_nearest_even() {
        // 2^64 + 1 is halfway between two 64-bit mantissas: ties go to even.
        let tie = LongDouble::parse(b"18446744073709551617").expect("parses");
        assert_eq!(tie, LongDouble::Finite { negative: false, mantissa: 1 << 63, exponent: 1 });
        let above = LongDouble::parse(b"18446744073709551619").expect("parses");
        assert_eq!(above, LongDouble::Finite { negative: false, mantissa: (1 << 63) + 2, exponent: 1 });
        // 0.1 is the extended value nearest to it.
        let tenth = LongDouble::parse(b"0.1").expect("parses");
        assert_eq!(tenth, LongDouble::Finite { negative: false, mantissa: 0xCCCC_CCCC_CCCC_CCCD, exponent: -67 });
    }

    #[test]
    fn tiny_summands_vanish() {
        assert_eq!(incr("1", "1e-300").as_deref(), Some("1"));
        assert_eq!(incr("1", "-1e-300").as_deref(), Some("1"));
        let one = LongDouble::parse(b"1").expect("1");
        let tiny = LongDouble::parse(b"1e-300").expect("tiny");
        assert_eq!(one.add(tiny), one);
    }

    #[test]
    fn big_integer_helpers() {
        let n = Big::from_u128(0x1234_5678_9abc_def0_1122_3344);
        assert_eq!(n.shl(37).shr(37), n);
        assert_eq!(n.to_decimal(), 0x1234_5678_9abc_def0_1122_3344u128.to_string());
        assert_eq!(Big::default().to_decimal(), "0");
        assert!(n.any_below(3) && !n.any_below(2));
        let mut thousand = Big::from(1u64);
        thousand.mul_pow10(3);
        assert_eq!(Big::from(123_456u64).div_small_quotient(&thousand), (123, true));
        assert_eq!(Big::from(123_000u64).div_small_quotient(&thousand), (123, false));
    }
}
