//! `admin.json`: the admin prefix, the mode, and the listeners (connectors).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::Path;

use serde::Deserialize;

use super::{ConfigError, Located, read_optional, typed};

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum Mode {
    #[default]
    Evaluation,
    Production,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AdminFile {
    /// Path prefix of the admin surface, default "openig".
    #[serde(default)]
    prefix: Option<String>,
    /// EVALUATION (default) or PRODUCTION.
    #[serde(default)]
    mode: Mode,
    /// Listeners; default one HTTP connector on port 8080.
    #[serde(default)]
    connectors: Option<Vec<ConnectorFile>>,
    /// Objects for the admin surface; accepted so IG files load.
    #[serde(default)]
    #[allow(dead_code)]
    heap: Option<serde_json::Value>,
    #[serde(default)]
    #[allow(dead_code)]
    properties: Option<serde_json::Value>,
    /// IG buffers or streams; Ferrogate always streams, so this is accepted and has no effect.
    #[serde(default)]
    #[allow(dead_code)]
    streaming_enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ConnectorFile {
    port: u16,
    /// Ferrogate extension: the address to listen on, default all interfaces.
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    tls: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorSettings {
    pub address: SocketAddr,
}

#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// Without slashes: "openig".
    pub prefix: String,
    pub mode: Mode,
    pub connectors: Vec<ConnectorSettings>,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            prefix: "openig".to_owned(),
            mode: Mode::Evaluation,
            connectors: vec![ConnectorSettings {
                address: SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 8080),
            }],
        }
    }
}

impl AdminSettings {
    pub fn load(config_dir: &Path) -> Result<AdminSettings, ConfigError> {
        let path = config_dir.join("admin.json");
        let Some((doc, value)) = read_optional(&path)? else {
            return Ok(AdminSettings::default());
        };
        let root = Located {
            doc: &doc,
            pointer: String::new(),
            value: &value,
        };
        let file: AdminFile = typed::decode(&doc, "", &value)?;
        let prefix = file
            .prefix
            .map(|prefix| prefix.trim_matches('/').to_owned())
            .unwrap_or_else(|| "openig".to_owned());
        if prefix.is_empty() || prefix.contains(['?', '#', ' ']) {
            return Err(root
                .get("prefix")
                .unwrap_or(root.clone())
                .error("\"prefix\" must be a non-empty path segment such as \"openig\""));
        }
        let mut connectors = Vec::new();
        match file.connectors {
            None => connectors = AdminSettings::default().connectors,
            Some(list) => {
                let list_at = root.get("connectors");
                for (index, connector) in list.into_iter().enumerate() {
                    let at = list_at
                        .as_ref()
                        .and_then(|list| list.index(index))
                        .unwrap_or_else(|| root.clone());
                    if connector.tls.is_some() {
                        return Err(at
                            .get("tls")
                            .unwrap_or(at.clone())
                            .key_error(
                                "HTTPS connectors are not supported by this version of Ferrogate",
                            )
                            .with_hint(
                                "remove \"tls\" and terminate TLS in front of the gateway for now",
                            ));
                    }
                    let ip = match &connector.host {
                        Some(host) => resolve_host(host)
                            .map_err(|reason| at.get("host").unwrap_or(at.clone()).error(reason))?,
                        None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                    };
                    connectors.push(ConnectorSettings {
                        address: SocketAddr::new(ip, connector.port),
                    });
                }
                if connectors.is_empty() {
                    return Err(list_at
                        .unwrap_or(root.clone())
                        .error("\"connectors\" is empty: the gateway would not listen anywhere"));
                }
            }
        }
        Ok(AdminSettings {
            prefix,
            mode: file.mode,
            connectors,
        })
    }
}

fn resolve_host(host: &str) -> Result<IpAddr, String> {
    if host == "localhost" {
        return Ok(IpAddr::from([127, 0, 0, 1]));
    }
    host.trim_matches(['[', ']']).parse().map_err(|_| {
        format!("\"{host}\" is not an IP address; use one such as \"127.0.0.1\" or \"::\"")
    })
}
