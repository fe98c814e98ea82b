//! The HTTP contract between the service and its clients, with no IO: how requests are signed
//! (RFC 9421 with Ed25519, RFC 9530 digests), every error code with its status, the media
//! types the service takes, and the limits both sides must agree on.
//!
//! **Architecture invariant:** wire names no transport (no axum, no hyper, no tokio) and no
//! store; the server and every client depend on it, so a change here is a change of contract.

pub mod dto;
mod error;
pub mod limits;
pub mod media;
pub mod rfc9421;
pub mod rows;

pub use error::ErrorCode;
