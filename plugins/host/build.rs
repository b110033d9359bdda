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

use hitkeep_wasm_build as wasm_build;

const EXAMPLES: [&str; 3] = ["url-normalizer", "campaign-mapper", "prop-scrubber"];
const TEST_PLUGINS: [&str; 9] =
    ["noop", "tagger", "looper", "hog", "panicker", "garbage", "slow", "sandbox-probe", "net-http"];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let plugins_dir = manifest_dir.join("..");
    let wasm_target_dir = wasm_build::target_dir(&out_dir);
    let release = wasm_build::release_dir(&wasm_target_dir);

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

fn build_workspace(what: &str, workspace: &Path, target_dir: &Path) {
    wasm_build::cargo_build(what, workspace, &["--workspace"], target_dir, &[], "");
}
