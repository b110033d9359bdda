//! The `wasi:config` adapter Spin composes with the collector (`edge/config-adapter`): it
//! answers `wasi:config/store@0.2.0-rc.1` (the collector's import) from
//! `wasi:config/store@0.2.0-draft-2024-09-27` (what Spin provides). Here wasmtime plays
//! Spin's part: the draft interface, backed by a map, and the adapter's exports called the
//! way the collector calls them.

use std::collections::HashMap;

use wasmtime::component::{Component, ComponentType, Instance, Lift, Linker, Lower, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

const DRAFT: &str = "wasi:config/store@0.2.0-draft-2024-09-27";
const RC: &str = "wasi:config/store@0.2.0-rc.1";

/// The interface's `error` variant.
#[derive(ComponentType, Lift, Lower, Debug, Clone, PartialEq, Eq)]
#[component(variant)]
enum ConfigError {
    #[component(name = "upstream")]
    Upstream(String),
    #[component(name = "io")]
    Io(String),
}

struct Spin {
    variables: HashMap<String, String>,
    /// When set, the provider fails with this upstream error.
    failing: Option<String>,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Spin {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

fn instantiate(variables: &[(&str, &str)], failing: Option<&str>) -> (Store<Spin>, Instance) {
    let engine = Engine::default();
    let component =
        Component::from_file(&engine, env!("HITKEEP_CONFIG_ADAPTER")).expect("the adapter compiles");
    let mut linker = Linker::<Spin>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
    let mut draft = linker.instance(DRAFT).unwrap();
    draft
        .func_wrap("get", |store, (key,): (String,)| {
            let spin = store.data();
            Ok((match &spin.failing {
                Some(message) => Err(ConfigError::Upstream(message.clone())),
                None => Ok(spin.variables.get(&key).cloned()),
            },))
        })
        .unwrap();
    draft
        .func_wrap("get-all", |store, (): ()| {
            let spin = store.data();
            let mut all: Vec<(String, String)> =
                spin.variables.iter().map(|(key, value)| (key.clone(), value.clone())).collect();
            all.sort();
            Ok((match &spin.failing {
                Some(message) => Err(ConfigError::Io(message.clone())),
                None => Ok(all),
            },))
        })
        .unwrap();
    let spin = Spin {
        variables: variables.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect(),
        failing: failing.map(str::to_owned),
        wasi: WasiCtx::builder().build(),
        table: ResourceTable::new(),
    };
    let mut store = Store::new(&engine, spin);
    let instance =
        linker.instantiate(&mut store, &component).expect("the adapter links against Spin's interface");
    (store, instance)
}

fn get(store: &mut Store<Spin>, instance: &Instance, key: &str) -> Result<Option<String>, ConfigError> {
    let interface = instance.get_export_index(&mut *store, None, RC).expect("the adapter exports rc.1");
    let func = instance.get_export_index(&mut *store, Some(&interface), "get").expect("store.get");
    let get = instance
        .get_typed_func::<(&str,), (Result<Option<String>, ConfigError>,)>(&mut *store, &func)
        .unwrap();
    let (value,) = get.call(&mut *store, (key,)).unwrap();
    value
}

fn get_all(store: &mut Store<Spin>, instance: &Instance) -> Result<Vec<(String, String)>, ConfigError> {
    let interface = instance.get_export_index(&mut *store, None, RC).unwrap();
    let func = instance.get_export_index(&mut *store, Some(&interface), "get-all").expect("store.get-all");
    let get_all = instance
        .get_typed_func::<(), (Result<Vec<(String, String)>, ConfigError>,)>(&mut *store, &func)
        .unwrap();
    let (all,) = get_all.call(&mut *store, ()).unwrap();
    all
}

#[test]
fn the_adapter_answers_the_collectors_keys_from_spins_variables() {
    let (mut store, instance) = instantiate(
        &[("sink_url", "https://hitkeep.example.com/api/edge/batch"), ("edge_token", "hke_secret")],
        None,
    );
    assert_eq!(
        get(&mut store, &instance, "sink_url"),
        Ok(Some("https://hitkeep.example.com/api/edge/batch".into()))
    );
    assert_eq!(get(&mut store, &instance, "edge_token"), Ok(Some("hke_secret".into())));
    assert_eq!(get(&mut store, &instance, "config_url"), Ok(None));
    assert_eq!(
        get_all(&mut store, &instance),
        Ok(vec![
            ("edge_token".into(), "hke_secret".into()),
            ("sink_url".into(), "https://hitkeep.example.com/api/edge/batch".into())
        ])
    );
}

#[test]
fn the_adapter_passes_spins_errors_on() {
    let (mut store, instance) = instantiate(&[("sink_url", "https://x.example")], Some("vault is down"));
    assert_eq!(get(&mut store, &instance, "sink_url"), Err(ConfigError::Upstream("vault is down".into())));
    assert_eq!(get_all(&mut store, &instance), Err(ConfigError::Io("vault is down".into())));
}

/// spin.toml gives the collector its settings through the adapter: every variable it maps is
/// a setting the collector reads, the ones an operator must give are there, and the adapter
/// is plugged in for the version the collector imports.
#[test]
fn spin_toml_maps_the_collectors_settings() {
    use hitkeep_collector::{config_key, env};

    let manifest: toml::Table =
        toml::from_str(include_str!("../../../../spin.toml")).expect("spin.toml is TOML");
    let collector = manifest["component"]["collector"].as_table().unwrap();
    assert!(collector.get("environment").is_none(), "settings go through wasi:config, not the environment");
    assert_eq!(collector["dependencies_inherit_configuration"].as_bool(), Some(true));
    let dependency =
        collector["dependencies"][RC]["path"].as_str().expect("the adapter is the rc.1 dependency");
    assert!(dependency.ends_with("/hitkeep_config_adapter.wasm"), "{dependency}");

    let settings = [
        env::CONFIG_URL,
        env::SINK_URL,
        env::EDGE_TOKEN,
        env::EDGE_NAME,
        env::GEO_COUNTRY_HEADER,
        env::TRUST_HOST_HEADERS,
    ]
    .map(config_key);
    let variables = collector["variables"].as_table().unwrap();
    for key in variables.keys() {
        assert!(settings.contains(key), "spin.toml maps {key}, which the collector never reads");
    }
    for needed in ["sink_url", "config_url", "edge_token", "trust_host_headers"] {
        assert!(variables.contains_key(needed), "spin.toml does not map {needed}");
    }
    assert_eq!(variables["trust_host_headers"].as_str(), Some("false"));
}
