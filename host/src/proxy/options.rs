//! ProxyOptions: how a ClientHandler reaches an upstream: directly, through the proxy the
//! environment names, or through a configured forward proxy.

use std::sync::Arc;

use serde::Deserialize;

use crate::heap::{HeapObject, ObjectKind, TypeRegistry};
use crate::secrets::Secret;

/// A forward proxy and how to authenticate to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyServer {
    /// `http://proxy.example.com:3128`
    pub uri: http::Uri,
    pub credentials: Option<ProxyCredentials>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyCredentials {
    pub username: String,
    pub password: Secret,
}

impl ProxyCredentials {
    /// The `Proxy-Authorization` value (Basic).
    pub fn authorization(&self) -> http::HeaderValue {
        use base64::Engine;
        let mut raw = self.username.as_bytes().to_vec();
        raw.push(b':');
        raw.extend_from_slice(self.password.expose());
        let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
        let mut value = http::HeaderValue::try_from(format!("Basic {encoded}"))
            .unwrap_or_else(|_| http::HeaderValue::from_static("Basic"));
        value.set_sensitive(true);
        value
    }
}

/// Proxies taken from `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` (either case), read when
/// the object is built.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemProxy {
    pub http: Option<ProxyServer>,
    pub https: Option<ProxyServer>,
    /// Host suffixes (`.example.com`, `example.com`), exact hosts, IPs, or `*`.
    pub no_proxy: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyOptions {
    /// Connect directly (IG's NoProxyOptions, the default).
    None,
    System(SystemProxy),
    Custom(ProxyServer),
}

impl ProxyOptions {
    /// The proxy to use for a request to `target`, if any.
    pub fn proxy_for(&self, target: &http::Uri) -> Option<&ProxyServer> {
        match self {
            ProxyOptions::None => None,
            ProxyOptions::Custom(server) => Some(server),
            ProxyOptions::System(system) => {
                let host = target.host()?.trim_matches(['[', ']']);
                if system
                    .no_proxy
                    .iter()
                    .any(|rule| no_proxy_matches(rule, host))
                {
                    return None;
                }
                if target.scheme() == Some(&http::uri::Scheme::HTTPS) {
                    system.https.as_ref().or(system.http.as_ref())
                } else {
                    system.http.as_ref()
                }
            }
        }
    }
}

fn no_proxy_matches(rule: &str, host: &str) -> bool {
    let rule = rule.trim();
    if rule == "*" {
        return true;
    }
    let rule = rule.trim_start_matches('*');
    let rule = rule.split(':').next().unwrap_or(rule);
    if rule.is_empty() {
        return false;
    }
    if host.eq_ignore_ascii_case(rule.trim_start_matches('.')) {
        return true;
    }
    let suffix = if rule.starts_with('.') {
        rule.to_owned()
    } else {
        format!(".{rule}")
    };
    host.len() > suffix.len()
        && host
            .to_ascii_lowercase()
            .ends_with(&suffix.to_ascii_lowercase())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NoSettings {}

pub(crate) fn register_types(registry: &mut TypeRegistry) {
    registry.register_native(
        &["NoProxyOptions"],
        ObjectKind::Service,
        |builder, declaration| {
            builder.decode::<NoSettings>(&declaration.config)?;
            Ok(HeapObject::Service(Arc::new(ProxyOptions::None)))
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(uri: &str) -> ProxyServer {
        ProxyServer {
            uri: uri.parse().unwrap_or_default(),
            credentials: None,
        }
    }

    #[test]
    fn system_proxy_honours_scheme_and_no_proxy() {
        let options = ProxyOptions::System(SystemProxy {
            http: Some(server("http://plain-proxy:3128")),
            https: Some(server("http://tls-proxy:3128")),
            no_proxy: vec![
                ".internal".to_owned(),
                "localhost".to_owned(),
                "10.1.2.3".to_owned(),
            ],
        });
        let proxy_of = |uri: &str| {
            options
                .proxy_for(&uri.parse().unwrap_or_default())
                .map(|server| server.uri.to_string())
        };
        assert_eq!(
            proxy_of("http://app.example.com/").as_deref(),
            Some("http://plain-proxy:3128/")
        );
        assert_eq!(
            proxy_of("https://app.example.com/").as_deref(),
            Some("http://tls-proxy:3128/")
        );
        assert_eq!(proxy_of("http://db.internal/"), None);
        assert_eq!(proxy_of("http://internal/"), None);
        assert_eq!(proxy_of("http://localhost:8080/"), None);
        assert_eq!(proxy_of("http://10.1.2.3/"), None);
        assert_eq!(
            proxy_of("http://notinternal/").as_deref(),
            Some("http://plain-proxy:3128/")
        );
    }

    #[test]
    fn credentials_never_print_the_password() {
        let credentials = ProxyCredentials {
            username: "gateway".to_owned(),
            password: Secret::new(b"s3cret".to_vec()),
        };
        assert!(!format!("{credentials:?}").contains("s3cret"));
        assert!(credentials.authorization().is_sensitive());
        assert_eq!(credentials.authorization(), "Basic Z2F0ZXdheTpzM2NyZXQ=");
    }
}
