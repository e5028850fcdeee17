//! The decorators every heap has: `timer`, `capture` and `baseURI`. They are native until the
//! plugin runtime can host them.

mod base_uri;
mod capture;
mod timer;

use std::sync::Arc;

use crate::heap::{HeapObject, ObjectKind, TypeRegistry};

pub use base_uri::rebase_uri;

pub(crate) fn register_types(registry: &mut TypeRegistry) {
    registry.register_native(
        &["TimerDecorator"],
        ObjectKind::Decorator,
        |builder, declaration| {
            builder.decode::<NoSettings>(&declaration.config)?;
            Ok(HeapObject::Decorator(Arc::new(timer::TimerDecorator)))
        },
    );
    registry.register_native(
        &["CaptureDecorator"],
        ObjectKind::Decorator,
        |builder, declaration| {
            builder.decode::<NoSettings>(&declaration.config)?;
            Ok(HeapObject::Decorator(Arc::new(capture::CaptureDecorator)))
        },
    );
    registry.register_native(
        &["BaseUriDecorator"],
        ObjectKind::Decorator,
        |builder, declaration| {
            builder.decode::<NoSettings>(&declaration.config)?;
            Ok(HeapObject::Decorator(Arc::new(base_uri::BaseUriDecorator)))
        },
    );
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoSettings {}
