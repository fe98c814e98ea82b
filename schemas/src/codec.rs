//! The canonical binary encoding (bincode 2, fixed configuration) and the JSON form.
//!
//! A record on the log is `version: u16 little-endian || bincode(Envelope)`. Decoding accepts
//! only canonical bytes: a record that decodes but does not re-encode to the same bytes is
//! refused, so one event has exactly one byte form and its hash is well defined.

use bincode::config::{Configuration, Fixint, Limit, LittleEndian};

use crate::SchemaError;
use crate::bytes::SignatureBytes;
use crate::event::{BatchProof, Envelope, Event, Sealed};
use crate::limits::{ENCODE_START_BYTES, RECORD_SIZE_BYTES_MAX, SEALED_CIPHERTEXT_BYTES_MAX};
use crate::personal::PersonalData;

/// The version written in front of every envelope. Readers refuse versions they do not know.
/// Version 1: `event, signature, sealed`. Version 2 adds the event's `BatchProof` after them
/// (batch-signed events); an envelope without one is always written as version 1.
pub const ENVELOPE_VERSION: u16 = 1;
pub const ENVELOPE_VERSION_BATCH: u16 = 2;
/// What a batch signature covers, before `size (u32 little-endian) || root`.
pub const BATCH_SIGNING_DOMAIN: &[u8] = b"locker/batch/v1\n";
/// Prepended to an event's canonical bytes before signing, so that an event signature can never
/// be mistaken for a signature over anything else (an e-signature, a checkpoint, an HTTP request).
pub const EVENT_SIGNING_DOMAIN: &[u8] = b"locker/event/v1\n";
/// Prepended to a document's content hash when a citizen e-signs it.
pub const ESIGN_DOMAIN: &[u8] = b"locker/esign/v1\n";

type Canonical = Configuration<LittleEndian, Fixint, Limit<RECORD_SIZE_BYTES_MAX>>;

fn config() -> Canonical {
    bincode::config::standard()
        .with_little_endian()
        .with_fixed_int_encoding()
        .with_limit::<RECORD_SIZE_BYTES_MAX>()
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, SchemaError> {
    // The size limit is checked by the callers on the finished bytes; bincode enforces its
    // configured limit only while decoding.
    let mut bytes = Vec::with_capacity(ENCODE_START_BYTES);
    encode_onto(&mut bytes, value, config()).map_err(|e| SchemaError::Malformed(e.to_string()))?;
    Ok(bytes)
}

/// Appends `value`'s bincode to `out`. Callers start `out` at `ENCODE_START_BYTES`: grown from
/// empty, an event's encoding was reallocated and copied about eight times (growing vectors
/// were 4% of a bulk load's CPU).
pub fn encode_onto<T: serde::Serialize, C: bincode::config::Config>(
    out: &mut Vec<u8>,
    value: &T,
    config: C,
) -> Result<(), bincode::error::EncodeError> {
    struct Onto<'a>(&'a mut Vec<u8>);
    impl bincode::enc::write::Writer for Onto<'_> {
        // Inlined, and a lone byte pushed: hashes, keys, ids and signatures go through serde
        // as tuples of single bytes (that is their canonical form), and each byte was a call
        // to this function and to memcpy.
        #[inline]
        fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
            match bytes {
                [byte] => self.0.push(*byte),
                _ => self.0.extend_from_slice(bytes),
            }
            Ok(())
        }
    }
    bincode::serde::encode_into_writer(value, Onto(out), config)
}

/// Whether `value` encodes to exactly `expected`, compared as it is encoded: no allocation
/// (the audit checks every record's canonical form).
fn encodes_to<T: serde::Serialize>(value: &T, expected: &[u8]) -> bool {
    struct Compare<'a> {
        expected: &'a [u8],
        at: usize,
        same: bool,
    }
    impl bincode::enc::write::Writer for Compare<'_> {
        // As `encode_onto`'s writer: most writes are one byte of a hash, key or signature.
        #[inline]
        fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
            let end = self.at + bytes.len();
            let same = match bytes {
                [byte] => self.expected.get(self.at) == Some(byte),
                _ => self.expected.get(self.at..end) == Some(bytes),
            };
            self.same = self.same && same;
            self.at = end;
            Ok(())
        }
    }
    let mut compare = Compare { expected, at: 0, same: true };
    bincode::serde::encode_into_writer(value, &mut compare, config()).is_ok()
        && compare.same
        && compare.at == expected.len()
}

fn decode_exact<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, SchemaError> {
    let (value, used) = bincode::serde::decode_from_slice::<T, _>(bytes, config())
        .map_err(|e| SchemaError::Malformed(e.to_string()))?;
    if used != bytes.len() {
        return Err(SchemaError::TrailingBytes { extra_bytes: bytes.len() - used });
    }
    Ok(value)
}

/// The canonical bytes of an event (without the signing domain).
pub fn encode_event(event: &Event) -> Result<Vec<u8>, SchemaError> {
    encode(event)
}

/// What the actor signs: `EVENT_SIGNING_DOMAIN || encode_event(event)`.
pub fn signing_bytes(event: &Event) -> Result<Vec<u8>, SchemaError> {
    let mut bytes = Vec::with_capacity(ENCODE_START_BYTES);
    bytes.extend_from_slice(EVENT_SIGNING_DOMAIN);
    encode_onto(&mut bytes, event, config()).map_err(|e| SchemaError::Malformed(e.to_string()))?;
    Ok(bytes)
}

/// Encodes a record for the log. Fails if the envelope is invalid or larger than the limit.
pub fn encode_record(envelope: &Envelope) -> Result<Vec<u8>, SchemaError> {
    encode_signed_record(envelope).map(|(record, _)| record)
}

/// Encodes a record for the log and also returns what its actor signed
/// (`signing_bytes(&envelope.event)`), from the same encoding: the record is the version, then
/// the event's bytes, then the rest (a tuple encodes as its fields in order). For a writer that
/// holds the envelope typed: nothing needs decoding again. Fails as `encode_record` does.
pub fn encode_signed_record(envelope: &Envelope) -> Result<(Vec<u8>, Vec<u8>), SchemaError> {
    validate_envelope(envelope)?;
    encode_parts(envelope)
}

/// An envelope its service has not sealed yet (a bulk row: the issuer sends the personal
/// fields in clear, the service seals them), in the record's form: `sealed` must be absent,
/// and a personal commitment needs no sealed payload yet; every other rule holds.
pub fn encode_unsealed_record(envelope: &Envelope) -> Result<Vec<u8>, SchemaError> {
    validate_unsealed(envelope)?;
    encode_parts(envelope).map(|(record, _)| record)
}

/// Decodes what `encode_unsealed_record` made, in canonical form only, with what its actor
/// signed (taken from the record's bytes, so a checker need not encode the event again).
pub fn decode_unsealed_record(bytes: &[u8]) -> Result<SignedEnvelope, SchemaError> {
    let (envelope, signing_bytes) = decode_parts(bytes)?;
    validate_unsealed(&envelope)?;
    Ok(SignedEnvelope { envelope, signing_bytes })
}

/// An envelope and what its actor signed (`signing_bytes(&envelope.event)`). Only this module
/// makes one, from the envelope itself or from its canonical record, and the envelope cannot
/// be changed while it is held here, so the two always agree: a checker may verify the
/// signature over these bytes instead of encoding the event again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEnvelope {
    envelope: Envelope,
    signing_bytes: Vec<u8>,
}

impl SignedEnvelope {
    /// Encodes the event's signing bytes.
    pub fn new(envelope: Envelope) -> Result<Self, SchemaError> {
        let signing_bytes = signing_bytes(&envelope.event)?;
        Ok(Self { envelope, signing_bytes })
    }

    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// `signing_bytes(&self.envelope().event)`.
    pub fn signing_bytes(&self) -> &[u8] {
        &self.signing_bytes
    }

    /// The envelope, to be changed (sealed) or sent on.
    pub fn into_envelope(self) -> Envelope {
        self.envelope
    }
}

fn validate_unsealed(envelope: &Envelope) -> Result<(), SchemaError> {
    if envelope.sealed.is_some() {
        return Err(SchemaError::InvalidEvent(
            "an unsealed envelope carries no sealed payload: the service seals it".to_owned(),
        ));
    }
    validate_common(envelope)
}

fn encode_parts(envelope: &Envelope) -> Result<(Vec<u8>, Vec<u8>), SchemaError> {
    let malformed = |e: bincode::error::EncodeError| SchemaError::Malformed(e.to_string());
    let version = if envelope.batch.is_some() { ENVELOPE_VERSION_BATCH } else { ENVELOPE_VERSION };
    // One vector: the version, the event, the rest; what was signed is copied from it.
    let mut record = Vec::with_capacity(ENCODE_START_BYTES);
    record.extend_from_slice(&version.to_le_bytes());
    encode_onto(&mut record, &envelope.event, config()).map_err(malformed)?;
    let event_end = record.len();
    match &envelope.batch {
        None => encode_onto(&mut record, &(&envelope.signature, &envelope.sealed), config()),
        Some(batch) => {
            encode_onto(&mut record, &(&envelope.signature, &envelope.sealed, batch), config())
        }
    }
    .map_err(malformed)?;
    let size_bytes = record.len();
    if size_bytes > RECORD_SIZE_BYTES_MAX {
        return Err(SchemaError::RecordTooLarge { size_bytes, limit_bytes: RECORD_SIZE_BYTES_MAX });
    }
    let event = &record[2..event_end];
    let mut signed = Vec::with_capacity(EVENT_SIGNING_DOMAIN.len() + event.len());
    signed.extend_from_slice(EVENT_SIGNING_DOMAIN);
    signed.extend_from_slice(event);
    Ok((record, signed))
}

/// Decodes a record from the log. Never panics, whatever the bytes.
pub fn decode_record(bytes: &[u8]) -> Result<Envelope, SchemaError> {
    decode_signed_record(bytes).map(|(envelope, _)| envelope)
}

/// Decodes a record and also returns what its actor signed (`signing_bytes(&envelope.event)`),
/// taken from the record itself instead of encoding the event once more.
pub fn decode_signed_record(bytes: &[u8]) -> Result<(Envelope, Vec<u8>), SchemaError> {
    let (envelope, signed) = decode_parts(bytes)?;
    validate_envelope(&envelope)?;
    Ok((envelope, signed))
}

/// An envelope in canonical form and what its actor signed, before the envelope's rules.
fn decode_parts(bytes: &[u8]) -> Result<(Envelope, Vec<u8>), SchemaError> {
    if bytes.len() > RECORD_SIZE_BYTES_MAX {
        return Err(SchemaError::RecordTooLarge {
            size_bytes: bytes.len(),
            limit_bytes: RECORD_SIZE_BYTES_MAX,
        });
    }
    let Some((version, body)) = bytes.split_first_chunk::<2>() else {
        return Err(SchemaError::RecordTruncated { size_bytes: bytes.len() });
    };
    let version = u16::from_le_bytes(*version);
    if version != ENVELOPE_VERSION && version != ENVELOPE_VERSION_BATCH {
        return Err(SchemaError::UnsupportedVersion {
            found: version,
            supported: ENVELOPE_VERSION_BATCH,
        });
    }
    // An envelope is encoded as its fields in order, so the event's bytes are a prefix of the
    // body: decode it alone to learn where it ends.
    let (event, event_len) = bincode::serde::decode_from_slice::<Event, _>(body, config())
        .map_err(|e| SchemaError::Malformed(e.to_string()))?;
    let (event_bytes, rest) = body.split_at(event_len);
    let (signature, sealed, batch) = if version == ENVELOPE_VERSION {
        let (signature, sealed): (SignatureBytes, Option<Sealed>) = decode_exact(rest)?;
        (signature, sealed, None)
    } else {
        let (signature, sealed, batch): (SignatureBytes, Option<Sealed>, BatchProof) =
            decode_exact(rest)?;
        (signature, sealed, Some(batch))
    };
    // Canonical form: refuse any second spelling of the same envelope. Re-encoding the event
    // also yields exactly the bytes its actor signed.
    let rest_canonical = match &batch {
        None => encodes_to(&(signature, &sealed), rest),
        Some(batch) => encodes_to(&(signature, &sealed, batch), rest),
    };
    if !encodes_to(&event, event_bytes) || !rest_canonical {
        return Err(SchemaError::Malformed("not in canonical form".to_owned()));
    }
    let envelope = Envelope { event, signature, sealed, batch };
    let mut signed = Vec::with_capacity(EVENT_SIGNING_DOMAIN.len() + event_bytes.len());
    signed.extend_from_slice(EVENT_SIGNING_DOMAIN);
    signed.extend_from_slice(event_bytes);
    Ok((envelope, signed))
}

fn validate_envelope(envelope: &Envelope) -> Result<(), SchemaError> {
    validate_common(envelope)?;
    validate_sealed(envelope)
}

/// The rules of an envelope but for its sealed payload.
fn validate_common(envelope: &Envelope) -> Result<(), SchemaError> {
    envelope.event.payload.validate()?;
    if let Some(batch) = &envelope.batch {
        use crate::limits::{BATCH_EVENTS_MAX, BATCH_PATH_HASHES_MAX};
        if batch.size == 0 || batch.size > BATCH_EVENTS_MAX || batch.index >= batch.size {
            return Err(SchemaError::InvalidEvent(format!(
                "batch position {} of {} (a batch holds 1 to {BATCH_EVENTS_MAX} events)",
                batch.index, batch.size
            )));
        }
        if batch.path.len() > BATCH_PATH_HASHES_MAX {
            return Err(SchemaError::InvalidEvent(format!(
                "a batch path of {} hashes (at most {BATCH_PATH_HASHES_MAX})",
                batch.path.len()
            )));
        }
    }
    Ok(())
}

/// The sealed payload's rules: there when the event commits to personal data, and for the
/// event's subject.
fn validate_sealed(envelope: &Envelope) -> Result<(), SchemaError> {
    let payload = &envelope.event.payload;
    match (payload.personal_commitment(), &envelope.sealed) {
        (Some(_), None) => {
            return Err(SchemaError::InvalidEvent(format!(
                "{} commits to personal data but carries no sealed payload",
                payload.kind_name()
            )));
        }
        (None, Some(_)) => {
            return Err(SchemaError::InvalidEvent(format!(
                "{} carries a sealed payload but commits to none",
                payload.kind_name()
            )));
        }
        _ => {}
    }
    if let Some(sealed) = &envelope.sealed {
        if sealed.ciphertext.len() > SEALED_CIPHERTEXT_BYTES_MAX {
            return Err(SchemaError::InvalidEvent(format!(
                "sealed payload of {} bytes exceeds {SEALED_CIPHERTEXT_BYTES_MAX}",
                sealed.ciphertext.len()
            )));
        }
        if payload.seal_subject().as_ref() != Some(&sealed.subject) {
            return Err(SchemaError::InvalidEvent(
                "sealed payload is sealed for another subject than the event's".to_owned(),
            ));
        }
    }
    Ok(())
}

/// Canonical bytes of personal data, the plaintext that is salted, hashed and sealed.
pub fn encode_personal(data: &PersonalData) -> Result<Vec<u8>, SchemaError> {
    data.validate()?;
    encode(data)
}

pub fn decode_personal(bytes: &[u8]) -> Result<PersonalData, SchemaError> {
    let data: PersonalData = decode_exact(bytes)?;
    data.validate()?;
    Ok(data)
}

/// The JSON form of an envelope, as the API shows and accepts it.
pub fn envelope_to_json(envelope: &Envelope) -> Result<String, SchemaError> {
    serde_json::to_string_pretty(envelope).map_err(|e| SchemaError::Json(e.to_string()))
}

/// Parses and validates the JSON form. Unknown fields are refused.
pub fn envelope_from_json(text: &str) -> Result<Envelope, SchemaError> {
    if text.len() > RECORD_SIZE_BYTES_MAX * 4 {
        return Err(SchemaError::RecordTooLarge {
            size_bytes: text.len(),
            limit_bytes: RECORD_SIZE_BYTES_MAX * 4,
        });
    }
    let envelope: Envelope =
        serde_json::from_str(text).map_err(|e| SchemaError::Json(e.to_string()))?;
    validate_envelope(&envelope)?;
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_to_accepts_exactly_the_encoding() {
        let value = (7u32, "locker".to_owned(), Some(vec![1u8, 2, 3]));
        let bytes = encode(&value).expect("encode");
        assert!(encodes_to(&value, &bytes));
        let mut changed = bytes.clone();
        changed[5] ^= 1;
        assert!(!encodes_to(&value, &changed));
        assert!(!encodes_to(&value, &bytes[..bytes.len() - 1]), "shorter");
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(!encodes_to(&value, &longer), "longer");
        assert!(!encodes_to(&value, &[]));
    }
}
