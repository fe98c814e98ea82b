//! Appending events the service signs itself: as a citizen (with the custodial key in the
//! vault) or as the platform. Callers hold their partition's write turn when the event depends
//! on state; the append waits until the views include the event, so the caller's next read
//! sees it. `Appender` is the write side as the handlers see it (records in, verdicts out),
//! implemented by the ledger.

use ledger::Appended;
use ledger::crypto::{key_id_of, sign_event};
use schemas::{Actor, Event, EventId, LockerId, Payload, PersonalData, Sealed, encode_record};

use crate::app::error::ledger_error;
use crate::{AppError, AppState};
use ledger::{Ledger, LedgerError, Log, Verdict};
use schemas::{Envelope, SignedEnvelope};
use std::pin::Pin;
use wire::ErrorCode;
use wire::dto::Accepted;

pub(crate) fn internal(e: impl std::fmt::Debug) -> AppError {
    AppError::new(ErrorCode::Internal, format!("{e:?}"))
}

/// A closed locker's key refused as `locker_closed`; any other vault failure is internal.
pub(crate) fn vault_error(e: crate::store::vault::VaultError) -> AppError {
    match e {
        crate::store::vault::VaultError::Erased => {
            AppError::new(ErrorCode::LockerClosed, e.to_string())
        }
        other => internal(other),
    }
}

async fn append(
    state: &AppState,
    event: Event,
    key: &ed25519_dalek::SigningKey,
    sealed: Option<Sealed>,
) -> Result<ledger::Position, AppError> {
    let envelope = sign_event(event, key, sealed).map_err(ledger_error)?;
    Ok(log(state, &envelope, true, ledger_error).await?.position())
}

/// Appends an envelope; with `settle`, waits until the views include a new event.
async fn log(
    state: &AppState,
    envelope: &schemas::Envelope,
    settle: bool,
    refusal: impl FnOnce(ledger::LedgerError) -> AppError,
) -> Result<Appended, AppError> {
    let record = encode_record(envelope).map_err(|e| ledger_error(e.into()))?;
    let appended = state.appender.append_record(record).await.map_err(refusal)?;
    if let Appended::New(position) = appended
        && settle
    {
        state.writes.settle(position).await?;
    }
    Ok(appended)
}

/// Appends an event a client signed: `accepted`, or `already_present` for a retry.
/// With `settle` (citizen-topic events), waits until the views include it. `refusal` maps the
/// ledger's refusals to the caller's codes.
pub(crate) async fn submit(
    state: &AppState,
    envelope: &schemas::Envelope,
    settle: bool,
    refusal: impl FnOnce(ledger::LedgerError) -> AppError,
) -> Result<Accepted, AppError> {
    let (word, position) = match log(state, envelope, settle, refusal).await? {
        Appended::New(position) => ("accepted", position),
        Appended::Existing(position) => ("already_present", position),
    };
    let accepted = Accepted {
        status: word.to_owned(),
        event_id: envelope.event.id.to_string(),
        partition: position.partition,
        offset: position.offset,
    };
    Ok(accepted)
}

/// A fresh random event id.
pub(crate) fn new_id(state: &AppState) -> Result<EventId, AppError> {
    Ok(EventId(state.accounts.random().map_err(internal)?))
}

/// Signs `payload` as the citizen (custodial key) and appends it.
pub(crate) async fn as_citizen(
    state: &AppState,
    locker: &LockerId,
    payload: Payload,
    sealed: Option<Sealed>,
) -> Result<ledger::Position, AppError> {
    as_citizen_with_id(state, locker, new_id(state)?, payload, sealed).await
}

/// The same, with an id the caller chose (and so knows before the event is logged).
pub(crate) async fn as_citizen_with_id(
    state: &AppState,
    locker: &LockerId,
    id: EventId,
    payload: Payload,
    sealed: Option<Sealed>,
) -> Result<ledger::Position, AppError> {
    let key = citizen_key(state, locker)?;
    let event = Event {
        id,
        occurred_at_ms: state.clock.now(),
        actor: Actor::Citizen(*locker),
        key_id: key_id_of(&key.verifying_key()),
        payload,
    };
    append(state, event, &key, sealed).await
}

/// The citizen's custodial signing key.
pub(crate) fn citizen_key(
    state: &AppState,
    locker: &LockerId,
) -> Result<ed25519_dalek::SigningKey, AppError> {
    state
        .vault
        .signing_key(locker)
        .ok_or_else(|| internal("the citizen's signing key is missing from the vault"))
}

/// Signs `payload` as the platform and appends it.
pub(crate) async fn as_platform(
    state: &AppState,
    payload: Payload,
) -> Result<ledger::Position, AppError> {
    as_platform_with_id(state, new_id(state)?, payload).await
}

/// Signs `payload` as the platform, with its sealed personal fields, and appends it.
pub(crate) async fn as_platform_sealed(
    state: &AppState,
    payload: Payload,
    sealed: Sealed,
) -> Result<ledger::Position, AppError> {
    let event = Event {
        id: new_id(state)?,
        occurred_at_ms: state.clock.now(),
        actor: Actor::Platform,
        key_id: key_id_of(&state.platform.verifying_key()),
        payload,
    };
    append(state, event, &state.platform, Some(sealed)).await
}

/// The same, with an id the caller derived (so a repeat is recognised).
pub(crate) async fn as_platform_with_id(
    state: &AppState,
    id: EventId,
    payload: Payload,
) -> Result<ledger::Position, AppError> {
    let event = Event {
        id,
        occurred_at_ms: state.clock.now(),
        actor: Actor::Platform,
        key_id: key_id_of(&state.platform.verifying_key()),
        payload,
    };
    append(state, event, &state.platform, None).await
}

/// Commits to and seals `data` for the locker; returns the commitment the event signs and
/// the sealed payload that travels beside it.
pub(crate) fn seal_for(
    state: &AppState,
    locker: &LockerId,
    data: &PersonalData,
) -> Result<(schemas::Commitment, Sealed), AppError> {
    let subject = schemas::SealSubject::Locker(*locker);
    let key = state.vault.key_for(&subject).map_err(vault_error)?;
    let salt = state.accounts.random().map_err(internal)?;
    ledger::crypto::seal_personal(&key, subject, state.nonces.next(), salt, data)
        .map_err(ledger_error)
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The write side as the handlers see it: records in, verdicts out.
pub trait Appender: Send + Sync {
    fn append_record(&self, record: Vec<u8>) -> Pin<Box<dyn Future<Output = Verdict> + Send + '_>>;
    /// Many records in one call (at most `ledger::limits::APPEND_BATCH_RECORDS_MAX`):
    /// verified in parallel batches, written with one group commit.
    fn append_records(
        &self,
        records: Vec<Vec<u8>>,
    ) -> BoxFuture<'_, Result<Vec<Verdict>, LedgerError>>;
    /// `append_records` for envelopes held typed: encoded once by the ledger, never decoded.
    fn append_envelopes(
        &self,
        envelopes: Vec<Envelope>,
    ) -> BoxFuture<'_, Result<Vec<Verdict>, LedgerError>>;
    /// Checks client-signed events as an append would (registry and signature) and appends
    /// nothing: the service authenticates a client's events before any work for them.
    /// Each envelope comes back with its verdict.
    fn authenticate(&self, envelopes: Vec<SignedEnvelope>) -> BoxFuture<'_, ledger::Authenticated>;
    /// The events already logged under these ids, if any.
    fn logged_events(
        &self,
        ids: Vec<schemas::EventId>,
    ) -> BoxFuture<'_, Result<Vec<Option<Envelope>>, LedgerError>>;
    /// The event logged at `offset` of a topic's partition.
    fn logged_at(
        &self,
        topic: String,
        partition: u32,
        offset: u64,
    ) -> BoxFuture<'_, Result<Envelope, LedgerError>>;
    /// The principal's key if it may sign now (authenticates HTTP message signatures).
    fn active_key<'a>(
        &'a self,
        principal: &'a schemas::Principal,
        key_id: &'a schemas::KeyId,
    ) -> Pin<Box<dyn Future<Output = Result<ed25519_dalek::VerifyingKey, LedgerError>> + Send + 'a>>;
}

/// Sorted offsets cut into spans that are read whole: a span ends where the next offset is
/// `RERUN_SPAN_RECORDS_MAX` or more past its first.
fn spans(offsets: &[(u64, usize)]) -> Vec<&[(u64, usize)]> {
    let mut spans = Vec::new();
    let mut start = 0;
    for (k, (offset, _)) in offsets.iter().enumerate() {
        if *offset - offsets[start].0 >= crate::limits::RERUN_SPAN_RECORDS_MAX {
            spans.push(&offsets[start..k]);
            start = k;
        }
    }
    if start < offsets.len() {
        spans.push(&offsets[start..]);
    }
    spans
}

/// The records from a span's first offset to its last, by offset.
async fn read_span<L: Log>(
    log: &L,
    topic: &str,
    partition: u32,
    span: &[(u64, usize)],
) -> Result<std::collections::HashMap<u64, ledger::LogRecord>, LedgerError> {
    let (Some(first), Some(last)) = (span.first(), span.last()) else {
        return Ok(std::collections::HashMap::new());
    };
    let (mut from, last) = (first.0, last.0);
    let mut records = std::collections::HashMap::new();
    while from <= last {
        let want = usize::try_from(last - from + 1).unwrap_or(usize::MAX);
        let batch = log.read_batch(topic, partition, from, want).await?;
        if batch.records.is_empty() && batch.next_offset <= from {
            break;
        }
        for record in batch.records {
            if record.position.offset <= last {
                records.insert(record.position.offset, record);
            }
        }
        from = batch.next_offset;
    }
    Ok(records)
}

fn not_logged(topic: &str, partition: u32, offset: u64) -> LedgerError {
    LedgerError::Log(ledger::LogError::Corrupt {
        location: format!("topic {topic} partition {partition} offset {offset}"),
        reason: "a record the ledger logged is not in the log".to_owned(),
    })
}

impl<L: Log> Appender for Ledger<L> {
    fn append_record(&self, record: Vec<u8>) -> Pin<Box<dyn Future<Output = Verdict> + Send + '_>> {
        Box::pin(self.append_one(record))
    }
    fn append_records(
        &self,
        records: Vec<Vec<u8>>,
    ) -> BoxFuture<'_, Result<Vec<Verdict>, LedgerError>> {
        Box::pin(self.append(records))
    }
    fn append_envelopes(
        &self,
        envelopes: Vec<Envelope>,
    ) -> BoxFuture<'_, Result<Vec<Verdict>, LedgerError>> {
        Box::pin(Ledger::append_envelopes(self, envelopes))
    }
    fn authenticate(&self, envelopes: Vec<SignedEnvelope>) -> BoxFuture<'_, ledger::Authenticated> {
        Box::pin(Ledger::authenticate(self, envelopes))
    }
    fn logged_events(
        &self,
        ids: Vec<schemas::EventId>,
    ) -> BoxFuture<'_, Result<Vec<Option<Envelope>>, LedgerError>> {
        Box::pin(async move {
            let entries = self.log().lookup(&ids).await?;
            let mut events: Vec<Option<Envelope>> = entries.iter().map(|_| None).collect();
            // By partition, so a re-run's rows (logged together, so near each other) are read
            // a span at a time: one read per row cost a Kafka fetch each (4.6 ms a row).
            let mut wanted: std::collections::BTreeMap<(String, u32), Vec<(u64, usize)>> =
                std::collections::BTreeMap::new();
            for (index, entry) in entries.into_iter().enumerate() {
                if let Some(entry) = entry {
                    let at = (entry.position.offset, index);
                    wanted.entry((entry.topic, entry.position.partition)).or_default().push(at);
                }
            }
            for ((topic, partition), mut offsets) in wanted {
                offsets.sort_unstable();
                for span in spans(&offsets) {
                    let records = read_span(self.log().as_ref(), &topic, partition, span).await?;
                    for &(offset, index) in span {
                        let record = records
                            .get(&offset)
                            .ok_or_else(|| not_logged(&topic, partition, offset))?;
                        events[index] = Some(ledger::decode_logged(&topic, record)?);
                    }
                }
            }
            Ok(events)
        })
    }
    fn logged_at(
        &self,
        topic: String,
        partition: u32,
        offset: u64,
    ) -> BoxFuture<'_, Result<Envelope, LedgerError>> {
        Box::pin(async move {
            let records = self.log().read(&topic, partition, offset, 1).await?;
            let record = records
                .into_iter()
                .next()
                .filter(|r| r.position.partition == partition && r.position.offset == offset)
                .ok_or_else(|| not_logged(&topic, partition, offset))?;
            ledger::decode_logged(&topic, &record)
        })
    }
    fn active_key<'a>(
        &'a self,
        principal: &'a schemas::Principal,
        key_id: &'a schemas::KeyId,
    ) -> Pin<Box<dyn Future<Output = Result<ed25519_dalek::VerifyingKey, LedgerError>> + Send + 'a>>
    {
        Box::pin(Ledger::active_key(self, principal, key_id))
    }
}

#[cfg(test)]
mod span_tests {
    use super::spans;

    #[test]
    fn offsets_far_apart_are_read_in_separate_spans() {
        let offsets: Vec<(u64, usize)> =
            [1, 2, 2, 3, 4_097, 4_098, 20_000].iter().enumerate().map(|(i, o)| (*o, i)).collect();
        let cut: Vec<Vec<u64>> =
            spans(&offsets).iter().map(|s| s.iter().map(|(o, _)| *o).collect()).collect();
        assert_eq!(cut, vec![vec![1, 2, 2, 3], vec![4_097, 4_098], vec![20_000]]);
        assert!(spans(&[]).is_empty());
    }
}
