//! IG durations: lapses of time written in English, as in `"10 seconds"`,
//! `"1 minute, 30 seconds"`, `"2 hours and 15 minutes"`, `"500 ms"`, `"unlimited"`.
//!
//! The accepted forms are those of IG's `org.forgerock.util.time.Duration`: a whole number and a
//! unit, repeated, separated by spaces, commas or `and`; units singular, plural or short, in any
//! case; and the words `zero`, `unlimited` (with its IG synonyms `indefinite`, `infinity`,
//! `undefined`) and `disabled`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde_json::Value;

use super::diagnostic::{describe_value, did_you_mean, quote_shortened};

/// A configured duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IgDuration {
    /// A length of time; `"zero"` is `Finite(Duration::ZERO)`.
    Finite(Duration),
    /// `"unlimited"`: no limit, never expires.
    Unlimited,
    /// `"disabled"`, or a negative number where numbers are accepted: the feature is off. IG
    /// itself reads `"disabled"` as a zero duration; keeping it apart lets a setting such as the
    /// Router's `scanInterval` say why it is off, while callers for which zero already means off
    /// treat both alike (see [`IgDuration::is_zero_or_disabled`]).
    Disabled,
}

/// Units and their length in nanoseconds. Names are lowercase; input is lowercased before lookup.
const UNITS: &[(&str, u128)] = &[
    ("d", DAY),
    ("day", DAY),
    ("days", DAY),
    ("h", HOUR),
    ("hour", HOUR),
    ("hours", HOUR),
    ("m", MINUTE),
    ("min", MINUTE),
    ("mins", MINUTE),
    ("minute", MINUTE),
    ("minutes", MINUTE),
    ("s", SECOND),
    ("sec", SECOND),
    ("secs", SECOND),
    ("second", SECOND),
    ("seconds", SECOND),
    ("ms", MILLI),
    ("milli", MILLI),
    ("millis", MILLI),
    ("millisec", MILLI),
    ("millisecs", MILLI),
    ("millisecond", MILLI),
    ("milliseconds", MILLI),
    ("us", MICRO),
    ("µs", MICRO),
    ("micro", MICRO),
    ("micros", MICRO),
    ("microsec", MICRO),
    ("microsecs", MICRO),
    ("microsecond", MICRO),
    ("microseconds", MICRO),
    ("ns", NANO),
    ("nano", NANO),
    ("nanos", NANO),
    ("nanosec", NANO),
    ("nanosecs", NANO),
    ("nanosecond", NANO),
    ("nanoseconds", NANO),
];

const NANO: u128 = 1;
const MICRO: u128 = 1_000;
const MILLI: u128 = 1_000_000;
const SECOND: u128 = 1_000_000_000;
const MINUTE: u128 = 60 * SECOND;
const HOUR: u128 = 60 * MINUTE;
const DAY: u128 = 24 * HOUR;

const ACCEPTED_FORMS: &str = "write a duration such as \"10 seconds\", \"1 minute, 30 seconds\", \
                              \"500 ms\", \"2 hours and 15 minutes\", \"zero\", \"unlimited\" or \
                              \"disabled\"";

impl IgDuration {
    pub const ZERO: IgDuration = IgDuration::Finite(Duration::ZERO);

    /// The length of time, if this is one.
    pub fn finite(self) -> Option<Duration> {
        match self {
            IgDuration::Finite(duration) => Some(duration),
            IgDuration::Unlimited | IgDuration::Disabled => None,
        }
    }

    pub fn is_unlimited(self) -> bool {
        self == IgDuration::Unlimited
    }

    pub fn is_disabled(self) -> bool {
        self == IgDuration::Disabled
    }

    /// True for `Disabled` and a zero length: what "off" means for intervals and timeouts in IG.
    pub fn is_zero_or_disabled(self) -> bool {
        matches!(self, IgDuration::Disabled) || self == IgDuration::ZERO
    }
}

impl FromStr for IgDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = |reason: String| {
            format!(
                "invalid duration {}: {reason}; {ACCEPTED_FORMS}",
                quote_shortened(text)
            )
        };
        let lower = text.trim().to_lowercase();
        match lower.as_str() {
            "" => return Err(invalid("it is empty".to_owned())),
            "zero" => return Ok(IgDuration::ZERO),
            "unlimited" | "indefinite" | "infinity" | "undefined" => {
                return Ok(IgDuration::Unlimited);
            }
            "disabled" => return Ok(IgDuration::Disabled),
            _ => {}
        }

        let mut rest = lower.as_str();
        let mut total: u128 = 0;
        let mut parts = 0;
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
            if rest.is_empty() {
                break;
            }
            if parts > 0
                && let Some(after) = rest.strip_prefix("and")
                && after.starts_with(|c: char| c.is_whitespace())
            {
                rest = after;
                continue;
            }

            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits == 0 {
                let reason = match rest.chars().next() {
                    Some('-') => "negative durations are not supported".to_owned(),
                    _ => format!("expected a number, found \"{}\"", first_word(rest)),
                };
                return Err(invalid(reason));
            }
            let number: u128 = rest[..digits]
                .parse()
                .map_err(|_| invalid("the number is too large".to_owned()))?;
            rest = &rest[digits..];
            if rest.starts_with('.') {
                return Err(invalid(
                    "fractions are not supported; use a smaller unit, such as \"1500 ms\" for 1.5 \
                     seconds"
                        .to_owned(),
                ));
            }

            rest = rest.trim_start();
            let unit_len = rest.len() - rest.trim_start_matches(char::is_alphabetic).len();
            let unit = &rest[..unit_len];
            if unit.is_empty() {
                return Err(invalid(format!(
                    "the number {number} has no unit (seconds, minutes, ...)"
                )));
            }
            let Some(&(_, nanos)) = UNITS.iter().find(|(name, _)| *name == unit) else {
                let reason = match did_you_mean(unit, UNITS.iter().map(|(name, _)| *name)) {
                    Some(close) => format!("unknown unit \"{unit}\" (did you mean \"{close}\"?)"),
                    None => format!("unknown unit \"{unit}\""),
                };
                return Err(invalid(reason));
            };
            rest = &rest[unit_len..];
            total = number
                .checked_mul(nanos)
                .and_then(|part| total.checked_add(part))
                .ok_or_else(|| invalid("it is too long".to_owned()))?;
            parts += 1;
        }
        duration_from_nanos(total)
            .map(IgDuration::Finite)
            .ok_or_else(|| invalid("it is too long".to_owned()))
    }
}

fn first_word(text: &str) -> &str {
    let end = text
        .find(|c: char| c.is_whitespace() || c == ',')
        .unwrap_or(text.len());
    &text[..end]
}

fn duration_from_nanos(nanos: u128) -> Option<Duration> {
    let secs = u64::try_from(nanos / SECOND).ok()?;
    // The remainder is below one second, so it fits.
    let subsec = u32::try_from(nanos % SECOND).ok()?;
    Some(Duration::new(secs, subsec))
}

impl fmt::Display for IgDuration {
    /// Writes the duration in a form [`IgDuration::from_str`] reads back:
    /// `1 minute, 30 seconds`, `unlimited`, `zero`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let duration = match self {
            IgDuration::Unlimited => return f.write_str("unlimited"),
            IgDuration::Disabled => return f.write_str("disabled"),
            IgDuration::Finite(duration) if duration.is_zero() => return f.write_str("zero"),
            IgDuration::Finite(duration) => duration,
        };
        let mut rest = duration.as_nanos();
        let mut first = true;
        for (unit, nanos) in [
            ("day", DAY),
            ("hour", HOUR),
            ("minute", MINUTE),
            ("second", SECOND),
            ("millisecond", MILLI),
            ("microsecond", MICRO),
            ("nanosecond", NANO),
        ] {
            let count = rest / nanos;
            rest %= nanos;
            if count == 0 {
                continue;
            }
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            let plural = if count == 1 { "" } else { "s" };
            write!(f, "{count} {unit}{plural}")?;
        }
        Ok(())
    }
}

/// Reads a duration from JSON: a string as [`IgDuration::from_str`] accepts, or an integer
/// counting `integer_unit`s (IG's Router takes `"scanInterval": 10` as ten seconds). As in IG, a
/// zero integer is a zero duration and a negative one means disabled.
pub fn duration_from_json(value: &Value, integer_unit: Duration) -> Result<IgDuration, String> {
    match value {
        Value::String(text) => text.parse(),
        Value::Number(number) => {
            if let Some(count) = number.as_u64() {
                from_count(count, integer_unit)
            } else if number.as_i64().is_some() {
                Ok(IgDuration::Disabled)
            } else {
                Err(format!(
                    "expected a whole number or a duration string, found {}; {ACCEPTED_FORMS}",
                    describe_value(value)
                ))
            }
        }
        other => Err(format!(
            "expected a duration, found {}; {ACCEPTED_FORMS}",
            describe_value(other)
        )),
    }
}

fn from_count(count: u64, unit: Duration) -> Result<IgDuration, String> {
    u128::from(count)
        .checked_mul(unit.as_nanos())
        .and_then(duration_from_nanos)
        .map(IgDuration::Finite)
        .ok_or_else(|| format!("the duration {count} is too long"))
}

/// Strings only, as IG's own duration settings (`sessionTimeout`, `connectionTimeout` ...).
impl<'de> de::Deserialize<'de> for IgDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurationVisitor { integer_unit: None })
    }
}

/// For `#[serde(deserialize_with = "...")]` on settings that, like the Router's `scanInterval`,
/// also take a number of seconds (negative: disabled).
pub fn seconds_or_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<IgDuration, D::Error> {
    deserializer.deserialize_any(DurationVisitor {
        integer_unit: Some(Duration::from_secs(1)),
    })
}

/// [`seconds_or_text`] for an optional setting: use with `#[serde(default, deserialize_with =
/// "...")]`; `null` reads as `None`.
pub fn option_seconds_or_text<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<IgDuration>, D::Error> {
    struct OptionVisitor;

    impl<'de> Visitor<'de> for OptionVisitor {
        type Value = Option<IgDuration>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as \"10 seconds\", a number of seconds, or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            seconds_or_text(deserializer).map(Some)
        }
    }

    deserializer.deserialize_option(OptionVisitor)
}

struct DurationVisitor {
    /// What an integer counts; `None` when integers are refused.
    integer_unit: Option<Duration>,
}

impl<'de> Visitor<'de> for DurationVisitor {
    type Value = IgDuration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.integer_unit {
            Some(_) => f.write_str("a duration such as \"10 seconds\", or a number of seconds"),
            None => f.write_str("a duration such as \"10 seconds\""),
        }
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<IgDuration, E> {
        text.parse().map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, count: u64) -> Result<IgDuration, E> {
        match self.integer_unit {
            Some(unit) => from_count(count, unit).map_err(E::custom),
            None => Err(E::invalid_type(de::Unexpected::Unsigned(count), &self)),
        }
    }

    fn visit_i64<E: de::Error>(self, count: i64) -> Result<IgDuration, E> {
        match (self.integer_unit, u64::try_from(count)) {
            (Some(unit), Ok(count)) => from_count(count, unit).map_err(E::custom),
            (Some(_), Err(_)) => Ok(IgDuration::Disabled),
            (None, _) => Err(E::invalid_type(de::Unexpected::Signed(count), &self)),
        }
    }
}

#[cfg(test)]
mod tests;
