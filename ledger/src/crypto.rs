//! Signing, verification, sealing and keyed hashes. Pure functions: keys and randomness come
//! from the caller.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
#[cfg(feature = "store")]
use rayon::prelude::*;
use schemas::{
    Aadhaar, AadhaarRef, Commitment, Digest32, Envelope, Event, KeyId, MobileNumber, Nonce24,
    PersonalData, PublicKeyBytes, PublicKeyEntry, SealSubject, Sealed, SignatureBytes,
};

use crate::LedgerError;
use crate::limits::{VERIFY_CHUNK_SIGNATURES, VERIFY_CHUNK_SIGNATURES_MIN};

const COMMITMENT_DOMAIN: &[u8] = b"locker/personal/v1\n";
const EVENT_HASH_DOMAIN: &[u8] = b"locker/event-hash/v1\n";

/// The id of a public key: the first 16 bytes of BLAKE3 over it.
pub fn key_id_of(key: &VerifyingKey) -> KeyId {
    let hash = blake3::hash(key.as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&hash.as_bytes()[..16]);
    KeyId(id)
}

pub fn public_key_entry(key: &VerifyingKey) -> PublicKeyEntry {
    PublicKeyEntry { key_id: key_id_of(key), public_key: PublicKeyBytes(key.to_bytes()) }
}

/// Parses a registered key, refusing malformed, small-order (weak) and mislabelled keys.
pub fn parse_public_key(entry: &PublicKeyEntry) -> Result<VerifyingKey, LedgerError> {
    let key = VerifyingKey::from_bytes(entry.public_key.as_bytes())
        .map_err(|e| LedgerError::InvalidKey { reason: e.to_string() })?;
    if key.is_weak() {
        return Err(LedgerError::InvalidKey { reason: "small-order (weak) key".to_owned() });
    }
    if key_id_of(&key) != entry.key_id {
        return Err(LedgerError::InvalidKey {
            reason: format!("key id {} is not the BLAKE3 prefix of the key", entry.key_id),
        });
    }
    Ok(key)
}

/// Signs `event` with `key` and wraps it in an envelope. `event.key_id` must name `key`.
pub fn sign_event(
    event: Event,
    key: &SigningKey,
    sealed: Option<Sealed>,
) -> Result<Envelope, LedgerError> {
    assert_eq!(event.key_id, key_id_of(&key.verifying_key()), "event names another key");
    let message = schemas::signing_bytes(&event)?;
    let signature = SignatureBytes(key.sign(&message).to_bytes());
    Ok(Envelope { event, signature, sealed, batch: None })
}

/// What an envelope's signature covers, given the event's signing bytes (as
/// `schemas::decode_signed_record` returns them): those bytes themselves, or for a
/// batch-signed event `BATCH_SIGNING_DOMAIN || size || root`, the root its inclusion path
/// leads to. A path that leads nowhere is a bad signature.
pub fn signed_message(envelope: &Envelope, signing_bytes: Vec<u8>) -> Result<Vec<u8>, LedgerError> {
    if envelope.batch.is_none() {
        return Ok(signing_bytes);
    }
    signed_message_of(envelope, &signing_bytes).map(std::borrow::Cow::into_owned)
}

/// `signed_message` for bytes held elsewhere: borrowed when the event is signed alone.
pub fn signed_message_of<'a>(
    envelope: &Envelope,
    signing_bytes: &'a [u8],
) -> Result<std::borrow::Cow<'a, [u8]>, LedgerError> {
    let Some(batch) = &envelope.batch else { return Ok(std::borrow::Cow::Borrowed(signing_bytes)) };
    let leaf = crate::rfc9162::leaf_hash(signing_bytes);
    let root = crate::rfc9162::root_from_inclusion(
        &leaf,
        u64::from(batch.index),
        u64::from(batch.size),
        &batch.path,
    )
    .map_err(|_| LedgerError::BadSignature { event_id: envelope.event.id })?;
    Ok(std::borrow::Cow::Owned(batch_message(batch.size, &root)))
}

fn batch_message(size: u32, root: &Digest32) -> Vec<u8> {
    [schemas::BATCH_SIGNING_DOMAIN, &size.to_le_bytes()[..], &root.0[..]].concat()
}

/// Signs many events with one signature over the Merkle root of their signing bytes; each
/// envelope carries its inclusion path. All events must name `key`. The cost is one
/// signature and a few hashes per event, for the signer and for every verifier.
pub fn sign_batch(
    events: Vec<(Event, Option<Sealed>)>,
    key: &SigningKey,
) -> Result<Vec<Envelope>, LedgerError> {
    let size = u32::try_from(events.len())
        .ok()
        .filter(|n| (1..=schemas::limits::BATCH_EVENTS_MAX).contains(n))
        .ok_or_else(|| {
            LedgerError::Schema(schemas::SchemaError::InvalidEvent(format!(
                "a signed batch holds 1 to {} events, not {}",
                schemas::limits::BATCH_EVENTS_MAX,
                events.len()
            )))
        })?;
    let mut tree = crate::rfc9162::MerkleTree::new();
    for (event, _) in &events {
        assert_eq!(event.key_id, key_id_of(&key.verifying_key()), "event names another key");
        tree.push(crate::rfc9162::leaf_hash(&schemas::signing_bytes(event)?));
    }
    let root = tree.root(u64::from(size)).map_err(LedgerError::Tree)?;
    let signature = SignatureBytes(key.sign(&batch_message(size, &root)).to_bytes());
    events
        .into_iter()
        .enumerate()
        .map(|(index, (event, sealed))| {
            // Below `size`, which is a u32.
            let index = u32::try_from(index).unwrap_or_else(|_| unreachable!("index < size"));
            let path = tree
                .inclusion_proof(u64::from(index), u64::from(size))
                .map_err(LedgerError::Tree)?;
            Ok(Envelope {
                event,
                signature,
                sealed,
                batch: Some(schemas::BatchProof { index, size, path }),
            })
        })
        .collect()
}

/// The identity of an event: BLAKE3 over its signed bytes and signature. The sealed payload is
/// excluded, so re-sealing the same event (a retry) yields the same hash.
pub fn event_hash(signing_bytes: &[u8], signature: &SignatureBytes) -> Digest32 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(EVENT_HASH_DOMAIN);
    hasher.update(signing_bytes);
    hasher.update(signature.as_bytes());
    Digest32(*hasher.finalize().as_bytes())
}

/// The event id of a document's issuance, derived from its URI alone. The service requires
/// it, so the log's idempotency index (one event per id, across every partition) also makes a
/// URI belong to exactly one locker: a second issuance of the URI, to anyone, is the same id.
pub fn issue_event_id(uri: &schemas::DocUri) -> schemas::EventId {
    let hash = blake3::hash(format!("locker/issue-id/v1\n{uri}").as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&hash.as_bytes()[..16]);
    schemas::EventId(id)
}

/// The e-signature a citizen makes over a document's content hash.
pub fn esign(key: &SigningKey, content_hash: &Digest32) -> SignatureBytes {
    SignatureBytes(key.sign(&esign_message(content_hash)).to_bytes())
}

pub fn esign_message(content_hash: &Digest32) -> Vec<u8> {
    let mut message = schemas::ESIGN_DOMAIN.to_vec();
    message.extend_from_slice(content_hash.as_bytes());
    message
}

/// One signature to check.
#[derive(Debug, Clone, Copy)]
pub struct VerifyItem<'a> {
    pub message: &'a [u8],
    pub signature: &'a SignatureBytes,
    pub key: &'a VerifyingKey,
}

/// Verifies every item on all cores, in Ed25519 batches; when a batch fails, each of its
/// signatures is checked alone with `verify_strict` to find exactly which are bad.
/// Returns one verdict per item, in order.
/// A message, a signature over it and the key: what one verification checks.
type SignedTriple<'a> = (&'a [u8], &'a [u8; 64], &'a [u8; 32]);

pub fn verify_all(items: &[VerifyItem<'_>]) -> Vec<bool> {
    // Batch-signed events share one signature over one root: each distinct (root message,
    // signature, key) is verified once, and its verdict is every such event's.
    let mut representative: Vec<usize> = Vec::with_capacity(items.len());
    let mut distinct: Vec<VerifyItem<'_>> = Vec::with_capacity(items.len());
    let mut seen: std::collections::HashMap<SignedTriple<'_>, usize> =
        std::collections::HashMap::new();
    for item in items {
        if item.message.starts_with(schemas::BATCH_SIGNING_DOMAIN) {
            let triple = (item.message, item.signature.as_bytes(), item.key.as_bytes());
            if let Some(&at) = seen.get(&triple) {
                representative.push(at);
                continue;
            }
            seen.insert(triple, distinct.len());
        }
        representative.push(distinct.len());
        distinct.push(VerifyItem {
            message: item.message,
            signature: item.signature,
            key: item.key,
        });
    }
    if distinct.len() == items.len() {
        return verify_distinct(items);
    }
    let verdicts = verify_distinct(&distinct);
    representative.into_iter().map(|at| verdicts[at]).collect()
}

#[cfg(feature = "store")]
fn verify_distinct(items: &[VerifyItem<'_>]) -> Vec<bool> {
    // Small inputs are split so that every core gets a share; large ones use full batches.
    let share = items.len().div_ceil(rayon::current_num_threads().max(1));
    let chunk = share.clamp(VERIFY_CHUNK_SIGNATURES_MIN, VERIFY_CHUNK_SIGNATURES);
    items.par_chunks(chunk).flat_map_iter(verify_chunk).collect()
}

/// Without the store (a verifier in a browser) there is one thread: full batches in turn.
#[cfg(not(feature = "store"))]
fn verify_distinct(items: &[VerifyItem<'_>]) -> Vec<bool> {
    let _ = VERIFY_CHUNK_SIGNATURES_MIN;
    items.chunks(VERIFY_CHUNK_SIGNATURES).flat_map(verify_chunk).collect()
}

fn verify_chunk(chunk: &[VerifyItem<'_>]) -> Vec<bool> {
    if chunk.len() > 1 {
        let messages: Vec<&[u8]> = chunk.iter().map(|item| item.message).collect();
        let signatures: Vec<Signature> =
            chunk.iter().map(|item| Signature::from_bytes(item.signature.as_bytes())).collect();
        let keys: Vec<VerifyingKey> = chunk.iter().map(|item| *item.key).collect();
        if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
            return vec![true; chunk.len()];
        }
    }
    chunk.iter().map(verify_one).collect()
}

/// The rule every signature must pass: `verify_strict`.
pub fn verify_one(item: &VerifyItem<'_>) -> bool {
    let signature = Signature::from_bytes(item.signature.as_bytes());
    item.key.verify_strict(item.message, &signature).is_ok()
}

/// A platform-keyed hash of an Aadhaar number, plus its last four digits.
pub fn aadhaar_ref(platform_secret: &[u8; 32], aadhaar: &Aadhaar) -> AadhaarRef {
    let mut input = b"aadhaar:".to_vec();
    input.extend_from_slice(aadhaar.expose_digits().as_bytes());
    AadhaarRef {
        keyed_hash: Digest32(*blake3::keyed_hash(platform_secret, &input).as_bytes()),
        last4: aadhaar.last4(),
    }
}

/// A platform-keyed hash of a mobile number, to find a locker by mobile without storing it.
pub fn mobile_ref(platform_secret: &[u8; 32], mobile: &MobileNumber) -> Digest32 {
    let mut input = b"mobile:".to_vec();
    input.extend_from_slice(mobile.as_str().as_bytes());
    Digest32(*blake3::keyed_hash(platform_secret, &input).as_bytes())
}

/// The salted hash an actor signs in place of personal fields.
pub fn commitment(salt: &[u8; 32], personal_bytes: &[u8]) -> Commitment {
    let mut hasher = blake3::Hasher::new();
    hasher.update(COMMITMENT_DOMAIN);
    hasher.update(salt);
    hasher.update(personal_bytes);
    Digest32(*hasher.finalize().as_bytes())
}

/// Commits to `data` with `salt` and seals `salt || data` under the subject's key. The actor
/// signs the commitment; the sealed payload travels beside the signed event.
pub fn seal_personal(
    subject_key: &[u8; 32],
    subject: SealSubject,
    nonce: [u8; 24],
    salt: [u8; 32],
    data: &PersonalData,
) -> Result<(Commitment, Sealed), LedgerError> {
    let personal_bytes = schemas::encode_personal(data)?;
    let commitment = commitment(&salt, &personal_bytes);
    let mut plaintext = salt.to_vec();
    plaintext.extend_from_slice(&personal_bytes);
    let cipher = XChaCha20Poly1305::new(subject_key.into());
    let ciphertext = cipher
        .encrypt(XNonce::from_slice(&nonce), plaintext.as_slice())
        .map_err(|_| LedgerError::SealBroken)?;
    Ok((commitment, Sealed { subject, nonce: Nonce24(nonce), ciphertext }))
}

/// Opens a sealed payload and checks it against the commitment the actor signed.
pub fn open_sealed(
    subject_key: &[u8; 32],
    sealed: &Sealed,
    expected: &Commitment,
) -> Result<PersonalData, LedgerError> {
    let cipher = XChaCha20Poly1305::new(subject_key.into());
    let plaintext = cipher
        .decrypt(XNonce::from_slice(sealed.nonce.as_bytes()), sealed.ciphertext.as_slice())
        .map_err(|_| LedgerError::SealBroken)?;
    let (salt, personal_bytes) =
        plaintext.split_first_chunk::<32>().ok_or(LedgerError::SealBroken)?;
    if commitment(salt, personal_bytes) != *expected {
        return Err(LedgerError::SealBroken);
    }
    Ok(schemas::decode_personal(personal_bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use schemas::{Label, LockerId, UploadPersonal};

    fn keys(count: usize) -> Vec<SigningKey> {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        (0..count).map(|_| SigningKey::generate(&mut rng)).collect()
    }

    #[test]
    fn batch_verification_finds_exactly_the_bad_signatures() {
        let signers = keys(150);
        let messages: Vec<Vec<u8>> = (0..150u32).map(|i| i.to_le_bytes().to_vec()).collect();
        let mut signatures: Vec<SignatureBytes> = signers
            .iter()
            .zip(&messages)
            .map(|(key, message)| SignatureBytes(key.sign(message).to_bytes()))
            .collect();
        let verifying: Vec<VerifyingKey> = signers.iter().map(|k| k.verifying_key()).collect();
        let bad = [3usize, 64, 65, 149];
        for &index in &bad {
            signatures[index].0[10] ^= 1;
        }
        let items: Vec<VerifyItem<'_>> = (0..150)
            .map(|i| VerifyItem {
                message: &messages[i],
                signature: &signatures[i],
                key: &verifying[i],
            })
            .collect();
        let verdicts = verify_all(&items);
        for (index, verdict) in verdicts.iter().enumerate() {
            assert_eq!(*verdict, !bad.contains(&index), "item {index}");
        }
    }

    #[test]
    fn weak_and_mislabelled_keys_are_refused() {
        let key = keys(1).remove(0).verifying_key();
        let mut entry = public_key_entry(&key);
        assert!(parse_public_key(&entry).is_ok());
        entry.key_id.0[0] ^= 1;
        assert!(matches!(parse_public_key(&entry), Err(LedgerError::InvalidKey { .. })));
        // The identity point is a small-order key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = PublicKeyEntry {
            key_id: key_id_of(&VerifyingKey::from_bytes(&identity).expect("decodes")),
            public_key: PublicKeyBytes(identity),
        };
        assert!(matches!(parse_public_key(&weak), Err(LedgerError::InvalidKey { .. })));
    }

    #[test]
    fn sealed_payloads_open_only_with_their_key_and_commitment() {
        let subject = SealSubject::Locker(LockerId::from_random_bytes([1; 16]));
        let data = PersonalData::Upload(UploadPersonal {
            file_name: Label::parse("marksheet.pdf").expect("label"),
        });
        let (commitment, sealed) =
            seal_personal(&[9; 32], subject, [2; 24], [3; 32], &data).expect("seal");
        assert_eq!(open_sealed(&[9; 32], &sealed, &commitment).expect("open"), data);
        assert!(matches!(
            open_sealed(&[8; 32], &sealed, &commitment),
            Err(LedgerError::SealBroken)
        ));
        let mut other = commitment;
        other.0[0] ^= 1;
        assert!(matches!(open_sealed(&[9; 32], &sealed, &other), Err(LedgerError::SealBroken)));
        // Without the key (erased), the commitment is all that remains, and it is salted.
        let unsalted = commitment_of_unsalted(&data);
        assert_ne!(unsalted, commitment);
    }

    fn commitment_of_unsalted(data: &PersonalData) -> Commitment {
        commitment(&[0; 32], &schemas::encode_personal(data).expect("encode"))
    }

    #[test]
    fn esignatures_verify_against_the_content_hash() {
        let key = keys(1).remove(0);
        let hash = Digest32([5; 32]);
        let signature = esign(&key, &hash);
        let message = esign_message(&hash);
        let verifying = key.verifying_key();
        assert!(verify_one(&VerifyItem {
            message: &message,
            signature: &signature,
            key: &verifying
        }));
        let other = esign_message(&Digest32([6; 32]));
        assert!(!verify_one(&VerifyItem {
            message: &other,
            signature: &signature,
            key: &verifying
        }));
    }
}
