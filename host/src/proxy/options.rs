//! ProxyOptions: how a ClientHandler reaches an upstream: directly, through the proxy the
//! environment names, or through a configured forward proxy.

use std::sync::Arc;

use serde::Deserialize;

use crate::heap::{HeapObject, ObjectKind, TypeRegistry};
use crate::secrets::{Secret, SecretsProvider};

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

/// `CustomProxyOptions` configuration (IG names).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CustomSettings {
    /// The proxy, `http://host:port`.
    #[allow(dead_code)]
    uri: serde_json::Value,
    /// User name for Basic proxy authentication.
    #[serde(default)]
    #[allow(dead_code)]
    username: Option<serde_json::Value>,
    /// Secret id of the password, looked up in `secretsProvider`.
    #[serde(default)]
    #[allow(dead_code)]
    password_secret_id: Option<serde_json::Value>,
    /// Where the password is; defaults to the heap object `SystemAndEnvSecretStore`.
    #[serde(default)]
    #[allow(dead_code)]
    secrets_provider: Option<serde_json::Value>,
}

/// Parses a proxy URI; credentials in its user info (`http://user:pass@host:port`) become
/// [`ProxyCredentials`] and are removed from the URI, which is what logs show.
pub fn parse_proxy_uri(text: &str) -> Result<ProxyServer, String> {
    let text = text.trim();
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("http://{text}")
    };
    let (scheme, rest) = with_scheme
        .split_once("://")
        .unwrap_or(("http", &with_scheme));
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(format!(
            "proxy scheme \"{scheme}\" is not supported; use an http:// proxy URI"
        ));
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let (credentials, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let decode = |part: &str| {
                percent_encoding::percent_decode_str(part)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (
                Some(ProxyCredentials {
                    username: decode(user),
                    password: Secret::new(decode(password).into_bytes()),
                }),
                host_port,
            )
        }
        None => (None, authority),
    };
    let uri: http::Uri = format!("http://{host_port}")
        .parse()
        .map_err(|_| format!("\"{host_port}\" is not a valid proxy host and port"))?;
    if uri.host().is_none_or(str::is_empty) {
        return Err("the proxy URI names no host".to_owned());
    }
    Ok(ProxyServer { uri, credentials })
}

/// Reads the proxy environment variables now (lowercase first, as curl does).
pub fn system_proxy_from(get: impl Fn(&str) -> Option<String>) -> Result<SystemProxy, String> {
    let read = |name: &str| {
        get(&name.to_ascii_lowercase())
            .or_else(|| get(name))
            .filter(|value| !value.trim().is_empty())
    };
    let server = |name: &str| -> Result<Option<ProxyServer>, String> {
        read(name)
            .map(|value| parse_proxy_uri(&value).map_err(|error| format!("{name}: {error}")))
            .transpose()
    };
    Ok(SystemProxy {
        http: server("HTTP_PROXY")?,
        https: server("HTTPS_PROXY")?,
        no_proxy: read("NO_PROXY")
            .map(|value| {
                value
                    .split(',')
                    .map(|rule| rule.trim().to_owned())
                    .filter(|rule| !rule.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
    })
}

pub(crate) fn register_types(registry: &mut TypeRegistry) {
    registry.register_native(
        &["NoProxyOptions"],
        ObjectKind::Service,
        |builder, declaration| {
            builder.decode::<NoSettings>(&declaration.config)?;
            Ok(HeapObject::Service(Arc::new(ProxyOptions::None)))
        },
    );
    registry.register_native(
        &["SystemProxyOptions"],
        ObjectKind::Service,
        |builder, declaration| {
            let at = &declaration.config;
            builder.decode::<NoSettings>(at)?;
            let system = system_proxy_from(|name| std::env::var(name).ok())
                .map_err(|error| at.error(error))?;
            tracing::debug!(
                object = %declaration.name,
                http = ?system.http.as_ref().map(|p| p.uri.to_string()),
                https = ?system.https.as_ref().map(|p| p.uri.to_string()),
                no_proxy = ?system.no_proxy,
                "system proxy settings read"
            );
            Ok(HeapObject::Service(Arc::new(ProxyOptions::System(system))))
        },
    );
    registry.register_native(
        &["CustomProxyOptions"],
        ObjectKind::Service,
        |builder, declaration| {
            let at = &declaration.config;
            builder.decode::<CustomSettings>(at)?;
            let uri_at = at
                .get("uri")
                .ok_or_else(|| at.error("CustomProxyOptions needs \"uri\""))?;
            let uri_text = builder.config_string(&uri_at)?;
            let mut server = parse_proxy_uri(&uri_text).map_err(|error| uri_at.error(error))?;
            let username = at
                .get("username")
                .map(|value| builder.config_string(&value))
                .transpose()?;
            match (username, at.get("passwordSecretId")) {
                (Some(username), Some(id_at)) => {
                    let id = builder.config_string(&id_at)?;
                    let provider = SecretsProvider::for_config(builder, at)?;
                    let password = provider.require(&id, &id_at)?;
                    server.credentials = Some(ProxyCredentials { username, password });
                }
                (Some(username), None) if server.credentials.is_none() => {
                    server.credentials = Some(ProxyCredentials {
                        username,
                        password: Secret::new(Vec::new()),
                    });
                }
                (None, Some(id_at)) => {
                    return Err(id_at.error("passwordSecretId needs \"username\" too"));
                }
                _ => {}
            }
            Ok(HeapObject::Service(Arc::new(ProxyOptions::Custom(server))))
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

    #[test]
    fn proxy_uris_lose_their_credentials() {
        let server = parse_proxy_uri("http://me:p%40ss@proxy.example:3128/")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(server.uri.host(), Some("proxy.example"));
        assert_eq!(server.uri.port_u16(), Some(3128));
        assert!(!server.uri.to_string().contains("p%40ss"));
        let credentials = server
            .credentials
            .unwrap_or_else(|| panic!("no credentials"));
        assert_eq!(credentials.username, "me");
        assert_eq!(credentials.password.expose(), b"p@ss");
        assert!(parse_proxy_uri("proxy:8080").is_ok_and(|s| s.credentials.is_none()));
        assert!(parse_proxy_uri("socks5://proxy:1080").is_err());
    }

    #[test]
    fn system_proxy_reads_either_case() {
        let env = |name: &str| match name {
            "http_proxy" => Some("http://lower:1".to_owned()),
            "HTTP_PROXY" => Some("http://upper:1".to_owned()),
            "HTTPS_PROXY" => Some("http://u:p@secure:2".to_owned()),
            "NO_PROXY" => Some("localhost, .internal,".to_owned()),
            _ => None,
        };
        let system = system_proxy_from(env).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            system.http.map(|s| s.uri.to_string()).as_deref(),
            Some("http://lower:1/")
        );
        assert!(system.https.is_some_and(|s| s.credentials.is_some()));
        assert_eq!(system.no_proxy, vec!["localhost", ".internal"]);
    }
}
