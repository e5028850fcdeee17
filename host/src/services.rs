//! Heap objects that are neither handlers nor filters: proxy settings and secret stores.

use std::sync::Arc;

use serde::Deserialize;

use crate::heap::{HeapObject, ObjectKind, TypeRegistry};

/// How ClientHandlers reach upstreams. Forward proxies arrive with the proxying work; the
/// default (and IG's) is a direct connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyOptions {
    None,
}

/// IG's SystemAndEnvSecretStore: secret `my.secret.id` is environment variable
/// `MY_SECRET_ID`, decoded from Base64 unless the format is PLAIN.
#[derive(Debug, Clone)]
pub struct SystemAndEnvSecretStore {
    pub format: SecretFormat,
    pub mappings: Vec<SecretMapping>,
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum SecretFormat {
    #[default]
    Base64,
    Plain,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecretMapping {
    pub secret_id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SecretStoreConfig {
    /// BASE64 (default) or PLAIN.
    #[serde(default)]
    format: SecretFormat,
    #[serde(default)]
    mappings: Vec<SecretMapping>,
}

impl SystemAndEnvSecretStore {
    /// The environment variable a secret id maps to: dots become underscores, upper case.
    pub fn variable_name(secret_id: &str) -> String {
        secret_id.replace('.', "_").to_uppercase()
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EmptyConfig {}

pub(crate) fn register_types(registry: &mut TypeRegistry) {
    registry.register_native(
        &["NoProxyOptions"],
        ObjectKind::Service,
        |builder, declaration| {
            builder.decode::<EmptyConfig>(&declaration.config)?;
            Ok(HeapObject::Service(Arc::new(ProxyOptions::None)))
        },
    );
    registry.register_native(
        &["SystemAndEnvSecretStore"],
        ObjectKind::Service,
        |builder, declaration| {
            let config: SecretStoreConfig = builder.decode(&declaration.config)?;
            Ok(HeapObject::Service(Arc::new(SystemAndEnvSecretStore {
                format: config.format,
                mappings: config.mappings,
            })))
        },
    );
}
