//! Pulling a document from its issuer (issue 21). The citizen names a doc type an issuer
//! declared pullable and gives the identifiers it asks for; the platform sends them with the
//! citizen's verified name to the issuer's endpoint (RFC 9421-signed with the platform's key),
//! and the issuer answers with a signed `DocumentIssued` for this locker (logged as a push
//! is: the same checks, the declared fields, sealing) or a coded refusal. Every pull, issued
//! or refused, is logged as `DocumentPulled`, signed by the citizen, so it is in the locker's
//! history. The identifiers are personal data: never logged, never in an event.

use std::collections::BTreeMap;
use std::time::Duration;

use schemas::{
    Actor, DocTypeCode, DocUri, IssuerId, LockerId, Payload, PullOutcome, PullRefusal, Recipient,
};
use wire::ErrorCode;
use wire::dto::{ErrorDto, PullRequestDto};

use crate::app::issuance::PushBody;
use crate::limits::{PULL_ATTEMPT_TIMEOUT_MS, PULL_ATTEMPTS, PULL_RETRY_BACKOFF_MS};
use crate::{AppError, AppState};

/// What a citizen asks for.
pub(crate) struct PullAsk {
    pub issuer: IssuerId,
    pub doc_type: DocTypeCode,
    pub identifiers: BTreeMap<String, String>,
}

/// A pull that gave a document: issued now, or in the locker already.
pub(crate) struct Pulled {
    pub uri: DocUri,
    pub name: String,
    pub new: bool,
}

/// The issuer's answer, as the platform reads it.
enum Answer {
    Document(Box<PushBody>),
    Refused(PullRefusal),
}

/// Pulls the document for `locker`; a refusal comes back as its `AppError` (`no_record`,
/// `name_mismatch`, `try_later`, `issuer_unavailable`, `invalid_answer`), logged as the
/// issuance is.
pub(crate) async fn pull(
    state: &AppState,
    locker: LockerId,
    ask: PullAsk,
) -> Result<Pulled, AppError> {
    let declared = crate::app::issuance::declaration(state, &ask.issuer, &ask.doc_type)?;
    let Some(spec) = declared.and_then(|d| d.pull) else {
        return Err(AppError::new(
            ErrorCode::NotPullable,
            format!("{} does not offer {} to pull", ask.issuer, ask.doc_type),
        ));
    };
    let given = ask.identifiers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    schemas::check_declared(&spec.identifiers, given)
        .map_err(|problem| AppError::new(ErrorCode::InvalidIdentifier, problem.to_string()))?;
    state.writes.owner_here(&schemas::PartitionKey::Locker(locker))?;
    let name = holder_name(state, &locker)?;
    state.pull_quota.take(&locker, 1, state.clock.now()).map_err(|seconds| {
        AppError::new(
            ErrorCode::RateLimited,
            format!(
                "at most {} pulls an hour; the next one in {seconds} s",
                crate::limits::PULLS_PER_HOUR
            ),
        )
    })?;
    let request = PullRequestDto {
        request_id: crate::app::write::new_id(state)?.to_string(),
        locker: locker.to_string(),
        doc_type: ask.doc_type.to_string(),
        identifiers: ask.identifiers.clone(),
        name,
    };
    let outcome = match ask_issuer(state, spec.endpoint.as_str(), &request).await {
        Answer::Document(body) => take_answer(state, &locker, &ask, *body).await,
        Answer::Refused(refusal) => Err(refusal),
    };
    record(state, locker, &ask, &outcome).await?;
    outcome.map_err(refused)
}

/// The name the issuer matches its record against: Aadhaar's (e-KYC) when linked, else the
/// profile's.
fn holder_name(state: &AppState, locker: &LockerId) -> Result<String, AppError> {
    let profile = state.views.profile(locker)?;
    let name = profile.and_then(|p| p.kyc.map(|k| k.name).or(p.full_name));
    name.ok_or_else(|| {
        AppError::new(
            ErrorCode::NameRequired,
            "an issuer matches its record against your name: add it to your profile or link Aadhaar",
        )
    })
}

/// Sends the signed request, again on silence or a server error, until an answer.
async fn ask_issuer(state: &AppState, endpoint: &str, request: &PullRequestDto) -> Answer {
    let Ok(url) = client::http::JsonClient::parse_url(endpoint) else {
        tracing::warn!("an issuer's pull endpoint is not a usable http:// address");
        return Answer::Refused(PullRefusal::IssuerUnavailable);
    };
    let body = serde_json::to_vec(request).unwrap_or_default();
    let http = client::http::JsonClient::new(Duration::from_millis(PULL_ATTEMPT_TIMEOUT_MS));
    for attempt in 1..=PULL_ATTEMPTS {
        let headers = signed_headers(state, &url, &body);
        match http.send("POST", &url, &headers, body.clone()).await {
            Ok((status, text)) => match read_answer(status, &text) {
                Some(answer) => return answer,
                None => tracing::warn!(status, attempt, "an issuer's pull endpoint failed"),
            },
            Err(e) => {
                tracing::warn!(attempt, error = %e, "an issuer's pull endpoint did not answer")
            }
        }
        if attempt < PULL_ATTEMPTS {
            let wait_ms = PULL_RETRY_BACKOFF_MS * u64::from(attempt);
            tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        }
    }
    Answer::Refused(PullRefusal::IssuerUnavailable)
}

/// The platform's RFC 9421 signature over the request, made afresh for each attempt.
fn signed_headers(state: &AppState, url: &hyper::Uri, body: &[u8]) -> Vec<(&'static str, String)> {
    let key = state.platform.as_ref();
    let keyid = format!("platform:{}", ledger::crypto::key_id_of(&key.verifying_key()));
    let authority = url.authority().map(|a| a.as_str()).unwrap_or_default();
    let path = url.path();
    let target = wire::rfc9421::Target { method: "POST", authority, path, query: "" };
    let now_s = state.clock.now().0.div_euclid(1000);
    let signed = wire::rfc9421::sign_request(key, &keyid, now_s, target, body);
    let mut headers = signed.into_headers();
    headers.push(("content-type", "application/json".to_owned()));
    headers
}

/// An answer that settles the pull, or none for one worth trying again (a server error).
fn read_answer(status: u16, text: &str) -> Option<Answer> {
    if status == 200 {
        return Some(match serde_json::from_str::<PushBody>(text) {
            Ok(body) => Answer::Document(Box::new(body)),
            Err(e) => {
                tracing::warn!(error = %e, "an issuer's pull answer is not a push body");
                Answer::Refused(PullRefusal::InvalidAnswer)
            }
        });
    }
    let code = serde_json::from_str::<ErrorDto>(text).ok().map(|e| e.code);
    match code.as_deref() {
        Some("no_record") => Some(Answer::Refused(PullRefusal::NoRecord)),
        Some("name_mismatch") => Some(Answer::Refused(PullRefusal::NameMismatch)),
        Some("try_later") => Some(Answer::Refused(PullRefusal::TryLater)),
        _ if status >= 500 => None,
        _ => {
            tracing::warn!(status, "an issuer refused a pull without a known code");
            Some(Answer::Refused(PullRefusal::InvalidAnswer))
        }
    }
}

/// Logs the issuer's document as a push, once it is shown to be what was asked: issued by
/// that issuer, of that type, to this locker.
async fn take_answer(
    state: &AppState,
    locker: &LockerId,
    ask: &PullAsk,
    body: PushBody,
) -> Result<Pulled, PullRefusal> {
    let event = &body.envelope.event;
    let issued = match (&event.actor, &event.payload) {
        (Actor::Issuer(by), Payload::DocumentIssued(issued))
            if by == &ask.issuer
                && issued.uri.issuer() == &ask.issuer
                && issued.uri.doc_type() == &ask.doc_type
                && issued.recipient == Recipient::Locker(*locker) =>
        {
            issued
        }
        _ => {
            tracing::warn!("an issuer answered a pull with a document that was not asked for");
            return Err(PullRefusal::InvalidAnswer);
        }
    };
    let (uri, name) = (issued.uri.clone(), issued.name.to_string());
    let owner = projections::views::Owner::Locker(*locker);
    let held = |state: &AppState| state.views.document(&owner, &uri.to_string()).ok().flatten();
    if held(state).is_some() {
        return Ok(Pulled { uri, name, new: false });
    }
    match crate::http::push::accept_push(state, body).await {
        Ok(accepted) => Ok(Pulled { uri, name, new: accepted.is_new() }),
        Err(e) if e.code == ErrorCode::UriExists && held(state).is_some() => {
            Ok(Pulled { uri, name, new: false })
        }
        Err(e) => {
            tracing::warn!(code = e.code.code(), "an issuer's pull answer was refused");
            Err(PullRefusal::InvalidAnswer)
        }
    }
}

/// `DocumentPulled`, signed by the citizen: every pull is in the locker's history.
async fn record(
    state: &AppState,
    locker: LockerId,
    ask: &PullAsk,
    outcome: &Result<Pulled, PullRefusal>,
) -> Result<(), AppError> {
    let outcome = match outcome {
        Ok(pulled) => PullOutcome::Issued(pulled.uri.clone()),
        Err(refusal) => PullOutcome::Refused(*refusal),
    };
    let payload = Payload::DocumentPulled(schemas::DocumentPulled {
        locker,
        issuer: ask.issuer.clone(),
        doc_type: ask.doc_type.clone(),
        outcome,
    });
    crate::app::write::as_citizen(state, &locker, payload, None).await?;
    Ok(())
}

/// A refusal as the citizen hears it.
fn refused(refusal: PullRefusal) -> AppError {
    let (code, message) = match refusal {
        PullRefusal::NoRecord => {
            (ErrorCode::NoRecord, "the issuer has no record matching these details")
        }
        PullRefusal::NameMismatch => (
            ErrorCode::NameMismatch,
            "the issuer found the record, but its name does not match the name in this locker",
        ),
        PullRefusal::TryLater => {
            (ErrorCode::TryLater, "the issuer cannot issue this document now; try again later")
        }
        PullRefusal::IssuerUnavailable => (
            ErrorCode::IssuerUnavailable,
            "the issuer's service did not answer; nothing was changed, try again later",
        ),
        PullRefusal::InvalidAnswer => (
            ErrorCode::InvalidAnswer,
            "the issuer answered with a document this locker could not accept",
        ),
    };
    AppError::new(code, message)
}
