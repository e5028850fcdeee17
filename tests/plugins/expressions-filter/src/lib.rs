//! `ExpressionsFilter`: config `{condition, attribute-template, header?}`, compiled at init;
//! per request sets attribute `checked` to the condition's result and the header
//! (default `X-Template`) to the template's value.
use ferrogate_sdk::{Expression, Filter, Outcome, Request, exchange};

#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Config {
    condition: String,
    attribute_template: String,
    #[serde(default)]
    header: Option<String>,
}

struct ExpressionsFilter {
    condition: Expression,
    template: Expression,
    header: String,
}

impl Filter for ExpressionsFilter {
    fn new() -> Result<Self, String> {
        let config: Config = ferrogate_sdk::config()?;
        Ok(Self {
            condition: ferrogate_sdk::compile(&config.condition)?,
            template: ferrogate_sdk::compile(&config.attribute_template)?,
            header: config.header.unwrap_or_else(|| "X-Template".to_string()),
        })
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        exchange::set_attribute("checked", &self.condition.evaluate_condition())?;
        if let Some(value) = self.template.evaluate_string() {
            req.set_header(&self.header, &[value])?;
        }
        Ok(Outcome::Next)
    }
}

ferrogate_sdk::export_filter!(ExpressionsFilter, "ExpressionsFilter");
