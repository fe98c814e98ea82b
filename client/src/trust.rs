//! The ledger key a checker trusts (an auditor, a monitor, `locker verify-bundle`): given in
//! hex, as the operator publishes it, or read from a data folder's `platform.key`.

/// The ledger key an auditor trusts: given in hex, or read from `DATA/platform.key`.
pub fn trusted_ledger_key(
    data: &std::path::Path,
    hex_text: Option<&str>,
) -> Result<ed25519_dalek::VerifyingKey, String> {
    match hex_text {
        Some(hex_text) => {
            verifier::parse_hex_key(hex_text).map_err(|e| format!("--ledger-key: {e}"))
        }
        None => {
            let path = data.join("platform.key");
            ledger::keyfile::read(&path)
                .map(|key| key.verifying_key())
                .map_err(|e| format!("{e} (or give --ledger-key)"))
        }
    }
}
