//! IG's transaction id: a random UUID per request, formatted only when something reads it
//! (a log line, an expression, a plugin). Most requests are never asked for theirs.

use std::sync::{Arc, OnceLock};

/// Held by value, not behind an `Arc` of its own: every request makes one and few are ever
/// cloned, and a clone formats its text again at most once.
#[derive(Clone)]
pub struct TransactionId {
    uuid: uuid::Uuid,
    text: OnceLock<Arc<str>>,
}

impl TransactionId {
    pub fn random() -> Self {
        Self::from_uuid(uuid::Uuid::new_v4())
    }

    fn from_uuid(uuid: uuid::Uuid) -> Self {
        TransactionId {
            uuid,
            text: OnceLock::new(),
        }
    }

    /// A fixed id (tests, stand-ins); an id that is not a UUID is kept as written.
    pub fn named(text: &str) -> Self {
        match uuid::Uuid::parse_str(text) {
            Ok(uuid) => Self::from_uuid(uuid),
            Err(_) => TransactionId {
                uuid: uuid::Uuid::nil(),
                text: OnceLock::from(Arc::from(text)),
            },
        }
    }

    fn text(&self) -> &Arc<str> {
        self.text.get_or_init(|| {
            let mut buffer = uuid::Uuid::encode_buffer();
            Arc::from(&*self.uuid.hyphenated().encode_lower(&mut buffer))
        })
    }

    /// The id as IG prints it (lowercase, hyphenated), shared.
    pub fn shared(&self) -> Arc<str> {
        self.text().clone()
    }

    pub fn as_str(&self) -> &str {
        self.text()
    }
}

impl std::fmt::Display for TransactionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for TransactionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TransactionId({})", self.as_str())
    }
}
