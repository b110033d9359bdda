//! The commands that work on a data directory whether or not `hitkeep serve` runs on it:
//! each builds its requests to the control routes and prints the answer
//! (see [`crate::control::ControlClient`]).

pub mod audit;
pub mod backup;
pub mod edge_tokens;
pub mod events;
pub mod export;
pub mod funnels;
pub mod goals;
pub mod import;
pub mod mailings;
pub mod shares;
pub mod sites;
pub mod stats;
pub mod tokens;
pub mod users;
