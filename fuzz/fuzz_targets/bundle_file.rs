//! Any bytes as a proof-bundle file: parsed and checked against a key (which must not panic
//! either), or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
    let _ = verifier::verify_bundle_file(data, &key, Some(b"%PDF-1.4"));
});
