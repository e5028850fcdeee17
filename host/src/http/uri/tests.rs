use super::*;

fn uri(text: &str) -> Uri {
    text.parse()
        .unwrap_or_else(|error| panic!("bad test URI {text}: {error}"))
}

fn rebased(request: &str, base: &str) -> String {
    parse_base(base)
        .and_then(|base| rebase(&uri(request), &base))
        .unwrap_or_else(|error| panic!("{request} on {base}: {error}"))
        .to_string()
}

#[test]
fn takes_the_scheme_and_authority_of_the_base() {
    assert_eq!(
        rebased(
            "http://gateway.example.com/api/items?q=1",
            "https://app:8443"
        ),
        "https://app:8443/api/items?q=1"
    );
    assert_eq!(
        rebased("/api/items?q=1", "http://127.0.0.1:8080"),
        "http://127.0.0.1:8080/api/items?q=1"
    );
    assert_eq!(
        rebased("http://gateway/", "http://user@app:8080/"),
        "http://user@app:8080/"
    );
}

#[test]
fn puts_the_base_path_before_the_request_path() {
    assert_eq!(
        rebased("http://gateway/items?q=1", "http://app/base/"),
        "http://app/base/items?q=1"
    );
    assert_eq!(
        rebased("http://gateway/", "http://app/base"),
        "http://app/base/"
    );
    // The base's own query is not the request's.
    assert_eq!(
        rebased("http://gateway/items", "http://app/base?ignored=1"),
        "http://app/base/items"
    );
}

#[test]
fn shares_the_request_path_when_the_base_has_none() {
    let request = uri("http://gateway/items?q=1");
    let base = parse_base("http://app:8080").expect("an absolute base");
    let rebased = rebase(&request, &base).expect("rebased");
    let shared = |uri: &Uri| uri.path_and_query().map(|pq| pq.as_str().as_ptr());
    assert_eq!(shared(&rebased), shared(&request));
}

#[test]
fn refuses_a_base_that_is_not_absolute() {
    for base in ["/only/a/path", "app.example.com", "", "http://exa mple.com"] {
        let error = parse_base(base).expect_err(base);
        assert!(error.contains("is not an absolute URI"), "{base}: {error}");
    }
}

#[test]
fn rebasing_in_place_gives_what_rebase_gives() {
    let requests = [
        "http://gateway.example.com/api/items?q=1",
        "/api/items?q=1",
        "http://gateway/",
        "*",
    ];
    let bases = [
        "https://app:8443",
        "http://127.0.0.1:8080/",
        "http://user@app:8080/",
        "http://app/base/",
        "http://app/base?ignored=1",
    ];
    for request in requests {
        for base in bases {
            let base = parse_base(base).unwrap_or_else(|error| panic!("{base}: {error}"));
            let mut in_place = uri(request);
            let expected = rebase(&uri(request), &base);
            let result = rebase_in_place(&mut in_place, &base);
            match expected {
                Ok(expected) => {
                    assert!(result.is_ok(), "{request} on {base}");
                    assert_eq!(in_place, expected, "{request} on {base}");
                }
                Err(_) => {
                    assert!(result.is_err(), "{request} on {base}");
                    assert_eq!(in_place, uri(request), "left as it was");
                }
            }
        }
    }
}
