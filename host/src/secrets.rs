//! Secret stores and `secretsProvider`: where passwords and keys come from. A secret's value
//! never appears in logs or errors: [`Secret`] redacts itself.

pub mod stores;

use std::sync::Arc;

use crate::config::{ConfigError, Located};
use crate::heap::{HeapBuilder, HeapObject, TypeRegistry};

/// Bytes that must not leak: `Debug` and `Display` print a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<[u8]>);

impl Secret {
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> Self {
        Secret(bytes.into())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret as text, for passwords; None when it is not UTF-8.
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Secret(<redacted>)")
    }
}

/// Why a store could not answer (as opposed to not having the secret).
#[derive(Debug, Clone, thiserror::Error)]
#[error("secret store {store}: {reason}")]
pub struct SecretError {
    pub store: String,
    pub reason: String,
}

/// A source of secrets by id (`my.secret.id`).
pub trait SecretStore: Send + Sync + 'static {
    /// A short description for errors: its type and where it looks.
    fn describe(&self) -> String;

    /// The secret with this id, Ok(None) when the store does not hold it.
    fn get(&self, id: &str) -> Result<Option<Secret>, SecretError>;
}

/// A `secretsProvider` setting: one store, or a list searched in order.
static DEFAULT_SECRETS_PROVIDER: std::sync::LazyLock<serde_json::Value> =
    std::sync::LazyLock::new(|| serde_json::Value::String("SystemAndEnvSecretStore".to_owned()));

#[derive(Clone)]
pub struct SecretsProvider {
    stores: Vec<Arc<dyn SecretStore>>,
}

/// The heap holds stores as services of this type.
pub struct StoreObject(pub Arc<dyn SecretStore>);

impl SecretsProvider {
    pub fn new(stores: Vec<Arc<dyn SecretStore>>) -> Self {
        SecretsProvider { stores }
    }

    /// Resolves a `secretsProvider` value: a store reference (name or inline) or a list of
    /// them.
    pub fn resolve<'d>(
        builder: &mut HeapBuilder<'d>,
        at: &Located<'d>,
    ) -> Result<Self, ConfigError> {
        let references: Vec<Located<'d>> = match at.value {
            serde_json::Value::Array(items) => (0..items.len())
                .filter_map(|index| at.index(index))
                .collect(),
            _ => vec![at.clone()],
        };
        let mut stores = Vec::with_capacity(references.len());
        for reference in references {
            let store = builder.resolve_service::<StoreObject>(
                &reference,
                "a secret store (SystemAndEnvSecretStore, Base64EncodedSecretStore, FileSystemSecretStore)",
            )?;
            stores.push(store.0.clone());
        }
        if stores.is_empty() {
            return Err(at.error("\"secretsProvider\" names no secret store"));
        }
        Ok(SecretsProvider { stores })
    }

    /// The provider an object's configuration names under `secretsProvider`, else IG's
    /// default: the heap object `SystemAndEnvSecretStore`.
    pub fn for_config<'d>(
        builder: &mut HeapBuilder<'d>,
        config: &Located<'d>,
    ) -> Result<Self, ConfigError> {
        match config.get("secretsProvider") {
            Some(reference) => Self::resolve(builder, &reference),
            None => {
                let default = Located {
                    value: &DEFAULT_SECRETS_PROVIDER,
                    ..config.clone()
                };
                Self::resolve(builder, &default)
            }
        }
    }

    /// Looks the id up in each store in turn.
    pub fn get(&self, id: &str) -> Result<Option<Secret>, SecretError> {
        for store in &self.stores {
            if let Some(secret) = store.get(id)? {
                return Ok(Some(secret));
            }
        }
        Ok(None)
    }

    /// A secret needed at load time: missing is an error naming the id and the stores.
    pub fn require(&self, id: &str, at: &Located<'_>) -> Result<Secret, ConfigError> {
        match self.get(id) {
            Ok(Some(secret)) => Ok(secret),
            Ok(None) => {
                let stores: Vec<String> =
                    self.stores.iter().map(|store| store.describe()).collect();
                Err(at
                    .error(format!("secret \"{id}\" was not found"))
                    .with_hint(format!("looked in: {}", stores.join("; "))))
            }
            Err(error) => Err(at.error(format!("secret \"{id}\" could not be read: {error}"))),
        }
    }
}

pub(crate) fn register_types(registry: &mut TypeRegistry) {
    stores::register_types(registry);
}

pub(crate) fn store_object(store: impl SecretStore) -> HeapObject {
    HeapObject::Service(Arc::new(StoreObject(Arc::new(store))))
}

#[cfg(test)]
mod tests;
