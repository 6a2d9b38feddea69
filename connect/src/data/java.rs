//! Java behaviours that show in Kafka Connect's output and that we reproduce: the text of
//! `Double.toString` / `Float.toString`, `java.util.Date.toString`, `String.hashCode`, and the
//! iteration order of a `HashMap`.

use super::Value;

/// Java's `Double.toString`: `1.0`, `1.0E10`, `1.0E-5`, `NaN`, `Infinity` (shortest digits that
/// read back to the same double, as Java 19 and later print them).
pub fn double_to_string(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    java_text(d == 0.0, d.is_sign_negative(), &format!("{:e}", d.abs()))
}

/// Java's `Float.toString`.
pub fn float_to_string(f: f32) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    java_text(f == 0.0, f.is_sign_negative(), &format!("{:e}", f.abs()))
}

/// Turns Rust's shortest `{:e}` text (`1.2345e6`) into Java's: plain between 10^-3 and 10^7,
/// else `d.dddEn`.
fn java_text(zero: bool, negative: bool, sci: &str) -> String {
    let sign = if negative { "-" } else { "" };
    if zero {
        return format!("{sign}0.0");
    }
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-3..7).contains(&exp) {
        if exp < 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize))
        } else {
            let int_len = exp as usize + 1;
            if digits.len() > int_len {
                format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
            } else {
                format!("{sign}{digits}{}.0", "0".repeat(int_len - digits.len()))
            }
        }
    } else {
        let frac = if digits.len() > 1 { &digits[1..] } else { "0" };
        format!("{sign}{}.{frac}E{exp}", &digits[..1])
    }
}

/// Java's `String.hashCode` (over UTF-16 code units).
pub fn string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// Java's `Arrays.hashCode(byte[])`: stands in for the identity hash Java prints after `[B@`.
pub fn bytes_hash(b: &[u8]) -> u32 {
    b.iter().fold(1i32, |h, x| {
        h.wrapping_mul(31).wrapping_add(i32::from(*x as i8))
    }) as u32
}

/// The table size of `new HashMap<>()`.
pub const DEFAULT_CAPACITY: usize = 16;

/// The table size of `new HashMap<>(m)` for a map `m` of `size` entries (Java 17's rule; an
/// empty `m` leaves the default).
pub fn copy_capacity(size: usize) -> usize {
    if size == 0 {
        return DEFAULT_CAPACITY;
    }
    let t = (size as f32 / 0.75f32 + 1.0f32) as usize;
    t.max(1).next_power_of_two()
}

/// The table size of `new HashMap<>(initialCapacity)`.
pub fn sized_capacity(initial: usize) -> usize {
    initial.max(1).next_power_of_two()
}

/// Reorders entries put in this order into a `java.util.HashMap` whose table starts at
/// `capacity` (load factor 0.75) as that map iterates them: by bucket of the final table, then
/// in insertion order within a bucket. A key put twice keeps its first place and its last
/// value. When a key has no reproducible Java hash (bytes, structs), the order is kept.
pub fn hash_map_order(entries: Vec<(Value, Value)>, capacity: usize) -> Vec<(Value, Value)> {
    let mut unique: Vec<(Value, Value)> = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        match unique.iter_mut().find(|(k2, _)| *k2 == k) {
            Some(e) => e.1 = v,
            None => unique.push((k, v)),
        }
    }
    let mut capacity = capacity.max(1);
    while unique.len() > capacity * 3 / 4 {
        capacity *= 2;
    }
    let Some(hashes) = unique
        .iter()
        .map(|(k, _)| hash_code(k))
        .collect::<Option<Vec<i32>>>()
    else {
        return unique;
    };
    let mut keyed: Vec<(usize, usize, (Value, Value))> = unique
        .into_iter()
        .zip(hashes)
        .enumerate()
        .map(|(i, (e, h))| {
            let h = h as u32;
            (((h ^ (h >> 16)) as usize) & (capacity - 1), i, e)
        })
        .collect();
    keyed.sort_by_key(|(bucket, i, _)| (*bucket, *i));
    keyed.into_iter().map(|(_, _, e)| e).collect()
}

/// Java's `hashCode()` of a value, where it does not depend on object identity.
pub fn hash_code(v: &Value) -> Option<i32> {
    Some(match v {
        Value::Null => 0,
        Value::Boolean(true) => 1231,
        Value::Boolean(false) => 1237,
        Value::Int8(x) => i32::from(*x),
        Value::Int16(x) => i32::from(*x),
        Value::Int32(x) => *x,
        Value::Int64(x) => (*x ^ ((*x as u64) >> 32) as i64) as i32,
        Value::Float32(x) => {
            let bits = if x.is_nan() { 0x7fc0_0000 } else { x.to_bits() };
            bits as i32
        }
        Value::Float64(x) => {
            let bits = if x.is_nan() {
                0x7ff8_0000_0000_0000u64
            } else {
                x.to_bits()
            };
            (bits ^ (bits >> 32)) as i32
        }
        Value::String(s) => string_hash(s),
        Value::Array(items) => {
            let mut h = 1i32;
            for e in items {
                h = h.wrapping_mul(31).wrapping_add(hash_code(e)?);
            }
            h
        }
        Value::Map(entries) => {
            let mut h = 0i32;
            for (k, v) in entries {
                h = h.wrapping_add(hash_code(k)? ^ hash_code(v)?);
            }
            h
        }
        Value::Decimal(d) => d.java_hash_code(),
        Value::Date(ms) => (*ms ^ ((*ms as u64) >> 32) as i64) as i32,
        Value::Bytes(_) | Value::Struct(_) => return None,
    })
}

/// Java's `java.util.Date.toString()` in UTC: `Thu Jan 01 00:00:00 UTC 1970`.
pub fn date_to_string(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = java_civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {d:02} {:02}:{:02}:{:02} UTC {y}",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The first day of the Gregorian calendar in Java's `GregorianCalendar` (1582-10-15), in days
/// since 1970-01-01; earlier days are in the Julian calendar.
const GREGORIAN_CUTOVER_DAY: i64 = -141_427;

/// The date Java's `GregorianCalendar` gives a day count since 1970-01-01: Gregorian from
/// 1582-10-15, Julian before (year 0 is 1 BC).
pub fn java_civil_from_days(days: i64) -> (i64, u32, u32) {
    if days >= GREGORIAN_CUTOVER_DAY {
        return civil_from_days(days);
    }
    // Julian calendar from the Julian day number
    let c = days + 2_440_588 + 32_082;
    let d = (4 * c + 3).div_euclid(1461);
    let e = c - (1461 * d).div_euclid(4);
    let m = (5 * e + 2).div_euclid(153);
    let day = (e - (153 * m + 2).div_euclid(5) + 1) as u32;
    let month = (m + 3 - 12 * m.div_euclid(10)) as u32;
    let year = d - 4800 + m.div_euclid(10);
    (year, month, day)
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_java() {
        for (d, s) in [
            (1.0, "1.0"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1234567.0, "1234567.0"),
            (12345678.0, "1.2345678E7"),
            (1e10, "1.0E10"),
            (-2.5, "-2.5"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
            (100.0, "100.0"),
            (1.0e-10, "1.0E-10"),
            (f64::MAX, "1.7976931348623157E308"),
        ] {
            assert_eq!(double_to_string(d), s);
        }
        assert_eq!(float_to_string(0.1f32), "0.1");
        assert_eq!(float_to_string(3.4028235e38f32), "3.4028235E38");
    }

    #[test]
    fn hash_codes_and_map_order() {
        assert_eq!(string_hash("hello"), 99162322);
        assert_eq!(string_hash(""), 0);
        // "b" (98) and "a" (97) sit in buckets 2 and 1 of 16
        let s = |x: &str| Value::String(x.into());
        let order: Vec<Value> = hash_map_order(
            vec![(s("b"), Value::Int32(1)), (s("a"), Value::Int32(2))],
            DEFAULT_CAPACITY,
        )
        .into_iter()
        .map(|(k, _)| k)
        .collect();
        assert_eq!(order, [s("a"), s("b")]);
        // Kafka's JsonConverter reads {"zeta":1,"alpha":2,"mid":3,"b":4} in this order
        let keys = ["zeta", "alpha", "mid", "b"];
        let order: Vec<Value> = hash_map_order(
            keys.iter().map(|k| (s(k), Value::Null)).collect(),
            DEFAULT_CAPACITY,
        )
        .into_iter()
        .map(|(k, _)| k)
        .collect();
        assert_eq!(order, [s("zeta"), s("b"), s("alpha"), s("mid")]);
        assert_eq!(copy_capacity(4), 8);
        assert_eq!(copy_capacity(0), 16);
        assert_eq!(sized_capacity(0), 1);
    }

    #[test]
    fn dates_print_as_java_in_utc() {
        assert_eq!(date_to_string(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(
            date_to_string(1_700_000_000_000),
            "Tue Nov 14 22:13:20 UTC 2023"
        );
        assert_eq!(date_to_string(-1), "Wed Dec 31 23:59:59 UTC 1969");
        // the day before the Gregorian calendar began, in the Julian calendar
        assert_eq!(java_civil_from_days(-141_428), (1582, 10, 4));
        assert_eq!(java_civil_from_days(-141_427), (1582, 10, 15));
    }
}
