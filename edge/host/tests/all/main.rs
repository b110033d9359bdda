//! Integration tests of the edge host: real sockets on 127.0.0.1:0, a real NATS broker (the
//! embedded one, and `nats-server` once), the real collector component and a small test
//! component (`tests/components/test-component`) for what the collector never does (loop
//! forever, echo what it was handed, try the network). `HITKEEP_TEST_LOG=1` shows the logs.

mod config_adapter;
mod headers;
mod limits;
mod nats_server;
mod outage;
mod pipeline;
mod privacy;
mod restart;
mod support;
