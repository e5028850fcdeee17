//! IG's built-in EL functions (`org.forgerock.openig.el.Functions`), called without a prefix.
//!
//! Argument coercion follows JUEL: a parameter Java declares as `String` receives the EL string
//! coercion of the argument (so null arrives as ""), while `Object` parameters receive the value
//! untouched.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use fancy_regex::Regex;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};

use super::EvalError;
use super::Value;
use super::coerce;
use super::java_format;
use super::regex::{self, CompiledRegex, RegexMode};

pub(crate) type FunctionImpl = fn(&[Value], Option<&CompiledRegex>) -> Result<Value, EvalError>;

pub(crate) struct FunctionDef {
    pub name: &'static str,
    pub min_args: usize,
    /// `usize::MAX` for varargs.
    pub max_args: usize,
    /// Which argument is a regex and how it must match, so a literal pattern can be compiled
    /// (and rejected) at parse time.
    pub regex_arg: Option<(usize, RegexMode)>,
    pub imp: FunctionImpl,
}

impl std::fmt::Debug for FunctionDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}()", self.name)
    }
}

const fn def(name: &'static str, args: usize, imp: FunctionImpl) -> FunctionDef {
    FunctionDef {
        name,
        min_args: args,
        max_args: args,
        regex_arg: None,
        imp,
    }
}

const fn re_def(name: &'static str, mode: RegexMode, imp: FunctionImpl) -> FunctionDef {
    FunctionDef {
        name,
        min_args: 2,
        max_args: 2,
        regex_arg: Some((1, mode)),
        imp,
    }
}

pub(crate) static FUNCTIONS: &[FunctionDef] = &[
    FunctionDef {
        name: "array",
        min_args: 0,
        max_args: usize::MAX,
        regex_arg: None,
        imp: array,
    },
    def("bool", 1, bool_fn),
    def("contains", 2, contains),
    def("decodeBase64", 1, decode_base64),
    def("decodeBase64url", 1, decode_base64url),
    def("digestSha256", 1, digest_sha256),
    def("encodeBase64", 1, encode_base64),
    def("encodeBase64url", 1, encode_base64url),
    re_def("find", RegexMode::Find, find),
    re_def("findGroups", RegexMode::Find, find_groups),
    def("indexOf", 2, index_of),
    def("integer", 1, integer),
    def("integerWithRadix", 2, integer_with_radix),
    def("ipMatch", 2, ip_match),
    def("join", 2, join),
    re_def("keyMatch", RegexMode::Whole, key_match),
    def("lastElement", 1, last_element),
    def("length", 1, length),
    re_def("matches", RegexMode::Find, find),
    re_def("matchesWithRegex", RegexMode::Whole, matches_whole),
    // IG's matchingGroups uses Matcher.find() (findGroups is its newer name), whatever the
    // name suggests.
    re_def("matchingGroups", RegexMode::Find, find_groups),
    re_def("split", RegexMode::Find, split_fn),
    def("toJson", 1, to_json),
    def("toLowerCase", 1, to_lower_case),
    def("toString", 1, to_string),
    def("toUpperCase", 1, to_upper_case),
    def("trim", 1, trim),
    def("urlDecode", 1, url_decode),
    def("urlDecodeFragment", 1, url_decode_component),
    def("urlDecodePathElement", 1, url_decode_component),
    def("urlDecodeQueryParameterNameOrValue", 1, url_decode_query),
    def("urlDecodeUserInfo", 1, url_decode_component),
    def("urlEncode", 1, url_encode),
    def("urlEncodeFragment", 1, url_encode_fragment),
    def("urlEncodePathElement", 1, url_encode_path_element),
    def("urlEncodeQueryParameterNameOrValue", 1, url_encode_query),
    def("urlEncodeUserInfo", 1, url_encode_user_info),
];

pub(crate) fn lookup(name: &str) -> Option<&'static FunctionDef> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// Function names close to `name` (a typo, or the wrong case), best first.
pub(crate) fn suggestions(name: &str) -> Vec<&'static str> {
    if let Some(f) = FUNCTIONS.iter().find(|f| f.name.eq_ignore_ascii_case(name)) {
        return vec![f.name];
    }
    let lower = name.to_ascii_lowercase();
    let mut scored: Vec<(usize, &'static str)> = FUNCTIONS
        .iter()
        .filter_map(|f| {
            let candidate = f.name.to_ascii_lowercase();
            let distance = edit_distance(&lower, &candidate);
            let close = distance <= (name.len() / 3).max(1)
                || (lower.len() >= 4 && candidate.starts_with(&lower));
            close.then_some((distance, f.name))
        })
        .collect();
    scored.sort();
    scored.into_iter().map(|(_, n)| n).take(3).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

fn arg(args: &[Value], i: usize) -> &Value {
    static NULL: Value = Value::Null;
    args.get(i).unwrap_or(&NULL)
}

/// A `String` parameter: EL string coercion (null becomes "").
fn str_arg(args: &[Value], i: usize) -> Cow<'_, str> {
    arg(args, i).to_el_string()
}

fn text(s: impl Into<Arc<str>>) -> Value {
    Value::Str(s.into())
}

/// Keeps a `Str` argument's allocation when a function would return it unchanged.
fn same_or_new(original: &Value, s: &str, result: Cow<'_, str>) -> Value {
    match (original, result) {
        (Value::Str(orig), Cow::Borrowed(b)) if b.len() == s.len() => Value::Str(Arc::clone(orig)),
        (_, r) => text(r.as_ref()),
    }
}

fn array(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    Ok(Value::List(Arc::new(
        args.iter()
            .map(|a| match a {
                Value::Str(_) => a.clone(),
                other => text(other.to_el_string().as_ref()),
            })
            .collect(),
    )))
}

fn bool_fn(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    Ok(Value::Bool(str_arg(args, 0).eq_ignore_ascii_case("true")))
}

/// Substring for two strings, membership (Java `equals`) for lists, key presence for maps;
/// anything else, or a null on either side, is false.
fn contains(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    let (haystack, needle) = (arg(args, 0), arg(args, 1));
    Ok(Value::Bool(match (haystack, needle) {
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Str(h), Value::Str(n)) => h.contains(n.as_ref()),
        (Value::List(items), n) => items.iter().any(|i| i.java_equals(n)),
        (Value::Map(map), Value::Str(k)) => map.contains_key(k.as_ref()),
        _ => false,
    }))
}

/// The bytes a value stands for: a list of small integers is a Java `byte[]` (what
/// `digestSha256` returns), anything else is its string's UTF-8 encoding.
fn bytes_of(v: &Value) -> Cow<'_, [u8]> {
    if let Value::List(items) = v {
        let bytes: Option<Vec<u8>> = items
            .iter()
            .map(|i| match i {
                Value::Int(b) => i8::try_from(*b)
                    .map(|s| s.to_ne_bytes()[0])
                    .ok()
                    .or_else(|| u8::try_from(*b).ok()),
                _ => None,
            })
            .collect();
        if let Some(bytes) = bytes {
            return Cow::Owned(bytes);
        }
    }
    match v.to_el_string() {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    }
}

/// Base64 decoding that, like ForgeRock's decoder, does not insist on padding.
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn decode_with(engine: &GeneralPurpose, input: &str) -> Value {
    match engine.decode(input.trim()) {
        Ok(bytes) => text(String::from_utf8_lossy(&bytes).as_ref()),
        Err(_) => Value::Null,
    }
}

fn decode_base64(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    Ok(decode_with(&STANDARD_LENIENT, &str_arg(args, 0)))
}

fn decode_base64url(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    Ok(decode_with(&URL_SAFE_LENIENT, &str_arg(args, 0)))
}

fn encode_base64(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    Ok(text(
        general_purpose::STANDARD.encode(bytes_of(arg(args, 0))),
    ))
}

/// URL-safe alphabet without padding, as JWTs and PKCE use it.
fn encode_base64url(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    Ok(text(URL_SAFE_LENIENT.encode(bytes_of(arg(args, 0)))))
}

/// IG returns the digest as a Java `byte[]`; it is represented the same way, as a list of
/// signed bytes, so `encodeBase64(digestSha256(x))` and `encodeBase64url(...)` produce what IG
/// produces.
fn digest_sha256(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    let digest = Sha256::digest(bytes_of(arg(args, 0)));
    Ok(Value::List(Arc::new(
        digest
            .iter()
            .map(|b| Value::Int(i64::from(i8::from_ne_bytes([*b]))))
            .collect(),
    )))
}

fn regex_of<'a>(
    args: &[Value],
    pre: Option<&'a CompiledRegex>,
    mode: RegexMode,
) -> Result<regex::RegexRef<'a>, EvalError> {
    regex::resolve(pre, &str_arg(args, 1), mode)
}

/// `find` and `matches`: the pattern occurs somewhere in the string.
fn find(args: &[Value], pre: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    is_match(args, pre, RegexMode::Find)
}

/// `matchesWithRegex`: the pattern matches the whole string.
fn matches_whole(args: &[Value], pre: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    is_match(args, pre, RegexMode::Whole)
}

fn is_match(
    args: &[Value],
    pre: Option<&CompiledRegex>,
    mode: RegexMode,
) -> Result<Value, EvalError> {
    let re = regex_of(args, pre, mode)?;
    let subject = str_arg(args, 0);
    re.is_match(&subject).map(Value::Bool)
}

/// The whole match then each group of the first match (null for a group that did not
/// participate), or null when nothing matches.
fn find_groups(args: &[Value], pre: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    let re = regex_of(args, pre, RegexMode::Find)?;
    let subject = str_arg(args, 0);
    let caps = re
        .captures(&subject)
        .map_err(|e| regex::runtime_error(&re, &e))?;
    Ok(match caps {
        None => Value::Null,
        Some(caps) => Value::List(Arc::new(
            (0..caps.len())
                .map(|i| caps.get(i).map_or(Value::Null, |m| text(m.as_str())))
                .collect(),
        )),
    })
}

/// A char index (Java indexes strings by UTF-16 unit; Ferrogate by character, which agrees
/// everywhere outside the astral planes).
pub(crate) fn char_index(s: &str, byte_index: usize) -> i64 {
    if s.is_ascii() {
        return i64::try_from(byte_index).unwrap_or(i64::MAX);
    }
    i64::try_from(s[..byte_index].chars().count()).unwrap_or(i64::MAX)
}

fn index_of(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    let (s, sub) = (str_arg(args, 0), str_arg(args, 1));
    Ok(Value::Int(
        s.find(sub.as_ref()).map_or(-1, |i| char_index(&s, i)),
    ))
}

fn integer(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    Ok(java_format::parse_int_radix(&str_arg(args, 0), 10)
        .map_or(Value::Null, |i| Value::Int(i64::from(i))))
}

fn integer_with_radix(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    let radix = coerce::to_long(arg(args, 1))?;
    Ok(java_format::parse_int_radix(&str_arg(args, 0), radix)
        .map_or(Value::Null, |i| Value::Int(i64::from(i))))
}

/// Whether `ip` lies in `cidr` (`10.0.0.0/8`, `2001:db8::/32`, or a bare address for an exact
/// match). An IPv4-mapped IPv6 address matches IPv4 ranges. Anything unparsable is false.
fn ip_match(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    let (ip, cidr) = (str_arg(args, 0), str_arg(args, 1));
    Ok(Value::Bool(
        ip_in_cidr(ip.trim(), cidr.trim()).unwrap_or(false),
    ))
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

fn ip_in_cidr(ip: &str, cidr: &str) -> Option<bool> {
    let (net, prefix) = match cidr.split_once('/') {
        Some((net, prefix)) => (net, Some(prefix.parse::<u32>().ok()?)),
        None => (cidr, None),
    };
    let net = parse_ip(net)?;
    let ip = match (parse_ip(ip)?, net) {
        (IpAddr::V6(v6), IpAddr::V4(_)) => IpAddr::V4(v6.to_ipv4_mapped()?),
        (ip, _) => ip,
    };
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let bits = prefix.unwrap_or(32);
            if bits > 32 {
                return None;
            }
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            Some(u32::from(ip) & mask == u32::from(net) & mask)
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let bits = prefix.unwrap_or(128);
            if bits > 128 {
                return None;
            }
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            Some(u128::from(ip) & mask == u128::from(net) & mask)
        }
        _ => Some(false),
    }
}

/// Joins the elements' string forms with the separator; a single non-list value joins as a
/// one-element array, null yields null.
fn join(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    let sep = str_arg(args, 1);
    Ok(match arg(args, 0) {
        Value::Null => Value::Null,
        Value::List(items) => {
            let mut out = String::new();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&sep);
                }
                match item {
                    Value::Null => out.push_str("null"),
                    other => out.push_str(&other.to_el_string()),
                }
            }
            text(out)
        }
        other => text(other.to_el_string().as_ref()),
    })
}

/// The first key of a map that the regex matches entirely, or null.
fn key_match(args: &[Value], pre: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    let Value::Map(map) = arg(args, 0) else {
        return Ok(Value::Null);
    };
    let re = regex_of(args, pre, RegexMode::Whole)?;
    for key in map.keys() {
        if re.is_match(key)? {
            return Ok(text(key.as_str()));
        }
    }
    Ok(Value::Null)
}

fn last_element(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    Ok(match arg(args, 0) {
        Value::List(items) => items.last().cloned().unwrap_or_default(),
        _ => Value::Null,
    })
}

/// Characters of a string, entries of a list or map; 0 for null and anything else.
fn length(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    let n = match arg(args, 0) {
        Value::Str(s) => s.chars().count(),
        Value::List(items) => items.len(),
        Value::Map(map) => map.len(),
        _ => 0,
    };
    Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// Java's `String.split(regex)`: a zero-width match at the start yields no leading empty
/// string, trailing empty strings are dropped, and no match at all yields the input itself.
pub(crate) fn java_split(s: &str, re: &Regex) -> Result<Vec<Value>, EvalError> {
    let mut parts = Vec::new();
    let mut last = 0;
    let mut matched = false;
    for m in re.find_iter(s) {
        let m = m.map_err(|e| regex::runtime_error(re, &e))?;
        if m.end() == 0 {
            continue;
        }
        matched = true;
        parts.push(text(&s[last..m.start()]));
        last = m.end();
    }
    if !matched {
        return Ok(vec![text(s)]);
    }
    parts.push(text(&s[last..]));
    while parts.last().is_some_and(Value::is_empty_el) {
        parts.pop();
    }
    Ok(parts)
}

fn split_fn(args: &[Value], pre: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    let re = regex_of(args, pre, RegexMode::Find)?;
    Ok(Value::List(Arc::new(java_split(&str_arg(args, 0), &re)?)))
}

/// Parses JSON text into a value; text that is not JSON gives null.
fn to_json(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    Ok(serde_json::from_str::<serde_json::Value>(&str_arg(args, 0))
        .map_or(Value::Null, |json| Value::from_json(&json)))
}

fn to_lower_case(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    let s = str_arg(args, 0);
    if !s.chars().any(char::is_uppercase) {
        return Ok(same_or_new(arg(args, 0), &s, Cow::Borrowed(&s)));
    }
    Ok(text(s.to_lowercase()))
}

fn to_upper_case(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    let s = str_arg(args, 0);
    if !s.chars().any(char::is_lowercase) {
        return Ok(same_or_new(arg(args, 0), &s, Cow::Borrowed(&s)));
    }
    Ok(text(s.to_uppercase()))
}

/// An `Object` parameter: null stays null rather than becoming "".
fn to_string(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    Ok(match arg(args, 0) {
        Value::Null => Value::Null,
        s @ Value::Str(_) => s.clone(),
        other => text(other.to_string()),
    })
}

/// Java's `String.trim()`: strips every character up to and including U+0020.
pub(crate) fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

fn trim(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    let s = str_arg(args, 0);
    let trimmed = java_trim(&s);
    if trimmed.len() == s.len() {
        return Ok(same_or_new(arg(args, 0), &s, Cow::Borrowed(&s)));
    }
    Ok(text(trimmed))
}

/// `java.net.URLEncoder` keeps `a-zA-Z0-9 . - * _` and turns space into `+`.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'*')
    .remove(b'_');
/// RFC 3986 unreserved characters.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// A query parameter name or value: query characters except the `& = +` that delimit or
/// encode within the query.
const QUERY_PARAM: &AsciiSet = &UNRESERVED
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b',')
    .remove(b';')
    .remove(b':')
    .remove(b'@')
    .remove(b'/')
    .remove(b'?');
/// One path segment: `pchar`, so `/` is encoded.
const PATH_ELEMENT: &AsciiSet = &UNRESERVED
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');
const FRAGMENT: &AsciiSet = &PATH_ELEMENT.remove(b'/').remove(b'?');
const USER_INFO: &AsciiSet = &UNRESERVED
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':');

fn encode_with(args: &[Value], set: &'static AsciiSet) -> Value {
    let s = str_arg(args, 0);
    let encoded: Cow<'_, str> = utf8_percent_encode(&s, set).into();
    same_or_new(arg(args, 0), &s, encoded)
}

fn url_encode(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    let s = str_arg(args, 0);
    // '%' itself is always escaped, so "%20" in the output can only come from a space.
    Ok(text(
        utf8_percent_encode(&s, FORM)
            .to_string()
            .replace("%20", "+"),
    ))
}

fn url_encode_query(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    Ok(encode_with(args, QUERY_PARAM))
}

fn url_encode_path_element(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    Ok(encode_with(args, PATH_ELEMENT))
}

fn url_encode_fragment(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    Ok(encode_with(args, FRAGMENT))
}

fn url_encode_user_info(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    Ok(encode_with(args, USER_INFO))
}

/// Percent-decodes, optionally reading `+` as a space. A `%` not followed by two hex digits
/// makes Java's decoders throw, so it gives null here; invalid UTF-8 is replaced, as Java's
/// decoder does.
fn percent_decode(s: &str, plus_as_space: bool) -> Value {
    let bytes = s.as_bytes();
    let malformed = bytes.iter().enumerate().any(|(i, &b)| {
        b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if malformed {
        return Value::Null;
    }
    let spaced;
    let input = if plus_as_space && s.contains('+') {
        spaced = s.replace('+', " ");
        spaced.as_str()
    } else {
        s
    };
    text(percent_decode_str(input).decode_utf8_lossy().as_ref())
}

fn url_decode(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    Ok(percent_decode(&str_arg(args, 0), true))
}

/// Query strings in the wild encode spaces as `+`, so query parameter decoding accepts it.
fn url_decode_query(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    Ok(percent_decode(&str_arg(args, 0), true))
}

fn url_decode_component(args: &[Value], _: Option<&CompiledRegex>) -> Result<Value, EvalError> {
    Ok(percent_decode(&str_arg(args, 0), false))
}
