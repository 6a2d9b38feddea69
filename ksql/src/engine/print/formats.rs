//! How `PRINT` shows records of a topic whose formats it does not know, as ksqlDB's
//! `RecordFormatter` does: every format that could have written the bytes is tried, a format
//! that fails once is dropped for good, and a record shows in the first format left. Keys are
//! also tried as windowed keys (`SESSION(...)`, `HOPPING(...)`, `TUMBLING(...)`).
//!
//! The schema-registry formats (AVRO, PROTOBUF, JSON_SR) are not tried: without a schema
//! registry none of them can read a record, as in ksqlDB without one.

use chrono::{DateTime, Utc};

use crate::format::json::java_double;

/// A format a key or value may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inner {
    Json,
    Int,
    Bigint,
    Double,
    String,
}

impl Inner {
    const ALL: [Inner; 5] = [
        Inner::Json,
        Inner::Int,
        Inner::Bigint,
        Inner::Double,
        Inner::String,
    ];

    fn name(self) -> &'static str {
        match self {
            Inner::Json => "JSON",
            Inner::Int => "KAFKA_INT",
            Inner::Bigint => "KAFKA_BIGINT",
            Inner::Double => "KAFKA_DOUBLE",
            Inner::String => "KAFKA_STRING",
        }
    }

    /// The text of `data` in this format, if it is in it.
    fn read(self, data: &[u8]) -> Option<String> {
        match self {
            Inner::Json => {
                let text = utf8(data)?;
                serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
                Some(text.to_string())
            }
            Inner::Int => Some(i32::from_be_bytes(data.try_into().ok()?).to_string()),
            Inner::Bigint => Some(i64::from_be_bytes(data.try_into().ok()?).to_string()),
            Inner::Double => Some(java_double(f64::from_be_bytes(data.try_into().ok()?))),
            Inner::String => utf8(data).map(str::to_string),
        }
    }
}

/// Text of UTF-8 bytes that are not empty and hold no replacement character (as Java's
/// decoding, which replaces what is not UTF-8, is checked).
fn utf8(data: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(data).ok()?;
    (!text.is_empty() && !text.contains('\u{FFFD}')).then_some(text)
}

/// How a key may be windowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    Session,
    Hopping,
    Tumbling,
}

/// One way of reading bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Candidate {
    Plain(Inner),
    Windowed(Window, Inner),
    /// Any bytes, escaped as Kafka's `Bytes.toString` does (never listed as a format).
    Unrecognised,
}

impl Candidate {
    fn name(self) -> String {
        match self {
            Candidate::Plain(i) => i.name().to_string(),
            Candidate::Windowed(w, i) => {
                let w = match w {
                    Window::Session => "SESSION",
                    Window::Hopping => "HOPPING",
                    Window::Tumbling => "TUMBLING",
                };
                format!("{w}({})", i.name())
            }
            Candidate::Unrecognised => "UNRECOGNISED_BYTES".into(),
        }
    }

    fn read(self, data: &[u8]) -> Option<String> {
        let long = |b: &[u8]| b.try_into().ok().map(i64::from_be_bytes);
        match self {
            Candidate::Plain(i) => i.read(data),
            Candidate::Windowed(Window::Session, i) => {
                let split = data.len().checked_sub(16)?;
                let (key, bounds) = data.split_at(split);
                let (end, start) = (long(&bounds[..8])?, long(&bounds[8..])?);
                Some(format!("[{}@{start}/{end}]", i.read(key)?))
            }
            Candidate::Windowed(_, i) => {
                let split = data.len().checked_sub(8)?;
                let (key, start) = data.split_at(split);
                Some(format!("[{}@{}/-]", i.read(key)?, long(start)?))
            }
            Candidate::Unrecognised => Some(escaped(data)),
        }
    }
}

/// Bytes as Kafka's `Bytes.toString`: printable ASCII as is, anything else (and `\`) as `\xHH`.
fn escaped(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len());
    for b in data {
        if (b' '..=b'~').contains(b) && *b != b'\\' {
            s.push(char::from(*b));
        } else {
            s.push_str(&format!("\\x{b:02X}"));
        }
    }
    s
}

/// The formats keys or values may still be in.
#[derive(Debug, Clone)]
pub struct Candidates {
    left: Vec<Candidate>,
    seen_data: bool,
}

impl Candidates {
    /// Every format a key may be in (windowed or not).
    pub fn keys() -> Candidates {
        let mut left = Vec::new();
        for i in Inner::ALL {
            for w in [Window::Session, Window::Hopping, Window::Tumbling] {
                left.push(Candidate::Windowed(w, i));
            }
            left.push(Candidate::Plain(i));
        }
        left.push(Candidate::Unrecognised);
        Candidates {
            left,
            seen_data: false,
        }
    }

    /// Every format a value may be in.
    pub fn values() -> Candidates {
        let mut left: Vec<Candidate> = Inner::ALL.iter().map(|i| Candidate::Plain(*i)).collect();
        left.push(Candidate::Unrecognised);
        Candidates {
            left,
            seen_data: false,
        }
    }

    /// The names of the formats still possible (ksqlDB's placeholder before any data).
    pub fn possible(&self) -> Vec<String> {
        if !self.seen_data {
            return vec!["¯\\_(ツ)_/¯ - no data processed".into()];
        }
        self.left
            .iter()
            .filter(|c| **c != Candidate::Unrecognised)
            .map(|c| c.name())
            .collect()
    }

    /// The text of `data` in the first format left that reads it; formats that cannot are
    /// dropped.
    pub fn format(&mut self, data: Option<&[u8]>) -> String {
        let Some(data) = data else {
            return "<null>".into();
        };
        self.seen_data = true;
        let mut first = None;
        self.left.retain(|c| match c.read(data) {
            Some(text) => {
                first.get_or_insert(text);
                true
            }
            None => false,
        });
        first.unwrap_or_else(|| "<Failed to deserialize>".into())
    }
}

/// A record as `PRINT` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    /// Its timestamp (negative: none).
    pub timestamp: i64,
    /// Its key.
    pub key: Option<Vec<u8>>,
    /// Its value.
    pub value: Option<Vec<u8>>,
    /// Its partition.
    pub partition: i32,
}

/// Formats batches of records, keeping what the formats seen so far rule out.
#[derive(Debug, Clone)]
pub struct RecordFormatter {
    keys: Candidates,
    values: Candidates,
}

impl Default for RecordFormatter {
    fn default() -> Self {
        RecordFormatter {
            keys: Candidates::keys(),
            values: Candidates::values(),
        }
    }
}

impl RecordFormatter {
    /// The lines of `records`. When a batch rules out the format shown so far, the whole
    /// batch is formatted again in the format now first.
    pub fn format(&mut self, records: &[RawRecord]) -> Vec<String> {
        // (with no format left, nothing more can be ruled out)
        let active = (
            self.keys.possible().first().cloned(),
            self.values.possible().first().cloned(),
        );
        let lines: Vec<String> = records.iter().map(|r| self.line(r)).collect();
        let kept = |active: &Option<String>, now: Vec<String>| {
            active.as_ref().is_none_or(|a| now.contains(a))
        };
        if kept(&active.0, self.keys.possible()) && kept(&active.1, self.values.possible()) {
            return lines;
        }
        records.iter().map(|r| self.line(r)).collect()
    }

    /// The key formats still possible.
    pub fn key_formats(&self) -> Vec<String> {
        self.keys.possible()
    }

    /// The value formats still possible.
    pub fn value_formats(&self) -> Vec<String> {
        self.values.possible()
    }

    fn line(&mut self, r: &RawRecord) -> String {
        let rowtime = if r.timestamp < 0 {
            "N/A".to_string()
        } else {
            DateTime::<Utc>::from_timestamp_millis(r.timestamp).map_or_else(
                || "N/A".to_string(),
                |t| t.format("%Y/%m/%d %H:%M:%S%.3f Z").to_string(),
            )
        };
        format!(
            "rowtime: {rowtime}, key: {}, value: {}, partition: {}",
            self.keys.format(r.key.as_deref()),
            self.values.format(r.value.as_deref()),
            r.partition
        )
    }
}

/// The `Key format: ...` / `Value format: ...` line when `current` differs from what was last
/// printed (`printed`, updated).
pub fn format_line(
    prefix: &str,
    printed: &mut Option<Vec<String>>,
    current: Vec<String>,
) -> Option<String> {
    if printed.as_ref() == Some(&current) {
        return None;
    }
    let line = if current.is_empty() {
        format!("{prefix} does not match any supported format. It may be a STRING with encoding other than UTF8, or some other format.")
    } else {
        format!("{prefix}{}", current.join(" or "))
    };
    *printed = Some(current);
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: Option<&[u8]>, value: Option<&[u8]>) -> RawRecord {
        RawRecord {
            timestamp: 1_609_459_200_000,
            key: key.map(<[u8]>::to_vec),
            value: value.map(<[u8]>::to_vec),
            partition: 0,
        }
    }

    #[test]
    fn a_string_key_and_json_value() {
        let mut f = RecordFormatter::default();
        let lines = f.format(&[record(Some(b"k1"), Some(br#"{"a":1}"#))]);
        assert_eq!(
            lines,
            vec![r#"rowtime: 2021/01/01 00:00:00.000 Z, key: k1, value: {"a":1}, partition: 0"#]
        );
        assert_eq!(f.key_formats(), vec!["KAFKA_STRING"]);
        // (JSON text is a string too)
        assert_eq!(f.value_formats(), vec!["JSON", "KAFKA_STRING"]);
    }

    #[test]
    fn numbers_in_the_first_format_left() {
        let mut f = RecordFormatter::default();
        let lines = f.format(&[record(
            Some(&7i32.to_be_bytes()),
            Some(&1.5f64.to_be_bytes()),
        )]);
        assert_eq!(
            lines[0],
            "rowtime: 2021/01/01 00:00:00.000 Z, key: 7, value: 4609434218613702656, partition: 0"
        );
        // (four bytes of control characters are UTF-8 text too)
        assert_eq!(f.key_formats(), vec!["KAFKA_INT", "KAFKA_STRING"]);
        assert_eq!(f.value_formats(), vec!["KAFKA_BIGINT", "KAFKA_DOUBLE"]);
        // a value of 4 bytes rules both out: its line and the batch's are the bytes
        let lines = f.format(&[record(Some(&8i32.to_be_bytes()), Some(&[0, 0, 0, 1]))]);
        assert_eq!(
            lines[0],
            "rowtime: 2021/01/01 00:00:00.000 Z, key: 8, value: \\x00\\x00\\x00\\x01, partition: 0"
        );
        assert!(f.value_formats().is_empty());
        // (and a batch after that still prints)
        let lines = f.format(&[record(Some(&9i32.to_be_bytes()), Some(&[1, 2, 3]))]);
        assert!(
            lines[0].ends_with("value: \\x01\\x02\\x03, partition: 0"),
            "{}",
            lines[0]
        );
        assert_eq!(
            format_line("Value format: ", &mut None, f.value_formats()).as_deref(),
            Some("Value format:  does not match any supported format. It may be a STRING with encoding other than UTF8, or some other format.")
        );
    }

    #[test]
    fn windowed_keys() {
        let mut key = b"k1".to_vec();
        key.extend(5000i64.to_be_bytes());
        let mut f = RecordFormatter::default();
        let lines = f.format(&[record(Some(&key), None)]);
        assert_eq!(
            lines[0],
            "rowtime: 2021/01/01 00:00:00.000 Z, key: [k1@5000/-], value: <null>, partition: 0"
        );
        // (the window start's bytes are not UTF-8: only windowed strings are left)
        assert_eq!(
            f.key_formats(),
            vec!["HOPPING(KAFKA_STRING)", "TUMBLING(KAFKA_STRING)"]
        );
        let mut session = b"k1".to_vec();
        session.extend(9000i64.to_be_bytes());
        session.extend(5000i64.to_be_bytes());
        let mut f = RecordFormatter::default();
        let lines = f.format(&[record(Some(&session), None)]);
        assert!(lines[0].contains("key: [k1@5000/9000]"), "{}", lines[0]);
    }

    #[test]
    fn a_batch_is_reformatted_when_its_format_is_ruled_out() {
        let mut f = RecordFormatter::default();
        // four bytes read as a KAFKA_INT first; "abc" rules that out, so the batch is
        // formatted again as strings
        let lines = f.format(&[
            record(None, Some(&[0, 0, 0, 65])),
            record(None, Some(b"abc")),
        ]);
        assert_eq!(
            lines[0],
            "rowtime: 2021/01/01 00:00:00.000 Z, key: <null>, value: \u{0}\u{0}\u{0}A, partition: 0"
        );
        assert_eq!(f.value_formats(), vec!["KAFKA_STRING"]);
        assert_eq!(f.key_formats(), vec!["¯\\_(ツ)_/¯ - no data processed"]);
        assert_eq!(escaped(b"a\\b\n"), "a\\x5Cb\\x0A");
    }

    #[test]
    fn format_lines_print_on_change_only() {
        let mut printed = None;
        let formats = vec!["JSON".to_string(), "KAFKA_STRING".to_string()];
        assert_eq!(
            format_line("Key format: ", &mut printed, formats.clone()).as_deref(),
            Some("Key format: JSON or KAFKA_STRING")
        );
        assert_eq!(format_line("Key format: ", &mut printed, formats), None);
    }
}
