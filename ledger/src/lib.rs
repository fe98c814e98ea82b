//! The ledger: signing and verification, the key registry, and the durable event log.
//!
//! **Architecture invariant:** every event on the log passed [`Ledger::append`]: it decoded
//! canonically, its actor's key was active and allowed to emit it, and its signature passed.
//! **Architecture invariant:** the ledger knows nothing of projections, HTTP or JSON. Time and
//! randomness come from callers (keys, nonces, salts are parameters).

#[cfg(feature = "store")]
pub mod audit;
pub mod clock;
pub mod crypto;
mod error;
// Files: not in the browser's build.
#[cfg(unix)]
pub mod keyfile;
#[cfg(feature = "store")]
mod ledger;
pub mod limits;
pub mod log;
pub mod merkle;
pub mod partition;
pub mod registry;
pub mod rfc9162;
#[cfg(feature = "store")]
pub mod snapshot;
#[cfg(feature = "store")]
pub mod tail;
#[cfg(feature = "store")]
pub mod world;

pub use error::{LedgerError, LogError};
#[cfg(feature = "store")]
pub use ledger::{Authenticated, Ledger, LedgerConfig, Start, Verdict, decode_logged};
#[cfg(feature = "store")]
pub use log::embedded::EmbeddedLog;
#[cfg(feature = "store")]
pub use log::kafka::{KafkaLog, KafkaSettings};
pub use log::{
    AppendRequest, Appended, IdEntry, Log, LogRecord, Position, ReadBatch, scan_topic,
    scan_topic_from,
};
#[cfg(feature = "store")]
pub use tail::Tail;
