//! `locker`: a thin binary over the service (`api`) and its client (`client`). Each command
//! is one function in its module; `main` turns its result into the exit code.

mod admin;
mod args;
mod audit;
mod issue;
mod requester;
mod serve;
mod verify;

use std::path::Path;

use clap::Parser;

use crate::args::{AuditCommand, Cli, Command, KeysCommand};

/// jemalloc rather than glibc's malloc: with tokio's and rayon's threads each taking a glibc
/// arena, a bulk load's peak memory was 15% higher (`bulk-load 300000 0`: 461-490 MiB against
/// 391-400) and its allocations cost more. The workspace builds it unprefixed, so RocksDB's
/// allocations are jemalloc's too (`bulk-load 1500000 1000`: 464 MiB at peak against 565-650).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Errors are said in one line (with their causes), never as a backtrace: they are for the
/// person at the terminal.
#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // Said already (a verdict on stdout): only the code is left to give.
        Err(e) if e.downcast_ref::<Exit>().is_some() => {
            e.downcast_ref::<Exit>().map_or(std::process::ExitCode::FAILURE, |exit| exit.0.into())
        }
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A command's verdict that is not success (an audit that failed, rows refused), already
/// printed: `main` turns it into the exit code, so nothing calls `process::exit` from async
/// code (which would skip every destructor, and the stores' with them).
#[derive(Debug)]
struct Exit(u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit code {}", self.0)
    }
}

impl std::error::Error for Exit {}

async fn run() -> anyhow::Result<()> {
    init_tracing();
    match Cli::parse().command {
        Command::Keys { command: KeysCommand::Generate { out } } => generate_key(&out),
        Command::Issue(cli) => issue::run(*cli).await,
        Command::Issuer(args) => issue::issuer(*args).await,
        Command::Admin(args) => admin::run(*args).await,
        Command::Requester(args) => requester::run(*args).await,
        Command::Audit { command: AuditCommand::Verify(args) } => audit::verify(args).await,
        Command::Monitor(args) => verify::monitor(args).await,
        Command::VerifyBundle(args) => verify::bundle(args).await,
        Command::UidaiReference(args) => serve::uidai_reference(args).await,
        Command::Serve(args) => serve::serve(args).await,
    }
}

/// Logs go to stderr: as text (colours only for a terminal), or as JSON lines with
/// `LOCKER_LOG_FORMAT=json`.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // LOCKER_LOG_FORMAT=json: one JSON object per line, for log collectors.
    if std::env::var("LOCKER_LOG_FORMAT").as_deref() == Ok("json") {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            // Colours only for a terminal; a log file or a pipe gets plain text.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}

/// `locker keys generate`: a new signing key in a file (mode 0600), its public key and id.
fn generate_key(out: &Path) -> anyhow::Result<()> {
    let mut bytes = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    let key = ed25519_dalek::SigningKey::from_bytes(&bytes);
    ledger::keyfile::write_new(out, &key)?;
    let public: String = schemas::to_hex(&key.verifying_key().to_bytes());
    println!("secret key: {} (keep it safe)", out.display());
    println!("public key: {public}");
    println!("key id:     {}", ledger::crypto::key_id_of(&key.verifying_key()));
    Ok(())
}

pub(crate) fn parsed<T>(what: &str, result: Result<T, schemas::SchemaError>) -> anyhow::Result<T> {
    result.map_err(|e| anyhow::anyhow!("--{what}: {e}"))
}

pub(crate) fn now() -> schemas::TimestampMs {
    ledger::clock::Clock::now(&ledger::clock::SystemClock)
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    what: &str,
    text: &str,
) -> anyhow::Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| anyhow::anyhow!("--{what} {text:?}: {e}"))
}
