//! Java's `SimpleDateFormat` in UTC, as Kafka Connect's transforms use it (TimestampConverter's
//! `format`, TimestampRouter's `timestamp.format`): pattern letters, quoted text, formatting,
//! and lenient parsing (values out of range roll over, text after the pattern is ignored).

#[cfg(test)]
use super::java::civil_from_days;
use super::java::java_civil_from_days;

/// A compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateFormat {
    pattern: String,
    tokens: Vec<Token>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(String),
    Field(char, usize),
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const LETTERS: &str = "GyYMLwWDdFEuaHkKhmsSzZX";

impl DateFormat {
    /// Compiles a pattern; an error names an illegal letter or an unclosed quote as Java does.
    pub fn new(pattern: &str) -> Result<DateFormat, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        let mut literal = String::new();
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                if chars.get(i + 1) == Some(&'\'') {
                    literal.push('\'');
                    i += 2;
                    continue;
                }
                // quoted text up to the closing quote ('' inside is a quote)
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("Unterminated quote".into()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            literal.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            literal.push(*ch);
                            i += 1;
                        }
                    }
                }
                continue;
            }
            if c.is_ascii_alphabetic() {
                if !LETTERS.contains(c) {
                    return Err(format!("Illegal pattern character '{c}'"));
                }
                if !literal.is_empty() {
                    tokens.push(Token::Literal(std::mem::take(&mut literal)));
                }
                let mut n = 1;
                while chars.get(i + n) == Some(&c) {
                    n += 1;
                }
                tokens.push(Token::Field(c, n));
                i += n;
                continue;
            }
            literal.push(c);
            i += 1;
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(DateFormat {
            pattern: pattern.to_string(),
            tokens,
        })
    }

    /// The pattern as given (Java's `toPattern()`).
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The text of an instant (milliseconds since the epoch) in UTC.
    pub fn format(&self, millis: i64) -> String {
        let days = millis.div_euclid(86_400_000);
        let ms_of_day = millis.rem_euclid(86_400_000);
        let (y, m, d) = java_civil_from_days(days);
        let hour = ms_of_day / 3_600_000;
        let minute = ms_of_day / 60_000 % 60;
        let second = ms_of_day / 1000 % 60;
        let milli = ms_of_day % 1000;
        let weekday = (days + 4).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
        let day_of_year = days - days_from_civil(y, 1, 1) + 1;
        let mut out = String::new();
        let num = |out: &mut String, v: i64, n: usize| out.push_str(&format!("{v:0n$}"));
        for t in &self.tokens {
            match t {
                Token::Literal(s) => out.push_str(s),
                Token::Field(c, n) => match c {
                    'G' => out.push_str(if y > 0 { "AD" } else { "BC" }),
                    'y' | 'Y' => {
                        let year = if y > 0 { y } else { 1 - y };
                        if *n == 2 {
                            num(&mut out, year % 100, 2)
                        } else {
                            num(&mut out, year, *n)
                        }
                    }
                    'M' | 'L' => match n {
                        1 | 2 => num(&mut out, i64::from(m), *n),
                        3 => out.push_str(&MONTHS[m as usize - 1][..3]),
                        _ => out.push_str(MONTHS[m as usize - 1]),
                    },
                    'd' => num(&mut out, i64::from(d), *n),
                    'D' => num(&mut out, day_of_year, *n),
                    'F' => num(&mut out, (i64::from(d) - 1) / 7 + 1, *n),
                    'E' => {
                        let name = DAYS[weekday];
                        out.push_str(if *n <= 3 { &name[..3] } else { name })
                    }
                    'u' => num(&mut out, if weekday == 0 { 7 } else { weekday as i64 }, *n),
                    'a' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
                    'H' => num(&mut out, hour, *n),
                    'k' => num(&mut out, if hour == 0 { 24 } else { hour }, *n),
                    'K' => num(&mut out, hour % 12, *n),
                    'h' => num(&mut out, if hour % 12 == 0 { 12 } else { hour % 12 }, *n),
                    'm' => num(&mut out, minute, *n),
                    's' => num(&mut out, second, *n),
                    'S' => num(&mut out, milli, *n),
                    'z' => out.push_str(if *n >= 4 {
                        "Coordinated Universal Time"
                    } else {
                        "UTC"
                    }),
                    'Z' => out.push_str("+0000"),
                    'X' => out.push('Z'),
                    // week numbers: ISO-ish approximation (Java's depend on the locale)
                    _ => num(&mut out, (day_of_year - 1) / 7 + 1, *n),
                },
            }
        }
        out
    }

    /// Java's lenient `parse`: the instant the start of `text` describes, or `None` when it
    /// does not match.
    pub fn parse(&self, text: &str) -> Option<i64> {
        let b: Vec<char> = text.chars().collect();
        let mut pos = 0;
        let (mut year, mut month, mut day) = (1970i64, 1i64, 1i64);
        let (mut hour, mut minute, mut second, mut milli) = (0i64, 0i64, 0i64, 0i64);
        let mut pm: Option<bool> = None;
        let mut hour12: Option<i64> = None;
        let mut offset_minutes = 0i64;
        for (idx, t) in self.tokens.iter().enumerate() {
            match t {
                Token::Literal(s) => {
                    for c in s.chars() {
                        if b.get(pos) != Some(&c) {
                            return None;
                        }
                        pos += 1;
                    }
                }
                Token::Field(c, n) => {
                    let numeric_next = matches!(self.tokens.get(idx + 1), Some(Token::Field(nc, nn)) if is_numeric(*nc, *nn));
                    match c {
                        'M' | 'L' if *n >= 3 => {
                            let i = match_name(&b, &mut pos, &MONTHS)?;
                            month = i as i64 + 1;
                        }
                        'E' => {
                            match_name(&b, &mut pos, &DAYS)?;
                        }
                        'a' => {
                            let rest: String = b[pos..]
                                .iter()
                                .take(2)
                                .collect::<String>()
                                .to_ascii_uppercase();
                            pm = Some(match rest.as_str() {
                                "AM" => false,
                                "PM" => true,
                                _ => return None,
                            });
                            pos += 2;
                        }
                        'G' => {
                            let rest: String = b[pos..]
                                .iter()
                                .take(2)
                                .collect::<String>()
                                .to_ascii_uppercase();
                            if rest != "AD" && rest != "BC" {
                                return None;
                            }
                            pos += 2;
                        }
                        'z' | 'Z' | 'X' => offset_minutes = parse_zone(&b, &mut pos)?,
                        _ => {
                            let width = if numeric_next { Some(*n) } else { None };
                            let v = parse_number(&b, &mut pos, width)?;
                            match c {
                                'y' | 'Y' => {
                                    // a two-letter year reads two digits as a year near now
                                    year = if *n <= 2
                                        && v < 100
                                        && (pos >= 2)
                                        && count_digits(&b, pos) == 2
                                    {
                                        if v < 47 {
                                            2000 + v
                                        } else {
                                            1900 + v
                                        }
                                    } else {
                                        v
                                    }
                                }
                                'M' | 'L' => month = v,
                                'd' => day = v,
                                'D' => {
                                    month = 1;
                                    day = v;
                                }
                                'H' => hour = v,
                                'k' => hour = if v == 24 { 0 } else { v },
                                'K' => hour12 = Some(v),
                                'h' => hour12 = Some(if v == 12 { 0 } else { v }),
                                'm' => minute = v,
                                's' => second = v,
                                'S' => milli = v,
                                _ => {}
                            }
                        }
                    }
                }
            }
        }
        if let Some(h) = hour12 {
            hour = h;
        }
        if pm == Some(true) {
            hour += 12;
        }
        let months = year * 12 + (month - 1);
        let days = days_from_civil(months.div_euclid(12), (months.rem_euclid(12) + 1) as u32, 1)
            + (day - 1);
        Some(
            days * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + milli
                - offset_minutes * 60_000,
        )
    }
}

fn is_numeric(c: char, n: usize) -> bool {
    match c {
        'M' | 'L' => n < 3,
        'E' | 'a' | 'G' | 'z' | 'Z' | 'X' => false,
        _ => true,
    }
}

/// How many digits end at `end`.
fn count_digits(b: &[char], end: usize) -> usize {
    b[..end]
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .count()
}

fn parse_number(b: &[char], pos: &mut usize, width: Option<usize>) -> Option<i64> {
    let start = *pos;
    let mut neg = false;
    if b.get(*pos) == Some(&'-') {
        neg = true;
        *pos += 1;
    }
    let digits_start = *pos;
    while *pos < b.len()
        && b[*pos].is_ascii_digit()
        && width.is_none_or(|w| *pos - digits_start < w)
    {
        *pos += 1;
    }
    if *pos == digits_start {
        *pos = start;
        return None;
    }
    let s: String = b[digits_start..*pos].iter().collect();
    let v: i64 = s.parse().ok()?;
    Some(if neg { -v } else { v })
}

fn match_name(b: &[char], pos: &mut usize, names: &[&str]) -> Option<usize> {
    let rest: String = b[*pos..].iter().collect::<String>().to_lowercase();
    // the longest match: full names before their three-letter forms
    for (i, name) in names.iter().enumerate() {
        if rest.starts_with(&name.to_lowercase()) {
            *pos += name.chars().count();
            return Some(i);
        }
    }
    for (i, name) in names.iter().enumerate() {
        if rest.starts_with(&name[..3].to_lowercase()) {
            *pos += 3;
            return Some(i);
        }
    }
    None
}

/// `UTC`, `GMT`, `Z`, `+hhmm`, `+hh:mm`, `GMT+hh:mm`: minutes east of UTC.
fn parse_zone(b: &[char], pos: &mut usize) -> Option<i64> {
    let rest: String = b[*pos..].iter().collect();
    for name in ["UTC", "GMT", "Z"] {
        if let Some(after) = rest.strip_prefix(name) {
            *pos += name.len();
            if name != "Z" && after.starts_with(['+', '-']) {
                return parse_zone(b, pos);
            }
            return Some(0);
        }
    }
    let sign = match rest.chars().next()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let digits: String = rest[1..].chars().filter(|c| *c != ':').take(4).collect();
    if digits.len() < 2 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let h: i64 = digits[..2].parse().ok()?;
    let m: i64 = if digits.len() >= 4 {
        digits[2..4].parse().ok()?
    } else {
        0
    };
    let consumed = 1 + rest[1..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ':')
        .take(5)
        .count();
    *pos += consumed;
    Some(sign * (h * 60 + m))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_java_in_utc() {
        let f = DateFormat::new("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").unwrap();
        assert_eq!(f.format(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(f.format(-1), "1969-12-31T23:59:59.999Z");
        let f = DateFormat::new("EEE, d MMM yy h:mm a z 'o''clock' ''").unwrap();
        assert_eq!(f.format(0), "Thu, 1 Jan 70 12:00 AM UTC o'clock '");
        assert_eq!(
            DateFormat::new("yyyyMMdd")
                .unwrap()
                .format(1_700_000_000_123),
            "20231114"
        );
        assert!(DateFormat::new("yyyy-qq").is_err());
        assert!(DateFormat::new("'open").is_err());
    }

    #[test]
    fn parses_leniently() {
        let f = DateFormat::new("yyyy-MM-dd HH:mm:ss").unwrap();
        assert_eq!(f.parse("2023-11-14 22:13:20"), Some(1_700_000_000_000));
        // month 13 rolls into the next year; trailing text is ignored
        assert_eq!(
            f.parse("2022-13-14 22:13:20 and more"),
            f.parse("2023-01-14 22:13:20")
        );
        assert_eq!(f.parse("2023/11/14"), None);
        let f = DateFormat::new("yyyyMMdd").unwrap();
        assert_eq!(
            f.parse("20231114"),
            Some(days_from_civil(2023, 11, 14) * 86_400_000)
        );
        for days in [-800_000, -1, 0, 1, 19_000, 2_000_000] {
            assert_eq!(civil_from_days(days), {
                let (y, m, d) = civil_from_days(days);
                assert_eq!(days_from_civil(y, m, d), days);
                (y, m, d)
            });
        }
    }
}
