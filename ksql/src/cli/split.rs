//! Cutting what a user types into statements: each ends with a `;` outside quotes and
//! comments (`'...'` strings with `''` escapes, `` `...` `` and `"..."` identifiers, `--`
//! line comments, `/* */` block comments).

/// The complete statements at the start of `text` (each without its `;`, trimmed), and what
/// is left after the last one.
pub fn statements(text: &str) -> (Vec<String>, String) {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    let mut quote: Option<char> = None;
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) => {
                if c == q {
                    // ('' inside a string is a quote)
                    if q == '\'' && chars.peek().is_some_and(|(_, n)| *n == '\'') {
                        chars.next();
                    } else {
                        quote = None;
                    }
                }
            }
            None => match c {
                '\'' | '`' | '"' => quote = Some(c),
                '-' if chars.peek().is_some_and(|(_, n)| *n == '-') => {
                    for (_, n) in chars.by_ref() {
                        if n == '\n' {
                            break;
                        }
                    }
                }
                '/' if chars.peek().is_some_and(|(_, n)| *n == '*') => {
                    chars.next();
                    let mut last = ' ';
                    for (_, n) in chars.by_ref() {
                        if last == '*' && n == '/' {
                            break;
                        }
                        last = n;
                    }
                }
                ';' => {
                    let s = text[start..i].trim();
                    if !s.is_empty() {
                        out.push(s.to_string());
                    }
                    start = i + 1;
                }
                _ => {}
            },
        }
    }
    (out, text[start..].to_string())
}

/// The first words of a statement, upper-cased (to tell queries and client commands apart).
pub fn leading_words(statement: &str, n: usize) -> Vec<String> {
    without_leading_comments(statement)
        .split_whitespace()
        .take(n)
        .map(|w| w.trim_end_matches(';').to_uppercase())
        .collect()
}

/// `statement` without the comments before its first word.
fn without_leading_comments(statement: &str) -> &str {
    let mut s = statement.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else {
            return s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_end_at_semicolons_outside_quotes_and_comments() {
        let (done, rest) = statements(
            "CREATE STREAM S (A STRING) WITH (kafka_topic='t;x');\n-- a; comment\nSELECT 'it''s;' FROM S /* ; */ EMIT CHANGES; SHOW",
        );
        assert_eq!(
            done,
            vec![
                "CREATE STREAM S (A STRING) WITH (kafka_topic='t;x')".to_string(),
                "-- a; comment\nSELECT 'it''s;' FROM S /* ; */ EMIT CHANGES".to_string(),
            ]
        );
        assert_eq!(rest.trim(), "SHOW");
        assert_eq!(leading_words(" run  script 'x';", 2), vec!["RUN", "SCRIPT"]);
        assert_eq!(
            leading_words("-- the rides\n/* all */ select * from r", 1),
            vec!["SELECT"]
        );
    }
}
