//! Builds the browser's proof-bundle verifier: crate `verifier` compiled to WebAssembly, which
//! `web.rs` serves at `/web/verifier.wasm` (compiled into the binary, like the page itself).
//!
//! A nested cargo with its own target directory, so that it never waits on the outer build's
//! lock; beside the outer profiles, so debug and release builds share it. It needs the
//! `wasm32-unknown-unknown` target (`scripts/env.sh` adds it) and nothing else: no
//! bindings generator, no JavaScript toolchain.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir.parent().expect("api sits in the workspace").to_owned();
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    for input in [
        "verifier",
        "ledger/src",
        "ledger/Cargo.toml",
        "schemas/src",
        "schemas/Cargo.toml",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo::rerun-if-changed={}", workspace.join(input).display());
    }
    let target_dir = wasm_target_dir(&out_dir);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&workspace)
        .args(["rustc", "--package", "verifier", "--lib", "--locked", "--profile", "wasm"])
        .args(["--target", TARGET, "--crate-type", "cdylib", "--target-dir"])
        .arg(&target_dir);
    // What the outer build set for itself, not for this one: flags for the host, and clippy's
    // driver when the outer command is `cargo clippy`.
    for variable in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
    ] {
        command.env_remove(variable);
    }
    let output = command.output().expect("cargo runs");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("target may not be installed") {
            format!(
                "the {TARGET} target is missing: run `rustup target add {TARGET}` (scripts/env.sh does)\n"
            )
        } else {
            String::new()
        };
        panic!("{hint}building the browser's verifier ({TARGET}) failed:\n{stderr}");
    }
    let built = target_dir.join(TARGET).join("wasm").join("verifier.wasm");
    std::fs::copy(&built, out_dir.join("verifier.wasm"))
        .unwrap_or_else(|e| panic!("{}: {e}", built.display()));
}

/// `<target>/<profile>/build/api-<hash>/out` -> `<target>/verifier-wasm`.
fn wasm_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "build"))
        .and_then(|build| build.parent())
        .and_then(|profile| profile.parent())
        .map_or_else(|| out_dir.join("verifier-wasm"), |target| target.join("verifier-wasm"))
}
