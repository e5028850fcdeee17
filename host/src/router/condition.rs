//! What a route's condition requires of the request, in the terms the route index can look up:
//! the decoded path, the URI host and the method, each tested for an exact value or (the path)
//! a prefix.
//!
//! Everything here is a necessary condition: when the condition evaluates to true, one of its
//! guards holds. A term that cannot be proven is dropped from its conjunction, which only makes
//! the guard weaker, and a disjunction with such a term gives up entirely. So the index may
//! skip a route only when its condition could not have been true.

use crate::expr::{Expression, Shape, Test, TestOp};

/// More guards than this (a long `||` chain, or the product of several) are not worth
/// indexing: the route is simply always tried.
const MAX_GUARDS: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Field {
    /// `request.uri.path`: the percent-decoded path.
    Path,
    /// `request.uri.host`, as the request URI spells it ("" when it has none).
    Host,
    /// `request.method`.
    Method,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Key {
    /// The field is `text`; with `terminated`, it may also be `text` and one final line
    /// terminator, which Java's `$` lets through.
    Exact { text: Box<str>, terminated: bool },
    /// The field starts with this (never empty) text.
    Prefix(Box<str>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Constraint {
    pub field: Field,
    pub key: Key,
}

/// Constraints that all hold whenever the condition is true through this guard.
pub(super) type Guard = Box<[Constraint]>;

impl Key {
    pub fn admits(&self, value: &str) -> bool {
        match self {
            Key::Exact { text, terminated } => {
                value == &**text
                    || (*terminated && value.strip_prefix(&**text).is_some_and(is_line_terminator))
            }
            Key::Prefix(text) => value.starts_with(&**text),
        }
    }
}

/// Java's line terminators (without `UNIX_LINES`): what its `$` may leave unmatched at the end
/// of the input.
pub(super) fn is_line_terminator(text: &str) -> bool {
    matches!(
        text,
        "\n" | "\r" | "\r\n" | "\u{85}" | "\u{2028}" | "\u{2029}"
    )
}

/// The guards of a condition, one of which holds whenever the condition is true. `None` when
/// nothing is known: the route must be tried for every request.
pub(super) fn guards(condition: &Expression) -> Option<Vec<Guard>> {
    let guards = requirement(&condition.shape())?;
    Some(guards.into_iter().map(Vec::into_boxed_slice).collect())
}

/// Disjunctive normal form of what `shape` implies, bounded by [`MAX_GUARDS`].
fn requirement(shape: &Shape<'_>) -> Option<Vec<Vec<Constraint>>> {
    match shape {
        Shape::Opaque => None,
        Shape::Test(test) => constraint(test).map(|c| vec![vec![c]]),
        Shape::Any(operands) => {
            let mut out = Vec::new();
            for operand in operands {
                out.extend(requirement(operand)?);
                if out.len() > MAX_GUARDS {
                    return None;
                }
            }
            Some(out)
        }
        Shape::All(operands) => {
            let mut out: Option<Vec<Vec<Constraint>>> = None;
            for operand in operands {
                let Some(alternatives) = requirement(operand) else {
                    continue;
                };
                out = Some(match out {
                    None => alternatives,
                    // Leaving a conjunct out keeps the guards necessary, only less sharp.
                    Some(so_far) if so_far.len() * alternatives.len() > MAX_GUARDS => so_far,
                    Some(so_far) => so_far
                        .iter()
                        .flat_map(|left| {
                            alternatives.iter().map(move |right| {
                                left.iter().chain(right.iter()).cloned().collect()
                            })
                        })
                        .collect(),
                });
            }
            out
        }
    }
}

fn constraint(test: &Test<'_>) -> Option<Constraint> {
    let field = if test.reads("request", &["uri", "path"]) {
        Field::Path
    } else if test.reads("request", &["uri", "host"]) {
        Field::Host
    } else if test.reads("request", &["method"]) {
        Field::Method
    } else {
        return None;
    };
    let key = match test.op {
        TestOp::Equals(text) => Key::Exact {
            text: text.into(),
            terminated: false,
        },
        TestOp::StartsWith(text) if !text.is_empty() => Key::Prefix(text.into()),
        TestOp::StartsWith(_) => return None,
        TestOp::Regex { pattern, whole } => regex_key(pattern, whole)?,
    };
    Some(Constraint { field, key })
}

/// Characters with a meaning in a regex outside a character class, in Java and in the Rust
/// engine alike. Any other character matches itself (no flags can be in force before the
/// literal, since a pattern starting with a flag group is not analysed).
const META: &str = "\\.+*?()|[]{}^$";

/// What a text must look like for the pattern to match it, when the pattern is an anchored
/// literal optionally followed by more pattern:
/// - `^lit` (find) or `lit...` (whole match): the text starts with `lit`;
/// - `^lit$` (find) or `lit` / `lit$` (whole match): the text is `lit` (`$` lets a final line
///   terminator through in Java, so that is allowed for);
///
/// Anything with an alternation is refused, since `^/a|/b` does not require `/a`; and a
/// quantifier right after the literal makes its last character optional.
fn regex_key(pattern: &str, whole: bool) -> Option<Key> {
    if pattern.contains('|') {
        return None;
    }
    let rest = match pattern.strip_prefix('^') {
        Some(rest) => rest,
        None if whole => pattern,
        None => return None,
    };
    let (mut literal, tail) = leading_literal(rest);
    let key = match tail {
        "" if whole => Key::Exact {
            text: literal.into(),
            terminated: false,
        },
        "$" => Key::Exact {
            text: literal.into(),
            terminated: true,
        },
        _ => {
            if tail.starts_with(['*', '+', '?', '{']) {
                literal.pop();
            }
            if literal.is_empty() {
                return None;
            }
            Key::Prefix(literal.into())
        }
    };
    Some(key)
}

/// The literal text at the start of a pattern (with `\` escapes of metacharacters and of `/`
/// and `-` resolved) and the rest of the pattern.
fn leading_literal(pattern: &str) -> (String, &str) {
    let mut literal = String::new();
    let mut chars = pattern.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        if c == '\\' {
            let mut lookahead = chars.clone();
            lookahead.next();
            match lookahead.next() {
                Some((_, escaped))
                    if META.contains(escaped) || escaped == '/' || escaped == '-' =>
                {
                    literal.push(escaped);
                    chars = lookahead;
                }
                _ => return (literal, &pattern[at..]),
            }
        } else if META.contains(c) {
            return (literal, &pattern[at..]);
        } else {
            literal.push(c);
            chars.next();
        }
    }
    (literal, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guards_of(source: &str) -> Option<Vec<Guard>> {
        guards(&Expression::parse(source).expect("test expressions parse"))
    }

    fn path(key: Key) -> Constraint {
        Constraint {
            field: Field::Path,
            key,
        }
    }

    fn exact(text: &str) -> Key {
        Key::Exact {
            text: text.into(),
            terminated: false,
        }
    }

    fn terminated(text: &str) -> Key {
        Key::Exact {
            text: text.into(),
            terminated: true,
        }
    }

    fn prefix(text: &str) -> Key {
        Key::Prefix(text.into())
    }

    fn single(source: &str) -> Option<Key> {
        match guards_of(source).as_deref() {
            Some([guard]) => match &**guard {
                [constraint] => Some(constraint.key.clone()),
                other => panic!("{source}: one constraint expected, got {other:?}"),
            },
            None => None,
            Some(other) => panic!("{source}: one guard expected, got {other:?}"),
        }
    }

    #[test]
    fn path_tests_become_keys() {
        let table: &[(&str, Option<Key>)] = &[
            ("${request.uri.path == '/x'}", Some(exact("/x"))),
            ("${'/x' eq request.uri.path}", Some(exact("/x"))),
            ("${request.uri.path.equals('/x')}", Some(exact("/x"))),
            ("${request['uri']['path'] == '/x'}", Some(exact("/x"))),
            (
                "${request.uri.path.startsWith('/api/')}",
                Some(prefix("/api/")),
            ),
            ("${request.uri.path.startsWith('')}", None),
            ("${find(request.uri.path, '^/api/')}", Some(prefix("/api/"))),
            (
                "${matches(request.uri.path, '^/api/')}",
                Some(prefix("/api/")),
            ),
            (
                "${find(request.uri.path, '^/health$')}",
                Some(terminated("/health")),
            ),
            (
                "${matchesWithRegex(request.uri.path, '/health')}",
                Some(exact("/health")),
            ),
            (
                "${matchesWithRegex(request.uri.path, '^/health$')}",
                Some(terminated("/health")),
            ),
            (
                "${request.uri.path.matches('/x(/.*)?')}",
                Some(prefix("/x")),
            ),
            (
                "${matchesWithRegex(request.uri.path, '^/x(/.*)?$')}",
                Some(prefix("/x")),
            ),
            (
                "${find(request.uri.path, '^/v1\\\\.0/')}",
                Some(prefix("/v1.0/")),
            ),
            (
                "${find(request.uri.path, '^\\\\/a\\\\-b')}",
                Some(prefix("/a-b")),
            ),
            // A quantifier takes the last character of the literal with it.
            (
                "${find(request.uri.path, '^/apis?/')}",
                Some(prefix("/api")),
            ),
            ("${find(request.uri.path, '^/a+')}", Some(prefix("/"))),
            ("${find(request.uri.path, '^/a\\\\.*')}", Some(prefix("/a"))),
            ("${find(request.uri.path, '^/x{2}')}", Some(prefix("/"))),
            ("${find(request.uri.path, '^a*')}", None),
            // Unanchored, alternations, flags, classes before the literal, escapes of letters.
            ("${find(request.uri.path, '/api/')}", None),
            ("${find(request.uri.path, '^/a|/b')}", None),
            ("${find(request.uri.path, '^(/a|/b)')}", None),
            ("${find(request.uri.path, '(?i)^/api')}", None),
            ("${find(request.uri.path, '^[/]api')}", None),
            ("${find(request.uri.path, '^\\\\w/api')}", None),
            ("${find(request.uri.path, '^\\\\d')}", None),
            // What is tested must be the decoded path itself.
            ("${find(request.uri.rawPath, '^/api/')}", None),
            ("${find(request.uri.path.toLowerCase(), '^/api/')}", None),
            ("${request.uri.path != '/x'}", None),
            ("${not (request.uri.path == '/x')}", None),
            ("${request.uri.path == 1}", None),
            ("${findGroups(request.uri.path, '^/api/')}", None),
            ("${request.uri.path.endsWith('/x')}", None),
            (" ${request.uri.path == '/x'}", None),
            ("true", None),
        ];
        for (source, expected) in table {
            assert_eq!(&single(source), expected, "{source}");
        }
    }

    #[test]
    fn host_and_method_take_exact_values() {
        assert_eq!(
            guards_of("${request.method == 'GET'}"),
            Some(vec![Box::from([Constraint {
                field: Field::Method,
                key: exact("GET"),
            }])])
        );
        assert_eq!(
            guards_of("${request.uri.host == 'api.example.com'}"),
            Some(vec![Box::from([Constraint {
                field: Field::Host,
                key: exact("api.example.com"),
            }])])
        );
        assert_eq!(
            guards_of("${request.uri.host.startsWith('api.')}").map(|g| g[0][0].key.clone()),
            Some(prefix("api."))
        );
    }

    #[test]
    fn conjunctions_keep_what_they_can_prove() {
        assert_eq!(
            guards_of(
                "${request.method == 'GET' && request.headers['X'][0] == 'y' && find(request.uri.path, '^/a/')}"
            ),
            Some(vec![Box::from([
                Constraint {
                    field: Field::Method,
                    key: exact("GET"),
                },
                path(prefix("/a/")),
            ])])
        );
        assert_eq!(
            guards_of("${request.headers['X'][0] == 'y' and true}"),
            None
        );
    }

    #[test]
    fn disjunctions_need_every_branch() {
        assert_eq!(
            guards_of("${request.uri.path == '/a' || find(request.uri.path, '^/b/')}"),
            Some(vec![
                Box::from([path(exact("/a"))]),
                Box::from([path(prefix("/b/"))]),
            ])
        );
        assert_eq!(
            guards_of("${request.uri.path == '/a' || request.headers['X'][0] == 'y'}"),
            None
        );
        assert_eq!(
            guards_of(
                "${(request.uri.path == '/a' or request.uri.path == '/b') and request.method == 'GET'}"
            )
            .map(|guards| guards.len()),
            Some(2)
        );
    }

    #[test]
    fn keys_admit_what_they_describe() {
        assert!(exact("/x").admits("/x"));
        assert!(!exact("/x").admits("/x\n"));
        assert!(terminated("/x").admits("/x\n"));
        assert!(terminated("/x").admits("/x\r\n"));
        assert!(terminated("/x").admits("/x\u{2028}"));
        assert!(!terminated("/x").admits("/x\n\n"));
        assert!(!terminated("/x").admits("/xy"));
        assert!(prefix("/a").admits("/ab"));
        assert!(!prefix("/a").admits("/"));
    }
}
