//! A gateway assembled from a configuration directory: `admin.json`, `config.json` and the
//! routers they declare.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use crate::config::{AdminSettings, ConfigError, ConfigErrors, Located, SourceDoc, read_optional};
use crate::exchange::Exchange;
use crate::handler::{Handler, HandlerFuture};
use crate::heap::{
    BuildMode, Environment, Heap, HeapBuilder, HeapObject, Properties, TypeRegistry,
    builtin_declarations,
};

/// The keys of config.json with a fixed meaning; any other key decorates the top handler.
pub const CONFIG_KEYS: &[&str] = &[
    "heap",
    "handler",
    "globalDecorators",
    "properties",
    "temporaryStorage",
    // Ferrogate extension: the WebAssembly plugin runtime (see docs/plugin-runtime.md).
    "plugins",
    "session",
    "comment",
];

/// IG's behaviour without a config.json: one main router on `routes/`, 404 by default.
const DEFAULT_CONFIG: &str = r#"{ "handler": { "name": "_router", "type": "Router" } }"#;

static DEFAULT_CONFIG_DOC: LazyLock<Option<(SourceDoc, serde_json::Value)>> = LazyLock::new(|| {
    SourceDoc::parse(
        Some(Arc::from(Path::new("<default config.json>"))),
        DEFAULT_CONFIG,
    )
    .ok()
});

pub struct Gateway {
    pub config_dir: PathBuf,
    pub admin: AdminSettings,
    pub environment: Arc<Environment>,
    pub handler: Arc<dyn Handler>,
    /// Keeps every top-level object (and the routers' watchers) alive.
    pub heap: Arc<Heap>,
}

impl Gateway {
    /// Handles a request with the top-level handler; config.json's properties are visible to
    /// its expressions until a route replaces them with its own (which inherit them).
    pub fn handle<'a>(&'a self, exchange: &'a mut Exchange) -> HandlerFuture<'a> {
        if exchange.properties.is_none() {
            exchange.properties = Some(self.heap.properties().clone());
        }
        self.handler.handle(exchange)
    }

    /// Loads everything. In `Check` mode route files are validated and their errors returned
    /// with the others; in `Serve` mode routers start watching and broken routes are only
    /// reported (they must not stop the gateway from starting).
    pub fn load(
        config_dir: &Path,
        mode: BuildMode,
        registry: Arc<TypeRegistry>,
    ) -> Result<Gateway, ConfigErrors> {
        let registry = with_plugins(&registry, config_dir).map_err(|e| ConfigErrors(vec![e]))?;
        let environment = Environment::new(registry, config_dir.to_path_buf(), mode);
        let admin = AdminSettings::load(config_dir, &environment);
        let built = load_config(config_dir, &environment);
        let mut errors: Vec<ConfigError> = Vec::new();
        if let Err(error) = &admin {
            errors.push(error.clone());
        }
        if let Err(error) = &built {
            errors.push(error.clone());
        }
        errors.extend(environment.take_diagnostics());
        match (admin, built) {
            (Ok(admin), Ok((heap, handler))) if errors.is_empty() || mode == BuildMode::Serve => {
                Ok(Gateway {
                    config_dir: config_dir.to_path_buf(),
                    admin,
                    environment,
                    handler,
                    heap,
                })
            }
            _ => Err(ConfigErrors(errors)),
        }
    }
}

/// The registry extended with the plugin types: the embedded standard plugins and those of
/// the directories config.json names. The factories keep the components (and the watch on
/// their files) alive as long as the gateway's objects need them.
fn with_plugins(
    registry: &Arc<TypeRegistry>,
    config_dir: &Path,
) -> Result<Arc<TypeRegistry>, ConfigError> {
    let (settings, limits) = crate::plugin::settings_from_config(config_dir)?;
    let mut extended = (**registry).clone();
    crate::plugin::register(&mut extended, &settings, limits, config_dir)?;
    Ok(Arc::new(extended))
}

fn load_config(
    config_dir: &Path,
    environment: &Arc<Environment>,
) -> Result<(Arc<Heap>, Arc<dyn Handler>), ConfigError> {
    let path = config_dir.join("config.json");
    let loaded = read_optional(&path)?;
    let (doc, value) = match &loaded {
        Some((doc, value)) => (doc, value),
        None => match DEFAULT_CONFIG_DOC.as_ref() {
            Some((doc, value)) => (doc, value),
            None => {
                return Err(ConfigError::new(
                    "the built-in default configuration is invalid",
                ));
            }
        },
    };
    let root = Located {
        doc,
        pointer: String::new(),
        value,
    };
    let serde_json::Value::Object(members) = value else {
        return Err(root.error("config.json must hold a JSON object with at least a \"handler\""));
    };
    let properties = Properties::load(root.get("properties"), None, config_dir)?;
    let mut builder = HeapBuilder::new(
        environment.clone(),
        "config.json",
        None,
        None,
        properties,
        root.get("heap"),
        builtin_declarations(),
    )?;
    builder.add_global_decorators(root.get("globalDecorators"))?;
    builder.build_all()?;
    let handler_at = root
        .get("handler")
        .ok_or_else(|| root.error("config.json has no \"handler\"").with_hint("add \"handler\": {\"name\": \"_router\", \"type\": \"Router\"} to route requests with the files in routes/"))?;
    let handler = builder.resolve_handler(&handler_at)?;
    let decorations: Vec<(String, Located<'_>)> = members
        .keys()
        .filter(|key| !CONFIG_KEYS.contains(&key.as_str()))
        .filter_map(|key| root.get(key).map(|at| (key.clone(), at)))
        .collect();
    let handler =
        match builder.apply_decorations(HeapObject::Handler(handler), "handler", &decorations)? {
            HeapObject::Handler(handler) => handler,
            _ => return Err(root.error(
                "a decorator replaced the top-level handler with something that is not a handler",
            )),
        };
    let manager =
        crate::session::resolve_manager(&mut builder, root.get("session").as_ref(), &root, true)?
            .unwrap_or_else(|| Arc::new(crate::session::InMemorySessionManager::with_defaults()));
    let handler: Arc<dyn Handler> = Arc::new(crate::session::SessionHandler {
        manager,
        handler,
        scope: Arc::from("config.json"),
    });
    Ok((builder.finish(), handler))
}
