//! IG's `CookieFilter`: decides, cookie by cookie, whether the gateway manages it (keeps the
//! application's cookie in the session and sends it to the application itself; the user
//! agent never sees it), suppresses it (neither side sees the other's) or relays it (passes
//! both ways untouched).
//!
//! ```json
//! {"type": "CookieFilter", "config": {
//!     "managed": ["JSESSIONID"],
//!     "suppressed": ["tracking"],
//!     "relayed": ["lang"],
//!     "defaultAction": "MANAGE"
//! }}
//! ```
//!
//! Names in the lists match case-insensitively, as in IG; a name in several lists takes the
//! first of managed, suppressed, relayed (IG's precedence). The jar of managed cookies lives in
//! the session under `CookieFilter:<object name>` and follows RFC 6265 (domain, path, Secure,
//! expiry).

mod date;
mod jar;

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use ferrogate_sdk::{Filter, Outcome, Request, Response, exchange};

use crate::jar::{Jar, Origin, SetCookie, Stored};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Manage,
    Suppress,
    Relay,
}

impl Action {
    fn parse(text: &str) -> Result<Action, String> {
        // IG reads enum settings ignoring case.
        match text.to_ascii_uppercase().as_str() {
            "MANAGE" => Ok(Action::Manage),
            "SUPPRESS" => Ok(Action::Suppress),
            "RELAY" => Ok(Action::Relay),
            _ => Err(format!(
                "\"defaultAction\": \"{text}\" is not an action; use MANAGE, SUPPRESS or RELAY"
            )),
        }
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
struct Config {
    managed: Vec<String>,
    suppressed: Vec<String>,
    relayed: Vec<String>,
    default_action: Option<String>,
    #[serde(rename = "comment")]
    _comment: Option<serde::de::IgnoredAny>,
}

struct CookieFilter {
    /// Lower-cased names of the three lists.
    actions: HashMap<String, Action>,
    default_action: Action,
    /// Whether any cookie can be managed: when none can, the session is never touched.
    manages: bool,
    session_key: String,
}

const SET_COOKIE: &str = "Set-Cookie";
const SET_COOKIE2: &str = "Set-Cookie2";

/// Seconds since the epoch, as the jar counts them.
fn now() -> i64 {
    i64::try_from(ferrogate_sdk::epoch_millis() / 1000).unwrap_or(i64::MAX)
}

/// Refuses what cannot be a cookie name; a request-time expression is one (the host evaluates
/// configuration-time ones before the filter sees them).
fn check_name(list: &str, name: &str) -> Result<(), String> {
    let bad = name.is_empty()
        || name.contains("${")
        || name
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, ';' | '=' | ','));
    if bad {
        return Err(format!("\"{list}\": \"{name}\" is not a cookie name"));
    }
    Ok(())
}

impl CookieFilter {
    fn action(&self, name: &str) -> Action {
        if self.actions.is_empty() {
            return self.default_action;
        }
        self.actions
            .get(&name.to_lowercase())
            .copied()
            .unwrap_or(self.default_action)
    }

    fn origin(req: &Request) -> Origin {
        Origin::new(&req.uri(), req.header("Host").first().map(String::as_str))
    }

    fn load(&self) -> Jar {
        match exchange::session_value::<Jar>(&self.session_key) {
            Ok(jar) => jar.unwrap_or_default(),
            Err(error) => {
                // A jar written by another version: start afresh rather than fail every
                // request of this session.
                ferrogate_sdk::warn!("cookie jar unreadable, discarded: {error}");
                Jar::default()
            }
        }
    }

    fn save(&self, jar: &Jar) -> Result<(), String> {
        exchange::set_session_value(&self.session_key, jar)
    }

    /// Sorts a `Set-Cookie` header's values: those relayed are returned, managed ones are
    /// added to `received`, the rest dropped.
    fn sort<'a>(
        &self,
        cookies: impl Iterator<Item = &'a str>,
        legacy: bool,
        received: &mut Vec<SetCookie>,
        changed: &mut bool,
    ) -> Vec<&'a str> {
        let mut relayed = Vec::new();
        for cookie in cookies {
            let name = jar::cookie_name(cookie);
            match self.action(name) {
                Action::Relay => relayed.push(cookie),
                Action::Suppress => *changed = true,
                Action::Manage => {
                    *changed = true;
                    match SetCookie::parse(cookie, legacy) {
                        Some(parsed) => received.push(parsed),
                        None => ferrogate_sdk::debug!("ignored a malformed cookie \"{name}\""),
                    }
                }
            }
        }
        relayed
    }
}

impl Filter for CookieFilter {
    fn new() -> Result<Self, String> {
        let config = ferrogate_sdk::config::<Option<Config>>()?.unwrap_or_default();
        let default_action = config
            .default_action
            .as_deref()
            .map_or(Ok(Action::Manage), Action::parse)?;
        let mut actions = HashMap::new();
        // In IG's order of precedence: the first list naming a cookie decides.
        let lists = [
            ("managed", Action::Manage, &config.managed),
            ("suppressed", Action::Suppress, &config.suppressed),
            ("relayed", Action::Relay, &config.relayed),
        ];
        let mut listed_in: HashMap<String, &str> = HashMap::new();
        for (list, action, names) in lists {
            for name in names {
                check_name(list, name)?;
                let key = name.to_lowercase();
                match actions.entry(key.clone()) {
                    Entry::Vacant(slot) => {
                        slot.insert(action);
                        listed_in.insert(key, list);
                    }
                    Entry::Occupied(slot) if *slot.get() == action => {}
                    Entry::Occupied(_) => {
                        let first = listed_in.get(&key).copied().unwrap_or_default();
                        // Probably not what the author meant, but IG accepts it.
                        ferrogate_sdk::warn!(
                            "cookie \"{name}\" is listed in both \"{first}\" and \"{list}\" (names are case-insensitive): \"{first}\" applies, as in IG"
                        );
                    }
                }
            }
        }
        let manages =
            default_action == Action::Manage || actions.values().any(|a| *a == Action::Manage);
        Ok(CookieFilter {
            actions,
            default_action,
            manages,
            session_key: format!("CookieFilter:{}", ferrogate_sdk::object_name()),
        })
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        let sent = req.header("Cookie");
        let (mut pairs, removed) =
            jar::filter_cookie_header(&sent, |name| self.action(name) == Action::Relay);
        let mut managed = Vec::new();
        if self.manages {
            let mut jar = self.load();
            let now = now();
            let origin = Self::origin(req);
            managed = jar
                .cookies_for(&origin, now)
                .into_iter()
                // The configuration may have changed since the cookie was stored.
                .filter(|cookie| self.action(&cookie.name) == Action::Manage)
                .map(|cookie| format!("{}={}", cookie.name, cookie.value))
                .collect();
            if jar.prune(now) > 0 {
                self.save(&jar)?;
            }
        }
        if !removed && managed.is_empty() {
            return Ok(Outcome::Next);
        }
        pairs.extend(managed.iter().map(String::as_str));
        // One header: RFC 6265 section 5.4 (and HTTP/1.1 applications) expect a single
        // Cookie line, even when an HTTP/2 user agent split it.
        let value = pairs.join("; ");
        req.set_header(
            "Cookie",
            if value.is_empty() {
                &[][..]
            } else {
                std::slice::from_ref(&value)
            },
        )?;
        Ok(Outcome::Next)
    }

    fn on_response(&self, req: &Request, resp: &Response) -> Result<(), String> {
        let set_cookie = resp.header(SET_COOKIE);
        let set_cookie2 = resp.header(SET_COOKIE2);
        if set_cookie.is_empty() && set_cookie2.is_empty() {
            return Ok(());
        }
        let mut received = Vec::new();
        let mut changed = false;
        // Never split Set-Cookie on commas: Expires dates hold one.
        let relayed = self.sort(
            set_cookie.iter().map(String::as_str),
            false,
            &mut received,
            &mut changed,
        );
        let mut changed2 = false;
        let relayed2 = self.sort(
            set_cookie2
                .iter()
                .flat_map(|value| jar::split_set_cookie2(value)),
            true,
            &mut received,
            &mut changed2,
        );
        if changed {
            let values: Vec<String> = relayed.into_iter().map(str::to_owned).collect();
            resp.set_header(SET_COOKIE, &values)?;
        }
        if changed2 {
            let value = relayed2.join(", ");
            resp.set_header(
                SET_COOKIE2,
                if value.is_empty() {
                    &[][..]
                } else {
                    std::slice::from_ref(&value)
                },
            )?;
        }
        if received.is_empty() {
            return Ok(());
        }
        let origin = Self::origin(req);
        let now = now();
        let mut jar = self.load();
        let before = jar.clone();
        for cookie in received {
            let name = cookie.name.clone();
            match jar.store(cookie, &origin, now) {
                (Stored::ForeignDomain, _) => ferrogate_sdk::warn!(
                    "refused cookie \"{name}\": its Domain does not cover {}",
                    origin.host
                ),
                (Stored::TooLarge, _) => ferrogate_sdk::warn!(
                    "refused cookie \"{name}\": larger than {} bytes",
                    jar::MAX_COOKIE_BYTES
                ),
                (_, evicted) if evicted > 0 => ferrogate_sdk::warn!(
                    "the cookie jar holds at most {} cookies: {evicted} dropped",
                    jar::MAX_COOKIES
                ),
                _ => {}
            }
        }
        if jar != before {
            self.save(&jar)?;
        }
        Ok(())
    }
}

ferrogate_sdk::export_filter!(CookieFilter, "CookieFilter");
