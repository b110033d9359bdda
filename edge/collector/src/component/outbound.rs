//! Outgoing requests (the configuration fetch and the sink post) over `wasi:http`, with
//! timeouts so that a stuck aggregator cannot hold a browser's request for long.
//!
//! `wasi-http` request options carry the timeouts; hosts that ignore them keep their defaults.

use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme};

use super::streams::{read_at_most, write_all};
use crate::{Inbound, Outbound};

const NANOS_PER_SECOND: u64 = 1_000_000_000;
/// Time to open the connection.
const CONNECT_TIMEOUT: u64 = 5 * NANOS_PER_SECOND;
/// Time from the end of the request to the first byte of the response.
const FIRST_BYTE_TIMEOUT: u64 = 10 * NANOS_PER_SECOND;
/// Longest pause within the response.
const BETWEEN_BYTES_TIMEOUT: u64 = 10 * NANOS_PER_SECOND;

pub(super) fn send(outbound: &Outbound) -> Result<Inbound, String> {
    let has_body = outbound.method != "GET";
    let mut entries: Vec<(String, Vec<u8>)> = outbound
        .headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.as_bytes().to_vec()))
        .collect();
    if has_body {
        entries.push(("content-length".to_owned(), outbound.body.len().to_string().into_bytes()));
    }
    let headers = Fields::from_list(&entries).map_err(|error| format!("headers refused: {error:?}"))?;
    let request = OutgoingRequest::new(headers);
    let method = match outbound.method {
        "GET" => Method::Get,
        "POST" => Method::Post,
        other => Method::Other(other.to_owned()),
    };
    let scheme = if outbound.endpoint.https { Scheme::Https } else { Scheme::Http };
    let target = &outbound.endpoint;
    request.set_method(&method).map_err(|()| "method refused".to_owned())?;
    request.set_scheme(Some(&scheme)).map_err(|()| "scheme refused".to_owned())?;
    request.set_authority(Some(&target.authority)).map_err(|()| "authority refused".to_owned())?;
    request.set_path_with_query(Some(&target.path_with_query)).map_err(|()| "path refused".to_owned())?;
    let body = if has_body {
        Some(request.body().map_err(|()| "request body unavailable".to_owned())?)
    } else {
        None
    };

    let options = RequestOptions::new();
    // A host without timeouts refuses to set them; its own defaults apply then.
    let _ = options.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let _ = options.set_first_byte_timeout(Some(FIRST_BYTE_TIMEOUT));
    let _ = options.set_between_bytes_timeout(Some(BETWEEN_BYTES_TIMEOUT));
    let pending = outgoing_handler::handle(request, Some(options)).map_err(|error| format!("{error:?}"))?;

    if let Some(body) = body {
        let stream = body.write().map_err(|()| "request body stream unavailable".to_owned())?;
        let written = write_all(&stream, &outbound.body);
        drop(stream);
        written.map_err(|error| format!("request body not sent: {error:?}"))?;
        OutgoingBody::finish(body, None).map_err(|error| format!("request body not finished: {error:?}"))?;
    }

    let ready = pending.subscribe();
    ready.block();
    drop(ready);
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(error))) => return Err(format!("{error:?}")),
        Some(Err(())) => return Err("response already taken".to_owned()),
        None => return Err("response not ready".to_owned()),
    };
    let status = response.status();
    let body = response.consume().map_err(|()| "response body unavailable".to_owned())?;
    let stream = body.stream().map_err(|()| "response body stream unavailable".to_owned())?;
    let read = read_at_most(&stream, outbound.response_limit);
    // Children before parents: the stream, its body, the response, the pending request.
    drop(stream);
    drop(body);
    drop(response);
    drop(pending);
    Ok(Inbound { status, body: read? })
}
