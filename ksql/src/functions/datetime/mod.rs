//! ksqlDB's date and time functions: formatting and parsing with Java `DateTimeFormatter`
//! patterns (`pattern.rs`, ksqlDB's own parsing rules: missing fields default to
//! 1970-01-01T00:00:00, a zone in the text wins), time zones as `java.time.ZoneId` names them,
//! and conversions between `DATE`, `TIME`, `TIMESTAMP` and numbers. A call that fails (a bad
//! pattern, text that does not match it, an unknown zone) is null, as ksqlDB's is.
//!
//! The default zones are ksqlDB's: `FORMAT_TIMESTAMP` and `PARSE_TIMESTAMP` without a zone use
//! GMT; the deprecated `TIMESTAMPTOSTRING` and `STRINGTOTIMESTAMP` use the server's zone,
//! which is UTC here.

mod pattern;

use std::cell::RefCell;
use std::sync::Arc;

use datafusion_common::ScalarValue;

pub use pattern::{Pattern, Zone};

use super::rowfn::{row_udf, RowFn};
use crate::plan::expr::{udf_call, ExprPlanner, Typed};
use crate::plan::PlanError;
use crate::types::SqlType;

/// The interval functions: `DATEADD(unit, n, date)` and the like.
const INTERVAL: &[&str] = &[
    "DATEADD",
    "DATESUB",
    "TIMEADD",
    "TIMESUB",
    "TIMESTAMPADD",
    "TIMESTAMPSUB",
];

/// The date and time functions.
pub const NAMES: &[&str] = &[
    "DATEADD",
    "DATESUB",
    "TIMEADD",
    "TIMESUB",
    "TIMESTAMPADD",
    "TIMESTAMPSUB",
    "CONVERT_TZ",
    "DATETOSTRING",
    "FORMAT_DATE",
    "FORMAT_TIME",
    "FORMAT_TIMESTAMP",
    "FROM_DAYS",
    "FROM_UNIXTIME",
    "PARSE_TIME",
    "PARSE_TIMESTAMP",
    "STRINGTODATE",
    "STRINGTOTIMESTAMP",
    "TIMESTAMPTOSTRING",
    "UNIX_DATE",
    "UNIX_TIMESTAMP",
];

/// Whether a value of `from` is passed where `to` is declared (ksqlDB's implicit casts:
/// numbers widen INT, BIGINT, DECIMAL, DOUBLE; strings read as dates, times and timestamps).
fn implicit(from: &SqlType, to: &SqlType) -> bool {
    let rank = |t: &SqlType| match t {
        SqlType::Int => Some(0),
        SqlType::Bigint => Some(1),
        SqlType::Decimal { .. } => Some(2),
        SqlType::Double => Some(3),
        _ => None,
    };
    from == to
        || matches!((rank(from), rank(to)), (Some(a), Some(b)) if a <= b)
        || (*from == SqlType::String
            && matches!(to, SqlType::Date | SqlType::Time | SqlType::Timestamp))
}

/// The unit (in ms) an interval function's first argument names, when `name` is one and the
/// argument is a unit: `DAYS`, `HOURS`, `MINUTES`, `SECONDS`, `MILLISECONDS`, or their
/// singulars (a singular that is a column's name is the column, as in ksqlDB's grammar).
pub fn interval_unit(
    name: &str,
    args: &[sqlparser::ast::Expr],
    is_column: impl Fn(&sqlparser::ast::Expr) -> bool,
) -> Option<i64> {
    if !INTERVAL.contains(&name) || args.len() != 3 {
        return None;
    }
    let sqlparser::ast::Expr::Identifier(id) = &args[0] else {
        return None;
    };
    if id.quote_style.is_some() {
        return None;
    }
    let word = id.value.to_uppercase();
    let singular = !word.ends_with('S');
    let ms = match word.strip_suffix('S').unwrap_or(&word) {
        "DAY" => 86_400_000,
        "HOUR" => 3_600_000,
        "MINUTE" => 60_000,
        "SECOND" => 1_000,
        "MILLISECOND" => 1,
        _ => return None,
    };
    if singular && word != "MILLISECOND" && is_column(&args[0]) {
        return None;
    }
    Some(ms)
}

/// Plans the interval function `name(unit, n, value)`: `n` an `INT`, `value` a `DATE`
/// (`DATEADD`, `DATESUB`), a `TIME` (`TIMEADD`, `TIMESUB`: around the clock) or a
/// `TIMESTAMP`.
pub fn plan_interval(
    p: &ExprPlanner<'_>,
    name: &str,
    unit_ms: i64,
    args: Vec<Typed>,
) -> Result<Typed, PlanError> {
    let (ty, f): (SqlType, RowFn) = match name {
        "DATEADD" | "DATESUB" => (SqlType::Date, date_shift),
        "TIMEADD" | "TIMESUB" => (SqlType::Time, time_shift),
        _ => (SqlType::Timestamp, timestamp_shift),
    };
    // (a subtraction adds the opposite)
    let unit_ms = if name.ends_with("SUB") {
        -unit_ms
    } else {
        unit_ms
    };
    let fits = args.len() == 2
        && (crate::plan::expr::is_null_literal(&args[0].expr) || args[0].ty == SqlType::Int)
        && (crate::plan::expr::is_null_literal(&args[1].expr) || implicit(&args[1].ty, &ty));
    if !fits {
        return Err(super::refused(name, &args));
    }
    let mut cast = vec![Typed {
        expr: datafusion_expr::lit(ScalarValue::Int64(Some(unit_ms))),
        ty: SqlType::Bigint,
    }];
    let mut it = args.into_iter();
    if let (Some(n), Some(v)) = (it.next(), it.next()) {
        cast.push(p.cast(n, &SqlType::Int)?);
        cast.push(p.cast(v, &ty)?);
    }
    let name: &'static str = INTERVAL
        .iter()
        .find(|n| **n == name)
        .copied()
        .unwrap_or("TIME");
    let t = udf_call(p, row_udf(name, ty.arrow(), f), cast)?;
    p.cast(t, &ty)
}

/// The interval (unit × count, ms) and the value of an interval function's call; `None` when
/// one is null.
fn interval(a: &[ScalarValue]) -> Option<(i64, &ScalarValue)> {
    match (&a[0], &a[1]) {
        (ScalarValue::Int64(Some(unit)), ScalarValue::Int32(Some(n))) if !a[2].is_null() => {
            // (Java's TimeUnit.toMillis saturates)
            Some((unit.saturating_mul(i64::from(*n)), &a[2]))
        }
        _ => None,
    }
}

const DAY_MS: i64 = 86_400_000;

fn date_shift(a: &[ScalarValue]) -> Result<ScalarValue, String> {
    let Some((delta, v)) = interval(a) else {
        return Ok(ScalarValue::Date32(None));
    };
    let Some(d) = days(v) else {
        return Ok(ScalarValue::Date32(None));
    };
    // (back to days truncating toward zero, as TimeUnit.toDays does)
    let ms = i64::from(d).saturating_mul(DAY_MS).saturating_add(delta);
    let d = i32::try_from(ms / DAY_MS).map_err(|_| "the date is out of range".to_string())?;
    Ok(ScalarValue::Date32(Some(d)))
}

fn time_shift(a: &[ScalarValue]) -> Result<ScalarValue, String> {
    let Some((delta, ScalarValue::Time32Millisecond(Some(t)))) = interval(a) else {
        return Ok(ScalarValue::Time32Millisecond(None));
    };
    if !(0..DAY_MS).contains(&i64::from(*t)) {
        return Err(format!("{t} ms is not a time of day"));
    }
    // (around the clock)
    let moved = (i128::from(*t) + i128::from(delta)).rem_euclid(i128::from(DAY_MS));
    let moved = i32::try_from(moved).map_err(|_| "the time is out of range".to_string())?;
    Ok(ScalarValue::Time32Millisecond(Some(moved)))
}

fn timestamp_shift(a: &[ScalarValue]) -> Result<ScalarValue, String> {
    let Some((delta, v)) = interval(a) else {
        return Ok(ScalarValue::TimestampMillisecond(None, None));
    };
    let Some(ms) = millis(v) else {
        return Ok(ScalarValue::TimestampMillisecond(None, None));
    };
    Ok(ScalarValue::TimestampMillisecond(
        Some(ms.wrapping_add(delta)),
        None,
    ))
}

/// Plans `name(args)`, one of [`NAMES`].
pub fn plan(p: &ExprPlanner<'_>, name: &str, args: Vec<Typed>) -> Result<Typed, PlanError> {
    use SqlType::{Bigint, Date, Int, String as Text, Time, Timestamp};
    // (an interval function whose first argument is no unit)
    if INTERVAL.contains(&name) {
        return Err(super::refused(name, &args));
    }
    // each overload: its parameters, the function computing it, what it returns, and a zone
    // passed for a missing last argument
    let overloads: &[(&[SqlType], RowFn, SqlType, Option<&str>)] = match name {
        "CONVERT_TZ" => &[(&[Timestamp, Text, Text], convert_tz, Timestamp, None)],
        "DATETOSTRING" => &[(&[Int, Text], days_to_string, Text, None)],
        "FORMAT_DATE" => &[(&[Date, Text], days_to_string, Text, None)],
        "FORMAT_TIME" => &[(&[Time, Text], format_time, Text, None)],
        "FORMAT_TIMESTAMP" => &[
            (&[Timestamp, Text], format_timestamp, Text, Some("GMT")),
            (&[Timestamp, Text, Text], format_timestamp, Text, None),
        ],
        "TIMESTAMPTOSTRING" => &[
            (&[Bigint, Text], format_timestamp, Text, Some("UTC")),
            (&[Bigint, Text, Text], format_timestamp, Text, None),
        ],
        "PARSE_TIMESTAMP" => &[
            (&[Text, Text], parse_timestamp, Timestamp, Some("GMT")),
            (&[Text, Text, Text], parse_timestamp, Timestamp, None),
        ],
        "STRINGTOTIMESTAMP" => &[
            (&[Text, Text], parse_millis, Bigint, Some("UTC")),
            (&[Text, Text, Text], parse_millis, Bigint, None),
        ],
        "PARSE_TIME" => &[(&[Text, Text], parse_time, Time, None)],
        "STRINGTODATE" => &[(&[Text, Text], parse_days, Int, None)],
        "FROM_DAYS" => &[(&[Int], from_days, Date, None)],
        "FROM_UNIXTIME" => &[(&[Bigint], from_unixtime, Timestamp, None)],
        "UNIX_DATE" => &[(&[Date], unix_date, Int, None)],
        _ => &[(&[Timestamp], unix_timestamp, Bigint, None)],
    };
    let chosen = overloads.iter().find(|(params, ..)| {
        params.len() == args.len()
            && args
                .iter()
                .zip(params.iter())
                .all(|(a, t)| crate::plan::expr::is_null_literal(&a.expr) || implicit(&a.ty, t))
    });
    let Some((params, f, ret, zone)) = chosen else {
        return Err(super::refused(name, &args));
    };
    let mut cast = Vec::with_capacity(params.len() + 1);
    for (a, t) in args.into_iter().zip(params.iter()) {
        cast.push(p.cast(a, t)?);
    }
    if let Some(zone) = zone {
        cast.push(Typed {
            expr: datafusion_expr::lit(ScalarValue::Utf8(Some((*zone).to_string()))),
            ty: SqlType::String,
        });
    }
    let name: &'static str = NAMES
        .iter()
        .find(|n| **n == name)
        .copied()
        .unwrap_or("TIME");
    let t = udf_call(p, row_udf(name, ret.arrow(), *f), cast)?;
    p.cast(t, ret)
}

thread_local! {
    /// The last pattern each thread used (most calls of a query use one pattern).
    static LAST_PATTERN: RefCell<Option<(String, Arc<Pattern>)>> = const { RefCell::new(None) };
    /// The last zone each thread used.
    static LAST_ZONE: RefCell<Option<(String, Zone)>> = const { RefCell::new(None) };
}

/// What `make` makes of `text`, made once per thread while `text` stays the same.
fn cached<T: Clone>(
    last: &'static std::thread::LocalKey<RefCell<Option<(String, T)>>>,
    text: &str,
    make: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, String> {
    last.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((t, v)) = last.as_ref() {
            if t == text {
                return Ok(v.clone());
            }
        }
        let v = make(text)?;
        *last = Some((text.to_string(), v.clone()));
        Ok(v)
    })
}

/// The pattern `text`, compiled once per thread while it stays the same.
fn pattern(text: &str) -> Result<Arc<Pattern>, String> {
    cached(&LAST_PATTERN, text, |t| Pattern::new(t).map(Arc::new))
}

/// The zone `id` (a region's rules looked up once per thread while it stays the same).
fn zone(id: &str) -> Result<Zone, String> {
    cached(&LAST_ZONE, id, Zone::of)
}

/// The arguments, each as it was given; `None` when one is null (the call is then null).
fn text(v: &ScalarValue) -> Option<&str> {
    match v {
        ScalarValue::Utf8(Some(s)) => Some(s),
        _ => None,
    }
}

fn millis(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::TimestampMillisecond(Some(ms), _) | ScalarValue::Int64(Some(ms)) => Some(*ms),
        _ => None,
    }
}

fn days(v: &ScalarValue) -> Option<i32> {
    match v {
        ScalarValue::Date32(Some(d)) | ScalarValue::Int32(Some(d)) => Some(*d),
        _ => None,
    }
}

fn utf8(r: Option<Result<String, String>>) -> Result<ScalarValue, String> {
    Ok(ScalarValue::Utf8(r.transpose()?))
}

fn format_timestamp(a: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(ms), Some(p), Some(zone_id)) = (millis(&a[0]), text(&a[1]), text(&a[2])) else {
        return Ok(ScalarValue::Utf8(None));
    };
    utf8(Some(pattern(p)?.format_timestamp(ms, &zone(zone_id)?)))
}

fn days_to_string(a: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(d), Some(p)) = (days(&a[0]), text(&a[1])) else {
        return Ok(ScalarValue::Utf8(None));
    };
    utf8(Some(pattern(p)?.format_date(d)))
}

fn format_time(a: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (ScalarValue::Time32Millisecond(Some(ms)), Some(p)) = (&a[0], text(&a[1])) else {
        return Ok(ScalarValue::Utf8(None));
    };
    utf8(Some(pattern(p)?.format_time(i64::from(*ms))))
}

fn parse_timestamp(a: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(t), Some(p), Some(zone_id)) = (text(&a[0]), text(&a[1]), text(&a[2])) else {
        return Ok(ScalarValue::TimestampMillisecond(None, None));
    };
    let ms = pattern(p)?.parse_timestamp(t, &zone(zone_id)?)?;
    Ok(ScalarValue::TimestampMillisecond(Some(ms), None))
}

fn parse_millis(a: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(t), Some(p), Some(zone_id)) = (text(&a[0]), text(&a[1]), text(&a[2])) else {
        return Ok(ScalarValue::Int64(None));
    };
    Ok(ScalarValue::Int64(Some(
        pattern(p)?.parse_timestamp(t, &zone(zone_id)?)?,
    )))
}

fn parse_time(a: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(t), Some(p)) = (text(&a[0]), text(&a[1])) else {
        return Ok(ScalarValue::Time32Millisecond(None));
    };
    let ms = pattern(p)?.parse_time(t)?;
    let ms = i32::try_from(ms).map_err(|_| format!("{ms} ms is not a time of day"))?;
    Ok(ScalarValue::Time32Millisecond(Some(ms)))
}

fn parse_days(a: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(t), Some(p)) = (text(&a[0]), text(&a[1])) else {
        return Ok(ScalarValue::Int32(None));
    };
    Ok(ScalarValue::Int32(Some(pattern(p)?.parse_date(t)?)))
}

fn convert_tz(a: &[ScalarValue]) -> Result<ScalarValue, String> {
    let (Some(ms), Some(from), Some(to)) = (millis(&a[0]), text(&a[1]), text(&a[2])) else {
        return Ok(ScalarValue::TimestampMillisecond(None, None));
    };
    // (both offsets at the instant itself, as ksqlDB takes them)
    let shift = i64::from(zone(to)?.offset_at(ms)) - i64::from(zone(from)?.offset_at(ms));
    Ok(ScalarValue::TimestampMillisecond(
        Some(ms.wrapping_add(shift * 1000)),
        None,
    ))
}

fn from_days(a: &[ScalarValue]) -> Result<ScalarValue, String> {
    Ok(ScalarValue::Date32(days(&a[0])))
}

fn from_unixtime(a: &[ScalarValue]) -> Result<ScalarValue, String> {
    Ok(ScalarValue::TimestampMillisecond(millis(&a[0]), None))
}

fn unix_date(a: &[ScalarValue]) -> Result<ScalarValue, String> {
    Ok(ScalarValue::Int32(days(&a[0])))
}

fn unix_timestamp(a: &[ScalarValue]) -> Result<ScalarValue, String> {
    Ok(ScalarValue::Int64(millis(&a[0])))
}

/// ksqlDB's `PartialStringToTimestampParser`: the epoch ms of `yyyy-MM-dd'T'HH:mm:ss.SSS`
/// text, parts of which may be left out from the end (`2020`, `2020-05-26T23:59`), with an
/// optional `+hhmm`/`-hhmm` offset or a trailing `Z` (UTC otherwise). It reads the string
/// literals compared with `ROWTIME`, `WINDOWSTART` and `WINDOWEND`.
pub fn partial_timestamp(text: &str) -> Result<i64, String> {
    const TIME_PATTERN: &str = "HH:mm:ss.SSS";
    let complete_time = |time: &str| {
        if time.len() >= TIME_PATTERN.len() {
            time.to_string()
        } else {
            let rest: String = TIME_PATTERN
                .get(time.len()..)
                .unwrap_or_default()
                .chars()
                .map(|c| if c.is_ascii_alphabetic() { '0' } else { c })
                .collect();
            format!("{time}{rest}")
        }
    };
    let (date, time, offset) = match text.find('T') {
        Some(t) => {
            let date = &text[..t];
            let with_zone = &text[t + 1..];
            let offset = match with_zone.find(['+', '-']) {
                Some(i) => &with_zone[i..],
                None => "",
            };
            let time = &with_zone[..with_zone.len() - offset.len()];
            let time = time.strip_suffix('Z').unwrap_or(time);
            (date.to_string(), complete_time(time), offset)
        }
        None => {
            let date = match text.split('-').count() {
                1 => format!("{text}-01-01"),
                2 => format!("{text}-01"),
                _ => text.to_string(),
            };
            (date, complete_time(""), "")
        }
    };
    const HELP: &str = "\nRequired format is: \"yyyy-MM-dd'T'HH:mm:ss.SSS\", with an optional numeric 4-digit timezone, for example: '2020-05-26T23:59:58.000' or with tz: '2020-05-26T23:59:58.000+0200'. A trailing 'Z' instead of tz indicates the zero UTC offset. Partials are also supported, for example \"2020-05-26\"";
    let zone = if offset.trim().is_empty() {
        Zone::utc()
    } else {
        zone(offset).map_err(|e| format!("Failed to parse timezone '{offset}': {e}"))?
    };
    pattern("yyyy-MM-dd'T'HH:mm:ss.SSS")?
        .parse_timestamp(&format!("{date}T{time}"), &zone)
        .map_err(|e| format!("Failed to parse timestamp '{text}': {e}{HELP}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> ScalarValue {
        ScalarValue::Utf8(Some(v.to_string()))
    }

    #[test]
    fn timestamps_format_and_parse_in_their_zones() {
        let ts = ScalarValue::TimestampMillisecond(Some(1_526_075_913_000), None);
        assert_eq!(
            format_timestamp(&[ts.clone(), s("yyyy-MM-dd HH:mm:ss"), s("GMT")]).unwrap(),
            s("2018-05-11 21:58:33")
        );
        assert_eq!(
            parse_millis(&[
                s("2018-05-11T21:58:33Z"),
                s("yyyy-MM-dd'T'HH:mm:ssX"),
                s("UTC")
            ])
            .unwrap(),
            ScalarValue::Int64(Some(1_526_075_913_000))
        );
        // a pattern the text does not match, or an unknown zone: the call fails (null)
        assert!(parse_millis(&[s("nope"), s("yyyy"), s("UTC")]).is_err());
        assert!(format_timestamp(&[ts.clone(), s("yyyy"), s("Nowhere/Land")]).is_err());
        // Los Angeles to New York: three hours later on the clock
        assert_eq!(
            convert_tz(&[ts, s("America/Los_Angeles"), s("America/New_York")]).unwrap(),
            ScalarValue::TimestampMillisecond(Some(1_526_075_913_000 + 10_800_000), None)
        );
    }

    #[test]
    fn dates_and_times_format_and_parse() {
        assert_eq!(
            days_to_string(&[ScalarValue::Date32(Some(18_993)), s("dd-MMM-yyyy")]).unwrap(),
            s("01-Jan-2022")
        );
        assert_eq!(
            parse_days(&[s("20220101"), s("yyyyMMdd")]).unwrap(),
            ScalarValue::Int32(Some(18_993))
        );
        assert_eq!(
            parse_time(&[s("01:00:00 Pm"), s("hh:mm:ss a")]).unwrap(),
            ScalarValue::Time32Millisecond(Some(46_800_000))
        );
        assert_eq!(
            format_time(&[ScalarValue::Time32Millisecond(Some(46_800_000)), s("HH:mm")]).unwrap(),
            s("13:00")
        );
    }
}
