//! ksqlDB's string functions with its semantics (positions count UTF-16 code units in Java;
//! here characters).

use datafusion_common::ScalarValue;

fn text(v: &ScalarValue) -> Option<&str> {
    match v {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Some(s),
        _ => None,
    }
}

fn int(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::Int32(Some(i)) => Some(i64::from(*i)),
        ScalarValue::Int64(Some(i)) => Some(*i),
        _ => None,
    }
}

/// The `[start, end)` range `SUBSTRING(x, pos[, len])` takes of `n` items: `pos` is 1-based,
/// a negative one counts from the end, 0 is the start.
fn substring_range(n: i64, pos: i64, len: Option<i64>) -> (usize, usize) {
    let start = if pos < 0 {
        (n + pos).max(0)
    } else {
        (pos - 1).max(0)
    }
    .min(n);
    let end = match len {
        Some(l) => (start + l.max(0)).min(n),
        None => n,
    };
    (start as usize, end.max(start) as usize)
}

/// `SUBSTRING(str|bytes, pos[, len])`.
pub fn substring(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let pos = args.get(1).and_then(int);
    let len = match args.get(2) {
        None => Some(None),
        Some(v) => int(v).map(Some),
    };
    let (Some(pos), Some(len)) = (pos, len) else {
        return Ok(match args.first() {
            Some(ScalarValue::Binary(_)) => ScalarValue::Binary(None),
            _ => ScalarValue::Utf8(None),
        });
    };
    match args.first() {
        Some(ScalarValue::Binary(Some(b))) => {
            let (s, e) = substring_range(b.len() as i64, pos, len);
            Ok(ScalarValue::Binary(Some(b[s..e].to_vec())))
        }
        Some(ScalarValue::Binary(None)) => Ok(ScalarValue::Binary(None)),
        Some(v) => match text(v) {
            Some(s) => {
                let chars: Vec<char> = s.chars().collect();
                let (a, b) = substring_range(chars.len() as i64, pos, len);
                Ok(ScalarValue::Utf8(Some(chars[a..b].iter().collect())))
            }
            None => Ok(ScalarValue::Utf8(None)),
        },
        None => Err("SUBSTRING takes arguments".into()),
    }
}

/// `INITCAP(str)`: each word's first letter upper case, the rest lower case.
pub fn initcap(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let Some(s) = args.first().and_then(text) else {
        return Ok(ScalarValue::Utf8(None));
    };
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_whitespace() {
            start = true;
            out.push(c);
        } else if start {
            out.extend(c.to_uppercase());
            start = false;
        } else {
            out.extend(c.to_lowercase());
        }
    }
    Ok(ScalarValue::Utf8(Some(out)))
}

/// `INSTR(str, sub[, position[, occurrence]])`: the 1-based position of an occurrence of
/// `sub`, searching backwards from the end for a negative position; 0 when absent.
pub fn instr(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(s), Some(sub)) = (args.first().and_then(text), args.get(1).and_then(text)) else {
        return Ok(ScalarValue::Int32(None));
    };
    let position = match args.get(2) {
        None => 1,
        Some(v) => match int(v) {
            Some(p) => p,
            None => return Ok(ScalarValue::Int32(None)),
        },
    };
    let occurrence = match args.get(3) {
        None => 1,
        Some(v) => match int(v) {
            Some(o) => o,
            None => return Ok(ScalarValue::Int32(None)),
        },
    };
    let chars: Vec<char> = s.chars().collect();
    let needle: Vec<char> = sub.chars().collect();
    let n = chars.len() as i64;
    let at = |i: i64| -> bool {
        i >= 0
            && i + needle.len() as i64 <= n
            && chars[i as usize..i as usize + needle.len()] == needle[..]
    };
    let mut found = 0;
    if position > 0 {
        let mut i = position - 1;
        while i <= n - needle.len() as i64 {
            if at(i) {
                found += 1;
                if found == occurrence {
                    return Ok(ScalarValue::Int32(Some((i + 1) as i32)));
                }
            }
            i += 1;
        }
    } else if position < 0 {
        let mut i = (n + position).min(n - needle.len() as i64);
        while i >= 0 {
            if at(i) {
                found += 1;
                if found == occurrence {
                    return Ok(ScalarValue::Int32(Some((i + 1) as i32)));
                }
            }
            i -= 1;
        }
    }
    Ok(ScalarValue::Int32(Some(0)))
}

/// Removes what Java's `String.trim` removes (every character up to U+0020) from the ends
/// `start` and `end` say.
fn trimmed(args: &[ScalarValue], start: bool, end: bool) -> Result<ScalarValue, String> {
    let Some(s) = args.first().and_then(text) else {
        return Ok(ScalarValue::Utf8(None));
    };
    let blank = |c: char| c <= ' ';
    let mut t = s;
    if start {
        t = t.trim_start_matches(blank);
    }
    if end {
        t = t.trim_end_matches(blank);
    }
    Ok(ScalarValue::Utf8(Some(t.to_string())))
}

/// `TRIM(str)`.
pub fn trim(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    trimmed(args, true, true)
}

/// `LTRIM(str)`.
pub fn ltrim(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    trimmed(args, true, false)
}

/// `RTRIM(str)`.
pub fn rtrim(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    trimmed(args, false, true)
}

/// `LPAD`/`RPAD(input, length, padding)` on strings or bytes: padded (or truncated) to
/// `length`; null when the padding is empty or null or the length negative.
fn pad(args: &[ScalarValue], left: bool) -> Result<ScalarValue, String> {
    let bytes = matches!(args.first(), Some(ScalarValue::Binary(_)));
    let null = || {
        if bytes {
            ScalarValue::Binary(None)
        } else {
            ScalarValue::Utf8(None)
        }
    };
    let Some(len) = args.get(1).and_then(int) else {
        return Ok(null());
    };
    if len < 0 {
        return Ok(null());
    }
    let len = len as usize;
    fn padded<T: Clone>(input: &[T], padding: &[T], len: usize, left: bool) -> Vec<T> {
        if input.len() >= len {
            return input[..len].to_vec();
        }
        let fill: Vec<T> = padding
            .iter()
            .cycle()
            .take(len - input.len())
            .cloned()
            .collect();
        if left {
            fill.into_iter().chain(input.iter().cloned()).collect()
        } else {
            input.iter().cloned().chain(fill).collect()
        }
    }
    match (args.first(), args.get(2)) {
        (Some(ScalarValue::Binary(Some(i))), Some(ScalarValue::Binary(Some(p))))
            if !p.is_empty() =>
        {
            Ok(ScalarValue::Binary(Some(padded(i, p, len, left))))
        }
        (Some(i), Some(p)) if !bytes => match (text(i), text(p)) {
            (Some(i), Some(p)) if !p.is_empty() => {
                let i: Vec<char> = i.chars().collect();
                let p: Vec<char> = p.chars().collect();
                Ok(ScalarValue::Utf8(Some(
                    padded(&i, &p, len, left).into_iter().collect(),
                )))
            }
            _ => Ok(null()),
        },
        _ => Ok(null()),
    }
}

/// `LPAD(input, length, padding)`.
pub fn lpad(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    pad(args, true)
}

/// `RPAD(input, length, padding)`.
pub fn rpad(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    pad(args, false)
}

#[cfg(test)]
mod tests {
    // Test helpers panic on failure by design.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn s(v: &str) -> ScalarValue {
        ScalarValue::Utf8(Some(v.into()))
    }

    #[test]
    fn substring_counts_from_one_and_from_the_end() {
        let i = |v: i64| ScalarValue::Int64(Some(v));
        assert_eq!(substring(&[s("some_string"), i(6)]).unwrap(), s("string"));
        assert_eq!(
            substring(&[s("some_string"), i(6), i(3)]).unwrap(),
            s("str")
        );
        assert_eq!(substring(&[s("short"), i(6)]).unwrap(), s(""));
        assert_eq!(substring(&[s("some string"), i(0), i(2)]).unwrap(), s("so"));
        assert_eq!(substring(&[s("abcdef"), i(-2)]).unwrap(), s("ef"));
        assert!(substring(&[s("abc"), ScalarValue::Int64(None)])
            .unwrap()
            .is_null());
    }

    #[test]
    fn instr_finds_occurrences_forwards_and_backwards() {
        let i = |v: i64| ScalarValue::Int64(Some(v));
        assert_eq!(
            instr(&[s("CORPORATE FLOOR"), s("OR")]).unwrap(),
            ScalarValue::Int32(Some(2))
        );
        assert_eq!(
            instr(&[s("CORPORATE FLOOR"), s("OR"), i(3)]).unwrap(),
            ScalarValue::Int32(Some(5))
        );
        assert_eq!(
            instr(&[s("CORPORATE FLOOR"), s("OR"), i(-3), i(2)]).unwrap(),
            ScalarValue::Int32(Some(2))
        );
        assert_eq!(
            instr(&[s("abc"), s("z")]).unwrap(),
            ScalarValue::Int32(Some(0))
        );
        assert_eq!(initcap(&[s("hello wORLD")]).unwrap(), s("Hello World"));
        assert_eq!(lpad(&[s("abc"), i(6), s("xy")]).unwrap(), s("xyxabc"));
        assert_eq!(rpad(&[s("abcdef"), i(3), s("xy")]).unwrap(), s("abc"));
        assert!(lpad(&[s("abc"), i(-1), s("x")]).unwrap().is_null());
        assert!(rpad(&[s("abc"), i(5), s("")]).unwrap().is_null());
        assert_eq!(trim(&[s("\t a b\n")]).unwrap(), s("a b"));
        assert_eq!(ltrim(&[s("  a ")]).unwrap(), s("a "));
    }
}
