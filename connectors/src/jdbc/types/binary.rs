//! PostgreSQL's binary wire formats that need more than a byte copy: `numeric` (base-10000
//! digits) to and from Connect's `Decimal`, and the 2000-01-01 epoch of dates, times and
//! timestamps.

use tributary_connect::data::Decimal;

/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
pub const PG_EPOCH_DAYS: i64 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
pub const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS * 86_400_000_000;

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;

fn be_u16(b: &[u8], at: usize) -> Result<u16, String> {
    b.get(at..at + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .ok_or_else(|| "a truncated numeric value".to_string())
}

/// A binary `numeric` as a `Decimal` with the value's display scale.
pub fn numeric_to_decimal(raw: &[u8]) -> Result<Decimal, String> {
    let ndigits = be_u16(raw, 0)? as usize;
    let weight = be_u16(raw, 2)? as i16 as i64;
    let sign = be_u16(raw, 4)?;
    let dscale = be_u16(raw, 6)? as i64;
    if sign == NUMERIC_NAN {
        return Err("NaN cannot be represented as a Decimal".into());
    }
    if sign != NUMERIC_POS && sign != NUMERIC_NEG {
        return Err("Infinity cannot be represented as a Decimal".into());
    }
    let digits = (0..ndigits)
        .map(|i| be_u16(raw, 8 + 2 * i))
        .collect::<Result<Vec<u16>, String>>()?;
    let digit = |i: i64| -> u16 {
        if i >= 0 && (i as usize) < digits.len() {
            digits[i as usize]
        } else {
            0
        }
    };
    let mut text = String::new();
    if sign == NUMERIC_NEG {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        for i in 0..=weight {
            if i == 0 {
                text.push_str(&digit(i).to_string());
            } else {
                text.push_str(&format!("{:04}", digit(i)));
            }
        }
    }
    if dscale > 0 {
        let mut frac = String::new();
        let mut i = weight + 1;
        while (frac.len() as i64) < dscale {
            frac.push_str(&format!("{:04}", digit(i)));
            i += 1;
        }
        frac.truncate(dscale as usize);
        text.push('.');
        text.push_str(&frac);
    }
    Decimal::parse(&text).ok_or_else(|| format!("'{text}' is not a decimal"))
}

/// A `Decimal` in `numeric`'s binary form.
pub fn decimal_to_numeric(value: &Decimal, out: &mut Vec<u8>) {
    let plain = value.to_plain_string();
    let (negative, digits) = match plain.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, plain.as_str()),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let int_part = int_part.trim_start_matches('0');
    let dscale = frac_part.len() as u16;
    // groups of four digits, aligned on the decimal point
    let pad_left = (4 - int_part.len() % 4) % 4;
    let pad_right = (4 - frac_part.len() % 4) % 4;
    let all = format!(
        "{}{int_part}{frac_part}{}",
        "0".repeat(pad_left),
        "0".repeat(pad_right)
    );
    let mut groups: Vec<u16> = all
        .as_bytes()
        .chunks(4)
        .map(|c| c.iter().fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0')))
        .collect();
    let mut weight = ((int_part.len() + pad_left) / 4) as i64 - 1;
    // leading and trailing zero groups are left out
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let sign = if negative && !groups.is_empty() {
        NUMERIC_NEG
    } else {
        NUMERIC_POS
    };
    out.extend_from_slice(&(groups.len() as u16).to_be_bytes());
    out.extend_from_slice(&(weight as i16).to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
}

/// Microseconds since 2000-01-01 as Unix milliseconds and the nanoseconds of the second
/// (Java's `Timestamp.getTime()` and `getNanos()`).
pub fn pg_micros_to_unix(micros: i64) -> (i64, i64) {
    let unix = micros.saturating_add(PG_EPOCH_MICROS);
    (unix.div_euclid(1000), unix.rem_euclid(1_000_000) * 1000)
}

/// Unix milliseconds (and the nanoseconds of that second, when known) as microseconds since
/// 2000-01-01.
pub fn unix_to_pg_micros(millis: i64, nanos: Option<i64>) -> i64 {
    let micros = match nanos {
        Some(n) => millis.div_euclid(1000) * 1_000_000 + n.div_euclid(1000),
        None => millis.saturating_mul(1000),
    };
    micros.saturating_sub(PG_EPOCH_MICROS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        let d = Decimal::parse(text).unwrap();
        let mut buf = Vec::new();
        decimal_to_numeric(&d, &mut buf);
        numeric_to_decimal(&buf).unwrap().to_plain_string()
    }

    #[test]
    fn numerics_round_trip() {
        for t in [
            "0",
            "1",
            "-1",
            "12345.678",
            "0.0001",
            "-0.00012",
            "100000000",
            "99999999999999999999.99",
            "3.14159265358979323846",
            "10000.5000",
        ] {
            assert_eq!(round_trip(t), t);
        }
        // 1.5 with scale 3 keeps its scale
        let d = Decimal::parse("1.500").unwrap();
        let mut buf = Vec::new();
        decimal_to_numeric(&d, &mut buf);
        assert_eq!(numeric_to_decimal(&buf).unwrap().scale(), 3);
        // a negative scale is written as an integer
        assert_eq!(round_trip("1E+3"), "1000");
    }

    #[test]
    fn numerics_from_the_server() {
        // 12.5 with dscale 2: ndigits 2, weight 0, pos, dscale 2, digits [12, 5000]
        let raw = [0, 2, 0, 0, 0, 0, 0, 2, 0, 12, 0x13, 0x88];
        assert_eq!(numeric_to_decimal(&raw).unwrap().to_plain_string(), "12.50");
        let nan = [0, 0, 0, 0, 0xC0, 0, 0, 0];
        assert!(numeric_to_decimal(&nan).is_err());
    }

    #[test]
    fn epochs() {
        assert_eq!(pg_micros_to_unix(0), (946_684_800_000, 0));
        assert_eq!(pg_micros_to_unix(1_500_001), (946_684_801_500, 500_001_000));
        assert_eq!(pg_micros_to_unix(-PG_EPOCH_MICROS - 1), (-1, 999_999_000));
        assert_eq!(unix_to_pg_micros(946_684_801_500, None), 1_500_000);
        assert_eq!(
            unix_to_pg_micros(946_684_801_500, Some(500_001_000)),
            1_500_001
        );
    }
}
