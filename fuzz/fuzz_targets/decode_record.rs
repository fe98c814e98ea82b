//! Any bytes: `decode_record` returns an error or a canonical envelope, and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = schemas::decode_record(data) {
        let again = schemas::encode_record(&envelope).expect("a decoded envelope re-encodes");
        assert_eq!(again, data, "decode accepted a non-canonical encoding");
    }
});
