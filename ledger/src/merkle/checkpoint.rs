//! Signed checkpoints: the ledger's statement "partition P of topic T had N records with root
//! R at time t", signed with the ledger's Ed25519 key and appended to a checkpoint topic. A
//! checkpoint is signed only after the tree proves it extends the previous one (a consistency
//! proof, checked with the independent verifier); otherwise the ledger refuses and stops, so
//! consecutive checkpoints are consistent by construction.
//!
//! The signed body is text, in the spirit of C2SP checkpoints, so a person or another tool can
//! read it:
//!
//! ```text
//! locker checkpoint v1
//! <topic>/<partition>
//! <tree size>
//! <root, hex>
//! <time, unix ms>
//! ```

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
#[cfg(feature = "store")]
use schemas::EventId;
use schemas::{Digest32, KeyId, SignatureBytes, TimestampMs};

#[cfg(feature = "store")]
use super::store::PartitionTree;
#[cfg(feature = "store")]
use crate::log::{AppendRequest, Log};
#[cfg(feature = "store")]
use crate::rfc9162::ProofError;
#[cfg(feature = "store")]
use crate::rfc9162::verify_consistency;
#[cfg(feature = "store")]
use crate::{LedgerError, LogError};

/// What the signature covers, before the body.
pub const CHECKPOINT_DOMAIN: &[u8] = b"locker/checkpoint/v1\n";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub topic: String,
    pub partition: u32,
    pub size: u64,
    pub root: Digest32,
    pub at_ms: TimestampMs,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub key_id: KeyId,
    pub signature: SignatureBytes,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("not a signed checkpoint: {0}")]
    Malformed(String),
    #[error("the checkpoint is signed by key {got}, not the ledger's key {want}")]
    WrongKey { got: KeyId, want: KeyId },
    #[error("the checkpoint's signature does not verify")]
    BadSignature,
}

impl Checkpoint {
    /// The text the signature covers (after `CHECKPOINT_DOMAIN`).
    pub fn body(&self) -> String {
        format!(
            "locker checkpoint v1\n{}/{}\n{}\n{}\n{}\n",
            self.topic,
            self.partition,
            self.size,
            self.root.to_hex(),
            self.at_ms.0
        )
    }

    pub fn sign(self, key: &SigningKey) -> SignedCheckpoint {
        let message = [CHECKPOINT_DOMAIN, self.body().as_bytes()].concat();
        SignedCheckpoint {
            key_id: crate::crypto::key_id_of(&key.verifying_key()),
            signature: SignatureBytes(key.sign(&message).to_bytes()),
            checkpoint: self,
        }
    }
}

impl SignedCheckpoint {
    /// Checks the signature with the ledger's public key, and nothing else.
    pub fn verify(&self, ledger_key: &VerifyingKey) -> Result<(), CheckpointError> {
        let want = crate::crypto::key_id_of(ledger_key);
        if self.key_id != want {
            return Err(CheckpointError::WrongKey { got: self.key_id, want });
        }
        let message = [CHECKPOINT_DOMAIN, self.checkpoint.body().as_bytes()].concat();
        ledger_key
            .verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&self.signature.0))
            .map_err(|_| CheckpointError::BadSignature)
    }

    /// The stored form, a signed note: the body, a blank line, `sig <key id> <signature>`.
    pub fn to_note(&self) -> Vec<u8> {
        format!("{}\nsig {} {}\n", self.checkpoint.body(), self.key_id, self.signature).into_bytes()
    }

    /// Reads a signed note, strictly: exactly the form `to_note` writes.
    pub fn from_note(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let bad = |what: &str| CheckpointError::Malformed(what.to_owned());
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        let lines: Vec<&str> = text.split('\n').collect();
        let [magic, origin, size, root, at, blank, sig, end] = lines.as_slice() else {
            return Err(bad("a checkpoint note has 7 lines"));
        };
        if *magic != "locker checkpoint v1" || !blank.is_empty() || !end.is_empty() {
            return Err(bad("not a locker checkpoint v1 note"));
        }
        let (topic, partition) =
            origin.rsplit_once('/').ok_or_else(|| bad("origin is topic/partition"))?;
        let number = |text: &str, what: &str| -> Result<u64, CheckpointError> {
            if text.is_empty()
                || text.starts_with('0') && text.len() > 1
                || !text.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(bad(what));
            }
            text.parse().map_err(|_| bad(what))
        };
        let checkpoint = Checkpoint {
            topic: topic.to_owned(),
            partition: u32::try_from(number(partition, "partition")?)
                .map_err(|_| bad("partition"))?,
            size: number(size, "size")?,
            root: Digest32::from_hex(root).map_err(|_| bad("root is 64 hex digits"))?,
            at_ms: TimestampMs(i64::try_from(number(at, "time")?).map_err(|_| bad("time"))?),
        };
        let mut parts = sig.split(' ');
        let (Some("sig"), Some(key_id), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("the last line is `sig <key id> <signature>`"));
        };
        let signed = SignedCheckpoint {
            checkpoint,
            key_id: KeyId::from_hex(key_id).map_err(|_| bad("key id is 32 hex digits"))?,
            signature: SignatureBytes::from_hex(signature)
                .map_err(|_| bad("signature is 128 hex digits"))?,
        };
        // One checkpoint, one byte form.
        if signed.to_note() != bytes {
            return Err(bad("not in canonical form"));
        }
        Ok(signed)
    }
}

#[cfg(feature = "store")]
/// Signs a checkpoint of `tree` at its current size if it has grown since `last`, after
/// proving the growth consistent with `last`; appends it to `checkpoint_topic`. Returns the new
/// checkpoint, or `None` when the tree has not grown.
pub async fn checkpoint<L: Log>(
    log: &L,
    checkpoint_topic: &str,
    tree: &PartitionTree<'_>,
    (topic, partition): (&str, u32),
    last: Option<&SignedCheckpoint>,
    key: &SigningKey,
    now: TimestampMs,
) -> Result<Option<SignedCheckpoint>, LedgerError> {
    let size = tree.size();
    let root = tree.root(size)?;
    if let Some(last) = last {
        let old = &last.checkpoint;
        if old.topic != topic || old.partition != partition || old.size > size {
            return Err(ProofError::Inconsistent(format!(
                "the last checkpoint ({}/{} at {}) does not precede {topic}/{partition} at {size}",
                old.topic, old.partition, old.size
            ))
            .into());
        }
        if old.size == size {
            return Ok(None);
        }
        let proof = tree.consistency_proof(old.size, size)?;
        verify_consistency(old.size, size, &old.root, &root, &proof).map_err(|e| {
            ProofError::Inconsistent(format!(
                "refusing to sign: the tree at {size} does not extend the checkpoint at {}: {e}",
                old.size
            ))
        })?;
    } else if size == 0 {
        return Ok(None);
    }
    let signed =
        Checkpoint { topic: topic.to_owned(), partition, size, root, at_ms: now }.sign(key);
    let value = signed.to_note();
    let hash = blake3::hash(&[CHECKPOINT_DOMAIN, signed.checkpoint.body().as_bytes()].concat());
    let mut id = [0u8; 16];
    id.copy_from_slice(&hash.as_bytes()[..16]);
    let request = AppendRequest {
        id: EventId(id),
        digest: Digest32(*blake3::hash(&value).as_bytes()),
        key: format!("{topic}/{partition}").into_bytes(),
        value,
    };
    let mut verdicts = log.append(checkpoint_topic, vec![request]).await?;
    match verdicts.pop() {
        Some(Ok(_)) => Ok(Some(signed)),
        Some(Err(e)) => Err(e.into()),
        None => Err(LogError::Storage("no verdict for the checkpoint".to_owned()).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SignedCheckpoint {
        Checkpoint {
            topic: "locker.events".to_owned(),
            partition: 3,
            size: 1234,
            root: Digest32([7; 32]),
            at_ms: TimestampMs(1_715_600_000_000),
        }
        .sign(&SigningKey::from_bytes(&[1; 32]))
    }

    #[test]
    fn notes_round_trip_and_verify() {
        let signed = sample();
        let note = signed.to_note();
        assert!(
            String::from_utf8_lossy(&note)
                .starts_with("locker checkpoint v1\nlocker.events/3\n1234\n")
        );
        let parsed = SignedCheckpoint::from_note(&note).expect("parse");
        assert_eq!(parsed, signed);
        let key = SigningKey::from_bytes(&[1; 32]).verifying_key();
        assert_eq!(parsed.verify(&key), Ok(()));
        let other = SigningKey::from_bytes(&[2; 32]).verifying_key();
        assert!(matches!(parsed.verify(&other), Err(CheckpointError::WrongKey { .. })));
    }

    #[test]
    fn altered_or_malformed_notes_are_refused() {
        let key = SigningKey::from_bytes(&[1; 32]).verifying_key();
        let note = String::from_utf8(sample().to_note()).expect("text");
        // A different size with the old signature: parses, does not verify.
        let altered = note.replace("\n1234\n", "\n1235\n");
        let parsed = SignedCheckpoint::from_note(altered.as_bytes()).expect("well formed");
        assert_eq!(parsed.verify(&key), Err(CheckpointError::BadSignature));
        for bad in [
            String::new(),
            note.replace("v1", "v2"),
            note.replace("\n1234\n", "\n01234\n"),
            note.replace("\n1234\n", "\n-1\n"),
            note.replace("locker.events/3", "locker.events"),
            note.replace("sig ", "sig  "),
            format!("{note}extra"),
            note.trim_end().to_owned(),
            note.replace(&"07".repeat(32), "zz"),
        ] {
            assert!(SignedCheckpoint::from_note(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(SignedCheckpoint::from_note(&[0xff, 0xfe]).is_err());
    }
}

#[cfg(feature = "store")]
/// When a partition gets a new checkpoint: after this many new records, or after this long
/// with any new record.
#[derive(Debug, Clone, Copy)]
pub struct CheckpointPolicy {
    pub every_records: u64,
    pub every_ms: i64,
}

#[cfg(feature = "store")]
/// The latest checkpoint of each partition in the checkpoint topic.
pub async fn last_checkpoints<L: Log>(
    log: &L,
    checkpoint_topic: &str,
) -> Result<std::collections::HashMap<(String, u32), SignedCheckpoint>, LedgerError> {
    let mut last = std::collections::HashMap::new();
    for partition in 0..log.partitions(checkpoint_topic)? {
        let mut offset = 0;
        loop {
            let records = log
                .read(checkpoint_topic, partition, offset, crate::limits::READ_RECORDS_MAX)
                .await?;
            let Some(tail) = records.last() else { break };
            offset = tail.position.offset + 1;
            for record in records {
                let signed =
                    SignedCheckpoint::from_note(&record.value).map_err(|e| LogError::Corrupt {
                        location: format!(
                            "{checkpoint_topic}/{partition} offset {}",
                            record.position.offset
                        ),
                        reason: e.to_string(),
                    })?;
                let key = (signed.checkpoint.topic.clone(), signed.checkpoint.partition);
                last.insert(key, signed);
            }
        }
    }
    Ok(last)
}

#[cfg(feature = "store")]
/// Brings every partition's tree up to the log and signs the checkpoints the policy calls
/// for; returns how many it signed. `last` is updated. Leaves come from `tail` where it
/// holds them (`follow::catch_up`).
#[allow(clippy::too_many_arguments)]
pub async fn checkpoint_partitions<L: Log>(
    log: &L,
    tail: Option<&crate::Tail>,
    store: &super::store::TreeStore,
    partitions: &[(String, u32)],
    checkpoint_topic: &str,
    key: &SigningKey,
    last: &mut std::collections::HashMap<(String, u32), SignedCheckpoint>,
    now: TimestampMs,
    policy: CheckpointPolicy,
) -> Result<usize, LedgerError> {
    let mut signed = 0;
    for (topic, partition) in partitions {
        let mut tree = store.tree(topic, *partition)?;
        super::follow::catch_up(log, tail, topic, *partition, &mut tree).await?;
        let previous = last.get(&(topic.clone(), *partition));
        let due = match previous {
            None => tree.size() > 0,
            Some(p) => {
                let grown = tree.size().saturating_sub(p.checkpoint.size);
                grown >= policy.every_records
                    || (grown > 0 && now.0 - p.checkpoint.at_ms.0 >= policy.every_ms)
            }
        };
        if !due {
            continue;
        }
        if let Some(new) =
            checkpoint(log, checkpoint_topic, &tree, (topic, *partition), previous, key, now)
                .await?
        {
            last.insert((topic.clone(), *partition), new);
            signed += 1;
        }
    }
    Ok(signed)
}
