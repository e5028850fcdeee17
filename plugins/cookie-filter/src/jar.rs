//! The cookie jar a CookieFilter keeps in the session for the cookies it manages: what a user
//! agent does with `Set-Cookie` and `Cookie` (RFC 6265 sections 5.1 to 5.4), without the parts
//! that only concern scripts and browsing contexts (HttpOnly, SameSite).
//!
//! Pure logic over strings and a clock value, so that it is tested on the host target.

use crate::date;

/// The largest `name=value` stored: RFC 6265 asks user agents for at least 4096 bytes per
/// cookie, and the session itself usually travels in a cookie.
pub const MAX_COOKIE_BYTES: usize = 4096;

/// The most cookies one jar keeps (RFC 6265's minimum per domain); the oldest go first.
pub const MAX_COOKIES: usize = 50;

/// The request as the jar sees it: the host the user agent addressed, the path and whether
/// the connection is secure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Canonical: lower case, without port or IPv6 brackets.
    pub host: String,
    pub path: String,
    pub secure: bool,
}

impl Origin {
    /// `uri` is absolute (IG's `request.uri`); `host_header`, when present, wins over the URI's
    /// authority, as in IG: a route's `baseURI` may have rebased the URI to the application
    /// already, while cookies belong to the host the user agent addressed.
    pub fn new(uri: &str, host_header: Option<&str>) -> Origin {
        let (scheme, rest) = uri.split_once("://").unwrap_or(("", uri));
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(end);
        let path = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
        let authority = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        let host = host_header
            .map(str::trim)
            .filter(|host| !host.is_empty())
            .unwrap_or(authority);
        Origin {
            host: canonical_host(host),
            path: if path.is_empty() { "/" } else { path }.to_owned(),
            secure: scheme.eq_ignore_ascii_case("https"),
        }
    }
}

fn canonical_host(authority: &str) -> String {
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or(bracketed)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => authority,
        }
    };
    host.to_ascii_lowercase()
}

fn is_ip_address(host: &str) -> bool {
    host.contains(':') || host.parse::<std::net::Ipv4Addr>().is_ok()
}

/// RFC 6265 section 5.1.3; both sides canonical.
pub fn domain_match(host: &str, domain: &str) -> bool {
    host == domain
        || (!is_ip_address(host)
            && host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

/// RFC 6265 section 5.1.4: the "directory" of the request path.
pub fn default_path(path: &str) -> &str {
    match path.rfind('/') {
        Some(index) if index > 0 && path.starts_with('/') => &path[..index],
        _ => "/",
    }
}

/// RFC 6265 section 5.1.4.
pub fn path_match(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

/// The name of a cookie in a `Cookie` or `Set-Cookie` header: what the action lists are
/// matched against. A pair without `=` is all name (user agents differ; this only decides
/// which list applies).
pub fn cookie_name(pair: &str) -> &str {
    let pair = pair.split(';').next().unwrap_or(pair);
    pair.split_once('=').map_or(pair, |(name, _)| name).trim()
}

/// One `Set-Cookie` (or one cookie of a `Set-Cookie2`), parsed as RFC 6265 section 5.2 does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    /// Canonical, without a leading dot; `None` for a host-only cookie.
    pub domain: Option<String>,
    pub path: Option<String>,
    pub secure: bool,
    pub max_age: Option<i64>,
    pub expires: Option<i64>,
}

impl SetCookie {
    /// `None` when a user agent would ignore the header: no `=` in the name-value pair or an
    /// empty name. `legacy` reads RFC 2965 (`Set-Cookie2`) attributes, whose values may be
    /// quoted.
    pub fn parse(text: &str, legacy: bool) -> Option<SetCookie> {
        let mut parts = text.split(';');
        let (name, value) = parts.next()?.split_once('=')?;
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            return None;
        }
        let mut cookie = SetCookie {
            name: name.to_owned(),
            value: value.to_owned(),
            domain: None,
            path: None,
            secure: false,
            max_age: None,
            expires: None,
        };
        for attribute in parts {
            let (key, value) = attribute.split_once('=').unwrap_or((attribute, ""));
            let (key, mut value) = (key.trim(), value.trim());
            if legacy && value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
                value = &value[1..value.len() - 1];
            }
            // The last occurrence of an attribute wins; an unreadable value leaves the
            // previous one.
            if key.eq_ignore_ascii_case("expires") {
                if let Some(at) = date::parse(value) {
                    cookie.expires = Some(at);
                }
            } else if key.eq_ignore_ascii_case("max-age") {
                if let Some(seconds) = max_age(value) {
                    cookie.max_age = Some(seconds);
                }
            } else if key.eq_ignore_ascii_case("domain") {
                let domain = value.strip_prefix('.').unwrap_or(value);
                // An empty Domain is ignored, leaving the cookie host-only.
                if !domain.is_empty() {
                    cookie.domain = Some(domain.to_ascii_lowercase());
                }
            } else if key.eq_ignore_ascii_case("path") {
                cookie.path = value.starts_with('/').then(|| value.to_owned());
            } else if key.eq_ignore_ascii_case("secure") {
                cookie.secure = true;
            }
        }
        Some(cookie)
    }
}

/// RFC 6265 section 5.2.2: an optional `-` then digits; anything else is ignored. Values too
/// large for the clock saturate: such a cookie simply never expires.
fn max_age(value: &str) -> Option<i64> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if value.starts_with('-') {
        return Some(0);
    }
    Some(digits.parse().unwrap_or(i64::MAX))
}

/// The cookies of one `Set-Cookie2` header value: a comma-separated list (commas inside quoted
/// strings do not separate).
pub fn split_set_cookie2(value: &str) -> Vec<&str> {
    let mut cookies = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (index, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                cookies.push(value[start..index].trim());
                start = index + 1;
            }
            _ => {}
        }
    }
    cookies.push(value[start..].trim());
    cookies.retain(|cookie| !cookie.is_empty());
    cookies
}

/// A managed cookie as the session keeps it. Short keys: the session may travel in a cookie
/// of its own, limited to a few KiB.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredCookie {
    #[serde(rename = "n")]
    pub name: String,
    #[serde(rename = "v")]
    pub value: String,
    #[serde(rename = "d")]
    pub domain: String,
    /// Sent to `domain` exactly, not to its subdomains (no Domain attribute).
    #[serde(rename = "h", default, skip_serializing_if = "is_false")]
    pub host_only: bool,
    #[serde(rename = "p")]
    pub path: String,
    #[serde(rename = "s", default, skip_serializing_if = "is_false")]
    pub secure: bool,
    /// Seconds since the epoch; `None` for a session cookie, which lives as long as the
    /// session does.
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
}

fn is_false(value: &bool) -> bool {
    !value
}

impl StoredCookie {
    fn expired(&self, now: i64) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }

    fn same_cookie(&self, other: &StoredCookie) -> bool {
        // RFC 6265: names and paths compare exactly, domains are canonical already.
        self.name == other.name && self.domain == other.domain && self.path == other.path
    }

    fn matches(&self, origin: &Origin, now: i64) -> bool {
        let domain_ok = if self.host_only {
            origin.host == self.domain
        } else {
            domain_match(&origin.host, &self.domain)
        };
        domain_ok
            && path_match(&origin.path, &self.path)
            && (origin.secure || !self.secure)
            && !self.expired(now)
    }
}

/// What [`Jar::store`] did with a cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Added,
    Replaced,
    /// It was expired: a same cookie, if any, was removed.
    Deleted,
    /// Refused: its Domain does not cover the request's host.
    ForeignDomain,
    /// Refused: larger than [`MAX_COOKIE_BYTES`].
    TooLarge,
}

/// The managed cookies of one CookieFilter for one session, oldest first: the order is the
/// creation order RFC 6265 sorts by.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Jar {
    pub cookies: Vec<StoredCookie>,
}

impl Jar {
    /// RFC 6265 section 5.3 for a cookie received in answer to a request to `origin`. A
    /// replaced cookie keeps its place (its creation time). Returns what happened and how many
    /// live cookies were evicted to stay within [`MAX_COOKIES`] (expired ones go silently).
    pub fn store(&mut self, cookie: SetCookie, origin: &Origin, now: i64) -> (Stored, usize) {
        if cookie.name.len() + cookie.value.len() > MAX_COOKIE_BYTES {
            return (Stored::TooLarge, 0);
        }
        let expires = match (cookie.max_age, cookie.expires) {
            (Some(seconds), _) if seconds <= 0 => Some(i64::MIN),
            (Some(seconds), _) => Some(now.saturating_add(seconds)),
            (None, expires) => expires,
        };
        let (domain, host_only) = match cookie.domain {
            // No public suffix list: a jar serves one user's traffic through one filter, so a
            // too-wide Domain can only reach hosts this same route sends that user to.
            Some(domain) if domain_match(&origin.host, &domain) => (domain, false),
            Some(_) => return (Stored::ForeignDomain, 0),
            None => (origin.host.clone(), true),
        };
        let stored = StoredCookie {
            name: cookie.name,
            value: cookie.value,
            domain,
            host_only,
            path: cookie
                .path
                .unwrap_or_else(|| default_path(&origin.path).to_owned()),
            secure: cookie.secure,
            expires,
        };
        let existing = self.cookies.iter().position(|c| c.same_cookie(&stored));
        if stored.expired(now) {
            if let Some(index) = existing {
                self.cookies.remove(index);
            }
            return (Stored::Deleted, 0);
        }
        if let Some(index) = existing {
            self.cookies[index] = stored;
            return (Stored::Replaced, 0);
        }
        self.cookies.push(stored);
        self.prune(now);
        let evicted = self.cookies.len().saturating_sub(MAX_COOKIES);
        self.cookies.drain(..evicted);
        (Stored::Added, evicted)
    }

    /// Drops expired cookies; returns how many.
    pub fn prune(&mut self, now: i64) -> usize {
        let before = self.cookies.len();
        self.cookies.retain(|cookie| !cookie.expired(now));
        before - self.cookies.len()
    }

    /// The cookies to send with a request to `origin` (RFC 6265 section 5.4): longer paths
    /// first, then older first.
    pub fn cookies_for<'a>(&'a self, origin: &Origin, now: i64) -> Vec<&'a StoredCookie> {
        let mut matching: Vec<_> = self
            .cookies
            .iter()
            .filter(|cookie| cookie.matches(origin, now))
            .collect();
        matching.sort_by_key(|cookie| std::cmp::Reverse(cookie.path.len()));
        matching
    }
}

/// The pairs of a request's `Cookie` header values that `keep` accepts, and whether any was
/// removed (when none was and nothing is added, the header is best left exactly as sent). RFC
/// 2965 attributes (`$Path`, `$Domain`...) follow the cookie before them; a leading
/// `$Version` stays only if some cookie does.
pub fn filter_cookie_header(values: &[String], keep: impl Fn(&str) -> bool) -> (Vec<&str>, bool) {
    let mut prefix = Vec::new();
    let mut kept = Vec::new();
    let mut removed = false;
    let mut previous_kept = None;
    for pair in values
        .iter()
        .flat_map(|value| value.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
    {
        if pair.starts_with('$') {
            match previous_kept {
                None => prefix.push(pair),
                Some(true) => kept.push(pair),
                Some(false) => {}
            }
            continue;
        }
        let keep = keep(cookie_name(pair));
        previous_kept = Some(keep);
        if keep {
            kept.push(pair);
        } else {
            removed = true;
        }
    }
    if kept.is_empty() {
        return (kept, removed);
    }
    prefix.extend(kept);
    (prefix, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn origin(uri: &str) -> Origin {
        Origin::new(uri, None)
    }

    fn jar_after(origin: &Origin, headers: &[&str]) -> Jar {
        let mut jar = Jar::default();
        for header in headers {
            let cookie = SetCookie::parse(header, false).expect("a cookie");
            jar.store(cookie, origin, NOW);
        }
        jar
    }

    fn sent(jar: &Jar, origin: &Origin, now: i64) -> String {
        jar.cookies_for(origin, now)
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn the_origin_is_the_host_the_user_agent_addressed() {
        let rebased = Origin::new(
            "http://app.internal:8080/a/b?q=1",
            Some("WWW.Example.com:8443"),
        );
        assert_eq!(
            rebased,
            Origin {
                host: "www.example.com".into(),
                path: "/a/b".into(),
                secure: false
            }
        );
        let plain = origin("HTTPS://user@[::1]:8443");
        assert_eq!((plain.host.as_str(), plain.path.as_str()), ("::1", "/"));
        assert!(plain.secure);
        assert_eq!(origin("http://127.0.0.1:9/x#f").host, "127.0.0.1");
    }

    #[test]
    fn domains_match_the_host_and_its_subdomains_but_not_for_addresses() {
        assert!(domain_match("example.com", "example.com"));
        assert!(domain_match("www.example.com", "example.com"));
        assert!(!domain_match("wwwexample.com", "example.com"));
        assert!(!domain_match("example.com", "www.example.com"));
        assert!(domain_match("10.0.0.1", "10.0.0.1"));
        assert!(!domain_match("10.0.0.1", "0.0.1"));
    }

    #[test]
    fn paths_match_by_segments() {
        assert_eq!(default_path("/shop/cart"), "/shop");
        assert_eq!(default_path("/shop/"), "/shop");
        assert_eq!(default_path("/cart"), "/");
        assert_eq!(default_path(""), "/");
        assert!(path_match("/shop/cart", "/shop"));
        assert!(path_match("/shop/cart", "/shop/"));
        assert!(path_match("/shop", "/shop"));
        assert!(path_match("/anything", "/"));
        assert!(!path_match("/shopping", "/shop"));
        assert!(!path_match("/sho", "/shop"));
    }

    #[test]
    fn set_cookie_attributes_are_read_leniently() {
        let cookie = SetCookie::parse(
            " sid = a=b ; Path=/app; DOMAIN=.Example.COM; secure; HttpOnly; max-age=60; max-age=x; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
            false,
        )
        .expect("a cookie");
        assert_eq!(
            cookie,
            SetCookie {
                name: "sid".into(),
                value: "a=b".into(),
                domain: Some("example.com".into()),
                path: Some("/app".into()),
                secure: true,
                max_age: Some(60),
                expires: Some(1_445_412_480),
            }
        );
        let relative = SetCookie::parse("a=1; Path=app; Domain=", false).expect("a cookie");
        assert_eq!((relative.path, relative.domain), (None, None));
        assert_eq!(SetCookie::parse("novalue", false), None);
        assert_eq!(SetCookie::parse("=v", false), None);
        let legacy =
            SetCookie::parse("b=\"x y\"; Version=\"1\"; Path=\"/p\"", true).expect("a cookie");
        assert_eq!(
            (legacy.value.as_str(), legacy.path.as_deref()),
            ("\"x y\"", Some("/p"))
        );
    }

    #[test]
    fn host_only_and_domain_cookies_reach_the_right_hosts() {
        let at = origin("http://www.example.com/");
        let jar = jar_after(
            &at,
            &[
                "host=1",
                "wide=2; Domain=example.com",
                "foreign=3; Domain=other.com",
            ],
        );
        assert_eq!(jar.cookies.len(), 2, "a foreign Domain is refused");
        assert_eq!(sent(&jar, &at, NOW), "host=1; wide=2");
        assert_eq!(
            sent(&jar, &origin("http://a.www.example.com/"), NOW),
            "wide=2"
        );
        assert_eq!(sent(&jar, &origin("http://example.com/"), NOW), "wide=2");
        assert_eq!(sent(&jar, &origin("http://example.org/"), NOW), "");
        let mut other = Jar::default();
        let refused = SetCookie::parse("a=1; Domain=www.example.com", false).expect("a cookie");
        assert_eq!(
            other.store(refused, &origin("http://example.com/"), NOW),
            (Stored::ForeignDomain, 0),
            "a parent may not set cookies for its subdomain"
        );
    }

    #[test]
    fn paths_default_to_the_directory_and_longer_paths_go_first() {
        let at = origin("http://h/shop/cart");
        let jar = jar_after(
            &at,
            &[
                "dir=1",
                "root=2; Path=/",
                "deep=3; Path=/shop/cart",
                "admin=4; Path=/admin",
            ],
        );
        assert_eq!(jar.cookies[0].path, "/shop");
        assert_eq!(sent(&jar, &at, NOW), "deep=3; dir=1; root=2");
        assert_eq!(sent(&jar, &origin("http://h/shop"), NOW), "dir=1; root=2");
        assert_eq!(sent(&jar, &origin("http://h/shopping"), NOW), "root=2");
        assert_eq!(
            sent(&jar, &origin("http://h/admin/x"), NOW),
            "admin=4; root=2"
        );
    }

    #[test]
    fn secure_cookies_go_over_https_only() {
        let at = origin("https://h/");
        let jar = jar_after(&at, &["s=1; Secure", "p=2"]);
        assert_eq!(sent(&jar, &at, NOW), "s=1; p=2");
        assert_eq!(sent(&jar, &origin("http://h/"), NOW), "p=2");
    }

    #[test]
    fn expiry_follows_max_age_first_then_expires() {
        let at = origin("http://h/");
        let mut jar = jar_after(
            &at,
            &[
                "short=1; Max-Age=10",
                "long=2; Max-Age=1000; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                "dated=3; Expires=Wed, 21 Oct 2099 07:28:00 GMT",
                "past=4; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
                "session=5",
                "huge=6; Max-Age=99999999999999999999999",
            ],
        );
        assert_eq!(jar.cookies.len(), 5, "an expired cookie is not stored");
        assert_eq!(
            sent(&jar, &at, NOW),
            "short=1; long=2; dated=3; session=5; huge=6"
        );
        assert_eq!(
            sent(&jar, &at, NOW + 10),
            "long=2; dated=3; session=5; huge=6"
        );
        assert_eq!(jar.prune(NOW + 1000), 2);
        assert_eq!(sent(&jar, &at, NOW + 1000), "dated=3; session=5; huge=6");
    }

    #[test]
    fn a_same_cookie_is_replaced_in_place_and_deleted_by_expiry() {
        let at = origin("http://h/a/b");
        let mut jar = jar_after(&at, &["a=1", "b=2", "B=3", "a=4; Path=/"]);
        assert_eq!(
            jar.cookies.len(),
            4,
            "names are case-sensitive, paths tell apart"
        );
        let replace = SetCookie::parse("a=5", false).expect("a cookie");
        assert_eq!(jar.store(replace, &at, NOW), (Stored::Replaced, 0));
        assert_eq!(jar.cookies[0].value, "5", "the replacement keeps its place");
        for deletion in [
            "b=; Max-Age=0",
            "B=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            "a=; Max-Age=-1; Path=/",
        ] {
            let cookie = SetCookie::parse(deletion, false).expect("a cookie");
            assert_eq!(
                jar.store(cookie, &at, NOW),
                (Stored::Deleted, 0),
                "{deletion}"
            );
        }
        assert_eq!(sent(&jar, &at, NOW), "a=5");
        // RFC 6265 compares name, domain and path, not whether the cookie is host-only.
        let same_domain = SetCookie::parse("a=; Max-Age=0; Domain=h", false).expect("a cookie");
        assert_eq!(jar.store(same_domain, &at, NOW), (Stored::Deleted, 0));
        assert!(jar.cookies.is_empty());
    }

    #[test]
    fn the_jar_stays_bounded() {
        let at = origin("http://h/");
        let mut jar = Jar::default();
        for index in 0..MAX_COOKIES + 2 {
            let cookie = SetCookie::parse(&format!("c{index}=v"), false).expect("a cookie");
            jar.store(cookie, &at, NOW);
        }
        assert_eq!(jar.cookies.len(), MAX_COOKIES);
        assert_eq!(jar.cookies[0].name, "c2", "the oldest go first");
        let big = SetCookie::parse(&format!("big={}", "x".repeat(MAX_COOKIE_BYTES)), false)
            .expect("a cookie");
        assert_eq!(jar.store(big, &at, NOW), (Stored::TooLarge, 0));
    }

    #[test]
    fn the_stored_form_is_compact_and_round_trips() {
        let at = origin("https://h/");
        let jar = jar_after(&at, &["a=1", "b=2; Domain=h; Secure; Path=/x; Max-Age=5"]);
        let json = serde_json::to_string(&jar).expect("serializable");
        assert_eq!(
            json,
            format!(
                r#"[{{"n":"a","v":"1","d":"h","h":true,"p":"/"}},{{"n":"b","v":"2","d":"h","p":"/x","s":true,"x":{}}}]"#,
                NOW + 5
            )
        );
        assert_eq!(serde_json::from_str::<Jar>(&json).expect("readable"), jar);
    }

    #[test]
    fn request_cookies_are_filtered_by_name_only_when_needed() {
        let values = vec!["a=1; tracker=2;".to_owned(), "b=3;c".to_owned()];
        assert_eq!(
            filter_cookie_header(&values, |_| true),
            (vec!["a=1", "tracker=2", "b=3", "c"], false)
        );
        assert_eq!(
            filter_cookie_header(&values, |name| name != "tracker"),
            (vec!["a=1", "b=3", "c"], true)
        );
        assert_eq!(filter_cookie_header(&values, |_| false), (vec![], true));
        let legacy = vec!["$Version=1; a=1; $Path=/; b=2; $Path=/b".to_owned()];
        assert_eq!(
            filter_cookie_header(&legacy, |name| name == "b"),
            (vec!["$Version=1", "b=2", "$Path=/b"], true)
        );
        assert_eq!(filter_cookie_header(&legacy, |_| false), (vec![], true));
    }

    #[test]
    fn set_cookie2_lists_split_outside_quotes() {
        assert_eq!(
            split_set_cookie2("a=1; Version=1, b=\"x, \\\"y\"; Version=1 ,, c=3"),
            vec!["a=1; Version=1", "b=\"x, \\\"y\"; Version=1", "c=3"]
        );
        assert_eq!(cookie_name(" sid = 1; Path=/"), "sid");
        assert_eq!(cookie_name("flag; Secure"), "flag");
    }
}
