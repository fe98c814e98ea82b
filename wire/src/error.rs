//! Every refusal the service gives, as one enum: the stable, machine-readable `code` of its
//! `{code, message}` answers, and the HTTP status that goes with it. The code strings are the
//! contract (clients match on them); a few codes are answered with two statuses in different
//! places (a variant for each, named by the second status), and keep one string.

/// A refusal's stable code and its HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `aadhaar_already_linked`, HTTP 409.
    AadhaarAlreadyLinked,
    /// `aadhaar_no_mobile`, HTTP 422.
    AadhaarNoMobile,
    /// `aadhaar_suspended`, HTTP 422.
    AadhaarSuspended,
    /// `already_registered`, HTTP 409.
    AlreadyRegistered,
    /// `bad_signature`, HTTP 401.
    BadSignature,
    /// `batch_too_large`, HTTP 400.
    BatchTooLarge,
    /// `batch_too_large`, HTTP 413.
    BatchTooLargeAsPayloadTooLarge,
    /// `beyond_checkpoint`, HTTP 422.
    BeyondCheckpoint,
    /// `body_interrupted`, HTTP 400.
    BodyInterrupted,
    /// `body_too_slow`, HTTP 408.
    BodyTooSlow,
    /// `bundle_not_verified`, HTTP 422.
    BundleNotVerified,
    /// `busy`, HTTP 503.
    Busy,
    /// `commitment_mismatch`, HTTP 422.
    CommitmentMismatch,
    /// `consent_exists`, HTTP 409.
    ConsentExists,
    /// `consent_expired`, HTTP 403.
    ConsentExpired,
    /// `consent_expired`, HTTP 409.
    ConsentExpiredAsConflict,
    /// `consent_paused`, HTTP 403.
    ConsentPaused,
    /// `consent_revoked`, HTTP 403.
    ConsentRevoked,
    /// `consent_state`, HTTP 403.
    ConsentState,
    /// `consent_state`, HTTP 409.
    ConsentStateAsConflict,
    /// `content_corrupt`, HTTP 500.
    ContentCorrupt,
    /// `content_not_stored`, HTTP 404.
    ContentNotStored,
    /// `content_not_supported`, HTTP 400.
    ContentNotSupported,
    /// `csrf_failed`, HTTP 403.
    CsrfFailed,
    /// `digest_mismatch`, HTTP 400.
    DigestMismatch,
    /// `document_not_granted`, HTTP 403.
    DocumentNotGranted,
    /// `document_not_requested`, HTTP 422.
    DocumentNotRequested,
    /// `document_revoked`, HTTP 409.
    DocumentRevoked,
    /// `duplicate_row`, HTTP 409.
    DuplicateRow,
    /// `empty_batch`, HTTP 400.
    EmptyBatch,
    /// `esign_unsupported`, HTTP 409.
    EsignUnsupported,
    /// `event_too_large`, HTTP 413.
    EventTooLarge,
    /// `fields_erased`, HTTP 410.
    FieldsErased,
    /// `frequency_exceeded`, HTTP 429.
    FrequencyExceeded,
    /// `hash_mismatch`, HTTP 422.
    HashMismatch,
    /// `headers_too_large`, HTTP 431.
    HeadersTooLarge,
    /// `id_conflict`, HTTP 409.
    IdConflict,
    /// `internal`, HTTP 500.
    Internal,
    /// `invalid_aadhaar`, HTTP 422.
    InvalidAadhaar,
    /// `invalid_access_days`, HTTP 400.
    InvalidAccessDays,
    /// `invalid_answer`, HTTP 502.
    InvalidAnswer,
    /// `invalid_body`, HTTP 400.
    InvalidBody,
    /// `invalid_body`, HTTP 413.
    InvalidBodyAsPayloadTooLarge,
    /// `invalid_bundle`, HTTP 422.
    InvalidBundle,
    /// `invalid_consent_id`, HTTP 400.
    InvalidConsentId,
    /// `invalid_content`, HTTP 400.
    InvalidContent,
    /// `invalid_credentials`, HTTP 401.
    InvalidCredentials,
    /// `invalid_cursor`, HTTP 400.
    InvalidCursor,
    /// `invalid_cursor`, HTTP 422.
    InvalidCursorAsUnprocessableEntity,
    /// `invalid_document`, HTTP 400.
    InvalidDocument,
    /// `invalid_event`, HTTP 422.
    InvalidEvent,
    /// `invalid_event_id`, HTTP 422.
    InvalidEventId,
    /// `invalid_expiry`, HTTP 400.
    InvalidExpiry,
    /// `invalid_expiry`, HTTP 422.
    InvalidExpiryAsUnprocessableEntity,
    /// `invalid_field`, HTTP 422.
    InvalidField,
    /// `invalid_file_name`, HTTP 400.
    InvalidFileName,
    /// `invalid_filesize`, HTTP 413.
    InvalidFilesize,
    /// `invalid_filesize`, HTTP 422.
    InvalidFilesizeAsUnprocessableEntity,
    /// `invalid_filetype`, HTTP 415.
    InvalidFiletype,
    /// `invalid_identifier`, HTTP 422.
    InvalidIdentifier,
    /// `invalid_json`, HTTP 400.
    InvalidJson,
    /// `invalid_last_event_id`, HTTP 400.
    InvalidLastEventId,
    /// `invalid_limit`, HTTP 400.
    InvalidLimit,
    /// `invalid_mobile`, HTTP 400.
    InvalidMobile,
    /// `invalid_otp`, HTTP 401.
    InvalidOtp,
    /// `invalid_query`, HTTP 400.
    InvalidQuery,
    /// `invalid_salt`, HTTP 400.
    InvalidSalt,
    /// `invalid_share_id`, HTTP 400.
    InvalidShareId,
    /// `invalid_sizes`, HTTP 422.
    InvalidSizes,
    /// `invalid_state`, HTTP 400.
    InvalidState,
    /// `invalid_token`, HTTP 401.
    InvalidToken,
    /// `invalid_upload_id`, HTTP 400.
    InvalidUploadId,
    /// `invalid_uri`, HTTP 400.
    InvalidUri,
    /// `invalid_username`, HTTP 400.
    InvalidUsername,
    /// `issuer_unavailable`, HTTP 502.
    IssuerUnavailable,
    /// `key_revoked`, HTTP 401.
    KeyRevoked,
    /// `kyc_not_verified`, HTTP 502.
    KycNotVerified,
    /// `kyc_refused`, HTTP 502.
    KycRefused,
    /// `kyc_unavailable`, HTTP 502.
    KycUnavailable,
    /// `kyc_unavailable`, HTTP 503.
    KycUnavailableAsServiceUnavailable,
    /// `locked_out`, HTTP 423.
    LockedOut,
    /// `locker_closed`, HTTP 410.
    LockerClosed,
    /// `missing_file_name`, HTTP 400.
    MissingFileName,
    /// `missing_signature`, HTTP 401.
    MissingSignature,
    /// `mobile_registered`, HTTP 409.
    MobileRegistered,
    /// `name_mismatch`, HTTP 422.
    NameMismatch,
    /// `name_required`, HTTP 422.
    NameRequired,
    /// `no_matching_documents`, HTTP 409.
    NoMatchingDocuments,
    /// `no_personal_fields`, HTTP 404.
    NoPersonalFields,
    /// `no_record`, HTTP 404.
    NoRecord,
    /// `not_found`, HTTP 404.
    NotFound,
    /// `not_owner`, HTTP 503.
    NotOwner,
    /// `not_permitted`, HTTP 403.
    NotPermitted,
    /// `not_pullable`, HTTP 404.
    NotPullable,
    /// `not_yet_checkpointed`, HTTP 503.
    NotYetCheckpointed,
    /// `otp_delivery_failed`, HTTP 502.
    OtpDeliveryFailed,
    /// `otp_expired`, HTTP 401.
    OtpExpired,
    /// `otp_locked`, HTTP 401.
    OtpLocked,
    /// `otp_not_requested`, HTTP 409.
    OtpNotRequested,
    /// `payload_too_large`, HTTP 413.
    PayloadTooLarge,
    /// `quota_exceeded`, HTTP 413.
    QuotaExceeded,
    /// `rate_limited`, HTTP 429.
    RateLimited,
    /// `replayed_signature`, HTTP 401.
    ReplayedSignature,
    /// `share_expired`, HTTP 410.
    ShareExpired,
    /// `share_revoked`, HTTP 409.
    ShareRevoked,
    /// `share_revoked`, HTTP 410.
    ShareRevokedAsGone,
    /// `stale_document`, HTTP 409.
    StaleDocument,
    /// `stale_event`, HTTP 422.
    StaleEvent,
    /// `stale_signature`, HTTP 401.
    StaleSignature,
    /// `suspended`, HTTP 403.
    Suspended,
    /// `too_many_attempts`, HTTP 429.
    TooManyAttempts,
    /// `too_many_streams`, HTTP 503.
    TooManyStreams,
    /// `too_many_streams`, HTTP 429.
    TooManyStreamsAsTooManyRequests,
    /// `too_many_views`, HTTP 429.
    TooManyViews,
    /// `try_later`, HTTP 503.
    TryLater,
    /// `unavailable`, HTTP 503.
    Unavailable,
    /// `unknown_citizen`, HTTP 404.
    UnknownCitizen,
    /// `unknown_consent`, HTTP 404.
    UnknownConsent,
    /// `unknown_document`, HTTP 404.
    UnknownDocument,
    /// `unknown_key`, HTTP 401.
    UnknownKey,
    /// `unknown_locker`, HTTP 404.
    UnknownLocker,
    /// `unknown_partition`, HTTP 404.
    UnknownPartition,
    /// `unknown_proof`, HTTP 404.
    UnknownProof,
    /// `unknown_share`, HTTP 404.
    UnknownShare,
    /// `unsupported_media_type`, HTTP 415.
    UnsupportedMediaType,
    /// `upload_interrupted`, HTTP 400.
    UploadInterrupted,
    /// `uri_exists`, HTTP 409.
    UriExists,
    /// `username_taken`, HTTP 409.
    UsernameTaken,
    /// `views_behind`, HTTP 503.
    ViewsBehind,
    /// `weak_password`, HTTP 400.
    WeakPassword,
}

impl ErrorCode {
    /// Every code, for documents and tests.
    pub const ALL: &[ErrorCode] = &[
        ErrorCode::AadhaarAlreadyLinked,
        ErrorCode::AadhaarNoMobile,
        ErrorCode::AadhaarSuspended,
        ErrorCode::AlreadyRegistered,
        ErrorCode::BadSignature,
        ErrorCode::BatchTooLarge,
        ErrorCode::BatchTooLargeAsPayloadTooLarge,
        ErrorCode::BeyondCheckpoint,
        ErrorCode::BodyInterrupted,
        ErrorCode::BodyTooSlow,
        ErrorCode::BundleNotVerified,
        ErrorCode::Busy,
        ErrorCode::CommitmentMismatch,
        ErrorCode::ConsentExists,
        ErrorCode::ConsentExpired,
        ErrorCode::ConsentExpiredAsConflict,
        ErrorCode::ConsentPaused,
        ErrorCode::ConsentRevoked,
        ErrorCode::ConsentState,
        ErrorCode::ConsentStateAsConflict,
        ErrorCode::ContentCorrupt,
        ErrorCode::ContentNotStored,
        ErrorCode::ContentNotSupported,
        ErrorCode::CsrfFailed,
        ErrorCode::DigestMismatch,
        ErrorCode::DocumentNotGranted,
        ErrorCode::DocumentNotRequested,
        ErrorCode::DocumentRevoked,
        ErrorCode::DuplicateRow,
        ErrorCode::EmptyBatch,
        ErrorCode::EsignUnsupported,
        ErrorCode::EventTooLarge,
        ErrorCode::FieldsErased,
        ErrorCode::FrequencyExceeded,
        ErrorCode::HashMismatch,
        ErrorCode::HeadersTooLarge,
        ErrorCode::IdConflict,
        ErrorCode::Internal,
        ErrorCode::InvalidAadhaar,
        ErrorCode::InvalidAccessDays,
        ErrorCode::InvalidAnswer,
        ErrorCode::InvalidBody,
        ErrorCode::InvalidBodyAsPayloadTooLarge,
        ErrorCode::InvalidBundle,
        ErrorCode::InvalidConsentId,
        ErrorCode::InvalidContent,
        ErrorCode::InvalidCredentials,
        ErrorCode::InvalidCursor,
        ErrorCode::InvalidCursorAsUnprocessableEntity,
        ErrorCode::InvalidDocument,
        ErrorCode::InvalidEvent,
        ErrorCode::InvalidEventId,
        ErrorCode::InvalidExpiry,
        ErrorCode::InvalidExpiryAsUnprocessableEntity,
        ErrorCode::InvalidField,
        ErrorCode::InvalidFileName,
        ErrorCode::InvalidFilesize,
        ErrorCode::InvalidFilesizeAsUnprocessableEntity,
        ErrorCode::InvalidFiletype,
        ErrorCode::InvalidIdentifier,
        ErrorCode::InvalidJson,
        ErrorCode::InvalidLastEventId,
        ErrorCode::InvalidLimit,
        ErrorCode::InvalidMobile,
        ErrorCode::InvalidOtp,
        ErrorCode::InvalidQuery,
        ErrorCode::InvalidSalt,
        ErrorCode::InvalidShareId,
        ErrorCode::InvalidSizes,
        ErrorCode::InvalidState,
        ErrorCode::InvalidToken,
        ErrorCode::InvalidUploadId,
        ErrorCode::InvalidUri,
        ErrorCode::InvalidUsername,
        ErrorCode::IssuerUnavailable,
        ErrorCode::KeyRevoked,
        ErrorCode::KycNotVerified,
        ErrorCode::KycRefused,
        ErrorCode::KycUnavailable,
        ErrorCode::KycUnavailableAsServiceUnavailable,
        ErrorCode::LockedOut,
        ErrorCode::LockerClosed,
        ErrorCode::MissingFileName,
        ErrorCode::MissingSignature,
        ErrorCode::MobileRegistered,
        ErrorCode::NameMismatch,
        ErrorCode::NameRequired,
        ErrorCode::NoMatchingDocuments,
        ErrorCode::NoPersonalFields,
        ErrorCode::NoRecord,
        ErrorCode::NotFound,
        ErrorCode::NotOwner,
        ErrorCode::NotPermitted,
        ErrorCode::NotPullable,
        ErrorCode::NotYetCheckpointed,
        ErrorCode::OtpDeliveryFailed,
        ErrorCode::OtpExpired,
        ErrorCode::OtpLocked,
        ErrorCode::OtpNotRequested,
        ErrorCode::PayloadTooLarge,
        ErrorCode::QuotaExceeded,
        ErrorCode::RateLimited,
        ErrorCode::ReplayedSignature,
        ErrorCode::ShareExpired,
        ErrorCode::ShareRevoked,
        ErrorCode::ShareRevokedAsGone,
        ErrorCode::StaleDocument,
        ErrorCode::StaleEvent,
        ErrorCode::StaleSignature,
        ErrorCode::Suspended,
        ErrorCode::TooManyAttempts,
        ErrorCode::TooManyStreams,
        ErrorCode::TooManyStreamsAsTooManyRequests,
        ErrorCode::TooManyViews,
        ErrorCode::TryLater,
        ErrorCode::Unavailable,
        ErrorCode::UnknownCitizen,
        ErrorCode::UnknownConsent,
        ErrorCode::UnknownDocument,
        ErrorCode::UnknownKey,
        ErrorCode::UnknownLocker,
        ErrorCode::UnknownPartition,
        ErrorCode::UnknownProof,
        ErrorCode::UnknownShare,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::UploadInterrupted,
        ErrorCode::UriExists,
        ErrorCode::UsernameTaken,
        ErrorCode::ViewsBehind,
        ErrorCode::WeakPassword,
    ];

    /// The code as answers carry it.
    pub const fn code(self) -> &'static str {
        TABLE[self as usize].0
    }

    /// The HTTP status it is answered with.
    pub const fn status(self) -> u16 {
        TABLE[self as usize].1
    }

    /// The code an answer carried (the first variant with that string), for clients.
    pub fn from_code(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|known| known.code() == code)
    }
}

/// Each variant's code and status, in the order the variants are declared.
const TABLE: &[(&str, u16)] = &[
    ("aadhaar_already_linked", 409),
    ("aadhaar_no_mobile", 422),
    ("aadhaar_suspended", 422),
    ("already_registered", 409),
    ("bad_signature", 401),
    ("batch_too_large", 400),
    ("batch_too_large", 413),
    ("beyond_checkpoint", 422),
    ("body_interrupted", 400),
    ("body_too_slow", 408),
    ("bundle_not_verified", 422),
    ("busy", 503),
    ("commitment_mismatch", 422),
    ("consent_exists", 409),
    ("consent_expired", 403),
    ("consent_expired", 409),
    ("consent_paused", 403),
    ("consent_revoked", 403),
    ("consent_state", 403),
    ("consent_state", 409),
    ("content_corrupt", 500),
    ("content_not_stored", 404),
    ("content_not_supported", 400),
    ("csrf_failed", 403),
    ("digest_mismatch", 400),
    ("document_not_granted", 403),
    ("document_not_requested", 422),
    ("document_revoked", 409),
    ("duplicate_row", 409),
    ("empty_batch", 400),
    ("esign_unsupported", 409),
    ("event_too_large", 413),
    ("fields_erased", 410),
    ("frequency_exceeded", 429),
    ("hash_mismatch", 422),
    ("headers_too_large", 431),
    ("id_conflict", 409),
    ("internal", 500),
    ("invalid_aadhaar", 422),
    ("invalid_access_days", 400),
    ("invalid_answer", 502),
    ("invalid_body", 400),
    ("invalid_body", 413),
    ("invalid_bundle", 422),
    ("invalid_consent_id", 400),
    ("invalid_content", 400),
    ("invalid_credentials", 401),
    ("invalid_cursor", 400),
    ("invalid_cursor", 422),
    ("invalid_document", 400),
    ("invalid_event", 422),
    ("invalid_event_id", 422),
    ("invalid_expiry", 400),
    ("invalid_expiry", 422),
    ("invalid_field", 422),
    ("invalid_file_name", 400),
    ("invalid_filesize", 413),
    ("invalid_filesize", 422),
    ("invalid_filetype", 415),
    ("invalid_identifier", 422),
    ("invalid_json", 400),
    ("invalid_last_event_id", 400),
    ("invalid_limit", 400),
    ("invalid_mobile", 400),
    ("invalid_otp", 401),
    ("invalid_query", 400),
    ("invalid_salt", 400),
    ("invalid_share_id", 400),
    ("invalid_sizes", 422),
    ("invalid_state", 400),
    ("invalid_token", 401),
    ("invalid_upload_id", 400),
    ("invalid_uri", 400),
    ("invalid_username", 400),
    ("issuer_unavailable", 502),
    ("key_revoked", 401),
    ("kyc_not_verified", 502),
    ("kyc_refused", 502),
    ("kyc_unavailable", 502),
    ("kyc_unavailable", 503),
    ("locked_out", 423),
    ("locker_closed", 410),
    ("missing_file_name", 400),
    ("missing_signature", 401),
    ("mobile_registered", 409),
    ("name_mismatch", 422),
    ("name_required", 422),
    ("no_matching_documents", 409),
    ("no_personal_fields", 404),
    ("no_record", 404),
    ("not_found", 404),
    ("not_owner", 503),
    ("not_permitted", 403),
    ("not_pullable", 404),
    ("not_yet_checkpointed", 503),
    ("otp_delivery_failed", 502),
    ("otp_expired", 401),
    ("otp_locked", 401),
    ("otp_not_requested", 409),
    ("payload_too_large", 413),
    ("quota_exceeded", 413),
    ("rate_limited", 429),
    ("replayed_signature", 401),
    ("share_expired", 410),
    ("share_revoked", 409),
    ("share_revoked", 410),
    ("stale_document", 409),
    ("stale_event", 422),
    ("stale_signature", 401),
    ("suspended", 403),
    ("too_many_attempts", 429),
    ("too_many_streams", 503),
    ("too_many_streams", 429),
    ("too_many_views", 429),
    ("try_later", 503),
    ("unavailable", 503),
    ("unknown_citizen", 404),
    ("unknown_consent", 404),
    ("unknown_document", 404),
    ("unknown_key", 401),
    ("unknown_locker", 404),
    ("unknown_partition", 404),
    ("unknown_proof", 404),
    ("unknown_share", 404),
    ("unsupported_media_type", 415),
    ("upload_interrupted", 400),
    ("uri_exists", 409),
    ("username_taken", 409),
    ("views_behind", 503),
    ("weak_password", 400),
];

const _: () = assert!(TABLE.len() == ErrorCode::ALL.len());

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_the_order_of_the_variants() {
        for (index, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(*code as usize, index, "{code:?}");
        }
    }

    #[test]
    fn codes_are_snake_case_and_a_code_keeps_one_string_across_statuses() {
        for code in ErrorCode::ALL {
            let text = code.code();
            assert!(text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{text}");
            assert!((400..600).contains(&code.status()), "{text}");
            assert_eq!(ErrorCode::from_code(text).map(ErrorCode::code), Some(text));
        }
        let mut pairs: Vec<_> = ErrorCode::ALL.iter().map(|c| (c.code(), c.status())).collect();
        let all = pairs.len();
        pairs.sort_unstable();
        pairs.dedup();
        assert_eq!(pairs.len(), all, "two variants with the same code and status");
    }
}
