//! Answers that more than one route gives, and the names of states and statuses in them.

use crate::app::lookup::Resolved;
use crate::app::lookup::doc_text;
use projections::views::ConsentState;
use wire::dto::{AddressElementDto, DocumentDto, KycDto};

/// The resident's data as the views hold it.
pub(crate) fn kyc_from_view(kyc: projections::views::KycView) -> KycDto {
    KycDto {
        name: kyc.name,
        date_of_birth: kyc.date_of_birth.to_string(),
        gender: kyc.gender,
        address: kyc
            .address
            .into_iter()
            .map(|(element, value)| AddressElementDto { element, value })
            .collect(),
        verified_at_ms: kyc.verified_at_ms.0,
    }
}

/// The resident's data as the authority's answer gave it.
pub(crate) fn kyc_from_profile(kyc: &schemas::KycProfile, at: schemas::TimestampMs) -> KycDto {
    let gender = projections::views::gender_name(kyc.gender);
    KycDto {
        name: kyc.name.to_string(),
        date_of_birth: kyc.date_of_birth.to_string(),
        gender: gender.to_owned(),
        address: kyc
            .address
            .iter()
            .map(|f| AddressElementDto { element: f.key.to_string(), value: f.value.to_string() })
            .collect(),
        verified_at_ms: at.0,
    }
}

/// A consent's terms as answers show them.
pub(crate) fn terms_dto(terms: &projections::views::ConsentTerms) -> wire::dto::TermsDto {
    wire::dto::TermsDto {
        fetches: terms.frequency.reads,
        per: terms.frequency.per.name().to_owned(),
        data_life_days: terms.data_life_days,
        access_from_ms: terms.access_from_ms.0,
        access_until_ms: terms.access_until_ms.0,
    }
}

/// A certificate's status as the API names it.
pub(crate) fn status_name(status: projections::CertificateStatus) -> &'static str {
    match status {
        projections::CertificateStatus::Active => "active",
        projections::CertificateStatus::Updated => "updated",
        projections::CertificateStatus::Expired => "expired",
        projections::CertificateStatus::Revoked => "revoked",
    }
}

pub(crate) fn state_name(state: ConsentState) -> &'static str {
    match state {
        ConsentState::Pending => "pending",
        ConsentState::Active => "active",
        ConsentState::Denied => "denied",
        ConsentState::Revoked => "revoked",
        ConsentState::Expired => "expired",
        ConsentState::Paused => "paused",
    }
}

impl From<Resolved> for DocumentDto {
    fn from(resolved: Resolved) -> Self {
        let (uri, upload_id) = doc_text(&resolved.doc);
        DocumentDto {
            uri,
            upload_id,
            name: resolved.name,
            issuer: resolved.issuer,
            issued_on: resolved.issued_on,
            holder_name: resolved.holder_name,
            media_type: resolved.media_type.mime().to_owned(),
            size_bytes: resolved.size_bytes,
            content_hash: resolved.hash.to_hex(),
            revoked_by_issuer: resolved.revoked,
        }
    }
}

/// `issued`, or the refusal's code.
pub(crate) fn pull_outcome_code(outcome: &schemas::PullOutcome) -> &'static str {
    match outcome {
        schemas::PullOutcome::Issued(_) => "issued",
        schemas::PullOutcome::Refused(refusal) => refusal.code(),
    }
}
