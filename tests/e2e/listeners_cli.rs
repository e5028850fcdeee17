//! Listeners from the command line (`--listen`, `--listen-tls` with `--tls-cert`/`--tls-key`),
//! robustness of the TLS port, and certificate errors in `check` and `run`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferrogate_e2e::{ConfigDir, Gateway, binary, check};
use hyper::Version;
use serde_json::json;

use super::listeners_client::{Pki, free_port, h2c_get, https_get, write_scheme_routes};

/// The gateway with one plain and one TLS listener on ephemeral loopback ports.
fn start_both(pki: &Pki, config: &ConfigDir) -> Gateway {
    pki.write_files(config);
    let cert = config.path().join("tls/cert.pem");
    let key = config.path().join("tls/key.pem");
    Gateway::start_listening(
        config.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--listen-tls",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
        2,
    )
}

#[test]
fn command_line_http_and_https_listeners_at_once() {
    let pki = Pki::new();
    let config = ConfigDir::new();
    write_scheme_routes(&config);
    // admin.json's connector is replaced by the command line's listeners.
    config.write(
        "admin.json",
        &json!({"connectors": [{"port": free_port(), "host": "127.0.0.1"}]}).to_string(),
    );
    let gateway = start_both(&pki, &config);
    let schemes: Vec<&str> = gateway.listeners.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(schemes, ["http", "https"]);
    assert!(
        gateway
            .wait_for_log(
                &["\"listening\"", "\"scheme\":\"https\""],
                Duration::from_secs(1)
            )
            .is_some()
    );

    let answer = https_get(&pki, gateway.listener("https"), &["h2", "http/1.1"], "/");
    assert_eq!(answer.version, Version::HTTP_2);
    assert_eq!((answer.status, answer.body.as_str()), (200, "https true"));
    let answer = https_get(&pki, gateway.listener("https"), &["http/1.1"], "/");
    assert_eq!(answer.version, Version::HTTP_11);
    assert_eq!(answer.body, "https true");
    // No ALPN at all: HTTP/1.1.
    let answer = https_get(&pki, gateway.listener("https"), &[], "/");
    assert_eq!(answer.body, "https true");

    let answer = h2c_get(gateway.listener("http"), "/");
    assert_eq!(answer.version, Version::HTTP_2);
    assert_eq!(answer.body, "plain http false");
}

#[test]
fn plain_http_and_silent_clients_on_the_tls_port_do_not_stall_the_gateway() {
    let pki = Pki::new();
    let config = ConfigDir::new();
    write_scheme_routes(&config);
    let gateway = start_both(&pki, &config);
    let tls = gateway.listener("https");

    // A connection that never says anything holds no one up: the handshake runs in its own
    // task.
    let mut silent = TcpStream::connect(tls).unwrap();
    let silent_since = Instant::now();

    // Plain HTTP to the TLS port: the gateway answers with a TLS alert or closes; it does not
    // leave the client hanging.
    let mut plain = TcpStream::connect(tls).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut received = Vec::new();
    let outcome = plain.read_to_end(&mut received);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the gateway left a plain-HTTP client hanging: {outcome:?}"
    );
    assert!(
        !String::from_utf8_lossy(&received).contains("HTTP/1.1 200"),
        "{received:?}"
    );
    assert!(
        gateway
            .wait_for_log(
                &["TLS handshake failed", "127.0.0.1"],
                Duration::from_secs(2)
            )
            .is_some(),
        "no debug log of the failed handshake: {:?}",
        gateway.logs()
    );

    // Both listeners still serve.
    for _ in 0..3 {
        let answer = https_get(&pki, tls, &["h2"], "/");
        assert_eq!(answer.body, "https true");
    }
    let answer = h2c_get(gateway.listener("http"), "/");
    assert_eq!(answer.body, "plain http false");

    // The silent client is disconnected when the 10 s handshake timeout passes.
    silent
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut nothing = Vec::new();
    let outcome = silent.read_to_end(&mut nothing);
    let waited = silent_since.elapsed();
    assert!(
        outcome.is_ok() && (Duration::from_secs(9)..Duration::from_secs(15)).contains(&waited),
        "silent connection: {outcome:?} after {waited:?}"
    );
    assert!(
        gateway
            .wait_for_log(&["TLS handshake timed out"], Duration::from_secs(2))
            .is_some()
    );
}

/// Runs `ferrogate run` expecting it to fail at start: (exit success, stderr).
fn run_expecting_failure(args: &[&str]) -> (bool, String) {
    let mut child = Command::new(binary())
        .arg("run")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return (status.success(), stderr);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ferrogate run kept running with a broken TLS configuration");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn admin_with_files(config: &ConfigDir, certificate: &str, key: &str) {
    config.write(
        "admin.json",
        &json!({"connectors": [{
            "port": free_port(),
            "host": "127.0.0.1",
            "tls": {"type": "ServerTlsOptions", "config": {"certificate": certificate, "privateKey": key}}
        }]})
        .to_string(),
    );
}

#[test]
fn bad_certificates_fail_check_and_run_naming_the_file() {
    let pki = Pki::new();
    let config = ConfigDir::new();
    pki.write_files(&config);
    config.write("tls/not-a-cert.pem", "this is not PEM\n");
    config.write("tls/other-key.pem", &Pki::other_key_pem());
    let dir = config.path().to_str().unwrap().to_owned();

    let cases = [
        (
            "tls/not-a-cert.pem",
            "tls/key.pem",
            "not-a-cert.pem",
            "no certificate",
        ),
        (
            "tls/missing.pem",
            "tls/key.pem",
            "missing.pem",
            "cannot read",
        ),
        ("tls/cert.pem", "tls/cert.pem", "cert.pem", "no private key"),
        (
            "tls/cert.pem",
            "tls/other-key.pem",
            "other-key.pem",
            "does not match the certificate",
        ),
    ];
    for (certificate, key, file, problem) in cases {
        admin_with_files(&config, certificate, key);
        let (ok, _, stderr) = check(config.path());
        assert!(!ok, "check accepted {certificate} / {key}");
        assert!(
            stderr.contains(file) && stderr.contains(problem),
            "{stderr}"
        );
        assert!(stderr.contains("admin.json"), "{stderr}");
        let (ok, stderr) = run_expecting_failure(&["--config-dir", &dir]);
        assert!(!ok);
        assert!(
            stderr.contains(file) && stderr.contains(problem),
            "{stderr}"
        );
    }

    // Unknown keys are refused.
    config.write(
        "admin.json",
        &json!({"connectors": [{"port": 1, "tls": {"type": "ServerTlsOptions", "config": {
            "certificate": "tls/cert.pem", "privateKey": "tls/key.pem", "clientAuth": "REQUIRED"
        }}}]})
        .to_string(),
    );
    let (ok, _, stderr) = check(config.path());
    assert!(!ok && stderr.contains("clientAuth"), "{stderr}");

    // The command line's certificate is checked the same way.
    std::fs::remove_file(config.path().join("admin.json")).unwrap();
    let bad = config.path().join("tls/not-a-cert.pem");
    let key = config.path().join("tls/key.pem");
    let (ok, stderr) = run_expecting_failure(&[
        "--config-dir",
        &dir,
        "--listen-tls",
        "127.0.0.1:0",
        "--tls-cert",
        bad.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("not-a-cert.pem") && stderr.contains("no certificate"),
        "{stderr}"
    );
}
