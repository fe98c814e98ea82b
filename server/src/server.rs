//! `locker serve`: opens the log (embedded by default, Kafka with one setting), the key vault
//! and the views; keeps the views following the log; serves `app`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ledger::{EmbeddedLog, KafkaLog, KafkaSettings, Ledger, LedgerConfig, Log};
use projections::{Projector, Views};
use rand_core::{OsRng, RngCore};

use crate::store::vault::Vault;
use crate::{AppState, Services, router};

/// Why the service could not start (or stopped): the step, and what went wrong in it.
#[derive(Debug, thiserror::Error)]
#[error("cannot {step}: {source}")]
pub struct ServeError {
    pub step: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// A message standing in for an error type (the OTP sender and the inbox report text).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Reason(String);

/// Names the start-up step a failure belongs to.
trait Step<T> {
    fn step(self, step: impl Into<String>) -> Result<T, ServeError>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Step<T> for Result<T, E> {
    fn step(self, step: impl Into<String>) -> Result<T, ServeError> {
        self.map_err(|e| ServeError { step: step.into(), source: Box::new(e) })
    }
}

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data: PathBuf,
    pub listen: SocketAddr,
    /// Kafka brokers; `None` runs on the embedded log in `data`.
    pub kafka: Option<String>,
    /// Copies Kafka keeps of each topic the service creates (3 in production).
    pub kafka_replicas: u16,
    /// Join the cluster of nodes on these topics, reachable by the others at this URL
    /// (`http://host:port`); needs `kafka` and a shared `platform_key`.
    pub cluster_address: Option<String>,
    /// The platform's signing key file; `None`: `platform.key` in `data`, created on first start.
    pub platform_key: Option<PathBuf>,
    pub demo: bool,
    /// Where one-time passwords are POSTed; without it they go to the server log.
    pub otp_gateway: Option<String>,
    /// Topics are `<prefix>.directory` and `<prefix>.events`: several deployments (or test
    /// runs) can share one Kafka cluster.
    pub topic_prefix: String,
    /// The Aadhaar authority; without it Aadhaar linking is unavailable (the demo starts a
    /// reference authority of its own).
    pub kyc: Option<KycSettings>,
    /// Where document bytes go; `None`: the folder `files` in `data`.
    pub blob_store: Option<crate::store::blobs::BlobSettings>,
    /// Pulls each locker may make an hour (`limits::PULLS_PER_HOUR` by default).
    pub pulls_per_hour: u64,
    /// Call issuers' pull endpoints on loopback and private addresses too (the demo does).
    pub allow_private_pull_endpoints: bool,
    /// The address citizens reach the service at (`https://locker.example`), which QR codes
    /// open; none: the address each request came to (its `Host`).
    pub public_url: Option<String>,
}

/// Where the Aadhaar authority is and how the service knows it.
#[derive(Debug, Clone)]
pub struct KycSettings {
    /// Its base URL (http://host:port).
    pub provider: String,
    /// Its Ed25519 public key, hex: the only thing its answers are trusted through.
    pub authority_key: String,
    /// `CODE:LICENCE`, as the authority issued them to the platform.
    pub aua: String,
}

/// The Aadhaar authority the service talks to (if any).
type Provider = Option<Arc<dyn crate::app::kyc::KycProvider>>;

/// The Aadhaar authority the service talks to, and a reference one it started for the demo.
fn kyc_provider(
    config: &ServeConfig,
) -> Result<(Provider, Option<crate::http::uidai::Started>), ServeError> {
    let clock: Arc<dyn ledger::clock::Clock> = Arc::new(ledger::clock::SystemClock);
    let (settings, started) = match (&config.kyc, config.demo) {
        (Some(settings), _) => (settings.clone(), None),
        (None, true) => {
            // Only the `locker` binary can start it; a service embedded in another program
            // (a benchmark) goes on without Aadhaar linking.
            let started = match crate::http::uidai::start_demo_authority(
                &config.data,
                config.otp_gateway.as_deref(),
            ) {
                Ok(started) => started,
                Err(e) => {
                    tracing::warn!(error = %e, "no demo Aadhaar authority: Aadhaar linking is unavailable");
                    return Ok((None, None));
                }
            };
            say(format_args!(
                "locker: demo Aadhaar authority at {} (its one-time passwords go to its log)",
                started.url
            ));
            let settings = KycSettings {
                provider: started.url.clone(),
                authority_key: started.public_key.clone(),
                aua: started.aua.clone(),
            };
            (settings, Some(started))
        }
        (None, false) => {
            tracing::warn!("no --kyc-provider: Aadhaar linking is unavailable");
            return Ok((None, None));
        }
    };
    let provider = crate::app::kyc::HttpKyc::new(
        &settings.provider,
        &settings.authority_key,
        &settings.aua,
        clock,
    )
    .map_err(Reason)
    .step("use --kyc-provider")?;
    Ok((Some(Arc::new(provider)), started))
}

/// The platform's signing key: the file given (every node of a cluster signs with the same),
/// or one created on first start (mode 0600) and kept in the data folder.
fn platform_key(config: &ServeConfig) -> Result<SigningKey, ServeError> {
    if let Some(path) = &config.platform_key {
        return ledger::keyfile::read(path)
            .step(format!("read the platform key {}", path.display()));
    }
    let data = &config.data;
    let path = data.join("platform.key");
    if path.exists() {
        return ledger::keyfile::read(&path).step("read the platform key");
    }
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let key = SigningKey::from_bytes(&bytes);
    ledger::keyfile::write_new(&path, &key).step("write the platform key")?;
    Ok(key)
}

/// Prints a start-up line. A closed stdout (a supervisor that stopped reading) must not take
/// the service down, so write errors are ignored.
fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// Runs the service until `shutdown` resolves.
pub async fn serve(
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    std::fs::create_dir_all(&config.data).step(format!("create {}", config.data.display()))?;
    match &config.kafka {
        Some(brokers) => {
            let topics =
                crate::app::topics::Topics::new(&config.topic_prefix).step("use --topic-prefix")?;
            let mut settings =
                KafkaSettings::single_broker(brokers, config.data.join("kafka-index"));
            settings.replication_factor = i32::from(config.kafka_replicas);
            // An append is acknowledged once a majority of the copies holds it.
            settings.min_insync_replicas = i32::from(config.kafka_replicas / 2 + 1);
            if config.cluster_address.is_some() {
                settings.owned_topics = vec![topics.events.clone(), topics.directory.clone()];
                // The end-to-end test's way to pause a node mid-append: debug builds only.
                #[cfg(debug_assertions)]
                {
                    settings.hold_before_commit =
                        std::env::var_os("LOCKER_FAULT_HOLD_COMMIT").map(PathBuf::from);
                }
            }
            let log = Arc::new(KafkaLog::open(settings).await.step("connect to Kafka")?);
            let joining = match &config.cluster_address {
                Some(address) => {
                    Some(Joining::new(&log, brokers, &topics, address, &config.topic_prefix)?)
                }
                None => None,
            };
            run(log, &config, joining, shutdown).await
        }
        None => {
            if config.cluster_address.is_some() {
                return Err(Reason("a cluster runs on Kafka: add --kafka".to_owned()))
                    .step("join the cluster");
            }
            let log = EmbeddedLog::open(config.data.join("log")).step("open the embedded log")?;
            run(Arc::new(log), &config, None, shutdown).await
        }
    }
}

/// How a node joins its cluster, once its topics exist.
struct Joining {
    claims: Arc<dyn crate::app::cluster::Claims>,
    brokers: String,
    group: String,
    topics: Vec<String>,
    address: String,
}

impl Joining {
    fn new(
        log: &Arc<KafkaLog>,
        brokers: &str,
        topics: &crate::app::topics::Topics,
        address: &str,
        prefix: &str,
    ) -> Result<Self, ServeError> {
        client::http::JsonClient::parse_url(address).step("use --cluster-address")?;
        Ok(Joining {
            claims: Arc::clone(log) as Arc<dyn crate::app::cluster::Claims>,
            brokers: brokers.to_owned(),
            group: format!("{prefix}.owners"),
            topics: vec![topics.events.clone(), topics.directory.clone()],
            address: address.trim_end_matches('/').to_owned(),
        })
    }

    fn join(self) -> Result<Joined, ServeError> {
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        let (membership, changes) = ledger::log::group::Membership::join(
            &self.brokers,
            &self.group,
            &topics,
            &self.address,
        )
        .step("join the cluster")?;
        say(format_args!("locker: joined the cluster {} as {}", self.group, self.address));
        Ok((crate::app::cluster::Cluster::new(self.address, self.claims, membership), changes))
    }
}

/// A node in its cluster, and the group's changes of what it owns.
type Joined = (
    Arc<crate::app::cluster::Cluster>,
    tokio::sync::mpsc::UnboundedReceiver<ledger::log::group::Change>,
);

async fn run<L: Log>(
    log: Arc<L>,
    config: &ServeConfig,
    joining: Option<Joining>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    if joining.is_some() && config.demo {
        return Err(Reason("--demo runs on one node (it seeds before owning anything)".to_owned()))
            .step("join the cluster");
    }
    let platform = platform_key(config)?;
    let topics =
        crate::app::topics::Topics::new(&config.topic_prefix).step("use --topic-prefix")?;
    let mut ledger_config =
        LedgerConfig::new(vec![ledger::crypto::public_key_entry(&platform.verifying_key())]);
    ledger_config.directory_topic = topics.directory.clone();
    ledger_config.citizen_topic = topics.events.clone();
    let stores = open_stores(&log, config, &ledger_config, platform).await?;
    let cluster = match joining {
        Some(joining) => {
            stores.ledger.follow_others();
            Some(joining.join()?)
        }
        None => None,
    };
    let owners: Arc<dyn crate::app::cluster::Owners> = match &cluster {
        Some((node, _)) => Arc::clone(node) as _,
        None => Arc::new(crate::app::cluster::Alone),
    };
    if config.demo {
        seed_demo(config, &stores).await?;
    }
    let _demo_box = if config.demo { demo_pull(config, &stores).await } else { None };
    let (kyc, _demo_authority) = kyc_provider(config)?;
    let projector = open_views(&log, config, &stores, &ledger_config).await?;
    let partitions = Arc::new(RwLock::new(projector.status().await.unwrap_or_default()));
    let tail = stores.ledger.tail();
    let proofs =
        open_proofs(&log, config, &ledger_config, &topics, &stores.platform, &owners, tail).await?;
    let ledger = Arc::clone(&stores.ledger);
    let built = (stores, kyc, &projector, &partitions, &proofs);
    let state = build_state(config, &ledger_config, built, owners)?;
    let mut jobs =
        spawn_jobs(&log, config, &topics, &state, &projector, partitions, &proofs).await?;
    if let Some(joined) = cluster {
        spawn_cluster_jobs(&mut jobs, joined, ledger);
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .step(format!("listen on {}", config.listen))?;
    let address = listener.local_addr().step("read the listening address")?;
    announce(config, address);
    crate::http::serve::serve_until(listener, router(state), shutdown).await.step("serve HTTP")?;
    let left = jobs.stop(crate::limits::SHUTDOWN_JOBS_MS).await;
    if left > 0 {
        tracing::warn!(jobs = left, "jobs still running at shutdown were aborted");
    }
    say(format_args!("locker: stopped"));
    Ok(())
}

/// The stores above the log: the ledger (its registry replayed), the key vault, the accounts,
/// the file store.
struct Stores<L: Log> {
    platform: SigningKey,
    ledger: Arc<Ledger<L>>,
    vault: Arc<Vault>,
    accounts: Arc<crate::store::accounts::Accounts>,
    files: Arc<crate::store::files::Files>,
    snapshots: Arc<crate::store::snapshots::Snapshots>,
    /// The newest snapshot that checked out at start, if any.
    latest: Option<crate::store::snapshots::Manifest>,
}

/// Where snapshots are kept: in the bucket when document bytes are in one (every node reaches
/// it), else in the data folder's `snapshots`.
fn open_snapshots(
    config: &ServeConfig,
    files: &crate::store::files::Files,
    platform: &SigningKey,
) -> Result<crate::store::snapshots::Snapshots, ServeError> {
    use crate::store::blobs::{BlobSettings, Blobs};
    let blobs = match &config.blob_store {
        Some(BlobSettings::S3(_)) => files.blobs().clone(),
        _ => Blobs::open(&BlobSettings::Local(config.data.join("snapshots")))
            .step("open the snapshot folder")?,
    };
    let scratch = config.data.join("scratch");
    // What a crash left mid-snapshot belongs to nothing.
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(crate::store::snapshots::Snapshots::for_platform(blobs, platform, scratch))
}

/// The ledger, its key registry from the latest snapshot and the log after it (or the whole
/// log, when there is no snapshot or it does not check out).
async fn open_ledger<L: Log>(
    log: &Arc<L>,
    ledger_config: &LedgerConfig,
    snapshots: &crate::store::snapshots::Snapshots,
    latest: Option<&crate::store::snapshots::Manifest>,
) -> Result<Ledger<L>, ServeError> {
    let registry = match latest {
        Some(manifest) => crate::app::snapshot::registry_of(snapshots, manifest).await,
        None => None,
    };
    let started = std::time::Instant::now();
    let (ledger, start) =
        Ledger::open_from(Arc::clone(log), ledger_config.clone(), registry.as_deref())
            .await
            .step("open the ledger")?;
    let ms = started.elapsed().as_millis();
    match start {
        ledger::Start::Snapshot { replayed } => say(format_args!(
            "locker: key registry from snapshot {} and {replayed} records after it ({ms} ms)",
            latest.map_or("?", |m| m.id.as_str())
        )),
        ledger::Start::Replayed { replayed } => say(format_args!(
            "locker: key registry from the whole log: {replayed} records ({ms} ms)"
        )),
        ledger::Start::Refused { reason, replayed } => {
            tracing::warn!(%reason, "the registry snapshot is refused; replayed the log instead");
            say(format_args!(
                "locker: registry snapshot refused ({reason}); replayed the whole log instead: {replayed} records ({ms} ms)"
            ));
        }
    }
    Ok(ledger)
}

async fn open_stores<L: Log>(
    log: &Arc<L>,
    config: &ServeConfig,
    ledger_config: &LedgerConfig,
    platform: SigningKey,
) -> Result<Stores<L>, ServeError> {
    let files = Arc::new(open_files(config).step("open the file store")?);
    let snapshots = Arc::new(open_snapshots(config, &files, &platform)?);
    let latest = crate::app::snapshot::latest(&snapshots).await;
    let ledger = Arc::new(open_ledger(log, ledger_config, &snapshots, latest.as_ref()).await?);
    let vault = Arc::new(open_vault(config, &platform)?);
    let mut seed = [0u8; 32];
    OsRng.fill_bytes(&mut seed);
    let mut accounts = crate::store::accounts::Accounts::open(config.data.join("accounts"), seed)
        .step("open the accounts")?;
    if let (Some(_), Some(settings)) = (&config.cluster_address, &config.blob_store) {
        // Sessions valid on every node, and usernames unique across the cluster.
        let shared = crate::store::records::SharedRecords::open(settings, &platform)
            .map_err(Reason)
            .step("open the shared accounts")?;
        accounts = accounts.with_shared(shared);
    }
    let accounts = Arc::new(accounts);
    Ok(Stores { platform, ledger, vault, accounts, files, snapshots, latest })
}

/// The key vault: this node's, and in a cluster also the bucket's, where every node finds the
/// keys any node created.
fn open_vault(config: &ServeConfig, platform: &SigningKey) -> Result<Vault, ServeError> {
    use crate::store::blobs::BlobSettings;
    let vault = Vault::open(config.data.join("vault")).step("open the key vault")?;
    if config.cluster_address.is_none() {
        return Ok(vault);
    }
    let Some(settings @ BlobSettings::S3(_)) = &config.blob_store else {
        return Err(Reason(
            "a cluster keeps its files and keys in a bucket every node reaches: add --blob-store s3://..."
                .to_owned(),
        ))
        .step("join the cluster");
    };
    let shared = crate::store::shared_keys::SharedKeys::open(settings, platform)
        .map_err(Reason)
        .step("open the shared key vault")?;
    Ok(vault.with_shared(shared))
}

/// The document bytes' store: a folder (the data folder's `files` unless another is set), or a
/// bucket, with uploads received in the data folder's `spool`.
fn open_files(
    config: &ServeConfig,
) -> Result<crate::store::files::Files, crate::store::files::FileError> {
    use crate::store::blobs::{BlobSettings, Blobs};
    use crate::store::files::Files;
    let files = match &config.blob_store {
        None => Files::open_folder(config.data.join("files"))?,
        Some(BlobSettings::Local(dir)) => Files::open_folder(dir)?,
        Some(settings) => Files::open(Blobs::open(settings)?, config.data.join("spool"))?,
    };
    say(format_args!("locker: document bytes in the {}", files.blobs().describe()));
    Ok(files)
}

/// The demo exam board's pull endpoint (`locker issuer serve`, its own process) and its
/// declaration; without it (the binary is not `locker`, as in some tests) pulls are not offered.
async fn demo_pull<L: Log>(
    config: &ServeConfig,
    stores: &Stores<L>,
) -> Option<crate::http::pullbox::Started> {
    let platform_key = stores.platform.verifying_key();
    let started = match crate::http::pullbox::start_demo_box(&config.data, &platform_key) {
        Ok(started) => started,
        Err(e) => {
            tracing::warn!(error = %e, "no demo pull endpoint: the exam board offers no pulls");
            return None;
        }
    };
    let keys = config.data.join("demo-keys");
    let now = ledger::clock::Clock::now(&ledger::clock::SystemClock);
    if let Err(e) = crate::app::demo::declare_pull(&stores.ledger, &keys, &started.url, now).await {
        tracing::warn!(error = %e, "the demo exam board's pull could not be declared");
        return None;
    }
    say(format_args!("locker: demo exam board answers pulls at {}", started.url));
    Some(started)
}

/// The demo's directory, citizen, account and documents (idempotent).
async fn seed_demo<L: Log>(config: &ServeConfig, stores: &Stores<L>) -> Result<(), ServeError> {
    let Stores { platform, ledger, vault, accounts, files, .. } = stores;
    let summary =
        crate::app::demo::seed(ledger, platform, vault, Some(&config.data.join("demo-keys")))
            .await
            .step("seed the demo")?;
    accounts
        .ensure_user(
            &summary.citizen_username,
            summary.citizen_locker,
            crate::app::demo::DEMO_PASSWORD,
        )
        .map_err(|e| Reason(format!("{e:?}")))
        .step("create the demo account")?;
    for pdf in &summary.contents {
        files.put(pdf).await.step("store the demo documents")?;
    }
    say(format_args!(
        "locker: demo data ready ({} events added, {} already present). Demo citizen: username {}, password {}, mobile {}, locker {}",
        summary.appended,
        summary.already_present,
        summary.citizen_username,
        crate::app::demo::DEMO_PASSWORD,
        summary.citizen_mobile,
        summary.citizen_locker
    ));
    Ok(())
}

/// A node without views (new, or its disk lost) takes them from the latest snapshot; a
/// snapshot that does not check out is reported, and the views rebuild from the log.
async fn restore_views<L: Log>(
    log: &Arc<L>,
    stores: &Stores<L>,
    manifest: &crate::store::snapshots::Manifest,
    ledger_config: &LedgerConfig,
    path: &Path,
) {
    let started = std::time::Instant::now();
    let restored = crate::app::snapshot::restore_views(
        &stores.snapshots,
        manifest,
        log.as_ref(),
        ledger_config,
        path,
    )
    .await;
    let ms = started.elapsed().as_millis();
    match restored {
        Ok(()) => say(format_args!(
            "locker: views restored from snapshot {} ({} bytes stored) in {ms} ms; replaying the log after it",
            manifest.id,
            manifest.stored_bytes()
        )),
        Err(e) => {
            tracing::warn!(error = %e, "the views snapshot is refused; rebuilding from the log");
            say(format_args!("locker: {e}; rebuilding the views from the log instead"));
        }
    }
}

/// The views, caught up with the log (a partition that cannot be is reported, not fatal).
async fn open_views<L: Log>(
    log: &Arc<L>,
    config: &ServeConfig,
    stores: &Stores<L>,
    ledger_config: &LedgerConfig,
) -> Result<Projector<L>, ServeError> {
    let path = config.data.join("views");
    if !path.exists()
        && let Some(manifest) = &stores.latest
    {
        restore_views(log, stores, manifest, ledger_config, &path).await;
    }
    let (views, opened) = Views::open(&path).step("open the views")?;
    if let projections::Opened::Wiped { found_version } = opened {
        tracing::warn!(
            found_version,
            "views were of another schema version; rebuilding from the log"
        );
    }
    let projector = Projector::new(
        Arc::clone(log),
        Arc::new(views),
        Arc::clone(&stores.vault) as Arc<dyn projections::SealKeys>,
        ledger_config,
    )
    .with_tail(stores.ledger.tail());
    if let Err(e) = projector.catch_up().await {
        tracing::error!(error = %e, "projection stopped; /healthz reports it");
    }
    Ok(projector)
}

/// The Merkle trees and the signed checkpoints of every partition.
async fn open_proofs<L: Log>(
    log: &Arc<L>,
    config: &ServeConfig,
    ledger_config: &LedgerConfig,
    topics: &crate::app::topics::Topics,
    platform: &SigningKey,
    owners: &Arc<dyn crate::app::cluster::Owners>,
    tail: Option<Arc<ledger::Tail>>,
) -> Result<Arc<crate::app::proofs::Transparency<L>>, ServeError> {
    Ok(Arc::new(
        crate::app::proofs::Transparency::open(
            Arc::clone(log),
            &config.data.join("merkle"),
            ledger_config,
            topics.checkpoints.clone(),
            platform.verifying_key(),
            ledger::merkle::CheckpointPolicy {
                every_records: ledger::limits::CHECKPOINT_EVERY_RECORDS,
                every_ms: ledger::limits::CHECKPOINT_EVERY_MS,
            },
            ledger::limits::CHECKPOINT_LOOK_MS,
        )
        .await
        .map_err(Reason)
        .step("open the Merkle trees and checkpoints")?
        .with_owners(Arc::clone(owners))
        .with_tail(tail),
    ))
}

/// The services the routes share, over the stores.
type Built<'a, L> = (
    Stores<L>,
    Provider,
    &'a Projector<L>,
    &'a Arc<RwLock<Vec<projections::PartitionStatus>>>,
    &'a Arc<crate::app::proofs::Transparency<L>>,
);

fn build_state<L: Log>(
    config: &ServeConfig,
    ledger_config: &LedgerConfig,
    (stores, kyc, projector, partitions, proofs): Built<'_, L>,
    owners: Arc<dyn crate::app::cluster::Owners>,
) -> Result<AppState, ServeError> {
    let otp: Arc<dyn crate::store::otp::OtpSender> = match &config.otp_gateway {
        Some(url) => Arc::new(
            crate::store::otp::HttpSender::new(url).map_err(Reason).step("use --otp-gateway")?,
        ),
        None => {
            tracing::warn!(
                "no --otp-gateway: one-time passwords are written to the server log (demo/development only)"
            );
            Arc::new(crate::store::otp::LogSender)
        }
    };
    let snapshotter = crate::app::snapshot::NodeSnapshots {
        snapshots: Arc::clone(&stores.snapshots),
        ledger: Arc::clone(&stores.ledger),
        views: Arc::clone(projector.views()),
        platform: stores.platform.clone(),
        clock: Arc::new(ledger::clock::SystemClock),
        taking: tokio::sync::Mutex::new(()),
    };
    let mut services = Services::new(crate::Core {
        views: Arc::clone(projector.views()),
        partitions: Arc::clone(partitions),
        appender: stores.ledger,
        vault: stores.vault,
        clock: Arc::new(ledger::clock::SystemClock),
        nonces: Arc::new(crate::Nonces::from_os()),
        accounts: stores.accounts,
        otp,
        kyc,
        platform: stores.platform,
        writes: Arc::new(
            crate::app::guard::WriteGuard::new(ledger_config.clone(), Arc::new(projector.clone()))
                .with_owners(Arc::clone(&owners)),
        ),
        files: stores.files,
        proofs: Arc::clone(proofs) as _,
    });
    services.snapshots = Some(Arc::new(snapshotter));
    services.cluster = owners;
    services.pull_quota = Arc::new(crate::store::quota::Quota::per_hour(config.pulls_per_hour));
    services.pull_private_endpoints = config.demo || config.allow_private_pull_endpoints;
    services.public_url = config.public_url.clone();
    let state = AppState::new(services);
    state.metrics.watch_projection(projector.sources());
    state.metrics.watch_trees(proofs.leaf_sources());
    Ok(state)
}

/// The background jobs, on one `JoinSet` with one stop signal.
async fn spawn_jobs<L: Log>(
    log: &Arc<L>,
    config: &ServeConfig,
    topics: &crate::app::topics::Topics,
    state: &AppState,
    projector: &Projector<L>,
    partitions: Arc<RwLock<Vec<projections::PartitionStatus>>>,
    proofs: &Arc<crate::app::proofs::Transparency<L>>,
) -> Result<crate::jobs::Jobs, ServeError> {
    let mut jobs = crate::jobs::Jobs::default();
    {
        let projector = projector.clone();
        let stopped = jobs.stop_signal();
        jobs.spawn("projection follower", async move {
            if let Err(e) = projector.follow(stopped).await {
                tracing::error!(error = %e, "projection follower stopped; /healthz reports it");
            }
        });
    }
    {
        let projector = projector.clone();
        jobs.spawn("health refresher", async move {
            loop {
                tokio::time::sleep(Duration::from_millis(crate::limits::HEALTH_REFRESH_MS)).await;
                match projector.status().await {
                    Ok(status) => {
                        if let Ok(mut slot) = partitions.write() {
                            *slot = status;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot read projection status"),
                }
            }
        });
    }
    {
        // A closing a crash interrupted is finished (or, never logged, forgotten) once.
        let state = state.clone();
        jobs.spawn("unfinished closings", async move {
            match crate::app::closing::finish_pending(&state).await {
                Ok(0) => {}
                Ok(finished) => tracing::info!(finished, "unfinished closings finished"),
                Err(e) => {
                    tracing::error!(code = e.code.code(), "unfinished closings: {}", e.message)
                }
            }
        });
    }
    jobs.spawn("consent expiry", crate::jobs::expiry::run(state.clone()));
    if let Some(snapshots) = &state.snapshots {
        let writes = Arc::clone(&state.writes);
        jobs.spawn("snapshots", crate::jobs::snapshot::run(Arc::clone(snapshots), writes));
    }
    jobs.spawn(
        "file sweep",
        crate::jobs::sweep::run(state.clone(), config.data.join("files-swept")),
    );
    let checkpointer =
        Arc::clone(proofs).run(Arc::clone(&state.platform), Arc::clone(&state.clock));
    jobs.spawn("checkpointer", checkpointer);
    if state.cluster.address().is_some() {
        // The inbox's records are not routed to their partitions' owners yet.
        tracing::warn!("the issuers' inbox is not served in a cluster");
        return Ok(jobs);
    }
    let (inbox_topic, dead_letters) = (topics.inbox.clone(), topics.dead_letter.clone());
    crate::jobs::inbox::open(log.as_ref(), &inbox_topic, &dead_letters, &config.data.join("inbox"))
        .await
        .map_err(Reason)
        .step("open the issuers' inbox")?;
    jobs.spawn(
        "issuers' inbox",
        crate::jobs::inbox::run(
            state.clone(),
            Arc::clone(log),
            inbox_topic,
            dead_letters,
            config.data.join("inbox"),
        ),
    );
    Ok(jobs)
}

/// A cluster node's own jobs: follow the group's changes, keep the claims in line with them,
/// and take in the key registry's events the other nodes append.
fn spawn_cluster_jobs<L: Log>(
    jobs: &mut crate::jobs::Jobs,
    (node, changes): Joined,
    ledger: Arc<Ledger<L>>,
) {
    jobs.spawn("cluster changes", Arc::clone(&node).follow(changes));
    jobs.spawn("cluster claims", node.reconcile());
    jobs.spawn("registry follower", async move {
        loop {
            if let Err(e) = ledger.follow_registry().await {
                tracing::warn!(error = %e, "cannot follow the key registry");
            }
            let pause = Duration::from_millis(crate::limits::CLUSTER_REGISTRY_FOLLOW_MS);
            tokio::time::sleep(pause).await;
        }
    });
}

/// What the person who started the service needs: where it listens, and for the demo, how
/// to log in.
fn announce(config: &ServeConfig, address: SocketAddr) {
    let backend = config
        .kafka
        .as_deref()
        .map_or_else(|| "the embedded log".to_owned(), |b| format!("Kafka at {b}"));
    say(format_args!(
        "locker: listening on http://{address} (data in {}, events on {backend})",
        config.data.display()
    ));
    say(format_args!(
        "locker: try  curl http://{address}/v1/directory/issuers  and  curl http://{address}/v1/stats"
    ));
    say(format_args!("locker: the citizen's web locker: open http://{address}/ in a browser"));
    if config.demo {
        say(format_args!(
            "locker: demo citizen: username asha, password {}",
            crate::app::demo::DEMO_PASSWORD
        ));
        say(format_args!(
            "locker: log in: curl -X POST http://{address}/v1/citizen/login -H 'content-type: application/json' \
             -d '{{\"username\":\"asha\",\"password\":\"{}\"}}'  then GET /v1/citizen/certificates with \
             'Authorization: Bearer <token>'",
            crate::app::demo::DEMO_PASSWORD
        ));
    }
}
