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
    /// `invalid_file_name`, HTTP 400.
    InvalidFileName,
    /// `invalid_filesize`, HTTP 413.
    InvalidFilesize,
    /// `invalid_filesize`, HTTP 422.
    InvalidFilesizeAsUnprocessableEntity,
    /// `invalid_filetype`, HTTP 415.
    InvalidFiletype,
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
    /// `missing_file_name`, HTTP 400.
    MissingFileName,
    /// `missing_signature`, HTTP 401.
    MissingSignature,
    /// `mobile_registered`, HTTP 409.
    MobileRegistered,
    /// `no_matching_documents`, HTTP 409.
    NoMatchingDocuments,
    /// `no_personal_fields`, HTTP 404.
    NoPersonalFields,
    /// `not_found`, HTTP 404.
    NotFound,
    /// `not_permitted`, HTTP 403.
    NotPermitted,
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
        ErrorCode::HashMismatch,
        ErrorCode::HeadersTooLarge,
        ErrorCode::IdConflict,
        ErrorCode::Internal,
        ErrorCode::InvalidAadhaar,
        ErrorCode::InvalidAccessDays,
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
        ErrorCode::InvalidFileName,
        ErrorCode::InvalidFilesize,
        ErrorCode::InvalidFilesizeAsUnprocessableEntity,
        ErrorCode::InvalidFiletype,
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
        ErrorCode::KeyRevoked,
        ErrorCode::KycNotVerified,
        ErrorCode::KycRefused,
        ErrorCode::KycUnavailable,
        ErrorCode::KycUnavailableAsServiceUnavailable,
        ErrorCode::LockedOut,
        ErrorCode::MissingFileName,
        ErrorCode::MissingSignature,
        ErrorCode::MobileRegistered,
        ErrorCode::NoMatchingDocuments,
        ErrorCode::NoPersonalFields,
        ErrorCode::NotFound,
        ErrorCode::NotPermitted,
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
        ErrorCode::Unavailable,
        ErrorCode::UnknownCitizen,
        ErrorCode::UnknownConsent,
        ErrorCode::UnknownDocument,
        ErrorCode::UnknownKey,
        ErrorCode::UnknownLocker,
        ErrorCode::UnknownPartition,
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
        match self {
            ErrorCode::AadhaarAlreadyLinked => "aadhaar_already_linked",
            ErrorCode::AadhaarNoMobile => "aadhaar_no_mobile",
            ErrorCode::AadhaarSuspended => "aadhaar_suspended",
            ErrorCode::AlreadyRegistered => "already_registered",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::BatchTooLarge => "batch_too_large",
            ErrorCode::BatchTooLargeAsPayloadTooLarge => "batch_too_large",
            ErrorCode::BeyondCheckpoint => "beyond_checkpoint",
            ErrorCode::BodyInterrupted => "body_interrupted",
            ErrorCode::BodyTooSlow => "body_too_slow",
            ErrorCode::BundleNotVerified => "bundle_not_verified",
            ErrorCode::Busy => "busy",
            ErrorCode::CommitmentMismatch => "commitment_mismatch",
            ErrorCode::ConsentExists => "consent_exists",
            ErrorCode::ConsentExpired => "consent_expired",
            ErrorCode::ConsentExpiredAsConflict => "consent_expired",
            ErrorCode::ConsentRevoked => "consent_revoked",
            ErrorCode::ConsentState => "consent_state",
            ErrorCode::ConsentStateAsConflict => "consent_state",
            ErrorCode::ContentCorrupt => "content_corrupt",
            ErrorCode::ContentNotStored => "content_not_stored",
            ErrorCode::ContentNotSupported => "content_not_supported",
            ErrorCode::CsrfFailed => "csrf_failed",
            ErrorCode::DigestMismatch => "digest_mismatch",
            ErrorCode::DocumentNotGranted => "document_not_granted",
            ErrorCode::DocumentNotRequested => "document_not_requested",
            ErrorCode::DocumentRevoked => "document_revoked",
            ErrorCode::DuplicateRow => "duplicate_row",
            ErrorCode::EmptyBatch => "empty_batch",
            ErrorCode::EsignUnsupported => "esign_unsupported",
            ErrorCode::EventTooLarge => "event_too_large",
            ErrorCode::FieldsErased => "fields_erased",
            ErrorCode::HashMismatch => "hash_mismatch",
            ErrorCode::HeadersTooLarge => "headers_too_large",
            ErrorCode::IdConflict => "id_conflict",
            ErrorCode::Internal => "internal",
            ErrorCode::InvalidAadhaar => "invalid_aadhaar",
            ErrorCode::InvalidAccessDays => "invalid_access_days",
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::InvalidBodyAsPayloadTooLarge => "invalid_body",
            ErrorCode::InvalidBundle => "invalid_bundle",
            ErrorCode::InvalidConsentId => "invalid_consent_id",
            ErrorCode::InvalidContent => "invalid_content",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::InvalidCursor => "invalid_cursor",
            ErrorCode::InvalidCursorAsUnprocessableEntity => "invalid_cursor",
            ErrorCode::InvalidDocument => "invalid_document",
            ErrorCode::InvalidEvent => "invalid_event",
            ErrorCode::InvalidEventId => "invalid_event_id",
            ErrorCode::InvalidExpiry => "invalid_expiry",
            ErrorCode::InvalidExpiryAsUnprocessableEntity => "invalid_expiry",
            ErrorCode::InvalidFileName => "invalid_file_name",
            ErrorCode::InvalidFilesize => "invalid_filesize",
            ErrorCode::InvalidFilesizeAsUnprocessableEntity => "invalid_filesize",
            ErrorCode::InvalidFiletype => "invalid_filetype",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidLastEventId => "invalid_last_event_id",
            ErrorCode::InvalidLimit => "invalid_limit",
            ErrorCode::InvalidMobile => "invalid_mobile",
            ErrorCode::InvalidOtp => "invalid_otp",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::InvalidSalt => "invalid_salt",
            ErrorCode::InvalidShareId => "invalid_share_id",
            ErrorCode::InvalidSizes => "invalid_sizes",
            ErrorCode::InvalidState => "invalid_state",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InvalidUploadId => "invalid_upload_id",
            ErrorCode::InvalidUri => "invalid_uri",
            ErrorCode::InvalidUsername => "invalid_username",
            ErrorCode::KeyRevoked => "key_revoked",
            ErrorCode::KycNotVerified => "kyc_not_verified",
            ErrorCode::KycRefused => "kyc_refused",
            ErrorCode::KycUnavailable => "kyc_unavailable",
            ErrorCode::KycUnavailableAsServiceUnavailable => "kyc_unavailable",
            ErrorCode::LockedOut => "locked_out",
            ErrorCode::MissingFileName => "missing_file_name",
            ErrorCode::MissingSignature => "missing_signature",
            ErrorCode::MobileRegistered => "mobile_registered",
            ErrorCode::NoMatchingDocuments => "no_matching_documents",
            ErrorCode::NoPersonalFields => "no_personal_fields",
            ErrorCode::NotFound => "not_found",
            ErrorCode::NotPermitted => "not_permitted",
            ErrorCode::NotYetCheckpointed => "not_yet_checkpointed",
            ErrorCode::OtpDeliveryFailed => "otp_delivery_failed",
            ErrorCode::OtpExpired => "otp_expired",
            ErrorCode::OtpLocked => "otp_locked",
            ErrorCode::OtpNotRequested => "otp_not_requested",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ReplayedSignature => "replayed_signature",
            ErrorCode::ShareExpired => "share_expired",
            ErrorCode::ShareRevoked => "share_revoked",
            ErrorCode::ShareRevokedAsGone => "share_revoked",
            ErrorCode::StaleDocument => "stale_document",
            ErrorCode::StaleEvent => "stale_event",
            ErrorCode::StaleSignature => "stale_signature",
            ErrorCode::Suspended => "suspended",
            ErrorCode::TooManyAttempts => "too_many_attempts",
            ErrorCode::TooManyStreams => "too_many_streams",
            ErrorCode::TooManyStreamsAsTooManyRequests => "too_many_streams",
            ErrorCode::TooManyViews => "too_many_views",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::UnknownCitizen => "unknown_citizen",
            ErrorCode::UnknownConsent => "unknown_consent",
            ErrorCode::UnknownDocument => "unknown_document",
            ErrorCode::UnknownKey => "unknown_key",
            ErrorCode::UnknownLocker => "unknown_locker",
            ErrorCode::UnknownPartition => "unknown_partition",
            ErrorCode::UnknownShare => "unknown_share",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::UploadInterrupted => "upload_interrupted",
            ErrorCode::UriExists => "uri_exists",
            ErrorCode::UsernameTaken => "username_taken",
            ErrorCode::ViewsBehind => "views_behind",
            ErrorCode::WeakPassword => "weak_password",
        }
    }

    /// The HTTP status it is answered with.
    pub const fn status(self) -> u16 {
        match self {
            ErrorCode::AadhaarAlreadyLinked => 409,
            ErrorCode::AadhaarNoMobile => 422,
            ErrorCode::AadhaarSuspended => 422,
            ErrorCode::AlreadyRegistered => 409,
            ErrorCode::BadSignature => 401,
            ErrorCode::BatchTooLarge => 400,
            ErrorCode::BatchTooLargeAsPayloadTooLarge => 413,
            ErrorCode::BeyondCheckpoint => 422,
            ErrorCode::BodyInterrupted => 400,
            ErrorCode::BodyTooSlow => 408,
            ErrorCode::BundleNotVerified => 422,
            ErrorCode::Busy => 503,
            ErrorCode::CommitmentMismatch => 422,
            ErrorCode::ConsentExists => 409,
            ErrorCode::ConsentExpired => 403,
            ErrorCode::ConsentExpiredAsConflict => 409,
            ErrorCode::ConsentRevoked => 403,
            ErrorCode::ConsentState => 403,
            ErrorCode::ConsentStateAsConflict => 409,
            ErrorCode::ContentCorrupt => 500,
            ErrorCode::ContentNotStored => 404,
            ErrorCode::ContentNotSupported => 400,
            ErrorCode::CsrfFailed => 403,
            ErrorCode::DigestMismatch => 400,
            ErrorCode::DocumentNotGranted => 403,
            ErrorCode::DocumentNotRequested => 422,
            ErrorCode::DocumentRevoked => 409,
            ErrorCode::DuplicateRow => 409,
            ErrorCode::EmptyBatch => 400,
            ErrorCode::EsignUnsupported => 409,
            ErrorCode::EventTooLarge => 413,
            ErrorCode::FieldsErased => 410,
            ErrorCode::HashMismatch => 422,
            ErrorCode::HeadersTooLarge => 431,
            ErrorCode::IdConflict => 409,
            ErrorCode::Internal => 500,
            ErrorCode::InvalidAadhaar => 422,
            ErrorCode::InvalidAccessDays => 400,
            ErrorCode::InvalidBody => 400,
            ErrorCode::InvalidBodyAsPayloadTooLarge => 413,
            ErrorCode::InvalidBundle => 422,
            ErrorCode::InvalidConsentId => 400,
            ErrorCode::InvalidContent => 400,
            ErrorCode::InvalidCredentials => 401,
            ErrorCode::InvalidCursor => 400,
            ErrorCode::InvalidCursorAsUnprocessableEntity => 422,
            ErrorCode::InvalidDocument => 400,
            ErrorCode::InvalidEvent => 422,
            ErrorCode::InvalidEventId => 422,
            ErrorCode::InvalidExpiry => 400,
            ErrorCode::InvalidExpiryAsUnprocessableEntity => 422,
            ErrorCode::InvalidFileName => 400,
            ErrorCode::InvalidFilesize => 413,
            ErrorCode::InvalidFilesizeAsUnprocessableEntity => 422,
            ErrorCode::InvalidFiletype => 415,
            ErrorCode::InvalidJson => 400,
            ErrorCode::InvalidLastEventId => 400,
            ErrorCode::InvalidLimit => 400,
            ErrorCode::InvalidMobile => 400,
            ErrorCode::InvalidOtp => 401,
            ErrorCode::InvalidQuery => 400,
            ErrorCode::InvalidSalt => 400,
            ErrorCode::InvalidShareId => 400,
            ErrorCode::InvalidSizes => 422,
            ErrorCode::InvalidState => 400,
            ErrorCode::InvalidToken => 401,
            ErrorCode::InvalidUploadId => 400,
            ErrorCode::InvalidUri => 400,
            ErrorCode::InvalidUsername => 400,
            ErrorCode::KeyRevoked => 401,
            ErrorCode::KycNotVerified => 502,
            ErrorCode::KycRefused => 502,
            ErrorCode::KycUnavailable => 502,
            ErrorCode::KycUnavailableAsServiceUnavailable => 503,
            ErrorCode::LockedOut => 423,
            ErrorCode::MissingFileName => 400,
            ErrorCode::MissingSignature => 401,
            ErrorCode::MobileRegistered => 409,
            ErrorCode::NoMatchingDocuments => 409,
            ErrorCode::NoPersonalFields => 404,
            ErrorCode::NotFound => 404,
            ErrorCode::NotPermitted => 403,
            ErrorCode::NotYetCheckpointed => 503,
            ErrorCode::OtpDeliveryFailed => 502,
            ErrorCode::OtpExpired => 401,
            ErrorCode::OtpLocked => 401,
            ErrorCode::OtpNotRequested => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::QuotaExceeded => 413,
            ErrorCode::RateLimited => 429,
            ErrorCode::ReplayedSignature => 401,
            ErrorCode::ShareExpired => 410,
            ErrorCode::ShareRevoked => 409,
            ErrorCode::ShareRevokedAsGone => 410,
            ErrorCode::StaleDocument => 409,
            ErrorCode::StaleEvent => 422,
            ErrorCode::StaleSignature => 401,
            ErrorCode::Suspended => 403,
            ErrorCode::TooManyAttempts => 429,
            ErrorCode::TooManyStreams => 503,
            ErrorCode::TooManyStreamsAsTooManyRequests => 429,
            ErrorCode::TooManyViews => 429,
            ErrorCode::Unavailable => 503,
            ErrorCode::UnknownCitizen => 404,
            ErrorCode::UnknownConsent => 404,
            ErrorCode::UnknownDocument => 404,
            ErrorCode::UnknownKey => 401,
            ErrorCode::UnknownLocker => 404,
            ErrorCode::UnknownPartition => 404,
            ErrorCode::UnknownShare => 404,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::UploadInterrupted => 400,
            ErrorCode::UriExists => 409,
            ErrorCode::UsernameTaken => 409,
            ErrorCode::ViewsBehind => 503,
            ErrorCode::WeakPassword => 400,
        }
    }

    /// The code an answer carried (the first variant with that string), for clients.
    pub fn from_code(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|known| known.code() == code)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
