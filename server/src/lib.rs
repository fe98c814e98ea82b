//! The locker service: an axum `Router` over the projections (reads) and, with issue 5's write
//! side, the ledger. `router(state)` is tested in-process with `oneshot`; `server` runs it.
//!
//! **Architecture invariant:** only this crate knows HTTP and JSON. It converts views into its
//! own DTOs by hand, and every error becomes `{code, message}` with a stable code.

pub mod app;
pub mod http;
pub mod jobs;
pub mod limits;
pub mod openapi;
pub mod server;
pub mod store;

use std::sync::{Arc, RwLock};

use projections::{PartitionStatus, Views};

pub use app::error::AppError;
pub use app::metrics::Metrics;
pub use app::write::Appender;
pub use http::router;

/// What handlers share: one allocation, so the per-request clones axum makes cost one
/// reference count, not one per service.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// The service's parts.
pub struct Services {
    pub views: Arc<Views>,
    pub metrics: Arc<Metrics>,
    /// Projection health, refreshed in the background (see `server`).
    pub partitions: Arc<RwLock<Vec<PartitionStatus>>>,
    /// The write side: `Ledger::append` of one record.
    pub appender: Arc<dyn app::write::Appender>,
    pub vault: Arc<store::vault::Vault>,
    pub clock: Arc<dyn ledger::clock::Clock>,
    pub nonces: Arc<Nonces>,
    pub accounts: Arc<store::accounts::Accounts>,
    pub otp: Arc<dyn store::otp::OtpSender>,
    /// Codes sent per source address and in all (`limits::OTP_SENDS_PER_HOUR`).
    pub otp_limits: Arc<store::otp::SendLimits>,
    /// The Aadhaar authority (OTP and e-KYC); none: Aadhaar linking is unavailable.
    pub kyc: Option<Arc<dyn app::kyc::KycProvider>>,
    /// Codes asked of the authority and not yet answered.
    pub aadhaar_challenges: Arc<app::kyc::Challenges>,
    /// Signed requests already served (`limits::SIGNATURES_SEEN_MAX`): none is served twice.
    pub seen_signatures: Arc<store::replay::SeenSignatures>,
    /// Signs what the platform vouches for (citizen registrations).
    pub platform: Arc<ed25519_dalek::SigningKey>,
    /// Keys the platform's hashes of mobile numbers and one-time passwords.
    pub platform_secret: [u8; 32],
    pub signup_lock: Arc<tokio::sync::Mutex<()>>,
    /// One write at a time per citizen partition, checked against caught-up views.
    pub writes: Arc<app::guard::WriteGuard>,
    /// Document bytes, content-addressed.
    pub files: Arc<store::files::Files>,
    /// Open event streams (`limits::SSE_STREAMS_MAX`, `limits::SSE_STREAMS_PER_REQUESTER_MAX`).
    pub streams: Arc<store::quota::StreamSlots>,
    /// Rendered My Certificates pages, stamped with the log positions they reflect.
    pub pages: store::cache::PageCache,
    /// Merkle trees, signed checkpoints and proof bundles.
    pub proofs: Arc<dyn app::proofs::Proofs>,
    /// One permit per bulk batch being processed (`limits::BULK_BATCHES_IN_FLIGHT`).
    pub bulk: Arc<tokio::sync::Semaphore>,
    /// One permit per export being streamed (`limits::EXPORTS_IN_FLIGHT`).
    pub exports: Arc<tokio::sync::Semaphore>,
    /// Aadhaar references each issuer may ask for (`limits::AADHAAR_REFERENCES_PER_HOUR`).
    pub aadhaar_quota: Arc<store::quota::Quota>,
    /// Views each share link may record per hour (`limits::SHARE_VIEWS_PER_HOUR`).
    pub share_views: Arc<store::quota::Quota<schemas::Id16>>,
    /// Pulls each locker may make per hour (`limits::PULLS_PER_HOUR`).
    pub pull_quota: Arc<store::quota::Quota<schemas::LockerId>>,
    /// Whether issuers' pull endpoints may be on loopback or private addresses (a demo, a
    /// test, issuers on the operator's own network); otherwise only public ones are called.
    pub pull_private_endpoints: bool,
    /// The address citizens reach the service at (`--public-url`), which QR codes open;
    /// none: the address each request came to.
    pub public_url: Option<String>,
    /// Snapshots of this node's views and key registry; none: this deployment takes none.
    pub snapshots: Option<Arc<dyn app::snapshot::Snapshotter>>,
    /// Which partitions this node appends to (all of them, alone).
    pub cluster: Arc<dyn app::cluster::Owners>,
    pub forwarder: http::forward::Forwarder,
}

/// What a deployment (or a test) provides; the rest of the services start from the limits.
pub struct Core {
    pub views: Arc<Views>,
    pub partitions: Arc<RwLock<Vec<PartitionStatus>>>,
    pub appender: Arc<dyn app::write::Appender>,
    pub vault: Arc<store::vault::Vault>,
    pub clock: Arc<dyn ledger::clock::Clock>,
    pub nonces: Arc<Nonces>,
    pub accounts: Arc<store::accounts::Accounts>,
    pub otp: Arc<dyn store::otp::OtpSender>,
    pub kyc: Option<Arc<dyn app::kyc::KycProvider>>,
    pub platform: ed25519_dalek::SigningKey,
    pub writes: Arc<app::guard::WriteGuard>,
    pub files: Arc<store::files::Files>,
    pub proofs: Arc<dyn app::proofs::Proofs>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").finish_non_exhaustive()
    }
}

impl Services {
    /// The services over `core`, with every bound, quota and memory at the service's limits
    /// (a test may lower one after).
    pub fn new(core: Core) -> Services {
        let Core {
            views,
            partitions,
            appender,
            vault,
            clock,
            nonces,
            accounts,
            otp,
            kyc,
            platform,
            writes,
            files,
            proofs,
        } = core;
        Services {
            views,
            metrics: Arc::new(Metrics::default()),
            partitions,
            appender,
            vault,
            clock,
            nonces,
            accounts,
            otp,
            otp_limits: Arc::new(store::otp::SendLimits::default()),
            kyc,
            aadhaar_challenges: Arc::new(app::kyc::Challenges::default()),
            seen_signatures: Arc::new(store::replay::SeenSignatures::default()),
            platform_secret: platform_secret(&platform),
            platform: Arc::new(platform),
            signup_lock: Arc::new(tokio::sync::Mutex::new(())),
            writes,
            files,
            streams: Arc::new(store::quota::StreamSlots::new(
                limits::SSE_STREAMS_MAX,
                limits::SSE_STREAMS_PER_REQUESTER_MAX,
            )),
            pages: Default::default(),
            proofs,
            bulk: Arc::new(tokio::sync::Semaphore::new(limits::BULK_BATCHES_IN_FLIGHT)),
            exports: Arc::new(tokio::sync::Semaphore::new(limits::EXPORTS_IN_FLIGHT)),
            aadhaar_quota: Arc::new(store::quota::Quota::per_hour(
                limits::AADHAAR_REFERENCES_PER_HOUR,
            )),
            share_views: Arc::new(store::quota::Quota::per_hour(limits::SHARE_VIEWS_PER_HOUR)),
            pull_quota: Arc::new(store::quota::Quota::per_hour(limits::PULLS_PER_HOUR)),
            pull_private_endpoints: false,
            public_url: None,
            snapshots: None,
            cluster: Arc::new(app::cluster::Alone),
            forwarder: http::forward::Forwarder::default(),
        }
    }
}

/// The platform's keyed-hash secret, derived from its signing key.
pub fn platform_secret(platform: &ed25519_dalek::SigningKey) -> [u8; 32] {
    blake3::derive_key("locker platform references v1", &platform.to_bytes())
}

/// Randomness for seal nonces, injected: the server seeds it from the OS, tests from a seed.
#[derive(Debug)]
pub struct Nonces(std::sync::Mutex<rand_chacha::ChaCha20Rng>);

impl Nonces {
    pub fn from_seed(seed: u64) -> Self {
        Nonces(std::sync::Mutex::new(rand_core::SeedableRng::seed_from_u64(seed)))
    }
    pub fn from_os() -> Self {
        Nonces(std::sync::Mutex::new(
            rand_core::SeedableRng::from_rng(rand_core::OsRng).unwrap_or_else(|_| {
                panic!("the operating system has no randomness to seed seal nonces from")
            }),
        ))
    }
    pub fn next(&self) -> [u8; 24] {
        let mut nonce = [0u8; 24];
        let mut rng = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        rand_core::RngCore::fill_bytes(&mut *rng, &mut nonce);
        nonce
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}
