#!/usr/bin/env bash
# Builds the test and example plugins for wasm32-wasip2 and prints the component paths, one
# a line. Output: target/wasm-plugins/wasm32-wasip2/release/<crate_name>.wasm (dashes as
# underscores), under the repository's ignored target/ directory. Extra arguments go to cargo
# (e.g. `-p add-request-header`).
set -euo pipefail
cd "$(dirname "$0")/../.."

if command -v rustup >/dev/null 2>&1; then
  if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "build.sh: the wasm32-wasip2 target is missing; run: rustup target add wasm32-wasip2" >&2
    exit 1
  fi
elif ! rustc --print target-libdir --target wasm32-wasip2 >/dev/null 2>&1 \
  || [ ! -d "$(rustc --print target-libdir --target wasm32-wasip2)" ]; then
  echo "build.sh: the wasm32-wasip2 target is missing; run: rustup target add wasm32-wasip2" >&2
  exit 1
fi

export CARGO_TARGET_DIR="$PWD/target/wasm-plugins"
cargo build --release --target wasm32-wasip2 --manifest-path tests/plugins/Cargo.toml "$@" >&2

out="$CARGO_TARGET_DIR/wasm32-wasip2/release"
for manifest in tests/plugins/*/Cargo.toml; do
  name=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$manifest" | head -n 1)
  wasm="$out/${name//-/_}.wasm"
  if [ -f "$wasm" ]; then
    echo "$wasm"
  fi
done
