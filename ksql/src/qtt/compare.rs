//! ksqlDB's test comparison of an actual value with an expected JSON value
//! (`ExpectedRecordComparator`): numbers by the actual value's Java type (an integer, or a
//! `BigDecimal` whose scale must match), objects by field count and names (exact, then upper
//! case), arrays in order.

use super::json::J;

/// A decimal as Java's `BigDecimal`: sign, digits without leading zeros, and scale.
#[derive(Debug, PartialEq, Eq)]
struct BigDecimal {
    negative: bool,
    digits: String,
    scale: i64,
}

fn big_decimal(text: &str) -> Option<BigDecimal> {
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i64>().ok()?),
        None => (text, 0),
    };
    let negative = mantissa.starts_with('-');
    let m = mantissa.trim_start_matches(['-', '+']);
    let (int, frac) = m.split_once('.').unwrap_or((m, ""));
    if !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits = format!("{int}{frac}").trim_start_matches('0').to_string();
    let digits = if digits.is_empty() {
        "0".to_string()
    } else {
        digits
    };
    Some(BigDecimal {
        negative: negative && digits != "0",
        digits,
        scale: frac.len() as i64 - exp,
    })
}

fn is_integral_text(n: &str) -> bool {
    !n.contains(['.', 'e', 'E'])
}

/// Java's `NumericNode.longValue()` of an expected number (truncating a fraction).
fn long_value(n: &str) -> Option<i64> {
    if is_integral_text(n) {
        return n.parse().ok();
    }
    n.parse::<f64>().ok().map(|f| f.trunc() as i64)
}

/// Whether `actual` matches `expected`.
pub fn matches(actual: &J, expected: &J) -> bool {
    match expected {
        J::Obj(fields) => {
            let J::Obj(actual_fields) = actual else {
                return false;
            };
            if actual_fields.len() != fields.len() {
                return false;
            }
            fields.iter().all(|(name, e)| {
                let found = actual_fields
                    .iter()
                    .find(|(k, _)| k == name)
                    .or_else(|| {
                        let upper = name.to_uppercase();
                        actual_fields.iter().find(|(k, _)| *k == upper)
                    })
                    .map(|(_, v)| v);
                match found {
                    Some(a) => matches(a, e),
                    None => matches(&J::Null, e),
                }
            })
        }
        J::Arr(items) => {
            let J::Arr(actual_items) = actual else {
                return false;
            };
            actual_items.len() == items.len()
                && actual_items.iter().zip(items).all(|(a, e)| matches(a, e))
        }
        J::Num(e) => match actual {
            J::Num(a) if is_integral_text(a) => match (a.parse::<i64>(), long_value(e)) {
                (Ok(a), Some(e)) => a == e,
                _ => false,
            },
            J::Num(a) => {
                let Some(a) = big_decimal(a) else {
                    return false;
                };
                if is_integral_text(e) {
                    // only an actual without decimal places matches an integer
                    a.scale <= 0
                        && big_decimal(e).is_some_and(|e| {
                            e.negative == a.negative
                                && format!("{}{}", a.digits, "0".repeat((-a.scale) as usize))
                                    == e.digits
                        })
                } else {
                    big_decimal(e).is_some_and(|e| e == a)
                }
            }
            _ => false,
        },
        J::Str(e) => match actual {
            J::Str(a) => a == e,
            J::Num(a) if !is_integral_text(a) => {
                matches!((big_decimal(e), big_decimal(a)), (Some(x), Some(y)) if x == y)
            }
            _ => false,
        },
        J::Bool(e) => matches!(actual, J::Bool(a) if a == e),
        J::Null => matches!(actual, J::Null),
    }
}

#[cfg(test)]
mod tests {
    // Test helpers panic on failure by design.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::qtt::json::parse;

    fn m(actual: &str, expected: &str) -> bool {
        matches(&parse(actual).unwrap(), &parse(expected).unwrap())
    }

    #[test]
    fn numbers_compare_as_ksqldbs_test_runner_compares_them() {
        assert!(m("1", "1"));
        assert!(
            m("1", "1.5"),
            "an integer actual takes the expected's int value"
        );
        assert!(
            !m("1.0", "1"),
            "a decimal actual with a scale never equals an integer"
        );
        assert!(m("1.0", "1.0"));
        assert!(!m("1.0", "1.00"), "scales must match");
        assert!(m("2.1474836489E9", "2.1474836489E9"));
        assert!(m("1E+2", "100"));
        assert!(m("1.50", "\"1.50\""));
    }

    #[test]
    fn objects_need_every_field_and_match_names_in_upper_case() {
        assert!(m(r#"{"ID":1,"NAME":null}"#, r#"{"id":1,"NAME":null}"#));
        assert!(!m(r#"{"ID":1,"NAME":null}"#, r#"{"ID":1}"#));
        assert!(m("[1,[2]]", "[1,[2]]"));
        assert!(!m("[1]", "[1,2]"));
    }
}
