//! The session cookie: its settings (IG's `cookie` object and the older `cookieName` /
//! `cookieDomain` keys), reading it from a request and writing it into a response.

use http::HeaderValue;
use http::header::{COOKIE, SET_COOKIE};
use serde::Deserialize;

use crate::config::{ConfigError, Located};
use crate::heap::HeapBuilder;
use crate::http::{Request, Response};

/// Browsers drop cookies larger than this (RFC 6265 section 6.1 asks for at least 4096 bytes
/// of name, value and attributes, and that is what they keep).
pub const COOKIE_SIZE_LIMIT: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSettings {
    pub name: String,
    pub domain: Option<String>,
    pub path: String,
    pub http_only: bool,
    pub secure: bool,
    pub same_site: Option<SameSite>,
    /// Sent with Max-Age so the browser keeps it across restarts; otherwise it is a browser
    /// session cookie and only the server-side expiry applies.
    pub persistent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

impl SameSite {
    fn parse(text: &str) -> Option<SameSite> {
        match text.to_ascii_lowercase().as_str() {
            "strict" => Some(SameSite::Strict),
            "lax" => Some(SameSite::Lax),
            "none" => Some(SameSite::None),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// IG's `cookie` object.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CookieConfig {
    #[serde(default)]
    name: Option<serde_json::Value>,
    #[serde(default)]
    domain: Option<serde_json::Value>,
    #[serde(default)]
    path: Option<serde_json::Value>,
    #[serde(default)]
    http_only: Option<bool>,
    #[serde(default)]
    secure: Option<bool>,
    #[serde(default)]
    same_site: Option<serde_json::Value>,
}

impl CookieSettings {
    pub fn new(name: &str) -> Self {
        CookieSettings {
            name: name.to_owned(),
            domain: None,
            path: "/".to_owned(),
            http_only: true,
            secure: false,
            same_site: None,
            persistent: false,
        }
    }

    /// Reads `cookie`, `cookieName`, `cookieDomain` and `persistentCookie` from a session
    /// manager's configuration; `default_name` applies when none names the cookie.
    pub fn from_config<'d>(
        builder: &HeapBuilder<'d>,
        config: &Located<'d>,
        default_name: &str,
    ) -> Result<Self, ConfigError> {
        let mut settings = CookieSettings::new(default_name);
        if let Some(at) = config.get("cookie") {
            let cookie: CookieConfig = builder.decode(&at)?;
            if cookie.name.is_some()
                && let Some(name_at) = at.get("name")
            {
                settings.name = builder.config_string(&name_at)?;
            }
            if cookie.domain.is_some()
                && let Some(domain_at) = at.get("domain")
            {
                settings.domain = Some(builder.config_string(&domain_at)?);
            }
            if cookie.path.is_some()
                && let Some(path_at) = at.get("path")
            {
                settings.path = builder.config_string(&path_at)?;
            }
            if let Some(http_only) = cookie.http_only {
                settings.http_only = http_only;
            }
            if let Some(secure) = cookie.secure {
                settings.secure = secure;
            }
            if cookie.same_site.is_some()
                && let Some(same_site_at) = at.get("sameSite")
            {
                let text = builder.config_string(&same_site_at)?;
                settings.same_site = Some(SameSite::parse(&text).ok_or_else(|| {
                    same_site_at.error(format!(
                        "sameSite \"{text}\" is not one of STRICT, LAX or NONE"
                    ))
                })?);
            }
            for legacy in ["cookieName", "cookieDomain"] {
                if let Some(legacy_at) = config.get(legacy) {
                    return Err(legacy_at
                        .key_error(format!("\"{legacy}\" and \"cookie\" both configure the session cookie"))
                        .with_hint("keep only the \"cookie\" object (\"cookieName\" and \"cookieDomain\" are IG's older keys)"));
                }
            }
        } else {
            if let Some(at) = config.get("cookieName") {
                settings.name = builder.config_string(&at)?;
            }
            if let Some(at) = config.get("cookieDomain") {
                settings.domain = Some(builder.config_string(&at)?);
            }
        }
        if let Some(at) = config.get("persistentCookie") {
            settings.persistent = match at.value {
                serde_json::Value::Bool(persistent) => *persistent,
                _ => return Err(at.error("\"persistentCookie\" takes true or false")),
            };
        }
        let name_at = config
            .get("cookie")
            .and_then(|cookie| cookie.get("name"))
            .or_else(|| config.get("cookieName"))
            .unwrap_or_else(|| config.clone());
        if settings.name.is_empty() || !settings.name.bytes().all(is_token_byte) {
            return Err(name_at.error(format!(
                "\"{}\" is not a valid cookie name: it must be a non-empty HTTP token (letters, digits and !#$%&'*+-.^_`|~)",
                settings.name
            )));
        }
        let attribute_values = [Some(settings.path.as_str()), settings.domain.as_deref()];
        if let Some(bad) = attribute_values
            .into_iter()
            .flatten()
            .find(|value| value.bytes().any(|b| b == b';' || b.is_ascii_control()))
        {
            return Err(config.error(format!(
                "the session cookie's path or domain \"{}\" contains ';' or a control character",
                bad.escape_debug()
            )));
        }
        if settings.same_site == Some(SameSite::None) && !settings.secure {
            tracing::warn!(cookie = %settings.name, "session cookie has SameSite=None without Secure: browsers reject such cookies; set \"secure\": true");
        }
        Ok(settings)
    }

    /// The value of this cookie in the request, the first one when several are sent.
    pub fn find<'r>(&self, request: &'r Request) -> Option<&'r str> {
        crate::http::header_lookup::get_all(request.headers(), &COOKIE)
            .filter_map(|header| header.to_str().ok())
            .flat_map(|header| header.split(';'))
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| name.trim() == self.name)
            .map(|(_, value)| value.trim().trim_matches('"'))
    }

    /// Appends `Set-Cookie` with `value`. `max_age` is the remaining lifetime, sent only for
    /// persistent cookies. Refuses (with the size) a cookie browsers would drop.
    pub fn set(
        &self,
        response: &mut Response,
        value: &str,
        max_age: u64,
    ) -> Result<(), CookieTooLarge> {
        let mut header = format!("{}={}", self.name, value);
        if self.persistent {
            header.push_str(&format!("; Max-Age={max_age}"));
        }
        self.append_attributes(&mut header);
        if header.len() > COOKIE_SIZE_LIMIT {
            return Err(CookieTooLarge { size: header.len() });
        }
        self.append(response, header);
        Ok(())
    }

    /// Appends a `Set-Cookie` that makes the browser forget the cookie.
    pub fn expire(&self, response: &mut Response) {
        let mut header = format!(
            "{}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            self.name
        );
        self.append_attributes(&mut header);
        self.append(response, header);
    }

    fn append_attributes(&self, header: &mut String) {
        header.push_str("; Path=");
        header.push_str(&self.path);
        if let Some(domain) = &self.domain {
            header.push_str("; Domain=");
            header.push_str(domain);
        }
        if self.secure {
            header.push_str("; Secure");
        }
        if self.http_only {
            header.push_str("; HttpOnly");
        }
        if let Some(same_site) = self.same_site {
            header.push_str("; SameSite=");
            header.push_str(same_site.as_str());
        }
    }

    fn append(&self, response: &mut Response, header: String) {
        match HeaderValue::try_from(header) {
            Ok(value) => {
                response.headers_mut().append(SET_COOKIE, value);
            }
            Err(error) => {
                tracing::error!(cookie = %self.name, %error, "session cookie is not a valid header value; the session is not saved");
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct CookieTooLarge {
    pub size: usize,
}

fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}
