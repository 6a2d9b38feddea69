//! `INSERT INTO ... VALUES`: one record, its columns evaluated from literals and written in
//! the target's formats.

use std::time::Duration;

use datafusion_common::ScalarValue;
use rdkafka::producer::FutureRecord;
use sqlparser::ast as sql;

use super::eval::Evaluator;
use crate::engine::{key_format, value_format, Engine, KsqlError};
use crate::plan::compile;
use crate::plan::expr::{ExprPlanner, Scope};
use crate::types::SqlType;
use crate::value::{self, Row};

/// Writes the row `values` (for `columns`, or every column) into `target`.
pub async fn insert_values(
    engine: &Engine,
    target: &str,
    columns: &[String],
    values: &[sql::Expr],
) -> Result<(), KsqlError> {
    let source = engine
        .catalog()
        .source(target)
        .map_err(|_| {
            KsqlError::Statement(format!(
                "Cannot insert values into an unknown stream/table: `{target}`{}",
                engine.catalog().case_hint(target)
            ))
        })?
        .clone();
    if source.read_only {
        return Err(KsqlError::Statement(format!(
            "Cannot insert values into read-only {}: {target}",
            crate::engine::kind_word(source.kind)
        )));
    }
    let all: Vec<(String, SqlType)> = source.columns().cloned().collect();
    let names: Vec<String> = if columns.is_empty() {
        all.iter().map(|(n, _)| n.clone()).collect()
    } else {
        columns.to_vec()
    };
    let headers: Vec<&str> = names
        .iter()
        .filter(|n| source.header_columns().any(|(h, _)| h == *n))
        .map(String::as_str)
        .collect();
    if !headers.is_empty() {
        return Err(KsqlError::Statement(format!(
            "Cannot insert into HEADER columns: {}",
            headers.join(", ")
        )));
    }
    if names.len() != values.len() {
        return Err(KsqlError::Statement(if columns.is_empty() {
            format!(
                "Failed to prepare statement: Expected a value for each column. Expected Columns: [{}]. Got {}",
                names.join(", "),
                values.len()
            )
        } else {
            format!(
                "Failed to prepare statement: Expected number columns and values to match: {}, {}",
                names.len(),
                values.len()
            )
        }));
    }
    if let Some(pseudo) = names
        .iter()
        .find(|n| matches!(n.as_str(), "ROWPARTITION" | "ROWOFFSET"))
    {
        return Err(KsqlError::Statement(format!(
            "Inserting into column `{pseudo}` is not allowed."
        )));
    }
    let scope = Scope::default();
    let planner = ExprPlanner::new(&scope)?;
    let eval = Evaluator::new(&scope)?;
    let batch = eval.batch(&Vec::new()).map_err(KsqlError::Statement)?;
    let mut timestamp: Option<i64> = None;
    let mut given: std::collections::BTreeMap<String, ScalarValue> = Default::default();
    for (name, e) in names.iter().zip(values) {
        let ty = if name == "ROWTIME" {
            SqlType::Bigint
        } else {
            all.iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t.clone())
                .ok_or_else(|| {
                    KsqlError::Statement(format!("Column name {name} does not exist."))
                })?
        };
        // (a value cannot name a column)
        if let sql::Expr::CompoundIdentifier(parts) = e {
            if let Some(first) = parts.first() {
                return Err(KsqlError::Statement(format!(
                    "Failed to prepare statement: '{}' is not a valid stream/table name or alias.",
                    first.value.to_uppercase()
                )));
            }
        }
        let typed = planner.plan(e)?;
        let typed = planner.cast(typed, &ty)?;
        let v = Evaluator::eval(&compile(&planner, typed)?, &batch);
        if name == "ROWTIME" {
            if let ScalarValue::Int64(Some(t)) = v {
                timestamp = Some(t);
            }
        } else {
            given.insert(name.clone(), v);
        }
    }
    let row_of = |cols: &[(String, SqlType)]| -> Row {
        cols.iter()
            .map(|(n, t)| given.get(n).cloned().unwrap_or_else(|| value::null(t)))
            .collect()
    };
    let key = row_of(&source.key);
    let value = row_of(source.format_columns());
    let key_bytes = if key.iter().all(|v| v.is_null()) {
        None
    } else {
        key_format(&source)?
            .serialize(Some(key.as_slice()))
            .map_err(|e| KsqlError::Statement(e.to_string()))?
    };
    let value_bytes = value_format(&source)?
        .serialize(Some(value.as_slice()))
        .map_err(|e| KsqlError::Statement(e.to_string()))?;
    let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&source.topic);
    if let Some(k) = &key_bytes {
        record = record.key(k.as_slice());
    }
    if let Some(v) = &value_bytes {
        record = record.payload(v.as_slice());
    }
    if let Some(t) = timestamp {
        record = record.timestamp(t);
    }
    engine
        .producer()
        .send(record, Duration::from_secs(30))
        .await
        .map_err(|(e, _)| KsqlError::Kafka(format!("cannot write to {}: {e}", source.topic)))?;
    Ok(())
}
