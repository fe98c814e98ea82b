//! Answers that more than one route gives, and the names of states and statuses in them.

use crate::app::lookup::Resolved;
use crate::app::lookup::doc_text;
use projections::views::ConsentState;
use serde::Serialize;

/// The resident's data as the Aadhaar authority answered it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct KycDto {
    name: String,
    /// YYYY-MM-DD.
    date_of_birth: String,
    /// `female`, `male`, `transgender` or `undisclosed`.
    gender: String,
    /// UIDAI's address elements (`co`, `house`, `street`, `lm`, `loc`, `vtc`, `subdist`,
    /// `dist`, `state`, `country`, `pc`, `po`), the empty ones left out.
    address: Vec<AddressElementDto>,
    verified_at_ms: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AddressElementDto {
    element: String,
    value: String,
}

impl KycDto {
    pub(crate) fn from_view(kyc: projections::views::KycView) -> Self {
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

    pub(crate) fn from_profile(kyc: &schemas::KycProfile, at: schemas::TimestampMs) -> Self {
        let gender = projections::views::gender_name(kyc.gender);
        KycDto {
            name: kyc.name.to_string(),
            date_of_birth: kyc.date_of_birth.to_string(),
            gender: gender.to_owned(),
            address: kyc
                .address
                .iter()
                .map(|f| AddressElementDto {
                    element: f.key.to_string(),
                    value: f.value.to_string(),
                })
                .collect(),
            verified_at_ms: at.0,
        }
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
    }
}

/// A document as shown to someone other than its owner (a share link holder, a requester).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DocumentDto {
    uri: Option<String>,
    upload_id: Option<String>,
    name: String,
    issuer: Option<String>,
    issued_on: Option<String>,
    holder_name: Option<String>,
    media_type: &'static str,
    size_bytes: u64,
    content_hash: String,
    revoked_by_issuer: bool,
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
            media_type: resolved.media_type.mime(),
            size_bytes: resolved.size_bytes,
            content_hash: resolved.hash.to_hex(),
            revoked_by_issuer: resolved.revoked,
        }
    }
}
