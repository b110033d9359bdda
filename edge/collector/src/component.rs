//! The component's side of the WASI boundary: the `wasi:http/incoming-handler@0.2.0` export,
//! and [`Host`] implemented with standard WASI calls only.

mod outbound;
mod streams;

use std::time::{SystemTime, UNIX_EPOCH};

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam};

use crate::{Host, Inbound, Outbound, Reply, RequestHead};

struct Collector;

wasi::http::proxy::export!(Collector);

impl Guest for Collector {
    /// One call per request; everything blocks on WASI pollables, which is all one request
    /// at a time needs (no async executor).
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path_with_query = request.path_with_query().unwrap_or_default();
        let head =
            RequestHead::new(method_name(&request.method()), &path_with_query, request.headers().entries());
        let mut host = WasiHost { request };
        let reply = crate::handle(&head, &mut host);
        respond(response_out, reply, head.method == "HEAD");
    }
}

fn method_name(method: &Method) -> &str {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
        Method::Other(other) => other,
    }
}

struct WasiHost {
    request: IncomingRequest,
}

impl Host for WasiHost {
    fn env(&self, name: &str) -> Option<String> {
        hitkeep_wasi_config::get(&crate::settings::config_key(name)).or_else(|| std::env::var(name).ok())
    }

    fn now_ms(&self) -> i64 {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
    }

    fn random_bytes(&mut self) -> [u8; 16] {
        let high = wasi::random::random::get_random_u64().to_be_bytes();
        let low = wasi::random::random::get_random_u64().to_be_bytes();
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&high);
        bytes[8..].copy_from_slice(&low);
        bytes
    }

    fn read_body(&mut self, max: usize) -> Result<Vec<u8>, String> {
        let body = self.request.consume().map_err(|()| "the body was already taken".to_owned())?;
        let stream = body.stream().map_err(|()| "the body stream was already taken".to_owned())?;
        let read = streams::read_at_most(&stream, max.saturating_add(1));
        // A child resource goes before its parent.
        drop(stream);
        drop(body);
        read
    }

    fn send(&mut self, outbound: Outbound) -> Result<Inbound, String> {
        outbound::send(&outbound)
    }

    fn log(&mut self, message: &str) {
        eprintln!("hitkeep-collector: {message}");
    }
}

fn respond(response_out: ResponseOutparam, reply: Reply, head_request: bool) {
    let mut entries: Vec<(String, Vec<u8>)> =
        reply.headers.iter().map(|(name, value)| ((*name).to_owned(), value.as_bytes().to_vec())).collect();
    // A length, even 0, rather than a chunked body; but none on 204 (HTTP forbids it) or on
    // the answer to HEAD (whose length would be the GET's).
    if reply.status != 204 && !head_request {
        entries.push(("content-length".to_owned(), reply.body.len().to_string().into_bytes()));
    }
    let headers = Fields::from_list(&entries).unwrap_or_else(|error| {
        eprintln!("hitkeep-collector: response headers refused: {error:?}");
        Fields::new()
    });
    let response = OutgoingResponse::new(headers);
    if response.set_status_code(reply.status).is_err() {
        eprintln!("hitkeep-collector: status {} refused", reply.status);
    }
    let Ok(body) = response.body() else {
        eprintln!("hitkeep-collector: response body unavailable");
        return;
    };
    ResponseOutparam::set(response_out, Ok(response));
    let Ok(stream) = body.write() else {
        eprintln!("hitkeep-collector: response body stream unavailable");
        return;
    };
    // The client may have gone away; there is no one left to tell then.
    let written = streams::write_all(&stream, &reply.body);
    drop(stream);
    if written.is_ok() {
        let _ = OutgoingBody::finish(body, None);
    }
}
