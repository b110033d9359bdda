//! The component's only way out: its outgoing HTTP requests, intercepted in-process.
//!
//! `POST http://hitkeep-sink.internal/batch` is read (at most [`MAX_SINK_BODY_BYTES`]) and
//! handed to a [`BatchSink`], whose verdict becomes the response status. Every other
//! destination is refused with `HTTP-request-denied`: in host mode the component has no
//! network.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::config::SINK_AUTHORITY;
use crate::journal::Durable;
use crate::metrics as m;

/// Largest batch body the component may post.
pub const MAX_SINK_BODY_BYTES: usize = 1024 * 1024;

/// What the host does with a batch the component posted.
pub(crate) trait BatchSink: Send + Sync + 'static {
    /// Takes a posted batch; the answer is the status the component sees, once the hits are
    /// on disk when it says when that is.
    fn accept(&self, payload: &[u8]) -> (SinkStatus, Option<Durable>);
}

/// The sink's verdict on one posted batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SinkStatus {
    /// Taken (202): the hits are on disk, and will be spooled and published.
    Accepted,
    /// Not a batch (400).
    Invalid,
    /// The spool is full (503): nothing was taken.
    Full,
}

impl SinkStatus {
    fn http_status(self) -> http::StatusCode {
        match self {
            Self::Accepted => http::StatusCode::ACCEPTED,
            Self::Invalid => http::StatusCode::BAD_REQUEST,
            Self::Full => http::StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The `wasi:http` hooks of every request's store.
pub(crate) struct SinkHooks {
    sink: Arc<dyn BatchSink>,
}

impl SinkHooks {
    pub(crate) fn new(sink: Arc<dyn BatchSink>) -> Self {
        Self { sink }
    }
}

/// Where an outgoing request is going, as far as the host cares.
#[derive(Debug, PartialEq, Eq)]
enum Destination {
    /// `POST http://hitkeep-sink.internal/batch`.
    Batch,
    /// The sink host, but another method or path.
    SinkOther,
    /// Anywhere else.
    Elsewhere,
}

fn destination(request: &http::Request<WasiBody>) -> Destination {
    let uri = request.uri();
    let is_sink_host = uri.host().is_some_and(|host| host.eq_ignore_ascii_case(SINK_AUTHORITY))
        && uri.port_u16().is_none_or(|port| port == 80)
        && uri.scheme_str() == Some("http");
    if !is_sink_host {
        return Destination::Elsewhere;
    }
    if request.method() == http::Method::POST && uri.path() == "/batch" {
        Destination::Batch
    } else {
        Destination::SinkOther
    }
}

type ResponseFuture = Box<
    dyn Future<
            Output = Result<
                (http::Response<WasiBody>, Box<dyn Future<Output = Result<(), HttpError>> + Send>),
                HttpError,
            >,
        > + Send,
>;

fn empty_response(status: http::StatusCode) -> http::Response<WasiBody> {
    let body = Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync();
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    response
}

impl WasiHttpHooks for SinkHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _response_done: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> ResponseFuture {
        let sink = self.sink.clone();
        Box::new(async move {
            let status = match destination(&request) {
                Destination::Elsewhere => {
                    metrics::counter!(m::OUTGOING_REFUSED).increment(1);
                    return Err(HttpError::HttpRequestDenied);
                }
                Destination::SinkOther => http::StatusCode::NOT_FOUND,
                Destination::Batch => {
                    match Limited::new(request.into_body(), MAX_SINK_BODY_BYTES).collect().await {
                        Ok(body) => {
                            // `202` only once the hits are on disk (the journal's group commit).
                            let (status, durable) = sink.accept(&body.to_bytes());
                            let on_disk = match durable {
                                Some(durable) => durable.wait().await,
                                None => true,
                            };
                            if on_disk {
                                status.http_status()
                            } else {
                                metrics::counter!(m::JOURNAL_TIMEOUTS).increment(1);
                                SinkStatus::Full.http_status()
                            }
                        }
                        Err(_) => http::StatusCode::PAYLOAD_TOO_LARGE,
                    }
                }
            };
            let done: Box<dyn Future<Output = Result<(), HttpError>> + Send> = Box::new(async { Ok(()) });
            Ok((empty_response(status), done))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, uri: &str) -> http::Request<WasiBody> {
        let body = Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync();
        http::Request::builder().method(method).uri(uri).body(body).unwrap()
    }

    #[test]
    fn only_the_sink_is_reachable() {
        assert_eq!(destination(&request("POST", "http://hitkeep-sink.internal/batch")), Destination::Batch);
        assert_eq!(
            destination(&request("POST", "http://HITKEEP-SINK.internal:80/batch")),
            Destination::Batch
        );
        assert_eq!(
            destination(&request("GET", "http://hitkeep-sink.internal/batch")),
            Destination::SinkOther
        );
        assert_eq!(
            destination(&request("POST", "http://hitkeep-sink.internal/other")),
            Destination::SinkOther
        );
        assert_eq!(
            destination(&request("POST", "https://hitkeep-sink.internal/batch")),
            Destination::Elsewhere
        );
        assert_eq!(
            destination(&request("POST", "http://hitkeep-sink.internal:8080/batch")),
            Destination::Elsewhere
        );
        assert_eq!(destination(&request("POST", "http://example.com/batch")), Destination::Elsewhere);
        assert_eq!(
            destination(&request("POST", "http://hitkeep-sink.internal.evil.com/batch")),
            Destination::Elsewhere
        );
    }
}
