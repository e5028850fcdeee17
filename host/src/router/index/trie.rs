//! Path prefixes and exact paths in a radix tree over bytes, so that finding every key that a
//! path starts with costs one walk down the path, whatever the number of routes.

use std::collections::BTreeMap;
use std::ops::Range;

use super::super::condition::is_line_terminator;

#[derive(Default)]
pub(super) struct Builder {
    keys: BTreeMap<Box<str>, Lists>,
}

#[derive(Default)]
struct Lists {
    prefix: Vec<usize>,
    exact: Vec<usize>,
}

impl Builder {
    /// Files `route` for paths starting with `text`. Routes must arrive in dispatch order.
    pub fn prefix(&mut self, text: &str, route: usize) {
        push_once(&mut self.entry(text).prefix, route);
    }

    /// Files `route` for the path `text`, possibly followed by one line terminator.
    pub fn exact(&mut self, text: &str, route: usize) {
        push_once(&mut self.entry(text).exact, route);
    }

    fn entry(&mut self, text: &str) -> &mut Lists {
        self.keys.entry(text.into()).or_default()
    }

    pub fn build(self) -> PathTrie {
        let keys: Vec<(Box<str>, Lists)> = self.keys.into_iter().collect();
        let mut trie = PathTrie::default();
        if keys.is_empty() {
            return trie;
        }
        let mut nodes: Vec<Node> = Vec::new();
        let mut bytes: Vec<u8> = Vec::new();
        let mut routes: Vec<usize> = Vec::new();
        // Per node, its children and the first byte of each one's label.
        let mut children: Vec<Vec<(u8, usize)>> = Vec::new();
        // Built without recursion: keys nested in each other (`/a`, `/a/b`, `/a/b/c`...) would
        // otherwise recurse once per level.
        let mut pending = vec![Pending {
            keys: 0..keys.len(),
            depth: 0,
            parent: None,
        }];
        while let Some(Pending {
            keys: range,
            depth,
            parent,
        }) = pending.pop()
        {
            let group = &keys[range.clone()];
            let first = group[0].0.as_bytes();
            let last = group[group.len() - 1].0.as_bytes();
            // Sorted keys share what the first and last share.
            let end = depth + common_prefix(&first[depth..], &last[depth..]);
            let id = nodes.len();
            let label = append(&mut bytes, &first[depth..end]);
            let mut start = range.start;
            let (prefix, exact) = if first.len() == end {
                start += 1;
                let lists = &group[0].1;
                (
                    append(&mut routes, &lists.prefix),
                    append(&mut routes, &lists.exact),
                )
            } else {
                (0..0, 0..0)
            };
            nodes.push(Node {
                label,
                children: 0..0,
                prefix,
                exact,
            });
            children.push(Vec::new());
            if let Some(parent) = parent {
                children[parent].push((first[depth], id));
            }
            // Every remaining key is longer than `end`; they group by their next byte.
            while start < range.end {
                let byte = keys[start].0.as_bytes()[end];
                let stop = start
                    + keys[start..range.end]
                        .iter()
                        .take_while(|(key, _)| key.as_bytes()[end] == byte)
                        .count();
                pending.push(Pending {
                    keys: start..stop,
                    depth: end,
                    parent: Some(id),
                });
                start = stop;
            }
        }
        let mut edge_bytes = Vec::with_capacity(nodes.len().saturating_sub(1));
        let mut edge_nodes = Vec::with_capacity(nodes.len().saturating_sub(1));
        for (node, mut below) in nodes.iter_mut().zip(children) {
            // Attached in whatever order the stack produced them.
            below.sort_unstable();
            node.children = edge_bytes.len()..edge_bytes.len() + below.len();
            edge_bytes.extend(below.iter().map(|&(byte, _)| byte));
            edge_nodes.extend(below.iter().map(|&(_, child)| child));
        }
        trie.nodes = nodes.into_boxed_slice();
        trie.bytes = bytes.into_boxed_slice();
        trie.edge_bytes = edge_bytes.into_boxed_slice();
        trie.edge_nodes = edge_nodes.into_boxed_slice();
        trie.routes = routes.into_boxed_slice();
        trie
    }
}

struct Pending {
    keys: Range<usize>,
    depth: usize,
    parent: Option<usize>,
}

fn push_once(routes: &mut Vec<usize>, route: usize) {
    if routes.last() != Some(&route) {
        routes.push(route);
    }
}

/// Appends `items` to one of the trie's shared arrays and says where they went.
fn append<T: Clone>(to: &mut Vec<T>, items: &[T]) -> Range<usize> {
    let start = to.len();
    to.extend_from_slice(items);
    start..to.len()
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Nodes refer into shared arrays rather than owning their parts, so a walk touches a few
/// contiguous arrays instead of chasing a pointer per label and per child list.
#[derive(Default)]
pub(super) struct PathTrie {
    /// The root first.
    nodes: Box<[Node]>,
    /// Every node's label.
    bytes: Box<[u8]>,
    /// Every node's children: the first byte of each child's label, each node's run sorted,
    /// and apart (so that the bytes are scanned as one short run) the children themselves.
    edge_bytes: Box<[u8]>,
    edge_nodes: Box<[usize]>,
    /// Every node's buckets of routes.
    routes: Box<[usize]>,
}

struct Node {
    /// The bytes from the parent to this node: never empty below the root.
    label: Range<usize>,
    children: Range<usize>,
    /// Routes for paths starting with the bytes down to here.
    prefix: Range<usize>,
    /// Routes for exactly these bytes (or these and one line terminator).
    exact: Range<usize>,
}

impl PathTrie {
    /// Calls `found` with each non-empty bucket of routes filed under a prefix of `path`, or
    /// under `path` itself as an exact key.
    pub fn visit<'t>(&'t self, path: &[u8], found: &mut dyn FnMut(&'t [usize])) {
        let Some(mut node) = self.nodes.first() else {
            return;
        };
        let mut rest = path;
        loop {
            let Some(after) = rest.strip_prefix(&self.bytes[node.label.clone()]) else {
                return;
            };
            rest = after;
            if !node.prefix.is_empty() {
                found(&self.routes[node.prefix.clone()]);
            }
            if !node.exact.is_empty()
                && (rest.is_empty() || std::str::from_utf8(rest).is_ok_and(is_line_terminator))
            {
                found(&self.routes[node.exact.clone()]);
            }
            let Some(&byte) = rest.first() else {
                return;
            };
            let bytes = &self.edge_bytes[node.children.clone()];
            // Most nodes have a handful of children, where a scan beats a search.
            let slot = if bytes.len() <= 16 {
                bytes.iter().position(|&first| first == byte)
            } else {
                bytes.binary_search(&byte).ok()
            };
            match slot {
                Some(slot) => node = &self.nodes[self.edge_nodes[node.children.start + slot]],
                None => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trie(prefixes: &[&str], exacts: &[&str]) -> PathTrie {
        let mut builder = Builder::default();
        for (route, text) in prefixes.iter().enumerate() {
            builder.prefix(text, route);
        }
        for (route, text) in exacts.iter().enumerate() {
            builder.exact(text, 100 + route);
        }
        builder.build()
    }

    fn found(trie: &PathTrie, path: &str) -> Vec<usize> {
        let mut out = Vec::new();
        trie.visit(path.as_bytes(), &mut |routes| out.extend_from_slice(routes));
        out.sort_unstable();
        out
    }

    #[test]
    fn finds_every_prefix_and_the_exact_path() {
        let t = trie(
            &["/", "/api/", "/api/v1/", "/apix", "/b", "/api/v2/"],
            &["/api", "/api/v1/items", "/b"],
        );
        assert_eq!(found(&t, "/api/v1/items"), vec![0, 1, 2, 101]);
        assert_eq!(found(&t, "/api/v1/items/1"), vec![0, 1, 2]);
        assert_eq!(found(&t, "/api"), vec![0, 100]);
        assert_eq!(found(&t, "/api\r\n"), vec![0, 100]);
        assert_eq!(found(&t, "/apix/y"), vec![0, 3]);
        assert_eq!(found(&t, "/b"), vec![0, 4, 102]);
        assert_eq!(found(&t, "/c"), vec![0]);
        assert_eq!(found(&t, ""), Vec::<usize>::new());
    }

    #[test]
    fn nested_keys_do_not_recurse() {
        let keys: Vec<String> = (1..5_000).map(|n| "/a".repeat(n)).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let t = trie(&refs, &[]);
        assert_eq!(found(&t, &"/a".repeat(3)), vec![0, 1, 2]);
        assert_eq!(found(&t, &"/a".repeat(6_000)).len(), 4_999);
    }

    #[test]
    fn wide_nodes_are_searched() {
        let keys: Vec<String> = ('0'..='z').map(|c| format!("/k{c}")).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let t = trie(&refs, &["/k"]);
        for (route, key) in keys.iter().enumerate() {
            assert_eq!(found(&t, &format!("{key}/x")), vec![route]);
        }
        assert_eq!(found(&t, "/k"), vec![100]);
        assert!(found(&t, "/k~").is_empty());
    }

    #[test]
    fn an_empty_trie_finds_nothing() {
        assert!(found(&trie(&[], &[]), "/").is_empty());
    }
}
