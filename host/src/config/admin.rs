//! `admin.json`: the admin prefix, the mode, and the listeners (connectors).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::{ConfigError, Located, read_optional, typed};
use crate::heap::{Environment, Heap, HeapBuilder, Properties, builtin_declarations};
use crate::server::tls::ServerTlsOptions;

/// The always-present objects of admin.json's heap: the secret store, so that a
/// `SecretsKeyManager` can say `"secretsProvider": "SystemAndEnvSecretStore"`.
const ADMIN_BUILTINS: &[&str] = &["SystemAndEnvSecretStore"];

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
    /// Objects of admin.json (ServerTlsOptions, key managers, secret stores); built below.
    #[serde(default)]
    #[allow(dead_code)]
    heap: Option<serde_json::Value>,
    /// Resolved below with the heap.
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
    /// A ServerTlsOptions reference (name in admin.json's heap, or inline): HTTPS.
    #[serde(default)]
    tls: Option<serde_json::Value>,
}

/// One listener: where, and with which TLS settings when it is HTTPS.
#[derive(Debug, Clone)]
pub struct ConnectorSettings {
    pub address: SocketAddr,
    pub tls: Option<Arc<ServerTlsOptions>>,
}

impl ConnectorSettings {
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }
}

#[derive(Clone)]
pub struct AdminSettings {
    /// Without slashes: "openig".
    pub prefix: String,
    pub mode: Mode,
    pub connectors: Vec<ConnectorSettings>,
    /// admin.json's heap, kept alive with the settings built from it.
    pub heap: Option<Arc<Heap>>,
}

impl std::fmt::Debug for AdminSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AdminSettings")
            .field("prefix", &self.prefix)
            .field("mode", &self.mode)
            .field("connectors", &self.connectors)
            .finish_non_exhaustive()
    }
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            prefix: "openig".to_owned(),
            mode: Mode::Evaluation,
            connectors: vec![ConnectorSettings {
                address: SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 8080),
                tls: None,
            }],
            heap: None,
        }
    }
}

impl AdminSettings {
    /// Reads admin.json; its `heap` is built against the environment's registry so that a
    /// connector's `tls` can name a ServerTlsOptions object.
    pub fn load(
        config_dir: &Path,
        environment: &Arc<Environment>,
    ) -> Result<AdminSettings, ConfigError> {
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
        let properties = Properties::load(root.get("properties"), None, config_dir)?;
        let builtins = builtin_declarations()
            .into_iter()
            .filter(|declaration| ADMIN_BUILTINS.contains(&declaration.name.as_str()))
            .collect();
        let mut builder = HeapBuilder::new(
            environment.clone(),
            "admin.json",
            None,
            None,
            properties,
            root.get("heap"),
            builtins,
        )?;
        builder.build_all()?;
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
                    let tls = match (&connector.tls, at.get("tls")) {
                        (Some(_), Some(tls_at)) => {
                            Some(builder.resolve_service::<ServerTlsOptions>(
                                &tls_at,
                                "a ServerTlsOptions object",
                            )?)
                        }
                        _ => None,
                    };
                    let ip = match &connector.host {
                        Some(host) => resolve_host(host)
                            .map_err(|reason| at.get("host").unwrap_or(at.clone()).error(reason))?,
                        None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                    };
                    connectors.push(ConnectorSettings {
                        address: SocketAddr::new(ip, connector.port),
                        tls,
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
            heap: Some(builder.finish()),
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
