//! Proof bundles as files, and what a verified one proves.
//!
//! A bundle file is the JSON form (`locker-proof-bundle/v1`) of `ledger::merkle::ProofBundle`.
//! This crate reads it strictly, checks it with `ledger::merkle::verify_bundle` against a
//! ledger key the caller trusts, optionally checks a document's bytes against the hash the
//! event carries, and says what the bundle proves ([`Verified`]).
//!
//! The same code runs in three places: the service (which writes bundle files), the
//! `locker verify-bundle` command, and the web page, compiled to WebAssembly (`wasm` module),
//! so that a browser checks a document without trusting the server that sent it.
//!
//! Invariants: no IO, no clock, no randomness, no threads (it must build for
//! `wasm32-unknown-unknown`); it knows the bundle file's JSON and nothing of HTTP.

use base64::Engine;
use ed25519_dalek::VerifyingKey;
use ledger::merkle::{
    BUNDLE_KEY_CHAIN_MAX, BundleError, BundleFacts, ProofBundle, Proven, SignedCheckpoint,
};
use schemas::{Digest32, Payload};
use serde::{Deserialize, Serialize};

pub mod limits;
#[cfg(target_arch = "wasm32")]
mod wasm;

/// The `format` of a bundle file.
pub const BUNDLE_FORMAT: &str = "locker-proof-bundle/v1";

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Not a bundle file, or one this version cannot read.
    #[error("{0}")]
    Malformed(String),
    /// A well-formed bundle whose proofs or signatures do not hold.
    #[error(transparent)]
    NotVerified(#[from] BundleError),
    #[error(
        "the bundle verifies, but the file given is not this document: its BLAKE3 is {hash} ({size_bytes} bytes); the ledger holds {expected_hash} ({expected_size_bytes} bytes)"
    )]
    OtherDocument {
        hash: Digest32,
        size_bytes: u64,
        expected_hash: Digest32,
        expected_size_bytes: u64,
    },
}

impl FileError {
    /// A stable machine-readable name, for the page.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_bundle",
            Self::NotVerified(_) => "not_verified",
            Self::OtherDocument { .. } => "other_document",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProvenDto {
    topic: String,
    partition: u32,
    offset: u64,
    leaf_index: u64,
    /// The record exactly as logged, base64.
    record: String,
    /// The inclusion path, leaf to root, hex.
    inclusion: Vec<String>,
    /// The signed checkpoint note.
    checkpoint: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BundleDto {
    format: String,
    /// The key the checkpoints are signed with, for reference: a verifier uses the key it
    /// already trusts, never this one.
    ledger_key: String,
    document: ProvenDto,
    keys: Vec<ProvenDto>,
}

fn proven_dto(p: &Proven) -> ProvenDto {
    ProvenDto {
        topic: p.topic.clone(),
        partition: p.partition,
        offset: p.offset,
        leaf_index: p.leaf_index,
        record: base64::engine::general_purpose::STANDARD.encode(&p.record),
        inclusion: p.inclusion.iter().map(Digest32::to_hex).collect(),
        checkpoint: String::from_utf8_lossy(&p.checkpoint.to_note()).into_owned(),
    }
}

/// A public key as files and the API show it: 64 hex digits.
pub fn hex_key(key: &VerifyingKey) -> String {
    Digest32(key.to_bytes()).to_hex()
}

/// Reads a key given as 64 hex digits.
pub fn parse_hex_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = Digest32::from_hex(text.trim())
        .map_err(|_| "a ledger key is 64 hex digits (32 bytes)".to_owned())?;
    VerifyingKey::from_bytes(&bytes.0)
        .map_err(|_| "these 32 bytes are not an Ed25519 public key".to_owned())
}

/// The bundle as its JSON file.
pub fn bundle_json(bundle: &ProofBundle, ledger_key: &VerifyingKey) -> String {
    let dto = BundleDto {
        format: BUNDLE_FORMAT.to_owned(),
        ledger_key: hex_key(ledger_key),
        document: proven_dto(&bundle.document),
        keys: bundle.keys.iter().map(proven_dto).collect(),
    };
    serde_json::to_string_pretty(&dto).unwrap_or_else(|e| unreachable!("a bundle serialises: {e}"))
}

fn parse_proven(which: &str, dto: ProvenDto) -> Result<Proven, FileError> {
    let bad = |what: &str| FileError::Malformed(format!("{which}: {what}"));
    if dto.inclusion.len() > ledger::limits::MERKLE_PROOF_HASHES_MAX {
        return Err(bad("the inclusion path is longer than any real tree's"));
    }
    let record = base64::engine::general_purpose::STANDARD
        .decode(dto.record.as_bytes())
        .map_err(|e| bad(&format!("`record` is not base64: {e}")))?;
    let inclusion = dto
        .inclusion
        .iter()
        .map(|h| Digest32::from_hex(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| bad("`inclusion` holds hashes of 64 hex digits"))?;
    let checkpoint = SignedCheckpoint::from_note(dto.checkpoint.as_bytes())
        .map_err(|e| bad(&format!("`checkpoint`: {e}")))?;
    Ok(Proven {
        topic: dto.topic,
        partition: dto.partition,
        offset: dto.offset,
        leaf_index: dto.leaf_index,
        record,
        inclusion,
        checkpoint,
    })
}

/// An error answer from the service, saved by mistake instead of a bundle.
#[derive(Deserialize)]
struct ServiceError {
    code: String,
    message: String,
}

/// Reads a bundle file strictly; says what is wrong with it.
pub fn parse_bundle(bytes: &[u8]) -> Result<ProofBundle, FileError> {
    let malformed = |message: String| FileError::Malformed(message);
    if bytes.len() > limits::BUNDLE_BYTES_MAX {
        return Err(malformed(format!(
            "a bundle has at most {} bytes; this file has {}",
            limits::BUNDLE_BYTES_MAX,
            bytes.len()
        )));
    }
    let dto: BundleDto = serde_json::from_slice(bytes).map_err(|e| {
        // A saved error answer is a common mistake: say what the service said instead.
        malformed(match serde_json::from_slice::<ServiceError>(bytes) {
            Ok(error) => format!(
                "not a proof bundle but an error from the service: {} ({})",
                error.message, error.code
            ),
            Err(_) => format!("not a proof bundle: {e}"),
        })
    })?;
    if dto.format != BUNDLE_FORMAT {
        return Err(malformed(format!("format `{}` is not `{BUNDLE_FORMAT}`", dto.format)));
    }
    if dto.keys.len() > BUNDLE_KEY_CHAIN_MAX {
        return Err(malformed(format!(
            "a bundle chains at most {BUNDLE_KEY_CHAIN_MAX} key records"
        )));
    }
    let document = parse_proven("document", dto.document)?;
    let keys = dto
        .keys
        .into_iter()
        .enumerate()
        .map(|(i, k)| parse_proven(&format!("key record {}", i + 1), k))
        .collect::<Result<_, _>>()?;
    Ok(ProofBundle { document, keys })
}

/// The document's content as the event names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContentFacts {
    pub size_bytes: u64,
    pub media_type: &'static str,
    /// BLAKE3, hex.
    pub hash: String,
}

/// Where the ledger committed to the document event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedFacts {
    pub topic: String,
    pub partition: u32,
    pub leaf_index: u64,
    /// The size of the tree the checkpoint signed.
    pub size: u64,
    pub root: String,
    pub at_ms: i64,
}

/// What a verified bundle proves, for people and for the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// `document_issued`, `document_updated` or `document_uploaded`.
    pub kind: &'static str,
    /// The document URI (issued and updated documents).
    pub uri: Option<String>,
    /// The document's name (issued and updated documents).
    pub name: Option<String>,
    /// `YYYY-MM-DD` (issued documents).
    pub issued_on: Option<String>,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
    /// The upload id (uploads).
    pub upload_id: Option<String>,
    /// The locker an upload belongs to.
    pub locker: Option<String>,
    /// Who signed the event, such as `issuer in.gov.cbse`.
    pub signer: String,
    /// The kind of signer: `issuer`, `citizen`, `platform`...
    pub signer_kind: schemas::ActorKind,
    /// The signer's name as the platform registered it (issuers and requesters).
    pub signer_name: Option<String>,
    pub key_id: String,
    pub signed_at_ms: i64,
    /// Key records between the platform's key and the signer's.
    pub key_records: usize,
    pub content: ContentFacts,
    /// Whether document bytes were given and are exactly this content.
    pub content_checked: bool,
    pub logged: LoggedFacts,
}

fn time_of(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(|| format!("{ms} ms"), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

impl Verified {
    fn of(facts: &BundleFacts) -> Result<Self, FileError> {
        let event = &facts.envelope.event;
        let mut verified = Verified {
            kind: event.payload.kind_name(),
            uri: None,
            name: None,
            issued_on: None,
            valid_from: None,
            valid_to: None,
            upload_id: None,
            locker: None,
            signer: event.actor.to_string(),
            signer_kind: event.actor.kind(),
            signer_name: facts.key_records.first().and_then(|r| match &r.event.payload {
                Payload::IssuerRegistered(e) => Some(e.name.to_string()),
                Payload::RequesterRegistered(e) => Some(e.name.to_string()),
                _ => None,
            }),
            key_id: event.key_id.to_string(),
            signed_at_ms: event.occurred_at_ms.0,
            key_records: facts.key_records.len(),
            content: ContentFacts { size_bytes: 0, media_type: "", hash: String::new() },
            content_checked: false,
            logged: LoggedFacts {
                topic: facts.checkpoint.topic.clone(),
                partition: facts.checkpoint.partition,
                leaf_index: facts.leaf_index,
                size: facts.checkpoint.size,
                root: facts.checkpoint.root.to_hex(),
                at_ms: facts.checkpoint.at_ms.0,
            },
        };
        let date = |d: &schemas::CivilDate| d.to_string();
        match &event.payload {
            Payload::DocumentIssued(e) => {
                verified.uri = Some(e.uri.to_string());
                verified.name = Some(e.name.to_string());
                verified.issued_on = Some(date(&e.issued_on));
                verified.valid_from = e.valid_from.as_ref().map(date);
                verified.valid_to = e.valid_to.as_ref().map(date);
            }
            Payload::DocumentUpdated(e) => {
                verified.uri = Some(e.uri.to_string());
                verified.name = Some(e.name.to_string());
                verified.valid_from = e.valid_from.as_ref().map(date);
                verified.valid_to = e.valid_to.as_ref().map(date);
            }
            Payload::DocumentUploaded(e) => {
                verified.upload_id = Some(e.upload_id.to_hex());
                verified.locker = Some(e.locker.to_string());
            }
            // `verify_bundle` proves document events only.
            other => {
                return Err(FileError::Malformed(format!(
                    "not a document event: {}",
                    other.kind_name()
                )));
            }
        }
        let content = content_of(&event.payload).unwrap_or_else(|| unreachable!("matched above"));
        verified.content = ContentFacts {
            size_bytes: content.size_bytes,
            media_type: content.media_type.mime(),
            hash: content.hash.to_hex(),
        };
        Ok(verified)
    }

    /// What the bundle proves, as `locker verify-bundle` prints it.
    pub fn report(&self) -> String {
        let what = match (self.kind, &self.uri, &self.name) {
            ("document_issued", Some(uri), Some(name)) => format!(
                "document {uri} \"{name}\" issued on {}",
                self.issued_on.as_deref().unwrap_or("?")
            ),
            (_, Some(uri), Some(name)) => format!("document {uri} \"{name}\" updated"),
            _ => format!(
                "upload {} to locker {}",
                self.upload_id.as_deref().unwrap_or("?"),
                self.locker.as_deref().unwrap_or("?")
            ),
        };
        let mut out = format!("authentic: {what}\n");
        out += &format!(
            "  signed by {}{} with key {} at {}",
            self.signer,
            self.signer_name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default(),
            self.key_id,
            time_of(self.signed_at_ms)
        );
        out += &match self.key_records {
            0 => "\n".to_owned(),
            1 => ", a key the platform registered\n".to_owned(),
            n => format!(", a key chained from the platform through {n} key records\n"),
        };
        out += &format!(
            "  content: {} bytes of {}, BLAKE3 {}\n",
            self.content.size_bytes, self.content.media_type, self.content.hash
        );
        if self.content_checked {
            out += "  the file given is exactly this content\n";
        }
        let l = &self.logged;
        out += &format!(
            "  logged: {}/{} leaf {} of the {} the ledger signed at {} (root {})\n",
            l.topic,
            l.partition,
            l.leaf_index,
            l.size,
            time_of(l.at_ms),
            l.root
        );
        out
    }
}

fn content_of(payload: &Payload) -> Option<&schemas::ContentRef> {
    match payload {
        Payload::DocumentIssued(e) => Some(&e.content),
        Payload::DocumentUpdated(e) => Some(&e.content),
        Payload::DocumentUploaded(e) => Some(&e.content),
        _ => None,
    }
}

/// Checks a bundle file against the trusted ledger key and, if given, the document's bytes
/// against the hash the event carries.
pub fn verify_bundle_file(
    bundle: &[u8],
    ledger_key: &VerifyingKey,
    document: Option<&[u8]>,
) -> Result<Verified, FileError> {
    let bundle = parse_bundle(bundle)?;
    let facts = ledger::merkle::verify_bundle(&bundle, ledger_key)?;
    let mut verified = Verified::of(&facts)?;
    if let (Some(bytes), Some(expected)) = (document, content_of(&facts.envelope.event.payload)) {
        let hash = Digest32(*blake3::hash(bytes).as_bytes());
        let size_bytes = bytes.len() as u64;
        if hash != expected.hash || size_bytes != expected.size_bytes {
            return Err(FileError::OtherDocument {
                hash,
                size_bytes,
                expected_hash: expected.hash,
                expected_size_bytes: expected.size_bytes,
            });
        }
        verified.content_checked = true;
    }
    Ok(verified)
}

#[derive(Serialize)]
#[serde(untagged)]
enum Answer<'a> {
    Verified { ok: bool, verified: &'a Verified },
    Refused { ok: bool, code: &'static str, message: String },
}

/// The WebAssembly interface's work, on the host too so that it is tested: `input` holds the
/// trusted key as hex (`key_len` bytes), the bundle file (`bundle_len` bytes) and, when
/// `has_document`, the document's bytes (the rest). Answers JSON (see the `wasm` module).
pub fn answer_json(input: &[u8], key_len: usize, bundle_len: usize, has_document: bool) -> String {
    let refused = |code: &'static str, message: String| {
        serde_json::to_string(&Answer::Refused { ok: false, code, message })
            .unwrap_or_else(|e| unreachable!("an answer serialises: {e}"))
    };
    let Some((key, rest)) = input.split_at_checked(key_len) else {
        return refused("invalid_input", "the key is longer than the input".to_owned());
    };
    let Some((bundle, document)) = rest.split_at_checked(bundle_len) else {
        return refused("invalid_input", "the bundle is longer than the input".to_owned());
    };
    let key = match std::str::from_utf8(key).map_err(|e| e.to_string()).and_then(parse_hex_key) {
        Ok(key) => key,
        Err(reason) => return refused("invalid_ledger_key", reason),
    };
    let document = has_document.then_some(document);
    match verify_bundle_file(bundle, &key, document) {
        Ok(verified) => serde_json::to_string(&Answer::Verified { ok: true, verified: &verified })
            .unwrap_or_else(|e| unreachable!("an answer serialises: {e}")),
        Err(error) => refused(error.code(), error.to_string()),
    }
}

#[cfg(test)]
mod tests;
