//! `locker audit verify`: the auditor's replay (`ledger::audit`) of a deployment's log, from
//! its data folder (the embedded log; stop the service first, it holds the store's lock) or
//! from Kafka, trusting only the platform key. Writes a human summary and a JSON report.
//!
//! Then the views: the live ones in `DATA/views` (opened read-only) are compared with views
//! rebuilt from the same log into a scratch store, up to exactly the positions the live ones
//! reached, by their digest. Views are derived state; this proves they were derived honestly.
//!
//! `--resume-from` takes an earlier report: its roots are the trusted checkpoints after which
//! the replay checks signatures again (see `ledger::audit::AuditOptions::trusted`).

use std::path::PathBuf;
use std::sync::Arc;

use ledger::audit::{AuditOptions, AuditReport, PartitionRoot};
use ledger::{EmbeddedLog, KafkaLog, KafkaSettings, LedgerConfig, Log};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone)]
pub struct AuditArgs {
    pub data: PathBuf,
    pub kafka: Option<String>,
    pub topic_prefix: String,
    /// The ledger's (platform's) public key in hex; by default read from `DATA/platform.key`.
    pub ledger_key: Option<String>,
    /// An earlier report whose roots to trust.
    pub resume_from: Option<PathBuf>,
    /// Compare `DATA/views` with a rebuild (when the folder has views).
    pub views: bool,
}

/// How the live views compared with a rebuild from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewsCheck {
    NotCompared(String),
    Compared {
        live: schemas::Digest32,
        rebuilt: schemas::Digest32,
        /// Records the rebuild applied.
        records: u64,
        /// The view families whose digests differ (none when they match).
        differing: Vec<String>,
    },
}

impl ViewsCheck {
    pub fn matches(&self) -> bool {
        match self {
            ViewsCheck::NotCompared(_) => true,
            ViewsCheck::Compared { live, rebuilt, .. } => live == rebuilt,
        }
    }
}

/// The whole verdict: the replay, then the views.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub report: AuditReport,
    pub views: ViewsCheck,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.report.failure.is_none() && self.views.matches()
    }
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
struct ViewsDto {
    compared: bool,
    matches: bool,
    live_digest: Option<String>,
    rebuilt_digest: Option<String>,
    records_applied: u64,
    note: Option<String>,
}

#[derive(Serialize)]
struct ReportDto<'a> {
    ok: bool,
    records: u64,
    trusted_records: u64,
    signatures_verified: u64,
    checkpoints_verified: u64,
    roots: Vec<RootDto>,
    first_failure: Option<FailureDto<'a>>,
    views: ViewsDto,
}

/// The roots of an earlier report, to resume after.
#[derive(Deserialize)]
struct EarlierReport {
    ok: bool,
    roots: Vec<EarlierRoot>,
}

#[derive(Deserialize)]
struct EarlierRoot {
    topic: String,
    partition: u32,
    size: u64,
    root: String,
}

fn trusted_roots(path: &std::path::Path) -> Result<Vec<PartitionRoot>, String> {
    let at = |e: String| format!("--resume-from {}: {e}", path.display());
    let bytes = std::fs::read(path).map_err(|e| at(e.to_string()))?;
    let earlier: EarlierReport =
        serde_json::from_slice(&bytes).map_err(|e| at(format!("not an audit report: {e}")))?;
    if !earlier.ok {
        return Err(at("that audit failed; it establishes nothing to resume from".to_owned()));
    }
    earlier
        .roots
        .into_iter()
        .map(|r| {
            Ok(PartitionRoot {
                root: schemas::Digest32::from_hex(&r.root).map_err(|_| {
                    at(format!("root of {}/{} is not 64 hex digits", r.topic, r.partition))
                })?,
                topic: r.topic,
                partition: r.partition,
                size: r.size,
            })
        })
        .collect()
}

/// The verdict as JSON.
pub fn report_json(verdict: &Verdict) -> String {
    let report = &verdict.report;
    let views = match &verdict.views {
        ViewsCheck::NotCompared(note) => ViewsDto {
            compared: false,
            matches: true,
            live_digest: None,
            rebuilt_digest: None,
            records_applied: 0,
            note: Some(note.clone()),
        },
        ViewsCheck::Compared { live, rebuilt, records, differing } => ViewsDto {
            compared: true,
            matches: live == rebuilt,
            live_digest: Some(live.to_hex()),
            rebuilt_digest: Some(rebuilt.to_hex()),
            records_applied: *records,
            note: (!differing.is_empty()).then(|| format!("differing: {}", differing.join(", "))),
        },
    };
    let dto = ReportDto {
        ok: verdict.ok(),
        views,
        trusted_records: report.trusted_records,
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

fn ledger_key(args: &AuditArgs) -> Result<ed25519_dalek::VerifyingKey, String> {
    client::trust::trusted_ledger_key(&args.data, args.ledger_key.as_deref())
}

async fn run<L: Log>(
    log: Arc<L>,
    config: &LedgerConfig,
    options: &AuditOptions,
    args: &AuditArgs,
    progress: impl FnMut(u64, u64),
) -> Result<Verdict, String> {
    let report = ledger::audit::audit(log.as_ref(), config, options, progress)
        .await
        .map_err(|e| e.to_string())?;
    let views = if report.failure.is_some() {
        ViewsCheck::NotCompared("the log did not check out".to_owned())
    } else if !args.views {
        ViewsCheck::NotCompared("not asked to".to_owned())
    } else {
        compare_views(log, config, &args.data).await?
    };
    Ok(Verdict { report, views })
}

/// Rebuilds the views from the log into a scratch store, up to where the live views stopped,
/// and compares the two digests.
async fn compare_views<L: Log>(
    log: Arc<L>,
    config: &LedgerConfig,
    data: &std::path::Path,
) -> Result<ViewsCheck, String> {
    let path = data.join("views");
    if !path.exists() {
        return Ok(ViewsCheck::NotCompared(format!("{} holds no views", data.display())));
    }
    let live = projections::Views::open_read_only(&path)
        .map_err(|e| format!("open {} read-only: {e}", path.display()))?;
    if let Some(halt) = live.halts().map_err(|e| e.to_string())?.first() {
        return Ok(ViewsCheck::NotCompared(format!(
            "the live views halted at {}/{} offset {}: {}",
            halt.topic, halt.partition, halt.offset, halt.reason
        )));
    }
    let mut ends = Vec::new();
    for topic in [&config.directory_topic, &config.citizen_topic] {
        for partition in 0..log.partitions(topic).map_err(|e| e.to_string())? {
            let end = live.position(topic, partition).map_err(|e| e.to_string())?;
            ends.push((topic.clone(), partition, end));
        }
    }
    let keys: Arc<dyn projections::SealKeys> =
        match crate::store::vault::Vault::open_read_only(data.join("vault")) {
            Ok(vault) => Arc::new(vault),
            Err(_) => Arc::new(projections::NoKeys),
        };
    let scratch = tempfile_dir()?;
    let result = async {
        let (views, _) = projections::Views::open(scratch.join("views"))
            .map_err(|e| format!("scratch views: {e}"))?;
        let projector = projections::Projector::new(log, Arc::new(views), keys, config);
        let records = projector.catch_up_to(&ends).await.map_err(|e| format!("rebuild: {e}"))?;
        let rebuilt = projector.views().family_digests().map_err(|e| e.to_string())?;
        let live = live.family_digests().map_err(|e| e.to_string())?;
        let differing = live
            .iter()
            .zip(&rebuilt)
            .filter(|(a, b)| a != b)
            .map(|((name, _), _)| (*name).to_owned())
            .collect();
        let xor = |digests: &[(&str, schemas::Digest32)]| {
            let mut acc = [0u8; 32];
            for (_, digest) in digests {
                for (a, b) in acc.iter_mut().zip(digest.0) {
                    *a ^= b;
                }
            }
            schemas::Digest32(acc)
        };
        Ok(ViewsCheck::Compared { live: xor(&live), rebuilt: xor(&rebuilt), records, differing })
    }
    .await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// Replays and checks the log, then the views; `progress` gets the records replayed so far
/// and how many the log held when the replay began.
pub async fn verify(args: &AuditArgs, progress: impl FnMut(u64, u64)) -> Result<Verdict, String> {
    let key = ledger_key(args)?;
    let mut config = LedgerConfig::new(vec![ledger::crypto::public_key_entry(&key)]);
    let topics = crate::app::topics::Topics::new(&args.topic_prefix).map_err(|e| e.to_string())?;
    config.directory_topic = topics.directory.clone();
    config.citizen_topic = topics.events.clone();
    let options = AuditOptions {
        checkpoint_topic: Some(topics.checkpoints.clone()),
        ledger_key: Some(key),
        trusted: match &args.resume_from {
            Some(path) => trusted_roots(path)?,
            None => Vec::new(),
        },
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
                (topics.checkpoints.clone(), 1),
            ];
            for (topic, partitions) in topics {
                log.create_topic(&topic, partitions)
                    .await
                    .map_err(|e| format!("Kafka topic {topic}: {e}"))?;
            }
            let verdict = run(Arc::new(log), &config, &options, args, progress).await;
            let _ = std::fs::remove_dir_all(&scratch);
            verdict
        }
        None => {
            let path = args.data.join("log");
            if !path.exists() {
                return Err(format!("{} holds no log", args.data.display()));
            }
            let log = Arc::new(EmbeddedLog::open(&path).map_err(|e| {
                format!("open {}: {e} (is `locker serve` still running on it?)", path.display())
            })?);
            run(log, &config, &options, args, progress).await
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
