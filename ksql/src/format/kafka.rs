//! The KAFKA format: one column in Kafka's own serializers' bytes (Integer, Long, Double,
//! String, Bytes).

use datafusion_common::ScalarValue;

use crate::types::SqlType;

/// Refuses the types Kafka's serializers do not have.
pub fn check_type(t: &SqlType) -> Result<(), String> {
    match t {
        SqlType::Int | SqlType::Bigint | SqlType::Double | SqlType::String | SqlType::Bytes => {
            Ok(())
        }
        other => Err(format!(
            "The 'KAFKA' format does not support type '{}'",
            match other {
                SqlType::Decimal { .. } => "DECIMAL".to_string(),
                SqlType::Array(_) => "ARRAY".to_string(),
                SqlType::Map(..) => "MAP".to_string(),
                SqlType::Struct(_) => "STRUCT".to_string(),
                t => t.to_string(),
            }
        )),
    }
}

/// The bytes of a value.
pub fn serialize(v: &ScalarValue) -> Result<Option<Vec<u8>>, String> {
    if v.is_null() {
        return Ok(None);
    }
    Ok(Some(match v {
        ScalarValue::Int32(Some(n)) => n.to_be_bytes().to_vec(),
        ScalarValue::Int64(Some(n)) => n.to_be_bytes().to_vec(),
        ScalarValue::Float64(Some(f)) => f.to_be_bytes().to_vec(),
        ScalarValue::Utf8(Some(s)) => s.as_bytes().to_vec(),
        ScalarValue::Binary(Some(b)) => b.clone(),
        other => {
            return Err(format!(
                "The 'KAFKA' format does not support type '{}'",
                other.data_type()
            ))
        }
    }))
}

/// The value of type `t` in `b`.
pub fn deserialize(b: &[u8], t: &SqlType) -> Result<ScalarValue, String> {
    let size = |n: usize, what: &str| {
        if b.len() == n {
            Ok(())
        } else {
            Err(format!(
                "Size of data received by {what}Deserializer is not {n}"
            ))
        }
    };
    Ok(match t {
        SqlType::Int => {
            size(4, "Integer")?;
            ScalarValue::Int32(Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]])))
        }
        SqlType::Bigint => {
            size(8, "Long")?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            ScalarValue::Int64(Some(i64::from_be_bytes(a)))
        }
        SqlType::Double => {
            size(8, "Double")?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            ScalarValue::Float64(Some(f64::from_be_bytes(a)))
        }
        SqlType::String => ScalarValue::Utf8(Some(
            String::from_utf8(b.to_vec()).map_err(|e| format!("not UTF-8: {e}"))?,
        )),
        SqlType::Bytes => ScalarValue::Binary(Some(b.to_vec())),
        other => {
            return Err(format!(
                "The 'KAFKA' format does not support type '{other}'"
            ))
        }
    })
}
