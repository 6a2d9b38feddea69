//! Values of SQL types as DataFusion's `ScalarValue`s: typed nulls, and building and reading
//! arrays, maps and structs.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, MapArray, StructArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Fields};
use datafusion_common::ScalarValue;

use crate::types::SqlType;

/// A row: one value per column, in the schema's order.
pub type Row = Vec<ScalarValue>;

/// The null of `ty`.
pub fn null(ty: &SqlType) -> ScalarValue {
    ScalarValue::try_new_null(&ty.arrow()).unwrap_or(ScalarValue::Null)
}

/// An array of `ty` values from scalars of that type.
pub fn array_of(values: &[ScalarValue], ty: &DataType) -> Result<ArrayRef, String> {
    if values.is_empty() {
        return Ok(arrow::array::new_empty_array(ty));
    }
    let array = ScalarValue::iter_to_array(values.iter().cloned()).map_err(|e| e.to_string())?;
    if array.data_type() == ty {
        Ok(array)
    } else {
        arrow::compute::cast(&array, ty).map_err(|e| e.to_string())
    }
}

/// `ARRAY<item>` of `values`.
pub fn list(values: &[ScalarValue], item: &SqlType) -> Result<ScalarValue, String> {
    let array = array_of(values, &item.arrow())?;
    let field = Arc::new(Field::new("item", item.arrow(), true));
    let offsets = OffsetBuffer::from_lengths([values.len()]);
    let list =
        arrow::array::ListArray::try_new(field, offsets, array, None).map_err(|e| e.to_string())?;
    Ok(ScalarValue::List(Arc::new(list)))
}

/// `MAP<k, v>` of `entries`.
pub fn map(
    entries: &[(ScalarValue, ScalarValue)],
    k: &SqlType,
    v: &SqlType,
) -> Result<ScalarValue, String> {
    let keys: Vec<ScalarValue> = entries.iter().map(|(k, _)| k.clone()).collect();
    let values: Vec<ScalarValue> = entries.iter().map(|(_, v)| v.clone()).collect();
    let DataType::Map(entries_field, _) =
        SqlType::Map(Box::new(k.clone()), Box::new(v.clone())).arrow()
    else {
        return Err("not a map type".into());
    };
    let DataType::Struct(kv_fields) = entries_field.data_type().clone() else {
        return Err("not a map type".into());
    };
    let kv = StructArray::try_new(
        kv_fields,
        vec![array_of(&keys, &k.arrow())?, array_of(&values, &v.arrow())?],
        None,
    )
    .map_err(|e| e.to_string())?;
    let offsets = OffsetBuffer::from_lengths([entries.len()]);
    let map =
        MapArray::try_new(entries_field, offsets, kv, None, false).map_err(|e| e.to_string())?;
    Ok(ScalarValue::Map(Arc::new(map)))
}

/// `STRUCT<...>` of `values`, one per field of `fields`.
pub fn strukt(fields: &[(String, SqlType)], values: &[ScalarValue]) -> Result<ScalarValue, String> {
    let arrow_fields: Fields = fields
        .iter()
        .map(|(n, t)| Field::new(n, t.arrow(), true))
        .collect::<Vec<_>>()
        .into();
    let arrays = fields
        .iter()
        .zip(values)
        .map(|((_, t), v)| array_of(std::slice::from_ref(v), &t.arrow()))
        .collect::<Result<Vec<_>, _>>()?;
    let s = StructArray::try_new(arrow_fields, arrays, None).map_err(|e| e.to_string())?;
    Ok(ScalarValue::Struct(Arc::new(s)))
}

/// The elements of an array value (`None`: null).
pub fn list_items(v: &ScalarValue) -> Option<Vec<ScalarValue>> {
    let ScalarValue::List(l) = v else { return None };
    if l.is_null(0) {
        return None;
    }
    let items = l.value(0);
    Some(
        (0..items.len())
            .map(|i| ScalarValue::try_from_array(&items, i).unwrap_or(ScalarValue::Null))
            .collect(),
    )
}

/// The entries of a map value (`None`: null).
pub fn map_entries(v: &ScalarValue) -> Option<Vec<(ScalarValue, ScalarValue)>> {
    let ScalarValue::Map(m) = v else { return None };
    if m.is_null(0) {
        return None;
    }
    let entries = m.value(0);
    let keys = entries.column(0);
    let values = entries.column(1);
    Some(
        (0..entries.len())
            .map(|i| {
                (
                    ScalarValue::try_from_array(keys, i).unwrap_or(ScalarValue::Null),
                    ScalarValue::try_from_array(values, i).unwrap_or(ScalarValue::Null),
                )
            })
            .collect(),
    )
}

/// The fields of a struct value, by name (`None`: null).
pub fn struct_fields(v: &ScalarValue) -> Option<Vec<(String, ScalarValue)>> {
    let ScalarValue::Struct(s) = v else {
        return None;
    };
    if s.is_null(0) {
        return None;
    }
    Some(
        s.fields()
            .iter()
            .zip(s.columns())
            .map(|(f, c)| {
                (
                    f.name().clone(),
                    ScalarValue::try_from_array(c, 0).unwrap_or(ScalarValue::Null),
                )
            })
            .collect(),
    )
}
