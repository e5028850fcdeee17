//! The compiled form of an expression. Member/index chains that start at an identifier are
//! flattened into a single [`PathNode`] so evaluation makes one `Scope::lookup` call for the
//! whole chain instead of materialising every intermediate object.

use std::sync::Arc;

use super::regex::CompiledRegex;

use super::Value;
use super::coerce::{ArithOp, CmpOp};
use super::functions::FunctionDef;
use super::methods::MethodId;

#[derive(Debug)]
pub(crate) enum Node {
    Lit(Value),
    Path(Box<PathNode>),
    /// `base.key` / `base[key]` where `base` is not a path (a literal, a call result...).
    Member(Box<Node>, Box<Node>),
    Method(Box<MethodNode>),
    Call(Box<CallNode>),
    Neg(Box<Node>),
    Not(Box<Node>),
    Empty(Box<Node>),
    Arith(ArithOp, Box<Node>, Box<Node>),
    Cmp(CmpOp, Box<Node>, Box<Node>),
    /// `==` (false) or `!=` (true).
    Eq(bool, Box<Node>, Box<Node>),
    /// `a && b && ...`, flattened so that long chains (allowlists) do not nest.
    And(Box<[Node]>),
    /// `a || b || ...`, flattened likewise.
    Or(Box<[Node]>),
    Cond(Box<Node>, Box<Node>, Box<Node>),
}

/// `root.k1[k2]...`: constant keys are stored ready to pass to the scope; keys computed at run
/// time are evaluated into their slots.
#[derive(Debug)]
pub(crate) struct PathNode {
    pub root: Arc<str>,
    /// One entry per key; a `Null` placeholder where `dynamic` supplies the key.
    pub keys: Box<[Value]>,
    pub dynamic: Box<[(usize, Node)]>,
}

#[derive(Debug)]
pub(crate) struct MethodNode {
    pub receiver: Node,
    pub method: MethodId,
    pub args: Box<[Node]>,
    /// The regex argument when it was a string literal, compiled at parse time.
    pub regex: Option<Arc<CompiledRegex>>,
}

#[derive(Debug)]
pub(crate) struct CallNode {
    pub def: &'static FunctionDef,
    pub args: Box<[Node]>,
    pub regex: Option<Arc<CompiledRegex>>,
}

/// What a path reads right after its root, for `Expression::reads_path`.
#[derive(Clone, Debug)]
pub(crate) enum FirstKey {
    /// The root itself is read whole (`${request}`), or the first key is computed at run time.
    Any,
    Named(Arc<str>),
}

impl Node {
    pub fn is_lit(&self) -> bool {
        matches!(self, Node::Lit(_))
    }

    /// Height of the tree, which bounds how deep evaluation recurses.
    pub fn depth(&self) -> usize {
        let max =
            |nodes: &mut dyn Iterator<Item = &Node>| nodes.map(Node::depth).max().unwrap_or(0);
        match self {
            Node::Lit(_) => 0,
            Node::Path(p) => 1 + max(&mut p.dynamic.iter().map(|(_, n)| n)),
            Node::Member(a, b) | Node::Arith(_, a, b) | Node::Cmp(_, a, b) | Node::Eq(_, a, b) => {
                1 + a.depth().max(b.depth())
            }
            Node::And(operands) | Node::Or(operands) => 1 + max(&mut operands.iter()),
            Node::Method(m) => 1 + max(&mut std::iter::once(&m.receiver).chain(m.args.iter())),
            Node::Call(c) => 1 + max(&mut c.args.iter()),
            Node::Neg(a) | Node::Not(a) | Node::Empty(a) => 1 + a.depth(),
            Node::Cond(a, b, c) => 1 + a.depth().max(b.depth()).max(c.depth()),
        }
    }

    /// Calls `f` with every path in the tree (root and first key), in source order.
    pub fn visit_paths(&self, f: &mut dyn FnMut(&Arc<str>, FirstKey)) {
        match self {
            Node::Lit(_) => {}
            Node::Path(p) => {
                let first = match (p.keys.first(), p.dynamic.first()) {
                    (Some(_), Some((0, _))) | (None, _) => FirstKey::Any,
                    (Some(k), _) => FirstKey::Named(Arc::from(k.to_el_string().as_ref())),
                };
                f(&p.root, first);
                for (_, key) in p.dynamic.iter() {
                    key.visit_paths(f);
                }
            }
            Node::And(operands) | Node::Or(operands) => {
                operands.iter().for_each(|o| o.visit_paths(f));
            }
            Node::Member(a, b) | Node::Arith(_, a, b) | Node::Cmp(_, a, b) | Node::Eq(_, a, b) => {
                a.visit_paths(f);
                b.visit_paths(f);
            }
            Node::Method(m) => {
                m.receiver.visit_paths(f);
                m.args.iter().for_each(|a| a.visit_paths(f));
            }
            Node::Call(c) => c.args.iter().for_each(|a| a.visit_paths(f)),
            Node::Neg(a) | Node::Not(a) | Node::Empty(a) => a.visit_paths(f),
            Node::Cond(a, b, c) => {
                a.visit_paths(f);
                b.visit_paths(f);
                c.visit_paths(f);
            }
        }
    }
}
