//! Wire types shared by the edge and the aggregator.
//!
//! This crate is the contract between the two halves of Hitkeep. It holds no runtime: no
//! tokio, no DuckDB, nothing that does not compile for `wasm32-wasip2`.
//!
//! * [`Hit`] is one anonymized, classified event as the edge hands it on. It carries no IP
//!   address and no user-agent string: only the cookieless visitor hashes and the
//!   classification derived from them at the edge.
//! * [`Batch`] is the envelope an edge publishes as one NATS request on [`INGEST_SUBJECT`]
//!   (or posts to the aggregator's batch endpoint). Its [`Batch::id`] doubles as the
//!   `Nats-Msg-Id` header and is the unit of deduplication.
//! * [`Ack`] is the aggregator's reply, sent only once the batch is durable.
//!
//! * [`group`] is how our host hands several tracker requests to the collector component in
//!   one call.
//!
//! The envelope comes in two encodings, which [`Batch::decode`] tells apart by the first
//! byte: binary (version 2, [`binary`]), which edges publish, and JSON (version 1, the `v`
//! field), which the collector component and Spin collectors send. An aggregator refuses
//! versions it does not know with [`DecodeError::UnsupportedVersion`] rather than guessing.
//! The layouts are described in [`binary`], on [`Batch`] and in this crate's README.
#![deny(missing_docs)]

mod batch;
pub mod binary;
pub mod group;
mod hit;
pub mod limits;

pub use batch::{
    Ack, AckStatus, Batch, DecodeError, EDGE_CONFIG_CHANGED_SUBJECT, EDGE_CONFIG_SUBJECT, ENVELOPE_VERSION,
    INGEST_SUBJECT, MSG_ID_HEADER, edge_inbox_prefix, is_valid_id,
};
pub use binary::BINARY_ENVELOPE_VERSION;
pub use hit::{Channel, Device, EventKind, Hit, HitRef, Revenue, RevenueRef, Utm, UtmRef, ValidationError};
