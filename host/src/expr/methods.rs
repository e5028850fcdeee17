//! Java methods callable on values (`${request.uri.path.startsWith('/api')}`): the subset of
//! `String`, `List`, `Map` and `Object` methods that IG routes use. Which method runs depends
//! on the receiver's type, known only at run time, so an unknown method is an evaluation error
//! rather than a parse error.

use std::sync::Arc;

use fancy_regex::{Captures, Regex};

use super::EvalError;
use super::Value;
use super::coerce;
use super::functions::{char_index, java_split, java_trim};
use super::regex::{self, CompiledRegex, RegexMode};

macro_rules! method_ids {
    ($($id:ident = $name:literal),* $(,)?) => {
        /// A method name resolved at parse time, so dispatch does not compare strings.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub(crate) enum MethodId {
            $($id,)*
            Other(Arc<str>),
        }

        impl MethodId {
            pub fn from_name(name: &str) -> MethodId {
                match name {
                    $($name => MethodId::$id,)*
                    other => MethodId::Other(Arc::from(other)),
                }
            }

            pub fn name(&self) -> &str {
                match self {
                    $(MethodId::$id => $name,)*
                    MethodId::Other(name) => name,
                }
            }
        }
    };
}

method_ids! {
    StartsWith = "startsWith",
    EndsWith = "endsWith",
    Contains = "contains",
    Equals = "equals",
    EqualsIgnoreCase = "equalsIgnoreCase",
    CompareTo = "compareTo",
    ToLowerCase = "toLowerCase",
    ToUpperCase = "toUpperCase",
    Trim = "trim",
    Strip = "strip",
    Length = "length",
    IsEmpty = "isEmpty",
    IsBlank = "isBlank",
    Substring = "substring",
    IndexOf = "indexOf",
    LastIndexOf = "lastIndexOf",
    Replace = "replace",
    ReplaceAll = "replaceAll",
    ReplaceFirst = "replaceFirst",
    Split = "split",
    Matches = "matches",
    CharAt = "charAt",
    Concat = "concat",
    Get = "get",
    Size = "size",
    ContainsKey = "containsKey",
    ContainsValue = "containsValue",
    KeySet = "keySet",
    Values = "values",
    ToString = "toString",
    IntValue = "intValue",
    LongValue = "longValue",
    DoubleValue = "doubleValue",
}

impl MethodId {
    /// The regex parameter of the method, if it has one, and how it must match.
    pub fn regex_arg(&self) -> Option<(usize, RegexMode)> {
        match self {
            MethodId::ReplaceAll | MethodId::ReplaceFirst | MethodId::Split => {
                Some((0, RegexMode::Find))
            }
            MethodId::Matches => Some((0, RegexMode::Whole)),
            _ => None,
        }
    }
}

fn text(s: impl Into<Arc<str>>) -> Value {
    Value::Str(s.into())
}

fn int(n: usize) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn unknown(receiver: &Value, method: &MethodId, args: &[Value]) -> EvalError {
    EvalError::UnknownMethod {
        receiver: receiver.type_name(),
        method: method.name().to_owned(),
        arity: args.len(),
    }
}

/// Invokes `method` on `receiver`. `pre` is the regex argument when it was compiled at parse
/// time.
pub(crate) fn call(
    receiver: &Value,
    method: &MethodId,
    args: &[Value],
    pre: Option<&CompiledRegex>,
) -> Result<Value, EvalError> {
    // Methods every Java object has.
    match (method, args) {
        (MethodId::ToString, []) => {
            return Ok(match receiver {
                Value::Str(_) => receiver.clone(),
                Value::Null => return Err(EvalError::NullReceiver("toString".to_owned())),
                other => text(other.to_string()),
            });
        }
        (MethodId::Equals, [other]) if !receiver.is_null() => {
            return Ok(Value::Bool(receiver.java_equals(other)));
        }
        _ => {}
    }
    match receiver {
        Value::Null => Err(EvalError::NullReceiver(method.name().to_owned())),
        Value::Str(s) => string_method(receiver, s, method, args, pre),
        Value::List(items) => list_method(receiver, items, method, args),
        Value::Map(map) => map_method(receiver, map, method, args),
        Value::Int(i) => match (method, args) {
            (MethodId::IntValue, []) => Ok(Value::Int(i64::from(*i as i32))),
            (MethodId::LongValue, []) => Ok(Value::Int(*i)),
            (MethodId::DoubleValue, []) => Ok(Value::Float(*i as f64)),
            _ => Err(unknown(receiver, method, args)),
        },
        Value::Float(f) => match (method, args) {
            (MethodId::IntValue, []) => Ok(Value::Int(i64::from(*f as i32))),
            (MethodId::LongValue, []) => Ok(Value::Int(*f as i64)),
            (MethodId::DoubleValue, []) => Ok(Value::Float(*f)),
            _ => Err(unknown(receiver, method, args)),
        },
        Value::Bool(_) => Err(unknown(receiver, method, args)),
    }
}

/// A Java `int` parameter.
fn int_arg(v: &Value) -> Result<i64, EvalError> {
    coerce::to_long(v)
}

/// Byte offset of the `index`th character, if `index` is within `0..=len`.
fn byte_offset(s: &str, index: i64) -> Option<usize> {
    let index = usize::try_from(index).ok()?;
    if s.is_ascii() {
        return (index <= s.len()).then_some(index);
    }
    if index == 0 {
        return Some(0);
    }
    s.char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()))
        .nth(index)
}

fn string_method(
    receiver: &Value,
    s: &Arc<str>,
    method: &MethodId,
    args: &[Value],
    pre: Option<&CompiledRegex>,
) -> Result<Value, EvalError> {
    let str_arg = |i: usize| args.get(i).map(Value::to_el_string).unwrap_or_default();
    let out_of_bounds = |index: i64| EvalError::IndexOutOfBounds {
        index,
        len: s.chars().count(),
    };
    Ok(match (method, args.len()) {
        (MethodId::StartsWith, 1) => Value::Bool(s.starts_with(str_arg(0).as_ref())),
        (MethodId::StartsWith, 2) => {
            let from = int_arg(&args[1])?;
            Value::Bool(
                byte_offset(s, from).is_some_and(|b| s[b..].starts_with(str_arg(0).as_ref())),
            )
        }
        (MethodId::EndsWith, 1) => Value::Bool(s.ends_with(str_arg(0).as_ref())),
        (MethodId::Contains, 1) => Value::Bool(s.contains(str_arg(0).as_ref())),
        (MethodId::EqualsIgnoreCase, 1) => {
            let other = str_arg(0);
            Value::Bool(if s.is_ascii() && other.is_ascii() {
                s.eq_ignore_ascii_case(&other)
            } else {
                s.to_lowercase() == other.to_lowercase()
            })
        }
        (MethodId::CompareTo, 1) => Value::Int(match s.as_ref().cmp(str_arg(0).as_ref()) {
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
        }),
        (MethodId::ToLowerCase, 0) => text(s.to_lowercase()),
        (MethodId::ToUpperCase, 0) => text(s.to_uppercase()),
        (MethodId::Trim, 0) => text(java_trim(s)),
        (MethodId::Strip, 0) => text(s.trim()),
        (MethodId::Length, 0) => int(s.chars().count()),
        (MethodId::IsEmpty, 0) => Value::Bool(s.is_empty()),
        (MethodId::IsBlank, 0) => Value::Bool(s.trim().is_empty()),
        (MethodId::Substring, 1 | 2) => {
            let begin = int_arg(&args[0])?;
            let b = byte_offset(s, begin).ok_or_else(|| out_of_bounds(begin))?;
            let e = match args.get(1) {
                Some(end) => {
                    let end = int_arg(end)?;
                    byte_offset(s, end)
                        .filter(|&e| e >= b)
                        .ok_or_else(|| out_of_bounds(end))?
                }
                None => s.len(),
            };
            if b == 0 && e == s.len() {
                receiver.clone()
            } else {
                text(&s[b..e])
            }
        }
        (MethodId::IndexOf, 1 | 2) => {
            let needle = str_arg(0);
            let from = match args.get(1) {
                Some(v) => int_arg(v)?.max(0),
                None => 0,
            };
            Value::Int(match byte_offset(s, from) {
                Some(b) => s[b..]
                    .find(needle.as_ref())
                    .map_or(-1, |i| char_index(s, b + i)),
                None => -1,
            })
        }
        (MethodId::LastIndexOf, 1) => Value::Int(
            s.rfind(str_arg(0).as_ref())
                .map_or(-1, |i| char_index(s, i)),
        ),
        (MethodId::Replace, 2) => {
            let (from, to) = (str_arg(0), str_arg(1));
            if from.is_empty() {
                // Java inserts the replacement around every character for an empty target.
                let mut out = String::with_capacity(s.len() * (to.len() + 1) + to.len());
                out.push_str(&to);
                for c in s.chars() {
                    out.push(c);
                    out.push_str(&to);
                }
                text(out)
            } else {
                text(s.replace(from.as_ref(), &to))
            }
        }
        (MethodId::ReplaceAll | MethodId::ReplaceFirst, 2) => {
            let re = regex::resolve(pre, &str_arg(0), RegexMode::Find)?;
            let all = *method == MethodId::ReplaceAll;
            text(java_replace(&re, s, &str_arg(1), all)?)
        }
        (MethodId::Split, 1) => {
            let re = regex::resolve(pre, &str_arg(0), RegexMode::Find)?;
            Value::List(Arc::new(java_split(s, &re)?))
        }
        (MethodId::Matches, 1) => {
            let re = regex::resolve(pre, &str_arg(0), RegexMode::Whole)?;
            Value::Bool(re.is_match(s)?)
        }
        (MethodId::CharAt, 1) => {
            let index = int_arg(&args[0])?;
            let c = usize::try_from(index)
                .ok()
                .and_then(|i| s.chars().nth(i))
                .ok_or_else(|| out_of_bounds(index))?;
            text(c.to_string())
        }
        (MethodId::Concat, 1) => {
            let other = str_arg(0);
            let mut out = String::with_capacity(s.len() + other.len());
            out.push_str(s);
            out.push_str(&other);
            text(out)
        }
        _ => return Err(unknown(receiver, method, args)),
    })
}

/// Java's `Matcher.replaceAll`/`replaceFirst` with Java's replacement syntax: `$n` and
/// `${name}` insert groups, a backslash escapes the next character.
pub(crate) fn java_replace(
    re: &Regex,
    s: &str,
    replacement: &str,
    all: bool,
) -> Result<String, EvalError> {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for caps in re.captures_iter(s) {
        let caps = caps.map_err(|e| regex::runtime_error(re, &e))?;
        let Some(whole) = caps.get(0) else { continue };
        out.push_str(&s[last..whole.start()]);
        expand_replacement(re, &caps, replacement, &mut out)?;
        last = whole.end();
        if !all {
            break;
        }
    }
    out.push_str(&s[last..]);
    Ok(out)
}

fn expand_replacement(
    re: &Regex,
    caps: &Captures<'_>,
    replacement: &str,
    out: &mut String,
) -> Result<(), EvalError> {
    let bad = |message: String| EvalError::Function {
        function: "replaceAll",
        message,
    };
    let group_count = caps.len().saturating_sub(1);
    let mut chars = replacement.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, escaped)) => out.push(escaped),
                None => return Err(bad("character to be escaped is missing".to_owned())),
            },
            '$' => match chars.next() {
                Some((start, '{')) => {
                    let rest = &replacement[start + 1..];
                    let Some(close) = rest.find('}') else {
                        return Err(bad(
                            "named capturing group is missing trailing '}'".to_owned()
                        ));
                    };
                    let name = &rest[..close];
                    if !re.capture_names().any(|n| n == Some(name)) {
                        return Err(bad(format!("no group with name {{{name}}}")));
                    }
                    if let Some(m) = caps.name(name) {
                        out.push_str(m.as_str());
                    }
                    for _ in 0..=name.chars().count() {
                        chars.next();
                    }
                }
                Some((_, d)) if d.is_ascii_digit() => {
                    // Java takes further digits only while the group number stays valid.
                    let mut group = d as usize - '0' as usize;
                    if group > group_count {
                        return Err(bad(format!("no group {group}")));
                    }
                    while let Some(&(_, next)) = chars.peek() {
                        let Some(digit) = next.to_digit(10) else {
                            break;
                        };
                        let candidate = group * 10 + digit as usize;
                        if candidate > group_count {
                            break;
                        }
                        group = candidate;
                        chars.next();
                    }
                    if let Some(m) = caps.get(group) {
                        out.push_str(m.as_str());
                    }
                }
                _ => return Err(bad("illegal group reference".to_owned())),
            },
            c => out.push(c),
        }
    }
    Ok(())
}

fn list_method(
    receiver: &Value,
    items: &Arc<Vec<Value>>,
    method: &MethodId,
    args: &[Value],
) -> Result<Value, EvalError> {
    Ok(match (method, args) {
        (MethodId::Get, [index]) => {
            let i = int_arg(index)?;
            usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
                .ok_or(EvalError::IndexOutOfBounds {
                    index: i,
                    len: items.len(),
                })?
        }
        (MethodId::Size, []) => int(items.len()),
        (MethodId::IsEmpty, []) => Value::Bool(items.is_empty()),
        (MethodId::Contains, [x]) => Value::Bool(items.iter().any(|i| i.java_equals(x))),
        (MethodId::IndexOf, [x]) => Value::Int(
            items
                .iter()
                .position(|i| i.java_equals(x))
                .map_or(-1, |p| i64::try_from(p).unwrap_or(i64::MAX)),
        ),
        _ => return Err(unknown(receiver, method, args)),
    })
}

fn map_method(
    receiver: &Value,
    map: &Arc<indexmap::IndexMap<String, Value>>,
    method: &MethodId,
    args: &[Value],
) -> Result<Value, EvalError> {
    Ok(match (method, args) {
        (MethodId::Get, [key]) => map
            .get(key.to_el_string().as_ref())
            .cloned()
            .unwrap_or_default(),
        (MethodId::Size, []) => int(map.len()),
        (MethodId::IsEmpty, []) => Value::Bool(map.is_empty()),
        (MethodId::ContainsKey, [key]) => {
            Value::Bool(!key.is_null() && map.contains_key(key.to_el_string().as_ref()))
        }
        (MethodId::ContainsValue, [x]) => Value::Bool(map.values().any(|v| v.java_equals(x))),
        (MethodId::KeySet, []) => {
            Value::List(Arc::new(map.keys().map(|k| text(k.as_str())).collect()))
        }
        (MethodId::Values, []) => Value::List(Arc::new(map.values().cloned().collect())),
        _ => return Err(unknown(receiver, method, args)),
    })
}
