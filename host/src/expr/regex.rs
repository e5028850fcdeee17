//! Regex compilation for the regex-taking functions and methods. Patterns written as string
//! literals are compiled once at parse time; patterns computed at run time go through a small
//! per-thread cache so a hot route does not recompile on every request, without a lock shared
//! by all worker threads.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;

use fancy_regex::Regex;

use super::EvalError;

/// How a pattern must match: anywhere (`Matcher.find`) or the whole input (`Matcher.matches`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RegexMode {
    Find,
    Whole,
}

/// A compiled pattern. Most route conditions use plain text, optionally anchored (`^/api/`,
/// `/admin`, `^/health$`); for those `is_match` is a string comparison instead of a regex
/// search. The regex is still compiled for the operations that need groups or positions.
#[derive(Debug)]
pub(crate) struct CompiledRegex {
    regex: Regex,
    literal: Option<Literal>,
}

#[derive(Debug)]
enum Literal {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
}

impl CompiledRegex {
    /// Whether the pattern matches (anywhere, or the whole input for a whole-match regex).
    pub fn is_match(&self, text: &str) -> Result<bool, EvalError> {
        Ok(match &self.literal {
            Some(Literal::Exact(l)) => text == l,
            Some(Literal::Prefix(l)) => text.starts_with(l.as_str()),
            Some(Literal::Suffix(l)) => text.ends_with(l.as_str()),
            Some(Literal::Contains(l)) => text.contains(l.as_str()),
            None => {
                return self
                    .regex
                    .is_match(text)
                    .map_err(|e| runtime_error(&self.regex, &e));
            }
        })
    }
}

impl Deref for CompiledRegex {
    type Target = Regex;
    fn deref(&self) -> &Regex {
        &self.regex
    }
}

/// The literal a pattern stands for, when it has no regex syntax besides `^` and `$` anchors.
fn literal_of(pattern: &str, mode: RegexMode) -> Option<Literal> {
    let (starts, rest) = match pattern.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let (ends, body) = match rest.strip_suffix('$') {
        Some(body) => (true, body),
        None => (false, rest),
    };
    if body.contains(|c: char| "\\.+*?()|[]{}^$".contains(c)) {
        return None;
    }
    let body = body.to_owned();
    Some(
        match (
            starts || mode == RegexMode::Whole,
            ends || mode == RegexMode::Whole,
        ) {
            (true, true) => Literal::Exact(body),
            (true, false) => Literal::Prefix(body),
            (false, true) => Literal::Suffix(body),
            (false, false) => Literal::Contains(body),
        },
    )
}

/// Bounds the per-thread cache; a gateway's distinct dynamic patterns are few, so simply
/// starting over when it fills is enough to keep a pathological config from growing memory.
const CACHE_CAPACITY: usize = 256;

thread_local! {
    static CACHE: RefCell<[HashMap<Box<str>, Arc<CompiledRegex>>; 2]> = RefCell::new([HashMap::new(), HashMap::new()]);
}

/// Compiles `pattern` for `mode`. Whole-input matching anchors the pattern on both ends so the
/// engine itself searches for a complete match (a leftmost match that merely happens to start at
/// 0 would be wrong for alternations such as `a|ab` against "ab").
pub(crate) fn compile(pattern: &str, mode: RegexMode) -> Result<CompiledRegex, EvalError> {
    let result = match mode {
        RegexMode::Find => Regex::new(pattern),
        RegexMode::Whole => Regex::new(&format!("^(?:{pattern})\\z")),
    };
    let regex = result.map_err(|e| EvalError::Regex {
        pattern: pattern.to_owned(),
        message: e.to_string(),
    })?;
    Ok(CompiledRegex {
        regex,
        literal: literal_of(pattern, mode),
    })
}

/// A regex either compiled at parse time (borrowed from the expression) or taken from the cache.
pub(crate) enum RegexRef<'a> {
    Borrowed(&'a CompiledRegex),
    Shared(Arc<CompiledRegex>),
}

impl Deref for RegexRef<'_> {
    type Target = CompiledRegex;
    fn deref(&self) -> &CompiledRegex {
        match self {
            RegexRef::Borrowed(r) => r,
            RegexRef::Shared(r) => r,
        }
    }
}

/// The precompiled regex when there is one, else `pattern` compiled through the cache.
pub(crate) fn resolve<'a>(
    precompiled: Option<&'a CompiledRegex>,
    pattern: &str,
    mode: RegexMode,
) -> Result<RegexRef<'a>, EvalError> {
    if let Some(regex) = precompiled {
        return Ok(RegexRef::Borrowed(regex));
    }
    let slot = match mode {
        RegexMode::Find => 0,
        RegexMode::Whole => 1,
    };
    if let Some(hit) = CACHE.with_borrow(|maps| maps[slot].get(pattern).cloned()) {
        return Ok(RegexRef::Shared(hit));
    }
    let compiled = Arc::new(compile(pattern, mode)?);
    CACHE.with_borrow_mut(|maps| {
        let map = &mut maps[slot];
        if map.len() >= CACHE_CAPACITY {
            map.clear();
        }
        map.insert(pattern.into(), Arc::clone(&compiled));
    });
    Ok(RegexRef::Shared(compiled))
}

/// Maps a matching failure (fancy-regex gives up on runaway backtracking) to an evaluation
/// error rather than a silent "no match".
pub(crate) fn runtime_error(regex: &Regex, err: &fancy_regex::Error) -> EvalError {
    EvalError::Regex {
        pattern: regex.as_str().to_owned(),
        message: err.to_string(),
    }
}
