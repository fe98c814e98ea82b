//! Any text as a list cursor: a key or `InvalidCursor`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = projections::cursor_key(Some(text));
    }
});
