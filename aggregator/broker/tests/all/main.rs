//! End-to-end tests of the embedded broker: real NATS clients (async-nats, nats-py, raw TCP)
//! against brokers started on `127.0.0.1:0`.

mod auth;
mod lifecycle;
mod limits;
mod pubsub;
mod python;
mod raw_protocol;
mod request;
mod support;
mod tls;
