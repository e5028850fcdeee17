use super::*;

#[test]
fn base64_matches_the_rfc_4648_test_vectors() {
    let vectors = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];
    for (plain, encoded) in vectors {
        assert_eq!(base64(plain.as_bytes()), encoded, "{plain:?}");
    }
}

#[test]
fn base64url_has_no_padding_and_the_url_safe_alphabet() {
    let vectors = [
        ("", ""),
        ("f", "Zg"),
        ("fo", "Zm8"),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg"),
        ("fooba", "Zm9vYmE"),
        ("foobar", "Zm9vYmFy"),
    ];
    for (plain, encoded) in vectors {
        assert_eq!(base64url(plain.as_bytes()), encoded, "{plain:?}");
    }
    // 62 and 63 are where the two alphabets differ.
    assert_eq!(base64(&[0xfb, 0xef, 0xff]), "++//");
    assert_eq!(base64url(&[0xfb, 0xef, 0xff]), "--__");
}

#[test]
fn every_byte_value_encodes_to_the_same_length_in_both_alphabets() {
    let bytes: Vec<u8> = (0..=255).collect();
    for length in 0..bytes.len() {
        let padded = base64(&bytes[..length]);
        let unpadded = base64url(&bytes[..length]);
        assert_eq!(padded.len(), length.div_ceil(3) * 4);
        assert_eq!(padded.trim_end_matches('=').len(), unpadded.len());
    }
}

#[test]
fn form_components_keep_unreserved_bytes_and_escape_the_rest() {
    assert_eq!(form_component("AZaz09*-._"), "AZaz09*-._");
    assert_eq!(form_component("a b"), "a+b");
    assert_eq!(form_component("~!'()"), "%7E%21%27%28%29");
    assert_eq!(form_component("+&=%/?#"), "%2B%26%3D%25%2F%3F%23");
    assert_eq!(form_component("\n\u{7f}"), "%0A%7F");
    assert_eq!(form_component("é€"), "%C3%A9%E2%82%AC");
    assert_eq!(form_component(""), "");
}

#[test]
fn forms_join_pairs_in_order() {
    assert_eq!(form(Vec::<(&str, &str)>::new()), "");
    assert_eq!(form([("a", "")]), "a=");
    assert_eq!(
        form([("note", "a b&c"), ("user", "alice"), ("note", "2")]),
        "note=a+b%26c&user=alice&note=2"
    );
}
