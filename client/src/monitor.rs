//! `locker monitor`: an outside party watching the ledger grow. One round (run it from cron or
//! a loop) fetches the latest signed checkpoints, checks each with the ledger key it trusts,
//! and proves with a consistency proof from the service that each partition's tree extends the
//! checkpoint it saw last time (kept in a state file of signed notes). A log that shrank,
//! forked or rewrote its history fails the round, naming the partition.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use wire::dto::{CheckpointsDto, ConsistencyDto};

use ed25519_dalek::VerifyingKey;
use ledger::merkle::{SignedCheckpoint, verify_consistency};
use schemas::Digest32;

use crate::ClientError;
use crate::http::JsonClient;

/// What one round found for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    First { size: u64 },
    Same { size: u64 },
    Grew { from: u64, to: u64 },
}

/// The round's outcome: every partition's, or the first violation.
pub type Round = Result<Vec<(String, Seen)>, ClientError>;

fn load(state: &Path) -> Result<BTreeMap<String, SignedCheckpoint>, ClientError> {
    let unusable =
        |e: &dyn std::fmt::Display| ClientError::Input(format!("{}: {e}", state.display()));
    let text = match std::fs::read_to_string(state) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(unusable(&e)),
    };
    let notes: Vec<String> = serde_json::from_str(&text)
        .map_err(|e| unusable(&format!("not a monitor state file: {e}")))?;
    notes
        .iter()
        .map(|note| {
            let signed = SignedCheckpoint::from_note(note.as_bytes()).map_err(|e| unusable(&e))?;
            let c = &signed.checkpoint;
            Ok((format!("{}/{}", c.topic, c.partition), signed))
        })
        .collect()
}

fn save(state: &Path, seen: &BTreeMap<String, SignedCheckpoint>) -> Result<(), ClientError> {
    let unwritable = |path: &Path, e: &dyn std::fmt::Display| {
        ClientError::Input(format!("{}: {e}", path.display()))
    };
    let notes: Vec<String> =
        seen.values().map(|s| String::from_utf8_lossy(&s.to_note()).into_owned()).collect();
    let text = serde_json::to_string_pretty(&notes).map_err(|e| unwritable(state, &e))?;
    // Written aside and renamed: a crash never leaves half a state file.
    let temporary = state.with_extension("tmp");
    std::fs::write(&temporary, text).map_err(|e| unwritable(&temporary, &e))?;
    std::fs::rename(&temporary, state).map_err(|e| unwritable(state, &e))
}

/// One round against `server`, remembering in `state`. The state is saved only when every
/// partition checked out, so a violation is reported again on the next round.
pub async fn round(server: &str, ledger_key: &VerifyingKey, state: &Path) -> Round {
    let client = JsonClient::new(Duration::from_millis(crate::limits::REQUEST_TIMEOUT_MS));
    let mut seen = load(state)?;
    let server = server.trim_end_matches('/');
    let latest: CheckpointsDto =
        client.typed("GET", &format!("{server}/v1/ledger/checkpoints"), &[], Vec::new()).await?;
    let notes = latest.checkpoints.into_iter().map(|c| c.note);
    let mut outcome = Vec::new();
    for note in notes {
        let signed = SignedCheckpoint::from_note(note.as_bytes())
            .map_err(|e| ClientError::Answer(e.to_string()))?;
        let c = &signed.checkpoint;
        let name = format!("{}/{}", c.topic, c.partition);
        signed.verify(ledger_key).map_err(|e| ClientError::Check(format!("{name}: {e}")))?;
        let what = match seen.get(&name) {
            None => Seen::First { size: c.size },
            Some(old) => {
                let o = &old.checkpoint;
                if c.size < o.size {
                    return Err(ClientError::Check(format!(
                        "{name}: the log shrank from {} to {} records since the last round",
                        o.size, c.size
                    )));
                }
                if c.size == o.size {
                    if c.root != o.root {
                        return Err(ClientError::Check(format!(
                            "{name}: two different roots signed for {} records ({} and {}): the history was rewritten",
                            c.size, o.root, c.root
                        )));
                    }
                    Seen::Same { size: c.size }
                } else {
                    let url = format!(
                        "{server}/v1/ledger/consistency?topic={}&partition={}&first={}&second={}",
                        c.topic, c.partition, o.size, c.size
                    );
                    let answer: ConsistencyDto = client.typed("GET", &url, &[], Vec::new()).await?;
                    let proof = answer
                        .proof
                        .iter()
                        .map(|h| Digest32::from_hex(h).ok())
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| {
                            ClientError::Answer(
                                "a consistency proof holds hashes of 64 hex digits".to_owned(),
                            )
                        })?;
                    verify_consistency(o.size, c.size, &o.root, &c.root, &proof).map_err(|e| {
                        ClientError::Check(format!(
                            "{name}: the tree of {} records does not extend the one of {} seen before: {e}",
                            c.size, o.size
                        ))
                    })?;
                    Seen::Grew { from: o.size, to: c.size }
                }
            }
        };
        outcome.push((name.clone(), what));
        seen.insert(name, signed);
    }
    save(state, &seen)?;
    Ok(outcome)
}
