//! Aadhaar ownership, proven the way UIDAI proves it: a one-time password sent by the
//! authority to the mobile number *it* holds for the Aadhaar (never one the caller names),
//! then an e-KYC answer signed by the authority (name, date of birth, gender, address).
//!
//! - [`wire`]: the exchange, shaped like UIDAI's OTP API 2.5 and e-KYC API 2.5 (JSON here,
//!   XML there; transaction ids, `ret`/`err` codes), and the check of the authority's
//!   signature. Pure: no IO.
//! - [`authority`]: a reference Aadhaar authority, its own process on its own port, with a
//!   residents file and its own signing key, so the demo and the tests talk to a real
//!   service as they would to UIDAI.
//!
//! **Invariant:** the authority's answers are trusted only through its public key, which the
//! platform is configured with; a KYC answer whose signature does not verify is refused.
//! **Invariant:** nothing here logs an Aadhaar number, a mobile number or a code in clear
//! (numbers appear masked to their last four digits).

pub mod authority;
pub mod limits;
pub mod wire;

pub use wire::{KycAnswer, KycError, SignedKyc};
