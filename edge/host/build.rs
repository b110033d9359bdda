//! Builds the WASM components this crate embeds or tests with.
//!
//! * The collector (`edge/collector`, package `hitkeep-collector`) is built for
//!   `wasm32-wasip2` in release and embedded in the library (`EMBEDDED_COLLECTOR`), so the
//!   `hitkeep-edge` binary needs no file beside it. `HITKEEP_EDGE_COLLECTOR_WASM=/path.wasm`
//!   embeds a prebuilt component instead (packagers, or a collector built elsewhere).
//! * The test component (`tests/components/test-component`) is built the same way; its path
//!   is exposed to the tests as `env!("HITKEEP_EDGE_TEST_COMPONENT")`.
//!
//! Both run a nested `cargo build` with their own target directory (`<target>/wasm-embed`):
//! the outer cargo holds the lock of its own, so sharing it would deadlock. (Not
//! `<target>/wasm`, where the collector's own tests build it with the workspace's release
//! profile: the two builds would keep invalidating each other.)

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const WASM_TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let workspace = manifest_dir.join("../..");
    let wasm_target_dir = wasm_target_dir(&out_dir);

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=HITKEEP_EDGE_COLLECTOR_WASM");

    let collector = match env::var_os("HITKEEP_EDGE_COLLECTOR_WASM") {
        Some(prebuilt) => {
            let prebuilt = PathBuf::from(prebuilt);
            println!("cargo:rerun-if-changed={}", prebuilt.display());
            assert!(prebuilt.is_file(), "HITKEEP_EDGE_COLLECTOR_WASM={} is not a file", prebuilt.display());
            prebuilt
        }
        None => {
            for watched in [
                "edge/collector",
                "edge/collector-core/src",
                "edge/protocol/src",
                "tracker/dist/hk.js",
                "Cargo.lock",
            ] {
                println!("cargo:rerun-if-changed={}", workspace.join(watched).display());
            }
            build_component(
                "the collector component (edge/collector)",
                &["-p", "hitkeep-collector"],
                &workspace,
                &wasm_target_dir,
            );
            wasm_target_dir.join(WASM_TARGET).join("release").join("hitkeep_collector.wasm")
        }
    };
    println!("cargo:rustc-env=HITKEEP_EDGE_COLLECTOR_WASM_PATH={}", collector.display());

    let test_component_dir = manifest_dir.join("tests/components/test-component");
    for watched in ["src", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", test_component_dir.join(watched).display());
    }
    let manifest = test_component_dir.join("Cargo.toml");
    build_component(
        "the test component (edge/host/tests/components/test-component)",
        &["--manifest-path", manifest.to_str().expect("utf-8 path")],
        &test_component_dir,
        &wasm_target_dir,
    );
    let test_component =
        wasm_target_dir.join(WASM_TARGET).join("release").join("hitkeep_edge_test_component.wasm");
    println!("cargo:rustc-env=HITKEEP_EDGE_TEST_COMPONENT={}", test_component.display());
}

/// `<target>/wasm-embed`, next to the outer build's `debug`/`release` (OUT_DIR is
/// `<target>[/<triple>]/<profile>/build/<pkg>-<hash>/out`).
fn wasm_target_dir(out_dir: &Path) -> PathBuf {
    match out_dir.ancestors().nth(4) {
        Some(target) => target.join("wasm-embed"),
        None => out_dir.join("wasm-embed"),
    }
}

fn build_component(what: &str, selection: &[&str], cwd: &Path, target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(cwd)
        .args(["build", "--release", "--target", WASM_TARGET, "--target-dir"])
        .arg(target_dir)
        .args(selection);
    // The outer build's settings are for the host target (and clippy's wrapper for the
    // outer crates only): they must not leak into the nested WASM build.
    // The component is embedded in the binary and compiled by wasmtime at every start: debug
    // info would only make both slower (traps still name functions: the name section stays).
    command.env("CARGO_PROFILE_RELEASE_DEBUG", "false").env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo");
    for leaked in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_PKG_NAME",
        "TARGET",
        "HOST",
        "PROFILE",
        "OPT_LEVEL",
        "DEBUG",
        "OUT_DIR",
    ] {
        command.env_remove(leaked);
    }
    let output =
        command.output().unwrap_or_else(|error| panic!("could not run cargo to build {what}: {error}"));
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("may not be installed")
            || stderr.contains("can't find crate for `core`")
        {
            format!("the `{WASM_TARGET}` target is missing: run `rustup target add {WASM_TARGET}`")
        } else {
            format!(
                "is the `{WASM_TARGET}` target installed? (`rustup target add {WASM_TARGET}`); \
                 a prebuilt collector can be embedded with HITKEEP_EDGE_COLLECTOR_WASM=/path/to/collector.wasm"
            )
        };
        panic!("failed to build {what} for {WASM_TARGET}: {hint}\n\n--- cargo output ---\n{stderr}");
    }
}
