# Sourced by the project's scripts: installs what a fresh machine lacks and points cargo at a
# target directory outside the clone, so CI and developers reuse one build cache.
set -euo pipefail

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/locker/target}"
mkdir -p "$CARGO_TARGET_DIR"

# RocksDB's Rust bindings are generated with libclang at build time.
if ! ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 && ! ldconfig -p 2>/dev/null | grep -q 'libclang[-.0-9]*\.so'; then
  echo "locker: installing libclang-dev (needed to build RocksDB's bindings)" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libclang-dev >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "locker: cargo not found; install Rust (rustup) first" >&2
  exit 1
fi

# The ledger's pure part (proof verification) must keep building for WebAssembly, for the
# browser's verifier; CI checks it (.ci/run).
if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
  echo "locker: adding the wasm32-unknown-unknown target (rustup)" >&2
  rustup target add wasm32-unknown-unknown >&2
fi
