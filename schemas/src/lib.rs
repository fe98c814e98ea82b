//! The locker event catalogue.
//!
//! Everything that happens to a citizen's documents is one [`Event`], signed by its [`Actor`]
//! and stored in an [`Envelope`] on the log. This crate defines those types, the identifiers
//! they are made of (each validated on construction), and their canonical binary and JSON
//! encodings.
//!
//! **Architecture invariant:** schemas does no IO and no cryptography. It knows nothing of
//! keys, logs or HTTP; `ledger` signs, verifies and stores what this crate describes.

mod bytes;
mod codec;
mod doctype;
mod error;
mod event;
mod ids;
pub mod limits;
mod personal;
pub mod sample;
pub mod verhoeff;

pub use bytes::{Digest32, EventId, Id16, KeyId, Nonce24, PublicKeyBytes, SignatureBytes, to_hex};
pub use codec::{
    BATCH_SIGNING_DOMAIN, ENVELOPE_VERSION, ENVELOPE_VERSION_BATCH, ESIGN_DOMAIN,
    EVENT_SIGNING_DOMAIN, SignedEnvelope, decode_personal, decode_record, decode_signed_record,
    decode_unsealed_record, encode_event, encode_onto, encode_personal, encode_record,
    encode_signed_record, encode_unsealed_record, envelope_from_json, envelope_to_json,
    signing_bytes,
};
pub use error::SchemaError;
pub use event::*;
pub use ids::{
    Aadhaar, CivilDate, DocId, DocTypeCode, DocUri, Email, Endpoint, FieldKey, FieldValue,
    IssuerId, Label, Last4, LockerId, MobileNumber, Reason, RequesterId, TimestampMs, Username,
};
pub use personal::{
    DocumentField, DocumentPersonal, Gender, KycProfile, PersonalData, Profile, UploadPersonal,
};
