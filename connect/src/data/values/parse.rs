//! `Values.parseString`: Kafka's tokenizer (`Values.Parser`) and recursive parser
//! (`Values.ValueParser`), with its schema inference (`SchemaMerger`) and the conversion of
//! array elements and map entries to the inferred schema.

use super::number::JavaDecimal;
use super::temporal::{java_digit, parse_temporal};
use super::{convert_to, java_trim};
use crate::data::{logical, DataError, Schema, SchemaAndValue, SchemaBuilder, Type, Value};

/// How deeply arrays and maps may nest before parsing gives up as Java does when its stack
/// overflows (a default JVM manages 3000 levels, not 3500).
pub(super) const MAX_DEPTH: usize = 3000;

/// Texts with more `[` and `{` than this are parsed on a thread of their own, with a stack
/// large enough for [`MAX_DEPTH`] levels.
const INLINE_OPENERS: usize = 32;

/// The stack of that thread (each level takes a few kilobytes, more in debug builds).
const DEEP_STACK: usize = 96 << 20;

/// Why parsing stopped.
#[derive(Debug)]
pub(super) enum Failure {
    /// A `DataException`: an array or a map that does not parse is read as a string instead.
    /// (Kafka's message, which nobody sees: only for debugging.)
    Data(#[allow(dead_code)] DataError),
    /// Nesting too deep (Java's `StackOverflowError`): no result at all.
    TooDeep,
}

impl From<DataError> for Failure {
    fn from(e: DataError) -> Failure {
        Failure::Data(e)
    }
}

fn data(message: impl Into<String>) -> Failure {
    Failure::Data(DataError::new(message))
}

type Parsed = Result<Option<SchemaAndValue>, Failure>;

/// Java's `Utils.isBlank`: nothing but characters up to U+0020.
fn is_blank(s: &str) -> bool {
    java_trim(s).is_empty()
}

/// `Values.parseString` as Kafka's parser runs it: `Ok(None)` for Java's null (the literal
/// `null`), `Err` only for nesting too deep.
pub(super) fn parse(text: &str) -> Result<Option<SchemaAndValue>, DataError> {
    if text.is_empty() {
        return Ok(Some(string(text)));
    }
    if openers(text) <= INLINE_OPENERS {
        return parse_here(text);
    }
    let deep = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("values-parser".into())
            .stack_size(DEEP_STACK)
            .spawn_scoped(scope, || parse_here(text))
            .ok()
            .and_then(|handle| handle.join().ok())
    });
    deep.unwrap_or_else(|| Err(DataError::new("Failed to start a thread to parse a value")))
}

/// How many arrays and maps a text could open (unescaped `[` and `{`): at least how deep
/// parsing it recurses.
fn openers(text: &str) -> usize {
    let mut escaped = false;
    let mut count = 0;
    for b in text.bytes() {
        match b {
            b'\\' => escaped = !escaped,
            b'[' | b'{' if !escaped => count += 1,
            _ => escaped = false,
        }
    }
    count
}

fn parse_here(text: &str) -> Result<Option<SchemaAndValue>, DataError> {
    let mut parser = ValueParser {
        p: Parser::new(text),
        depth: 0,
    };
    match parser.parse(false) {
        Ok(parsed) => Ok(parsed),
        // (a top-level parse reads what it cannot parse as a string: never reached)
        Err(Failure::Data(_)) => Ok(Some(string(text))),
        Err(Failure::TooDeep) => Err(DataError::new(format!(
            "Values nested deeper than {MAX_DEPTH} levels"
        ))),
    }
}

fn string(s: &str) -> SchemaAndValue {
    SchemaAndValue::new(
        Some(Schema::primitive(Type::String)),
        Value::String(s.to_string()),
    )
}

/// Kafka's `Values.Parser`: splits text at unescaped `: , { } [ ] "` (each its own token);
/// positions are byte offsets (Java's are UTF-16 ones, which only its messages show).
struct Parser<'a> {
    original: &'a str,
    pos: usize,
    next_token: Option<&'a str>,
    previous_token: Option<&'a str>,
}

impl<'a> Parser<'a> {
    fn new(original: &'a str) -> Parser<'a> {
        Parser {
            original,
            pos: 0,
            next_token: None,
            previous_token: None,
        }
    }

    fn mark(&self) -> usize {
        self.pos - self.next_token.map_or(0, str::len)
    }

    fn rewind_to(&mut self, position: usize) {
        self.pos = position;
        self.next_token = None;
        self.previous_token = None;
    }

    fn has_next(&self) -> bool {
        self.next_token.is_some() || self.can_consume_next_token()
    }

    fn can_consume_next_token(&self) -> bool {
        self.pos < self.original.len()
    }

    fn next(&mut self) -> &'a str {
        let token = match self.next_token.take() {
            Some(t) => t,
            None => self.consume_next_token(),
        };
        self.previous_token = Some(token);
        token
    }

    /// The text of the next `n` tokens, or `None` (and no move) when there are fewer.
    fn next_n(&mut self, n: usize) -> Option<&'a str> {
        let start = self.mark();
        for _ in 0..n {
            if !self.has_next() {
                self.rewind_to(start);
                return None;
            }
            self.next();
        }
        Some(&self.original[start..self.pos])
    }

    fn consume_next_token(&mut self) -> &'a str {
        let bytes = self.original.as_bytes();
        let start = self.pos;
        let mut escaped = false;
        while self.pos < bytes.len() {
            match bytes[self.pos] {
                b'\\' => escaped = !escaped,
                b':' | b',' | b'{' | b'}' | b'[' | b']' | b'"' => {
                    if !escaped {
                        if start < self.pos {
                            return &self.original[start..self.pos];
                        }
                        self.pos += 1;
                        return &self.original[start..start + 1];
                    }
                    escaped = false;
                }
                _ => escaped = false,
            }
            self.pos += 1;
        }
        &self.original[start..self.pos]
    }

    /// Consumes the next token when it is `expected` (around whitespace); whitespace-only
    /// tokens before it are dropped either way.
    fn can_consume(&mut self, expected: &str) -> bool {
        if self.is_next(expected) {
            self.next_token = None;
            return true;
        }
        false
    }

    fn is_next(&mut self, expected: &str) -> bool {
        let mut token = match self.next_token {
            Some(t) => t,
            None => {
                if !self.has_next() {
                    return false;
                }
                self.consume_next_token()
            }
        };
        while is_blank(token) && self.can_consume_next_token() {
            token = self.consume_next_token();
        }
        self.next_token = Some(token);
        java_trim(token) == expected
    }
}

/// Kafka's `Values.ValueParser`.
struct ValueParser<'a> {
    p: Parser<'a>,
    depth: usize,
}

impl ValueParser<'_> {
    fn can_parse_single_token_literal(&mut self, embedded: bool, literal: &str) -> bool {
        let start = self.p.mark();
        if self.p.can_consume(literal) && (embedded || !self.p.has_next()) {
            return true;
        }
        self.p.rewind_to(start);
        false
    }

    fn parse(&mut self, embedded: bool) -> Parsed {
        if !self.p.has_next() {
            return Ok(None);
        }
        if embedded && self.p.can_consume("\"") {
            return Ok(Some(self.parse_quoted_string()));
        }
        if self.can_parse_single_token_literal(embedded, "null") {
            return Ok(None);
        }
        for (literal, b) in [("true", true), ("false", false)] {
            if self.can_parse_single_token_literal(embedded, literal) {
                return Ok(Some(SchemaAndValue::new(
                    Some(Schema::primitive(Type::Boolean)),
                    Value::Boolean(b),
                )));
            }
        }
        let start = self.p.mark();
        let nested = if self.p.can_consume("[") {
            Some(self.nested(Self::parse_array))
        } else if self.p.can_consume("{") {
            Some(self.nested(Self::parse_map))
        } else {
            None
        };
        match nested {
            Some(Ok(v)) => return Ok(Some(v)),
            // not an array or a map after all: read on as a token
            Some(Err(Failure::Data(_))) => self.p.rewind_to(start),
            Some(Err(e)) => return Err(e),
            None => {}
        }
        let token = self.p.next();
        if is_blank(token) {
            return Ok(Some(string(token)));
        }
        self.parse_next_token(embedded, java_trim(token))
    }

    fn nested(
        &mut self,
        f: fn(&mut Self) -> Result<SchemaAndValue, Failure>,
    ) -> Result<SchemaAndValue, Failure> {
        if self.depth >= MAX_DEPTH {
            return Err(Failure::TooDeep);
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn parse_next_token(&mut self, embedded: bool, token: &str) -> Parsed {
        let first = token.encode_utf16().next().unwrap_or(0);
        let first_is_digit = java_digit(first).is_some();
        // temporal types are more restrictive, so they come first
        if first_is_digit {
            if let Some(temporal) = self.parse_multiple_tokens_as_temporal(token) {
                return Ok(Some(temporal));
            }
        }
        if first_is_digit || first == u16::from(b'+') || first == u16::from(b'-') {
            if let Some(number) = parse_as_number(token) {
                return Ok(Some(number));
            }
        }
        if embedded {
            return Err(data("Failed to parse embedded value"));
        }
        Ok(Some(string(self.p.original)))
    }

    /// A time or timestamp is five tokens (its colons are delimiters); else the token alone.
    fn parse_multiple_tokens_as_temporal(&mut self, token: &str) -> Option<SchemaAndValue> {
        let position = self.p.mark();
        if let Some(remainder) = self.p.next_n(4) {
            if let Some(temporal) = parse_temporal(&format!("{token}{remainder}")) {
                return Some(temporal);
            }
        }
        self.p.rewind_to(position);
        parse_temporal(token)
    }

    /// The tokens up to the closing quote, as they are (escapes kept, whitespace-only tokens
    /// between delimiters dropped), as a date, time or timestamp if it is one.
    fn parse_quoted_string(&mut self) -> SchemaAndValue {
        let mut content = String::new();
        while self.p.has_next() {
            if self.p.can_consume("\"") {
                break;
            }
            content.push_str(self.p.next());
        }
        parse_temporal(&content).unwrap_or_else(|| string(&content))
    }

    fn parse_array(&mut self) -> Result<SchemaAndValue, Failure> {
        let mut result = Vec::new();
        let mut element_schema = SchemaMerger::default();
        while self.p.has_next() {
            if self.p.can_consume("]") {
                let (schema, values) = match element_schema.common {
                    Some(common) => {
                        let schema = SchemaBuilder::array(common).build();
                        let aligned = align_list(&schema, result)?;
                        (schema, aligned)
                    }
                    // every element null, or no schema fits all
                    None => (SchemaBuilder::new(Type::Array).build(), result),
                };
                return Ok(SchemaAndValue::new(Some(schema), Value::Array(values)));
            }
            if self.p.can_consume(",") {
                return Err(data(format!(
                    "Unable to parse an empty array element: {}",
                    self.p.original
                )));
            }
            let element = self.parse(true)?;
            element_schema.merge(element.as_ref());
            result.push(element.map_or(Value::Null, |e| e.value));
            let current = self.p.mark();
            if self.p.can_consume("]") {
                self.p.rewind_to(current);
            } else if !self.p.can_consume(",") {
                return Err(data("Array elements missing ',' delimiter"));
            }
        }
        if self.p.previous_token == Some(",") {
            return Err(data(format!(
                "Array is missing element after ',': {}",
                self.p.original
            )));
        }
        Err(data(format!(
            "Array is missing terminating ']': {}",
            self.p.original
        )))
    }

    fn parse_map(&mut self) -> Result<SchemaAndValue, Failure> {
        let mut result: Vec<(Value, Value)> = Vec::new();
        let mut key_schema = SchemaMerger::default();
        let mut value_schema = SchemaMerger::default();
        while self.p.has_next() {
            if self.p.can_consume("}") {
                let (schema, entries) = match (key_schema.common, value_schema.common) {
                    (Some(k), Some(v)) => {
                        let schema = SchemaBuilder::map(k, v).build();
                        let aligned = align_map(&schema, result, true)?;
                        (schema, aligned)
                    }
                    (Some(k), None) => {
                        let schema = map_with_null_values(k);
                        let aligned = align_map(&schema, result, false)?;
                        (schema, aligned)
                    }
                    _ => (SchemaBuilder::new(Type::Map).build(), result),
                };
                return Ok(SchemaAndValue::new(Some(schema), Value::Map(entries)));
            }
            if self.p.can_consume(",") {
                return Err(data(format!(
                    "Unable to parse a map entry with no key or value: {}",
                    self.p.original
                )));
            }
            let key = match self.parse(true)? {
                Some(k) if !k.value.is_null() => k,
                _ => {
                    return Err(data(format!(
                        "Map entry may not have a null key: {}",
                        self.p.original
                    )))
                }
            };
            if !self.p.can_consume(":") {
                return Err(data(format!(
                    "Map entry is missing ':' at {} in {}",
                    self.p.pos, self.p.original
                )));
            }
            let value = self.parse(true)?;
            let entry_value = value.as_ref().map_or(Value::Null, |v| v.value.clone());
            put(&mut result, key.value.clone(), entry_value);
            self.p.can_consume(",");
            key_schema.merge(Some(&key));
            value_schema.merge(value.as_ref());
        }
        if self.p.previous_token == Some(",") {
            return Err(data(format!(
                "Map is missing element after ',': {}",
                self.p.original
            )));
        }
        Err(data(format!(
            "Map is missing terminating '}}': {}",
            self.p.original
        )))
    }
}

/// Kafka's `SchemaBuilder.mapWithNullValues(keySchema)`: a map schema without a value schema.
///
/// Our `SchemaBuilder` cannot leave out only the value schema yet, so the values get an
/// optional string schema, which every null value fits (Kafka's envelope prints `"values":null`
/// there; the data and the key schema are Kafka's).
fn map_with_null_values(key: Schema) -> Schema {
    SchemaBuilder::map_with_null_values(key).build()
}

/// `LinkedHashMap.put`: a key already there keeps its place and takes the new value.
fn put(entries: &mut Vec<(Value, Value)>, key: Value, value: Value) {
    match entries.iter_mut().find(|(k, _)| *k == key) {
        Some(e) => e.1 = value,
        None => entries.push((key, value)),
    }
}

/// `Values.parseAsNumber`: the smallest integer type that holds a whole number up to 10^19,
/// else a float32, else a float64 (when finite and not an integer's text), else a `Decimal`.
fn parse_as_number(token: &str) -> Option<SchemaAndValue> {
    let d = JavaDecimal::parse(token)?;
    if let Some(exact) = parse_as_exact_decimal(&d) {
        return Some(exact);
    }
    let f = d.to_f32();
    if f.is_finite() && d.scale() != 0 {
        return Some(SchemaAndValue::new(
            Some(Schema::primitive(Type::Float32)),
            Value::Float32(f),
        ));
    }
    let v = d.to_f64();
    if v.is_finite() && d.scale() != 0 {
        return Some(SchemaAndValue::new(
            Some(Schema::primitive(Type::Float64)),
            Value::Float64(v),
        ));
    }
    let schema = logical::decimal_schema(d.scale()).build();
    Some(SchemaAndValue::new(
        Some(schema),
        Value::Decimal(d.into_decimal()),
    ))
}

fn parse_as_exact_decimal(d: &JavaDecimal) -> Option<SchemaAndValue> {
    let integral = d.exact_long()?;
    let (schema, value) = if integral as i8 as i64 == integral {
        (Type::Int8, Value::Int8(integral as i8))
    } else if integral as i16 as i64 == integral {
        (Type::Int16, Value::Int16(integral as i16))
    } else if integral as i32 as i64 == integral {
        (Type::Int32, Value::Int32(integral as i32))
    } else {
        (Type::Int64, Value::Int64(integral))
    };
    Some(SchemaAndValue::new(Some(Schema::primitive(schema)), value))
}

/// Kafka's `SchemaMerger`: the schema all values seen so far fit (numbers widen), until two
/// do not fit one.
#[derive(Default)]
struct SchemaMerger {
    common: Option<Schema>,
    incompatible: bool,
}

impl SchemaMerger {
    fn merge(&mut self, latest: Option<&SchemaAndValue>) {
        let Some(schema) = latest.and_then(|l| l.schema.as_ref()) else {
            return;
        };
        if self.incompatible {
            return;
        }
        self.common = match &self.common {
            None => Some(schema.clone()),
            Some(previous) => merge_schemas(previous, schema),
        };
        self.incompatible = self.common.is_none();
    }
}

/// Kafka's `mergeSchemas`: between numeric types the wider (in the order int8, int16, int32,
/// int64, float32, float64, logical types by their type); within one type the latest (without
/// looking inside arrays and maps); else none.
fn merge_schemas(previous: &Schema, latest: &Schema) -> Option<Schema> {
    fn rank(t: Type) -> Option<u8> {
        Some(match t {
            Type::Int8 => 0,
            Type::Int16 => 1,
            Type::Int32 => 2,
            Type::Int64 => 3,
            Type::Float32 => 4,
            Type::Float64 => 5,
            _ => return None,
        })
    }
    if previous.ty() != latest.ty() {
        let (a, b) = (rank(previous.ty())?, rank(latest.ty())?);
        return Some(if b > a { latest } else { previous }.clone());
    }
    if previous.is_optional() == latest.is_optional() {
        return Some(
            if previous.is_optional() {
                previous
            } else {
                latest
            }
            .clone(),
        );
    }
    (previous == latest).then(|| previous.clone())
}

/// `alignListEntriesWithSchema`: each element converted to the element schema.
fn align_list(schema: &Schema, values: Vec<Value>) -> Result<Vec<Value>, Failure> {
    let Some(elem) = schema.value_schema() else {
        return Ok(values);
    };
    values
        .iter()
        .map(|v| convert_to(elem, None, v).map_err(Failure::Data))
        .collect()
}

/// `alignMapKeysAndValuesWithSchema` / `alignMapKeysWithSchema`: keys (and values) converted
/// to the map's schemas, into a new `LinkedHashMap`.
fn align_map(
    schema: &Schema,
    entries: Vec<(Value, Value)>,
    values_too: bool,
) -> Result<Vec<(Value, Value)>, Failure> {
    let mut result = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let key = match schema.key_schema() {
            Some(ks) => convert_to(ks, None, &k)?,
            None => k,
        };
        let value = match (values_too, schema.value_schema()) {
            (true, Some(vs)) => convert_to(vs, None, &v)?,
            _ => v,
        };
        put(&mut result, key, value);
    }
    Ok(result)
}
