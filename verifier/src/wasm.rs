//! The verifier's WebAssembly interface, for the web page (`server/web/verify.js`).
//!
//! No bindings generator: three exports over one input and one output buffer, so the page's
//! glue is a dozen lines and the build needs nothing but cargo and the wasm32 target.
//!
//! 1. `input(len)` makes room for `len` bytes and returns where the page writes them: the
//!    trusted ledger key as 64 hex digits, then the bundle file, then, optionally, the
//!    document's bytes. It returns 0 when `len` is over the limits.
//! 2. `verify(key_len, bundle_len, has_document)` checks them and returns the length of the
//!    answer: JSON, `{"ok":true,"verified":{...}}` or `{"ok":false,"code":..,"message":..}`.
//! 3. `output()` returns where the answer is.
//!
//! The buffers are owned here; the page only writes into `input` between calls 1 and 2. Page
//! code runs on one thread, so the locks are never contended.

use std::sync::{Mutex, PoisonError};

use crate::limits::{BUNDLE_BYTES_MAX, DOCUMENT_BYTES_MAX};

static INPUT: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static OUTPUT: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// The key (64 hex digits, with room for surrounding spaces), a bundle and a document.
const INPUT_BYTES_MAX: usize = 128 + BUNDLE_BYTES_MAX + DOCUMENT_BYTES_MAX;

#[allow(unsafe_code, reason = "an export the page calls; no unsafe operation inside")]
#[unsafe(no_mangle)]
pub extern "C" fn input(len: u32) -> *mut u8 {
    let len = len as usize;
    if len > INPUT_BYTES_MAX {
        return std::ptr::null_mut();
    }
    let mut input = INPUT.lock().unwrap_or_else(PoisonError::into_inner);
    input.clear();
    input.resize(len, 0);
    input.as_mut_ptr()
}

#[allow(unsafe_code, reason = "an export the page calls; no unsafe operation inside")]
#[unsafe(no_mangle)]
pub extern "C" fn verify(key_len: u32, bundle_len: u32, has_document: u32) -> u32 {
    let input = INPUT.lock().unwrap_or_else(PoisonError::into_inner);
    let answer =
        crate::answer_json(&input, key_len as usize, bundle_len as usize, has_document != 0);
    let mut output = OUTPUT.lock().unwrap_or_else(PoisonError::into_inner);
    *output = answer.into_bytes();
    // At most a few kilobytes: the facts of one document, or one message.
    u32::try_from(output.len()).unwrap_or_else(|_| unreachable!("an answer is small"))
}

#[allow(unsafe_code, reason = "an export the page calls; no unsafe operation inside")]
#[unsafe(no_mangle)]
pub extern "C" fn output() -> *const u8 {
    OUTPUT.lock().unwrap_or_else(PoisonError::into_inner).as_ptr()
}
