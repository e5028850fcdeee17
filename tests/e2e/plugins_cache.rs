//! The plugins' compilation cache as the gateway leaves it: read at every start, and not
//! reworked by the gateway process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferrogate_e2e::{ConfigDir, Gateway, eventually, files_under};

use crate::{body_of, static_route};

/// Each cached artifact's statistics file (`<artifact>.stats`, TOML kept by wasmtime's cache
/// worker), found under `dir`.
fn stats_files(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "stats")
        })
        .collect()
}

fn stats_field(path: &Path, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (name, value) = line.split_once('=')?;
        (name.trim() == field).then(|| value.trim().parse().ok())?
    })
}

/// wasmtime's default is to recompress a cached artifact at zstd level 20 once it has been
/// loaded 256 times, in a thread of the process that loads it. The gateway loads every plugin
/// at each start, so its 256th start would spend seconds of CPU and a couple of hundred MB on
/// that, beside the traffic it serves. The gateway keeps artifacts at the level they were
/// written with.
#[test]
fn a_gateway_that_has_loaded_its_plugins_many_times_does_not_recompress_their_cache() {
    let cache = tempfile::tempdir().unwrap();
    let cache_env = [("FERROGATE_CACHE", cache.path().to_str().unwrap())];
    let config = ConfigDir::new();
    config.write(
        "config.json",
        r#"{"handler": {"name": "_router", "type": "Router"}}"#,
    );
    config.write_routes(&[("a", static_route(None, None, "a"))]);

    // The first start compiles the plugins into the empty cache.
    drop(Gateway::start_with(config.path(), &[], &cache_env));
    let stats = stats_files(cache.path());
    assert!(
        !stats.is_empty(),
        "nothing was cached in {:?}",
        cache.path()
    );
    let level = stats_field(&stats[0], "optimized-compression").unwrap();
    // As if each artifact had been loaded 300 times, past wasmtime's threshold of 256.
    for path in &stats {
        std::fs::write(
            path,
            format!("usages = 300\noptimized-compression = {level}\n"),
        )
        .unwrap();
    }

    let gateway = Gateway::start_with(config.path(), &[], &cache_env);
    assert_eq!(body_of(&gateway, "/"), "a");
    // The cache's worker counts each load and only then recompresses; once every count has
    // moved (or some time has passed: a full event queue drops counts), a recompression
    // would have shown in the statistics.
    let counted = |path: &PathBuf| stats_field(path, "usages").is_some_and(|usages| usages > 300);
    eventually(Duration::from_secs(10), || stats.iter().all(counted));
    assert!(
        stats.iter().any(counted),
        "no load of a cached artifact was counted: {stats:?}"
    );
    let recompressed: Vec<&PathBuf> = stats
        .iter()
        .filter(|path| stats_field(path, "optimized-compression") != Some(level))
        .collect();
    assert!(
        recompressed.is_empty(),
        "artifacts recompressed by the gateway: {recompressed:?}"
    );
}
