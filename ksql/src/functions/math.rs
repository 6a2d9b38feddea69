//! ksqlDB's math functions over doubles, as Java's `Math` computes them, row by row: a null
//! argument gives null; NaN and the infinities pass through.

use datafusion_common::ScalarValue;

use super::rowfn::RowFn;

/// Argument `i` as a double (`None`: null).
fn arg(args: &[ScalarValue], i: usize) -> Option<f64> {
    match args.get(i) {
        Some(ScalarValue::Float64(v)) => *v,
        _ => None,
    }
}

macro_rules! unary {
    ($($(#[$doc:meta])* $name:ident => $f:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(args: &[ScalarValue]) -> Result<ScalarValue, String> {
                let f: fn(f64) -> f64 = $f;
                Ok(ScalarValue::Float64(arg(args, 0).map(f)))
            }
        )*
    };
}

unary! {
    /// `ACOS(x)`.
    acos => f64::acos;
    /// `ASIN(x)`.
    asin => f64::asin;
    /// `ATAN(x)`.
    atan => f64::atan;
    /// `COS(x)`.
    cos => f64::cos;
    /// `SIN(x)`.
    sin => f64::sin;
    /// `TAN(x)`.
    tan => f64::tan;
    /// `COT(x)`: 1 / tan(x).
    cot => |x| 1.0 / x.tan();
    /// `COSH(x)`.
    cosh => f64::cosh;
    /// `SINH(x)`.
    sinh => f64::sinh;
    /// `TANH(x)`.
    tanh => f64::tanh;
    /// `CBRT(x)`.
    cbrt => f64::cbrt;
    /// `DEGREES(x)`.
    degrees => f64::to_degrees;
    /// `RADIANS(x)`.
    radians => f64::to_radians;
    /// `SQRT(x)`: NaN for a negative number.
    sqrt => f64::sqrt;
}

/// A function of two doubles, null when either is.
fn binary(args: &[ScalarValue], f: fn(f64, f64) -> f64) -> Result<ScalarValue, String> {
    Ok(ScalarValue::Float64(match (arg(args, 0), arg(args, 1)) {
        (Some(a), Some(b)) => Some(f(a, b)),
        _ => None,
    }))
}

/// `ATAN2(y, x)`.
pub fn atan2(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    binary(args, f64::atan2)
}

/// `GEO_DISTANCE(lat1, lon1, lat2, lon2 [, unit])`: the great-circle distance by the
/// haversine formula, in kilometres (`km`, `kilometers`, ...) or miles (`mi`, `miles`, ...).
pub fn geo_distance(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(lat1), Some(lon1), Some(lat2), Some(lon2)) =
        (arg(args, 0), arg(args, 1), arg(args, 2), arg(args, 3))
    else {
        return Ok(ScalarValue::Float64(None));
    };
    if [lat1, lat2].iter().any(|l| !(-90.0..=90.0).contains(l)) {
        return Err("valid latitude values for GeoDistance function are in the range of -90 to 90 decimal degrees".into());
    }
    if [lon1, lon2].iter().any(|l| !(-180.0..=180.0).contains(l)) {
        return Err("valid longitude values for GeoDistance function are in the range of -180 to +180 decimal degrees".into());
    }
    let radius = match args.get(4) {
        Some(ScalarValue::Utf8(Some(u))) if !u.trim().is_empty() => {
            match u.trim().to_lowercase().as_str() {
                "mi" | "mile" | "miles" => 3959.0,
                "km" | "kilometer" | "kilometers" | "kilometre" | "kilometres" => 6371.0,
                _ => return Err("GeoDistance function units parameter must be one of mi, mile, miles, km, kilometer, kilometers, kilometre or kilometres. Values are case-insensitive.".into()),
            }
        }
        _ => 6371.0,
    };
    let haversin = |v: f64| (v / 2.0).sin() * (v / 2.0).sin();
    let a = haversin((lat2 - lat1).to_radians())
        + haversin((lon2 - lon1).to_radians()) * lat1.to_radians().cos() * lat2.to_radians().cos();
    Ok(ScalarValue::Float64(Some(2.0 * a.sqrt().asin() * radius)))
}

/// `POWER(base, exponent)`.
pub fn power(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    binary(args, f64::powf)
}

/// `LOG(x)`: the natural logarithm (Java's `Math.log`); `LOG(base, x)`: NaN for a base that
/// is not positive or is 1.
pub fn log(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    if args.len() == 1 {
        return Ok(ScalarValue::Float64(arg(args, 0).map(f64::ln)));
    }
    binary(args, |base, x| {
        if base <= 0.0 || base == 1.0 {
            f64::NAN
        } else {
            x.ln() / base.ln()
        }
    })
}

/// How a value is rounded to fewer places (Java's `RoundingMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Ties away from zero.
    HalfUp,
    /// Ties toward zero.
    HalfDown,
    /// Toward zero.
    Down,
}

/// ksqlDB's `ROUND` mode for a value of this sign: half up for positives, half down else.
fn round_mode(negative: bool) -> Mode {
    if negative {
        Mode::HalfDown
    } else {
        Mode::HalfUp
    }
}

/// The unscaled value `v` at scale `scale` rounded to `places` places (still at `scale`);
/// `None` when it does not fit.
fn round_unscaled(v: i128, scale: i32, places: i32, mode: Mode) -> Option<i128> {
    if places >= scale {
        return Some(v);
    }
    let Some(f) = u32::try_from(scale - places)
        .ok()
        .and_then(|e| 10i128.checked_pow(e))
    else {
        return Some(0);
    };
    let (q, r) = (v / f, v % f);
    let twice = r.checked_abs()?.checked_mul(2)?;
    let away = match mode {
        Mode::HalfUp => twice >= f,
        Mode::HalfDown => twice > f,
        Mode::Down => false,
    };
    let q = if away { q + v.signum() } else { q };
    q.checked_mul(f)
}

/// A double as Java's `BigDecimal.valueOf` reads it (its shortest decimal digits): the
/// unscaled value and the scale; `None` past 38 digits.
fn decimal_of(x: f64) -> Option<(i128, i32)> {
    let text = format!("{x}");
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let digits = format!("{int}{frac}");
    let v: i128 = digits.parse().ok()?;
    Some((v, i32::try_from(frac.len()).ok()?))
}

/// `x` rounded to `places` decimal places in `mode`, as `BigDecimal.valueOf(x).setScale(places,
/// mode).doubleValue()`.
fn round_double(x: f64, places: i32, mode: Mode) -> f64 {
    if !x.is_finite() {
        return x;
    }
    match decimal_of(x).and_then(|(v, s)| Some((round_unscaled(v, s, places, mode)?, s))) {
        // (a zero is positive: BigDecimal has no negative zero)
        Some((0, _)) => 0.0,
        Some((v, s)) => format!("{v}e{}", -s).parse().unwrap_or(x),
        None => x,
    }
}

/// `ROUND(x)` of a double: Java's `Math.round` (half toward positive infinity), a BIGINT.
pub fn round_double_to_long(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    Ok(ScalarValue::Int64(arg(args, 0).map(|x| {
        if x.is_nan() {
            0
        } else if (x - x.trunc()).abs() == 0.5 {
            x.ceil() as i64
        } else {
            x.round() as i64
        }
    })))
}

/// `TRUNC(x)` of a double: toward zero, a BIGINT.
pub fn trunc_double_to_long(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    Ok(ScalarValue::Int64(arg(args, 0).map(|x| x as i64)))
}

fn places(args: &[ScalarValue]) -> Option<i32> {
    match args.get(1) {
        Some(ScalarValue::Int32(p)) => *p,
        _ => None,
    }
}

/// `ROUND(x, places)` of a double.
pub fn round_double_places(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    Ok(ScalarValue::Float64(match (arg(args, 0), places(args)) {
        (Some(x), Some(p)) => Some(round_double(x, p, round_mode(x < 0.0))),
        _ => None,
    }))
}

/// `TRUNC(x, places)` of a double.
pub fn trunc_double_places(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    Ok(ScalarValue::Float64(match (arg(args, 0), places(args)) {
        (Some(x), Some(p)) => Some(round_double(x, p, Mode::Down)),
        _ => None,
    }))
}

/// A decimal rounded as `f` says: `(unscaled, precision, scale, places)` to the result.
fn decimal(
    args: &[ScalarValue],
    mode: fn(bool) -> Mode,
    to_scale_zero: bool,
) -> Result<ScalarValue, String> {
    let Some(ScalarValue::Decimal128(v, p, s)) = args.first() else {
        return Err("not a decimal".into());
    };
    let (p, s) = (*p, *s);
    let places = if to_scale_zero { Some(0) } else { places(args) };
    let (out_p, out_s) = if to_scale_zero {
        ((i16::from(p) - i16::from(s)).clamp(1, 38) as u8, 0i8)
    } else {
        (p, s)
    };
    let value = match (v, places) {
        (Some(v), Some(n)) => {
            let rounded = round_unscaled(*v, i32::from(s), n, mode(*v < 0))
                .ok_or_else(|| "the rounded decimal does not fit".to_string())?;
            Some(if to_scale_zero {
                let f = 10i128.pow(u32::try_from(s.max(0)).unwrap_or(0));
                rounded / f
            } else {
                rounded
            })
        }
        _ => None,
    };
    Ok(ScalarValue::Decimal128(value, out_p, out_s))
}

/// `ROUND(d)` of a decimal: to scale 0.
pub fn round_decimal(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    decimal(args, round_mode, true)
}

/// `ROUND(d, places)` of a decimal (its type kept).
pub fn round_decimal_places(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    decimal(args, round_mode, false)
}

/// `TRUNC(d)` of a decimal: to scale 0.
pub fn trunc_decimal(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    decimal(args, |_| Mode::Down, true)
}

/// `TRUNC(d, places)` of a decimal (its type kept).
pub fn trunc_decimal_places(args: &[ScalarValue]) -> Result<ScalarValue, String> {
    decimal(args, |_| Mode::Down, false)
}

/// The row function of a double function named `name` taking `args` arguments, if it is one.
pub fn by_name(name: &str, args: usize) -> Option<(&'static str, RowFn)> {
    let f: (&'static str, RowFn) = match (name, args) {
        ("ACOS", 1) => ("ACOS", acos),
        ("ASIN", 1) => ("ASIN", asin),
        ("ATAN", 1) => ("ATAN", atan),
        ("COS", 1) => ("COS", cos),
        ("SIN", 1) => ("SIN", sin),
        ("TAN", 1) => ("TAN", tan),
        ("COT", 1) => ("COT", cot),
        ("COSH", 1) => ("COSH", cosh),
        ("SINH", 1) => ("SINH", sinh),
        ("TANH", 1) => ("TANH", tanh),
        ("CBRT", 1) => ("CBRT", cbrt),
        ("DEGREES", 1) => ("DEGREES", degrees),
        ("RADIANS", 1) => ("RADIANS", radians),
        ("SQRT", 1) => ("SQRT", sqrt),
        ("ATAN2", 2) => ("ATAN2", atan2),
        ("POWER", 2) => ("POWER", power),
        ("LOG", 1 | 2) => ("LOG", log),
        _ => return None,
    };
    Some(f)
}

/// The names of the double functions.
pub const NAMES: [&str; 17] = [
    "ACOS", "ASIN", "ATAN", "ATAN2", "CBRT", "COS", "COSH", "COT", "DEGREES", "LOG", "POWER",
    "RADIANS", "SIN", "SINH", "SQRT", "TAN", "TANH",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: f64) -> ScalarValue {
        ScalarValue::Float64(Some(v))
    }

    #[test]
    fn java_math_semantics() {
        assert_eq!(sqrt(&[d(4.0)]).unwrap(), d(2.0));
        assert!(matches!(sqrt(&[d(-1.0)]).unwrap(), ScalarValue::Float64(Some(v)) if v.is_nan()));
        assert_eq!(log(&[d(1.0)]).unwrap(), d(0.0));
        assert_eq!(log(&[d(10.0), d(100.0)]).unwrap(), d(2.0));
        assert!(
            matches!(log(&[d(1.0), d(5.0)]).unwrap(), ScalarValue::Float64(Some(v)) if v.is_nan())
        );
        assert_eq!(cot(&[d(0.0)]).unwrap(), d(f64::INFINITY));
        assert_eq!(power(&[d(2.0), d(10.0)]).unwrap(), d(1024.0));
        let i = |v| ScalarValue::Int32(Some(v));
        assert_eq!(
            round_double_places(&[d(12345.678), i(-1)]).unwrap(),
            d(12350.0)
        );
        assert_eq!(round_double_places(&[d(1.234567), i(2)]).unwrap(), d(1.23));
        assert_eq!(round_double_places(&[d(-1.5), i(0)]).unwrap(), d(-1.0));
        assert_eq!(round_double_places(&[d(-1.5), i(-1)]).unwrap(), d(0.0));
        assert_eq!(
            trunc_double_places(&[d(-12345.678), i(-2)]).unwrap(),
            d(-12300.0)
        );
        let l = |v| ScalarValue::Int64(Some(v));
        assert_eq!(round_double_to_long(&[d(-1.5)]).unwrap(), l(-1));
        assert_eq!(round_double_to_long(&[d(2.5)]).unwrap(), l(3));
        assert_eq!(trunc_double_to_long(&[d(-1.7)]).unwrap(), l(-1));
        let dec = |v, p, s| ScalarValue::Decimal128(Some(v), p, s);
        assert_eq!(round_decimal(&[dec(-150, 5, 2)]).unwrap(), dec(-1, 3, 0));
        assert_eq!(round_decimal(&[dec(150, 5, 2)]).unwrap(), dec(2, 3, 0));
        assert_eq!(
            round_decimal_places(&[dec(12345, 5, 2), i(1)]).unwrap(),
            dec(12350, 5, 2)
        );
        assert_eq!(
            trunc_decimal_places(&[dec(-12399, 5, 2), i(0)]).unwrap(),
            dec(-12300, 5, 2)
        );
        assert_eq!(
            atan2(&[d(1.0), ScalarValue::Float64(None)]).unwrap(),
            ScalarValue::Float64(None)
        );
    }
}
