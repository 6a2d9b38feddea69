//! The value of Connect's `Decimal` logical type: an unscaled integer of any size and a scale,
//! with Java's `BigDecimal` text forms (`new BigDecimal(String)`, `toString()`).

use std::cmp::Ordering;

/// An arbitrary-precision decimal: `unscaled × 10^-scale` (Java's `BigDecimal`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decimal {
    negative: bool,
    /// The magnitude, little-endian 32-bit limbs without high zero limbs (empty for zero).
    magnitude: Vec<u32>,
    scale: i32,
}

impl Decimal {
    /// From a big-endian two's complement unscaled value (what `Decimal.fromLogical` writes)
    /// and a scale; `None` for no bytes (Java: "Zero length BigInteger").
    pub fn from_unscaled_bytes(bytes: &[u8], scale: i32) -> Option<Decimal> {
        if bytes.is_empty() {
            return None;
        }
        let negative = bytes[0] & 0x80 != 0;
        let mut be: Vec<u8> = bytes.to_vec();
        if negative {
            // magnitude = two's complement negation
            for b in be.iter_mut() {
                *b = !*b;
            }
            for b in be.iter_mut().rev() {
                let (v, carry) = b.overflowing_add(1);
                *b = v;
                if !carry {
                    break;
                }
            }
        }
        let mut magnitude = Vec::with_capacity(be.len() / 4 + 1);
        for chunk in be.rchunks(4) {
            let mut limb = 0u32;
            for b in chunk {
                limb = (limb << 8) | u32::from(*b);
            }
            magnitude.push(limb);
        }
        Some(Decimal::normalized(negative, magnitude, scale))
    }

    /// `unscaled × 10^-scale` for a 64-bit unscaled value.
    pub fn from_i64(unscaled: i64, scale: i32) -> Decimal {
        let m = unscaled.unsigned_abs();
        Decimal::normalized(unscaled < 0, vec![m as u32, (m >> 32) as u32], scale)
    }

    fn normalized(negative: bool, mut magnitude: Vec<u32>, scale: i32) -> Decimal {
        while magnitude.last() == Some(&0) {
            magnitude.pop();
        }
        Decimal {
            negative: negative && !magnitude.is_empty(),
            magnitude,
            scale,
        }
    }

    /// Parses Java's `BigDecimal` text: `-12.50`, `1E+3`, `.5`, `1e-7`.
    pub fn parse(text: &str) -> Option<Decimal> {
        let (negative, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (number, exponent) = match rest.find(['e', 'E']) {
            Some(i) => {
                let exp = &rest[i + 1..];
                let exp = exp.strip_prefix('+').unwrap_or(exp);
                if exp.is_empty() || exp.starts_with('+') {
                    return None;
                }
                (&rest[..i], exp.parse::<i64>().ok()?)
            }
            None => (rest, 0),
        };
        let (int_part, frac_part) = match number.find('.') {
            Some(i) => (&number[..i], &number[i + 1..]),
            None => (number, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let mut magnitude: Vec<u32> = Vec::new();
        for c in int_part.bytes().chain(frac_part.bytes()) {
            if !c.is_ascii_digit() {
                return None;
            }
            mul_add(&mut magnitude, 10, u32::from(c - b'0'));
        }
        let scale = i64::try_from(frac_part.len()).ok()? - exponent;
        let scale = i32::try_from(scale).ok()?;
        Some(Decimal::normalized(negative, magnitude, scale))
    }

    /// The scale: digits after the decimal point (negative: zeros before it).
    pub fn scale(&self) -> i32 {
        self.scale
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The unscaled value as minimal big-endian two's complement (Java's
    /// `BigInteger.toByteArray()`).
    pub fn unscaled_bytes(&self) -> Vec<u8> {
        let mut be: Vec<u8> = self
            .magnitude
            .iter()
            .rev()
            .flat_map(|l| l.to_be_bytes())
            .skip_while(|b| *b == 0)
            .collect();
        if be.is_empty() {
            return vec![0];
        }
        if !self.negative {
            if be[0] & 0x80 != 0 {
                be.insert(0, 0);
            }
            return be;
        }
        // 2^(8n) - magnitude
        for b in be.iter_mut() {
            *b = !*b;
        }
        for b in be.iter_mut().rev() {
            let (v, carry) = b.overflowing_add(1);
            *b = v;
            if !carry {
                break;
            }
        }
        if be[0] & 0x80 == 0 {
            be.insert(0, 0xff);
        }
        be
    }

    /// The unscaled value's decimal digits (no sign).
    fn digits(&self) -> String {
        if self.magnitude.is_empty() {
            return "0".to_string();
        }
        let mut m = self.magnitude.clone();
        let mut chunks = Vec::new();
        while !m.is_empty() {
            chunks.push(div_rem(&mut m, 1_000_000_000));
        }
        let mut s = chunks.pop().map(|c| c.to_string()).unwrap_or_default();
        for c in chunks.iter().rev() {
            s.push_str(&format!("{c:09}"));
        }
        s
    }

    /// Java's `BigDecimal.toString()`: plain for a small exponent, else scientific (`1E+3`,
    /// `0E-10`, `1.5E-7`).
    pub fn to_java_string(&self) -> String {
        let coeff = self.digits();
        let sign = if self.negative { "-" } else { "" };
        if self.scale == 0 {
            return format!("{sign}{coeff}");
        }
        let adjusted = -i64::from(self.scale) + (coeff.len() as i64 - 1);
        if self.scale > 0 && adjusted >= -6 {
            let scale = self.scale as usize;
            if coeff.len() > scale {
                let (i, f) = coeff.split_at(coeff.len() - scale);
                format!("{sign}{i}.{f}")
            } else {
                format!("{sign}0.{}{coeff}", "0".repeat(scale - coeff.len()))
            }
        } else {
            let (first, rest) = coeff.split_at(1);
            let mut s = format!("{sign}{first}");
            if !rest.is_empty() {
                s.push('.');
                s.push_str(rest);
            }
            s.push('E');
            if adjusted > 0 {
                s.push('+');
            }
            s.push_str(&adjusted.to_string());
            s
        }
    }

    /// Java's `BigDecimal.toPlainString()`.
    pub fn to_plain_string(&self) -> String {
        let coeff = self.digits();
        let sign = if self.negative { "-" } else { "" };
        match self.scale.cmp(&0) {
            Ordering::Equal => format!("{sign}{coeff}"),
            Ordering::Less => format!(
                "{sign}{coeff}{}",
                "0".repeat(self.scale.unsigned_abs() as usize)
            ),
            Ordering::Greater => {
                let scale = self.scale as usize;
                if coeff.len() > scale {
                    let (i, f) = coeff.split_at(coeff.len() - scale);
                    format!("{sign}{i}.{f}")
                } else {
                    format!("{sign}0.{}{coeff}", "0".repeat(scale - coeff.len()))
                }
            }
        }
    }

    /// Java's `BigDecimal.hashCode()`: `31 × unscaled.hashCode() + scale`.
    pub fn java_hash_code(&self) -> i32 {
        // BigInteger.hashCode: its big-endian 32-bit magnitude words, times the sign
        let mut h = 0i32;
        for limb in self.magnitude.iter().rev() {
            h = h.wrapping_mul(31).wrapping_add(*limb as i32);
        }
        if self.negative {
            h = h.wrapping_neg();
        }
        h.wrapping_mul(31).wrapping_add(self.scale)
    }

    /// The nearest double (Java's `doubleValue()`).
    pub fn to_f64(&self) -> f64 {
        let sign = if self.negative { "-" } else { "" };
        format!("{sign}{}e{}", self.digits(), -i64::from(self.scale))
            .parse()
            .unwrap_or(f64::NAN)
    }

    /// Java's `longValue()`: the integer part's low 64 bits.
    pub fn to_i64_wrapping(&self) -> i64 {
        let mut m = self.magnitude.clone();
        let low = if self.scale >= 0 {
            let mut s = self.scale;
            while s > 0 && !m.is_empty() {
                let step = s.min(9);
                div_rem(&mut m, 10u32.pow(step as u32));
                s -= step;
            }
            low64(&m)
        } else {
            let mut v = low64(&m);
            for _ in 0..self.scale.unsigned_abs().min(200) {
                v = v.wrapping_mul(10);
            }
            v
        };
        let v = low as i64;
        if self.negative {
            v.wrapping_neg()
        } else {
            v
        }
    }

    /// The same value at another scale, when no digit is lost (Java's `setScale` without
    /// rounding); `None` when the value does not fit.
    pub fn with_scale(&self, scale: i32) -> Option<Decimal> {
        let mut m = self.magnitude.clone();
        match scale.cmp(&self.scale) {
            Ordering::Equal => {}
            Ordering::Greater => {
                for _ in 0..(scale - self.scale) {
                    mul_add(&mut m, 10, 0);
                }
            }
            Ordering::Less => {
                for _ in 0..(self.scale - scale) {
                    if div_rem(&mut m, 10) != 0 {
                        return None;
                    }
                }
            }
        }
        Some(Decimal::normalized(self.negative, m, scale))
    }
}

fn low64(m: &[u32]) -> u64 {
    let lo = u64::from(m.first().copied().unwrap_or(0));
    let hi = u64::from(m.get(1).copied().unwrap_or(0));
    lo | (hi << 32)
}

/// `m = m × mul + add` on little-endian limbs.
fn mul_add(m: &mut Vec<u32>, mul: u32, add: u32) {
    let mut carry = u64::from(add);
    for limb in m.iter_mut() {
        let v = u64::from(*limb) * u64::from(mul) + carry;
        *limb = v as u32;
        carry = v >> 32;
    }
    if carry > 0 {
        m.push(carry as u32);
    }
}

/// `m = m / div`, returning the remainder; drops high zero limbs.
fn div_rem(m: &mut Vec<u32>, div: u32) -> u32 {
    let mut rem = 0u64;
    for limb in m.iter_mut().rev() {
        let v = (rem << 32) | u64::from(*limb);
        *limb = (v / u64::from(div)) as u32;
        rem = v % u64::from(div);
    }
    while m.last() == Some(&0) {
        m.pop();
    }
    rem as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_text_forms() {
        let cases = [
            ("1.50", "1.50"),
            ("1e3", "1E+3"),
            ("-0.000001", "-0.000001"),
            ("0.0000001", "1E-7"),
            ("0E-10", "0E-10"),
            (
                "123456789012345678901234567890.5",
                "123456789012345678901234567890.5",
            ),
            (".5", "0.5"),
            ("-12", "-12"),
            ("1.23E-10", "1.23E-10"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                Decimal::parse(input).unwrap().to_java_string(),
                expected,
                "{input}"
            );
        }
        assert!(Decimal::parse("1.2.3").is_none());
        assert!(Decimal::parse("abc").is_none());
        assert!(Decimal::parse("").is_none());
        assert_eq!(Decimal::parse("1E+3").unwrap().to_plain_string(), "1000");
    }

    #[test]
    fn twos_complement_bytes_round_trip_as_java_big_integer() {
        for (v, bytes) in [
            (0i64, vec![0u8]),
            (127, vec![0x7f]),
            (128, vec![0x00, 0x80]),
            (-1, vec![0xff]),
            (-128, vec![0x80]),
            (-129, vec![0xff, 0x7f]),
            (-256, vec![0xff, 0x00]),
            (65535, vec![0x00, 0xff, 0xff]),
            (i64::MIN, vec![0x80, 0, 0, 0, 0, 0, 0, 0]),
        ] {
            let d = Decimal::from_i64(v, 2);
            assert_eq!(d.unscaled_bytes(), bytes, "{v}");
            assert_eq!(Decimal::from_unscaled_bytes(&bytes, 2).unwrap(), d, "{v}");
            assert_eq!(d.to_i64_wrapping(), v / 100, "{v}");
        }
        assert!(Decimal::from_unscaled_bytes(&[], 0).is_none());
    }

    #[test]
    fn conversions() {
        let d = Decimal::parse("-12.75").unwrap();
        assert_eq!(d.to_f64(), -12.75);
        assert_eq!(d.to_i64_wrapping(), -12);
        assert_eq!(d.with_scale(4).unwrap().to_java_string(), "-12.7500");
        assert!(d.with_scale(1).is_none());
    }
}
