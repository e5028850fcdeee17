//! The error type of every configuration problem, and the small helpers that make those errors
//! precise (JSON pointers) and helpful ("did you mean").
//!
//! IG reports configuration problems as Java stack traces, often without the file and never with
//! a line. Every [`ConfigError`] instead says where (file, line, column, JSON pointer), what is
//! wrong, and, when we can tell, what to do.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

/// A place in a text file. Both numbers are 1-based; the column counts characters (Unicode
/// scalar values), not bytes, so it matches what editors show for non-ASCII text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One configuration problem.
///
/// Displayed compiler-style, so editors and terminals can link to the spot:
///
/// ```text
/// routes/api.json:12:5: unknown key "condtion" (at /condtion)
///   help: did you mean "condition"?
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file the problem is in; `None` for built-in defaults and the command line.
    pub file: Option<Arc<Path>>,
    /// RFC 6901 JSON pointer of the offending value, `""` for the document root.
    pub pointer: String,
    /// Where in the file; `None` when the text is not known (built-in values).
    pub position: Option<Position>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl ConfigError {
    /// An error with no location yet; locate it with [`ConfigError::at`].
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError {
            file: None,
            pointer: String::new(),
            position: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds (or replaces) the advice shown on the `help:` line.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets where the error is.
    #[must_use]
    pub fn at(
        mut self,
        file: Option<Arc<Path>>,
        pointer: impl Into<String>,
        position: Option<Position>,
    ) -> Self {
        self.file = file;
        self.pointer = pointer.into();
        self.position = position;
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}:", file.display())?;
            if let Some(position) = &self.position {
                write!(f, "{}:{}:", position.line, position.column)?;
            }
            f.write_str(" ")?;
        }
        f.write_str(&self.message)?;
        // The root pointer is the empty string; "(at )" would only be noise.
        if !self.pointer.is_empty() {
            write!(f, " (at {})", self.pointer)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  help: {hint}")?;
        }
        Ok(())
    }
}

/// All the problems found in a configuration: `ferrogate check` reports every one of them rather
/// than stopping at the first.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn new() -> Self {
        ConfigErrors(Vec::new())
    }

    pub fn push(&mut self, error: ConfigError) {
        self.0.push(error);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }

    /// `Ok(value)` when nothing was collected, so a loader can gather errors and finish with
    /// `errors.into_result(loaded)`.
    pub fn into_result<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// Records the error of `result`, if any, and hands back its value, so a loader can keep
    /// going after a problem.
    pub fn collect<T>(&mut self, result: Result<T, ConfigError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(error);
                None
            }
        }
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        ConfigErrors(vec![error])
    }
}

impl From<Vec<ConfigError>> for ConfigErrors {
    fn from(errors: Vec<ConfigError>) -> Self {
        ConfigErrors(errors)
    }
}

impl Extend<ConfigError> for ConfigErrors {
    fn extend<I: IntoIterator<Item = ConfigError>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl FromIterator<ConfigError> for ConfigErrors {
    fn from_iter<I: IntoIterator<Item = ConfigError>>(iter: I) -> Self {
        ConfigErrors(iter.into_iter().collect())
    }
}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The candidate `wrong` was most likely meant to be, if any is close enough to suggest.
///
/// A case-insensitive exact match wins (`baseUri` -> `baseURI`, the most common IG typo). Otherwise
/// the candidate with the smallest Damerau-Levenshtein distance (so a swap of two letters counts
/// once), as long as the distance is at most a third of the word (at least 1): far enough to catch
/// real typos, close enough that the suggestion is not noise. Ties go to the more similar by
/// Jaro-Winkler (which favours a shared prefix), then to the earlier candidate.
pub fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    if wrong.is_empty() {
        return None;
    }
    let wrong_lower = wrong.to_lowercase();
    let max_distance = (wrong.chars().count().max(3)) / 3;
    let mut best: Option<(&'a str, usize, f64)> = None;
    for candidate in candidates {
        let candidate_lower = candidate.to_lowercase();
        if candidate_lower == wrong_lower {
            return Some(candidate);
        }
        let distance = strsim::damerau_levenshtein(&wrong_lower, &candidate_lower);
        if distance > max_distance {
            continue;
        }
        let similarity = strsim::jaro_winkler(&wrong_lower, &candidate_lower);
        let better = match best {
            None => true,
            Some((_, best_distance, best_similarity)) => {
                distance < best_distance
                    || (distance == best_distance && similarity > best_similarity)
            }
        };
        if better {
            best = Some((candidate, distance, similarity));
        }
    }
    best.map(|(candidate, _, _)| candidate)
}

/// `pointer` extended by one object key, escaped per RFC 6901 (`~` -> `~0`, `/` -> `~1`).
pub fn pointer_push(base: &str, token: &str) -> String {
    let mut pointer = String::with_capacity(base.len() + token.len() + 1);
    pointer.push_str(base);
    push_token(&mut pointer, token);
    pointer
}

/// `pointer` extended by one array index.
pub fn pointer_push_index(base: &str, index: usize) -> String {
    format!("{base}/{index}")
}

/// Appends `/token`, escaped, to a pointer being built in place.
pub(crate) fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    if token.contains(['~', '/']) {
        for c in token.chars() {
            match c {
                '~' => pointer.push_str("~0"),
                '/' => pointer.push_str("~1"),
                c => pointer.push(c),
            }
        }
    } else {
        pointer.push_str(token);
    }
}

/// The pointer one level up, `None` for the root.
pub fn pointer_parent(pointer: &str) -> Option<&str> {
    pointer.rfind('/').map(|slash| &pointer[..slash])
}

/// The last reference token of `pointer`, unescaped; `None` for the root.
pub fn pointer_last_token(pointer: &str) -> Option<String> {
    pointer
        .rfind('/')
        .map(|slash| unescape_token(&pointer[slash + 1..]))
}

/// Undoes RFC 6901 escaping of one reference token. The order matters: `~01` is `~1`, not `/`.
pub fn unescape_token(token: &str) -> String {
    if token.contains('~') {
        token.replace("~1", "/").replace("~0", "~")
    } else {
        token.to_owned()
    }
}

/// How a value is named in messages: `the string "abc"`, `the number 5`, `an object` ...
/// Long strings are shortened: the message is about the kind of value, not its content.
pub fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", quote_shortened(s)),
        Value::Array(a) if a.is_empty() => "an empty array".to_owned(),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(o) if o.is_empty() => "an empty object".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// `s` in double quotes, JSON-escaped, cut to a readable length.
pub(crate) fn quote_shortened(s: &str) -> String {
    const MAX_CHARS: usize = 60;
    let mut shortened: String = s.chars().take(MAX_CHARS).collect();
    let cut = shortened.len() < s.len();
    // Escaping through serde_json keeps control characters and quotes readable and unambiguous.
    if cut {
        shortened.push('…');
    }
    serde_json::to_string(&shortened).unwrap_or_else(|_| format!("\"{shortened}\""))
}

/// `a, b, c`: lists of allowed keys or values in hints.
pub(crate) fn join_names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names.into_iter().collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests;
