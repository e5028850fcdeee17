//! Tokens inside `${...}`. The lexer runs over the whole template source so token offsets are
//! offsets into what the user wrote, and so the closing `}` is found by tokenizing rather than
//! by counting braces (a `}` inside a string literal such as `'a{2}'` is not the end).

use super::ParseError;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Int(i64),
    Float(f64),
    Str(String),
    Ident,
    True,
    False,
    Null,
    Empty,
    Not,
    And,
    Or,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Instanceof,
    Plus,
    Minus,
    Star,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Dot,
    Comma,
    Question,
    Colon,
    /// `}`: the end of the current `${...}`.
    End,
    /// The source ran out before the closing `}`.
    Eof,
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Byte offsets into the whole template source.
    pub start: usize,
    pub end: usize,
}

pub(crate) struct Lexer<'s> {
    src: &'s str,
    pos: usize,
}

impl<'s> Lexer<'s> {
    pub fn new(src: &'s str, pos: usize) -> Self {
        Lexer { src, pos }
    }

    pub fn next_token(&mut self) -> Result<Token, ParseError> {
        let rest = &self.src[self.pos..];
        let trimmed = rest.trim_start_matches(char::is_whitespace);
        self.pos += rest.len() - trimmed.len();
        let start = self.pos;
        let Some(c) = trimmed.chars().next() else {
            return Ok(Token {
                tok: Tok::Eof,
                start,
                end: start,
            });
        };
        let next = trimmed[c.len_utf8()..].chars().next();
        let (tok, len) = match (c, next) {
            ('}', _) => (Tok::End, 1),
            ('+', _) => (Tok::Plus, 1),
            ('-', _) => (Tok::Minus, 1),
            ('*', _) => (Tok::Star, 1),
            ('/', _) => (Tok::Div, 1),
            ('%', _) => (Tok::Mod, 1),
            ('(', _) => (Tok::LParen, 1),
            (')', _) => (Tok::RParen, 1),
            ('[', _) => (Tok::LBracket, 1),
            (']', _) => (Tok::RBracket, 1),
            (',', _) => (Tok::Comma, 1),
            ('?', _) => (Tok::Question, 1),
            (':', _) => (Tok::Colon, 1),
            ('=', Some('=')) => (Tok::Eq, 2),
            ('!', Some('=')) => (Tok::Ne, 2),
            ('!', _) => (Tok::Not, 1),
            ('<', Some('=')) => (Tok::Le, 2),
            ('<', _) => (Tok::Lt, 1),
            ('>', Some('=')) => (Tok::Ge, 2),
            ('>', _) => (Tok::Gt, 1),
            ('&', Some('&')) => (Tok::And, 2),
            ('|', Some('|')) => (Tok::Or, 2),
            ('\'' | '"', _) => return self.string(c),
            ('.', Some(d)) if d.is_ascii_digit() => return Ok(self.number()),
            ('.', _) => (Tok::Dot, 1),
            (d, _) if d.is_ascii_digit() => return Ok(self.number()),
            (c, _) if is_ident_start(c) => return Ok(self.word()),
            ('=', _) => {
                return Err(ParseError::new(
                    "unexpected '=': EL has no assignment operator, use '==' or 'eq' to compare",
                    start,
                    self.src,
                ));
            }
            ('&' | '|', _) => {
                return Err(ParseError::new(
                    format!(
                        "unexpected '{c}': use '{c}{c}' (or '{}')",
                        if c == '&' { "and" } else { "or" }
                    ),
                    start,
                    self.src,
                ));
            }
            _ => {
                return Err(ParseError::new(
                    format!("invalid character '{c}' in expression"),
                    start,
                    self.src,
                ));
            }
        };
        self.pos += len;
        Ok(Token {
            tok,
            start,
            end: self.pos,
        })
    }

    /// A string literal. EL defines only `\\` and the escaped quote; JUEL rejects any other
    /// escape, but Ferrogate keeps the backslash instead, so a regex such as `'^/\d+'` means what
    /// its author meant. (`\'` and `\"` are both accepted in either kind of quotes.)
    fn string(&mut self, quote: char) -> Result<Token, ParseError> {
        let start = self.pos;
        let body = &self.src[start + 1..];
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e @ ('\\' | '\'' | '"'))) => value.push(e),
                    Some((_, other)) => {
                        value.push('\\');
                        value.push(other);
                    }
                    None => break,
                },
                c if c == quote => {
                    self.pos = start + 1 + i + c.len_utf8();
                    return Ok(Token {
                        tok: Tok::Str(value),
                        start,
                        end: self.pos,
                    });
                }
                c => value.push(c),
            }
        }
        Err(ParseError::new(
            format!("unterminated string literal: no closing {quote}"),
            start,
            self.src,
        ))
    }

    /// A number, scanned as JUEL does: digits, an optional fraction, an optional exponent
    /// (only taken when digits follow it). Integers beyond a Java long become decimals.
    fn number(&mut self) -> Token {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let digits = |mut i: usize| {
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let mut i = digits(start);
        let mut float = false;
        if bytes.get(i) == Some(&b'.') {
            i = digits(i + 1);
            float = true;
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(bytes.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if bytes.get(j).is_some_and(u8::is_ascii_digit) {
                i = digits(j);
                float = true;
            }
        }
        self.pos = i;
        let text = &self.src[start..i];
        let tok = if float {
            Tok::Float(text.parse().unwrap_or(f64::NAN))
        } else {
            match text.parse::<i64>() {
                Ok(n) => Tok::Int(n),
                Err(_) => Tok::Float(text.parse().unwrap_or(f64::INFINITY)),
            }
        };
        Token { tok, start, end: i }
    }

    fn word(&mut self) -> Token {
        let start = self.pos;
        let rest = &self.src[start..];
        let len = rest
            .char_indices()
            .find(|&(_, c)| !is_ident_part(c))
            .map_or(rest.len(), |(i, _)| i);
        self.pos = start + len;
        let tok = match &rest[..len] {
            "true" => Tok::True,
            "false" => Tok::False,
            "null" => Tok::Null,
            "empty" => Tok::Empty,
            "not" => Tok::Not,
            "and" => Tok::And,
            "or" => Tok::Or,
            "div" => Tok::Div,
            "mod" => Tok::Mod,
            "eq" => Tok::Eq,
            "ne" => Tok::Ne,
            "lt" => Tok::Lt,
            "gt" => Tok::Gt,
            "le" => Tok::Le,
            "ge" => Tok::Ge,
            "instanceof" => Tok::Instanceof,
            _ => Tok::Ident,
        };
        Token {
            tok,
            start,
            end: self.pos,
        }
    }
}

/// Java's `Character.isJavaIdentifierStart`, close enough: letters, `_` and `$`.
fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

fn is_ident_part(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}
