//! Template scanning and a recursive-descent parser for the EL grammar, with JUEL's operator
//! precedence. Functions are resolved, literal regexes compiled and constant subtrees folded
//! here, so evaluation never has to.

use std::sync::Arc;

use super::ParseError;
use super::Value;
use super::ast::{CallNode, MethodNode, Node, PathNode};
use super::coerce::{self, ArithOp, CmpOp};
use super::eval;
use super::functions;
use super::lexer::{Lexer, Tok, Token};
use super::methods::MethodId;
use super::regex;

/// Nesting of parentheses, brackets, arguments and unary operators the parser accepts: it
/// recurses through them, so this bounds its stack use on hostile or generated input.
const MAX_NESTING: usize = 32;
/// Height of the compiled tree: evaluation recurses through it. Long `&&`/`||` chains are flat
/// and constant subtrees fold to leaves, so only genuinely nested computations count.
const MAX_DEPTH: usize = 64;

/// A piece of a template.
#[derive(Debug)]
pub(crate) enum Part {
    Text(Arc<str>),
    Expr(Node),
}

/// Splits `src` into literal text and parsed `${...}` expressions. Escaping follows JUEL:
/// `\${` is a literal `${`; a backslash before anything else stays as written.
pub(crate) fn parse_template(src: &str) -> Result<Vec<Part>, ParseError> {
    let bytes = src.as_bytes();
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut escaped = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                if escaped {
                    // JUEL keeps the escape state after a doubled backslash, so `\\${x}` is the
                    // literal text `\${x}`.
                    text.push('\\');
                } else {
                    escaped = true;
                }
                i += 1;
            }
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                if escaped {
                    text.push('$');
                    escaped = false;
                    i += 1;
                } else {
                    if !text.is_empty() {
                        parts.push(Part::Text(Arc::from(std::mem::take(&mut text))));
                    }
                    let (node, end) = parse_expression(src, i)?;
                    parts.push(Part::Expr(node));
                    i = end;
                }
            }
            _ => {
                if escaped {
                    text.push('\\');
                    escaped = false;
                }
                // Copy up to the next byte that can start an escape or an expression; both are
                // ASCII, so the slice ends on a character boundary.
                let next = bytes[i + 1..]
                    .iter()
                    .position(|&b| b == b'\\' || b == b'$')
                    .map_or(bytes.len(), |p| i + 1 + p);
                text.push_str(&src[i..next]);
                i = next;
            }
        }
    }
    if escaped {
        text.push('\\');
    }
    if !text.is_empty() {
        parts.push(Part::Text(Arc::from(text)));
    }
    Ok(parts)
}

/// Parses the expression whose `${` is at `open`; returns it and the offset after its `}`.
fn parse_expression(src: &str, open: usize) -> Result<(Node, usize), ParseError> {
    let mut lexer = Lexer::new(src, open + 2);
    let tok = lexer.next_token()?;
    let mut parser = Parser {
        src,
        lexer,
        tok,
        open,
        nesting: 0,
    };
    if parser.tok.tok == Tok::End {
        return Err(parser.error(parser.tok.start, "empty expression: '${}' contains nothing"));
    }
    let node = parser.expr()?;
    match parser.tok.tok {
        Tok::End => Ok((node, parser.tok.end)),
        _ => Err(parser.unexpected(&format!(
            "an operator or '}}' to close the '${{' at column {}",
            column(src, open)
        ))),
    }
}

/// 1-based character column of a byte offset, for messages.
pub(crate) fn column(src: &str, offset: usize) -> usize {
    src.get(..offset).map_or(offset, |s| s.chars().count()) + 1
}

struct Parser<'s> {
    src: &'s str,
    lexer: Lexer<'s>,
    tok: Token,
    /// Offset of the `${` being parsed.
    open: usize,
    nesting: usize,
}

impl Parser<'_> {
    fn advance(&mut self) -> Result<(), ParseError> {
        self.tok = self.lexer.next_token()?;
        Ok(())
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError::new(message, offset, self.src)
    }

    fn text(&self) -> &str {
        &self.src[self.tok.start..self.tok.end]
    }

    /// The current token is not what the grammar needs; `expected` says what would have been.
    fn unexpected(&self, expected: &str) -> ParseError {
        match self.tok.tok {
            Tok::Eof => self.error(
                self.open,
                format!(
                    "unterminated expression: the '${{' at column {} has no closing '}}'",
                    column(self.src, self.open)
                ),
            ),
            Tok::End => self.error(
                self.tok.start,
                format!("unexpected end of expression: expected {expected}"),
            ),
            _ => self.error(
                self.tok.start,
                format!("expected {expected}, found '{}'", self.text()),
            ),
        }
    }

    fn nest(&mut self) -> Result<(), ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.error(
                self.tok.start,
                format!("expression nested too deeply (more than {MAX_NESTING} levels)"),
            ));
        }
        Ok(())
    }

    /// Folds the node if its operands are constants, and bounds the tree's height. (Checking
    /// the height walks the subtree, but every subtree is already within the bound, so the
    /// total work stays linear in the expression's size.)
    fn build(&mut self, node: Node, offset: usize) -> Result<Node, ParseError> {
        let node = fold(node);
        if node.depth() > MAX_DEPTH {
            return Err(self.error(
                offset,
                format!(
                    "expression nested too deeply (more than {MAX_DEPTH} levels of operators and calls)"
                ),
            ));
        }
        Ok(node)
    }

    /// `or ('?' expr ':' expr)?`
    fn expr(&mut self) -> Result<Node, ParseError> {
        self.nest()?;
        let test = self.or()?;
        let node = if self.tok.tok == Tok::Question {
            let question = self.tok.start;
            self.advance()?;
            let then = self.expr()?;
            if self.tok.tok != Tok::Colon {
                return Err(self.unexpected(&format!(
                    "':' to complete the '?' at column {}",
                    column(self.src, question)
                )));
            }
            self.advance()?;
            let otherwise = self.expr()?;
            let node = Node::Cond(Box::new(test), Box::new(then), Box::new(otherwise));
            self.build(node, question)?
        } else {
            test
        };
        self.nesting -= 1;
        Ok(node)
    }

    fn or(&mut self) -> Result<Node, ParseError> {
        let first = self.and()?;
        if self.tok.tok != Tok::Or {
            return Ok(first);
        }
        let at = self.tok.start;
        let mut operands = vec![first];
        while self.tok.tok == Tok::Or {
            self.advance()?;
            operands.push(self.and()?);
        }
        self.build(Node::Or(operands.into_boxed_slice()), at)
    }

    fn and(&mut self) -> Result<Node, ParseError> {
        let first = self.equality()?;
        if self.tok.tok != Tok::And {
            return Ok(first);
        }
        let at = self.tok.start;
        let mut operands = vec![first];
        while self.tok.tok == Tok::And {
            self.advance()?;
            operands.push(self.equality()?);
        }
        self.build(Node::And(operands.into_boxed_slice()), at)
    }

    fn equality(&mut self) -> Result<Node, ParseError> {
        let mut left = self.relational()?;
        loop {
            let negated = match self.tok.tok {
                Tok::Eq => false,
                Tok::Ne => true,
                _ => return Ok(left),
            };
            let at = self.tok.start;
            self.advance()?;
            let right = self.relational()?;
            left = self.build(Node::Eq(negated, Box::new(left), Box::new(right)), at)?;
        }
    }

    fn relational(&mut self) -> Result<Node, ParseError> {
        let mut left = self.additive()?;
        loop {
            let op = match self.tok.tok {
                Tok::Lt => CmpOp::Lt,
                Tok::Gt => CmpOp::Gt,
                Tok::Le => CmpOp::Le,
                Tok::Ge => CmpOp::Ge,
                _ => return Ok(left),
            };
            let at = self.tok.start;
            self.advance()?;
            let right = self.additive()?;
            left = self.build(Node::Cmp(op, Box::new(left), Box::new(right)), at)?;
        }
    }

    fn additive(&mut self) -> Result<Node, ParseError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.tok.tok {
                Tok::Plus => ArithOp::Add,
                Tok::Minus => ArithOp::Sub,
                _ => return Ok(left),
            };
            let at = self.tok.start;
            self.advance()?;
            let right = self.multiplicative()?;
            left = self.build(Node::Arith(op, Box::new(left), Box::new(right)), at)?;
        }
    }

    fn multiplicative(&mut self) -> Result<Node, ParseError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.tok.tok {
                Tok::Star => ArithOp::Mul,
                Tok::Div => ArithOp::Div,
                Tok::Mod => ArithOp::Mod,
                _ => return Ok(left),
            };
            let at = self.tok.start;
            self.advance()?;
            let right = self.unary()?;
            left = self.build(Node::Arith(op, Box::new(left), Box::new(right)), at)?;
        }
    }

    fn unary(&mut self) -> Result<Node, ParseError> {
        let wrap: fn(Box<Node>) -> Node = match self.tok.tok {
            Tok::Minus => Node::Neg,
            Tok::Not => Node::Not,
            Tok::Empty => Node::Empty,
            _ => return self.postfix(),
        };
        let at = self.tok.start;
        self.nest()?;
        self.advance()?;
        let operand = self.unary()?;
        self.nesting -= 1;
        self.build(wrap(Box::new(operand)), at)
    }

    /// A primary followed by any number of `.name`, `[expr]` and method calls.
    fn postfix(&mut self) -> Result<Node, ParseError> {
        let mut node = self.primary()?;
        loop {
            match self.tok.tok {
                Tok::Dot => {
                    let dot = self.tok.start;
                    self.advance()?;
                    if !self.is_word() {
                        return Err(self.unexpected("a property or method name after '.'"));
                    }
                    let name = self.text().to_owned();
                    let name_at = self.tok.start;
                    self.advance()?;
                    node = if self.tok.tok == Tok::LParen {
                        self.method_call(node, &name, name_at)?
                    } else {
                        self.member(node, Node::Lit(Value::from(name)), dot)?
                    };
                }
                Tok::LBracket => {
                    let open = self.tok.start;
                    self.advance()?;
                    self.nest()?;
                    let key = self.expr()?;
                    self.nesting -= 1;
                    if self.tok.tok != Tok::RBracket {
                        return Err(self.unexpected(&format!(
                            "']' to close the '[' at column {}",
                            column(self.src, open)
                        )));
                    }
                    self.advance()?;
                    node = match (&key, self.tok.tok == Tok::LParen) {
                        // `base['name'](args)` is another spelling of `base.name(args)`.
                        (Node::Lit(Value::Str(name)), true) => {
                            let name = name.to_string();
                            self.method_call(node, &name, open)?
                        }
                        (_, true) => {
                            return Err(self
                                .error(self.tok.start, "a method name must be a string literal"));
                        }
                        (_, false) => self.member(node, key, open)?,
                    };
                }
                _ => return Ok(node),
            }
        }
    }

    /// Whether the current token can name a property: an identifier, or a keyword (JUEL would
    /// refuse `a.empty`, but there is no ambiguity after a dot).
    fn is_word(&self) -> bool {
        !matches!(
            self.tok.tok,
            Tok::Int(_) | Tok::Float(_) | Tok::Str(_) | Tok::End | Tok::Eof
        ) && self
            .text()
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
            && !self.text().is_empty()
    }

    /// Appends a key: to the path when `base` is one, else as a generic member access.
    fn member(&mut self, base: Node, key: Node, at: usize) -> Result<Node, ParseError> {
        match base {
            Node::Path(mut path) => {
                let index = path.keys.len();
                let mut keys = std::mem::take(&mut path.keys).into_vec();
                match key {
                    Node::Lit(v) => keys.push(v),
                    computed => {
                        keys.push(Value::Null);
                        let mut dynamic = std::mem::take(&mut path.dynamic).into_vec();
                        dynamic.push((index, computed));
                        path.dynamic = dynamic.into_boxed_slice();
                    }
                }
                path.keys = keys.into_boxed_slice();
                Ok(Node::Path(path))
            }
            base => self.build(Node::Member(Box::new(base), Box::new(key)), at),
        }
    }

    fn primary(&mut self) -> Result<Node, ParseError> {
        let lit = match &self.tok.tok {
            Tok::Int(i) => Value::Int(*i),
            Tok::Float(f) => Value::Float(*f),
            Tok::Str(s) => Value::from(s.as_str()),
            Tok::True => Value::Bool(true),
            Tok::False => Value::Bool(false),
            Tok::Null => Value::Null,
            Tok::Ident => {
                let name = self.text().to_owned();
                let at = self.tok.start;
                self.advance()?;
                if self.tok.tok == Tok::LParen {
                    return self.function_call(&name, at);
                }
                return Ok(Node::Path(Box::new(PathNode {
                    root: Arc::from(name),
                    keys: Box::default(),
                    dynamic: Box::default(),
                })));
            }
            Tok::LParen => {
                let open = self.tok.start;
                self.advance()?;
                let inner = self.expr()?;
                if self.tok.tok != Tok::RParen {
                    return Err(self.unexpected(&format!(
                        "')' to close the '(' at column {}",
                        column(self.src, open)
                    )));
                }
                self.advance()?;
                return Ok(inner);
            }
            Tok::Instanceof => {
                return Err(self.error(self.tok.start, "'instanceof' is not supported"));
            }
            _ => return Err(self.unexpected("a value, an identifier, a function call or '('")),
        };
        self.advance()?;
        Ok(Node::Lit(lit))
    }

    /// Arguments after an opening parenthesis (the current token), through the closing one.
    /// Returns each argument with its offset.
    fn arguments(&mut self, what: &str) -> Result<Vec<(Node, usize)>, ParseError> {
        let open = self.tok.start;
        self.advance()?;
        let mut args = Vec::new();
        if self.tok.tok == Tok::RParen {
            self.advance()?;
            return Ok(args);
        }
        loop {
            let at = self.tok.start;
            args.push((self.expr()?, at));
            match self.tok.tok {
                Tok::Comma => self.advance()?,
                Tok::RParen => {
                    self.advance()?;
                    return Ok(args);
                }
                _ => {
                    return Err(self.unexpected(&format!(
                        "')' to close the call to {what} opened at column {}",
                        column(self.src, open)
                    )));
                }
            }
        }
    }

    fn function_call(&mut self, name: &str, at: usize) -> Result<Node, ParseError> {
        let Some(def) = functions::lookup(name) else {
            let close = functions::suggestions(name);
            let message = match close.as_slice() {
                [] => format!(
                    "unknown function '{name}'; the functions are {}",
                    functions::FUNCTIONS
                        .iter()
                        .map(|f| f.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                [one] => format!("unknown function '{name}', did you mean '{one}'?"),
                several => format!(
                    "unknown function '{name}', did you mean one of '{}'?",
                    several.join("', '")
                ),
            };
            return Err(self.error(at, message));
        };
        let args = self.arguments(&format!("'{name}'"))?;
        if args.len() < def.min_args || args.len() > def.max_args {
            let wanted = match (def.min_args, def.max_args) {
                (min, usize::MAX) => format!("at least {min} argument{}", plural(min)),
                (min, max) if min == max => format!("{min} argument{}", plural(min)),
                (min, max) => format!("{min} to {max} arguments"),
            };
            return Err(self.error(
                at,
                format!("function '{name}' takes {wanted}, found {}", args.len()),
            ));
        }
        let regex = match def.regex_arg {
            Some((index, mode)) => self.literal_regex(&args, index, mode, name)?,
            None => None,
        };
        let node = Node::Call(Box::new(CallNode {
            def,
            args: args.into_iter().map(|(n, _)| n).collect(),
            regex,
        }));
        self.build(node, at)
    }

    fn method_call(&mut self, receiver: Node, name: &str, at: usize) -> Result<Node, ParseError> {
        let method = MethodId::from_name(name);
        let args = self.arguments(&format!("method '{name}'"))?;
        let regex = match method.regex_arg() {
            Some((index, mode)) => self.literal_regex(&args, index, mode, name)?,
            None => None,
        };
        let node = Node::Method(Box::new(MethodNode {
            receiver,
            method,
            args: args.into_iter().map(|(n, _)| n).collect(),
            regex,
        }));
        self.build(node, at)
    }

    /// Compiles a regex argument written as a literal, so a bad pattern is a load-time error
    /// pointing at it and a good one is never compiled again.
    fn literal_regex(
        &self,
        args: &[(Node, usize)],
        index: usize,
        mode: regex::RegexMode,
        name: &str,
    ) -> Result<Option<Arc<regex::CompiledRegex>>, ParseError> {
        let Some((Node::Lit(pattern), at)) = args.get(index) else {
            return Ok(None);
        };
        match regex::compile(&pattern.to_el_string(), mode) {
            Ok(re) => Ok(Some(Arc::new(re))),
            Err(e) => Err(self.error(
                *at,
                format!(
                    "invalid regular expression in argument {} of '{name}': {e}",
                    index + 1
                ),
            )),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Replaces a node whose operands are all constants by its value. Functions and methods are
/// pure, so calls fold too. A subtree that fails is kept, so the error surfaces (and is
/// reported) at evaluation like any other.
fn fold(node: Node) -> Node {
    let foldable = match &node {
        Node::Lit(_) | Node::Path(_) => false,
        Node::Member(a, b) | Node::Arith(_, a, b) | Node::Cmp(_, a, b) | Node::Eq(_, a, b) => {
            a.is_lit() && b.is_lit()
        }
        // Foldable when literals decide the result before any operand that needs the scope.
        Node::And(operands) | Node::Or(operands) => {
            let deciding = !matches!(node, Node::And(_));
            operands
                .iter()
                .map_while(|o| match o {
                    Node::Lit(v) => Some(v),
                    _ => None,
                })
                .any(|v| matches!(coerce::to_bool(v), Ok(b) if b == deciding))
                || operands.iter().all(Node::is_lit)
        }
        Node::Neg(a) | Node::Not(a) | Node::Empty(a) => a.is_lit(),
        Node::Cond(a, b, c) => a.is_lit() && b.is_lit() && c.is_lit(),
        Node::Method(m) => m.receiver.is_lit() && m.args.iter().all(Node::is_lit),
        Node::Call(c) => c.args.iter().all(Node::is_lit),
    };
    if !foldable {
        return node;
    }
    match eval::eval(&node, &super::EmptyScope) {
        Ok(value) => Node::Lit(value),
        Err(_) => node,
    }
}
