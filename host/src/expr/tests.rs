//! Table-driven tests of the expression language against a scope shaped like IG's bindings.

use std::sync::Arc;

use indexmap::IndexMap;

use super::*;

/// A scope over nested values, consuming map keys itself and leaving anything else (list
/// indexes, keys below a non-map) to the evaluator, so both halves of the lookup contract run.
struct TestScope {
    roots: IndexMap<String, Value>,
}

impl Scope for TestScope {
    fn lookup(&self, root: &str, path: &[Value]) -> Option<(Value, usize)> {
        let mut value = self.roots.get(root)?.clone();
        for (used, key) in path.iter().enumerate() {
            let (Value::Map(map), Value::Str(k)) = (&value, key) else {
                return Some((value, used));
            };
            match map.get(k.as_ref()) {
                Some(next) => value = next.clone(),
                None => return Some((Value::Null, used + 1)),
            }
        }
        Some((value, path.len()))
    }

    fn assign(&mut self, root: &str, path: &[Value], value: Value) -> Result<(), EvalError> {
        let slot = self.roots.entry(root.to_owned()).or_default();
        assign_into(slot, path, value)
    }
}

fn assign_into(slot: &mut Value, path: &[Value], value: Value) -> Result<(), EvalError> {
    let Some((key, rest)) = path.split_first() else {
        *slot = value;
        return Ok(());
    };
    if slot.is_null() {
        *slot = Value::Map(Arc::default());
    }
    match slot {
        Value::Map(map) => {
            let child = Arc::make_mut(map)
                .entry(key.to_el_string().into_owned())
                .or_default();
            assign_into(child, rest, value)
        }
        Value::List(items) => {
            let items = Arc::make_mut(items);
            let index = usize::try_from(coerce::to_long(key)?).map_err(|_| {
                EvalError::NotAssignable(format!("negative index {}", key.to_el_string()))
            })?;
            if index == items.len() {
                items.push(Value::Null);
            }
            let len = items.len();
            let child = items.get_mut(index).ok_or(EvalError::IndexOutOfBounds {
                index: i64::try_from(index).unwrap_or(i64::MAX),
                len,
            })?;
            assign_into(child, rest, value)
        }
        other => Err(EvalError::NotAssignable(format!(
            "a {} has no properties",
            other.type_name()
        ))),
    }
}

fn scope() -> TestScope {
    let json = serde_json::json!({
        "request": {
            "method": "GET",
            "uri": {
                "scheme": "https",
                "host": "example.com",
                "port": 443,
                "path": "/api/users/42",
                "rawPath": "/api/users/42",
                "query": "a=1&b=two words",
                "rawQuery": "a=1&b=two%20words"
            },
            "headers": {
                "Host": ["example.com"],
                "X-Api-Key": ["secret"],
                "Accept": ["application/json", "text/html"],
                "Authorization": ["Bearer abc.def"]
            },
            "cookies": { "session": [{ "name": "session", "value": "s3cr3t" }] },
            "form": { "user": ["alice"] },
            "entity": { "string": "{\"a\":1}", "json": { "a": 1 } }
        },
        "attributes": {
            "token": "tok123",
            "count": 5,
            "ratio": 2.5,
            "flag": true,
            "empty": "",
            "nothing": null,
            "list": [1, 2, 3],
            "names": ["alice", "bob"],
            "map": { "a": 1, "b": "x" },
            "nested": { "deep": { "value": "v" } },
            "num_str": "10",
            "float_str": "1.5",
            "hdr": "X-Api-Key",
            "pattern": "b+",
            "badpattern": "(",
            "keyname": "dyn",
            "literal": "^ab"
        },
        "session": { "user": "bob" },
        "contexts": {
            "client": { "remoteAddress": "10.1.2.3" },
            "router": { "remainingUri": "/users", "originalUri": "https://example.com/api/users" }
        },
        "env": { "HOME": "/home/ig" },
        "system": { "user.home": "/home/ig" },
        "now": { "epochSeconds": 1_700_000_000 },
        "myProp": "propValue"
    });
    let Value::Map(roots) = Value::from_json(&json) else {
        unreachable!("the fixture is an object")
    };
    TestScope {
        roots: Arc::unwrap_or_clone(roots),
    }
}

/// What a case must produce.
#[derive(Clone, Copy, Debug)]
enum X {
    Int(i64),
    /// A decimal, checked by its Java rendering (which pins the value and the formatting).
    Float(&'static str),
    Bool(bool),
    Str(&'static str),
    /// Null without an error.
    Null,
    /// Evaluation fails (so `eval` gives null).
    Error,
    /// A list, checked by its Java rendering.
    List(&'static str),
    /// `eval_condition` gives this.
    Cond(bool),
    /// Parsing fails at this byte offset.
    ParseErr(usize),
}

use X::*;

struct Case(&'static str, X);

const CASES: &[Case] = &[
    // ---- literals
    Case("${1}", Int(1)),
    Case("${-1}", Int(-1)),
    Case("${0}", Int(0)),
    Case("${1.5}", Float("1.5")),
    Case("${.5}", Float("0.5")),
    Case("${1.}", Float("1.0")),
    Case("${1e3}", Float("1000.0")),
    Case("${1.5E-2}", Float("0.015")),
    Case("${2e+2}", Float("200.0")),
    Case("${9223372036854775807}", Int(i64::MAX)),
    Case("${9223372036854775808}", Float("9.223372036854776E18")),
    Case("${'single'}", Str("single")),
    Case(r#"${"double"}"#, Str("double")),
    Case(r"${'it\'s'}", Str("it's")),
    Case(r#"${"say \"hi\""}"#, Str("say \"hi\"")),
    Case(r"${'back\\slash'}", Str(r"back\slash")),
    Case(r"${'a\d'}", Str(r"a\d")),
    Case(r#"${"it's"}"#, Str("it's")),
    Case(r#"${'say "hi"'}"#, Str("say \"hi\"")),
    Case("${true}", Bool(true)),
    Case("${false}", Bool(false)),
    Case("${null}", Null),
    Case("${'a{2}'}", Str("a{2}")),
    Case("${'}'}", Str("}")),
    Case("${''}", Str("")),
    Case("${'héllo wörld'}", Str("héllo wörld")),
    // ---- arithmetic
    Case("${1 + 2}", Int(3)),
    Case("${7 - 10}", Int(-3)),
    Case("${6 * 7}", Int(42)),
    Case("${7 / 2}", Float("3.5")),
    Case("${6 / 2}", Float("3.0")),
    Case("${7 div 2}", Float("3.5")),
    Case("${10 / 4}", Float("2.5")),
    Case("${100 / 3}", Float("33.333333333333336")),
    Case("${7 % 3}", Int(1)),
    Case("${7 mod 3}", Int(1)),
    Case("${-7 % 3}", Int(-1)),
    Case("${7.5 % 2}", Float("1.5")),
    Case("${5 % 0}", Error),
    Case("${5 mod 0}", Error),
    Case("${5.0 % 0}", Float("NaN")),
    Case("${1 / 0}", Float("Infinity")),
    Case("${-1 / 0}", Float("-Infinity")),
    Case("${0 / 0}", Float("NaN")),
    Case("${1 + 2 * 3}", Int(7)),
    Case("${(1 + 2) * 3}", Int(9)),
    Case("${10 - 2 - 3}", Int(5)),
    Case("${2 * 3 % 4}", Int(2)),
    Case("${2 - 3 * 4}", Int(-10)),
    Case("${1 - -1}", Int(2)),
    Case("${- -3}", Int(3)),
    Case("${1.5 + 1}", Float("2.5")),
    Case("${3 * 1.0}", Float("3.0")),
    Case("${'10' + 1}", Int(11)),
    Case("${'3' * '4'}", Int(12)),
    Case("${'1.5' + 1}", Float("2.5")),
    Case("${'1e2' + 0}", Float("100.0")),
    Case("${' 3.5' + 1}", Float("4.5")),
    Case("${' 3' + 1}", Error),
    Case("${'' + 1}", Int(1)),
    Case("${null + 1}", Int(1)),
    Case("${null + null}", Int(0)),
    Case("${null / null}", Int(0)),
    Case("${null * 5}", Int(0)),
    Case("${'abc' + 1}", Error),
    Case("${true + 1}", Error),
    Case("${9223372036854775807 + 1}", Int(i64::MIN)),
    Case("${-9223372036854775807 - 2}", Int(i64::MAX)),
    Case("${-'5'}", Int(-5)),
    Case("${-'2.5'}", Float("-2.5")),
    Case("${-null}", Int(0)),
    Case("${-true}", Error),
    Case("${-attributes.names}", Error),
    Case("${attributes.count + 1}", Int(6)),
    Case("${attributes.ratio * 2}", Float("5.0")),
    Case("${attributes.num_str * 2}", Int(20)),
    Case("${attributes.float_str * 2}", Float("3.0")),
    Case("${attributes.list + 1}", Error),
    Case("${attributes.missing + 1}", Int(1)),
    Case("${now.epochSeconds + 60}", Int(1_700_000_060)),
    // ---- Java number rendering
    Case("${1e7}", Float("1.0E7")),
    Case("${9999999.0}", Float("9999999.0")),
    Case("${0.001}", Float("0.001")),
    Case("${0.0001}", Float("1.0E-4")),
    Case("${1e-5}", Float("1.0E-5")),
    Case("${123456789.0}", Float("1.23456789E8")),
    Case("${1.0E10}", Float("1.0E10")),
    Case("${0.1 + 0.2}", Float("0.30000000000000004")),
    Case("${-0.0}", Float("-0.0")),
    Case("${100.0}", Float("100.0")),
    Case("${1.5e300 * 1e10}", Float("Infinity")),
    Case("${2.5E-3}", Float("0.0025")),
    Case("${12345.678}", Float("12345.678")),
    Case("${1e21}", Float("1.0E21")),
    Case("${1.2345e-7}", Float("1.2345E-7")),
    Case("${-1234567.5}", Float("-1234567.5")),
    Case("${4.9e-324}", Float("4.9E-324")),
    Case("v=${1.0}", Str("v=1.0")),
    Case("${attributes.ratio} and ${1/4}", Str("2.5 and 0.25")),
    // ---- relational
    Case("${1 < 2}", Bool(true)),
    Case("${2 < 1}", Bool(false)),
    Case("${1 lt 2}", Bool(true)),
    Case("${2 > 1}", Bool(true)),
    Case("${2 gt 1}", Bool(true)),
    Case("${1 <= 1}", Bool(true)),
    Case("${1 le 0}", Bool(false)),
    Case("${1 >= 1}", Bool(true)),
    Case("${1 ge 2}", Bool(false)),
    Case("${1.5 < 2}", Bool(true)),
    Case("${'a' < 'b'}", Bool(true)),
    Case("${'b' < 'a'}", Bool(false)),
    Case("${'abc' < 'abd'}", Bool(true)),
    Case("${'Z' < 'a'}", Bool(true)),
    Case("${'10' < 9}", Bool(false)),
    Case("${'10' < '9'}", Bool(true)),
    Case("${'1.5' < 2}", Bool(true)),
    Case("${null < 1}", Bool(false)),
    Case("${null > 1}", Bool(false)),
    Case("${null <= null}", Bool(true)),
    Case("${null < null}", Bool(false)),
    Case("${'abc' < 1}", Error),
    Case("${true < 1}", Error),
    Case("${false < true}", Bool(true)),
    Case("${attributes.count > 3}", Bool(true)),
    Case("${attributes.count >= attributes.num_str}", Bool(false)),
    Case("${0/0 < 1}", Bool(false)),
    Case("${0/0 >= 0/0}", Bool(false)),
    Case("${attributes.list < 1}", Error),
    Case("${attributes.map > attributes.map}", Error),
    // ---- equality
    Case("${1 == 1}", Bool(true)),
    Case("${1 eq 1}", Bool(true)),
    Case("${1 != 2}", Bool(true)),
    Case("${1 ne 1}", Bool(false)),
    Case("${1 == 1.0}", Bool(true)),
    Case("${'10' == 10}", Bool(true)),
    Case("${10 == '10'}", Bool(true)),
    Case("${'abc' == 10}", Error),
    Case("${'a' == 'a'}", Bool(true)),
    Case("${'a' == 'b'}", Bool(false)),
    Case("${'a' != 'b'}", Bool(true)),
    Case("${'a' eq 'A'}", Bool(false)),
    Case("${null == null}", Bool(true)),
    Case("${null == 0}", Bool(false)),
    Case("${null != null}", Bool(false)),
    Case("${'' == null}", Bool(false)),
    Case("${'' == 0}", Bool(true)),
    Case("${attributes.nothing == null}", Bool(true)),
    Case("${attributes.missing == null}", Bool(true)),
    Case("${attributes.token == null}", Bool(false)),
    Case("${true == 'true'}", Bool(true)),
    Case("${true == 'TRUE'}", Bool(true)),
    Case("${false == 'no'}", Bool(true)),
    Case("${true == 1}", Error),
    Case("${'1.0' == 1}", Bool(true)),
    Case("${1.5 == '1.5'}", Bool(true)),
    Case("${attributes.names == attributes.names}", Bool(true)),
    Case("${split('alice,bob', ',') == attributes.names}", Bool(true)),
    Case(
        "${split('alice,eve', ',') == attributes.names}",
        Bool(false),
    ),
    Case("${attributes.list == '[1, 2, 3]'}", Bool(true)),
    Case(
        "${attributes.map == toJson('{\"a\":1,\"b\":\"x\"}')}",
        Bool(true),
    ),
    Case("${0/0 == 0/0}", Bool(false)),
    Case("${request.method == 'GET'}", Bool(true)),
    Case("${request.uri.port == 443}", Bool(true)),
    Case("${request.uri.port == '443'}", Bool(true)),
    // ---- logical
    Case("${true && true}", Bool(true)),
    Case("${true && false}", Bool(false)),
    Case("${true and false}", Bool(false)),
    Case("${false || true}", Bool(true)),
    Case("${false or false}", Bool(false)),
    Case("${!true}", Bool(false)),
    Case("${not false}", Bool(true)),
    Case("${!'true'}", Bool(false)),
    Case("${!null}", Bool(true)),
    Case("${!''}", Bool(true)),
    Case("${!'yes'}", Bool(true)),
    Case("${!1}", Error),
    Case("${true && 'TRUE'}", Bool(true)),
    Case("${false && 1}", Bool(false)),
    Case("${true || 1}", Bool(true)),
    Case("${true && 1}", Error),
    Case("${false || 1}", Error),
    Case("${null && true}", Bool(false)),
    Case("${null || true}", Bool(true)),
    Case("${true and not false}", Bool(true)),
    Case("${!(1 == 2)}", Bool(true)),
    Case("${true || false && false}", Bool(true)),
    Case("${(true || false) && false}", Bool(false)),
    Case("${1 < 2 == 2 < 3}", Bool(true)),
    Case("${attributes.flag && attributes.count > 4}", Bool(true)),
    Case("${false && attributes.list + 1}", Bool(false)),
    // ---- empty
    Case("${empty null}", Bool(true)),
    Case("${empty ''}", Bool(true)),
    Case("${empty 'a'}", Bool(false)),
    Case("${empty 0}", Bool(false)),
    Case("${empty attributes.empty}", Bool(true)),
    Case("${empty attributes.list}", Bool(false)),
    Case("${empty attributes.missing}", Bool(true)),
    Case("${empty attributes.map}", Bool(false)),
    Case("${empty toJson('{}')}", Bool(true)),
    Case("${empty toJson('[]')}", Bool(true)),
    Case("${empty split('', ',')}", Bool(false)),
    Case("${!empty attributes.token}", Bool(true)),
    Case("${not empty request.headers['Host']}", Bool(true)),
    Case("${empty request.headers['Nope']}", Bool(true)),
    Case("${empty attributes.token == false}", Bool(true)),
    // ---- conditional
    Case("${true ? 'a' : 'b'}", Str("a")),
    Case("${false ? 'a' : 'b'}", Str("b")),
    Case("${attributes.count > 3 ? 'big' : 'small'}", Str("big")),
    Case("${null ? 1 : 2}", Int(2)),
    Case("${'true' ? 1 : 2}", Int(1)),
    Case("${1 ? 1 : 2}", Error),
    Case("${true ? false ? 1 : 2 : 3}", Int(2)),
    Case("${false ? 1 : true ? 2 : 3}", Int(2)),
    Case("${true ? 1 : 1 % 0}", Int(1)),
    Case(
        "${attributes.flag ? attributes.token : 'none'}",
        Str("tok123"),
    ),
    // ---- properties and scope lookups
    Case("${request.method}", Str("GET")),
    Case("${request.uri.path}", Str("/api/users/42")),
    Case("${request.uri.port}", Int(443)),
    Case("${request.uri.rawQuery}", Str("a=1&b=two%20words")),
    Case("${request.headers['Host'][0]}", Str("example.com")),
    Case("${request.headers['Accept'][1]}", Str("text/html")),
    Case("${request.headers['Accept'][2]}", Null),
    Case("${request.headers['Missing'][0]}", Null),
    Case("${request.headers.Host[0]}", Str("example.com")),
    Case("${request.headers['X-Api-Key'][0] == 'secret'}", Bool(true)),
    Case("${request.cookies['session'][0].value}", Str("s3cr3t")),
    Case("${request.form['user'][0]}", Str("alice")),
    Case("${request.entity.json.a}", Int(1)),
    Case("${attributes['token']}", Str("tok123")),
    Case(r#"${attributes["token"]}"#, Str("tok123")),
    Case("${attributes.nested.deep.value}", Str("v")),
    Case("${attributes.nested['deep']['value']}", Str("v")),
    Case("${attributes.list[0]}", Int(1)),
    Case("${attributes.list['1']}", Int(2)),
    Case("${attributes.list[1.9]}", Int(2)),
    Case("${attributes.list[-1]}", Null),
    Case("${attributes.list[10]}", Null),
    Case("${attributes.list['x']}", Error),
    Case("${attributes.list[attributes.map.a]}", Int(2)),
    Case("${attributes.names[attributes.count - 4]}", Str("bob")),
    Case("${request.headers[attributes.hdr][0]}", Str("secret")),
    Case("${attributes.missing.deeper}", Null),
    Case("${attributes.nothing.x}", Null),
    Case("${attributes.count.x}", Error),
    Case("${attributes.token.length}", Error),
    Case("${nosuchroot}", Null),
    Case("${nosuchroot.a.b}", Null),
    Case("${session.user}", Str("bob")),
    Case("${contexts.client.remoteAddress}", Str("10.1.2.3")),
    Case("${contexts.router.remainingUri}", Str("/users")),
    Case("${env['HOME']}", Str("/home/ig")),
    Case("${system['user.home']}", Str("/home/ig")),
    Case("${now.epochSeconds}", Int(1_700_000_000)),
    Case("${myProp}", Str("propValue")),
    Case("${(attributes.map).a}", Int(1)),
    Case("${toJson('{\"a\":[1,2]}').a[1]}", Int(2)),
    Case("${array('x', 'y')[1]}", Str("y")),
    Case("${'abc'.x}", Error),
    Case("${'abc'.empty}", Bool(false)),
    Case("${attributes.map['b']}", Str("x")),
    Case("${attributes.list}", List("[1, 2, 3]")),
    // ---- method calls
    Case("${request.uri.path.startsWith('/api')}", Bool(true)),
    Case("${request.uri.path.startsWith('/x')}", Bool(false)),
    Case("${'hello'.startsWith('l', 2)}", Bool(true)),
    Case("${request.uri.path.endsWith('42')}", Bool(true)),
    Case("${request.uri.path.contains('users')}", Bool(true)),
    Case("${request.method.equals('GET')}", Bool(true)),
    Case("${request.method.equals(1)}", Bool(false)),
    Case("${request.method.equalsIgnoreCase('get')}", Bool(true)),
    Case("${'ABC'.toLowerCase()}", Str("abc")),
    Case("${'abc'.toUpperCase()}", Str("ABC")),
    Case("${'  x  '.trim()}", Str("x")),
    Case("${'  Abc '.trim().toLowerCase()}", Str("abc")),
    Case("${'abc'.length()}", Int(3)),
    Case("${'héllo'.length()}", Int(5)),
    Case("${''.isEmpty()}", Bool(true)),
    Case("${'hello'.substring(1)}", Str("ello")),
    Case("${'hello'.substring(1, 3)}", Str("el")),
    Case("${'héllo'.substring(1, 3)}", Str("él")),
    Case("${'hello'.substring(3, 1)}", Error),
    Case("${'hello'.substring(10)}", Error),
    Case("${'hello'.indexOf('l')}", Int(2)),
    Case("${'hello'.indexOf('l', 3)}", Int(3)),
    Case("${'hello'.lastIndexOf('l')}", Int(3)),
    Case("${'hello'.indexOf('z')}", Int(-1)),
    Case("${'a.b.c'.replace('.', '/')}", Str("a/b/c")),
    Case("${'a1b22c'.replaceAll('[0-9]+', '#')}", Str("a#b#c")),
    Case("${'a1b22c'.replaceFirst('[0-9]+', '#')}", Str("a#b22c")),
    Case(
        r"${'john smith'.replaceAll('(\w+) (\w+)', '$2, $1')}",
        Str("smith, john"),
    ),
    Case(
        r"${'k=v'.replaceAll('(?<key>\w)=(?<val>\w)', '${val}=${key}')}",
        Str("v=k"),
    ),
    Case(r"${'a-b'.replaceAll('-', '\\$')}", Str("a$b")),
    Case("${'x'.replaceAll('x', '$1')}", Error),
    Case("${'a,b,,c,,'.split(',')}", List("[a, b, , c]")),
    Case("${'/api/v1'.split('/')}", List("[, api, v1]")),
    Case("${'abc'.matches('[a-c]+')}", Bool(true)),
    Case("${'abcd'.matches('[a-c]+')}", Bool(false)),
    Case(r"${'a1'.matches('[a-z]\\d')}", Bool(true)),
    Case("${'abc'.charAt(1)}", Str("b")),
    Case("${'abc'.charAt(5)}", Error),
    Case("${'abc'.concat('def')}", Str("abcdef")),
    Case("${'abc'.compareTo('abd')}", Int(-1)),
    Case("${'x'.equals('x')}", Bool(true)),
    Case("${'a'['toUpperCase']()}", Str("A")),
    Case("${attributes.list.size()}", Int(3)),
    Case("${attributes.list.get(0)}", Int(1)),
    Case("${attributes.list.get(5)}", Error),
    Case("${attributes.list.contains(2)}", Bool(true)),
    Case("${attributes.list.contains('2')}", Bool(false)),
    Case("${attributes.list.indexOf(3)}", Int(2)),
    Case("${attributes.list.isEmpty()}", Bool(false)),
    Case("${attributes.map.get('b')}", Str("x")),
    Case("${attributes.map.containsKey('a')}", Bool(true)),
    Case("${attributes.map.containsKey('z')}", Bool(false)),
    Case("${attributes.map.keySet()}", List("[a, b]")),
    Case("${attributes.map.values()}", List("[1, x]")),
    Case("${attributes.map.size()}", Int(2)),
    Case("${attributes.count.toString()}", Str("5")),
    Case("${attributes.ratio.toString()}", Str("2.5")),
    Case("${attributes.ratio.intValue()}", Int(2)),
    Case("${attributes.token.foo()}", Error),
    Case("${attributes.missing.trim()}", Error),
    Case("${attributes.flag.toUpperCase()}", Error),
    Case("${request.headers['Accept'].size()}", Int(2)),
    Case(
        "${request.headers['Host'][0].toUpperCase()}",
        Str("EXAMPLE.COM"),
    ),
    // ---- functions
    Case("${array('a', 'b', 'c')}", List("[a, b, c]")),
    Case("${array()}", List("[]")),
    Case("${array(1, null)}", List("[1, ]")),
    Case("${length(array('a', 'b'))}", Int(2)),
    Case("${bool('true')}", Bool(true)),
    Case("${bool('TRUE')}", Bool(true)),
    Case("${bool('yes')}", Bool(false)),
    Case("${bool(null)}", Bool(false)),
    Case("${contains('abc', 'b')}", Bool(true)),
    Case("${contains('abc', 'd')}", Bool(false)),
    Case("${contains(attributes.names, 'bob')}", Bool(true)),
    Case("${contains(attributes.names, 'eve')}", Bool(false)),
    Case("${contains(attributes.list, 1)}", Bool(true)),
    Case("${contains(attributes.list, '1')}", Bool(false)),
    Case("${contains(attributes.map, 'a')}", Bool(true)),
    Case("${contains(null, 'a')}", Bool(false)),
    Case("${contains('abc', null)}", Bool(false)),
    Case(
        "${contains(request.headers['Accept'], 'text/html')}",
        Bool(true),
    ),
    Case("${encodeBase64('hello')}", Str("aGVsbG8=")),
    Case("${encodeBase64('')}", Str("")),
    Case("${encodeBase64(null)}", Str("")),
    Case("${decodeBase64('aGVsbG8=')}", Str("hello")),
    Case("${decodeBase64('aGVsbG8')}", Str("hello")),
    Case("${decodeBase64('%%%')}", Null),
    Case("${encodeBase64url('??>')}", Str("Pz8-")),
    Case("${decodeBase64url('Pz8-')}", Str("??>")),
    Case("${decodeBase64url(encodeBase64url('a/b+c'))}", Str("a/b+c")),
    Case(
        "${encodeBase64(digestSha256('abc'))}",
        Str("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="),
    ),
    Case(
        "${encodeBase64url(digestSha256(''))}",
        Str("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"),
    ),
    Case("${length(digestSha256('x'))}", Int(32)),
    Case("${digestSha256('abc')[0]}", Int(-70)),
    Case("${find('/api/users', '^/api/')}", Bool(true)),
    Case("${find('/web', '^/api/')}", Bool(false)),
    Case(r"${find(request.uri.path, 'users/\\d+$')}", Bool(true)),
    Case("${find('abc', attributes.pattern)}", Bool(true)),
    Case("${find('abc', attributes.badpattern)}", Error),
    Case("${find(nothing, 'a{2}')}", Bool(false)),
    Case("${find('(?<=a)b', 'x')}", Bool(false)),
    Case("${find('ab', '(?<=a)b')}", Bool(true)),
    // Plain-text patterns take a string-comparison path; these pin its semantics.
    Case("${find('x/api/', '^/api/')}", Bool(false)),
    Case("${find('/api/x', '/api/$')}", Bool(false)),
    Case("${find('/x/api/', '/api/$')}", Bool(true)),
    Case("${find('xabcx', 'abc')}", Bool(true)),
    Case("${find('/health', '^/health$')}", Bool(true)),
    Case("${find('/healthz', '^/health$')}", Bool(false)),
    Case("${find('abc', '^a.c$')}", Bool(true)),
    Case("${find('anything', '')}", Bool(true)),
    Case("${matchesWithRegex('abc', 'abc')}", Bool(true)),
    Case("${matchesWithRegex('abcd', 'abc')}", Bool(false)),
    Case("${matchesWithRegex('abc', '^abc$')}", Bool(true)),
    Case("${find('abc', attributes.literal)}", Bool(true)),
    Case("${find('xabc', attributes.literal)}", Bool(false)),
    Case("${find('ABC', '(?i)abc')}", Bool(true)),
    Case(r"${matchesWithRegex('abab', '(ab)\\1')}", Bool(true)),
    Case(r"${matchesWithRegex('abac', '(ab)\\1')}", Bool(false)),
    Case(
        r"${findGroups('user=alice; id=42', 'id=(\\d+)')}",
        List("[id=42, 42]"),
    ),
    Case("${findGroups('abc', 'x(y)')}", Null),
    Case("${findGroups('ab', 'a(x)?b')}", List("[ab, null]")),
    Case("${indexOf('hello', 'll')}", Int(2)),
    Case("${indexOf('hello', 'z')}", Int(-1)),
    Case("${indexOf('héllo', 'l')}", Int(2)),
    Case("${integer('42')}", Int(42)),
    Case("${integer('-7')}", Int(-7)),
    Case("${integer('4x')}", Null),
    Case("${integer('2147483648')}", Null),
    Case("${integer(12)}", Int(12)),
    Case("${integer('42') + 1}", Int(43)),
    Case("${integerWithRadix('ff', 16)}", Int(255)),
    Case("${integerWithRadix('101', 2)}", Int(5)),
    Case("${integerWithRadix('z', 37)}", Null),
    Case("${integerWithRadix('12', '8')}", Int(10)),
    Case("${ipMatch('10.1.2.3', '10.0.0.0/8')}", Bool(true)),
    Case("${ipMatch('11.1.2.3', '10.0.0.0/8')}", Bool(false)),
    Case("${ipMatch('192.168.1.5', '192.168.1.0/24')}", Bool(true)),
    Case("${ipMatch('192.168.2.5', '192.168.1.0/24')}", Bool(false)),
    Case("${ipMatch('2001:db8::1', '2001:db8::/32')}", Bool(true)),
    Case("${ipMatch('2001:db9::1', '2001:db8::/32')}", Bool(false)),
    Case("${ipMatch('::ffff:10.0.0.1', '10.0.0.0/8')}", Bool(true)),
    Case("${ipMatch('10.0.0.1', '10.0.0.1')}", Bool(true)),
    Case("${ipMatch('10.0.0.2', '10.0.0.1')}", Bool(false)),
    Case("${ipMatch('10.0.0.1', '0.0.0.0/0')}", Bool(true)),
    Case("${ipMatch('junk', '10.0.0.0/8')}", Bool(false)),
    Case("${ipMatch('10.0.0.1', '10.0.0.0/33')}", Bool(false)),
    Case("${ipMatch('10.0.0.1', '2001:db8::/32')}", Bool(false)),
    Case(
        "${ipMatch(contexts.client.remoteAddress, '10.1.0.0/16')}",
        Bool(true),
    ),
    Case("${join(array('a', 'b'), ',')}", Str("a,b")),
    Case("${join(attributes.names, ' & ')}", Str("alice & bob")),
    Case("${join(attributes.list, '')}", Str("123")),
    Case("${join(null, ',')}", Null),
    Case("${join(array(), ',')}", Str("")),
    Case("${keyMatch(request.headers, 'X-.*')}", Str("X-Api-Key")),
    Case("${keyMatch(request.headers, 'x-.*')}", Null),
    Case("${keyMatch(request.headers, 'Host|Accept')}", Str("Host")),
    Case("${keyMatch(request.headers, 'Hos')}", Null),
    Case("${keyMatch('notamap', '.*')}", Null),
    Case("${lastElement(attributes.names)}", Str("bob")),
    Case("${lastElement(array())}", Null),
    Case("${lastElement('x')}", Null),
    Case("${lastElement(split('a/b/c', '/'))}", Str("c")),
    Case("${length('hello')}", Int(5)),
    Case("${length('héllo')}", Int(5)),
    Case("${length(attributes.list)}", Int(3)),
    Case("${length(attributes.map)}", Int(2)),
    Case("${length(null)}", Int(0)),
    Case("${length(42)}", Int(0)),
    Case(r"${matches('abc123', '\\d+')}", Bool(true)),
    Case("${matches('abc', '^b')}", Bool(false)),
    Case(r"${matchesWithRegex('abc123', '[a-z]+\\d+')}", Bool(true)),
    Case(r"${matchesWithRegex('abc123x', '[a-z]+\\d+')}", Bool(false)),
    Case("${matchesWithRegex('ab', 'a|ab')}", Bool(true)),
    Case(
        "${matchesWithRegex('abc', attributes.pattern)}",
        Bool(false),
    ),
    Case("${matchesWithRegex('bb', attributes.pattern)}", Bool(true)),
    Case(
        r"${matchingGroups('/users/42', '/users/(\\d+)')}",
        List("[/users/42, 42]"),
    ),
    Case("${matchingGroups('x', 'y')}", Null),
    Case("${split('a,b,c', ',')}", List("[a, b, c]")),
    Case("${split('a,b,,', ',')}", List("[a, b]")),
    Case("${length(split('', ','))}", Int(1)),
    Case(r"${split('a1b2c3', '\\d')}", List("[a, b, c]")),
    Case("${split('abc', '')}", List("[a, b, c]")),
    Case("${length(split(',a', ','))}", Int(2)),
    Case("${length(split('a.b', '.'))}", Int(0)),
    Case("${split(request.uri.path, '/')[2]}", Str("users")),
    Case(r#"${toJson('{"a":1,"b":[true,null]}').b[0]}"#, Bool(true)),
    Case("${toJson('[1,2]')[1]}", Int(2)),
    Case("${toJson('not json')}", Null),
    Case(r#"${toJson('"s"')}"#, Str("s")),
    Case(r#"${toJson('{"x":1.5}').x}"#, Float("1.5")),
    Case("${toJson(request.entity.string).a}", Int(1)),
    Case("${toLowerCase('ABC')}", Str("abc")),
    Case("${toUpperCase('abc')}", Str("ABC")),
    Case("${toLowerCase(null)}", Str("")),
    Case("${trim('  a b  ')}", Str("a b")),
    Case("${trim(null)}", Str("")),
    Case("${toString(42)}", Str("42")),
    Case("${toString(1.5)}", Str("1.5")),
    Case("${toString(null)}", Null),
    Case("${toString(true)}", Str("true")),
    Case("${toString(attributes.names)}", Str("[alice, bob]")),
    Case("${toString(attributes.map)}", Str("{a=1, b=x}")),
    Case("${urlEncode('a b&c=d/é')}", Str("a+b%26c%3Dd%2F%C3%A9")),
    Case("${urlEncode('*-._~')}", Str("*-._%7E")),
    Case("${urlDecode('a+b%26c')}", Str("a b&c")),
    Case("${urlDecode('%C3%A9')}", Str("é")),
    Case("${urlDecode('%zz')}", Null),
    Case("${urlDecode('50%')}", Null),
    Case(
        "${urlEncodeQueryParameterNameOrValue('a b&c=d+e/f?')}",
        Str("a%20b%26c%3Dd%2Be/f?"),
    ),
    Case(
        "${urlDecodeQueryParameterNameOrValue('a%20b+c')}",
        Str("a b c"),
    ),
    Case("${urlEncodePathElement('a b/c:d@e')}", Str("a%20b%2Fc:d@e")),
    Case("${urlDecodePathElement('a%2Fb+c')}", Str("a/b+c")),
    Case("${urlEncodeFragment('a b/c?d#e')}", Str("a%20b/c?d%23e")),
    Case("${urlDecodeFragment('a%23b')}", Str("a#b")),
    Case(
        "${urlEncodeUserInfo('user:p@ss word')}",
        Str("user:p%40ss%20word"),
    ),
    Case("${urlDecodeUserInfo('user:p%40ss')}", Str("user:p@ss")),
    // ---- templates and escapes
    Case("Bearer ${attributes.token}", Str("Bearer tok123")),
    Case("plain text", Str("plain text")),
    Case("", Str("")),
    Case("n=${attributes.count}", Str("n=5")),
    Case("${attributes.count}${attributes.count}", Str("55")),
    Case("a ${attributes.nothing} b", Str("a  b")),
    Case("x${attributes.missing}", Str("x")),
    Case(r"\${attributes.token}", Str("${attributes.token}")),
    Case(r"\\${attributes.token}", Str(r"\${attributes.token}")),
    Case(r"a\b", Str(r"a\b")),
    Case(r"trailing\", Str(r"trailing\")),
    Case(r"\$x", Str(r"\$x")),
    Case("#{attributes.token}", Str("#{attributes.token}")),
    Case("$ {x}", Str("$ {x}")),
    Case("price: $5", Str("price: $5")),
    Case("${'a'}${'b'}", Str("ab")),
    Case("list=${attributes.list}", Str("list=[1, 2, 3]")),
    Case("map=${attributes.map}", Str("map={a=1, b=x}")),
    Case("flag=${attributes.flag}", Str("flag=true")),
    Case("err=${1 % 0}", Error),
    Case("${attributes.token}-${attributes.token.nope()}", Error),
    Case("${'a}b'}", Str("a}b")),
    Case("{${attributes.token}}", Str("{tok123}")),
    Case(
        "${request.uri.scheme}://${request.uri.host}:${request.uri.port}${request.uri.path}",
        Str("https://example.com:443/api/users/42"),
    ),
    Case("${ attributes.token }", Str("tok123")),
    Case("${attributes.token\n== 'tok123'}", Bool(true)),
    Case("é ${'ü'} ö", Str("é ü ö")),
    // ---- conditions
    Case(
        "${request.method == 'GET' && find(request.uri.path, '^/api/')}",
        Cond(true),
    ),
    Case("${request.method == 'POST'}", Cond(false)),
    Case("${'TRUE'}", Cond(true)),
    Case("${'yes'}", Cond(false)),
    Case("${1}", Cond(false)),
    Case("${null}", Cond(false)),
    Case("${1 % 0 == 1}", Cond(false)),
    Case("${attributes.flag}", Cond(true)),
    Case("true", Cond(true)),
    Case("${attributes.missing}", Cond(false)),
    Case(
        "${not empty request.headers['X-Api-Key'] and request.headers['X-Api-Key'][0] eq 'secret'}",
        Cond(true),
    ),
    // ---- parse errors (byte offset of the problem)
    Case("${", ParseErr(0)),
    Case("abc ${attributes.token", ParseErr(4)),
    Case("${1 +}", ParseErr(5)),
    Case("${}", ParseErr(2)),
    Case("${fnd(x)}", ParseErr(2)),
    Case("${find('a')}", ParseErr(2)),
    Case("${find('a', '(')}", ParseErr(12)),
    Case("${'abc}", ParseErr(2)),
    Case("${1 2}", ParseErr(4)),
    Case("${a.}", ParseErr(4)),
    Case("${a[1}", ParseErr(5)),
    Case("${(1 + 2}", ParseErr(8)),
    Case("${a ? b}", ParseErr(7)),
    Case("${a = 1}", ParseErr(4)),
    Case("${a & b}", ParseErr(4)),
    Case("${#}", ParseErr(2)),
    Case("${x instanceof y}", ParseErr(4)),
    Case("${instanceof}", ParseErr(2)),
    Case("${'a'.replaceAll('[', 'b')}", ParseErr(17)),
    Case("ok ${a} ${b", ParseErr(8)),
    Case("${a.b(}", ParseErr(6)),
    Case("${matches(x, 'a', 'b')}", ParseErr(2)),
    Case("${toJson()}", ParseErr(2)),
    Case("${array(}", ParseErr(8)),
    Case("${1 + (2 * 3}", ParseErr(12)),
    Case("${1..2}", ParseErr(4)),
    Case("${a[1](2)}", ParseErr(6)),
    Case("x ${é + }", ParseErr(9)),
];

fn check(case: &Case, scope: &TestScope) -> Result<(), String> {
    let Case(src, expected) = case;
    let parsed = Expression::parse(src);
    if let ParseErr(offset) = expected {
        return match parsed {
            Err(e) if e.offset == *offset => Ok(()),
            Err(e) => Err(format!(
                "parse error at {} instead of {offset}: {e}",
                e.offset
            )),
            Ok(_) => Err(format!("parsed, expected a parse error at {offset}")),
        };
    }
    let expr = parsed.map_err(|e| format!("parse error: {e}"))?;
    if let Cond(want) = expected {
        let got = expr.eval_condition(scope);
        return if got == *want {
            Ok(())
        } else {
            Err(format!("condition {got}, expected {want}"))
        };
    }
    let result = expr.try_eval(scope);
    if result
        .as_ref()
        .is_ok_and(|v| !v.java_equals(&expr.eval(scope)))
    {
        return Err("eval and try_eval disagree".to_owned());
    }
    let ok = match (expected, &result) {
        (Error, Err(_)) => {
            return if expr.eval(scope).is_null() {
                Ok(())
            } else {
                Err("an error must evaluate to null".to_owned())
            };
        }
        (_, Err(e)) => return Err(format!("evaluation error: {e}")),
        (Int(want), Ok(Value::Int(got))) => want == got,
        (Float(want), Ok(v @ Value::Float(_))) => v.to_string() == *want,
        (Bool(want), Ok(Value::Bool(got))) => want == got,
        (Str(want), Ok(Value::Str(got))) => *want == got.as_ref(),
        (Null, Ok(Value::Null)) => true,
        (List(want), Ok(v @ Value::List(_))) => v.to_string() == *want,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("got {result:?}, expected {expected:?}"))
    }
}

#[test]
fn table() {
    let scope = scope();
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|case| {
            check(case, &scope)
                .err()
                .map(|e| format!("{:?}: {e}", case.0))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
    assert!(CASES.len() >= 250, "only {} cases", CASES.len());
}

fn parse(src: &str) -> Expression {
    match Expression::parse(src) {
        Ok(e) => e,
        Err(e) => panic!("{src:?} should parse: {e}"),
    }
}

fn parse_err(src: &str) -> ParseError {
    match Expression::parse(src) {
        Ok(_) => panic!("{src:?} should not parse"),
        Err(e) => e,
    }
}

#[test]
fn parse_error_messages() {
    let e = parse_err("${fnd(request.uri.path, '^/a')}");
    assert_eq!(e.message, "unknown function 'fnd', did you mean 'find'?");
    assert_eq!(e.column(), 3);
    let shown = e.to_string();
    assert!(
        shown.starts_with("unknown function 'fnd', did you mean 'find'? at column 3 of \"${fnd("),
        "{shown}"
    );
    assert!(shown.ends_with("\n      ^"), "{shown:?}");

    let e = parse_err("${find(x, 'a' 'b')}");
    assert_eq!(
        e.message,
        "expected ')' to close the call to 'find' opened at column 7, found ''b''"
    );
    assert_eq!(e.offset, 14);

    let e = parse_err("${find(x, 'a'}");
    assert!(
        e.message
            .starts_with("unexpected end of expression: expected ')'"),
        "{}",
        e.message
    );

    let e = parse_err("${1 +");
    assert!(e.message.contains("no closing '}'"), "{}", e.message);
    assert_eq!(e.offset, 0);

    let e = parse_err("${TOLOWERCASE(x)}");
    assert!(
        e.message.contains("did you mean 'toLowerCase'"),
        "{}",
        e.message
    );

    let e = parse_err("${frobnicate(x)}");
    assert!(
        e.message.contains("the functions are array, bool"),
        "{}",
        e.message
    );

    let e = parse_err("${split('a')}");
    assert_eq!(e.message, "function 'split' takes 2 arguments, found 1");

    let e = parse_err("${find(x, '[')}");
    assert!(
        e.message
            .starts_with("invalid regular expression in argument 2 of 'find'"),
        "{}",
        e.message
    );
    assert_eq!(e.offset, 10);

    let e = parse_err("${a = b}");
    assert!(e.message.contains("use '==' or 'eq'"), "{}", e.message);

    let e = parse_err("${1 +}");
    assert!(
        e.message.starts_with("unexpected end of expression"),
        "{}",
        e.message
    );
}

#[test]
fn nesting_and_size_limits() {
    let deep = format!("${{{}1{}}}", "(".repeat(40), ")".repeat(40));
    assert!(parse_err(&deep).message.contains("nested too deeply"));
    let negations = format!("${{{}true}}", "!".repeat(40));
    assert!(parse_err(&negations).message.contains("nested too deeply"));
    let arithmetic = format!("${{x{}}}", " + x".repeat(70));
    assert!(parse_err(&arithmetic).message.contains("nested too deeply"));
    let methods = format!("${{x{}}}", ".trim()".repeat(70));
    assert!(parse_err(&methods).message.contains("nested too deeply"));

    // Constant prefixes fold, and boolean chains are flat: neither counts as depth.
    let folded = format!("${{1{} + attributes.count}}", " + 1".repeat(500));
    assert_eq!(parse(&folded).eval(&scope()), Value::Int(506));
    let allowlist = (0..1000)
        .map(|i| {
            format!(
                "ipMatch(contexts.client.remoteAddress, '10.{}.0.0/16')",
                i % 256
            )
        })
        .collect::<Vec<_>>()
        .join(" || ");
    assert!(parse(&format!("${{{allowlist}}}")).eval_condition(&scope()));
}

/// The limits keep the largest accepted expressions within a small thread stack, even
/// unoptimized.
#[test]
fn largest_expressions_fit_a_small_stack() {
    let chain = format!("${{attributes.flag{}}}", " && attributes.flag".repeat(2000));
    let nested = format!(
        "${{{}attributes.count{}}}",
        "(1 + ".repeat(30),
        ")".repeat(30)
    );
    let methods = format!("${{attributes.token{}}}", ".trim()".repeat(63));
    let arithmetic = format!("${{attributes.count{}}}", " + attributes.count".repeat(63));
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let scope = scope();
            [&chain, &nested, &methods, &arithmetic].map(|src| parse(src).eval(&scope))
        });
    let results = match handle.map(std::thread::JoinHandle::join) {
        Ok(Ok(results)) => results,
        _ => panic!("evaluation overflowed a 1 MiB stack"),
    };
    assert_eq!(results[0], Value::Bool(true));
    assert_eq!(results[1], Value::Int(35));
    assert_eq!(results[2], Value::from("tok123"));
    assert_eq!(results[3], Value::Int(320));
}

#[test]
fn constants_are_folded() {
    let scope = scope();
    let cases: &[(&str, Option<Value>)] = &[
        ("plain", Some(Value::from("plain"))),
        ("${1 + 2}", Some(Value::Int(3))),
        ("a${1}b", Some(Value::from("a1b"))),
        ("${find('abc', 'b')}", Some(Value::Bool(true))),
        ("${'x'.toUpperCase()}", Some(Value::from("X"))),
        ("${false && request.entity}", Some(Value::Bool(false))),
        ("${x}", None),
        ("${1 % 0}", None),
        ("a${x}", None),
    ];
    for (src, want) in cases {
        let expr = parse(src);
        match (expr.constant(), want) {
            (Some(got), Some(want)) => assert!(got.java_equals(want), "{src}: {got:?}"),
            (None, None) => {}
            (got, want) => panic!("{src}: constant {got:?}, expected {want:?}"),
        }
        if let Some(c) = expr.constant() {
            assert!(expr.eval(&scope).java_equals(c), "{src}");
        }
    }
    // A folded error still reports at evaluation.
    assert_eq!(
        parse("${1 % 0}").try_eval(&scope),
        Err(EvalError::DivisionByZero)
    );
}

#[test]
fn roots_and_reads() {
    let e = parse("${request.method == 'GET' && attributes.x} ${request.uri}");
    assert_eq!(
        e.roots().iter().map(|r| r.as_ref()).collect::<Vec<_>>(),
        ["request", "attributes"]
    );
    assert!(e.reads_path("request", "method"));
    assert!(e.reads_path("request", "uri"));
    assert!(!e.reads_path("request", "entity"));
    assert!(!e.reads_path("response", "entity"));

    assert!(parse("${request.entity.json.a}").reads_path("request", "entity"));
    assert!(parse("${request}").reads_path("request", "entity"));
    assert!(parse("${request[attributes.k]}").reads_path("request", "entity"));
    assert!(parse("${find(request.entity.string, 'x')}").reads_path("request", "entity"));
    assert!(parse("${attributes[request.entity.string]}").reads_path("request", "entity"));
    assert!(parse("${false && request.entity}").roots().is_empty());
    assert!(parse("plain").roots().is_empty());
}

#[test]
fn assignment() {
    let mut scope = scope();
    let targets: &[(&str, Value, &str, &str)] = &[
        (
            "${attributes.user}",
            Value::from("alice"),
            "${attributes.user}",
            "alice",
        ),
        (
            "${request.headers['X-A']}",
            Value::from(vec![Value::from("1")]),
            "${request.headers['X-A'][0]}",
            "1",
        ),
        ("${session.n}", Value::Int(5), "${session.n + 1}", "6"),
        (
            "${request.uri}",
            Value::from("http://h/p"),
            "${request.uri}",
            "http://h/p",
        ),
        (
            "${attributes[attributes.keyname]}",
            Value::from("d"),
            "${attributes.dyn}",
            "d",
        ),
        (
            "${attributes.list[0]}",
            Value::Int(9),
            "${attributes.list}",
            "[9, 2, 3]",
        ),
        (
            "${attributes.fresh.deep}",
            Value::Bool(true),
            "${attributes.fresh}",
            "{deep=true}",
        ),
        ("${newroot}", Value::Int(1), "${newroot}", "1"),
    ];
    for (target, value, check, want) in targets {
        let expr = parse(target);
        assert!(expr.is_lvalue(), "{target}");
        if let Err(e) = expr.assign(&mut scope, value.clone()) {
            panic!("{target}: {e}");
        }
        assert_eq!(parse(check).eval(&scope).to_string(), *want, "{target}");
    }

    for not_lvalue in [
        "${1 + 1}",
        "Bearer ${x}",
        "${a.b()}",
        "${trim(x)}",
        "plain",
        "${'a'}",
        "${a}${b}",
    ] {
        let expr = parse(not_lvalue);
        assert!(!expr.is_lvalue(), "{not_lvalue}");
        assert!(
            matches!(
                expr.assign(&mut scope, Value::Null),
                Err(EvalError::NotAssignable(_))
            ),
            "{not_lvalue}"
        );
    }

    // An error computing a key aborts the assignment.
    assert!(
        parse("${attributes[1 % 0]}")
            .assign(&mut scope, Value::Null)
            .is_err()
    );
    // Scopes refuse writes unless they implement them.
    assert!(matches!(
        parse("${attributes.x}").assign(&mut EmptyScope, Value::Null),
        Err(EvalError::NotAssignable(path)) if path == "attributes['x']"
    ));
    // Writing below a string is the scope's call; the test scope refuses.
    assert!(
        parse("${attributes.token.x}")
            .assign(&mut scope, Value::Null)
            .is_err()
    );
}

#[test]
fn values() {
    assert_eq!(Value::Int(10), Value::from("10"));
    assert_eq!(Value::Bool(true), Value::from("TRUE"));
    assert_ne!(Value::Int(10), Value::from("ten"));
    assert_ne!(Value::Null, Value::Int(0));
    assert!(!Value::Int(1).java_equals(&Value::Float(1.0)));
    assert!(Value::Null.is_empty_el());
    assert!(!Value::from("x").is_empty_el());
    assert_eq!(Value::from("x").as_str(), Some("x"));
    assert_eq!(Value::from(Some(3_i64)), Value::Int(3));
    assert!(Value::from(None::<i64>).is_null());

    let json = serde_json::json!({"b": [1, 2.5, "s", null, true], "a": {"x": {}}, "big": 18446744073709551615_u64});
    let v = Value::from_json(&json);
    assert_eq!(
        v.to_string(),
        "{b=[1, 2.5, s, null, true], a={x={}}, big=1.8446744073709552E19}"
    );
    let back = v.to_json();
    assert_eq!(back["b"], json["b"]);
    assert_eq!(back["a"], json["a"]);
    assert_eq!(Value::Float(f64::NAN).to_json(), serde_json::Value::Null);
    assert_eq!(Value::Null.to_string(), "");
    assert_eq!(Value::from(vec![Value::Null]).to_string(), "[null]");
}

#[test]
fn expression_is_shareable() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Expression>();
    assert_send_sync::<Value>();
    let e = parse("Bearer ${attributes.token}");
    let clone = e.clone();
    assert_eq!(clone.source(), "Bearer ${attributes.token}");
    assert!(format!("{e:?}").contains("Bearer"));
}

#[test]
fn dynamic_regexes_beyond_the_cache() {
    let expr = parse("${find(attributes.subject, attributes.pattern)}");
    for i in 0..600 {
        let mut scope = scope();
        let subject = format!("item{i}");
        let pattern = format!("^item{i}$");
        let attrs = scope.roots.entry("attributes".to_owned()).or_default();
        assign_into(attrs, &[Value::from("subject")], Value::from(subject)).ok();
        assign_into(attrs, &[Value::from("pattern")], Value::from(pattern)).ok();
        assert!(expr.eval_condition(&scope), "pattern {i}");
    }
}

/// Arbitrary input must never panic, in parsing or evaluation.
#[test]
fn garbage_never_panics() {
    const ALPHABET: &[&str] = &[
        "${",
        "}",
        "\\",
        "$",
        "{",
        "'",
        "\"",
        "(",
        ")",
        "[",
        "]",
        ".",
        ",",
        "?",
        ":",
        "a",
        "request",
        "headers",
        "0",
        "1.5e",
        "-",
        "+",
        "*",
        "/",
        "%",
        "!",
        "=",
        "==",
        "<",
        ">",
        "&&",
        "||",
        "empty",
        "not",
        "find(",
        "split(",
        "'(",
        "é",
        " ",
        "\n",
        "null",
        "true",
        "substring(",
        ".trim()",
        "[0]",
        "#{",
        "e",
        "9999999999999999999999",
    ];
    let scope = scope();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..20_000 {
        let mut src = String::new();
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 12) as usize;
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            src.push_str(ALPHABET[(state % ALPHABET.len() as u64) as usize]);
        }
        if let Ok(expr) = Expression::parse(&src) {
            let _ = expr.eval(&scope);
            let _ = expr.eval_condition(&scope);
        }
    }
}
