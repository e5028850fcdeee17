//! EL's type coercions and operators (JSR-245 sections 1.7-1.18), following the order of
//! checks JUEL uses, since that order decides results such as `'10' == 10` (true: the number
//! wins and the string is parsed) or `null + null` (0).

use std::cmp::Ordering;

use super::EvalError;
use super::Value;
use super::java_format;

/// A short description of a value for error messages (`string "abc"`, `boolean true`).
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Str(s) => {
            let mut shown: String = s.chars().take(40).collect();
            if shown.len() < s.len() {
                shown.push('…');
            }
            format!("string \"{shown}\"")
        }
        Value::List(_) | Value::Map(_) => v.type_name().to_owned(),
        other => format!("{} {other}", other.type_name()),
    }
}

fn coercion(v: &Value, target: &'static str) -> EvalError {
    EvalError::Coercion {
        value: describe(v),
        target,
    }
}

/// Coercion to Boolean (1.18.5): null and "" are false, strings are `"true"` ignoring case;
/// numbers, lists and maps cannot be coerced.
pub(crate) fn to_bool(v: &Value) -> Result<bool, EvalError> {
    match v {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(*b),
        Value::Str(s) => Ok(s.eq_ignore_ascii_case("true")),
        _ => Err(coercion(v, "boolean")),
    }
}

/// Coercion to Long (1.18.3): null and "" are 0, decimals truncate toward zero, strings must
/// be a plain Java long literal.
pub(crate) fn to_long(v: &Value) -> Result<i64, EvalError> {
    match v {
        Value::Null => Ok(0),
        Value::Int(i) => Ok(*i),
        // Java's `Number.longValue()` on a double: truncation, saturating, NaN is 0; Rust's
        // `as` has exactly those semantics.
        Value::Float(f) => Ok(*f as i64),
        Value::Str(s) if s.is_empty() => Ok(0),
        Value::Str(s) => java_format::parse_long(s).ok_or_else(|| coercion(v, "an integer")),
        Value::Bool(_) | Value::List(_) | Value::Map(_) => Err(coercion(v, "an integer")),
    }
}

/// Coercion to Double (1.18.3): like [`to_long`] but parsing with `Double.valueOf`.
pub(crate) fn to_double(v: &Value) -> Result<f64, EvalError> {
    match v {
        Value::Null => Ok(0.0),
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        Value::Str(s) if s.is_empty() => Ok(0.0),
        Value::Str(s) => java_format::parse_double(s).ok_or_else(|| coercion(v, "a number")),
        Value::Bool(_) | Value::List(_) | Value::Map(_) => Err(coercion(v, "a number")),
    }
}

/// JUEL's `isFloatOrDoubleOrDotEe`: the operand forces floating-point arithmetic.
fn is_float_like(v: &Value) -> bool {
    match v {
        Value::Float(_) => true,
        Value::Str(s) => s.contains(['.', 'e', 'E']),
        _ => false,
    }
}

fn is_floating_comparison(a: &Value, b: &Value) -> bool {
    // JUEL only switches to double for actual Float/Double operands and would fail to parse
    // "1.5" as a long when compared with an integer; comparing such a string as a decimal is
    // the obvious intent, so Ferrogate accepts it instead of failing.
    match (a, b) {
        (Value::Float(_), _) | (_, Value::Float(_)) => true,
        (Value::Int(_), s @ Value::Str(_)) | (s @ Value::Str(_), Value::Int(_)) => is_float_like(s),
        _ => false,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// Binary arithmetic (1.7.1-1.7.3). `+ - *` stay integral unless an operand is a decimal (or a
/// string that looks like one); `/` is always decimal; `%` is integral when both operands are.
/// Integer overflow wraps like Java's `long`.
pub(crate) fn arith(op: ArithOp, a: &Value, b: &Value) -> Result<Value, EvalError> {
    if a.is_null() && b.is_null() {
        return Ok(Value::Int(0));
    }
    if op == ArithOp::Div {
        return Ok(Value::Float(to_double(a)? / to_double(b)?));
    }
    if is_float_like(a) || is_float_like(b) {
        let (x, y) = (to_double(a)?, to_double(b)?);
        return Ok(Value::Float(match op {
            ArithOp::Add => x + y,
            ArithOp::Sub => x - y,
            ArithOp::Mul => x * y,
            // Rust's `%` on f64 is C's fmod, the same truncated remainder as Java's.
            ArithOp::Mod | ArithOp::Div => x % y,
        }));
    }
    let (x, y) = (to_long(a)?, to_long(b)?);
    Ok(Value::Int(match op {
        ArithOp::Add => x.wrapping_add(y),
        ArithOp::Sub => x.wrapping_sub(y),
        ArithOp::Mul => x.wrapping_mul(y),
        ArithOp::Mod | ArithOp::Div => {
            if y == 0 {
                return Err(EvalError::DivisionByZero);
            }
            x.wrapping_rem(y)
        }
    }))
}

/// Unary minus (1.7.5): null is 0, strings are parsed, `Long.MIN_VALUE` wraps.
pub(crate) fn negate(v: &Value) -> Result<Value, EvalError> {
    match v {
        Value::Null => Ok(Value::Int(0)),
        Value::Int(i) => Ok(Value::Int(i.wrapping_neg())),
        Value::Float(f) => Ok(Value::Float(-f)),
        Value::Str(_) if is_float_like(v) => Ok(Value::Float(-to_double(v)?)),
        Value::Str(_) => Ok(Value::Int(to_long(v)?.wrapping_neg())),
        Value::Bool(_) | Value::List(_) | Value::Map(_) => Err(coercion(v, "a number")),
    }
}

/// EL equality (1.8.2).
pub(crate) fn el_eq(a: &Value, b: &Value) -> Result<bool, EvalError> {
    match (a, b) {
        (Value::Null, Value::Null) => return Ok(true),
        (Value::Null, _) | (_, Value::Null) => return Ok(false),
        (Value::Str(x), Value::Str(y)) => return Ok(x == y),
        _ => {}
    }
    if is_floating_comparison(a, b) {
        return Ok(to_double(a)? == to_double(b)?);
    }
    if matches!(a, Value::Int(_)) || matches!(b, Value::Int(_)) {
        return Ok(to_long(a)? == to_long(b)?);
    }
    if matches!(a, Value::Bool(_)) || matches!(b, Value::Bool(_)) {
        return Ok(to_bool(a)? == to_bool(b)?);
    }
    if matches!(a, Value::Str(_)) || matches!(b, Value::Str(_)) {
        return Ok(a.to_el_string() == b.to_el_string());
    }
    Ok(a.java_equals(b))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Lt,
    Gt,
    Le,
    Ge,
}

/// Relational operators (1.8.1): numbers numerically, strings lexicographically, numbers
/// against numeric strings numerically. Null against anything is false, except that JUEL
/// answers `null <= null` and `null >= null` with true (the operands are identical).
pub(crate) fn compare(op: CmpOp, a: &Value, b: &Value) -> Result<bool, EvalError> {
    let ordering = match (a, b) {
        (Value::Null, Value::Null) => return Ok(matches!(op, CmpOp::Le | CmpOp::Ge)),
        (Value::Null, _) | (_, Value::Null) => return Ok(false),
        _ if is_floating_comparison(a, b) => to_double(a)?.partial_cmp(&to_double(b)?),
        (Value::Int(_), _) | (_, Value::Int(_)) => Some(to_long(a)?.cmp(&to_long(b)?)),
        (Value::Str(_), _) | (_, Value::Str(_)) => Some(a.to_el_string().cmp(&b.to_el_string())),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => {
            return Err(EvalError::TypeMismatch(format!(
                "cannot order {} against {}",
                a.type_name(),
                b.type_name()
            )));
        }
    };
    // NaN is unordered: every comparison with it is false, as in Java.
    Ok(match ordering {
        None => false,
        Some(o) => match op {
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
        },
    })
}
