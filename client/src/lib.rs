//! A client of the locker service for issuers, requesters, monitors and operators: typed calls
//! over HTTP, the bulk sender, the requester's client, the monitor's round, the status check.
//!
//! **Architecture invariant:** client builds without RocksDB or Kafka: it depends on `wire`
//! (the contract), `schemas` and the pure `ledger` (signing, sealing, Merkle proofs), never on
//! the server. The server uses its HTTP transport for its own outbound calls (the SMS gateway,
//! the Aadhaar authority).

pub mod admin;
pub mod bulk;
pub mod citizen;
mod error;
pub mod http;
pub mod issue;
pub mod limits;
pub mod monitor;
pub mod requester;
pub mod status;
pub mod trust;

pub use error::ClientError;
