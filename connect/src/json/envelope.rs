//! The two parts of a JsonConverter envelope, `{"schema": S, "payload": P}`, found without
//! parsing them: a record's schema is the same text record after record, so a converter can
//! recognise it by its bytes and parse only the payload.

/// The raw text of the schema and of the payload of `input`, when it is exactly an object
/// with the member `schema` (an object or `null`) followed by the member `payload`. `None`
/// for any other shape (the caller then parses the whole input, which also says what is
/// wrong with it). The parts are not validated: the payload's parse does that, and a schema
/// is only trusted when its bytes equal those of a schema parsed before.
pub fn split(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut i = skip_ws(input, 0);
    i = expect(input, i, b"{")?;
    i = expect(input, skip_ws(input, i), b"\"schema\"")?;
    i = expect(input, skip_ws(input, i), b":")?;
    let schema_start = skip_ws(input, i);
    let schema_end = match input.get(schema_start)? {
        b'{' => object_end(input, schema_start)?,
        b'n' => expect(input, schema_start, b"null")?,
        _ => return None,
    };
    i = expect(input, skip_ws(input, schema_end), b",")?;
    i = expect(input, skip_ws(input, i), b"\"payload\"")?;
    i = expect(input, skip_ws(input, i), b":")?;
    let payload_start = skip_ws(input, i);
    let payload_end = value_end(input, payload_start)?;
    // and nothing after it but the object's closing brace
    let last = input.iter().rposition(|b| !is_ws(*b))?;
    if input[last] != b'}' || skip_ws(input, payload_end) != last {
        return None;
    }
    Some((
        &input[schema_start..schema_end],
        &input[payload_start..payload_end],
    ))
}

/// The end (exclusive) of the value starting at `start`: an object, an array, a string, or
/// a literal (a number, `true`, `false`, `null`) running to the next delimiter.
fn value_end(input: &[u8], start: usize) -> Option<usize> {
    match *input.get(start)? {
        b'{' | b'[' => object_end(input, start),
        b'"' => string_end(input, start),
        _ => {
            let len = input[start..]
                .iter()
                .position(|&b| is_ws(b) || matches!(b, b',' | b'}' | b']'))
                .unwrap_or(input.len() - start);
            (len > 0).then_some(start + len)
        }
    }
}

/// The end (exclusive) of the string opening at `start`, escapes skipped.
fn string_end(input: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while *input.get(i)? != b'"' {
        i += if input[i] == b'\\' { 2 } else { 1 };
    }
    Some(i + 1)
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_ws(input: &[u8], mut i: usize) -> usize {
    while input.get(i).is_some_and(|b| is_ws(*b)) {
        i += 1;
    }
    i
}

/// `i` past `token`, if it is there.
fn expect(input: &[u8], i: usize, token: &[u8]) -> Option<usize> {
    input.get(i..i + token.len()).filter(|t| *t == token)?;
    Some(i + token.len())
}

/// The end (exclusive) of the object or array opening at `start`: brackets counted outside
/// strings, escapes inside them skipped.
fn object_end(input: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i < input.len() {
        match input[i] {
            b'"' => i = string_end(input, i)? - 1,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::split;

    fn parts(s: &str) -> Option<(&str, &str)> {
        split(s.as_bytes()).map(|(a, b)| {
            (
                std::str::from_utf8(a).expect("utf-8"),
                std::str::from_utf8(b).expect("utf-8"),
            )
        })
    }

    #[test]
    fn an_envelope_splits_into_its_schema_and_payload() {
        assert_eq!(
            parts(
                r#"{"schema":{"type":"struct","fields":[{"field":"a}\"[","type":"int32"}]},"payload":{"a":1}}"#
            ),
            Some((
                r#"{"type":"struct","fields":[{"field":"a}\"[","type":"int32"}]}"#,
                r#"{"a":1}"#
            ))
        );
        assert_eq!(
            parts(" {\n \"schema\" : null ,\t\"payload\" : \"x\" } \n"),
            Some(("null", "\"x\""))
        );
    }

    #[test]
    fn other_shapes_are_left_to_the_parser() {
        for s in [
            r#"{"payload":1,"schema":null}"#,
            r#"{"schema":{"type":"int32"}}"#,
            r#"{"schema":{"type":"int32"},"payload":}"#,
            r#"{"schema":{"type":"int32","payload":1}"#,
            r#"{"schema":"int32","payload":1}"#,
            r#"{"schema":{"type":"int32"},"payload":1"#,
            r#"["schema"]"#,
            "",
            r#"{"schema":{"a":"\"#,
            r#"{"schema":{"type":"string"},"payload":"a","extra":1}"#,
            r#"{"schema":null,"payload":1 2}"#,
        ] {
            assert_eq!(parts(s), None, "{s}");
        }
    }
}
