//! `FixedHeaders`: declares at init (`config.edit-headers`) that its phase for `messageType`
//! only removes `remove` and appends `append`, so the host must never call that phase, which
//! fails the request if it is called.
//!
//! With `otherPhase`, the filter also uses the other phase, and there tells in a
//! `X-Late-Declaration` header of that phase's message what the host answered to the same
//! declaration made during a call. With `rebase`, it first declares a rebase of requests,
//! which the host must refuse to combine with a declared request edit.
use ferrogate_sdk::{Filter, Message, MessageType, Outcome, Phases, Request, Response};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    message_type: MessageType,
    #[serde(default)]
    remove: Vec<String>,
    #[serde(default)]
    append: Vec<(String, String)>,
    #[serde(default)]
    other_phase: bool,
    rebase: Option<String>,
}

struct FixedHeaders(Config);

impl FixedHeaders {
    fn declare(&self) -> Result<(), String> {
        ferrogate_sdk::edit_headers(self.0.message_type, &self.0.remove, &self.0.append)
    }

    /// The phase the host does: calling it is the failure this plugin exists to show.
    fn refuse(&self) -> Result<(), String> {
        Err("a phase was called although init declared it a fixed header edit".into())
    }

    fn tell_late_declaration(&self, message: &impl Message) -> Result<(), String> {
        let late = match self.declare() {
            Ok(()) => "accepted".to_owned(),
            Err(error) => error,
        };
        message.set_header("X-Late-Declaration", &[late])
    }
}

impl Filter for FixedHeaders {
    fn new() -> Result<Self, String> {
        let filter = Self(ferrogate_sdk::config()?);
        if let Some(base) = &filter.0.rebase {
            ferrogate_sdk::rebase_requests(base)?;
        }
        filter.declare()?;
        Ok(filter)
    }

    fn phases(&self) -> Phases {
        if self.0.other_phase {
            Phases::BOTH
        } else {
            self.0.message_type.phases()
        }
    }

    fn on_request(&self, req: &Request) -> Result<Outcome, String> {
        match self.0.message_type {
            MessageType::Request => self.refuse()?,
            MessageType::Response => self.tell_late_declaration(req)?,
        }
        Ok(Outcome::Next)
    }

    fn on_response(&self, _: &Request, resp: &Response) -> Result<(), String> {
        match self.0.message_type {
            MessageType::Request => self.tell_late_declaration(resp),
            MessageType::Response => self.refuse(),
        }
    }
}

ferrogate_sdk::export_filter!(FixedHeaders, "FixedHeaders");
