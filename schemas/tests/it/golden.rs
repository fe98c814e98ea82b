use std::collections::BTreeSet;
use std::path::PathBuf;

use schemas::sample::{PAYLOAD_KINDS, all_kinds};
use schemas::{decode_record, encode_record, envelope_from_json, envelope_to_json};

fn golden_dir() -> PathBuf {
    // The directory cargo runs the test from, not the one it was compiled in: a build shared
    // through CARGO_TARGET_DIR may come from another checkout.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("test_data/golden/v1")
}

/// Compares `actual` with the checked-in file, or rewrites it when `UPDATE_GOLDEN=1`.
fn check_golden(name: &str, actual: &[u8]) {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden fixture");
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!("missing golden fixture {} ({e}); run with UPDATE_GOLDEN=1 once", path.display())
    });
    assert!(
        expected == actual,
        "encoding of {name} changed; if this is a new envelope version, add a new fixture \
         folder instead of rewriting v1"
    );
}

#[test]
fn every_kind_has_a_distinct_fixture() {
    let samples = all_kinds();
    let names: BTreeSet<_> = samples.iter().map(|s| s.event.payload.kind_name()).collect();
    assert_eq!(names.len(), PAYLOAD_KINDS);
    let files = std::fs::read_dir(golden_dir()).expect("golden dir").count();
    assert_eq!(files, PAYLOAD_KINDS * 2, "one .bin and one .json per kind");
}

#[test]
fn binary_encoding_matches_the_fixtures_byte_for_byte() {
    for envelope in all_kinds() {
        let name = envelope.event.payload.kind_name();
        let bytes = encode_record(&envelope).expect("encode");
        check_golden(&format!("{name}.bin"), &bytes);
        // And the fixture decodes back to the same value.
        let fixture = std::fs::read(golden_dir().join(format!("{name}.bin"))).expect("read");
        assert_eq!(decode_record(&fixture).expect("decode fixture"), envelope, "{name}");
    }
}

#[test]
fn json_form_matches_the_fixtures() {
    for envelope in all_kinds() {
        let name = envelope.event.payload.kind_name();
        let json = envelope_to_json(&envelope).expect("json");
        check_golden(&format!("{name}.json"), json.as_bytes());
        assert_eq!(envelope_from_json(&json).expect("parse json"), envelope, "{name}");
    }
}

#[test]
fn the_version_prefix_is_checked_before_anything_else() {
    let mut bytes = encode_record(&all_kinds()[9]).expect("encode");
    assert_eq!(&bytes[..2], &[1, 0], "version 1, little-endian");
    bytes[0] = 3;
    let err = decode_record(&bytes).expect_err("version 3 is unknown");
    assert_eq!(
        err.to_string(),
        "unsupported envelope version 3 (this build reads versions 1 to 2)"
    );
}

/// Envelope version 2: a batch-signed event carries its place in the batch after the rest.
fn batch_sample() -> schemas::Envelope {
    let mut envelope = all_kinds()
        .into_iter()
        .find(|e| e.event.payload.kind_name() == "document_issued")
        .expect("a document_issued sample");
    envelope.batch = Some(schemas::BatchProof {
        index: 2,
        size: 5,
        path: vec![
            schemas::Digest32([7; 32]),
            schemas::Digest32([8; 32]),
            schemas::Digest32([9; 32]),
        ],
    });
    envelope
}

#[test]
fn a_batch_signed_envelope_is_version_2_byte_for_byte() {
    let dir = golden_dir().with_file_name("v2");
    let envelope = batch_sample();
    let bytes = encode_record(&envelope).expect("encode");
    assert_eq!(&bytes[..2], &[2, 0], "version 2, little-endian");
    let json = envelope_to_json(&envelope).expect("json");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(&dir).expect("v2 dir");
        std::fs::write(dir.join("document_issued_batch.bin"), &bytes).expect("write");
        std::fs::write(dir.join("document_issued_batch.json"), &json).expect("write");
    }
    let fixture = std::fs::read(dir.join("document_issued_batch.bin")).expect("v2 fixture");
    assert!(fixture == bytes, "the version 2 encoding changed");
    assert_eq!(decode_record(&fixture).expect("decode"), envelope);
    let fixture = std::fs::read_to_string(dir.join("document_issued_batch.json")).expect("json");
    assert_eq!(fixture, json);
    assert_eq!(envelope_from_json(&fixture).expect("parse"), envelope);
    // Without its proof the same event is version 1, exactly as before version 2 existed.
    let single = schemas::Envelope { batch: None, ..envelope };
    assert_eq!(&encode_record(&single).expect("encode")[..2], &[1, 0]);
    // A proof that cannot be (index beyond size, empty batch, an over-long path) is refused.
    for (index, size, path) in [(5, 5, 1), (0, 0, 1), (0, 2, 17)] {
        let mut bad = batch_sample();
        bad.batch =
            Some(schemas::BatchProof { index, size, path: vec![schemas::Digest32([1; 32]); path] });
        assert!(encode_record(&bad).is_err(), "{index} {size} {path}");
    }
}
