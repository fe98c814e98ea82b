//! Bulk issuance's path, for HTTP batches and the Kafka inbox alike: rows parsed and checked on
//! all cores; ids looked up, so a re-run is told apart from a conflicting document; sealing keys
//! fetched or created in one synced write; events sealed; one `Ledger::append` that verifies
//! signatures in parallel batches and writes with one group commit. Every row gets its own verdict,
//! in order; bad rows never stop good ones.

use crate::app::error::invalid_event;
use crate::app::error::ledger_error;
use crate::app::issuance::UriClaim;
use crate::app::issuance::{PushBody, committed_personal};
use crate::store::accounts::Claim;
use crate::{AppError, AppState};
use ledger::{Appended, LedgerError};
use rayon::prelude::*;
use schemas::{
    Actor, Envelope, EventId, Payload, PersonalData, Recipient, SealSubject, SignedEnvelope,
};
use std::collections::HashMap;
use wire::ErrorCode;
use wire::dto::RowResult;

/// A row's refusal, with its code and message.
fn rejected(row: usize, e: AppError) -> RowResult {
    RowResult::rejected(row, e.code.code(), e.message)
}

/// A row that passed the checks that need no state.
struct Parsed {
    envelope: Envelope,
    personal: Option<([u8; 32], PersonalData)>,
}

/// A row read but not yet authenticated: its envelope with what its actor signed.
struct Read {
    signed: SignedEnvelope,
    personal: Option<([u8; 32], PersonalData)>,
}

/// How a batch's rows are written: NDJSON for people, binary (`wire::rows`) for machines.
pub(crate) use wire::rows::Format as RowFormat;

/// A row's envelope, with what its actor signed, and its personal fields as sent.
fn read_row(line: &[u8], format: RowFormat) -> Result<(SignedEnvelope, SentPersonal), AppError> {
    match format {
        RowFormat::Ndjson => {
            let body: PushBody = crate::app::json::json(line)?;
            if body.content.is_some() {
                return Err(AppError::new(
                    ErrorCode::ContentNotSupported,
                    "bulk rows register documents by hash; push documents with their bytes one by one",
                ));
            }
            let signed = SignedEnvelope::new(body.envelope)
                .map_err(|e| invalid_event(format!("a row's event: {e}")))?;
            Ok((signed, SentPersonal::Json(body.personal)))
        }
        RowFormat::Binary => {
            let (envelope, personal) = wire::rows::decode_row(line)
                .map_err(|e| invalid_event(format!("a binary row: {e}")))?;
            Ok((envelope, SentPersonal::Binary(personal)))
        }
    }
}

enum SentPersonal {
    Json(Option<crate::app::issuance::PersonalBody>),
    Binary(Option<([u8; 32], schemas::PersonalData)>),
}

/// Everything about one row that can be checked alone (on any core).
fn parse_row(line: &[u8], format: RowFormat) -> Result<Read, AppError> {
    let (signed, sent) = read_row(line, format)?;
    let envelope = signed.envelope();
    let event = &envelope.event;
    if !matches!(event.actor, Actor::Issuer(_)) {
        return Err(AppError::new(ErrorCode::NotPermitted, "only issuers push documents"));
    }
    let Payload::DocumentIssued(issued) = &event.payload else {
        return Err(invalid_event(format!(
            "{} in a bulk batch: batches carry document_issued events",
            event.payload.kind_name()
        )));
    };
    if envelope.sealed.is_some() {
        return Err(invalid_event(
            "send personal fields in clear under `personal`; the service seals them",
        ));
    }
    if event.id != ledger::crypto::issue_event_id(&issued.uri) {
        return Err(AppError::new(
            ErrorCode::InvalidEventId,
            format!(
                "an issuance's event id is derived from its URI ({})",
                ledger::crypto::issue_event_id(&issued.uri)
            ),
        ));
    }
    let personal = match sent {
        SentPersonal::Json(sent) => committed_personal(issued.personal, sent)?,
        SentPersonal::Binary(sent) => crate::app::issuance::committed(issued.personal, sent, Ok)?,
    };
    Ok(Read { signed, personal })
}

fn uri_exists() -> AppError {
    AppError::new(
        ErrorCode::UriExists,
        "this URI is already issued with other content (a URI belongs to exactly one document)",
    )
}

/// A re-run sends the same document again, signed at another time: the same issuance if
/// everything but the time is the same.
fn same_issuance(logged: &Envelope, sent: &Envelope) -> bool {
    logged.event.actor == sent.event.actor && logged.event.payload == sent.event.payload
}

/// The verdicts of a batch of rows, in order (HTTP batches and the Kafka inbox alike). The
/// error means nothing of the batch was written (the log is unavailable): retry it.
pub(crate) async fn process(
    state: &AppState,
    lines: Vec<Vec<u8>>,
    format: RowFormat,
) -> Result<Vec<RowResult>, AppError> {
    let rows = lines.len();
    let mut results: Verdicts = (0..rows).map(|_| None).collect();
    let read = parse_rows(lines, format, &mut results).await?;
    let candidates = authentic_rows(state, read, &mut results).await?;
    let candidates = declared_rows(state, candidates, &mut results)?;
    let candidates = owned_rows(state, candidates, &mut results);
    let fresh = fresh_rows(state, candidates, &mut results).await?;
    let (fresh, claimed) = claimed_rows(state, fresh, &mut results).await?;
    let written = write_rows(state, fresh, &mut results).await;
    crate::app::issuance::settle_uri_claims(state, &claimed, |index| {
        results[index].as_ref().is_none_or(|r| r.status == "rejected")
    })
    .await;
    written?;
    Ok(results
        .into_iter()
        .enumerate()
        .map(|(index, r)| {
            r.unwrap_or_else(|| {
                rejected(index + 1, crate::app::write::internal("row without a verdict"))
            })
        })
        .collect())
}

/// Each row's verdict, by its index in the batch; `None` until one is reached.
type Verdicts = Vec<Option<RowResult>>;

/// Rows parsed on all cores; the ones that do not parse get their verdict.
async fn parse_rows(
    lines: Vec<Vec<u8>>,
    format: RowFormat,
    results: &mut Verdicts,
) -> Result<Vec<(usize, Read)>, AppError> {
    let parsed: Vec<Result<Read, AppError>> =
        on_pool(move || lines.par_iter().map(|line| parse_row(line, format)).collect()).await?;
    let mut candidates: Vec<(usize, Read)> = Vec::with_capacity(parsed.len());
    for (index, row) in parsed.into_iter().enumerate() {
        match row {
            Ok(row) => candidates.push((index, row)),
            Err(e) => results[index] = Some(rejected(index + 1, e)),
        }
    }
    Ok(candidates)
}

async fn authentic_rows(
    state: &AppState,
    read: Vec<(usize, Read)>,
    results: &mut Verdicts,
) -> Result<Vec<(usize, Parsed)>, AppError> {
    // Authenticated first: a row whose key or signature does not pass learns nothing of what
    // is logged or known, and gets no sealing key created.
    let mut rows = Vec::with_capacity(read.len());
    let mut envelopes = Vec::with_capacity(read.len());
    for (index, row) in read {
        rows.push((index, row.personal));
        envelopes.push(row.signed);
    }
    let verdicts = state.appender.authenticate(envelopes).await.map_err(ledger_error)?;
    let mut authentic = Vec::with_capacity(rows.len());
    for ((index, personal), (signed, verdict)) in rows.into_iter().zip(verdicts) {
        match verdict {
            Ok(()) => {
                authentic.push((index, Parsed { envelope: signed.into_envelope(), personal }))
            }
            Err(e) => results[index] = Some(rejected(index + 1, ledger_error(e))),
        }
    }
    Ok(authentic)
}

/// The rows whose fields keep to their doc type's declaration (`DocTypeDeclared`); the others
/// are refused `invalid_field`, naming the field. Declarations are read once per batch.
fn declared_rows(
    state: &AppState,
    candidates: Vec<(usize, Parsed)>,
    results: &mut Verdicts,
) -> Result<Vec<(usize, Parsed)>, AppError> {
    type Declared = Option<schemas::DocTypeDeclared>;
    let mut declarations: HashMap<(schemas::IssuerId, schemas::DocTypeCode), Declared> =
        HashMap::new();
    let mut kept = Vec::with_capacity(candidates.len());
    for (index, row) in candidates {
        let payload = &row.envelope.event.payload;
        let Some((issuer, doc_type)) = crate::app::issuance::doc_type_of(payload) else {
            kept.push((index, row));
            continue;
        };
        let key = (issuer.clone(), doc_type.clone());
        let declared = match declarations.get(&key) {
            Some(found) => found,
            None => {
                let found = crate::app::issuance::declaration(state, issuer, doc_type)?;
                declarations.entry(key).or_insert(found)
            }
        };
        let data = row.personal.as_ref().map(|(_, data)| data);
        match crate::app::issuance::check_fields(declared.as_ref(), payload, data) {
            Ok(()) => kept.push((index, row)),
            Err(e) => results[index] = Some(rejected(index + 1, e)),
        }
    }
    Ok(kept)
}

/// The rows of partitions this node appends to (all, alone). In a cluster the others are
/// refused `not_owner` before anything is looked up or created for them, with the partition
/// that refused them, so the batch's door can send them on to its owner.
fn owned_rows(
    state: &AppState,
    candidates: Vec<(usize, Parsed)>,
    results: &mut Verdicts,
) -> Vec<(usize, Parsed)> {
    let mut owned = Vec::with_capacity(candidates.len());
    for (index, row) in candidates {
        match state.writes.owner_here(&row.envelope.event.payload.partition_key()) {
            Ok(()) => owned.push((index, row)),
            Err(e) => {
                let partition = e.elsewhere.as_ref().map(|(_, partition)| *partition);
                let mut verdict = rejected(index + 1, e);
                verdict.partition = partition;
                results[index] = Some(verdict);
            }
        }
    }
    owned
}

/// The rows not logged yet, not repeated in the batch, within the clock window, and for a
/// locker that exists.
async fn fresh_rows(
    state: &AppState,
    candidates: Vec<(usize, Parsed)>,
    results: &mut Verdicts,
) -> Result<Vec<(usize, Parsed)>, AppError> {
    // Already logged: a re-run (the same issuance) or a conflict (other content, same URI).
    let ids: Vec<EventId> = candidates.iter().map(|(_, p)| p.envelope.event.id).collect();
    let logged = state.appender.logged_events(ids).await.map_err(ledger_error)?;
    let now = state.clock.now();
    let mut lockers: HashMap<schemas::LockerId, bool> = HashMap::new();
    let mut fresh: Vec<(usize, Parsed)> = Vec::with_capacity(candidates.len());
    let mut seen: HashMap<EventId, usize> = HashMap::new();
    for ((index, row), logged) in candidates.into_iter().zip(logged) {
        let reject = |e: AppError| Some(rejected(index + 1, e));
        if let Some(logged) = logged {
            results[index] = if same_issuance(&logged, &row.envelope) {
                Some(RowResult::present(index + 1))
            } else {
                reject(uri_exists())
            };
            continue;
        }
        if let Some(first) = seen.insert(row.envelope.event.id, index) {
            results[index] = reject(AppError::new(
                ErrorCode::DuplicateRow,
                format!("row {} of this batch issues the same URI", first + 1),
            ));
            continue;
        }
        if let Err(e) = crate::app::issuance::check_window_at(now, &row.envelope.event) {
            results[index] = reject(e);
            continue;
        }
        if let Payload::DocumentIssued(e) = &row.envelope.event.payload
            && let Recipient::Locker(locker) = &e.recipient
        {
            let known = match lockers.get(locker) {
                Some(known) => *known,
                None => {
                    let known = state.views.profile(locker)?.is_some();
                    lockers.insert(*locker, known);
                    known
                }
            };
            if !known {
                results[index] = reject(
                    AppError::not_found(format!("no locker {locker}"))
                        .with_code(ErrorCode::UnknownLocker),
                );
                continue;
            }
        }
        fresh.push((index, row));
    }
    Ok(fresh)
}

/// In a cluster, the rows whose URI this batch may issue (`Accounts::claim_uris`), each
/// claimed for its locker before anything is appended, and the claims (to settle once the
/// rows have their verdicts: `issuance::settle_uri_claims`).
async fn claimed_rows(
    state: &AppState,
    fresh: Vec<(usize, Parsed)>,
    results: &mut Verdicts,
) -> Result<(Vec<(usize, Parsed)>, Vec<UriClaim>), AppError> {
    if !state.accounts.is_shared() {
        return Ok((fresh, Vec::new()));
    }
    let claims: Vec<(EventId, Vec<u8>)> = fresh
        .iter()
        .map(|(_, row)| {
            let payload = &row.envelope.event.payload;
            (row.envelope.event.id, payload.partition_key().to_key_bytes())
        })
        .collect();
    let found = crate::app::issuance::claim_uris(state, claims.clone()).await?;
    let mut kept = Vec::with_capacity(fresh.len());
    let mut made = Vec::new();
    for (((index, row), claim), (id, recipient)) in fresh.into_iter().zip(found).zip(claims) {
        if claim == Claim::Other {
            results[index] = Some(rejected(index + 1, uri_exists()));
            continue;
        }
        made.push(UriClaim { index, id, recipient, created: claim == Claim::Created });
        kept.push((index, row));
    }
    Ok((kept, made))
}

async fn write_rows(
    state: &AppState,
    fresh: Vec<(usize, Parsed)>,
    results: &mut Verdicts,
) -> Result<(), AppError> {
    let (appended_rows, envelopes) = sealed_rows(state, fresh, results).await?;
    append_rows(state, appended_rows, envelopes, results).await
}

/// The envelopes to append, sealed, and the rows they are.
async fn sealed_rows(
    state: &AppState,
    fresh: Vec<(usize, Parsed)>,
    results: &mut Verdicts,
) -> Result<(Vec<usize>, Vec<Envelope>), AppError> {
    // Seal the personal fields: keys fetched or created at once, then sealed on all cores.
    let subjects: Vec<SealSubject> = fresh
        .iter()
        .filter(|(_, row)| row.personal.is_some())
        .filter_map(|(_, row)| row.envelope.event.payload.seal_subject())
        .collect();
    let keys = {
        let vault = std::sync::Arc::clone(&state.vault);
        tokio::task::spawn_blocking(move || vault.keys_for(&subjects))
            .await
            .map_err(crate::app::write::internal)?
            .map_err(crate::app::write::internal)?
    };
    let mut keys = keys.into_iter();
    let mut work = Vec::with_capacity(fresh.len());
    for (index, row) in fresh {
        // No key: the subject's locker is closed (its row alone is refused).
        let sealing = match (&row.personal, row.envelope.event.payload.seal_subject()) {
            (Some(_), Some(subject)) => {
                Some(keys.next().flatten().map(|key| (key, subject, state.nonces.next())).ok_or(()))
            }
            _ => None,
        };
        work.push((index, row, sealing));
    }
    // Sealed on all cores; encoded once, by the ledger (`append_envelopes`).
    let sealed: Vec<(usize, Result<Envelope, AppError>)> = on_pool(move || {
        work.into_par_iter()
            .map(|(index, row, sealing)| {
                let mut envelope = row.envelope;
                let sealed = match (row.personal, sealing) {
                    (Some((salt, data)), Some(Ok((key, subject, nonce)))) => {
                        ledger::crypto::seal_personal(&key, subject, nonce, salt, &data)
                            .map(|(_, sealed)| envelope.sealed = Some(sealed))
                            .map_err(ledger_error)
                    }
                    (_, Some(Err(()))) => Err(AppError::new(
                        wire::ErrorCode::LockerClosed,
                        "the locker is closed: nothing more is issued to it",
                    )),
                    _ => Ok(()),
                };
                (index, sealed.map(|()| envelope))
            })
            .collect()
    })
    .await?;
    let mut appended_rows = Vec::with_capacity(sealed.len());
    let mut envelopes = Vec::with_capacity(sealed.len());
    for (index, envelope) in sealed {
        match envelope {
            Ok(envelope) => {
                appended_rows.push(index);
                envelopes.push(envelope);
            }
            Err(e) => results[index] = Some(rejected(index + 1, e)),
        }
    }
    Ok((appended_rows, envelopes))
}

async fn append_rows(
    state: &AppState,
    appended_rows: Vec<usize>,
    envelopes: Vec<Envelope>,
    results: &mut Verdicts,
) -> Result<(), AppError> {
    // One append: parallel signature batches, one group commit.
    let verdicts = state.appender.append_envelopes(envelopes).await.map_err(ledger_error)?;
    for (index, verdict) in appended_rows.into_iter().zip(verdicts) {
        results[index] = Some(match verdict {
            Ok(Appended::New(position)) => {
                RowResult::accepted(index + 1, position.partition, position.offset)
            }
            Ok(Appended::Existing(_)) => RowResult::present(index + 1),
            // Issued by a concurrent batch since the lookup.
            Err(LedgerError::IdConflict { .. }) => rejected(index + 1, uri_exists()),
            Err(e) => rejected(index + 1, ledger_error(e)),
        });
    }
    Ok(())
}

/// Runs `work` on the rayon pool (all cores) without blocking the async runtime.
async fn on_pool<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let _ = reply.send(work());
    });
    answer.await.map_err(|_| crate::app::write::internal("the worker pool stopped"))
}
