//! Which casts ksqlDB allows (its `CastEvaluator`), and which of them Arrow's cast computes
//! as ksqlDB does; the others run [`crate::functions::cast`].

use crate::types::SqlType;

/// Whether `CAST(x AS to)` of a `from` is allowed.
pub fn supported(from: &SqlType, to: &SqlType) -> bool {
    use SqlType::*;
    if from == to {
        return true;
    }
    match (from, to) {
        (Array(a), Array(b)) => supported(a, b),
        (Map(ka, va), Map(kb, vb)) => supported(ka, kb) && supported(va, vb),
        (Struct(a), Struct(b)) => a.iter().all(|(n, t)| {
            b.iter()
                .find(|(m, _)| m == n)
                .is_none_or(|(_, u)| supported(t, u))
        }),
        (Array(_) | Map(..) | Struct(_), String) => true,
        (Boolean, String) => true,
        (
            Int | Bigint | Decimal { .. } | Double,
            Int | Bigint | Decimal { .. } | Double | String,
        ) => true,
        (String, Boolean | Int | Bigint | Decimal { .. } | Double)
        | (String, Timestamp | Time | Date | Bytes) => true,
        (Timestamp, String | Time | Date) | (Date, Timestamp | String) | (Time, String) => true,
        _ => false,
    }
}

/// Whether Arrow's cast of a `from` to `to` gives ksqlDB's values (else the cast runs ksqlDB's
/// rules: narrowing wraps, strings are trimmed, collections and structs convert element by
/// element and print as Java does).
pub fn arrow_casts_as_ksql(from: &SqlType, to: &SqlType) -> bool {
    use SqlType::*;
    let nested = |t: &SqlType| matches!(t, Array(_) | Map(..) | Struct(_));
    if nested(from) || nested(to) {
        return false;
    }
    !matches!(
        (from, to),
        (Bigint | Decimal { .. } | Double, Int)
            | (Decimal { .. } | Double, Bigint)
            | (Double, String)
            | (String, Boolean | Int | Bigint | Double)
    )
}
