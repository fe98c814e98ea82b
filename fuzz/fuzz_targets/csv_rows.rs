//! Any bytes as a results file for `locker issue bulk` (CSV with a header row): every record
//! gets an answer (checked, or refused with a code), a checked row's doc id is a valid one, and
//! nothing panics.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;

static REQUEST: LazyLock<api::bulk_client::BulkRequest> = LazyLock::new(|| {
    let parse = |what: &str, text: &str| format!("{what} {text:?} is valid");
    api::bulk_client::BulkRequest {
        server: "http://127.0.0.1:1".to_owned(),
        key: ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
        issuer: schemas::IssuerId::parse("in.gov.cbse").expect(&parse("issuer", "in.gov.cbse")),
        file: "results.csv".into(),
        doc_type: schemas::DocTypeCode::parse("HSCER").expect(&parse("doc type", "HSCER")),
        name: schemas::Label::parse("Class XII Marksheet").expect(&parse("label", "marksheet")),
        issued_on: schemas::CivilDate::parse("2024-05-13").expect(&parse("date", "2024-05-13")),
        valid_to: None,
        id_column: "roll_no".to_owned(),
        holder_column: "name".to_owned(),
        locker_column: Some("locker".to_owned()),
        aadhaar_column: Some("aadhaar".to_owned()),
        issuer_column: Some("issuer".to_owned()),
        field_columns: Vec::new(),
        batch_rows: 1000,
        in_flight: 1,
        batch_sign: false,
        clock: Arc::new(ledger::clock::SystemClock),
    }
});

fuzz_target!(|data: &[u8]| {
    let Ok(rows) = api::bulk_client::check_csv(&REQUEST, data) else { return };
    for (_line, doc_id, verdict) in rows {
        if verdict.is_ok() {
            assert!(schemas::DocId::parse(&doc_id).is_ok(), "a checked row's doc id {doc_id:?}");
        } else {
            assert!(verdict.is_err_and(|code| !code.is_empty()));
        }
    }
});
