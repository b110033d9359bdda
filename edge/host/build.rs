//! Builds the WASM components this crate embeds or tests with.
//!
//! * The collector (`edge/collector`, package `hitkeep-collector`) is built for
//!   `wasm32-wasip2` in release and embedded in the library (`EMBEDDED_COLLECTOR`), so the
//!   `hitkeep-edge` binary needs no file beside it. `HITKEEP_EDGE_COLLECTOR_WASM=/path.wasm`
//!   embeds a prebuilt component instead (packagers, or a collector built elsewhere).
//! * The test component (`tests/components/test-component`) is built the same way; its path
//!   is exposed to the tests as `env!("HITKEEP_EDGE_TEST_COMPONENT")`.
//!
//! * The `wasi:config` adapter Spin composes with the collector (`edge/config-adapter`):
//!   `env!("HITKEEP_CONFIG_ADAPTER")` for the tests.
//!
//! Each runs a nested `cargo build` with their own target directory (`<target>/wasm-embed`):
//! the outer cargo holds the lock of its own, so sharing it would deadlock. (Not
//! `<target>/wasm`, where the collector's own tests build it with the workspace's release
//! profile: the two builds would keep invalidating each other.)

use std::env;
use std::path::{Path, PathBuf};

use hitkeep_wasm_build as wasm_build;

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let workspace = manifest_dir.join("../..");
    let wasm_target_dir = wasm_build::target_dir(&out_dir);

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
            wasm_build::release_dir(&wasm_target_dir).join("hitkeep_collector.wasm")
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
    let test_component = wasm_build::release_dir(&wasm_target_dir).join("hitkeep_edge_test_component.wasm");
    println!("cargo:rustc-env=HITKEEP_EDGE_TEST_COMPONENT={}", test_component.display());

    let adapter_dir = workspace.join("edge/config-adapter");
    for watched in ["src", "wit", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", adapter_dir.join(watched).display());
    }
    let manifest = adapter_dir.join("Cargo.toml");
    build_component(
        "the wasi:config adapter for Spin (edge/config-adapter)",
        &["--manifest-path", manifest.to_str().expect("utf-8 path")],
        &adapter_dir,
        &wasm_target_dir,
    );
    let adapter = wasm_build::release_dir(&wasm_target_dir).join("hitkeep_config_adapter.wasm");
    println!("cargo:rustc-env=HITKEEP_CONFIG_ADAPTER={}", adapter.display());
}

/// The component is embedded in the binary and compiled by wasmtime at every start: debug
/// info would only make both slower (traps still name functions: the name section stays).
fn build_component(what: &str, selection: &[&str], cwd: &Path, target_dir: &Path) {
    wasm_build::cargo_build(
        what,
        cwd,
        selection,
        target_dir,
        &[("CARGO_PROFILE_RELEASE_DEBUG", "false"), ("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")],
        "; a prebuilt collector can be embedded with HITKEEP_EDGE_COLLECTOR_WASM=/path/to/collector.wasm",
    );
}
