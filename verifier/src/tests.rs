//! Against a real bundle: `tests/fixtures` holds a marksheet's bundle, its PDF and the ledger
//! key, as a demo service (`locker serve --demo`) gave them. The bundle file is also the
//! golden form of `locker-proof-bundle/v1`: it must keep reading and writing byte for byte.

use base64::Engine;
use proptest::prelude::*;

use super::*;

const BUNDLE: &[u8] = include_bytes!("../tests/fixtures/marksheet.locker-bundle.json");
const PDF: &[u8] = include_bytes!("../tests/fixtures/marksheet.pdf");
const KEY_HEX: &str = include_str!("../tests/fixtures/ledger-key.hex");

fn key() -> VerifyingKey {
    parse_hex_key(KEY_HEX).expect("the fixture's key")
}

fn json(bundle: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bundle).expect("json")
}

#[test]
fn the_golden_bundle_verifies_and_says_what_it_proves() {
    let verified = verify_bundle_file(BUNDLE, &key(), Some(PDF)).expect("verifies");
    assert_eq!(verified.kind, "document_issued");
    assert_eq!(verified.uri.as_deref(), Some("in.gov.cbse-HSCER-2024-7654321"));
    assert_eq!(verified.name.as_deref(), Some("Class XII Marksheet 2024"));
    assert_eq!(verified.issued_on.as_deref(), Some("2024-05-13"));
    assert_eq!(verified.signer, "issuer in.gov.cbse");
    assert_eq!(verified.signer_kind, schemas::ActorKind::Issuer);
    assert_eq!(verified.signer_name.as_deref(), Some("Central Board of Secondary Education"));
    assert_eq!(verified.key_records, 1);
    assert_eq!(verified.content.hash, blake3::hash(PDF).to_hex().as_str());
    assert_eq!(verified.content.size_bytes, PDF.len() as u64);
    assert_eq!(verified.content.media_type, "application/pdf");
    assert!(verified.content_checked);
    assert_eq!((verified.logged.topic.as_str(), verified.logged.partition), ("locker.events", 0));
    assert!(verified.logged.leaf_index < verified.logged.size);
    let report = verified.report();
    assert!(report.starts_with("authentic: document in.gov.cbse-HSCER-2024-7654321"), "{report}");
    assert!(report.contains("the file given is exactly this content"), "{report}");

    let unchecked = verify_bundle_file(BUNDLE, &key(), None).expect("verifies");
    assert!(!unchecked.content_checked);
}

#[test]
fn the_golden_bundle_reads_and_writes_byte_for_byte() {
    let bundle = parse_bundle(BUNDLE).expect("reads");
    let written = bundle_json(&bundle, &key());
    assert_eq!(written.as_bytes(), BUNDLE);
    assert_eq!(parse_bundle(written.as_bytes()).expect("reads again"), bundle);
}

#[test]
fn another_key_or_document_is_refused_with_its_reason() {
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[8; 32]).verifying_key();
    let refused = verify_bundle_file(BUNDLE, &stranger, None).expect_err("other key");
    assert_eq!(refused.code(), "not_verified");
    assert!(refused.to_string().contains("not the ledger's key"), "{refused}");

    let mut other = PDF.to_vec();
    other[20] ^= 1;
    let refused = verify_bundle_file(BUNDLE, &key(), Some(&other)).expect_err("other bytes");
    assert_eq!(refused.code(), "other_document");
    assert!(refused.to_string().contains("not this document"), "{refused}");
}

#[test]
fn malformed_files_are_named() {
    let mut wrong_format = json(BUNDLE);
    wrong_format["format"] = "locker-proof-bundle/v9".into();
    let mut extra = json(BUNDLE);
    extra["comment"] = "hello".into();
    let mut not_base64 = json(BUNDLE);
    not_base64["document"]["record"] = "***".into();
    let mut short_hash = json(BUNDLE);
    short_hash["document"]["inclusion"][0] = "abcd".into();
    let mut long_chain = json(BUNDLE);
    long_chain["keys"] = vec![json(BUNDLE)["keys"][0].clone(); BUNDLE_KEY_CHAIN_MAX + 1].into();
    for (bytes, says) in [
        (b"{}".to_vec(), "not a proof bundle"),
        (b"\xff".to_vec(), "not a proof bundle"),
        (
            br#"{"code":"unknown_document","message":"x is not in your locker"}"#.to_vec(),
            "an error from the service: x is not in your locker (unknown_document)",
        ),
        (vec![b' '; limits::BUNDLE_BYTES_MAX + 1], "at most"),
        (wrong_format.to_string().into_bytes(), "is not `locker-proof-bundle/v1`"),
        (extra.to_string().into_bytes(), "unknown field `comment`"),
        (not_base64.to_string().into_bytes(), "document: `record` is not base64"),
        (short_hash.to_string().into_bytes(), "`inclusion` holds hashes of 64 hex digits"),
        (long_chain.to_string().into_bytes(), "at most 16 key records"),
    ] {
        let refused = verify_bundle_file(&bytes, &key(), None).expect_err("malformed");
        assert_eq!(refused.code(), "malformed_bundle", "{refused}");
        assert!(refused.to_string().contains(says), "{refused} does not say {says}");
    }
}

#[test]
fn the_page_interface_answers_json_for_every_input() {
    let input =
        |key: &str, bundle: &[u8], document: &[u8]| [key.as_bytes(), bundle, document].concat();
    let answer = |bytes: &[u8], key_len: usize, bundle_len: usize, document: bool| {
        serde_json::from_str::<serde_json::Value>(&answer_json(
            bytes, key_len, bundle_len, document,
        ))
        .expect("an answer is JSON")
    };
    let key = KEY_HEX.trim();
    let good = answer(&input(key, BUNDLE, PDF), key.len(), BUNDLE.len(), true);
    assert_eq!(good["ok"], true, "{good}");
    assert_eq!(good["verified"]["uri"], "in.gov.cbse-HSCER-2024-7654321");
    assert_eq!(good["verified"]["content_checked"], true);
    assert_eq!(good["verified"]["signer_kind"], "issuer", "the page reads it as text");
    assert_eq!(good["verified"]["logged"]["topic"], "locker.events");

    let no_document = answer(&input(key, BUNDLE, b""), key.len(), BUNDLE.len(), false);
    assert_eq!(no_document["verified"]["content_checked"], false, "{no_document}");
    let empty_document = answer(&input(key, BUNDLE, b""), key.len(), BUNDLE.len(), true);
    assert_eq!(empty_document["code"], "other_document", "{empty_document}");

    let bad_key = answer(&input("00", BUNDLE, b""), 2, BUNDLE.len(), false);
    assert_eq!(
        (bad_key["ok"].clone(), bad_key["code"].clone()),
        (false.into(), "invalid_ledger_key".into())
    );
    let too_long = answer(&input(key, BUNDLE, b""), key.len(), BUNDLE.len() + 1, false);
    assert_eq!(too_long["code"], "invalid_input", "{too_long}");
    let mut tampered = json(BUNDLE);
    tampered["document"]["leaf_index"] = 0.into();
    let tampered = tampered.to_string();
    let refused = answer(&input(key, tampered.as_bytes(), b""), key.len(), tampered.len(), false);
    assert_eq!(refused["code"], "not_verified", "{refused}");
    assert!(refused["message"].as_str().expect("message").contains("not in the checkpointed log"));
}

/// The golden bundle with one byte of its document record changed.
fn with_record_byte_flipped(index: usize, flip: u8) -> Vec<u8> {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut value = json(BUNDLE);
    let mut record =
        engine.decode(value["document"]["record"].as_str().expect("record")).expect("base64");
    let at = index % record.len();
    record[at] ^= flip;
    value["document"]["record"] = engine.encode(&record).into();
    value.to_string().into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_change_to_the_record_is_refused(index in any::<usize>(), flip in 1u8..) {
        let refused = verify_bundle_file(&with_record_byte_flipped(index, flip), &key(), None);
        prop_assert!(refused.is_err(), "a changed record verified");
    }

    #[test]
    fn any_bytes_get_an_answer_never_a_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        key_len in 0usize..500,
        bundle_len in 0usize..500,
        document in any::<bool>(),
    ) {
        let answer: serde_json::Value =
            serde_json::from_str(&answer_json(&bytes, key_len, bundle_len, document)).expect("JSON");
        prop_assert_eq!(answer["ok"].clone(), serde_json::Value::Bool(false));
    }

    #[test]
    fn a_written_bundle_reads_back_the_same(
        inclusion in proptest::collection::vec(any::<[u8; 32]>(), 0..=ledger::limits::MERKLE_PROOF_HASHES_MAX),
        record in proptest::collection::vec(any::<u8>(), 0..2000),
        leaf_index in any::<u64>(),
        offset in any::<u64>(),
    ) {
        let mut bundle = parse_bundle(BUNDLE).expect("reads");
        bundle.document.inclusion = inclusion.into_iter().map(Digest32).collect();
        bundle.document.record = record;
        bundle.document.leaf_index = leaf_index;
        bundle.document.offset = offset;
        let written = bundle_json(&bundle, &key());
        prop_assert_eq!(parse_bundle(written.as_bytes()).expect("reads back"), bundle);
    }
}
