//! `wasi:config/store@0.2.0-rc.1`, answered from `wasi:config/store@0.2.0-draft-2024-09-27`.

wit_bindgen::generate!({
    path: "wit",
    world: "adapter",
    generate_all,
});

use exports::wasi::config0_2_0_rc_1::store::{Error, Guest};
use wasi::config0_2_0_draft_2024_09_27::store as spin;

struct Adapter;

impl Guest for Adapter {
    fn get(key: String) -> Result<Option<String>, Error> {
        spin::get(&key).map_err(error)
    }

    fn get_all() -> Result<Vec<(String, String)>, Error> {
        spin::get_all().map_err(error)
    }
}

fn error(error: spin::Error) -> Error {
    match error {
        spin::Error::Upstream(message) => Error::Upstream(message),
        spin::Error::Io(message) => Error::Io(message),
    }
}

export!(Adapter);
