//! Builds the standard plugins (`plugins/`, one guest crate each) to wasm32-wasip2 components
//! and generates `embedded_plugins.rs`, which embeds them in the binary. Running it from the
//! normal build keeps `cargo build` the only step: no .wasm is committed or fetched.
//!
//! The nested cargo uses its own target directory (beside the outer one) so that it neither
//! waits on the outer build's lock nor rebuilds for every profile of the host.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("host/ lives in the workspace")
        .to_path_buf();
    let plugins = root.join("plugins");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));

    println!("cargo::rerun-if-changed={}", plugins.display());
    println!("cargo::rerun-if-changed={}", root.join("sdk/wit").display());
    println!(
        "cargo::rerun-if-changed={}",
        root.join("sdk/rust/src").display()
    );
    println!(
        "cargo::rerun-if-changed={}",
        root.join("sdk/rust/Cargo.toml").display()
    );
    println!(
        "cargo::rerun-if-changed={}",
        root.join("sdk/rust/handler-world").display()
    );
    println!("cargo::rerun-if-env-changed=FERROGATE_PLUGINS_TARGET_DIR");

    let names = plugin_crates(&plugins);
    let target_dir = env::var_os("FERROGATE_PLUGINS_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| outer_target_dir(&root, &out_dir).join("plugins"));
    build(&plugins, &target_dir);

    let mut generated = String::from(
        "/// The standard plugins, compiled from `plugins/` by build.rs.\n\
         pub static EMBEDDED: &[EmbeddedPlugin] = &[\n",
    );
    for name in &names {
        let built = target_dir
            .join(TARGET)
            .join("release")
            .join(format!("{}.wasm", name.replace('-', "_")));
        // A copy in OUT_DIR: include_bytes! then points at a file this build owns.
        let embedded = out_dir.join(format!("{name}.wasm"));
        std::fs::copy(&built, &embedded).unwrap_or_else(|error| {
            panic!(
                "the plugin {name} was not built at {}: {error}",
                built.display()
            )
        });
        writeln!(
            generated,
            "    EmbeddedPlugin {{ name: {name:?}, wasm: include_bytes!({:?}) }},",
            embedded.display().to_string()
        )
        .expect("writing to a String");
    }
    generated.push_str("];\n");
    std::fs::write(out_dir.join("embedded_plugins.rs"), generated).expect("OUT_DIR is writable");
}

/// The package names of the workspace members, from `plugins/*/Cargo.toml`.
fn plugin_crates(plugins: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let entries = std::fs::read_dir(plugins).expect("plugins/ exists");
    for entry in entries.filter_map(Result::ok) {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let name = text
            .lines()
            .find_map(|line| line.trim().strip_prefix("name = "))
            .map(|quoted| quoted.trim_matches('"').to_owned())
            .unwrap_or_else(|| panic!("{} has no package name", manifest.display()));
        names.push(name);
    }
    names.sort();
    names
}

/// `<target>` of the outer build: OUT_DIR is `<target>[/<triple>]/<profile>/build/<pkg>/out`
/// and always absolute, whereas `CARGO_TARGET_DIR` may be relative to wherever cargo ran.
fn outer_target_dir(root: &Path, out_dir: &Path) -> PathBuf {
    if let Some(dir) = out_dir
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").exists())
    {
        return dir.to_path_buf();
    }
    match env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

fn build(plugins: &Path, target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(plugins)
        .args(["build", "--release", "--locked", "--target", TARGET])
        .env("CARGO_TARGET_DIR", target_dir);
    // Settings meant for the host build must not leak into the guest build.
    for variable in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_PROFILE_RELEASE_DEBUG",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_LLVM_COV",
    ] {
        command.env_remove(variable);
    }
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run cargo to build plugins/: {error}"));
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains(TARGET) && stderr.contains("target may not be installed") {
            "\n\nThe wasm32-wasip2 target is missing: run `rustup target add wasm32-wasip2` \
             (scripts/setup does it)."
        } else {
            ""
        };
        panic!("building the standard plugins in plugins/ failed:\n{stderr}{hint}");
    }
}
