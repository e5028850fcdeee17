//! Support for the end-to-end tests: the real `ferrogate` binary started on loopback with a
//! temporary configuration directory, and real upstream servers.

#![allow(clippy::unwrap_used)]

pub mod upstream;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `ferrogate` binary under test: `$FERROGATE_BIN`, else the one cargo built beside this
/// test executable (`scripts/test` builds it first).
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FERROGATE_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    let binary = profile_dir.join("ferrogate");
    assert!(
        binary.exists(),
        "{} does not exist: build it first with `cargo build -p ferrogate` (scripts/test does)",
        binary.display()
    );
    assert_fresh(&binary);
    binary
}

/// Unit tests (`tests.rs` beside the code, `tests/` folders) are not part of the binary: a
/// change to them alone does not make cargo relink it.
fn is_unit_test(path: &Path) -> bool {
    path.file_name().is_some_and(|name| name == "tests.rs")
        || path.components().any(|part| part.as_os_str() == "tests")
}

/// Refuses to test a binary older than the sources it is built from.
fn assert_fresh(binary: &Path) {
    let built = std::fs::metadata(binary)
        .and_then(|m| m.modified())
        .expect("binary metadata");
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("host/src");
    let newest = files_under(&sources)
        .iter()
        .filter(|path| !is_unit_test(path))
        .filter_map(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok())
        .max();
    if let Some(newest) = newest {
        assert!(
            newest <= built,
            "{} is older than host/src: rebuild it with `cargo build -p ferrogate` (scripts/test does)",
            binary.display()
        );
    }
}

/// Every file under `dir`, in its subdirectories too; none when it cannot be read.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// A temporary IG configuration directory with a `routes/` folder.
pub struct ConfigDir {
    dir: tempfile::TempDir,
}

impl Default for ConfigDir {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigDir {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join("routes")).expect("routes directory");
        ConfigDir { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn routes(&self) -> PathBuf {
        self.dir.path().join("routes")
    }

    /// Writes a file relative to the configuration directory, atomically (write then rename)
    /// so the gateway never reads it half written.
    pub fn write(&self, relative: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("parent directory");
        }
        let staging = path.with_file_name(format!(
            ".{}.tmp",
            path.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&staging, content).expect("write file");
        std::fs::rename(&staging, &path).expect("rename into place");
        path
    }

    pub fn write_route(&self, file_name: &str, route: &serde_json::Value) -> PathBuf {
        self.write(
            &format!("routes/{file_name}"),
            &serde_json::to_string_pretty(route).unwrap(),
        )
    }

    /// Writes each `(name, route)` as `routes/<name>.json`: how tests declare the routes of a
    /// gateway, as a list of names and route JSON.
    pub fn write_routes(&self, routes: &[(&str, serde_json::Value)]) {
        for (name, route) in routes {
            self.write_route(&format!("{name}.json"), route);
        }
    }

    pub fn remove(&self, relative: &str) {
        std::fs::remove_file(self.dir.path().join(relative)).expect("remove file");
    }
}

/// The listener, (scheme, address), that a "listening" record announces, in the JSON log or
/// in the text log (`... INFO ferrogate: listening address=127.0.0.1:8080 scheme="http"`).
fn announced_listener(line: &str) -> Option<(String, SocketAddr)> {
    if let Ok(event) = serde_json::from_str::<serde_json::Value>(line) {
        if event["message"] != "listening" {
            return None;
        }
        let address = event["address"].as_str()?.parse().ok()?;
        let scheme = event["scheme"].as_str().unwrap_or("http");
        return Some((scheme.to_owned(), address));
    }
    let fields = line.split_once(": listening ")?.1;
    let mut address = None;
    let mut scheme = "http";
    for field in fields.split_whitespace() {
        if let Some(value) = field.strip_prefix("address=") {
            address = value.parse().ok();
        } else if let Some(value) = field.strip_prefix("scheme=") {
            scheme = value.trim_matches('"');
        }
    }
    Some((scheme.to_owned(), address?))
}

/// `extra_args` after a `--listen` on a free loopback port.
fn listening_on_loopback<'a>(extra_args: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra_args);
    args
}

/// A running gateway; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Gateway {
    child: Child,
    /// The first address it listens on.
    pub address: SocketAddr,
    /// Every listener, in the order logged: (scheme, address).
    pub listeners: Vec<(String, SocketAddr)>,
    logs: Arc<Mutex<Vec<String>>>,
    /// With [`Gateway::start_stalling_log`]: holds the reading of stdout back until sent to
    /// (or dropped).
    log_stall: Option<std::sync::mpsc::Sender<()>>,
}

impl Gateway {
    /// Starts `ferrogate run` on 127.0.0.1 with an ephemeral port and waits until it listens.
    pub fn start(config: &Path) -> Gateway {
        Self::start_with(config, &[], &[])
    }

    pub fn start_with(config: &Path, extra_args: &[&str], env: &[(&str, &str)]) -> Gateway {
        Self::spawn(
            &[],
            config,
            &listening_on_loopback(extra_args),
            env,
            1,
            false,
        )
    }

    /// Starts `ferrogate run` with exactly `args` (no `--listen` of its own: admin.json's
    /// connectors apply unless `args` has listener flags) and waits for `listeners`
    /// "listening" log lines. The log is JSON unless `args` has a `--log-format`.
    pub fn start_listening(
        config: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        listeners: usize,
    ) -> Gateway {
        Self::start_wrapped(&[], config, args, env, listeners)
    }

    /// [`Gateway::start_listening`] with the binary run by `wrapper` (a command and its
    /// arguments, such as `prlimit --as=...`), which must exec it in its own process.
    pub fn start_wrapped(
        wrapper: &[&str],
        config: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        listeners: usize,
    ) -> Gateway {
        Self::spawn(wrapper, config, args, env, listeners, false)
    }

    /// [`Gateway::start_with`], then stops reading its stdout once it has announced its
    /// listener, as a stalled log pipe does, until [`Gateway::resume_log`].
    pub fn start_stalling_log(config: &Path, extra_args: &[&str]) -> Gateway {
        Self::spawn(
            &[],
            config,
            &listening_on_loopback(extra_args),
            &[],
            1,
            true,
        )
    }

    /// Reads the stdout of a gateway from [`Gateway::start_stalling_log`] again.
    pub fn resume_log(&mut self) {
        if let Some(stall) = self.log_stall.take() {
            let _ = stall.send(());
        }
    }

    fn spawn(
        wrapper: &[&str],
        config: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        listeners: usize,
        stall_log: bool,
    ) -> Gateway {
        let mut command = match wrapper.split_first() {
            Some((program, wrapper_args)) => {
                let mut command = Command::new(program);
                command.args(wrapper_args).arg(binary());
                command
            }
            None => Command::new(binary()),
        };
        command
            .arg("run")
            .arg("--config-dir")
            .arg(config)
            .args(["--drain-timeout", "5"])
            .args(args)
            .env("RUST_LOG", "info,ferrogate=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if !args.contains(&"--log-format") {
            command.args(["--log-format", "json"]);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start ferrogate");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stdout_logs = logs.clone();
        let (log_stall, stalled) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let mut stall = stall_log.then_some(stalled);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let announced = announced_listener(&line);
                stdout_logs.lock().unwrap().push(line);
                if let Some(listener) = announced {
                    let _ = address_tx.send(listener);
                    if let Some(stall) = stall.take() {
                        // Until resumed, or until the Gateway is dropped.
                        let _ = stall.recv();
                    }
                }
            }
        });
        let stderr = child.stderr.take().unwrap();
        let stderr_logs = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                stderr_logs.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut bound = Vec::new();
        while bound.len() < listeners {
            let left = deadline.saturating_duration_since(Instant::now());
            match address_rx.recv_timeout(left) {
                Ok(listener) => bound.push(listener),
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "ferrogate did not start listening; its output:\n{}",
                        logs.lock().unwrap().join("\n")
                    );
                }
            }
        }
        Gateway {
            child,
            address: bound[0].1,
            listeners: bound,
            logs,
            log_stall: stall_log.then_some(log_stall),
        }
    }

    /// The address of the first listener with this scheme ("http" or "https").
    pub fn listener(&self, scheme: &str) -> SocketAddr {
        self.listeners
            .iter()
            .find(|(s, _)| s == scheme)
            .map(|(_, address)| *address)
            .unwrap_or_else(|| panic!("no {scheme} listener in {:?}", self.listeners))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Waits until a log line contains every one of `needles`, returning it.
    pub fn wait_for_log(&self, needles: &[&str], timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self
                .logs()
                .into_iter()
                .find(|line| needles.iter().all(|n| line.contains(n)))
            {
                return Some(line);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// [`Gateway::wait_for_log`] for a line that must come (records leave through the
    /// gateway's log queue, a few milliseconds after they are logged); panics with the
    /// log's end if none does.
    pub fn expect_log(&self, needles: &[&str], timeout: Duration) -> String {
        self.wait_for_log(needles, timeout).unwrap_or_else(|| {
            panic!(
                "no line with {needles:?} within {timeout:?}; the log's end:\n{}",
                self.log_end()
            )
        })
    }

    /// The last lines of the log, for a failure's message.
    fn log_end(&self) -> String {
        let logs = self.logs();
        logs[logs.len().saturating_sub(20)..].join("\n")
    }

    /// Stops the gateway and returns every line it wrote. Records wait in the gateway's log
    /// queue until its writer thread takes them; at exit the queue is flushed, so a line
    /// missing from these is one the gateway never wrote.
    pub fn stop_and_read_all_logs(&mut self) -> Vec<String> {
        let status = self.terminate(Duration::from_secs(10));
        assert!(
            status.is_some_and(|status| status.success()),
            "the gateway did not exit cleanly ({status:?}); the log's end:\n{}",
            self.log_end()
        );
        self.expect_log(&["all connections closed"], Duration::from_secs(5));
        self.logs()
    }

    /// Sends SIGTERM and waits for the process to exit, returning its exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        self.send_sigterm();
        self.wait_exit(timeout)
    }

    /// Sends SIGTERM without waiting.
    pub fn send_sigterm(&self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
    }

    /// Waits for the process to exit, returning its exit status (None on timeout).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        // Read again, so that a gateway writing its log in place (--log-buffer-kib 0) can
        // log its way to the exit.
        self.resume_log();
        if let Ok(None) = self.child.try_wait() {
            let _ = self.terminate(Duration::from_secs(3));
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A gateway serving `routes` (see [`ConfigDir::write_routes`]) with no config.json, so the
/// built-in default applies: the set-up of most route-level tests, written once. Keep the
/// [`ConfigDir`] alive as long as the gateway.
pub fn serve(routes: &[(&str, serde_json::Value)]) -> (ConfigDir, Gateway) {
    let config = ConfigDir::new();
    config.write_routes(routes);
    let gateway = Gateway::start(config.path());
    (config, gateway)
}

/// [`serve`] with a config.json that declares `heap` beside the main router (`_router`), for
/// routes that refer to objects of the gateway's heap (a session, a secret store, a handler).
pub fn serve_with_heap(
    routes: &[(&str, serde_json::Value)],
    heap: serde_json::Value,
) -> (ConfigDir, Gateway) {
    let config = ConfigDir::new();
    config.write(
        "config.json",
        &serde_json::json!({"heap": heap, "handler": {"name": "_router", "type": "Router"}})
            .to_string(),
    );
    config.write_routes(routes);
    let gateway = Gateway::start(config.path());
    (config, gateway)
}

/// Runs `ferrogate check --config-dir DIR`: (success, stdout, stderr).
pub fn check(config: &Path) -> (bool, String, String) {
    let output = Command::new(binary())
        .arg("check")
        .arg("--config-dir")
        .arg(config)
        .output()
        .expect("run ferrogate check");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Polls `probe` until it returns true or `timeout` passes; returns how long it took.
pub fn eventually(timeout: Duration, mut probe: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if probe() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}
