//! Java `DateTimeFormatter` patterns with ksqlDB's semantics: en_US formatting, the
//! `StringToTimestampParser` defaulting rules, `LocalDate.parse` and `LocalTime` parsing.
//! Tokenizer, formatter and parser are our own; chrono does calendar math, chrono-tz zone rules.

use chrono::offset::LocalResult;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset};
use chrono::{TimeDelta, TimeZone, Timelike};
use chrono_tz::{OffsetName, Tz, TZ_VARIANTS};

const MONTHS: &str = "January February March April May June July \
                      August September October November December";
const DAYS: &str = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday";
/// Zone names `z` parses, as Java 17's Locale.ROOT parse maps them,
/// except SystemV/* → their tzdb twins and BST → Europe/London. UTC/UT/GMT are prefixes.
const SHORT_NAMES: &str = "\
ACDT ACST ACT=Australia/Adelaide;ACWST=Australia/Eucla;ADT AST=America/Halifax;\
AEDT AEST=Australia/Sydney;AFT=Asia/Kabul;AKDT AKST=America/Anchorage;ALMT QOST=Asia/Almaty;\
AMST AMT=America/Manaus;ANAT=Asia/Anadyr;AQTT ORAT QYZT=Asia/Aqtobe;\
ART=America/Argentina/Buenos_Aires;AWST=Australia/Perth;AZOST AZOT=Atlantic/Azores;\
AZT=Asia/Baku;BDT=Asia/Dhaka;BNT MYT=Asia/Kuching;BOT=America/La_Paz;\
BRST BRT=America/Sao_Paulo;BST=Europe/London;BTT=Asia/Thimphu;CAT=Africa/Maputo;\
CCT MMT=Asia/Yangon;CDT CST=America/Chicago;CEST CET MEST MET=Europe/Paris;\
CHADT CHAST=Pacific/Chatham;CHOT ULAT=Asia/Ulaanbaatar;CHUT DDUT PGT=Pacific/Port_Moresby;\
CKT=Pacific/Rarotonga;CLST CLT=Antarctica/Palmer;COT=America/Bogota;CVT=Atlantic/Cape_Verde;\
CXT ICT=Asia/Bangkok;ChST=Pacific/Guam;DAVT=Antarctica/Davis;EASST=Pacific/Easter;\
EAST EAT=Africa/Nairobi;ECT=America/Guayaquil;EDT EST=America/New_York;\
EEST EET=Europe/Bucharest;EGST EGT=America/Scoresbysund;FJT=Pacific/Fiji;FKT=Atlantic/Stanley;\
FNT=America/Noronha;GALT=Pacific/Galapagos;GAMT=Pacific/Gambier;GET=Asia/Tbilisi;\
GFT=America/Cayenne;GILT MHT TVT WAKT WFT=Pacific/Tarawa;GST RET SCT=Asia/Dubai;\
GYT=America/Guyana;HKT=Asia/Hong_Kong;HOVT=Asia/Hovd;HST=Pacific/Honolulu;\
IDT IST=Asia/Kolkata;IOT=Indian/Chagos;IRDT IRST=Asia/Tehran;IRKT=Asia/Irkutsk;JST=Asia/Tokyo;\
KGT=Asia/Bishkek;KOST=Pacific/Kosrae;KRAT=Asia/Krasnoyarsk;KST=Asia/Seoul;\
LHDT LHST=Australia/Lord_Howe;LINT=Pacific/Kiritimati;MAGT=Asia/Magadan;\
MART=Pacific/Marquesas;MAWT=Antarctica/Mawson;MDT MST=America/Denver;MSK=Europe/Moscow;\
MUT=Indian/Mauritius;MVT TFT=Indian/Maldives;NCT=Pacific/Noumea;NDT NST=America/St_Johns;\
NFT=Pacific/Norfolk;NOVT=Asia/Novosibirsk;NPT=Asia/Kathmandu;NRT=Pacific/Nauru;\
NUT=Pacific/Niue;NZDT NZST=Pacific/Auckland;OMST=Asia/Omsk;PDT PST=America/Los_Angeles;\
PET=America/Lima;PETT=Asia/Kamchatka;PHOT=Pacific/Kanton;PKT=Asia/Karachi;\
PMDT PMST=America/Miquelon;PONT SBT=Pacific/Guadalcanal;PWT=Pacific/Palau;\
PYST PYT=America/Asuncion;ROTT=Antarctica/Rothera;SAKT=Asia/Sakhalin;SAMT=Europe/Samara;\
SAST=Africa/Johannesburg;SGT=Asia/Singapore;SRET=Asia/Srednekolymsk;SRT=America/Paramaribo;\
SST=Pacific/Pago_Pago;SYOT=Asia/Riyadh;TAHT=Pacific/Tahiti;TJT=Asia/Dushanbe;\
TKT=Pacific/Fakaofo;TLT=Asia/Dili;TMT=Asia/Ashgabat;TOT=Pacific/Tongatapu;TRT=Europe/Istanbul;\
UYT=America/Montevideo;UZT=Asia/Tashkent;VET=America/Caracas;VLAT=Asia/Vladivostok;\
VOST=Antarctica/Vostok;VUT=Pacific/Efate;WAT=Africa/Lagos;WEST WET=Atlantic/Canary;\
WGST WGT=America/Nuuk;WIB=Asia/Jakarta;WIT=Asia/Jayapura;WITA=Asia/Makassar;\
WSDT WSST=Pacific/Apia;XJT=Asia/Urumqi;YAKT=Asia/Yakutsk;YEKT=Asia/Yekaterinburg";
/// Region ids chrono-tz knows and `ZoneId.of` rejects.
const NOT_JAVA: [&str; 5] = ["EST", "HST", "MST", "ROC", "America/Coyhaique"];
/// `ZoneId` prefixes: bare = zero offset, followed by an offset = fixed zone.
const PREFIXES: [(&str, Tz); 3] = [("UTC", Tz::UTC), ("GMT", Tz::GMT), ("UT", Tz::UTC)];
// Parsed-field slots; the letters "yuMdDEaHkKhms" map to the first 13 in order (S, n → NOS).
const YOE: usize = 0;
const YEAR: usize = 1;
const MONTH: usize = 2;
const DOM: usize = 3;
const DOY: usize = 4;
const DOW: usize = 5;
const AMPM: usize = 6;
const HOD: usize = 7;
const CHOD: usize = 8;
const HOA: usize = 9;
const CHOA: usize = 10;
const MOH: usize = 11;
const SOM: usize = 12;
const NOS: usize = 13;
const MAX: i64 = 999_999_999;
/// Valid values per slot (checked as java.time's SMART resolver does), and the slots' names.
const LO: [i64; 14] = [1, -MAX, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0];
const HI: [i64; 14] = [MAX, MAX, 12, 31, 366, 7, 1, 24, 24, 11, 12, 59, 59, MAX];
const NAMES: &str = "YearOfEra Year MonthOfYear DayOfMonth DayOfYear DayOfWeek AmPmOfDay \
    HourOfDay ClockHourOfDay HourOfAmPm ClockHourOfAmPm MinuteOfHour SecondOfMinute NanoOfSecond";

/// A time zone as java.time.ZoneId.of reads one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    /// A fixed offset: `Z`, `+02:00`, `GMT+2`.
    Fixed(FixedOffset),
    /// A tzdb region: `America/Los_Angeles`; bare `UTC`/`UT` are `Tz::UTC`, `GMT` is `Tz::GMT`.
    Region(Tz),
}

impl Zone {
    /// ZoneId.of semantics (spec §1 "Zones"): Z, +h..+hh:mm:ss offsets, UTC/GMT/UT prefixes
    /// (bare = UTC, with +/-offset = fixed), tzdb region ids (case-sensitive). Err(message) otherwise.
    pub fn of(id: &str) -> Result<Zone, String> {
        let bad = || format!("Invalid time zone: {id}");
        if id.len() <= 1 || id.starts_with(['+', '-']) {
            return offset_of(id).map(Zone::Fixed).ok_or_else(bad);
        }
        for (prefix, tz) in PREFIXES {
            match id.strip_prefix(prefix) {
                Some("") => return Ok(Zone::Region(tz)),
                Some(r) if r.starts_with(['+', '-']) => {
                    return Ok(prefixed(tz, offset_of(r).ok_or_else(bad)?));
                }
                Some(_) => break,
                None => {}
            }
        }
        match id.parse::<Tz>() {
            Ok(tz) if !NOT_JAVA.contains(&id) => Ok(Zone::Region(tz)),
            _ => Err(bad()),
        }
    }

    /// UTC.
    pub fn utc() -> Zone {
        Zone::Region(Tz::UTC)
    }

    /// The offset in seconds east of UTC at the instant `epoch_ms`.
    pub fn offset_at(&self, epoch_ms: i64) -> i32 {
        let ms = epoch_ms.clamp(-8_000_000_000_000_000, 8_000_000_000_000_000);
        let utc = DateTime::from_timestamp_millis(ms).unwrap_or_default();
        let utc = utc.naive_utc();
        match self {
            Zone::Fixed(f) => f.local_minus_utc(),
            Zone::Region(tz) => tz.offset_from_utc_datetime(&utc).fix().local_minus_utc(),
        }
    }
}

/// Java's `ZoneId.ofOffset(prefix, offset)`: a zero offset keeps the prefix's region.
fn prefixed(tz: Tz, off: FixedOffset) -> Zone {
    match off.local_minus_utc() {
        0 => Zone::Region(tz),
        _ => Zone::Fixed(off),
    }
}

/// `ZoneOffset.of`: Z, ±h, ±hh, ±hhmm, ±hh:mm, ±hhmmss, ±hh:mm:ss, at most ±18:00.
fn offset_of(s: &str) -> Option<FixedOffset> {
    if s == "Z" {
        return FixedOffset::east_opt(0);
    }
    let s = match s.len() {
        2 => s.replacen('+', "+0", 1).replacen('-', "-0", 1),
        _ => s.to_string(),
    };
    let ok = |&(o, end): &(i32, usize)| end == s.len() && o.abs() <= 64_800;
    let tries = [1, 5, 6].map(|ty| parse_offset(&s, 0, ty, ""));
    FixedOffset::east_opt(tries.into_iter().flatten().find(ok)?.0)
}

#[derive(Debug, Clone)]
enum Tok {
    Lit(String),
    /// Letter, count, and the widths of the fixed-width numbers after it (adjacent value parsing).
    Field(char, usize, usize),
    Opt(Vec<Tok>),
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Sign {
    Normal,
    NotNeg,
    Exceeds,
}

/// (min width, max width, sign style) of a numeric field as `appendPattern` builds it.
fn num_spec(c: char, n: usize) -> Option<(usize, usize, Sign)> {
    Some(match (c, n) {
        ('M', 3..) | ('E' | 'a' | 'X' | 'x' | 'Z' | 'z' | 'V', _) => return None,
        ('y' | 'u', 2) => (2, 2, Sign::NotNeg),
        ('S', _) => (n, n, Sign::NotNeg),
        (_, 1) => (1, 19, Sign::Normal),
        ('y' | 'u', 3) => (3, 19, Sign::Normal),
        ('y' | 'u', _) => (n, 19, Sign::Exceeds),
        ('D', 2) => (2, 3, Sign::NotNeg),
        _ => (n, n, Sign::NotNeg),
    })
}

/// Validates a letter run like `appendPattern` (plus the letters this module leaves out).
fn check(c: char, n: usize) -> Result<(), String> {
    let max = match c {
        'd' | 'H' | 'h' | 'k' | 'K' | 'm' | 's' => 2,
        'a' => 1,
        'D' => 3,
        'z' => 4,
        'M' | 'E' | 'X' | 'x' | 'Z' => 5,
        'S' => 9,
        'y' | 'u' | 'n' => 19,
        'V' if n == 2 => 2,
        'V' => return Err("Pattern letter count must be 2: V".into()),
        _ if "GQqLwWYecFOAvBgNp".contains(c) => 0,
        _ => return Err(format!("Unknown pattern letter: {c}")),
    };
    match n {
        _ if max == 0 => Err(format!("unsupported pattern letter: {c}")),
        _ if n > max => Err(format!("Too many pattern letters: {c}")),
        4 if c == 'z' || c == 'Z' => Err(format!("unsupported pattern letter: {c}{c}{c}{c}")),
        _ => Ok(()),
    }
}

/// One optional-section level of the tokenizer, with its active adjacent value parser.
#[derive(Default)]
struct Level {
    toks: Vec<Tok>,
    active: Option<usize>,
}

impl Level {
    /// `DateTimeFormatterBuilder.appendValue` bookkeeping: a fixed-width number after a number
    /// reserves its width in the active one; anything else ends the run.
    fn push(&mut self, tok: Tok) {
        let spec = match &tok {
            Tok::Field(c, n, _) => num_spec(*c, *n),
            _ => None,
        };
        match (spec, self.active.and_then(|a| self.toks.get_mut(a))) {
            (Some((min, max, Sign::NotNeg)), Some(Tok::Field(_, _, sub))) if min == max => {
                *sub += max;
            }
            (Some(_), active) => {
                if let Some(Tok::Field(_, _, sub)) = active {
                    *sub = 0;
                }
                self.active = Some(self.toks.len());
            }
            (None, _) => {
                self.active = None;
                if let (Tok::Lit(s), Some(Tok::Lit(last))) = (&tok, self.toks.last_mut()) {
                    return last.push_str(s);
                }
            }
        }
        self.toks.push(tok);
    }
}

/// A parsed DateTimeFormatter pattern (spec §3.5 tokenizer: letters, quoted literals, `''`,
/// `[` `]` optional sections; unknown letters are errors).
#[derive(Debug, Clone)]
pub struct Pattern {
    toks: Vec<Tok>,
}

/// A zone to print: the zone, its offset, and the UTC date-time.
type ZoneAt = (Zone, i32, NaiveDateTime);

/// Values the formatter can print: date, time, zone.
struct Vals(Option<NaiveDate>, Option<NaiveTime>, Option<ZoneAt>);

/// Fields collected by the parser, before resolution.
#[derive(Clone, Copy, Default)]
struct Parsed {
    f: Fields,
    zone: Option<Zone>,
    offset: Option<i32>,
}

/// Resolved fields: leftovers, the full date and time if they resolved, and a "24:00" day carry.
type Resolved = (Fields, Option<NaiveDate>, Option<NaiveTime>, bool);

/// Parsed field values by slot.
type Fields = [Option<i64>; 14];

impl Pattern {
    /// Tokenizes `pattern` like `DateTimeFormatterBuilder.appendPattern`.
    pub fn new(pattern: &str) -> Result<Pattern, String> {
        let cs: Vec<char> = pattern.chars().collect();
        let mut stack = vec![Level::default()];
        let mut i = 0;
        while let Some(&c) = cs.get(i) {
            i += 1;
            let tok = match c {
                'A'..='Z' | 'a'..='z' => {
                    let n = 1 + cs.iter().skip(i).take_while(|&&x| x == c).count();
                    i += n - 1;
                    check(c, n)?;
                    Tok::Field(c, n, 0)
                }
                '\'' => {
                    let mut lit = String::new();
                    loop {
                        match (cs.get(i), cs.get(i + 1)) {
                            (None, _) => {
                                return Err(format!(
                                    "Pattern ends with an incomplete string literal: {pattern}"
                                ))
                            }
                            (Some('\''), Some('\'')) => (lit.push('\''), i += 2).1,
                            (Some('\''), _) => break i += 1,
                            (Some(&x), _) => (lit.push(x), i += 1).1,
                        }
                    }
                    Tok::Lit(if lit.is_empty() { "'".into() } else { lit })
                }
                '[' => {
                    stack.iter_mut().for_each(|l| l.active = None);
                    stack.push(Level::default());
                    continue;
                }
                ']' => {
                    match (stack.pop(), stack.last_mut()) {
                        (Some(inner), Some(up)) => up.push(Tok::Opt(inner.toks)),
                        _ => {
                            return Err("Pattern invalid as it contains ] without previous [".into())
                        }
                    }
                    continue;
                }
                '#' | '{' | '}' => {
                    return Err(format!("Pattern includes reserved character: '{c}'"))
                }
                _ => Tok::Lit(c.to_string()),
            };
            if let Some(level) = stack.last_mut() {
                level.push(tok);
            }
        }
        while stack.len() > 1 {
            if let (Some(inner), Some(up)) = (stack.pop(), stack.last_mut()) {
                up.push(Tok::Opt(inner.toks));
            }
        }
        let toks = stack.pop().map(|l| l.toks).unwrap_or_default();
        Ok(Pattern { toks })
    }

    /// Formats an instant in `zone` (en_US names: May, Fri, AM; zone letters X, XX, XXX, x..,
    /// Z.., z/zz/zzz short names via chrono-tz abbreviations, VV; S×n truncated fractions).
    pub fn format_timestamp(&self, epoch_ms: i64, zone: &Zone) -> Result<String, String> {
        let off = zone.offset_at(epoch_ms);
        let at = |ms: i64| DateTime::from_timestamp_millis(ms).map(|d| d.naive_utc());
        let local = at(epoch_ms.saturating_add(i64::from(off) * 1000));
        let (utc, local) = at(epoch_ms).zip(local).ok_or("timestamp out of range")?;
        let zone = Some((*zone, off, utc));
        let v = Vals(Some(local.date()), Some(local.time()), zone);
        fmt_seq(&self.toks, &v)
    }

    /// Formats a date (days since 1970-01-01); a time or zone letter is an error.
    pub fn format_date(&self, epoch_days: i32) -> Result<String, String> {
        let days = TimeDelta::try_days(epoch_days.into());
        let date = days.and_then(|d| NaiveDate::default().checked_add_signed(d));
        let v = Vals(Some(date.ok_or("date out of range")?), None, None);
        fmt_seq(&self.toks, &v)
    }

    /// Formats a time of day (ms); a date or zone letter is an error.
    pub fn format_time(&self, ms_of_day: i64) -> Result<String, String> {
        let ms = ms_of_day.rem_euclid(1000) as u32;
        let secs = u32::try_from(ms_of_day.div_euclid(1000)).ok();
        let t = secs.and_then(|s| NaiveTime::from_num_seconds_from_midnight_opt(s, ms * 1_000_000));
        let t = t.ok_or_else(|| format!("Invalid value for NanoOfDay: {ms_of_day}"))?;
        fmt_seq(&self.toks, &Vals(None, Some(t), None))
    }

    /// ksqlDB's StringToTimestampParser (spec §3.3): case-insensitive, whole text, missing fields
    /// default to 1970-01-01T00:00:00, a zone in the text wins over `zone`; DST gap shifts forward,
    /// overlap takes the earlier offset. Epoch ms.
    pub fn parse_timestamp(&self, text: &str, zone: &Zone) -> Result<i64, String> {
        let p = self.run(text)?;
        let (f, date, time, next) = resolve(&p)?;
        let date = match date {
            Some(d) if next => d.succ_opt().ok_or("date out of range")?,
            Some(d) => d,
            None => partial_date(&f)?,
        };
        let g = |i: usize| f[i].unwrap_or(0) as u32;
        let hour = f[HOD].map_or(g(AMPM) * 12 + g(HOA), |h| h as u32);
        let time = time.or(NaiveTime::from_hms_nano_opt(hour, g(MOH), g(SOM), g(NOS)));
        let fixed = p.offset.and_then(FixedOffset::east_opt).map(Zone::Fixed);
        let zone = p.zone.or(fixed).unwrap_or(*zone);
        Ok(to_epoch(date.and_time(time.ok_or("invalid time")?), &zone))
    }

    /// STRINGTODATE: LocalDate.parse semantics (needs year, month and day; time fields ignored).
    /// Days since epoch.
    pub fn parse_date(&self, text: &str) -> Result<i32, String> {
        let (_, date, _, next) = resolve(&self.run(text)?)?;
        let err = || format!("Text '{text}' could not be parsed: Unable to obtain LocalDate");
        let date = date.and_then(|d| if next { d.succ_opt() } else { Some(d) });
        let days = date.ok_or_else(err)? - NaiveDate::default();
        i32::try_from(days.num_days()).map_err(|e| e.to_string())
    }

    /// PARSE_TIME: any date field is an error ("Time format contains date field."); needs an hour
    /// (hh needs a); zone ignored; 24:00 → 0. ms of day.
    pub fn parse_time(&self, text: &str) -> Result<i64, String> {
        let (f, date, time, _) = resolve(&self.run(text)?)?;
        if date.is_some() || f[YEAR..=DOW].iter().any(Option::is_some) {
            return Err("Time format contains date field.".into());
        }
        let err = || format!("Text '{text}' could not be parsed: Unable to obtain LocalTime");
        let t = time.ok_or_else(err)?;
        Ok(i64::from(t.num_seconds_from_midnight()) * 1000 + i64::from(t.nanosecond() / 1_000_000))
    }

    /// Parses the whole text into fields.
    fn run(&self, text: &str) -> Result<Parsed, String> {
        let mut p = Parsed::default();
        match parse_seq(&self.toks, text, 0, &mut p) {
            Ok(end) if end == text.len() => Ok(p),
            Ok(end) => Err(format!(
                "Text '{text}' could not be parsed, unparsed text found at index {end}"
            )),
            Err(i) => Err(format!("Text '{text}' could not be parsed at index {i}")),
        }
    }
}

/// Prints tokens; an optional section whose fields are missing is left out.
fn fmt_seq(toks: &[Tok], v: &Vals) -> Result<String, String> {
    let mut out = String::new();
    for tok in toks {
        match tok {
            Tok::Lit(s) => out.push_str(s),
            Tok::Field(c, n, _) => out.push_str(&fmt_field(*c, *n, v)?),
            Tok::Opt(inner) => out.push_str(&fmt_seq(inner, v).unwrap_or_default()),
        }
    }
    Ok(out)
}

/// The `i`th name of a space-separated list, in the width `n` letters ask for:
/// 4 = full, 5 = narrow, else short.
fn name(list: &str, i: u32, n: usize) -> &str {
    let full = list.split(' ').nth(i as usize).unwrap_or_default();
    let w = [3, 3, 3, full.len(), 1].get(n.wrapping_sub(1)).copied();
    full.get(..w.unwrap_or(3)).unwrap_or(full)
}

fn fmt_field(c: char, n: usize, v: &Vals) -> Result<String, String> {
    let num: i64 = match (c, v.0, v.1, v.2) {
        ('X' | 'x' | 'Z' | 'z' | 'V', _, _, Some(z)) => return Ok(zone_text(c, n, z)),
        ('a', _, Some(t), _) => return Ok(name("AM PM", t.hour() / 12, 4).into()),
        ('S', _, Some(t), _) => return Ok(format!("{:09}", t.nanosecond())[..n].into()),
        ('H', _, Some(t), _) => t.hour().into(),
        ('h', _, Some(t), _) => ((t.hour() + 11) % 12 + 1).into(),
        ('k', _, Some(t), _) => ((t.hour() + 23) % 24 + 1).into(),
        ('K', _, Some(t), _) => (t.hour() % 12).into(),
        ('m', _, Some(t), _) => t.minute().into(),
        ('s', _, Some(t), _) => t.second().into(),
        ('n', _, Some(t), _) => (t.nanosecond() % 1_000_000_000).into(),
        ('M', Some(d), ..) if n >= 3 => return Ok(name(MONTHS, d.month0(), n).into()),
        ('E', Some(d), ..) => return Ok(name(DAYS, d.weekday().num_days_from_monday(), n).into()),
        ('M', Some(d), ..) => d.month().into(),
        ('d', Some(d), ..) => d.day().into(),
        ('D', Some(d), ..) => d.ordinal().into(),
        ('y' | 'u', Some(d), ..) if n == 2 => year(c, d).abs() % 100,
        ('y' | 'u', Some(d), ..) => year(c, d),
        _ => return Err(format!("Unsupported field: {c}")),
    };
    let (min, max, sign) = num_spec(c, n).ok_or("bad field")?;
    let s = num.unsigned_abs().to_string();
    if s.len() > max || (num < 0 && sign == Sign::NotNeg) {
        return Err(format!("Field {c} cannot be printed as the value {num}"));
    }
    let sign = match sign {
        _ if num < 0 => "-",
        Sign::Exceeds if s.len() > min => "+",
        _ => "",
    };
    Ok(format!("{sign}{s:0>min$}"))
}

/// `y` is the year-of-era (1 BC = 1), `u` the proleptic year.
fn year(c: char, d: NaiveDate) -> i64 {
    let y = i64::from(d.year());
    if c == 'y' && y <= 0 {
        1 - y
    } else {
        y
    }
}

/// Zone letters: `z` short name, `VV` id, or an offset in the letter's style.
fn zone_text(c: char, n: usize, (z, off, utc): ZoneAt) -> String {
    match (c, z) {
        ('z' | 'V', Zone::Fixed(_)) => fmt_offset(off, 6, "Z"),
        ('V', Zone::Region(tz)) => tz.name().into(),
        ('z', Zone::Region(tz)) => match tz.offset_from_utc_datetime(&utc).abbreviation() {
            Some(a) if !a.starts_with(['+', '-']) => a.into(),
            _ => format!("GMT{}", fmt_offset(off, 6, "")),
        },
        _ => {
            let (ty, zero) = offset_style(c, n);
            fmt_offset(off, ty, zero)
        }
    }
}

/// Java's OffsetIdPrinterParser type (1 "+HHmm", 3 "+HHMM", 4 "+HH:MM", 5 "+HHMMss",
/// 6 "+HH:MM:ss") and no-offset text for an offset letter.
fn offset_style(c: char, n: usize) -> (u8, &'static str) {
    let ty = [1, 3, 4, 5, 6].get(n.wrapping_sub(1)).copied().unwrap_or(6);
    match (c, n) {
        ('Z', 5) => (6, "Z"),
        ('Z', _) => (3, "+0000"),
        ('X', _) => (ty, "Z"),
        (_, 1) => (ty, "+00"),
        (_, 3 | 5) => (ty, "+00:00"),
        _ => (ty, "+0000"),
    }
}

fn fmt_offset(secs: i32, ty: u8, zero: &str) -> String {
    let a = secs.unsigned_abs();
    let (h, m, s) = (a / 3600 % 100, a / 60 % 60, a % 60);
    let colon = if matches!(ty, 4 | 6) { ":" } else { "" };
    let mut out = format!("{}{h:02}", if secs < 0 { '-' } else { '+' });
    let mut printed = h;
    if ty >= 3 || m > 0 {
        out += &format!("{colon}{m:02}");
        printed += m;
        if ty >= 5 && s > 0 {
            out += &format!("{colon}{s:02}");
            printed += s;
        }
    }
    if printed == 0 {
        return zero.into();
    }
    out
}

/// Case-insensitive `t[pos..]` starts with `s`.
fn at(t: &str, pos: usize, s: &str) -> bool {
    let x = t.get(pos..pos + s.len());
    x.is_some_and(|x| x.eq_ignore_ascii_case(s))
}

/// OffsetIdPrinterParser.parse (strict); an empty `zero` means no no-offset text.
fn parse_offset(t: &str, pos: usize, ty: u8, zero: &str) -> Option<(i32, usize)> {
    if !zero.is_empty() && at(t, pos, zero) {
        return Some((0, pos + zero.len()));
    }
    let b = t.as_bytes();
    let sign = match b.get(pos) {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return None,
    };
    let colon = matches!(ty, 4 | 6);
    let two = |i: usize, colon: bool| -> Option<(i32, usize)> {
        let i = i + usize::from(colon);
        (!colon || b.get(i - 1) == Some(&b':')).then_some(())?;
        let (x, y) = (*b.get(i)?, *b.get(i + 1)?);
        let v = i32::from(x.wrapping_sub(b'0')) * 10 + i32::from(y.wrapping_sub(b'0'));
        (x.is_ascii_digit() && y.is_ascii_digit() && v <= 59).then_some((v, i + 2))
    };
    let (h, mut i) = two(pos + 1, false)?;
    let mut total = h * 3600;
    match two(i, colon) {
        Some((m, j)) => {
            (total, i) = (total + m * 60, j);
            if let Some((s, k)) = two(i, colon).filter(|_| ty >= 5) {
                (total, i) = (total + s, k);
            }
        }
        None if ty >= 3 => return None,
        None => {}
    }
    (h <= 23).then_some((sign * total, i))
}

/// `z`/`VV` parsing: an offset, a UTC/GMT/UT prefix (+offset), a region id or (for `z`) a name.
fn parse_zone(t: &str, pos: usize, names: bool) -> Option<(Zone, usize)> {
    if t.get(pos..).is_some_and(|r| r.starts_with(['+', '-'])) {
        let (o, end) = parse_offset(t, pos, 6, "")?;
        return Some((Zone::Fixed(FixedOffset::east_opt(o)?), end));
    }
    if let Some((p, tz)) = PREFIXES.into_iter().find(|(p, _)| at(t, pos, p)) {
        let end = pos + p.len();
        if tz == Tz::GMT && at(t, end, "0") {
            return Some((Zone::Region(tz), end + 1));
        }
        let off = parse_offset(t, end, 6, "");
        let off = off.and_then(|(o, e)| Some((prefixed(tz, FixedOffset::east_opt(o)?), e)));
        return Some(off.unwrap_or((Zone::Region(tz), end)));
    }
    let mut best: Option<(Tz, usize)> = None;
    for tz in TZ_VARIANTS {
        let java = !NOT_JAVA.contains(&tz.name());
        if java && tz.name().len() > best.map_or(0, |b| b.1) && at(t, pos, tz.name()) {
            best = Some((tz, tz.name().len()));
        }
    }
    for (short, id) in SHORT_NAMES.split(';').filter_map(|e| e.split_once('=')) {
        for n in short.split(' ').filter(|n| names && at(t, pos, n)) {
            if n.len() >= best.map_or(0, |b| b.1) {
                best = id.parse::<Tz>().ok().map(|tz| (tz, n.len())).or(best);
            }
        }
    }
    match best {
        Some((tz, len)) => Some((Zone::Region(tz), pos + len)),
        None if at(t, pos, "Z") => Some((Zone::Fixed(FixedOffset::east_opt(0)?), pos + 1)),
        None => None,
    }
}

/// Case-insensitive full-or-short name match; returns the name's index and the end position.
fn match_name(t: &str, pos: usize, list: &str) -> Option<(i64, usize)> {
    for w in [4, 3] {
        let mut names = list.split(' ').map(|n| name(n, 0, w)).enumerate();
        if let Some((i, n)) = names.find(|(_, n)| at(t, pos, n)) {
            return Some((i as i64, pos + n.len()));
        }
    }
    None
}

/// Strict-mode NumberPrinterParser.parse, including the adjacent-value two-pass width rule.
fn parse_num(b: &[u8], pos: usize, spec: (usize, usize, Sign), sub: usize) -> Option<(i64, usize)> {
    let (min, max, sign) = spec;
    let (neg, plus) = (b.get(pos) == Some(&b'-'), b.get(pos) == Some(&b'+'));
    if (plus && sign != Sign::Exceeds) || (neg && sign == Sign::NotNeg) {
        return None;
    }
    let start = pos + usize::from(neg || plus);
    let digits = b.get(start..)?.iter();
    let first = digits.take_while(|x| x.is_ascii_digit()).count();
    let first = first.min(max + sub);
    let w = min.max(first.saturating_sub(sub));
    let v = std::str::from_utf8(b.get(start..start + w)?).ok()?;
    let v: i64 = v.parse().ok()?;
    if first < min || (neg && v == 0) || (sign == Sign::Exceeds && !neg && plus != (w > min)) {
        return None;
    }
    Some((if neg { -v } else { v }, start + w))
}

fn parse_field(tok: (char, usize, usize), t: &str, pos: usize, p: &mut Parsed) -> Option<usize> {
    let (c, n, sub) = tok;
    let (v, end) = match c {
        'M' if n >= 3 => match_name(t, pos, MONTHS).map(|(i, e)| (i + 1, e))?,
        'E' => match_name(t, pos, DAYS).map(|(i, e)| (i + 1, e))?,
        'a' => match_name(t, pos, "AM PM")?,
        'X' | 'x' | 'Z' => {
            let (ty, zero) = offset_style(c, n);
            let (o, end) = parse_offset(t, pos, ty, zero)?;
            p.offset = Some(o).filter(|o| p.offset.is_none_or(|x| x == *o));
            return p.offset.map(|_| end);
        }
        'z' | 'V' => {
            let (z, end) = parse_zone(t, pos, c == 'z')?;
            p.zone = Some(z);
            return Some(end);
        }
        'S' => {
            let s = t.get(pos..pos + n)?;
            let digits = s.bytes().all(|b| b.is_ascii_digit());
            let v = s.parse::<i64>().ok().filter(|_| digits);
            (v? * 10i64.pow(9 - n as u32), pos + n)
        }
        _ => {
            let (v, end) = parse_num(t.as_bytes(), pos, num_spec(c, n)?, sub)?;
            let reduced = n == 2 && (c == 'y' || c == 'u') && end - pos == 2;
            (if reduced { 2000 + v } else { v }, end)
        }
    };
    let slot = &mut p.f["yuMdDEaHkKhms".find(c).unwrap_or(NOS)];
    *slot = Some(v).filter(|v| slot.is_none_or(|x| x == *v));
    slot.map(|_| end)
}

/// Parses tokens from `pos`; an optional section that fails is skipped. Err = error index.
fn parse_seq(toks: &[Tok], t: &str, mut pos: usize, p: &mut Parsed) -> Result<usize, usize> {
    for tok in toks {
        pos = match tok {
            Tok::Lit(s) if at(t, pos, s) => pos + s.len(),
            Tok::Lit(_) => return Err(pos),
            Tok::Field(c, n, sub) => parse_field((*c, *n, *sub), t, pos, p).ok_or(pos)?,
            Tok::Opt(inner) => {
                let mut q = *p;
                let end = parse_seq(inner, t, pos, &mut q);
                *p = if end.is_ok() { q } else { *p };
                end.unwrap_or(pos)
            }
        };
    }
    Ok(pos)
}

/// Sets slot `i`, failing like Java's "Conflict found" when it already holds another value.
fn merge(f: &mut Fields, i: usize, v: i64) -> Result<(), String> {
    match f[i].replace(v) {
        Some(old) if old != v => Err(format!("Conflict found: {old} differs from {v}")),
        _ => Ok(()),
    }
}

/// java.time's SMART resolution of the parsed fields.
fn resolve(p: &Parsed) -> Result<Resolved, String> {
    let mut f = p.f;
    for (i, (v, name)) in f.iter().zip(NAMES.split_whitespace()).enumerate() {
        match v {
            Some(v) if !(LO[i]..=HI[i]).contains(v) => {
                let (lo, hi) = (LO[i], HI[i]);
                return Err(format!(
                    "Invalid value for {name} (valid values {lo} - {hi}): {v}"
                ));
            }
            _ => {}
        }
    }
    if let Some(y) = f[YOE].take() {
        merge(&mut f, YEAR, y)?;
    }
    let mut date = None;
    let ymd = f[YEAR].and(f[MONTH]).and(f[DOM]).is_some();
    if let (Some(y), Some(m), Some(d)) = (f[YEAR], f[MONTH], f[DOM]) {
        let (y, m) = (y as i32, m as u32);
        let mk = |d: u32| NaiveDate::from_ymd_opt(y, m, d);
        let last = (28..=31).rev().find_map(mk).map_or(28, |l| l.day());
        date = Some(mk((d as u32).min(last)).ok_or("year out of range")?);
    } else if let (Some(y), Some(doy)) = (f[YEAR], f[DOY]) {
        let d = NaiveDate::from_yo_opt(y as i32, doy as u32);
        date = Some(d.ok_or_else(|| format!("Invalid date 'DayOfYear {doy}' in year {y}"))?);
    }
    if let Some(d) = date {
        let dow = (DOW, d.weekday().number_from_monday());
        let derived = [(MONTH, d.month()), (DOM, d.day()), (DOY, d.ordinal()), dow];
        for (i, v) in derived.into_iter().skip(if ymd { 2 } else { 0 }) {
            if f[i].is_some_and(|x| x != i64::from(v)) {
                return Err(format!("Conflict found: field {i} differs from {d}"));
            }
        }
    }
    if let Some(k) = f[CHOD].take() {
        merge(&mut f, HOD, k % 24)?;
    }
    if let Some(h) = f[CHOA].take() {
        merge(&mut f, HOA, h % 12)?;
    }
    if let (Some(ap), Some(h)) = (f[AMPM], f[HOA]) {
        (f[AMPM], f[HOA]) = (None, None);
        merge(&mut f, HOD, ap * 12 + h)?;
    }
    if let (Some(ap), None, None, None, None) = (f[AMPM], f[HOD], f[MOH], f[SOM], f[NOS]) {
        (f[AMPM], f[HOD]) = (None, Some(ap * 12 + 6));
    }
    let (mut time, mut next) = (None, false);
    let (m, s, n) = (f[MOH], f[SOM], f[NOS]);
    let gaps = (m.is_none() && s.or(n).is_some()) || (m.is_some() && s.is_none() && n.is_some());
    if let Some(h) = f[HOD].filter(|_| !gaps) {
        let (m, s, n) = (m.unwrap_or(0), s.unwrap_or(0), n.unwrap_or(0));
        next = h == 24 && m == 0 && s == 0 && n == 0;
        time = NaiveTime::from_hms_nano_opt((h % 24) as u32, m as u32, s as u32, n as u32);
        if f[AMPM].is_some_and(|ap| ap != h % 24 / 12) {
            return Err("Conflict found: AmPmOfDay differs from the hour".into());
        }
    }
    if f[HOD] == Some(24) && !next {
        return Err("Invalid value for HourOfDay (valid values 0 - 23): 24".into());
    }
    Ok((f, date, time, next))
}

/// ksqlDB's field-by-field overwrite of 1970-01-01 when the date did not resolve.
fn partial_date(f: &Fields) -> Result<NaiveDate, String> {
    let bad = || format!("Invalid date from fields {:?}", &f[YEAR..=DOW]);
    let mut d = NaiveDate::default();
    if let Some(y) = f[YEAR] {
        d = d.with_year(y as i32).ok_or_else(bad)?;
    }
    if let Some(m) = f[MONTH] {
        d = d.with_month(m as u32).ok_or_else(bad)?;
    }
    if let Some(w) = f[DOW] {
        let delta = w - i64::from(d.weekday().number_from_monday());
        let delta = TimeDelta::try_days(delta).and_then(|x| d.checked_add_signed(x));
        d = delta.ok_or_else(bad)?;
    }
    if let Some(x) = f[DOM] {
        d = d.with_day(x as u32).ok_or_else(bad)?;
    }
    if let Some(x) = f[DOY] {
        if x == 366 && f[YEAR].is_none() {
            return Err("Leap day cannot be parsed without supplying the year field".into());
        }
        d = d.with_ordinal(x as u32).ok_or_else(bad)?;
    }
    Ok(d)
}

/// Local time in `zone` → epoch ms; a gap shifts forward, an overlap takes the earlier offset.
fn to_epoch(ndt: NaiveDateTime, zone: &Zone) -> i64 {
    let ms = ndt.and_utc().timestamp_millis();
    let off = match zone {
        Zone::Fixed(f) => f.local_minus_utc(),
        Zone::Region(tz) => match tz.offset_from_local_datetime(&ndt) {
            LocalResult::Single(o) | LocalResult::Ambiguous(o, _) => o.fix().local_minus_utc(),
            LocalResult::None => zone.offset_at(ms - 86_400_000),
        },
    };
    ms - i64::from(off) * 1000
}

#[cfg(test)]
mod tests;
