//! Large bodies stream through the gateway both ways without growing its memory.

use std::io::Read;
use std::time::{Duration, Instant};

use ferrogate_e2e::{ConfigDir, Gateway};
use serde_json::json;

use crate::proc_status_field;
use crate::upstream_support::http_server;

/// VmRSS and VmHWM of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = format!("/proc/{pid}/status");
    let field = |name| proc_status_field(&status, name).unwrap_or(0);
    (field("VmRSS"), field("VmHWM"))
}

/// A reader producing `size` bytes without holding them.
struct Generated {
    left: u64,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        buf[..n].fill(b'y');
        self.left -= n as u64;
        Ok(n)
    }
}

/// Streams 1 GiB up and 1 GiB down through the gateway and samples its RSS meanwhile: the
/// peak may exceed the idle RSS by at most 64 MiB. (1 GiB each way takes a few seconds even
/// in debug builds, since the gateway's dependencies are optimised in the dev profile.)
#[test]
fn one_gib_each_way_with_bounded_memory() {
    const SIZE: u64 = 1 << 30;
    let upstream = http_server(None);
    let config = ConfigDir::new();
    config.write_route(
        "big.json",
        &json!({"baseURI": upstream.url("http"), "handler": {"type": "ReverseProxyHandler", "config": {"soTimeout": "60 seconds"}}}),
    );
    let gateway = Gateway::start(config.path());
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    // Warm up (pools, allocator), then take the idle figure.
    let warm = client
        .get(gateway.url("/download/1048576"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(warm.len(), 1 << 20);
    let (idle, _) = memory_kib(gateway.pid());

    let pid = gateway.pid();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(memory_kib(pid).0);
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        })
    };
    let started = Instant::now();
    let body = reqwest::blocking::Body::sized(Generated { left: SIZE }, SIZE);
    let uploaded = client
        .post(gateway.url("/upload"))
        .body(body)
        .send()
        .unwrap();
    assert_eq!(uploaded.status(), 200);
    assert_eq!(uploaded.text().unwrap(), SIZE.to_string());
    let mut download = client
        .get(gateway.url(&format!("/download/{SIZE}")))
        .send()
        .unwrap();
    assert_eq!(download.status(), 200);
    let mut buffer = vec![0u8; 256 * 1024];
    let mut received = 0u64;
    loop {
        let n = download.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        received += n as u64;
    }
    assert_eq!(received, SIZE);
    let took = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    let (_, hwm) = memory_kib(gateway.pid());
    eprintln!(
        "2 GiB through the gateway in {took:?}; RSS idle {idle} KiB, sampled peak {peak} KiB, VmHWM {hwm} KiB"
    );
    assert!(peak > 0, "could not read /proc/{pid}/status");
    assert!(
        peak < idle + 64 * 1024,
        "gateway RSS grew from {idle} KiB to {peak} KiB while streaming"
    );
    assert!(hwm < idle + 64 * 1024, "VmHWM {hwm} KiB vs idle {idle} KiB");
}
