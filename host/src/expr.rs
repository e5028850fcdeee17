//! IG's `${...}` expression language: Java EL (JSR-245) with JUEL's semantics and IG's function
//! set. Templates are parsed once at configuration load (where syntax errors, unknown
//! functions and bad literal regexes are reported) and evaluated per request against a
//! [`Scope`] the host implements over the live exchange.
//!
//! Evaluation never fails loudly: as in IG, an error anywhere makes the template null (and a
//! condition false). [`Expression::try_eval`] exposes the error for logging.
//!
//! Decisions where IG/JUEL left room:
//! - Null renders as "" in templates (EL's string coercion); inside a list or map it renders as
//!   "null" (Java's collection `toString`). `toString(null)` is null, as IG's function returns.
//! - `digestSha256` returns the digest as a list of signed bytes (IG returns a Java `byte[]`),
//!   which `encodeBase64`/`encodeBase64url` accept, so `encodeBase64url(digestSha256(x))`
//!   matches IG.
//! - `matchingGroups` uses find semantics, as IG's implementation does (`findGroups` is its
//!   newer name); `matchesWithRegex` and `keyMatch` match whole strings.
//! - String literals keep unknown backslash escapes (`'\d'` is `\d`) where JUEL rejects them.
//! - Comparing an integer with a decimal-looking string (`'1.5' < 2`) compares as decimals where
//!   JUEL fails to parse the string as a long.
//! - Strings are indexed by character (Java uses UTF-16 units; they differ only for characters
//!   outside the Basic Multilingual Plane).

mod ast;
mod coerce;
mod eval;
mod functions;
mod java_format;
mod lexer;
mod methods;
mod parser;
mod regex;
mod shape;
mod value;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use ast::{FirstKey, Node};
use parser::Part;

pub use shape::{Shape, Test, TestOp};
pub use value::Value;

/// What an expression can see. The host implements this over the live request, response,
/// attributes, session and contexts, and over properties, `env` and `system` at configuration
/// time.
pub trait Scope {
    /// Resolves a root identifier followed by a path of keys: `request.uri.path` is
    /// `lookup("request", &[Str("uri"), Str("path")])`, `request.headers['Host'][0]` is
    /// `lookup("request", &[Str("headers"), Str("Host"), Int(0)])`.
    ///
    /// An implementation may consume only a prefix of the path: it returns the value reached
    /// and how many keys it consumed, and the evaluator applies the rest with generic value
    /// semantics (map key, list index). `None` means the root identifier is unknown (the
    /// expression then sees null).
    fn lookup(&self, root: &str, path: &[Value]) -> Option<(Value, usize)>;

    /// Writes through a left-value such as `${attributes.user}` or
    /// `${request.headers['X-A']}`. The default refuses.
    fn assign(&mut self, root: &str, path: &[Value], value: Value) -> Result<(), EvalError> {
        let _ = value;
        Err(EvalError::NotAssignable(describe_path(root, path)))
    }
}

/// A scope with no bindings, for expressions that need none (constants, tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct EmptyScope;

impl Scope for EmptyScope {
    fn lookup(&self, _root: &str, _path: &[Value]) -> Option<(Value, usize)> {
        None
    }
}

/// `root.a['b'][0]` for messages.
fn describe_path(root: &str, path: &[Value]) -> String {
    let mut out = root.to_owned();
    for key in path {
        match key {
            Value::Str(s) => {
                out.push_str("['");
                out.push_str(s);
                out.push_str("']");
            }
            other => {
                out.push('[');
                out.push_str(&other.to_el_string());
                out.push(']');
            }
        }
    }
    out
}

/// A template that failed to parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_parse_error(self))]
pub struct ParseError {
    pub message: String,
    /// Byte offset into the source string where the problem is.
    pub offset: usize,
    pub source_text: String,
}

impl ParseError {
    pub(crate) fn new(message: impl Into<String>, offset: usize, source: &str) -> Self {
        ParseError {
            message: message.into(),
            offset,
            source_text: source.to_owned(),
        }
    }

    /// 1-based character column of the problem.
    pub fn column(&self) -> usize {
        parser::column(&self.source_text, self.offset)
    }
}

/// `message at column N of "source"`, then the source with a caret under the problem when it
/// fits on one line.
fn render_parse_error(e: &ParseError) -> String {
    let column = e.column();
    let mut out = format!("{} at column {column} of \"{}\"", e.message, e.source_text);
    if !e.source_text.contains(['\n', '\r']) && e.source_text.chars().count() <= 200 {
        out.push_str("\n    ");
        out.push_str(&e.source_text);
        out.push_str("\n    ");
        out.extend(std::iter::repeat_n(' ', column - 1));
        out.push('^');
    }
    out
}

/// Why an evaluation produced null.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("cannot coerce {value} to {target}")]
    Coercion { value: String, target: &'static str },
    #[error("type mismatch: {0}")]
    TypeMismatch(String),
    #[error("{0} is not assignable")]
    NotAssignable(String),
    /// Unknown functions are rejected at parse time; this exists for scopes and callers that
    /// resolve names themselves.
    #[error("unknown function '{0}'")]
    UnknownFunction(String),
    #[error("{receiver} has no method '{method}' taking {arity} argument(s)")]
    UnknownMethod {
        receiver: &'static str,
        method: String,
        arity: usize,
    },
    #[error("cannot call '{0}' on null")]
    NullReceiver(String),
    #[error("property '{property}' not found on {receiver}")]
    PropertyNotFound {
        receiver: &'static str,
        property: String,
    },
    #[error("index {index} out of bounds for length {len}")]
    IndexOutOfBounds { index: i64, len: usize },
    #[error("division by zero")]
    DivisionByZero,
    #[error("regular expression '{pattern}': {message}")]
    Regex { pattern: String, message: String },
    #[error("{function}: {message}")]
    Function {
        function: &'static str,
        message: String,
    },
}

/// A compiled `${...}` template: literal text and expressions, parsed once, evaluated many
/// times. Cloning is cheap.
#[derive(Clone)]
pub struct Expression {
    source: Arc<str>,
    compiled: Arc<Compiled>,
}

struct Compiled {
    body: Body,
    lvalue: bool,
    roots: Vec<Arc<str>>,
    reads: Vec<(Arc<str>, FirstKey)>,
}

enum Body {
    Const(Value),
    /// Exactly one `${...}` and no text: the value keeps its type.
    Single(Node),
    /// Text and expressions, concatenated as strings.
    Parts(Box<[Part]>),
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expression")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Expression {
    /// Parses a template such as `Bearer ${attributes.token}` or
    /// `${request.method == 'GET'}`. Text with no `${` is a constant; `\${` is a literal `${`.
    pub fn parse(source: &str) -> Result<Expression, ParseError> {
        let parts = parser::parse_template(source)?;
        let lvalue = matches!(parts.as_slice(), [Part::Expr(Node::Path(_))]);

        let mut roots: Vec<Arc<str>> = Vec::new();
        let mut reads = Vec::new();
        for part in &parts {
            if let Part::Expr(node) = part {
                node.visit_paths(&mut |root, first| {
                    if !roots.contains(root) {
                        roots.push(Arc::clone(root));
                    }
                    reads.push((Arc::clone(root), first));
                });
            }
        }

        let body = match <[Part; 1]>::try_from(parts) {
            Ok([Part::Expr(Node::Lit(v))]) => Body::Const(v),
            Ok([Part::Expr(node)]) => Body::Single(node),
            Ok([Part::Text(t)]) => Body::Const(Value::Str(t)),
            Err(parts) => constant_text(&parts).map_or_else(
                || Body::Parts(parts.into_boxed_slice()),
                |s| Body::Const(Value::from(s)),
            ),
        };
        Ok(Expression {
            source: Arc::from(source),
            compiled: Arc::new(Compiled {
                body,
                lvalue,
                roots,
                reads,
            }),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The value when the template is pure literal text or folds to a constant (no part of it
    /// reads the scope).
    pub fn constant(&self) -> Option<&Value> {
        match &self.compiled.body {
            Body::Const(v) => Some(v),
            Body::Single(_) | Body::Parts(_) => None,
        }
    }

    /// Evaluates; any error gives null. A template that is exactly one `${expr}` yields the
    /// expression's value with its type; otherwise the parts are concatenated as a string.
    pub fn eval(&self, scope: &dyn Scope) -> Value {
        self.try_eval(scope).unwrap_or_default()
    }

    /// Like [`Expression::eval`] but returns the error, for callers that log it.
    pub fn try_eval(&self, scope: &dyn Scope) -> Result<Value, EvalError> {
        match &self.compiled.body {
            Body::Const(v) => Ok(v.clone()),
            Body::Single(node) => eval::eval(node, scope),
            Body::Parts(parts) => {
                let mut out = String::with_capacity(self.source.len() + 32);
                for part in parts.iter() {
                    match part {
                        Part::Text(t) => out.push_str(t),
                        Part::Expr(node) => match eval::eval(node, scope)? {
                            Value::Null => {}
                            Value::Str(s) => out.push_str(&s),
                            other => {
                                use fmt::Write as _;
                                // Writing into a String cannot fail.
                                let _ = write!(out, "{other}");
                            }
                        },
                    }
                }
                Ok(Value::from(out))
            }
        }
    }

    /// True only when the value is `true` (or a string equal to "true" ignoring case, as EL's
    /// boolean coercion reads it); null, other values and errors are false.
    pub fn eval_condition(&self, scope: &dyn Scope) -> bool {
        match self.try_eval(scope) {
            Ok(Value::Bool(b)) => b,
            Ok(Value::Str(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        }
    }

    /// True when the template is a single `${...}` naming a property/index chain from a root
    /// identifier, i.e. something [`Expression::assign`] can write through.
    pub fn is_lvalue(&self) -> bool {
        self.compiled.lvalue
    }

    /// Writes `value` through the left-value (`${attributes.user}`,
    /// `${request.headers['X-A']}`): computed keys are evaluated against the scope first, then
    /// the scope's `assign` receives the root and the key path.
    pub fn assign(&self, scope: &mut dyn Scope, value: Value) -> Result<(), EvalError> {
        let Body::Single(Node::Path(path)) = &self.compiled.body else {
            return Err(EvalError::NotAssignable(format!(
                "\"{}\" (not a property or index chain)",
                self.source
            )));
        };
        let keys = eval::with_path_keys(path, &*scope, <[Value]>::to_vec)?;
        scope.assign(&path.root, &keys, value)
    }

    /// The root identifiers the template reads (e.g. `["request", "attributes"]`), in order of
    /// first appearance.
    pub fn roots(&self) -> &[Arc<str>] {
        &self.compiled.roots
    }

    /// Whether the template may read `root.first` (e.g. `("request", "entity")`, to know the
    /// body must be buffered). Reading the whole root, or a computed first key, counts.
    pub fn reads_path(&self, root: &str, first: &str) -> bool {
        self.compiled.reads.iter().any(|(r, key)| {
            r.as_ref() == root
                && match key {
                    FirstKey::Any => true,
                    FirstKey::Named(name) => name.as_ref() == first,
                }
        })
    }
}

/// The concatenation when every part is text or a folded constant.
fn constant_text(parts: &[Part]) -> Option<String> {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Expr(Node::Lit(v)) => out.push_str(&v.to_el_string()),
            Part::Expr(_) => return None,
        }
    }
    Some(out)
}
