//! The read side: views of the log in RocksDB, answering what citizens, issuers, requesters and
//! the platform ask (My Certificates, My Issuer, My Requester, My Profile, consents, shares,
//! activity, directories, statistics).
//!
//! **Architecture invariant:** projections never write to the log; they can always be thrown
//! away and rebuilt from it. Each partition's view changes and its next position are written
//! in one RocksDB write batch, so a crash never applies an event twice or loses one.
//! **Architecture invariant:** an event the views cannot apply stops its partition at that
//! position, with the reason, exposed in `Projector::status`; nothing is skipped silently.
//! **Architecture invariant:** time comes from the caller (`now`) at query time; expiry is
//! never stored, so replay gives the same views whatever the clock says.

mod apply;
mod closing;
mod error;
pub mod keys;
pub mod limits;
mod projector;
mod query;
mod store;
mod tx;
pub mod views;

pub use error::ProjectionError;
pub use keys::{NoKeys, SealKeys};
pub use projector::{PartitionStatus, Projector, Sources};
pub use query::{
    Certificate, CertificateStatus, DeletedContent, IssuerCount, Page, RequesterCount, Stats,
    Storage, certificate_status, cursor_key, effective_state,
};
pub use store::{Halt, Opened, SCHEMA_VERSION, Views};
