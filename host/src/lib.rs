//! Ferrogate: an HTTP gateway that reads ForgeRock Identity Gateway configuration.
//!
//! The layout follows ARCHITECTURE.md: `config` reads files, `heap` builds objects from them,
//! `router` dispatches, `handler` holds the native handlers, `server` accepts connections.

pub mod admin;
pub mod config;
pub mod exchange;
pub mod expr;
pub mod gateway;
pub mod h1;
pub mod handler;
pub mod heap;
pub mod http;
pub mod plugin;
pub mod proxy;
pub mod router;
pub mod secrets;
pub mod server;
pub mod session;
pub mod telemetry;
