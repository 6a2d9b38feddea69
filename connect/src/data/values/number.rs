//! Numbers as Java's `BigDecimal(String)` reads them (digits of any script, an exponent that
//! fits an `int`), with the conversions `Values` makes of them.

use super::temporal::java_digit;
use crate::data::Decimal;

/// A parsed `BigDecimal`: its sign, the digits of its unscaled value and its scale.
#[derive(Clone, Debug)]
pub(super) struct JavaDecimal {
    negative: bool,
    /// The unscaled value's digits without leading zeros (empty for zero).
    digits: String,
    scale: i32,
    decimal: Decimal,
}

impl JavaDecimal {
    /// `new BigDecimal(text)`, `None` where Java throws `NumberFormatException`.
    pub(super) fn parse(text: &str) -> Option<JavaDecimal> {
        let mut ascii = String::with_capacity(text.len());
        for c in text.chars() {
            if c.is_ascii() {
                ascii.push(c);
            } else {
                let unit = u16::try_from(u32::from(c)).ok()?;
                ascii.push(char::from(b'0' + java_digit(unit)? as u8));
            }
        }
        let (negative, rest) = match ascii.as_bytes().first()? {
            b'-' => (true, &ascii[1..]),
            b'+' => (false, &ascii[1..]),
            _ => (false, &ascii[..]),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], parse_exponent(&rest[i + 1..])?),
            None => (rest, 0),
        };
        let (int_part, frac_part) = match mantissa.split_once('.') {
            Some((i, f)) => (i, f),
            None => (mantissa, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int_part.is_empty() && frac_part.is_empty())
            || !all_digits(int_part)
            || !all_digits(frac_part)
        {
            return None;
        }
        let scale = i32::try_from(frac_part.len() as i64 - exponent).ok()?;
        let digits = format!("{int_part}{frac_part}")
            .trim_start_matches('0')
            .to_string();
        let sign = if negative { "-" } else { "" };
        let canonical = format!(
            "{sign}{}E{}",
            if digits.is_empty() { "0" } else { &digits },
            -i64::from(scale)
        );
        let decimal = Decimal::parse(&canonical)?;
        Some(JavaDecimal {
            negative,
            digits,
            scale,
            decimal,
        })
    }

    /// The scale.
    pub(super) fn scale(&self) -> i32 {
        self.scale
    }

    /// The `BigDecimal`.
    pub(super) fn into_decimal(self) -> Decimal {
        self.decimal
    }

    /// The `BigDecimal`.
    pub(super) fn decimal(&self) -> &Decimal {
        &self.decimal
    }

    fn text(&self) -> String {
        if self.digits.is_empty() {
            return "0".to_string();
        }
        let sign = if self.negative { "-" } else { "" };
        format!("{sign}{}e{}", self.digits, -i64::from(self.scale))
    }

    /// `floatValue()` (correctly rounded; zero is never negative).
    pub(super) fn to_f32(&self) -> f32 {
        self.text().parse().unwrap_or(0.0)
    }

    /// `doubleValue()` (correctly rounded; zero is never negative).
    pub(super) fn to_f64(&self) -> f64 {
        self.text().parse().unwrap_or(0.0)
    }

    /// Kafka 4's `parseAsExactDecimal`: the value as a long when it is whole, zero or at
    /// least one in magnitude, at most 10^19 in magnitude and within a long's range.
    pub(super) fn exact_long(&self) -> Option<i64> {
        if self.digits.is_empty() {
            return Some(0);
        }
        let precision = self.digits.len() as i64;
        let scale = i64::from(self.scale);
        let adjusted = precision - 1 - scale;
        if adjusted > 19 || (adjusted == 19 && self.digits.trim_end_matches('0') != "1") {
            return None;
        }
        if adjusted < 0 {
            return None;
        }
        let trailing_zeros = precision - self.digits.trim_end_matches('0').len() as i64;
        if scale > 0 && trailing_zeros < scale {
            return None;
        }
        let integral = if scale <= 0 {
            format!("{}{}", self.digits, "0".repeat((-scale) as usize))
        } else {
            self.digits[..(precision - scale) as usize].to_string()
        };
        let magnitude: i128 = integral.parse().ok()?;
        let value = if self.negative { -magnitude } else { magnitude };
        i64::try_from(value).ok()
    }
}

/// `BigDecimal`'s exponent: an optional sign and digits, fitting an `int`.
fn parse_exponent(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    if digits.len() > 10 {
        return None;
    }
    let magnitude: i64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let exponent = if negative { -magnitude } else { magnitude };
    i32::try_from(exponent).ok().map(i64::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_java_big_decimal_text() {
        for (text, java) in [
            ("1", "1"),
            ("+1.50", "1.50"),
            ("-0.000", "0.000"),
            ("1e3", "1E+3"),
            ("1.0E-2", "0.010"),
            (".5", "0.5"),
            ("5.", "5"),
            ("١٢", "12"),
            ("1e0000000000000000000002", "1E+2"),
        ] {
            let d = JavaDecimal::parse(text).unwrap();
            assert_eq!(d.decimal().to_java_string(), java, "{text}");
        }
        for text in [
            "",
            "+",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "1e+-5",
            "1.2.3",
            "1 ",
            "0x10",
            "1_0",
            "NaN",
            "1e2147483648",
            "1e-2147483649",
            "1e12345678901",
        ] {
            assert!(JavaDecimal::parse(text).is_none(), "{text}");
        }
        // the scale must fit an int too
        assert!(JavaDecimal::parse("0.1e-2147483647").is_none());
        assert!(JavaDecimal::parse("1e-2147483647").is_some());
    }

    #[test]
    fn exact_longs_as_kafka_4() {
        let exact = |t: &str| JavaDecimal::parse(t).unwrap().exact_long();
        assert_eq!(exact("0.00"), Some(0));
        assert_eq!(exact("-0"), Some(0));
        assert_eq!(exact("1.000"), Some(1));
        assert_eq!(exact("12E2"), Some(1200));
        assert_eq!(exact("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(exact("9223372036854775807.0"), Some(i64::MAX));
        assert_eq!(exact("9223372036854775808"), None);
        assert_eq!(exact("1e19"), None);
        assert_eq!(exact("1.5"), None);
        assert_eq!(exact("0.5"), None);
        assert_eq!(exact("1e100000"), None);
        assert_eq!(exact("1e-100000"), None);
    }
}
