//! Type names to factories: the native types of the host and, later, plugin types.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Declaration, HeapBuilder, HeapObject};
use crate::config::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    Handler,
    Filter,
    Decorator,
    Service,
}

impl ObjectKind {
    pub fn describe(self) -> &'static str {
        match self {
            ObjectKind::Handler => "a handler",
            ObjectKind::Filter => "a filter",
            ObjectKind::Decorator => "a decorator",
            ObjectKind::Service => "a service object",
        }
    }
}

/// Builds an object from its declaration; the builder resolves the references it holds.
pub type FactoryFn = dyn for<'d> Fn(&mut HeapBuilder<'d>, &Declaration<'d>) -> Result<HeapObject, ConfigError>
    + Send
    + Sync;

#[derive(Clone)]
pub struct Factory {
    pub kind: ObjectKind,
    /// Where the type comes from, shown in `ferrogate types` and error hints: "native" or a
    /// plugin file.
    pub origin: Arc<str>,
    pub create: Arc<FactoryFn>,
}

#[derive(Clone, Default)]
pub struct TypeRegistry {
    types: BTreeMap<String, Factory>,
}

impl TypeRegistry {
    /// The native types of the host.
    pub fn standard() -> Self {
        let mut registry = TypeRegistry::default();
        crate::handler::register_types(&mut registry);
        crate::router::register_types(&mut registry);
        crate::proxy::register_types(&mut registry);
        crate::secrets::register_types(&mut registry);
        crate::session::register_types(&mut registry);
        crate::server::tls::register_types(&mut registry);
        registry
    }

    pub fn register_native<F>(&mut self, names: &[&str], kind: ObjectKind, create: F)
    where
        F: for<'d> Fn(&mut HeapBuilder<'d>, &Declaration<'d>) -> Result<HeapObject, ConfigError>
            + Send
            + Sync
            + 'static,
    {
        let factory = Factory {
            kind,
            origin: Arc::from("native"),
            create: Arc::new(create),
        };
        for name in names {
            self.types.insert((*name).to_owned(), factory.clone());
        }
    }

    /// Registers one type with its factory (plugin types: the origin is the plugin file).
    pub fn register(&mut self, name: &str, factory: Factory) {
        self.types.insert(name.to_owned(), factory);
    }

    pub fn get(&self, type_name: &str) -> Option<&Factory> {
        self.types.get(type_name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.types.keys().map(String::as_str)
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &Factory)> {
        self.types
            .iter()
            .map(|(name, factory)| (name.as_str(), factory))
    }
}
