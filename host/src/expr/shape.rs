//! A read-only view of a condition's boolean structure, for callers that want to know what a
//! condition requires without evaluating it (the router indexes routes by it).
//!
//! Only the outer `&&`/`||` skeleton and leaf tests comparing a binding with a string literal
//! are described; everything else is [`Shape::Opaque`]. Each description is a necessary
//! condition: when the expression evaluates to true, the shape holds. The converse is not
//! promised, so a caller may only use a shape to rule an expression out.

use super::ast::{Node, PathNode};
use super::functions::FunctionDef;
use super::methods::MethodId;
use super::regex::RegexMode;
use super::{Body, Expression, Value};

#[derive(Debug)]
pub enum Shape<'e> {
    /// `a && b && ...`: true only when every operand is.
    All(Vec<Shape<'e>>),
    /// `a || b || ...`: true only when some operand is.
    Any(Vec<Shape<'e>>),
    Test(Test<'e>),
    /// Anything this view does not describe; it may be true for any request.
    Opaque,
}

/// A test of one binding (such as `request.uri.path`) against a string literal.
#[derive(Debug)]
pub struct Test<'e> {
    pub root: &'e str,
    /// The binding's keys after the root, all constants (`["uri", "path"]`).
    pub keys: &'e [Value],
    pub op: TestOp<'e>,
}

impl Test<'_> {
    /// Whether the test reads exactly `root.keys[0].keys[1]...`.
    pub fn reads(&self, root: &str, keys: &[&str]) -> bool {
        self.root == root
            && self.keys.len() == keys.len()
            && self
                .keys
                .iter()
                .zip(keys)
                .all(|(key, name)| matches!(key, Value::Str(key) if key.as_ref() == *name))
    }
}

/// What must hold of the binding's value for the test to be true. "Text" below is the value's
/// string form as the test sees it: the string itself, or "" for null.
#[derive(Debug, PartialEq, Eq)]
pub enum TestOp<'e> {
    /// `x == 'lit'`, `'lit' == x`, `x.equals('lit')`: a string value is `lit` and a null one
    /// fails. (A number or boolean is compared by EL's coercions: `80 == '80'` holds.)
    Equals(&'e str),
    /// `x.startsWith('lit')`: the value is a string starting with `lit`.
    StartsWith(&'e str),
    /// `find(x, 're')` and `matches(x, 're')` (`whole` false: the pattern occurs somewhere),
    /// `matchesWithRegex(x, 're')` and `x.matches('re')` (`whole` true: it matches the whole
    /// text). What the pattern implies is the caller's to work out.
    Regex { pattern: &'e str, whole: bool },
}

impl Expression {
    /// The condition's structure. A template with text around its `${...}` (or several of
    /// them) evaluates to a string that is never exactly "true" by the shape of its parts, and
    /// is reported as opaque.
    pub fn shape(&self) -> Shape<'_> {
        match &self.compiled.body {
            Body::Single(node) => shape_of(node),
            Body::Const(_) | Body::Parts(_) => Shape::Opaque,
        }
    }
}

fn shape_of(node: &Node) -> Shape<'_> {
    match node {
        Node::And(operands) => Shape::All(operands.iter().map(shape_of).collect()),
        Node::Or(operands) => Shape::Any(operands.iter().map(shape_of).collect()),
        Node::Eq(false, a, b) => match (&**a, &**b) {
            (Node::Path(path), Node::Lit(Value::Str(text)))
            | (Node::Lit(Value::Str(text)), Node::Path(path)) => test(path, TestOp::Equals(text)),
            _ => Shape::Opaque,
        },
        Node::Method(method) => {
            let Node::Path(path) = &method.receiver else {
                return Shape::Opaque;
            };
            let [Node::Lit(Value::Str(text))] = &*method.args else {
                return Shape::Opaque;
            };
            match method.method {
                MethodId::Equals => test(path, TestOp::Equals(text)),
                MethodId::StartsWith => test(path, TestOp::StartsWith(text)),
                MethodId::Matches => test(
                    path,
                    TestOp::Regex {
                        pattern: text,
                        whole: true,
                    },
                ),
                _ => Shape::Opaque,
            }
        }
        Node::Call(call) => match (&*call.args, matcher_mode(call.def)) {
            ([Node::Path(path), Node::Lit(Value::Str(pattern))], Some(mode)) => test(
                path,
                TestOp::Regex {
                    pattern,
                    whole: mode == RegexMode::Whole,
                },
            ),
            _ => Shape::Opaque,
        },
        _ => Shape::Opaque,
    }
}

/// How a function matches its regex, for the functions that answer with a boolean. Others
/// taking a regex (`findGroups`, `split`...) answer with values a condition never reads as
/// true, so they are opaque.
fn matcher_mode(def: &FunctionDef) -> Option<RegexMode> {
    match def.name {
        "find" | "matches" | "matchesWithRegex" => def.regex_arg.map(|(_, mode)| mode),
        _ => None,
    }
}

fn test<'e>(path: &'e PathNode, op: TestOp<'e>) -> Shape<'e> {
    if !path.dynamic.is_empty() {
        return Shape::Opaque;
    }
    Shape::Test(Test {
        root: &path.root,
        keys: &path.keys,
        op,
    })
}
