//! The SQL of a querier's mode (Confluent's `TimestampIncrementingCriteria`) and its
//! timestamp parameters.

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

use super::config::Mode;
use crate::jdbc::dialect::quote;
use crate::jdbc::types::binary::{PG_EPOCH_DAYS, PG_EPOCH_MICROS};

/// The SQL of a querier: the base query and the criteria of its mode (parameters: `$1` end
/// timestamp, `$2` begin timestamp, `$3` incrementing value in timestamp+incrementing mode;
/// `$1` begin, `$2` end in timestamp mode; `$1` the incrementing value in incrementing mode).
pub fn build_sql(
    base: &str,
    mode: Mode,
    incrementing: Option<&str>,
    timestamps: &[String],
    suffix: &str,
) -> String {
    let ts = if timestamps.len() == 1 {
        quote(&timestamps[0])
    } else {
        format!(
            "COALESCE({})",
            timestamps
                .iter()
                .map(|t| quote(t))
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let inc = incrementing.map(quote).unwrap_or_default();
    let mut sql = base.to_string();
    match mode {
        Mode::Bulk => {}
        Mode::Incrementing => {
            sql.push_str(&format!(" WHERE {inc} > $1 ORDER BY {inc} ASC"));
        }
        Mode::Timestamp => {
            sql.push_str(&format!(" WHERE {ts} > $1 AND {ts} < $2 ORDER BY {ts} ASC"));
        }
        Mode::TimestampIncrementing => {
            sql.push_str(&format!(
                " WHERE {ts} < $1 AND (({ts} = $2 AND {inc} > $3) OR {ts} > $2) ORDER BY {ts},{inc} ASC"
            ));
        }
    }
    if !suffix.is_empty() {
        sql.push(' ');
        sql.push_str(suffix);
    }
    sql
}

/// A timestamp parameter: Unix microseconds, written as the column's type wants it.
#[derive(Debug)]
pub struct TsParam(pub i64);

impl ToSql for TsParam {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *ty {
            Type::TIMESTAMP | Type::TIMESTAMPTZ => out.put_i64(self.0 - PG_EPOCH_MICROS),
            Type::DATE => out.put_i32((self.0.div_euclid(86_400_000_000) - PG_EPOCH_DAYS) as i32),
            _ => return Err(format!("a timestamp column cannot be of type {}", ty.name()).into()),
        }
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

pub fn unix_micros((millis, nanos): (i64, i64)) -> i64 {
    millis.div_euclid(1000) * 1_000_000 + nanos.div_euclid(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_sql() {
        let base = "SELECT * FROM \"public\".\"t\"";
        assert_eq!(build_sql(base, Mode::Bulk, None, &[], ""), base);
        assert_eq!(
            build_sql(base, Mode::Incrementing, Some("id"), &[], ""),
            "SELECT * FROM \"public\".\"t\" WHERE \"id\" > $1 ORDER BY \"id\" ASC"
        );
        assert_eq!(
            build_sql(base, Mode::Timestamp, None, &["updated".into()], "FOR SHARE"),
            "SELECT * FROM \"public\".\"t\" WHERE \"updated\" > $1 AND \"updated\" < $2 ORDER BY \"updated\" ASC FOR SHARE"
        );
        assert_eq!(
            build_sql(
                base,
                Mode::TimestampIncrementing,
                Some("id"),
                &["modified".into(), "created".into()],
                ""
            ),
            "SELECT * FROM \"public\".\"t\" WHERE COALESCE(\"modified\",\"created\") < $1 AND \
             ((COALESCE(\"modified\",\"created\") = $2 AND \"id\" > $3) OR \
             COALESCE(\"modified\",\"created\") > $2) ORDER BY COALESCE(\"modified\",\"created\"),\"id\" ASC"
        );
    }
}
