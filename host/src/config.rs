//! Reading configuration: JSON with positions, the error type every configuration problem
//! uses, typed decoding with hints, IG durations, and the `config.json` / `admin.json` files.

pub mod admin;
pub mod diagnostic;
pub mod duration;
pub mod source;
pub mod typed;

use std::path::{Path, PathBuf};

pub use admin::{AdminSettings, ConnectorSettings};
pub use diagnostic::{ConfigError, ConfigErrors, Position, did_you_mean, pointer_push};
pub use source::{Located, SourceDoc};

/// Configuration files larger than this are refused before parsing.
pub const CONFIG_FILE_LIMIT: u64 = 8 << 20;

impl ConfigError {
    /// Locates an error in a whole file, when no position inside it applies.
    pub fn at_file(mut self, path: &Path) -> Self {
        self.file = Some(std::sync::Arc::from(path));
        self
    }
}

/// The configuration directory: the command line's, else `$FERROGATE_CONFIG`, else IG's
/// `$HOME/.openig/config`.
pub fn resolve_config_dir(explicit: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir;
    }
    if let Some(dir) = std::env::var_os("FERROGATE_CONFIG") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".openig").join("config")
}

/// Reads a configuration file if it exists: Ok(None) when it does not.
pub fn read_optional(path: &Path) -> Result<Option<(SourceDoc, serde_json::Value)>, ConfigError> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(ConfigError::new(format!("cannot read the file: {error}")).at_file(path));
        }
    };
    if metadata.len() > CONFIG_FILE_LIMIT {
        return Err(ConfigError::new(format!(
            "the file is {} bytes, more than the {CONFIG_FILE_LIMIT} allowed",
            metadata.len()
        ))
        .at_file(path));
    }
    let text = std::fs::read_to_string(path).map_err(|error| {
        ConfigError::new(format!("cannot read the file: {error}")).at_file(path)
    })?;
    SourceDoc::parse(Some(std::sync::Arc::from(path)), text).map(Some)
}
