//! The ledger's transparency side in the service: it keeps each partition's Merkle tree
//! current and signs checkpoints (`DATA/merkle`, topic `<prefix>.checkpoints`, platform key),
//! and answers what outside parties need to hold the ledger to its word:
//!
//! - `GET /v1/ledger/checkpoints`: the latest signed checkpoint of every partition;
//! - `GET /v1/ledger/consistency`: a consistency proof between two checkpointed sizes, so a
//!   monitor that saw an earlier checkpoint can check the log only grew;
//! - proof bundles of a citizen's documents (and of a live share link's), which
//!   `locker verify-bundle` and the web page's Verify section check offline with only the
//!   ledger's public key (crate `verifier`, which also owns the bundle file's JSON form).
//!
//! A bundle needs a checkpoint that covers its records. For a document logged since the last
//! one, the request wakes the checkpointer (at most one checkpoint per partition per
//! `limits::CHECKPOINT_ASKED_MS_MIN`) and waits for it, up to `limits::BUNDLE_WAIT_MS`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ed25519_dalek::{SigningKey, VerifyingKey};
use ledger::merkle::{
    BUNDLE_KEY_CHAIN_MAX, CheckpointPolicy, ProofBundle, Proven, SignedCheckpoint, TreeStore,
};
use ledger::{LedgerConfig, Log};
use projections::Views;
use projections::views::LogPoint;
use schemas::{Actor, Digest32, DocRef, Id16, Principal};
use serde::{Deserialize, Serialize};

use crate::lookup::resolve;
use crate::session::Citizen;
use crate::write::internal;
use crate::{ApiError, AppState};
use wire::ErrorCode;

type Partition = (String, u32);
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What handlers need of the transparency side, whatever the log backend.
pub trait Proofs: Send + Sync {
    fn ledger_key(&self) -> VerifyingKey;
    /// The latest checkpoint of each partition, in partition order.
    fn checkpoints(&self) -> Vec<SignedCheckpoint>;
    fn consistency(
        &self,
        topic: &str,
        partition: u32,
        first: u64,
        second: u64,
    ) -> Result<Vec<Digest32>, ApiError>;
    /// The bundle of the document event at `point` of the citizen topic.
    fn bundle<'a>(
        &'a self,
        views: &'a Views,
        point: LogPoint,
    ) -> BoxFuture<'a, Result<ProofBundle, ApiError>>;
}

impl<L: Log> std::fmt::Debug for Transparency<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transparency").field("partitions", &self.partitions).finish_non_exhaustive()
    }
}

pub struct Transparency<L: Log> {
    log: Arc<L>,
    trees: TreeStore,
    checkpoint_topic: String,
    directory_topic: String,
    citizen_topic: String,
    partitions: Vec<Partition>,
    ledger_key: VerifyingKey,
    policy: CheckpointPolicy,
    look_ms: u64,
    bundle_wait_ms: u64,
    latest: RwLock<HashMap<Partition, SignedCheckpoint>>,
    /// Wakes the checkpointer early: a bundle waits for a checkpoint.
    asked: tokio::sync::Notify,
    /// Tells waiting bundles a round of checkpoints is done.
    signed: tokio::sync::Notify,
}

impl<L: Log> Transparency<L> {
    /// Opens the trees and reads the checkpoints signed so far (creating the topic).
    pub async fn open(
        log: Arc<L>,
        trees: &std::path::Path,
        config: &LedgerConfig,
        checkpoint_topic: String,
        ledger_key: VerifyingKey,
        policy: CheckpointPolicy,
        look_ms: u64,
    ) -> Result<Self, String> {
        let trees = TreeStore::open(trees).map_err(|e| format!("open the Merkle trees: {e}"))?;
        log.create_topic(&checkpoint_topic, 1)
            .await
            .map_err(|e| format!("create the checkpoint topic: {e}"))?;
        let latest = ledger::merkle::last_checkpoints(log.as_ref(), &checkpoint_topic)
            .await
            .map_err(|e| format!("read the checkpoints: {e}"))?;
        let mut partitions = vec![(config.directory_topic.clone(), 0)];
        partitions
            .extend((0..config.citizen_partitions).map(|p| (config.citizen_topic.clone(), p)));
        Ok(Transparency {
            log,
            trees,
            checkpoint_topic,
            directory_topic: config.directory_topic.clone(),
            citizen_topic: config.citizen_topic.clone(),
            partitions,
            ledger_key,
            policy,
            look_ms,
            bundle_wait_ms: crate::limits::BUNDLE_WAIT_MS,
            latest: RwLock::new(latest),
            asked: tokio::sync::Notify::new(),
            signed: tokio::sync::Notify::new(),
        })
    }

    /// How long a bundle waits for a checkpoint (`limits::BUNDLE_WAIT_MS` unless set here).
    pub fn with_bundle_wait_ms(mut self, wait_ms: u64) -> Self {
        self.bundle_wait_ms = wait_ms;
        self
    }

    /// Keeps the trees current and signs checkpoints until the task is dropped. A failure is
    /// logged and retried; a refusal to sign (the tree does not extend the last checkpoint)
    /// stops it, loudly: history changed under the ledger.
    pub async fn run(self: Arc<Self>, key: Arc<SigningKey>, clock: Arc<dyn ledger::clock::Clock>) {
        let mut asked = false;
        loop {
            let policy = if asked {
                CheckpointPolicy {
                    every_ms: self.policy.every_ms.min(crate::limits::CHECKPOINT_ASKED_MS_MIN),
                    ..self.policy
                }
            } else {
                self.policy
            };
            let mut last = self.latest.read().unwrap_or_else(|e| e.into_inner()).clone();
            let result = ledger::merkle::checkpoint_partitions(
                self.log.as_ref(),
                &self.trees,
                &self.partitions,
                &self.checkpoint_topic,
                &key,
                &mut last,
                clock.now(),
                policy,
            )
            .await;
            *self.latest.write().unwrap_or_else(|e| e.into_inner()) = last;
            self.signed.notify_waiters();
            match result {
                Ok(0) => {}
                Ok(n) => tracing::debug!(signed = n, "checkpoints signed"),
                Err(ledger::LedgerError::Tree(ledger::merkle::ProofError::Inconsistent(
                    reason,
                ))) => {
                    return tracing::error!(
                        %reason,
                        "refusing to sign checkpoints: history changed"
                    );
                }
                Err(e) => tracing::warn!(error = %e, "checkpointing failed; retrying"),
            }
            let look = tokio::time::sleep(Duration::from_millis(self.look_ms));
            asked = tokio::select! {
                () = look => false,
                () = self.asked.notified() => true,
            };
        }
    }

    fn latest_of(&self, topic: &str, partition: u32) -> Option<SignedCheckpoint> {
        let latest = self.latest.read().unwrap_or_else(|e| e.into_inner());
        latest.get(&(topic.to_owned(), partition)).cloned()
    }

    /// Proves the record at `offset`, waiting for a checkpoint that covers it.
    async fn prove_at(&self, topic: &str, partition: u32, offset: u64) -> Result<Proven, ApiError> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(self.bundle_wait_ms);
        loop {
            let signed = self.signed.notified();
            tokio::pin!(signed);
            signed.as_mut().enable();
            let tree = self.trees.tree(topic, partition).map_err(internal)?;
            let index = tree.leaf_index(offset).map_err(internal)?;
            if let (Some(index), Some(checkpoint)) = (index, self.latest_of(topic, partition))
                && index < checkpoint.checkpoint.size
            {
                return ledger::merkle::prove(
                    self.log.as_ref(),
                    &tree,
                    (topic, partition, offset),
                    &checkpoint,
                )
                .await
                .map_err(internal);
            }
            drop(tree);
            self.asked.notify_one();
            if tokio::time::timeout_at(deadline, signed).await.is_err() {
                return Err(ApiError::new(
                    ErrorCode::NotYetCheckpointed,
                    "the ledger has not yet signed a checkpoint covering this document; retry in a few seconds",
                ));
            }
        }
    }
}

fn decoded(proven: &Proven) -> Result<schemas::Envelope, ApiError> {
    schemas::decode_record(&proven.record).map_err(internal)
}

impl<L: Log> Proofs for Transparency<L> {
    fn ledger_key(&self) -> VerifyingKey {
        self.ledger_key
    }

    fn checkpoints(&self) -> Vec<SignedCheckpoint> {
        self.partitions.iter().filter_map(|(topic, p)| self.latest_of(topic, *p)).collect()
    }

    fn consistency(
        &self,
        topic: &str,
        partition: u32,
        first: u64,
        second: u64,
    ) -> Result<Vec<Digest32>, ApiError> {
        let unknown = || {
            ApiError::not_found(format!(
                "the ledger has no checkpointed partition {topic}/{partition}"
            ))
            .with_code(ErrorCode::UnknownPartition)
        };
        if !self.partitions.iter().any(|(t, p)| t == topic && *p == partition) {
            return Err(unknown());
        }
        let latest = self.latest_of(topic, partition).ok_or_else(unknown)?;
        if first == 0 || first > second {
            return Err(ApiError::new(
                ErrorCode::InvalidSizes,
                format!("a consistency proof needs 0 < first <= second; got {first} and {second}"),
            ));
        }
        if second > latest.checkpoint.size {
            return Err(ApiError::new(
                ErrorCode::BeyondCheckpoint,
                format!(
                    "the latest checkpoint of {topic}/{partition} has {} records; ask for sizes up to it",
                    latest.checkpoint.size
                ),
            ));
        }
        let tree = self.trees.tree(topic, partition).map_err(internal)?;
        tree.consistency_proof(first, second).map_err(internal)
    }

    fn bundle<'a>(
        &'a self,
        views: &'a Views,
        point: LogPoint,
    ) -> BoxFuture<'a, Result<ProofBundle, ApiError>> {
        Box::pin(async move {
            let document =
                self.prove_at(&self.citizen_topic, point.partition, point.offset).await?;
            let mut signer = decoded(&document)?.event;
            let mut keys = Vec::new();
            // Walk back from the document's key to a record the platform signed.
            while signer.actor != Actor::Platform {
                if keys.len() == BUNDLE_KEY_CHAIN_MAX {
                    return Err(internal(format!(
                        "the key chain of {point:?} is longer than {BUNDLE_KEY_CHAIN_MAX}"
                    )));
                }
                let principal = Principal::from(&signer.actor);
                let origin = views.key_origin(&principal, &signer.key_id)?.ok_or_else(|| {
                    internal(format!("no origin for key {} of {principal:?}", signer.key_id))
                })?;
                let topic = match principal {
                    Principal::Citizen(_) => &self.citizen_topic,
                    _ => &self.directory_topic,
                };
                let proven = self.prove_at(topic, origin.partition, origin.offset).await?;
                signer = decoded(&proven)?.event;
                keys.push(proven);
            }
            keys.reverse();
            Ok(ProofBundle { document, keys })
        })
    }
}

fn bundle_response(state: &AppState, bundle: &ProofBundle, name: &str) -> Response {
    let body = verifier::bundle_json(bundle, &state.proofs.ledger_key());
    // Only characters safe in a header value and a file name.
    let file: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' })
        .take(100)
        .collect();
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}.locker-bundle.json\""),
            ),
        ],
        body,
    )
        .into_response()
}

async fn bundle_of(
    state: &AppState,
    locker: &schemas::LockerId,
    doc: &DocRef,
) -> Result<Response, ApiError> {
    let resolved = resolve(state, locker, doc)?;
    let bundle = state.proofs.bundle(&state.views, resolved.origin).await?;
    let name = match doc {
        DocRef::Issued(uri) => uri.to_string(),
        DocRef::Uploaded(id) => id.to_hex(),
    };
    Ok(bundle_response(state, &bundle, &name))
}

/// `GET /v1/citizen/certificates/{uri}/bundle`
#[utoipa::path(get, path = "/v1/citizen/certificates/{uri}/bundle", tag = "citizen", security(("session" = [])), params(("uri" = String, Path, description = "The document URI", pattern = r"^[a-z](?:[a-z0-9]|\.[a-z]){2,31}-[A-Z0-9]{5}-[A-Za-z0-9._/-]{1,100}$")), description = "The document's proof bundle: its event, the key records back to the platform, inclusion proofs and signed checkpoints. `locker verify-bundle` checks it offline.", responses((status = 200, body = verifier::BundleDto), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_document`", body = crate::openapi::ErrorDto), (status = 503, description = "`not_yet_checkpointed`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn certificate_bundle(
    State(state): State<AppState>,
    citizen: Citizen,
    Path(uri): Path<String>,
) -> Result<Response, ApiError> {
    bundle_of(&state, &citizen.locker, &DocRef::Issued(crate::lookup::doc_uri(&uri)?)).await
}

/// `GET /v1/citizen/uploads/{id}/bundle`
#[utoipa::path(get, path = "/v1/citizen/uploads/{id}/bundle", tag = "citizen", security(("session" = [])), params(("id" = String, Path, description = "The upload id, 32 hex digits", pattern = r"^[0-9a-fA-F]{32}$")), responses((status = 200, body = verifier::BundleDto), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_document`", body = crate::openapi::ErrorDto), (status = 503, description = "`not_yet_checkpointed`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn upload_bundle(
    State(state): State<AppState>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = Id16::from_hex(&id)
        .map_err(|_| ApiError::new(ErrorCode::InvalidUploadId, "an upload id is 32 hex digits"))?;
    bundle_of(&state, &citizen.locker, &DocRef::Uploaded(id)).await
}

/// `GET /v1/shared/{locker}/{share}/bundle`: a live share link's document, provable.
#[utoipa::path(get, path = "/v1/shared/{locker}/{share}/bundle", tag = "public", params(("locker" = String, Path, description = "The locker id (a UUID)", pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"), ("share" = String, Path, description = "The share id, 32 hex digits", pattern = r"^[0-9a-fA-F]{32}$"), crate::shares::VisitQuery), responses((status = 400, description = "`invalid_query`", body = crate::openapi::ErrorDto), (status = 200, body = verifier::BundleDto), (status = 404, description = "`unknown_share`", body = crate::openapi::ErrorDto), (status = 410, description = "`share_expired`, `share_revoked`", body = crate::openapi::ErrorDto), (status = 429, description = "`too_many_views`", body = crate::openapi::ErrorDto), (status = 503, description = "`not_yet_checkpointed`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn shared_bundle(
    State(state): State<AppState>,
    Path((locker, share)): Path<(String, String)>,
    query: Result<Query<crate::shares::VisitQuery>, axum::extract::rejection::QueryRejection>,
    extensions: axum::http::Extensions,
) -> Result<Response, ApiError> {
    let visit = crate::shares::VisitQuery::of(query)?;
    let (resolved, _, _, _) =
        crate::shares::open_share(&state, &locker, &share, &extensions, visit.as_deref()).await?;
    let bundle = state.proofs.bundle(&state.views, resolved.origin).await?;
    Ok(bundle_response(&state, &bundle, &share))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CheckpointDto {
    topic: String,
    partition: u32,
    size: u64,
    root: String,
    at_ms: i64,
    /// The signed note, exactly as logged.
    note: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CheckpointsDto {
    /// The ledger's Ed25519 public key, hex (check it against one you trust).
    ledger_key: String,
    checkpoints: Vec<CheckpointDto>,
}

/// `GET /v1/ledger/checkpoints`
#[utoipa::path(get, path = "/v1/ledger/checkpoints", tag = "public", description = "The latest signed checkpoint of every partition.", responses((status = 200, body = CheckpointsDto)))]
pub(crate) async fn checkpoints(State(state): State<AppState>) -> Json<CheckpointsDto> {
    let checkpoints = state
        .proofs
        .checkpoints()
        .into_iter()
        .map(|signed| {
            let note = String::from_utf8_lossy(&signed.to_note()).into_owned();
            let c = signed.checkpoint;
            CheckpointDto {
                topic: c.topic,
                partition: c.partition,
                size: c.size,
                root: c.root.to_hex(),
                at_ms: c.at_ms.0,
                note,
            }
        })
        .collect();
    Json(CheckpointsDto { ledger_key: verifier::hex_key(&state.proofs.ledger_key()), checkpoints })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsistencyQuery {
    topic: String,
    partition: u32,
    first: u64,
    second: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ConsistencyDto {
    topic: String,
    partition: u32,
    first: u64,
    second: u64,
    /// RFC 9162 consistency proof, hex.
    proof: Vec<String>,
}

/// `GET /v1/ledger/consistency`
#[utoipa::path(get, path = "/v1/ledger/consistency", tag = "public", params(ConsistencyQuery), description = "A consistency proof between two sizes of a partition's tree (RFC 9162 2.1.4), up to its latest checkpoint.", responses((status = 422, description = "`invalid_sizes`, `beyond_checkpoint`", body = crate::openapi::ErrorDto), (status = 200, body = ConsistencyDto), (status = 400, description = "`invalid_query`, `invalid_sizes`, `beyond_checkpoint`", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_partition`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn consistency(
    State(state): State<AppState>,
    query: Result<Query<ConsistencyQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ConsistencyDto>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::new(ErrorCode::InvalidQuery, e.body_text()))?;
    let proof = state.proofs.consistency(&q.topic, q.partition, q.first, q.second)?;
    Ok(Json(ConsistencyDto {
        topic: q.topic,
        partition: q.partition,
        first: q.first,
        second: q.second,
        proof: proof.iter().map(Digest32::to_hex).collect(),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DocumentStatusDto {
    /// Issued documents: `active`, `updated`, `expired` or `revoked`. Uploads: `present` or
    /// `deleted`.
    status: &'static str,
    /// Whether the bundle proves the document's current version (an update supersedes it).
    current: bool,
    uri: Option<String>,
    upload_id: Option<String>,
    /// Why the issuer revoked it, when it did.
    revoked_reason: Option<&'static str>,
    /// The last day the current version is valid, if it has one.
    valid_to: Option<String>,
    /// When the service looked, by its clock.
    checked_at_ms: i64,
}

fn revocation_reason(reason: schemas::RevocationReason) -> &'static str {
    match reason {
        schemas::RevocationReason::IssuedInError => "issued_in_error",
        schemas::RevocationReason::Superseded => "superseded",
        schemas::RevocationReason::Cancelled => "cancelled",
        schemas::RevocationReason::Fraud => "fraud",
        schemas::RevocationReason::Other => "other",
    }
}

/// `POST /v1/ledger/status`: what a proof bundle's document is now. A bundle proves that a
/// document was issued; whether it was revoked or updated since is a later event it cannot
/// hold, so a verifier asks. Holding the bundle is what entitles the asker to the answer.
#[utoipa::path(post, path = "/v1/ledger/status", tag = "public", request_body(content = verifier::BundleDto, description = "A proof bundle file, as the bundle endpoints give it"), description = "The current status of the document a proof bundle proves: the bundle is checked against the ledger key first.", responses((status = 200, body = DocumentStatusDto), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 422, description = "`invalid_bundle` (the file does not decode), `bundle_not_verified`: its proofs or signatures do not hold against this ledger's key", body = crate::openapi::ErrorDto), (status = 503, description = "`views_behind`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn document_status(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<DocumentStatusDto>, ApiError> {
    let bundle = verifier::parse_bundle(&body)
        .map_err(|e| ApiError::new(ErrorCode::InvalidBundle, e.to_string()))?;
    let proven = ledger::merkle::verify_bundle(&bundle, &state.proofs.ledger_key())
        .map_err(|e| ApiError::new(ErrorCode::BundleNotVerified, e.to_string()))?;
    let now = state.clock.now();
    let not_yet = || {
        ApiError::new(
            ErrorCode::ViewsBehind,
            "the views do not hold this document yet; ask again in a moment",
        )
    };
    let mut answer = DocumentStatusDto {
        status: "present",
        current: true,
        uri: None,
        upload_id: None,
        revoked_reason: None,
        valid_to: None,
        checked_at_ms: now.0,
    };
    let (recipient, uri) = match &proven.envelope.event.payload {
        schemas::Payload::DocumentIssued(e) => (&e.recipient, &e.uri),
        schemas::Payload::DocumentUpdated(e) => (&e.recipient, &e.uri),
        schemas::Payload::DocumentUploaded(e) => {
            answer.upload_id = Some(e.upload_id.to_hex());
            if state.views.upload(&e.locker, &e.upload_id)?.is_none() {
                answer.status = "deleted";
                answer.current = false;
            }
            return Ok(Json(answer));
        }
        other => return Err(internal(format!("a bundle proved a {}", other.kind_name()))),
    };
    let owner = match recipient {
        schemas::Recipient::Locker(locker) => projections::views::Owner::Locker(*locker),
        schemas::Recipient::Aadhaar(aadhaar) => {
            projections::views::Owner::Aadhaar(aadhaar.keyed_hash)
        }
    };
    let doc = state.views.document(&owner, &uri.to_string())?.ok_or_else(not_yet)?;
    answer.uri = Some(uri.to_string());
    answer.status = crate::dto::status_name(projections::certificate_status(&doc, now));
    if let projections::views::DocStatus::Revoked(reason) = doc.status {
        answer.revoked_reason = Some(revocation_reason(reason));
    }
    answer.valid_to = doc.valid_to.map(|d| d.to_string());
    let proved = LogPoint { partition: bundle.document.partition, offset: bundle.document.offset };
    answer.current = doc.origin == proved;
    Ok(Json(answer))
}
