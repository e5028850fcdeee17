//! IG's `AssignmentFilter`: in each phase, for every binding whose condition holds (or that has
//! none), evaluates `value` and assigns it to the `target` expression (an attribute, a session
//! value, a request header ...). Without `value`, the target is set to null.
//!
//! ```json
//! {"type": "AssignmentFilter", "config": {
//!     "onRequest": [{"target": "${attributes.user}", "value": "${request.headers['X-User'][0]}"}],
//!     "onResponse": [{"condition": "${attributes.user == null}", "target": "${session.seen}", "value": "${true}"}]
//! }}
//! ```

use ferrogate_sdk::{Expression, Filter, Outcome, Phases, Request, Response};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingConfig {
    #[serde(default)]
    condition: Option<String>,
    target: String,
    #[serde(default)]
    value: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    #[serde(default)]
    on_request: Vec<BindingConfig>,
    #[serde(default)]
    on_response: Vec<BindingConfig>,
    #[serde(default, rename = "comment")]
    _comment: Option<serde::de::IgnoredAny>,
}

struct Binding {
    condition: Option<Expression>,
    target: Expression,
    value: Option<Expression>,
}

impl Binding {
    fn apply(&self) -> Result<(), String> {
        if self
            .condition
            .as_ref()
            .is_some_and(|condition| !condition.evaluate_condition())
        {
            return Ok(());
        }
        let value = match &self.value {
            Some(value) => value.evaluate(),
            None => "null".to_owned(),
        };
        self.target.assign(&value)
    }
}

fn bindings(phase: &str, configs: Vec<BindingConfig>) -> Result<Vec<Binding>, String> {
    configs
        .into_iter()
        .enumerate()
        .map(|(index, binding)| {
            let at = |field: &str, error: String| format!("\"{phase}\"[{index}].{field}: {error}");
            let condition = binding
                .condition
                .as_deref()
                .map(ferrogate_sdk::compile)
                .transpose()
                .map_err(|e| at("condition", e))?;
            let target = ferrogate_sdk::compile(&binding.target).map_err(|e| at("target", e))?;
            let value = binding
                .value
                .as_deref()
                .map(ferrogate_sdk::compile)
                .transpose()
                .map_err(|e| at("value", e))?;
            Ok(Binding {
                condition,
                target,
                value,
            })
        })
        .collect()
}

struct AssignmentFilter {
    on_request: Vec<Binding>,
    on_response: Vec<Binding>,
}

impl Filter for AssignmentFilter {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        Ok(AssignmentFilter {
            on_request: bindings("onRequest", config.on_request)?,
            on_response: bindings("onResponse", config.on_response)?,
        })
    }

    fn phases(&self) -> Phases {
        Phases {
            request: !self.on_request.is_empty(),
            response: !self.on_response.is_empty(),
        }
    }

    fn on_request(&self, _req: &Request) -> Result<Outcome, String> {
        self.on_request.iter().try_for_each(Binding::apply)?;
        Ok(Outcome::Next)
    }

    fn on_response(&self, _req: &Request, _resp: &Response) -> Result<(), String> {
        self.on_response.iter().try_for_each(Binding::apply)
    }
}

ferrogate_sdk::export_filter!(AssignmentFilter, "AssignmentFilter");
