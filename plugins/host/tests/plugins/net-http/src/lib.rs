//! Tries to send an HTTP request through `wasi:http/outgoing-handler` for every event. The
//! host does not link `wasi:http`, so it must refuse to load this plugin at all.

use hitkeep_plugin_sdk::{Event, Plugin, Verdict, export_plugin};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, OutgoingRequest};

struct NetHttp;

impl Plugin for NetHttp {
    fn configure(_settings: &str) -> Result<Self, String> {
        Ok(Self)
    }

    fn enrich(&mut self, event: &mut Event) -> Verdict {
        let request = OutgoingRequest::new(Fields::new());
        let sent = outgoing_handler::handle(request, None).is_ok();
        event.set_prop("sent", sent.to_string());
        Verdict::Changed
    }
}

export_plugin!(NetHttp);
