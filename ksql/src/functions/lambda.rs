//! ksqlDB's lambda functions: `TRANSFORM`, `FILTER` and `REDUCE` over arrays and maps.
//!
//! A lambda's body is planned over the columns in scope and the lambda's parameters (which
//! hide columns of the same name), then compiled to a physical expression over a schema of its
//! own: the parameters first, then the outer columns the body reads. The call passes those
//! outer columns as further arguments, so the body is evaluated once per collection on a batch
//! of the collection's elements (`REDUCE` folds element by element). Nested lambdas work the
//! same way: an inner call's outer columns are columns of the outer lambda's schema.
//!
//! As in ksqlDB: a null collection gives null (`REDUCE`: its initial state), a null initial
//! state gives null, and a map whose keys collide after `TRANSFORM`, a null `FILTER`
//! predicate, or a null map key or value gives null for the whole call.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, ListArray, RecordBatch, RecordBatchOptions};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, SchemaRef};
use datafusion_common::tree_node::{Transformed, TreeNode};
use datafusion_common::{Column, DataFusionError, ScalarValue};
use datafusion_expr::expr::ScalarFunction;
use datafusion_expr::{
    BinaryExpr, ColumnarValue, Expr, Operator, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion_physical_expr::PhysicalExpr;
use sqlparser::ast as sql;

use crate::plan::expr::{ExprPlanner, Scope, ScopeColumn, Typed};
use crate::plan::PlanError;
use crate::types::SqlType;

/// The lambda functions.
pub const NAMES: [&str; 3] = ["FILTER", "REDUCE", "TRANSFORM"];

/// Whether `name(args)` is a lambda function's call (one of its arguments is a lambda).
pub fn is_call(name: &str, args: &[sql::Expr]) -> bool {
    NAMES.contains(&name) && args.iter().any(|a| matches!(a, sql::Expr::Lambda(_)))
}

/// What a call does, by function and collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    TransformArray,
    TransformMap,
    FilterArray,
    FilterMap,
    ReduceArray,
    ReduceMap,
}

/// A compiled lambda body.
#[derive(Debug)]
struct Lambda {
    body: Arc<dyn PhysicalExpr>,
    ty: SqlType,
    /// `ty`'s Arrow type.
    arrow_ty: DataType,
    schema: SchemaRef,
}

/// Plans `name(args)`, a lambda function's call.
pub fn plan(p: &ExprPlanner<'_>, name: &str, args: &[sql::Expr]) -> Result<Typed, PlanError> {
    let refused = |args: &[sql::Expr]| {
        PlanError::Invalid(format!(
            "Function '{}' does not accept parameters ({}).",
            name.to_lowercase(),
            args.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    };
    let Some(collection_arg) = args.first() else {
        return Err(refused(args));
    };
    let collection = p.plan(collection_arg)?;
    let reduce = name == "REDUCE";
    let init = if reduce {
        let Some(a) = args.get(1) else {
            return Err(refused(args));
        };
        let init = p.plan(a)?;
        if crate::plan::expr::is_null_literal(&init.expr) {
            return Err(PlanError::Invalid(
                "REDUCE's initial state cannot be an untyped null: cast it to a type".into(),
            ));
        }
        Some(init)
    } else {
        None
    };
    let lambdas: Vec<&sql::LambdaFunction> = args[if reduce { 2 } else { 1 }..]
        .iter()
        .map(|a| match a {
            sql::Expr::Lambda(l) => Ok(l),
            _ => Err(refused(args)),
        })
        .collect::<Result<_, _>>()?;
    let state = init.as_ref().map(|i| i.ty.clone());
    let (kind, params): (Kind, Vec<SqlType>) = match (name, &collection.ty) {
        ("TRANSFORM", SqlType::Array(t)) => (Kind::TransformArray, vec![(**t).clone()]),
        ("TRANSFORM", SqlType::Map(k, v)) => {
            (Kind::TransformMap, vec![(**k).clone(), (**v).clone()])
        }
        ("FILTER", SqlType::Array(t)) => (Kind::FilterArray, vec![(**t).clone()]),
        ("FILTER", SqlType::Map(k, v)) => (Kind::FilterMap, vec![(**k).clone(), (**v).clone()]),
        ("REDUCE", SqlType::Array(t)) => (
            Kind::ReduceArray,
            vec![state.clone().unwrap_or(SqlType::Bigint), (**t).clone()],
        ),
        ("REDUCE", SqlType::Map(k, v)) => (
            Kind::ReduceMap,
            vec![
                state.clone().unwrap_or(SqlType::Bigint),
                (**k).clone(),
                (**v).clone(),
            ],
        ),
        _ => return Err(refused(args)),
    };
    let lambda_count = if kind == Kind::TransformMap { 2 } else { 1 };
    if lambdas.len() != lambda_count {
        return Err(refused(args));
    }

    // each body over the scope's columns and the parameters, then the outer columns read
    let scope = p.scope();
    let mut bodies = Vec::with_capacity(lambdas.len());
    for l in &lambdas {
        let names = parameter_names(l)?;
        if names.len() != params.len() {
            return Err(PlanError::Invalid(format!(
                "Function '{}' takes a lambda of {} argument{} here, not {}: {l}",
                name.to_lowercase(),
                params.len(),
                if params.len() == 1 { "" } else { "s" },
                names.len()
            )));
        }
        let inner = lambda_scope(scope, &names, &params);
        let planner = ExprPlanner::new(&inner)?;
        let body = planner.plan(&l.body)?;
        bodies.push(Typed {
            expr: strict_arithmetic(&planner, body.expr)?,
            ty: body.ty,
        });
    }
    let outer = scope.columns.len();
    let mut read: Vec<usize> = bodies
        .iter()
        .flat_map(|b| b.expr.column_refs())
        .filter_map(|c| column_index(&c.name))
        .filter(|i| *i < outer)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    read.sort_unstable();
    let mut compact = Scope::default();
    for (i, ty) in params.iter().enumerate() {
        compact.columns.push(ScopeColumn {
            qualifier: None,
            name: format!("P{i}"),
            ty: ty.clone(),
        });
    }
    for i in &read {
        compact.columns.push(scope.columns[*i].clone());
    }
    let compact_planner = ExprPlanner::new(&compact)?;
    let schema: SchemaRef = Arc::new(compact_planner.schema().as_arrow().clone());
    let mut compiled = Vec::with_capacity(bodies.len());
    for body in bodies {
        let ty = body.ty.clone();
        let expr = body
            .expr
            .transform(|e| match e {
                Expr::Column(c) => {
                    let i = column_index(&c.name).ok_or_else(|| {
                        DataFusionError::Internal(format!("unknown column {}", c.name))
                    })?;
                    let to = if i >= outer {
                        i - outer
                    } else {
                        params.len() + read.binary_search(&i).unwrap_or_default()
                    };
                    Ok(Transformed::yes(Expr::Column(Column::from_name(
                        Scope::field_name(to),
                    ))))
                }
                other => Ok(Transformed::no(other)),
            })
            .map_err(|e| PlanError::Internal(e.to_string()))?
            .data;
        let c = crate::plan::compile(&compact_planner, Typed { expr, ty })?;
        compiled.push(Lambda {
            body: c.physical,
            arrow_ty: c.ty.arrow(),
            ty: c.ty,
            schema: Arc::clone(&schema),
        });
    }

    let ret = match kind {
        Kind::TransformArray => SqlType::Array(Box::new(compiled[0].ty.clone())),
        Kind::TransformMap => SqlType::Map(
            Box::new(compiled[0].ty.clone()),
            Box::new(compiled[1].ty.clone()),
        ),
        Kind::FilterArray | Kind::FilterMap => {
            if compiled[0].ty != SqlType::Boolean {
                return Err(PlanError::Invalid(format!(
                    "Function '{}' takes a lambda returning BOOLEAN, not {}: {}",
                    name.to_lowercase(),
                    compiled[0].ty,
                    lambdas[0]
                )));
            }
            collection.ty.clone()
        }
        Kind::ReduceArray | Kind::ReduceMap => {
            let s = state.clone().unwrap_or(SqlType::Bigint);
            if !castable(&compiled[0].ty, &s) {
                return Err(PlanError::Invalid(format!(
                    "Function 'reduce' takes a lambda returning its initial state's type {s}, \
                     not {}: {}",
                    compiled[0].ty, lambdas[0]
                )));
            }
            s
        }
    };
    let mut call_args = vec![collection.expr];
    if let Some(i) = init {
        call_args.push(i.expr);
    }
    call_args.extend(read.iter().map(|i| p.column_ref(*i).expr));
    static IDS: AtomicU64 = AtomicU64::new(0);
    let udf = LambdaUdf {
        id: IDS.fetch_add(1, Ordering::Relaxed),
        name: NAMES
            .iter()
            .find(|n| **n == name)
            .copied()
            .unwrap_or("TRANSFORM"),
        kind,
        signature: Signature::variadic_any(Volatility::Immutable),
        ret: ret.arrow(),
        map_types: match &ret {
            SqlType::Map(k, v) => Some(((**k).clone(), (**v).clone())),
            _ => None,
        },
        state: state.map(|s| s.arrow()),
        lambdas: compiled,
    };
    Ok(Typed {
        expr: Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::new(ScalarUDF::new_from_impl(udf)),
            call_args,
        )),
        ty: ret,
    })
}

/// `e` whose arithmetic fails on a null operand: a lambda's body is Java code in ksqlDB, where
/// unboxing a null fails the whole call (outside lambdas a null operand makes a null); and
/// whose `AND` and `OR` only look at their right side where the left does not decide.
fn strict_arithmetic(p: &ExprPlanner<'_>, e: Expr) -> Result<Expr, PlanError> {
    let strict = |operand: Box<Expr>| -> datafusion_common::Result<Box<Expr>> {
        let ty = p
            .type_of(&operand)
            .map_err(|e| DataFusionError::Plan(e.to_string()))?;
        let udf = Arc::new(ScalarUDF::new_from_impl(NonNull {
            signature: Signature::any(1, Volatility::Immutable),
            ty: ty.arrow(),
        }));
        Ok(Box::new(Expr::ScalarFunction(ScalarFunction::new_udf(
            udf,
            vec![*operand],
        ))))
    };
    e.transform_up(|e| match e {
        // (Java's `&&` and `||` skip their right side: so does a CASE, which evaluates each
        // branch on the rows that take it)
        Expr::BinaryExpr(b) if matches!(b.op, Operator::And | Operator::Or) => {
            let (when, then, otherwise) = if b.op == Operator::And {
                (b.left.clone(), b.right, b.left)
            } else {
                (b.left.clone(), b.left, b.right)
            };
            Ok(Transformed::yes(Expr::Case(datafusion_expr::expr::Case {
                expr: None,
                when_then_expr: vec![(when, then)],
                else_expr: Some(otherwise),
            })))
        }
        Expr::BinaryExpr(b)
            if matches!(
                b.op,
                Operator::Plus
                    | Operator::Minus
                    | Operator::Multiply
                    | Operator::Divide
                    | Operator::Modulo
            ) =>
        {
            Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr {
                left: strict(b.left)?,
                op: b.op,
                right: strict(b.right)?,
            })))
        }
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
    .map_err(|e| PlanError::Internal(e.to_string()))
}

/// A lambda's arithmetic operand: its value, or an error (which fails the whole lambda
/// function's call) when it is null.
#[derive(Debug, PartialEq, Eq, Hash)]
struct NonNull {
    signature: Signature,
    ty: DataType,
}

impl ScalarUDFImpl for NonNull {
    fn name(&self) -> &str {
        "LAMBDA_OPERAND"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> datafusion_common::Result<DataType> {
        Ok(self.ty.clone())
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion_common::Result<ColumnarValue> {
        let null = match args.args.first() {
            _ if args.number_rows == 0 => false,
            Some(ColumnarValue::Scalar(s)) => s.is_null(),
            Some(ColumnarValue::Array(a)) => a.null_count() > 0,
            None => true,
        };
        if null {
            return Err(DataFusionError::Execution(
                "a null operand of arithmetic in a lambda".into(),
            ));
        }
        args.args
            .into_iter()
            .next()
            .ok_or_else(|| DataFusionError::Execution("no operand".into()))
    }
}

/// The order Java's `HashMap` gives `keys` (ksqlDB's maps are `HashMap`s, and `REDUCE` folds
/// their entries in its order): by bucket of the spread hash in the table a map of that size
/// has, then as inserted. Keys Java hashes in ways not modelled here keep their order.
fn java_map_order(keys: &ArrayRef) -> Vec<usize> {
    let n = keys.len();
    let hashes: Option<Vec<i32>> = (0..n)
        .map(|i| match ScalarValue::try_from_array(keys, i).ok()? {
            ScalarValue::Utf8(Some(s)) => Some(
                s.encode_utf16()
                    .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c))),
            ),
            ScalarValue::Int32(Some(v)) => Some(v),
            ScalarValue::Int64(Some(v)) => {
                let v = v as u64;
                Some((v ^ (v >> 32)) as u32 as i32)
            }
            _ => None,
        })
        .collect();
    let Some(hashes) = hashes else {
        return (0..n).collect();
    };
    // (ksqlDB's JSON maps are `new HashMap<>(size)`: a table of the next power of two,
    // doubled while more than three quarters full)
    let mut capacity = n.max(1).next_power_of_two();
    while n * 4 > capacity * 3 {
        capacity *= 2;
    }
    let bucket = |h: i32| {
        let h = h as u32;
        ((h ^ (h >> 16)) as usize) & (capacity - 1)
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|i| (bucket(hashes[*i]), *i));
    order
}

/// Whether a lambda's result of `from` can stand for a `REDUCE` state of `to`.
fn castable(from: &SqlType, to: &SqlType) -> bool {
    from == to || (from.is_numeric() && to.is_numeric())
}

/// The names of a lambda's parameters (as the statement spells them: upper case unless
/// quoted), each once.
pub(crate) fn parameter_names(l: &sql::LambdaFunction) -> Result<Vec<String>, PlanError> {
    let params: Vec<&sql::LambdaFunctionParameter> = match &l.params {
        sql::OneOrManyWithParens::One(p) => vec![p],
        sql::OneOrManyWithParens::Many(ps) => ps.iter().collect(),
    };
    let mut names: Vec<String> = Vec::with_capacity(params.len());
    for p in params {
        if names.contains(&p.name.value) {
            return Err(PlanError::Invalid(format!(
                "Lambda arguments must be unique, found {} twice in {l}",
                p.name.value
            )));
        }
        names.push(p.name.value.clone());
    }
    Ok(names)
}

/// The scope of a lambda's body: the columns in scope (those named as a parameter hidden),
/// then the parameters.
fn lambda_scope(scope: &Scope, names: &[String], types: &[SqlType]) -> Scope {
    let mut columns: Vec<ScopeColumn> = scope
        .columns
        .iter()
        .map(|c| {
            if names.contains(&c.name) {
                ScopeColumn {
                    // (no statement can name this one)
                    name: format!("\u{0}{}", c.name),
                    ..c.clone()
                }
            } else {
                c.clone()
            }
        })
        .collect();
    columns.extend(names.iter().zip(types).map(|(n, t)| ScopeColumn {
        qualifier: None,
        name: n.clone(),
        ty: t.clone(),
    }));
    Scope { columns }
}

/// The index of the scope column named `c{i}`.
fn column_index(name: &str) -> Option<usize> {
    name.strip_prefix('c')?.parse().ok()
}

/// A lambda function's call with its compiled lambdas. Arguments: the collection, the initial
/// state (`REDUCE`), then the outer columns the lambdas read.
#[derive(Debug)]
struct LambdaUdf {
    id: u64,
    name: &'static str,
    kind: Kind,
    signature: Signature,
    ret: DataType,
    /// A map result's key and value types.
    map_types: Option<(SqlType, SqlType)>,
    state: Option<DataType>,
    lambdas: Vec<Lambda>,
}

impl PartialEq for LambdaUdf {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for LambdaUdf {}

impl Hash for LambdaUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl ScalarUDFImpl for LambdaUdf {
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
        crate::functions::rowfn::each_row(self.name, &self.ret, &args, |values| self.row(values))
    }
}

impl LambdaUdf {
    /// The call's value on one row's arguments.
    fn row(&self, args: &[ScalarValue]) -> Result<ScalarValue, String> {
        let null = || ScalarValue::try_new_null(&self.ret).map_err(|e| e.to_string());
        let reduce = matches!(self.kind, Kind::ReduceArray | Kind::ReduceMap);
        let outers = &args[if reduce { 2 } else { 1 }..];
        // (the outer columns' values, once per row, for every element or for one)
        let each = |n: usize| -> Result<Vec<ArrayRef>, String> {
            outers
                .iter()
                .map(|o| o.to_array_of_size(n).map_err(|e| e.to_string()))
                .collect()
        };
        let init = if reduce {
            let s = args.get(1).cloned().unwrap_or(ScalarValue::Null);
            if s.is_null() {
                return null();
            }
            Some(s)
        } else {
            None
        };
        let lambda = &self.lambdas[0];
        match (self.kind, args.first()) {
            (
                Kind::TransformArray | Kind::FilterArray | Kind::ReduceArray,
                Some(ScalarValue::List(l)),
            ) if !l.is_null(0) => {
                let items = l.value(0);
                let n = items.len();
                match (self.kind, init) {
                    (Kind::TransformArray, _) => {
                        let values = lambda.apply(vec![items], &each(n)?, n)?;
                        list(values)
                    }
                    (Kind::FilterArray, _) => {
                        let mask = lambda.apply(vec![Arc::clone(&items)], &each(n)?, n)?;
                        let mask = predicate(&mask)?;
                        let kept =
                            arrow::compute::filter(&items, mask).map_err(|e| e.to_string())?;
                        let DataType::List(field) = &self.ret else {
                            return Err("FILTER of an array returns an array".into());
                        };
                        list_of(Arc::clone(field), kept)
                    }
                    (_, Some(mut state)) => {
                        let one = each(1)?;
                        for j in 0..n {
                            state = self.step(state, vec![items.slice(j, 1)], &one)?;
                        }
                        Ok(state)
                    }
                    _ => null(),
                }
            }
            (Kind::TransformMap | Kind::FilterMap | Kind::ReduceMap, Some(ScalarValue::Map(m)))
                if !m.is_null(0) =>
            {
                let entries = m.value(0);
                let (keys, values) = (Arc::clone(entries.column(0)), Arc::clone(entries.column(1)));
                let n = entries.len();
                // (TRANSFORM's and FILTER's result is a map)
                let result = || {
                    self.map_types
                        .as_ref()
                        .ok_or_else(|| "a map's TRANSFORM or FILTER returns a map".to_string())
                };
                match (self.kind, init) {
                    (Kind::TransformMap, _) => {
                        let bound = vec![keys, values];
                        let outer = each(n)?;
                        let k = lambda.apply(bound.clone(), &outer, n)?;
                        let v = self.lambdas[1].apply(bound, &outer, n)?;
                        let (kt, vt) = result()?;
                        map_of(&k, &v, None, kt, vt)
                    }
                    (Kind::FilterMap, _) => {
                        let mask = lambda.apply(
                            vec![Arc::clone(&keys), Arc::clone(&values)],
                            &each(n)?,
                            n,
                        )?;
                        let (kt, vt) = result()?;
                        map_of(&keys, &values, Some(predicate(&mask)?), kt, vt)
                    }
                    (_, Some(mut state)) => {
                        let one = each(1)?;
                        for j in java_map_order(&keys) {
                            state =
                                self.step(state, vec![keys.slice(j, 1), values.slice(j, 1)], &one)?;
                        }
                        Ok(state)
                    }
                    _ => null(),
                }
            }
            // (a null collection: REDUCE gives its initial state)
            _ => match init {
                Some(s) => Ok(s),
                None => null(),
            },
        }
    }

    /// One `REDUCE` step: the state after `elements`.
    fn step(
        &self,
        state: ScalarValue,
        elements: Vec<ArrayRef>,
        outers: &[ArrayRef],
    ) -> Result<ScalarValue, String> {
        let mut bound = vec![state.to_array_of_size(1).map_err(|e| e.to_string())?];
        bound.extend(elements);
        let next = self.lambdas[0].apply(bound, outers, 1)?;
        let next = match &self.state {
            Some(t) if next.data_type() != t => {
                arrow::compute::cast(&next, t).map_err(|e| e.to_string())?
            }
            _ => next,
        };
        ScalarValue::try_from_array(&next, 0).map_err(|e| e.to_string())
    }
}

impl Lambda {
    /// The body's values for `n` bindings of the parameters (`params`, one array each), with
    /// the outer columns' values of the row (`outers`, `n` of each).
    fn apply(
        &self,
        params: Vec<ArrayRef>,
        outers: &[ArrayRef],
        n: usize,
    ) -> Result<ArrayRef, String> {
        let mut columns = params;
        columns.extend(outers.iter().cloned());
        let columns = columns
            .into_iter()
            .zip(self.schema.fields())
            .map(|(c, f)| {
                if c.data_type() == f.data_type() {
                    Ok(c)
                } else {
                    arrow::compute::cast(&c, f.data_type()).map_err(|e| e.to_string())
                }
            })
            .collect::<Result<Vec<_>, String>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(n));
        let batch = RecordBatch::try_new_with_options(Arc::clone(&self.schema), columns, &options)
            .map_err(|e| e.to_string())?;
        let values = self
            .body
            .evaluate(&batch)
            .and_then(|v| v.into_array(n))
            .map_err(|e| e.to_string())?;
        if values.data_type() == &self.arrow_ty {
            Ok(values)
        } else {
            arrow::compute::cast(&values, &self.arrow_ty).map_err(|e| e.to_string())
        }
    }
}

/// A predicate's values as a mask: a null one fails the call (as ksqlDB's unboxing does).
fn predicate(mask: &ArrayRef) -> Result<&arrow::array::BooleanArray, String> {
    let mask = mask
        .as_boolean_opt()
        .ok_or_else(|| "a lambda predicate must be BOOLEAN".to_string())?;
    if mask.null_count() > 0 {
        return Err("a lambda predicate returned null".into());
    }
    Ok(mask)
}

/// The one-row array value of `values`.
fn list(values: ArrayRef) -> Result<ScalarValue, String> {
    let field = Arc::new(Field::new("item", values.data_type().clone(), true));
    list_of(field, values)
}

fn list_of(field: Arc<Field>, values: ArrayRef) -> Result<ScalarValue, String> {
    let values = if values.data_type() == field.data_type() {
        values
    } else {
        arrow::compute::cast(&values, field.data_type()).map_err(|e| e.to_string())?
    };
    let offsets = OffsetBuffer::from_lengths([values.len()]);
    let list = ListArray::try_new(field, offsets, values, None).map_err(|e| e.to_string())?;
    Ok(ScalarValue::List(Arc::new(list)))
}

/// The map value of `keys` and `values` (those `mask` keeps): keys must be distinct and
/// neither keys nor values null, as the Java maps ksqlDB collects into require.
fn map_of(
    keys: &ArrayRef,
    values: &ArrayRef,
    mask: Option<&arrow::array::BooleanArray>,
    kt: &SqlType,
    vt: &SqlType,
) -> Result<ScalarValue, String> {
    let mut entries = Vec::with_capacity(keys.len());
    let mut seen = HashSet::with_capacity(keys.len());
    for i in 0..keys.len() {
        if mask.is_some_and(|m| !m.value(i)) {
            continue;
        }
        let k = ScalarValue::try_from_array(keys, i).map_err(|e| e.to_string())?;
        let v = ScalarValue::try_from_array(values, i).map_err(|e| e.to_string())?;
        if k.is_null() || v.is_null() {
            return Err("a map entry's key or value is null".into());
        }
        if !seen.insert(k.clone()) {
            return Err(format!("duplicate map key {k}"));
        }
        entries.push((k, v));
    }
    crate::value::map(&entries, kt, vt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_entries_fold_in_java_hash_map_order() {
        // ksqlDB's REDUCE over {"yes, thanks", "nope", "sure, yeah"} folds them in its
        // HashMap's order
        let keys: ArrayRef = Arc::new(arrow::array::StringArray::from(vec![
            "nope",
            "sure, yeah",
            "yes, thanks",
        ]));
        // (a table of 4: "yes, thanks" and "sure, yeah" share bucket 0, "nope" is in 1)
        assert_eq!(java_map_order(&keys), vec![1, 2, 0]);
        // integers hash to themselves: buckets in order of value modulo the table (of 4)
        let ints: ArrayRef = Arc::new(arrow::array::Int32Array::from(vec![17, 3, 4]));
        assert_eq!(java_map_order(&ints), vec![2, 0, 1]);
    }
}
