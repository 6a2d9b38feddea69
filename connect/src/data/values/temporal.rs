//! Dates as `Values` reads and writes them: the three `SimpleDateFormat` patterns
//! (`yyyy-MM-dd`, `HH:mm:ss.SSS'Z'`, `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`) in Java's default
//! `GregorianCalendar` (Julian before 15 October 1582), lenient as Java parses them, in UTC
//! (Kafka uses the JVM's default time zone; a worker runs in UTC).

use crate::data::java::civil_from_days;
use crate::data::{logical, SchemaAndValue, Value};

/// Milliseconds in a day.
pub(super) const MILLIS_PER_DAY: i64 = 86_400_000;
/// Java's "fixed date" (days since 1 January of year 1, Gregorian, that day being 1) of the
/// epoch.
const EPOCH_OFFSET: i64 = 719_163;
/// The fixed date of 15 October 1582, the first Gregorian day of `GregorianCalendar`.
const GREGORIAN_CUTOVER: i64 = 577_736;
/// The fixed date of 1 January of year 1 in the Julian calendar, minus one day.
const JULIAN_EPOCH: i64 = -1;

/// The first code unit of each run of ten decimal digits (`Character.isDigit`, Unicode
/// category Nd) in the Basic Multilingual Plane, as Java 17 knows them; Java reads numbers
/// (`BigDecimal`, `DecimalFormat`) in any of them.
const DIGIT_ZEROS: [u16; 37] = [
    0x0030, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6,
    0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80,
    0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0,
    0xFF10,
];

/// Java's `Character.digit(c, 10)` of a UTF-16 code unit.
pub(super) fn java_digit(c: u16) -> Option<u32> {
    DIGIT_ZEROS
        .iter()
        .find(|z| (**z..**z + 10).contains(&c))
        .map(|z| u32::from(c - z))
}

/// The calendar fields of an instant in UTC.
struct Fields {
    /// Proleptic year: 0 is 1 BC.
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
    milli: i64,
}

fn fields(millis: i64) -> Fields {
    let days = millis.div_euclid(MILLIS_PER_DAY);
    let time = millis.rem_euclid(MILLIS_PER_DAY);
    let fixed = days + EPOCH_OFFSET;
    let (year, month, day) = if fixed >= GREGORIAN_CUTOVER {
        civil_from_days(days)
    } else {
        julian_from_fixed(fixed)
    };
    Fields {
        year,
        month,
        day,
        hour: time / 3_600_000,
        minute: time / 60_000 % 60,
        second: time / 1000 % 60,
        milli: time % 1000,
    }
}

/// `Values.dateFormatFor(date).format(date)`: a time (`HH:mm:ss.SSS'Z'`) below one day after
/// the epoch (so also for every instant before it), a date (`yyyy-MM-dd`) at a later midnight,
/// else a timestamp (`yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`); years are years of their era (1 BC
/// prints as `0001`), dates before 15 October 1582 are Julian.
///
/// (So Kafka prints every instant before 2 January 1970 as a time of day.)
pub fn format_date_for(millis: i64) -> String {
    let (date, time) = format_fields(millis);
    if millis < MILLIS_PER_DAY {
        time
    } else if millis % MILLIS_PER_DAY == 0 {
        date
    } else {
        format!("{date}T{time}")
    }
}

/// The `yyyy-MM-dd` and `HH:mm:ss.SSS'Z'` texts of an instant.
fn format_fields(millis: i64) -> (String, String) {
    let f = fields(millis);
    let time = format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        f.hour, f.minute, f.second, f.milli
    );
    let year_of_era = if f.year <= 0 { 1 - f.year } else { f.year };
    let date = format!("{year_of_era:04}-{:02}-{:02}", f.month, f.day);
    (date, time)
}

/// `Values.parseAsTemporal`: a text of exactly the length of one of the patterns (escaped
/// colons unescaped first), parsed as Java's lenient `SimpleDateFormat` does: out-of-range
/// fields roll over, spaces and tabs may precede a number, a number may be negative, and text
/// after the pattern is ignored.
pub(super) fn parse_temporal(token: &str) -> Option<SchemaAndValue> {
    let token = token.replace("\\:", ":");
    let units: Vec<u16> = token.encode_utf16().collect();
    let (pattern, schema): (&[Part], _) = match units.len() {
        13 => (&TIME, logical::time_schema()),
        24 => (&TIMESTAMP, logical::timestamp_schema()),
        10 => (&DATE, logical::date_schema()),
        _ => return None,
    };
    let millis = simple_date_parse(&units, pattern)?;
    Some(SchemaAndValue::new(
        Some(schema.build()),
        Value::Date(millis),
    ))
}

/// A part of a date pattern: a number field or a literal character.
#[derive(Clone, Copy)]
enum Part {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Milli,
    Literal(u8),
}

const DATE: [Part; 5] = [
    Part::Year,
    Part::Literal(b'-'),
    Part::Month,
    Part::Literal(b'-'),
    Part::Day,
];
const TIME: [Part; 8] = [
    Part::Hour,
    Part::Literal(b':'),
    Part::Minute,
    Part::Literal(b':'),
    Part::Second,
    Part::Literal(b'.'),
    Part::Milli,
    Part::Literal(b'Z'),
];
const TIMESTAMP: [Part; 14] = [
    Part::Year,
    Part::Literal(b'-'),
    Part::Month,
    Part::Literal(b'-'),
    Part::Day,
    Part::Literal(b'T'),
    Part::Hour,
    Part::Literal(b':'),
    Part::Minute,
    Part::Literal(b':'),
    Part::Second,
    Part::Literal(b'.'),
    Part::Milli,
    Part::Literal(b'Z'),
];

/// The fields a parse set (`CalendarBuilder`): unset ones are the epoch's.
#[derive(Default)]
struct Parsed {
    year: Option<i32>,
    /// Zero-based, as `Calendar.MONTH`.
    month: i32,
    day: Option<i32>,
    hour: i32,
    minute: i32,
    second: i32,
    milli: i32,
}

/// `SimpleDateFormat.parse(text, new ParsePosition(0))` with a lenient calendar: the instant,
/// or `None` where Java leaves the position at 0.
fn simple_date_parse(text: &[u16], pattern: &[Part]) -> Option<i64> {
    let mut pos = 0;
    let mut parsed = Parsed::default();
    for part in pattern {
        if let Part::Literal(c) = part {
            if text.get(pos) != Some(&u16::from(*c)) {
                return None;
            }
            pos += 1;
            continue;
        }
        // (subParse skips spaces and tabs before a number)
        while matches!(text.get(pos)?, 0x20 | 0x09) {
            pos += 1;
        }
        let (number, end) = decimal_format_parse(text, pos)?;
        pos = end;
        let value = number.int_value();
        match part {
            Part::Year => parsed.year = Some(value),
            Part::Month => parsed.month = value.wrapping_sub(1),
            Part::Day => parsed.day = Some(value),
            Part::Hour => parsed.hour = value,
            Part::Minute => parsed.minute = value,
            Part::Second => parsed.second = value,
            Part::Milli => parsed.milli = value,
            Part::Literal(_) => {}
        }
    }
    Some(compute_time(&parsed))
}

/// `GregorianCalendar.computeTime` (lenient, UTC) of parsed fields.
fn compute_time(p: &Parsed) -> i64 {
    let year = p.year.unwrap_or(1970);
    let mut time_of_day = i64::from(p.hour);
    time_of_day = time_of_day * 60 + i64::from(p.minute);
    time_of_day = time_of_day * 60 + i64::from(p.second);
    time_of_day = time_of_day * 1000 + i64::from(p.milli);
    let mut fixed = time_of_day / MILLIS_PER_DAY;
    time_of_day %= MILLIS_PER_DAY;
    if time_of_day < 0 {
        time_of_day += MILLIS_PER_DAY;
        fixed -= 1;
    }
    // the first day of the (normalized) month, plus the day of month
    let month_start = |julian: bool| {
        let (mut y, mut m) = (year, p.month);
        if m > 11 {
            y = y.wrapping_add(m / 12);
            m %= 12;
        } else if m < 0 {
            y = y.wrapping_add(m.div_euclid(12));
            m = m.rem_euclid(12);
        }
        let first = if julian {
            julian_fixed(y, m + 1)
        } else {
            gregorian_fixed(y, m + 1)
        };
        first + p.day.map_or(0, |d| i64::from(d) - 1)
    };
    // Gregorian from 1582 on while the result is on or after the cutover; else Julian
    let fixed = if year >= 1582 {
        let gregorian = fixed + month_start(false);
        if gregorian >= GREGORIAN_CUTOVER {
            gregorian
        } else {
            fixed + month_start(true)
        }
    } else {
        fixed + month_start(true)
    };
    (fixed - EPOCH_OFFSET)
        .wrapping_mul(MILLIS_PER_DAY)
        .wrapping_add(time_of_day)
}

/// `BaseCalendar.getFixedDate(year, month, 1)`: the fixed date of the first of a Gregorian
/// month (1-12).
fn gregorian_fixed(year: i32, month: i32) -> i64 {
    let prev = i64::from(year) - 1;
    let mut days = 1 + 365 * prev + prev.div_euclid(4) - prev.div_euclid(100)
        + prev.div_euclid(400)
        + i64::from((367 * month - 362).div_euclid(12));
    if month > 2 {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        days -= if leap { 1 } else { 2 };
    }
    days
}

/// `JulianCalendar.getFixedDate(year, month, 1)` (year 0 is 1 BC).
fn julian_fixed(year: i32, month: i32) -> i64 {
    let y = i64::from(year);
    let mut days = JULIAN_EPOCH + 365 * (y - 1) + (y - 1).div_euclid(4);
    days += (367 * i64::from(month) - 362).div_euclid(12);
    if month > 2 {
        days -= if year % 4 == 0 { 1 } else { 2 };
    }
    days
}

/// `JulianCalendar.getCalendarDateFromFixedDate`: year (0 is 1 BC), month, day.
fn julian_from_fixed(fixed: i64) -> (i64, u32, u32) {
    let year = (4 * (fixed - JULIAN_EPOCH) + 1464).div_euclid(1461) as i32;
    let mut prior_days = fixed - julian_fixed(year, 1);
    if fixed >= julian_fixed(year, 3) {
        prior_days += if year % 4 == 0 { 1 } else { 2 };
    }
    let month = (12 * prior_days + 373).div_euclid(367) as i32;
    let day = fixed - julian_fixed(year, month) + 1;
    (i64::from(year), month as u32, day as u32)
}

/// A `Number` as Java's `DecimalFormat` returns it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Number {
    Long(i64),
    Double(f64),
}

impl Number {
    /// `Number.intValue()`: a long's low 32 bits, a double truncated and saturated (NaN: 0).
    fn int_value(self) -> i32 {
        match self {
            Number::Long(l) => l as i32,
            Number::Double(d) => d as i32,
        }
    }
}

fn starts_with(text: &[u16], pos: usize, s: &str) -> bool {
    let units: Vec<u16> = s.encode_utf16().collect();
    text.get(pos..pos + units.len()) == Some(&units[..])
}

/// `DecimalFormat.parse(text, pos)` of the integer format `SimpleDateFormat` uses (English
/// symbols, no grouping): `NaN`, an optional `-`, `∞` or digits of any script, and an exponent
/// (`E`, an optional `-`, digits). The number and where it ends.
fn decimal_format_parse(text: &[u16], start: usize) -> Option<(Number, usize)> {
    if starts_with(text, start, "NaN") {
        return Some((Number::Double(f64::NAN), start + 3));
    }
    let negative = text.get(start) == Some(&u16::from(b'-'));
    let (digits, end) = subparse_number(text, start + usize::from(negative), false)?;
    let value = match digits {
        None if negative => Number::Double(f64::NEG_INFINITY),
        None => Number::Double(f64::INFINITY),
        Some(mut d) => {
            if d.fits_into_long(!negative, true) {
                let l = d.get_long();
                // (Long.MIN_VALUE comes negative already)
                Number::Long(if negative && l >= 0 { -l } else { l })
            } else {
                let v = d.get_double();
                Number::Double(if negative { -v } else { v })
            }
        }
    };
    Some((value, end))
}

/// `DecimalFormat.subparseNumber` (integer only): the digits (`None`: infinity) and the end,
/// or `None` without any digit.
fn subparse_number(
    text: &[u16],
    start: usize,
    is_exponent: bool,
) -> Option<(Option<DigitList>, usize)> {
    if !is_exponent && starts_with(text, start, "∞") {
        return Some((None, start + 1));
    }
    let mut digits = DigitList::default();
    let mut saw_digit = false;
    let mut exponent = 0i32;
    let mut digit_count = 0i32;
    let mut pos = start;
    while let Some(&c) = text.get(pos) {
        match java_digit(c) {
            Some(0) => {
                saw_digit = true;
                // leading zeros of the integer part are skipped
                if !digits.digits.is_empty() {
                    digit_count += 1;
                    digits.digits.push(b'0');
                }
            }
            Some(d) => {
                saw_digit = true;
                digit_count += 1;
                digits.digits.push(b'0' + d as u8);
            }
            None if !is_exponent && c == u16::from(b'E') => {
                // (whether or not an exponent follows, the number ends here)
                if let Some((e, end)) = parse_exponent(text, pos + 1) {
                    pos = end;
                    exponent = e;
                }
                break;
            }
            None => break,
        }
        pos += 1;
    }
    digits.decimal_at = digit_count.wrapping_add(exponent);
    if !saw_digit && digit_count == 0 {
        return None;
    }
    Some((Some(digits), pos))
}

/// The exponent after an `E`: an optional `-` and digits that fit a long (cast to int).
fn parse_exponent(text: &[u16], start: usize) -> Option<(i32, usize)> {
    let negative = text.get(start) == Some(&u16::from(b'-'));
    let (digits, end) = subparse_number(text, start + usize::from(negative), true)?;
    let mut digits = digits?;
    if !digits.fits_into_long(!negative, true) {
        return None;
    }
    let v = digits.get_long() as i32;
    Some((if negative { v.wrapping_neg() } else { v }, end))
}

/// Java's `java.text.DigitList`: significant digits and where the decimal point goes.
#[derive(Default)]
struct DigitList {
    digits: Vec<u8>,
    decimal_at: i32,
}

const LONG_MIN_REP: &[u8; 19] = b"9223372036854775808";

impl DigitList {
    /// `fitsIntoLong` (which drops trailing zeros first).
    fn fits_into_long(&mut self, positive: bool, ignore_negative_zero: bool) -> bool {
        while self.digits.last() == Some(&b'0') {
            self.digits.pop();
        }
        let count = self.digits.len() as i32;
        if count == 0 {
            return positive || ignore_negative_zero;
        }
        if self.decimal_at < count || self.decimal_at > 19 {
            return false;
        }
        if self.decimal_at < 19 {
            return true;
        }
        for (d, max) in self.digits.iter().zip(LONG_MIN_REP) {
            if d != max {
                return d < max;
            }
        }
        if count < self.decimal_at {
            return true;
        }
        !positive
    }

    fn get_long(&self) -> i64 {
        if self.digits.is_empty() {
            return 0;
        }
        if self.decimal_at == 19 && self.digits == LONG_MIN_REP {
            return i64::MIN;
        }
        let zeros = (self.decimal_at as usize).saturating_sub(self.digits.len());
        let text = String::from_utf8_lossy(&self.digits).into_owned() + &"0".repeat(zeros);
        text.parse().unwrap_or(0)
    }

    fn get_double(&self) -> f64 {
        if self.digits.is_empty() {
            return 0.0;
        }
        format!(
            "0.{}e{}",
            String::from_utf8_lossy(&self.digits),
            self.decimal_at
        )
        .parse()
        .unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Option<i64> {
        match parse_temporal(text)?.value {
            Value::Date(ms) => Some(ms),
            _ => None,
        }
    }

    #[test]
    fn formats_as_kafka() {
        assert_eq!(format_date_for(0), "00:00:00.000Z");
        assert_eq!(format_date_for(45_296_789), "12:34:56.789Z");
        // before the epoch: always a time, of that day
        assert_eq!(format_date_for(-1), "23:59:59.999Z");
        assert_eq!(format_date_for(-MILLIS_PER_DAY), "00:00:00.000Z");
        assert_eq!(format_date_for(MILLIS_PER_DAY), "1970-01-02");
        assert_eq!(format_date_for(18_262 * MILLIS_PER_DAY), "2020-01-01");
        assert_eq!(
            format_date_for(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(
            format_date_for(253_402_300_800_001),
            "10000-01-01T00:00:00.001Z"
        );
    }

    fn timestamp(ms: i64) -> String {
        let (date, time) = format_fields(ms);
        format!("{date}T{time}")
    }

    #[test]
    fn julian_before_the_cutover() {
        // 15 October 1582 (Gregorian) follows 4 October 1582 (Julian)
        let cutover = (GREGORIAN_CUTOVER - EPOCH_OFFSET) * MILLIS_PER_DAY;
        assert_eq!(cutover, -12_219_292_800_000);
        assert_eq!(timestamp(cutover + 5), "1582-10-15T00:00:00.005Z");
        assert_eq!(
            timestamp(cutover - MILLIS_PER_DAY + 5),
            "1582-10-04T00:00:00.005Z"
        );
        assert_eq!(parse("1582-10-04"), Some(cutover - MILLIS_PER_DAY));
        assert_eq!(parse("1582-10-15"), Some(cutover));
        // the missing days are taken as Julian, landing after the cutover
        assert_eq!(parse("1582-10-10"), Some(cutover + 5 * MILLIS_PER_DAY));
        // Gregorian 1 January of year 1 is Julian 3 January
        assert_eq!(
            timestamp(-62_135_596_800_000 + 3),
            "0001-01-03T00:00:00.003Z"
        );
        for ms in [
            -62_135_596_800_000i64 + 3,
            -30_000_000_000_000,
            -12_219_292_800_001,
        ] {
            assert_eq!(parse(&timestamp(ms)), Some(ms), "{ms}");
        }
        // year 1 BC prints as 0001 (its year of era)
        assert_eq!(
            timestamp(-62_135_856_000_000 + 1),
            "0001-12-31T00:00:00.001Z"
        );
        assert!(timestamp(i64::MIN).ends_with("Z"));
        assert!(timestamp(i64::MAX).starts_with("292278994-"));
        // Kafka only ever prints times before 1970-01-02
        assert_eq!(format_date_for(-12_219_292_800_000 + 5), "00:00:00.005Z");
    }

    #[test]
    fn parses_leniently_as_java() {
        assert_eq!(parse("12:34:56.789Z"), Some(45_296_789));
        assert_eq!(parse("2020-01-01"), Some(18_262 * MILLIS_PER_DAY));
        assert_eq!(parse("2023-11-14T22:13:20.123Z"), Some(1_700_000_000_123));
        assert_eq!(parse("12\\:34\\:56.789Z"), Some(45_296_789));
        // rolls over
        assert_eq!(parse("2020-13-45"), Some(18_672 * MILLIS_PER_DAY));
        assert_eq!(parse("24:00:00.000Z"), Some(MILLIS_PER_DAY));
        // spaces before numbers, negative numbers, text after the pattern
        assert_eq!(parse("2020- 1-01"), Some(18_262 * MILLIS_PER_DAY));
        assert_eq!(parse("2020-01-1x"), Some(18_262 * MILLIS_PER_DAY));
        assert_eq!(parse("-1:00:00.000Z"), Some(-3_600_000));
        // other scripts' digits, exponents
        assert_eq!(parse("٢٠٢٠-01-01"), Some(18_262 * MILLIS_PER_DAY));
        assert_eq!(parse("2020-1E1-1"), parse("2020-10-01"));
        // wrong lengths or literals
        assert_eq!(parse("2020-01-1"), None);
        assert_eq!(parse("2020/01/01"), None);
        assert_eq!(parse("12:34:56,789Z"), None);
        assert_eq!(parse("12:34:56.789X"), None);
        assert_eq!(parse("2020-01-0 "), Some(18_261 * MILLIS_PER_DAY));
        assert_eq!(parse("2020-01- 1"), Some(18_262 * MILLIS_PER_DAY));
    }
}
