//! The `/openig` admin surface: liveness and the state of each router's routes. It answers
//! loopback clients only: an operator reaches it from the host or through a sidecar.

use std::sync::Arc;

use serde_json::json;

use crate::exchange::Exchange;
use crate::gateway::Gateway;
use crate::http::{Response, json_response, text_response};

pub struct Admin {
    gateway: Arc<Gateway>,
}

const ROUTES_PATH: &str = "/api/system/objects/";

impl Admin {
    pub fn new(gateway: Arc<Gateway>) -> Self {
        Admin { gateway }
    }

    pub async fn handle(&self, exchange: &mut Exchange, prefix: &str) -> Response {
        if !exchange.client.remote_ip().is_loopback()
            && !exchange.client.remote_ip().to_canonical().is_loopback()
        {
            return text_response(
                http::StatusCode::FORBIDDEN,
                "The admin surface answers loopback clients only",
            );
        }
        let path = exchange.request.uri().path();
        let rest = path.strip_prefix(prefix).unwrap_or("");
        let method = exchange.request.method().clone();
        if rest == "/ping" {
            return text_response(http::StatusCode::OK, "");
        }
        if rest == "/metrics/prometheus" || rest == "/metrics/prometheus/0.0.4" {
            return prometheus();
        }
        if let Some(objects) = rest.strip_prefix(ROUTES_PATH) {
            return self.routes(&method, objects);
        }
        text_response(http::StatusCode::NOT_FOUND, "Not Found")
    }

    /// `{router}/routes` lists, `{router}/routes/{id}` reads one route's state.
    fn routes(&self, method: &http::Method, objects: &str) -> Response {
        let mut segments = objects.split('/');
        let router_name = segments.next().unwrap_or_default();
        if segments.next() != Some("routes") {
            return text_response(http::StatusCode::NOT_FOUND, "Not Found");
        }
        let id = segments.next().filter(|id| !id.is_empty());
        if method != http::Method::GET {
            return text_response(
                http::StatusCode::NOT_IMPLEMENTED,
                "Route changes through the admin API are not available in this version; edit the files in the routes directory",
            );
        }
        let Some(router) = self.gateway.environment.router(router_name) else {
            return json_response(
                http::StatusCode::NOT_FOUND,
                &json!({"code": 404, "reason": "Not Found", "message": format!("no router named {router_name}")}),
            );
        };
        let statuses = router.statuses();
        match id {
            None => {
                let result: Vec<serde_json::Value> = statuses
                    .iter()
                    .map(|status| {
                        let mut value = serde_json::to_value(status).unwrap_or_default();
                        if let Some(id) = &status.id {
                            value["_id"] = json!(id);
                        }
                        value
                    })
                    .collect();
                json_response(
                    http::StatusCode::OK,
                    &json!({"result": result, "resultCount": result.len(), "remainingPagedResults": -1}),
                )
            }
            Some(id) => match statuses
                .iter()
                .find(|status| status.id.as_deref() == Some(id))
            {
                Some(status) => json_response(
                    http::StatusCode::OK,
                    &serde_json::to_value(status).unwrap_or_default(),
                ),
                None => json_response(
                    http::StatusCode::NOT_FOUND,
                    &json!({"code": 404, "reason": "Not Found", "message": format!("no route {id} in {router_name}")}),
                ),
            },
        }
    }
}

/// The metrics in Prometheus' text format: the log's dropped records, the plugin instance
/// pool's slots and waits, and the plugins' counters (failures and the ones plugins add).
fn prometheus() -> Response {
    use std::fmt::Write as _;
    let mut body = String::new();
    let _ = writeln!(
        body,
        "# TYPE ferrogate_log_records_dropped_total counter\nferrogate_log_records_dropped_total {}",
        crate::telemetry::dropped_log_records()
    );
    crate::plugin::render_metrics(&mut body);
    let mut response = text_response(http::StatusCode::OK, body);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
