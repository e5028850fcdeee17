//! Reading a routes directory: which JSON files it holds and whether they changed.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::route::ROUTE_FILE_LIMIT;
use crate::config::ConfigError;

/// Identifies a version of a file without reading it. Metadata follows symlinks, so a
/// Kubernetes ConfigMap swap (files are links through `..data`) shows as a new inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFingerprint {
    modified: Option<SystemTime>,
    length: u64,
    inode: u64,
    device: u64,
}

pub struct ScannedFile {
    pub fingerprint: FileFingerprint,
}

/// Lists the route files: `*.json`, not hidden (editors' and Kubernetes' own files start with
/// a dot), regular files after following links.
pub fn scan(directory: &Path) -> std::io::Result<BTreeMap<PathBuf, ScannedFile>> {
    use std::os::unix::fs::MetadataExt;
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(directory)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || !name.ends_with(".json") {
            continue;
        }
        let path = entry.path();
        let Ok(metadata) = std::fs::metadata(&path) else {
            // A dangling link mid-swap: the next scan sees the settled state.
            continue;
        };
        if !metadata.is_file() {
            continue;
        }
        files.insert(
            path,
            ScannedFile {
                fingerprint: FileFingerprint {
                    modified: metadata.modified().ok(),
                    length: metadata.len(),
                    inode: metadata.ino(),
                    device: metadata.dev(),
                },
            },
        );
    }
    Ok(files)
}

/// Reads a route file, refusing oversized ones, and hashes its content so that a touched but
/// unchanged file is not rebuilt.
pub fn read(path: &Path, scanned: &ScannedFile) -> Result<(String, u64), ConfigError> {
    if scanned.fingerprint.length > ROUTE_FILE_LIMIT {
        return Err(ConfigError::new(format!(
            "the route file is {} bytes, more than the {ROUTE_FILE_LIMIT} allowed",
            scanned.fingerprint.length
        ))
        .at_file(path));
    }
    let bytes = std::fs::read(path).map_err(|error| {
        ConfigError::new(format!("the route file cannot be read: {error}")).at_file(path)
    })?;
    let text = String::from_utf8(bytes).map_err(|error| {
        ConfigError::new(format!(
            "the route file is not UTF-8 text (invalid byte at offset {})",
            error.utf8_error().valid_up_to()
        ))
        .at_file(path)
    })?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    Ok((text, hasher.finish()))
}
