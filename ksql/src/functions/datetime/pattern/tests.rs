//! The pattern module against what Java 17 gives for the same calls (checked with ksqlDB's
//! own parser code).

use super::*;

/// Runs `verb|pattern|input[|zone]|expected` lines. The verbs are the Java harness's
/// (a Java 17 program calling ksqlDB's parser code), whose output gave the expected values; `ERR` = any error,
/// `ERR text` = an error containing `text`. `zone|id|ms|offset` checks `Zone::of`.
fn run(cases: &str) {
    for line in cases.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let a: Vec<&str> = line.split('|').collect();
        let num = |i: usize| a[i].parse::<i64>().map_err(|e| e.to_string());
        let got = (|| match a[0] {
            "zone" => Ok(Zone::of(a[1])?.offset_at(num(2)?).to_string()),
            verb => {
                let p = Pattern::new(a[1])?;
                match verb {
                    "ts" => Ok(p.parse_timestamp(a[2], &Zone::of(a[3])?)?.to_string()),
                    "fmt" => p.format_timestamp(num(2)?, &Zone::of(a[3])?),
                    "fdate" => p.format_date(num(2)? as i32),
                    "ftime" => p.format_time(num(2)?),
                    "s2d" => Ok(p.parse_date(a[2])?.to_string()),
                    "ptime" => Ok(p.parse_time(a[2])?.to_string()),
                    _ => Ok("pattern ok".into()),
                }
            }
        })();
        match a[a.len() - 1].strip_prefix("ERR") {
            Some(msg) => assert!(
                got.as_ref().is_err_and(|e| e.contains(msg.trim())),
                "{line}: {got:?}"
            ),
            None => assert_eq!(got.as_deref(), Ok(a[a.len() - 1]), "{line}"),
        }
    }
}

#[test]
fn zones() {
    let fixed = |s| Zone::Fixed(FixedOffset::east_opt(s).unwrap());
    assert_eq!(Zone::of("+05:30"), Ok(fixed(19800)));
    assert_eq!(Zone::of("GMT+2"), Ok(fixed(7200)));
    assert_eq!(Zone::of("GMT+0"), Ok(Zone::Region(Tz::GMT)));
    assert_eq!(Zone::of("UTC"), Ok(Zone::utc()));
    assert_eq!(Zone::of("US/Pacific"), Ok(Zone::Region(Tz::US__Pacific)));
    run("zone|Z|0|0
        zone|+5|0|18000
        zone|-0530|0|-19800
        zone|+05:30:15|0|19815
        zone|+053015|0|19815
        zone|UTC-05:00|0|-18000
        zone|America/Los_Angeles|1526075913000|-25200
        zone|America/Los_Angeles|1516075913000|-28800
        zone|CET|0|3600
        zone|EST5EDT|0|-18000
        zone|Etc/GMT+8|0|-28800
        zone|+19|0|ERR Invalid time zone: +19
        zone|+5:30|0|ERR
        zone|z|0|ERR
        zone|GMT+2x|0|ERR
        zone|PST|0|ERR
        zone|EST|0|ERR
        zone|HST|0|ERR
        zone|ROC|0|ERR
        zone|america/los_angeles|0|ERR");
}

#[test]
fn tokenizer() {
    run("pat|b|ERR Unknown pattern letter: b
        pat|yyyy-MM-ddTHH|ERR Unknown pattern letter: T
        pat|ddd|ERR Too many pattern letters: d
        pat|aa|ERR Too many pattern letters: a
        pat|HHH|ERR Too many pattern letters: H
        pat|MMMMMM|ERR Too many pattern letters: M
        pat|G|ERR unsupported pattern letter: G
        pat|YYYY|ERR unsupported pattern letter: Y
        pat|zzzz|ERR unsupported pattern letter: zzzz
        pat|V|ERR Pattern letter count must be 2: V
        pat|#|ERR Pattern includes reserved character: '#'
        pat|yyyy]|ERR Pattern invalid as it contains ] without previous [
        pat|'abc|ERR Pattern ends with an incomplete string literal: 'abc
        pat|yyyy[-MM|pattern ok");
}

#[test]
fn format() {
    run("fmt|yyyy-MM-dd HH:mm:ss zzz|1526075913000|America/Los_Angeles|2018-05-11 14:58:33 PDT
        fmt|yyyy-MM-dd HH:mm:ss zzz|1516075913000|America/Los_Angeles|2018-01-15 20:11:53 PST
        fmt|yyyy-MM-dd HH:mm:ss zzz|1526075913000|Europe/London|2018-05-11 22:58:33 BST
        fmt|yyyy-MM-dd HH:mm:ss|1526075913000|GMT|2018-05-11 21:58:33
        fmt|yyyy-MM-dd HH:mm:ss Z|1526075913000|UTC|2018-05-11 21:58:33 +0000
        fmt|X XX XXX x xx xxx Z ZZZZZ|0|+05:30|+0530 +0530 +05:30 +0530 +0530 +05:30 +0530 +05:30
        fmt|X XX XXX x xx xxx Z ZZZZZ|0|UTC|Z Z Z +00 +0000 +00:00 +0000 Z
        fmt|X XXX Z|0|-02:00|-02 -02:00 -0200
        fmt|y yy yyy yyyy yyyyy u uuuu|1600000000000|UTC|2020 20 2020 2020 02020 2020 2020
        fmt|yyyy uuuu y u|-62198755200000|UTC|0002 -0001 2 -1
        fmt|yyyy|253402300800000|UTC|+10000
        fmt|M MM MMM MMMM MMMMM d D DDD|1600000000000|UTC|9 09 Sep September S 13 257 257
        fmt|E EEEE EEEEE|1600000000000|UTC|Sun Sunday S
        fmt|a h hh H k K m s S SSSS SSSSSSSSS n|1600000000123|UTC|PM 12 12 12 12 0 26 40 1 1230 123000000 123000000
        fmt|h k K a|1599955200000|UTC|12 24 0 AM
        fmt|yyyy-MM-dd'T'HH:mm:ss.SSSXXX|1600000000123|Asia/Kolkata|2020-09-13T17:56:40.123+05:30
        fmt|zzz VV|0|Z|Z Z
        fmt|zzz VV|0|+02:00|+02:00 +02:00
        fmt|zzz VV|0|UTC|UTC UTC
        fmt|zzz VV|0|America/Los_Angeles|PST America/Los_Angeles
        fmt|zzz|0|Etc/GMT+8|GMT-08:00
        fmt|''yyyy'' 'o''clock'|1600000000000|UTC|'2020' o'clock
        fmt|yyyy[ HH]|1600000000000|UTC|2020 12
        fdate|dd-MMM-yyyy|18993|01-Jan-2022
        fdate|dd-MM-yyyy'Sophia'|-1|31-12-1969Sophia
        fdate|dd/MM/yyyy|18993|01/01/2022
        fdate|yyyy[ HH]|5|1970
        fdate|HH|5|ERR Unsupported field: H
        fdate|yyyy-MM-dd X|5|ERR
        fdate|zzz|5|ERR
        ftime|HH_mm_ss_SSS|37230123|10_20_30_123
        ftime|HHmmss'AAAAA'|37230123|102030AAAAA
        ftime|HH:mm:ss|0|00:00:00
        ftime|yyyy|5|ERR
        ftime|HH VV|5|ERR
        ftime|HH|86400000|ERR
        ftime|HH|-1|ERR");
}

#[test]
fn parse_timestamp() {
    run(
        "ts|yyyy-MM-dd'T'HH:mm:ssX|2022-05-01T10:00:00Z|America/Los_Angeles|1651399200000
        ts|yyyy-MM-dd'T'HH:mm:ssX|2022-05-01T10:00:00z|America/Los_Angeles|1651399200000
        ts|yyyy-MM-dd'T'HH:mm:ssX|2022-01-01T00:00:00+0530|UTC|1640975400000
        ts|yyyy-MM-dd'T'HH:mm:ssX|2022-01-01T00:00:00+05|UTC|1640977200000
        ts|yyyy-MM-dd'T'HH:mm:ssx|2022-01-01T00:00:00+00|UTC|1640995200000
        ts|yyyy-MM-dd'T'HH:mm:ss|2022-01-01T00:00:00|GMT|1640995200000
        ts|yyyy-MM-dd'T'HH:mm|2022-01-01t10:00|UTC|1641031200000
        ts|yyyy-MM-dd'T'HH:mm:ss zzz|2022-05-01T10:00:00 PST|UTC|1651424400000
        ts|yyyy-MM-dd'T'HH:mm:ss zzz|2022-05-01T10:00:00 utc+01:00|UTC|1651395600000
        ts|yyyy-MM-dd HH:mm zzz|2020-03-08 02:30 PST|UTC|1583663400000
        ts|yyyy-MM-dd HH:mm z|2022-07-01 10:00 CEST|UTC|1656662400000
        ts|yyyy-MM-dd zzz|2022-07-01 EEST|UTC|1656622800000
        ts|yyyy-MM-dd zzz|2022-07-01 CET|UTC|1656626400000
        ts|yyyy-MM-dd HH:mm z|2022-07-01 10:00 GMT|America/New_York|1656669600000
        ts|yyyy-MM-dd HH:mm z|2022-05-01 10:00 BST|UTC|1651395600000
        ts|yyyy-MM-dd HH:mm z|2018-07-15 00:00 ChST|UTC|1531576800000
        ts|yyyy-MM-dd HH:mm z|2018-07-15 00:00 lhdt|UTC|1531575000000
        ts|yyyy-MM-dd HH:mm z|2018-07-15 00:00 MET|UTC|1531605600000
        ts|yyyy-MM-dd HH:mm z|2018-07-15 00:00 WITA|UTC|1531584000000
        ts|yyyy-MM-dd HH:mm VV|2022-05-01 10:00 Europe/London|UTC|1651395600000
        ts|yyyy-MM-dd'T'HH:mm:ss VV|2022-05-01T10:00:00 america/new_york|UTC|1651413600000
        ts|yyyy-MM-dd VV|2022-01-01 GMT0|UTC|1640995200000
        ts|yyyy-MM-dd VV|2022-01-01 UT|America/New_York|1640995200000
        ts|yyyy-MM-dd VV|2022-01-01 Z|America/New_York|1640995200000
        ts|yy-MM-dd HH:mm:ssX|18-08-07 10:00:00+0100|UTC|1533632400000
        ts|yyyy-MM-dd'T'HH:mm:ss.SX|2018-08-07T10:00:09.2+0000|UTC|1533636009200
        ts|yyyyMMddHHmmss|20220102030405|UTC|1641092645000
        ts|yyyyMMddHHmmssSSS|20220102030405123|UTC|1641092645123
        ts|ddMMyyyy|01012022|UTC|1640995200000
        ts|yyyyDDD|2022032|UTC|1643673600000
        ts|HHmmssSSS|101010123|UTC|36610123
        ts|HH:mm|24:00|UTC|0
        ts|yyyy-MM-dd HH:mm|2022-01-01 24:00|UTC|1641081600000
        ts|yyyy-MM|2022-05|UTC|1651363200000
        ts|yyyy[-MM[-dd]]|2022-05|UTC|1651363200000
        ts|EEE|Mon|UTC|-259200000
        ts|a|PM|UTC|64800000
        ts|a mm|PM 30|UTC|45000000
        ts|hh:mm|12:30|UTC|1800000
        ts|k:mm|24:30|UTC|1800000
        ts|HH a|13 PM|UTC|46800000
        ts|KK a|11 PM|UTC|82800000
        ts|yyyy-MM-dd HH ss|2022-01-01 10 30|UTC|1641031230000
        ts|H:m:s|1:2:3|UTC|3723000
        ts|HHmm|1234|UTC|45240000
        ts|Hmm|1234|UTC|45240000
        ts|y-M-d|22-1-1|UTC|-61472908800000
        ts|yyyyMMdd HHmmss.SSS|20220101 101010.123|UTC|1641031810123
        ts|yyyy-MM-dd'T'HH:mm:ss.SSSXXX|2020-09-13T18:56:40.123+05:30|UTC|1600003600123
        ts|yyyy-MM-dd VV|2022-01-01 Etc/GMT+8|UTC|1641024000000
        ts|yyyy-MM-dd HH:mm:ss.n|2022-01-01 00:00:00.5|UTC|1640995200000
        ts|uuuu|0000|UTC|-62167219200000
        ts|dd-MMM-yyyy|01-JAN-2022|UTC|1640995200000
        ts|yyyy-MM-dd|2022-02-30|UTC|1646006400000
        ts|yyyy-MM-dd|2022-04-31|UTC|1651276800000
        ts|yyyy-MM-dd HH:mm|2020-03-08 02:30|America/Los_Angeles|1583663400000
        ts|yyyy-MM-dd HH:mm|2020-11-01 01:30|America/Los_Angeles|1604219400000",
    );
}

#[test]
fn parse_timestamp_errors() {
    run("ts|yyyy-MM-dd'T'HH:mm:ssX|2022-01-01T00:00:00+00:00|UTC|ERR unparsed text found at index 22
        ts|yyyy-MM-dd'T'HH:mm:ssXXX|2022-01-01T00:00:00+0530|UTC|ERR parsed at index 19
        ts|yyyy-MM-dd'T'HH:mm:ssZ|2022-01-01T00:00:00Z|UTC|ERR
        ts|yyyy-MM-dd'T'HH:mm:ss zzz|2022-05-01T10:00:00 GMT+2|UTC|ERR
        ts|dd-MMM-yyyy|01-Jan-2022x|UTC|ERR
        ts|MM-dd|02-29|UTC|ERR
        ts|yyyy-MM-dd|2022-02-32|UTC|ERR Invalid value for DayOfMonth (valid values 1 - 31): 32
        ts|yyyy-MM-dd|12019-08-07|UTC|ERR parsed at index 0
        ts|yyyyMMd|2022011|UTC|ERR
        ts|Md|1231|UTC|ERR
        ts|dMMyyyy|1012022|UTC|ERR
        ts|yyyy-M-d|2022-123-1|UTC|ERR MonthOfYear
        ts|yyyy|0000|UTC|ERR YearOfEra
        ts|yyyy-DDD|2021-366|UTC|ERR
        ts|DDD|366|UTC|ERR Leap day cannot be parsed without supplying the year field
        ts|yyyy-MM-dd EEE|2022-05-06 Thu|UTC|ERR Conflict
        ts|HH a|13 AM|UTC|ERR Conflict
        ts|dd MM|15 13|UTC|ERR
        ts|yyyy-MM-dd HH:mm:ss|2022-01-01 25:00:00|UTC|ERR HourOfDay
        ts|yyyy-MM-dd HH:mm|2022-01-01 24:01|UTC|ERR HourOfDay
        ts|HH:mm:ss.SSS|10:00:00.123456|UTC|ERR
        ts|HH:mm:ss.SSS|10:00:00.25Z|UTC|ERR
        ts|HH:mm:ss.S|10:00:00.25|UTC|ERR
        ts|yyyy-MM-dd||UTC|ERR");
}

#[test]
fn parse_date_and_time() {
    run("s2d|yyyyMMdd|20220101|18993
        s2d|yyyy-MM-dd'Lit'|2022-01-01lit|18993
        s2d|dd/MM/yyyy|01/01/2022|18993
        s2d|dd-MMM-yyyy|01-JAN-2022|18993
        s2d|dd-MMMM-yyyy|01-January-2022|18993
        s2d|yyyy-MM-dd|2022-02-30|19051
        s2d|yyyy-MM-dd HH:mm|2022-01-01 24:00|18994
        s2d|yyyy-MM-dd HH:mm|2022-01-01 13:00|18993
        s2d|yyyy-DDD|2020-366|18627
        s2d|yyyy-MM-dd|1969-12-31|-1
        s2d|MMM-yyyy|JAN-2022|ERR Unable to obtain LocalDate
        s2d|MM-dd|01-01|ERR
        s2d|yyyyMMdd|foo|ERR
        ptime|hh:mm:ss a|01:00:00 Pm|46800000
        ptime|hh:mm:ss a|01:00:00 PM|46800000
        ptime|HH:mm:ss'Lit'|10:20:30lit|37230000
        ptime|HH/mm/ss|10/20/30|37230000
        ptime|HH:mm|24:00|0
        ptime|kk|24|0
        ptime|hh a|00 AM|0
        ptime|a|PM|64800000
        ptime|HH:mm:ss.SSS|10:20:30.456|37230456
        ptime|HH:mm XXX|10:20 +05:00|37200000
        ptime|HH:mm zzz|10:20 PST|37200000
        ptime|hh:mm|10:30|ERR Unable to obtain LocalTime
        ptime|a mm|AM 30|ERR
        ptime|HH ss|10 30|ERR
        ptime|hh a|13 AM|ERR
        ptime|mm:ss|10:30|ERR
        ptime|HH:mm|24:01|ERR
        ptime|yyyy HH|2022 10|ERR Time format contains date field.
        ptime|EEE HH|Mon 10|ERR Time format contains date field.");
}
