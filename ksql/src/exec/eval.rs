//! Evaluating compiled expressions on rows: a row becomes a one-row Arrow record batch that
//! DataFusion's physical expressions read.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion_common::ScalarValue;
use datafusion_expr::ColumnarValue;

use crate::plan::expr::Scope;
use crate::plan::{Compiled, PlanError};
use crate::value::Row;

/// Turns rows of a scope into record batches and evaluates expressions on them.
#[derive(Debug, Clone)]
pub struct Evaluator {
    schema: SchemaRef,
}

impl Evaluator {
    /// An evaluator for rows of `scope`.
    pub fn new(scope: &Scope) -> Result<Evaluator, PlanError> {
        Ok(Evaluator {
            schema: Arc::new(scope.df_schema()?.as_arrow().clone()),
        })
    }

    /// Whether `row`'s value `i` has the Arrow type the scope's column `i` has (so that it
    /// can be copied as an expression reading that column would give it).
    pub fn has_type(&self, row: &Row, i: usize) -> bool {
        match (row.get(i), self.schema.fields().get(i)) {
            (Some(v), Some(f)) => v.data_type() == *f.data_type(),
            _ => false,
        }
    }

    /// The column an expression only reads, as it is (`None` for any other expression).
    pub fn column_of(c: &Compiled) -> Option<usize> {
        c.physical
            .downcast_ref::<datafusion_physical_expr::expressions::Column>()
            .map(|col| col.index())
    }

    /// The one-row batch of `row`.
    pub fn batch(&self, row: &Row) -> Result<RecordBatch, String> {
        let columns = row
            .iter()
            .zip(self.schema.fields())
            .map(|(v, f)| {
                let a = v.to_array_of_size(1).map_err(|e| e.to_string())?;
                if a.data_type() == f.data_type() {
                    Ok(a)
                } else {
                    arrow::compute::cast(&a, f.data_type()).map_err(|e| e.to_string())
                }
            })
            .collect::<Result<Vec<_>, String>>()?;
        // (a row of no columns still is one row: INSERT VALUES evaluates literals on it)
        let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(1));
        RecordBatch::try_new_with_options(Arc::clone(&self.schema), columns, &options)
            .map_err(|e| e.to_string())
    }

    /// The value of `c` on the one-row `batch` (an evaluation error, such as a division by
    /// zero, gives a null, as ksqlDB's expressions do).
    pub fn eval(c: &Compiled, batch: &RecordBatch) -> ScalarValue {
        let null = || crate::value::null(&c.ty);
        match c.physical.evaluate(batch) {
            Ok(ColumnarValue::Scalar(s)) => s,
            Ok(ColumnarValue::Array(a)) => {
                ScalarValue::try_from_array(&a, 0).unwrap_or_else(|_| null())
            }
            Err(e) => {
                tracing::debug!(error = %e, "expression evaluation failed: null");
                null()
            }
        }
    }

    /// Whether the boolean `c` is true on `batch` (null and errors are not).
    pub fn is_true(c: &Compiled, batch: &RecordBatch) -> bool {
        matches!(Evaluator::eval(c, batch), ScalarValue::Boolean(Some(true)))
    }
}
