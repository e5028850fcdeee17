//! IG's heap: named objects declared in `config.json` and route files, looked up through
//! parent heaps, with inline declarations, decorators and global decorators.

mod builder;
mod builtins;
mod properties;
pub mod registry;

use std::any::Any;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

use indexmap::IndexMap;

use crate::config::ConfigError;
use crate::handler::{Filter, Handler};

pub use builder::{Declaration, HeapBuilder};
pub use builtins::builtin_declarations;
pub use properties::{ConfigScope, Properties};
pub use registry::{Factory, ObjectKind, TypeRegistry};

/// An object on the heap. The variants are the roles the gateway wires together; anything
/// else (proxy options, secret stores, session managers) is a typed `Service`.
#[derive(Clone)]
pub enum HeapObject {
    Handler(Arc<dyn Handler>),
    Filter(Arc<dyn Filter>),
    Decorator(Arc<dyn Decorator>),
    Service(Arc<dyn Any + Send + Sync>),
}

impl HeapObject {
    pub fn kind(&self) -> ObjectKind {
        match self {
            HeapObject::Handler(_) => ObjectKind::Handler,
            HeapObject::Filter(_) => ObjectKind::Filter,
            HeapObject::Decorator(_) => ObjectKind::Decorator,
            HeapObject::Service(_) => ObjectKind::Service,
        }
    }

    pub fn service<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        match self {
            HeapObject::Service(service) => service.clone().downcast::<T>().ok(),
            _ => None,
        }
    }
}

/// Wraps heap objects with extra behaviour (`capture`, `timer`, `baseURI` ...), configured by a
/// decoration value written as a key on the declaration: `"timer": true`.
pub trait Decorator: Send + Sync + 'static {
    /// Whether this decorator can wrap objects of `kind`; global decorators skip the others.
    fn accepts(&self, kind: ObjectKind) -> bool;

    fn decorate(
        &self,
        object: HeapObject,
        decoration: &serde_json::Value,
        context: &DecorationContext<'_>,
    ) -> Result<HeapObject, String>;
}

/// What a decorator knows about the object it wraps.
pub struct DecorationContext<'a> {
    /// The heap name of the object, or a generated name for inline objects.
    pub object_name: &'a str,
    /// The route the object belongs to, when it belongs to one.
    pub route: Option<&'a str>,
}

/// Whether objects are built to serve traffic or only to validate a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildMode {
    Serve,
    Check,
}

/// What every heap of one gateway shares: the type registry, where the configuration lives,
/// and where load problems are reported.
pub struct Environment {
    pub registry: Arc<TypeRegistry>,
    pub config_dir: PathBuf,
    pub mode: BuildMode,
    /// Route load failures found by routers, for `ferrogate check` and the admin surface.
    pub diagnostics: Mutex<Vec<ConfigError>>,
    /// Every router built, by name, for the admin surface.
    pub routers: Mutex<Vec<Weak<crate::router::RouterShared>>>,
}

impl Environment {
    pub fn new(registry: Arc<TypeRegistry>, config_dir: PathBuf, mode: BuildMode) -> Arc<Self> {
        Arc::new(Environment {
            registry,
            config_dir,
            mode,
            diagnostics: Mutex::new(Vec::new()),
            routers: Mutex::new(Vec::new()),
        })
    }

    pub fn report(&self, error: ConfigError) {
        if let Ok(mut diagnostics) = self.diagnostics.lock() {
            diagnostics.push(error);
        }
    }

    pub fn take_diagnostics(&self) -> Vec<ConfigError> {
        self.diagnostics
            .lock()
            .map(|mut diagnostics| std::mem::take(&mut *diagnostics))
            .unwrap_or_default()
    }

    pub fn register_router(&self, router: &Arc<crate::router::RouterShared>) {
        if let Ok(mut routers) = self.routers.lock() {
            routers.retain(|router| router.strong_count() > 0);
            routers.push(Arc::downgrade(router));
        }
    }

    pub fn router(&self, name: &str) -> Option<Arc<crate::router::RouterShared>> {
        let routers = self.routers.lock().ok()?;
        routers
            .iter()
            .filter_map(Weak::upgrade)
            .find(|router| router.name() == name)
    }
}

/// A finished heap. Children keep only a weak link to their parent: the parent owns the
/// routers that own the children, and a strong link back would leak every reloaded route.
pub struct Heap {
    label: String,
    parent: Option<Weak<Heap>>,
    objects: IndexMap<String, HeapObject>,
    global_decorators: Vec<GlobalDecoration>,
    properties: Arc<Properties>,
    environment: Arc<Environment>,
}

/// A `globalDecorators` entry, inherited by child heaps.
#[derive(Clone)]
pub struct GlobalDecoration {
    pub name: String,
    pub decorator: Arc<dyn Decorator>,
    pub config: serde_json::Value,
}

impl Heap {
    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn parent(&self) -> Option<Arc<Heap>> {
        self.parent.as_ref().and_then(Weak::upgrade)
    }

    /// Looks a name up here, then in each parent heap.
    pub fn get(&self, name: &str) -> Option<HeapObject> {
        if let Some(object) = self.objects.get(name) {
            return Some(object.clone());
        }
        self.parent()?.get(name)
    }

    /// Every name visible from this heap, nearest first, for "did you mean" hints.
    pub fn visible_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.objects.keys().cloned().collect();
        if let Some(parent) = self.parent() {
            for name in parent.visible_names() {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }

    pub fn properties(&self) -> &Arc<Properties> {
        &self.properties
    }

    pub fn environment(&self) -> &Arc<Environment> {
        &self.environment
    }

    pub fn global_decorators(&self) -> &[GlobalDecoration] {
        &self.global_decorators
    }
}

#[cfg(test)]
mod tests;
