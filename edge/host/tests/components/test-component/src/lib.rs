//! Test component for `hitkeep-edge`: a minimal `wasi:http/incoming-handler`.
//!
//! Routes (by path):
//! * `/echo`: answers 200 with a JSON object of the request headers and the
//!   `HITKEEP_*` environment variables the host provided.
//! * `/api/event`: posts the request body unchanged to `HITKEEP_SINK_URL` (the body is
//!   expected to be a batch JSON) and answers with the sink's status.
//! * `/outbound?url=...`: tries an outgoing GET to another host, answers 200 with the
//!   outcome text.
//! * `/loop`: spins forever.
//! * `/oom`: allocates until the memory limit stops it.
//! * anything else: 404.

use std::io::{Read as _, Write as _};

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingRequest, OutgoingResponse, ResponseOutparam,
    Scheme,
};

wasip2::http::proxy::export!(Component);

struct Component;

impl wasip2::exports::http::incoming_handler::Guest for Component {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let (route, query) = path.split_once('?').unwrap_or((path.as_str(), ""));
        match route {
            "/echo" => {
                let mut out = String::from("{\"headers\":{");
                for (index, (name, value)) in request.headers().entries().iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    out.push_str(&format!("{:?}:{:?}", name, String::from_utf8_lossy(value)));
                }
                out.push_str("},\"env\":{");
                let env: Vec<(String, String)> = wasip2::cli::environment::get_environment()
                    .into_iter()
                    .filter(|(k, _)| k.starts_with("HITKEEP_"))
                    .collect();
                for (index, (name, value)) in env.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    out.push_str(&format!("{name:?}:{value:?}"));
                }
                out.push_str("}}");
                respond(response_out, 200, &[], out.as_bytes());
            }
            "/api/event" => {
                let body = read_body(&request);
                let sink = wasip2::cli::environment::get_environment()
                    .into_iter()
                    .find(|(k, _)| k == "HITKEEP_SINK_URL")
                    .map(|(_, v)| v)
                    .unwrap_or_default();
                match post(&sink, &body) {
                    Ok(200..=299) => respond(response_out, 202, &[], b""),
                    Ok(status) => respond(response_out, status, &[], b"sink refused"),
                    Err(error) => respond(response_out, 502, &[], error.as_bytes()),
                }
            }
            "/outbound" => {
                let url = query.strip_prefix("url=").unwrap_or("http://example.com/");
                let outcome = match get(url) {
                    Ok(status) => format!("status {status}"),
                    Err(error) => format!("error {error}"),
                };
                respond(response_out, 200, &[], outcome.as_bytes());
            }
            "/loop" => {
                let mut counter: u64 = 0;
                loop {
                    counter = std::hint::black_box(counter.wrapping_add(1));
                }
            }
            "/oom" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1024 * 1024]);
                    std::hint::black_box(&hoard);
                }
            }
            _ => respond(response_out, 404, &[], b"not found"),
        }
    }
}

fn respond(out: ResponseOutparam, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let fields = Fields::new();
    for (name, value) in headers {
        fields.append(&name.to_string(), &value.as_bytes().to_vec()).unwrap();
    }
    let response = OutgoingResponse::new(fields);
    response.set_status_code(status).unwrap();
    let outgoing = response.body().unwrap();
    ResponseOutparam::set(out, Ok(response));
    let mut stream = outgoing.write().unwrap();
    stream.write_all(body).unwrap();
    stream.flush().unwrap();
    drop(stream);
    OutgoingBody::finish(outgoing, None).unwrap();
}

fn read_body(request: &IncomingRequest) -> Vec<u8> {
    let body = request.consume().unwrap();
    let mut stream = body.stream().unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    bytes
}

fn split_url(url: &str) -> (Scheme, String, String) {
    let (scheme, rest) = match url.split_once("://") {
        Some(("https", rest)) => (Scheme::Https, rest),
        Some((_, rest)) => (Scheme::Http, rest),
        None => (Scheme::Http, url),
    };
    match rest.find('/') {
        Some(slash) => (scheme, rest[..slash].to_string(), rest[slash..].to_string()),
        None => (scheme, rest.to_string(), "/".to_string()),
    }
}

fn send(method: Method, url: &str, body: Option<&[u8]>) -> Result<u16, String> {
    let (scheme, authority, path) = split_url(url);
    let headers = Fields::new();
    if body.is_some() {
        headers.append(&"content-type".to_string(), &b"application/json".to_vec()).unwrap();
    }
    let request = OutgoingRequest::new(headers);
    request.set_method(&method).unwrap();
    request.set_scheme(Some(&scheme)).unwrap();
    request.set_authority(Some(&authority)).unwrap();
    request.set_path_with_query(Some(&path)).unwrap();
    let outgoing = request.body().unwrap();
    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    // A refused request fails on the body too (the host dropped it): the response future
    // says why, so body errors are not the answer.
    if let Ok(mut stream) = outgoing.write() {
        if let Some(body) = body {
            // The stream accepts at most 4096 bytes per write: write_all chunks for us.
            let _ = stream.write_all(body);
        }
        let _ = stream.flush();
    }
    let _ = OutgoingBody::finish(outgoing, None);
    future.subscribe().block();
    match future.get() {
        Some(Ok(Ok(response))) => Ok(response.status()),
        Some(Ok(Err(error))) => Err(format!("{error:?}")),
        Some(Err(())) => Err("response taken twice".into()),
        None => Err("no response".into()),
    }
}

fn post(url: &str, body: &[u8]) -> Result<u16, String> {
    send(Method::Post, url, Some(body))
}

fn get(url: &str) -> Result<u16, String> {
    send(Method::Get, url, None)
}
