//! ksqlDB's array and map functions, row by row.

use datafusion_common::ScalarValue;

use crate::types::SqlType;
use crate::value;

/// `ARRAY_LENGTH(a)`: the number of elements (null for a null array).
pub fn array_length(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let items = args.first().and_then(value::list_items);
    Ok(ScalarValue::Int32(
        items.map(|i| i32::try_from(i.len()).unwrap_or(i32::MAX)),
    ))
}

/// `AS_MAP(keys, values)`: the map of each key to the value at its position (null past the
/// end of the values); a later duplicate key wins. Null when either array is.
pub fn as_map(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(k), Some(v)) = (args.first(), args.get(1)) else {
        return Err("AS_MAP takes two arrays".into());
    };
    let value_ty = match v.data_type() {
        arrow::datatypes::DataType::List(f) => SqlType::from_arrow(f.data_type()),
        _ => None,
    }
    .ok_or("AS_MAP's values are not an array")?;
    let (Some(keys), Some(values)) = (value::list_items(k), value::list_items(v)) else {
        return Ok(value::null(&SqlType::Map(
            Box::new(SqlType::String),
            Box::new(value_ty),
        )));
    };
    let mut entries: Vec<(ScalarValue, ScalarValue)> = Vec::with_capacity(keys.len());
    for (i, key) in keys.into_iter().enumerate() {
        if key.is_null() {
            continue;
        }
        let val = values
            .get(i)
            .cloned()
            .unwrap_or_else(|| value::null(&value_ty));
        match entries.iter_mut().find(|(k, _)| *k == key) {
            Some(e) => e.1 = val,
            None => entries.push((key, val)),
        }
    }
    value::map(&entries, &SqlType::String, &value_ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> ScalarValue {
        let items: Vec<ScalarValue> = v
            .iter()
            .map(|s| ScalarValue::Utf8(Some(s.to_string())))
            .collect();
        value::list(&items, &SqlType::String).unwrap()
    }

    #[test]
    fn as_map_pairs_by_position() {
        let ints = value::list(
            &[ScalarValue::Int32(Some(1)), ScalarValue::Int32(Some(2))],
            &SqlType::Int,
        )
        .unwrap();
        let m = as_map(&[strings(&["a", "b", "a", "c"]), ints]).unwrap();
        assert_eq!(
            value::map_entries(&m).unwrap(),
            vec![
                (
                    ScalarValue::Utf8(Some("a".into())),
                    ScalarValue::Int32(None)
                ),
                (
                    ScalarValue::Utf8(Some("b".into())),
                    ScalarValue::Int32(Some(2))
                ),
                (
                    ScalarValue::Utf8(Some("c".into())),
                    ScalarValue::Int32(None)
                ),
            ]
        );
        assert_eq!(
            array_length(&[strings(&["x", "y"])]).unwrap(),
            ScalarValue::Int32(Some(2))
        );
    }
}
