//! Any bytes as a results file for `locker issue bulk` (CSV with a header row): every record
//! gets an answer (checked, or refused with a code), a checked row's doc id is a valid one, and
//! nothing panics.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static REQUEST: LazyLock<client::bulk::BulkRequest> =
    LazyLock::new(client::bulk::BulkRequest::example);

fuzz_target!(|data: &[u8]| {
    let Ok(rows) = client::bulk::check_csv(&REQUEST, data) else { return };
    for (_line, doc_id, verdict) in rows {
        if verdict.is_ok() {
            assert!(schemas::DocId::parse(&doc_id).is_ok(), "a checked row's doc id {doc_id:?}");
        } else {
            assert!(verdict.is_err_and(|code| !code.is_empty()));
        }
    }
});
