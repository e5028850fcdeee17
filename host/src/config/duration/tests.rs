use std::time::Duration;

use serde_json::json;

use super::*;

fn parse(text: &str) -> IgDuration {
    match text.parse() {
        Ok(duration) => duration,
        Err(error) => panic!("{text:?} does not parse: {error}"),
    }
}

fn parse_err(text: &str) -> String {
    match text.parse::<IgDuration>() {
        Ok(duration) => panic!("{text:?} parsed as {duration:?}"),
        Err(error) => error,
    }
}

fn secs(n: u64) -> IgDuration {
    IgDuration::Finite(Duration::from_secs(n))
}

#[test]
fn single_units_long_short_singular_plural() {
    assert_eq!(parse("10 seconds"), secs(10));
    assert_eq!(parse("1 second"), secs(1));
    assert_eq!(parse("5 sec"), secs(5));
    assert_eq!(parse("5 secs"), secs(5));
    assert_eq!(parse("5 s"), secs(5));
    assert_eq!(parse("1 minute"), secs(60));
    assert_eq!(parse("2 minutes"), secs(120));
    assert_eq!(parse("2 min"), secs(120));
    assert_eq!(parse("2 mins"), secs(120));
    assert_eq!(parse("2 m"), secs(120));
    assert_eq!(parse("2 hours"), secs(7200));
    assert_eq!(parse("1 hour"), secs(3600));
    assert_eq!(parse("1 h"), secs(3600));
    assert_eq!(parse("3 days"), secs(3 * 86400));
    assert_eq!(parse("1 day"), secs(86400));
    assert_eq!(parse("1 d"), secs(86400));
    let ms = |n| IgDuration::Finite(Duration::from_millis(n));
    assert_eq!(parse("500 milliseconds"), ms(500));
    assert_eq!(parse("1 millisecond"), ms(1));
    assert_eq!(parse("42 millis"), ms(42));
    assert_eq!(parse("42 ms"), ms(42));
    let us = |n| IgDuration::Finite(Duration::from_micros(n));
    assert_eq!(parse("7 microseconds"), us(7));
    assert_eq!(parse("7 us"), us(7));
    assert_eq!(parse("7 µs"), us(7));
    let ns = |n| IgDuration::Finite(Duration::from_nanos(n));
    assert_eq!(parse("9 nanoseconds"), ns(9));
    assert_eq!(parse("9 nanosecond"), ns(9));
    assert_eq!(parse("9 ns"), ns(9));
}

#[test]
fn combinations_and_separators() {
    assert_eq!(parse("1 minute 30 seconds"), secs(90));
    assert_eq!(parse("1 minute, 30 seconds"), secs(90));
    assert_eq!(parse("1 minute and 10 seconds"), secs(70));
    assert_eq!(
        parse("6 days 59 minutes and 1 millisecond"),
        IgDuration::Finite(Duration::from_millis((6 * 86400 + 59 * 60) * 1000 + 1))
    );
    assert_eq!(parse("1h30m"), secs(5400));
    assert_eq!(parse("10s"), secs(10));
    assert_eq!(
        parse("500ms"),
        IgDuration::Finite(Duration::from_millis(500))
    );
    assert_eq!(parse("  2 hours ,  15 minutes  "), secs(2 * 3600 + 15 * 60));
    // The same unit twice adds up.
    assert_eq!(parse("1 minute 1 minute"), secs(120));
    assert_eq!(parse("0 seconds"), IgDuration::ZERO);
}

#[test]
fn case_does_not_matter() {
    assert_eq!(parse("10 SECONDS"), secs(10));
    assert_eq!(parse("1 Minute"), secs(60));
    assert_eq!(parse("Unlimited"), IgDuration::Unlimited);
    assert_eq!(parse("ZERO"), IgDuration::ZERO);
    assert_eq!(parse("Disabled"), IgDuration::Disabled);
}

#[test]
fn special_words() {
    assert_eq!(parse("zero"), IgDuration::Finite(Duration::ZERO));
    for word in ["unlimited", "indefinite", "infinity", "undefined"] {
        assert_eq!(parse(word), IgDuration::Unlimited, "{word}");
    }
    assert_eq!(parse(" disabled "), IgDuration::Disabled);
}

#[test]
fn errors_say_what_is_accepted() {
    let error = parse_err("10 secnds");
    assert!(
        error.starts_with(
            "invalid duration \"10 secnds\": unknown unit \"secnds\" (did you mean \"seconds\"?); \
             write a duration such as \"10 seconds\""
        ),
        "{error}"
    );
    assert!(error.contains("\"unlimited\""), "{error}");
    assert!(parse_err("10").contains("the number 10 has no unit"));
    assert!(parse_err("").contains("it is empty"));
    assert!(parse_err("   ").contains("it is empty"));
    assert!(parse_err("-5 seconds").contains("negative durations are not supported"));
    assert!(parse_err("1.5 seconds").contains("fractions are not supported"));
    assert!(parse_err("seconds").contains("expected a number, found \"seconds\""));
    assert!(parse_err("1 minute and").contains("expected a number, found \"and\""));
    assert!(parse_err("and 1 minute").contains("expected a number, found \"and\""));
    assert!(parse_err("1 fortnight").contains("unknown unit \"fortnight\""));
    assert!(parse_err("forever").contains("expected a number"));
    assert!(parse_err("1 week").contains("unknown unit \"week\""));
    assert!(parse_err("10 seconds!").contains("expected a number, found \"!\""));
}

#[test]
fn overflow_is_an_error_not_a_wrap() {
    assert!(parse_err("99999999999999999999999999999999999999999 days").contains("too"));
    assert!(parse_err("999999999999999999 days").contains("too long"));
    assert_eq!(
        parse("18446744073709551615 seconds"),
        IgDuration::Finite(Duration::from_secs(u64::MAX))
    );
}

#[test]
fn display_round_trips() {
    for text in [
        "zero",
        "unlimited",
        "disabled",
        "1 second",
        "1 minute, 30 seconds",
        "3 days, 1 hour, 1 millisecond, 2 microseconds, 5 nanoseconds",
    ] {
        let duration = parse(text);
        assert_eq!(duration.to_string(), text);
        assert_eq!(parse(&duration.to_string()), duration);
    }
    assert_eq!(secs(3600).to_string(), "1 hour");
    assert_eq!(secs(7260).to_string(), "2 hours, 1 minute");
}

#[test]
fn helpers() {
    assert_eq!(secs(3).finite(), Some(Duration::from_secs(3)));
    assert_eq!(IgDuration::Unlimited.finite(), None);
    assert!(IgDuration::Unlimited.is_unlimited());
    assert!(IgDuration::Disabled.is_disabled());
    assert!(IgDuration::Disabled.is_zero_or_disabled());
    assert!(IgDuration::ZERO.is_zero_or_disabled());
    assert!(!secs(1).is_zero_or_disabled());
    assert!(!IgDuration::Unlimited.is_zero_or_disabled());
}

#[test]
fn from_json_strings_and_integers() {
    let second = Duration::from_secs(1);
    assert_eq!(
        duration_from_json(&json!("10 seconds"), second),
        Ok(secs(10))
    );
    assert_eq!(duration_from_json(&json!(10), second), Ok(secs(10)));
    assert_eq!(
        duration_from_json(&json!(10), Duration::from_millis(1)),
        Ok(IgDuration::Finite(Duration::from_millis(10)))
    );
    assert_eq!(duration_from_json(&json!(0), second), Ok(IgDuration::ZERO));
    assert_eq!(
        duration_from_json(&json!(-1), second),
        Ok(IgDuration::Disabled)
    );
    assert_eq!(
        duration_from_json(&json!(i64::MIN), second),
        Ok(IgDuration::Disabled)
    );
    assert_eq!(
        duration_from_json(&json!("disabled"), second),
        Ok(IgDuration::Disabled)
    );
    assert!(
        duration_from_json(&json!(u64::MAX), Duration::from_secs(86400))
            .is_err_and(|e| e.contains("too long"))
    );
    assert!(
        duration_from_json(&json!(1.5), second).is_err_and(|e| e.contains("found the number 1.5"))
    );
    assert!(
        duration_from_json(&json!(true), second)
            .is_err_and(|e| e.starts_with("expected a duration, found true"))
    );
    assert!(
        duration_from_json(&json!({"seconds": 1}), second).is_err_and(|e| e.contains("object"))
    );
    assert!(duration_from_json(&json!("10 parsecs"), second).is_err_and(|e| e.contains("parsecs")));
}

#[derive(Debug, serde::Deserialize, PartialEq)]
struct Settings {
    timeout: IgDuration,
    #[serde(default, deserialize_with = "option_seconds_or_text")]
    scan: Option<IgDuration>,
}

#[test]
fn serde_fields() {
    let parsed: Result<Settings, _> =
        serde_json::from_value(json!({"timeout": "1 minute", "scan": 30}));
    assert_eq!(
        parsed.ok(),
        Some(Settings {
            timeout: secs(60),
            scan: Some(secs(30)),
        })
    );
    let parsed: Result<Settings, _> = serde_json::from_value(json!({"timeout": "zero"}));
    assert_eq!(parsed.ok().and_then(|s| s.scan), None);
    let parsed: Result<Settings, _> =
        serde_json::from_value(json!({"timeout": "zero", "scan": null}));
    assert_eq!(parsed.ok().and_then(|s| s.scan), None);
    let parsed: Result<Settings, _> =
        serde_json::from_value(json!({"timeout": "zero", "scan": "-1"}));
    assert!(parsed.is_err());
    let parsed: Result<Settings, _> =
        serde_json::from_value(json!({"timeout": "zero", "scan": -3}));
    assert_eq!(parsed.ok().and_then(|s| s.scan), Some(IgDuration::Disabled));
    // Plain IgDuration fields take text only, as IG's do.
    let parsed: Result<Settings, _> = serde_json::from_value(json!({"timeout": 5}));
    assert!(parsed.is_err_and(|e| e.to_string().contains("a duration such as")));
}
