//! Build-script support for crates that embed or test with WebAssembly components built from
//! this repository (`edge/host`: the collector and its test component; `plugins/host`: the
//! example and test plugins).
//!
//! The components are built by a nested `cargo build --release --target wasm32-wasip2` into
//! `<target>/wasm-embed`, next to the outer build's `debug`/`release`: not the outer target
//! directory, whose lock the outer cargo holds (sharing it would deadlock).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every component is built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Variables of the outer build that are about the host target (or clippy's wrapper for the
/// outer crates only) and must not leak into the nested WASM build.
const LEAKED: [&str; 16] = [
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
];

/// `<target>/wasm-embed` for a build script's `OUT_DIR`
/// (`<target>[/<triple>]/<profile>/build/<pkg>-<hash>/out`).
pub fn target_dir(out_dir: &Path) -> PathBuf {
    match out_dir.ancestors().nth(4) {
        Some(target) => target.join("wasm-embed"),
        None => out_dir.join("wasm-embed"),
    }
}

/// `<target>/wasm-embed/wasm32-wasip2/release`, where the built components land.
pub fn release_dir(target_dir: &Path) -> PathBuf {
    target_dir.join(WASM_TARGET).join("release")
}

/// Makes sure the toolchain running this build has the `wasm32-wasip2` standard library.
///
/// rustup installs the targets of `rust-toolchain.toml` only when it installs the toolchain
/// itself: on a machine whose 1.95.0 was installed before the clone the target is missing and
/// the nested build would fail after the long native build. When `rustup` is there, the target
/// is added (a cargo warning says so); without rustup the nested build's own error explains.
pub fn ensure_target() {
    if target_installed() {
        return;
    }
    let toolchain = env::var("RUSTUP_TOOLCHAIN").ok();
    let mut command = Command::new("rustup");
    command.args(["target", "add", WASM_TARGET]);
    if let Some(toolchain) = &toolchain {
        command.args(["--toolchain", toolchain]);
    }
    println!(
        "cargo:warning=the `{WASM_TARGET}` target is missing from this toolchain: installing it with `rustup target add {WASM_TARGET}`"
    );
    match command.output() {
        Ok(output) if output.status.success() => {}
        Ok(output) => println!(
            "cargo:warning=`rustup target add {WASM_TARGET}` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(error) => println!("cargo:warning=could not run rustup to add `{WASM_TARGET}`: {error}"),
    }
}

/// Whether `<sysroot>/lib/rustlib/wasm32-wasip2` exists for the compiler cargo runs.
fn target_installed() -> bool {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(output) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    output.status.success() && Path::new(&sysroot).join("lib/rustlib").join(WASM_TARGET).join("lib").is_dir()
}

/// Runs `cargo build --release --target wasm32-wasip2 --target-dir <target_dir> <args>` in
/// `cwd`, with `env` set, after [`ensure_target`]; panics with cargo's output and `hint` when
/// it fails (a missing target gets its own hint).
pub fn cargo_build(
    what: &str,
    cwd: &Path,
    args: &[&str],
    target_dir: &Path,
    env: &[(&str, &str)],
    hint: &str,
) {
    ensure_target();
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(cwd)
        .args(["build", "--release", "--target", WASM_TARGET, "--target-dir"])
        .arg(target_dir)
        .args(args);
    for leaked in LEAKED {
        command.env_remove(leaked);
    }
    command.envs(env.iter().copied());
    let output =
        command.output().unwrap_or_else(|error| panic!("could not run cargo to build {what}: {error}"));
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint =
            if stderr.contains("may not be installed") || stderr.contains("can't find crate for `core`") {
                format!("the `{WASM_TARGET}` target is missing: run `rustup target add {WASM_TARGET}`")
            } else {
                format!("is the `{WASM_TARGET}` target installed? (`rustup target add {WASM_TARGET}`){hint}")
            };
        panic!("failed to build {what} for {WASM_TARGET}: {hint}\n\n--- cargo output ---\n{stderr}");
    }
}
