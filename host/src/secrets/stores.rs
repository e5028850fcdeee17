//! The secret store types IG users declare: `SystemAndEnvSecretStore` (environment
//! variables), `Base64EncodedSecretStore` (values written in the configuration) and
//! `FileSystemSecretStore` (one file per secret).

use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;

use indexmap::IndexMap;
use serde::Deserialize;

use super::{Secret, SecretError, SecretStore, store_object};
use crate::heap::{ObjectKind, TypeRegistry};

/// A secret file larger than this is refused rather than read.
pub const SECRET_FILE_LIMIT: u64 = 1 << 20;

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

/// The names to look a secret id up under: the aliases of its mappings, in order, then `own`.
fn candidates(mappings: &[SecretMapping], id: &str, own: String) -> Vec<String> {
    mappings
        .iter()
        .filter(|mapping| mapping.secret_id == id)
        .flat_map(|mapping| mapping.aliases.iter().cloned())
        .chain(std::iter::once(own))
        .collect()
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

    /// [`SecretStore::get`] with the environment given as a lookup function (tests cannot set
    /// variables: `set_var` is unsafe and unsafe code is forbidden).
    pub fn get_from(
        &self,
        id: &str,
        variables: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Option<Secret>, SecretError> {
        let names = candidates(&self.mappings, id, Self::variable_name(id));
        let Some(value) = names.iter().find_map(|name| variables(name)) else {
            return Ok(None);
        };
        let value = value.to_string_lossy().into_owned();
        decode(self.format, value.trim().as_bytes(), &self.describe()).map(Some)
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
        self.get_from(id, |name| std::env::var_os(name))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Base64EncodedConfig {
    /// Secret id to its value in Base64 (read again located, to evaluate and decode each).
    #[serde(rename = "secrets")]
    _secrets: IndexMap<String, String>,
}

/// IG's Base64EncodedSecretStore: secrets written in the configuration, Base64-encoded; decoded
/// (so validated) when the configuration loads.
pub struct Base64EncodedSecretStore {
    pub name: String,
    pub secrets: IndexMap<String, Secret>,
}

impl SecretStore for Base64EncodedSecretStore {
    fn describe(&self) -> String {
        format!(
            "Base64EncodedSecretStore \"{}\" ({} secret(s))",
            self.name,
            self.secrets.len()
        )
    }

    fn get(&self, id: &str) -> Result<Option<Secret>, SecretError> {
        Ok(self.secrets.get(id).cloned())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSystemConfig {
    /// Relative to the configuration directory (read again located, to evaluate `${...}`).
    #[serde(rename = "directory")]
    _directory: String,
    #[serde(default)]
    format: SecretFormat,
    /// Read again located, to evaluate `${...}`.
    #[serde(default, rename = "suffix")]
    _suffix: Option<String>,
    #[serde(default)]
    mappings: Vec<SecretMapping>,
}

/// IG's FileSystemSecretStore: secret `my.secret.id` is the file `<directory>/my.secret.id
/// <suffix>`, read each time it is asked for so that a rotated file is picked up.
pub struct FileSystemSecretStore {
    pub name: String,
    pub directory: PathBuf,
    pub format: SecretFormat,
    pub suffix: String,
    pub mappings: Vec<SecretMapping>,
}

impl FileSystemSecretStore {
    fn error(&self, reason: impl Into<String>) -> SecretError {
        SecretError {
            store: self.describe(),
            reason: reason.into(),
        }
    }

    /// Reads one candidate file: Ok(None) when it does not exist.
    fn read(&self, file_name: &str) -> Result<Option<Vec<u8>>, SecretError> {
        if file_name.is_empty()
            || file_name == "."
            || file_name == ".."
            || file_name.contains(['/', '\\', '\0'])
        {
            return Err(self.error(format!(
                "\"{file_name}\" cannot name a file in the directory (empty, \".\", \"..\" or containing a path separator)"
            )));
        }
        let path = self.directory.join(format!("{file_name}{}", self.suffix));
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(self.error(format!("cannot read {}: {error}", path.display())));
            }
        };
        let metadata = file
            .metadata()
            .map_err(|error| self.error(format!("cannot read {}: {error}", path.display())))?;
        if !metadata.is_file() {
            return Err(self.error(format!("{} is not a regular file", path.display())));
        }
        if metadata.len() > SECRET_FILE_LIMIT {
            return Err(self.error(format!(
                "{} is {} bytes, more than the {SECRET_FILE_LIMIT} allowed for a secret",
                path.display(),
                metadata.len()
            )));
        }
        let mut bytes = Vec::new();
        file.take(SECRET_FILE_LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(|error| self.error(format!("cannot read {}: {error}", path.display())))?;
        if bytes.len() as u64 > SECRET_FILE_LIMIT {
            return Err(self.error(format!(
                "{} grew beyond the {SECRET_FILE_LIMIT} bytes allowed for a secret",
                path.display()
            )));
        }
        Ok(Some(bytes))
    }
}

impl SecretStore for FileSystemSecretStore {
    fn describe(&self) -> String {
        let suffix = if self.suffix.is_empty() {
            String::new()
        } else {
            format!(" with suffix \"{}\"", self.suffix)
        };
        format!(
            "FileSystemSecretStore \"{}\" (files in {}{suffix}, {:?})",
            self.name,
            self.directory.display(),
            self.format
        )
    }

    /// A mapping's aliases name the files (before the suffix) to read for its secret id, in
    /// order, before the file named after the id.
    fn get(&self, id: &str) -> Result<Option<Secret>, SecretError> {
        for file_name in candidates(&self.mappings, id, id.to_owned()) {
            if let Some(mut bytes) = self.read(&file_name)? {
                if self.format == SecretFormat::Plain {
                    trim_line_ending(&mut bytes);
                }
                return decode(self.format, &bytes, &self.describe()).map(Some);
            }
        }
        Ok(None)
    }
}

/// Removes one trailing line ending (`\n` or `\r\n`) from a text (UTF-8) secret, as editors and
/// `echo` add one; binary content is left as it is.
fn trim_line_ending(bytes: &mut Vec<u8>) {
    if std::str::from_utf8(bytes).is_err() {
        return;
    }
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
}

/// Decodes a stored value. Base64 may be wrapped on several lines (as `base64` writes it):
/// ASCII whitespace is ignored. Errors never quote the value, not even one character of it.
pub(crate) fn decode(format: SecretFormat, raw: &[u8], store: &str) -> Result<Secret, SecretError> {
    match format {
        SecretFormat::Plain => Ok(Secret::new(raw.to_vec())),
        SecretFormat::Base64 => decode_base64(raw)
            .map(Secret::new)
            .map_err(|problem| SecretError {
                store: store.to_owned(),
                reason: format!(
                    "the value is not Base64 ({problem}); set \"format\": \"PLAIN\" for plain values"
                ),
            }),
    }
}

/// Base64 (standard alphabet, padded) to bytes; the error says what is wrong without quoting.
pub(crate) fn decode_base64(raw: &[u8]) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let compact: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|byte| !byte.is_ascii_whitespace())
        .collect();
    if compact.is_empty() {
        return Err("it is empty".to_owned());
    }
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|error| match error {
            base64::DecodeError::InvalidByte(offset, _) => {
                format!("invalid character at offset {offset}")
            }
            base64::DecodeError::InvalidLength(length) => {
                format!("invalid length {length}: Base64 comes in groups of 4 characters")
            }
            base64::DecodeError::InvalidLastSymbol(offset, _) => {
                format!("invalid last character at offset {offset}")
            }
            base64::DecodeError::InvalidPadding => "invalid padding".to_owned(),
        })
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
    registry.register_native(
        &["Base64EncodedSecretStore"],
        ObjectKind::Service,
        |builder, declaration| {
            let at = &declaration.config;
            builder.decode::<Base64EncodedConfig>(at)?;
            let mut secrets = IndexMap::new();
            if let Some(secrets_at) = at.get("secrets") {
                for (id, value_at) in secrets_at.members() {
                    let text = builder.config_string(&value_at)?;
                    let bytes = decode_base64(text.as_bytes()).map_err(|problem| {
                        value_at
                            .error(format!("the value of secret \"{id}\" is not Base64: {problem}"))
                            .with_hint("Base64EncodedSecretStore values are Base64 (standard alphabet, padded); encode with `printf %s 'value' | base64 -w0`")
                    })?;
                    secrets.insert(id.to_owned(), Secret::new(bytes));
                }
            }
            Ok(store_object(Base64EncodedSecretStore {
                name: declaration.name.clone(),
                secrets,
            }))
        },
    );
    registry.register_native(
        &["FileSystemSecretStore"],
        ObjectKind::Service,
        |builder, declaration| {
            let at = &declaration.config;
            let config: FileSystemConfig = builder.decode(at)?;
            let Some(directory_at) = at.get("directory") else {
                return Err(at.error("FileSystemSecretStore needs a \"directory\""));
            };
            let text = builder.config_string(&directory_at)?;
            let directory = builder.environment().config_dir.join(&text);
            if !directory.is_dir() {
                return Err(directory_at
                    .error(format!(
                        "the secrets directory {} does not exist",
                        directory.display()
                    ))
                    .with_hint("a relative \"directory\" is relative to the configuration directory; create it or correct the path"));
            }
            let suffix = match at.get("suffix") {
                Some(suffix_at) => builder.config_string(&suffix_at)?,
                None => String::new(),
            };
            if suffix.contains(['/', '\\', '\0']) {
                return Err(at
                    .get("suffix")
                    .unwrap_or_else(|| at.clone())
                    .error("\"suffix\" cannot contain a path separator"));
            }
            Ok(store_object(FileSystemSecretStore {
                name: declaration.name.clone(),
                directory,
                format: config.format,
                suffix,
                mappings: config.mappings,
            }))
        },
    );
}
