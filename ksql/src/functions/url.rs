//! ksqlDB's URL functions. The `URL_EXTRACT_*` ones read a URL as `java.net.URI` does (RFC
//! 2396: `[scheme:][//authority][path][?query][#fragment]`, an opaque `scheme:rest` having
//! no path, query or host; path, query and fragment decoded; a path that is empty stays
//! empty), so their answers are ksqlDB's; a URL that does not parse gives null.
//! `URL_ENCODE_PARAM` and `URL_DECODE_PARAM` encode and decode form parameters
//! (`application/x-www-form-urlencoded`: a space is `+`).

use arrow::datatypes::DataType;
use datafusion_common::ScalarValue;

use super::rowfn::{row_udf, RowFn};
use crate::plan::expr::{udf_call, ExprPlanner, Typed};
use crate::plan::PlanError;
use crate::types::SqlType;

/// The URL functions.
pub const NAMES: &[&str] = &[
    "URL_DECODE_PARAM",
    "URL_ENCODE_PARAM",
    "URL_EXTRACT_FRAGMENT",
    "URL_EXTRACT_HOST",
    "URL_EXTRACT_PARAMETER",
    "URL_EXTRACT_PATH",
    "URL_EXTRACT_PORT",
    "URL_EXTRACT_PROTOCOL",
    "URL_EXTRACT_QUERY",
];

/// Plans `name(args)`, one of [`NAMES`].
pub fn plan(p: &ExprPlanner<'_>, name: &str, args: Vec<Typed>) -> Result<Typed, PlanError> {
    let arity = if name == "URL_EXTRACT_PARAMETER" {
        2
    } else {
        1
    };
    if args.len() != arity || args.iter().any(|a| a.ty != SqlType::String) {
        return Err(super::refused(name, &args));
    }
    let (f, ret): (RowFn, DataType) = match name {
        "URL_DECODE_PARAM" => (decode_param, DataType::Utf8),
        "URL_ENCODE_PARAM" => (encode_param, DataType::Utf8),
        "URL_EXTRACT_FRAGMENT" => (|a| part(a, |u| u.fragment.map(decode)), DataType::Utf8),
        "URL_EXTRACT_HOST" => (
            |a| part(a, |u| u.host().map(str::to_string)),
            DataType::Utf8,
        ),
        "URL_EXTRACT_PARAMETER" => (parameter, DataType::Utf8),
        "URL_EXTRACT_PATH" => (|a| part(a, |u| u.path.map(decode)), DataType::Utf8),
        "URL_EXTRACT_PORT" => (port, DataType::Int32),
        "URL_EXTRACT_PROTOCOL" => (
            |a| part(a, |u| u.scheme.map(str::to_string)),
            DataType::Utf8,
        ),
        _ => (|a| part(a, |u| u.query.map(decode)), DataType::Utf8),
    };
    let name: &'static str = NAMES.iter().find(|n| **n == name).copied().unwrap_or("URL");
    udf_call(p, row_udf(name, ret, f), args)
}

/// The string argument `i` (`None`: null).
fn text(args: &[ScalarValue], i: usize) -> Option<&str> {
    match args.get(i) {
        Some(ScalarValue::Utf8(Some(s))) => Some(s.as_str()),
        _ => None,
    }
}

/// A part of the URL in the first argument, as text.
fn part(
    args: &[ScalarValue],
    f: impl Fn(&Uri<'_>) -> Option<String>,
) -> Result<ScalarValue, String> {
    let Some(url) = text(args, 0) else {
        return Ok(ScalarValue::Utf8(None));
    };
    let uri = Uri::parse(url)?;
    Ok(ScalarValue::Utf8(f(&uri)))
}

fn port(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let Some(url) = text(args, 0) else {
        return Ok(ScalarValue::Int32(None));
    };
    Ok(ScalarValue::Int32(Uri::parse(url)?.port()))
}

/// `URL_EXTRACT_PARAMETER(url, name)`: the value of the query's first `name=value` (empty
/// for a bare `name`), from the decoded query.
fn parameter(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(url), Some(name)) = (text(args, 0), text(args, 1)) else {
        return Ok(ScalarValue::Utf8(None));
    };
    let Some(query) = Uri::parse(url)?.query.map(decode) else {
        return Ok(ScalarValue::Utf8(None));
    };
    let found = query
        .split('&')
        .find_map(|param| match param.split_once('=') {
            Some((k, v)) if k == name => Some(v.to_string()),
            None if param == name => Some(String::new()),
            _ => None,
        });
    Ok(ScalarValue::Utf8(found))
}

/// Form-encodes: letters, digits and `-_.*` stay, a space is `+`, every other byte of the
/// UTF-8 text is `%XX`.
fn encode_param(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let Some(s) = text(args, 0) else {
        return Ok(ScalarValue::Utf8(None));
    };
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    Ok(ScalarValue::Utf8(Some(out)))
}

/// Form-decodes: `+` is a space, `%XX` a byte of UTF-8 text; a bad escape fails.
fn decode_param(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let Some(s) = text(args, 0) else {
        return Ok(ScalarValue::Utf8(None));
    };
    let mut bytes = Vec::with_capacity(s.len());
    let mut it = s.bytes();
    while let Some(b) = it.next() {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = [it.next(), it.next()];
                let byte = match hex {
                    [Some(h), Some(l)] => hex_value(h).zip(hex_value(l)).map(|(h, l)| h * 16 + l),
                    _ => None,
                };
                bytes.push(byte.ok_or_else(|| format!("bad escape in '{s}'"))?);
            }
            other => bytes.push(other),
        }
    }
    Ok(ScalarValue::Utf8(Some(
        String::from_utf8_lossy(&bytes).into_owned(),
    )))
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// `%XX` escapes decoded (as UTF-8), everything else as it is.
fn decode(s: &str) -> String {
    let raw = s.as_bytes();
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let escaped = (raw[i] == b'%' && i + 2 < raw.len())
            .then(|| hex_value(raw[i + 1]).zip(hex_value(raw[i + 2])))
            .flatten();
        match escaped {
            Some((h, l)) => {
                bytes.push(h * 16 + l);
                i += 3;
            }
            None => {
                bytes.push(raw[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A URL's parts, raw (escapes kept), as `java.net.URI` splits it.
#[derive(Debug, Default, PartialEq)]
struct Uri<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: Option<&'a str>,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

impl<'a> Uri<'a> {
    fn parse(s: &'a str) -> Result<Uri<'a>, String> {
        let bad = |why: &str| format!("URL input has invalid syntax: {s} ({why})");
        check_chars(s).map_err(|why| bad(&why))?;
        let (rest, fragment) = match s.split_once('#') {
            Some((r, f)) => (r, Some(f)),
            None => (s, None),
        };
        // (a scheme: a letter, then letters, digits, `+`, `-` or `.`, then `:`)
        let scheme_end = rest.find(':').filter(|&i| {
            let name = &rest[..i];
            name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
        let (scheme, ssp) = match scheme_end {
            Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
            None => (None, rest),
        };
        if scheme.is_some() && ssp.is_empty() {
            return Err(bad("expected a scheme-specific part"));
        }
        let mut uri = Uri {
            scheme,
            fragment,
            ..Uri::default()
        };
        // (opaque: `mailto:a@b`)
        if scheme.is_some() && !ssp.starts_with('/') {
            return Ok(uri);
        }
        let (hier, query) = match ssp.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (ssp, None),
        };
        uri.query = query;
        match hier.strip_prefix("//") {
            Some(after) => {
                let end = after.find('/').unwrap_or(after.len());
                uri.authority = Some(&after[..end]);
                uri.path = Some(&after[end..]);
            }
            None => uri.path = Some(hier),
        }
        Ok(uri)
    }

    /// The authority's host and port, when it is a server's (`user@host:port`).
    fn server(&self) -> Option<(&'a str, Option<i32>)> {
        let authority = self.authority?;
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = if hostport.starts_with('[') {
            let close = hostport.find(']')?;
            (&hostport[..=close], &hostport[close + 1..])
        } else {
            match hostport.find(':') {
                Some(i) => (&hostport[..i], &hostport[i..]),
                None => (hostport, ""),
            }
        };
        let port = match port.strip_prefix(':') {
            None if port.is_empty() => None,
            None => return None,
            Some("") => None,
            Some(p) => Some(p.parse::<i32>().ok()?),
        };
        let hostname = host.starts_with('[')
            || (!host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'));
        hostname.then_some((host, port))
    }

    fn host(&self) -> Option<&'a str> {
        self.server().map(|(h, _)| h)
    }

    fn port(&self) -> Option<i32> {
        self.server().and_then(|(_, p)| p)
    }
}

/// Java's URI refuses spaces, control characters, `<>"{}|\^` and backquotes, and `%` not
/// followed by two hex digits.
fn check_chars(s: &str) -> Result<(), String> {
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'%' {
            let ok = bytes.get(i + 1).copied().and_then(hex_value).is_some()
                && bytes.get(i + 2).copied().and_then(hex_value).is_some();
            if !ok {
                return Err(format!("malformed escape at index {i}"));
            }
        } else if b.is_ascii_control()
            || matches!(
                b,
                b' ' | b'<' | b'>' | b'"' | b'{' | b'}' | b'|' | b'\\' | b'^' | b'`'
            )
        {
            return Err(format!("illegal character at index {i}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: RowFn, args: &[&str]) -> Option<String> {
        let args: Vec<ScalarValue> = args
            .iter()
            .map(|a| ScalarValue::Utf8(Some(a.to_string())))
            .collect();
        match f(&args) {
            Ok(ScalarValue::Utf8(s)) => s,
            Ok(ScalarValue::Int32(n)) => n.map(|n| n.to_string()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn urls_split_as_java_uri_splits_them() {
        let u = Uri::parse("http://test@confluent.io:8080/nested/path?q1&q2#frag").unwrap();
        assert_eq!(u.scheme, Some("http"));
        assert_eq!(u.host(), Some("confluent.io"));
        assert_eq!(u.port(), Some(8080));
        assert_eq!(u.path, Some("/nested/path"));
        assert_eq!(u.query, Some("q1&q2"));
        assert_eq!(u.fragment, Some("frag"));
        // an empty path stays empty; no scheme: all of it is a path
        assert_eq!(
            Uri::parse("http://www.test.com?query").unwrap().path,
            Some("")
        );
        let relative = Uri::parse("www.confluent.io").unwrap();
        assert_eq!(
            (relative.scheme, relative.path),
            (None, Some("www.confluent.io"))
        );
        // opaque: no path, query or host
        let opaque = Uri::parse("mailto:someone@example.com?x").unwrap();
        assert_eq!(
            (opaque.path, opaque.query, opaque.host()),
            (None, None, None)
        );
        // what Java refuses
        assert!(Uri::parse("http://a b").is_err());
        assert!(Uri::parse("http://a/%zz").is_err());
        assert!(Uri::parse("http:").is_err());
    }

    #[test]
    fn parameters_encode_and_decode_as_forms_do() {
        assert_eq!(
            run(encode_param, &["?foo $bar"]).as_deref(),
            Some("%3Ffoo+%24bar")
        );
        assert_eq!(run(encode_param, &["é"]).as_deref(), Some("%C3%A9"));
        assert_eq!(
            run(decode_param, &["%3Ffoo+%24bar"]).as_deref(),
            Some("?foo $bar")
        );
        assert!(decode_param(&[ScalarValue::Utf8(Some("%z".into()))]).is_err());
        let url = "http://www.test.com/?one=a&two=url%20encoded&three";
        assert_eq!(
            run(parameter, &[url, "two"]).as_deref(),
            Some("url encoded")
        );
        assert_eq!(run(parameter, &[url, "three"]).as_deref(), Some(""));
        assert_eq!(run(parameter, &[url, "four"]), None);
        assert_eq!(run(port, &["http://test@confluent.io"]), None);
    }
}
