//! Logging set-up: human-readable text by default, JSON lines for log pipelines, filtered by
//! `RUST_LOG` (default [`DEFAULT_FILTER`]).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The filter when `RUST_LOG` is unset or empty. rustls's warnings all report what a TLS peer
/// sent (an IP address as SNI, which wrk and other clients send to every listener addressed
/// by IP, an alert, an unexpected message): any client can make one per handshake, and the
/// gateway already reports a failed handshake itself (at debug level, with the peer).
pub const DEFAULT_FILTER: &str = "info,rustls=error";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The filter `RUST_LOG` asks for, the default when it is unset or empty, and why it was not
/// used when it is not a filter.
pub fn log_filter(rust_log: Option<&str>) -> (EnvFilter, Option<String>) {
    match rust_log.map(str::trim).filter(|value| !value.is_empty()) {
        None => (EnvFilter::new(DEFAULT_FILTER), None),
        Some(value) => match EnvFilter::try_new(value) {
            Ok(filter) => (filter, None),
            Err(error) => (
                EnvFilter::new(DEFAULT_FILTER),
                Some(format!(
                    "RUST_LOG={value:?} is not a log filter ({error}); logging with the default \"{DEFAULT_FILTER}\" (examples: RUST_LOG=debug, RUST_LOG=info,ferrogate=debug)"
                )),
            ),
        },
    }
}

pub fn init_logging(format: LogFormat) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let (filter, refused) = log_filter(rust_log.as_deref());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        // Colour codes belong on a terminal; in a file or a log pipeline they are noise.
        .with_ansi(std::io::stdout().is_terminal());
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    if let Err(error) = result {
        eprintln!("logging was already set up: {error}");
        return;
    }
    if let Some(refused) = refused {
        tracing::warn!("{refused}");
    }
}

/// `text` made fit for one record of the text log: line breaks and other control characters
/// escaped (`\n`, `\u{1b}`), tabs kept. For text that a plugin or a peer controls: raw, a
/// line break in it would start what reads as a record of the gateway's own.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for character in text.chars() {
        if needs_escape(character) {
            escaped.extend(character.escape_default());
        } else {
            escaped.push(character);
        }
    }
    std::borrow::Cow::Owned(escaped)
}

fn needs_escape(character: char) -> bool {
    character.is_control() && character != '\t'
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What `filter` lets through of a rustls warning, a rustls error and a gateway info line.
    fn shown(filter: EnvFilter) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(target: "rustls::msgs::handshake", "peer warning");
            tracing::error!(target: "rustls::conn", "rustls error");
            tracing::info!(target: "ferrogate::server", "gateway info");
        });
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn the_default_shows_the_gateway_at_info_and_rustls_only_at_error() {
        for unset in [None, Some(""), Some("  ")] {
            let (filter, refused) = log_filter(unset);
            assert_eq!(refused, None);
            let shown = shown(filter);
            assert!(shown.contains("gateway info"), "{shown}");
            assert!(shown.contains("rustls error"), "{shown}");
            assert!(!shown.contains("peer warning"), "{shown}");
        }
    }

    #[test]
    fn rust_log_replaces_the_default_whole() {
        let (filter, refused) = log_filter(Some("warn"));
        assert_eq!(refused, None);
        let shown = shown(filter);
        assert!(shown.contains("peer warning"), "{shown}");
        assert!(!shown.contains("gateway info"), "{shown}");
    }

    #[test]
    fn a_rust_log_that_is_no_filter_is_reported_and_the_default_used() {
        let (filter, refused) = log_filter(Some("info,ferrogate=loud"));
        let refused = refused.expect("refused");
        assert!(
            refused.contains("RUST_LOG=\"info,ferrogate=loud\""),
            "{refused}"
        );
        assert!(refused.contains(DEFAULT_FILTER), "{refused}");
        let shown = shown(filter);
        assert!(shown.contains("gateway info"), "{shown}");
        assert!(!shown.contains("peer warning"), "{shown}");
    }

    #[test]
    fn one_line_escapes_line_breaks_and_control_characters_only() {
        assert!(matches!(
            one_line("plain text\twith a tab, quotes \" and ünïcode"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            one_line("boom\n2026-12-05T00:00:00Z  INFO forged\r\u{1b}[31m"),
            "boom\\n2026-12-05T00:00:00Z  INFO forged\\r\\u{1b}[31m"
        );
    }
}
