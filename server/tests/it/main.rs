//! The server's integration tests: the router in-process with `oneshot`, and the real `locker`
//! binary on a real port.

/// Linking an Aadhaar, and the documents issued to it joining the locker.
mod aadhaar;
/// Document bytes in a folder and in a real S3 bucket: checked reads, multipart.
mod blobs;
/// Bulk issuance batches: a verdict per row, limits.
mod bulk;
/// The citizen's own locker behind a login session.
mod citizen;
/// A closing cut short is finished on the next try.
mod closing;
/// Granting, denying and revoking consents.
mod consent;
/// Uploads, downloads, deletion, e-signatures and share links.
mod documents;
/// The review's attacks on the front doors (replays, races, lock-outs, slow bodies).
mod doors;
/// Every route against every kind of caller, from the route list.
mod matrix;
/// Issuers' declarations: pull endpoints only where the platform registered the issuer.
mod pull;
/// Issuers pushing signed documents, and everything a push can get wrong.
mod push;
/// Requesters: signed requests (RFC 9421), consents, fetches and the event stream.
mod requester;
/// `router(state)` through `tower::ServiceExt::oneshot`.
mod routes;
/// The key vault two nodes share through a real S3 bucket: one key per subject, wrapped.
mod shared_vault;
/// Sign-up with a one-time password delivered to a real local SMS gateway.
mod signup;
/// Snapshots of the views and registry: restored whole, refused when they do not check out.
mod snapshots;
/// Proof bundles, signed checkpoints and consistency proofs over HTTP.
mod transparency;
/// The web page: its assets and headers, cookie sessions and CSRF tokens.
mod web;
