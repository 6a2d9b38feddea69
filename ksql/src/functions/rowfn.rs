//! Scalar functions written row by row over `ScalarValue`s: the shape of most of ksqlDB's
//! functions, whose exact semantics (1-based positions counted from either end, nulls) differ
//! from DataFusion's built-ins.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion_common::{DataFusionError, ScalarValue};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// A function of one row's argument values.
pub type RowFn = fn(&[ScalarValue]) -> Result<ScalarValue, String>;

/// A scalar UDF evaluating a [`RowFn`] on each row.
#[derive(Debug)]
pub struct RowUdf {
    name: &'static str,
    signature: Signature,
    ret: DataType,
    f: RowFn,
}

impl PartialEq for RowUdf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.ret == other.ret
    }
}

impl Eq for RowUdf {}

impl Hash for RowUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.ret.hash(state);
    }
}

/// The UDF `name` computing `f`, returning values of `ret`.
pub fn row_udf(name: &'static str, ret: DataType, f: RowFn) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(RowUdf {
        name,
        signature: Signature::variadic_any(Volatility::Immutable),
        ret,
        f,
    }))
}

impl ScalarUDFImpl for RowUdf {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> datafusion_common::Result<DataType> {
        Ok(self.ret.clone())
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion_common::Result<ColumnarValue> {
        each_row(self.name, &self.ret, &args, self.f)
    }
}

/// `f` of each row's argument values, as an array of `ret`: a row whose `f` fails is null
/// (and logged), as a ksqlDB function that throws gives null.
pub fn each_row(
    name: &str,
    ret: &DataType,
    args: &ScalarFunctionArgs,
    f: impl Fn(&[ScalarValue]) -> Result<ScalarValue, String>,
) -> datafusion_common::Result<ColumnarValue> {
    let rows = args.number_rows;
    let mut out = Vec::with_capacity(rows);
    let mut values = Vec::with_capacity(args.args.len());
    for i in 0..rows {
        values.clear();
        for a in &args.args {
            values.push(match a {
                ColumnarValue::Scalar(s) => s.clone(),
                ColumnarValue::Array(array) => ScalarValue::try_from_array(array, i)?,
            });
        }
        let v = match f(&values) {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(function = name, error = %e, "function failed: null");
                ScalarValue::try_new_null(ret)?
            }
        };
        out.push(v);
    }
    let array = crate::value::array_of(&out, ret).map_err(DataFusionError::Execution)?;
    Ok(ColumnarValue::Array(array))
}
