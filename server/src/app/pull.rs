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
use crate::limits::{
    PULL_ANSWER_BYTES_MAX, PULL_ATTEMPT_TIMEOUT_MS, PULL_ATTEMPTS, PULL_RETRY_BACKOFF_MS,
};
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
    let spec = pull_spec(state, &ask)?;
    let given = ask.identifiers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    schemas::check_declared(&spec.identifiers, given)
        .map_err(|problem| AppError::new(ErrorCode::InvalidIdentifier, problem.to_string()))?;
    state.writes.owner_here(&schemas::PartitionKey::Locker(locker))?;
    let (name, name_source) = holder_name(state, &locker)?;
    state.pull_quota.take(&locker, 1, state.clock.now()).map_err(|seconds| {
        AppError::new(
            ErrorCode::RateLimited,
            format!(
                "at most {} pulls an hour; the next one in {seconds} s",
                state.pull_quota.capacity()
            ),
        )
    })?;
    let request = PullRequestDto {
        request_id: crate::app::write::new_id(state)?.to_string(),
        locker: locker.to_string(),
        doc_type: ask.doc_type.to_string(),
        identifiers: ask.identifiers.clone(),
        name,
        name_source: name_source.to_owned(),
    };
    let outcome = match ask_issuer(state, spec.endpoint.as_str(), &request).await {
        // A failure of the platform's own (the log, the views) is not the issuer's: it is
        // answered as itself and not recorded as the pull's outcome.
        Answer::Document(body) => take_answer(state, &locker, &ask, *body).await?,
        Answer::Refused(refusal) => Err(refusal),
    };
    record(state, locker, &ask, &outcome).await?;
    outcome.map_err(refused)
}

/// The doc type's pull, if its issuer (not suspended) declared one.
fn pull_spec(state: &AppState, ask: &PullAsk) -> Result<schemas::PullSpec, AppError> {
    let issuer = state.views.issuer(ask.issuer.as_str())?.filter(|i| !i.suspended);
    let spec = issuer.as_ref().and_then(|i| {
        let declared = i.declared.iter().find(|d| d.doc_type == ask.doc_type)?;
        let spec = declared.pull.clone()?;
        endpoint_approved(
            state.pull_private_endpoints,
            i.endpoint.as_deref(),
            spec.endpoint.as_str(),
        )
        .then_some(spec)
    });
    spec.ok_or_else(|| {
        AppError::new(
            ErrorCode::NotPullable,
            format!("{} does not offer {} to pull", ask.issuer, ask.doc_type),
        )
    })
}

/// The scheme, host and port of an address, lower-cased (`https://results.cbse.gov.in`).
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next().filter(|h| !h.is_empty())?;
    Some(format!("{}://{}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
}

/// Whether the platform calls a declared pull endpoint: only at the origin the platform
/// registered for the issuer (`IssuerRegistered::endpoint`, which only the platform signs),
/// so an issuer's key alone cannot point citizens' names and identifiers elsewhere. Waived
/// where issuers run on the operator's own network (`pull_private_endpoints`: the demo, tests).
pub(crate) fn endpoint_approved(any: bool, registered: Option<&str>, declared: &str) -> bool {
    any || matches!((registered.and_then(origin), origin(declared)), (Some(a), Some(b)) if a == b)
}

/// The name the issuer matches its record against, and where it comes from: Aadhaar's
/// (`aadhaar_ekyc`, as UIDAI answered it) when linked, else the profile's (`profile`: only
/// the platform writes it today; no door lets a citizen set it, and one that did must not
/// feed pulls, or anyone could claim a classmate's name).
fn holder_name(state: &AppState, locker: &LockerId) -> Result<(String, &'static str), AppError> {
    let profile = state.views.profile(locker)?;
    let name = profile.and_then(|p| match (p.kyc, p.full_name) {
        (Some(kyc), _) => Some((kyc.name, "aadhaar_ekyc")),
        (None, Some(name)) => Some((name, "profile")),
        (None, None) => None,
    });
    name.ok_or_else(|| {
        AppError::new(
            ErrorCode::NameRequired,
            "an issuer matches its record against your name: link your Aadhaar first",
        )
    })
}

/// Sends the signed request, again on silence or a server error, until an answer.
async fn ask_issuer(state: &AppState, endpoint: &str, request: &PullRequestDto) -> Answer {
    let Ok(url) = client::http::JsonClient::parse_url(endpoint) else {
        tracing::warn!("an issuer's pull endpoint is not an http:// address this service calls");
        return Answer::Refused(PullRefusal::IssuerUnavailable);
    };
    if !state.pull_private_endpoints && !publicly_reachable(&url).await {
        tracing::warn!("an issuer's pull endpoint is on a private, loopback or unknown address");
        return Answer::Refused(PullRefusal::IssuerUnavailable);
    }
    let body = serde_json::to_vec(request).unwrap_or_default();
    let http = client::http::JsonClient::new(Duration::from_millis(PULL_ATTEMPT_TIMEOUT_MS));
    for attempt in 1..=PULL_ATTEMPTS {
        let headers = signed_headers(state, &url, &body);
        let sent = http_attempt(&http, &url, &headers, body.clone());
        match tokio::time::timeout(Duration::from_millis(PULL_ATTEMPT_TIMEOUT_MS), sent).await {
            Ok(Ok((status, text))) => match read_answer(status, &text) {
                Some(answer) => return answer,
                None => tracing::warn!(status, attempt, "an issuer's pull endpoint failed"),
            },
            Ok(Err(Failed::TooLarge)) => {
                tracing::warn!("an issuer's pull answer is larger than a push may be");
                return Answer::Refused(PullRefusal::InvalidAnswer);
            }
            Ok(Err(Failed::Transport(e))) => {
                tracing::warn!(attempt, error = %e, "an issuer's pull endpoint did not answer");
            }
            Err(_) => tracing::warn!(attempt, "an issuer's pull endpoint did not answer in time"),
        }
        if attempt < PULL_ATTEMPTS {
            let wait_ms = PULL_RETRY_BACKOFF_MS * u64::from(attempt);
            tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        }
    }
    Answer::Refused(PullRefusal::IssuerUnavailable)
}

enum Failed {
    TooLarge,
    Transport(String),
}

/// One request, its answer read up to `PULL_ANSWER_BYTES_MAX` (an endpoint cannot fill the
/// platform's memory).
async fn http_attempt(
    http: &client::http::JsonClient,
    url: &hyper::Uri,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Result<(u16, String), Failed> {
    use http_body_util::BodyExt;
    let response = http
        .open("POST", url, headers, body)
        .await
        .map_err(|e| Failed::Transport(e.to_string()))?;
    let status = response.status().as_u16();
    let limited = http_body_util::Limited::new(response.into_body(), PULL_ANSWER_BYTES_MAX);
    match limited.collect().await {
        Ok(collected) => Ok((status, String::from_utf8_lossy(&collected.to_bytes()).into_owned())),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(Failed::TooLarge),
        Err(e) => Err(Failed::Transport(e.to_string())),
    }
}

/// Whether every address the endpoint's host names is a public one. The platform calls
/// issuers on the internet; an endpoint on a loopback, private, link-local or shared address
/// would let an issuer's key point the platform at its own network (unless the operator runs
/// issuers there: `--allow-private-pull-endpoints`, and the demo).
async fn publicly_reachable(url: &hyper::Uri) -> bool {
    let (Some(host), port) = (url.host(), url.port_u16().unwrap_or(80)) else { return false };
    let Ok(addresses) = tokio::net::lookup_host((host, port)).await else { return false };
    let addresses: Vec<std::net::SocketAddr> = addresses.collect();
    !addresses.is_empty() && addresses.iter().all(|a| is_public(a.ip()))
}

fn is_public(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let [first, second, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || first == 0
                || (first == 100 && (second & 0xc0) == 64))
        }
        std::net::IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            let mapped = v6.to_ipv4_mapped().map(std::net::IpAddr::V4);
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || mapped.is_some_and(|v4| !is_public(v4)))
        }
    }
}

/// The platform's RFC 9421 signature over the request, made afresh for each attempt.
fn signed_headers(state: &AppState, url: &hyper::Uri, body: &[u8]) -> Vec<(&'static str, String)> {
    let key = state.platform.as_ref();
    let keyid = format!("platform:{}", ledger::crypto::key_id_of(&key.verifying_key()));
    let authority = url.authority().map(|a| a.as_str()).unwrap_or_default();
    let (path, query) = (url.path(), url.query().unwrap_or_default());
    let target = wire::rfc9421::Target { method: "POST", authority, path, query };
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
/// that issuer, of that type, to this locker, and signed by it. A refusal of the answer is
/// the issuer's (`invalid_answer`); a failure of the platform's (a 5xx) is the error.
async fn take_answer(
    state: &AppState,
    locker: &LockerId,
    ask: &PullAsk,
    body: PushBody,
) -> Result<Result<Pulled, PullRefusal>, AppError> {
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
            return Ok(Err(PullRefusal::InvalidAnswer));
        }
    };
    let (uri, name) = (issued.uri.clone(), issued.name.to_string());
    let owner = projections::views::Owner::Locker(*locker);
    let held = |state: &AppState| state.views.document(&owner, &uri.to_string()).ok().flatten();
    let checked = match crate::app::issuance::authenticate(state, &body.envelope).await {
        Ok(()) if held(state).is_some() => return Ok(Ok(Pulled { uri, name, new: false })),
        Ok(()) => crate::app::push::accept_push(state, body).await,
        Err(e) => Err(e),
    };
    match checked {
        Ok(accepted) => Ok(Ok(Pulled { uri, name, new: accepted.is_new() })),
        Err(e) if e.code == ErrorCode::UriExists && held(state).is_some() => {
            Ok(Ok(Pulled { uri, name, new: false }))
        }
        Err(e) if e.code.status() >= 500 => Err(e),
        Err(e) => {
            tracing::warn!(code = e.code.code(), "an issuer's pull answer was refused");
            Ok(Err(PullRefusal::InvalidAnswer))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_registered_origin_is_called() {
        let registered = Some("https://results.cbse.gov.in/locker");
        assert!(endpoint_approved(false, registered, "https://RESULTS.cbse.gov.in/pull/v2"));
        assert!(!endpoint_approved(false, registered, "https://evil.example/pull"));
        assert!(!endpoint_approved(false, registered, "http://results.cbse.gov.in/pull"));
        assert!(!endpoint_approved(false, registered, "https://results.cbse.gov.in:8443/pull"));
        assert!(!endpoint_approved(false, None, "https://results.cbse.gov.in/pull"));
        assert!(endpoint_approved(true, None, "http://127.0.0.1:8095/pull"));
    }

    #[test]
    fn only_public_addresses_are_called() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            let ip: std::net::IpAddr = private.parse().expect("an address");
            assert!(!is_public(ip), "{private}");
        }
        for public in ["8.8.8.8", "164.100.1.1", "2001:4860:4860::8888"] {
            let ip: std::net::IpAddr = public.parse().expect("an address");
            assert!(is_public(ip), "{public}");
        }
    }
}
