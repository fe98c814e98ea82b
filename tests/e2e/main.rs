//! End-to-end tests across processes: one binary.

/// `locker audit verify` on a served log, intact and with a forged record.
mod audit;
/// The citizen's web locker in headless Chromium (WebDriver), screenshots included.
mod browser;
/// `locker issue bulk`: an exam board's results with bad rows, re-runs, fixes.
mod bulk;
/// Three nodes on three brokers: any node answers, a node's death and a pause lose nothing.
mod cluster;
/// SIGKILL a writer mid-stream; every acknowledged event must survive, nothing partial shows.
mod crash;
/// The product end to end on a real port: citizen, issuer, requester.
mod journey;
/// Kill the Kafka broker mid-stream: acknowledged appends survive exactly once.
mod kafka_faults;
/// SIGKILL a projector mid-way: it resumes exactly once.
mod projector_crash;
/// Pulling documents from an issuer's endpoint; QR codes and slips for paper copies.
mod pull;
/// QR codes read back by an independent decoder.
mod qr;
/// The citizen's rights: consent on terms, the signed artefact, the export, closing.
mod rights;
/// SIGTERM during uploads: every acknowledged upload survives, the server exits 0.
mod shutdown;
/// Snapshots: a node without views starts from the latest; a corrupt one is refused.
mod snapshot;

pub use ledger::log::kafka::test_bootstrap as kafka_bootstrap;

/// Held by the tests that run a Kafka cluster of their own: two at once would starve the
/// machine's cores and memory.
pub(crate) static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
