//! Any text: the JSON form parses to a valid envelope or fails, and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(envelope) = schemas::envelope_from_json(text) {
            let bytes = schemas::encode_record(&envelope).expect("a valid envelope encodes");
            assert_eq!(schemas::decode_record(&bytes).expect("and decodes"), envelope);
        }
    }
});
