//! `wasi:config/store@0.2.0-rc.1` for the edge collector, as one safe function.
//!
//! The host's configuration store is where a platform puts the settings it manages: Spin's
//! variables (through `edge/config-adapter`), `wasmtime serve -Sconfig -Sconfig-var
//! key=value`. The collector reads a setting there first and falls back to its environment.
//! Only the component (`wasm32`) has the import; natively [`get`] finds nothing, so the
//! collector's native tests see the environment alone.

#![cfg_attr(not(target_arch = "wasm32"), forbid(unsafe_code))]

#[cfg(target_arch = "wasm32")]
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "imports",
    });
}

/// The value of `key` in the host's configuration store: `None` when it is not set, when
/// the store failed to answer, or outside a component.
pub fn get(key: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        bindings::wasi::config::store::get(key).ok().flatten()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = key;
        None
    }
}
