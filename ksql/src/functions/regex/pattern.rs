//! Java regular expressions (`java.util.regex.Pattern`) in the `regex` crate's syntax: `\d`,
//! `\w`, `\s` and the POSIX `\p{Lower}`.. classes ASCII, as in Java; `\h`, `\v`, `\R`,
//! `\e`, `\a`, `\cX`, octal `\0nn` and `\uXXXX` (surrogate pairs joined) spelled out; `.`
//! stopping at every Java line terminator (unless an inline `s` or `d` flag may say
//! otherwise); `\Q..\E` quoted; a backslash before any other punctuation that character
//! (`\<` is `<`, not a word boundary). What has no equivalent (lookaround, backreferences)
//! is left for the crate to refuse.

/// The Java POSIX class `\p{name}` as the `regex` crate's ASCII class.
fn posix_class(name: &str) -> Option<&'static str> {
    Some(match name {
        "Lower" => "lower",
        "Upper" => "upper",
        "ASCII" => "ascii",
        "Alpha" => "alpha",
        "Digit" => "digit",
        "Alnum" => "alnum",
        "Punct" => "punct",
        "Graph" => "graph",
        "Print" => "print",
        "Blank" => "blank",
        "Cntrl" => "cntrl",
        "XDigit" => "xdigit",
        "Space" => "space",
        _ => return None,
    })
}

/// A Java pattern in the `regex` crate's syntax.
pub fn translate(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    // (`.` is left alone when inline flags (`(?s)`, `(?d)`) may change its meaning)
    let flags = pattern.match_indices("(?").any(|(at, _)| {
        pattern[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic() || *c == '-')
            .any(|c| c == 's' || c == 'd')
    });
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut class = 0usize;
    let mut i = 0;
    let hex = |c: u32| format!("\\x{{{c:X}}}");
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '[' => {
                // (`[[:` is a union with `[:..]` in Java, an ASCII class in the crate)
                out.push('[');
                if class > 0 && chars.get(i) == Some(&':') {
                    out.push_str("\\:");
                    i += 1;
                }
                class += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
            }
            ']' if class > 0 => {
                class -= 1;
                out.push(']');
            }
            '.' if class == 0 && !flags => out.push_str(r"[^\n\r\x{85}\x{2028}\x{2029}]"),
            '~' if class > 0 => out.push_str("\\~"),
            '\\' => {
                let e = *chars
                    .get(i)
                    .ok_or_else(|| format!("Unexpected internal error near index {i}"))?;
                i += 1;
                match e {
                    'd' => out.push_str("[[:digit:]]"),
                    'D' => out.push_str("[^[:digit:]]"),
                    'w' => out.push_str("[[:word:]]"),
                    'W' => out.push_str("[^[:word:]]"),
                    's' => out.push_str("[[:space:]]"),
                    'S' => out.push_str("[^[:space:]]"),
                    'h' | 'H' => {
                        out.push_str(if e == 'h' { "[" } else { "[^" });
                        out.push_str(
                            r"\x20\t\xA0\x{1680}\x{180E}\x{2000}-\x{200A}\x{202F}\x{205F}\x{3000}]",
                        );
                    }
                    'v' | 'V' => {
                        out.push_str(if e == 'v' { "[" } else { "[^" });
                        out.push_str(r"\n\x0B\x0C\r\x{85}\x{2028}\x{2029}]");
                    }
                    'R' if class == 0 => {
                        out.push_str(r"(?:\r\n|[\n\x0B\x0C\r\x{85}\x{2028}\x{2029}])")
                    }
                    'Z' if class == 0 => out.push_str(r"\z"),
                    'e' => out.push_str(r"\x1B"),
                    'a' => out.push_str(r"\x07"),
                    'c' => {
                        let x = chars.get(i).ok_or("Illegal control escape sequence")?;
                        i += 1;
                        out.push_str(&hex(u32::from(*x) ^ 64));
                    }
                    '0' => {
                        // (`\0n`, `\0nn`, `\0mnn` with m at most 3)
                        let octal = |k: usize| chars.get(k).and_then(|c| c.to_digit(8));
                        let mut v = octal(i).ok_or("Illegal octal escape sequence")?;
                        i += 1;
                        if let Some(d) = octal(i) {
                            v = v * 8 + d;
                            i += 1;
                            if let Some(d) = octal(i).filter(|_| v <= 0o37) {
                                v = v * 8 + d;
                                i += 1;
                            }
                        }
                        out.push_str(&hex(v));
                    }
                    'u' => {
                        let unit = |k: usize| -> Option<u32> {
                            let digits: String = chars.get(k..k + 4)?.iter().collect();
                            u32::from_str_radix(&digits, 16).ok()
                        };
                        let mut v = unit(i).ok_or("Illegal Unicode escape sequence")?;
                        i += 4;
                        if (0xD800..0xDC00).contains(&v)
                            && chars.get(i..i + 2) == Some(&['\\', 'u'][..])
                        {
                            if let Some(low) = unit(i + 2).filter(|l| (0xDC00..0xE000).contains(l))
                            {
                                v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00);
                                i += 6;
                            }
                        }
                        out.push_str(&hex(v));
                    }
                    'Q' => {
                        let end = (i..chars.len())
                            .find(|&k| chars[k] == '\\' && chars.get(k + 1) == Some(&'E'))
                            .unwrap_or(chars.len());
                        for q in &chars[i..end] {
                            out.push_str(&::regex::escape(&q.to_string()));
                        }
                        i = (end + 2).min(chars.len());
                    }
                    'p' | 'P' if chars.get(i) == Some(&'{') => {
                        let end = (i..chars.len())
                            .find(|&k| chars[k] == '}')
                            .ok_or("Unclosed character family")?;
                        let name: String = chars[i + 1..end].iter().collect();
                        i = end + 1;
                        let negated = e == 'P';
                        match posix_class(&name) {
                            Some(ascii) => {
                                let neg = if negated { "^" } else { "" };
                                out.push_str(&format!("[{neg}[:{ascii}:]]"));
                            }
                            None => {
                                let name = match name.as_str() {
                                    "javaLowerCase" => "Lowercase",
                                    "javaUpperCase" => "Uppercase",
                                    "javaWhitespace" => "White_Space",
                                    other => other,
                                };
                                out.push_str(&format!("\\{e}{{{name}}}"));
                            }
                        }
                    }
                    other if !other.is_ascii_alphanumeric() => {
                        out.push_str(&::regex::escape(&other.to_string()))
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    // Test helpers panic on failure by design.
    #![allow(clippy::unwrap_used)]

    use ::regex::Regex;

    use super::*;

    #[test]
    fn java_patterns_translate() {
        let regex = |p: &str| Regex::new(&translate(p).unwrap());
        let matches = |p: &str, v: &str| regex(p).unwrap().is_match(v);
        // ASCII classes; `.` stops at \r; punctuation escapes; quoting; octal and \u
        assert!(!matches(r"^\w$", "é"));
        assert!(!matches(r"^\d$", "٣"));
        assert!(!matches("^a.b$", "a\rb"));
        assert!(!matches("^(?:a.b)$", "a\rb"));
        assert!(matches("(?s)^a.b$", "a\rb"));
        assert!(matches(r"^\<\@$", "<@"));
        assert!(matches(r"^\Q.*\E$", ".*"));
        assert!(matches(r"^\0101\u0042\p{Lower}$", "ABc"));
        assert!(matches(r"^[\w&&[^\d]]+$", "ab_"));
        assert!(!matches(r"^[\w&&[^\d]]+$", "a1"));
        assert!(regex("(?=a)").is_err());
    }
}
