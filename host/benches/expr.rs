//! Expression language: parse cost, and per-request evaluation cost of typical route
//! conditions and templates (excluding what a real scope spends building its values).

#[path = "support/allocator.rs"]
mod allocator;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ferrogate::expr::{Expression, Scope, Value};

const CONDITION: &str = "${request.method == 'GET' && find(request.uri.path, '^/api/')}";

/// Fixed request data, looked up by matching the path directly, the way the host's scope
/// resolves the exchange without building maps per call.
struct BenchScope {
    method: Value,
    path: Value,
    api_key: Value,
    token: Value,
}

impl BenchScope {
    fn new() -> Self {
        BenchScope {
            method: Value::from("GET"),
            path: Value::from("/api/users/42"),
            api_key: Value::from("secret"),
            token: Value::from("eyJhbGciOiJIUzI1NiJ9.e30.sig"),
        }
    }
}

fn key(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

impl Scope for BenchScope {
    fn lookup(&self, root: &str, path: &[Value]) -> Option<(Value, usize)> {
        match root {
            "request" => Some(match path {
                [m, ..] if key(m) == "method" => (self.method.clone(), 1),
                [u, p, ..] if key(u) == "uri" && key(p) == "path" => (self.path.clone(), 2),
                [h, name, Value::Int(0), ..]
                    if key(h) == "headers" && key(name).eq_ignore_ascii_case("X-Api-Key") =>
                {
                    (self.api_key.clone(), 3)
                }
                _ => (Value::Null, path.len()),
            }),
            "attributes" => Some(match path {
                [t, ..] if key(t) == "token" => (self.token.clone(), 1),
                _ => (Value::Null, path.len()),
            }),
            _ => None,
        }
    }
}

fn compile(src: &str) -> Expression {
    match Expression::parse(src) {
        Ok(expr) => expr,
        Err(e) => panic!("benchmark expression does not parse: {e}"),
    }
}

fn bench(c: &mut Criterion) {
    let scope = BenchScope::new();
    let mut group = c.benchmark_group("expr");

    group.bench_function("parse_condition", |b| {
        b.iter(|| Expression::parse(black_box(CONDITION)))
    });

    let condition = compile(CONDITION);
    assert!(condition.eval_condition(&scope));
    group.bench_function("eval_condition_method_and_find", |b| {
        b.iter(|| black_box(&condition).eval_condition(black_box(&scope)))
    });

    let bearer = compile("Bearer ${attributes.token}");
    assert_eq!(
        bearer.eval(&scope).as_str(),
        Some("Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig")
    );
    group.bench_function("eval_template_bearer", |b| {
        b.iter(|| black_box(&bearer).eval(black_box(&scope)))
    });

    let header = compile("${request.headers['X-Api-Key'][0] == 'secret'}");
    assert!(header.eval_condition(&scope));
    group.bench_function("eval_header_equals", |b| {
        b.iter(|| black_box(&header).eval_condition(black_box(&scope)))
    });

    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
