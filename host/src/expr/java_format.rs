//! Number rendering and parsing the way the JVM does it, because IG users see (and compare
//! against) what `Double.toString`, `Long.valueOf` and `Double.valueOf` produce.

use std::fmt;

/// Writes `x` exactly as Java's `Double.toString(x)` would: plain decimal notation for
/// `1e-3 <= |x| < 1e7`, "computerized scientific notation" (`1.0E10`, `1.5E-5`) otherwise,
/// always with at least one fractional digit, using the shortest digits that round-trip
/// (what JDK 19+ prints; older JDKs occasionally printed one more digit).
pub(crate) fn write_double(out: &mut impl fmt::Write, x: f64) -> fmt::Result {
    if x.is_nan() {
        return out.write_str("NaN");
    }
    if x.is_infinite() {
        return out.write_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
    }
    if x == 0.0 {
        return out.write_str(if x.is_sign_negative() { "-0.0" } else { "0.0" });
    }
    if x < 0.0 {
        out.write_char('-')?;
    }
    let abs = x.abs();
    // Rust's `{:e}` already yields the shortest round-tripping digits; only the layout differs.
    let sci = format!("{abs:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut digits = String::with_capacity(mantissa.len());
    digits.extend(mantissa.chars().filter(char::is_ascii_digit));
    if digits.is_empty() {
        digits.push('0');
    }
    let mut exponent = exponent;
    if digits.len() == 1 {
        // Java always shows two significant digits in this case and picks the two-digit
        // decimal closest to the exact value, which differs from "d.0" only where doubles are
        // sparse (Double.MIN_VALUE prints as 4.9E-324, not 5.0E-324).
        let two = format!("{abs:.1e}");
        if two.parse::<f64>().ok() == Some(abs)
            && let Some((m, e)) = two.split_once('e')
            && !m.ends_with('0')
        {
            digits = m.chars().filter(char::is_ascii_digit).collect();
            exponent = e.parse().unwrap_or(exponent);
        }
    }

    if (1e-3..1e7).contains(&abs) {
        if exponent >= 0 {
            let int_len = usize::try_from(exponent).unwrap_or(0) + 1;
            if digits.len() <= int_len {
                out.write_str(&digits)?;
                for _ in digits.len()..int_len {
                    out.write_char('0')?;
                }
                out.write_str(".0")
            } else {
                let (int_part, frac_part) = digits.split_at(int_len);
                write!(out, "{int_part}.{frac_part}")
            }
        } else {
            out.write_str("0.")?;
            for _ in 1..exponent.unsigned_abs() {
                out.write_char('0')?;
            }
            out.write_str(&digits)
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        write!(out, "{first}.{rest}E{exponent}")
    }
}

/// Java's `Long.valueOf(String)`: optional sign, decimal digits, no surrounding whitespace.
pub(crate) fn parse_long(s: &str) -> Option<i64> {
    // Rust's parser agrees with Java's here (including a leading '+'), so delegate.
    s.parse::<i64>().ok()
}

/// Java's `Double.valueOf(String)`: surrounding whitespace and control characters ignored, an
/// optional `f`/`d` type suffix, `NaN` and `Infinity` spelled exactly so. Rust alone would also
/// accept `inf` or `nan`, which Java rejects, so those are screened out first. Hexadecimal
/// floating literals (`0x1p3`) are not supported.
pub(crate) fn parse_double(s: &str) -> Option<f64> {
    let trimmed = s.trim_matches(|c: char| c <= ' ');
    let (sign, body) = match trimmed.as_bytes().first() {
        Some(b'-') => (-1.0, &trimmed[1..]),
        Some(b'+') => (1.0, &trimmed[1..]),
        _ => (1.0, trimmed),
    };
    match body {
        "NaN" => return Some(f64::NAN),
        "Infinity" => return Some(sign * f64::INFINITY),
        _ => {}
    }
    let body = body
        .strip_suffix(['f', 'F', 'd', 'D'])
        .filter(|rest| !rest.is_empty())
        .unwrap_or(body);
    if !body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        || !body.bytes().any(|b| b.is_ascii_digit())
    {
        return None;
    }
    body.parse::<f64>().ok().map(|v| sign * v)
}

/// Java's `Integer.parseInt(s, radix)`: a 32-bit result, `None` for anything Java would reject
/// with a `NumberFormatException` (including a radix outside 2..=36).
pub(crate) fn parse_int_radix(s: &str, radix: i64) -> Option<i32> {
    let radix = u32::try_from(radix).ok().filter(|r| (2..=36).contains(r))?;
    i32::from_str_radix(s, radix).ok()
}
