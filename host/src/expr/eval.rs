//! Tree-walking evaluation. Everything that can be decided at parse time already was (function
//! resolution, literal regexes, constant subtrees), so this is a straight walk that allocates
//! only for the values it produces.

use std::borrow::Cow;

use super::EvalError;
use super::Scope;
use super::Value;
use super::ast::{Node, PathNode};
use super::coerce;
use super::methods;

/// Paths and argument lists up to this long are assembled on the stack.
const INLINE_PATH: usize = 8;
const INLINE_ARGS: usize = 4;

/// Evaluates an operand that is only read: a literal is borrowed rather than cloned, which
/// spares the reference-count traffic of comparing against `'GET'` on every request.
fn operand<'n>(node: &'n Node, scope: &dyn Scope) -> Result<Cow<'n, Value>, EvalError> {
    match node {
        Node::Lit(v) => Ok(Cow::Borrowed(v)),
        other => eval(other, scope).map(Cow::Owned),
    }
}

pub(crate) fn eval(node: &Node, scope: &dyn Scope) -> Result<Value, EvalError> {
    match node {
        Node::Lit(v) => Ok(v.clone()),
        Node::Path(path) => with_path_keys(path, scope, |keys| lookup(scope, &path.root, keys))?,
        Node::Member(base, key) => {
            let base = operand(base, scope)?;
            base.property(operand(key, scope)?.as_ref())
        }
        Node::Method(m) => {
            let receiver = eval(&m.receiver, scope)?;
            let skip = match (&m.regex, m.method.regex_arg()) {
                (Some(_), Some((index, _))) => Some(index),
                _ => None,
            };
            with_values(&m.args, skip, scope, |args| {
                methods::call(&receiver, &m.method, args, m.regex.as_deref())
            })
        }
        Node::Call(c) => {
            // A literal pattern was compiled at parse time; its argument need not be produced.
            let skip = match (&c.regex, c.def.regex_arg) {
                (Some(_), Some((index, _))) => Some(index),
                _ => None,
            };
            with_values(&c.args, skip, scope, |args| {
                (c.def.imp)(args, c.regex.as_deref())
            })
        }
        Node::Neg(a) => coerce::negate(&eval(a, scope)?),
        Node::Not(a) => Ok(Value::Bool(!coerce::to_bool(&eval(a, scope)?)?)),
        Node::Empty(a) => Ok(Value::Bool(eval(a, scope)?.is_empty_el())),
        Node::Arith(op, a, b) => {
            let x = eval(a, scope)?;
            coerce::arith(*op, &x, &eval(b, scope)?)
        }
        Node::Cmp(op, a, b) => {
            let x = eval(a, scope)?;
            Ok(Value::Bool(coerce::compare(*op, &x, &eval(b, scope)?)?))
        }
        Node::Eq(negated, a, b) => {
            let x = eval(a, scope)?;
            Ok(Value::Bool(
                coerce::el_eq(&x, &eval(b, scope)?)? != *negated,
            ))
        }
        Node::And(operands) => {
            for o in operands.iter() {
                if !coerce::to_bool(operand(o, scope)?.as_ref())? {
                    return Ok(Value::Bool(false));
                }
            }
            Ok(Value::Bool(true))
        }
        Node::Or(operands) => {
            for o in operands.iter() {
                if coerce::to_bool(operand(o, scope)?.as_ref())? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        Node::Cond(test, then, otherwise) => {
            if coerce::to_bool(&eval(test, scope)?)? {
                eval(then, scope)
            } else {
                eval(otherwise, scope)
            }
        }
    }
}

/// One scope lookup for the whole chain; whatever the scope did not consume is resolved
/// generically on the value it returned. An unknown root identifier is null.
fn lookup(scope: &dyn Scope, root: &str, keys: &[Value]) -> Result<Value, EvalError> {
    let Some((mut value, consumed)) = scope.lookup(root, keys) else {
        return Ok(Value::Null);
    };
    for key in keys.get(consumed..).unwrap_or_default() {
        if value.is_null() {
            break;
        }
        value = value.property(key)?;
    }
    Ok(value)
}

/// Calls `f` with the path's keys, evaluating the computed ones first.
pub(crate) fn with_path_keys<R>(
    path: &PathNode,
    scope: &dyn Scope,
    f: impl FnOnce(&[Value]) -> R,
) -> Result<R, EvalError> {
    if path.dynamic.is_empty() {
        return Ok(f(&path.keys));
    }
    let n = path.keys.len();
    if n <= INLINE_PATH {
        let mut buf: [Value; INLINE_PATH] = Default::default();
        fill_keys(path, scope, &mut buf[..n])?;
        Ok(f(&buf[..n]))
    } else {
        let mut buf = vec![Value::Null; n];
        fill_keys(path, scope, &mut buf)?;
        Ok(f(&buf))
    }
}

fn fill_keys(path: &PathNode, scope: &dyn Scope, buf: &mut [Value]) -> Result<(), EvalError> {
    for (slot, key) in buf.iter_mut().zip(path.keys.iter()) {
        slot.clone_from(key);
    }
    for (index, node) in path.dynamic.iter() {
        let value = eval(node, scope)?;
        if let Some(slot) = buf.get_mut(*index) {
            *slot = value;
        }
    }
    Ok(())
}

/// Evaluates arguments (leaving the `skip`ped one null) and passes them to `f`.
fn with_values(
    nodes: &[Node],
    skip: Option<usize>,
    scope: &dyn Scope,
    f: impl FnOnce(&[Value]) -> Result<Value, EvalError>,
) -> Result<Value, EvalError> {
    let n = nodes.len();
    if n <= INLINE_ARGS {
        let mut buf: [Value; INLINE_ARGS] = Default::default();
        for (i, (slot, node)) in buf.iter_mut().zip(nodes).enumerate() {
            if skip != Some(i) {
                *slot = eval(node, scope)?;
            }
        }
        f(&buf[..n])
    } else {
        let mut values = Vec::with_capacity(n);
        for (i, node) in nodes.iter().enumerate() {
            values.push(if skip == Some(i) {
                Value::Null
            } else {
                eval(node, scope)?
            });
        }
        f(&values)
    }
}
