use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use super::*;

fn parse(text: &str) -> (SourceDoc, Value) {
    match SourceDoc::parse(Some(Arc::from(Path::new("routes/api.json"))), text) {
        Ok(parsed) => parsed,
        Err(error) => panic!("unexpected error: {error}"),
    }
}

fn parse_err(text: &str) -> ConfigError {
    match SourceDoc::parse(Some(Arc::from(Path::new("routes/api.json"))), text) {
        Ok((_, value)) => panic!("expected an error, parsed {value}"),
        Err(error) => error,
    }
}

fn pos(line: usize, column: usize) -> Option<Position> {
    Some(Position { line, column })
}

/// Asserts the error's position and that its message contains `fragment`.
#[track_caller]
fn assert_error(text: &str, line: usize, column: usize, fragment: &str) -> ConfigError {
    let error = parse_err(text);
    assert_eq!(error.position, pos(line, column), "position of: {error}");
    assert!(
        error.message.contains(fragment),
        "message {:?} lacks {fragment:?}",
        error.message
    );
    assert_eq!(
        error.file.as_deref(),
        Some(Path::new("routes/api.json")),
        "{error}"
    );
    error
}

#[test]
fn values_match_serde_json() {
    let documents = [
        r#"{"a": 1, "b": [true, false, null], "c": {"d": "e"}}"#,
        r#"[0, -1, 1.5, -2.25e3, 1E2, 1e-2, 18446744073709551615, 18446744073709551616]"#,
        r#"[-9223372036854775808, -9223372036854775809, -0, 0.0, -0.0, 123456789012345678901234567890]"#,
        r#"["plain", "esc \" \\ \/ \b \f \n \r \t", "\u00e9\u4e2d\uD83D\uDE00", "é中😀"]"#,
        r#"{"z": 1, "a": 2, "m": {"y": [], "b": {}}}"#,
        r#"  "just a string"  "#,
        "42",
        "null",
        "[1.7976931348623157e308, 5e-324, 0.1, 3.141592653589793]",
    ];
    for text in documents {
        let (_, value) = parse(text);
        let expected: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(error) => panic!("serde_json refused {text}: {error}"),
        };
        assert_eq!(value, expected, "for {text}");
        // Same representation too (integer vs float), and the same key order.
        assert_eq!(value.to_string(), expected.to_string(), "for {text}");
    }
}

#[test]
fn records_value_and_key_positions() {
    let text = "{\n  \"handler\": \"ReverseProxyHandler\",\n  \"heap\": [\n    {\"name\": \"a\"},\n    7\n  ]\n}";
    let (doc, _) = parse(text);
    assert_eq!(doc.position_of(""), pos(1, 1));
    assert_eq!(doc.position_of("/handler"), pos(2, 14));
    assert_eq!(doc.key_position_of("/handler"), pos(2, 3));
    assert_eq!(doc.position_of("/heap"), pos(3, 11));
    assert_eq!(doc.position_of("/heap/0"), pos(4, 5));
    assert_eq!(doc.key_position_of("/heap/0"), pos(4, 5));
    assert_eq!(doc.position_of("/heap/0/name"), pos(4, 14));
    assert_eq!(doc.key_position_of("/heap/0/name"), pos(4, 6));
    assert_eq!(doc.position_of("/heap/1"), pos(5, 5));
    assert_eq!(doc.position_of("/nothing"), None);

    let span = doc.span("/handler").cloned();
    assert_eq!(
        span.map(|s| &text[s.value]),
        Some("\"ReverseProxyHandler\"")
    );
    let key = doc.span("/handler").and_then(|s| s.key.clone());
    assert_eq!(key.map(|k| &text[k]), Some("\"handler\""));
    assert_eq!(doc.span("").map(|s| s.value.clone()), Some(0..text.len()));
}

#[test]
fn pointers_of_awkward_keys_are_escaped() {
    let (doc, value) = parse(r#"{"a/b": {"m~n": 1, "": 2}}"#);
    assert_eq!(doc.position_of("/a~1b/m~0n"), pos(1, 17));
    assert_eq!(doc.position_of("/a~1b/"), pos(1, 24));
    assert_eq!(value.pointer("/a~1b/m~0n"), Some(&json!(1)));
}

#[test]
fn columns_count_characters_not_bytes() {
    let (doc, _) = parse("{\"é中😀\": \"x\", \"k\": 1}");
    // é, 中 and 😀 are 2, 3 and 4 bytes, but one column each.
    assert_eq!(doc.key_position_of("/é中😀"), pos(1, 2));
    assert_eq!(doc.position_of("/é中😀"), pos(1, 9));
    assert_eq!(doc.key_position_of("/k"), pos(1, 14));
}

#[test]
fn line_endings_and_byte_order_mark() {
    let (doc, _) = parse("{\r\n\"a\": 1,\r\n\"b\": 2}");
    assert_eq!(doc.position_of("/a"), pos(2, 6));
    assert_eq!(doc.position_of("/b"), pos(3, 6));

    let (doc, _) = parse("{\r\"a\": 1}");
    assert_eq!(doc.position_of("/a"), pos(2, 6));

    let (doc, value) = parse("\u{feff}{\"a\": 1}");
    assert_eq!(value, json!({"a": 1}));
    assert_eq!(doc.position_of(""), pos(1, 1));
    assert_eq!(doc.position_of("/a"), pos(1, 7));
}

#[test]
fn comments_are_skipped() {
    let text = r#"// IG allows comments
{
  /* the main handler, with "quotes", {braces} and // slashes */
  "handler": "x", // trailing comment with ] and }
  "n": /* inline */ 5
  /* multi
     line */
}
// end"#;
    let (doc, value) = parse(text);
    assert_eq!(value, json!({"handler": "x", "n": 5}));
    assert_eq!(doc.position_of("/handler"), pos(4, 14));
    assert_eq!(doc.position_of("/n"), pos(5, 21));

    let (_, value) = parse("[1, // comment at the end of input\n2]// no newline");
    assert_eq!(value, json!([1, 2]));
    let (_, value) = parse("/**/[/***/]/* */");
    assert_eq!(value, json!([]));
}

#[test]
fn comment_errors() {
    assert_error("{\"a\": 1 /* never closed\n}", 1, 9, "unterminated comment");
    let error = assert_error("{\"a\": 1 / 2}", 1, 9, "unexpected '/'");
    assert_eq!(error.hint.as_deref(), Some("comments start with // or /*"));
}

#[test]
fn strings_inside_comments_do_not_matter_and_comments_inside_strings_are_text() {
    let (_, value) = parse(r#"{"url": "http://example.com/*x*/", "c": "//"}"#);
    assert_eq!(value, json!({"url": "http://example.com/*x*/", "c": "//"}));
}

#[test]
fn missing_comma_between_members() {
    let error = assert_error(
        "{\n  \"handler\": \"x\"\n  \"heap\": []\n}",
        3,
        3,
        "expected ',' or '}' after the value of \"handler\", found '\"'",
    );
    assert_eq!(
        error.hint.as_deref(),
        Some("add a ',' between the members of the object")
    );
}

#[test]
fn missing_comma_between_elements() {
    let error = assert_error(
        "[1, 2 3]",
        1,
        7,
        "expected ',' or ']' after element 1 of the array, found '3'",
    );
    assert!(error.hint.is_some());
}

#[test]
fn trailing_commas_point_at_the_comma() {
    assert_error("{\"a\": 1,\n}", 1, 8, "trailing comma");
    assert_error("[1, 2, // last\n]", 1, 6, "trailing comma");
    assert_error("[1, /* , */ ]", 1, 3, "trailing comma");
    assert_error(
        "[,]",
        1,
        2,
        "expected a value for element 0 of the array, found ','",
    );
    assert_error(
        "{,}",
        1,
        2,
        "expected a key in double quotes or '}', found ','",
    );
}

#[test]
fn unquoted_and_single_quoted_keys() {
    let error = assert_error("{handler: 1}", 1, 2, "found `handler`");
    assert_eq!(
        error.hint.as_deref(),
        Some("JSON keys must be quoted: write \"handler\"")
    );
    assert_error("{'a': 1}", 1, 2, "single quote");
    assert_error("{\"a\": 'b'}", 1, 7, "single quote");
}

#[test]
fn missing_colon() {
    assert_error(
        "{\"a\" 1}",
        1,
        6,
        "expected ':' after the key \"a\", found '1'",
    );
    let error = assert_error("{\"a\" = 1}", 1, 6, "expected ':'");
    assert!(error.hint.is_some());
}

#[test]
fn bad_literals() {
    let error = assert_error(
        "{\"a\": True}",
        1,
        7,
        "expected a value for \"a\", found `True`",
    );
    assert_eq!(
        error.hint.as_deref(),
        Some("JSON literals are lowercase: write true")
    );
    assert_error("[nul]", 1, 2, "found `nul`");
    assert_error("{\"a\": NaN}", 1, 7, "`NaN`");
    assert_error("{\"a\": undefined}", 1, 7, "`undefined`");
    assert_error("{\"a\": }", 1, 7, "expected a value for \"a\", found '}'");
    assert_error("{\"a\": +1}", 1, 7, "found '+'");
    assert_error("{\"a\": .5}", 1, 7, "found '.'");
    assert_error("[truex]", 1, 2, "`truex`");
}

#[test]
fn bad_numbers() {
    assert_error("[01]", 1, 2, "leading zero");
    assert_error("[-01]", 1, 2, "leading zero");
    assert_error("[1.]", 1, 4, "expected a digit after the decimal point");
    assert_error("[1e]", 1, 4, "expected a digit in the exponent");
    assert_error("[1e+]", 1, 5, "expected a digit in the exponent");
    assert_error("[-]", 1, 2, "expected a digit after '-'");
    assert_error("[1e400]", 1, 2, "number out of range");
    assert_error("[1x]", 1, 3, "expected ',' or ']' after element 0");
}

#[test]
fn string_errors() {
    let error = assert_error(r#"{"a": "x\qy"}"#, 1, 9, r"invalid escape \q");
    assert!(error.hint.as_deref().is_some_and(|h| h.contains(r"\\d")));
    assert_error(r#"["\é"]"#, 1, 3, r"invalid escape \é");
    assert_error(r#"["\u12"]"#, 1, 3, "four hex digits");
    assert_error(r#"["\uZZZZ"]"#, 1, 3, "four hex digits");
    assert_error(r#"["ok", "\uD83D"]"#, 1, 9, "lone UTF-16 surrogate");
    assert_error(r#"["\uD83Dx"]"#, 1, 3, "lone UTF-16 surrogate");
    assert_error(r#"["\uDE00"]"#, 1, 3, "lone UTF-16 surrogate");
    assert_error(r#"["\uD83D\u0041"]"#, 1, 3, "lone UTF-16 surrogate");
    assert_error("[\"a\tb\"]", 1, 4, "control character U+0009");
    let error = assert_error(
        "{\n  \"a\": \"no end,\n  \"b\": 1\n}",
        2,
        16,
        "unterminated string: the string that starts at 2:8 runs into the end of the line",
    );
    assert!(error.hint.is_some());
    assert_error("[\"abc", 1, 2, "unterminated string: the file ends");
    assert_error("[\"abc\\", 1, 2, "unterminated string");
}

#[test]
fn unexpected_end_names_the_unclosed_bracket() {
    let error = assert_error(
        "{\n  \"a\": {\n    \"b\": [1, 2",
        3,
        15,
        "unexpected end of file: an array opened at 3:10 is not closed",
    );
    assert_eq!(error.hint.as_deref(), Some("add the missing ']'"));
    assert_error(
        "{\n  \"a\": {\n    \"b\": 1\n  }\n",
        5,
        1,
        "unexpected end of file: an object opened at 1:1 is not closed",
    );
    assert_error("{\"a\"", 1, 5, "an object opened at 1:1 is not closed");
    assert_error("{\"a\":", 1, 6, "an object opened at 1:1 is not closed");
    assert_error(
        "{\"a\": // comment",
        1,
        17,
        "an object opened at 1:1 is not closed",
    );
    assert_error("[", 1, 2, "an array opened at 1:1 is not closed");
}

#[test]
fn empty_documents_and_trailing_content() {
    assert_error("", 1, 1, "the document is empty");
    assert_error("  // only a comment\n", 2, 1, "the document is empty");
    let error = assert_error(
        "{}\n}",
        2,
        1,
        "unexpected '}' after the end of the JSON document",
    );
    assert!(error.hint.is_some());
    assert_error("{} {}", 1, 4, "after the end of the JSON document");
}

#[test]
fn duplicate_keys_name_both_places() {
    let error = assert_error(
        "{\n  \"handler\": 1,\n  \"name\": \"x\",\n  \"handler\": 2\n}",
        4,
        3,
        "duplicate key \"handler\": this object already has it at 2:3",
    );
    assert_eq!(error.pointer, "/handler");
    assert!(error.hint.as_deref().is_some_and(|h| h.contains("IG")));
    // The same key in different objects is fine.
    parse(r#"{"a": {"k": 1}, "b": {"k": 2}, "c": [{"k": 3}, {"k": 4}]}"#);
}

#[test]
fn errors_carry_the_pointer_of_the_innermost_value() {
    let error = parse_err(r#"{"heap": [{"name": "a", "config": {"x": tru}}]}"#);
    assert_eq!(error.pointer, "/heap/0/config/x");
    let error = parse_err(r#"{"heap": [{"name": "a" "type": 1}]}"#);
    assert_eq!(error.pointer, "/heap/0");
    let error = parse_err("[1, 2 3]");
    assert_eq!(error.pointer, "");
}

#[test]
fn display_of_a_syntax_error() {
    let error = parse_err("{\n  \"handler\": \"x\"\n  \"heap\": []\n}");
    assert_eq!(
        error.to_string(),
        "routes/api.json:3:3: expected ',' or '}' after the value of \"handler\", found '\"'\n  \
         help: add a ',' between the members of the object"
    );
}

#[test]
fn depth_limit() {
    let deep_ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    parse(&deep_ok);
    let mixed_ok = format!(
        "{}1{}",
        "{\"a\":[".repeat(MAX_DEPTH / 2),
        "]}".repeat(MAX_DEPTH / 2)
    );
    parse(&mixed_ok);

    let too_deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
    assert_error(&too_deep, 1, MAX_DEPTH + 1, "nested more than 128 levels");
    // Hostile input: far deeper than the limit must fail cleanly, not overflow the stack.
    let hostile = "[".repeat(1_000_000);
    assert_error(&hostile, 1, MAX_DEPTH + 1, "nested more than 128 levels");
}

#[test]
fn error_falls_back_to_the_nearest_known_ancestor() {
    let (doc, _) = parse("{\n  \"heap\": [\n    {\"name\": \"a\"}\n  ]\n}");
    let error = doc.error("/heap/0/type", "missing required key \"type\"");
    assert_eq!(error.pointer, "/heap/0/type");
    assert_eq!(error.position, pos(3, 5));
    let error = doc.error("/nothing/at/all", "message");
    assert_eq!(error.position, pos(1, 1));
    let error = doc.key_error("/heap/0/name", "unknown key");
    assert_eq!(error.position, pos(3, 6));
    let error = doc.key_error("/heap", "unknown key");
    assert_eq!(error.position, pos(2, 3));
    assert_eq!(
        error.to_string(),
        "routes/api.json:2:3: unknown key (at /heap)"
    );
}

#[test]
fn error_in_string_maps_decoded_offsets_through_escapes() {
    let text =
        r#"{"condition": "${a \u0026\u0026 \"é\" ==\n b}", "n": 1, "emoji": "\uD83D\uDE00x"}"#;
    let (doc, value) = parse(text);
    let decoded = value["condition"].as_str().unwrap_or_default();
    assert_eq!(decoded, "${a && \"é\" ==\n b}");
    let column_of = |offset: usize| {
        doc.error_in_string("/condition", offset, "m")
            .position
            .map(|p| p.column)
    };
    // The string's opening quote is at column 15; its content starts at 16.
    assert_eq!(column_of(0), Some(16)); // '$'
    assert_eq!(column_of(2), Some(18)); // 'a'
    assert_eq!(column_of(4), Some(20)); // first '&' = "\u0026"
    assert_eq!(column_of(5), Some(26)); // second '&'
    assert_eq!(column_of(7), Some(33)); // '"' = "\""
    assert_eq!(column_of(8), Some(35)); // 'é' (two bytes decoded, one column)
    assert_eq!(column_of(9), Some(35)); // inside 'é' maps to its start
    assert_eq!(column_of(10), Some(36)); // '\"' closing
    assert_eq!(column_of(14), Some(41)); // '\n' escape
    assert_eq!(column_of(15), Some(43)); // ' '
    assert_eq!(column_of(16), Some(44)); // 'b'
    assert_eq!(column_of(18), Some(46)); // past the end: the closing quote
    assert_eq!(column_of(1000), Some(46));

    let emoji = doc.error_in_string("/emoji", 4, "m");
    let emoji_start = doc
        .position_of("/emoji")
        .map(|p| p.column)
        .unwrap_or_default();
    assert_eq!(emoji.position.map(|p| p.column), Some(emoji_start + 13));

    // Not a string: the value itself.
    let error = doc.error_in_string("/n", 3, "m");
    assert_eq!(error.position, doc.position_of("/n"));
}

#[test]
fn error_in_string_on_a_later_line() {
    let (doc, _) = parse("{\n  \"c\": \"${x ==}\"\n}");
    let error = doc.error_in_string("/c", 6, "expected an operand");
    assert_eq!(error.position, pos(2, 15));
    assert_eq!(
        error.to_string(),
        "routes/api.json:2:15: expected an operand (at /c)"
    );
}

#[test]
fn builtin_documents_label_their_errors() {
    let doc = SourceDoc::builtin("config.json");
    let error = doc.error(
        "/heap/0/config/directory",
        "directory \"routes\" does not exist",
    );
    assert_eq!(error.file, None);
    assert_eq!(error.position, None);
    assert_eq!(
        error.to_string(),
        "built-in config.json: directory \"routes\" does not exist (at /heap/0/config/directory)"
    );
    assert_eq!(doc.error_in_string("/x", 3, "m").position, None);
    assert_eq!(doc.builtin_name(), Some("config.json"));
    assert_eq!(doc.path(), None);
}

#[test]
fn parse_without_a_path() {
    let error = match SourceDoc::parse(None, "{\"a\" 1}") {
        Ok(_) => panic!("expected an error"),
        Err(error) => error,
    };
    assert_eq!(error.file, None);
    assert_eq!(error.position, pos(1, 6));
    assert!(error.to_string().starts_with("expected ':'"));
}

#[test]
fn located_navigation() {
    let text =
        "{\n  \"heap\": [\n    {\"name\": \"a\", \"type\": \"T\"},\n    {\"name\": \"b\"}\n  ]\n}";
    let (doc, value) = parse(text);
    let root = Located::root(&doc, &value);
    let heap = root.get("heap");
    let heap = heap.as_ref();
    assert_eq!(heap.map(|h| h.pointer.as_str()), Some("/heap"));
    let second = heap.and_then(|h| h.index(1));
    assert_eq!(second.as_ref().map(|s| s.pointer.as_str()), Some("/heap/1"));
    assert_eq!(second.as_ref().and_then(|s| s.position()), pos(4, 5));
    assert!(root.get("missing").is_none());
    assert!(root.index(0).is_none());

    let names: Vec<String> = heap
        .into_iter()
        .flat_map(|h| h.elements())
        .filter_map(|e| e.get("name"))
        .map(|n| format!("{}={}", n.pointer, n.value))
        .collect();
    assert_eq!(names, ["/heap/0/name=\"a\"", "/heap/1/name=\"b\""]);

    let first = heap.and_then(|h| h.index(0));
    let members: Vec<(String, Option<Position>)> = first
        .iter()
        .flat_map(|f| f.members())
        .map(|(k, v)| (k.to_owned(), v.key_position()))
        .collect();
    assert_eq!(
        members,
        [
            ("name".to_owned(), pos(3, 6)),
            ("type".to_owned(), pos(3, 19))
        ]
    );

    let type_value = first.as_ref().and_then(|f| f.get("type"));
    let error = type_value.as_ref().map(|t| t.key_error("unknown"));
    assert_eq!(error.and_then(|e| e.position), pos(3, 19));
    let error = type_value.as_ref().map(|t| t.expected("an object"));
    assert_eq!(
        error.map(|e| e.to_string()),
        Some(
            "routes/api.json:3:27: expected an object here, found the string \"T\" (at /heap/0/type)"
                .to_owned()
        )
    );
    let error = type_value.map(|t| t.error_in_string(0, "m"));
    assert_eq!(error.and_then(|e| e.position), pos(3, 28));
}

#[test]
fn large_document_round_trip() {
    // A realistic route repeated: positions stay consistent with the text for every value.
    let mut text = String::from("{\"routes\": [\n");
    for i in 0..500 {
        if i > 0 {
            text.push_str(",\n");
        }
        text.push_str(&format!(
            "  {{\"name\": \"r{i}\", \"condition\": \"${{request.uri.path == '/r{i}'}}\", \
             \"handler\": {{\"type\": \"Chain\", \"config\": {{\"filters\": [], \"handler\": \
             \"ReverseProxyHandler\"}}}}}}"
        ));
    }
    text.push_str("\n]}");
    let (doc, value) = parse(&text);
    let expected: Value = serde_json::from_str(&text).unwrap_or_default();
    assert_eq!(value, expected);
    for i in [0usize, 1, 250, 499] {
        let pointer = format!("/routes/{i}/name");
        let span = doc.span(&pointer).map(|s| s.value.clone());
        assert_eq!(
            span.map(|s| text[s].to_owned()),
            Some(format!("\"r{i}\"")),
            "{pointer}"
        );
        assert_eq!(doc.position_of(&format!("/routes/{i}")), pos(i + 2, 3));
    }
}
