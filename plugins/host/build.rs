//! Builds the plugins this crate's tests, benchmark and dependents' tests run:
//!
//! * the example plugins (`plugins/examples`: url-normalizer, campaign-mapper, prop-scrubber);
//! * the test plugins (`tests/plugins`: noop, tagger, looper, hog, panicker, garbage, slow,
//!   sandbox-probe, net-http).
//!
//! Each set is one standalone workspace (they hold wit-bindgen's generated unsafe glue, which
//! the Hitkeep workspace forbids), built with one nested `cargo build --workspace --release
//! --target wasm32-wasip2`. Their paths are exposed as `env!("HITKEEP_PLUGIN_<NAME>")`, e.g.
//! `HITKEEP_PLUGIN_URL_NORMALIZER` and `HITKEEP_PLUGIN_TEST_LOOPER`, and re-exported by
//! `hitkeep_plugins::fixtures`.
//!
//! The nested builds use their own target directory (`<target>/wasm-embed`, shared with
//! edge/host's nested builds): the outer cargo holds the lock of its own, so sharing it
//! would deadlock.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const WASM_TARGET: &str = "wasm32-wasip2";

const EXAMPLES: [&str; 3] = ["url-normalizer", "campaign-mapper", "prop-scrubber"];
const TEST_PLUGINS: [&str; 9] =
    ["noop", "tagger", "looper", "hog", "panicker", "garbage", "slow", "sandbox-probe", "net-http"];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let plugins_dir = manifest_dir.join("..");
    let wasm_target_dir = wasm_target_dir(&out_dir);
    let release = wasm_target_dir.join(WASM_TARGET).join("release");

    println!("cargo:rerun-if-changed=build.rs");
    for watched in ["wit", "sdk/src", "sdk/Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", plugins_dir.join(watched).display());
    }

    let examples = plugins_dir.join("examples");
    watch_workspace(&examples, &EXAMPLES);
    build_workspace("the example plugins (plugins/examples)", &examples, &wasm_target_dir);
    for name in EXAMPLES {
        let wasm = release.join(format!("hitkeep_{}.wasm", name.replace('-', "_")));
        expose(&format!("HITKEEP_PLUGIN_{}", name.replace('-', "_").to_uppercase()), &wasm);
    }

    let test_plugins = manifest_dir.join("tests/plugins");
    watch_workspace(&test_plugins, &TEST_PLUGINS);
    build_workspace("the test plugins (plugins/host/tests/plugins)", &test_plugins, &wasm_target_dir);
    for name in TEST_PLUGINS {
        let wasm = release.join(format!("test_plugin_{}.wasm", name.replace('-', "_")));
        expose(&format!("HITKEEP_PLUGIN_TEST_{}", name.replace('-', "_").to_uppercase()), &wasm);
    }
}

fn watch_workspace(workspace: &Path, members: &[&str]) {
    for watched in ["Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(watched).display());
    }
    for member in members {
        for watched in ["src", "Cargo.toml"] {
            println!("cargo:rerun-if-changed={}", workspace.join(member).join(watched).display());
        }
    }
}

fn expose(variable: &str, wasm: &Path) {
    assert!(wasm.is_file(), "the nested build did not produce {}", wasm.display());
    println!("cargo:rustc-env={variable}={}", wasm.display());
}

/// `<target>/wasm-embed`, next to the outer build's `debug`/`release` (OUT_DIR is
/// `<target>[/<triple>]/<profile>/build/<pkg>-<hash>/out`).
fn wasm_target_dir(out_dir: &Path) -> PathBuf {
    match out_dir.ancestors().nth(4) {
        Some(target) => target.join("wasm-embed"),
        None => out_dir.join("wasm-embed"),
    }
}

fn build_workspace(what: &str, workspace: &Path, target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--workspace", "--release", "--target", WASM_TARGET, "--target-dir"])
        .arg(target_dir);
    // The outer build's settings are for the host target (and clippy's wrapper for the
    // outer crates only): they must not leak into the nested WASM build.
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
        let hint =
            if stderr.contains("may not be installed") || stderr.contains("can't find crate for `core`") {
                format!("the `{WASM_TARGET}` target is missing: run `rustup target add {WASM_TARGET}`")
            } else {
                format!("is the `{WASM_TARGET}` target installed? (`rustup target add {WASM_TARGET}`)")
            };
        panic!("failed to build {what} for {WASM_TARGET}: {hint}\n\n--- cargo output ---\n{stderr}");
    }
}
