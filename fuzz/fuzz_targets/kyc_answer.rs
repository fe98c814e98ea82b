//! Any text as the Aadhaar authority's e-KYC answer: parsed and refused (no key but the
//! authority's verifies it) or not parsed, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(answer) = serde_json::from_slice::<kyc::wire::KycResponse>(data)
        && let Some(signed) = answer.kyc
    {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
        let _ = kyc::wire::verify_kyc(&signed, &key);
        let _ = kyc::wire::parse_dob(&signed.answer.poi.dob);
    }
});
