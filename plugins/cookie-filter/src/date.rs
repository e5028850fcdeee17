//! The `Expires` attribute's date, read the lenient way user agents read it (RFC 6265 section
//! 5.1.1): servers still send every historical date format, and a strict parser would turn
//! their cookies into session cookies.

/// Seconds since the Unix epoch of a cookie date; `None` when the text is not one (the
/// attribute is then ignored, as a user agent does).
pub fn parse(text: &str) -> Option<i64> {
    let mut time = None;
    let mut day = None;
    let mut month = None;
    let mut year = None;
    for token in text.split(is_delimiter).filter(|token| !token.is_empty()) {
        // Each token fills the first still-empty field it fits, in this order.
        if time.is_none()
            && let Some(found) = hms(token)
        {
            time = Some(found);
        } else if day.is_none()
            && let Some(found) = leading_number(token, 1, 2)
        {
            day = Some(found);
        } else if month.is_none()
            && let Some(found) = month_of(token)
        {
            month = Some(found);
        } else if year.is_none()
            && let Some(found) = leading_number(token, 2, 4)
        {
            year = Some(found);
        }
    }
    let (hour, minute, second) = time?;
    let (day, month, mut year) = (day?, month?, i64::from(year?));
    if (70..=99).contains(&year) {
        year += 1900;
    } else if (0..=69).contains(&year) {
        year += 2000;
    }
    if year < 1601 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_since_epoch(year, month, day);
    Some(days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second))
}

fn is_delimiter(c: char) -> bool {
    matches!(c, '\x09' | '\x20'..='\x2f' | '\x3b'..='\x40' | '\x5b'..='\x60' | '\x7b'..='\x7e')
}

/// A token made of `min..=max` digits, possibly followed by anything that starts with a
/// non-digit (`"21st"` is day 21).
fn leading_number(token: &str, min: usize, max: usize) -> Option<u32> {
    let digits = token.bytes().take_while(u8::is_ascii_digit).count();
    if digits < min || digits > max {
        return None;
    }
    token[..digits].parse().ok()
}

/// `h:m:s`, each one or two digits, possibly followed by anything that starts with a non-digit.
fn hms(token: &str) -> Option<(u32, u32, u32)> {
    let mut rest = token;
    let mut fields = [0; 3];
    for (index, field) in fields.iter_mut().enumerate() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=2).contains(&digits) {
            return None;
        }
        *field = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        if index < 2 {
            rest = rest.strip_prefix(':')?;
        }
    }
    Some((fields[0], fields[1], fields[2]))
}

fn month_of(token: &str) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let prefix = token.as_bytes().get(..3)?;
    MONTHS
        .iter()
        .position(|month| prefix.eq_ignore_ascii_case(*month))
        .map(|index| index as u32 + 1)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar.
fn days_since_epoch(year: i64, month: u32, day: u32) -> i64 {
    // Counting years from March puts the leap day at the end of the year, so month lengths
    // before it follow a fixed pattern.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (i64::from(month) + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_the_formats_servers_send() {
        // 2015-10-21T07:28:00Z
        let expected = Some(1_445_412_480);
        assert_eq!(parse("Wed, 21 Oct 2015 07:28:00 GMT"), expected);
        assert_eq!(parse("Wednesday, 21-Oct-15 07:28:00 GMT"), expected);
        assert_eq!(parse("Wed Oct 21 07:28:00 2015"), expected);
        assert_eq!(parse("21 october 2015 7:28:0"), expected);
        assert_eq!(parse("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse("Sun, 29 Feb 2032 23:59:59 GMT"), Some(1_961_711_999));
        assert_eq!(
            parse("Mon, 01 Jan 1601 00:00:00 GMT"),
            Some(-11_644_473_600)
        );
    }

    #[test]
    fn two_digit_years_are_split_at_1970() {
        assert_eq!(parse("01 Jan 70 00:00:00"), Some(0));
        assert_eq!(parse("01 Jan 69 00:00:00"), Some(3_124_224_000));
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for text in [
            "",
            "tomorrow",
            "Wed, 21 Oct 2015",
            "Wed, 32 Oct 2015 07:28:00 GMT",
            "Wed, 30 Feb 2015 07:28:00 GMT",
            "Wed, 21 Oct 2015 24:00:00 GMT",
            "Wed, 21 Oct 1600 07:28:00 GMT",
            "Wed, 21 Foo 2015 07:28:00 GMT",
            "Wed, 21 Oct 20155 07:28:00 GMT",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
