//! Any text as `Signature-Input` and `Signature` (RFC 9421): parsed or refused with a reason,
//! never a panic; a parsed input gives a signature base (or an error) for any request.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (input, signature) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(parsed) = wire::rfc9421::parse_signature_input(input) {
        let _ = wire::rfc9421::parse_signature(signature, &parsed.label);
        let header = |_: &str| None;
        let message = wire::rfc9421::Message {
            method: "GET",
            authority: "locker.test",
            path: "/v1/x",
            query: "a=1",
            header: &header,
        };
        let _ = wire::rfc9421::signature_base(&message, &parsed);
    }
});
