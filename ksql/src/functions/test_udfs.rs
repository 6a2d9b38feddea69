//! The functions ksqlDB's test harness adds for its query-validation tests (from the
//! `ksqldb-engine` test jar), so the conformance runner plays those tests as ksqlDB does.
//! Only [`enable`] makes them callable, and only the runner calls it: no server knows them.
//!
//! `BAD_UDF` misbehaves on purpose: `BAD_UDF(INT)` always fails (declared `STRING`),
//! `BAD_UDF(BOOLEAN)` fails for true and returns 0 otherwise (`INT`), and `BAD_UDF(STRING)`
//! returns null on every other call, counted per use in a query (`STRING`). A failing call is
//! null, as every function's failure is (the row it keys is then left out of a `GROUP BY`).

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion_common::ScalarValue;
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::rowfn::row_udf;
use crate::plan::expr::{udf_call, ExprPlanner, Typed};
use crate::plan::PlanError;
use crate::types::SqlType;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Makes ksqlDB's test functions callable in this process (the conformance runner's).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Plans `name(args)` when it is a test function and they are enabled.
pub(super) fn call(
    p: &ExprPlanner<'_>,
    name: &str,
    args: &[Typed],
) -> Option<Result<Typed, PlanError>> {
    if name != "BAD_UDF" || !ENABLED.load(Ordering::Relaxed) {
        return None;
    }
    let udf = match args.iter().map(|a| &a.ty).collect::<Vec<_>>().as_slice() {
        [SqlType::Int] => row_udf("BAD_UDF", DataType::Utf8, |_| Err("boom!".into())),
        [SqlType::Boolean] => row_udf("BAD_UDF", DataType::Int32, |args| match args {
            [ScalarValue::Boolean(Some(false))] => Ok(ScalarValue::Int32(Some(0))),
            _ => Err("You asked me to throw...".into()),
        }),
        [SqlType::String] => Arc::new(ScalarUDF::new_from_impl(EveryOtherNull {
            signature: Signature::any(1, Volatility::Volatile),
            calls: AtomicU64::new(0),
        })),
        _ => return Some(Err(super::refused(name, args))),
    };
    Some(udf_call(p, udf, args.to_vec()))
}

/// `BAD_UDF(STRING)`: null on the first call and every other one after, else its argument.
#[derive(Debug)]
struct EveryOtherNull {
    signature: Signature,
    calls: AtomicU64,
}

// (each use keeps its own count: one use equals only itself)
impl PartialEq for EveryOtherNull {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for EveryOtherNull {}

impl Hash for EveryOtherNull {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::ptr::hash(self, state);
    }
}

impl ScalarUDFImpl for EveryOtherNull {
    fn name(&self) -> &str {
        "BAD_UDF"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> datafusion_common::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion_common::Result<ColumnarValue> {
        let mut out = Vec::with_capacity(args.number_rows);
        for i in 0..args.number_rows {
            let v = match &args.args[0] {
                ColumnarValue::Scalar(s) => s.clone(),
                ColumnarValue::Array(a) => ScalarValue::try_from_array(a, i)?,
            };
            let n = self.calls.fetch_add(1, Ordering::Relaxed);
            out.push(if n % 2 == 0 {
                ScalarValue::Utf8(None)
            } else {
                v
            });
        }
        if out.is_empty() {
            return Ok(ColumnarValue::Array(arrow::array::new_empty_array(
                &DataType::Utf8,
            )));
        }
        Ok(ColumnarValue::Array(ScalarValue::iter_to_array(out)?))
    }
}
