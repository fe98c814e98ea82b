//! Proof bundles: everything needed to check, offline and with nothing but the ledger's public
//! key, that a document event is in the ledger and was signed by the actor it names.
//!
//! A bundle holds the document's event record and a chain of key records, each with its
//! inclusion proof in a signed checkpoint:
//!
//! - the ledger key signed each checkpoint, and each record's leaf is in its checkpoint's tree,
//!   so the ledger committed to every record of the bundle at that position of its history;
//! - the first key record is signed by the platform (the ledger key) and registers a key for
//!   an actor; each further key record is signed by the key the previous one registered (an
//!   owner rotating its own key); the last registered key is the one the document event names,
//!   for the actor it names, and the event's signature verifies with it.
//!
//! What a bundle cannot show: that the key was not revoked before the event. The ledger
//! checked that at append time and the audit replay checks it again over the whole history.
//!
//! `verify_bundle` shares no code with the tree: it uses the independent RFC 9162 verifier.

use ed25519_dalek::VerifyingKey;
use schemas::{Actor, Digest32, Envelope, KeyId, Payload, Principal, PublicKeyEntry};

use super::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
#[cfg(feature = "store")]
use super::store::PartitionTree;
use crate::crypto::{key_id_of, parse_public_key};
#[cfg(feature = "store")]
use crate::log::Log;
#[cfg(feature = "store")]
use crate::rfc9162::ProofError;
use crate::rfc9162::leaf_hash;
use crate::rfc9162::{VerifyError, verify_inclusion};
#[cfg(feature = "store")]
use crate::{LedgerError, LogError};

/// Key records a bundle may chain: more than any real rotation history needs.
pub const BUNDLE_KEY_CHAIN_MAX: usize = 16;

/// One record and the proof that the ledger committed to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    pub topic: String,
    pub partition: u32,
    /// Where the record sits in the log, for people; the proof is about `leaf_index`.
    pub offset: u64,
    pub leaf_index: u64,
    pub record: Vec<u8>,
    pub inclusion: Vec<Digest32>,
    pub checkpoint: SignedCheckpoint,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofBundle {
    pub document: Proven,
    /// Key records, from the one the platform signed to the one registering the document's
    /// signing key. Empty when the platform itself signed the document event.
    pub keys: Vec<Proven>,
}

/// What a verified bundle proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFacts {
    pub envelope: Envelope,
    pub checkpoint: Checkpoint,
    pub leaf_index: u64,
    /// The key records, verified, in chain order.
    pub key_records: Vec<Envelope>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("{which}: the checkpoint: {source}")]
    Checkpoint { which: String, source: CheckpointError },
    #[error(
        "{which}: the record is said to be in {claimed}, but its checkpoint is of {checkpoint}"
    )]
    WrongCheckpoint { which: String, claimed: String, checkpoint: String },
    #[error("{which}: the record is not in the checkpointed log: {source}")]
    NotIncluded { which: String, source: VerifyError },
    #[error("{which}: the record does not decode: {reason}")]
    Undecodable { which: String, reason: String },
    #[error(
        "the bundle proves a {kind} event; a document bundle proves document_issued, document_updated or document_uploaded"
    )]
    NotADocument { kind: &'static str },
    #[error("{0}")]
    Actor(String),
    #[error("the bundle has {got} key records; at most {max} are accepted")]
    KeyChainTooLong { got: usize, max: usize },
    #[error("{which}: {reason}")]
    KeyChain { which: String, reason: String },
    #[error("{which}: the signature does not verify with the key it names")]
    BadSignature { which: String },
}

/// Checks one record's checkpoint and inclusion, and decodes it.
fn check_proven(
    which: &str,
    proven: &Proven,
    ledger_key: &VerifyingKey,
) -> Result<(Envelope, Vec<u8>), BundleError> {
    let which = which.to_owned();
    proven
        .checkpoint
        .verify(ledger_key)
        .map_err(|source| BundleError::Checkpoint { which: which.clone(), source })?;
    let checkpoint = &proven.checkpoint.checkpoint;
    if checkpoint.topic != proven.topic || checkpoint.partition != proven.partition {
        return Err(BundleError::WrongCheckpoint {
            which,
            claimed: format!("{}/{}", proven.topic, proven.partition),
            checkpoint: format!("{}/{}", checkpoint.topic, checkpoint.partition),
        });
    }
    verify_inclusion(
        &leaf_hash(&proven.record),
        proven.leaf_index,
        checkpoint.size,
        &proven.inclusion,
        &checkpoint.root,
    )
    .map_err(|source| BundleError::NotIncluded { which: which.clone(), source })?;
    let (envelope, message) = schemas::decode_signed_record(&proven.record)
        .map_err(|e| BundleError::Undecodable { which: which.clone(), reason: e.to_string() })?;
    // A batch-signed event's signature covers its batch's root.
    let message = crate::crypto::signed_message(&envelope, message)
        .map_err(|_| BundleError::BadSignature { which })?;
    Ok((envelope, message))
}

/// The keys a record registers, with their owner.
fn registered_keys(payload: &Payload) -> Vec<(Principal, &PublicKeyEntry)> {
    match payload {
        Payload::IssuerRegistered(e) => {
            e.keys.iter().map(|k| (Principal::Issuer(e.issuer.clone()), k)).collect()
        }
        Payload::RequesterRegistered(e) => {
            e.keys.iter().map(|k| (Principal::Requester(e.requester.clone()), k)).collect()
        }
        Payload::KeyRotated(e) => vec![(e.owner.clone(), &e.new_key)],
        Payload::CitizenRegistered(e) => vec![(Principal::Citizen(e.locker), &e.key)],
        _ => Vec::new(),
    }
}

/// Whether `actor` may have emitted this document event (the ledger enforced it at append).
fn check_document_actor(envelope: &Envelope) -> Result<(), BundleError> {
    let event = &envelope.event;
    let allowed = match (&event.actor, &event.payload) {
        (Actor::Issuer(issuer), Payload::DocumentIssued(e)) => e.uri.issuer() == issuer,
        (Actor::Issuer(issuer), Payload::DocumentUpdated(e)) => e.uri.issuer() == issuer,
        (Actor::Citizen(locker), Payload::DocumentUploaded(e)) => e.locker == *locker,
        (_, Payload::DocumentIssued(_) | Payload::DocumentUpdated(_))
        | (_, Payload::DocumentUploaded(_)) => false,
        (_, payload) => return Err(BundleError::NotADocument { kind: payload.kind_name() }),
    };
    if !allowed {
        return Err(BundleError::Actor(format!(
            "{} may not emit this {} event",
            event.actor,
            event.payload.kind_name()
        )));
    }
    Ok(())
}

/// Checks that `record` names `signer` (actor and key id) and that its signature over
/// `message` verifies with the signer's key; `expected` says where the signer came from.
fn check_signed_by(
    which: &str,
    record: &Envelope,
    message: &[u8],
    signer: &(Principal, KeyId, VerifyingKey),
    expected: &str,
) -> Result<(), BundleError> {
    let event = &record.event;
    if Principal::from(&event.actor) != signer.0 || event.key_id != signer.1 {
        return Err(BundleError::KeyChain {
            which: which.to_owned(),
            reason: format!(
                "signed by {} key {}, but {expected} {} key {}",
                event.actor, event.key_id, signer.0, signer.1
            ),
        });
    }
    let valid = crate::crypto::verify_one(&crate::crypto::VerifyItem {
        message,
        signature: &record.signature,
        key: &signer.2,
    });
    if valid { Ok(()) } else { Err(BundleError::BadSignature { which: which.to_owned() }) }
}

/// Verifies a bundle offline against the ledger's public key; see the module note.
pub fn verify_bundle(
    bundle: &ProofBundle,
    ledger_key: &VerifyingKey,
) -> Result<BundleFacts, BundleError> {
    if bundle.keys.len() > BUNDLE_KEY_CHAIN_MAX {
        return Err(BundleError::KeyChainTooLong {
            got: bundle.keys.len(),
            max: BUNDLE_KEY_CHAIN_MAX,
        });
    }
    let (envelope, message) = check_proven("the document record", &bundle.document, ledger_key)?;
    check_document_actor(&envelope)?;
    // Walk the chain: who may sign next, with which key.
    let mut signer: (Principal, KeyId, VerifyingKey) =
        (Principal::Platform, key_id_of(ledger_key), *ledger_key);
    let mut key_records = Vec::with_capacity(bundle.keys.len());
    for (index, proven) in bundle.keys.iter().enumerate() {
        let which = format!("key record {}", index + 1);
        let (record, signed) = check_proven(&which, proven, ledger_key)?;
        let event = &record.event;
        check_signed_by(&which, &record, &signed, &signer, "the chain expects")?;
        let chain = |reason: String| BundleError::KeyChain { which: which.clone(), reason };
        // The next link: the key this record registers that the next record (or the document
        // event) is signed with.
        let next = match bundle.keys.get(index + 1) {
            Some(next) => schemas::decode_record(&next.record)
                .map(|e| (Principal::from(&e.event.actor), e.event.key_id))
                .map_err(|e| BundleError::Undecodable {
                    which: format!("key record {}", index + 2),
                    reason: e.to_string(),
                })?,
            None => (Principal::from(&envelope.event.actor), envelope.event.key_id),
        };
        let Some((owner, entry)) = registered_keys(&event.payload)
            .into_iter()
            .find(|(owner, entry)| *owner == next.0 && entry.key_id == next.1)
        else {
            return Err(chain(format!(
                "a {} event that does not register key {} of {}",
                event.payload.kind_name(),
                next.1,
                next.0
            )));
        };
        let key = parse_public_key(entry).map_err(|e| chain(e.to_string()))?;
        signer = (owner, entry.key_id, key);
        key_records.push(record);
    }
    check_signed_by("the document record", &envelope, &message, &signer, "the bundle proves only")?;
    Ok(BundleFacts {
        checkpoint: bundle.document.checkpoint.checkpoint.clone(),
        leaf_index: bundle.document.leaf_index,
        envelope,
        key_records,
    })
}

#[cfg(feature = "store")]
/// Proves the record at `offset` of a partition against `checkpoint`: reads it from the log,
/// finds its leaf and makes the inclusion proof at the checkpoint's size. Fails with
/// `ProofError::IndexOutOfRange` when the checkpoint does not cover the record yet.
pub async fn prove<L: Log>(
    log: &L,
    tree: &PartitionTree<'_>,
    (topic, partition, offset): (&str, u32, u64),
    checkpoint: &SignedCheckpoint,
) -> Result<Proven, LedgerError> {
    let records = log.read(topic, partition, offset, 1).await?;
    let Some(record) = records.into_iter().next().filter(|r| r.position.offset == offset) else {
        return Err(LogError::Corrupt {
            location: format!("{topic}/{partition} offset {offset}"),
            reason: "no record at this offset".to_owned(),
        }
        .into());
    };
    let size = checkpoint.checkpoint.size;
    let Some(leaf_index) = tree.leaf_index(offset)? else {
        return Err(ProofError::IndexOutOfRange { index: tree.size(), size }.into());
    };
    if leaf_index >= size {
        return Err(ProofError::IndexOutOfRange { index: leaf_index, size }.into());
    }
    let inclusion = tree.inclusion_proof(leaf_index, size)?;
    Ok(Proven {
        topic: topic.to_owned(),
        partition,
        offset,
        leaf_index,
        record: record.value,
        inclusion,
        checkpoint: checkpoint.clone(),
    })
}
