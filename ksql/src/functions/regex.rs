//! ksqlDB's regular-expression functions (`REGEXP_EXTRACT`, `REGEXP_EXTRACT_ALL`,
//! `REGEXP_REPLACE`, `REGEXP_SPLIT_TO_ARRAY`), answering as `java.util.regex` does over the
//! `regex` crate:
//!
//! - a pattern is read as Java reads it ([`pattern`]): `\d`, `\w`, `\s` and the POSIX
//!   `\p{..}` classes are ASCII, `.` stops at every line terminator, `\Q..\E` quotes, a
//!   backslash before any other punctuation is that character;
//! - matches are those `Matcher.find` finds in turn ([`java_matches`]): after an empty match
//!   the search resumes one character on, so an empty match may follow a non-empty one;
//! - a replacement is read as `Matcher.appendReplacement` reads it (`$n` taking as many
//!   digits as name a group, `${name}`, `\x` for `x`);
//! - splitting is `Pattern.split`'s when the pattern matches the empty string (leading empty
//!   match and trailing empty strings dropped), Guava's `Splitter.on(Pattern)`'s otherwise.
//!
//! What the `regex` crate lacks (lookaround, backreferences) fails to compile: the function
//! answers null, as ksqlDB does for a pattern Java refuses.

mod pattern;

use std::cell::RefCell;
use std::collections::HashMap;

use ::regex::{Captures, Regex};
use datafusion_common::ScalarValue;

use super::rowfn::{row_udf, RowFn};
use super::text_arg as text;
use crate::plan::expr::{is_null_literal, udf_call, ExprPlanner, Typed};
use crate::plan::PlanError;
use crate::types::SqlType;
use crate::value;

/// The regular-expression functions.
pub const NAMES: &[&str] = &[
    "REGEXP_EXTRACT",
    "REGEXP_EXTRACT_ALL",
    "REGEXP_REPLACE",
    "REGEXP_SPLIT_TO_ARRAY",
];

/// Plans `name(args)`, one of [`NAMES`].
pub fn plan(p: &ExprPlanner<'_>, name: &str, args: Vec<Typed>) -> Result<Typed, PlanError> {
    let strings = |n: usize| args.len() >= n && args[..n].iter().all(|a| a.ty == SqlType::String);
    let strings_list = SqlType::Array(Box::new(SqlType::String));
    let (n, f, ret): (&'static str, RowFn, SqlType) = match name {
        "REGEXP_EXTRACT" | "REGEXP_EXTRACT_ALL" if (2..=3).contains(&args.len()) && strings(2) => {
            let group = args.get(2);
            if group.is_some_and(|g| g.ty != SqlType::Int && !is_null_literal(&g.expr)) {
                return Err(super::refused(name, &args));
            }
            if name == "REGEXP_EXTRACT" {
                ("REGEXP_EXTRACT", extract, SqlType::String)
            } else {
                ("REGEXP_EXTRACT_ALL", extract_all, strings_list)
            }
        }
        "REGEXP_REPLACE" if args.len() == 3 && strings(3) => {
            ("REGEXP_REPLACE", replace, SqlType::String)
        }
        "REGEXP_SPLIT_TO_ARRAY" if args.len() == 2 && strings(2) => {
            ("REGEXP_SPLIT_TO_ARRAY", split_to_array, strings_list)
        }
        _ => return Err(super::refused(name, &args)),
    };
    let mut args = args;
    if let Some(g) = args.get_mut(2).filter(|_| n != "REGEXP_REPLACE") {
        *g = p.cast(g.clone(), &SqlType::Int)?;
    }
    let t = udf_call(p, row_udf(n, ret.arrow(), f), args)?;
    Ok(Typed {
        expr: t.expr,
        ty: ret,
    })
}

/// The group argument: `Some(None)` when null, 0 when absent.
fn group(args: &[ScalarValue]) -> Option<Option<i64>> {
    match args.get(2) {
        None => Some(Some(0)),
        Some(ScalarValue::Int32(g)) => Some(g.map(i64::from)),
        Some(ScalarValue::Int64(g)) => Some(*g),
        Some(_) => Some(None),
    }
}

/// The group `g` of a pattern with `count` groups: `None` when beyond them (null in
/// ksqlDB), an error when negative (Java's `IndexOutOfBoundsException`, raised only once
/// there is a match).
fn group_index(g: i64, count: usize) -> Option<Result<usize, String>> {
    if g > count as i64 {
        return None;
    }
    Some(usize::try_from(g).map_err(|_| format!("No group {g}")))
}

/// `REGEXP_EXTRACT(pattern, input[, group])`: the group of the first match.
fn extract(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(pattern), Some(input), Some(Some(g))) =
        (text(args.first()), text(args.get(1)), group(args))
    else {
        return Ok(ScalarValue::Utf8(None));
    };
    let re = compile(pattern)?;
    let Some(g) = group_index(g, re.captures_len() - 1) else {
        return Ok(ScalarValue::Utf8(None));
    };
    let Some(found) = re.captures(input) else {
        return Ok(ScalarValue::Utf8(None));
    };
    let g = g?;
    Ok(ScalarValue::Utf8(
        found.get(g).map(|m| m.as_str().to_string()),
    ))
}

/// `REGEXP_EXTRACT_ALL(pattern, input[, group])`: the group of every match (null where the
/// group took no part).
fn extract_all(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(pattern), Some(input), Some(Some(g))) =
        (text(args.first()), text(args.get(1)), group(args))
    else {
        return Ok(value::null(&SqlType::Array(Box::new(SqlType::String))));
    };
    let re = compile(pattern)?;
    let Some(g) = group_index(g, re.captures_len() - 1) else {
        return Ok(value::null(&SqlType::Array(Box::new(SqlType::String))));
    };
    let matches = java_matches(&re, input);
    let mut items = Vec::with_capacity(matches.len());
    for m in &matches {
        let g = g.clone()?;
        items.push(ScalarValue::Utf8(m.get(g).map(|m| m.as_str().to_string())));
    }
    value::list(&items, &SqlType::String)
}

/// `REGEXP_REPLACE(str, regexp, replacement)`: Java's `String.replaceAll`.
fn replace(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(s), Some(pattern), Some(replacement)) =
        (text(args.first()), text(args.get(1)), text(args.get(2)))
    else {
        return Ok(ScalarValue::Utf8(None));
    };
    let re = compile(pattern)?;
    let matches = java_matches(&re, s);
    if matches.is_empty() {
        return Ok(ScalarValue::Utf8(Some(s.to_string())));
    }
    let parts = replacement_parts(replacement, &re)?;
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for c in &matches {
        let Some(whole) = c.get(0) else { continue };
        out.push_str(&s[last..whole.start()]);
        for part in &parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Group(i) => out.push_str(c.get(*i).map_or("", |m| m.as_str())),
            }
        }
        last = whole.end();
    }
    out.push_str(&s[last..]);
    Ok(ScalarValue::Utf8(Some(out)))
}

/// `REGEXP_SPLIT_TO_ARRAY(str, regexp)`.
fn split_to_array(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(s), Some(pattern)) = (text(args.first()), text(args.get(1))) else {
        return Ok(value::null(&SqlType::Array(Box::new(SqlType::String))));
    };
    let re = compile(pattern)?;
    let pieces = if pattern.is_empty() || re.is_match("") {
        java_split(&re, s)
    } else {
        guava_split(&re, s)
    };
    let items: Vec<ScalarValue> = pieces
        .into_iter()
        .map(|p| ScalarValue::Utf8(Some(p.to_string())))
        .collect();
    value::list(&items, &SqlType::String)
}

/// The byte offset of the character after the one at `i` (one past the end at the end).
fn next_char(s: &str, i: usize) -> usize {
    i + s[i..].chars().next().map_or(1, char::len_utf8)
}

/// The matches `Matcher.find` finds one after the other in `s`.
pub fn java_matches<'h>(re: &Regex, s: &'h str) -> Vec<Captures<'h>> {
    let mut out = Vec::new();
    let mut from = 0;
    while from <= s.len() {
        let Some(c) = re.captures_at(s, from) else {
            break;
        };
        let Some(m) = c.get(0) else { break };
        from = if m.is_empty() {
            next_char(s, m.end())
        } else {
            m.end()
        };
        out.push(c);
    }
    out
}

/// `Pattern.split(s)`: no leading empty string for an empty match at the start, trailing
/// empty strings dropped, `s` itself when nothing matches.
pub fn java_split<'h>(re: &Regex, s: &'h str) -> Vec<&'h str> {
    let mut out = Vec::new();
    let mut index = 0;
    for c in java_matches(re, s) {
        let Some(m) = c.get(0) else { continue };
        if index == 0 && m.start() == 0 && m.is_empty() {
            continue;
        }
        out.push(&s[index..m.start()]);
        index = m.end();
    }
    if index == 0 {
        return vec![s];
    }
    out.push(&s[index..]);
    while out.last().is_some_and(|p| p.is_empty()) {
        out.pop();
    }
    out
}

/// Guava's `Splitter.on(pattern).splitToList(s)`: every piece kept, an empty match at the
/// start of a piece skipped.
fn guava_split<'h>(re: &Regex, s: &'h str) -> Vec<&'h str> {
    let mut out = Vec::new();
    let mut offset = Some(0);
    while let Some(piece_start) = offset {
        let mut search = Some(piece_start);
        let mut piece = None;
        while let Some(from) = search {
            let (end, next) = match re.find_at(s, from) {
                Some(m) => (m.start(), Some(m.end())),
                None => (s.len(), None),
            };
            if next == Some(piece_start) {
                let n = next_char(s, piece_start);
                search = (n <= s.len()).then_some(n);
                continue;
            }
            search = next;
            piece = Some(&s[piece_start..end]);
            break;
        }
        match piece {
            Some(p) => out.push(p),
            None => break,
        }
        offset = search;
    }
    out
}

/// A piece of a replacement: text, or a group's match.
#[derive(Debug, PartialEq)]
enum Part {
    Text(String),
    Group(usize),
}

/// A replacement as `Matcher.appendReplacement` reads it.
fn replacement_parts(r: &str, re: &Regex) -> Result<Vec<Part>, String> {
    let groups = re.captures_len() - 1;
    let chars: Vec<char> = r.chars().collect();
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => {
                let escaped = chars.get(i).ok_or("character to be escaped is missing")?;
                text.push(*escaped);
                i += 1;
            }
            '$' => {
                let next = *chars
                    .get(i)
                    .ok_or("Illegal group reference: group index is missing")?;
                let index = if next == '{' {
                    let start = i + 1;
                    let mut end = start;
                    while chars.get(end).is_some_and(|c| c.is_ascii_alphanumeric()) {
                        end += 1;
                    }
                    let name: String = chars[start..end].iter().collect();
                    if name.is_empty() {
                        return Err("named capturing group has 0 length name".into());
                    }
                    if chars.get(end) != Some(&'}') {
                        return Err("named capturing group is missing trailing '}'".into());
                    }
                    if name.starts_with(|c: char| c.is_ascii_digit()) {
                        return Err(format!(
                            "capturing group name {{{name}}} starts with digit character"
                        ));
                    }
                    i = end + 1;
                    re.capture_names()
                        .position(|n| n == Some(name.as_str()))
                        .ok_or_else(|| format!("No group with name {{{name}}}"))?
                } else {
                    let mut index = next.to_digit(10).ok_or("Illegal group reference")? as usize;
                    i += 1;
                    // (more digits while they still name a group)
                    while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                        let wider = index * 10 + d as usize;
                        if wider > groups {
                            break;
                        }
                        index = wider;
                        i += 1;
                    }
                    if index > groups {
                        return Err(format!("No group {index}"));
                    }
                    index
                };
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(Part::Group(index));
            }
            other => text.push(other),
        }
    }
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    Ok(parts)
}

thread_local! {
    /// Patterns compiled lately on this thread.
    static COMPILED: RefCell<HashMap<String, Result<Regex, String>>> =
        RefCell::new(HashMap::new());
}

/// The Java pattern `pattern`, compiled (and kept for the next rows).
pub fn compile(pattern: &str) -> Result<Regex, String> {
    COMPILED.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(found) = cache.get(pattern) {
            return found.clone();
        }
        if cache.len() >= 64 {
            cache.clear();
        }
        let compiled = pattern::translate(pattern)
            .and_then(|t| Regex::new(&t).map_err(|e| e.to_string()))
            .map_err(|e| format!("Invalid regular expression pattern: {pattern} ({e})"));
        cache.insert(pattern.to_string(), compiled.clone());
        compiled
    })
}

#[cfg(test)]
mod tests {
    // Test helpers panic on failure by design.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn s(v: &str) -> ScalarValue {
        ScalarValue::Utf8(Some(v.into()))
    }

    fn strings(v: &ScalarValue) -> Option<Vec<Option<String>>> {
        value::list_items(v).map(|items| {
            items
                .into_iter()
                .map(|i| match i {
                    ScalarValue::Utf8(t) => t,
                    other => panic!("{other:?}"),
                })
                .collect()
        })
    }

    fn some(v: &[&str]) -> Option<Vec<Option<String>>> {
        Some(v.iter().map(|t| Some(t.to_string())).collect())
    }

    #[test]
    fn extract_takes_the_first_match_or_a_group_of_it() {
        let g = |n: i32| ScalarValue::Int32(Some(n));
        assert_eq!(
            extract(&[s("test."), s("some_test_string")]).unwrap(),
            s("test_")
        );
        assert!(extract(&[s("test."), s("anothertest")]).unwrap().is_null());
        assert_eq!(
            extract(&[s("(.*) (.*)"), s("steven zhang"), g(2)]).unwrap(),
            s("zhang")
        );
        // a group beyond the pattern's: null; a null group: null
        assert!(extract(&[s("(.*)"), s("a"), g(2)]).unwrap().is_null());
        assert!(extract(&[s("(.*)"), s("a"), ScalarValue::Int32(None)])
            .unwrap()
            .is_null());
        assert!(extract(&[s("(a"), s("a")]).is_err());
    }

    #[test]
    fn extract_all_lists_every_match() {
        let g = |n: i32| ScalarValue::Int32(Some(n));
        let all = extract_all(&[s("test."), s("some_test_string_testabab")]).unwrap();
        assert_eq!(strings(&all), some(&["test_", "testa"]));
        let all = extract_all(&[s(r"(\w+) (\w*)"), s("apurva mehta agavra "), g(2)]).unwrap();
        assert_eq!(strings(&all), some(&["mehta", ""]));
        let none = extract_all(&[s("test."), s("nothing")]).unwrap();
        assert_eq!(strings(&none), some(&[]));
        // Java finds an empty match right after a non-empty one
        let empty = extract_all(&[s("a*"), s("baaa")]).unwrap();
        assert_eq!(strings(&empty), some(&["", "aaa", ""]));
    }

    #[test]
    fn replace_reads_replacements_as_java() {
        assert_eq!(
            replace(&[s("baababaa"), s("(ab)+"), s("cat")]).unwrap(),
            s("bacataa")
        );
        assert_eq!(
            replace(&[s("baabbabaa"), s("(ab)+"), s("cat")]).unwrap(),
            s("bacatbcataa")
        );
        assert_eq!(
            replace(&[s("john smith"), s("(\\w+) (\\w+)"), s("$2, $1 \\$ $10")]).unwrap(),
            s("smith, john $ john0")
        );
        assert_eq!(
            replace(&[s("ab"), s("(?<x>a)"), s("[${x}]")]).unwrap(),
            s("[a]b")
        );
        assert_eq!(replace(&[s("abc"), s("x*"), s("-")]).unwrap(), s("-a-b-c-"));
        // a bad reference fails only when something matches
        assert!(replace(&[s("abc"), s("b"), s("$2")]).is_err());
        assert_eq!(replace(&[s("abc"), s("z"), s("$2")]).unwrap(), s("abc"));
        assert!(replace(&[ScalarValue::Utf8(None), s("a"), s("b")])
            .unwrap()
            .is_null());
    }

    #[test]
    fn split_keeps_or_drops_empty_pieces_as_java_and_guava_do() {
        let split = |v: &str, p: &str| strings(&split_to_array(&[s(v), s(p)]).unwrap());
        assert_eq!(split("aabcda", "(ab|cd)"), some(&["a", "", "a"]));
        assert_eq!(split("aabdcda", "(ab|cd)"), some(&["a", "d", "a"]));
        assert_eq!(split("zxy", "(ab|cd)"), some(&["zxy"]));
        assert_eq!(split(",a,,", ","), some(&["", "a", "", ""]));
        // a pattern matching the empty string: Pattern.split
        assert_eq!(split("abc", ""), some(&["a", "b", "c"]));
        assert_eq!(split("", ""), some(&[""]));
        assert_eq!(split("axb", "x*"), some(&["a", "", "b"]));
        assert_eq!(split("aaa", "a*"), some(&[]));
    }
}
