//! Configuration files as JSON documents that remember where every value came from.
//!
//! serde_json cannot tell the position of a value once parsed, and our errors must point at the
//! exact key or value. So configuration text goes through the small recursive-descent parser
//! below, which builds the same `serde_json::Value` serde_json would (objects in file order) and,
//! on the side, a map from each value's JSON pointer to its byte span.
//!
//! The grammar is strict JSON plus `//` and `/* */` comments, which IG's parser accepts and IG
//! users therefore write. Two departures from IG, both on purpose: a key given twice in one object
//! is an error (IG silently keeps the last one, hiding the first), and nesting is limited to
//! [`MAX_DEPTH`] so hostile input cannot exhaust the stack.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Number, Value};

use super::diagnostic::{
    ConfigError, Position, describe_value, pointer_parent, pointer_push, pointer_push_index,
    push_token,
};

/// How deeply objects and arrays may nest. Real configurations stay under 20.
pub const MAX_DEPTH: usize = 128;

/// Where one value sits in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Byte range of the value (for strings, including the quotes).
    pub value: Range<usize>,
    /// Byte range of the member's key, quotes included, when the value is an object member.
    pub key: Option<Range<usize>>,
}

/// A parsed configuration document: its origin, its text, and where each value is.
#[derive(Clone)]
pub struct SourceDoc {
    path: Option<Arc<Path>>,
    /// Set for built-in documents, which have no file to point at.
    builtin_name: Option<Arc<str>>,
    text: Arc<str>,
    spans: HashMap<String, Span>,
    /// Byte offset of the start of each line; `line_starts[0]` skips a byte order mark.
    line_starts: Vec<usize>,
}

impl fmt::Debug for SourceDoc {
    // The text and the span table can be large; a summary is what a log or test failure needs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceDoc")
            .field("path", &self.path)
            .field("builtin_name", &self.builtin_name)
            .field("text_len", &self.text.len())
            .field("values", &self.spans.len())
            .finish()
    }
}

impl SourceDoc {
    /// Parses configuration text. `path` is only used to label errors.
    pub fn parse(
        path: Option<Arc<Path>>,
        text: impl Into<Arc<str>>,
    ) -> Result<(SourceDoc, Value), ConfigError> {
        let text: Arc<str> = text.into();
        let line_starts = line_starts(&text);
        let mut parser = Parser {
            text: &text,
            bytes: text.as_bytes(),
            pos: line_starts.first().copied().unwrap_or(0),
            spans: HashMap::new(),
            pointer: String::new(),
            line_starts: &line_starts,
        };
        let parsed = parser.parse_document();
        let spans = std::mem::take(&mut parser.spans);
        let pointer = std::mem::take(&mut parser.pointer);
        let doc = SourceDoc {
            path,
            builtin_name: None,
            text: text.clone(),
            spans,
            line_starts,
        };
        match parsed {
            Ok(value) => Ok((doc, value)),
            Err(error) => {
                let mut config_error = ConfigError::new(error.message).at(
                    doc.path.clone(),
                    pointer,
                    Some(doc.position_at(error.offset)),
                );
                config_error.hint = error.hint;
                Err(config_error)
            }
        }
    }

    /// A document for a value that has no file: built-in defaults, values assembled in code.
    ///
    /// Errors about it carry no file or position; their message starts with
    /// `built-in <name>: ` so the user can tell the problem is not in their files.
    pub fn builtin(name: impl Into<Arc<str>>) -> SourceDoc {
        SourceDoc {
            path: None,
            builtin_name: Some(name.into()),
            text: Arc::from(""),
            spans: HashMap::new(),
            line_starts: vec![0],
        }
    }

    /// The file this document was read from.
    pub fn path(&self) -> Option<&Arc<Path>> {
        self.path.as_ref()
    }

    /// The name given to [`SourceDoc::builtin`].
    pub fn builtin_name(&self) -> Option<&str> {
        self.builtin_name.as_deref()
    }

    /// The text the document was parsed from (empty for built-in documents).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The span of the value at `pointer`, if the document has one.
    pub fn span(&self, pointer: &str) -> Option<&Span> {
        self.spans.get(pointer)
    }

    /// Where the value at `pointer` starts.
    pub fn position_of(&self, pointer: &str) -> Option<Position> {
        self.spans
            .get(pointer)
            .map(|span| self.position_at(span.value.start))
    }

    /// Where the key of the member at `pointer` starts; the value's position for array elements
    /// and the root.
    pub fn key_position_of(&self, pointer: &str) -> Option<Position> {
        self.spans.get(pointer).map(|span| {
            let start = span.key.as_ref().map_or(span.value.start, |key| key.start);
            self.position_at(start)
        })
    }

    /// Line and column of a byte offset into the text. Offsets past the end clamp to the end.
    pub fn position_at(&self, offset: usize) -> Position {
        position_in(&self.text, &self.line_starts, offset)
    }

    /// An error about the value at `pointer`. When the document has no such value (a missing
    /// key, say), the error is placed at the nearest enclosing value that exists.
    pub fn error(&self, pointer: &str, message: impl Into<String>) -> ConfigError {
        let offset = self.nearest_span(pointer).map(|span| span.value.start);
        self.error_at_offset(pointer, offset, message.into())
    }

    /// An error about the key of the member at `pointer`, such as an unknown key.
    pub fn key_error(&self, pointer: &str, message: impl Into<String>) -> ConfigError {
        let offset = self
            .nearest_span(pointer)
            .map(|span| span.key.as_ref().map_or(span.value.start, |key| key.start));
        self.error_at_offset(pointer, offset, message.into())
    }

    /// An error inside the string value at `pointer`, `offset` bytes into the *decoded* string
    /// (where an expression parser stopped, say). The position accounts for escape sequences in
    /// the file, so it lands on the character the user sees. Falls back to [`SourceDoc::error`]
    /// when the value is not a string of this document.
    pub fn error_in_string(
        &self,
        pointer: &str,
        offset: usize,
        message: impl Into<String>,
    ) -> ConfigError {
        let raw = self.spans.get(pointer).and_then(|span| {
            let raw = self.text.get(span.value.clone())?;
            raw.starts_with('"')
                .then(|| span.value.start + raw_offset_in_string(raw, offset))
        });
        match raw {
            Some(raw_offset) => self.error_at_offset(pointer, Some(raw_offset), message.into()),
            None => self.error(pointer, message),
        }
    }

    fn nearest_span(&self, pointer: &str) -> Option<&Span> {
        let mut current = pointer;
        loop {
            if let Some(span) = self.spans.get(current) {
                return Some(span);
            }
            current = pointer_parent(current)?;
        }
    }

    fn error_at_offset(
        &self,
        pointer: &str,
        offset: Option<usize>,
        message: String,
    ) -> ConfigError {
        let message = match &self.builtin_name {
            Some(name) => format!("built-in {name}: {message}"),
            None => message,
        };
        ConfigError::new(message).at(
            self.path.clone(),
            pointer,
            offset.map(|offset| self.position_at(offset)),
        )
    }
}

/// A value together with where it came from: what the heap and typed decoding pass around, so
/// that any later check can still report the file, line and pointer.
#[derive(Clone, Debug)]
pub struct Located<'a> {
    pub doc: &'a SourceDoc,
    pub pointer: String,
    pub value: &'a Value,
}

impl<'a> Located<'a> {
    pub fn new(doc: &'a SourceDoc, pointer: impl Into<String>, value: &'a Value) -> Self {
        Located {
            doc,
            pointer: pointer.into(),
            value,
        }
    }

    /// The whole document.
    pub fn root(doc: &'a SourceDoc, value: &'a Value) -> Self {
        Located::new(doc, String::new(), value)
    }

    /// The member `key` of this object; `None` when this is not an object or has no such key.
    pub fn get(&self, key: &str) -> Option<Located<'a>> {
        let value = self.value.as_object()?.get(key)?;
        Some(Located::new(
            self.doc,
            pointer_push(&self.pointer, key),
            value,
        ))
    }

    /// The element `index` of this array.
    pub fn index(&self, index: usize) -> Option<Located<'a>> {
        let value = self.value.as_array()?.get(index)?;
        Some(Located::new(
            self.doc,
            pointer_push_index(&self.pointer, index),
            value,
        ))
    }

    /// The members of this object in file order (nothing when this is not an object).
    pub fn members(&self) -> impl Iterator<Item = (&'a str, Located<'a>)> + '_ {
        self.value
            .as_object()
            .into_iter()
            .flat_map(|map| map.iter())
            .map(move |(key, value)| {
                let located = Located::new(self.doc, pointer_push(&self.pointer, key), value);
                (key.as_str(), located)
            })
    }

    /// The elements of this array (nothing when this is not an array).
    pub fn elements(&self) -> impl Iterator<Item = Located<'a>> + '_ {
        self.value
            .as_array()
            .into_iter()
            .flat_map(|array| array.iter().enumerate())
            .map(move |(index, value)| {
                Located::new(self.doc, pointer_push_index(&self.pointer, index), value)
            })
    }

    /// Where the value starts.
    pub fn position(&self) -> Option<Position> {
        self.doc.position_of(&self.pointer)
    }

    /// Where the member's key starts.
    pub fn key_position(&self) -> Option<Position> {
        self.doc.key_position_of(&self.pointer)
    }

    /// An error about this value.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        self.doc.error(&self.pointer, message)
    }

    /// An error about this member's key.
    pub fn key_error(&self, message: impl Into<String>) -> ConfigError {
        self.doc.key_error(&self.pointer, message)
    }

    /// An error `offset` bytes into this (decoded) string value.
    pub fn error_in_string(&self, offset: usize, message: impl Into<String>) -> ConfigError {
        self.doc.error_in_string(&self.pointer, offset, message)
    }

    /// "expected `what` here, found ...": for values of the wrong kind.
    pub fn expected(&self, what: &str) -> ConfigError {
        self.error(format!(
            "expected {what} here, found {}",
            describe_value(self.value)
        ))
    }

    /// Decodes this value into a typed configuration; see [`super::typed::decode`].
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConfigError> {
        super::typed::decode(self.doc, &self.pointer, self.value)
    }
}

/// Offsets at which lines start. A lone `\r` counts as a line break as editors do; a leading
/// UTF-8 byte order mark is skipped so it does not shift columns on line 1.
fn line_starts(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let first = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut starts = vec![first];
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\n' => starts.push(i + 1),
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => starts.push(i + 1),
            _ => {}
        }
    }
    starts
}

/// Line and column of a byte offset. Offsets past the end clamp to the end.
fn position_in(text: &str, line_starts: &[usize], offset: usize) -> Position {
    let offset = offset.min(text.len());
    // `line_starts` is sorted and starts at 0 (or after a BOM), so the partition point is at
    // least 1 for every offset but one inside the BOM.
    let line = line_starts.partition_point(|&start| start <= offset).max(1);
    let line_start = line_starts
        .get(line - 1)
        .map_or(0, |&start| start.min(offset));
    let column = match text.get(line_start..offset) {
        Some(prefix) => prefix.chars().count() + 1,
        // Not on a character boundary: only possible with an offset made up by a caller; a byte
        // count is the best remaining answer.
        None => offset - line_start + 1,
    };
    Position { line, column }
}

/// Maps a byte offset into the decoded content of the JSON string literal `raw` (quotes
/// included, already validated by the parser) to a byte offset into `raw`. An offset inside an
/// escape sequence or a multi-byte character maps to its start; one past the end maps to the
/// closing quote.
fn raw_offset_in_string(raw: &str, decoded_offset: usize) -> usize {
    let bytes = raw.as_bytes();
    let mut i = 1;
    let mut decoded = 0;
    while i < bytes.len() {
        let (raw_len, decoded_len) = match bytes[i] {
            b'"' => return i,
            b'\\' => match bytes.get(i + 1) {
                Some(b'u') => {
                    let first = hex4(bytes, i + 2).unwrap_or(0);
                    let second = (bytes.get(i + 6) == Some(&b'\\')
                        && bytes.get(i + 7) == Some(&b'u'))
                    .then(|| hex4(bytes, i + 8))
                    .flatten();
                    match second {
                        Some(low)
                            if (0xD800..0xDC00).contains(&first)
                                && (0xDC00..0xE000).contains(&low) =>
                        {
                            (12, 4)
                        }
                        _ => (6, char::from_u32(first).map_or(3, char::len_utf8)),
                    }
                }
                _ => (2, 1),
            },
            b => (utf8_len(b), utf8_len(b)),
        };
        if decoded_offset < decoded + decoded_len {
            return i;
        }
        decoded += decoded_len;
        i += raw_len;
    }
    bytes.len()
}

fn utf8_len(first_byte: u8) -> usize {
    match first_byte {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

/// The value of four hex digits at `at`.
fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let digits = bytes.get(at..at + 4)?;
    let mut value = 0;
    for &digit in digits {
        value = value * 16 + char::from(digit).to_digit(16)?;
    }
    Some(value)
}

/// A syntax error at a byte offset, before it is turned into a [`ConfigError`].
struct SyntaxError {
    offset: usize,
    message: String,
    hint: Option<String>,
    /// The text ended where more was required; the innermost open object or array rewrites
    /// this into "... opened at L:C is not closed", which says far more than "unexpected end".
    bare_eof: bool,
}

impl SyntaxError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        SyntaxError {
            offset,
            message: message.into(),
            hint: None,
            bare_eof: false,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

type Parsed<T> = Result<T, SyntaxError>;

/// Where a value is being parsed, for messages that say what was expected.
#[derive(Clone, Copy)]
enum Slot<'k> {
    Root,
    Member(&'k str),
    Element(usize),
}

struct Parser<'t> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    spans: HashMap<String, Span>,
    /// Pointer of the value being parsed, maintained in place as the parser descends; on error
    /// it is the pointer of the innermost value reached.
    pointer: String,
    line_starts: &'t [usize],
}

impl Parser<'_> {
    fn parse_document(&mut self) -> Parsed<Value> {
        self.skip_trivia()?;
        if self.pos >= self.bytes.len() {
            return Err(
                SyntaxError::new(self.pos, "the document is empty: expected a JSON value")
                    .hint("a configuration file holds one JSON object, for example {}"),
            );
        }
        let value = self.parse_value(Slot::Root, None, 0)?;
        self.skip_trivia()?;
        if self.pos < self.bytes.len() {
            return Err(SyntaxError::new(
                self.pos,
                format!(
                    "unexpected {} after the end of the JSON document",
                    self.describe_here()
                ),
            )
            .hint(
                "a configuration file holds exactly one JSON value; look for an extra closing \
                 bracket, or a missing opening one, earlier in the file",
            ));
        }
        Ok(value)
    }

    fn parse_value(
        &mut self,
        slot: Slot<'_>,
        key: Option<Range<usize>>,
        depth: usize,
    ) -> Parsed<Value> {
        let start = self.pos;
        let value = match self.peek() {
            None => {
                return Err(SyntaxError {
                    bare_eof: true,
                    ..SyntaxError::new(start, "unexpected end of file")
                });
            }
            Some(b'{') => self.parse_object(depth + 1)?,
            Some(b'[') => self.parse_array(depth + 1)?,
            Some(b'"') => Value::String(self.parse_string()?),
            Some(b'-' | b'0'..=b'9') => Value::Number(self.parse_number()?),
            Some(_) => self.parse_literal(slot)?,
        };
        self.spans.insert(
            self.pointer.clone(),
            Span {
                value: start..self.pos,
                key,
            },
        );
        Ok(value)
    }

    fn parse_object(&mut self, depth: usize) -> Parsed<Value> {
        let open = self.pos;
        self.check_depth(depth)?;
        self.pos += 1;
        self.parse_object_members(depth)
            .map_err(|error| self.unclosed(error, open, "an object", '}'))
    }

    fn parse_object_members(&mut self, depth: usize) -> Parsed<Value> {
        let mut map = Map::new();
        let base_len = self.pointer.len();
        let mut last_comma: Option<usize> = None;
        loop {
            self.skip_trivia()?;
            let key_start = self.pos;
            match self.peek() {
                Some(b'"') => {}
                Some(b'}') if map.is_empty() && last_comma.is_none() => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                Some(b'}') => {
                    let comma = last_comma.unwrap_or(key_start);
                    return Err(SyntaxError::new(
                        comma,
                        "trailing comma: JSON does not allow ',' before '}'",
                    )
                    .hint("remove this comma"));
                }
                _ => return Err(self.expected_key(map.is_empty() && last_comma.is_none())),
            }
            let key = self.parse_string()?;
            let key_span = key_start..self.pos;
            push_token(&mut self.pointer, &key);
            if map.contains_key(&key) {
                let first = self
                    .spans
                    .get(&self.pointer)
                    .and_then(|span| span.key.as_ref())
                    .map(|first| self.position_at(first.start));
                let message = match first {
                    Some(first) => {
                        format!("duplicate key \"{key}\": this object already has it at {first}")
                    }
                    None => format!("duplicate key \"{key}\" in this object"),
                };
                return Err(SyntaxError::new(key_start, message).hint(
                    "IG would silently use the last one and ignore the first; remove or \
                     rename one of them",
                ));
            }

            self.skip_trivia()?;
            match self.peek() {
                Some(b':') => self.pos += 1,
                None => return Err(self.bare_eof()),
                Some(_) => {
                    let mut error = SyntaxError::new(
                        self.pos,
                        format!(
                            "expected ':' after the key \"{key}\", found {}",
                            self.describe_here()
                        ),
                    );
                    if self.peek() == Some(b'=') {
                        error = error.hint("JSON separates keys from values with ':'");
                    }
                    return Err(error);
                }
            }
            self.skip_trivia()?;
            let value = self.parse_value(Slot::Member(&key), Some(key_span), depth)?;
            self.pointer.truncate(base_len);

            self.skip_trivia()?;
            match self.peek() {
                Some(b',') => {
                    last_comma = Some(self.pos);
                    self.pos += 1;
                    map.insert(key, value);
                }
                Some(b'}') => {
                    self.pos += 1;
                    map.insert(key, value);
                    return Ok(Value::Object(map));
                }
                None => return Err(self.bare_eof()),
                Some(found) => {
                    let mut error = SyntaxError::new(
                        self.pos,
                        format!(
                            "expected ',' or '}}' after the value of \"{key}\", found {}",
                            self.describe_here()
                        ),
                    );
                    if found == b'"' {
                        error = error.hint("add a ',' between the members of the object");
                    }
                    return Err(error);
                }
            }
        }
    }

    fn expected_key(&self, first: bool) -> SyntaxError {
        let what = if first {
            "expected a key in double quotes or '}'"
        } else {
            "expected a key in double quotes"
        };
        match self.peek() {
            None => self.bare_eof(),
            Some(b'\'') => SyntaxError::new(
                self.pos,
                format!("{what}, found a single quote: JSON keys use double quotes"),
            )
            .hint("replace the single quotes with double quotes"),
            Some(b) if is_word_byte(b) => {
                let word = self.word_here();
                SyntaxError::new(self.pos, format!("{what}, found `{word}`"))
                    .hint(format!("JSON keys must be quoted: write \"{word}\""))
            }
            Some(_) => {
                SyntaxError::new(self.pos, format!("{what}, found {}", self.describe_here()))
            }
        }
    }

    fn parse_array(&mut self, depth: usize) -> Parsed<Value> {
        let open = self.pos;
        self.check_depth(depth)?;
        self.pos += 1;
        self.parse_array_elements(depth)
            .map_err(|error| self.unclosed(error, open, "an array", ']'))
    }

    fn parse_array_elements(&mut self, depth: usize) -> Parsed<Value> {
        let mut elements = Vec::new();
        let base_len = self.pointer.len();
        let mut last_comma: Option<usize> = None;
        loop {
            self.skip_trivia()?;
            let index = elements.len();
            if self.peek() == Some(b']') {
                if let Some(comma) = last_comma {
                    return Err(SyntaxError::new(
                        comma,
                        "trailing comma: JSON does not allow ',' before ']'",
                    )
                    .hint("remove this comma"));
                }
                self.pos += 1;
                return Ok(Value::Array(elements));
            }
            push_token(&mut self.pointer, &index.to_string());
            let value = self.parse_value(Slot::Element(index), None, depth)?;
            self.pointer.truncate(base_len);
            elements.push(value);

            self.skip_trivia()?;
            match self.peek() {
                Some(b',') => {
                    last_comma = Some(self.pos);
                    self.pos += 1;
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(elements));
                }
                None => return Err(self.bare_eof()),
                Some(found) => {
                    let mut error = SyntaxError::new(
                        self.pos,
                        format!(
                            "expected ',' or ']' after element {index} of the array, found {}",
                            self.describe_here()
                        ),
                    );
                    if matches!(found, b'"' | b'{' | b'[' | b'0'..=b'9' | b'-') {
                        error = error.hint("add a ',' between the elements of the array");
                    }
                    return Err(error);
                }
            }
        }
    }

    fn check_depth(&self, depth: usize) -> Parsed<()> {
        if depth > MAX_DEPTH {
            return Err(SyntaxError::new(
                self.pos,
                format!("objects and arrays are nested more than {MAX_DEPTH} levels deep"),
            )
            .hint("a configuration never needs this depth; look for runaway brackets"));
        }
        Ok(())
    }

    /// Turns an end-of-file error from inside the object or array opened at `open` into one that
    /// says which bracket is not closed.
    fn unclosed(&self, error: SyntaxError, open: usize, what: &str, close: char) -> SyntaxError {
        if !error.bare_eof {
            return error;
        }
        SyntaxError::new(
            error.offset,
            format!(
                "unexpected end of file: {what} opened at {} is not closed",
                self.position_at(open)
            ),
        )
        .hint(format!("add the missing '{close}'"))
    }

    fn bare_eof(&self) -> SyntaxError {
        SyntaxError {
            bare_eof: true,
            ..SyntaxError::new(self.pos, "unexpected end of file")
        }
    }

    /// Parses a string literal at `self.pos` (on its opening quote) and returns its content.
    fn parse_string(&mut self) -> Parsed<String> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            // Copy runs of plain characters in one go. Stopping only at ASCII bytes keeps the
            // slice on character boundaries.
            let run_start = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run_start..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => self.parse_escape(&mut out, open)?,
                Some(b'\n' | b'\r') => {
                    return Err(SyntaxError::new(
                        self.pos,
                        format!(
                            "unterminated string: the string that starts at {} runs into the \
                             end of the line",
                            self.position_at(open)
                        ),
                    )
                    .hint(
                        "close the string with '\"' on the same line; write a line break \
                         inside a string as \\n",
                    ));
                }
                Some(control) => {
                    return Err(SyntaxError::new(
                        self.pos,
                        format!(
                            "control character U+{:04X} is not allowed in a string",
                            control
                        ),
                    )
                    .hint(match control {
                        b'\t' => "write a tab as \\t".to_owned(),
                        _ => format!("write it as \\u{:04X}", control),
                    }));
                }
                None => return Err(self.unterminated_string(open)),
            }
        }
    }

    fn unterminated_string(&self, open: usize) -> SyntaxError {
        SyntaxError::new(
            open,
            "unterminated string: the file ends before its closing '\"'",
        )
        .hint("add the missing '\"'")
    }

    fn parse_escape(&mut self, out: &mut String, open: usize) -> Parsed<()> {
        let backslash = self.pos;
        self.pos += 1;
        let Some(b) = self.peek() else {
            return Err(self.unterminated_string(open));
        };
        self.pos += 1;
        let decoded = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => self.parse_unicode_escape(backslash)?,
            _ => {
                let shown: String = self.text[backslash + 1..].chars().take(1).collect();
                return Err(SyntaxError::new(
                    backslash,
                    format!("invalid escape \\{shown} in a string"),
                )
                .hint(
                    "JSON knows \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX; for a \
                     backslash write \\\\ (a regular expression's \\d is written \\\\d)",
                ));
            }
        };
        out.push(decoded);
        Ok(())
    }

    /// Parses the `XXXX` of `\uXXXX` (and a following low surrogate escape when this is a high
    /// surrogate); `backslash` is where the escape starts.
    fn parse_unicode_escape(&mut self, backslash: usize) -> Parsed<char> {
        let first = self.hex_digits(backslash)?;
        match first {
            0xD800..=0xDBFF => {
                if self.bytes.get(self.pos) == Some(&b'\\')
                    && self.bytes.get(self.pos + 1) == Some(&b'u')
                {
                    let second_start = self.pos;
                    self.pos += 2;
                    let second = self.hex_digits(second_start)?;
                    if (0xDC00..=0xDFFF).contains(&second) {
                        let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                        return char::from_u32(code)
                            .ok_or_else(|| self.lone_surrogate(backslash, first));
                    }
                }
                Err(self.lone_surrogate(backslash, first))
            }
            0xDC00..=0xDFFF => Err(self.lone_surrogate(backslash, first)),
            _ => char::from_u32(first).ok_or_else(|| self.lone_surrogate(backslash, first)),
        }
    }

    fn hex_digits(&mut self, backslash: usize) -> Parsed<u32> {
        match hex4(self.bytes, self.pos) {
            Some(value) => {
                self.pos += 4;
                Ok(value)
            }
            None => Err(SyntaxError::new(
                backslash,
                "invalid unicode escape: \\u must be followed by four hex digits",
            )
            .hint("write a character as \\u00e9, or type it directly (files are UTF-8)")),
        }
    }

    fn lone_surrogate(&self, backslash: usize, code: u32) -> SyntaxError {
        SyntaxError::new(
            backslash,
            format!(
                "invalid unicode escape \\u{code:04X}: a lone UTF-16 surrogate is not a character"
            ),
        )
        .hint("a character beyond U+FFFF is written as a pair, for example \\uD83D\\uDE00")
    }

    fn parse_number(&mut self) -> Parsed<Number> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(SyntaxError::new(
                        start,
                        "invalid number: a leading zero is not allowed",
                    )
                    .hint("remove the leading zeros, or quote the value if it is text"));
                }
            }
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => {
                return Err(SyntaxError::new(
                    start,
                    format!(
                        "invalid number: expected a digit after '-', found {}",
                        self.describe_here()
                    ),
                ));
            }
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(SyntaxError::new(
                    self.pos,
                    format!(
                        "invalid number: expected a digit after the decimal point, found {}",
                        self.describe_here()
                    ),
                ));
            }
            self.skip_digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(SyntaxError::new(
                    self.pos,
                    format!(
                        "invalid number: expected a digit in the exponent, found {}",
                        self.describe_here()
                    ),
                ));
            }
            self.skip_digits();
        }
        let literal = &self.text[start..self.pos];
        // The same representation serde_json chooses, so values compare equal either way:
        // integers that fit stay integers (negative ones as i64, `-0` as a float), others f64.
        if integer {
            if negative {
                if let Ok(n) = literal.parse::<i64>()
                    && n != 0
                {
                    return Ok(Number::from(n));
                }
            } else if let Ok(n) = literal.parse::<u64>() {
                return Ok(Number::from(n));
            }
        }
        literal
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .ok_or_else(|| {
                SyntaxError::new(start, format!("number out of range: {literal}"))
                    .hint("numbers must fit a 64-bit floating point value")
            })
    }

    fn skip_digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    /// `true`, `false`, `null`, or a helpful error for whatever else starts here.
    fn parse_literal(&mut self, slot: Slot<'_>) -> Parsed<Value> {
        let start = self.pos;
        let word = self.word_here();
        let value = match word {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            "null" => Some(Value::Null),
            _ => None,
        };
        if let Some(value) = value {
            self.pos += word.len();
            return Ok(value);
        }
        let expected = match slot {
            Slot::Root => "expected a JSON value".to_owned(),
            Slot::Member(key) => format!("expected a value for \"{key}\""),
            Slot::Element(index) => format!("expected a value for element {index} of the array"),
        };
        let error = match self.peek() {
            Some(b'\'') => SyntaxError::new(
                start,
                format!("{expected}, found a single quote: JSON strings use double quotes"),
            )
            .hint("replace the single quotes with double quotes"),
            Some(b) if is_word_byte(b) => {
                let lower = word.to_ascii_lowercase();
                let hint = match lower.as_str() {
                    "true" | "false" | "null" => {
                        format!("JSON literals are lowercase: write {lower}")
                    }
                    "nan" | "infinity" => "JSON has no NaN or Infinity".to_owned(),
                    "undefined" | "none" | "nil" => {
                        "JSON writes a missing value as null".to_owned()
                    }
                    _ => format!("strings must be in double quotes: write \"{word}\""),
                };
                SyntaxError::new(start, format!("{expected}, found `{word}`")).hint(hint)
            }
            Some(b'+' | b'.') => {
                SyntaxError::new(start, format!("{expected}, found {}", self.describe_here()))
                    .hint("a JSON number starts with '-' or a digit, as in 0.5 or -1")
            }
            _ => SyntaxError::new(start, format!("{expected}, found {}", self.describe_here())),
        };
        Err(error)
    }

    /// The identifier-like word at the current position (possibly empty).
    fn word_here(&self) -> &str {
        let end = self.bytes[self.pos..]
            .iter()
            .position(|&b| !is_word_byte(b))
            .map_or(self.bytes.len(), |len| self.pos + len);
        &self.text[self.pos..end]
    }

    /// Skips whitespace and comments.
    fn skip_trivia(&mut self) -> Parsed<()> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'/') => match self.bytes.get(self.pos + 1) {
                    Some(b'/') => {
                        self.pos = self.bytes[self.pos..]
                            .iter()
                            .position(|&b| b == b'\n' || b == b'\r')
                            .map_or(self.bytes.len(), |len| self.pos + len);
                    }
                    Some(b'*') => {
                        let open = self.pos;
                        let body = self.pos + 2;
                        match self.text[body..].find("*/") {
                            Some(len) => self.pos = body + len + 2,
                            None => {
                                return Err(SyntaxError::new(
                                    open,
                                    "unterminated comment: the file ends before '*/'",
                                )
                                .hint("close the comment with */"));
                            }
                        }
                    }
                    _ => {
                        return Err(SyntaxError::new(self.pos, "unexpected '/'")
                            .hint("comments start with // or /*"));
                    }
                },
                _ => return Ok(()),
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// What is at the current position, for "found ..." in messages.
    fn describe_here(&self) -> String {
        match self
            .text
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
        {
            None => "the end of the file".to_owned(),
            Some(c) if c.is_control() => format!("the control character U+{:04X}", u32::from(c)),
            Some(c) => format!("'{c}'"),
        }
    }

    fn position_at(&self, offset: usize) -> Position {
        position_in(self.text, self.line_starts, offset)
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

#[cfg(test)]
mod tests;
