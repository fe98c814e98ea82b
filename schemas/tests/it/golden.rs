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
    bytes[0] = 2;
    let err = decode_record(&bytes).expect_err("version 2 is unknown");
    assert_eq!(err.to_string(), "unsupported envelope version 2 (this build reads version 1)");
}
