//! The character sets a body is read in: IG reads it in `charset` when set, else in the
//! message's own (`Content-Type: ...; charset=...`), else UTF-8.

use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    Latin1,
    Ascii,
}

impl Charset {
    /// A charset by one of the names Java knows it by, ignoring case.
    pub fn named(name: &str) -> Option<Charset> {
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "utf-8" | "utf8" => Some(Charset::Utf8),
            "iso-8859-1" | "iso8859-1" | "iso_8859-1" | "iso8859_1" | "iso_8859_1" | "latin1"
            | "l1" | "iso-latin-1" | "8859_1" | "cp819" | "ibm819" | "csisolatin1" => {
                Some(Charset::Latin1)
            }
            "us-ascii" | "ascii" | "iso646-us" | "us" | "csascii" => Some(Charset::Ascii),
            _ => None,
        }
    }

    /// The `charset` parameter of a `Content-Type` value, when it names one of these.
    pub fn of_content_type(content_type: &str) -> Option<Charset> {
        content_type.split(';').skip(1).find_map(|parameter| {
            let (name, value) = parameter.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| Charset::named(value.trim().trim_matches('"')))
                .flatten()
        })
    }

    /// The text of `bytes`; what cannot be decoded becomes U+FFFD, as Java's decoders do.
    pub fn decode(self, bytes: &[u8]) -> Cow<'_, str> {
        match self {
            Charset::Utf8 => String::from_utf8_lossy(bytes),
            Charset::Latin1 => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
            Charset::Ascii => Cow::Owned(
                bytes
                    .iter()
                    .map(|&b| {
                        if b.is_ascii() {
                            char::from(b)
                        } else {
                            '\u{fffd}'
                        }
                    })
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charsets_are_known_by_their_java_names_whatever_the_case() {
        assert_eq!(Charset::named("UTF-8"), Some(Charset::Utf8));
        assert_eq!(Charset::named("utf8"), Some(Charset::Utf8));
        assert_eq!(Charset::named("ISO-8859-1"), Some(Charset::Latin1));
        assert_eq!(Charset::named("Latin1"), Some(Charset::Latin1));
        assert_eq!(Charset::named("US-ASCII"), Some(Charset::Ascii));
        assert_eq!(Charset::named("Shift_JIS"), None);
    }

    #[test]
    fn the_content_type_names_the_charset_of_the_body() {
        let of = Charset::of_content_type;
        assert_eq!(of("text/html; charset=ISO-8859-1"), Some(Charset::Latin1));
        assert_eq!(of("text/html;Charset=\"utf-8\""), Some(Charset::Utf8));
        assert_eq!(of("text/html; q=1; charset=us-ascii"), Some(Charset::Ascii));
        assert_eq!(of("text/html"), None);
        assert_eq!(of("text/html; charset=koi8-r"), None);
        // The media type itself is never a parameter.
        assert_eq!(of("charset=utf-8"), None);
    }

    #[test]
    fn bodies_decode_in_their_charset() {
        let latin1 = b"caf\xe9";
        assert_eq!(Charset::Latin1.decode(latin1), "café");
        assert_eq!(Charset::Utf8.decode(latin1), "caf\u{fffd}");
        assert_eq!(Charset::Ascii.decode(latin1), "caf\u{fffd}");
        assert_eq!(Charset::Utf8.decode("café".as_bytes()), "café");
    }
}
