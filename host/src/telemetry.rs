//! Logging set-up: human-readable text by default, JSON lines for log pipelines, filtered by
//! `RUST_LOG` (default [`DEFAULT_FILTER`]), written to stdout through a queue (`queue`).

mod queue;

pub use queue::FlushOnDrop;

use std::fmt;
use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};

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

/// How long the records queued at exit may take to reach stdout before the gateway exits
/// without them: the reader is stalled.
const FLUSH_AT_EXIT: Duration = Duration::from_secs(2);

/// The default of `run --log-buffer-kib`: some ten thousand records of a few hundred bytes.
pub const DEFAULT_LOG_BUFFER_KIB: usize = 4096;

static LOG_QUEUE: OnceLock<queue::QueuedWriter> = OnceLock::new();

/// Records dropped because stdout's reader fell behind and the queue was full; 0 before
/// logging is set up.
pub fn dropped_log_records() -> u64 {
    LOG_QUEUE.get().map_or(0, queue::QueuedWriter::dropped)
}

/// Logs to stdout, in `format`, through a queue that holds at most `buffer_kib` KiB of
/// records waiting for stdout's reader (0: each record is written in place by the thread
/// that logs it). Keep what it returns until exit: dropping it flushes the queue.
pub fn init_logging(format: LogFormat, buffer_kib: usize) -> Option<FlushOnDrop> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let (filter, refused) = log_filter(rust_log.as_deref());
    // Stdout on its own writes each line apart; the writer thread writes whole batches.
    let stdout = || {
        Box::new(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stdout(),
        ))
    };
    let limit = buffer_kib.saturating_mul(1024);
    let (writer, flush) = match queue::QueuedWriter::start(stdout(), limit, FLUSH_AT_EXIT) {
        Ok(started) => started,
        Err(error) => {
            eprintln!(
                "ferrogate: cannot start the log's writer thread ({error}); writing the log in place"
            );
            queue::QueuedWriter::start(stdout(), 0, FLUSH_AT_EXIT).ok()?
        }
    };
    let writer = LOG_QUEUE.get_or_init(|| writer).clone();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        // Colour codes belong on a terminal; in a file or a log pipeline they are noise.
        .with_ansi(std::io::stdout().is_terminal());
    let result = match format {
        LogFormat::Text => builder.fmt_fields(OneLineFields::default()).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    if let Err(error) = result {
        eprintln!("logging was already set up: {error}");
        return None;
    }
    if let Some(refused) = refused {
        tracing::warn!("{refused}");
    }
    Some(flush)
}

/// The text log's field formatter: tracing-subscriber's own, with line breaks and other
/// control characters escaped (`\n`, `\u{1b}`; tabs kept) in the message and in fields
/// written with `%`. Much of what is logged comes from outside the gateway: a plugin's `log`
/// messages and error strings, its trap backtraces (whose function names the plugin chose),
/// load errors quoting a file. Raw, a line break in any of them would start what reads as a
/// record of the gateway's own. The JSON log needs none of this: JSON escapes its strings.
#[derive(Default)]
pub struct OneLineFields(DefaultFields);

impl<'writer> FormatFields<'writer> for OneLineFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut escaping = Escaping(writer);
        self.0.format_fields(Writer::new(&mut escaping), fields)
    }
}

struct Escaping<'writer>(Writer<'writer>);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if !text.chars().any(needs_escape) {
            return self.0.write_str(text);
        }
        for character in text.chars() {
            if needs_escape(character) {
                write!(self.0, "{}", character.escape_default())?;
            } else {
                self.0.write_char(character)?;
            }
        }
        Ok(())
    }
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
    fn the_text_log_keeps_each_record_on_one_line_whatever_its_text() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .fmt_fields(OneLineFields::default())
            .finish();
        let forged = "2026-12-05T00:00:00.000000Z  INFO ferrogate: forged";
        tracing::subscriber::with_default(subscriber, || {
            let detail = format!("backtrace:\n    0: f\r{forged}");
            tracing::error!(kind = "trap", "plugin failed: {detail}");
            tracing::warn!(error = %format!("bad\n{forged}\u{1b}[31m"), "route failed to load");
            tracing::info!(
                stderr = "a\nb",
                tabbed = "x\ty",
                "plain message, quotes \" ünï"
            );
        });
        let shown = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), 3, "{shown}");
        assert!(
            lines[0].contains(&format!("plugin failed: backtrace:\\n    0: f\\r{forged}")),
            "{shown}"
        );
        assert!(lines[0].contains("kind=\"trap\""), "{shown}");
        assert!(
            lines[1].contains(&format!("error=bad\\n{forged}\\u{{1b}}[31m")),
            "{shown}"
        );
        // Strings recorded as values are quoted and escaped by tracing already: not twice.
        assert!(lines[2].contains("stderr=\"a\\nb\""), "{shown}");
        assert!(lines[2].contains("plain message, quotes \" ünï"), "{shown}");
    }
}
