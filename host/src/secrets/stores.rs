//! The secret store types IG users declare.

use serde::Deserialize;

use super::{Secret, SecretError, SecretStore, store_object};
use crate::heap::{ObjectKind, TypeRegistry};

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum SecretFormat {
    /// The stored value is Base64 and the secret is what it decodes to (IG's default).
    #[default]
    Base64,
    /// The stored value is the secret.
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
struct SystemAndEnvConfig {
    /// BASE64 (default) or PLAIN.
    #[serde(default)]
    format: SecretFormat,
    #[serde(default)]
    mappings: Vec<SecretMapping>,
}

/// IG's SystemAndEnvSecretStore: secret `my.secret.id` is environment variable
/// `MY_SECRET_ID`.
#[derive(Debug, Clone)]
pub struct SystemAndEnvSecretStore {
    pub format: SecretFormat,
    pub mappings: Vec<SecretMapping>,
}

impl SystemAndEnvSecretStore {
    /// The environment variable a secret id maps to: dots become underscores, upper case.
    pub fn variable_name(secret_id: &str) -> String {
        secret_id.replace('.', "_").to_uppercase()
    }
}

impl SecretStore for SystemAndEnvSecretStore {
    fn describe(&self) -> String {
        format!(
            "SystemAndEnvSecretStore (environment variables, {:?})",
            self.format
        )
    }

    /// A mapping's aliases name the variables to read for its secret id, in order, before the
    /// variable derived from the id.
    fn get(&self, id: &str) -> Result<Option<Secret>, SecretError> {
        let aliases = self
            .mappings
            .iter()
            .filter(|mapping| mapping.secret_id == id)
            .flat_map(|mapping| mapping.aliases.iter().cloned());
        let Some(value) = aliases
            .chain(std::iter::once(Self::variable_name(id)))
            .find_map(std::env::var_os)
        else {
            return Ok(None);
        };
        let value = value.to_string_lossy().into_owned();
        decode(self.format, value.trim().as_bytes(), &self.describe()).map(Some)
    }
}

pub(crate) fn decode(format: SecretFormat, raw: &[u8], store: &str) -> Result<Secret, SecretError> {
    match format {
        SecretFormat::Plain => Ok(Secret::new(raw.to_vec())),
        SecretFormat::Base64 => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .map(Secret::new)
                .map_err(|error| SecretError {
                    store: store.to_owned(),
                    reason: format!("the value is not Base64 ({error}); set \"format\": \"PLAIN\" for plain values"),
                })
        }
    }
}

pub(crate) fn register_types(registry: &mut TypeRegistry) {
    registry.register_native(
        &["SystemAndEnvSecretStore"],
        ObjectKind::Service,
        |builder, declaration| {
            let config: SystemAndEnvConfig = builder.decode(&declaration.config)?;
            Ok(store_object(SystemAndEnvSecretStore {
                format: config.format,
                mappings: config.mappings,
            }))
        },
    );
}
