//! Encodings plugins need on the wire: base64 for credentials and JOSE, and
//! `application/x-www-form-urlencoded` for forms. Pure functions: they run (and are tested) on
//! any target.

#[cfg(test)]
mod tests;

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn encode(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let block = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let bits = (u32::from(block[0]) << 16) | (u32::from(block[1]) << 8) | u32::from(block[2]);
        // A chunk of n bytes carries n + 1 significant sextets.
        for index in 0..=chunk.len() {
            out.push(alphabet[((bits >> (18 - 6 * index)) & 63) as usize] as char);
        }
        if pad {
            for _ in chunk.len()..3 {
                out.push('=');
            }
        }
    }
    out
}

/// Base64 with the standard alphabet and `=` padding (RFC 4648 section 4), as HTTP Basic
/// credentials are written.
///
/// ```
/// use ferrogate_sdk::encoding::base64;
///
/// assert_eq!(base64(b"alice:s3cret"), "YWxpY2U6czNjcmV0");
/// assert_eq!(base64(b"fo"), "Zm8=");
/// ```
pub fn base64(bytes: &[u8]) -> String {
    encode(bytes, BASE64, true)
}

/// Base64 with the URL and file name safe alphabet and no padding (RFC 4648 section 5), as
/// JOSE (JWS, JWE, JWT) writes every part.
///
/// ```
/// use ferrogate_sdk::encoding::base64url;
///
/// assert_eq!(base64url(br#"{"alg":"HS256"}"#), "eyJhbGciOiJIUzI1NiJ9");
/// assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
/// ```
pub fn base64url(bytes: &[u8]) -> String {
    encode(bytes, BASE64URL, false)
}

/// One name or value of an `application/x-www-form-urlencoded` form: `A-Z a-z 0-9 * - . _`
/// as they are, space as `+`, every other byte of the UTF-8 text as `%XX` (what Java's
/// `URLEncoder`, and so IG, produces).
///
/// ```
/// use ferrogate_sdk::encoding::form_component;
///
/// assert_eq!(form_component("a b&c=d"), "a+b%26c%3Dd");
/// assert_eq!(form_component("café"), "caf%C3%A9");
/// ```
pub fn form_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_form_component(text, &mut out);
    out
}

fn push_form_component(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => {
                out.push('%');
                out.push(HEX[usize::from(other >> 4)] as char);
                out.push(HEX[usize::from(other & 15)] as char);
            }
        }
    }
}

/// A whole `application/x-www-form-urlencoded` form, `name=value` pairs joined by `&` in the
/// order given; both sides encoded with [`form_component`]. The body of a form `POST`, or a
/// query string.
///
/// ```
/// use ferrogate_sdk::encoding::form;
///
/// let body = form([("token", "a/b+c"), ("token_type_hint", "access_token")]);
/// assert_eq!(body, "token=a%2Fb%2Bc&token_type_hint=access_token");
/// ```
pub fn form<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        push_form_component(name, &mut out);
        out.push('=');
        push_form_component(value, &mut out);
    }
    out
}
