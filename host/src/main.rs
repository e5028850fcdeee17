//! The `ferrogate` command: `run` serves a configuration directory, `check` validates one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ferrogate::config::{ConnectorSettings, resolve_config_dir};
use ferrogate::gateway::Gateway;
use ferrogate::heap::{BuildMode, TypeRegistry};
use ferrogate::server::Server;
use ferrogate::server::tls::ServerTlsOptions;
use ferrogate::telemetry::{DEFAULT_LOG_BUFFER_KIB, LogFormat, init_logging};

/// Every proxied request allocates and frees dozens of small blocks (header maps, bodies,
/// boxed futures, buffers) on one thread; glibc's malloc spent about 13 % of the CPU of a
/// plain proxied request on that (consolidating its bins, copying on realloc). mimalloc,
/// through `ferrogate-alloc`, which keeps it on its fast paths (alloc/src/lib.rs).
#[global_allocator]
static ALLOCATOR: ferrogate_alloc::MiMalloc = ferrogate_alloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ferrogate",
    version,
    about = "A programmable HTTP gateway that speaks ForgeRock Identity Gateway configuration"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the configuration directory (config.json, admin.json, routes/).
    Run {
        /// The configuration directory; default $FERROGATE_CONFIG, else $HOME/.openig/config.
        #[arg(long, value_name = "DIR")]
        config_dir: Option<PathBuf>,
        /// Listen on this address instead of admin.json's connectors (repeatable), e.g.
        /// 127.0.0.1:8080; port 0 picks a free port, logged at start.
        #[arg(long = "listen", value_name = "ADDR")]
        listen: Vec<SocketAddr>,
        /// Listen with HTTPS on this address instead of admin.json's connectors (repeatable);
        /// needs --tls-cert and --tls-key.
        #[arg(long = "listen-tls", value_name = "ADDR", requires_all = ["tls_cert", "tls_key"])]
        listen_tls: Vec<SocketAddr>,
        /// PEM certificate chain (leaf first) for --listen-tls.
        #[arg(long, value_name = "FILE", requires = "listen_tls")]
        tls_cert: Option<PathBuf>,
        /// PEM private key (PKCS#8, PKCS#1 or SEC1) for --listen-tls.
        #[arg(long, value_name = "FILE", requires = "listen_tls")]
        tls_key: Option<PathBuf>,
        /// How long in-flight requests may take to finish after SIGTERM/SIGINT.
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        drain_timeout: u64,
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// How much of the log (KiB) may wait for stdout's reader: past it, records are
        /// dropped and counted rather than make the gateway wait. 0 writes each record in
        /// place, never dropping one, and a stalled reader then stalls the gateway.
        #[arg(long, value_name = "KIB", default_value_t = DEFAULT_LOG_BUFFER_KIB)]
        log_buffer_kib: usize,
    },
    /// Validate config.json, admin.json and every route without serving; exit 1 on any error.
    Check {
        #[arg(long, value_name = "DIR")]
        config_dir: Option<PathBuf>,
    },
    /// List the object types this gateway knows, native and plugin.
    Types {
        #[arg(long, value_name = "DIR")]
        config_dir: Option<PathBuf>,
    },
    /// List the plugin components (embedded and from config.json's "plugins" directories)
    /// and the types each provides.
    Plugins {
        #[arg(long, value_name = "DIR")]
        config_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            config_dir,
            listen,
            listen_tls,
            tls_cert,
            tls_key,
            drain_timeout,
            log_format,
            log_buffer_kib,
        } => {
            // Flushes the log's queue when the arm ends, after the last record.
            let _flush_log = init_logging(log_format, log_buffer_kib);
            let listeners = Listeners {
                plain: listen,
                tls: listen_tls,
                certificate: tls_cert,
                private_key: tls_key,
            };
            match run(
                resolve_config_dir(config_dir),
                listeners,
                Duration::from_secs(drain_timeout),
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!("{error:#}");
                    eprintln!("ferrogate: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check { config_dir } => check(resolve_config_dir(config_dir)),
        Command::Types { config_dir } => types(&resolve_config_dir(config_dir)),
        Command::Plugins { config_dir } => plugins(&resolve_config_dir(config_dir)),
    }
}

/// The native and plugin types a configuration directory can use.
fn types(config_dir: &Path) -> ExitCode {
    let mut registry = TypeRegistry::standard();
    let loaded =
        ferrogate::plugin::settings_from_config(config_dir).and_then(|(settings, limits)| {
            ferrogate::plugin::register(&mut registry, &settings, limits, config_dir)
        });
    if let Err(error) = loaded {
        eprintln!("ferrogate: {error}");
        return ExitCode::FAILURE;
    }
    for (name, factory) in registry.entries() {
        println!("{name}\t{}\t{}", factory.kind.describe(), factory.origin);
    }
    ExitCode::SUCCESS
}

/// The plugin components (embedded and from the configured directories) and their types.
fn plugins(config_dir: &Path) -> ExitCode {
    let mut registry = TypeRegistry::standard();
    let loaded =
        ferrogate::plugin::settings_from_config(config_dir).and_then(|(settings, limits)| {
            ferrogate::plugin::register(&mut registry, &settings, limits, config_dir)
        });
    match loaded {
        Ok(plugins) => {
            for (origin, types) in plugins.components() {
                for (name, kind) in types {
                    println!(
                        "{name}\t{}\t{origin}",
                        ferrogate::plugin::describe_kind(kind)
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("ferrogate: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The command line's listeners, which replace admin.json's connectors when any is given.
struct Listeners {
    plain: Vec<SocketAddr>,
    tls: Vec<SocketAddr>,
    certificate: Option<PathBuf>,
    private_key: Option<PathBuf>,
}

impl Listeners {
    fn connectors(self) -> anyhow::Result<Option<Vec<ConnectorSettings>>> {
        if self.plain.is_empty() && self.tls.is_empty() {
            return Ok(None);
        }
        let mut connectors: Vec<ConnectorSettings> = self
            .plain
            .into_iter()
            .map(|address| ConnectorSettings { address, tls: None })
            .collect();
        if !self.tls.is_empty() {
            let (Some(certificate), Some(private_key)) = (self.certificate, self.private_key)
            else {
                anyhow::bail!("--listen-tls needs --tls-cert and --tls-key");
            };
            let options = ServerTlsOptions::from_pem_files(&certificate, &private_key)
                .map_err(|reason| anyhow::anyhow!("--tls-cert/--tls-key: {reason}"))?;
            let options = Arc::new(options);
            connectors.extend(self.tls.into_iter().map(|address| ConnectorSettings {
                address,
                tls: Some(options.clone()),
            }));
        }
        Ok(Some(connectors))
    }
}

fn run(config_dir: PathBuf, listeners: Listeners, drain: Duration) -> anyhow::Result<()> {
    let command_line_connectors = listeners.connectors()?;
    let runtime = runtime().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        tracing::info!(config_dir = %config_dir.display(), "loading configuration");
        let directory = config_dir.clone();
        let gateway = tokio::task::spawn_blocking(move || {
            Gateway::load(
                &directory,
                BuildMode::Serve,
                Arc::new(TypeRegistry::standard()),
            )
        })
        .await
        .context("configuration loading panicked")?
        .map_err(|errors| {
            anyhow::anyhow!(
                "the configuration in {} is invalid:\n{errors}",
                config_dir.display()
            )
        })?;
        let connectors =
            command_line_connectors.unwrap_or_else(|| gateway.admin.connectors.clone());
        let server = Server::bind(Arc::new(gateway), &connectors).await?;
        for (address, scheme) in server.local_addresses() {
            tracing::info!(address = %address, scheme, "listening");
        }
        server.run(shutdown_signal(), drain).await;
        Ok(())
    })
}

/// One CPU (an affinity mask, a cgroup quota) gets a current-thread runtime: a multi-thread
/// runtime would have a single worker anyway, and pays for work stealing (atomic run queues,
/// the LIFO slot, poll-time statistics) on every poll of a connection's task, at least two
/// per proxied request (the request arriving, the upstream's response arriving).
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if cpus == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the gateway");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

fn check(config_dir: PathBuf) -> ExitCode {
    match Gateway::load(
        &config_dir,
        BuildMode::Check,
        Arc::new(TypeRegistry::standard()),
    ) {
        Ok(gateway) => {
            let routes: usize = gateway
                .environment
                .routers
                .lock()
                .map(|routers| {
                    routers
                        .iter()
                        .filter_map(std::sync::Weak::upgrade)
                        .map(|router| router.snapshot().routes.len())
                        .sum()
                })
                .unwrap_or(0);
            println!(
                "{}: configuration is valid ({routes} routes)",
                config_dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{}: {} error(s)", config_dir.display(), errors.0.len());
            ExitCode::FAILURE
        }
    }
}
