//! `locker audit verify`: the auditor's replay (`ledger::audit`) of a deployment's log, from
//! its data folder (the embedded log; stop the service first, it holds the store's lock) or
//! from Kafka, trusting only the platform key. Writes a human summary and a JSON report.

use std::path::PathBuf;
use std::sync::Arc;

use ledger::audit::{AuditOptions, AuditReport};
use ledger::{EmbeddedLog, KafkaLog, KafkaSettings, LedgerConfig, Log};
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct AuditArgs {
    pub data: PathBuf,
    pub kafka: Option<String>,
    pub topic_prefix: String,
    /// The ledger's (platform's) public key in hex; by default read from `DATA/platform.key`.
    pub ledger_key: Option<String>,
}

#[derive(Serialize)]
struct FailureDto<'a> {
    topic: &'a str,
    partition: u32,
    offset: u64,
    reason: &'a str,
}

#[derive(Serialize)]
struct RootDto {
    topic: String,
    partition: u32,
    size: u64,
    root: String,
}

#[derive(Serialize)]
struct ReportDto<'a> {
    ok: bool,
    records: u64,
    signatures_verified: u64,
    checkpoints_verified: u64,
    roots: Vec<RootDto>,
    first_failure: Option<FailureDto<'a>>,
}

/// The report as JSON.
pub fn report_json(report: &AuditReport) -> String {
    let dto = ReportDto {
        ok: report.failure.is_none(),
        records: report.records,
        signatures_verified: report.signatures_verified,
        checkpoints_verified: report.checkpoints_verified,
        roots: report
            .roots
            .iter()
            .map(|r| RootDto {
                topic: r.topic.clone(),
                partition: r.partition,
                size: r.size,
                root: r.root.to_hex(),
            })
            .collect(),
        first_failure: report.failure.as_ref().map(|f| FailureDto {
            topic: &f.topic,
            partition: f.partition,
            offset: f.offset,
            reason: &f.reason,
        }),
    };
    serde_json::to_string_pretty(&dto).unwrap_or_else(|e| unreachable!("a report serialises: {e}"))
}

/// The ledger key an auditor trusts: given in hex, or read from `DATA/platform.key`.
pub fn trusted_ledger_key(
    data: &std::path::Path,
    hex_text: Option<&str>,
) -> Result<ed25519_dalek::VerifyingKey, String> {
    match hex_text {
        Some(hex_text) => {
            let entry = crate::admin::public_key(hex_text)?;
            ed25519_dalek::VerifyingKey::from_bytes(entry.public_key.as_bytes())
                .map_err(|e| format!("--ledger-key: {e}"))
        }
        None => {
            let path = data.join("platform.key");
            crate::keyfile::read(&path)
                .map(|key| key.verifying_key())
                .map_err(|e| format!("{}: {e} (or give --ledger-key)", path.display()))
        }
    }
}

fn ledger_key(args: &AuditArgs) -> Result<ed25519_dalek::VerifyingKey, String> {
    trusted_ledger_key(&args.data, args.ledger_key.as_deref())
}

async fn run<L: Log>(
    log: &L,
    config: &LedgerConfig,
    options: &AuditOptions,
    progress: impl FnMut(u64),
) -> Result<AuditReport, String> {
    ledger::audit::audit(log, config, options, progress).await.map_err(|e| e.to_string())
}

/// Replays and checks the log; `progress` gets the records replayed so far.
pub async fn verify(args: &AuditArgs, progress: impl FnMut(u64)) -> Result<AuditReport, String> {
    let key = ledger_key(args)?;
    let mut config = LedgerConfig::new(vec![ledger::crypto::public_key_entry(&key)]);
    config.directory_topic = format!("{}.directory", args.topic_prefix);
    config.citizen_topic = format!("{}.events", args.topic_prefix);
    let options = AuditOptions {
        checkpoint_topic: Some(format!("{}.checkpoints", args.topic_prefix)),
        ledger_key: Some(key),
    };
    match &args.kafka {
        Some(brokers) => {
            let scratch = tempfile_dir()?;
            let settings = KafkaSettings::single_broker(brokers, scratch.join("kafka-index"));
            let log = KafkaLog::open(settings).await.map_err(|e| format!("Kafka: {e}"))?;
            // The client learns topics by opening them: each is checked to exist with the
            // deployment's partitions (an absent checkpoint topic is created empty).
            let topics = [
                (config.directory_topic.clone(), 1),
                (config.citizen_topic.clone(), config.citizen_partitions),
                (format!("{}.checkpoints", args.topic_prefix), 1),
            ];
            for (topic, partitions) in topics {
                log.create_topic(&topic, partitions)
                    .await
                    .map_err(|e| format!("Kafka topic {topic}: {e}"))?;
            }
            let report = run(&log, &config, &options, progress).await;
            let _ = std::fs::remove_dir_all(&scratch);
            report
        }
        None => {
            let path = args.data.join("log");
            if !path.exists() {
                return Err(format!("{} holds no log", args.data.display()));
            }
            let log = Arc::new(EmbeddedLog::open(&path).map_err(|e| {
                format!("open {}: {e} (is `locker serve` still running on it?)", path.display())
            })?);
            run(log.as_ref(), &config, &options, progress).await
        }
    }
}

/// A private scratch folder for the Kafka client's id index (the audit writes nothing).
fn tempfile_dir() -> Result<PathBuf, String> {
    let mut bytes = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    let dir = std::env::temp_dir().join(format!("locker-audit-{}", u64::from_le_bytes(bytes)));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}
