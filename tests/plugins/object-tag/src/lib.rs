//! `ObjectTag`: tells which object ran, as each object sees itself through the imports, so
//! that tests can see adjacent filters of a chain run as themselves when one instance serves
//! them all. Config: `{"phase": "request" | "response", "header": "X-Objects", "answer": 418,
//! "fail": true}`; only `phase` is required.
//!
//! - request phase: appends `<header>: <object name>` to the request, or answers `answer`
//!   with `X-Answered-By: <object name>`;
//! - response phase: appends `<header>: <object name>` to the response;
//! - either phase: with `fail`, returns an error naming the object;
//! - each call adds 1 to `ferrogate_plugin_tagged_total` for the object.
use ferrogate_sdk::{Filter, Outcome, Phases, Request, Response};

#[derive(serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Phase {
    Request,
    Response,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    phase: Phase,
    #[serde(default = "default_header")]
    header: String,
    #[serde(default)]
    answer: Option<u16>,
    #[serde(default)]
    fail: bool,
}

fn default_header() -> String {
    "X-Objects".into()
}

struct ObjectTag(Config);

impl ObjectTag {
    /// The object's name asked of the host at call time, not remembered from `new`.
    fn tag(&self) -> Result<String, String> {
        ferrogate_sdk::counter_add("tagged", 1);
        let name = ferrogate_sdk::object_name();
        if self.0.fail {
            return Err(format!("{name} failed on purpose"));
        }
        Ok(name)
    }
}

impl Filter for ObjectTag {
    fn new() -> Result<Self, String> {
        Ok(Self(ferrogate_sdk::config()?))
    }

    fn phases(&self) -> Phases {
        match self.0.phase {
            Phase::Request => Phases::REQUEST,
            Phase::Response => Phases::RESPONSE,
        }
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        let name = self.tag()?;
        if let Some(status) = self.0.answer {
            let answer = Response::new(status);
            answer.set_header("X-Answered-By", &[name])?;
            return Ok(Outcome::Respond(answer));
        }
        req.append_header(&self.0.header, &name)?;
        Ok(Outcome::Next)
    }

    fn on_response(&self, _req: &Request, resp: &Response) -> Result<(), String> {
        let name = self.tag()?;
        resp.append_header(&self.0.header, &name)
    }
}

ferrogate_sdk::export_filter!(ObjectTag, "ObjectTag");
