//! Sessions kept in the gateway's memory behind a random id cookie: the default when nothing
//! configures a session manager, as IG's servlet-container session is. They do not survive a
//! restart and are not shared between gateway instances: use a JwtSession for that.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use indexmap::IndexMap;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;

use super::{CookieSettings, SessionManager, Ticket};
use crate::config::ConfigError;
use crate::config::duration::IgDuration;
use crate::exchange::Session;
use crate::expr::Value;
use crate::heap::{Declaration, HeapBuilder};
use crate::http::{Request, Response};

pub const DEFAULT_COOKIE_NAME: &str = "IG_SESSIONID";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Beyond this many live sessions new ones are not created (the request is still served):
/// a bound on what clients that never come back can make the gateway hold.
pub const DEFAULT_MAX_SESSIONS: usize = 100_000;
/// Expired sessions are swept once every this many new sessions.
const SWEEP_EVERY: u64 = 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct InMemoryConfig {
    #[serde(default)]
    #[allow(dead_code)]
    cookie: Option<serde_json::Value>,
    #[serde(default)]
    session_timeout: Option<IgDuration>,
    #[serde(default)]
    #[allow(dead_code)]
    persistent_cookie: Option<bool>,
    #[serde(default)]
    max_sessions: Option<usize>,
}

struct Stored {
    values: IndexMap<String, Value>,
    /// Idle expiry: every request that loads the session pushes it back.
    expires: Instant,
}

pub struct InMemorySessionManager {
    cookie: CookieSettings,
    timeout: Duration,
    max_sessions: usize,
    sessions: Mutex<HashMap<Arc<str>, Stored>>,
    created: AtomicU64,
    random: SystemRandom,
}

impl InMemorySessionManager {
    pub fn new(cookie: CookieSettings, timeout: Duration, max_sessions: usize) -> Self {
        InMemorySessionManager {
            cookie,
            timeout,
            max_sessions,
            sessions: Mutex::new(HashMap::new()),
            created: AtomicU64::new(0),
            random: SystemRandom::new(),
        }
    }

    pub fn with_defaults() -> Self {
        Self::new(
            CookieSettings::new(DEFAULT_COOKIE_NAME),
            DEFAULT_TIMEOUT,
            DEFAULT_MAX_SESSIONS,
        )
    }

    pub fn from_config<'d>(
        builder: &mut HeapBuilder<'d>,
        declaration: &Declaration<'d>,
    ) -> Result<Self, ConfigError> {
        let at = &declaration.config;
        let config: InMemoryConfig = builder.decode(at)?;
        let cookie = CookieSettings::from_config(builder, at, DEFAULT_COOKIE_NAME)?;
        let timeout = match config.session_timeout {
            None => DEFAULT_TIMEOUT,
            Some(timeout) => timeout.finite().filter(|t| !t.is_zero()).ok_or_else(|| {
                at.get("sessionTimeout").unwrap_or_else(|| at.clone()).error(
                    "an in-memory session needs a finite, non-zero \"sessionTimeout\": unbounded sessions would never free their memory",
                )
            })?,
        };
        let max_sessions = config.max_sessions.unwrap_or(DEFAULT_MAX_SESSIONS);
        if max_sessions == 0 {
            return Err(at
                .get("maxSessions")
                .unwrap_or_else(|| at.clone())
                .error("\"maxSessions\" must be at least 1"));
        }
        Ok(Self::new(cookie, timeout, max_sessions))
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Stored>> {
        // A panic while holding the lock leaves the map consistent (every update is a single
        // insert or remove), so a poisoned lock is still usable.
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn new_id(&self) -> Option<Arc<str>> {
        let mut bytes = [0u8; 18];
        self.random.fill(&mut bytes).ok()?;
        Some(Arc::from(URL_SAFE_NO_PAD.encode(bytes)))
    }

    fn insert_new(&self, values: IndexMap<String, Value>, route: &str) -> Option<Arc<str>> {
        let id = self.new_id()?;
        let now = Instant::now();
        let mut sessions = self.lock();
        let created = self.created.fetch_add(1, Ordering::Relaxed);
        if created.is_multiple_of(SWEEP_EVERY) || sessions.len() >= self.max_sessions {
            sessions.retain(|_, stored| stored.expires > now);
        }
        if sessions.len() >= self.max_sessions {
            tracing::warn!(
                route,
                limit = self.max_sessions,
                "in-memory session store is full: this session is not kept; raise \"maxSessions\" or use a JwtSession"
            );
            return None;
        }
        sessions.insert(
            id.clone(),
            Stored {
                values,
                expires: now + self.timeout,
            },
        );
        Some(id)
    }
}

impl SessionManager for InMemorySessionManager {
    fn load(&self, request: &Request) -> (Session, Ticket) {
        let Some(id) = self.cookie.find(request) else {
            return (Session::default(), Ticket::default());
        };
        let now = Instant::now();
        let mut sessions = self.lock();
        let key = match sessions.get_key_value(id) {
            Some((key, stored)) if stored.expires > now => key.clone(),
            Some(_) => {
                sessions.remove(id);
                return (Session::default(), Ticket::default());
            }
            None => return (Session::default(), Ticket::default()),
        };
        let Some(stored) = sessions.get_mut(&key) else {
            return (Session::default(), Ticket::default());
        };
        stored.expires = now + self.timeout;
        let session = Session {
            values: stored.values.clone(),
            changed: false,
        };
        let ticket = Ticket {
            present: true,
            id: Some(key),
            expires_at: None,
        };
        (session, ticket)
    }

    fn save(&self, session: &Session, ticket: Ticket, response: &mut Response, route: &str) {
        if !session.changed {
            return;
        }
        if session.values.is_empty() {
            if let Some(id) = &ticket.id {
                self.lock().remove(id);
                self.cookie.expire(response);
            }
            return;
        }
        if let Some(id) = &ticket.id {
            let mut sessions = self.lock();
            // Another request may have ended the session meanwhile; then this one starts anew.
            if let Some(stored) = sessions.get_mut(id) {
                stored.values = session.values.clone();
                stored.expires = Instant::now() + self.timeout;
                drop(sessions);
                if self.cookie.persistent {
                    self.set_cookie(response, id, route);
                }
                return;
            }
        }
        if let Some(id) = self.insert_new(session.values.clone(), route) {
            self.set_cookie(response, &id, route);
        }
    }
}

impl InMemorySessionManager {
    fn set_cookie(&self, response: &mut Response, id: &str, route: &str) {
        if let Err(error) = self.cookie.set(response, id, self.timeout.as_secs()) {
            tracing::error!(route, cookie = %self.cookie.name, size = error.size, "session cookie is larger than browsers keep; the session is not saved");
        }
    }
}
