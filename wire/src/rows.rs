//! Bulk rows in binary (`application/vnd.locker.rows`), beside NDJSON for people: the same row
//! (a `document_issued` envelope, unsealed, and the personal fields it commits to with their
//! salt) in the ledger's canonical binary form, so the service parses with no text at all.
//!
//! A body is rows one after another, each `len u32 LE | row`; a row is
//! `record_len u32 LE | record | personal`, where `record` is
//! `schemas::encode_unsealed_record` of the envelope (the record's form, with no sealed
//! payload yet: the service seals) and `personal` is empty (none) or
//! `salt [32] | schemas::encode_personal(data)`.

use schemas::{Envelope, PersonalData, SchemaError, SignedEnvelope};

/// The content type of a binary batch.
pub const MEDIA_TYPE: &str = "application/vnd.locker.rows";

/// Why a binary body or row does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError(pub String);

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<SchemaError> for RowError {
    fn from(e: SchemaError) -> Self {
        RowError(e.to_string())
    }
}

/// One row's bytes (without the frame's length).
pub fn encode_row(
    envelope: &Envelope,
    personal: Option<(&[u8; 32], &PersonalData)>,
) -> Result<Vec<u8>, SchemaError> {
    let record = schemas::encode_unsealed_record(envelope)?;
    let record_len = u32::try_from(record.len()).unwrap_or_else(|_| unreachable!("bounded"));
    let mut row = Vec::with_capacity(4 + record.len() + 512);
    row.extend_from_slice(&record_len.to_le_bytes());
    row.extend_from_slice(&record);
    if let Some((salt, data)) = personal {
        row.extend_from_slice(salt);
        row.extend_from_slice(&schemas::encode_personal(data)?);
    }
    Ok(row)
}

/// How a batch's rows are written: NDJSON for people, binary for machines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Binary,
}

impl Format {
    /// The format a batch's content type names: binary for `MEDIA_TYPE`, NDJSON otherwise
    /// (as before formats were negotiated).
    pub fn of(content_type: Option<&str>) -> Format {
        let essence = content_type.and_then(|t| t.split(';').next()).map(str::trim);
        if essence.is_some_and(|t| t.eq_ignore_ascii_case(MEDIA_TYPE)) {
            Format::Binary
        } else {
            Format::Ndjson
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Format::Ndjson => "application/x-ndjson",
            Format::Binary => MEDIA_TYPE,
        }
    }

    /// The rows of a body, each without its line end or frame.
    pub fn split(self, body: &[u8]) -> Result<Vec<&[u8]>, RowError> {
        match self {
            Format::Binary => split(body),
            Format::Ndjson => {
                let mut lines: Vec<&[u8]> = body
                    .split(|b| *b == b'\n')
                    .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                    .collect();
                if lines.last().is_some_and(|l| l.is_empty()) {
                    lines.pop();
                }
                Ok(lines)
            }
        }
    }

    /// Rows joined into one body of this format.
    pub fn join<'a>(self, rows: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
        match self {
            Format::Binary => join(rows),
            Format::Ndjson => {
                let rows: Vec<&[u8]> = rows.into_iter().collect();
                rows.join(&b"\n"[..])
            }
        }
    }
}

/// Rows framed into one body.
pub fn join<'a>(rows: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut body = Vec::new();
    for row in rows {
        let len = u32::try_from(row.len()).unwrap_or_else(|_| unreachable!("rows are bounded"));
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(row);
    }
    body
}

/// The rows of a body, in order; refuses a body whose frames do not add up.
pub fn split(body: &[u8]) -> Result<Vec<&[u8]>, RowError> {
    let mut rows = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let Some((len, after)) = rest.split_first_chunk::<4>() else {
            return Err(RowError(format!("row {} is cut short in its length", rows.len() + 1)));
        };
        let len = u32::from_le_bytes(*len) as usize;
        let Some((row, after)) = after.split_at_checked(len) else {
            return Err(RowError(format!(
                "row {} says {len} bytes; the body has {} left",
                rows.len() + 1,
                after.len()
            )));
        };
        rows.push(row);
        rest = after;
    }
    Ok(rows)
}

/// Personal fields as a row carries them: their salt and the fields.
pub type SaltedPersonal = ([u8; 32], PersonalData);

/// A row's envelope, with what its actor signed, and its personal fields.
pub fn decode_row(row: &[u8]) -> Result<(SignedEnvelope, Option<SaltedPersonal>), RowError> {
    let Some((len, rest)) = row.split_first_chunk::<4>() else {
        return Err(RowError("a row shorter than its record's length".to_owned()));
    };
    let len = u32::from_le_bytes(*len) as usize;
    let Some((record, personal)) = rest.split_at_checked(len) else {
        return Err(RowError(format!("a record of {len} bytes in a row of {}", row.len())));
    };
    let envelope = schemas::decode_unsealed_record(record)?;
    if personal.is_empty() {
        return Ok((envelope, None));
    }
    let Some((salt, data)) = personal.split_first_chunk::<32>() else {
        return Err(RowError("personal fields without their 32-byte salt".to_owned()));
    };
    Ok((envelope, Some((*salt, schemas::decode_personal(data)?))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use schemas::sample::{PAYLOAD_KINDS, SampleParams, sample_envelope};

    fn personal(label: &str) -> PersonalData {
        PersonalData::Document(schemas::DocumentPersonal {
            holder_name: schemas::Label::parse(label).expect("label"),
            date_of_birth: None,
            fields: Vec::new(),
        })
    }

    proptest! {
        /// Every kind of envelope, with and without personal fields, comes back as it went,
        /// framed among other rows.
        #[test]
        fn rows_round_trip(kind in 0..PAYLOAD_KINDS, byte in any::<u8>(), with in any::<bool>()) {
            let params = SampleParams { byte, ..SampleParams::default() };
            let mut envelope = sample_envelope(kind, &params);
            envelope.sealed = None;
            let data = personal("Asha Kumari");
            let sent = with.then_some(([byte; 32], data));
            let row = encode_row(&envelope, sent.as_ref().map(|(s, d)| (s, d))).expect("encode");
            let body = join([&b"x"[..], &row, &b""[..]]);
            let rows = split(&body).expect("split");
            prop_assert_eq!(rows.len(), 3);
            let (back, personal) = decode_row(rows[1]).expect("decode");
            // The signed bytes are the row's own, equal to the event's encoding.
            let signed = schemas::signing_bytes(&envelope.event).expect("signing bytes");
            prop_assert_eq!(back.signing_bytes(), &signed[..]);
            prop_assert_eq!(back.into_envelope(), envelope);
            prop_assert_eq!(personal, sent);
        }

        /// Any bytes at all: rows or an error, never a panic.
        #[test]
        fn any_bytes_are_refused_or_read(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(rows) = split(&bytes) {
                for row in rows {
                    let _ = decode_row(row);
                }
            }
            let _ = decode_row(&bytes);
        }
    }

    /// A row carries its envelope unsealed: the service seals. A sealed one is refused, and
    /// so is a sealed record put in a row by hand.
    #[test]
    fn a_sealed_envelope_is_not_a_row() {
        let sealed = (0..PAYLOAD_KINDS)
            .map(|kind| sample_envelope(kind, &SampleParams::default()))
            .find(|e| e.sealed.is_some())
            .expect("a kind with a sealed payload");
        assert!(encode_row(&sealed, None).is_err());
        let record = schemas::encode_record(&sealed).expect("a record");
        let len = u32::try_from(record.len()).expect("short").to_le_bytes();
        let row = [&len[..], &record].concat();
        let err = decode_row(&row).expect_err("refused");
        assert!(err.0.contains("unsealed"), "{err}");
    }

    #[test]
    fn frames_that_do_not_add_up_are_refused_with_the_row() {
        let body = join([&b"abc"[..], &b""[..], &b"de"[..]]);
        assert_eq!(split(&body).expect("splits"), vec![&b"abc"[..], &b""[..], &b"de"[..]]);
        assert!(split(&body[..body.len() - 1]).expect_err("cut").0.contains("row 3"));
        assert!(split(&body[..2]).expect_err("cut").0.contains("row 1"));
    }
}
