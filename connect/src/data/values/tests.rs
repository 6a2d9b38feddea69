use super::*;
use crate::data::{SchemaBuilder, Struct};

fn parsed(text: &str) -> (Option<Schema>, Value) {
    let sv = parse_string(text);
    (sv.schema, sv.value)
}

fn ty(text: &str) -> Option<Type> {
    parse_string(text).schema.map(|s| s.ty())
}

fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

#[test]
fn numbers_take_the_smallest_type() {
    assert_eq!(parsed("1").1, Value::Int8(1));
    assert_eq!(parsed("-128").1, Value::Int8(-128));
    assert_eq!(parsed("128").1, Value::Int16(128));
    assert_eq!(parsed("40000").1, Value::Int32(40000));
    assert_eq!(parsed("3000000000").1, Value::Int64(3_000_000_000));
    assert_eq!(parsed("+7").1, Value::Int8(7));
    assert_eq!(parsed("1.000").1, Value::Int8(1));
    assert_eq!(parsed("1e2").1, Value::Int8(100));
    // not whole, or tiny: float32 (when finite), else float64, else a Decimal
    assert_eq!(parsed("1.5").1, Value::Float32(1.5));
    assert_eq!(parsed("0.1").1, Value::Float32(0.1));
    assert_eq!(parsed("1e-50").1, Value::Float32(0.0));
    assert_eq!(parsed("1e300").1, Value::Float64(1e300));
    assert_eq!(parsed("1e19").1, Value::Float32(1e19));
    let (schema, value) = parsed("12345678901234567890");
    assert_eq!(schema.unwrap().name(), Some(logical::DECIMAL));
    assert_eq!(
        value,
        Value::Decimal(Decimal::parse("12345678901234567890").unwrap())
    );
    let (schema, _) = parsed("1e400");
    assert_eq!(schema.unwrap().parameter("scale"), Some("-400"));
    // other scripts' digits
    assert_eq!(parsed("١٢").1, Value::Int8(12));
}

#[test]
fn literals_and_strings() {
    assert_eq!(parse_string("null"), SchemaAndValue::NULL);
    assert_eq!(parsed("true").1, Value::Boolean(true));
    assert_eq!(parsed(" false ").1, Value::Boolean(false));
    assert_eq!(parsed("true}").1, s("true}"));
    assert_eq!(parsed("").1, s(""));
    assert_eq!(parsed("   ").1, s("   "));
    assert_eq!(parsed("hello world").1, s("hello world"));
    // a top-level quoted string keeps its quotes
    assert_eq!(parsed("\"x\"").1, s("\"x\""));
    // a number, a time or a date, then anything: the first part only
    assert_eq!(parsed("1,2,3").1, Value::Int8(1));
    assert_eq!(parsed("12:00:00.000Z,foo").1, Value::Date(12 * 3_600_000));
}

#[test]
fn dates_times_and_timestamps() {
    let (schema, value) = parsed("2020-01-01");
    assert_eq!(schema.unwrap().name(), Some(logical::DATE));
    assert_eq!(value, Value::Date(18_262 * MILLIS_PER_DAY));
    let (schema, value) = parsed(" 12:34:56.789Z");
    assert_eq!(schema.unwrap().name(), Some(logical::TIME));
    assert_eq!(value, Value::Date(45_296_789));
    let (schema, value) = parsed("2023-11-14T22:13:20.123Z");
    assert_eq!(schema.unwrap().name(), Some(logical::TIMESTAMP));
    assert_eq!(value, Value::Date(1_700_000_000_123));
    assert_eq!(ty("2020-01-01x"), Some(Type::String));
}

#[test]
fn arrays_and_maps_infer_schemas() {
    let (schema, value) = parsed("[1, 1000, 2.5]");
    let schema = schema.unwrap();
    assert_eq!(schema.value_schema().unwrap().ty(), Type::Float32);
    assert_eq!(
        value,
        Value::Array(vec![
            Value::Float32(1.0),
            Value::Float32(1000.0),
            Value::Float32(2.5)
        ])
    );
    let (schema, value) = parsed(r#"{"a":1,"b":[true],"a":300}"#);
    assert_eq!(ty(r#"{"a":1,"b":[true],"a":300}"#), Some(Type::Map));
    let schema = schema.unwrap();
    assert_eq!(schema.key_schema().unwrap().ty(), Type::String);
    // int8, then array: no common value schema, so the values stay as they are and the map
    // has no value schema (Kafka's `mapWithNullValues`)
    assert!(schema.value_schema().is_none());
    assert_eq!(
        value,
        Value::Map(vec![
            (s("a"), Value::Int16(300)),
            (s("b"), Value::Array(vec![Value::Boolean(true)]))
        ])
    );
    // mixed types: an array schema without element schema
    let (schema, value) = parsed(r#"[1,"a",null]"#);
    assert!(schema.unwrap().value_schema().is_none());
    assert_eq!(
        value,
        Value::Array(vec![Value::Int8(1), s("a"), Value::Null])
    );
    // quoted strings keep escapes and may be dates
    let (_, value) = parsed(r#"["a\"b", "2020-01-01"]"#);
    assert_eq!(
        value,
        Value::Array(vec![s("a\\\"b"), Value::Date(18_262 * MILLIS_PER_DAY)])
    );
    // a number merged with a date takes the date's schema, as Kafka
    let (schema, value) = parsed(r#"[1, "2020-01-01"]"#);
    assert_eq!(
        schema.unwrap().value_schema().unwrap().name(),
        Some(logical::DATE)
    );
    assert_eq!(
        value,
        Value::Array(vec![
            Value::Date(MILLIS_PER_DAY),
            Value::Date(18_262 * MILLIS_PER_DAY)
        ])
    );
    // a trailing comma is fine
    assert_eq!(parsed("[1, ]").1, Value::Array(vec![Value::Int8(1)]));
}

#[test]
fn what_does_not_parse_is_a_string() {
    for text in [
        "[1,null]",
        r#"{"a":1,"b":null}"#,
        "[1,2",
        "[,1]",
        "{a:1}",
        r#"{"a" 1}"#,
        r#"{null:1}"#,
        "[1 2]",
        "[1,x]",
        "{,}",
        r#"[1, "12:00:00.000Z", 100000000]"#,
    ] {
        assert_eq!(parsed(text).1, s(text), "{text}");
    }
}

#[test]
fn deep_nesting_gives_up_where_java_overflows() {
    let n = parse::MAX_DEPTH + 1;
    let deep = "[".repeat(n) + &"]".repeat(n);
    assert!(try_parse_string(&deep).is_err());
    assert_eq!(parse_string(&deep).value, s(&deep));
    // as deep as Java goes parses, from a thread with a small stack too
    let n = parse::MAX_DEPTH;
    let ok = "[".repeat(n) + "1" + &"]".repeat(n);
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let mut value = &try_parse_string(&ok).unwrap().value;
            let mut depth = 0;
            while let Value::Array(items) = value {
                depth += 1;
                value = &items[0];
            }
            depth
        })
        .unwrap();
    assert_eq!(handle.join().unwrap(), n);
    // many small arrays are not deep
    let wide = format!("[{}[1]]", "[1],".repeat(100));
    assert_eq!(ty(&wide), Some(Type::Array));
}

#[test]
fn leading_whitespace_before_a_broken_array_is_all_that_is_left() {
    assert_eq!(parsed("  [1,x]").1, s("  "));
    assert_eq!(
        parsed(" [1,2]").1,
        Value::Array(vec![Value::Int8(1), Value::Int8(2)])
    );
}

#[test]
fn strings_as_kafka_writes_them() {
    let text = |v: &Value| convert_to_string(None, v).unwrap();
    assert_eq!(convert_to_string(None, &Value::Null), None);
    assert_eq!(text(&s("a\"b")), "a\"b");
    assert_eq!(text(&Value::Float64(1e10)), "1.0E10");
    assert_eq!(text(&Value::Bytes(vec![1, 2, 3])), "AQID");
    assert_eq!(
        text(&Value::Decimal(Decimal::parse("1E+3").unwrap())),
        "1E+3"
    );
    assert_eq!(
        text(&Value::Array(vec![
            s("a\"\\"),
            Value::Null,
            Value::Bytes(vec![0xff]),
            Value::Date(MILLIS_PER_DAY)
        ])),
        r#"["a\"\\",null,"/w==",1970-01-02]"#
    );
    assert_eq!(
        text(&Value::Map(vec![(Value::Int8(1), Value::Boolean(true))])),
        "{1:true}"
    );
    let schema = SchemaBuilder::struct_()
        .field("a", Schema::optional(Type::Int32))
        .unwrap()
        .field(
            "b",
            SchemaBuilder::new(Type::String)
                .optional()
                .default_value(s("dflt"))
                .unwrap()
                .build(),
        )
        .unwrap()
        .build();
    let st = Struct::new(schema).unwrap();
    assert_eq!(text(&Value::Struct(st)), r#"{"a":null,"b":"dflt"}"#);
}

#[test]
fn conversions_as_kafka() {
    assert_eq!(convert_to_integer(None, &s("42")), Ok(Some(42)));
    assert_eq!(convert_to_integer(None, &s("4.9")), Ok(Some(4)));
    assert_eq!(convert_to_integer(None, &s("4294967297")), Ok(Some(1)));
    assert_eq!(convert_to_byte(None, &Value::Int32(300)), Ok(Some(44)));
    assert_eq!(
        convert_to_long(None, &Value::Float64(1e30)),
        Ok(Some(i64::MAX))
    );
    assert_eq!(
        convert_to_long(None, &Value::Float32(f32::NAN)),
        Ok(Some(0))
    );
    assert_eq!(convert_to_float(None, &s("0.1")), Ok(Some(0.1)));
    assert_eq!(convert_to_double(None, &Value::Int64(3)), Ok(Some(3.0)));
    assert_eq!(convert_to_boolean(None, &s("true")), Ok(Some(true)));
    assert_eq!(convert_to_boolean(None, &s("0.5")), Ok(Some(false)));
    assert_eq!(convert_to_boolean(None, &Value::Int8(2)), Ok(Some(true)));
    assert_eq!(convert_to_short(None, &Value::Null), Ok(None));
    assert_eq!(
        convert_to_integer(None, &s("abc")).unwrap_err().message(),
        "Unable to convert abc (class java.lang.String) to a number"
    );
    assert_eq!(
        convert_to_integer(None, &Value::Boolean(true))
            .unwrap_err()
            .message(),
        "Unable to convert true (class java.lang.Boolean) to a number"
    );
    let int32 = Schema::primitive(Type::Int32);
    assert_eq!(
        convert_to_long(Some(&int32), &s("x"))
            .unwrap_err()
            .message(),
        "Unable to convert x (class java.lang.String) to Schema{INT32}"
    );
    // dates as numbers need their logical schema
    let date = logical::date_schema().build();
    let day = Value::Date(3 * MILLIS_PER_DAY);
    assert_eq!(convert_to_integer(Some(&date), &day), Ok(Some(3)));
    let time = logical::time_schema().build();
    assert_eq!(
        convert_to_long(Some(&time), &Value::Date(MILLIS_PER_DAY)),
        Ok(Some(MILLIS_PER_DAY))
    );
    assert_eq!(
        convert_to_short(None, &s(" 5")).unwrap_err().message(),
        "Unable to convert  5 (class java.lang.String) to a number"
    );
    assert_eq!(convert_to_integer(None, &s("١٢")), Ok(Some(12)));
    assert_eq!(convert_to_boolean(None, &s("true ")), Ok(Some(true)));
    assert_eq!(
        convert_to_double(None, &s("1e400")),
        Ok(Some(f64::INFINITY))
    );
    assert_eq!(
        convert_to_float(None, &Value::Int64(9_007_199_254_740_993)),
        Ok(Some(9_007_199_254_740_992.0))
    );
    let big = Decimal::parse("18446744073709551617.9").unwrap();
    assert_eq!(convert_to_long(None, &Value::Decimal(big)), Ok(Some(1)));
    assert_eq!(
        convert_to_long(None, &day).unwrap_err().message(),
        "Unable to convert Sun Jan 04 00:00:00 UTC 1970 (class java.util.Date) to a number"
    );
}
