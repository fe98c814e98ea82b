use proptest::prelude::*;

use schemas::sample::{PAYLOAD_KINDS, SampleParams, sample_envelope};
use schemas::{
    Aadhaar, DocUri, IssuerId, LockerId, MobileNumber, SchemaError, decode_record,
    decode_signed_record, encode_record, encode_signed_record, envelope_from_json,
    envelope_to_json, signing_bytes,
};

fn arb_params() -> impl Strategy<Value = SampleParams> {
    (
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<i64>(),
        any::<u8>(),
        "[A-Za-z0-9][A-Za-z0-9_./-]{0,40}",
        "[A-Za-z][A-Za-z0-9 ()]{0,60}[A-Za-z0-9)]",
        0u64..=1 << 40,
    )
        .prop_map(
            |(event_id, locker, other_id, occurred_at_ms, byte, doc_id, label, size_bytes)| {
                SampleParams {
                    event_id,
                    locker,
                    other_id,
                    occurred_at_ms,
                    byte,
                    doc_id,
                    label,
                    size_bytes,
                }
            },
        )
}

proptest! {
    #[test]
    fn binary_round_trip(kind in 0..PAYLOAD_KINDS, params in arb_params()) {
        let envelope = sample_envelope(kind, &params);
        let bytes = encode_record(&envelope).expect("encode");
        let (decoded, signed) = decode_signed_record(&bytes).expect("decode");
        // What the verifier checks is exactly what the actor signed.
        prop_assert_eq!(signed, signing_bytes(&envelope.event).expect("signing bytes"));
        prop_assert_eq!(decoded, envelope);
    }

    /// The typed writer's encoding is the record and the signed bytes the decoder finds, for
    /// every kind of event, plain and batch-signed.
    #[test]
    fn encoding_with_signed_bytes_is_the_decoders_view(
        kind in 0..PAYLOAD_KINDS,
        params in arb_params(),
        batched in any::<bool>(),
    ) {
        let mut envelope = sample_envelope(kind, &params);
        if batched {
            envelope.batch = Some(schemas::BatchProof {
                index: 1,
                size: 3,
                path: vec![schemas::Digest32([params.byte; 32]); 2],
            });
        }
        let (record, signed) = encode_signed_record(&envelope).expect("encode");
        let (decoded, decoded_signed) = decode_signed_record(&record).expect("decode");
        prop_assert_eq!(&signed, &decoded_signed);
        prop_assert_eq!(signed, signing_bytes(&envelope.event).expect("signing bytes"));
        prop_assert_eq!(decoded, envelope);
    }

    #[test]
    fn json_round_trip(kind in 0..PAYLOAD_KINDS, params in arb_params()) {
        let envelope = sample_envelope(kind, &params);
        let json = envelope_to_json(&envelope).expect("to json");
        prop_assert_eq!(envelope_from_json(&json).expect("from json"), envelope);
    }

    /// Any bytes at all: an error or a canonical envelope, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(envelope) = decode_record(&bytes) {
            prop_assert_eq!(encode_record(&envelope).expect("re-encode"), bytes);
        }
    }

    /// A valid record with one byte changed, cut short or extended is refused, or decodes to an
    /// envelope whose canonical bytes are exactly the changed bytes: never silently the old one.
    #[test]
    fn damaged_records_are_refused_or_canonical(
        kind in 0..PAYLOAD_KINDS,
        params in arb_params(),
        position in any::<prop::sample::Index>(),
        xor in 1u8..,
        cut in any::<prop::sample::Index>(),
    ) {
        let original = encode_record(&sample_envelope(kind, &params)).expect("encode");
        let mut flipped = original.clone();
        let index = position.index(flipped.len());
        flipped[index] ^= xor;
        if let Ok(envelope) = decode_record(&flipped) {
            prop_assert_eq!(encode_record(&envelope).expect("re-encode"), flipped);
        }
        let truncated = &original[..cut.index(original.len())];
        prop_assert!(decode_record(truncated).is_err());
        let mut extended = original.clone();
        extended.push(0);
        prop_assert!(
            matches!(decode_record(&extended), Err(SchemaError::TrailingBytes { extra_bytes: 1 })),
            "trailing byte not reported"
        );
    }

    #[test]
    fn identifiers_never_panic_and_round_trip(text in "\\PC{0,80}") {
        if let Ok(uri) = DocUri::parse(&text) {
            prop_assert_eq!(DocUri::parse(&uri.to_string()).expect("reparse"), uri);
        }
        if let Ok(issuer) = IssuerId::parse(&text) {
            prop_assert!(!issuer.as_str().contains('-'));
        }
        if let Ok(locker) = LockerId::parse(&text) {
            prop_assert_eq!(LockerId::parse(&locker.to_string()).expect("reparse"), locker);
        }
        if let Ok(mobile) = MobileNumber::parse(&text) {
            prop_assert_eq!(mobile.as_str().len(), 10);
        }
        let _ = Aadhaar::parse(&text);
    }

    /// Every valid doc id survives the URI's split on the first two dashes.
    #[test]
    fn uris_with_dashed_doc_ids(doc_id in "[A-Za-z0-9_./-]{1,100}") {
        let text = format!("in.gov.transport-DRVLC-{doc_id}");
        let uri = DocUri::parse(&text).expect("valid");
        prop_assert_eq!(uri.doc_id().as_str(), doc_id.as_str());
        prop_assert_eq!(uri.to_string(), text);
    }
}
